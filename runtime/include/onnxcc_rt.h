/* onnxcc_rt.h: the runtime kernels that generated code calls.
 *
 * Plain C11, no allocation, no global state: every buffer comes from the caller (the
 * generated code passes slices of its workspace).  Sizes are size_t, strides are in
 * elements (ptrdiff_t).  Kernels are named by their contract: onnxcc_<type>_<op>.
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
 *   y = act(alpha * acc + bias + residual), with PRelu's slope from `slope`. */
typedef struct OnnxccEpilogue {
    OnnxccOperand bias;
    OnnxccOperand residual;
    OnnxccOperand slope;        /* PRelu */
    int act;                    /* ONNXCC_ACT_* */
    float act_alpha, act_beta;
} OnnxccEpilogue;

/* C[M][N] (row stride ldc) = epilogue(alpha * A x B), A element (i, k) at
 * a[i * a_rs + k * a_cs], B element (k, j) at b[k * b_rs + j * b_cs].  C must not alias
 * A or B (it may alias the residual exactly). */
void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep);

/* Geometry of an N-d convolution or pooling (n_spatial 1..3), as resolved at compile
 * time from the ONNX attributes (auto_pad already turned into explicit pads). */
typedef struct OnnxccConvGeom {
    int n_spatial;
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3];
} OnnxccConvGeom;

/* col[(c * k0 * k1 * k2) + kernel offset][out pixel] for the `channels` channels of one
 * image x[channels][in...]; zero where the window falls in the padding. */
void onnxcc_f32_im2col(const OnnxccConvGeom *g, size_t channels, const float *x, float *col);
/* Bytes of scratch onnxcc_f32_conv needs. */
size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels, size_t groups);
/* y[batch][out_channels][out...] = epilogue(conv(x, w)) with w[out_channels][in_channels /
 * groups][kernel...]; bias (per out channel) and PRelu slope come in ep with row strides
 * over out channels.  scratch holds onnxcc_f32_conv_scratch_bytes() bytes. */
void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch);

/* Pooling over x[batch * channels][in...] into y[batch * channels][out...]. */
void onnxcc_f32_maxpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int64_t *indices /* may be NULL */);
void onnxcc_f32_avgpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int count_include_pad);

#endif
