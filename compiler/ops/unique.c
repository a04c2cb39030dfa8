/* unique.c: Unique, the distinct elements of its input (or, with `axis`, its distinct
 * slices along that axis), sorted ascending (sorted=1, the default; slices compare
 * lexicographically) or in order of first occurrence (sorted=0), with up to three int64
 * outputs: indices (each unique one's first occurrence), inverse_indices (each input
 * element's or slice's position in Y) and counts.  NaNs compare equal to each other and
 * above every number, as numpy's unique does.
 *
 * How many there are depends on the input's values, and the generated functions have
 * static output shapes: the op is only folded at compile time, so its input must be a
 * constant (or computable from constants); `onnxcc test` freezes such graph inputs.
 *
 * The slices are sorted by (value, index) with qsort, so equal slices are adjacent with
 * their first occurrence first; one walk then forms the groups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* The input as [outer][len][inner] around the axis ([1][numel][1] flattened): slice i
 * holds elements (o, i, j), compared in (o, j) order. */
typedef struct UniqueView {
    const Value *x;
    int64_t outer, len, inner;
    int axis;             /* -1: flattened */
} UniqueView;

/* One qsort entry: a slice index and the view it belongs to (qsort has no context). */
typedef struct UniqueEntry {
    int64_t index;
    const UniqueView *view;
} UniqueEntry;

/* The result: U groups; first[q] the first occurrence of output position q, count[q] its
 * size, and slot[i] the output position of slice i. */
typedef struct UniqueResult {
    int64_t groups;
    int64_t *first, *count, *slot;
} UniqueResult;

static bool uq_view(const Node *n, UniqueView *v, Diag *d) {
    if (!op_require_const_data(n, 0, d) || !ou_require_typed(n, 0, d)) return false;
    v->x = n->inputs[0];
    v->axis = -1;
    if (ir_attr(n, "axis")) {
        if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), v->x->rank, false, &v->axis, d))
            return false;
        ou_axis_split(v->x, v->axis, &v->outer, &v->len, &v->inner);
    } else {
        v->outer = v->inner = 1;
        v->len = ir_numel(v->x);
    }
    return true;
}

/* Elements p and q compared: -1, 0, 1 (NaN equal to NaN, above numbers). */
static int uq_cmp_elem(const Value *x, int64_t p, int64_t q) {
    if (dtype_is_float(x->dtype) || dtype_is_lowp_float(x->dtype)) {
        const double a = ou_get_f64(x, p), b = ou_get_f64(x, q);
        if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
        return a < b ? -1 : a > b;
    }
    if (x->dtype == DT_UINT64) {
        const uint64_t a = (uint64_t)ou_get_i64(x, p), b = (uint64_t)ou_get_i64(x, q);
        return a < b ? -1 : a > b;
    }
    const int64_t a = ou_get_i64(x, p), b = ou_get_i64(x, q);
    return a < b ? -1 : a > b;
}

/* Slices a and b compared lexicographically. */
static int uq_cmp_slice(const UniqueView *v, int64_t a, int64_t b) {
    for (int64_t o = 0; o < v->outer; o++)
        for (int64_t j = 0; j < v->inner; j++) {
            const int64_t base = o * v->len * v->inner + j;
            const int c = uq_cmp_elem(v->x, base + a * v->inner, base + b * v->inner);
            if (c) return c;
        }
    return 0;
}

static int uq_qsort_cmp(const void *pa, const void *pb) {
    const UniqueEntry *a = pa, *b = pb;
    const int c = uq_cmp_slice(a->view, a->index, b->index);
    if (c) return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void uq_free(UniqueResult *r) {
    free(r->first);
    free(r->count);
    free(r->slot);
}

/* Groups the slices; sorted: output positions in value order, else first occurrence. */
static bool uq_compute(const Node *n, const UniqueView *v, bool sorted, UniqueResult *r,
                       Diag *d) {
    const size_t len = (size_t)v->len, cap = len ? len : 1;
    UniqueEntry *e = malloc(sizeof *e * cap);
    int64_t *group = malloc(sizeof *group * cap);    /* slice -> group, in value order */
    int64_t *vfirst = malloc(sizeof *vfirst * cap);  /* group -> first occurrence */
    int64_t *vcount = malloc(sizeof *vcount * cap);  /* group -> size */
    int64_t *where = malloc(sizeof *where * cap);    /* group -> output position */
    r->first = malloc(sizeof *r->first * cap);
    r->count = malloc(sizeof *r->count * cap);
    r->slot = malloc(sizeof *r->slot * cap);
    const bool ok = e && group && vfirst && vcount && where && r->first && r->count && r->slot;
    if (ok) {
        for (size_t i = 0; i < len; i++) e[i] = (UniqueEntry){ (int64_t)i, v };
        qsort(e, len, sizeof *e, uq_qsort_cmp);
        /* equal slices are adjacent, the first occurrence first */
        int64_t groups = 0;
        for (size_t k = 0; k < len; k++) {
            if (k == 0 || uq_cmp_slice(v, e[k - 1].index, e[k].index) != 0) {
                vfirst[groups] = e[k].index;
                vcount[groups++] = 0;
            }
            vcount[groups - 1]++;
            group[e[k].index] = groups - 1;
        }
        /* unsorted: a walk over the slices meets each group first at its first occurrence */
        int64_t next = 0;
        for (int64_t g = 0; g < groups; g++) where[g] = sorted ? g : -1;
        for (size_t i = 0; !sorted && i < len; i++)
            if (where[group[i]] < 0) where[group[i]] = next++;
        for (int64_t g = 0; g < groups; g++) {
            r->first[where[g]] = vfirst[g];
            r->count[where[g]] = vcount[g];
        }
        for (size_t i = 0; i < len; i++) r->slot[i] = where[group[i]];
        r->groups = groups;
    } else {
        uq_free(r);
        diag_error(d, n, "out of memory for %lld slices", (long long)v->len);
    }
    free(e), free(group), free(vfirst), free(vcount), free(where);
    return ok;
}

static bool uq_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    UniqueView v;
    UniqueResult r;
    if (!uq_view(n, &v, d) || !uq_compute(n, &v, ir_attr_int(n, "sorted", 1) != 0, &r, d))
        return false;
    const int64_t u = r.groups;
    uq_free(&r);
    const Value *x = v.x;
    bool ok;
    if (v.axis < 0) {
        ok = ou_set_output(n, n->outputs[0], x->dtype, 1, &u, d);
    } else {
        int64_t dims[IR_MAX_RANK];
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[v.axis] = u;
        ok = ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
    }
    const int64_t sizes[4] = { 0, u, v.len, u };   /* indices, inverse_indices, counts */
    for (int k = 1; ok && k < n->n_outputs; k++)
        if (n->outputs[k]) ok = ou_set_output(n, n->outputs[k], DT_INT64, 1, &sizes[k], d);
    return ok;
}

static bool uq_fold(Graph *g, Node *n, Diag *d) {
    UniqueView v;
    UniqueResult r;
    if (!uq_view(n, &v, d) || !uq_compute(n, &v, ir_attr_int(n, "sorted", 1) != 0, &r, d))
        return false;
    bool ok = true;
    for (int k = 0; ok && k < n->n_outputs; k++)
        if (n->outputs[k]) ok = ir_value_alloc_data(g, n->outputs[k], d);
    if (ok) {
        Value *y = n->outputs[0];
        const size_t es = dtype_size(v.x->dtype);
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t q = 0; q < r.groups; q++)
                for (int64_t j = 0; j < v.inner; j++)
                    ou_copy_elems(y->data, (o * r.groups + q) * v.inner + j, v.x->data,
                                  (o * v.len + r.first[q]) * v.inner + j, es);
        const int64_t *lists[4] = { NULL, r.first, r.slot, r.count };
        for (int k = 1; k < n->n_outputs; k++)
            if (n->outputs[k])
                memcpy(n->outputs[k]->data, lists[k], ir_nbytes(n->outputs[k]));
    }
    uq_free(&r);
    return ok;
}

/* Reached only when the folded outputs would be too large to keep as constants. */
static bool uq_emit(Emitter *e, const Node *n, Diag *d) {
    (void)e;
    diag_error(d, n, "Unique is computed at compile time only, and its outputs are too large "
               "to fold");
    return false;
}

const OpDef op_unique = {
    .name = "Unique", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 4, .infer = uq_infer, .fold = uq_fold,
    .emit = uq_emit, .memory = OP_MEMORY_SEPARATE,
};
