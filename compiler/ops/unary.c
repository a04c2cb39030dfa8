/* unary.c: elementwise activations and math (Relu, LeakyRelu, Elu, Sigmoid, Tanh, Clip,
 * HardSigmoid, HardSwish, Gelu, Softplus, Sqrt, Exp, Log, Erf, Neg, Abs, Reciprocal,
 * Floor, Ceil, Round, Sign, Sin, Cos, Softsign, Selu, Celu, ThresholdedRelu, Mish, Swish,
 * Shrink, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh).  Swish (opset 24) is also what
 * the fusion pass turns Mul(x, Sigmoid(x)) into.
 *
 * One table: for each op the dtypes it accepts, its alpha default, the C expression of one
 * element for float (the runtime's onnxcc_act.h functions) and for double/integers, and
 * one scalar evaluator that folding uses.  The activations that convolutions and GEMMs
 * can absorb (Relu, LeakyRelu, Elu, Sigmoid, Tanh, HardSigmoid, HardSwish, and Swish
 * with alpha 1, which is SiLU) are emitted for float32 as one call of the runtime's
 * onnxcc_f32_act instead of a loop: the epilogues' vector math, so that fused and
 * unfused activations compute the same thing, a vector at a time (a loop of
 * onnxcc_sigmoid vectorises only as far as the compiler manages; tanhf never).  Folding
 * keeps the scalar functions, within an ulp or two of those (onnxcc_simd.h).  PRelu
 * lives in binary.c since its slope broadcasts. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op_util.h"

typedef enum UnKind {
    UN_RELU, UN_LEAKY, UN_ELU, UN_SIGMOID, UN_TANH, UN_CLIP,
    UN_HARD_SIGMOID, UN_HARD_SWISH, UN_GELU, UN_SOFTPLUS, UN_SQRT, UN_EXP, UN_LOG, UN_ERF,
    UN_NEG, UN_ABS, UN_RECIPROCAL, UN_FLOOR, UN_CEIL, UN_ROUND, UN_SIGN, UN_SIN, UN_COS,
    UN_SOFTSIGN, UN_SELU, UN_CELU, UN_THRESHOLDED_RELU, UN_MISH, UN_SWISH, UN_SHRINK,
    /* plain libm functions: the C name is the lower-case op name (+ "f" for float) */
    UN_TAN, UN_ASIN, UN_ACOS, UN_ATAN, UN_SINH, UN_COSH, UN_ASINH, UN_ACOSH, UN_ATANH,
} UnKind;

/* The libm kinds: double and float functions, and the C name. */
typedef struct UnLibm {
    UnKind kind;
    double (*fd)(double);
    float (*ff)(float);
    const char *name;
} UnLibm;

static const UnLibm un_libm[] = {
    { UN_TAN, tan, tanf, "tan" },       { UN_ASIN, asin, asinf, "asin" },
    { UN_ACOS, acos, acosf, "acos" },   { UN_ATAN, atan, atanf, "atan" },
    { UN_SINH, sinh, sinhf, "sinh" },   { UN_COSH, cosh, coshf, "cosh" },
    { UN_ASINH, asinh, asinhf, "asinh" }, { UN_ACOSH, acosh, acoshf, "acosh" },
    { UN_ATANH, atanh, atanhf, "atanh" },
};

static const UnLibm *un_libm_of(UnKind kind) {
    for (size_t k = 0; k < sizeof un_libm / sizeof un_libm[0]; k++)
        if (un_libm[k].kind == kind) return &un_libm[k];
    return NULL;
}

typedef struct UnInfo {
    UnKind kind;
    const DType *types;
    float alpha_default;    /* LeakyRelu / Elu / HardSigmoid, Shrink lambd */
    float beta_default;     /* HardSigmoid beta, Selu gamma, Shrink bias */
} UnInfo;

static const UnInfo un_relu = { UN_RELU, ou_signed_types, 0, 0 };
static const UnInfo un_leaky = { UN_LEAKY, ou_float_types, 0.01f, 0 };
static const UnInfo un_elu = { UN_ELU, ou_float_types, 1.0f, 0 };
static const UnInfo un_sigmoid = { UN_SIGMOID, ou_float_types, 0, 0 };
static const UnInfo un_tanh = { UN_TANH, ou_float_types, 0, 0 };
static const UnInfo un_clip = { UN_CLIP, ou_numeric_types, 0, 0 };
static const UnInfo un_hard_sigmoid = { UN_HARD_SIGMOID, ou_float_types, 0.2f, 0.5f };
static const UnInfo un_hard_swish = { UN_HARD_SWISH, ou_float_types, 0, 0 };
static const UnInfo un_gelu = { UN_GELU, ou_float_types, 0, 0 };
static const UnInfo un_softplus = { UN_SOFTPLUS, ou_float_types, 0, 0 };
static const UnInfo un_sqrt = { UN_SQRT, ou_float_types, 0, 0 };
static const UnInfo un_exp = { UN_EXP, ou_float_types, 0, 0 };
static const UnInfo un_log = { UN_LOG, ou_float_types, 0, 0 };
static const UnInfo un_erf = { UN_ERF, ou_float_types, 0, 0 };
static const UnInfo un_neg = { UN_NEG, ou_signed_types, 0, 0 };
static const UnInfo un_abs = { UN_ABS, ou_numeric_types, 0, 0 };
static const UnInfo un_reciprocal = { UN_RECIPROCAL, ou_float_types, 0, 0 };
static const UnInfo un_floor = { UN_FLOOR, ou_float_types, 0, 0 };
static const UnInfo un_ceil = { UN_CEIL, ou_float_types, 0, 0 };
static const UnInfo un_round = { UN_ROUND, ou_float_types, 0, 0 };
static const UnInfo un_sign = { UN_SIGN, ou_signed_types, 0, 0 };
static const UnInfo un_sin = { UN_SIN, ou_float_types, 0, 0 };
static const UnInfo un_cos = { UN_COS, ou_float_types, 0, 0 };
static const UnInfo un_softsign = { UN_SOFTSIGN, ou_float_types, 0, 0 };
static const UnInfo un_selu = { UN_SELU, ou_float_types, 1.67326319217681884765625f,
                                1.05070102214813232421875f };
static const UnInfo un_celu = { UN_CELU, ou_float_types, 1.0f, 0 };
static const UnInfo un_thresholded_relu = { UN_THRESHOLDED_RELU, ou_float_types, 1.0f, 0 };
static const UnInfo un_mish = { UN_MISH, ou_float_types, 0, 0 };
static const UnInfo un_swish = { UN_SWISH, ou_float_types, 1.0f, 0 };
static const UnInfo un_shrink = { UN_SHRINK, ou_float_types, 0.5f, 0 };
static const UnInfo un_tan = { UN_TAN, ou_float_types, 0, 0 };
static const UnInfo un_asin = { UN_ASIN, ou_float_types, 0, 0 };
static const UnInfo un_acos = { UN_ACOS, ou_float_types, 0, 0 };
static const UnInfo un_atan = { UN_ATAN, ou_float_types, 0, 0 };
static const UnInfo un_sinh = { UN_SINH, ou_float_types, 0, 0 };
static const UnInfo un_cosh = { UN_COSH, ou_float_types, 0, 0 };
static const UnInfo un_asinh = { UN_ASINH, ou_float_types, 0, 0 };
static const UnInfo un_acosh = { UN_ACOSH, ou_float_types, 0, 0 };
static const UnInfo un_atanh = { UN_ATANH, ou_float_types, 0, 0 };

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
    if (un_info(n)->kind == UN_CELU && ir_attr_float(n, "alpha", 1.0f) == 0.0f) {
        diag_error(d, n, "alpha must not be 0");
        return false;
    }
    if (un_info(n)->kind == UN_GELU) {
        const char *approx = ir_attr_string(n, "approximate", "none");
        if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0) {
            diag_error(d, n, "approximate must be \"none\" or \"tanh\", not \"%s\"", approx);
            return false;
        }
    }
    return op_infer_like_input0(g, n, d);
}

static float alpha_of(const Node *n) {
    const char *name = un_info(n)->kind == UN_SHRINK ? "lambd" : "alpha";
    return ir_attr_float(n, name, un_info(n)->alpha_default);
}

static float beta_of(const Node *n) {
    UnKind kind = un_info(n)->kind;
    const char *name = kind == UN_SELU ? "gamma" : kind == UN_SHRINK ? "bias" : "beta";
    return ir_attr_float(n, name, un_info(n)->beta_default);
}

/* Gelu with approximate="tanh". */
static bool gelu_tanh(const Node *n) {
    return strcmp(ir_attr_string(n, "approximate", "none"), "tanh") == 0;
}

/* Float helpers mirrored by the emitted code (see un_expr), so folding gives the same
 * bits as the generated program. */
static float un_gelu_f(float v, bool tanh_approx) {
    if (tanh_approx)
        return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    return 0.5f * v * (1.0f + onnxcc_erff(v * 0.7071067811865476f));
}

static float un_softplus_f(float v) {
    /* log(1 + exp(v)) without overflow for large v */
    return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

/* One element, in float for float/half types: exactly what the emitted loops compute;
 * the float32 activations emitted as onnxcc_f32_act calls are within an ulp or two. */
static double un_eval(UnKind kind, DType t, double v, float alpha, float beta, bool tanh_approx,
                      const ClipBounds *cb) {
    const UnLibm *lm = un_libm_of(kind);
    if (lm) return t == DT_DOUBLE ? lm->fd(v) : (double)lm->ff((float)v);
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
        case UN_HARD_SIGMOID: return fmin(fmax((double)alpha * v + (double)beta, 0.0), 1.0);
        case UN_HARD_SWISH: return v * fmin(fmax(v / 6.0 + 0.5, 0.0), 1.0);
        case UN_GELU:
            if (tanh_approx)
                return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
            return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
        case UN_SOFTPLUS: return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
        case UN_SQRT: return sqrt(v);
        case UN_EXP: return exp(v);
        case UN_LOG: return log(v);
        case UN_ERF: return erf(v);
        case UN_NEG: return -v;
        case UN_ABS: return fabs(v);
        case UN_RECIPROCAL: return 1.0 / v;
        case UN_FLOOR: return floor(v);
        case UN_CEIL: return ceil(v);
        case UN_ROUND: return nearbyint(v);
        case UN_SIGN: return v > 0 ? 1.0 : v < 0 ? -1.0 : v;
        case UN_SIN: return sin(v);
        case UN_COS: return cos(v);
        case UN_SOFTSIGN: return v / (1.0 + fabs(v));
        case UN_SELU:
            return v > 0 ? (double)beta * v : (double)beta * (double)alpha * (exp(v) - 1.0);
        case UN_CELU:
            return fmax(0.0, v) + fmin(0.0, (double)alpha * (exp(v / (double)alpha) - 1.0));
        case UN_THRESHOLDED_RELU: return v > (double)alpha ? v : 0.0;
        case UN_MISH: return v * tanh(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));
        case UN_SWISH: return v / (1.0 + exp(-(double)alpha * v));
        case UN_SHRINK:
            return v < -(double)alpha ? v + (double)beta : v > (double)alpha ? v - (double)beta
                                                                             : 0.0;
        default: return tanh(v);
        }
    }
    float f = (float)v;
    switch (kind) {
    case UN_RELU: return onnxcc_relu(f);
    case UN_LEAKY: return onnxcc_leaky_relu(f, alpha);
    case UN_ELU: return onnxcc_elu(f, alpha);
    case UN_SIGMOID: return onnxcc_sigmoid(f);
    case UN_HARD_SIGMOID: return onnxcc_hard_sigmoid(f, alpha, beta);
    case UN_HARD_SWISH: return onnxcc_hard_swish(f);
    case UN_GELU: return un_gelu_f(f, tanh_approx);
    case UN_SOFTPLUS: return un_softplus_f(f);
    case UN_SQRT: return sqrtf(f);
    case UN_EXP: return expf(f);
    case UN_LOG: return logf(f);
    case UN_ERF: return onnxcc_erff(f);
    case UN_NEG: return -f;
    case UN_ABS: return fabsf(f);
    case UN_RECIPROCAL: return 1.0f / f;
    case UN_FLOOR: return floorf(f);
    case UN_CEIL: return ceilf(f);
    case UN_ROUND: return nearbyintf(f);
    case UN_SIGN: return f > 0.0f ? 1.0f : f < 0.0f ? -1.0f : f;
    case UN_SIN: return sinf(f);
    case UN_COS: return cosf(f);
    case UN_SOFTSIGN: return f / (1.0f + fabsf(f));
    case UN_SELU: return f > 0.0f ? beta * f : beta * (alpha * expf(f) - alpha);
    case UN_CELU: return fmaxf(0.0f, f) + fminf(0.0f, alpha * (expf(f / alpha) - 1.0f));
    case UN_THRESHOLDED_RELU: return f > alpha ? f : 0.0f;
    case UN_MISH: return f * tanhf(un_softplus_f(f));
    case UN_SWISH: return f * onnxcc_sigmoid(alpha * f);
    case UN_SHRINK: return f < -alpha ? f + beta : f > alpha ? f - beta : 0.0f;
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
    float alpha = alpha_of(n), beta = beta_of(n);
    bool tanh_approx = gelu_tanh(n);
    int64_t count = ir_numel(y);
    for (int64_t i = 0; i < count; i++) {
        if (dtype_is_integer(x->dtype) && x->dtype != DT_UINT64) {
            /* exact in int64: Relu, Clip, Neg and Abs are the only integer ops; negation
             * wraps like the emitted code */
            int64_t v = ir_const_get_i64(x, i);
            if (info->kind == UN_RELU && v < 0) v = 0;
            if (info->kind == UN_NEG || (info->kind == UN_ABS && v < 0))
                v = (int64_t)(0u - (uint64_t)v);
            if (info->kind == UN_SIGN) v = (v > 0) - (v < 0);
            if (info->kind == UN_CLIP) {
                if (cb.has_lo && v < (int64_t)cb.lo) v = (int64_t)cb.lo;
                if (cb.has_hi && v > (int64_t)cb.hi) v = (int64_t)cb.hi;
            }
            ir_const_set_i64(y, i, v);
        } else {
            ou_set_f64(y, i, un_eval(info->kind, x->dtype, ou_get_f64(x, i), alpha, beta,
                                     tanh_approx, &cb));
        }
    }
    return true;
}

/* snprintf for expression text: the buffers are sized for the longest expression, and a
 * truncated one would fail to compile rather than misbehave. */
__attribute__((format(printf, 3, 4)))
static void put(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* Writes the C expression of one element `v` into buf. */
static void un_expr(char *buf, size_t size, const Node *n, DType t, const ClipBounds *cb) {
    char a[32], b[32];
    UnKind kind = un_info(n)->kind;
    float alpha = alpha_of(n), beta = beta_of(n);
    bool tanh_approx = gelu_tanh(n);
    const UnLibm *lm = un_libm_of(kind);
    if (lm) {
        put(buf, size, "%s%s(v)", lm->name, t == DT_FLOAT ? "f" : "");
        return;
    }
    if (dtype_is_integer(t) && kind == UN_SIGN) {
        put(buf, size, "(%s)((v > 0) - (v < 0))", dtype_ctype(t));
        return;
    }
    if (dtype_is_integer(t) && (kind == UN_NEG || kind == UN_ABS)) {
        /* in the unsigned type of the same width: -INT_MIN wraps instead of UB */
        const char *U = dtype_size(t) == 8 ? "uint64_t" : "uint32_t";
        if (kind == UN_NEG) put(buf, size, "(%s)(0u - (%s)v)", dtype_ctype(t), U);
        else if (t == DT_UINT8 || t == DT_UINT16 || t == DT_UINT32 || t == DT_UINT64)
            put(buf, size, "v");
        else put(buf, size, "v < 0 ? (%s)(0u - (%s)v) : v", dtype_ctype(t), U);
        return;
    }
    if (kind == UN_CLIP) {
        /* min > max gives max, as the spec says: clamp below first */
        if (cb->has_lo && cb->has_hi)
            put(buf, size, "(v < lo ? lo : v) > hi ? hi : (v < lo ? lo : v)");
        else if (cb->has_lo) put(buf, size, "v < lo ? lo : v");
        else if (cb->has_hi) put(buf, size, "v > hi ? hi : v");
        else put(buf, size, "v");
        return;
    }
    if (t == DT_FLOAT) {
        c_float(a, alpha);
        switch (kind) {
        case UN_RELU: put(buf, size, "onnxcc_relu(v)"); break;
        case UN_LEAKY: put(buf, size, "onnxcc_leaky_relu(v, %s)", a); break;
        case UN_ELU: put(buf, size, "onnxcc_elu(v, %s)", a); break;
        case UN_SIGMOID: put(buf, size, "onnxcc_sigmoid(v)"); break;
        case UN_HARD_SIGMOID:
            put(buf, size, "onnxcc_hard_sigmoid(v, %s, %s)", a, c_float(b, beta));
            break;
        case UN_HARD_SWISH: put(buf, size, "onnxcc_hard_swish(v)"); break;
        case UN_GELU:
            if (tanh_approx)
                put(buf, size, "0.5f * v * (1.0f + tanhf(0.7978845608028654f * "
                         "(v + 0.044715f * v * v * v)))");
            else put(buf, size, "0.5f * v * (1.0f + onnxcc_erff(v * 0.7071067811865476f))");
            break;
        case UN_SOFTPLUS:
            put(buf, size, "v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v))");
            break;
        case UN_SQRT: put(buf, size, "sqrtf(v)"); break;
        case UN_EXP: put(buf, size, "expf(v)"); break;
        case UN_LOG: put(buf, size, "logf(v)"); break;
        case UN_ERF: put(buf, size, "onnxcc_erff(v)"); break;
        case UN_NEG: put(buf, size, "-v"); break;
        case UN_ABS: put(buf, size, "fabsf(v)"); break;
        case UN_RECIPROCAL: put(buf, size, "1.0f / v"); break;
        case UN_FLOOR: put(buf, size, "floorf(v)"); break;
        case UN_CEIL: put(buf, size, "ceilf(v)"); break;
        case UN_ROUND: put(buf, size, "nearbyintf(v)"); break;
        case UN_SIGN: put(buf, size, "v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v"); break;
        case UN_SIN: put(buf, size, "sinf(v)"); break;
        case UN_COS: put(buf, size, "cosf(v)"); break;
        case UN_SOFTSIGN: put(buf, size, "v / (1.0f + fabsf(v))"); break;
        case UN_SELU:
            c_float(b, beta);
            put(buf, size, "v > 0.0f ? %s * v : %s * (%s * expf(v) - %s)", b, b, a, a);
            break;
        case UN_CELU:
            put(buf, size, "fmaxf(0.0f, v) + fminf(0.0f, %s * (expf(v / %s) - 1.0f))", a, a);
            break;
        case UN_THRESHOLDED_RELU: put(buf, size, "v > %s ? v : 0.0f", a); break;
        case UN_MISH:
            put(buf, size, "v * tanhf(v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v)))");
            break;
        /* alpha * v is v itself for the default alpha 1: onnxcc_silu's exact bits */
        case UN_SWISH: put(buf, size, "v * onnxcc_sigmoid(%s * v)", a); break;
        case UN_SHRINK:
            c_float(b, beta);
            put(buf, size, "v < -(%s) ? v + %s : v > %s ? v - %s : 0.0f", a, b, a, b);
            break;
        default: put(buf, size, "onnxcc_tanh(v)"); break;
        }
        return;
    }
    c_double(a, (double)alpha);
    c_double(b, (double)beta);
    switch (kind) {
    case UN_RELU: put(buf, size, "v > 0 ? v : 0"); break;
    case UN_LEAKY: put(buf, size, "v >= 0 ? v : %s * v", a); break;
    case UN_ELU: put(buf, size, "v >= 0 ? v : %s * (exp(v) - 1.0)", a); break;
    case UN_SIGMOID: put(buf, size, "1.0 / (1.0 + exp(-v))"); break;
    case UN_HARD_SIGMOID: put(buf, size, "fmin(fmax(%s * v + %s, 0.0), 1.0)", a, b); break;
    case UN_HARD_SWISH: put(buf, size, "v * fmin(fmax(v / 6.0 + 0.5, 0.0), 1.0)"); break;
    case UN_GELU:
        if (tanh_approx)
            put(buf, size, "0.5 * v * (1.0 + tanh(0.7978845608028654 * "
                     "(v + 0.044715 * v * v * v)))");
        else put(buf, size, "0.5 * v * (1.0 + erf(v * 0.7071067811865476))");
        break;
    case UN_SOFTPLUS: put(buf, size, "v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))"); break;
    case UN_SQRT: put(buf, size, "sqrt(v)"); break;
    case UN_EXP: put(buf, size, "exp(v)"); break;
    case UN_LOG: put(buf, size, "log(v)"); break;
    case UN_ERF: put(buf, size, "erf(v)"); break;
    case UN_NEG: put(buf, size, "-v"); break;
    case UN_ABS: put(buf, size, "fabs(v)"); break;
    case UN_RECIPROCAL: put(buf, size, "1.0 / v"); break;
    case UN_FLOOR: put(buf, size, "floor(v)"); break;
    case UN_CEIL: put(buf, size, "ceil(v)"); break;
    case UN_ROUND: put(buf, size, "nearbyint(v)"); break;
    case UN_SIGN: put(buf, size, "v > 0 ? 1.0 : v < 0 ? -1.0 : v"); break;
    case UN_SIN: put(buf, size, "sin(v)"); break;
    case UN_COS: put(buf, size, "cos(v)"); break;
    case UN_SOFTSIGN: put(buf, size, "v / (1.0 + fabs(v))"); break;
    case UN_SELU: put(buf, size, "v > 0 ? %s * v : %s * %s * (exp(v) - 1.0)", b, b, a); break;
    case UN_CELU:
        put(buf, size, "fmax(0.0, v) + fmin(0.0, %s * (exp(v / %s) - 1.0))", a, a);
        break;
    case UN_THRESHOLDED_RELU: put(buf, size, "v > %s ? v : 0.0", a); break;
    case UN_MISH:
        put(buf, size, "v * tanh(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)))");
        break;
    case UN_SWISH: put(buf, size, "v / (1.0 + exp(-(%s * v)))", a); break;
    case UN_SHRINK:
        put(buf, size, "v < -(%s) ? v + %s : v > %s ? v - %s : 0.0", a, b, a, b);
        break;
    default: put(buf, size, "tanh(v)"); break;
    }
}

/* The ONNXCC_ACT_* code under which onnxcc_f32_act computes float32 node n, and its
 * enumerator's name for the generated C; false for the other ops, and for Swish with an
 * alpha other than 1 (x * sigmoid(alpha x) is not SiLU). */
static bool un_act_code(const Node *n, int *act, const char **name) {
    static const struct { UnKind kind; int act; const char *name; } acts[] = {
        { UN_RELU, ONNXCC_ACT_RELU, "ONNXCC_ACT_RELU" },
        { UN_LEAKY, ONNXCC_ACT_LEAKY_RELU, "ONNXCC_ACT_LEAKY_RELU" },
        { UN_ELU, ONNXCC_ACT_ELU, "ONNXCC_ACT_ELU" },
        { UN_SIGMOID, ONNXCC_ACT_SIGMOID, "ONNXCC_ACT_SIGMOID" },
        { UN_TANH, ONNXCC_ACT_TANH, "ONNXCC_ACT_TANH" },
        { UN_HARD_SIGMOID, ONNXCC_ACT_HARD_SIGMOID, "ONNXCC_ACT_HARD_SIGMOID" },
        { UN_HARD_SWISH, ONNXCC_ACT_HARD_SWISH, "ONNXCC_ACT_HARD_SWISH" },
        { UN_SWISH, ONNXCC_ACT_SILU, "ONNXCC_ACT_SILU" },
    };
    UnKind kind = un_info(n)->kind;
    if (n->inputs[0]->dtype != DT_FLOAT || (kind == UN_SWISH && alpha_of(n) != 1.0f))
        return false;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        if (acts[k].kind != kind) continue;
        *act = acts[k].act;
        *name = acts[k].name;
        return true;
    }
    return false;
}

/* One call of onnxcc_f32_act over the whole tensor.  The output has the input's shape
 * (un_infer) and, as every value the plan places, is contiguous: x0 and y0 are the
 * same buffer when the planner puts the op in place, which the runtime allows. */
static void un_emit_act_call(Emitter *e, const Node *n, int act, const char *name) {
    char sx[128], a[32], b[32];
    bool has_alpha = act == ONNXCC_ACT_LEAKY_RELU || act == ONNXCC_ACT_ELU ||
                     act == ONNXCC_ACT_HARD_SIGMOID;
    c_float(a, has_alpha ? alpha_of(n) : 0.0f);
    c_float(b, act == ONNXCC_ACT_HARD_SIGMOID ? beta_of(n) : 0.0f);
    emit_line(e, "/* %s: %s, in place allowed; a vector at a time (onnxcc_eltwise.h) */",
              n->op_type, ou_shape(sx, sizeof sx, n->inputs[0]));
    emit_line(e, "onnxcc_f32_act(%s, x0, y0, %lld, %s, %s);", name,
              (long long)ir_numel(n->inputs[0]), a, b);
}

static bool un_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    int act;
    const char *act_name;
    if (un_act_code(n, &act, &act_name)) {
        un_emit_act_call(e, n, act, act_name);
        return true;
    }
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

#define UN_OP(var, NAME, INFO, MAXIN) UN_OP_SINCE(var, NAME, INFO, MAXIN, 1)
#define UN_OP_SINCE(var, NAME, INFO, MAXIN, SINCE)                                           \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = SINCE, .min_inputs = 1, .max_inputs = MAXIN,   \
        .min_outputs = 1, .max_outputs = 1, .infer = un_infer, .fold = un_fold,             \
        .emit = un_emit, .memory = OP_MEMORY_INPLACE, .data = &INFO,                        \
    }

UN_OP(op_relu, "Relu", un_relu, 1);
UN_OP(op_leakyrelu, "LeakyRelu", un_leaky, 1);
UN_OP(op_elu, "Elu", un_elu, 1);
UN_OP(op_sigmoid, "Sigmoid", un_sigmoid, 1);
UN_OP(op_tanh, "Tanh", un_tanh, 1);
UN_OP(op_clip, "Clip", un_clip, 3);
UN_OP_SINCE(op_hardsigmoid, "HardSigmoid", un_hard_sigmoid, 1, 6);
UN_OP_SINCE(op_hardswish, "HardSwish", un_hard_swish, 1, 14);
UN_OP_SINCE(op_gelu, "Gelu", un_gelu, 1, 20);
UN_OP(op_softplus, "Softplus", un_softplus, 1);
UN_OP(op_sqrt, "Sqrt", un_sqrt, 1);
UN_OP(op_exp, "Exp", un_exp, 1);
UN_OP(op_log, "Log", un_log, 1);
UN_OP_SINCE(op_erf, "Erf", un_erf, 1, 9);
UN_OP(op_neg, "Neg", un_neg, 1);
UN_OP(op_abs, "Abs", un_abs, 1);
UN_OP(op_reciprocal, "Reciprocal", un_reciprocal, 1);
UN_OP(op_floor, "Floor", un_floor, 1);
UN_OP(op_ceil, "Ceil", un_ceil, 1);
UN_OP(op_round, "Round", un_round, 1);
UN_OP(op_sign, "Sign", un_sign, 1);
UN_OP(op_sin, "Sin", un_sin, 1);
UN_OP(op_cos, "Cos", un_cos, 1);
UN_OP(op_softsign, "Softsign", un_softsign, 1);
UN_OP(op_selu, "Selu", un_selu, 1);
UN_OP_SINCE(op_celu, "Celu", un_celu, 1, 12);
UN_OP(op_thresholdedrelu, "ThresholdedRelu", un_thresholded_relu, 1);
UN_OP_SINCE(op_mish, "Mish", un_mish, 1, 18);
UN_OP_SINCE(op_swish, "Swish", un_swish, 1, 24);
UN_OP_SINCE(op_shrink, "Shrink", un_shrink, 1, 9);
UN_OP_SINCE(op_tan, "Tan", un_tan, 1, 7);
UN_OP_SINCE(op_asin, "Asin", un_asin, 1, 7);
UN_OP_SINCE(op_acos, "Acos", un_acos, 1, 7);
UN_OP_SINCE(op_atan, "Atan", un_atan, 1, 7);
UN_OP_SINCE(op_sinh, "Sinh", un_sinh, 1, 9);
UN_OP_SINCE(op_cosh, "Cosh", un_cosh, 1, 9);
UN_OP_SINCE(op_asinh, "Asinh", un_asinh, 1, 9);
UN_OP_SINCE(op_acosh, "Acosh", un_acosh, 1, 9);
UN_OP_SINCE(op_atanh, "Atanh", un_atanh, 1, 9);
