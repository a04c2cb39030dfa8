/* onnxcc_gemm_kernel.h: the contract between the GEMM's loop nest (rt_gemm.c) and its
 * micro-kernels (rt_gemm_kernel.c).  Internal to the runtime: generated code does not
 * call it.
 *
 * rt_gemm.c blocks the product and finds, for each tile of the result, where its rows of
 * A and its sliver of B are; onnxcc_gemm_tile multiplies them in registers and applies the
 * epilogue (or the part of it that the K block owns) before the one store of the tile.
 */
#ifndef ONNXCC_ONNXCC_GEMM_KERNEL_H
#define ONNXCC_ONNXCC_GEMM_KERNEL_H

#include "onnxcc_gemm.h"

/* Which part of the epilogue a K block applies: the first block adds the bias and the
 * residual to alpha * A x B, later ones add alpha * A x B to the partial sums in C, and
 * the last one applies the activation.  A product with one K block is both. */
enum { ONNXCC_GEMM_FIRST = 1, ONNXCC_GEMM_LAST = 2 };

/* The result of the whole product: C and its epilogue, whose operands are indexed by the
 * result's (row, column).  A transposed C (onnxcc_f32_gemm_pab_ct) holds result (i, j) at
 * c[j * ldc + i]; between K blocks its tiles keep their partial sums in their own part of
 * C in another order (rt_gemm_kernel.c, "transposed tiles"). */
typedef struct OnnxccGemmOut {
    float *c;
    ptrdiff_t ldc;                  /* floats between rows of C (columns if transposed) */
    int transposed;                 /* C stored transposed */
    float alpha;
    const OnnxccEpilogue *ep;       /* NULL: no epilogue */
    int block;                      /* ONNXCC_GEMM_FIRST | ONNXCC_GEMM_LAST */
} OnnxccGemmOut;

/* C[i0 .. i0+mr)[j0 .. j0+nr) = the K block's part of the epilogue over
 * alpha * A x B, mr <= ONNXCC_GEMM_MR, nr <= ONNXCC_GEMM_NR.  Row r of A is
 * a[r][k * a_cs] for k < kc (rows r >= mr are computed but not stored: they must point
 * at readable data, e.g. a copy of row mr - 1).  B(k, j) is b[k * ldb + j] for all
 * ONNXCC_GEMM_NR columns (zeros, or anything finite, past nr).  kc = 0 reads neither.
 * b_next (NULL: none) is the next sliver of B, laid out as b: its rows are prefetched
 * into L2 as the tile's k advances, so that a B streamed from memory (a convolution's
 * weights as B, onnxcc_f32_gemm_pab_ct) is there when its first tile starts. */
void onnxcc_gemm_tile(size_t mr, size_t nr, size_t kc, const float *const a[ONNXCC_GEMM_MR],
                      ptrdiff_t a_cs, const float *b, size_t ldb, const float *b_next,
                      size_t i0, size_t j0, const OnnxccGemmOut *out);

#endif
