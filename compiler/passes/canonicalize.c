/* canonicalize.c: rewrites into the forms the later passes and kernels expect.
 *
 * Requires: inferred shapes, folded constants.  Establishes:
 *  - no Identity, inference Dropout or shape-preserving Reshape/Flatten/Squeeze/Unsqueeze
 *    left where its output can simply be renamed to its input;
 *  - MatMul(A, B) + Add(C) with a constant 2-D B and a C broadcastable to the result
 *    becomes one Gemm, so the bias is added in the GEMM's epilogue;
 *  - a Gemm with a constant B and transB = 1 reads a pre-transposed copy of B (transB = 0),
 *    so its kernel walks B row by row.
 * Every rewrite keeps the graph's output names.
 */
#include <string.h>

#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* Does node n copy input 0 to output 0 unchanged? */
static bool is_noop(const Node *n) {
    if (is_op(n, "Identity")) return true;
    if (is_op(n, "Dropout"))
        return n->n_outputs == 1 || !n->outputs[1];   /* a mask output must stay */
    if (is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") ||
        is_op(n, "Unsqueeze"))
        return n->inputs[0] && n->outputs[0] && ir_same_shape(n->inputs[0], n->outputs[0]);
    return false;
}

/* Removes a no-op node: readers of its output read its input instead.  When the output
 * is a graph output, the input's producer is made to write the output directly. */
static void remove_noop(Graph *g, Node *n) {
    Value *in = n->inputs[0], *out = n->outputs[0];
    if (!out->is_output) {
        ir_replace_uses(g, out, in);
        n->dead = true;
        return;
    }
    Node *p = in->producer;
    if (!p || in->is_output || in->is_input || in->data) return;   /* keep the copy */
    for (int k = 0; k < p->n_outputs; k++)
        if (p->outputs[k] == in) p->outputs[k] = out;
    ir_replace_uses(g, in, out);
    out->producer = p;
    n->dead = true;
}

/* A constant transposed copy of a 2-D float matrix. */
static Value *transposed_copy(Graph *g, const Value *b, Diag *d) {
    Value *t = ir_value_new(g, ir_unique_name(g, b->name), d);
    if (!t) return NULL;
    int64_t dims[2] = { b->dims[1], b->dims[0] };
    ir_value_set_shape(t, b->dtype, 2, dims);
    if (!ir_value_alloc_data(g, t, d)) return NULL;
    const float *src = b->data;
    float *dst = t->data;
    for (int64_t r = 0; r < b->dims[0]; r++)
        for (int64_t c = 0; c < b->dims[1]; c++) dst[c * b->dims[0] + r] = src[r * b->dims[1] + c];
    return t;
}

static bool pretranspose_gemm_b(Graph *g, Node *n, Diag *d) {
    Value *b = n->inputs[1];
    if (!b->data || b->dtype != DT_FLOAT || b->rank != 2) return true;
    if (ir_attr_int(n, "transB", 0) == 0) return true;
    Value *t = transposed_copy(g, b, d);
    if (!t) return false;
    n->inputs[1] = t;
    return ir_attr_set_int(g, n, "transB", 0, d);
}

/* MatMul(A[M,K], B[K,N] constant) -> Add(., C) into Gemm(A, B, C). */
static bool matmul_add_to_gemm(Graph *g, Node *mm, Diag *d) {
    Value *a = mm->inputs[0], *b = mm->inputs[1], *y = mm->outputs[0];
    if (a->rank != 2 || b->rank != 2 || !b->data || a->dtype != DT_FLOAT) return true;
    Node *add = ir_value_single_consumer(g, y);
    if (!add || !is_op(add, "Add")) return true;
    Value *c = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
    if (c == y || !c->data || c->dtype != DT_FLOAT || c->rank > 2) return true;
    /* C must broadcast to [M, N] without changing the result's shape. */
    if (!ir_same_shape(add->outputs[0], y)) return true;
    const OpDef *gemm = op_find("", "Gemm");
    if (!gemm) return true;
    Value **inputs = arena_array(&g->arena, 3, sizeof(Value *));
    if (!inputs) { diag_error(d, mm, "out of memory"); return false; }
    inputs[0] = a; inputs[1] = b; inputs[2] = c;
    mm->op_type = "Gemm";
    mm->op = gemm;
    mm->inputs = inputs;
    mm->n_inputs = 3;
    mm->outputs[0] = add->outputs[0];
    add->outputs[0]->producer = mm;
    const char *prev = mm->fused;
    mm->fused = arena_printf(&g->arena, "%s%sMatMul + Add '%s'", prev ? prev : "", prev ? ", " : "",
                             add->name);
    add->dead = true;
    return mm->fused != NULL;
}

bool pass_canonicalize(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        if (is_noop(n)) {
            remove_noop(g, n);
        } else if (is_op(n, "MatMul")) {
            if (!matmul_add_to_gemm(g, n, d)) return false;
        }
        if (!n->dead && is_op(n, "Gemm") && !pretranspose_gemm_b(g, n, d)) return false;
    }
    ir_graph_compact(g);
    return true;
}
