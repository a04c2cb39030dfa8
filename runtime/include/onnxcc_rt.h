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

#include "onnxcc_act.h"
#include "onnxcc_conv.h"
#include "onnxcc_conv_small.h"
#include "onnxcc_dwconv.h"
#include "onnxcc_gemm.h"
#include "onnxcc_pooling.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

#endif
