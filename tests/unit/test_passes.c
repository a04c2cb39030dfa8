/* test_passes.c: activation fusion and BatchNormalization folding.
 *
 * Each fusion test builds the same small graph twice, runs the pipeline with and without
 * fusion, checks the rewritten graph (one node left, its epilogue, the output value's name
 * kept) and that the generated code of both gives the same numbers.  BN folding is checked
 * against a hand computation of the new weights and against the unfolded graph's numbers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "onnxcc_act.h"
#include "passes/pass.h"

/* Which graph a builder makes. */
typedef enum Base { BASE_CONV, BASE_GEMM, BASE_MATMUL, BASE_MATMUL_BATCHED } Base;

typedef struct ActSpec {
    const char *op;         /* "Relu", "LeakyRelu", "Elu", "PRelu" */
    float alpha;            /* attribute alpha when > 0 */
    int slope_rank;         /* PRelu: slope shape */
    int64_t slope_dims[4];
} ActSpec;

/* Conv: x[1,3,6,6] * w[4,3,3,3] + b[4], pads 1 -> [1,4,6,6].
 * Gemm: a[5,6] x b[6,4] + c[4] -> [5,4].  MatMul: a[5,6] x b[6,4] -> [5,4], batched:
 * a[2,5,6] x b[6,4] -> [2,5,4].
 * The activation's output is the graph output. */
static Graph *build(Base base, const ActSpec *act) {
    Graph *g = tb_graph();
    Node *p;
    if (base == BASE_CONV) {
        int64_t xd[4] = { 1, 3, 6, 6 }, wd[4] = { 4, 3, 3, 3 }, bd[1] = { 4 };
        Value *in[3] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1),
                         tb_const_rand(g, "b", 1, bd, 2, -1, 1) };
        p = tb_node(g, "Conv", "conv", 3, in, 1);
        int64_t pads[4] = { 1, 1, 1, 1 };
        tb_attr_ints(g, p, "pads", pads, 4);
    } else {
        int64_t ad[3] = { 2, 5, 6 }, bd[2] = { 6, 4 }, cd[1] = { 4 };
        bool batched = base == BASE_MATMUL_BATCHED;
        Value *in[3] = { batched ? tb_input(g, "a", 3, ad) : tb_input(g, "a", 2, ad + 1),
                         tb_const_rand(g, "bm", 2, bd, 3, -1, 1),
                         tb_const_rand(g, "c", 1, cd, 4, -1, 1) };
        bool gemm = base == BASE_GEMM;
        p = tb_node(g, gemm ? "Gemm" : "MatMul", "mm", gemm ? 3 : 2, in, 1);
    }
    Value *ain[2] = { p->outputs[0], NULL };
    int n_in = 1;
    if (strcmp(act->op, "PRelu") == 0) {
        ain[1] = tb_const_rand(g, "slope", act->slope_rank, act->slope_dims, 5, 0.05f, 0.5f);
        n_in = 2;
    }
    Node *a = tb_node(g, act->op, "act", n_in, ain, 1);
    if (act->alpha > 0) tb_attr_float(g, a, "alpha", act->alpha);
    tb_output(g, a->outputs[0]);
    return g;
}

static void expect_close(const float *a, const float *b, int64_t n, float tol) {
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i])),
                  "element %lld: %.9g vs %.9g", (long long)i, (double)a[i], (double)b[i]);
}

/* Runs both graphs' generated code and compares their single outputs. */
static void expect_same_numbers(const Graph *a, const Graph *b, float tol) {
    float *ya = NULL, *yb = NULL;
    int64_t na = 0, nb = 0;
    cr_assert(tb_run(a, 7, &ya, &na, 1), "running the first graph");
    cr_assert(tb_run(b, 7, &yb, &nb, 1), "running the second graph");
    cr_assert_eq(na, nb);
    cr_assert_gt(na, 0);
    expect_close(ya, yb, na, tol);
    free(ya);
    free(yb);
}

/* Fuses act into base; checks the graph and the numbers against the unfused pipeline.
 * Returns the fused graph (one node left), for the caller to check further and free. */
static Graph *fuse_case(Base base, const ActSpec *act, int code) {
    Diag d;
    Graph *fused = build(base, act);
    cr_assert(tb_pipeline(fused, true, &d), "pipeline (fused) failed");
    diag_free(&d);
    Graph *plain = build(base, act);
    cr_assert(tb_pipeline(plain, false, &d), "pipeline (unfused) failed");
    diag_free(&d);

    cr_assert_eq(fused->n_nodes, 1, "%d nodes left after fusion", fused->n_nodes);
    Node *n = fused->nodes[0];
    cr_assert_eq(tb_count_live(fused, act->op), 0);
    cr_assert_eq(n->epi.act, code);
    cr_assert_str_eq(fused->outputs[0]->name, "act_out0");
    cr_assert_eq(n->outputs[0], fused->outputs[0], "the fused node writes the output");
    cr_assert_eq(fused->outputs[0]->producer, n);
    cr_assert(n->fused && strstr(n->fused, "'act'"), "fused text: %s", n->fused ? n->fused : "");
    cr_assert_eq(tb_count_live(plain, act->op), 1, "no fusion without opt->fuse");
    cr_assert_eq(plain->n_nodes, 2);
    expect_same_numbers(fused, plain, 1e-5f);
    ir_graph_free(plain);
    return fused;
}

static const ActSpec RELU = { "Relu", 0, 0, { 0 } };
static const ActSpec LEAKY = { "LeakyRelu", 0.2f, 0, { 0 } };
static const ActSpec ELU = { "Elu", 0.7f, 0, { 0 } };
static const ActSpec PRELU_SCALAR = { "PRelu", 0, 1, { 1 } };
static const ActSpec PRELU_CONV_C = { "PRelu", 0, 3, { 4, 1, 1 } };
static const ActSpec PRELU_COLS = { "PRelu", 0, 1, { 4 } };
static const ActSpec PRELU_COLS_2D = { "PRelu", 0, 2, { 1, 4 } };

Test(passes_fuse, conv_relu) {
    Graph *g = fuse_case(BASE_CONV, &RELU, ONNXCC_ACT_RELU);
    Node *n = g->nodes[0];
    cr_assert_eq(n->epi.slope_input, -1);
    ir_graph_free(g);
}

Test(passes_fuse, conv_leaky_relu) {
    Graph *g = fuse_case(BASE_CONV, &LEAKY, ONNXCC_ACT_LEAKY_RELU);
    Node *n = g->nodes[0];
    cr_assert_float_eq(n->epi.alpha, 0.2f, 1e-7);
    ir_graph_free(g);
}

Test(passes_fuse, conv_elu) {
    Graph *g = fuse_case(BASE_CONV, &ELU, ONNXCC_ACT_ELU);
    Node *n = g->nodes[0];
    cr_assert_float_eq(n->epi.alpha, 0.7f, 1e-7);
    ir_graph_free(g);
}

Test(passes_fuse, conv_prelu_scalar) {
    Graph *g = fuse_case(BASE_CONV, &PRELU_SCALAR, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    cr_assert_eq(n->epi.slope_input, 3, "slope after the bias slot");
    cr_assert_eq(ir_numel(n->inputs[3]), 1);
    ir_graph_free(g);
}

Test(passes_fuse, conv_prelu_per_channel) {
    Graph *g = fuse_case(BASE_CONV, &PRELU_CONV_C, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    int s = n->epi.slope_input;
    cr_assert(s >= 3 && s < n->n_inputs);
    const Value *slope = n->inputs[s];
    cr_assert(slope->data);
    cr_assert_eq(slope->rank, 1, "slope normalised to [C]");
    cr_assert_eq(slope->dims[0], 4);
    ir_graph_free(g);
}

Test(passes_fuse, gemm_relu) {
    ir_graph_free(fuse_case(BASE_GEMM, &RELU, ONNXCC_ACT_RELU));
}
Test(passes_fuse, gemm_leaky_relu) {
    ir_graph_free(fuse_case(BASE_GEMM, &LEAKY, ONNXCC_ACT_LEAKY_RELU));
}
Test(passes_fuse, gemm_elu) {
    ir_graph_free(fuse_case(BASE_GEMM, &ELU, ONNXCC_ACT_ELU));
}
Test(passes_fuse, gemm_prelu_scalar) {
    Graph *g = fuse_case(BASE_GEMM, &PRELU_SCALAR, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    cr_assert_eq(n->epi.slope_input, 3);
    ir_graph_free(g);
}
Test(passes_fuse, gemm_prelu_per_column) {
    Graph *g = fuse_case(BASE_GEMM, &PRELU_COLS_2D, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    const Value *slope = n->inputs[n->epi.slope_input];
    cr_assert_eq(slope->rank, 1);
    cr_assert_eq(slope->dims[0], 4);
    ir_graph_free(g);
}

Test(passes_fuse, matmul_relu) {
    ir_graph_free(fuse_case(BASE_MATMUL, &RELU, ONNXCC_ACT_RELU));
}
Test(passes_fuse, matmul_leaky_relu) {
    ir_graph_free(fuse_case(BASE_MATMUL, &LEAKY, ONNXCC_ACT_LEAKY_RELU));
}
Test(passes_fuse, matmul_elu) {
    ir_graph_free(fuse_case(BASE_MATMUL, &ELU, ONNXCC_ACT_ELU));
}
Test(passes_fuse, matmul_prelu_scalar) {
    Graph *g = fuse_case(BASE_MATMUL, &PRELU_SCALAR, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    cr_assert_eq(n->epi.slope_input, 2);
    ir_graph_free(g);
}
Test(passes_fuse, matmul_prelu_per_column) {
    Graph *g = fuse_case(BASE_MATMUL, &PRELU_COLS, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    cr_assert_eq(n->inputs[n->epi.slope_input]->dims[0], 4);
    ir_graph_free(g);
}

Test(passes_fuse, batched_matmul_prelu_per_column) {
    static const ActSpec per_col_3d = { "PRelu", 0, 3, { 1, 1, 4 } };
    Graph *g = fuse_case(BASE_MATMUL_BATCHED, &per_col_3d, ONNXCC_ACT_PRELU);
    Node *n = g->nodes[0];
    const Value *slope = n->inputs[n->epi.slope_input];
    cr_assert_eq(slope->rank, 1);
    cr_assert_eq(slope->dims[0], 4);
    ir_graph_free(g);
}

Test(passes_fuse, no_fusion_when_output_has_two_readers) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 4, 4 }, wd[4] = { 3, 2, 1, 1 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1) };
    Node *conv = tb_node(g, "Conv", "conv", 2, in, 1);
    Node *relu = tb_node(g, "Relu", "relu", 1, conv->outputs, 1);
    Node *sig = tb_node(g, "Sigmoid", "sig", 1, conv->outputs, 1);
    tb_output(g, relu->outputs[0]);
    tb_output(g, sig->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Relu"), 1);
    cr_assert_eq(conv->epi.act, ONNXCC_ACT_NONE);
    cr_assert_eq(relu->outputs[0]->producer, relu);
    ir_graph_free(g);
}

Test(passes_fuse, no_fusion_when_conv_output_is_a_graph_output) {
    Graph *g = build(BASE_CONV, &RELU);
    tb_output(g, g->nodes[0]->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Relu"), 1);
    cr_assert_eq(g->nodes[0]->epi.act, ONNXCC_ACT_NONE);
    ir_graph_free(g);
}

Test(passes_fuse, no_fusion_with_no_fuse) {
    Graph *g = build(BASE_GEMM, &LEAKY);
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "LeakyRelu"), 1);
    cr_assert_eq(tb_count_live(g, "Gemm"), 1);
    for (int i = 0; i < g->n_nodes; i++) cr_assert_eq(g->nodes[i]->epi.act, ONNXCC_ACT_NONE);
    ir_graph_free(g);
}

Test(passes_fuse, prelu_slope_not_per_channel_is_not_fused) {
    /* A slope varying along the width of a conv output cannot be a per-channel epilogue. */
    static const ActSpec per_width = { "PRelu", 0, 1, { 6 } };
    Graph *g = build(BASE_CONV, &per_width);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "PRelu"), 1);
    cr_assert_eq(tb_count_live(g, "Conv"), 1);
    ir_graph_free(g);
}

Test(passes_fuse, prelu_non_constant_slope_is_not_fused) {
    Graph *g = tb_graph();
    int64_t ad[2] = { 5, 6 }, bd[2] = { 6, 4 }, sd[1] = { 4 };
    Value *in[2] = { tb_input(g, "a", 2, ad), tb_const_rand(g, "bm", 2, bd, 3, -1, 1) };
    Node *mm = tb_node(g, "MatMul", "mm", 2, in, 1);
    Value *pin[2] = { mm->outputs[0], tb_input(g, "slope", 1, sd) };
    Node *pr = tb_node(g, "PRelu", "act", 2, pin, 1);
    tb_output(g, pr->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "PRelu"), 1);
    cr_assert_eq(mm->epi.act, ONNXCC_ACT_NONE);
    ir_graph_free(g);
}

/* ---- BatchNormalization folding ------------------------------------------------------ */

enum { BN_C = 3 };
static const float BN_SCALE[BN_C] = { 0.5f, 2.0f, -1.25f };
static const float BN_BIAS[BN_C] = { 0.1f, -0.3f, 0.7f };
static const float BN_MEAN[BN_C] = { 0.2f, -0.1f, 0.05f };
static const float BN_VAR[BN_C] = { 0.9f, 0.25f, 1.5f };
static const float BN_EPS = 1e-3f;

/* x[1,2,5,5] -> Conv(w[3,2,3,3], b[3] or none) -> BN -> output.  With w_input the
 * weights are a graph input instead of a constant. */
static Graph *build_conv_bn(bool with_bias, bool w_input) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 5, 5 }, wd[4] = { BN_C, 2, 3, 3 }, cd[1] = { BN_C };
    Value *in[3] = { tb_input(g, "x", 4, xd),
                     w_input ? tb_input(g, "w", 4, wd) : tb_const_rand(g, "w", 4, wd, 11, -1, 1),
                     with_bias ? tb_const_rand(g, "b", 1, cd, 12, -1, 1) : NULL };
    Node *conv = tb_node(g, "Conv", "conv", with_bias ? 3 : 2, in, 1);
    Value *bin[5] = { conv->outputs[0], tb_const(g, "scale", 1, cd, BN_SCALE),
                      tb_const(g, "bias", 1, cd, BN_BIAS), tb_const(g, "mean", 1, cd, BN_MEAN),
                      tb_const(g, "var", 1, cd, BN_VAR) };
    Node *bn = tb_node(g, "BatchNormalization", "bn", 5, bin, 1);
    tb_attr_float(g, bn, "epsilon", BN_EPS);
    tb_output(g, bn->outputs[0]);
    return g;
}

/* The pipeline without one pass (the reference for a pass's numbers). */
static bool pipeline_without(Graph *g, const char *skip, Diag *d) {
    diag_init(d);
    PassOptions opt = { .fuse = false, .verify = true };
    for (int i = 0; i < pipeline_n_passes; i++) {
        const Pass *p = &pipeline_passes[i];
        if (strcmp(p->name, skip) == 0) continue;
        if (!p->run(g, &opt, d) || !diag_ok(d)) return false;
        if (!ir_verify(g, d)) return false;
    }
    return true;
}

static void check_conv_bn_fold(bool with_bias) {
    Graph *g = build_conv_bn(with_bias, false);
    const Value *w = ir_value_find(g, "w");
    const Value *b = with_bias ? ir_value_find(g, "b") : NULL;
    float w_before[BN_C * 18];
    memcpy(w_before, w->data, sizeof w_before);
    Diag d;
    /* the weights as folding leaves them: pack_weights would reorder them into panels */
    cr_assert(pipeline_without(g, "pack_weights", &d));
    diag_free(&d);

    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 0);
    cr_assert_eq(g->n_nodes, 1);
    Node *conv = g->nodes[0];
    cr_assert_str_eq(conv->op_type, "Conv");
    cr_assert_eq(conv->outputs[0], g->outputs[0]);
    cr_assert_str_eq(g->outputs[0]->name, "bn_out0");
    cr_assert(conv->n_inputs >= 3 && conv->inputs[2]);
    const Value *nw = conv->inputs[1], *nb = conv->inputs[2];
    cr_assert_neq(nw, w, "new weights, the original constant is untouched");
    cr_assert(memcmp(w->data, w_before, sizeof w_before) == 0);
    const float *wf = nw->data, *bf = nb->data;
    for (int c = 0; c < BN_C; c++) {
        double s = (double)BN_SCALE[c] / sqrt((double)BN_VAR[c] + (double)BN_EPS);
        for (int k = 0; k < 18; k++)
            cr_assert_float_eq(wf[c * 18 + k], (float)(w_before[c * 18 + k] * s), 1e-6);
        double b0 = b ? ((const float *)b->data)[c] : 0.0;
        cr_assert_float_eq(bf[c], (float)((b0 - BN_MEAN[c]) * s + BN_BIAS[c]), 1e-6);
    }
    Graph *ref = build_conv_bn(with_bias, false);
    cr_assert(pipeline_without(ref, "fold_batchnorm", &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(ref, "BatchNormalization"), 1);
    expect_same_numbers(g, ref, 1e-5f);
    ir_graph_free(ref);
    ir_graph_free(g);
}

Test(passes_bn, conv_bn_folds_with_bias) { check_conv_bn_fold(true); }
Test(passes_bn, conv_bn_folds_without_bias) { check_conv_bn_fold(false); }

Test(passes_bn, not_folded_when_conv_weights_are_not_constant) {
    Graph *g = build_conv_bn(true, true);
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 1);
    cr_assert_eq(tb_count_live(g, "Conv"), 1);
    ir_graph_free(g);
}

Test(passes_bn, shared_weights_are_not_modified) {
    /* A second Conv reads the same w: after folding it must still read the original. */
    Graph *g = build_conv_bn(true, false);
    Value *w = ir_value_find(g, "w");
    int64_t xd[4] = { 1, 2, 5, 5 };
    Value *in[2] = { tb_input(g, "x2", 4, xd), w };
    Node *other = tb_node(g, "Conv", "other", 2, in, 1);
    tb_output(g, other->outputs[0]);
    float w_before[BN_C * 18];
    memcpy(w_before, w->data, sizeof w_before);
    Diag d;
    cr_assert(pipeline_without(g, "pack_weights", &d));    /* the Conv reads w itself */
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 0);
    cr_assert_eq(other->inputs[1], w);
    cr_assert(memcmp(w->data, w_before, sizeof w_before) == 0);
    ir_graph_free(g);
}

Test(passes_bn, not_folded_when_conv_output_has_another_reader) {
    Graph *g = build_conv_bn(true, false);
    tb_output(g, ir_value_find(g, "conv_out0"));
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 1);
    ir_graph_free(g);
}

Test(passes_bn, not_folded_when_a_variance_is_negative) {
    /* var + eps <= 0 has no real scale: the BN is left to its own kernel. */
    Graph *g = build_conv_bn(true, false);
    Value *var = ir_value_find(g, "var");
    ((float *)var->data)[1] = -1.0f;
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 1);
    cr_assert_eq(tb_count_live(g, "Conv"), 1);
    ir_graph_free(g);
}

/* a[4,5] x B -> Gemm (beta 0.5) with C of c_rank dims (0: none, 1: [N], 2: [M,N]) -> BN
 * over the N = BN_C columns.  With trans_b, B is stored [N,K] and canonicalisation (which
 * would pre-transpose it) is skipped, so the fold sees transB = 1. */
static Graph *build_gemm_bn(bool trans_b, int c_rank) {
    Graph *g = tb_graph();
    int64_t ad[2] = { 4, 5 }, bd[2] = { 5, BN_C }, btd[2] = { BN_C, 5 }, cd[2] = { 4, BN_C };
    Value *in[3] = { tb_input(g, "a", 2, ad),
                     tb_const_rand(g, "bm", 2, trans_b ? btd : bd, 21, -1, 1),
                     c_rank ? tb_const_rand(g, "c", c_rank, cd + 2 - c_rank, 22, -1, 1) : NULL };
    Node *gemm = tb_node(g, "Gemm", "gemm", c_rank ? 3 : 2, in, 1);
    tb_attr_float(g, gemm, "beta", 0.5f);
    if (trans_b) tb_attr_int(g, gemm, "transB", 1);
    int64_t nd[1] = { BN_C };
    Value *bin[5] = { gemm->outputs[0], tb_const(g, "scale", 1, nd, BN_SCALE),
                      tb_const(g, "bias", 1, nd, BN_BIAS), tb_const(g, "mean", 1, nd, BN_MEAN),
                      tb_const(g, "var", 1, nd, BN_VAR) };
    Node *bn = tb_node(g, "BatchNormalization", "bn", 5, bin, 1);
    tb_attr_float(g, bn, "epsilon", BN_EPS);
    tb_output(g, bn->outputs[0]);
    return g;
}

static void check_gemm_bn(bool trans_b, int c_rank) {
    Graph *g = build_gemm_bn(trans_b, c_rank), *ref = build_gemm_bn(trans_b, c_rank);
    Diag d;
    cr_assert(pipeline_without(g, trans_b ? "canonicalize" : "none", &d));
    diag_free(&d);
    cr_assert(pipeline_without(ref, "fold_batchnorm", &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "BatchNormalization"), 0);
    cr_assert_eq(g->n_nodes, 1);
    const Node *gemm = g->nodes[0];
    cr_assert_float_eq(ir_attr_float(gemm, "beta", 0), 1.0f, 0);
    cr_assert_eq(ir_attr_int(gemm, "transB", 0), trans_b ? 1 : 0);
    cr_assert(gemm->n_inputs >= 3 && gemm->inputs[2], "the folded Gemm has a bias");
    cr_assert_eq(tb_count_live(ref, "BatchNormalization"), 1);
    expect_same_numbers(g, ref, 1e-5f);
    ir_graph_free(ref);
    ir_graph_free(g);
}

Test(passes_bn, gemm_bn_folds_per_column) { check_gemm_bn(false, 1); }
Test(passes_bn, gemm_bn_folds_without_c) { check_gemm_bn(false, 0); }
Test(passes_bn, gemm_bn_folds_with_full_c) { check_gemm_bn(false, 2); }
Test(passes_bn, gemm_trans_b_bn_folds) { check_gemm_bn(true, 1); }

Test(passes_bn, matmul_bn_becomes_a_gemm) {
    Graph *graphs[2];
    for (int k = 0; k < 2; k++) {
        Graph *g = tb_graph();
        int64_t ad[2] = { 4, 5 }, bd[2] = { 5, BN_C }, nd[1] = { BN_C };
        Value *in[2] = { tb_input(g, "a", 2, ad), tb_const_rand(g, "bm", 2, bd, 31, -1, 1) };
        Node *mm = tb_node(g, "MatMul", "mm", 2, in, 1);
        Value *bin[5] = { mm->outputs[0], tb_const(g, "scale", 1, nd, BN_SCALE),
                          tb_const(g, "bias", 1, nd, BN_BIAS), tb_const(g, "mean", 1, nd, BN_MEAN),
                          tb_const(g, "var", 1, nd, BN_VAR) };
        Node *bn = tb_node(g, "BatchNormalization", "bn", 5, bin, 1);
        tb_output(g, bn->outputs[0]);
        Diag d;
        cr_assert(k == 0 ? tb_pipeline(g, false, &d) : pipeline_without(g, "fold_batchnorm", &d));
        diag_free(&d);
        graphs[k] = g;
    }
    cr_assert_eq(graphs[0]->n_nodes, 1);
    cr_assert_str_eq(graphs[0]->nodes[0]->op_type, "Gemm");
    cr_assert_eq(tb_count_live(graphs[1], "BatchNormalization"), 1);
    expect_same_numbers(graphs[0], graphs[1], 1e-5f);
    ir_graph_free(graphs[0]);
    ir_graph_free(graphs[1]);
}

Test(passes_bn, conv_bn_relu_folds_then_fuses) {
    Graph *g = build_conv_bn(true, false);
    Value *y = g->outputs[0];
    y->is_output = false;
    g->n_outputs = 0;
    Node *relu = tb_node(g, "Relu", "relu", 1, &y, 1);
    tb_output(g, relu->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(g->n_nodes, 1);
    cr_assert_eq(g->nodes[0]->epi.act, ONNXCC_ACT_RELU);
    cr_assert_eq(g->nodes[0]->outputs[0], g->outputs[0]);
    ir_graph_free(g);
}

/* ---- more activations, and the residual Add --------------------------------------- */

static const ActSpec SIGMOID = { "Sigmoid", 0, 0, { 0 } };
static const ActSpec TANH = { "Tanh", 0, 0, { 0 } };

Test(passes_fuse, conv_sigmoid) {
    ir_graph_free(fuse_case(BASE_CONV, &SIGMOID, ONNXCC_ACT_SIGMOID));
}

Test(passes_fuse, gemm_tanh) {
    ir_graph_free(fuse_case(BASE_GEMM, &TANH, ONNXCC_ACT_TANH));
}

/* Conv -> Clip(0, 6) with the bounds as constant inputs (opset 11+): ReLU6. */
static Graph *build_clip(float lo, float hi) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 5, 5 }, wd[4] = { 4, 3, 3, 3 }, one[1] = { 1 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -2, 2) };
    Node *c = tb_node(g, "Conv", "conv", 2, in, 1);
    Value *clip_in[3] = { c->outputs[0], tb_const(g, "lo", 0, one, &lo),
                          tb_const(g, "hi", 0, one, &hi) };
    Node *clip = tb_node(g, "Clip", "act", 3, clip_in, 1);
    tb_output(g, clip->outputs[0]);
    return g;
}

Test(passes_fuse, conv_clip_constant_bounds) {
    Diag d;
    Graph *fused = build_clip(0.0f, 0.5f), *plain = build_clip(0.0f, 0.5f);
    cr_assert(tb_pipeline(fused, true, &d));
    diag_free(&d);
    cr_assert(tb_pipeline(plain, false, &d));
    diag_free(&d);
    cr_assert_eq(fused->n_nodes, 1);
    const Node *n = fused->nodes[0];
    cr_assert_eq(n->epi.act, ONNXCC_ACT_CLIP);
    cr_assert_float_eq(n->epi.alpha, 0.0f, 0);
    cr_assert_float_eq(n->epi.beta, 0.5f, 0);
    expect_same_numbers(fused, plain, 1e-5f);
    ir_graph_free(fused);
    ir_graph_free(plain);
}

Test(passes_fuse, clip_with_min_above_max_is_not_fused) {
    Diag d;
    Graph *g = build_clip(1.0f, -1.0f);
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Clip"), 1, "Clip(min > max) gives max: the epilogue cannot");
    ir_graph_free(g);
}

/* y = Relu(Conv(x) + r) with r a graph input of the output's shape. */
static Graph *build_conv_residual(bool relu) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 6, 6 }, wd[4] = { 4, 3, 3, 3 }, bd[1] = { 4 }, rd[4] = { 1, 4, 6, 6 };
    Value *in[3] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1),
                     tb_const_rand(g, "b", 1, bd, 2, -1, 1) };
    Node *c = tb_node(g, "Conv", "conv", 3, in, 1);
    int64_t pads[4] = { 1, 1, 1, 1 };
    tb_attr_ints(g, c, "pads", pads, 4);
    Value *add_in[2] = { tb_input(g, "r", 4, rd), c->outputs[0] };
    Node *add = tb_node(g, "Add", "add", 2, add_in, 1);
    Node *last = add;
    if (relu) last = tb_node(g, "Relu", "act", 1, add->outputs, 1);
    tb_output(g, last->outputs[0]);
    return g;
}

Test(passes_fuse, conv_residual_then_relu) {
    Diag d;
    Graph *fused = build_conv_residual(true), *plain = build_conv_residual(true);
    cr_assert(tb_pipeline(fused, true, &d));
    diag_free(&d);
    cr_assert(tb_pipeline(plain, false, &d));
    diag_free(&d);
    cr_assert_eq(fused->n_nodes, 1, "Conv, Add and Relu become one node");
    const Node *n = fused->nodes[0];
    cr_assert_eq(n->epi.act, ONNXCC_ACT_RELU);
    cr_assert_geq(n->epi.residual_input, 3, "the residual goes after the bias slot");
    cr_assert_str_eq(n->inputs[n->epi.residual_input]->name, "r");
    cr_assert_str_eq(n->inputs[2]->name, "b", "the bias stays in its slot");
    cr_assert(strstr(n->fused, "Add 'add'") && strstr(n->fused, "Relu 'act'"), "%s", n->fused);
    cr_assert_eq(plain->n_nodes, 3);
    expect_same_numbers(fused, plain, 1e-5f);
    ir_graph_free(fused);
    ir_graph_free(plain);
}

/* a = Gemm1(x), b = Gemm2(x) scheduled after it, y = a + b: only Gemm2 can absorb the Add
 * (a exists when Gemm2 runs; b does not exist when Gemm1 runs). */
Test(passes_fuse, residual_goes_to_the_later_producer) {
    Diag d;
    Graph *gs[2];
    for (int k = 0; k < 2; k++) {
        Graph *g = tb_graph();
        int64_t xd[2] = { 3, 5 }, wd[2] = { 5, 4 };
        Value *x = tb_input(g, "x", 2, xd);
        Value *in1[2] = { x, tb_const_rand(g, "w1", 2, wd, 1, -1, 1) };
        Value *in2[2] = { x, tb_const_rand(g, "w2", 2, wd, 2, -1, 1) };
        Node *g1 = tb_node(g, "Gemm", "g1", 2, in1, 1);
        Node *g2 = tb_node(g, "Gemm", "g2", 2, in2, 1);
        Value *add_in[2] = { g2->outputs[0], g1->outputs[0] };
        Node *add = tb_node(g, "Add", "add", 2, add_in, 1);
        tb_output(g, add->outputs[0]);
        cr_assert(tb_pipeline(g, k == 0, &d));
        diag_free(&d);
        gs[k] = g;
    }
    Graph *fused = gs[0];
    cr_assert_eq(fused->n_nodes, 2);
    cr_assert_eq(tb_count_live(fused, "Add"), 0);
    const Node *second = fused->nodes[1];
    cr_assert_str_eq(second->name, "g2");
    cr_assert_geq(second->epi.residual_input, 3);
    cr_assert_str_eq(second->inputs[second->epi.residual_input]->name, "g1_out0");
    expect_same_numbers(fused, gs[1], 1e-5f);
    ir_graph_free(gs[0]);
    ir_graph_free(gs[1]);
}

Test(passes_fuse, broadcast_add_is_not_a_residual) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 4, 4 }, wd[4] = { 2, 3, 1, 1 }, cd[4] = { 1, 2, 1, 1 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1) };
    Node *c = tb_node(g, "Conv", "conv", 2, in, 1);
    Value *add_in[2] = { c->outputs[0], tb_input(g, "s", 4, cd) };
    Node *add = tb_node(g, "Add", "add", 2, add_in, 1);
    tb_output(g, add->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Add"), 1, "an Add that broadcasts stays an Add");
    ir_graph_free(g);
}

/* Relu(MatMul(a[2,3,6], w[6,4]) + c[4]): the 3-D MatMul becomes a 2-D Gemm between two
 * Reshapes, and the Relu moves before the output Reshape into the Gemm's epilogue. */
static Graph *build_matmul3d_bias_relu(void) {
    Graph *g = tb_graph();
    int64_t ad[3] = { 2, 3, 6 }, wd[2] = { 6, 4 }, cd[1] = { 4 };
    Value *in[2] = { tb_input(g, "a", 3, ad), tb_const_rand(g, "w", 2, wd, 1, -1, 1) };
    Node *mm = tb_node(g, "MatMul", "mm", 2, in, 1);
    Value *add_in[2] = { mm->outputs[0], tb_const_rand(g, "c", 1, cd, 2, -1, 1) };
    Node *add = tb_node(g, "Add", "add", 2, add_in, 1);
    Node *relu = tb_node(g, "Relu", "act", 1, add->outputs, 1);
    tb_output(g, relu->outputs[0]);
    return g;
}

Test(passes_fuse, matmul3d_bias_relu_becomes_one_gemm) {
    Diag d;
    Graph *fused = build_matmul3d_bias_relu(), *plain = build_matmul3d_bias_relu();
    cr_assert(tb_pipeline(fused, true, &d));
    diag_free(&d);
    cr_assert(tb_pipeline(plain, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(fused, "MatMul") + tb_count_live(fused, "Add") +
                 tb_count_live(fused, "Relu"), 0);
    cr_assert_eq(tb_count_live(fused, "Gemm"), 1);
    cr_assert_eq(tb_count_live(fused, "Reshape"), 2, "views to and from 2-D");
    const Node *gemm = NULL;
    for (int i = 0; i < fused->n_nodes; i++)
        if (strcmp(fused->nodes[i]->op_type, "Gemm") == 0) gemm = fused->nodes[i];
    cr_assert_eq(gemm->epi.act, ONNXCC_ACT_RELU);
    cr_assert_eq(gemm->inputs[0]->rank, 2);
    cr_assert_eq(gemm->inputs[0]->dims[0], 6, "batch dims folded into rows");
    cr_assert_eq(fused->outputs[0]->rank, 3, "the output keeps its shape");
    cr_assert_eq(tb_count_live(plain, "Relu"), 1, "without fusion the Relu stays");
    expect_same_numbers(fused, plain, 1e-5f);
    ir_graph_free(fused);
    ir_graph_free(plain);
}

/* ---- gated activations: Mul(y, Sigmoid(y)) and Mul(y, HardSigmoid(y)) ------------------ */

/* How build_gate's graph reads y. */
typedef struct GateSpec {
    const char *gate;       /* "Sigmoid" or "HardSigmoid" */
    float alpha;            /* HardSigmoid alpha (beta is 0.5) */
    bool conv;              /* y = Conv(x); else y is the graph input x */
    bool gate_first;        /* Mul(gate, y) instead of Mul(y, gate) */
    bool y_read_again;      /* the output is Add(Mul(...), y) */
    bool gate_read_again;   /* the output is Add(Mul(...), gate(y)) */
} GateSpec;

/* y = Conv(x[1,3,6,6], w[4,3,3,3], b, pads 1) or y = x; the output is Mul(y, gate(y)), or
 * that plus y or gate(y), which then have a third reader. */
static Graph *build_gate(const GateSpec *s) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 6, 6 }, wd[4] = { 4, 3, 3, 3 }, bd[1] = { 4 };
    Value *y = tb_input(g, "x", 4, xd);
    if (s->conv) {
        /* weights in [-2, 2]: y spans HardSigmoid's clamped ends and its linear part */
        Value *in[3] = { y, tb_const_rand(g, "w", 4, wd, 1, -2, 2),
                         tb_const_rand(g, "b", 1, bd, 2, -1, 1) };
        Node *c = tb_node(g, "Conv", "conv", 3, in, 1);
        int64_t pads[4] = { 1, 1, 1, 1 };
        tb_attr_ints(g, c, "pads", pads, 4);
        y = c->outputs[0];
    }
    Node *gate = tb_node(g, s->gate, "gate", 1, &y, 1);
    if (strcmp(s->gate, "HardSigmoid") == 0) tb_attr_float(g, gate, "alpha", s->alpha);
    Value *min[2] = { y, gate->outputs[0] };
    if (s->gate_first) { min[0] = gate->outputs[0]; min[1] = y; }
    Node *mul = tb_node(g, "Mul", "mul", 2, min, 1);
    Value *out = mul->outputs[0];
    if (s->y_read_again || s->gate_read_again) {
        Value *ain[2] = { out, s->y_read_again ? y : gate->outputs[0] };
        out = tb_node(g, "Add", "add", 2, ain, 1)->outputs[0];
    }
    tb_output(g, out);
    return g;
}

/* Runs build_gate(s) with and without fusion and compares the first output.  Returns the
 * fused graph for the caller to check. */
static Graph *gate_case(const GateSpec *s) {
    Diag d;
    Graph *fused = build_gate(s), *plain = build_gate(s);
    cr_assert(tb_pipeline(fused, true, &d), "pipeline (fused) failed");
    diag_free(&d);
    cr_assert(tb_pipeline(plain, false, &d), "pipeline (unfused) failed");
    diag_free(&d);
    cr_assert_eq(tb_count_live(plain, "Mul"), 1, "no rewrite without opt->fuse");
    cr_assert_eq(tb_count_live(plain, s->gate), 1);
    expect_same_numbers(fused, plain, 1e-6f);
    ir_graph_free(plain);
    return fused;
}

/* The fused graph is one Conv with activation code whose fused text names both nodes. */
static void expect_gate_in_conv(Graph *g, int code) {
    cr_assert_eq(g->n_nodes, 1, "%d nodes left", g->n_nodes);
    const Node *n = g->nodes[0];
    cr_assert_str_eq(n->op_type, "Conv");
    cr_assert_eq(n->epi.act, code);
    cr_assert_eq(n->outputs[0], g->outputs[0], "the Conv writes the Mul's output");
    cr_assert_str_eq(g->outputs[0]->name, "mul_out0");
    cr_assert(n->fused && strstr(n->fused, "'gate'") && strstr(n->fused, "Mul 'mul'"), "%s",
              n->fused ? n->fused : "");
}


Test(passes_fuse_gate, conv_hard_swish_from_hard_sigmoid_is_fused) {
    for (int order = 0; order < 2; order++) {
        GateSpec s = { .gate = "HardSigmoid", .alpha = 1.0f / 6.0f, .conv = true,
                       .gate_first = order == 1 };
        Graph *g = gate_case(&s);
        expect_gate_in_conv(g, ONNXCC_ACT_HARD_SWISH);
        ir_graph_free(g);
    }
}

/* With no Conv/Gemm/MatMul to take it, the pair becomes one elementwise node reading y. */
static void expect_one_elementwise(const GateSpec *s, const char *op) {
    Graph *g = gate_case(s);
    cr_assert_eq(tb_count_live(g, op), 1, "the Mul became %s", op);
    cr_assert_eq(tb_count_live(g, "Mul") + tb_count_live(g, s->gate), 0);
    const Node *n = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->op_type, op) == 0) n = g->nodes[i];
    cr_assert_eq(n->n_inputs, 1);
    cr_assert_str_eq(n->inputs[0]->name, s->conv ? "conv_out0" : "x");
    cr_assert_str_eq(n->outputs[0]->name, "mul_out0", "it writes the Mul's output");
    cr_assert(n->fused && strstr(n->fused, "'gate'"), "%s", n->fused ? n->fused : "");
    ir_graph_free(g);
}

/* SiLU goes into the Conv's epilogue, like HardSwish (computed in vector registers:
 * onnxcc_simd.h's v_silu), in either order. */
Test(passes_fuse_gate, conv_silu_is_fused) {
    for (int order = 0; order < 2; order++) {
        GateSpec s = { .gate = "Sigmoid", .conv = true, .gate_first = order == 1 };
        Graph *g = gate_case(&s);
        expect_gate_in_conv(g, ONNXCC_ACT_SILU);
        ir_graph_free(g);
    }
}

Test(passes_fuse_gate, silu_of_an_input_becomes_one_swish) {
    GateSpec s = { .gate = "Sigmoid", .gate_first = true };
    expect_one_elementwise(&s, "Swish");
}

Test(passes_fuse_gate, hard_swish_of_an_input_becomes_one_hard_swish) {
    GateSpec s = { .gate = "HardSigmoid", .alpha = 1.0f / 6.0f };
    expect_one_elementwise(&s, "HardSwish");
}

/* y has a third reader: the Conv must keep writing it, so the pair becomes one node. */
Test(passes_fuse_gate, conv_output_read_elsewhere_gives_a_hard_swish) {
    GateSpec s = { .gate = "HardSigmoid", .alpha = 1.0f / 6.0f, .conv = true,
                   .y_read_again = true };
    expect_one_elementwise(&s, "HardSwish");
}

Test(passes_fuse_gate, gate_read_elsewhere_is_not_rewritten) {
    GateSpec s = { .gate = "Sigmoid", .conv = true, .gate_read_again = true };
    Graph *g = gate_case(&s);
    cr_assert_eq(tb_count_live(g, "Mul"), 1);
    cr_assert_eq(tb_count_live(g, "Sigmoid"), 1);
    cr_assert_eq(g->nodes[0]->epi.act, ONNXCC_ACT_NONE);
    ir_graph_free(g);
}

Test(passes_fuse_gate, hard_sigmoid_with_other_alpha_is_not_a_hard_swish) {
    GateSpec s = { .gate = "HardSigmoid", .alpha = 0.2f, .conv = true };
    Graph *g = gate_case(&s);
    cr_assert_eq(tb_count_live(g, "Mul"), 1);
    cr_assert_eq(tb_count_live(g, "HardSigmoid"), 1);
    cr_assert_eq(tb_count_live(g, "HardSwish"), 0);
    ir_graph_free(g);
}

/* Mul(a, Sigmoid(b)) with a != b is not a SiLU. */
Test(passes_fuse_gate, sigmoid_of_another_tensor_is_not_a_silu) {
    Graph *g = tb_graph();
    int64_t xd[2] = { 4, 8 };
    Value *a = tb_input(g, "a", 2, xd), *b = tb_input(g, "b", 2, xd);
    Node *sig = tb_node(g, "Sigmoid", "gate", 1, &b, 1);
    Value *min[2] = { a, sig->outputs[0] };
    Node *mul = tb_node(g, "Mul", "mul", 2, min, 1);
    tb_output(g, mul->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Mul"), 1);
    cr_assert_eq(tb_count_live(g, "Swish"), 0);
    ir_graph_free(g);
}

/* ---- canonicalisation: a Pad that adds nothing --------------------------------------- */

/* x[1,2,4,4] -> Pad(pads) -> Relu; opset 11+ takes pads as an input, older opsets as an
 * attribute.  pads has 8 values (begin then end of each axis). */
static Graph *build_pad(const int64_t *pads, int opset) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 4, 4 }, pd[1] = { 8 };
    Value *in[2] = { tb_input(g, "x", 4, xd), NULL };
    if (opset >= 11) in[1] = tb_const_i64(g, "pads", 1, pd, pads);
    Node *pad = tb_node(g, "Pad", "pad", opset >= 11 ? 2 : 1, in, 1);
    pad->opset = opset;
    if (opset < 11) tb_attr_ints(g, pad, "pads", pads, 8);
    Node *relu = tb_node(g, "Relu", "relu", 1, pad->outputs, 1);
    tb_output(g, relu->outputs[0]);
    return g;
}

/* Runs build_pad through the pipeline and through it without canonicalisation; returns
 * how many Pads are left, after checking that both give the same numbers. */
static int pads_left(const int64_t *pads, int opset) {
    Diag d;
    Graph *g = build_pad(pads, opset), *ref = build_pad(pads, opset);
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert(pipeline_without(ref, "canonicalize", &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(ref, "Pad"), 1);
    expect_same_numbers(g, ref, 0);
    int left = tb_count_live(g, "Pad");
    ir_graph_free(g);
    ir_graph_free(ref);
    return left;
}

Test(passes_canonicalize, zero_pad_is_dropped) {
    static const int64_t zeros[8] = { 0 };
    cr_assert_eq(pads_left(zeros, 13), 0, "pads as an input");
    cr_assert_eq(pads_left(zeros, 2), 0, "pads as an attribute");
}

Test(passes_canonicalize, pad_that_moves_data_stays) {
    /* one row cropped at the top and one added at the bottom: same shape, other data */
    static const int64_t shift[8] = { 0, 0, -1, 0, 0, 0, 1, 0 };
    static const int64_t grow[8] = { 0, 0, 1, 1, 0, 0, 1, 1 };
    cr_assert_eq(pads_left(shift, 13), 1);
    cr_assert_eq(pads_left(shift, 2), 1);
    cr_assert_eq(pads_left(grow, 13), 1);
}

/* ---- canonicalisation: the LayerNorm chain of exports before opset 17 ----------------- */

/* How build_layernorm departs from PyTorch's chain. */
typedef enum LnVariant {
    LN_PLAIN,               /* the chain as PyTorch exports it at opset 13 */
    LN_OPSET18,             /* ReduceMean's axes as an input */
    LN_OTHER_AXIS,          /* the means over axis 1: not a LayerNorm over the last axis */
    LN_DIFF_READ_AGAIN,     /* x - mean is also added to the output */
    LN_GAMMA_INPUT,         /* gamma is a graph input, not a constant */
} LnVariant;

/* ReduceMean over `axis`, keepdims 1, the axes as the opset wants them. */
static Node *ln_mean(Graph *g, const char *name, Value *x, int64_t axis, int opset) {
    int64_t one[1] = { 1 };
    Value *in[2] = { x, opset >= 18 ? tb_const_i64(g, name, 1, one, &axis) : NULL };
    Node *n = tb_node(g, "ReduceMean", name, opset >= 18 ? 2 : 1, in, 1);
    n->opset = opset;
    if (opset < 18) tb_attr_ints(g, n, "axes", &axis, 1);
    return n;
}

static Node *ln_binary(Graph *g, const char *op, const char *name, Value *a, Value *b) {
    Value *in[2] = { a, b };
    return tb_node(g, op, name, 2, in, 1);
}

/* y = (x - mean) / sqrt(mean((x - mean)^2) + eps) * gamma + beta, x[2,3,8]. */
static Graph *build_layernorm(LnVariant variant) {
    Graph *g = tb_graph();
    int opset = variant == LN_OPSET18 ? 18 : 13;
    int64_t axis = variant == LN_OTHER_AXIS ? 1 : -1;
    int64_t xd[3] = { 2, 3, 8 }, cd[1] = { 8 }, one[1] = { 1 };
    float two = 2.0f, eps = 1e-5f;
    Value *x = tb_input(g, "x", 3, xd);
    Value *mean = ln_mean(g, "mean", x, axis, opset)->outputs[0];
    Value *diff = ln_binary(g, "Sub", "sub", x, mean)->outputs[0];
    Value *sq = ln_binary(g, "Pow", "pow", diff, tb_const(g, "two", 0, one, &two))->outputs[0];
    Value *var = ln_mean(g, "var", sq, axis, opset)->outputs[0];
    Value *ve = ln_binary(g, "Add", "add_eps", var, tb_const(g, "eps", 0, one, &eps))->outputs[0];
    Value *sd = tb_node(g, "Sqrt", "sqrt", 1, &ve, 1)->outputs[0];
    Value *norm = ln_binary(g, "Div", "div", diff, sd)->outputs[0];
    Value *gamma = variant == LN_GAMMA_INPUT ? tb_input(g, "gamma", 1, cd)
                                             : tb_const_rand(g, "gamma", 1, cd, 3, 0.5f, 2);
    Value *scaled = ln_binary(g, "Mul", "mul", gamma, norm)->outputs[0];
    Value *y = ln_binary(g, "Add", "shift", scaled,
                         tb_const_rand(g, "beta", 1, cd, 4, -1, 1))->outputs[0];
    if (variant == LN_DIFF_READ_AGAIN) y = ln_binary(g, "Add", "again", y, diff)->outputs[0];
    tb_output(g, y);
    return g;
}

/* Runs the chain with and without canonicalisation (same numbers); returns how many
 * LayerNormalization nodes the pipeline made. */
static int layernorms_made(LnVariant variant) {
    Diag d;
    Graph *g = build_layernorm(variant), *ref = build_layernorm(variant);
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert(pipeline_without(ref, "canonicalize", &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(ref, "Sqrt"), 1);
    expect_same_numbers(g, ref, 1e-5f);
    int made = tb_count_live(g, "LayerNormalization");
    if (made) {
        cr_assert_eq(g->n_nodes, 1, "%d nodes left", g->n_nodes);
        const Node *n = g->nodes[0];
        cr_assert_eq(n->outputs[0], g->outputs[0]);
        cr_assert_str_eq(n->inputs[1]->name, "gamma");
        cr_assert_str_eq(n->inputs[2]->name, "beta");
        cr_assert_eq(ir_attr_int(n, "axis", 0), -1);
        cr_assert_float_eq(ir_attr_float(n, "epsilon", 0), 1e-5f, 0);
    }
    ir_graph_free(g);
    ir_graph_free(ref);
    return made;
}

Test(passes_canonicalize, layernorm_chain_becomes_one_node) {
    cr_assert_eq(layernorms_made(LN_PLAIN), 1);
    cr_assert_eq(layernorms_made(LN_OPSET18), 1);
}

Test(passes_canonicalize, layernorm_lookalikes_stay) {
    cr_assert_eq(layernorms_made(LN_OTHER_AXIS), 0);
    cr_assert_eq(layernorms_made(LN_DIFF_READ_AGAIN), 0);
    cr_assert_eq(layernorms_made(LN_GAMMA_INPUT), 0);
}

/* Pre-flight: the pipeline reports every node's problem in one run.  An unknown op, a
 * node reading its output (skipped: no second message for it), a bad attribute and an
 * arity error in independent nodes give three messages, one per culprit, each naming
 * its node. */
Test(passes_preflight, every_problem_is_reported_at_once) {
    Graph *g = tb_graph();
    g->opset = 20;   /* Gelu's first */
    int64_t xd[2] = { 2, 3 };
    Value *x = tb_input(g, "x", 2, xd);
    Node *unknown = tb_node(g, "NoSuchOp", "unknown_op", 1, &x, 1);
    Node *reader = tb_node(g, "Relu", "reads_unknown", 1, unknown->outputs, 1);
    Node *bad_attr = tb_node(g, "Gelu", "bad_attr", 1, &x, 1);
    tb_attr_str(g, bad_attr, "approximate", "bogus");
    Value *two[2] = { x, x };
    Node *bad_arity = tb_node(g, "Relu", "bad_arity", 2, two, 1);
    Node *fine = tb_node(g, "Sigmoid", "fine", 1, &x, 1);
    tb_output(g, reader->outputs[0]);
    tb_output(g, bad_attr->outputs[0]);
    tb_output(g, bad_arity->outputs[0]);
    tb_output(g, fine->outputs[0]);
    Diag d;
    cr_assert_not(tb_pipeline(g, false, &d));
    cr_assert_eq(d.n_errors, 3, "%d errors, the first: %s", d.n_errors, d.messages[0]);
    const char *culprits[3] = { "unsupported op NoSuchOp (node 'unknown_op'",
                                "(node 'bad_arity'", "\"bogus\" (node 'bad_attr'" };
    for (int k = 0; k < 3; k++) {
        bool found = false;
        for (int m = 0; m < d.n_messages; m++) found |= strstr(d.messages[m], culprits[k]) != 0;
        cr_assert(found, "no message names %s", culprits[k]);
    }
    for (int m = 0; m < d.n_messages; m++)
        cr_assert_null(strstr(d.messages[m], "reads_unknown"), "%s", d.messages[m]);
    /* the node that could be inferred was */
    cr_assert(ir_value_inferred(fine->outputs[0]));
    cr_assert_not(ir_value_inferred(reader->outputs[0]));
    diag_free(&d);
    ir_graph_free(g);
}

/* Conv -> Mul(c1) -> Add(c2), tf2onnx's form of a BatchNormalization after a depthwise
 * convolution; c1 and c2 have the shapes given (one value per output channel, or not). */
static Graph *build_conv_mul_add(int mul_rank, const int64_t *mul_dims, int add_rank,
                                 const int64_t *add_dims) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 5, 5 }, wd[4] = { BN_C, 2, 3, 3 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 21, -1, 1) };
    Node *conv = tb_node(g, "Conv", "conv", 2, in, 1);
    Value *min[2] = { conv->outputs[0], tb_const_rand(g, "c1", mul_rank, mul_dims, 22, 0.5f, 2) };
    Node *mul = tb_node(g, "Mul", "mul", 2, min, 1);
    Value *ain[2] = { tb_const_rand(g, "c2", add_rank, add_dims, 23, -1, 1), mul->outputs[0] };
    Node *add = tb_node(g, "Add", "add", 2, ain, 1);
    tb_output(g, add->outputs[0]);
    return g;
}

Test(passes_bn, per_channel_mul_and_add_fold_into_the_conv) {
    const int64_t mul_dims[4] = { 1, BN_C, 1, 1 }, add_dims[3] = { BN_C, 1, 1 };
    Graph *g = build_conv_mul_add(4, mul_dims, 3, add_dims);
    Diag d;
    cr_assert(pipeline_without(g, "pack_weights", &d));
    diag_free(&d);
    cr_assert_eq(g->n_nodes, 1, "%d nodes left", g->n_nodes);
    cr_assert_str_eq(g->nodes[0]->op_type, "Conv");
    cr_assert_str_eq(g->outputs[0]->name, "add_out0");
    cr_assert_not_null(strstr(g->nodes[0]->fused, "Mul 'mul'"));
    cr_assert_not_null(strstr(g->nodes[0]->fused, "Add 'add'"));
    Graph *ref = build_conv_mul_add(4, mul_dims, 3, add_dims);
    cr_assert(pipeline_without(ref, "fold_batchnorm", &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(ref, "Mul") + tb_count_live(ref, "Add"), 2);
    expect_same_numbers(g, ref, 1e-5f);
    ir_graph_free(ref);
    ir_graph_free(g);
}

Test(passes_bn, a_scalar_mul_folds_and_a_per_column_add_does_not) {
    /* c1 a scalar: folds; c2 of shape [3] runs along the last axis (W), not the channels */
    const int64_t scalar[1] = { 1 }, per_column[1] = { 3 };
    Graph *g = build_conv_mul_add(1, scalar, 1, per_column);
    Diag d;
    cr_assert(pipeline_without(g, "pack_weights", &d), "%s", d.n_messages ? d.messages[0] : "");
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Mul"), 0);
    cr_assert_eq(tb_count_live(g, "Add"), 1);
    Graph *ref = build_conv_mul_add(1, scalar, 1, per_column);
    cr_assert(pipeline_without(ref, "fold_batchnorm", &d));
    diag_free(&d);
    expect_same_numbers(g, ref, 1e-5f);
    ir_graph_free(ref);
    ir_graph_free(g);
}

Test(passes_bn, a_mul_that_broadcasts_the_conv_output_is_not_folded) {
    /* c1 of shape [2, BN_C, 1, 1] makes the output [2, BN_C, 3, 3]: not a per-channel
     * scaling of the Conv's output */
    const int64_t wide[4] = { 2, BN_C, 1, 1 }, add_dims[1] = { 1 };
    Graph *g = build_conv_mul_add(4, wide, 1, add_dims);
    Diag d;
    cr_assert(tb_pipeline(g, false, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Mul"), 1);
    ir_graph_free(g);
}
