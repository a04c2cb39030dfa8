/* test_conv_small.c: onnxcc_f32_conv_small (onnxcc_conv_small.h), the transposed-GEMM
 * convolution for small planes, against a naive convolution in double precision: 1x1,
 * 3x3 stride 1 and 2 with pads, dilation, 7x7 and 13x13 planes, 1-D and 3-D, ragged
 * channel counts (3, 9, 17, 64, 100), batch 2, every activation (PRelu's slope per
 * channel), a bias, a residual aliasing y, and a 2-thread pool.  The weights are packed
 * here by the documented layout (B(k, oc) = W[oc][k] through onnxcc_packed_b_index).
 *
 * Like test_kern_gemm.c, this file needs only the runtime's GEMM and rt_conv_small.c:
 * CMakeLists.txt builds it again with them for each GEMM micro-kernel (AVX-512, AVX2 +
 * FMA, portable), since the transposed tile stores differ between them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_conv_small.h"
#include "kern_ref.h"

typedef ConvCase Case;

/* w as packed B, B(k, oc) = w[oc][k] in 32-column panels (kern_ref.h's pack_blocked). */
static float *pack_weights(const Case *cc, const float *w, size_t kdim) {
    return pack_blocked(w, cc->M, kdim, 32);
}

/* One case with every activation, each with and without a residual aliasing y; with a
 * pool, the output must also equal the one-thread output bit for bit. */
static void check_case(const Case *cc, OnnxccPool *pool) {
    OnnxccConvGeom g = conv_case_geom(cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    const size_t in_pix = prod(g.in, cc->ns), out_pix = prod(g.out, cc->ns);
    const size_t kdim = onnxcc_conv_small_kdim(&G, cc->C), ny = cc->N * cc->M * out_pix;
    cr_assert_eq(kdim, cc->C * prod(g.kernel, cc->ns));
    float *x = frand(cc->N * cc->C * in_pix, 1), *w = frand(cc->M * kdim, 2);
    float *raw = frand(ny, 6), *wp = pack_weights(cc, w, kdim);
    void *scratch = malloc(onnxcc_f32_conv_small_scratch_bytes(&g, cc->C));
    cr_assert(scratch);
    naive_conv(&g, cc->N, cc->C, cc->M, 1, x, w, NULL, raw);
    check_epilogues(onnxcc_f32_conv_small, cc, x, wp, scratch, raw, 1e-4f, 1e-4f, pool);
    free(x), free(w), free(raw), free(wp), free(scratch);
}

static const Case cases[] = {
    /* 1x1 on 7x7, ragged out channels. */
    {2, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 64, 100},
    /* 3x3 "same" on 7x7 and 13x13 (169 pixels: 21 full row tiles and a one-row one). */
    {2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 17, 64},
    {2, {13, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 9, 100},
    /* 3x3 stride 2 pad 1: 13x13 -> 7x7, and 14x14 -> 7x7. */
    {2, {13, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2, 3, 64},
    {2, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2, 100, 17},
    /* 1x1 stride 2 (a resnet downsample), unequal pads, dilation 2. */
    {2, {13, 13}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 2, 9, 100},
    {2, {7, 9}, {3, 2}, {1, 2}, {1, 1}, {2, 0}, {1, 1}, 2, 17, 33},
    {2, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {1, 2}, {2, 1}, 2, 3, 64},
    /* 1-D and 3-D. */
    {1, {20}, {5}, {2}, {1}, {2}, {2}, 2, 9, 40},
    {3, {4, 5, 5}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 2, 3, 35},
};

Test(conv_small, every_case_and_epilogue) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], NULL);
}

/* Big enough that the GEMM splits the work between threads; the panels are built by
 * the pool too. */
Test(conv_small, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    const Case big = {2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 64, 160};
    check_case(&big, pool);
    check_case(&cases[3], pool);
    onnxcc_pool_destroy(pool);
}

/* The predicate: resnet's 7 x 7 stages take the path; planes that fill the old path's
 * 32-pixel slivers (8 x 8, 14 x 14), few output channels, a small K and grouped
 * convolutions do not. */
static bool use_small(int64_t plane, int64_t kernel, size_t C, size_t M, size_t groups) {
    const Case cc = {2, {plane, plane}, {kernel, kernel}, {1, 1}, {1, 1},
                     {kernel / 2, kernel / 2}, {kernel / 2, kernel / 2}, 1, C, M};
    OnnxccConvGeom g = conv_case_geom(&cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    return onnxcc_conv_use_small(&G, C, M, groups);
}

Test(conv_small, predicate) {
    cr_assert(use_small(7, 3, 512, 512, 1));
    cr_assert(use_small(7, 1, 512, 2048, 1));
    cr_assert(use_small(6, 3, 64, 64, 1));
    cr_assert(!use_small(7, 3, 512, 512, 2));
    cr_assert(!use_small(8, 3, 128, 128, 1));
    cr_assert(!use_small(14, 3, 256, 256, 1));
    cr_assert(!use_small(56, 3, 64, 64, 1));
    cr_assert(!use_small(7, 1, 512, 16, 1));
    cr_assert(!use_small(7, 1, 32, 64, 1));
}
