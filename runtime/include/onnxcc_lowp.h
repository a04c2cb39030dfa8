/* onnxcc_lowp.h: conversions between the ONNX low-precision element types and
 * float/double, shared by the compiler (constant folding) and the generated code.
 *
 * Why one header of static inline functions: a value folded at compile time and the same
 * value computed by the generated code must agree bit for bit, so both include this file
 * rather than keeping two copies of the rounding rules.  Nothing here touches libm or
 * global state; every function is total (any input bits, any double) and free of
 * undefined behaviour.
 *
 * In memory each element takes one byte (ONNX's packed files are unpacked by the
 * frontend):
 *   float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz, float8e8m0, float4e2m1:
 *       the bit pattern in a uint8_t (float4e2m1 in the low 4 bits);
 *   int4, int2: the value in an int8_t (sign-extended);  uint4, uint2: the value in a uint8_t.
 * The `type` arguments are ONNX's TensorProto.DataType numbers (ONNXCC_LOWP_*); they are
 * compile-time constants in generated code, so each call reduces to one format's code.
 *
 * Rounding (the rules of ONNX's Cast, opset 19 and later):
 *   float8 / float4: round to nearest, ties to even.  With saturate, values beyond the
 *     largest finite magnitude (infinities included) become +-max, NaN stays NaN.  Without
 *     saturate: float8e5m2 gives +-Inf, float8e4m3fn gives NaN (sign kept), the fnuz
 *     types give their single NaN (0x80).  The fnuz types have no -0 (it becomes +0).
 *     float4e2m1 has no Inf or NaN: it always saturates, and NaN becomes a zero whose
 *     sign bit is the NaN's inverted (0x8 for +NaN, 0x0 for -NaN): ml_dtypes' behaviour,
 *     which ONNX's reference and test data follow.
 *   float8e8m0 (a power of two 2^(e-127), 0xff = NaN, no sign and no zero): the float's
 *     exponent, rounded as round_mode says (ONNXCC_ROUND_UP: any fraction rounds up,
 *     the default; DOWN: truncate; NEAREST: ties round up); saturate keeps 0xfe instead of
 *     rounding into 0xff; NaN and Inf give 0xff; the sign is ignored.
 *   int4 / uint4 / int2 / uint2 from a float: truncated toward zero, then wrapped to the
 *     type's width (two's complement); NaN and |x| >= 2^63 (Inf included) give 0.
 */
#ifndef ONNXCC_LOWP_H
#define ONNXCC_LOWP_H

#include <stdint.h>
#include <string.h>

/* ONNX TensorProto.DataType numbers of the types handled here. */
enum {
    ONNXCC_LOWP_F8E4M3FN = 17,
    ONNXCC_LOWP_F8E4M3FNUZ = 18,
    ONNXCC_LOWP_F8E5M2 = 19,
    ONNXCC_LOWP_F8E5M2FNUZ = 20,
    ONNXCC_LOWP_UINT4 = 21,
    ONNXCC_LOWP_INT4 = 22,
    ONNXCC_LOWP_F4E2M1 = 23,
    ONNXCC_LOWP_F8E8M0 = 24,
    ONNXCC_LOWP_UINT2 = 25,
    ONNXCC_LOWP_INT2 = 26,
};

/* ---- float16 and bfloat16 (held as uint16_t bits) ------------------------------------ *
 * float16 -> float and bfloat16 -> float are exact; float -> float16 / bfloat16 round to
 * nearest even, overflow to Inf, keep NaN a (quiet) NaN with its sign. */

static inline float onnxcc_bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t onnxcc_float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float onnxcc_f16_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) {   /* zero or subnormal: man * 2^-24 */
        const float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return onnxcc_bits_float(sign | (exp == 0x1f ? 0x7f800000u : (exp + 112) << 23) |
                             (man << 13));
}

static inline uint16_t onnxcc_float_to_f16(float f) {
    const uint32_t u = onnxcc_float_bits(f), a = u & 0x7fffffffu;
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);             /* rounds to Inf */
    if (a >= 0x38800000u)                                                /* normal: nearest even */
        return (uint16_t)(sign | ((a + 0xfffu + ((a >> 13) & 1) - 0x38000000u) >> 13));
    if (a <= 0x33000000u) return sign;              /* |f| <= 2^-25 rounds to (even) zero */
    /* subnormal half: |f| / 2^-24 rounded to nearest even, from the float's bits */
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u, shift = 126u - (a >> 23);
    const uint32_t half = 1u << (shift - 1), rem = mant & ((1u << shift) - 1);
    uint32_t r = mant >> shift;
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static inline float onnxcc_bf16_to_float(uint16_t h) {
    return onnxcc_bits_float((uint32_t)h << 16);
}

static inline uint16_t onnxcc_float_to_bf16(float f) {
    const uint32_t u = onnxcc_float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);   /* NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* Cast's round_mode for float8e8m0. */
enum { ONNXCC_ROUND_UP = 0, ONNXCC_ROUND_DOWN = 1, ONNXCC_ROUND_NEAREST = 2 };

/* A minifloat format: 1 sign bit, ebits exponent bits, mbits mantissa bits. */
typedef struct OnnxccMinifloat {
    int ebits, mbits, bias;
    int max_code;       /* largest finite magnitude's bits (without the sign) */
    int fnuz;           /* 1: NaN is the lone pattern sign=1, rest 0; no -0, no Inf */
    int has_inf;        /* 1: IEEE-like Inf and NaN (float8e5m2) */
    int has_nan;        /* 0: no NaN at all (float4e2m1) */
} OnnxccMinifloat;

/* The format of a float8/float4 type (float8e8m0 excepted); float8e4m3fn otherwise. */
static inline OnnxccMinifloat onnxcc_minifloat(int type) {
    OnnxccMinifloat f = { 4, 3, 7, 0x7e, 0, 0, 1 };            /* float8e4m3fn */
    switch (type) {
    case ONNXCC_LOWP_F8E4M3FNUZ: f.bias = 8; f.max_code = 0x7f; f.fnuz = 1; break;
    case ONNXCC_LOWP_F8E5M2: f.ebits = 5; f.mbits = 2; f.bias = 15; f.max_code = 0x7b;
        f.has_inf = 1; break;
    case ONNXCC_LOWP_F8E5M2FNUZ: f.ebits = 5; f.mbits = 2; f.bias = 16; f.max_code = 0x7f;
        f.fnuz = 1; break;
    case ONNXCC_LOWP_F4E2M1: f.ebits = 2; f.mbits = 1; f.bias = 1; f.max_code = 0x7;
        f.has_nan = 0; break;
    default: break;
    }
    return f;
}

static inline float onnxcc_lowp_bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- to float (exact: every value of these types is a float) -------------------------- */

static inline float onnxcc_e8m0_to_float(uint8_t b) {
    if (b == 0xff) return onnxcc_lowp_bits_to_float(0x7fc00000u);
    /* 2^(b-127); b = 0 is the float subnormal 2^-127 */
    return onnxcc_lowp_bits_to_float(b ? (uint32_t)b << 23 : 0x00400000u);
}

/* Value of the bits b of a float8/float4 type (float8e8m0 included). */
static inline float onnxcc_lowp_to_float(int type, uint8_t b) {
    if (type == ONNXCC_LOWP_F8E8M0) return onnxcc_e8m0_to_float(b);
    const OnnxccMinifloat f = onnxcc_minifloat(type);
    const int width = 1 + f.ebits + f.mbits;
    const uint32_t sign_bit = 1u << (width - 1), code = b & (sign_bit - 1);
    const uint32_t sign = (b & sign_bit) ? 0x80000000u : 0;
    const uint32_t emax_field = (1u << f.ebits) - 1, man_mask = (1u << f.mbits) - 1;
    if (f.fnuz && (b & ((sign_bit << 1) - 1)) == sign_bit)
        return onnxcc_lowp_bits_to_float(0x7fc00000u);                  /* the NaN */
    if (!f.fnuz && f.has_nan && !f.has_inf && code == (sign_bit - 1))
        return onnxcc_lowp_bits_to_float(sign | 0x7fc00000u);           /* e4m3fn NaN */
    if (f.has_inf && (code >> f.mbits) == emax_field)
        return onnxcc_lowp_bits_to_float(sign | 0x7f800000u |
                                          ((code & man_mask) ? 0x400000u : 0));
    int e = (int)(code >> f.mbits);
    uint32_t m = code & man_mask;
    if (e == 0) {
        if (m == 0) return onnxcc_lowp_bits_to_float(sign);              /* +-0 */
        e = 1;                        /* subnormal: normalise, all are normal floats */
        while (!(m & (1u << f.mbits))) {
            m <<= 1;
            e--;
        }
        m &= man_mask;
    }
    const uint32_t fexp = (uint32_t)(e - f.bias + 127);
    return onnxcc_lowp_bits_to_float(sign | fexp << 23 | m << (23 - f.mbits));
}

/* ---- from float ----------------------------------------------------------------------- */

static inline uint8_t onnxcc_e8m0_from_float(float x, int saturate, int round_mode) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t e = (u >> 23) & 0xff;
    if (e == 0xff) return 0xff;                                        /* NaN, Inf */
    int up = 0;
    if (round_mode == ONNXCC_ROUND_UP) {
        up = (u & 0x7fffffu) != 0;
    } else if (round_mode == ONNXCC_ROUND_NEAREST) {
        /* guard bit set and (round or sticky bits, or a normal number: ties round up) */
        up = (u & 0x400000u) && ((u & 0x200000u) || (u & 0x1fffffu) || e > 0);
    }
    if (up && saturate && e == 0xfe) up = 0;
    return (uint8_t)(e + (uint32_t)up);                                /* 0xfe + 1: NaN */
}

/* Bits of the float8/float4 type nearest to x (see the top of the file for the rules;
 * float8e8m0 rounds up).  The argument is a float: a double is rounded to float first, as
 * ONNX's reference (ml_dtypes) and onnxruntime do, so that Cast from double agrees with
 * them. */
static inline uint8_t onnxcc_lowp_from_float(int type, float xf, int saturate) {
    if (type == ONNXCC_LOWP_F8E8M0) return onnxcc_e8m0_from_float(xf, saturate,
                                                                  ONNXCC_ROUND_UP);
    const OnnxccMinifloat f = onnxcc_minifloat(type);
    const int width = 1 + f.ebits + f.mbits;
    const double x = xf;                        /* exact; the rounding below is on its bits */
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t sign = (u >> 63) ? 1u << (width - 1) : 0;
    const uint64_t a = u & 0x7fffffffffffffffu;
    const uint8_t nan = f.fnuz ? 0x80 : !f.has_nan ? (uint8_t)(sign ^ (1u << (width - 1)))
                      : f.has_inf ? (uint8_t)(sign | 0x7e) : (uint8_t)(sign | 0x7f);
    const uint8_t maxv = (uint8_t)(sign | (uint32_t)f.max_code);
    const uint8_t overflow = saturate || !f.has_nan ? maxv : f.has_inf ? (uint8_t)(sign | 0x7c)
                           : nan;
    if (a > 0x7ff0000000000000u) return nan;
    if (a == 0x7ff0000000000000u) return overflow;
    const uint8_t zero = f.fnuz ? 0 : (uint8_t)sign;
    const int dexp = (int)(a >> 52);
    if (dexp == 0) return zero;                   /* zero (a float is never a subnormal double) */
    const int e = dexp - 1023, emin = 1 - f.bias;
    const int emax = (f.max_code >> f.mbits) - f.bias;
    if (e > emax) return overflow;
    const uint64_t md = (a & 0xfffffffffffffu) | (UINT64_C(1) << 52);
    /* units of the target's quantum at this exponent: md * 2^(e - 52 - qe) */
    const int qe = (e > emin ? e : emin) - f.mbits;
    const int s = 52 + qe - e;                    /* >= 52 - mbits > 0 */
    uint64_t units;
    if (s > 53) {
        units = 0;                                /* below half the smallest step */
    } else {
        const uint64_t half = UINT64_C(1) << (s - 1), rem = md & ((half << 1) - 1);
        units = md >> s;
        if (rem > half || (rem == half && (units & 1))) units++;
    }
    /* exponent field and mantissa in one: a carry out of the mantissa bumps the exponent */
    const int efield_base = (e > emin ? e : emin) + f.bias - 1;
    const uint64_t code = ((uint64_t)efield_base << f.mbits) + units;
    if (code == 0) return zero;
    if (code > (uint64_t)f.max_code) return overflow;
    return (uint8_t)(sign | (uint32_t)code);
}

/* ---- integers ------------------------------------------------------------------------- */

/* The bits of the int4/uint4/int2/uint2 type. */
static inline int onnxcc_lowp_int_bits(int type) {
    return type == ONNXCC_LOWP_INT2 || type == ONNXCC_LOWP_UINT2 ? 2 : 4;
}
static inline int onnxcc_lowp_int_signed(int type) {
    return type == ONNXCC_LOWP_INT4 || type == ONNXCC_LOWP_INT2;
}
/* Range of an int4/uint4/int2/uint2 type: [-8, 7], [0, 15], [-2, 1], [0, 3]. */
static inline int onnxcc_lowp_int_min(int type) {
    return onnxcc_lowp_int_signed(type) ? -(1 << (onnxcc_lowp_int_bits(type) - 1)) : 0;
}
static inline int onnxcc_lowp_int_max(int type) {
    const int b = onnxcc_lowp_int_bits(type);
    return onnxcc_lowp_int_signed(type) ? (1 << (b - 1)) - 1 : (1 << b) - 1;
}

/* v wrapped to the type's width (two's complement), as the value held in memory. */
static inline int onnxcc_lowp_int_wrap(int type, int64_t v) {
    const int b = onnxcc_lowp_int_bits(type);
    const int low = (int)((uint64_t)v & ((UINT64_C(1) << b) - 1));
    return onnxcc_lowp_int_signed(type) && low >= (1 << (b - 1)) ? low - (1 << b) : low;
}

/* x truncated toward zero and wrapped; NaN and |x| >= 2^63 give 0 (every finite double of
 * that size is a multiple of 16, so 0 is also its wrapped value). */
static inline int onnxcc_lowp_int_from_double(int type, double x) {
    const double limit = 9223372036854775808.0;                      /* 2^63 */
    if (!(x < limit && x > -limit)) return 0;
    return onnxcc_lowp_int_wrap(type, (int64_t)x);
}

#endif
