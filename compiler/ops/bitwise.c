/* bitwise.c: BitwiseAnd, BitwiseOr, BitwiseXor (numpy broadcasting) and BitwiseNot, on
 * integer tensors (opset 18).
 *
 * One table gives each binary op its C operator; the broadcast loop nest is compare.c's
 * (elementwise.h).  Folding works on the int64 view of each element, which holds its bits
 * (unsigned 64-bit values too), and stores truncate to the type's width, so one code
 * path serves every integer type.  Emitted code casts the promoted result back to T. */
#include <stdio.h>
#include <string.h>

#include "ops/elementwise.h"

typedef enum BitKind { BIT_AND, BIT_OR, BIT_XOR } BitKind;

typedef struct BitInfo {
    BitKind kind;
    const char *sym;        /* C operator */
} BitInfo;

static const BitInfo bit_and = { BIT_AND, "&" };
static const BitInfo bit_or = { BIT_OR, "|" };
static const BitInfo bit_xor = { BIT_XOR, "^" };

static const BitInfo *bit_info(const Node *n) { return n->op->data; }

static const DType bit_types[] = { DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_INT8,
                                   DT_INT16, DT_INT32, DT_INT64, DT_UNDEFINED };

static bool bit_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    return ew_infer_binary(n, bit_types, DT_UNDEFINED, d);
}

/* The scalar operation, on the bits of two elements. */
static int64_t bit_apply(BitKind kind, int64_t p, int64_t q) {
    switch (kind) {
    case BIT_AND: return p & q;
    case BIT_OR: return p | q;
    default: return p ^ q;
    }
}

static bool bit_fold(Graph *g, Node *n, Diag *d) {
    const Value *a = n->inputs[0], *b = n->inputs[1];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    OuLoop l;
    ew_bcast_loop(n, 2, &l);
    const int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) {
        int64_t x0 = ir_const_get_i64(a, ou_loop_offset(&l, 1, p));
        int64_t x1 = ir_const_get_i64(b, ou_loop_offset(&l, 2, p));
        ir_const_set_i64(y, p, bit_apply(bit_info(n)->kind, x0, x1));
    }
    return true;
}

static bool bit_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    (void)d;
    const Value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    char sa[128], sb[128], sy[128];
    emit_line(e, "/* %s: %s, %s -> %s */", n->op_type, ou_shape(sa, sizeof sa, a),
              ou_shape(sb, sizeof sb, b), ou_shape(sy, sizeof sy, y));
    OuLoop l;
    ew_bcast_loop(n, 2, &l);
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = (%s)(x0[%s] %s x1[%s]);", idx[0], dtype_ctype(y->dtype), idx[1],
              bit_info(n)->sym, idx[2]);
    ou_loop_close(e, &l);
    return true;
}

#define BIT_OP(var, NAME, INFO)                                                              \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = 18, .min_inputs = 2, .max_inputs = 2,          \
        .min_outputs = 1, .max_outputs = 1, .infer = bit_infer, .fold = bit_fold,           \
        .emit = bit_emit, .memory = OP_MEMORY_INPLACE, .data = &INFO,                       \
    }

BIT_OP(op_bitwiseand, "BitwiseAnd", bit_and);
BIT_OP(op_bitwiseor, "BitwiseOr", bit_or);
BIT_OP(op_bitwisexor, "BitwiseXor", bit_xor);

/* ---- BitwiseNot ---- */

static bool bitnot_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, bit_types, d)) return false;
    return op_infer_like_input0(g, n, d);
}

static bool bitnot_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++) ir_const_set_i64(y, p, ~ir_const_get_i64(x, p));
    return true;
}

static bool bitnot_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    (void)d;
    const Value *x = n->inputs[0];
    char sx[128];
    emit_line(e, "/* BitwiseNot: %s, in place allowed */", ou_shape(sx, sizeof sx, x));
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(x));
    emit_line(e, "y0[i] = (%s)~x0[i];", dtype_ctype(x->dtype));
    return emit_close(e);
}

const OpDef op_bitwisenot = {
    .name = "BitwiseNot", .domain = "", .since = 18, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = bitnot_infer, .fold = bitnot_fold,
    .emit = bitnot_emit, .memory = OP_MEMORY_INPLACE,
};
