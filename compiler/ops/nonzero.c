/* nonzero.c: NonZero, the indices of the non-zero elements of its input, as int64
 * [rank][count] in row-major order (NaN counts as non-zero).
 *
 * count depends on the input's values, and the generated functions have static output
 * shapes: the op is only folded at compile time, so its input must be a constant (or
 * computable from constants); `onnxcc test` freezes such graph inputs. */
#include <stdio.h>

#include "ops/op_util.h"

/* Whether element i of x is non-zero. */
static bool nz_at(const Value *x, int64_t i) {
    if (dtype_is_float(x->dtype) || dtype_is_lowp_float(x->dtype))
        return ou_get_f64(x, i) != 0.0;   /* NaN != 0 */
    return ou_get_i64(x, i) != 0;
}

static bool nz_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_const_data(n, 0, d) || !ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t count = 0;
    for (int64_t i = 0; i < ir_numel(x); i++) count += nz_at(x, i);
    /* a scalar is seen as one element of rank 1 by onnxruntime and numpy's nonzero */
    const int64_t dims[2] = { x->rank > 0 ? x->rank : 1, count };
    return ou_set_output(n, n->outputs[0], DT_INT64, 2, dims, d);
}

static bool nz_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const int64_t count = y->dims[1];
    int64_t *out = y->data, k = 0;
    for (int64_t i = 0; i < ir_numel(x); i++) {
        if (!nz_at(x, i)) continue;
        /* the coordinates of flat index i, last dim first */
        int64_t rest = i;
        for (int a = x->rank - 1; a >= 0; a--) {
            out[a * count + k] = rest % x->dims[a];
            rest /= x->dims[a];
        }
        if (x->rank == 0) out[k] = 0;
        k++;
    }
    return true;
}

/* Reached only when the folded output would be too large to keep as a constant. */
static bool nz_emit(Emitter *e, const Node *n, Diag *d) {
    (void)e;
    diag_error(d, n, "NonZero is computed at compile time only, and its output '%s' is too "
               "large to fold", n->outputs[0]->name);
    return false;
}

const OpDef op_nonzero = {
    .name = "NonZero", .domain = "", .since = 9, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = nz_infer, .fold = nz_fold,
    .emit = nz_emit, .memory = OP_MEMORY_SEPARATE,
};
