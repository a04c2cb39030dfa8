/* norm.c: LayerNormalization (opset 17) and RMSNormalization (opset 23).
 *
 * X is seen as `outer` rows of N = product of dims[axis:] elements.  Each row gets its mean
 * and variance (two passes, in float for float inputs as onnxruntime does with
 * stash_type 1), then y = (x - mean) * inv_std * scale + bias.  Scale and B must hold N
 * elements (the normalized shape, leading 1s allowed) or one.  The optional outputs Mean
 * and InvStdDev have X's shape with the normalized dims set to 1.  RMSNormalization is
 * the same without the mean (its "variance" is the mean of the squares), bias and
 * optional outputs: y = x / sqrt(mean(x^2) + epsilon) * scale.  LpNormalization divides
 * by the L1 or L2 norm along one axis (0 where that norm is 0). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

static const DType ln_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

typedef enum NormKind { NORM_LAYER, NORM_RMS } NormKind;
static const NormKind norm_layer = NORM_LAYER, norm_rms = NORM_RMS;

static bool is_rms(const Node *n) { return *(const NormKind *)n->op->data == NORM_RMS; }

/* outer rows and N elements per row. */
static bool ln_geom(const Node *n, int *axis, int64_t *outer, int64_t *count, Diag *d) {
    const Value *x = n->inputs[0];
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", -1), x->rank, false, axis, d)) return false;
    *outer = 1;
    *count = 1;
    for (int k = 0; k < *axis; k++) *outer *= x->dims[k];
    for (int k = *axis; k < x->rank; k++) *count *= x->dims[k];
    return true;
}

static bool ln_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (op_input(n, 2) && !op_require_shape(n, 2, d)) return false;
    if (!ou_check_dtype(n, 0, ln_types, d)) return false;
    const Value *x = n->inputs[0];
    int64_t stash = ir_attr_int(n, "stash_type", 1);
    if (stash != 1 && stash != 11) {
        diag_error(d, n, "stash_type %lld is not supported (float or double only)",
                   (long long)stash);
        return false;
    }
    int axis;
    int64_t outer, count;
    if (!ln_geom(n, &axis, &outer, &count, d)) return false;
    for (int k = 1; k <= 2; k++) {
        const Value *p = op_input(n, k);
        if (!p) continue;
        if (p->dtype != x->dtype) {
            diag_error(d, n, "%s '%s' is %s, X is %s", k == 1 ? "Scale" : "B", p->name,
                       dtype_name(p->dtype), dtype_name(x->dtype));
            return false;
        }
        int64_t c = ir_numel(p);
        if (c != count && c != 1) {
            char sp[128];
            diag_error(d, n, "%s %s must have the %lld elements of the normalized shape",
                       k == 1 ? "Scale" : "B", ou_shape(sp, sizeof sp, p), (long long)count);
            return false;
        }
    }
    ir_value_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) dims[k] = k < axis ? x->dims[k] : 1;
    /* Mean and InvStdDev are in the stash type */
    DType st = stash == 11 ? DT_DOUBLE : DT_FLOAT;
    for (int k = 1; k < n->n_outputs && k < 3; k++)
        if (n->outputs[k]) ir_value_set_shape(n->outputs[k], st, x->rank, dims);
    return true;
}

static bool ln_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *sc = n->inputs[1], *b = op_input(n, 2);
    int axis;
    int64_t outer, count;
    if (!ln_geom(n, &axis, &outer, &count, d)) return false;
    for (int k = 0; k < n->n_outputs && k < 3; k++)
        if (n->outputs[k] && !ir_value_alloc_data(g, n->outputs[k], d)) return false;
    double eps = (double)ir_attr_float(n, "epsilon", 1e-5f);
    bool sc1 = ir_numel(sc) == 1, b1 = b && ir_numel(b) == 1;
    for (int64_t o = 0; o < outer; o++) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < count && !is_rms(n); j++) mean += ou_get_f64(x, o * count + j);
        mean = count ? mean / (double)count : 0;
        for (int64_t j = 0; j < count; j++) {
            double t = ou_get_f64(x, o * count + j) - mean;
            var += t * t;
        }
        var = count ? var / (double)count : 0;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t j = 0; j < count; j++) {
            double r = (ou_get_f64(x, o * count + j) - mean) * inv *
                       ou_get_f64(sc, sc1 ? 0 : j);
            if (b) r += ou_get_f64(b, b1 ? 0 : j);
            ou_set_f64(n->outputs[0], o * count + j, r);
        }
        if (n->n_outputs > 1 && n->outputs[1]) ou_set_f64(n->outputs[1], o, mean);
        if (n->n_outputs > 2 && n->outputs[2]) ou_set_f64(n->outputs[2], o, inv);
    }
    return true;
}

static bool ln_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0], *sc = n->inputs[1], *b = op_input(n, 2);
    int axis;
    int64_t outer, count;
    if (!ln_geom(n, &axis, &outer, &count, d)) return false;
    bool dbl = x->dtype == DT_DOUBLE;
    bool stash_dbl = ir_attr_int(n, "stash_type", 1) == 11;
    const char *T = dbl ? "double" : "float";
    const char *S = stash_dbl ? "double" : "float";   /* statistics */
    char sx[128], lit[40];
    emit_line(e, "/* %s: %s, axis %d, rows of %lld */", n->op_type,
              ou_shape(sx, sizeof sx, x), axis, (long long)count);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)outer);
    emit_line(e, "const %s *xr = x0 + o * %lld;", T, (long long)count);
    emit_line(e, "%s *yr = y0 + o * %lld;", T, (long long)count);
    char load[64];
    if (is_rms(n)) {
        emit_line(e, "const %s mean = 0;   /* RMS: the squares themselves */", S);
    } else {
        emit_line(e, "%s sum = 0;", S);
        snprintf(load, sizeof load, "(%s)xr[j]", S);
        ou_emit_sum_loop(e, S, "sum", count, load, "v");
        emit_line(e, "const %s mean = sum / %s;", S,
                  stash_dbl ? c_double(lit, (double)count) : c_float(lit, (float)count));
    }
    emit_line(e, "%s sq = 0;", S);
    snprintf(load, sizeof load, "(%s)xr[j] - mean", S);
    ou_emit_sum_loop(e, S, "sq", count, load, "v * v");
    float eps = ir_attr_float(n, "epsilon", 1e-5f);
    if (stash_dbl)
        emit_line(e, "const double inv = 1.0 / sqrt(sq / %s + %s);",
                  c_double(lit, (double)count), c_double(sx, (double)eps));
    else
        emit_line(e, "const float inv = 1.0f / sqrtf(sq / %s + %s);",
                  c_float(lit, (float)count), c_float(sx, eps));
    const char *si = ir_numel(sc) == 1 ? "0" : "j";
    const char *bi = b && ir_numel(b) == 1 ? "0" : "j";
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)count);
    if (b) emit_line(e, "yr[j] = (%s)(((%s)xr[j] - mean) * inv) * x1[%s] + x2[%s];", T, S, si,
                     bi);
    else emit_line(e, "yr[j] = (%s)(((%s)xr[j] - mean) * inv) * x1[%s];", T, S, si);
    emit_close(e);
    if (n->n_outputs > 1 && n->outputs[1]) emit_line(e, "y1[o] = mean;");
    if (n->n_outputs > 2 && n->outputs[2]) emit_line(e, "y2[o] = inv;");
    return emit_close(e);
}

const OpDef op_layernormalization = {
    .name = "LayerNormalization", .domain = "", .since = 17, .min_inputs = 2,
    .max_inputs = 3, .min_outputs = 1, .max_outputs = 3, .infer = ln_infer, .fold = ln_fold,
    .emit = ln_emit, .memory = OP_MEMORY_SEPARATE, .data = &norm_layer,
};

const OpDef op_rmsnormalization = {
    .name = "RMSNormalization", .domain = "", .since = 23, .min_inputs = 2,
    .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, .infer = ln_infer, .fold = ln_fold,
    .emit = ln_emit, .memory = OP_MEMORY_SEPARATE, .data = &norm_rms,
};

/* ---- LpNormalization ------------------------------------------------------------------ */

/* x as [outer][len][inner] around the axis; p 1 or 2. */
static bool lp_view(const Node *n, int64_t *outer, int64_t *len, int64_t *inner, int *p,
                    Diag *d) {
    const Value *x = n->inputs[0];
    int axis;
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", -1), x->rank, false, &axis, d)) return false;
    const int64_t pp = ir_attr_int(n, "p", 2);
    if (pp != 1 && pp != 2) {
        diag_error(d, n, "p must be 1 or 2, not %lld", (long long)pp);
        return false;
    }
    *p = (int)pp;
    ou_axis_split(x, axis, outer, len, inner);
    return true;
}

static bool lp_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, ln_types, d)) return false;
    int64_t outer, len, inner;
    int p;
    return lp_view(n, &outer, &len, &inner, &p, d) && op_infer_like_input0(g, n, d);
}

static bool lp_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    int64_t outer, len, inner;
    int p;
    if (!lp_view(n, &outer, &len, &inner, &p, d) || !ir_value_alloc_data(g, y, d)) return false;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double norm = 0;
            for (int64_t a = 0; a < len; a++) {
                const double v = ou_get_f64(x, (o * len + a) * inner + j);
                norm += p == 1 ? fabs(v) : v * v;
            }
            if (p == 2) norm = sqrt(norm);
            for (int64_t a = 0; a < len; a++) {
                const int64_t at = (o * len + a) * inner + j;
                ou_set_f64(y, at, norm == 0 ? 0 : ou_get_f64(x, at) / norm);
            }
        }
    return true;
}

static bool lp_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t outer, len, inner;
    int p;
    if (!lp_view(n, &outer, &len, &inner, &p, d)) return false;
    const bool dbl = x->dtype == DT_DOUBLE;
    const char *T = dbl ? "double" : "float";
    char sx[128];
    emit_line(e, "/* LpNormalization (L%d) along [%lld][%lld][%lld] of %s */", p,
              (long long)outer, (long long)len, (long long)inner, ou_shape(sx, sizeof sx, x));
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)inner);
    emit_line(e, "const %s *xr = x0 + o * %lld + j;   /* element a at xr[a * %lld] */", T,
              (long long)(len * inner), (long long)inner);
    emit_line(e, "%s *yr = y0 + o * %lld + j;", T, (long long)(len * inner));
    emit_line(e, "%s norm = 0;", T);
    if (p == 1)
        emit_line(e, "for (size_t a = 0; a < %lld; a++) norm += %s(xr[a * %lld]);",
                  (long long)len, dbl ? "fabs" : "fabsf", (long long)inner);
    else
        emit_line(e, "for (size_t a = 0; a < %lld; a++) norm += xr[a * %lld] * xr[a * %lld];",
                  (long long)len, (long long)inner, (long long)inner);
    if (p == 2) emit_line(e, "norm = %s(norm);", dbl ? "sqrt" : "sqrtf");
    emit_line(e, "for (size_t a = 0; a < %lld; a++) yr[a * %lld] = norm == 0 ? 0 : "
              "xr[a * %lld] / norm;", (long long)len, (long long)inner, (long long)inner);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_lpnormalization = {
    .name = "LpNormalization", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = lp_infer, .fold = lp_fold, .emit = lp_emit,
    .memory = OP_MEMORY_SEPARATE,
};
