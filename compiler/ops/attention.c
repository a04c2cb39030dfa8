/* attention.c: Attention (opset 23, 24 and 25), scaled dot-product attention:
 *
 *   Y = softmax(softcap(Q K^T * scale) + bias) V       per batch, query head and query row
 *
 * Q, K, V are 4-D [batch][heads][seq][head_size] or 3-D [batch][seq][heads * head_size]
 * (q_num_heads / kv_num_heads then say how many heads).  Grouped-query attention: query
 * head h reads key/value head h / (q_heads / kv_heads).  past_key/past_value are
 * prepended to K/V along the sequence (present_key/present_value are the results), so
 * the L = past + kv_seq keys hold absolute positions 0..L-1.
 *
 * The additive bias of query row i and key j is the attention mask (bool: true = 0,
 * false = -inf; float: its value; a mask shorter than L counts as masked past its end)
 * plus -inf where a structural constraint forbids the key: is_causal (j <= i + offset),
 * the sliding window of opset 25 (left/right_window_size) and nonpad_kv_seqlen (24: keys
 * j >= nonpad[b] are padding).  offset is past's length with a cache, nonpad[b] - q_seq
 * with nonpad_kv_seqlen, else 0: causal attention is aligned bottom-right.  A row whose
 * bias is -inf everywhere attends to nothing and gives Y = 0.
 *
 * The semantics follow onnx/reference/ops/op_attention.py step by step, including the
 * scale applied as sqrt(scale) to both Q and K, and its rounding: float16/bfloat16 are
 * computed in float, rounded back to the element type where the reference rounds (the
 * scaled Q and K, each dot product, the biased score, each softmax step, the
 * probabilities, the output), so results match bit for bit but for the last bit of expf.
 * The float16 softmax sum is accumulated in float, the bfloat16 one rounded at each step
 * (numpy vs ml_dtypes).  softmax_precision picks the softmax's type.
 *
 * The emitted code is plain loops: per (batch, head, query row) the scores row goes to
 * scratch, is softmaxed there and multiplied with V into an accumulator row.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum {
    ATT_Q, ATT_K, ATT_V, ATT_MASK, ATT_PAST_K, ATT_PAST_V, ATT_NONPAD,   /* inputs */
    ATT_MAX_INPUTS,
};
enum { ATT_Y, ATT_PRESENT_K, ATT_PRESENT_V, ATT_QK, ATT_MAX_OUTPUTS };   /* outputs */

/* qk_matmul_output_mode: which intermediate goes to output 3. */
enum { ATT_QK_RAW = 0, ATT_QK_MASKED = 1, ATT_QK_BIASED = 2, ATT_QK_SOFTMAX = 3 };

enum { ATT_ALIGN = 64 };   /* scratch pieces start on cache lines */

typedef struct AttnView {
    DType t;                     /* Q, K, V, past and output element type */
    DType st;                    /* the softmax's type (softmax_precision, default t) */
    bool in3d;
    int64_t B, Hq, Hkv, S, Skv, P, L, Dk, Dv, reps;
    /* element strides over (batch, head, seq) of Q, K and V as given, and of Y */
    int64_t qs[3], ks[3], vs[3], ys[3];
    /* the mask: strides over (batch, q head, q row), 0 where broadcast; Lm keys */
    const Value *mask;
    int64_t ms[3], Lm;
    bool has_past, has_nonpad, causal;
    int64_t left, right;         /* window sizes, -1 = unbounded */
    double scale_sqrt;           /* applied to Q and to K */
    double softcap;              /* <= 0: none */
    int mode;                    /* qk_matmul_output_mode */
} AttnView;

static const Value *att_in(const Node *n, int i) { return op_input(n, i); }
static const Value *att_out(const Node *n, int i) {
    return i < n->n_outputs ? n->outputs[i] : NULL;
}

/* The softmax_precision attribute as a float dtype (default: the input's). */
static bool att_softmax_type(const Node *n, DType t, DType *st, Diag *d) {
    int64_t p = ir_attr_int(n, "softmax_precision", (int64_t)t);
    if (p != DT_FLOAT && p != DT_DOUBLE && p != DT_FLOAT16 && p != DT_BFLOAT16) {
        diag_error(d, n, "softmax_precision %lld is not a floating-point type "
                   "(float 1, float16 10, double 11, bfloat16 16)", (long long)p);
        return false;
    }
    *st = (DType)p;
    return true;
}

/* Batch, heads, sequence and head size of a 3-D or 4-D Q/K/V (heads from attribute
 * `heads` when 3-D). */
static bool att_split(const Node *n, const Value *v, const char *what, int64_t heads,
                      int64_t *b, int64_t *h, int64_t *s, int64_t *hs, Diag *d) {
    *b = v->dims[0];
    if (v->rank == 4) {
        *h = v->dims[1], *s = v->dims[2], *hs = v->dims[3];
        return true;
    }
    if (v->dims[2] % heads != 0) {
        diag_error(d, n, "%s hidden size %lld is not a multiple of its %lld heads", what,
                   (long long)v->dims[2], (long long)heads);
        return false;
    }
    *h = heads, *s = v->dims[1], *hs = v->dims[2] / heads;
    return true;
}

/* Strides over (batch, head, seq) of a 3-D or 4-D tensor of `h` heads of `hs` each. */
static void att_strides(bool in3d, int64_t h, int64_t s, int64_t hs, int64_t st[3]) {
    if (in3d) st[0] = s * h * hs, st[1] = hs, st[2] = h * hs;
    else st[0] = h * s * hs, st[1] = s * hs, st[2] = hs;
}

/* The mask's strides over (batch, q head, q row) after right-aligned broadcasting and
 * its key count; false + error when it does not broadcast. */
static bool att_mask_view(const Node *n, AttnView *a, Diag *d) {
    const Value *m = a->mask;
    if (m->rank < 1 || m->rank > 4) {
        diag_error(d, n, "attn_mask must have rank 1 to 4, got %d", m->rank);
        return false;
    }
    if (m->dtype != DT_BOOL && m->dtype != a->t) {
        diag_error(d, n, "attn_mask of type %s with inputs of type %s is not supported "
                   "(bool or the inputs' type)", dtype_name(m->dtype), dtype_name(a->t));
        return false;
    }
    a->Lm = m->dims[m->rank - 1];
    if (a->Lm > a->L) {
        diag_error(d, n, "attn_mask has %lld keys, more than the %lld of past and present",
                   (long long)a->Lm, (long long)a->L);
        return false;
    }
    const int64_t target[3] = {a->B, a->Hq, a->S};
    int64_t stride = a->Lm;
    for (int k = 2; k >= 0; k--) {
        int md = m->rank - 1 - (3 - k);          /* the mask dim matching target k */
        int64_t dim = md >= 0 ? m->dims[md] : 1;
        if (dim != 1 && dim != target[k]) {
            diag_error(d, n, "attn_mask dim %d (%lld) does not broadcast to %lld", md,
                       (long long)dim, (long long)target[k]);
            return false;
        }
        a->ms[k] = dim == 1 ? 0 : stride;
        stride *= dim;
    }
    return true;
}

static bool att_check_past(const Node *n, AttnView *a, Diag *d) {
    const Value *pk = att_in(n, ATT_PAST_K), *pv = att_in(n, ATT_PAST_V);
    a->has_past = pk || pv;
    a->P = 0;
    if (!a->has_past) return true;
    if (!pk || !pv) {
        diag_error(d, n, "past_key and past_value must be given together");
        return false;
    }
    if (!op_require_shape(n, ATT_PAST_K, d) || !op_require_shape(n, ATT_PAST_V, d))
        return false;
    if (pk->rank != 4 || pv->rank != 4 || pk->dtype != a->t || pv->dtype != a->t) {
        diag_error(d, n, "past_key and past_value must be 4-D of type %s",
                   dtype_name(a->t));
        return false;
    }
    a->P = pk->dims[2];
    if (pk->dims[0] != a->B || pk->dims[1] != a->Hkv || pk->dims[3] != a->Dk ||
        pv->dims[0] != a->B || pv->dims[1] != a->Hkv || pv->dims[2] != a->P ||
        pv->dims[3] != a->Dv) {
        diag_error(d, n, "past_key/past_value must be [%lld][%lld][P][%lld] and "
                   "[%lld][%lld][P][%lld]", (long long)a->B, (long long)a->Hkv,
                   (long long)a->Dk, (long long)a->B, (long long)a->Hkv, (long long)a->Dv);
        return false;
    }
    return true;
}

static bool att_check_nonpad(const Node *n, AttnView *a, Diag *d) {
    const Value *np = att_in(n, ATT_NONPAD);
    a->has_nonpad = np != NULL;
    if (!np) return true;
    if (n->opset < 24) {
        diag_error(d, n, "input nonpad_kv_seqlen needs opset 24");
        return false;
    }
    if (!op_require_shape(n, ATT_NONPAD, d)) return false;
    if (np->dtype != DT_INT64 || np->rank != 1 || np->dims[0] != a->B) {
        diag_error(d, n, "nonpad_kv_seqlen must be int64[%lld]", (long long)a->B);
        return false;
    }
    if (a->has_past) {
        diag_error(d, n, "nonpad_kv_seqlen cannot be combined with past_key/past_value");
        return false;
    }
    return true;
}

static bool att_check_attrs(const Node *n, AttnView *a, Diag *d) {
    int64_t causal = ir_attr_int(n, "is_causal", 0);
    int64_t mode = ir_attr_int(n, "qk_matmul_output_mode", 0);
    if ((causal != 0 && causal != 1) || mode < ATT_QK_RAW || mode > ATT_QK_SOFTMAX) {
        diag_error(d, n, "is_causal must be 0 or 1 and qk_matmul_output_mode 0 to 3, got "
                   "%lld and %lld", (long long)causal, (long long)mode);
        return false;
    }
    a->causal = causal != 0;
    a->mode = (int)mode;
    a->left = n->opset >= 25 ? ir_attr_int(n, "left_window_size", -1) : -1;
    a->right = n->opset >= 25 ? ir_attr_int(n, "right_window_size", -1) : -1;
    if (a->left < -1 || a->right < -1) {
        diag_error(d, n, "left_window_size and right_window_size must be -1 or >= 0, got "
                   "%lld and %lld", (long long)a->left, (long long)a->right);
        return false;
    }
    /* The reference scales Q and K each by sqrt(scale), rounded to the input type. */
    double scale = ir_attr(n, "scale") ? (double)ir_attr_float(n, "scale", 1.0f)
                                       : 1.0 / sqrt((double)a->Dk);
    if (!(scale >= 0) || isinf(scale)) {
        diag_error(d, n, "scale %g is not supported (it must be finite and >= 0: Q and K "
                   "are each scaled by its square root)", scale);
        return false;
    }
    a->scale_sqrt = sqrt(scale);
    a->scale_sqrt = ou_round_to(a->t, a->scale_sqrt);
    a->softcap = ir_attr_float(n, "softcap", 0.0f);
    if (!(a->softcap > 0)) a->softcap = 0;
    return att_softmax_type(n, a->t, &a->st, d);
}

/* Q, K, V: ranks, types, heads and sizes. */
static bool att_check_qkv(const Node *n, AttnView *a, Diag *d) {
    for (int i = ATT_Q; i <= ATT_V; i++)
        if (!op_require_shape(n, i, d)) return false;
    const Value *q = n->inputs[ATT_Q], *k = n->inputs[ATT_K], *v = n->inputs[ATT_V];
    if (!ou_check_dtype(n, ATT_Q, ou_float_types, d)) return false;
    a->t = q->dtype;
    if (k->dtype != a->t || v->dtype != a->t) {
        diag_error(d, n, "Q, K and V of types %s, %s, %s are not supported (one type)",
                   dtype_name(q->dtype), dtype_name(k->dtype), dtype_name(v->dtype));
        return false;
    }
    if ((q->rank != 3 && q->rank != 4) || k->rank != q->rank || v->rank != q->rank) {
        diag_error(d, n, "Q, K and V must all be 3-D or all 4-D, got ranks %d, %d, %d",
                   q->rank, k->rank, v->rank);
        return false;
    }
    a->in3d = q->rank == 3;
    int64_t qh = 0, kvh = 0;
    if (a->in3d) {
        qh = ir_attr_int(n, "q_num_heads", 0), kvh = ir_attr_int(n, "kv_num_heads", 0);
        if (qh <= 0 || kvh <= 0) {
            diag_error(d, n, "3-D inputs need q_num_heads and kv_num_heads > 0, got %lld "
                       "and %lld", (long long)qh, (long long)kvh);
            return false;
        }
    }
    int64_t kb, vb, vh, vs;
    if (!att_split(n, q, "Q", qh, &a->B, &a->Hq, &a->S, &a->Dk, d) ||
        !att_split(n, k, "K", kvh, &kb, &a->Hkv, &a->Skv, &a->Dk, d) ||
        !att_split(n, v, "V", kvh, &vb, &vh, &vs, &a->Dv, d))
        return false;
    int64_t dq = a->in3d ? q->dims[2] / qh : q->dims[3];
    if (kb != a->B || vb != a->B || vh != a->Hkv || vs != a->Skv || dq != a->Dk) {
        diag_error(d, n, "Q, K, V disagree: batch %lld/%lld/%lld, kv heads %lld/%lld, kv "
                   "sequence %lld/%lld, head size of Q %lld and K %lld", (long long)a->B,
                   (long long)kb, (long long)vb, (long long)a->Hkv, (long long)vh,
                   (long long)a->Skv, (long long)vs, (long long)dq, (long long)a->Dk);
        return false;
    }
    if (a->Hkv <= 0 || a->Hq % a->Hkv != 0 || a->Dk <= 0) {
        diag_error(d, n, "%lld query heads are not a multiple of %lld key/value heads, or "
                   "the head size %lld is not positive", (long long)a->Hq,
                   (long long)a->Hkv, (long long)a->Dk);
        return false;
    }
    a->reps = a->Hq / a->Hkv;
    return true;
}

/* Everything infer and emit need; false + error on a bad or unsupported node. */
static bool att_view(const Node *n, AttnView *a, Diag *d) {
    memset(a, 0, sizeof *a);
    if (!att_check_qkv(n, a, d) || !att_check_past(n, a, d) || !att_check_nonpad(n, a, d))
        return false;
    if (!i64_add(a->P, a->Skv, &a->L)) {
        diag_error(d, n, "past + present sequence length overflows");
        return false;
    }
    if (!att_check_attrs(n, a, d)) return false;
    att_strides(a->in3d, a->Hq, a->S, a->Dk, a->qs);
    att_strides(a->in3d, a->Hkv, a->Skv, a->Dk, a->ks);
    att_strides(a->in3d, a->Hkv, a->Skv, a->Dv, a->vs);
    att_strides(a->in3d, a->Hq, a->S, a->Dv, a->ys);
    a->mask = att_in(n, ATT_MASK);
    if (a->mask && (!op_require_shape(n, ATT_MASK, d) || !att_mask_view(n, a, d)))
        return false;
    return true;
}

/* ---- scratch -------------------------------------------------------------------------- */

/* The C type computations run in: double for double inputs, else float. */
static DType att_ct(DType t) { return t == DT_DOUBLE ? DT_DOUBLE : DT_FLOAT; }
/* The softmax's C type: double when the inputs or softmax_precision are double. */
static DType att_sct(const AttnView *a) {
    return a->t == DT_DOUBLE || a->st == DT_DOUBLE ? DT_DOUBLE : DT_FLOAT;
}

/* Scratch layout: [key cache][value cache] (when built there), scaled Q row (Dk), scores
 * row (L), output accumulator (Dv); each piece aligned. */
typedef struct AttnScratch {
    bool k_cache, v_cache;       /* the present K/V are built in scratch */
    size_t k_off, v_off, q_off, s_off, acc_off, total;
} AttnScratch;

static bool att_piece(size_t *at, int64_t count, size_t elem, size_t *off) {
    size_t bytes;
    if (!size_align_up(*at, ATT_ALIGN, off) || !size_mul((size_t)count, elem, &bytes) ||
        !size_add(*off, bytes, at))
        return false;
    return true;
}

static bool att_scratch_layout(const Node *n, const AttnView *a, AttnScratch *s) {
    memset(s, 0, sizeof *s);
    s->k_cache = a->has_past && !att_out(n, ATT_PRESENT_K);
    s->v_cache = a->has_past && !att_out(n, ATT_PRESENT_V);
    size_t es = dtype_size(a->t), cs = dtype_size(att_ct(a->t)), ss = dtype_size(att_sct(a));
    size_t at = 0;
    int64_t kn, vn;
    if (!i64_mul(a->B, a->Hkv, &kn) || !i64_mul(kn, a->L, &kn) || !i64_mul(kn, a->Dv, &vn) ||
        !i64_mul(kn, a->Dk, &kn))
        return false;
    if (!att_piece(&at, s->k_cache ? kn : 0, es, &s->k_off) ||
        !att_piece(&at, s->v_cache ? vn : 0, es, &s->v_off) ||
        !att_piece(&at, a->Dk, cs, &s->q_off) || !att_piece(&at, a->L, ss, &s->s_off) ||
        !att_piece(&at, a->Dv, cs, &s->acc_off))
        return false;
    s->total = at;
    return true;
}

static size_t att_scratch_bytes(const Node *n) {
    Diag d;
    diag_init(&d);
    AttnView a;
    AttnScratch s;
    bool ok = att_view(n, &a, &d) && att_scratch_layout(n, &a, &s);
    diag_free(&d);
    return ok ? s.total : 0;
}

static bool att_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    AttnView a;
    if (!att_view(n, &a, d)) return false;
    int64_t hv;
    AttnScratch s;
    if (!i64_mul(a.Hq, a.Dv, &hv) || !att_scratch_layout(n, &a, &s)) {
        diag_error(d, n, "output or scratch size overflows");
        return false;
    }
    int64_t y3[3] = {a.B, a.S, hv}, y4[4] = {a.B, a.Hq, a.S, a.Dv};
    if (!ou_set_output(n, n->outputs[ATT_Y], a.t, a.in3d ? 3 : 4, a.in3d ? y3 : y4, d))
        return false;
    int64_t pk[4] = {a.B, a.Hkv, a.L, a.Dk}, pv[4] = {a.B, a.Hkv, a.L, a.Dv};
    int64_t qk[4] = {a.B, a.Hq, a.S, a.L};
    Value *o;
    if ((o = (Value *)att_out(n, ATT_PRESENT_K)) && !ou_set_output(n, o, a.t, 4, pk, d))
        return false;
    if ((o = (Value *)att_out(n, ATT_PRESENT_V)) && !ou_set_output(n, o, a.t, 4, pv, d))
        return false;
    if ((o = (Value *)att_out(n, ATT_QK)) && !ou_set_output(n, o, a.t, 4, qk, d))
        return false;
    return true;
}

/* ---- emitted code helpers -------------------------------------------------------------- */

/* Declares `CT name` holding element `src` (an expression of type T) as a number. */
static void att_load(Emitter *e, DType t, const char *name, const char *src) {
    ou_emit_load(e, t, dtype_ctype(att_ct(t)), name, src);
}

/* Stores the number in variable `var` into lvalue `dst` of type t. */
static void att_store(Emitter *e, DType t, const char *dst, const char *var) {
    ou_emit_store(e, t, dst, var);
}

/* Rounds variable `var` (of C type vt, float or double) to type `to`, as the reference
 * does when a numpy result has that type. */
static void att_round(Emitter *e, DType to, DType vt, const char *var) {
    if (to == DT_DOUBLE || to == vt) return;
    if (to == DT_FLOAT) {
        emit_line(e, "%s = (double)(float)%s;", var, var);
        return;
    }
    ou_emit_round(e, to, var);
}

/* `if (m == m && !(v <= m)) m = v;`: a maximum that keeps a NaN once seen (np.max). */
static void att_max(Emitter *e, const char *m, const char *v) {
    emit_line(e, "if (%s == %s && !(%s <= %s)) %s = %s;", m, m, v, m, m, v);
}

/* present = concat(past, new) along the sequence, into `dst` ([B][Hkv][L][hs]). */
static void att_emit_concat(Emitter *e, const AttnView *a, const char *dst, int past,
                            int cur, const int64_t cs[3], int64_t hs) {
    const char *T = dtype_ctype(a->t);
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)a->B);
    emit_open(e, "for (int64_t g = 0; g < %lld; g++)", (long long)a->Hkv);
    emit_line(e, "%s *row = %s + (b * %lld + g) * %lld;", T, dst, (long long)a->Hkv,
              (long long)(a->L * hs));
    if (a->P > 0)
        emit_line(e, "memcpy(row, x%d + (b * %lld + g) * %lld, %lld * sizeof(%s));", past,
                  (long long)a->Hkv, (long long)(a->P * hs), (long long)(a->P * hs), T);
    emit_open(e, "for (int64_t s = 0; s < %lld; s++)", (long long)a->Skv);
    emit_line(e, "memcpy(row + (%lld + s) * %lld, x%d + b * %lld + g * %lld + s * %lld, "
              "%lld * sizeof(%s));", (long long)a->P, (long long)hs, cur, (long long)cs[0],
              (long long)cs[1], (long long)cs[2], (long long)hs, T);
    emit_close(e);
    emit_close(e);
    emit_close(e);
}

/* Declares `const T *name` at the key (or value) cache and sets st[] to its strides:
 * present output, scratch copy, or the input itself when there is no past. */
static void att_emit_cache(Emitter *e, const Node *n, const AttnView *a, bool key,
                           const AttnScratch *s, int64_t st[3]) {
    const char *T = dtype_ctype(a->t);
    const int64_t hs = key ? a->Dk : a->Dv;
    const int out = key ? ATT_PRESENT_K : ATT_PRESENT_V, in = key ? ATT_K : ATT_V;
    const int past = key ? ATT_PAST_K : ATT_PAST_V;
    const char *name = key ? "kc" : "vc";
    const bool scratch = key ? s->k_cache : s->v_cache;
    char dst[64];
    if (att_out(n, out)) snprintf(dst, sizeof dst, "y%d", out);
    else if (scratch) snprintf(dst, sizeof dst, "(%s *)(scratch + %zu)", T,
                               key ? s->k_off : s->v_off);
    else dst[0] = 0;
    if (!dst[0]) {
        emit_line(e, "const %s *%s = x%d;", T, name, in);
        memcpy(st, key ? a->ks : a->vs, 3 * sizeof(int64_t));
        return;
    }
    emit_line(e, "/* present %s [%lld][%lld][%lld][%lld] = concat(past, new) */",
              key ? "key" : "value", (long long)a->B, (long long)a->Hkv, (long long)a->L,
              (long long)hs);
    emit_line(e, "%s *%s_w = %s;", T, name, dst);
    char w[16];
    snprintf(w, sizeof w, "%s_w", name);
    att_emit_concat(e, a, w, past, in, key ? a->ks : a->vs, hs);
    emit_line(e, "const %s *%s = %s_w;", T, name, name);
    st[0] = a->Hkv * a->L * hs, st[1] = a->L * hs, st[2] = hs;
}

/* "b * sb + qh * sh + i * si" over the loop counters, zero strides left out ("0" if
 * nothing is left), into buf (160 bytes). */
static const char *att_index(char *buf, size_t size, const int64_t st[3]) {
    static const char *const var[3] = {"b", "qh", "i"};
    size_t at = 0;
    buf[0] = 0;
    for (int k = 0; k < 3; k++) {
        if (!st[k]) continue;
        at += (size_t)snprintf(buf + at, size - at, "%s%s * %lld", at ? " + " : "", var[k],
                               (long long)st[k]);
        if (at >= size) BUG("index expression too long");
    }
    if (!at) snprintf(buf, size, "0");
    return buf;
}

/* Emits `CT bias` of key j in query row i (b, qh in scope) and `ok` handling. */
static void att_emit_bias(Emitter *e, const AttnView *a) {
    const char *CT = dtype_ctype(att_ct(a->t));
    char base[160], idx[200], src[224];
    if (a->mask) {
        snprintf(idx, sizeof idx, "%s + j", att_index(base, sizeof base, a->ms));
        snprintf(src, sizeof src, "x%d[%s]", ATT_MASK, idx);
    }
    if (!a->mask) {
        emit_line(e, "%s bias = 0;", CT);
    } else if (a->Lm == a->L && a->mask->dtype == DT_BOOL) {
        emit_line(e, "%s bias = %s ? 0 : -(%s)ONNXCC_INF;   /* mask */", CT, src, CT);
    } else if (a->Lm == a->L && !ou_is_half(a->t)) {
        emit_line(e, "%s bias = %s;   /* mask */", CT, src);
    } else {
        /* a half mask needs a block to convert; a short mask counts as masked past its end */
        emit_line(e, "%s bias = -(%s)ONNXCC_INF;", CT, CT);
        if (a->Lm < a->L) emit_open(e, "if (j < %lld)   /* the mask's keys */", (long long)a->Lm);
        else {
            emit_line(e, "{");
            e->indent++;
        }
        if (a->mask->dtype == DT_BOOL) {
            emit_line(e, "bias = %s ? 0 : -(%s)ONNXCC_INF;", src, CT);
        } else {
            att_load(e, a->t, "mv", src);
            emit_line(e, "bias = mv;");
        }
        emit_close(e);
    }
    bool window = a->left >= 0 || a->right >= 0;
    if (!a->causal && !window && !a->has_nonpad) return;
    emit_line(e, "bool ok = true;");
    if (a->causal) emit_line(e, "ok = ok && j <= i + off;   /* causal, bottom-right */");
    if (a->left >= 0) emit_line(e, "ok = ok && i + off - j <= %lld;   /* left window */",
                                (long long)a->left);
    if (a->right >= 0) emit_line(e, "ok = ok && j - (i + off) <= %lld;   /* right window */",
                                 (long long)a->right);
    if (a->has_nonpad) emit_line(e, "ok = ok && j < nv;   /* padding keys */");
    emit_line(e, "if (!ok) bias += -(%s)ONNXCC_INF;", CT);
}

/* Emits s = softcap * tanh(s / softcap), rounded as the reference rounds. */
static void att_emit_softcap(Emitter *e, const AttnView *a) {
    DType ct = att_ct(a->t);
    char c[32];
    const double cap = ou_round_to(a->t, a->softcap);
    if (ct == DT_FLOAT) c_float(c, (float)cap);
    else c_double(c, cap);
    emit_line(e, "s = s / %s;", c);
    att_round(e, a->t, ct, "s");
    emit_line(e, "s = %s(s);", ct == DT_FLOAT ? "tanhf" : "tanh");
    att_round(e, a->t, ct, "s");
    emit_line(e, "s = s * %s;", c);
    att_round(e, a->t, ct, "s");
}

/* The qk_matmul_output element of key j, from variable var. */
static void att_emit_qk_out(Emitter *e, const AttnView *a, const char *var) {
    char dst[128];
    snprintf(dst, sizeof dst, "y%d[((b * %lld + qh) * %lld + i) * %lld + j]", ATT_QK,
             (long long)a->Hq, (long long)a->S, (long long)a->L);
    att_store(e, a->t, dst, var);
}

/* Scores row: sc[j] = biased, softcapped (Q*sqrt(scale)) . (K*sqrt(scale)). */
static void att_emit_scores(Emitter *e, const Node *n, const AttnView *a,
                            const int64_t kst[3]) {
    DType ct = att_ct(a->t), sct = att_sct(a);
    const char *CT = dtype_ctype(ct), *SCT = dtype_ctype(sct);
    bool qk = att_out(n, ATT_QK) != NULL;
    char scl[32];
    if (ct == DT_FLOAT) c_float(scl, (float)a->scale_sqrt);
    else c_double(scl, a->scale_sqrt);
    emit_line(e, "/* Q row scaled by sqrt(scale) */");
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)a->Dk);
    att_load(e, a->t, "qv", "qr[c]");
    emit_line(e, "qv = qv * %s;", scl);
    att_round(e, a->t, ct, "qv");
    emit_line(e, "qs[c] = qv;");
    emit_close(e);
    emit_line(e, "%s bmax = -(%s)ONNXCC_INF;   /* the bias's row maximum */", CT, CT);
    emit_line(e, "%s mx = -(%s)ONNXCC_INF;   /* the scores' row maximum */", SCT, SCT);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)a->L);
    emit_line(e, "const %s *kr = kh + j * %lld;", dtype_ctype(a->t), (long long)kst[2]);
    emit_line(e, "%s s = 0;", CT);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)a->Dk);
    att_load(e, a->t, "kv", "kr[c]");
    emit_line(e, "kv = kv * %s;", scl);
    att_round(e, a->t, ct, "kv");
    emit_line(e, "s += qs[c] * kv;");
    emit_close(e);
    att_round(e, a->t, ct, "s");
    if (a->softcap > 0) att_emit_softcap(e, a);
    if (qk && a->mode <= ATT_QK_MASKED) att_emit_qk_out(e, a, "s");
    att_emit_bias(e, a);
    att_max(e, "bmax", "bias");
    emit_line(e, "%s xv = s + bias;", CT);
    att_round(e, a->t, ct, "xv");
    if (qk && a->mode == ATT_QK_BIASED) att_emit_qk_out(e, a, "xv");
    emit_line(e, "%s xs = (%s)xv;", SCT, SCT);
    att_round(e, a->st, sct, "xs");
    emit_line(e, "sc[j] = xs;");
    att_max(e, "mx", "xs");
    emit_close(e);
}

/* Softmax of the scores row in the softmax type, then the fully-masked-row guard. */
static void att_emit_softmax(Emitter *e, const Node *n, const AttnView *a) {
    DType sct = att_sct(a);
    const char *SCT = dtype_ctype(sct);
    long long L = (long long)a->L;
    emit_line(e, "/* softmax in %s; an all -inf row (mx = -inf) gives zeros */",
              dtype_name(a->st));
    emit_line(e, "const %s safe = mx == -(%s)ONNXCC_INF ? 0 : mx;", SCT, SCT);
    emit_line(e, "%s sum = 0;", SCT);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", L);
    emit_line(e, "%s t = sc[j] - safe;", SCT);
    att_round(e, a->st, sct, "t");
    emit_line(e, "t = %s(t);", sct == DT_FLOAT ? "expf" : "exp");
    att_round(e, a->st, sct, "t");
    emit_line(e, "sc[j] = t;");
    emit_line(e, "sum += t;");
    /* numpy sums float16 in float; ml_dtypes rounds bfloat16 at each addition */
    if (a->st == DT_BFLOAT16) att_round(e, a->st, sct, "sum");
    emit_close(e);
    if (a->st != DT_BFLOAT16) att_round(e, a->st, sct, "sum");
    emit_line(e, "if (sum == 0) sum = 1;");
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", L);
    emit_line(e, "%s p = sc[j] / sum;", SCT);
    att_round(e, a->st, sct, "p");
    emit_line(e, "sc[j] = bmax == -(%s)ONNXCC_INF ? 0 : p;   /* no key allowed: 0 */",
              dtype_ctype(att_ct(a->t)));
    if (att_out(n, ATT_QK) && a->mode == ATT_QK_SOFTMAX) att_emit_qk_out(e, a, "sc[j]");
    emit_close(e);
}

/* Y row = P V, P rounded to the input type first. */
static void att_emit_pv(Emitter *e, const AttnView *a, const int64_t vst[3]) {
    DType ct = att_ct(a->t);
    const char *CT = dtype_ctype(ct);
    emit_line(e, "for (int64_t c = 0; c < %lld; c++) acc[c] = 0;", (long long)a->Dv);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)a->L);
    emit_line(e, "%s p = (%s)sc[j];", CT, CT);
    att_round(e, a->t, ct, "p");
    emit_line(e, "const %s *vr = vh + j * %lld;", dtype_ctype(a->t), (long long)vst[2]);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)a->Dv);
    att_load(e, a->t, "vv", "vr[c]");
    emit_line(e, "acc[c] += p * vv;");
    emit_close(e);
    emit_close(e);
    char idx[160];
    emit_line(e, "%s *yr = y0 + %s;", dtype_ctype(a->t), att_index(idx, sizeof idx, a->ys));
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)a->Dv);
    att_store(e, a->t, "yr[c]", "acc[c]");
    emit_close(e);
}

static bool att_emit(Emitter *e, const Node *n, Diag *d) {
    AttnView a;
    AttnScratch s;
    if (!att_view(n, &a, d)) return false;
    if (!att_scratch_layout(n, &a, &s)) {
        diag_error(d, n, "scratch size overflows");
        return false;
    }
    const char *T = dtype_ctype(a.t), *CT = dtype_ctype(att_ct(a.t));
    const char *SCT = dtype_ctype(att_sct(&a));
    char sq[128], sk[128], sv[128];
    emit_line(e, "/* Attention: Q %s, K %s, V %s; %lld query heads over %lld key/value "
              "heads, %lld past + %lld new keys */", ou_shape(sq, sizeof sq, n->inputs[0]),
              ou_shape(sk, sizeof sk, n->inputs[1]), ou_shape(sv, sizeof sv, n->inputs[2]),
              (long long)a.Hq, (long long)a.Hkv, (long long)a.P, (long long)a.Skv);
    int64_t kst[3], vst[3];
    att_emit_cache(e, n, &a, true, &s, kst);
    att_emit_cache(e, n, &a, false, &s, vst);
    emit_line(e, "%s *qs = (%s *)(scratch + %zu);   /* [%lld] */", CT, CT, s.q_off,
              (long long)a.Dk);
    emit_line(e, "%s *sc = (%s *)(scratch + %zu);   /* [%lld] scores, then probabilities */",
              SCT, SCT, s.s_off, (long long)a.L);
    emit_line(e, "%s *acc = (%s *)(scratch + %zu);   /* [%lld] */", CT, CT, s.acc_off,
              (long long)a.Dv);
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)a.B);
    bool need_off = a.causal || a.left >= 0 || a.right >= 0;
    if (a.has_nonpad) {
        /* clamped to [0, L + S]: beyond, every key is allowed either way */
        emit_line(e, "int64_t nv = x%d[b];", ATT_NONPAD);
        emit_line(e, "nv = nv < 0 ? 0 : nv > %lld ? %lld : nv;", (long long)(a.L + a.S),
                  (long long)(a.L + a.S));
        if (need_off) emit_line(e, "const int64_t off = nv - %lld;", (long long)a.S);
    } else if (need_off) {
        emit_line(e, "const int64_t off = %lld;", (long long)a.P);
    }
    emit_open(e, "for (int64_t qh = 0; qh < %lld; qh++)", (long long)a.Hq);
    emit_line(e, "const int64_t g = qh / %lld;   /* its key/value head */", (long long)a.reps);
    emit_line(e, "const %s *kh = kc + b * %lld + g * %lld;", T, (long long)kst[0],
              (long long)kst[1]);
    emit_line(e, "const %s *vh = vc + b * %lld + g * %lld;", T, (long long)vst[0],
              (long long)vst[1]);
    emit_open(e, "for (int64_t i = 0; i < %lld; i++)", (long long)a.S);
    char idx[160];
    emit_line(e, "const %s *qr = x0 + %s;", T, att_index(idx, sizeof idx, a.qs));
    att_emit_scores(e, n, &a, kst);
    att_emit_softmax(e, n, &a);
    att_emit_pv(e, &a, vst);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

static int64_t att_flops(const Node *n) {
    AttnView a;
    Diag d;
    diag_init(&d);
    bool ok = att_view(n, &a, &d);
    diag_free(&d);
    int64_t f;
    if (!ok || !i64_mul(a.B, a.Hq, &f) || !i64_mul(f, a.S, &f) || !i64_mul(f, a.L, &f) ||
        !i64_mul(f, 2 * (a.Dk + a.Dv), &f))
        return -1;
    return f;
}

const OpDef op_attention = {
    .name = "Attention", .domain = "", .since = 23,
    .min_inputs = 3, .max_inputs = ATT_MAX_INPUTS,
    .min_outputs = 1, .max_outputs = ATT_MAX_OUTPUTS,
    .infer = att_infer, .emit = att_emit, .scratch_bytes = att_scratch_bytes,
    .flops = att_flops, .memory = OP_MEMORY_SEPARATE,
};
