/* onnxcc_dwconv.h: depthwise convolution (one input channel per group).
 */
#ifndef ONNXCC_ONNXCC_DWCONV_H
#define ONNXCC_ONNXCC_DWCONV_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* Whether onnxcc_f32_conv computes directly (several groups of one input channel each:
 * depthwise, with or without a channel multiplier) rather than by im2col + GEMM.  Shared
 * by the kernel and the compiler, which reserves the scratch. */
static inline int onnxcc_conv_direct(size_t in_channels, size_t groups) {
    return groups > 1 && in_channels == groups;
}
/* Whether onnxcc_f32_conv takes its fast depthwise path: the direct path with a 2-D (or
 * 1-D) square 3x3 or 5x5 kernel, stride 1 or 2 on both axes, no dilation.  That path
 * copies each channel into a zero-padded plane (onnxcc_conv_dw_plane_floats() floats of
 * scratch with the room for its output grid), so that its inner loops test no bounds. */
static inline int onnxcc_conv_dw_fast(const OnnxccGeom3 *G, size_t in_channels,
                                      size_t groups) {
    return onnxcc_conv_direct(in_channels, groups) && G->in[0] == 1 && G->out[0] == 1 &&
           G->kernel[0] == 1 && G->kernel[1] == G->kernel[2] &&
           (G->kernel[2] == 3 || G->kernel[2] == 5) && G->stride[1] == G->stride[2] &&
           (G->stride[2] == 1 || G->stride[2] == 2) && G->dilation[1] == 1 &&
           G->dilation[2] == 1 && G->out[1] >= 1 && G->out[2] >= 1;
}
/* Rows and columns of the padded plane: what the outputs read, (out - 1) * stride + k. */
static inline int64_t onnxcc_conv_dw_plane_dim(const OnnxccGeom3 *G, int axis) {
    return (G->out[axis] - 1) * G->stride[axis] + G->kernel[axis];   /* no dilation here */
}
/* The plane, and as much again for the output grid of narrow planes. */
static inline size_t onnxcc_conv_dw_plane_floats(const OnnxccGeom3 *G) {
    return 2 * (size_t)onnxcc_conv_dw_plane_dim(G, 1) * (size_t)onnxcc_conv_dw_plane_dim(G, 2);
}
/* Bytes of scratch onnxcc_f32_conv_dw needs (0 off the fast path). */
size_t onnxcc_f32_conv_dw_scratch_bytes(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t groups);
/* The direct (depthwise) case of onnxcc_f32_conv, same contract (runtime/src/rt_dwconv.c):
 * groups == in_channels, each group of out_channels / groups output channels. */
void onnxcc_f32_conv_dw(const OnnxccGeom3 *G, size_t batch, size_t in_channels,
                        size_t out_channels, const float *x, const float *w, float *y,
                        const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
