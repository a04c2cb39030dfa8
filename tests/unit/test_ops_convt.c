/* test_ops_convt.c: ConvTranspose's emitted code against its folder on shapes that take
 * every branch of the GEMM + col2im path (convtranspose.c): the exact tiling of stride =
 * kernel (stored once, bias added there) with and without bias and groups; overlapping
 * taps added with strides, dilations, pads and output padding, in 1-D, 2-D and 3-D; taps
 * that land before the output (negative pads from output_shape) and past it (pads
 * trimming the ends); and double, which keeps the scatter loops.  Sizes are odd so that
 * no row is a multiple of a vector.  The hand-checked values are in test_ops_more.c. */
#include <criterion/criterion.h>

#include "helpers.h"
#include "ir/graph.h"

enum { E2E_SEED = 29 };

/* The emitted code against the folder: the GEMM sums in another order, so 1e-5 relative. */
static void emit_vs_fold(TbBuild build) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_REL(1e-5) });
}

/* ConvTranspose of input x [dx] with random W [dw] (and B [M] when m > 0). */
static Node *ct_node(Graph *g, bool konst, int rank, const int64_t *dx, const int64_t *dw,
                     int64_t m) {
    Value *x = tb_e2e_input(g, konst, "x", rank, dx, 0);
    Value *w = tb_const_rand(g, "w", rank, dw, 5, -1, 1);
    if (m == 0) return tb_node(g, "ConvTranspose", "ct", 2, (Value *[]){ x, w }, 1);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){ m }, 6, -1, 1);
    return tb_node(g, "ConvTranspose", "ct", 3, (Value *[]){ x, w, b }, 1);
}

/* stride = kernel = 2 (the U-Net's upsampling), 2 images, bias: each output stored once. */
static Node *b_exact_bias(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 4, (int64_t[]){ 2, 5, 3, 7 }, (int64_t[]){ 5, 3, 2, 2 }, 3);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    return n;
}

/* stride = kernel = 3 x 1, 2 groups, no bias. */
static Node *b_exact_groups(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 4, (int64_t[]){ 1, 4, 5, 3 }, (int64_t[]){ 4, 3, 3, 1 }, 0);
    tb_attr_int(g, n, "group", 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 3, 1 }, 2);
    return n;
}

/* 1-D, overlapping taps: stride 2, dilation 2, pads 1 and 2, output padding 1, bias. */
static Node *b_overlap_1d(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 3, (int64_t[]){ 2, 3, 7 }, (int64_t[]){ 3, 2, 3 }, 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2 }, 1);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ 2 }, 1);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 2 }, 2);
    tb_attr_ints(g, n, "output_padding", (int64_t[]){ 1 }, 1);
    return n;
}

/* 3-D: strides 1 x 2 x 1, pads on two axes, 3 groups of one input channel each, bias. */
static Node *b_overlap_3d(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 5, (int64_t[]){ 1, 3, 3, 4, 5 },
                      (int64_t[]){ 3, 2, 2, 3, 2 }, 6);
    tb_attr_int(g, n, "group", 3);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 1, 2, 1 }, 3);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 0, 1, 1, 1, 0, 0 }, 6);
    return n;
}

/* output_shape beyond the full extent: negative begin pads put the taps past the start,
 * and the outputs no tap reaches keep the bias alone. */
static Node *b_output_shape_grows(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 4, (int64_t[]){ 1, 2, 4, 3 }, (int64_t[]){ 2, 2, 3, 3 }, 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    tb_attr_ints(g, n, "output_shape", (int64_t[]){ 12, 10 }, 2);
    return n;
}

/* SAME_LOWER with stride 3 and kernel 4: the taps overlap and the ends are trimmed. */
static Node *b_same_lower(Graph *g, bool konst) {
    Node *n = ct_node(g, konst, 4, (int64_t[]){ 1, 3, 5, 4 }, (int64_t[]){ 3, 2, 4, 4 }, 0);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 3, 3 }, 2);
    tb_attr_str(g, n, "auto_pad", "SAME_LOWER");
    return n;
}

/* Double keeps the scatter loops: x -> Cast(double) -> ConvTranspose -> Cast(float). */
static Node *b_double(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 2, 3, 3 }, 0);
    Node *cx = tb_node(g, "Cast", "cx", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, cx, "to", DT_DOUBLE);
    Node *cw = tb_node(g, "Cast", "cw", 1,
                       (Value *[]){ tb_const_rand(g, "w", 4, (int64_t[]){ 2, 2, 2, 2 }, 5, -1, 1) },
                       1);
    tb_attr_int(g, cw, "to", DT_DOUBLE);
    Node *n = tb_node(g, "ConvTranspose", "ct", 2, (Value *[]){ cx->outputs[0], cw->outputs[0] },
                      1);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 2 }, 2);
    Node *cy = tb_node(g, "Cast", "cy", 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, cy, "to", DT_FLOAT);
    if (konst) tb_fold_chain(g, (Node *[]){ cx, cw, n }, 3);
    return cy;
}

Test(convt_run, exact_tiling_with_bias) { emit_vs_fold(b_exact_bias); }
Test(convt_run, exact_tiling_groups_no_bias) { emit_vs_fold(b_exact_groups); }
Test(convt_run, overlap_1d_dilated_padded) { emit_vs_fold(b_overlap_1d); }
Test(convt_run, overlap_3d_groups) { emit_vs_fold(b_overlap_3d); }
Test(convt_run, output_shape_beyond_taps) { emit_vs_fold(b_output_shape_grows); }
Test(convt_run, same_lower_trimmed) { emit_vs_fold(b_same_lower); }
Test(convt_run, double_scatter_loops) { emit_vs_fold(b_double); }
