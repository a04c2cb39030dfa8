/* test_kern_gemm.c: every GEMM entry point (onnxcc_gemm.h) against a naive loop in double
 * precision, at, below and above the micro-kernel's tile (ONNXCC_GEMM_MR x
 * ONNXCC_GEMM_NR, K blocks of ONNXCC_GEMM_KC) and the packed panels (8 rows, 32 columns),
 * with every epilogue.
 *
 * This file needs only the runtime's GEMM: CMakeLists.txt also builds it with
 * rt_gemm*.c for other ISAs than the default build's (AVX-512, AVX2 + FMA, and the
 * portable kernel forced by -DONNXCC_PORTABLE), so each micro-kernel is checked on this
 * machine.  Such a build exits with 77 (ctest: skipped) on a CPU without its ISA.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_rt.h"
#include "kern_ref.h"

#if defined(__x86_64__) && (defined(ONNXCC_GEMM_ISA_AVX512) || defined(ONNXCC_GEMM_ISA_AVX2))
/* Before Criterion's main: a build for an ISA this CPU lacks reports "skipped". */
__attribute__((constructor)) static void require_isa(void) {
#if defined(ONNXCC_GEMM_ISA_AVX512)
    bool ok = __builtin_cpu_supports("avx512f");
#else
    bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    if (!ok) {
        fprintf(stderr, "test_kern_gemm: this CPU lacks the ISA of the build: skipped\n");
        _Exit(77);
    }
}
#endif

enum { MR = ONNXCC_GEMM_MR, NR = ONNXCC_GEMM_NR, KC = ONNXCC_GEMM_KC };

/* ---- the reference ---------------------------------------------------------------- */

static float op_at(const OnnxccOperand *o, size_t i, size_t j) {
    return o->ptr[(ptrdiff_t)i * o->row_stride + (ptrdiff_t)j * o->col_stride];
}

/* want[i][j] (row stride ldc) for row-major a (M x K) and b (K x N); the residual is
 * read from `res` when given (the kernel's may alias its output). */
static void naive_gemm(size_t M, size_t N, size_t K, float alpha, const float *a,
                       const float *b, float *want, size_t ldc, const OnnxccEpilogue *ep,
                       const float *res) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0.0;
            for (size_t k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
            float v = alpha * (float)s;
            if (ep && ep->bias.ptr) v += ep->bias_scale * op_at(&ep->bias, i, j);
            if (ep && ep->residual.ptr) v += res[i * ldc + j];
            if (ep) {
                float slope = ep->slope.ptr ? op_at(&ep->slope, i, j) : 0.0f;
                v = onnxcc_act(ep->act, v, ep->act_alpha, ep->act_beta, slope);
            }
            want[i * ldc + j] = v;
        }
}

/* ---- the entry points, on operands laid out as each one wants ------------------------- */

typedef enum Entry {
    E_GEMM,             /* strided, row-major A and B */
    E_GEMM_TA,          /* strided, A stored transposed (column-major) */
    E_GEMM_TB,          /* strided, B stored transposed */
    E_PACKED_B,         /* onnxcc_f32_gemm_packed_b: B in ONNXCC_GEMM_NR-column panels */
    E_PA,
    E_PB,
    E_PAB,
    E_PAB_CT,           /* both packed, C stored transposed */
    E_COUNT
} Entry;
static const char *const entry_names[E_COUNT] = {"gemm", "gemm A^T", "gemm B^T", "packed_b",
                                                 "pa", "pb", "pab", "pab_ct"};

/* B in panels of `width` columns, zero past N: [(j / width) * K * width + k * width +
 * j % width], spelled out here rather than through onnxcc_packed_b_index. */
static float *pack_b_panels(const float *b, size_t K, size_t N, size_t width) {
    size_t panels = (N + width - 1) / width;
    float *bp = frand(panels * width * K, 99);
    for (size_t j = 0; j < panels * width; j++)
        for (size_t k = 0; k < K; k++)
            bp[(j / width) * K * width + k * width + j % width] = j < N ? b[k * N + j] : 0.0f;
    return bp;
}

/* A in 8-row panels, zero past M: [(i / 8) * K * 8 + k * 8 + i % 8]. */
static float *pack_a_panels(const float *a, size_t M, size_t K) {
    size_t panels = (M + 7) / 8;
    float *ap = frand(panels * 8 * K, 98);
    for (size_t i = 0; i < panels * 8; i++)
        for (size_t k = 0; k < K; k++)
            ap[(i / 8) * K * 8 + k * 8 + i % 8] = i < M ? a[i * K + k] : 0.0f;
    return ap;
}

static float *transpose(const float *x, size_t rows, size_t cols) {
    float *t = frand(rows * cols, 97);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
    return t;
}

/* onnxcc_f32_gemm_pab_ct on the problem as check() lays it out: C (M x ldc) is copied
 * transposed into a buffer with 3 padding floats per row (which must not change), a
 * residual aliasing C is made to alias that buffer ({ptr, 1, row length}, as a
 * convolution gives it), and the result is copied back. */
static void run_pab_ct(size_t M, size_t N, size_t K, float alpha, const float *ap,
                       const float *bp, float *c, size_t ldc, const OnnxccEpilogue *ep,
                       OnnxccPool *pool) {
    size_t ldt = M + 3;
    float *ct = frand(N * ldt, 96), *pad = frand(N * ldt, 96);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) ct[j * ldt + i] = c[i * ldc + j];
    OnnxccEpilogue e = ep ? *ep : (OnnxccEpilogue){0};
    if (ep && ep->residual.ptr == c) e.residual = (OnnxccOperand){ct, 1, (ptrdiff_t)ldt};
    onnxcc_f32_gemm_pab_ct(M, N, K, alpha, ap, bp, ct, (ptrdiff_t)ldt, ep ? &e : NULL, pool);
    for (size_t j = 0; j < N; j++) {
        for (size_t i = 0; i < M; i++) c[i * ldc + j] = ct[j * ldt + i];
        for (size_t i = M; i < ldt; i++)
            cr_assert(ct[j * ldt + i] == pad[j * ldt + i], "pab_ct wrote padding (%zu, %zu)",
                      i, j);
    }
    free(ct), free(pad);
}

static void run_entry(Entry e, size_t M, size_t N, size_t K, float alpha, const float *a,
                      const float *b, float *c, size_t ldc, const OnnxccEpilogue *ep,
                      OnnxccPool *pool) {
    ptrdiff_t lda = (ptrdiff_t)K, ldb = (ptrdiff_t)N, ldcc = (ptrdiff_t)ldc;
    float *ap = e == E_PA || e >= E_PAB ? pack_a_panels(a, M, K) : NULL;
    float *bp = e == E_PB || e >= E_PAB ? pack_b_panels(b, K, N, ONNXCC_PACK_NR)
              : e == E_PACKED_B         ? pack_b_panels(b, K, N, NR)
                                        : NULL;
    float *at = e == E_GEMM_TA ? transpose(a, M, K) : NULL;
    float *bt = e == E_GEMM_TB ? transpose(b, K, N) : NULL;
    switch (e) {
    case E_GEMM:
        onnxcc_f32_gemm(M, N, K, alpha, a, lda, 1, b, ldb, 1, c, ldcc, ep, pool);
        break;
    case E_GEMM_TA:
        onnxcc_f32_gemm(M, N, K, alpha, at, 1, (ptrdiff_t)M, b, ldb, 1, c, ldcc, ep, pool);
        break;
    case E_GEMM_TB:
        onnxcc_f32_gemm(M, N, K, alpha, a, lda, 1, bt, 1, (ptrdiff_t)K, c, ldcc, ep, pool);
        break;
    case E_PACKED_B:
        onnxcc_f32_gemm_packed_b(M, N, K, alpha, a, lda, 1, bp, c, ldcc, ep, pool);
        break;
    case E_PA:
        onnxcc_f32_gemm_pa(M, N, K, alpha, ap, b, ldb, 1, c, ldcc, ep, pool);
        break;
    case E_PB:
        onnxcc_f32_gemm_pb(M, N, K, alpha, a, lda, 1, bp, c, ldcc, ep, pool);
        break;
    case E_PAB:
        onnxcc_f32_gemm_pab(M, N, K, alpha, ap, bp, c, ldcc, ep, pool);
        break;
    default:
        run_pab_ct(M, N, K, alpha, ap, bp, c, ldc, ep, pool);
        break;
    }
    free(ap), free(bp), free(at), free(bt);
}

/* ---- epilogues ---------------------------------------------------------------------- */

enum { BIAS_NONE, BIAS_ROW, BIAS_COL, BIAS_FULL, BIAS_SCALAR };   /* per row = per channel */
enum { RES_NONE, RES_SEPARATE, RES_ALIAS };

typedef struct EpSpec {
    int bias, residual;
    bool slope_per_col;     /* PRelu slope per column, else per row */
    int act;
    float act_alpha, act_beta;
} EpSpec;

/* Operand storage big enough for any test's M x N (full bias, slopes). */
enum { OPND_MAX = 65536 };

/* The epilogue of spec for an M x N result in c (row stride ldc); res holds the residual
 * when separate. */
static OnnxccEpilogue make_ep(const EpSpec *s, const float *opnd, float *c, const float *res,
                              size_t N, size_t ldc) {
    OnnxccEpilogue ep = {.act = s->act, .act_alpha = s->act_alpha, .act_beta = s->act_beta,
                         .bias_scale = 0.75f};
    switch (s->bias) {
    case BIAS_ROW: ep.bias = (OnnxccOperand){opnd, 1, 0}; break;
    case BIAS_COL: ep.bias = (OnnxccOperand){opnd, 0, 1}; break;
    case BIAS_FULL: ep.bias = (OnnxccOperand){opnd, (ptrdiff_t)N, 1}; break;
    case BIAS_SCALAR: ep.bias = (OnnxccOperand){opnd, 0, 0}; break;
    default: break;
    }
    if (s->residual == RES_SEPARATE) ep.residual = (OnnxccOperand){res, (ptrdiff_t)ldc, 1};
    if (s->residual == RES_ALIAS) ep.residual = (OnnxccOperand){c, (ptrdiff_t)ldc, 1};
    if (s->act == ONNXCC_ACT_PRELU)
        ep.slope = s->slope_per_col ? (OnnxccOperand){opnd + 7, 0, 1}
                                    : (OnnxccOperand){opnd + 5, 1, 0};
    return ep;
}

/* Runs entry e on one problem and compares with the naive loop (relative tolerance 1e-5
 * past the accumulation's rounding, which grows with K).  C has 3 padding columns that
 * must not change.  spec NULL: no epilogue. */
static void check(Entry e, size_t M, size_t N, size_t K, float alpha, const EpSpec *spec,
                  OnnxccPool *pool) {
    static float opnd[OPND_MAX];
    fill(opnd, OPND_MAX, 7);
    cr_assert(M * N + 8 <= OPND_MAX && M + 8 <= OPND_MAX);
    size_t ldc = N + 3;
    float *a = frand(M * K, 1), *b = frand(K * N, 2);
    float *c = frand(M * ldc, 3), *res = frand(M * ldc, 3), *want = frand(M * ldc, 3);
    OnnxccEpilogue ep = {0};
    if (spec) ep = make_ep(spec, opnd, c, res, N, ldc);
    naive_gemm(M, N, K, alpha, a, b, want, ldc, spec ? &ep : NULL, res);
    run_entry(e, M, N, K, alpha, a, b, c, ldc, spec ? &ep : NULL, pool);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < ldc; j++) {
            float got = c[i * ldc + j], w = want[i * ldc + j];
            float tol = 1e-5f * (1.0f + fabsf(w)) * (1.0f + sqrtf((float)K));
            cr_assert(fabsf(got - w) <= tol || (isnan(got) && isnan(w)),
                      "%s %zux%zux%zu act %d: C(%zu, %zu) is %.9g, expected %.9g",
                      entry_names[e], M, N, K, spec ? spec->act : -1, i, j, (double)got,
                      (double)w);
        }
    free(a), free(b), free(c), free(res), free(want);
}

/* ---- tests -------------------------------------------------------------------------- */

/* The strided entry at every combination of ragged M, N and K around the tile and the K
 * block, with a bias per column and Relu (split over K blocks), a bias per row and Clip
 * (a convolution's), and no epilogue. */
Test(kern_gemm, tile_edges) {
    const size_t ms[] = {1, 2, MR - 1, MR, MR + 1, 2 * MR + 3};
    const size_t ns[] = {1, NR - 1, NR, NR + 1, 2 * NR + 5};
    const size_t ks[] = {1, 5, KC - 1, KC, KC + 1, 2 * KC + 3};
    const EpSpec col_relu = {.bias = BIAS_COL, .act = ONNXCC_ACT_RELU};
    const EpSpec row_clip = {.bias = BIAS_ROW, .act = ONNXCC_ACT_CLIP, .act_alpha = -0.5f,
                             .act_beta = 0.7f};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
                check(E_GEMM, ms[i], ns[j], ks[k], 1.0f, &col_relu, NULL);
                check(E_GEMM, ms[i], ns[j], ks[k], 0.5f, &row_clip, NULL);
                check(E_GEMM, ms[i], ns[j], ks[k], 1.0f, NULL, NULL);
            }
}

/* Every entry point around the tile, the packed panels (8 rows, 32 columns) and the K
 * block, and on a product larger than one block of rows (MC) in every direction. */
Test(kern_gemm, every_entry_ragged) {
    const size_t ms[] = {1, MR - 1, MR + 1, 8, 9, 2 * MR + 3};
    const size_t ns[] = {1, NR - 1, NR + 1, 31, 32, 33, 2 * NR + 5};
    const size_t ks[] = {1, KC, KC + 1};
    const EpSpec row_relu = {.bias = BIAS_ROW, .act = ONNXCC_ACT_RELU};
    for (int e = 0; e < E_COUNT; e++) {
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
                    check((Entry)e, ms[i], ns[j], ks[k], 1.0f, &row_relu, NULL);
        check((Entry)e, 300, 70, 2 * KC + 9, -1.5f, &row_relu, NULL);
    }
}

/* Every activation with every kind of bias operand, a residual (separate or aliasing C)
 * and PRelu slopes per row and per column, on ragged tiles, with one and with several K
 * blocks. */
Test(kern_gemm, every_epilogue) {
    const struct { int act; float alpha, beta; } acts[] = {
        {ONNXCC_ACT_NONE, 0, 0},          {ONNXCC_ACT_RELU, 0, 0},
        {ONNXCC_ACT_LEAKY_RELU, 0.1f, 0}, {ONNXCC_ACT_ELU, 0.7f, 0},
        {ONNXCC_ACT_PRELU, 0, 0},         {ONNXCC_ACT_CLIP, -0.2f, 0.3f},
        {ONNXCC_ACT_SIGMOID, 0, 0},       {ONNXCC_ACT_TANH, 0, 0},
        {ONNXCC_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {ONNXCC_ACT_HARD_SWISH, 0, 0},
        {ONNXCC_ACT_SILU, 0, 0},
    };
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++)
        for (int bias = BIAS_NONE; bias <= BIAS_SCALAR; bias++)
            for (int res = RES_NONE; res <= RES_ALIAS; res++) {
                EpSpec s = {.bias = bias, .residual = res, .slope_per_col = (bias + res) % 2,
                            .act = acts[t].act, .act_alpha = acts[t].alpha,
                            .act_beta = acts[t].beta};
                check(E_GEMM, MR + 3, NR + 5, 20, 1.0f, &s, NULL);
                check(E_PAB, 11, 37, KC + 40, 0.5f, &s, NULL);
                check(E_PAB_CT, 11, 37, KC + 40, 0.5f, &s, NULL);
                check(E_PAB_CT, MR, NR, 2 * KC + 7, 1.0f, &s, NULL);   /* full tiles */
            }
}

/* The last sliver of a product with packed A, when it is at most half a tile wide
 * (tile_mr_half_panel) or at most 4 columns (AVX-512's tile_narrow_panel, which turns
 * the tile around): every width from 1 to 5 and 16, 17 past whole slivers, whole and
 * ragged row panels, an odd K (the narrow tile's last k), several K blocks, and the
 * epilogue operands by row, by column and whole, with a residual aliasing C. */
Test(kern_gemm, narrow_last_sliver) {
    const size_t ns[] = {1, 2, 3, 4, 5, NR + 3, NR + 4, NR + 16, NR + 17};
    const size_t ms[] = {8, 16, 19};
    const size_t ks[] = {1, 7, KC + 1, 2 * KC + 3};
    const EpSpec specs[] = {
        {.bias = BIAS_COL, .residual = RES_ALIAS, .slope_per_col = true,
         .act = ONNXCC_ACT_PRELU},
        {.bias = BIAS_ROW, .residual = RES_SEPARATE, .act = ONNXCC_ACT_RELU},
        {.bias = BIAS_FULL, .act = ONNXCC_ACT_CLIP, .act_alpha = -0.2f, .act_beta = 0.3f},
    };
    const Entry entries[] = {E_PA, E_PAB};
    for (size_t e = 0; e < 2; e++)
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
                    for (size_t t = 0; t < sizeof specs / sizeof specs[0]; t++)
                        check(entries[e], ms[i], ns[j], ks[k], 0.5f, &specs[t], NULL);
}

Test(kern_gemm, residual_aliasing_c_every_entry) {
    const EpSpec s = {.residual = RES_ALIAS, .act = ONNXCC_ACT_RELU};
    for (int e = 0; e < E_COUNT; e++) {
        check((Entry)e, 9, 20, 2 * KC + 1, 1.0f, &s, NULL);    /* three K blocks */
        check((Entry)e, 1, 40, 2 * KC + 1, 1.0f, &s, NULL);    /* a GEMV */
    }
}

/* K = 0: C = epilogue(0), operands not read (NULL). */
Test(kern_gemm, k_zero_gives_epilogue_of_zero) {
    float bias[4] = {1, 2, 3, 4}, c[8];
    OnnxccEpilogue ep = {.bias = {bias, 0, 1}, .bias_scale = 2.0f, .act = ONNXCC_ACT_RELU};
    OnnxccEpilogue ct_ep = ep;
    for (int e = 0; e < 6; e++) {
        memset(c, 0xff, sizeof c);   /* NaN */
        switch (e) {
        case 0: onnxcc_f32_gemm(2, 4, 0, 1.0f, NULL, 0, 1, NULL, 4, 1, c, 4, &ep, NULL); break;
        case 1: onnxcc_f32_gemm_packed_b(2, 4, 0, 1.0f, NULL, 0, 1, NULL, c, 4, &ep, NULL); break;
        case 2: onnxcc_f32_gemm_pa(2, 4, 0, 1.0f, NULL, NULL, 4, 1, c, 4, &ep, NULL); break;
        case 3: onnxcc_f32_gemm_pb(2, 4, 0, 1.0f, NULL, 0, 1, NULL, c, 4, &ep, NULL); break;
        case 4:     /* C transposed, 4 x 2 with a bias per row: the same 8 floats */
            ct_ep.bias = (OnnxccOperand){bias, 1, 0};
            onnxcc_f32_gemm_pab_ct(4, 2, 0, 1.0f, NULL, NULL, c, 4, &ct_ep, NULL);
            break;
        default: onnxcc_f32_gemm_pab(2, 4, 0, 1.0f, NULL, NULL, c, 4, &ep, NULL); break;
        }
        for (int i = 0; i < 8; i++) cr_assert_float_eq(c[i], 2.0f * bias[i % 4], 0.0f);
    }
}

/* M = 0 or N = 0 writes nothing. */
Test(kern_gemm, empty_result_writes_nothing) {
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {5, 5, 5, 5};
    onnxcc_f32_gemm(0, 2, 2, 1.0f, a, 2, 1, b, 2, 1, c, 2, NULL, NULL);
    onnxcc_f32_gemm(2, 0, 2, 1.0f, a, 2, 1, b, 2, 1, c, 2, NULL, NULL);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(c[i], 5.0f, 0.0f);
}

/* The vector activations keep the scalar ones' NaN behaviour: Relu(NaN) = 0; Clip,
 * LeakyRelu, HardSigmoid and no activation pass NaN through. */
Test(kern_gemm, nan_through_epilogues) {
    float a[2] = {ONNXCC_NAN, 1.0f}, b[1] = {1.0f}, bias[2] = {0.0f, 0.0f}, c[2];
    const int acts[] = {ONNXCC_ACT_NONE, ONNXCC_ACT_RELU, ONNXCC_ACT_CLIP,
                        ONNXCC_ACT_LEAKY_RELU, ONNXCC_ACT_HARD_SIGMOID};
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++) {
        OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f, .act = acts[t],
                             .act_alpha = -1.0f, .act_beta = 1.0f};
        onnxcc_f32_gemm(2, 1, 1, 1.0f, a, 1, 1, b, 1, 1, c, 1, &ep, NULL);
        float want = onnxcc_act(acts[t], ONNXCC_NAN, -1.0f, 1.0f, 0.0f);
        cr_assert(isnan(want) ? isnan(c[0]) : c[0] == want, "act %d: NaN gave %g", acts[t],
                  (double)c[0]);
        cr_assert_float_eq(c[1], onnxcc_act(acts[t], 1.0f, -1.0f, 1.0f, 0.0f), 0.0f);
    }
}

/* With a pool, products big enough to be split (by columns, and by rows when there are
 * few columns) give the serial results, whatever task runs where. */
Test(kern_gemm, threads_split_rows_and_columns) {
    OnnxccPool *pool = onnxcc_pool_create(3);
    cr_assert(pool);
    const EpSpec s = {.bias = BIAS_ROW, .residual = RES_ALIAS, .act = ONNXCC_ACT_RELU};
    for (int e = 0; e < E_COUNT; e++) {
        check((Entry)e, 64, 300, 300, 1.0f, &s, pool);     /* by columns */
        check((Entry)e, 333, 7, 300, 1.0f, &s, pool);      /* by rows */
        check((Entry)e, 1, 1500, 1000, 1.0f, &s, pool);    /* a GEMV, by columns */
    }
    onnxcc_pool_destroy(pool);
}
