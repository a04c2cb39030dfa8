/* fold.h: evaluating one node at compile time (shared by infer.c and fold_constants.c). */
#ifndef ONNXCC_FOLD_H
#define ONNXCC_FOLD_H

#include <stdbool.h>

#include "ir/graph.h"

/* If n can be folded (its op has a folder and its inputs are constant, or their shapes
 * known for Shape-like ops), computes its outputs' data and marks n dead.  Returns false
 * only on an error. */
bool fold_node_if_constant(Graph *g, Node *n, Diag *d);

#endif
