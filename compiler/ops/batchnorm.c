/* batchnorm.c: BatchNormalization, inference and (opset 14 and later) training mode.
 *
 * y = (x - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1).  Usually the
 * fold_batchnorm pass merges it into the Conv or Gemm before it; this is the standalone
 * form.  With training_mode = 1 (opset 14+), mean and var are the batch's own statistics
 * per channel over N and the spatial positions (var the biased, population variance),
 * and the optional outputs 1 and 2 are the updated running statistics:
 * running = input * momentum + batch * (1 - momentum).  In inference momentum is ignored.
 * The training outputs of opsets 9 to 13 (running mean, var, saved mean, var) are not
 * supported.  Opsets before 9 read spatial: 0 means the parameters are per (channel,
 * spatial position), shaped [C, D1, ...].  Opsets before 7 say inference with
 * is_test = 1 (0, training, is the default and is rejected); consumed_inputs (opsets
 * 1-5) was a hint for in-place updates and is ignored.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ops/op_util.h"

enum {
    BN_TRAINING_SINCE = 14,      /* the opset that added training_mode */
    BN_TRAINING_OUTPUTS = 3,     /* y, running_mean, running_var (opset 14+) */
};
#define BN_DEFAULT_EPSILON 1e-5f
#define BN_DEFAULT_MOMENTUM 0.9f

/* Parameter values per sample (C, or C * D1 * ... when not spatial) and elements of x
 * that share one parameter value, consecutively (D1 * ..., or 1). */
static bool bn_params(const Node *n, int64_t *per_sample, int64_t *inner, Diag *d) {
    const Value *x = n->inputs[0];
    bool spatial = true;
    if (n->opset < 9) {
        int64_t sp = ir_attr_int(n, "spatial", 1);
        if (sp != 0 && sp != 1) {
            diag_error(d, n, "spatial must be 0 or 1, got %lld", (long long)sp);
            return false;
        }
        spatial = sp == 1;
    }
    int64_t C = x->dims[1], rest = 1;
    for (int i = 2; i < x->rank; i++) rest *= x->dims[i];   /* x's numel is known valid */
    *per_sample = spatial ? C : C * rest;
    *inner = spatial ? rest : 1;
    for (int i = 1; i < 5; i++) {
        const Value *p = n->inputs[i];
        if (ir_numel(p) != *per_sample || (spatial && p->rank != 1)) {
            char buf[128];
            diag_error(d, n, "input %d '%s' is %s, expected %lld values (one per channel%s)", i,
                       p->name, ir_shape_str(buf, sizeof buf, p), (long long)*per_sample,
                       spatial ? "" : " and position");
            return false;
        }
    }
    return true;
}

/* Whether n normalises with the batch's statistics (training_mode = 1, opset 14+). */
static bool bn_training(const Node *n) { return ir_attr_int(n, "training_mode", 0) != 0; }

/* Checks the mode attributes and which outputs exist for it. */
static bool bn_check_mode(const Node *n, Diag *d) {
    const int64_t tm = ir_attr_int(n, "training_mode", 0);
    if (tm != 0 && tm != 1) {
        diag_error(d, n, "training_mode must be 0 or 1, got %lld", (long long)tm);
        return false;
    }
    if (tm == 1 && n->opset < BN_TRAINING_SINCE) {
        diag_error(d, n, "attribute training_mode exists from opset %d (this node has opset %d)",
                   BN_TRAINING_SINCE, n->opset);
        return false;
    }
    if (n->opset < 7 && ir_attr_int(n, "is_test", 0) == 0) {
        diag_error(d, n, "training mode (is_test = 0, the default before opset 7) is not "
                   "supported");
        return false;
    }
    if (tm == 1) {
        if (n->n_outputs > BN_TRAINING_OUTPUTS) {
            diag_error(d, n, "%d outputs, expected at most %d (y, running_mean, running_var)",
                       n->n_outputs, BN_TRAINING_OUTPUTS);
            return false;
        }
        const float momentum = ir_attr_float(n, "momentum", BN_DEFAULT_MOMENTUM);
        if (!isfinite(momentum)) {
            diag_error(d, n, "momentum must be finite, got %g", (double)momentum);
            return false;
        }
        return true;
    }
    for (int i = 1; i < n->n_outputs; i++) {
        if (n->outputs[i]) {
            diag_error(d, n, "output %d '%s' exists only in training mode, which is %s", i,
                       n->outputs[i]->name, n->opset < BN_TRAINING_SINCE
                           ? "not supported before opset 14" : "off (training_mode = 0)");
            return false;
        }
    }
    return true;
}

static bool bn_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    for (int i = 0; i < 5; i++) {
        if (!op_require_shape(n, i, d)) return false;
        if (n->inputs[i]->dtype != DT_FLOAT) {
            diag_error(d, n, "only float32 is supported for BatchNormalization (input %d '%s' "
                       "is %s)", i, n->inputs[i]->name, dtype_name(n->inputs[i]->dtype));
            return false;
        }
    }
    if (!bn_check_mode(n, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < 2) {
        diag_error(d, n, "input X must have rank >= 2 (N, C, ...), got %d", x->rank);
        return false;
    }
    if (ir_numel(x) < 0) {
        diag_error(d, n, "input X's size overflows");
        return false;
    }
    float eps = ir_attr_float(n, "epsilon", BN_DEFAULT_EPSILON);
    if (!(eps >= 0.0f)) {
        diag_error(d, n, "epsilon must be >= 0, got %g", (double)eps);
        return false;
    }
    int64_t per, inner;
    if (!bn_params(n, &per, &inner, d)) return false;
    if (bn_training(n) && x->dims[0] * inner == 0) {
        diag_error(d, n, "training mode needs a non-empty batch (X has no element per channel)");
        return false;
    }
    ir_value_set_shape(n->outputs[0], DT_FLOAT, x->rank, x->dims);
    for (int i = 1; i < n->n_outputs; i++)   /* training mode: running mean and var */
        if (n->outputs[i]) ir_value_set_shape(n->outputs[i], DT_FLOAT, 1, &per);
    return true;
}

/* ---- folding --------------------------------------------------------------------------
 * The same arithmetic as the emitted code: statistics summed in double, the per-channel
 * multiplier and offset in float. */

/* Batch mean and (biased) variance of channel c, x seen as [N][per][inner]. */
static void bn_fold_stats(const float *x, int64_t N, int64_t per, int64_t inner, int64_t c,
                          double *mean, double *var) {
    const double count = (double)(N * inner);
    double sum = 0.0, sq = 0.0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t i = 0; i < inner; i++) sum += x[(b * per + c) * inner + i];
    *mean = sum / count;
    for (int64_t b = 0; b < N; b++) {
        for (int64_t i = 0; i < inner; i++) {
            const double dv = x[(b * per + c) * inner + i] - *mean;
            sq += dv * dv;
        }
    }
    *var = sq / count;
}

static bool bn_fold(Graph *g, Node *n, Diag *d) {
    int64_t per, inner;
    if (!bn_params(n, &per, &inner, d)) return false;
    for (int i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] && !ir_value_alloc_data(g, n->outputs[i], d)) return false;
    const Value *x = n->inputs[0];
    const float *xd = x->data, *scale = n->inputs[1]->data, *bias = n->inputs[2]->data;
    const float *mean_in = n->inputs[3]->data, *var_in = n->inputs[4]->data;
    const float eps = ir_attr_float(n, "epsilon", BN_DEFAULT_EPSILON);
    const float momentum = ir_attr_float(n, "momentum", BN_DEFAULT_MOMENTUM);
    const int64_t N = x->dims[0];
    float *y = n->outputs[0]->data;
    float *run_mean = n->n_outputs > 1 && n->outputs[1] ? n->outputs[1]->data : NULL;
    float *run_var = n->n_outputs > 2 && n->outputs[2] ? n->outputs[2]->data : NULL;
    for (int64_t c = 0; c < per; c++) {
        float mean = mean_in[c], var = var_in[c];
        if (bn_training(n)) {
            double bm, bv;
            bn_fold_stats(xd, N, per, inner, c, &bm, &bv);
            mean = (float)bm;
            var = (float)bv;
            if (run_mean) run_mean[c] = mean_in[c] * momentum + mean * (1.0f - momentum);
            if (run_var) run_var[c] = var_in[c] * momentum + var * (1.0f - momentum);
        }
        const float m = scale[c] / sqrtf(var + eps);
        const float a = bias[c] - mean * m;
        for (int64_t b = 0; b < N; b++) {
            const int64_t base = (b * per + c) * inner;
            for (int64_t i = 0; i < inner; i++) y[base + i] = xd[base + i] * m + a;
        }
    }
    return true;
}

/* ---- emitting ------------------------------------------------------------------------- */

/* Emits the declarations of `mean` and `var` of channel c: the batch statistics, summed
 * in double over x0 seen as [N][per][inner]. */
static void bn_emit_batch_stats(Emitter *e, long long N, long long per, long long inner) {
    char inv[32];
    emit_line(e, "/* batch statistics of channel c over %lld x %lld values */", N, inner);
    emit_line(e, "double sum = 0.0, sq = 0.0;");
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", N);
    emit_line(e, "const size_t base = (n * %lld + c) * %lld;", per, inner);
    emit_line(e, "for (size_t i = 0; i < %lld; i++) sum += x0[base + i];", inner);
    emit_close(e);
    emit_line(e, "const double bmean = sum / %s;", c_double(inv, (double)(N * inner)));
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", N);
    emit_line(e, "const size_t base = (n * %lld + c) * %lld;", per, inner);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", inner);
    emit_line(e, "const double dv = x0[base + i] - bmean;");
    emit_line(e, "sq += dv * dv;");
    emit_close(e);
    emit_close(e);
    emit_line(e, "const float mean = (float)bmean;");
    emit_line(e, "const float var = (float)(sq / %s);", inv);
}

static bool bn_emit(Emitter *e, const Node *n, Diag *d) {
    int64_t per, inner;
    if (!bn_params(n, &per, &inner, d)) return false;
    const Value *x = n->inputs[0];
    char feps[32], fmom[32], fkeep[32];
    const float eps = ir_attr_float(n, "epsilon", BN_DEFAULT_EPSILON);
    const float momentum = ir_attr_float(n, "momentum", BN_DEFAULT_MOMENTUM);
    const long long N = (long long)x->dims[0];
    const bool training = bn_training(n);
    /* x1 scale, x2 B, x3 mean, x4 var; in training y1 running mean, y2 running var. */
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)per);
    if (training) {
        bn_emit_batch_stats(e, N, (long long)per, (long long)inner);
        c_float(fmom, momentum);
        c_float(fkeep, 1.0f - momentum);
        if (n->n_outputs > 1 && n->outputs[1])
            emit_line(e, "y1[c] = x3[c] * %s + mean * %s;", fmom, fkeep);
        if (n->n_outputs > 2 && n->outputs[2])
            emit_line(e, "y2[c] = x4[c] * %s + var * %s;", fmom, fkeep);
    } else {
        emit_line(e, "const float mean = x3[c], var = x4[c];");
    }
    emit_line(e, "const float m = x1[c] / sqrtf(var + %s);", c_float(feps, eps));
    emit_line(e, "const float a = x2[c] - mean * m;");
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", N);
    emit_line(e, "const size_t base = (n * %lld + c) * %lld;", (long long)per, (long long)inner);
    emit_line(e, "for (size_t i = 0; i < %lld; i++) y0[base + i] = x0[base + i] * m + a;",
              (long long)inner);
    emit_close(e);
    return emit_close(e);
}

static int64_t bn_flops(const Node *n) {
    int64_t f;
    /* training adds the two passes of the statistics */
    return i64_mul(ir_numel(n->inputs[0]), bn_training(n) ? 5 : 2, &f) ? f : -1;
}

const OpDef op_batchnormalization = {
    .name = "BatchNormalization", .domain = "", .since = 1,
    .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 5,
    .infer = bn_infer, .fold = bn_fold, .emit = bn_emit, .flops = bn_flops,
    .memory = OP_MEMORY_SEPARATE,
};
