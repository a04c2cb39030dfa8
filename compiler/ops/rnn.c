/* rnn.c: the recurrent layers RNN, GRU and LSTM, one engine for the three.
 *
 * The three ops share their inputs (X, W, R, B, sequence_lens, initial_h; LSTM adds
 * initial_c and the peepholes P), their attributes (direction, hidden_size, layout,
 * activations with activation_alpha/beta, clip) and their outputs (Y, Y_h; LSTM adds
 * Y_c).  They differ only in the gate equations of one time step:
 *   RNN   h = f(Wx + Rh + Wb + Rb)
 *   GRU   z, r = f(...); n = g(Wn x + Wbn + Rn (r . h) + Rbn)  (linear_before_reset:
 *         n = g(Wn x + Wbn + r . (Rn h + Rbn))); h = (1 - z) . n + z . h
 *   LSTM  i, o, f, c gates; i = f(.. + Pi . C), f = f(.. + Pf . C) (or 1 - i with
 *         input_forget), C = f . C + i . g(c); o = f(.. + Po . C); h = o . h(C)
 * clip bounds every gate's pre-activation to [-clip, clip] (as onnxruntime does; the cell
 * state fed to h is not clipped).
 *
 * A batch row never reads another row's state, so the engine runs, for each direction
 * and each batch row, the row's own time steps: forward from 0, or for the reverse
 * direction from its last valid step down to 0.  sequence_lens[b] (int32, read at run
 * time, 0 <= len <= seq_length) limits row b: Y is 0 past it and Y_h / Y_c hold the state
 * after its last step.  The weights are read at run time (they are graph inputs in the
 * conformance models).  fold runs the same engine in double on constant inputs.
 *
 * Emitted code: float nodes take the runtime's kernels (see "the float path" below: one
 * GEMM for the input projection of all steps, R^T packed once per run, a small GEMM per
 * step over the batch rows together, vector Sigmoid/Tanh over whole gate blocks); double
 * nodes, and empty ones, run the engine above as plain loops.
 *
 * layout 0: X [seq][batch][input], Y [seq][dirs][batch][hidden], Y_h [dirs][batch][hidden];
 * layout 1: X [batch][seq][input], Y [batch][seq][dirs][hidden], Y_h [batch][dirs][hidden].
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"
#include "onnxcc_gemm.h"

/* ---- the three ops as data -------------------------------------------------------------- */

typedef enum RnnKind { RNN_SIMPLE, RNN_GRU, RNN_LSTM } RnnKind;

enum {
    RNN_MAX_ACTS = 3,          /* f, g, h (LSTM) */
    RNN_MAX_DIRS = 2,
    RNN_IN_X = 0, RNN_IN_W, RNN_IN_R, RNN_IN_B, RNN_IN_SEQLEN, RNN_IN_H0, RNN_IN_C0, RNN_IN_P,
    RNN_OUT_Y = 0, RNN_OUT_YH, RNN_OUT_YC,
    LSTM_PEEPHOLES = 3,        /* P holds Pi, Po, Pf */
};

typedef struct RnnSpec {
    RnnKind kind;
    int gates;                 /* rows of W per hidden unit: 1, 3 (z r h), 4 (i o f c) */
    int n_acts;                /* activation functions per direction */
    const char *default_acts[RNN_MAX_ACTS];
} RnnSpec;

static const RnnSpec spec_rnn = { RNN_SIMPLE, 1, 1, { "Tanh" } };
static const RnnSpec spec_gru = { RNN_GRU, 3, 2, { "Sigmoid", "Tanh" } };
static const RnnSpec spec_lstm = { RNN_LSTM, 4, 3, { "Sigmoid", "Tanh", "Tanh" } };

/* The activation functions the spec lists; onnxruntime's defaults for alpha and beta. */
typedef enum ActKind {
    ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHOLDEDRELU,
    ACT_SCALEDTANH, ACT_HARDSIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS,
} ActKind;

typedef struct ActInfo {
    const char *name;
    ActKind kind;
    bool uses_alpha, uses_beta;
    float alpha, beta;         /* when the lists run out */
} ActInfo;

static const ActInfo act_table[] = {
    { "Relu", ACT_RELU, false, false, 0, 0 },
    { "Tanh", ACT_TANH, false, false, 0, 0 },
    { "Sigmoid", ACT_SIGMOID, false, false, 0, 0 },
    { "Affine", ACT_AFFINE, true, true, 0, 0 },
    { "LeakyRelu", ACT_LEAKYRELU, true, false, 0.01f, 0 },
    { "ThresholdedRelu", ACT_THRESHOLDEDRELU, true, false, 0, 0 },
    { "ScaledTanh", ACT_SCALEDTANH, true, true, 0, 0 },
    { "HardSigmoid", ACT_HARDSIGMOID, true, true, 0.2f, 0.5f },
    { "Elu", ACT_ELU, true, false, 1.0f, 0 },
    { "Softsign", ACT_SOFTSIGN, false, false, 0, 0 },
    { "Softplus", ACT_SOFTPLUS, false, false, 0, 0 },
};

typedef struct RnnAct {
    ActKind kind;
    const char *name;
    float alpha, beta;
} RnnAct;

/* Everything one node's computation needs, checked. */
typedef struct RnnGeom {
    const RnnSpec *spec;
    int dirs;                  /* 1 or 2 */
    bool reverse;              /* direction "reverse" (dirs == 1) */
    bool layout1;
    int64_t seq, batch, input, hidden;
    bool has_clip;
    float clip;
    bool linear_before_reset;  /* GRU */
    bool input_forget;         /* LSTM */
    RnnAct act[RNN_MAX_DIRS][RNN_MAX_ACTS];
    /* element strides */
    int64_t x_t, x_b;          /* X: step, batch row */
    int64_t y_t, y_d, y_b;     /* Y: step, direction, batch row */
    int64_t s_d, s_b;          /* initial_h/c, Y_h, Y_c: direction, batch row */
} RnnGeom;

static const RnnSpec *rnn_spec(const Node *n) { return (const RnnSpec *)n->op->data; }

/* Output k if the node has it (every output is optional). */
static Value *rnn_output(const Node *n, int k) { return k < n->n_outputs ? n->outputs[k] : NULL; }

static const DType rnn_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

static bool same_name_ci(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

/* ---- attribute and shape checks ------------------------------------------------------- */

static bool rnn_direction(const Node *n, RnnGeom *gm, Diag *d) {
    const char *dir = ir_attr_string(n, "direction", "forward");
    gm->reverse = false;
    if (strcmp(dir, "forward") == 0) {
        gm->dirs = 1;
    } else if (strcmp(dir, "reverse") == 0) {
        gm->dirs = 1;
        gm->reverse = true;
    } else if (strcmp(dir, "bidirectional") == 0) {
        gm->dirs = 2;
    } else {
        diag_error(d, n, "direction '%s' is not forward, reverse or bidirectional", dir);
        return false;
    }
    return true;
}

/* activations, activation_alpha and activation_beta: the lists are consumed in order by
 * the functions that take a parameter (onnxruntime's rule), defaults when they run out. */
static bool rnn_activations(const Node *n, RnnGeom *gm, Diag *d) {
    const Attr *acts = ir_attr(n, "activations");
    const float *alphas, *betas;
    size_t n_alpha = ir_attr_floats(n, "activation_alpha", &alphas);
    size_t n_beta = ir_attr_floats(n, "activation_beta", &betas);
    int want = gm->spec->n_acts * gm->dirs;
    /* bidirectional with one direction's list: both use it (as onnxruntime does) */
    if (acts && acts->type == ATTR_STRINGS && acts->count == (size_t)gm->spec->n_acts)
        want = gm->spec->n_acts;
    if (acts && (acts->type != ATTR_STRINGS || acts->count != (size_t)want)) {
        diag_error(d, n, "activations must list %d functions (%d per direction), it has %zu",
                   gm->spec->n_acts * gm->dirs, gm->spec->n_acts,
                   acts->type == ATTR_STRINGS ? acts->count : 0);
        return false;
    }
    size_t ia = 0, ib = 0;
    for (int k = 0; k < want; k++) {
        const char *name = acts ? acts->strings[k] : gm->spec->default_acts[k % gm->spec->n_acts];
        const ActInfo *info = NULL;
        for (size_t t = 0; t < sizeof act_table / sizeof act_table[0]; t++)
            if (same_name_ci(name, act_table[t].name)) info = &act_table[t];
        if (!info) {
            diag_error(d, n, "activation '%s' is not one of the functions the spec lists", name);
            return false;
        }
        RnnAct *a = &gm->act[k / gm->spec->n_acts][k % gm->spec->n_acts];
        a->kind = info->kind;
        a->name = info->name;
        a->alpha = info->alpha;
        a->beta = info->beta;
        if (info->uses_alpha && ia < n_alpha) a->alpha = alphas[ia++];
        if (info->uses_beta && ib < n_beta) a->beta = betas[ib++];
    }
    if (want < gm->spec->n_acts * gm->dirs) memcpy(gm->act[1], gm->act[0], sizeof gm->act[0]);
    return true;
}

/* A 0/1 attribute. */
static bool rnn_flag(const Node *n, const char *name, bool *out, Diag *d) {
    const int64_t v = ir_attr_int(n, name, 0);
    if (v != 0 && v != 1) {
        diag_error(d, n, "%s must be 0 or 1, not %lld", name, (long long)v);
        return false;
    }
    *out = v == 1;
    return true;
}

/* Input i, when present, has dtype t and the given dims. */
static bool rnn_check_input(const Node *n, int i, const char *what, DType t, int rank,
                            const int64_t *dims, Diag *d) {
    const Value *v = op_input(n, i);
    if (!v) return true;
    if (!op_require_shape(n, i, d)) return false;
    if (v->dtype != t) {
        diag_error(d, n, "%s '%s' is %s, expected %s", what, v->name, dtype_name(v->dtype),
                   dtype_name(t));
        return false;
    }
    bool ok = v->rank == rank;
    for (int k = 0; ok && k < rank; k++) ok = v->dims[k] == dims[k];
    if (!ok) {
        char have[128], want[128] = "";
        size_t at = 0;
        for (int k = 0; k < rank && at < sizeof want; k++)
            at += (size_t)snprintf(want + at, sizeof want - at, "[%lld]", (long long)dims[k]);
        diag_error(d, n, "%s %s must have shape %s", what, ou_shape(have, sizeof have, v), want);
        return false;
    }
    return true;
}

/* X, W and R: the sizes, and the hidden size against the attribute. */
static bool rnn_sizes(const Node *n, RnnGeom *gm, Diag *d) {
    for (int i = RNN_IN_X; i <= RNN_IN_R; i++)
        if (!op_require_shape(n, i, d)) return false;
    if (!ou_check_dtype(n, RNN_IN_X, rnn_types, d)) return false;
    const Value *x = n->inputs[RNN_IN_X], *w = n->inputs[RNN_IN_W], *r = n->inputs[RNN_IN_R];
    if (x->rank != 3 || w->rank != 3 || r->rank != 3) {
        diag_error(d, n, "X, W and R must have rank 3 (they have %d, %d, %d)", x->rank,
                   w->rank, r->rank);
        return false;
    }
    gm->seq = x->dims[gm->layout1 ? 1 : 0];
    gm->batch = x->dims[gm->layout1 ? 0 : 1];
    gm->input = x->dims[2];
    gm->hidden = r->dims[2];
    const int64_t hs = ir_attr_int(n, "hidden_size", gm->hidden);
    if (hs < 1) {
        diag_error(d, n, "hidden_size must be positive, not %lld", (long long)hs);
        return false;
    }
    if (hs != gm->hidden) {
        diag_error(d, n, "hidden_size %lld does not match R's last dimension %lld",
                   (long long)hs, (long long)gm->hidden);
        return false;
    }
    /* every product of sizes below (strides, gate rows, scratch) must fit */
    int64_t all = 2 * RNN_MAX_DIRS * gm->spec->gates + 2;
    const int64_t sizes[] = { gm->seq, gm->batch, gm->input, gm->hidden, gm->hidden };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        if (!i64_mul(all, sizes[k] > 1 ? sizes[k] : 1, &all) ||
            all > INT64_MAX / 8) {
            diag_error(d, n, "the sizes of X and R are too large");
            return false;
        }
    }
    const int64_t rows = gm->spec->gates * gm->hidden;
    return rnn_check_input(n, RNN_IN_W, "W", x->dtype, 3,
                           (int64_t[]){ gm->dirs, rows, gm->input }, d) &&
           rnn_check_input(n, RNN_IN_R, "R", x->dtype, 3,
                           (int64_t[]){ gm->dirs, rows, gm->hidden }, d);
}

/* The optional inputs B, sequence_lens, initial_h, initial_c, P. */
static bool rnn_optional_inputs(const Node *n, const RnnGeom *gm, Diag *d) {
    const DType t = n->inputs[RNN_IN_X]->dtype;
    const int64_t gh = gm->spec->gates * gm->hidden;
    const int64_t state[3] = { gm->layout1 ? gm->batch : gm->dirs,
                               gm->layout1 ? gm->dirs : gm->batch, gm->hidden };
    if (!rnn_check_input(n, RNN_IN_B, "B", t, 2, (int64_t[]){ gm->dirs, 2 * gh }, d) ||
        !rnn_check_input(n, RNN_IN_SEQLEN, "sequence_lens", DT_INT32, 1,
                         (int64_t[]){ gm->batch }, d) ||
        !rnn_check_input(n, RNN_IN_H0, "initial_h", t, 3, state, d))
        return false;
    if (gm->spec->kind != RNN_LSTM) return true;
    return rnn_check_input(n, RNN_IN_C0, "initial_c", t, 3, state, d) &&
           rnn_check_input(n, RNN_IN_P, "P", t, 2,
                           (int64_t[]){ gm->dirs, LSTM_PEEPHOLES * gm->hidden }, d);
}

static void rnn_strides(RnnGeom *gm) {
    const int64_t T = gm->seq, B = gm->batch, I = gm->input, H = gm->hidden, D = gm->dirs;
    if (gm->layout1) {
        gm->x_t = I, gm->x_b = T * I;
        gm->y_t = D * H, gm->y_d = H, gm->y_b = T * D * H;
        gm->s_d = H, gm->s_b = D * H;
    } else {
        gm->x_t = B * I, gm->x_b = I;
        gm->y_t = D * B * H, gm->y_d = B * H, gm->y_b = H;
        gm->s_d = B * H, gm->s_b = H;
    }
}

static bool rnn_geom(const Node *n, RnnGeom *gm, Diag *d) {
    memset(gm, 0, sizeof *gm);
    gm->spec = rnn_spec(n);
    const int64_t layout = ir_attr_int(n, "layout", 0);
    if (layout != 0 && layout != 1) {
        diag_error(d, n, "layout must be 0 or 1, not %lld", (long long)layout);
        return false;
    }
    gm->layout1 = layout == 1;
    if (!rnn_direction(n, gm, d) || !rnn_activations(n, gm, d) || !rnn_sizes(n, gm, d) ||
        !rnn_optional_inputs(n, gm, d))
        return false;
    const Attr *clip = ir_attr(n, "clip");
    if (clip) {
        gm->has_clip = true;
        gm->clip = clip->f;
        if (!(clip->f > 0) || isinf(clip->f)) {
            diag_error(d, n, "clip must be a positive finite threshold, not %g", (double)clip->f);
            return false;
        }
    }
    if (gm->spec->kind == RNN_GRU &&
        !rnn_flag(n, "linear_before_reset", &gm->linear_before_reset, d))
        return false;
    if (gm->spec->kind == RNN_LSTM && !rnn_flag(n, "input_forget", &gm->input_forget, d))
        return false;
    rnn_strides(gm);
    return true;
}

/* ---- infer ---------------------------------------------------------------------------- */

static bool rnn_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    RnnGeom gm;
    if (!rnn_geom(n, &gm, d)) return false;
    const DType t = n->inputs[RNN_IN_X]->dtype;
    const int64_t y[4] = { gm.layout1 ? gm.batch : gm.seq, gm.layout1 ? gm.seq : gm.dirs,
                           gm.layout1 ? gm.dirs : gm.batch, gm.hidden };
    const int64_t s[3] = { gm.layout1 ? gm.batch : gm.dirs, gm.layout1 ? gm.dirs : gm.batch,
                           gm.hidden };
    if (rnn_output(n, RNN_OUT_Y) && !ou_set_output(n, rnn_output(n, RNN_OUT_Y), t, 4, y, d))
        return false;
    for (int k = RNN_OUT_YH; k < n->n_outputs; k++)
        if (n->outputs[k] && !ou_set_output(n, n->outputs[k], t, 3, s, d)) return false;
    return true;
}

/* ---- fold: the engine in double ------------------------------------------------------- */

static double act_eval(const RnnAct *a, double v) {
    const double al = a->alpha, be = a->beta;
    switch (a->kind) {
    case ACT_RELU: return v > 0 ? v : 0;
    case ACT_TANH: return tanh(v);
    case ACT_SIGMOID: return 1 / (1 + exp(-v));
    case ACT_AFFINE: return al * v + be;
    case ACT_LEAKYRELU: return v >= 0 ? v : al * v;
    case ACT_THRESHOLDEDRELU: return v > al ? v : 0;
    case ACT_SCALEDTANH: return al * tanh(be * v);
    case ACT_HARDSIGMOID: {
        const double h = al * v + be;
        return h < 0 ? 0 : h > 1 ? 1 : h;
    }
    case ACT_ELU: return v >= 0 ? v : al * (exp(v) - 1);
    case ACT_SOFTSIGN: return v / (1 + fabs(v));
    case ACT_SOFTPLUS: return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
    }
    return v;
}

/* Clip, then the activation. */
static double gate_eval(const RnnGeom *gm, const RnnAct *a, double v) {
    if (gm->has_clip) v = v > gm->clip ? gm->clip : v < -gm->clip ? -gm->clip : v;
    return act_eval(a, v);
}

/* The folder's view of the inputs of one direction. */
typedef struct FoldDir {
    const Value *x, *w, *r, *b, *p;
    int64_t w_at, r_at, b_at, p_at;     /* element offsets of this direction */
    const RnnAct *act;
} FoldDir;

/* out[k] = bias + sum_j M[k][j] * v[j] for k in [k0, k1), M with `cols` columns. */
static void fold_gemv(const Value *m, int64_t m_at, int64_t cols, const double *v,
                      const Value *bias, int64_t b_at, int64_t k0, int64_t k1, double *out) {
    for (int64_t k = k0; k < k1; k++) {
        double acc = bias ? ou_get_f64(bias, b_at + k) : 0;
        for (int64_t j = 0; j < cols; j++) acc += ou_get_f64(m, m_at + k * cols + j) * v[j];
        out[k] = acc;
    }
}

/* One time step of batch row state h (and c), x the row's input at that step. */
static void fold_step(const RnnGeom *gm, const FoldDir *fd, const double *x, double *h,
                      double *c, double *wx, double *rh, double *tmp) {
    const int64_t H = gm->hidden, GH = gm->spec->gates * H;
    fold_gemv(fd->w, fd->w_at, gm->input, x, fd->b, fd->b_at, 0, GH, wx);
    const bool gru_late = gm->spec->kind == RNN_GRU && !gm->linear_before_reset;
    fold_gemv(fd->r, fd->r_at, H, h, fd->b, fd->b_at + GH, 0, gru_late ? 2 * H : GH, rh);
    switch (gm->spec->kind) {
    case RNN_SIMPLE:
        for (int64_t j = 0; j < H; j++) h[j] = gate_eval(gm, &fd->act[0], wx[j] + rh[j]);
        break;
    case RNN_GRU:
        for (int64_t j = 0; j < H; j++) {
            wx[j] = gate_eval(gm, &fd->act[0], wx[j] + rh[j]);              /* z */
            wx[H + j] = gate_eval(gm, &fd->act[0], wx[H + j] + rh[H + j]);  /* r */
            tmp[j] = wx[H + j] * h[j];
        }
        if (gru_late)
            fold_gemv(fd->r, fd->r_at, H, tmp, fd->b, fd->b_at + GH, 2 * H, GH, rh);
        for (int64_t j = 0; j < H; j++) {
            const double rec = gru_late ? rh[2 * H + j] : wx[H + j] * rh[2 * H + j];
            const double nn = gate_eval(gm, &fd->act[1], wx[2 * H + j] + rec);
            h[j] = (1 - wx[j]) * nn + wx[j] * h[j];
        }
        break;
    case RNN_LSTM:
        for (int64_t j = 0; j < H; j++) {
            const double pi = fd->p ? ou_get_f64(fd->p, fd->p_at + j) : 0;
            const double po = fd->p ? ou_get_f64(fd->p, fd->p_at + H + j) : 0;
            const double pf = fd->p ? ou_get_f64(fd->p, fd->p_at + 2 * H + j) : 0;
            const double gi = gate_eval(gm, &fd->act[0], wx[j] + rh[j] + pi * c[j]);
            const double gf = gm->input_forget
                                  ? 1 - gi
                                  : gate_eval(gm, &fd->act[0],
                                              wx[2 * H + j] + rh[2 * H + j] + pf * c[j]);
            const double gc = gate_eval(gm, &fd->act[1], wx[3 * H + j] + rh[3 * H + j]);
            c[j] = gf * c[j] + gi * gc;
            const double go = gate_eval(gm, &fd->act[0], wx[H + j] + rh[H + j] + po * c[j]);
            h[j] = go * act_eval(&fd->act[2], c[j]);
        }
        break;
    }
}

static bool rnn_fold(Graph *g, Node *n, Diag *d) {
    RnnGeom gm;
    if (!rnn_geom(n, &gm, d)) return false;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] && !ir_value_alloc_data(g, n->outputs[k], d)) return false;
    const int64_t H = gm.hidden, GH = gm.spec->gates * H, I = gm.input;
    const size_t bytes = sizeof(double) * (size_t)(2 * GH + 3 * H + I);
    double *buf = arena_alloc(&g->arena, bytes ? bytes : sizeof(double));
    if (!buf) {
        diag_error(d, n, "out of memory folding %s", n->op_type);
        return false;
    }
    double *wx = buf, *rh = wx + GH, *h = rh + GH, *c = h + H, *tmp = c + H, *xr = tmp + H;
    const Value *seq = op_input(n, RNN_IN_SEQLEN), *h0 = op_input(n, RNN_IN_H0);
    const Value *c0 = gm.spec->kind == RNN_LSTM ? op_input(n, RNN_IN_C0) : NULL;
    Value *y = rnn_output(n, RNN_OUT_Y), *yh = rnn_output(n, RNN_OUT_YH);
    Value *yc = rnn_output(n, RNN_OUT_YC);
    for (int dir = 0; dir < gm.dirs; dir++) {
        FoldDir fd = { n->inputs[RNN_IN_X], n->inputs[RNN_IN_W], n->inputs[RNN_IN_R],
                       op_input(n, RNN_IN_B),
                       gm.spec->kind == RNN_LSTM ? op_input(n, RNN_IN_P) : NULL,
                       dir * GH * I, dir * GH * H, dir * 2 * GH, dir * LSTM_PEEPHOLES * H,
                       gm.act[dir] };
        const bool rev = gm.reverse || dir == 1;
        for (int64_t b = 0; b < gm.batch; b++) {
            const int64_t len = seq ? ou_get_i64(seq, b) : gm.seq;
            if (len < 0 || len > gm.seq) {
                diag_error(d, n, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                           (long long)b, (long long)len, (long long)gm.seq);
                return false;
            }
            const int64_t s_at = dir * gm.s_d + b * gm.s_b;
            for (int64_t j = 0; j < H; j++) {
                h[j] = h0 ? ou_get_f64(h0, s_at + j) : 0;
                c[j] = c0 ? ou_get_f64(c0, s_at + j) : 0;
            }
            for (int64_t t = 0; y && t < gm.seq; t++)
                for (int64_t j = 0; j < H; j++)
                    ou_set_f64(y, t * gm.y_t + dir * gm.y_d + b * gm.y_b + j, 0);
            for (int64_t s = 0; s < len; s++) {
                const int64_t t = rev ? len - 1 - s : s;
                for (int64_t i = 0; i < I; i++)
                    xr[i] = ou_get_f64(fd.x, t * gm.x_t + b * gm.x_b + i);
                fold_step(&gm, &fd, xr, h, c, wx, rh, tmp);
                for (int64_t j = 0; y && j < H; j++)
                    ou_set_f64(y, t * gm.y_t + dir * gm.y_d + b * gm.y_b + j, h[j]);
            }
            for (int64_t j = 0; j < H; j++) {
                if (yh) ou_set_f64(yh, s_at + j, h[j]);
                if (yc) ou_set_f64(yc, s_at + j, c[j]);
            }
        }
    }
    return true;
}

/* ---- emit ----------------------------------------------------------------------------- */

/* Emitted-code spelling of the element type's math. */
typedef struct CMath {
    bool dbl;
    const char *T;
} CMath;

/* A literal of the element type. */
static const char *lit(const CMath *m, char *buf, double v) {
    return m->dbl ? c_double(buf, v) : c_float(buf, (float)v);
}

/* `dst = act(v);` for the variable v (already clipped). */
static void emit_act(Emitter *e, const CMath *m, const RnnAct *a, const char *dst,
                     const char *v) {
    const char *f = m->dbl ? "" : "f";
    char al[40], be[40], one[40];
    lit(m, al, a->alpha);
    lit(m, be, a->beta);
    lit(m, one, 1);
    switch (a->kind) {
    case ACT_RELU: emit_line(e, "%s = %s > 0 ? %s : 0;", dst, v, v); break;
    case ACT_TANH: emit_line(e, "%s = tanh%s(%s);", dst, f, v); break;
    case ACT_SIGMOID: emit_line(e, "%s = %s / (%s + exp%s(-%s));", dst, one, one, f, v); break;
    case ACT_AFFINE: emit_line(e, "%s = %s * %s + %s;", dst, al, v, be); break;
    case ACT_LEAKYRELU: emit_line(e, "%s = %s >= 0 ? %s : %s * %s;", dst, v, v, al, v); break;
    case ACT_THRESHOLDEDRELU: emit_line(e, "%s = %s > %s ? %s : 0;", dst, v, al, v); break;
    case ACT_SCALEDTANH: emit_line(e, "%s = %s * tanh%s(%s * %s);", dst, al, f, be, v); break;
    case ACT_HARDSIGMOID:
        emit_line(e, "%s = %s * %s + %s;", dst, al, v, be);
        emit_line(e, "%s = %s < 0 ? 0 : %s > %s ? %s : %s;", dst, dst, dst, one, one, dst);
        break;
    case ACT_ELU:
        emit_line(e, "%s = %s >= 0 ? %s : %s * (exp%s(%s) - %s);", dst, v, v, al, f, v, one);
        break;
    case ACT_SOFTSIGN: emit_line(e, "%s = %s / (%s + fabs%s(%s));", dst, v, one, f, v); break;
    case ACT_SOFTPLUS:
        emit_line(e, "%s = %s > 0 ? %s + log1p%s(exp%s(-%s)) : log1p%s(exp%s(%s));", dst, v, v,
                  f, f, v, f, f, v);
        break;
    }
}

/* `T v = pre;`, clipped, then `dst = act(v);`. */
static void emit_gate(Emitter *e, const CMath *m, const RnnGeom *gm, const RnnAct *a,
                      const char *dst, const char *pre) {
    emit_line(e, "{");
    e->indent++;
    emit_line(e, "%s v = %s;", m->T, pre);
    if (gm->has_clip) {
        char c[40];
        lit(m, c, gm->clip);
        emit_line(e, "v = v > %s ? %s : v < -%s ? -%s : v;   /* clip */", c, c, c, c);
    }
    emit_act(e, m, a, dst, "v");
    emit_close(e);
}

/* `out[k] = bias[k] + sum_j mat[k * cols + j] * vec[j]` for k in [k0, k1). */
static void emit_gemv(Emitter *e, const CMath *m, const char *out, const char *mat,
                      const char *vec, const char *bias, int64_t cols, int64_t k0, int64_t k1) {
    emit_open(e, "for (size_t k = %lld; k < %lld; k++)", (long long)k0, (long long)k1);
    if (bias) emit_line(e, "%s acc = %s[k];", m->T, bias);
    else emit_line(e, "%s acc = 0;", m->T);
    if (cols > 0) {   /* (a constant 0 bound would draw -Wtype-limits) */
        emit_line(e, "const %s *row = %s + k * %lld;", m->T, mat, (long long)cols);
        emit_line(e, "for (size_t j = 0; j < %lld; j++) acc += row[j] * %s[j];",
                  (long long)cols, vec);
    } else {
        emit_line(e, "(void)%s;", mat);
        emit_line(e, "(void)%s;", vec);
    }
    emit_line(e, "%s[k] = acc;", out);
    emit_close(e);
}

/* The gate equations of one step: wx and rh hold W x + Wb and R h + Rb. */
static void emit_step_gates(Emitter *e, const CMath *m, const RnnGeom *gm, const RnnAct *act,
                            bool has_b, bool has_p) {
    const long long H = (long long)gm->hidden;
    char one[40];
    lit(m, one, 1);
    if (gm->spec->kind == RNN_SIMPLE) {
        emit_open(e, "for (size_t j = 0; j < %lld; j++)", H);
        emit_gate(e, m, gm, &act[0], "h[j]", "wx[j] + rh[j]");
        emit_close(e);
        return;
    }
    if (gm->spec->kind == RNN_GRU) {
        const bool late = !gm->linear_before_reset;
        emit_line(e, "/* z = wx[0:H], r = wx[H:2H] after f; n from the rows [2H:3H] */");
        emit_open(e, "for (size_t j = 0; j < %lld; j++)", H);
        emit_gate(e, m, gm, &act[0], "wx[j]", "wx[j] + rh[j]");
        emit_gate(e, m, gm, &act[0], "wx[j + H]", "wx[j + H] + rh[j + H]");
        emit_line(e, "tmp[j] = wx[j + H] * h[j];   /* r . h */");
        emit_close(e);
        if (late) {
            emit_line(e, "/* Rn (r . h) + Rbn */");
            emit_gemv(e, m, "rh", "r", "tmp", has_b ? "rb" : NULL, H, 2 * H, 3 * H);
        }
        emit_open(e, "for (size_t j = 0; j < %lld; j++)", H);
        emit_line(e, "%s n;", m->T);
        emit_gate(e, m, gm, &act[1], "n",
                  late ? "wx[j + 2 * H] + rh[j + 2 * H]"
                       : "wx[j + 2 * H] + wx[j + H] * rh[j + 2 * H]");   /* r . (Rn h + Rbn) */
        emit_line(e, "h[j] = (%s - wx[j]) * n + wx[j] * h[j];", one);
        emit_close(e);
        return;
    }
    /* LSTM: gates i o f c at rows 0, H, 2H, 3H */
    emit_line(e, "/* gates i, o, f, c at rows 0, H, 2H, 3H%s */",
              has_p ? "; peepholes p = Pi, Po, Pf" : "");
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", H);
    emit_line(e, "%s gi, gf, gc, go;", m->T);
    emit_gate(e, m, gm, &act[0], "gi", has_p ? "wx[j] + rh[j] + p[j] * c[j]" : "wx[j] + rh[j]");
    if (gm->input_forget) emit_line(e, "gf = %s - gi;   /* input_forget */", one);
    else emit_gate(e, m, gm, &act[0], "gf",
                   has_p ? "wx[j + 2 * H] + rh[j + 2 * H] + p[j + 2 * H] * c[j]"
                         : "wx[j + 2 * H] + rh[j + 2 * H]");
    emit_gate(e, m, gm, &act[1], "gc", "wx[j + 3 * H] + rh[j + 3 * H]");
    emit_line(e, "c[j] = gf * c[j] + gi * gc;");
    emit_gate(e, m, gm, &act[0], "go", has_p ? "wx[j + H] + rh[j + H] + p[j + H] * c[j]"
                                             : "wx[j + H] + rh[j + H]");
    emit_act(e, m, &act[2], "h[j]", "c[j]");
    emit_line(e, "h[j] *= go;");
    emit_close(e);
}

/* Y[t] of the current direction and row `b`: its expression at step variable t. */
static void y_row(char *buf, size_t size, const RnnGeom *gm, int dir, const char *t) {
    snprintf(buf, size, "y0 + %s * %lld + %lld + b * %lld", t, (long long)gm->y_t,
             (long long)(dir * gm->y_d), (long long)gm->y_b);
}

/* One direction: every batch row through its own time steps. */
static void emit_direction(Emitter *e, const Node *n, const CMath *m, const RnnGeom *gm,
                           int dir) {
    const RnnKind kind = gm->spec->kind;
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    const long long I = (long long)gm->input, T = (long long)gm->seq;
    const bool rev = gm->reverse || dir == 1;
    const bool has_b = op_input(n, RNN_IN_B), has_seq = op_input(n, RNN_IN_SEQLEN);
    const bool has_h0 = op_input(n, RNN_IN_H0);
    const bool has_c0 = kind == RNN_LSTM && op_input(n, RNN_IN_C0);
    const bool has_p = kind == RNN_LSTM && op_input(n, RNN_IN_P);
    const bool has_y = rnn_output(n, RNN_OUT_Y) && gm->seq > 0;
    const bool has_yh = rnn_output(n, RNN_OUT_YH), has_yc = rnn_output(n, RNN_OUT_YC);
    char yr[128];

    emit_line(e, "/* direction %d: %s */", dir, rev ? "reverse" : "forward");
    emit_line(e, "{");
    e->indent++;
    emit_line(e, "const %s *w = x1 + %lld;   /* [%lld][%lld] */", m->T, (long long)dir * GH * I,
              GH, I);
    emit_line(e, "const %s *r = x2 + %lld;   /* [%lld][%lld] */", m->T, (long long)dir * GH * H,
              GH, H);
    if (has_b) {
        emit_line(e, "const %s *wb = x3 + %lld;", m->T, (long long)dir * 2 * GH);
        emit_line(e, "const %s *rb = wb + %lld;", m->T, GH);
    }
    if (has_p) emit_line(e, "const %s *p = x7 + %lld;   /* Pi Po Pf */", m->T,
                         (long long)dir * LSTM_PEEPHOLES * H);
    emit_open(e, "for (size_t b = 0; b < %lld; b++)", (long long)gm->batch);
    if (has_seq) {
        emit_line(e, "const int32_t len = x4[b];");
        emit_line(e, "if (len < 0 || len > %lld) return 1;   /* sequence_lens out of range */", T);
    } else {
        emit_line(e, "const size_t len = %lld;", T);
    }
    const long long s_at = (long long)(dir * gm->s_d);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", H);
    if (has_h0) emit_line(e, "h[j] = x5[%lld + b * %lld + j];", s_at, (long long)gm->s_b);
    else emit_line(e, "h[j] = 0;");
    if (kind == RNN_LSTM) {
        if (has_c0) emit_line(e, "c[j] = x6[%lld + b * %lld + j];", s_at, (long long)gm->s_b);
        else emit_line(e, "c[j] = 0;");
    }
    emit_close(e);

    emit_open(e, "for (size_t s = 0; s < (size_t)len; s++)");
    emit_line(e, "const size_t t = %s;", rev ? "(size_t)len - 1 - s" : "s");
    emit_line(e, "const %s *xt = x0 + t * %lld + b * %lld;   /* [%lld] */", m->T,
              (long long)gm->x_t, (long long)gm->x_b, I);
    emit_line(e, "/* wx = W x + Wb, rh = R h + Rb */");
    emit_gemv(e, m, "wx", "w", "xt", has_b ? "wb" : NULL, I, 0, GH);
    const bool gru_late = kind == RNN_GRU && !gm->linear_before_reset;
    emit_gemv(e, m, "rh", "r", "h", has_b ? "rb" : NULL, H, 0, gru_late ? 2 * H : GH);
    emit_step_gates(e, m, gm, gm->act[dir], has_b, has_p);
    if (has_y) {
        y_row(yr, sizeof yr, gm, dir, "t");
        emit_line(e, "memcpy(%s, h, sizeof(%s) * %lld);", yr, m->T, H);
    }
    emit_close(e);
    if (has_y) {
        y_row(yr, sizeof yr, gm, dir, "t");
        emit_line(e, "for (size_t t = (size_t)len; t < %lld; t++) "
                  "memset(%s, 0, sizeof(%s) * %lld);", T, yr, m->T, H);
    }
    if (has_yh)
        emit_line(e, "memcpy(y1 + %lld + b * %lld, h, sizeof(%s) * %lld);", s_at,
                  (long long)gm->s_b, m->T, H);
    if (has_yc)
        emit_line(e, "memcpy(y2 + %lld + b * %lld, c, sizeof(%s) * %lld);", s_at,
                  (long long)gm->s_b, m->T, H);
    emit_close(e);
    emit_close(e);
}

/* ---- emit: the float path, through the runtime's GEMM ---------------------------------
 *
 * float models (the exported ones) run as onnxruntime's kernels do:
 *  1. per direction, the input projection of every step and batch row at once, one GEMM
 *     xw[T * B][GH] = X W^T + (Wb + Rb) (GRU with linear_before_reset: Wb alone on the
 *     rows of n, whose Rbn the step multiplies by r);
 *  2. W^T and R^T copied once per run into the packed-B layout of onnxcc_gemm.h
 *     (onnxcc_f32_pack_b_t), so that each step's recurrent product rh[rows][GH] = h R^T
 *     is one small GEMM reading it in place (onnxcc_f32_gemm_rows_pb);
 *  3. the gate equations over contiguous gate blocks: Sigmoid and Tanh through the
 *     runtime's vector onnxcc_f32_act, the other activations, clip, peepholes and
 *     input_forget as plain loops.
 * Batch rows advance together; with sequence_lens each row runs alone (its own length).
 * double models keep the per-row loops above (emit_direction). */

/* Where the float path's buffers lie in scratch (offsets in floats).  R^T is packed in
 * one or two groups of columns: GRU without linear_before_reset multiplies the rows of n
 * by r . h, after the rows of z and r, so those are separate products. */
typedef struct FastPlan {
    int64_t wp, xw, rh, h, c, tmp, bias, total;
    int n_groups;
    int64_t g_col[2], g_cols[2], g_at[2];   /* first column, columns, packed offset */
} FastPlan;

/* rnn_sizes bounded the product of the sizes (times 2 * dirs * gates + 2) by
 * INT64_MAX / 8, so these sums of smaller products fit, in floats and in bytes. */
static void fast_plan(RnnKind kind, bool lbr, int64_t T, int64_t B, int64_t I, int64_t H,
                      int gates, FastPlan *p) {
    const int64_t GH = gates * H;
    const bool split = kind == RNN_GRU && !lbr;
    int64_t at = 0;
    p->n_groups = split ? 2 : 1;
    p->g_col[0] = 0, p->g_cols[0] = split ? 2 * H : GH;
    p->g_col[1] = 2 * H, p->g_cols[1] = H;
    for (int k = 0; k < p->n_groups; k++) {
        p->g_at[k] = at;
        at += (int64_t)onnxcc_packed_b_floats((size_t)H, (size_t)p->g_cols[k]);
    }
    p->wp = at, at += (int64_t)onnxcc_packed_b_floats((size_t)I, (size_t)GH);
    p->xw = at, at += T * B * GH;
    p->rh = at, at += B * GH;
    p->h = at, at += B * H;
    p->c = at, at += B * H;
    p->tmp = at, at += B * H;
    p->bias = at, at += GH;
    p->total = at;
}

/* Whether the float path applies: float32 (the runtime's GEMM and vector math) with at
 * least one step and one batch row (the empty cases keep the simple loops). */
static bool use_fast(const Node *n) {
    const Value *x = n->inputs[RNN_IN_X];
    return x->dtype == DT_FLOAT && x->rank == 3 && x->dims[0] > 0 && x->dims[1] > 0;
}

/* `dst[0 .. count) = act(src[0 .. count))` (dst may be src): Sigmoid and Tanh through
 * the runtime's vector math, the others as a loop of emit_act. */
static void emit_act_range(Emitter *e, const CMath *m, const RnnAct *a, const char *dst,
                           const char *src, long long count) {
    if (a->kind == ACT_SIGMOID || a->kind == ACT_TANH) {
        emit_line(e, "onnxcc_f32_act(%s, %s, %s, %lld, 0.0f, 0.0f);   /* %s */",
                  a->kind == ACT_SIGMOID ? "ONNXCC_ACT_SIGMOID" : "ONNXCC_ACT_TANH", src, dst,
                  count, a->name);
        return;
    }
    emit_open(e, "for (size_t j = 0; j < %lld; j++)   /* %s */", count, a->name);
    emit_line(e, "const float v = (%s)[j];", src);
    char out[160];
    snprintf(out, sizeof out, "(%s)[j]", dst);
    emit_act(e, m, a, out, "v");
    emit_close(e);
}

/* Clips a[from .. from + count) to [-clip, clip] when the node has clip. */
static void emit_clip_range(Emitter *e, const RnnGeom *gm, const char *a, long long from,
                            long long count) {
    if (!gm->has_clip) return;
    char c[40];
    c_float(c, gm->clip);
    emit_line(e, "for (size_t j = %lld; j < %lld; j++) %s[j] = onnxcc_clip(%s[j], -%s, %s);",
              from, from + count, a, a, c, c);
}

/* rh[rows][group's columns] = state[rows][H] x R^T (the group's packed columns): fewer
 * rows than a GEMM tile through onnxcc_f32_gemm_rows_pb, more through the GEMM. */
static void emit_rec_gemm(Emitter *e, const RnnGeom *gm, const FastPlan *p, int grp,
                          const char *rows, int64_t n_rows, const char *state) {
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    if (n_rows < ONNXCC_PACK_MR)
        emit_line(e, "onnxcc_f32_gemm_rows_pb(%s, %lld, %lld, %s, %lld, rp + %lld, rh + %lld, "
                  "%lld);", rows, (long long)p->g_cols[grp], H, state, H,
                  (long long)p->g_at[grp], (long long)p->g_col[grp], GH);
    else
        emit_line(e, "onnxcc_f32_gemm_pb(%s, %lld, %lld, 1.0f, %s, %lld, 1, rp + %lld, "
                  "rh + %lld, %lld, NULL, pool);", rows, (long long)p->g_cols[grp], H, state,
                  H, (long long)p->g_at[grp], (long long)p->g_col[grp], GH);
}

/* Opens the loop over the rows of the block: a = rh's row, x = xw's, hr (and cr) the
 * state's, tr (want_tr) tmp's. */
static void open_rows(Emitter *e, const RnnGeom *gm, const char *rows, long long xw_row,
                      bool want_tr) {
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    emit_open(e, "for (size_t row = 0; row < %s; row++)", rows);
    emit_line(e, "float *restrict a = rh + row * %lld;   /* [%lld] R h, then the gates */", GH,
              GH);
    emit_line(e, "const float *restrict x = xt + row * %lld;   /* [%lld] W x + bias */",
              xw_row * GH, GH);
    emit_line(e, "float *restrict hr = h + row * %lld;   /* [%lld] */", H, H);
    if (gm->spec->kind == RNN_LSTM) emit_line(e, "float *restrict cr = c + row * %lld;", H);
    if (want_tr) emit_line(e, "float *restrict tr = tmp + row * %lld;", H);
}

/* `a[from + j] += x[from + j]` over count columns. */
static void emit_add_x(Emitter *e, long long from, long long count) {
    emit_line(e, "for (size_t j = %lld; j < %lld; j++) a[j] += x[j];", from, from + count);
}

static void emit_fast_lstm(Emitter *e, const CMath *m, const RnnGeom *gm, const RnnAct *act,
                           bool has_p, const char *rows, long long xw_row) {
    const long long H = (long long)gm->hidden;
    emit_line(e, "/* gates i, o, f, c at columns 0, H, 2H, 3H%s */",
              has_p ? "; peepholes p = Pi, Po, Pf" : "");
    open_rows(e, gm, rows, xw_row, true);
    emit_add_x(e, 0, 4 * H);
    if (!has_p && !gm->input_forget) {
        emit_clip_range(e, gm, "a", 0, 4 * H);
        emit_act_range(e, m, &act[0], "a", "a", 3 * H);
    } else {
        if (has_p) emit_line(e, "for (size_t j = 0; j < H; j++) a[j] += p[j] * cr[j], "
                             "a[j + 2 * H] += p[j + 2 * H] * cr[j];");
        emit_clip_range(e, gm, "a", 0, H);
        emit_clip_range(e, gm, "a", 2 * H, 2 * H);
        emit_act_range(e, m, &act[0], "a", "a", H);
        if (gm->input_forget)
            emit_line(e, "for (size_t j = 0; j < H; j++) a[j + 2 * H] = 1.0f - a[j];   "
                      "/* input_forget */");
        else
            emit_act_range(e, m, &act[0], "a + 2 * H", "a + 2 * H", H);
    }
    emit_act_range(e, m, &act[1], "a + 3 * H", "a + 3 * H", H);
    emit_line(e, "for (size_t j = 0; j < H; j++) "
              "cr[j] = a[j + 2 * H] * cr[j] + a[j] * a[j + 3 * H];");
    if (has_p || gm->input_forget) {
        if (has_p) emit_line(e, "for (size_t j = 0; j < H; j++) a[j + H] += p[j + H] * cr[j];");
        emit_clip_range(e, gm, "a", H, H);
        emit_act_range(e, m, &act[0], "a + H", "a + H", H);
    }
    emit_act_range(e, m, &act[2], "tr", "cr", H);
    emit_line(e, "for (size_t j = 0; j < H; j++) hr[j] = a[j + H] * tr[j];");
    emit_close(e);
}

static void emit_fast_gru(Emitter *e, const CMath *m, const RnnGeom *gm, const FastPlan *p,
                          const RnnAct *act, bool has_b, const char *rows, int64_t n_rows,
                          long long xw_row) {
    const long long H = (long long)gm->hidden;
    const bool late = !gm->linear_before_reset;
    emit_line(e, "/* z = a[0:H], r = a[H:2H] after f; n from the columns [2H:3H] */");
    open_rows(e, gm, rows, xw_row, late);
    emit_add_x(e, 0, 2 * H);
    emit_clip_range(e, gm, "a", 0, 2 * H);
    emit_act_range(e, m, &act[0], "a", "a", 2 * H);
    if (late) {
        emit_line(e, "for (size_t j = 0; j < H; j++) tr[j] = a[j + H] * hr[j];   /* r . h */");
        emit_close(e);
        emit_line(e, "/* Rn (r . h) */");
        emit_rec_gemm(e, gm, p, 1, rows, n_rows, "tmp");
        open_rows(e, gm, rows, xw_row, false);
        emit_add_x(e, 2 * H, H);
    } else {
        emit_line(e, "/* r . (Rn h + Rbn) */");
        emit_line(e, "for (size_t j = 0; j < H; j++) a[j + 2 * H] = x[j + 2 * H] + "
                  "a[j + H] * (a[j + 2 * H]%s);", has_b ? " + rb[j + 2 * H]" : "");
    }
    emit_clip_range(e, gm, "a", 2 * H, H);
    emit_act_range(e, m, &act[1], "a + 2 * H", "a + 2 * H", H);
    emit_line(e, "for (size_t j = 0; j < H; j++) hr[j] = (1.0f - a[j]) * a[j + 2 * H] + "
              "a[j] * hr[j];");
    emit_close(e);
}

static void emit_fast_simple(Emitter *e, const CMath *m, const RnnGeom *gm, const RnnAct *act,
                             const char *rows, long long xw_row) {
    const long long H = (long long)gm->hidden;
    open_rows(e, gm, rows, xw_row, false);
    emit_add_x(e, 0, H);
    emit_clip_range(e, gm, "a", 0, H);
    emit_act_range(e, m, &act[0], "hr", "a", H);
    emit_close(e);
}

/* The state of the block's rows from initial_h / initial_c (or 0), or into Y_h / Y_c. */
static void emit_state_io(Emitter *e, const RnnGeom *gm, const char *rows, int dir,
                          bool load, bool h_io, bool c_io) {
    const long long H = (long long)gm->hidden, s_at = (long long)(dir * gm->s_d);
    const long long s_b = (long long)gm->s_b;
    const bool lstm = gm->spec->kind == RNN_LSTM;
    if (!h_io && !c_io && !load) return;
    emit_open(e, "for (size_t row = 0; row < %s; row++)", rows);
    if (load) {
        if (h_io) emit_line(e, "memcpy(h + row * %lld, x5 + %lld + (b0 + row) * %lld, "
                            "sizeof(float) * %lld);", H, s_at, s_b, H);
        else emit_line(e, "memset(h + row * %lld, 0, sizeof(float) * %lld);", H, H);
        if (lstm && c_io) emit_line(e, "memcpy(c + row * %lld, x6 + %lld + (b0 + row) * %lld, "
                                    "sizeof(float) * %lld);", H, s_at, s_b, H);
        else if (lstm) emit_line(e, "memset(c + row * %lld, 0, sizeof(float) * %lld);", H, H);
    } else {
        if (h_io) emit_line(e, "memcpy(y1 + %lld + (b0 + row) * %lld, h + row * %lld, "
                            "sizeof(float) * %lld);", s_at, s_b, H, H);
        if (c_io) emit_line(e, "memcpy(y2 + %lld + (b0 + row) * %lld, c + row * %lld, "
                            "sizeof(float) * %lld);", s_at, s_b, H, H);
    }
    emit_close(e);
}

/* Per direction: the biases, W and R packed, the input projection. */
static void emit_fast_prologue(Emitter *e, const Node *n, const RnnGeom *gm,
                               const FastPlan *p, int dir) {
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    const long long I = (long long)gm->input, TB = (long long)(gm->seq * gm->batch);
    const bool has_b = op_input(n, RNN_IN_B);
    const bool lbr = gm->spec->kind == RNN_GRU && gm->linear_before_reset;
    emit_line(e, "const float *w = x1 + %lld;   /* W [%lld][%lld] */", (long long)dir * GH * I,
              GH, I);
    emit_line(e, "const float *r = x2 + %lld;   /* R [%lld][%lld] */", (long long)dir * GH * H,
              GH, H);
    if (has_b) {
        emit_line(e, "const float *wb = x3 + %lld;", (long long)dir * 2 * GH);
        emit_line(e, "const float *rb = wb + %lld;", GH);
        if (lbr) emit_line(e, "/* bias = Wb + Rb (Wb alone on the rows of n: r . Rbn later) */");
        else emit_line(e, "/* bias = Wb + Rb */");
        emit_line(e, "for (size_t k = 0; k < %lld; k++) bias[k] = wb[k] + rb[k];",
                  lbr ? 2 * H : GH);
        if (lbr) emit_line(e, "for (size_t k = %lld; k < %lld; k++) bias[k] = wb[k];", 2 * H,
                           GH);
        emit_line(e, "const OnnxccEpilogue ep = { .bias = { bias, 0, 1 }, .bias_scale = 1.0f };");
    }
    emit_line(e, "/* W^T and R^T in the packed-B layout (panels of %d columns) */",
              ONNXCC_PACK_NR);
    emit_line(e, "onnxcc_f32_pack_b_t(%lld, %lld, w, %lld, wp);", GH, I, I);
    for (int g = 0; g < p->n_groups; g++)
        emit_line(e, "onnxcc_f32_pack_b_t(%lld, %lld, r + %lld, %lld, rp + %lld);%s",
                  (long long)p->g_cols[g], H, (long long)(p->g_col[g] * gm->hidden), H,
                  (long long)p->g_at[g],
                  p->n_groups == 1 ? "" : g == 0 ? "   /* z, r */" : "   /* n */");
    emit_line(e, "/* xw[%lld][%lld] = X W^T + bias: every step and row at once */", TB, GH);
    emit_line(e, "onnxcc_f32_gemm_pb(%lld, %lld, %lld, 1.0f, x0, %lld, 1, wp, xw, %lld, %s, "
              "pool);", TB, GH, I, I, GH, has_b ? "&ep" : "NULL");
}

/* One direction of the float path: the prologue, then the rows' time steps (all rows
 * together, or each alone with sequence_lens). */
static void emit_fast_direction(Emitter *e, const Node *n, const CMath *m, const RnnGeom *gm,
                                const FastPlan *p, int dir) {
    const RnnKind kind = gm->spec->kind;
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    const long long T = (long long)gm->seq, B = (long long)gm->batch;
    const bool rev = gm->reverse || dir == 1;
    const bool has_b = op_input(n, RNN_IN_B), has_seq = op_input(n, RNN_IN_SEQLEN);
    const bool has_p = kind == RNN_LSTM && op_input(n, RNN_IN_P);
    const bool has_y = rnn_output(n, RNN_OUT_Y) && gm->seq > 0;
    /* xw's rows in X's order: step t, batch row b at t * xw_t + b * xw_b */
    const long long xw_t = gm->layout1 ? 1 : B, xw_b = gm->layout1 ? T : 1;
    const char *rows = has_seq ? "1" : "nb";
    const int64_t n_rows = has_seq ? 1 : gm->batch;
    char yr[160];

    emit_line(e, "/* direction %d: %s */", dir, rev ? "reverse" : "forward");
    emit_line(e, "{");
    e->indent++;
    emit_fast_prologue(e, n, gm, p, dir);
    if (has_p) emit_line(e, "const float *p = x7 + %lld;   /* Pi Po Pf */",
                         (long long)dir * LSTM_PEEPHOLES * H);
    {
        if (has_seq) {
            emit_line(e, "/* each row alone, for its own length */");
            emit_open(e, "for (size_t b0 = 0; b0 < %lld; b0++)", B);
            emit_line(e, "const int32_t len = x4[b0];");
            emit_line(e, "if (len < 0 || len > %lld) return 1;   /* sequence_lens out of range */",
                      T);
        } else {
            emit_line(e, "/* all %lld rows together */", B);
            emit_line(e, "{");
            e->indent++;
            emit_line(e, "const size_t b0 = 0, nb = %lld, len = %lld;", B, T);
        }
        emit_state_io(e, gm, rows, dir, true, op_input(n, RNN_IN_H0),
                      kind == RNN_LSTM && op_input(n, RNN_IN_C0));
        emit_open(e, "for (size_t s = 0; s < (size_t)len; s++)");
        emit_line(e, "const size_t t = %s;", rev ? "(size_t)len - 1 - s" : "s");
        emit_line(e, "const float *xt = xw + (t * %lld + b0 * %lld) * %lld;   /* W x + bias */",
                  xw_t, xw_b, GH);
        emit_line(e, "/* rh = h R^T%s */", p->n_groups > 1 ? " (rows of z and r)" : "");
        emit_rec_gemm(e, gm, p, 0, rows, n_rows, "h");
        if (kind == RNN_LSTM) emit_fast_lstm(e, m, gm, gm->act[dir], has_p, rows, xw_b);
        else if (kind == RNN_GRU)
            emit_fast_gru(e, m, gm, p, gm->act[dir], has_b, rows, n_rows, xw_b);
        else emit_fast_simple(e, m, gm, gm->act[dir], rows, xw_b);
        if (has_y) {
            y_row(yr, sizeof yr, gm, dir, "t");
            emit_line(e, "for (size_t b = b0; b < b0 + %s; b++) memcpy(%s, h + (b - b0) * %lld, "
                      "sizeof(float) * %lld);", rows, yr, H, H);
        }
        emit_close(e);
        if (has_y && has_seq) {
            emit_line(e, "const size_t b = b0;");
            y_row(yr, sizeof yr, gm, dir, "t");
            emit_line(e, "for (size_t t = (size_t)len; t < %lld; t++) "
                      "memset(%s, 0, sizeof(float) * %lld);", T, yr, H);
        }
        emit_state_io(e, gm, rows, dir, false, rnn_output(n, RNN_OUT_YH),
                      rnn_output(n, RNN_OUT_YC) != NULL);
        emit_close(e);
    }
    emit_close(e);
}

/* The float path's body. */
static void emit_fast(Emitter *e, const Node *n, const CMath *m, const RnnGeom *gm) {
    const long long H = (long long)gm->hidden, GH = (long long)(gm->spec->gates * gm->hidden);
    const long long T = (long long)gm->seq, B = (long long)gm->batch;
    FastPlan p;
    if (gm->spec->kind != RNN_SIMPLE) emit_line(e, "enum { H = %lld };   /* gate block */", H);
    fast_plan(gm->spec->kind, gm->linear_before_reset, gm->seq, gm->batch, gm->input,
              gm->hidden, gm->spec->gates, &p);
    emit_line(e, "float *rp = (float *)scratch;   /* R^T packed: panels of [%lld][%d] */", H,
              ONNXCC_PACK_NR);
    emit_line(e, "float *wp = rp + %lld;   /* W^T packed: panels of [%lld][%d] */",
              (long long)p.wp, (long long)gm->input, ONNXCC_PACK_NR);
    emit_line(e, "float *xw = rp + %lld;   /* [%lld][%lld] W x + bias, every step and row */",
              (long long)p.xw, T * B, GH);
    emit_line(e, "float *rh = rp + %lld;   /* [%lld][%lld] R h, then the gates */",
              (long long)p.rh, B, GH);
    emit_line(e, "float *h = rp + %lld;   /* [%lld][%lld] hidden state */", (long long)p.h, B, H);
    if (gm->spec->kind == RNN_LSTM)
        emit_line(e, "float *c = rp + %lld;   /* [%lld][%lld] cell state */", (long long)p.c, B, H);
    if (gm->spec->kind == RNN_LSTM || (gm->spec->kind == RNN_GRU && !gm->linear_before_reset))
        emit_line(e, "float *tmp = rp + %lld;   /* [%lld][%lld] %s */", (long long)p.tmp, B, H,
                  gm->spec->kind == RNN_GRU ? "r . h" : "h(c)");
    if (op_input(n, RNN_IN_B))
        emit_line(e, "float *bias = rp + %lld;   /* [%lld] */", (long long)p.bias, GH);
    for (int dir = 0; dir < gm->dirs; dir++) emit_fast_direction(e, n, m, gm, &p, dir);
}

static const char *kind_gates(RnnKind k) {
    return k == RNN_SIMPLE ? "one gate" : k == RNN_GRU ? "gates z r n" : "gates i o f c";
}

static bool rnn_emit(Emitter *e, const Node *n, Diag *d) {
    RnnGeom gm;
    if (!rnn_geom(n, &gm, d)) return false;
    const CMath m = { n->inputs[RNN_IN_X]->dtype == DT_DOUBLE,
                      n->inputs[RNN_IN_X]->dtype == DT_DOUBLE ? "double" : "float" };
    const long long H = (long long)gm.hidden, GH = (long long)(gm.spec->gates * gm.hidden);
    char sx[128];
    emit_line(e, "/* %s over X %s (layout %d): seq %lld, batch %lld, input %lld, hidden %lld, "
              "%s, %d direction(s) */", n->op_type, ou_shape(sx, sizeof sx, n->inputs[0]),
              gm.layout1 ? 1 : 0, (long long)gm.seq, (long long)gm.batch, (long long)gm.input,
              H, kind_gates(gm.spec->kind), gm.dirs);
    if (use_fast(n)) {
        emit_fast(e, n, &m, &gm);
        return true;
    }
    if (gm.spec->kind != RNN_SIMPLE) emit_line(e, "enum { H = %lld };   /* gate block */", H);
    emit_line(e, "%s *wx = (%s *)scratch;   /* [%lld] W x + Wb */", m.T, m.T, GH);
    emit_line(e, "%s *rh = wx + %lld;   /* [%lld] R h + Rb */", m.T, GH, GH);
    emit_line(e, "%s *h = rh + %lld;   /* [%lld] hidden state */", m.T, GH, H);
    if (gm.spec->kind == RNN_LSTM)
        emit_line(e, "%s *c = h + %lld;   /* [%lld] cell state */", m.T, H, H);
    if (gm.spec->kind == RNN_GRU)
        emit_line(e, "%s *tmp = h + %lld;   /* [%lld] r . h */", m.T, H, H);
    for (int dir = 0; dir < gm.dirs; dir++) emit_direction(e, n, &m, &gm, dir);
    return true;
}

static size_t rnn_scratch(const Node *n) {
    const Value *x = n->inputs[RNN_IN_X], *r = n->inputs[RNN_IN_R];
    const int64_t gates = rnn_spec(n)->gates;
    if (use_fast(n)) {
        const bool layout1 = ir_attr_int(n, "layout", 0) == 1;
        FastPlan p;
        fast_plan(rnn_spec(n)->kind, ir_attr_int(n, "linear_before_reset", 0) == 1,
                  x->dims[layout1 ? 1 : 0], x->dims[layout1 ? 0 : 1], x->dims[2], r->dims[2],
                  (int)gates, &p);
        return (size_t)p.total * sizeof(float);
    }
    return (size_t)((2 * gates + 2) * r->dims[2]) * dtype_size(x->dtype);
}

/* the gate products: 2 flops per weight, per step, row and direction */
static int64_t rnn_flops(const Node *n) {
    const Value *x = n->inputs[RNN_IN_X], *w = n->inputs[RNN_IN_W], *r = n->inputs[RNN_IN_R];
    int64_t f;
    if (!i64_add(ir_numel(w), ir_numel(r), &f) || !i64_mul(f, 2, &f) ||
        !i64_mul(f, x->dims[0], &f) || !i64_mul(f, x->dims[1], &f))
        return -1;
    return f;
}

const OpDef op_rnn = {
    .name = "RNN", .domain = "", .since = 7, .min_inputs = 3, .max_inputs = 6,
    .min_outputs = 0, .max_outputs = 2, .infer = rnn_infer, .fold = rnn_fold, .emit = rnn_emit,
    .scratch_bytes = rnn_scratch, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
    .flops = rnn_flops, .data = &spec_rnn,
};

const OpDef op_gru = {
    .name = "GRU", .domain = "", .since = 7, .min_inputs = 3, .max_inputs = 6,
    .min_outputs = 0, .max_outputs = 2, .infer = rnn_infer, .fold = rnn_fold, .emit = rnn_emit,
    .scratch_bytes = rnn_scratch, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
    .flops = rnn_flops, .data = &spec_gru,
};

const OpDef op_lstm = {
    .name = "LSTM", .domain = "", .since = 7, .min_inputs = 3, .max_inputs = 8,
    .min_outputs = 0, .max_outputs = 3, .infer = rnn_infer, .fold = rnn_fold, .emit = rnn_emit,
    .scratch_bytes = rnn_scratch, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
    .flops = rnn_flops, .data = &spec_lstm,
};
