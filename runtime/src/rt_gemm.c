/* rt_gemm.c: the single-precision GEMM every matrix product goes through.
 *
 * C = epilogue(alpha * A x B).  The loop nest blocks K by KC and walks N in panels of NR
 * columns; each panel of B (KC x NR) is packed contiguously on the stack, zero-padded on
 * the right, and a register-blocked MR x NR micro-kernel sweeps down the rows of A.  The
 * micro-kernel uses GCC/clang vector extensions (no intrinsics: the compiler picks the
 * instructions for the target, AVX-512, AVX2, NEON or SSE; other compilers get a plain
 * loop).  Ragged edges reuse it (rows past M read a valid row and are not stored, columns
 * past N multiply zeros); a single row (M = 1) has its own kernel.
 *
 * Because K is blocked, a result element is stored once per K block.  The epilogue is
 * linear up to the activation, so the first block stores alpha*acc + bias + residual,
 * middle blocks add alpha*acc, and the last block applies the activation; each element is
 * read before it is written, which lets C alias the residual.
 */
#include <string.h>

#include "onnxcc_rt.h"

/* gcc in ISO C mode does not contract a * b + c into an FMA (clang does); the kernel is
 * about 1.4x faster with it, and a fused multiply-add is never less accurate. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* NR: columns of the micro-kernel, two vectors of the widest registers the target has. */
#if defined(__AVX512F__)
#define ONNXCC_GEMM_NR 32
#else
#define ONNXCC_GEMM_NR 16
#endif
enum {
    MR = 6,                 /* rows of the micro-kernel */
    NR = ONNXCC_GEMM_NR,
    KC = 256,               /* depth of one packed B panel: KC * NR floats, 16 or 32 KiB */
};

/* Which part of the epilogue a K block applies. */
enum { BLOCK_FIRST = 1, BLOCK_LAST = 2 };

/* acc[MR][NR] = A[0..MR)[0..kc) x bp[0..kc)[0..NR); rows of A from ar[]. */
#if defined(__GNUC__)
/* Twelve named vector accumulators stay in registers, which a float[6][NR] array does
 * not reliably do.  VF8 is half a row of the tile: 8 floats, or 16 with AVX-512. */
typedef float VF8 __attribute__((vector_size(NR / 2 * sizeof(float))));
/* clang splits 512-bit vectors in two unless a function asks for them (its default
 * prefers 256-bit vectors on AVX-512 targets). */
#if defined(__clang__) && defined(__AVX512F__)
#define ONNXCC_WIDE __attribute__((min_vector_width(512)))
#else
#define ONNXCC_WIDE
#endif
enum { HALF = NR / 2 };


ONNXCC_WIDE static void micro_kernel(size_t kc, const float *const ar[MR], ptrdiff_t a_cs,
                                     const float *restrict bp, float acc[MR][NR]) {
    VF8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    VF8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
    for (size_t k = 0; k < kc; k++) {
        VF8 b0, b1;     /* memcpy, not a helper returning VF8: no vector ABI involved */
        memcpy(&b0, bp + k * NR, sizeof b0);
        memcpy(&b1, bp + k * NR + HALF, sizeof b1);
        ptrdiff_t o = (ptrdiff_t)k * a_cs;
        float v;
        v = a0[o]; c00 += v * b0; c01 += v * b1;
        v = a1[o]; c10 += v * b0; c11 += v * b1;
        v = a2[o]; c20 += v * b0; c21 += v * b1;
        v = a3[o]; c30 += v * b0; c31 += v * b1;
        v = a4[o]; c40 += v * b0; c41 += v * b1;
        v = a5[o]; c50 += v * b0; c51 += v * b1;
    }
    memcpy(acc[0], &c00, sizeof c00), memcpy(acc[0] + HALF, &c01, sizeof c00);
    memcpy(acc[1], &c10, sizeof c00), memcpy(acc[1] + HALF, &c11, sizeof c00);
    memcpy(acc[2], &c20, sizeof c00), memcpy(acc[2] + HALF, &c21, sizeof c00);
    memcpy(acc[3], &c30, sizeof c00), memcpy(acc[3] + HALF, &c31, sizeof c00);
    memcpy(acc[4], &c40, sizeof c00), memcpy(acc[4] + HALF, &c41, sizeof c00);
    memcpy(acc[5], &c50, sizeof c00), memcpy(acc[5] + HALF, &c51, sizeof c00);
}
_Static_assert(MR == 6, "the vector micro-kernel is written for 6 rows");

/* One row (M = 1, a GEMV such as a batch-1 Linear layer): the 6-row kernel would compute
 * the same row six times. */
ONNXCC_WIDE static void micro_kernel_1row(size_t kc, const float *a0, ptrdiff_t a_cs,
                                          const float *restrict bp, float acc[MR][NR]) {
    VF8 c0 = {0}, c1 = {0}, d0 = {0}, d1 = {0};
    size_t k = 0;
    for (; k + 2 <= kc; k += 2) {   /* two independent chains hide the FMA latency */
        VF8 b0, b1, b2, b3;
        memcpy(&b0, bp + k * NR, sizeof b0);
        memcpy(&b1, bp + k * NR + HALF, sizeof b1);
        memcpy(&b2, bp + (k + 1) * NR, sizeof b2);
        memcpy(&b3, bp + (k + 1) * NR + HALF, sizeof b3);
        float v = a0[(ptrdiff_t)k * a_cs], w = a0[(ptrdiff_t)(k + 1) * a_cs];
        c0 += v * b0, c1 += v * b1;
        d0 += w * b2, d1 += w * b3;
    }
    if (k < kc) {
        VF8 b0, b1;
        memcpy(&b0, bp + k * NR, sizeof b0);
        memcpy(&b1, bp + k * NR + HALF, sizeof b1);
        float v = a0[(ptrdiff_t)k * a_cs];
        c0 += v * b0, c1 += v * b1;
    }
    c0 += d0, c1 += d1;
    memcpy(acc[0], &c0, sizeof c0), memcpy(acc[0] + HALF, &c1, sizeof c1);
}
#define HAVE_1ROW_KERNEL 1
#else
static void micro_kernel(size_t kc, const float *const ar[MR], ptrdiff_t a_cs,
                         const float *restrict bp, float acc[MR][NR]) {
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *restrict b = bp + k * NR;
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
static void store_tile(size_t mr, size_t nr, size_t i0, size_t j0, float acc[MR][NR],
                       float alpha, float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep,
                       int block) {
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

void onnxcc_f32_gemm(size_t M, size_t N, size_t K, float alpha,
                     const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                     float *c, ptrdiff_t ldc, const OnnxccEpilogue *ep) {
    if (M == 0 || N == 0) return;
    _Alignas(64) float bp[KC * NR];
    _Alignas(64) float acc[MR][NR];
    if (K == 0) {   /* A and B may be NULL: store epilogue(0) without touching them */
        memset(acc, 0, sizeof acc);
        for (size_t j0 = 0; j0 < N; j0 += NR)
            for (size_t i0 = 0; i0 < M; i0 += MR)
                store_tile(M - i0 < MR ? M - i0 : MR, N - j0 < NR ? N - j0 : NR, i0, j0, acc,
                           alpha, c, ldc, ep, BLOCK_FIRST | BLOCK_LAST);
        return;
    }
    size_t pc = 0;
    do {
        size_t kc = K - pc < KC ? K - pc : KC;
        int block = (pc == 0 ? BLOCK_FIRST : 0) | (pc + kc >= K ? BLOCK_LAST : 0);
        for (size_t j0 = 0; j0 < N; j0 += NR) {
            size_t nr = N - j0 < NR ? N - j0 : NR;
            pack_b(kc, nr, b + (ptrdiff_t)pc * b_rs + (ptrdiff_t)j0 * b_cs, b_rs, b_cs, bp);
            for (size_t i0 = 0; i0 < M; i0 += MR) {
                size_t mr = M - i0 < MR ? M - i0 : MR;
                const float *ar[MR];
                for (size_t i = 0; i < MR; i++) {
                    size_t row = i0 + (i < mr ? i : mr - 1);
                    ar[i] = a + (ptrdiff_t)row * a_rs + (ptrdiff_t)pc * a_cs;
                }
#ifdef HAVE_1ROW_KERNEL
                if (mr == 1) micro_kernel_1row(kc, ar[0], a_cs, bp, acc);
                else
#endif
                    micro_kernel(kc, ar, a_cs, bp, acc);
                store_tile(mr, nr, i0, j0, acc, alpha, c, ldc, ep, block);
            }
        }
        pc += kc;
    } while (pc < K);
}
