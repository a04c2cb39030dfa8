/* rt_gemm_rows.c: C = A x B for a few rows of A and B packed (onnxcc_gemm_rows.h).
 *
 * A pass takes ROWS (2, or 1 for the last odd row) rows of A and PANELS packed panels of
 * B (ONNXCC_PACK_NR columns each): ROWS x PANELS x PV accumulators stay in registers
 * through the whole depth K, each k loading the panels' row once for all the rows.  With
 * AVX-512 that is 2 x 2 x 2 = 8 zmm accumulators, the FMA latency (4) times the FMA ports
 * (2); with 16-register ISAs one panel (2 x 4 ymm).  Columns past N are computed from the
 * panels' padding and not stored.
 *
 * onnxcc_f32_pack_b_t transposes W into those panels: with AVX-512, blocks of 16 rows x
 * 16 columns go through registers (16 loads, 64 shuffles, 16 stores); elsewhere, and
 * for the ragged edges, one element at a time.
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_gemm.h"
#include "onnxcc_gemm_rows.h"
#include "onnxcc_simd.h"

enum {
    PNR = ONNXCC_PACK_NR,            /* columns of a packed panel */
    PV = ONNXCC_PACK_NR / VL,        /* vectors per panel row */
    PB = VL >= 16 ? 2 : 1,           /* panels per pass */
    RB = 2,                          /* rows per pass (pass() names them a0, a1) */
};

/* Stores the first n (< VL) floats of v at p. */
ONNXCC_INLINE ONNXCC_WIDE void store_part(float *p, V v, size_t n) {
    float tmp[VL];
    v_store(tmp, v);
    memcpy(p, tmp, n * sizeof(float));
}

/* One pass: rows a[0 .. ROWS) times panels bp[0 .. PANELS), the first `cols` columns of
 * the result stored.  ROWS and PANELS are constants where it is inlined. */
ONNXCC_INLINE ONNXCC_WIDE void pass(const int ROWS, const int PANELS, size_t K, const float *a,
                                    ptrdiff_t lda, const float *bp, float *c, ptrdiff_t ldc,
                                    size_t cols) {
    V acc[RB][PB * PV];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < PANELS * PV; t++) acc[r][t] = v_zero();
    for (size_t k = 0; k < K; k++) {
        /* the rows' A(r, k) in scalars and each B vector loaded where it is used: held in
         * arrays, clang copied them through the stack in halves (a store-forwarding stall
         * per vector) */
        const V a0 = v_set1(a[k]);
        const V a1 = v_set1(a[(ptrdiff_t)(ROWS - 1) * lda + (ptrdiff_t)k]);
        for (int t = 0; t < PANELS * PV; t++) {
            const size_t panel = (size_t)(t / PV), part = (size_t)(t % PV);
            const V bv = v_load(bp + panel * K * PNR + k * PNR + part * VL);
            acc[0][t] = v_fma(a0, bv, acc[0][t]);
            if (ROWS > 1) acc[1][t] = v_fma(a1, bv, acc[1][t]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        float *cr = c + (ptrdiff_t)r * ldc;
        for (int t = 0; t < PANELS * PV; t++) {
            const size_t at = (size_t)t * VL;
            if (at + VL <= cols) v_store(cr + at, acc[r][t]);
            else if (at < cols) store_part(cr + at, acc[r][t], cols - at);
        }
    }
}

ONNXCC_WIDE void onnxcc_f32_gemm_rows_pb(size_t M, size_t N, size_t K, const float *a,
                                         ptrdiff_t lda, const float *bp, float *c,
                                         ptrdiff_t ldc) {
    const size_t panels = (N + PNR - 1) / PNR;
    for (size_t i = 0; i < M; i += RB) {
        const bool two = M - i >= 2;
        const float *ai = a + (ptrdiff_t)i * lda;
        float *ci = c + (ptrdiff_t)i * ldc;
        for (size_t p = 0; p < panels; p += PB) {
            const bool wide = PB > 1 && panels - p >= 2;
            const size_t j0 = p * PNR, left = N - j0, span = (wide ? 2 : 1) * (size_t)PNR;
            const size_t cols = left < span ? left : span;
            const float *bpp = bp + p * K * PNR;
            if (two && wide) pass(2, PB, K, ai, lda, bpp, ci + j0, ldc, cols);
            else if (two) pass(2, 1, K, ai, lda, bpp, ci + j0, ldc, cols);
            else if (wide) pass(1, PB, K, ai, lda, bpp, ci + j0, ldc, cols);
            else pass(1, 1, K, ai, lda, bpp, ci + j0, ldc, cols);
        }
    }
}

/* ---- packing ------------------------------------------------------------------------ */

/* B(k, j) = W[j][k] (0 for j past N) into bp, in the packed layout of
 * onnxcc_packed_b_index, for columns j0 .. j1 and depths k0 .. k1. */
static void pack_scalar(size_t N, size_t K, const float *w, ptrdiff_t ldw, float *bp,
                        size_t j0, size_t j1, size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; k++)
        for (size_t j = j0; j < j1; j++)
            bp[onnxcc_packed_b_index(K, k, j)] =
                j < N ? w[(ptrdiff_t)j * ldw + (ptrdiff_t)k] : 0.0f;
}

#if defined(ONNXCC_GEMM_ISA_AVX512)
enum { TB = 16 };   /* the side of a block transposed in registers */
_Static_assert(PNR % TB == 0, "a panel holds whole blocks");

/* r[i] (16 rows of 16) becomes its transpose: r[j] holds element j of every row. */
ONNXCC_INLINE ONNXCC_WIDE void transpose16(__m512 r[TB]) {
    __m512 t[TB];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

/* Columns j0 .. j0 + 16 (all below N, j0 a multiple of 16: within one panel row),
 * depths k0 .. k0 + 16, into bp. */
ONNXCC_INLINE ONNXCC_WIDE void pack_block16(size_t K, const float *w, ptrdiff_t ldw, float *bp,
                                            size_t j0, size_t k0) {
    __m512 r[TB];
    for (int i = 0; i < TB; i++)
        r[i] = _mm512_loadu_ps(w + (ptrdiff_t)(j0 + (size_t)i) * ldw + (ptrdiff_t)k0);
    transpose16(r);
    for (int i = 0; i < TB; i++)
        _mm512_storeu_ps(bp + onnxcc_packed_b_index(K, k0 + (size_t)i, j0), r[i]);
}
#endif

ONNXCC_WIDE void onnxcc_f32_pack_b_t(size_t N, size_t K, const float *w, ptrdiff_t ldw,
                                     float *bp) {
    for (size_t jp = 0; jp < N; jp += PNR) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
        for (size_t j0 = jp; j0 < jp + PNR; j0 += TB) {
            size_t k0 = 0;
            if (j0 + TB <= N)
                for (; k0 + TB <= K; k0 += TB) pack_block16(K, w, ldw, bp, j0, k0);
            pack_scalar(N, K, w, ldw, bp, j0, j0 + TB, k0, K);
        }
#else
        pack_scalar(N, K, w, ldw, bp, jp, jp + PNR, 0, K);
#endif
    }
}
