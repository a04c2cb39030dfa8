/* unary.c: elementwise activations (Relu, LeakyRelu, Elu, Sigmoid, Tanh, Clip).
 *
 * One table: for each op the dtypes it accepts, its alpha default, the C expression of one
 * element for float (the runtime's onnxcc_act.h functions, so fused and unfused
 * activations compute the same thing) and for double/integers, and one scalar evaluator
 * that folding uses.  PRelu lives in binary.c since its slope broadcasts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op_util.h"

typedef enum UnKind { UN_RELU, UN_LEAKY, UN_ELU, UN_SIGMOID, UN_TANH, UN_CLIP } UnKind;

typedef struct UnInfo {
    UnKind kind;
    const DType *types;
    float alpha_default;    /* LeakyRelu / Elu */
} UnInfo;

static const UnInfo un_relu = { UN_RELU, ou_signed_types, 0 };
static const UnInfo un_leaky = { UN_LEAKY, ou_float_types, 0.01f };
static const UnInfo un_elu = { UN_ELU, ou_float_types, 1.0f };
static const UnInfo un_sigmoid = { UN_SIGMOID, ou_float_types, 0 };
static const UnInfo un_tanh = { UN_TANH, ou_float_types, 0 };
static const UnInfo un_clip = { UN_CLIP, ou_numeric_types, 0 };

static const UnInfo *un_info(const Node *n) { return n->op->data; }

/* Clip bounds: present flags, and for constant bounds their values. */
typedef struct ClipBounds {
    bool has_lo, has_hi;
    bool lo_const, hi_const;
    double lo, hi;
} ClipBounds;

static bool clip_bounds(const Node *n, ClipBounds *cb, Diag *d) {
    memset(cb, 0, sizeof *cb);
    if (n->opset < 11) {
        const Attr *lo = ir_attr(n, "min"), *hi = ir_attr(n, "max");
        cb->has_lo = cb->lo_const = lo != NULL;
        cb->has_hi = cb->hi_const = hi != NULL;
        cb->lo = lo ? (double)ir_attr_float(n, "min", 0) : 0;
        cb->hi = hi ? (double)ir_attr_float(n, "max", 0) : 0;
        return true;
    }
    for (int k = 1; k <= 2; k++) {
        const Value *v = op_input(n, k);
        if (!v) continue;
        if (v->dtype != n->inputs[0]->dtype) {
            diag_error(d, n, "%s bound '%s' is %s, input is %s", k == 1 ? "min" : "max",
                       v->name, dtype_name(v->dtype), dtype_name(n->inputs[0]->dtype));
            return false;
        }
        if (ir_numel(v) != 1) {
            diag_error(d, n, "%s bound '%s' must be a scalar", k == 1 ? "min" : "max",
                       v->name);
            return false;
        }
        bool *has = k == 1 ? &cb->has_lo : &cb->has_hi;
        bool *is_const = k == 1 ? &cb->lo_const : &cb->hi_const;
        double *val = k == 1 ? &cb->lo : &cb->hi;
        *has = true;
        if (v->data) {
            *is_const = true;
            *val = ou_get_f64(v, 0);
        }
    }
    return true;
}

static bool un_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d)) return false;
    if (!ou_check_dtype(n, 0, un_info(n)->types, d)) return false;
    if (un_info(n)->kind == UN_CLIP) {
        ClipBounds cb;
        if (!clip_bounds(n, &cb, d)) return false;
    }
    return op_infer_like_input0(g, n, d);
}

static float alpha_of(const Node *n) {
    return ir_attr_float(n, "alpha", un_info(n)->alpha_default);
}

/* One element, in float for float/half types (exactly what the emitted code computes). */
static double un_eval(UnKind kind, DType t, double v, float alpha, const ClipBounds *cb) {
    if (kind == UN_CLIP) {
        if (cb->has_lo && v < cb->lo) v = cb->lo;
        if (cb->has_hi && v > cb->hi) v = cb->hi;
        return v;
    }
    if (t == DT_DOUBLE || dtype_is_integer(t)) {
        switch (kind) {
        case UN_RELU: return v > 0 ? v : 0;
        case UN_LEAKY: return v >= 0 ? v : (double)alpha * v;
        case UN_ELU: return v >= 0 ? v : (double)alpha * (exp(v) - 1.0);
        case UN_SIGMOID: return 1.0 / (1.0 + exp(-v));
        default: return tanh(v);
        }
    }
    float f = (float)v;
    switch (kind) {
    case UN_RELU: return onnxcc_relu(f);
    case UN_LEAKY: return onnxcc_leaky_relu(f, alpha);
    case UN_ELU: return onnxcc_elu(f, alpha);
    case UN_SIGMOID: return onnxcc_sigmoid(f);
    default: return onnxcc_tanh(f);
    }
}

static bool un_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    const UnInfo *info = un_info(n);
    ClipBounds cb = { 0 };
    if (info->kind == UN_CLIP && !clip_bounds(n, &cb, d)) return false;
    if (!ir_value_alloc_data(g, y, d)) return false;
    float alpha = alpha_of(n);
    int64_t count = ir_numel(y);
    for (int64_t i = 0; i < count; i++) {
        if (dtype_is_integer(x->dtype) && x->dtype != DT_UINT64) {
            /* exact in int64: Relu and Clip are the only integer ops */
            int64_t v = ir_const_get_i64(x, i);
            if (info->kind == UN_RELU && v < 0) v = 0;
            if (info->kind == UN_CLIP) {
                if (cb.has_lo && v < (int64_t)cb.lo) v = (int64_t)cb.lo;
                if (cb.has_hi && v > (int64_t)cb.hi) v = (int64_t)cb.hi;
            }
            ir_const_set_i64(y, i, v);
        } else {
            ou_set_f64(y, i, un_eval(info->kind, x->dtype, ou_get_f64(x, i), alpha, &cb));
        }
    }
    return true;
}

/* Writes the C expression of one element `v` into buf. */
static void un_expr(char *buf, size_t size, const Node *n, DType t, const ClipBounds *cb) {
    char a[32];
    UnKind kind = un_info(n)->kind;
    float alpha = alpha_of(n);
    if (kind == UN_CLIP) {
        /* min > max gives max, as the spec says: clamp below first */
        if (cb->has_lo && cb->has_hi)
            snprintf(buf, size, "(v < lo ? lo : v) > hi ? hi : (v < lo ? lo : v)");
        else if (cb->has_lo) snprintf(buf, size, "v < lo ? lo : v");
        else if (cb->has_hi) snprintf(buf, size, "v > hi ? hi : v");
        else snprintf(buf, size, "v");
        return;
    }
    if (t == DT_FLOAT) {
        c_float(a, alpha);
        switch (kind) {
        case UN_RELU: snprintf(buf, size, "onnxcc_relu(v)"); break;
        case UN_LEAKY: snprintf(buf, size, "onnxcc_leaky_relu(v, %s)", a); break;
        case UN_ELU: snprintf(buf, size, "onnxcc_elu(v, %s)", a); break;
        case UN_SIGMOID: snprintf(buf, size, "onnxcc_sigmoid(v)"); break;
        default: snprintf(buf, size, "onnxcc_tanh(v)"); break;
        }
        return;
    }
    c_double(a, (double)alpha);
    switch (kind) {
    case UN_RELU: snprintf(buf, size, "v > 0 ? v : 0"); break;
    case UN_LEAKY: snprintf(buf, size, "v >= 0 ? v : %s * v", a); break;
    case UN_ELU: snprintf(buf, size, "v >= 0 ? v : %s * (exp(v) - 1.0)", a); break;
    case UN_SIGMOID: snprintf(buf, size, "1.0 / (1.0 + exp(-v))"); break;
    default: snprintf(buf, size, "tanh(v)"); break;
    }
}

static bool un_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    DType t = x->dtype;
    bool half = ou_is_half(t);
    /* half types are computed in float */
    DType ct = half ? DT_FLOAT : t;
    const char *T = dtype_ctype(ct);
    ClipBounds cb = { 0 };
    if (un_info(n)->kind == UN_CLIP && !clip_bounds(n, &cb, d)) return false;
    char sx[128], expr[160], lit[40];
    emit_line(e, "/* %s: %s, in place allowed */", n->op_type, ou_shape(sx, sizeof sx, x));
    if (n->opset >= 11) {
        if (cb.lo_const) emit_line(e, "(void)x1;");
        if (cb.hi_const) emit_line(e, "(void)x2;");
    }
    for (int k = 0; k < 2; k++) {
        bool has = k ? cb.has_hi : cb.has_lo, is_const = k ? cb.hi_const : cb.lo_const;
        const char *name = k ? "hi" : "lo";
        double val = k ? cb.hi : cb.lo;
        if (!has) continue;
        if (is_const || n->opset < 11)
            emit_line(e, "const %s %s = %s;", T, name, ou_literal(lit, ct, val, (int64_t)val));
        else if (half) ou_emit_half_load(e, t, name, k ? "x2[0]" : "x1[0]");
        else emit_line(e, "const %s %s = x%d[0];", T, name, k + 1);
    }
    un_expr(expr, sizeof expr, n, ct, &cb);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(x));
    if (half) {
        ou_emit_half_load(e, t, "v", "x0[i]");
        emit_line(e, "const float r = %s;", expr);
        ou_emit_half_store(e, t, "y0[i]", "r");
    } else {
        emit_line(e, "const %s v = x0[i];", T);
        emit_line(e, "y0[i] = %s;", expr);
    }
    return emit_close(e);
}

#define UN_OP(var, NAME, INFO, MAXIN)                                                        \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = 1, .min_inputs = 1, .max_inputs = MAXIN,       \
        .min_outputs = 1, .max_outputs = 1, .infer = un_infer, .fold = un_fold,             \
        .emit = un_emit, .memory = OP_MEMORY_INPLACE, .data = &INFO,                        \
    }

UN_OP(op_relu, "Relu", un_relu, 1);
UN_OP(op_leakyrelu, "LeakyRelu", un_leaky, 1);
UN_OP(op_elu, "Elu", un_elu, 1);
UN_OP(op_sigmoid, "Sigmoid", un_sigmoid, 1);
UN_OP(op_tanh, "Tanh", un_tanh, 1);
UN_OP(op_clip, "Clip", un_clip, 3);
