/* test_kern_pool.c: the windowed pools of rt_pool.c (onnxcc_f32_maxpool without Indices,
 * onnxcc_f32_avgpool with and without count_include_pad) against a naive loop over each
 * window, on the shapes that take the fast paths and their edges: 3x3/2 and 2x2/2 max
 * pools with ceil_mode or padding (squeezenet's and resnet's), rows of one vector, of
 * several and of a partial one, windows wholly in the padding, 3-D windows of more rows
 * than the stride-2 path takes, dilation, a stride of 3, border columns whose divisor
 * differs, and 2 threads (whose output must be bitwise the one thread's).
 *
 * Only the runtime is needed (rt_pool.c and the thread pool), so that the file can be
 * built for each ISA; in unit_tests it checks the build's own one.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_pooling.h"
#include "kern_ref.h"

typedef struct PoolCase {
    int ns;                                  /* spatial axes */
    int64_t in[3], kernel[3], stride[3], dilation[3], pb[3], pe[3];
    bool ceil_mode;
    size_t planes;
} PoolCase;

/* The geometry, with ONNX's ceil_mode rule: the last window must start inside the input
 * or its leading padding. */
static OnnxccConvGeom pool_geom(const PoolCase *pc) {
    OnnxccConvGeom g = conv_geom(pc->ns, pc->in, pc->kernel, pc->stride, pc->dilation, pc->pb,
                                 pc->pe);
    for (int a = 0; a < pc->ns && pc->ceil_mode; a++) {
        int64_t span = (g.kernel[a] - 1) * g.dilation[a] + 1;
        int64_t total = g.in[a] + g.pad_begin[a] + g.pad_end[a] - span;
        g.out[a] = (total + g.stride[a] - 1) / g.stride[a] + 1;
        if ((g.out[a] - 1) * g.stride[a] >= g.in[a] + g.pad_begin[a]) g.out[a]--;
    }
    return g;
}

/* One window at a time: the max of the positions inside the input (-inf if none), or
 * their sum divided by their count, or by the count of the positions inside the input
 * and its explicit padding (count_include_pad), 0 for none. */
static void naive_pool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                       bool is_max, bool include_pad) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    const int64_t in_pix = G.in[0] * G.in[1] * G.in[2], out_pix = G.out[0] * G.out[1] * G.out[2];
    for (size_t p = 0; p < planes; p++)
    for (int64_t o = 0; o < out_pix; o++) {
        const int64_t oi[3] = {o / (G.out[1] * G.out[2]), o / G.out[2] % G.out[1], o % G.out[2]};
        double acc = is_max ? -INFINITY : 0.0;
        int64_t inside = 0, padded = 1;
        for (int a = 0; a < 3; a++) {
            int64_t n = 0;
            for (int64_t k = 0; k < G.kernel[a]; k++) {
                int64_t i = oi[a] * G.stride[a] - G.pad[a] + k * G.dilation[a];
                n += i >= -G.pad[a] && i < G.in[a] + G.pad_end[a];
            }
            padded *= n;
        }
        for (int64_t k0 = 0; k0 < G.kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < G.kernel[1]; k1++)
        for (int64_t k2 = 0; k2 < G.kernel[2]; k2++) {
            const int64_t k[3] = {k0, k1, k2};
            int64_t idx = 0;
            bool ok = true;
            for (int a = 0; a < 3; a++) {
                int64_t i = oi[a] * G.stride[a] - G.pad[a] + k[a] * G.dilation[a];
                ok = ok && i >= 0 && i < G.in[a];
                idx = idx * G.in[a] + i;
            }
            if (!ok) continue;
            double v = x[(int64_t)p * in_pix + idx];
            acc = is_max ? (v > acc ? v : acc) : acc + v;
            inside++;
        }
        int64_t div = include_pad ? padded : inside;
        y[(int64_t)p * out_pix + o] = is_max ? (float)acc : div ? (float)(acc / (double)div) : 0.0f;
    }
}

/* Max, average and average with count_include_pad on one case; with a pool, also the
 * one-thread outputs, bit for bit. */
static void check_pool(const PoolCase *pc, OnnxccPool *pool) {
    OnnxccConvGeom g = pool_geom(pc);
    const size_t nx = pc->planes * prod(g.in, pc->ns), ny = pc->planes * prod(g.out, pc->ns);
    float *x = frand(nx, 11), *y = frand(ny, 12), *y1 = frand(ny, 13), *want = frand(ny, 14);
    for (int mode = 0; mode < 3; mode++) {
        const bool is_max = mode == 0, include_pad = mode == 2;
        naive_pool(&g, pc->planes, x, want, is_max, include_pad);
        if (is_max) onnxcc_f32_maxpool(&g, pc->planes, x, y, NULL, 0, pool);
        else onnxcc_f32_avgpool(&g, pc->planes, x, y, include_pad, pool);
        for (size_t i = 0; i < ny; i++)
            cr_assert(is_max ? y[i] == want[i] : fabsf(y[i] - want[i]) <= 1e-6f,
                      "in %lldx%lld k %lldx%lld s %lld pads %lld,%lld ceil %d mode %d: y[%zu] "
                      "is %.9g, expected %.9g",
                      (long long)g.in[0], (long long)g.in[1], (long long)g.kernel[0],
                      (long long)g.kernel[1], (long long)g.stride[0], (long long)pc->pb[0],
                      (long long)pc->pe[0], pc->ceil_mode, mode, i, (double)y[i],
                      (double)want[i]);
        if (!pool) continue;
        if (is_max) onnxcc_f32_maxpool(&g, pc->planes, x, y1, NULL, 0, NULL);
        else onnxcc_f32_avgpool(&g, pc->planes, x, y1, include_pad, NULL);
        cr_assert(memcmp(y, y1, ny * sizeof(float)) == 0, "mode %d: 2 threads differ", mode);
    }
    free(x), free(y), free(y1), free(want);
}

static const PoolCase cases[] = {
    /* squeezenet's 3x3/2 ceil_mode pools (111 -> 55, 55 -> 27, 27 -> 13), resnet's 3x3/2
     * pad 1 (112 -> 56), a 2x2/2 pool. */
    {2, {111, 111}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, true, 3},
    {2, {55, 55}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, true, 4},
    {2, {27, 27}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, true, 5},
    {2, {112, 112}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, false, 3},
    {2, {56, 57}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, false, 3},
    /* Rows of exactly one and two vectors of outputs, and of one output; ceil_mode with
     * padding; unequal pads. */
    {2, {9, 32}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {0, 0}, false, 2},
    {2, {9, 66}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, true, 2},
    {2, {7, 3}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, false, 2},
    {2, {10, 40}, {2, 3}, {2, 2}, {1, 1}, {1, 2}, {0, 1}, true, 2},
    /* Windows wholly in the padding (pads as large as the kernel). */
    {2, {6, 20}, {2, 2}, {2, 2}, {1, 1}, {2, 2}, {2, 2}, false, 2},
    /* 3-D windows of 3x3x3 (more rows than the stride-2 path takes) and 2x2x3. */
    {3, {5, 6, 37}, {3, 3, 3}, {1, 2, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false, 2},
    {3, {4, 6, 40}, {2, 2, 3}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 1, 1}, true, 2},
    /* Dilation, stride 3, stride 1 (the separable path), a 1-D pool. */
    {2, {20, 30}, {3, 3}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, false, 2},
    {2, {20, 31}, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, true, 2},
    {2, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, false, 3},
    {1, {70}, {3}, {2}, {1}, {1}, {0}, true, 3},
};

Test(kern_pool, every_case_max_and_average) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pool(&cases[i], NULL);
}

Test(kern_pool, two_threads) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    check_pool(&cases[0], pool);
    check_pool(&cases[3], pool);
    check_pool(&cases[11], pool);
    onnxcc_pool_destroy(pool);
}
