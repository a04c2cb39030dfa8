/* fold_batchnorm.c: folds an inference BatchNormalization into the Conv or Gemm before it.
 *
 * Requires: inferred shapes, folded constants, a sorted schedule.
 * Establishes: a BatchNormalization whose input X is the only use of a Conv output (Conv
 * with constant float W and constant or absent B), of a Gemm output (constant float B,
 * constant or absent C) or of a 2-D MatMul output (constant B; it becomes a Gemm), and
 * whose scale, B, mean and var are constant float vectors of one value per channel, is
 * gone; the Conv/Gemm reads NEW constants
 *     s  = scale / sqrt(var + eps)                    (computed in double)
 *     W' = W * s[oc]                 (Conv: per output channel; Gemm: per column of B)
 *     B' = (B - mean) * s + bias     (Gemm: B = beta * C, and beta becomes 1)
 * and writes the BatchNormalization's output value itself.  Constants other nodes read are
 * never modified.  A BN this pass cannot fold is left for its own emitter.
 * The same rewrite absorbs into a Conv a Mul or an Add by a constant of one value per
 * output channel (shape [C, 1, 1], [1, C, 1, 1] or a scalar), which is how tf2onnx
 * writes a BatchNormalization that follows a depthwise convolution: s = the factors,
 * t = 0 for a Mul; s = 1, t = the terms for an Add.
 */
#include <math.h>
#include <string.h>

#include "onnxcc_act.h"
#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* A constant float vector of exactly `count` elements (any rank, numel = count). */
static bool is_const_vector(const Value *v, int64_t count) {
    return v && v->data && v->dtype == DT_FLOAT && ir_numel(v) == count;
}

/* The per-channel factors s[c] = scale[c] / sqrt(var[c] + eps) and shifts
 * t[c] = bias[c] - mean[c] * s[c], in double.  False when a channel's variance makes the
 * rewrite meaningless (var + eps <= 0 or not finite): the BN then stays as it is. */
static bool bn_factors(const Node *bn, int64_t channels, double *s, double *t) {
    const float *scale = bn->inputs[1]->data, *bias = bn->inputs[2]->data;
    const float *mean = bn->inputs[3]->data, *var = bn->inputs[4]->data;
    double eps = ir_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t c = 0; c < channels; c++) {
        double denom = (double)var[c] + eps;
        if (!(denom > 0.0) || !isfinite(denom)) return false;
        s[c] = (double)scale[c] / sqrt(denom);
        t[c] = (double)bias[c] - (double)mean[c] * s[c];
        if (!isfinite(s[c]) || !isfinite(t[c])) return false;
    }
    return true;
}

/* A new float constant named after base, of the given shape, with zeroed data. */
static Value *new_const(Graph *g, const char *base, int rank, const int64_t *dims, Diag *d) {
    const char *name = ir_unique_name(g, base);
    if (!name) { diag_error(d, NULL, "out of memory folding BatchNormalization"); return NULL; }
    Value *v = ir_value_new(g, name, d);
    if (!v) return NULL;
    ir_value_set_shape(v, DT_FLOAT, rank, dims);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    return v;
}

/* Is bn an inference BatchNormalization with constant parameters of `channels` values,
 * whose only output in use is Y? */
static bool bn_foldable(const Graph *g, const Node *bn, int64_t channels) {
    if (bn->n_inputs < 5 || bn->n_outputs < 1 || !bn->outputs[0]) return false;
    if (ir_attr_int(bn, "training_mode", 0) != 0) return false;
    if (bn->opset < 9 && ir_attr_int(bn, "spatial", 1) == 0) return false;
    for (int k = 1; k <= 4; k++)
        if (!is_const_vector(bn->inputs[k], channels)) return false;
    for (int k = 1; k < bn->n_outputs; k++) {
        const Value *o = bn->outputs[k];
        if (o && (o->is_output || ir_value_use_count(g, o) > 0)) return false;
    }
    return bn->outputs[0]->dtype == DT_FLOAT;
}

/* Makes producer p write bn's output Y in place of its own output 0; bn (the
 * BatchNormalization, Mul or Add folded into p) dies. */
static bool take_over_output(Graph *g, Node *p, Node *bn) {
    Value *y = bn->outputs[0];
    p->outputs[0] = y;
    y->producer = p;
    bn->dead = true;
    const char *prev = p->fused;
    p->fused = arena_printf(&g->arena, "%s%s%s '%s'", prev ? prev : "", prev ? ", " : "",
                            bn->op_type, bn->name);
    return p->fused != NULL;
}

/* Inputs array of at least `count` entries holding n's inputs (NULL-padded). */
static bool ensure_inputs(Graph *g, Node *n, int count, Diag *d) {
    if (n->n_inputs >= count) return true;
    Value **in = arena_array(&g->arena, (size_t)count, sizeof(Value *));
    if (!in) { diag_error(d, n, "out of memory folding BatchNormalization"); return false; }
    for (int k = 0; k < n->n_inputs; k++) in[k] = n->inputs[k];
    n->inputs = in;
    n->n_inputs = count;
    return true;
}

/* The constant operand of a Mul or Add `n` that reads x, if it holds one float per
 * channel of x (axis 1 of x, `channels` of them) or a single one, and does not change x's
 * shape by broadcasting; else NULL. */
static const Value *per_channel_operand(const Node *n, const Value *x, int64_t channels) {
    if (n->n_inputs != 2 || !n->outputs[0] || !n->inputs[0] || !n->inputs[1]) return NULL;
    const Value *c = n->inputs[0] == x ? n->inputs[1] : n->inputs[0];
    if (c == x || !c->data || c->dtype != DT_FLOAT || c->rank > x->rank) return NULL;
    if (!ir_same_shape(n->outputs[0], x)) return NULL;
    const int64_t count = ir_numel(c);
    if (count != 1 && count != channels) return NULL;
    for (int a = 0; a < c->rank; a++) {   /* right-aligned with x: only axis 1 may be > 1 */
        const int xa = x->rank - c->rank + a;
        if (c->dims[a] != 1 && xa != 1) return NULL;
    }
    return c;
}

/* Per-channel factors s and terms t of the node that follows the Conv: a foldable
 * BatchNormalization, or a Mul or Add by a per-channel constant.  False when it is none. */
static bool affine_factors(const Graph *g, const Node *f, const Value *x, int64_t oc,
                           double *s, double *t) {
    if (is_op(f, "BatchNormalization"))
        return bn_foldable(g, f, oc) && bn_factors(f, oc, s, t);
    const bool mul = is_op(f, "Mul");
    if (!mul && !is_op(f, "Add")) return false;
    const Value *c = per_channel_operand(f, x, oc);
    if (!c) return false;
    const float *v = c->data;
    for (int64_t k = 0; k < oc; k++) {
        const double e = v[ir_numel(c) == 1 ? 0 : k];
        if (!isfinite(e)) return false;
        s[k] = mul ? e : 1.0;
        t[k] = mul ? 0.0 : e;
    }
    return true;
}

/* Conv(X, W[, B]) -> BN (or Mul, Add).  Returns false only on an error (out of memory). */
static bool fold_into_conv(Graph *g, Node *conv, Node *bn, Arena *tmp, Diag *d) {
    Value *w = conv->inputs[1];
    Value *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
    if (!w || !w->data || w->dtype != DT_FLOAT || w->rank < 3) return true;
    int64_t oc = w->dims[0];
    int64_t wn = ir_numel(w);
    if (oc <= 0 || wn <= 0 || wn % oc != 0) return true;
    if (b && !is_const_vector(b, oc)) return true;
    const Value *x = conv->outputs[0];
    if (x->rank < 2 || x->dims[1] != oc) return true;

    double *s = arena_array(tmp, (size_t)oc, sizeof(double));
    double *t = arena_array(tmp, (size_t)oc, sizeof(double));
    if (!s || !t) { diag_error(d, bn, "out of memory folding into a Conv"); return false; }
    if (!affine_factors(g, bn, x, oc, s, t)) return true;

    Value *nw = new_const(g, w->name, w->rank, w->dims, d);
    int64_t bdims[1] = { oc };
    Value *nb = nw ? new_const(g, b ? b->name : "bias", 1, bdims, d) : NULL;
    if (!nb) return false;
    const float *src = w->data, *bsrc = b ? b->data : NULL;
    float *dst = nw->data, *bdst = nb->data;
    int64_t per_oc = wn / oc;
    for (int64_t c = 0; c < oc; c++) {
        for (int64_t k = 0; k < per_oc; k++)
            dst[c * per_oc + k] = (float)((double)src[c * per_oc + k] * s[c]);
        double bias0 = bsrc ? (double)bsrc[c] : 0.0;
        bdst[c] = (float)(bias0 * s[c] + t[c]);
    }
    if (!ensure_inputs(g, conv, 3, d)) return false;
    conv->inputs[1] = nw;
    conv->inputs[2] = nb;
    if (!take_over_output(g, conv, bn)) {
        diag_error(d, conv, "out of memory folding BatchNormalization");
        return false;
    }
    return true;
}

/* Element (i, j) of a Gemm's C broadcast over [M, N]; C has rank <= 2. */
static double gemm_c_at(const Value *c, int64_t i, int64_t j) {
    const float *p = c->data;
    if (c->rank == 0) return p[0];
    if (c->rank == 1) return p[c->dims[0] == 1 ? 0 : j];
    int64_t r = c->dims[0] == 1 ? 0 : i, col = c->dims[1] == 1 ? 0 : j;
    return p[r * c->dims[1] + col];
}

/* Does C broadcast to [M, N] (checked here too: never index outside model data)? */
static bool gemm_c_fits(const Value *c, int64_t m, int64_t n) {
    if (c->rank == 0) return true;
    if (c->rank == 1) return c->dims[0] == 1 || c->dims[0] == n;
    return (c->dims[0] == 1 || c->dims[0] == m) && (c->dims[1] == 1 || c->dims[1] == n);
}

/* Gemm(A, B[, C]) -> BN over the columns, or MatMul(A[M,K], B[K,N]) -> BN, which then
 * becomes a Gemm with the folded bias as C.  Returns false only on an error. */
static bool fold_into_gemm(Graph *g, Node *gemm, Node *bn, Arena *tmp, Diag *d) {
    const OpDef *gemm_op = op_find("", "Gemm");
    bool was_matmul = is_op(gemm, "MatMul");
    if (was_matmul && (!gemm_op || gemm->n_inputs != 2 || !gemm->inputs[0] ||
                       gemm->inputs[0]->rank != 2))
        return true;
    Value *b = gemm->inputs[1];
    Value *c = gemm->n_inputs > 2 ? gemm->inputs[2] : NULL;
    const Value *y = gemm->outputs[0];
    if (!b || !b->data || b->dtype != DT_FLOAT || b->rank != 2) return true;
    if (y->rank != 2 || !ir_value_shape_known(y)) return true;
    int64_t m = y->dims[0], n = y->dims[1];
    if (m <= 0 || n <= 0) return true;
    if (c && (!c->data || c->dtype != DT_FLOAT || c->rank > 2 || !ir_value_shape_known(c) ||
              !gemm_c_fits(c, m, n)))
        return true;
    if (!bn_foldable(g, bn, n)) return true;
    bool trans_b = ir_attr_int(gemm, "transB", 0) != 0;
    if (b->dims[trans_b ? 0 : 1] != n) return true;

    double *s = arena_array(tmp, (size_t)n, sizeof(double));
    double *t = arena_array(tmp, (size_t)n, sizeof(double));
    if (!s || !t) { diag_error(d, bn, "out of memory folding BatchNormalization"); return false; }
    if (!bn_factors(bn, n, s, t)) return true;

    /* C' is one row [N] when C is absent or the same for every row, else [M, N]. */
    bool per_row = c && c->rank == 2 && c->dims[0] != 1;
    int64_t cdims[2] = { m, n };
    Value *nb = new_const(g, b->name, 2, b->dims, d);
    Value *nc = nb ? new_const(g, c ? c->name : bn->inputs[2]->name,
                               per_row ? 2 : 1, per_row ? cdims : cdims + 1, d)
                   : NULL;
    if (!nc) return false;
    const float *src = b->data;
    float *dst = nb->data, *cdst = nc->data;
    int64_t rows = b->dims[0], cols = b->dims[1];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++)
            dst[r * cols + k] = (float)((double)src[r * cols + k] * s[trans_b ? r : k]);
    double beta = ir_attr_float(gemm, "beta", 1.0f);
    for (int64_t i = 0; i < (per_row ? m : 1); i++)
        for (int64_t j = 0; j < n; j++) {
            double c0 = c ? beta * gemm_c_at(c, i, j) : 0.0;
            cdst[i * n + j] = (float)(c0 * s[j] + t[j]);
        }
    if (!ensure_inputs(g, gemm, 3, d)) return false;
    gemm->inputs[1] = nb;
    gemm->inputs[2] = nc;
    if (was_matmul) {
        gemm->op_type = "Gemm";
        gemm->op = gemm_op;
    }
    if (!ir_attr_set_float(g, gemm, "beta", 1.0f, d)) return false;
    if (!take_over_output(g, gemm, bn)) {
        diag_error(d, gemm, "out of memory folding BatchNormalization");
        return false;
    }
    return true;
}

bool pass_fold_batchnorm(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    Arena tmp;
    arena_init(&tmp, 0);
    bool ok = true;
    for (int i = 0; i < g->n_nodes && ok; i++) {
        Node *bn = g->nodes[i];
        if (bn->dead) continue;
        const bool is_bn = is_op(bn, "BatchNormalization") && bn->n_inputs >= 5;
        const bool affine = (is_op(bn, "Mul") || is_op(bn, "Add")) && bn->n_inputs == 2;
        if (!is_bn && !affine) continue;
        /* the non-constant input, written by the producer to fold into */
        Value *x = bn->inputs[0];
        if (affine && x && x->data) x = bn->inputs[1];
        if (!x || !x->producer || x->dtype != DT_FLOAT) continue;
        Node *p = x->producer;
        if (p->dead || p->n_outputs < 1 || p->outputs[0] != x) continue;
        if (p->epi.act != ONNXCC_ACT_NONE || p->n_inputs < 2) continue;
        const bool conv = is_op(p, "Conv");
        const bool gemm = is_bn && (is_op(p, "Gemm") || is_op(p, "MatMul"));
        if (!conv && !gemm) continue;
        /* (a scan of the schedule: only for the few nodes that got this far) */
        if (ir_value_single_consumer(g, x) != bn) continue;
        ok = conv ? fold_into_conv(g, p, bn, &tmp, d) : fold_into_gemm(g, p, bn, &tmp, d);
    }
    arena_free(&tmp);
    ir_graph_compact(g);
    return ok;
}
