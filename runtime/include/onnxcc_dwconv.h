/* onnxcc_dwconv.h: depthwise convolution (one input channel per group).
 */
#ifndef ONNXCC_ONNXCC_DWCONV_H
#define ONNXCC_ONNXCC_DWCONV_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* Bits j < 16 set where 0 <= start + j < n: the lanes of a 16-float masked load at
 * position `start` of a row of n floats that lie inside the row (the AVX-512 paths of
 * rt_dwconv.c and rt_pool.c; plain C). */
static inline uint32_t onnxcc_lanes16_inside(int64_t start, int64_t n) {
    int64_t lo = start < 0 ? -start : 0, hi = n - start;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (((uint32_t)1 << hi) - 1u) & ~(((uint32_t)1 << lo) - 1u);
}
/* The address of row[start] for a masked load or store, which reads or writes only the
 * lanes inside the row: start may lie before or past the row, and since pointer
 * arithmetic outside an array is undefined, the address is computed as an integer. */
static inline uintptr_t onnxcc_float_addr(const float *row, int64_t start) {
    return (uintptr_t)row + (uintptr_t)start * sizeof(float);
}

/* Whether onnxcc_f32_conv computes directly (several groups of one input channel each:
 * depthwise, with or without a channel multiplier) rather than by im2col + GEMM.  Shared
 * by the kernel and the compiler, which reserves the scratch. */
static inline int onnxcc_conv_direct(size_t in_channels, size_t groups) {
    return groups > 1 && in_channels == groups;
}
/* Whether onnxcc_f32_conv takes its fast depthwise path: the direct path with a 2-D (or
 * 1-D) square 3x3, 5x5 or 7x7 kernel, stride 1 or 2 on both axes, no dilation.  That path
 * reads the input in place (rt_dwconv.c). */
static inline int onnxcc_conv_dw_fast(const OnnxccGeom3 *G, size_t in_channels,
                                      size_t groups) {
    return onnxcc_conv_direct(in_channels, groups) && G->in[0] == 1 && G->out[0] == 1 &&
           G->kernel[0] == 1 && G->kernel[1] == G->kernel[2] &&
           (G->kernel[2] == 3 || G->kernel[2] == 5 || G->kernel[2] == 7) &&
           G->stride[1] == G->stride[2] &&
           (G->stride[2] == 1 || G->stride[2] == 2) && G->dilation[1] == 1 &&
           G->dilation[2] == 1 && G->out[1] >= 1 && G->out[2] >= 1;
}
/* Bytes of scratch onnxcc_f32_conv_dw needs: 0 on every path, whatever the thread count
 * (kept as a function so that callers need not change if a path ever needs some). */
size_t onnxcc_f32_conv_dw_scratch_bytes(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t groups);
/* The direct (depthwise) case of onnxcc_f32_conv, same contract (runtime/src/rt_dwconv.c):
 * groups == in_channels, each group of out_channels / groups output channels.  With a
 * pool, the (image, channel) planes are split across its threads. */
void onnxcc_f32_conv_dw(const OnnxccGeom3 *G, size_t batch, size_t in_channels,
                        size_t out_channels, const float *x, const float *w, float *y,
                        const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
