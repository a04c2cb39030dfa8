/* center_crop_pad.c: CenterCropPad (opset 18): along each of the listed axes (attribute
 * axes, all by default), the input is cropped or zero-padded to the length given by the
 * constant input shape, keeping it centred; when the difference is odd, the extra element
 * is cropped from (or padded at) the end.
 *
 * Per axis that makes an input start (the crop), an output start (the pad) and a common
 * length; the op is then a zero fill (only when something is padded) and one strided copy
 * of the common block, a loop nest whose contiguous dims merge. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

/* The copy: out dims, and per axis the common length and the starts in x and y. */
typedef struct CcpView {
    int rank;
    int64_t out[IR_MAX_RANK], len[IR_MAX_RANK], x0[IR_MAX_RANK], y0[IR_MAX_RANK];
    bool padded;                 /* some output element is not copied from x */
} CcpView;

static bool ccp_view(const Node *n, CcpView *v, Diag *d) {
    const Value *x = n->inputs[0];
    int64_t shape[IR_MAX_RANK];
    int count;
    if (!ou_const_ints(n, 1, shape, IR_MAX_RANK, &count, d)) return false;
    int axes[IR_MAX_RANK];
    const int64_t *a;
    const size_t na = ir_attr_ints(n, "axes", &a);
    if (na > (size_t)x->rank) {
        diag_error(d, n, "attribute 'axes' has %zu values for rank %d", na, x->rank);
        return false;
    }
    const int n_axes = na ? (int)na : x->rank;
    bool seen[IR_MAX_RANK] = { false };
    for (int i = 0; i < n_axes; i++) {
        if (na && !ou_axis(n, "axis", a[i], x->rank, false, &axes[i], d)) return false;
        if (!na) axes[i] = i;
        if (seen[axes[i]]) {
            diag_error(d, n, "attribute 'axes' names axis %d twice", axes[i]);
            return false;
        }
        seen[axes[i]] = true;
    }
    if (count != n_axes) {
        diag_error(d, n, "shape has %d values, expected %d (one per axis)", count, n_axes);
        return false;
    }
    v->rank = x->rank;
    v->padded = false;
    for (int k = 0; k < x->rank; k++) {
        v->out[k] = v->len[k] = x->dims[k];
        v->x0[k] = v->y0[k] = 0;
    }
    for (int i = 0; i < n_axes; i++) {
        const int k = axes[i];
        const int64_t want = shape[i], have = x->dims[k];
        if (want < 0) {
            diag_error(d, n, "shape[%d] is negative (%lld)", i, (long long)want);
            return false;
        }
        v->out[k] = want;
        if (want < have) {
            v->x0[k] = (have - want) / 2;   /* the odd element comes off the end */
            v->len[k] = want;
        } else if (want > have) {
            v->y0[k] = (want - have) / 2;
            v->padded = true;
        }
    }
    return true;
}

static bool ccp_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    CcpView v;
    if (!ccp_view(n, &v, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, v.rank, v.out, d);
}

/* The copy of the common block: operand 0 the output, operand 1 the input, each with its
 * row-major strides and the block's start as base. */
static void ccp_loop(const Node *n, const CcpView *v, OuLoop *l) {
    const Value *x = n->inputs[0];
    memset(l, 0, sizeof *l);
    l->rank = v->rank;
    l->n_ops = 2;
    int64_t sy = 1, sx = 1;
    for (int k = v->rank - 1; k >= 0; k--) {
        l->dims[k] = v->len[k];
        l->strides[0][k] = sy;
        l->strides[1][k] = sx;
        l->base[0] += v->y0[k] * sy;
        l->base[1] += v->x0[k] * sx;
        sy *= v->out[k];
        sx *= x->dims[k];
    }
}

static bool ccp_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    CcpView v;
    if (!ccp_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    ccp_loop(n, &v, &l);
    int64_t count = 1;
    for (int k = 0; k < v.rank; k++) count *= v.len[k];
    const size_t es = dtype_size(y->dtype);
    /* the data starts zeroed (ir_value_alloc_data): the padding is already there */
    for (int64_t p = 0; p < count; p++)
        ou_copy_elems(y->data, ou_loop_offset(&l, 0, p), n->inputs[0]->data,
                      ou_loop_offset(&l, 1, p), es);
    return true;
}

static bool ccp_emit(Emitter *e, const Node *n, Diag *d) {
    CcpView v;
    if (!ccp_view(n, &v, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    char sx[128], sy[128];
    emit_line(e, "/* CenterCropPad %s -> %s */", ou_shape(sx, sizeof sx, n->inputs[0]),
              ou_shape(sy, sizeof sy, n->outputs[0]));
    if (v.padded) {
        emit_line(e, "memset(y0, 0, %zu);   /* the padding */", ir_nbytes(n->outputs[0]));
    }
    int64_t count = 1;
    for (int k = 0; k < v.rank; k++) count *= v.len[k];
    if (count == 0) {
        emit_line(e, "(void)x0;   /* nothing of the input is kept */");
        return true;
    }
    OuLoop l;
    ccp_loop(n, &v, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    emit_line(e, "/* the kept block */");
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
    ou_loop_close(e, &l);
    return true;
}

const OpDef op_centercroppad = {
    .name = "CenterCropPad", .domain = "", .since = 18, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = ccp_infer, .fold = ccp_fold,
    .emit = ccp_emit, .memory = OP_MEMORY_SEPARATE,
};
