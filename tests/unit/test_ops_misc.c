/* test_ops_misc.c: the small operators of the misc batch (BitwiseAnd/Or/Xor/Not, IsInf,
 * IsNaN, Shrink, EyeLike, GatherND, ReverseSequence, Det, Einsum) and the legacy forms of
 * old opsets (Add/Sub/Mul/Div with broadcast and axis, PRelu's per-channel slope,
 * BatchNormalization's is_test): inference and folding on one-node graphs with values
 * derived by hand from the spec, the error paths (Einsum's parser against hostile
 * equations), and the emitted code run end to end against the folder on the same data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* ---- Bitwise ---- */

Test(misc, bitwise_and_broadcast) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_INT32, 2, (int64_t[]){ 2, 3 },
                        (double[]){ 12, 10, -1, 7, 0, -8 });
    Value *b = tb_value(g, "b", DT_INT32, 1, (int64_t[]){ 3 }, (double[]){ 6, 3, 255 });
    Node *n = tb_op_node(g, "BitwiseAnd", 18, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, n);
    /* 12&6=4 10&3=2 -1&255=255; 7&6=6 0&3=0 -8&255=248 */
    tb_expect(n->outputs[0], DT_INT32, 2, (int64_t[]){ 2, 3 },
              (double[]){ 4, 2, 255, 6, 0, 248 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, bitwise_or_xor_uint64) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 5, 12 });
    Value *b = tb_value(g, "b", DT_UINT64, 0, NULL, (double[]){ 3 });
    Node *o = tb_op_node(g, "BitwiseOr", 18, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, o);
    tb_expect(o->outputs[0], DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 7, 15 }, TB_EXACT);
    Node *x = tb_op_node(g, "BitwiseXor", 18, 2, (Value *[]){ a, b }, 1);
    tb_fold_ok(g, x);
    tb_expect(x->outputs[0], DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 6, 15 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, bitwise_not_widths) {
    Graph *g = tb_graph();
    Value *u = tb_value(g, "u", DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 0, 15, 255 });
    Node *n = tb_op_node(g, "BitwiseNot", 18, 1, (Value *[]){ u }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 255, 240, 0 }, TB_EXACT);
    Value *s = tb_value(g, "s", DT_INT16, 1, (int64_t[]){ 2 }, (double[]){ 0, -32768 });
    Node *m = tb_op_node(g, "BitwiseNot", 18, 1, (Value *[]){ s }, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_INT16, 1, (int64_t[]){ 2 }, (double[]){ -1, 32767 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, bitwise_errors) {
    Graph *g = tb_graph();
    Value *f = tb_value(g, "f", DT_FLOAT, 1, (int64_t[]){ 2 }, NULL);
    Value *i = tb_value(g, "i", DT_INT32, 1, (int64_t[]){ 2 }, NULL);
    Value *j = tb_value(g, "j", DT_INT64, 1, (int64_t[]){ 2 }, NULL);
    Value *k = tb_value(g, "k", DT_INT32, 1, (int64_t[]){ 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "BitwiseAnd", 18, 2, (Value *[]){ f, f }, 1), "does not accept");
    tb_fold_err(g, tb_op_node(g, "BitwiseOr", 18, 2, (Value *[]){ i, j }, 1), "input types differ");
    tb_fold_err(g, tb_op_node(g, "BitwiseXor", 18, 2, (Value *[]){ i, k }, 1),
                "cannot be broadcast");
    tb_fold_err(g, tb_op_node(g, "BitwiseNot", 18, 1, (Value *[]){ f }, 1), "does not accept");
    ir_graph_free(g);
}

/* ---- IsInf, IsNaN ---- */

Test(misc, isinf_isnan) {
    Graph *g = tb_graph();
    const double vals[] = { INFINITY, -INFINITY, 1.5, NAN, 0 };
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 5 }, vals);
    Node *all = tb_op_node(g, "IsInf", 20, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, all);
    tb_expect(all->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 1, 1, 0, 0, 0 }, TB_EXACT);
    Node *pos = tb_op_node(g, "IsInf", 20, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, pos, "detect_negative", 0);
    tb_fold_ok(g, pos);
    tb_expect(pos->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 1, 0, 0, 0, 0 }, TB_EXACT);
    Node *neg = tb_op_node(g, "IsInf", 20, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, neg, "detect_positive", 0);
    tb_fold_ok(g, neg);
    tb_expect(neg->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 0, 1, 0, 0, 0 }, TB_EXACT);
    Node *nan = tb_op_node(g, "IsNaN", 20, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, nan);
    tb_expect(nan->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 0, 0, 0, 1, 0 }, TB_EXACT);
    Value *h = tb_value(g, "h", DT_FLOAT16, 1, (int64_t[]){ 2 }, (double[]){ NAN, INFINITY });
    Node *hn = tb_op_node(g, "IsNaN", 20, 1, (Value *[]){ h }, 1);
    tb_fold_ok(g, hn);
    tb_expect(hn->outputs[0], DT_BOOL, 1, (int64_t[]){ 2 }, (double[]){ 1, 0 }, TB_EXACT);
    Value *i = tb_value(g, "i", DT_INT32, 1, (int64_t[]){ 2 }, NULL);
    tb_fold_err(g, tb_op_node(g, "IsInf", 20, 1, (Value *[]){ i }, 1), "does not accept");
    ir_graph_free(g);
}

/* ---- Shrink ---- */

Test(misc, shrink_hard_and_soft) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, -1, 0, 1, 2 });
    Node *hard = tb_op_node(g, "Shrink", 9, 1, (Value *[]){ x }, 1);
    tb_attr_float(g, hard, "lambd", 1.5f);
    tb_fold_ok(g, hard);
    tb_expect(hard->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, 0, 0, 0, 2 },
              TB_EXACT);
    Node *soft = tb_op_node(g, "Shrink", 9, 1, (Value *[]){ x }, 1);
    tb_attr_float(g, soft, "lambd", 1.5f);
    tb_attr_float(g, soft, "bias", 1.5f);
    tb_fold_ok(g, soft);
    tb_expect(soft->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 },
              (double[]){ -0.5, 0, 0, 0, 0.5 }, TB_EXACT);
    /* defaults: lambd 0.5, bias 0 */
    Node *dflt = tb_op_node(g, "Shrink", 9, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, dflt);
    tb_expect(dflt->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, -1, 0, 1, 2 },
              TB_EXACT);
    ir_graph_free(g);
}

/* ---- legacy broadcasting (opset < 7) ---- */

Test(misc, legacy_add_axis) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *b = tb_value(g, "b", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 10, 20 });
    Node *n = tb_op_node(g, "Add", 6, 2, (Value *[]){ a, b }, 1);
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 0);
    tb_fold_ok(g, n);   /* b faces a's dim 0: b[i] added along rows */
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 },
              (double[]){ 11, 12, 13, 24, 25, 26 }, TB_EXACT);
    /* no axis: b faces the trailing dims; a size-1 dim broadcasts */
    Value *c = tb_value(g, "c", DT_FLOAT, 2, (int64_t[]){ 1, 3 }, (double[]){ 1, 0, -1 });
    Node *m = tb_op_node(g, "Mul", 6, 2, (Value *[]){ a, c }, 1);
    tb_attr_int(g, m, "broadcast", 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 0, -3, 4, 0, -6 },
              TB_EXACT);
    ir_graph_free(g);
}

Test(misc, legacy_broadcast_errors) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *b = tb_value(g, "b", DT_FLOAT, 1, (int64_t[]){ 2 }, NULL);
    Value *big = tb_value(g, "big", DT_FLOAT, 3, (int64_t[]){ 1, 2, 3 }, NULL);
    Node *n = tb_op_node(g, "Sub", 6, 2, (Value *[]){ a, b }, 1);
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 2);
    tb_fold_err(g, n, "cannot start at axis 2");
    Node *m = tb_op_node(g, "Div", 6, 2, (Value *[]){ a, b }, 1);
    tb_attr_int(g, m, "broadcast", 1);
    tb_attr_int(g, m, "axis", 1);      /* b [2] facing a's dim 1 (3) */
    tb_fold_err(g, m, "cannot be broadcast");
    Node *r = tb_op_node(g, "Add", 6, 2, (Value *[]){ a, big }, 1);
    tb_attr_int(g, r, "broadcast", 1);
    tb_fold_err(g, r, "cannot start at axis -1");
    ir_graph_free(g);
}

Test(misc, legacy_prelu_per_channel) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -1, 2, -3, 4 });
    Value *s = tb_value(g, "s", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0.5, 0.25 });
    Node *n = tb_op_node(g, "PRelu", 6, 2, (Value *[]){ x, s }, 1);
    tb_fold_ok(g, n);   /* channel 0: slope 0.5, channel 1: 0.25 */
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -0.5, 2, -0.75, 4 },
              TB_EXACT);
    Node *m = tb_op_node(g, "PRelu", 9, 2, (Value *[]){ x, s }, 1);
    tb_fold_ok(g, m);   /* opset 9: numpy, the slope faces the last dim */
    tb_expect(m->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -0.5, 2, -1.5, 4 },
              TB_EXACT);
    ir_graph_free(g);
}

Test(misc, batchnorm_opset6_is_test) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 2, 2, 2 }, NULL);
    Value *p[4];
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", k);
        p[k] = tb_value(g, name, DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 1 });
    }
    Value *ins[5] = { x, p[0], p[1], p[2], p[3] };
    Node *train = tb_op_node(g, "BatchNormalization", 6, 5, ins, 1);
    Diag d;
    diag_init(&d);
    cr_assert_not(train->op->infer(g, train, &d));
    cr_assert_not_null(strstr(d.messages[0], "is_test = 0"), "%s", d.messages[0]);
    diag_free(&d);
    Node *test = tb_op_node(g, "BatchNormalization", 6, 5, ins, 1);
    tb_attr_int(g, test, "is_test", 1);
    tb_attr_int(g, test, "spatial", 1);
    tb_attr_ints(g, test, "consumed_inputs", (int64_t[]){ 0, 0, 0, 1, 1 }, 5);
    diag_init(&d);
    cr_assert(test->op->infer(g, test, &d), "%s", d.n_messages ? d.messages[0] : "");
    diag_free(&d);
    ir_graph_free(g);
}

/* ---- EyeLike ---- */

Test(misc, eyelike_offsets_and_dtype) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 4 }, (double[12]){ 0 });
    Node *up = tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, up, "k", 1);
    tb_attr_int(g, up, "dtype", DT_INT32);
    tb_fold_ok(g, up);
    tb_expect(up->outputs[0], DT_INT32, 2, (int64_t[]){ 3, 4 },
              (double[]){ 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, TB_EXACT);
    Node *down = tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, down, "k", -2);
    tb_fold_ok(g, down);
    tb_expect(down->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 4 },
              (double[]){ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, TB_EXACT);
    Node *far = tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, far, "k", INT64_MIN);   /* no row: all zeros, no overflow */
    tb_fold_ok(g, far);
    tb_expect(far->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 4 }, (double[12]){ 0 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, eyelike_errors) {
    Graph *g = tb_graph();
    Value *x3 = tb_value(g, "x3", DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, NULL);
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, NULL);
    tb_fold_err(g, tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x3 }, 1), "needs 2");
    Node *bad = tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, bad, "dtype", 1000);
    tb_fold_err(g, bad, "not an ONNX data type");
    Node *str = tb_op_node(g, "EyeLike", 9, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, str, "dtype", DT_STRING);
    tb_fold_err(g, str, "not supported");
    ir_graph_free(g);
}

/* ---- GatherND ---- */

Test(misc, gathernd_spec_examples) {
    Graph *g = tb_graph();
    Value *data = tb_value(g, "data", DT_FLOAT, 3, (int64_t[]){ 2, 2, 2 },
                           (double[]){ 0, 1, 2, 3, 4, 5, 6, 7 });
    /* batch_dims 1: batch 0 takes row 1, batch 1 row 0 */
    Value *ind = tb_value(g, "ind", DT_INT64, 2, (int64_t[]){ 2, 1 }, (double[]){ 1, 0 });
    Node *n = tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, ind }, 1);
    tb_attr_int(g, n, "batch_dims", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 2, 3, 4, 5 }, TB_EXACT);
    /* batch_dims 0, full coordinates, a negative one: elements */
    Value *ind2 = tb_value(g, "ind2", DT_INT64, 2, (int64_t[]){ 2, 3 },
                           (double[]){ 0, 1, 1, -1, 0, -2 });
    Node *m = tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, ind2 }, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 3, 4 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, gathernd_errors) {
    Graph *g = tb_graph();
    Value *data = tb_value(g, "data", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 0, 1, 2, 3 });
    Value *out = tb_value(g, "out", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 2 });
    tb_fold_err(g, tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, out }, 1), "out of range");
    Value *wide = tb_value(g, "wide", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    tb_fold_err(g, tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, wide }, 1),
                "between 1 and 2");
    Value *i32 = tb_value(g, "i32", DT_INT32, 1, (int64_t[]){ 1 }, (double[]){ 0 });
    tb_fold_err(g, tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, i32 }, 1), "not int64");
    Value *ind = tb_value(g, "ind", DT_INT64, 2, (int64_t[]){ 3, 1 }, (double[]){ 0, 0, 0 });
    Node *b = tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, ind }, 1);
    tb_attr_int(g, b, "batch_dims", 1);
    tb_fold_err(g, b, "batch dim 0 differs");
    Node *b2 = tb_op_node(g, "GatherND", 12, 2, (Value *[]){ data, ind }, 1);
    tb_attr_int(g, b2, "batch_dims", 2);
    tb_fold_err(g, b2, "batch_dims 2 must be in");
    ir_graph_free(g);
}

/* ---- ReverseSequence ---- */

Test(misc, reversesequence_both_layouts) {
    Graph *g = tb_graph();
    /* [batch 2][time 3], batch_axis 0 */
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *lens = tb_value(g, "lens", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 3 });
    Node *n = tb_op_node(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens }, 1);
    tb_attr_int(g, n, "batch_axis", 0);
    tb_attr_int(g, n, "time_axis", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 2, 1, 3, 6, 5, 4 },
              TB_EXACT);
    /* [time 3][batch 2][2], defaults */
    Value *t = tb_value(g, "t", DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
                        (double[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 });
    Value *l2 = tb_value(g, "l2", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 3, 0 });
    Node *m = tb_op_node(g, "ReverseSequence", 10, 2, (Value *[]){ t, l2 }, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
              (double[]){ 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, reversesequence_errors) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[6]){ 0 });
    Value *lens = tb_value(g, "lens", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 4, 1 });
    tb_fold_err(g, tb_op_node(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens }, 1),
                "outside [0, 3]");
    Value *l3 = tb_value(g, "l3", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 1, 1, 1 });
    tb_fold_err(g, tb_op_node(g, "ReverseSequence", 10, 2, (Value *[]){ x, l3 }, 1),
                "one per batch entry");
    Node *ax = tb_op_node(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens }, 1);
    tb_attr_int(g, ax, "time_axis", 2);
    tb_fold_err(g, ax, "must be 0 and 1");
    ir_graph_free(g);
}

/* ---- Det ---- */

Test(misc, det_values) {
    Graph *g = tb_graph();
    /* det [[1,2],[3,4]] = -2; [[0,1],[1,0]] (a pivot swap) = -1; [[2,4],[1,2]] = 0 */
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
                        (double[]){ 1, 2, 3, 4, 0, 1, 1, 0, 2, 4, 1, 2 });
    Node *n = tb_op_node(g, "Det", 11, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ -2, -1, 0 }, TB_REL(1e-6));
    /* 3x3: 2(3*2-0*1) - 0 + 1(1*1-3*0) = 13 */
    Value *y = tb_value(g, "y", DT_DOUBLE, 2, (int64_t[]){ 3, 3 },
                        (double[]){ 2, 0, 1, 1, 3, 0, 0, 1, 2 });
    Node *m = tb_op_node(g, "Det", 11, 1, (Value *[]){ y }, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_DOUBLE, 0, NULL, (double[]){ 13 }, TB_REL(1e-12));
    Value *r = tb_value(g, "r", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "Det", 11, 1, (Value *[]){ r }, 1), "square matrices");
    ir_graph_free(g);
}

/* ---- Einsum ---- */

static Node *einsum(Graph *g, const char *eq, int n_in, Value *const *ins) {
    Node *n = tb_op_node(g, "Einsum", 12, n_in, ins, 1);
    tb_attr_str(g, n, "equation", eq);
    return n;
}

Test(misc, einsum_forms) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *v = tb_value(g, "v", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, 0, -1 });
    Value *sq = tb_value(g, "sq", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, 4 });
    Node *t = einsum(g, "ij->ji", 1, (Value *[]){ a });
    tb_fold_ok(g, t);
    tb_expect(t->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 4, 2, 5, 3, 6 },
              TB_EXACT);
    Node *rs = einsum(g, "ij -> i", 1, (Value *[]){ a });
    tb_fold_ok(g, rs);
    tb_expect(rs->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 6, 15 }, TB_EXACT);
    Node *mv = einsum(g, "ij,j", 2, (Value *[]){ a, v });   /* implicit: -> i */
    tb_fold_ok(g, mv);
    tb_expect(mv->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ -2, -2 }, TB_EXACT);
    Node *outer = einsum(g, "i,j->ij", 2, (Value *[]){ v, v });
    tb_fold_ok(g, outer);
    tb_expect(outer->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 3 },
              (double[]){ 1, 0, -1, 0, 0, 0, -1, 0, 1 }, TB_EXACT);
    Node *tr = einsum(g, "ii", 1, (Value *[]){ sq });     /* trace */
    tb_fold_ok(g, tr);
    tb_expect(tr->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 5 }, TB_EXACT);
    Node *ji = einsum(g, "ji", 1, (Value *[]){ a });      /* implicit output sorted: ij */
    tb_fold_ok(g, ji);
    tb_expect(ji->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 4, 2, 5, 3, 6 },
              TB_EXACT);
    Node *all = einsum(g, "...->", 1, (Value *[]){ a });
    tb_fold_ok(g, all);
    tb_expect(all->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 21 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, einsum_ellipsis_broadcast_and_ints) {
    Graph *g = tb_graph();
    /* "...i,...i->..." with [2][2] and [1][2]: row dot products against one row */
    Value *a = tb_value(g, "a", DT_INT32, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, -4 });
    Value *b = tb_value(g, "b", DT_INT32, 2, (int64_t[]){ 1, 2 }, (double[]){ 10, 100 });
    Node *n = einsum(g, "...i,...i->...", 2, (Value *[]){ a, b });
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 210, -370 }, TB_EXACT);
    ir_graph_free(g);
}

Test(misc, einsum_hostile_equations) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *b = tb_value(g, "b", DT_FLOAT, 2, (int64_t[]){ 4, 3 }, NULL);
    static const struct { const char *eq; const char *want; } cases[] = {
        { "i$j", "unexpected character 0x24" },
        { "ij-", "one \"->\"" },
        { "ij>i", "one \"->\"" },
        { "ij->i->j", "one \"->\"" },
        { "..ij", "not one \"...\"" },
        { "...i...j", "not one \"...\"" },
        { "ijk", "3 subscripts for rank 2" },
        { "i", "1 subscripts for rank 2" },
        { "ij,ij", "more terms" },
        { "ij->k", "'k' is in no input" },
        { "ij->ii", "'i' appears twice" },
        { "ij->i,j", "holds a ','" },
        { "abcdefghi", "more than 8 subscripts" },
        { "...->...ijklmnop", "is in no input" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        tb_fold_err(g, einsum(g, cases[k].eq, 1, (Value *[]){ a }), cases[k].want);
    tb_fold_err(g, tb_op_node(g, "Einsum", 12, 1, (Value *[]){ a }, 1),
                "'equation' (a string) is required");
    tb_fold_err(g, einsum(g, "ij,kj", 1, (Value *[]){ a }), "more terms than the 1 inputs");
    tb_fold_err(g, einsum(g, "ij", 2, (Value *[]){ a, b }), "1 input terms for 2 inputs");
    tb_fold_err(g, einsum(g, "ij,ij->ij", 2, (Value *[]){ a, b }), "'i' has size 4 in input 1");
    tb_fold_err(g, einsum(g, "...j,...j", 2, (Value *[]){ a, b }), "do not broadcast");
    /* an equation of 10,000 characters */
    char *longeq = malloc(10001);
    cr_assert_not_null(longeq);
    memset(longeq, ' ', 10000);
    longeq[10000] = '\0';
    tb_fold_err(g, einsum(g, longeq, 1, (Value *[]){ a }), "longer than");
    free(longeq);
    ir_graph_free(g);
}

Test(misc, einsum_fold_work_is_bounded) {
    Graph *g = tb_graph();
    enum { I = 1 << 15, J = 1 << 14 };     /* I * J products: more than the folder's cap */
    double *zeros = calloc(I, sizeof(double));
    cr_assert_not_null(zeros);
    Value *a = tb_value(g, "a", DT_FLOAT, 1, (int64_t[]){ I }, zeros);
    Value *b = tb_value(g, "b", DT_FLOAT, 1, (int64_t[]){ J }, zeros);
    free(zeros);
    tb_fold_err(g, einsum(g, "i,j->", 2, (Value *[]){ a, b }), "folding would compute more than");
    ir_graph_free(g);
}

/* ---- emitted code against the folder ---- */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: the output must agree to 1e-5 relative (NaN matching
 * NaN). */
static void emit_vs_fold(TbBuild build) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_REL(1e-5),
                                    .nan_equal = true });
}

static Node *b_einsum_bmm(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 3, 4, 5 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 3, (int64_t[]){ 3, 5, 2 }, 1);
    Node *n = tb_node(g, "Einsum", "es", 2, (Value *[]){ a, b }, 1);
    tb_attr_str(g, n, "equation", "bij,bjk->bik");
    n->opset = 12;
    return n;
}

static Node *b_einsum_diag(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 4, 4 }, 0);
    Node *n = tb_node(g, "Einsum", "es", 1, (Value *[]){ a }, 1);
    tb_attr_str(g, n, "equation", "...ii->...i");
    n->opset = 12;
    return n;
}

static Node *b_einsum_three(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 2, (int64_t[]){ 3, 4 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 1, (int64_t[]){ 4 }, 1);
    Value *c = tb_e2e_input(g, konst, "c", 2, (int64_t[]){ 1, 3 }, 2);
    Node *n = tb_node(g, "Einsum", "es", 3, (Value *[]){ a, b, c }, 1);
    tb_attr_str(g, n, "equation", "ij,j,...i");
    n->opset = 12;
    return n;
}

static Node *b_det(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 3, 4, 4 }, 0);
    Node *n = tb_node(g, "Det", "det", 1, (Value *[]){ a }, 1);
    n->opset = 11;
    return n;
}

static Node *b_shrink(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 2, (int64_t[]){ 5, 7 }, 0);
    Node *n = tb_node(g, "Shrink", "sh", 1, (Value *[]){ a }, 1);
    tb_attr_float(g, n, "lambd", 0.25f);
    tb_attr_float(g, n, "bias", -0.125f);
    n->opset = 9;
    return n;
}

static Node *b_legacy_add(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 2, (int64_t[]){ 2, 3 }, 1);
    Node *n = tb_node(g, "Add", "add", 2, (Value *[]){ a, b }, 1);
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 0);
    n->opset = 6;
    return n;
}

static Node *b_legacy_prelu(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 3, 3 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 3 }, (float[]){ 0.5f, -2.0f, 0.125f });
    Node *n = tb_node(g, "PRelu", "pr", 2, (Value *[]){ x, s }, 1);
    n->opset = 6;
    return n;
}

static Node *b_gathernd(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *ind = tb_const_i64(g, "ind", 3, (int64_t[]){ 2, 2, 1 },
                              (int64_t[]){ 2, -3, 1, 1 });
    Node *n = tb_node(g, "GatherND", "gnd", 2, (Value *[]){ x, ind }, 1);
    tb_attr_int(g, n, "batch_dims", 1);
    n->opset = 12;
    return n;
}

static Node *b_reverse(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 3, 2 }, 0);
    Value *lens = tb_const_i64(g, "lens", 1, (int64_t[]){ 3 }, (int64_t[]){ 4, 0, 2 });
    return tb_node(g, "ReverseSequence", "rs", 2, (Value *[]){ x, lens }, 1);
}

static Node *b_eyelike(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 4, 6 }, 0);
    Node *n = tb_node(g, "EyeLike", "eye", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "k", -1);
    return n;
}

Test(misc_run, einsum_batch_matmul) { emit_vs_fold(b_einsum_bmm); }
Test(misc_run, einsum_batch_diagonal) { emit_vs_fold(b_einsum_diag); }
Test(misc_run, einsum_three_operands) { emit_vs_fold(b_einsum_three); }
Test(misc_run, det_batch) { emit_vs_fold(b_det); }
Test(misc_run, shrink) { emit_vs_fold(b_shrink); }
Test(misc_run, legacy_add_axis0) { emit_vs_fold(b_legacy_add); }
Test(misc_run, legacy_prelu_channels) { emit_vs_fold(b_legacy_prelu); }
Test(misc_run, gathernd_batch) { emit_vs_fold(b_gathernd); }
Test(misc_run, reverse_sequence) { emit_vs_fold(b_reverse); }
Test(misc_run, eyelike) { emit_vs_fold(b_eyelike); }
