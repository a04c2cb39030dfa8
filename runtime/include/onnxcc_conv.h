/* onnxcc_conv.h: N-d convolution on top of the GEMM (runtime/src/rt_conv.c); the depthwise
 * case is in onnxcc_dwconv.h.
 */
#ifndef ONNXCC_ONNXCC_CONV_H
#define ONNXCC_ONNXCC_CONV_H

#include "onnxcc_dwconv.h"
#include "onnxcc_gemm.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* col[(c * k0 * k1 * k2) + kernel offset][out pixel] for the `channels` channels of one
 * image x[channels][in...]; zero where the window falls in the padding. */
void onnxcc_f32_im2col(const OnnxccConvGeom *g, size_t channels, const float *x, float *col);
/* Whether onnxcc_f32_conv takes its shifted-window path: a 2-D (or 1-D) dense kernel
 * (not 1x1) of stride 1 whose grid (below) is not much larger than the output.  The input
 * of a group is copied once into a zero-padded plane; on the output grid extended to the
 * plane's width, tap (ky, kx) of channel c reads the plane at a constant offset from the
 * output pixel, so the GEMM's B panels are plain copies (no im2col).  The extra columns
 * of the grid (kernel width - 1 per row) are computed and dropped. */
static inline int onnxcc_conv_shifted(const OnnxccGeom3 *G, size_t in_channels,
                                      size_t groups) {
    if (onnxcc_conv_direct(in_channels, groups) || G->in[0] != 1 || G->out[0] != 1 ||
        G->kernel[0] != 1 || G->kernel[1] * G->kernel[2] < 2 || G->stride[1] != 1 ||
        G->stride[2] != 1)
        return 0;
    /* Worth it while the grid needs at most 1/8 more 32-column panels than the output
     * (a 7 x 7 output rounds up to 64 columns either way). */
    int64_t wp = G->out[2] + (G->kernel[2] - 1) * G->dilation[2];
    int64_t grid = (G->out[1] - 1) * wp + G->out[2], pix = G->out[1] * G->out[2];
    return (grid + 31) / 32 * 8 <= (pix + 31) / 32 * 9;
}
/* Rows and columns of the padded plane of a strided window: (out - 1) * stride + the
 * dilated kernel's extent.  Used by the shifted-window and the fast depthwise paths. */
static inline int64_t onnxcc_conv_plane_dim(const OnnxccGeom3 *G, int axis) {
    return (G->out[axis] - 1) * G->stride[axis] + (G->kernel[axis] - 1) * G->dilation[axis] + 1;
}
/* Output pixels per chunk of the im2col matrix of a convolution whose GEMM has kdim =
 * (in_channels / groups) * kernel size rows: about 256 KiB of col (so that it is still in
 * cache when the GEMM packs it), a multiple of 64, at most out_pix.  Shared by the kernel
 * and the compiler, which reserves the scratch. */
static inline size_t onnxcc_conv_chunk(size_t kdim, size_t out_pix) {
    size_t chunk = (65536 / (kdim ? kdim : 1) + 63) / 64 * 64;
    return chunk < out_pix ? chunk : out_pix;
}
/* The chunk's columns as stored in the scratch: whole packed panels (a multiple of
 * ONNXCC_GEMM_NR_MAX, hence of ONNXCC_GEMM_NR whatever the target). */
static inline size_t onnxcc_conv_chunk_cols(size_t kdim, size_t out_pix) {
    size_t c = onnxcc_conv_chunk(kdim, out_pix);
    return (c + ONNXCC_GEMM_NR_MAX - 1) / ONNXCC_GEMM_NR_MAX * ONNXCC_GEMM_NR_MAX;
}
/* Bytes of scratch onnxcc_f32_conv needs: kdim * chunk_cols floats for im2col; for the
 * shifted-window path (onnxcc_conv_shifted) the plane of a group's channels, then
 * (kdim + out_channels / groups) * chunk_cols floats with chunk_cols from
 * onnxcc_conv_chunk_cols(kdim, (out[1] - 1) * plane width + out[2]); the padded plane of
 * the fast depthwise path (onnxcc_conv_dw_fast); or 0 for a 1x1 stride-1 unpadded
 * convolution and for the other direct cases (onnxcc_conv_direct). */
size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t out_channels, size_t groups);
/* y[batch][out_channels][out...] = epilogue(conv(x, w)) with w[out_channels][in_channels /
 * groups][kernel...].  In ep: bias and PRelu slope are per output channel, channel oc's
 * value at ptr[oc * row_stride] (col_stride ignored); bias_scale applies as in the GEMM;
 * residual, if any, is a tensor of y's shape (its strides are ignored) and may alias y
 * exactly.  `alpha` of the GEMM is 1.  scratch holds onnxcc_f32_conv_scratch_bytes()
 * bytes.  x and y must not overlap. */
void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch,
                     OnnxccPool *pool);

#endif
