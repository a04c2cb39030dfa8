/* scatter_nd.c: ScatterND.  The output is a copy of data (rank r); indices (rank q) hold
 * (q-1)-dimensional tuples of k = indices.shape[-1] coordinates, each addressing a slice
 * of data (its last r - k dims, `slice` elements), which the matching slice of updates
 * (shape indices.shape[:-1] + data.shape[k:]) replaces or is combined into by
 * `reduction` (add, mul, max, min; integer add and mul wrap).  Coordinates may be
 * negative, counting from the end; one out of range makes the generated function return
 * 1 (a constant one is refused when folding).  Tuples are applied in order. */
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/op_util.h"

typedef struct NdView {
    int k;                      /* coordinates per tuple */
    int64_t tuples, slice;      /* tuples, elements per slice */
    int64_t strides[IR_MAX_RANK];   /* data's, in elements */
    OuScatterRed red;
} NdView;

static bool nd_view(const Node *n, NdView *v, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    if (!ou_scatter_reduction(n, &v->red, d)) return false;
    if (ind->rank < 1 || ind->dims[ind->rank - 1] < 1 || ind->dims[ind->rank - 1] > x->rank) {
        diag_error(d, n, "indices' last dim must be between 1 and data's rank %d", x->rank);
        return false;
    }
    v->k = (int)ind->dims[ind->rank - 1];
    v->tuples = 1;
    for (int a = 0; a + 1 < ind->rank; a++) v->tuples *= ind->dims[a];
    v->slice = 1;
    for (int a = v->k; a < x->rank; a++) v->slice *= x->dims[a];
    shape_strides(x->rank, x->dims, v->strides);
    return true;
}

static bool nd_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d) || !op_require_shape(n, 1, d) || !op_require_shape(n, 2, d))
        return false;
    const Value *x = n->inputs[0], *ind = n->inputs[1], *u = n->inputs[2];
    if (ind->dtype != DT_INT64) {
        diag_error(d, n, "indices '%s' are %s, not int64", ind->name, dtype_name(ind->dtype));
        return false;
    }
    if (ou_is_half(x->dtype) || x->dtype == DT_STRING) {
        diag_error(d, n, "element type %s is not supported", dtype_name(x->dtype));
        return false;
    }
    NdView v;
    if (!nd_view(n, &v, d)) return false;
    /* updates: indices.shape[:-1] + data.shape[k:] */
    bool same = u->dtype == x->dtype && u->rank == ind->rank - 1 + x->rank - v.k;
    for (int a = 0; same && a < u->rank; a++)
        same = u->dims[a] == (a < ind->rank - 1 ? ind->dims[a] : x->dims[a - (ind->rank - 1) + v.k]);
    if (!same) {
        diag_error(d, n, "updates '%s' must have the shape indices[:-1] + data[%d:] and the "
                   "data's type", u->name, v.k);
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
}

static bool nd_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1], *u = n->inputs[2];
    Value *y = n->outputs[0];
    NdView v;
    if (!nd_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    memcpy(y->data, x->data, (size_t)ir_nbytes(x));
    for (int64_t t = 0; t < v.tuples; t++) {
        int64_t base = 0;
        for (int a = 0; a < v.k; a++) {
            int64_t c = ir_const_get_i64(ind, t * v.k + a);
            if (c < 0) c += x->dims[a];
            if (c < 0 || c >= x->dims[a]) {
                diag_error(d, n, "index %lld of tuple %lld is out of range for dim %d",
                           (long long)ir_const_get_i64(ind, t * v.k + a), (long long)t, a);
                return false;
            }
            base += c * v.strides[a];
        }
        for (int64_t s = 0; s < v.slice; s++)
            ou_scatter_fold(y, base + s, u, t * v.slice + s, v.red);
    }
    return true;
}

static bool nd_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    NdView v;
    if (!nd_view(n, &v, d)) return false;
    const char *T = dtype_ctype(x->dtype);
    char sx[128], si[128];
    emit_line(e, "/* ScatterND of %s with indices %s: %lld tuples of %d coordinates, slices of "
              "%lld */", ou_shape(sx, sizeof sx, x), ou_shape(si, sizeof si, ind),
              (long long)v.tuples, v.k, (long long)v.slice);
    emit_line(e, "memcpy(y0, x0, %zu);", (size_t)ir_nbytes(x));
    emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)v.tuples);
    emit_line(e, "size_t base = 0;");
    emit_line(e, "int64_t c;");
    for (int a = 0; a < v.k; a++) {
        emit_line(e, "/* coordinate %d */", a);
        emit_line(e, "c = x1[t * %d + %d];", v.k, a);
        emit_line(e, "if (c < 0) c += %lld;", (long long)x->dims[a]);
        emit_line(e, "if (c < 0 || c >= %lld) return 1; /* index out of range */",
                  (long long)x->dims[a]);
        emit_line(e, "base += (size_t)c * %lld;", (long long)v.strides[a]);
    }
    emit_open(e, "for (size_t s = 0; s < %lld; s++)", (long long)v.slice);
    emit_line(e, "%s *const to = &y0[base + s];", T);
    emit_line(e, "const %s u = x2[t * %lld + s];", T, (long long)v.slice);
    ou_emit_scatter_update(e, x->dtype, v.red);
    emit_close(e);
    emit_close(e);
    return true;   /* the backend adds the final `return 0;` */
}

const OpDef op_scatternd = {
    .name = "ScatterND", .domain = "", .since = 11, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = nd_infer, .fold = nd_fold, .emit = nd_emit,
    .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
