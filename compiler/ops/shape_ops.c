/* shape_ops.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_shape = { .name = "Shape", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_gather = { .name = "Gather", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_unsqueeze = { .name = "Unsqueeze", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_squeeze = { .name = "Squeeze", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_slice = { .name = "Slice", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_cast = { .name = "Cast", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_constantofshape = { .name = "ConstantOfShape", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
