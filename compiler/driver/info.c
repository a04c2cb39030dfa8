/* info.c: `onnxcc info MODEL`: what a model holds and what compiling it would take.
 *
 * Prints opset, inputs and outputs, node counts per op, parameters, then runs the
 * pipeline for FLOPs and the memory plan.  Unsupported ops are listed all at once with
 * their node names; the pipeline's errors (every node's problem, see infer.c) follow on
 * stderr.  The exit code is 1 if the model cannot be compiled as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/driver_internal.h"
#include "ops/op.h"

static void print_value(const Value *v) {
    char q[200], shape[256];
    printf("  %-24s %s\n", diag_quote(q, sizeof q, v->name),
           ir_value_inferred(v) ? ir_shape_str(shape, sizeof shape, v) : "(not inferred)");
}

static const char *human(char *buf, size_t size, double x, const char *unit) {
    const char *pre[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (x >= 1000 && i < 4) x /= 1000, i++;
    snprintf(buf, size, i ? "%.2f %s%s" : "%.0f %s%s", x, pre[i], unit);
    return buf;
}

/* Op types in first-seen order with their counts. */
static void print_op_counts(const Graph *g) {
    int n = g->n_nodes;
    const char **types = calloc((size_t)(n ? n : 1), sizeof *types);
    int *counts = calloc((size_t)(n ? n : 1), sizeof *counts);
    int n_types = 0;
    if (!types || !counts) goto out;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < n_types && strcmp(types[k], g->nodes[i]->op_type) != 0) k++;
        if (k == n_types) types[n_types++] = g->nodes[i]->op_type;
        counts[k]++;
    }
    printf("nodes: %d\n", n);
    for (int k = 0; k < n_types; k++) {
        char q[80];
        printf("  %-24s %d\n", diag_quote(q, sizeof q, types[k]), counts[k]);
    }
out:
    free(types);
    free(counts);
}

int driver_info(const DriverOptions *o, Diag *d) {
    int load_rc;
    Graph *g = drv_load(o, o->model, &load_rc, d);
    if (!g) return load_rc;
    char q[200], b1[64], b2[64];
    const char *base = strrchr(o->model, '/');
    printf("model: %s\n", diag_quote(q, sizeof q, base ? base + 1 : o->model));
    printf("producer: %s\n", diag_quote(q, sizeof q, g->producer));
    printf("ir_version: %lld, opset: %d\n", (long long)g->ir_version, g->opset);
    printf("inputs:\n");
    for (int i = 0; i < g->n_inputs; i++) print_value(g->inputs[i]);
    /* Output shapes come from inference (the model's own are not trusted): printed
     * after the pipeline below. */
    print_op_counts(g);
    int64_t params = 0;
    size_t param_bytes = 0;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data || ir_numel(v) < 0) continue;
        params += ir_numel(v);
        param_bytes += ir_nbytes(v);
    }
    printf("parameters: %lld (%s)\n", (long long)params, human(b1, sizeof b1, (double)param_bytes, "B"));

    /* Unsupported ops first, all of them, so the user sees the whole list at once; the
     * pipeline below then reports every other node's problem too (types, attributes,
     * shapes), on stderr, before anything would be emitted. */
    int unsupported = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (op_find(n->domain, n->op_type)) continue;
        char qn[200], qd[80];
        if (!unsupported) printf("unsupported ops:\n");
        printf("  %s%s%s (node '%s')\n", n->domain[0] ? diag_quote(qd, sizeof qd, n->domain) : "",
               n->domain[0] ? "." : "", n->op_type, diag_quote(qn, sizeof qn, n->name));
        unsupported++;
    }
    if (!unsupported) printf("unsupported ops: none\n");

    int rc = 0;
    if (drv_pipeline(g, o, NULL, d)) {
        double flops = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const Node *n = g->nodes[i];
            int64_t f = 0;
            if (n->op->flops) f = n->op->flops(n);
            else if (n->outputs[0] && ir_numel(n->outputs[0]) > 0) f = ir_numel(n->outputs[0]);
            flops += (double)f;
        }
        const MemoryPlan *p = plan_get(g);
        printf("outputs:\n");
        for (int i = 0; i < g->n_outputs; i++) print_value(g->outputs[i]);
        printf("compiled nodes: %d (after folding and fusion)\n", g->n_nodes);
        printf("FLOPs: %s per run\n", human(b1, sizeof b1, flops, "FLOP"));
        printf("workspace: %zu bytes (%s), lower bound %zu bytes (%s)", p->workspace_bytes,
               human(b1, sizeof b1, (double)p->workspace_bytes, "B"), p->lower_bound_bytes,
               human(b2, sizeof b2, (double)p->lower_bound_bytes, "B"));
        if (p->lower_bound_bytes)
            printf(", ratio %.3f", (double)p->workspace_bytes / (double)p->lower_bound_bytes);
        printf("\n");
    } else {
        printf("outputs:\n");
        for (int i = 0; i < g->n_outputs; i++) print_value(g->outputs[i]);
        printf("compilation: fails (see the errors below)\n");
        rc = 1;
    }
    ir_graph_free(g);
    return rc;
}
