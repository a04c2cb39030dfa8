/* gemm.c: Gemm and MatMul, both emitted as calls to the runtime's onnxcc_f32_gemm, or to
 * onnxcc_f32_gemm_pb when the pack_weights pass packed B (kern_is_packed).
 *
 * Gemm: Y = alpha * A' x B' + beta * C with A' = transA ? A^T : A (likewise B), C
 * broadcast to [M, N] (unidirectionally: each of its dims 1 or equal).  MatMul: numpy
 * matmul, 1-D operands promoted and their unit dim removed again, batch dims broadcast.
 * Both honour node->epi (a fused activation, PRelu slope per column, residual).
 *
 * float32 only runs on that runtime GEMM (unchanged).  double, float16 and bfloat16 run
 * on plain emitted loops (emit_loop_gemm): double accumulates in double, the half types
 * are converted to float, accumulated in float and rounded once at the store, as numpy's
 * half matmul does; the fusion and packing passes leave such nodes alone.  Gemm before
 * opset 7 broadcasts C only with its `broadcast` attribute.
 *
 * kern_emit_epilogue() (kernel_emit.h) is defined here and shared with conv.c.
 */
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ir/shape.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "onnxcc_act.h"
#include "onnxcc_gemm.h"


/* The enumerator of an activation code, so that the generated C names it. */
static const char *act_name(int act) {
    static const char *const names[] = {
        [ONNXCC_ACT_NONE] = "ONNXCC_ACT_NONE", [ONNXCC_ACT_RELU] = "ONNXCC_ACT_RELU",
        [ONNXCC_ACT_LEAKY_RELU] = "ONNXCC_ACT_LEAKY_RELU", [ONNXCC_ACT_ELU] = "ONNXCC_ACT_ELU",
        [ONNXCC_ACT_PRELU] = "ONNXCC_ACT_PRELU", [ONNXCC_ACT_CLIP] = "ONNXCC_ACT_CLIP",
        [ONNXCC_ACT_SIGMOID] = "ONNXCC_ACT_SIGMOID", [ONNXCC_ACT_TANH] = "ONNXCC_ACT_TANH",
        [ONNXCC_ACT_HARD_SIGMOID] = "ONNXCC_ACT_HARD_SIGMOID",
        [ONNXCC_ACT_HARD_SWISH] = "ONNXCC_ACT_HARD_SWISH", [ONNXCC_ACT_SILU] = "ONNXCC_ACT_SILU",
    };
    if (act < 0 || act >= (int)(sizeof names / sizeof names[0]) || !names[act])
        BUG("activation code %d has no name", act);
    return names[act];
}

void kern_emit_epilogue(Emitter *e, const Node *n, const char *name, const char *bias,
                        float bias_scale, const char *residual, const char *slope) {
    char fa[32], fb[32], fs[32];
    const char *none = "{NULL, 0, 0}";
    int act = n->epi.act;
    emit_line(e, "const OnnxccEpilogue %s = {", name);
    e->indent++;
    emit_line(e, ".bias = %s, .bias_scale = %s,", bias ? bias : none, c_float(fs, bias_scale));
    emit_line(e, ".residual = %s,", residual ? residual : none);
    emit_line(e, ".slope = %s,", act == ONNXCC_ACT_PRELU && slope ? slope : none);
    emit_line(e, ".act = %s, .act_alpha = %s, .act_beta = %s,", act_name(act),
              c_float(fa, n->epi.alpha), c_float(fb, n->epi.beta));
    e->indent--;
    emit_line(e, "};");
}

/* The PRelu slope operand over columns ("{xS, 0, 1}", or a scalar's "{xS, 0, 0}") into
 * buf; false + error if the slope is neither one value nor one per column. */
static bool slope_operand(const Node *n, const Value *s, int64_t N, char *buf, size_t size,
                          Diag *d) {
    int64_t ns = ir_numel(s);
    if (ns != 1 && ns != N) {
        diag_error(d, n, "fused PRelu slope has %lld values, expected 1 or %lld",
                   (long long)ns, (long long)N);
        return false;
    }
    snprintf(buf, size, "{x%d, 0, %d}", n->epi.slope_input, ns == 1 ? 0 : 1);
    return true;
}

/* A present input that the fusion pass appended (index idx), or NULL. */
static const Value *epi_input(const Node *n, int idx) {
    return idx >= 0 && idx < n->n_inputs ? n->inputs[idx] : NULL;
}

/* Inputs 0..count-1 (those present) share one element type among float, double,
 * float16 and bfloat16; *t gets it.  float32 runs on the runtime's GEMM, the others on
 * the plain loops of emit_loop_gemm. */
static bool require_gemm_type(const Node *n, int count, const char *op, DType *t, Diag *d) {
    *t = n->inputs[0]->dtype;
    if (*t != DT_FLOAT && *t != DT_DOUBLE && !ou_is_half(*t)) {
        diag_error(d, n, "%s of %s is not supported (float, double, float16, bfloat16)", op,
                   dtype_name(*t));
        return false;
    }
    for (int i = 1; i < count; i++) {
        const Value *v = op_input(n, i);
        if (v && v->dtype != *t) {
            diag_error(d, n, "%s input %d '%s' is %s, expected %s like input 0", op, i,
                       v->name, dtype_name(v->dtype), dtype_name(*t));
            return false;
        }
    }
    return true;
}

/* ---- loops for double, float16 and bfloat16 --------------------------------------------- */

/* One operand of emit_loop_gemm: element (i, j) is name[base + i * rs + j * cs]. */
typedef struct LoopOperand {
    const char *name, *base;
    int64_t rs, cs;
} LoopOperand;

/* Declares the accumulator type's `dst` holding element `src` of type t. */
static void emit_loop_load(Emitter *e, DType t, const char *dst, const char *src) {
    ou_emit_load(e, t, dtype_ctype(t), dst, src);
}

/* The fused epilogue belongs to the float32 kernels; the fusion and packing passes only
 * touch float32 nodes. */
static bool reject_epilogue(const Node *n, Diag *d) {
    if (n->epi.act == ONNXCC_ACT_NONE && n->epi.slope_input < 0 &&
        n->epi.residual_input < 0 && !kern_is_packed(n))
        return true;
    diag_error(d, n, "internal error: a fused epilogue or packed weights on a %s node",
               dtype_name(n->inputs[0]->dtype));
    return false;
}

/* Y[yo + i * N + j] = alpha * sum_k A(i, k) B(k, j) + beta * C(i, j) as plain loops in
 * type t: double accumulates in double, float16/bfloat16 in float (rounded once at the
 * store, as numpy's half matmul does).  c is NULL without C. */
static void emit_loop_gemm(Emitter *e, DType t, int64_t M, int64_t N, int64_t K,
                           LoopOperand a, LoopOperand b, const LoopOperand *c, double alpha,
                           double beta) {
    const char *acc_t = t == DT_DOUBLE ? "double" : "float";
    char src[160], lit[32];
    emit_open(e, "for (int64_t mi = 0; mi < %lld; mi++)", (long long)M);
    emit_open(e, "for (int64_t ni = 0; ni < %lld; ni++)", (long long)N);
    emit_line(e, "%s acc = 0;", acc_t);
    emit_open(e, "for (int64_t ki = 0; ki < %lld; ki++)", (long long)K);
    snprintf(src, sizeof src, "%s[%s + mi * %lld + ki * %lld]", a.name, a.base,
             (long long)a.rs, (long long)a.cs);
    emit_loop_load(e, t, "av", src);
    snprintf(src, sizeof src, "%s[%s + ki * %lld + ni * %lld]", b.name, b.base,
             (long long)b.rs, (long long)b.cs);
    emit_loop_load(e, t, "bv", src);
    emit_line(e, "acc += av * bv;");
    emit_close(e);
    if (alpha != 1.0)
        emit_line(e, "acc *= %s;", t == DT_DOUBLE ? c_double(lit, alpha) : c_float(lit, (float)alpha));
    if (c) {
        snprintf(src, sizeof src, "%s[%s + mi * %lld + ni * %lld]", c->name, c->base,
                 (long long)c->rs, (long long)c->cs);
        emit_loop_load(e, t, "cv", src);
        emit_line(e, "acc += %s * cv;", t == DT_DOUBLE ? c_double(lit, beta)
                                                     : c_float(lit, (float)beta));
    }
    char dst[96];
    snprintf(dst, sizeof dst, "y0[yo + mi * %lld + ni]", (long long)N);
    if (ou_is_half(t)) ou_emit_half_store(e, t, dst, "acc");
    else emit_line(e, "%s = acc;", dst);
    emit_close(e);
    emit_close(e);
}

/* ---- Gemm --------------------------------------------------------------------------- */

/* C: input 2, unless the fusion pass put its slope or residual there. */
static const Value *gemm_c(const Node *n) {
    if (n->epi.slope_input == 2 || n->epi.residual_input == 2) return NULL;
    return op_input(n, 2);
}

typedef struct GemmDims {
    int64_t M, N, K;
    bool trans_a, trans_b;
} GemmDims;

static bool gemm_dims(const Node *n, GemmDims *gd, Diag *d) {
    Value b_shape;
    const Value *a = n->inputs[0], *b = kern_weight(n, &b_shape);
    if (a->rank != 2 || b->rank != 2) {
        diag_error(d, n, "A and B must be 2-D, got ranks %d and %d", a->rank, b->rank);
        return false;
    }
    int64_t ta = ir_attr_int(n, "transA", 0), tb = ir_attr_int(n, "transB", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) {
        diag_error(d, n, "transA / transB must be 0 or 1, got %lld and %lld", (long long)ta,
                   (long long)tb);
        return false;
    }
    gd->trans_a = ta, gd->trans_b = tb;
    gd->M = ta ? a->dims[1] : a->dims[0];
    gd->K = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0];
    gd->N = tb ? b->dims[0] : b->dims[1];
    if (kb != gd->K) {
        diag_error(d, n, "inner dimensions differ: A gives K = %lld, B gives K = %lld",
                   (long long)gd->K, (long long)kb);
        return false;
    }
    return true;
}

/* Row and column strides of C broadcast over [M, N]; false if C does not broadcast. */
static bool gemm_c_strides(const Value *c, int64_t M, int64_t N, int64_t *rs, int64_t *cs) {
    int64_t d0 = 1, d1 = 1;
    if (c->rank > 2) return false;
    if (c->rank == 2) d0 = c->dims[0], d1 = c->dims[1];
    if (c->rank == 1) d1 = c->dims[0];
    if ((d0 != 1 && d0 != M) || (d1 != 1 && d1 != N)) return false;
    *cs = d1 == 1 ? 0 : 1;
    *rs = d0 == 1 ? 0 : d1;
    return true;
}

/* infer of Gemm and MatMul: the packed-weights attribute is the pass's, not a model's. */
static bool reject_packed_attr(const Node *n, Diag *d) {
    if (!kern_is_packed(n)) return true;
    diag_error(d, n, "attribute '%s' is reserved for onnxcc's own use", KERN_ATTR_PACKED);
    return false;
}

/* A packed B (K x N, onnxcc_packed_b_index) must have exactly the packed size. */
static bool check_packed_b(const Node *n, int64_t K, int64_t N, Diag *d) {
    size_t cols, floats;
    if (size_align_up((size_t)N, ONNXCC_PACK_NR, &cols) && size_mul(cols, (size_t)K, &floats) &&
        (int64_t)floats == ir_numel(n->inputs[1]))
        return true;
    diag_error(d, n, "internal error: packed weights '%s' have %lld values, expected %lld x "
               "%lld packed", n->inputs[1]->name, (long long)ir_numel(n->inputs[1]),
               (long long)K, (long long)N);
    return false;
}

/* The comment above a call with packed B. */
static void emit_packed_b_note(Emitter *e) {
    emit_line(e, "/* B packed at compile time: 32-column panels, B(k, j) at "
              "onnxcc_packed_b_index(K, k, j). */");
}

static bool gemm_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!reject_packed_attr(n, d)) return false;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    DType t;
    if (!require_gemm_type(n, 3, "Gemm", &t, d)) return false;
    GemmDims gd;
    if (!gemm_dims(n, &gd, d)) return false;
    const Value *c = gemm_c(n);
    if (!c && n->opset < 11) {
        diag_error(d, n, "input C is required before opset 11");
        return false;
    }
    if (c && !op_require_shape(n, 2, d)) return false;
    int64_t rs, cs;
    if (c && !gemm_c_strides(c, gd.M, gd.N, &rs, &cs)) {
        char buf[128];
        diag_error(d, n, "C %s does not broadcast to [%lld, %lld]",
                   ir_shape_str(buf, sizeof buf, c), (long long)gd.M, (long long)gd.N);
        return false;
    }
    /* Before opset 7, C broadcasts only with the attribute broadcast = 1. */
    if (c && n->opset < 7 && ir_attr_int(n, "broadcast", 0) == 0 &&
        (c->rank != 2 || c->dims[0] != gd.M || c->dims[1] != gd.N)) {
        char buf[128];
        diag_error(d, n, "C %s must be [%lld, %lld]: broadcasting it needs attribute "
                   "broadcast = 1 before opset 7", ir_shape_str(buf, sizeof buf, c),
                   (long long)gd.M, (long long)gd.N);
        return false;
    }
    int64_t dims[2] = {gd.M, gd.N};
    ir_value_set_shape(n->outputs[0], t, 2, dims);
    return true;
}

/* Gemm in double, float16 or bfloat16: the loops of emit_loop_gemm. */
static bool gemm_emit_loops(Emitter *e, const Node *n, const GemmDims *gd, Diag *d) {
    if (!reject_epilogue(n, d)) return false;
    const DType t = n->inputs[0]->dtype;
    const Value *c = gemm_c(n);
    double alpha = ir_attr_float(n, "alpha", 1.0f), beta = ir_attr_float(n, "beta", 1.0f);
    const int64_t M = gd->M, N = gd->N, K = gd->K;
    LoopOperand a = {"x0", "0", gd->trans_a ? 1 : K, gd->trans_a ? M : 1};
    LoopOperand b = {"x1", "0", gd->trans_b ? 1 : N, gd->trans_b ? K : 1};
    LoopOperand cc = {"x2", "0", 0, 0};
    bool has_c = c && beta != 0.0 && gemm_c_strides(c, M, N, &cc.rs, &cc.cs);
    emit_line(e, "/* Y[%lld][%lld] = %g * A'B'%s in %s, accumulated in %s */", (long long)M,
              (long long)N, alpha, has_c ? " + beta * C" : "", dtype_name(t),
              t == DT_DOUBLE ? "double" : "float");
    emit_line(e, "const int64_t yo = 0;");
    emit_loop_gemm(e, t, M, N, K, a, b, has_c ? &cc : NULL, alpha, beta);
    return true;
}

static bool gemm_emit(Emitter *e, const Node *n, Diag *d) {
    GemmDims gd;
    if (!gemm_dims(n, &gd, d)) return false;
    if (n->inputs[0]->dtype != DT_FLOAT) return gemm_emit_loops(e, n, &gd, d);
    const Value *c = gemm_c(n);
    float alpha = ir_attr_float(n, "alpha", 1.0f), beta = ir_attr_float(n, "beta", 1.0f);
    char bias[96] = "", res[96] = "", slope[96] = "", fa[32];
    int64_t rs = 0, cs = 0;
    if (c && beta != 0.0f && gemm_c_strides(c, gd.M, gd.N, &rs, &cs))
        snprintf(bias, sizeof bias, "{x2, %lld, %lld}", (long long)rs, (long long)cs);
    const Value *r = epi_input(n, n->epi.residual_input);
    if (r && !gemm_c_strides(r, gd.M, gd.N, &rs, &cs)) {
        diag_error(d, n, "fused residual '%s' does not broadcast to the output", r->name);
        return false;
    }
    if (r)
        snprintf(res, sizeof res, "{x%d, %lld, %lld}", n->epi.residual_input, (long long)rs,
                 (long long)cs);
    const Value *s = epi_input(n, n->epi.slope_input);
    if (s && !slope_operand(n, s, gd.N, slope, sizeof slope, d)) return false;
    kern_emit_epilogue(e, n, "ep", bias[0] ? bias : NULL, beta, res[0] ? res : NULL,
                       slope[0] ? slope : NULL);
    /* A is [M][K] (or [K][M] when transposed), B is [K][N] (or [N][K]). */
    long long M = gd.M, N = gd.N, K = gd.K;
    if (kern_is_packed(n)) {
        if (!check_packed_b(n, gd.K, gd.N, d)) return false;
        emit_packed_b_note(e);
        emit_line(e, "onnxcc_f32_gemm_pb(%lld, %lld, %lld, %s, x0, %lld, %lld, x1, y0, %lld, "
                  "&ep, pool);", M, N, K, c_float(fa, alpha), gd.trans_a ? 1LL : K,
                  gd.trans_a ? M : 1LL, N);
        return true;
    }
    emit_line(e, "onnxcc_f32_gemm(%lld, %lld, %lld, %s, x0, %lld, %lld, x1, %lld, %lld, "
              "y0, %lld, &ep, pool);", M, N, K, c_float(fa, alpha),
              gd.trans_a ? 1LL : K, gd.trans_a ? M : 1LL,
              gd.trans_b ? 1LL : N, gd.trans_b ? K : 1LL, N);
    return true;
}

static int64_t gemm_flops(const Node *n) {
    const Value *y = n->outputs[0], *a = n->inputs[0];
    int64_t K = ir_attr_int(n, "transA", 0) ? a->dims[0] : a->dims[1], f;
    if (!i64_mul(ir_numel(y), K, &f) || !i64_mul(f, 2, &f)) return -1;
    return f;
}

const OpDef op_gemm = {
    .name = "Gemm", .domain = "", .since = 1,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = gemm_infer, .emit = gemm_emit, .flops = gemm_flops,
    .memory = OP_MEMORY_SEPARATE,
};

/* ---- MatMul ------------------------------------------------------------------------- */

/* The broadcast shape of a MatMul.  Batch dims of the output (rank - 2 of them, after
 * promotion of 1-D operands) and, per operand, the strides of each batch dim (0 where
 * broadcast). */
typedef struct MatMulShape {
    int64_t M, N, K;
    int nb;                                  /* batch dims */
    int64_t batch[IR_MAX_RANK];
    int64_t a_bs[IR_MAX_RANK], b_bs[IR_MAX_RANK];
    int out_rank;
    int64_t out[IR_MAX_RANK];
} MatMulShape;

static bool matmul_shape(const Node *n, MatMulShape *ms, Diag *d) {
    Value b_shape;
    const Value *a = n->inputs[0], *b = kern_weight(n, &b_shape);
    if (a->rank < 1 || b->rank < 1) {
        diag_error(d, n, "MatMul operands must have rank >= 1, got %d and %d", a->rank,
                   b->rank);
        return false;
    }
    /* Promote 1-D operands: A [K] -> [1, K], B [K] -> [K, 1]. */
    int64_t ad[IR_MAX_RANK + 1], bd[IR_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    if (ar == 1) ad[0] = 1, ad[1] = a->dims[0], ar = 2;
    else memcpy(ad, a->dims, (size_t)ar * sizeof(int64_t));
    if (br == 1) bd[0] = b->dims[0], bd[1] = 1, br = 2;
    else memcpy(bd, b->dims, (size_t)br * sizeof(int64_t));
    ms->M = ad[ar - 2], ms->K = ad[ar - 1], ms->N = bd[br - 1];
    if (bd[br - 2] != ms->K) {
        diag_error(d, n, "inner dimensions differ: A has K = %lld, B has K = %lld",
                   (long long)ms->K, (long long)bd[br - 2]);
        return false;
    }
    int nba = ar - 2, nbb = br - 2;
    if (!shape_broadcast(nba, ad, nbb, bd, &ms->nb, ms->batch)) {
        diag_error(d, n, "batch dimensions of A and B do not broadcast");
        return false;
    }
    /* Per-batch-dim element strides of A and B (0 where broadcast or absent). */
    int64_t a_mat = ms->M * ms->K, b_mat = ms->K * ms->N;
    int64_t sa = a_mat, sb = b_mat;
    for (int i = ms->nb - 1; i >= 0; i--) {
        int ia = i - (ms->nb - nba), ib = i - (ms->nb - nbb);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        ms->a_bs[i] = da == 1 ? 0 : sa;
        ms->b_bs[i] = db == 1 ? 0 : sb;
        sa *= da, sb *= db;
    }
    ms->out_rank = 0;
    for (int i = 0; i < ms->nb; i++) ms->out[ms->out_rank++] = ms->batch[i];
    if (a->rank > 1) ms->out[ms->out_rank++] = ms->M;
    if (b->rank > 1) ms->out[ms->out_rank++] = ms->N;
    return true;
}

static bool matmul_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!reject_packed_attr(n, d)) return false;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    DType t;
    if (!require_gemm_type(n, 2, "MatMul", &t, d)) return false;
    MatMulShape ms;
    if (!matmul_shape(n, &ms, d)) return false;
    if (shape_numel(ms.out_rank, ms.out) < 0 || shape_numel(ms.nb, ms.batch) < 0) {
        diag_error(d, n, "output size overflows");
        return false;
    }
    ir_value_set_shape(n->outputs[0], t, ms.out_rank, ms.out);
    return true;
}

/* Opens the batch loops of a MatMul and declares ao, bo (this batch's offsets into A
 * and B); the caller closes ms->nb loops. */
static void matmul_open_batches(Emitter *e, const MatMulShape *ms) {
    for (int i = 0; i < ms->nb; i++)
        emit_open(e, "for (size_t b%d = 0; b%d < %lld; b%d++)", i, i,
                  (long long)ms->batch[i], i);
    StrBuf ao, bo;
    sb_init(&ao);
    sb_init(&bo);
    sb_puts(&ao, "0");
    sb_puts(&bo, "0");
    for (int i = 0; i < ms->nb; i++) {
        if (ms->a_bs[i]) sb_printf(&ao, " + b%d * %lld", i, (long long)ms->a_bs[i]);
        if (ms->b_bs[i]) sb_printf(&bo, " + b%d * %lld", i, (long long)ms->b_bs[i]);
    }
    emit_line(e, "const size_t ao = %s, bo = %s;", ao.data ? ao.data : "0",
              bo.data ? bo.data : "0");
    sb_free(&ao);
    sb_free(&bo);
}

/* MatMul in double, float16 or bfloat16: per batch, the loops of emit_loop_gemm. */
static bool matmul_emit_loops(Emitter *e, const Node *n, const MatMulShape *ms, Diag *d) {
    if (!reject_epilogue(n, d)) return false;
    const DType t = n->inputs[0]->dtype;
    emit_line(e, "/* MatMul in %s, accumulated in %s: [%lld x %lld] x [%lld x %lld] per "
              "batch */", dtype_name(t), t == DT_DOUBLE ? "double" : "float",
              (long long)ms->M, (long long)ms->K, (long long)ms->K, (long long)ms->N);
    emit_line(e, "size_t yo = 0;");
    matmul_open_batches(e, ms);
    LoopOperand a = {"x0", "ao", ms->K, 1}, b = {"x1", "bo", ms->N, 1};
    emit_loop_gemm(e, t, ms->M, ms->N, ms->K, a, b, NULL, 1.0, 0.0);
    emit_line(e, "yo += %lld;", (long long)(ms->M * ms->N));
    for (int i = 0; i < ms->nb; i++) emit_close(e);
    return true;
}

static bool matmul_emit(Emitter *e, const Node *n, Diag *d) {
    MatMulShape ms;
    if (!matmul_shape(n, &ms, d)) return false;
    if (n->inputs[0]->dtype != DT_FLOAT) return matmul_emit_loops(e, n, &ms, d);
    bool packed = kern_is_packed(n);
    Value b_shape;
    if (packed && kern_weight(n, &b_shape)->rank != 2) {
        diag_error(d, n, "internal error: a packed MatMul weight must be one 2-D matrix");
        return false;
    }
    if (packed && !check_packed_b(n, ms.K, ms.N, d)) return false;
    /* B shared by every batch and A holding every batch (no broadcast of A): the batches
     * stack into one GEMM with batch * M rows, as in a Linear layer over a sequence. */
    bool b_shared = true;
    for (int i = 0; i < ms.nb; i++) b_shared = b_shared && ms.b_bs[i] == 0;
    int64_t nbatch = shape_numel(ms.nb, ms.batch), rows, a_numel;
    if (ms.nb > 0 && b_shared && nbatch > 0 && i64_mul(nbatch, ms.M, &rows) &&
        i64_mul(rows, ms.K, &a_numel) && a_numel == ir_numel(n->inputs[0])) {
        ms.M = rows;
        ms.nb = 0;
    }
    long long M = ms.M, N = ms.N, K = ms.K;
    char res[96] = "", slope[96] = "";
    const Value *r = epi_input(n, n->epi.residual_input);
    /* The residual has the output's shape (the fusion pass adds only such residuals). */
    if (r && !ir_same_shape(r, n->outputs[0])) {
        diag_error(d, n, "fused residual '%s' does not have the output's shape", r->name);
        return false;
    }
    if (r) snprintf(res, sizeof res, "{x%d + yo, %lld, 1}", n->epi.residual_input, N);
    const Value *s = epi_input(n, n->epi.slope_input);
    if (s && !slope_operand(n, s, ms.N, slope, sizeof slope, d)) return false;
    emit_line(e, "size_t yo = 0;");
    /* Offsets of this batch's A and B from the loop counters (0 where broadcast). */
    matmul_open_batches(e, &ms);
    kern_emit_epilogue(e, n, "ep", NULL, 1.0f, res[0] ? res : NULL, slope[0] ? slope : NULL);
    if (packed) {
        /* B is one 2-D matrix shared by every batch (pack_weights packs no other): bo = 0. */
        emit_packed_b_note(e);
        emit_line(e, "onnxcc_f32_gemm_pb(%lld, %lld, %lld, 1.0f, x0 + ao, %lld, 1, x1 + bo, "
                  "y0 + yo, %lld, &ep, pool);", M, N, K, K, N);
    } else {
        emit_line(e, "onnxcc_f32_gemm(%lld, %lld, %lld, 1.0f, x0 + ao, %lld, 1, x1 + bo, %lld, "
                  "1, y0 + yo, %lld, &ep, pool);", M, N, K, K, N, N);
    }
    emit_line(e, "yo += %lld;", M * N);
    for (int i = 0; i < ms.nb; i++) emit_close(e);
    return true;
}

static int64_t matmul_flops(const Node *n) {
    const Value *a = n->inputs[0];
    int64_t f;
    if (!i64_mul(ir_numel(n->outputs[0]), a->dims[a->rank - 1], &f) || !i64_mul(f, 2, &f))
        return -1;
    return f;
}

const OpDef op_matmul = {
    .name = "MatMul", .domain = "", .since = 1,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = matmul_infer, .emit = matmul_emit, .flops = matmul_flops,
    .memory = OP_MEMORY_SEPARATE,
};
