/* infer.c: shape and type inference, folding constant subgraphs as they are reached.
 *
 * Requires: sorted, resolved graph; graph inputs with concrete shapes.  Establishes: every
 * value's dtype and shape known; nodes whose inputs are all constant (or, for Shape-like
 * ops, whose input shapes are known) are evaluated at compile time and dropped, their
 * outputs becoming constants.  Folding happens during inference, node by node, because
 * inferring a Reshape needs its shape input, which PyTorch computes with a chain of
 * Shape/Gather/Concat nodes that only folding resolves.
 */
#include "ops/op.h"
#include "passes/pass.h"
#include "passes/fold.h"

static bool check_graph_inputs(const Graph *g, Diag *d) {
    bool ok = true;
    for (int i = 0; i < g->n_inputs; i++) {
        const Value *v = g->inputs[i];
        if (v->rank < 0 || v->dtype == DT_UNDEFINED) {
            diag_error(d, NULL, "input '%s' has no type or shape in the model: give "
                       "--shape %s=DIMS", v->name, v->name);
            ok = false;
            continue;
        }
        for (int k = 0; k < v->rank; k++) {
            if (v->dims[k] >= 0) continue;
            if (v->dim_params[k])
                diag_error(d, NULL, "input '%s' dimension %d is symbolic ('%s'): give its size "
                           "with --shape %s=DIMS", v->name, k, v->dim_params[k], v->name);
            else
                diag_error(d, NULL, "input '%s' dimension %d is unknown: give its size with "
                           "--shape %s=DIMS", v->name, k, v->name);
            ok = false;
        }
        if (dtype_size(v->dtype) == 0) {
            diag_error(d, NULL, "input '%s' has element type %s, which is not supported",
                       v->name, dtype_name(v->dtype));
            ok = false;
        }
    }
    return ok;
}

bool pass_infer_shapes(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    if (!check_graph_inputs(g, d)) return false;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] && n->inputs[k]->rank < 0) {
                diag_error(d, n, "input %d '%s' has no known shape", k, n->inputs[k]->name);
                return false;
            }
        }
        if (!n->op->infer(g, n, d)) return false;
        for (int k = 0; k < n->n_outputs; k++) {
            Value *v = n->outputs[k];
            if (v && (!ir_value_shape_known(v) || dtype_size(v->dtype) == 0)) {
                diag_error(d, n, "could not infer the shape of output '%s'", v->name);
                return false;
            }
        }
        if (!fold_node_if_constant(g, n, d)) return false;
    }
    ir_graph_compact(g);
    return true;
}
