/* test_graph_speed.c: emitted elementwise code shaped for speed gives the same numbers.
 *
 * Binary ops with an operand constant along the innermost loop (squeeze-and-excitation's
 * x[1,C,H,W] * s[1,C,1,1]) read it once per row (binary.c); each case runs the generated
 * code, in place over its input, against a direct evaluation here, with that operand on
 * either side (order matters for Sub and Div).  Swish, the one loop SiLU becomes, is
 * checked with a non-default alpha.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/emitter.h"
#include "helpers.h"
#include "onnxcc_act.h"
#include "ops/op.h"

enum { SE_C = 3, SE_PLANE = 20, SE_N = SE_C * SE_PLANE };

/* tanh(op(relu(x), s)) or tanh(op(s, relu(x))) for x[1,3,4,5], s[1,3,1,1]: the Relu's
 * output is read last by op, which therefore runs in place. */
static void check_channel_op(const char *op, bool s_first) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, SE_C, 4, 5 }, sd[4] = { 1, SE_C, 1, 1 };
    Value *x = tb_input(g, "x", 4, xd), *s = tb_input(g, "s", 4, sd);
    Node *relu = tb_node(g, "Relu", "relu", 1, &x, 1);
    Value *in[2] = { relu->outputs[0], s };
    if (s_first) { in[0] = s; in[1] = relu->outputs[0]; }
    Node *bin = tb_node(g, op, "op", 2, in, 1);
    Node *out = tb_node(g, "Tanh", "out", 1, bin->outputs, 1);
    tb_output(g, out->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(bin->outputs[0]->ws_offset, relu->outputs[0]->ws_offset, "in place");
    Emitter e;
    emit_init(&e);
    diag_init(&d);
    cr_assert(bin->op->emit(&e, bin, &d));
    cr_assert(strstr(e.out.data, "const float s = x"), "s read once per row:\n%s", e.out.data);
    emit_free(&e);
    diag_free(&d);

    float xs[SE_N], ss[SE_C], *got = NULL;
    int64_t n = 0;
    tb_fill(xs, SE_N, 7);           /* tb_run fills input k with seed 7 + k */
    tb_fill(ss, SE_C, 8);
    cr_assert(tb_run(g, 7, &got, &n, 1));
    cr_assert_eq(n, SE_N);
    for (int i = 0; i < SE_N; i++) {
        float a = onnxcc_relu(xs[i]), b = ss[i / SE_PLANE];
        if (s_first) { float t = a; a = b; b = t; }
        float want = onnxcc_tanh(op[0] == 'S' ? a - b : op[0] == 'D' ? a / b : a * b);
        cr_assert(fabsf(got[i] - want) <= 1e-6f, "%s element %d: %.9g, expected %.9g", op, i,
                  (double)got[i], (double)want);
    }
    free(got);
    ir_graph_free(g);
}

Test(graph_speed, channel_scale_in_place) { check_channel_op("Mul", false); }
Test(graph_speed, channel_scale_first) { check_channel_op("Mul", true); }
Test(graph_speed, channel_sub_both_orders) {
    check_channel_op("Sub", false);
    check_channel_op("Sub", true);
}
Test(graph_speed, channel_div_both_orders) {
    check_channel_op("Div", false);
    check_channel_op("Div", true);
}

/* ONNX Swish (opset 24, what Mul(x, Sigmoid(x)) becomes), with a non-default alpha: the
 * emitted loop (from a graph input) and the folder (from a constant) against
 * x * sigmoid(alpha * x). */
Test(graph_speed, swish_with_alpha_emitted_and_folded) {
    enum { N = 40 };
    Graph *g = tb_graph();
    int64_t dims[1] = { N };
    float xs[N], cs[N];
    tb_fill(xs, N, 7);
    for (int i = 0; i < N; i++) cs[i] = 8.0f * xs[i];       /* reaches both tails */
    Value *in[2] = { tb_input(g, "x", 1, dims), tb_const(g, "c", 1, dims, cs) };
    Node *sw[2];
    for (int k = 0; k < 2; k++) {
        sw[k] = tb_node(g, "Swish", k ? "folded" : "emitted", 1, &in[k], 1);
        sw[k]->opset = 24;
        tb_attr_float(g, sw[k], "alpha", 0.5f);
        tb_output(g, sw[k]->outputs[0]);
    }
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Swish"), 1, "the constant one is folded");
    float *got[2] = { NULL, NULL };
    int64_t n[2] = { 0, 0 };
    cr_assert(tb_run(g, 7, got, n, 2));
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(n[k], N);
        for (int i = 0; i < N; i++) {
            float x = k ? cs[i] : xs[i], want = x * onnxcc_sigmoid(0.5f * x);
            cr_assert(fabsf(got[k][i] - want) <= 1e-6f * (1.0f + fabsf(want)),
                      "%s element %d: %.9g, expected %.9g", k ? "folded" : "emitted", i,
                      (double)got[k][i], (double)want);
        }
        free(got[k]);
    }
    ir_graph_free(g);
}
