/* split.c: Split, one input cut into several outputs along an axis.
 *
 * The sizes come from the `split` attribute (opset < 13), from a constant second input
 * (opset >= 13), or are equal parts: n_outputs parts that divide the axis exactly, or from
 * opset 18 with `num_outputs` parts of ceil(dim / num_outputs) with a smaller last part.
 * Each output is `outer` blocks of contiguous bytes, so the emitted code is one memcpy
 * per output when the axis is the first non-1 dim. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

enum { SPLIT_MAX_OUTPUTS = 4096 };

/* The part sizes along the axis; sizes has n->n_outputs entries. */
static bool split_sizes(const Node *n, int *axis_out, int64_t *sizes, Diag *d) {
    const Value *x = n->inputs[0];
    int axis;
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), x->rank, false, &axis, d)) return false;
    *axis_out = axis;
    int64_t dim = x->dims[axis];
    int outs = n->n_outputs;
    const Attr *num = n->opset >= 18 ? ir_attr(n, "num_outputs") : NULL;
    bool have = false;
    if (op_input(n, 1)) {   /* an input in opset 1 and from 13 */
        const Value *s = n->inputs[1];
        if (!op_require_const(n, 1, d)) return false;
        if (!dtype_is_integer(s->dtype) || s->rank > 1) {
            diag_error(d, n, "split '%s' must be a 1-D integer tensor", s->name);
            return false;
        }
        if (ir_numel(s) != outs) {
            diag_error(d, n, "split has %lld entries for %d outputs", (long long)ir_numel(s),
                       outs);
            return false;
        }
        for (int k = 0; k < outs; k++) sizes[k] = ir_const_get_i64(s, k);
        have = true;
    } else if (n->opset < 13 && ir_attr(n, "split")) {
        const int64_t *a;
        size_t count = ir_attr_ints(n, "split", &a);
        if (count != (size_t)outs) {
            diag_error(d, n, "split has %zu entries for %d outputs", count, outs);
            return false;
        }
        for (int k = 0; k < outs; k++) sizes[k] = a[k];
        have = true;
    }
    if (have) {
        if (num) {
            diag_error(d, n, "split and num_outputs cannot both be given");
            return false;
        }
        int64_t total = 0;
        for (int k = 0; k < outs; k++) {
            if (sizes[k] < 0) {
                diag_error(d, n, "split[%d] is %lld, sizes must be >= 0", k,
                           (long long)sizes[k]);
                return false;
            }
            if (sizes[k] > dim - total) {
                total = -1;
                break;
            }
            total += sizes[k];
        }
        if (total != dim) {
            diag_error(d, n, "split sizes do not add up to the axis dim %lld", (long long)dim);
            return false;
        }
        return true;
    }
    if (num) {
        if (num->i != outs) {
            diag_error(d, n, "num_outputs is %lld but the node has %d outputs",
                       (long long)num->i, outs);
            return false;
        }
        int64_t part = (dim + outs - 1) / outs, left = dim;
        for (int k = 0; k < outs; k++) {
            sizes[k] = left < part ? left : part;
            left -= sizes[k];
        }
        if (outs > 0 && sizes[outs - 1] == 0 && dim > 0) {
            diag_error(d, n, "axis dim %lld cannot be split into %d non-empty parts",
                       (long long)dim, outs);
            return false;
        }
        return true;
    }
    if (n->opset >= 18) {
        diag_error(d, n, "either the split input or num_outputs is required from opset 18");
        return false;
    }
    if (dim % outs != 0) {
        diag_error(d, n, "axis dim %lld cannot be split evenly into %d outputs",
                   (long long)dim, outs);
        return false;
    }
    for (int k = 0; k < outs; k++) sizes[k] = dim / outs;
    return true;
}

static bool split_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank == 0) {
        diag_error(d, n, "input must have rank >= 1");
        return false;
    }
    if (n->n_outputs > SPLIT_MAX_OUTPUTS) {
        diag_error(d, n, "%d outputs, at most %d supported", n->n_outputs, SPLIT_MAX_OUTPUTS);
        return false;
    }
    int64_t sizes[SPLIT_MAX_OUTPUTS];
    int axis;
    if (!split_sizes(n, &axis, sizes, d)) return false;
    for (int k = 0; k < n->n_outputs; k++) {
        if (!n->outputs[k]) continue;
        int64_t dims[IR_MAX_RANK];
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[axis] = sizes[k];
        ir_value_set_shape(n->outputs[k], x->dtype, x->rank, dims);
    }
    return true;
}

/* outer = product of dims before axis, inner = product after (elements). */
static void split_geom(const Value *x, int axis, int64_t *outer, int64_t *inner) {
    int64_t len;
    ou_axis_split(x, axis, outer, &len, inner);
}

static bool split_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t sizes[SPLIT_MAX_OUTPUTS];
    int axis;
    if (!split_sizes(n, &axis, sizes, d)) return false;
    int64_t outer, inner, off = 0;
    split_geom(x, axis, &outer, &inner);
    size_t es = dtype_size(x->dtype);
    int64_t dim = x->dims[axis];
    for (int k = 0; k < n->n_outputs; k++) {
        Value *y = n->outputs[k];
        if (y) {
            if (!ir_value_alloc_data(g, y, d)) return false;
            size_t block = (size_t)(sizes[k] * inner) * es;
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->data + (size_t)o * block,
                       (const char *)x->data + ((size_t)(o * dim + off) * (size_t)inner) * es,
                       block);
        }
        off += sizes[k];
    }
    return true;
}

static bool split_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t sizes[SPLIT_MAX_OUTPUTS];
    int axis;
    if (!split_sizes(n, &axis, sizes, d)) return false;
    int64_t outer, inner, off = 0;
    split_geom(x, axis, &outer, &inner);
    size_t es = dtype_size(x->dtype);
    int64_t dim = x->dims[axis];
    char sx[128];
    emit_line(e, "/* Split: %s along axis %d into %d parts */", ou_shape(sx, sizeof sx, x),
              axis, n->n_outputs);
    if (op_input(n, 1)) emit_line(e, "(void)x1;");
    bool copied = false;
    for (int k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k] && sizes[k] > 0 && outer > 0 && inner > 0) {
            copied = true;
            long long block = (long long)(sizes[k] * inner);
            if (outer == 1) {
                emit_line(e, "memcpy(y%d, x0 + %lld, %zu);", k, (long long)(off * inner),
                          (size_t)block * es);
            } else {
                emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)outer);
                emit_line(e, "memcpy(y%d + o * %lld, x0 + o * %lld + %lld, %zu);", k, block,
                          (long long)(dim * inner), (long long)(off * inner),
                          (size_t)block * es);
                emit_close(e);
            }
        } else if (n->outputs[k]) {
            emit_line(e, "(void)y%d; /* empty */", k);
        }
        off += sizes[k];
    }
    if (!copied) emit_line(e, "(void)x0;");
    return true;
}

const OpDef op_split = {
    .name = "Split", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = SPLIT_MAX_OUTPUTS, .infer = split_infer,
    .fold = split_fold, .emit = split_emit, .memory = OP_MEMORY_SEPARATE,
};
