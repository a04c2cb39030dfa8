/* test_conv_packed.c: weights packed at compile time.
 *
 * The kernel: onnxcc_f32_conv_packed (weights packed here by the documented layout,
 * onnxcc_conv_packed_index) and onnxcc_f32_conv against a naive convolution, on every
 * path of rt_conv.c: 1x1 read in place, the flat-shift builder (input rows stride times
 * as wide as the output's: top and bottom edges, pads, dilation; with a stride, phase
 * planes: the 7x7/2 first layer with 3 channels, odd heights, unequal strides), the runs
 * builder (the other strided shapes, 1-D and 3-D), groups, ragged channel counts, batches,
 * several chunks, a residual aliasing y, every activation, a 2-thread pool.
 * The pass: pack_weights marks the node, its constant holds the packed layout (the
 * packed-B one for the small-plane kernel of onnxcc_conv_small.h), shared
 * weights are packed once and the original stays for other readers, depthwise and
 * non-constant weights are left alone, and the compiled graph gives the numbers of the
 * pipeline without the pass.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "onnxcc_rt.h"
#include "kern_ref.h"
#include "ops/kernel_emit.h"
#include "passes/pass.h"

/* ---- the kernel ------------------------------------------------------------------- */

typedef ConvCase Case;

/* w in the packed layout of onnxcc_conv_packed_index, as the compiler writes it. */
static float *pack_weights(const Case *cc, const float *w, size_t kdim) {
    size_t floats = onnxcc_conv_packed_floats(cc->M, cc->groups, kdim);
    float *wp = calloc(floats, sizeof(float));
    cr_assert(wp);
    for (size_t oc = 0; oc < cc->M; oc++)
        for (size_t k = 0; k < kdim; k++)
            wp[onnxcc_conv_packed_index(cc->M, cc->groups, kdim, oc, k)] = w[oc * kdim + k];
    return wp;
}

static void expect_close(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(got[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])),
                  "%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i],
                  (double)want[i]);
}

/* Runs one case through both entry points, with every activation (PRelu with a slope
 * per channel), each once with and once without a residual that aliases y. */
static void check_case(const Case *cc, size_t index, OnnxccPool *pool) {
    OnnxccConvGeom g = conv_case_geom(cc);
    const size_t in_pix = prod(g.in, cc->ns), out_pix = prod(g.out, cc->ns);
    const size_t kdim = cc->C / cc->groups * prod(g.kernel, cc->ns);
    const size_t ny = cc->N * cc->M * out_pix;
    float *x = frand(cc->N * cc->C * in_pix, 1), *w = frand(cc->M * kdim, 2);
    float *bias = frand(cc->M, 3), *slope = frand(cc->M, 4), *res = frand(ny, 5);
    float *raw = frand(ny, 6), *want = frand(ny, 7), *y = frand(ny, 8);
    float *wp = pack_weights(cc, w, kdim);
    size_t sb = onnxcc_f32_conv_scratch_bytes(&g, cc->C, cc->M, cc->groups);
    void *scratch = malloc(sb ? sb : 1);
    naive_conv(&g, cc->N, cc->C, cc->M, cc->groups, x, w, bias, raw);
    for (int act = ONNXCC_ACT_NONE; act <= ONNXCC_ACT_HARD_SWISH; act++) {
        for (int with_res = 0; with_res < 2; with_res++) {
            OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f,
                                 .slope = {slope, 1, 0}, .act = act, .act_alpha = 0.3f,
                                 .act_beta = 0.9f};
            if (with_res) ep.residual = (OnnxccOperand){y, 0, 0};
            for (size_t i = 0; i < ny; i++) {
                size_t m = i / out_pix % cc->M;
                want[i] = onnxcc_act(act, raw[i] + (with_res ? res[i] : 0.0f), 0.3f, 0.9f,
                                     slope[m]);
            }
            char what[64];
            for (int packed = 0; packed < 2; packed++) {
                memcpy(y, res, ny * sizeof(float));
                if (packed) {
                    onnxcc_f32_conv_packed(&g, cc->N, cc->C, cc->M, cc->groups, x, wp, y, &ep,
                                           scratch, pool);
                } else {
                    onnxcc_f32_conv(&g, cc->N, cc->C, cc->M, cc->groups, x, w, y, &ep,
                                    scratch, pool);
                }
                snprintf(what, sizeof what, "case %zu, %s, act %d%s", index,
                         packed ? "packed" : "plain", act, with_res ? " + residual" : "");
                expect_close(y, want, ny, what);
            }
        }
    }
    free(x), free(w), free(bias), free(slope), free(res), free(raw), free(want), free(y);
    free(wp), free(scratch);
}

static void check_cases(const Case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) check_case(&cases[i], i, NULL);
}

Test(kern_conv_packed, pointwise) {
    const Case cases[] = {
        {2, {6, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 9, 17, 1},   /* in place */
        {2, {7, 6}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 17, 9, 1},   /* stride 2 */
        {2, {5, 5}, {1, 1}, {1, 1}, {1, 1}, {1, 0}, {0, 1}, 1, 3, 8, 1},    /* padded */
        {2, {4, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 6, 10, 2},   /* groups */
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Stride 1 with input rows as wide as the output: the flat-shift builder. */
Test(kern_conv_packed, three_by_three_stride_one) {
    const Case cases[] = {
        {2, {13, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 5, 1},
        {2, {9, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 9, 17, 1},
        {2, {16, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 17, 16, 2},
        {2, {12, 12}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, 1, 4, 6, 1},  /* dilation */
        {2, {10, 9}, {3, 3}, {1, 1}, {1, 1}, {0, 1}, {2, 1}, 1, 5, 3, 1},   /* rows pads */
        {2, {8, 40}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 2, 4, 1},   /* 5x5 */
        {2, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 8, 8, 1},    /* 9 pixels */
        {2, {5, 4}, {1, 3}, {1, 1}, {1, 1}, {0, 1}, {0, 1}, 1, 3, 5, 1},    /* 1x3 */
        {1, {40}, {3}, {1}, {1}, {1}, {1}, 2, 3, 4, 1},                     /* 1-D */
        {2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 70, 9, 1},   /* K = 630 */
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Strides: phase planes when the input rows are stride times as wide as the output's
 * (first layer, odd height, strides 2 x 3), the runs builder otherwise; other shapes. */
Test(kern_conv_packed, strided_and_other_shapes) {
    const Case cases[] = {
        {2, {13, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 9, 17, 1},
        {2, {30, 30}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, 1, 3, 8, 1},  /* first layer */
        {2, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2, 9, 16, 1},  /* odd height */
        {2, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 3, 5, 1},    /* no pad */
        {2, {7, 9}, {3, 2}, {2, 3}, {1, 1}, {0, 1}, {1, 0}, 1, 4, 6, 2},
        {2, {9, 9}, {3, 3}, {1, 1}, {2, 3}, {2, 1}, {0, 3}, 1, 2, 3, 1},
        {2, {6, 5}, {11, 11}, {1, 1}, {1, 1}, {5, 5}, {5, 5}, 1, 2, 3, 1},  /* 11x11 */
        {1, {11}, {3}, {2}, {1}, {1}, {2}, 2, 3, 4, 1},
        {3, {4, 5, 6}, {2, 3, 3}, {1, 2, 1}, {1, 1, 2}, {1, 1, 2}, {0, 1, 2}, 1, 4, 6, 2},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* More output pixels than one chunk (onnxcc_conv_chunk), on both builders; the last
 * case's remainder (61 x 80 = 2 x 2432 + 16 pixels) joins the last chunk
 * (onnxcc_conv_chunk_at), which the scratch must hold (onnxcc_conv_chunk_cols). */
Test(kern_conv_packed, several_chunks) {
    const Case cases[] = {
        {2, {72, 72}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 4, 1},
        {2, {143, 143}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 2, 1},
        {2, {144, 144}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 2, 1},
        {2, {61, 80}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OnnxccConvGeom g = conv_case_geom(&cases[i]);
        cr_assert_gt(prod(g.out, 2), onnxcc_conv_chunk(27, prod(g.out, 2)) + 32);
    }
    cr_assert_eq(onnxcc_conv_chunk_at(27, 61 * 80, 2432), 2448u);
    cr_assert_eq(onnxcc_conv_chunk_cols(27, 61 * 80), 2464u);
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* With a pool of two threads the panels are built by both; the numbers stay right. */
Test(kern_conv_packed, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    const Case cases[] = {
        {2, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 9, 17, 1},
        {2, {30, 30}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, 1, 3, 8, 1},
        {2, {6, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 9, 17, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], i, pool);
    onnxcc_pool_destroy(pool);
}

/* ---- the pass ----------------------------------------------------------------------- */

/* The pipeline, skipping the pass named `skip` (NULL: none), fusion off. */
static void run_pipeline(Graph *g, const char *skip) {
    Diag d;
    diag_init(&d);
    PassOptions opt = {.fuse = false, .verify = true};
    for (int i = 0; i < pipeline_n_passes; i++) {
        const Pass *p = &pipeline_passes[i];
        if (skip && strcmp(p->name, skip) == 0) continue;
        cr_assert(p->run(g, &opt, &d) && diag_ok(&d) && ir_verify(g, &d), "pass %s: %s",
                  p->name, d.n_messages ? d.messages[0] : "");
    }
    diag_free(&d);
}

/* Both graphs' single outputs agree. */
static void expect_same_outputs(const Graph *a, const Graph *b) {
    float *ya = NULL, *yb = NULL;
    int64_t na = 0, nb = 0;
    cr_assert(tb_run(a, 3, &ya, &na, 1), "running the packed graph");
    cr_assert(tb_run(b, 3, &yb, &nb, 1), "running the unpacked graph");
    cr_assert_eq(na, nb);
    cr_assert_gt(na, 0);
    expect_close(ya, yb, (size_t)na, "packed vs unpacked graph");
    free(ya), free(yb);
}

/* x[1, C, 7, 6] -> Conv(w [M, C / group, 3, 3], pads 1) -> y. */
static Graph *conv_graph(int64_t C, int64_t M, int64_t group) {
    Graph *g = tb_graph();
    int64_t xd[4] = {1, C, 7, 6}, wd[4] = {M, C / group, 3, 3}, bd[1] = {M};
    Value *in[3] = {tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1),
                    tb_const_rand(g, "b", 1, bd, 2, -1, 1)};
    Node *conv = tb_node(g, "Conv", "conv", 3, in, 1);
    int64_t pads[4] = {1, 1, 1, 1};
    tb_attr_ints(g, conv, "pads", pads, 4);
    if (group != 1) tb_attr_int(g, conv, "group", group);
    tb_output(g, conv->outputs[0]);
    return g;
}

/* The node's weight is the packed copy of `orig` (groups x rows x cols as documented). */
static void expect_conv_packed(const Node *n, const Value *orig, size_t groups) {
    cr_assert(kern_is_packed(n), "the node is marked");
    const int64_t *dims;
    size_t rank = ir_attr_ints(n, KERN_ATTR_PACKED, &dims);
    cr_assert_eq(rank, (size_t)orig->rank);
    for (size_t i = 0; i < rank; i++) cr_assert_eq(dims[i], orig->dims[i]);
    const Value *p = n->inputs[1];
    size_t M = (size_t)orig->dims[0], kdim = (size_t)ir_numel(orig) / M;
    cr_assert_eq(p->rank, 1);
    cr_assert_eq((size_t)p->dims[0], onnxcc_conv_packed_floats(M, groups, kdim));
    const float *src = orig->data, *dst = p->data;
    /* Every value at its place, zeros elsewhere (sum of squares matches). */
    double sum_src = 0, sum_dst = 0;
    for (size_t oc = 0; oc < M; oc++)
        for (size_t k = 0; k < kdim; k++) {
            cr_assert_eq(dst[onnxcc_conv_packed_index(M, groups, kdim, oc, k)], src[oc * kdim + k]);
            sum_src += (double)src[oc * kdim + k] * src[oc * kdim + k];
        }
    for (int64_t i = 0; i < p->dims[0]; i++) sum_dst += (double)dst[i] * dst[i];
    cr_assert_float_eq(sum_dst, sum_src, 1e-9 * (1 + sum_src));
}

Test(pass_pack_weights, conv_is_packed) {
    const int64_t shapes[][3] = {{3, 5, 1}, {4, 10, 2}, {9, 17, 1}};
    for (int s = 0; s < 3; s++) {
        Graph *g = conv_graph(shapes[s][0], shapes[s][1], shapes[s][2]);
        Graph *ref = conv_graph(shapes[s][0], shapes[s][1], shapes[s][2]);
        const Value *w = ir_value_find(g, "w");
        run_pipeline(g, NULL);
        run_pipeline(ref, "pack_weights");
        cr_assert_eq(g->n_nodes, 1);
        expect_conv_packed(g->nodes[0], w, (size_t)shapes[s][2]);
        cr_assert_not(kern_is_packed(ref->nodes[0]));
        expect_same_outputs(g, ref);
        ir_graph_free(g);
        ir_graph_free(ref);
    }
}

/* x[1, 16, 7, 7] -> Conv(w [32, 16, 3, 3], pads 1): a small plane (onnxcc_conv_use_small),
 * whose weights are packed as the transposed GEMM's B; with 8 channels (K = 72) it is
 * not small and gets the usual layout. */
Test(pass_pack_weights, small_plane_conv_is_packed_as_b) {
    for (int k = 0; k < 2; k++) {
        Graph *gs[2];
        for (int i = 0; i < 2; i++) {
            Graph *g = tb_graph();
            int64_t C = k == 0 ? 16 : 8;
            int64_t xd[4] = {1, C, 7, 7}, wd[4] = {32, C, 3, 3}, bd[1] = {32};
            Value *in[3] = {tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1),
                            tb_const_rand(g, "b", 1, bd, 2, -1, 1)};
            Node *conv = tb_node(g, "Conv", "conv", 3, in, 1);
            int64_t pads[4] = {1, 1, 1, 1};
            tb_attr_ints(g, conv, "pads", pads, 4);
            Value *relu_in[1] = {conv->outputs[0]};
            Node *relu = tb_node(g, "Relu", "relu", 1, relu_in, 1);
            tb_output(g, relu->outputs[0]);
            gs[i] = g;
        }
        const Value *w = ir_value_find(gs[0], "w");
        run_pipeline(gs[0], NULL);
        run_pipeline(gs[1], "pack_weights");
        const Node *n = gs[0]->nodes[0];
        cr_assert_str_eq(n->op_type, "Conv");
        if (k == 0) {
            size_t K = 16 * 9;
            cr_assert(kern_is_packed(n));
            cr_assert_eq(n->inputs[1]->dims[0], (int64_t)onnxcc_packed_b_floats(K, 32));
            const float *src = w->data, *dst = n->inputs[1]->data;
            for (size_t oc = 0; oc < 32; oc++)
                for (size_t kk = 0; kk < K; kk++)
                    cr_assert_eq(dst[onnxcc_packed_b_index(K, kk, oc)], src[oc * K + kk]);
        } else {
            expect_conv_packed(n, w, 1);
        }
        expect_same_outputs(gs[0], gs[1]);
        ir_graph_free(gs[0]);
        ir_graph_free(gs[1]);
    }
}

Test(pass_pack_weights, depthwise_and_input_weights_are_not_packed) {
    Graph *g = conv_graph(4, 4, 4);
    run_pipeline(g, NULL);
    cr_assert_not(kern_is_packed(g->nodes[0]), "depthwise keeps its layout");
    cr_assert_str_eq(g->nodes[0]->inputs[1]->name, "w");
    ir_graph_free(g);

    g = tb_graph();
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3};
    Value *in[2] = {tb_input(g, "x", 4, xd), tb_input(g, "w", 4, wd)};
    Node *conv = tb_node(g, "Conv", "conv", 2, in, 1);
    tb_output(g, conv->outputs[0]);
    run_pipeline(g, NULL);
    cr_assert_not(kern_is_packed(g->nodes[0]), "weights that are an input stay");
    ir_graph_free(g);
}

/* Two Convs read w, and an Add reads it too: the Convs share one packed copy, the Add
 * still reads the original, unchanged. */
Test(pass_pack_weights, shared_weights) {
    Graph *gs[2];
    for (int k = 0; k < 2; k++) {
        Graph *g = tb_graph();
        int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3};
        Value *w = tb_const_rand(g, "w", 4, wd, 1, -1, 1);
        Value *in1[2] = {tb_input(g, "x", 4, xd), w}, *in2[2] = {in1[0], w};
        Node *c1 = tb_node(g, "Conv", "c1", 2, in1, 1);
        Node *c2 = tb_node(g, "Conv", "c2", 2, in2, 1);
        Value *add_in[2] = {w, tb_input(g, "z", 4, wd)};
        Node *add = tb_node(g, "Add", "add", 2, add_in, 1);
        Value *cat_in[2] = {c1->outputs[0], c2->outputs[0]};
        Node *sum = tb_node(g, "Add", "sum", 2, cat_in, 1);
        tb_output(g, sum->outputs[0]);
        tb_output(g, add->outputs[0]);
        gs[k] = g;
    }
    Value *w = ir_value_find(gs[0], "w");
    float before[54];
    memcpy(before, w->data, sizeof before);
    run_pipeline(gs[0], NULL);
    run_pipeline(gs[1], "pack_weights");
    const Node *c1 = NULL, *c2 = NULL, *add = NULL;
    for (int i = 0; i < gs[0]->n_nodes; i++) {
        const Node *n = gs[0]->nodes[i];
        if (strcmp(n->name, "c1") == 0) c1 = n;
        if (strcmp(n->name, "c2") == 0) c2 = n;
        if (strcmp(n->name, "add") == 0) add = n;
    }
    cr_assert(c1 && c2 && add);
    expect_conv_packed(c1, w, 1);
    cr_assert_eq(c1->inputs[1], c2->inputs[1], "one packed copy");
    cr_assert_eq(add->inputs[0], w, "the Add reads the original");
    cr_assert(memcmp(w->data, before, sizeof before) == 0);
    /* Outputs: the Convs' sum (output 0) and the Add (output 1). */
    float *ya[2], *yb[2];
    int64_t na[2], nb[2];
    cr_assert(tb_run(gs[0], 5, ya, na, 2));
    cr_assert(tb_run(gs[1], 5, yb, nb, 2));
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(na[k], nb[k]);
        expect_close(ya[k], yb[k], (size_t)na[k], "shared weights");
        free(ya[k]), free(yb[k]);
    }
    ir_graph_free(gs[0]);
    ir_graph_free(gs[1]);
}

/* The packed-B layout of a K x N constant (stored [K][N]). */
static void expect_b_packed(const Node *n, const Value *b) {
    cr_assert(kern_is_packed(n));
    size_t K = (size_t)b->dims[0], N = (size_t)b->dims[1];
    const Value *p = n->inputs[1];
    cr_assert_eq(p->rank, 1);
    cr_assert_eq((size_t)p->dims[0], onnxcc_packed_b_floats(K, N));
    const float *src = b->data, *dst = p->data;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            cr_assert_eq(dst[onnxcc_packed_b_index(K, k, j)], src[k * N + j]);
}

/* a [5, 40] x B [40, 37] (+ c): B spans two panels, the second ragged. */
static Graph *gemm_graph(bool matmul, bool trans_b) {
    Graph *g = tb_graph();
    int64_t ad[3] = {2, 5, 40}, bd[2] = {40, 37}, btd[2] = {37, 40}, cd[1] = {37};
    Value *in[3] = {matmul ? tb_input(g, "a", 3, ad) : tb_input(g, "a", 2, ad + 1),
                    tb_const_rand(g, "bm", 2, trans_b ? btd : bd, 3, -1, 1),
                    tb_const_rand(g, "c", 1, cd, 4, -1, 1)};
    Node *n = tb_node(g, matmul ? "MatMul" : "Gemm", "mm", matmul ? 2 : 3, in, 1);
    if (trans_b) tb_attr_int(g, n, "transB", 1);
    tb_output(g, n->outputs[0]);
    return g;
}

Test(pass_pack_weights, gemm_and_matmul_b_is_packed) {
    for (int kind = 0; kind < 3; kind++) {
        bool matmul = kind == 2, trans_b = kind == 1;
        Graph *g = gemm_graph(matmul, trans_b), *ref = gemm_graph(matmul, trans_b);
        run_pipeline(g, NULL);
        run_pipeline(ref, "pack_weights");
        cr_assert_eq(g->n_nodes, 1);
        const Node *n = g->nodes[0];
        /* With transB, canonicalisation made a transposed copy: [K][N] again. */
        cr_assert_eq(ir_attr_int(n, "transB", 0), 0);
        const int64_t *dims;
        cr_assert_eq(ir_attr_ints(n, KERN_ATTR_PACKED, &dims), 2);
        cr_assert(dims[0] == 40 && dims[1] == 37);
        const Value *orig = trans_b ? NULL : ir_value_find(g, "bm");
        for (int i = 0; !orig && i < g->n_values; i++)
            if (g->values[i]->data && g->values[i]->rank == 2 && g->values[i]->dims[0] == 40)
                orig = g->values[i];
        cr_assert(orig);
        expect_b_packed(n, orig);
        expect_same_outputs(g, ref);
        ir_graph_free(g);
        ir_graph_free(ref);
    }
}

/* Without canonicalisation a Gemm keeps transB = 1; the pass transposes as it packs. */
Test(pass_pack_weights, gemm_trans_b_packed_directly) {
    Graph *g = gemm_graph(false, true), *ref = gemm_graph(false, true);
    const Value *b = ir_value_find(g, "bm");
    run_pipeline(g, "canonicalize");
    run_pipeline(ref, "pack_weights");
    const Node *n = g->nodes[0];
    cr_assert_eq(ir_attr_int(n, "transB", 0), 1);
    cr_assert(kern_is_packed(n));
    const float *src = b->data, *dst = n->inputs[1]->data;
    for (size_t k = 0; k < 40; k++)
        for (size_t j = 0; j < 37; j++)
            cr_assert_eq(dst[onnxcc_packed_b_index(40, k, j)], src[j * 40 + k]);
    expect_same_outputs(g, ref);
    ir_graph_free(g);
    ir_graph_free(ref);
}

/* A model cannot set the pass's attribute itself. */
Test(pass_pack_weights, reserved_attribute_is_rejected) {
    Graph *g = conv_graph(3, 5, 1);
    int64_t dims[1] = {135};
    tb_attr_ints(g, g->nodes[0], KERN_ATTR_PACKED, dims, 1);
    Diag d;
    cr_assert_not(tb_pipeline(g, true, &d));
    cr_assert(d.n_messages > 0 && strstr(d.messages[0], "reserved for onnxcc"), "%s",
              d.n_messages ? d.messages[0] : "");
    diag_free(&d);
    ir_graph_free(g);
}
