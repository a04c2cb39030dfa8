/* onnxcc_simd.h: the runtime kernels' vector primitives, one set per ISA (internal).
 *
 * V holds VL floats of the ISA that onnxcc_gemm.h picks from the -march macros (AVX-512,
 * AVX2+FMA, NEON, or GCC/clang vector extensions for the portable build).  Kernels are
 * written once over these primitives; each primitive is an always-inline wrapper of one
 * intrinsic.  Not part of the generated code's API: only runtime sources include it.
 */
#ifndef ONNXCC_SIMD_H
#define ONNXCC_SIMD_H

#include <string.h>

#include "onnxcc_gemm.h"

#define ONNXCC_INLINE static inline __attribute__((always_inline))

/* ---- vector primitives, one set per ISA ---------------------------------------------
 * V holds VL floats; v_fma(a, b, c) = a * b + c; v_gt_sel(x, y, t, f) = x > y ? t : f and
 * v_ge_sel the same with >=, lane by lane (false for NaN, as the scalar compares). */
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
#else
/* GCC/clang vector extensions: the compiler picks the instructions (SSE2 on a plain
 * x86-64, whatever another target has). */
typedef float V __attribute__((vector_size(16)));
typedef int VI __attribute__((vector_size(16)));
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
#endif

#endif
