/* rt_pool.c: max and average pooling over 1-D to 3-D windows, and the global pools.
 *
 * Like rt_conv.c, geometry is widened to 3-D (missing axes of size 1, in front).  Windows are
 * clipped to the input per axis; the clipped ranges also give average pooling its
 * divisor (positions inside the input, or inside input + explicit padding).
 *
 * Without the Indices output, pooling is separable: for each output row, the input rows
 * its windows cover are first reduced (max or sum) into a row buffer on the stack, padded
 * with the reduction's identity (-inf or 0) where the windows leave the input; each
 * output then reduces kernel-width entries of that buffer.  Both loops are contiguous or
 * of constant stride, without bounds tests, and vectorise; every input row is read once
 * per output row instead of once per kernel tap.  Windows wider than the buffer take
 * per-tap passes (pool_row_by_taps).  With AVX-512, max pools of width 2 or 3 and stride
 * 2 (those of CNNs) keep a row's windows in registers instead (pool_row_max_s2_avx512).
 * The window rows of an output row are the same in every plane: a task computes them
 * for a chunk of rows, then runs the chunk over its planes.  The Indices output takes a
 * plain loop over each window.  With a pool, planes are split across its threads.
 */
#include <stdbool.h>
#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "onnxcc_rt.h"

/* Planes per task when `planes` planes are split across the pool's threads: a few tasks
 * per thread even out their ends; one task without a pool. */
static size_t plane_tasks(size_t planes, OnnxccPool *pool) {
    size_t threads = onnxcc_pool_threads(pool), tasks = threads > 1 ? 4 * threads : 1;
    if (tasks > planes) tasks = planes;
    return tasks ? (planes + tasks - 1) / tasks : 1;
}

/* First and one-past-last kernel taps of axis a whose input position lies in [lo, hi). */
static void taps(const OnnxccGeom3 *G, int a, int64_t o, int64_t lo, int64_t hi, int64_t *k_begin,
                 int64_t *k_end) {
    int64_t start = o * G->stride[a] - G->pad[a];
    int64_t kb = 0, ke = G->kernel[a];
    while (kb < ke && start + kb * G->dilation[a] < lo) kb++;
    while (ke > kb && start + (ke - 1) * G->dilation[a] >= hi) ke--;
    *k_begin = kb;
    *k_end = ke;
}

/* Outputs o2 in [*lo, *hi) whose tap k2 falls inside the input on the last axis. */
static void tap_range(const OnnxccGeom3 *G, int64_t k2, int64_t *lo, int64_t *hi, int64_t *off) {
    const int64_t s2 = G->stride[2];
    *off = k2 * G->dilation[2] - G->pad[2];
    *lo = *off >= 0 ? 0 : (-*off + s2 - 1) / s2;
    int64_t last = G->in[2] - 1 - *off;
    *hi = last < 0 ? 0 : last / s2 + 1;
    if (*hi > G->out[2]) *hi = G->out[2];
}

#if defined(__GNUC__)
#define POOL_INLINE __attribute__((always_inline)) inline
#else
#define POOL_INLINE inline
#endif

/* y[i] = max(y[i], x[i * stride]) (or y[i] += x[i * stride]) for i < n.  The max keeps y
 * when x is NaN, as ONNX runtimes do. */
static void reduce_into(bool is_max, int64_t n, const float *restrict x, int64_t stride,
                        float *restrict y) {
    if (is_max && stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > y[i] ? x[i] : y[i];
    } else if (is_max) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i * stride] > y[i] ? x[i * stride] : y[i];
    } else if (stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] += x[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] += x[i * stride];
    }
}

/* Floats of the row buffer of the separable path (on the stack). */
enum { POOL_ROW = 1024 };

/* What one task of a windowed pool needs. */
typedef struct PoolJob {
    OnnxccGeom3 G;
    size_t planes, per_task;
    const float *x;
    float *y;
    bool is_max, include_pad;
    int64_t full_lo, full_hi;   /* outputs of axis 2 whose every tap is counted (average) */
} PoolJob;

/* Kernel taps [a, b) of axes 0 and 1 inside the input for output row (o0, o1), and for
 * the average the divisor's factor from those axes. */
typedef struct PoolRow {
    int64_t a0, b0, a1, b1, count01;
} PoolRow;

static PoolRow pool_row(const PoolJob *job, int64_t o0, int64_t o1) {
    const OnnxccGeom3 *G = &job->G;
    PoolRow r;
    int64_t c0, d0, c1, d1;
    taps(G, 0, o0, 0, G->in[0], &r.a0, &r.b0);
    taps(G, 1, o1, 0, G->in[1], &r.a1, &r.b1);
    taps(G, 0, o0, -G->pad[0], G->in[0] + G->pad_end[0], &c0, &d0);
    taps(G, 1, o1, -G->pad[1], G->in[1] + G->pad_end[1], &c1, &d1);
    r.count01 = job->include_pad ? (d0 - c0) * (d1 - c1) : (r.b0 - r.a0) * (r.b1 - r.a1);
    return r;
}

/* Input row (k0, k1) of output row (o0, o1). */
static const float *pool_input_row(const OnnxccGeom3 *G, const float *xp, int64_t o0,
                                   int64_t o1, int64_t k0, int64_t k1) {
    int64_t i0 = o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
    int64_t i1 = o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
    return xp + (i0 * G->in[1] + i1) * G->in[2];
}

/* The taps of axis 2 that average pooling counts for output o2: inside the input, or
 * the input and its explicit padding. */
static int64_t count2(const PoolJob *job, int64_t o2) {
    const OnnxccGeom3 *G = &job->G;
    int64_t a2, b2;
    if (job->include_pad) taps(G, 2, o2, -G->pad[2], G->in[2] + G->pad_end[2], &a2, &b2);
    else taps(G, 2, o2, 0, G->in[2], &a2, &b2);
    return b2 - a2;
}

/* Outputs [lo, hi) of a row divided by count01 * count2 (0 taps give 0). */
static void divide_edge(const PoolJob *job, const PoolRow *r, int64_t lo, int64_t hi,
                        float *yrow) {
    for (int64_t o2 = lo; o2 < hi; o2++) {
        int64_t cnt = r->count01 * count2(job, o2);
        yrow[o2] = cnt > 0 ? yrow[o2] / (float)cnt : 0.0f;
    }
}

/* Average pooling's divisor for the outputs of a row: count01 times count2; 0 taps give
 * 0.  The outputs [job->full_lo, job->full_hi) count every tap of axis 2: one divisor
 * for all of them (a loop that vectorises), count2 for the few at the edges (count2
 * per output was most of an average pool's time). */
static void pool_divide(const PoolJob *job, const PoolRow *r, float *restrict yrow) {
    const OnnxccGeom3 *G = &job->G;
    divide_edge(job, r, 0, job->full_lo, yrow);
    const float div = (float)(r->count01 * G->kernel[2]);
    for (int64_t o2 = job->full_lo; o2 < job->full_hi; o2++)
        yrow[o2] = r->count01 > 0 ? yrow[o2] / div : 0.0f;
    divide_edge(job, r, job->full_hi, G->out[2], yrow);
}

/* One output row by kernel tap: each tap reduces into the range of outputs for which it
 * is inside the input (no test in the loop).  For windows wider than the row buffer. */
static void pool_row_by_taps(const PoolJob *job, const float *xp, int64_t o0, int64_t o1,
                             const PoolRow *r, float *yrow) {
    const OnnxccGeom3 *G = &job->G;
    for (int64_t o2 = 0; o2 < G->out[2]; o2++) yrow[o2] = job->is_max ? -ONNXCC_INF : 0.0f;
    for (int64_t k0 = r->a0; k0 < r->b0; k0++)
    for (int64_t k1 = r->a1; k1 < r->b1; k1++) {
        const float *row = pool_input_row(G, xp, o0, o1, k0, k1);
        for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
            int64_t lo, hi, off;
            tap_range(G, k2, &lo, &hi, &off);
            if (lo < hi)
                reduce_into(job->is_max, hi - lo, row + lo * G->stride[2] + off, G->stride[2],
                            yrow + lo);
        }
    }
}

/* y[o] = the max (or sum) of v[o * S + k * d] over k < K, o < n.  K, S and d are constants
 * at the calls that matter, so the taps unroll and the loop vectorises. */
static POOL_INLINE void pool_cols(const bool is_max, const int64_t K, const int64_t S,
                                  const int64_t d, const float *restrict v, float *restrict y,
                                  int64_t n) {
    for (int64_t o = 0; o < n; o++) {
        float m = v[o * S];
        for (int64_t k = 1; k < K; k++) {
            float e = v[o * S + k * d];
            m = is_max ? (e > m ? e : m) : m + e;
        }
        y[o] = m;
    }
}

static void pool_cols_any(bool is_max, const OnnxccGeom3 *G, const float *v, float *y,
                          int64_t n) {
    const int64_t K = G->kernel[2], S = G->stride[2], d = G->dilation[2];
    if (is_max && d == 1 && K == 3 && S == 2) pool_cols(true, 3, 2, 1, v, y, n);
    else if (is_max && d == 1 && K == 2 && S == 2) pool_cols(true, 2, 2, 1, v, y, n);
    else if (is_max && d == 1 && K == 3 && S == 1) pool_cols(true, 3, 1, 1, v, y, n);
    else if (is_max) pool_cols(true, K, S, d, v, y, n);
    else if (d == 1 && K == 2 && S == 2) pool_cols(false, 2, 2, 1, v, y, n);
    else if (d == 1 && K == 3 && S == 1) pool_cols(false, 3, 1, 1, v, y, n);
    else pool_cols(false, K, S, d, v, y, n);
}

/* One output row, separable (see the top of the file), in chunks of outputs whose input
 * columns fit the buffer: chunk outputs [oa, oa + n) read padded columns
 * [oa * S, oa * S + span), padded column j being input column j - pad2. */
static void pool_row_separable(const PoolJob *job, const float *xp, int64_t o0, int64_t o1,
                               const PoolRow *r, float *yrow) {
    const OnnxccGeom3 *G = &job->G;
    const int64_t S = G->stride[2], ext = (G->kernel[2] - 1) * G->dilation[2] + 1;
    const int64_t chunk = (POOL_ROW - ext) / S + 1;
    float v[POOL_ROW];
    for (int64_t oa = 0; oa < G->out[2]; oa += chunk) {
        int64_t n = G->out[2] - oa < chunk ? G->out[2] - oa : chunk;
        int64_t j0 = oa * S, span = (n - 1) * S + ext;
        /* Buffer entries [lo, hi) lie inside the input row, at input column j0 + j - pad2. */
        int64_t lo = G->pad[2] - j0 > 0 ? G->pad[2] - j0 : 0;
        int64_t hi = G->in[2] + G->pad[2] - j0 < span ? G->in[2] + G->pad[2] - j0 : span;
        for (int64_t j = 0; j < span; j++) v[j] = job->is_max ? -ONNXCC_INF : 0.0f;
        for (int64_t k0 = r->a0; k0 < r->b0; k0++)
        for (int64_t k1 = r->a1; k1 < r->b1; k1++)
            if (lo < hi)
                reduce_into(job->is_max, hi - lo,
                            pool_input_row(G, xp, o0, o1, k0, k1) + j0 + lo - G->pad[2], 1,
                            v + lo);
        pool_cols_any(job->is_max, G, v, yrow + oa, n);
    }
}

#if defined(__AVX512F__)
/* Window rows (kernel[0] x kernel[1]) that pool_row_max_s2_avx512 takes. */
enum { S2_MAX_ROWS = 16 };

/* Whether pool_row_max_s2_avx512 takes the row: max pooling, kernel width 2 or 3,
 * stride 2, no dilation on the last axis (the 3x3/2 and 2x2/2 pools of CNNs). */
static bool pool_max_s2(const PoolJob *job) {
    const OnnxccGeom3 *G = &job->G;
    return job->is_max && G->stride[2] == 2 && G->dilation[2] == 1 &&
           (G->kernel[2] == 2 || G->kernel[2] == 3) &&
           G->kernel[0] * G->kernel[1] <= S2_MAX_ROWS;
}

/* The 16 floats at row + start, the lanes outside `m` -inf and not read. */
static inline __m512 max_load(__mmask16 m, const float *row, int64_t start) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(-ONNXCC_INF), m,
                                (const void *)onnxcc_float_addr(row, start));
}

/* One output row of pool_max_s2, 16 outputs at a time.  Their windows span the 33 input
 * columns from c = 2 * ox0 - pad2 (32 for a kernel width of 2): three loads per window
 * row, the max over the window rows in registers, then the even lanes of the first two
 * vectors are tap 0, the odd lanes tap 1, and the even lanes of the same pair shifted by
 * two columns tap 2 (of the third vector, only lane 0 is used).  Blocks whose columns
 * all lie inside the row load whole vectors; at the row's ends, masked loads read the
 * lanes inside it only, the others being -inf like the padding.  The window rows'
 * addresses are computed once per row. */
static void pool_row_max_s2_avx512(const PoolJob *job, const float *xp, int64_t o0,
                                   int64_t o1, const PoolRow *r, float *yrow) {
    const OnnxccGeom3 *G = &job->G;
    const int64_t in2 = G->in[2], W = G->out[2];
    const bool k3 = G->kernel[2] == 3;
    const float *rows[S2_MAX_ROWS];
    int nrows = 0;
    for (int64_t k0 = r->a0; k0 < r->b0; k0++)
    for (int64_t k1 = r->a1; k1 < r->b1; k1++)
        rows[nrows++] = pool_input_row(G, xp, o0, o1, k0, k1);
    if (nrows == 0) {   /* every window row in the padding: the max of nothing */
        for (int64_t o2 = 0; o2 < W; o2++) yrow[o2] = -ONNXCC_INF;
        return;
    }
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t ox0 = 0; ox0 < W; ox0 += 16) {
        const int64_t col = 2 * ox0 - G->pad[2];
        /* Lanes read of the three vectors (all, all, lane 0 for a kernel width of 3). */
        __mmask16 m0 = 0xffff, m1 = 0xffff, m2 = k3 ? 1 : 0;
        if (col < 0 || col + (k3 ? 33 : 32) > in2) {
            m0 = (__mmask16)onnxcc_lanes16_inside(col, in2);
            m1 = (__mmask16)onnxcc_lanes16_inside(col + 16, in2);
            m2 &= (__mmask16)onnxcc_lanes16_inside(col + 32, in2);
        }
        __m512 a = max_load(m0, rows[0], col), b = max_load(m1, rows[0], col + 16);
        __m512 c = max_load(m2, rows[0], col + 32);
        for (int i = 1; i < nrows; i++) {
            /* _mm512_max_ps(x, y) is x > y ? x : y: a NaN input is dropped, as elsewhere. */
            a = _mm512_max_ps(max_load(m0, rows[i], col), a);
            b = _mm512_max_ps(max_load(m1, rows[i], col + 16), b);
            if (k3) c = _mm512_max_ps(max_load(m2, rows[i], col + 32), c);
        }
        __m512 y = _mm512_max_ps(_mm512_permutex2var_ps(a, odd, b),
                                 _mm512_permutex2var_ps(a, even, b));
        if (k3) {
            __m512 a2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b),
                                                                _mm512_castps_si512(a), 2));
            __m512 b2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c),
                                                                _mm512_castps_si512(b), 2));
            y = _mm512_max_ps(_mm512_permutex2var_ps(a2, even, b2), y);
        }
        _mm512_mask_storeu_ps((void *)onnxcc_float_addr(yrow, ox0),
                              (__mmask16)onnxcc_lanes16_inside(ox0, W), y);
    }
}
#endif

/* Output rows whose window rows (PoolRow) a task computes at once, then runs over each
 * of its planes: the windows' row ranges are the same for every plane, and computing
 * them per plane and row cost more than the row itself on small planes. */
enum { POOL_ROW_CHUNK = 64 };

static void pool_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const PoolJob *job = ctx;
    const OnnxccGeom3 *G = &job->G;
    const int64_t in_pix = G->in[0] * G->in[1] * G->in[2];
    const int64_t out_pix = G->out[0] * G->out[1] * G->out[2];
    const int64_t out_rows = G->out[0] * G->out[1];
    const bool separable = (G->kernel[2] - 1) * G->dilation[2] + 1 <= POOL_ROW;
    size_t end = (task + 1) * job->per_task < job->planes ? (task + 1) * job->per_task
                                                           : job->planes;
    PoolRow rows[POOL_ROW_CHUNK];
    for (int64_t r0 = 0; r0 < out_rows; r0 += POOL_ROW_CHUNK) {
        const int64_t n = out_rows - r0 < POOL_ROW_CHUNK ? out_rows - r0 : POOL_ROW_CHUNK;
        for (int64_t i = 0; i < n; i++)
            rows[i] = pool_row(job, (r0 + i) / G->out[1], (r0 + i) % G->out[1]);
        for (size_t p = task * job->per_task; p < end; p++) {
            const float *xp = job->x + (int64_t)p * in_pix;
            for (int64_t i = 0; i < n; i++) {
                const int64_t o0 = (r0 + i) / G->out[1], o1 = (r0 + i) % G->out[1];
                float *yrow = job->y + (int64_t)p * out_pix + (r0 + i) * G->out[2];
                const PoolRow *r = &rows[i];
#if defined(__AVX512F__)
                if (pool_max_s2(job)) {
                    pool_row_max_s2_avx512(job, xp, o0, o1, r, yrow);
                    continue;
                }
#endif
                if (separable) pool_row_separable(job, xp, o0, o1, r, yrow);
                else pool_row_by_taps(job, xp, o0, o1, r, yrow);
                if (!job->is_max) pool_divide(job, r, yrow);
            }
        }
    }
}

static void pool_windows(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                         bool is_max, bool include_pad, OnnxccPool *pool) {
    if (planes == 0) return;
    PoolJob job = {.planes = planes, .x = x, .y = y, .is_max = is_max,
                   .include_pad = include_pad};
    onnxcc_geom3(g, &job.G);
    job.per_task = plane_tasks(planes, pool);
    /* The outputs of axis 2 whose every tap is counted: a range, since the counted taps
     * of o2 only grow then shrink with o2. */
    job.full_lo = job.G.out[2], job.full_hi = job.G.out[2];
    if (!is_max)
        for (int64_t o2 = 0; o2 < job.G.out[2]; o2++)
            if (count2(&job, o2) == job.G.kernel[2]) {
                if (job.full_lo == job.G.out[2]) job.full_lo = o2;
                job.full_hi = o2 + 1;
            }
    onnxcc_parallel_for(pool, (planes + job.per_task - 1) / job.per_task, pool_task, &job);
}

/* Max pooling with the Indices output: a plain loop over each window, which also finds
 * where the maximum is (the first one in row-major order). */
static void maxpool_indices(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                            int64_t *indices, int storage_order) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    int64_t in_pix = G.in[0] * G.in[1] * G.in[2];
    int64_t out_pix = G.out[0] * G.out[1] * G.out[2];
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + (int64_t)p * in_pix;
        float *yp = y + (int64_t)p * out_pix;
        for (int64_t o0 = 0; o0 < G.out[0]; o0++) {
            int64_t a0, b0;
            taps(&G, 0, o0, 0, G.in[0], &a0, &b0);
            for (int64_t o1 = 0; o1 < G.out[1]; o1++) {
                int64_t a1, b1;
                taps(&G, 1, o1, 0, G.in[1], &a1, &b1);
                for (int64_t o2 = 0; o2 < G.out[2]; o2++) {
                    int64_t a2, b2;
                    taps(&G, 2, o2, 0, G.in[2], &a2, &b2);
                    float best = -ONNXCC_INF;
                    int64_t bi[3] = {0, 0, 0};
                    int found = 0;
                    for (int64_t k0 = a0; k0 < b0; k0++) {
                        int64_t i0 = o0 * G.stride[0] - G.pad[0] + k0 * G.dilation[0];
                        for (int64_t k1 = a1; k1 < b1; k1++) {
                            int64_t i1 = o1 * G.stride[1] - G.pad[1] + k1 * G.dilation[1];
                            const float *row = xp + (i0 * G.in[1] + i1) * G.in[2];
                            for (int64_t k2 = a2; k2 < b2; k2++) {
                                int64_t i2 = o2 * G.stride[2] - G.pad[2] + k2 * G.dilation[2];
                                float v = row[i2];
                                if (!found || v > best) {
                                    best = v;
                                    bi[0] = i0, bi[1] = i1, bi[2] = i2;
                                    found = 1;
                                }
                            }
                        }
                    }
                    int64_t o = (o0 * G.out[1] + o1) * G.out[2] + o2;
                    yp[o] = best;
                    int64_t flat = storage_order
                        ? bi[0] + G.in[0] * (bi[1] + G.in[1] * bi[2])
                        : (bi[0] * G.in[1] + bi[1]) * G.in[2] + bi[2];
                    indices[(int64_t)p * out_pix + o] = (int64_t)p * in_pix + flat;
                }
            }
        }
    }
}

void onnxcc_f32_maxpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int64_t *indices, int storage_order, OnnxccPool *pool) {
    if (indices) maxpool_indices(g, planes, x, y, indices, storage_order);
    else pool_windows(g, planes, x, y, true, false, pool);
}

void onnxcc_f32_avgpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int count_include_pad, OnnxccPool *pool) {
    pool_windows(g, planes, x, y, false, count_include_pad != 0, pool);
}

/* ---- global pools ---------------------------------------------------------------------- */

/* Lanes of the partial sums or maxima: 16 independent chains, which compilers turn into
 * vectors (a single running sum is one long dependency chain that they may not reorder). */
enum { GLOBAL_LANES = 16 };

typedef struct GlobalJob {
    size_t planes, pix, per_task;
    const float *x;
    float *y;
    bool is_max;
} GlobalJob;

/* The mean of x[0..n): lane sums, then the lanes added pairwise. */
static float plane_mean(const float *restrict x, size_t n) {
    float acc[GLOBAL_LANES] = {0};
    size_t i = 0;
    for (; i + GLOBAL_LANES <= n; i += GLOBAL_LANES)
        for (size_t j = 0; j < GLOBAL_LANES; j++) acc[j] += x[i + j];
    for (size_t j = 0; i + j < n; j++) acc[j] += x[i + j];
    for (size_t w = GLOBAL_LANES / 2; w > 0; w /= 2)
        for (size_t j = 0; j < w; j++) acc[j] += acc[j + w];
    return acc[0] / (float)n;
}

/* The max of x[0..n), n >= 1; NaN propagates only if it is first, as in a running max
 * written `x > m ? x : m` (the former emitted loop). */
static float plane_max(const float *restrict x, size_t n) {
    float acc[GLOBAL_LANES];
    for (size_t j = 0; j < GLOBAL_LANES; j++) acc[j] = x[0];
    size_t i = 0;
    for (; i + GLOBAL_LANES <= n; i += GLOBAL_LANES)
        for (size_t j = 0; j < GLOBAL_LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    for (size_t j = 0; i + j < n; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = acc[0];
    for (size_t j = 1; j < GLOBAL_LANES; j++) m = acc[j] > m ? acc[j] : m;
    return m;
}

static void global_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const GlobalJob *job = ctx;
    size_t end = (task + 1) * job->per_task < job->planes ? (task + 1) * job->per_task
                                                           : job->planes;
    for (size_t p = task * job->per_task; p < end; p++)
        job->y[p] = job->is_max ? plane_max(job->x + p * job->pix, job->pix)
                                : plane_mean(job->x + p * job->pix, job->pix);
}

static void global_pool(size_t planes, size_t pix, const float *x, float *y, bool is_max,
                        OnnxccPool *pool) {
    if (planes == 0 || pix == 0) return;
    GlobalJob job = {.planes = planes, .pix = pix, .x = x, .y = y, .is_max = is_max};
    job.per_task = plane_tasks(planes, pool);
    onnxcc_parallel_for(pool, (planes + job.per_task - 1) / job.per_task, global_task, &job);
}

void onnxcc_f32_global_avgpool(size_t planes, size_t pix, const float *x, float *y,
                               OnnxccPool *pool) {
    global_pool(planes, pix, x, y, false, pool);
}

void onnxcc_f32_global_maxpool(size_t planes, size_t pix, const float *x, float *y,
                               OnnxccPool *pool) {
    global_pool(planes, pix, x, y, true, pool);
}
