/* rt_conv_wino.c: 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) and F(4x4, 3x3)
 * (onnxcc_conv_wino.h has the method and the transforms).
 *
 * The output's tiles (m x m pixels, m = 2 or 4) are cut into blocks of whole tile rows
 * (onnxcc_conv_wino_plan), sized so that a block's transformed inputs V and products M
 * stay in L2.  Each block takes three steps, each split across the pool's threads:
 *  1. input transform, one task per input channel: the m + 2 input rows of a tile row
 *     are kept on the stack with the padding written as zeros, in a ring (consecutive
 *     tile rows share 2 input rows); input column j of a vector of tiles is then a
 *     stride-m load from there (loads and permutations with AVX-512).  The (m + 2)^2
 *     results go to V_p's packed-B panels (the tiles are the GEMM's columns), in runs that
 *     stay in one 32-column panel, the columns of the last panel past the block's tiles
 *     set to zero;
 *  2. the products M_p = U_p x V_p, one task each (onnxcc_f32_gemm_pab, the weights U_p
 *     packed at compile time);
 *  3. output transform and epilogue, one task per output channel: A^T m A over a vector
 *     of tiles at a time, the m output rows of each tile row interleaved (permutations
 *     with AVX-512, a row buffer elsewhere), then bias, residual and activation in
 *     registers before the one store.  Tiles that stick out of the output are computed
 *     and not stored.
 * Every output is computed by the same arithmetic whatever the thread count.
 *
 * The 1-D transforms are written once per tile size (WINO_IN_1D_m, WINO_OUT_1D_m) with
 * the operators that GCC vector extensions give the vector type V; each 2-D transform
 * applies them to the rows as they are loaded and to the columns as they are stored,
 * so that (m + 2)^2 vectors are live between the two, not three times as many (which
 * spilled: the input transform of F(4x4) took 13-23 % longer).
 */
#include <string.h>

#include "onnxcc_conv_wino.h"
#include "onnxcc_simd.h"

enum { PNR = ONNXCC_PACK_NR, MAX_IN = ONNXCC_WINO_MAX_IN, MAX_POS = ONNXCC_WINO_MAX_POS };

/* One block of one image. */
typedef struct WinoJob {
    const OnnxccGeom3 *G;
    const OnnxccWinoPlan *pl;
    size_t in_channels, out_channels;
    const float *x;             /* the image, [in_channels][in rows][in cols] */
    const float *wu;            /* the transformed weights */
    float *y;                   /* the image's output */
    const float *res;           /* its residual (y's layout), or NULL */
    const OnnxccEpilogue *ep;
    float *scratch;
    size_t ty0, rows, tiles;    /* the block: first tile row, tile rows, tiles */
} WinoJob;

/* ---- vector helpers --------------------------------------------------------------------- */

/* v with its lanes from n (1 <= n < VL) on set to zero, whatever they held. */
ONNXCC_INLINE V zero_past(V v, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    return _mm512_maskz_mov_ps((__mmask16)((1u << n) - 1u), v);
#else
    float tmp[VL];
    v_store(tmp, v);
    for (size_t t = n; t < VL; t++) tmp[t] = 0.0f;
    return v_load(tmp);
#endif
}

/* ---- the transforms --------------------------------------------------------------------- */

/* The 1-D input transforms, x to t: B^T x.  F(2x2): (x0 - x2, x1 + x2, x2 - x1, x1 - x3).
 * F(4x4): the rows of its B^T, sharing the sums two rows have in common. */
#define WINO_IN_1D_2(x, t)                                                                \
    do {                                                                                  \
        t[0] = x[0] - x[2];                                                               \
        t[1] = x[1] + x[2];                                                               \
        t[2] = x[2] - x[1];                                                               \
        t[3] = x[1] - x[3];                                                               \
    } while (0)
#define WINO_IN_1D_4(x, t)                                                                \
    do {                                                                                  \
        t[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];                                          \
        const __typeof__(x[0]) p_ = x[4] - 4.0f * x[2], q_ = x[3] - 4.0f * x[1];          \
        t[1] = p_ + q_;                                                                   \
        t[2] = p_ - q_;                                                                   \
        const __typeof__(x[0]) r_ = x[4] - x[2], s_ = 2.0f * (x[3] - x[1]);               \
        t[3] = r_ + s_;                                                                   \
        t[4] = r_ - s_;                                                                   \
        t[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];                                          \
    } while (0)

/* The 1-D output transforms, m to y: A^T m. */
#define WINO_OUT_1D_2(m, y)                                                               \
    do {                                                                                  \
        y[0] = m[0] + m[1] + m[2];                                                        \
        y[1] = m[1] - m[2] - m[3];                                                        \
    } while (0)
#define WINO_OUT_1D_4(m, y)                                                               \
    do {                                                                                  \
        const __typeof__(m[0]) a_ = m[1] + m[2], b_ = m[1] - m[2];                        \
        const __typeof__(m[0]) c_ = m[3] + m[4], d_ = m[3] - m[4];                        \
        y[0] = m[0] + a_ + c_;                                                            \
        y[1] = b_ + 2.0f * d_;                                                            \
        y[2] = a_ + 4.0f * c_;                                                            \
        y[3] = b_ + 8.0f * d_ + m[5];                                                     \
    } while (0)

/* ---- step 1: input transform ----------------------------------------------------------- */

/* Tiles per input step: the input rows they read, copied with their padding, stay on
 * the stack, with room for whole vectors (and the loads past them) from any tile. */
enum { IN_RUN = 128, ROW_FLOATS = 4 * (IN_RUN + 16) + 2 * 16 + 4 };

/* dst[0 .. len) = row iy of the channel xc (rows x cols), input columns c0 .. c0 + len,
 * zeros outside the image; dst has room for len rounded up to whole vectors.  Vector
 * copies rather than memcpy and memset: the rows are short and there are many. */
static ONNXCC_WIDE void padded_row(const float *xc, int64_t rows, int64_t cols, int64_t iy,
                                   int64_t c0, size_t len, float *dst) {
    for (size_t q = 0; q < len; q += VL) v_store(dst + q, v_zero());
    const int64_t end = c0 + (int64_t)len;
    const int64_t a = c0 > 0 ? c0 : 0, b = end < cols ? end : cols;
    if (iy < 0 || iy >= rows || b <= a) return;
    const float *src = xc + iy * cols + a;
    float *to = dst + (a - c0);
    const size_t n = (size_t)(b - a);
    size_t q = 0;
    for (; q + VL <= n; q += VL) v_store(to + q, v_load(src + q));
    if (q < n) v_store_part(to + q, v_load_part(src + q, n - q), n - q);
}

/* Input columns 0 .. n - 1 of VL consecutive tiles of side m from a padded row:
 * col[j] lane t = row[m t + j].  With AVX-512, permutations of whole vectors: for m = 2
 * the even and odd elements of 32 floats (from 0 and from 2); for m = 4 the four phases
 * of 64 floats in two rounds of even/odd, phases 4 and 5 being 0 and 1 one tile on. */
#if defined(ONNXCC_GEMM_ISA_AVX512)
ONNXCC_INLINE __m512 evens(__m512 a, __m512 b) {
    return _mm512_permutex2var_ps(
        a, _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0), b);
}
ONNXCC_INLINE __m512 odds(__m512 a, __m512 b) {
    return _mm512_permutex2var_ps(
        a, _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1), b);
}
/* v's lanes 1 .. 15, then next's lane 0. */
ONNXCC_INLINE __m512 next_lane(__m512 v, __m512 next) {
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(v), 1));
}
#endif

ONNXCC_INLINE void load_columns_2(const float *row, V col[4]) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    const V a = v_load(row), b = v_load(row + 16), c = v_load(row + 2), d = v_load(row + 18);
    col[0] = evens(a, b), col[1] = odds(a, b), col[2] = evens(c, d), col[3] = odds(c, d);
#else
    float lanes[4][VL];
    for (int j = 0; j < 4; j++)
        for (int t = 0; t < VL; t++) lanes[j][t] = row[2 * t + j];
    for (int j = 0; j < 4; j++) col[j] = v_load(lanes[j]);
#endif
}

ONNXCC_INLINE void load_columns_4(const float *row, V col[6]) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    const V a = v_load(row), b = v_load(row + 16), c = v_load(row + 32), d = v_load(row + 48);
    const V e1 = evens(a, b), o1 = odds(a, b), e2 = evens(c, d), o2 = odds(c, d);
    col[0] = evens(e1, e2), col[2] = odds(e1, e2);
    col[1] = evens(o1, o2), col[3] = odds(o1, o2);
    col[4] = next_lane(col[0], v_load(row + 64));
    col[5] = next_lane(col[1], v_load(row + 65));
#else
    float lanes[6][VL];
    for (int j = 0; j < 6; j++)
        for (int t = 0; t < VL; t++) lanes[j][t] = row[4 * t + j];
    for (int j = 0; j < 6; j++) col[j] = v_load(lanes[j]);
#endif
}

/* The transforms of n tiles of side TILE from tile k0 of the input rows rows[i]
 * (padded, tile t reading rows[i][TILE t ..]), position p's written at dst + p * v_step:
 * n floats, then zeros up to `fill` (>= n: the panel's columns past the block's last
 * tile, which the GEMM reads). */
#define WINO_INPUT_RUN(NAME, TILE, IN_1D, LOAD_COLUMNS)                                   \
    static ONNXCC_WIDE void NAME(const float *const rows[MAX_IN], size_t k0, size_t n,    \
                                 size_t fill, float *dst, size_t v_step) {                \
        enum { N = TILE + 2 };                                                            \
        for (size_t k = 0; k < fill; k += VL) {                                           \
            const size_t lanes = fill - k < VL ? fill - k : VL;                           \
            /* V = B^T d B: each input row transformed (d B) as it is loaded, then each   \
             * column of that (B^T) as it is stored: N x N values live between the two,  \
             * not the 3 N x N of both transforms at once (which spilled). */            \
            V r[N][N];                                                                    \
            for (int i = 0; i < N; i++) {                                                 \
                V col[N];                                                                 \
                if (k < n) LOAD_COLUMNS(rows[i] + TILE * (k0 + k), col);                  \
                else                                                                      \
                    for (int j = 0; j < N; j++) col[j] = v_zero();                        \
                IN_1D(col, r[i]);                                                         \
            }                                                                             \
            for (int b = 0; b < N; b++) {                                                 \
                V cv[N], out[N];                                                          \
                for (int i = 0; i < N; i++) cv[i] = r[i][b];                              \
                IN_1D(cv, out);                                                           \
                for (int a = 0; a < N; a++) {                                             \
                    /* tiles past the block's last (and whole zero vectors): zeros */     \
                    const V v = k >= n ? v_zero() : n - k < lanes ? zero_past(out[a], n - k) \
                                                                  : out[a];               \
                    v_store_part(dst + (size_t)(a * N + b) * v_step + k, v, lanes);       \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }
WINO_INPUT_RUN(input_run_2, 2, WINO_IN_1D_2, load_columns_2)
WINO_INPUT_RUN(input_run_4, 4, WINO_IN_1D_4, load_columns_4)

/* onnxcc_parallel_for task: input channel c of the block, IN_RUN tiles of a tile row at a
 * time, in runs (tiles t = ly * tiles_x + tx) that stay in one 32-column panel of V. */
static void input_task(void *ctx, size_t c, size_t thread) {
    (void)thread;
    const WinoJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const OnnxccWinoPlan *pl = job->pl;
    const size_t tx_n = pl->tiles_x, C = job->in_channels, m = (size_t)pl->tile, n_in = m + 2;
    const float *xc = job->x + c * (size_t)(G->in[1] * G->in[2]);
    float *v = job->scratch + pl->v;
    /* A ring of input rows: tile row ly reads rows m ly .. m ly + m + 1 of the block, from
     * slots (m ly + i) % (m + 2); the next one reuses the last two. */
    float ring[MAX_IN][ROW_FLOATS];
    const int64_t row0 = (int64_t)(job->ty0 * m) - G->pad[1];
    for (size_t tx0 = 0; tx0 < tx_n; tx0 += IN_RUN) {
        const size_t n_run = tx_n - tx0 < IN_RUN ? tx_n - tx0 : IN_RUN;
        const size_t len = m * (n_run + VL) + 2 * VL;
        const int64_t col0 = (int64_t)(tx0 * m) - G->pad[2];
        for (size_t r = 0; r < 2; r++)
            padded_row(xc, G->in[1], G->in[2], row0 + (int64_t)r, col0, len, ring[r]);
        for (size_t ly = 0; ly < job->rows; ly++) {
            for (size_t r = ly * m + 2; r < ly * m + n_in; r++)
                padded_row(xc, G->in[1], G->in[2], row0 + (int64_t)r, col0, len,
                           ring[r % n_in]);
            const float *rows[MAX_IN];
            for (size_t i = 0; i < n_in; i++) rows[i] = ring[(ly * m + i) % n_in];
            for (size_t tx = tx0; tx < tx0 + n_run;) {
                const size_t t = ly * tx_n + tx;
                size_t n = PNR - t % PNR;
                n = n < tx0 + n_run - tx ? n : tx0 + n_run - tx;
                /* The block's last run also writes the zeros after it in its panel. */
                const size_t fill = t + n == job->tiles ? PNR - t % PNR : n;
                float *dst = v + (t / PNR * C + c) * PNR + t % PNR;
                if (m == 4) input_run_4(rows, tx - tx0, n, fill, dst, pl->v_step);
                else input_run_2(rows, tx - tx0, n, fill, dst, pl->v_step);
                tx += n;
            }
        }
    }
}

/* ---- step 2: the products -------------------------------------------------------------- */

static void product_task(void *ctx, size_t p, size_t thread) {
    (void)thread;
    const WinoJob *job = ctx;
    const OnnxccWinoPlan *pl = job->pl;
    const size_t M = job->out_channels, C = job->in_channels;
    const size_t cols = (job->tiles + PNR - 1) / PNR * PNR;
    onnxcc_f32_gemm_pab(M, cols, C, 1.0f,
                        job->wu + p * onnxcc_packed_a_floats(M, C),
                        job->scratch + pl->v + p * pl->v_step,
                        job->scratch + pl->m + p * pl->m_step, (ptrdiff_t)cols, NULL,
                        NULL);
}

/* ---- step 3: output transform and epilogue --------------------------------------------- */

/* What the epilogue of one output channel needs. */
typedef struct ChannelEpi {
    float bias, slope;
    const OnnxccEpilogue *ep;
} ChannelEpi;

/* The epilogue on a vector: acc + bias + the residual's first n pixels at res (NULL:
 * none), then the activation; n lanes of it stored at dst. */
ONNXCC_INLINE void epilogue_store(float *dst, V acc, const float *res, size_t n,
                                  const ChannelEpi *ce) {
    V r = v_add(acc, v_set1(ce->bias));
    if (res) r = v_add(r, v_load_part(res, n));
    v_store_part(dst, v_act(r, ce->ep->act, ce->ep->act_alpha, ce->ep->act_beta, ce->slope),
                 n);
}

/* The outputs of the n tiles of a tile row whose products start at m (position p at
 * m + p * m_step), with the epilogue, to `rows` (<= TILE) output rows from y (row stride
 * out_x, the first out_x pixels of each; res likewise).  A vector of tiles at a time:
 * its TILE output columns are interleaved into whole rows through a buffer, or with
 * AVX-512 by permutations. */
#define WINO_OUTPUT_ROW(NAME, TILE, OUT_1D, INTERLEAVE)                                   \
    static ONNXCC_WIDE void NAME(const float *m, size_t m_step, size_t n, float *y,       \
                                 const float *res, size_t out_x, size_t rows,             \
                                 const ChannelEpi *ce) {                                  \
        enum { N = TILE + 2 };                                                            \
        for (size_t k = 0; k < n; k += VL) {                                              \
            const size_t lanes = n - k < VL ? n - k : VL;                                 \
            /* Y = A^T m A: each row of m transformed as it is loaded, then the columns. */ \
            V r[N][TILE], t[TILE][TILE];                                                  \
            for (int a = 0; a < N; a++) {                                                 \
                V mv[N];                                                                  \
                for (int b = 0; b < N; b++)                                               \
                    mv[b] = v_load_part(m + (size_t)(a * N + b) * m_step + k, lanes);     \
                OUT_1D(mv, r[a]);                                                         \
            }                                                                             \
            for (int j = 0; j < TILE; j++) {                                              \
                V cv[N], out[TILE];                                                       \
                for (int a = 0; a < N; a++) cv[a] = r[a][j];                              \
                OUT_1D(cv, out);                                                          \
                for (int i = 0; i < TILE; i++) t[i][j] = out[i];                          \
            }                                                                             \
            const size_t ox = k * TILE;                                                   \
            const size_t cols = out_x - ox < TILE * VL ? out_x - ox : TILE * VL;          \
            for (size_t i = 0; i < rows; i++) {                                           \
                V line[TILE];                                                             \
                INTERLEAVE(t[i], line);                                                   \
                for (size_t h = 0; h < TILE && h * VL < cols; h++) {                      \
                    const size_t at = i * out_x + ox + h * VL;                            \
                    const size_t c = cols - h * VL < VL ? cols - h * VL : VL;             \
                    epilogue_store(y + at, line[h], res ? res + at : NULL, c, ce);        \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

/* line[h] lane q = output pixel h VL + q of a row: column (h VL + q) % TILE of tile
 * (h VL + q) / TILE, from col[j] (lane t: column j of tile t). */
ONNXCC_INLINE void interleave_2(const V col[2], V line[2]) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    line[0] = _mm512_permutex2var_ps(
        col[0], _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0),
        col[1]);
    line[1] = _mm512_permutex2var_ps(
        col[0], _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8),
        col[1]);
#else
    float in[2][VL], out[2 * VL];
    for (int j = 0; j < 2; j++) v_store(in[j], col[j]);
    for (int q = 0; q < 2 * VL; q++) out[q] = in[q % 2][q / 2];
    for (int h = 0; h < 2; h++) line[h] = v_load(out + h * VL);
#endif
}

ONNXCC_INLINE void interleave_4(const V col[4], V line[4]) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    V pair01[2], pair23[2];     /* (col0, col1) and (col2, col3) interleaved */
    const V c01[2] = {col[0], col[1]}, c23[2] = {col[2], col[3]};
    interleave_2(c01, pair01);
    interleave_2(c23, pair23);
    /* Then pairs of floats as doubles: tiles 4h .. 4h + 3 of each. */
    const __m512i lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (int h = 0; h < 2; h++) {
        const __m512d a = _mm512_castps_pd(pair01[h]), b = _mm512_castps_pd(pair23[h]);
        line[2 * h] = _mm512_castpd_ps(_mm512_permutex2var_pd(a, lo, b));
        line[2 * h + 1] = _mm512_castpd_ps(_mm512_permutex2var_pd(a, hi, b));
    }
#else
    float in[4][VL], out[4 * VL];
    for (int j = 0; j < 4; j++) v_store(in[j], col[j]);
    for (int q = 0; q < 4 * VL; q++) out[q] = in[q % 4][q / 4];
    for (int h = 0; h < 4; h++) line[h] = v_load(out + h * VL);
#endif
}

WINO_OUTPUT_ROW(output_row_2, 2, WINO_OUT_1D_2, interleave_2)
WINO_OUTPUT_ROW(output_row_4, 4, WINO_OUT_1D_4, interleave_4)

/* onnxcc_parallel_for task: output channel oc of the block. */
static void output_task(void *ctx, size_t oc, size_t thread) {
    (void)thread;
    const WinoJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const OnnxccWinoPlan *pl = job->pl;
    const OnnxccEpilogue *ep = job->ep;
    const size_t out_y = (size_t)G->out[1], out_x = (size_t)G->out[2], tx_n = pl->tiles_x;
    const size_t m = (size_t)pl->tile;
    ChannelEpi ce = {
        .bias = ep->bias.ptr ? ep->bias_scale * ep->bias.ptr[(ptrdiff_t)oc * ep->bias.row_stride]
                             : 0.0f,
        .slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)oc * ep->slope.row_stride] : 0.0f,
        .ep = ep};
    const size_t plane = out_y * out_x;
    float *yc = job->y + oc * plane;
    const float *rc = job->res ? job->res + oc * plane : NULL;
    const float *mc = job->scratch + pl->m + oc * ((job->tiles + PNR - 1) / PNR * PNR);
    for (size_t ly = 0; ly < job->rows; ly++) {
        const size_t oy = (job->ty0 + ly) * m, at = oy * out_x;
        const size_t rows = out_y - oy < m ? out_y - oy : m;
        if (m == 4)
            output_row_4(mc + ly * tx_n, pl->m_step, tx_n, yc + at, rc ? rc + at : NULL, out_x,
                         rows, &ce);
        else
            output_row_2(mc + ly * tx_n, pl->m_step, tx_n, yc + at, rc ? rc + at : NULL, out_x,
                         rows, &ce);
    }
}

static const OnnxccEpilogue no_epilogue = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};

void onnxcc_f32_conv_wino(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                          size_t out_channels, const float *x, const float *wu, float *y,
                          const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    OnnxccWinoPlan pl;
    onnxcc_conv_wino_plan(&G, in_channels, out_channels, &pl);
    if (!ep) ep = &no_epilogue;
    const size_t in_pix = (size_t)(G.in[1] * G.in[2]), out_pix = (size_t)(G.out[1] * G.out[2]);
    WinoJob job = {.G = &G, .pl = &pl, .in_channels = in_channels,
                   .out_channels = out_channels, .wu = wu, .ep = ep, .scratch = scratch};
    for (size_t n = 0; n < batch; n++) {
        job.x = x + n * in_channels * in_pix;
        job.y = y + n * out_channels * out_pix;
        job.res = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix : NULL;
        for (size_t ty0 = 0; ty0 < pl.tiles_y; ty0 += pl.block_rows) {
            job.ty0 = ty0;
            job.rows = pl.tiles_y - ty0 < pl.block_rows ? pl.tiles_y - ty0 : pl.block_rows;
            job.tiles = job.rows * pl.tiles_x;
            onnxcc_parallel_for(pool, in_channels, input_task, &job);
            onnxcc_parallel_for(pool, pl.positions, product_task, &job);
            onnxcc_parallel_for(pool, out_channels, output_task, &job);
        }
    }
}
