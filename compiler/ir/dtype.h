/* dtype.h: element types.  The numbering is ONNX's TensorProto.DataType, so a dtype read
 * from a model needs no translation table.
 *
 * The low-precision types (float8 variants, float4e2m1, float8e8m0, int4/uint4,
 * int2/uint2) are held in memory one element per byte: the float8/float4 types as their
 * bit pattern in a uint8_t, int4/int2 as a sign-extended int8_t, uint4/uint2 as a
 * uint8_t.  ONNX packs the sub-byte types two (4-bit) or four (2-bit) to a byte in files;
 * the frontend unpacks them on reading and packs them on writing, so nothing else sees
 * the packed form.  They are neither dtype_is_float nor dtype_is_integer: arithmetic ops
 * reject them, and only the ops that convert them (Cast, CastLike, BitCast, the
 * quantization ops) or move them unchanged accept them. */
#ifndef ONNXCC_DTYPE_H
#define ONNXCC_DTYPE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum DType {
    DT_UNDEFINED = 0,
    DT_FLOAT = 1,
    DT_UINT8 = 2,
    DT_INT8 = 3,
    DT_UINT16 = 4,
    DT_INT16 = 5,
    DT_INT32 = 6,
    DT_INT64 = 7,
    DT_STRING = 8,
    DT_BOOL = 9,
    DT_FLOAT16 = 10,
    DT_DOUBLE = 11,
    DT_UINT32 = 12,
    DT_UINT64 = 13,
    DT_BFLOAT16 = 16,
    DT_FLOAT8E4M3FN = 17,
    DT_FLOAT8E4M3FNUZ = 18,
    DT_FLOAT8E5M2 = 19,
    DT_FLOAT8E5M2FNUZ = 20,
    DT_UINT4 = 21,
    DT_INT4 = 22,
    DT_FLOAT4E2M1 = 23,
    DT_FLOAT8E8M0 = 24,
    DT_UINT2 = 25,
    DT_INT2 = 26,
} DType;

/* Size of one element in bytes; 0 for types we cannot hold (string, complex, ...). */
size_t      dtype_size(DType t);
/* ONNX spelling ("float", "int64"), "dtype(N)" for unknown numbers (static storage). */
const char *dtype_name(DType t);
/* The C type of one element in emitted code ("float", "int64_t", "bool"); NULL if none. */
const char *dtype_ctype(DType t);
bool        dtype_is_float(DType t);    /* float, double, float16, bfloat16 */
bool        dtype_is_integer(DType t);  /* signed or unsigned integers, not bool */
bool        dtype_is_valid(int t);      /* a number ONNX defines */
/* The low-precision types (see the top of this file). */
bool        dtype_is_lowp(DType t);        /* any of them */
bool        dtype_is_lowp_float(DType t);  /* float8 (all five), float4e2m1 */
bool        dtype_is_lowp_int(DType t);    /* int4, uint4, int2, uint2 */
/* Bits per element in ONNX's packed storage: 4 or 2 for the sub-byte types, else 8 *
 * dtype_size (0 for types we cannot hold). */
int         dtype_packed_bits(DType t);

#endif
