/* trilu.c: Trilu, the upper (upper=1, the default) or lower triangle of the last two
 * dims of its input, the rest zeros.  Element (i, j) of each [N][M] matrix is kept when
 * j - i >= k (upper) or j - i <= k (lower); k, the diagonal offset, is an optional int64
 * scalar input, needed at compile time (0 when absent). */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

/* k from the optional input 1 (0 when absent). */
static bool trilu_k(const Node *n, int64_t *k, Diag *d) {
    *k = 0;
    if (!op_input(n, 1)) return true;
    int count;
    if (!ou_const_ints(n, 1, k, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "k must hold one value, it has %d", count);
        return false;
    }
    return true;
}

static bool trilu_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < 2) {
        diag_error(d, n, "input '%s' has rank %d, Trilu needs 2 or more", x->name, x->rank);
        return false;
    }
    int64_t k;
    if (!trilu_k(n, &k, d)) return false;
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
}

/* Whether element (i, j) of a matrix is kept. */
static bool trilu_keeps(bool upper, int64_t k, int64_t i, int64_t j) {
    /* j - i cannot overflow: both are dims of a tensor that fits in memory */
    return upper ? j - i >= k : j - i <= k;
}

static bool trilu_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    int64_t k;
    if (!trilu_k(n, &k, d) || !ir_value_alloc_data(g, y, d)) return false;
    const bool upper = ir_attr_int(n, "upper", 1) != 0;
    const int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    const int64_t count = ir_numel(y);
    const size_t es = dtype_size(x->dtype);
    for (int64_t p = 0; p < count; p++) {
        const int64_t j = p % cols, i = p / cols % rows;
        if (trilu_keeps(upper, k, i, j)) ou_copy_elems(y->data, p, x->data, p, es);
        else memset((char *)y->data + (size_t)p * es, 0, es);
    }
    return true;
}

static bool trilu_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t k;
    if (!trilu_k(n, &k, d)) return false;
    const bool upper = ir_attr_int(n, "upper", 1) != 0;
    const int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    const int64_t mats = rows > 0 && cols > 0 ? ir_numel(x) / (rows * cols) : 0;
    char sx[128], lit[40];
    emit_line(e, "/* Trilu (%s triangle, k = %lld) of %s */", upper ? "upper" : "lower",
              (long long)k, ou_shape(sx, sizeof sx, x));
    if (op_input(n, 1)) emit_line(e, "(void)x1;   /* k, applied at compile time */");
    /* the matrices of the leading dims, then rows and columns: the element is kept when
     * j - i compares with k, computed in int64_t */
    emit_open(e, "for (size_t m = 0; m < %lld; m++)", (long long)mats);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)rows);
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)cols);
    emit_line(e, "const size_t at = (m * %lld + i) * %lld + j;", (long long)rows,
              (long long)cols);
    emit_line(e, "y0[at] = (int64_t)j - (int64_t)i %s %s ? x0[at] : 0;", upper ? ">=" : "<=",
              c_int64(lit, (long long)k));
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_trilu = {
    .name = "Trilu", .domain = "", .since = 14, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = trilu_infer, .fold = trilu_fold,
    .emit = trilu_emit, .memory = OP_MEMORY_SEPARATE,
};
