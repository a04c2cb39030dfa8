/* model_main.c: times one model compiled by onnxcc with --name m (m.h / m.c), one input
 * and one output of float.  Prints the time of each of N runs in milliseconds, one per
 * line, after a warm-up; vs_ort.py interleaves batches of it with onnxruntime.
 *
 *   onnxcc compile MODEL.onnx -o DIR --name m --emit-runtime
 *   clang -O3 -march=native -IDIR bench/kernels/model_main.c DIR/\*.c -lm -o /tmp/m
 *   /tmp/m [N]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "m.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20;
    /* Big enough for the models we time (resnet18: 3 x 224 x 224 in, 1000 out). */
    size_t in_n = (size_t)1 << 22, out_n = (size_t)1 << 20;
    float *in = malloc(in_n * sizeof(float)), *out = malloc(out_n * sizeof(float));
    void *ws = aligned_alloc(64, (m_WORKSPACE_BYTES + 63) / 64 * 64 + 64);
    if (!in || !out || !ws) return 1;
    for (size_t i = 0; i < in_n; i++) in[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    if (m_run(in, out, ws) != 0) return 1;      /* warm-up */
    for (int r = 0; r < n; r++) {
        double t0 = now();
        m_run(in, out, ws);
        printf("%.4f\n", (now() - t0) * 1e3);
    }
    free(in), free(out), free(ws);
    return 0;
}
