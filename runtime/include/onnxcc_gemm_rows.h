/* onnxcc_gemm_rows.h: the product of a few rows by a packed matrix
 * (runtime/src/rt_gemm_rows.c).
 *
 * The recurrent step of LSTM, GRU and RNN (compiler/ops/rnn.c) multiplies the hidden
 * state of a batch (a few rows) by R^T, packed once per run.  onnxcc_f32_gemm_pb computes
 * whole tiles of ONNXCC_GEMM_MR rows (8 with AVX-512), so 2 rows cost 4 times their
 * work; this kernel computes 2 rows at a time against 2 packed panels (AVX-512; 1
 * elsewhere), enough independent accumulators to keep the FMA units busy.  For more rows
 * (8 and more) the GEMM's tiles are the better choice.  onnxcc_f32_pack_b_t packs the
 * weights it reads, once per run: a transposition, by 16 x 16 blocks in registers with
 * AVX-512 (the GEMM's own packing of a strided B reads a column at a time).
 */
#ifndef ONNXCC_ONNXCC_GEMM_ROWS_H
#define ONNXCC_ONNXCC_GEMM_ROWS_H

#include <stddef.h>

/* C[M][N] (row stride ldc) = A[M][K] (row stride lda) x B, B (K x N) packed as
 * onnxcc_packed_b_index lays it out (onnxcc_gemm.h: panels of ONNXCC_PACK_NR columns),
 * its padding columns finite (zero).  K = 0 gives zeros.  C must not overlap A or B.
 * Single-threaded: it is meant for products of microseconds. */
void onnxcc_f32_gemm_rows_pb(size_t M, size_t N, size_t K, const float *a, ptrdiff_t lda,
                             const float *bp, float *c, ptrdiff_t ldc);

/* bp = W^T in the packed-B layout of onnxcc_gemm.h: B (K x N) with B(k, n) = W[n][k], W
 * stored as N rows of K floats, row stride ldw; ceil(N / ONNXCC_PACK_NR) panels of
 * K x ONNXCC_PACK_NR floats, the columns past N zero.  bp must not overlap W. */
void onnxcc_f32_pack_b_t(size_t N, size_t K, const float *w, ptrdiff_t ldw, float *bp);

#endif
