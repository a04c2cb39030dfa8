/* pool.c: PLACEHOLDER, being written. */
#include "ops/op.h"

const OpDef op_maxpool = { .name = "MaxPool", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_averagepool = { .name = "AveragePool", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_globalaveragepool = { .name = "GlobalAveragePool", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
const OpDef op_globalmaxpool = { .name = "GlobalMaxPool", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 16, .min_outputs = 1, .max_outputs = 16 };
