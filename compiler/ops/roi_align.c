/* roi_align.c: RoiAlign, pooling of each region of interest of an NCHW feature map into
 * an [output_height][output_width] grid with bilinear sampling (Mask R-CNN).
 *
 * Region r is rois[r] = (x1, y1, x2, y2) in input coordinates times spatial_scale, taken
 * from image batch_indices[r]; half_pixel (the default since opset 16) shifts it by -0.5
 * pixel, output_half_pixel (opset 10's behaviour) does not and makes it at least 1x1.
 * Each output cell samples a grid of sampling_ratio x sampling_ratio points (when 0:
 * ceil(region size / output size) per axis, which depends on the region, so it is
 * computed at run time) and averages them (mode avg) or takes their maximum (mode max).
 * Sampling follows the ONNX reference and onnxruntime exactly: points more than one pixel
 * outside the map count as 0, others are clamped to it; in max mode a point's value is
 * the largest of its four weighted corners, not their sum.
 *
 * ROIs and batch indices are run-time data: a batch index outside [0, N) makes the
 * generated function fail (return 1); non-finite coordinates give zero samples. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum {
    ROI_MAX_GRID = 1 << 16,   /* sampling points per axis and cell: bounds hostile ROIs */
};

static const DType roi_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

typedef struct RoiAlign {
    int64_t rois, channels, height, width, batch;
    int64_t out_h, out_w, sampling;
    double scale;
    bool half_pixel, max_mode;
} RoiAlign;

/* Whether the product of v's dims, zeros counted as 1, fits in int64: then every stride
 * and partial product computed from them does too, even for an empty tensor. */
static bool roi_dims_fit(const Value *v) {
    int64_t n = 1;
    for (int k = 0; k < v->rank; k++)
        if (!i64_mul(n, v->dims[k] > 0 ? v->dims[k] : 1, &n)) return false;
    return true;
}

static bool roi_params(const Node *n, RoiAlign *p, Diag *d) {
    for (int i = 0; i < 3; i++)
        if (!op_require_shape(n, i, d)) return false;
    if (!ou_check_dtype(n, 0, roi_types, d)) return false;
    const Value *x = n->inputs[0], *rois = n->inputs[1], *bi = n->inputs[2];
    if (x->rank != 4) {
        diag_error(d, n, "X '%s' has rank %d, RoiAlign needs [N][C][H][W]", x->name, x->rank);
        return false;
    }
    if (!roi_dims_fit(x)) {
        diag_error(d, n, "X '%s' has too many elements", x->name);
        return false;
    }
    if (rois->dtype != x->dtype || rois->rank != 2 || rois->dims[1] != 4) {
        diag_error(d, n, "rois '%s' must be %s [num_rois][4]", rois->name, dtype_name(x->dtype));
        return false;
    }
    if (bi->dtype != DT_INT64 || bi->rank != 1 || bi->dims[0] != rois->dims[0]) {
        diag_error(d, n, "batch_indices '%s' must be int64 [%lld]", bi->name,
                   (long long)rois->dims[0]);
        return false;
    }
    const char *ctm = ir_attr_string(n, "coordinate_transformation_mode",
                                     n->opset >= 16 ? "half_pixel" : "output_half_pixel");
    const char *mode = ir_attr_string(n, "mode", "avg");
    if (strcmp(ctm, "half_pixel") != 0 && strcmp(ctm, "output_half_pixel") != 0) {
        diag_error(d, n, "coordinate_transformation_mode '%s' is not half_pixel or "
                   "output_half_pixel", ctm);
        return false;
    }
    if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0) {
        diag_error(d, n, "mode '%s' is not avg or max", mode);
        return false;
    }
    p->half_pixel = strcmp(ctm, "half_pixel") == 0;
    p->max_mode = strcmp(mode, "max") == 0;
    p->out_h = ir_attr_int(n, "output_height", 1);
    p->out_w = ir_attr_int(n, "output_width", 1);
    p->sampling = ir_attr_int(n, "sampling_ratio", 0);
    p->scale = ir_attr_float(n, "spatial_scale", 1.0f);
    if (p->out_h < 1 || p->out_w < 1 || p->sampling < 0 || p->sampling > ROI_MAX_GRID) {
        diag_error(d, n, "output_height %lld, output_width %lld must be >= 1 and "
                   "sampling_ratio %lld in [0, %d]", (long long)p->out_h, (long long)p->out_w,
                   (long long)p->sampling, ROI_MAX_GRID);
        return false;
    }
    if (!isfinite(p->scale)) {
        diag_error(d, n, "spatial_scale %g is not finite", p->scale);
        return false;
    }
    p->batch = x->dims[0];
    p->channels = x->dims[1];
    p->height = x->dims[2];
    p->width = x->dims[3];
    p->rois = rois->dims[0];
    return true;
}

static bool roi_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    RoiAlign p;
    if (!roi_params(n, &p, d)) return false;
    const int64_t dims[4] = { p.rois, p.channels, p.out_h, p.out_w };
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, 4, dims, d);
}

/* ---- folding (the same arithmetic as the emitted code, in double) ---- */

/* Sampling points per cell along one axis for a region of `size` over `cells`. */
static int64_t roi_grid(const RoiAlign *p, double size, int64_t cells) {
    if (p->sampling > 0) return p->sampling;
    const double g = ceil(size / (double)cells);
    return g > 0 ? (g < ROI_MAX_GRID ? (int64_t)g : ROI_MAX_GRID) : 0;   /* NaN -> 0 */
}

/* The value of point (y, x) of channel plane xc (offset base in x). */
static double roi_sample(const RoiAlign *p, const Value *x, int64_t base, double y, double xx) {
    const int64_t h = p->height, w = p->width;
    if (!(y >= -1.0 && y <= (double)h && xx >= -1.0 && xx <= (double)w)) return 0.0;
    if (y < 0) y = 0;
    if (xx < 0) xx = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)xx, y1, x1;
    if (y0 >= h - 1) y1 = y0 = h - 1, y = (double)y0;
    else y1 = y0 + 1;
    if (x0 >= w - 1) x1 = x0 = w - 1, xx = (double)x0;
    else x1 = x0 + 1;
    const double ly = y - (double)y0, lx = xx - (double)x0, hy = 1 - ly, hx = 1 - lx;
    const double v1 = hy * hx * ou_get_f64(x, base + y0 * w + x0);
    const double v2 = hy * lx * ou_get_f64(x, base + y0 * w + x1);
    const double v3 = ly * hx * ou_get_f64(x, base + y1 * w + x0);
    const double v4 = ly * lx * ou_get_f64(x, base + y1 * w + x1);
    if (!p->max_mode) return v1 + v2 + v3 + v4;
    return fmax(fmax(v1, v2), fmax(v3, v4));
}

static bool roi_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *rois = n->inputs[1], *bi = n->inputs[2];
    Value *out = n->outputs[0];
    RoiAlign p;
    if (!roi_params(n, &p, d) || !ir_value_alloc_data(g, out, d)) return false;
    const double off = p.half_pixel ? 0.5 : 0.0;
    for (int64_t r = 0; r < p.rois; r++) {
        const int64_t b = ir_const_get_i64(bi, r);
        if (b < 0 || b >= p.batch) {
            diag_error(d, n, "batch index %lld of ROI %lld is out of range [0, %lld)",
                       (long long)b, (long long)r, (long long)p.batch);
            return false;
        }
        const double sw = ou_get_f64(rois, r * 4) * p.scale - off;
        const double sh = ou_get_f64(rois, r * 4 + 1) * p.scale - off;
        double rw = ou_get_f64(rois, r * 4 + 2) * p.scale - off - sw;
        double rh = ou_get_f64(rois, r * 4 + 3) * p.scale - off - sh;
        if (!p.half_pixel) rw = fmax(rw, 1.0), rh = fmax(rh, 1.0);
        const double bh = rh / (double)p.out_h, bw = rw / (double)p.out_w;
        const int64_t gh = roi_grid(&p, rh, p.out_h), gw = roi_grid(&p, rw, p.out_w);
        const double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;
        for (int64_t c = 0; c < p.channels; c++) {
            const int64_t base = (b * p.channels + c) * p.height * p.width;
            for (int64_t ph = 0; ph < p.out_h; ph++)
                for (int64_t pw = 0; pw < p.out_w; pw++) {
                    double acc = 0;
                    for (int64_t iy = 0; iy < gh; iy++)
                        for (int64_t ix = 0; ix < gw; ix++) {
                            const double yy = sh + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                            const double xx = sw + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            const double v = roi_sample(&p, x, base, yy, xx);
                            acc = !p.max_mode ? acc + v : (iy == 0 && ix == 0) ? v : fmax(acc, v);
                        }
                    const int64_t at = ((r * p.channels + c) * p.out_h + ph) * p.out_w + pw;
                    ou_set_f64(out, at, p.max_mode ? acc : acc / count);
                }
        }
    }
    return true;
}

/* ---- emitting ---- */

/* The sampling grid along one axis: `const int64_t NAME = ...;` */
static void roi_emit_grid(Emitter *e, const RoiAlign *p, const char *name, const char *size,
                          int64_t cells) {
    if (p->sampling > 0) {
        emit_line(e, "const int64_t %s = %lld;   /* sampling_ratio */", name,
                  (long long)p->sampling);
        return;
    }
    emit_line(e, "const double %s_d = ceil(%s / %lld.0);", name, size, (long long)cells);
    emit_line(e, "/* NaN and negative sizes sample nothing; huge ones are bounded */");
    emit_line(e, "const int64_t %s = %s_d > 0 ? (%s_d < %d ? (int64_t)%s_d : %d) : 0;", name,
              name, name, ROI_MAX_GRID, name, ROI_MAX_GRID);
}

/* Emits `v = ` the sample at (yy, xx) of plane xc. */
static void roi_emit_sample(Emitter *e, const RoiAlign *p) {
    const long long h = (long long)p->height, w = (long long)p->width;
    emit_line(e, "double v = 0.0;   /* points beyond one pixel outside the map count 0 */");
    emit_open(e, "if (yy >= -1.0 && yy <= %lld.0 && xx >= -1.0 && xx <= %lld.0)", h, w);
    emit_line(e, "double y = yy > 0 ? yy : 0.0, x = xx > 0 ? xx : 0.0;");
    emit_line(e, "int64_t ylo = (int64_t)y, xlo = (int64_t)x, yhi = ylo + 1, xhi = xlo + 1;");
    emit_line(e, "if (ylo >= %lld) ylo = yhi = %lld, y = (double)ylo;", h - 1, h - 1);
    emit_line(e, "if (xlo >= %lld) xlo = xhi = %lld, x = (double)xlo;", w - 1, w - 1);
    emit_line(e, "const double ly = y - (double)ylo, lx = x - (double)xlo;");
    emit_line(e, "const double hy = 1.0 - ly, hx = 1.0 - lx;");
    emit_line(e, "const double v1 = hy * hx * (double)xc[ylo * %lld + xlo];", w);
    emit_line(e, "const double v2 = hy * lx * (double)xc[ylo * %lld + xhi];", w);
    emit_line(e, "const double v3 = ly * hx * (double)xc[yhi * %lld + xlo];", w);
    emit_line(e, "const double v4 = ly * lx * (double)xc[yhi * %lld + xhi];", w);
    if (p->max_mode)
        emit_line(e, "v = fmax(fmax(v1, v2), fmax(v3, v4));   /* max: the largest corner */");
    else
        emit_line(e, "v = v1 + v2 + v3 + v4;");
    emit_close(e);
}

static bool roi_emit(Emitter *e, const Node *n, Diag *d) {
    RoiAlign p;
    if (!roi_params(n, &p, d)) return false;
    const char *T = dtype_ctype(n->inputs[0]->dtype);
    char sx[128], sy[128], scale[32];
    emit_line(e, "/* RoiAlign (%s, %s) %s -> %s */", p.max_mode ? "max" : "avg",
              p.half_pixel ? "half_pixel" : "output_half_pixel",
              ou_shape(sx, sizeof sx, n->inputs[0]), ou_shape(sy, sizeof sy, n->outputs[0]));
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)p.rois);
    emit_line(e, "const int64_t b = x2[r];");
    emit_line(e, "if (b < 0 || b >= %lld) return 1;   /* batch index out of range */",
              (long long)p.batch);
    c_double(scale, p.scale);
    const char *off = p.half_pixel ? " - 0.5" : "";
    emit_line(e, "const double sw = (double)x1[r * 4] * %s%s;", scale, off);
    emit_line(e, "const double sh = (double)x1[r * 4 + 1] * %s%s;", scale, off);
    emit_line(e, "double rw = (double)x1[r * 4 + 2] * %s%s - sw;", scale, off);
    emit_line(e, "double rh = (double)x1[r * 4 + 3] * %s%s - sh;", scale, off);
    if (!p.half_pixel) {
        emit_line(e, "rw = fmax(rw, 1.0);   /* output_half_pixel: at least one pixel */");
        emit_line(e, "rh = fmax(rh, 1.0);");
    }
    emit_line(e, "const double bh = rh / %lld.0, bw = rw / %lld.0;   /* cell size */",
              (long long)p.out_h, (long long)p.out_w);
    roi_emit_grid(e, &p, "gh", "rh", p.out_h);
    roi_emit_grid(e, &p, "gw", "rw", p.out_w);
    if (!p.max_mode)
        emit_line(e, "const double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;");
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)p.channels);
    emit_line(e, "const %s *xc = x0 + ((size_t)b * %lld + c) * %lld;   /* [H][W] */", T,
              (long long)p.channels, (long long)(p.height * p.width));
    emit_line(e, "%s *yc = y0 + (r * %lld + c) * %lld;", T, (long long)p.channels,
              (long long)(p.out_h * p.out_w));
    emit_open(e, "for (size_t ph = 0; ph < %lld; ph++)", (long long)p.out_h);
    emit_open(e, "for (size_t pw = 0; pw < %lld; pw++)", (long long)p.out_w);
    emit_line(e, "double acc = 0.0;");
    emit_open(e, "for (int64_t iy = 0; iy < gh; iy++)");
    emit_line(e, "const double yy = sh + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;");
    emit_open(e, "for (int64_t ix = 0; ix < gw; ix++)");
    emit_line(e, "const double xx = sw + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;");
    roi_emit_sample(e, &p);
    if (p.max_mode) emit_line(e, "acc = iy == 0 && ix == 0 ? v : fmax(acc, v);");
    else emit_line(e, "acc += v;");
    emit_close(e);
    emit_close(e);
    emit_line(e, "yc[ph * %lld + pw] = (%s)(acc%s);", (long long)p.out_w, T,
              p.max_mode ? "" : " / count");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_roialign = {
    .name = "RoiAlign", .domain = "", .since = 10, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = roi_infer, .fold = roi_fold,
    .emit = roi_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
