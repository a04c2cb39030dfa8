/* rt_gemm_kernel.c: the GEMM's register-blocked micro-kernels and their epilogue.
 *
 * One tile of the result, MR x NR (onnxcc_gemm.h: 8 x 32 with AVX-512, 6 x 16 with AVX2
 * or NEON, 6 x 8 portable), is accumulated in MR x NV vector registers: at each k, NV
 * vectors of a row of B are loaded and each row's A(i, k) is broadcast into NV fused
 * multiply-adds.  The tile then goes through the epilogue while still in registers and is
 * stored once (onnxcc_gemm_kernel.h says which part of the epilogue a K block applies).
 *
 * The arithmetic is written once, over a handful of vector primitives (v_load, v_fma,
 * v_gt_sel...) that each ISA defines with its intrinsics below; the ISA is the one
 * onnxcc_gemm.h picks from the -march macros.  The tile body is an always-inline function
 * of its rows and vectors, instantiated for MR x NR, for MR x NR/2 (a last sliver of at
 * most NR/2 columns: half the work) and for one row (a GEMV, with four independent k
 * chains to hide the FMA latency instead of MR rows); and for MR x NR and MR x NR/2 on
 * the rows of one packed-A panel, addressed from one pointer (tile_mr_panel,
 * tile_mr_half_panel).  With AVX-512 a last sliver of at most 4 columns on a packed-A
 * panel is turned around, the panel's rows in the vector lanes (tile_narrow_panel).
 * The tiles can prefetch the next sliver of B as they go (onnxcc_gemm_kernel.h,
 * b_next).
 *
 * A transposed C (onnxcc_f32_gemm_pab_ct) keeps its partial sums between K blocks in
 * the tile's own order and is transposed once, at the last block ("transposed tiles"
 * below; AVX-512 transposes a full tile in registers).
 *
 * Activations: Relu, LeakyRelu, PRelu, Clip, HardSigmoid and HardSwish are vector
 * compares and selects with the NaN behaviour of onnxcc_act.h; Sigmoid, SiLU, Elu and
 * Tanh use onnxcc_simd.h's vector exponential (within a few ulp of onnxcc_act.h's
 * functions).
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_gemm_kernel.h"

/* gcc in ISO C mode does not contract a * b + c into an FMA (clang does): the portable
 * kernel and the scalar epilogue get it this way; a fused multiply-add is never less
 * accurate.  And gcc unrolls the constant loops over a tile's rows and vectors, which
 * keeps the accumulators in registers, only from -O3 or with peel-loops (at -O2 the
 * kernel ran 2.6x slower). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "peel-loops")
#endif

#include "onnxcc_simd.h"

enum {
    MR = ONNXCC_GEMM_MR,
    NR = ONNXCC_GEMM_NR,
    NV = NR / VL,       /* vectors per tile row */
};
_Static_assert(NV * VL == NR, "a tile row is a whole number of vectors");

/* ---- loads and stores of part of a row ------------------------------------------------ */

/* Vector t of a row covers columns [t * VL, t * VL + VL): how many of them are below nr. */
ONNXCC_INLINE size_t lanes(size_t nr, size_t t) {
    return nr <= t * VL ? 0 : nr - t * VL < VL ? nr - t * VL : VL;
}

/* Elements (i, j .. j+n) of a broadcast operand (n <= VL, zeros past n); absent or n = 0
 * (columns past the result's): zeros, without forming a pointer past the operand. */
ONNXCC_INLINE V operand_load(const OnnxccOperand *o, size_t i, size_t j, size_t n) {
    if (!o->ptr || n == 0) return v_zero();
    const float *p = o->ptr + (ptrdiff_t)i * o->row_stride + (ptrdiff_t)j * o->col_stride;
    if (o->col_stride == 0) return v_set1(*p);
    if (o->col_stride == 1) return v_load_part(p, n);
    float tmp[VL] = {0};
    for (size_t t = 0; t < n; t++) tmp[t] = p[(ptrdiff_t)t * o->col_stride];
    return v_load(tmp);
}

/* ---- the epilogue --------------------------------------------------------------------- */

/* clip(x, lo, hi) as onnxcc_clip: x < lo ? lo : (x > hi ? hi : x), NaN passing. */
ONNXCC_INLINE V v_clip(V x, V lo, V hi) { return v_gt_sel(lo, x, lo, v_gt_sel(x, hi, hi, x)); }

/* The activation of result row i, columns j0 .. j0+nr, over its NV vectors. */
ONNXCC_INLINE void act_row(V v[NV], const OnnxccEpilogue *ep, size_t i, size_t j0, size_t nr) {
    const V zero = v_zero();
    switch (ep->act) {
    case ONNXCC_ACT_NONE:
        return;
    case ONNXCC_ACT_RELU:
        for (int t = 0; t < NV; t++) v[t] = v_gt_sel(v[t], zero, v[t], zero);
        return;
    case ONNXCC_ACT_LEAKY_RELU: {
        V al = v_set1(ep->act_alpha);
        for (int t = 0; t < NV; t++) v[t] = v_ge_sel(v[t], zero, v[t], v_mul(al, v[t]));
        return;
    }
    case ONNXCC_ACT_PRELU:
        for (int t = 0; t < NV; t++) {
            V s = operand_load(&ep->slope, i, j0 + (size_t)t * VL, lanes(nr, (size_t)t));
            v[t] = v_ge_sel(v[t], zero, v[t], v_mul(s, v[t]));
        }
        return;
    case ONNXCC_ACT_CLIP: {
        V lo = v_set1(ep->act_alpha), hi = v_set1(ep->act_beta);
        for (int t = 0; t < NV; t++) v[t] = v_clip(v[t], lo, hi);
        return;
    }
    case ONNXCC_ACT_HARD_SIGMOID:
    case ONNXCC_ACT_HARD_SWISH: {
        /* hard_swish(x) = x * hard_sigmoid(x, 1/6, 1/2) */
        bool swish = ep->act == ONNXCC_ACT_HARD_SWISH;
        V al = v_set1(swish ? 1.0f / 6.0f : ep->act_alpha);
        V be = v_set1(swish ? 0.5f : ep->act_beta), one = v_set1(1.0f);
        for (int t = 0; t < NV; t++) {
            V h = v_clip(v_fma(al, v[t], be), zero, one);
            v[t] = swish ? v_mul(v[t], h) : h;
        }
        return;
    }
    case ONNXCC_ACT_SIGMOID:     /* the transcendental ones: onnxcc_simd.h's vector math */
        for (int t = 0; t < NV; t++) v[t] = v_sigmoid(v[t]);
        return;
    case ONNXCC_ACT_SILU:
        for (int t = 0; t < NV; t++) v[t] = v_silu(v[t]);
        return;
    case ONNXCC_ACT_ELU: {
        V al = v_set1(ep->act_alpha);
        for (int t = 0; t < NV; t++) v[t] = v_elu(v[t], al);
        return;
    }
    case ONNXCC_ACT_TANH:
        for (int t = 0; t < NV; t++) v[t] = v_tanh(v[t]);
        return;
    default:            /* no other code: the result as it is, as onnxcc_act */
        return;
    }
}

/* Row i (columns j0 .. j0+nr) of the tile after the K block's part of the epilogue: v =
 * alpha * acc plus, in the first block, the bias and the residual, else the partial sums
 * `part`; then, in the last block, the activation. */
ONNXCC_INLINE void epilogue_row(V v[NV], const V acc[NV], const V part[NV], size_t i,
                                size_t j0, size_t nr, const OnnxccGemmOut *out) {
    const OnnxccEpilogue *ep = out->ep;
    V al = v_set1(out->alpha);
    if (!(out->block & ONNXCC_GEMM_FIRST)) {
        for (int t = 0; t < NV; t++) v[t] = v_fma(al, acc[t], part[t]);
    } else if (ep && (ep->bias.ptr || ep->residual.ptr)) {
        V bs = v_set1(ep->bias_scale);
        for (int t = 0; t < NV; t++) {
            size_t j = j0 + (size_t)t * VL, n = lanes(nr, (size_t)t);
            V add = v_add(v_mul(bs, operand_load(&ep->bias, i, j, n)),
                          operand_load(&ep->residual, i, j, n));
            v[t] = v_fma(al, acc[t], add);
        }
    } else {
        for (int t = 0; t < NV; t++) v[t] = v_mul(al, acc[t]);
    }
    if ((out->block & ONNXCC_GEMM_LAST) && ep) act_row(v, ep, i, j0, nr);
}

/* Stores row i of a tile of a row-major C.  The row of C or of the residual is read
 * before it is written, which lets the residual alias C. */
ONNXCC_INLINE void finish_row(const V acc[NV], size_t i, size_t j0, size_t nr,
                              const OnnxccGemmOut *out) {
    float *crow = out->c + (ptrdiff_t)i * out->ldc + (ptrdiff_t)j0;
    V part[NV], v[NV];
    for (int t = 0; t < NV; t++) {
        size_t n = lanes(nr, (size_t)t);    /* 0: past nr, neither read nor stored */
        part[t] = !(out->block & ONNXCC_GEMM_FIRST) && n ? v_load_part(crow + t * VL, n)
                                                         : v_zero();
    }
    epilogue_row(v, acc, part, i, j0, nr, out);
    for (int t = 0; t < NV; t++) {
        size_t n = lanes(nr, (size_t)t);
        if (n) v_store_part(crow + t * VL, v[t], n);
    }
}

/* ---- transposed tiles ------------------------------------------------------------------
 * With C transposed, the tile's part of C is nr rows (its columns j) of mr floats (its
 * rows i), ldc apart.  Storing a tile transposed costs a shuffle or a scalar move per
 * element, too much to pay at every K block, so the blocks before the last keep the
 * partial sums in that same part of C but in the tile's own order: element (r, j) is
 * slot f = r * nr + j, at C row j0 + f / mr, column i0 + f % mr (a bijection onto the
 * tile's part, so no other tile's data is touched).  Only the last block stores the
 * tile transposed.  The first block reads the whole residual before it stores anything,
 * since the residual may alias C. */

/* n (<= VL) floats from slots f .. f+n (zeros past n), and their store; the generic
 * paths walk the slots without a division per element (mr is not a constant). */
ONNXCC_INLINE float *slot_ptr(const OnnxccGemmOut *out, size_t i0, size_t j0, size_t mr,
                              size_t f) {
    return out->c + (ptrdiff_t)(j0 + f / mr) * out->ldc + (ptrdiff_t)(i0 + f % mr);
}

ONNXCC_INLINE V slots_load(const OnnxccGemmOut *out, size_t i0, size_t j0, size_t mr,
                           size_t f, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    /* A full tile's vector covers two C rows of 8 slots: two 256-bit loads. */
    if (mr == VL / 2 && n == VL && f % mr == 0) {
        __m256 lo = _mm256_loadu_ps(slot_ptr(out, i0, j0, mr, f));
        __m256 hi = _mm256_loadu_ps(slot_ptr(out, i0, j0, mr, f + mr));
        return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                   _mm256_castps_pd(hi), 1));
    }
#endif
    float tmp[VL] = {0};
    float *row = slot_ptr(out, i0, j0, mr, f - f % mr);   /* slot f's row; f % mr on */
    for (size_t l = 0, s = f % mr; l < n; l++, s++) {
        if (s == mr) row += out->ldc, s = 0;
        tmp[l] = row[s];
    }
    return v_load(tmp);
}

ONNXCC_INLINE void slots_store(const OnnxccGemmOut *out, size_t i0, size_t j0, size_t mr,
                               size_t f, V v, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    if (mr == VL / 2 && n == VL && f % mr == 0) {
        _mm256_storeu_ps(slot_ptr(out, i0, j0, mr, f), _mm512_castps512_ps256(v));
        _mm256_storeu_ps(slot_ptr(out, i0, j0, mr, f + mr), v_high256(v));
        return;
    }
#endif
    float tmp[VL];
    v_store(tmp, v);
    float *row = slot_ptr(out, i0, j0, mr, f - f % mr);
    for (size_t l = 0, s = f % mr; l < n; l++, s++) {
        if (s == mr) row += out->ldc, s = 0;
        row[s] = tmp[l];
    }
}

#if defined(ONNXCC_GEMM_ISA_AVX512)
/* A full 8 x 32 tile stored transposed, c[j * ldc + r] = tile (r, j): each column's 8
 * floats are one 256-bit store.  Per vector of 16 columns, an 8 x 16 transpose in
 * registers: unpacking pairs of rows, then shuffling within 128-bit lanes, gives for
 * lane l the 4-row pieces of column 4l + q (rows 0-3 in u[q], rows 4-7 in u[4 + q]);
 * two lane shuffles pair the pieces of columns q, 4 + q (and 8 + q, 12 + q). */
ONNXCC_WIDE static void store_tile_t(const V v[MR][NV], float *c, ptrdiff_t ldc) {
    for (int t = 0; t < NV; t++) {
        V a[8], u[8];
        for (int r = 0; r < 8; r += 2) {
            /* lane l: rows r, r + 1 of columns 4l, 4l + 1, then of 4l + 2, 4l + 3 */
            a[r] = _mm512_unpacklo_ps(v[r][t], v[r + 1][t]);
            a[r + 1] = _mm512_unpackhi_ps(v[r][t], v[r + 1][t]);
        }
        for (int h = 0; h < 2; h++) {
            const V *p = a + 4 * h;
            u[4 * h + 0] = _mm512_shuffle_ps(p[0], p[2], 0x44);
            u[4 * h + 1] = _mm512_shuffle_ps(p[0], p[2], 0xEE);
            u[4 * h + 2] = _mm512_shuffle_ps(p[1], p[3], 0x44);
            u[4 * h + 3] = _mm512_shuffle_ps(p[1], p[3], 0xEE);
        }
        float *ct = c + (ptrdiff_t)t * VL * ldc;
        for (int q = 0; q < 4; q++) {
            V lo = _mm512_shuffle_f32x4(u[q], u[4 + q], _MM_SHUFFLE(1, 0, 1, 0));
            V hi = _mm512_shuffle_f32x4(u[q], u[4 + q], _MM_SHUFFLE(3, 2, 3, 2));
            lo = _mm512_shuffle_f32x4(lo, lo, _MM_SHUFFLE(3, 1, 2, 0));
            hi = _mm512_shuffle_f32x4(hi, hi, _MM_SHUFFLE(3, 1, 2, 0));
            _mm256_storeu_ps(ct + q * ldc, _mm512_castps512_ps256(lo));
            _mm256_storeu_ps(ct + (4 + q) * ldc, v_high256(lo));
            _mm256_storeu_ps(ct + (8 + q) * ldc, _mm512_castps512_ps256(hi));
            _mm256_storeu_ps(ct + (12 + q) * ldc, v_high256(hi));
        }
    }
}
#endif

/* The first mr rows and nr columns of a finished tile into a transposed C. */
ONNXCC_INLINE void finish_tile_t_body(const V tile[MR][NV], size_t mr, size_t nr, size_t i0,
                                      size_t j0, const OnnxccGemmOut *out) {
    const bool first = out->block & ONNXCC_GEMM_FIRST, last = out->block & ONNXCC_GEMM_LAST;
    V v[MR][NV];
    for (size_t r = 0; r < mr; r++) {
        V part[NV];
        for (int t = 0; t < NV; t++) {
            size_t n = lanes(nr, (size_t)t);
            part[t] = !first && n ? slots_load(out, i0, j0, mr, r * nr + (size_t)t * VL, n)
                                  : v_zero();
        }
        epilogue_row(v[r], tile[r], part, i0 + r, j0, nr, out);
    }
    if (!last) {
        for (size_t r = 0; r < mr; r++)
            for (int t = 0; t < NV; t++) {
                size_t n = lanes(nr, (size_t)t);
                if (n) slots_store(out, i0, j0, mr, r * nr + (size_t)t * VL, v[r][t], n);
            }
        return;
    }
#if defined(ONNXCC_GEMM_ISA_AVX512)
    if (mr == MR && nr == NR) {
        store_tile_t(v, out->c + (ptrdiff_t)j0 * out->ldc + (ptrdiff_t)i0, out->ldc);
        return;
    }
#endif
    float done[MR][NR];
    for (size_t r = 0; r < mr; r++)
        for (int t = 0; t < NV; t++) v_store(done[r] + t * VL, v[r][t]);
    for (size_t j = 0; j < nr; j++) {
        float *cj = out->c + (ptrdiff_t)(j0 + j) * out->ldc + (ptrdiff_t)i0;
        for (size_t r = 0; r < mr; r++) cj[r] = done[r][j];
    }
}

/* The first mr rows of a finished tile, which the kernel has moved out of its
 * accumulators into `tile` (L1): a loop over rows with a large body must not index the
 * accumulators, or the compiler keeps them in memory inside the k loop. */
ONNXCC_WIDE ONNXCC_INLINE void finish_tile(const V tile[MR][NV], size_t mr, size_t nr,
                                           size_t i0, size_t j0, const OnnxccGemmOut *out) {
    if (out->transposed) {
        if (mr == MR && nr == NR) finish_tile_t_body(tile, MR, NR, i0, j0, out);
        else finish_tile_t_body(tile, mr, nr, i0, j0, out);
    } else if (nr == NR) {     /* nr a constant: the ragged-edge tests fold away */
        for (size_t r = 0; r < mr; r++) finish_row(tile[r], i0 + r, j0, NR, out);
    } else {
        for (size_t r = 0; r < mr; r++) finish_row(tile[r], i0 + r, j0, nr, out);
    }
}

/* finish_tile out of line, for the tiles at the edges of a product (half width, narrow,
 * one row): one copy of its code for them all.  The full tiles inline it: called out of
 * line, it made resnet's 3x3 layers 1-3 % slower. */
__attribute__((noinline)) ONNXCC_WIDE static void finish_tile_edge(const V tile[MR][NV],
                                                                  size_t mr, size_t nr,
                                                                  size_t i0, size_t j0,
                                                                  const OnnxccGemmOut *out) {
    finish_tile(tile, mr, nr, i0, j0, out);
}

/* ---- the tile ------------------------------------------------------------------------- */

/* One k of a tile with ROWS rows and COLS vectors: acc[r] += A(r, k) * B(k, 0 .. COLS * VL).
 * PANEL: the rows are consecutive floats of a packed-A panel, A(r, k) = a[0][ak + r]. */
ONNXCC_INLINE void k_step(const int ROWS, const int COLS, const int PANEL, V acc[MR][NV],
                          const float *const a[], ptrdiff_t ak, const float *bk) {
    V bv[NV];
    for (int t = 0; t < COLS; t++) bv[t] = v_load(bk + t * VL);
    for (int r = 0; r < ROWS; r++) {
        V av = v_set1(PANEL ? a[0][ak + r] : a[r][ak]);
        for (int t = 0; t < COLS; t++) acc[r][t] = v_fma(av, bv[t], acc[r][t]);
    }
}

/* The tile with ROWS rows of A (ROWS <= MR), COLS vectors of B (COLS <= NV; the columns
 * past them are not computed: nr <= COLS * VL) and CH independent accumulator sets, each
 * taking every CH-th k (so that a one-row tile still has enough chains in flight); PANEL
 * as in k_step.  ROWS, COLS, CH and PANEL are constants where it is inlined: the loops
 * unroll completely and the accumulators that are used live in registers (the array is
 * sized for the largest case, since a parameter-sized one would be a VLA). */
enum { CH_MAX = 4 };
ONNXCC_INLINE void tile_body(const int ROWS, const int COLS, const int CH, const int PANEL,
                             size_t mr, size_t nr, size_t kc, const float *const a[],
                             ptrdiff_t a_cs, const float *b, size_t ldb, const float *b_next,
                             size_t i0, size_t j0, const OnnxccGemmOut *out) {
    V acc[CH_MAX][MR][NV];
    for (int u = 0; u < CH; u++)
        for (int r = 0; r < ROWS; r++)
            for (int t = 0; t < COLS; t++) acc[u][r][t] = v_zero();
    /* The tile's lines of C, which its epilogue reads or writes, are fetched while the
     * k loop runs: with a small K the stores would otherwise wait for them. */
    for (size_t r = 0; r < (size_t)ROWS && r < mr; r++)
        for (size_t j = 0; j < nr; j += 64 / sizeof(float))
            __builtin_prefetch(out->c + (ptrdiff_t)(i0 + r) * out->ldc + (ptrdiff_t)(j0 + j), 1);
    size_t k = 0;
    for (; k + (size_t)CH <= kc; k += (size_t)CH)
        for (int u = 0; u < CH; u++) {
            if (b_next)     /* one row of the next sliver per k: NR floats, 1 or 2 lines */
                for (size_t j = 0; j < NR; j += 64 / sizeof(float))
                    __builtin_prefetch(b_next + (k + (size_t)u) * ldb + j, 0, 2);
            k_step(ROWS, COLS, PANEL, acc[u], a, (ptrdiff_t)(k + (size_t)u) * a_cs,
                   b + (k + (size_t)u) * ldb);
        }
    for (; k < kc; k++) k_step(ROWS, COLS, PANEL, acc[0], a, (ptrdiff_t)k * a_cs, b + k * ldb);
    V tile[MR][NV];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < NV; t++) {
            tile[r][t] = t < COLS ? acc[0][r][t] : v_zero();    /* past nr: not stored */
            for (int u = 1; u < CH && t < COLS; u++) tile[r][t] = v_add(tile[r][t], acc[u][r][t]);
        }
    if (ROWS == MR && COLS == NV) finish_tile(tile, mr, nr, i0, j0, out);
    else finish_tile_edge(tile, mr, nr, i0, j0, out);
}

ONNXCC_WIDE static void tile_mr(size_t mr, size_t nr, size_t kc, const float *const a[],
                                ptrdiff_t a_cs, const float *b, size_t ldb,
                                const float *b_next, size_t i0, size_t j0,
                                const OnnxccGemmOut *out) {
    tile_body(MR, NV, 1, 0, mr, nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
}

/* tile_mr on A packed in 8-row panels (a[r] = a[0] + r, a_cs = 8): one pointer and
 * constant offsets for the rows (PANEL).  Eight row pointers, B's and b_next's are more
 * than the 16 general registers of x86-64 hold, and the spills cost load slots in the k
 * loop. */
ONNXCC_WIDE static void tile_mr_panel(size_t nr, size_t kc, const float *a0, const float *b,
                                      size_t ldb, const float *b_next, size_t i0, size_t j0,
                                      const OnnxccGemmOut *out) {
    const float *const a[MR] = {a0};
    tile_body(MR, NV, 1, 1, MR, nr, kc, a, ONNXCC_PACK_MR, b, ldb, b_next, i0, j0, out);
}

/* Whether the rows of A are those of one packed-A panel. */
static bool panel_rows(const float *const a[MR], ptrdiff_t a_cs) {
    if (a_cs != ONNXCC_PACK_MR || MR > ONNXCC_PACK_MR) return false;
    for (int r = 1; r < MR; r++)
        if (a[r] != a[0] + r) return false;
    return true;
}

/* Half as wide, for a last sliver of at most NR / 2 columns (a 14 x 14 image's 196
 * columns end with 4): half the work of a full tile.  On a packed-A panel too, for the
 * same reason as tile_mr_panel (a 28 x 28 plane's 784 columns end with 16). */
ONNXCC_WIDE static void tile_mr_half(size_t mr, size_t nr, size_t kc, const float *const a[],
                                     ptrdiff_t a_cs, const float *b, size_t ldb,
                                     const float *b_next, size_t i0, size_t j0,
                                     const OnnxccGemmOut *out) {
    tile_body(MR, NV / 2, 1, 0, mr, nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
}
ONNXCC_WIDE static void tile_mr_half_panel(size_t nr, size_t kc, const float *a0,
                                           const float *b, size_t ldb, const float *b_next,
                                           size_t i0, size_t j0, const OnnxccGemmOut *out) {
    const float *const a[MR] = {a0};
    tile_body(MR, NV / 2, 1, 1, MR, nr, kc, a, ONNXCC_PACK_MR, b, ldb, b_next, i0, j0, out);
}

#if defined(ONNXCC_GEMM_ISA_AVX512)
/* A last sliver of at most NARROW = 4 columns (a 14 x 14 plane's 196 pixels end with 4;
 * resnet50's third stage is all 14 x 14) on a packed-A panel, turned around: at each k
 * the panel's 8 rows are one 256-bit vector and each of the 4 columns of B is broadcast,
 * so every lane is used, where tile_mr_half_panel spends 8 512-bit FMAs on 4 columns.
 * Two sets of accumulators take alternate k (8 chains hide the FMA latency).  The sums
 * are then turned into rows (a small transpose through memory) for the usual epilogue.
 * Resnet's 3x3 256 @ 14 x 14 layer, where the 4 columns took 9 % of the time, ran 6 %
 * faster (CPU time, side by side). */
enum { NARROW = 4 };
ONNXCC_WIDE static void tile_narrow_panel(size_t nr, size_t kc, const float *a0,
                                          const float *b, size_t ldb, size_t i0, size_t j0,
                                          const OnnxccGemmOut *out) {
    __m256 acc[2][NARROW];
    for (int u = 0; u < 2; u++)
        for (int j = 0; j < NARROW; j++) acc[u][j] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 2 <= kc; k += 2)
        for (int u = 0; u < 2; u++) {
            __m256 av = _mm256_loadu_ps(a0 + (k + (size_t)u) * ONNXCC_PACK_MR);
            const float *bk = b + (k + (size_t)u) * ldb;
            for (int j = 0; j < NARROW; j++)
                acc[u][j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bk + j), acc[u][j]);
        }
    if (k < kc) {
        __m256 av = _mm256_loadu_ps(a0 + k * ONNXCC_PACK_MR);
        for (int j = 0; j < NARROW; j++)
            acc[0][j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(b + k * ldb + j), acc[0][j]);
    }
    float cols[NARROW][MR], rows[MR][NR];      /* cols[j][r] = sum (r, j) */
    for (int j = 0; j < NARROW; j++) _mm256_storeu_ps(cols[j], _mm256_add_ps(acc[0][j], acc[1][j]));
    memset(rows, 0, sizeof rows);
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NARROW; j++) rows[r][j] = cols[j][r];
    V tile[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NV; t++) tile[r][t] = v_load(rows[r] + t * VL);
    finish_tile_edge(tile, MR, nr, i0, j0, out);
}
#endif

ONNXCC_WIDE static void tile_1(size_t nr, size_t kc, const float *const a[], ptrdiff_t a_cs,
                               const float *b, size_t ldb, const float *b_next, size_t i0,
                               size_t j0, const OnnxccGemmOut *out) {
    tile_body(1, NV, 4, 0, 1, nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
}

void onnxcc_gemm_tile(size_t mr, size_t nr, size_t kc, const float *const a[ONNXCC_GEMM_MR],
                      ptrdiff_t a_cs, const float *b, size_t ldb, const float *b_next,
                      size_t i0, size_t j0, const OnnxccGemmOut *out) {
    bool panel = mr == MR && kc && panel_rows(a, a_cs);
#if defined(ONNXCC_GEMM_ISA_AVX512)
    if (panel && nr <= NARROW && !out->transposed) {
        tile_narrow_panel(nr, kc, a[0], b, ldb, i0, j0, out);
        return;
    }
#endif
    if (mr == 1) tile_1(nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
    else if (nr <= NV / 2 * VL && panel)
        tile_mr_half_panel(nr, kc, a[0], b, ldb, b_next, i0, j0, out);
    else if (nr <= NV / 2 * VL) tile_mr_half(mr, nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
    else if (panel) tile_mr_panel(nr, kc, a[0], b, ldb, b_next, i0, j0, out);
    else tile_mr(mr, nr, kc, a, a_cs, b, ldb, b_next, i0, j0, out);
}
