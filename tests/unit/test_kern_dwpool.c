/* test_kern_dwpool.c: the depthwise convolution and pooling kernels (rt_dwconv.c,
 * rt_pool.c).
 *
 * Their vector paths are chosen by -march when the runtime is compiled, so one build of
 * this test binary reaches only one of them.  The naive references and the cases (kernel
 * 3, 5 and 7, stride 1 and 2, planes from 1x1 to 112x112, asymmetric pads, a channel
 * multiplier, a residual aliasing y, every activation; max/average pooling with pads,
 * ceil_mode, dilation and windows wider than the row buffer; the global pools) live in
 * bench/kernels/dw_pool.c's --check mode, which this test builds and runs twice: for the
 * baseline target and with -march=native (AVX-512 on the development machine), under the
 * sanitizers when the tests are built with them.  In process, the kernels must give the
 * same bits with a thread pool as without.
 *
 * The transcendental activations (Sigmoid, Elu, and SiLU from Mul(y, Sigmoid(y))) are
 * fused into a depthwise and a 1x1 Conv (fuse_activation.c) and computed in the
 * kernels' registers (onnxcc_simd.h's vector math): the generated code of the fused
 * graph must give the unfused graph's numbers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "onnxcc_rt.h"
#include "passes/pass.h"

/* Builds dw_pool.c with the runtime's kernels and `march`, runs its --check. */
static void run_check_program(const char *march) {
    tb_build_and_run(march, "bench/kernels/dw_pool.c runtime/src/rt_dwconv.c "
                     "runtime/src/rt_pool.c runtime/src/rt_threads.c", "--check");
}

Test(kern_dwpool, naive_references_baseline_target, .timeout = 300) {
    run_check_program("");
}

Test(kern_dwpool, naive_references_native_target, .timeout = 300) {
    run_check_program("-march=native");
}

static float *frand(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof(float));
    cr_assert(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 9) / (float)(1u << 23) - 0.5f;
    }
    return p;
}

/* Depthwise (the fast path, a channel multiplier with a residual aliasing y, and the
 * general path), pooling and the global pools, with pools of 2 and 3 threads: the tasks
 * split planes, so the bits must not change. */
Test(kern_dwpool, same_bits_with_threads) {
    const OnnxccConvGeom geoms[] = {
        {.n_spatial = 2, .in = {14, 13}, .out = {7, 7}, .kernel = {3, 3}, .stride = {2, 2},
         .dilation = {1, 1}, .pad_begin = {1, 1}, .pad_end = {1, 1}},
        {.n_spatial = 2, .in = {9, 9}, .out = {9, 9}, .kernel = {5, 5}, .stride = {1, 1},
         .dilation = {1, 1}, .pad_begin = {2, 2}, .pad_end = {2, 2}},
        {.n_spatial = 2, .in = {9, 9}, .out = {5, 5}, .kernel = {3, 3}, .stride = {1, 1},
         .dilation = {2, 2}, .pad_begin = {0, 0}, .pad_end = {0, 0}},
    };
    const size_t batch = 2, C = 6, M = 12, pix = 14 * 13, ny = batch * M * pix;
    float *x = frand(batch * C * pix, 1), *w = frand(M * 25, 2), *bias = frand(M, 3);
    float *res = frand(ny, 4), *want = malloc(ny * sizeof(float));
    float *y = malloc(ny * sizeof(float));
    cr_assert(want && y);
    for (int threads = 2; threads <= 3; threads++) {
        OnnxccPool *pool = onnxcc_pool_create(threads);
        cr_assert(pool);
        for (size_t gi = 0; gi < sizeof geoms / sizeof geoms[0]; gi++) {
            OnnxccGeom3 G;
            onnxcc_geom3(&geoms[gi], &G);
            size_t n_out = batch * M * (size_t)(G.out[1] * G.out[2]);
            memcpy(want, res, n_out * sizeof(float));
            OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f,
                                 .residual = {want, 0, 0}, .act = ONNXCC_ACT_SILU};
            onnxcc_f32_conv_dw(&G, batch, C, M, x, w, want, &ep, NULL, NULL);
            memcpy(y, res, n_out * sizeof(float));
            ep.residual.ptr = y;
            onnxcc_f32_conv_dw(&G, batch, C, M, x, w, y, &ep, NULL, pool);
            cr_assert(memcmp(y, want, n_out * sizeof(float)) == 0, "depthwise %zu, %d threads",
                      gi, threads);
            size_t planes = batch * C;
            size_t n_pool = planes * (size_t)(G.out[1] * G.out[2]);
            onnxcc_f32_maxpool(&geoms[gi], planes, x, want, NULL, 0, NULL);
            onnxcc_f32_maxpool(&geoms[gi], planes, x, y, NULL, 0, pool);
            cr_assert(memcmp(y, want, n_pool * sizeof(float)) == 0, "maxpool %zu", gi);
            onnxcc_f32_avgpool(&geoms[gi], planes, x, want, 1, NULL);
            onnxcc_f32_avgpool(&geoms[gi], planes, x, y, 1, pool);
            cr_assert(memcmp(y, want, n_pool * sizeof(float)) == 0, "avgpool %zu", gi);
        }
        onnxcc_f32_global_avgpool(batch * C, pix, x, want, NULL);
        onnxcc_f32_global_avgpool(batch * C, pix, x, y, pool);
        cr_assert(memcmp(y, want, batch * C * sizeof(float)) == 0, "global average pool");
        onnxcc_f32_global_maxpool(batch * C, pix, x, want, NULL);
        onnxcc_f32_global_maxpool(batch * C, pix, x, y, pool);
        cr_assert(memcmp(y, want, batch * C * sizeof(float)) == 0, "global max pool");
        onnxcc_pool_destroy(pool);
    }
    free(x), free(w), free(bias), free(res), free(want), free(y);
}

/* ---- the transcendental activations fused into the depthwise and 1x1 convolutions ---- */

/* act(x) for the activation `act` ("Sigmoid", "Elu" or "Swish": Mul(x, Sigmoid(x))). */
static Value *build_act(Graph *g, const char *act, const char *name, Value *x) {
    if (strcmp(act, "Swish") != 0) {
        Node *n = tb_node(g, act, name, 1, &x, 1);
        if (strcmp(act, "Elu") == 0) tb_attr_float(g, n, "alpha", 0.5f);
        return n->outputs[0];
    }
    char gate[64];
    snprintf(gate, sizeof gate, "%s_gate", name);
    Value *in[2] = {x, tb_node(g, "Sigmoid", gate, 1, &x, 1)->outputs[0]};
    return tb_node(g, "Mul", name, 2, in, 1)->outputs[0];
}

/* x[1,8,7,9] -> depthwise 3x3 Conv (pads 1, bias) -> act -> 1x1 Conv to 16 channels
 * (bias) -> act.  Weights in [-2, 2] spread the values over both signs and well into
 * the saturated ends of the activations. */
static Graph *build_dw_pw(const char *act) {
    Graph *g = tb_graph();
    int64_t xd[4] = {1, 8, 7, 9}, dwd[4] = {8, 1, 3, 3}, pwd[4] = {16, 8, 1, 1};
    int64_t b8[1] = {8}, b16[1] = {16}, pads[4] = {1, 1, 1, 1};
    Value *in[3] = {tb_input(g, "x", 4, xd), tb_const_rand(g, "dw_w", 4, dwd, 1, -2, 2),
                    tb_const_rand(g, "dw_b", 1, b8, 2, -1, 1)};
    Node *dw = tb_node(g, "Conv", "dw", 3, in, 1);
    tb_attr_int(g, dw, "group", 8);
    tb_attr_ints(g, dw, "pads", pads, 4);
    in[0] = build_act(g, act, "act1", dw->outputs[0]);
    in[1] = tb_const_rand(g, "pw_w", 4, pwd, 3, -2, 2);
    in[2] = tb_const_rand(g, "pw_b", 1, b16, 4, -1, 1);
    Node *pw = tb_node(g, "Conv", "pw", 3, in, 1);
    tb_output(g, build_act(g, act, "act2", pw->outputs[0]));
    return g;
}

/* Fuses, checks that both Convs took the activation, and compares the generated code's
 * output with the unfused graph's (the vector math may differ in the last bits). */
static void expect_fused_dw_pw(const char *act, int code) {
    Diag d;
    Graph *fused = build_dw_pw(act), *plain = build_dw_pw(act);
    cr_assert(tb_pipeline(fused, true, &d), "pipeline (fused) failed");
    diag_free(&d);
    cr_assert(tb_pipeline(plain, false, &d), "pipeline (unfused) failed");
    diag_free(&d);
    cr_assert_eq(fused->n_nodes, 2, "%s: %d nodes left", act, fused->n_nodes);
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq(fused->nodes[i]->op_type, "Conv");
        cr_assert_eq(fused->nodes[i]->epi.act, code, "%s into Conv %d", act, i);
    }
    float *yf = NULL, *yp = NULL;
    int64_t nf = 0, np = 0;
    cr_assert(tb_run(fused, 7, &yf, &nf, 1), "running the fused graph");
    cr_assert(tb_run(plain, 7, &yp, &np, 1), "running the unfused graph");
    cr_assert_eq(nf, 16 * 7 * 9);
    cr_assert_eq(nf, np);
    for (int64_t i = 0; i < nf; i++)
        cr_assert(fabsf(yf[i] - yp[i]) <= 1e-5f * (1.0f + fabsf(yp[i])),
                  "%s, element %lld: fused %.9g, unfused %.9g", act, (long long)i,
                  (double)yf[i], (double)yp[i]);
    free(yf);
    free(yp);
    ir_graph_free(fused);
    ir_graph_free(plain);
}

Test(kern_dwpool, silu_fused_into_depthwise_and_1x1) {
    expect_fused_dw_pw("Swish", ONNXCC_ACT_SILU);
}

Test(kern_dwpool, sigmoid_fused_into_depthwise_and_1x1) {
    expect_fused_dw_pw("Sigmoid", ONNXCC_ACT_SIGMOID);
}

Test(kern_dwpool, elu_fused_into_depthwise_and_1x1) {
    expect_fused_dw_pw("Elu", ONNXCC_ACT_ELU);
}
