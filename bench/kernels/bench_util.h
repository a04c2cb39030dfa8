/* bench_util.h: what the kernel benchmarks share: a clock, aligned buffers, inputs and a
 * median timer.  Benchmarks, not tests: single-threaded programs. */
#ifndef ONNXCC_BENCH_UTIL_H
#define ONNXCC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds of CPU time of this thread: the benchmarks run on it alone, and unlike wall
 * time it does not count the time other processes of a shared machine take the core. */
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 64-byte aligned bytes; exits on failure. */
static inline void *xalloc(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* Deterministic values in [-0.5, 0.5). */
static inline void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 9) / (float)(1u << 23) - 0.5f;
    }
}

/* Median seconds of 15 timed runs after a warm-up, each run `inner` calls long enough
 * (~2 ms) to be timed reliably. */
#define TIME_MEDIAN(out, body)                                                       \
    do {                                                                             \
        body;                                                                        \
        double t0_ = now();                                                          \
        body;                                                                        \
        double one_ = now() - t0_;                                                   \
        int inner_ = one_ > 2e-3 ? 1 : (int)(2e-3 / (one_ + 1e-9)) + 1;              \
        double ts_[15];                                                              \
        for (int r_ = 0; r_ < 15; r_++) {                                            \
            double a_ = now();                                                       \
            for (int i_ = 0; i_ < inner_; i_++) body;                                \
            ts_[r_] = (now() - a_) / inner_;                                         \
        }                                                                            \
        qsort(ts_, 15, sizeof ts_[0], cmp_d);                                        \
        out = ts_[7];                                                                \
    } while (0)

#endif
