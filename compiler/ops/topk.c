/* topk.c: TopK, the K largest (largest=1, the default) or smallest elements along one
 * axis, with their indices (int64), in order; equal values keep their index order.  K,
 * a one-element input, is needed at compile time: the outputs' shapes depend on it.
 *
 * Each row of the [outer][len][inner] view is scanned K times, each scan taking the
 * first element (in the order: value, then index) that comes after the previous pick:
 * O(K x len) per row and no memory beyond a few locals.  NaN is not ordered (rows with
 * NaN give an unspecified selection, as the comparisons are false). */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

static const DType topk_types[] = { DT_FLOAT, DT_DOUBLE, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
                                    DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_UNDEFINED };

typedef struct TopKView {
    int64_t outer, len, inner, k;
    int axis;
    bool largest;
} TopKView;

static bool topk_view(const Node *n, TopKView *v, Diag *d) {
    const Value *x = n->inputs[0];
    int count;
    if (!ou_const_ints(n, 1, &v->k, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "K must hold one value, it has %d", count);
        return false;
    }
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", -1), x->rank, false, &v->axis, d))
        return false;
    ou_axis_split(x, v->axis, &v->outer, &v->len, &v->inner);
    if (v->k < 0 || v->k > v->len) {
        diag_error(d, n, "K %lld is out of range [0, %lld]", (long long)v->k, (long long)v->len);
        return false;
    }
    v->largest = ir_attr_int(n, "largest", 1) != 0;
    return true;
}

static bool topk_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, topk_types, d)) return false;
    const Value *x = n->inputs[0];
    TopKView v;
    if (!topk_view(n, &v, d)) return false;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[v.axis] = v.k;
    if (!ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d)) return false;
    return n->n_outputs < 2 || !n->outputs[1] ||
           ou_set_output(n, n->outputs[1], DT_INT64, x->rank, dims, d);
}

/* Elements p and q of x compared in their own type: -1, 0 or 1 (0 also when unordered,
 * NaN). */
static int topk_cmp(const Value *x, int64_t p, int64_t q) {
    if (dtype_is_float(x->dtype)) {
        const double a = ou_get_f64(x, p), b = ou_get_f64(x, q);
        return a < b ? -1 : a > b;
    }
    if (x->dtype == DT_UINT64) {
        const uint64_t a = (uint64_t)ir_const_get_i64(x, p), b = (uint64_t)ir_const_get_i64(x, q);
        return a < b ? -1 : a > b;
    }
    const int64_t a = ir_const_get_i64(x, p), b = ir_const_get_i64(x, q);
    return a < b ? -1 : a > b;
}

/* Whether element p (index i1 of its row) comes before element q (index i2) in the
 * output order. */
static bool topk_before(const Value *x, bool largest, int64_t p, int64_t i1, int64_t q,
                        int64_t i2) {
    const int c = topk_cmp(x, p, q);
    return (largest ? c > 0 : c < 0) || (c == 0 && i1 < i2);
}

static bool topk_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0], *yi = n->n_outputs > 1 ? n->outputs[1] : NULL;
    TopKView v;
    if (!topk_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    if (yi && !ir_value_alloc_data(g, yi, d)) return false;
    const size_t es = dtype_size(x->dtype);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t j = 0; j < v.inner; j++) {
            const int64_t row = o * v.len * v.inner + j;   /* element a at row + a * inner */
            int64_t prev = -1;
            for (int64_t r = 0; r < v.k; r++) {
                int64_t best = -1;
                for (int64_t a = 0; a < v.len; a++) {
                    const int64_t at = row + a * v.inner;
                    if (prev >= 0 &&
                        !topk_before(x, v.largest, row + prev * v.inner, prev, at, a))
                        continue;
                    if (best < 0 || topk_before(x, v.largest, at, a, row + best * v.inner, best))
                        best = a;
                }
                if (best < 0) best = 0;   /* only with NaN in the row */
                const int64_t at = (o * v.k + r) * v.inner + j;
                ou_copy_elems(y->data, at, x->data, row + best * v.inner, es);
                if (yi) ((int64_t *)yi->data)[at] = best;
                prev = best;
            }
        }
    return true;
}

static bool topk_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    const bool yi = n->n_outputs > 1 && n->outputs[1];
    TopKView v;
    if (!topk_view(n, &v, d)) return false;
    const char *T = dtype_ctype(x->dtype), *gt = v.largest ? ">" : "<";
    char sx[128];
    emit_line(e, "/* TopK (%s %lld) along [%lld][%lld][%lld] of %s */",
              v.largest ? "largest" : "smallest", (long long)v.k, (long long)v.outer,
              (long long)v.len, (long long)v.inner, ou_shape(sx, sizeof sx, x));
    emit_line(e, "(void)x1;   /* K, applied at compile time */");
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.outer);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v.inner);
    emit_line(e, "const %s *xr = x0 + o * %lld + j;   /* element a at xr[a * %lld] */", T,
              (long long)(v.len * v.inner), (long long)v.inner);
    emit_line(e, "size_t prev = 0;");
    emit_line(e, "%s pv = 0;", T);
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)v.k);
    emit_line(e, "/* the first element, by value then index, after the previous pick */");
    emit_line(e, "size_t best = SIZE_MAX;");
    emit_line(e, "%s bv = 0;", T);
    emit_open(e, "for (size_t a = 0; a < %lld; a++)", (long long)v.len);
    emit_line(e, "const %s t = xr[a * %lld];", T, (long long)v.inner);
    emit_line(e, "if (r > 0 && !(pv %s t || (pv == t && prev < a))) continue;", gt);
    emit_line(e, "if (best == SIZE_MAX || t %s bv || (t == bv && a < best)) best = a, bv = t;",
              gt);
    emit_close(e);
    emit_line(e, "if (best == SIZE_MAX) best = 0, bv = xr[0];   /* only with NaN in the row */");
    emit_line(e, "y0[(o * %lld + r) * %lld + j] = bv;", (long long)v.k, (long long)v.inner);
    if (yi)
        emit_line(e, "y1[(o * %lld + r) * %lld + j] = (int64_t)best;", (long long)v.k,
                  (long long)v.inner);
    emit_line(e, "prev = best;");
    emit_line(e, "pv = bv;");
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_topk = {
    .name = "TopK", .domain = "", .since = 10, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 2, .infer = topk_infer, .fold = topk_fold,
    .emit = topk_emit, .memory = OP_MEMORY_SEPARATE,
};
