/* onnxcc_simd.h: the runtime kernels' vector primitives, one set per ISA (internal).
 *
 * V holds VL floats of the ISA that onnxcc_gemm.h picks from the -march macros (AVX-512,
 * AVX2+FMA, NEON, or GCC/clang vector extensions for the portable build).  Kernels are
 * written once over these primitives; each primitive is an always-inline wrapper of one
 * intrinsic.  Not part of the generated code's API: only runtime sources include it.
 */
#ifndef ONNXCC_SIMD_H
#define ONNXCC_SIMD_H

#include <stdint.h>
#include <string.h>

#include "onnxcc_gemm.h"

#define ONNXCC_INLINE static inline __attribute__((always_inline))

/* ---- vector primitives, one set per ISA ---------------------------------------------
 * V holds VL floats; v_fma(a, b, c) = a * b + c; v_gt_sel(x, y, t, f) = x > y ? t : f and
 * v_ge_sel the same with >=, lane by lane (false for NaN, as the scalar compares);
 * v_min(a, b) = a < b ? a : b and v_max(a, b) = a > b ? a : b (b if either is NaN, as
 * x86's minps/maxps); v_neg_abs(x) = -|x| (the sign bit set); v_ldexp(y, n) = y * 2^n
 * for integral n in [-150, 128] (AVX-512's scalef; elsewhere two normal powers of two,
 * 2^(n/2) and 2^(n - n/2), so that results reach the denormals and overflow to inf; NaN
 * in y gives NaN); v_recip(d) = 1 / d within an ulp, for finite d >= 1. */
#if defined(ONNXCC_GEMM_ISA_AVX512)
#include <immintrin.h>
typedef __m512 V;
enum { VL = 16 };
/* clang splits 512-bit vectors in two unless a function asks for them. */
#if defined(__clang__)
#define ONNXCC_WIDE __attribute__((min_vector_width(512)))
#else
#define ONNXCC_WIDE
#endif
ONNXCC_INLINE V v_load(const float *p) { return _mm512_loadu_ps(p); }
ONNXCC_INLINE void v_store(float *p, V v) { _mm512_storeu_ps(p, v); }
ONNXCC_INLINE V v_set1(float x) { return _mm512_set1_ps(x); }
ONNXCC_INLINE V v_zero(void) { return _mm512_setzero_ps(); }
ONNXCC_INLINE V v_fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
ONNXCC_INLINE V v_add(V a, V b) { return _mm512_add_ps(a, b); }
ONNXCC_INLINE V v_mul(V a, V b) { return _mm512_mul_ps(a, b); }
ONNXCC_INLINE V v_gt_sel(V x, V y, V t, V f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_GT_OQ), f, t);
}
ONNXCC_INLINE V v_ge_sel(V x, V y, V t, V f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_GE_OQ), f, t);
}
/* The high half of a 512-bit vector (AVX512F alone: no extractf32x8). */
ONNXCC_INLINE __m256 v_high256(V v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
ONNXCC_INLINE V v_sub(V a, V b) { return _mm512_sub_ps(a, b); }
ONNXCC_INLINE V v_min(V a, V b) { return _mm512_min_ps(a, b); }
ONNXCC_INLINE V v_max(V a, V b) { return _mm512_max_ps(a, b); }
ONNXCC_INLINE V v_neg_abs(V x) {
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}
ONNXCC_INLINE V v_ldexp(V y, V n) { return _mm512_scalef_ps(y, n); }
/* 1 / d from the 14-bit estimate and one Newton step, r + r * (1 - d * r): the error
 * squares to below 2^-28, under one ulp after rounding (a vdivps costs about five
 * times as much).  For finite d >= 1 only (v_sigmoid's denominators). */
ONNXCC_INLINE V v_recip(V d) {
    V r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}
#elif defined(ONNXCC_GEMM_ISA_AVX2)
#include <immintrin.h>
typedef __m256 V;
enum { VL = 8 };
#define ONNXCC_WIDE
ONNXCC_INLINE V v_load(const float *p) { return _mm256_loadu_ps(p); }
ONNXCC_INLINE void v_store(float *p, V v) { _mm256_storeu_ps(p, v); }
ONNXCC_INLINE V v_set1(float x) { return _mm256_set1_ps(x); }
ONNXCC_INLINE V v_zero(void) { return _mm256_setzero_ps(); }
ONNXCC_INLINE V v_fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
ONNXCC_INLINE V v_add(V a, V b) { return _mm256_add_ps(a, b); }
ONNXCC_INLINE V v_mul(V a, V b) { return _mm256_mul_ps(a, b); }
ONNXCC_INLINE V v_gt_sel(V x, V y, V t, V f) {
    return _mm256_blendv_ps(f, t, _mm256_cmp_ps(x, y, _CMP_GT_OQ));
}
ONNXCC_INLINE V v_ge_sel(V x, V y, V t, V f) {
    return _mm256_blendv_ps(f, t, _mm256_cmp_ps(x, y, _CMP_GE_OQ));
}
ONNXCC_INLINE V v_sub(V a, V b) { return _mm256_sub_ps(a, b); }
ONNXCC_INLINE V v_min(V a, V b) { return _mm256_min_ps(a, b); }
ONNXCC_INLINE V v_max(V a, V b) { return _mm256_max_ps(a, b); }
ONNXCC_INLINE V v_neg_abs(V x) {
    return _mm256_or_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
}
ONNXCC_INLINE V v_ldexp(V y, V n) {
    const __m256i ni = _mm256_cvtps_epi32(n), bias = _mm256_set1_epi32(127);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    V s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}
/* The 12-bit estimate would need two Newton steps: a division is as cheap here. */
ONNXCC_INLINE V v_recip(V d) { return _mm256_div_ps(_mm256_set1_ps(1.0f), d); }
#elif defined(ONNXCC_GEMM_ISA_NEON)
#include <arm_neon.h>
typedef float32x4_t V;
enum { VL = 4 };
#define ONNXCC_WIDE
ONNXCC_INLINE V v_load(const float *p) { return vld1q_f32(p); }
ONNXCC_INLINE void v_store(float *p, V v) { vst1q_f32(p, v); }
ONNXCC_INLINE V v_set1(float x) { return vdupq_n_f32(x); }
ONNXCC_INLINE V v_zero(void) { return vdupq_n_f32(0.0f); }
ONNXCC_INLINE V v_fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
ONNXCC_INLINE V v_add(V a, V b) { return vaddq_f32(a, b); }
ONNXCC_INLINE V v_mul(V a, V b) { return vmulq_f32(a, b); }
ONNXCC_INLINE V v_gt_sel(V x, V y, V t, V f) { return vbslq_f32(vcgtq_f32(x, y), t, f); }
ONNXCC_INLINE V v_ge_sel(V x, V y, V t, V f) { return vbslq_f32(vcgeq_f32(x, y), t, f); }
ONNXCC_INLINE V v_sub(V a, V b) { return vsubq_f32(a, b); }
/* Not vminq/vmaxq, which return NaN for a NaN in either operand. */
ONNXCC_INLINE V v_min(V a, V b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
ONNXCC_INLINE V v_max(V a, V b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
ONNXCC_INLINE V v_neg_abs(V x) { return vnegq_f32(vabsq_f32(x)); }
ONNXCC_INLINE V v_ldexp(V y, V n) {
    const int32x4_t ni = vcvtq_s32_f32(n), n1 = vshrq_n_s32(ni, 1), bias = vdupq_n_s32(127);
    V s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    V s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, n1), bias), 23));
    return vmulq_f32(vmulq_f32(y, s1), s2);
}
/* The 8-bit estimate would need two Newton steps: AArch64 divides in one instruction. */
ONNXCC_INLINE V v_recip(V d) { return vdivq_f32(vdupq_n_f32(1.0f), d); }
#else
/* GCC/clang vector extensions: the compiler picks the instructions (SSE2 on a plain
 * x86-64, whatever another target has). */
typedef float V __attribute__((vector_size(16)));
typedef int VI __attribute__((vector_size(16)));
typedef unsigned VU __attribute__((vector_size(16)));     /* wraps, unlike VI */
enum { VL = 4 };
#define ONNXCC_WIDE
ONNXCC_INLINE V v_load(const float *p) {
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}
ONNXCC_INLINE void v_store(float *p, V v) { memcpy(p, &v, sizeof v); }
ONNXCC_INLINE V v_set1(float x) { return (V){x, x, x, x}; }
ONNXCC_INLINE V v_zero(void) { return (V){0.0f, 0.0f, 0.0f, 0.0f}; }
ONNXCC_INLINE V v_fma(V a, V b, V c) { return a * b + c; }
ONNXCC_INLINE V v_add(V a, V b) { return a + b; }
ONNXCC_INLINE V v_mul(V a, V b) { return a * b; }
/* A vector compare gives lanes of all ones (true) or zeros: a bitwise select. */
ONNXCC_INLINE V v_sel(VI m, V t, V f) { return (V)((m & (VI)t) | (~m & (VI)f)); }
ONNXCC_INLINE V v_gt_sel(V x, V y, V t, V f) { return v_sel(x > y, t, f); }
ONNXCC_INLINE V v_ge_sel(V x, V y, V t, V f) { return v_sel(x >= y, t, f); }
ONNXCC_INLINE V v_sub(V a, V b) { return a - b; }
ONNXCC_INLINE V v_min(V a, V b) { return v_sel(a < b, a, b); }
ONNXCC_INLINE V v_max(V a, V b) { return v_sel(a > b, a, b); }
ONNXCC_INLINE V v_neg_abs(V x) { return (V)((VU)x | 0x80000000u); }
/* n as an integer from the bits of n + 1.5 * 2^23, which holds it in its low bits: no
 * float to int conversion, whose out-of-range (NaN) case C leaves undefined. */
ONNXCC_INLINE V v_ldexp(V y, V n) {
    const V magic = v_set1(12582912.0f);
    const VI ni = (VI)((VU)(n + magic) - (VU)magic), n1 = ni >> 1;
    V s1 = (V)((VU)(n1 + 127) << 23), s2 = (V)((VU)(ni - n1 + 127) << 23);
    return y * s1 * s2;
}
ONNXCC_INLINE V v_recip(V d) { return v_set1(1.0f) / d; }
#endif

/* Part of a vector: the first n (0 <= n <= VL) floats at p with zeros after them, the
 * lanes past n not read; the first n lanes of v stored at p, nothing past them written
 * (masked loads and stores with AVX-512, a buffer elsewhere). */
ONNXCC_INLINE V v_load_part(const float *p, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#else
    if (n == VL) return v_load(p);
    float tmp[VL] = {0};
    memcpy(tmp, p, n * sizeof(float));
    return v_load(tmp);
#endif
}
ONNXCC_INLINE void v_store_part(float *p, V v, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), v);
#else
    if (n == VL) {
        v_store(p, v);
        return;
    }
    float tmp[VL];
    v_store(tmp, v);
    memcpy(p, tmp, n * sizeof(float));
#endif
}

/* ---- vector math: the transcendental activations --------------------------------------
 * The onnxcc_act.h functions over V, for the kernels' epilogues and for onnxcc_f32_act
 * (rt_eltwise.c): the same formulas (but Tanh's, see v_tanh) and the same special values
 * (+-inf, NaN in, NaN out), the error of each measured against double precision by
 * tests/unit/test_vmath.c on every ISA above (at most 3 ulp; 1 more than the scalar
 * function at any x).  They need not give the scalar functions' bits (v_recip is an
 * estimate and a Newton step with AVX-512, the polynomial is evaluated in another order,
 * denormal results are kept), so a kernel's activation may differ from onnxcc_act.h's
 * (the constant folder's) in the last bit or two. */

/* e^x for x already clamped to [-104, 89] (or NaN): e^x = 2^n * e^r, n = round(x / ln 2)
 * by adding 1.5 * 2^23 (which rounds to an integer), r = x - n ln 2 with ln 2 in two
 * parts (exact), e^r = 1 + r (1 + r p(r)) with onnxcc_expf's (Cephes') polynomial; then
 * v_ldexp, which overflows to +inf above 88.72 and gives denormals below -87.3 (0 below
 * -103.97).  NaN goes through every operation.  Relative error about 1e-7 (test_vmath.c). */
ONNXCC_INLINE V v_exp_clamped(V xc) {
    const V magic = v_set1(12582912.0f), one = v_set1(1.0f);
    const V fn = v_sub(v_fma(xc, v_set1(1.44269504088896341f), magic), magic);
    V r = v_fma(fn, v_set1(-0.693359375f), xc);
    r = v_fma(fn, v_set1(2.12194440e-4f), r);
    V p = v_fma(v_set1(1.9875691500e-4f), r, v_set1(1.3981999507e-3f));
    p = v_fma(p, r, v_set1(8.3334519073e-3f));
    p = v_fma(p, r, v_set1(4.1665795894e-2f));
    p = v_fma(p, r, v_set1(1.6666665459e-1f));
    p = v_fma(p, r, v_set1(5.0000001201e-1f));
    p = v_fma(v_fma(p, r, one), r, one);
    return v_ldexp(p, fn);
}

/* The lowest argument v_exp_clamped takes: e^-104 is below half the smallest denormal. */
#define ONNXCC_EXP_LO -104.0f

/* e^x (onnxcc_expf, without its flush of results below 2.4e-38 to 0).  The clamps keep n
 * and r in range; the operand order of v_min and v_max lets NaN through. */
ONNXCC_INLINE V v_exp(V x) {
    return v_exp_clamped(v_min(v_set1(89.0f), v_max(v_set1(ONNXCC_EXP_LO), x)));
}

/* sigmoid(x) = 1 / (1 + e^-x), from e = e^-|x| in [0, 1]: r = 1 / (1 + e) is sigmoid(|x|)
 * and e * r is sigmoid(-|x|).  The denominator stays in [1, 2], where v_recip is exact
 * to an ulp and nothing overflows.  NaN: x >= 0 is false and e * r is NaN. */
ONNXCC_INLINE V v_sigmoid(V x) {
    const V e = v_exp_clamped(v_max(v_set1(ONNXCC_EXP_LO), v_neg_abs(x)));
    const V r = v_recip(v_add(v_set1(1.0f), e));
    return v_ge_sel(x, v_zero(), r, v_mul(e, r));
}

/* SiLU (swish): x * sigmoid(x), as onnxcc_silu (-inf gives NaN there too: -inf * 0). */
ONNXCC_INLINE V v_silu(V x) { return v_mul(x, v_sigmoid(x)); }

/* Elu: x >= 0 ? x : alpha * (e^x - 1), as onnxcc_elu (NaN: alpha * (NaN - 1)). */
ONNXCC_INLINE V v_elu(V x, V alpha) {
    return v_ge_sel(x, v_zero(), x, v_mul(alpha, v_sub(v_exp(x), v_set1(1.0f))));
}

/* tanh(x), two ways by |x| (at most 1.4 ulp: every float of [0, 9.2] checked against
 * double precision on AVX-512, AVX2 and the portable build; test_vmath.c sweeps it):
 *  - |x| < 0.625: x (1 + x^2 p(x^2)), p of degree 4 with Cephes' tanhf coefficients
 *    (1.2 ulp).  Odd, and a product with x, so that -0 stays -0 (x + x^3 p would give
 *    +0: -0 + +0) and tiny or denormal x give x itself: full relative accuracy near 0,
 *    where the form below would subtract nearly equal numbers;
 *  - above: tanh(|x|) = 1 - 2e / (1 + e) with e = e^(-2|x|) in [0, 0.29], one FMA after
 *    v_recip (its denominator is in [1, 1.29]), so e's error reaches the result damped
 *    (2e / (1 + e) <= 0.45 of it, against tanh >= 0.55); the sign of x is put back by a
 *    select (x is not 0 here).  -2|x| is clamped at ONNXCC_EXP_LO: above |x| = 9.01 the
 *    result rounds to 1 anyway, and +-inf give +-1 (no inf - inf).
 * NaN: the compare with -0.625 is false and e is NaN, so the second form gives NaN. */
ONNXCC_INLINE V v_tanh(V x) {
    const V one = v_set1(1.0f), zero = v_zero();
    const V m = v_neg_abs(x);                                   /* -|x| */
    const V e = v_exp_clamped(v_max(v_set1(ONNXCC_EXP_LO), v_add(m, m)));
    const V t = v_fma(v_mul(v_set1(-2.0f), e), v_recip(v_add(one, e)), one);  /* tanh|x| */
    const V big = v_gt_sel(x, zero, t, v_sub(zero, t));
    const V z = v_mul(x, x);
    V p = v_fma(v_set1(-5.70498872745e-3f), z, v_set1(2.06390887954e-2f));
    p = v_fma(p, z, v_set1(-5.37397155531e-2f));
    p = v_fma(p, z, v_set1(1.33314422036e-1f));
    p = v_fma(p, z, v_set1(-3.33332819422e-1f));
    const V small = v_mul(x, v_fma(z, p, one));
    return v_gt_sel(m, v_set1(-0.625f), small, big);
}

/* The piecewise-linear activations of onnxcc_act.h (ONNXCC_ACT_*) on a vector, with
 * their alpha and beta (PRelu: slope), NaN included: v_max(x, 0) is x > 0 ? x : 0 and
 * v_min(hi, v_max(lo, x)) is onnxcc_clip.  Any other code: x as it is. */
ONNXCC_INLINE V v_act_linear(V x, int act, float alpha, float beta, float slope) {
    const V zero = v_zero(), one = v_set1(1.0f);
    switch (act) {
    case ONNXCC_ACT_RELU: return v_max(x, zero);
    case ONNXCC_ACT_LEAKY_RELU: return v_ge_sel(x, zero, x, v_mul(v_set1(alpha), x));
    case ONNXCC_ACT_PRELU: return v_ge_sel(x, zero, x, v_mul(v_set1(slope), x));
    case ONNXCC_ACT_CLIP: return v_min(v_set1(beta), v_max(v_set1(alpha), x));
    case ONNXCC_ACT_HARD_SIGMOID:
        return v_min(one, v_max(zero, v_fma(v_set1(alpha), x, v_set1(beta))));
    case ONNXCC_ACT_HARD_SWISH:
        return v_mul(x, v_min(one, v_max(zero, v_fma(v_set1(1.0f / 6.0f), x, v_set1(0.5f)))));
    default: return x;
    }
}

/* Activation `act` on a vector: v_act_linear's, Sigmoid, Tanh, SiLU and Elu. */
ONNXCC_INLINE V v_act(V x, int act, float alpha, float beta, float slope) {
    switch (act) {
    case ONNXCC_ACT_SIGMOID: return v_sigmoid(x);
    case ONNXCC_ACT_TANH: return v_tanh(x);
    case ONNXCC_ACT_SILU: return v_silu(x);
    case ONNXCC_ACT_ELU: return v_elu(x, v_set1(alpha));
    default: return v_act_linear(x, act, alpha, beta, slope);
    }
}

#endif
