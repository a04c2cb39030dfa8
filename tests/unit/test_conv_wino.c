/* test_conv_wino.c: onnxcc_f32_conv_wino (onnxcc_conv_wino.h), 3x3 stride-1 convolutions
 * by Winograd's F(2x2, 3x3) and F(4x4, 3x3), against a naive convolution in double
 * precision: resnet's
 * "same" layers on smaller planes, odd output sizes (tiles that stick out of the output),
 * no padding, unequal and large pads, channel counts that fill no GEMM panel, a plane
 * split into several blocks of tiles, a tile row longer than one input step, batch 2,
 * every activation (PRelu's slope per channel), a scaled bias with a row stride, a
 * residual aliasing y, and 2 threads, whose output must be bitwise the one thread's.
 * The transformed weights are checked against G g G^T computed here independently.
 *
 * Like test_conv_first.c, this file needs only the runtime (rt_conv_wino.c, the GEMM and
 * the thread pool), so that it can be built for each ISA.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_conv_wino.h"
#include "kern_ref.h"

typedef ConvCase Case;

/* One case with every activation, each with and without a residual aliasing y; with a
 * pool, the output must also equal the one-thread output bit for bit.  The bound on
 * |y - want| grows with the terms summed (input channels) rather than with y:
 * F(2x2, 3x3)'s transforms add and subtract a few values of each tile; those of
 * F(4x4, 3x3) multiply by up to 8 and 1/24 and sum 6.  Measured over the cases below
 * (inputs and weights in [-1, 1)): at most 1.2e-7 * C for tile 2, 4.6e-6 * C for tile 4,
 * beside 1e-5 * |want|. */
static void check_case(const Case *cc, OnnxccPool *pool) {
    OnnxccConvGeom g = conv_case_geom(cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    cr_assert(onnxcc_conv_wino_use(&G, cc->C, cc->M, 1));
    const size_t in_pix = prod(g.in, 2), out_pix = prod(g.out, 2), ny = cc->N * cc->M * out_pix;
    float *x = frand(cc->N * cc->C * in_pix, 1), *w = frand(cc->M * cc->C * 9, 2);
    float *raw = frand(ny, 6);
    const int tile = onnxcc_conv_wino_tile(&G);
    float *wu = frand(onnxcc_conv_wino_floats(tile, cc->M, cc->C), 10);
    onnxcc_conv_wino_pack(w, cc->M, cc->C, tile, wu);
    /* Scratch filled with NaN: nothing may be read from it before it is written. */
    size_t scratch_floats = onnxcc_f32_conv_wino_scratch_bytes(&G, cc->C, cc->M) / sizeof(float);
    cr_assert(scratch_floats > 0);
    float *scratch = malloc(scratch_floats * sizeof(float));
    cr_assert(scratch);
    for (size_t i = 0; i < scratch_floats; i++) scratch[i] = NAN;
    naive_conv(&g, cc->N, cc->C, cc->M, 1, x, w, NULL, raw);
    const float per_channel = tile == 4 ? 1e-5f : 5e-7f;
    check_epilogues(onnxcc_f32_conv_wino, cc, x, wu, scratch, raw, per_channel * (float)cc->C,
                    1e-5f, pool);
    free(x), free(w), free(raw), free(wu), free(scratch);
}

static const Case cases[] = {
    /* resnet's "same" 3x3 layers on smaller planes: even and odd outputs. */
    {2, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 32, 32},
    {2, {12, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 64, 48},
    /* No padding (valid): 14 -> 12; a non-square plane 9 x 22 -> 7 x 20. */
    {2, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 16, 16},
    {2, {9, 22}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 24, 40},
    /* Unequal pads and pads of 2 and 3 (rows and columns wholly in the padding). */
    {2, {10, 11}, {3, 3}, {1, 1}, {1, 1}, {2, 0}, {1, 3}, 1, 17, 33},
    {2, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {3, 2}, {3, 2}, 1, 16, 20},
    /* Channels that fill no panel (19 in, 37 out); 4 x 32 output, the fewest rows. */
    {2, {6, 34}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, 19, 37},
    /* Several blocks of tiles (16 + 16 channels: 512 tiles a block, 35 tiles a row). */
    {2, {70, 70}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 16},
    /* A tile row longer than one input step (300 columns: 150 tiles) and odd. */
    {2, {5, 301}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 24},
    /* F(4x4, 3x3) from 16 x 16 outputs on: exact tiles, tiles sticking out (18 x 18 from
     * unequal pads, 33 x 20), two blocks (70 x 70 above), a long row (530: 133 tiles). */
    {2, {16, 16}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 32, 40},
    {2, {19, 18}, {3, 3}, {1, 1}, {1, 1}, {0, 2}, {1, 0}, 1, 20, 17},
    {2, {33, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 24},
    {2, {16, 530}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1, 16, 16},
};

Test(conv_wino, every_case_and_epilogue) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], NULL);
}

/* Two threads share the transforms and the 16 products; the output is the one thread's. */
Test(conv_wino, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    check_case(&cases[1], pool);
    check_case(&cases[4], pool);
    check_case(&cases[7], pool);
    check_case(&cases[10], pool);
    onnxcc_pool_destroy(pool);
}

/* The packed weights for both tile sides: position (a, b) of G g G^T for each (oc, c),
 * with G spelled out here, in the packed-A layout spelled out here (8-row panels), zeros
 * in the padding rows. */
Test(conv_wino, packed_weights) {
    const size_t M = 11, C = 5;
    static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double G4[6][3] = {{0.25, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};
    float *w = frand(M * C * 9, 3);
    const size_t step = (M + 7) / 8 * 8 * C;
    for (int tile = 2; tile <= 4; tile += 2) {
        const size_t n = (size_t)tile + 2;
        const double(*Gm)[3] = tile == 4 ? G4 : G2;
        cr_assert_eq(onnxcc_conv_wino_positions(tile), n * n);
        cr_assert_eq(onnxcc_conv_wino_floats(tile, M, C), n * n * step);
        float *u = frand(n * n * step, 4);
        onnxcc_conv_wino_pack(w, M, C, tile, u);
        for (size_t p = 0; p < n * n; p++)
            for (size_t oc = 0; oc < (M + 7) / 8 * 8; oc++)
                for (size_t c = 0; c < C; c++) {
                    double want = 0;
                    for (int k = 0; k < 3 && oc < M; k++)
                        for (int l = 0; l < 3; l++)
                            want += Gm[p / n][k] * w[(oc * C + c) * 9 + (size_t)(k * 3 + l)] *
                                    Gm[p % n][l];
                    float got = u[p * step + (oc / 8 * C + c) * 8 + oc % 8];
                    cr_assert(fabs(got - want) <= 1e-6, "tile %d p %zu oc %zu c %zu: %g, not %g",
                              tile, p, oc, c, (double)got, want);
                }
        free(u);
    }
    free(w);
}

/* The tile side: 4 from 16 x 16 outputs on, else 2. */
Test(conv_wino, tile_side) {
    const int64_t one[3] = {1, 1, 1}, k3[3] = {3, 3, 1}, pad[3] = {1, 1, 0};
    const int64_t sizes[][2] = {{16, 16}, {56, 56}, {15, 56}, {56, 15}, {14, 14}, {7, 7}};
    const int want[] = {4, 4, 2, 2, 2, 2};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        OnnxccConvGeom g = conv_geom(2, sizes[i], k3, one, one, pad, pad);
        OnnxccGeom3 G;
        onnxcc_geom3(&g, &G);
        cr_assert_eq(onnxcc_conv_wino_tile(&G), want[i], "%lldx%lld", (long long)sizes[i][0],
                     (long long)sizes[i][1]);
    }
}

/* Whether a 2-D (3-D when depth > 0) convolution takes the path. */
static bool use_wino(int64_t kernel, int64_t stride, int64_t dilation, int64_t size,
                     int64_t depth, size_t C, size_t M, size_t groups) {
    const Case cc = {depth ? 3 : 2, {depth ? depth : size, size, size}, {kernel, kernel, kernel},
                     {stride, stride, stride}, {dilation, dilation, dilation}, {1, 1, 1},
                     {1, 1, 1}, 1, C, M};
    OnnxccConvGeom g = conv_case_geom(&cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    return onnxcc_conv_wino_use(&G, C, M, groups);
}

/* The predicate: 3x3 stride 1 with 16 or more channels each way and 128 output pixels;
 * not strides, dilations, other kernels, groups, smaller outputs, fewer channels or 3-D. */
Test(conv_wino, predicate) {
    cr_assert(use_wino(3, 1, 1, 56, 0, 64, 64, 1));
    cr_assert(use_wino(3, 1, 1, 12, 0, 16, 16, 1));     /* 144 pixels */
    cr_assert(!use_wino(3, 1, 1, 11, 0, 16, 16, 1));    /* 121 */
    cr_assert(!use_wino(3, 1, 1, 7, 0, 512, 512, 1));
    cr_assert(!use_wino(3, 2, 1, 56, 0, 64, 64, 1));
    cr_assert(!use_wino(3, 1, 2, 56, 0, 64, 64, 1));
    cr_assert(!use_wino(5, 1, 1, 56, 0, 64, 64, 1));
    cr_assert(!use_wino(3, 1, 1, 56, 0, 64, 64, 2));
    cr_assert(!use_wino(3, 1, 1, 3, 0, 64, 64, 1));
    cr_assert(!use_wino(3, 1, 1, 56, 0, 15, 64, 1));
    cr_assert(!use_wino(3, 1, 1, 56, 0, 64, 15, 1));
    cr_assert(!use_wino(3, 1, 1, 16, 8, 64, 64, 1));
}

/* ---- the compiler's choice ------------------------------------------------------------
 * Only in unit_tests, which links the compiler (ONNXCC_SOURCE_DIR is defined there alone):
 * the per-ISA builds of this file take the kernel tests above. */
#if defined(ONNXCC_SOURCE_DIR)
#include "helpers.h"
#include "ops/kernel_emit.h"
#include "passes/pass.h"

/* x [1][24][13][13] -> Conv 32 x 24 x 3 x 3, pads 1, bias -> Relu, compiled with or
 * without Winograd (--no-winograd) and run (tb_run); checks which kernel the Conv runs
 * and returns the output [1][32][13][13], W and B in w_out and b_out. */
static float *run_wino_conv(bool winograd, float *w_out, float *b_out, int64_t *ny) {
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){1, 24, 13, 13});
    Value *w = tb_const_rand(g, "w", 4, (int64_t[]){32, 24, 3, 3}, 7, -1, 1);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){32}, 8, -1, 1);
    Node *conv = tb_node(g, "Conv", "conv", 3, (Value *[]){x, w, b}, 1);
    tb_attr_ints(g, conv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    Node *relu = tb_node(g, "Relu", "relu", 1, (Value *[]){conv->outputs[0]}, 1);
    tb_output(g, relu->outputs[0]);
    memcpy(w_out, w->data, 32 * 24 * 9 * sizeof(float));
    memcpy(b_out, b->data, 32 * sizeof(float));
    Diag d;
    diag_init(&d);
    PassOptions opt = {.fuse = true, .winograd = winograd, .verify = true};
    cr_assert(pipeline_run(g, &opt, &d));
    diag_free(&d);
    int convs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Conv") != 0) continue;
        cr_assert(kern_is_packed(n));
        cr_assert_eq(kern_conv_path(n), winograd ? KERN_CONV_WINO : KERN_CONV_GEMM);
        if (winograd)
            cr_assert_eq(ir_numel(n->inputs[1]), (int64_t)onnxcc_conv_wino_floats(2, 32, 24));
        convs++;
    }
    cr_assert_eq(convs, 1);
    float *y = NULL;
    cr_assert(tb_run(g, 5, &y, ny, 1));
    ir_graph_free(g);
    return y;
}

/* A 3x3 convolution whose Winograd scratch would pass ONNXCC_WINO_MAX_SCRATCH_FLOATS
 * (512 channels each way on a 4 x 4096 plane: one row of 1024 tiles is 36 x 1024 x 1024
 * floats) takes another kernel. */
Test(conv_wino, huge_scratch_falls_back) {
    const int64_t in[3] = {4, 4096}, k[3] = {3, 3}, one[3] = {1, 1}, pad[3] = {1, 1};
    OnnxccConvGeom geom = conv_geom(2, in, k, one, one, pad, pad);
    OnnxccGeom3 G;
    onnxcc_geom3(&geom, &G);
    cr_assert(onnxcc_conv_wino_use(&G, 512, 512, 1));
    OnnxccWinoPlan pl;
    onnxcc_conv_wino_plan(&G, 512, 512, &pl);
    cr_assert_gt(pl.floats, ONNXCC_WINO_MAX_SCRATCH_FLOATS);
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){1, 512, 4, 4096});
    Value *w = tb_const_rand(g, "w", 4, (int64_t[]){512, 512, 3, 3}, 7, -1, 1);
    Node *conv = tb_node(g, "Conv", "conv", 2, (Value *[]){x, w}, 1);
    tb_attr_ints(g, conv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_output(g, conv->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    diag_free(&d);
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && strcmp(g->nodes[i]->op_type, "Conv") == 0)
            cr_assert_neq(kern_conv_path(g->nodes[i]), KERN_CONV_WINO);
    ir_graph_free(g);
}

/* With and without Winograd, the naive result. */
Test(conv_wino, compiler_picks_it) {
    static float w[32 * 24 * 9], w2[32 * 24 * 9];
    float b[32], b2[32];
    int64_t ny = 0, ny2 = 0;
    float *wino = run_wino_conv(true, w, b, &ny);
    float *direct = run_wino_conv(false, w2, b2, &ny2);
    const int64_t in[3] = {13, 13}, k[3] = {3, 3}, one[3] = {1, 1}, pad[3] = {1, 1};
    OnnxccConvGeom g = conv_geom(2, in, k, one, one, pad, pad);
    const size_t out = 13 * 13;
    cr_assert_eq(ny, (int64_t)(32 * out));
    cr_assert_eq(ny2, ny);
    float *x = frand(24 * 13 * 13, 0), *want = frand(32 * out, 0);
    tb_fill(x, 24 * 13 * 13, 5);
    naive_conv(&g, 1, 24, 32, 1, x, w, b, want);
    for (size_t i = 0; i < 32 * out; i++) {
        float r = onnxcc_relu(want[i]);
        cr_assert(fabsf(wino[i] - r) <= 1e-4f * (1.0f + fabsf(r)), "winograd y[%zu] = %g, not %g",
                  i, (double)wino[i], (double)r);
        cr_assert(fabsf(direct[i] - r) <= 1e-5f * (1.0f + fabsf(r)), "direct y[%zu] = %g, not %g",
                  i, (double)direct[i], (double)r);
    }
    free(wino), free(direct), free(x), free(want);
}
#endif
