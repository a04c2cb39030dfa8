/* canonicalize.c: rewrites into the forms the later passes and kernels expect.
 *
 * Requires: inferred shapes, folded constants.  Establishes:
 *  - no Identity, inference Dropout, Pad of zeros or shape-preserving
 *    Reshape/Flatten/Squeeze/Unsqueeze left where its output can simply be renamed to its
 *    input;
 *  - MatMul(A, B) + Add(C) with a constant 2-D B and a C broadcastable to the result
 *    becomes one Gemm, so the bias is added in the GEMM's epilogue; when A has more than
 *    two dims (a transformer's [batch, seq, features]) the Gemm reads and writes it
 *    through Reshapes to and from 2-D, which cost nothing (the planner aliases them);
 *  - a Gemm with a constant B and transB = 1 reads a pre-transposed copy of B (transB = 0),
 *    so its kernel walks B row by row;
 *  - the nine-node LayerNorm chain of exports before opset 17 (ReduceMean, Sub, Pow,
 *    ReduceMean, Add, Sqrt, Div, Mul, Add) is one LayerNormalization node.
 * Every rewrite keeps the graph's output names.
 */
#include <string.h>

#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* Does a Pad add nothing (every pad 0, PyTorch's opset-11 export before AveragePool)?
 * Pads come from the attribute before opset 11 ("paddings" before opset 2), from a
 * constant input after. */
static bool is_zero_pad(const Node *n) {
    if (n->opset >= 11) {
        const Value *p = n->n_inputs > 1 ? n->inputs[1] : NULL;
        if (!p || !p->data || !dtype_is_integer(p->dtype)) return false;
        for (int64_t k = 0; k < ir_numel(p); k++)
            if (ir_const_get_i64(p, k) != 0) return false;
        return true;
    }
    const int64_t *pads = NULL;
    size_t count = ir_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &pads);
    for (size_t k = 0; k < count; k++)
        if (pads[k] != 0) return false;
    return true;
}

/* Does node n copy input 0 to output 0 unchanged? */
static bool is_noop(const Node *n) {
    if (is_op(n, "Identity")) return true;
    if (is_op(n, "Pad")) return is_zero_pad(n);
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
    if (add->opset < 7 && ir_attr_int(add, "broadcast", 0) != 0) return true;  /* legacy axis */
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

/* ---- the LayerNorm chain of opset < 17 exports ----------------------------------------- */

/* v's only reader when it is an op_type node (v not a graph output), else NULL. */
static Node *reader_of(const Graph *g, const Value *v, const char *op_type) {
    Node *n = v ? ir_value_single_consumer(g, v) : NULL;
    return n && is_op(n, op_type) && n->n_outputs >= 1 && n->outputs[0] ? n : NULL;
}

/* The value of a constant float or integer scalar (any shape of one element). */
static bool const_scalar(const Value *v, double *out) {
    if (!v || !v->data || ir_numel(v) != 1 ||
        !(dtype_is_float(v->dtype) || dtype_is_integer(v->dtype)))
        return false;
    *out = ir_const_get_f64(v, 0);
    return true;
}

/* A ReduceMean over x's last axis only, keeping it (axes from the attribute before opset
 * 18, from a constant input after). */
static bool mean_of_last_axis(const Node *n, const Value *x) {
    if (!is_op(n, "ReduceMean") || n->inputs[0] != x || ir_attr_int(n, "keepdims", 1) != 1)
        return false;
    int64_t axis;
    if (n->opset >= 18) {
        const Value *axes = n->n_inputs > 1 ? n->inputs[1] : NULL;
        if (!axes || !axes->data || !dtype_is_integer(axes->dtype) || ir_numel(axes) != 1)
            return false;
        axis = ir_const_get_i64(axes, 0);
    } else {
        const int64_t *axes;
        if (ir_attr_ints(n, "axes", &axes) != 1) return false;
        axis = axes[0];
    }
    return axis == -1 || axis == x->rank - 1;
}

/* The operand of binary node n that is not v, when the other one is v. */
static Value *other_operand(const Node *n, const Value *v) {
    if (n->n_inputs != 2) return NULL;
    if (n->inputs[0] == v) return n->inputs[1];
    return n->inputs[1] == v ? n->inputs[0] : NULL;
}

/* A float constant of C elements (shape [C], or [1, ..., C]): LayerNorm's scale or bias. */
static bool per_feature(const Value *v, int64_t c) {
    if (!v || !v->data || v->dtype != DT_FLOAT || v->rank < 1 || v->dims[v->rank - 1] != c)
        return false;
    return ir_numel(v) == c;
}

/* PyTorch's LayerNorm before opset 17:
 *   m = ReduceMean(x)  d = x - m  v = ReduceMean(d ^ 2)  n = d / Sqrt(v + eps)
 *   y = n * gamma + beta
 * over the last axis, with constant eps, gamma and beta of the last dim's size, every
 * intermediate read only inside the chain.  The ReduceMean node becomes one
 * LayerNormalization(x, gamma, beta, axis -1, epsilon eps) writing y; the others die.
 * Its kernel makes two passes over each row where the chain made nine over the tensor. */
static bool layernorm_chain(Graph *g, Node *mean, Diag *d) {
    Value *x = mean->inputs[0];
    const OpDef *ln = op_find("", "LayerNormalization");
    if (!ln || !x || x->dtype != DT_FLOAT || x->rank < 1 || !mean_of_last_axis(mean, x))
        return true;
    if (mean->opset < 7) return true;   /* Sub/Mul/Add may broadcast from an axis there */
    Node *sub = reader_of(g, mean->outputs[0], "Sub");
    if (!sub || sub->n_inputs != 2 || sub->inputs[0] != x || sub->inputs[1] != mean->outputs[0])
        return true;
    Value *diff = sub->outputs[0];
    if (diff->is_output || ir_value_use_count(g, diff) != 2) return true;
    /* diff's two readers: Pow(diff, 2) and Div(diff, Sqrt(...)) */
    Node *pow = NULL, *div = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead || n->n_inputs < 1 || n->inputs[0] != diff) continue;
        if (is_op(n, "Pow")) pow = n;
        else if (is_op(n, "Div")) div = n;
    }
    double two, eps;
    if (!pow || !div || pow->n_inputs != 2 || !const_scalar(pow->inputs[1], &two) || two != 2)
        return true;
    Node *var = reader_of(g, pow->outputs[0], "ReduceMean");
    if (!var || !mean_of_last_axis(var, pow->outputs[0])) return true;
    Node *add_eps = reader_of(g, var->outputs[0], "Add");
    if (!add_eps || !const_scalar(other_operand(add_eps, var->outputs[0]), &eps)) return true;
    Node *sqrt = reader_of(g, add_eps->outputs[0], "Sqrt");
    if (!sqrt || reader_of(g, sqrt->outputs[0], "Div") != div || div->n_inputs != 2 ||
        div->inputs[1] != sqrt->outputs[0])
        return true;
    int64_t c = x->dims[x->rank - 1];
    Node *scale = reader_of(g, div->outputs[0], "Mul");
    Value *gamma = scale ? other_operand(scale, div->outputs[0]) : NULL;
    if (!per_feature(gamma, c)) return true;
    Node *shift = reader_of(g, scale->outputs[0], "Add");
    Value *beta = shift ? other_operand(shift, scale->outputs[0]) : NULL;
    Value *y = shift ? shift->outputs[0] : NULL;
    if (!per_feature(beta, c) || !ir_same_shape(y, x)) return true;

    Value **inputs = arena_array(&g->arena, 3, sizeof(Value *));
    const char *fused = arena_printf(&g->arena, "LayerNorm chain '%s' ... '%s' (9 nodes)",
                                     mean->name, shift->name);
    if (!inputs || !fused) { diag_error(d, mean, "out of memory"); return false; }
    inputs[0] = x; inputs[1] = gamma; inputs[2] = beta;
    mean->op_type = ln->name;
    mean->op = ln;
    if (mean->opset < ln->since) mean->opset = ln->since;
    mean->inputs = inputs;
    mean->n_inputs = 3;
    mean->attrs = NULL;
    mean->n_attrs = 0;
    mean->fused = fused;
    if (!ir_attr_set_int(g, mean, "axis", -1, d) ||
        !ir_attr_set_float(g, mean, "epsilon", (float)eps, d))
        return false;
    mean->outputs[0] = y;
    y->producer = mean;
    Node *dead[8] = { sub, pow, var, add_eps, sqrt, div, scale, shift };
    for (int k = 0; k < 8; k++) dead[k]->dead = true;
    return true;
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
        } else if (is_op(n, "ReduceMean")) {
            if (!layernorm_chain(g, n, d)) return false;
        }
        if (!n->dead && is_op(n, "Gemm") && !pretranspose_gemm_b(g, n, d)) return false;
    }
    ir_graph_compact(g);
    /* Appended Reshapes go back to their place in the schedule. */
    return !added || pass_toposort(g, opt, d);
}
