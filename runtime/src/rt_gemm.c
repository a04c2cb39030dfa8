/* rt_gemm.c: the single-precision GEMM every matrix product goes through: its entry
 * points, loop nest, packing and threads.  The micro-kernels are in rt_gemm_kernel.c.
 *
 * C = epilogue(alpha * A x B).  Each entry point describes its operands in a Gemm (A
 * strided or packed in 8-row panels, B strided or packed in panels of 32 or NR columns)
 * and one loop nest serves them all (Goto's blocking, BLIS's names):
 *
 *   for each K block of depth <= KC            (partial sums go through C between blocks)
 *     for each block of MC rows                (its A stays in L2)
 *       for each NR-column sliver of B         (KC x NR floats stay in L1)
 *         for each MR-row tile                 onnxcc_gemm_tile, epilogue in registers
 *
 * Packed operands are read in place: a K block of a packed panel is contiguous.  A
 * strided B is packed one sliver at a time into a stack buffer, or read in place when a
 * sliver serves a single row tile (a packed copy would cost as much as the product).  A
 * strided A is read in place by row pointers (the kernel broadcasts one element of each
 * row per k).  With one row tile and B packed nothing is reused, so K is not
 * blocked (a GEMV streams B once).
 *
 * onnxcc_f32_gemm_pab_ct stores C transposed: the loop nest is the same, and the
 * micro-kernel stores each tile transposed (rt_gemm_kernel.c).
 *
 * With a pool and enough work, the result is cut into tasks of whole NR-column slivers
 * (or of MR-row tiles when there are too few slivers) that run the same loop nest on
 * their part of C; each packs into its own stack buffer.
 */
#include <stdbool.h>

#include "onnxcc_gemm_kernel.h"

enum {
    MR = ONNXCC_GEMM_MR,
    NR = ONNXCC_GEMM_NR,
    KC = ONNXCC_GEMM_KC,
    MC = 256,               /* rows of A per block: MC x KC floats, 256 KiB, in L2 */
    PMR = ONNXCC_PACK_MR,
};
_Static_assert(ONNXCC_PACK_NR % NR == 0, "a tile's columns lie in one packed-B panel");

/* One product, as an entry point describes it. */
typedef struct Gemm {
    size_t M, N, K;
    float alpha;
    const float *a;             /* strided: A(i, k) at a[i * a_rs + k * a_cs] */
    ptrdiff_t a_rs, a_cs;
    bool a_packed;              /* packed: onnxcc_packed_a_index, strides unused */
    const float *b;             /* strided: B(k, j) at b[k * b_rs + j * b_cs] */
    ptrdiff_t b_rs, b_cs;
    size_t b_panel;             /* packed: panels of this many columns; 0: strided */
    float *c;
    ptrdiff_t ldc;
    const OnnxccEpilogue *ep;
    bool c_transposed;          /* result (i, j) at c[j * ldc + i] */
} Gemm;

/* K blocks of at most KC, of equal depth (576 = 3 x 192, not 256 + 256 + 64), so that
 * the last block is not a short one that pays the stores for little work. */
static size_t block_depth(size_t K) {
    size_t nb = (K + KC - 1) / KC;
    return (K + nb - 1) / nb;
}

/* Where row i of A starts at depth pc, and the distance between its elements. */
static const float *a_row(const Gemm *g, size_t i, size_t pc, ptrdiff_t *a_cs) {
    if (g->a_packed) {
        *a_cs = PMR;
        return g->a + onnxcc_packed_a_index(g->K, i, pc);
    }
    *a_cs = g->a_cs;
    return g->a + (ptrdiff_t)i * g->a_rs + (ptrdiff_t)pc * g->a_cs;
}

/* Packs B[pc .. pc+kc)[j0 .. j0+nr) into buf[kc][NR], zero-padding columns nr..NR. */
static void pack_b(const Gemm *g, size_t pc, size_t kc, size_t j0, size_t nr,
                   float *restrict buf) {
    const float *src = g->b + (ptrdiff_t)pc * g->b_rs + (ptrdiff_t)j0 * g->b_cs;
    for (size_t k = 0; k < kc; k++) {
        const float *row = src + (ptrdiff_t)k * g->b_rs;
        float *dst = buf + k * NR;
        if (g->b_cs == 1) {
            for (size_t j = 0; j < nr; j++) dst[j] = row[j];
        } else {
            for (size_t j = 0; j < nr; j++) dst[j] = row[(ptrdiff_t)j * g->b_cs];
        }
        for (size_t j = nr; j < NR; j++) dst[j] = 0.0f;
    }
}

/* The sliver B[pc .. pc+kc)[j0 .. j0+NR) as the kernel reads it (rows *ldb floats
 * apart): in place when packed or when `direct` allows a full sliver of a row-major B,
 * else packed into buf. */
static const float *b_sliver(const Gemm *g, size_t pc, size_t kc, size_t j0, size_t nr,
                             bool direct, float *buf, size_t *ldb) {
    if (g->b_panel) {
        *ldb = g->b_panel;
        return g->b + j0 / g->b_panel * g->K * g->b_panel + pc * g->b_panel + j0 % g->b_panel;
    }
    if (direct && g->b_cs == 1 && g->b_rs > 0 && nr == NR) {
        *ldb = (size_t)g->b_rs;
        return g->b + (ptrdiff_t)pc * g->b_rs + (ptrdiff_t)j0;
    }
    pack_b(g, pc, kc, j0, nr, buf);
    *ldb = NR;
    return buf;
}

/* C[m0 .. m1)[n0 .. n1) (n0 a multiple of NR): the whole loop nest on one part of C. */
static void gemm_part(const Gemm *g, size_t m0, size_t m1, size_t n0, size_t n1) {
    _Alignas(64) float buf[KC * NR];
    /* One row tile: nothing to reuse, so B is read in place when it can be, and K is
     * not blocked when B is packed (a strided B may need packing, into KC rows). */
    bool one_tile = m1 - m0 <= MR;
    size_t depth = g->K == 0 ? 1 : one_tile && g->b_panel ? g->K : block_depth(g->K);
    for (size_t pc = 0; pc < g->K || pc == 0; pc += depth) {
        size_t kc = g->K - pc < depth ? g->K - pc : depth;
        OnnxccGemmOut out = {g->c, g->ldc, g->c_transposed, g->alpha, g->ep,
                             (pc == 0 ? ONNXCC_GEMM_FIRST : 0) |
                                 (pc + kc >= g->K ? ONNXCC_GEMM_LAST : 0)};
        for (size_t ic = m0; ic < m1; ic += MC) {
            size_t ic_end = m1 - ic < MC ? m1 : ic + MC;
            for (size_t j0 = n0; j0 < n1; j0 += NR) {
                size_t nr = n1 - j0 < NR ? n1 - j0 : NR, ldb = NR;
                const float *bs = kc ? b_sliver(g, pc, kc, j0, nr, one_tile, buf, &ldb) : NULL;
                /* A packed B's next sliver, prefetched by the tiles of this one: with C
                 * transposed, B is a convolution's weights, read from memory once. */
                size_t ldb_next;
                const float *b_next = kc && g->b_panel && g->c_transposed && j0 + NR < n1
                                          ? b_sliver(g, pc, kc, j0 + NR, NR, false, NULL,
                                                     &ldb_next)
                                          : NULL;
                for (size_t i0 = ic; i0 < ic_end; i0 += MR) {
                    size_t mr = ic_end - i0 < MR ? ic_end - i0 : MR;
                    const float *ar[MR] = {0};
                    ptrdiff_t a_cs = 0;
                    /* Rows past mr repeat the last one: readable, and never stored. */
                    for (size_t r = 0; r < MR && kc; r++)
                        ar[r] = a_row(g, i0 + (r < mr ? r : mr - 1), pc, &a_cs);
                    onnxcc_gemm_tile(mr, nr, kc, ar, a_cs, bs, ldb, b_next, i0, j0, &out);
                }
            }
        }
    }
}

/* ---- threads ---------------------------------------------------------------------- */

/* Work below which a task is not worth waking a thread for (about 10 microseconds). */
#define TASK_MIN_FLOPS 1.5e6

typedef struct GemmSplit {
    const Gemm *g;
    bool by_rows;       /* tasks are ranges of MR-row tiles, else of NR-column slivers */
    size_t units, tasks;
} GemmSplit;

static void gemm_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const GemmSplit *s = ctx;
    size_t u0 = task * s->units / s->tasks, u1 = (task + 1) * s->units / s->tasks;
    size_t step = s->by_rows ? MR : NR, end = s->by_rows ? s->g->M : s->g->N;
    size_t lo = u0 * step, hi = u1 * step < end ? u1 * step : end;
    if (s->by_rows) gemm_part(s->g, lo, hi, 0, s->g->N);
    else gemm_part(s->g, 0, s->g->M, lo, hi);
}

static void gemm_run(const Gemm *g, OnnxccPool *pool) {
    if (g->M == 0 || g->N == 0) return;
    size_t threads = onnxcc_pool_threads(pool);
    double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K;
    size_t slivers = (g->N + NR - 1) / NR, tiles = (g->M + MR - 1) / MR;
    GemmSplit s = {g, slivers < threads && tiles > slivers, 0, 0};
    s.units = s.by_rows ? tiles : slivers;
    /* A product of few rows streams B from memory or L3 (a batch-1 Linear layer: 2 FLOPs
     * per weight, at ~30 GB/s): counted as the ~20 FLOPs of time each weight takes.  Its
     * tasks are one per thread, each a fixed range of columns, so that a thread finds its
     * part of B in its own L2 from run to run (mlp5: 3.1 MB of weights, 2 MB of L2 per
     * core). */
    const bool streams_b = g->M < MR;
    double work = streams_b ? 20.0 * (double)g->N * (double)g->K : flops;
    if (work < flops) work = flops;
    double max_tasks = work / TASK_MIN_FLOPS;
    const size_t per_thread = streams_b ? 1 : 4;
    s.tasks = threads < 2 || max_tasks < 2 ? 1
              : (double)(per_thread * threads) < max_tasks ? per_thread * threads
                                                          : (size_t)max_tasks;
    if (s.tasks > s.units) s.tasks = s.units;
    if (s.tasks <= 1) gemm_part(g, 0, g->M, 0, g->N);
    else onnxcc_parallel_for(pool, s.tasks, gemm_task, &s);
}

/* ---- entry points (onnxcc_gemm.h) ------------------------------------------------- */

void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, a, a_rs, a_cs, false, b, b_rs, b_cs, 0, c, ldc, ep, false};
    gemm_run(&g, pool);
}

void onnxcc_f32_gemm_packed_b(size_t M, size_t N, size_t K, float alpha, const float *a,
                              ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                              ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, a, a_rs, a_cs, false, bp, 0, 0, NR, c, ldc, ep, false};
    gemm_run(&g, pool);
}

void onnxcc_f32_gemm_pa(size_t M, size_t N, size_t K, float alpha, const float *ap,
                        const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, ap, 0, 0, true, b, b_rs, b_cs, 0, c, ldc, ep, false};
    gemm_run(&g, pool);
}

void onnxcc_f32_gemm_pb(size_t M, size_t N, size_t K, float alpha, const float *a,
                        ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, a, a_rs, a_cs, false, bp, 0, 0, ONNXCC_PACK_NR, c, ldc, ep,
              false};
    gemm_run(&g, pool);
}

void onnxcc_f32_gemm_pab(size_t M, size_t N, size_t K, float alpha, const float *ap,
                         const float *bp, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                         OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, ap, 0, 0, true, bp, 0, 0, ONNXCC_PACK_NR, c, ldc, ep, false};
    gemm_run(&g, pool);
}

void onnxcc_f32_gemm_pab_ct(size_t M, size_t N, size_t K, float alpha, const float *ap,
                            const float *bp, float *c, ptrdiff_t ldc,
                            const OnnxccEpilogue *ep, OnnxccPool *pool) {
    Gemm g = {M, N, K, alpha, ap, 0, 0, true, bp, 0, 0, ONNXCC_PACK_NR, c, ldc, ep, true};
    gemm_run(&g, pool);
}
