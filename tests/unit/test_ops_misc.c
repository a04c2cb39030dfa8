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

/* ---- one-node helpers (as in test_ops_more.c) ---- */

static Value *mval(Graph *g, const char *name, DType t, int rank, const int64_t *dims,
                   const double *vals) {
    return tb_value(g, name, t, rank, dims, vals);
}

static Node *mnode(Graph *g, const char *op_type, int opset, int n_in, Value *const *ins) {
    Node *n = tb_op_node(g, op_type, opset, n_in, ins, 1);
    cr_assert_not_null(n->op, "op %s is not registered", op_type);
    return n;
}

static bool mrun(Graph *g, Node *n, Diag *d) {
    return n->op->infer(g, n, d) && n->op->fold(g, n, d);
}

static void mok(Graph *g, Node *n) {
    Diag d;
    diag_init(&d);
    bool ok = mrun(g, n, &d);
    cr_assert(ok, "failed: %s", d.n_messages ? d.messages[0] : "(no message)");
    diag_free(&d);
}

static void merr(Graph *g, Node *n, const char *want) {
    Diag d;
    diag_init(&d);
    cr_assert_not(mrun(g, n, &d), "expected an error containing '%s'", want);
    cr_assert_geq(d.n_messages, 1);
    cr_assert_not_null(strstr(d.messages[0], want), "message '%s' lacks '%s'", d.messages[0],
                       want);
    diag_free(&d);
}

/* Checks dtype, shape and values (relative tolerance tol; 0 = exact). */
static void mexpect(const Value *v, DType t, int rank, const int64_t *dims, const double *vals,
                    double tol) {
    cr_assert_eq(v->dtype, t, "dtype %d, expected %d", v->dtype, t);
    cr_assert_eq(v->rank, rank, "rank %d, expected %d", v->rank, rank);
    for (int k = 0; k < rank; k++)
        cr_assert_eq(v->dims[k], dims[k], "dim %d is %lld, expected %lld", k,
                     (long long)v->dims[k], (long long)dims[k]);
    cr_assert_not_null(v->data);
    for (int64_t i = 0; i < ir_numel(v); i++) {
        double got = ou_get_f64(v, i);
        if (tol == 0) {
            cr_assert_eq(got, vals[i], "element %lld is %.9g, expected %.9g", (long long)i,
                         got, vals[i]);
        } else {
            cr_assert(fabs(got - vals[i]) <= tol * (1 + fabs(vals[i])),
                      "element %lld is %.9g, expected %.9g", (long long)i, got, vals[i]);
        }
    }
}

/* ---- Bitwise ---- */

Test(misc, bitwise_and_broadcast) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_INT32, 2, (int64_t[]){ 2, 3 },
                    (double[]){ 12, 10, -1, 7, 0, -8 });
    Value *b = mval(g, "b", DT_INT32, 1, (int64_t[]){ 3 }, (double[]){ 6, 3, 255 });
    Node *n = mnode(g, "BitwiseAnd", 18, 2, (Value *[]){ a, b });
    mok(g, n);
    /* 12&6=4 10&3=2 -1&255=255; 7&6=6 0&3=0 -8&255=248 */
    mexpect(n->outputs[0], DT_INT32, 2, (int64_t[]){ 2, 3 },
            (double[]){ 4, 2, 255, 6, 0, 248 }, 0);
    ir_graph_free(g);
}

Test(misc, bitwise_or_xor_uint64) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 5, 12 });
    Value *b = mval(g, "b", DT_UINT64, 0, NULL, (double[]){ 3 });
    Node *o = mnode(g, "BitwiseOr", 18, 2, (Value *[]){ a, b });
    mok(g, o);
    mexpect(o->outputs[0], DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 7, 15 }, 0);
    Node *x = mnode(g, "BitwiseXor", 18, 2, (Value *[]){ a, b });
    mok(g, x);
    mexpect(x->outputs[0], DT_UINT64, 1, (int64_t[]){ 2 }, (double[]){ 6, 15 }, 0);
    ir_graph_free(g);
}

Test(misc, bitwise_not_widths) {
    Graph *g = tb_graph();
    Value *u = mval(g, "u", DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 0, 15, 255 });
    Node *n = mnode(g, "BitwiseNot", 18, 1, (Value *[]){ u });
    mok(g, n);
    mexpect(n->outputs[0], DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 255, 240, 0 }, 0);
    Value *s = mval(g, "s", DT_INT16, 1, (int64_t[]){ 2 }, (double[]){ 0, -32768 });
    Node *m = mnode(g, "BitwiseNot", 18, 1, (Value *[]){ s });
    mok(g, m);
    mexpect(m->outputs[0], DT_INT16, 1, (int64_t[]){ 2 }, (double[]){ -1, 32767 }, 0);
    ir_graph_free(g);
}

Test(misc, bitwise_errors) {
    Graph *g = tb_graph();
    Value *f = mval(g, "f", DT_FLOAT, 1, (int64_t[]){ 2 }, NULL);
    Value *i = mval(g, "i", DT_INT32, 1, (int64_t[]){ 2 }, NULL);
    Value *j = mval(g, "j", DT_INT64, 1, (int64_t[]){ 2 }, NULL);
    Value *k = mval(g, "k", DT_INT32, 1, (int64_t[]){ 3 }, NULL);
    merr(g, mnode(g, "BitwiseAnd", 18, 2, (Value *[]){ f, f }), "does not accept");
    merr(g, mnode(g, "BitwiseOr", 18, 2, (Value *[]){ i, j }), "input types differ");
    merr(g, mnode(g, "BitwiseXor", 18, 2, (Value *[]){ i, k }), "cannot be broadcast");
    merr(g, mnode(g, "BitwiseNot", 18, 1, (Value *[]){ f }), "does not accept");
    ir_graph_free(g);
}

/* ---- IsInf, IsNaN ---- */

Test(misc, isinf_isnan) {
    Graph *g = tb_graph();
    const double vals[] = { INFINITY, -INFINITY, 1.5, NAN, 0 };
    Value *x = mval(g, "x", DT_FLOAT, 1, (int64_t[]){ 5 }, vals);
    Node *all = mnode(g, "IsInf", 20, 1, (Value *[]){ x });
    mok(g, all);
    mexpect(all->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 1, 1, 0, 0, 0 }, 0);
    Node *pos = mnode(g, "IsInf", 20, 1, (Value *[]){ x });
    tb_attr_int(g, pos, "detect_negative", 0);
    mok(g, pos);
    mexpect(pos->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 1, 0, 0, 0, 0 }, 0);
    Node *neg = mnode(g, "IsInf", 20, 1, (Value *[]){ x });
    tb_attr_int(g, neg, "detect_positive", 0);
    mok(g, neg);
    mexpect(neg->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 0, 1, 0, 0, 0 }, 0);
    Node *nan = mnode(g, "IsNaN", 20, 1, (Value *[]){ x });
    mok(g, nan);
    mexpect(nan->outputs[0], DT_BOOL, 1, (int64_t[]){ 5 }, (double[]){ 0, 0, 0, 1, 0 }, 0);
    Value *h = mval(g, "h", DT_FLOAT16, 1, (int64_t[]){ 2 }, (double[]){ NAN, INFINITY });
    Node *hn = mnode(g, "IsNaN", 20, 1, (Value *[]){ h });
    mok(g, hn);
    mexpect(hn->outputs[0], DT_BOOL, 1, (int64_t[]){ 2 }, (double[]){ 1, 0 }, 0);
    Value *i = mval(g, "i", DT_INT32, 1, (int64_t[]){ 2 }, NULL);
    merr(g, mnode(g, "IsInf", 20, 1, (Value *[]){ i }), "does not accept");
    ir_graph_free(g);
}

/* ---- Shrink ---- */

Test(misc, shrink_hard_and_soft) {
    Graph *g = tb_graph();
    Value *x = mval(g, "x", DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, -1, 0, 1, 2 });
    Node *hard = mnode(g, "Shrink", 9, 1, (Value *[]){ x });
    tb_attr_float(g, hard, "lambd", 1.5f);
    mok(g, hard);
    mexpect(hard->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, 0, 0, 0, 2 }, 0);
    Node *soft = mnode(g, "Shrink", 9, 1, (Value *[]){ x });
    tb_attr_float(g, soft, "lambd", 1.5f);
    tb_attr_float(g, soft, "bias", 1.5f);
    mok(g, soft);
    mexpect(soft->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 },
            (double[]){ -0.5, 0, 0, 0, 0.5 }, 0);
    /* defaults: lambd 0.5, bias 0 */
    Node *dflt = mnode(g, "Shrink", 9, 1, (Value *[]){ x });
    mok(g, dflt);
    mexpect(dflt->outputs[0], DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ -2, -1, 0, 1, 2 }, 0);
    ir_graph_free(g);
}

/* ---- legacy broadcasting (opset < 7) ---- */

Test(misc, legacy_add_axis) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *b = mval(g, "b", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 10, 20 });
    Node *n = mnode(g, "Add", 6, 2, (Value *[]){ a, b });
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 0);
    mok(g, n);   /* b faces a's dim 0: b[i] added along rows */
    mexpect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 },
            (double[]){ 11, 12, 13, 24, 25, 26 }, 0);
    /* no axis: b faces the trailing dims; a size-1 dim broadcasts */
    Value *c = mval(g, "c", DT_FLOAT, 2, (int64_t[]){ 1, 3 }, (double[]){ 1, 0, -1 });
    Node *m = mnode(g, "Mul", 6, 2, (Value *[]){ a, c });
    tb_attr_int(g, m, "broadcast", 1);
    mok(g, m);
    mexpect(m->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 0, -3, 4, 0, -6 },
            0);
    ir_graph_free(g);
}

Test(misc, legacy_broadcast_errors) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *b = mval(g, "b", DT_FLOAT, 1, (int64_t[]){ 2 }, NULL);
    Value *big = mval(g, "big", DT_FLOAT, 3, (int64_t[]){ 1, 2, 3 }, NULL);
    Node *n = mnode(g, "Sub", 6, 2, (Value *[]){ a, b });
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 2);
    merr(g, n, "cannot start at axis 2");
    Node *m = mnode(g, "Div", 6, 2, (Value *[]){ a, b });
    tb_attr_int(g, m, "broadcast", 1);
    tb_attr_int(g, m, "axis", 1);      /* b [2] facing a's dim 1 (3) */
    merr(g, m, "cannot be broadcast");
    Node *r = mnode(g, "Add", 6, 2, (Value *[]){ a, big });
    tb_attr_int(g, r, "broadcast", 1);
    merr(g, r, "cannot start at axis -1");
    ir_graph_free(g);
}

Test(misc, legacy_prelu_per_channel) {
    Graph *g = tb_graph();
    Value *x = mval(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -1, 2, -3, 4 });
    Value *s = mval(g, "s", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0.5, 0.25 });
    Node *n = mnode(g, "PRelu", 6, 2, (Value *[]){ x, s });
    mok(g, n);   /* channel 0: slope 0.5, channel 1: 0.25 */
    mexpect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -0.5, 2, -0.75, 4 },
            0);
    Node *m = mnode(g, "PRelu", 9, 2, (Value *[]){ x, s });
    mok(g, m);   /* opset 9: numpy, the slope faces the last dim */
    mexpect(m->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, (double[]){ -0.5, 2, -1.5, 4 },
            0);
    ir_graph_free(g);
}

Test(misc, batchnorm_opset6_is_test) {
    Graph *g = tb_graph();
    Value *x = mval(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 2, 2, 2 }, NULL);
    Value *p[4];
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", k);
        p[k] = mval(g, name, DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 1 });
    }
    Value *ins[5] = { x, p[0], p[1], p[2], p[3] };
    Node *train = mnode(g, "BatchNormalization", 6, 5, ins);
    Diag d;
    diag_init(&d);
    cr_assert_not(train->op->infer(g, train, &d));
    cr_assert_not_null(strstr(d.messages[0], "is_test = 0"), "%s", d.messages[0]);
    diag_free(&d);
    Node *test = mnode(g, "BatchNormalization", 6, 5, ins);
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
    Value *x = mval(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 4 }, (double[12]){ 0 });
    Node *up = mnode(g, "EyeLike", 9, 1, (Value *[]){ x });
    tb_attr_int(g, up, "k", 1);
    tb_attr_int(g, up, "dtype", DT_INT32);
    mok(g, up);
    mexpect(up->outputs[0], DT_INT32, 2, (int64_t[]){ 3, 4 },
            (double[]){ 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, 0);
    Node *down = mnode(g, "EyeLike", 9, 1, (Value *[]){ x });
    tb_attr_int(g, down, "k", -2);
    mok(g, down);
    mexpect(down->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 4 },
            (double[]){ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 0);
    Node *far = mnode(g, "EyeLike", 9, 1, (Value *[]){ x });
    tb_attr_int(g, far, "k", INT64_MIN);   /* no row: all zeros, no overflow */
    mok(g, far);
    mexpect(far->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 4 }, (double[12]){ 0 }, 0);
    ir_graph_free(g);
}

Test(misc, eyelike_errors) {
    Graph *g = tb_graph();
    Value *x3 = mval(g, "x3", DT_FLOAT, 3, (int64_t[]){ 1, 2, 2 }, NULL);
    Value *x = mval(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, NULL);
    merr(g, mnode(g, "EyeLike", 9, 1, (Value *[]){ x3 }), "needs 2");
    Node *bad = mnode(g, "EyeLike", 9, 1, (Value *[]){ x });
    tb_attr_int(g, bad, "dtype", 1000);
    merr(g, bad, "not an ONNX data type");
    Node *str = mnode(g, "EyeLike", 9, 1, (Value *[]){ x });
    tb_attr_int(g, str, "dtype", DT_STRING);
    merr(g, str, "not supported");
    ir_graph_free(g);
}

/* ---- GatherND ---- */

Test(misc, gathernd_spec_examples) {
    Graph *g = tb_graph();
    Value *data = mval(g, "data", DT_FLOAT, 3, (int64_t[]){ 2, 2, 2 },
                       (double[]){ 0, 1, 2, 3, 4, 5, 6, 7 });
    /* batch_dims 1: batch 0 takes row 1, batch 1 row 0 */
    Value *ind = mval(g, "ind", DT_INT64, 2, (int64_t[]){ 2, 1 }, (double[]){ 1, 0 });
    Node *n = mnode(g, "GatherND", 12, 2, (Value *[]){ data, ind });
    tb_attr_int(g, n, "batch_dims", 1);
    mok(g, n);
    mexpect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 2, 3, 4, 5 }, 0);
    /* batch_dims 0, full coordinates, a negative one: elements */
    Value *ind2 = mval(g, "ind2", DT_INT64, 2, (int64_t[]){ 2, 3 },
                       (double[]){ 0, 1, 1, -1, 0, -2 });
    Node *m = mnode(g, "GatherND", 12, 2, (Value *[]){ data, ind2 });
    mok(g, m);
    mexpect(m->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 3, 4 }, 0);
    ir_graph_free(g);
}

Test(misc, gathernd_errors) {
    Graph *g = tb_graph();
    Value *data = mval(g, "data", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 0, 1, 2, 3 });
    Value *out = mval(g, "out", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 2 });
    merr(g, mnode(g, "GatherND", 12, 2, (Value *[]){ data, out }), "out of range");
    Value *wide = mval(g, "wide", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    merr(g, mnode(g, "GatherND", 12, 2, (Value *[]){ data, wide }), "between 1 and 2");
    Value *i32 = mval(g, "i32", DT_INT32, 1, (int64_t[]){ 1 }, (double[]){ 0 });
    merr(g, mnode(g, "GatherND", 12, 2, (Value *[]){ data, i32 }), "not int64");
    Value *ind = mval(g, "ind", DT_INT64, 2, (int64_t[]){ 3, 1 }, (double[]){ 0, 0, 0 });
    Node *b = mnode(g, "GatherND", 12, 2, (Value *[]){ data, ind });
    tb_attr_int(g, b, "batch_dims", 1);
    merr(g, b, "batch dim 0 differs");
    Node *b2 = mnode(g, "GatherND", 12, 2, (Value *[]){ data, ind });
    tb_attr_int(g, b2, "batch_dims", 2);
    merr(g, b2, "batch_dims 2 must be in");
    ir_graph_free(g);
}

/* ---- ReverseSequence ---- */

Test(misc, reversesequence_both_layouts) {
    Graph *g = tb_graph();
    /* [batch 2][time 3], batch_axis 0 */
    Value *x = mval(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *lens = mval(g, "lens", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 3 });
    Node *n = mnode(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens });
    tb_attr_int(g, n, "batch_axis", 0);
    tb_attr_int(g, n, "time_axis", 1);
    mok(g, n);
    mexpect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 2, 1, 3, 6, 5, 4 },
            0);
    /* [time 3][batch 2][2], defaults */
    Value *t = mval(g, "t", DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
                    (double[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 });
    Value *l2 = mval(g, "l2", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 3, 0 });
    Node *m = mnode(g, "ReverseSequence", 10, 2, (Value *[]){ t, l2 });
    mok(g, m);
    mexpect(m->outputs[0], DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
            (double[]){ 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11 }, 0);
    ir_graph_free(g);
}

Test(misc, reversesequence_errors) {
    Graph *g = tb_graph();
    Value *x = mval(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[6]){ 0 });
    Value *lens = mval(g, "lens", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 4, 1 });
    merr(g, mnode(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens }), "outside [0, 3]");
    Value *l3 = mval(g, "l3", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 1, 1, 1 });
    merr(g, mnode(g, "ReverseSequence", 10, 2, (Value *[]){ x, l3 }), "one per batch entry");
    Node *ax = mnode(g, "ReverseSequence", 10, 2, (Value *[]){ x, lens });
    tb_attr_int(g, ax, "time_axis", 2);
    merr(g, ax, "must be 0 and 1");
    ir_graph_free(g);
}

/* ---- Det ---- */

Test(misc, det_values) {
    Graph *g = tb_graph();
    /* det [[1,2],[3,4]] = -2; [[0,1],[1,0]] (a pivot swap) = -1; [[2,4],[1,2]] = 0 */
    Value *x = mval(g, "x", DT_FLOAT, 3, (int64_t[]){ 3, 2, 2 },
                    (double[]){ 1, 2, 3, 4, 0, 1, 1, 0, 2, 4, 1, 2 });
    Node *n = mnode(g, "Det", 11, 1, (Value *[]){ x });
    mok(g, n);
    mexpect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ -2, -1, 0 }, 1e-6);
    /* 3x3: 2(3*2-0*1) - 0 + 1(1*1-3*0) = 13 */
    Value *y = mval(g, "y", DT_DOUBLE, 2, (int64_t[]){ 3, 3 },
                    (double[]){ 2, 0, 1, 1, 3, 0, 0, 1, 2 });
    Node *m = mnode(g, "Det", 11, 1, (Value *[]){ y });
    mok(g, m);
    mexpect(m->outputs[0], DT_DOUBLE, 0, NULL, (double[]){ 13 }, 1e-12);
    Value *r = mval(g, "r", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    merr(g, mnode(g, "Det", 11, 1, (Value *[]){ r }), "square matrices");
    ir_graph_free(g);
}

/* ---- Einsum ---- */

static Node *einsum(Graph *g, const char *eq, int n_in, Value *const *ins) {
    Node *n = mnode(g, "Einsum", 12, n_in, ins);
    tb_attr_str(g, n, "equation", eq);
    return n;
}

Test(misc, einsum_forms) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *v = mval(g, "v", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, 0, -1 });
    Value *sq = mval(g, "sq", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, 4 });
    Node *t = einsum(g, "ij->ji", 1, (Value *[]){ a });
    mok(g, t);
    mexpect(t->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 4, 2, 5, 3, 6 }, 0);
    Node *rs = einsum(g, "ij -> i", 1, (Value *[]){ a });
    mok(g, rs);
    mexpect(rs->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 6, 15 }, 0);
    Node *mv = einsum(g, "ij,j", 2, (Value *[]){ a, v });   /* implicit: -> i */
    mok(g, mv);
    mexpect(mv->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ -2, -2 }, 0);
    Node *outer = einsum(g, "i,j->ij", 2, (Value *[]){ v, v });
    mok(g, outer);
    mexpect(outer->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 3 },
            (double[]){ 1, 0, -1, 0, 0, 0, -1, 0, 1 }, 0);
    Node *tr = einsum(g, "ii", 1, (Value *[]){ sq });     /* trace */
    mok(g, tr);
    mexpect(tr->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 5 }, 0);
    Node *ji = einsum(g, "ji", 1, (Value *[]){ a });      /* implicit output sorted: ij */
    mok(g, ji);
    mexpect(ji->outputs[0], DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 4, 2, 5, 3, 6 },
            0);
    Node *all = einsum(g, "...->", 1, (Value *[]){ a });
    mok(g, all);
    mexpect(all->outputs[0], DT_FLOAT, 0, NULL, (double[]){ 21 }, 0);
    ir_graph_free(g);
}

Test(misc, einsum_ellipsis_broadcast_and_ints) {
    Graph *g = tb_graph();
    /* "...i,...i->..." with [2][2] and [1][2]: row dot products against one row */
    Value *a = mval(g, "a", DT_INT32, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 2, 3, -4 });
    Value *b = mval(g, "b", DT_INT32, 2, (int64_t[]){ 1, 2 }, (double[]){ 10, 100 });
    Node *n = einsum(g, "...i,...i->...", 2, (Value *[]){ a, b });
    mok(g, n);
    mexpect(n->outputs[0], DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 210, -370 }, 0);
    ir_graph_free(g);
}

Test(misc, einsum_hostile_equations) {
    Graph *g = tb_graph();
    Value *a = mval(g, "a", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *b = mval(g, "b", DT_FLOAT, 2, (int64_t[]){ 4, 3 }, NULL);
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
        merr(g, einsum(g, cases[k].eq, 1, (Value *[]){ a }), cases[k].want);
    merr(g, mnode(g, "Einsum", 12, 1, (Value *[]){ a }), "'equation' (a string) is required");
    merr(g, einsum(g, "ij,kj", 1, (Value *[]){ a }), "more terms than the 1 inputs");
    merr(g, einsum(g, "ij", 2, (Value *[]){ a, b }), "1 input terms for 2 inputs");
    merr(g, einsum(g, "ij,ij->ij", 2, (Value *[]){ a, b }), "'i' has size 4 in input 1");
    merr(g, einsum(g, "...j,...j", 2, (Value *[]){ a, b }), "do not broadcast");
    /* an equation of 10,000 characters */
    char *longeq = malloc(10001);
    cr_assert_not_null(longeq);
    memset(longeq, ' ', 10000);
    longeq[10000] = '\0';
    merr(g, einsum(g, longeq, 1, (Value *[]){ a }), "longer than");
    free(longeq);
    ir_graph_free(g);
}

Test(misc, einsum_fold_work_is_bounded) {
    Graph *g = tb_graph();
    enum { I = 1 << 15, J = 1 << 14 };     /* I * J products: more than the folder's cap */
    double *zeros = calloc(I, sizeof(double));
    cr_assert_not_null(zeros);
    Value *a = mval(g, "a", DT_FLOAT, 1, (int64_t[]){ I }, zeros);
    Value *b = mval(g, "b", DT_FLOAT, 1, (int64_t[]){ J }, zeros);
    free(zeros);
    merr(g, einsum(g, "i,j->", 2, (Value *[]){ a, b }), "folding would compute more than");
    ir_graph_free(g);
}

/* ---- emitted code against the folder ---- */

/* Builds a one-node graph; konst: its float inputs are constants holding what tb_run
 * feeds (tb_fill(seed + input index)). */
typedef Node *(*Build)(Graph *g, bool konst);

enum { E2E_SEED = 23 };

static Value *e2e_input(Graph *g, bool konst, const char *name, int rank, const int64_t *dims,
                        int index) {
    if (!konst) return tb_input(g, name, rank, dims);
    int64_t count = 1;
    for (int k = 0; k < rank; k++) count *= dims[k];
    float *buf = malloc(sizeof(float) * (size_t)(count ? count : 1));
    cr_assert_not_null(buf);
    tb_fill(buf, count, E2E_SEED + (unsigned)index);
    Value *v = tb_const(g, name, rank, dims, buf);
    free(buf);
    return v;
}

/* Runs the graph through the pipeline and the C compiler, and the same node through
 * infer + fold; the output must agree to 1e-5 relative. */
static void emit_vs_fold(Build build) {
    Graph *g = tb_graph();
    Node *n = build(g, false);
    tb_output(g, n->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, false, &d), "pipeline: %s", d.n_messages ? d.messages[0] : "");
    diag_free(&d);
    float *out[1] = { 0 };
    int64_t out_n[1] = { 0 };
    cr_assert(tb_run(g, E2E_SEED, out, out_n, 1));
    Graph *gc = tb_graph();
    Node *nc = build(gc, true);
    nc->op = op_find("", nc->op_type);
    cr_assert_not_null(nc->op);
    mok(gc, nc);
    const Value *y = nc->outputs[0];
    cr_assert_eq(out_n[0], ir_numel(y), "%lld elements, expected %lld", (long long)out_n[0],
                 (long long)ir_numel(y));
    for (int64_t i = 0; i < out_n[0]; i++) {
        double want = ou_get_f64(y, i), got = out[0][i];
        if (got == want || (isnan(got) && isnan(want))) continue;
        cr_assert(fabs(got - want) <= 1e-5 * (1 + fabs(want)),
                  "%s element %lld: emitted %.9g, folded %.9g", nc->op_type, (long long)i, got,
                  want);
    }
    free(out[0]);
    ir_graph_free(g);
    ir_graph_free(gc);
}

static Node *b_einsum_bmm(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 3, (int64_t[]){ 3, 4, 5 }, 0);
    Value *b = e2e_input(g, konst, "b", 3, (int64_t[]){ 3, 5, 2 }, 1);
    Node *n = tb_node(g, "Einsum", "es", 2, (Value *[]){ a, b }, 1);
    tb_attr_str(g, n, "equation", "bij,bjk->bik");
    n->opset = 12;
    return n;
}

static Node *b_einsum_diag(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 4, 4 }, 0);
    Node *n = tb_node(g, "Einsum", "es", 1, (Value *[]){ a }, 1);
    tb_attr_str(g, n, "equation", "...ii->...i");
    n->opset = 12;
    return n;
}

static Node *b_einsum_three(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 2, (int64_t[]){ 3, 4 }, 0);
    Value *b = e2e_input(g, konst, "b", 1, (int64_t[]){ 4 }, 1);
    Value *c = e2e_input(g, konst, "c", 2, (int64_t[]){ 1, 3 }, 2);
    Node *n = tb_node(g, "Einsum", "es", 3, (Value *[]){ a, b, c }, 1);
    tb_attr_str(g, n, "equation", "ij,j,...i");
    n->opset = 12;
    return n;
}

static Node *b_det(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 3, (int64_t[]){ 3, 4, 4 }, 0);
    Node *n = tb_node(g, "Det", "det", 1, (Value *[]){ a }, 1);
    n->opset = 11;
    return n;
}

static Node *b_shrink(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 2, (int64_t[]){ 5, 7 }, 0);
    Node *n = tb_node(g, "Shrink", "sh", 1, (Value *[]){ a }, 1);
    tb_attr_float(g, n, "lambd", 0.25f);
    tb_attr_float(g, n, "bias", -0.125f);
    n->opset = 9;
    return n;
}

static Node *b_legacy_add(Graph *g, bool konst) {
    Value *a = e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *b = e2e_input(g, konst, "b", 2, (int64_t[]){ 2, 3 }, 1);
    Node *n = tb_node(g, "Add", "add", 2, (Value *[]){ a, b }, 1);
    tb_attr_int(g, n, "broadcast", 1);
    tb_attr_int(g, n, "axis", 0);
    n->opset = 6;
    return n;
}

static Node *b_legacy_prelu(Graph *g, bool konst) {
    Value *x = e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 3, 3 }, 0);
    Value *s = tb_const(g, "s", 1, (int64_t[]){ 3 }, (float[]){ 0.5f, -2.0f, 0.125f });
    Node *n = tb_node(g, "PRelu", "pr", 2, (Value *[]){ x, s }, 1);
    n->opset = 6;
    return n;
}

static Node *b_gathernd(Graph *g, bool konst) {
    Value *x = e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 3, 4 }, 0);
    Value *ind = tb_const_i64(g, "ind", 3, (int64_t[]){ 2, 2, 1 },
                              (int64_t[]){ 2, -3, 1, 1 });
    Node *n = tb_node(g, "GatherND", "gnd", 2, (Value *[]){ x, ind }, 1);
    tb_attr_int(g, n, "batch_dims", 1);
    n->opset = 12;
    return n;
}

static Node *b_reverse(Graph *g, bool konst) {
    Value *x = e2e_input(g, konst, "x", 3, (int64_t[]){ 4, 3, 2 }, 0);
    Value *lens = tb_const_i64(g, "lens", 1, (int64_t[]){ 3 }, (int64_t[]){ 4, 0, 2 });
    return tb_node(g, "ReverseSequence", "rs", 2, (Value *[]){ x, lens }, 1);
}

static Node *b_eyelike(Graph *g, bool konst) {
    Value *x = e2e_input(g, konst, "x", 2, (int64_t[]){ 4, 6 }, 0);
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
