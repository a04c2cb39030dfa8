/* rt_conv_blocked.c: direct convolution from register tiles (onnxcc_conv_blocked.h).
 *
 * Per image, two steps:
 *  1. the copy: each input channel goes to a plane of the scratch holding exactly the
 *     padded input the output reads, zeros for the padding and for the channels past C
 *     up to a whole block of 16, each row split by column phase (stride s: the columns
 *     f, f + s, f + 2s, ... together), so that no read of step 2 needs a bounds test and
 *     the inputs of consecutive output pixels are consecutive floats.  One task per
 *     channel.
 *  2. tiles: up to P_MAX consecutive pixels of an output row (or two rows of a plane at
 *     most P_MAX / 2 wide) x 32 output channels in P_MAX x 32 / VL vector accumulators
 *     (AVX-512: 14 x 2 zmm).  For each input channel and tap, the 32 weights are 32 / VL
 *     vector loads and each pixel's input one broadcast.  Each block of 16 input
 *     channels goes over a band of tiles while its weights (taps x 16 x 32 floats, 18 KiB
 *     for 3 x 3) stay in L1; the tiles' partial sums wait on the stack.  After the last
 *     block, each output channel's pixels get bias, residual and activation (v_act) in
 *     one vector before the one store.  A row is cut into tiles of equal width (28
 *     pixels: 14 + 14, 27: 14 + 13).  One task per block of 32 output channels and band
 *     of tiles: each output is computed by the same instructions whatever the thread
 *     count.
 * Written over the vector primitives of onnxcc_simd.h; only the widest tile depends on
 * the ISA (how many accumulators its registers hold).
 */
#include <stdbool.h>
#include <string.h>

/* As in rt_gemm_kernel.c: gcc in ISO C mode contracts a * b + c into an FMA only when
 * asked, and keeps a tile's accumulators in registers only with its loops unrolled. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "peel-loops")
#endif

#include "onnxcc_conv_blocked.h"
#include "onnxcc_simd.h"

/* Pixels per tile: P_MAX x 32 / VL accumulators where the registers hold them with the
 * 32 / VL weight vectors and a broadcast (AVX-512 28 of 32 zmm, NEON 24 of 32, AVX2 8 of
 * 16 ymm, portable 8 of 16 xmm).  Planes at most P_MAX / 2 wide take two rows a tile. */
#if defined(ONNXCC_GEMM_ISA_AVX512)
#define P_MAX 14
#elif defined(ONNXCC_GEMM_ISA_NEON)
#define P_MAX 3
#elif defined(ONNXCC_GEMM_ISA_AVX2)
#define P_MAX 2
#else
#define P_MAX 1
#endif
#define P_HALF (P_MAX / 2)

enum {
    CI = ONNXCC_BLOCKED_CI,
    CO = ONNXCC_BLOCKED_CO,
    NV = CO / VL,               /* vectors per 32 output channels */
};
_Static_assert(CO % VL == 0 && P_MAX <= VL, "a tile row's pixels fit one vector");

/* Tiles per band: their partial sums (14 KiB with AVX-512) and one block's weights
 * (18 KiB for 3 x 3) share L1 (with 16 tiles, 28 KiB of sums, resnet18's stride-2
 * layers ran 5-10 % slower). */
enum { BAND_TILES = 8 };

/* What the tasks of one image share. */
typedef struct BlockedJob {
    OnnxccGeom3 G;
    size_t cin, cout, cin_blocks, taps;
    size_t rows, phases, run;   /* the copied planes (onnxcc_conv_blocked_plane) */
    size_t row_len, plane;      /* floats per copied row and plane */
    size_t cols;                /* padded columns the output reads (<= phases x run) */
    size_t col_in[ONNXCC_BLOCKED_MAX_STRIDE][2];  /* phase f: [ia, ib) from the input row */
    size_t tile_rows;           /* output rows per tile: 1, or 2 on narrow planes */
    size_t tile_w;              /* pixels per tile row (the last of a row may have fewer) */
    size_t tiles_x, tiles;      /* tiles per row group, per plane */
    size_t bands;               /* bands of BAND_TILES tiles per plane */
    const float *x;             /* the image, [cin][in...] */
    float *xc;                  /* its copy, [cin_blocks * 16][rows][phases][run] */
    const float *w;             /* the packed weights */
    float *y;                   /* the image's output, [cout][out...] */
    const float *res;           /* its residual (same layout), or NULL */
    const OnnxccEpilogue *ep;
    ptrdiff_t off[ONNXCC_BLOCKED_MAX_TAPS];   /* tap t: floats from a tile's first input */
} BlockedJob;

/* ---- step 1: the copy ---------------------------------------------------------------- */

/* d[i] = src[i * s] for i < n: whole vectors for s = 1, and with AVX-512 for s = 2
 * (two loads and a permute for 16 floats); element by element otherwise. */
static ONNXCC_WIDE void copy_strided(float *d, const float *src, size_t n, size_t s) {
    size_t i = 0;
    if (s == 1) {
        for (; i + VL <= n; i += VL) v_store(d + i, v_load(src + i));
        if (i < n) v_store_part(d + i, v_load_part(src + i, n - i), n - i);
        return;
    }
#if defined(ONNXCC_GEMM_ISA_AVX512)
    if (s == 2) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8,
                                               6, 4, 2, 0);
        for (; i < n; i += 16) {
            /* Outputs [i, i + m) read src[2i .. 2i + 2m - 2]: 2m - 1 floats. */
            const size_t m = n - i < 16 ? n - i : 16, reads = 2 * m - 1;
            const __m512 lo = _mm512_maskz_loadu_ps(
                (__mmask16)(reads >= 16 ? 0xffffu : (1u << reads) - 1u), src + 2 * i);
            const __m512 hi =
                reads > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (reads - 16)) - 1u),
                                                   src + 2 * i + 16)
                           : _mm512_setzero_ps();
            _mm512_mask_storeu_ps(d + i, (__mmask16)(m == 16 ? 0xffffu : (1u << m) - 1u),
                                  _mm512_permutex2var_ps(lo, even, hi));
        }
        return;
    }
#endif
    for (; i < n; i++) d[i] = src[i * s];
}

#if defined(ONNXCC_GEMM_ISA_AVX512)
/* Stride 2: the input row's first n floats (those the output reads) to both phases at
 * once, 32 at a time: input column x is padded column q = x + pad, element q / 2 of
 * phase q % 2, so the even columns go to phase pad % 2 from element pad / 2 and the
 * odd ones to the other phase from element (pad + 1) / 2.  (Half the loads of a pass
 * per phase: the copy was 6-9 % of resnet's stride-2 layers.) */
static ONNXCC_WIDE void copy_row_s2(float *dst, size_t run, const float *row, size_t n,
                                    size_t pad) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    float *de = dst + pad % 2 * run + pad / 2, *dod = dst + (pad + 1) % 2 * run + (pad + 1) / 2;
    for (size_t x = 0; x < n; x += 32) {
        const size_t m = n - x < 32 ? n - x : 32, ne = (m + 1) / 2, no = m / 2;
        const __m512 lo = _mm512_maskz_loadu_ps(
            (__mmask16)(m >= 16 ? 0xffffu : (1u << m) - 1u), row + x);
        const __m512 hi = m > 16 ? _mm512_maskz_loadu_ps(
                                       (__mmask16)(m == 32 ? 0xffffu : (1u << (m - 16)) - 1u),
                                       row + x + 16)
                                 : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(de + x / 2, (__mmask16)(ne == 16 ? 0xffffu : (1u << ne) - 1u),
                              _mm512_permutex2var_ps(lo, even, hi));
        if (no)
            _mm512_mask_storeu_ps(dod + x / 2,
                                  (__mmask16)(no == 16 ? 0xffffu : (1u << no) - 1u),
                                  _mm512_permutex2var_ps(lo, odd, hi));
    }
}
#endif

/* Task c: channel c's plane, zeros past cin. */
static void copy_task(void *ctx, size_t c, size_t thread) {
    (void)thread;
    const BlockedJob *job = ctx;
    const OnnxccGeom3 *G = &job->G;
    float *dst = job->xc + c * job->plane;
    if (c >= job->cin) {
        memset(dst, 0, job->plane * sizeof(float));
        return;
    }
    const size_t in_y = (size_t)G->in[1], in_x = (size_t)G->in[2], s = (size_t)G->stride[2];
    const size_t run = job->run, pad = (size_t)G->pad[2];
    const float *src = job->x + c * in_y * in_x;
    for (size_t r = 0; r < job->rows; r++, dst += job->row_len) {
        const int64_t iy = (int64_t)r - G->pad[1];
        if (iy < 0 || iy >= (int64_t)in_y) {
            memset(dst, 0, job->row_len * sizeof(float));
            continue;
        }
#if defined(ONNXCC_GEMM_ISA_AVX512)
        if (s == 2) {
            /* Zeros where no input column lands, then the columns the output reads. */
            for (size_t f = 0; f < 2; f++) {
                float *d = dst + f * run;
                for (size_t i = 0; i < job->col_in[f][0]; i++) d[i] = 0.0f;
                for (size_t i = job->col_in[f][1]; i < run; i++) d[i] = 0.0f;
            }
            const size_t n = job->cols <= pad ? 0 : job->cols - pad < in_x ? job->cols - pad : in_x;
            copy_row_s2(dst, run, src + (size_t)iy * in_x, n, pad);
            continue;
        }
#endif
        for (size_t f = 0; f < s; f++) {
            /* Element i reads input column i * s + f - pad, in the row for i in
             * [ia, ib). */
            float *d = dst + f * run;
            const size_t ia = job->col_in[f][0], ib = job->col_in[f][1];
            for (size_t i = 0; i < ia; i++) d[i] = 0.0f;
            if (ib > ia)
                copy_strided(d + ia, src + (size_t)iy * in_x + (ia * s + f - pad), ib - ia, s);
            for (size_t i = ib; i < run; i++) d[i] = 0.0f;
        }
    }
}

/* ---- step 2: tiles -------------------------------------------------------------------- */

/* What one block of output channels' epilogue needs, per channel. */
typedef struct TileEpi {
    float bias[CO], slope[CO];
    size_t valid;               /* output channels of the block below cout */
} TileEpi;

/* A tile's partial sums: P_MAX pixels rounded up to a whole vector's lanes, so that
 * the AVX-512 epilogue can transpose 16 x 16 blocks (the rows past the tile's pixels
 * are zeros). */
#define PART_ROWS ((P_MAX + VL - 1) / VL * VL)

#if defined(ONNXCC_GEMM_ISA_AVX512)
/* v[j] = (t[0][j], t[1][j], ..., t[15][j]) for the 16 x 16 block of t whose rows are
 * `stride` floats apart. */
static ONNXCC_WIDE void transpose16(const float *t, size_t stride, __m512 v[16]) {
    __m512 r[16], a[16], b[16], c[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(t + (size_t)i * stride);
    /* Pairs of rows interleaved, then pairs of pairs: b[4q + k] holds, in its 128-bit
     * lane l, column 4l + k of rows 4q .. 4q + 3. */
    for (int i = 0; i < 16; i += 2) {
        a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int h = 0; h < 2; h++) {
            const __m512d x = _mm512_castps_pd(a[i + h]), y = _mm512_castps_pd(a[i + h + 2]);
            b[i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
            b[i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
        }
    /* Then the 128-bit lanes of the four quads gathered, twice. */
    for (int i = 0; i < 4; i++) {
        c[i] = _mm512_shuffle_f32x4(b[i], b[i + 4], 0x88);
        c[i + 4] = _mm512_shuffle_f32x4(b[i], b[i + 4], 0xdd);
        c[i + 8] = _mm512_shuffle_f32x4(b[i + 8], b[i + 12], 0x88);
        c[i + 12] = _mm512_shuffle_f32x4(b[i + 8], b[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = _mm512_shuffle_f32x4(c[i], c[i + 8], 0x88);
        v[i + 8] = _mm512_shuffle_f32x4(c[i], c[i + 8], 0xdd);
    }
}
#endif

/* The epilogue of a finished tile t[p][o] (pixel p = row * pn + column, channel o of the
 * block) of nr rows x pn pixels, whose first output is at y (and res) of each channel,
 * planes `plane` apart and rows `width` apart.  Channel o's pixels come to one vector:
 * with AVX-512 by transposing 16 x 16 blocks of t, elsewhere element by element.  (The
 * accumulators reach it through t, stored by the tile: passing their array would take
 * its address, and clang then keeps some of them in memory through the whole
 * accumulation, 2.5x slower.) */
static ONNXCC_WIDE void tile_store(const BlockedJob *job, float t[PART_ROWS][CO], size_t nr,
                                   size_t pn, const TileEpi *te, float *y, const float *res,
                                   size_t plane, size_t width) {
    const OnnxccEpilogue *ep = job->ep;
#if defined(ONNXCC_GEMM_ISA_AVX512)
    /* The second row's lanes [pn, 2 pn) moved to [0, pn). */
    const __m512i down = _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                                           5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)pn));
    for (size_t h = 0; h < CO / 16 && h * 16 < te->valid; h++) {
        __m512 v[16];
        transpose16(&t[0][h * 16], CO, v);
        for (size_t j = 0; j < 16 && h * 16 + j < te->valid; j++) {
            const size_t o = h * 16 + j;
            for (size_t r = 0; r < nr; r++) {
                const size_t at = o * plane + r * width;
                V u = v_add(r == 0 ? v[j] : _mm512_permutexvar_ps(down, v[j]),
                            v_set1(te->bias[o]));
                if (res) u = v_add(u, v_load_part(res + at, pn));
                v_store_part(y + at,
                             v_act(u, ep->act, ep->act_alpha, ep->act_beta, te->slope[o]), pn);
            }
        }
    }
#else
    for (size_t o = 0; o < te->valid; o++)
        for (size_t r = 0; r < nr; r++) {
            float lane[VL] = {0};
            for (size_t p = 0; p < pn; p++) lane[p] = t[r * pn + p][o];
            const size_t at = o * plane + r * width;
            V u = v_add(v_load(lane), v_set1(te->bias[o]));
            if (res) u = v_add(u, v_load_part(res + at, pn));
            v_store_part(y + at, v_act(u, ep->act, ep->act_alpha, ep->act_beta, te->slope[o]),
                         pn);
        }
#endif
}

/* One input channel's step of a tile: its 32 weights at w, its pixels' inputs at x0
 * (the second row's `down` floats further). */
#define TILE_CHANNEL(R, PN)                                                               \
    do {                                                                                  \
        V wv[NV];                                                                         \
        for (int v = 0; v < NV; v++) wv[v] = v_load(w + v * VL);                          \
        for (int r = 0; r < R; r++)                                                       \
            for (int p = 0; p < PN; p++) {                                                \
                const V xv = v_set1(x0[(size_t)r * down + (size_t)p]);                    \
                for (int v = 0; v < NV; v++)                                              \
                    acc[(r * PN + p) * NV + v] = v_fma(xv, wv[v], acc[(r * PN + p) * NV + v]); \
            }                                                                             \
    } while (0)

/* One tile of R rows x PN pixels whose inputs for tap t start at xb + off[t] (the second
 * row's `down` floats further), for the weights w of one block of 16 input channels:
 * the sums so far from part (zeros for the first block), this block's channels x taps
 * added, then back to part.  With pf, each channel's step also asks for two lines of
 * the weights at pf into L2 (the next block's, as many as w's). */
#define BLOCKED_TILE(R, PN)                                                               \
    static ONNXCC_WIDE void tile_##R##_##PN(const BlockedJob *job, const float *w,        \
                                            const float *xb, size_t down,                 \
                                            float part[][CO], bool first,                 \
                                            const float *pf) {                            \
        const size_t plane = job->plane, taps = job->taps;                                \
        V acc[R * PN * NV];                                                               \
        for (int p = 0; p < R * PN; p++)                                                  \
            for (int v = 0; v < NV; v++)                                                  \
                acc[p * NV + v] = first ? v_zero() : v_load(&part[p][v * VL]);            \
        for (size_t t = 0; t < taps; t++) {                                               \
            const float *x0 = xb + job->off[t];                                           \
            if (pf)                                                                       \
                for (int c = 0; c < CI; c++, w += CO, x0 += plane, pf += CO) {            \
                    __builtin_prefetch(pf, 0, 2);                                         \
                    __builtin_prefetch(pf + CO / 2, 0, 2);                                \
                    TILE_CHANNEL(R, PN);                                                  \
                }                                                                         \
            else                                                                          \
                for (int c = 0; c < CI; c++, w += CO, x0 += plane) TILE_CHANNEL(R, PN);   \
        }                                                                                 \
        for (int p = 0; p < R * PN; p++)                                                  \
            for (int v = 0; v < NV; v++) v_store(&part[p][v * VL], acc[p * NV + v]);      \
    }
BLOCKED_TILE(1, 1)
#if P_MAX >= 2
BLOCKED_TILE(1, 2)
BLOCKED_TILE(2, 1)
#endif
#if P_MAX >= 3
BLOCKED_TILE(1, 3)
#endif
#if P_MAX >= 14
BLOCKED_TILE(1, 4)
BLOCKED_TILE(1, 5)
BLOCKED_TILE(1, 6)
BLOCKED_TILE(1, 7)
BLOCKED_TILE(1, 8)
BLOCKED_TILE(1, 9)
BLOCKED_TILE(1, 10)
BLOCKED_TILE(1, 11)
BLOCKED_TILE(1, 12)
BLOCKED_TILE(1, 13)
BLOCKED_TILE(1, 14)
BLOCKED_TILE(2, 2)
BLOCKED_TILE(2, 3)
BLOCKED_TILE(2, 4)
BLOCKED_TILE(2, 5)
BLOCKED_TILE(2, 6)
BLOCKED_TILE(2, 7)
#endif

typedef void (*TileFn)(const BlockedJob *, const float *, const float *, size_t, float[][CO],
                       bool, const float *);
/* tiles[r - 1][pn]: the tile of r rows x pn pixels. */
static const TileFn tiles[2][P_MAX + 1] = {
    {NULL, tile_1_1,
#if P_MAX >= 2
     tile_1_2,
#endif
#if P_MAX >= 3
     tile_1_3,
#endif
#if P_MAX >= 14
     tile_1_4, tile_1_5, tile_1_6, tile_1_7, tile_1_8, tile_1_9, tile_1_10, tile_1_11,
     tile_1_12, tile_1_13, tile_1_14,
#endif
    },
    {NULL,
#if P_MAX >= 2
     tile_2_1,
#endif
#if P_MAX >= 14
     tile_2_2, tile_2_3, tile_2_4, tile_2_5, tile_2_6, tile_2_7,
#endif
    },
};
_Static_assert(P_MAX == 1 || P_MAX == 2 || P_MAX == 3 || P_MAX == 14,
               "the tile table lists every shape up to P_MAX");

/* Task ob * bands + band: output channels [32 ob, 32 ob + 32) of tiles
 * [band * BAND_TILES, ...) of the plane. */
static void band_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const BlockedJob *job = ctx;
    const OnnxccGeom3 *G = &job->G;
    const OnnxccEpilogue *ep = job->ep;
    const size_t out_y = (size_t)G->out[1], out_x = (size_t)G->out[2], plane = out_y * out_x;
    const size_t ob = task / job->bands, t0 = task % job->bands * BAND_TILES;
    const size_t t1 = t0 + BAND_TILES < job->tiles ? t0 + BAND_TILES : job->tiles;
    const size_t oc0 = ob * CO;
    /* Input floats between two output rows of a tile. */
    const size_t down = (size_t)G->stride[1] * job->row_len;
    TileEpi te = {.valid = job->cout - oc0 < CO ? job->cout - oc0 : CO};
    for (size_t o = 0; o < te.valid; o++) {
        te.bias[o] = ep->bias.ptr ? ep->bias_scale *
                                        ep->bias.ptr[(ptrdiff_t)(oc0 + o) * ep->bias.row_stride]
                                  : 0.0f;
        te.slope[o] = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)(oc0 + o) * ep->slope.row_stride]
                                    : 0.0f;
    }
    float part[BAND_TILES][PART_ROWS][CO];
    /* The rows past each tile's pixels, which only the epilogue's transpose reads. */
    for (size_t k = t0; k < t1; k++) {
        const size_t oy = k / job->tiles_x * job->tile_rows, ox = k % job->tiles_x * job->tile_w;
        const size_t nr = out_y - oy < job->tile_rows ? out_y - oy : job->tile_rows;
        const size_t pn = out_x - ox < job->tile_w ? out_x - ox : job->tile_w;
        memset(part[k - t0][nr * pn], 0, (PART_ROWS - nr * pn) * CO * sizeof(float));
    }
    const size_t wblock = job->taps * CI * CO;  /* floats of weights per input block */
    for (size_t cb = 0; cb < job->cin_blocks; cb++) {
        const float *w = job->w + (ob * job->cin_blocks + cb) * wblock;
        const float *xcb = job->xc + cb * CI * job->plane;
        for (size_t k = t0; k < t1; k++) {
            const size_t oy = k / job->tiles_x * job->tile_rows, ox = k % job->tiles_x * job->tile_w;
            const size_t nr = out_y - oy < job->tile_rows ? out_y - oy : job->tile_rows;
            const size_t pn = out_x - ox < job->tile_w ? out_x - ox : job->tile_w;
            float(*pt)[CO] = part[k - t0];
            /* The band's first tile asks for the next block's weights into L2, spread over
             * its steps: inside a model they come from L3 or memory (resnet's 512 -> 512
             * layers read 9.4 MB a run), and the band's few tiles (4 on 7 x 7) leave the
             * hardware prefetcher too little time.  512@7 and 256->512@14/2 ran 8-15 %
             * faster alone; a burst of the whole block's prefetches at the start made
             * them 13-16 % slower than none, and one in every tile cost the larger
             * planes 2-5 %. */
            const bool ask = k == t0 && cb + 1 < job->cin_blocks;
            tiles[nr - 1][pn](job, w, xcb + oy * down + ox, down, pt, cb == 0,
                              ask ? w + wblock : NULL);
            if (cb + 1 == job->cin_blocks) {
                const size_t at = oc0 * plane + oy * out_x + ox;
                tile_store(job, pt, nr, pn, &te, job->y + at, job->res ? job->res + at : NULL,
                           plane, out_x);
            }
        }
    }
}

/* ---- entry point ---------------------------------------------------------------------- */

static const OnnxccEpilogue no_epilogue = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};

void onnxcc_f32_conv_blocked(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                             size_t out_channels, const float *x, const float *wb, float *y,
                             const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    BlockedJob job = {.cin = in_channels, .cout = out_channels, .w = wb, .xc = scratch};
    onnxcc_geom3(g, &job.G);
    const OnnxccGeom3 *G = &job.G;
    if (!ep) ep = &no_epilogue;
    job.ep = ep;
    job.cin_blocks = (in_channels + CI - 1) / CI;
    job.taps = (size_t)(G->kernel[1] * G->kernel[2]);
    onnxcc_conv_blocked_plane(G, &job.rows, &job.phases, &job.run);
    job.row_len = job.phases * job.run;
    job.cols = (size_t)((G->out[2] - 1) * G->stride[2] + (G->kernel[2] - 1) * G->dilation[2] + 1);
    job.plane = job.rows * job.row_len;
    /* Phase f's element i is padded column i * s + f, input column i * s + f - pad: in
     * the input row for i in [ia, ib). */
    for (int64_t f = 0, s = G->stride[2], pad = G->pad[2], run = (int64_t)job.run; f < s; f++) {
        int64_t ia = pad - f <= 0 ? 0 : (pad - f + s - 1) / s;
        int64_t ib = G->in[2] + pad - f <= 0 ? 0 : (G->in[2] + pad - f + s - 1) / s;
        ia = ia > run ? run : ia;
        ib = ib > run ? run : ib < ia ? ia : ib;
        job.col_in[f][0] = (size_t)ia;
        job.col_in[f][1] = (size_t)ib;
    }
    /* Tap (ky, kx) reads padded row oy * sy + ky * dy and column (ox + p) * sx + kx * dx:
     * phase (kx * dx) % sx, element ox + p + (kx * dx) / sx of it. */
    for (size_t t = 0; t < job.taps; t++) {
        const int64_t ky = (int64_t)t / G->kernel[2], kx = (int64_t)t % G->kernel[2];
        const int64_t col = kx * G->dilation[2], s = G->stride[2];
        job.off[t] = (ptrdiff_t)(ky * G->dilation[1] * (int64_t)job.row_len +
                                 col % s * (int64_t)job.run + col / s);
    }
    /* Tiles: two rows of the whole width on planes at most P_MAX / 2 wide, else one row
     * cut into tiles of equal width, as few as P_MAX allows. */
    const size_t out_x = (size_t)G->out[2], out_y = (size_t)G->out[1];
    if (P_HALF >= 1 && out_x <= P_HALF) {
        job.tile_rows = 2;
        job.tile_w = out_x;
        job.tiles_x = 1;
    } else {
        job.tile_rows = 1;
        job.tiles_x = (out_x + P_MAX - 1) / P_MAX;
        job.tile_w = (out_x + job.tiles_x - 1) / job.tiles_x;
    }
    job.tiles = (out_y + job.tile_rows - 1) / job.tile_rows * job.tiles_x;
    job.bands = (job.tiles + BAND_TILES - 1) / BAND_TILES;
    const size_t in_pix = (size_t)(G->in[1] * G->in[2]), out_pix = out_y * out_x;
    const size_t out_blocks = (out_channels + CO - 1) / CO;
    for (size_t n = 0; n < batch; n++) {
        job.x = x + n * in_channels * in_pix;
        job.y = y + n * out_channels * out_pix;
        job.res = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix : NULL;
        onnxcc_parallel_for(pool, job.cin_blocks * CI, copy_task, &job);
        onnxcc_parallel_for(pool, out_blocks * job.bands, band_task, &job);
    }
}
