/* tensor.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_identity = { .name = "Identity", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_dropout = { .name = "Dropout", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_constant = { .name = "Constant", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_flatten = { .name = "Flatten", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_reshape = { .name = "Reshape", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_transpose = { .name = "Transpose", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_concat = { .name = "Concat", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_pad = { .name = "Pad", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
