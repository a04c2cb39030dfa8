/* dce.c: dead-code elimination.
 *
 * Requires: a sorted graph.  Establishes: every live node has at least one output that is
 * a graph output or read by a live node.  One backward sweep over the schedule suffices
 * because it is topological.
 */
#include "passes/pass.h"

bool pass_dce(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    bool *needed = arena_array(&g->arena, (size_t)g->n_values, sizeof(bool));
    if (!needed && g->n_values > 0) {
        diag_error(d, NULL, "out of memory in dead-code elimination");
        return false;
    }
    for (int i = 0; i < g->n_outputs; i++) needed[g->outputs[i]->id] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] && needed[n->outputs[k]->id]) used = true;
        if (!used) {
            n->dead = true;
            continue;
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k]) needed[n->inputs[k]->id] = true;
    }
    ir_graph_compact(g);
    return true;
}
