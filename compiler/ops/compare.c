/* compare.c: comparisons and logic with boolean outputs (Equal, Less, Greater,
 * LessOrEqual, GreaterOrEqual, And, Or, Xor, Not), the float classifiers IsInf and IsNaN,
 * and Where, all with numpy broadcasting.
 *
 * One table gives each binary op its C operator; inputs of half types are compared as
 * floats, integers exactly (folding compares int64 values, not doubles). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/elementwise.h"

typedef enum CmpKind {
    CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE, CMP_AND, CMP_OR, CMP_XOR,
} CmpKind;

typedef struct CmpInfo {
    CmpKind kind;
    const char *sym;        /* C operator */
} CmpInfo;

static const CmpInfo cmp_eq = { CMP_EQ, "==" };
static const CmpInfo cmp_lt = { CMP_LT, "<" };
static const CmpInfo cmp_gt = { CMP_GT, ">" };
static const CmpInfo cmp_le = { CMP_LE, "<=" };
static const CmpInfo cmp_ge = { CMP_GE, ">=" };
static const CmpInfo cmp_and = { CMP_AND, "&&" };
static const CmpInfo cmp_or = { CMP_OR, "||" };
static const CmpInfo cmp_xor = { CMP_XOR, "!=" };

static const CmpInfo *cmp_info(const Node *n) { return n->op->data; }

static const DType cmp_eq_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
    DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_BOOL, DT_UNDEFINED,
};
static const DType cmp_bool_types[] = { DT_BOOL, DT_UNDEFINED };

void ew_bcast_loop(const Node *n, int n_in, OuLoop *l) {
    const Value *y = n->outputs[0];
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    l->n_ops = 1 + n_in;
    shape_strides(y->rank, y->dims, l->strides[0]);
    for (int k = 0; k < n_in; k++) ou_bcast_strides(n->inputs[k], y->rank, l->strides[k + 1]);
}

bool ew_bcast_shape(const Node *n, int n_in, int *rank, int64_t *dims, Diag *d) {
    const Value *a = n->inputs[0];
    *rank = a->rank;
    memcpy(dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
    for (int k = 1; k < n_in; k++) {
        const Value *b = n->inputs[k];
        int r;
        int64_t out[IR_MAX_RANK];
        if (!shape_broadcast(*rank, dims, b->rank, b->dims, &r, out)) {
            char sa[128], sb[128];
            diag_error(d, n, "shapes %s and %s cannot be broadcast together",
                       ou_shape(sa, sizeof sa, a), ou_shape(sb, sizeof sb, b));
            return false;
        }
        *rank = r;
        memcpy(dims, out, sizeof(int64_t) * (size_t)r);
    }
    return true;
}

bool ew_infer_binary(const Node *n, const DType *types, DType out, Diag *d) {
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (!ou_check_dtype(n, 0, types, d)) return false;
    const Value *a = n->inputs[0], *b = n->inputs[1];
    if (a->dtype != b->dtype) {
        diag_error(d, n, "input types differ: %s and %s", dtype_name(a->dtype),
                   dtype_name(b->dtype));
        return false;
    }
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!ew_bcast_shape(n, 2, &rank, dims, d)) return false;
    ir_value_set_shape(n->outputs[0], out != DT_UNDEFINED ? out : a->dtype, rank, dims);
    return true;
}

static bool cmp_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    CmpKind kind = cmp_info(n)->kind;
    const DType *types = kind >= CMP_AND ? cmp_bool_types :
                         kind == CMP_EQ ? cmp_eq_types : ou_numeric_types;
    return ew_infer_binary(n, types, DT_BOOL, d);
}

static bool cmp_fold(Graph *g, Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    Value *y = n->outputs[0];
    CmpKind kind = cmp_info(n)->kind;
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    ew_bcast_loop(n, 2, &l);
    int64_t count = ir_numel(y);
    bool fl = dtype_is_float(a->dtype), u64 = a->dtype == DT_UINT64;
    for (int64_t p = 0; p < count; p++) {
        int64_t ia = ou_loop_offset(&l, 1, p), ib = ou_loop_offset(&l, 2, p);
        int c;
        if (fl) {
            double x0 = ou_get_f64(a, ia), x1 = ou_get_f64(b, ib);
            c = x0 < x1 ? -1 : x0 > x1 ? 1 : x0 == x1 ? 0 : 2;   /* 2: unordered (NaN) */
        } else if (u64) {
            uint64_t x0 = (uint64_t)ir_const_get_i64(a, ia), x1 = (uint64_t)ir_const_get_i64(b, ib);
            c = x0 < x1 ? -1 : x0 > x1 ? 1 : 0;
        } else {
            int64_t x0 = ir_const_get_i64(a, ia), x1 = ir_const_get_i64(b, ib);
            if (kind >= CMP_AND) {
                x0 = x0 != 0;
                x1 = x1 != 0;
            }
            c = x0 < x1 ? -1 : x0 > x1 ? 1 : 0;
            if (kind == CMP_AND) c = x0 && x1;
            if (kind == CMP_OR) c = x0 || x1;
        }
        int64_t r;
        switch (kind) {
        case CMP_EQ: r = c == 0; break;
        case CMP_LT: r = c == -1; break;
        case CMP_GT: r = c == 1; break;
        case CMP_LE: r = c == -1 || c == 0; break;
        case CMP_GE: r = c == 1 || c == 0; break;
        case CMP_XOR: r = c != 0; break;
        default: r = c; break;   /* And, Or computed above */
        }
        ir_const_set_i64(y, p, r);
    }
    return true;
}

static bool cmp_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    (void)d;
    DType t = a->dtype;
    char sa[128], sb[128], sy[128];
    emit_line(e, "/* %s: %s, %s -> %s */", n->op_type, ou_shape(sa, sizeof sa, a),
              ou_shape(sb, sizeof sb, b), ou_shape(sy, sizeof sy, y));
    OuLoop l;
    ew_bcast_loop(n, 2, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    if (ou_is_half(t)) {
        char src[300];
        snprintf(src, sizeof src, "x0[%s]", idx[1]);
        ou_emit_half_load(e, t, "p", src);
        snprintf(src, sizeof src, "x1[%s]", idx[2]);
        ou_emit_half_load(e, t, "q", src);
        emit_line(e, "y0[%s] = p %s q;", idx[0], cmp_info(n)->sym);
    } else {
        emit_line(e, "y0[%s] = x0[%s] %s x1[%s];", idx[0], idx[1], cmp_info(n)->sym, idx[2]);
    }
    ou_loop_close(e, &l);
    return true;
}

#define CMP_OP(var, NAME, INFO, SINCE)                                                       \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = SINCE, .min_inputs = 2, .max_inputs = 2,       \
        .min_outputs = 1, .max_outputs = 1, .infer = cmp_infer, .fold = cmp_fold,           \
        .emit = cmp_emit, .memory = OP_MEMORY_SEPARATE, .data = &INFO,                      \
    }

CMP_OP(op_equal, "Equal", cmp_eq, 7);
CMP_OP(op_less, "Less", cmp_lt, 7);
CMP_OP(op_greater, "Greater", cmp_gt, 7);
CMP_OP(op_lessorequal, "LessOrEqual", cmp_le, 12);
CMP_OP(op_greaterorequal, "GreaterOrEqual", cmp_ge, 12);
CMP_OP(op_and, "And", cmp_and, 7);
CMP_OP(op_or, "Or", cmp_or, 7);
CMP_OP(op_xor, "Xor", cmp_xor, 7);

/* ---- Not ---- */

static bool not_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d)) return false;
    if (!ou_check_dtype(n, 0, cmp_bool_types, d)) return false;
    return op_infer_like_input0(g, n, d);
}

static bool not_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) ir_const_set_i64(y, p, ir_const_get_i64(x, p) == 0);
    return true;
}

static bool not_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    (void)d;
    char sx[128];
    emit_line(e, "/* Not: %s, in place allowed */", ou_shape(sx, sizeof sx, n->inputs[0]));
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(n->inputs[0]));
    emit_line(e, "y0[i] = !x0[i];");
    return emit_close(e);
}

const OpDef op_not = {
    .name = "Not", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = not_infer, .fold = not_fold,
    .emit = not_emit, .memory = OP_MEMORY_INPLACE,
};

/* ---- IsInf, IsNaN ---- */

/* IsInf's attributes detect_positive and detect_negative (default 1 each): which
 * infinities count.  IsNaN has neither and classifies NaN. */
typedef struct Classify {
    bool nan;               /* IsNaN */
    bool pos, neg;          /* IsInf: +inf, -inf count */
} Classify;

static const Classify cls_isinf = { false, true, true };
static const Classify cls_isnan = { true, false, false };

static Classify classify_of(const Node *n) {
    Classify c = *(const Classify *)n->op->data;
    if (!c.nan) {
        c.pos = ir_attr_int(n, "detect_positive", 1) != 0;
        c.neg = ir_attr_int(n, "detect_negative", 1) != 0;
    }
    return c;
}

static bool classify_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, ou_float_types, d)) return false;
    const Value *x = n->inputs[0];
    ir_value_set_shape(n->outputs[0], DT_BOOL, x->rank, x->dims);
    return true;
}

static bool classify_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const Classify c = classify_of(n);
    const int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) {
        const double v = ou_get_f64(x, p);
        const bool r = c.nan ? isnan(v) : isinf(v) && (v > 0 ? c.pos : c.neg);
        ir_const_set_i64(y, p, r);
    }
    return true;
}

static bool classify_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    (void)d;
    const Value *x = n->inputs[0];
    const Classify c = classify_of(n);
    char sx[128];
    emit_line(e, "/* %s: %s -> bool */", n->op_type, ou_shape(sx, sizeof sx, x));
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(x));
    if (ou_is_half(x->dtype)) ou_emit_half_load(e, x->dtype, "v", "x0[i]");
    else emit_line(e, "const %s v = x0[i];", dtype_ctype(x->dtype));
    if (c.nan) emit_line(e, "y0[i] = isnan(v);");
    else if (c.pos && c.neg) emit_line(e, "y0[i] = isinf(v);");
    else if (c.pos || c.neg) emit_line(e, "y0[i] = isinf(v) && v %s 0;", c.pos ? ">" : "<");
    else {
        emit_line(e, "(void)v;");
        emit_line(e, "y0[i] = false;   /* neither infinity is detected */");
    }
    return emit_close(e);
}

#define CLASSIFY_OP(var, NAME, INFO, SINCE)                                                  \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = SINCE, .min_inputs = 1, .max_inputs = 1,       \
        .min_outputs = 1, .max_outputs = 1, .infer = classify_infer,                        \
        .fold = classify_fold, .emit = classify_emit, .memory = OP_MEMORY_SEPARATE,         \
        .data = &INFO,                                                                       \
    }

CLASSIFY_OP(op_isinf, "IsInf", cls_isinf, 10);
CLASSIFY_OP(op_isnan, "IsNaN", cls_isnan, 9);

/* ---- Where ---- */

static bool where_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    for (int k = 0; k < 3; k++)
        if (!op_require_shape(n, k, d)) return false;
    if (!ou_check_dtype(n, 0, cmp_bool_types, d)) return false;
    const Value *x = n->inputs[1], *y = n->inputs[2];
    if (x->dtype != y->dtype) {
        diag_error(d, n, "X is %s and Y is %s; they must have the same type",
                   dtype_name(x->dtype), dtype_name(y->dtype));
        return false;
    }
    if (!dtype_ctype(x->dtype)) {
        diag_error(d, n, "input type %s is not supported", dtype_name(x->dtype));
        return false;
    }
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!ew_bcast_shape(n, 3, &rank, dims, d)) return false;
    ir_value_set_shape(n->outputs[0], x->dtype, rank, dims);
    return true;
}

static bool where_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    ew_bcast_loop(n, 3, &l);
    int64_t count = ir_numel(y);
    size_t es = dtype_size(y->dtype);
    for (int64_t p = 0; p < count; p++) {
        bool c = ir_const_get_i64(n->inputs[0], ou_loop_offset(&l, 1, p)) != 0;
        int k = c ? 2 : 3;
        ou_copy_elems(y->data, p, n->inputs[k - 1]->data, ou_loop_offset(&l, k, p), es);
    }
    return true;
}

static bool where_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    (void)d;
    char sc[128], sx[128], sy[128], so[128];
    emit_line(e, "/* Where: %s ? %s : %s -> %s */", ou_shape(sc, sizeof sc, n->inputs[0]),
              ou_shape(sx, sizeof sx, n->inputs[1]), ou_shape(sy, sizeof sy, n->inputs[2]),
              ou_shape(so, sizeof so, n->outputs[0]));
    OuLoop l;
    ew_bcast_loop(n, 3, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = x0[%s] ? x1[%s] : x2[%s];", idx[0], idx[1], idx[2], idx[3]);
    ou_loop_close(e, &l);
    return true;
}

const OpDef op_where = {
    .name = "Where", .domain = "", .since = 9, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = where_infer, .fold = where_fold,
    .emit = where_emit, .memory = OP_MEMORY_SEPARATE,
};
