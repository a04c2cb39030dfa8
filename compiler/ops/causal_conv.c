/* causal_conv.c: CausalConvWithState (opset 27), the depthwise causal 1-D convolution of
 * state-space and linear-attention models, with its rolling state:
 *
 *   padded = concat(past_state or zeros [B][C][k-1], input [B][C][L])   along time
 *   output[b][c][t] = act(sum_j padded[b][c][t + j] * weight[c][0][j] + bias[c])
 *   present_state   = the last k - 1 steps of padded
 *
 * act is none, or silu/swish (x * sigmoid(x)).  The convolution accumulates in float
 * (double for double) and rounds to the element type before the bias, the bias sum is
 * rounded, and the activation runs in float then rounds, as the reference does.
 * `padded` is never built: its step p is past[p] (or 0) for p < k - 1, else input[p-k+1].
 */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

enum { CC_X, CC_W, CC_BIAS, CC_PAST };

static const DType cc_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16,
                                  DT_UNDEFINED };

typedef struct CcView {
    DType t;
    int64_t B, C, L, k;
    bool silu;
} CcView;

static bool cc_activation(const Node *n, bool *silu, Diag *d) {
    const char *act = ir_attr_string(n, "activation", "none");
    *silu = strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0;
    if (*silu || strcmp(act, "none") == 0) return true;
    char q[80];
    diag_error(d, n, "activation '%s' is not supported (none, silu or swish)",
               diag_quote(q, sizeof q, act));
    return false;
}

static bool cc_view(const Node *n, CcView *v, Diag *d) {
    if (!op_require_shape(n, CC_X, d) || !op_require_shape(n, CC_W, d)) return false;
    if (!ou_check_dtype(n, CC_X, cc_types, d)) return false;
    const Value *x = n->inputs[CC_X], *w = n->inputs[CC_W];
    const Value *b = op_input(n, CC_BIAS), *p = op_input(n, CC_PAST);
    v->t = x->dtype;
    if (x->rank != 3 || w->rank != 3) {
        diag_error(d, n, "input [batch][channels][length] and weight [channels][1][k] must "
                   "be 3-D, got ranks %d and %d", x->rank, w->rank);
        return false;
    }
    v->B = x->dims[0], v->C = x->dims[1], v->L = x->dims[2], v->k = w->dims[2];
    if (w->dtype != v->t || w->dims[0] != v->C || w->dims[1] != 1 || v->k < 1) {
        diag_error(d, n, "weight must be %s[%lld][1][k] with k >= 1", dtype_name(v->t),
                   (long long)v->C);
        return false;
    }
    if (b && !op_require_shape(n, CC_BIAS, d)) return false;
    if (b && (b->dtype != v->t || b->rank != 1 || b->dims[0] != v->C)) {
        diag_error(d, n, "bias must be %s[%lld]", dtype_name(v->t), (long long)v->C);
        return false;
    }
    if (p && !op_require_shape(n, CC_PAST, d)) return false;
    if (p && (p->dtype != v->t || p->rank != 3 || p->dims[0] != v->B || p->dims[1] != v->C ||
              p->dims[2] != v->k - 1)) {
        diag_error(d, n, "past_state must be %s[%lld][%lld][%lld]", dtype_name(v->t),
                   (long long)v->B, (long long)v->C, (long long)(v->k - 1));
        return false;
    }
    return cc_activation(n, &v->silu, d);
}

static bool cc_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    CcView v;
    if (!cc_view(n, &v, d)) return false;
    const int64_t state[3] = {v.B, v.C, v.k - 1};
    if (!ou_set_output(n, n->outputs[0], v.t, 3, n->inputs[CC_X]->dims, d)) return false;
    return n->n_outputs < 2 || !n->outputs[1] ||
           ou_set_output(n, n->outputs[1], v.t, 3, state, d);
}

/* Declares `CT dst` = step p of padded (p an expression, CT the compute type). */
static void cc_emit_padded(Emitter *e, const Node *n, const CcView *v, const char *dst,
                           const char *p) {
    const char *CT = v->t == DT_DOUBLE ? "double" : "float";
    char src[128];
    bool past = op_input(n, CC_PAST) != NULL;
    emit_line(e, "%s %s;", CT, dst);
    emit_open(e, "if (%s < %lld)", p, (long long)(v->k - 1));
    if (past) {
        snprintf(src, sizeof src, "pr[%s]", p);
        if (ou_is_half(v->t)) {
            ou_emit_half_load(e, v->t, "pv", src);
            emit_line(e, "%s = pv;", dst);
        } else {
            emit_line(e, "%s = %s;", dst, src);
        }
    } else {
        emit_line(e, "%s = 0;   /* no past_state: zeros */", dst);
    }
    emit_close(e);
    emit_open(e, "else");
    snprintf(src, sizeof src, "xr[%s - %lld]", p, (long long)(v->k - 1));
    if (ou_is_half(v->t)) {
        ou_emit_half_load(e, v->t, "iv", src);
        emit_line(e, "%s = iv;", dst);
    } else {
        emit_line(e, "%s = %s;", dst, src);
    }
    emit_close(e);
}

/* output[b][c][t] for the row in scope (xr, pr, wr, c). */
static void cc_emit_outputs(Emitter *e, const Node *n, const CcView *v) {
    const bool dbl = v->t == DT_DOUBLE;
    emit_open(e, "for (int64_t t = 0; t < %lld; t++)", (long long)v->L);
    emit_line(e, "%s acc = 0;", dbl ? "double" : "float");
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)v->k);
    emit_line(e, "const int64_t p = t + j;");
    cc_emit_padded(e, n, v, "xv", "p");
    if (ou_is_half(v->t)) ou_emit_half_load(e, v->t, "wv", "wr[j]");
    else emit_line(e, "const %s wv = wr[j];", dbl ? "double" : "float");
    emit_line(e, "acc += xv * wv;");
    emit_close(e);
    ou_emit_round(e, v->t, "acc");
    if (op_input(n, CC_BIAS)) {
        char src[32];
        snprintf(src, sizeof src, "x%d[c]", CC_BIAS);
        if (ou_is_half(v->t)) ou_emit_half_load(e, v->t, "bv", src);
        else emit_line(e, "const %s bv = %s;", dbl ? "double" : "float", src);
        emit_line(e, "acc += bv;");
        ou_emit_round(e, v->t, "acc");
    }
    if (v->silu) {
        if (dbl) {
            emit_line(e, "acc = acc * (1.0 / (1.0 + exp(-acc)));   /* silu */");
        } else {
            emit_line(e, "const float sg = 1.0f / (1.0f + expf(-acc));   /* silu in float */");
            emit_line(e, "acc = acc * sg;");
        }
    }
    ou_emit_store(e, v->t, "yr[t]", "acc");
    emit_close(e);
}

static bool cc_emit(Emitter *e, const Node *n, Diag *d) {
    CcView v;
    if (!cc_view(n, &v, d)) return false;
    const char *T = dtype_ctype(v.t);
    const bool past = op_input(n, CC_PAST) != NULL;
    const bool state = n->n_outputs > 1 && n->outputs[1];
    char sx[128];
    emit_line(e, "/* CausalConvWithState of %s, kernel %lld%s */",
              ou_shape(sx, sizeof sx, n->inputs[CC_X]), (long long)v.k,
              v.silu ? ", silu" : "");
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)v.B);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)v.C);
    emit_line(e, "const int64_t row = b * %lld + c;", (long long)v.C);
    emit_line(e, "const %s *xr = x%d + row * %lld;", T, CC_X, (long long)v.L);
    if (past) emit_line(e, "const %s *pr = x%d + row * %lld;", T, CC_PAST, (long long)(v.k - 1));
    if (ir_numel(n->outputs[0]) > 0) {
        emit_line(e, "const %s *wr = x%d + c * %lld;", T, CC_W, (long long)v.k);
        emit_line(e, "%s *yr = y0 + row * %lld;", T, (long long)v.L);
        cc_emit_outputs(e, n, &v);
    }
    if (state && v.k > 1) {
        emit_line(e, "/* present_state: the last %lld steps of padded */", (long long)(v.k - 1));
        emit_open(e, "for (int64_t q = 0; q < %lld; q++)", (long long)(v.k - 1));
        emit_line(e, "const int64_t p = %lld + q;", (long long)v.L);
        emit_open(e, "if (p < %lld)", (long long)(v.k - 1));
        emit_line(e, "y1[row * %lld + q] = %s;", (long long)(v.k - 1),
                  past ? "pr[p]" : "0");
        emit_close(e);
        emit_line(e, "else y1[row * %lld + q] = xr[p - %lld];", (long long)(v.k - 1),
                  (long long)(v.k - 1));
        emit_close(e);
    }
    emit_close(e);
    return emit_close(e);
}

const OpDef op_causalconvwithstate = {
    .name = "CausalConvWithState", .domain = "", .since = 27,
    .min_inputs = 2, .max_inputs = 4, .min_outputs = 1, .max_outputs = 2,
    .infer = cc_infer, .emit = cc_emit, .memory = OP_MEMORY_SEPARATE,
};
