/* onnxcc_eltwise.h: standalone activations of float tensors (runtime/src/rt_eltwise.c).
 *
 * What the generated code calls for a Relu, LeakyRelu, Elu, Sigmoid, Tanh, HardSigmoid,
 * HardSwish or Swish (SiLU) of a float32 tensor that no convolution or GEMM absorbed
 * (compiler/ops/unary.c): the vector math of the kernels' epilogues, so that a fused and
 * an unfused activation compute the same thing.
 */
#ifndef ONNXCC_ONNXCC_ELTWISE_H
#define ONNXCC_ONNXCC_ELTWISE_H

#include <stddef.h>

#include "onnxcc_act.h"

/* y[i] = activation `act` (an ONNXCC_ACT_* code) of x[i] for i < n, with its alpha and
 * beta as onnxcc_act takes them (LeakyRelu and Elu: alpha; Clip: alpha = min, beta =
 * max; HardSigmoid: both; the others ignore them).  PRelu, whose slope is a tensor, is
 * not meant for this call: like ONNXCC_ACT_NONE and unknown codes, it copies.  Within 3
 * ulp of the onnxcc_act.h functions for Sigmoid, SiLU, Elu and Tanh (onnxcc_simd.h);
 * each element's result depends on its value alone, not on where it lies or on n.
 * y == x (in place) is allowed; other overlaps are not. */
void onnxcc_f32_act(int act, const float *x, float *y, size_t n, float alpha, float beta);

#endif
