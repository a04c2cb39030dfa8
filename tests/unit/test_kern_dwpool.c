/* test_kern_dwpool.c: the depthwise convolution and pooling kernels (rt_dwconv.c,
 * rt_pool.c).
 *
 * Their vector paths are chosen by -march when the runtime is compiled, so one build of
 * this test binary reaches only one of them.  The naive references and the cases (kernel
 * 3 and 5, stride 1 and 2, planes from 1x1 to 112x112, asymmetric pads, a channel
 * multiplier, a residual aliasing y, every activation; max/average pooling with pads,
 * ceil_mode, dilation and windows wider than the row buffer; the global pools) live in
 * bench/kernels/dw_pool.c's --check mode, which this test builds and runs twice: for the
 * baseline target and with -march=native (AVX-512 on the development machine), under the
 * sanitizers when the tests are built with them.  In process, the kernels must give the
 * same bits with a thread pool as without.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_rt.h"

#ifdef ONNXCC_TEST_CFLAGS
#define DWPOOL_CFLAGS ONNXCC_TEST_CFLAGS
#else
#define DWPOOL_CFLAGS "-O2"
#endif

/* Builds dw_pool.c with the runtime's kernels and `march`, runs its --check. */
static void run_check_program(const char *march) {
    char dir[] = "/tmp/onnxcc-dwpool-XXXXXX";
    cr_assert(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "clang -std=c11 -Wall -Wextra -Werror %s %s -I%s/runtime/include "
             "%s/bench/kernels/dw_pool.c %s/runtime/src/rt_dwconv.c %s/runtime/src/rt_pool.c "
             "%s/runtime/src/rt_threads.c -o %s/check -lm -pthread > %s/cc.log 2>&1",
             DWPOOL_CFLAGS, march, ONNXCC_SOURCE_DIR, ONNXCC_SOURCE_DIR, ONNXCC_SOURCE_DIR,
             ONNXCC_SOURCE_DIR, ONNXCC_SOURCE_DIR, dir, dir);
    cr_assert_eq(system(cmd), 0, "building dw_pool.c %s failed (see %s/cc.log)", march, dir);
    snprintf(cmd, sizeof cmd, "%s/check --check > %s/check.log 2>&1", dir, dir);
    cr_assert_eq(system(cmd), 0, "dw_pool --check (%s) found mismatches (see %s/check.log)",
                 march, dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
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
