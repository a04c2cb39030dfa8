/* onnxcc_conv_first.h: direct convolution for few input channels, the first layer of
 * image models (runtime/src/rt_conv_first.c).
 *
 * With 3 input channels and a 3x3 kernel the GEMM of onnxcc_f32_conv has K = 27: its
 * tiles are mostly loads, stores and loop overhead, and its B panels are gathered pixel
 * by pixel.  This kernel keeps a tile of output channels x output pixels in vector
 * registers instead and streams the input through it: per kernel tap, one vector of
 * consecutive output pixels of each tile row is loaded and multiplied by each channel's
 * weight, broadcast.  The input is first copied, per channel, into stride x stride phase
 * planes with the padding written out as zeros (for stride 1, one plane: the padded
 * image), so that a tap of 16 output pixels reads 16 consecutive floats, without a test.
 */
#ifndef ONNXCC_ONNXCC_CONV_FIRST_H
#define ONNXCC_ONNXCC_CONV_FIRST_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* Output channels per block of the packed weights (the tile's channels), the same for
 * every -march since the weights are packed at compile time. */
#define ONNXCC_CONV_FIRST_OC 8
#define ONNXCC_CONV_FIRST_MAX_CIN 4
#define ONNXCC_CONV_FIRST_MAX_TAPS 256    /* in channels x kernel size: a table on the stack */
#define ONNXCC_CONV_FIRST_MAX_STRIDE 4
/* Phase-plane rows hold whole vectors of output pixels, 16 floats being the widest
 * vector of any ISA, so that the last vector of a row is loaded whole. */
#define ONNXCC_CONV_FIRST_COL_ALIGN 16

/* Kernel taps of all input channels: in_channels * kernel size. */
static inline size_t onnxcc_conv_first_taps(const OnnxccGeom3 *G, size_t in_channels) {
    return in_channels * (size_t)(G->kernel[0] * G->kernel[1] * G->kernel[2]);
}

/* Whether a convolution takes this path (compiler and runtime agree through it): one
 * group of at most 4 input channels, 1-D or 2-D (the outer axis of onnxcc_geom3
 * trivial), strides of at most 4 and at most 256 taps. */
static inline int onnxcc_conv_first_use(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t out_channels, size_t groups) {
    return groups == 1 && in_channels >= 1 && in_channels <= ONNXCC_CONV_FIRST_MAX_CIN &&
           out_channels >= 1 && G->in[0] == 1 && G->out[0] == 1 && G->kernel[0] == 1 &&
           G->stride[1] <= ONNXCC_CONV_FIRST_MAX_STRIDE &&
           G->stride[2] <= ONNXCC_CONV_FIRST_MAX_STRIDE &&
           onnxcc_conv_first_taps(G, in_channels) <= ONNXCC_CONV_FIRST_MAX_TAPS;
}

/* The weights: W[out_channels][in_channels][kernel...] in blocks of ONNXCC_CONV_FIRST_OC
 * output channels, block b holding W[b * OC + o][t] (t = c * kernel size + kernel
 * offset, row-major over the kernel's axes) at [t * OC + o], zero past out_channels. */
static inline size_t onnxcc_conv_first_floats(size_t out_channels, size_t taps) {
    size_t blocks = (out_channels + ONNXCC_CONV_FIRST_OC - 1) / ONNXCC_CONV_FIRST_OC;
    return blocks * taps * ONNXCC_CONV_FIRST_OC;
}
static inline size_t onnxcc_conv_first_index(size_t taps, size_t oc, size_t t) {
    return (oc / ONNXCC_CONV_FIRST_OC * taps + t) * ONNXCC_CONV_FIRST_OC +
           oc % ONNXCC_CONV_FIRST_OC;
}

/* Rows and columns of one phase plane: the output's rows (columns rounded up to whole
 * ONNXCC_CONV_FIRST_COL_ALIGN vectors) plus the farthest tap's offset in the plane, the
 * columns rounded up again so that rows start on 64-byte boundaries (most of the
 * kernel's loads are then aligned: 3-4 % faster on squeezenet's first layer).
 * Phase plane (py, px) of input channel c starts at ((c * stride[1] + py) * stride[2] +
 * px) * rows * cols floats of the scratch; its element (qy, qx) is the input pixel
 * (qy * stride[1] + py - pad[1], qx * stride[2] + px - pad[2]), or 0 outside. */
static inline void onnxcc_conv_first_plane(const OnnxccGeom3 *G, size_t *rows, size_t *cols) {
    const int64_t align = ONNXCC_CONV_FIRST_COL_ALIGN;
    *rows = (size_t)(G->out[1] + (G->kernel[1] - 1) * G->dilation[1] / G->stride[1]);
    const int64_t used = (G->out[2] + align - 1) / align * align +
                         (G->kernel[2] - 1) * G->dilation[2] / G->stride[2];
    *cols = (size_t)((used + align - 1) / align * align);
}

/* Bytes of scratch onnxcc_f32_conv_first needs: the phase planes of every input channel,
 * in_channels * stride[1] * stride[2] planes (onnxcc_conv_first_plane).  It does not
 * depend on the thread count. */
size_t onnxcc_f32_conv_first_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels);

/* y[batch][out_channels][out...] = epilogue(conv(x, w)) for a convolution of
 * onnxcc_conv_first_use, any padding and dilation; wf holds the weights as above.  In ep
 * (NULL: none): bias and PRelu slope are per output channel, channel oc's value at
 * ptr[oc * row_stride] (col_stride ignored); bias_scale applies as in the GEMM; residual,
 * if any, is a tensor of y's shape (its strides are ignored) and may alias y exactly.
 * scratch holds onnxcc_f32_conv_first_scratch_bytes() bytes.  x and y must not overlap.
 * With a pool, the phase planes and then the tiles are split across its threads; every
 * output is computed the same way whatever the thread count. */
void onnxcc_f32_conv_first(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                           size_t out_channels, const float *x, const float *wf, float *y,
                           const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
