/* fuse_activation.c: Conv, Gemm and MatMul absorb the activation that follows them.
 *
 * Requires: inferred shapes, folded constants, canonical form (MatMul + Add already a
 * Gemm), BatchNormalization folded.  Runs only with PassOptions.fuse.
 * Establishes: a float Conv/Gemm/MatMul whose output's only reader is a Relu, LeakyRelu,
 * Elu or PRelu of the same shape, and which has no epilogue yet, carries the activation in
 * node->epi and writes the activation's output value itself; the activation is gone.
 * PRelu is fused only when its slope is constant and is one value, or one value per
 * output channel (Conv: axis 1 of NCHW) or per column (Gemm/MatMul: the last axis); the
 * slope then becomes an extra input (a new constant of shape [C], or the scalar as is)
 * at index epi.slope_input, after the optional bias slot, so emitters index it by channel.
 * node->fused names the absorbed node for the comments of the generated code.
 */
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* The ONNXCC_ACT_* code of an activation we can fuse, or ONNXCC_ACT_NONE. */
static int act_code(const Node *n) {
    if (is_op(n, "Relu")) return ONNXCC_ACT_RELU;
    if (is_op(n, "LeakyRelu")) return ONNXCC_ACT_LEAKY_RELU;
    if (is_op(n, "Elu")) return ONNXCC_ACT_ELU;
    if (is_op(n, "PRelu")) return ONNXCC_ACT_PRELU;
    return ONNXCC_ACT_NONE;
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

/* Appends the slope to p's inputs after the bias slot (index 2 for Conv/Gemm, whose bias
 * is optional: a missing bias is kept as a NULL input). */
static bool append_slope(Graph *g, Node *p, Value *slope, Diag *d) {
    int at = p->n_inputs;
    if (!is_op(p, "MatMul") && at < 3) at = 3;
    Value **in = arena_array(&g->arena, (size_t)at + 1, sizeof(Value *));
    if (!in) { diag_error(d, p, "out of memory fusing PRelu"); return false; }
    for (int k = 0; k < p->n_inputs; k++) in[k] = p->inputs[k];
    in[at] = slope;
    p->inputs = in;
    p->n_inputs = at + 1;
    p->epi.slope_input = at;
    return true;
}

/* Tries to fuse act into the producer of its input.  Returns false only on an error. */
static bool try_fuse(Graph *g, Node *act, Diag *d) {
    int code = act_code(act);
    if (code == ONNXCC_ACT_NONE || act->n_inputs < 1 || act->n_outputs < 1) return true;
    Value *x = act->inputs[0], *y = act->outputs[0];
    if (!x || !y || !x->producer || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return true;
    Node *p = x->producer;
    if (p->dead || !(is_op(p, "Conv") || is_op(p, "Gemm") || is_op(p, "MatMul"))) return true;
    if (p->n_outputs < 1 || p->outputs[0] != x || p->epi.act != ONNXCC_ACT_NONE) return true;
    if (p->epi.residual_input >= 0 || p->epi.slope_input >= 0) return true;
    if (!ir_same_shape(x, y) || ir_value_single_consumer(g, x) != act) return true;

    Value *slope = NULL;
    if (code == ONNXCC_ACT_PRELU) {
        if (!prelu_slope(g, p, act, &slope, d)) return false;
        if (!slope) return true;
        if (!append_slope(g, p, slope, d)) return false;
    }
    p->epi.act = code;
    if (code == ONNXCC_ACT_LEAKY_RELU) p->epi.alpha = ir_attr_float(act, "alpha", 0.01f);
    if (code == ONNXCC_ACT_ELU) p->epi.alpha = ir_attr_float(act, "alpha", 1.0f);
    const char *prev = p->fused;
    p->fused = arena_printf(&g->arena, "%s%s%s '%s'", prev ? prev : "", prev ? ", " : "",
                            act->op_type, act->name);
    if (!p->fused) { diag_error(d, p, "out of memory fusing %s", act->op_type); return false; }
    p->outputs[0] = y;
    y->producer = p;
    act->dead = true;
    return true;
}

bool pass_fuse_activation(Graph *g, const PassOptions *opt, Diag *d) {
    if (!opt->fuse) return true;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_fuse(g, n, d)) return false;
    }
    ir_graph_compact(g);
    return true;
}
