/* resolve_ops.c: binds every node to its OpDef.
 *
 * Requires: a sorted graph.  Establishes: n->op set for every node and the node's arity
 * checked.  Every unknown op is reported (all of them, with node names), not just the
 * first, so a user sees at once what a model needs.  A node that fails keeps n->op NULL;
 * infer_shapes, which runs after a failure here (Pass.goes_on), skips it and what
 * depends on it and reports the other nodes' problems (types, attributes, shapes).
 */
#include "ops/op.h"
#include "passes/pass.h"

bool pass_resolve_ops(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    bool ok = true;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        n->op = op_find(n->domain, n->op_type);
        if (!n->op || !n->op->infer) {
            if (n->domain[0])
                diag_error(d, n, "unsupported op %s of domain '%s'", n->op_type, n->domain);
            else
                diag_error(d, n, "unsupported op %s", n->op_type);
            n->op = NULL;
            ok = false;
            continue;
        }
        if (n->domain[0] == '\0' && n->opset < n->op->since) {
            diag_error(d, n, "opset %d is older than the oldest supported for %s (%d)", n->opset,
                       n->op_type, n->op->since);
            n->op = NULL;
            ok = false;
            continue;
        }
        if (!op_check_arity(n, d)) {
            n->op = NULL;
            ok = false;
        }
    }
    return ok;
}
