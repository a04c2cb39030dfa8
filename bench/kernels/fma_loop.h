/* fma_loop.h: the FMA loop whose rate is the machine's peak (peak.c, r18_layers.c).
 *
 * Many independent chains of vector FMAs (enough to cover latency x throughput), with the
 * widest vectors the target has (-march=native). */
#ifndef ONNXCC_BENCH_FMA_LOOP_H
#define ONNXCC_BENCH_FMA_LOOP_H

#if defined(__AVX512F__)
#define FMA_VW 16
#elif defined(__AVX__)
#define FMA_VW 8
#else
#define FMA_VW 4
#endif
typedef float FmaV __attribute__((vector_size(FMA_VW * sizeof(float))));

/* Floating-point operations of one fma_chains iteration: 12 chains x 2 x FMA_VW. */
#define FMA_FLOPS_PER_ITER (12.0 * 2.0 * FMA_VW)

/* 12 chains of `iters` FMAs each; returns their sum so that none is dropped. */
__attribute__((noinline)) static FmaV fma_chains(long iters, FmaV a, FmaV b) {
    FmaV c0 = a, c1 = a + 1, c2 = a + 2, c3 = a + 3, c4 = a + 4, c5 = a + 5;
    FmaV c6 = a + 6, c7 = a + 7, c8 = a + 8, c9 = a + 9, c10 = a + 10, c11 = a + 11;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+x"(b));  /* keep b opaque: no hoisting */
        c0 = c0 * b + a; c1 = c1 * b + a; c2 = c2 * b + a; c3 = c3 * b + a;
        c4 = c4 * b + a; c5 = c5 * b + a; c6 = c6 * b + a; c7 = c7 * b + a;
        c8 = c8 * b + a; c9 = c9 * b + a; c10 = c10 * b + a; c11 = c11 * b + a;
    }
    return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
}

/* a and b for fma_chains: values that stay finite and normal over many iterations. */
static inline void fma_inputs(FmaV *a, FmaV *b) {
    for (int i = 0; i < FMA_VW; i++) (*a)[i] = 1e-3f, (*b)[i] = 0.999f;
}

#endif
