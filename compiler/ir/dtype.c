/* dtype.c: facts about element types. */
#include "ir/dtype.h"

#include <stdio.h>

typedef struct DTypeInfo {
    const char *name;
    const char *ctype;
    size_t size;
} DTypeInfo;

/* Indexed by the ONNX number; holes are zero. */
static const DTypeInfo dtype_info[] = {
    [DT_FLOAT] = { "float", "float", 4 },
    [DT_UINT8] = { "uint8", "uint8_t", 1 },
    [DT_INT8] = { "int8", "int8_t", 1 },
    [DT_UINT16] = { "uint16", "uint16_t", 2 },
    [DT_INT16] = { "int16", "int16_t", 2 },
    [DT_INT32] = { "int32", "int32_t", 4 },
    [DT_INT64] = { "int64", "int64_t", 8 },
    [DT_STRING] = { "string", NULL, 0 },
    [DT_BOOL] = { "bool", "bool", 1 },
    [DT_FLOAT16] = { "float16", "uint16_t", 2 },
    [DT_DOUBLE] = { "double", "double", 8 },
    [DT_UINT32] = { "uint32", "uint32_t", 4 },
    [DT_UINT64] = { "uint64", "uint64_t", 8 },
    [DT_BFLOAT16] = { "bfloat16", "uint16_t", 2 },
    /* low precision: one element per byte in memory (see dtype.h) */
    [DT_FLOAT8E4M3FN] = { "float8e4m3fn", "uint8_t", 1 },
    [DT_FLOAT8E4M3FNUZ] = { "float8e4m3fnuz", "uint8_t", 1 },
    [DT_FLOAT8E5M2] = { "float8e5m2", "uint8_t", 1 },
    [DT_FLOAT8E5M2FNUZ] = { "float8e5m2fnuz", "uint8_t", 1 },
    [DT_UINT4] = { "uint4", "uint8_t", 1 },
    [DT_INT4] = { "int4", "int8_t", 1 },
    [DT_FLOAT4E2M1] = { "float4e2m1", "uint8_t", 1 },
    [DT_FLOAT8E8M0] = { "float8e8m0", "uint8_t", 1 },
    [DT_UINT2] = { "uint2", "uint8_t", 1 },
    [DT_INT2] = { "int2", "int8_t", 1 },
};
enum { DTYPE_INFO_COUNT = sizeof dtype_info / sizeof dtype_info[0] };

static const DTypeInfo *dtype_lookup(DType t) {
    if ((int)t <= 0 || (int)t >= DTYPE_INFO_COUNT || !dtype_info[t].name) return NULL;
    return &dtype_info[t];
}

size_t dtype_size(DType t) {
    const DTypeInfo *i = dtype_lookup(t);
    return i ? i->size : 0;
}

const char *dtype_name(DType t) {
    static _Thread_local char buf[32];
    const DTypeInfo *i = dtype_lookup(t);
    if (i) return i->name;
    snprintf(buf, sizeof buf, "dtype(%d)", (int)t);
    return buf;
}

const char *dtype_ctype(DType t) {
    const DTypeInfo *i = dtype_lookup(t);
    return i ? i->ctype : NULL;
}

bool dtype_is_float(DType t) {
    return t == DT_FLOAT || t == DT_DOUBLE || t == DT_FLOAT16 || t == DT_BFLOAT16;
}

bool dtype_is_integer(DType t) {
    switch (t) {
    case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_INT32:
    case DT_INT64: case DT_UINT32: case DT_UINT64:
        return true;
    default:
        return false;
    }
}

/* The highest number ONNX defines (FLOAT6E3M2, which we cannot hold). */
enum { DTYPE_ONNX_MAX = 28 };

bool dtype_is_valid(int t) { return t > 0 && t <= DTYPE_ONNX_MAX; }

bool dtype_is_lowp_float(DType t) {
    return t == DT_FLOAT8E4M3FN || t == DT_FLOAT8E4M3FNUZ || t == DT_FLOAT8E5M2 ||
           t == DT_FLOAT8E5M2FNUZ || t == DT_FLOAT8E8M0 || t == DT_FLOAT4E2M1;
}

bool dtype_is_lowp_int(DType t) {
    return t == DT_INT4 || t == DT_UINT4 || t == DT_INT2 || t == DT_UINT2;
}

bool dtype_is_lowp(DType t) { return dtype_is_lowp_float(t) || dtype_is_lowp_int(t); }

int dtype_packed_bits(DType t) {
    switch (t) {
    case DT_INT4: case DT_UINT4: case DT_FLOAT4E2M1: return 4;
    case DT_INT2: case DT_UINT2: return 2;
    default: return (int)dtype_size(t) * 8;
    }
}
