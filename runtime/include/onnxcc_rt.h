/* onnxcc_rt.h: the runtime kernels that generated code calls.
 *
 * Plain C11, no global state, no allocation in the kernels: every buffer comes from the caller (the
 * generated code passes slices of its workspace).  Sizes are size_t, strides are in
 * elements (ptrdiff_t).  Kernels are named by their contract: onnxcc_<type>_<op>.
 *
 * One GEMM (onnxcc_gemm.h: strided, or with A and/or B in the packed layouts that onnxcc
 * writes weights in at compile time) does all matrix products: Gemm, MatMul and the dense
 * convolutions call it, so tuning its micro-kernels speeds up every one of them.  The
 * only allocation is onnxcc_pool_create (onnxcc_threads.h), the optional thread pool that
 * every kernel takes as its last parameter (NULL: the caller's thread alone).
 */
#ifndef ONNXCC_RT_H
#define ONNXCC_RT_H

#include "onnxcc_act.h"
#include "onnxcc_conv.h"
#include "onnxcc_conv_blocked.h"
#include "onnxcc_conv_first.h"
#include "onnxcc_conv_small.h"
#include "onnxcc_conv_wino.h"
#include "onnxcc_dwconv.h"
#include "onnxcc_eltwise.h"
#include "onnxcc_gemm.h"
#include "onnxcc_gemm_rows.h"
#include "onnxcc_lowp.h"
#include "onnxcc_pooling.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

#endif
