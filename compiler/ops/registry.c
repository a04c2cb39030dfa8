/* registry.c: the table of every OpDef, expanded from ops.def. */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

#define OP(name) extern const OpDef op_##name;
#include "ops/ops.def"
#undef OP

const OpDef *const op_all[] = {
#define OP(name) &op_##name,
#include "ops/ops.def"
#undef OP
};
const int op_count = (int)(sizeof op_all / sizeof op_all[0]);

const OpDef *op_find(const char *domain, const char *op_type) {
    /* "ai.onnx" is the same domain as "". */
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (int i = 0; i < op_count; i++)
        if (strcmp(op_all[i]->name, op_type) == 0 && strcmp(op_all[i]->domain, domain) == 0)
            return op_all[i];
    return NULL;
}

bool op_check_arity(const Node *n, Diag *d) {
    const OpDef *op = n->op;
    int present_out = 0;
    for (int i = 0; i < n->n_outputs; i++) present_out += n->outputs[i] != NULL;
    if (n->n_inputs < op->min_inputs || n->n_inputs > op->max_inputs) {
        diag_error(d, n, "%d inputs, expected %d to %d", n->n_inputs, op->min_inputs,
                   op->max_inputs);
        return false;
    }
    for (int i = 0; i < op->min_inputs; i++) {
        if (!n->inputs[i]) {
            diag_error(d, n, "required input %d is missing", i);
            return false;
        }
    }
    if (n->n_outputs < op->min_outputs || n->n_outputs > op->max_outputs || present_out == 0) {
        diag_error(d, n, "%d outputs, expected %d to %d", n->n_outputs, op->min_outputs,
                   op->max_outputs);
        return false;
    }
    return true;
}

bool op_require_shape(const Node *n, int i, Diag *d) {
    const Value *v = op_input(n, i);
    if (!v) {
        diag_error(d, n, "input %d is missing", i);
        return false;
    }
    if (!ir_value_shape_known(v) || v->dtype == DT_UNDEFINED) {
        diag_error(d, n, "shape of input %d '%s' is not known at compile time", i, v->name);
        return false;
    }
    return true;
}

/* Marks the graph inputs v is computed from (v itself if it is one) as needed at compile
 * time (Value.needs_const, which also marks the values visited); walks the producers
 * iteratively, at most a few thousand values (an input beyond that stays unmarked: the
 * error stands). */
static void mark_needed_inputs(Value *v) {
    enum { MAX_WALK = 4096 };
    Value **stack = malloc(MAX_WALK * sizeof *stack);
    if (!stack) return;
    int top = 0;
    if (!v->needs_const) stack[top++] = v, v->needs_const = true;
    while (top > 0) {
        const Value *u = stack[--top];
        const Node *p = u->producer;
        for (int k = 0; p && k < p->n_inputs; k++) {
            Value *w = p->inputs[k];
            if (!w || w->data || w->needs_const || top == MAX_WALK) continue;
            w->needs_const = true;
            stack[top++] = w;
        }
    }
    free(stack);
}

bool op_require_const(const Node *n, int i, Diag *d) {
    Value *v = op_input(n, i);
    if (!op_require_shape(n, i, d)) return false;
    if (!v->data) {
        mark_needed_inputs(v);
        diag_error(d, n, "input %d '%s' must be a constant (or computable at compile time)", i,
                   v->name);
        return false;
    }
    return true;
}

bool op_require_const_data(const Node *n, int i, Diag *d) {
    Value *v = op_input(n, i);
    if (!op_require_shape(n, i, d)) return false;
    if (!v->data) {
        mark_needed_inputs(v);
        diag_error(d, n, "output shape depends on the input's values; only constant inputs "
                   "are supported (input %d '%s' is computed at run time)", i, v->name);
        return false;
    }
    return true;
}

bool op_infer_like_input0(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    ir_value_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
    return true;
}
