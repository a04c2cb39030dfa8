/* rt_conv_small.c: dense convolutions on small planes (onnxcc_conv_small.h) as a GEMM
 * whose rows are output pixels and whose columns are output channels.
 *
 * For each image, the transposed im2col matrix A (output pixels x K, K = in_channels *
 * kernel size) is written into the scratch in the GEMM's packed-A layout: panel p holds
 * pixels 8p .. 8p+7, row k of it their 8 inputs at tap k (zero in the padding, and for
 * the pixels past the plane).  The weights are the packed B operand, written at compile
 * time, and onnxcc_f32_gemm_pab_ct multiplies and stores C = A x B transposed, which is
 * y[oc][pixel].
 *
 * Packing is small next to the product: the GEMM spends about out_channels / 16 cycles
 * per panel row (8 x out_channels FMAs at 2 x 16 a cycle) and a row is 8 loads and
 * stores.  The 8 pixels' input offsets (or "in the padding") are worked out once per
 * tap, then each channel's rows are copied with them, the panel written front to back.
 * A tap whose kept pixels read consecutive inputs (stride 1 along the rows: 3x3 "same"
 * layers, where only the pixels wrapping to the next image row break the run) is one
 * 8-float copy, ANDed with a mask of the kept pixels; the others are gathered element
 * by element (7 % of resnet's 3x3 512 @ 7 x 7 layer's time with every tap gathered,
 * 3 % now: perf).
 *
 * Threads: one onnxcc_parallel_for task per panel; the GEMM parallelises itself.
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_conv_small.h"

enum { PMR = ONNXCC_PACK_MR };      /* pixels per panel */

static size_t prod3(const int64_t v[3]) { return (size_t)v[0] * (size_t)v[1] * (size_t)v[2]; }

size_t onnxcc_f32_conv_small_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    return onnxcc_packed_a_floats(prod3(G.out), onnxcc_conv_small_kdim(&G, in_channels)) *
           sizeof(float);
}

/* The panels of one image. */
typedef struct PackJob {
    const OnnxccGeom3 *G;
    size_t channels, ksize, kdim, out_pix;
    const float *x;             /* the image, [channels][in...] */
    float *panels;              /* onnxcc_packed_a_floats(out_pix, kdim) floats */
} PackJob;

/* Where each of the 8 pixels `o` reads, in a channel's plane, at tap t (row-major over
 * the kernel): clamped to 0 in the padding, where `keep` is 0 (a gather then reads
 * valid memory and selects 0). */
static void tap_offsets(const OnnxccGeom3 *G, const int64_t o[PMR][3], size_t t,
                        int64_t off[PMR], int keep[PMR]) {
    const int64_t k[3] = {(int64_t)t / G->kernel[2] / G->kernel[1],
                          (int64_t)t / G->kernel[2] % G->kernel[1], (int64_t)t % G->kernel[2]};
    for (size_t r = 0; r < PMR; r++) {
        int64_t at = 0;
        keep[r] = 1;
        for (int a = 0; a < 3; ++a) {
            int64_t i = o[r][a] * G->stride[a] - G->pad[a] + k[a] * G->dilation[a];
            keep[r] &= o[r][a] >= 0 && i >= 0 && i < G->in[a];
            at = at * G->in[a] + i;
        }
        off[r] = keep[r] ? at : 0;
    }
}

/* Taps whose offsets a panel works out at once (on the stack, 10 KiB of them): every
 * 2-D kernel up to 8 x 8 in one group, so the panel is written front to back. */
enum { TAP_GROUP = 64 };

/* How a tap's row is copied. */
typedef struct TapCopy {
    int64_t base;           /* RUN: kept pixel r reads the channel's input at base + r */
    size_t lo, hi;          /* RUN: the kept pixels lie in [lo, hi), all in the plane */
    uint32_t mask[PMR];     /* RUN: all ones for the kept pixels, else zero */
    /* RUN_FULL: all 8 kept; RUN_INSIDE: base .. base + 7 all in the plane; RUN: not */
    enum { GATHER, RUN, RUN_INSIDE, RUN_FULL } kind;
} TapCopy;

/* plane: input pixels per channel. */
static TapCopy tap_copy(const int64_t off[PMR], const int keep[PMR], size_t plane) {
    TapCopy tc = {.kind = RUN, .lo = PMR, .hi = 0};
    for (size_t r = 0; r < PMR; r++) {
        tc.mask[r] = keep[r] ? ~0u : 0u;
        if (!keep[r]) continue;
        if (tc.lo == PMR) tc.lo = r, tc.base = off[r] - (int64_t)r;
        if (off[r] != tc.base + (int64_t)r) tc.kind = GATHER;
        tc.hi = r + 1;
    }
    bool all = true;
    for (size_t r = 0; r < PMR; r++) all = all && keep[r];
    if (tc.kind == RUN && all) tc.kind = RUN_FULL;
    else if (tc.kind == RUN && tc.base >= 0 && tc.base + PMR <= (int64_t)plane)
        tc.kind = RUN_INSIDE;
    return tc;
}

/* dst[0 .. 8) = src[0 .. 8) with the bits of mask ANDed in (a vector AND or two). */
static void copy_masked(float *restrict dst, const float *restrict src,
                        const uint32_t *restrict mask) {
    for (size_t r = 0; r < PMR; r++) {
        uint32_t v;
        memcpy(&v, src + r, sizeof v);
        v &= mask[r];
        memcpy(dst + r, &v, sizeof v);
    }
}

/* onnxcc_parallel_for task: panel p, output pixels p * 8 .. p * 8 + 7.  For each group
 * of taps, their offsets, then each channel's rows k = c * ksize + t. */
static void pack_task(void *ctx, size_t p, size_t thread) {
    (void)thread;
    const PackJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    float *panel = job->panels + p * job->kdim * PMR;
    int64_t o[PMR][3];          /* each pixel's output coordinates; rows past the plane: -1 */
    for (size_t r = 0; r < PMR; r++) {
        size_t i = p * PMR + r;
        bool in = i < job->out_pix;
        o[r][2] = in ? (int64_t)i % G->out[2] : -1;
        o[r][1] = in ? (int64_t)i / G->out[2] % G->out[1] : -1;
        o[r][0] = in ? (int64_t)i / G->out[2] / G->out[1] : -1;
    }
    const size_t plane = prod3(G->in), ksize = job->ksize;
    for (size_t t0 = 0; t0 < ksize; t0 += TAP_GROUP) {
        size_t taps = ksize - t0 < TAP_GROUP ? ksize - t0 : TAP_GROUP;
        int64_t off[TAP_GROUP][PMR];
        int keep[TAP_GROUP][PMR];
        TapCopy copy[TAP_GROUP];
        for (size_t t = 0; t < taps; t++) {
            tap_offsets(G, o, t0 + t, off[t], keep[t]);
            copy[t] = tap_copy(off[t], keep[t], plane);
        }
        /* A run with pixels out of the plane goes through `edge`: [lo, hi) copied in,
         * the other lanes (zeros, or what an earlier tap left) cleared by the mask. */
        float edge[PMR] = {0};
        for (size_t c = 0; c < job->channels; c++) {
            const float *xc = job->x + c * plane;
            float *dst = panel + (c * ksize + t0) * PMR;
            for (size_t t = 0; t < taps; t++, dst += PMR) {
                const TapCopy *tc = &copy[t];
                if (tc->kind == RUN_FULL) {
                    memcpy(dst, xc + tc->base, PMR * sizeof(float));
                } else if (tc->kind == RUN_INSIDE) {
                    copy_masked(dst, xc + tc->base, tc->mask);
                } else if (tc->kind == RUN) {
                    if (tc->hi > tc->lo)
                        memcpy(edge + tc->lo, xc + tc->base + (int64_t)tc->lo,
                               (tc->hi - tc->lo) * sizeof(float));
                    copy_masked(dst, edge, tc->mask);
                } else {
                    for (size_t r = 0; r < PMR; r++)
                        dst[r] = keep[t][r] ? xc[off[t][r]] : 0.0f;
                }
            }
        }
    }
}

static const OnnxccEpilogue no_epilogue = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};

void onnxcc_f32_conv_small(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                           size_t out_channels, const float *x, const float *wpb, float *y,
                           const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (!ep) ep = &no_epilogue;
    const size_t in_pix = prod3(G.in), out_pix = prod3(G.out);
    const size_t kdim = onnxcc_conv_small_kdim(&G, in_channels);
    PackJob job = {.G = &G, .channels = in_channels, .ksize = prod3(G.kernel), .kdim = kdim,
                   .out_pix = out_pix, .panels = scratch};
    /* GEMM rows are pixels and columns channels: per-channel operands are per column,
     * and the residual, of y's layout, is C's. */
    OnnxccEpilogue e = *ep;
    e.bias.col_stride = e.bias.row_stride, e.bias.row_stride = 0;
    e.slope.col_stride = e.slope.row_stride, e.slope.row_stride = 0;
    e.residual.row_stride = 1, e.residual.col_stride = (ptrdiff_t)out_pix;
    for (size_t n = 0; n < batch; n++) {
        job.x = x + n * in_channels * in_pix;
        onnxcc_parallel_for(pool, (out_pix + PMR - 1) / PMR, pack_task, &job);
        e.residual.ptr = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix
                                          : NULL;
        onnxcc_f32_gemm_pab_ct(out_pix, out_channels, kdim, 1.0f, job.panels, wpb,
                               y + n * out_channels * out_pix, (ptrdiff_t)out_pix, &e, pool);
    }
}
