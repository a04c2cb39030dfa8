/* cumulative.c: CumSum and CumProd, running sums and products along one axis (a scalar
 * input, needed at compile time).  exclusive=1 leaves the current element out (the first
 * output is 0, or 1 for a product); reverse=1 runs from the end of the axis.  The input
 * is seen as [outer][len][inner] around the axis; integers are accumulated in unsigned
 * types (wrap-around, no UB). */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

typedef enum CumKind { CUM_SUM, CUM_PROD } CumKind;
static const CumKind cum_sum = CUM_SUM, cum_prod = CUM_PROD;

static CumKind cum_kind(const Node *n) { return *(const CumKind *)n->op->data; }

static const DType cum_types[] = { DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_UINT32,
                                   DT_UINT64, DT_UNDEFINED };

typedef struct CumView {
    int64_t outer, len, inner;
    bool exclusive, reverse;
} CumView;

static bool cum_view(const Node *n, CumView *v, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t a;
    int count, axis;
    if (!ou_const_ints(n, 1, &a, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "axis must hold one value, it has %d", count);
        return false;
    }
    if (!ou_axis(n, "axis", a, x->rank, false, &axis, d)) return false;
    ou_axis_split(x, axis, &v->outer, &v->len, &v->inner);
    v->exclusive = ir_attr_int(n, "exclusive", 0) != 0;
    v->reverse = ir_attr_int(n, "reverse", 0) != 0;
    return true;
}

static bool cum_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, cum_types, d)) return false;
    CumView v;
    if (!cum_view(n, &v, d)) return false;
    return op_infer_like_input0(g, n, d);
}

static bool cum_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    CumView v;
    if (!cum_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const bool fl = dtype_is_float(x->dtype), prod = cum_kind(n) == CUM_PROD;
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t j = 0; j < v.inner; j++) {
            double af = prod ? 1 : 0;
            uint64_t ai = prod ? 1 : 0;
            for (int64_t s = 0; s < v.len; s++) {
                const int64_t a = v.reverse ? v.len - 1 - s : s;
                const int64_t at = (o * v.len + a) * v.inner + j;
                if (v.exclusive) {
                    if (fl) ou_set_f64(y, at, af);
                    else ir_const_set_i64(y, at, (int64_t)ai);
                }
                if (fl) af = prod ? af * ou_get_f64(x, at) : af + ou_get_f64(x, at);
                else {
                    const uint64_t e = (uint64_t)ir_const_get_i64(x, at);
                    ai = prod ? ai * e : ai + e;
                }
                if (!v.exclusive) {
                    if (fl) ou_set_f64(y, at, af);
                    else ir_const_set_i64(y, at, (int64_t)ai);
                }
            }
        }
    return true;
}

static bool cum_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    CumView v;
    if (!cum_view(n, &v, d)) return false;
    const bool fl = dtype_is_float(x->dtype), prod = cum_kind(n) == CUM_PROD;
    const char *T = dtype_ctype(x->dtype);
    /* the accumulator: the element type for floats, its unsigned twin for integers */
    const char *A = fl ? T : dtype_size(x->dtype) == 8 ? "uint64_t" : "uint32_t";
    char sx[128];
    emit_line(e, "/* %s%s%s along [%lld][%lld][%lld] of %s */", n->op_type,
              v.exclusive ? " exclusive" : "", v.reverse ? " reverse" : "", (long long)v.outer,
              (long long)v.len, (long long)v.inner, ou_shape(sx, sizeof sx, x));
    emit_line(e, "(void)x1;   /* the axis, applied at compile time */");
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.outer);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v.inner);
    emit_line(e, "%s acc = %s;", A, prod ? "1" : "0");
    emit_open(e, "for (size_t s = 0; s < %lld; s++)", (long long)v.len);
    if (v.reverse)
        emit_line(e, "const size_t at = (o * %lld + %lld - s) * %lld + j;", (long long)v.len,
                  (long long)(v.len - 1), (long long)v.inner);
    else
        emit_line(e, "const size_t at = (o * %lld + s) * %lld + j;", (long long)v.len,
                  (long long)v.inner);
    if (v.exclusive) emit_line(e, "y0[at] = (%s)acc;", T);
    emit_line(e, "acc %s= (%s)x0[at];", prod ? "*" : "+", A);
    if (!v.exclusive) emit_line(e, "y0[at] = (%s)acc;", T);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

#define CUM_OP(var, NAME, SINCE, KIND)                                                      \
    const OpDef var = {                                                                     \
        .name = NAME, .domain = "", .since = SINCE, .min_inputs = 2, .max_inputs = 2,      \
        .min_outputs = 1, .max_outputs = 1, .infer = cum_infer, .fold = cum_fold,          \
        .emit = cum_emit, .memory = OP_MEMORY_SEPARATE, .data = &KIND,                     \
    }

CUM_OP(op_cumsum, "CumSum", 11, cum_sum);
CUM_OP(op_cumprod, "CumProd", 26, cum_prod);
