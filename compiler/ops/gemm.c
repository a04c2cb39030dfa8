/* gemm.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_gemm = { .name = "Gemm", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_matmul = { .name = "MatMul", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
