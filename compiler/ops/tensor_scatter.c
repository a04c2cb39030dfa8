/* tensor_scatter.c: TensorScatter (opset 24), the functional form of a KV-cache update.
 *
 * present_cache is past_cache with, for every index prefix p of the dims before `axis`
 * (default -2, never the batch dim 0), the S rows of `update` along the axis written at
 * rows write_indices[p[0]] + s (s < S) of the cache's M rows:
 *
 *     present[p, w + s, ...] = update[p, s, ...]
 *
 * mode "linear" requires 0 <= w and w + S <= M (the generated function fails otherwise);
 * mode "circular" takes the row modulo M.  write_indices (int64 [batch]) is optional,
 * zeros when absent.  The cache may be updated in place (output 0 may be input 0). */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

typedef struct TensorScatter {
    int64_t batch;     /* dims[0] */
    int64_t prefix;    /* index prefixes before the axis (batch included) */
    int64_t per_batch; /* prefixes per batch index */
    int64_t rows;      /* M, the cache's length along the axis */
    int64_t seq;       /* S, the update's */
    int64_t inner;     /* elements after the axis: one row */
    bool circular;
} TensorScatter;

/* Whether the product of v's dims, zeros counted as 1, fits in int64: then every stride
 * and partial product computed from them does too, even for an empty tensor. */
static bool ts_dims_fit(const Value *v) {
    int64_t n = 1;
    for (int k = 0; k < v->rank; k++)
        if (!i64_mul(n, v->dims[k] > 0 ? v->dims[k] : 1, &n)) return false;
    return true;
}

static bool ts_params(const Node *n, TensorScatter *p, Diag *d) {
    if (!ou_require_typed(n, 0, d) || !ou_require_typed(n, 1, d)) return false;
    const Value *cache = n->inputs[0], *upd = n->inputs[1], *wi = op_input(n, 2);
    const int rank = cache->rank;
    int axis;
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", -2), rank, false, &axis, d)) return false;
    if (axis == 0) {
        diag_error(d, n, "axis must not be 0, the batch dim");
        return false;
    }
    if (upd->dtype != cache->dtype || upd->rank != rank) {
        diag_error(d, n, "update '%s' must be %s of rank %d like the cache", upd->name,
                   dtype_name(cache->dtype), rank);
        return false;
    }
    if (!ts_dims_fit(cache)) {
        diag_error(d, n, "past_cache '%s' has too many elements", cache->name);
        return false;
    }
    for (int k = 0; k < rank; k++)
        if (k == axis ? upd->dims[k] > cache->dims[k] : upd->dims[k] != cache->dims[k]) {
            diag_error(d, n, "update dim %d is %lld, incompatible with the cache's %lld", k,
                       (long long)upd->dims[k], (long long)cache->dims[k]);
            return false;
        }
    if (wi) {
        if (!op_require_shape(n, 2, d)) return false;
        if (wi->dtype != DT_INT64 || wi->rank != 1 || wi->dims[0] != cache->dims[0]) {
            diag_error(d, n, "write_indices '%s' must be int64 [%lld]", wi->name,
                       (long long)cache->dims[0]);
            return false;
        }
    }
    const char *mode = ir_attr_string(n, "mode", "linear");
    if (strcmp(mode, "linear") != 0 && strcmp(mode, "circular") != 0) {
        diag_error(d, n, "mode '%s' is not linear or circular", mode);
        return false;
    }
    p->circular = strcmp(mode, "circular") == 0;
    p->batch = cache->dims[0];
    p->prefix = 1;
    for (int k = 0; k < axis; k++) p->prefix *= cache->dims[k];
    p->per_batch = p->batch > 0 ? p->prefix / p->batch : 0;
    p->rows = cache->dims[axis];
    p->seq = upd->dims[axis];
    p->inner = 1;
    for (int k = axis + 1; k < rank; k++) p->inner *= cache->dims[k];
    return true;
}

static bool ts_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    TensorScatter p;
    if (!ts_params(n, &p, d)) return false;
    const Value *x = n->inputs[0];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
}

/* The cache row written by update row s with write index w; -1 when linear mode runs
 * past the cache. */
static int64_t ts_row(const TensorScatter *p, int64_t w, int64_t s) {
    if (p->circular) {
        int64_t r = w % p->rows;   /* in (-M, M): adding s < M cannot overflow */
        r = (r + s) % p->rows;
        return r < 0 ? r + p->rows : r;
    }
    return w >= 0 && w <= p->rows - p->seq ? w + s : -1;
}

static bool ts_fold(Graph *g, Node *n, Diag *d) {
    const Value *cache = n->inputs[0], *upd = n->inputs[1], *wi = op_input(n, 2);
    Value *y = n->outputs[0];
    TensorScatter p;
    if (!ts_params(n, &p, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(cache->dtype);
    memcpy(y->data, cache->data, ir_nbytes(y));
    for (int64_t q = 0; q < p.prefix; q++) {
        const int64_t w = wi ? ir_const_get_i64(wi, q / p.per_batch) : 0;
        for (int64_t s = 0; s < p.seq; s++) {
            const int64_t r = ts_row(&p, w, s);
            if (r < 0) {
                diag_error(d, n, "write index %lld + %lld rows runs past the cache's %lld",
                           (long long)w, (long long)p.seq, (long long)p.rows);
                return false;
            }
            memcpy((char *)y->data + (size_t)((q * p.rows + r) * p.inner) * es,
                   (const char *)upd->data + (size_t)((q * p.seq + s) * p.inner) * es,
                   (size_t)p.inner * es);
        }
    }
    return true;
}

static bool ts_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *cache = n->inputs[0];
    const bool has_w = op_input(n, 2) != NULL;
    TensorScatter p;
    if (!ts_params(n, &p, d)) return false;
    char sx[128], su[128];
    emit_line(e, "/* TensorScatter (%s) of %s into %s: [%lld prefixes][%lld rows][%lld] */",
              p.circular ? "circular" : "linear", ou_shape(su, sizeof su, n->inputs[1]),
              ou_shape(sx, sizeof sx, cache), (long long)p.prefix, (long long)p.rows,
              (long long)p.inner);
    emit_line(e, "if (y0 != x0) memcpy(y0, x0, %zu);   /* in place when the cache is reused */",
              ir_nbytes(cache));
    emit_open(e, "for (size_t q = 0; q < %lld; q++)", (long long)p.prefix);
    if (has_w) emit_line(e, "const int64_t w = x2[q / %lld];   /* the batch's write index */",
                         (long long)p.per_batch);
    else emit_line(e, "const int64_t w = 0;   /* no write_indices */");
    if (!p.circular)
        emit_line(e, "if (w < 0 || w > %lld) return 1;   /* linear: must fit in the cache */",
                  (long long)(p.rows - p.seq));
    emit_open(e, "for (int64_t s = 0; s < %lld; s++)", (long long)p.seq);
    if (p.circular) {
        emit_line(e, "int64_t r = (w %% %lld + s) %% %lld;   /* no overflow: |w %% M| < M */",
                  (long long)p.rows, (long long)p.rows);
        emit_line(e, "if (r < 0) r += %lld;", (long long)p.rows);
    } else {
        emit_line(e, "const int64_t r = w + s;");
    }
    emit_line(e, "memcpy(y0 + (q * %lld + (size_t)r) * %lld, x1 + (q * %lld + (size_t)s) * %lld,"
              " %zu);", (long long)p.rows, (long long)p.inner, (long long)p.seq,
              (long long)p.inner, (size_t)p.inner * dtype_size(cache->dtype));
    emit_close(e);
    return emit_close(e);
}

const OpDef op_tensorscatter = {
    .name = "TensorScatter", .domain = "", .since = 24, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = ts_infer, .fold = ts_fold,
    .emit = ts_emit, .memory = OP_MEMORY_INPLACE, .may_fail = true,
};
