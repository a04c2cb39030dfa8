/* print.c: the graph as text, one node per line, for --dump-after and test failures.
 *
 *   %relu_out = Relu 'relu1' (%conv_out : float[1][8][8][8]) [fused: ...]
 * Names are quoted with diag_quote so that model strings cannot break the layout.
 */
#include "ir/graph.h"

#include "base/strbuf.h"

static void put_value(StrBuf *out, const Value *v) {
    char q[96], shape[160];
    if (!v) {
        sb_puts(out, "<none>");
        return;
    }
    sb_printf(out, "%%%s : %s%s", diag_quote(q, sizeof q, v->name),
              ir_shape_str(shape, sizeof shape, v), v->data ? " const" : "");
}

static void put_attr(StrBuf *out, const Attr *a) {
    char q[96];
    sb_printf(out, " %s=", a->name);
    switch (a->type) {
    case ATTR_FLOAT: sb_printf(out, "%g", (double)a->f); break;
    case ATTR_INT: sb_printf(out, "%lld", (long long)a->i); break;
    case ATTR_STRING: sb_printf(out, "\"%s\"", diag_quote(q, sizeof q, a->s)); break;
    case ATTR_INTS:
        sb_putc(out, '[');
        for (size_t k = 0; k < a->count && k < 16; k++)
            sb_printf(out, "%s%lld", k ? "," : "", (long long)a->ints[k]);
        sb_puts(out, a->count > 16 ? ",...]" : "]");
        break;
    case ATTR_FLOATS:
        sb_putc(out, '[');
        for (size_t k = 0; k < a->count && k < 16; k++)
            sb_printf(out, "%s%g", k ? "," : "", (double)a->floats[k]);
        sb_puts(out, a->count > 16 ? ",...]" : "]");
        break;
    case ATTR_GRAPH:
        if (a->graph)
            sb_printf(out, "<graph '%s': %d nodes>", diag_quote(q, sizeof q, a->graph->name),
                      a->graph->n_nodes);
        else
            sb_puts(out, "<graphs>");
        break;
    default: sb_puts(out, "<...>"); break;
    }
}

void ir_graph_print(const Graph *g, StrBuf *out) {
    char q[96];
    sb_puts(out, "inputs:");
    for (int i = 0; i < g->n_inputs; i++) {
        sb_putc(out, ' ');
        put_value(out, g->inputs[i]);
    }
    sb_putc(out, '\n');
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        sb_puts(out, "  ");
        for (int k = 0; k < n->n_outputs; k++) {
            if (k) sb_puts(out, ", ");
            if (n->outputs[k])
                sb_printf(out, "%%%s", diag_quote(q, sizeof q, n->outputs[k]->name));
            else
                sb_puts(out, "<none>");
        }
        sb_printf(out, " = %s '%s' (", n->op_type, diag_quote(q, sizeof q, n->name));
        for (int k = 0; k < n->n_inputs; k++) {
            if (k) sb_puts(out, ", ");
            put_value(out, n->inputs[k]);
        }
        sb_putc(out, ')');
        for (int k = 0; k < n->n_attrs; k++) put_attr(out, &n->attrs[k]);
        if (n->fused) sb_printf(out, " [fused %s]", n->fused);
        if (n->dead) sb_puts(out, " [dead]");
        sb_putc(out, '\n');
    }
    sb_puts(out, "outputs:");
    for (int i = 0; i < g->n_outputs; i++) {
        sb_putc(out, ' ');
        put_value(out, g->outputs[i]);
    }
    sb_putc(out, '\n');
}
