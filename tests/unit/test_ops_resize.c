/* test_ops_resize.c: the image-geometry ops (Resize, Upsample, GridSample, AffineGrid,
 * Col2Im, CenterCropPad, DepthToSpace, SpaceToDepth): shapes and error paths of infer,
 * folded values checked against values derived by hand from the spec, and the emitted
 * code run end to end against the folder on the same data (GridSample, which does not
 * fold, against values derived by hand). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

static Value *fconst(Graph *g, const char *name, int rank, const int64_t *dims,
                     const double *vals) {
    return tb_value(g, name, DT_FLOAT, rank, dims, vals);
}

static Value *iconst(Graph *g, const char *name, int count, const double *vals) {
    return tb_value(g, name, DT_INT64, 1, (int64_t[]){ count }, vals);
}

/* A Resize-19 node on x with scales or sizes (the other NULL). */
static Node *resize_node(Graph *g, Value *x, Value *roi, Value *scales, Value *sizes) {
    return tb_op_node(g, "Resize", 19, 4, (Value *[]){ x, roi, scales, sizes }, 1);
}

/* ---- Resize: shapes and errors ---- */

Test(resize, output_shape_from_scales_floors) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 3, 5, 7 }, NULL);
    Value *s = fconst(g, "s", 1, (int64_t[]){ 4 }, (double[]){ 1, 1, 0.6, 2.5 });
    Node *n = resize_node(g, x, NULL, s, NULL);
    Diag d;
    diag_init(&d);
    cr_assert(n->op->infer(g, n, &d));
    diag_free(&d);
    /* floor(5 * 0.6) = 3, floor(7 * 2.5) = 17 */
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 4, (int64_t[]){ 1, 3, 3, 17 }, NULL, TB_EXACT);
    ir_graph_free(g);
}

Test(resize, sizes_keep_aspect_ratio) {
    /* [4, 6] to sizes (7, 8): not_larger scale min(7/4, 8/6) = 4/3 -> (5, 8);
     * not_smaller max = 7/4 -> (7, 11) (rounded half up: 10.5 -> 11) */
    const char *policy[] = { "not_larger", "not_smaller" };
    const int64_t want[2][2] = { { 5, 8 }, { 7, 11 } };
    for (int i = 0; i < 2; i++) {
        Graph *g = ir_graph_new(0);
        Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 4, 6 }, NULL);
        Value *sz = iconst(g, "sz", 2, (double[]){ 7, 8 });
        Node *n = resize_node(g, x, NULL, NULL, sz);
        tb_attr_str(g, n, "keep_aspect_ratio_policy", policy[i]);
        Diag d;
        diag_init(&d);
        cr_assert(n->op->infer(g, n, &d));
        diag_free(&d);
        tb_expect(n->outputs[0], TB_ANY_DTYPE, 2, want[i], NULL, TB_EXACT);
        ir_graph_free(g);
    }
    /* not_smaller stretches the other axis by the largest scale: too large is refused */
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 1, 2000000 }, NULL);
    Value *sz = iconst(g, "sz", 2, (double[]){ 1e15, 1 });
    Node *n = resize_node(g, x, NULL, NULL, sz);
    tb_attr_str(g, n, "keep_aspect_ratio_policy", "not_smaller");
    tb_infer_err(g, n, "too large");
    ir_graph_free(g);
}

Test(resize, errors) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, NULL);
    Value *s = fconst(g, "s", 1, (int64_t[]){ 2 }, (double[]){ 2, 2 });
    Value *neg = fconst(g, "neg", 1, (int64_t[]){ 2 }, (double[]){ 2, -1 });
    Value *short_s = fconst(g, "short", 1, (int64_t[]){ 1 }, (double[]){ 2 });
    Value *sz = iconst(g, "sz", 2, (double[]){ 4, 4 });
    tb_fold_err(g, resize_node(g, x, NULL, s, sz), "both given");
    tb_fold_err(g, resize_node(g, x, NULL, NULL, NULL), "neither scales nor sizes");
    tb_fold_err(g, resize_node(g, x, NULL, neg, NULL), "must be positive");
    tb_fold_err(g, resize_node(g, x, NULL, short_s, NULL), "scales has 1 values, expected 2");
    Node *n = resize_node(g, x, NULL, s, NULL);
    tb_attr_str(g, n, "mode", "area");
    tb_fold_err(g, n, "attribute 'mode' is 'area'");
    n = resize_node(g, x, NULL, s, NULL);
    tb_attr_int(g, n, "antialias", 1);
    tb_fold_err(g, n, "antialias applies to modes linear and cubic");
    n = resize_node(g, x, NULL, s, NULL);
    tb_attr_str(g, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    tb_fold_err(g, n, "needs input roi");
    n = resize_node(g, x, NULL, s, NULL);
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1, 1 }, 2);
    tb_fold_err(g, n, "names axis 1 twice");
    n = tb_op_node(g, "Resize", 10, 2, (Value *[]){ x, s }, 1);
    tb_attr_str(g, n, "mode", "cubic");
    tb_fold_err(g, n, "needs Resize opset 11");
    ir_graph_free(g);
}

/* ---- Resize: folded values ---- */

Test(resize, nearest_half_pixel_round_prefer_floor) {
    /* scale 2, half_pixel: x = j / 2 - 0.25 = -0.25, 0.25, 0.75, 1.25 -> 0, 0, 1, 1 */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, 4 });
    Value *s = fconst(g, "s", 1, (int64_t[]){ 2 }, (double[]){ 2, 2 });
    Node *n = resize_node(g, x, NULL, s, NULL);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 2, (int64_t[]){ 4, 4 },
              (double[]){ 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, TB_EXACT);
    ir_graph_free(g);
}

Test(resize, linear_align_corners) {
    /* 2 -> 5, align_corners: x = j / 4 -> 0, 2.5, 5, 7.5, 10 */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 1, (int64_t[]){ 2 }, (double[]){ 0, 10 });
    Value *sz = iconst(g, "sz", 1, (double[]){ 5 });
    Node *n = resize_node(g, x, NULL, NULL, sz);
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "align_corners");
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 5 }, (double[]){ 0, 2.5, 5, 7.5, 10 },
              TB_REL(1e-6));
    ir_graph_free(g);
}

Test(resize, integers_round_half_to_even) {
    /* uint8 [1, 2] to 4, asymmetric: x = j / 2 -> 1, 1.5 (rounds to 2), 2, 2.5 -> edge 2 */
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_UINT8, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 });
    Value *x0 = tb_value(g, "x0", DT_UINT8, 1, (int64_t[]){ 2 }, (double[]){ 0, 1 });
    Value *sz = iconst(g, "sz", 1, (double[]){ 4 });
    Node *n = resize_node(g, x, NULL, NULL, sz);
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "asymmetric");
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 4 }, (double[]){ 1, 2, 2, 2 }, TB_EXACT);
    n = resize_node(g, x0, NULL, NULL, sz);   /* 0.5 rounds to 0 */
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "asymmetric");
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 4 }, (double[]){ 0, 0, 1, 1 }, TB_EXACT);
    ir_graph_free(g);
}

Test(resize, cubic_keeps_constants) {
    /* the cubic weights sum to 1: a constant stays constant */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 1, (int64_t[]){ 4 }, (double[]){ 3, 3, 3, 3 });
    Value *s = fconst(g, "s", 1, (int64_t[]){ 1 }, (double[]){ 1.75 });
    Node *n = resize_node(g, x, NULL, s, NULL);
    tb_attr_str(g, n, "mode", "cubic");
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 7 }, (double[]){ 3, 3, 3, 3, 3, 3, 3 },
              TB_REL(1e-6));
    ir_graph_free(g);
}

Test(resize, tf_crop_and_resize_extrapolates) {
    /* roi [0.5, 1.5] of 3 elements, 3 outputs: x = 1 + j -> 1, 2, 3 (outside: 7) */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 1, (int64_t[]){ 3 }, (double[]){ 10, 20, 30 });
    Value *roi = fconst(g, "roi", 1, (int64_t[]){ 2 }, (double[]){ 0.5, 1.5 });
    Value *sz = iconst(g, "sz", 1, (double[]){ 3 });
    Node *n = resize_node(g, x, roi, NULL, sz);
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    tb_attr_float(g, n, "extrapolation_value", 7);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 3 }, (double[]){ 20, 30, 7 },
              TB_REL(1e-6));
    ir_graph_free(g);
}

Test(resize, upsample_opset7_attribute_scales) {
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 2, (int64_t[]){ 1, 2 }, (double[]){ 5, 6 });
    Node *n = tb_op_node(g, "Upsample", 7, 1, (Value *[]){ x }, 1);
    /* the IR has no setter for a floats attribute: add it by hand */
    const float sc[] = { 2, 3 };
    n->attrs = arena_grow(&g->arena, n->attrs, (size_t)n->n_attrs, (size_t)n->n_attrs + 1,
                          sizeof *n->attrs);
    cr_assert_not_null(n->attrs);
    Attr *fa = &n->attrs[n->n_attrs++];
    fa->name = "scales";
    fa->type = ATTR_FLOATS;
    fa->floats = arena_array(&g->arena, 2, sizeof(float));
    cr_assert_not_null(fa->floats);
    memcpy(fa->floats, sc, sizeof sc);
    fa->count = 2;
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 2, (int64_t[]){ 2, 6 },
              (double[]){ 5, 5, 5, 6, 6, 6, 5, 5, 5, 6, 6, 6 }, TB_EXACT);
    ir_graph_free(g);
}

/* ---- the emitted code against the folder ---- */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: the output must agree to 1e-5 relative. */
static void emit_vs_fold(TbBuild build) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_REL(1e-5) });
}

static Node *b_resize_linear_antialias(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 9, 7 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 4 }, (float[]){ 1, 1, 0.45f, 0.6f });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_int(g, n, "antialias", 1);
    return n;
}

static Node *b_resize_cubic_exclude(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 5, 6 }, 0);
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ 8, 4 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, NULL, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "cubic");
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1, 2 }, 2);
    tb_attr_int(g, n, "exclude_outside", 1);
    tb_attr_float(g, n, "cubic_coeff_a", -0.5f);
    tb_attr_str(g, n, "coordinate_transformation_mode", "pytorch_half_pixel");
    return n;
}

static Node *b_resize_nearest_axes(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 4, 5, 3 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 2 }, (float[]){ 1.5f, 2.7f });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    tb_attr_ints(g, n, "axes", (int64_t[]){ 2, 1 }, 2);
    tb_attr_str(g, n, "nearest_mode", "ceil");
    tb_attr_str(g, n, "coordinate_transformation_mode", "asymmetric");
    return n;
}

static Node *b_resize_crop(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 5, 6 }, 0);
    Value *roi = tb_const(g, "roi", 1, (int64_t[]){ 4 }, (float[]){ -0.2f, 0.1f, 0.9f, 1.3f });
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ 4, 7 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, roi, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    tb_attr_float(g, n, "extrapolation_value", -3);
    return n;
}

/* The separable passes over the last two axes (rz_separable): odd sizes, each axis
 * alone, nearest row copies and repeats, a roi inside the input, and other element
 * types through Casts. */

/* Linear on both axes to sizes that are not multiples of a vector: [5][7] -> [9][13]. */
static Node *b_resize_sep_linear(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 5, 7 }, 0);
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ 9, 13 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, NULL, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_ints(g, n, "axes", (int64_t[]){ 2, 3 }, 2);
    return n;
}

/* Cubic on the rows only (the vertical pass reads the input): [6][5] -> [10][5]. */
static Node *b_resize_sep_cubic_rows(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 2, 6, 5 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 4 }, (float[]){ 1, 1, 1.7f, 1 });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "cubic");
    return n;
}

/* Linear on the columns only (the horizontal pass writes the output), align_corners:
 * [3][4][5] -> [3][4][11]. */
static Node *b_resize_sep_linear_cols(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 4, 5 }, 0);
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 1 }, (int64_t[]){ 11 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, NULL, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_ints(g, n, "axes", (int64_t[]){ 2 }, 1);
    tb_attr_str(g, n, "coordinate_transformation_mode", "align_corners");
    return n;
}

/* Antialiased cubic shrinking (more than RZ_SUM_TAPS taps: the per-tap passes) on a rank-2
 * input (one plane): [13][11] -> [5][4]. */
static Node *b_resize_sep_cubic_antialias(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 13, 11 }, 0);
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ 5, 4 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, NULL, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "cubic");
    tb_attr_int(g, n, "antialias", 1);
    return n;
}

/* Nearest on both axes, enlarging (rows repeat: copied from the previous output row) by
 * 2.2 x 1.6: [5][7] -> [11][11]. */
static Node *b_resize_sep_nearest(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 3, 5, 7 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 4 }, (float[]){ 1, 1, 2.2f, 1.6f });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "nearest_mode", "round_prefer_ceil");
    return n;
}

/* Nearest on the rows only, shrinking then enlarging: whole rows memcpy'd. */
static Node *b_resize_sep_nearest_rows(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 7, 3 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 3 }, (float[]){ 1, 0.6f, 1 });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    Node *m = tb_node(g, "Resize", "rz2", 3, (Value *[]){ n->outputs[0], NULL,
                      tb_const(g, "s2", 1, (int64_t[]){ 3 }, (float[]){ 1, 2.5f, 1 }) }, 1);
    m->opset = 19;
    if (konst) tb_fold_chain(g, (Node *[]){ n }, 1);
    return m;
}

/* tf_crop_and_resize with a roi inside the input: nothing is extrapolated, so the
 * separable passes apply. */
static Node *b_resize_sep_crop_inside(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 6, 8 }, 0);
    Value *roi = tb_const(g, "roi", 1, (int64_t[]){ 4 }, (float[]){ 0.1f, 0.2f, 0.8f, 0.9f });
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ 7, 5 });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, roi, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1, 2 }, 2);
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_str(g, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    return n;
}

/* x -> Cast(t) -> Resize (mode, both last axes x 1.5) -> Cast(float). */
static Node *resize_typed(Graph *g, bool konst, DType t, const char *mode) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 2, 5, 6 }, 0);
    Node *c = tb_node(g, "Cast", "cx", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, c, "to", t);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 4 }, (float[]){ 1, 1, 1.5f, 1.5f });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ c->outputs[0], NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", mode);
    Node *cy = tb_node(g, "Cast", "cy", 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, cy, "to", DT_FLOAT);
    if (konst) tb_fold_chain(g, (Node *[]){ c, n }, 2);
    return cy;
}

static Node *b_resize_sep_double(Graph *g, bool konst) {
    return resize_typed(g, konst, DT_DOUBLE, "linear");
}

static Node *b_resize_sep_half_nearest(Graph *g, bool konst) {
    return resize_typed(g, konst, DT_FLOAT16, "nearest");
}

/* Whole enlargement factors: the interior columns phase by phase (rz_period), the edges
 * through the tables.  Linear x 2 on an odd width, cubic x 3 (4 taps), nearest x 2, and
 * align_corners x 2, whose columns do not repeat (the tables only). */
static Node *resize_whole(Graph *g, bool konst, const char *mode, const char *coord,
                          float sh, float sw) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 2, 5, 9 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 4 }, (float[]){ 1, 1, sh, sw });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ x, NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", mode);
    tb_attr_str(g, n, "coordinate_transformation_mode", coord);
    return n;
}

static Node *b_resize_x2_linear(Graph *g, bool konst) {
    return resize_whole(g, konst, "linear", "half_pixel", 2, 2);
}

static Node *b_resize_x3_cubic(Graph *g, bool konst) {
    return resize_whole(g, konst, "cubic", "pytorch_half_pixel", 1, 3);
}

static Node *b_resize_x2_nearest(Graph *g, bool konst) {
    return resize_whole(g, konst, "nearest", "asymmetric", 2, 2);
}

static Node *b_resize_x2_align_corners(Graph *g, bool konst) {
    return resize_whole(g, konst, "linear", "align_corners", 2, 2);
}

/* Double with a whole factor: the weights written as double literals. */
static Node *b_resize_x2_double(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 3, 9 }, 0);
    Node *c = tb_node(g, "Cast", "cx", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, c, "to", DT_DOUBLE);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 3 }, (float[]){ 1, 2, 4 });
    Node *n = tb_node(g, "Resize", "rz", 3, (Value *[]){ c->outputs[0], NULL, s }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "cubic");
    Node *cy = tb_node(g, "Cast", "cy", 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, cy, "to", DT_FLOAT);
    if (konst) tb_fold_chain(g, (Node *[]){ c, n }, 2);
    return cy;
}

/* Shrinking the rows without antialias: combining rows first is cheaper (vertical pass
 * first, rz_vertical_first), then the columns: [20][6] -> [3][9], and [24][8] -> [2][16]
 * whose columns double (the periodic interior after the vertical pass). */
static Node *resize_rows_first(Graph *g, bool konst, int64_t ih, int64_t iw, int64_t oh,
                               int64_t ow) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, ih, iw }, 0);
    Value *sz = tb_const_i64(g, "sz", 1, (int64_t[]){ 2 }, (int64_t[]){ oh, ow });
    Node *n = tb_node(g, "Resize", "rz", 4, (Value *[]){ x, NULL, NULL, sz }, 1);
    n->opset = 19;
    tb_attr_str(g, n, "mode", "linear");
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1, 2 }, 2);
    return n;
}

static Node *b_resize_rows_first(Graph *g, bool konst) {
    return resize_rows_first(g, konst, 20, 6, 3, 9);
}

static Node *b_resize_rows_first_x2(Graph *g, bool konst) {
    return resize_rows_first(g, konst, 24, 8, 2, 16);
}

Test(resize_run, vertical_first) { emit_vs_fold(b_resize_rows_first); }
Test(resize_run, vertical_first_whole_factor) { emit_vs_fold(b_resize_rows_first_x2); }
Test(resize_run, whole_factor_linear_x2) { emit_vs_fold(b_resize_x2_linear); }
Test(resize_run, whole_factor_cubic_x3) { emit_vs_fold(b_resize_x3_cubic); }
Test(resize_run, whole_factor_nearest_x2) { emit_vs_fold(b_resize_x2_nearest); }
Test(resize_run, whole_factor_align_corners) { emit_vs_fold(b_resize_x2_align_corners); }
Test(resize_run, whole_factor_double) { emit_vs_fold(b_resize_x2_double); }
Test(resize_run, separable_linear_odd_sizes) { emit_vs_fold(b_resize_sep_linear); }
Test(resize_run, separable_cubic_rows_only) { emit_vs_fold(b_resize_sep_cubic_rows); }
Test(resize_run, separable_linear_columns_only) { emit_vs_fold(b_resize_sep_linear_cols); }
Test(resize_run, separable_cubic_antialias) { emit_vs_fold(b_resize_sep_cubic_antialias); }
Test(resize_run, separable_nearest) { emit_vs_fold(b_resize_sep_nearest); }
Test(resize_run, separable_nearest_rows_only) { emit_vs_fold(b_resize_sep_nearest_rows); }
Test(resize_run, separable_crop_inside) { emit_vs_fold(b_resize_sep_crop_inside); }
Test(resize_run, separable_double) { emit_vs_fold(b_resize_sep_double); }
Test(resize_run, separable_float16_nearest) { emit_vs_fold(b_resize_sep_half_nearest); }

Test(resize_run, linear_antialias) { emit_vs_fold(b_resize_linear_antialias); }
Test(resize_run, cubic_exclude_outside_axes) { emit_vs_fold(b_resize_cubic_exclude); }
Test(resize_run, nearest_axes_ceil) { emit_vs_fold(b_resize_nearest_axes); }
Test(resize_run, tf_crop_and_resize) { emit_vs_fold(b_resize_crop); }

/* ---- GridSample (emitted code against hand values) ---- */

/* X = [[1, 2], [3, 4]] sampled at the given (x, y) points with the attributes given. */
static void grid_case(const char *mode, const char *pad, int align, int points,
                      const float *grid, const double *want) {
    Graph *g = tb_graph();
    Value *x = tb_const(g, "x", 4, (int64_t[]){ 1, 1, 2, 2 }, (float[]){ 1, 2, 3, 4 });
    Value *gr = tb_const(g, "grid", 4, (int64_t[]){ 1, 1, points, 2 }, grid);
    Node *n = tb_node(g, "GridSample", "gs", 2, (Value *[]){ x, gr }, 1);
    n->opset = 20;
    tb_attr_str(g, n, "mode", mode);
    tb_attr_str(g, n, "padding_mode", pad);
    tb_attr_int(g, n, "align_corners", align);
    tb_output(g, n->outputs[0]);
    tb_pipeline_ok(g);
    float *out[1] = { 0 };
    int64_t out_n[1] = { 0 };
    cr_assert(tb_run(g, E2E_SEED, out, out_n, 1));
    cr_assert_eq(out_n[0], points);
    for (int i = 0; i < points; i++)
        cr_assert(fabs(out[0][i] - want[i]) <= 1e-5, "%s/%s point %d: %.9g, expected %.9g",
                  mode, pad, i, out[0][i], want[i]);
    free(out[0]);
    ir_graph_free(g);
}

Test(gridsample, linear_align_corners_zeros) {
    /* align_corners: -1 and 1 are the pixel centres; (0, 0) is the mean; (-3, -3) is
     * outside: zeros */
    grid_case("linear", "zeros", 1, 4, (float[]){ -1, -1, 1, 1, 0, 0, -3, -3 },
              (double[]){ 1, 4, 2.5, 0 });
}

Test(gridsample, border_and_reflection) {
    /* (2, 2) clamps to the last pixel; x = 1.5 -> 1.25 reflects to 0.75 on row 0:
     * 1 * 0.25 + 2 * 0.75 = 1.75 */
    grid_case("linear", "border", 1, 1, (float[]){ 2, 2 }, (double[]){ 4 });
    grid_case("linear", "reflection", 1, 1, (float[]){ 1.5f, -1 }, (double[]){ 1.75 });
}

Test(gridsample, nearest_half_to_even) {
    /* align_corners 0: x = ((g + 1) * 2 - 1) / 2; g = 0 -> 0.5 rounds to 0 (even) */
    grid_case("nearest", "zeros", 0, 2, (float[]){ 0, 0, 0.6f, 0.6f }, (double[]){ 1, 4 });
}

Test(gridsample, errors) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 2 }, NULL);
    Value *bad = tb_value(g, "bad", DT_FLOAT, 4, (int64_t[]){ 1, 3, 3, 3 }, NULL);
    Value *grid = tb_value(g, "grid", DT_FLOAT, 4, (int64_t[]){ 1, 3, 3, 2 }, NULL);
    tb_fold_err(g, tb_op_node(g, "GridSample", 20, 2, (Value *[]){ x, bad }, 1), "does not fit X");
    Node *n = tb_op_node(g, "GridSample", 20, 2, (Value *[]){ x, grid }, 1);
    tb_attr_str(g, n, "mode", "bilinear");
    tb_fold_err(g, n, "expected nearest, linear or cubic");
    n = tb_op_node(g, "GridSample", 16, 2, (Value *[]){ x, grid }, 1);
    tb_attr_str(g, n, "padding_mode", "wrap");
    tb_fold_err(g, n, "padding_mode");
    ir_graph_free(g);
}

/* ---- AffineGrid ---- */

Test(affinegrid, identity_grid) {
    /* size (1, 1, 2, 3), align_corners 0: x = -2/3, 0, 2/3; y = -0.5, 0.5 */
    Graph *g = ir_graph_new(0);
    Value *th = fconst(g, "th", 3, (int64_t[]){ 1, 2, 3 }, (double[]){ 1, 0, 0, 0, 1, 0 });
    Value *size = iconst(g, "size", 4, (double[]){ 1, 1, 2, 3 });
    Node *n = tb_op_node(g, "AffineGrid", 20, 2, (Value *[]){ th, size }, 1);
    tb_fold_ok(g, n);
    const double t = 2.0 / 3;
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 4, (int64_t[]){ 1, 2, 3, 2 },
              (double[]){ -t, -0.5, 0, -0.5, t, -0.5, -t, 0.5, 0, 0.5, t, 0.5 }, TB_REL(1e-6));
    Value *bad = iconst(g, "bad", 5, (double[]){ 1, 1, 2, 3, 4 });
    tb_fold_err(g, tb_op_node(g, "AffineGrid", 20, 2, (Value *[]){ th, bad }, 1),
                "does not fit size");
    ir_graph_free(g);
}

static Node *b_affine3d(Graph *g, bool konst) {
    Value *th = tb_e2e_input(g, konst, "th", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *size = tb_const_i64(g, "size", 1, (int64_t[]){ 5 }, (int64_t[]){ 2, 3, 2, 3, 4 });
    Node *n = tb_node(g, "AffineGrid", "ag", 2, (Value *[]){ th, size }, 1);
    n->opset = 20;
    tb_attr_int(g, n, "align_corners", 1);
    return n;
}

Test(affinegrid_run, three_d_align_corners) { emit_vs_fold(b_affine3d); }

/* ---- Col2Im ---- */

Test(col2im, one_d_overlap) {
    /* image 3, block 2: offset 0 at positions 0, 1; offset 1 at 1, 2 */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 3, (int64_t[]){ 1, 2, 2 }, (double[]){ 1, 2, 10, 20 });
    Value *img = iconst(g, "img", 1, (double[]){ 3 });
    Value *blk = iconst(g, "blk", 1, (double[]){ 2 });
    Node *n = tb_op_node(g, "Col2Im", 18, 3, (Value *[]){ x, img, blk }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 3, (int64_t[]){ 1, 1, 3 }, (double[]){ 1, 12, 20 },
              TB_EXACT);
    Value *bad = iconst(g, "bad", 1, (double[]){ 4 });
    tb_fold_err(g, tb_op_node(g, "Col2Im", 18, 3, (Value *[]){ x, bad, blk }, 1),
                "number of block positions 3");
    ir_graph_free(g);
}

static Node *b_col2im(Graph *g, bool konst) {
    /* image 6 x 7, block 2 x 3, strides (2, 1), dilations (1, 2), pads (1, 0, 1, 2):
     * positions (6 + 2 - 1 - 1) / 2 + 1 = 4 and (7 + 2 - 4 - 1) / 1 + 1 = 5 */
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 12, 20 }, 0);
    Value *img = tb_const_i64(g, "img", 1, (int64_t[]){ 2 }, (int64_t[]){ 6, 7 });
    Value *blk = tb_const_i64(g, "blk", 1, (int64_t[]){ 2 }, (int64_t[]){ 2, 3 });
    Node *n = tb_node(g, "Col2Im", "c2i", 3, (Value *[]){ x, img, blk }, 1);
    n->opset = 18;
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ 1, 2 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 0, 1, 2 }, 4);
    return n;
}

Test(col2im_run, strided_dilated_padded) { emit_vs_fold(b_col2im); }

/* ---- CenterCropPad ---- */

Test(centercroppad, crop_and_pad_1d) {
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 1, (int64_t[]){ 5 }, (double[]){ 1, 2, 3, 4, 5 });
    Value *two = iconst(g, "two", 1, (double[]){ 2 });
    Value *eight = iconst(g, "eight", 1, (double[]){ 8 });
    Node *n = tb_op_node(g, "CenterCropPad", 18, 2, (Value *[]){ x, two }, 1);
    tb_fold_ok(g, n);   /* (5 - 2) / 2 = 1 cropped at the start, 2 at the end */
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 2 }, (double[]){ 2, 3 }, TB_EXACT);
    n = tb_op_node(g, "CenterCropPad", 18, 2, (Value *[]){ x, eight }, 1);
    tb_fold_ok(g, n);   /* 1 padded at the start, 2 at the end */
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 1, (int64_t[]){ 8 },
              (double[]){ 0, 1, 2, 3, 4, 5, 0, 0 }, TB_EXACT);
    tb_fold_err(g, tb_op_node(g, "CenterCropPad", 18, 2, (Value *[]){ x, iconst(g, "b", 2,
                (double[]){ 1, 1 }) }, 1), "shape has 2 values, expected 1");
    ir_graph_free(g);
}

static Node *b_ccp(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 7, 3 }, 0);
    Value *sh = tb_const_i64(g, "sh", 1, (int64_t[]){ 2 }, (int64_t[]){ 4, 6 });
    Node *n = tb_node(g, "CenterCropPad", "ccp", 2, (Value *[]){ x, sh }, 1);
    n->opset = 18;
    tb_attr_ints(g, n, "axes", (int64_t[]){ -2, 0 }, 2);
    return n;
}

Test(centercroppad_run, crop_one_axis_pad_another) { emit_vs_fold(b_ccp); }

/* ---- DepthToSpace, SpaceToDepth ---- */

Test(depthspace, modes_by_hand) {
    /* x [1, 8, 1, 1] = 0..7, blocksize 2 -> [1, 2, 2, 2]:
     * DCR y[c][i][j] = x[(2i + j) * 2 + c], CRD y[c][i][j] = x[4c + 2i + j] */
    Graph *g = ir_graph_new(0);
    Value *x = fconst(g, "x", 4, (int64_t[]){ 1, 8, 1, 1 }, (double[]){ 0, 1, 2, 3, 4, 5, 6, 7 });
    Node *n = tb_op_node(g, "DepthToSpace", 13, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "blocksize", 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 4, (int64_t[]){ 1, 2, 2, 2 },
              (double[]){ 0, 2, 4, 6, 1, 3, 5, 7 },
              TB_EXACT);
    n = tb_op_node(g, "DepthToSpace", 13, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "blocksize", 2);
    tb_attr_str(g, n, "mode", "CRD");
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], TB_ANY_DTYPE, 4, (int64_t[]){ 1, 2, 2, 2 },
              (double[]){ 0, 1, 2, 3, 4, 5, 6, 7 },
              TB_EXACT);
    /* SpaceToDepth undoes DepthToSpace in the same mode */
    Node *back = tb_op_node(g, "SpaceToDepth", 13, 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, back, "blocksize", 2);
    tb_attr_str(g, back, "mode", "CRD");
    tb_fold_ok(g, back);
    tb_expect(back->outputs[0], TB_ANY_DTYPE, 4, (int64_t[]){ 1, 8, 1, 1 },
              (double[]){ 0, 1, 2, 3, 4, 5, 6, 7 }, TB_EXACT);
    n = tb_op_node(g, "DepthToSpace", 13, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "blocksize", 3);
    tb_fold_err(g, n, "not a multiple of blocksize");
    ir_graph_free(g);
}

static Node *b_s2d(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 6, 9 }, 0);
    Node *n = tb_node(g, "SpaceToDepth", "s2d", 1, (Value *[]){ x }, 1);
    n->opset = 13;
    tb_attr_int(g, n, "blocksize", 3);
    return n;
}

static Node *b_d2s(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 8, 3, 5 }, 0);
    Node *n = tb_node(g, "DepthToSpace", "d2s", 1, (Value *[]){ x }, 1);
    n->opset = 13;
    tb_attr_int(g, n, "blocksize", 2);
    tb_attr_str(g, n, "mode", "CRD");
    return n;
}

Test(depthspace_run, space_to_depth) { emit_vs_fold(b_s2d); }
Test(depthspace_run, depth_to_space_crd) { emit_vs_fold(b_d2s); }
