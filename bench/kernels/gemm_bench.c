/* gemm_bench.c: GFLOP/s of the GEMM entry points (onnxcc_gemm.h) on the shapes the
 * models give them, one thread, median of 15 timed runs (CPU time), and the share of the
 * FMA peak when it is given (bench/kernels/peak.c measures it).
 *
 *   clang -O3 -march=native -Iruntime/include bench/kernels/gemm_bench.c \
 *       runtime/src/rt_*.c -lm -lpthread -o /tmp/gemm_bench
 *   /tmp/gemm_bench [--peak GFLOPS] [name filter]
 *
 * Shapes: resnet's dense 3x3 convolutions as onnxcc_f32_gemm_pab (weights packed at
 * compile time, im2col panels packed at run time; bias per row and Relu), 1x1
 * convolutions, batch-1 Linear layers as GEMVs over packed weights (pb, M = 1), the
 * transformer's 32-row products (pb), and strided products.  "ct": the transposed-C
 * product of a convolution on a small plane (rows = output pixels, onnxcc_conv_small.h),
 * beside the same product with C not transposed ("ct=pab", what the transposition costs).
 *
 * Then convolutions on small planes (names starting "conv"), whole layers as the
 * generated code calls them, bias and Relu: onnxcc_f32_conv_packed (weights packed as
 * GEMM rows, pixels as columns: the `old` column) against onnxcc_f32_conv_small (pixels
 * as rows, the transposed GEMM: `small`), timed alternately, with their ratio.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "onnxcc_conv_small.h"
#include "onnxcc_rt.h"

enum { STRIDED, PA, PB, PAB, PAB_CT };
static const char *const entry_names[] = {"gemm", "pa", "pb", "pab", "pabct"};

typedef struct Shape {
    const char *name;
    int entry;
    size_t m, n, k;
    int row_bias;   /* bias per row (a convolution's) rather than per column */
} Shape;

static const Shape shapes[] = {
    /* As the convolutions call it: one chunk of output pixels, ~512 KiB of B panels
     * (onnxcc_conv_chunk), then the whole layer in one call. */
    {"r18 3x3 64->64 @56 /256", PAB, 64, 256, 576, 1},
    {"r18 3x3 128->128 @28 /128", PAB, 128, 128, 1152, 1},
    {"r18 3x3 256->256 @14 /64", PAB, 256, 64, 2304, 1},
    {"r18 3x3 512->512 @7", PAB, 512, 49, 4608, 1},
    {"r18 3x3 512->512 @7 ct", PAB_CT, 49, 512, 4608, 0},
    {"r18 3x3 64->64 @56", PAB, 64, 3136, 576, 1},
    {"r18 3x3 128->128 @28", PAB, 128, 784, 1152, 1},
    {"r18 3x3 256->256 @14", PAB, 256, 196, 2304, 1},
    /* The 4 columns a 14 x 14 plane ends with, as a chunk of their own (which
     * onnxcc_conv_chunk_at now avoids; on AVX-512 through the narrow tile), and the last
     * chunk that takes them instead. */
    {"r18 3x3 256->256 @14 last/4", PAB, 256, 4, 2304, 1},
    {"r18 3x3 256->256 @14 /68", PAB, 256, 68, 2304, 1},
    {"r50 1x1 64->256 @56", PAB, 256, 3136, 64, 1},
    {"r50 1x1 256->64 @56", PAB, 64, 3136, 256, 1},
    {"r50 1x1 512->2048 @7", PAB, 2048, 49, 512, 1},
    {"r50 1x1 512->2048 @7 ct", PAB_CT, 49, 2048, 512, 0},
    {"r50 1x1 512->2048 @7 ct=pab", PAB, 49, 2048, 512, 0},
    {"mv2 1x1 16->96 @112", PAB, 96, 12544, 16, 1},
    {"mv2 1x1 320->1280 @7", PAB, 1280, 49, 320, 1},
    {"one tile 8x32x256 (in L1)", PAB, 8, 32, 256, 1},
    {"fc 1x1000x512 (r18)", PB, 1, 1000, 512, 0},
    {"fc 1x1000x2048 (r50)", PB, 1, 1000, 2048, 0},
    {"fc 1x4096x4096", PB, 1, 4096, 4096, 0},
    {"tf 32x128x512", PB, 32, 128, 512, 0},
    {"tf 32x512x128", PB, 32, 512, 128, 0},
    {"tf 32x128x128", PB, 32, 128, 128, 0},
    {"pa 64x3136x576", PA, 64, 3136, 576, 1},
    {"gemm 256x256x256", STRIDED, 256, 256, 256, 0},
    {"gemm 512x512x512", STRIDED, 512, 512, 512, 0},
    {"gemm 1x1000x512", STRIDED, 1, 1000, 512, 0},
    {"gemm 32x512x128", STRIDED, 32, 512, 128, 0},
};

/* Floats of 64-byte aligned memory. */
static float *falloc(size_t floats) { return xalloc(floats * sizeof(float)); }

static void run(const Shape *s, const float *a, const float *ap, const float *b,
                const float *bp, float *c, const OnnxccEpilogue *ep) {
    size_t M = s->m, N = s->n, K = s->k;
    switch (s->entry) {
    case STRIDED:
        onnxcc_f32_gemm(M, N, K, 1.0f, a, (ptrdiff_t)K, 1, b, (ptrdiff_t)N, 1, c, (ptrdiff_t)N,
                        ep, NULL);
        break;
    case PA:
        onnxcc_f32_gemm_pa(M, N, K, 1.0f, ap, b, (ptrdiff_t)N, 1, c, (ptrdiff_t)N, ep, NULL);
        break;
    case PB:
        onnxcc_f32_gemm_pb(M, N, K, 1.0f, a, (ptrdiff_t)K, 1, bp, c, (ptrdiff_t)N, ep, NULL);
        break;
    case PAB:
        onnxcc_f32_gemm_pab(M, N, K, 1.0f, ap, bp, c, (ptrdiff_t)N, ep, NULL);
        break;
    default:
        onnxcc_f32_gemm_pab_ct(M, N, K, 1.0f, ap, bp, c, (ptrdiff_t)M, ep, NULL);
        break;
    }
}

/* Median seconds of one call: 15 timed runs after a warm-up, each of enough calls to
 * last ~2 ms. */
static double time_shape(const Shape *s, const float *a, const float *ap, const float *b,
                         const float *bp, float *c, const OnnxccEpilogue *ep) {
    run(s, a, ap, b, bp, c, ep);
    double t0 = now();
    run(s, a, ap, b, bp, c, ep);
    double one = now() - t0;
    int inner = one > 2e-3 ? 1 : (int)(2e-3 / (one + 1e-9)) + 1;
    double ts[15];
    for (int r = 0; r < 15; r++) {
        double t = now();
        for (int i = 0; i < inner; i++) run(s, a, ap, b, bp, c, ep);
        ts[r] = (now() - t) / inner;
    }
    qsort(ts, 15, sizeof ts[0], cmp_d);
    return ts[7];
}

/* ---- convolutions on small planes -------------------------------------------------- */

typedef struct ConvShape {
    const char *name;
    size_t cin, cout;
    int64_t in, kernel, stride, pad;    /* square planes and kernels */
} ConvShape;

static const ConvShape conv_shapes[] = {
    {"conv r18 3x3 512->512 @7", 512, 512, 7, 3, 1, 1},
    {"conv r18 3x3 256->512 @14/2", 256, 512, 14, 3, 2, 1},
    {"conv r18 3x3 128->256 @28/2", 128, 256, 28, 3, 2, 1},
    {"conv r18 3x3 64->128 @56/2", 64, 128, 56, 3, 2, 1},
    {"conv r18 1x1 256->512 @14/2", 256, 512, 14, 1, 2, 0},
    {"conv r18 3x3 256->256 @14", 256, 256, 14, 3, 1, 1},
    {"conv r50 3x3 512->512 @7", 512, 512, 7, 3, 1, 1},
    {"conv r50 1x1 512->2048 @7", 512, 2048, 7, 1, 1, 0},
    {"conv r50 1x1 2048->512 @7", 2048, 512, 7, 1, 1, 0},
    {"conv r50 3x3 256->256 @14", 256, 256, 14, 3, 1, 1},
    {"conv r50 1x1 1024->256 @14", 1024, 256, 14, 1, 1, 0},
    {"conv r50 1x1 256->1024 @14", 256, 1024, 14, 1, 1, 0},
    {"conv sq 1x1 512->1000 @13", 512, 1000, 13, 1, 1, 0},
    {"conv mv2 1x1 576->96 @14", 576, 96, 14, 1, 1, 0},
    {"conv mv2 1x1 96->576 @14", 96, 576, 14, 1, 1, 0},
    {"conv mv2 1x1 960->320 @7", 960, 320, 7, 1, 1, 0},
    {"conv mv2 1x1 320->1280 @7", 320, 1280, 7, 1, 1, 0},
    {"conv mv2 1x1 160->960 @7", 160, 960, 7, 1, 1, 0},
    {"conv mv2 1x1 960->160 @7", 960, 160, 7, 1, 1, 0},
    {"conv mv2 1x1 64->384 @14", 64, 384, 14, 1, 1, 0},
    {"conv mv2 1x1 384->64 @14", 384, 64, 14, 1, 1, 0},
    {"conv 3x3 128->128 @8", 128, 128, 8, 3, 1, 1},
    {"conv 3x3 128->128 @10", 128, 128, 10, 3, 1, 1},
    {"conv 3x3 64->64 @7", 64, 64, 7, 3, 1, 1},
    {"conv 3x3 512->32 @7", 512, 32, 7, 3, 1, 1},
    {"conv 3x3 64->64 @6", 64, 64, 6, 3, 1, 1},
    {"conv 3x3 128->128 @9", 128, 128, 9, 3, 1, 1},
    {"conv 1x1 32->64 @7", 32, 64, 7, 1, 1, 0},
    {"conv 1x1 8->64 @7", 8, 64, 7, 1, 1, 0},
    {"conv 1x1 256->16 @7", 256, 16, 7, 1, 1, 0},
};

typedef struct ConvRun {
    OnnxccConvGeom g;
    const ConvShape *s;
    const float *x, *wa, *wb;   /* weights packed as GEMM rows (A) and columns (B) */
    float *y;
    void *scratch;
    const OnnxccEpilogue *ep;
} ConvRun;

static void conv_call(const ConvRun *r, int small) {
    if (small)
        onnxcc_f32_conv_small(&r->g, 1, r->s->cin, r->s->cout, r->x, r->wb, r->y, r->ep,
                              r->scratch, NULL);
    else
        onnxcc_f32_conv_packed(&r->g, 1, r->s->cin, r->s->cout, 1, r->x, r->wa, r->y, r->ep,
                               r->scratch, NULL);
}

/* Seconds of one call of each path (medians of 15 rounds, the paths alternating, each
 * round enough calls for ~2 ms). */
static void conv_time(const ConvRun *r, double t[2]) {
    double ts[2][15];
    int inner[2];
    for (int p = 0; p < 2; p++) {
        conv_call(r, p);
        double t0 = now();
        conv_call(r, p);
        double one = now() - t0;
        inner[p] = one > 2e-3 ? 1 : (int)(2e-3 / (one + 1e-9)) + 1;
    }
    for (int round = 0; round < 15; round++)
        for (int p = 0; p < 2; p++) {
            double t0 = now();
            for (int i = 0; i < inner[p]; i++) conv_call(r, p);
            ts[p][round] = (now() - t0) / inner[p];
        }
    for (int p = 0; p < 2; p++) {
        qsort(ts[p], 15, sizeof ts[p][0], cmp_d);
        t[p] = ts[p][7];
    }
}

static void conv_bench(const ConvShape *s, double peak) {
    ConvRun r = {.s = s};
    r.g = (OnnxccConvGeom){.n_spatial = 2};
    for (int a = 0; a < 2; a++) {
        r.g.in[a] = s->in, r.g.kernel[a] = s->kernel, r.g.stride[a] = s->stride;
        r.g.dilation[a] = 1, r.g.pad_begin[a] = s->pad, r.g.pad_end[a] = s->pad;
        r.g.out[a] = (s->in + 2 * s->pad - s->kernel) / s->stride + 1;
    }
    OnnxccGeom3 G;
    onnxcc_geom3(&r.g, &G);
    size_t out_pix = (size_t)(r.g.out[0] * r.g.out[1]);
    size_t kdim = onnxcc_conv_small_kdim(&G, s->cin);
    float *x = falloc(s->cin * (size_t)(s->in * s->in)), *w = falloc(s->cout * kdim);
    float *wa = falloc(onnxcc_conv_packed_floats(s->cout, 1, kdim));
    float *wb = falloc(onnxcc_packed_b_floats(kdim, s->cout));
    float *y = falloc(s->cout * out_pix), *bias = falloc(s->cout);
    fill(x, s->cin * (size_t)(s->in * s->in), 1), fill(w, s->cout * kdim, 2);
    fill(bias, s->cout, 3);
    memset(wa, 0, onnxcc_conv_packed_floats(s->cout, 1, kdim) * sizeof(float));
    memset(wb, 0, onnxcc_packed_b_floats(kdim, s->cout) * sizeof(float));
    for (size_t oc = 0; oc < s->cout; oc++)
        for (size_t k = 0; k < kdim; k++) {
            wa[onnxcc_conv_packed_index(s->cout, 1, kdim, oc, k)] = w[oc * kdim + k];
            wb[onnxcc_packed_b_index(kdim, k, oc)] = w[oc * kdim + k];
        }
    size_t sa = onnxcc_f32_conv_scratch_bytes(&r.g, s->cin, s->cout, 1);
    size_t sb = onnxcc_f32_conv_small_scratch_bytes(&r.g, s->cin);
    r.scratch = falloc((sa > sb ? sa : sb) / sizeof(float) + 1);
    OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f, .act = ONNXCC_ACT_RELU};
    r.x = x, r.wa = wa, r.wb = wb, r.y = y, r.ep = &ep;
    double t[2];
    conv_time(&r, t);
    double flops = 2.0 * (double)out_pix * (double)s->cout * (double)kdim;
    printf("%-28s %9.1f %9.1f %9.1f %9.1f %6.2f", s->name, t[0] * 1e6, t[1] * 1e6,
           flops / t[0] * 1e-9, flops / t[1] * 1e-9, t[0] / t[1]);
    if (peak) printf("  %5.1f %5.1f", 100.0 * flops / t[0] * 1e-9 / peak,
                     100.0 * flops / t[1] * 1e-9 / peak);
    printf("\n");
    free(x), free(w), free(wa), free(wb), free(y), free(bias), free(r.scratch);
}

int main(int argc, char **argv) {
    double peak = 0;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--peak") == 0 && i + 1 < argc) peak = atof(argv[++i]);
        else filter = argv[i];
    }
    printf("%-28s %5s %10s %9s%s\n", "shape", "entry", "us", "GFLOP/s", peak ? "  % peak" : "");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const Shape *s = &shapes[si];
        if (filter && !strstr(s->name, filter)) continue;
        size_t M = s->m, N = s->n, K = s->k;
        float *a = falloc(M * K), *b = falloc(K * N), *c = falloc(M * N);
        float *ap = falloc(onnxcc_packed_a_floats(M, K));
        float *bp = falloc(onnxcc_packed_b_floats(K, N));
        float *bias = falloc(M > N ? M : N);
        fill(a, M * K, 1), fill(b, K * N, 2), fill(bias, M > N ? M : N, 3);
        memset(ap, 0, onnxcc_packed_a_floats(M, K) * sizeof(float));
        memset(bp, 0, onnxcc_packed_b_floats(K, N) * sizeof(float));
        for (size_t i = 0; i < M; i++)
            for (size_t k = 0; k < K; k++) ap[onnxcc_packed_a_index(K, i, k)] = a[i * K + k];
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < N; j++) bp[onnxcc_packed_b_index(K, k, j)] = b[k * N + j];
        OnnxccEpilogue ep = {.bias = {bias, s->row_bias ? 1 : 0, s->row_bias ? 0 : 1},
                             .bias_scale = 1.0f, .act = ONNXCC_ACT_RELU};
        double t = time_shape(s, a, ap, b, bp, c, &ep);
        double gf = 2.0 * (double)M * (double)N * (double)K / t * 1e-9;
        printf("%-28s %5s %10.1f %9.1f", s->name, entry_names[s->entry], t * 1e6, gf);
        if (peak) printf("  %6.1f", 100.0 * gf / peak);
        printf("\n");
        free(a), free(b), free(c), free(ap), free(bp), free(bias);
    }
    printf("\n%-28s %9s %9s %9s %9s %6s%s\n", "convolution", "old us", "small us", "old GF/s",
           "small GF", "old/sm", peak ? "  %peak old small" : "");
    for (size_t si = 0; si < sizeof conv_shapes / sizeof conv_shapes[0]; si++)
        if (!filter || strstr(conv_shapes[si].name, filter)) conv_bench(&conv_shapes[si], peak);
    return 0;
}
