/* eyelike.c: EyeLike, a 2-D tensor shaped like its input with ones on one diagonal and
 * zeros elsewhere: y[i][j] = (j - i == k).  Attribute dtype (optional, the input's type
 * by default) gives the output type; k (default 0) the diagonal, positive above the main
 * one.  Only the input's shape is read; the op is not folded on shapes alone, which would
 * put a possibly large constant in the generated C instead of a memset and a loop. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

static const DType eye_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
    DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_BOOL, DT_UNDEFINED,
};

static bool eye_type_ok(DType t) {
    for (int k = 0; eye_types[k] != DT_UNDEFINED; k++)
        if (eye_types[k] == t) return true;
    return false;
}

/* The output type: attribute dtype, else the input's. */
static bool eye_dtype(const Node *n, DType *t, Diag *d) {
    *t = n->inputs[0]->dtype;
    const Attr *a = ir_attr(n, "dtype");
    if (a) {
        if (a->type != ATTR_INT || !dtype_is_valid((int)a->i) || a->i != (int)a->i) {
            diag_error(d, n, "attribute 'dtype' (%lld) is not an ONNX data type",
                       a->type == ATTR_INT ? (long long)a->i : -1LL);
            return false;
        }
        *t = (DType)a->i;
    }
    if (!eye_type_ok(*t)) {
        diag_error(d, n, "output type %s is not supported", dtype_name(*t));
        return false;
    }
    return true;
}

/* The rows i in [*first, *end) that hold a one, at column i + k (none when k is beyond
 * the matrix; no overflow for any int64 k). */
static void eye_rows(int64_t rows, int64_t cols, int64_t k, int64_t *first, int64_t *end) {
    *first = *end = 0;
    if (k >= cols || k <= -rows) return;
    *first = k < 0 ? -k : 0;
    *end = cols - k < rows ? cols - k : rows;
}

static bool eye_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank != 2) {
        diag_error(d, n, "input '%s' has rank %d, EyeLike needs 2", x->name, x->rank);
        return false;
    }
    DType t;
    if (!eye_dtype(n, &t, d)) return false;
    return ou_set_output(n, n->outputs[0], t, 2, x->dims, d);
}

static bool eye_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;      /* zeroed */
    const int64_t rows = y->dims[0], cols = y->dims[1];
    const int64_t k = ir_attr_int(n, "k", 0);
    int64_t first, end;
    eye_rows(rows, cols, k, &first, &end);
    for (int64_t i = first; i < end; i++) ou_set_f64(y, i * cols + i + k, 1.0);
    return true;
}

static bool eye_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    const Value *y = n->outputs[0];
    const int64_t rows = y->dims[0], cols = y->dims[1], k = ir_attr_int(n, "k", 0);
    int64_t first, end;
    eye_rows(rows, cols, k, &first, &end);
    char sy[128], one[40];
    emit_line(e, "/* EyeLike: %s, ones at [i][i + %lld] */", ou_shape(sy, sizeof sy, y),
              (long long)k);
    if (ir_numel(y) == 0) {
        emit_line(e, "(void)y0;");
        return true;
    }
    emit_line(e, "memset(y0, 0, %zu);", ir_nbytes(y));
    if (first >= end) return true;
    emit_open(e, "for (int64_t i = %lld; i < %lld; i++)", (long long)first, (long long)end);
    emit_line(e, "y0[i * %lld + (i + %lld)] = %s;", (long long)cols, (long long)k,
              ou_literal(one, y->dtype, 1.0, 1));
    return emit_close(e);
}

const OpDef op_eyelike = {
    .name = "EyeLike", .domain = "", .since = 9, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = eye_infer, .fold = eye_fold,
    .emit = eye_emit, .memory = OP_MEMORY_SEPARATE,
};
