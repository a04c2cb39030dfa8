/* tfidf.c: TfIdfVectorizer, n-gram counts of the rows of an integer input ([C] or
 * [B][C]) into a float vector per row ([OUT] or [B][OUT]), weighted by mode: TF (the
 * counts), IDF (weights[j], or 1, where the count is non-zero) or TFIDF (weights[j] times
 * the count, or the count).
 *
 * The n-grams come from the attributes: pool_int64s holds, for each size s = 1, 2, ...,
 * a run of n-grams of s items starting at ngram_counts[s - 1]; the i-th n-gram of the
 * pool (counting every size) adds to column ngram_indexes[i].  Only the sizes in
 * [min_gram_length, max_gram_length] are counted.  An n-gram of s >= 2 items matches at
 * start p with step k (1 <= k <= max_skip_count + 1) when x[p + i * k] == item[i] for
 * every i; unigrams match once per position (their step does not matter).  When the pool
 * lists the same n-gram twice, its last entry wins (as in the reference's trie).
 *
 * The table is built at compile time (sorted by length then items, duplicates dropped)
 * and emitted as static data; the emitted matcher looks up the items at each start, for
 * each length and step, by binary search in that length's n-grams (so large vocabularies
 * cost log G per lookup), counts into int64 scratch, then weights.  The folder counts
 * each n-gram directly, an independent check of the emitted code in the unit tests.  String inputs (pool_strings) are not supported: onnxcc has no string tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

typedef enum TfMode { TF_MODE_TF, TF_MODE_IDF, TF_MODE_TFIDF } TfMode;

typedef struct TfGram {
    const int64_t *item;    /* len items, pointing into the pool attribute */
    int64_t len, col, seq;  /* seq: position in the pool, for "last entry wins" */
} TfGram;

/* What infer, fold and emit need: the attributes checked and the n-gram table. */
typedef struct TfView {
    TfMode mode;
    int64_t rows, cols;     /* the input seen as [rows][cols] */
    int64_t out;            /* columns of the output: max(ngram_indexes) + 1 */
    int64_t max_step;       /* largest step that can match anything */
    int64_t max_len;        /* longest n-gram kept */
    const float *weights;   /* out or more entries, or NULL */
    TfGram *grams;          /* malloc'ed, count entries, sorted, no duplicates */
    int64_t count;
} TfView;

static const DType tf_types[] = { DT_INT32, DT_INT64, DT_UNDEFINED };

static bool tf_mode(const Node *n, TfMode *m, Diag *d) {
    const char *s = ir_attr_string(n, "mode", NULL);
    if (!s) {
        diag_error(d, n, "attribute 'mode' is required (TF, IDF or TFIDF)");
        return false;
    }
    if (strcmp(s, "TF") == 0) *m = TF_MODE_TF;
    else if (strcmp(s, "IDF") == 0) *m = TF_MODE_IDF;
    else if (strcmp(s, "TFIDF") == 0) *m = TF_MODE_TFIDF;
    else {
        char q[64];
        diag_error(d, n, "mode '%s' is not TF, IDF or TFIDF", diag_quote(q, sizeof q, s));
        return false;
    }
    return true;
}

/* The scalar attributes: gram lengths, skips. */
static bool tf_lengths(const Node *n, int64_t *min_len, int64_t *max_len, int64_t *skips,
                       Diag *d) {
    const char *req[] = { "min_gram_length", "max_gram_length", "max_skip_count" };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!ir_attr(n, req[i])) {
            diag_error(d, n, "attribute '%s' is required", req[i]);
            return false;
        }
    *min_len = ir_attr_int(n, "min_gram_length", 1);
    *max_len = ir_attr_int(n, "max_gram_length", 1);
    *skips = ir_attr_int(n, "max_skip_count", 0);
    if (*min_len < 1 || *max_len < *min_len) {
        diag_error(d, n, "gram lengths [%lld, %lld] are not 1 <= min <= max",
                   (long long)*min_len, (long long)*max_len);
        return false;
    }
    if (*skips < 0) {
        diag_error(d, n, "max_skip_count %lld is negative", (long long)*skips);
        return false;
    }
    return true;
}

/* Orders n-grams by length, items, then pool position. */
static int tf_gram_cmp(const void *pa, const void *pb) {
    const TfGram *a = pa, *b = pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    for (int64_t i = 0; i < a->len; i++)
        if (a->item[i] != b->item[i]) return a->item[i] < b->item[i] ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool tf_same_items(const TfGram *a, const TfGram *b) {
    return a->len == b->len && memcmp(a->item, b->item, sizeof(int64_t) * (size_t)a->len) == 0;
}

/* Sorts the table and drops all but the last pool entry of each n-gram. */
static void tf_dedup(TfView *v) {
    if (v->count == 0) return;
    qsort(v->grams, (size_t)v->count, sizeof *v->grams, tf_gram_cmp);
    int64_t kept = 0;
    for (int64_t i = 0; i < v->count; i++) {
        if (i + 1 < v->count && tf_same_items(&v->grams[i], &v->grams[i + 1])) continue;
        v->grams[kept++] = v->grams[i];
    }
    v->count = kept;
}

/* Walks the pool by gram size and collects the n-grams of the counted sizes. */
static bool tf_table(const Node *n, TfView *v, int64_t min_len, int64_t max_len, Diag *d) {
    const int64_t *counts, *pool, *index;
    const size_t n_counts = ir_attr_ints(n, "ngram_counts", &counts);
    const size_t n_pool = ir_attr_ints(n, "pool_int64s", &pool);
    const size_t n_index = ir_attr_ints(n, "ngram_indexes", &index);
    if (ir_attr(n, "pool_strings") || !ir_attr(n, "pool_int64s")) {
        diag_error(d, n, "only pool_int64s is supported (string pools need string tensors, "
                   "which onnxcc does not support)");
        return false;
    }
    if (n_index == 0) {
        diag_error(d, n, "attribute 'ngram_indexes' is required and must not be empty");
        return false;
    }
    v->out = 0;
    for (size_t i = 0; i < n_index; i++) {
        if (index[i] < 0 || index[i] >= INT32_MAX) {
            diag_error(d, n, "ngram_indexes[%zu] = %lld is out of range [0, %d)", i,
                       (long long)index[i], INT32_MAX);
            return false;
        }
        if (index[i] + 1 > v->out) v->out = index[i] + 1;
    }
    v->grams = malloc(sizeof *v->grams * (n_pool > 0 ? n_pool : 1));
    if (!v->grams) {
        diag_error(d, n, "out of memory for %zu n-grams", n_pool);
        return false;
    }
    int64_t seq = 0;   /* pool position of the next n-gram, all sizes counted */
    for (size_t s = 0; s < n_counts; s++) {
        const int64_t size = (int64_t)s + 1;
        const int64_t start = counts[s];
        const int64_t end = s + 1 < n_counts ? counts[s + 1] : (int64_t)n_pool;
        if (start < 0 || end < start || end > (int64_t)n_pool) {
            diag_error(d, n, "ngram_counts[%zu] gives items [%lld, %lld), not within the "
                       "%zu pool items in order", s, (long long)start, (long long)end, n_pool);
            return false;
        }
        const int64_t grams = (end - start) / size;
        if (seq + grams > (int64_t)n_index) {
            diag_error(d, n, "the pool holds more n-grams than the %zu ngram_indexes", n_index);
            return false;
        }
        for (int64_t g = 0; g < grams; g++, seq++) {
            if (size < min_len || size > max_len) continue;
            v->grams[v->count++] = (TfGram){ .item = pool + start + g * size, .len = size,
                                             .col = index[seq], .seq = seq };
            if (size > v->max_len) v->max_len = size;
        }
    }
    tf_dedup(v);
    return true;
}

static void tf_view_free(TfView *v) { free(v->grams); v->grams = NULL; }

/* Checks the node and builds the view (free it with tf_view_free). */
static bool tf_view(const Node *n, TfView *v, Diag *d) {
    memset(v, 0, sizeof *v);
    const Value *x = n->inputs[0];
    if (x->dtype == DT_STRING) {
        diag_error(d, n, "string input '%s' is not supported (onnxcc has no string tensors)",
                   x->name);
        return false;
    }
    if (!ou_require_typed(n, 0, d) || !ou_check_dtype(n, 0, tf_types, d)) return false;
    if (x->rank != 1 && x->rank != 2) {
        diag_error(d, n, "input '%s' has rank %d, TfIdfVectorizer needs [C] or [B][C]",
                   x->name, x->rank);
        return false;
    }
    int64_t min_len, max_len, skips;
    if (!tf_mode(n, &v->mode, d) || !tf_lengths(n, &min_len, &max_len, &skips, d)) return false;
    v->rows = x->rank == 2 ? x->dims[0] : 1;
    v->cols = x->dims[x->rank - 1];
    if (!tf_table(n, v, min_len, max_len, d)) {
        tf_view_free(v);
        return false;
    }
    /* a step beyond cols - 1 cannot fit two items: no need to try it */
    const int64_t useful = v->cols > 2 ? v->cols - 1 : 1;
    v->max_step = skips < useful ? skips + 1 : useful;
    int64_t span;
    if (!i64_mul(v->max_len, v->max_step, &span)) {
        diag_error(d, n, "n-gram span %lld x %lld overflows", (long long)v->max_len,
                   (long long)v->max_step);
        tf_view_free(v);
        return false;
    }
    const float *w;
    const size_t n_w = ir_attr_floats(n, "weights", &w);
    if (ir_attr(n, "weights") && (int64_t)n_w < v->out) {
        diag_error(d, n, "weights has %zu entries, the output has %lld columns", n_w,
                   (long long)v->out);
        tf_view_free(v);
        return false;
    }
    v->weights = ir_attr(n, "weights") ? w : NULL;
    return true;
}

static bool tf_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    TfView v;
    if (!tf_view(n, &v, d)) return false;
    const Value *x = n->inputs[0];
    int64_t dims[2] = { v.rows, v.out };
    const bool ok = x->rank == 2 ? ou_set_output(n, n->outputs[0], DT_FLOAT, 2, dims, d)
                                 : ou_set_output(n, n->outputs[0], DT_FLOAT, 1, &v.out, d);
    tf_view_free(&v);
    return ok;
}

/* The weighted value of a count in column c. */
static float tf_weigh(const TfView *v, int64_t c, int64_t count) {
    switch (v->mode) {
    case TF_MODE_TF: return (float)count;
    case TF_MODE_IDF: return count > 0 ? (v->weights ? v->weights[c] : 1.0f) : 0.0f;
    case TF_MODE_TFIDF: return v->weights ? v->weights[c] * (float)count : (float)count;
    }
    return 0.0f;
}

static bool tf_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    TfView v;
    if (!tf_view(n, &v, d)) return false;
    int64_t *count = calloc((size_t)v.out, sizeof *count);
    if (!count || !ir_value_alloc_data(g, y, d)) {
        if (!count) diag_error(d, n, "out of memory for %lld counts", (long long)v.out);
        free(count);
        tf_view_free(&v);
        return false;
    }
    for (int64_t r = 0; r < v.rows; r++) {
        memset(count, 0, sizeof *count * (size_t)v.out);
        const int64_t row = r * v.cols;
        for (int64_t k = 0; k < v.count; k++) {
            const TfGram *gr = &v.grams[k];
            const int64_t steps = gr->len == 1 ? 1 : v.max_step;
            for (int64_t step = 1; step <= steps; step++)
                for (int64_t p = 0; p + (gr->len - 1) * step < v.cols; p++) {
                    int64_t i = 0;
                    while (i < gr->len && ir_const_get_i64(x, row + p + i * step) == gr->item[i])
                        i++;
                    if (i == gr->len) count[gr->col]++;
                }
        }
        for (int64_t c = 0; c < v.out; c++)
            ((float *)y->data)[r * v.out + c] = tf_weigh(&v, c, count[c]);
    }
    free(count);
    tf_view_free(&v);
    return true;
}

/* The n-gram table as static data, one line per n-gram, sorted by length then items,
 * and where each length starts. */
static void tf_emit_table(Emitter *e, const TfView *v) {
    char lit[40];
    emit_line(e, "typedef struct { int64_t item[%lld]; int64_t col; } Ngram;",
              (long long)v->max_len);
    emit_line(e, "static const Ngram grams[%lld] = {", (long long)v->count);
    for (int64_t k = 0; k < v->count; k++) {
        const TfGram *g = &v->grams[k];
        char items[512];
        size_t at = 0;
        items[0] = '\0';
        for (int64_t i = 0; i < g->len && at + 48 < sizeof items; i++)
            at += (size_t)snprintf(items + at, sizeof items - at, "%s%s", i ? ", " : "",
                                   c_int64(lit, (long long)g->item[i]));
        if (at + 48 >= sizeof items) {   /* very long n-gram: one item per line */
            emit_line(e, "    { {");
            for (int64_t i = 0; i < g->len; i++)
                emit_line(e, "        %s,", c_int64(lit, (long long)g->item[i]));
            emit_line(e, "    }, %lld },", (long long)g->col);
        } else {
            emit_line(e, "    { { %s }, %lld },", items, (long long)g->col);
        }
    }
    emit_line(e, "};");
    emit_line(e, "/* grams[len_at[l - 1] .. len_at[l]) have l items */");
    emit_line(e, "static const int64_t len_at[%lld] = {", (long long)v->max_len + 1);
    int64_t k = 0;
    for (int64_t l = 0; l <= v->max_len; l++) {
        while (k < v->count && v->grams[k].len <= l) k++;
        emit_line(e, "    %lld,", (long long)k);
    }
    emit_line(e, "};");
}

/* Counts the n-grams of row xr: at each start p, for each length and step, a binary
 * search of that length's sorted n-grams for the items at p, p + step, ... */
static void tf_emit_matcher(Emitter *e, const TfView *v) {
    emit_open(e, "for (int64_t p = 0; p < %lld; p++)", (long long)v->cols);
    emit_open(e, "for (int64_t len = 1; len <= %lld; len++)", (long long)v->max_len);
    emit_line(e, "const int64_t steps = len == 1 ? 1 : %lld;   /* unigrams: once */",
              (long long)v->max_step);
    emit_open(e, "for (int64_t step = 1; step <= steps && p + (len - 1) * step < %lld; step++)",
              (long long)v->cols);
    emit_line(e, "int64_t lo = len_at[len - 1], hi = len_at[len];");
    emit_open(e, "while (lo < hi)");
    emit_line(e, "const int64_t mid = lo + (hi - lo) / 2;");
    emit_line(e, "int c = 0;   /* the items at p vs grams[mid]: -1, 0 or 1 */");
    emit_open(e, "for (int64_t i = 0; i < len && c == 0; i++)");
    emit_line(e, "const int64_t a = (int64_t)xr[p + i * step], b = grams[mid].item[i];");
    emit_line(e, "c = a < b ? -1 : a > b;");
    emit_close(e);
    emit_open(e, "if (c == 0)");
    emit_line(e, "count[grams[mid].col]++;");
    emit_line(e, "break;");
    emit_close(e);
    emit_line(e, "if (c < 0) hi = mid;");
    emit_line(e, "else lo = mid + 1;");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_close(e);
}

/* y0[c] for the count `count[c]` of row `yr`. */
static void tf_emit_weigh(Emitter *e, const TfView *v) {
    if (v->weights && v->mode != TF_MODE_TF) {
        char lit[40];
        emit_line(e, "static const float weights[%lld] = {", (long long)v->out);
        for (int64_t c = 0; c < v->out; c++)
            emit_line(e, "    %s,", c_float(lit, v->weights[c]));
        emit_line(e, "};");
    }
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)v->out);
    switch (v->mode) {
    case TF_MODE_TF: emit_line(e, "yr[c] = (float)count[c];"); break;
    case TF_MODE_IDF:
        emit_line(e, "yr[c] = count[c] > 0 ? %s : 0.0f;", v->weights ? "weights[c]" : "1.0f");
        break;
    case TF_MODE_TFIDF:
        emit_line(e, "yr[c] = %s(float)count[c];", v->weights ? "weights[c] * " : "");
        break;
    }
    emit_close(e);
}

static bool tf_emit(Emitter *e, const Node *n, Diag *d) {
    TfView v;
    if (!tf_view(n, &v, d)) return false;
    if (ou_emit_if_empty(e, n)) {   /* no rows */
        tf_view_free(&v);
        return true;
    }
    static const char *const mode_names[] = { "TF", "IDF", "TFIDF" };
    char sx[128];
    emit_line(e, "/* TfIdfVectorizer (%s) of %s seen as [%lld][%lld] -> float[%lld][%lld]: "
              "%lld n-grams, steps up to %lld */", mode_names[v.mode],
              ou_shape(sx, sizeof sx, n->inputs[0]), (long long)v.rows, (long long)v.cols,
              (long long)v.rows, (long long)v.out, (long long)v.count, (long long)v.max_step);
    if (v.count > 0) tf_emit_table(e, &v);
    else emit_line(e, "(void)x0;   /* no n-gram of a counted size: every count is 0 */");
    emit_line(e, "int64_t *count = (int64_t *)(void *)scratch;   /* [%lld] */", (long long)v.out);
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)v.rows);
    emit_line(e, "float *yr = y0 + r * %lld;", (long long)v.out);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) count[c] = 0;", (long long)v.out);
    if (v.count > 0) {
        emit_line(e, "const %s *xr = x0 + r * %lld;", dtype_ctype(n->inputs[0]->dtype),
                  (long long)v.cols);
        tf_emit_matcher(e, &v);
    }
    tf_emit_weigh(e, &v);
    tf_view_free(&v);
    return emit_close(e);
}

static size_t tf_scratch_bytes(const Node *n) {
    const int64_t *index;
    const size_t n_index = ir_attr_ints(n, "ngram_indexes", &index);
    int64_t out = 0;
    for (size_t i = 0; i < n_index; i++)
        if (index[i] >= 0 && index[i] < INT32_MAX && index[i] + 1 > out) out = index[i] + 1;
    return sizeof(int64_t) * (size_t)out;
}

const OpDef op_tfidfvectorizer = {
    .name = "TfIdfVectorizer", .domain = "", .since = 9, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = tf_infer, .fold = tf_fold, .emit = tf_emit,
    .scratch_bytes = tf_scratch_bytes, .memory = OP_MEMORY_SEPARATE,
};
