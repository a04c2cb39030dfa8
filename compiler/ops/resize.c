/* resize.c: Resize (opsets 10 to 19) and the deprecated Upsample (opsets 7 and 9), which
 * is Resize with the asymmetric coordinate mapping.
 *
 * Every output element is a weighted sum of input elements, and the weights are separable:
 * along each resized axis, output position j reads `taps` input positions with their
 * weights, which depend only on j.  Those per-axis tables (input offsets, weights, and for
 * tf_crop_and_resize whether j falls outside the input) are computed once at compile time
 * from the attributes and the constant scales / sizes / roi, with the ONNX reference's
 * arithmetic (double precision), and then:
 *   - fold evaluates the sum over the product of the axes' taps,
 *   - emit writes the tables as static const arrays and a loop nest over the output that
 *     sums over the taps (nearest: one tap, a plain copy).
 * When only the last two axes are resized (images: NCHW) and nothing is extrapolated, the
 * emitted code is separable instead, with contiguous inner loops the C compiler
 * vectorises (the summation order changes, within float rounding):
 *   - linear and cubic (float, double) resize each input row of a plane horizontally into
 *     scratch (tables [tap][output column]), then combine those rows vertically (a
 *     weighted sum of whole rows per output row);
 *   - nearest copies whole rows, gathered through a column table or memcpy'd, and repeats
 *     the previous output row when two output rows read the same input row;
 *   - along the columns, a whole enlargement factor r (x2 in U-Nets) makes the tables
 *     periodic away from the clamped edges: that interior is written phase by phase with
 *     constant weights and contiguous loads (no gather), the edges use the tables.
 * Other axes, types and tf_crop_and_resize with extrapolation keep the general loop nest.
 * Supported: modes nearest (round_prefer_floor / round_prefer_ceil / floor / ceil), linear
 * and cubic (cubic_coeff_a, exclude_outside) along any number of axes of any rank;
 * antialias for linear and cubic; every coordinate_transformation_mode; scales or sizes,
 * axes and keep_aspect_ratio_policy.  Resize-10 and Upsample map output to input
 * coordinates as x / scale and take for nearest the floor when enlarging, the ceiling
 * when shrinking, as onnxruntime does. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/checked.h"
#include "ops/op_util.h"

enum {
    RZ_MAX_TAPS = 1024,          /* taps of one axis (antialias widens them as 2 / scale) */
    RZ_ROW_VALUES = 8,           /* table values per emitted line for one-tap tables */
    RZ_SUM_TAPS = 4,             /* separable passes: taps written out as one sum, up to */
    RZ_MAX_PERIOD = 8,           /* whole enlargement factors written out phase by phase */
    RZ_MIN_PERIODS = 4,          /* input columns the periodic loop must cover to be used */
    RZ_MAX_SHIFTS = 16,          /* spread of the input positions one periodic column reads */
    RZ_MAX_ROW_COPY = 16384,     /* bytes of an input row the periodic pass copies to the stack */
};
/* Output dims and source coordinates are computed in double; beyond this magnitude they
 * would lose their integer precision. */
static const double rz_max_coord = 1e15;
/* Weights of a periodic axis's columns that differ by less than this (rounding of the
 * source coordinates) count as equal: far below float's precision. */
static const double rz_period_weight_tol = 1e-12;

typedef enum RzMode { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC } RzMode;
typedef enum RzCoord {
    RZ_HALF_PIXEL, RZ_HALF_PIXEL_SYMMETRIC, RZ_PYTORCH_HALF_PIXEL, RZ_ALIGN_CORNERS,
    RZ_ASYMMETRIC, RZ_TF_CROP_AND_RESIZE, RZ_TF_HALF_PIXEL_FOR_NN,
} RzCoord;
typedef enum RzNearest {
    RZ_ROUND_PREFER_FLOOR, RZ_ROUND_PREFER_CEIL, RZ_FLOOR, RZ_CEIL,
    RZ_SIMPLE,                   /* Resize-10 / Upsample: floor enlarging, ceil shrinking */
} RzNearest;
typedef enum RzAspect { RZ_STRETCH, RZ_NOT_LARGER, RZ_NOT_SMALLER } RzAspect;

typedef struct RzName {
    const char *name;
    int value;
} RzName;

static const RzName rz_modes[] = {
    { "nearest", RZ_NEAREST }, { "linear", RZ_LINEAR }, { "cubic", RZ_CUBIC }, { NULL, 0 },
};
static const RzName rz_coords[] = {
    { "half_pixel", RZ_HALF_PIXEL }, { "half_pixel_symmetric", RZ_HALF_PIXEL_SYMMETRIC },
    { "pytorch_half_pixel", RZ_PYTORCH_HALF_PIXEL }, { "align_corners", RZ_ALIGN_CORNERS },
    { "asymmetric", RZ_ASYMMETRIC }, { "tf_crop_and_resize", RZ_TF_CROP_AND_RESIZE },
    { "tf_half_pixel_for_nn", RZ_TF_HALF_PIXEL_FOR_NN }, { NULL, 0 },
};
static const RzName rz_nearests[] = {
    { "round_prefer_floor", RZ_ROUND_PREFER_FLOOR }, { "round_prefer_ceil", RZ_ROUND_PREFER_CEIL },
    { "floor", RZ_FLOOR }, { "ceil", RZ_CEIL }, { NULL, 0 },
};
static const RzName rz_aspects[] = {
    { "stretch", RZ_STRETCH }, { "not_larger", RZ_NOT_LARGER },
    { "not_smaller", RZ_NOT_SMALLER }, { NULL, 0 },
};

/* Element types interpolation (linear, cubic) accepts; nearest copies any type. */
static const DType rz_interp_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_UINT8, DT_INT16, DT_UINT16,
    DT_INT32, DT_UINT32, DT_UNDEFINED,
};

/* Everything the attributes and constant inputs say, per axis of X. */
typedef struct RzParams {
    RzMode mode;
    RzCoord coord;
    RzNearest nearest;
    double cubic_a;
    bool exclude_outside, antialias;
    double extrapolation;
    int rank;
    int64_t in[IR_MAX_RANK], out[IR_MAX_RANK];
    double scale[IR_MAX_RANK];
    double roi_start[IR_MAX_RANK], roi_end[IR_MAX_RANK];
} RzParams;

/* The tables of one axis. */
typedef struct RzAxis {
    bool active;                 /* false: the identity along this axis (no tables) */
    int taps;                    /* input positions read per output position */
    int64_t *idx;                /* [out][taps] input positions, in [0, in) */
    double *w;                   /* [out][taps] weights (NULL for nearest: one tap) */
    bool *ext;                   /* [out] outside the input (tf_crop_and_resize), or NULL */
} RzAxis;

typedef struct RzPlan {
    Arena arena;                 /* the tables */
    RzParams p;
    RzAxis ax[IR_MAX_RANK];
} RzPlan;

/* ---- attributes and constant inputs ---- */

static bool rz_enum(const Node *n, const char *attr, const char *dflt, const RzName *names,
                    int *out, Diag *d) {
    const char *s = ir_attr_string(n, attr, dflt);
    for (const RzName *k = names; k->name; k++) {
        if (strcmp(s, k->name) == 0) {
            *out = k->value;
            return true;
        }
    }
    diag_error(d, n, "attribute '%s' is '%s', which is not supported", attr, s);
    return false;
}

static bool rz_is_upsample(const Node *n) { return strcmp(n->op_type, "Upsample") == 0; }

/* Whether optional input i is absent or empty (an empty tensor stands for "not given"). */
static bool rz_input_empty(const Node *n, int i) {
    const Value *v = op_input(n, i);
    return !v || (ir_value_shape_known(v) && ir_numel(v) == 0);
}

/* Reads the constant float input i (1-D, at most max values) into out. */
static bool rz_const_floats(const Node *n, int i, double *out, int max, int *count, Diag *d) {
    if (!op_require_const(n, i, d)) return false;
    const Value *v = n->inputs[i];
    if (!dtype_is_float(v->dtype) || v->rank != 1) {
        diag_error(d, n, "input %d '%s' must be a 1-D float tensor, it is %s of rank %d", i,
                   v->name, dtype_name(v->dtype), v->rank);
        return false;
    }
    const int64_t len = ir_numel(v);
    if (len > max) {
        diag_error(d, n, "input %d '%s' has %lld values, at most %d allowed", i, v->name,
                   (long long)len, max);
        return false;
    }
    for (int64_t k = 0; k < len; k++) out[k] = ou_get_f64(v, k);
    *count = (int)len;
    return true;
}

/* The interpolation attributes (Resize-11 and later), or the fixed Resize-10 / Upsample
 * ones. */
static bool rz_attrs(const Node *n, RzParams *p, Diag *d) {
    int v;
    if (!rz_enum(n, "mode", "nearest", rz_modes, &v, d)) return false;
    p->mode = (RzMode)v;
    const bool legacy = rz_is_upsample(n) || n->opset < 11;
    if (legacy) {
        if (p->mode == RZ_CUBIC) {
            diag_error(d, n, "mode 'cubic' needs Resize opset 11 or later");
            return false;
        }
        p->coord = RZ_ASYMMETRIC;
        p->nearest = RZ_SIMPLE;
        p->cubic_a = -0.75;
        return true;
    }
    if (!rz_enum(n, "coordinate_transformation_mode", "half_pixel", rz_coords, &v, d))
        return false;
    p->coord = (RzCoord)v;
    if (!rz_enum(n, "nearest_mode", "round_prefer_floor", rz_nearests, &v, d)) return false;
    p->nearest = (RzNearest)v;
    p->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = ir_attr_int(n, "exclude_outside", 0) != 0;
    p->extrapolation = ir_attr_float(n, "extrapolation_value", 0.0f);
    p->antialias = ir_attr_int(n, "antialias", 0) != 0;
    if (!isfinite(p->cubic_a)) {
        diag_error(d, n, "attribute 'cubic_coeff_a' must be finite");
        return false;
    }
    if (p->antialias && p->mode == RZ_NEAREST) {
        diag_error(d, n, "antialias applies to modes linear and cubic, not nearest");
        return false;
    }
    return true;
}

/* The resized axes: attribute 'axes' (opset 18) or all of them.  Returns their count. */
static bool rz_axes(const Node *n, int rank, int *axes, int *count, Diag *d) {
    const int64_t *a;
    const size_t na = ir_attr_ints(n, "axes", &a);
    if (na == 0) {
        for (int k = 0; k < rank; k++) axes[k] = k;
        *count = rank;
        return true;
    }
    if (na > (size_t)rank) {
        diag_error(d, n, "attribute 'axes' has %zu values for rank %d", na, rank);
        return false;
    }
    bool seen[IR_MAX_RANK] = { false };
    for (size_t i = 0; i < na; i++) {
        if (!ou_axis(n, "axis", a[i], rank, false, &axes[i], d)) return false;
        if (seen[axes[i]]) {
            diag_error(d, n, "attribute 'axes' names axis %d twice", axes[i]);
            return false;
        }
        seen[axes[i]] = true;
    }
    *count = (int)na;
    return true;
}

/* Output dims from scales: floor(in * scale), the scale kept for the coordinates. */
static bool rz_from_scales(const Node *n, RzParams *p, const int *axes, int na,
                           const double *scales, Diag *d) {
    for (int i = 0; i < na; i++) {
        const int a = axes[i];
        const double s = scales[i];
        if (!(s > 0) || !isfinite(s)) {
            diag_error(d, n, "scale %g for axis %d must be positive and finite", s, a);
            return false;
        }
        const double o = floor((double)p->in[a] * s);
        if (o > rz_max_coord) {
            diag_error(d, n, "scale %g makes axis %d of size %lld too large", s, a,
                       (long long)p->in[a]);
            return false;
        }
        p->scale[a] = s;
        p->out[a] = (int64_t)o;
    }
    return true;
}

/* Output dims from sizes, with keep_aspect_ratio_policy; scale = out / in. */
static bool rz_from_sizes(const Node *n, RzParams *p, const int *axes, int na,
                          const int64_t *sizes, Diag *d) {
    int aspect = RZ_STRETCH;
    if (n->opset >= 18 &&
        !rz_enum(n, "keep_aspect_ratio_policy", "stretch", rz_aspects, &aspect, d))
        return false;
    for (int i = 0; i < na; i++) {
        const int a = axes[i];
        if (sizes[i] < 0 || (double)sizes[i] > rz_max_coord) {
            diag_error(d, n, "size %lld for axis %d is out of range", (long long)sizes[i], a);
            return false;
        }
        if (p->in[a] == 0 && sizes[i] != 0) {
            diag_error(d, n, "axis %d is empty: it cannot be resized to %lld", a,
                       (long long)sizes[i]);
            return false;
        }
        p->out[a] = sizes[i];
        p->scale[a] = p->in[a] ? (double)sizes[i] / (double)p->in[a] : 1.0;
    }
    if (aspect == RZ_STRETCH || na == 0) return true;
    double s = p->scale[axes[0]];
    for (int i = 1; i < na; i++)
        s = aspect == RZ_NOT_LARGER ? fmin(s, p->scale[axes[i]]) : fmax(s, p->scale[axes[i]]);
    for (int i = 0; i < na; i++) {
        const int a = axes[i];
        p->scale[a] = s;
        /* rounded half up, as the spec says */
        const double o = floor(s * (double)p->in[a] + 0.5);
        if (!(o <= rz_max_coord)) {
            diag_error(d, n, "sizes make axis %d of size %lld too large", a,
                       (long long)p->in[a]);
            return false;
        }
        p->out[a] = (int64_t)o;
    }
    return true;
}

/* roi (tf_crop_and_resize only): starts then ends of the resized axes. */
static bool rz_roi(const Node *n, RzParams *p, const int *axes, int na, Diag *d) {
    for (int k = 0; k < p->rank; k++) p->roi_start[k] = 0, p->roi_end[k] = 1;
    if (p->coord != RZ_TF_CROP_AND_RESIZE) return true;
    if (rz_input_empty(n, 1)) {
        diag_error(d, n, "coordinate_transformation_mode tf_crop_and_resize needs input roi");
        return false;
    }
    double roi[2 * IR_MAX_RANK];
    int count;
    if (!rz_const_floats(n, 1, roi, 2 * IR_MAX_RANK, &count, d)) return false;
    if (count != 2 * na) {
        diag_error(d, n, "roi has %d values, expected %d (a start and an end per axis)",
                   count, 2 * na);
        return false;
    }
    for (int i = 0; i < na; i++) {
        if (!isfinite(roi[i]) || !isfinite(roi[na + i])) {
            diag_error(d, n, "roi values must be finite");
            return false;
        }
        p->roi_start[axes[i]] = roi[i];
        p->roi_end[axes[i]] = roi[na + i];
    }
    return true;
}

/* Reads everything: attributes, scales or sizes, roi; fills in/out/scale per axis. */
static bool rz_params(const Node *n, RzParams *p, Diag *d) {
    memset(p, 0, sizeof *p);
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < 1) {
        diag_error(d, n, "input '%s' is a scalar: there is nothing to resize", x->name);
        return false;
    }
    p->rank = x->rank;
    for (int k = 0; k < x->rank; k++) {
        p->in[k] = p->out[k] = x->dims[k];
        p->scale[k] = 1.0;
    }
    if (!rz_attrs(n, p, d)) return false;
    if (p->mode != RZ_NEAREST && !ou_check_dtype(n, 0, rz_interp_types, d)) return false;
    int axes[IR_MAX_RANK], na;
    if (!rz_axes(n, x->rank, axes, &na, d)) return false;

    /* where the scales and sizes come from */
    const bool legacy = rz_is_upsample(n) || n->opset < 11;
    const int scales_in = legacy ? 1 : 2, sizes_in = 3;
    double scales[IR_MAX_RANK];
    int count = 0;
    if (rz_is_upsample(n) && n->opset < 9) {
        const float *f;
        const size_t nf = ir_attr_floats(n, "scales", &f);
        if (nf != (size_t)na) {
            diag_error(d, n, "attribute 'scales' has %zu values for rank %d", nf, x->rank);
            return false;
        }
        for (size_t k = 0; k < nf; k++) scales[k] = f[k];
        count = (int)nf;
    } else if (!rz_input_empty(n, scales_in)) {
        if (!rz_const_floats(n, scales_in, scales, IR_MAX_RANK, &count, d)) return false;
    }
    const bool has_sizes = !legacy && !rz_input_empty(n, sizes_in);
    if (count > 0 && has_sizes) {
        diag_error(d, n, "scales and sizes are both given: only one may be");
        return false;
    }
    if (has_sizes) {
        int64_t sizes[IR_MAX_RANK];
        if (!ou_const_ints(n, sizes_in, sizes, IR_MAX_RANK, &count, d)) return false;
        if (count != na) {
            diag_error(d, n, "sizes has %d values, expected %d", count, na);
            return false;
        }
        if (!rz_from_sizes(n, p, axes, na, sizes, d)) return false;
    } else {
        if (count == 0) {
            diag_error(d, n, "neither scales nor sizes is given");
            return false;
        }
        if (count != na) {
            diag_error(d, n, "scales has %d values, expected %d", count, na);
            return false;
        }
        if (!rz_from_scales(n, p, axes, na, scales, d)) return false;
    }
    return rz_roi(n, p, axes, na, d);
}

/* ---- the per-axis tables ---- */

/* The source coordinate of output position j along axis k (the reference's formulas). */
static double rz_coord(const RzParams *p, int k, int64_t j) {
    const double in = (double)p->in[k], s = p->scale[k], y = (double)j;
    const double width = s * in;   /* the output width before flooring */
    switch (p->coord) {
    case RZ_ALIGN_CORNERS:
        return width == 1 ? 0.0 : y * (in - 1) / (width - 1);
    case RZ_ASYMMETRIC:
        return y / s;
    case RZ_TF_CROP_AND_RESIZE: {
        const double r0 = p->roi_start[k], r1 = p->roi_end[k];
        const double x = width == 1 ? (r1 - r0) * (in - 1) / 2
                                    : y * (r1 - r0) * (in - 1) / (width - 1);
        return x + r0 * (in - 1);
    }
    case RZ_PYTORCH_HALF_PIXEL:
        return width == 1 ? -0.5 : (y + 0.5) / s - 0.5;
    case RZ_HALF_PIXEL_SYMMETRIC: {
        const double adjustment = (double)p->out[k] / width;
        const double offset = in / 2 * (1 - adjustment);
        return offset + (y + 0.5) / s - 0.5;
    }
    case RZ_TF_HALF_PIXEL_FOR_NN:
        return (y + 0.5) / s;
    case RZ_HALF_PIXEL:
        break;
    }
    return (y + 0.5) / s - 0.5;
}

/* The cubic convolution kernel of parameter a at distance t. */
static double rz_cubic(double a, double t) {
    t = fabs(t);
    if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0;
}

/* Taps per output position along an axis of scale s. */
static int64_t rz_taps(const RzParams *p, double s) {
    if (p->mode == RZ_NEAREST) return 1;
    const double support = p->mode == RZ_LINEAR ? 1 : 2;
    if (!p->antialias) return (int64_t)(2 * support);
    /* the reference: start = floor(-support / min(s, 1)) + 1, taps = 2 - 2 * start */
    const double start = floor(-support / fmin(s, 1.0)) + 1;
    return start < -RZ_MAX_TAPS ? RZ_MAX_TAPS + 1 : (int64_t)(2 - 2 * start);
}

/* Weights w[0..taps) of the taps at positions first, first + 1, ... for the source
 * coordinate x (fraction `ratio` past floor(x), 1 when x is whole). */
static void rz_weights(const RzParams *p, double s, double x, double ratio, int64_t first,
                       int taps, double *w) {
    if (p->mode == RZ_LINEAR && !p->antialias) {
        w[0] = 1 - ratio, w[1] = ratio;
        return;
    }
    if (p->mode == RZ_CUBIC && !p->antialias) {
        for (int t = 0; t < taps; t++) w[t] = rz_cubic(p->cubic_a, (double)(first + t) - x);
        return;
    }
    /* antialias: the kernel stretched by 1 / min(s, 1), normalised */
    const double f = fmin(s, 1.0);
    double sum = 0;
    for (int t = 0; t < taps; t++) {
        const double u = ((double)(first + t) - x) * f;
        w[t] = p->mode == RZ_LINEAR ? fmax(0.0, 1 - fabs(u)) : rz_cubic(p->cubic_a, u);
        sum += w[t];
    }
    if (sum != 0)   /* a footprint of zero weights (cubic lobes cancelling) stays zero */
        for (int t = 0; t < taps; t++) w[t] /= sum;
}

/* The nearest input position to x (ratio as for rz_weights). */
static int64_t rz_nearest(const RzParams *p, double s, double x, double ratio) {
    const int64_t fl = (int64_t)floor(x);
    if (ratio == 1) return fl;
    bool up = false;
    switch (p->nearest) {
    case RZ_ROUND_PREFER_FLOOR: up = ratio > 0.5; break;
    case RZ_ROUND_PREFER_CEIL: up = ratio >= 0.5; break;
    case RZ_FLOOR: up = false; break;
    case RZ_CEIL: up = true; break;
    case RZ_SIMPLE: up = s < 1; break;
    }
    return up ? fl + 1 : fl;
}

static int64_t rz_clamp(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* Output position j of axis k: taps, weights and whether it is extrapolated. */
static bool rz_position(const Node *n, const RzParams *p, int k, int64_t j, RzAxis *a,
                        Diag *d) {
    const int taps = a->taps;
    int64_t *idx = a->idx + j * taps;
    double *w = a->w ? a->w + j * taps : NULL;
    const double x = rz_coord(p, k, j), last = (double)(p->in[k] - 1);
    if (a->ext && (x < 0 || x > last)) {
        a->ext[j] = true;
        for (int t = 0; t < taps; t++) {
            idx[t] = 0;
            if (w) w[t] = 0;
        }
        return true;
    }
    if (!(fabs(x) <= rz_max_coord)) {
        diag_error(d, n, "the source coordinate of output %lld along axis %d is out of range",
                   (long long)j, k);
        return false;
    }
    const double fl = floor(x);
    const double ratio = x == fl ? 1.0 : x - fl;
    const double s = p->scale[k];
    if (p->mode == RZ_NEAREST) {
        idx[0] = rz_clamp(rz_nearest(p, s, x, ratio), p->in[k] - 1);
        return true;
    }
    /* the taps nearest to x, ties to the smaller positions (taps is even) */
    const int64_t first = (int64_t)fl - taps / 2 + (x == fl ? 0 : 1);
    rz_weights(p, s, x, ratio, first, taps, w);
    if (p->exclude_outside) {
        double sum = 0;
        for (int t = 0; t < taps; t++) {
            if (first + t < 0 || first + t >= p->in[k]) w[t] = 0;
            sum += w[t];
        }
        if (sum != 0)
            for (int t = 0; t < taps; t++) w[t] /= sum;
    }
    for (int t = 0; t < taps; t++) idx[t] = rz_clamp(first + t, p->in[k] - 1);
    return true;
}

/* Whether axis k is the identity (the reference skips it: same size, scale 1, full roi). */
static bool rz_identity(const RzParams *p, int k) {
    const double s = p->scale[k];
    return fabs(s - 1) <= 1e-9 * fmax(1.0, s) && p->out[k] == p->in[k] &&
           p->roi_start[k] == 0 && p->roi_end[k] == 1;
}

static bool rz_axis_tables(const Node *n, RzPlan *pl, int k, Diag *d) {
    const RzParams *p = &pl->p;
    RzAxis *a = &pl->ax[k];
    a->active = !rz_identity(p, k);
    if (!a->active) return true;
    const int64_t taps = rz_taps(p, p->scale[k]);
    if (taps > RZ_MAX_TAPS) {
        diag_error(d, n, "antialias with scale %g on axis %d needs more than %d taps",
                   p->scale[k], k, RZ_MAX_TAPS);
        return false;
    }
    a->taps = (int)taps;
    const size_t out = (size_t)p->out[k], cells = out * (size_t)taps;
    a->idx = arena_array(&pl->arena, cells ? cells : 1, sizeof *a->idx);
    if (p->mode != RZ_NEAREST) a->w = arena_array(&pl->arena, cells ? cells : 1, sizeof *a->w);
    if (p->coord == RZ_TF_CROP_AND_RESIZE)
        a->ext = arena_array(&pl->arena, out ? out : 1, sizeof *a->ext);
    if (!a->idx || (p->mode != RZ_NEAREST && !a->w) ||
        (p->coord == RZ_TF_CROP_AND_RESIZE && !a->ext)) {
        diag_error(d, n, "out of memory for the tables of axis %d", k);
        return false;
    }
    for (int64_t j = 0; j < p->out[k]; j++)
        if (!rz_position(n, p, k, j, a, d)) return false;
    return true;
}

/* Builds the plan; release with rz_plan_free (also after a failure). */
static bool rz_plan(const Node *n, RzPlan *pl, Diag *d) {
    memset(pl, 0, sizeof *pl);
    arena_init(&pl->arena, 0);
    if (!rz_params(n, &pl->p, d)) return false;
    for (int k = 0; k < pl->p.rank; k++)
        if (!rz_axis_tables(n, pl, k, d)) return false;
    return true;
}

static void rz_plan_free(RzPlan *pl) { arena_free(&pl->arena); }

/* ---- infer and fold ---- */

static bool rz_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    RzParams p;
    if (!rz_params(n, &p, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, p.rank, p.out, d);
}

/* The range of an integer (or bool) dtype, as doubles; the 64-bit ones stop at the
 * largest double below 2^63, so that every value in range converts to int64_t. */
static void rz_int_range(DType t, double *lo, double *hi) {
    static const double i64_hi = 9223372036854774784.0;
    switch (t) {
    case DT_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case DT_UINT8: *lo = 0, *hi = UINT8_MAX; break;
    case DT_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case DT_UINT16: *lo = 0, *hi = UINT16_MAX; break;
    case DT_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case DT_UINT32: *lo = 0, *hi = UINT32_MAX; break;
    case DT_INT64: *lo = (double)INT64_MIN, *hi = i64_hi; break;
    case DT_UINT64: *lo = 0, *hi = i64_hi; break;
    default: *lo = 0, *hi = 1; break;   /* bool */
    }
}

/* A computed value stored as dtype t: integers rounded half to even and saturated, as the
 * reference's saturate_cast. */
static double rz_saturate(DType t, double v) {
    if (dtype_is_float(t)) return v;
    double lo, hi;
    rz_int_range(t, &lo, &hi);
    v = nearbyint(v);
    return v < lo ? lo : v > hi ? hi : v != v ? 0 : v;
}

/* Row-major strides of dims. */
static void rz_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int k = rank - 1; k >= 0; k--) strides[k] = s, s *= dims[k];
}

/* Output element at multi-index pos: the weighted sum over the product of the active
 * axes' taps (an odometer over tap numbers). */
static double rz_fold_one(const RzPlan *pl, const Value *x, const int64_t *pos,
                          const int64_t *xs) {
    const RzParams *p = &pl->p;
    int act[IR_MAX_RANK], na = 0;
    int64_t base = 0;
    for (int k = 0; k < p->rank; k++) {
        const RzAxis *a = &pl->ax[k];
        if (!a->active) base += pos[k] * xs[k];
        else if (a->ext && a->ext[pos[k]]) return p->extrapolation;
        else act[na++] = k;
    }
    int t[IR_MAX_RANK] = { 0 };
    double sum = 0;
    for (;;) {
        int64_t off = base;
        double w = 1;
        for (int i = 0; i < na; i++) {
            const RzAxis *a = &pl->ax[act[i]];
            const int64_t cell = pos[act[i]] * a->taps + t[i];
            off += a->idx[cell] * xs[act[i]];
            w *= a->w ? a->w[cell] : 1.0;
        }
        sum += w * ou_get_f64(x, off);
        int i = na - 1;
        while (i >= 0 && ++t[i] == pl->ax[act[i]].taps) t[i--] = 0;
        if (i < 0) return sum;
    }
}

/* Nearest: the input element output pos copies, or -1 when it is extrapolated. */
static int64_t rz_fold_source(const RzPlan *pl, const int64_t *pos, const int64_t *xs) {
    int64_t off = 0;
    for (int k = 0; k < pl->p.rank; k++) {
        const RzAxis *a = &pl->ax[k];
        if (a->active && a->ext && a->ext[pos[k]]) return -1;
        off += (a->active ? a->idx[pos[k]] : pos[k]) * xs[k];
    }
    return off;
}

static bool rz_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    RzPlan pl;
    bool ok = rz_plan(n, &pl, d) && ir_value_alloc_data(g, y, d);
    if (ok) {
        const RzParams *p = &pl.p;
        int64_t xs[IR_MAX_RANK], pos[IR_MAX_RANK] = { 0 };
        rz_strides(p->rank, p->in, xs);
        const int64_t count = ir_numel(y);
        const size_t es = dtype_size(y->dtype);
        for (int64_t o = 0; o < count; o++) {
            int64_t r = o;
            for (int k = p->rank - 1; k >= 0; k--) pos[k] = r % p->out[k], r /= p->out[k];
            if (p->mode == RZ_NEAREST) {
                const int64_t src = rz_fold_source(&pl, pos, xs);
                if (src >= 0) ou_copy_elems(y->data, o, x->data, src, es);
                else ou_set_f64(y, o, rz_saturate(y->dtype, p->extrapolation));
            } else {
                ou_set_f64(y, o, rz_saturate(y->dtype, rz_fold_one(&pl, x, pos, xs)));
            }
        }
    }
    rz_plan_free(&pl);
    return ok;
}

/* ---- emit ---- */

static const char *const rz_mode_names[] = { "nearest", "linear", "cubic" };
static const char *const rz_coord_names[] = {
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
    "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn",
};

/* The accumulator type of interpolation: double for double and integers, else float. */
static bool rz_acc_double(DType t) { return t == DT_DOUBLE || dtype_is_integer(t); }


/* Writes the text of `line` (built with sb_printf) as one emitted line and resets it. */
static void rz_flush(Emitter *e, StrBuf *line) {
    if (line->len) emit_line(e, "%s", line->data);
    line->len = 0;
    if (line->data) line->data[0] = '\0';
}

/* Emits axis k's tables: offK (input offsets, already times the axis's stride), wK
 * (weights) and exK (extrapolated positions, only when there is one).  Returns whether
 * exK was written. */
static bool rz_emit_tables(Emitter *e, const RzPlan *pl, int k, int64_t stride, DType t) {
    const RzParams *p = &pl->p;
    const RzAxis *a = &pl->ax[k];
    const int64_t out = p->out[k];
    const int taps = a->taps;
    const bool wide = (p->in[k] - 1) * stride > INT32_MAX;
    char lit[40], tap_dim[32] = "";
    if (taps > 1) snprintf(tap_dim, sizeof tap_dim, "[%d]", taps);
    emit_line(e, "/* axis %d: %lld -> %lld (scale %.9g), %d tap%s per output position */", k,
              (long long)p->in[k], (long long)out, p->scale[k], taps, taps == 1 ? "" : "s");
    StrBuf line;
    sb_init(&line);
    /* offsets: one row of taps per line, or RZ_ROW_VALUES single values per line */
    emit_open(e, "static const %s off%d[%lld]%s =", wide ? "int64_t" : "int32_t", k,
              (long long)out, tap_dim);
    for (int64_t j = 0; j < out; j++) {
        if (line.len) sb_putc(&line, ' ');
        if (taps > 1) sb_puts(&line, "{ ");
        for (int tp = 0; tp < taps; tp++)
            sb_printf(&line, "%s%s", c_int64(lit, (long long)(a->idx[j * taps + tp] * stride)),
                      tp + 1 < taps ? ", " : taps > 1 ? " }," : ",");
        if (taps > 1 || (j + 1) % RZ_ROW_VALUES == 0) rz_flush(e, &line);
    }
    rz_flush(e, &line);
    e->indent--;
    emit_line(e, "};");
    if (a->w) {
        const bool dbl = rz_acc_double(t);
        emit_open(e, "static const %s wt%d[%lld][%d] =", dbl ? "double" : "float", k,
                  (long long)out, taps);
        for (int64_t j = 0; j < out; j++) {
            sb_puts(&line, "{ ");
            for (int tp = 0; tp < taps; tp++) {
                const double w = a->w[j * taps + tp];
                sb_printf(&line, "%s%s", dbl ? c_double(lit, w) : c_float(lit, (float)w),
                          tp + 1 < taps ? ", " : " },");
            }
            rz_flush(e, &line);
        }
        e->indent--;
        emit_line(e, "};");
    }
    bool has_ext = false;
    for (int64_t j = 0; a->ext && j < out; j++) has_ext = has_ext || a->ext[j];
    if (has_ext) {
        emit_open(e, "static const unsigned char ex%d[%lld] =", k, (long long)out);
        for (int64_t j = 0; j < out; j++) {
            sb_printf(&line, "%s%d,", line.len ? " " : "", a->ext[j]);
            if ((j + 1) % RZ_ROW_VALUES == 0) rz_flush(e, &line);
        }
        rz_flush(e, &line);
        e->indent--;
        emit_line(e, "};");
    }
    sb_free(&line);
    return has_ext;
}

/* The loop nest over the output: runs of identity axes merge into one loop (their input
 * and output strides agree), each resized axis has its own; a loop of one iteration is
 * left out.  var[k] names axis k's position ("0" when it has no loop); base gets the
 * input offset of the identity axes. */
typedef struct RzLoops {
    char var[IR_MAX_RANK][16];
    int opened;
    char base[512];
} RzLoops;

static void rz_open_loops(Emitter *e, const RzPlan *pl, const int64_t *xs, RzLoops *l) {
    const RzParams *p = &pl->p;
    l->opened = 0;
    size_t len = 0;
    l->base[0] = '\0';
    for (int k = 0; k < p->rank;) {
        int end = k + 1;
        int64_t extent = p->out[k];
        if (!pl->ax[k].active)
            for (; end < p->rank && !pl->ax[end].active; end++) extent *= p->out[end];
        snprintf(l->var[k], sizeof l->var[k], extent == 1 ? "0" : "i%d", k);
        if (extent != 1) {
            emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)extent, k);
            l->opened++;
            if (!pl->ax[k].active && len < sizeof l->base - 64)
                len += (size_t)snprintf(l->base + len, sizeof l->base - len, "%si%d * %lld",
                                        len ? " + " : "", k, (long long)xs[end - 1]);
        }
        k = end;
    }
    if (!len) snprintf(l->base, sizeof l->base, "0");
}

/* The extrapolation test "ex2[i2] || ex3[i3]" of the axes that have a table (empty when
 * none has). */
static void rz_ext_cond(const RzPlan *pl, const RzLoops *l, const bool *has_ext, char *s,
                        size_t size) {
    size_t len = 0;
    s[0] = '\0';
    for (int k = 0; k < pl->p.rank; k++)
        if (has_ext[k] && len < size - 40)
            len += (size_t)snprintf(s + len, size - len, "%sex%d[%s]", len ? " || " : "", k,
                                    l->var[k]);
}

/* The value stored for extrapolated positions, as a literal of dtype t. */
static const char *rz_ext_literal(char *buf, DType t, double v) {
    const double s = rz_saturate(t, v);
    return ou_literal(buf, t, s, (int64_t)s);
}

/* Nearest: y0[o] = x0[base + offA[iA] + offB[iB] ...]. */
static void rz_emit_nearest(Emitter *e, const RzPlan *pl, const RzLoops *l, const char *ext,
                            DType t) {
    char src[1024];
    const bool no_base = strcmp(l->base, "0") == 0;
    size_t len = (size_t)snprintf(src, sizeof src, "x0[%s", no_base ? "" : l->base);
    for (int k = 0; k < pl->p.rank; k++)
        if (pl->ax[k].active && len < sizeof src - 40)
            len += (size_t)snprintf(src + len, sizeof src - len, "%soff%d[%s]",
                                    len > 3 ? " + " : "", k, l->var[k]);
    snprintf(src + len, sizeof src - len, "]");
    char lit[64];
    if (ext[0])
        emit_line(e, "y0[o] = %s ? %s : %s;", ext,
                  rz_ext_literal(lit, t, pl->p.extrapolation), src);
    else
        emit_line(e, "y0[o] = %s;", src);
}

/* Linear / cubic: acc = sum over the taps of the product of the axes' weights times the
 * input; one loop per resized axis carries the partial offset pK and weight cK. */
static void rz_emit_interp(Emitter *e, const RzPlan *pl, const RzLoops *l, DType t) {
    const bool dbl = rz_acc_double(t);
    const char *acc_t = dbl ? "double" : "float";
    emit_line(e, "%s acc = 0;", acc_t);
    char prev_p[16], prev_c[16];
    snprintf(prev_p, sizeof prev_p, "b");
    snprintf(prev_c, sizeof prev_c, "(%s)1", acc_t);
    emit_line(e, "const size_t b = %s;", l->base);
    int loops = 0;
    for (int k = 0; k < pl->p.rank; k++) {
        const RzAxis *a = &pl->ax[k];
        if (!a->active) continue;
        emit_open(e, "for (size_t t%d = 0; t%d < %d; t%d++)", k, k, a->taps, k);
        loops++;
        emit_line(e, "const size_t p%d = %s + (size_t)off%d[%s][t%d];", k, prev_p, k,
                  l->var[k], k);
        if (loops == 1) emit_line(e, "const %s c%d = wt%d[%s][t%d];", acc_t, k, k, l->var[k], k);
        else emit_line(e, "const %s c%d = %s * wt%d[%s][t%d];", acc_t, k, prev_c, k, l->var[k], k);
        snprintf(prev_p, sizeof prev_p, "p%d", k);
        snprintf(prev_c, sizeof prev_c, "c%d", k);
    }
    char src[64];
    snprintf(src, sizeof src, "x0[%s]", prev_p);
    if (ou_is_half(t)) {
        ou_emit_half_load(e, t, "v", src);
        emit_line(e, "acc += %s * v;", prev_c);
    } else {
        emit_line(e, "acc += %s * (%s)%s;", prev_c, acc_t, src);
    }
    for (int i = 0; i < loops; i++) emit_close(e);
    if (ou_is_half(t)) {
        ou_emit_half_store(e, t, "y0[o]", "acc");
    } else if (dtype_is_integer(t)) {
        double lo, hi;
        char slo[40], shi[40];
        rz_int_range(t, &lo, &hi);
        c_double(slo, lo), c_double(shi, hi);
        /* rounded half to even and saturated, as a cast of the reference's result */
        emit_line(e, "const double r = nearbyint(acc);");
        emit_line(e, "y0[o] = (%s)(r < %s ? %s : r > %s ? %s : r);", dtype_ctype(t), slo, slo,
                  shi, shi);
    } else {
        emit_line(e, "y0[o] = acc;");
    }
}

/* ---- emit: separable passes over the last two axes ---- */

/* Whether the separable passes apply: only the last two axes resized (at least one),
 * nothing extrapolated, and for interpolation a float or double element type. */
static bool rz_separable(const RzPlan *pl, DType t) {
    const RzParams *p = &pl->p;
    if (p->rank < 2) return false;
    if (p->mode != RZ_NEAREST && t != DT_FLOAT && t != DT_DOUBLE) return false;
    bool any = false;
    for (int k = 0; k < p->rank; k++) {
        const RzAxis *a = &pl->ax[k];
        if (!a->active) continue;
        if (k < p->rank - 2) return false;
        for (int64_t j = 0; a->ext && j < p->out[k]; j++)
            if (a->ext[j]) return false;
        any = true;
    }
    return any;
}

static bool rz_vertical_first(const RzPlan *pl);

/* Bytes of the rows between the two passes of one plane ([in H][out W] elements, or
 * [out H][in W] vertical first), which interpolation needs when both axes are resized; 0
 * otherwise. */
static size_t rz_sep_scratch(const RzPlan *pl, DType t) {
    const RzParams *p = &pl->p;
    const int h = p->rank - 2, w = p->rank - 1;
    if (!rz_separable(pl, t) || p->mode == RZ_NEAREST || !pl->ax[h].active ||
        !pl->ax[w].active)
        return 0;
    size_t bytes;
    const int64_t rows = rz_vertical_first(pl) ? p->out[h] : p->in[h];
    const int64_t width = rz_vertical_first(pl) ? p->in[w] : p->out[w];
    if (!size_mul((size_t)rows, (size_t)width, &bytes) ||
        !size_mul(bytes, dtype_size(t), &bytes))
        return 0;
    return bytes;
}

/* What a separable table of an axis holds: input positions, or weights in float or
 * double (the accumulator type). */
typedef enum RzTable { RZ_TABLE_INDEX, RZ_TABLE_FLOAT, RZ_TABLE_DOUBLE } RzTable;

/* Emits a table of axis a: name[taps][out] (by_tap) or name[out][taps], of the plain
 * input positions (not scaled by a stride; `in` positions) or of the weights. */
static void rz_emit_table(Emitter *e, const RzAxis *a, int64_t in, int64_t out,
                          const char *name, bool by_tap, RzTable kind) {
    const int64_t rows = by_tap ? a->taps : out, cols = by_tap ? out : a->taps;
    const char *type = kind == RZ_TABLE_DOUBLE ? "double"
                     : kind == RZ_TABLE_FLOAT  ? "float"
                     : in - 1 > INT32_MAX      ? "int64_t" : "int32_t";
    /* integers are short: more of them per line */
    const int64_t per_line = kind == RZ_TABLE_INDEX ? 4 * RZ_ROW_VALUES : RZ_ROW_VALUES;
    char lit[40];
    StrBuf line;
    sb_init(&line);
    emit_open(e, "static const %s %s[%lld][%lld] =", type, name, (long long)rows,
              (long long)cols);
    for (int64_t r = 0; r < rows; r++) {
        sb_puts(&line, "{");
        for (int64_t c = 0; c < cols; c++) {
            const int64_t at = by_tap ? c * a->taps + r : r * a->taps + c;
            const char *v = kind == RZ_TABLE_INDEX ? c_int64(lit, (long long)a->idx[at])
                          : kind == RZ_TABLE_DOUBLE ? c_double(lit, a->w[at])
                          : c_float(lit, (float)a->w[at]);
            sb_printf(&line, " %s%s", v, c + 1 < cols ? "," : " },");
            if (by_tap && (c + 1) % per_line == 0 && c + 1 < cols) rz_flush(e, &line);
        }
        rz_flush(e, &line);
    }
    e->indent--;
    emit_line(e, "};");
    sb_free(&line);
}

/* dst[j] = the weighted sum over the taps of W(tap) * V(tap), for j in [j0, j1): the
 * formats hold one %s for the tap.  Up to RZ_SUM_TAPS taps as one sum (v_sum), more as a
 * first pass and then one accumulating pass per tap (v_loop, tap t). */
static void rz_emit_tap_sum(Emitter *e, int taps, int64_t j0, int64_t j1, const char *dst,
                            const char *fmt_w, const char *v_sum, const char *v_loop) {
    char tap[16], wb[160], vb[160];
    if (j0 >= j1) return;
    StrBuf line;
    sb_init(&line);
    emit_open(e, "for (size_t j = %lld; j < %lld; j++)", (long long)j0, (long long)j1);
    sb_printf(&line, "%s[j] =", dst);
    for (int t = 0; t < (taps <= RZ_SUM_TAPS ? taps : 1); t++) {
        snprintf(tap, sizeof tap, "%d", t);
        snprintf(wb, sizeof wb, fmt_w, tap);
        snprintf(vb, sizeof vb, taps <= RZ_SUM_TAPS ? v_sum : v_loop, tap);
        sb_printf(&line, "%s %s * %s", t ? " +" : "", wb, vb);
    }
    sb_puts(&line, ";");
    rz_flush(e, &line);
    emit_close(e);
    if (taps > RZ_SUM_TAPS) {
        snprintf(wb, sizeof wb, fmt_w, "t");
        snprintf(vb, sizeof vb, v_loop, "t");
        emit_open(e, "for (size_t t = 1; t < %d; t++)", taps);
        emit_line(e, "for (size_t j = %lld; j < %lld; j++) %s[j] += %s * %s;", (long long)j0,
                  (long long)j1, dst, wb, vb);
        emit_close(e);
    }
    sb_free(&line);
}

/* An axis enlarged by a whole factor r whose tables repeat: output column r * q + ph reads
 * input positions q + d[ph][t] with weights w[ph][t] for every q in [qlo, qhi) (the
 * coordinate mappings are affine, so only the edges, where positions are clamped,
 * differ).  That interior is emitted as a loop over q with contiguous loads and the
 * phases written out, which vectorises (no gather); the edges use the tables. */
typedef struct RzPeriod {
    int r;                       /* the factor; 0: no periodic interior */
    int64_t qlo, qhi;            /* the input positions of the interior */
    int64_t ref;                 /* an interior position, whose columns give d and w */
    int64_t dmin, dmax;          /* the range of the shifts d */
} RzPeriod;

/* Whether the r output columns of input position q follow those of ref. */
static bool rz_period_match(const RzAxis *a, int r, int64_t q, int64_t ref) {
    for (int ph = 0; ph < r; ph++)
        for (int t = 0; t < a->taps; t++) {
            const int64_t c = (r * q + ph) * a->taps + t, cr = (r * ref + ph) * a->taps + t;
            if (a->idx[c] - q != a->idx[cr] - ref ||
                (a->w && fabs(a->w[c] - a->w[cr]) > rz_period_weight_tol))
                return false;
        }
    return true;
}

static void rz_period(const RzAxis *a, int64_t in, int64_t out, RzPeriod *pd) {
    memset(pd, 0, sizeof *pd);
    if (a->taps > RZ_SUM_TAPS || in < RZ_MIN_PERIODS || out % in != 0 ||
        out / in < 2 || out / in > RZ_MAX_PERIOD)
        return;
    const int r = (int)(out / in);
    const int64_t ref = in / 2;
    int64_t lo = ref, hi = ref + 1;
    while (lo > 0 && rz_period_match(a, r, lo - 1, ref)) lo--;
    while (hi < in && rz_period_match(a, r, hi, ref)) hi++;
    if (hi - lo < RZ_MIN_PERIODS) return;
    int64_t dmin = 0, dmax = 0;
    for (int64_t c = 0; c < (int64_t)r * a->taps; c++) {
        const int64_t d = a->idx[r * ref * a->taps + c] - ref;
        dmin = c == 0 || d < dmin ? d : dmin;
        dmax = c == 0 || d > dmax ? d : dmax;
    }
    if (dmax - dmin >= RZ_MAX_SHIFTS) return;
    *pd = (RzPeriod){ .r = r, .qlo = lo, .qhi = hi, .ref = ref, .dmin = dmin, .dmax = dmax };
}

/* Whether the periodic interior covers every column: then the tables are not read. */
static bool rz_period_whole(const RzPeriod *pd, int64_t in) {
    return pd->r && pd->qlo == 0 && pd->qhi == in;
}

/* "q", "q + 2" or "q - 1": input position q shifted by d. */
static const char *rz_shifted(char *buf, size_t size, int64_t d) {
    if (d == 0) snprintf(buf, size, "q");
    else snprintf(buf, size, "q %c %lld", d > 0 ? '+' : '-', (long long)(d > 0 ? d : -d));
    return buf;
}

/* One row's pass along the columns, xr [in] to dst [out] (both restrict, elements of C
 * type T): through the tables hoff / hwt (nearest: hoff alone), and for a periodic axis the
 * interior phase by phase. */
static void rz_emit_row_pass(Emitter *e, const RzAxis *a, const RzPeriod *pp, int64_t in,
                             int64_t out, const char *T, size_t es, const char *dst, bool dbl) {
    const RzPeriod pd = *pp;
    const int64_t head = pd.r ? pd.r * pd.qlo : out, tail = pd.r ? pd.r * pd.qhi : out;
    if (a->w) {
        rz_emit_tap_sum(e, a->taps, 0, head, dst, "hwt[%s][j]", "xr[hoff[%s][j]]",
                        "xr[hoff[%s][j]]");
    } else if (head > 0) {
        emit_line(e, "for (size_t j = 0; j < %lld; j++) %s[j] = xr[hoff[0][j]];",
                  (long long)head, dst);
    }
    if (!pd.r) return;
    /* one pointer per shift d of the input position, based at q = qlo, so that every
     * load is a contiguous stream (a loop reading xr[q - 1] and xr[q + 1] is not
     * vectorised by clang: it forwards the loads from one iteration to the next) */
    /* Inlined into the model's run function, xr and dst may be slices of the one
     * workspace, and the vectoriser gives up on loads and stores of different strides
     * from one object: a copy of the row on the stack is a separate one. */
    const char *src = "xr";
    if ((size_t)in * es <= RZ_MAX_ROW_COPY) {
        emit_line(e, "%s xrow[%lld];   /* the row on the stack: its loads cannot alias dst */",
                  T, (long long)in);
        emit_line(e, "memcpy(xrow, xr, %zu);", (size_t)in * es);
        src = "xrow";
    }
    const int64_t dmin = pd.dmin, dmax = pd.dmax;
    bool used[RZ_MAX_SHIFTS] = { false };
    for (int64_t c = 0; c < (int64_t)pd.r * a->taps; c++)
        used[a->idx[pd.r * pd.ref * a->taps + c] - pd.ref - dmin] = true;
    emit_line(e, "/* columns %lld to %lld: %d per input position q = %lld + k, read at q's "
              "neighbours with fixed weights */", (long long)head, (long long)tail - 1, pd.r,
              (long long)pd.qlo);
    char sh[48];
    for (int64_t dd = dmin; dd <= dmax; dd++)
        if (used[dd - dmin])
            emit_line(e, "const %s *restrict xs%lld = %s + %lld;   /* x[%s] */", T,
                      (long long)(dd - dmin), src, (long long)(pd.qlo + dd),
                      rz_shifted(sh, sizeof sh, dd));
    emit_line(e, "%s *restrict hq = %s + %lld;   /* hq[%d k + phase]: output column %d q + "
              "phase */", T, dst, (long long)head, pd.r, pd.r);
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)(pd.qhi - pd.qlo));
    StrBuf line;
    sb_init(&line);
    char lit[40];
    for (int ph = 0; ph < pd.r; ph++) {
        sb_printf(&line, "hq[%d * k + %d] =", pd.r, ph);
        for (int t = 0; t < a->taps; t++) {
            const int64_t c = (pd.r * pd.ref + ph) * a->taps + t;
            const long long xi = (long long)(a->idx[c] - pd.ref - dmin);
            if (a->w)
                sb_printf(&line, "%s %s * xs%lld[k]", t ? " +" : "",
                          dbl ? c_double(lit, a->w[c]) : c_float(lit, (float)a->w[c]), xi);
            else
                sb_printf(&line, " xs%lld[k]", xi);
        }
        sb_puts(&line, ";");
        rz_flush(e, &line);
    }
    sb_free(&line);
    emit_close(e);
    if (a->w)
        rz_emit_tap_sum(e, a->taps, tail, out, dst, "hwt[%s][j]", "xr[hoff[%s][j]]",
                        "xr[hoff[%s][j]]");
    else if (tail < out)
        emit_line(e, "for (size_t j = %lld; j < %lld; j++) %s[j] = xr[hoff[0][j]];",
                  (long long)tail, (long long)out, dst);
}

/* Whether interpolation on both axes runs the vertical pass first: when the input has
 * more rows than the output reads (shrinking without antialias), resizing every input row
 * horizontally first would do more work than combining rows first. */
static bool rz_vertical_first(const RzPlan *pl) {
    const RzParams *p = &pl->p;
    const int h = p->rank - 2, w = p->rank - 1;
    const double th = pl->ax[h].taps, tw = pl->ax[w].taps;
    const double ih = (double)p->in[h], iw = (double)p->in[w];
    const double oh = (double)p->out[h], ow = (double)p->out[w];
    return oh * iw * th + oh * ow * tw < ih * ow * tw + oh * ow * th;
}

/* The horizontal pass of `count` rows: src rows of in elements to dst rows of out. */
static void rz_emit_h_pass(Emitter *e, const RzAxis *a, const RzPeriod *pd, int64_t count,
                           int64_t in, int64_t out, DType t, const char *src, const char *dst) {
    const char *T = dtype_ctype(t);
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)count);
    emit_line(e, "const %s *restrict xr = %s + r * %lld;", T, src, (long long)in);
    emit_line(e, "%s *restrict hr = %s + r * %lld;", T, dst, (long long)out);
    rz_emit_row_pass(e, a, pd, in, out, T, dtype_size(t), "hr", t == DT_DOUBLE);
    emit_close(e);
}

/* The vertical pass: output row i of dst (rows of width elements) is the weighted sum of
 * the src rows voff[i][..]. */
static void rz_emit_v_pass(Emitter *e, const RzAxis *a, int64_t count, int64_t width,
                           DType t, const char *src, const char *dst) {
    const char *T = dtype_ctype(t);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)count);
    emit_line(e, "%s *restrict yr = %s + i * %lld;", T, dst, (long long)width);
    if (a->taps <= RZ_SUM_TAPS)
        for (int k = 0; k < a->taps; k++)
            emit_line(e, "const %s *restrict r%d = %s + (size_t)voff[i][%d] * %lld;", T, k, src,
                      k, (long long)width);
    else
        emit_line(e, "const %s *restrict src = %s;", T, src);
    char v_loop[96];
    snprintf(v_loop, sizeof v_loop, "src[(size_t)voff[i][%%s] * %lld + j]", (long long)width);
    rz_emit_tap_sum(e, a->taps, 0, width, "yr", "vwt[i][%s]", "r%s[j]", v_loop);
    emit_close(e);
}

/* What both separable emitters start from: the two resized axes (rows h, columns w),
 * their sizes, the planes before them, and the column axis's period (rz_period). */
typedef struct RzSep {
    int h, w;
    const RzAxis *ah, *aw;
    int64_t ih, iw, oh, ow, planes;
    RzPeriod pd;
} RzSep;

static void rz_sep_init(const RzPlan *pl, RzSep *sp) {
    const RzParams *p = &pl->p;
    memset(sp, 0, sizeof *sp);
    sp->h = p->rank - 2, sp->w = p->rank - 1;
    sp->ah = &pl->ax[sp->h], sp->aw = &pl->ax[sp->w];
    sp->ih = p->in[sp->h], sp->iw = p->in[sp->w], sp->oh = p->out[sp->h], sp->ow = p->out[sp->w];
    sp->planes = 1;
    for (int k = 0; k < sp->h; k++) sp->planes *= p->in[k];
    if (sp->aw->active) rz_period(sp->aw, sp->iw, sp->ow, &sp->pd);
}

/* Opens the loop over the planes, with xp / yp pointing at the plane's input / output. */
static void rz_sep_open_planes(Emitter *e, const RzSep *sp, const char *T) {
    emit_open(e, "for (size_t p = 0; p < %lld; p++)", (long long)sp->planes);
    emit_line(e, "const %s *xp = x0 + p * %lld;   /* [%lld][%lld] */", T,
              (long long)(sp->ih * sp->iw), (long long)sp->ih, (long long)sp->iw);
    emit_line(e, "%s *yp = y0 + p * %lld;   /* [%lld][%lld] */", T,
              (long long)(sp->oh * sp->ow), (long long)sp->oh, (long long)sp->ow);
}

/* Linear / cubic, separable: per plane, a horizontal pass over the rows and a vertical
 * pass combining whole rows, through scratch when both axes are resized (in the cheaper
 * order, rz_vertical_first). */
static void rz_emit_sep_interp(Emitter *e, const RzPlan *pl, DType t) {
    RzSep sp;
    rz_sep_init(pl, &sp);
    const bool dbl = t == DT_DOUBLE;
    const char *T = dtype_ctype(t);
    if (sp.aw->active && !rz_period_whole(&sp.pd, sp.iw)) {
        emit_line(e, "/* axis %d (columns): %lld -> %lld, %d taps; tables [tap][output column] */",
                  sp.w, (long long)sp.iw, (long long)sp.ow, sp.aw->taps);
        rz_emit_table(e, sp.aw, sp.iw, sp.ow, "hoff", true, RZ_TABLE_INDEX);
        rz_emit_table(e, sp.aw, sp.iw, sp.ow, "hwt", true,
                      dbl ? RZ_TABLE_DOUBLE : RZ_TABLE_FLOAT);
    }
    if (sp.ah->active) {
        emit_line(e, "/* axis %d (rows): %lld -> %lld, %d taps; tables [output row][tap] */", sp.h,
                  (long long)sp.ih, (long long)sp.oh, sp.ah->taps);
        rz_emit_table(e, sp.ah, sp.ih, sp.oh, "voff", false, RZ_TABLE_INDEX);
        rz_emit_table(e, sp.ah, sp.ih, sp.oh, "vwt", false,
                      dbl ? RZ_TABLE_DOUBLE : RZ_TABLE_FLOAT);
    }
    const bool both = sp.aw->active && sp.ah->active, vfirst = both && rz_vertical_first(pl);
    if (vfirst)
        emit_line(e, "%s *rows = (%s *)scratch;   /* [%lld][%lld]: the plane's output rows "
                  "before the horizontal pass */", T, T, (long long)sp.oh, (long long)sp.iw);
    else if (both)
        emit_line(e, "%s *rows = (%s *)scratch;   /* [%lld][%lld]: the plane's input rows "
                  "resized horizontally */", T, T, (long long)sp.ih, (long long)sp.ow);
    rz_sep_open_planes(e, &sp, T);
    if (vfirst) {
        rz_emit_v_pass(e, sp.ah, sp.oh, sp.iw, t, "xp", "rows");
        rz_emit_h_pass(e, sp.aw, &sp.pd, sp.oh, sp.iw, sp.ow, t, "rows", "yp");
    } else {
        if (sp.aw->active)
            rz_emit_h_pass(e, sp.aw, &sp.pd, sp.ih, sp.iw, sp.ow, t, "xp", both ? "rows" : "yp");
        if (sp.ah->active) rz_emit_v_pass(e, sp.ah, sp.oh, sp.ow, t, both ? "rows" : "xp", "yp");
    }
    emit_close(e);
}

/* Nearest, separable: each output row is an input row, gathered through the column table
 * or copied whole; a row that repeats the previous one's source copies that output row. */
static void rz_emit_sep_nearest(Emitter *e, const RzPlan *pl, DType t) {
    RzSep sp;
    rz_sep_init(pl, &sp);
    const char *T = dtype_ctype(t);
    const size_t es = dtype_size(t);
    if (sp.aw->active && !rz_period_whole(&sp.pd, sp.iw)) {
        emit_line(e, "/* axis %d (columns): %lld -> %lld, the input column of each output "
                  "column */", sp.w, (long long)sp.iw, (long long)sp.ow);
        rz_emit_table(e, sp.aw, sp.iw, sp.ow, "hoff", true, RZ_TABLE_INDEX);
    }
    if (sp.ah->active) {
        emit_line(e, "/* axis %d (rows): %lld -> %lld, the input row of each output row */", sp.h,
                  (long long)sp.ih, (long long)sp.oh);
        rz_emit_table(e, sp.ah, sp.ih, sp.oh, "voff", true, RZ_TABLE_INDEX);
    }
    rz_sep_open_planes(e, &sp, T);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)sp.oh);
    emit_line(e, "%s *restrict yr = yp + i * %lld;", T, (long long)sp.ow);
    if (sp.ah->active) {
        emit_open(e, "if (i > 0 && voff[0][i] == voff[0][i - 1])");
        emit_line(e, "memcpy(yr, yr - %lld, %zu);   /* the same input row again */",
                  (long long)sp.ow, (size_t)sp.ow * es);
        emit_line(e, "continue;");
        emit_close(e);
        emit_line(e, "const %s *restrict xr = xp + (size_t)voff[0][i] * %lld;", T,
                  (long long)sp.iw);
    } else {
        emit_line(e, "const %s *restrict xr = xp + i * %lld;", T, (long long)sp.iw);
    }
    if (sp.aw->active)
        rz_emit_row_pass(e, sp.aw, &sp.pd, sp.iw, sp.ow, T, es, "yr", false);
    else
        emit_line(e, "memcpy(yr, xr, %zu);", (size_t)sp.iw * es);
    emit_close(e);
    emit_close(e);
}

static bool rz_emit(Emitter *e, const Node *n, Diag *d) {
    RzPlan pl;
    if (!rz_plan(n, &pl, d)) {
        rz_plan_free(&pl);
        return false;
    }
    if (ou_emit_if_empty(e, n)) {
        rz_plan_free(&pl);
        return true;
    }
    const RzParams *p = &pl.p;
    const DType t = n->inputs[0]->dtype;
    char sx[128], sy[128];
    if (rz_separable(&pl, t)) {
        emit_line(e, "/* Resize (%s, %s) %s -> %s, separable over the last two axes",
                  rz_mode_names[p->mode], rz_coord_names[p->coord],
                  ou_shape(sx, sizeof sx, n->inputs[0]),
                  ou_shape(sy, sizeof sy, n->outputs[0]));
        emit_line(e, " * (tables computed at compile time) */");
        if (p->mode == RZ_NEAREST) rz_emit_sep_nearest(e, &pl, t);
        else rz_emit_sep_interp(e, &pl, t);
        rz_plan_free(&pl);
        return true;
    }
    emit_line(e, "/* Resize (%s, %s) %s -> %s", rz_mode_names[p->mode],
              rz_coord_names[p->coord], ou_shape(sx, sizeof sx, n->inputs[0]),
              ou_shape(sy, sizeof sy, n->outputs[0]));
    emit_line(e, " * tables per resized axis, computed at compile time: the input offsets read "
              "by each output position%s */", p->mode == RZ_NEAREST ? "" : " and their weights");
    int64_t xs[IR_MAX_RANK];
    rz_strides(p->rank, p->in, xs);
    bool has_ext[IR_MAX_RANK] = { false };
    for (int k = 0; k < p->rank; k++)
        if (pl.ax[k].active) has_ext[k] = rz_emit_tables(e, &pl, k, xs[k], t);
    RzLoops l;
    emit_line(e, "size_t o = 0;   /* output element, row-major */");
    rz_open_loops(e, &pl, xs, &l);
    char ext[512];
    rz_ext_cond(&pl, &l, has_ext, ext, sizeof ext);
    if (p->mode == RZ_NEAREST) {
        rz_emit_nearest(e, &pl, &l, ext, t);
    } else {
        char lit[64];
        if (ext[0]) {
            emit_open(e, "if (%s)", ext);
            emit_line(e, "y0[o] = %s;", rz_ext_literal(lit, t, p->extrapolation));
            e->indent--;
            emit_open(e, "} else");
        } else {
            emit_line(e, "{");
            e->indent++;
        }
        rz_emit_interp(e, &pl, &l, t);
        emit_close(e);
    }
    emit_line(e, "o++;");
    for (int i = 0; i < l.opened; i++) emit_close(e);
    rz_plan_free(&pl);
    return true;
}

/* Work of one run: the taps read per output element (multiply-adds), one for nearest. */
static int64_t rz_flops(const Node *n) {
    RzPlan pl;
    Diag d;
    diag_init(&d);
    int64_t taps = 1;
    if (rz_plan(n, &pl, &d))
        for (int k = 0; k < pl.p.rank; k++)
            if (pl.ax[k].active) taps *= pl.ax[k].taps;
    rz_plan_free(&pl);
    diag_free(&d);
    const int64_t count = ir_numel(n->outputs[0]);
    return count < 0 ? 0 : pl.p.mode == RZ_NEAREST ? count : 2 * taps * count;
}

/* Scratch of the separable interpolation (rz_sep_scratch); none for the other paths. */
static size_t rz_scratch(const Node *n) {
    RzPlan pl;
    Diag d;
    diag_init(&d);
    const size_t bytes = rz_plan(n, &pl, &d) ? rz_sep_scratch(&pl, n->inputs[0]->dtype) : 0;
    rz_plan_free(&pl);
    diag_free(&d);
    return bytes;
}

const OpDef op_resize = {
    .name = "Resize", .domain = "", .since = 10, .min_inputs = 1, .max_inputs = 4,
    .min_outputs = 1, .max_outputs = 1, .infer = rz_infer, .fold = rz_fold, .emit = rz_emit,
    .scratch_bytes = rz_scratch, .memory = OP_MEMORY_SEPARATE, .flops = rz_flops,
};

const OpDef op_upsample = {
    .name = "Upsample", .domain = "", .since = 7, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = rz_infer, .fold = rz_fold, .emit = rz_emit,
    .scratch_bytes = rz_scratch, .memory = OP_MEMORY_SEPARATE, .flops = rz_flops,
};
