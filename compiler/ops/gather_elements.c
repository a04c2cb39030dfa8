/* gather_elements.c: GatherElements and ScatterElements, element-wise indexing along one
 * axis.  GatherElements: the output has the indices' shape, and y[i0..in] = data[i0..in
 * with i_axis replaced by indices[i0..in]].  ScatterElements: the output is a copy of
 * data where, for each position of indices (and of updates, of the same shape), the
 * element so addressed gets the update, or is combined with it by `reduction` (add,
 * mul, max, min; with none, a duplicate index keeps the last update, in row-major
 * order).  Indices (int32 or int64) may be negative, counting from the end of the axis;
 * one out of range makes the generated function return 1 (a constant one is refused
 * when folding).  Every other dim of the indices is at most the data's.  Scatter (opsets
 * 9 and 10, deprecated in 11) is the old name of ScatterElements without `reduction`: one
 * more OpDef sharing these functions. */
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/op_util.h"

static bool ge_axis(const Node *n, int *axis, Diag *d) {
    return ou_axis(n, "axis", ir_attr_int(n, "axis", 0), n->inputs[0]->rank, false, axis, d);
}

/* Whether n is ScatterElements or Scatter (three inputs: data, indices, updates). */
static bool is_scatter(const Node *n) { return n->op->max_inputs == 3; }

/* Scatter, the deprecated name: only opsets 9 and 10 define it, without `reduction`. */
enum { SCATTER_REMOVED_IN = 11 };
static bool scatter_old_name_ok(const Node *n, Diag *d) {
    if (n->opset >= SCATTER_REMOVED_IN) {
        diag_error(d, n, "Scatter is deprecated from opset %d (this model uses opset %d): "
                   "use ScatterElements", SCATTER_REMOVED_IN, n->opset);
        return false;
    }
    if (ir_attr(n, "reduction")) {
        diag_error(d, n, "Scatter has no attribute 'reduction' (ScatterElements has)");
        return false;
    }
    return true;
}

static bool ge_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    if (is_scatter(n)) {
        const Value *u = n->inputs[2];
        OuScatterRed r;
        if (strcmp(n->op_type, "Scatter") == 0 && !scatter_old_name_ok(n, d)) return false;
        if (!op_require_shape(n, 2, d) || !ou_scatter_reduction(n, &r, d)) return false;
        bool same = u->rank == ind->rank;
        for (int k = 0; same && k < u->rank; k++) same = u->dims[k] == ind->dims[k];
        if (u->dtype != x->dtype || !same) {
            diag_error(d, n, "updates '%s' must have the indices' shape and the data's type",
                       u->name);
            return false;
        }
        if (ou_is_half(x->dtype) || x->dtype == DT_STRING) {
            diag_error(d, n, "element type %s is not supported", dtype_name(x->dtype));
            return false;
        }
    }
    if (ind->dtype != DT_INT32 && ind->dtype != DT_INT64) {
        diag_error(d, n, "indices '%s' are %s, not int32 or int64", ind->name,
                   dtype_name(ind->dtype));
        return false;
    }
    int axis;
    if (!ge_axis(n, &axis, d)) return false;
    if (ind->rank != x->rank) {
        diag_error(d, n, "indices have rank %d but data has rank %d", ind->rank, x->rank);
        return false;
    }
    for (int k = 0; k < x->rank; k++) {
        if (k != axis && ind->dims[k] > x->dims[k]) {
            diag_error(d, n, "indices dim %d is %lld, larger than data's %lld", k,
                       (long long)ind->dims[k], (long long)x->dims[k]);
            return false;
        }
    }
    if (is_scatter(n)) return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
    return ou_set_output(n, n->outputs[0], x->dtype, ind->rank, ind->dims, d);
}

/* The data offset of output position p, or -1 when its index is out of range. */
static int64_t ge_source(const Value *x, const Value *ind, int axis, int64_t p) {
    int64_t xs[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    int64_t k = ir_const_get_i64(ind, p), off = 0;
    if (k < 0) k += x->dims[axis];
    if (k < 0 || k >= x->dims[axis]) return -1;
    for (int a = ind->rank - 1; a >= 0; a--) {
        const int64_t c = p % ind->dims[a];
        p /= ind->dims[a];
        off += (a == axis ? k : c) * xs[a];
    }
    return off;
}

static bool ge_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    Value *y = n->outputs[0];
    int axis;
    if (!ge_axis(n, &axis, d) || !ir_value_alloc_data(g, y, d)) return false;
    const int64_t count = ir_numel(ind);
    const size_t es = dtype_size(x->dtype);
    OuScatterRed r = OU_SCATTER_NONE;
    if (is_scatter(n)) {
        if (!ou_scatter_reduction(n, &r, d)) return false;
        memcpy(y->data, x->data, (size_t)ir_nbytes(x));
    }
    for (int64_t p = 0; p < count; p++) {
        const int64_t src = ge_source(x, ind, axis, p);
        if (src < 0) {
            diag_error(d, n, "index %lld (element %lld) is out of range for axis %d of size "
                       "%lld", (long long)ir_const_get_i64(ind, p), (long long)p, axis,
                       (long long)x->dims[axis]);
            return false;
        }
        if (!is_scatter(n)) {
            ou_copy_elems(y->data, p, x->data, src, es);
            continue;
        }
        ou_scatter_fold(y, src, n->inputs[2], p, r);
    }
    return true;
}

static bool ge_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    int axis;
    if (!ge_axis(n, &axis, d)) return false;
    char sx[128], si[128];
    emit_line(e, "/* %s axis %d of %s with indices %s */", n->op_type, axis,
              ou_shape(sx, sizeof sx, x), ou_shape(si, sizeof si, ind));
    OuScatterRed r = OU_SCATTER_NONE;
    if (is_scatter(n)) {
        if (!ou_scatter_reduction(n, &r, d)) return false;
        emit_line(e, "memcpy(y0, x0, %zu);", (size_t)ir_nbytes(x));
    }
    /* One loop nest over the indices' shape: operand 0 is the indices and the output
     * (contiguous), operand 1 the data with no stride on the axis, which the index
     * supplies. */
    OuLoop l;
    memset(&l, 0, sizeof l);
    l.rank = ind->rank;
    l.n_ops = 2;
    memcpy(l.dims, ind->dims, sizeof(int64_t) * (size_t)ind->rank);
    shape_strides(ind->rank, ind->dims, l.strides[0]);
    shape_strides(x->rank, x->dims, l.strides[1]);
    const int64_t axis_stride = l.strides[1][axis];
    l.strides[1][axis] = 0;
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "int64_t k = x1[%s];", idx[0]);
    emit_line(e, "if (k < 0) k += %lld;", (long long)x->dims[axis]);
    emit_line(e, "if (k < 0 || k >= %lld) return 1; /* index out of range */",
              (long long)x->dims[axis]);
    if (!is_scatter(n)) {
        emit_line(e, "y0[%s] = x0[%s + (size_t)k * %lld];", idx[0], idx[1],
                  (long long)axis_stride);
    } else {
        const char *T = dtype_ctype(x->dtype);
        emit_line(e, "%s *const to = &y0[%s + (size_t)k * %lld];", T, idx[1],
                  (long long)axis_stride);
        emit_line(e, "const %s u = x2[%s];", T, idx[0]);
        ou_emit_scatter_update(e, x->dtype, r);
    }
    ou_loop_close(e, &l);
    return true;   /* the backend adds the final `return 0;` */
}

const OpDef op_scatterelements = {
    .name = "ScatterElements", .domain = "", .since = 11, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = ge_infer, .fold = ge_fold, .emit = ge_emit,
    .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};

/* The opset 9-10 name of ScatterElements (no reduction). */
const OpDef op_scatter = {
    .name = "Scatter", .domain = "", .since = 9, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = ge_infer, .fold = ge_fold, .emit = ge_emit,
    .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};

const OpDef op_gatherelements = {
    .name = "GatherElements", .domain = "", .since = 11, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = ge_infer, .fold = ge_fold, .emit = ge_emit,
    .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
