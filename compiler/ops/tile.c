/* tile.c: Tile (repeat an input along each axis, repeats from a constant input) and Range
 * (an arithmetic sequence whose start, limit and delta are constant scalars).
 *
 * Both need their parameters at compile time, since every shape is a constant of the
 * generated code. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

/* ---- Tile ---- */

static bool tile_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t reps[IR_MAX_RANK];
    int count;
    if (!ou_const_ints(n, 1, reps, IR_MAX_RANK, &count, d)) return false;
    if (count != x->rank) {
        diag_error(d, n, "repeats has %d entries for an input of rank %d", count, x->rank);
        return false;
    }
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) {
        if (reps[k] < 0) {
            diag_error(d, n, "repeats[%d] is %lld, it must be >= 0", k, (long long)reps[k]);
            return false;
        }
        if (!i64_mul(x->dims[k], reps[k], &dims[k])) {
            diag_error(d, n, "output dim %d overflows", k);
            return false;
        }
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* Output position -> input index: y[i0..] = x[i0 % d0, ...]. */
static int64_t tile_src(const Value *x, const Value *y, int64_t pos) {
    int64_t src = 0, mul = 1;
    for (int k = y->rank - 1; k >= 0; k--) {
        int64_t ik = pos % y->dims[k];
        pos /= y->dims[k];
        src += (ik % x->dims[k]) * mul;
        mul *= x->dims[k];
    }
    return src;
}

static bool tile_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    int64_t count = ir_numel(y);
    size_t es = dtype_size(x->dtype);
    for (int64_t p = 0; p < count; p++) ou_copy_elems(y->data, p, x->data, tile_src(x, y, p), es);
    return true;
}

static bool tile_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    (void)d;
    char sx[128], sy[128];
    emit_line(e, "/* Tile: %s -> %s */", ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, y));
    if (ir_numel(y) == 0) {
        emit_line(e, "(void)x0;");
        emit_line(e, "(void)y0;");
        return true;
    }
    emit_line(e, "(void)x1;");
    /* one loop per output dim; the input index wraps with a modulo per dim */
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    shape_strides(y->rank, y->dims, ys);
    /* at most 8 terms of < 60 characters each */
    char src[600] = "0", dst[600] = "0";
    size_t us = 0, ud = 0;
    for (int k = 0; k < y->rank; k++) {
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)y->dims[k], k);
        const char *sep = k ? " + " : "";
        if (x->dims[k] == y->dims[k])
            us += (size_t)snprintf(src + us, sizeof src - us, "%si%d * %lld", sep, k,
                                   (long long)xs[k]);
        else
            us += (size_t)snprintf(src + us, sizeof src - us, "%s(i%d %% %lld) * %lld", sep, k,
                                   (long long)x->dims[k], (long long)xs[k]);
        ud += (size_t)snprintf(dst + ud, sizeof dst - ud, "%si%d * %lld", sep, k,
                               (long long)ys[k]);
    }
    emit_line(e, "y0[%s] = x0[%s];", dst, src);
    for (int k = 0; k < y->rank; k++) emit_close(e);
    return true;
}

const OpDef op_tile = {
    .name = "Tile", .domain = "", .since = 6, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = tile_infer, .fold = tile_fold,
    .emit = tile_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Range ---- */

static const DType range_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT16,
                                     DT_INT32, DT_INT64, DT_UNDEFINED };

/* Number of elements: max(ceil((limit - start) / delta), 0). */
static bool range_count(const Node *n, int64_t *count, Diag *d) {
    for (int k = 0; k < 3; k++) {
        if (!op_require_const(n, k, d)) return false;
        if (ir_numel(n->inputs[k]) != 1) {
            diag_error(d, n, "input %d '%s' must be a scalar", k, n->inputs[k]->name);
            return false;
        }
        if (n->inputs[k]->dtype != n->inputs[0]->dtype) {
            diag_error(d, n, "start, limit and delta must have the same type");
            return false;
        }
    }
    if (!ou_check_dtype(n, 0, range_types, d)) return false;
    double start = ou_get_f64(n->inputs[0], 0), limit = ou_get_f64(n->inputs[1], 0);
    double delta = ou_get_f64(n->inputs[2], 0);
    if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta)) {
        diag_error(d, n, "delta must be non-zero and start, limit, delta finite");
        return false;
    }
    double c = ceil((limit - start) / delta);
    if (c > 1e12) {
        diag_error(d, n, "the range has %.0f elements, too many", c);
        return false;
    }
    *count = c > 0 ? (int64_t)c : 0;
    return true;
}

static bool range_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    int64_t count;
    if (!range_count(n, &count, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, 1, &count, d);
}

static bool range_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    int64_t count;
    if (!range_count(n, &count, d)) return false;
    if (!ir_value_alloc_data(g, y, d)) return false;
    bool fl = dtype_is_float(y->dtype);
    for (int64_t i = 0; i < count; i++) {
        if (fl) {
            ou_set_f64(y, i, ou_get_f64(n->inputs[0], 0) + (double)i *
                       ou_get_f64(n->inputs[2], 0));
        } else {
            uint64_t v = (uint64_t)ir_const_get_i64(n->inputs[0], 0) +
                         (uint64_t)i * (uint64_t)ir_const_get_i64(n->inputs[2], 0);
            ir_const_set_i64(y, i, (int64_t)v);
        }
    }
    return true;
}

const OpDef op_range = {
    .name = "Range", .domain = "", .since = 11, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = range_infer, .fold = range_fold,
    .memory = OP_MEMORY_SEPARATE,
};
