/* test_ops_attn.c: Attention, RotaryEmbedding, SwiGLU, CausalConvWithState,
 * LinearAttention, FlexAttention, and MatMul/Gemm/Conv beyond float32: inference and the
 * error paths on one-node graphs, SwiGLU's folder on values derived by hand, and the
 * emitted code run end to end (tb_run) against a naive reference written here from the
 * spec, on the same inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static int64_t numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++) n *= dims[k];
    return n;
}

/* tb_run's input i: tb_fill(seed + i) over count floats (malloc'ed). */
static float *filled(int64_t count, unsigned seed) {
    float *x = malloc(sizeof(float) * (size_t)(count ? count : 1));
    cr_assert_not_null(x);
    tb_fill(x, count, seed);
    return x;
}

enum { SEED = 5 };

/* Runs g (outputs already marked) and compares output k with want[k] (relative tol). */
static void run_expect(Graph *g, int n_out, float *const *want, const int64_t *count,
                       double tol) {
    tb_pipeline_ok(g);
    float *out[4] = { 0 };
    int64_t out_n[4] = { 0 };
    cr_assert(tb_run(g, SEED, out, out_n, n_out), "the generated code failed");
    for (int k = 0; k < n_out; k++) {
        cr_assert_eq(out_n[k], count[k], "output %d: %lld elements, expected %lld", k,
                     (long long)out_n[k], (long long)count[k]);
        for (int64_t i = 0; i < count[k]; i++)
            cr_assert(tb_close(out[k][i], want[k][i], TB_REL(tol)),
                      "output %d element %lld: %.9g, expected %.9g", k, (long long)i,
                      out[k][i], want[k][i]);
        free(out[k]);
    }
}

/* ---- Attention: inference and errors ----------------------------------------------------- */

Test(attn_infer, gqa_with_past_and_qk_output) {
    Graph *g = tb_graph();
    Value *in[6] = {
        tb_value(g, "q", DT_FLOAT, 4, (int64_t[]){ 2, 6, 3, 8 }, NULL),
        tb_value(g, "k", DT_FLOAT, 4, (int64_t[]){ 2, 2, 4, 8 }, NULL),
        tb_value(g, "v", DT_FLOAT, 4, (int64_t[]){ 2, 2, 4, 5 }, NULL),
        tb_value(g, "m", DT_BOOL, 2, (int64_t[]){ 3, 7 }, NULL),
        tb_value(g, "pk", DT_FLOAT, 4, (int64_t[]){ 2, 2, 3, 8 }, NULL),
        tb_value(g, "pv", DT_FLOAT, 4, (int64_t[]){ 2, 2, 3, 5 }, NULL),
    };
    Node *n = tb_op_node(g, "Attention", 23, 6, in, 4);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, (int64_t[]){ 2, 6, 3, 5 }, NULL, TB_EXACT);
    tb_expect(n->outputs[1], DT_FLOAT, 4, (int64_t[]){ 2, 2, 7, 8 }, NULL, TB_EXACT);
    tb_expect(n->outputs[2], DT_FLOAT, 4, (int64_t[]){ 2, 2, 7, 5 }, NULL, TB_EXACT);
    tb_expect(n->outputs[3], DT_FLOAT, 4, (int64_t[]){ 2, 6, 3, 7 }, NULL, TB_EXACT);
    ir_graph_free(g);
}

Test(attn_infer, three_d_heads) {
    Graph *g = tb_graph();
    Value *in[3] = {
        tb_value(g, "q", DT_FLOAT16, 3, (int64_t[]){ 2, 4, 72 }, NULL),
        tb_value(g, "k", DT_FLOAT16, 3, (int64_t[]){ 2, 6, 24 }, NULL),
        tb_value(g, "v", DT_FLOAT16, 3, (int64_t[]){ 2, 6, 30 }, NULL),
    };
    Node *n = tb_op_node(g, "Attention", 23, 3, in, 1);
    tb_attr_int(g, n, "q_num_heads", 9);
    tb_attr_int(g, n, "kv_num_heads", 3);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT16, 3, (int64_t[]){ 2, 4, 90 }, NULL, TB_EXACT);
    ir_graph_free(g);
}

/* Builds a 4-D Attention of Q [1][hq][2][4], K/V [1][hkv][3][4] with optional mask. */
static Node *attn_node(Graph *g, int opset, int64_t hq, int64_t hkv, Value *mask) {
    Value *in[4] = {
        tb_value(g, "q", DT_FLOAT, 4, (int64_t[]){ 1, hq, 2, 4 }, NULL),
        tb_value(g, "k", DT_FLOAT, 4, (int64_t[]){ 1, hkv, 3, 4 }, NULL),
        tb_value(g, "v", DT_FLOAT, 4, (int64_t[]){ 1, hkv, 3, 4 }, NULL),
        mask,
    };
    return tb_op_node(g, "Attention", opset, mask ? 4 : 3, in, 1);
}

Test(attn_infer, errors) {
    Graph *g = tb_graph();
    tb_infer_err(g, attn_node(g, 23, 3, 2, NULL), "not a multiple");
    Value *m1 = tb_value(g, "m1", DT_FLOAT, 2, (int64_t[]){ 3, 3 }, NULL);
    tb_infer_err(g, attn_node(g, 23, 2, 2, m1), "does not broadcast");
    Value *m2 = tb_value(g, "m2", DT_FLOAT, 2, (int64_t[]){ 2, 4 }, NULL);
    tb_infer_err(g, attn_node(g, 23, 2, 2, m2), "more than the 3");
    Value *m3 = tb_value(g, "m3", DT_INT32, 2, (int64_t[]){ 2, 3 }, NULL);
    tb_infer_err(g, attn_node(g, 23, 2, 2, m3), "attn_mask of type int32");
    Node *n = attn_node(g, 23, 2, 2, NULL);
    tb_attr_int(g, n, "qk_matmul_output_mode", 4);
    tb_infer_err(g, n, "qk_matmul_output_mode 0 to 3");
    n = attn_node(g, 23, 2, 2, NULL);
    tb_attr_int(g, n, "softmax_precision", 7);
    tb_infer_err(g, n, "softmax_precision 7");
    n = attn_node(g, 23, 2, 2, NULL);
    tb_attr_float(g, n, "scale", -1.0f);
    tb_infer_err(g, n, "scale -1");
    Value *in3[3] = {
        tb_value(g, "q3", DT_FLOAT, 3, (int64_t[]){ 1, 2, 8 }, NULL),
        tb_value(g, "k3", DT_FLOAT, 3, (int64_t[]){ 1, 2, 8 }, NULL),
        tb_value(g, "v3", DT_FLOAT, 3, (int64_t[]){ 1, 2, 8 }, NULL),
    };
    tb_infer_err(g, tb_op_node(g, "Attention", 23, 3, in3, 1), "q_num_heads and kv_num_heads");
    Value *in7[7] = {
        tb_value(g, "q7", DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 4 }, NULL),
        tb_value(g, "k7", DT_FLOAT, 4, (int64_t[]){ 1, 1, 3, 4 }, NULL),
        tb_value(g, "v7", DT_FLOAT, 4, (int64_t[]){ 1, 1, 3, 4 }, NULL),
        NULL, NULL, NULL,
        tb_value(g, "np", DT_INT64, 1, (int64_t[]){ 1 }, NULL),
    };
    tb_infer_err(g, tb_op_node(g, "Attention", 23, 7, in7, 1), "needs opset 24");
    Value *inp[5] = {
        tb_value(g, "qp", DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 4 }, NULL),
        tb_value(g, "kp", DT_FLOAT, 4, (int64_t[]){ 1, 1, 3, 4 }, NULL),
        tb_value(g, "vp", DT_FLOAT, 4, (int64_t[]){ 1, 1, 3, 4 }, NULL),
        NULL,
        tb_value(g, "pk", DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 4 }, NULL),
    };
    tb_infer_err(g, tb_op_node(g, "Attention", 23, 5, inp, 1), "given together");
    ir_graph_free(g);
}

/* ---- Attention: emitted code vs a naive reference ---------------------------------------- */

/* Y[b][h][i] = softmax_j(q.k_j * scale + bias(i, j)) V, key/value head h / reps; causal
 * with offset `off` (j <= i + off), float mask mask[i * L + j] (NULL: none).  A row with
 * no allowed key gives 0. */
static void ref_attention(const float *q, const float *k, const float *v, const float *mask,
                          int64_t B, int64_t Hq, int64_t Hkv, int64_t S, int64_t L, int64_t D,
                          bool causal, int64_t off, float *y) {
    const int64_t reps = Hq / Hkv;
    const double scale = 1.0 / sqrt((double)D);
    double sc[16];
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < S; i++) {
                const float *qr = q + ((b * Hq + h) * S + i) * D;
                const int64_t g = h / reps;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < L; j++) {
                    const float *kr = k + ((b * Hkv + g) * L + j) * D;
                    double s = 0;
                    for (int64_t c = 0; c < D; c++) s += (double)qr[c] * kr[c];
                    s = s * scale + (mask ? mask[i * L + j] : 0);
                    if (causal && j > i + off) s = -INFINITY;
                    sc[j] = s;
                    if (s > mx) mx = s;
                }
                for (int64_t j = 0; j < L; j++) {
                    sc[j] = mx == -INFINITY ? 0 : exp(sc[j] - mx);
                    sum += sc[j];
                }
                for (int64_t c = 0; c < D; c++) {
                    double acc = 0;
                    for (int64_t j = 0; j < L; j++)
                        acc += sc[j] * v[((b * Hkv + g) * L + j) * D + c];
                    y[((b * Hq + h) * S + i) * D + c] = sum > 0 ? (float)(acc / sum) : 0.0f;
                }
            }
}

Test(attn_run, gqa_causal_mask) {
    enum { B = 2, HQ = 4, HKV = 2, S = 3, L = 5, D = 4 };
    const int64_t dq[4] = { B, HQ, S, D }, dk[4] = { B, HKV, L, D }, dm[2] = { S, L };
    float mask[S * L];
    tb_fill(mask, S * L, 99);
    mask[L - 1] = -INFINITY;   /* one key masked outright */
    Graph *g = tb_graph();
    Value *in[4] = { tb_input(g, "q", 4, dq), tb_input(g, "k", 4, dk), tb_input(g, "v", 4, dk),
                     tb_const(g, "m", 2, dm, mask) };
    Node *n = tb_node(g, "Attention", "att", 4, in, 1);
    n->opset = 23;
    tb_attr_int(g, n, "is_causal", 1);
    tb_output(g, n->outputs[0]);
    float *q = filled(numel(4, dq), SEED), *k = filled(numel(4, dk), SEED + 1);
    float *v = filled(numel(4, dk), SEED + 2), *y = filled(numel(4, dq), 0);
    ref_attention(q, k, v, mask, B, HQ, HKV, S, L, D, true, 0, y);
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ numel(4, dq) }, 1e-5);
    free(q), free(k), free(v), free(y);
    ir_graph_free(g);
}

/* 3-D inputs with a past cache: present_key is past then K, per head. */
Test(attn_run, three_d_with_past) {
    enum { B = 1, H = 2, S = 2, P = 3, D = 4, L = P + S };
    const int64_t d3[3] = { B, S, H * D }, dp[4] = { B, H, P, D };
    Graph *g = tb_graph();
    Value *in[6] = { tb_input(g, "q", 3, d3), tb_input(g, "k", 3, d3), tb_input(g, "v", 3, d3),
                     NULL, tb_input(g, "pk", 4, dp), tb_input(g, "pv", 4, dp) };
    Node *n = tb_node(g, "Attention", "att", 6, in, 2);
    n->opset = 23;
    tb_attr_int(g, n, "q_num_heads", H);
    tb_attr_int(g, n, "kv_num_heads", H);
    tb_attr_int(g, n, "is_causal", 1);
    tb_output(g, n->outputs[0]);
    tb_output(g, n->outputs[1]);
    float *q3 = filled(B * S * H * D, SEED), *k3 = filled(B * S * H * D, SEED + 1);
    float *v3 = filled(B * S * H * D, SEED + 2);
    float *pk = filled(B * H * P * D, SEED + 3), *pv = filled(B * H * P * D, SEED + 4);
    /* to [B][H][seq][D], K/V after the past */
    float q[B * H * S * D], k[B * H * L * D], v[B * H * L * D], y4[B * H * S * D];
    float y[B * S * H * D];
    for (int h = 0; h < H; h++) {
        for (int j = 0; j < L; j++)
            for (int c = 0; c < D; c++) {
                k[(h * L + j) * D + c] = j < P ? pk[(h * P + j) * D + c]
                                               : k3[(j - P) * H * D + h * D + c];
                v[(h * L + j) * D + c] = j < P ? pv[(h * P + j) * D + c]
                                               : v3[(j - P) * H * D + h * D + c];
            }
        for (int i = 0; i < S; i++)
            for (int c = 0; c < D; c++) q[(h * S + i) * D + c] = q3[i * H * D + h * D + c];
    }
    ref_attention(q, k, v, NULL, B, H, H, S, L, D, true, P, y4);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < S; i++)
            for (int c = 0; c < D; c++) y[i * H * D + h * D + c] = y4[(h * S + i) * D + c];
    run_expect(g, 2, (float *[]){ y, k }, (int64_t[]){ B * S * H * D, B * H * L * D }, 1e-5);
    free(q3), free(k3), free(v3), free(pk), free(pv);
    ir_graph_free(g);
}

/* ---- RotaryEmbedding ----------------------------------------------------------------------- */

Test(attn_rotary, infer_and_errors) {
    Graph *g = tb_graph();
    Value *in[4] = {
        tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 2, 3, 16 }, NULL),
        tb_value(g, "c", DT_FLOAT, 2, (int64_t[]){ 10, 2 }, NULL),
        tb_value(g, "s", DT_FLOAT, 2, (int64_t[]){ 10, 2 }, NULL),
        tb_value(g, "p", DT_INT64, 2, (int64_t[]){ 2, 3 }, NULL),
    };
    Node *n = tb_op_node(g, "RotaryEmbedding", 23, 4, in, 1);
    tb_attr_int(g, n, "num_heads", 2);
    tb_attr_int(g, n, "rotary_embedding_dim", 4);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 2, 3, 16 }, NULL, TB_EXACT);
    n = tb_op_node(g, "RotaryEmbedding", 23, 4, in, 1);
    tb_attr_int(g, n, "num_heads", 2);
    tb_attr_int(g, n, "rotary_embedding_dim", 5);
    tb_infer_err(g, n, "must be even");
    n = tb_op_node(g, "RotaryEmbedding", 23, 4, in, 1);
    tb_infer_err(g, n, "num_heads > 0");
    n = tb_op_node(g, "RotaryEmbedding", 23, 3, in, 1);
    tb_attr_int(g, n, "num_heads", 2);
    tb_attr_int(g, n, "rotary_embedding_dim", 4);
    tb_infer_err(g, n, "without position_ids");
    ir_graph_free(g);
}

/* 4-D input [1][2][3][6], rotary dim 4 (2 pairs), interleaved or not, positions 4, 0, 2. */
static void rotary_case(bool interleaved) {
    enum { H = 2, S = 3, D = 6, RD = 4, HALF = RD / 2, MAXP = 5 };
    const int64_t dx[4] = { 1, H, S, D }, dc[2] = { MAXP, HALF };
    const int64_t pos[S] = { 4, 0, 2 };
    float cosv[MAXP * HALF], sinv[MAXP * HALF];
    for (int p = 0; p < MAXP; p++)
        for (int k = 0; k < HALF; k++) {
            cosv[p * HALF + k] = cosf(0.3f * p * (k + 1));
            sinv[p * HALF + k] = sinf(0.3f * p * (k + 1));
        }
    Graph *g = tb_graph();
    Value *in[4] = { tb_input(g, "x", 4, dx), tb_const(g, "c", 2, dc, cosv),
                     tb_const(g, "s", 2, dc, sinv),
                     tb_const_i64(g, "p", 2, (int64_t[]){ 1, S }, pos) };
    Node *n = tb_node(g, "RotaryEmbedding", "rope", 4, in, 1);
    n->opset = 23;
    tb_attr_int(g, n, "rotary_embedding_dim", RD);
    tb_attr_int(g, n, "interleaved", interleaved);
    tb_output(g, n->outputs[0]);
    float *x = filled(H * S * D, SEED), y[H * S * D];
    for (int h = 0; h < H; h++)
        for (int s = 0; s < S; s++) {
            const float *xr = x + (h * S + s) * D;
            float *yr = y + (h * S + s) * D;
            memcpy(yr, xr, sizeof(float) * D);
            for (int k = 0; k < HALF; k++) {
                int a = interleaved ? 2 * k : k, b = interleaved ? 2 * k + 1 : k + HALF;
                float c = cosv[pos[s] * HALF + k], sn = sinv[pos[s] * HALF + k];
                yr[a] = c * xr[a] - sn * xr[b];
                yr[b] = sn * xr[a] + c * xr[b];
            }
        }
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ H * S * D }, 1e-6);
    free(x);
    ir_graph_free(g);
}

Test(attn_rotary, halves) { rotary_case(false); }
Test(attn_rotary, interleaved) { rotary_case(true); }

/* float16 input and caches, no position_ids: caches [batch][seq][pairs]. */
Test(attn_rotary, float16_no_position_ids) {
    enum { S = 2, D = 4, HALF = D / 2 };
    const int64_t dx[3] = { 1, S, D }, dc[3] = { 1, S, HALF };
    const double cosv[S * HALF] = { 1, 0.5, 0, -0.75 }, sinv[S * HALF] = { 0, 0.875, 1, 0.625 };
    Graph *g = tb_graph();
    Node *cx = tb_node(g, "Cast", "cx", 1, (Value *[]){ tb_input(g, "x", 3, dx) }, 1);
    tb_attr_int(g, cx, "to", DT_FLOAT16);
    Value *in[3] = { cx->outputs[0], tb_value(g, "c", DT_FLOAT16, 3, dc, cosv),
                     tb_value(g, "s", DT_FLOAT16, 3, dc, sinv) };
    Node *n = tb_node(g, "RotaryEmbedding", "rope", 3, in, 1);
    n->opset = 23;
    tb_attr_int(g, n, "num_heads", 1);
    Node *cy = tb_node(g, "Cast", "cy", 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, cy, "to", DT_FLOAT);
    tb_output(g, cy->outputs[0]);
    float *x = filled(S * D, SEED), y[S * D];
    for (int s = 0; s < S; s++)
        for (int k = 0; k < HALF; k++) {
            const float a = x[s * D + k], b = x[s * D + k + HALF];
            const float c = (float)cosv[s * HALF + k], sn = (float)sinv[s * HALF + k];
            y[s * D + k] = c * a - sn * b;
            y[s * D + k + HALF] = sn * a + c * b;
        }
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ S * D }, 5e-3);
    free(x);
    ir_graph_free(g);
}

/* A position outside the cache makes the generated function fail. */
Test(attn_rotary, position_out_of_range_fails) {
    const int64_t dx[4] = { 1, 1, 1, 2 }, dc[2] = { 2, 1 };
    Graph *g = tb_graph();
    Value *in[4] = { tb_input(g, "x", 4, dx), tb_const(g, "c", 2, dc, (float[]){ 1, 1 }),
                     tb_const(g, "s", 2, dc, (float[]){ 0, 0 }),
                     tb_const_i64(g, "p", 2, (int64_t[]){ 1, 1 }, (int64_t[]){ 2 }) };
    Node *n = tb_node(g, "RotaryEmbedding", "rope", 4, in, 1);
    n->opset = 23;
    tb_output(g, n->outputs[0]);
    tb_pipeline_ok(g);
    tb_run_fails(g, SEED, "model_run returned 1");
    ir_graph_free(g);
}

/* ---- SwiGLU ---------------------------------------------------------------------------- */

Test(attn_swiglu, fold_by_hand) {
    Graph *g = tb_graph();
    const int64_t dims[1] = { 3 };
    Value *in[2] = { tb_value(g, "a", DT_FLOAT, 1, dims, (double[]){ 0, 1, -2 }),
                     tb_value(g, "b", DT_FLOAT, 1, dims, (double[]){ 5, 2, 1 }) };
    Node *n = tb_op_node(g, "SwiGLU", 28, 2, in, 1);
    tb_attr_float(g, n, "alpha", 0.5f);
    tb_fold_ok(g, n);
    /* a * sigmoid(0.5 a) * b */
    const double want[3] = { 0, 1 / (1 + exp(-0.5)) * 2, -2 / (1 + exp(1.0)) };
    tb_expect_data(n->outputs[0], 3, want, TB_ABS(1e-6));
    Value *bad[2] = { in[0], tb_value(g, "b2", DT_FLOAT, 1, (int64_t[]){ 1 }, NULL) };
    tb_infer_err(g, tb_op_node(g, "SwiGLU", 28, 2, bad, 1), "no broadcasting");
    ir_graph_free(g);
}

static Node *b_swiglu(Graph *g, bool konst) {
    const int64_t dims[2] = { 3, 5 };
    Value *in[2] = { tb_e2e_input(g, konst, "a", 2, dims, 0),
                     tb_e2e_input(g, konst, "b", 2, dims, 1) };
    Node *n = tb_node(g, "SwiGLU", "sw", 2, in, 1);
    n->opset = 28;
    return n;
}

Test(attn_swiglu, emit_matches_fold) {
    tb_emit_vs_fold(b_swiglu, (TbE2E){ .seed = SEED, .n_out = 1, .tol = TB_REL(1e-6) });
}

/* ---- CausalConvWithState ------------------------------------------------------------------- */

Test(attn_causal_conv, infer_and_errors) {
    Graph *g = tb_graph();
    Value *in[4] = { tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 2, 3, 5 }, NULL),
                     tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 3, 1, 4 }, NULL), NULL,
                     tb_value(g, "p", DT_FLOAT, 3, (int64_t[]){ 2, 3, 3 }, NULL) };
    Node *n = tb_op_node(g, "CausalConvWithState", 27, 4, in, 2);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[1], DT_FLOAT, 3, (int64_t[]){ 2, 3, 3 }, NULL, TB_EXACT);
    n = tb_op_node(g, "CausalConvWithState", 27, 4, in, 2);
    tb_attr_str(g, n, "activation", "gelu");
    tb_infer_err(g, n, "activation 'gelu'");
    Value *p2 = tb_value(g, "p2", DT_FLOAT, 3, (int64_t[]){ 2, 3, 2 }, NULL);
    Value *bad[4] = { in[0], in[1], NULL, p2 };
    tb_infer_err(g, tb_op_node(g, "CausalConvWithState", 27, 4, bad, 2), "past_state must be");
    ir_graph_free(g);
}

Test(attn_causal_conv, run_with_past_bias_silu) {
    enum { B = 2, C = 3, L = 4, K = 3 };
    const int64_t dx[3] = { B, C, L }, dw[3] = { C, 1, K }, dp[3] = { B, C, K - 1 };
    float w[C * K], bias[C] = { 0.5f, -0.25f, 0.125f };
    tb_fill(w, C * K, 77);
    Graph *g = tb_graph();
    Value *in[4] = { tb_input(g, "x", 3, dx), tb_const(g, "w", 3, dw, w),
                     tb_const(g, "b", 1, (int64_t[]){ C }, bias), tb_input(g, "p", 3, dp) };
    Node *n = tb_node(g, "CausalConvWithState", "cc", 4, in, 2);
    n->opset = 27;
    tb_attr_str(g, n, "activation", "silu");
    tb_output(g, n->outputs[0]);
    tb_output(g, n->outputs[1]);
    float *x = filled(B * C * L, SEED), *p = filled(B * C * (K - 1), SEED + 1);
    float y[B * C * L], st[B * C * (K - 1)];
    for (int r = 0; r < B * C; r++) {
        float pad[K - 1 + L];
        memcpy(pad, p + r * (K - 1), sizeof(float) * (K - 1));
        memcpy(pad + K - 1, x + r * L, sizeof(float) * L);
        for (int t = 0; t < L; t++) {
            float acc = 0;
            for (int j = 0; j < K; j++) acc += pad[t + j] * w[(r % C) * K + j];
            acc += bias[r % C];
            y[r * L + t] = acc / (1 + expf(-acc));
        }
        memcpy(st + r * (K - 1), pad + L, sizeof(float) * (K - 1));
    }
    run_expect(g, 2, (float *[]){ y, st }, (int64_t[]){ B * C * L, B * C * (K - 1) }, 1e-5);
    free(x), free(p);
    ir_graph_free(g);
}

/* ---- LinearAttention ----------------------------------------------------------------------- */

Test(attn_linear, infer_and_errors) {
    Graph *g = tb_graph();
    Value *in[6] = { tb_value(g, "q", DT_FLOAT, 3, (int64_t[]){ 2, 3, 16 }, NULL),
                     tb_value(g, "k", DT_FLOAT, 3, (int64_t[]){ 2, 3, 8 }, NULL),
                     tb_value(g, "v", DT_FLOAT, 3, (int64_t[]){ 2, 3, 6 }, NULL), NULL,
                     tb_value(g, "dc", DT_FLOAT, 3, (int64_t[]){ 2, 3, 2 }, NULL),
                     tb_value(g, "bt", DT_FLOAT, 3, (int64_t[]){ 2, 3, 1 }, NULL) };
    Node *n = tb_op_node(g, "LinearAttention", 27, 6, in, 2);
    tb_attr_int(g, n, "q_num_heads", 4);
    tb_attr_int(g, n, "kv_num_heads", 2);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 2, 3, 12 }, NULL, TB_EXACT);
    tb_expect(n->outputs[1], DT_FLOAT, 4, (int64_t[]){ 2, 2, 4, 3 }, NULL, TB_EXACT);
    n = tb_op_node(g, "LinearAttention", 27, 6, in, 2);
    tb_attr_int(g, n, "q_num_heads", 4);
    tb_attr_int(g, n, "kv_num_heads", 2);
    tb_attr_str(g, n, "update_rule", "linear");
    tb_infer_err(g, n, "forbids decay");
    n = tb_op_node(g, "LinearAttention", 27, 6, in, 2);
    tb_attr_int(g, n, "q_num_heads", 3);
    tb_attr_int(g, n, "kv_num_heads", 2);
    tb_infer_err(g, n, "positive multiple");
    ir_graph_free(g);
}

/* Gated delta rule, 2 query heads over 1 key/value head, per-head decay, shared beta. */
Test(attn_linear, run_gated_delta_gqa) {
    enum { B = 1, T = 3, HQ = 2, HKV = 1, DK = 2, DV = 3 };
    const int64_t dq[3] = { B, T, HQ * DK }, dk[3] = { B, T, HKV * DK }, dv[3] = { B, T, DV };
    const int64_t dd[3] = { B, T, HKV }, db[3] = { B, T, 1 };
    Graph *g = tb_graph();
    Value *in[6] = { tb_input(g, "q", 3, dq), tb_input(g, "k", 3, dk), tb_input(g, "v", 3, dv),
                     NULL, tb_input(g, "dc", 3, dd), tb_input(g, "bt", 3, db) };
    Node *n = tb_node(g, "LinearAttention", "la", 6, in, 2);
    n->opset = 27;
    tb_attr_int(g, n, "q_num_heads", HQ);
    tb_attr_int(g, n, "kv_num_heads", HKV);
    tb_output(g, n->outputs[0]);
    tb_output(g, n->outputs[1]);
    float *q = filled(T * HQ * DK, SEED), *k = filled(T * DK, SEED + 1);
    float *v = filled(T * DV, SEED + 2), *dc = filled(T, SEED + 3), *bt = filled(T, SEED + 4);
    float S[DK][DV] = { { 0 } }, y[T * HQ * DV];
    const float scale = 1.0f / sqrtf((float)DK);
    for (int t = 0; t < T; t++) {
        float vt[DV];
        for (int a = 0; a < DK; a++)
            for (int m = 0; m < DV; m++) S[a][m] *= expf(dc[t]);
        for (int m = 0; m < DV; m++) {
            float r = 0;
            for (int a = 0; a < DK; a++) r += S[a][m] * k[t * DK + a];
            vt[m] = bt[t] * (v[t * DV + m] - r);
        }
        for (int a = 0; a < DK; a++)
            for (int m = 0; m < DV; m++) S[a][m] += k[t * DK + a] * vt[m];
        for (int h = 0; h < HQ; h++)
            for (int m = 0; m < DV; m++) {
                float acc = 0;
                for (int a = 0; a < DK; a++) acc += q[t * HQ * DK + h * DK + a] * S[a][m];
                y[t * HQ * DV + h * DV + m] = scale * acc;
            }
    }
    run_expect(g, 2, (float *[]){ y, &S[0][0] }, (int64_t[]){ T * HQ * DV, DK * DV }, 1e-5);
    free(q), free(k), free(v), free(dc), free(bt);
    ir_graph_free(g);
}

/* ---- FlexAttention ------------------------------------------------------------------------- */

Test(attn_flex, run_gqa_matches_attention) {
    enum { B = 1, HQ = 2, HKV = 1, S = 3, L = 4, D = 4 };
    const int64_t dq[4] = { B, HQ, S, D }, dk[4] = { B, HKV, L, D };
    Graph *g = tb_graph();
    Value *in[3] = { tb_input(g, "q", 4, dq), tb_input(g, "k", 4, dk), tb_input(g, "v", 4, dk) };
    Diag d;
    diag_init(&d);
    Node *n = ir_node_new(g, "flex", "FlexAttention", "ai.onnx.preview", 3, 1, &d);
    cr_assert_not_null(n);
    for (int i = 0; i < 3; i++) n->inputs[i] = in[i];
    n->outputs[0] = ir_value_new(g, "y", &d);
    n->outputs[0]->producer = n;
    n->opset = 1;
    diag_free(&d);
    tb_output(g, n->outputs[0]);
    float *q = filled(numel(4, dq), SEED), *k = filled(numel(4, dk), SEED + 1);
    float *v = filled(numel(4, dk), SEED + 2), y[B * HQ * S * D];
    ref_attention(q, k, v, NULL, B, HQ, HKV, S, L, D, false, 0, y);
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ B * HQ * S * D }, 1e-5);
    free(q), free(k), free(v);
    ir_graph_free(g);
}

/* ---- MatMul / Gemm / Conv beyond float32 ----------------------------------------------- */

Test(attn_gemm, types_and_legacy_gemm) {
    Graph *g = tb_graph();
    Value *mm[2] = { tb_value(g, "a", DT_BFLOAT16, 3, (int64_t[]){ 2, 3, 4 }, NULL),
                     tb_value(g, "b", DT_BFLOAT16, 2, (int64_t[]){ 4, 5 }, NULL) };
    Node *n = tb_op_node(g, "MatMul", 13, 2, mm, 1);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_BFLOAT16, 3, (int64_t[]){ 2, 3, 5 }, NULL, TB_EXACT);
    Value *mixed[2] = { mm[0], tb_value(g, "b2", DT_FLOAT, 2, (int64_t[]){ 4, 5 }, NULL) };
    tb_infer_err(g, tb_op_node(g, "MatMul", 13, 2, mixed, 1), "expected bfloat16");
    Value *ints[2] = { tb_value(g, "ai", DT_INT32, 2, (int64_t[]){ 2, 2 }, NULL),
                       tb_value(g, "bi", DT_INT32, 2, (int64_t[]){ 2, 2 }, NULL) };
    tb_infer_err(g, tb_op_node(g, "MatMul", 13, 2, ints, 1), "MatMul of int32");
    Value *gm[3] = { tb_value(g, "ga", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL),
                     tb_value(g, "gb", DT_FLOAT, 2, (int64_t[]){ 3, 4 }, NULL),
                     tb_value(g, "gc", DT_FLOAT, 1, (int64_t[]){ 4 }, NULL) };
    tb_infer_err(g, tb_op_node(g, "Gemm", 6, 3, gm, 1), "needs attribute broadcast = 1");
    n = tb_op_node(g, "Gemm", 6, 3, gm, 1);
    tb_attr_int(g, n, "broadcast", 1);
    tb_infer_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 4 }, NULL, TB_EXACT);
    ir_graph_free(g);
}

/* x (float input) -> Cast(t) -> op -> Cast(float). */
static Value *cast_to(Graph *g, Value *x, DType t, const char *name) {
    Node *c = tb_node(g, "Cast", name, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, c, "to", t);
    return c->outputs[0];
}

/* Y = A B (batched, B broadcast) in double and in float16, against float math. */
static void matmul_typed(DType t, double tol) {
    enum { NB = 2, M = 3, K = 5, N = 4 };
    const int64_t da[3] = { NB, M, K }, db[2] = { K, N };
    Graph *g = tb_graph();
    Value *a = cast_to(g, tb_input(g, "a", 3, da), t, "ca");
    Value *b = cast_to(g, tb_input(g, "b", 2, db), t, "cb");
    Node *n = tb_node(g, "MatMul", "mm", 2, (Value *[]){ a, b }, 1);
    n->opset = 13;
    tb_output(g, cast_to(g, n->outputs[0], DT_FLOAT, "cy"));
    float *av = filled(NB * M * K, SEED), *bv = filled(K * N, SEED + 1), y[NB * M * N];
    for (int p = 0; p < NB; p++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)av[(p * M + i) * K + k] * bv[k * N + j];
                y[(p * M + i) * N + j] = (float)acc;
            }
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ NB * M * N }, tol);
    free(av), free(bv);
    ir_graph_free(g);
}

Test(attn_gemm, matmul_double) { matmul_typed(DT_DOUBLE, 1e-6); }
Test(attn_gemm, matmul_float16) { matmul_typed(DT_FLOAT16, 1e-2); }

Test(attn_gemm, gemm_double_trans_b_with_c) {
    enum { M = 2, K = 3, N = 4 };
    Graph *g = tb_graph();
    Value *a = cast_to(g, tb_input(g, "a", 2, (int64_t[]){ M, K }), DT_DOUBLE, "ca");
    Value *b = cast_to(g, tb_input(g, "b", 2, (int64_t[]){ N, K }), DT_DOUBLE, "cb");
    Value *c = cast_to(g, tb_input(g, "c", 1, (int64_t[]){ N }), DT_DOUBLE, "cc");
    Node *n = tb_node(g, "Gemm", "gm", 3, (Value *[]){ a, b, c }, 1);
    tb_attr_int(g, n, "transB", 1);
    tb_attr_float(g, n, "alpha", 0.5f);
    tb_attr_float(g, n, "beta", 2.0f);
    tb_output(g, cast_to(g, n->outputs[0], DT_FLOAT, "cy"));
    float *av = filled(M * K, SEED), *bv = filled(N * K, SEED + 1), *cv = filled(N, SEED + 2);
    float y[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)av[i * K + k] * bv[j * K + k];
            y[i * N + j] = (float)(0.5 * acc + 2.0 * cv[j]);
        }
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ M * N }, 1e-6);
    free(av), free(bv), free(cv);
    ir_graph_free(g);
}

/* A 2-D Conv with groups, stride, dilation and padding in double against float math. */
Test(attn_conv, double_groups_pads) {
    enum { N = 1, C = 4, H = 5, W = 6, M = 2, G = 2, KH = 2, KW = 3 };
    const int64_t dx[4] = { N, C, H, W }, dw[4] = { M, C / G, KH, KW };
    Graph *g = tb_graph();
    Value *x = cast_to(g, tb_input(g, "x", 4, dx), DT_DOUBLE, "cx");
    Value *w = cast_to(g, tb_input(g, "w", 4, dw), DT_DOUBLE, "cw");
    Value *b = cast_to(g, tb_input(g, "b", 1, (int64_t[]){ M }), DT_DOUBLE, "cb");
    Node *n = tb_node(g, "Conv", "cv", 3, (Value *[]){ x, w, b }, 1);
    tb_attr_int(g, n, "group", G);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ 1, 2 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 2, 0, 1 }, 4);
    tb_output(g, cast_to(g, n->outputs[0], DT_FLOAT, "cy"));
    /* out: H (5 + 1 - 2) / 2 + 1 = 3, W (6 + 3 - 5) / 1 + 1 = 5 */
    enum { OH = 3, OW = 5 };
    float *xv = filled(N * C * H * W, SEED), *wv = filled(M * (C / G) * KH * KW, SEED + 1);
    float *bv = filled(M, SEED + 2), y[M * OH * OW];
    for (int m = 0; m < M; m++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = bv[m];
                for (int c = 0; c < C / G; c++)
                    for (int kh = 0; kh < KH; kh++)
                        for (int kw = 0; kw < KW; kw++) {
                            int ih = oh * 2 - 1 + kh, iw = ow - 2 + kw * 2;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            int ci = (m / (M / G)) * (C / G) + c;
                            acc += (double)xv[(ci * H + ih) * W + iw] *
                                   wv[((m * (C / G) + c) * KH + kh) * KW + kw];
                        }
                y[(m * OH + oh) * OW + ow] = (float)acc;
            }
    run_expect(g, 1, (float *[]){ y }, (int64_t[]){ M * OH * OW }, 1e-6);
    free(xv), free(wv), free(bv);
    ir_graph_free(g);
}
