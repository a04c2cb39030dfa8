/* flex_attention.c: FlexAttention (domain ai.onnx.preview, version 1), attention over
 * 4-D Q [B][Hq][L][E], K [B][Hkv][S][E], V [B][Hkv][S][Ev]:
 *
 *   Y = softmax((Q * sqrt(scale)) (K * sqrt(scale))^T) V      per batch, head, query row
 *
 * with grouped-query attention (query head h reads key/value head h / (Hq / Hkv)) and
 * scale defaulting to 1 / sqrt(E).  Without graph attributes the node is emitted as plain
 * loops (flex_emit).  With score_mod (a graph rewriting the scores [B][Hq][L][S]) or
 * prob_mod (the probabilities), it is expanded during inference (OpDef.expand) into
 * plain nodes with the bodies inlined (control_flow.h): Mul by sqrt(scale), the key/value
 * heads repeated (Unsqueeze, Expand, Reshape), Transpose, MatMul, Cast to the softmax
 * type, score_mod, Softmax, prob_mod, MatMul with V, Cast back.
 *
 * Rounding follows the reference (onnx/reference/ops/aionnx_preview/op_flex_attention.py):
 * sqrt(scale) is taken in float32 then cast to the input type; Q and K are scaled and
 * their dot products rounded in the input type (float16/bfloat16 accumulate in float);
 * the softmax and the product with V run in the softmax type (softmax_precision, default
 * float32 for half inputs, else the input type), and Y is cast to V's type.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/control_flow.h"
#include "ops/op_util.h"

typedef struct FlexView {
    DType t, st;                 /* input type, softmax type */
    int64_t B, Hq, Hkv, L, S, E, Ev, reps;
    double scale_sqrt;
} FlexView;

static bool flex_view(const Node *n, FlexView *f, Diag *d) {
    memset(f, 0, sizeof *f);
    if (cf_declared_inputs(n) != 3) {
        diag_error(d, n, "FlexAttention takes 3 inputs (Q, K, V), got %d",
                   cf_declared_inputs(n));
        return false;
    }
    for (int i = 0; i < 3; i++)
        if (!op_require_shape(n, i, d)) return false;
    if (!ou_check_dtype(n, 0, ou_float_types, d)) return false;
    const Value *q = n->inputs[0], *k = n->inputs[1], *v = n->inputs[2];
    f->t = q->dtype;
    if (k->dtype != f->t || v->dtype != f->t) {
        diag_error(d, n, "Q, K and V must have one type, got %s, %s, %s",
                   dtype_name(q->dtype), dtype_name(k->dtype), dtype_name(v->dtype));
        return false;
    }
    if (q->rank != 4 || k->rank != 4 || v->rank != 4) {
        diag_error(d, n, "Q, K and V must be 4-D, got ranks %d, %d, %d", q->rank, k->rank,
                   v->rank);
        return false;
    }
    f->B = q->dims[0], f->Hq = q->dims[1], f->L = q->dims[2], f->E = q->dims[3];
    f->Hkv = k->dims[1], f->S = k->dims[2], f->Ev = v->dims[3];
    if (k->dims[0] != f->B || v->dims[0] != f->B || v->dims[1] != f->Hkv ||
        v->dims[2] != f->S || k->dims[3] != f->E || f->Hkv <= 0 || f->Hq % f->Hkv != 0 ||
        f->E <= 0) {
        diag_error(d, n, "Q, K, V shapes disagree (batch, heads a multiple of key/value "
                   "heads, sequence, positive head size)");
        return false;
    }
    f->reps = f->Hq / f->Hkv;
    int64_t sp = ir_attr_int(n, "softmax_precision", 0);
    if (sp == 0) f->st = ou_is_half(f->t) ? DT_FLOAT : f->t;
    else if (sp == DT_FLOAT || sp == DT_DOUBLE || sp == DT_FLOAT16 || sp == DT_BFLOAT16)
        f->st = (DType)sp;
    else {
        diag_error(d, n, "softmax_precision %lld is not a floating-point type",
                   (long long)sp);
        return false;
    }
    if (ou_is_half(f->st) || (f->st == DT_FLOAT && f->t == DT_DOUBLE)) {
        diag_error(d, n, "softmax_precision %s with %s inputs is not supported",
                   dtype_name(f->st), dtype_name(f->t));
        return false;
    }
    double scale = ir_attr(n, "scale") ? (double)ir_attr_float(n, "scale", 1.0f)
                                       : 1.0 / sqrt((double)f->E);
    if (!(scale >= 0) || isinf(scale)) {
        diag_error(d, n, "scale %g must be finite and >= 0", scale);
        return false;
    }
    f->scale_sqrt = ou_round_to(f->t, sqrtf((float)scale));
    return true;
}

static bool flex_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    FlexView f;
    if (!flex_view(n, &f, d)) return false;
    const int64_t y[4] = {f.B, f.Hq, f.L, f.Ev};
    return ou_set_output(n, n->outputs[0], f.t, 4, y, d);
}

/* Scratch: the scaled Q row (E), the scores row (S) and the output row (Ev), in the
 * softmax type (which holds the input type's values exactly). */
static size_t flex_scratch_bytes(const Node *n) {
    Diag d;
    diag_init(&d);
    FlexView f;
    bool ok = flex_view(n, &f, &d);
    diag_free(&d);
    return ok ? (size_t)(f.E + f.S + f.Ev) * dtype_size(f.st) : 0;
}

static bool flex_emit(Emitter *e, const Node *n, Diag *d) {
    FlexView f;
    if (!flex_view(n, &f, d)) return false;
    const char *T = dtype_ctype(f.t), *ST = dtype_ctype(f.st);
    const char *CT = f.t == DT_DOUBLE ? "double" : "float";   /* the dot products */
    char lit[32], sq[128];
    emit_line(e, "/* FlexAttention: Q %s, %lld query heads over %lld key/value heads, "
              "softmax in %s */", ou_shape(sq, sizeof sq, n->inputs[0]), (long long)f.Hq,
              (long long)f.Hkv, dtype_name(f.st));
    emit_line(e, "%s *qs = (%s *)scratch, *sc = qs + %lld, *acc = sc + %lld;", ST, ST,
              (long long)f.E, (long long)f.S);
    const char *scl = f.t == DT_DOUBLE ? c_double(lit, f.scale_sqrt)
                                       : c_float(lit, (float)f.scale_sqrt);
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)f.B);
    emit_open(e, "for (int64_t qh = 0; qh < %lld; qh++)", (long long)f.Hq);
    emit_line(e, "const %s *kh = x1 + (b * %lld + qh / %lld) * %lld;", T, (long long)f.Hkv,
              (long long)f.reps, (long long)(f.S * f.E));
    emit_line(e, "const %s *vh = x2 + (b * %lld + qh / %lld) * %lld;", T, (long long)f.Hkv,
              (long long)f.reps, (long long)(f.S * f.Ev));
    emit_open(e, "for (int64_t i = 0; i < %lld; i++)", (long long)f.L);
    emit_line(e, "const int64_t row = (b * %lld + qh) * %lld + i;", (long long)f.Hq,
              (long long)f.L);
    emit_line(e, "const %s *qr = x0 + row * %lld;", T, (long long)f.E);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)f.E);
    ou_emit_load(e, f.t, CT, "qv", "qr[c]");
    emit_line(e, "qv = qv * %s;", scl);
    ou_emit_round(e, f.t, "qv");
    emit_line(e, "qs[c] = qv;");
    emit_close(e);
    emit_line(e, "%s mx = -(%s)ONNXCC_INF;", ST, ST);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)f.S);
    emit_line(e, "const %s *kr = kh + j * %lld;", T, (long long)f.E);
    emit_line(e, "%s s = 0;", CT);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)f.E);
    ou_emit_load(e, f.t, CT, "kv", "kr[c]");
    emit_line(e, "kv = kv * %s;", scl);
    ou_emit_round(e, f.t, "kv");
    emit_line(e, "s += (%s)qs[c] * kv;", CT);
    emit_close(e);
    ou_emit_round(e, f.t, "s");
    emit_line(e, "sc[j] = s;");
    emit_line(e, "if (mx == mx && !(sc[j] <= mx)) mx = sc[j];   /* NaN stays */");
    emit_close(e);
    const char *ex = f.st == DT_DOUBLE ? "exp" : "expf";
    emit_line(e, "%s sum = 0;", ST);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)f.S);
    emit_line(e, "sc[j] = %s(sc[j] - mx);", ex);
    emit_line(e, "sum += sc[j];");
    emit_close(e);
    emit_line(e, "for (int64_t j = 0; j < %lld; j++) sc[j] = sc[j] / sum;", (long long)f.S);
    emit_line(e, "for (int64_t c = 0; c < %lld; c++) acc[c] = 0;", (long long)f.Ev);
    emit_open(e, "for (int64_t j = 0; j < %lld; j++)", (long long)f.S);
    emit_line(e, "const %s *vr = vh + j * %lld;", T, (long long)f.Ev);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)f.Ev);
    ou_emit_load(e, f.t, ST, "vv", "vr[c]");
    emit_line(e, "acc[c] += sc[j] * vv;");
    emit_close(e);
    emit_close(e);
    emit_open(e, "for (int64_t c = 0; c < %lld; c++)", (long long)f.Ev);
    if (ou_is_half(f.t)) {
        char dst[64];
        snprintf(dst, sizeof dst, "y0[row * %lld + c]", (long long)f.Ev);
        emit_line(e, "float ov = (float)acc[c];");
        ou_emit_half_store(e, f.t, dst, "ov");
    } else {
        emit_line(e, "y0[row * %lld + c] = (%s)acc[c];", (long long)f.Ev, T);
    }
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

/* ---- expansion with score_mod / prob_mod ---------------------------------------------- */

/* A one-element constant of float type t holding x (rounded to t). */
static Value *flex_const(Graph *g, const Node *n, DType t, double x, Diag *d) {
    Value *v = cf_value(g, n, "flex.sqrt_scale", d);
    if (!v) return NULL;
    ir_value_set_shape(v, t, 0, NULL);
    if (!ir_value_alloc_data(g, v, d)) return NULL;
    ou_set_f64(v, 0, x);
    return v;
}

/* Transpose(x) swapping the last two of 4 dims: built here, as cf_op1 sets only int
 * attributes; counted against the expansion budget like the others. */
static Value *flex_transpose(Graph *g, OpExpandCtx *cx, const Node *n, Value *x, Diag *d) {
    static const int64_t perm[4] = {0, 1, 3, 2};
    if (cx->nodes_left <= 0) {
        diag_error(d, n, "expanding FlexAttention exceeds the limit of %d nodes",
                   (int)OP_EXPAND_MAX_NODES);
        return NULL;
    }
    cx->nodes_left--;
    Node *t = ir_node_new(g, n->name, "Transpose", "", 1, 1, d);
    Value *y = cf_value(g, n, "flex.kt", d);
    if (!t || !y || !ir_attr_set_ints(g, t, "perm", perm, 4, d)) return NULL;
    t->opset = CF_OPSET;
    t->op = op_find("", "Transpose");
    if (!t->op) BUG("Transpose is not registered");
    t->inputs[0] = x;
    t->outputs[0] = y;
    y->producer = t;
    return cx->infer_node(cx, g, t, d) ? y : NULL;
}

/* x [B][Hkv][S][e] with each head repeated reps times in place: [B][Hkv * reps][S][e]. */
static Value *flex_repeat_heads(Graph *g, OpExpandCtx *cx, const Node *n, const FlexView *f,
                                Value *x, Diag *d) {
    if (f->reps == 1) return x;
    const int64_t axis = 2, e = x->dims[3];
    const int64_t wide[5] = {f->B, f->Hkv, f->reps, f->S, e}, flat[4] = {f->B, f->Hq, f->S, e};
    Value *ax = cf_const_ints(g, n, "flex.axes", &axis, 1, d);
    Value *u = ax ? cf_op1(g, cx, n, "Unsqueeze", (Value *[]){x, ax}, 2, NULL, 0, NULL,
                           "flex.unsq", d) : NULL;
    Value *ws = u ? cf_const_ints(g, n, "flex.wide", wide, 5, d) : NULL;
    Value *w = ws ? cf_op1(g, cx, n, "Expand", (Value *[]){u, ws}, 2, NULL, 0, NULL,
                           "flex.rep", d) : NULL;
    Value *fs = w ? cf_const_ints(g, n, "flex.flat", flat, 4, d) : NULL;
    return fs ? cf_op1(g, cx, n, "Reshape", (Value *[]){w, fs}, 2, NULL, 0, NULL, "flex.kv",
                       d) : NULL;
}

/* Inlines the one-input, one-output body of graph attribute `name` on x (x if absent). */
static Value *flex_mod(Graph *g, OpExpandCtx *cx, const Node *n, const char *name, Value *x,
                       Diag *d) {
    if (!ir_attr(n, name)) return x;
    const Subgraph *body = cf_body(n, name, d);
    if (!body) return NULL;
    if (body->n_inputs != 1 || body->n_outputs != 1) {
        diag_error(d, n, "%s must have 1 input and 1 output, it has %d and %d", name,
                   body->n_inputs, body->n_outputs);
        return NULL;
    }
    Value *out = NULL;
    if (!cf_instantiate(g, cx, n, body, &x, cf_tag(g, n, name, -1), &out, d)) return NULL;
    return out;
}

static bool flex_expand(Graph *g, Node *n, OpExpandCtx *cx, Diag *d) {
    if (!ir_attr(n, "score_mod") && !ir_attr(n, "prob_mod"))
        return flex_infer(g, n, d);   /* no graph: the node stays, emitted as loops */
    FlexView f;
    if (!flex_view(n, &f, d)) return false;
    Value *c = flex_const(g, n, f.t, f.scale_sqrt, d);
    if (!c) return false;
    Value *qs = cf_op1(g, cx, n, "Mul", (Value *[]){n->inputs[0], c}, 2, NULL, 0, NULL,
                       "flex.qs", d);
    Value *ks = qs ? cf_op1(g, cx, n, "Mul", (Value *[]){n->inputs[1], c}, 2, NULL, 0, NULL,
                            "flex.ks", d) : NULL;
    Value *kr = ks ? flex_repeat_heads(g, cx, n, &f, ks, d) : NULL;
    Value *vr = kr ? flex_repeat_heads(g, cx, n, &f, n->inputs[2], d) : NULL;
    Value *kt = vr ? flex_transpose(g, cx, n, kr, d) : NULL;
    Value *sc = kt ? cf_op1(g, cx, n, "MatMul", (Value *[]){qs, kt}, 2, NULL, 0, NULL,
                            "flex.scores", d) : NULL;
    if (sc && f.st != f.t)
        sc = cf_op1(g, cx, n, "Cast", &sc, 1, "to", f.st, NULL, "flex.scores_st", d);
    sc = sc ? flex_mod(g, cx, n, "score_mod", sc, d) : NULL;
    Value *p = sc ? cf_op1(g, cx, n, "Softmax", &sc, 1, "axis", -1, NULL, "flex.probs", d)
                  : NULL;
    p = p ? flex_mod(g, cx, n, "prob_mod", p, d) : NULL;
    if (p && f.st != f.t)
        vr = cf_op1(g, cx, n, "Cast", &vr, 1, "to", f.st, NULL, "flex.v_st", d);
    if (!p || !vr) return false;
    /* Y = P V, cast back to the input type when the softmax ran in another */
    Value *y = n->outputs[0];
    const bool cast = f.st != f.t;
    Value *o = cf_op1(g, cx, n, "MatMul", (Value *[]){p, vr}, 2, NULL, 0, cast ? NULL : y,
                      "flex.out", d);
    if (!o || (cast && !cf_op1(g, cx, n, "Cast", &o, 1, "to", f.t, y, NULL, d))) return false;
    n->dead = true;
    return true;
}

const OpDef op_flexattention = {
    .name = "FlexAttention", .domain = "ai.onnx.preview", .since = 1,
    .min_inputs = 3, .max_inputs = 3 + 64, .min_outputs = 1, .max_outputs = 1,
    .infer = flex_infer, .emit = flex_emit, .scratch_bytes = flex_scratch_bytes,
    .memory = OP_MEMORY_SEPARATE, .expand = flex_expand,
};
