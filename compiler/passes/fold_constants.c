/* fold_constants.c: evaluates at compile time every node whose inputs are constant.
 *
 * Requires: inferred shapes.  Establishes: no live node left whose inputs are all
 * constant and whose op can fold (inference already folds as it goes; this pass catches
 * what later rewrites expose).  Folded outputs larger than FOLD_MAX_BYTES are left to run
 * time, so a ConstantOfShape of a huge tensor does not bloat the emitted file.
 */
#include "ops/op.h"
#include "passes/fold.h"
#include "passes/pass.h"

enum { FOLD_MAX_BYTES = 64 << 20 };

bool fold_node_if_constant(Graph *g, Node *n, Diag *d) {
    const OpDef *op = n->op;
    if (!op || !op->fold || n->dead) return true;
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        if (!v) continue;
        if (op->fold_on_shapes ? !ir_value_shape_known(v) : !v->data) return true;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const Value *v = n->outputs[k];
        if (!v) continue;
        if (ir_nbytes(v) > FOLD_MAX_BYTES) return true;
    }
    if (!op->fold(g, n, d)) return false;
    for (int k = 0; k < n->n_outputs; k++) {
        Value *v = n->outputs[k];
        if (!v) continue;
        if (!v->data) BUG("fold of %s left output '%s' without data", n->op_type, v->name);
        v->producer = NULL;
    }
    n->dead = true;
    return true;
}

bool pass_fold_constants(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    for (int i = 0; i < g->n_nodes; i++)
        if (!fold_node_if_constant(g, g->nodes[i], d)) return false;
    ir_graph_compact(g);
    return true;
}
