/* onnxcc_conv_blocked.h: dense 2-D convolutions computed directly from register tiles
 * (runtime/src/rt_conv_blocked.c), for the layers where the im2col GEMM of onnxcc_conv.h
 * loses most: resnet's 3x3 stride-2 layers and its 3x3 layers on 7 x 7 planes.
 *
 * The input is first copied, padding written out as zeros, into planes whose rows are
 * split by column phase (with stride s, the columns x = f, f + s, f + 2s, ... of a row
 * are stored together as phase f = x % s), so that the inputs of consecutive output
 * pixels are consecutive floats for every stride.  A tile of the output, up to 14
 * pixels of one or two rows x 32 output channels, stays in vector registers (AVX-512:
 * 28 of the 32 zmm): for each input channel and kernel tap, the 32 weights are two
 * vector loads and each pixel's input one broadcast, feeding two multiply-adds.  The
 * weights are packed at compile time in blocks of 32 output x 16 input channels, in
 * the order the tile reads them, so that a block's weights stay in L1 while a band of
 * tiles goes over it.
 */
#ifndef ONNXCC_ONNXCC_CONV_BLOCKED_H
#define ONNXCC_ONNXCC_CONV_BLOCKED_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

#define ONNXCC_BLOCKED_CI 16    /* input channels per block of the copied input */
#define ONNXCC_BLOCKED_CO 32    /* output channels per tile and per block of weights */
#define ONNXCC_BLOCKED_MAX_TAPS 64
#define ONNXCC_BLOCKED_MAX_STRIDE 4   /* column phases of the copied rows */

/* Whether a convolution takes this path (compiler and runtime agree through it; the
 * compiler asks after the first-layer and Winograd rules): one group, 2-D (the outer
 * axis of onnxcc_geom3 trivial), a kernel of at least 3 x 3 and at most 64 taps, at
 * least 32 input and 32 output channels, a stride of at most 4.  Measured with
 * bench/kernels/conv_layers.c (CPU time, one thread, GFLOP/s, the packed GEMM path ->
 * this kernel, same run): resnet18's 64 -> 128 stride 2 on 56 x 56 137-142 -> 153-187,
 * 128 -> 256 stride 2 on 28 x 28 132-153 -> 172-193, 256 -> 512 stride 2 on 14 x 14
 * 119-129 -> 170-190, 512 -> 512 on 7 x 7 126-137 -> 193-198 (rt_conv_small.c, its
 * path before, ~150); with 32 input channels, 3x3/2 32 -> 64 on 56 x 56 117 -> 143-151
 * and 32 -> 32 on 28 x 28 70 -> 115-119; 3x3 on 10 x 10 and 5x5 on 20 x 20 16-30 %
 * faster.  The 3x3 stride-1 layers of 14 x 14 and more gain 10-20 % too, but
 * Winograd, asked first, takes them. */
static inline int onnxcc_conv_blocked_use(const OnnxccGeom3 *G, size_t in_channels,
                                          size_t out_channels, size_t groups) {
    const int64_t taps = G->kernel[1] * G->kernel[2];
    return groups == 1 && in_channels >= 32 && out_channels >= 32 && G->in[0] == 1 &&
           G->out[0] == 1 && G->kernel[0] == 1 && G->kernel[1] >= 3 && G->kernel[2] >= 3 &&
           taps <= ONNXCC_BLOCKED_MAX_TAPS && G->stride[2] <= ONNXCC_BLOCKED_MAX_STRIDE;
}

/* The weights: W[out_channels][in_channels][kh][kw] in blocks of 32 output channels and
 * 16 input channels, element (oc, c, tap) at
 *   ((((oc / 32) * cin_blocks + c / 16) * taps + tap) * 16 + c % 16) * 32 + oc % 32,
 * cin_blocks = ceil(in_channels / 16), zeros past in_channels and out_channels. */
static inline size_t onnxcc_conv_blocked_floats(size_t out_channels, size_t in_channels,
                                                size_t taps) {
    const size_t ob = (out_channels + ONNXCC_BLOCKED_CO - 1) / ONNXCC_BLOCKED_CO;
    const size_t cb = (in_channels + ONNXCC_BLOCKED_CI - 1) / ONNXCC_BLOCKED_CI;
    return ob * cb * taps * ONNXCC_BLOCKED_CI * ONNXCC_BLOCKED_CO;
}
static inline size_t onnxcc_conv_blocked_index(size_t in_channels, size_t taps, size_t oc,
                                               size_t c, size_t tap) {
    const size_t cb = (in_channels + ONNXCC_BLOCKED_CI - 1) / ONNXCC_BLOCKED_CI;
    return (((oc / ONNXCC_BLOCKED_CO * cb + c / ONNXCC_BLOCKED_CI) * taps + tap) *
                ONNXCC_BLOCKED_CI + c % ONNXCC_BLOCKED_CI) * ONNXCC_BLOCKED_CO +
           oc % ONNXCC_BLOCKED_CO;
}

/* The copied input of one channel: `rows` padded rows (exactly those the output reads)
 * of `phases` (the column stride) runs of `run` floats each, run = ceil(cols / phases)
 * for the `cols` padded columns the output reads. */
static inline void onnxcc_conv_blocked_plane(const OnnxccGeom3 *G, size_t *rows, size_t *phases,
                                             size_t *run) {
    const int64_t cols =
        (G->out[2] - 1) * G->stride[2] + (G->kernel[2] - 1) * G->dilation[2] + 1;
    *rows = (size_t)((G->out[1] - 1) * G->stride[1] + (G->kernel[1] - 1) * G->dilation[1] + 1);
    *phases = (size_t)G->stride[2];
    *run = (size_t)((cols + G->stride[2] - 1) / G->stride[2]);
}

/* Bytes of scratch onnxcc_f32_conv_blocked needs: the copied input of one image,
 * ceil(in_channels / 16) x 16 planes of rows x phases x run floats (0 if that
 * overflows). */
static inline size_t onnxcc_f32_conv_blocked_scratch_bytes(const OnnxccGeom3 *G,
                                                           size_t in_channels) {
    size_t rows, phases, run, n;
    onnxcc_conv_blocked_plane(G, &rows, &phases, &run);
    const size_t cb = (in_channels + ONNXCC_BLOCKED_CI - 1) / ONNXCC_BLOCKED_CI;
    if (__builtin_mul_overflow(rows, phases, &n) || __builtin_mul_overflow(n, run, &n) ||
        __builtin_mul_overflow(n, cb, &n) ||
        __builtin_mul_overflow(n, (size_t)ONNXCC_BLOCKED_CI * sizeof(float), &n))
        return 0;
    return n;
}

/* y[batch][out_channels][out...] = epilogue(conv(x, w)) for a convolution of
 * onnxcc_conv_blocked_use (strides up to ONNXCC_BLOCKED_MAX_STRIDE), any padding and
 * dilation; wb holds the weights as above (64-byte aligned).  In ep (NULL: none): bias
 * and PRelu slope are per output channel, channel oc's value at ptr[oc * row_stride]
 * (col_stride ignored); bias_scale applies as in the GEMM; residual, if any, is a tensor
 * of y's shape (its strides are ignored) and may alias y exactly.  scratch holds
 * onnxcc_f32_conv_blocked_scratch_bytes() bytes (64-byte aligned).  x and y must not
 * overlap.  With a pool, the copy and then the tiles are split across its threads; every
 * output is computed the same way whatever the thread count. */
void onnxcc_f32_conv_blocked(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                             size_t out_channels, const float *x, const float *wb, float *y,
                             const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
