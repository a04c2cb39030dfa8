/* onnxcc_gemm.h: the single-precision GEMM every matrix product goes through
 * (runtime/src/rt_gemm.c).
 */
#ifndef ONNXCC_ONNXCC_GEMM_H
#define ONNXCC_ONNXCC_GEMM_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* C[M][N] (row stride ldc) = epilogue(alpha * A x B), A element (i, k) at
 * a[i * a_rs + k * a_cs], B element (k, j) at b[k * b_rs + j * b_cs].  C must not alias
 * A or B (it may alias the residual exactly, i.e. residual element (i, j) at the address
 * of C's (i, j)).  K = 0 gives epilogue(0).  Packs B on the stack, KC x NR floats per
 * task (32 KiB with AVX-512). */
void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool);

/* The micro-kernel of this build, chosen by the predefined macros of the -march the
 * runtime is compiled with (never by probing the host): ONNXCC_GEMM_ISA_AVX512 (8 x 32
 * tiles: 16 of the 32 zmm registers accumulate), _AVX2 (AVX2 + FMA, 6 x 16: 12 of the 16
 * ymm), _NEON (AArch64, 6 x 16: 24 of the 32 q registers), or _PORTABLE (GCC vector
 * extensions of 4 floats, 6 x 8), which -DONNXCC_PORTABLE forces.  8 rows divide the
 * channel counts of CNNs; 6 rows are what 16 registers leave room for. */
#if defined(ONNXCC_PORTABLE)
#define ONNXCC_GEMM_ISA_PORTABLE 1
#elif defined(__AVX512F__)
#define ONNXCC_GEMM_ISA_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#define ONNXCC_GEMM_ISA_AVX2 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define ONNXCC_GEMM_ISA_NEON 1
#else
#define ONNXCC_GEMM_ISA_PORTABLE 1
#endif

/* Rows (MR) and columns (NR) of the micro-kernel's tile; NR is also the width of the
 * panels onnxcc_f32_gemm_packed_b reads.  ONNXCC_GEMM_NR_MAX bounds NR for the compiler,
 * which sizes scratch buffers before the target is known. */
#if defined(ONNXCC_GEMM_ISA_AVX512)
#define ONNXCC_GEMM_MR 8
#define ONNXCC_GEMM_NR 32
#elif defined(ONNXCC_GEMM_ISA_PORTABLE)
#define ONNXCC_GEMM_MR 6
#define ONNXCC_GEMM_NR 8
#else
#define ONNXCC_GEMM_MR 6
#define ONNXCC_GEMM_NR 16
#endif
/* Depth of a K block: a B sliver of KC x NR floats (32 KiB with AVX-512) stays in the
 * 48 KiB L1 beside the A micro-panel streaming through it. */
#define ONNXCC_GEMM_KC 256
#define ONNXCC_GEMM_NR_MAX 32

/* The same product with B already packed: ceil(N / ONNXCC_GEMM_NR) panels, panel j at
 * bp + j * K * ONNXCC_GEMM_NR holding B(k, j * NR + t) at [k * NR + t], zero past N. */
void onnxcc_f32_gemm_packed_b(size_t M, size_t N, size_t K, float alpha, const float *a,
                              ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                              ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool);

/* ---- operands packed at compile time ----------------------------------------------
 * onnxcc writes constant weights in these layouts when it compiles a model.  They are the
 * same on every target (the generated C may be built with any -march): each ISA's
 * micro-kernel reads them as they are. */
#define ONNXCC_PACK_MR 8    /* rows of a packed-A panel */
#define ONNXCC_PACK_NR 32   /* columns of a packed-B panel */

/* Packed A (M x K, the left operand; a convolution's weights): ceil(M / 8) panels of
 * K x 8 floats, A(i, k) at [(i / 8) * K * 8 + k * 8 + i % 8]; rows past M are zero. */
static inline size_t onnxcc_packed_a_floats(size_t M, size_t K) {
    return (M + ONNXCC_PACK_MR - 1) / ONNXCC_PACK_MR * ONNXCC_PACK_MR * K;
}
static inline size_t onnxcc_packed_a_index(size_t K, size_t i, size_t k) {
    return i / ONNXCC_PACK_MR * K * ONNXCC_PACK_MR + k * ONNXCC_PACK_MR + i % ONNXCC_PACK_MR;
}
/* Packed B (K x N, the right operand; a Gemm's or MatMul's weights): ceil(N / 32) panels
 * of K x 32 floats, B(k, j) at [(j / 32) * K * 32 + k * 32 + j % 32]; columns past N are
 * zero. */
static inline size_t onnxcc_packed_b_floats(size_t K, size_t N) {
    return (N + ONNXCC_PACK_NR - 1) / ONNXCC_PACK_NR * ONNXCC_PACK_NR * K;
}
static inline size_t onnxcc_packed_b_index(size_t K, size_t k, size_t j) {
    return j / ONNXCC_PACK_NR * K * ONNXCC_PACK_NR + k * ONNXCC_PACK_NR + j % ONNXCC_PACK_NR;
}

/* onnxcc_f32_gemm with A packed (ap, onnxcc_packed_a_index). */
void onnxcc_f32_gemm_pa(size_t M, size_t N, size_t K, float alpha, const float *ap,
                        const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool);
/* onnxcc_f32_gemm with B packed (bp, onnxcc_packed_b_index). */
void onnxcc_f32_gemm_pb(size_t M, size_t N, size_t K, float alpha, const float *a,
                        ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool);

/* Both packed: A as onnxcc_packed_a_index, B as onnxcc_packed_b_index (the convolutions
 * pack their B panels at run time in this layout). */
void onnxcc_f32_gemm_pab(size_t M, size_t N, size_t K, float alpha, const float *ap,
                         const float *bp, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                         OnnxccPool *pool);

/* onnxcc_f32_gemm_pab with C stored transposed: result (i, j) goes to c[j * ldc + i]
 * (ldc >= M).  The epilogue's operands keep their (i, j) indexing: a bias per column j
 * is {ptr, 0, 1}, and a residual laid out like C is {ptr, 1, ldc}, which may alias c
 * exactly.  For convolutions on small planes (onnxcc_conv_small.h): rows are output
 * pixels, columns output channels, and C is the NCHW output. */
void onnxcc_f32_gemm_pab_ct(size_t M, size_t N, size_t K, float alpha, const float *ap,
                            const float *bp, float *c, ptrdiff_t ldc,
                            const OnnxccEpilogue *ep, OnnxccPool *pool);

#endif
