/* dtype.h: element types.  The numbering is ONNX's TensorProto.DataType, so a dtype read
 * from a model needs no translation table. */
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

#endif
