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
 * of C's (i, j)).  K = 0 gives epilogue(0).  Packs B on the stack: 24 KiB, 48 KiB with
 * AVX-512. */
void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool);

/* Columns of the GEMM micro-kernel of this build, i.e. the width of a packed B panel:
 * two vectors of the widest registers the target has (chosen by -march when the runtime
 * is compiled with the generated code).  ONNXCC_GEMM_NR_MAX bounds it for the compiler,
 * which sizes scratch buffers before the target is known. */
#if defined(__AVX512F__)
#define ONNXCC_GEMM_NR 32
#else
#define ONNXCC_GEMM_NR 16
#endif
/* Rows of the micro-kernel: with AVX-512 8 x 32 (16 accumulators of the 32 registers; 8
 * divides the channel counts of CNNs, so no rows are wasted on ragged tiles), otherwise
 * 6 x 16 (12 of the 16 registers of AVX2 or NEON). */
#if defined(__AVX512F__)
#define ONNXCC_GEMM_MR 8
#else
#define ONNXCC_GEMM_MR 6
#endif
/* Depth of a K block (B panels of KC x NR floats stay in L1). */
#define ONNXCC_GEMM_KC 384
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

#endif
