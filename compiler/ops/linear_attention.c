/* linear_attention.c: LinearAttention (opset 27), recurrent linear attention with a
 * matrix state per key/value head (linear, gated, delta and gated-delta update rules).
 *
 * Query [B][T][Hq * dk], key [B][T][Hkv * dk], value [B][T][Hkv * dv]; the state S of
 * head g is [dk][dv] (past_state [B][Hkv][dk][dv], else zeros).  At each step t:
 *
 *   gated:  S *= exp(decay_t)            decay per head [B][T][Hkv] or per key dim
 *                                        [B][T][Hkv * dk] (a row of S each)
 *   delta:  v_t = beta_t * (v_t - S^T k_t)   beta [B][T][Hkv] or [B][T][1]
 *   then    S += k_t v_t^T
 *   output  o_t = scale * S^T q_t       for each query head of the group (h / (Hq / Hkv))
 *
 * update_rule "linear" has neither step, "gated" and "delta" one, "gated_delta" (the
 * default) both; decay and beta must be given exactly when the rule uses them.  scale
 * 0 means 1 / sqrt(dk).  Like the reference, everything runs in float32 whatever the
 * element types (float16/bfloat16/double are converted), and present_state takes
 * past_state's type (the query's without past).  The state lives in scratch.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum { LA_Q, LA_K, LA_V, LA_PAST, LA_DECAY, LA_BETA };

typedef struct LaView {
    int64_t B, T, Hq, Hkv, dk, dv, group;
    bool gated, delta;
    bool decay_per_dim;          /* decay [B][T][Hkv * dk] rather than [B][T][Hkv] */
    bool beta_shared;            /* beta [B][T][1] rather than [B][T][Hkv] */
    float scale;
    DType state_t;               /* present_state's type */
} LaView;

static bool la_rule(const Node *n, LaView *v, Diag *d) {
    const char *rule = ir_attr_string(n, "update_rule", "gated_delta");
    if (strcmp(rule, "linear") == 0) v->gated = false, v->delta = false;
    else if (strcmp(rule, "gated") == 0) v->gated = true, v->delta = false;
    else if (strcmp(rule, "delta") == 0) v->gated = false, v->delta = true;
    else if (strcmp(rule, "gated_delta") == 0) v->gated = true, v->delta = true;
    else {
        char q[80];
        diag_error(d, n, "update_rule '%s' is not supported (linear, gated, delta, "
                   "gated_delta)", diag_quote(q, sizeof q, rule));
        return false;
    }
    if (v->gated != (op_input(n, LA_DECAY) != NULL) ||
        v->delta != (op_input(n, LA_BETA) != NULL)) {
        diag_error(d, n, "update_rule '%s' %s decay and %s beta", rule,
                   v->gated ? "needs" : "forbids", v->delta ? "needs" : "forbids");
        return false;
    }
    return true;
}

/* A [B][T][last] input (decay, beta) of a float type; *last gets its last dim. */
static bool la_check_btx(const Node *n, int i, const char *what, const LaView *v,
                         int64_t *last, Diag *d) {
    if (!op_require_shape(n, i, d) || !ou_check_dtype(n, i, ou_float_types, d)) return false;
    const Value *x = n->inputs[i];
    if (x->rank != 3 || x->dims[0] != v->B || x->dims[1] != v->T) {
        diag_error(d, n, "%s must be [%lld][%lld][...]", what, (long long)v->B,
                   (long long)v->T);
        return false;
    }
    *last = x->dims[2];
    return true;
}

/* Heads, sizes and the shapes of Q, K, V. */
static bool la_check_qkv(const Node *n, LaView *v, Diag *d) {
    for (int i = LA_Q; i <= LA_V; i++)
        if (!op_require_shape(n, i, d) || !ou_check_dtype(n, i, ou_float_types, d))
            return false;
    const Value *q = n->inputs[LA_Q], *k = n->inputs[LA_K], *val = n->inputs[LA_V];
    v->Hq = ir_attr_int(n, "q_num_heads", 0), v->Hkv = ir_attr_int(n, "kv_num_heads", 0);
    if (v->Hq <= 0 || v->Hkv <= 0 || v->Hq % v->Hkv != 0) {
        diag_error(d, n, "q_num_heads (%lld) must be a positive multiple of kv_num_heads "
                   "(%lld)", (long long)v->Hq, (long long)v->Hkv);
        return false;
    }
    if (q->rank != 3 || k->rank != 3 || val->rank != 3) {
        diag_error(d, n, "query, key and value must be 3-D [batch][seq][heads * size]");
        return false;
    }
    v->B = q->dims[0], v->T = q->dims[1], v->group = v->Hq / v->Hkv;
    if (q->dims[2] % v->Hq != 0 || val->dims[2] % v->Hkv != 0) {
        diag_error(d, n, "query or value hidden size is not a multiple of its heads");
        return false;
    }
    v->dk = q->dims[2] / v->Hq, v->dv = val->dims[2] / v->Hkv;
    if (k->dims[0] != v->B || k->dims[1] != v->T || k->dims[2] != v->Hkv * v->dk ||
        val->dims[0] != v->B || val->dims[1] != v->T) {
        diag_error(d, n, "key must be [%lld][%lld][%lld] and value [%lld][%lld][...]",
                   (long long)v->B, (long long)v->T, (long long)(v->Hkv * v->dk),
                   (long long)v->B, (long long)v->T);
        return false;
    }
    return true;
}

static bool la_view(const Node *n, LaView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    if (!la_check_qkv(n, v, d) || !la_rule(n, v, d)) return false;
    int64_t last;
    if (v->gated) {
        if (!la_check_btx(n, LA_DECAY, "decay", v, &last, d)) return false;
        if (last != v->Hkv && last != v->Hkv * v->dk) {
            diag_error(d, n, "decay's last dim %lld must be kv_num_heads (%lld) or "
                       "kv_num_heads * dk (%lld)", (long long)last, (long long)v->Hkv,
                       (long long)(v->Hkv * v->dk));
            return false;
        }
        v->decay_per_dim = last != v->Hkv;
    }
    if (v->delta) {
        if (!la_check_btx(n, LA_BETA, "beta", v, &last, d)) return false;
        if (last != v->Hkv && last != 1) {
            diag_error(d, n, "beta's last dim %lld must be kv_num_heads (%lld) or 1",
                       (long long)last, (long long)v->Hkv);
            return false;
        }
        v->beta_shared = last != v->Hkv;
    }
    const Value *p = op_input(n, LA_PAST);
    v->state_t = n->inputs[LA_Q]->dtype;
    if (p) {
        if (!op_require_shape(n, LA_PAST, d) || !ou_check_dtype(n, LA_PAST, ou_float_types, d))
            return false;
        const int64_t want[4] = {v->B, v->Hkv, v->dk, v->dv};
        if (p->rank != 4 || memcmp(p->dims, want, sizeof want) != 0) {
            diag_error(d, n, "past_state must be [%lld][%lld][%lld][%lld]", (long long)v->B,
                       (long long)v->Hkv, (long long)v->dk, (long long)v->dv);
            return false;
        }
        v->state_t = p->dtype;
    }
    double scale = ir_attr_float(n, "scale", 0.0f);
    v->scale = scale == 0.0 ? (float)(1.0 / sqrt((double)v->dk)) : (float)scale;
    int64_t state_n, scratch_n;
    if (v->dk <= 0 || !i64_mul(v->B, v->Hkv, &state_n) || !i64_mul(state_n, v->dk, &state_n) ||
        !i64_mul(state_n, v->dv, &state_n) || !i64_add(state_n, v->dk + v->dv, &scratch_n) ||
        !i64_mul(scratch_n, (int64_t)sizeof(float), &scratch_n)) {
        diag_error(d, n, "the state is empty or too large");
        return false;
    }
    return true;
}

static bool la_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    LaView v;
    if (!la_view(n, &v, d)) return false;
    const int64_t y[3] = {v.B, v.T, v.Hq * v.dv}, st[4] = {v.B, v.Hkv, v.dk, v.dv};
    if (!ou_set_output(n, n->outputs[0], n->inputs[LA_Q]->dtype, 3, y, d)) return false;
    return n->n_outputs < 2 || !n->outputs[1] ||
           ou_set_output(n, n->outputs[1], v.state_t, 4, st, d);
}

/* Scratch: the float state [B][Hkv][dk][dv], then k_t [dk] and v_t [dv]. */
static size_t la_scratch_floats(const LaView *v) {
    return (size_t)(v->B * v->Hkv * v->dk * v->dv + v->dk + v->dv);
}

static size_t la_scratch_bytes(const Node *n) {
    Diag d;
    diag_init(&d);
    LaView v;
    bool ok = la_view(n, &v, &d);
    diag_free(&d);
    return ok ? la_scratch_floats(&v) * sizeof(float) : 0;
}

/* `float dst = (float)src;` for an element of type t. */
static void la_load(Emitter *e, DType t, const char *dst, const char *src) {
    ou_emit_load(e, t, "float", dst, src);
}

/* One step of head g: decay, delta correction, write, then read for each query head. */
static void la_emit_step(Emitter *e, const Node *n, const LaView *v) {
    const long long dk = v->dk, dv = v->dv, Hkv = v->Hkv;
    char src[128];
    emit_line(e, "const int64_t bt = b * %lld + t;", (long long)v->T);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", dk);
    snprintf(src, sizeof src, "x%d[bt * %lld + g * %lld + c]", LA_K, Hkv * dk, dk);
    la_load(e, n->inputs[LA_K]->dtype, "kx", src);
    emit_line(e, "kt[c] = kx;");
    emit_close(e);
    emit_open(e, "for (int64_t m = 0; m < %lld; m++)", dv);
    snprintf(src, sizeof src, "x%d[bt * %lld + g * %lld + m]", LA_V, Hkv * dv, dv);
    la_load(e, n->inputs[LA_V]->dtype, "vx", src);
    emit_line(e, "vt[m] = vx;");
    emit_close(e);
    if (v->gated) {
        emit_line(e, "/* gate: S *= exp(decay) */");
        emit_open(e, "for (int64_t c = 0; c < %lld; c++)", dk);
        if (v->decay_per_dim) snprintf(src, sizeof src, "x%d[bt * %lld + g * %lld + c]",
                                       LA_DECAY, Hkv * dk, dk);
        else snprintf(src, sizeof src, "x%d[bt * %lld + g]", LA_DECAY, Hkv);
        la_load(e, n->inputs[LA_DECAY]->dtype, "dx", src);
        emit_line(e, "const float ev = expf(dx);");
        emit_line(e, "for (int64_t m = 0; m < %lld; m++) S[c * %lld + m] *= ev;", dv, dv);
        emit_close(e);
    }
    if (v->delta) {
        emit_line(e, "/* delta rule: v = beta * (v - S^T k) */");
        if (v->beta_shared) snprintf(src, sizeof src, "x%d[bt]", LA_BETA);
        else snprintf(src, sizeof src, "x%d[bt * %lld + g]", LA_BETA, Hkv);
        la_load(e, n->inputs[LA_BETA]->dtype, "bx", src);
        emit_open(e, "for (int64_t m = 0; m < %lld; m++)", dv);
        emit_line(e, "float r = 0;");
        emit_line(e, "for (int64_t c = 0; c < %lld; c++) r += S[c * %lld + m] * kt[c];", dk, dv);
        emit_line(e, "vt[m] = bx * (vt[m] - r);");
        emit_close(e);
    }
    emit_line(e, "/* write: S += k v^T */");
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", dk);
    emit_line(e, "for (int64_t m = 0; m < %lld; m++) S[c * %lld + m] += kt[c] * vt[m];", dv, dv);
    emit_close(e);
    emit_line(e, "/* read: o = scale * S^T q for the %lld query heads of this group */",
              (long long)v->group);
    emit_open(e, "for (int64_t qh = g * %lld; qh < (g + 1) * %lld; qh++)", (long long)v->group,
              (long long)v->group);
    emit_open(e, "for (int64_t m = 0; m < %lld; m++)", dv);
    emit_line(e, "float acc = 0;");
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", dk);
    snprintf(src, sizeof src, "x%d[bt * %lld + qh * %lld + c]", LA_Q, (long long)(v->Hq * dk),
             dk);
    la_load(e, n->inputs[LA_Q]->dtype, "qx", src);
    emit_line(e, "acc += qx * S[c * %lld + m];", dv);
    emit_close(e);
    char lit[32], dst[96];
    emit_line(e, "const float o = %s * acc;", c_float(lit, v->scale));
    snprintf(dst, sizeof dst, "y0[bt * %lld + qh * %lld + m]", (long long)(v->Hq * dv), dv);
    ou_emit_store(e, n->outputs[0]->dtype, dst, "o");
    emit_close(e);
    emit_close(e);
}

static bool la_emit(Emitter *e, const Node *n, Diag *d) {
    LaView v;
    if (!la_view(n, &v, d)) return false;
    const long long sz = (long long)(v.dk * v.dv);
    const bool past = op_input(n, LA_PAST) != NULL;
    const bool present = n->n_outputs > 1 && n->outputs[1];
    char sx[128];
    emit_line(e, "/* LinearAttention (%s%s) of query %s: %lld query heads over %lld "
              "key/value heads, state [%lld][%lld] in float */", v.gated ? "gated" : "",
              v.delta ? " delta" : (v.gated ? "" : "linear"),
              ou_shape(sx, sizeof sx, n->inputs[LA_Q]), (long long)v.Hq, (long long)v.Hkv,
              (long long)v.dk, (long long)v.dv);
    emit_line(e, "float *state = (float *)scratch;   /* [%lld][%lld][%lld][%lld] */",
              (long long)v.B, (long long)v.Hkv, (long long)v.dk, (long long)v.dv);
    if (v.T > 0)
        emit_line(e, "float *kt = state + %lld, *vt = kt + %lld;   /* k_t, v_t */",
                  (long long)v.B * v.Hkv * sz, (long long)v.dk);
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)v.B);
    emit_open(e, "for (int64_t g = 0; g < %lld; g++)", (long long)v.Hkv);
    emit_line(e, "float *S = state + (b * %lld + g) * %lld;", (long long)v.Hkv, sz);
    if (past) {
        char src[64];
        snprintf(src, sizeof src, "x%d[(b * %lld + g) * %lld + i]", LA_PAST, (long long)v.Hkv,
                 sz);
        emit_open(e, "for (int64_t i = 0; i < %lld; i++)", sz);
        la_load(e, n->inputs[LA_PAST]->dtype, "px", src);
        emit_line(e, "S[i] = px;");
        emit_close(e);
    } else {
        emit_line(e, "memset(S, 0, %lld * sizeof *S);", sz);
    }
    if (v.T > 0) {
        emit_open(e, "for (int64_t t = 0; t < %lld; t++)", (long long)v.T);
        la_emit_step(e, n, &v);
        emit_close(e);
    }
    if (present) {
        char dst[64];
        snprintf(dst, sizeof dst, "y1[(b * %lld + g) * %lld + i]", (long long)v.Hkv, sz);
        emit_open(e, "for (int64_t i = 0; i < %lld; i++)", sz);
        ou_emit_store(e, v.state_t, dst, "S[i]");
        emit_close(e);
    }
    emit_close(e);
    return emit_close(e);
}

const OpDef op_linearattention = {
    .name = "LinearAttention", .domain = "", .since = 27,
    .min_inputs = 3, .max_inputs = 6, .min_outputs = 1, .max_outputs = 2,
    .infer = la_infer, .emit = la_emit, .scratch_bytes = la_scratch_bytes,
    .memory = OP_MEMORY_SEPARATE,
};
