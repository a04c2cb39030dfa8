/* test_kernels.c: the runtime's convolution and pooling kernels against naive loops (the
 * GEMM's tests are in test_kern_gemm.c).
 *
 * Every case fills its operands with a fixed pseudo-random pattern, runs the kernel and a
 * direct textbook implementation, and compares element by element with a relative
 * tolerance (the kernels sum in a different order).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_rt.h"
#include "kern_ref.h"

static void expect_close(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        float tol = 1e-4f * (1.0f + fabsf(want[i]));
        cr_assert(fabsf(got[i] - want[i]) <= tol || (isnan(got[i]) && isnan(want[i])),
                  "%s: element %zu is %g, expected %g", what, i, (double)got[i],
                  (double)want[i]);
    }
}

/* ---- convolution ---------------------------------------------------------------------- */

static void check_conv(const ConvCase *cc) {
    OnnxccConvGeom g = conv_case_geom(cc);
    size_t in_pix = prod(g.in, cc->ns), out_pix = prod(g.out, cc->ns), ks = prod(g.kernel, cc->ns);
    float *x = frand(cc->N * cc->C * in_pix, 11);
    float *w = frand(cc->M * (cc->C / cc->groups) * ks, 12), *bias = frand(cc->M, 13);
    size_t ny = cc->N * cc->M * out_pix;
    float *y = frand(ny, 14), *want = frand(ny, 15);
    size_t sb = onnxcc_f32_conv_scratch_bytes(&g, cc->C, cc->M, cc->groups);
    void *scratch = malloc(sb ? sb : 1);
    OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f};
    onnxcc_f32_conv(&g, cc->N, cc->C, cc->M, cc->groups, x, w, y, &ep, scratch, NULL);
    naive_conv(&g, cc->N, cc->C, cc->M, cc->groups, x, w, bias, want);
    expect_close(y, want, ny, "conv");
    /* Again with relu and a residual aliasing y. */
    float *res = frand(ny, 16);
    memcpy(y, res, ny * sizeof(float));
    OnnxccEpilogue ep2 = {.bias = {bias, 1, 0}, .bias_scale = 1.0f, .residual = {y, 0, 0},
                          .act = ONNXCC_ACT_RELU};
    onnxcc_f32_conv(&g, cc->N, cc->C, cc->M, cc->groups, x, w, y, &ep2, scratch, NULL);
    for (size_t i = 0; i < ny; i++) want[i] = onnxcc_relu(want[i] + res[i]);
    expect_close(y, want, ny, "conv + residual + relu");
    free(x), free(w), free(bias), free(y), free(want), free(scratch), free(res);
}

Test(kern_conv, two_d_variants) {
    const ConvCase cases[] = {
        {2, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 4, 1},      /* same pad */
        {2, {7, 9}, {3, 2}, {2, 3}, {1, 1}, {0, 1}, {1, 0}, 2, 4, 6, 1},      /* strides */
        {2, {9, 9}, {3, 3}, {1, 1}, {2, 3}, {2, 1}, {0, 3}, 1, 2, 3, 1},      /* dilations */
        {2, {6, 5}, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 6, 4, 2},      /* groups */
        {2, {6, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 8, 5, 1},      /* 1x1 */
        {2, {6, 5}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 8, 5, 1},      /* 1x1 s2 */
        {2, {8, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 5, 5, 5},      /* depthwise */
        {2, {8, 7}, {3, 3}, {2, 2}, {1, 2}, {1, 2}, {0, 1}, 1, 3, 6, 3},      /* multiplier */
        {2, {20, 20}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 16, 20, 1},  /* K blocks */
        {2, {9, 9}, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 2}, 2, 1, 8, 1},      /* 1 channel */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
}

Test(kern_conv, one_d_and_three_d) {
    const ConvCase cases[] = {
        {1, {11}, {3}, {2}, {1}, {1}, {2}, 2, 3, 4, 1},
        {1, {11}, {4}, {1}, {2}, {0}, {0}, 1, 4, 4, 4},
        {3, {4, 5, 6}, {2, 3, 3}, {1, 2, 1}, {1, 1, 2}, {1, 1, 2}, {0, 1, 2}, 1, 2, 3, 1},
        {3, {4, 5, 6}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, 1, 4, 2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
}

/* The fast depthwise path (3x3 / 5x5, stride 1 / 2): planes smaller and larger than a
 * vector, asymmetric and zero pads, 1-D, a channel multiplier (not the fast path), and
 * the slow path's dilation, all against the naive loop. */
Test(kern_conv, depthwise_fast_path) {
    const ConvCase cases[] = {
        {2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 4, 4, 4},
        {2, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, 1, 3, 3, 3},
        {2, {112, 37}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 2, 2, 2},
        {2, {40, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 3, 3, 3},
        {2, {9, 11}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 3, 3, 3},
        {2, {17, 19}, {5, 5}, {2, 2}, {1, 1}, {2, 1}, {1, 2}, 1, 2, 2, 2},
        {2, {5, 4}, {5, 5}, {2, 2}, {1, 1}, {0, 3}, {3, 0}, 1, 2, 2, 2},
        {2, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 5, 5, 5},     /* 1x1 out */
        {2, {1, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 3, 3},     /* all pad */
        {1, {33}, {3}, {2}, {1}, {1}, {1}, 1, 4, 4, 4},                      /* 1-D */
        {2, {8, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 6, 3},     /* multiplier */
        {2, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, 1, 3, 3, 3},     /* dilation */
        {2, {9, 9}, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 3, 3},     /* mixed stride */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
}

/* The shifted-window path (2-D or 1-D, stride 1, images at least 14 wide): pads on
 * each side or none, 5x5, dilation, groups, batch, K beyond one K block, 1-D. */
Test(kern_conv, shifted_window_path) {
    const ConvCase cases[] = {
        {2, {16, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 5, 1},
        {2, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 4, 7, 1},
        {2, {28, 28}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 2, 3, 1},
        {2, {30, 30}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, 1, 3, 4, 1},
        {2, {17, 33}, {3, 3}, {1, 1}, {1, 1}, {0, 2}, {1, 0}, 1, 5, 6, 1},
        {2, {15, 16}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 6, 8, 2},
        {2, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 40, 13, 1},
        {2, {14, 15}, {2, 2}, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, 3, 2, 1},
        {1, {40}, {3}, {1}, {1}, {1}, {1}, 2, 3, 4, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
}

/* Every activation and a per-channel PRelu slope through the shifted-window path. */
Test(kern_conv, shifted_window_activations) {
    OnnxccConvGeom g = {.n_spatial = 2, .in = {14, 18}, .out = {14, 18}, .kernel = {3, 3},
                        .stride = {1, 1}, .dilation = {1, 1}, .pad_begin = {1, 1},
                        .pad_end = {1, 1}};
    const size_t C = 3, M = 4, ny = M * 14 * 18;
    float *x = frand(C * 14 * 18, 1), *w = frand(M * C * 9, 2), *bias = frand(M, 3);
    float slope[4] = {0.1f, -0.5f, 2.0f, 0.0f};
    float *y = frand(ny, 4), *want = frand(ny, 5), *raw = frand(ny, 6);
    void *scratch = malloc(onnxcc_f32_conv_scratch_bytes(&g, C, M, 1));
    naive_conv(&g, 1, C, M, 1, x, w, bias, raw);
    for (int act = ONNXCC_ACT_NONE; act <= ONNXCC_ACT_HARD_SWISH; act++) {
        OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f, .slope = {slope, 1, 0},
                             .act = act, .act_alpha = 0.3f, .act_beta = 0.9f};
        onnxcc_f32_conv(&g, 1, C, M, 1, x, w, y, &ep, scratch, NULL);
        for (size_t i = 0; i < ny; i++)
            want[i] = onnxcc_act(act, raw[i], 0.3f, 0.9f, slope[i / (14 * 18)]);
        char what[32];
        snprintf(what, sizeof what, "shifted conv act %d", act);
        expect_close(y, want, ny, what);
    }
    free(x), free(w), free(bias), free(y), free(want), free(raw), free(scratch);
}

Test(kern_conv, prelu_slope_per_channel) {
    OnnxccConvGeom g = {.n_spatial = 2, .in = {5, 5}, .out = {5, 5}, .kernel = {3, 3},
                        .stride = {1, 1}, .dilation = {1, 1}, .pad_begin = {1, 1},
                        .pad_end = {1, 1}};
    float *x = frand(2 * 25, 1), *w = frand(3 * 2 * 9, 2), slope[3] = {0.1f, -0.5f, 2.0f};
    float y[75], want[75];
    unsigned char scratch[2 * 9 * ONNXCC_GEMM_NR_MAX * sizeof(float)];  /* one panel */
    cr_assert(onnxcc_f32_conv_scratch_bytes(&g, 2, 3, 1) <= sizeof scratch);
    OnnxccEpilogue ep = {.slope = {slope, 1, 0}, .act = ONNXCC_ACT_PRELU};
    onnxcc_f32_conv(&g, 1, 2, 3, 1, x, w, y, &ep, scratch, NULL);
    naive_conv(&g, 1, 2, 3, 1, x, w, NULL, want);
    for (int i = 0; i < 75; i++) want[i] = onnxcc_prelu(want[i], slope[i / 25]);
    expect_close(y, want, 75, "conv prelu");
    free(x), free(w);
}

/* ---- pooling -------------------------------------------------------------------------- */

/* Naive 2-D pooling (max or average) with explicit pads and an output size given. */
static void naive_pool2d(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                         int64_t *ind, bool is_max, bool include_pad) {
    for (size_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < g->out[0]; oh++)
    for (int64_t ow = 0; ow < g->out[1]; ow++) {
        float best = -INFINITY, sum = 0.0f;
        int64_t cnt = 0, cnt_pad = 0, bi = -1;
        for (int64_t kh = 0; kh < g->kernel[0]; kh++)
        for (int64_t kw = 0; kw < g->kernel[1]; kw++) {
            int64_t ih = oh * g->stride[0] - g->pad_begin[0] + kh * g->dilation[0];
            int64_t iw = ow * g->stride[1] - g->pad_begin[1] + kw * g->dilation[1];
            bool in_pad = ih >= -g->pad_begin[0] && ih < g->in[0] + g->pad_end[0] &&
                          iw >= -g->pad_begin[1] && iw < g->in[1] + g->pad_end[1];
            cnt_pad += in_pad;
            if (ih < 0 || ih >= g->in[0] || iw < 0 || iw >= g->in[1]) continue;
            float v = x[(int64_t)p * g->in[0] * g->in[1] + ih * g->in[1] + iw];
            sum += v, cnt++;
            if (v > best) best = v, bi = (int64_t)p * g->in[0] * g->in[1] + ih * g->in[1] + iw;
        }
        size_t o = (p * (size_t)g->out[0] + (size_t)oh) * (size_t)g->out[1] + (size_t)ow;
        if (is_max) {
            y[o] = best;
            if (ind) ind[o] = bi;
        } else {
            y[o] = sum / (float)(include_pad ? cnt_pad : cnt);
        }
    }
}

static void check_pool(OnnxccConvGeom g, bool ceil_mode) {
    for (int a = 0; a < 2; a++) {
        int64_t span = g.in[a] + g.pad_begin[a] + g.pad_end[a] - ((g.kernel[a] - 1) *
                                                                   g.dilation[a] + 1);
        g.out[a] = ceil_mode ? (span + g.stride[a] - 1) / g.stride[a] + 1 : span / g.stride[a] + 1;
        if (ceil_mode && (g.out[a] - 1) * g.stride[a] >= g.in[a] + g.pad_begin[a]) g.out[a]--;
    }
    size_t planes = 3, nx = planes * (size_t)(g.in[0] * g.in[1]);
    size_t ny = planes * (size_t)(g.out[0] * g.out[1]);
    float *x = frand(nx, 21), *y = frand(ny, 22), *want = frand(ny, 23);
    int64_t *ind = calloc(ny, sizeof(int64_t)), *ind_want = calloc(ny, sizeof(int64_t));
    onnxcc_f32_maxpool(&g, planes, x, y, ind, 0, NULL);
    naive_pool2d(&g, planes, x, want, ind_want, true, false);
    expect_close(y, want, ny, "maxpool");
    for (size_t i = 0; i < ny; i++) cr_assert_eq(ind[i], ind_want[i], "index %zu", i);
    fill(y, ny, 24);
    onnxcc_f32_maxpool(&g, planes, x, y, NULL, 0, NULL);   /* the path without indices */
    expect_close(y, want, ny, "maxpool without indices");
    for (int include = 0; include < 2; include++) {
        onnxcc_f32_avgpool(&g, planes, x, y, include, NULL);
        naive_pool2d(&g, planes, x, want, NULL, false, include);
        expect_close(y, want, ny, include ? "avgpool count_include_pad" : "avgpool");
    }
    free(x), free(y), free(want), free(ind), free(ind_want);
}

Test(kern_pool, windows) {
    OnnxccConvGeom g = {.n_spatial = 2, .in = {7, 8}, .kernel = {3, 3}, .stride = {2, 2},
                        .dilation = {1, 1}, .pad_begin = {1, 1}, .pad_end = {1, 1}};
    check_pool(g, false);
    check_pool(g, true);
    OnnxccConvGeom g2 = {.n_spatial = 2, .in = {9, 6}, .kernel = {2, 3}, .stride = {3, 2},
                         .dilation = {2, 1}, .pad_begin = {0, 2}, .pad_end = {1, 0}};
    check_pool(g2, false);
    check_pool(g2, true);
    OnnxccConvGeom g3 = {.n_spatial = 2, .in = {5, 5}, .kernel = {2, 2}, .stride = {2, 2},
                         .dilation = {1, 1}};
    check_pool(g3, true);   /* ceil_mode adds a window hanging off the end */
}

Test(kern_pool, maxpool_indices_column_major) {
    /* Two planes of 2 x 3; plane 1 has its maximum at (0, 1): row-major 1, column-major 2. */
    OnnxccConvGeom g = {.n_spatial = 2, .in = {2, 3}, .out = {1, 1}, .kernel = {2, 3},
                        .stride = {1, 1}, .dilation = {1, 1}};
    float x[12] = {0, 1, 2, 3, 4, 9, /* plane 1 */ 5, 8, 1, 0, 0, 0};
    float y[2];
    int64_t ind[2];
    onnxcc_f32_maxpool(&g, 2, x, y, ind, 1, NULL);
    cr_assert_float_eq(y[0], 9.0f, 0.0f);
    cr_assert_eq(ind[0], 1 + 2 * 2);          /* h + w * H */
    cr_assert_eq(ind[1], 6 + 0 + 1 * 2);      /* plane offset + (0, 1) column-major */
    onnxcc_f32_maxpool(&g, 2, x, y, ind, 0, NULL);
    cr_assert_eq(ind[0], 5);
    cr_assert_eq(ind[1], 7);
}

Test(kern_pool, one_d_and_three_d_avg) {
    OnnxccConvGeom g = {.n_spatial = 1, .in = {10}, .out = {5}, .kernel = {3}, .stride = {2},
                        .dilation = {1}, .pad_begin = {1}, .pad_end = {0}};
    float x[10], y[5];
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    onnxcc_f32_maxpool(&g, 1, x, y, NULL, 0, NULL);
    const float want_max[5] = {1.0f, 3.0f, 5.0f, 7.0f, 9.0f};
    expect_close(y, want_max, 5, "maxpool 1-D");
    onnxcc_f32_avgpool(&g, 1, x, y, 0, NULL);
    /* windows [-1,2) [1,4) [3,6) [5,8) [7,10) */
    const float want[5] = {0.5f, 2.0f, 4.0f, 6.0f, 8.0f};
    expect_close(y, want, 5, "avgpool 1-D");
    onnxcc_f32_avgpool(&g, 1, x, y, 1, NULL);
    cr_assert_float_eq(y[0], 1.0f / 3.0f, 1e-6f);
    OnnxccConvGeom g3 = {.n_spatial = 3, .in = {2, 2, 2}, .out = {1, 1, 1},
                         .kernel = {2, 2, 2}, .stride = {1, 1, 1}, .dilation = {1, 1, 1}};
    float x3[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y3;
    onnxcc_f32_avgpool(&g3, 1, x3, &y3, 0, NULL);
    cr_assert_float_eq(y3, 4.5f, 1e-6f);
    int64_t i3;
    onnxcc_f32_maxpool(&g3, 1, x3, &y3, &i3, 1, NULL);
    cr_assert_float_eq(y3, 8.0f, 0.0f);
    cr_assert_eq(i3, 7);
}

/* onnxcc_expf against exp() in double: relative error, and the edges. */
Test(kern_act, expf_accuracy_and_edges) {
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -86.0f + (float)i * (174.7f / 200000.0f);
        double want = exp((double)x);
        double rel = fabs((double)onnxcc_expf(x) - want) / want;
        if (rel > worst) worst = rel;
    }
    cr_assert_lt(worst, 2e-7, "max relative error %.3g", worst);
    cr_assert(isinf(onnxcc_expf(89.0f)) && onnxcc_expf(89.0f) > 0);
    cr_assert(isinf(onnxcc_expf(INFINITY)));
    cr_assert_eq(onnxcc_expf(-INFINITY), 0.0f);
    cr_assert_eq(onnxcc_expf(-1000.0f), 0.0f);
    cr_assert(isnan(onnxcc_expf(NAN)));
    cr_assert_eq(onnxcc_expf(0.0f), 1.0f);
    /* Sigmoid built on it saturates cleanly at both ends. */
    cr_assert_eq(onnxcc_sigmoid(-200.0f), 0.0f);
    cr_assert_eq(onnxcc_sigmoid(200.0f), 1.0f);
    cr_assert_float_eq(onnxcc_sigmoid(0.0f), 0.5f, 0);
}
