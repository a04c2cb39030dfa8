/* unary.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_relu = { .name = "Relu", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_leakyrelu = { .name = "LeakyRelu", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_elu = { .name = "Elu", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_prelu = { .name = "PRelu", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_sigmoid = { .name = "Sigmoid", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_tanh = { .name = "Tanh", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_clip = { .name = "Clip", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
