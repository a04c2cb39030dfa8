/* softmax.c: Softmax, LogSoftmax and Hardmax.  Before opset 13 the input is coerced to
 * 2-D at `axis` (default 1) and the op runs over the whole second dimension; from 13 it
 * runs along one axis (default -1).  Both are the middle dim of an [outer][len][inner]
 * view.  The maximum is subtracted first so expf never overflows; LogSoftmax is
 * x - max - log(sum(exp(x - max))); Hardmax marks the first maximum of each row with 1.
 * float16 and bfloat16 are computed in float with each step rounded to the type, as the
 * ONNX reference (numpy in that type) does: x - max, its exponential, the sum (added in
 * float, rounded once), the quotient (and for LogSoftmax the log of the sum). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ir/shape.h"
#include "ops/op_util.h"

typedef enum SmKind { SM_SOFTMAX, SM_LOG, SM_HARD } SmKind;
static const SmKind sm_softmax = SM_SOFTMAX, sm_log = SM_LOG, sm_hard = SM_HARD;

static SmKind sm_kind(const Node *n) { return *(const SmKind *)n->op->data; }

typedef struct SmView {
    int64_t outer, len, inner;
} SmView;

static bool sm_view(const Node *n, SmView *v, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t axis_attr = ir_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
    int axis;
    /* Before 13 the axis may also equal rank (a [N][1] view); a negative one counts from
     * the back over the rank dims either way (-1 is the last dim, not past it). */
    if (n->opset < 13 && axis_attr == x->rank) axis = x->rank;
    else if (!ou_axis(n, "axis", axis_attr, x->rank, false, &axis, d)) return false;
    if (n->opset < 13) {
        /* coerced to 2-D: the row is every dim from the axis on */
        v->outer = shape_numel(axis, x->dims);
        v->len = shape_numel(x->rank - axis, x->dims + axis);
        v->inner = 1;
    } else {
        ou_axis_split(x, axis, &v->outer, &v->len, &v->inner);
    }
    return true;
}

static bool sm_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (!ou_check_dtype(n, 0, ou_float_types, d)) return false;
    if (ir_numel(x) < 0) {
        diag_error(d, n, "input '%s' is too large", x->name);
        return false;
    }
    SmView v;
    if (!sm_view(n, &v, d)) return false;
    return op_infer_like_input0(g, n, d);
}

/* exp(t) as the emitted code computes it for type dt: exp in double, onnxcc_expf in float;
 * for half types t and the result are rounded to the type. */
static double sm_exp(DType dt, double t) {
    if (dt == DT_DOUBLE) return exp(t);
    return ou_round_to(dt, (double)onnxcc_expf((float)ou_round_to(dt, t)));
}

static bool sm_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    SmView v;
    if (!sm_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const SmKind kind = sm_kind(n);
    for (int64_t o = 0; o < v.outer; o++) {
        for (int64_t in = 0; in < v.inner; in++) {
            int64_t base = o * v.len * v.inner + in, best = 0;
            double mx = v.len ? ou_get_f64(x, base) : 0, sum = 0;
            for (int64_t a = 1; a < v.len; a++) {
                double t = ou_get_f64(x, base + a * v.inner);
                if (t > mx) mx = t, best = a;
            }
            if (kind == SM_HARD) {
                for (int64_t a = 0; a < v.len; a++)
                    ou_set_f64(y, base + a * v.inner, a == best ? 1.0 : 0.0);
                continue;
            }
            for (int64_t a = 0; a < v.len; a++)
                sum += sm_exp(x->dtype, ou_get_f64(x, base + a * v.inner) - mx);
            sum = ou_round_to(x->dtype, sum);
            const double lse = ou_round_to(x->dtype, log(sum));
            for (int64_t a = 0; a < v.len; a++) {
                const int64_t at = base + a * v.inner;
                const double t = ou_round_to(x->dtype, ou_get_f64(x, at) - mx);
                ou_set_f64(y, at, kind == SM_LOG ? t - lse : sm_exp(x->dtype, t) / sum);
            }
        }
    }
    return true;
}

/* The half-type body: each row read through the conversion (max, sum of exponentials,
 * then the results), in float, each output rounded once. */
static bool sm_emit_half(Emitter *e, const Node *n, const SmView *v, const char *at) {
    const DType t = n->inputs[0]->dtype;
    const char *ld = ou_half_to_float_fn(t), *st = ou_float_to_half_fn(t);
    emit_line(e, "float mx = %s(xr[0]);", ld);
    if (sm_kind(n) == SM_HARD) {
        char one[40];
        emit_line(e, "size_t best = 0;   /* the first maximum */");
        emit_open(e, "for (size_t a = 1; a < %lld; a++)", (long long)v->len);
        emit_line(e, "const float xa = %s(xr[%s]);", ld, at);
        emit_line(e, "if (xa > mx) mx = xa, best = a;");
        emit_close(e);
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = a == best ? %s : 0;",
                  (long long)v->len, at, ou_literal(one, t, 1.0, 1));
        emit_close(e);
        return emit_close(e);
    }
    emit_open(e, "for (size_t a = 1; a < %lld; a++)", (long long)v->len);
    emit_line(e, "const float xa = %s(xr[%s]);", ld, at);
    emit_line(e, "mx = xa > mx ? xa : mx;");
    emit_close(e);
    /* r(v): v rounded to the type; t = r(x - mx) and e = r(exp(t)) */
    char t_expr[160], e_expr[400];
    snprintf(t_expr, sizeof t_expr, "%s(%s(%s(xr[%s]) - mx))", ld, st, ld, at);
    snprintf(e_expr, sizeof e_expr, "%s(%s(onnxcc_expf(%s)))", ld, st, t_expr);
    emit_line(e, "float sum = 0;");
    emit_line(e, "for (size_t a = 0; a < %lld; a++) sum += %s;", (long long)v->len, e_expr);
    emit_line(e, "sum = %s(%s(sum));", ld, st);
    if (sm_kind(n) == SM_LOG) {
        emit_line(e, "const float lse = %s(%s(logf(sum)));", ld, st);
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = %s(%s - lse);",
                  (long long)v->len, at, st, t_expr);
    } else {
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = %s(%s / sum);",
                  (long long)v->len, at, st, e_expr);
    }
    emit_close(e);
    return emit_close(e);
}

static bool sm_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    SmView v;
    if (!sm_view(n, &v, d)) return false;
    bool fl = x->dtype == DT_FLOAT;
    const char *T = dtype_ctype(x->dtype);
    /* onnxcc_expf (onnxcc_act.h) has no branch or call, so the exponentials vectorise;
     * they are stored first and summed in a second loop, which keeps the order of the
     * float additions (and so the result) independent of vectorisation. */
    const char *ex = fl ? "onnxcc_expf" : "exp";
    char sx[128];
    emit_line(e, "/* %s over [%lld][%lld][%lld] of %s */", n->op_type, (long long)v.outer,
              (long long)v.len, (long long)v.inner, ou_shape(sx, sizeof sx, x));
    if (v.len == 0 || v.outer == 0 || v.inner == 0) {
        emit_line(e, "(void)x0; (void)y0;");
        return true;
    }
    /* element a of the current row: xr[a * inner] */
    char at[64];
    if (v.inner == 1) snprintf(at, sizeof at, "a");
    else snprintf(at, sizeof at, "a * %lld", (long long)v.inner);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.outer);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v.inner);
    emit_line(e, "const %s *xr = x0 + o * %lld + j;", T, (long long)(v.len * v.inner));
    emit_line(e, "%s *yr = y0 + o * %lld + j;", T, (long long)(v.len * v.inner));
    if (ou_is_half(x->dtype)) return sm_emit_half(e, n, &v, at);
    emit_line(e, "%s mx = xr[0];", T);
    if (sm_kind(n) == SM_HARD) {
        emit_line(e, "size_t best = 0;   /* the first maximum */");
        emit_open(e, "for (size_t a = 1; a < %lld; a++)", (long long)v.len);
        emit_line(e, "if (xr[%s] > mx) mx = xr[%s], best = a;", at, at);
        emit_close(e);
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = a == best ? 1 : 0;",
                  (long long)v.len, at);
        emit_close(e);
        return emit_close(e);
    }
    emit_line(e, "for (size_t a = 1; a < %lld; a++) mx = xr[%s] > mx ? xr[%s] : mx;",
              (long long)v.len, at, at);
    emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = %s(xr[%s] - mx);",
              (long long)v.len, at, ex, at);
    emit_line(e, "%s sum = 0;", T);
    emit_line(e, "for (size_t a = 0; a < %lld; a++) sum += yr[%s];", (long long)v.len, at);
    if (sm_kind(n) == SM_LOG) {
        emit_line(e, "const %s shift = mx + %s(sum);", T, fl ? "logf" : "log");
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] = xr[%s] - shift;",
                  (long long)v.len, at, at);
    } else {
        emit_line(e, "const %s inv = 1 / sum;", T);
        emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[%s] *= inv;", (long long)v.len, at);
    }
    emit_close(e);
    return emit_close(e);
}

#define SM_OP(var, NAME, KIND)                                                              \
    const OpDef var = {                                                                     \
        .name = NAME, .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,          \
        .min_outputs = 1, .max_outputs = 1, .infer = sm_infer, .fold = sm_fold,            \
        .emit = sm_emit, .memory = OP_MEMORY_SEPARATE, .data = &KIND,                      \
    }

SM_OP(op_softmax, "Softmax", sm_softmax);
SM_OP(op_logsoftmax, "LogSoftmax", sm_log);
SM_OP(op_hardmax, "Hardmax", sm_hard);
