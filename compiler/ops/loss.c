/* loss.c: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
 *
 * Both view their scores as [N][C][D] (D the product of the dims after the class axis)
 * and their targets as [N][D].  For each (n, j) with target t:
 *   NLL:  loss = -x[n][t][j] * w[t]
 *   SCE:  loss = -log_softmax(x[n][.][j])[t] * w[t], and its optional second output is
 *         the whole log_softmax (x - max - log(sum(exp(x - max))), as LogSoftmax);
 * w the optional weight per class (1 without).  A target equal to ignore_index (when the
 * attribute is given) gives a loss of 0 and counts no weight; any other target outside
 * [0, C) makes the generated function return 1 (and is refused when folding).  The
 * reduction attribute keeps the losses ("none": the targets' shape), sums them ("sum")
 * or divides the sum by the weights counted ("mean", the default): scalars then.  Sums
 * are kept in double. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op_util.h"

typedef enum LossReduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } LossReduction;

typedef struct LossView {
    int64_t N, C, D;
    LossReduction reduction;
    bool has_ignore;
    int64_t ignore;
    bool sce;                   /* SoftmaxCrossEntropyLoss */
} LossView;

static bool loss_view(const Node *n, LossView *v, Diag *d) {
    const Value *x = n->inputs[0];
    const char *r = ir_attr_string(n, "reduction", "mean");
    if (strcmp(r, "none") == 0) v->reduction = LOSS_NONE;
    else if (strcmp(r, "sum") == 0) v->reduction = LOSS_SUM;
    else if (strcmp(r, "mean") == 0) v->reduction = LOSS_MEAN;
    else {
        diag_error(d, n, "reduction must be none, sum or mean");
        return false;
    }
    v->has_ignore = ir_attr(n, "ignore_index") != NULL;
    v->ignore = ir_attr_int(n, "ignore_index", 0);
    v->sce = strcmp(n->op_type, "SoftmaxCrossEntropyLoss") == 0;
    ou_axis_split(x, 1, &v->N, &v->C, &v->D);   /* the class axis */
    return true;
}

static bool loss_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *t = n->inputs[1], *w = op_input(n, 2);
    if (x->dtype != DT_FLOAT && x->dtype != DT_DOUBLE) {
        diag_error(d, n, "element type %s is not supported (float or double)",
                   dtype_name(x->dtype));
        return false;
    }
    if (x->rank < 2) {
        diag_error(d, n, "input '%s' has rank %d, at least 2 ([N][C]...) needed", x->name,
                   x->rank);
        return false;
    }
    if (t->dtype != DT_INT32 && t->dtype != DT_INT64) {
        diag_error(d, n, "target '%s' is %s, not int32 or int64", t->name, dtype_name(t->dtype));
        return false;
    }
    bool same = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int k = 1; same && k < t->rank; k++) same = t->dims[k] == x->dims[k + 1];
    if (!same) {
        char sx[128], st[128];
        diag_error(d, n, "target %s does not match input %s without its class axis",
                   ou_shape(st, sizeof st, t), ou_shape(sx, sizeof sx, x));
        return false;
    }
    if (w && !op_require_shape(n, 2, d)) return false;
    if (w && (w->dtype != x->dtype || w->rank != 1 || w->dims[0] != x->dims[1])) {
        diag_error(d, n, "weight '%s' must be a %s vector of the %lld classes", w->name,
                   dtype_name(x->dtype), (long long)x->dims[1]);
        return false;
    }
    LossView v;
    if (!loss_view(n, &v, d)) return false;
    if (v.reduction == LOSS_NONE) {
        if (!ou_set_output(n, n->outputs[0], x->dtype, t->rank, t->dims, d)) return false;
    } else if (!ou_set_output(n, n->outputs[0], x->dtype, 0, NULL, d)) {
        return false;
    }
    if (n->n_outputs > 1 && n->outputs[1])
        return ou_set_output(n, n->outputs[1], x->dtype, x->rank, x->dims, d);
    return true;
}

static bool loss_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *t = n->inputs[1], *w = op_input(n, 2);
    Value *y = n->outputs[0], *lp = n->n_outputs > 1 ? n->outputs[1] : NULL;
    LossView v;
    if (!loss_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    if (lp && !ir_value_alloc_data(g, lp, d)) return false;
    const bool fl = x->dtype == DT_FLOAT;
    double total = 0, wsum = 0;
    for (int64_t i = 0; i < v.N; i++) {
        for (int64_t j = 0; j < v.D; j++) {
            const int64_t row = i * v.C * v.D + j;   /* element c at row + c * D */
            double shift = 0;
            if (v.sce) {
                double mx = ou_get_f64(x, row), sum = 0;
                for (int64_t c = 1; c < v.C; c++) mx = fmax(mx, ou_get_f64(x, row + c * v.D));
                for (int64_t c = 0; c < v.C; c++) {
                    const double a = ou_get_f64(x, row + c * v.D) - mx;
                    sum += fl ? (double)onnxcc_expf((float)a) : exp(a);
                }
                shift = mx + log(sum);
                for (int64_t c = 0; lp && c < v.C; c++)
                    ou_set_f64(lp, row + c * v.D, ou_get_f64(x, row + c * v.D) - shift);
            }
            const int64_t tk = ir_const_get_i64(t, i * v.D + j);
            double loss = 0, wt = 0;
            if (!(v.has_ignore && tk == v.ignore)) {
                if (tk < 0 || tk >= v.C) {
                    diag_error(d, n, "target %lld is out of range for %lld classes",
                               (long long)tk, (long long)v.C);
                    return false;
                }
                wt = w ? ou_get_f64(w, tk) : 1.0;
                loss = -(ou_get_f64(x, row + tk * v.D) - shift) * wt;
            }
            if (v.reduction == LOSS_NONE) ou_set_f64(y, i * v.D + j, loss);
            total += loss;
            wsum += wt;
        }
    }
    if (v.reduction == LOSS_SUM) ou_set_f64(y, 0, total);
    if (v.reduction == LOSS_MEAN) ou_set_f64(y, 0, total / wsum);
    return true;
}

static bool loss_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *w = op_input(n, 2);
    const bool lp = n->n_outputs > 1 && n->outputs[1];
    LossView v;
    if (!loss_view(n, &v, d)) return false;
    const char *T = dtype_ctype(x->dtype);
    const bool fl = x->dtype == DT_FLOAT;
    static const char *const names[] = {"none", "sum", "mean"};
    char sx[128], lit[40];
    emit_line(e, "/* %s (reduction %s) of %s as [%lld][%lld][%lld] */", n->op_type,
              names[v.reduction], ou_shape(sx, sizeof sx, x), (long long)v.N, (long long)v.C,
              (long long)v.D);
    if (v.reduction != LOSS_NONE) emit_line(e, "double total = 0, wsum = 0;");
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)v.N);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)v.D);
    emit_line(e, "const %s *xr = x0 + n * %lld + j;   /* class c at xr[c * %lld] */", T,
              (long long)(v.C * v.D), (long long)v.D);
    if (v.sce) {
        emit_line(e, "%s mx = xr[0];", T);
        emit_line(e, "for (size_t c = 1; c < %lld; c++) mx = xr[c * %lld] > mx ? "
                  "xr[c * %lld] : mx;", (long long)v.C, (long long)v.D, (long long)v.D);
        emit_line(e, "%s sum = 0;", T);
        emit_line(e, "for (size_t c = 0; c < %lld; c++) sum += %s(xr[c * %lld] - mx);",
                  (long long)v.C, fl ? "onnxcc_expf" : "exp", (long long)v.D);
        emit_line(e, "const %s shift = mx + %s(sum);   /* log_softmax = x - shift */", T,
                  fl ? "logf" : "log");
        if (lp)
            emit_line(e, "for (size_t c = 0; c < %lld; c++) y1[n * %lld + j + c * %lld] = "
                      "xr[c * %lld] - shift;", (long long)v.C, (long long)(v.C * v.D),
                      (long long)v.D, (long long)v.D);
    }
    emit_line(e, "const int64_t t = x1[n * %lld + j];", (long long)v.D);
    if (v.has_ignore) {
        emit_open(e, "if (t == %s)", c_int64(lit, (long long)v.ignore));
        if (v.reduction == LOSS_NONE) emit_line(e, "y0[n * %lld + j] = 0;", (long long)v.D);
        emit_line(e, "continue;   /* ignore_index: no loss, no weight */");
        emit_close(e);
    }
    emit_line(e, "if (t < 0 || t >= %lld) return 1; /* target out of range */", (long long)v.C);
    emit_line(e, "const %s w = %s;", T, w ? "x2[t]" : "1");
    emit_line(e, "const %s loss = -(xr[(size_t)t * %lld]%s) * w;", T, (long long)v.D,
              v.sce ? " - shift" : "");
    if (v.reduction == LOSS_NONE) {
        emit_line(e, "y0[n * %lld + j] = loss;", (long long)v.D);
    } else {
        emit_line(e, "total += loss;");
        emit_line(e, "wsum += w;");
    }
    emit_close(e);
    emit_close(e);
    if (v.reduction == LOSS_SUM) emit_line(e, "y0[0] = (%s)total;", T);
    if (v.reduction == LOSS_MEAN) emit_line(e, "y0[0] = (%s)(total / wsum);", T);
    if (v.reduction == LOSS_SUM) emit_line(e, "(void)wsum;");
    return true;   /* the backend adds the final `return 0;` */
}

const OpDef op_negativeloglikelihoodloss = {
    .name = "NegativeLogLikelihoodLoss", .domain = "", .since = 12, .min_inputs = 2,
    .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .infer = loss_infer,
    .fold = loss_fold, .emit = loss_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};

const OpDef op_softmaxcrossentropyloss = {
    .name = "SoftmaxCrossEntropyLoss", .domain = "", .since = 12, .min_inputs = 2,
    .max_inputs = 3, .min_outputs = 1, .max_outputs = 2, .infer = loss_infer,
    .fold = loss_fold, .emit = loss_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
