/* onnxcc_rt.h: the runtime kernels that generated code calls.
 *
 * Plain C11, no allocation, no global state: every buffer comes from the caller (the
 * generated code passes slices of its workspace).  Sizes are size_t, strides are in
 * elements (ptrdiff_t).  Kernels are named by their contract: onnxcc_<type>_<op>.
 *
 * One GEMM entry point (onnxcc_f32_gemm) does all matrix products: Gemm, MatMul and the
 * convolutions call it, so tuning it speeds up every one of them.
 */
#ifndef ONNXCC_RT_H
#define ONNXCC_RT_H

#include <stddef.h>
#include <stdint.h>

#include "onnxcc_act.h"

#define ONNXCC_INF (__builtin_inff())
#define ONNXCC_NAN (__builtin_nanf(""))

/* A read-only operand broadcast over an M x N result: element (i, j) is
 * ptr[i * row_stride + j * col_stride].  A per-row vector has (1, 0), per-column (0, 1),
 * a scalar (0, 0), a full row-major matrix (N, 1).  ptr NULL = absent. */
typedef struct OnnxccOperand {
    const float *ptr;
    ptrdiff_t row_stride, col_stride;
} OnnxccOperand;

/* What happens to each result element before it is stored:
 *   y = act(alpha * acc + bias_scale * bias + residual), with PRelu's slope from `slope`.
 * bias_scale is Gemm's beta: set it to 1.0f for a plain bias (it is ignored when
 * bias.ptr is NULL).  An epilogue pointer of NULL means "no epilogue". */
typedef struct OnnxccEpilogue {
    OnnxccOperand bias;
    OnnxccOperand residual;
    OnnxccOperand slope;        /* PRelu */
    int act;                    /* ONNXCC_ACT_* */
    float act_alpha, act_beta;
    float bias_scale;
} OnnxccEpilogue;

/* C[M][N] (row stride ldc) = epilogue(alpha * A x B), A element (i, k) at
 * a[i * a_rs + k * a_cs], B element (k, j) at b[k * b_rs + j * b_cs].  C must not alias
 * A or B (it may alias the residual exactly, i.e. residual element (i, j) at the address
 * of C's (i, j)).  K = 0 gives epilogue(0).  Packs B on the stack: 16 KiB, 32 KiB with
 * AVX-512. */
void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep);

/* Geometry of an N-d convolution or pooling (n_spatial 1..3), as resolved at compile
 * time from the ONNX attributes (auto_pad already turned into explicit pads).  Entries
 * past n_spatial are ignored. */
typedef struct OnnxccConvGeom {
    int n_spatial;
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3];
    int64_t pad_end[3];         /* explicit end padding (average pooling's divisor) */
} OnnxccConvGeom;

/* col[(c * k0 * k1 * k2) + kernel offset][out pixel] for the `channels` channels of one
 * image x[channels][in...]; zero where the window falls in the padding. */
void onnxcc_f32_im2col(const OnnxccConvGeom *g, size_t channels, const float *x, float *col);
/* The geometry with exactly three spatial axes: the real ones last and the leading
 * ones trivial (size 1), so that kernels loop over three axes whatever n_spatial is and
 * the innermost loops run along the image's rows. */
typedef struct OnnxccGeom3 {
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3], pad_end[3];
} OnnxccGeom3;

static inline void onnxcc_geom3(const OnnxccConvGeom *g, OnnxccGeom3 *o) {
    int lead = 3 - (g->n_spatial < 1 ? 1 : g->n_spatial > 3 ? 3 : g->n_spatial);
    for (int i = 0; i < 3; i++) {
        int used = i >= lead, j = used ? i - lead : 0;
        o->in[i] = used ? g->in[j] : 1;
        o->out[i] = used ? g->out[j] : 1;
        o->kernel[i] = used ? g->kernel[j] : 1;
        o->stride[i] = used ? g->stride[j] : 1;
        o->dilation[i] = used ? g->dilation[j] : 1;
        o->pad[i] = used ? g->pad_begin[j] : 0;
        o->pad_end[i] = used ? g->pad_end[j] : 0;
    }
}

/* Whether onnxcc_f32_conv computes directly (several groups of one input channel each:
 * depthwise, with or without a channel multiplier) rather than by im2col + GEMM.  Shared
 * by the kernel and the compiler, which reserves the scratch. */
static inline int onnxcc_conv_direct(size_t in_channels, size_t groups) {
    return groups > 1 && in_channels == groups;
}
/* Output pixels per chunk of the im2col matrix of a convolution whose GEMM has kdim =
 * (in_channels / groups) * kernel size rows: about 256 KiB of col (so that it is still in
 * cache when the GEMM packs it), a multiple of 64, at most out_pix.  Shared by the kernel
 * and the compiler, which reserves the scratch. */
static inline size_t onnxcc_conv_chunk(size_t kdim, size_t out_pix) {
    size_t chunk = (65536 / (kdim ? kdim : 1) + 63) / 64 * 64;
    return chunk < out_pix ? chunk : out_pix;
}
/* Bytes of scratch onnxcc_f32_conv needs: kdim * chunk floats, or 0 for a 1x1 stride-1
 * unpadded convolution and for the direct path (onnxcc_conv_direct). */
size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t groups);
/* y[batch][out_channels][out...] = epilogue(conv(x, w)) with w[out_channels][in_channels /
 * groups][kernel...].  In ep: bias and PRelu slope are per output channel, channel oc's
 * value at ptr[oc * row_stride] (col_stride ignored); bias_scale applies as in the GEMM;
 * residual, if any, is a tensor of y's shape (its strides are ignored) and may alias y
 * exactly.  `alpha` of the GEMM is 1.  scratch holds onnxcc_f32_conv_scratch_bytes()
 * bytes.  x and y must not overlap. */
void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch);

/* Pooling over x[planes][in...] into y[planes][out...] (planes = batch * channels).
 * Max pooling ignores the padding; `indices` (may be NULL) receives, as ONNX's MaxPool
 * Indices output, the flat index of each maximum in the whole input tensor, with the
 * spatial part row-major (storage_order 0) or column-major (1). */
void onnxcc_f32_maxpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int64_t *indices, int storage_order);
/* Average pooling: the divisor counts the window's positions inside the input, or also
 * those in the explicit padding when count_include_pad (never those past the padding,
 * which ceil_mode may add). */
void onnxcc_f32_avgpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int count_include_pad);

#endif
