/* test_ops_ml.c: TfIdfVectorizer, the training optimisers (Momentum, Adagrad, Adam) and
 * the ai.onnx.ml ops (Binarizer, ArrayFeatureExtractor, TreeEnsemble): inference and
 * folding on one-node graphs with values derived by hand (or from the ONNX reference
 * implementation, noted where used), the error paths, and the emitted code run end to
 * end against the folder on the same data. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

static const char *const TRAIN = "ai.onnx.preview.training";
static const char *const ML = "ai.onnx.ml";

/* A tensor attribute of dtype t (1-D). */
static void set_tensor(Graph *g, Node *n, const char *name, DType t, int64_t count,
                       const double *vals) {
    tb_attr_tensor(g, n, name, tb_value(g, ir_unique_name(g, name), t, 1, &count, vals));
}

/* ---- end to end: emitted code against the folder ----------------------------------------- */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: the node must survive the pipeline, and every output must
 * agree to 1e-5 relative. */
static void emit_vs_fold(TbBuild build, int n_out) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = n_out, .tol = TB_REL(1e-5),
                                    .node_kept = true });
}

/* ---- TfIdfVectorizer ----------------------------------------------------------------------- */

static const int64_t tf_pool[] = { 2, 3, 5, 4, 5, 6, 7, 8, 6, 7 };
static const int64_t tf_counts[] = { 0, 4 };
static const int64_t tf_index[] = { 0, 1, 2, 3, 4, 5, 6 };
static const double tf_x[] = { 1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8 };

/* The unigrams 2 3 5 4 and bigrams (5 6) (7 8) (6 7) over [2][6] int64 (the ONNX test
 * case's pool). */
static Node *tf_node(Graph *g, const char *mode, int64_t min_len, int64_t max_len,
                     int64_t skips) {
    const int64_t dx[] = { 2, 6 };
    Value *x = tb_value(g, "x", DT_INT64, 2, dx, tf_x);
    Node *n = tb_op_node_in(g, "", "TfIdfVectorizer", 9, 1, &x, 1);
    tb_attr_str(g, n, "mode", mode);
    tb_attr_int(g, n, "min_gram_length", min_len);
    tb_attr_int(g, n, "max_gram_length", max_len);
    tb_attr_int(g, n, "max_skip_count", skips);
    tb_attr_ints(g, n, "ngram_counts", tf_counts, 2);
    tb_attr_ints(g, n, "ngram_indexes", tf_index, 7);
    tb_attr_ints(g, n, "pool_int64s", tf_pool, 10);
    return n;
}

Test(opsml_tfidf, tf_counts_with_skips) {
    /* row 0: 3 three times -> column 1; row 1: 5 (col 2), 5 6 (col 4), 7 _ _ 8 (col 5 with
     * step 3), 6 7 (col 6) */
    Graph *g = tb_graph();
    Node *n = tf_node(g, "TF", 1, 2, 5);
    tb_fold_ok(g, n);
    const int64_t dy[] = { 2, 7 };
    const double want[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsml_tfidf, bigrams_only_without_skips) {
    Graph *g = tb_graph();
    Node *n = tf_node(g, "TF", 2, 2, 0);
    tb_fold_ok(g, n);
    const int64_t dy[] = { 2, 7 };
    const double want[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsml_tfidf, idf_and_tfidf_weights) {
    const float w[] = { 1, 2, 3, 4, 5, 6, 7 };
    const int64_t dy[] = { 2, 7 };
    Graph *g = tb_graph();
    Node *n = tf_node(g, "IDF", 1, 2, 5);
    tb_attr_floats(g, n, "weights", w, 7);
    tb_fold_ok(g, n);
    const double idf[] = { 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 5, 6, 7 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, idf, TB_EXACT);
    Node *m = tf_node(g, "TFIDF", 1, 2, 5);
    tb_attr_floats(g, m, "weights", w, 7);
    tb_fold_ok(g, m);
    const double tfidf[] = { 0, 6, 0, 0, 0, 0, 0, 0, 0, 3, 0, 5, 6, 7 };
    tb_expect(m->outputs[0], DT_FLOAT, 2, dy, tfidf, TB_EXACT);
    Node *k = tf_node(g, "IDF", 1, 2, 5);   /* no weights: 1 where counted */
    tb_fold_ok(g, k);
    const double ones[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1 };
    tb_expect(k->outputs[0], DT_FLOAT, 2, dy, ones, TB_EXACT);
    ir_graph_free(g);
}

Test(opsml_tfidf, duplicate_ngram_last_entry_wins_and_1d) {
    /* the pool (6 7) (5 6) (6 7): (6 7) counts in column 2 only */
    Graph *g = tb_graph();
    const int64_t dx[] = { 6 };
    Value *x = tb_value(g, "x", DT_INT32, 1, dx, tf_x + 6);   /* 8 6 7 5 6 8 */
    Node *n = tb_op_node_in(g, "", "TfIdfVectorizer", 9, 1, &x, 1);
    const int64_t pool[] = { 6, 7, 5, 6, 6, 7 }, counts[] = { 0, 0 }, index[] = { 0, 1, 2 };
    tb_attr_str(g, n, "mode", "TF");
    tb_attr_int(g, n, "min_gram_length", 2);
    tb_attr_int(g, n, "max_gram_length", 2);
    tb_attr_int(g, n, "max_skip_count", 0);
    tb_attr_ints(g, n, "ngram_counts", counts, 2);
    tb_attr_ints(g, n, "ngram_indexes", index, 3);
    tb_attr_ints(g, n, "pool_int64s", pool, 6);
    tb_fold_ok(g, n);
    const int64_t dy[] = { 3 };
    const double want[] = { 0, 1, 1 };
    tb_expect(n->outputs[0], DT_FLOAT, 1, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsml_tfidf, errors) {
    Graph *g = tb_graph();
    tb_fold_err(g, tf_node(g, "BM25", 1, 2, 5), "mode 'BM25' is not TF, IDF or TFIDF");
    tb_fold_err(g, tf_node(g, "TF", 3, 2, 5), "gram lengths [3, 2]");
    tb_fold_err(g, tf_node(g, "TF", 1, 2, -1), "max_skip_count -1 is negative");
    Node *n = tf_node(g, "TF", 1, 2, 5);
    tb_attr_str(g, n, "pool_strings", "a");
    tb_fold_err(g, n, "only pool_int64s is supported");
    n = tf_node(g, "TF", 1, 2, 5);
    const int64_t bad_counts[] = { 0, 11 };
    tb_attr_ints(g, n, "ngram_counts", bad_counts, 2);
    tb_fold_err(g, n, "not within the 10 pool items");
    n = tf_node(g, "TF", 1, 2, 5);
    const int64_t bad_index[] = { 0, 1, -2, 3, 4, 5, 6 };
    tb_attr_ints(g, n, "ngram_indexes", bad_index, 7);
    tb_fold_err(g, n, "ngram_indexes[2] = -2 is out of range");
    n = tf_node(g, "TF", 1, 2, 5);
    tb_attr_ints(g, n, "ngram_indexes", tf_index, 5);
    tb_fold_err(g, n, "more n-grams than the 5 ngram_indexes");
    n = tf_node(g, "TFIDF", 1, 2, 5);
    const float w[] = { 1, 2 };
    tb_attr_floats(g, n, "weights", w, 2);
    tb_fold_err(g, n, "weights has 2 entries, the output has 7 columns");
    const int64_t d3[] = { 1, 2, 6 };
    Value *x3 = tb_value(g, "x3", DT_INT64, 3, d3, NULL);
    n = tb_op_node_in(g, "", "TfIdfVectorizer", 9, 1, &x3, 1);
    tb_attr_str(g, n, "mode", "TF");
    tb_fold_err(g, n, "has rank 3");
    Value *xf = tb_value(g, "xf", DT_FLOAT, 1, d3 + 2, NULL);
    n = tb_op_node_in(g, "", "TfIdfVectorizer", 9, 1, &xf, 1);
    tb_fold_err(g, n, "float");
    ir_graph_free(g);
}

/* int32 input holding tb_fill's bits, with a pool built from those same values so that
 * unigrams, plain and skipping bigrams all match. */
static Node *b_tfidf(Graph *g, bool konst) {
    enum { C = 9 };
    const int64_t dx[] = { 2, C };
    float buf[2 * C];
    tb_fill(buf, 2 * C, E2E_SEED);
    int32_t bits[2 * C];
    memcpy(bits, buf, sizeof bits);
    Value *x;
    if (konst) {
        double vals[2 * C];
        for (int i = 0; i < 2 * C; i++) vals[i] = bits[i];
        x = tb_value(g, "x", DT_INT32, 2, dx, vals);
    } else {
        x = tb_input(g, "x", 2, dx);
        x->dtype = DT_INT32;
    }
    Node *n = tb_op_node_in(g, "", "TfIdfVectorizer", 9, 1, &x, 1);
    const int64_t pool[] = { bits[0], bits[4], bits[C + 2], 12345,          /* unigrams */
                             bits[1], bits[2], bits[3], bits[5],            /* bigrams */
                             bits[C], bits[C + 3], 7, 7 };
    const int64_t counts[] = { 0, 4 }, index[] = { 3, 0, 1, 2, 4, 4, 5, 6 };
    tb_attr_str(g, n, "mode", "TFIDF");
    tb_attr_int(g, n, "min_gram_length", 1);
    tb_attr_int(g, n, "max_gram_length", 2);
    tb_attr_int(g, n, "max_skip_count", 3);
    tb_attr_ints(g, n, "ngram_counts", counts, 2);
    tb_attr_ints(g, n, "ngram_indexes", index, 8);
    tb_attr_ints(g, n, "pool_int64s", pool, 12);
    const float w[] = { 0.5f, 2, 3, 4, 5, 6, 7 };
    tb_attr_floats(g, n, "weights", w, 7);
    return n;
}

Test(opsml_tfidf, emitted_matches_folded) { emit_vs_fold(b_tfidf, 1); }

Test(opsml_tfidf, emitted_counts_are_not_zero) {
    /* the folded values of b_tfidf: the pool was built to match */
    Graph *g = tb_graph();
    Node *n = b_tfidf(g, true);
    tb_fold_ok(g, n);
    double sum = 0;
    for (int64_t i = 0; i < ir_numel(n->outputs[0]); i++) sum += ou_get_f64(n->outputs[0], i);
    cr_assert_gt(sum, 10);
    ir_graph_free(g);
}

/* ---- training ------------------------------------------------------------------------------ */

/* R, T then the groups' tensors, each one element unless dims says otherwise. */
static Node *tr_node(Graph *g, const char *op, double r, int64_t t, int n_tensors,
                     const double *vals, int n_out) {
    const double rv[] = { r }, tv[] = { (double)t };
    Value *ins[16];
    ins[0] = tb_value(g, "R", DT_FLOAT, 0, NULL, rv);
    ins[1] = tb_value(g, "T", DT_INT64, 0, NULL, tv);
    const int64_t one[] = { 1 };
    for (int i = 0; i < n_tensors; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        ins[2 + i] = tb_value(g, name, DT_FLOAT, 1, one, vals + i);
    }
    return tb_op_node_in(g, TRAIN, op, 1, 2 + n_tensors, ins, n_out);
}

static void tr_expect(const Node *n, int k, double want) {
    const int64_t one[] = { 1 };
    tb_expect(n->outputs[k], DT_FLOAT, 1, one, &want, TB_REL(1e-6));
}

Test(opsml_training, momentum_standard_and_nesterov) {
    Graph *g = tb_graph();
    const double xgv[] = { 1, 2, 3 };
    /* T = 0: beta counts as 1: v' = 0.9 * 3 + 2 = 4.7, x' = 1 - 0.1 * 4.7 = 0.53 */
    Node *n = tr_node(g, "Momentum", 0.1, 0, 3, xgv, 2);
    tb_attr_float(g, n, "alpha", 0.9f);
    tb_attr_float(g, n, "beta", 0.5f);
    tb_attr_float(g, n, "norm_coefficient", 0.0f);
    tb_attr_str(g, n, "mode", "standard");
    tb_fold_ok(g, n);
    tr_expect(n, 0, 1 - 0.1 * (0.9f * 3 + 2));
    tr_expect(n, 1, 0.9f * 3 + 2);
    /* T = 1, nesterov, norm 0.5: g = 0.5 + 2 = 2.5, v' = 0.9 * 3 + 0.5 * 2.5 = 3.95,
     * x' = 1 - 0.1 * (2.5 + 0.9 * 3.95) */
    Node *m = tr_node(g, "Momentum", 0.1, 1, 3, xgv, 2);
    tb_attr_float(g, m, "alpha", 0.9f);
    tb_attr_float(g, m, "beta", 0.5f);
    tb_attr_float(g, m, "norm_coefficient", 0.5f);
    tb_attr_str(g, m, "mode", "nesterov");
    tb_fold_ok(g, m);
    const double v = 0.9f * 3 + 0.5 * 2.5;
    tr_expect(m, 0, 1 - 0.1 * (2.5 + 0.9f * v));
    tr_expect(m, 1, v);
    ir_graph_free(g);
}

Test(opsml_training, adagrad) {
    Graph *g = tb_graph();
    const double xgh[] = { 1, 2, 1 };
    /* r = 0.1 / (1 + 1 * 1) = 0.05; h' = 1 + 4 = 5; x' = 1 - 0.05 * 2 / (sqrt 5 + eps) */
    Node *n = tr_node(g, "Adagrad", 0.1, 1, 3, xgh, 2);
    tb_attr_float(g, n, "decay_factor", 1.0f);
    tb_fold_ok(g, n);
    tr_expect(n, 0, 1 - 0.05 * 2 / (sqrt(5.0) + 1e-6f));
    tr_expect(n, 1, 5);
    ir_graph_free(g);
}

Test(opsml_training, adam_bias_correction) {
    Graph *g = tb_graph();
    const double xgvh[] = { 1, 2, 0, 0 };
    /* alpha 0.5, beta 0.75, T = 1: v' = 1, h' = 1, r = 0.1 sqrt(0.25) / 0.5 = 0.1,
     * x' = (1 - 0.5) (1 - 0.1 * 1 / (1 + 0)) with epsilon 0 */
    Node *n = tr_node(g, "Adam", 0.1, 1, 4, xgvh, 3);
    tb_attr_float(g, n, "alpha", 0.5f);
    tb_attr_float(g, n, "beta", 0.75f);
    tb_attr_float(g, n, "epsilon", 0.0f);
    tb_attr_float(g, n, "norm_coefficient_post", 0.5f);
    tb_fold_ok(g, n);
    tr_expect(n, 0, 0.5 * 0.9);
    tr_expect(n, 1, 1);
    tr_expect(n, 2, 1);
    ir_graph_free(g);
}

Test(opsml_training, errors) {
    Graph *g = tb_graph();
    const double vals[] = { 1, 2, 3, 4, 5 };
    tb_fold_err(g, tr_node(g, "Adagrad", 0.1, 0, 4, vals, 2), "groups of 3 tensors");
    tb_fold_err(g, tr_node(g, "Adam", 0.1, 0, 4, vals, 2), "has 2 outputs, expected 3");
    Node *n = tr_node(g, "Momentum", 0.1, 0, 3, vals, 2);
    tb_attr_float(g, n, "alpha", 0.9f);
    tb_fold_err(g, n, "attribute 'beta' is required");
    tb_attr_float(g, n, "beta", 0.9f);
    tb_attr_float(g, n, "norm_coefficient", 0.0f);
    tb_attr_str(g, n, "mode", "heavy");
    tb_fold_err(g, n, "mode 'heavy' is not standard or nesterov");
    n = tr_node(g, "Adagrad", 0.1, 0, 3, vals, 2);
    const int64_t two[] = { 2 };
    n->inputs[3] = tb_value(g, "g2", DT_FLOAT, 1, two, vals);
    tb_fold_err(g, n, "group 0's X");
    n = tr_node(g, "Adagrad", 0.1, 0, 3, vals, 2);
    n->inputs[0] = tb_value(g, "r2", DT_FLOAT, 1, two, vals);
    tb_fold_err(g, n, "must be a scalar");
    ir_graph_free(g);
}

/* Adam over two groups ([2][3] and [4]) with R, T constants. */
static Node *b_adam(Graph *g, bool konst) {
    const int64_t d1[] = { 2, 3 }, d2[] = { 4 };
    const float r = 0.05f;
    const int64_t t = 3;
    Value *ins[10];
    ins[0] = tb_const(g, "R", 0, NULL, &r);
    ins[1] = tb_const_i64(g, "T", 0, NULL, &t);
    const char *names[] = { "x1", "x2", "g1", "g2", "v1", "v2" };
    for (int i = 0; i < 6; i++)
        ins[2 + i] = tb_e2e_input(g, konst, names[i], i % 2 ? 1 : 2, i % 2 ? d2 : d1, i);
    /* h, the second moment, is not negative: constants */
    ins[8] = tb_const_rand(g, "h1", 2, d1, 5, 0.0f, 2.0f);
    ins[9] = tb_const_rand(g, "h2", 1, d2, 6, 0.0f, 2.0f);
    Node *n = tb_op_node_in(g, TRAIN, "Adam", 1, 10, ins, 6);
    tb_attr_float(g, n, "alpha", 0.8f);
    tb_attr_float(g, n, "beta", 0.5f);
    tb_attr_float(g, n, "norm_coefficient", 0.01f);
    return n;
}

static Node *b_momentum(Graph *g, bool konst) {
    const int64_t d[] = { 7 };
    const float r = 0.25f;
    const int64_t t = 2;
    Value *ins[5];
    ins[0] = tb_const(g, "R", 0, NULL, &r);
    ins[1] = tb_const_i64(g, "T", 0, NULL, &t);
    ins[2] = tb_e2e_input(g, konst, "x", 1, d, 0);
    ins[3] = tb_e2e_input(g, konst, "g", 1, d, 1);
    ins[4] = tb_e2e_input(g, konst, "v", 1, d, 2);
    Node *n = tb_op_node_in(g, TRAIN, "Momentum", 1, 5, ins, 2);
    tb_attr_float(g, n, "alpha", 0.9f);
    tb_attr_float(g, n, "beta", 0.7f);
    tb_attr_float(g, n, "norm_coefficient", 0.1f);
    tb_attr_str(g, n, "mode", "nesterov");
    return n;
}

static Node *b_adagrad(Graph *g, bool konst) {
    const int64_t d[] = { 5 };
    const float r = 0.5f;
    const int64_t t = 4;
    Value *ins[5];
    ins[0] = tb_const(g, "R", 0, NULL, &r);
    ins[1] = tb_const_i64(g, "T", 0, NULL, &t);
    ins[2] = tb_e2e_input(g, konst, "x", 1, d, 0);
    ins[3] = tb_e2e_input(g, konst, "g", 1, d, 1);
    ins[4] = tb_const_rand(g, "h", 1, d, 7, 0.0f, 2.0f);   /* accumulated squares: >= 0 */
    Node *n = tb_op_node_in(g, TRAIN, "Adagrad", 1, 5, ins, 2);
    tb_attr_float(g, n, "decay_factor", 0.1f);
    return n;
}

Test(opsml_training, adam_emitted_matches_folded) { emit_vs_fold(b_adam, 6); }
Test(opsml_training, momentum_emitted_matches_folded) { emit_vs_fold(b_momentum, 2); }
Test(opsml_training, adagrad_emitted_matches_folded) { emit_vs_fold(b_adagrad, 2); }

/* ---- Binarizer, ArrayFeatureExtractor --------------------------------------------------- */

Test(opsml_ml, binarizer) {
    Graph *g = tb_graph();
    const int64_t d[] = { 5 };
    const double x[] = { -1, 0.5, 1, 1.5, 7 };
    Value *in = tb_value(g, "x", DT_DOUBLE, 1, d, x);
    Node *n = tb_op_node_in(g, ML, "Binarizer", 1, 1, &in, 1);
    tb_attr_float(g, n, "threshold", 1.0f);
    tb_fold_ok(g, n);
    const double want[] = { 0, 0, 0, 1, 1 };
    tb_expect(n->outputs[0], DT_DOUBLE, 1, d, want, TB_EXACT);
    Value *b = tb_value(g, "b", DT_BOOL, 1, d, NULL);
    tb_fold_err(g, tb_op_node_in(g, ML, "Binarizer", 1, 1, &b, 1), "bool");
    ir_graph_free(g);
}

static Node *b_binarizer(Graph *g, bool konst) {
    const int64_t d[] = { 3, 5 };
    Value *x = tb_e2e_input(g, konst, "x", 2, d, 0);
    Node *n = tb_op_node_in(g, ML, "Binarizer", 1, 1, &x, 1);
    tb_attr_float(g, n, "threshold", 0.125f);
    return n;
}

Test(opsml_ml, binarizer_emitted_matches_folded) { emit_vs_fold(b_binarizer, 1); }

Test(opsml_ml, array_feature_extractor) {
    Graph *g = tb_graph();
    const int64_t dx[] = { 2, 3 }, di[] = { 3 };
    const double x[] = { 1, 2, 3, 4, 5, 6 }, idx[] = { 2, 0, -1 };
    Value *ins[] = { tb_value(g, "x", DT_INT32, 2, dx, x), tb_value(g, "i", DT_INT64, 1, di, idx) };
    Node *n = tb_op_node_in(g, ML, "ArrayFeatureExtractor", 1, 2, ins, 1);
    tb_fold_ok(g, n);
    const int64_t dy[] = { 2, 3 };
    const double want[] = { 3, 1, 3, 6, 4, 6 };
    tb_expect(n->outputs[0], DT_INT32, 2, dy, want, TB_EXACT);
    /* a vector reads as one row */
    Value *vin[] = { tb_value(g, "v", DT_FLOAT, 1, dx + 1, x), ins[1] };
    n = tb_op_node_in(g, ML, "ArrayFeatureExtractor", 1, 2, vin, 1);
    tb_fold_ok(g, n);
    const int64_t dv[] = { 1, 3 };
    const double wv[] = { 3, 1, 3 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dv, wv, TB_EXACT);
    const int64_t d1[] = { 1 };
    const double bad[] = { 3 };
    Value *bin[] = { ins[0], tb_value(g, "b", DT_INT64, 1, d1, bad) };
    n = tb_op_node_in(g, ML, "ArrayFeatureExtractor", 1, 2, bin, 1);
    tb_fold_err(g, n, "index 3 is out of range for a last axis of 3");
    ir_graph_free(g);
}

static Node *b_afe(Graph *g, bool konst) {
    const int64_t dx[] = { 2, 3, 4 }, di[] = { 5 };
    const int64_t idx[] = { 3, 0, -2, 1, 3 };
    Value *ins[] = { tb_e2e_input(g, konst, "x", 3, dx, 0), tb_const_i64(g, "i", 1, di, idx) };
    return tb_op_node_in(g, ML, "ArrayFeatureExtractor", 1, 2, ins, 1);
}

Test(opsml_ml, array_feature_extractor_emitted_matches_folded) { emit_vs_fold(b_afe, 1); }

/* ---- TreeEnsemble ------------------------------------------------------------------------ */

/* The ONNX test case's tree: node 0 x <= 11, true -> node 1 (x in {1.2, 3.7, 8, 9}: leaf 0,
 * else node 2), false -> leaf 2; node 2 (x in {12, 7}: leaf 1, else leaf 3).  Leaf k has
 * target k and weights 1, 10, 1000, 100. */
static Node *te_node(Graph *g, Value *x) {
    Node *n = tb_op_node_in(g, ML, "TreeEnsemble", 5, 1, &x, 1);
    const int64_t feat[] = { 0, 0, 0 }, tid[] = { 1, 0, 1 }, fid[] = { 2, 2, 3 };
    const int64_t tleaf[] = { 0, 1, 1 }, fleaf[] = { 1, 0, 1 }, targets[] = { 0, 1, 2, 3 };
    const int64_t roots[] = { 0 };
    const double modes[] = { 0, 6, 6 }, splits[] = { 11, 0, 0 }, weights[] = { 1, 10, 1000, 100 };
    const double members[] = { 1.2f, 3.7f, 8, 9, NAN, 12, 7, NAN };
    tb_attr_ints(g, n, "nodes_featureids", feat, 3);
    tb_attr_ints(g, n, "nodes_truenodeids", tid, 3);
    tb_attr_ints(g, n, "nodes_falsenodeids", fid, 3);
    tb_attr_ints(g, n, "nodes_trueleafs", tleaf, 3);
    tb_attr_ints(g, n, "nodes_falseleafs", fleaf, 3);
    tb_attr_ints(g, n, "leaf_targetids", targets, 4);
    tb_attr_ints(g, n, "tree_roots", roots, 1);
    tb_attr_int(g, n, "n_targets", 4);
    set_tensor(g, n, "nodes_modes", DT_UINT8, 3, modes);
    set_tensor(g, n, "nodes_splits", DT_FLOAT, 3, splits);
    set_tensor(g, n, "leaf_weights", DT_FLOAT, 4, weights);
    set_tensor(g, n, "membership_values", DT_FLOAT, 8, members);
    return n;
}

Test(opsml_tree, set_membership) {
    Graph *g = tb_graph();
    const int64_t dx[] = { 6, 1 };
    const double x[] = { 1.2f, 3.7f, 8, 9, NAN, 12 };
    Node *n = te_node(g, tb_value(g, "x", DT_FLOAT, 2, dx, x));
    tb_fold_ok(g, n);
    /* 1.2, 3.7, 8, 9: in the first set -> leaf 0 (1); NaN: not <= 11 -> leaf 2 (1000);
     * 12: > 11 -> leaf 2 */
    const int64_t dy[] = { 6, 4 };
    const double want[] = { 1, 0, 0, 0,    1, 0, 0, 0,    1, 0, 0, 0,
                            1, 0, 0, 0,    0, 0, 1000, 0,  0, 0, 1000, 0 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    ir_graph_free(g);
}

Test(opsml_tree, aggregates_and_missing_values) {
    Graph *g = tb_graph();
    const int64_t dx[] = { 3, 1 };
    const double x[] = { 7, 5, NAN };
    Value *in = tb_value(g, "x", DT_FLOAT, 2, dx, x);
    /* two copies of the tree, averaged: 7 -> node 1 -> node 2 -> leaf 1 (10); 5 -> leaf 3
     * (100); NaN tracks true at node 0 -> node 1 -> node 2 -> leaf 3 */
    Node *n = te_node(g, in);
    const int64_t roots[] = { 0, 0 }, miss[] = { 1, 0, 0 };
    tb_attr_ints(g, n, "tree_roots", roots, 2);
    tb_attr_ints(g, n, "nodes_missing_value_tracks_true", miss, 3);
    tb_attr_int(g, n, "aggregate_function", 0);
    tb_fold_ok(g, n);
    const int64_t dy[] = { 3, 4 };
    const double want[] = { 0, 10, 0, 0,   0, 0, 0, 100,   0, 0, 0, 100 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, want, TB_EXACT);
    /* MAX: targets no leaf reached stay at -FLT_MAX */
    Node *m = te_node(g, in);
    tb_attr_int(g, m, "aggregate_function", 3);
    tb_fold_ok(g, m);
    cr_assert_eq(ou_get_f64(m->outputs[0], 1), 10);
    cr_assert_eq(ou_get_f64(m->outputs[0], 0), -(double)FLT_MAX);
    ir_graph_free(g);
}

Test(opsml_tree, softmax_and_logistic) {
    Graph *g = tb_graph();
    const int64_t dx[] = { 1, 1 };
    const double x[] = { 7 };   /* -> leaf 1: scores { 0, 10, 0, 0 } */
    Value *in = tb_value(g, "x", DT_FLOAT, 2, dx, x);
    Node *n = te_node(g, in);
    tb_attr_int(g, n, "post_transform", 1);
    tb_fold_ok(g, n);
    const double e10 = exp(10.0), sum = 3 + e10;
    const double soft[] = { 1 / sum, e10 / sum, 1 / sum, 1 / sum };
    const int64_t dy[] = { 1, 4 };
    tb_expect(n->outputs[0], DT_FLOAT, 2, dy, soft, TB_REL(1e-6));
    Node *m = te_node(g, in);
    tb_attr_int(g, m, "post_transform", 2);
    tb_fold_ok(g, m);
    const double logi[] = { 0.5, 1 / (1 + exp(-10.0)), 0.5, 0.5 };
    tb_expect(m->outputs[0], DT_FLOAT, 2, dy, logi, TB_REL(1e-6));
    ir_graph_free(g);
}

Test(opsml_tree, errors) {
    Graph *g = tb_graph();
    const int64_t dx[] = { 2, 1 };
    Value *x = tb_value(g, "x", DT_FLOAT, 2, dx, NULL);
    Node *n = te_node(g, x);
    tb_attr_int(g, n, "post_transform", 4);
    tb_fold_err(g, n, "post_transform 4 is not supported");
    n = te_node(g, x);
    const int64_t feat[] = { 0, 1, 0 };
    tb_attr_ints(g, n, "nodes_featureids", feat, 3);
    tb_fold_err(g, n, "node 1 reads feature 1, the input has 1");
    n = te_node(g, x);
    const int64_t cyc_t[] = { 1, 2, 1 }, cyc_l[] = { 0, 0, 1 };
    tb_attr_ints(g, n, "nodes_truenodeids", cyc_t, 3);
    tb_attr_ints(g, n, "nodes_trueleafs", cyc_l, 3);
    const int64_t back[] = { 2, 2, 0 }, backl[] = { 1, 0, 0 };
    tb_attr_ints(g, n, "nodes_falsenodeids", back, 3);
    tb_attr_ints(g, n, "nodes_falseleafs", backl, 3);
    tb_fold_err(g, n, "form a cycle");
    n = te_node(g, x);
    const int64_t far[] = { 1, 0, 9 };
    tb_attr_ints(g, n, "nodes_truenodeids", far, 3);
    tb_fold_err(g, n, "node 2: true leaf id 9 is out of range [0, 4)");
    n = te_node(g, x);
    const double short_members[] = { 1, NAN, 2 };
    set_tensor(g, n, "membership_values", DT_FLOAT, 3, short_members);
    tb_fold_err(g, n, "no NaN-terminated set for node 2");
    n = te_node(g, x);
    tb_attr_int(g, n, "n_targets", 2);
    tb_fold_err(g, n, "n_targets 2 does not cover");
    ir_graph_free(g);
}

static Node *b_tree(Graph *g, bool konst) {
    const int64_t dx[] = { 16, 1 };
    Node *n = te_node(g, tb_e2e_input(g, konst, "x", 2, dx, 0));
    /* thresholds inside tb_fill's [-1, 1), members from its values: each branch taken */
    const double splits[] = { -0.5, 0, 0 };
    set_tensor(g, n, "nodes_splits", DT_FLOAT, 3, splits);
    const double modes[] = { 2, 4, 6 };   /* >=, ==, in */
    set_tensor(g, n, "nodes_modes", DT_UINT8, 3, modes);
    float buf[16];
    tb_fill(buf, 16, E2E_SEED);
    const double members[] = { buf[1], buf[2], buf[3], buf[4], NAN };   /* node 2's set */
    set_tensor(g, n, "membership_values", DT_FLOAT, 5, members);
    return n;
}

static Node *b_tree_softmax(Graph *g, bool konst) {
    Node *n = b_tree(g, konst);
    tb_attr_int(g, n, "post_transform", 1);
    tb_attr_int(g, n, "aggregate_function", 0);
    return n;
}

static Node *b_tree_logistic(Graph *g, bool konst) {
    Node *n = b_tree(g, konst);
    tb_attr_int(g, n, "post_transform", 2);
    return n;
}

Test(opsml_tree, emitted_matches_folded) { emit_vs_fold(b_tree, 1); }
Test(opsml_tree, softmax_emitted_matches_folded) { emit_vs_fold(b_tree_softmax, 1); }
Test(opsml_tree, logistic_emitted_matches_folded) { emit_vs_fold(b_tree_logistic, 1); }
