/* onnxcc_types.h: the types that the kernels share: operands, the epilogue applied to
 * every result element, and convolution/pooling geometry.
 */
#ifndef ONNXCC_ONNXCC_TYPES_H
#define ONNXCC_ONNXCC_TYPES_H

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

/* Geometry of an N-d convolution or pooling (n_spatial 1..3), as resolved at compile
 * time from the ONNX attributes (auto_pad already turned into explicit pads).  Entries
 * past n_spatial are ignored. */
typedef struct OnnxccConvGeom {
    int n_spatial;
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3];
    int64_t pad_end[3];         /* explicit end padding (average pooling's divisor) */
} OnnxccConvGeom;

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

#endif
