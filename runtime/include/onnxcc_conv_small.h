/* onnxcc_conv_small.h: dense convolutions on small planes through a transposed GEMM
 * (runtime/src/rt_conv_small.c).
 *
 * onnxcc_f32_conv makes output channels the GEMM's rows and output pixels its columns,
 * computed in tiles of 32: a 7 x 7 plane (49 pixels) costs 64 columns.  Here the roles
 * swap: rows are output pixels (8 per tile: 49 = 6 tiles and a one-row tile, which the
 * GEMM runs as a cheap GEMV), columns are output channels (multiples of 32 in CNNs), and
 * the GEMM stores its result transposed, straight into y's NCHW layout
 * (onnxcc_f32_gemm_pab_ct).  The weights are the right operand, packed at compile time.
 */
#ifndef ONNXCC_ONNXCC_CONV_SMALL_H
#define ONNXCC_ONNXCC_CONV_SMALL_H

#include "onnxcc_gemm.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* The weights: W[out_channels][in_channels][kernel...] as the K x out_channels matrix
 * B(k, oc) = W[oc][k], k = c * kernel size + kernel offset (row-major over the kernel's
 * axes: (c * kernel_h + ky) * kernel_w + kx in 2-D), packed with onnxcc_packed_b_index:
 * onnxcc_packed_b_floats(K, out_channels) floats, 64-byte aligned for speed. */
static inline size_t onnxcc_conv_small_kdim(const OnnxccGeom3 *G, size_t in_channels) {
    return in_channels * (size_t)(G->kernel[0] * G->kernel[1] * G->kernel[2]);
}

/* Whether a convolution takes this path (compiler and runtime agree through it): one
 * group; onnxcc_f32_conv would waste more than a fifth of its work on padding pixels
 * (it computes them in slivers of 32 columns, the last one 16 wide when 16 suffice: a
 * 7 x 7 plane's 49 pixels cost 64, while 8 x 8 and 14 x 14 planes waste little); at
 * least 32 output channels (whole 32-column panels here); and K of at least 128 (with
 * less, storing the tiles transposed is not paid back).  Measured with
 * bench/kernels/gemm_bench.c ("conv" shapes, one thread, time of onnxcc_f32_conv_packed
 * over this path's): resnet's and mobilenet_v2's 7 x 7 layers 1.2-1.4, 10 x 10 and
 * 9 x 9 1.0-1.05, 14 x 14 and 8 x 8 0.84-0.91, 1x1 with K = 32 0.83, 16 output
 * channels 0.48. */
static inline int onnxcc_conv_use_small(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t out_channels, size_t groups) {
    size_t pix = (size_t)(G->out[0] * G->out[1] * G->out[2]), rest = pix % 32;
    size_t cols = pix - rest + (rest == 0 ? 0 : rest <= 16 ? 16 : 32);
    return groups == 1 && out_channels >= 32 && onnxcc_conv_small_kdim(G, in_channels) >= 128 &&
           pix * 5 < cols * 4;
}

/* Bytes of scratch onnxcc_f32_conv_small needs: the transposed im2col matrix of one
 * image (output pixels x K) packed in 8-row panels (onnxcc_packed_a_floats).  It does
 * not depend on the thread count. */
size_t onnxcc_f32_conv_small_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels);

/* y[batch][out_channels][out...] = epilogue(conv(x, w)) for one group, any kernel,
 * stride, padding and dilation; wpb holds the weights as above.  In ep (NULL: none): bias
 * and PRelu slope are per output channel, channel oc's value at ptr[oc * row_stride]
 * (col_stride ignored); bias_scale applies as in the GEMM; residual, if any, is a tensor
 * of y's shape (its strides are ignored) and may alias y exactly.  scratch holds
 * onnxcc_f32_conv_small_scratch_bytes() bytes (64-byte aligned for speed).  x and y must
 * not overlap.  With a pool, the panels are built in parallel and the GEMM parallelises
 * itself. */
void onnxcc_f32_conv_small(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                           size_t out_channels, const float *x, const float *wpb, float *y,
                           const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
