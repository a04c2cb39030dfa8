/* peak.c: measures the single-thread FP32 FMA peak of this CPU (GFLOP/s).
 *
 * The loop of fma_loop.h, timed by the wall clock, best of 7 runs.  Build and run:
 *   clang -O2 -march=native bench/kernels/peak.c -o /tmp/peak && /tmp/peak
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include "fma_loop.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    FmaV a, b;
    fma_inputs(&a, &b);
    long iters = 20000000;
    double best = 0;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        FmaV r = fma_chains(iters, a, b);
        double t = now() - t0;
        double gf = FMA_FLOPS_PER_ITER * (double)iters / t * 1e-9;
        if (gf > best) best = gf;
        if (r[0] == 12345.0f) printf("!");
    }
    printf("fma peak: %.1f GFLOP/s (%d-float vectors, best of 7)\n", best, FMA_VW);
    return 0;
}
