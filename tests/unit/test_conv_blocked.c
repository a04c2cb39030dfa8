/* test_conv_blocked.c: onnxcc_f32_conv_blocked (onnxcc_conv_blocked.h), the direct
 * convolution from register tiles, against a naive convolution in double precision:
 * resnet's 3x3 stride-2 and 7 x 7 layers with fewer channels (two-row tiles, an odd
 * last row), channel counts that fill no block (20 in, 40 out), strides 3 and 4,
 * stride 2 with odd, even and no pads on rows of up to 70 floats, dilation, unequal and
 * large pads, 5x5 and 3x1 kernels, rows of one tile, of tiles of
 * unequal width (27: 14 + 13) and of many bands (140 pixels), 1-D, batch 2, every
 * activation (PRelu's slope per channel), a scaled bias with a row stride, a residual
 * aliasing y, and 2 threads, whose output must be bitwise the one thread's.
 * The weights are packed here by the documented layout.
 *
 * Like test_conv_first.c, this file needs only the runtime (rt_conv_blocked.c and the
 * thread pool), so that it can be built for each ISA.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_conv_blocked.h"
#include "kern_ref.h"

typedef ConvCase Case;

/* w[M][C][taps] in blocks of 32 output x 16 input channels, spelled out here, after
 * checking the runtime's size and index functions against it. */
static float *pack_weights(const Case *cc, const float *w, size_t taps) {
    const size_t ob = (cc->M + 31) / 32, cb = (cc->C + 15) / 16, n = ob * cb * taps * 16 * 32;
    cr_assert_eq(onnxcc_conv_blocked_floats(cc->M, cc->C, taps), n);
    float *wb = calloc(n, sizeof(float));
    cr_assert(wb);
    for (size_t oc = 0; oc < cc->M; oc++)
        for (size_t c = 0; c < cc->C; c++)
            for (size_t t = 0; t < taps; t++) {
                size_t at = (((oc / 32 * cb + c / 16) * taps + t) * 16 + c % 16) * 32 + oc % 32;
                cr_assert_eq(onnxcc_conv_blocked_index(cc->C, taps, oc, c, t), at);
                wb[at] = w[(oc * cc->C + c) * taps + t];
            }
    return wb;
}

/* One case with every activation, each with and without a residual aliasing y; with a
 * pool, the output must also equal the one-thread output bit for bit. */
static void check_case(const Case *cc, OnnxccPool *pool) {
    OnnxccConvGeom g = conv_case_geom(cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    const size_t in_pix = prod(g.in, cc->ns), out_pix = prod(g.out, cc->ns);
    const size_t taps = prod(g.kernel, cc->ns), ny = cc->N * cc->M * out_pix;
    float *x = frand(cc->N * cc->C * in_pix, 1), *w = frand(cc->M * cc->C * taps, 2);
    float *raw = frand(ny, 6), *wb = pack_weights(cc, w, taps);
    /* Scratch filled with NaN: the padding must come from the kernel, not from it. */
    size_t scratch_floats = onnxcc_f32_conv_blocked_scratch_bytes(&G, cc->C) / sizeof(float);
    cr_assert(scratch_floats > 0);
    float *scratch = malloc(scratch_floats * sizeof(float));
    cr_assert(scratch);
    for (size_t i = 0; i < scratch_floats; i++) scratch[i] = NAN;
    naive_conv(&g, cc->N, cc->C, cc->M, 1, x, w, NULL, raw);
    check_epilogues(onnxcc_f32_conv_blocked, cc, x, wb, scratch, raw, 1e-4f, 1e-4f, pool);
    free(x), free(w), free(raw), free(wb), free(scratch);
}

static const Case cases[] = {
    /* resnet's 3x3 stride 2 (14 -> 7, 15 -> 8) and 3x3 on 7 x 7, fewer channels. */
    {2, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 32, 64},
    {2, {15, 15}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2, 48, 32},
    {2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 64, 64},
    /* Channels that fill no block: 20 in (two blocks, the second 4 deep), 40 out. */
    {2, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 20, 40},
    /* Stride 3, dilation 2, unequal and large pads, a 5x5 kernel, a 3x1 one. */
    {2, {17, 13}, {3, 3}, {3, 3}, {1, 1}, {2, 0}, {1, 3}, 1, 16, 32},
    {2, {12, 12}, {3, 3}, {1, 1}, {2, 2}, {3, 1}, {0, 2}, 1, 16, 33},
    {2, {11, 10}, {5, 5}, {2, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 17, 32},
    {2, {8, 9}, {3, 1}, {1, 1}, {1, 1}, {1, 0}, {1, 0}, 1, 16, 32},
    /* A row of 140 pixels (10 tiles of 14: two bands), rows of 27 (14 + 13) and of 4
     * (two-row tiles), stride 4, a row of one pixel, 1-D. */
    {2, {3, 142}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 16, 32},
    {2, {5, 27}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 32, 32},
    {2, {9, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 32},
    {2, {13, 14}, {3, 3}, {4, 4}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 32},
    /* Stride 2 on rows longer than 32 floats (the AVX-512 copy's chunks), with an even
     * pad and a last input column no output reads, and with no pad. */
    {2, {9, 70}, {3, 3}, {2, 2}, {1, 1}, {2, 2}, {0, 0}, 1, 16, 32},
    {2, {8, 41}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 16, 32},
    {2, {6, 3}, {3, 3}, {2, 2}, {1, 1}, {1, 0}, {0, 0}, 1, 16, 32},
    {1, {50}, {3}, {2}, {1}, {1}, {1}, 2, 16, 32},
};

Test(conv_blocked, every_case_and_epilogue) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], NULL);
}

/* Two threads share the copy and the tiles; the output is the one thread's. */
Test(conv_blocked, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    check_case(&cases[1], pool);
    check_case(&cases[3], pool);
    check_case(&cases[8], pool);
    check_case(&cases[10], pool);
    onnxcc_pool_destroy(pool);
}

/* Whether a 2-D (3-D when depth > 0) convolution takes the path. */
static bool use_blocked(int64_t kernel, int64_t stride, int64_t depth, size_t C, size_t M,
                        size_t groups) {
    const Case cc = {depth ? 3 : 2, {depth ? depth : 28, 28, 28}, {kernel, kernel, kernel},
                     {stride, stride, stride}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 1, C, M};
    OnnxccConvGeom g = conv_case_geom(&cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    return onnxcc_conv_blocked_use(&G, C, M, groups);
}

/* The predicate: kernels of 3 x 3 to 8 x 8 with 32 input and 32 output channels or
 * more, strides up to 4, in one group; not 1x1, 9 x 9, fewer channels, stride 5, groups
 * or 3-D. */
Test(conv_blocked, predicate) {
    cr_assert(use_blocked(3, 2, 0, 128, 256, 1));
    cr_assert(use_blocked(3, 2, 0, 64, 128, 1));
    cr_assert(use_blocked(3, 1, 0, 512, 32, 1));
    cr_assert(use_blocked(8, 1, 0, 128, 32, 1));
    cr_assert(use_blocked(3, 4, 0, 32, 32, 1));
    cr_assert(!use_blocked(3, 5, 0, 32, 32, 1));
    cr_assert(!use_blocked(9, 1, 0, 128, 32, 1));
    cr_assert(!use_blocked(1, 2, 0, 256, 512, 1));
    cr_assert(!use_blocked(3, 2, 0, 16, 128, 1));
    cr_assert(!use_blocked(3, 2, 0, 128, 16, 1));
    cr_assert(!use_blocked(3, 2, 0, 128, 128, 2));
    cr_assert(!use_blocked(3, 1, 8, 128, 128, 1));
}

/* ---- the compiler's choice ------------------------------------------------------------
 * Only in unit_tests, which links the compiler (ONNXCC_SOURCE_DIR is defined there alone). */
#if defined(ONNXCC_SOURCE_DIR)
#include "helpers.h"
#include "ops/kernel_emit.h"

/* x [1][128][9][9] -> Conv 40 x 128 x 3 x 3, stride 2, pads 1, bias -> Relu: the Conv
 * runs the blocked kernel, and its output [1][40][5][5] is the naive one's. */
Test(conv_blocked, compiler_picks_it) {
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){1, 128, 9, 9});
    Value *w = tb_const_rand(g, "w", 4, (int64_t[]){40, 128, 3, 3}, 7, -1, 1);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){40}, 8, -1, 1);
    Node *conv = tb_node(g, "Conv", "conv", 3, (Value *[]){x, w, b}, 1);
    tb_attr_ints(g, conv, "strides", (int64_t[]){2, 2}, 2);
    tb_attr_ints(g, conv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    Node *relu = tb_node(g, "Relu", "relu", 1, (Value *[]){conv->outputs[0]}, 1);
    tb_output(g, relu->outputs[0]);
    static float wv[40 * 128 * 9];
    float bv[40];
    memcpy(wv, w->data, sizeof wv);
    memcpy(bv, b->data, sizeof bv);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    int convs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Conv") != 0) continue;
        cr_assert(kern_is_packed(n));
        cr_assert_eq(kern_conv_path(n), KERN_CONV_BLOCKED);
        cr_assert_eq(ir_numel(n->inputs[1]), (int64_t)onnxcc_conv_blocked_floats(40, 128, 9));
        convs++;
    }
    cr_assert_eq(convs, 1);
    float *y = NULL;
    int64_t ny = 0;
    cr_assert(tb_run(g, 5, &y, &ny, 1));
    ir_graph_free(g);
    const int64_t in[3] = {9, 9}, k[3] = {3, 3}, s[3] = {2, 2}, one[3] = {1, 1}, pad[3] = {1, 1};
    OnnxccConvGeom geom = conv_geom(2, in, k, s, one, pad, pad);
    cr_assert_eq(ny, 40 * 25);
    float *xv = frand(128 * 81, 0), *want = frand(40 * 25, 0);
    tb_fill(xv, 128 * 81, 5);
    naive_conv(&geom, 1, 128, 40, 1, xv, wv, bv, want);
    for (int64_t i = 0; i < ny; i++) {
        float r = onnxcc_relu(want[i]);
        cr_assert(fabsf(y[i] - r) <= 1e-4f * (1.0f + fabsf(r)), "y[%lld] = %g, not %g",
                  (long long)i, (double)y[i], (double)r);
    }
    free(y), free(xv), free(want);
}
#endif
