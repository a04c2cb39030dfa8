/* onehot.c: OneHot.  The output, of the values' type, has the indices' shape with a new
 * axis of size depth inserted at `axis` (default -1, the innermost): y[..., d, ...] is
 * on_value where the index equals d and off_value elsewhere (values = [off, on]).  A
 * negative index counts from depth; one outside [-depth, depth) gives a row of off
 * values.  depth is a scalar input of any numeric type, needed at compile time; indices
 * may be floats (truncated, as onnxruntime does). */
#include <math.h>
#include <stdio.h>

#include "ir/shape.h"
#include "ops/op_util.h"

typedef struct OneHotView {
    int64_t depth, outer, inner;   /* indices seen as [outer][inner]; y [outer][depth][inner] */
    int axis;
} OneHotView;

static bool onehot_view(const Node *n, OneHotView *v, Diag *d) {
    const Value *ind = n->inputs[0], *dep = n->inputs[1];
    if (!op_require_const(n, 1, d)) return false;
    if (ir_numel(dep) != 1) {
        diag_error(d, n, "depth must be a scalar, it has %lld elements", (long long)ir_numel(dep));
        return false;
    }
    const double depth = ou_get_f64(dep, 0);
    if (!(depth >= 1 && depth <= 1e9)) {
        diag_error(d, n, "depth %g is out of range [1, 1e9]", depth);
        return false;
    }
    v->depth = (int64_t)depth;
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", -1), ind->rank, true, &v->axis, d))
        return false;
    /* the new axis goes between the indices' dims before it and those after */
    v->outer = shape_numel(v->axis, ind->dims);
    v->inner = shape_numel(ind->rank - v->axis, ind->dims + v->axis);
    return true;
}

static bool onehot_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 2, d)) return false;
    if (!ou_check_dtype(n, 0, ou_numeric_types, d)) return false;
    const Value *ind = n->inputs[0], *vals = n->inputs[2];
    if (ir_numel(vals) != 2) {
        diag_error(d, n, "values must hold [off_value, on_value], it has %lld elements",
                   (long long)ir_numel(vals));
        return false;
    }
    if (ind->rank + 1 > IR_MAX_RANK) {
        diag_error(d, n, "the output would have rank %d, at most %d supported", ind->rank + 1,
                   IR_MAX_RANK);
        return false;
    }
    OneHotView v;
    if (!onehot_view(n, &v, d)) return false;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0, o = 0; k <= ind->rank; k++)
        dims[k] = k == v.axis ? v.depth : ind->dims[o++];
    return ou_set_output(n, n->outputs[0], vals->dtype, ind->rank + 1, dims, d);
}

/* The position an index selects, or -1 for none. */
static int64_t onehot_pos(double index, int64_t depth) {
    if (!(index > -(double)depth - 1 && index < (double)depth)) return -1;
    int64_t k = (int64_t)index;      /* truncates toward zero, as a C cast */
    if (k < 0) k += depth;
    return k >= 0 && k < depth ? k : -1;
}

static bool onehot_fold(Graph *g, Node *n, Diag *d) {
    const Value *ind = n->inputs[0], *vals = n->inputs[2];
    Value *y = n->outputs[0];
    OneHotView v;
    if (!onehot_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(y->dtype);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++) {
            const int64_t k = onehot_pos(ou_get_f64(ind, o * v.inner + i), v.depth);
            for (int64_t p = 0; p < v.depth; p++)
                ou_copy_elems(y->data, (o * v.depth + p) * v.inner + i, vals->data, p == k, es);
        }
    return true;
}

static bool onehot_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *ind = n->inputs[0], *vals = n->inputs[2];
    OneHotView v;
    if (!onehot_view(n, &v, d)) return false;
    const char *T = dtype_ctype(vals->dtype);
    char si[128];
    emit_line(e, "/* OneHot of %s, depth %lld at axis %d */", ou_shape(si, sizeof si, ind),
              (long long)v.depth, v.axis);
    emit_line(e, "(void)x1;   /* depth, applied at compile time */");
    emit_line(e, "const %s off = x2[0], on = x2[1];", T);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)v.outer);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)v.inner);
    emit_line(e, "const size_t at = o * %lld + i;", (long long)v.inner);
    if (dtype_is_float(ind->dtype)) {
        emit_line(e, "/* a float index: truncated, range-checked before the conversion */");
        emit_line(e, "const double f = (double)x0[at];");
        emit_line(e, "int64_t k = f > %lld.0 && f < %lld.0 ? (int64_t)f : %lld;",
                  (long long)(-v.depth - 1), (long long)v.depth, (long long)v.depth);
    } else {
        emit_line(e, "int64_t k = (int64_t)x0[at];");
    }
    emit_line(e, "if (k < 0) k += %lld;   /* out of range: no position matches */",
              (long long)v.depth);
    emit_line(e, "for (size_t p = 0; p < %lld; p++) y0[(o * %lld + p) * %lld + i] = "
              "(int64_t)p == k ? on : off;", (long long)v.depth, (long long)v.depth,
              (long long)v.inner);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_onehot = {
    .name = "OneHot", .domain = "", .since = 9, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = onehot_infer, .fold = onehot_fold,
    .emit = onehot_emit, .memory = OP_MEMORY_SEPARATE,
};
