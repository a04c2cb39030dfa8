/* variadic.c: Max, Min, Sum and Mean of one or more inputs with numpy broadcasting.
 *
 * The output is built in steps, one input at a time: y = x0 broadcast, then
 * y = op(y, xk) for every further input, and for Mean a final division.  Each step is a
 * broadcast loop nest over y, so any number of inputs works with OU_MAX_OPERANDS.
 * Integer sums wrap (computed in unsigned types, no UB). */
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/op_util.h"

typedef enum VarKind { VAR_MAX, VAR_MIN, VAR_SUM, VAR_MEAN } VarKind;

typedef struct VarInfo {
    VarKind kind;
} VarInfo;

static const VarInfo var_max = { VAR_MAX };
static const VarInfo var_min = { VAR_MIN };
static const VarInfo var_sum = { VAR_SUM };
static const VarInfo var_mean = { VAR_MEAN };

static VarKind var_kind(const Node *n) { return ((const VarInfo *)n->op->data)->kind; }

static bool var_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    for (int k = 0; k < n->n_inputs; k++) {
        if (!n->inputs[k]) {
            diag_error(d, n, "input %d is missing", k);
            return false;
        }
        if (!op_require_shape(n, k, d)) return false;
    }
    VarKind kind = var_kind(n);
    if (!ou_check_dtype(n, 0, kind == VAR_SUM || kind == VAR_MEAN ? ou_float_types :
                        ou_numeric_types, d))
        return false;
    const Value *a = n->inputs[0];
    int rank = a->rank;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, a->dims, sizeof(int64_t) * (size_t)rank);
    for (int k = 1; k < n->n_inputs; k++) {
        const Value *b = n->inputs[k];
        if (b->dtype != a->dtype) {
            diag_error(d, n, "input types differ: %s and %s", dtype_name(a->dtype),
                       dtype_name(b->dtype));
            return false;
        }
        int r;
        int64_t out[IR_MAX_RANK];
        if (!shape_broadcast(rank, dims, b->rank, b->dims, &r, out)) {
            char sb[128];
            diag_error(d, n, "input %d %s cannot be broadcast with the others", k,
                       ou_shape(sb, sizeof sb, b));
            return false;
        }
        rank = r;
        memcpy(dims, out, sizeof(int64_t) * (size_t)r);
    }
    ir_value_set_shape(n->outputs[0], a->dtype, rank, dims);
    return true;
}

/* y (operand 0, contiguous) and input k (operand 1) broadcast to y. */
static void var_loop(const Node *n, int k, OuLoop *l) {
    const Value *y = n->outputs[0];
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    l->n_ops = 2;
    shape_strides(y->rank, y->dims, l->strides[0]);
    ou_bcast_strides(n->inputs[k], y->rank, l->strides[1]);
}

static bool var_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    VarKind kind = var_kind(n);
    if (!ir_value_alloc_data(g, y, d)) return false;
    int64_t count = ir_numel(y);
    bool fl = dtype_is_float(y->dtype), u64 = y->dtype == DT_UINT64;
    for (int k = 0; k < n->n_inputs; k++) {
        OuLoop l;
        var_loop(n, k, &l);
        const Value *x = n->inputs[k];
        for (int64_t p = 0; p < count; p++) {
            int64_t i = ou_loop_offset(&l, 1, p);
            if (fl) {
                double v = ou_get_f64(x, i), acc = k ? ou_get_f64(y, p) : v;
                if (kind == VAR_MAX) acc = v > acc ? v : acc;
                else if (kind == VAR_MIN) acc = v < acc ? v : acc;
                else if (k) acc += v;
                if (kind == VAR_MEAN && k == n->n_inputs - 1) acc /= n->n_inputs;
                ou_set_f64(y, p, acc);
            } else if (u64) {
                uint64_t v = (uint64_t)ir_const_get_i64(x, i);
                uint64_t acc = k ? (uint64_t)ir_const_get_i64(y, p) : v;
                acc = kind == VAR_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc);
                ir_const_set_i64(y, p, (int64_t)acc);
            } else {
                int64_t v = ir_const_get_i64(x, i), acc = k ? ir_const_get_i64(y, p) : v;
                acc = kind == VAR_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc);
                ir_const_set_i64(y, p, acc);
            }
        }
    }
    return true;
}

static bool var_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *y = n->outputs[0];
    VarKind kind = var_kind(n);
    DType t = y->dtype;
    (void)d;
    char sy[128], idx[OU_MAX_OPERANDS][256], src[300], dst[300];
    emit_line(e, "/* %s of %d inputs -> %s */", n->op_type, n->n_inputs,
              ou_shape(sy, sizeof sy, y));
    for (int k = 0; k < n->n_inputs; k++) {
        OuLoop l;
        var_loop(n, k, &l);
        ou_loop_simplify(&l);
        ou_loop_open(e, &l, idx);
        bool last = k == n->n_inputs - 1;
        snprintf(src, sizeof src, "x%d[%s]", k, idx[1]);
        snprintf(dst, sizeof dst, "y0[%s]", idx[0]);
        if (ou_is_half(t)) {
            ou_emit_half_load(e, t, "v", src);
            if (k) ou_emit_half_load(e, t, "acc", dst);
            else emit_line(e, "float acc = v;");
        } else {
            emit_line(e, "const %s v = %s;", dtype_ctype(t), src);
            if (k) emit_line(e, "%s acc = %s;", dtype_ctype(t), dst);
            else emit_line(e, "%s acc = v;", dtype_ctype(t));
        }
        if (k && kind == VAR_MAX) emit_line(e, "acc = v > acc ? v : acc;");
        else if (k && kind == VAR_MIN) emit_line(e, "acc = v < acc ? v : acc;");
        else if (k) emit_line(e, "acc += v;");
        if (kind == VAR_MEAN && last) {
            char lit[40];
            emit_line(e, "acc /= %s;", ou_literal(lit, t == DT_DOUBLE ? DT_DOUBLE : DT_FLOAT,
                                                  (double)n->n_inputs, n->n_inputs));
        }
        if (ou_is_half(t)) ou_emit_half_store(e, t, dst, "acc");
        else emit_line(e, "%s = acc;", dst);
        ou_loop_close(e, &l);
    }
    return true;
}

#define VAR_OP(var, NAME, INFO)                                                              \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = 6, .min_inputs = 1, .max_inputs = 256,         \
        .min_outputs = 1, .max_outputs = 1, .infer = var_infer, .fold = var_fold,           \
        .emit = var_emit, .memory = OP_MEMORY_SEPARATE, .data = &INFO,                      \
    }

VAR_OP(op_max, "Max", var_max);
VAR_OP(op_min, "Min", var_min);
VAR_OP(op_sum, "Sum", var_sum);
VAR_OP(op_mean, "Mean", var_mean);
