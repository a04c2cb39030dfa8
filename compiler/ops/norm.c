/* norm.c: the normalisations: LayerNormalization (opset 17), RMSNormalization (opset 23),
 * LpNormalization, InstanceNormalization, GroupNormalization, MeanVarianceNormalization
 * and LRN.
 *
 * X is seen as `outer` rows of N = product of dims[axis:] elements.  Each row gets its mean
 * and variance (two passes, in float for float inputs as onnxruntime does with
 * stash_type 1), then y = (x - mean) * inv_std * scale + bias.  Scale and B must hold N
 * elements (the normalized shape, leading 1s allowed) or one.  The optional outputs Mean
 * and InvStdDev have X's shape with the normalized dims set to 1.  RMSNormalization is
 * the same without the mean (its "variance" is the mean of the squares), bias and
 * optional outputs: y = x / sqrt(mean(x^2) + epsilon) * scale.  LpNormalization divides
 * by the L1 or L2 norm along one axis (0 where that norm is 0).  Instance, Group and
 * MeanVariance normalisation share one engine over "rows" of X (see RowView below); LRN
 * divides by a power of the sum of squares over neighbouring channels. */
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

/* ---- InstanceNormalization, GroupNormalization, MeanVarianceNormalization -------------- */

/* The three normalise independent "rows" of X: a row is the set of elements that share
 * their statistics (an (image, channel) plane, an (image, group) block, or for MVN the
 * elements that agree on every axis not in `axes`).  A row's elements need not be
 * contiguous (MVN), so element j of row o is at kept_offset(o) + reduced_offset(j), each
 * a mixed-radix expansion over its own dims and strides (a plain o * count + j for the
 * contiguous ops).  The scale/bias of an element comes from its row (InstanceNorm,
 * GroupNorm before opset 21), from its channel within the row (GroupNorm 21), or there is
 * none (MVN). */

typedef enum RowScale {
    ROW_SCALE_NONE,           /* MVN */
    ROW_SCALE_PER_ROW,        /* index = row % scale_mod */
    ROW_SCALE_PER_CHANNEL,    /* index = (row % groups) * group_ch + j / spatial */
} RowScale;

typedef struct RowView {
    int64_t rows, count;
    int kr, rr;                                   /* kept / reduced dims (size-1 dropped) */
    int64_t kdims[IR_MAX_RANK], kstr[IR_MAX_RANK];
    int64_t rdims[IR_MAX_RANK], rstr[IR_MAX_RANK];
    RowScale scale;
    int64_t scale_mod, groups, group_ch, spatial;
    bool std_plus_eps;        /* MVN: (x - mean) / (sqrt(var) + eps) */
    double eps;
} RowView;

enum { MVN_EPSILON_DIVISOR = 9 };   /* MVN adds 1e-9 to the standard deviation */

/* A contiguous view: rows of `count` elements one after the other. */
static void rv_contiguous(RowView *v, int64_t rows, int64_t count) {
    v->rows = rows;
    v->count = count;
    v->kr = v->rr = 1;
    v->kdims[0] = rows, v->kstr[0] = count;
    v->rdims[0] = count, v->rstr[0] = 1;
}

/* Offset of flat index `at` over nd mixed-radix dims with strides (folding). */
static int64_t rv_offset(int64_t at, int nd, const int64_t *dims, const int64_t *str) {
    int64_t off = 0;
    for (int k = nd - 1; k >= 0; k--) {
        off += at % dims[k] * str[k];
        at /= dims[k];
    }
    return off;
}

/* The same as a C expression over variable var (emitting), e.g. "j % 3 + j / 3 * 9". */
static void rv_expr(char *s, size_t size, const char *var, int nd, const int64_t *dims,
                    const int64_t *str) {
    size_t at = 0;
    int64_t inner = 1;
    snprintf(s, size, "0");
    for (int k = nd - 1; k >= 0 && at < size; k--) {
        char digit[96], term[128];
        if (inner == 1) snprintf(digit, sizeof digit, "%s", var);
        else snprintf(digit, sizeof digit, "%s / %lld", var, (long long)inner);
        if (k > 0) {   /* not the outermost dim: wrap around */
            const size_t len = strlen(digit);
            snprintf(digit + len, sizeof digit - len, " %% %lld", (long long)dims[k]);
        }
        if (str[k] == 1) snprintf(term, sizeof term, "%s", digit);
        else if (k > 0) snprintf(term, sizeof term, "(%s) * %lld", digit, (long long)str[k]);
        else snprintf(term, sizeof term, "%s * %lld", digit, (long long)str[k]);
        at += (size_t)snprintf(s + at, size - at, "%s%s", at ? " + " : "", term);
        inner *= dims[k];
    }
}

static const DType rv_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

/* Scale and bias (inputs 1, 2): X's dtype and `want` elements. */
static bool rv_check_params(const Node *n, int64_t want, const char *what, Diag *d) {
    const Value *x = n->inputs[0];
    for (int k = 1; k <= 2; k++) {
        if (!op_require_shape(n, k, d)) return false;
        const Value *p = n->inputs[k];
        if (p->dtype != x->dtype) {
            diag_error(d, n, "%s '%s' is %s, X is %s", k == 1 ? "scale" : "B", p->name,
                       dtype_name(p->dtype), dtype_name(x->dtype));
            return false;
        }
        if (p->rank != 1 || p->dims[0] != want) {
            char sp[128];
            diag_error(d, n, "%s %s must hold %lld values (%s)", k == 1 ? "scale" : "B",
                       ou_shape(sp, sizeof sp, p), (long long)want, what);
            return false;
        }
    }
    return true;
}

/* X: float or double with rank >= min_rank and a known shape. */
static bool rv_check_x(const Node *n, int min_rank, Diag *d) {
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, rv_types, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < min_rank) {
        diag_error(d, n, "X has rank %d, %s needs %d or more", x->rank, n->op_type, min_rank);
        return false;
    }
    /* every product of dims below must fit, even when a 0 dim makes X empty */
    int64_t all = 1;
    for (int k = 0; k < x->rank; k++) {
        if (!i64_mul(all, x->dims[k] > 1 ? x->dims[k] : 1, &all)) {
            diag_error(d, n, "the dims of X are too large");
            return false;
        }
    }
    return true;
}

static int64_t spatial_of(const Value *x) {
    int64_t s = 1;
    for (int k = 2; k < x->rank; k++) s *= x->dims[k];
    return s;
}

static bool instnorm_view(const Node *n, RowView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    if (!rv_check_x(n, 3, d)) return false;
    const Value *x = n->inputs[0];
    if (!rv_check_params(n, x->dims[1], "one per channel", d)) return false;
    rv_contiguous(v, x->dims[0] * x->dims[1], spatial_of(x));
    v->scale = ROW_SCALE_PER_ROW;
    v->scale_mod = x->dims[1];
    v->eps = ir_attr_float(n, "epsilon", 1e-5f);
    return true;
}

/* Opset 18 has one scale per group, opset 21 one per channel. */
static bool groupnorm_view(const Node *n, RowView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    if (!rv_check_x(n, 2, d)) return false;
    const Value *x = n->inputs[0];
    const int64_t groups = ir_attr_int(n, "num_groups", 0), ch = x->dims[1];
    if (!ir_attr(n, "num_groups") || groups < 1 || ch % groups != 0) {
        diag_error(d, n, "num_groups (%lld) must be given and divide the %lld channels",
                   (long long)groups, (long long)ch);
        return false;
    }
    if (ir_attr_int(n, "stash_type", 1) != 1) {
        diag_error(d, n, "stash_type %lld is not supported (only 1, float)",
                   (long long)ir_attr_int(n, "stash_type", 1));
        return false;
    }
    const bool per_channel = n->opset >= 21;
    const char *why = per_channel ? "one per channel since opset 21"
                                  : "one per group before opset 21";
    if (!rv_check_params(n, per_channel ? ch : groups, why, d))
        return false;
    const int64_t spatial = spatial_of(x);
    rv_contiguous(v, x->dims[0] * groups, ch / groups * spatial);
    v->scale = per_channel ? ROW_SCALE_PER_CHANNEL : ROW_SCALE_PER_ROW;
    v->scale_mod = groups;
    v->groups = groups;
    v->group_ch = ch / groups;
    v->spatial = spatial;
    v->eps = ir_attr_float(n, "epsilon", 1e-5f);
    return true;
}

/* MVN: kept dims are those not in `axes` (default 0, 2, 3). */
static bool mvn_view(const Node *n, RowView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    if (!rv_check_x(n, 1, d)) return false;
    const Value *x = n->inputs[0];
    static const int64_t default_axes[] = { 0, 2, 3 };
    const int64_t *axes = default_axes;
    size_t n_axes = ir_attr_ints(n, "axes", &axes);
    if (!ir_attr(n, "axes")) axes = default_axes, n_axes = 3;
    bool reduced[IR_MAX_RANK] = { false };
    for (size_t k = 0; k < n_axes; k++) {
        int a;
        if (!ou_axis(n, "axes", axes[k], x->rank, false, &a, d)) return false;
        if (reduced[a]) {
            diag_error(d, n, "axis %lld is listed twice in axes", (long long)axes[k]);
            return false;
        }
        reduced[a] = true;
    }
    int64_t stride = 1;
    v->rows = v->count = 1;
    int64_t kd[IR_MAX_RANK], ks[IR_MAX_RANK], rd[IR_MAX_RANK], rs[IR_MAX_RANK];
    int nk = 0, nr = 0;
    for (int k = x->rank - 1; k >= 0; k--) {
        const int64_t dim = x->dims[k];
        if (dim != 1 && reduced[k]) rd[nr] = dim, rs[nr++] = stride;
        if (dim != 1 && !reduced[k]) kd[nk] = dim, ks[nk++] = stride;
        if (reduced[k]) v->count *= dim;
        else v->rows *= dim;
        stride *= dim;
    }
    /* reverse into outermost-first order */
    v->kr = nk, v->rr = nr;
    for (int k = 0; k < nk; k++) v->kdims[k] = kd[nk - 1 - k], v->kstr[k] = ks[nk - 1 - k];
    for (int k = 0; k < nr; k++) v->rdims[k] = rd[nr - 1 - k], v->rstr[k] = rs[nr - 1 - k];
    v->scale = ROW_SCALE_NONE;
    v->std_plus_eps = true;
    v->eps = pow(10, -MVN_EPSILON_DIVISOR);
    return true;
}

typedef bool (*RowViewFn)(const Node *n, RowView *v, Diag *d);

static RowViewFn rv_view_fn(const Node *n) { return *(const RowViewFn *)n->op->data; }

static bool rv_infer(Graph *g, Node *n, Diag *d) {
    RowView v;
    return rv_view_fn(n)(n, &v, d) && op_infer_like_input0(g, n, d);
}

/* Index into scale/bias of element j of row o. */
static int64_t rv_param_index(const RowView *v, int64_t o, int64_t j) {
    if (v->scale == ROW_SCALE_PER_ROW) return o % v->scale_mod;
    return o % v->groups * v->group_ch + j / v->spatial;
}

static bool rv_fold(Graph *g, Node *n, Diag *d) {
    RowView v;
    if (!rv_view_fn(n)(n, &v, d) || !ir_value_alloc_data(g, n->outputs[0], d)) return false;
    const Value *x = n->inputs[0];
    if (ir_numel(x) == 0) return true;
    for (int64_t o = 0; o < v.rows; o++) {
        const int64_t base = rv_offset(o, v.kr, v.kdims, v.kstr);
        double mean = 0, var = 0;
        for (int64_t j = 0; j < v.count; j++)
            mean += ou_get_f64(x, base + rv_offset(j, v.rr, v.rdims, v.rstr));
        mean /= (double)v.count;
        for (int64_t j = 0; j < v.count; j++) {
            const double t = ou_get_f64(x, base + rv_offset(j, v.rr, v.rdims, v.rstr)) - mean;
            var += t * t;
        }
        var /= (double)v.count;
        const double inv = v.std_plus_eps ? 1 / (sqrt(var) + v.eps) : 1 / sqrt(var + v.eps);
        for (int64_t j = 0; j < v.count; j++) {
            const int64_t at = base + rv_offset(j, v.rr, v.rdims, v.rstr);
            double y = (ou_get_f64(x, at) - mean) * inv;
            if (v.scale != ROW_SCALE_NONE) {
                const int64_t p = rv_param_index(&v, o, j);
                y = y * ou_get_f64(n->inputs[1], p) + ou_get_f64(n->inputs[2], p);
            }
            ou_set_f64(n->outputs[0], at, y);
        }
    }
    return true;
}

static bool rv_emit(Emitter *e, const Node *n, Diag *d) {
    RowView v;
    if (!rv_view_fn(n)(n, &v, d)) return false;
    const Value *x = n->inputs[0];
    const bool dbl = x->dtype == DT_DOUBLE;
    const char *T = dbl ? "double" : "float";
    char sx[128], kexpr[1024], rexpr[1024], load[1100], lit[40], eps[40];
    emit_line(e, "/* %s of %s: %lld rows of %lld elements, each (x - mean) / std */",
              n->op_type, ou_shape(sx, sizeof sx, x), (long long)v.rows, (long long)v.count);
    rv_expr(kexpr, sizeof kexpr, "o", v.kr, v.kdims, v.kstr);
    rv_expr(rexpr, sizeof rexpr, "j", v.rr, v.rdims, v.rstr);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.rows);
    emit_line(e, "const %s *xr = x0 + %s;", T, kexpr);
    emit_line(e, "%s *yr = y0 + %s;", T, kexpr);
    emit_line(e, "%s sum = 0;", T);
    snprintf(load, sizeof load, "xr[%s]", rexpr);
    ou_emit_sum_loop(e, T, "sum", v.count, load, "v");
    const char *cnt = dbl ? c_double(lit, (double)v.count) : c_float(lit, (float)v.count);
    emit_line(e, "const %s mean = sum / %s;", T, cnt);
    emit_line(e, "%s sq = 0;", T);
    snprintf(load, sizeof load, "xr[%s] - mean", rexpr);
    ou_emit_sum_loop(e, T, "sq", v.count, load, "v * v");
    if (dbl) c_double(eps, v.eps);
    else c_float(eps, (float)v.eps);
    if (v.std_plus_eps)
        emit_line(e, "const %s inv = 1 / (sqrt%s(sq / %s) + %s);", T, dbl ? "" : "f", cnt, eps);
    else
        emit_line(e, "const %s inv = 1 / sqrt%s(sq / %s + %s);", T, dbl ? "" : "f", cnt, eps);
    if (v.scale == ROW_SCALE_PER_ROW) {
        emit_line(e, "const %s s = x1[o %% %lld], b = x2[o %% %lld];", T,
                  (long long)v.scale_mod, (long long)v.scale_mod);
    }
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v.count);
    if (v.scale == ROW_SCALE_PER_CHANNEL) {
        emit_line(e, "const size_t ch = o %% %lld * %lld + j / %lld;   /* channel */",
                  (long long)v.groups, (long long)v.group_ch, (long long)v.spatial);
        emit_line(e, "const %s s = x1[ch], b = x2[ch];", T);
    }
    if (v.scale == ROW_SCALE_NONE) emit_line(e, "yr[%s] = (xr[%s] - mean) * inv;", rexpr, rexpr);
    else emit_line(e, "yr[%s] = (xr[%s] - mean) * inv * s + b;", rexpr, rexpr);
    emit_close(e);
    return emit_close(e);
}

static const RowViewFn view_instnorm = instnorm_view, view_groupnorm = groupnorm_view,
                       view_mvn = mvn_view;

const OpDef op_instancenormalization = {
    .name = "InstanceNormalization", .domain = "", .since = 6, .min_inputs = 3,
    .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .infer = rv_infer, .fold = rv_fold,
    .emit = rv_emit, .memory = OP_MEMORY_SEPARATE, .data = &view_instnorm,
};

const OpDef op_groupnormalization = {
    .name = "GroupNormalization", .domain = "", .since = 18, .min_inputs = 3,
    .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .infer = rv_infer, .fold = rv_fold,
    .emit = rv_emit, .memory = OP_MEMORY_SEPARATE, .data = &view_groupnorm,
};

const OpDef op_meanvariancenormalization = {
    .name = "MeanVarianceNormalization", .domain = "", .since = 9, .min_inputs = 1,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .infer = rv_infer, .fold = rv_fold,
    .emit = rv_emit, .memory = OP_MEMORY_SEPARATE, .data = &view_mvn,
};

/* ---- LRN ------------------------------------------------------------------------------ */

/* y = x / (bias + alpha / size * sum of x^2 over the channels [c - lo, c + hi])^beta with
 * lo = floor((size - 1) / 2), hi = ceil((size - 1) / 2), clamped to [0, C - 1]. */
typedef struct LrnParams {
    int64_t size, lo, hi;
    float alpha, beta, bias;
    int64_t batch, ch, spatial;
} LrnParams;

static bool lrn_params(const Node *n, LrnParams *p, Diag *d) {
    if (!rv_check_x(n, 3, d)) return false;
    const Value *x = n->inputs[0];
    p->size = ir_attr_int(n, "size", 0);
    if (p->size < 1) {
        diag_error(d, n, "size must be given and positive, not %lld", (long long)p->size);
        return false;
    }
    p->lo = (p->size - 1) / 2;
    p->hi = p->size / 2;
    p->alpha = ir_attr_float(n, "alpha", 1e-4f);
    p->beta = ir_attr_float(n, "beta", 0.75f);
    p->bias = ir_attr_float(n, "bias", 1.0f);
    p->batch = x->dims[0];
    p->ch = x->dims[1];
    p->spatial = spatial_of(x);
    return true;
}

static bool lrn_infer(Graph *g, Node *n, Diag *d) {
    LrnParams p;
    return lrn_params(n, &p, d) && op_infer_like_input0(g, n, d);
}

static bool lrn_fold(Graph *g, Node *n, Diag *d) {
    LrnParams p;
    if (!lrn_params(n, &p, d) || !ir_value_alloc_data(g, n->outputs[0], d)) return false;
    const Value *x = n->inputs[0];
    if (ir_numel(x) == 0) return true;
    for (int64_t b = 0; b < p.batch; b++)
        for (int64_t c = 0; c < p.ch; c++)
            for (int64_t s = 0; s < p.spatial; s++) {
                double sum = 0;
                const int64_t lo = c - p.lo < 0 ? 0 : c - p.lo;
                const int64_t hi = c + p.hi >= p.ch ? p.ch - 1 : c + p.hi;
                for (int64_t k = lo; k <= hi; k++) {
                    const double v = ou_get_f64(x, (b * p.ch + k) * p.spatial + s);
                    sum += v * v;
                }
                const int64_t at = (b * p.ch + c) * p.spatial + s;
                const double den = pow((double)p.bias + (double)p.alpha / (double)p.size * sum,
                                       (double)p.beta);
                ou_set_f64(n->outputs[0], at, ou_get_f64(x, at) / den);
            }
    return true;
}

static bool lrn_emit(Emitter *e, const Node *n, Diag *d) {
    LrnParams p;
    if (!lrn_params(n, &p, d)) return false;
    const bool dbl = n->inputs[0]->dtype == DT_DOUBLE;
    const char *T = dbl ? "double" : "float", *f = dbl ? "" : "f";
    char sx[128], a[40], b[40], bias[40];
    emit_line(e, "/* LRN of %s over %lld channels: window [c - %lld, c + %lld] */",
              ou_shape(sx, sizeof sx, n->inputs[0]), (long long)p.size, (long long)p.lo,
              (long long)p.hi);
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)p.batch);
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)p.ch);
    if (p.lo > 0) emit_line(e, "const size_t lo = c >= %lld ? c - %lld : 0;", (long long)p.lo,
                            (long long)p.lo);
    else emit_line(e, "const size_t lo = c;");
    emit_line(e, "const size_t hi = c + %lld < %lld ? c + %lld : %lld;   /* inclusive */",
              (long long)p.hi, (long long)p.ch, (long long)p.hi, (long long)(p.ch - 1));
    emit_open(e, "for (size_t s = 0; s < %lld; s++)", (long long)p.spatial);
    emit_line(e, "%s sum = 0;", T);
    emit_open(e, "for (size_t k = lo; k <= hi; k++)");
    emit_line(e, "const %s v = x0[(n * %lld + k) * %lld + s];", T, (long long)p.ch,
              (long long)p.spatial);
    emit_line(e, "sum += v * v;");
    emit_close(e);
    emit_line(e, "const size_t at = (n * %lld + c) * %lld + s;", (long long)p.ch,
              (long long)p.spatial);
    if (dbl) {
        c_double(a, (double)p.alpha / (double)p.size);
        c_double(b, (double)p.beta);
        c_double(bias, (double)p.bias);
    } else {
        c_float(a, p.alpha / (float)p.size);
        c_float(b, p.beta);
        c_float(bias, p.bias);
    }
    emit_line(e, "y0[at] = x0[at] / pow%s(%s + %s * sum, %s);", f, bias, a, b);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_lrn = {
    .name = "LRN", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = lrn_infer, .fold = lrn_fold, .emit = lrn_emit,
    .memory = OP_MEMORY_SEPARATE,
};
