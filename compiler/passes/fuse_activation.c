/* fuse_activation.c: Conv, Gemm and MatMul absorb the residual Add and the activation
 * that follow them.
 *
 * Requires: inferred shapes, folded constants, canonical form (MatMul + Add already a
 * Gemm), BatchNormalization folded.  Runs only with PassOptions.fuse.
 * Establishes, for a float Conv/Gemm/MatMul whose output's only reader is the node
 * absorbed (the fused node then writes that node's output value itself, and node->fused
 * names what it absorbed, for the comments of the generated code):
 *  - residual: an Add of the output and another tensor of the same shape that is already
 *    computed when the Conv runs becomes epi.residual_input (y = acc + bias + residual);
 *  - activation, after that: Relu, LeakyRelu, Elu, PRelu, Clip with constant bounds,
 *    Sigmoid, Tanh, HardSigmoid, HardSwish become epi.act (y = act(acc + bias + residual)),
 *    also across a Reshape-like view between the two (the view then follows the product).
 *  - gated activation: Mul(y, Sigmoid(y)) (SiLU, EfficientNet) and Mul(y, HardSigmoid(y))
 *    with alpha 1/6 and beta 0.5 (HardSwish), either operand order, become epi.act when
 *    y's producer can take it and y has no other reader; otherwise the Mul becomes one
 *    ONNX Swish or HardSwish node reading y (one pass over the tensor instead of two).
 * PRelu is fused only when its slope is constant and is one value, or one value per
 * output channel (Conv: axis 1 of NCHW) or per column (Gemm/MatMul: the last axis); the
 * slope then becomes an extra input (a new constant of shape [C], or the scalar as is).
 * Extra inputs (residual, slope) go after the optional bias slot: index 3 or later for
 * Conv and Gemm (a missing bias stays a NULL input), 2 or later for MatMul.
 */
#include <math.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* The ONNXCC_ACT_* code of an activation we can fuse, or ONNXCC_ACT_NONE. */
static int act_code(const Node *n) {
    static const struct { const char *op; int code; } table[] = {
        {"Relu", ONNXCC_ACT_RELU}, {"LeakyRelu", ONNXCC_ACT_LEAKY_RELU},
        {"Elu", ONNXCC_ACT_ELU}, {"PRelu", ONNXCC_ACT_PRELU}, {"Clip", ONNXCC_ACT_CLIP},
        {"Sigmoid", ONNXCC_ACT_SIGMOID}, {"Tanh", ONNXCC_ACT_TANH},
        {"HardSigmoid", ONNXCC_ACT_HARD_SIGMOID}, {"HardSwish", ONNXCC_ACT_HARD_SWISH},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (is_op(n, table[i].op)) return table[i].code;
    return ONNXCC_ACT_NONE;
}

static bool is_matmul_like(const Node *p) {
    return is_op(p, "Conv") || is_op(p, "Gemm") || is_op(p, "MatMul");
}

/* Clip's bounds when they are known at compile time and min <= max (Clip with min > max
 * gives max everywhere, which the epilogue does not do: not fused). */
static bool clip_bounds(const Node *n, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->opset < 11) {
        *lo = ir_attr_float(n, "min", -INFINITY);
        *hi = ir_attr_float(n, "max", INFINITY);
        return *lo <= *hi;
    }
    for (int k = 1; k <= 2 && k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        if (!v) continue;
        if (!v->data || v->dtype != DT_FLOAT || ir_numel(v) != 1) return false;
        *(k == 1 ? lo : hi) = *(const float *)v->data;
    }
    return *lo <= *hi;
}

/* Does the slope broadcast to y as one value per index of y's axis `axis` (every other
 * slope dim 1, dims aligned at the right as numpy does)?  Returns the channel count via
 * *channels (1 for a single value). */
static bool slope_per_axis(const Value *slope, const Value *y, int axis, int64_t *channels) {
    int64_t numel = ir_numel(slope);
    if (numel == 1) { *channels = 1; return true; }
    if (numel < 1 || slope->rank > y->rank || axis < 0 || axis >= y->rank) return false;
    int at = axis - (y->rank - slope->rank);     /* the slope's dim facing y's axis */
    if (at < 0) return false;
    for (int k = 0; k < slope->rank; k++)
        if (slope->dims[k] != (k == at ? y->dims[axis] : 1)) return false;
    *channels = y->dims[axis];
    return true;
}

/* The slope as the fused node will read it: the scalar as it is, or a new [C] constant.
 * Sets *slope_out to NULL when the PRelu cannot be fused (no error). */
static bool prelu_slope(Graph *g, const Node *p, const Node *act, Value **slope_out,
                        Diag *d) {
    *slope_out = NULL;
    Value *slope = act->n_inputs > 1 ? act->inputs[1] : NULL;
    const Value *y = p->outputs[0];
    if (!slope || !slope->data || slope->dtype != DT_FLOAT || !ir_value_shape_known(slope))
        return true;
    if (act->opset < 7 && slope->rank == 1 && y->rank > 2) return true;  /* axis 1: binary.c */
    int axis = is_op(p, "Conv") ? 1 : y->rank - 1;
    int64_t channels;
    if (!slope_per_axis(slope, y, axis, &channels)) return true;
    if (channels == 1 || (slope->rank == 1 && slope->dims[0] == channels)) {
        *slope_out = slope;
        return true;
    }
    const char *name = ir_unique_name(g, slope->name);
    Value *v = name ? ir_value_new(g, name, d) : NULL;
    if (!v) {
        if (!name) diag_error(d, act, "out of memory fusing PRelu");
        return false;
    }
    ir_value_set_shape(v, DT_FLOAT, 1, &channels);
    if (!ir_value_alloc_data(g, v, d)) return false;
    memcpy(v->data, slope->data, (size_t)channels * sizeof(float));
    *slope_out = v;
    return true;
}

/* Appends v to p's inputs after the bias slot (index 2 for Conv/Gemm, whose bias is
 * optional: a missing bias is kept as a NULL input) and returns its index, or -1. */
static int append_input(Graph *g, Node *p, Value *v, Diag *d) {
    int at = p->n_inputs;
    if (!is_op(p, "MatMul") && at < 3) at = 3;
    Value **in = arena_array(&g->arena, (size_t)at + 1, sizeof(Value *));
    if (!in) { diag_error(d, p, "out of memory fusing into %s", p->op_type); return -1; }
    for (int k = 0; k < p->n_inputs; k++) in[k] = p->inputs[k];
    in[at] = v;
    p->inputs = in;
    p->n_inputs = at + 1;
    return at;
}

/* Adds "Op 'name'" of absorbed to p->fused (the generated code's comments) and marks
 * absorbed dead. */
static bool note_fused(Graph *g, Node *p, Node *absorbed, Diag *d) {
    const char *prev = p->fused;
    p->fused = arena_printf(&g->arena, "%s%s%s '%s'", prev ? prev : "", prev ? ", " : "",
                            absorbed->op_type, absorbed->name);
    if (!p->fused) {
        diag_error(d, p, "out of memory fusing %s", absorbed->op_type);
        return false;
    }
    absorbed->dead = true;
    return true;
}

/* p takes over absorbed's output value; absorbed is marked dead. */
static bool absorb(Graph *g, Node *p, Node *absorbed, Diag *d) {
    if (!note_fused(g, p, absorbed, d)) return false;
    Value *y = absorbed->outputs[0];
    p->outputs[0] = y;
    y->producer = p;
    return true;
}

/* ready[v->id]: the schedule step after which v exists (-1: before the first). */
static int *ready_steps(Graph *g, Diag *d) {
    int *ready = arena_array(&g->arena, (size_t)g->n_values + 1, sizeof(int));
    if (!ready) { diag_error(d, NULL, "out of memory fusing"); return NULL; }
    for (int i = 0; i < g->n_values; i++) ready[i] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++)
            if (g->nodes[i]->outputs[k]) ready[g->nodes[i]->outputs[k]->id] = i;
    return ready;
}

/* Tries to fuse Add(a, b) into the producer of one operand, the other becoming the
 * residual (ready: see ready_steps, updated as outputs move to earlier nodes). */
static bool try_fuse_residual(Graph *g, Node *add, int *ready, Diag *d) {
    if (!is_op(add, "Add") || add->n_inputs != 2 || add->n_outputs < 1) return true;
    Value *y = add->outputs[0];
    Value *in[2] = {add->inputs[0], add->inputs[1]};
    if (!y || !in[0] || !in[1] || in[0] == in[1] || y->dtype != DT_FLOAT) return true;
    if (!ir_same_shape(in[0], y) || !ir_same_shape(in[1], y)) return true;
    /* Try the operand produced last first: the other is then more likely ready. */
    int first = ready[in[1]->id] > ready[in[0]->id] ? 1 : 0;
    for (int t = 0; t < 2; t++) {
        Value *a = in[first ^ t], *b = in[1 - (first ^ t)];
        Node *p = a->producer;
        if (!p || p->dead || !is_matmul_like(p) || p->outputs[0] != a) continue;
        if (p->epi.act != ONNXCC_ACT_NONE || p->epi.residual_input >= 0 ||
            p->epi.slope_input >= 0 || a->dtype != DT_FLOAT)
            continue;
        if (ir_value_single_consumer(g, a) != add) continue;
        if (ready[b->id] >= ready[a->id]) continue;    /* b not computed before p runs */
        int at = append_input(g, p, b, d);
        if (at < 0) return false;
        p->epi.residual_input = at;
        if (!absorb(g, p, add, d)) return false;
        ready[y->id] = ready[a->id];
        return true;
    }
    return true;
}

/* The activation Mul(y, gate(y)) computes: SiLU for a Sigmoid gate, HardSwish for a
 * HardSigmoid with HardSwish's alpha 1/6 and beta 0.5 (exports older than opset 14);
 * ONNXCC_ACT_NONE for any other gate. */
static int gated_act(const Node *gate) {
    if (is_op(gate, "Sigmoid")) return ONNXCC_ACT_SILU;
    if (is_op(gate, "HardSigmoid") && ir_attr_float(gate, "alpha", 0.2f) == 1.0f / 6.0f &&
        ir_attr_float(gate, "beta", 0.5f) == 0.5f)
        return ONNXCC_ACT_HARD_SWISH;
    return ONNXCC_ACT_NONE;
}

/* Mul(y, gate(y)) (code: see gated_act) into y's producer, when it is a Conv, Gemm or
 * MatMul with no activation yet and y has no reader but the two: the epilogues compute
 * SiLU and HardSwish in vector registers before their one store (onnxcc_simd.h's v_silu:
 * efficientnet_b0 took 12.5 ms of CPU time instead of 14.9 with a Swish pass after each
 * Conv, medians of 5 alternated rounds, 2026-11-25).  Otherwise into one elementwise
 * node (ONNX Swish or HardSwish: the Mul turns into it and reads y), one pass over the
 * tensor instead of two, with the same float operations as the pair, so bit for bit the
 * same results.  The epilogue's vector SiLU may differ from them in the last bits
 * (onnxcc_simd.h). */
static bool fuse_gate(Graph *g, Node *mul, Node *gate, Value *y, int code, Diag *d) {
    Node *p = y->producer;
    if (p && !p->dead && is_matmul_like(p) && p->outputs[0] == y &&
        p->epi.act == ONNXCC_ACT_NONE && p->epi.slope_input < 0 && !y->is_output &&
        ir_value_use_count(g, y) == 2) {
        p->epi.act = code;
        p->epi.alpha = p->epi.beta = 0;
        return note_fused(g, p, gate, d) && absorb(g, p, mul, d);
    }
    const OpDef *op = op_find("", code == ONNXCC_ACT_SILU ? "Swish" : "HardSwish");
    if (!op) return true;       /* a registry without Swish: the pair stays */
    if (!note_fused(g, mul, gate, d)) return false;
    mul->op_type = op->name;
    mul->op = op;
    mul->inputs[0] = y;
    mul->n_inputs = 1;
    mul->attrs = NULL;          /* Swish's alpha defaults to 1: x * sigmoid(x) */
    mul->n_attrs = 0;
    if (mul->opset < op->since) mul->opset = op->since;
    return true;
}

/* Finds Mul(y, Sigmoid(y)) or Mul(y, HardSigmoid(y)), either operand order, whose gate
 * output has no other reader, and fuses it (fuse_gate).  False only on an error. */
static bool try_fuse_gate(Graph *g, Node *mul, Diag *d) {
    if (!is_op(mul, "Mul") || mul->n_inputs != 2 || mul->n_outputs < 1) return true;
    Value *out = mul->outputs[0];
    for (int k = 0; k < 2; k++) {
        Value *y = mul->inputs[k], *s = mul->inputs[1 - k];
        Node *gate = s ? s->producer : NULL;
        if (!y || !gate || gate->dead || gate->n_inputs != 1 || gate->inputs[0] != y ||
            gate->outputs[0] != s)
            continue;
        int code = gated_act(gate);
        if (code == ONNXCC_ACT_NONE) continue;
        if (!out || y->dtype != DT_FLOAT || out->dtype != DT_FLOAT || !ir_same_shape(y, out) ||
            ir_value_single_consumer(g, s) != mul)
            return true;
        return fuse_gate(g, mul, gate, y, code, d);
    }
    return true;
}

/* Tries to fuse act into the producer of its input.  Returns false only on an error. */
static bool try_fuse(Graph *g, Node *act, Diag *d) {
    int code = act_code(act);
    if (code == ONNXCC_ACT_NONE || act->n_inputs < 1 || act->n_outputs < 1) return true;
    Value *x = act->inputs[0], *y = act->outputs[0];
    if (!x || !y || !x->producer || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return true;
    if (!ir_same_shape(x, y) || ir_value_single_consumer(g, x) != act) return true;
    Node *p = x->producer;
    /* A Reshape-like view between the product and an elementwise activation (the 2-D
     * Gemm of a 3-D MatMul, Flatten...): the activation moves before the view.  Not for
     * PRelu, whose slope is laid out along the view's axes. */
    Node *view = NULL;
    if (!p->dead && p->op && p->op->memory == OP_MEMORY_ALIAS && code != ONNXCC_ACT_PRELU &&
        p->outputs[0] == x && p->inputs[0] && p->inputs[0]->producer &&
        p->inputs[0]->dtype == DT_FLOAT && ir_value_single_consumer(g, p->inputs[0]) == p) {
        view = p;
        x = p->inputs[0];
        p = x->producer;
    }
    if (p->dead || !is_matmul_like(p)) return true;
    if (p->n_outputs < 1 || p->outputs[0] != x || p->epi.act != ONNXCC_ACT_NONE) return true;
    if (p->epi.slope_input >= 0) return true;

    float alpha = 0, beta = 0;
    switch (code) {
    case ONNXCC_ACT_LEAKY_RELU: alpha = ir_attr_float(act, "alpha", 0.01f); break;
    case ONNXCC_ACT_ELU: alpha = ir_attr_float(act, "alpha", 1.0f); break;
    case ONNXCC_ACT_HARD_SIGMOID:
        alpha = ir_attr_float(act, "alpha", 0.2f);
        beta = ir_attr_float(act, "beta", 0.5f);
        break;
    case ONNXCC_ACT_CLIP:
        if (!clip_bounds(act, &alpha, &beta)) return true;
        break;
    case ONNXCC_ACT_PRELU: {
        Value *slope = NULL;
        if (!prelu_slope(g, p, act, &slope, d)) return false;
        if (!slope) return true;
        int at = append_input(g, p, slope, d);
        if (at < 0) return false;
        p->epi.slope_input = at;
        break;
    }
    default: break;
    }
    p->epi.act = code;
    p->epi.alpha = alpha;
    p->epi.beta = beta;
    if (!view) return absorb(g, p, act, d);
    /* p keeps its output; the view now writes the activation's output. */
    Value *old_view_out = view->outputs[0];
    if (!absorb(g, p, act, d)) return false;
    p->outputs[0] = x;
    x->producer = p;
    view->outputs[0] = y;
    y->producer = view;
    old_view_out->producer = NULL;
    return true;
}

bool pass_fuse_activation(Graph *g, const PassOptions *opt, Diag *d) {
    if (!opt->fuse) return true;
    int *ready = ready_steps(g, d);
    if (!ready) return false;
    /* Residuals first: Conv -> Add -> Relu fuses both, in that order. */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_fuse_residual(g, n, ready, d)) return false;
    }
    /* Then the gated activations: Conv -> Add -> Mul(y, Sigmoid(y)) fuses all three. */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_fuse_gate(g, n, d)) return false;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_fuse(g, n, d)) return false;
    }
    ir_graph_compact(g);
    return true;
}
