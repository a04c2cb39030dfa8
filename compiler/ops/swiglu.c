/* swiglu.c: SwiGLU (opset 28), the gated linear unit with a Swish gate:
 *
 *   Y = A * sigmoid(alpha * A) * B            A and B of one shape (no broadcasting)
 *
 * Elementwise, so Y may overwrite A.  The steps are those of the reference, each rounded
 * to the element type (float16/bfloat16 computed in float): t = -alpha * a,
 * e = exp(t), s = 1 / (1 + e), w = a * s, y = w * b.  The folder runs the same steps.
 */
#include <math.h>
#include <stdio.h>

#include "ops/op_util.h"

static const DType swiglu_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16,
                                      DT_UNDEFINED };

static bool swiglu_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (!ou_check_dtype(n, 0, swiglu_types, d)) return false;
    const Value *a = n->inputs[0], *b = n->inputs[1];
    if (b->dtype != a->dtype || !ir_same_shape(a, b)) {
        char sa[128], sb[128];
        diag_error(d, n, "A %s and B %s must have one shape and type (no broadcasting)",
                   ir_shape_str(sa, sizeof sa, a), ir_shape_str(sb, sizeof sb, b));
        return false;
    }
    return op_infer_like_input0(g, n, d);
}

static bool swiglu_fold(Graph *g, Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const DType t = a->dtype;
    const double alpha = ou_round_to(t, ir_attr_float(n, "alpha", 1.0f));
    const bool dbl = t == DT_DOUBLE;
    for (int64_t i = 0, count = ir_numel(y); i < count; i++) {
        const double av = ou_get_f64(a, i);
        double v = ou_round_to(t, -alpha * av);
        v = ou_round_to(t, dbl ? exp(v) : (double)expf((float)v));
        v = ou_round_to(t, 1 + v);
        v = ou_round_to(t, 1 / v);
        v = ou_round_to(t, av * v);
        ou_set_f64(y, i, ou_round_to(t, v * ou_get_f64(b, i)));
    }
    return true;
}

/* Emits `v = expr;` rounded to t (v is a float or double variable). */
static void swiglu_step(Emitter *e, DType t, const char *expr) {
    emit_line(e, "v = %s;", expr);
    ou_emit_round(e, t, "v");
}

static bool swiglu_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    if (ou_emit_if_empty(e, n)) return true;
    const Value *a = n->inputs[0];
    const DType t = a->dtype;
    const bool dbl = t == DT_DOUBLE;
    const char *CT = dbl ? "double" : "float";
    char lit[32], sx[128];
    double alpha = ou_round_to(t, ir_attr_float(n, "alpha", 1.0f));
    emit_line(e, "/* SwiGLU of %s: y = a * sigmoid(%g * a) * b */", ou_shape(sx, sizeof sx, a),
              alpha);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(a));
    if (ou_is_half(t)) {
        ou_emit_half_load(e, t, "av", "x0[i]");
        ou_emit_half_load(e, t, "bv", "x1[i]");
    } else {
        emit_line(e, "const %s av = x0[i], bv = x1[i];", CT);
    }
    emit_line(e, "%s v;", CT);
    char expr[64];
    snprintf(expr, sizeof expr, "%s * av", dbl ? c_double(lit, -alpha) : c_float(lit, (float)-alpha));
    swiglu_step(e, t, expr);
    swiglu_step(e, t, dbl ? "exp(v)" : "expf(v)");
    swiglu_step(e, t, "1 + v");
    swiglu_step(e, t, "1 / v");
    swiglu_step(e, t, "av * v");
    swiglu_step(e, t, "v * bv");
    if (ou_is_half(t)) ou_emit_half_store(e, t, "y0[i]", "v");
    else emit_line(e, "y0[i] = v;");
    return emit_close(e);
}

const OpDef op_swiglu = {
    .name = "SwiGLU", .domain = "", .since = 28,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = swiglu_infer, .fold = swiglu_fold, .emit = swiglu_emit,
    .memory = OP_MEMORY_INPLACE,
};
