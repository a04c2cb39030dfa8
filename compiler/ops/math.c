/* math.c: Pow (numpy broadcasting, the exponent may have another type than the base) and
 * Expand (broadcast an input to a shape given as a constant input).
 *
 * Integer bases (int32, int64) are computed exactly, by repeated squaring in wrapping
 * unsigned arithmetic for integer exponents (a negative exponent gives the truncated
 * 1 / x^n), and through double with a saturating conversion for float exponents.
 * Pow with a constant scalar exponent of 2, 1, 0.5 or -1 is emitted as a multiplication,
 * a copy, sqrtf or a division: exactly what onnxruntime computes for them, and
 * vectorisable (the transformer's LayerNorm is x - mean, then Pow 2). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

/* Operand 0 is y (contiguous), 1.. the inputs broadcast to y's shape. */
static void bcast_loop(const Node *n, int n_in, OuLoop *l) {
    const Value *y = n->outputs[0];
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    l->n_ops = 1 + n_in;
    shape_strides(y->rank, y->dims, l->strides[0]);
    for (int k = 0; k < n_in; k++) ou_bcast_strides(n->inputs[k], y->rank, l->strides[k + 1]);
}

static bool bcast_shape(const Node *n, const Value *a, const Value *b, int *rank,
                        int64_t *dims, Diag *d) {
    if (!shape_broadcast(a->rank, a->dims, b->rank, b->dims, rank, dims)) {
        char sa[128], sb[128];
        diag_error(d, n, "shapes %s and %s cannot be broadcast together",
                   ou_shape(sa, sizeof sa, a), ou_shape(sb, sizeof sb, b));
        return false;
    }
    return true;
}

/* ---- Pow ---- */

static const DType pow_base_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16,
                                        DT_INT32, DT_INT64, DT_UNDEFINED };

/* x ^ e for integers, exactly as the emitted code (two's complement wrap-around). */
static int64_t pow_int(int64_t x, int64_t e) {
    if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* double to an integer type of `bits` bits without UB: NaN gives 0, out of range
 * saturates (as the emitted code). */
static int64_t pow_sat(double r, int bits) {
    double hi = bits == 32 ? 2147483647.0 : 9223372036854775807.0;
    double lo = bits == 32 ? -2147483648.0 : -9223372036854775808.0;
    if (r != r) return 0;
    if (r >= hi) return bits == 32 ? INT32_MAX : INT64_MAX;
    if (r <= lo) return bits == 32 ? INT32_MIN : INT64_MIN;
    return (int64_t)r;
}

static bool pow_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (!ou_check_dtype(n, 0, pow_base_types, d)) return false;
    if (!ou_check_dtype(n, 1, ou_numeric_types, d)) return false;
    const Value *a = n->inputs[0], *b = n->inputs[1];
    if (n->opset < 12 && a->dtype != b->dtype) {
        diag_error(d, n, "base is %s and exponent %s; they must match before opset 12",
                   dtype_name(a->dtype), dtype_name(b->dtype));
        return false;
    }
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!bcast_shape(n, a, b, &rank, dims, d)) return false;
    ir_value_set_shape(n->outputs[0], a->dtype, rank, dims);
    return true;
}

/* What the emitted code computes for x ^ e in float (folding mirrors it). */
static float pow_f(float x, float e) {
    if (e == 2.0f) return x * x;
    if (e == 1.0f) return x;
    if (e == 0.5f) return sqrtf(x);
    return powf(x, e);
}

static bool pow_fold(Graph *g, Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    bcast_loop(n, 2, &l);
    int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) {
        if (dtype_is_integer(y->dtype)) {
            int64_t ia = ou_loop_offset(&l, 1, p), ib = ou_loop_offset(&l, 2, p);
            int64_t xi = ir_const_get_i64(a, ia), r;
            if (dtype_is_integer(b->dtype)) r = pow_int(xi, ir_const_get_i64(b, ib));
            else r = pow_sat(pow((double)xi, ou_get_f64(b, ib)), y->dtype == DT_INT32 ? 32 : 64);
            ir_const_set_i64(y, p, r);
            continue;
        }
        double x = ou_get_f64(a, ou_loop_offset(&l, 1, p));
        double ex = ou_get_f64(b, ou_loop_offset(&l, 2, p));
        double r = y->dtype == DT_DOUBLE ? pow(x, ex) : (double)pow_f((float)x, (float)ex);
        ou_set_f64(y, p, r);
    }
    return true;
}

/* The loop for an integer base. */
static void pow_emit_int(Emitter *e, DType t, DType tb, const OuLoop *l) {
    char idx[OU_MAX_OPERANDS][256];
    const char *T = dtype_ctype(t);
    ou_loop_open(e, l, idx);
    if (dtype_is_integer(tb)) {
        emit_line(e, "const int64_t v = x0[%s];", idx[1]);
        emit_line(e, "int64_t p = (int64_t)x1[%s];", idx[2]);
        emit_line(e, "uint64_t r = 1, b = (uint64_t)v;");
        emit_open(e, "if (p < 0)");
        emit_line(e, "r = v == 1 ? 1u : v == -1 ? ((p & 1) ? UINT64_MAX : 1u) : 0u;");
        emit_close(e);
        emit_open(e, "else");
        emit_open(e, "while (p)");
        emit_line(e, "if (p & 1) r *= b;");
        emit_line(e, "b *= b;");
        emit_line(e, "p >>= 1;");
        emit_close(e);
        emit_close(e);
        emit_line(e, "y0[%s] = (%s)(int64_t)r;", idx[0], T);
    } else {
        char src[300];
        snprintf(src, sizeof src, "x1[%s]", idx[2]);
        if (ou_is_half(tb)) ou_emit_half_load(e, tb, "p", src);
        else emit_line(e, "const double p = (double)%s;", src);
        emit_line(e, "const double r = pow((double)x0[%s], (double)p);", idx[1]);
        bool i32 = t == DT_INT32;
        emit_line(e, "/* no UB: NaN gives 0, out of range saturates */");
        emit_line(e, "y0[%s] = r != r ? 0 : r >= %s ? %s : r <= %s ? %s : (%s)r;", idx[0],
                  i32 ? "2147483647.0" : "9223372036854775807.0", i32 ? "INT32_MAX" : "INT64_MAX",
                  i32 ? "-2147483648.0" : "-9223372036854775808.0",
                  i32 ? "INT32_MIN" : "INT64_MIN", T);
    }
    ou_loop_close(e, l);
}

static bool pow_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    (void)d;
    DType t = y->dtype, tb = b->dtype;
    bool dbl = t == DT_DOUBLE;
    const char *C = dbl ? "double" : "float";
    char sa[128], sb[128], sy[128];
    emit_line(e, "/* Pow: %s ^ %s -> %s */", ou_shape(sa, sizeof sa, a),
              ou_shape(sb, sizeof sb, b), ou_shape(sy, sizeof sy, y));
    /* a constant scalar exponent becomes a cheaper exact expression */
    const char *expr = NULL;
    char buf[64];
    if (b->data && ir_numel(b) == 1) {
        double ex = ou_get_f64(b, 0);
        if (!dbl) ex = (float)ex;
        if (ex == 2.0) expr = "v * v";
        else if (ex == 1.0) expr = "v";
        else if (ex == 0.5) expr = dbl ? "sqrt(v)" : "sqrtf(v)";
        else {
            char lit[40];
            snprintf(buf, sizeof buf, "%s(v, %s)", dbl ? "pow" : "powf",
                     dbl ? c_double(lit, ex) : c_float(lit, (float)ex));
            expr = buf;
        }
        emit_line(e, "(void)x1;");
    }
    OuLoop l;
    bcast_loop(n, 2, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256], src[300], dst[300];
    if (dtype_is_integer(t)) {
        if (expr) emit_line(e, "/* integer base: the exponent is read at run time */");
        pow_emit_int(e, t, tb, &l);
        return true;
    }
    ou_loop_open(e, &l, idx);
    snprintf(src, sizeof src, "x0[%s]", idx[1]);
    if (ou_is_half(t)) ou_emit_half_load(e, t, "v", src);
    else emit_line(e, "const %s v = %s;", C, src);
    if (!expr) {
        snprintf(src, sizeof src, "x1[%s]", idx[2]);
        if (ou_is_half(tb)) ou_emit_half_load(e, tb, "p", src);
        else emit_line(e, "const %s p = (%s)%s;", C, C, src);
        emit_line(e, "const %s r = %s(v, p);", C, dbl ? "pow" : "powf");
    } else {
        emit_line(e, "const %s r = %s;", C, expr);
    }
    snprintf(dst, sizeof dst, "y0[%s]", idx[0]);
    if (ou_is_half(t)) ou_emit_half_store(e, t, dst, "r");
    else emit_line(e, "%s = r;", dst);
    ou_loop_close(e, &l);
    return true;
}

const OpDef op_pow = {
    .name = "Pow", .domain = "", .since = 1, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = pow_infer, .fold = pow_fold,
    .emit = pow_emit, .memory = OP_MEMORY_INPLACE,
};

/* ---- Expand ---- */

static bool expand_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t shape[IR_MAX_RANK];
    int count;
    if (!ou_const_ints(n, 1, shape, IR_MAX_RANK, &count, d)) return false;
    for (int k = 0; k < count; k++) {
        if (shape[k] < 0) {
            diag_error(d, n, "shape[%d] is %lld, dims must be >= 0", k, (long long)shape[k]);
            return false;
        }
    }
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!shape_broadcast(x->rank, x->dims, count, shape, &rank, dims)) {
        char sx[128];
        diag_error(d, n, "input %s cannot be expanded to the given shape of rank %d",
                   ou_shape(sx, sizeof sx, x), count);
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

static bool expand_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    bcast_loop(n, 1, &l);
    int64_t count = ir_numel(y);
    size_t es = dtype_size(x->dtype);
    for (int64_t p = 0; p < count; p++)
        ou_copy_elems(y->data, p, x->data, ou_loop_offset(&l, 1, p), es);
    return true;
}

static bool expand_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0], *y = n->outputs[0];
    (void)d;
    char sx[128], sy[128];
    emit_line(e, "/* Expand: %s -> %s */", ou_shape(sx, sizeof sx, x),
              ou_shape(sy, sizeof sy, y));
    emit_line(e, "(void)x1;");
    if (ir_same_shape(x, y)) {
        emit_line(e, "memcpy(y0, x0, %zu);", ir_nbytes(y));
        return true;
    }
    OuLoop l;
    bcast_loop(n, 1, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
    ou_loop_close(e, &l);
    return true;
}

const OpDef op_expand = {
    .name = "Expand", .domain = "", .since = 8, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = expand_infer, .fold = expand_fold,
    .emit = expand_emit, .memory = OP_MEMORY_SEPARATE,
};
