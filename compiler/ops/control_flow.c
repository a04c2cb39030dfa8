/* control_flow.c: If, Loop and Scan, compiled by expansion into plain nodes.
 *
 * The generated C has no control flow of its own: with static shapes, each of these ops
 * is replaced during inference (OpDef.expand, called by passes/infer.c) by copies of its
 * body, each node inferred (and folded) right after it is created:
 *   - If: a condition known at compile time picks its branch; otherwise both branches
 *     are computed and each output is Where(cond, then, else), which needs both to give
 *     the same type and shape.
 *   - Loop: unrolled while the trip count and the condition are known at compile time
 *     (the condition is checked after each iteration, once the body's copy has folded).
 *   - Scan: unrolled over the (static) sequence length: each iteration reads its slices
 *     (Gather of one index along the scan axis), chains the state variables, and the
 *     per-iteration scan outputs are stacked (Unsqueeze + Concat), honouring the axes
 *     and directions attributes (opset 9+); opset 8's batch axis is a loop over batches.
 * A body's copy gets fresh value names ("<output>.it3/<body name>"); its captures (outer
 * values, see Subgraph in ir/graph.h) are the node's extra inputs.  The node's outputs
 * become the outputs of Identity, Where or Concat nodes at the end of the expansion
 * (the canonicalize pass drops the Identity copies).  The whole expansion of a model is
 * bounded by OP_EXPAND_MAX_NODES nodes.
 * Sequences and optionals (compile-time lists, ops/sequence.c) flow through If and Loop:
 * a branch's or an iteration's list is passed on as it is, and an If whose condition is
 * unknown selects list outputs element by element.  control_flow.h exports the helpers
 * that the sequence ops build their expansions with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/control_flow.h"
#include "ops/op_util.h"

/* --- creating the nodes of an expansion --------------------------------------------------- */

bool cf_oom(const Node *owner, Diag *d) {
    diag_error(d, owner, "out of memory expanding the control flow");
    return false;
}

/* The name stem of the node's values: its first output's name. */
const char *cf_stem(const Node *n) {
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k]) return n->outputs[k]->name;
    return "cf";
}

/* A fresh value of g, named after base. */
Value *cf_value(Graph *g, const Node *owner, const char *base, Diag *d) {
    const char *nm = ir_unique_name(g, base);
    if (!nm) { cf_oom(owner, d); return NULL; }
    return ir_value_new(g, nm, d);
}

/* Counts one node (or one loop iteration) against the expansion budget. */
static bool cf_spend(OpExpandCtx *cx, const Node *owner, Diag *d) {
    if (cx->nodes_left <= 0) {
        diag_error(d, owner, "unrolling the control flow exceeds its limit of %d nodes (each "
                   "loop iteration counts as one)", (int)OP_EXPAND_MAX_NODES);
        return false;
    }
    cx->nodes_left--;
    return true;
}

/* A new node in the schedule, counted against the expansion budget. */
static Node *cf_node(Graph *g, OpExpandCtx *cx, const Node *owner, const char *name,
                     const char *op_type, const char *domain, int n_in, int n_out, Diag *d) {
    if (!cf_spend(cx, owner, d)) return NULL;
    Node *nn = ir_node_new(g, name, op_type, domain, n_in, n_out, d);
    if (nn) nn->opset = CF_OPSET;
    return nn;
}

/* Binds a new node to its OpDef (as the resolve_ops pass does for the model's nodes),
 * marks it as its outputs' producer and infers it. */
static bool cf_run(Graph *g, OpExpandCtx *cx, Node *nn, Diag *d) {
    nn->op = op_find(nn->domain, nn->op_type);
    if (!nn->op || (!nn->op->infer && !nn->op->expand)) {
        if (nn->domain[0])
            diag_error(d, nn, "unsupported op %s of domain '%s' in a subgraph", nn->op_type,
                       nn->domain);
        else
            diag_error(d, nn, "unsupported op %s in a subgraph", nn->op_type);
        return false;
    }
    if (nn->domain[0] == '\0' && nn->opset < nn->op->since) {
        diag_error(d, nn, "opset %d is older than the oldest supported for %s (%d)", nn->opset,
                   nn->op_type, nn->op->since);
        return false;
    }
    if (!op_check_arity(nn, d)) return false;
    for (int k = 0; k < nn->n_outputs; k++)
        if (nn->outputs[k]) nn->outputs[k]->producer = nn;
    return cx->infer_node(cx, g, nn, d);
}

/* A constant int64 (rank 0 or [1]) or bool scalar. */
Value *cf_const(Graph *g, const Node *owner, const char *base, DType t, int rank,
                int64_t x, Diag *d) {
    Value *v = cf_value(g, owner, base, d);
    const int64_t one = 1;
    if (!v) return NULL;
    ir_value_set_shape(v, t, rank, &one);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    ir_const_set_i64(v, 0, x);
    return v;
}

Value *cf_const_ints(Graph *g, const Node *owner, const char *base, const int64_t *x,
                     int64_t count, Diag *d) {
    Value *v = cf_value(g, owner, base, d);
    if (!v) return NULL;
    ir_value_set_shape(v, DT_INT64, 1, &count);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    for (int64_t i = 0; i < count; i++) ir_const_set_i64(v, i, x[i]);
    return v;
}

/* A new node op_type(in...) -> n_out outputs: outs[k], or fresh values named base; an
 * int attribute when attr is not NULL.  cf_op1 is its one-output form. */
bool cf_opn(Graph *g, OpExpandCtx *cx, const Node *owner, const char *op_type,
            Value *const *in, int n_in, const char *attr, int64_t attr_value, Value **outs,
            int n_out, const char *base, Diag *d) {
    Node *nn = cf_node(g, cx, owner, owner->name, op_type, "", n_in, n_out, d);
    if (!nn) return false;
    for (int k = 0; k < n_in; k++) nn->inputs[k] = in[k];
    for (int k = 0; k < n_out; k++)
        if (!outs[k] && !(outs[k] = cf_value(g, owner, base, d))) return false;
    for (int k = 0; k < n_out; k++) nn->outputs[k] = outs[k];
    if (attr && !ir_attr_set_int(g, nn, attr, attr_value, d)) return false;
    return cf_run(g, cx, nn, d);
}

Value *cf_op1(Graph *g, OpExpandCtx *cx, const Node *owner, const char *op_type,
              Value *const *in, int n_in, const char *attr, int64_t attr_value, Value *dst,
              const char *base, Diag *d) {
    Value *y = dst;
    return cf_opn(g, cx, owner, op_type, in, n_in, attr, attr_value, &y, 1, base, d) ? y
                                                                                    : NULL;
}

/* x[..., index, ...] along axis (the axis removed), named base. */
static Value *cf_take(Graph *g, OpExpandCtx *cx, const Node *owner, Value *x, int axis,
                      int64_t index, const char *base, Diag *d) {
    const char *iname = base ? arena_printf(&g->arena, "%s.index", base) : NULL;
    Value *in[2] = { x, iname ? cf_const(g, owner, iname, DT_INT64, 0, index, d) : NULL };
    return in[1] ? cf_op1(g, cx, owner, "Gather", in, 2, "axis", axis, NULL, base, d) : NULL;
}

/* The expansion's result becomes the node's output: dst = Identity(x) for a tensor; a
 * sequence or optional shares x's list. */
bool cf_bind(Graph *g, OpExpandCtx *cx, const Node *owner, Value *x, Value *dst, Diag *d) {
    if (!dst) return true;
    if (x->kind != VK_TENSOR) {
        dst->dtype = x->dtype;
        return ir_list_set(g, dst, x->kind, x->elems, x->n_elems, d);
    }
    return cf_op1(g, cx, owner, "Identity", &x, 1, NULL, 0, dst, NULL, d) != NULL;
}

/* The count values stacked along a new axis (taken in reverse order when reverse), into
 * dst or a fresh value named base: Unsqueeze each, then one Concat.  axis is normalised
 * for the stacked rank. */
static Value *cf_stack(Graph *g, OpExpandCtx *cx, const Node *owner, Value *const *vals,
                       int64_t count, int axis, bool reverse, Value *dst, const char *base,
                       Diag *d) {
    if (count > INT32_MAX) { cf_oom(owner, d); return NULL; }
    if (!base) base = dst ? dst->name : cf_stem(owner);
    Value **parts = malloc((size_t)count * sizeof *parts);
    if (!parts) { cf_oom(owner, d); return NULL; }
    bool ok = true;
    for (int64_t t = 0; t < count && ok; t++) {
        /* distinct names: ir_unique_name would otherwise probe base__1, base__2... */
        const char *pname = arena_printf(&g->arena, "%s.part%lld", base, (long long)t);
        const char *aname = pname ? arena_printf(&g->arena, "%s.axes", pname) : NULL;
        Value *in[2] = { vals[reverse ? count - 1 - t : t],
                         aname ? cf_const(g, owner, aname, DT_INT64, 1, axis, d) : NULL };
        parts[t] = in[1] ? cf_op1(g, cx, owner, "Unsqueeze", in, 2, NULL, 0, NULL, pname, d)
                         : NULL;
        ok = parts[t] != NULL;
    }
    Value *y = ok ? cf_op1(g, cx, owner, "Concat", parts, (int)count, "axis", axis, dst, base, d)
                  : NULL;
    free(parts);
    return y;
}

/* A copy of a body's constant (initializer) in g. */
static Value *cf_copy_const(Graph *g, const Node *owner, const Value *c, const char *tag,
                            Diag *d) {
    const char *base = arena_printf(&g->arena, "%s/%s", tag, c->name);
    Value *v = base ? cf_value(g, owner, base, d) : NULL;
    if (!v) return NULL;
    ir_value_set_shape(v, c->dtype, c->rank, c->dims);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    memcpy(v->data, c->data, ir_nbytes(c));
    return v;
}

/* --- instantiating a body ----------------------------------------------------------------- */

/* The body attribute `name` of n, or NULL + error. */
const Subgraph *cf_body(const Node *n, const char *name, Diag *d) {
    const Attr *a = ir_attr(n, name);
    if (!a || a->type != ATTR_GRAPH || !a->graph) {
        diag_error(d, n, "attribute '%s' is missing or is not a graph", name);
        return NULL;
    }
    return a->graph;
}

/* Inputs declared by the model (the captures of the bodies follow them). */
int cf_declared_inputs(const Node *n) {
    int count = n->n_inputs;
    for (int i = 0; i < n->n_attrs; i++) {
        const Subgraph *s = n->attrs[i].type == ATTR_GRAPH ? n->attrs[i].graph : NULL;
        if (s && s->capture_base < count) count = s->capture_base;
    }
    return count;
}

/* The copy of body node bn, its inputs mapped through map[] (by local id), its outputs
 * fresh values recorded in map[]. */
static bool cf_copy_node(Graph *g, OpExpandCtx *cx, const Node *owner, const Subgraph *s,
                         const Node *bn, Value **map, const char *tag, Diag *d) {
    const char *name = arena_printf(&g->arena, "%s/%s", owner->name, bn->name);
    if (!name) return cf_oom(owner, d);
    Node *nn = cf_node(g, cx, owner, name, bn->op_type, bn->domain, bn->n_inputs,
                       bn->n_outputs, d);
    if (!nn) return false;
    nn->opset = bn->opset;
    if (bn->n_attrs > 0) {
        /* a copy of the array: passes may set attributes on the new node */
        nn->attrs = arena_array(&g->arena, (size_t)bn->n_attrs, sizeof *nn->attrs);
        if (!nn->attrs) return cf_oom(owner, d);
        memcpy(nn->attrs, bn->attrs, (size_t)bn->n_attrs * sizeof *nn->attrs);
        nn->n_attrs = bn->n_attrs;
    }
    for (int k = 0; k < bn->n_inputs; k++) {
        const Value *bv = bn->inputs[k];
        if (!bv) continue;
        if (bv->id < 0 || bv->id >= s->n_values || s->values[bv->id] != bv)
            BUG("input '%s' of a body node is not a value of its body", bv->name);
        if (!map[bv->id]) {
            diag_error(d, owner, "subgraph '%s' is not topologically sorted: node '%s' reads "
                       "'%s' before it is computed", s->name, bn->name, bv->name);
            return false;
        }
        nn->inputs[k] = map[bv->id];
    }
    for (int k = 0; k < bn->n_outputs; k++) {
        const Value *bv = bn->outputs[k];
        if (!bv) continue;
        const char *base = arena_printf(&g->arena, "%s/%s", tag, bv->name);
        Value *v = base ? cf_value(g, owner, base, d) : NULL;
        if (!v) return false;
        nn->outputs[k] = map[bv->id] = v;
    }
    return cf_run(g, cx, nn, d);
}

/* One copy of body s in g: formal input i bound to binds[i], capture k to the owner's
 * input capture_base + k; outs[j] gets the value of result j. */
bool cf_instantiate(Graph *g, OpExpandCtx *cx, const Node *owner, const Subgraph *s,
                    Value *const *binds, const char *tag, Value **outs, Diag *d) {
    Value **map = tag ? calloc((size_t)s->n_values + 1, sizeof *map) : NULL;
    if (!map) return cf_oom(owner, d);
    bool ok = true;
    for (int i = 0; i < s->n_inputs; i++) map[s->inputs[i]->id] = binds[i];
    for (int k = 0; k < s->n_captures; k++)
        map[s->captures[k]->id] = owner->inputs[s->capture_base + k];
    for (int i = 0; i < s->n_values && ok; i++) {
        const Value *v = s->values[i];
        if (v->data && !map[i]) ok = (map[i] = cf_copy_const(g, owner, v, tag, d)) != NULL;
    }
    for (int i = 0; i < s->n_nodes && ok; i++)
        ok = cf_copy_node(g, cx, owner, s, s->nodes[i], map, tag, d);
    for (int j = 0; j < s->n_outputs && ok; j++) outs[j] = map[s->outputs[j]->id];
    free(map);
    return ok;
}

/* "stem.kindN" for the values of one copy of a body. */
const char *cf_tag(Graph *g, const Node *n, const char *kind, int64_t iter) {
    return iter < 0 ? arena_printf(&g->arena, "%s.%s", cf_stem(n), kind)
                    : arena_printf(&g->arena, "%s.%s%lld", cf_stem(n), kind, (long long)iter);
}

/* Control-flow ops are expanded, never inferred (see infer.c). */
static bool cf_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    diag_error(d, n, "%s is expanded during inference; it cannot be inferred on its own",
               n->op_type);
    return false;
}

/* A condition input: a constant-or-not bool tensor of one element. */
static bool cf_check_cond(const Node *n, int i, Diag *d) {
    const Value *c = n->inputs[i];
    if (c->dtype != DT_BOOL || ir_numel(c) != 1) {
        char s[128];
        diag_error(d, n, "condition '%s' must be a bool tensor of one element, it is %s",
                   c->name, ir_shape_str(s, sizeof s, c));
        return false;
    }
    return true;
}

/* --- If ----------------------------------------------------------------------------------- */

static bool if_check(const Node *n, const Subgraph *br, const char *which, Diag *d) {
    if (br->n_inputs != 0) {
        diag_error(d, n, "%s has %d inputs, an If branch takes none", which, br->n_inputs);
        return false;
    }
    if (br->n_outputs != n->n_outputs) {
        diag_error(d, n, "%s has %d outputs, the node %d", which, br->n_outputs, n->n_outputs);
        return false;
    }
    return true;
}

/* Both branches give the same type: element type and shape, and for sequences and
 * optionals the same structure, element by element. */
static bool if_same_type(const Value *a, const Value *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == VK_TENSOR) return a->dtype == b->dtype && ir_same_shape(a, b);
    if (a->n_elems != b->n_elems) return false;
    for (int i = 0; i < a->n_elems; i++)
        if (!if_same_type(a->elems[i], b->elems[i])) return false;
    return true;
}

/* A value's type for an error message. */
static const char *if_type_str(char *buf, size_t size, const Value *v) {
    if (v->kind == VK_TENSOR) return ir_shape_str(buf, size, v);
    snprintf(buf, size, "%s of %d element%s", v->kind == VK_SEQUENCE ? "a sequence"
                                                                      : "an optional",
             v->n_elems, v->n_elems == 1 ? "" : "s");
    return buf;
}

/* dst = Where(cond, t, e); for lists of the same structure, element by element. */
static bool if_where(Graph *g, OpExpandCtx *cx, const Node *n, Value *cond, Value *t,
                     Value *e, Value *dst, Diag *d) {
    if (t->kind == VK_TENSOR) {
        Value *in[3] = { cond, t, e };
        return cf_op1(g, cx, n, "Where", in, 3, NULL, 0, dst, dst->name, d) != NULL;
    }
    Value **sel = calloc((size_t)t->n_elems + 1, sizeof *sel);
    if (!sel) return cf_oom(n, d);
    bool ok = true;
    for (int i = 0; i < t->n_elems && ok; i++) {
        const char *base = arena_printf(&g->arena, "%s.where%d", dst->name, i);
        sel[i] = base ? cf_value(g, n, base, d) : NULL;
        if (sel[i] && t->elems[i]->kind != VK_TENSOR) sel[i]->kind = t->elems[i]->kind;
        ok = sel[i] && if_where(g, cx, n, cond, t->elems[i], e->elems[i], sel[i], d);
    }
    dst->dtype = t->dtype;
    ok = ok && ir_list_set(g, dst, t->kind, sel, t->n_elems, d);
    free(sel);
    return ok;
}

/* Both branches computed, each output selected by Where (cond not known at compile time). */
static bool if_select(Graph *g, Node *n, OpExpandCtx *cx, const Subgraph *t,
                      const Subgraph *e, Value **to, Value **eo, Diag *d) {
    if (!cf_instantiate(g, cx, n, t, NULL, cf_tag(g, n, "then", -1), to, d) ||
        !cf_instantiate(g, cx, n, e, NULL, cf_tag(g, n, "else", -1), eo, d))
        return false;
    for (int j = 0; j < n->n_outputs; j++) {
        if (!n->outputs[j] || if_same_type(to[j], eo[j])) continue;
        char a[128], b[128];
        diag_error(d, n, "output %d is %s in then_branch and %s in else_branch: an If whose "
                   "branches differ needs its condition at compile time", j,
                   if_type_str(a, sizeof a, to[j]), if_type_str(b, sizeof b, eo[j]));
        op_require_const(n, 0, d);      /* marks the inputs `onnxcc test` may freeze */
        return false;
    }
    Value *cond = n->inputs[0];
    if (cond->rank > 0) {       /* Where would broadcast a [1] condition onto scalars */
        cond = cf_op1(g, cx, n, "Squeeze", &cond, 1, NULL, 0, NULL, cond->name, d);
        if (!cond) return false;
    }
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] && !if_where(g, cx, n, cond, to[j], eo[j], n->outputs[j], d))
            return false;
    return true;
}

static bool if_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    const Subgraph *t = cf_body(n, "then_branch", d), *e = t ? cf_body(n, "else_branch", d) : NULL;
    if (!e) return false;
    if (cf_declared_inputs(n) != 1) {
        diag_error(d, n, "If takes one input (the condition), it has %d", cf_declared_inputs(n));
        return false;
    }
    if (!cf_check_cond(n, 0, d) || !if_check(n, t, "then_branch", d) ||
        !if_check(n, e, "else_branch", d))
        return false;
    Value **to = calloc((size_t)n->n_outputs * 2, sizeof *to);
    if (!to) return cf_oom(n, d);
    Value **eo = to + n->n_outputs;
    bool ok;
    if (n->inputs[0]->data) {
        bool taken = ir_const_get_i64(n->inputs[0], 0) != 0;
        const char *tag = cf_tag(g, n, taken ? "then" : "else", -1);
        ok = cf_instantiate(g, cx, n, taken ? t : e, NULL, tag, to, d);
        for (int j = 0; j < n->n_outputs && ok; j++)
            ok = cf_bind(g, cx, n, to[j], n->outputs[j], d);
    } else {
        ok = if_select(g, n, cx, t, e, to, eo, d);
    }
    free(to);
    n->dead = ok;
    return ok;
}

/* --- Scan --------------------------------------------------------------------------------- */

/* One scan over a sequence, shared by both forms of Scan. */
typedef struct ScanRun {
    int n_state, n_scan, n_out;     /* N state variables, M scan inputs, K scan outputs */
    Value **states;                 /* [N] initial, then final */
    Value **xs;                     /* [M] scan inputs */
    int *in_axis;                   /* [M] normalised */
    bool *in_rev;                   /* [M] */
    int64_t *out_axis;              /* [K] as given (normalised once the rank is known) */
    bool *out_rev;                  /* [K] */
    bool *want;                     /* [K] the node uses scan output k */
    Value **ys;                     /* [K] in: destination or NULL (fresh); out: result */
    const char *tag;                /* names the values of each iteration */
} ScanRun;

static bool scan_run_alloc(ScanRun *r, int N, int M, int K) {
    r->n_state = N, r->n_scan = M, r->n_out = K;
    r->states = calloc((size_t)N + 1, sizeof *r->states);
    r->xs = calloc((size_t)M + 1, sizeof *r->xs);
    r->in_axis = calloc((size_t)M + 1, sizeof *r->in_axis);
    r->in_rev = calloc((size_t)M + 1, sizeof *r->in_rev);
    r->out_axis = calloc((size_t)K + 1, sizeof *r->out_axis);
    r->out_rev = calloc((size_t)K + 1, sizeof *r->out_rev);
    r->want = calloc((size_t)K + 1, sizeof *r->want);
    r->ys = calloc((size_t)K + 1, sizeof *r->ys);
    return r->states && r->xs && r->in_axis && r->in_rev && r->out_axis && r->out_rev &&
           r->want && r->ys;
}

static void scan_run_free(ScanRun *r) {
    free(r->states);
    free(r->xs);
    free(r->in_axis);
    free(r->in_rev);
    free(r->out_axis);
    free(r->out_rev);
    free(r->want);
    free(r->ys);
}

/* The sequence length: dim in_axis[j] of every scan input j, the same for all. */
static bool scan_length(const Node *n, const ScanRun *r, int64_t *len, Diag *d) {
    *len = r->xs[0]->dims[r->in_axis[0]];
    for (int j = 1; j < r->n_scan; j++) {
        if (r->xs[j]->dims[r->in_axis[j]] != *len) {
            diag_error(d, n, "scan input %d has sequence length %lld, scan input 0 has %lld", j,
                       (long long)r->xs[j]->dims[r->in_axis[j]], (long long)*len);
            return false;
        }
    }
    if (*len == 0 && r->n_out > 0) {
        diag_error(d, n, "a Scan over an empty sequence is not supported (its outputs' shapes "
                   "come from the body)");
        return false;
    }
    if (*len > OP_EXPAND_MAX_NODES) {
        diag_error(d, n, "sequence length %lld is more than the %d iterations a Scan is "
                   "unrolled to", (long long)*len, (int)OP_EXPAND_MAX_NODES);
        return false;
    }
    return true;
}

/* The body run over every index of the sequence: r->states become the final states and
 * r->ys the stacked scan outputs. */
static bool scan_unroll(Graph *g, Node *n, OpExpandCtx *cx, const Subgraph *body, ScanRun *r,
                        Diag *d) {
    const int N = r->n_state, M = r->n_scan, K = r->n_out;
    int64_t len;
    if (!scan_length(n, r, &len, d)) return false;
    /* binds[N + M], outs[N + K], then per[k * len + t]: scan output k of iteration t */
    Value **binds = calloc((size_t)(2 * N + M + K) + (size_t)K * (size_t)len + 1,
                           sizeof *binds);
    if (!binds) return cf_oom(n, d);
    Value **outs = binds + N + M, **per = outs + N + K;
    bool ok = true;
    for (int64_t t = 0; t < len && ok; t++) {
        const char *tag = cf_tag(g, n, r->tag, t);
        for (int i = 0; i < N; i++) binds[i] = r->states[i];
        for (int j = 0; j < M && ok; j++) {
            int64_t at = r->in_rev[j] ? len - 1 - t : t;
            const char *base = tag ? arena_printf(&g->arena, "%s/x%d", tag, j) : NULL;
            binds[N + j] = base ? cf_take(g, cx, n, r->xs[j], r->in_axis[j], at, base, d)
                                : NULL;
            ok = binds[N + j] != NULL;
        }
        ok = ok && cf_instantiate(g, cx, n, body, binds, tag, outs, d);
        for (int i = 0; i < N && ok; i++) r->states[i] = outs[i];
        for (int k = 0; k < K && ok; k++) per[k * len + t] = outs[N + k];
    }
    for (int k = 0; k < K && ok; k++) {
        if (!r->want[k]) continue;
        int axis;
        ok = ou_axis(n, "scan_output_axes value", r->out_axis[k], per[k * len]->rank, true,
                     &axis, d);
        r->ys[k] = ok ? cf_stack(g, cx, n, per + k * len, len, axis, r->out_rev[k], r->ys[k],
                                 cf_stem(n), d) : NULL;
        ok = r->ys[k] != NULL;
    }
    free(binds);
    return ok;
}

/* Reads an ints attribute of exactly `count` entries (absent: all 0) into out[]. */
static bool scan_ints(const Node *n, const char *name, int count, int64_t *out, Diag *d) {
    const int64_t *v;
    size_t c = ir_attr_ints(n, name, &v);
    if (c != 0 && c != (size_t)count) {
        diag_error(d, n, "attribute '%s' has %zu values, expected %d", name, c, count);
        return false;
    }
    for (int i = 0; i < count; i++) out[i] = c ? v[i] : 0;
    return true;
}

/* A directions attribute: 0 forward, 1 reverse. */
static bool scan_dirs(const Node *n, const char *name, int count, bool *out, Diag *d) {
    int64_t *v = calloc((size_t)count + 1, sizeof *v);
    if (!v) return cf_oom(n, d);
    bool ok = scan_ints(n, name, count, v, d);
    for (int i = 0; i < count && ok; i++) {
        if (v[i] != 0 && v[i] != 1) {
            diag_error(d, n, "attribute '%s' value %lld is not 0 (forward) or 1 (reverse)", name,
                       (long long)v[i]);
            ok = false;
        }
        out[i] = v[i] == 1;
    }
    free(v);
    return ok;
}

/* The scan axes: attribute `name` (absent: 0) normalised for each scan input's rank. */
static bool scan_in_axes(const Node *n, ScanRun *r, const char *name, Diag *d) {
    int64_t *v = calloc((size_t)r->n_scan + 1, sizeof *v);
    if (!v) return cf_oom(n, d);
    bool ok = scan_ints(n, name, r->n_scan, v, d);
    for (int j = 0; j < r->n_scan && ok; j++) {
        if (r->xs[j]->rank < 1) {
            diag_error(d, n, "scan input '%s' is a scalar: it has no axis to scan",
                       r->xs[j]->name);
            ok = false;
        } else {
            ok = ou_axis(n, "scan_input_axes value", v[j], r->xs[j]->rank, false,
                         &r->in_axis[j], d);
        }
    }
    free(v);
    return ok;
}

/* The body's arity against N states, M scan inputs, K scan outputs. */
static bool scan_check_body(const Node *n, const Subgraph *body, int N, int M, int K,
                            Diag *d) {
    if (N < 0 || K < 0) {
        diag_error(d, n, "num_scan_inputs %d leaves no room for the state variables of %d "
                   "inputs and %d outputs", M, cf_declared_inputs(n), n->n_outputs);
        return false;
    }
    if (body->n_inputs != N + M || body->n_outputs != N + K) {
        diag_error(d, n, "the body has %d inputs and %d outputs; with %d state variables, %d "
                   "scan inputs and %d scan outputs it needs %d and %d", body->n_inputs,
                   body->n_outputs, N, M, K, N + M, N + K);
        return false;
    }
    return true;
}

/* Scan 9+: inputs N initial states, M scan inputs; outputs N final states, K scans. */
static bool scan9_expand(Graph *g, Node *n, OpExpandCtx *cx, const Subgraph *body, int M,
                         Diag *d) {
    int N = cf_declared_inputs(n) - M, K = n->n_outputs - N;
    if (!scan_check_body(n, body, N, M, K, d)) return false;
    ScanRun r = { .tag = "it" };
    bool ok = scan_run_alloc(&r, N, M, K) || cf_oom(n, d);
    for (int i = 0; i < N && ok; i++) r.states[i] = n->inputs[i];
    for (int j = 0; j < M && ok; j++) r.xs[j] = n->inputs[N + j];
    for (int k = 0; k < K && ok; k++) r.want[k] = (r.ys[k] = n->outputs[N + k]) != NULL;
    ok = ok && scan_ints(n, "scan_output_axes", K, r.out_axis, d) &&
         scan_dirs(n, "scan_input_directions", M, r.in_rev, d) &&
         scan_dirs(n, "scan_output_directions", K, r.out_rev, d) &&
         scan_in_axes(n, &r, "scan_input_axes", d) && scan_unroll(g, n, cx, body, &r, d);
    for (int i = 0; i < N && ok; i++) ok = cf_bind(g, cx, n, r.states[i], n->outputs[i], d);
    scan_run_free(&r);
    return ok;
}

/* Scan 8's optional sequence_lens: only full-length sequences are supported. */
static bool scan8_check_lens(const Node *n, int64_t batch, int64_t len, Diag *d) {
    const Value *sl = op_input(n, 0);
    if (!sl) return true;
    if (!op_require_const(n, 0, d)) return false;
    if (!dtype_is_integer(sl->dtype) || ir_numel(sl) != batch) {
        diag_error(d, n, "sequence_lens must hold one integer per batch item (%lld)",
                   (long long)batch);
        return false;
    }
    for (int64_t b = 0; b < batch; b++) {
        if (ir_const_get_i64(sl, b) != len) {
            diag_error(d, n, "sequence_lens[%lld] is %lld: only sequences of the full length "
                       "%lld are supported", (long long)b, (long long)ir_const_get_i64(sl, b),
                       (long long)len);
            return false;
        }
    }
    return true;
}

/* Scan 8: inputs sequence_lens (optional), N initial states, M scan inputs, all with a
 * batch axis 0 (the sequence is axis 1 of the scan inputs); each batch item is scanned
 * on its own and the results stacked on axis 0. */
static bool scan8_expand(Graph *g, Node *n, OpExpandCtx *cx, const Subgraph *body, int M,
                         Diag *d) {
    int N = cf_declared_inputs(n) - 1 - M, K = n->n_outputs - N;
    if (!scan_check_body(n, body, N, M, K, d)) return false;
    const Value *x0 = n->inputs[1 + N];
    if (x0->rank < 2) {
        diag_error(d, n, "scan input '%s' has rank %d; Scan-8 needs [batch, sequence, ...]",
                   x0->name, x0->rank);
        return false;
    }
    int64_t batch = x0->dims[0];
    for (int i = 1; i < 1 + N + M; i++) {
        const Value *v = n->inputs[i];
        if (v->rank < (i > N ? 2 : 1) || v->dims[0] != batch) {
            diag_error(d, n, "input '%s' has no batch axis of size %lld%s", v->name,
                       (long long)batch, i > N ? " followed by a sequence axis" : "");
            return false;
        }
    }
    if (!scan8_check_lens(n, batch, x0->dims[1], d)) return false;
    if (batch == 0 || batch > OP_EXPAND_MAX_NODES) {
        diag_error(d, n, "batch size %lld is not supported by the unrolled Scan",
                   (long long)batch);
        return false;
    }
    /* res[(i) * batch + b]: output i (states, then scans) of batch item b */
    Value **res = calloc((size_t)(N + K) * (size_t)batch + 1, sizeof *res);
    ScanRun r = { 0 };
    bool ok = (res && scan_run_alloc(&r, N, M, K)) || cf_oom(n, d);
    ok = ok && scan_dirs(n, "directions", M, r.in_rev, d);
    for (int64_t b = 0; b < batch && ok; b++) {
        r.tag = arena_printf(&g->arena, "b%lld.it", (long long)b);    /* "stem.b1.it2/..." */
        if (!r.tag) { ok = cf_oom(n, d); break; }
        for (int i = 0; i < N + M && ok; i++) {
            const char *base = arena_printf(&g->arena, "%s.b%lld/in%d", cf_stem(n),
                                            (long long)b, i);
            Value *v = base ? cf_take(g, cx, n, n->inputs[1 + i], 0, b, base, d) : NULL;
            if (i < N) r.states[i] = v;
            else r.xs[i - N] = v;
            ok = v != NULL;
        }
        for (int k = 0; k < K; k++) r.want[k] = n->outputs[N + k] != NULL, r.ys[k] = NULL;
        /* in_axis and out_axis stay 0: the sequence axis once the batch axis is gone */
        ok = ok && scan_unroll(g, n, cx, body, &r, d);
        for (int i = 0; i < N && ok; i++) res[i * batch + b] = r.states[i];
        for (int k = 0; k < K && ok; k++) res[(N + k) * batch + b] = r.ys[k];
    }
    for (int i = 0; i < N + K && ok; i++)
        ok = !n->outputs[i] ||
             cf_stack(g, cx, n, res + i * batch, batch, 0, false, n->outputs[i], NULL, d);
    scan_run_free(&r);
    free(res);
    return ok;
}

static bool scan_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    const Subgraph *body = cf_body(n, "body", d);
    if (!body) return false;
    const Attr *m = ir_attr(n, "num_scan_inputs");
    if (!m || m->type != ATTR_INT || m->i < 1 || m->i > cf_declared_inputs(n)) {
        diag_error(d, n, "attribute num_scan_inputs must be an integer in [1, %d]",
                   cf_declared_inputs(n));
        return false;
    }
    for (int i = n->opset < 9 ? 1 : 0; i < cf_declared_inputs(n); i++)
        if (!ou_require_typed(n, i, d)) return false;
    bool ok = n->opset < 9 ? scan8_expand(g, n, cx, body, (int)m->i, d)
                           : scan9_expand(g, n, cx, body, (int)m->i, d);
    n->dead = ok;
    return ok;
}

/* --- Loop --------------------------------------------------------------------------------- */

/* A constant scalar input: the trip count (integer) or the condition (bool). */
static bool loop_const(const Node *n, int i, bool is_cond, int64_t *out, Diag *d) {
    const Value *v = n->inputs[i];
    if (is_cond ? !cf_check_cond(n, i, d)
                : !dtype_is_integer(v->dtype) || ir_numel(v) != 1) {
        if (!is_cond)
            diag_error(d, n, "trip count '%s' must be an integer tensor of one element",
                       v->name);
        return false;
    }
    if (!v->data) {
        diag_error(d, n, "the %s '%s' of a Loop must be known at compile time (loops are "
                   "unrolled)", is_cond ? "condition" : "trip count", v->name);
        op_require_const(n, i, d);      /* marks the inputs `onnxcc test` may freeze */
        return false;
    }
    *out = ir_const_get_i64(v, 0);
    return true;
}

/* Loop's running state: the carried values, the condition, the scan outputs so far. */
typedef struct LoopRun {
    int n_carried, n_scan;          /* N, K */
    Value **carried;                /* [N] */
    Value **binds, **outs;          /* [2 + N] and [1 + N + K] */
    Value **per;                    /* per[k * cap + it], the scan outputs of iteration it */
    int64_t cap;
} LoopRun;

/* Room for the scan outputs of iteration it. */
static bool loop_grow(LoopRun *r, int64_t it) {
    if (it < r->cap) return true;
    int64_t cap = r->cap ? r->cap * 2 : 16;
    Value **p = calloc((size_t)cap * (size_t)r->n_scan + 1, sizeof *p);
    if (!p) return false;
    for (int k = 0; k < r->n_scan && r->per; k++)
        memcpy(p + k * cap, r->per + k * r->cap, (size_t)r->cap * sizeof *p);
    free(r->per);
    r->per = p;
    r->cap = cap;
    return true;
}

/* The iterations: while the condition holds (when given) and it < trip (when given). */
static bool loop_unroll(Graph *g, Node *n, OpExpandCtx *cx, const Subgraph *body, LoopRun *r,
                        int64_t *iters, Diag *d) {
    const int N = r->n_carried, K = r->n_scan;
    const bool has_trip = op_input(n, 0) != NULL, has_cond = op_input(n, 1) != NULL;
    int64_t trip = 0, keep = 1;
    if ((has_trip && !loop_const(n, 0, false, &trip, d)) ||
        (has_cond && !loop_const(n, 1, true, &keep, d)))
        return false;
    Value *cond = has_cond ? n->inputs[1] : cf_const(g, n, "cf_true", DT_BOOL, 0, 1, d);
    if (!cond) return false;
    int64_t it = 0;
    for (; keep && (!has_trip || it < trip); it++) {
        if (!cf_spend(cx, n, d)) return false;  /* even an empty body's iteration counts */
        const char *tag = cf_tag(g, n, "it", it);
        r->binds[0] = tag ? cf_const(g, n, tag, DT_INT64, 0, it, d) : NULL;
        r->binds[1] = cond;
        for (int i = 0; i < N; i++) r->binds[2 + i] = r->carried[i];
        if (!r->binds[0] || !loop_grow(r, it)) return cf_oom(n, d);
        if (!cf_instantiate(g, cx, n, body, r->binds, tag, r->outs, d)) return false;
        cond = r->outs[0];
        if (has_cond) {
            if (!cond->data || cond->dtype != DT_BOOL || ir_numel(cond) != 1) {
                diag_error(d, n, "the condition the body computes in iteration %lld ('%s') is "
                           "not a constant: only loops whose condition is known at compile "
                           "time are unrolled", (long long)it, cond->name);
                return false;
            }
            keep = ir_const_get_i64(cond, 0) != 0;
        }
        for (int i = 0; i < N; i++) r->carried[i] = r->outs[1 + i];
        for (int k = 0; k < K; k++) r->per[k * r->cap + it] = r->outs[1 + N + k];
    }
    *iters = it;
    return true;
}

/* Loop: inputs M (trip count, optional), cond (optional), N carried values; body inputs
 * (iteration, cond, N carried), body outputs (cond, N carried, K scan outputs); node
 * outputs N final carried values, K scan outputs stacked on a new axis 0. */
static bool loop_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    const Subgraph *body = cf_body(n, "body", d);
    if (!body) return false;
    int N = cf_declared_inputs(n) - 2, K = n->n_outputs - N;
    if (N < 0 || K < 0 || body->n_inputs != 2 + N || body->n_outputs != 1 + N + K) {
        diag_error(d, n, "the body has %d inputs and %d outputs; a Loop of %d inputs and %d "
                   "outputs needs %d and %d", body->n_inputs, body->n_outputs,
                   cf_declared_inputs(n), n->n_outputs, N + 2, n->n_outputs + 1);
        return false;
    }
    if (!op_input(n, 0) && !op_input(n, 1)) {
        diag_error(d, n, "a Loop with neither a trip count nor a condition never ends");
        return false;
    }
    for (int i = 0; i < 2 + N; i++)     /* M and cond are optional; lists are carried */
        if (((i >= 2 && n->inputs[i]->kind == VK_TENSOR) || (i < 2 && op_input(n, i))) &&
            !ou_require_typed(n, i, d))
            return false;
    LoopRun r = { .n_carried = N, .n_scan = K };
    r.carried = calloc((size_t)(N + (2 + N) + (1 + N + K)) + 1, sizeof *r.carried);
    if (!r.carried) return cf_oom(n, d);
    r.binds = r.carried + N;
    r.outs = r.binds + 2 + N;
    for (int i = 0; i < N; i++) r.carried[i] = n->inputs[2 + i];
    int64_t iters = 0;
    bool ok = loop_unroll(g, n, cx, body, &r, &iters, d);
    if (ok && iters == 0 && K > 0) {
        diag_error(d, n, "a Loop that runs no iteration is not supported when it has scan "
                   "outputs (their shapes come from the body)");
        ok = false;
    }
    for (int i = 0; i < N && ok; i++) ok = cf_bind(g, cx, n, r.carried[i], n->outputs[i], d);
    for (int k = 0; k < K && ok; k++) {
        if (iters > 0 && r.per[k * r.cap]->kind != VK_TENSOR) {
            diag_error(d, n, "scan output %d of the Loop is a sequence or an optional: only "
                       "tensors can be stacked", k);
            ok = false;
        }
    }
    for (int k = 0; k < K && ok; k++)
        ok = !n->outputs[N + k] || cf_stack(g, cx, n, r.per + k * r.cap, iters, 0, false,
                                            n->outputs[N + k], NULL, d);
    free(r.per);
    free(r.carried);
    n->dead = ok;
    return ok;
}

/* --- the ops ------------------------------------------------------------------------------ */

/* Inputs: the declared ones plus the captures of the bodies, any number. */
enum { CF_MAX_INPUTS = INT32_MAX };

const OpDef op_if = {
    .name = "If", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = CF_MAX_INPUTS, .min_outputs = 1, .max_outputs = INT32_MAX,
    .infer = cf_infer, .expand = if_expand,
};

const OpDef op_loop = {
    .name = "Loop", .domain = "", .since = 1,
    /* M and cond may both be omitted (""), so no input is required by the registry;
     * loop_expand checks that both slots are there */
    .min_inputs = 0, .max_inputs = CF_MAX_INPUTS, .min_outputs = 1, .max_outputs = INT32_MAX,
    .infer = cf_infer, .expand = loop_expand,
};

const OpDef op_scan = {
    .name = "Scan", .domain = "", .since = 8,
    .min_inputs = 0, .max_inputs = CF_MAX_INPUTS, .min_outputs = 1, .max_outputs = INT32_MAX,
    .infer = cf_infer, .expand = scan_expand,
};
