/* conv.c: Conv (1-D to 3-D, groups, depthwise, dilations, pads, auto_pad), emitted as
 * one call to the runtime's onnxcc_f32_conv with the geometry baked in; when the
 * pack_weights pass packed W (kern_is_packed), to the kernel that kern_conv_path names:
 * onnxcc_f32_conv_packed, for small planes (onnxcc_conv_use_small) onnxcc_f32_conv_small,
 * whose weights are packed as its GEMM's B instead, for few input channels
 * (onnxcc_conv_first_use: first layers) the direct onnxcc_f32_conv_first, or for 3x3
 * stride-1 convolutions (onnxcc_conv_wino_use) Winograd's onnxcc_f32_conv_wino, or for
 * the other kernels of 3 x 3 and more on 32 input channels and more
 * (onnxcc_conv_blocked_use: resnet's stride-2 and 7 x 7 layers) the direct
 * onnxcc_f32_conv_blocked.
 *
 * Inputs: X [N, C, spatial...], W [M, C / group, kernel...], optional B [M].  The fusion
 * pass may append a PRelu slope (one value, or one per output channel) and a residual of
 * Y's shape; node->epi says at which input index.
 *
 * Those kernels are float32's.  double, float16 and bfloat16 convolutions are emitted as
 * direct loops instead (conv_emit_loops: accumulation in double, or in float for the half
 * types, rounded before the bias is added, as the reference's im2col GEMM does); the
 * float32 path is unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ir/shape.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "onnxcc_rt.h"


/* The bias B: input 2, unless the fusion pass put its slope or residual there. */
static const Value *bias_of(const Node *n) {
    if (n->epi.slope_input == 2 || n->epi.residual_input == 2) return NULL;
    return op_input(n, 2);
}

/* Everything the emitter needs, validated. */
typedef struct ConvInfo {
    int64_t N, C, M, group;
    SpatialGeom geom;
} ConvInfo;

static bool conv_info(const Node *n, ConvInfo *ci, Diag *d) {
    Value w_shape;
    const Value *x = n->inputs[0], *w = kern_weight(n, &w_shape), *b = bias_of(n);
    const DType t = x->dtype;
    if (t != DT_FLOAT && t != DT_DOUBLE && t != DT_FLOAT16 && t != DT_BFLOAT16) {
        diag_error(d, n, "Conv of %s is not supported (float, double, float16, bfloat16)",
                   dtype_name(t));
        return false;
    }
    for (int i = 1; i < n->n_inputs; i++) {
        const Value *v = n->inputs[i];
        if (v && v->dtype != t) {
            diag_error(d, n, "Conv input %d '%s' is %s, expected %s like X", i, v->name,
                       dtype_name(v->dtype), dtype_name(t));
            return false;
        }
    }
    if (x->rank < 3 || x->rank > 5) {
        diag_error(d, n, "input X must have rank 3 to 5 (1-D to 3-D convolution), got %d",
                   x->rank);
        return false;
    }
    if (w->rank != x->rank) {
        diag_error(d, n, "weight W has rank %d, expected %d like X", w->rank, x->rank);
        return false;
    }
    int ns = x->rank - 2;
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] < 1 || w->dims[i] < 1) {
            diag_error(d, n, "X and W must have no empty dimension");
            return false;
        }
    }
    ci->N = x->dims[0], ci->C = x->dims[1], ci->M = w->dims[0];
    ci->group = ir_attr_int(n, "group", 1);
    if (ci->group < 1 || ci->group > ci->C) {
        diag_error(d, n, "group %lld must be in 1..%lld (the input channels)",
                   (long long)ci->group, (long long)ci->C);
        return false;
    }
    if (ci->C % ci->group != 0 || ci->M % ci->group != 0) {
        diag_error(d, n, "group %lld does not divide the input channels %lld and the output "
                   "channels %lld", (long long)ci->group, (long long)ci->C, (long long)ci->M);
        return false;
    }
    int64_t w_channels;
    if (!i64_mul(w->dims[1], ci->group, &w_channels) || w_channels != ci->C) {
        diag_error(d, n, "W has %lld input channels per group, expected %lld (C %lld / group "
                   "%lld)", (long long)w->dims[1], (long long)(ci->C / ci->group),
                   (long long)ci->C, (long long)ci->group);
        return false;
    }
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk != 0) {
        if (nk != (size_t)ns) {
            diag_error(d, n, "kernel_shape has %zu values, expected %d", nk, ns);
            return false;
        }
        for (int i = 0; i < ns; i++) {
            if (ks[i] != w->dims[2 + i]) {
                diag_error(d, n, "kernel_shape[%d] = %lld differs from W's %lld", i,
                           (long long)ks[i], (long long)w->dims[2 + i]);
                return false;
            }
        }
    }
    if (b && (b->rank != 1 || b->dims[0] != ci->M)) {
        char buf[128];
        diag_error(d, n, "bias B must be [%lld], got %s", (long long)ci->M,
                   ir_shape_str(buf, sizeof buf, b));
        return false;
    }
    return shape_spatial_geom(n, ns, x->dims + 2, w->dims + 2, false, &ci->geom, d);
}

/* The path of a Conv whose weights are not packed (onnxcc_f32_conv). */
#define CONV_UNPACKED (-1)
static bool scratch_of(const ConvInfo *ci, int path, size_t *out);
static bool conv_packed_floats(const ConvInfo *ci, size_t *out);
static bool conv_kdim(const ConvInfo *ci, size_t *kdim);
static bool conv_small(const ConvInfo *ci);
static bool conv_first(const ConvInfo *ci);
static bool conv_first_floats(const ConvInfo *ci, size_t *out);
static bool conv_wino(const ConvInfo *ci);
static void conv_geom3(const ConvInfo *ci, OnnxccGeom3 *G);
static bool conv_blocked(const ConvInfo *ci);

static bool conv_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (kern_is_packed(n) || ir_attr(n, KERN_ATTR_PATH)) {
        diag_error(d, n, "attributes '%s' and '%s' are reserved for onnxcc's own use",
                   KERN_ATTR_PACKED, KERN_ATTR_PATH);
        return false;
    }
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (bias_of(n) && !op_require_shape(n, 2, d)) return false;
    ConvInfo ci;
    if (!conv_info(n, &ci, d)) return false;
    int64_t dims[IR_MAX_RANK] = {ci.N, ci.M};
    for (int i = 0; i < ci.geom.n_spatial; i++) dims[2 + i] = ci.geom.out[i];
    if (shape_numel(2 + ci.geom.n_spatial, dims) < 0) {
        diag_error(d, n, "output size overflows");
        return false;
    }
    size_t scratch;
    if (!scratch_of(&ci, CONV_UNPACKED, &scratch) || scratch > ((size_t)1 << 40)) {
        diag_error(d, n, "the im2col buffer of this convolution is too large");
        return false;
    }
    ir_value_set_shape(n->outputs[0], n->inputs[0]->dtype, 2 + ci.geom.n_spatial, dims);
    return true;
}

/* ---- Conv in double, float16 or bfloat16: direct loops ------------------------------- */

/* Declares `acc_t dst` holding element `src` of type t (half types converted). */
static void conv_loop_load(Emitter *e, DType t, const char *dst, const char *src) {
    ou_emit_load(e, t, dtype_ctype(t), dst, src);
}

/* y[n][m][o...] = sum over the group's channels c and taps k of x[n][c][o*s - p + k*d]
 * w[m][c][k] (+ b[m]), skipping taps in the padding.  Accumulates in float (double for
 * double) in the order of the reference's im2col GEMM, rounds, then adds the bias. */
static bool conv_emit_loops(Emitter *e, const Node *n, const ConvInfo *ci, Diag *d) {
    if (n->epi.act != ONNXCC_ACT_NONE || n->epi.slope_input >= 0 ||
        n->epi.residual_input >= 0 || kern_is_packed(n)) {
        diag_error(d, n, "internal error: a fused epilogue or packed weights on a %s Conv",
                   dtype_name(n->inputs[0]->dtype));
        return false;
    }
    const SpatialGeom *g = &ci->geom;
    const int ns = g->n_spatial;
    const DType t = n->inputs[0]->dtype;
    const char *acc_t = t == DT_DOUBLE ? "double" : "float";
    const int64_t cg = ci->C / ci->group, mg = ci->M / ci->group;
    int64_t in_sz = 1, out_sz = 1, k_sz = 1;
    for (int i = 0; i < ns; i++) in_sz *= g->in[i], out_sz *= g->out[i], k_sz *= g->kernel[i];
    emit_line(e, "/* Conv in %s by direct loops, accumulated in %s: %lld groups of %lld "
              "input and %lld output channels */", dtype_name(t), acc_t,
              (long long)ci->group, (long long)cg, (long long)mg);
    emit_open(e, "for (int64_t nb = 0; nb < %lld; nb++)", (long long)ci->N);
    emit_open(e, "for (int64_t m = 0; m < %lld; m++)", (long long)ci->M);
    emit_line(e, "const int64_t c0 = (m / %lld) * %lld;   /* the group's first channel */",
              (long long)mg, (long long)cg);
    emit_line(e, "int64_t yo = (nb * %lld + m) * %lld;", (long long)ci->M, (long long)out_sz);
    for (int i = 0; i < ns; i++)
        emit_open(e, "for (int64_t o%d = 0; o%d < %lld; o%d++)", i, i, (long long)g->out[i], i);
    emit_line(e, "%s acc = 0;", acc_t);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)cg);
    emit_line(e, "int64_t xo = (nb * %lld + c0 + c) * %lld, wo = (m * %lld + c) * %lld;",
              (long long)ci->C, (long long)in_sz, (long long)cg, (long long)k_sz);
    for (int i = 0; i < ns; i++) {
        emit_open(e, "for (int64_t k%d = 0; k%d < %lld; k%d++)", i, i, (long long)g->kernel[i],
                  i);
        emit_line(e, "const int64_t i%d = o%d * %lld - %lld + k%d * %lld;", i, i,
                  (long long)g->stride[i], (long long)g->pad_begin[i], i,
                  (long long)g->dilation[i]);
        emit_line(e, "if (i%d < 0 || i%d >= %lld) continue;   /* padding */", i, i,
                  (long long)g->in[i]);
    }
    /* offsets inside the plane and the kernel, row-major over the spatial dims */
    StrBuf xi, wi;
    sb_init(&xi);
    sb_init(&wi);
    sb_puts(&xi, "xo");
    sb_puts(&wi, "wo");
    int64_t xs = 1, ws = 1;
    for (int i = ns - 1; i >= 0; i--) {
        sb_printf(&xi, " + i%d * %lld", i, (long long)xs);
        sb_printf(&wi, " + k%d * %lld", i, (long long)ws);
        xs *= g->in[i], ws *= g->kernel[i];
    }
    char src[320];
    snprintf(src, sizeof src, "x0[%s]", xi.data ? xi.data : "xo");
    conv_loop_load(e, t, "xv", src);
    snprintf(src, sizeof src, "x1[%s]", wi.data ? wi.data : "wo");
    conv_loop_load(e, t, "wv", src);
    sb_free(&xi);
    sb_free(&wi);
    emit_line(e, "acc += xv * wv;");
    for (int i = 0; i < ns; i++) emit_close(e);
    emit_close(e);
    ou_emit_round(e, t, "acc");
    if (bias_of(n)) {
        conv_loop_load(e, t, "bv", "x2[m]");
        emit_line(e, "acc += bv;");
    }
    if (t == DT_FLOAT16 || t == DT_BFLOAT16) ou_emit_half_store(e, t, "y0[yo]", "acc");
    else emit_line(e, "y0[yo] = acc;");
    emit_line(e, "yo++;");
    for (int i = 0; i < ns; i++) emit_close(e);
    emit_close(e);
    return emit_close(e);
}

void kern_emit_geom(Emitter *e, const SpatialGeom *sg) {
    char in[96], out[96], k[96], s[96], dl[96], pb[96], pe[96];
    int ns = sg->n_spatial;
    /* Axes past n_spatial are ignored by the runtime; they get neutral values. */
#define LIST3(buf, arr, unused) \
    snprintf(buf, sizeof buf, "{%lld, %lld, %lld}", (long long)arr[0], \
             (long long)(ns > 1 ? arr[1] : unused), (long long)(ns > 2 ? arr[2] : unused))
    LIST3(in, sg->in, 1);
    LIST3(out, sg->out, 1);
    LIST3(k, sg->kernel, 1);
    LIST3(s, sg->stride, 1);
    LIST3(dl, sg->dilation, 1);
    LIST3(pb, sg->pad_begin, 0);
    LIST3(pe, sg->pad_end, 0);
#undef LIST3
    emit_line(e, "const OnnxccConvGeom geom = {.n_spatial = %d, .in = %s, .out = %s,", ns, in,
              out);
    emit_line(e, "    .kernel = %s, .stride = %s, .dilation = %s,", k, s, dl);
    emit_line(e, "    .pad_begin = %s, .pad_end = %s};", pb, pe);
}

static bool conv_emit(Emitter *e, const Node *n, Diag *d) {
    ConvInfo ci;
    if (!conv_info(n, &ci, d)) return false;
    if (n->inputs[0]->dtype != DT_FLOAT) return conv_emit_loops(e, n, &ci, d);
    char bias[64] = "", slope[64] = "", res[64] = "";
    if (bias_of(n)) snprintf(bias, sizeof bias, "{x2, 1, 0}");
    int si = n->epi.slope_input, ri = n->epi.residual_input;
    if (si >= 0 && si < n->n_inputs && n->inputs[si]) {
        int64_t ns = ir_numel(n->inputs[si]);
        if (ns != 1 && ns != ci.M) {
            diag_error(d, n, "fused PRelu slope has %lld values, expected 1 or %lld",
                       (long long)ns, (long long)ci.M);
            return false;
        }
        snprintf(slope, sizeof slope, "{x%d, %d, 0}", si, ns == 1 ? 0 : 1);
    }
    if (ri >= 0 && ri < n->n_inputs && n->inputs[ri]) {
        /* The kernel reads the residual with Y's layout: anything else is a fusion bug. */
        if (!ir_same_shape(n->inputs[ri], n->outputs[0])) {
            diag_error(d, n, "fused residual '%s' does not have the output's shape",
                       n->inputs[ri]->name);
            return false;
        }
        snprintf(res, sizeof res, "{x%d, 0, 0}", ri);
    }
    kern_emit_geom(e, &ci.geom);
    kern_emit_epilogue(e, n, "ep", bias[0] ? bias : NULL, 1.0f, res[0] ? res : NULL,
                       slope[0] ? slope : NULL);
    const char *entry = "onnxcc_f32_conv";
    const int path = kern_is_packed(n) ? (int)kern_conv_path(n) : CONV_UNPACKED;
    if (path == KERN_CONV_WINO) {
        OnnxccGeom3 G;
        conv_geom3(&ci, &G);
        const int tile = onnxcc_conv_wino_tile(&G);
        if (!conv_wino(&ci) || (int64_t)onnxcc_conv_wino_floats(tile, (size_t)ci.M,
                                                                 (size_t)ci.C) !=
                                   ir_numel(n->inputs[1])) {
            diag_error(d, n, "internal error: packed weights '%s' do not fit the Winograd "
                       "kernel", n->inputs[1]->name);
            return false;
        }
        emit_line(e, "/* A 3x3 stride-1 convolution by Winograd's F(%dx%d, 3x3) "
                  "(onnxcc_conv_wino.h): W was", tile, tile);
        emit_line(e, " * transformed at compile time into %zu packed %lld x %lld matrices "
                  "(onnxcc_conv_wino_pack). */", onnxcc_conv_wino_positions(tile),
                  (long long)ci.M, (long long)ci.C);
        emit_line(e, "onnxcc_f32_conv_wino(&geom, %lld /* batch */, %lld /* in channels */, "
                  "%lld /* out channels */,", (long long)ci.N, (long long)ci.C, (long long)ci.M);
        emit_line(e, "                     x0, x1, y0, &ep, scratch, pool);");
        return true;
    }
    if (path == KERN_CONV_BLOCKED) {
        size_t taps = 1;
        for (int i = 0; i < ci.geom.n_spatial; i++) taps *= (size_t)ci.geom.kernel[i];
        if (!conv_blocked(&ci) ||
            (int64_t)onnxcc_conv_blocked_floats((size_t)ci.M, (size_t)ci.C, taps) !=
                ir_numel(n->inputs[1])) {
            diag_error(d, n, "internal error: packed weights '%s' do not fit the blocked "
                       "kernel", n->inputs[1]->name);
            return false;
        }
        emit_line(e, "/* A direct convolution from register tiles "
                  "(onnxcc_conv_blocked.h): W packed at");
        emit_line(e, " * compile time in blocks of %d output x %d input channels "
                  "(onnxcc_conv_blocked_index). */", ONNXCC_BLOCKED_CO, ONNXCC_BLOCKED_CI);
        emit_line(e, "onnxcc_f32_conv_blocked(&geom, %lld /* batch */, %lld /* in channels */, "
                  "%lld /* out channels */,", (long long)ci.N, (long long)ci.C, (long long)ci.M);
        emit_line(e, "                        x0, x1, y0, &ep, scratch, pool);");
        return true;
    }
    if (path == KERN_CONV_FIRST) {
        size_t floats = 0;
        if (!conv_first_floats(&ci, &floats) || (int64_t)floats != ir_numel(n->inputs[1])) {
            diag_error(d, n, "internal error: packed weights '%s' have %lld values, expected "
                       "%zu", n->inputs[1]->name, (long long)ir_numel(n->inputs[1]), floats);
            return false;
        }
        emit_line(e, "/* Few input channels: a direct convolution (onnxcc_conv_first.h) whose "
                  "W is packed at");
        emit_line(e, " * compile time in blocks of %d output channels "
                  "(onnxcc_conv_first_index). */", ONNXCC_CONV_FIRST_OC);
        emit_line(e, "onnxcc_f32_conv_first(&geom, %lld /* batch */, %lld /* in channels */, "
                  "%lld /* out channels */,", (long long)ci.N, (long long)ci.C, (long long)ci.M);
        emit_line(e, "                      x0, x1, y0, &ep, scratch, pool);");
        return true;
    }
    if (path == KERN_CONV_SMALL) {
        size_t kdim = 0, cols = 0, floats = 0;
        if (!conv_kdim(&ci, &kdim) || !size_align_up((size_t)ci.M, ONNXCC_PACK_NR, &cols) ||
            !size_mul(cols, kdim, &floats) || (int64_t)floats != ir_numel(n->inputs[1])) {
            diag_error(d, n, "internal error: packed weights '%s' have %lld values, expected "
                       "%zu", n->inputs[1]->name, (long long)ir_numel(n->inputs[1]), floats);
            return false;
        }
        emit_line(e, "/* A small plane: a transposed GEMM (onnxcc_conv_small.h) whose B is W, "
                  "packed at");
        emit_line(e, " * compile time: B(k, oc) = W[oc][k] at onnxcc_packed_b_index(K, k, "
                  "oc). */");
        emit_line(e, "onnxcc_f32_conv_small(&geom, %lld /* batch */, %lld /* in channels */, "
                  "%lld /* out channels */,", (long long)ci.N, (long long)ci.C, (long long)ci.M);
        emit_line(e, "                      x0, x1, y0, &ep, scratch, pool);");
        return true;
    }
    if (kern_is_packed(n)) {
        size_t floats = 0;
        if (!conv_packed_floats(&ci, &floats) || (int64_t)floats != ir_numel(n->inputs[1])) {
            diag_error(d, n, "internal error: packed weights '%s' have %lld values, expected "
                       "%zu", n->inputs[1]->name, (long long)ir_numel(n->inputs[1]), floats);
            return false;
        }
        emit_line(e, "/* W packed at compile time (onnxcc_conv_packed_index): per group, "
                  "8-row panels");
        emit_line(e, " * of the [out channels][in channels x kernel] matrix. */");
        entry = "onnxcc_f32_conv_packed";
    }
    emit_line(e, "%s(&geom, %lld /* batch */, %lld /* in channels */, %lld /* out channels */,",
              entry, (long long)ci.N, (long long)ci.C, (long long)ci.M);
    emit_line(e, "    %lld /* groups */, x0, x1, y0, &ep, scratch, pool);", (long long)ci.group);
    return true;
}

/* Rows of the GEMM of one group: (C / group) * kernel size; false on overflow. */
static bool conv_kdim(const ConvInfo *ci, size_t *kdim) {
    *kdim = (size_t)(ci->C / ci->group);
    for (int i = 0; i < ci->geom.n_spatial; i++)
        if (!size_mul(*kdim, (size_t)ci->geom.kernel[i], kdim)) return false;
    return true;
}

/* Floats of the packed weights (onnxcc_conv_packed_floats, overflow-checked). */
static bool conv_packed_floats(const ConvInfo *ci, size_t *out) {
    size_t kdim, cout_g = (size_t)(ci->M / ci->group), rows;
    return conv_kdim(ci, &kdim) &&
           size_align_up(cout_g, ONNXCC_PACK_MR, &rows) &&
           size_mul(rows, kdim, out) && size_mul(*out, (size_t)ci->group, out);
}

/* The geometry as the runtime sees it. */
static void conv_geom3(const ConvInfo *ci, OnnxccGeom3 *G) {
    const SpatialGeom *sg = &ci->geom;
    OnnxccConvGeom rg = {.n_spatial = sg->n_spatial};
    for (int i = 0; i < sg->n_spatial; i++) {
        rg.in[i] = sg->in[i], rg.out[i] = sg->out[i], rg.kernel[i] = sg->kernel[i];
        rg.stride[i] = sg->stride[i], rg.dilation[i] = sg->dilation[i];
        rg.pad_begin[i] = sg->pad_begin[i], rg.pad_end[i] = sg->pad_end[i];
    }
    onnxcc_geom3(&rg, G);
}

/* Whether a Conv whose weights are packed runs onnxcc_f32_conv_first (the runtime's rule,
 * onnxcc_conv_first_use; never a direct case). */
static bool conv_first(const ConvInfo *ci) {
    OnnxccGeom3 G;
    conv_geom3(ci, &G);
    return !onnxcc_conv_direct((size_t)ci->C, (size_t)ci->group) &&
           onnxcc_conv_first_use(&G, (size_t)ci->C, (size_t)ci->M, (size_t)ci->group);
}

/* Floats of its packed weights (onnxcc_conv_first_floats, overflow-checked). */
static bool conv_first_floats(const ConvInfo *ci, size_t *out) {
    size_t taps, rows;          /* output channels rounded up to whole blocks */
    return conv_kdim(ci, &taps) && size_align_up((size_t)ci->M, ONNXCC_CONV_FIRST_OC, &rows) &&
           size_mul(rows, taps, out);
}

/* Whether a Conv whose weights are packed runs onnxcc_f32_conv_small (the runtime's rule,
 * onnxcc_conv_use_small; never a direct case, nor one for onnxcc_f32_conv_first). */
static bool conv_small(const ConvInfo *ci) {
    OnnxccGeom3 G;
    conv_geom3(ci, &G);
    return !onnxcc_conv_direct((size_t)ci->C, (size_t)ci->group) && !conv_first(ci) &&
           onnxcc_conv_use_small(&G, (size_t)ci->C, (size_t)ci->M, (size_t)ci->group);
}

/* Whether a Conv whose weights are packed may run onnxcc_f32_conv_wino (the runtime's
 * rule, onnxcc_conv_wino_use, never a direct case), its weights (for the largest tile)
 * representable and bounded like the other paths' buffers, and its scratch
 * (onnxcc_conv_wino_plan, which reports an overflow as 0 floats) at most
 * ONNXCC_WINO_MAX_SCRATCH_FLOATS. */
static bool conv_wino(const ConvInfo *ci) {
    OnnxccGeom3 G;
    conv_geom3(ci, &G);
    if (onnxcc_conv_direct((size_t)ci->C, (size_t)ci->group) ||
        !onnxcc_conv_wino_use(&G, (size_t)ci->C, (size_t)ci->M, (size_t)ci->group))
        return false;
    const size_t limit = (size_t)1 << 36;       /* floats */
    size_t rows, floats;
    OnnxccWinoPlan pl;
    onnxcc_conv_wino_plan(&G, (size_t)ci->C, (size_t)ci->M, &pl);
    /* A block holds at least one row of tiles: on very wide planes with many channels its
     * transformed inputs outgrow any cache, and the direct kernels' scratch is smaller. */
    return size_align_up((size_t)ci->M, ONNXCC_PACK_MR, &rows) &&
           size_mul(rows, (size_t)ci->C, &floats) &&
           size_mul(floats, ONNXCC_WINO_MAX_POS, &floats) && floats <= limit &&
           pl.floats > 0 && pl.floats <= ONNXCC_WINO_MAX_SCRATCH_FLOATS;
}

int kern_conv_wino_tile(const Node *n) {
    ConvInfo ci;
    Diag d;
    diag_init(&d);
    bool ok = conv_info(n, &ci, &d);   /* already checked by infer */
    diag_free(&d);
    OnnxccGeom3 G;
    if (ok) conv_geom3(&ci, &G);
    return ok ? onnxcc_conv_wino_tile(&G) : 2;
}

/* Whether a Conv whose weights are packed may run onnxcc_f32_conv_blocked (the runtime's
 * rule, onnxcc_conv_blocked_use), its weights and scratch bounded like the other paths'
 * buffers (the scratch function reports an overflow as 0). */
static bool conv_blocked(const ConvInfo *ci) {
    OnnxccGeom3 G;
    conv_geom3(ci, &G);
    if (onnxcc_conv_direct((size_t)ci->C, (size_t)ci->group) ||
        !onnxcc_conv_blocked_use(&G, (size_t)ci->C, (size_t)ci->M, (size_t)ci->group))
        return false;
    const size_t limit = (size_t)1 << 38;       /* bytes */
    size_t ob, cb, floats, bytes = onnxcc_f32_conv_blocked_scratch_bytes(&G, (size_t)ci->C);
    return size_align_up((size_t)ci->M, ONNXCC_BLOCKED_CO, &ob) &&
           size_align_up((size_t)ci->C, ONNXCC_BLOCKED_CI, &cb) && size_mul(ob, cb, &floats) &&
           size_mul(floats, ONNXCC_BLOCKED_MAX_TAPS, &floats) && floats <= limit / 4 &&
           bytes > 0 && bytes <= limit;
}

KernConvPath kern_conv_choose(const Node *n, bool winograd) {
    ConvInfo ci;
    Diag d;
    diag_init(&d);
    bool ok = conv_info(n, &ci, &d);   /* already checked by infer */
    diag_free(&d);
    if (!ok) return KERN_CONV_GEMM;
    if (conv_first(&ci)) return KERN_CONV_FIRST;
    if (winograd && conv_wino(&ci)) return KERN_CONV_WINO;
    if (conv_blocked(&ci)) return KERN_CONV_BLOCKED;
    return conv_small(&ci) ? KERN_CONV_SMALL : KERN_CONV_GEMM;
}

/* The same rule as onnxcc_f32_conv_scratch_bytes() in runtime/src/rt_conv.c: the phase
 * planes and B panels of one chunk of output pixels, the padded plane of the fast
 * depthwise path, or nothing for a pointwise conv and the other direct cases; for a
 * packed small-plane conv, onnxcc_f32_conv_small_scratch_bytes()'s transposed im2col
 * matrix; for a packed conv of few input channels, the phase planes of
 * onnxcc_f32_conv_first_scratch_bytes(); for Winograd's, the transformed inputs and
 * products of onnxcc_conv_wino_plan.  path is the node's kern_conv_path, or
 * CONV_UNPACKED.  false when the size overflows. */
static bool scratch_of(const ConvInfo *ci, int path, size_t *out) {
    const SpatialGeom *sg = &ci->geom;
    bool pointwise = true;
    for (int i = 0; i < sg->n_spatial; i++)
        if (sg->kernel[i] != 1 || sg->stride[i] != 1 || sg->pad_begin[i] != 0 ||
            sg->in[i] != sg->out[i])
            pointwise = false;
    *out = 0;
    OnnxccGeom3 G;
    conv_geom3(ci, &G);
    if (path == KERN_CONV_BLOCKED) {
        *out = onnxcc_f32_conv_blocked_scratch_bytes(&G, (size_t)ci->C);
        return *out > 0;
    }
    if (path == KERN_CONV_WINO) {
        OnnxccWinoPlan pl;
        onnxcc_conv_wino_plan(&G, (size_t)ci->C, (size_t)ci->M, &pl);
        return pl.floats > 0 && size_mul(pl.floats, sizeof(float), out);
    }
    if (path == KERN_CONV_FIRST) {
        /* in channels * stride[1] * stride[2] planes of rows x cols floats. */
        size_t rows, cols;
        onnxcc_conv_first_plane(&G, &rows, &cols);
        return size_mul((size_t)ci->C, (size_t)(G.stride[1] * G.stride[2]), out) &&
               size_mul(*out, rows, out) && size_mul(*out, cols, out) &&
               size_mul(*out, sizeof(float), out);
    }
    if (path == KERN_CONV_SMALL) {
        /* onnxcc_packed_a_floats(output pixels, kdim) floats. */
        size_t kdim, rows = 1;
        for (int i = 0; i < sg->n_spatial; i++)
            if (!size_mul(rows, (size_t)sg->out[i], &rows)) return false;
        return conv_kdim(ci, &kdim) && size_align_up(rows, ONNXCC_PACK_MR, &rows) &&
               size_mul(rows, kdim, out) && size_mul(*out, sizeof(float), out);
    }
    /* The depthwise kernels read the input in place: no scratch (rt_dwconv.c). */
    if (pointwise || onnxcc_conv_direct((size_t)ci->C, (size_t)ci->group)) return true;
    /* The phase planes of a strided flat-shift conv (a group's input), then kdim *
     * chunk_cols floats, as onnxcc_f32_conv_scratch_bytes() computes at run time. */
    size_t kdim, out_pix = 1, in_pix = 1, phases = 0, bytes;
    if (!conv_kdim(ci, &kdim)) return false;
    for (int i = 0; i < sg->n_spatial; i++)
        if (!size_mul(out_pix, (size_t)sg->out[i], &out_pix) ||
            !size_mul(in_pix, (size_t)sg->in[i], &in_pix))
            return false;
    if (onnxcc_conv_flat(&G) && (G.stride[1] > 1 || G.stride[2] > 1) &&
        !size_mul((size_t)(ci->C / ci->group), in_pix, &phases))
        return false;
    if (!size_mul(kdim, onnxcc_conv_chunk_cols(kdim, out_pix), &bytes) ||
        !size_add(bytes, phases, &bytes) || !size_mul(bytes, sizeof(float), &bytes))
        return false;
    *out = bytes;
    return true;
}

static size_t conv_scratch(const Node *n) {
    ConvInfo ci;
    Diag d;
    diag_init(&d);
    bool ok = conv_info(n, &ci, &d);   /* already checked by infer: cannot fail here */
    diag_free(&d);
    size_t bytes = 0;
    int path = kern_is_packed(n) ? (int)kern_conv_path(n) : CONV_UNPACKED;
    /* the direct loops of other types need no scratch */
    if (!ok || n->inputs[0]->dtype != DT_FLOAT || !scratch_of(&ci, path, &bytes)) return 0;
    return bytes;
}

static int64_t conv_flops(const Node *n) {
    Value w_shape;
    const Value *w = kern_weight(n, &w_shape);
    int64_t per_out = 1, f;
    for (int i = 1; i < w->rank; i++)
        if (!i64_mul(per_out, w->dims[i], &per_out)) return -1;
    if (!i64_mul(ir_numel(n->outputs[0]), per_out, &f) || !i64_mul(f, 2, &f)) return -1;
    return f;
}

const OpDef op_conv = {
    .name = "Conv", .domain = "", .since = 1,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = conv_infer, .emit = conv_emit, .scratch_bytes = conv_scratch,
    .flops = conv_flops, .memory = OP_MEMORY_SEPARATE,
};
