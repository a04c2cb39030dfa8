/* test_ops_more.c: the ops added for the benchmark models (unary math, Reduce*, Split,
 * Pow, Expand, comparisons, Where, LayerNormalization): inference and folding on one-node
 * graphs with exact values, the error paths, and the emitted code run end to end against
 * the folder on the same data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* ---- unary ------------------------------------------------------------------------------ */

Test(opsmore_unary, hard_sigmoid_swish_and_math) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 4 };
    double x[] = { -4, -1, 0.25, 4 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, dx, x) };
    Node *hs = tb_op_node(g, "HardSigmoid", 6, 1, in, 1);
    tb_attr_float(g, hs, "alpha", 0.5f);
    tb_attr_float(g, hs, "beta", 0.25f);
    tb_fold_ok(g, hs);
    double w_hs[] = { 0, 0, 0.375, 1 };
    tb_expect(hs->outputs[0], DT_FLOAT, 1, dx, w_hs, TB_REL(1e-7));
    Node *sw = tb_op_node(g, "HardSwish", 14, 1, in, 1);
    tb_fold_ok(g, sw);
    double w_sw[] = { 0, -1.0 / 3, 0.25 * (0.25 / 6 + 0.5), 4 };
    tb_expect(sw->outputs[0], DT_FLOAT, 1, dx, w_sw, TB_REL(1e-6));
    Node *ex = tb_op_node(g, "Exp", 13, 1, in, 1);
    tb_fold_ok(g, ex);
    double w_ex[] = { exp(-4), exp(-1), exp(0.25), exp(4) };
    tb_expect(ex->outputs[0], DT_FLOAT, 1, dx, w_ex, TB_REL(1e-6));
    Node *erfn = tb_op_node(g, "Erf", 13, 1, in, 1);
    tb_fold_ok(g, erfn);
    double w_erf[] = { erf(-4), erf(-1), erf(0.25), erf(4) };
    tb_expect(erfn->outputs[0], DT_FLOAT, 1, dx, w_erf, TB_REL(1e-6));
    Node *ab = tb_op_node(g, "Abs", 13, 1, in, 1);
    tb_fold_ok(g, ab);
    double w_abs[] = { 4, 1, 0.25, 4 };
    tb_expect(ab->outputs[0], DT_FLOAT, 1, dx, w_abs, TB_EXACT);
    ir_graph_free(g);
}

Test(opsmore_unary, sqrt_of_negative_is_nan_and_gelu) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3 };
    double x[] = { 4, -1, 1 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 1, dx, x) };
    Node *sq = tb_op_node(g, "Sqrt", 13, 1, in, 1);
    tb_fold_ok(g, sq);
    cr_assert_eq(ou_get_f64(sq->outputs[0], 0), 2.0);
    cr_assert(isnan(ou_get_f64(sq->outputs[0], 1)));
    Node *ge = tb_op_node(g, "Gelu", 20, 1, in, 1);
    tb_fold_ok(g, ge);
    double w_ge[] = { 4 * 0.5 * (1 + erf(4 / sqrt(2))), -0.5 * (1 + erf(-1 / sqrt(2))),
                      0.5 * (1 + erf(1 / sqrt(2))) };
    tb_expect(ge->outputs[0], DT_FLOAT, 1, dx, w_ge, TB_REL(1e-6));
    Node *gt = tb_op_node(g, "Gelu", 20, 1, in, 1);
    tb_attr_str(g, gt, "approximate", "tanh");
    tb_fold_ok(g, gt);
    double c = sqrt(2 / 3.14159265358979323846);
    cr_assert(fabs(ou_get_f64(gt->outputs[0], 2) - 0.5 * (1 + tanh(c * (1 + 0.044715)))) < 1e-6);
    Node *bad = tb_op_node(g, "Gelu", 20, 1, in, 1);
    tb_attr_str(g, bad, "approximate", "fast");
    tb_fold_err(g, bad, "approximate must be \"none\" or \"tanh\"");
    ir_graph_free(g);
}

Test(opsmore_unary, neg_int_wraps_and_float_only_rejects_int) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3 };
    double x[] = { -128, 5, 0 };
    Value *in[] = { tb_value(g, "x", DT_INT8, 1, dx, x) };
    Node *ng = tb_op_node(g, "Neg", 13, 1, in, 1);
    tb_fold_ok(g, ng);
    double want[] = { -128, -5, 0 };   /* -(-128) wraps in int8 */
    tb_expect(ng->outputs[0], DT_INT8, 1, dx, want, TB_EXACT);
    Node *sq = tb_op_node(g, "Sqrt", 13, 1, in, 1);
    tb_fold_err(g, sq, "int8");
    ir_graph_free(g);
}

/* ---- reduce ----------------------------------------------------------------------------- */

static const double r234[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                               13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 };

Test(opsmore_reduce, mean_axes_attribute_keepdims) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 3, dx, r234) };
    Node *n = tb_op_node(g, "ReduceMean", 13, 1, in, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ -1, 0 }, 2);
    tb_fold_ok(g, n);
    int64_t dy[] = { 1, 3, 1 };
    double want[] = { (2.5 + 14.5) / 2, (6.5 + 18.5) / 2, (10.5 + 22.5) / 2 };
    tb_expect(n->outputs[0], DT_FLOAT, 3, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsmore_reduce, sum_axes_input_no_keepdims_and_noop) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 }, da[] = { 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 3, dx, r234);
    Value *in[] = { x, tb_value(g, "axes", DT_INT64, 1, da, (double[]){ 1 }) };
    Node *n = tb_op_node(g, "ReduceSum", 13, 2, in, 1);
    tb_attr_int(g, n, "keepdims", 0);
    tb_fold_ok(g, n);
    int64_t dy[] = { 2, 4 };
    double want[] = { 15, 18, 21, 24, 51, 54, 57, 60 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    /* no axes: everything, unless noop_with_empty_axes */
    Node *all = tb_op_node(g, "ReduceSum", 13, 1, in, 1);
    tb_fold_ok(g, all);
    int64_t d1[] = { 1, 1, 1 };
    tb_expect(all->outputs[0], DT_FLOAT, 3, d1, (double[]){ 300 }, TB_EXACT);
    Node *noop = tb_op_node(g, "ReduceSum", 13, 1, in, 1);
    tb_attr_int(g, noop, "noop_with_empty_axes", 1);
    tb_fold_ok(g, noop);
    tb_expect(noop->outputs[0], DT_FLOAT, 3, dx, r234, TB_EXACT);
    ir_graph_free(g);
}

Test(opsmore_reduce, max_min_prod_l1_l2_logsumexp) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 };
    double x[] = { 1, -2, 3, -4, 5, -6 };
    Value *in[] = { tb_value(g, "x", DT_FLOAT, 2, dx, x) };
    const char *ops[] = { "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                          "ReduceSumSquare", "ReduceLogSumExp" };
    double want[][2] = { { 3, 5 }, { -2, -6 }, { -6, 120 }, { 6, 15 },
                         { sqrt(14), sqrt(77) }, { 14, 77 },
                         { log(exp(1) + exp(-2) + exp(3)), log(exp(-4) + exp(5) + exp(-6)) } };
    int64_t dy[] = { 2, 1 };
    for (int k = 0; k < 7; k++) {
        Node *n = tb_op_node(g, ops[k], 18, 2, (Value *[]){ in[0], tb_value(g, ir_unique_name(g,
                                                                                              "a"),
                                 DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 1 }) }, 1);
        tb_fold_ok(g, n);
        tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want[k], TB_REL(1e-6));
    }
    ir_graph_free(g);
}

Test(opsmore_reduce, int_mean_truncates_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 };
    double x[] = { 1, 2, -3, -4 };
    Value *in[] = { tb_value(g, "x", DT_INT32, 2, dx, x) };
    Node *n = tb_op_node(g, "ReduceMean", 13, 1, in, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1 }, 1);
    tb_fold_ok(g, n);
    int64_t dy[] = { 2, 1 };
    tb_expect(n->outputs[0], DT_INT32, 2, dy, (double[]){ 1, -3 }, TB_EXACT);
    Node *dup = tb_op_node(g, "ReduceMean", 13, 1, in, 1);
    tb_attr_ints(g, dup, "axes", (int64_t[]){ 1, -1 }, 2);
    tb_fold_err(g, dup, "axis -1 is listed twice");
    Node *oor = tb_op_node(g, "ReduceMax", 13, 1, in, 1);
    tb_attr_ints(g, oor, "axes", (int64_t[]){ 2 }, 1);
    tb_fold_err(g, oor, "axis 2 is out of range");
    Node *kd = tb_op_node(g, "ReduceMax", 13, 1, in, 1);
    tb_attr_int(g, kd, "keepdims", 2);
    tb_fold_err(g, kd, "keepdims must be 0 or 1");
    Node *l2 = tb_op_node(g, "ReduceL2", 13, 1, in, 1);
    tb_fold_err(g, l2, "int32");
    /* opset 18 reads axes from the input: a non-constant one is an error */
    Value *ax = tb_value(g, "ax", DT_INT64, 1, (int64_t[]){ 1 }, NULL);
    Node *nc = tb_op_node(g, "ReduceMean", 18, 2, (Value *[]){ in[0], ax }, 1);
    tb_fold_err(g, nc, "ax");
    ir_graph_free(g);
}

/* ---- split ------------------------------------------------------------------------------ */

Test(opsmore_split, equal_attribute_and_input) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 };
    Value *x = tb_value(g, "x", DT_FLOAT, 3, dx, r234);
    Node *eq = tb_op_node(g, "Split", 11, 1, &x, 2);
    tb_attr_int(g, eq, "axis", -1);
    tb_fold_ok(g, eq);
    int64_t d0[] = { 2, 3, 2 };
    double w0[] = { 1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22 };
    tb_expect(eq->outputs[0], DT_FLOAT, 3, d0, w0, TB_EXACT);
    double w1[] = { 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23, 24 };
    tb_expect(eq->outputs[1], DT_FLOAT, 3, d0, w1, TB_EXACT);
    Node *at = tb_op_node(g, "Split", 11, 1, &x, 2);
    tb_attr_int(g, at, "axis", 1);
    tb_attr_ints(g, at, "split", (int64_t[]){ 1, 2 }, 2);
    tb_fold_ok(g, at);
    int64_t da[] = { 2, 1, 4 }, db[] = { 2, 2, 4 };
    double wa[] = { 1, 2, 3, 4, 13, 14, 15, 16 };
    tb_expect(at->outputs[0], DT_FLOAT, 3, da, wa, TB_EXACT);
    cr_assert_eq(at->outputs[1]->dims[1], 2);
    tb_expect(at->outputs[1], DT_FLOAT, 3, db, (double[]){ 5, 6, 7, 8, 9, 10, 11, 12, 17, 18,
                                                            19, 20, 21, 22, 23, 24 }, TB_EXACT);
    Value *sp = tb_value(g, "sp", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 3, 1 });
    Node *in = tb_op_node(g, "Split", 13, 2, (Value *[]){ x, sp }, 2);
    tb_attr_int(g, in, "axis", 2);
    tb_fold_ok(g, in);
    cr_assert_eq(in->outputs[0]->dims[2], 3);
    cr_assert_eq(in->outputs[1]->dims[2], 1);
    cr_assert_eq(ou_get_f64(in->outputs[1], 0), 4);
    ir_graph_free(g);
}

Test(opsmore_split, num_outputs_uneven_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 5 };
    double x[] = { 1, 2, 3, 4, 5 };
    Value *v = tb_value(g, "x", DT_FLOAT, 1, dx, x);
    Node *n = tb_op_node(g, "Split", 18, 1, &v, 3);
    tb_attr_int(g, n, "num_outputs", 3);
    tb_fold_ok(g, n);
    cr_assert_eq(n->outputs[0]->dims[0], 2);
    cr_assert_eq(n->outputs[1]->dims[0], 2);
    tb_expect(n->outputs[2], DT_FLOAT, 1, (int64_t[]){ 1 }, (double[]){ 5 }, TB_EXACT);
    Node *uneven = tb_op_node(g, "Split", 13, 1, &v, 2);
    tb_fold_err(g, uneven, "cannot be split evenly");
    Node *none = tb_op_node(g, "Split", 18, 1, &v, 2);
    tb_fold_err(g, none, "num_outputs is required");
    Value *sp = tb_value(g, "sp", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 4, 2 });
    Node *sum = tb_op_node(g, "Split", 13, 2, (Value *[]){ v, sp }, 2);
    tb_fold_err(g, sum, "do not add up");
    Value *big = tb_value(g, "big", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 9e18, 9e18 });
    Node *ovf = tb_op_node(g, "Split", 13, 2, (Value *[]){ v, big }, 2);
    tb_fold_err(g, ovf, "do not add up");
    Node *num = tb_op_node(g, "Split", 18, 1, &v, 2);
    tb_attr_int(g, num, "num_outputs", 3);
    tb_fold_err(g, num, "num_outputs is 3");
    ir_graph_free(g);
}

/* ---- pow, expand, compare, where -------------------------------------------------------- */

Test(opsmore_math, pow_broadcast_and_int_exponent) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 }, de[] = { 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 2, 3, 4, 9 });
    Value *e = tb_value(g, "e", DT_INT64, 1, de, (double[]){ 2, 3 });
    Node *n = tb_op_node(g, "Pow", 15, 2, (Value *[]){ x, e }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dx, (double[]){ 4, 27, 16, 729 }, TB_EXACT);
    Value *h = tb_value(g, "h", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Node *s = tb_op_node(g, "Pow", 15, 2, (Value *[]){ x, h }, 1);
    tb_fold_ok(g, s);
    tb_expect(s->outputs[0], DT_FLOAT, 2, dx, (double[]){ sqrt(2), sqrt(3), 2, 3 }, TB_REL(1e-7));
    Node *old = tb_op_node(g, "Pow", 7, 2, (Value *[]){ x, e }, 1);
    tb_fold_err(g, old, "must match before opset 12");
    Value *xi = tb_value(g, "xi", DT_INT32, 1, de, (double[]){ -2, 3 });
    Node *ib = tb_op_node(g, "Pow", 15, 2, (Value *[]){ xi, e }, 1);
    tb_fold_ok(g, ib);
    tb_expect(ib->outputs[0], DT_INT32, 1, de, (double[]){ 4, 27 }, TB_EXACT);
    Value *en = tb_value(g, "en", DT_INT64, 1, de, (double[]){ -1, 31 });
    Node *neg = tb_op_node(g, "Pow", 15, 2, (Value *[]){ xi, en }, 1);
    tb_fold_ok(g, neg);
    /* 3^31 wraps in int32 like the emitted code; (-2)^-1 truncates to 0 */
    tb_expect(neg->outputs[0], DT_INT32, 1, de, (double[]){ 0, (double)(int32_t)(uint32_t)
                                                            617673396283947ull }, TB_EXACT);
    Value *xu = tb_value(g, "xu", DT_UINT8, 1, de, (double[]){ 2, 3 });
    Node *ub = tb_op_node(g, "Pow", 15, 2, (Value *[]){ xu, e }, 1);
    tb_fold_err(g, ub, "uint8");
    ir_graph_free(g);
}

Test(opsmore_math, expand_bidirectional_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3, 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3 });
    Value *sh = tb_value(g, "s", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 2, 1, 2 });
    Node *n = tb_op_node(g, "Expand", 13, 2, (Value *[]){ x, sh }, 1);
    tb_fold_ok(g, n);
    int64_t dy[] = { 2, 3, 2 };
    tb_expect(n->outputs[0], DT_FLOAT, 3, dy, (double[]){ 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3 },
              TB_EXACT);
    Value *bad = tb_value(g, "b", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 2 });
    Node *nb = tb_op_node(g, "Expand", 13, 2, (Value *[]){ x, bad }, 1);
    tb_fold_err(g, nb, "cannot be expanded");
    Value *neg = tb_value(g, "neg", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ -2 });
    Node *nn = tb_op_node(g, "Expand", 13, 2, (Value *[]){ x, neg }, 1);
    tb_fold_err(g, nn, "dims must be >= 0");
    ir_graph_free(g);
}

Test(opsmore_compare, less_equal_where_not) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 2 }, db[] = { 2 };
    Value *a = tb_value(g, "a", DT_FLOAT, 2, da, (double[]){ 1, 5, 3, NAN });
    Value *b = tb_value(g, "b", DT_FLOAT, 1, db, (double[]){ 3, 5 });
    Node *lt = tb_op_node(g, "Less", 13, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, lt);
    tb_expect(lt->outputs[0], DT_BOOL, 2, da, (double[]){ 1, 0, 0, 0 }, TB_EXACT);
    Node *ge = tb_op_node(g, "GreaterOrEqual", 16, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, ge);
    tb_expect(ge->outputs[0], DT_BOOL, 2, da, (double[]){ 0, 1, 1, 0 }, TB_EXACT);
    Node *eq = tb_op_node(g, "Equal", 13, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, eq);
    tb_expect(eq->outputs[0], DT_BOOL, 2, da, (double[]){ 0, 1, 1, 0 }, TB_EXACT);
    Node *nt = tb_op_node(g, "Not", 1, 1, (Value *[]){ eq->outputs[0] }, 1);
    tb_fold_ok(g, nt);
    tb_expect(nt->outputs[0], DT_BOOL, 2, da, (double[]){ 1, 0, 0, 1 }, TB_EXACT);
    Value *z = tb_value(g, "z", DT_FLOAT, 0, NULL, (double[]){ -1 });
    Node *w = tb_op_node(g, "Where", 16, 3, (Value *[]){ eq->outputs[0], a, z }, 1);
    tb_fold_ok(g, w);
    tb_expect(w->outputs[0], DT_FLOAT, 2, da, (double[]){ -1, 5, 3, -1 }, TB_EXACT);
    /* int64 compared exactly, not through doubles */
    Value *i = tb_value(g, "i", DT_INT64, 0, NULL, (double[]){ 0 });
    ((int64_t *)i->data)[0] = INT64_MAX;
    Value *j = tb_value(g, "j", DT_INT64, 0, NULL, (double[]){ 0 });
    ((int64_t *)j->data)[0] = INT64_MAX - 1;
    Node *gt = tb_op_node(g, "Greater", 13, 2, (Value *[]){ i, j }, 1);
    tb_fold_ok(g, gt);
    cr_assert_eq(ir_const_get_i64(gt->outputs[0], 0), 1);
    ir_graph_free(g);
}

Test(opsmore_compare, type_errors) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2 };
    Value *a = tb_value(g, "a", DT_FLOAT, 1, da, (double[]){ 1, 2 });
    Value *b = tb_value(g, "b", DT_INT64, 1, da, (double[]){ 1, 2 });
    Node *eq = tb_op_node(g, "Equal", 13, 2, (Value *[]){ a, b }, 1);
    tb_fold_err(g, eq, "input types differ");
    Node *w = tb_op_node(g, "Where", 16, 3, (Value *[]){ a, a, a }, 1);
    tb_fold_err(g, w, "float");
    Value *c = tb_value(g, "c", DT_BOOL, 1, da, (double[]){ 1, 0 });
    Node *w2 = tb_op_node(g, "Where", 16, 3, (Value *[]){ c, a, b }, 1);
    tb_fold_err(g, w2, "must have the same type");
    Value *c3 = tb_value(g, "c3", DT_BOOL, 1, (int64_t[]){ 3 }, (double[]){ 1, 0, 1 });
    Node *w3 = tb_op_node(g, "Where", 16, 3, (Value *[]){ c3, a, a }, 1);
    tb_fold_err(g, w3, "cannot be broadcast");
    ir_graph_free(g);
}

/* ---- layer normalization ---------------------------------------------------------------- */

Test(opsmore_norm, layernorm_values_and_stats) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, ds[] = { 3 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 2, 2, 8 });
    Value *s = tb_value(g, "s", DT_FLOAT, 1, ds, (double[]){ 1, 2, 3 });
    Value *b = tb_value(g, "b", DT_FLOAT, 1, ds, (double[]){ 0, 0, 1 });
    Node *n = tb_op_node(g, "LayerNormalization", 17, 3, (Value *[]){ x, s, b }, 3);
    tb_attr_float(g, n, "epsilon", 0);
    tb_fold_ok(g, n);
    double i0 = 1 / sqrt(2.0 / 3), i1 = 1 / sqrt(8.0);
    double want[] = { -i0, 0, 3 * i0 + 1, -2 * i1, -4 * i1, 12 * i1 + 1 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dx, want, TB_REL(1e-6));
    int64_t dm[] = { 2, 1 };
    tb_expect(n->outputs[1], DT_FLOAT, 2, dm, (double[]){ 2, 4 }, TB_REL(1e-7));
    tb_expect(n->outputs[2], DT_FLOAT, 2, dm, (double[]){ i0, i1 }, TB_REL(1e-6));
    Value *s2 = tb_value(g, "s2", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 1 });
    Node *bad = tb_op_node(g, "LayerNormalization", 17, 2, (Value *[]){ x, s2 }, 1);
    tb_fold_err(g, bad, "must have the 3 elements");
    Node *ax = tb_op_node(g, "LayerNormalization", 17, 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, ax, "axis", 2);
    tb_fold_err(g, ax, "axis 2 is out of range");
    ir_graph_free(g);
}

/* RMSNormalization: x / sqrt(mean(x^2) + epsilon) * scale over the last axis. */
Test(opsmore_norm, rmsnorm_values) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 }, ds[] = { 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 3, 4, -1, 1 });
    Value *s = tb_value(g, "s", DT_FLOAT, 1, ds, (double[]){ 1, 2 });
    Node *n = tb_op_node(g, "RMSNormalization", 23, 2, (Value *[]){ x, s }, 1);
    tb_attr_float(g, n, "epsilon", 0);
    tb_fold_ok(g, n);
    const double r0 = sqrt(12.5), r1 = 1;   /* rms of (3, 4) and of (-1, 1) */
    tb_expect(n->outputs[0], DT_FLOAT, 2, dx, (double[]){ 3 / r0, 8 / r0, -1 / r1, 2 / r1 },
              TB_REL(1e-6));
    ir_graph_free(g);
}

/* ---- end to end: emitted code against the folder ---------------------------------------- */

enum { E2E_SEED = 11 };

/* The emitted code against the folder: every output must agree to 1e-5 relative (NaN matching
 * NaN). */
static void emit_vs_fold(TbBuild build, int n_out) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = n_out, .tol = TB_REL(1e-5),
                                    .nan_equal = true });
}

static Node *b_reduce_mean_hw(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 1, 3, 5, 7 }, 0);
    Value *ax = tb_const_i64(g, "axes", 1, (int64_t[]){ 2 }, (int64_t[]){ 2, 3 });
    Node *n = tb_node(g, "ReduceMean", "rm", 2, (Value *[]){ x, ax }, 1);
    n->opset = 18;
    return n;
}

static Node *b_reduce_middle(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 4, 5 }, 0);
    Node *n = tb_node(g, "ReduceLogSumExp", "r", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ 0, 2 }, 2);
    tb_attr_int(g, n, "keepdims", 0);
    n->opset = 13;
    return n;
}

static Node *b_reduce_max_last(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 1, 6 }, 0);
    Node *n = tb_node(g, "ReduceMax", "r", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ -1 }, 1);
    n->opset = 13;
    return n;
}

static Node *b_layernorm(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 4, 8 }, 0);
    Value *s = tb_const_rand(g, "s", 1, (int64_t[]){ 8 }, 3, 0.5f, 1.5f);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){ 8 }, 4, -1, 1);
    Node *n = tb_node(g, "LayerNormalization", "ln", 3, (Value *[]){ x, s, b }, 1);
    return n;
}

static Node *b_rmsnorm(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 4, 8 }, 0);
    Value *s = tb_const_rand(g, "s", 2, (int64_t[]){ 4, 8 }, 3, 0.5f, 1.5f);
    Node *n = tb_node(g, "RMSNormalization", "rms", 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, n, "axis", 1);
    n->opset = 23;
    return n;
}

static Node *b_pow_sub(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 8 }, 0);
    Value *e = tb_const(g, "e", 0, NULL, (float[]){ 2.0f });
    return tb_node(g, "Pow", "p", 2, (Value *[]){ x, e }, 1);
}

static Node *b_pow_tensor(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *e = tb_e2e_input(g, konst, "e", 1, (int64_t[]){ 4 }, 1);
    /* a positive base: powf of a negative base and a fractional exponent is NaN */
    Node *ab = tb_node(g, "Abs", "abs", 1, (Value *[]){ x }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ ab }, 1);
    return tb_node(g, "Pow", "p", 2, (Value *[]){ ab->outputs[0], e }, 1);
}

static Node *b_split(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 6, 3 }, 0);
    Value *sp = tb_const_i64(g, "sp", 1, (int64_t[]){ 3 }, (int64_t[]){ 1, 3, 2 });
    Node *n = tb_node(g, "Split", "sp", 2, (Value *[]){ x, sp }, 3);
    tb_attr_int(g, n, "axis", 1);
    return n;
}

static Node *b_unary_chain(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 1, (int64_t[]){ 37 }, 0);
    Node *n = tb_node(g, "HardSwish", "hs", 1, (Value *[]){ x }, 1);
    n->opset = 14;
    return n;
}

static Node *b_gelu(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 5, 7 }, 0);
    Node *n = tb_node(g, "Gelu", "ge", 1, (Value *[]){ x }, 1);
    n->opset = 20;
    return n;
}

static Node *b_where(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 2, (int64_t[]){ 3, 4 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 1, (int64_t[]){ 4 }, 1);
    Node *lt = tb_node(g, "Less", "lt", 2, (Value *[]){ a, b }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ lt }, 1);   /* the comparison's value first */
    return tb_node(g, "Where", "w", 3, (Value *[]){ lt->outputs[0], b, a }, 1);
}

static Node *b_expand(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 1 }, 0);
    Value *s = tb_const_i64(g, "s", 1, (int64_t[]){ 3 }, (int64_t[]){ 2, 3, 5 });
    return tb_node(g, "Expand", "ex", 2, (Value *[]){ x, s }, 1);
}

Test(opsmore_run, reduce_mean_over_hw) { emit_vs_fold(b_reduce_mean_hw, 1); }
Test(opsmore_run, reduce_logsumexp_middle_axes) { emit_vs_fold(b_reduce_middle, 1); }
Test(opsmore_run, reduce_max_last_axis) { emit_vs_fold(b_reduce_max_last, 1); }
Test(opsmore_run, layernorm_last_axis) { emit_vs_fold(b_layernorm, 1); }
Test(opsmore_run, rmsnorm_two_axes) { emit_vs_fold(b_rmsnorm, 1); }
Test(opsmore_run, pow_square) { emit_vs_fold(b_pow_sub, 1); }
Test(opsmore_run, pow_tensor_exponent) { emit_vs_fold(b_pow_tensor, 1); }
Test(opsmore_run, split_three_parts) { emit_vs_fold(b_split, 3); }
Test(opsmore_run, hardswish) { emit_vs_fold(b_unary_chain, 1); }
Test(opsmore_run, gelu) { emit_vs_fold(b_gelu, 1); }
Test(opsmore_run, less_then_where) { emit_vs_fold(b_where, 1); }
Test(opsmore_run, expand) { emit_vs_fold(b_expand, 1); }

static Node *b_reduce_sum_int(Graph *g, bool konst) {
    /* the float input is scaled and cast, so integer accumulation is exercised */
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 5, 3 }, 0);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 100.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *c = tb_node(g, "Cast", "c", 1, (Value *[]){ m->outputs[0] }, 1);
    tb_attr_int(g, c, "to", DT_INT32);
    Node *r = tb_node(g, "ReduceMean", "r", 1, (Value *[]){ c->outputs[0] }, 1);
    tb_attr_ints(g, r, "axes", (int64_t[]){ 1 }, 1);
    r->opset = 13;
    Node *back = tb_node(g, "Cast", "back", 1, (Value *[]){ r->outputs[0] }, 1);
    tb_attr_int(g, back, "to", DT_FLOAT);
    if (konst) tb_fold_chain(g, (Node *[]){ m, c, r }, 3);
    return back;
}

Test(opsmore_run, reduce_mean_int32) { emit_vs_fold(b_reduce_sum_int, 1); }

/* ---- variadic Max / Min / Sum / Mean ---------------------------------------------------- */

Test(opsmore_variadic, max_min_sum_mean_broadcast) {
    Graph *g = ir_graph_new(0);
    int64_t da[] = { 2, 2 }, db[] = { 2 };
    Value *a = tb_value(g, "a", DT_FLOAT, 2, da, (double[]){ 1, 6, 3, -4 });
    Value *b = tb_value(g, "b", DT_FLOAT, 1, db, (double[]){ 2, 5 });
    Value *c = tb_value(g, "c", DT_FLOAT, 0, NULL, (double[]){ 0 });
    Value *in[] = { a, b, c };
    const char *ops[] = { "Max", "Min", "Sum", "Mean" };
    double want[][4] = { { 2, 6, 3, 5 }, { 0, 0, 0, -4 }, { 3, 11, 5, 1 },
                         { 1, 11.0 / 3, 5.0 / 3, 1.0 / 3 } };
    for (int k = 0; k < 4; k++) {
        Node *n = tb_op_node(g, ops[k], 13, 3, in, 1);
        tb_fold_ok(g, n);
        tb_expect(n->outputs[0], DT_FLOAT, 2, da, want[k], TB_REL(1e-7));
    }
    Node *one = tb_op_node(g, "Max", 13, 1, in, 1);
    tb_fold_ok(g, one);
    tb_expect(one->outputs[0], DT_FLOAT, 2, da, (double[]){ 1, 6, 3, -4 }, TB_EXACT);
    Value *i = tb_value(g, "i", DT_INT64, 1, db, (double[]){ 2, 5 });
    Node *mixed = tb_op_node(g, "Max", 13, 2, (Value *[]){ a, i }, 1);
    tb_fold_err(g, mixed, "input types differ");
    Node *isum = tb_op_node(g, "Sum", 13, 2, (Value *[]){ i, i }, 1);
    tb_fold_err(g, isum, "int64");
    Value *b3 = tb_value(g, "b3", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, 2, 3 });
    Node *bad = tb_op_node(g, "Min", 13, 2, (Value *[]){ a, b3 }, 1);
    tb_fold_err(g, bad, "cannot be broadcast");
    ir_graph_free(g);
}

static Node *b_mean3(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 2, (int64_t[]){ 3, 1 }, 1);
    Value *c = tb_e2e_input(g, konst, "c", 1, (int64_t[]){ 4 }, 2);
    return tb_node(g, "Mean", "m", 3, (Value *[]){ a, b, c }, 1);
}

static Node *b_max2(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 2, (int64_t[]){ 3, 1 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 2, (int64_t[]){ 1, 5 }, 1);
    return tb_node(g, "Max", "m", 2, (Value *[]){ a, b }, 1);
}

Test(opsmore_run, mean_of_three_broadcast) { emit_vs_fold(b_mean3, 1); }
Test(opsmore_run, max_outer_broadcast) { emit_vs_fold(b_max2, 1); }

/* rows of 40: the partial-sum loops with a remainder */
static Node *b_layernorm_long(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 2, 20 }, 0);
    Value *s = tb_const_rand(g, "s", 2, (int64_t[]){ 2, 20 }, 5, 0.5f, 1.5f);
    Node *n = tb_node(g, "LayerNormalization", "ln", 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, n, "axis", 1);
    return n;
}

static Node *b_reduce_l2_long(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 67 }, 0);
    Node *n = tb_node(g, "ReduceL2", "r", 1, (Value *[]){ x }, 1);
    tb_attr_ints(g, n, "axes", (int64_t[]){ 1 }, 1);
    n->opset = 13;
    return n;
}

Test(opsmore_run, layernorm_long_rows) { emit_vs_fold(b_layernorm_long, 1); }
Test(opsmore_run, reduce_l2_long_rows) { emit_vs_fold(b_reduce_l2_long, 1); }

Test(opsmore_unary, round_sign_selu_celu) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 5 };
    Value *x = tb_value(g, "x", DT_FLOAT, 1, dx, (double[]){ -2.5, -0.5, 0.5, 1.5, 2.5 });
    Node *rd = tb_op_node(g, "Round", 11, 1, &x, 1);
    tb_fold_ok(g, rd);
    /* halves round to even */
    tb_expect(rd->outputs[0], DT_FLOAT, 1, dx, (double[]){ -2, -0, 0, 2, 2 }, TB_EXACT);
    Value *xi = tb_value(g, "xi", DT_INT32, 1, dx, (double[]){ -7, 0, 3, -1, 9 });
    Node *sg = tb_op_node(g, "Sign", 13, 1, &xi, 1);
    tb_fold_ok(g, sg);
    tb_expect(sg->outputs[0], DT_INT32, 1, dx, (double[]){ -1, 0, 1, -1, 1 }, TB_EXACT);
    Node *se = tb_op_node(g, "Selu", 6, 1, &x, 1);
    tb_attr_float(g, se, "alpha", 2.0f);
    tb_attr_float(g, se, "gamma", 3.0f);
    tb_fold_ok(g, se);
    tb_expect(se->outputs[0], DT_FLOAT, 1, dx, (double[]){ 6 * (exp(-2.5) - 1), 6 * (exp(-0.5) - 1),
                                                           1.5, 4.5, 7.5 }, TB_REL(1e-6));
    Node *ce = tb_op_node(g, "Celu", 12, 1, &x, 1);
    tb_attr_float(g, ce, "alpha", 0.0f);
    tb_fold_err(g, ce, "alpha must not be 0");
    Node *th = tb_op_node(g, "ThresholdedRelu", 10, 1, &x, 1);
    tb_attr_float(g, th, "alpha", 1.5f);
    tb_fold_ok(g, th);
    tb_expect(th->outputs[0], DT_FLOAT, 1, dx, (double[]){ 0, 0, 0, 0, 2.5 }, TB_EXACT);
    ir_graph_free(g);
}

Test(opsmore_reduce, argmax_argmin_ties_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 5, 5, 7, -2, 7 });
    Node *mx = tb_op_node(g, "ArgMax", 13, 1, &x, 1);
    tb_attr_int(g, mx, "axis", 1);
    tb_fold_ok(g, mx);
    int64_t dy[] = { 2, 1 };
    tb_expect(mx->outputs[0], DT_INT64, 2, dy, (double[]){ 1, 0 }, TB_EXACT);
    Node *ml = tb_op_node(g, "ArgMax", 13, 1, &x, 1);
    tb_attr_int(g, ml, "axis", -1);
    tb_attr_int(g, ml, "select_last_index", 1);
    tb_attr_int(g, ml, "keepdims", 0);
    tb_fold_ok(g, ml);
    tb_expect(ml->outputs[0], DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 2 }, TB_EXACT);
    Node *mn = tb_op_node(g, "ArgMin", 13, 1, &x, 1);
    tb_fold_ok(g, mn);
    tb_expect(mn->outputs[0], DT_INT64, 2, (int64_t[]){ 1, 3 }, (double[]){ 0, 1, 0 }, TB_EXACT);
    Value *empty = tb_value(g, "e", DT_FLOAT, 2, (int64_t[]){ 2, 0 }, NULL);
    Node *ne = tb_op_node(g, "ArgMax", 13, 1, &empty, 1);
    tb_attr_int(g, ne, "axis", 1);
    tb_fold_err(g, ne, "has no elements");
    Node *bad = tb_op_node(g, "ArgMin", 13, 1, &x, 1);
    tb_attr_int(g, bad, "axis", 2);
    tb_fold_err(g, bad, "axis 2 is out of range");
    ir_graph_free(g);
}

static Node *b_argmax_middle(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 5, 3 }, 0);
    Node *a = tb_node(g, "ArgMax", "am", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, a, "axis", 1);
    Node *c = tb_node(g, "Cast", "c", 1, (Value *[]){ a->outputs[0] }, 1);
    tb_attr_int(g, c, "to", DT_FLOAT);
    if (konst) tb_fold_chain(g, (Node *[]){ a }, 1);
    return c;
}

Test(opsmore_run, argmax_middle_axis) { emit_vs_fold(b_argmax_middle, 1); }

/* x * 10 -> CastLike(int32 model input) -> Cast float, and Size(x) * x: the emitted
 * CastLike and Size against their folds. */
static Node *b_castlike_size(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *like = tb_value(g, "like", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 0, 0 });
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 10.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *c = tb_node(g, "CastLike", "c", 2, (Value *[]){ m->outputs[0], like }, 1);
    c->opset = 15;
    Node *back = tb_node(g, "Cast", "back", 1, (Value *[]){ c->outputs[0] }, 1);
    tb_attr_int(g, back, "to", DT_FLOAT);
    Node *sz = tb_node(g, "Size", "sz", 1, (Value *[]){ x }, 1);
    Node *szf = tb_node(g, "Cast", "szf", 1, (Value *[]){ sz->outputs[0] }, 1);
    tb_attr_int(g, szf, "to", DT_FLOAT);
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ back->outputs[0], szf->outputs[0] },
                        1);
    if (konst) tb_fold_chain(g, (Node *[]){ m, c, back, sz, szf }, 5);
    return out;
}

Test(opsmore_run, castlike_and_size) { emit_vs_fold(b_castlike_size, 1); }

/* Mod with fmod 0 and 1, on floats of mixed signs (x * 10 against a constant divisor of
 * both signs), and on integers through Cast: emitted C against the folds. */
static Node *b_mod(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 10.0f });
    Value *q = tb_const(g, "q", 1, (int64_t[]){ 4 }, (float[]){ 3.0f, -3.0f, 2.5f, -4.5f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *f0 = tb_node(g, "Mod", "f0", 2, (Value *[]){ m->outputs[0], q }, 1);
    f0->opset = 28;
    Node *f1 = tb_node(g, "Mod", "f1", 2, (Value *[]){ m->outputs[0], q }, 1);
    tb_attr_int(g, f1, "fmod", 1);
    Node *ci = tb_node(g, "Cast", "ci", 1, (Value *[]){ m->outputs[0] }, 1);
    tb_attr_int(g, ci, "to", DT_INT32);
    Node *cq = tb_node(g, "Cast", "cq", 1, (Value *[]){ q }, 1);
    tb_attr_int(g, cq, "to", DT_INT32);
    Node *i0 = tb_node(g, "Mod", "i0", 2, (Value *[]){ ci->outputs[0], cq->outputs[0] }, 1);
    Node *i0f = tb_node(g, "Cast", "i0f", 1, (Value *[]){ i0->outputs[0] }, 1);
    tb_attr_int(g, i0f, "to", DT_FLOAT);
    Node *s1 = tb_node(g, "Add", "s1", 2, (Value *[]){ f0->outputs[0], f1->outputs[0] }, 1);
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ s1->outputs[0], i0f->outputs[0] }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m, f0, f1, ci, cq, i0, i0f, s1 }, 8);
    return out;
}

Test(opsmore_run, mod_float_and_int) { emit_vs_fold(b_mod, 1); }

/* BitShift both ways on int8 (arithmetic right shifts of negative values, left shifts
 * past the sign bit, negative and too-large amounts) and on uint16: emitted C against
 * the folds.  x * 20 through Cast gives values of both signs. */
static Node *b_bitshift(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 20.0f });
    Value *q = tb_const(g, "q", 1, (int64_t[]){ 4 }, (float[]){ 1.0f, 3.0f, -2.0f, 9.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *out = NULL;
    const DType types[] = { DT_INT8, DT_UINT16 };
    const char *dirs[] = { "LEFT", "RIGHT" };
    Node *chain[16];
    int nc = 0;
    chain[nc++] = m;
    Value *sum = NULL;
    for (int t = 0; t < 2; t++) {
        Node *cx = tb_node(g, "Cast", "cx", 1, (Value *[]){ m->outputs[0] }, 1);
        tb_attr_int(g, cx, "to", types[t]);
        Node *cq = tb_node(g, "Cast", "cq", 1, (Value *[]){ q }, 1);
        tb_attr_int(g, cq, "to", types[t]);
        chain[nc++] = cx, chain[nc++] = cq;
        for (int dir = 0; dir < 2; dir++) {
            Node *s = tb_node(g, "BitShift", "s", 2, (Value *[]){ cx->outputs[0],
                                                                  cq->outputs[0] }, 1);
            tb_attr_str(g, s, "direction", dirs[dir]);
            s->opset = 28;
            Node *f = tb_node(g, "Cast", "f", 1, (Value *[]){ s->outputs[0] }, 1);
            tb_attr_int(g, f, "to", DT_FLOAT);
            chain[nc++] = s, chain[nc++] = f;
            if (!sum) {
                sum = f->outputs[0];
                continue;
            }
            out = tb_node(g, "Add", "a", 2, (Value *[]){ sum, f->outputs[0] }, 1);
            sum = out->outputs[0];
            chain[nc++] = out;
        }
    }
    if (konst) tb_fold_chain(g, chain, nc - 1);
    return out;
}

Test(opsmore_run, bitshift_signed_and_unsigned) { emit_vs_fold(b_bitshift, 1); }

/* LogSoftmax over the middle axis plus Hardmax over the last of x * 4: emitted C against
 * the folds. */
static Node *b_logsoftmax_hardmax(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 5, 3 }, 0);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 4.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *ls = tb_node(g, "LogSoftmax", "ls", 1, (Value *[]){ m->outputs[0] }, 1);
    tb_attr_int(g, ls, "axis", 1);
    Node *hm = tb_node(g, "Hardmax", "hm", 1, (Value *[]){ m->outputs[0] }, 1);
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ ls->outputs[0], hm->outputs[0] }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m, ls, hm }, 3);
    return out;
}

Test(opsmore_run, logsoftmax_and_hardmax) { emit_vs_fold(b_logsoftmax_hardmax, 1); }

/* ---- Trilu ------------------------------------------------------------------------------ */

/* Upper with k = 1 and lower with k = -1 on a batch of two 3 x 4 matrices; no k is 0;
 * rank 1 is refused. */
Test(opsmore_trilu, triangles_and_offsets) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3, 4 }, dk[] = { 1 }, d1[] = { 4 };
    double x[24];
    for (int i = 0; i < 24; i++) x[i] = i + 1;
    Value *xv = tb_value(g, "x", DT_FLOAT, 3, dx, x);
    Node *u = tb_op_node(g, "Trilu", 14, 2, (Value *[]){ xv, tb_value(g, "k", DT_INT64, 1, dk,
                                                                     (double[]){ 1 }) }, 1);
    tb_fold_ok(g, u);
    double up[24] = { 0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12,
                      0, 14, 15, 16, 0, 0, 19, 20, 0, 0, 0, 24 };
    tb_expect(u->outputs[0], DT_FLOAT, 3, dx, up, TB_EXACT);
    Node *l = tb_op_node(g, "Trilu", 14, 2, (Value *[]){ xv, tb_value(g, "km", DT_INT64, 1, dk,
                                                                     (double[]){ -1 }) }, 1);
    tb_attr_int(g, l, "upper", 0);
    tb_fold_ok(g, l);
    double lo[24] = { 0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0,
                      0, 0, 0, 0, 17, 0, 0, 0, 21, 22, 0, 0 };
    tb_expect(l->outputs[0], DT_FLOAT, 3, dx, lo, TB_EXACT);
    Node *z = tb_op_node(g, "Trilu", 14, 1, (Value *[]){ xv }, 1);
    tb_fold_ok(g, z);
    cr_assert_eq(ou_get_f64(z->outputs[0], 4), 0);     /* (1, 0) is below the diagonal */
    cr_assert_eq(ou_get_f64(z->outputs[0], 5), 6);     /* (1, 1) is on it */
    Node *bad = tb_op_node(g, "Trilu", 14, 1, (Value *[]){ tb_value(g, "v", DT_FLOAT, 1, d1,
                                                                    NULL) }, 1);
    tb_fold_err(g, bad, "needs 2 or more");
    ir_graph_free(g);
}

/* Lower triangle with k = 2 of x * 3: emitted C against the fold. */
static Node *b_trilu(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 4, 5 }, 0);
    Value *k = tb_value(g, "k", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 2 });
    Value *c = tb_const(g, "c", 0, NULL, (float[]){ 3.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, c }, 1);
    Node *t = tb_node(g, "Trilu", "t", 2, (Value *[]){ m->outputs[0], k }, 1);
    tb_attr_int(g, t, "upper", 0);
    if (konst) tb_fold_chain(g, (Node *[]){ m }, 1);
    return t;
}

Test(opsmore_run, trilu_lower) { emit_vs_fold(b_trilu, 1); }

/* ---- GatherElements ---------------------------------------------------------------------- */

/* Axis 1 with a negative index and indices narrower than the data; an index out of range
 * is refused when folding; indices of another rank are refused. */
Test(opsmore_gather_elements, values_negative_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, di[] = { 2, 2 }, d1[] = { 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *ix = tb_value(g, "i", DT_INT64, 2, di, (double[]){ 2, 0, -1, 1 });
    Node *n = tb_op_node(g, "GatherElements", 13, 2, (Value *[]){ x, ix }, 1);
    tb_attr_int(g, n, "axis", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, di, (double[]){ 3, 1, 6, 5 }, TB_EXACT);
    Value *bad = tb_value(g, "b", DT_INT64, 2, di, (double[]){ 0, 3, 0, 0 });
    Node *m = tb_op_node(g, "GatherElements", 13, 2, (Value *[]){ x, bad }, 1);
    tb_attr_int(g, m, "axis", 1);
    tb_fold_err(g, m, "out of range");
    Node *r = tb_op_node(g, "GatherElements", 13, 2,
                         (Value *[]){ x, tb_value(g, "r", DT_INT64, 1, d1,
                                                  (double[]){ 0, 1 }) }, 1);
    tb_fold_err(g, r, "rank");
    ir_graph_free(g);
}

/* Axis 0 of x * 2 with constant indices of both signs: emitted C against the fold. */
static Node *b_gather_elements(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *ix = tb_value(g, "i", DT_INT32, 2, (int64_t[]){ 2, 4 },
                         (double[]){ 0, 2, -1, 1, 2, -3, 0, 0 });
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 2.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *ge = tb_node(g, "GatherElements", "ge", 2, (Value *[]){ m->outputs[0], ix }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m }, 1);
    return ge;
}

Test(opsmore_run, gather_elements_axis0) { emit_vs_fold(b_gather_elements, 1); }

/* ScatterElements along axis 1: plain (a duplicate index keeps the last update), add,
 * max; an index out of range is refused when folding. */
Test(opsmore_gather_elements, scatter_plain_and_reductions) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, di[] = { 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *ix = tb_value(g, "i", DT_INT64, 2, di, (double[]){ 2, 2, -3, 1 });
    Value *u = tb_value(g, "u", DT_FLOAT, 2, di, (double[]){ 10, 20, 30, 0 });
    const char *red[] = { "none", "add", "max" };
    const double want[3][6] = { { 1, 2, 20, 30, 0, 6 }, { 1, 2, 33, 34, 5, 6 },
                                { 1, 2, 20, 30, 5, 6 } };
    for (int r = 0; r < 3; r++) {
        Node *n = tb_op_node(g, "ScatterElements", 18, 3, (Value *[]){ x, ix, u }, 1);
        tb_attr_int(g, n, "axis", 1);
        tb_attr_str(g, n, "reduction", red[r]);
        tb_fold_ok(g, n);
        tb_expect(n->outputs[0], DT_FLOAT, 2, dx, want[r], TB_EXACT);
    }
    Value *bad = tb_value(g, "b", DT_INT64, 2, di, (double[]){ 0, 3, 0, 0 });
    Node *m = tb_op_node(g, "ScatterElements", 18, 3, (Value *[]){ x, bad, u }, 1);
    tb_attr_int(g, m, "axis", 1);
    tb_fold_err(g, m, "out of range");
    ir_graph_free(g);
}

/* ScatterElements with mul on axis 0 of x and constant updates: emitted C against the
 * fold. */
static Node *b_scatter_elements(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *ix = tb_value(g, "i", DT_INT64, 2, (int64_t[]){ 2, 4 },
                         (double[]){ 0, 2, -1, 1, 2, -3, 0, 0 });
    Value *u = tb_const(g, "u", 2, (int64_t[]){ 2, 4 },
                        (float[]){ 2, 3, -1, 0.5f, 4, 1.5f, -2, 10 });
    Node *s = tb_node(g, "ScatterElements", "s", 3, (Value *[]){ x, ix, u }, 1);
    tb_attr_str(g, s, "reduction", "mul");
    s->opset = 18;
    return s;
}

Test(opsmore_run, scatter_elements_mul) { emit_vs_fold(b_scatter_elements, 1); }

/* ---- OneHot ------------------------------------------------------------------------------ */

/* Depth 3 on axis 0 and -1, a negative index, one out of range, float indices. */
Test(opsmore_onehot, axes_negative_and_out_of_range) {
    Graph *g = ir_graph_new(0);
    int64_t di[] = { 3 }, d1[] = { 1 }, dv[] = { 2 };
    Value *ix = tb_value(g, "i", DT_INT64, 1, di, (double[]){ 0, -1, 5 });
    Value *dep = tb_value(g, "d", DT_FLOAT, 1, d1, (double[]){ 3 });
    Value *v = tb_value(g, "v", DT_FLOAT, 1, dv, (double[]){ -1, 7 });
    Node *n = tb_op_node(g, "OneHot", 11, 3, (Value *[]){ ix, dep, v }, 1);
    tb_fold_ok(g, n);      /* axis -1: [3 indices][3 positions] */
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 3 },
              (double[]){ 7, -1, -1, -1, -1, 7, -1, -1, -1 }, TB_EXACT);
    Node *a0 = tb_op_node(g, "OneHot", 11, 3, (Value *[]){ ix, dep, v }, 1);
    tb_attr_int(g, a0, "axis", 0);
    tb_fold_ok(g, a0);     /* axis 0: [3 positions][3 indices] */
    tb_expect(a0->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 3 },
              (double[]){ 7, -1, -1, -1, -1, -1, -1, 7, -1 }, TB_EXACT);
    Value *fx = tb_value(g, "f", DT_FLOAT, 1, di, (double[]){ 1.7, -0.5, -3.9 });
    Node *f = tb_op_node(g, "OneHot", 11, 3, (Value *[]){ fx, dep, v }, 1);
    tb_fold_ok(g, f);      /* 1.7 -> 1, -0.5 -> 0, -3.9 -> -3 -> 0 */
    tb_expect(f->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 3 },
              (double[]){ -1, 7, -1, 7, -1, -1, 7, -1, -1 }, TB_EXACT);
    ir_graph_free(g);
}

/* OneHot of x * 3 (float indices of both signs, some out of range) at axis 1: emitted C
 * against the fold. */
static Node *b_onehot(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 3.0f });
    Value *dep = tb_value(g, "d", DT_INT64, 0, NULL, (double[]){ 2 });
    Value *v = tb_const(g, "v", 1, (int64_t[]){ 2 }, (float[]){ 0.5f, 2.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *o = tb_node(g, "OneHot", "o", 3, (Value *[]){ m->outputs[0], dep, v }, 1);
    tb_attr_int(g, o, "axis", 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m }, 1);
    return o;
}

Test(opsmore_run, onehot_float_indices) { emit_vs_fold(b_onehot, 1); }

/* ---- LpNormalization, ScatterND ---------------------------------------------------------- */

/* L1 and L2 along axis 1 of [2][2]; a zero row stays zero; p = 3 is refused. */
Test(opsmore_norm, lpnorm_l1_l2_and_zero_rows) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 3, -4, 0, 0 });
    Node *l1 = tb_op_node(g, "LpNormalization", 22, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, l1, "p", 1);
    tb_fold_ok(g, l1);
    tb_expect(l1->outputs[0], DT_FLOAT, 2, dx, (double[]){ 3.0 / 7, -4.0 / 7, 0, 0 }, TB_REL(1e-7));
    Node *l2 = tb_op_node(g, "LpNormalization", 22, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, l2);
    tb_expect(l2->outputs[0], DT_FLOAT, 2, dx, (double[]){ 0.6, -0.8, 0, 0 }, TB_REL(1e-7));
    Node *bad = tb_op_node(g, "LpNormalization", 22, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, bad, "p", 3);
    tb_fold_err(g, bad, "p must be 1 or 2");
    ir_graph_free(g);
}

/* Row slices of [3][2] by 1-tuples (one negative), element updates by 2-tuples with add;
 * a coordinate out of range is refused when folding. */
Test(opsmore_gather_elements, scatter_nd_slices_and_elements) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *rows = tb_value(g, "r", DT_INT64, 2, (int64_t[]){ 2, 1 }, (double[]){ -1, 0 });
    Value *ru = tb_value(g, "ru", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 10, 20, 30, 40 });
    Node *n = tb_op_node(g, "ScatterND", 18, 3, (Value *[]){ x, rows, ru }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dx, (double[]){ 30, 40, 3, 4, 10, 20 }, TB_EXACT);
    Value *el = tb_value(g, "e", DT_INT64, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 1, 1, 1 });
    Value *eu = tb_value(g, "eu", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 5, 7 });
    Node *a = tb_op_node(g, "ScatterND", 18, 3, (Value *[]){ x, el, eu }, 1);
    tb_attr_str(g, a, "reduction", "add");
    tb_fold_ok(g, a);
    tb_expect(a->outputs[0], DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 16, 5, 6 }, TB_EXACT);
    Value *far = tb_value(g, "f", DT_INT64, 2, (int64_t[]){ 2, 1 }, (double[]){ 3, 0 });
    tb_fold_err(g, tb_op_node(g, "ScatterND", 18, 3, (Value *[]){ x, far, ru }, 1), "out of range");
    ir_graph_free(g);
}

/* L1 normalisation along axis 0 and ScatterND with max into x: emitted C against the
 * folds. */
static Node *b_lp_scatternd(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 4 }, 0);
    Node *lp = tb_node(g, "LpNormalization", "lp", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, lp, "p", 1);
    tb_attr_int(g, lp, "axis", 0);
    Value *ix = tb_value(g, "i", DT_INT64, 2, (int64_t[]){ 3, 2 }, (double[]){ 0, 1, -1, 3, 0, 1 });
    Value *u = tb_const(g, "u", 1, (int64_t[]){ 3 }, (float[]){ 0.25f, -2.0f, 0.75f });
    Node *s = tb_node(g, "ScatterND", "s", 3, (Value *[]){ lp->outputs[0], ix, u }, 1);
    tb_attr_str(g, s, "reduction", "max");
    s->opset = 18;
    if (konst) tb_fold_chain(g, (Node *[]){ lp }, 1);
    return s;
}

Test(opsmore_run, lpnorm_and_scatter_nd) { emit_vs_fold(b_lp_scatternd, 1); }

/* ---- TopK -------------------------------------------------------------------------------- */

/* Largest and smallest 2 of each row of [2][4], ties in index order; along axis 0; K
 * larger than the axis is refused. */
Test(opsmore_topk, largest_smallest_ties_and_axis) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 4 }, d1[] = { 1 }, dy[] = { 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 3, 1, 3, 2, -1, 5, 0, 5 });
    Value *k = tb_value(g, "k", DT_INT64, 1, d1, (double[]){ 2 });
    Node *n = tb_op_node(g, "TopK", 11, 2, (Value *[]){ x, k }, 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, (double[]){ 3, 3, 5, 5 }, TB_EXACT);
    tb_expect(n->outputs[1], DT_INT64, 2, dy, (double[]){ 0, 2, 1, 3 }, TB_EXACT);
    Node *s = tb_op_node(g, "TopK", 11, 2, (Value *[]){ x, k }, 2);
    tb_attr_int(g, s, "largest", 0);
    tb_fold_ok(g, s);
    tb_expect(s->outputs[0], DT_FLOAT, 2, dy, (double[]){ 1, 2, -1, 0 }, TB_EXACT);
    tb_expect(s->outputs[1], DT_INT64, 2, dy, (double[]){ 1, 3, 0, 2 }, TB_EXACT);
    Value *k1 = tb_value(g, "k1", DT_INT64, 1, d1, (double[]){ 1 });
    Node *a0 = tb_op_node(g, "TopK", 11, 2, (Value *[]){ x, k1 }, 2);
    tb_attr_int(g, a0, "axis", 0);
    tb_fold_ok(g, a0);
    tb_expect(a0->outputs[0], DT_FLOAT, 2, (int64_t[]){ 1, 4 }, (double[]){ 3, 5, 3, 5 }, TB_EXACT);
    Value *k9 = tb_value(g, "k9", DT_INT64, 1, d1, (double[]){ 9 });
    tb_fold_err(g, tb_op_node(g, "TopK", 11, 2, (Value *[]){ x, k9 }, 2), "out of range");
    ir_graph_free(g);
}

/* The 3 largest of each row of round(x * 4) (ties likely) along the last axis; values
 * plus 100 x indices: emitted C against the fold. */
static Node *b_topk(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 6 }, 0);
    Value *c = tb_const(g, "c", 0, NULL, (float[]){ 4.0f });
    Value *k = tb_value(g, "k", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 3 });
    Value *h = tb_const(g, "h", 0, NULL, (float[]){ 100.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, c }, 1);
    Node *r = tb_node(g, "Round", "r", 1, (Value *[]){ m->outputs[0] }, 1);
    Node *t = tb_node(g, "TopK", "t", 2, (Value *[]){ r->outputs[0], k }, 2);
    Node *ci = tb_node(g, "Cast", "ci", 1, (Value *[]){ t->outputs[1] }, 1);
    tb_attr_int(g, ci, "to", DT_FLOAT);
    Node *sc = tb_node(g, "Mul", "sc", 2, (Value *[]){ ci->outputs[0], h }, 1);
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ t->outputs[0], sc->outputs[0] }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m, r, t, ci, sc }, 5);
    return out;
}

Test(opsmore_run, topk_with_ties) { emit_vs_fold(b_topk, 1); }

/* Sum of three one-element inputs: each input's pass declares its locals again, which
 * once clashed in one scope (the nest simplified to no loop at all). */
static Node *b_sum_scalars(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 1, (int64_t[]){ 1 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 1, (int64_t[]){ 1 }, 1);
    Value *c = tb_e2e_input(g, konst, "c", 1, (int64_t[]){ 1 }, 2);
    return tb_node(g, "Sum", "s", 3, (Value *[]){ a, b, c }, 1);
}

Test(opsmore_run, sum_of_single_elements) { emit_vs_fold(b_sum_scalars, 1); }

/* ---- ConvTranspose ----------------------------------------------------------------------- */

/* 1-D by hand: x [1][1][3] = 1, 2, 3 with w [1][1][2] = 1, 10, stride 2: each input puts
 * (v, 10 v) at 2i, 2i + 1; pads trim the ends; output_shape and SAME_UPPER fix the size;
 * a W of the wrong channel count is refused. */
Test(opsmore_convtranspose, scatter_strides_pads_and_sizes) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 1, 1, 3 }, dw[] = { 1, 1, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 3, dx, (double[]){ 1, 2, 3 });
    Value *w = tb_value(g, "w", DT_FLOAT, 3, dw, (double[]){ 1, 10 });
    Node *n = tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w }, 1);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2 }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 1, 6 },
              (double[]){ 1, 10, 2, 20, 3, 30 }, TB_EXACT);
    Node *p = tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w }, 1);
    tb_attr_ints(g, p, "strides", (int64_t[]){ 2 }, 1);
    tb_attr_ints(g, p, "pads", (int64_t[]){ 1, 2 }, 2);
    tb_fold_ok(g, p);
    tb_expect(p->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 1, 3 }, (double[]){ 10, 2, 20 },
              TB_EXACT);
    Node *o = tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w }, 1);
    tb_attr_ints(g, o, "strides", (int64_t[]){ 2 }, 1);
    tb_attr_ints(g, o, "output_shape", (int64_t[]){ 7 }, 1);
    tb_fold_ok(g, o);      /* total padding 6 - 7 = -1: begin -1 - (-1 // 2) = 0, the end grows */
    tb_expect(o->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 1, 7 },
              (double[]){ 1, 10, 2, 20, 3, 30, 0 }, TB_EXACT);
    Node *s = tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w }, 1);
    tb_attr_ints(g, s, "strides", (int64_t[]){ 2 }, 1);
    tb_attr_str(g, s, "auto_pad", "SAME_UPPER");
    tb_fold_ok(g, s);      /* in x stride = 6: no padding needed */
    tb_expect(s->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 1, 6 },
              (double[]){ 1, 10, 2, 20, 3, 30 }, TB_EXACT);
    Value *w2 = tb_value(g, "w2", DT_FLOAT, 3, (int64_t[]){ 2, 1, 2 }, (double[]){ 1, 1, 1, 1 });
    tb_fold_err(g, tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w2 }, 1),
                "input channels");
    /* output_padding must stay below max(stride, dilation) */
    Node *op = tb_op_node(g, "ConvTranspose", 11, 2, (Value *[]){ x, w }, 1);
    tb_attr_ints(g, op, "output_padding", (int64_t[]){ 5 }, 1);
    tb_fold_err(g, op, "output_padding 5 on spatial dim 0");
    ir_graph_free(g);
}

/* 2-D, 2 groups, strides 2 x 1, dilation 2 on the first axis, asymmetric pads, output
 * padding and a bias: emitted C against the fold. */
static Node *b_convtranspose(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 4, 3, 5 }, 0);
    Value *w = tb_const_rand(g, "w", 4, (int64_t[]){ 4, 3, 3, 2 }, 5, -1, 1);
    Value *b = tb_const_rand(g, "b", 1, (int64_t[]){ 6 }, 6, -1, 1);
    Node *n = tb_node(g, "ConvTranspose", "ct", 3, (Value *[]){ x, w, b }, 1);
    tb_attr_int(g, n, "group", 2);
    tb_attr_ints(g, n, "strides", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, n, "dilations", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, n, "pads", (int64_t[]){ 1, 0, 0, 1 }, 4);
    tb_attr_ints(g, n, "output_padding", (int64_t[]){ 1, 0 }, 2);
    return n;
}

Test(opsmore_run, convtranspose_groups_strides_dilations) { emit_vs_fold(b_convtranspose, 1); }

/* ---- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ---------------------------------- */

/* NLL on [2][3] scores: each reduction, class weights, ignore_index; a target out of
 * range is refused when folding. */
Test(opsmore_loss, nll_reductions_weights_and_ignore) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, dt[] = { 2 }, dw[] = { 3 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ -1, -2, -3, -4, -5, -6 });
    Value *t = tb_value(g, "t", DT_INT64, 1, dt, (double[]){ 2, 0 });
    Value *w = tb_value(g, "w", DT_FLOAT, 1, dw, (double[]){ 0.5, 1, 2 });
    const char *red[] = { "none", "sum", "mean" };
    for (int r = 0; r < 3; r++) {
        Node *n = tb_op_node(g, "NegativeLogLikelihoodLoss", 22, 3, (Value *[]){ x, t, w }, 1);
        tb_attr_str(g, n, "reduction", red[r]);
        tb_fold_ok(g, n);
        /* losses 3 * 2 = 6 and 4 * 0.5 = 2; weights 2 + 0.5 */
        if (r == 0) tb_expect(n->outputs[0], DT_FLOAT, 1, dt, (double[]){ 6, 2 }, TB_REL(1e-6));
        if (r == 1) tb_expect(n->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 8 }, TB_REL(1e-6));
        if (r == 2) tb_expect(n->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 8 / 2.5 },
                              TB_REL(1e-6));
    }
    Node *ig = tb_op_node(g, "NegativeLogLikelihoodLoss", 22, 2, (Value *[]){ x, t }, 1);
    tb_attr_int(g, ig, "ignore_index", 0);
    tb_fold_ok(g, ig);     /* mean over the one target left, unweighted */
    tb_expect(ig->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 3 }, TB_REL(1e-6));
    Value *far = tb_value(g, "far", DT_INT64, 1, dt, (double[]){ 3, 0 });
    tb_fold_err(g, tb_op_node(g, "NegativeLogLikelihoodLoss", 22, 2, (Value *[]){ x, far }, 1),
                "out of range");
    ir_graph_free(g);
}

/* SCE is NLL of the log-softmax over the class axis; its second output is that
 * log-softmax.  Scores [1][2][2] (two positions). */
Test(opsmore_loss, sce_is_nll_of_log_softmax) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 1, 2, 2 }, dt[] = { 1, 2 };
    Value *x = tb_value(g, "x", DT_DOUBLE, 3, dx, (double[]){ 0, 1, 0, 3 });
    Value *t = tb_value(g, "t", DT_INT32, 2, dt, (double[]){ 1, 0 });
    Node *n = tb_op_node(g, "SoftmaxCrossEntropyLoss", 13, 2, (Value *[]){ x, t }, 2);
    tb_attr_str(g, n, "reduction", "none");
    tb_fold_ok(g, n);
    /* position 0: classes 0, 0 -> log_softmax -log 2 each, target 1; position 1:
     * classes 1, 3 -> log_softmax 1 - lse and 3 - lse, target 0 */
    const double lse = log(exp(1.0) + exp(3.0));
    tb_expect(n->outputs[0], DT_DOUBLE, 2, dt, (double[]){ log(2.0), lse - 1 }, TB_REL(1e-12));
    tb_expect(n->outputs[1], DT_DOUBLE, 3, dx,
              (double[]){ -log(2.0), 1 - lse, -log(2.0), 3 - lse }, TB_REL(1e-12));
    ir_graph_free(g);
}

/* Both losses with weights, ignore_index and each reduction on x * 3 ([2][4][3] scores):
 * emitted C against the folds. */
static Node *b_losses(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 4, 3 }, 0);
    Value *t = tb_value(g, "t", DT_INT64, 2, (int64_t[]){ 2, 3 }, (double[]){ 0, 3, 1, 2, -1, 3 });
    Value *w = tb_const(g, "w", 1, (int64_t[]){ 4 }, (float[]){ 1.0f, 0.5f, 2.0f, 1.5f });
    Value *k = tb_const(g, "k", 0, NULL, (float[]){ 3.0f });
    Node *m = tb_node(g, "Mul", "m", 2, (Value *[]){ x, k }, 1);
    Node *nll = tb_node(g, "NegativeLogLikelihoodLoss", "nll", 3,
                        (Value *[]){ m->outputs[0], t, w }, 1);
    tb_attr_int(g, nll, "ignore_index", -1);
    tb_attr_str(g, nll, "reduction", "none");
    Node *sce = tb_node(g, "SoftmaxCrossEntropyLoss", "sce", 3,
                        (Value *[]){ m->outputs[0], t, w }, 2);
    tb_attr_int(g, sce, "ignore_index", -1);
    Node *sum = tb_node(g, "SoftmaxCrossEntropyLoss", "sum", 2,
                        (Value *[]){ m->outputs[0], t }, 1);
    tb_attr_int(g, sum, "ignore_index", -1);
    tb_attr_str(g, sum, "reduction", "sum");
    /* the per-position NLL losses plus the two scalars */
    Node *a = tb_node(g, "Add", "a", 2, (Value *[]){ nll->outputs[0], sce->outputs[0] }, 1);
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ a->outputs[0], sum->outputs[0] }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ m, nll, sce, sum, a }, 5);
    return out;
}

Test(opsmore_run, losses_with_weights_and_ignore_index) { emit_vs_fold(b_losses, 1); }

/* ---- CumSum, CumProd --------------------------------------------------------------------- */

/* Along axis 1 of [2][3]: plain, exclusive, reverse, both; a product; an integer sum that
 * wraps; an axis out of range. */
Test(opsmore_cumulative, sums_products_and_flags) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 3 }, d1[] = { 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *ax = tb_value(g, "ax", DT_INT64, 1, d1, (double[]){ 1 });
    const int64_t flags[4][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 }, { 1, 1 } };
    const double want[4][6] = { { 1, 3, 6, 4, 9, 15 }, { 0, 1, 3, 0, 4, 9 },
                                { 6, 5, 3, 15, 11, 6 }, { 5, 3, 0, 11, 6, 0 } };
    for (int f = 0; f < 4; f++) {
        Node *n = tb_op_node(g, "CumSum", 14, 2, (Value *[]){ x, ax }, 1);
        tb_attr_int(g, n, "exclusive", flags[f][0]);
        tb_attr_int(g, n, "reverse", flags[f][1]);
        tb_fold_ok(g, n);
        tb_expect(n->outputs[0], DT_FLOAT, 2, dx, want[f], TB_EXACT);
    }
    Node *p = tb_op_node(g, "CumProd", 26, 2, (Value *[]){ x, ax }, 1);
    tb_fold_ok(g, p);
    tb_expect(p->outputs[0], DT_FLOAT, 2, dx, (double[]){ 1, 2, 6, 4, 20, 120 }, TB_EXACT);
    Value *big = tb_value(g, "big", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 2147483647, 1 });
    Value *a0 = tb_value(g, "a0", DT_INT64, 1, d1, (double[]){ 0 });
    Node *w = tb_op_node(g, "CumSum", 14, 2, (Value *[]){ big, a0 }, 1);
    tb_fold_ok(g, w);
    tb_expect(w->outputs[0], DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 2147483647, -2147483648.0 },
              TB_EXACT);
    Value *a2 = tb_value(g, "a2", DT_INT64, 1, d1, (double[]){ 2 });
    tb_fold_err(g, tb_op_node(g, "CumSum", 14, 2, (Value *[]){ x, a2 }, 1), "out of range");
    ir_graph_free(g);
}

/* CumSum reverse exclusive along the middle axis and CumProd along the first, of x:
 * emitted C against the folds. */
static Node *b_cumulative(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 4, 3 }, 0);
    Value *a1 = tb_value(g, "a1", DT_INT64, 0, NULL, (double[]){ 1 });
    Value *a0 = tb_value(g, "a0", DT_INT64, 0, NULL, (double[]){ -3 });
    Node *c = tb_node(g, "CumSum", "c", 2, (Value *[]){ x, a1 }, 1);
    tb_attr_int(g, c, "exclusive", 1);
    tb_attr_int(g, c, "reverse", 1);
    Node *p = tb_node(g, "CumProd", "p", 2, (Value *[]){ x, a0 }, 1);
    p->opset = 26;
    Node *out = tb_node(g, "Add", "out", 2, (Value *[]){ c->outputs[0], p->outputs[0] }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ c, p }, 2);
    return out;
}

Test(opsmore_run, cumsum_and_cumprod) { emit_vs_fold(b_cumulative, 1); }

/* ---- tile, range ------------------------------------------------------------------------ */

Test(opsmore_tile, tile_and_range_values_and_errors) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 2, 2 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, (double[]){ 1, 2, 3, 4 });
    Value *r = tb_value(g, "r", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 });
    Node *t = tb_op_node(g, "Tile", 13, 2, (Value *[]){ x, r }, 1);
    tb_fold_ok(g, t);
    tb_expect(t->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 4 }, (double[]){ 1, 2, 1, 2, 3, 4, 3, 4 },
              TB_EXACT);
    Value *r3 = tb_value(g, "r3", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 1, 2, 3 });
    Node *tb = tb_op_node(g, "Tile", 13, 2, (Value *[]){ x, r3 }, 1);
    tb_fold_err(g, tb, "repeats has 3 entries for an input of rank 2");
    Value *rn = tb_value(g, "rn", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 1, -1 });
    Node *tn = tb_op_node(g, "Tile", 13, 2, (Value *[]){ x, rn }, 1);
    tb_fold_err(g, tn, "must be >= 0");
    Value *s = tb_value(g, "s", DT_INT32, 0, NULL, (double[]){ 10 });
    Value *l = tb_value(g, "l", DT_INT32, 0, NULL, (double[]){ 4 });
    Value *dl = tb_value(g, "dl", DT_INT32, 0, NULL, (double[]){ -3 });
    Node *rg = tb_op_node(g, "Range", 11, 3, (Value *[]){ s, l, dl }, 1);
    tb_fold_ok(g, rg);
    tb_expect(rg->outputs[0], DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 10, 7 }, TB_EXACT);
    Value *z = tb_value(g, "z", DT_INT32, 0, NULL, (double[]){ 0 });
    Node *rz = tb_op_node(g, "Range", 11, 3, (Value *[]){ s, l, z }, 1);
    tb_fold_err(g, rz, "delta must be non-zero");
    ir_graph_free(g);
}

static Node *b_tile(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 1, 3 }, 0);
    Value *r = tb_const_i64(g, "r", 1, (int64_t[]){ 3 }, (int64_t[]){ 2, 4, 1 });
    return tb_node(g, "Tile", "t", 2, (Value *[]){ x, r }, 1);
}

Test(opsmore_run, tile) { emit_vs_fold(b_tile, 1); }

Test(opsmore_unary, libm_functions) {
    Graph *g = ir_graph_new(0);
    int64_t dx[] = { 3 };
    Value *x = tb_value(g, "x", DT_DOUBLE, 1, dx, (double[]){ -0.5, 0.25, 0.75 });
    const char *ops[] = { "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Atanh" };
    double (*fn[])(double) = { tan, asin, acos, atan, sinh, cosh, asinh, atanh };
    for (int k = 0; k < 8; k++) {
        Node *n = tb_op_node(g, ops[k], 9, 1, &x, 1);
        tb_fold_ok(g, n);
        double want[] = { fn[k](-0.5), fn[k](0.25), fn[k](0.75) };
        tb_expect(n->outputs[0], DT_DOUBLE, 1, dx, want, TB_EXACT);
    }
    Node *ac = tb_op_node(g, "Acosh", 9, 1, &x, 1);
    tb_fold_ok(g, ac);
    cr_assert(isnan(ou_get_f64(ac->outputs[0], 0)), "acosh(-0.5) must be NaN");
    ir_graph_free(g);
}
