/* training.c: the optimisers of the ai.onnx.preview.training domain, Momentum, Adagrad
 * and Adam: one step of gradient descent on several tensors at once.
 *
 * Inputs: R (learning rate, a float/double scalar), T (update count, an int64 scalar),
 * then n tensors X_1..X_n, their gradients G_1..G_n and each state kind in turn (Momentum:
 * V; Adagrad: H; Adam: V then H), all of one float type, X_i, G_i and the states of
 * group i of one shape.  Outputs: the n new X, then the n new values of each state kind.
 * Per element (g = norm_coefficient * x + gradient, the regularised gradient):
 *   Momentum  v' = alpha v + b g (b = beta, or 1 when T = 0);
 *             x' = x - R v' (standard) or x - R (g + alpha v') (nesterov)
 *   Adagrad   h' = h + g^2;  x' = x - R / (1 + T decay_factor) * g / (sqrt(h') + epsilon)
 *   Adam      v' = alpha v + (1 - alpha) g;  h' = beta h + (1 - beta) g^2;
 *             r = T > 0 ? R sqrt(1 - beta^T) / (1 - alpha^T) : R;
 *             x' = (1 - norm_coefficient_post) (x - r v' / (sqrt(h') + epsilon))
 * Everything is computed in double and rounded to the tensors' type once.  The scalar
 * factors depending on R and T are computed once per run, then one flat loop per group.
 * The per-element math is written once below for folding and once as emitted text. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

typedef enum TrKind { TR_MOMENTUM, TR_ADAGRAD, TR_ADAM } TrKind;
enum { TR_MAX_STATES = 2 };

/* The per-op constants (OpDef.data). */
typedef struct TrOp {
    TrKind kind;
    int states;                     /* state tensors per group */
    const char *state_names[TR_MAX_STATES];
} TrOp;

/* The attributes of one node. */
typedef struct TrAttrs {
    double alpha, beta, epsilon, decay, norm, norm_post;
    bool nesterov;
} TrAttrs;

static const DType tr_float_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };
static const DType tr_count_types[] = { DT_INT64, DT_UNDEFINED };

static const TrOp *tr_op(const Node *n) { return n->op->data; }

/* Number of groups n from the arity (false + error when it does not fit). */
static bool tr_groups(const Node *n, int *groups, Diag *d) {
    const TrOp *op = tr_op(n);
    const int per_in = 2 + op->states, per_out = 1 + op->states;
    const int tensors = n->n_inputs - 2;
    if (tensors < per_in || tensors % per_in != 0) {
        diag_error(d, n, "%s takes R, T and groups of %d tensors (X, G and %d state%s); it "
                   "has %d inputs", n->op_type, per_in, op->states, op->states > 1 ? "s" : "",
                   n->n_inputs);
        return false;
    }
    *groups = tensors / per_in;
    if (n->n_outputs != *groups * per_out) {
        diag_error(d, n, "%s with %d group%s has %d outputs, expected %d", n->op_type, *groups,
                   *groups > 1 ? "s" : "", n->n_outputs, *groups * per_out);
        return false;
    }
    return true;
}

/* Reads and checks the attributes (Momentum's are all required; the others default). */
static bool tr_attrs(const Node *n, TrAttrs *a, Diag *d) {
    const TrOp *op = tr_op(n);
    memset(a, 0, sizeof *a);
    if (op->kind == TR_MOMENTUM) {
        const char *req[] = { "alpha", "beta", "norm_coefficient", "mode" };
        for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
            if (!ir_attr(n, req[i])) {
                diag_error(d, n, "attribute '%s' is required", req[i]);
                return false;
            }
        const char *mode = ir_attr_string(n, "mode", "standard");
        if (strcmp(mode, "standard") != 0 && strcmp(mode, "nesterov") != 0) {
            char q[64];
            diag_error(d, n, "mode '%s' is not standard or nesterov",
                       diag_quote(q, sizeof q, mode));
            return false;
        }
        a->nesterov = strcmp(mode, "nesterov") == 0;
    }
    /* the spec's defaults, as the float32 values the schema stores */
    a->alpha = ir_attr_float(n, "alpha", 0.9f);
    a->beta = ir_attr_float(n, "beta", 0.999f);
    a->epsilon = ir_attr_float(n, "epsilon", 1e-6f);
    a->decay = ir_attr_float(n, "decay_factor", 0.0f);
    a->norm = ir_attr_float(n, "norm_coefficient", 0.0f);
    a->norm_post = ir_attr_float(n, "norm_coefficient_post", 0.0f);
    return true;
}

/* Input index of group i's tensor `slot` (0 = X, 1 = G, 2.. = states). */
static int tr_in(int groups, int slot, int i) { return 2 + slot * groups + i; }
/* Output index of group i's result `slot` (0 = X', 1.. = states'). */
static int tr_out(int groups, int slot, int i) { return slot * groups + i; }

static bool tr_scalar(const Node *n, int i, const DType *types, Diag *d) {
    if (!ou_require_typed(n, i, d) || !ou_check_dtype(n, i, types, d)) return false;
    if (ir_numel(n->inputs[i]) != 1) {
        diag_error(d, n, "input %d ('%s') must be a scalar, it has %lld elements", i,
                   n->inputs[i]->name, (long long)ir_numel(n->inputs[i]));
        return false;
    }
    return true;
}

static bool tr_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    const TrOp *op = tr_op(n);
    int groups;
    TrAttrs a;
    if (!tr_groups(n, &groups, d) || !tr_attrs(n, &a, d)) return false;
    if (!tr_scalar(n, 0, tr_float_types, d) || !tr_scalar(n, 1, tr_count_types, d))
        return false;
    for (int i = 0; i < groups; i++) {
        const Value *x = op_input(n, tr_in(groups, 0, i));
        if (!x) {
            diag_error(d, n, "input X of group %d is missing", i);
            return false;
        }
        for (int slot = 0; slot < 2 + op->states; slot++) {
            const int k = tr_in(groups, slot, i);
            if (!op_input(n, k)) {
                diag_error(d, n, "input %d of group %d is missing", k, i);
                return false;
            }
            if (!ou_require_typed(n, k, d) || !ou_check_dtype(n, k, tr_float_types, d))
                return false;
            const Value *v = n->inputs[k];
            if (v->dtype != x->dtype || !ir_same_shape(v, x)) {
                char s1[128], s2[128];
                diag_error(d, n, "input '%s' is %s, group %d's X '%s' is %s", v->name,
                           ou_shape(s1, sizeof s1, v), i, x->name, ou_shape(s2, sizeof s2, x));
                return false;
            }
        }
        for (int slot = 0; slot < 1 + op->states; slot++) {
            Value *y = n->outputs[tr_out(groups, slot, i)];
            if (y && !ou_set_output(n, y, x->dtype, x->rank, x->dims, d)) return false;
        }
    }
    return true;
}

/* The factors that depend on R and T only. */
typedef struct TrScale {
    double r;        /* learning rate, adjusted (Adagrad's decay, Adam's bias correction) */
    double beta;     /* Momentum: the gradient's coefficient */
} TrScale;

static TrScale tr_scale(const TrOp *op, const TrAttrs *a, double r, int64_t t) {
    TrScale s = { .r = r, .beta = 1.0 };
    switch (op->kind) {
    case TR_MOMENTUM: s.beta = t > 0 ? a->beta : 1.0; break;
    case TR_ADAGRAD: s.r = r / (1.0 + (double)t * a->decay); break;
    case TR_ADAM:
        if (t > 0) s.r = r * sqrt(1.0 - pow(a->beta, (double)t)) / (1.0 - pow(a->alpha, (double)t));
        break;
    }
    return s;
}

/* One element: x, g and the states st in; x' and st' out. */
static double tr_step(const TrOp *op, const TrAttrs *a, const TrScale *s, double x, double g,
                      const double *st, double *st_new) {
    const double gr = a->norm * x + g;
    switch (op->kind) {
    case TR_MOMENTUM:
        st_new[0] = a->alpha * st[0] + s->beta * gr;
        return a->nesterov ? x - s->r * (gr + a->alpha * st_new[0]) : x - s->r * st_new[0];
    case TR_ADAGRAD:
        st_new[0] = st[0] + gr * gr;
        return x - s->r * gr / (sqrt(st_new[0]) + a->epsilon);
    case TR_ADAM:
        st_new[0] = a->alpha * st[0] + (1.0 - a->alpha) * gr;
        st_new[1] = a->beta * st[1] + (1.0 - a->beta) * (gr * gr);
        return (1.0 - a->norm_post) * (x - s->r * st_new[0] / (sqrt(st_new[1]) + a->epsilon));
    }
    return x;
}

static bool tr_fold(Graph *g, Node *n, Diag *d) {
    const TrOp *op = tr_op(n);
    int groups;
    TrAttrs a;
    if (!tr_groups(n, &groups, d) || !tr_attrs(n, &a, d)) return false;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] && !ir_value_alloc_data(g, n->outputs[k], d)) return false;
    const TrScale s = tr_scale(op, &a, ou_get_f64(n->inputs[0], 0), ou_get_i64(n->inputs[1], 0));
    for (int i = 0; i < groups; i++) {
        const Value *x = n->inputs[tr_in(groups, 0, i)], *gv = n->inputs[tr_in(groups, 1, i)];
        for (int64_t e = 0; e < ir_numel(x); e++) {
            double st[TR_MAX_STATES] = { 0 }, st_new[TR_MAX_STATES] = { 0 };
            for (int k = 0; k < op->states; k++)
                st[k] = ou_get_f64(n->inputs[tr_in(groups, 2 + k, i)], e);
            const double xn = tr_step(op, &a, &s, ou_get_f64(x, e), ou_get_f64(gv, e), st, st_new);
            Value *y = n->outputs[tr_out(groups, 0, i)];
            if (y) ou_set_f64(y, e, xn);
            for (int k = 0; k < op->states; k++) {
                Value *ys = n->outputs[tr_out(groups, 1 + k, i)];
                if (ys) ou_set_f64(ys, e, st_new[k]);
            }
        }
    }
    return true;
}

/* `const double r = ...;` and the other per-run factors. */
static void tr_emit_scale(Emitter *e, const TrOp *op, const TrAttrs *a) {
    char l1[32], l2[32];
    emit_line(e, "const double rate = (double)x0[0];   /* R */");
    emit_line(e, "const int64_t t = x1[0];   /* T, the update count */");
    switch (op->kind) {
    case TR_MOMENTUM:
        emit_line(e, "const double r = rate;");
        emit_line(e, "const double beta = t > 0 ? %s : 1.0;   /* 1 at the first update */",
                  c_double(l1, a->beta));
        break;
    case TR_ADAGRAD:
        emit_line(e, "const double r = rate / (1.0 + (double)t * %s);   /* decayed */",
                  c_double(l1, a->decay));
        break;
    case TR_ADAM:
        emit_line(e, "/* bias correction of the moments after the first update */");
        emit_line(e, "const double r = t > 0 ? rate * sqrt(1.0 - pow(%s, (double)t)) / "
                  "(1.0 - pow(%s, (double)t)) : rate;", c_double(l1, a->beta),
                  c_double(l2, a->alpha));
        break;
    }
}

/* The loop over one group's elements. */
static void tr_emit_group(Emitter *e, const Node *n, const TrOp *op, const TrAttrs *a,
                          int groups, int i) {
    const Value *x = n->inputs[tr_in(groups, 0, i)];
    const char *T = dtype_ctype(x->dtype);
    char sx[128], l1[32], l2[32], l3[32];
    if (ir_numel(x) == 0) {   /* no loop: `i < 0` on a size_t draws a warning */
        emit_line(e, "/* group %d: %s, nothing to update */", i, ou_shape(sx, sizeof sx, x));
        for (int slot = 0; slot < 2 + op->states; slot++)
            emit_line(e, "(void)x%d;", tr_in(groups, slot, i));
        for (int slot = 0; slot < 1 + op->states; slot++)
            if (n->outputs[tr_out(groups, slot, i)])
                emit_line(e, "(void)y%d;", tr_out(groups, slot, i));
        return;
    }
    char states[64] = "";
    for (int k = 0; k < op->states; k++) {
        const size_t at = strlen(states);
        snprintf(states + at, sizeof states - at, ", %s x%d", op->state_names[k],
                 tr_in(groups, 2 + k, i));
    }
    emit_line(e, "/* group %d: X x%d, G x%d%s: %s */", i, tr_in(groups, 0, i),
              tr_in(groups, 1, i), states, ou_shape(sx, sizeof sx, x));
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(x));
    emit_line(e, "const double x = x%d[i];", tr_in(groups, 0, i));
    emit_line(e, "const double g = %s * x + x%d[i];   /* regularised gradient */",
              c_double(l1, a->norm), tr_in(groups, 1, i));
    const int sv = tr_in(groups, 2, i), sh = tr_in(groups, 3, i);
    switch (op->kind) {
    case TR_MOMENTUM:
        emit_line(e, "const double v = %s * x%d[i] + beta * g;", c_double(l1, a->alpha), sv);
        if (a->nesterov)
            emit_line(e, "const double xn = x - r * (g + %s * v);   /* nesterov */",
                      c_double(l1, a->alpha));
        else emit_line(e, "const double xn = x - r * v;");
        break;
    case TR_ADAGRAD:
        emit_line(e, "const double h = x%d[i] + g * g;", sv);
        emit_line(e, "const double xn = x - r * g / (sqrt(h) + %s);", c_double(l1, a->epsilon));
        break;
    case TR_ADAM:
        emit_line(e, "const double v = %s * x%d[i] + %s * g;", c_double(l1, a->alpha), sv,
                  c_double(l2, 1.0 - a->alpha));
        emit_line(e, "const double h = %s * x%d[i] + %s * (g * g);", c_double(l1, a->beta), sh,
                  c_double(l2, 1.0 - a->beta));
        emit_line(e, "const double xn = %s * (x - r * v / (sqrt(h) + %s));",
                  c_double(l1, 1.0 - a->norm_post), c_double(l3, a->epsilon));
        break;
    }
    const char *state_var[TR_MAX_STATES] = { op->kind == TR_ADAGRAD ? "h" : "v", "h" };
    if (n->outputs[tr_out(groups, 0, i)])
        emit_line(e, "y%d[i] = (%s)xn;", tr_out(groups, 0, i), T);
    else emit_line(e, "(void)xn;");
    for (int k = 0; k < op->states; k++) {
        if (n->outputs[tr_out(groups, 1 + k, i)])
            emit_line(e, "y%d[i] = (%s)%s;", tr_out(groups, 1 + k, i), T, state_var[k]);
        else emit_line(e, "(void)%s;", state_var[k]);
    }
    emit_close(e);
}

static bool tr_emit(Emitter *e, const Node *n, Diag *d) {
    const TrOp *op = tr_op(n);
    int groups;
    TrAttrs a;
    if (!tr_groups(n, &groups, d) || !tr_attrs(n, &a, d)) return false;
    emit_line(e, "/* %s%s: %d group%s of (X, G, %s%s) */", n->op_type,
              op->kind == TR_MOMENTUM ? (a.nesterov ? " (nesterov)" : " (standard)") : "",
              groups, groups > 1 ? "s" : "", op->state_names[0],
              op->states > 1 ? ", H" : "");
    tr_emit_scale(e, op, &a);
    for (int i = 0; i < groups; i++) tr_emit_group(e, n, op, &a, groups, i);
    return true;
}

static const TrOp tr_momentum = { TR_MOMENTUM, 1, { "V", NULL } };
static const TrOp tr_adagrad = { TR_ADAGRAD, 1, { "H", NULL } };
static const TrOp tr_adam = { TR_ADAM, 2, { "V", "H" } };

/* Arity bounds: the exact grouping is checked by tr_groups. */
enum { TR_MAX_ARGS = 1 << 14 };

#define TR_OPDEF(NAME, DATA, MIN_IN, MIN_OUT)                                                 \
    {                                                                                         \
        .name = NAME, .domain = "ai.onnx.preview.training", .since = 1,                      \
        .min_inputs = MIN_IN, .max_inputs = TR_MAX_ARGS, .min_outputs = MIN_OUT,             \
        .max_outputs = TR_MAX_ARGS, .infer = tr_infer, .fold = tr_fold, .emit = tr_emit,      \
        .memory = OP_MEMORY_SEPARATE, .data = &DATA,                                          \
    }

const OpDef op_momentum = TR_OPDEF("Momentum", tr_momentum, 5, 2);
const OpDef op_adagrad = TR_OPDEF("Adagrad", tr_adagrad, 5, 2);
const OpDef op_adam = TR_OPDEF("Adam", tr_adam, 6, 3);
