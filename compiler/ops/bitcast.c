/* bitcast.c: BitCast (opset 26), the input's bits reinterpreted as another element type of
 * the same width (`to`), shape unchanged.  No value changes: float32 1.0 becomes int32
 * 1065353216.
 *
 * Most pairs are a plain byte copy.  Two need a per-element fix because of how onnxcc
 * holds some types in memory (dtype.h): the sub-byte types are unpacked one element per
 * byte (int4/int2 sign-extended, uint4/uint2/float4e2m1 as their low bits), so a 4-bit or
 * 2-bit pattern is masked and, for int4/int2, sign-extended again; and a bool byte must be
 * 0 or 1 in C, so a byte cast to bool becomes `byte != 0` (the only bit patterns a bool
 * may hold). */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

static bool bitcast_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (!ir_attr(n, "to")) {
        diag_error(d, n, "attribute 'to' is required");
        return false;
    }
    const int64_t to = ir_attr_int(n, "to", 0);
    if (to <= 0 || to > 1000 || !dtype_is_valid((int)to) || dtype_size((DType)to) == 0) {
        diag_error(d, n, "cannot bitcast to element type %lld (unknown or not supported)",
                   (long long)to);
        return false;
    }
    const DType t = (DType)to;
    if (dtype_packed_bits(t) != dtype_packed_bits(x->dtype)) {
        diag_error(d, n, "cannot bitcast %s (%d bits) to %s (%d bits): the widths differ",
                   dtype_name(x->dtype), dtype_packed_bits(x->dtype), dtype_name(t),
                   dtype_packed_bits(t));
        return false;
    }
    return ou_set_output(n, n->outputs[0], t, x->rank, x->dims, d);
}

/* How element bytes change: none, to bool, or re-extended sub-byte bits. */
typedef enum BitcastFix { BITCAST_COPY, BITCAST_BOOL, BITCAST_SUBBYTE } BitcastFix;

static BitcastFix bitcast_fix(DType from, DType to) {
    if (to == DT_BOOL && from != DT_BOOL) return BITCAST_BOOL;
    if (dtype_packed_bits(to) < 8 && from != to) return BITCAST_SUBBYTE;
    return BITCAST_COPY;
}

/* The low `bits` of byte b, sign-extended when `sign` (as an int). */
static int subbyte_value(unsigned b, int bits, bool sign) {
    const unsigned mask = (1u << bits) - 1, v = b & mask;
    return sign && (v >> (bits - 1)) ? (int)v - (1 << bits) : (int)v;
}

static bool subbyte_signed(DType t) { return t == DT_INT4 || t == DT_INT2; }

static bool bitcast_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const size_t nb = ir_nbytes(y);
    if (nb) memcpy(y->data, x->data, nb);
    const BitcastFix fix = bitcast_fix(x->dtype, y->dtype);
    const int bits = dtype_packed_bits(y->dtype);
    uint8_t *p = y->data;
    for (size_t i = 0; fix != BITCAST_COPY && i < nb; i++) {
        if (fix == BITCAST_BOOL) p[i] = p[i] != 0;
        else p[i] = (uint8_t)subbyte_value(p[i], bits, subbyte_signed(y->dtype));
    }
    return true;
}

static bool bitcast_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    char sx[128], sy[128];
    (void)d;
    const BitcastFix fix = bitcast_fix(x->dtype, y->dtype);
    if (fix == BITCAST_COPY) {
        ou_emit_alias_copy(e, n);   /* y0 may be x0 (in place): then nothing to do */
        return true;
    }
    emit_line(e, "/* BitCast %s -> %s, element by element (y0 may be x0) */",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, y));
    emit_line(e, "const unsigned char *xb = (const unsigned char *)x0;");
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(y));
    if (fix == BITCAST_BOOL) {
        emit_line(e, "y0[i] = xb[i] != 0;   /* a C bool holds only 0 or 1 */");
    } else {
        const int bits = dtype_packed_bits(y->dtype);
        const unsigned mask = (1u << bits) - 1;
        if (subbyte_signed(y->dtype))
            emit_line(e, "const int v = xb[i] & 0x%xu;   /* the %d-bit pattern */", mask, bits);
        else
            emit_line(e, "y0[i] = (%s)(xb[i] & 0x%xu);   /* the %d-bit pattern */",
                      dtype_ctype(y->dtype), mask, bits);
        if (subbyte_signed(y->dtype))
            emit_line(e, "y0[i] = (%s)(v >= %d ? v - %d : v);   /* sign-extended */",
                      dtype_ctype(y->dtype), 1 << (bits - 1), 1 << bits);
    }
    return emit_close(e);
}

const OpDef op_bitcast = {
    .name = "BitCast", .domain = "", .since = 26, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = bitcast_infer, .fold = bitcast_fold,
    .emit = bitcast_emit, .memory = OP_MEMORY_INPLACE,
};
