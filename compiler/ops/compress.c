/* compress.c: Compress, the slices of its input along `axis` whose entry in the 1-D bool
 * `condition` is true (the flattened input when axis is absent).  condition may be
 * shorter than the axis: the slices past its end are dropped.
 *
 * The output's length along the axis is the number of true entries, so condition must be
 * a constant (or computable from constants); `onnxcc test` freezes such graph inputs.
 * With a constant condition the data may come at run time: the emitted code copies the
 * runs of consecutive selected slices, listed in a table.  With both constant, it folds. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

enum { COMPRESS_RUNS_PER_LINE = 6 };   /* (start, length) pairs per emitted table line */

/* input viewed as [outer][len][inner] around the axis (all of it flattened: [1][n][1]);
 * cond_len entries of condition are used (cond_len <= len). */
typedef struct CompressView {
    int64_t outer, len, inner, cond_len, kept;
    int axis;             /* -1: flattened */
} CompressView;

static bool compress_view(const Node *n, CompressView *v, Diag *d) {
    if (!ou_require_typed(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *c = n->inputs[1];
    if (c->dtype != DT_BOOL || c->rank != 1) {
        diag_error(d, n, "condition '%s' must be a 1-D bool tensor, it is %s of rank %d",
                   c->name, dtype_name(c->dtype), c->rank);
        return false;
    }
    if (!op_require_const_data(n, 1, d)) return false;
    v->axis = -1;
    if (ir_attr(n, "axis")) {
        if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), x->rank, false, &v->axis, d))
            return false;
        ou_axis_split(x, v->axis, &v->outer, &v->len, &v->inner);
    } else {
        v->outer = v->inner = 1;
        v->len = ir_numel(x);
    }
    v->cond_len = c->dims[0];
    if (v->cond_len > v->len) {
        diag_error(d, n, "condition '%s' has %lld entries, more than the %lld slices",
                   c->name, (long long)v->cond_len, (long long)v->len);
        return false;
    }
    v->kept = 0;
    for (int64_t i = 0; i < v->cond_len; i++) v->kept += ir_const_get_i64(c, i) != 0;
    return true;
}

static bool compress_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    CompressView v;
    if (!compress_view(n, &v, d)) return false;
    const Value *x = n->inputs[0];
    if (v.axis < 0) return ou_set_output(n, n->outputs[0], x->dtype, 1, &v.kept, d);
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[v.axis] = v.kept;
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

static bool compress_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *c = n->inputs[1];
    Value *y = n->outputs[0];
    CompressView v;
    if (!compress_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(x->dtype);
    int64_t at = 0;
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.cond_len; i++) {
            if (!ir_const_get_i64(c, i)) continue;
            for (int64_t j = 0; j < v.inner; j++)
                ou_copy_elems(y->data, at++, x->data, (o * v.len + i) * v.inner + j, es);
        }
    return true;
}

/* The next run of consecutive true entries at or after *i: [start, start + length). */
static bool compress_next_run(const Value *c, int64_t cond_len, int64_t *i, int64_t *start,
                              int64_t *length) {
    while (*i < cond_len && !ir_const_get_i64(c, *i)) (*i)++;
    if (*i >= cond_len) return false;
    *start = *i;
    while (*i < cond_len && ir_const_get_i64(c, *i)) (*i)++;
    *length = *i - *start;
    return true;
}

static bool compress_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *c = n->inputs[1];
    CompressView v;
    if (!compress_view(n, &v, d)) return false;
    int64_t runs = 0, i = 0, start, length;
    while (compress_next_run(c, v.cond_len, &i, &start, &length)) runs++;
    char sx[128], sy[128], line[COMPRESS_RUNS_PER_LINE * 48];
    emit_line(e, "/* Compress %s -> %s: %lld of %lld slices of %lld elements, in %lld runs */",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, n->outputs[0]),
              (long long)v.kept, (long long)v.len, (long long)v.inner, (long long)runs);
    emit_line(e, "(void)x1;   /* condition, applied at compile time */");
    emit_line(e, "/* runs of selected slices: (first slice, number of slices) */");
    emit_line(e, "static const size_t runs[%lld][2] = {", (long long)runs);
    e->indent++;
    i = 0;
    for (int64_t r = 0; r < runs; r += COMPRESS_RUNS_PER_LINE) {
        line[0] = '\0';
        for (int64_t q = r; q < runs && q < r + COMPRESS_RUNS_PER_LINE; q++) {
            compress_next_run(c, v.cond_len, &i, &start, &length);
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, "%s{ %lld, %lld },", q > r ? " " : "",
                     (long long)start, (long long)length);
        }
        emit_line(e, "%s", line);
    }
    e->indent--;
    emit_line(e, "};");
    const size_t slice_bytes = (size_t)v.inner * dtype_size(x->dtype);
    emit_line(e, "size_t at = 0;   /* elements written */");
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.outer);
    emit_open(e, "for (size_t r = 0; r < %lld; r++)", (long long)runs);
    emit_line(e, "memcpy(y0 + at, x0 + (o * %lld + runs[r][0]) * %lld, runs[r][1] * %zu);",
              (long long)v.len, (long long)v.inner, slice_bytes);
    emit_line(e, "at += runs[r][1] * %lld;", (long long)v.inner);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_compress = {
    .name = "Compress", .domain = "", .since = 9, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = compress_infer, .fold = compress_fold,
    .emit = compress_emit, .memory = OP_MEMORY_SEPARATE,
};
