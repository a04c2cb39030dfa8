/* qlinear.c: the integer matrix products and convolutions of quantized models.
 *
 *   MatMulInteger  Y(int32) = (A - a_zero_point) @ (B - b_zero_point)
 *   ConvInteger    Y(int32) = conv(X - x_zero_point, W - w_zero_point)
 *   QLinearMatMul  y = saturate(round((a - a_zp) @ (b - b_zp) * (a_scale * b_scale / y_scale))
 *                               + y_zp)
 *   QLinearConv    y = the same with a convolution, plus an int32 bias B before scaling
 *
 * Inputs are int8 or uint8; the products accumulate exactly in int64_t (then int32 for
 * the *Integer ops, which wraps like the int32 accumulators of other runtimes only when
 * the sum leaves int32's range).  The scale multiplier is computed in the scales' type
 * (float, or float16 / bfloat16 rounded after each operation), the scaled sum in double,
 * as the ONNX reference does; rounding is half to even and NaN saturates to the lowest
 * code.  Zero points and scales are read at run time: per tensor (one value), per row of A
 * / per column of B (matmul), per output channel of W (conv).
 *
 * The emitted code is a plain loop nest: a loop over the broadcast batch dims (matmul) or
 * over images, groups, channels and output positions (conv, 1-D to 3-D, pads, strides,
 * dilations, auto_pad as Conv), then the reduction; padded positions add nothing (they
 * hold the zero point, i.e. 0 once it is subtracted).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

/* ---- the ops' inputs ------------------------------------------------------------------ */

enum { QL_NONE = -1 };

/* Where each operand sits among a node's inputs (QL_NONE: the op has no such input). */
typedef struct QlDesc {
    bool conv;                      /* ConvInteger / QLinearConv, else a matmul */
    bool requant;                   /* QLinear*: scales and an int8/uint8 output */
    int a, a_zp, a_scale;           /* A / X */
    int b, b_zp, b_scale;           /* B / W */
    int y_scale, y_zp, bias;
} QlDesc;

static const QlDesc ql_matmulinteger = {
    .a = 0, .b = 1, .a_zp = 2, .b_zp = 3, .a_scale = QL_NONE, .b_scale = QL_NONE,
    .y_scale = QL_NONE, .y_zp = QL_NONE, .bias = QL_NONE,
};
static const QlDesc ql_qlinearmatmul = {
    .requant = true, .a = 0, .a_scale = 1, .a_zp = 2, .b = 3, .b_scale = 4, .b_zp = 5,
    .y_scale = 6, .y_zp = 7, .bias = QL_NONE,
};
static const QlDesc ql_convinteger = {
    .conv = true, .a = 0, .b = 1, .a_zp = 2, .b_zp = 3, .a_scale = QL_NONE,
    .b_scale = QL_NONE, .y_scale = QL_NONE, .y_zp = QL_NONE, .bias = QL_NONE,
};
static const QlDesc ql_qlinearconv = {
    .conv = true, .requant = true, .a = 0, .a_scale = 1, .a_zp = 2, .b = 3, .b_scale = 4,
    .b_zp = 5, .y_scale = 6, .y_zp = 7, .bias = 8,
};

static const QlDesc *ql_desc(const Node *n) { return n->op->data; }

/* Input i of the node, NULL when the op has none there or the model omitted it. */
static const Value *ql_in(const Node *n, int i) { return i == QL_NONE ? NULL : op_input(n, i); }

/* How a scale or zero point is indexed: one value, or one per row of A / output channel
 * (PER_A), or one per column of B (PER_B). */
typedef enum QlParam { QL_PER_TENSOR, QL_PER_A, QL_PER_B } QlParam;

/* The output codes of QLinear*: int8 or uint8. */
static void ql_range(DType t, float *lo, float *hi) {
    *lo = t == DT_INT8 ? (float)INT8_MIN : 0.0f;
    *hi = t == DT_INT8 ? (float)INT8_MAX : (float)UINT8_MAX;
}

static bool ql_is_real(DType t) { return t == DT_FLOAT || ou_is_half(t); }

/* ---- geometry ------------------------------------------------------------------------- */

typedef struct QlGeom {
    /* matmul: Y[batch][M][N] = A[batch][M][K] @ B[batch][K][N] */
    int64_t M, K, N;
    OuLoop batch;                   /* operands: 0 = Y, 1 = A, 2 = B (element strides) */
    int64_t n_batch;
    /* conv: X [images][C][in...], W [M][C / group][kernel...] */
    int64_t images, C, group;
    SpatialGeom sp;
    /* output */
    int out_rank;
    int64_t out_dims[IR_MAX_RANK];
} QlGeom;

/* numpy matmul shapes: 1-D A is a row, 1-D B a column (their dim dropped from Y); the
 * batch dims broadcast. */
static bool ql_matmul_geom(const Node *n, const Value *a, const Value *b, QlGeom *q, Diag *d) {
    if (a->rank < 1 || b->rank < 1) {
        diag_error(d, n, "A and B must have rank 1 or more (got %d and %d)", a->rank, b->rank);
        return false;
    }
    const int ab = a->rank > 1 ? a->rank - 2 : 0, bb = b->rank > 1 ? b->rank - 2 : 0;
    q->M = a->rank > 1 ? a->dims[a->rank - 2] : 1;
    q->K = a->dims[a->rank - 1];
    q->N = b->rank > 1 ? b->dims[b->rank - 1] : 1;
    const int64_t kb = b->rank > 1 ? b->dims[b->rank - 2] : b->dims[0];
    if (kb != q->K) {
        diag_error(d, n, "A's last dim %lld differs from B's rows %lld", (long long)q->K,
                   (long long)kb);
        return false;
    }
    int br;
    int64_t bdims[IR_MAX_RANK];
    if (!shape_broadcast(ab, a->dims, bb, b->dims, &br, bdims)) {
        diag_error(d, n, "the batch dims of A and B do not broadcast");
        return false;
    }
    int64_t sa[IR_MAX_RANK] = { 0 }, sb[IR_MAX_RANK] = { 0 }, sy[IR_MAX_RANK] = { 0 };
    shape_broadcast_strides(ab, a->dims, br, sa);
    shape_broadcast_strides(bb, b->dims, br, sb);
    shape_strides(br, bdims, sy);
    memset(&q->batch, 0, sizeof q->batch);
    q->batch.rank = br, q->batch.n_ops = 3;
    q->n_batch = shape_numel(br, bdims);
    for (int k = 0; k < br; k++) {
        q->batch.dims[k] = bdims[k];
        q->batch.strides[0][k] = sy[k] * q->M * q->N;
        q->batch.strides[1][k] = sa[k] * q->M * q->K;
        q->batch.strides[2][k] = sb[k] * q->K * q->N;
    }
    q->out_rank = br;
    memcpy(q->out_dims, bdims, sizeof(int64_t) * (size_t)br);
    if (a->rank > 1) q->out_dims[q->out_rank++] = q->M;
    if (b->rank > 1) q->out_dims[q->out_rank++] = q->N;
    int64_t mn, mk, kn;
    if (q->n_batch < 0 || !i64_mul(q->M, q->N, &mn) || !i64_mul(q->M, q->K, &mk) ||
        !i64_mul(q->K, q->N, &kn) || shape_numel(q->out_rank, q->out_dims) < 0) {
        diag_error(d, n, "the product is too large");
        return false;
    }
    return true;
}

/* Conv shapes, checked as Conv checks them. */
static bool ql_conv_geom(const Node *n, const Value *x, const Value *w, QlGeom *q, Diag *d) {
    if (x->rank < 3 || x->rank > 5 || w->rank != x->rank) {
        diag_error(d, n, "X and W must have the same rank, 3 to 5 (got %d and %d)", x->rank,
                   w->rank);
        return false;
    }
    for (int k = 0; k < x->rank; k++) {
        if (x->dims[k] < 1 || w->dims[k] < 1) {
            diag_error(d, n, "X and W must have no empty dimension");
            return false;
        }
    }
    q->images = x->dims[0], q->C = x->dims[1], q->M = w->dims[0];
    q->group = ir_attr_int(n, "group", 1);
    if (q->group < 1 || q->group > q->C || q->C % q->group != 0 || q->M % q->group != 0) {
        diag_error(d, n, "group %lld must divide the input channels %lld and the output "
                   "channels %lld", (long long)q->group, (long long)q->C, (long long)q->M);
        return false;
    }
    if (w->dims[1] != q->C / q->group) {
        diag_error(d, n, "W has %lld input channels per group, expected %lld",
                   (long long)w->dims[1], (long long)(q->C / q->group));
        return false;
    }
    const int ns = x->rank - 2;
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    for (size_t k = 0; k < nk; k++) {
        if (nk != (size_t)ns || ks[k] != w->dims[2 + k]) {
            diag_error(d, n, "kernel_shape does not match W's spatial dims");
            return false;
        }
    }
    if (!shape_spatial_geom(n, ns, x->dims + 2, w->dims + 2, false, &q->sp, d)) return false;
    q->out_rank = x->rank;
    q->out_dims[0] = q->images, q->out_dims[1] = q->M;
    for (int k = 0; k < ns; k++) q->out_dims[2 + k] = q->sp.out[k];
    if (shape_numel(q->out_rank, q->out_dims) < 0) {
        diag_error(d, n, "output size overflows");
        return false;
    }
    return true;
}

/* Checks that a scale or zero point holds one value, or one per row / channel (count_a,
 * 1-D) or per column (count_b, 1-D; 0 when not allowed), and says which. */
static bool ql_param_kind(const Node *n, const Value *v, const char *what, int64_t count_a,
                          int64_t count_b, QlParam *kind, Diag *d) {
    const int64_t c = ir_numel(v);
    *kind = QL_PER_TENSOR;
    if (c == 1 && v->rank <= 1) return true;
    if (v->rank == 1 && c == count_a && count_a > 0) *kind = QL_PER_A;
    else if (v->rank == 1 && c == count_b && count_b > 0) *kind = QL_PER_B;
    else {
        char buf[128];
        const int64_t want = count_a > 0 ? count_a : count_b;
        if (want > 0)
            diag_error(d, n, "%s '%s' is %s: one value or a 1-D tensor of %lld values is "
                       "supported", what, v->name, ou_shape(buf, sizeof buf, v),
                       (long long)want);
        else
            diag_error(d, n, "%s '%s' is %s: only one value is supported", what, v->name,
                       ou_shape(buf, sizeof buf, v));
        return false;
    }
    return true;
}

/* The per-operand parameter layouts, read and checked. */
typedef struct QlParams {
    QlParam a_zp, b_zp, a_scale, b_scale, y_scale, y_zp;
} QlParams;

static bool ql_check_param(const Node *n, int idx, const char *what, int64_t ca, int64_t cb,
                           QlParam *kind, Diag *d) {
    const Value *v = ql_in(n, idx);
    *kind = QL_PER_TENSOR;
    return !v || ql_param_kind(n, v, what, ca, cb, kind, d);
}

static bool ql_params(const Node *n, const QlGeom *q, QlParams *p, Diag *d) {
    const QlDesc *qd = ql_desc(n);
    /* matmul: A's params per row (M), B's per column (N); conv: X's per tensor, W's per
     * output channel (M) */
    const int64_t rows = qd->conv ? 0 : q->M, cols = qd->conv ? q->M : q->N;
    return ql_check_param(n, qd->a_zp, "A's zero point", rows, 0, &p->a_zp, d) &&
           ql_check_param(n, qd->a_scale, "A's scale", rows, 0, &p->a_scale, d) &&
           ql_check_param(n, qd->b_zp, "B's zero point", 0, cols, &p->b_zp, d) &&
           ql_check_param(n, qd->b_scale, "B's scale", 0, cols, &p->b_scale, d) &&
           ql_check_param(n, qd->y_scale, "y's scale", rows, 0, &p->y_scale, d) &&
           ql_check_param(n, qd->y_zp, "y's zero point", rows, 0, &p->y_zp, d);
}

/* ---- inference ------------------------------------------------------------------------ */

static bool ql_is_code(DType t) { return t == DT_INT8 || t == DT_UINT8; }

/* Types: A/B int8 or uint8 with zero points of their type; scales float, float16 or
 * bfloat16 (one type); the bias int32. */
static bool ql_check_types(const Node *n, Diag *d) {
    const QlDesc *qd = ql_desc(n);
    const int codes[][2] = { { qd->a, qd->a_zp }, { qd->b, qd->b_zp } };
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        const Value *v = ql_in(n, codes[k][0]), *zp = ql_in(n, codes[k][1]);
        if (!ql_is_code(v->dtype)) {
            diag_error(d, n, "input '%s' is %s; int8 or uint8 are supported", v->name,
                       dtype_name(v->dtype));
            return false;
        }
        if (zp && zp->dtype != v->dtype) {
            diag_error(d, n, "zero point '%s' is %s, its tensor '%s' is %s: they must match",
                       zp->name, dtype_name(zp->dtype), v->name, dtype_name(v->dtype));
            return false;
        }
    }
    const Value *yzp = ql_in(n, qd->y_zp);
    if (yzp && !ql_is_code(yzp->dtype)) {
        diag_error(d, n, "output zero point '%s' is %s; int8 or uint8 are supported",
                   yzp->name, dtype_name(yzp->dtype));
        return false;
    }
    const int scales[] = { qd->a_scale, qd->b_scale, qd->y_scale };
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        const Value *s = ql_in(n, scales[k]);
        if (s && (!ql_is_real(s->dtype) || s->dtype != n->inputs[qd->a_scale]->dtype)) {
            diag_error(d, n, "scale '%s' is %s; the scales must all be float, float16 or "
                       "bfloat16", s->name, dtype_name(s->dtype));
            return false;
        }
    }
    const Value *bias = ql_in(n, qd->bias);
    if (bias && bias->dtype != DT_INT32) {
        diag_error(d, n, "bias '%s' is %s, it must be int32", bias->name,
                   dtype_name(bias->dtype));
        return false;
    }
    return true;
}

/* Everything infer, fold and emit need, checked. */
static bool ql_setup(const Node *n, QlGeom *q, QlParams *p, Diag *d) {
    const QlDesc *qd = ql_desc(n);
    for (int i = 0; i < n->n_inputs; i++)
        if (op_input(n, i) && !op_require_shape(n, i, d)) return false;
    if (qd->requant) {
        const int needed[] = { qd->a_scale, qd->b, qd->b_scale, qd->y_scale };
        for (size_t k = 0; k < sizeof needed / sizeof needed[0]; k++) {
            if (!op_input(n, needed[k])) {
                diag_error(d, n, "input %d is missing", needed[k]);
                return false;
            }
        }
    }
    if (!op_input(n, qd->b)) {
        diag_error(d, n, "input %d is missing", qd->b);
        return false;
    }
    if (!ql_check_types(n, d)) return false;
    const Value *a = n->inputs[qd->a], *b = n->inputs[qd->b];
    if (qd->conv ? !ql_conv_geom(n, a, b, q, d) : !ql_matmul_geom(n, a, b, q, d)) return false;
    const Value *bias = ql_in(n, qd->bias);
    if (bias && (bias->rank != 1 || bias->dims[0] != q->M)) {
        char buf[128];
        diag_error(d, n, "bias B must be [%lld], got %s", (long long)q->M,
                   ou_shape(buf, sizeof buf, bias));
        return false;
    }
    return ql_params(n, q, p, d);
}

/* The output type: int32, or the output zero point's type (A's without one). */
static DType ql_out_type(const Node *n) {
    const QlDesc *qd = ql_desc(n);
    if (!qd->requant) return DT_INT32;
    const Value *yzp = ql_in(n, qd->y_zp);
    return yzp ? yzp->dtype : n->inputs[qd->a]->dtype;
}

static bool ql_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    QlGeom q;
    QlParams p;
    if (!ql_setup(n, &q, &p, d)) return false;
    return ou_set_output(n, n->outputs[0], ql_out_type(n), q.out_rank, q.out_dims, d);
}

/* ---- folding -------------------------------------------------------------------------- */

/* Element of a parameter for row/channel ia and column ib (0 when absent). */
static double ql_param_at(const Value *v, QlParam kind, int64_t ia, int64_t ib) {
    if (!v) return 0;
    return ou_get_f64(v, kind == QL_PER_A ? ia : kind == QL_PER_B ? ib : 0);
}

/* Stores the accumulated sum of output element at (row/channel ia, column ib). */
static void ql_fold_store(const Node *n, const QlParams *p, Value *y, int64_t at, int64_t acc,
                          int64_t ia, int64_t ib) {
    const QlDesc *qd = ql_desc(n);
    if (!qd->requant) {
        ou_set_i64(y, at, (int32_t)(uint32_t)(uint64_t)acc);
        return;
    }
    const DType st = n->inputs[qd->a_scale]->dtype;
    const float as = (float)ql_param_at(n->inputs[qd->a_scale], p->a_scale, ia, ib);
    const float bs = (float)ql_param_at(n->inputs[qd->b_scale], p->b_scale, ia, ib);
    const float ys = (float)ql_param_at(n->inputs[qd->y_scale], p->y_scale, ia, ib);
    const float mult = (float)ou_round_to(st, (float)ou_round_to(st, as * bs) / ys);
    const double yzp = ql_param_at(ql_in(n, qd->y_zp), p->y_zp, ia, ib);
    float lo, hi;
    ql_range(y->dtype, &lo, &hi);
    double r = nearbyint((double)acc * (double)mult) + yzp;
    r = r > lo ? r : lo;
    ou_set_f64(y, at, r < hi ? r : hi);
}

static bool ql_fold_matmul(Graph *g, Node *n, const QlGeom *q, const QlParams *p, Diag *d) {
    const QlDesc *qd = ql_desc(n);
    const Value *a = n->inputs[qd->a], *b = n->inputs[qd->b];
    const Value *azp = ql_in(n, qd->a_zp), *bzp = ql_in(n, qd->b_zp);
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    for (int64_t bi = 0; bi < q->n_batch; bi++) {
        const int64_t oy = ou_loop_offset(&q->batch, 0, bi);
        const int64_t oa = ou_loop_offset(&q->batch, 1, bi);
        const int64_t ob = ou_loop_offset(&q->batch, 2, bi);
        for (int64_t m = 0; m < q->M; m++) {
            for (int64_t c = 0; c < q->N; c++) {
                const int64_t za = (int64_t)ql_param_at(azp, p->a_zp, m, c);
                const int64_t zb = (int64_t)ql_param_at(bzp, p->b_zp, m, c);
                int64_t acc = 0;
                for (int64_t k = 0; k < q->K; k++)
                    acc += (ou_get_i64(a, oa + m * q->K + k) - za) *
                           (ou_get_i64(b, ob + k * q->N + c) - zb);
                ql_fold_store(n, p, y, oy + m * q->N + c, acc, m, c);
            }
        }
    }
    return true;
}

/* Folds one output position of a convolution: the sum over the input channels of its
 * group and the kernel window.  pos[] is the output position, padded to 3 dims. */
static int64_t ql_fold_window(const Node *n, const QlGeom *q, const QlParams *p, int64_t img,
                              int64_t oc, const int64_t *pos) {
    const QlDesc *qd = ql_desc(n);
    const Value *x = n->inputs[qd->a], *w = n->inputs[qd->b];
    const Value *xzp = ql_in(n, qd->a_zp), *wzp = ql_in(n, qd->b_zp);
    const SpatialGeom *s = &q->sp;
    int64_t in[3] = { 1, 1, 1 }, ker[3] = { 1, 1, 1 };
    for (int k = 0; k < s->n_spatial; k++) in[k] = s->in[k], ker[k] = s->kernel[k];
    const int64_t cg = q->C / q->group, mg = q->M / q->group, g = oc / mg;
    const int64_t za = (int64_t)ql_param_at(xzp, p->a_zp, 0, 0);
    const int64_t zw = (int64_t)ql_param_at(wzp, p->b_zp, oc, oc);
    int64_t acc = 0;
    for (int64_t c = 0; c < cg; c++) {
        for (int64_t k0 = 0; k0 < ker[0]; k0++)
        for (int64_t k1 = 0; k1 < ker[1]; k1++)
        for (int64_t k2 = 0; k2 < ker[2]; k2++) {
            const int64_t kk[3] = { k0, k1, k2 };
            int64_t xi = img * q->C + g * cg + c, wi = oc * cg + c;
            bool inside = true;
            for (int k = 0; k < 3; k++) {
                int64_t at = k < s->n_spatial ? pos[k] * s->stride[k] - s->pad_begin[k] +
                                                    kk[k] * s->dilation[k]
                                              : 0;
                inside = inside && at >= 0 && at < in[k];
                xi = xi * in[k] + at;
                wi = wi * ker[k] + kk[k];
            }
            if (inside) acc += (ou_get_i64(x, xi) - za) * (ou_get_i64(w, wi) - zw);
        }
    }
    return acc;
}

static bool ql_fold_conv(Graph *g, Node *n, const QlGeom *q, const QlParams *p, Diag *d) {
    const QlDesc *qd = ql_desc(n);
    const Value *bias = ql_in(n, qd->bias);
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    int64_t out[3] = { 1, 1, 1 };
    for (int k = 0; k < q->sp.n_spatial; k++) out[k] = q->sp.out[k];
    int64_t at = 0;
    for (int64_t img = 0; img < q->images; img++) {
        for (int64_t oc = 0; oc < q->M; oc++) {
            for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
            for (int64_t o2 = 0; o2 < out[2]; o2++) {
                const int64_t pos[3] = { o0, o1, o2 };
                int64_t acc = ql_fold_window(n, q, p, img, oc, pos);
                if (bias) acc += ou_get_i64(bias, oc);
                ql_fold_store(n, p, y, at++, acc, oc, oc);
            }
        }
    }
    return true;
}

static bool ql_fold(Graph *g, Node *n, Diag *d) {
    QlGeom q;
    QlParams p;
    if (!ql_setup(n, &q, &p, d)) return false;
    return ql_desc(n)->conv ? ql_fold_conv(g, n, &q, &p, d) : ql_fold_matmul(g, n, &q, &p, d);
}

/* ---- emitted code --------------------------------------------------------------------- */

/* The C index of a parameter: "0", the row/channel variable or the column variable. */
static const char *ql_param_var(QlParam kind, const char *va, const char *vb) {
    return kind == QL_PER_A ? va : kind == QL_PER_B ? vb : "0";
}

/* Declares `const int32_t name` = zero point input idx at its index (0 when absent). */
static void ql_emit_zp(Emitter *e, const Node *n, int idx, QlParam kind, const char *name,
                       const char *va, const char *vb) {
    if (ql_in(n, idx))
        emit_line(e, "const int32_t %s = x%d[%s];", name, idx, ql_param_var(kind, va, vb));
    else emit_line(e, "const int32_t %s = 0;   /* no zero point */", name);
}

/* Declares `float name` = scale input idx at its index, widened from half types. */
static void ql_emit_scale(Emitter *e, const Node *n, int idx, QlParam kind, const char *name,
                          const char *va, const char *vb) {
    char src[64];
    snprintf(src, sizeof src, "x%d[%s]", idx, ql_param_var(kind, va, vb));
    const DType t = n->inputs[idx]->dtype;
    if (ou_is_half(t)) ou_emit_half_load(e, t, name, src);
    else emit_line(e, "const float %s = %s;", name, src);
}

/* QLinear*: declares `float mult` (a_scale * b_scale / y_scale, in the scales' precision)
 * and `int32_t zy` (the output zero point) for row-or-channel va and column vb. */
static void ql_emit_mult(Emitter *e, const Node *n, const QlParams *p, const char *va,
                         const char *vb) {
    const QlDesc *qd = ql_desc(n);
    const DType st = n->inputs[qd->a_scale]->dtype;
    ql_emit_scale(e, n, qd->a_scale, p->a_scale, "sa", va, vb);
    ql_emit_scale(e, n, qd->b_scale, p->b_scale, "sb", va, vb);
    ql_emit_scale(e, n, qd->y_scale, p->y_scale, "sy", va, vb);
    emit_line(e, "float mult = sa * sb;   /* in the scales' precision */");
    ou_emit_round(e, st, "mult");
    emit_line(e, "mult = mult / sy;");
    ou_emit_round(e, st, "mult");
    ql_emit_zp(e, n, qd->y_zp, p->y_zp, "zy", va, vb);
}

/* Stores int64_t acc into Y[at]: wrapped to int32, or scaled by mult, rounded, shifted by
 * zy and saturated. */
static void ql_emit_store(Emitter *e, const Node *n, const char *Y, const char *at) {
    const QlDesc *qd = ql_desc(n);
    const Value *y = n->outputs[0];
    if (!qd->requant) {
        emit_line(e, "%s[%s] = (int32_t)(uint32_t)(uint64_t)acc;   /* int32 wraps */", Y, at);
        return;
    }
    float lo, hi;
    ql_range(y->dtype, &lo, &hi);
    char slo[40], shi[40];
    c_double(slo, lo);
    c_double(shi, hi);
    emit_line(e, "double r = nearbyint((double)acc * (double)mult) + zy;");
    emit_line(e, "r = r > %s ? r : %s;   /* NaN gives the lowest code */", slo, slo);
    emit_line(e, "%s[%s] = (%s)(r < %s ? r : %s);", Y, at, dtype_ctype(y->dtype), shi, shi);
}

/* A matmul's za, zb and, for QLinearMatMul, mult and zy, for the variables row and col. */
static void ql_emit_params(Emitter *e, const Node *n, const QlParams *p) {
    const QlDesc *qd = ql_desc(n);
    ql_emit_zp(e, n, qd->a_zp, p->a_zp, "za", "row", "col");
    ql_emit_zp(e, n, qd->b_zp, p->b_zp, "zb", "row", "col");
    if (qd->requant) ql_emit_mult(e, n, p, "row", "col");
}

static bool ql_emit_matmul(Emitter *e, const Node *n, const QlGeom *q, const QlParams *p) {
    const QlDesc *qd = ql_desc(n);
    const Value *a = n->inputs[qd->a], *b = n->inputs[qd->b];
    char sa[128], sb[128], idx[OU_MAX_OPERANDS][256];
    emit_line(e, "/* %s: %s @ %s, [%lld][%lld] @ [%lld][%lld] per batch, exact int64_t "
              "sums */", n->op_type, ou_shape(sa, sizeof sa, a), ou_shape(sb, sizeof sb, b),
              (long long)q->M, (long long)q->K, (long long)q->K, (long long)q->N);
    /* zero points and scales: once, when all are per tensor, else per output element */
    const bool hoist = p->a_zp == QL_PER_TENSOR && p->b_zp == QL_PER_TENSOR &&
                       p->a_scale == QL_PER_TENSOR && p->b_scale == QL_PER_TENSOR &&
                       p->y_scale == QL_PER_TENSOR && p->y_zp == QL_PER_TENSOR;
    if (hoist) ql_emit_params(e, n, p);
    OuLoop l = q->batch;
    ou_loop_simplify(&l);
    ou_loop_open(e, &l, idx);
    emit_line(e, "const %s *A = x%d + %s;", dtype_ctype(a->dtype), qd->a, idx[1]);
    emit_line(e, "const %s *B = x%d + %s;", dtype_ctype(b->dtype), qd->b, idx[2]);
    emit_line(e, "%s *Y = y0 + %s;", dtype_ctype(n->outputs[0]->dtype), idx[0]);
    emit_open(e, "for (size_t row = 0; row < %lld; row++)", (long long)q->M);
    emit_open(e, "for (size_t col = 0; col < %lld; col++)", (long long)q->N);
    if (!hoist) ql_emit_params(e, n, p);
    emit_line(e, "int64_t acc = 0;");
    emit_line(e, "for (size_t k = 0; k < %lld; k++) acc += (int64_t)(A[row * %lld + k] - za) "
              "* (B[k * %lld + col] - zb);", (long long)q->K, (long long)q->K,
              (long long)q->N);
    char at[64];
    snprintf(at, sizeof at, "row * %lld + col", (long long)q->N);
    ql_emit_store(e, n, "Y", at);
    emit_close(e);
    emit_close(e);
    ou_loop_close(e, &l);
    return true;
}

/* Longest index expression of the conv loop nest (3 nests of a few dozen characters). */
enum { QL_EXPR = 256 };

/* expr = (expr * dim + (size_t)<var><k>): one more dimension of a row-major index. */
static void ql_nest(char *expr, int64_t dim, char var, int k) {
    char tmp[2 * QL_EXPR];
    snprintf(tmp, sizeof tmp, "(%s * %lld + (size_t)%c%d)", expr, (long long)dim, var, k);
    snprintf(expr, QL_EXPR, "%.*s", QL_EXPR - 1, tmp);
}

/* The position of a convolution's input along spatial axis k for output o<k> and kernel
 * tap k<k>: declares i<k> and skips the tap when it falls into the padding. */
static void ql_emit_tap(Emitter *e, const SpatialGeom *s, int k) {
    char pad[40];
    emit_line(e, "const int64_t i%d = o%d * %lld - %s + k%d * %lld;", k, k,
              (long long)s->stride[k], c_int64(pad, (long long)s->pad_begin[k]), k,
              (long long)s->dilation[k]);
    emit_line(e, "if (i%d < 0 || i%d >= %lld) continue;   /* padding */", k, k,
              (long long)s->in[k]);
}

static bool ql_emit_conv(Emitter *e, const Node *n, const QlGeom *q, const QlParams *p) {
    const QlDesc *qd = ql_desc(n);
    const Value *x = n->inputs[qd->a], *w = n->inputs[qd->b];
    const SpatialGeom *s = &q->sp;
    const int ns = s->n_spatial;
    const int64_t cg = q->C / q->group, mg = q->M / q->group;
    char sx[128], sw[128];
    emit_line(e, "/* %s: %s * %s, group %lld, exact int64_t sums */", n->op_type,
              ou_shape(sx, sizeof sx, x), ou_shape(sw, sizeof sw, w), (long long)q->group);
    emit_open(e, "for (size_t img = 0; img < %lld; img++)", (long long)q->images);
    emit_open(e, "for (size_t oc = 0; oc < %lld; oc++)", (long long)q->M);
    emit_line(e, "const size_t g = oc / %lld;   /* the group */", (long long)mg);
    ql_emit_zp(e, n, qd->a_zp, p->a_zp, "zx", "oc", "oc");
    ql_emit_zp(e, n, qd->b_zp, p->b_zp, "zw", "oc", "oc");
    if (qd->requant) ql_emit_mult(e, n, p, "oc", "oc");
    for (int k = 0; k < ns; k++)
        emit_open(e, "for (int64_t o%d = 0; o%d < %lld; o%d++)", k, k, (long long)s->out[k], k);
    if (ql_in(n, qd->bias)) emit_line(e, "int64_t acc = x%d[oc];   /* the bias */", qd->bias);
    else emit_line(e, "int64_t acc = 0;");
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)cg);
    /* x index: ((img * C + g * cg + c) * in0 + i0) * in1 + i1 ...; w likewise */
    char xi[QL_EXPR], wi[QL_EXPR], at[QL_EXPR];
    snprintf(xi, sizeof xi, "(img * %lld + g * %lld + c)", (long long)q->C, (long long)cg);
    snprintf(wi, sizeof wi, "(oc * %lld + c)", (long long)cg);
    for (int k = 0; k < ns; k++) {
        emit_open(e, "for (int64_t k%d = 0; k%d < %lld; k%d++)", k, k, (long long)s->kernel[k],
                  k);
        ql_emit_tap(e, s, k);
        ql_nest(xi, s->in[k], 'i', k);
        ql_nest(wi, s->kernel[k], 'k', k);
    }
    emit_line(e, "acc += (int64_t)(x%d[%s] - zx) * (x%d[%s] - zw);", qd->a, xi, qd->b, wi);
    for (int k = 0; k < ns; k++) emit_close(e);
    emit_close(e);   /* c */
    snprintf(at, sizeof at, "(img * %lld + oc)", (long long)q->M);
    for (int k = 0; k < ns; k++) ql_nest(at, s->out[k], 'o', k);
    ql_emit_store(e, n, "y0", at);
    for (int k = 0; k < ns; k++) emit_close(e);
    emit_close(e);
    return emit_close(e);
}

static bool ql_emit(Emitter *e, const Node *n, Diag *d) {
    QlGeom q;
    QlParams p;
    if (!ql_setup(n, &q, &p, d)) return false;
    if (ou_emit_if_empty(e, n)) {
        for (int i = 1; i < n->n_inputs; i++)
            if (op_input(n, i)) emit_line(e, "(void)x%d;", i);
        return true;
    }
    return ql_desc(n)->conv ? ql_emit_conv(e, n, &q, &p) : ql_emit_matmul(e, n, &q, &p);
}

/* Integer multiply-adds of one run, counted 2 each: every output element sums K products
 * (matmul: A's last dim) or C / group * kernel products (conv: W's elements per channel). */
static int64_t ql_flops(const Node *n) {
    const QlDesc *qd = ql_desc(n);
    const Value *a = n->inputs[qd->a], *w = op_input(n, qd->b);
    int64_t per_out = 1, f;
    if (!w) return -1;
    if (qd->conv) {
        for (int i = 1; i < w->rank; i++)
            if (!i64_mul(per_out, w->dims[i], &per_out)) return -1;
    } else {
        per_out = a->rank > 0 ? a->dims[a->rank - 1] : 1;
    }
    if (!i64_mul(ir_numel(n->outputs[0]), per_out, &f) || !i64_mul(f, 2, &f)) return -1;
    return f;
}

/* ---- the ops -------------------------------------------------------------------------- */

#define QL_OP(var, NAME, SINCE, MIN_IN, MAX_IN, DESC)                                        \
    const OpDef var = {                                                                     \
        .name = NAME, .domain = "", .since = SINCE, .min_inputs = MIN_IN,                  \
        .max_inputs = MAX_IN, .min_outputs = 1, .max_outputs = 1, .infer = ql_infer,       \
        .fold = ql_fold, .emit = ql_emit, .flops = ql_flops, .memory = OP_MEMORY_SEPARATE, \
        .data = &DESC,                                                                      \
    }

QL_OP(op_matmulinteger, "MatMulInteger", 10, 2, 4, ql_matmulinteger);
QL_OP(op_qlinearmatmul, "QLinearMatMul", 10, 8, 8, ql_qlinearmatmul);
QL_OP(op_convinteger, "ConvInteger", 10, 2, 4, ql_convinteger);
QL_OP(op_qlinearconv, "QLinearConv", 10, 8, 9, ql_qlinearconv);
