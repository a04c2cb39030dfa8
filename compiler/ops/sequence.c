/* sequence.c: the sequence ops, resolved at compile time.
 *
 * The generated C has static shapes and no allocation, so a sequence exists only in the
 * compiler: a list value (Value.kind VK_SEQUENCE) whose elements are ordinary tensor
 * values, each produced by ordinary nodes.  Every sequence op is expanded during
 * inference (OpDef.expand, like If and Loop in control_flow.c, whose helpers it uses):
 *   SequenceEmpty, SequenceConstruct   a list of no value / of the inputs
 *   SequenceAt, SequenceInsert,        list surgery at constant positions (after folding,
 *   SequenceErase                      or frozen by `onnxcc test`), SequenceAt's result
 *                                      through Identity
 *   SequenceLength                     a constant
 *   SplitToSequence                    one Split (and a Squeeze per part for keepdims=0)
 *   ConcatFromSequence                 Concat, after an Unsqueeze per element for new_axis
 *   SequenceMap                        the body instantiated once per element, like Scan
 * Lists share their element values; nothing is copied until a list leaves the graph
 * (seq_flatten_outputs).  A list holds at most IR_MAX_LIST elements.
 * The optional ops are in optional.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/control_flow.h"
#include "ops/op_util.h"

/* --- shared checks ------------------------------------------------------------------------ */

static const char *seq_kind_name(ValueKind k) {
    return k == VK_SEQUENCE ? "sequence" : k == VK_OPTIONAL ? "optional" : "tensor";
}

/* Input i is a value of the given kind (present). */
static bool seq_require_kind(const Node *n, int i, ValueKind kind, Diag *d) {
    const Value *v = op_input(n, i);
    if (!v) {
        diag_error(d, n, "input %d is missing", i);
        return false;
    }
    if (v->kind != kind) {
        diag_error(d, n, "input %d '%s' is a %s, it must be a %s", i, v->name,
                   seq_kind_name(v->kind), seq_kind_name(kind));
        return false;
    }
    return kind != VK_TENSOR || ou_require_typed(n, i, d);
}

/* Output k (if present) becomes the sequence of the count values elems, element type t. */
static bool seq_set_output(Graph *g, Node *n, int k, DType t, Value *const *elems, int64_t count,
                           Diag *d) {
    Value *y = n->outputs[k];
    if (count > IR_MAX_LIST) {
        diag_error(d, n, "the sequence would hold %lld elements, more than the %d supported",
                   (long long)count, (int)IR_MAX_LIST);
        return false;
    }
    if (y) {
        y->dtype = t;
        if (!ir_list_set(g, y, VK_SEQUENCE, elems, (int)count, d)) return false;
    }
    return true;
}

/* Tensor x may join sequence s: the same element type (when s has one). */
static bool seq_check_elem_type(const Node *n, const Value *s, const Value *x, Diag *d) {
    if (s->dtype != DT_UNDEFINED && s->dtype != x->dtype) {
        diag_error(d, n, "tensor '%s' is %s but the sequence '%s' holds %s", x->name,
                   dtype_name(x->dtype), s->name, dtype_name(s->dtype));
        return false;
    }
    return true;
}

/* A position input (SequenceAt, Insert, Erase): a constant integer of one element in
 * [-len, len - 1], or [-len, len] when allow_end; normalised into *pos. */
static bool seq_position(const Node *n, int i, int64_t len, bool allow_end, int64_t *pos,
                         Diag *d) {
    int64_t p;
    int count;
    if (!ou_const_ints(n, i, &p, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "position '%s' must hold one integer", n->inputs[i]->name);
        return false;
    }
    int64_t hi = allow_end ? len : len - 1;
    if (p < -len || p > hi) {
        diag_error(d, n, "position %lld is out of range [%lld, %lld] for a sequence of %lld "
                   "elements", (long long)p, (long long)-len, (long long)hi, (long long)len);
        return false;
    }
    *pos = p < 0 ? p + len : p;
    return true;
}

/* Sequence ops are expanded, never inferred (see infer.c). */
static bool seq_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    diag_error(d, n, "%s is expanded during inference; it cannot be inferred on its own",
               n->op_type);
    return false;
}

/* --- SequenceEmpty, SequenceConstruct ----------------------------------------------------- */

static bool seq_empty_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    (void)cx;
    int64_t t = ir_attr_int(n, "dtype", DT_FLOAT);
    if (t <= 0 || t > INT32_MAX || !dtype_is_valid((int)t) || dtype_size((DType)t) == 0) {
        diag_error(d, n, "attribute dtype %lld is not an element type onnxcc supports",
                   (long long)t);
        return false;
    }
    n->dead = seq_set_output(g, n, 0, (DType)t, NULL, 0, d);
    return n->dead;
}

static bool seq_construct_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    (void)cx;
    for (int i = 0; i < n->n_inputs; i++) {
        if (!seq_require_kind(n, i, VK_TENSOR, d)) return false;
        if (n->inputs[i]->dtype != n->inputs[0]->dtype) {
            diag_error(d, n, "input %d is %s, input 0 is %s: a sequence holds one element type",
                       i, dtype_name(n->inputs[i]->dtype), dtype_name(n->inputs[0]->dtype));
            return false;
        }
    }
    n->dead = seq_set_output(g, n, 0, n->inputs[0]->dtype, n->inputs, n->n_inputs, d);
    return n->dead;
}

/* --- SequenceAt, SequenceInsert, SequenceErase, SequenceLength ---------------------------- */

static bool seq_at_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    int64_t pos;
    if (!seq_require_kind(n, 0, VK_SEQUENCE, d) ||
        !seq_position(n, 1, n->inputs[0]->n_elems, false, &pos, d))
        return false;
    n->dead = cf_bind(g, cx, n, n->inputs[0]->elems[pos], n->outputs[0], d);
    return n->dead;
}

static bool seq_insert_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    (void)cx;
    if (!seq_require_kind(n, 0, VK_SEQUENCE, d) || !seq_require_kind(n, 1, VK_TENSOR, d))
        return false;
    const Value *s = n->inputs[0];
    Value *x = n->inputs[1];
    int64_t len = s->n_elems, pos = len;
    if (!seq_check_elem_type(n, s, x, d) ||
        (op_input(n, 2) && !seq_position(n, 2, len, true, &pos, d)))
        return false;
    Value **elems = calloc((size_t)len + 1, sizeof *elems);
    if (!elems) return cf_oom(n, d);
    memcpy(elems, s->elems, (size_t)pos * sizeof *elems);
    elems[pos] = x;
    memcpy(elems + pos + 1, s->elems + pos, (size_t)(len - pos) * sizeof *elems);
    n->dead = seq_set_output(g, n, 0, x->dtype, elems, len + 1, d);
    free(elems);
    return n->dead;
}

static bool seq_erase_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    (void)cx;
    if (!seq_require_kind(n, 0, VK_SEQUENCE, d)) return false;
    const Value *s = n->inputs[0];
    int64_t len = s->n_elems, pos = len - 1;
    if (len == 0) {
        diag_error(d, n, "cannot erase from the empty sequence '%s'", s->name);
        return false;
    }
    if (op_input(n, 1) && !seq_position(n, 1, len, false, &pos, d)) return false;
    Value **elems = calloc((size_t)len, sizeof *elems);
    if (!elems) return cf_oom(n, d);
    memcpy(elems, s->elems, (size_t)pos * sizeof *elems);
    memcpy(elems + pos, s->elems + pos + 1, (size_t)(len - 1 - pos) * sizeof *elems);
    n->dead = seq_set_output(g, n, 0, s->dtype, elems, len - 1, d);
    free(elems);
    return n->dead;
}

static bool seq_length_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    if (!seq_require_kind(n, 0, VK_SEQUENCE, d)) return false;
    const char *base = arena_printf(&g->arena, "%s.length", cf_stem(n));
    Value *c = base ? cf_const(g, n, base, DT_INT64, 0, n->inputs[0]->n_elems, d) : NULL;
    n->dead = c && cf_bind(g, cx, n, c, n->outputs[0], d);
    return n->dead;
}

/* --- SplitToSequence ---------------------------------------------------------------------- */

/* The part lengths: the split input (a scalar chunk size, or a list of lengths summing to
 * len), else parts of 1.  *sizes is malloc'ed; *count gets their number. */
static bool split_sizes(const Node *n, int64_t len, int64_t **sizes, int64_t *count, Diag *d) {
    const Value *sp = op_input(n, 1);
    int64_t chunk = 1, given = 0;
    int64_t *v = NULL;
    if (sp) {
        if (!op_require_const(n, 1, d)) return false;
        if (!dtype_is_integer(sp->dtype) || sp->rank > 1) {
            diag_error(d, n, "split '%s' must be an integer scalar or 1-D tensor", sp->name);
            return false;
        }
        given = ir_numel(sp);
        if (sp->rank == 0) chunk = ir_const_get_i64(sp, 0);
        if (sp->rank == 0 && chunk <= 0) {
            diag_error(d, n, "split %lld must be positive", (long long)chunk);
            return false;
        }
    }
    int64_t parts = sp && sp->rank == 1 ? given : len / chunk + (len % chunk != 0);
    if (parts > IR_MAX_LIST) {
        diag_error(d, n, "splitting into %lld parts: a sequence holds at most %d", (long long)parts,
                   (int)IR_MAX_LIST);
        return false;
    }
    v = calloc((size_t)parts + 1, sizeof *v);
    if (!v) return cf_oom(n, d);
    int64_t sum = 0;
    for (int64_t k = 0; k < parts; k++) {
        v[k] = sp && sp->rank == 1 ? ir_const_get_i64(sp, k)
                                   : (k + 1 < parts ? chunk : len - chunk * (parts - 1));
        if (v[k] < 0 || v[k] > len - sum) {
            diag_error(d, n, "split lengths must be non-negative and sum to %lld, the size of "
                       "the axis", (long long)len);
            free(v);
            return false;
        }
        sum += v[k];
    }
    if (sum != len) {
        diag_error(d, n, "split lengths sum to %lld, the axis has %lld", (long long)sum,
                   (long long)len);
        free(v);
        return false;
    }
    *sizes = v;
    *count = parts;
    return true;
}

/* parts[k] = Squeeze(parts[k], axis), for keepdims=0. */
static bool split_squeeze(Graph *g, OpExpandCtx *cx, Node *n, Value **parts, int64_t count,
                          int axis, Diag *d) {
    const int64_t ax = axis;
    for (int64_t k = 0; k < count; k++) {
        const char *base = arena_printf(&g->arena, "%s.squeezed%lld", cf_stem(n), (long long)k);
        const char *aname = base ? arena_printf(&g->arena, "%s.axes", base) : NULL;
        Value *in[2] = { parts[k], aname ? cf_const_ints(g, n, aname, &ax, 1, d) : NULL };
        parts[k] = in[1] ? cf_op1(g, cx, n, "Squeeze", in, 2, NULL, 0, NULL, base, d) : NULL;
        if (!parts[k]) return false;
    }
    return true;
}

static bool split_to_seq_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    if (!seq_require_kind(n, 0, VK_TENSOR, d)) return false;
    Value *x = n->inputs[0];
    int axis;
    if (x->rank < 1) {
        diag_error(d, n, "input '%s' is a scalar: there is no axis to split", x->name);
        return false;
    }
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), x->rank, false, &axis, d)) return false;
    int64_t keepdims = ir_attr_int(n, "keepdims", 1);
    if (keepdims != 0 && keepdims != 1) {
        diag_error(d, n, "attribute keepdims is %lld, it must be 0 or 1", (long long)keepdims);
        return false;
    }
    int64_t *sizes = NULL, count = 0;
    if (!split_sizes(n, x->dims[axis], &sizes, &count, d)) return false;
    Value **parts = calloc((size_t)count + 1, sizeof *parts);
    bool ok = parts != NULL || cf_oom(n, d);
    for (int64_t k = 0; k < count && ok; k++) {
        /* "[k]" is left to the copies of a graph output (seq_flatten_outputs) */
        const char *base = arena_printf(&g->arena, "%s.part%lld", cf_stem(n), (long long)k);
        ok = base && (parts[k] = cf_value(g, n, base, d)) != NULL;
    }
    if (ok && count > 0) {
        const char *sname = arena_printf(&g->arena, "%s.split", cf_stem(n));
        Value *in[2] = { x, sname ? cf_const_ints(g, n, sname, sizes, count, d) : NULL };
        ok = in[1] && cf_opn(g, cx, n, "Split", in, 2, "axis", axis, parts, (int)count, NULL, d);
    }
    /* keepdims applies only when split is not given (parts of length 1) */
    if (ok && !keepdims && !op_input(n, 1)) ok = split_squeeze(g, cx, n, parts, count, axis, d);
    ok = ok && seq_set_output(g, n, 0, x->dtype, parts, count, d);
    free(parts);
    free(sizes);
    n->dead = ok;
    return ok;
}

/* --- ConcatFromSequence ------------------------------------------------------------------- */

static bool concat_from_seq_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    if (!seq_require_kind(n, 0, VK_SEQUENCE, d)) return false;
    const Value *s = n->inputs[0];
    const Attr *a = ir_attr(n, "axis");
    int64_t new_axis = ir_attr_int(n, "new_axis", 0);
    if (!a || a->type != ATTR_INT) {
        diag_error(d, n, "attribute axis is required (an integer)");
        return false;
    }
    if (new_axis != 0 && new_axis != 1) {
        diag_error(d, n, "attribute new_axis is %lld, it must be 0 or 1", (long long)new_axis);
        return false;
    }
    if (s->n_elems == 0) {
        diag_error(d, n, "the sequence '%s' is empty: there is nothing to concatenate (the "
                   "output's shape is unknown)", s->name);
        return false;
    }
    int rank = s->elems[0]->rank, axis;
    if (!ou_axis(n, "axis", a->i, rank, new_axis == 1, &axis, d)) return false;
    Value **parts = calloc((size_t)s->n_elems, sizeof *parts);
    if (!parts) return cf_oom(n, d);
    bool ok = true;
    const int64_t ax = axis;
    for (int k = 0; k < s->n_elems && ok; k++) {
        parts[k] = s->elems[k];
        if (!new_axis) continue;
        const char *base = arena_printf(&g->arena, "%s.part%d", cf_stem(n), k);
        const char *aname = base ? arena_printf(&g->arena, "%s.axes", base) : NULL;
        Value *in[2] = { parts[k], aname ? cf_const_ints(g, n, aname, &ax, 1, d) : NULL };
        parts[k] = in[1] ? cf_op1(g, cx, n, "Unsqueeze", in, 2, NULL, 0, NULL, base, d) : NULL;
        ok = parts[k] != NULL;
    }
    ok = ok && cf_op1(g, cx, n, "Concat", parts, s->n_elems, "axis", axis, n->outputs[0], NULL,
                      d);
    free(parts);
    n->dead = ok;
    return ok;
}

/* --- SequenceMap -------------------------------------------------------------------------- */

/* The body run once per element: body input j is element t of input j when that is a
 * sequence, else input j itself; body output k's values form output sequence k. */
static bool seq_map_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    const Subgraph *body = cf_body(n, "body", d);
    if (!body || !seq_require_kind(n, 0, VK_SEQUENCE, d)) return false;
    int M = cf_declared_inputs(n), K = n->n_outputs;
    int64_t len = n->inputs[0]->n_elems;
    if (body->n_inputs != M || body->n_outputs != K) {
        diag_error(d, n, "the body has %d inputs and %d outputs, the node %d and %d",
                   body->n_inputs, body->n_outputs, M, K);
        return false;
    }
    for (int j = 1; j < M; j++) {
        const Value *v = n->inputs[j];
        if (!v) {
            diag_error(d, n, "input %d is missing", j);
            return false;
        }
        if (v->kind == VK_OPTIONAL) {
            diag_error(d, n, "input %d '%s' is an optional: SequenceMap takes sequences and "
                       "tensors", j, v->name);
            return false;
        }
        if (v->kind == VK_TENSOR && !ou_require_typed(n, j, d)) return false;
        if (v->kind == VK_SEQUENCE && v->n_elems != len) {
            diag_error(d, n, "input %d '%s' has %d elements, input 0 has %lld", j, v->name,
                       v->n_elems, (long long)len);
            return false;
        }
    }
    /* binds[M], outs[K], then per[k * len + t] */
    Value **binds = calloc((size_t)(M + K) + (size_t)K * (size_t)len + 1, sizeof *binds);
    if (!binds) return cf_oom(n, d);
    Value **outs = binds + M, **per = outs + K;
    bool ok = true;
    for (int64_t t = 0; t < len && ok; t++) {
        for (int j = 0; j < M; j++) {
            Value *v = n->inputs[j];
            binds[j] = v->kind == VK_SEQUENCE ? v->elems[t] : v;
        }
        const char *tag = cf_tag(g, n, "map", t);
        ok = tag && cf_instantiate(g, cx, n, body, binds, tag, outs, d);
        for (int k = 0; k < K && ok; k++) {
            if (outs[k]->kind != VK_TENSOR) {
                diag_error(d, n, "body output %d is a %s: SequenceMap's body returns tensors",
                           k, seq_kind_name(outs[k]->kind));
                ok = false;
            }
            per[k * len + t] = outs[k];
        }
    }
    for (int k = 0; k < K && ok; k++)
        ok = seq_set_output(g, n, k, len ? per[k * len]->dtype : DT_UNDEFINED, per + k * len,
                            len, d);
    free(binds);
    n->dead = ok;
    return ok;
}

/* --- lists outside the sequence ops (called by infer.c) ----------------------------------- */

bool seq_pass_through(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    if (strcmp(n->op_type, "Identity") == 0 && n->n_inputs == 1 && n->n_outputs == 1) {
        n->dead = cf_bind(g, cx, n, n->inputs[0], n->outputs[0], d);
        return n->dead;
    }
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        if (v && v->kind != VK_TENSOR) {
            diag_error(d, n, "input %d '%s' is a %s: %s takes tensors only", k, v->name,
                       seq_kind_name(v->kind), n->op_type);
            return false;
        }
    }
    BUG("seq_pass_through on node '%s' that reads no list", n->name);
}

/* The elements of list v, each replaced by a copy named "<base>[i]" (an optional's
 * sequence becomes a new list of copies, named after the optional too). */
static bool flatten_copies(Graph *g, OpExpandCtx *cx, const Node *owner, Value *v,
                           const char *base, Diag *d) {
    Value **copies = calloc((size_t)v->n_elems + 1, sizeof *copies);
    if (!copies) return cf_oom(owner, d);
    bool ok = true;
    for (int i = 0; i < v->n_elems && ok; i++) {
        Value *e = v->elems[i];
        if (e->kind != VK_TENSOR) {
            Value *inner = cf_value(g, owner, base, d);
            ok = inner && ir_list_set(g, inner, e->kind, e->elems, e->n_elems, d) &&
                 flatten_copies(g, cx, owner, inner, base, d);
            if (inner) inner->dtype = e->dtype;
            copies[i] = inner;
            continue;
        }
        const char *name = arena_printf(&g->arena, "%s[%d]", base, i);
        copies[i] = name ? cf_op1(g, cx, owner, "Identity", &e, 1, NULL, 0, NULL, name, d)
                         : NULL;
        ok = copies[i] != NULL;
    }
    ok = ok && ir_list_set(g, v, v->kind, copies, v->n_elems, d);
    free(copies);
    return ok;
}

bool seq_flatten_outputs(Graph *g, OpExpandCtx *cx, Diag *d) {
    bool any = false;
    for (int i = 0; i < g->n_outputs; i++) {
        Value *v = g->outputs[i];
        if (v->kind == VK_TENSOR) continue;
        if (!v->list_known) {
            diag_error(d, NULL, "output '%s' is a %s whose contents are not known at compile "
                       "time", v->name, seq_kind_name(v->kind));
            return false;
        }
        /* copies: every tensor returned is a distinct value computed by the program, even
         * when a list holds a graph input, a constant or one value twice */
        Node output = { .name = v->name, .op_type = "output", .domain = "" };
        const Node *owner = v->producer ? v->producer : &output;
        if (!flatten_copies(g, cx, owner, v, v->name, d)) return false;
        any = true;
    }
    return !any || ir_graph_flatten_io(g, true, d);
}

/* --- the ops ------------------------------------------------------------------------------ */

enum { SEQ_MANY = INT32_MAX };

const OpDef op_sequenceempty = {
    .name = "SequenceEmpty", .domain = "", .since = 11, .min_inputs = 0, .max_inputs = 0,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = seq_empty_expand,
};

const OpDef op_sequenceconstruct = {
    .name = "SequenceConstruct", .domain = "", .since = 11, .min_inputs = 1,
    .max_inputs = SEQ_MANY, .min_outputs = 1, .max_outputs = 1, .infer = seq_infer,
    .expand = seq_construct_expand,
};

const OpDef op_sequenceat = {
    .name = "SequenceAt", .domain = "", .since = 11, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = seq_at_expand,
};

const OpDef op_sequenceinsert = {
    .name = "SequenceInsert", .domain = "", .since = 11, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = seq_insert_expand,
};

const OpDef op_sequenceerase = {
    .name = "SequenceErase", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = seq_erase_expand,
};

const OpDef op_sequencelength = {
    .name = "SequenceLength", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = seq_length_expand,
};

const OpDef op_splittosequence = {
    .name = "SplitToSequence", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = split_to_seq_expand,
};

const OpDef op_concatfromsequence = {
    .name = "ConcatFromSequence", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = seq_infer, .expand = concat_from_seq_expand,
};

/* Inputs: the declared ones plus the body's captures, any number. */
const OpDef op_sequencemap = {
    .name = "SequenceMap", .domain = "", .since = 17, .min_inputs = 1, .max_inputs = SEQ_MANY,
    .min_outputs = 1, .max_outputs = SEQ_MANY, .infer = seq_infer, .expand = seq_map_expand,
};
