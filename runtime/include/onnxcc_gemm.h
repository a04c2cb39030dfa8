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

#endif
