/* depth_space.c: DepthToSpace and SpaceToDepth, which move blocksize x blocksize blocks
 * of pixels between the channel dim and the spatial dims of an [N, C, H, W] tensor.
 *
 * Both are a reshape to 6-D, a transpose and a reshape back, so both are one strided copy:
 * the loop nest runs over the transposed 6-D shape (the output, contiguous) and reads
 * the input through the permuted strides of its 6-D view.  The modes (the spec's text):
 *   DepthToSpace DCR: x as [N, b, b, C/b², H, W], transposed [0, 3, 4, 1, 5, 2]
 *   DepthToSpace CRD: x as [N, C/b², b, b, H, W], transposed [0, 1, 4, 2, 5, 3]
 *   SpaceToDepth DCR: x as [N, C, H/b, b, W/b, b], transposed [0, 3, 5, 1, 2, 4]
 *   SpaceToDepth CRD: the same view, transposed [0, 1, 3, 5, 2, 4]
 * (SpaceToDepth has the mode attribute from opset 28; DCR before.) */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

enum { DS_RANK = 4, DS_VIEW_RANK = 6 };

/* DepthToSpace or SpaceToDepth; the OpDef's data. */
typedef struct DsKind {
    bool to_space;
} DsKind;

/* The 6-D view of x, its permutation and the output dims. */
typedef struct DsView {
    int64_t view[DS_VIEW_RANK];
    int perm[DS_VIEW_RANK];
    int64_t out[DS_RANK];
} DsView;

static bool ds_view(const Node *n, DsView *v, Diag *d) {
    const bool to_space = ((const DsKind *)n->op->data)->to_space;
    const Value *x = n->inputs[0];
    if (x->rank != DS_RANK) {
        diag_error(d, n, "input '%s' has rank %d, expected 4 ([N, C, H, W])", x->name, x->rank);
        return false;
    }
    const Attr *ba = ir_attr(n, "blocksize");
    if (!ba || ba->type != ATTR_INT) {
        diag_error(d, n, "attribute 'blocksize' (an int) is required");
        return false;
    }
    const int64_t b = ba->i;
    const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (b < 1 || b > (1 << 20)) {
        diag_error(d, n, "blocksize %lld is out of range [1, %d]", (long long)b, 1 << 20);
        return false;
    }
    const char *mode = ir_attr_string(n, "mode", "DCR");
    const bool crd = strcmp(mode, "CRD") == 0;
    if (!crd && strcmp(mode, "DCR") != 0) {
        diag_error(d, n, "attribute 'mode' is '%s', expected DCR or CRD", mode);
        return false;
    }
    if (to_space) {
        if (C % (b * b) != 0) {
            diag_error(d, n, "channels %lld are not a multiple of blocksize² %lld",
                       (long long)C, (long long)(b * b));
            return false;
        }
        const int64_t c = C / (b * b);
        const int64_t dcr[DS_VIEW_RANK] = { N, b, b, c, H, W };
        const int64_t crdv[DS_VIEW_RANK] = { N, c, b, b, H, W };
        const int pd[DS_VIEW_RANK] = { 0, 3, 4, 1, 5, 2 }, pc[DS_VIEW_RANK] = { 0, 1, 4, 2, 5, 3 };
        memcpy(v->view, crd ? crdv : dcr, sizeof v->view);
        memcpy(v->perm, crd ? pc : pd, sizeof v->perm);
        v->out[0] = N, v->out[1] = c, v->out[2] = H * b, v->out[3] = W * b;
        return true;
    }
    if (H % b != 0 || W % b != 0) {
        diag_error(d, n, "spatial dims %lld x %lld are not multiples of blocksize %lld",
                   (long long)H, (long long)W, (long long)b);
        return false;
    }
    const int64_t view[DS_VIEW_RANK] = { N, C, H / b, b, W / b, b };
    const int pd[DS_VIEW_RANK] = { 0, 3, 5, 1, 2, 4 }, pc[DS_VIEW_RANK] = { 0, 1, 3, 5, 2, 4 };
    memcpy(v->view, view, sizeof v->view);
    memcpy(v->perm, crd ? pc : pd, sizeof v->perm);
    v->out[0] = N, v->out[1] = C * b * b, v->out[2] = H / b, v->out[3] = W / b;
    return true;
}

static bool ds_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    DsView v;
    if (!ds_view(n, &v, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, DS_RANK, v.out, d);
}

/* The copy as a loop nest over the transposed view: operand 0 the output (contiguous),
 * operand 1 the input. */
static bool ds_loop(const Node *n, OuLoop *l, Diag *d) {
    DsView v;
    if (!ds_view(n, &v, d)) return false;
    int64_t xs[DS_VIEW_RANK], s = 1;
    for (int k = DS_VIEW_RANK - 1; k >= 0; k--) xs[k] = s, s *= v.view[k];
    memset(l, 0, sizeof *l);
    l->rank = DS_VIEW_RANK;
    l->n_ops = 2;
    for (int k = 0; k < DS_VIEW_RANK; k++) l->dims[k] = v.view[v.perm[k]];
    s = 1;
    for (int k = DS_VIEW_RANK - 1; k >= 0; k--) l->strides[0][k] = s, s *= l->dims[k];
    for (int k = 0; k < DS_VIEW_RANK; k++) l->strides[1][k] = xs[v.perm[k]];
    return true;
}

static bool ds_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    OuLoop l;
    if (!ds_loop(n, &l, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(y->dtype);
    const int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++)
        ou_copy_elems(y->data, p, n->inputs[0]->data, ou_loop_offset(&l, 1, p), es);
    return true;
}

static bool ds_emit(Emitter *e, const Node *n, Diag *d) {
    OuLoop l;
    if (!ds_loop(n, &l, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    char sx[128], sy[128];
    emit_line(e, "/* %s (blocksize %lld, %s) %s -> %s: a strided copy */", n->op_type,
              (long long)ir_attr_int(n, "blocksize", 0), ir_attr_string(n, "mode", "DCR"),
              ou_shape(sx, sizeof sx, n->inputs[0]), ou_shape(sy, sizeof sy, n->outputs[0]));
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
    ou_loop_close(e, &l);
    return true;
}

static const DsKind ds_to_space = { .to_space = true };
static const DsKind ds_to_depth = { .to_space = false };

const OpDef op_depthtospace = {
    .name = "DepthToSpace", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = ds_infer, .fold = ds_fold, .emit = ds_emit,
    .memory = OP_MEMORY_SEPARATE, .data = &ds_to_space,
};

const OpDef op_spacetodepth = {
    .name = "SpaceToDepth", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = ds_infer, .fold = ds_fold, .emit = ds_emit,
    .memory = OP_MEMORY_SEPARATE, .data = &ds_to_depth,
};
