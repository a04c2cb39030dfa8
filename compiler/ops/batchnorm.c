/* batchnorm.c: BatchNormalization, inference only.
 *
 * y = (x - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1).  Usually the
 * fold_batchnorm pass merges it into the Conv or Gemm before it; this is the standalone
 * form.  momentum is ignored; training_mode = 1 and the training outputs (running mean,
 * var, saved mean, var) are rejected.  Opsets before 9 read spatial: 0 means the
 * parameters are per (channel, spatial position), shaped [C, D1, ...].  Opsets before 7
 * say inference with is_test = 1 (0, training, is the default and is rejected);
 * consumed_inputs (opsets 1-5) was a hint for in-place updates and is ignored.
 */
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ops/op.h"

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
    if (ir_attr_int(n, "training_mode", 0) != 0) {
        diag_error(d, n, "training mode is not supported");
        return false;
    }
    if (n->opset < 7 && ir_attr_int(n, "is_test", 0) == 0) {
        diag_error(d, n, "training mode (is_test = 0, the default before opset 7) is not "
                   "supported");
        return false;
    }
    for (int i = 1; i < n->n_outputs; i++) {
        if (n->outputs[i]) {
            diag_error(d, n, "output %d '%s' exists only in training mode, which is not "
                       "supported", i, n->outputs[i]->name);
            return false;
        }
    }
    const Value *x = n->inputs[0];
    if (x->rank < 2) {
        diag_error(d, n, "input X must have rank >= 2 (N, C, ...), got %d", x->rank);
        return false;
    }
    if (ir_numel(x) < 0) {
        diag_error(d, n, "input X's size overflows");
        return false;
    }
    float eps = ir_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f)) {
        diag_error(d, n, "epsilon must be >= 0, got %g", (double)eps);
        return false;
    }
    int64_t per, inner;
    if (!bn_params(n, &per, &inner, d)) return false;
    ir_value_set_shape(n->outputs[0], DT_FLOAT, x->rank, x->dims);
    return true;
}

static bool bn_emit(Emitter *e, const Node *n, Diag *d) {
    int64_t per, inner;
    if (!bn_params(n, &per, &inner, d)) return false;
    const Value *x = n->inputs[0];
    char feps[32];
    float eps = ir_attr_float(n, "epsilon", 1e-5f);
    long long N = (long long)x->dims[0];
    /* x1 scale, x2 B, x3 mean, x4 var. */
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)per);
    emit_line(e, "const float m = x1[c] / sqrtf(x4[c] + %s);", c_float(feps, eps));
    emit_line(e, "const float a = x2[c] - x3[c] * m;");
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", N);
    emit_line(e, "const size_t base = (n * %lld + c) * %lld;", (long long)per, (long long)inner);
    emit_line(e, "for (size_t i = 0; i < %lld; i++) y0[base + i] = x0[base + i] * m + a;",
              (long long)inner);
    emit_close(e);
    return emit_close(e);
}

static int64_t bn_flops(const Node *n) {
    int64_t f;
    return i64_mul(ir_numel(n->inputs[0]), 2, &f) ? f : -1;
}

const OpDef op_batchnormalization = {
    .name = "BatchNormalization", .domain = "", .since = 1,
    .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 5,
    .infer = bn_infer, .emit = bn_emit, .flops = bn_flops,
    .memory = OP_MEMORY_SEPARATE,
};
