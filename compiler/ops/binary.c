/* binary.c: numpy-broadcasting elementwise arithmetic (Add, Sub, Mul, Div, Mod,
 * BitShift) and PRelu, whose slope broadcasts one way onto X.  Opsets before 7 broadcast
 * B from an axis instead (legacy_axis).  One table drives inference, folding and
 * emission; integer arithmetic is done in unsigned types (wrap-around, no UB) and integer
 * division or remainder by zero (or INT_MIN / -1) yields 0 in emitted code.  Mod follows
 * its attribute fmod: 0 gives the remainder with the divisor's sign, as Python's % (a
 * zero remainder of floats too: opset 28's rule), 1 the dividend's, as C's fmod and %.
 * BitShift shifts integers by its attribute direction, as opset 28 defines it for
 * signed types too: right shifts are arithmetic, and a shift by a negative amount or by
 * the width or more leaves only the sign fill (-1 for a negative value shifted right,
 * else 0). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

typedef enum BinKind {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MOD, BIN_SHIFT, BIN_PRELU
} BinKind;

typedef struct BinInfo {
    BinKind kind;
    const char *sym;        /* C operator for the arithmetic kinds */
} BinInfo;

static const BinInfo bin_add = { BIN_ADD, "+" };
static const BinInfo bin_sub = { BIN_SUB, "-" };
static const BinInfo bin_mul = { BIN_MUL, "*" };
static const BinInfo bin_div = { BIN_DIV, "/" };
static const BinInfo bin_mod = { BIN_MOD, "%" };
static const BinInfo bin_shift = { BIN_SHIFT, NULL };   /* "<<" or ">>": shift_left */
static const BinInfo bin_prelu = { BIN_PRELU, NULL };

static const BinInfo *bin_info(const Node *n) { return n->op->data; }

/* Mod's fmod attribute: whether the remainder takes the dividend's sign. */
static bool mod_fmod(const Node *n) { return ir_attr_int(n, "fmod", 0) != 0; }

/* BitShift's direction: true for LEFT (checked by bin_infer). */
static bool shift_left(const Node *n) {
    return strcmp(ir_attr_string(n, "direction", ""), "LEFT") == 0;
}

static const DType shift_types[] = { DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_INT8,
                                      DT_INT16, DT_INT32, DT_INT64, DT_UNDEFINED };

static bool dtype_is_signed_int(DType t) {
    return t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64;
}

/* BitShift of x by q on a `bits`-wide type (the result to be truncated to it). */
static int64_t shift_fold(bool left, bool is_signed, int64_t x, int64_t q, uint64_t bits) {
    if (q < 0 || (uint64_t)q >= bits) return !left && is_signed && x < 0 ? -1 : 0;
    if (left) return (int64_t)((uint64_t)x << q);
    /* arithmetic for a negative signed x, without shifting a negative value */
    return is_signed && x < 0 ? ~(~x >> q) : (int64_t)((uint64_t)x >> q);
}

/* The remainder of integer division with the divisor's sign (fmod 0), from C's. */
static int64_t mod_floor(int64_t r, int64_t q) { return r != 0 && (r < 0) != (q < 0) ? r + q : r; }

/* The broadcasting of opsets before 7: Add, Sub, Mul and Div with broadcast = 1 line B's
 * dims up with A's from attribute `axis` on (by default B faces A's trailing dims), and
 * PRelu's one-dim slope holds one value per channel (axis 1 of X).  Whether those rules
 * apply, and the axis of A where B starts (checked by bin_infer). */
static bool legacy_axis(const Node *n, int64_t *axis) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    *axis = -1;
    if (n->opset >= 7) return false;
    if (bin_info(n)->kind == BIN_PRELU) {
        if (b->rank != 1 || a->rank < 2) return false;
        *axis = 1;
        return true;
    }
    if (ir_attr_int(n, "broadcast", 0) == 0) return false;
    *axis = ir_attr_int(n, "axis", (int64_t)a->rank - b->rank);
    return true;
}

/* B's dims as numpy broadcasting sees them: under the legacy rules, B padded with
 * trailing 1s up to A's last dim, which makes it start at the axis. */
static void bin_b_dims(const Node *n, int *rank, int64_t *dims) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    int64_t axis;
    *rank = b->rank;
    memcpy(dims, b->dims, sizeof(int64_t) * (size_t)b->rank);
    if (!legacy_axis(n, &axis)) return;
    *rank = a->rank - (int)axis;          /* axis in [0, a->rank - b->rank]: checked */
    for (int k = b->rank; k < *rank; k++) dims[k] = 1;
}

static bool bin_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *a = n->inputs[0], *b = n->inputs[1];
    if (bin_info(n)->kind == BIN_SHIFT) {
        const char *dir = ir_attr_string(n, "direction", "");
        if (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0) {
            diag_error(d, n, "attribute 'direction' must be LEFT or RIGHT");
            return false;
        }
    }
    if (!ou_check_dtype(n, 0, bin_info(n)->kind == BIN_SHIFT ? shift_types : ou_numeric_types,
                        d))
        return false;
    if (a->dtype != b->dtype) {
        diag_error(d, n, "input types differ: %s and %s", dtype_name(a->dtype),
                   dtype_name(b->dtype));
        return false;
    }
    int64_t axis;
    if (legacy_axis(n, &axis) && (axis < 0 || axis > a->rank - b->rank)) {
        char sa[128], sb[128];
        diag_error(d, n, "legacy broadcasting (opset %d): B %s cannot start at axis %lld of "
                   "A %s", n->opset, ou_shape(sb, sizeof sb, b), (long long)axis,
                   ou_shape(sa, sizeof sa, a));
        return false;
    }
    int b_rank, rank;
    int64_t b_dims[IR_MAX_RANK], dims[IR_MAX_RANK];
    bin_b_dims(n, &b_rank, b_dims);
    if (!shape_broadcast(a->rank, a->dims, b_rank, b_dims, &rank, dims) ||
        (legacy_axis(n, &axis) && memcmp(dims, a->dims, sizeof(int64_t) * (size_t)rank))) {
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
    int b_rank;
    int64_t b_dims[IR_MAX_RANK];
    bin_b_dims(n, &b_rank, b_dims);
    shape_broadcast_strides(b_rank, b_dims, y->rank, l->strides[2]);
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
            case BIN_MOD:
                r = fmod(x0, x1);
                if (!mod_fmod(n)) r = r == 0 ? copysign(0.0, x1) : (r < 0) != (x1 < 0) ? r + x1 : r;
                break;
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
            case BIN_SHIFT: r = x1 >= 64 ? 0 : shift_left(n) ? x0 << x1 : x0 >> x1; break;
            default:
                if (x1 == 0) {
                    diag_error(d, n, "integer division by zero in constant folding");
                    return false;
                }
                r = kind == BIN_MOD ? x0 % x1 : x0 / x1;
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
            case BIN_SHIFT:
                /* truncated to the type's width on store */
                r = shift_fold(shift_left(n), dtype_is_signed_int(y->dtype), x0, x1,
                               dtype_size(y->dtype) * 8);
                break;
            default:
                if (x1 == 0) {
                    diag_error(d, n, "integer division by zero in constant folding");
                    return false;
                }
                /* same as the emitted code: MIN / -1 gives 0 (so does MIN % -1) */
                if (x1 == -1 && x0 == int_min_of(y->dtype) && x0 != 0) r = 0;
                else if (kind == BIN_DIV) r = x0 / x1;
                else r = mod_fmod(n) ? x0 % x1 : mod_floor(x0 % x1, x1);
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

/* `const T r` = p mod q for floats p and q of C type T, through fmod (FMOD) and, for
 * fmod=0, the divisor's sign given to the remainder (COPYSIGN for a zero one). */
static void emit_mod_float(Emitter *e, const Node *n, const char *T, const char *FMOD,
                           const char *COPYSIGN) {
    if (mod_fmod(n)) {
        emit_line(e, "const %s r = %s(p, q);", T, FMOD);
        return;
    }
    emit_line(e, "/* fmod=0: the remainder takes the divisor's sign, a zero one too */");
    emit_line(e, "const %s m = %s(p, q);", T, FMOD);
    emit_line(e, "const %s r = m == 0 ? %s(0, q) : (m < 0) != (q < 0) ? m + q : m;", T,
              COPYSIGN);
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
    if (fl && !ou_is_half(t) && info->kind != BIN_PRELU && info->kind != BIN_MOD &&
        bin_emit_hoisted(e, &l, info, T))
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
        else if (info->kind == BIN_MOD) emit_mod_float(e, n, "float", "fmodf", "copysignf");
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
    } else if (fl && info->kind == BIN_MOD) {
        emit_line(e, "const %s p = x0[%s], q = x1[%s];", T, idx[1], idx[2]);
        emit_mod_float(e, n, T, t == DT_FLOAT ? "fmodf" : "fmod",
                       t == DT_FLOAT ? "copysignf" : "copysign");
        emit_line(e, "y0[%s] = r;", idx[0]);
    } else if (fl) {
        emit_line(e, "y0[%s] = x0[%s] %s x1[%s];", idx[0], idx[1], info->sym, idx[2]);
    } else if (info->kind == BIN_SHIFT) {
        const size_t bits = dtype_size(t) * 8;
        const bool left = shift_left(n);
        emit_line(e, "const %s p = x0[%s], q = x1[%s];", T, idx[1], idx[2]);
        if (!dtype_is_signed_int(t)) {
            emit_line(e, "/* no UB: a shift by the width or more gives 0 */");
            emit_line(e, "y0[%s] = q >= %zu ? 0 : (%s)(p %s q);", idx[0], bits, T,
                      left ? "<<" : ">>");
        } else if (left) {
            emit_line(e, "/* shifted as unsigned (no UB); past the width or negative: 0 */");
            emit_line(e, "y0[%s] = (q < 0 || q >= %zu) ? 0 : (%s)((%s)p << q);", idx[0], bits,
                      T, wide_unsigned(t));
        } else {
            emit_line(e, "/* arithmetic; past the width or negative: the sign fill alone */");
            emit_line(e, "y0[%s] = (q < 0 || q >= %zu) ? (p < 0 ? -1 : 0) : "
                      "p < 0 ? (%s)~(~p >> q) : (%s)(p >> q);", idx[0], bits, T, T);
        }
    } else if (info->kind != BIN_DIV && info->kind != BIN_MOD) {
        const char *U = wide_unsigned(t);
        emit_line(e, "y0[%s] = (%s)((%s)x0[%s] %s (%s)x1[%s]);", idx[0], T, U, idx[1],
                  info->sym, U, idx[2]);
    } else {
        emit_line(e, "const %s p = x0[%s], q = x1[%s];", T, idx[1], idx[2]);
        const char *op = info->sym;
        if (dtype_is_signed_int(t)) {
            char tmin[32];
            snprintf(tmin, sizeof tmin, "INT%zu_MIN", dtype_size(t) * 8);
            emit_line(e, "/* no UB: x %s 0 and MIN %s -1 give 0 */", op, op);
            emit_line(e, "%s r = (q == 0 || (q == -1 && p == %s)) ? 0 : (%s)(p %s q);", T, tmin,
                      T, op);
            if (info->kind == BIN_MOD && !mod_fmod(n)) {
                emit_line(e, "/* fmod=0: the remainder takes the divisor's sign */");
                emit_line(e, "if (r != 0 && (r < 0) != (q < 0)) r = (%s)(r + q);", T);
            }
            emit_line(e, "y0[%s] = r;", idx[0]);
        } else {
            emit_line(e, "y0[%s] = q == 0 ? 0 : (%s)(p %s q);", idx[0], T, op);
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
BIN_OP(op_mod, "Mod", bin_mod);
BIN_OP(op_bitshift, "BitShift", bin_shift);
BIN_OP(op_prelu, "PRelu", bin_prelu);
