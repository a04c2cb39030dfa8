/* peak.c: measures the single-thread FP32 FMA peak of this CPU (GFLOP/s).
 *
 * Many independent chains of vector FMAs (enough to cover latency x throughput), with the
 * widest vectors the target has (-march=native).  Build and run:
 *   clang -O2 -march=native bench/kernels/peak.c -o /tmp/peak && /tmp/peak
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
typedef float V __attribute__((vector_size(VW * sizeof(float))));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 12 chains: 12 x 2 x VW x 2 flops per iteration. */
__attribute__((noinline)) static V run(long iters, V a, V b) {
    V c0 = a, c1 = a + 1, c2 = a + 2, c3 = a + 3, c4 = a + 4, c5 = a + 5;
    V c6 = a + 6, c7 = a + 7, c8 = a + 8, c9 = a + 9, c10 = a + 10, c11 = a + 11;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+x"(b));  /* keep b opaque: no hoisting */
        c0 = c0 * b + a; c1 = c1 * b + a; c2 = c2 * b + a; c3 = c3 * b + a;
        c4 = c4 * b + a; c5 = c5 * b + a; c6 = c6 * b + a; c7 = c7 * b + a;
        c8 = c8 * b + a; c9 = c9 * b + a; c10 = c10 * b + a; c11 = c11 * b + a;
    }
    return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
}

int main(void) {
    V a, b;
    for (int i = 0; i < VW; i++) a[i] = 1e-3f, b[i] = 0.999f;
    long iters = 20000000;
    double best = 0;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        V r = run(iters, a, b);
        double t = now() - t0;
        double gf = 12.0 * 2.0 * VW * (double)iters / t * 1e-9;
        if (gf > best) best = gf;
        if (r[0] == 12345.0f) printf("!");
    }
    printf("fma peak: %.1f GFLOP/s (%d-float vectors, best of 7)\n", best, VW);
    return 0;
}
