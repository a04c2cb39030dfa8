/* canonicalize.c: rewrites into the forms the later passes and kernels expect.
 *
 * Requires: inferred shapes, folded constants.  Establishes:
 *  - no Identity, inference Dropout or shape-preserving Reshape/Flatten/Squeeze/Unsqueeze
 *    left where its output can simply be renamed to its input;
 *  - MatMul(A, B) + Add(C) with a constant 2-D B and a C broadcastable to the result
 *    becomes one Gemm, so the bias is added in the GEMM's epilogue; when A has more than
 *    two dims (a transformer's [batch, seq, features]) the Gemm reads and writes it
 *    through Reshapes to and from 2-D, which cost nothing (the planner aliases them);
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

/* A new int64 constant holding dims, for a Reshape's shape input. */
static Value *shape_const(Graph *g, const char *base, int rank, const int64_t *dims, Diag *d) {
    const char *name = ir_unique_name(g, base);
    Value *v = name ? ir_value_new(g, name, d) : NULL;
    if (!v) return NULL;
    int64_t len = rank;
    ir_value_set_shape(v, DT_INT64, 1, &len);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    memcpy(v->data, dims, (size_t)rank * sizeof(int64_t));
    return v;
}

/* A new float value of the given shape, named after base. */
static Value *float_value(Graph *g, const char *base, int rank, const int64_t *dims, Diag *d) {
    const char *name = ir_unique_name(g, base);
    Value *v = name ? ir_value_new(g, name, d) : NULL;
    if (v) ir_value_set_shape(v, DT_FLOAT, rank, dims);
    return v;
}

/* A resolved Reshape node x -> y (shape from y), appended to the schedule; the caller
 * re-sorts the graph. */
static Node *add_reshape(Graph *g, const Node *like, const char *suffix, Value *x, Value *y,
                         Diag *d) {
    Value *shape = shape_const(g, "onnxcc_shape", y->rank, y->dims, d);
    const char *name = arena_printf(&g->arena, "%s%s", like->name, suffix);
    Node *r = shape && name ? ir_node_new(g, name, "Reshape", "", 2, 1, d) : NULL;
    if (!r) return NULL;
    r->op = op_find("", "Reshape");
    r->opset = like->opset;
    r->inputs[0] = x;
    r->inputs[1] = shape;
    r->outputs[0] = y;
    y->producer = r;
    return r;
}

/* MatMul(A[..., M, K], B[K, N] constant) -> Add(., C) into Gemm(A, B, C), through
 * Reshapes when A has more than two dims.  *added is set when nodes were appended. */
static bool matmul_add_to_gemm(Graph *g, Node *mm, bool *added, Diag *d) {
    Value *a = mm->inputs[0], *b = mm->inputs[1], *y = mm->outputs[0];
    if (a->rank < 2 || b->rank != 2 || !b->data || a->dtype != DT_FLOAT) return true;
    Node *add = ir_value_single_consumer(g, y);
    if (!add || !is_op(add, "Add")) return true;
    Value *c = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
    if (c == y || !c->data || c->dtype != DT_FLOAT || c->rank > 2) return true;
    /* C must broadcast to [M, N] without changing the result's shape. */
    if (!ir_same_shape(add->outputs[0], y)) return true;
    /* With a batch, C must be one row ([N] or [1, N]): per-row terms would repeat. */
    if (a->rank > 2 && ir_numel(c) != b->dims[1]) return true;
    const OpDef *gemm = op_find("", "Gemm");
    if (!gemm || !op_find("", "Reshape") || (a->rank > 2 && mm->opset < 5)) return true;
    Value **inputs = arena_array(&g->arena, 3, sizeof(Value *));
    if (!inputs) { diag_error(d, mm, "out of memory"); return false; }
    Value *gemm_in = a, *gemm_out = add->outputs[0];
    if (a->rank > 2) {
        int64_t m = 1, ad[2], yd[2];
        for (int k = 0; k < a->rank - 1; k++) m *= a->dims[k];   /* known and bounded */
        ad[0] = m, ad[1] = a->dims[a->rank - 1];
        yd[0] = m, yd[1] = b->dims[1];
        gemm_in = float_value(g, a->name, 2, ad, d);
        gemm_out = float_value(g, y->name, 2, yd, d);
        if (!gemm_in || !gemm_out || !add_reshape(g, mm, "/to_2d", a, gemm_in, d) ||
            !add_reshape(g, add, "/from_2d", gemm_out, add->outputs[0], d))
            return false;
        *added = true;
    }
    inputs[0] = gemm_in; inputs[1] = b; inputs[2] = c;
    mm->op_type = "Gemm";
    mm->op = gemm;
    mm->inputs = inputs;
    mm->n_inputs = 3;
    mm->outputs[0] = gemm_out;
    gemm_out->producer = mm;
    const char *prev = mm->fused;
    mm->fused = arena_printf(&g->arena, "%s%sMatMul + Add '%s'", prev ? prev : "", prev ? ", " : "",
                             add->name);
    add->dead = true;
    return mm->fused != NULL;
}

bool pass_canonicalize(Graph *g, const PassOptions *opt, Diag *d) {
    bool added = false;
    int n_nodes = g->n_nodes;   /* nodes appended below are already canonical */
    for (int i = 0; i < n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        if (is_noop(n)) {
            remove_noop(g, n);
        } else if (is_op(n, "MatMul")) {
            if (!matmul_add_to_gemm(g, n, &added, d)) return false;
        }
        if (!n->dead && is_op(n, "Gemm") && !pretranspose_gemm_b(g, n, d)) return false;
    }
    ir_graph_compact(g);
    /* Appended Reshapes go back to their place in the schedule. */
    return !added || pass_toposort(g, opt, d);
}
