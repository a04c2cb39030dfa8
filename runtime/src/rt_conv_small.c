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
 * tap, then each channel's rows are gathered with them, the panel written front to
 * back.
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

/* Taps whose offsets a panel works out at once (on the stack, 4 KiB of them): every
 * 2-D kernel up to 8 x 8 in one group, so the panel is written front to back. */
enum { TAP_GROUP = 64 };

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
        for (size_t t = 0; t < taps; t++) tap_offsets(G, o, t0 + t, off[t], keep[t]);
        for (size_t c = 0; c < job->channels; c++) {
            const float *xc = job->x + c * plane;
            float *dst = panel + (c * ksize + t0) * PMR;
            for (size_t t = 0; t < taps; t++, dst += PMR)
                for (size_t r = 0; r < PMR; r++) dst[r] = keep[t][r] ? xc[off[t][r]] : 0.0f;
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
