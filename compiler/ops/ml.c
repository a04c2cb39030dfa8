/* ml.c: small ops of the ai.onnx.ml domain.
 *
 * Binarizer: y = x > threshold ? 1 : 0, elementwise, in x's type.
 * ArrayFeatureExtractor: picks elements along the last axis: y[..., j] = x[..., idx[j]]
 *   for the flattened int64 indices (negative ones count from the end); a 1-D x gives
 *   [1][count] (as onnxruntime).  Indices are data: out of range => run-time error.
 * TreeEnsemble (opset 5): decision trees over the rows of x [N][F]; each tree's leaf adds
 *   its weight to one target of the row's output [N][n_targets], aggregated by SUM,
 *   AVERAGE, MIN or MAX.  A branch node compares feature x[featureid] with its split
 *   (LEQ, LT, GTE, GT, EQ, NEQ, or MEMBER of a set listed in membership_values, NaN
 *   separated, in node order) and takes the true branch when it holds, or when the value
 *   is NaN and missing values track true.  The trees are checked at compile time (ids in
 *   range, no cycles) and emitted as static tables walked by a small loop.  Each row's
 *   scores then go through post_transform NONE, SOFTMAX (over the targets) or LOGISTIC
 *   (1 / (1 + e^-s)); SOFTMAX_ZERO and PROBIT are not supported.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

/* ---- Binarizer ------------------------------------------------------------------------ */

static const DType ml_bin_types[] = { DT_FLOAT, DT_DOUBLE, DT_INT64, DT_INT32, DT_UNDEFINED };

static bool bin_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d) || !ou_check_dtype(n, 0, ml_bin_types, d)) return false;
    const Value *x = n->inputs[0];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
}

/* The threshold compared in double (exact for float; int64 beyond 2^53 as C converts). */
static double bin_threshold(const Node *n) { return ir_attr_float(n, "threshold", 0.0f); }

static bool bin_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const double th = bin_threshold(n);
    for (int64_t i = 0; i < ir_numel(x); i++) ou_set_i64(y, i, ou_get_f64(x, i) > th ? 1 : 0);
    return true;
}

static bool bin_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0];
    char sx[128], lit[32];
    emit_line(e, "/* Binarizer of %s */", ou_shape(sx, sizeof sx, x));
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(x));
    emit_line(e, "y0[i] = (double)x0[i] > %s ? 1 : 0;", c_double(lit, bin_threshold(n)));
    return emit_close(e);
}

const OpDef op_binarizer = {
    .name = "Binarizer", .domain = "ai.onnx.ml", .since = 1, .min_inputs = 1,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .infer = bin_infer,
    .fold = bin_fold, .emit = bin_emit, .memory = OP_MEMORY_INPLACE,
};

/* ---- ArrayFeatureExtractor --------------------------------------------------------------- */

static bool afe_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    static const DType idx_types[] = { DT_INT64, DT_UNDEFINED };
    if (n->inputs[0] && n->inputs[0]->dtype == DT_STRING) {
        diag_error(d, n, "string input '%s' is not supported (onnxcc has no string tensors)",
                   n->inputs[0]->name);
        return false;
    }
    if (!ou_require_typed(n, 0, d) || !ou_check_dtype(n, 0, ml_bin_types, d) ||
        !ou_require_typed(n, 1, d) || !ou_check_dtype(n, 1, idx_types, d))
        return false;
    const Value *x = n->inputs[0];
    if (x->rank < 1) {
        diag_error(d, n, "input '%s' is a scalar, ArrayFeatureExtractor needs rank >= 1",
                   x->name);
        return false;
    }
    int64_t dims[IR_MAX_RANK];
    int rank = x->rank;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    if (rank == 1) {   /* a vector reads as one row */
        dims[0] = 1;
        rank = 2;
    }
    dims[rank - 1] = ir_numel(n->inputs[1]);
    if (x->dims[x->rank - 1] == 0 && dims[rank - 1] > 0) {
        diag_error(d, n, "input '%s' has no elements along its last axis to pick", x->name);
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

/* The element of a row an index picks, or -1 when out of range. */
static int64_t afe_pick(int64_t idx, int64_t len) {
    if (idx < 0) idx += len;
    return idx >= 0 && idx < len ? idx : -1;
}

static bool afe_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *iv = n->inputs[1];
    Value *y = n->outputs[0];
    const int64_t len = x->dims[x->rank - 1], picks = ir_numel(iv);
    const int64_t rows = len > 0 ? ir_numel(x) / len : 0;
    for (int64_t j = 0; j < picks; j++)
        if (afe_pick(ir_const_get_i64(iv, j), len) < 0) {
            diag_error(d, n, "index %lld is out of range for a last axis of %lld",
                       (long long)ir_const_get_i64(iv, j), (long long)len);
            return false;
        }
    if (!ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(x->dtype);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < picks; j++)
            ou_copy_elems(y->data, r * picks + j, x->data,
                          r * len + afe_pick(ir_const_get_i64(iv, j), len), es);
    return true;
}

static bool afe_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    const Value *x = n->inputs[0], *iv = n->inputs[1];
    const int64_t len = x->dims[x->rank - 1], picks = ir_numel(iv);
    const int64_t rows = len > 0 ? ir_numel(x) / len : 0;
    char sx[128];
    emit_line(e, "/* ArrayFeatureExtractor: %lld of the %lld elements of each of the %lld rows "
              "of %s */", (long long)picks, (long long)len, (long long)rows,
              ou_shape(sx, sizeof sx, x));
    if (rows == 0 || picks == 0) {
        emit_line(e, "(void)x0; (void)x1; (void)y0;");
        return true;
    }
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)picks);
    emit_line(e, "int64_t at = x1[j];");
    emit_line(e, "if (at < 0) at += %lld;   /* from the end */", (long long)len);
    emit_line(e, "if (at < 0 || at >= %lld) return 1;   /* index out of range */", (long long)len);
    emit_line(e, "for (size_t r = 0; r < %lld; r++) y0[r * %lld + j] = x0[r * %lld + (size_t)at];",
              (long long)rows, (long long)picks, (long long)len);
    return emit_close(e);
}

const OpDef op_arrayfeatureextractor = {
    .name = "ArrayFeatureExtractor", .domain = "ai.onnx.ml", .since = 1, .min_inputs = 2,
    .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, .infer = afe_infer,
    .fold = afe_fold, .emit = afe_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};

/* ---- TreeEnsemble ------------------------------------------------------------------------ */

typedef enum TeMode {
    TE_LEQ, TE_LT, TE_GTE, TE_GT, TE_EQ, TE_NEQ, TE_MEMBER, TE_MODE_COUNT
} TeMode;
typedef enum TeAggregate { TE_AVERAGE, TE_SUM, TE_MIN, TE_MAX, TE_AGG_COUNT } TeAggregate;
typedef enum TePost { TE_POST_NONE, TE_POST_SOFTMAX, TE_POST_LOGISTIC } TePost;

/* A branch's target: a node index >= 0, or leaf k as -(k + 1). */
typedef int64_t TeRef;
static TeRef te_leaf_ref(int64_t k) { return -(k + 1); }

typedef struct TeNode {
    int64_t feature;
    TeMode mode;
    double split;
    bool missing_true;
    TeRef next[2];              /* [0]: false branch, [1]: true branch */
    int64_t member_at, members; /* MEMBER: its set in TeView.member_values */
} TeNode;

typedef struct TeView {
    int64_t rows, features, targets;
    TeAggregate agg;
    TePost post;
    int64_t n_nodes, n_leaves, n_trees;
    TeNode *nodes;              /* malloc'ed */
    TeRef *roots;               /* malloc'ed */
    const int64_t *leaf_target;
    const Value *leaf_weight;
    double *member_values;      /* malloc'ed, the sets one after another, each NaN-ended */
    int64_t n_member_values;
} TeView;

static const DType te_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

static void te_free(TeView *v) {
    free(v->nodes);
    free(v->roots);
    free(v->member_values);
    memset(v, 0, sizeof *v);
}

/* A tensor attribute of `count` elements (count < 0: any), numeric. */
static const Value *te_tensor(const Node *n, const char *name, int64_t count, Diag *d) {
    const Attr *a = ir_attr(n, name);
    if (!a || a->type != ATTR_TENSOR || !a->tensor || !a->tensor->data) {
        diag_error(d, n, "attribute '%s' (a tensor) is required", name);
        return NULL;
    }
    const Value *t = a->tensor;
    if (!dtype_is_float(t->dtype) && !dtype_is_integer(t->dtype)) {
        diag_error(d, n, "attribute '%s' has type %s, expected a number", name,
                   dtype_name(t->dtype));
        return NULL;
    }
    if (count >= 0 && ir_numel(t) != count) {
        diag_error(d, n, "attribute '%s' has %lld elements, expected %lld", name,
                   (long long)ir_numel(t), (long long)count);
        return NULL;
    }
    return t;
}

/* An ints attribute of exactly `count` entries (count < 0: any, returned in *out_count). */
static const int64_t *te_ints(const Node *n, const char *name, int64_t *count, bool required,
                              Diag *d) {
    const int64_t *p = NULL;
    const size_t c = ir_attr_ints(n, name, &p);
    if (!ir_attr(n, name)) {
        if (required) diag_error(d, n, "attribute '%s' is required", name);
        return NULL;
    }
    if (*count >= 0 && (int64_t)c != *count) {
        diag_error(d, n, "attribute '%s' has %zu entries, expected %lld", name, c,
                   (long long)*count);
        return NULL;
    }
    *count = (int64_t)c;
    return p;
}

/* A branch target from its id and leaf flag; false + error when out of range. */
static bool te_ref(const Node *n, const TeView *v, int64_t node, const char *which, int64_t id,
                   bool leaf, TeRef *out, Diag *d) {
    const int64_t limit = leaf ? v->n_leaves : v->n_nodes;
    if (id < 0 || id >= limit) {
        diag_error(d, n, "node %lld: %s %s id %lld is out of range [0, %lld)", (long long)node,
                   which, leaf ? "leaf" : "node", (long long)id, (long long)limit);
        return false;
    }
    *out = leaf ? te_leaf_ref(id) : id;
    return true;
}

/* Gives each MEMBER node its NaN-terminated set from membership_values, in node order. */
static bool te_members(const Node *n, TeView *v, Diag *d) {
    int64_t members = 0;
    for (int64_t i = 0; i < v->n_nodes; i++) members += v->nodes[i].mode == TE_MEMBER;
    if (members == 0) return true;
    const Value *mv = te_tensor(n, "membership_values", -1, d);
    if (!mv) return false;
    const int64_t count = ir_numel(mv);
    v->member_values = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
    if (!v->member_values) {
        diag_error(d, n, "out of memory for %lld membership values", (long long)count);
        return false;
    }
    int64_t at = 0;
    for (int64_t i = 0; i < v->n_nodes; i++) {
        TeNode *t = &v->nodes[i];
        if (t->mode != TE_MEMBER) continue;
        t->member_at = at;
        while (at < count && !isnan(ou_get_f64(mv, at))) {
            v->member_values[at] = ou_get_f64(mv, at);
            at++;
        }
        if (at >= count) {
            diag_error(d, n, "membership_values has no NaN-terminated set for node %lld",
                       (long long)i);
            return false;
        }
        t->members = at - t->member_at;
        v->member_values[at++] = NAN;
    }
    v->n_member_values = at;   /* values after the last set are not used */
    return true;
}

/* Reads the branch nodes. */
static bool te_nodes(const Node *n, TeView *v, Diag *d) {
    int64_t c = -1;
    const int64_t *feat = te_ints(n, "nodes_featureids", &c, true, d);
    if (!feat) return false;
    v->n_nodes = c;
    const int64_t *tid = te_ints(n, "nodes_truenodeids", &c, true, d);
    const int64_t *fid = tid ? te_ints(n, "nodes_falsenodeids", &c, true, d) : NULL;
    const int64_t *tleaf = fid ? te_ints(n, "nodes_trueleafs", &c, true, d) : NULL;
    const int64_t *fleaf = tleaf ? te_ints(n, "nodes_falseleafs", &c, true, d) : NULL;
    if (!fleaf) return false;
    const int64_t *miss = te_ints(n, "nodes_missing_value_tracks_true", &c, false, d);
    if (!miss && ir_attr(n, "nodes_missing_value_tracks_true")) return false;
    const Value *modes = te_tensor(n, "nodes_modes", v->n_nodes, d);
    const Value *splits = modes ? te_tensor(n, "nodes_splits", v->n_nodes, d) : NULL;
    if (!splits) return false;
    v->nodes = calloc((size_t)(v->n_nodes > 0 ? v->n_nodes : 1), sizeof *v->nodes);
    if (!v->nodes) {
        diag_error(d, n, "out of memory for %lld nodes", (long long)v->n_nodes);
        return false;
    }
    for (int64_t i = 0; i < v->n_nodes; i++) {
        TeNode *t = &v->nodes[i];
        const int64_t mode = ou_get_i64(modes, i);
        if (mode < 0 || mode >= TE_MODE_COUNT) {
            diag_error(d, n, "node %lld has mode %lld, not one of 0..%d", (long long)i,
                       (long long)mode, TE_MODE_COUNT - 1);
            return false;
        }
        if (feat[i] < 0 || feat[i] >= v->features) {
            diag_error(d, n, "node %lld reads feature %lld, the input has %lld", (long long)i,
                       (long long)feat[i], (long long)v->features);
            return false;
        }
        t->mode = (TeMode)mode;
        t->feature = feat[i];
        t->split = ou_get_f64(splits, i);
        t->missing_true = miss && miss[i] != 0;
        if (!te_ref(n, v, i, "false", fid[i], fleaf[i] != 0, &t->next[0], d) ||
            !te_ref(n, v, i, "true", tid[i], tleaf[i] != 0, &t->next[1], d))
            return false;
    }
    return te_members(n, v, d);
}

/* Whether the nodes reachable from the roots hold a cycle (iterative DFS with colours:
 * 0 unvisited, 1 on the stack, 2 done). */
static bool te_has_cycle(const TeView *v, bool *ok_alloc) {
    unsigned char *colour = calloc((size_t)(v->n_nodes > 0 ? v->n_nodes : 1), 1);
    int64_t *stack = malloc(sizeof(int64_t) * (size_t)(v->n_nodes > 0 ? v->n_nodes : 1));
    unsigned char *edge = calloc((size_t)(v->n_nodes > 0 ? v->n_nodes : 1), 1);
    *ok_alloc = colour && stack && edge;
    bool cycle = false;
    for (int64_t r = 0; *ok_alloc && !cycle && r < v->n_trees; r++) {
        if (v->roots[r] < 0 || colour[v->roots[r]]) continue;
        int64_t top = 0;
        stack[top++] = v->roots[r];
        colour[v->roots[r]] = 1;
        while (top > 0 && !cycle) {
            const int64_t at = stack[top - 1];
            if (edge[at] == 2) {   /* both branches explored */
                colour[at] = 2;
                top--;
                continue;
            }
            const TeRef next = v->nodes[at].next[edge[at]++];
            if (next < 0 || colour[next] == 2) continue;
            if (colour[next] == 1) cycle = true;
            else {
                colour[next] = 1;
                stack[top++] = next;   /* at most n_nodes entries: each once on the stack */
            }
        }
    }
    free(colour);
    free(stack);
    free(edge);
    return cycle;
}

/* Roots, leaves and the output's targets. */
static bool te_trees(const Node *n, TeView *v, Diag *d) {
    int64_t c = -1;
    const int64_t *roots = te_ints(n, "tree_roots", &c, true, d);
    if (!roots) return false;
    v->n_trees = c;
    c = -1;
    v->leaf_target = te_ints(n, "leaf_targetids", &c, true, d);
    if (!v->leaf_target) return false;
    v->n_leaves = c;
    v->leaf_weight = te_tensor(n, "leaf_weights", v->n_leaves, d);
    if (!v->leaf_weight || !te_nodes(n, v, d)) return false;
    int64_t max_target = -1;
    for (int64_t k = 0; k < v->n_leaves; k++) {
        if (v->leaf_target[k] < 0) {
            diag_error(d, n, "leaf %lld has target %lld", (long long)k,
                       (long long)v->leaf_target[k]);
            return false;
        }
        if (v->leaf_target[k] > max_target) max_target = v->leaf_target[k];
    }
    v->targets = ir_attr_int(n, "n_targets", max_target + 1);
    if (v->targets < 1 || max_target >= v->targets) {
        diag_error(d, n, "n_targets %lld does not cover the leaves' targets (up to %lld)",
                   (long long)v->targets, (long long)max_target);
        return false;
    }
    v->roots = malloc(sizeof(TeRef) * (size_t)(v->n_trees > 0 ? v->n_trees : 1));
    if (!v->roots) {
        diag_error(d, n, "out of memory for %lld trees", (long long)v->n_trees);
        return false;
    }
    for (int64_t r = 0; r < v->n_trees; r++) {
        const int64_t id = roots[r];
        if (id < 0 || id >= v->n_nodes) {
            diag_error(d, n, "tree root %lld is out of range [0, %lld)", (long long)id,
                       (long long)v->n_nodes);
            return false;
        }
        /* a tree that is a single leaf: both branches the same leaf, the root's id
         * naming that leaf (as the reference reads it) */
        const TeNode *t = &v->nodes[id];
        const bool leaf = t->next[0] < 0 && t->next[0] == t->next[1];
        if (leaf && id >= v->n_leaves) {
            diag_error(d, n, "single-leaf tree %lld names leaf %lld of %lld", (long long)r,
                       (long long)id, (long long)v->n_leaves);
            return false;
        }
        v->roots[r] = leaf ? te_leaf_ref(id) : id;
    }
    bool ok_alloc;
    const bool cycle = te_has_cycle(v, &ok_alloc);
    if (!ok_alloc || cycle) {
        diag_error(d, n, ok_alloc ? "the trees' branches form a cycle"
                                  : "out of memory checking the trees");
        return false;
    }
    return true;
}

static bool te_view(const Node *n, TeView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    if (!ou_require_typed(n, 0, d) || !ou_check_dtype(n, 0, te_types, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank != 2) {
        diag_error(d, n, "input '%s' has rank %d, TreeEnsemble needs [N][F]", x->name, x->rank);
        return false;
    }
    v->rows = x->dims[0];
    v->features = x->dims[1];
    const int64_t post = ir_attr_int(n, "post_transform", TE_POST_NONE);
    if (post < TE_POST_NONE || post > TE_POST_LOGISTIC) {
        diag_error(d, n, "post_transform %lld is not supported (0 NONE, 1 SOFTMAX and "
                   "2 LOGISTIC are)", (long long)post);
        return false;
    }
    v->post = (TePost)post;
    const int64_t agg = ir_attr_int(n, "aggregate_function", TE_SUM);
    if (agg < 0 || agg >= TE_AGG_COUNT) {
        diag_error(d, n, "aggregate_function %lld is not one of 0..%d", (long long)agg,
                   TE_AGG_COUNT - 1);
        return false;
    }
    v->agg = (TeAggregate)agg;
    if (!te_trees(n, v, d)) {
        te_free(v);
        return false;
    }
    return true;
}

static bool te_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    TeView v;
    if (!te_view(n, &v, d)) return false;
    const int64_t dims[2] = { v.rows, v.targets };
    const bool ok = ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, 2, dims, d);
    te_free(&v);
    return ok;
}

/* Whether feature value x takes node t's true branch. */
static bool te_goes_true(const TeView *v, const TeNode *t, double x) {
    bool r = false;
    switch (t->mode) {
    case TE_LEQ: r = x <= t->split; break;
    case TE_LT: r = x < t->split; break;
    case TE_GTE: r = x >= t->split; break;
    case TE_GT: r = x > t->split; break;
    case TE_EQ: r = x == t->split; break;
    case TE_NEQ: r = x != t->split; break;
    case TE_MEMBER:
        for (int64_t k = 0; k < t->members; k++) r = r || x == v->member_values[t->member_at + k];
        break;
    case TE_MODE_COUNT: break;
    }
    return r || (t->missing_true && isnan(x));
}

/* The largest finite value of the output type, MIN's starting value (as the reference). */
static double te_type_max(DType t) { return t == DT_FLOAT ? (double)FLT_MAX : DBL_MAX; }

/* The post_transform of one row of scores, y[at .. at + targets). */
static void te_fold_post(const TeView *v, Value *y, int64_t at) {
    if (v->post == TE_POST_LOGISTIC)
        for (int64_t c = 0; c < v->targets; c++)
            ou_set_f64(y, at + c, 1.0 / (1.0 + exp(-ou_get_f64(y, at + c))));
    if (v->post != TE_POST_SOFTMAX) return;
    double top = -INFINITY, sum = 0;
    for (int64_t c = 0; c < v->targets; c++) top = fmax(top, ou_get_f64(y, at + c));
    for (int64_t c = 0; c < v->targets; c++) sum += exp(ou_get_f64(y, at + c) - top);
    for (int64_t c = 0; c < v->targets; c++)
        ou_set_f64(y, at + c, exp(ou_get_f64(y, at + c) - top) / sum);
}

/* The same in emitted code, on the row yr. */
static void te_emit_post(Emitter *e, const TeView *v, const char *T) {
    if (v->post == TE_POST_LOGISTIC) {
        emit_line(e, "/* LOGISTIC */");
        emit_line(e, "for (size_t c = 0; c < %lld; c++) "
                  "yr[c] = (%s)(1.0 / (1.0 + exp(-(double)yr[c])));", (long long)v->targets, T);
    }
    if (v->post != TE_POST_SOFTMAX) return;
    emit_line(e, "/* SOFTMAX over the targets */");
    emit_line(e, "double top = -(double)ONNXCC_INF, sum = 0;");
    emit_line(e, "for (size_t c = 0; c < %lld; c++) top = fmax(top, (double)yr[c]);",
              (long long)v->targets);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) sum += exp((double)yr[c] - top);",
              (long long)v->targets);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) yr[c] = (%s)(exp((double)yr[c] - top) / sum);",
              (long long)v->targets, T);
}

static bool te_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    TeView v;
    if (!te_view(n, &v, d)) return false;
    if (!ir_value_alloc_data(g, y, d)) {
        te_free(&v);
        return false;
    }
    const double init = v.agg == TE_MIN ? te_type_max(x->dtype)
                        : v.agg == TE_MAX ? -te_type_max(x->dtype) : 0.0;
    for (int64_t r = 0; r < v.rows; r++) {
        for (int64_t c = 0; c < v.targets; c++) ou_set_f64(y, r * v.targets + c, init);
        for (int64_t t = 0; t < v.n_trees; t++) {
            TeRef at = v.roots[t];
            while (at >= 0) {
                const TeNode *nd = &v.nodes[at];
                at = nd->next[te_goes_true(&v, nd, ou_get_f64(x, r * v.features + nd->feature))];
            }
            const int64_t leaf = -at - 1, o = r * v.targets + v.leaf_target[leaf];
            const double w = ou_get_f64(v.leaf_weight, leaf), acc = ou_get_f64(y, o);
            switch (v.agg) {
            case TE_SUM: ou_set_f64(y, o, acc + w); break;
            case TE_AVERAGE: ou_set_f64(y, o, acc + w / (double)v.n_trees); break;
            case TE_MIN: ou_set_f64(y, o, w < acc ? w : acc); break;
            case TE_MAX: ou_set_f64(y, o, w > acc ? w : acc); break;
            case TE_AGG_COUNT: break;
            }
        }
        te_fold_post(&v, y, r * v.targets);
    }
    te_free(&v);
    return true;
}

/* The node, leaf, root and membership tables as static data. */
static void te_emit_tables(Emitter *e, const TeView *v) {
    static const char *const mode_names[] = { "<=", "<", ">=", ">", "==", "!=", "in" };
    char l1[32], l2[32];
    emit_line(e, "/* branch nodes: feature, mode (0 <=, 1 <, 2 >=, 3 >, 4 ==, 5 !=, 6 in set), "
              "split, NaN goes true, next if false / true (-k-1: leaf k), set start, size */");
    emit_line(e, "typedef struct { int64_t feature; int mode; double split; bool nan_true; "
              "int64_t next[2]; int64_t set_at, set_len; } TreeNode;");
    /* called with trees, so with nodes: every root is a node id */
    emit_line(e, "static const TreeNode nodes[%lld] = {", (long long)v->n_nodes);
    for (int64_t i = 0; i < v->n_nodes; i++) {
        const TeNode *t = &v->nodes[i];
        emit_line(e, "    { %lld, %d, %s, %d, { %lld, %lld }, %lld, %lld },"
                  "   /* %lld: x[%lld] %s %s */",
                  (long long)t->feature, (int)t->mode, c_double(l1, t->split), t->missing_true,
                  (long long)t->next[0], (long long)t->next[1], (long long)t->member_at,
                  (long long)t->members, (long long)i, (long long)t->feature,
                  mode_names[t->mode], t->mode == TE_MEMBER ? "set" : c_double(l2, t->split));
    }
    emit_line(e, "};");
    if (v->n_member_values > 0) {
        emit_line(e, "static const double set_values[%lld] = {   /* the sets, each NaN-ended */",
                  (long long)v->n_member_values);
        for (int64_t k = 0; k < v->n_member_values; k++)
            emit_line(e, "    %s,", c_double(l1, v->member_values[k]));
        emit_line(e, "};");
    }
    emit_line(e, "static const double leaf_weight[%lld] = {", (long long)v->n_leaves);
    for (int64_t k = 0; k < v->n_leaves; k++)
        emit_line(e, "    %s,   /* leaf %lld -> target %lld */",
                  c_double(l1, ou_get_f64(v->leaf_weight, k)), (long long)k,
                  (long long)v->leaf_target[k]);
    emit_line(e, "};");
    emit_line(e, "static const int64_t leaf_target[%lld] = {", (long long)v->n_leaves);
    for (int64_t k = 0; k < v->n_leaves; k++)
        emit_line(e, "    %lld,", (long long)v->leaf_target[k]);
    emit_line(e, "};");
    emit_line(e, "static const int64_t roots[%lld] = {   /* -k-1: a single-leaf tree */",
              (long long)v->n_trees);
    for (int64_t r = 0; r < v->n_trees; r++) emit_line(e, "    %lld,", (long long)v->roots[r]);
    emit_line(e, "};");
}

/* The walk of one tree from roots[t] to a leaf, for the row xr. */
static void te_emit_walk(Emitter *e, const TeView *v) {
    emit_line(e, "int64_t at = roots[t];");
    emit_line(e, "/* down to a leaf: the tables hold no cycle (checked at compile time) */");
    emit_open(e, "while (at >= 0)");
    emit_line(e, "const TreeNode *nd = &nodes[at];");
    emit_line(e, "const double f = (double)xr[nd->feature];");
    emit_line(e, "bool go = false;");
    emit_open(e, "switch (nd->mode)");
    static const char *const ops[] = { "<=", "<", ">=", ">", "==", "!=" };
    for (int m = 0; m < TE_MEMBER; m++)
        emit_line(e, "case %d: go = f %s nd->split; break;", m, ops[m]);
    if (v->n_member_values > 0) {
        emit_line(e, "default:   /* in the set */");
        emit_line(e, "    for (int64_t k = 0; k < nd->set_len; k++) go = go || f == "
                  "set_values[nd->set_at + k];");
        emit_line(e, "    break;");
    } else {
        emit_line(e, "default: break;");
    }
    emit_close(e);
    emit_line(e, "at = nd->next[go || (nd->nan_true && isnan(f))];");
    emit_close(e);
}

static bool te_emit(Emitter *e, const Node *n, Diag *d) {
    TeView v;
    if (!te_view(n, &v, d)) return false;
    if (ou_emit_if_empty(e, n)) {   /* no rows */
        te_free(&v);
        return true;
    }
    const Value *x = n->inputs[0];
    const char *T = dtype_ctype(x->dtype);
    static const char *const agg_names[] = { "AVERAGE", "SUM", "MIN", "MAX" };
    char sx[128], l1[32], l2[32];
    emit_line(e, "/* TreeEnsemble (%s of %lld trees) of %s -> [%lld][%lld] */", agg_names[v.agg],
              (long long)v.n_trees, ou_shape(sx, sizeof sx, x), (long long)v.rows,
              (long long)v.targets);
    const double init = v.agg == TE_MIN ? te_type_max(x->dtype)
                        : v.agg == TE_MAX ? -te_type_max(x->dtype) : 0.0;
    if (v.n_trees > 0) te_emit_tables(e, &v);
    else emit_line(e, "(void)x0;   /* no trees */");
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)v.rows);
    emit_line(e, "%s *yr = y0 + r * %lld;", T, (long long)v.targets);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) yr[c] = (%s)%s;", (long long)v.targets, T,
              c_double(l1, init));
    if (v.n_trees > 0) {
        emit_line(e, "const %s *xr = x0 + r * %lld;", T, (long long)v.features);
        emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)v.n_trees);
        te_emit_walk(e, &v);
        emit_line(e, "const int64_t leaf = -at - 1;");
        emit_line(e, "const double w = leaf_weight[leaf], acc = yr[leaf_target[leaf]];");
        switch (v.agg) {
        case TE_SUM: emit_line(e, "yr[leaf_target[leaf]] = (%s)(acc + w);", T); break;
        case TE_AVERAGE:
            emit_line(e, "yr[leaf_target[leaf]] = (%s)(acc + w / %s);", T,
                      c_double(l2, (double)v.n_trees));
            break;
        case TE_MIN: emit_line(e, "yr[leaf_target[leaf]] = (%s)(w < acc ? w : acc);", T); break;
        case TE_MAX: emit_line(e, "yr[leaf_target[leaf]] = (%s)(w > acc ? w : acc);", T); break;
        case TE_AGG_COUNT: break;
        }
        emit_close(e);
    }
    te_emit_post(e, &v, T);
    te_free(&v);
    return emit_close(e);
}

const OpDef op_treeensemble = {
    .name = "TreeEnsemble", .domain = "ai.onnx.ml", .since = 5, .min_inputs = 1,
    .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .infer = te_infer, .fold = te_fold,
    .emit = te_emit, .memory = OP_MEMORY_SEPARATE,
};
