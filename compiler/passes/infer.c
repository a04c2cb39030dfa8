/* infer.c: shape and type inference, folding constant subgraphs as they are reached.
 *
 * Requires: sorted, resolved graph; graph inputs with concrete shapes.  Establishes: every
 * value's dtype and shape known; nodes whose inputs are all constant (or, for Shape-like
 * ops, whose input shapes are known) are evaluated at compile time and dropped, their
 * outputs becoming constants.  Folding happens during inference, node by node, because
 * inferring a Reshape needs its shape input, which PyTorch computes with a chain of
 * Shape/Gather/Concat nodes that only folding resolves.
 *
 * Control-flow nodes (If, Loop, Scan) are expanded here rather than inferred: their
 * OpDef's expand hook replaces them by plain nodes, inferring each as it creates it
 * (infer_node), so that a loop condition or an If condition can fold before the next
 * choice.  The new nodes take the control-flow node's place in the schedule.  Sequences
 * and optionals are compile-time lists of tensor values resolved the same way
 * (ops/sequence.c); at the end each list graph output is replaced by its tensors.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/control_flow.h"
#include "ops/op.h"
#include "passes/pass.h"
#include "passes/fold.h"

static bool check_graph_inputs(const Graph *g, Diag *d) {
    bool ok = true;
    for (int i = 0; i < g->n_inputs; i++) {
        const Value *v = g->inputs[i];
        if (v->kind != VK_TENSOR) {
            diag_error(d, NULL, "input '%s' is a %s: its length and element shapes must be "
                       "known at compile time (`onnxcc test` takes them from the case's data)",
                       v->name, v->kind == VK_SEQUENCE ? "sequence" : "optional");
            ok = false;
            continue;
        }
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
        } else if (ir_value_shape_known(v) && ir_nbytes(v) == 0 && ir_numel(v) != 0) {
            diag_error(d, NULL, "input '%s' is too large (its size in bytes overflows)",
                       v->name);
            ok = false;
        }
    }
    return ok;
}

/* Infers one node: checks its inputs are inferred, runs the op's infer (or, for control
 * flow, its expand), checks the outputs and folds the node if its inputs are constant. */
static bool infer_node(OpExpandCtx *cx, Graph *g, Node *n, Diag *d) {
    bool reads_list = false;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] && !ir_value_inferred(n->inputs[k])) {
            diag_error(d, n, "input %d '%s' has no known shape", k, n->inputs[k]->name);
            return false;
        }
        reads_list |= n->inputs[k] && n->inputs[k]->kind != VK_TENSOR;
    }
    if (n->op->expand) return n->op->expand(g, n, cx, d);
    if (reads_list) return seq_pass_through(g, n, cx, d);     /* Identity of a sequence */
    if (!n->op->infer(g, n, d)) return false;
    for (int k = 0; k < n->n_outputs; k++) {
        Value *v = n->outputs[k];
        if (v && (!ir_value_shape_known(v) || dtype_size(v->dtype) == 0)) {
            diag_error(d, n, "could not infer the shape of output '%s'", v->name);
            return false;
        }
    }
    return fold_node_if_constant(g, n, d);
}

/* Moves the nodes from index `from` to the end of the schedule to just after index at. */
static bool move_tail_after(Graph *g, int at, int from, Diag *d) {
    size_t count = (size_t)(g->n_nodes - from), between = (size_t)(from - at - 1);
    Node **tail = malloc(count * sizeof *tail);
    if (!tail) {
        diag_error(d, NULL, "out of memory placing the nodes of an expansion");
        return false;
    }
    memcpy(tail, g->nodes + from, count * sizeof *tail);
    memmove(g->nodes + at + 1 + count, g->nodes + at + 1, between * sizeof *tail);
    memcpy(g->nodes + at + 1, tail, count * sizeof *tail);
    free(tail);
    return true;
}

/* True if one of n's inputs was left without a type by a node that failed. */
static bool reads_failed_value(const Node *n) {
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] && !ir_value_inferred(n->inputs[k])) return true;
    return false;
}

/* Leaves n's outputs without a type, as if never inferred: what reads them is skipped. */
static void forget_outputs(Node *n) {
    for (int k = 0; k < n->n_outputs; k++) {
        Value *v = n->outputs[k];
        if (!v) continue;
        v->rank = -1;
        v->list_known = false;
    }
}

/* Every node is inferred in order.  A node that fails (or that resolve_ops left without
 * an op) does not stop the pass: its outputs stay untyped, the nodes that read them are
 * skipped without a message of their own, and the others are inferred, so that one run
 * reports every node's problem (an unsupported type, a bad attribute...).  An expansion
 * (control flow, sequences) that fails stops the pass at once: it may have bound part of
 * its outputs. */
bool pass_infer_shapes(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    if (!check_graph_inputs(g, d)) return false;
    OpExpandCtx cx = { .infer_node = infer_node, .nodes_left = OP_EXPAND_MAX_NODES };
    bool ok = diag_ok(d);
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        if (!n->op || (!ok && reads_failed_value(n))) {
            forget_outputs(n);
            continue;
        }
        int before = g->n_nodes;
        if (!infer_node(&cx, g, n, d)) {
            if (n->op->expand || g->n_nodes > before) return false;
            forget_outputs(n);
            ok = false;
            continue;
        }
        /* An expansion appended its nodes, already inferred: they take n's place. */
        if (g->n_nodes > before) {
            if (!move_tail_after(g, i, before, d)) return false;
            i += g->n_nodes - before;
        }
    }
    if (!ok) return false;
    /* Sequence and optional outputs become their tensors, appended Identity copies
     * included (inferred: they go to the end of the schedule). */
    if (!seq_flatten_outputs(g, &cx, d)) return false;
    ir_graph_compact(g);
    return true;
}
