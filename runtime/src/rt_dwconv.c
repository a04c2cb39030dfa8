/* rt_dwconv.c: depthwise convolution, i.e. several groups of one input channel each (with
 * or without a channel multiplier), computed directly: per-group GEMMs with K = kernel
 * size would waste their packing.
 *
 * Every output channel is independent, so the channels (of every image of the batch) are
 * split into tasks for onnxcc_parallel_for; nothing is shared between tasks and no scratch
 * is used, whatever the thread count.
 *
 * 2-D (or 1-D) 3x3, 5x5 and 7x7 kernels of stride 1 or 2 (onnxcc_conv_dw_fast) read the input
 * in place, without copying it into a padded plane:
 *  - with AVX-512 (dw_tile_avx512), a register tile of 4 output rows by 16 or 32 columns
 *    (8 independent accumulators, enough to hide the FMA latency) loads each input vector
 *    once for all the output rows that use it.  Every load is masked: its zeroed lanes
 *    are the padding (columns or whole rows outside the input), so the borders need no
 *    code of their own.  Stride 2 loads 32 consecutive inputs and deinterleaves them with
 *    a permute.  Stride-1 rows of at most 8 outputs (7x7 planes) go two to a vector
 *    instead (dw_pairs_avx512), which fills 14 of its 16 lanes where a row fills 7;
 *  - elsewhere (dw_row_portable), each output row accumulates in place one kernel row at
 *    a time, in loops over the interior columns that compilers vectorise, the few border
 *    columns taking a loop with bounds tests.
 * Other geometries (dilations, 3-D, other kernel sizes or strides) take a general loop
 * (conv_direct_channel).
 *
 * The activation is applied in vector registers (onnxcc_simd.h's v_act, SiLU, Sigmoid
 * and Tanh included): before the stores on the AVX-512 path, over each finished row
 * elsewhere.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "onnxcc_rt.h"

/* gcc in ISO C mode does not contract a * b + c into an FMA (clang does); a fused
 * multiply-add is never less accurate (onnxcc_simd.h's v_fma included). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include "onnxcc_simd.h"

/* The largest kernel side of the fast path (onnxcc_conv_dw_fast: 3, 5 or 7). */
enum { DW_MAX_K = 7 };

#if defined(__GNUC__)
#define DW_INLINE __attribute__((always_inline)) inline
#else
#define DW_INLINE inline
#endif
/* Loops with constant bounds in the register tiles must unroll completely (their
 * accumulators are registers, and the tests on the tap indices then fold away), which
 * the compilers' size heuristics do not always decide by themselves. */
#if defined(__clang__)
/* At -O1 (the sanitizer builds) clang may decline the 7x7 tiles' full unroll and warn;
 * the code is as correct without it, only slower, so the warning is not an error. */
#pragma clang diagnostic ignored "-Wpass-failed"
#define DW_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define DW_UNROLL _Pragma("GCC unroll 32")
#else
#define DW_UNROLL
#endif

static size_t prod3(const int64_t v[3]) { return (size_t)v[0] * (size_t)v[1] * (size_t)v[2]; }

/* What one output channel computes from: its input plane, K x K weights, output plane,
 * the residual plane (NULL if none; it may alias y) and the per-channel epilogue terms. */
typedef struct DwChannel {
    const float *x;
    const float *w;
    float *y;
    const float *res;
    float bias, slope;
} DwChannel;

/* The activation of ep on a vector (v_act). */
static inline V act_v(V x, const OnnxccEpilogue *ep, float slope) {
    return v_act(x, ep->act, ep->act_alpha, ep->act_beta, slope);
}

/* The activation over y[0..n): act_v a vector at a time, the last partial vector through
 * a buffer so that every element gets the same arithmetic wherever it lies. */
static void act_run(float *y, int64_t n, const OnnxccEpilogue *ep, float slope) {
    if (ep->act == ONNXCC_ACT_NONE) return;
    int64_t i = 0;
    for (; i + VL <= n; i += VL) v_store(y + i, act_v(v_load(y + i), ep, slope));
    if (i < n) {
        float tmp[VL] = {0};
        memcpy(tmp, y + i, (size_t)(n - i) * sizeof(float));
        v_store(tmp, act_v(v_load(tmp), ep, slope));
        memcpy(y + i, tmp, (size_t)(n - i) * sizeof(float));
    }
}

/* y[o] = bias + res[o] (or bias alone) for o < n; res may alias y. */
static void row_init(float *y, const float *res, int64_t n, float bias) {
    if (res) {
        for (int64_t o = 0; o < n; o++) y[o] = bias + res[o];
    } else {
        for (int64_t o = 0; o < n; o++) y[o] = bias;
    }
}

/* ---- general case ---------------------------------------------------------------------- */

/* y[i] += w * x[i * stride] for i < n; x and y do not overlap (input vs output). */
static void axpy(int64_t n, float w, const float *restrict x, int64_t stride,
                 float *restrict y) {
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] += w * x[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] += w * x[i * stride];
    }
}

/* One output channel of any geometry.  Each output row starts as bias + residual (read
 * before y is written, so the residual may alias y), each kernel tap then adds w * x over
 * the range of outputs for which that tap is inside the input (no bounds test in the
 * loop, which vectorises), and the activation goes last. */
static void conv_direct_channel(const OnnxccGeom3 *G, const DwChannel *c,
                                const OnnxccEpilogue *ep) {
    const int64_t s2 = G->stride[2];
    for (int64_t o0 = 0; o0 < G->out[0]; o0++)
    for (int64_t o1 = 0; o1 < G->out[1]; o1++) {
        int64_t row = (o0 * G->out[1] + o1) * G->out[2];
        float *yrow = c->y + row;
        row_init(yrow, c->res ? c->res + row : NULL, G->out[2], c->bias);
        for (int64_t k0 = 0; k0 < G->kernel[0]; k0++) {
            int64_t i0 = o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
            if (i0 < 0 || i0 >= G->in[0]) continue;
            for (int64_t k1 = 0; k1 < G->kernel[1]; k1++) {
                int64_t i1 = o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
                if (i1 < 0 || i1 >= G->in[1]) continue;
                const float *xr = c->x + (i0 * G->in[1] + i1) * G->in[2];
                const float *wr = c->w + (k0 * G->kernel[1] + k1) * G->kernel[2];
                for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
                    /* Outputs o2 in [lo, hi) read x[o2 * s2 + off], inside [0, in2). */
                    int64_t off = k2 * G->dilation[2] - G->pad[2];
                    int64_t lo = off >= 0 ? 0 : (-off + s2 - 1) / s2;
                    int64_t last = G->in[2] - 1 - off;
                    int64_t hi = last < 0 ? 0 : last / s2 + 1;
                    if (hi > G->out[2]) hi = G->out[2];
                    if (lo < hi) axpy(hi - lo, wr[k2], xr + lo * s2 + off, s2, yrow + lo);
                }
            }
        }
        act_run(yrow, G->out[2], ep, c->slope);
    }
}

#if defined(ONNXCC_GEMM_ISA_AVX512)

/* ---- AVX-512 ---------------------------------------------------------------------------- */

static inline __mmask16 lanes_inside(int64_t start, int64_t n) {
    return (__mmask16)onnxcc_lanes16_inside(start, n);
}

/* The 16 floats at row + start, the lanes outside `m` zero and not read. */
static inline __m512 load_lanes(__mmask16 m, const float *row, int64_t start) {
    return _mm512_maskz_loadu_ps(m, (const void *)onnxcc_float_addr(row, start));
}

static inline void store_lanes(__mmask16 m, float *row, int64_t start, __m512 v) {
    _mm512_mask_storeu_ps((void *)onnxcc_float_addr(row, start), m, v);
}

/* Whether the register tiles apply the activation before their stores (dw_act): those
 * of the depthwise layers of mobilenet_v2, mobilenet_v3 and efficientnet.  The others go
 * over each finished band of rows while it is in cache (act_run). */
static bool dw_act_in_tile(int act) {
    return act == ONNXCC_ACT_NONE || act == ONNXCC_ACT_RELU || act == ONNXCC_ACT_CLIP ||
           act == ONNXCC_ACT_HARD_SWISH || act == ONNXCC_ACT_SILU;
}

/* The activation of a tile compiled for SiLU (SILU, a constant argument) or for the
 * piecewise-linear ones of dw_act_in_tile, the others passing through.  SiLU has tiles of
 * its own: with its code beside the others' at each store, the tiles ran 10-15% slower
 * (and every activation inlined in every tile made the file take 8x longer to build). */
static inline __m512 dw_act(__m512 x, const bool SILU, const OnnxccEpilogue *ep) {
    if (SILU) return v_silu(x);
    switch (ep->act) {
    case ONNXCC_ACT_RELU: return v_act_linear(x, ONNXCC_ACT_RELU, 0.0f, 0.0f, 0.0f);
    case ONNXCC_ACT_CLIP:
        return v_act_linear(x, ONNXCC_ACT_CLIP, ep->act_alpha, ep->act_beta, 0.0f);
    case ONNXCC_ACT_HARD_SWISH: return v_act_linear(x, ONNXCC_ACT_HARD_SWISH, 0.0f, 0.0f, 0.0f);
    default: return x;
    }
}

/* Output rows per register tile, and the most blocks of 16 columns. */
enum { DW_TILE_ROWS = 4, DW_TILE_BLOCKS = 2 };

/* Output rows [o1, o1 + DW_TILE_ROWS) (those past the plane are computed but not stored)
 * by columns [ox0, ox0 + 16 * B) of a K x K stride-S channel: DW_TILE_ROWS x B
 * independent accumulators, enough to hide the FMA latency, and each input vector loaded
 * once for every output row that uses it.  Every loop has constant bounds and unrolls.
 * Input rows outside the plane get an empty mask, i.e. zeros, like the columns outside a
 * row; stride 2 loads the 32 inputs at column c as two vectors, whose even lanes are tap
 * kx and odd lanes tap kx + 1 of the 16 outputs. */
static DW_INLINE void dw_tile_avx512(const OnnxccGeom3 *G, const int K, const int S,
                                     const int B, const bool SILU, const DwChannel *c,
                                     const OnnxccEpilogue *ep, int64_t o1, int64_t ox0) {
    enum { R = DW_TILE_ROWS };
    const int64_t in1 = G->in[1], in2 = G->in[2], H = G->out[1], W = G->out[2];
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    __m512 acc[DW_TILE_ROWS][DW_TILE_BLOCKS];
    __mmask16 om[DW_TILE_BLOCKS], m[DW_TILE_BLOCKS][DW_MAX_K + 1];   /* K + 1 for S = 2 */
    DW_UNROLL
    for (int b = 0; b < B; b++) {
        int64_t col = (ox0 + 16 * b) * S - G->pad[2];
        om[b] = lanes_inside(ox0 + 16 * b, W);
        DW_UNROLL
        for (int kx = 0; kx < K + (S == 2); kx++)
            m[b][kx] = S == 1 || kx % 2 == 0 ? lanes_inside(col + kx, in2)
                                             : lanes_inside(col + kx - 1 + 16, in2);
        DW_UNROLL
        for (int r = 0; r < R; r++) {
            acc[r][b] = _mm512_set1_ps(c->bias);
            if (c->res && o1 + r < H)
                acc[r][b] = _mm512_add_ps(acc[r][b],
                                          load_lanes(om[b], c->res + (o1 + r) * W, ox0 + 16 * b));
        }
    }
    DW_UNROLL
    for (int t = 0; t < (R - 1) * S + K; t++) {
        const int64_t ir = o1 * S - G->pad[1] + t;
        const bool inside = ir >= 0 && ir < in1;
        const float *row = (const float *)onnxcc_float_addr(c->x, ir * in2);
        DW_UNROLL
        for (int b = 0; b < B; b++) {
            const int64_t col = (ox0 + 16 * b) * S - G->pad[2];
            DW_UNROLL
            for (int kx = 0; kx < K; kx++) {
                __m512 v;
                if (S == 1) {
                    v = load_lanes(inside ? m[b][kx] : 0, row, col + kx);
                } else {
                    int k2 = kx - kx % 2;   /* the even tap whose loads serve kx */
                    __m512 lo = load_lanes(inside ? m[b][k2] : 0, row, col + k2);
                    __m512 hi = load_lanes(inside ? m[b][k2 + 1] : 0, row, col + k2 + 16);
                    v = _mm512_permutex2var_ps(lo, kx % 2 ? odd : even, hi);
                }
                DW_UNROLL
                for (int r = 0; r < R; r++) {
                    const int ky = t - r * S;
                    if (ky >= 0 && ky < K)
                        acc[r][b] = _mm512_fmadd_ps(_mm512_set1_ps(c->w[ky * K + kx]), v,
                                                    acc[r][b]);
                }
            }
        }
    }
    DW_UNROLL
    for (int r = 0; r < R; r++) {
        if (o1 + r >= H) break;
        DW_UNROLL
        for (int b = 0; b < B; b++)
            store_lanes(om[b], c->y + (o1 + r) * W, ox0 + 16 * b,
                        dw_act(acc[r][b], SILU, ep));
    }
}

/* Vectors per tile of dw_pairs_avx512: 8 output rows, a whole 7x7 plane. */
enum { DW_PAIR_VECS = 4 };

/* Whether a stride-1 channel takes dw_pairs_avx512: rows of at most 8 outputs (7x7
 * planes), as wide as the input rows, so that two output rows and the input they read
 * are consecutive floats. */
static bool dw_pairs_fit(const OnnxccGeom3 *G) {
    return G->out[2] <= 8 && G->in[2] == G->out[2];
}

/* Output rows [o1, o1 + 2 * DW_PAIR_VECS) of a K x K stride-1 channel whose rows are at
 * most 8 floats and as wide as the input's (dw_pairs_fit), two rows per vector: lanes
 * [0, W) hold row o1 + 2v, lanes [W, 2W) row o1 + 2v + 1.  The input the two rows read
 * at tap (ky, kx) is then 2W consecutive floats of the plane, one masked load; the
 * column mask of kx keeps each half inside its own row (the lanes whose column falls
 * in the padding, or in the other row, are zero), the row mask drops a half whose input
 * row is padding.  The tile then uses most of its 16 lanes where the row tiles of
 * dw_tile_avx512 use 7.  Even and odd kx accumulate apart (2 x DW_PAIR_VECS chains, to
 * hide the FMA latency), summed before the activation and the store. */
static DW_INLINE void dw_pairs_avx512(const OnnxccGeom3 *G, const int K, const bool SILU,
                                      const DwChannel *c, const OnnxccEpilogue *ep,
                                      int64_t o1) {
    enum { P = DW_PAIR_VECS };
    const int64_t in1 = G->in[1], H = G->out[1], W = G->out[2], p2 = G->pad[2];
    const __mmask16 half0 = lanes_inside(0, W), half1 = (__mmask16)(half0 << W);
    __mmask16 col[DW_MAX_K], om[P];
    DW_UNROLL
    for (int kx = 0; kx < K; kx++) {
        __mmask16 h = half0 & lanes_inside(kx - p2, W);     /* 0 <= column + kx - p2 < W */
        col[kx] = (__mmask16)(h | h << W);
    }
    __m512 acc[2][P];
    DW_UNROLL
    for (int v = 0; v < P; v++) {
        const int64_t r = o1 + 2 * v;
        om[v] = (__mmask16)((r < H ? half0 : 0) | (r + 1 < H ? half1 : 0));
        acc[0][v] = _mm512_set1_ps(c->bias);
        if (c->res) acc[0][v] = _mm512_add_ps(acc[0][v], load_lanes(om[v], c->res, r * W));
        acc[1][v] = _mm512_setzero_ps();
    }
    DW_UNROLL
    for (int t = 0; t < 2 * (P - 1) + K; t++) {
        const int64_t ir = o1 - G->pad[1] + t;    /* input row of half 0 */
        const __mmask16 rows = (__mmask16)((ir >= 0 && ir < in1 ? half0 : 0) |
                                           (ir + 1 >= 0 && ir + 1 < in1 ? half1 : 0));
        DW_UNROLL
        for (int kx = 0; kx < K; kx++) {
            const __m512 x = load_lanes(rows & col[kx], c->x, ir * W + kx - p2);
            DW_UNROLL
            for (int v = 0; v < P; v++) {
                const int ky = t - 2 * v;
                if (ky >= 0 && ky < K)
                    acc[kx % 2][v] = _mm512_fmadd_ps(_mm512_set1_ps(c->w[ky * K + kx]), x,
                                                     acc[kx % 2][v]);
            }
        }
    }
    DW_UNROLL
    for (int v = 0; v < P; v++) {
        store_lanes(om[v], c->y, (o1 + 2 * v) * W,
                    dw_act(_mm512_add_ps(acc[0][v], acc[1][v]), SILU, ep));
    }
}

/* One channel on the fast path, with the tiles compiled for SiLU or not (dw_act). */
static DW_INLINE void dw_channel_fast_ka(const OnnxccGeom3 *G, const int K, const int S,
                                         const bool SILU, const DwChannel *c,
                                         const OnnxccEpilogue *ep) {
    const int64_t H = G->out[1], W = G->out[2];
    const bool later = !dw_act_in_tile(ep->act);
    if (S == 1 && dw_pairs_fit(G)) {
        for (int64_t o1 = 0; o1 < H; o1 += 2 * DW_PAIR_VECS) {
            dw_pairs_avx512(G, K, SILU, c, ep, o1);
            int64_t rows = H - o1 < 2 * DW_PAIR_VECS ? H - o1 : 2 * DW_PAIR_VECS;
            if (later) act_run(c->y + o1 * W, rows * W, ep, c->slope);
        }
        return;
    }
    for (int64_t o1 = 0; o1 < H; o1 += DW_TILE_ROWS) {
        int64_t ox0 = 0;
        for (; ox0 + 16 < W; ox0 += 32) dw_tile_avx512(G, K, S, 2, SILU, c, ep, o1, ox0);
        if (ox0 < W) dw_tile_avx512(G, K, S, 1, SILU, c, ep, o1, ox0);
        int64_t rows = H - o1 < DW_TILE_ROWS ? H - o1 : DW_TILE_ROWS;
        if (later) act_run(c->y + o1 * W, rows * W, ep, c->slope);
    }
}

static DW_INLINE void dw_channel_fast_k(const OnnxccGeom3 *G, const int K, const int S,
                                        const DwChannel *c, const OnnxccEpilogue *ep) {
    if (ep->act == ONNXCC_ACT_SILU) dw_channel_fast_ka(G, K, S, true, c, ep);
    else dw_channel_fast_ka(G, K, S, false, c, ep);
}

#else /* !ONNXCC_GEMM_ISA_AVX512 */

/* ---- portable ----------------------------------------------------------------------------- */

/* Kernel rows [*kb, *ke) of output row o1 that fall inside the input (fast path: no
 * dilation, the 2-D rows are axis 1). */
static void dw_rows_inside(const OnnxccGeom3 *G, int K, int64_t o1, int64_t *kb,
                           int64_t *ke) {
    int64_t i0 = o1 * G->stride[1] - G->pad[1];
    *kb = i0 < 0 ? -i0 : 0;
    *ke = G->in[1] - i0 < K ? G->in[1] - i0 : K;
    if (*ke < *kb) *ke = *kb;
}

/* y[o] += sum over kx of w[kx] * x[o * S + kx] for o < n: one kernel row over interior
 * outputs, the taps unrolled (K and S are constants at each call), vectorised along o. */
static DW_INLINE void dw_row_taps(const int K, const int S, const float *restrict x,
                                  const float *restrict w, float *restrict y, int64_t n) {
    float wk[DW_MAX_K];
    for (int kx = 0; kx < K; kx++) wk[kx] = w[kx];
    for (int64_t o = 0; o < n; o++) {
        float acc = y[o];
        for (int kx = 0; kx < K; kx++) acc += wk[kx] * x[o * S + kx];
        y[o] = acc;
    }
}

/* y[o] += sum over the kx inside the row of w[kx] * x[o * S - p2 + kx], o in [from, to):
 * the border columns, with bounds tests. */
static void dw_row_border(int K, int S, const float *x, int64_t in2, int64_t p2,
                          const float *w, float *y, int64_t from, int64_t to) {
    for (int64_t o = from; o < to; o++)
        for (int kx = 0; kx < K; kx++) {
            int64_t ix = o * S - p2 + kx;
            if (ix >= 0 && ix < in2) y[o] += w[kx] * x[ix];
        }
}

/* One output row: kernel row by kernel row over the interior columns [lo, hi), whose taps
 * are all inside the input, and with bounds tests over the border columns. */
static DW_INLINE void dw_row_portable(const OnnxccGeom3 *G, const int K, const int S,
                                      const DwChannel *c, int64_t o1) {
    const int64_t in2 = G->in[2], W = G->out[2], p2 = G->pad[2];
    int64_t kb, ke;
    dw_rows_inside(G, K, o1, &kb, &ke);
    /* Interior outputs: o * S - p2 >= 0 and o * S - p2 + K - 1 < in2. */
    int64_t lo = (p2 + S - 1) / S, hi = in2 - K + p2 < 0 ? 0 : (in2 - K + p2) / S + 1;
    if (lo > W) lo = W;
    if (hi > W) hi = W;
    if (hi < lo) hi = lo;
    float *yrow = c->y + o1 * W;
    row_init(yrow, c->res ? c->res + o1 * W : NULL, W, c->bias);
    for (int64_t ky = kb; ky < ke; ky++) {
        const float *row = c->x + (o1 * S - G->pad[1] + ky) * in2, *wr = c->w + ky * K;
        if (hi > lo) dw_row_taps(K, S, row + lo * S - p2, wr, yrow + lo, hi - lo);
        dw_row_border(K, S, row, in2, p2, wr, yrow, 0, lo);
        dw_row_border(K, S, row, in2, p2, wr, yrow, hi, W);
    }
}

/* One channel on the fast path: the activation goes over each band of DW_ACT_ROWS
 * finished rows while they are in cache (a band rather than a row: fewer partial
 * vectors on narrow planes). */
enum { DW_ACT_ROWS = 8 };

static DW_INLINE void dw_channel_fast_k(const OnnxccGeom3 *G, const int K, const int S,
                                        const DwChannel *c, const OnnxccEpilogue *ep) {
    const int64_t H = G->out[1], W = G->out[2];
    for (int64_t o1 = 0; o1 < H; o1++) {
        dw_row_portable(G, K, S, c, o1);
        if ((o1 + 1) % DW_ACT_ROWS == 0 || o1 + 1 == H) {
            int64_t first = o1 / DW_ACT_ROWS * DW_ACT_ROWS;
            act_run(c->y + first * W, (o1 + 1 - first) * W, ep, c->slope);
        }
    }
}

#endif

/* The fast path with K and S as constants, so that the taps unroll. */
static void dw_channel_fast(const OnnxccGeom3 *G, const DwChannel *c,
                            const OnnxccEpilogue *ep) {
    const int64_t K = G->kernel[2], S = G->stride[2];
    if (K == 3 && S == 1) dw_channel_fast_k(G, 3, 1, c, ep);
    else if (K == 3) dw_channel_fast_k(G, 3, 2, c, ep);
    else if (K == 5 && S == 1) dw_channel_fast_k(G, 5, 1, c, ep);
    else if (K == 5) dw_channel_fast_k(G, 5, 2, c, ep);
    else if (S == 1) dw_channel_fast_k(G, 7, 1, c, ep);
    else dw_channel_fast_k(G, 7, 2, c, ep);
}

/* ---- entry point ---------------------------------------------------------------------- */

size_t onnxcc_f32_conv_dw_scratch_bytes(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t groups) {
    (void)G, (void)in_channels, (void)groups;
    return 0;
}

/* The work of onnxcc_f32_conv_dw, split into tasks of consecutive (image, channel)
 * pairs. */
typedef struct DwJob {
    const OnnxccGeom3 *G;
    size_t in_channels, out_channels, per_task, total;
    const float *x, *w;
    float *y;
    const OnnxccEpilogue *ep;
    bool fast;
} DwJob;

static void dw_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const DwJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const OnnxccEpilogue *ep = job->ep;
    size_t in_pix = prod3(G->in), out_pix = prod3(G->out), ksize = prod3(G->kernel);
    size_t cout_g = job->out_channels / job->in_channels;
    size_t end = (task + 1) * job->per_task < job->total ? (task + 1) * job->per_task
                                                          : job->total;
    for (size_t i = task * job->per_task; i < end; i++) {
        size_t n = i / job->out_channels, oc = i % job->out_channels, ic = oc / cout_g;
        DwChannel c = {
            .x = job->x + (n * job->in_channels + ic) * in_pix,
            .w = job->w + oc * ksize,
            .y = job->y + i * out_pix,
            .res = ep->residual.ptr ? ep->residual.ptr + i * out_pix : NULL,
            .bias = ep->bias.ptr ? ep->bias_scale *
                                       ep->bias.ptr[(ptrdiff_t)oc * ep->bias.row_stride]
                                 : 0.0f,
            .slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)oc * ep->slope.row_stride]
                                   : 0.0f,
        };
        if (job->fast) dw_channel_fast(G, &c, ep);
        else conv_direct_channel(G, &c, ep);
    }
}

void onnxcc_f32_conv_dw(const OnnxccGeom3 *G, size_t batch, size_t in_channels,
                        size_t out_channels, const float *x, const float *w, float *y,
                        const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    (void)scratch;
    if (in_channels == 0 || batch * out_channels == 0) return;
    DwJob job = {.G = G, .in_channels = in_channels, .out_channels = out_channels,
                 .total = batch * out_channels, .x = x, .w = w, .y = y, .ep = ep,
                 .fast = onnxcc_conv_dw_fast(G, in_channels, in_channels)};
    /* A few tasks per thread evens out their ends; one task without a pool. */
    size_t threads = onnxcc_pool_threads(pool);
    size_t tasks = threads > 1 ? 4 * threads : 1;
    if (tasks > job.total) tasks = job.total;
    job.per_task = (job.total + tasks - 1) / tasks;
    onnxcc_parallel_for(pool, (job.total + job.per_task - 1) / job.per_task, dw_task, &job);
}
