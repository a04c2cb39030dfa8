/* rt_conv_wino.c: 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3)
 * (onnxcc_conv_wino.h has the method and the transforms).
 *
 * The output's tiles are cut into blocks of whole tile rows (onnxcc_conv_wino_plan), sized
 * so that a block's transformed inputs V and products M stay in L2.  Each block takes
 * three steps, each split across the pool's threads:
 *  1. input transform, one task per input channel: for a run of tiles (in one tile row
 *     and one 32-column panel of V), the 4 input rows they read are copied to the stack
 *     with the padding written as zeros; input column j of a vector of tiles is then a
 *     stride-2 load from there (two loads and a permutation with AVX-512).  The 16
 *     results go to V_p's packed-B panels (the tiles are the GEMM's columns), with the
 *     columns of the last panel past the block's tiles set to zero;
 *  2. the 16 products M_p = U_p x V_p, one task each (onnxcc_f32_gemm_pab, the weights
 *     U_p packed at compile time);
 *  3. output transform and epilogue, one task per output channel: A^T m A over a vector
 *     of tiles at a time, the two output rows of each tile row interleaved into a row
 *     buffer, then bias, residual and activation on whole rows before the one store.
 *     Tiles that stick out of the output (odd sizes) are computed and not stored.
 * Every output is computed by the same arithmetic whatever the thread count.
 */
#include <string.h>

#include "onnxcc_conv_wino.h"
#include "onnxcc_simd.h"

enum { WO = ONNXCC_WINO_OUT, WI = ONNXCC_WINO_IN, WP = ONNXCC_WINO_POS, PNR = ONNXCC_PACK_NR };

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

/* ---- step 1: input transform ----------------------------------------------------------- */

/* V = B^T d B for one tile (or a vector of tiles), T being float or V: the columns, then
 * the rows, each by the 1-D transform (x0 - x2, x1 + x2, x2 - x1, x1 - x3). */
#define WINO_INPUT(T, d, v)                                                               \
    do {                                                                                  \
        T t_[WI][WI];                                                                     \
        for (int j = 0; j < WI; j++) {                                                    \
            t_[0][j] = d[0][j] - d[2][j];                                                 \
            t_[1][j] = d[1][j] + d[2][j];                                                 \
            t_[2][j] = d[2][j] - d[1][j];                                                 \
            t_[3][j] = d[1][j] - d[3][j];                                                 \
        }                                                                                 \
        for (int a = 0; a < WI; a++) {                                                    \
            v[a * WI + 0] = t_[a][0] - t_[a][2];                                          \
            v[a * WI + 1] = t_[a][1] + t_[a][2];                                          \
            v[a * WI + 2] = t_[a][2] - t_[a][1];                                          \
            v[a * WI + 3] = t_[a][1] - t_[a][3];                                          \
        }                                                                                 \
    } while (0)

/* Tiles per input step: the 4 input rows they read, copied with their padding, stay on
 * the stack, with room for whole vectors from any tile. */
enum { IN_RUN = 128, ROW_FLOATS = 2 * (IN_RUN + 16) + 2 };

/* The first n (1 <= n <= VL) lanes of v to p. */
ONNXCC_INLINE void store_part(float *p, V v, size_t n) {
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

/* n (1 <= n <= VL) floats at p, zeros after them; the lanes past n are not read. */
ONNXCC_INLINE V load_part(const float *p, size_t n) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#else
    if (n == VL) return v_load(p);
    float tmp[VL] = {0};
    memcpy(tmp, p, n * sizeof(float));
    return v_load(tmp);
#endif
}

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
    if (q < n) store_part(to + q, load_part(src + q, n - q), n - q);
}

/* Input column j (0 .. 3) of VL consecutive tiles from a padded row: row[2 t + j] for tile
 * t, a stride-2 load (two loads and a permutation with AVX-512). */
ONNXCC_INLINE V load_column(const float *row, int j) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7,
                                         5, 3, 1);
    const float *p = row + (j & 2);
    return _mm512_permutex2var_ps(v_load(p), j & 1 ? odd : even, v_load(p + 16));
#else
    float lanes[VL];
    for (int t = 0; t < VL; t++) lanes[t] = row[2 * t + j];
    return v_load(lanes);
#endif
}

/* The transforms of n tiles from tile k0 of the 4 input rows rows[i] (padded, tile t
 * reading rows[i][2 t .. 2 t + 3]), position p's written at dst + p * v_step: n floats,
 * then zeros up to `fill` (>= n: the panel's columns past the block's last tile, which
 * the GEMM reads). */
static ONNXCC_WIDE void input_run(const float *const rows[WI], size_t k0, size_t n,
                                  size_t fill, float *dst, size_t v_step) {
    for (size_t k = 0; k < fill; k += VL) {
        const size_t lanes = fill - k < VL ? fill - k : VL;
        V v[WP];
        if (k < n) {
            V d[WI][WI];
            for (int i = 0; i < WI; i++)
                for (int j = 0; j < WI; j++) d[i][j] = load_column(rows[i] + 2 * (k0 + k), j);
            WINO_INPUT(V, d, v);
            if (n - k < lanes)          /* tiles past the block's last: zeros */
                for (int p = 0; p < WP; p++) v[p] = zero_past(v[p], n - k);
        } else {
            for (int p = 0; p < WP; p++) v[p] = v_zero();
        }
        for (int p = 0; p < WP; p++) store_part(dst + (size_t)p * v_step + k, v[p], lanes);
    }
}

/* onnxcc_parallel_for task: input channel c of the block, IN_RUN tiles of a tile row at a
 * time, in runs (tiles t = ly * tiles_x + tx) that stay in one 32-column panel of V. */
static void input_task(void *ctx, size_t c, size_t thread) {
    (void)thread;
    const WinoJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const OnnxccWinoPlan *pl = job->pl;
    const size_t tx_n = pl->tiles_x, C = job->in_channels;
    const float *xc = job->x + c * (size_t)(G->in[1] * G->in[2]);
    float *v = job->scratch + pl->v;
    /* A ring of input rows: tile row ly reads rows 2 ly .. 2 ly + 3 of the block, from
     * slots (2 ly + i) % 4; the next one reuses two of them. */
    float ring[WI][ROW_FLOATS + VL];
    for (size_t tx0 = 0; tx0 < tx_n; tx0 += IN_RUN) {
        const size_t n_run = tx_n - tx0 < IN_RUN ? tx_n - tx0 : IN_RUN;
        const size_t len = 2 * (n_run + VL) + 2;
        const int64_t row0 = (int64_t)(job->ty0 * WO) - G->pad[1];
        const int64_t col0 = (int64_t)(tx0 * WO) - G->pad[2];
        for (size_t r = 0; r < WI - WO; r++)
            padded_row(xc, G->in[1], G->in[2], row0 + (int64_t)r, col0, len, ring[r]);
        for (size_t ly = 0; ly < job->rows; ly++) {
            for (size_t r = ly * WO + WI - WO; r < ly * WO + WI; r++)
                padded_row(xc, G->in[1], G->in[2], row0 + (int64_t)r, col0, len,
                           ring[r % WI]);
            const float *rows[WI];
            for (size_t i = 0; i < WI; i++) rows[i] = ring[(ly * WO + i) % WI];
            for (size_t tx = tx0; tx < tx0 + n_run;) {
                const size_t t = ly * tx_n + tx;
                size_t n = PNR - t % PNR;
                n = n < tx0 + n_run - tx ? n : tx0 + n_run - tx;
                /* The block's last run also writes the zeros after it in its panel. */
                const size_t fill = t + n == job->tiles ? PNR - t % PNR : n;
                input_run(rows, tx - tx0, n, fill, v + (t / PNR * C + c) * PNR + t % PNR,
                          pl->v_step);
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
    onnxcc_f32_gemm_pab(M, job->tiles, C, 1.0f,
                        job->wu + p * onnxcc_packed_a_floats(M, C),
                        job->scratch + pl->v + p * pl->v_step,
                        job->scratch + pl->m + p * pl->m_step, (ptrdiff_t)job->tiles, NULL,
                        NULL);
}

/* ---- step 3: output transform and epilogue --------------------------------------------- */

/* Y = A^T m A for one tile (or a vector of tiles): the rows by (x0 + x1 + x2, x1 - x2 -
 * x3), then the columns. */
#define WINO_OUTPUT(T, m, y)                                                              \
    do {                                                                                  \
        T s_[WI][WO];                                                                     \
        for (int a = 0; a < WI; a++) {                                                    \
            s_[a][0] = m[a * WI + 0] + m[a * WI + 1] + m[a * WI + 2];                     \
            s_[a][1] = m[a * WI + 1] - m[a * WI + 2] - m[a * WI + 3];                     \
        }                                                                                 \
        for (int b = 0; b < WO; b++) {                                                    \
            y[0][b] = s_[0][b] + s_[1][b] + s_[2][b];                                     \
            y[1][b] = s_[1][b] - s_[2][b] - s_[3][b];                                     \
        }                                                                                 \
    } while (0)

/* Tiles per output step: two rows of 2 * OUT_RUN output pixels on the stack. */
enum { OUT_RUN = 64 };

/* The outputs of n <= OUT_RUN tiles whose 16 products start at m (position p at
 * m + p * m_step): row i of their 2 x 2 outputs to rows[i][0 .. 2n), interleaved. */
static ONNXCC_WIDE void output_run(const float *m, size_t m_step, size_t n,
                                   float rows[WO][WO * OUT_RUN]) {
    float part[WO][WO][OUT_RUN];        /* [row][column in the tile][tile] */
    for (size_t k = 0; k < n; k += VL) {
        const size_t lanes = n - k < VL ? n - k : VL;
        V v[WP], y[WO][WO];
        for (int p = 0; p < WP; p++) v[p] = load_part(m + (size_t)p * m_step + k, lanes);
        WINO_OUTPUT(V, v, y);
        for (int i = 0; i < WO; i++)
            for (int j = 0; j < WO; j++) store_part(&part[i][j][k], y[i][j], lanes);
    }
    for (int i = 0; i < WO; i++)
        for (size_t q = 0; q < n; q++) {
            rows[i][WO * q] = part[i][0][q];
            rows[i][WO * q + 1] = part[i][1][q];
        }
}

#if defined(ONNXCC_GEMM_ISA_AVX512)
/* The same for one tile row of a channel with AVX-512, and the epilogue: the two output
 * columns of 16 tiles interleaved by two permutations into 32 consecutive pixels, each
 * half given its bias, residual and activation in registers and stored (the first `cols`
 * pixels of the row, out_y rows from y (row stride out_x), res likewise). */
static ONNXCC_WIDE void output_row_avx512(const float *m, size_t m_step, size_t n,
                                          float *y, const float *res, size_t out_x,
                                          size_t rows, float bias, float slope,
                                          const OnnxccEpilogue *ep) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                        16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25,
                                        9, 24, 8);
    const V vb = v_set1(bias);
    for (size_t k = 0; k < n; k += VL) {
        const size_t lanes = n - k < VL ? n - k : VL;
        V v[WP], t[WO][WO];
        for (int p = 0; p < WP; p++) v[p] = load_part(m + (size_t)p * m_step + k, lanes);
        WINO_OUTPUT(V, v, t);
        const size_t ox = k * WO, cols = out_x - ox < WO * VL ? out_x - ox : WO * VL;
        for (size_t i = 0; i < rows; i++) {
            V half[2] = {_mm512_permutex2var_ps(t[i][0], lo, t[i][1]),
                         _mm512_permutex2var_ps(t[i][0], hi, t[i][1])};
            for (size_t h = 0; h < 2 && h * VL < cols; h++) {
                const size_t c = cols - h * VL < VL ? cols - h * VL : VL;
                const size_t at = i * out_x + ox + h * VL;
                V r = v_add(half[h], vb);
                if (res) r = v_add(r, load_part(res + at, c));
                store_part(y + at, v_act(r, ep->act, ep->act_alpha, ep->act_beta, slope), c);
            }
        }
    }
}
#endif

/* dst[0 .. n) = act(acc + bias + res) (res NULL: none; it may alias dst), a vector at a
 * time, the last partial vector through a buffer so that every element gets the same
 * arithmetic wherever it lies; Tanh, which has no vector form, by onnxcc_tanh. */
static ONNXCC_WIDE void epilogue_row(float *dst, const float *acc, const float *res, size_t n,
                                     float bias, float slope, const OnnxccEpilogue *ep) {
    const int act = ep->act;
    if (act == ONNXCC_ACT_TANH) {
        for (size_t i = 0; i < n; i++)
            dst[i] = onnxcc_tanh(acc[i] + bias + (res ? res[i] : 0.0f));
        return;
    }
    const V vb = v_set1(bias);
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        V v = v_add(v_load(acc + i), vb);
        if (res) v = v_add(v, v_load(res + i));
        v_store(dst + i, v_act(v, act, ep->act_alpha, ep->act_beta, slope));
    }
    if (i < n) {
        float a[VL] = {0}, r[VL] = {0};
        memcpy(a, acc + i, (n - i) * sizeof(float));
        if (res) memcpy(r, res + i, (n - i) * sizeof(float));
        V v = v_add(v_load(a), vb);
        if (res) v = v_add(v, v_load(r));
        v_store(a, v_act(v, act, ep->act_alpha, ep->act_beta, slope));
        memcpy(dst + i, a, (n - i) * sizeof(float));
    }
}

/* onnxcc_parallel_for task: output channel oc of the block. */
static void output_task(void *ctx, size_t oc, size_t thread) {
    (void)thread;
    const WinoJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const OnnxccWinoPlan *pl = job->pl;
    const OnnxccEpilogue *ep = job->ep;
    const size_t out_y = (size_t)G->out[1], out_x = (size_t)G->out[2], tx_n = pl->tiles_x;
    const float bias = ep->bias.ptr ? ep->bias_scale * ep->bias.ptr[(ptrdiff_t)oc *
                                                                    ep->bias.row_stride]
                                    : 0.0f;
    const float slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)oc * ep->slope.row_stride]
                                      : 0.0f;
    const size_t plane = out_y * out_x;
    float *yc = job->y + oc * plane;
    const float *rc = job->res ? job->res + oc * plane : NULL;
    const float *mc = job->scratch + pl->m + oc * job->tiles;
    float rows[WO][WO * OUT_RUN];
    for (size_t ly = 0; ly < job->rows; ly++) {
        const size_t oy = (job->ty0 + ly) * WO;
#if defined(ONNXCC_GEMM_ISA_AVX512)
        if (ep->act != ONNXCC_ACT_TANH) {
            const size_t at = oy * out_x, rows_left = out_y - oy < WO ? out_y - oy : WO;
            output_row_avx512(mc + ly * tx_n, pl->m_step, tx_n, yc + at, rc ? rc + at : NULL,
                              out_x, rows_left, bias, slope, ep);
            continue;
        }
#endif
        for (size_t tx = 0; tx < tx_n; tx += OUT_RUN) {
            size_t n = tx_n - tx < OUT_RUN ? tx_n - tx : OUT_RUN;
            output_run(mc + ly * tx_n + tx, pl->m_step, n, rows);
            size_t ox = tx * WO, cols = out_x - ox < WO * n ? out_x - ox : WO * n;
            for (size_t i = 0; i < WO && oy + i < out_y; i++) {
                size_t at = (oy + i) * out_x + ox;
                epilogue_row(yc + at, rows[i], rc ? rc + at : NULL, cols, bias, slope, ep);
            }
        }
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
            onnxcc_parallel_for(pool, WP, product_task, &job);
            onnxcc_parallel_for(pool, out_channels, output_task, &job);
        }
    }
}
