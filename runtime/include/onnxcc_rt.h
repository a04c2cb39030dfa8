/* onnxcc_rt.h: the runtime kernels that generated code calls.
 *
 * Plain C11, no allocation, no global state: every buffer comes from the caller (the
 * generated code passes slices of its workspace).  Sizes are size_t, strides are in
 * elements (ptrdiff_t).  Kernels are named by their contract: onnxcc_<type>_<op>.
 *
 * One GEMM (onnxcc_f32_gemm, or onnxcc_f32_gemm_packed_b when B is packed already) does
 * all matrix products: Gemm, MatMul and the convolutions call it, so tuning its
 * micro-kernel speeds up every one of them.
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
 * of C's (i, j)).  K = 0 gives epilogue(0).  Packs B on the stack: 24 KiB, 48 KiB with
 * AVX-512. */
void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep);

/* Columns of the GEMM micro-kernel of this build, i.e. the width of a packed B panel:
 * two vectors of the widest registers the target has (chosen by -march when the runtime
 * is compiled with the generated code).  ONNXCC_GEMM_NR_MAX bounds it for the compiler,
 * which sizes scratch buffers before the target is known. */
#if defined(__AVX512F__)
#define ONNXCC_GEMM_NR 32
#else
#define ONNXCC_GEMM_NR 16
#endif
/* Rows of the micro-kernel: with AVX-512 8 x 32 (16 accumulators of the 32 registers; 8
 * divides the channel counts of CNNs, so no rows are wasted on ragged tiles), otherwise
 * 6 x 16 (12 of the 16 registers of AVX2 or NEON). */
#if defined(__AVX512F__)
#define ONNXCC_GEMM_MR 8
#else
#define ONNXCC_GEMM_MR 6
#endif
/* Depth of a K block (B panels of KC x NR floats stay in L1). */
#define ONNXCC_GEMM_KC 384
#define ONNXCC_GEMM_NR_MAX 32

/* The same product with B already packed: ceil(N / ONNXCC_GEMM_NR) panels, panel j at
 * bp + j * K * ONNXCC_GEMM_NR holding B(k, j * NR + t) at [k * NR + t], zero past N. */
void onnxcc_f32_gemm_packed_b(size_t M, size_t N, size_t K, float alpha, const float *a,
                              ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                              ptrdiff_t ldc, const OnnxccEpilogue *ep);

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
