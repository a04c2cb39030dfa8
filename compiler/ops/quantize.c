/* quantize.c: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, the
 * conversions between real numbers and their integer codes q with
 *     real = (q - zero_point) * scale.
 *
 * QuantizeLinear:   y = saturate(round_half_even(x / scale) + zero_point)
 * DequantizeLinear: y = (x - zero_point) * scale
 * The scale and the optional zero point (same shape) apply to the whole tensor (one
 * element), one slice of `axis` each (a 1-D tensor of x's dim; opset 13+) or one block of
 * `block_size` elements along `axis` each (opset 21+; then they have x's rank, x's dims
 * except ceil(dim / block_size) along axis).  Scales and zero points are read at run time,
 * so they need not be constants (DynamicQuantizeLinear's expansion computes them).
 *
 * The arithmetic is float32 whatever the storage type (half scales and inputs are widened),
 * except that x / scale is computed in the `precision` type (opset 23+) when given, else
 * in float16 / bfloat16 when x and scale both have that type (numpy's promotion, which the
 * ONNX reference and its test data follow).  NaN saturates to the type's lowest code: no
 * model data reaches a float-to-integer conversion out of range.
 *
 * The low-precision types (dtype.h: one element per byte) go through onnxcc_lowp.h, shared
 * with folding: int4/uint4/int2/uint2 are integer codes like the others; the float8 types
 * and float4e2m1 take x / scale converted to nearest even (`saturate`, default 1, clamps
 * float8 overflow to +-max; float4e2m1 always saturates).  As in the ONNX reference, the
 * float8 zero point is not applied (the spec requires it to be 0) and float4e2m1's is added
 * before the conversion; when dequantizing, neither subtracts its zero point.
 *
 * DynamicQuantizeLinear (float -> uint8) computes the scale and zero point from the
 * range of x widened to include 0: scale = (max - min) / 255 (1 / 255 for a constant
 * range), zero_point = saturate(round(0 - min / scale)), then quantizes like above.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnxcc_lowp.h"
#include "ops/op_util.h"

/* ---- the quantized types -------------------------------------------------------------- */

/* The codes a quantized integer type holds. */
typedef struct QRange {
    DType t;
    int lo, hi;
} QRange;

static const QRange q_ranges[] = {
    { DT_UINT8, 0, UINT8_MAX },   { DT_INT8, INT8_MIN, INT8_MAX },
    { DT_UINT16, 0, UINT16_MAX }, { DT_INT16, INT16_MIN, INT16_MAX },
};

/* The range of a quantized integer type (int4 and the like included); false for a type
 * that is not one. */
static bool q_range(DType t, QRange *r) {
    if (dtype_is_lowp_int(t)) {
        *r = (QRange){ t, onnxcc_lowp_int_min((int)t), onnxcc_lowp_int_max((int)t) };
        return true;
    }
    for (size_t k = 0; k < sizeof q_ranges / sizeof q_ranges[0]; k++) {
        if (q_ranges[k].t == t) {
            *r = q_ranges[k];
            return true;
        }
    }
    return false;
}

/* The float8 and float4 code types (float8e8m0 is a scale type, not a code). */
static bool q_is_lowp_code(DType t) { return dtype_is_lowp_float(t) && t != DT_FLOAT8E8M0; }

/* Types QuantizeLinear produces and DequantizeLinear reads (that one int32 too). */
static bool q_is_code(DType t) {
    QRange r;
    return q_range(t, &r) || q_is_lowp_code(t);
}
static bool q_dequant_input_ok(DType t) { return q_is_code(t) || t == DT_INT32; }

/* Whether the zero point takes part, quantizing: not for the float8 types; dequantizing:
 * not for float8 nor float4e2m1 (the ONNX reference's rules). */
static bool q_uses_zp(DType code) { return !q_is_lowp_code(code) || code == DT_FLOAT4E2M1; }
static bool dq_uses_zp(DType code) { return !dtype_is_lowp_float(code); }

/* Float types real values may have; scales may also be float8e8m0 (powers of two). */
static bool q_is_real(DType t) { return t == DT_FLOAT || ou_is_half(t); }
static bool q_is_scale(DType t) { return q_is_real(t) || t == DT_FLOAT8E8M0; }

/* Saturates an already-rounded code to [lo, hi]; NaN gives lo. */
static float q_saturate(float q, float lo, float hi) {
    q = q > lo ? q : lo;
    return q < hi ? q : hi;
}

/* ---- where each element finds its scale ------------------------------------------------ */

typedef enum QMode { Q_TENSOR, Q_AXIS, Q_BLOCKED } QMode;

typedef struct QView {
    QMode mode;
    int axis;
    int64_t outer, len, inner;   /* x as [outer][len][inner] around axis */
    int64_t block, nblocks;      /* Q_BLOCKED: block_size and scale's dim along axis */
} QView;

/* The parameter element of x's element (o, a, i). */
static int64_t q_param_index(const QView *v, int64_t o, int64_t a, int64_t i) {
    switch (v->mode) {
    case Q_TENSOR: return 0;
    case Q_AXIS: return a;
    case Q_BLOCKED: return (o * v->nblocks + a / v->block) * v->inner + i;
    }
    return 0;
}

/* The same as a C expression over the loop variables o, j and i (emitted code calls the
 * index along the axis j: the half-type helpers declare their own a and m). */
static void q_param_expr(const QView *v, char *s, size_t size) {
    if (v->mode == Q_TENSOR) snprintf(s, size, "0");
    else if (v->mode == Q_AXIS) snprintf(s, size, "j");
    else
        snprintf(s, size, "(o * %lld + j / %lld) * %lld + i", (long long)v->nblocks,
                 (long long)v->block, (long long)v->inner);
}

/* Checks the blocked layout: scale has x's dims except ceil(dim / block) along axis. */
static bool q_check_blocked(const Node *n, const Value *x, const Value *s, QView *v, Diag *d) {
    char bx[128], bs[128];
    bool ok = s->rank == x->rank;
    for (int k = 0; ok && k < x->rank; k++) {
        /* ceil(dim / block) without overflow */
        int64_t want = k == v->axis ? x->dims[k] / v->block + (x->dims[k] % v->block != 0)
                                    : x->dims[k];
        ok = s->dims[k] == want;
    }
    if (!ok) {
        diag_error(d, n, "blocked quantization (block_size %lld, axis %d) of %s needs a scale "
                   "of x's shape with ceil(dim / block_size) along the axis, got %s",
                   (long long)v->block, v->axis, ou_shape(bx, sizeof bx, x),
                   ou_shape(bs, sizeof bs, s));
        return false;
    }
    v->mode = Q_BLOCKED;
    v->nblocks = s->dims[v->axis];
    return true;
}

/* Reads axis and block_size and classifies the scale (input 1) and zero point (input 2,
 * optional) of a Quantize/DequantizeLinear node against x (input 0). */
static bool q_view(const Node *n, QView *v, Diag *d) {
    const Value *x = n->inputs[0], *s = n->inputs[1], *zp = op_input(n, 2);
    memset(v, 0, sizeof *v);
    v->outer = ir_numel(x), v->len = 1, v->inner = 1;
    const int64_t count = ir_numel(s);
    v->block = n->opset >= 21 ? ir_attr_int(n, "block_size", 0) : 0;
    if (v->block < 0) {
        diag_error(d, n, "block_size %lld must not be negative", (long long)v->block);
        return false;
    }
    if (zp && (ir_numel(zp) != count || (count != 1 && !ir_same_shape(zp, s)))) {
        char bz[128], bs[128];
        diag_error(d, n, "zero point %s and scale %s must have the same shape",
                   ou_shape(bz, sizeof bz, zp), ou_shape(bs, sizeof bs, s));
        return false;
    }
    if (count == 1) {
        v->mode = Q_TENSOR;
        return true;
    }
    if (n->opset < 13) {
        diag_error(d, n, "before opset 13 the scale must hold one value, it has %lld",
                   (long long)count);
        return false;
    }
    const int64_t axis = ir_attr_int(n, "axis", 1);
    if (!ou_axis(n, "axis", axis, x->rank, false, &v->axis, d)) return false;
    ou_axis_split(x, v->axis, &v->outer, &v->len, &v->inner);
    if (v->block > 0) return q_check_blocked(n, x, s, v, d);
    if (s->rank != 1 || s->dims[0] != v->len) {
        char bx[128], bs[128];
        diag_error(d, n, "per-axis scale %s must be 1-D with x's dim %lld along axis %d of %s",
                   ou_shape(bs, sizeof bs, s), (long long)v->len, v->axis,
                   ou_shape(bx, sizeof bx, x));
        return false;
    }
    v->mode = Q_AXIS;
    return true;
}

/* ---- emitted code helpers -------------------------------------------------------------- */

/* Declares `float dst` holding element `src` of dtype t (half bits widened). */
static void q_emit_load(Emitter *e, DType t, const char *dst, const char *src) {
    char buf[128];
    if (ou_is_half(t)) ou_emit_half_load(e, t, dst, src);
    else if (dtype_is_lowp(t))
        emit_line(e, "const float %s = %s;", dst, ou_lowp_load_expr(buf, sizeof buf, t, src));
    else ou_emit_load(e, t, "float", dst, src);
}

/* Opens the loops over x's elements; inside, `at` is the element and `p` its parameter
 * element.  Per-tensor: one flat loop (the parameters were loaded before it). */
static void q_emit_loops_open(Emitter *e, const QView *v, int64_t count) {
    if (v->mode == Q_TENSOR) {
        emit_open(e, "for (size_t at = 0; at < %lld; at++)", (long long)count);
        return;
    }
    char p[128];
    q_param_expr(v, p, sizeof p);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v->outer);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v->len);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)v->inner);
    emit_line(e, "const size_t at = (o * %lld + j) * %lld + i;", (long long)v->len,
              (long long)v->inner);
    emit_line(e, "const size_t p = %s;", p);
}

static bool q_emit_loops_close(Emitter *e, const QView *v) {
    if (v->mode != Q_TENSOR) {
        emit_close(e);
        emit_close(e);
    }
    return emit_close(e);
}

/* Declares `float s` (scale) and, when use_zp, `float zp` (0 without a zero point) from
 * parameter element `p` (an expression). */
static void q_emit_params(Emitter *e, const Node *n, bool use_zp, const char *p) {
    char src[64];
    snprintf(src, sizeof src, "x1[%s]", p);
    q_emit_load(e, n->inputs[1]->dtype, "s", src);
    if (!use_zp) {
        if (op_input(n, 2))
            emit_line(e, "(void)x2;   /* not applied to this code type (ONNX reference) */");
        return;
    }
    snprintf(src, sizeof src, "x2[%s]", p);
    if (op_input(n, 2)) q_emit_load(e, n->inputs[2]->dtype, "zp", src);
    else emit_line(e, "const float zp = 0.0f;   /* no zero point */");
}

/* The zero point of parameter element p as a float, 0 when absent or unused. */
static float q_fold_zp(const Value *zp, bool use_zp, int64_t p) {
    return zp && use_zp ? (float)ou_get_f64(zp, p) : 0.0f;
}

static const char *q_mode_name(const QView *v) {
    switch (v->mode) {
    case Q_TENSOR: return "per tensor";
    case Q_AXIS: return "per axis";
    case Q_BLOCKED: return "blocked";
    }
    return "";
}

/* ---- QuantizeLinear ------------------------------------------------------------------- */

/* The output type: the zero point's, else output_dtype (opset 21+), else uint8. */
static bool quant_out_type(const Node *n, DType *t, Diag *d) {
    const Value *zp = op_input(n, 2);
    const int64_t od = n->opset >= 21 ? ir_attr_int(n, "output_dtype", 0) : 0;
    if (zp && od != 0 && od != (int64_t)zp->dtype) {
        diag_error(d, n, "output_dtype %lld differs from the zero point's type %s",
                   (long long)od, dtype_name(zp->dtype));
        return false;
    }
    *t = zp ? zp->dtype : od != 0 ? (DType)od : DT_UINT8;
    if (!q_is_code(*t)) {
        diag_error(d, n, "quantizing to %s is not supported (8-, 16-, 4- or 2-bit integers, "
                   "float8, float4e2m1)", od != 0 && !zp && !dtype_is_valid((int)od)
                                                ? "an unknown type" : dtype_name(*t));
        return false;
    }
    return true;
}

/* Checks a QuantizeLinear / DequantizeLinear node's scale type and its layout. */
static bool q_check_common(const Node *n, QView *v, Diag *d) {
    for (int i = 0; i < n->n_inputs; i++)
        if (op_input(n, i) && !op_require_shape(n, i, d)) return false;
    const Value *s = n->inputs[1];
    if (!q_is_scale(s->dtype)) {
        diag_error(d, n, "scale '%s' has type %s; float, float16, bfloat16 or float8e8m0 "
                   "are supported", s->name, dtype_name(s->dtype));
        return false;
    }
    if (ir_numel(n->inputs[0]) < 0) {
        diag_error(d, n, "input '%s' is too large", n->inputs[0]->name);
        return false;
    }
    return q_view(n, v, d);
}

/* The type x / scale is computed in: the precision attribute (opset 23+: x and scale are
 * rounded to it first), else numpy's promotion, as the ONNX reference computes: a half
 * type when x and scale both have it, float otherwise. */
static bool quant_div_type(const Node *n, DType *t, Diag *d) {
    const Value *x = n->inputs[0], *s = n->inputs[1];
    const int64_t pr = n->opset >= 23 ? ir_attr_int(n, "precision", 0) : 0;
    if (pr == 0) {
        *t = x->dtype == s->dtype && ou_is_half(x->dtype) ? x->dtype : DT_FLOAT;
        return true;
    }
    if (pr != DT_FLOAT && pr != DT_FLOAT16 && pr != DT_BFLOAT16) {
        diag_error(d, n, "precision %lld is not supported (float, float16 or bfloat16)",
                   (long long)pr);
        return false;
    }
    *t = (DType)pr;
    return true;
}

/* Declares `float dst`: the float variable src rounded to the half type t. */
static void q_emit_round(Emitter *e, DType t, const char *dst, const char *src) {
    emit_line(e, "float %s = %s;", dst, src);
    ou_emit_round(e, t, dst);
}

/* The saturate attribute (opset 19+, default 1): float8 overflow clamps to +-max. */
static bool quant_saturate(const Node *n) {
    return n->opset < 19 || ir_attr_int(n, "saturate", 1) != 0;
}

static bool quant_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    QView v;
    DType t;
    if (!q_check_common(n, &v, d) || !quant_out_type(n, &t, d)) return false;
    DType dt;
    if (!quant_div_type(n, &dt, d)) return false;
    const Value *x = n->inputs[0];
    if (!q_is_real(x->dtype) && x->dtype != DT_INT32) {
        diag_error(d, n, "input '%s' has type %s; float, float16, bfloat16 or int32 are "
                   "supported", x->name, dtype_name(x->dtype));
        return false;
    }
    return ou_set_output(n, n->outputs[0], t, x->rank, x->dims, d);
}

static bool quant_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *s = n->inputs[1], *zp = op_input(n, 2);
    Value *y = n->outputs[0];
    QView v;
    DType dt;
    if (!q_view(n, &v, d) || !quant_div_type(n, &dt, d) || !ir_value_alloc_data(g, y, d))
        return false;
    QRange r;
    const bool integer = q_range(y->dtype, &r), saturate = quant_saturate(n);
    for (int64_t o = 0; o < v.outer; o++) {
        for (int64_t a = 0; a < v.len; a++) {
            for (int64_t i = 0; i < v.inner; i++) {
                const int64_t at = (o * v.len + a) * v.inner + i;
                const int64_t p = q_param_index(&v, o, a, i);
                const float xv = (float)ou_round_to(dt, (float)ou_get_f64(x, at));
                const float sv = (float)ou_round_to(dt, (float)ou_get_f64(s, p));
                float q = (float)ou_round_to(dt, xv / sv);
                if (!integer) {
                    q += q_fold_zp(zp, q_uses_zp(y->dtype), p);
                    ou_lowp_set(y->dtype, y->data, at, q, saturate);
                    continue;
                }
                q = nearbyintf(q) + q_fold_zp(zp, q_uses_zp(y->dtype), p);
                ou_set_f64(y, at, q_saturate(q, (float)r.lo, (float)r.hi));
            }
        }
    }
    return true;
}

static bool quant_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *s = n->inputs[1];
    const Value *y = n->outputs[0];
    QView v;
    DType dt;
    if (!q_view(n, &v, d) || !quant_div_type(n, &dt, d)) return false;
    if (ou_emit_if_empty(e, n)) {
        emit_line(e, "(void)x1;%s", op_input(n, 2) ? " (void)x2;" : "");
        return true;
    }
    QRange r;
    const bool integer = q_range(y->dtype, &r);
    char sx[128], lo[40], hi[40];
    if (integer)
        emit_line(e, "/* QuantizeLinear (%s) of %s to %s: saturate(round(x / scale) + zero "
                  "point), round half to even; NaN gives the lowest code */", q_mode_name(&v),
                  ou_shape(sx, sizeof sx, x), dtype_name(y->dtype));
    else
        emit_line(e, "/* QuantizeLinear (%s) of %s to %s: x / scale%s to nearest even */",
                  q_mode_name(&v), ou_shape(sx, sizeof sx, x), dtype_name(y->dtype),
                  q_uses_zp(y->dtype) ? " + zero point" : "");
    if (v.mode == Q_TENSOR) q_emit_params(e, n, q_uses_zp(y->dtype), "0");
    q_emit_loops_open(e, &v, ir_numel(x));
    if (v.mode != Q_TENSOR) q_emit_params(e, n, q_uses_zp(y->dtype), "p");
    q_emit_load(e, x->dtype, "xv", "x0[at]");
    if (ou_is_half(dt)) {
        /* the division in dt's precision: operands and quotient rounded to it */
        if (x->dtype != dt) q_emit_round(e, dt, "xh", "xv");
        if (s->dtype != dt) q_emit_round(e, dt, "sh", "s");
        emit_line(e, "const float qf = %s / %s;", x->dtype != dt ? "xh" : "xv",
                  s->dtype != dt ? "sh" : "s");
        q_emit_round(e, dt, "q", "qf");
    } else {
        emit_line(e, "float q = xv / s;");
    }
    if (!integer) {
        if (q_uses_zp(y->dtype)) emit_line(e, "q += zp;");
        ou_emit_lowp_store(e, y->dtype, "y0[at]", "q", quant_saturate(n));
        return q_emit_loops_close(e, &v);
    }
    c_float(lo, (float)r.lo);
    c_float(hi, (float)r.hi);
    emit_line(e, "q = nearbyintf(q) + zp;");
    emit_line(e, "q = q > %s ? q : %s;", lo, lo);
    emit_line(e, "y0[at] = (%s)(q < %s ? q : %s);", dtype_ctype(y->dtype), hi, hi);
    return q_emit_loops_close(e, &v);
}

const OpDef op_quantizelinear = {
    .name = "QuantizeLinear", .domain = "", .since = 10, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = quant_infer, .fold = quant_fold,
    .emit = quant_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- DequantizeLinear ----------------------------------------------------------------- */

/* The output type: output_dtype (opset 23+), else the scale's. */
static bool dequant_out_type(const Node *n, DType *t, Diag *d) {
    const int64_t od = n->opset >= 23 ? ir_attr_int(n, "output_dtype", 0) : 0;
    *t = od != 0 ? (DType)od : n->inputs[1]->dtype;
    if (!q_is_real(*t)) {
        diag_error(d, n, "the output type %s (output_dtype, else the scale's) must be float, "
                   "float16 or bfloat16", dtype_name(*t));
        return false;
    }
    return true;
}

static bool dequant_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    QView v;
    DType t;
    if (!q_check_common(n, &v, d) || !dequant_out_type(n, &t, d)) return false;
    const Value *x = n->inputs[0], *zp = op_input(n, 2);
    if (!q_dequant_input_ok(x->dtype)) {
        diag_error(d, n, "dequantizing %s is not supported (8-, 16-, 32-, 4- or 2-bit "
                   "integers, float8, float4e2m1)", dtype_name(x->dtype));
        return false;
    }
    if (zp && zp->dtype != x->dtype && dq_uses_zp(x->dtype)) {
        diag_error(d, n, "zero point '%s' is %s, x is %s: they must match", zp->name,
                   dtype_name(zp->dtype), dtype_name(x->dtype));
        return false;
    }
    return ou_set_output(n, n->outputs[0], t, x->rank, x->dims, d);
}

static bool dequant_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *s = n->inputs[1], *zp = op_input(n, 2);
    Value *y = n->outputs[0];
    QView v;
    if (!q_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    for (int64_t o = 0; o < v.outer; o++) {
        for (int64_t a = 0; a < v.len; a++) {
            for (int64_t i = 0; i < v.inner; i++) {
                const int64_t at = (o * v.len + a) * v.inner + i;
                const int64_t p = q_param_index(&v, o, a, i);
                const float zf = q_fold_zp(zp, dq_uses_zp(x->dtype), p);
                const float r = ((float)ou_get_f64(x, at) - zf) * (float)ou_get_f64(s, p);
                ou_set_f64(y, at, r);
            }
        }
    }
    return true;
}

static bool dequant_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    QView v;
    if (!q_view(n, &v, d)) return false;
    if (ou_emit_if_empty(e, n)) {
        emit_line(e, "(void)x1;%s", op_input(n, 2) ? " (void)x2;" : "");
        return true;
    }
    char sx[128];
    emit_line(e, "/* DequantizeLinear (%s) of %s to %s: (x - zero point) * scale */",
              q_mode_name(&v), ou_shape(sx, sizeof sx, x), dtype_name(y->dtype));
    const bool use_zp = dq_uses_zp(x->dtype);
    if (v.mode == Q_TENSOR) q_emit_params(e, n, use_zp, "0");
    q_emit_loops_open(e, &v, ir_numel(x));
    if (v.mode != Q_TENSOR) q_emit_params(e, n, use_zp, "p");
    q_emit_load(e, x->dtype, "xv", "x0[at]");
    const char *diff = use_zp ? "xv - zp" : "xv";
    if (ou_is_half(y->dtype)) {
        emit_line(e, "const float r = (%s) * s;", diff);
        ou_emit_half_store(e, y->dtype, "y0[at]", "r");
    } else {
        emit_line(e, "y0[at] = (%s) * s;", diff);
    }
    return q_emit_loops_close(e, &v);
}

const OpDef op_dequantizelinear = {
    .name = "DequantizeLinear", .domain = "", .since = 10, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = dequant_infer, .fold = dequant_fold,
    .emit = dequant_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- DynamicQuantizeLinear ------------------------------------------------------------ */

/* uint8's range, the only output type of DynamicQuantizeLinear. */
#define DQ_QMAX 255.0f

static bool dynq_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->dtype != DT_FLOAT) {
        diag_error(d, n, "input '%s' has type %s; DynamicQuantizeLinear takes float", x->name,
                   dtype_name(x->dtype));
        return false;
    }
    if (ir_numel(x) < 0) {
        diag_error(d, n, "input '%s' is too large", x->name);
        return false;
    }
    if (!ou_set_output(n, n->outputs[0], DT_UINT8, x->rank, x->dims, d)) return false;
    if (n->n_outputs > 1 && n->outputs[1]) ir_value_set_shape(n->outputs[1], DT_FLOAT, 0, NULL);
    if (n->n_outputs > 2 && n->outputs[2]) ir_value_set_shape(n->outputs[2], DT_UINT8, 0, NULL);
    return true;
}

static bool dynq_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] && !ir_value_alloc_data(g, n->outputs[k], d)) return false;
    const int64_t count = ir_numel(x);
    const float *xs = x->data;
    float mn = 0.0f, mx = 0.0f;   /* the range always includes 0 */
    for (int64_t i = 0; i < count; i++) {
        mn = xs[i] < mn ? xs[i] : mn;
        mx = xs[i] > mx ? xs[i] : mx;
    }
    const float scale = (mx == mn ? 1.0f : mx - mn) / DQ_QMAX;
    const float zp = nearbyintf(q_saturate(0.0f - mn / scale, 0.0f, DQ_QMAX));
    uint8_t *ys = n->outputs[0]->data;
    for (int64_t i = 0; i < count; i++)
        ys[i] = (uint8_t)q_saturate(nearbyintf(xs[i] / scale) + zp, 0.0f, DQ_QMAX);
    if (n->n_outputs > 1 && n->outputs[1]) *(float *)n->outputs[1]->data = scale;
    if (n->n_outputs > 2 && n->outputs[2]) *(uint8_t *)n->outputs[2]->data = (uint8_t)zp;
    return true;
}

static bool dynq_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    const Value *x = n->inputs[0];
    const int64_t count = ir_numel(x);
    char sx[128];
    emit_line(e, "/* DynamicQuantizeLinear of %s to uint8: scale and zero point from the "
              "range of x widened to include 0 */", ou_shape(sx, sizeof sx, x));
    emit_line(e, "float mn = 0.0f, mx = 0.0f;");
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)count);
    emit_line(e, "mn = x0[i] < mn ? x0[i] : mn;");
    emit_line(e, "mx = x0[i] > mx ? x0[i] : mx;");
    emit_close(e);
    char qmax[40];
    c_float(qmax, DQ_QMAX);
    emit_line(e, "const float scale = (mx == mn ? 1.0f : mx - mn) / %s;", qmax);
    emit_line(e, "float zp = 0.0f - mn / scale;");
    emit_line(e, "zp = zp > 0.0f ? zp : 0.0f;   /* NaN gives 0 */");
    emit_line(e, "zp = nearbyintf(zp < %s ? zp : %s);", qmax, qmax);
    if (n->n_outputs > 1 && n->outputs[1]) emit_line(e, "y1[0] = scale;");
    if (n->n_outputs > 2 && n->outputs[2]) emit_line(e, "y2[0] = (uint8_t)zp;");
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)count);
    emit_line(e, "float q = nearbyintf(x0[i] / scale) + zp;");
    emit_line(e, "q = q > 0.0f ? q : 0.0f;");
    emit_line(e, "y0[i] = (uint8_t)(q < %s ? q : %s);", qmax, qmax);
    return emit_close(e);
}

const OpDef op_dynamicquantizelinear = {
    .name = "DynamicQuantizeLinear", .domain = "", .since = 11, .min_inputs = 1,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 3, .infer = dynq_infer,
    .fold = dynq_fold, .emit = dynq_emit, .memory = OP_MEMORY_SEPARATE,
};
