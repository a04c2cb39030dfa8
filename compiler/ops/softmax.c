/* softmax.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_softmax = { .name = "Softmax", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
