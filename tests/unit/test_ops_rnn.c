/* test_ops_rnn.c: RNN, GRU and LSTM (compiler/ops/rnn.c): output shapes for both layouts
 * and directions, the error paths, folded values on one-unit layers worked out by hand
 * from the spec's equations (clip, Affine activation, sequence_lens, reverse, peepholes,
 * input_forget, linear_before_reset), the emitted code run end to end against the
 * folder, and the runtime kernels of its float path (onnxcc_gemm_rows.h) against plain
 * loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "onnxcc_gemm.h"
#include "onnxcc_gemm_rows.h"

static double sigm(double v) { return 1 / (1 + exp(-v)); }

/* ---- shapes and errors ------------------------------------------------------------------ */

Test(opsrnn, lstm_shapes_both_layouts) {
    Graph *g = tb_graph();
    /* seq 4, batch 3, input 5, hidden 6, two directions */
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 4, 3, 5 }, NULL);
    Value *w = tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 2, 24, 5 }, NULL);
    Value *r = tb_value(g, "r", DT_FLOAT, 3, (int64_t[]){ 2, 24, 6 }, NULL);
    Node *n = tb_op_node(g, "LSTM", 14, 3, (Value *[]){ x, w, r }, 3);
    tb_attr_str(g, n, "direction", "bidirectional");
    tb_attr_int(g, n, "hidden_size", 6);
    Diag d;
    diag_init(&d);
    cr_assert(n->op->infer(g, n, &d));
    tb_expect_shape(n->outputs[0], 4, (int64_t[]){ 4, 2, 3, 6 });
    tb_expect_shape(n->outputs[1], 3, (int64_t[]){ 2, 3, 6 });
    tb_expect_shape(n->outputs[2], 3, (int64_t[]){ 2, 3, 6 });
    /* layout 1: X [batch][seq][input] */
    Value *xb = tb_value(g, "xb", DT_FLOAT, 3, (int64_t[]){ 3, 4, 5 }, NULL);
    Node *nb = tb_op_node(g, "LSTM", 14, 3, (Value *[]){ xb, w, r }, 3);
    tb_attr_str(g, nb, "direction", "bidirectional");
    tb_attr_int(g, nb, "layout", 1);
    cr_assert(nb->op->infer(g, nb, &d));
    tb_expect_shape(nb->outputs[0], 4, (int64_t[]){ 3, 4, 2, 6 });
    tb_expect_shape(nb->outputs[1], 3, (int64_t[]){ 3, 2, 6 });
    diag_free(&d);
    ir_graph_free(g);
}

Test(opsrnn, errors) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 2, 1, 3 }, NULL);
    Value *w = tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 1, 15, 3 }, NULL);
    Value *r = tb_value(g, "r", DT_FLOAT, 3, (int64_t[]){ 1, 15, 5 }, NULL);
    Node *dir = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_str(g, dir, "direction", "sideways");
    tb_fold_err(g, dir, "direction 'sideways'");
    Node *bi = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_str(g, bi, "direction", "bidirectional");
    tb_fold_err(g, bi, "W float[1][15][3] must have shape [2][15][3]");
    Node *hs = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_int(g, hs, "hidden_size", 4);
    tb_fold_err(g, hs, "hidden_size 4 does not match");
    Node *rnn = tb_op_node(g, "RNN", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_fold_err(g, rnn, "W float[1][15][3] must have shape [1][5][3]");
    Node *act = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_strings(g, act, "activations", (const char *[]){ "Sigmoid", "Cube" }, 2);
    tb_fold_err(g, act, "activation 'Cube'");
    Node *cnt = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_strings(g, cnt, "activations", (const char *[]){ "Sigmoid" }, 1);
    tb_fold_err(g, cnt, "activations must list 2 functions");
    Node *lay = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_int(g, lay, "layout", 2);
    tb_fold_err(g, lay, "layout must be 0 or 1");
    Node *lbr = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_int(g, lbr, "linear_before_reset", 3);
    tb_fold_err(g, lbr, "linear_before_reset must be 0 or 1");
    Node *clip = tb_op_node(g, "GRU", 14, 3, (Value *[]){ x, w, r }, 2);
    tb_attr_float(g, clip, "clip", -1);
    tb_fold_err(g, clip, "clip must be a positive");
    Value *seq = tb_value(g, "seq", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Node *sl = tb_op_node(g, "GRU", 14, 5, (Value *[]){ x, w, r, NULL, seq }, 2);
    tb_fold_err(g, sl, "sequence_lens 'seq' is int64, expected int32");
    Value *xi = tb_value(g, "xi", DT_INT32, 3, (int64_t[]){ 2, 1, 3 }, NULL);
    Node *ty = tb_op_node(g, "GRU", 14, 3, (Value *[]){ xi, w, r }, 2);
    tb_fold_err(g, ty, "int32");
    ir_graph_free(g);
}

/* ---- folded values by hand ---------------------------------------------------------------- */

/* One unit, two steps: h1 = tanh(2 * 1 + 0.3), h2 = tanh(2 * -1 + 0.5 * h1 + 0.3); with
 * clip 1 both pre-activations are clipped first. */
static void rnn_two_steps(bool clip) {
    Graph *g = tb_graph();
    int64_t d3[] = { 1, 1, 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 2, 1, 1 }, (double[]){ 1, -1 });
    Value *w = tb_value(g, "w", DT_FLOAT, 3, d3, (double[]){ 2 });
    Value *r = tb_value(g, "r", DT_FLOAT, 3, d3, (double[]){ 0.5 });
    Value *b = tb_value(g, "b", DT_FLOAT, 2, (int64_t[]){ 1, 2 }, (double[]){ 0.1, 0.2 });
    Node *n = tb_op_node(g, "RNN", 14, 4, (Value *[]){ x, w, r, b }, 2);
    if (clip) tb_attr_float(g, n, "clip", 1);
    tb_fold_ok(g, n);
    const double h1 = clip ? tanh(1) : tanh(2.3);
    double p2 = -2 + 0.5 * h1 + 0.3;
    if (clip && p2 < -1) p2 = -1;
    const double h2 = tanh(p2);
    tb_expect_shape(n->outputs[0], 4, (int64_t[]){ 2, 1, 1, 1 });
    tb_expect_data(n->outputs[0], 2, (double[]){ h1, h2 }, TB_REL(1e-6));
    tb_expect_data(n->outputs[1], 1, (double[]){ h2 }, TB_REL(1e-6));
    ir_graph_free(g);
}

Test(opsrnn, rnn_fold_two_steps) { rnn_two_steps(false); }
Test(opsrnn, rnn_fold_clip) { rnn_two_steps(true); }

/* Affine(alpha 1, beta 0) makes h_t = x_t + h_(t-1), a running sum: the reverse direction
 * with sequence_lens {3, 2} sums each row from its last valid step back; Y past a row's
 * length is 0. */
Test(opsrnn, rnn_reverse_sequence_lens) {
    Graph *g = tb_graph();
    int64_t d3[] = { 1, 1, 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 3, 2, 1 },
                        (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *w = tb_value(g, "w", DT_FLOAT, 3, d3, (double[]){ 1 });
    Value *r = tb_value(g, "r", DT_FLOAT, 3, d3, (double[]){ 1 });
    Value *seq = tb_value(g, "seq", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 3, 2 });
    Node *n = tb_op_node(g, "RNN", 14, 5, (Value *[]){ x, w, r, NULL, seq }, 2);
    tb_attr_str(g, n, "direction", "reverse");
    tb_attr_strings(g, n, "activations", (const char *[]){ "affine" }, 1);
    static float alpha[] = { 1 }, beta[] = { 0 };
    tb_attr_floats(g, n, "activation_alpha", alpha, 1);
    tb_attr_floats(g, n, "activation_beta", beta, 1);
    tb_fold_ok(g, n);
    /* Y [3][1][2][1]: row 0 = 9, 8, 5; row 1 = 6, 4, 0 */
    tb_expect_data(n->outputs[0], 6, (double[]){ 9, 6, 8, 4, 5, 0 }, TB_REL(1e-6));
    tb_expect_data(n->outputs[1], 2, (double[]){ 9, 6 }, TB_REL(1e-6));
    Value *bad = tb_value(g, "bad", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 4, 1 });
    Node *nb = tb_op_node(g, "RNN", 14, 5, (Value *[]){ x, w, r, NULL, bad }, 2);
    tb_fold_err(g, nb, "sequence_lens[0] = 4 is outside [0, 3]");
    ir_graph_free(g);
}

/* One unit, one step from h0 = 2: z = f(1 + 0.5 h0), r = f(2 + 0.5 h0); the new gate has
 * Rbh = 0.4, which linear_before_reset multiplies by r too. */
static void gru_one_step(bool linear) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 1, 1 }, (double[]){ 1 });
    Value *w = tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 1, 2, 3 });
    Value *r = tb_value(g, "r", DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 0.5, 0.5, 0.5 });
    Value *b = tb_value(g, "b", DT_FLOAT, 2, (int64_t[]){ 1, 6 }, (double[]){ 0, 0, 0, 0, 0, 0.4 });
    Value *h0 = tb_value(g, "h0", DT_FLOAT, 3, (int64_t[]){ 1, 1, 1 }, (double[]){ 2 });
    Node *n = tb_op_node(g, "GRU", 14, 6, (Value *[]){ x, w, r, b, NULL, h0 }, 2);
    tb_attr_int(g, n, "linear_before_reset", linear);
    tb_fold_ok(g, n);
    const double z = sigm(2), rr = sigm(3);
    const double nn = linear ? tanh(3 + rr * (0.5 * 2 + 0.4)) : tanh(3 + 0.5 * (rr * 2) + 0.4);
    const double h = (1 - z) * nn + z * 2;
    tb_expect_data(n->outputs[0], 1, (double[]){ h }, TB_REL(1e-6));
    tb_expect_data(n->outputs[1], 1, (double[]){ h }, TB_REL(1e-6));
    ir_graph_free(g);
}

Test(opsrnn, gru_fold_default) { gru_one_step(false); }
Test(opsrnn, gru_fold_linear_before_reset) { gru_one_step(true); }

/* One unit, one step from c0 = 0.5 with peepholes (0.1, 0.2, 0.3) for (i, o, f) and no
 * recurrence; input_forget replaces f by 1 - i. */
static void lstm_one_step(bool input_forget) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 1, 1 }, (double[]){ 1 });
    Value *w = tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 1, 4, 1 }, (double[]){ 1, 2, 3, 4 });
    Value *r = tb_value(g, "r", DT_FLOAT, 3, (int64_t[]){ 1, 4, 1 }, (double[]){ 0, 0, 0, 0 });
    Value *c0 = tb_value(g, "c0", DT_FLOAT, 3, (int64_t[]){ 1, 1, 1 }, (double[]){ 0.5 });
    Value *p = tb_value(g, "p", DT_FLOAT, 2, (int64_t[]){ 1, 3 }, (double[]){ 0.1, 0.2, 0.3 });
    Node *n = tb_op_node(g, "LSTM", 14, 8, (Value *[]){ x, w, r, NULL, NULL, NULL, c0, p }, 3);
    tb_attr_int(g, n, "input_forget", input_forget);
    tb_fold_ok(g, n);
    const double i = sigm(1 + 0.1 * 0.5);
    const double f = input_forget ? 1 - i : sigm(3 + 0.3 * 0.5);
    const double c = f * 0.5 + i * tanh(4);
    const double o = sigm(2 + 0.2 * c);
    const double h = o * tanh(c);
    tb_expect_data(n->outputs[0], 1, (double[]){ h }, TB_REL(1e-6));
    tb_expect_data(n->outputs[1], 1, (double[]){ h }, TB_REL(1e-6));
    tb_expect_data(n->outputs[2], 1, (double[]){ c }, TB_REL(1e-6));
    ir_graph_free(g);
}

Test(opsrnn, lstm_fold_peepholes) { lstm_one_step(false); }
Test(opsrnn, lstm_fold_input_forget) { lstm_one_step(true); }

/* ---- end to end: emitted code against the folder ------------------------------------------ */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: every output must agree to 1e-5 relative. */
static void emit_vs_fold(TbBuild build, int n_out) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = n_out, .tol = TB_REL(1e-5) });
}

/* Bidirectional LSTM, seq 4, batch 3 (lengths 4, 2, 0), input 5, hidden 6, with every
 * optional input and output. */
static Node *b_lstm(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 3, 5 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 2, 24, 5 }, 3, -0.5f, 0.5f);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 2, 24, 6 }, 4, -0.5f, 0.5f);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 2, 48 }, 5, -0.5f, 0.5f);
    Value *seq = tb_value(g, "seq", DT_INT32, 1, (int64_t[]){ 3 }, (double[]){ 4, 2, 0 });
    Value *h0 = tb_e2e_input(g, konst, "h0", 3, (int64_t[]){ 2, 3, 6 }, 1);
    Value *c0 = tb_e2e_input(g, konst, "c0", 3, (int64_t[]){ 2, 3, 6 }, 2);
    Value *p = tb_const_rand(g, "p", 2, (int64_t[]){ 2, 18 }, 6, -0.5f, 0.5f);
    Node *n = tb_node(g, "LSTM", "lstm", 8, (Value *[]){ x, w, r, b, seq, h0, c0, p }, 3);
    tb_attr_str(g, n, "direction", "bidirectional");
    n->opset = 14;
    return n;
}

/* GRU in layout 1, reverse, linear_before_reset, clip. */
static Node *b_gru_layout1(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 5, 3 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 1, 12, 3 }, 3, -1, 1);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 1, 12, 4 }, 4, -1, 1);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 1, 24 }, 5, -1, 1);
    Node *n = tb_node(g, "GRU", "gru", 4, (Value *[]){ x, w, r, b }, 2);
    tb_attr_int(g, n, "layout", 1);
    tb_attr_str(g, n, "direction", "reverse");
    tb_attr_int(g, n, "linear_before_reset", 1);
    tb_attr_float(g, n, "clip", 0.75f);
    n->opset = 14;
    return n;
}

/* Bidirectional GRU, default equations, only Y_h. */
static Node *b_gru_bi(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 2, 4 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 2, 15, 4 }, 3, -1, 1);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 2, 15, 5 }, 4, -1, 1);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 2, 30 }, 5, -1, 1);
    Node *n = tb_node(g, "GRU", "gru", 4, (Value *[]){ x, w, r, b }, 2);
    tb_attr_str(g, n, "direction", "bidirectional");
    n->opset = 14;
    return n;
}

/* RNN with per-direction activations that take alpha and beta. */
static Node *b_rnn_acts(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 2, 4 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 2, 5, 4 }, 3, -1, 1);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 2, 5, 5 }, 4, -1, 1);
    Node *n = tb_node(g, "RNN", "rnn", 3, (Value *[]){ x, w, r }, 2);
    tb_attr_str(g, n, "direction", "bidirectional");
    tb_attr_strings(g, n, "activations", (const char *[]){ "LeakyRelu", "HardSigmoid" }, 2);
    static float alpha[] = { 0.1f, 0.3f }, beta[] = { 0.4f };
    tb_attr_floats(g, n, "activation_alpha", alpha, 2);
    tb_attr_floats(g, n, "activation_beta", beta, 1);
    n->opset = 14;
    return n;
}

/* The float path's other branches: sizes that are no multiple of the vector width or of
 * the packed panels (hidden 37: two panels, the second padded), more batch rows than a
 * GEMM tile (9 > 8: onnxcc_f32_gemm_pb, else onnxcc_f32_gemm_rows_pb), rows advancing
 * together (no sequence_lens) or alone. */

/* LSTM in layout 1, bidirectional, input_forget and clip, direction 1 with other
 * activations (HardSigmoid, Relu, Softsign). */
static Node *b_lstm_layout1_forget(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 9, 3, 7 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 2, 148, 7 }, 3, -0.3f, 0.3f);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 2, 148, 37 }, 4, -0.3f, 0.3f);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 2, 296 }, 5, -0.3f, 0.3f);
    Value *h0 = tb_e2e_input(g, konst, "h0", 3, (int64_t[]){ 9, 2, 37 }, 1);
    Node *n = tb_node(g, "LSTM", "lstm", 6, (Value *[]){ x, w, r, b, NULL, h0 }, 3);
    tb_attr_int(g, n, "layout", 1);
    tb_attr_str(g, n, "direction", "bidirectional");
    tb_attr_int(g, n, "input_forget", 1);
    tb_attr_float(g, n, "clip", 1.5f);
    tb_attr_strings(g, n, "activations",
                    (const char *[]){ "Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Relu",
                                      "Softsign" }, 6);
    n->opset = 14;
    return n;
}

/* LSTM, default equations with clip: the gates clipped and activated as one block; 3
 * rows (a pass of two and one of one) by 68 columns (three panels: two, then one). */
static Node *b_lstm_clip(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 3, 5 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 1, 68, 5 }, 3, -1, 1);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 1, 68, 17 }, 4, -1, 1);
    Node *n = tb_node(g, "LSTM", "lstm", 3, (Value *[]){ x, w, r }, 3);
    tb_attr_float(g, n, "clip", 0.8f);
    n->opset = 14;
    return n;
}

/* GRU with the default equations (r . h before Rn), sequence_lens and clip, hidden 33. */
static Node *b_gru_seq_clip(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 5, 3, 6 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 1, 99, 6 }, 3, -0.4f, 0.4f);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 1, 99, 33 }, 4, -0.4f, 0.4f);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 1, 198 }, 5, -0.4f, 0.4f);
    Value *seq = tb_value(g, "seq", DT_INT32, 1, (int64_t[]){ 3 }, (double[]){ 5, 0, 3 });
    Node *n = tb_node(g, "GRU", "gru", 5, (Value *[]){ x, w, r, b, seq }, 2);
    tb_attr_float(g, n, "clip", 0.9f);
    n->opset = 14;
    return n;
}

/* RNN with the default Tanh, reverse, 10 rows together, hidden 35. */
static Node *b_rnn_tanh(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 10, 4 }, 0);
    Value *w = tb_const_rand(g, "w", 3, (int64_t[]){ 1, 35, 4 }, 3, -0.5f, 0.5f);
    Value *r = tb_const_rand(g, "r", 3, (int64_t[]){ 1, 35, 35 }, 4, -0.5f, 0.5f);
    Value *b = tb_const_rand(g, "b", 2, (int64_t[]){ 1, 70 }, 5, -0.5f, 0.5f);
    Node *n = tb_node(g, "RNN", "rnn", 4, (Value *[]){ x, w, r, b }, 2);
    tb_attr_str(g, n, "direction", "reverse");
    n->opset = 14;
    return n;
}

Test(opsrnn_run, lstm_bidirectional_all_inputs) { emit_vs_fold(b_lstm, 3); }
Test(opsrnn_run, lstm_layout1_input_forget_acts) { emit_vs_fold(b_lstm_layout1_forget, 3); }
Test(opsrnn_run, lstm_clip) { emit_vs_fold(b_lstm_clip, 3); }
Test(opsrnn_run, gru_sequence_lens_clip) { emit_vs_fold(b_gru_seq_clip, 2); }
Test(opsrnn_run, rnn_reverse_tanh_rows) { emit_vs_fold(b_rnn_tanh, 2); }
Test(opsrnn_run, gru_layout1_reverse_linear_clip) { emit_vs_fold(b_gru_layout1, 2); }
Test(opsrnn_run, gru_bidirectional) { emit_vs_fold(b_gru_bi, 2); }
Test(opsrnn_run, rnn_activation_params) { emit_vs_fold(b_rnn_acts, 2); }

/* ---- the runtime kernels of the float path -------------------------------------------- */

/* A value in [-1, 1) from an index, the same on every run. */
static float kern_val(size_t i) { return (float)((i * 7919u + 13u) % 1000u) / 500.0f - 1.0f; }

/* onnxcc_f32_pack_b_t then onnxcc_f32_gemm_rows_pb against a plain product, for sizes
 * at, below and above the vector width and the 32-column panels (W with a row stride
 * past K, C with one past N: neither may be touched there). */
Test(opsrnn_kern, pack_and_few_rows_product) {
    static const size_t ms[] = { 1, 2, 3, 5 }, ns[] = { 1, 15, 16, 33, 64, 100 },
                        ks[] = { 0, 1, 16, 17, 48 };
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
                const size_t M = ms[im], N = ns[in], K = ks[ik], ldw = K + 3, ldc = N + 2;
                const size_t lda = K + 1;
                float *w = malloc(sizeof(float) * (N * ldw + 1));
                float *a = malloc(sizeof(float) * (M * lda + 1));
                float *bp = malloc(sizeof(float) * (onnxcc_packed_b_floats(K, N) + 1));
                float *c = malloc(sizeof(float) * M * ldc);
                cr_assert(w && a && bp && c);
                for (size_t i = 0; i < N * ldw; i++) w[i] = kern_val(i);
                for (size_t i = 0; i < M * lda; i++) a[i] = kern_val(i + 5);
                for (size_t i = 0; i < M * ldc; i++) c[i] = 42.0f;
                onnxcc_f32_pack_b_t(N, K, w, (ptrdiff_t)ldw, bp);
                for (size_t k = 0; k < K; k++)
                    for (size_t j = 0; j < onnxcc_packed_b_floats(1, N); j++)
                        cr_assert_eq(bp[onnxcc_packed_b_index(K, k, j)],
                                     j < N ? w[j * ldw + k] : 0.0f, "pack N %zu K %zu", N, K);
                onnxcc_f32_gemm_rows_pb(M, N, K, a, (ptrdiff_t)lda, bp, c, (ptrdiff_t)ldc);
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < ldc; j++) {
                        double want = 42.0;
                        if (j < N) {
                            want = 0;
                            for (size_t k = 0; k < K; k++)
                                want += (double)a[i * lda + k] * w[j * ldw + k];
                        }
                        cr_assert(fabs(c[i * ldc + j] - want) <= 1e-5 * (1 + fabs(want)),
                                  "M %zu N %zu K %zu: c[%zu][%zu] = %g, want %g", M, N, K, i,
                                  j, (double)c[i * ldc + j], want);
                    }
                free(w), free(a), free(bp), free(c);
            }
}
