/* test_ops_fold.c: inference and constant folding of the elementwise, softmax, shape and
 * data-movement ops, called directly on one-node graphs: output shapes and values are
 * checked exactly, and the error paths give one clear message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/emitter.h"
#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

extern const OpDef op_add, op_sub, op_mul, op_div, op_mod, op_bitshift, op_prelu, op_relu, op_clip, op_softmax,
    op_logsoftmax, op_hardmax;
extern const OpDef op_reshape, op_slice, op_squeeze, op_unsqueeze, op_gather, op_concat;
extern const OpDef op_transpose, op_cast, op_shape, op_constantofshape, op_pad, op_flatten;
extern const OpDef op_constant, op_dropout, op_leakyrelu, op_castlike, op_size;

static Node *mk(Graph *g, const OpDef *op, int opset, int n_in, Value *const *ins, int n_out) {
    Node *n = tb_op_node(g, op->name, opset, n_in, ins, n_out);
    cr_assert_eq(n->op, op);
    return n;
}

/* ---- binary --------------------------------------------------------------------------- */

Test(opsfold_binary, add_broadcast_row) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 3 }, db[] = { 3 };
    double a[] = { 1, 2, 3, 4, 5, 6 }, b[] = { 10, 20, 30 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 2, da, a), tb_value(g, "b", DT_FLOAT, 1, db, b) };
    Node *n = mk(g, &op_add, 17, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 11, 22, 33, 14, 25, 36 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, da, want, TB_EXACT);
    ir_graph_free(g);
}

/* Mod: fmod 0 takes the divisor's sign (Python's %), fmod 1 the dividend's (C's), for
 * integers and floats; a zero float remainder gets the divisor's sign under fmod 0. */
Test(opsfold_binary, mod_signs_for_both_fmod_values) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 4 };
    double a[] = { 7, -7, 7, -7 }, b[] = { 3, 3, -3, -3 };
    Value *in[] = { tb_value(g, "a", DT_INT32, 1, d, a), tb_value(g, "b", DT_INT32, 1, d, b) };
    Node *n = mk(g, &op_mod, 13, 2, in, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT32, 1, d, (double[]){ 1, 2, -2, -1 }, TB_EXACT);
    Node *m = mk(g, &op_mod, 13, 2, in, 1);
    tb_attr_int(g, m, "fmod", 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_INT32, 1, d, (double[]){ 1, -1, 1, -1 }, TB_EXACT);
    double fa[] = { 5.5, -5.5, 6, -0.0 }, fb[] = { 2, 2, -3, 2 };
    Value *fin[] = { tb_value(g, "fa", DT_FLOAT, 1, d, fa), tb_value(g, "fb", DT_FLOAT, 1, d, fb) };
    Node *f0 = mk(g, &op_mod, 28, 2, fin, 1);
    tb_fold_ok(g, f0);
    tb_expect(f0->outputs[0], DT_FLOAT, 1, d, (double[]){ 1.5, 0.5, 0, 0 }, TB_EXACT);
    const float *y0 = f0->outputs[0]->data;
    cr_assert(signbit(y0[2]) && !signbit(y0[3]), "zero remainders take the divisor's sign");
    Node *f1 = mk(g, &op_mod, 13, 2, fin, 1);
    tb_attr_int(g, f1, "fmod", 1);
    tb_fold_ok(g, f1);
    tb_expect(f1->outputs[0], DT_FLOAT, 1, d, (double[]){ 1.5, -1.5, 0, 0 }, TB_EXACT);
    ir_graph_free(g);
}

/* BitShift: logical on unsigned types, arithmetic right shifts on signed ones, and for a
 * negative shift or one by the width or more only the sign fill. */
Test(opsfold_binary, bitshift_both_directions_and_edges) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 5 };
    double x[] = { 1, 200, 255, 3, 129 }, q[] = { 1, 2, 8, 9, 7 };
    Value *in[] = { tb_value(g, "x", DT_UINT8, 1, d, x), tb_value(g, "q", DT_UINT8, 1, d, q) };
    Node *l = mk(g, &op_bitshift, 11, 2, in, 1);
    tb_attr_str(g, l, "direction", "LEFT");
    tb_fold_ok(g, l);
    tb_expect(l->outputs[0], DT_UINT8, 1, d, (double[]){ 2, 32, 0, 0, 128 }, TB_EXACT);
    Node *r = mk(g, &op_bitshift, 11, 2, in, 1);
    tb_attr_str(g, r, "direction", "RIGHT");
    tb_fold_ok(g, r);
    tb_expect(r->outputs[0], DT_UINT8, 1, d, (double[]){ 0, 50, 0, 0, 1 }, TB_EXACT);
    double sx[] = { -8, -8, 8, -1, 100 }, sq[] = { 1, -1, 40, 3, 1 };
    Value *sin[] = { tb_value(g, "sx", DT_INT32, 1, d, sx), tb_value(g, "sq", DT_INT32, 1, d, sq) };
    Node *sr = mk(g, &op_bitshift, 28, 2, sin, 1);
    tb_attr_str(g, sr, "direction", "RIGHT");
    tb_fold_ok(g, sr);
    tb_expect(sr->outputs[0], DT_INT32, 1, d, (double[]){ -4, -1, 0, -1, 50 }, TB_EXACT);
    Node *sl = mk(g, &op_bitshift, 28, 2, sin, 1);
    tb_attr_str(g, sl, "direction", "LEFT");
    tb_fold_ok(g, sl);
    tb_expect(sl->outputs[0], DT_INT32, 1, d, (double[]){ -16, 0, 0, -8, 200 }, TB_EXACT);
    Node *bad = mk(g, &op_bitshift, 11, 2, in, 1);
    tb_attr_str(g, bad, "direction", "UP");
    tb_fold_err(g, bad, "LEFT or RIGHT");
    ir_graph_free(g);
}

Test(opsfold_binary, mod_by_zero_is_refused_in_folding) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 1 };
    Value *in[] = { tb_value(g, "a", DT_INT64, 1, d, (double[]){ 5 }),
                    tb_value(g, "b", DT_INT64, 1, d, (double[]){ 0 }) };
    tb_fold_err(g, mk(g, &op_mod, 13, 2, in, 1), "division by zero");
    ir_graph_free(g);
}

Test(opsfold_binary, mul_outer_broadcast) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 1 }, db[] = { 1, 3 }, dy[] = { 2, 3 };
    double a[] = { 2, 3 }, b[] = { 1, 10, 100 };
    Value *in[] = { tb_value(g, "a", DT_INT64, 2, da, a), tb_value(g, "b", DT_INT64, 2, db, b) };
    Node *n = mk(g, &op_mul, 17, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 2, 20, 200, 3, 30, 300 };
    tb_expect(n->outputs[0], DT_INT64, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_binary, sub_scalar_minus_tensor) {
    Graph *g = ir_graph_new(0);
    int64_t db[] = { 3 };
    double a[] = { 1 }, b[] = { 1, 2, 3 };
    Value *in[] = { tb_value(g, "a", DT_DOUBLE, 0, NULL, a), tb_value(g, "b", DT_DOUBLE, 1, db,
                                                                      b) };
    Node *n = mk(g, &op_sub, 17, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 0, -1, -2 };
    tb_expect(n->outputs[0], DT_DOUBLE, 1, db, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_binary, int_div_truncates_toward_zero) {
    Graph *g = ir_graph_new(0);
    int64_t d4[] = { 4 };
    double a[] = { -7, 7, -7, 7 }, b[] = { 2, -2, -2, 2 };
    Value *in[] = { tb_value(g, "a", DT_INT32, 1, d4, a), tb_value(g, "b", DT_INT32, 1, d4, b) };
    Node *n = mk(g, &op_div, 17, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { -3, -3, 3, 3 };
    tb_expect(n->outputs[0], DT_INT32, 1, d4, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_binary, int_div_by_zero_is_an_error) {
    Graph *g = ir_graph_new(0);
    int64_t d2[] = { 2 };
    double a[] = { 1, 2 }, b[] = { 1, 0 };
    Value *in[] = { tb_value(g, "a", DT_INT64, 1, d2, a), tb_value(g, "b", DT_INT64, 1, d2, b) };
    tb_fold_err(g, mk(g, &op_div, 17, 2, in, 1), "division by zero");
    ir_graph_free(g);
}

Test(opsfold_binary, incompatible_broadcast) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 3 }, db[] = { 4 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 2, da, NULL), tb_value(g, "b", DT_FLOAT, 1, db,
                                                                      NULL) };
    tb_fold_err(g, mk(g, &op_add, 17, 2, in, 1), "cannot be broadcast");
    ir_graph_free(g);
}

Test(opsfold_binary, mixed_types_rejected) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 1, d, NULL), tb_value(g, "b", DT_INT64, 1, d,
                                                                     NULL) };
    tb_fold_err(g, mk(g, &op_add, 17, 2, in, 1), "input types differ");
    ir_graph_free(g);
}

Test(opsfold_binary, prelu_slope_per_channel) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 }, ds[] = { 2 };
    double x[] = { -1, -2, 3, -4 }, s[] = { 0.5, 0.25 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x), tb_value(g, "s", DT_FLOAT, 1, ds, s) };
    Node *n = mk(g, &op_prelu, 16, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { -0.5, -0.5, 3, -1 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dx, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_binary, prelu_slope_must_broadcast_to_x) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2 }, ds[] = { 3, 2 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, dx, NULL), tb_value(g, "s", DT_FLOAT, 2, ds,
                                                                      NULL) };
    tb_fold_err(g, mk(g, &op_prelu, 16, 2, in, 1), "does not broadcast");
    ir_graph_free(g);
}

/* ---- unary and softmax ------------------------------------------------------------- */

Test(opsfold_unary, relu_and_leaky) {
    Graph *g = ir_graph_new(0);
    int64_t d3[] = { 3 };
    double x[] = { -2, 0, 3 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d3, x) };
    Node *n = mk(g, &op_relu, 14, 1, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 0, 0, 3 };
    tb_expect(n->outputs[0], DT_FLOAT, 1, d3, want, TB_EXACT);
    Node *l = mk(g, &op_leakyrelu, 16, 1, in, 1);
    Diag d;
    diag_init(&d);
    cr_assert(ir_attr_set_float(g, l, "alpha", 0.5f, &d));
    diag_free(&d);
    tb_fold_ok(g, l);
    double want_l[] = { -1, 0, 3 };
    tb_expect(l->outputs[0], DT_FLOAT, 1, d3, want_l, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_unary, clip_inputs_and_min_above_max) {
    Graph *g = ir_graph_new(0);
    int64_t d4[] = { 4 };
    double x[] = { -5, 0, 2, 9 }, lo[] = { -1 }, hi[] = { 3 };
    Value *in[] = { tb_value(g, "x", DT_INT32, 1, d4, x), tb_value(g, "lo", DT_INT32, 0, NULL, lo),
                    tb_value(g, "hi", DT_INT32, 0, NULL, hi) };
    Node *n = mk(g, &op_clip, 13, 3, in, 1);
    tb_fold_ok(g, n);
    double want[] = { -1, 0, 2, 3 };
    tb_expect(n->outputs[0], DT_INT32, 1, d4, want, TB_EXACT);
    /* min > max: everything becomes max */
    Value *in2[] = { in[0], in[2], in[1] };
    Node *m = mk(g, &op_clip, 13, 3, in2, 1);
    tb_fold_ok(g, m);
    double want2[] = { -1, -1, -1, -1 };
    tb_expect(m->outputs[0], DT_INT32, 1, d4, want2, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_unary, softmax_rows_sum_to_one) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 3 };
    double x[] = { 1, 2, 3, 1000, 1000, 1000 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, d, x) };
    Node *n = mk(g, &op_softmax, 13, 1, in, 1);
    tb_fold_ok(g, n);
    const Value *y = n->outputs[0];
    double e1 = exp(-2.0), e2 = exp(-1.0), s = e1 + e2 + 1;
    cr_assert_float_eq(ou_get_f64(y, 0), e1 / s, 1e-6);
    cr_assert_float_eq(ou_get_f64(y, 2), 1 / s, 1e-6);
    for (int i = 3; i < 6; i++) cr_assert_float_eq(ou_get_f64(y, i), 1.0 / 3, 1e-6);
    ir_graph_free(g);
}

/* LogSoftmax is log(softmax), computed as x - max - log(sum(exp(x - max))); Hardmax
 * marks the first maximum of each row. */
Test(opsfold_unary, logsoftmax_and_hardmax) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 3 };
    double x[] = { 1, 2, 3, 5, 5, -1 };
    Value *in[] = { tb_value(g, "x", DT_DOUBLE, 2, d, x) };
    Node *n = mk(g, &op_logsoftmax, 13, 1, in, 1);
    tb_fold_ok(g, n);
    const double s = log(exp(-2.0) + exp(-1.0) + 1);
    cr_assert_float_eq(ou_get_f64(n->outputs[0], 0), -2 - s, 1e-12);
    cr_assert_float_eq(ou_get_f64(n->outputs[0], 2), -s, 1e-12);
    Node *h = mk(g, &op_hardmax, 13, 1, in, 1);
    tb_fold_ok(g, h);
    tb_expect(h->outputs[0], DT_DOUBLE, 2, d, (double[]){ 0, 0, 1, 1, 0, 0 }, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_unary, softmax_axis_out_of_range) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 3 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, d, NULL) };
    Node *n = mk(g, &op_softmax, 13, 1, in, 1);
    tb_attr_int(g, n, "axis", 2);
    tb_fold_err(g, n, "out of range");
    ir_graph_free(g);
}

/* ---- reshape family ----------------------------------------------------------------- */

Test(opsfold_reshape, zero_copies_and_minus_one_infers) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 }, ds[] = { 2 }, dy[] = { 2, 12 };
    double x[24], s[] = { 0, -1 };
    for (int i = 0; i < 24; i++) x[i] = i;
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, dx, x), tb_value(g, "s", DT_INT64, 1, ds, s) };
    Node *n = mk(g, &op_reshape, 14, 2, in, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, x, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_reshape, allowzero_keeps_zero) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 0, 3 }, ds[] = { 2 }, dy[] = { 3, 0 };
    double s[] = { 3, 0 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "s", DT_INT64, 1, ds, s) };
    in[0]->data = NULL;
    Node *n = mk(g, &op_reshape, 14, 2, in, 1);
    tb_attr_int(g, n, "allowzero", 1);
    Diag d;
    diag_init(&d);
    cr_assert(n->op->infer(g, n, &d));
    cr_assert_eq(n->outputs[0]->rank, 2);
    cr_assert_eq(n->outputs[0]->dims[0], dy[0]);
    cr_assert_eq(n->outputs[0]->dims[1], dy[1]);
    diag_free(&d);
    ir_graph_free(g);
}

Test(opsfold_reshape, two_minus_ones) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, ds[] = { 2 };
    double s[] = { -1, -1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "s", DT_INT64, 1, ds, s) };
    tb_fold_err(g, mk(g, &op_reshape, 14, 2, in, 1), "more than one -1");
    ir_graph_free(g);
}

Test(opsfold_reshape, element_count_mismatch) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, ds[] = { 1 };
    double s[] = { 5 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "s", DT_INT64, 1, ds, s) };
    tb_fold_err(g, mk(g, &op_reshape, 14, 2, in, 1), "cannot reshape");
    ir_graph_free(g);
}

Test(opsfold_reshape, flatten_negative_axis) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 }, dy[] = { 6, 4 };
    double x[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, dx, x) };
    Node *n = mk(g, &op_flatten, 13, 1, in, 1);
    tb_attr_int(g, n, "axis", -1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, x, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_reshape, squeeze_and_unsqueeze_negative_axes) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3, 1, 2 }, da[] = { 1 }, dy[] = { 3, 2 };
    double x[] = { 1, 2, 3, 4, 5, 6 }, axes[] = { -2 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, dx, x), tb_value(g, "a", DT_INT64, 1, da, axes) };
    Node *n = mk(g, &op_squeeze, 13, 2, in, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, x, TB_EXACT);

    int64_t da2[] = { 2 }, dz[] = { 1, 3, 2, 1 };
    double axes2[] = { -1, 0 };
    Value *in2[] = { n->outputs[0], tb_value(g, "a2", DT_INT64, 1, da2, axes2) };
    Node *u = mk(g, &op_unsqueeze, 13, 2, in2, 1);
    tb_fold_ok(g, u);
    tb_expect(u->outputs[0], DT_FLOAT, 4, dz, x, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_reshape, squeeze_without_axes_and_bad_axis) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 1, 2, 1 }, dy[] = { 2 }, da[] = { 1 };
    double x[] = { 7, 8 }, axes[] = { 1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, dx, x) };
    Node *n = mk(g, &op_squeeze, 13, 1, in, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, dy, x, TB_EXACT);
    Value *in2[] = { in[0], tb_value(g, "a", DT_INT64, 1, da, axes) };
    tb_fold_err(g, mk(g, &op_squeeze, 13, 2, in2, 1), "cannot squeeze axis 1");
    ir_graph_free(g);
}

Test(opsfold_reshape, squeeze_attribute_before_13) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 1 }, dy[] = { 2 }, axes[] = { -1 };
    double x[] = { 7, 8 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x) };
    Node *n = mk(g, &op_squeeze, 11, 1, in, 1);
    tb_attr_ints(g, n, "axes", axes, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, dy, x, TB_EXACT);
    ir_graph_free(g);
}

/* ---- slice -------------------------------------------------------------------------- */

static Node *slice_node(Graph *g, Value *x, int n_par, const double *starts,
                        const double *ends, const double *axes, const double *steps, int64_t k) {
    int64_t dk[] = { k };
    Value *in[5] = { x, tb_value(g, "st", DT_INT64, 1, dk, starts),
                     tb_value(g, "en", DT_INT64, 1, dk, ends), axes ? tb_value(g, "ax", DT_INT64,
                                                                               1, dk,
                                                                           axes) : NULL,
                     steps ? tb_value(g, "sp", DT_INT64, 1, dk, steps) : NULL };
    return mk(g, &op_slice, 13, n_par, in, 1);
}

Test(opsfold_slice, negative_step_with_clamping) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 10 }, dy[] = { 4 };
    double x[10];
    for (int i = 0; i < 10; i++) x[i] = i;
    double st[] = { -1 }, en[] = { -1000 }, ax[] = { 0 }, sp[] = { -3 };
    Node *n = slice_node(g, tb_value(g, "x", DT_INT64, 1, dx, x), 5, st, en, ax, sp, 1);
    tb_fold_ok(g, n);
    double want[] = { 9, 6, 3, 0 };
    tb_expect(n->outputs[0], DT_INT64, 1, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_slice, ends_past_the_end_and_negative_axes) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 4 }, dy[] = { 2, 2 };
    double x[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    double st[] = { 2 }, en[] = { 1e15 }, ax[] = { -1 };
    Node *n = slice_node(g, tb_value(g, "x", DT_FLOAT, 2, dx, x), 4, st, en, ax, NULL, 1);
    tb_fold_ok(g, n);
    double want[] = { 2, 3, 6, 7 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_slice, empty_when_start_after_end) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 5 }, dy[] = { 0 };
    double x[] = { 0, 1, 2, 3, 4 }, st[] = { 4 }, en[] = { 2 };
    Node *n = slice_node(g, tb_value(g, "x", DT_FLOAT, 1, dx, x), 3, st, en, NULL, NULL, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, dy, x, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_slice, zero_step_is_an_error) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 5 };
    double st[] = { 0 }, en[] = { 2 }, ax[] = { 0 }, sp[] = { 0 };
    Node *n = slice_node(g, tb_value(g, "x", DT_FLOAT, 1, dx, NULL), 5, st, en, ax, sp, 1);
    tb_fold_err(g, n, "step of axis 0 is 0");
    ir_graph_free(g);
}

/* ---- gather, concat, transpose ------------------------------------------------------ */

Test(opsfold_gather, negative_indices) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3, 2 }, di[] = { 2 }, dy[] = { 2, 2 };
    double x[] = { 0, 1, 2, 3, 4, 5 }, idx[] = { -1, 0 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x), tb_value(g, "i", DT_INT64, 1, di, idx) };
    Node *n = mk(g, &op_gather, 13, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 4, 5, 0, 1 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_gather, scalar_index_axis_1) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3, 2 }, dy[] = { 3 };
    double x[] = { 0, 1, 2, 3, 4, 5 }, idx[] = { 1 };
    Value *in[] = { tb_value(g, "x", DT_INT64, 2, dx, x), tb_value(g, "i", DT_INT32, 0, NULL,
                                                                   idx) };
    Node *n = mk(g, &op_gather, 13, 2, in, 1);
    tb_attr_int(g, n, "axis", -1);
    tb_fold_ok(g, n);
    double want[] = { 1, 3, 5 };
    tb_expect(n->outputs[0], DT_INT64, 1, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_gather, index_out_of_range) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3 }, di[] = { 1 };
    double x[] = { 0, 1, 2 }, idx[] = { 3 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, dx, x), tb_value(g, "i", DT_INT64, 1, di, idx) };
    tb_fold_err(g, mk(g, &op_gather, 13, 2, in, 1), "out of range");
    ir_graph_free(g);
}

Test(opsfold_concat, negative_axis) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 1 }, db[] = { 2, 2 }, dy[] = { 2, 3 };
    double a[] = { 1, 2 }, b[] = { 3, 4, 5, 6 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 2, da, a), tb_value(g, "b", DT_FLOAT, 2, db, b) };
    Node *n = mk(g, &op_concat, 13, 2, in, 1);
    tb_attr_int(g, n, "axis", -1);
    tb_fold_ok(g, n);
    double want[] = { 1, 3, 4, 2, 5, 6 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_concat, axis_out_of_range_and_mismatch) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 1 }, db[] = { 3, 1 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 2, da, NULL), tb_value(g, "b", DT_FLOAT, 2, db,
                                                                      NULL) };
    Node *n = mk(g, &op_concat, 13, 2, in, 1);
    tb_attr_int(g, n, "axis", 2);
    tb_fold_err(g, n, "axis 2 is out of range");
    Node *m = mk(g, &op_concat, 13, 2, in, 1);
    tb_attr_int(g, m, "axis", 1);
    tb_fold_err(g, m, "does not match");
    ir_graph_free(g);
}

Test(opsfold_transpose, perm_and_default) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, dy[] = { 3, 2 };
    double x[] = { 0, 1, 2, 3, 4, 5 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x) };
    Node *n = mk(g, &op_transpose, 13, 1, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 0, 3, 1, 4, 2, 5 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);

    int64_t d3[] = { 2, 3, 4 }, dz[] = { 3, 4, 2 }, perm[] = { 1, 2, 0 };
    double x3[24], want3[24];
    for (int i = 0; i < 24; i++) x3[i] = i;
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++) want3[(j * 4 + k) * 2 + i] = x3[(i * 3 + j) * 4 + k];
    Value *in3[] = { tb_value(g, "x3", DT_FLOAT, 3, d3, x3) };
    Node *m = mk(g, &op_transpose, 13, 1, in3, 1);
    tb_attr_ints(g, m, "perm", perm, 3);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 3, dz, want3, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_transpose, bad_perm) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, perm[] = { 0, 0 }, perm3[] = { 0, 1, 2 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL) };
    Node *n = mk(g, &op_transpose, 13, 1, in, 1);
    tb_attr_ints(g, n, "perm", perm, 2);
    tb_fold_err(g, n, "not a permutation");
    Node *m = mk(g, &op_transpose, 13, 1, in, 1);
    tb_attr_ints(g, m, "perm", perm3, 3);
    tb_fold_err(g, m, "perm has 3 entries");
    ir_graph_free(g);
}

/* ---- cast, shape, constants --------------------------------------------------------- */

Test(opsfold_cast, float_to_int64_to_float) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 4 };
    double x[] = { 1.7, -2.5, 3.0, -0.5 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, x) };
    Node *n = mk(g, &op_cast, 13, 1, in, 1);
    tb_attr_int(g, n, "to", DT_INT64);
    tb_fold_ok(g, n);
    double want[] = { 1, -2, 3, 0 };
    tb_expect(n->outputs[0], DT_INT64, 1, d, want, TB_EXACT);
    Value *in2[] = { n->outputs[0] };
    Node *m = mk(g, &op_cast, 13, 1, in2, 1);
    tb_attr_int(g, m, "to", DT_FLOAT);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 1, d, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_cast, float16_round_trip) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 5 };
    double x[] = { 1.5, 65504, 1e6, 1.0 / 16777216, 0.1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, x) };
    Node *n = mk(g, &op_cast, 13, 1, in, 1);
    tb_attr_int(g, n, "to", DT_FLOAT16);
    tb_fold_ok(g, n);
    const uint16_t *h = n->outputs[0]->data;
    cr_assert_eq(h[0], 0x3e00);
    cr_assert_eq(h[1], 0x7bff);
    cr_assert_eq(h[2], 0x7c00);     /* overflow: inf */
    cr_assert_eq(h[3], 0x0001);     /* smallest subnormal */
    cr_assert_eq(h[4], 0x2e66);     /* 0.1 rounds to 0.0999755859375 */
    cr_assert_eq(ou_half_to_float(0x2e66), 0.0999755859375f);
    ir_graph_free(g);
}

/* CastLike converts to its second input's element type (not its data). */
Test(opsfold_cast, castlike_takes_the_second_inputs_type) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 4 }, one[] = { 1 };
    double x[] = { 1.7, -2.5, 3.0, -0.5 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, x), tb_value(g, "like", DT_INT32, 1, one,
                                                              (double[]){ 99 }) };
    Node *n = mk(g, &op_castlike, 15, 2, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 1, -2, 3, 0 };
    tb_expect(n->outputs[0], DT_INT32, 1, d, want, TB_EXACT);
    ir_graph_free(g);
}

/* Size: the element count as an int64 scalar, known from the shape alone. */
Test(opsfold_shape, size_of_a_tensor_and_of_an_empty_one) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 3, 4 }, e[] = { 3, 0 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, d, NULL) };
    Node *n = mk(g, &op_size, 13, 1, in, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT64, 0, NULL, (double[]){ 24 }, TB_EXACT);
    Value *in2[] = { tb_value(g, "z", DT_FLOAT, 2, e, NULL) };
    Node *m = mk(g, &op_size, 13, 1, in2, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_INT64, 0, NULL, (double[]){ 0 }, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_cast, bad_target_type) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, NULL) };
    Node *n = mk(g, &op_cast, 13, 1, in, 1);
    tb_attr_int(g, n, "to", DT_STRING);
    tb_fold_err(g, n, "cannot cast to");
    ir_graph_free(g);
}

Test(opsfold_shape, start_and_end) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4, 5 }, dy[] = { 2 }, dall[] = { 4 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 4, dx, NULL) };
    Node *n = mk(g, &op_shape, 15, 1, in, 1);
    tb_attr_int(g, n, "start", 1);
    tb_attr_int(g, n, "end", -1);
    tb_fold_ok(g, n);
    double want[] = { 3, 4 };
    tb_expect(n->outputs[0], DT_INT64, 1, dy, want, TB_EXACT);
    Node *m = mk(g, &op_shape, 15, 1, in, 1);
    tb_fold_ok(g, m);
    double all[] = { 2, 3, 4, 5 };
    tb_expect(m->outputs[0], DT_INT64, 1, dall, all, TB_EXACT);
    cr_assert(op_shape.fold_on_shapes);
    ir_graph_free(g);
}

Test(opsfold_shape, constant_of_shape) {
    Graph *g = ir_graph_new(0);
    int64_t ds[] = { 2 }, dy[] = { 2, 3 }, d1[] = { 1 };
    double s[] = { 2, 3 }, seven[] = { 7 };
    Value *in[] = { tb_value(g, "s", DT_INT64, 1, ds, s) };
    Node *n = mk(g, &op_constantofshape, 20, 1, in, 1);
    tb_attr_tensor(g, n, "value", tb_value(g, "v", DT_INT32, 1, d1, seven));
    tb_fold_ok(g, n);
    double want[] = { 7, 7, 7, 7, 7, 7 };
    tb_expect(n->outputs[0], DT_INT32, 2, dy, want, TB_EXACT);
    Node *m = mk(g, &op_constantofshape, 20, 1, in, 1);
    tb_fold_ok(g, m);
    double zeros[6] = { 0 };
    tb_expect(m->outputs[0], DT_FLOAT, 2, dy, zeros, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_shape, constant_value_ints) {
    Graph *g = ir_graph_new(0);
    int64_t v[] = { 4, -5 }, d[] = { 2 };
    Node *n = mk(g, &op_constant, 13, 0, NULL, 1);
    tb_attr_ints(g, n, "value_ints", v, 2);
    tb_fold_ok(g, n);
    double want[] = { 4, -5 };
    tb_expect(n->outputs[0], DT_INT64, 1, d, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_shape, dropout_mask_is_true) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 3 };
    double x[] = { 1, 2, 3 }, ones[] = { 1, 1, 1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, x) };
    Node *n = mk(g, &op_dropout, 13, 1, in, 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, d, x, TB_EXACT);
    tb_expect(n->outputs[1], DT_BOOL, 1, d, ones, TB_EXACT);
    double t[] = { 1 };
    Value *in2[] = { in[0], NULL, tb_value(g, "t", DT_BOOL, 0, NULL, t) };
    tb_fold_err(g, mk(g, &op_dropout, 13, 3, in2, 1), "training");
    ir_graph_free(g);
}

/* ---- pad ---------------------------------------------------------------------------- */

static const Value *pad1d(Graph *g, const char *mode, int opset) {
    int64_t dx[] = { 3 }, dp[] = { 2 };
    double x[] = { 1, 2, 3 }, pads[] = { 2, 2 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, dx, x), tb_value(g, "p", DT_INT64, 1, dp, pads) };
    Node *n = mk(g, &op_pad, opset, 2, in, 1);
    Diag d;
    diag_init(&d);
    Attr *a = arena_array(&g->arena, 1, sizeof(Attr));
    a->name = "mode";
    a->type = ATTR_STRING;
    a->s = mode;
    a->s_len = strlen(mode);
    n->attrs = a;
    n->n_attrs = 1;
    diag_free(&d);
    tb_fold_ok(g, n);
    return n->outputs[0];
}

Test(opsfold_pad, modes) {
    Graph *g = ir_graph_new(0);
    int64_t dy[] = { 7 };
    double c[] = { 0, 0, 1, 2, 3, 0, 0 }, r[] = { 3, 2, 1, 2, 3, 2, 1 };
    double e[] = { 1, 1, 1, 2, 3, 3, 3 }, w[] = { 2, 3, 1, 2, 3, 1, 2 };
    tb_expect(pad1d(g, "constant", 13), DT_FLOAT, 1, dy, c, TB_EXACT);
    tb_expect(pad1d(g, "reflect", 13), DT_FLOAT, 1, dy, r, TB_EXACT);
    tb_expect(pad1d(g, "edge", 13), DT_FLOAT, 1, dy, e, TB_EXACT);
    tb_expect(pad1d(g, "wrap", 19), DT_FLOAT, 1, dy, w, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_pad, negative_pads_crop_and_value) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, dp[] = { 4 }, dy[] = { 3, 2 };
    double x[] = { 1, 2, 3, 4, 5, 6 }, pads[] = { 1, -1, 0, 0 }, cv[] = { 9 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x), tb_value(g, "p", DT_INT64, 1, dp, pads),
                    tb_value(g, "c", DT_FLOAT, 0, NULL, cv) };
    Node *n = mk(g, &op_pad, 13, 3, in, 1);
    tb_fold_ok(g, n);
    double want[] = { 9, 9, 2, 3, 5, 6 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_pad, wrong_pads_length) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, dp[] = { 2 };
    double pads[] = { 1, 1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "p", DT_INT64, 1, dp,
                                                                      pads) };
    tb_fold_err(g, mk(g, &op_pad, 13, 2, in, 1), "pads has 2 values, expected 4");
    ir_graph_free(g);
}

/* ---- emitted code ------------------------------------------------------------------- */

/* Runs infer and emit on n and returns the text (malloc'ed copy, caller frees). */
static char *emit_text(Graph *g, Node *n) {
    Diag d;
    diag_init(&d);
    cr_assert(n->op->infer(g, n, &d), "infer failed: %s", d.n_messages ? d.messages[0] : "");
    Emitter e;
    emit_init(&e);
    cr_assert(n->op->emit(&e, n, &d), "emit failed: %s", d.n_messages ? d.messages[0] : "");
    char *s = strdup(e.out.data ? e.out.data : "");
    emit_free(&e);
    diag_free(&d);
    return s;
}

static void expect_contains(const char *text, const char *want) {
    cr_assert_not_null(strstr(text, want), "emitted code lacks '%s':\n%s", want, text);
}

Test(opsfold_emit, same_shape_add_is_one_flat_loop) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 3 };
    Value *in[] = { tb_value(g, "a", DT_FLOAT, 2, d, NULL), tb_value(g, "b", DT_FLOAT, 2, d,
                                                                     NULL) };
    char *s = emit_text(g, mk(g, &op_add, 17, 2, in, 1));
    expect_contains(s, "for (size_t i0 = 0; i0 < 6; i0++)");
    expect_contains(s, "y0[i0] = x0[i0] + x1[i0];");
    cr_assert_null(strstr(s, "i1"), "unexpected second loop:\n%s", s);
    free(s);
    cr_assert_eq(op_add.memory, OP_MEMORY_INPLACE);
    ir_graph_free(g);
}

Test(opsfold_emit, int_div_and_int_add_have_no_ub) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 4 };
    Value *in[] = { tb_value(g, "a", DT_INT32, 1, d, NULL), tb_value(g, "b", DT_INT32, 1, d,
                                                                     NULL) };
    char *s = emit_text(g, mk(g, &op_div, 17, 2, in, 1));
    expect_contains(s, "q == 0 || (q == -1 && p == INT32_MIN)");
    free(s);
    s = emit_text(g, mk(g, &op_add, 17, 2, in, 1));
    expect_contains(s, "(int32_t)((uint32_t)x0[i0] + (uint32_t)x1[i0])");
    free(s);
    ir_graph_free(g);
}

Test(opsfold_emit, reshape_copies_only_when_not_aliased) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, ds[] = { 1 };
    double s6[] = { 6 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "s", DT_INT64, 1, ds,
                                                                      s6) };
    char *s = emit_text(g, mk(g, &op_reshape, 14, 2, in, 1));
    expect_contains(s, "if ((const void *)y0 != (const void *)x0) memcpy(y0, x0, 24);");
    free(s);
    cr_assert_eq(op_reshape.memory, OP_MEMORY_ALIAS);
    ir_graph_free(g);
}

Test(opsfold_emit, gather_checks_indices_at_run_time) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 5, 2 }, di[] = { 3 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, NULL), tb_value(g, "i", DT_INT64, 1, di,
                                                                      NULL) };
    char *s = emit_text(g, mk(g, &op_gather, 13, 2, in, 1));
    expect_contains(s, "if (k < 0) k += 5;");
    expect_contains(s, "return 1;");
    free(s);
    cr_assert(op_gather.may_fail);
    ir_graph_free(g);
}

Test(opsfold_emit, slice_negative_step_indexes_backwards) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 10 };
    double st[] = { -1 }, en[] = { -1000 }, ax[] = { 0 }, sp[] = { -3 };
    Node *n = slice_node(g, tb_value(g, "x", DT_FLOAT, 1, dx, NULL), 5, st, en, ax, sp, 1);
    char *s = emit_text(g, n);
    expect_contains(s, "for (size_t i0 = 0; i0 < 4; i0++)");
    expect_contains(s, "y0[i0] = x0[9 - (ptrdiff_t)i0 * 3];");
    free(s);
    ir_graph_free(g);
}

/* ---- older opsets ------------------------------------------------------------------- */

Test(opsfold_opsets, softmax_before_13_coerces_to_2d) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 2, 2 };
    double x[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
    Value *in[] = { tb_value(g, "x", DT_DOUBLE, 3, d, x) };
    Node *n = mk(g, &op_softmax, 11, 1, in, 1);
    tb_fold_ok(g, n);
    /* one softmax over the 4 trailing elements of each batch, not per axis-1 column */
    double want[] = { 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25 };
    tb_expect(n->outputs[0], DT_DOUBLE, 3, d, want, TB_EXACT);
    ir_graph_free(g);
}

/* Before 13 a negative axis counts from the back over the rank dims: -1 on [2][3] is the
 * last dim (one softmax per row), not the position past it (which softmaxed single
 * elements into 1). */
Test(opsfold_opsets, softmax_before_13_negative_axis) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 2, 2 };
    double x[] = { 0, 0, 1, 1 };
    Value *in[] = { tb_value(g, "x", DT_DOUBLE, 2, d, x) };
    Node *n = mk(g, &op_softmax, 11, 1, in, 1);
    tb_attr_int(g, n, "axis", -1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_DOUBLE, 2, d, (double[]){ 0.5, 0.5, 0.5, 0.5 }, TB_EXACT);
    Node *m = mk(g, &op_softmax, 11, 1, in, 1);
    tb_attr_int(g, m, "axis", 2);       /* the rank itself: a [4][1] view */
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_DOUBLE, 2, d, (double[]){ 1, 1, 1, 1 }, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_opsets, clip_attributes_before_11) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 3 };
    double x[] = { -3, 0.25, 3 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, d, x) };
    Node *n = mk(g, &op_clip, 6, 1, in, 1);
    Diag dg;
    diag_init(&dg);
    cr_assert(ir_attr_set_float(g, n, "min", -1.0f, &dg));
    cr_assert(ir_attr_set_float(g, n, "max", 0.5f, &dg));
    diag_free(&dg);
    tb_fold_ok(g, n);
    double want[] = { -1, 0.25, 0.5 };
    tb_expect(n->outputs[0], DT_FLOAT, 1, d, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_opsets, reshape_shape_attribute_before_5) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, shape[] = { 3, -1 }, dy[] = { 3, 2 };
    double x[] = { 1, 2, 3, 4, 5, 6 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x) };
    Node *n = mk(g, &op_reshape, 1, 1, in, 1);
    tb_attr_ints(g, n, "shape", shape, 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, x, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_opsets, slice_attributes_before_10) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 4 }, st[] = { 1, -3 }, en[] = { 100, -1 }, dy[] = { 1, 2 };
    double x[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x) };
    Node *n = mk(g, &op_slice, 1, 1, in, 1);
    tb_attr_ints(g, n, "starts", st, 2);
    tb_attr_ints(g, n, "ends", en, 2);
    tb_fold_ok(g, n);
    double want[] = { 5, 6 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_opsets, pad_attributes_before_11) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2 }, pads[] = { 1, 2 }, dy[] = { 5 };
    double x[] = { 1, 2 };
    Value *in[] = { tb_value(g, "x", DT_INT32, 1, dx, x) };
    Node *n = mk(g, &op_pad, 2, 1, in, 1);
    tb_attr_ints(g, n, "pads", pads, 2);
    Diag dg;
    diag_init(&dg);
    cr_assert(ir_attr_set_float(g, n, "value", 7.0f, &dg));
    diag_free(&dg);
    tb_fold_ok(g, n);
    double want[] = { 7, 1, 2, 7, 7 };
    tb_expect(n->outputs[0], DT_INT32, 1, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsfold_opsets, constant_needs_exactly_one_value) {
    Graph *g = ir_graph_new(0);
    int64_t v[] = { 1 };
    Node *n = mk(g, &op_constant, 13, 0, NULL, 1);
    tb_fold_err(g, n, "has no value attribute");
    Node *m = mk(g, &op_constant, 13, 0, NULL, 1);
    tb_attr_ints(g, m, "value_ints", v, 1);
    tb_attr_int(g, m, "value_int", 3);
    tb_fold_err(g, m, "exactly one value attribute");
    ir_graph_free(g);
}

Test(opsfold_emit, float16_is_computed_in_float) {
    Graph *g = ir_graph_new(0);
    int64_t d[] = { 8 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT16, 1, d, NULL) };
    char *s = emit_text(g, mk(g, &op_relu, 14, 1, in, 1));
    expect_contains(s, "float v = onnxcc_f16_to_float(");
    expect_contains(s, "const float r = onnxcc_relu(v);");
    expect_contains(s, "y0[i] = onnxcc_float_to_f16(r);");
    free(s);
    ir_graph_free(g);
}

Test(opsfold_cast, half_conversions_round_to_nearest_even) {
    /* 2049 is halfway between the float16 values 2048 and 2050: ties go to even (2048) */
    cr_assert_eq(ou_half_to_float(ou_float_to_half(2049.0f)), 2048.0f);
    cr_assert_eq(ou_half_to_float(ou_float_to_half(2051.0f)), 2052.0f);
    cr_assert_eq(ou_float_to_half(-0.0f), 0x8000);
    cr_assert(isnan(ou_half_to_float(ou_float_to_half(NAN))));
    cr_assert_eq(ou_bf16_to_float(ou_float_to_bf16(1.00390625f)), 1.0f);   /* tie -> even */
    cr_assert_eq(ou_bf16_to_float(ou_float_to_bf16(1.01171875f)), 1.015625f);
}
