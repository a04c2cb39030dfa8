/* test_conv_first.c: onnxcc_f32_conv_first (onnxcc_conv_first.h), the direct convolution
 * for few input channels, against a naive convolution in double precision: the first
 * layers of squeezenet (3x3/2, no padding), resnet (7x7/2, pad 3) and efficientnet /
 * mobilenet (3x3/2, pad 1) on smaller planes, stride 1, 3 and 4, unequal pads, dilation,
 * 1-D, batch 2, 1 to 4 input channels, output channels that do not fill a block of 8,
 * widths that do not fill a vector, every activation (PRelu's slope per channel), a
 * scaled bias with a row stride, a residual aliasing y, and 2 threads, whose output must
 * be bitwise the one thread's.  The weights are packed here by the documented layout.
 *
 * Like test_conv_small.c, this file needs only the runtime (rt_conv_first.c and the
 * thread pool), so that it can be built for each ISA.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_conv_first.h"
#include "kern_ref.h"

typedef ConvCase Case;

/* w[M][taps] in blocks of 8 output channels (kern_ref.h's pack_blocked), after checking
 * that the runtime's size and index functions describe the same layout. */
static float *pack_weights(const Case *cc, const float *w, size_t taps) {
    size_t blocks = (cc->M + 7) / 8;
    cr_assert_eq(onnxcc_conv_first_floats(cc->M, taps), blocks * 8 * taps);
    for (size_t oc = 0; oc < cc->M; oc++)
        for (size_t t = 0; t < taps; t++)
            cr_assert_eq(onnxcc_conv_first_index(taps, oc, t), oc / 8 * taps * 8 + t * 8 + oc % 8);
    return pack_blocked(w, cc->M, taps, ONNXCC_CONV_FIRST_OC);
}

/* One case with every activation, each with and without a residual aliasing y; with a
 * pool, the output must also equal the one-thread output bit for bit. */
static void check_case(const Case *cc, OnnxccPool *pool) {
    OnnxccConvGeom g = conv_case_geom(cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    cr_assert(onnxcc_conv_first_use(&G, cc->C, cc->M, 1));
    const size_t in_pix = prod(g.in, cc->ns), out_pix = prod(g.out, cc->ns);
    const size_t taps = onnxcc_conv_first_taps(&G, cc->C), ny = cc->N * cc->M * out_pix;
    cr_assert_eq(taps, cc->C * prod(g.kernel, cc->ns));
    float *x = frand(cc->N * cc->C * in_pix, 1), *w = frand(cc->M * taps, 2);
    float *raw = frand(ny, 6), *wf = pack_weights(cc, w, taps);
    /* Scratch filled with NaN: the padding must come from the kernel, not from it. */
    size_t scratch_floats = onnxcc_f32_conv_first_scratch_bytes(&g, cc->C) / sizeof(float);
    float *scratch = malloc((scratch_floats ? scratch_floats : 1) * sizeof(float));
    cr_assert(scratch);
    for (size_t i = 0; i < scratch_floats; i++) scratch[i] = NAN;
    naive_conv(&g, cc->N, cc->C, cc->M, 1, x, w, NULL, raw);
    check_epilogues(onnxcc_f32_conv_first, cc, x, wf, scratch, raw, 1e-4f, 1e-4f, pool);
    free(x), free(w), free(raw), free(wf), free(scratch);
}

static const Case cases[] = {
    /* squeezenet's 3 -> 64, 3x3/2 without padding: 37 -> 18 (a ragged last vector). */
    {2, {37, 37}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 3, 64},
    /* resnet's 7x7/2 pad 3: 38 -> 19; efficientnet's 3x3/2 pad 1 with 32 and 16
     * channels: 34 -> 17, 33 -> 17. */
    {2, {38, 38}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, 1, 3, 64},
    {2, {34, 34}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2, 3, 32},
    {2, {33, 33}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, 3, 16},
    /* Stride 1 "same", one channel, 5 outputs (one partial block); 4 channels. */
    {2, {13, 19}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 2, 1, 5},
    {2, {20, 40}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1, 4, 24},
    /* Unequal strides and pads, dilation, stride 3 and a 4x4/4 patch embedding. */
    {2, {17, 23}, {3, 2}, {1, 2}, {1, 1}, {2, 0}, {1, 1}, 1, 2, 17},
    {2, {21, 21}, {3, 3}, {1, 1}, {2, 3}, {1, 2}, {2, 1}, 1, 3, 9},
    {2, {25, 31}, {5, 5}, {3, 3}, {1, 1}, {2, 1}, {0, 2}, 1, 2, 10},
    {2, {32, 36}, {4, 4}, {4, 4}, {1, 1}, {0, 0}, {0, 0}, 1, 3, 8},
    /* Outputs one pixel wide; an input one pixel wide, whose odd column phase lies
     * wholly in the padding; 1-D. */
    {2, {9, 3}, {3, 3}, {2, 1}, {1, 1}, {0, 0}, {0, 0}, 1, 3, 11},
    {2, {6, 1}, {3, 3}, {2, 2}, {1, 1}, {1, 2}, {1, 2}, 1, 2, 3},
    {1, {50}, {7}, {2}, {1}, {3}, {3}, 2, 1, 12},
};

Test(conv_first, every_case_and_epilogue) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], NULL);
}

/* Two threads share the phase planes and the tiles; the output is the one thread's. */
Test(conv_first, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    check_case(&cases[1], pool);
    check_case(&cases[2], pool);
    check_case(&cases[6], pool);
    onnxcc_pool_destroy(pool);
}

/* Whether a 2-D (3-D when depth > 0) convolution of C input channels takes the path. */
static bool use_first(int64_t kernel, int64_t stride, int64_t depth, size_t C, size_t groups) {
    const Case cc = {depth ? 3 : 2, {depth ? depth : 64, 64, 64}, {kernel, kernel, kernel},
                     {stride, stride, stride}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, 1, C, 64};
    OnnxccConvGeom g = conv_case_geom(&cc);
    OnnxccGeom3 G;
    onnxcc_geom3(&g, &G);
    return onnxcc_conv_first_use(&G, C, 64, groups);
}

/* The predicate: first layers take the path; more than 4 input channels, groups, more
 * than 256 taps, strides above 4 and 3-D convolutions do not. */
Test(conv_first, predicate) {
    cr_assert(use_first(7, 2, 0, 3, 1));
    cr_assert(use_first(3, 1, 0, 4, 1));
    cr_assert(use_first(9, 1, 0, 3, 1));     /* 243 taps */
    cr_assert(!use_first(9, 1, 0, 4, 1));    /* 324 taps */
    cr_assert(!use_first(3, 2, 0, 5, 1));
    cr_assert(!use_first(3, 1, 0, 4, 2));
    cr_assert(!use_first(8, 8, 0, 3, 1));
    cr_assert(!use_first(3, 1, 8, 3, 1));
}

/* ---- the compiler's choice ------------------------------------------------------------
 * Only in unit_tests, which links the compiler (ONNXCC_SOURCE_DIR is defined there alone):
 * the per-ISA builds of this file take the kernel tests above. */
#if defined(ONNXCC_SOURCE_DIR)
#include "helpers.h"
#include "ops/kernel_emit.h"

/* x [1][3][21][40] -> Conv 10 x 3 x 3 x 3, stride 2, pads 1, bias -> Relu, compiled with
 * or without fusion and run (tb_run); checks that the Conv runs the direct kernel and
 * returns the output [1][10][11][20] (*ny floats), W and B in w_out and b_out. */
static float *run_first_conv(bool fuse, float *w_out, float *b_out, int64_t *ny) {
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){1, 3, 21, 40});
    Value *w = tb_const_rand(g, "w", 4, (int64_t[]){10, 3, 3, 3}, 7, -1, 1);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){10}, 8, -1, 1);
    Node *conv = tb_node(g, "Conv", "conv", 3, (Value *[]){x, w, b}, 1);
    tb_attr_ints(g, conv, "strides", (int64_t[]){2, 2}, 2);
    tb_attr_ints(g, conv, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    Node *relu = tb_node(g, "Relu", "relu", 1, (Value *[]){conv->outputs[0]}, 1);
    tb_output(g, relu->outputs[0]);
    memcpy(w_out, w->data, 270 * sizeof(float));
    memcpy(b_out, b->data, 10 * sizeof(float));
    Diag d;
    cr_assert(tb_pipeline(g, fuse, &d));
    diag_free(&d);
    cr_assert_eq(tb_count_live(g, "Relu"), fuse ? 0 : 1);
    int convs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Conv") != 0) continue;
        cr_assert(kern_is_packed(n));
        cr_assert_eq(kern_conv_path(n), KERN_CONV_FIRST);
        cr_assert_eq(ir_numel(n->inputs[1]), (int64_t)onnxcc_conv_first_floats(10, 27));
        convs++;
    }
    cr_assert_eq(convs, 1);
    float *y = NULL;
    cr_assert(tb_run(g, 5, &y, ny, 1));
    ir_graph_free(g);
    return y;
}

/* Fused and unfused builds both run onnxcc_f32_conv_first and give the naive result. */
Test(conv_first, compiler_picks_it) {
    float w[270], b[10], w2[270], b2[10];
    int64_t ny = 0, ny2 = 0;
    float *fused = run_first_conv(true, w, b, &ny);
    float *unfused = run_first_conv(false, w2, b2, &ny2);
    const int64_t in[3] = {21, 40}, k[3] = {3, 3}, s[3] = {2, 2}, one[3] = {1, 1};
    const int64_t pad[3] = {1, 1};
    OnnxccConvGeom g = conv_geom(2, in, k, s, one, pad, pad);
    const size_t out = (size_t)(g.out[0] * g.out[1]);
    cr_assert_eq(ny, (int64_t)(10 * out));
    cr_assert_eq(ny2, ny);
    float *x = frand(3 * 21 * 40, 0), *want = frand(10 * out, 0);
    tb_fill(x, 3 * 21 * 40, 5);
    naive_conv(&g, 1, 3, 10, 1, x, w, b, want);
    for (size_t i = 0; i < 10 * out; i++) {
        float r = onnxcc_relu(want[i]);
        cr_assert(fabsf(fused[i] - r) <= 1e-5f * (1.0f + fabsf(r)), "fused y[%zu] = %g, not %g",
                  i, (double)fused[i], (double)r);
        cr_assert(fabsf(unfused[i] - r) <= 1e-5f * (1.0f + fabsf(r)),
                  "unfused y[%zu] = %g, not %g", i, (double)unfused[i], (double)r);
    }
    free(fused), free(unfused), free(x), free(want);
}
#endif
