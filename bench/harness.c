/* Timing harness for one model compiled by onnxcc with `--name m`.  Built by bench/bench.py
 * together with the generated m.c and the runtime:
 *
 *     harness RUNS WARMUP_MS THREADS OUT_DIR INPUT_0.bin [INPUT_1.bin ...]
 *
 * THREADS 1 runs the model on the calling thread (no pool); more creates a pool of that
 * many threads (onnxcc_pool_create, outside the timed runs) and runs m_run_generic_pool on
 * it.  Reads each input (raw row-major data, exactly m_inputs[i].nbytes bytes), runs the
 * model once and writes output K to OUT_DIR/output_K.bin (OUT_DIR "-" writes nothing), keeps
 * running it until WARMUP_MS milliseconds have passed (warm-up), then runs it RUNS times
 * and prints each run's time in nanoseconds (CLOCK_MONOTONIC), one per line, on stdout.
 * Exit status: 0 on success, 1 if the model reported a run-time error, 2 on a usage or I/O
 * error. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "m.h"
#include "onnxcc_threads.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads exactly `n` bytes from `path` into `buf`; the file must be exactly that size. */
static int read_exact(const char *path, void *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "harness: cannot open %s\n", path);
        return 0;
    }
    size_t got = fread(buf, 1, n, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        fprintf(stderr, "harness: %s is not %zu bytes\n", path, n);
        return 0;
    }
    return 1;
}

static int write_all(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "harness: cannot create %s\n", path);
        return 0;
    }
    size_t put = fwrite(buf, 1, n, f);
    int bad = fclose(f) != 0 || put != n;
    if (bad)
        fprintf(stderr, "harness: cannot write %s\n", path);
    return !bad;
}

int main(int argc, char **argv)
{
    if (argc != 5 + m_NUM_INPUTS) {
        fprintf(stderr, "usage: harness RUNS WARMUP_MS THREADS OUT_DIR INPUT_0.bin ..."
                " (%d inputs)\n", m_NUM_INPUTS);
        return 2;
    }
    long runs = strtol(argv[1], NULL, 10);
    long warm_ms = strtol(argv[2], NULL, 10);
    long threads = strtol(argv[3], NULL, 10);
    const char *out_dir = argv[4];
    if (runs < 1 || runs > 1000000 || warm_ms < 0 || threads < 1 ||
        threads > ONNXCC_POOL_MAX_THREADS) {
        fprintf(stderr, "harness: bad RUNS, WARMUP_MS or THREADS\n");
        return 2;
    }
    OnnxccPool *pool = NULL;
    if (threads > 1 && !(pool = onnxcc_pool_create((int)threads))) {
        fprintf(stderr, "harness: cannot start a pool of %ld threads\n", threads);
        return 2;
    }

    const void *inputs[m_NUM_INPUTS];
    void *outputs[m_NUM_OUTPUTS];
    for (int i = 0; i < m_NUM_INPUTS; i++) {
        /* +1 so that a zero-byte tensor still gets a valid pointer */
        void *p = malloc(m_inputs[i].nbytes + 1);
        if (!p || !read_exact(argv[5 + i], p, m_inputs[i].nbytes))
            return 2;
        inputs[i] = p;
    }
    for (int k = 0; k < m_NUM_OUTPUTS; k++) {
        outputs[k] = malloc(m_outputs[k].nbytes + 1);
        if (!outputs[k])
            return 2;
    }
    void *workspace = malloc(m_WORKSPACE_BYTES + 1);
    int64_t *times = malloc((size_t)runs * sizeof *times);
    if (!workspace || !times)
        return 2;

    if (m_run_generic_pool(inputs, outputs, workspace, pool) != 0) {
        fprintf(stderr, "harness: the model reported a run-time error\n");
        return 1;
    }
    if (strcmp(out_dir, "-") != 0) {
        for (int k = 0; k < m_NUM_OUTPUTS; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/output_%d.bin", out_dir, k);
            if (!write_all(path, outputs[k], m_outputs[k].nbytes))
                return 2;
        }
    }

    /* Warm-up (the run above is its first): caches, branch predictors, page faults of the
     * workspace, the CPU's clock. */
    int64_t warm_end = now_ns() + (int64_t)warm_ms * 1000000;
    while (now_ns() < warm_end)
        m_run_generic_pool(inputs, outputs, workspace, pool);

    int failed = 0;
    for (long r = 0; r < runs; r++) {
        int64_t t0 = now_ns();
        failed |= m_run_generic_pool(inputs, outputs, workspace, pool);
        times[r] = now_ns() - t0;
    }
    if (failed) {
        fprintf(stderr, "harness: the model reported a run-time error\n");
        return 1;
    }
    for (long r = 0; r < runs; r++)
        printf("%lld\n", (long long)times[r]);
    onnxcc_pool_destroy(pool);
    return 0;
}
