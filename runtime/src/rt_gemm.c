/* rt_gemm.c: the single-precision GEMM every matrix product goes through.
 *
 * C = epilogue(alpha * A x B).  The loop nest blocks K by KC (blocks of equal depth) and
 * walks N in panels of NR columns; each panel of B (KC x NR) is packed contiguously on the
 * stack, zero-padded on the right, and a register-blocked MR x NR micro-kernel sweeps down
 * the rows of A (MR x NR = 8 x 32 with AVX-512, 6 x 16 otherwise: ONNXCC_GEMM_MR/NR in
 * onnxcc_rt.h).  With few rows (M < 2 MR) full panels of a row-major B are read in place,
 * since packing them would cost as much as the product.  onnxcc_f32_gemm_packed_b takes
 * B already packed (the convolutions build its panels themselves).
 *
 * The micro-kernel uses GCC/clang vector extensions rather than intrinsics: the compiler
 * picks the instructions for the -march the generated code is built with (AVX-512, AVX2 +
 * FMA, NEON, SSE), measured at the FMA peak of this machine with AVX-512 when its data is
 * in cache; other compilers get a plain loop.  Ragged edges reuse it (rows past M read a
 * valid row and are not stored, columns past N multiply zeros); a single row (M = 1) has
 * its own kernel.
 *
 * Because K is blocked, a result element is stored once per K block.  The epilogue is
 * linear up to the activation, so the first block stores alpha*acc + bias + residual,
 * middle blocks add alpha*acc, and the last block applies the activation; each element is
 * read before it is written, which lets C alias the residual.
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_rt.h"

/* gcc in ISO C mode does not contract a * b + c into an FMA (clang does); the kernel is
 * about 1.4x faster with it, and a fused multiply-add is never less accurate. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* NR (ONNXCC_GEMM_NR, onnxcc_rt.h): columns of the micro-kernel, two vectors of the
 * widest registers the target has. */
/* MR (ONNXCC_GEMM_MR, onnxcc_rt.h): rows of the micro-kernel. */
enum {
    MR = ONNXCC_GEMM_MR,
    NR = ONNXCC_GEMM_NR,
    KC = ONNXCC_GEMM_KC,    /* depth of one packed B panel: KC * NR floats, 24 or 48 KiB */
};

/* Which part of the epilogue a K block applies. */
enum { BLOCK_FIRST = 1, BLOCK_LAST = 2 };

/* acc[MR][NR] = A[0..MR)[0..kc) x bp[0..kc)[0..NR); rows of A from ar[]. */
#if defined(__GNUC__)
/* Named vector accumulators stay in registers, which a float[MR][NR] array does not
 * reliably do.  VF8 is half a row of the tile: 8 floats, or 16 with AVX-512. */
typedef float VF8 __attribute__((vector_size(NR / 2 * sizeof(float))));
/* clang splits 512-bit vectors in two unless a function asks for them (its default
 * prefers 256-bit vectors on AVX-512 targets). */
#if defined(__clang__) && defined(__AVX512F__)
#define ONNXCC_WIDE __attribute__((min_vector_width(512)))
#else
#define ONNXCC_WIDE
#endif
enum { HALF = NR / 2 };


/* Row r of the tile: two named accumulators (ROWS lists the rows, so that one body
 * serves MR = 6 and MR = 8). */
#if ONNXCC_GEMM_MR == 8
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
#define DECL(r) VF8 c##r##0 = {0}, c##r##1 = {0}; const float *a##r = ar[r];
#define STEP(r) v = a##r[o]; c##r##0 += v * b0; c##r##1 += v * b1;
#define OUT(r) memcpy(acc[r], &c##r##0, sizeof c##r##0), \
               memcpy(acc[r] + HALF, &c##r##1, sizeof c##r##1);

ONNXCC_WIDE static void micro_kernel(size_t kc, const float *const ar[MR], ptrdiff_t a_cs,
                                     const float *restrict bp, size_t ldb,
                                     float acc[MR][NR]) {
    ROWS(DECL)
    for (size_t k = 0; k < kc; k++) {
        VF8 b0, b1;     /* memcpy, not a helper returning VF8: no vector ABI involved */
        memcpy(&b0, bp + k * ldb, sizeof b0);
        memcpy(&b1, bp + k * ldb + HALF, sizeof b1);
        ptrdiff_t o = (ptrdiff_t)k * a_cs;
        float v;
        ROWS(STEP)
    }
    ROWS(OUT)
}
#undef DECL
#undef STEP
#undef OUT
_Static_assert(MR == 6 || MR == 8, "the vector micro-kernel is written for 6 or 8 rows");

/* One row (M = 1, a GEMV such as a batch-1 Linear layer): the 6-row kernel would compute
 * the same row six times. */
ONNXCC_WIDE static void micro_kernel_1row(size_t kc, const float *a0, ptrdiff_t a_cs,
                                          const float *restrict bp, size_t ldb,
                                          float acc[MR][NR]) {
    VF8 c0 = {0}, c1 = {0}, d0 = {0}, d1 = {0};
    size_t k = 0;
    for (; k + 2 <= kc; k += 2) {   /* two independent chains hide the FMA latency */
        VF8 b0, b1, b2, b3;
        memcpy(&b0, bp + k * ldb, sizeof b0);
        memcpy(&b1, bp + k * ldb + HALF, sizeof b1);
        memcpy(&b2, bp + (k + 1) * ldb, sizeof b2);
        memcpy(&b3, bp + (k + 1) * ldb + HALF, sizeof b3);
        float v = a0[(ptrdiff_t)k * a_cs], w = a0[(ptrdiff_t)(k + 1) * a_cs];
        c0 += v * b0, c1 += v * b1;
        d0 += w * b2, d1 += w * b3;
    }
    if (k < kc) {
        VF8 b0, b1;
        memcpy(&b0, bp + k * ldb, sizeof b0);
        memcpy(&b1, bp + k * ldb + HALF, sizeof b1);
        float v = a0[(ptrdiff_t)k * a_cs];
        c0 += v * b0, c1 += v * b1;
    }
    c0 += d0, c1 += d1;
    memcpy(acc[0], &c0, sizeof c0), memcpy(acc[0] + HALF, &c1, sizeof c1);
}
#define HAVE_1ROW_KERNEL 1
#else
static void micro_kernel(size_t kc, const float *const ar[MR], ptrdiff_t a_cs,
                         const float *restrict bp, size_t ldb, float acc[MR][NR]) {
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *restrict b = bp + k * ldb;
        for (int i = 0; i < MR; i++) {
            float av = ar[i][(ptrdiff_t)k * a_cs];
            for (int j = 0; j < NR; j++) acc[i][j] += av * b[j];
        }
    }
}
#endif

/* Packs B[k0..k0+kc)[j0..j0+nr) into bp[kc][NR], zero-padding columns nr..NR. */
static void pack_b(size_t kc, size_t nr, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                   float *restrict bp) {
    for (size_t k = 0; k < kc; k++) {
        const float *row = b + (ptrdiff_t)k * b_rs;
        float *dst = bp + k * NR;
        if (b_cs == 1 && nr == NR) {
            for (size_t j = 0; j < NR; j++) dst[j] = row[j];    /* fixed size: inlined */
            continue;
        } else if (b_cs == 1) {
            for (size_t j = 0; j < nr; j++) dst[j] = row[j];
        } else {
            for (size_t j = 0; j < nr; j++) dst[j] = row[(ptrdiff_t)j * b_cs];
        }
        for (size_t j = nr; j < NR; j++) dst[j] = 0.0f;
    }
}

/* v[0..nr) += scale * operand(row, j0 + j), with the common strides as plain loops. */
static void add_operand(float *restrict v, size_t nr, const OnnxccOperand *o, size_t row,
                        size_t j0, float scale) {
    const float *p = o->ptr + (ptrdiff_t)row * o->row_stride + (ptrdiff_t)j0 * o->col_stride;
    if (o->col_stride == 1) {
        for (size_t j = 0; j < nr; j++) v[j] += scale * p[j];
    } else if (o->col_stride == 0) {
        float x = scale * p[0];
        for (size_t j = 0; j < nr; j++) v[j] += x;
    } else {
        for (size_t j = 0; j < nr; j++) v[j] += scale * p[(ptrdiff_t)j * o->col_stride];
    }
}

/* The activation over v[0..nr) of result row `row`, columns j0... */
static void apply_act(float *restrict v, size_t nr, const OnnxccEpilogue *ep, size_t row,
                      size_t j0) {
    switch (ep->act) {
    case ONNXCC_ACT_NONE:
        return;
    case ONNXCC_ACT_RELU:
        for (size_t j = 0; j < nr; j++) v[j] = onnxcc_relu(v[j]);
        return;
    case ONNXCC_ACT_CLIP: {     /* ReLU6 of the mobilenets: a loop that vectorises */
        float lo = ep->act_alpha, hi = ep->act_beta;
        for (size_t j = 0; j < nr; j++) v[j] = onnxcc_clip(v[j], lo, hi);
        return;
    }
    case ONNXCC_ACT_LEAKY_RELU: {
        float al = ep->act_alpha;
        for (size_t j = 0; j < nr; j++) v[j] = onnxcc_leaky_relu(v[j], al);
        return;
    }
    case ONNXCC_ACT_HARD_SWISH:
        for (size_t j = 0; j < nr; j++) v[j] = onnxcc_hard_swish(v[j]);
        return;
    case ONNXCC_ACT_PRELU: {
        const OnnxccOperand *o = &ep->slope;
        if (!o->ptr) return;
        const float *p = o->ptr + (ptrdiff_t)row * o->row_stride +
                         (ptrdiff_t)j0 * o->col_stride;
        for (size_t j = 0; j < nr; j++) v[j] = onnxcc_prelu(v[j], p[(ptrdiff_t)j * o->col_stride]);
        return;
    }
    default:
        for (size_t j = 0; j < nr; j++)
            v[j] = onnxcc_act(ep->act, v[j], ep->act_alpha, ep->act_beta, 0.0f);
        return;
    }
}

/* Stores an mr x nr tile of accumulators at C(i0, j0) for one K block.  Each row is read
 * (C of earlier blocks, or the residual) in full before it is written. */
/* The common case of a convolution's tile, in one pass per row: one K block, a bias per
 * row (or none), no residual, no activation / Relu / Clip.  false if not that case. */
static bool store_tile_simple(size_t mr, size_t nr, size_t i0, size_t j0,
                              float acc[MR][NR], float alpha, float *c, ptrdiff_t ldc,
                              const OnnxccEpilogue *ep, int block) {
    if (block != (BLOCK_FIRST | BLOCK_LAST) || !ep || ep->residual.ptr ||
        (ep->bias.ptr && ep->bias.col_stride != 0) ||
        (ep->act != ONNXCC_ACT_NONE && ep->act != ONNXCC_ACT_RELU &&
         ep->act != ONNXCC_ACT_CLIP))
        return false;
    /* No activation is clip(x, -inf, inf), which is x, NaN included. */
    float lo = ep->act == ONNXCC_ACT_CLIP ? ep->act_alpha : -ONNXCC_INF;
    float hi = ep->act == ONNXCC_ACT_CLIP ? ep->act_beta : ONNXCC_INF;
    for (size_t i = 0; i < mr; i++) {
        float *restrict crow = c + (ptrdiff_t)(i0 + i) * ldc + j0;
        float b = ep->bias.ptr ? ep->bias_scale *
                                     ep->bias.ptr[(ptrdiff_t)(i0 + i) * ep->bias.row_stride]
                               : 0.0f;
        const float *a = acc[i];
        if (ep->act == ONNXCC_ACT_RELU) {
            for (size_t j = 0; j < nr; j++) crow[j] = onnxcc_relu(alpha * a[j] + b);
        } else {
            for (size_t j = 0; j < nr; j++) crow[j] = onnxcc_clip(alpha * a[j] + b, lo, hi);
        }
    }
    return true;
}

static void store_tile(size_t mr, size_t nr, size_t i0, size_t j0, float acc[MR][NR],
                       float alpha, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                       int block) {
    if (store_tile_simple(mr, nr, i0, j0, acc, alpha, c, ldc, ep, block)) return;
    for (size_t i = 0; i < mr; i++) {
        float *crow = c + (ptrdiff_t)(i0 + i) * ldc + j0;
        float v[NR];
        for (size_t j = 0; j < NR; j++) v[j] = alpha * acc[i][j];
        if (!(block & BLOCK_FIRST)) {
            for (size_t j = 0; j < nr; j++) v[j] += crow[j];
        } else if (ep) {
            if (ep->bias.ptr) add_operand(v, nr, &ep->bias, i0 + i, j0, ep->bias_scale);
            if (ep->residual.ptr) add_operand(v, nr, &ep->residual, i0 + i, j0, 1.0f);
        }
        if ((block & BLOCK_LAST) && ep) apply_act(v, nr, ep, i0 + i, j0);
        for (size_t j = 0; j < nr; j++) crow[j] = v[j];
    }
}

/* K blocks of at most KC, of equal depth (576 = 3 x 192, not 256 + 256 + 64), so that
 * the last block is not a short one that pays the stores for little work. */
static size_t block_depth(size_t K) {
    size_t nb = (K + KC - 1) / KC;
    return (K + nb - 1) / nb;
}

/* C[0..M)[j0..j0+nr) for the K block [pc, pc+kc) from one panel bp[kc][NR] whose rows
 * are ldb floats apart (NR when packed). */
static void sweep_panel(size_t M, size_t nr, size_t j0, size_t pc, size_t kc, float alpha,
                        const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp,
                        size_t ldb, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                        int block) {
    _Alignas(64) float acc[MR][NR];
    for (size_t i0 = 0; i0 < M; i0 += MR) {
        size_t mr = M - i0 < MR ? M - i0 : MR;
        const float *ar[MR];
        for (size_t i = 0; i < MR; i++) {
            size_t row = i0 + (i < mr ? i : mr - 1);
            ar[i] = a + (ptrdiff_t)row * a_rs + (ptrdiff_t)pc * a_cs;
        }
#ifdef HAVE_1ROW_KERNEL
        if (mr == 1) micro_kernel_1row(kc, ar[0], a_cs, bp, ldb, acc);
        else
#endif
            micro_kernel(kc, ar, a_cs, bp, ldb, acc);
        store_tile(mr, nr, i0, j0, acc, alpha, c, ldc, ep, block);
    }
}

/* Stores epilogue(0) everywhere (K = 0: A and B may be NULL and are not touched). */
static void store_zero(size_t M, size_t N, float alpha, float *c, ptrdiff_t ldc,
                       const OnnxccEpilogue *ep) {
    _Alignas(64) float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t j0 = 0; j0 < N; j0 += NR)
        for (size_t i0 = 0; i0 < M; i0 += MR)
            store_tile(M - i0 < MR ? M - i0 : MR, N - j0 < NR ? N - j0 : NR, i0, j0, acc,
                       alpha, c, ldc, ep, BLOCK_FIRST | BLOCK_LAST);
}

void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    (void)pool;
    if (M == 0 || N == 0) return;
    if (K == 0) {
        store_zero(M, N, alpha, c, ldc, ep);
        return;
    }
    _Alignas(64) float bp[KC * NR];
    size_t depth = block_depth(K);
    /* With few rows a packed panel would serve only one or two tiles: full panels of a
     * row-major B are read in place instead (its rows are contiguous NR-float runs). */
    bool direct = b_cs == 1 && b_rs > 0 && M < 2 * MR;
    for (size_t pc = 0; pc < K; pc += depth) {
        size_t kc = K - pc < depth ? K - pc : depth;
        int block = (pc == 0 ? BLOCK_FIRST : 0) | (pc + kc >= K ? BLOCK_LAST : 0);
        for (size_t j0 = 0; j0 < N; j0 += NR) {
            size_t nr = N - j0 < NR ? N - j0 : NR;
            const float *bsrc = b + (ptrdiff_t)pc * b_rs + (ptrdiff_t)j0 * b_cs;
            if (direct && nr == NR) {
                sweep_panel(M, nr, j0, pc, kc, alpha, a, a_rs, a_cs, bsrc, (size_t)b_rs, c, ldc,
                            ep, block);
                continue;
            }
            pack_b(kc, nr, bsrc, b_rs, b_cs, bp);
            sweep_panel(M, nr, j0, pc, kc, alpha, a, a_rs, a_cs, bp, NR, c, ldc, ep, block);
        }
    }
}

void onnxcc_f32_gemm_packed_b(size_t M, size_t N, size_t K, float alpha, const float *a,
                              ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                              ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    (void)pool;
    if (M == 0 || N == 0) return;
    if (K == 0) {
        store_zero(M, N, alpha, c, ldc, ep);
        return;
    }
    size_t depth = block_depth(K);
    for (size_t pc = 0; pc < K; pc += depth) {
        size_t kc = K - pc < depth ? K - pc : depth;
        int block = (pc == 0 ? BLOCK_FIRST : 0) | (pc + kc >= K ? BLOCK_LAST : 0);
        for (size_t j0 = 0; j0 < N; j0 += NR) {
            size_t nr = N - j0 < NR ? N - j0 : NR;
            const float *panel = bp + (j0 / NR) * K * NR + pc * NR;
            sweep_panel(M, nr, j0, pc, kc, alpha, a, a_rs, a_cs, panel, NR, c, ldc, ep, block);
        }
    }
}

/* The epilogue of the result block at (i0, j0): its operands moved by i0 rows and j0
 * columns. */
static OnnxccEpilogue ep_at(const OnnxccEpilogue *ep, size_t i0, size_t j0) {
    OnnxccEpilogue e = *ep;
    OnnxccOperand *ops[3] = {&e.bias, &e.residual, &e.slope};
    for (int k = 0; k < 3; k++)
        if (ops[k]->ptr)
            ops[k]->ptr += (ptrdiff_t)i0 * ops[k]->row_stride + (ptrdiff_t)j0 * ops[k]->col_stride;
    return e;
}

/* Packed operands: one panel at a time through the strided GEMM (a panel of packed A is a
 * K x 8 matrix with column stride 8, a panel of packed B a K x 32 row-major one). */
void onnxcc_f32_gemm_pa(size_t M, size_t N, size_t K, float alpha, const float *ap,
                        const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    for (size_t i0 = 0; i0 < M; i0 += ONNXCC_PACK_MR) {
        size_t mr = M - i0 < ONNXCC_PACK_MR ? M - i0 : ONNXCC_PACK_MR;
        OnnxccEpilogue e;
        if (ep) e = ep_at(ep, i0, 0);
        onnxcc_f32_gemm(mr, N, K, alpha, ap + i0 * K, 1, ONNXCC_PACK_MR, b, b_rs, b_cs,
                        c + (ptrdiff_t)i0 * ldc, ldc, ep ? &e : NULL, pool);
    }
}

void onnxcc_f32_gemm_pb(size_t M, size_t N, size_t K, float alpha, const float *a,
                        ptrdiff_t a_rs, ptrdiff_t a_cs, const float *bp, float *c,
                        ptrdiff_t ldc, const OnnxccEpilogue *ep, OnnxccPool *pool) {
    for (size_t j0 = 0; j0 < N; j0 += ONNXCC_PACK_NR) {
        size_t nr = N - j0 < ONNXCC_PACK_NR ? N - j0 : ONNXCC_PACK_NR;
        OnnxccEpilogue e;
        if (ep) e = ep_at(ep, 0, j0);
        onnxcc_f32_gemm(M, nr, K, alpha, a, a_rs, a_cs, bp + j0 * K, ONNXCC_PACK_NR, 1,
                        c + j0, ldc, ep ? &e : NULL, pool);
    }
}

void onnxcc_f32_gemm_pab(size_t M, size_t N, size_t K, float alpha, const float *ap,
                         const float *bp, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                         OnnxccPool *pool) {
    for (size_t j0 = 0; j0 < N; j0 += ONNXCC_PACK_NR) {
        size_t nr = N - j0 < ONNXCC_PACK_NR ? N - j0 : ONNXCC_PACK_NR;
        OnnxccEpilogue e;
        if (ep) e = ep_at(ep, 0, j0);
        onnxcc_f32_gemm_pa(M, nr, K, alpha, ap, bp + j0 * K, ONNXCC_PACK_NR, 1, c + j0, ldc,
                           ep ? &e : NULL, pool);
    }
}
