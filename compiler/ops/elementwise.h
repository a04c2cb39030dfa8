/* elementwise.h: the numpy-broadcasting helpers shared by the elementwise families that
 * live in separate files (compare.c defines them; bitwise.c uses them too).  A node's
 * inputs [0, n_in) broadcast together to its output 0. */
#ifndef ONNXCC_ELEMENTWISE_H
#define ONNXCC_ELEMENTWISE_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/op_util.h"

/* The broadcast shape of inputs [0, n_in) (their shapes known); false + an error naming
 * the shapes when they do not broadcast. */
bool ew_bcast_shape(const Node *n, int n_in, int *rank, int64_t *dims, Diag *d);
/* The loop nest over output 0 (operand 0, contiguous) with inputs [0, n_in) broadcast
 * to it as operands 1.. n_in (n_in < OU_MAX_OPERANDS).  Not simplified yet. */
void ew_bcast_loop(const Node *n, int n_in, OuLoop *l);
/* Infers a binary op whose two inputs have one dtype from `types` (terminated by
 * DT_UNDEFINED) and broadcast together; output 0 gets that shape and dtype `out`
 * (DT_UNDEFINED: the inputs' dtype). */
bool ew_infer_binary(const Node *n, const DType *types, DType out, Diag *d);

#endif
