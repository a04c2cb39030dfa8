/* onnxcc_conv.h: N-d convolution on top of the GEMM (runtime/src/rt_conv.c); the depthwise
 * case is in onnxcc_dwconv.h, the transposed GEMM for small planes in onnxcc_conv_small.h.
 *
 * The weights come either as the model has them (onnxcc_f32_conv) or packed at compile
 * time into the GEMM's packed-A layout (onnxcc_f32_conv_packed, the layout below).  Both
 * build the GEMM's right operand in the packed-B layout of onnxcc_gemm.h: 32-pixel
 * panels of the im2col matrix, written straight from the input (or, for a 1x1 stride-1
 * unpadded kernel, the input itself, read in place).
 */
#ifndef ONNXCC_ONNXCC_CONV_H
#define ONNXCC_ONNXCC_CONV_H

#include "onnxcc_conv_small.h"
#include "onnxcc_dwconv.h"
#include "onnxcc_gemm.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* ---- packed weights ----------------------------------------------------------------
 * W[out_channels][in_channels / groups][kernel...] seen, group by group, as the GEMM's
 * left operand: group g is the (out_channels / groups) x kdim matrix (kdim =
 * in_channels / groups * kernel size) of output channels g * cout_g ... and columns
 * k = c * kernel size + kernel offset (row-major over the kernel's axes).  Each group is
 * packed with onnxcc_packed_a_index (8-row panels, rows past cout_g zero) and the groups
 * follow one another, onnxcc_packed_a_floats(cout_g, kdim) floats each. */
static inline size_t onnxcc_conv_packed_group_floats(size_t out_channels, size_t groups,
                                                     size_t kdim) {
    return onnxcc_packed_a_floats(out_channels / groups, kdim);
}
static inline size_t onnxcc_conv_packed_floats(size_t out_channels, size_t groups,
                                               size_t kdim) {
    return groups * onnxcc_conv_packed_group_floats(out_channels, groups, kdim);
}
/* Where W[oc][k] (k the column within oc's group, as above) lives in the packed weights. */
static inline size_t onnxcc_conv_packed_index(size_t out_channels, size_t groups, size_t kdim,
                                              size_t oc, size_t k) {
    size_t cout_g = out_channels / groups;
    return oc / cout_g * onnxcc_conv_packed_group_floats(out_channels, groups, kdim) +
           onnxcc_packed_a_index(kdim, oc % cout_g, k);
}

/* Whether the convolution's panels are built by flat shifts (rt_conv.c): the outer axis
 * trivial, kernels of at most 8 x 8, strides of at most 4, and input rows exactly
 * stride times as long as output rows (3x3 "same" layers, stride 1 or 2, and the 7x7/2
 * first layer on an even width).  With a stride above 1 the input of a group is first
 * split into stride x stride phase planes (every stride-th row and column), in the
 * scratch. */
#define ONNXCC_CONV_FLAT_MAX_KERNEL 8  /* its masks live on the stack: 32 words a tap */
#define ONNXCC_CONV_FLAT_MAX_STRIDE 4
static inline int onnxcc_conv_flat(const OnnxccGeom3 *G) {
    return G->in[0] == 1 && G->out[0] == 1 && G->kernel[0] == 1 &&
           G->kernel[1] <= ONNXCC_CONV_FLAT_MAX_KERNEL &&
           G->kernel[2] <= ONNXCC_CONV_FLAT_MAX_KERNEL &&
           G->stride[1] <= ONNXCC_CONV_FLAT_MAX_STRIDE &&
           G->stride[2] <= ONNXCC_CONV_FLAT_MAX_STRIDE && G->in[2] == G->out[2] * G->stride[2];
}
/* Output pixels per chunk of the im2col matrix of a convolution whose GEMM has kdim =
 * (in_channels / groups) * kernel size rows: about 256 KiB of panels (in L2 while the
 * GEMM sweeps the weights over them), a multiple of 64, at most out_pix.  Shared by the
 * kernel and the compiler, which reserves the scratch. */
static inline size_t onnxcc_conv_chunk(size_t kdim, size_t out_pix) {
    size_t chunk = (65536 / (kdim ? kdim : 1) + 63) / 64 * 64;
    return chunk < out_pix ? chunk : out_pix;
}
/* Output pixels of the chunk that starts at pixel p0: onnxcc_conv_chunk's, except that
 * the last chunk also takes a remainder of less than one panel (ONNXCC_PACK_NR pixels).
 * Run as a GEMM of its own, such a remainder would stream all the weights again for a
 * few columns: resnet's 14 x 14 layers (196 = 3 x 64 + 4 pixels) spent 11 % of their
 * time on the 4 (bench/kernels/gemm_bench.c, "last/4"). */
static inline size_t onnxcc_conv_chunk_at(size_t kdim, size_t out_pix, size_t p0) {
    size_t chunk = onnxcc_conv_chunk(kdim, out_pix), left = out_pix - p0;
    return left < chunk + ONNXCC_PACK_NR ? left : chunk;
}
/* The columns of the largest chunk as stored in the scratch: whole packed-B panels (a
 * multiple of ONNXCC_PACK_NR). */
static inline size_t onnxcc_conv_chunk_cols(size_t kdim, size_t out_pix) {
    size_t c = onnxcc_conv_chunk(kdim, out_pix), rest = out_pix % (c ? c : 1);
    if (rest < ONNXCC_PACK_NR) c += rest;   /* the last chunk, with the remainder */
    return (c + ONNXCC_PACK_NR - 1) / ONNXCC_PACK_NR * ONNXCC_PACK_NR;
}
/* Bytes of scratch onnxcc_f32_conv and onnxcc_f32_conv_packed need: the phase planes of
 * a group (onnxcc_conv_flat with a stride above 1: in_channels / groups * input pixels
 * floats), then the B panels of one chunk, kdim * onnxcc_conv_chunk_cols(kdim, output
 * pixels) floats; 0 for a 1x1 stride-1 unpadded convolution (its input is B); for the
 * direct cases (onnxcc_conv_direct) what onnxcc_f32_conv_dw_scratch_bytes says.  It does
 * not depend on the thread count. */
size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t out_channels, size_t groups);
/* y[batch][out_channels][out...] = epilogue(conv(x, w)) with w[out_channels][in_channels /
 * groups][kernel...].  In ep: bias and PRelu slope are per output channel, channel oc's
 * value at ptr[oc * row_stride] (col_stride ignored); bias_scale applies as in the GEMM;
 * residual, if any, is a tensor of y's shape (its strides are ignored) and may alias y
 * exactly.  `alpha` of the GEMM is 1.  scratch holds onnxcc_f32_conv_scratch_bytes()
 * bytes.  x and y must not overlap.  With a pool, the panels of a chunk are built in
 * parallel and the GEMM parallelises itself. */
void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch,
                     OnnxccPool *pool);
/* The same with the weights packed (wp: onnxcc_conv_packed_index, 64-byte aligned for
 * speed).  Not for the direct cases (onnxcc_conv_direct), whose weights stay as they are. */
void onnxcc_f32_conv_packed(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                            size_t out_channels, size_t groups, const float *x,
                            const float *wp, float *y, const OnnxccEpilogue *ep,
                            void *scratch, OnnxccPool *pool);

#endif
