/* verify.c: structural invariants of a graph, checked after every pass in tests.
 *
 * Every live node's inputs are constants, graph inputs or outputs of an earlier live
 * node; every value is produced at most once; the schedule holds no dead node; every
 * graph output is defined.  A failure is a compiler bug, reported as an error (not an
 * abort) so the test that triggered it can print the graph.
 */
#include <stdlib.h>

#include "ir/graph.h"

bool ir_verify(const Graph *g, Diag *d) {
    /* defined[v->id]: 1 once v is available at this point of the schedule. */
    unsigned char *defined = calloc((size_t)g->n_values + 1, 1);
    if (!defined) {
        diag_error(d, NULL, "out of memory verifying the graph");
        return false;
    }
    bool ok = true;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (v->id != i) {
            diag_error(d, NULL, "verify: value '%s' has id %d at index %d", v->name, v->id, i);
            ok = false;
        }
        if (v->data || v->is_input) defined[i] = 1;
    }
    for (int i = 0; i < g->n_nodes && ok; i++) {
        const Node *n = g->nodes[i];
        if (n->dead) {
            diag_error(d, n, "verify: dead node left in the schedule");
            ok = false;
            break;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            const Value *v = n->inputs[k];
            if (v && !defined[v->id]) {
                diag_error(d, n, "verify: input '%s' is used before it is defined", v->name);
                ok = false;
            }
        }
        for (int k = 0; k < n->n_outputs; k++) {
            const Value *v = n->outputs[k];
            if (!v) continue;
            if (defined[v->id]) {
                diag_error(d, n, "verify: output '%s' is defined twice", v->name);
                ok = false;
            }
            if (v->producer && v->producer != n) {
                diag_error(d, n, "verify: output '%s' names another producer", v->name);
                ok = false;
            }
            defined[v->id] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs && ok; i++) {
        if (!defined[g->outputs[i]->id]) {
            diag_error(d, NULL, "verify: graph output '%s' is never defined",
                       g->outputs[i]->name);
            ok = false;
        }
    }
    free(defined);
    return ok;
}
