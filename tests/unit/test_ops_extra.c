/* test_ops_extra.c: DeformConv, Scatter (the opset 9-10 name of ScatterElements),
 * BatchNormalization in training mode and Dropout in training mode with ratio 0:
 * inference and error paths, folding on small constants checked against values worked
 * out by hand (or given by the ONNX spec's examples), and the emitted code run end to
 * end against the folder on the same data. */
#include <criterion/criterion.h>

#include "helpers.h"
#include "ir/graph.h"

/* ---- helpers -------------------------------------------------------------------------- */

static Value *fval(Graph *g, const char *name, int rank, const int64_t *dims,
                   const double *vals) {
    return tb_value(g, name, DT_FLOAT, rank, dims, vals);
}

/* ---- end to end: emitted code against the folder ------------------------------------- */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: every output must agree to 1e-5 relative. */
static void emit_vs_fold(TbBuild build, int n_out) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = n_out, .tol = TB_REL(1e-5) });
}

/* ---- Scatter ------------------------------------------------------------------------- */

/* The spec's example with axis 1: data [[1, 2, 3, 4, 5]], indices [[1, 3]]. */
Test(extra_scatter, with_axis_folds_like_scatterelements) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 2, (int64_t[]){ 1, 5 }, (double[]){ 1, 2, 3, 4, 5 });
    Value *ind = tb_value(g, "i", DT_INT64, 2, (int64_t[]){ 1, 2 }, (double[]){ 1, 3 });
    Value *u = fval(g, "u", 2, (int64_t[]){ 1, 2 }, (double[]){ 1.1, 2.1 });
    Node *n = tb_op_node(g, "Scatter", 10, 3, (Value *[]){ x, ind, u }, 1);
    tb_attr_int(g, n, "axis", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 1, 5 },
              (double[]){ 1, 1.1, 3, 2.1, 5 }, TB_REL(1e-7));
    ir_graph_free(g);
}

/* Axis 0 (the default), negative indices counting from the end. */
Test(extra_scatter, without_axis_and_negative_index) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 2, (int64_t[]){ 3, 2 }, (double[]){ 0, 0, 0, 0, 0, 0 });
    Value *ind = tb_value(g, "i", DT_INT32, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, -1, 0, 2 });
    Value *u = fval(g, "u", 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, 4 });
    Node *n = tb_op_node(g, "Scatter", 9, 3, (Value *[]){ x, ind, u }, 1);
    tb_fold_ok(g, n);
    /* (1,0) <- 1, (2,1) <- 2, (0,0) <- 3, (2,1) <- 4 (the later update wins) */
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 3, 0, 1, 0, 0, 4 },
              TB_EXACT);
    ir_graph_free(g);
}

Test(extra_scatter, deprecated_from_opset_11) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    Value *ind = tb_value(g, "i", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Value *u = fval(g, "u", 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Node *n = tb_op_node(g, "Scatter", 11, 3, (Value *[]){ x, ind, u }, 1);
    tb_fold_err(g, n, "Scatter is deprecated from opset 11");
    ir_graph_free(g);
}

Test(extra_scatter, has_no_reduction) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    Value *ind = tb_value(g, "i", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Value *u = fval(g, "u", 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Node *n = tb_op_node(g, "Scatter", 10, 3, (Value *[]){ x, ind, u }, 1);
    tb_attr_str(g, n, "reduction", "add");
    tb_fold_err(g, n, "Scatter has no attribute 'reduction'");
    ir_graph_free(g);
}

Test(extra_scatter, index_out_of_range) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    Value *ind = tb_value(g, "i", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 3 });
    Value *u = fval(g, "u", 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Node *n = tb_op_node(g, "Scatter", 10, 3, (Value *[]){ x, ind, u }, 1);
    tb_fold_err(g, n, "out of range");
    ir_graph_free(g);
}

static Node *b_scatter(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 4, 3 }, 0);
    Value *u = tb_e2e_input(g, konst, "u", 2, (int64_t[]){ 2, 3 }, 1);
    Value *ind = tb_const_i64(g, "i", 2, (int64_t[]){ 2, 3 },
                              (int64_t[]){ 3, 0, -1, 1, 2, 0 });
    Node *n = tb_node(g, "Scatter", "sc", 3, (Value *[]){ x, ind, u }, 1);
    n->opset = 10;
    return n;
}

Test(extra_run, scatter) { emit_vs_fold(b_scatter, 1); }

/* ---- Dropout in training mode ---------------------------------------------------------- */

static Node *dropout(Graph *g, double ratio, bool with_ratio, double training, int n_out) {
    Value *x = fval(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 1, -2, 3 });
    Value *r = with_ratio ? fval(g, "r", 0, NULL, (double[]){ ratio }) : NULL;
    Value *t = tb_value(g, "t", DT_BOOL, 0, NULL, (double[]){ training });
    return tb_op_node(g, "Dropout", 13, 3, (Value *[]){ x, r, t }, n_out);
}

Test(extra_dropout, training_with_ratio_zero_keeps_everything) {
    Graph *g = tb_graph();
    Node *n = dropout(g, 0.0, true, 1, 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, -2, 3 }, TB_EXACT);
    tb_expect(n->outputs[1], DT_BOOL, 1, (int64_t[]){ 3 }, (double[]){ 1, 1, 1 }, TB_EXACT);
    ir_graph_free(g);
}

Test(extra_dropout, training_with_ratio_is_random) {
    Graph *g = tb_graph();
    Node *n = dropout(g, 0.25, true, 1, 1);
    tb_fold_err(g, n, "training-mode Dropout with ratio > 0 is random (ratio 0.25)");
    ir_graph_free(g);
}

Test(extra_dropout, training_default_ratio_is_random) {
    Graph *g = tb_graph();
    Node *n = dropout(g, 0.0, false, 1, 1);
    tb_fold_err(g, n, "training-mode Dropout with ratio > 0 is random (ratio 0.5)");
    ir_graph_free(g);
}

Test(extra_dropout, ratio_out_of_range) {
    Graph *g = tb_graph();
    Node *n = dropout(g, 1.0, true, 1, 1);
    tb_fold_err(g, n, "ratio must be in [0, 1), got 1");
    ir_graph_free(g);
}

Test(extra_dropout, inference_ignores_ratio) {
    Graph *g = tb_graph();
    Node *n = dropout(g, 0.5, true, 0, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, -2, 3 }, TB_EXACT);
    ir_graph_free(g);
}

Test(extra_dropout, training_mode_must_be_constant) {
    Graph *g = tb_graph();
    Value *x = fval(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 1, -2, 3 });
    Value *t = tb_value(g, "t", DT_BOOL, 0, NULL, NULL);
    Node *n = tb_op_node(g, "Dropout", 13, 3, (Value *[]){ x, NULL, t }, 1);
    tb_fold_err(g, n, "input 2 't' must be a constant");
    cr_assert(t->needs_const, "the graph input is marked for `onnxcc test` to freeze");
    ir_graph_free(g);
}

/* ---- BatchNormalization in training mode ---------------------------------------------- */

/* x [1][2][2]: channel 0 holds 1, 3 (mean 2, var 1), channel 1 holds 2, 6 (mean 4,
 * var 4); scale 1, 2; B 0, 1; running mean 0, 10; running var 1, 1; epsilon 0. */
static Node *bn_small(Graph *g, int opset, int n_out) {
    const int64_t c2[] = { 2 };
    Value *in[5] = {
        fval(g, "x", 3, (int64_t[]){ 1, 2, 2 }, (double[]){ 1, 3, 2, 6 }),
        fval(g, "s", 1, c2, (double[]){ 1, 2 }),
        fval(g, "b", 1, c2, (double[]){ 0, 1 }),
        fval(g, "m", 1, c2, (double[]){ 0, 10 }),
        fval(g, "v", 1, c2, (double[]){ 1, 1 }),
    };
    Node *n = tb_op_node(g, "BatchNormalization", opset, 5, in, n_out);
    tb_attr_float(g, n, "epsilon", 0.0f);
    return n;
}

Test(extra_bn, training_uses_batch_statistics) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 15, 3);
    tb_attr_int(g, n, "training_mode", 1);
    tb_attr_float(g, n, "momentum", 0.5f);
    tb_fold_ok(g, n);
    /* y = (x - mean) / sqrt(var) * scale + B: (1-2)/1, (3-2)/1; (2-4)/2*2+1, (6-4)/2*2+1 */
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -1, 1, -1, 3 },
              TB_REL(1e-7));
    /* running = input * 0.5 + batch * 0.5 */
    tb_expect(n->outputs[1], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 7 }, TB_REL(1e-7));
    tb_expect(n->outputs[2], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 2.5 }, TB_REL(1e-7));
    ir_graph_free(g);
}

Test(extra_bn, inference_uses_running_statistics) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 15, 1);
    tb_fold_ok(g, n);
    /* ch 0: (x - 0) / 1 * 1 + 0; ch 1: (x - 10) / 1 * 2 + 1 */
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ 1, 3, -15, -7 },
              TB_REL(1e-7));
    ir_graph_free(g);
}

Test(extra_bn, training_mode_needs_opset_14) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 9, 1);
    tb_attr_int(g, n, "training_mode", 1);
    tb_fold_err(g, n, "attribute training_mode exists from opset 14");
    ir_graph_free(g);
}

Test(extra_bn, running_outputs_need_training_mode) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 15, 2);
    tb_fold_err(g, n, "exists only in training mode, which is off");
    ir_graph_free(g);
}

Test(extra_bn, old_training_outputs_rejected) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 9, 5);
    tb_fold_err(g, n, "not supported before opset 14");
    ir_graph_free(g);
}

Test(extra_bn, training_has_three_outputs) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 15, 5);
    tb_attr_int(g, n, "training_mode", 1);
    tb_fold_err(g, n, "5 outputs, expected at most 3");
    ir_graph_free(g);
}

Test(extra_bn, training_mode_is_boolean) {
    Graph *g = tb_graph();
    Node *n = bn_small(g, 15, 1);
    tb_attr_int(g, n, "training_mode", 2);
    tb_fold_err(g, n, "training_mode must be 0 or 1, got 2");
    ir_graph_free(g);
}

static Node *b_bn(Graph *g, bool konst, bool training) {
    const int64_t c3[] = { 3 };
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 5, 7 }, 0);
    Value *s = tb_const(g, "s", 1, c3, (float[]){ 0.5f, -1.0f, 2.0f });
    Value *b = tb_const(g, "b", 1, c3, (float[]){ 0.25f, 0.0f, -1.5f });
    Value *m = tb_const(g, "m", 1, c3, (float[]){ 0.1f, -0.2f, 0.3f });
    Value *v = tb_const(g, "v", 1, c3, (float[]){ 1.0f, 0.5f, 2.0f });
    Node *n = tb_node(g, "BatchNormalization", "bn", 5, (Value *[]){ x, s, b, m, v },
                      training ? 3 : 1);
    n->opset = 15;
    if (training) {
        tb_attr_int(g, n, "training_mode", 1);
        tb_attr_float(g, n, "momentum", 0.8f);
    }
    return n;
}

static Node *b_bn_training(Graph *g, bool konst) { return b_bn(g, konst, true); }
static Node *b_bn_inference(Graph *g, bool konst) { return b_bn(g, konst, false); }

Test(extra_run, batchnorm_training) { emit_vs_fold(b_bn_training, 3); }
Test(extra_run, batchnorm_inference) { emit_vs_fold(b_bn_inference, 1); }

/* ---- DeformConv ------------------------------------------------------------------------ */

/* The spec's examples: X = 0..8 as [1][1][3][3], W ones [1][1][2][2], offsets zero but
 * for the h offset 0.5 of tap (0, 0) at output (0, 0) and the w offset -0.1 of tap (1, 0)
 * at output (0, 1) (channels 0 and 5 of the offset). */
static Node *dc_example(Graph *g, bool mask_bias) {
    double xs[9], off[32] = { 0 };
    for (int i = 0; i < 9; i++) xs[i] = i;
    off[0 * 4 + 0] = 0.5;        /* channel 0 = (tap 0, dh), position (0, 0) */
    off[5 * 4 + 1] = -0.1;       /* channel 5 = (tap 2, dw), position (0, 1) */
    Value *x = fval(g, "x", 4, (int64_t[]){ 1, 1, 3, 3 }, xs);
    Value *w = fval(g, "w", 4, (int64_t[]){ 1, 1, 2, 2 }, (double[]){ 1, 1, 1, 1 });
    Value *o = fval(g, "o", 4, (int64_t[]){ 1, 8, 2, 2 }, off);
    Value *b = NULL, *m = NULL;
    if (mask_bias) {
        double ms[16];
        for (int i = 0; i < 16; i++) ms[i] = 1;
        ms[2 * 4 + 3] = 0.2;     /* tap (1, 0) at position (1, 1) */
        b = fval(g, "b", 1, (int64_t[]){ 1 }, (double[]){ 1 });
        m = fval(g, "mask", 4, (int64_t[]){ 1, 4, 2, 2 }, ms);
    }
    Node *n = tb_op_node(g, "DeformConv", 19, mask_bias ? 5 : 3, (Value *[]){ x, w, o, b, m },
                         1);
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    return n;
}

/* By hand: output (0, 0) samples (0.5, 0) -> 1.5, (0, 1) -> 1, (1, 0) -> 3, (1, 1) -> 4:
 * 9.5.
 * Output (0, 1): tap (1, 0) at (1, 0.9) -> 3.9; others 1, 2, 5: 11.9. */
Test(extra_deform, spec_example_without_padding) {
    Graph *g = tb_graph();
    Node *n = dc_example(g, false);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 2 },
              (double[]){ 9.5, 11.9, 20, 24 }, TB_REL(1e-6));
    ir_graph_free(g);
}

/* Bias 1 everywhere; the mask scales tap (1, 0) at (1, 1), the value 7, by 0.2: 24 - 5.6. */
Test(extra_deform, spec_example_with_mask_and_bias) {
    Graph *g = tb_graph();
    Node *n = dc_example(g, true);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 2 },
              (double[]){ 10.5, 12.9, 21, 19.4 }, TB_REL(1e-6));
    ir_graph_free(g);
}

/* With pads 1 the sampling grid starts at -1: output (0, 0) reads only x[0][0] = 0 (the
 * tap at (-0.5, -1) is outside), so 0; output (0, 1) = x[0][0] + x[0][1] = 1. */
Test(extra_deform, padding_samples_zero_outside) {
    Graph *g = tb_graph();
    double xs[9], off[8 * 16] = { 0 };
    for (int i = 0; i < 9; i++) xs[i] = i;
    off[0] = 0.5;
    Value *x = fval(g, "x", 4, (int64_t[]){ 1, 1, 3, 3 }, xs);
    Value *w = fval(g, "w", 4, (int64_t[]){ 1, 1, 2, 2 }, (double[]){ 1, 1, 1, 1 });
    Value *o = fval(g, "o", 4, (int64_t[]){ 1, 8, 4, 4 }, off);
    Node *n = tb_op_node(g, "DeformConv", 19, 3, (Value *[]){ x, w, o }, 1);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 1, 1, 1 }, 4);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, (int64_t[]){ 1, 1, 4, 4 },
              (double[]){ 0, 1, 3, 2, 3, 8, 12, 7, 9, 20, 24, 13, 6, 13, 15, 8 }, TB_REL(1e-6));
    ir_graph_free(g);
}

static Node *dc_shapes(Graph *g, const int64_t *xd, const int64_t *wd, const int64_t *od) {
    Value *x = tb_value(g, "x", DT_FLOAT, 4, xd, NULL);
    Value *w = tb_value(g, "w", DT_FLOAT, 4, wd, NULL);
    Value *o = tb_value(g, "o", DT_FLOAT, 4, od, NULL);
    return tb_op_node(g, "DeformConv", 19, 3, (Value *[]){ x, w, o }, 1);
}

Test(extra_deform, infers_strided_grouped_shape) {
    Graph *g = tb_graph();
    /* 4 channels in 2 groups, 2 offset groups, 3x3 kernel, stride 2, pads 1: 9x7 -> 5x4 */
    Node *n = dc_shapes(g, (int64_t[]){ 2, 4, 9, 7 }, (int64_t[]){ 6, 2, 3, 3 },
                        (int64_t[]){ 2, 36, 5, 4 });
    tb_attr_int(g, n, "group", 2);
    tb_attr_int(g, n, "offset_group", 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 1, 1, 1 }, 4);
    tb_infer_ok(g, n);
    tb_expect_shape(n->outputs[0], 4, (int64_t[]){ 2, 6, 5, 4 });
    ir_graph_free(g);
}

Test(extra_deform, offset_shape_checked) {
    Graph *g = tb_graph();
    Node *n = dc_shapes(g, (int64_t[]){ 1, 1, 3, 3 }, (int64_t[]){ 1, 1, 2, 2 },
                        (int64_t[]){ 1, 4, 2, 2 });
    tb_fold_err(g, n, "offset 'o' is float[1][4][2][2], expected float[1][8][2][2]");
    ir_graph_free(g);
}

Test(extra_deform, only_2d) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 1, 5 }, NULL);
    Value *w = tb_value(g, "w", DT_FLOAT, 3, (int64_t[]){ 1, 1, 2 }, NULL);
    Value *o = tb_value(g, "o", DT_FLOAT, 3, (int64_t[]){ 1, 2, 4 }, NULL);
    Node *n = tb_op_node(g, "DeformConv", 19, 3, (Value *[]){ x, w, o }, 1);
    tb_fold_err(g, n, "only 2-D DeformConv (X of rank 4) is supported");
    ir_graph_free(g);
}

Test(extra_deform, offset_group_must_divide_channels) {
    Graph *g = tb_graph();
    Node *n = dc_shapes(g, (int64_t[]){ 1, 3, 3, 3 }, (int64_t[]){ 1, 3, 2, 2 },
                        (int64_t[]){ 1, 16, 2, 2 });
    tb_attr_int(g, n, "offset_group", 2);
    tb_fold_err(g, n, "offset_group 2 must divide the input channels 3");
    ir_graph_free(g);
}

Test(extra_deform, group_must_match_weights) {
    Graph *g = tb_graph();
    Node *n = dc_shapes(g, (int64_t[]){ 1, 4, 3, 3 }, (int64_t[]){ 2, 4, 2, 2 },
                        (int64_t[]){ 1, 8, 2, 2 });
    tb_attr_int(g, n, "group", 2);
    tb_fold_err(g, n, "W has 4 input channels per group, expected 2");
    ir_graph_free(g);
}

Test(extra_deform, kernel_shape_must_match_weights) {
    Graph *g = tb_graph();
    Node *n = dc_shapes(g, (int64_t[]){ 1, 1, 3, 3 }, (int64_t[]){ 1, 1, 2, 2 },
                        (int64_t[]){ 1, 8, 2, 2 });
    tb_attr_ints(g, n, "kernel_shape", (int64_t[]){ 3, 3 }, 2);
    tb_fold_err(g, n, "kernel_shape[0] = 3 differs from W's 2");
    ir_graph_free(g);
}

Test(extra_deform, half_types_rejected) {
    Graph *g = tb_graph();
    const int64_t xd[] = { 1, 1, 3, 3 }, wd[] = { 1, 1, 2, 2 }, od[] = { 1, 8, 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT16, 4, xd, NULL);
    Value *w = tb_value(g, "w", DT_FLOAT16, 4, wd, NULL);
    Value *o = tb_value(g, "o", DT_FLOAT16, 4, od, NULL);
    Node *n = tb_op_node(g, "DeformConv", 19, 3, (Value *[]){ x, w, o }, 1);
    tb_fold_err(g, n, "DeformConv of float16 is not supported (float and double are)");
    ir_graph_free(g);
}

/* Groups, offset groups, strides, dilations, asymmetric pads, mask and bias together
 * (6x7 input, 2x3 kernel dilated to 3x3, pads 1, 0 / 0, 2, strides 2, 3: 3x3 output);
 * offsets in [-1, 1) (tb_fill) scaled by 3 so that samples leave the plane too. */
static Node *b_deform(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 4, 6, 7 }, 0);
    Value *w = tb_e2e_input(g, konst, "w", 4, (int64_t[]){ 6, 2, 2, 3 }, 1);
    Value *o = tb_e2e_input(g, konst, "o", 4, (int64_t[]){ 2, 24, 3, 3 }, 2);
    Value *b = tb_e2e_input(g, konst, "b", 1, (int64_t[]){ 6 }, 3);
    Value *m = tb_e2e_input(g, konst, "m", 4, (int64_t[]){ 2, 12, 3, 3 }, 4);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 3.0f });
    Node *scale = tb_node(g, "Mul", "scale", 2, (Value *[]){ o, k }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ scale }, 1);
    Node *n = tb_node(g, "DeformConv", "dc", 5,
                      (Value *[]){ x, w, scale->outputs[0], b, m }, 1);
    n->opset = 19;
    tb_attr_int(g, n, "group", 2);
    tb_attr_int(g, n, "offset_group", 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 3 }, 2);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 0, 0, 2 }, 4);
    return n;
}

/* Plain: one group, no mask or bias. */
static Node *b_deform_plain(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 3, 5, 5 }, 0);
    Value *w = tb_e2e_input(g, konst, "w", 4, (int64_t[]){ 2, 3, 3, 3 }, 1);
    Value *o = tb_e2e_input(g, konst, "o", 4, (int64_t[]){ 1, 18, 3, 3 }, 2);
    Node *n = tb_node(g, "DeformConv", "dc", 3, (Value *[]){ x, w, o }, 1);
    n->opset = 19;
    return n;
}

Test(extra_run, deform_conv_groups_mask_bias) { emit_vs_fold(b_deform, 1); }
Test(extra_run, deform_conv_plain) { emit_vs_fold(b_deform_plain, 1); }
