/* binary.c: numpy-broadcasting elementwise arithmetic (Add, Sub, Mul, Div) and PRelu,
 * whose slope broadcasts one way onto X.  One table drives inference, folding and
 * emission; integer arithmetic is done in unsigned types (wrap-around, no UB) and integer
 * division by zero (or INT_MIN / -1) yields 0 in emitted code. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

typedef enum BinKind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_PRELU } BinKind;

typedef struct BinInfo {
    BinKind kind;
    const char *sym;        /* C operator for the arithmetic kinds */
} BinInfo;

static const BinInfo bin_add = { BIN_ADD, "+" };
static const BinInfo bin_sub = { BIN_SUB, "-" };
static const BinInfo bin_mul = { BIN_MUL, "*" };
static const BinInfo bin_div = { BIN_DIV, "/" };
static const BinInfo bin_prelu = { BIN_PRELU, NULL };

static const BinInfo *bin_info(const Node *n) { return n->op->data; }

static bool bin_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *a = n->inputs[0], *b = n->inputs[1];
    if (!ou_check_dtype(n, 0, ou_numeric_types, d)) return false;
    if (a->dtype != b->dtype) {
        diag_error(d, n, "input types differ: %s and %s", dtype_name(a->dtype),
                   dtype_name(b->dtype));
        return false;
    }
    if (n->opset < 7 && ir_attr_int(n, "broadcast", 0) != 0 && ir_attr(n, "axis")) {
        diag_error(d, n, "legacy broadcasting with an 'axis' attribute (opset %d) is not "
                   "supported", n->opset);
        return false;
    }
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!shape_broadcast(a->rank, a->dims, b->rank, b->dims, &rank, dims)) {
        char sa[128], sb[128];
        diag_error(d, n, "shapes %s and %s cannot be broadcast together",
                   ou_shape(sa, sizeof sa, a), ou_shape(sb, sizeof sb, b));
        return false;
    }
    if (bin_info(n)->kind == BIN_PRELU && (rank != a->rank ||
                                           memcmp(dims, a->dims, sizeof(int64_t) * rank))) {
        char sa[128], sb[128];
        diag_error(d, n, "slope %s does not broadcast to X %s", ou_shape(sb, sizeof sb, b),
                   ou_shape(sa, sizeof sa, a));
        return false;
    }
    ir_value_set_shape(n->outputs[0], a->dtype, rank, dims);
    return true;
}

/* Operand 0 is y (contiguous), 1 and 2 the inputs broadcast to y's shape. */
static void bin_loop(const Node *n, OuLoop *l) {
    const Value *y = n->outputs[0];
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    l->n_ops = 3;
    shape_strides(y->rank, y->dims, l->strides[0]);
    ou_bcast_strides(n->inputs[0], y->rank, l->strides[1]);
    ou_bcast_strides(n->inputs[1], y->rank, l->strides[2]);
}

static int64_t int_min_of(DType t) {
    switch (t) {
    case DT_INT8: return INT8_MIN;
    case DT_INT16: return INT16_MIN;
    case DT_INT32: return INT32_MIN;
    case DT_INT64: return INT64_MIN;
    default: return 0;
    }
}

static bool bin_fold(Graph *g, Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    Value *y = n->outputs[0];
    BinKind kind = bin_info(n)->kind;
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    bin_loop(n, &l);
    int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) {
        int64_t ia = ou_loop_offset(&l, 1, p), ib = ou_loop_offset(&l, 2, p);
        if (dtype_is_float(y->dtype)) {
            double x0 = ou_get_f64(a, ia), x1 = ou_get_f64(b, ib), r;
            switch (kind) {
            case BIN_ADD: r = x0 + x1; break;
            case BIN_SUB: r = x0 - x1; break;
            case BIN_MUL: r = x0 * x1; break;
            case BIN_DIV: r = x0 / x1; break;
            default: r = x0 >= 0 ? x0 : x0 * x1; break;
            }
            ou_set_f64(y, p, r);
        } else if (y->dtype == DT_UINT64) {
            uint64_t x0 = (uint64_t)ir_const_get_i64(a, ia), x1 = (uint64_t)ir_const_get_i64(b, ib);
            uint64_t r;
            switch (kind) {
            case BIN_ADD: r = x0 + x1; break;
            case BIN_SUB: r = x0 - x1; break;
            case BIN_MUL: case BIN_PRELU: r = kind == BIN_MUL ? x0 * x1 : x0; break;
            default:
                if (x1 == 0) {
                    diag_error(d, n, "integer division by zero in constant folding");
                    return false;
                }
                r = x0 / x1;
                break;
            }
            ((uint64_t *)y->data)[p] = r;
        } else {
            int64_t x0 = ir_const_get_i64(a, ia), x1 = ir_const_get_i64(b, ib);
            uint64_t u0 = (uint64_t)x0, u1 = (uint64_t)x1;
            int64_t r;
            switch (kind) {
            case BIN_ADD: r = (int64_t)(u0 + u1); break;
            case BIN_SUB: r = (int64_t)(u0 - u1); break;
            case BIN_MUL: r = (int64_t)(u0 * u1); break;
            case BIN_PRELU: r = x0 >= 0 ? x0 : (int64_t)(u0 * u1); break;
            default:
                if (x1 == 0) {
                    diag_error(d, n, "integer division by zero in constant folding");
                    return false;
                }
                /* same as the emitted code: MIN / -1 gives 0 */
                if (x1 == -1 && x0 == int_min_of(y->dtype) && x0 != 0) r = 0;
                else r = x0 / x1;
                break;
            }
            ir_const_set_i64(y, p, r);
        }
    }
    return true;
}

/* Unsigned type wide enough to hold T's arithmetic without UB. */
static const char *wide_unsigned(DType t) {
    return dtype_size(t) == 8 ? "uint64_t" : "uint32_t";
}

static bool dtype_is_signed_int(DType t) {
    return t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64;
}

/* Float arithmetic where one input is constant along the innermost loop (a per-channel
 * scale x[1,C,H,W] * s[1,C,1,1] of squeeze-and-excitation blocks, a per-row bias): that
 * operand is read into a local before the inner loop, which then streams the other input
 * alone.  Read inside the loop, it would be reloaded per element, since the output may
 * overwrite an input (in place) and so defeat the vectoriser's hoisting.  false (nothing
 * emitted) when the loop nest is not of that form. */
static bool bin_emit_hoisted(Emitter *e, const OuLoop *l, const BinInfo *info, const char *T) {
    int inner = l->rank - 1;
    if (l->rank < 2) return false;
    int b;                                  /* the input (1 or 2) constant along inner */
    if (l->strides[1][inner] == 0 && l->strides[2][inner] != 0) b = 1;
    else if (l->strides[2][inner] == 0 && l->strides[1][inner] != 0) b = 2;
    else return false;
    char idx[OU_MAX_OPERANDS][256];
    for (int k = 0; k < inner; k++)
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)l->dims[k], k);
    for (int o = 0; o < l->n_ops; o++) ou_loop_index(l, o, idx[o]);
    emit_line(e, "const %s s = x%d[%s];", T, b - 1, idx[b]);
    emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", inner, inner,
              (long long)l->dims[inner], inner);
    if (b == 1) emit_line(e, "y0[%s] = s %s x1[%s];", idx[0], info->sym, idx[2]);
    else emit_line(e, "y0[%s] = x0[%s] %s s;", idx[0], idx[1], info->sym);
    ou_loop_close(e, l);
    return true;
}

static bool bin_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    const BinInfo *info = bin_info(n);
    DType t = y->dtype;
    (void)d;
    const char *T = dtype_ctype(t);
    char sa[128], sb[128], sy[128];
    emit_line(e, "/* %s: %s, %s -> %s */", n->op_type, ou_shape(sa, sizeof sa, a),
              ou_shape(sb, sizeof sb, b), ou_shape(sy, sizeof sy, y));
    OuLoop l;
    bin_loop(n, &l);
    ou_loop_simplify(&l);
    bool fl = dtype_is_float(t);
    if (fl && !ou_is_half(t) && info->kind != BIN_PRELU && bin_emit_hoisted(e, &l, info, T))
        return true;
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    if (ou_is_half(t)) {
        /* computed in float, rounded once on the store */
        char src[300], dst[300];
        snprintf(src, sizeof src, "x0[%s]", idx[1]);
        ou_emit_half_load(e, t, "p", src);
        snprintf(src, sizeof src, "x1[%s]", idx[2]);
        ou_emit_half_load(e, t, "q", src);
        if (info->kind == BIN_PRELU) emit_line(e, "const float r = onnxcc_prelu(p, q);");
        else emit_line(e, "const float r = p %s q;", info->sym);
        snprintf(dst, sizeof dst, "y0[%s]", idx[0]);
        ou_emit_half_store(e, t, dst, "r");
    } else if (info->kind == BIN_PRELU) {
        emit_line(e, "const %s v = x0[%s], s = x1[%s];", T, idx[1], idx[2]);
        if (t == DT_FLOAT) emit_line(e, "y0[%s] = onnxcc_prelu(v, s);", idx[0]);
        else if (fl || !dtype_is_signed_int(t)) emit_line(e, "y0[%s] = v >= 0 ? v : v * s;",
                                                           idx[0]);
        else emit_line(e, "y0[%s] = v >= 0 ? v : (%s)((%s)v * (%s)s);", idx[0], T,
                       wide_unsigned(t), wide_unsigned(t));
    } else if (fl) {
        emit_line(e, "y0[%s] = x0[%s] %s x1[%s];", idx[0], idx[1], info->sym, idx[2]);
    } else if (info->kind != BIN_DIV) {
        const char *U = wide_unsigned(t);
        emit_line(e, "y0[%s] = (%s)((%s)x0[%s] %s (%s)x1[%s]);", idx[0], T, U, idx[1],
                  info->sym, U, idx[2]);
    } else {
        emit_line(e, "const %s p = x0[%s], q = x1[%s];", T, idx[1], idx[2]);
        if (dtype_is_signed_int(t)) {
            char tmin[32];
            snprintf(tmin, sizeof tmin, "INT%zu_MIN", dtype_size(t) * 8);
            emit_line(e, "/* no UB: x / 0 and MIN / -1 give 0 */");
            emit_line(e, "y0[%s] = (q == 0 || (q == -1 && p == %s)) ? 0 : (%s)(p / q);",
                      idx[0], tmin, T);
        } else {
            emit_line(e, "y0[%s] = q == 0 ? 0 : (%s)(p / q);", idx[0], T);
        }
    }
    ou_loop_close(e, &l);
    return true;
}

#define BIN_OP(var, NAME, INFO)                                                              \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = 1, .min_inputs = 2, .max_inputs = 2,           \
        .min_outputs = 1, .max_outputs = 1, .infer = bin_infer, .fold = bin_fold,           \
        .emit = bin_emit, .memory = OP_MEMORY_INPLACE, .data = &INFO,                       \
    }

BIN_OP(op_add, "Add", bin_add);
BIN_OP(op_sub, "Sub", bin_sub);
BIN_OP(op_mul, "Mul", bin_mul);
BIN_OP(op_div, "Div", bin_div);
BIN_OP(op_prelu, "PRelu", bin_prelu);
