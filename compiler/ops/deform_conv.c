/* deform_conv.c: DeformConv (opset 19), deformable convolution in 2-D.
 *
 * A convolution whose taps do not sit on the regular grid: each kernel tap (kh, kw) at
 * output position (oh, ow) reads the input at
 *     (oh * stride_h - pad_h + kh * dilation_h + dh, ow * stride_w - pad_w + kw * dilation_w + dw)
 * where (dh, dw) comes from the `offset` input, per batch item, offset group, tap and
 * output position.  The point is sampled by bilinear interpolation of its four
 * neighbours, a neighbour outside the plane counting as zero (GridSample with
 * align_corners and zero padding, as the ONNX reference does); the optional `mask`
 * multiplies each sample (Deformable ConvNets v2), and the optional bias B is added.
 *
 *   X      [N][C][H][W]
 *   W      [OC][C / group][KH][KW]
 *   offset [N][offset_group * KH * KW * 2][OH][OW]   (channel = ((og * KH + kh) * KW + kw) * 2
 *                                                      + 0 for dh, 1 for dw)
 *   B      [OC]                                       (optional)
 *   mask   [N][offset_group * KH * KW][OH][OW]        (optional)
 *   Y      [N][OC][OH][OW]
 *
 * Input channel c belongs to offset group c / (C / offset_group).  The output size is
 * Conv's (ir/shape.c); offset and mask must have it.  Only 2-D (X of rank 4) in float or
 * double is supported: the emitted code is plain loops, one sample per output pixel,
 * input channel and tap (no runtime kernel).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

enum {
    DC_RANK = 4,                 /* X is [N][C][H][W]: only 2-D is supported */
    DC_SPATIAL = 2,
    DC_IN_B = 3,                 /* index of the optional bias input */
    DC_IN_MASK = 4,              /* index of the optional mask input */
    DC_FLOPS_PER_TAP = 12,       /* the multiply-add and the four-corner interpolation */
};

/* The geometry of one DeformConv node, read and checked once. */
typedef struct DcInfo {
    int64_t N, C, OC;            /* batch, input and output channels */
    int64_t group, offset_group;
    int64_t icg, ocg;            /* input / output channels per group */
    int64_t icog;                /* input channels per offset group */
    int64_t taps;                /* KH * KW */
    SpatialGeom geom;            /* in, out, kernel, stride, dilation, pads */
} DcInfo;

/* Requires input i, when present, to be `want` dims (the message names it). */
static bool dc_check_dims(const Node *n, int i, const char *what, int rank,
                          const int64_t *want, Diag *d) {
    const Value *v = op_input(n, i);
    if (!v) return true;
    bool same = v->rank == rank;
    for (int k = 0; same && k < rank; k++) same = v->dims[k] == want[k];
    if (same) return true;
    char got[128], exp[128] = "";
    size_t used = 0;
    for (int k = 0; k < rank && used < sizeof exp; k++)
        used += (size_t)snprintf(exp + used, sizeof exp - used, "[%lld]", (long long)want[k]);
    diag_error(d, n, "%s '%s' is %s, expected %s%s", what, v->name,
               ir_shape_str(got, sizeof got, v), dtype_name(v->dtype), exp);
    return false;
}

/* Types: X float or double, every other present input the same. */
static bool dc_check_types(const Node *n, Diag *d) {
    const DType t = n->inputs[0]->dtype;
    if (t != DT_FLOAT && t != DT_DOUBLE) {
        diag_error(d, n, "DeformConv of %s is not supported (float and double are)",
                   dtype_name(t));
        return false;
    }
    for (int i = 1; i < n->n_inputs; i++) {
        const Value *v = n->inputs[i];
        if (v && v->dtype != t) {
            diag_error(d, n, "input %d '%s' is %s, expected %s like X", i, v->name,
                       dtype_name(v->dtype), dtype_name(t));
            return false;
        }
    }
    return true;
}

/* Channels, groups and offset groups against X's and W's shapes. */
static bool dc_check_channels(const Node *n, DcInfo *di, Diag *d) {
    const Value *x = n->inputs[0], *w = n->inputs[1];
    di->N = x->dims[0], di->C = x->dims[1], di->OC = w->dims[0];
    di->group = ir_attr_int(n, "group", 1);
    di->offset_group = ir_attr_int(n, "offset_group", 1);
    if (di->group < 1 || di->group > di->C || di->C % di->group != 0 ||
        di->OC % di->group != 0) {
        diag_error(d, n, "group %lld must divide the input channels %lld and the output "
                   "channels %lld", (long long)di->group, (long long)di->C, (long long)di->OC);
        return false;
    }
    if (di->offset_group < 1 || di->offset_group > di->C || di->C % di->offset_group != 0) {
        diag_error(d, n, "offset_group %lld must divide the input channels %lld",
                   (long long)di->offset_group, (long long)di->C);
        return false;
    }
    di->icg = di->C / di->group;
    di->ocg = di->OC / di->group;
    di->icog = di->C / di->offset_group;
    if (w->dims[1] != di->icg) {
        diag_error(d, n, "W has %lld input channels per group, expected %lld (C %lld / group "
                   "%lld)", (long long)w->dims[1], (long long)di->icg, (long long)di->C,
                   (long long)di->group);
        return false;
    }
    return true;
}

/* kernel_shape, if given, must be W's spatial dims. */
static bool dc_check_kernel_shape(const Node *n, Diag *d) {
    const Value *w = n->inputs[1];
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk == 0) return true;
    if (nk != DC_SPATIAL) {
        diag_error(d, n, "kernel_shape has %zu values, expected %d", nk, DC_SPATIAL);
        return false;
    }
    for (int i = 0; i < DC_SPATIAL; i++) {
        if (ks[i] != w->dims[2 + i]) {
            diag_error(d, n, "kernel_shape[%d] = %lld differs from W's %lld", i,
                       (long long)ks[i], (long long)w->dims[2 + i]);
            return false;
        }
    }
    return true;
}

/* Reads and checks everything but the offset and mask shapes. */
static bool dc_info(const Node *n, DcInfo *di, Diag *d) {
    memset(di, 0, sizeof *di);
    const Value *x = n->inputs[0], *w = n->inputs[1];
    if (!dc_check_types(n, d)) return false;
    if (x->rank != DC_RANK) {
        diag_error(d, n, "X has rank %d: only 2-D DeformConv (X of rank %d) is supported",
                   x->rank, DC_RANK);
        return false;
    }
    if (w->rank != x->rank) {
        diag_error(d, n, "weight W has rank %d, expected %d like X", w->rank, x->rank);
        return false;
    }
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] < 1 || w->dims[i] < 1) {
            diag_error(d, n, "X and W must have no empty dimension");
            return false;
        }
    }
    if (ir_attr(n, "auto_pad")) {
        diag_error(d, n, "DeformConv has no attribute auto_pad (give pads)");
        return false;
    }
    if (!dc_check_channels(n, di, d) || !dc_check_kernel_shape(n, d)) return false;
    if (!shape_spatial_geom(n, DC_SPATIAL, x->dims + 2, w->dims + 2, false, &di->geom, d))
        return false;
    di->taps = di->geom.kernel[0] * di->geom.kernel[1];   /* each at most 2^20 */
    return true;
}

static bool dc_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    for (int i = 0; i < n->n_inputs; i++)
        if ((i < 3 || n->inputs[i]) && !op_require_shape(n, i, d)) return false;
    DcInfo di;
    if (!dc_info(n, &di, d)) return false;
    const SpatialGeom *sg = &di.geom;
    int64_t tap_groups, offset_channels;
    if (!i64_mul(di.offset_group, di.taps, &tap_groups) ||
        !i64_mul(tap_groups, DC_SPATIAL, &offset_channels)) {
        diag_error(d, n, "offset_group x kernel size overflows");
        return false;
    }
    const int64_t offset_dims[] = { di.N, offset_channels, sg->out[0], sg->out[1] };
    const int64_t mask_dims[] = { di.N, tap_groups, sg->out[0], sg->out[1] };
    const int64_t bias_dims[] = { di.OC };
    if (!dc_check_dims(n, 2, "offset", DC_RANK, offset_dims, d) ||
        !dc_check_dims(n, DC_IN_B, "bias B", 1, bias_dims, d) ||
        !dc_check_dims(n, DC_IN_MASK, "mask", DC_RANK, mask_dims, d))
        return false;
    const int64_t y_dims[] = { di.N, di.OC, sg->out[0], sg->out[1] };
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, DC_RANK, y_dims, d);
}

/* ---- folding -------------------------------------------------------------------------- */

/* Element (h, w) of plane p of x (x seen as [planes][H][W]), zero outside the plane. */
static double dc_pixel(const Value *x, int64_t p, int64_t h, int64_t w, int64_t H, int64_t W) {
    if (h < 0 || h >= H || w < 0 || w >= W) return 0.0;
    return ou_get_f64(x, (p * H + h) * W + w);
}

/* Bilinear sample of plane p at (ph, pw), neighbours outside the plane counting zero. */
static double dc_sample(const Value *x, int64_t p, double ph, double pw, int64_t H, int64_t W) {
    if (!(ph > -1.0 && ph < (double)H && pw > -1.0 && pw < (double)W)) return 0.0;
    const double fh = floor(ph), fw = floor(pw);
    const double lh = ph - fh, lw = pw - fw;
    const int64_t h0 = (int64_t)fh, w0 = (int64_t)fw;
    return (1 - lh) * (1 - lw) * dc_pixel(x, p, h0, w0, H, W) +
           (1 - lh) * lw * dc_pixel(x, p, h0, w0 + 1, H, W) +
           lh * (1 - lw) * dc_pixel(x, p, h0 + 1, w0, H, W) +
           lh * lw * dc_pixel(x, p, h0 + 1, w0 + 1, H, W);
}

/* Output element (n, oc, oh, ow): the sum over the group's channels and the taps. */
static double dc_fold_one(const Node *n, const DcInfo *di, int64_t b, int64_t oc, int64_t oh,
                          int64_t ow) {
    const SpatialGeom *sg = &di->geom;
    const Value *x = n->inputs[0], *w = n->inputs[1], *off = n->inputs[2];
    const Value *bias = op_input(n, DC_IN_B), *mask = op_input(n, DC_IN_MASK);
    const int64_t H = sg->in[0], W = sg->in[1], KW = sg->kernel[1];
    const int64_t plane_out = sg->out[0] * sg->out[1], pos = oh * sg->out[1] + ow;
    const int64_t c0 = oc / di->ocg * di->icg;
    double acc = bias ? ou_get_f64(bias, oc) : 0.0;
    for (int64_t c = 0; c < di->icg; c++) {
        const int64_t og = (c0 + c) / di->icog;
        for (int64_t k = 0; k < di->taps; k++) {
            const int64_t kh = k / KW, kw = k % KW;
            const int64_t tap = (b * di->offset_group + og) * di->taps + k;
            const double ph = (double)(oh * sg->stride[0] - sg->pad_begin[0] +
                                       kh * sg->dilation[0]) +
                              ou_get_f64(off, (2 * tap) * plane_out + pos);
            const double pw = (double)(ow * sg->stride[1] - sg->pad_begin[1] +
                                       kw * sg->dilation[1]) +
                              ou_get_f64(off, (2 * tap + 1) * plane_out + pos);
            double v = dc_sample(x, b * di->C + c0 + c, ph, pw, H, W);
            if (mask) v *= ou_get_f64(mask, tap * plane_out + pos);
            acc += ou_get_f64(w, (oc * di->icg + c) * di->taps + k) * v;
        }
    }
    return acc;
}

static bool dc_fold(Graph *g, Node *n, Diag *d) {
    DcInfo di;
    Value *y = n->outputs[0];
    if (!dc_info(n, &di, d) || !ir_value_alloc_data(g, y, d)) return false;
    const int64_t OH = di.geom.out[0], OW = di.geom.out[1];
    int64_t i = 0;
    for (int64_t b = 0; b < di.N; b++)
        for (int64_t oc = 0; oc < di.OC; oc++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++)
                    ou_set_f64(y, i++, dc_fold_one(n, &di, b, oc, oh, ow));
    return true;
}

/* ---- emitting ------------------------------------------------------------------------- */

/* "o * s - p + k * dl" for the sampling grid of one axis, trivial terms left out. */
static void dc_grid_expr(char *s, size_t size, const char *o, int64_t stride, int64_t pad,
                         const char *k, int64_t dilation) {
    int used = stride == 1 ? snprintf(s, size, "%s", o)
                           : snprintf(s, size, "%s * %lld", o, (long long)stride);
    if (pad != 0) used += snprintf(s + used, size - (size_t)used, " - %lld", (long long)pad);
    if (dilation == 1) snprintf(s + used, size - (size_t)used, " + %s", k);
    else snprintf(s + used, size - (size_t)used, " + %s * %lld", k, (long long)dilation);
}

/* The bilinear sample `v` of `plane` at (ph, pw), zero outside: the four neighbours,
 * each inside the plane weighted by its distance. */
static void dc_emit_sample(Emitter *e, bool dbl, int64_t H, int64_t W) {
    const char *T = dbl ? "double" : "float", *fl = dbl ? "floor" : "floorf";
    char m1[32], fh[32], fw[32];
    if (dbl) c_double(m1, -1.0), c_double(fh, (double)H), c_double(fw, (double)W);
    else c_float(m1, -1.0f), c_float(fh, (float)H), c_float(fw, (float)W);
    emit_line(e, "%s v = 0;   /* bilinear sample, zero outside the %lldx%lld plane */", T,
              (long long)H, (long long)W);
    /* the test also keeps NaN and huge offsets away from the integer conversions */
    emit_open(e, "if (ph > %s && ph < %s && pw > %s && pw < %s)", m1, fh, m1, fw);
    emit_line(e, "const %s fh = %s(ph), fw = %s(pw);", T, fl, fl);
    emit_line(e, "const %s lh = ph - fh, lw = pw - fw;", T);
    emit_line(e, "const int64_t h0 = (int64_t)fh, w0 = (int64_t)fw;   /* -1 .. size - 1 */");
    emit_line(e, "if (h0 >= 0 && w0 >= 0) v += (1 - lh) * (1 - lw) * plane[h0 * %lld + w0];",
              (long long)W);
    emit_line(e, "if (h0 >= 0 && w0 + 1 < %lld) v += (1 - lh) * lw * plane[h0 * %lld + w0 + 1];",
              (long long)W, (long long)W);
    emit_line(e, "if (h0 + 1 < %lld && w0 >= 0) v += lh * (1 - lw) * plane[(h0 + 1) * %lld + w0];",
              (long long)H, (long long)W);
    emit_line(e, "if (h0 + 1 < %lld && w0 + 1 < %lld) v += lh * lw * plane[(h0 + 1) * %lld + "
              "w0 + 1];", (long long)H, (long long)W, (long long)W);
    emit_close(e);
}

/* The loops over one output element's input channels and taps, accumulating into acc. */
static void dc_emit_taps(Emitter *e, const Node *n, const DcInfo *di) {
    const SpatialGeom *sg = &di->geom;
    const bool dbl = n->inputs[0]->dtype == DT_DOUBLE;
    const char *T = dbl ? "double" : "float";
    const long long H = sg->in[0], W = sg->in[1], KH = sg->kernel[0], KW = sg->kernel[1];
    const long long plane_out = sg->out[0] * sg->out[1];
    char gh[128], gw[128];
    dc_grid_expr(gh, sizeof gh, "oh", sg->stride[0], sg->pad_begin[0], "kh", sg->dilation[0]);
    dc_grid_expr(gw, sizeof gw, "ow", sg->stride[1], sg->pad_begin[1], "kw", sg->dilation[1]);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)di->icg);
    emit_line(e, "const %s *plane = x0 + (n * %lld + c0 + c) * %lld;", T, (long long)di->C,
              H * W);
    emit_line(e, "const int64_t og = (c0 + c) / %lld;   /* offset group */",
              (long long)di->icog);
    emit_open(e, "for (int64_t kh = 0; kh < %lld; kh++)", KH);
    emit_open(e, "for (int64_t kw = 0; kw < %lld; kw++)", KW);
    emit_line(e, "const int64_t tap = (n * %lld + og) * %lld + kh * %lld + kw;   "
              "/* [n][og][kh][kw] */", (long long)di->offset_group, (long long)di->taps, KW);
    emit_line(e, "const %s ph = (%s)(%s) + x2[(2 * tap) * %lld + pos];", T, T, gh, plane_out);
    emit_line(e, "const %s pw = (%s)(%s) + x2[(2 * tap + 1) * %lld + pos];", T, T, gw,
              plane_out);
    dc_emit_sample(e, dbl, H, W);
    if (op_input(n, DC_IN_MASK)) emit_line(e, "v *= x%d[tap * %lld + pos];", DC_IN_MASK, plane_out);
    emit_line(e, "acc += x1[((oc * %lld + c) * %lld + kh) * %lld + kw] * v;",
              (long long)di->icg, KH, KW);
    emit_close(e);
    emit_close(e);
    emit_close(e);
}

static bool dc_emit(Emitter *e, const Node *n, Diag *d) {
    DcInfo di;
    if (!dc_info(n, &di, d)) return false;
    const SpatialGeom *sg = &di.geom;
    const char *T = n->inputs[0]->dtype == DT_DOUBLE ? "double" : "float";
    const long long OH = sg->out[0], OW = sg->out[1];
    char sx[128], sw[128], so[128], sy[128];
    emit_line(e, "/* DeformConv %s * %s, offset %s -> %s", ou_shape(sx, sizeof sx, n->inputs[0]),
              ou_shape(sw, sizeof sw, n->inputs[1]), ou_shape(so, sizeof so, n->inputs[2]),
              ou_shape(sy, sizeof sy, n->outputs[0]));
    emit_line(e, " * %lld groups, %lld offset groups; strides %lld, %lld; pads %lld, %lld "
              "(begin); dilations %lld, %lld", (long long)di.group, (long long)di.offset_group,
              (long long)sg->stride[0], (long long)sg->stride[1], (long long)sg->pad_begin[0],
              (long long)sg->pad_begin[1], (long long)sg->dilation[0],
              (long long)sg->dilation[1]);
    emit_line(e, " * offset [n][og][kh][kw][dh, dw][oh][ow]%s%s */",
              op_input(n, DC_IN_MASK) ? ", mask [n][og][kh][kw][oh][ow]" : "",
              op_input(n, DC_IN_B) ? ", bias x3" : "");
    emit_open(e, "for (int64_t n = 0; n < %lld; n++)", (long long)di.N);
    emit_open(e, "for (int64_t oc = 0; oc < %lld; oc++)", (long long)di.OC);
    emit_line(e, "const int64_t c0 = oc / %lld * %lld;   /* the group's first input channel */",
              (long long)di.ocg, (long long)di.icg);
    emit_open(e, "for (int64_t oh = 0; oh < %lld; oh++)", OH);
    emit_open(e, "for (int64_t ow = 0; ow < %lld; ow++)", OW);
    emit_line(e, "const int64_t pos = oh * %lld + ow;", OW);
    emit_line(e, "%s acc = %s;", T, op_input(n, DC_IN_B) ? "x3[oc]" : "0");
    dc_emit_taps(e, n, &di);
    emit_line(e, "y0[(n * %lld + oc) * %lld + pos] = acc;", (long long)di.OC, OH * OW);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

static int64_t dc_flops(const Node *n) {
    const Value *w = n->inputs[1];
    int64_t per_out = DC_FLOPS_PER_TAP, f;
    for (int i = 1; i < w->rank; i++)
        if (!i64_mul(per_out, w->dims[i], &per_out)) return -1;
    return i64_mul(ir_numel(n->outputs[0]), per_out, &f) ? f : -1;
}

const OpDef op_deformconv = {
    .name = "DeformConv", .domain = "", .since = 19, .min_inputs = 3, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 1, .infer = dc_infer, .fold = dc_fold, .emit = dc_emit,
    .flops = dc_flops, .memory = OP_MEMORY_SEPARATE,
};
