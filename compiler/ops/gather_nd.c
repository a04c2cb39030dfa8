/* gather_nd.c: GatherND.  data has rank r, indices (int64) rank q; the first batch_dims
 * dims of both are batch dims and must agree.  Within each batch, indices holds tuples of
 * k = indices.shape[-1] coordinates, each addressing a slice of data (its dims after
 * batch_dims + k, `slice` elements), copied to the output in order: the output's shape is
 * indices.shape[:-1] + data.shape[batch_dims + k:].  Coordinates may be negative,
 * counting from the end; one out of range makes the generated function return 1 (a
 * constant one is refused when folding). */
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/op_util.h"

typedef struct GndView {
    int b, k;                       /* batch dims, coordinates per tuple */
    int64_t batches, tuples, slice; /* batches, tuples per batch, elements per slice */
    int64_t batch_stride;           /* data elements per batch */
    int64_t strides[IR_MAX_RANK];   /* data's, in elements */
} GndView;

static int64_t dims_product(const int64_t *dims, int from, int to) {
    int64_t p = 1;      /* a sub-product of a tensor's dims, which fits: no overflow */
    for (int a = from; a < to; a++) p *= dims[a];
    return p;
}

static bool gnd_view(const Node *n, GndView *v, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    const int64_t b = ir_attr_int(n, "batch_dims", 0);
    if (b < 0 || b >= x->rank || b >= ind->rank) {
        diag_error(d, n, "batch_dims %lld must be in [0, min(rank of data %d, of indices %d))",
                   (long long)b, x->rank, ind->rank);
        return false;
    }
    v->b = (int)b;
    for (int a = 0; a < v->b; a++) {
        if (x->dims[a] != ind->dims[a]) {
            diag_error(d, n, "batch dim %d differs: data has %lld, indices %lld", a,
                       (long long)x->dims[a], (long long)ind->dims[a]);
            return false;
        }
    }
    const int64_t k = ind->dims[ind->rank - 1];
    if (k < 1 || k > x->rank - v->b) {
        diag_error(d, n, "indices' last dim (%lld) must be between 1 and %d (data's rank less "
                   "batch_dims)", (long long)k, x->rank - v->b);
        return false;
    }
    v->k = (int)k;
    v->batches = dims_product(x->dims, 0, v->b);
    v->tuples = dims_product(ind->dims, v->b, ind->rank - 1);
    v->slice = dims_product(x->dims, v->b + v->k, x->rank);
    v->batch_stride = dims_product(x->dims, v->b, x->rank);
    shape_strides(x->rank, x->dims, v->strides);
    return true;
}

static bool gnd_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    if (ind->dtype != DT_INT64) {
        diag_error(d, n, "indices '%s' are %s, not int64", ind->name, dtype_name(ind->dtype));
        return false;
    }
    if (x->rank < 1 || ind->rank < 1) {
        diag_error(d, n, "data and indices must have rank >= 1 (they have %d and %d)",
                   x->rank, ind->rank);
        return false;
    }
    GndView v;
    if (!gnd_view(n, &v, d)) return false;
    /* indices.shape[:-1] + data.shape[b + k:] */
    int rank = ind->rank - 1 + x->rank - v.b - v.k;
    if (rank > IR_MAX_RANK) {
        diag_error(d, n, "the output would have rank %d, more than %d", rank, IR_MAX_RANK);
        return false;
    }
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, ind->dims, sizeof(int64_t) * (size_t)(ind->rank - 1));
    memcpy(dims + ind->rank - 1, x->dims + v.b + v.k,
           sizeof(int64_t) * (size_t)(x->rank - v.b - v.k));
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

static bool gnd_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    Value *y = n->outputs[0];
    GndView v;
    if (!gnd_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(x->dtype);
    for (int64_t bt = 0; bt < v.batches; bt++) {
        for (int64_t q = 0; q < v.tuples; q++) {
            const int64_t t = bt * v.tuples + q;    /* tuple number over all batches */
            int64_t base = bt * v.batch_stride;
            for (int a = 0; a < v.k; a++) {
                const int64_t dim = x->dims[v.b + a];
                int64_t c = ir_const_get_i64(ind, t * v.k + a);
                if (c < 0) c += dim;
                if (c < 0 || c >= dim) {
                    diag_error(d, n, "index %lld of tuple %lld is out of range for dim %d",
                               (long long)ir_const_get_i64(ind, t * v.k + a), (long long)t,
                               v.b + a);
                    return false;
                }
                base += c * v.strides[v.b + a];
            }
            for (int64_t s = 0; s < v.slice; s++)
                ou_copy_elems(y->data, t * v.slice + s, x->data, base + s, es);
        }
    }
    return true;
}

static bool gnd_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1], *y = n->outputs[0];
    GndView v;
    if (!gnd_view(n, &v, d)) return false;
    char sx[128], si[128], sy[128];
    emit_line(e, "/* GatherND of %s with indices %s -> %s: %lld batches of %lld tuples of %d "
              "coordinates, slices of %lld */", ou_shape(sx, sizeof sx, x),
              ou_shape(si, sizeof si, ind), ou_shape(sy, sizeof sy, y), (long long)v.batches,
              (long long)v.tuples, v.k, (long long)v.slice);
    if (ir_numel(y) == 0) {
        emit_line(e, "(void)x0; (void)x1; (void)y0;");
        return true;
    }
    emit_open(e, "for (size_t bt = 0; bt < %lld; bt++)", (long long)v.batches);
    emit_open(e, "for (size_t q = 0; q < %lld; q++)", (long long)v.tuples);
    emit_line(e, "const size_t t = bt * %lld + q;", (long long)v.tuples);
    emit_line(e, "size_t base = bt * %lld;", (long long)v.batch_stride);
    emit_line(e, "int64_t c;");
    for (int a = 0; a < v.k; a++) {
        const long long dim = (long long)x->dims[v.b + a];
        emit_line(e, "/* coordinate %d, along data's dim %d */", a, v.b + a);
        emit_line(e, "c = x1[t * %d + %d];", v.k, a);
        emit_line(e, "if (c < 0) c += %lld;", dim);
        emit_line(e, "if (c < 0 || c >= %lld) return 1; /* index out of range */", dim);
        emit_line(e, "base += (size_t)c * %lld;", (long long)v.strides[v.b + a]);
    }
    emit_line(e, "memcpy(&y0[t * %lld], &x0[base], %zu);", (long long)v.slice,
              (size_t)v.slice * dtype_size(x->dtype));
    emit_close(e);
    emit_close(e);
    return true;   /* the backend adds the final `return 0;` */
}

const OpDef op_gathernd = {
    .name = "GatherND", .domain = "", .since = 11, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = gnd_infer, .fold = gnd_fold,
    .emit = gnd_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
