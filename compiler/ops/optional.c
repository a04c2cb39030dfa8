/* optional.c: Optional, OptionalHasElement, OptionalGetElement, resolved at compile time.
 *
 * An optional is a list value (Value.kind VK_OPTIONAL, see ir/graph.h) of no element
 * (empty) or one: a tensor or a sequence value.  Whether it holds a value is therefore
 * known at compile time, so the three ops are expanded during inference like the
 * sequence ops (sequence.c): Optional makes the list, OptionalHasElement becomes a
 * constant, OptionalGetElement passes the element on (a tensor through Identity).
 */
#include "ops/control_flow.h"
#include "ops/op_util.h"

/* Optional ops are expanded, never inferred (see infer.c). */
static bool opt_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    diag_error(d, n, "%s is expanded during inference; it cannot be inferred on its own",
               n->op_type);
    return false;
}

/* Optional(x): holds x (a tensor or a sequence); with no input, empty, of the type the
 * attribute `type` names. */
static bool optional_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    (void)cx;
    Value *x = op_input(n, 0), *y = n->outputs[0];
    if (!x && !ir_attr(n, "type")) {
        diag_error(d, n, "an Optional without an input needs the attribute type");
        return false;
    }
    if (x && x->kind == VK_OPTIONAL) {
        diag_error(d, n, "input '%s' is already an optional: optionals do not nest", x->name);
        return false;
    }
    if (x && x->kind == VK_TENSOR && !ou_require_typed(n, 0, d)) return false;
    if (!y) return n->dead = true;
    y->dtype = x ? x->dtype : DT_UNDEFINED;
    n->dead = ir_list_set(g, y, VK_OPTIONAL, &x, x ? 1 : 0, d);
    return n->dead;
}

/* OptionalHasElement(x): a constant; true for a tensor or a sequence (opset 18 accepts
 * those), false for a missing input or an empty optional. */
static bool has_element_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    const Value *x = op_input(n, 0);
    bool has = x && (x->kind != VK_OPTIONAL || x->n_elems > 0);
    const char *base = arena_printf(&g->arena, "%s.has", cf_stem(n));
    Value *c = base ? cf_const(g, n, base, DT_BOOL, 0, has, d) : NULL;
    n->dead = c && cf_bind(g, cx, n, c, n->outputs[0], d);
    return n->dead;
}

/* OptionalGetElement(x): the optional's element (an error when it is empty); a tensor or
 * a sequence given directly (opset 18) is passed on. */
static bool get_element_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    Value *x = op_input(n, 0);
    if (!x) {
        diag_error(d, n, "input 0 is missing");
        return false;
    }
    if (x->kind == VK_OPTIONAL) {
        if (x->n_elems == 0) {
            diag_error(d, n, "the optional '%s' is empty: it has no element to get", x->name);
            return false;
        }
        x = x->elems[0];
    }
    n->dead = cf_bind(g, cx, n, x, n->outputs[0], d);
    return n->dead;
}

const OpDef op_optional = {
    .name = "Optional", .domain = "", .since = 15, .min_inputs = 0, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = opt_infer, .expand = optional_expand,
};

const OpDef op_optionalhaselement = {
    .name = "OptionalHasElement", .domain = "", .since = 15, .min_inputs = 0,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .infer = opt_infer,
    .expand = has_element_expand,
};

const OpDef op_optionalgetelement = {
    .name = "OptionalGetElement", .domain = "", .since = 15, .min_inputs = 1,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .infer = opt_infer,
    .expand = get_element_expand,
};
