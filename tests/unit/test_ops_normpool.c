/* test_ops_normpool.c: InstanceNormalization, GroupNormalization (opset 18 per-group and
 * opset 21 per-channel scale), MeanVarianceNormalization and LRN (compiler/ops/norm.c):
 * folded values worked out by hand, error paths, and emitted code against the folder; and
 * the pools of compiler/ops/pool.c that emit a window loop (LpPool, MaxPool on int8 /
 * uint8 with Indices) and MaxUnpool, run end to end against values computed here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* ---- folded values by hand ---------------------------------------------------------------- */

/* Channel 0 = {1, 3}: mean 2, std 1; channel 1 = {2, 6}: mean 4, std 2 (epsilon 0). */
Test(opsnorm, instancenorm_values) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 2, 1, 2 }, (double[]){ 1, 3, 2, 6 });
    Value *s = tb_value(g, "s", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 });
    Value *b = tb_value(g, "b", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0, 1 });
    Node *n = tb_op_node(g, "InstanceNormalization", 6, 3, (Value *[]){ x, s, b }, 1);
    tb_attr_float(g, n, "epsilon", 0);
    tb_fold_ok(g, n);
    tb_expect_data(n->outputs[0], 4, (double[]){ -1, 1, -1, 3 }, TB_REL(1e-6));
    Value *s3 = tb_value(g, "s3", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, 1, 1 });
    Node *bad = tb_op_node(g, "InstanceNormalization", 6, 3, (Value *[]){ x, s3, b }, 1);
    tb_fold_err(g, bad, "must hold 2 values");
    ir_graph_free(g);
}

/* Two groups of two channels: {1, 3} and {2, 6} normalise to {-1, 1} each; opset 18 scales
 * per group, opset 21 per channel. */
Test(opsnorm, groupnorm_opset18_and_21) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 4, 1, 1 }, (double[]){ 1, 3, 2, 6 });
    Value *s2 = tb_value(g, "s2", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 });
    Value *b2 = tb_value(g, "b2", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0, 1 });
    Node *n18 = tb_op_node(g, "GroupNormalization", 18, 3, (Value *[]){ x, s2, b2 }, 1);
    tb_attr_int(g, n18, "num_groups", 2);
    tb_attr_float(g, n18, "epsilon", 0);
    tb_fold_ok(g, n18);
    tb_expect_data(n18->outputs[0], 4, (double[]){ -1, 1, -1, 3 }, TB_REL(1e-6));
    Value *s4 = tb_value(g, "s4", DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ 1, 2, 3, 4 });
    Value *b4 = tb_value(g, "b4", DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ 0, 0, 0, 1 });
    Node *n21 = tb_op_node(g, "GroupNormalization", 21, 3, (Value *[]){ x, s4, b4 }, 1);
    tb_attr_int(g, n21, "num_groups", 2);
    tb_attr_float(g, n21, "epsilon", 0);
    tb_fold_ok(g, n21);
    tb_expect_data(n21->outputs[0], 4, (double[]){ -1, 2, -3, 5 }, TB_REL(1e-6));
    Node *old = tb_op_node(g, "GroupNormalization", 21, 3, (Value *[]){ x, s2, b2 }, 1);
    tb_attr_int(g, old, "num_groups", 2);
    tb_fold_err(g, old, "must hold 4 values (one per channel since opset 21)");
    Node *three = tb_op_node(g, "GroupNormalization", 21, 3, (Value *[]){ x, s4, b4 }, 1);
    tb_attr_int(g, three, "num_groups", 3);
    tb_fold_err(g, three, "must be given and divide the 4 channels");
    ir_graph_free(g);
}

/* x[n][c] = {1, 10, 3, 20}: per channel (default axes 0, 2, 3) {1, 3} and {10, 20} both
 * become {-1, 1}; with axes [1] the rows {1, 10} and {3, 20} do. */
Test(opsnorm, mvn_values) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 2, 2, 1, 1 }, (double[]){ 1, 10, 3, 20 });
    Node *n = tb_op_node(g, "MeanVarianceNormalization", 13, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, n);
    tb_expect_data(n->outputs[0], 4, (double[]){ -1, -1, 1, 1 }, TB_REL(1e-6));
    Node *a1 = tb_op_node(g, "MeanVarianceNormalization", 13, 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, a1, "axes", (int64_t[]){ 1 }, 1);
    tb_fold_ok(g, a1);
    tb_expect_data(a1->outputs[0], 4, (double[]){ -1, 1, -1, 1 }, TB_REL(1e-6));
    Node *dup = tb_op_node(g, "MeanVarianceNormalization", 13, 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, dup, "axes", (int64_t[]){ 1, -3 }, 2);
    tb_fold_err(g, dup, "listed twice");
    ir_graph_free(g);
}

/* x = {1, 2, 3} over channels, alpha / size = 1, beta 1, bias 1: y = x / (1 + window sum of
 * squares); size 3 windows [c-1, c+1], size 2 windows [c, c+1]. */
Test(opsnorm, lrn_values) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 3, 1, 1 }, (double[]){ 1, 2, 3 });
    Node *n = tb_op_node(g, "LRN", 13, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "size", 3);
    tb_attr_float(g, n, "alpha", 3);
    tb_attr_float(g, n, "beta", 1);
    tb_attr_float(g, n, "bias", 1);
    tb_fold_ok(g, n);
    tb_expect_data(n->outputs[0], 3, (double[]){ 1.0 / 6, 2.0 / 15, 3.0 / 14 }, TB_REL(1e-6));
    Node *n2 = tb_op_node(g, "LRN", 13, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n2, "size", 2);
    tb_attr_float(g, n2, "alpha", 2);
    tb_attr_float(g, n2, "beta", 1);
    tb_attr_float(g, n2, "bias", 1);
    tb_fold_ok(g, n2);
    tb_expect_data(n2->outputs[0], 3, (double[]){ 1.0 / 6, 2.0 / 14, 3.0 / 10 }, TB_REL(1e-6));
    Node *bad = tb_op_node(g, "LRN", 13, 1, (Value *[]){ x }, 1);
    tb_fold_err(g, bad, "size must be given");
    ir_graph_free(g);
}

/* ---- end to end: emitted code against the folder ------------------------------------------ */

enum { E2E_SEED = 31 };

/* The emitted code against the folder: the output must agree to 1e-5 relative. */
static void emit_vs_fold(TbBuild build) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_REL(1e-5) });
}

static Node *b_instnorm(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 4, 5 }, 0);
    Value *s = tb_const_rand(g, "s", 1, (int64_t[]){ 3 }, 3, 0.5f, 1.5f);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){ 3 }, 4, -1, 1);
    Node *n = tb_node(g, "InstanceNormalization", "in", 3, (Value *[]){ x, s, b }, 1);
    n->opset = 6;
    return n;
}

static Node *b_groupnorm(Graph *g, bool konst, int opset, int64_t n_scale) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 6, 3, 2 }, 0);
    Value *s = tb_const_rand(g, "s", 1, (int64_t[]){ n_scale }, 3, 0.5f, 1.5f);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){ n_scale }, 4, -1, 1);
    Node *n = tb_node(g, "GroupNormalization", "gn", 3, (Value *[]){ x, s, b }, 1);
    tb_attr_int(g, n, "num_groups", 3);
    n->opset = opset;
    return n;
}

static Node *b_groupnorm21(Graph *g, bool konst) { return b_groupnorm(g, konst, 21, 6); }
static Node *b_groupnorm18(Graph *g, bool konst) { return b_groupnorm(g, konst, 18, 3); }

/* rows that are not contiguous: statistics over axes 0, 2, 3 */
static Node *b_mvn_default(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 4, 5 }, 0);
    Node *n = tb_node(g, "MeanVarianceNormalization", "mvn", 1, (Value *[]){ x }, 1);
    n->opset = 13;
    return n;
}

static Node *b_mvn_13(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 4, 5 }, 0);
    Node *n = tb_node(g, "MeanVarianceNormalization", "mvn", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1, 3 }, 2);
    n->opset = 13;
    return n;
}

static Node *b_lrn(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 7, 3, 3 }, 0);
    Node *n = tb_node(g, "LRN", "lrn", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "size", 4);
    tb_attr_float(g, n, "alpha", 0.5f);
    tb_attr_float(g, n, "bias", 1.5f);
    n->opset = 13;
    return n;
}

Test(opsnorm_run, instancenorm) { emit_vs_fold(b_instnorm); }
Test(opsnorm_run, groupnorm_per_channel) { emit_vs_fold(b_groupnorm21); }
Test(opsnorm_run, groupnorm_per_group) { emit_vs_fold(b_groupnorm18); }
Test(opsnorm_run, mvn_default_axes) { emit_vs_fold(b_mvn_default); }
Test(opsnorm_run, mvn_axes_1_3) { emit_vs_fold(b_mvn_13); }
Test(opsnorm_run, lrn_even_size) { emit_vs_fold(b_lrn); }

/* ---- pools: emitted code against values computed here ------------------------------------- */

/* Runs a graph whose inputs are constants (or none); returns output k's bytes. */
static void run_graph(Graph *g, int n_out, float **out, int64_t *out_n) {
    tb_pipeline_ok(g);
    cr_assert(tb_run(g, E2E_SEED, out, out_n, n_out));
}

/* LpPool p = 3 on a 2-D input with pads, strides and dilations, against a direct sum. */
Test(opspool_run, lppool_p3_pads_strides_dilations) {
    const int64_t H = 6, W = 7, K = 2, S = 2, D = 2, P = 1;
    const int64_t OH = (H + 2 * P - D * (K - 1) - 1) / S + 1;
    const int64_t OW = (W + 2 * P - D * (K - 1) - 1) / S + 1;
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){ 1, 2, H, W });
    Node *n = tb_node(g, "LpPool", "lp", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ K, K }, 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ S, S }, 2);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ D, D }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ P, P, P, P }, 4);
    tb_attr_int(g, n, "p", 3);
    n->opset = 18;
    tb_output(g, n->outputs[0]);
    float *out[1];
    int64_t out_n[1];
    run_graph(g, 1, out, out_n);
    cr_assert_eq(out_n[0], 2 * OH * OW);
    float xin[2 * 6 * 7];
    tb_fill(xin, 2 * H * W, E2E_SEED);
    for (int64_t c = 0; c < 2; c++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double sum = 0;
                for (int64_t kh = 0; kh < K; kh++)
                    for (int64_t kw = 0; kw < K; kw++) {
                        const int64_t ih = oh * S - P + kh * D, iw = ow * S - P + kw * D;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        sum += pow(fabs(xin[(c * H + ih) * W + iw]), 3);
                    }
                const double want = cbrt(sum), got = out[0][(c * OH + oh) * OW + ow];
                cr_assert(fabs(got - want) <= 1e-5 * (1 + want),
                          "(%lld, %lld, %lld): %.9g, want %.9g", (long long)c, (long long)oh,
                          (long long)ow, got, want);
            }
    free(out[0]);
    ir_graph_free(g);
}

/* A 3x3 int8 plane, 2x2 windows with stride 1: the maxima and their flat indices (row-major,
 * and column-major for storage_order 1). */
static void maxpool_int8(int storage_order) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_INT8, 4, (int64_t[]){ 1, 1, 3, 3 },
                        (double[]){ -9, 7, -3, 4, -128, 5, 6, 2, 1 });
    Node *n = tb_node(g, "MaxPool", "mp", 1, (Value *[]){ x }, 2);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_attr_int(g, n, "storage_order", storage_order);
    n->opset = 12;
    tb_output(g, n->outputs[0]);
    tb_output(g, n->outputs[1]);
    float *out[2];
    int64_t out_n[2];
    run_graph(g, 2, out, out_n);
    const signed char *y = (const signed char *)out[0];
    const int64_t *idx = (const int64_t *)(void *)out[1];
    const signed char want[] = { 7, 7, 6, 5 };
    /* positions (0,1), (0,1), (2,0), (1,2) */
    const int64_t row[] = { 1, 1, 6, 5 }, col[] = { 3, 3, 2, 7 };
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(y[k], want[k], "y[%d] = %d, want %d", k, y[k], want[k]);
        const int64_t w = storage_order ? col[k] : row[k];
        cr_assert_eq(idx[k], w, "index %d = %lld, want %lld", k, (long long)idx[k], (long long)w);
    }
    free(out[0]);
    free(out[1]);
    ir_graph_free(g);
}

Test(opspool_run, maxpool_int8_indices) { maxpool_int8(0); }
Test(opspool_run, maxpool_int8_indices_column_major) { maxpool_int8(1); }

/* uint8 with pads 1: the padding never wins, even over 0. */
Test(opspool_run, maxpool_uint8_pads) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_UINT8, 4, (int64_t[]){ 1, 1, 2, 2 },
                        (double[]){ 0, 200, 3, 0 });
    Node *n = tb_node(g, "MaxPool", "mp", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 1, 1, 1 }, 4);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    n->opset = 12;
    tb_output(g, n->outputs[0]);
    float *out[1];
    int64_t out_n[1];
    run_graph(g, 1, out, out_n);
    const unsigned char *y = (const unsigned char *)out[0];
    const unsigned char want[] = { 0, 200, 3, 0 };
    for (int k = 0; k < 4; k++)
        cr_assert_eq(y[k], want[k], "y[%d] = %d, want %d", k, y[k], want[k]);
    free(out[0]);
    ir_graph_free(g);
}

/* The conformance example: indices into the 4x4 unpooled plane, then placed at the start of
 * a 5x5 output_shape. */
Test(opspool_run, maxunpool_output_shape) {
    Graph *g = tb_graph();
    int64_t d4[] = { 1, 1, 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 4, d4, (double[]){ 5, 6, 7, 8 });
    Value *i = tb_const_i64(g, "i", 4, d4, (int64_t[]){ 5, 7, 13, 15 });
    Value *shp = tb_const_i64(g, "shape", 1, (int64_t[]){ 4 }, (int64_t[]){ 1, 1, 5, 5 });
    Node *n = tb_node(g, "MaxUnpool", "mu", 3, (Value *[]){ x, i, shp }, 1);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    n->opset = 11;
    tb_output(g, n->outputs[0]);
    float *out[1];
    int64_t out_n[1];
    run_graph(g, 1, out, out_n);
    cr_assert_eq(out_n[0], 25);
    float want[25] = { 0 };
    want[1 * 5 + 1] = 5, want[1 * 5 + 3] = 6, want[3 * 5 + 1] = 7, want[3 * 5 + 3] = 8;
    for (int k = 0; k < 25; k++) cr_assert_eq(out[0][k], want[k], "y[%d] = %g", k, out[0][k]);
    free(out[0]);
    ir_graph_free(g);
}

Test(opspool, maxunpool_errors) {
    Graph *g = tb_graph();
    int64_t d4[] = { 1, 1, 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 4, d4, (double[]){ 5, 6, 7, 8 });
    Value *i = tb_const_i64(g, "i", 4, d4, (int64_t[]){ 5, 7, 13, 15 });
    Value *shp = tb_const_i64(g, "shape", 1, (int64_t[]){ 4 }, (int64_t[]){ 1, 1, 3, 5 });
    Node *n = tb_op_node(g, "MaxUnpool", 11, 3, (Value *[]){ x, i, shp }, 1);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    tb_fold_err(g, n, "output_shape[2] = 3 cannot hold the unpooled size 4");
    Value *xf = tb_value(g, "xf", DT_FLOAT, 4, d4, (double[]){ 5, 6, 7, 8 });
    Node *noi = tb_op_node(g, "MaxUnpool", 11, 2, (Value *[]){ x, xf }, 1);
    tb_attr_ints(g, noi, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_fold_err(g, noi, "I must be int64");
    Value *xh = tb_value(g, "xh", DT_FLOAT16, 4, d4, NULL);
    Node *lp = tb_op_node(g, "LpPool", 18, 1, (Value *[]){ xh }, 1);
    tb_attr_ints(g, lp, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    tb_fold_err(g, lp, "LpPool supports float, double only (input X is float16)");
    ir_graph_free(g);
}
