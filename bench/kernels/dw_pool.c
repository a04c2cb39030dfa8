/* dw_pool.c: the depthwise convolution and pooling kernels (rt_dwconv.c, rt_pool.c) on the
 * layer shapes of mobilenet_v2, mobilenet_v3_small, efficientnet_b0, squeezenet1_1 and
 * resnet18, timed (median GFLOP/s or GB/s, one thread), or checked against naive loops.
 * The depthwise layers are timed with Relu and with SiLU (efficientnet's activation, in
 * the kernel's registers): the difference is what the activation costs.
 *
 *   clang -O3 -march=native -Iruntime/include bench/kernels/dw_pool.c \
 *       runtime/src/rt_dwconv.c runtime/src/rt_pool.c runtime/src/rt_threads.c -lm -lpthread \
 *       -o /tmp/dw_pool && /tmp/dw_pool [name filter]
 *   /tmp/dw_pool --check     every kernel path against a naive reference; exit status 1
 *                            on a mismatch (tests/unit/test_kern_dwpool.c builds and runs
 *                            it, with the host's widest vectors and without)
 *
 * The kernels' vector code is chosen by -march, so the check covers the paths of the ISA
 * it is built for: build it once per -march of interest.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "onnxcc_rt.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* A 2-D geometry: square input, kernel, stride, pads (begin, end per axis); out computed
 * (floor, or ceil as ONNX's ceil_mode). */
static OnnxccConvGeom geom2(int64_t h, int64_t w, int64_t k, int64_t s, int64_t pt,
                            int64_t pl, int64_t pb, int64_t pr, bool ceil_mode) {
    OnnxccConvGeom g = {.n_spatial = 2, .in = {h, w}, .kernel = {k, k}, .stride = {s, s},
                        .dilation = {1, 1}, .pad_begin = {pt, pl}, .pad_end = {pb, pr}};
    for (int a = 0; a < 2; a++) {
        int64_t span = g.in[a] + g.pad_begin[a] + g.pad_end[a] - k;
        g.out[a] = (ceil_mode ? span + s - 1 : span) / s + 1;
        if (ceil_mode && (g.out[a] - 1) * s >= g.in[a] + g.pad_begin[a]) g.out[a]--;
    }
    return g;
}

/* ---- naive references ------------------------------------------------------------------- */

/* Depthwise conv with a channel multiplier (out_channels / in_channels), 2-D, then the
 * epilogue: bias, residual (a copy of y's old contents), activation. */
static void naive_dw(const OnnxccConvGeom *g, size_t C, size_t M, const float *x,
                     const float *w, const float *bias, const float *res, int act, float a,
                     float b, const float *slope, float *y) {
    size_t in_pix = (size_t)(g->in[0] * g->in[1]), out_pix = (size_t)(g->out[0] * g->out[1]);
    for (size_t m = 0; m < M; m++)
    for (int64_t oh = 0; oh < g->out[0]; oh++)
    for (int64_t ow = 0; ow < g->out[1]; ow++) {
        double s = bias[m];
        for (int64_t kh = 0; kh < g->kernel[0]; kh++)
        for (int64_t kw = 0; kw < g->kernel[1]; kw++) {
            int64_t ih = oh * g->stride[0] - g->pad_begin[0] + kh * g->dilation[0];
            int64_t iw = ow * g->stride[1] - g->pad_begin[1] + kw * g->dilation[1];
            if (ih < 0 || ih >= g->in[0] || iw < 0 || iw >= g->in[1]) continue;
            s += (double)x[m / (M / C) * in_pix + (size_t)(ih * g->in[1] + iw)] *
                 w[(m * (size_t)g->kernel[0] + (size_t)kh) * (size_t)g->kernel[1] + (size_t)kw];
        }
        size_t o = m * out_pix + (size_t)(oh * g->out[1] + ow);
        float v = (float)s + (res ? res[o] : 0.0f);
        y[o] = onnxcc_act(act, v, a, b, slope[m]);
    }
}

/* 2-D max or average pooling with ONNX's rules (max ignores the padding and gives the
 * row-major flat index of the first maximum; average divides by the positions inside the
 * input, or inside input + explicit padding). */
static void naive_pool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                       int64_t *ind, bool is_max, bool include_pad) {
    for (size_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < g->out[0]; oh++)
    for (int64_t ow = 0; ow < g->out[1]; ow++) {
        float best = -INFINITY;
        double sum = 0.0;
        int64_t cnt = 0, cnt_pad = 0, bi = -1;
        for (int64_t kh = 0; kh < g->kernel[0]; kh++)
        for (int64_t kw = 0; kw < g->kernel[1]; kw++) {
            int64_t ih = oh * g->stride[0] - g->pad_begin[0] + kh * g->dilation[0];
            int64_t iw = ow * g->stride[1] - g->pad_begin[1] + kw * g->dilation[1];
            cnt_pad += ih >= -g->pad_begin[0] && ih < g->in[0] + g->pad_end[0] &&
                       iw >= -g->pad_begin[1] && iw < g->in[1] + g->pad_end[1];
            if (ih < 0 || ih >= g->in[0] || iw < 0 || iw >= g->in[1]) continue;
            int64_t idx = (int64_t)p * g->in[0] * g->in[1] + ih * g->in[1] + iw;
            sum += x[idx], cnt++;
            if (x[idx] > best) best = x[idx], bi = idx;
        }
        size_t o = (p * (size_t)g->out[0] + (size_t)oh) * (size_t)g->out[1] + (size_t)ow;
        if (is_max) {
            y[o] = best;
            if (ind) ind[o] = bi;
        } else {
            y[o] = (float)(sum / (double)(include_pad ? cnt_pad : cnt));
        }
    }
}

/* ---- check mode --------------------------------------------------------------------------- */

static int failures, checks;

static void expect_close(const float *got, const float *want, size_t n, const char *what) {
    checks++;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(got[i] - want[i]), tol = 1e-5f + 1e-5f * fabsf(want[i]);
        if (!(d <= tol) && !(isnan(got[i]) && isnan(want[i]))) {
            printf("FAIL %s: element %zu is %.9g, expected %.9g\n", what, i, got[i], want[i]);
            failures++;
            return;
        }
    }
}

/* One depthwise case: every activation, with and without a residual that aliases y. */
static void check_dw(const OnnxccConvGeom *g, size_t C, size_t M, const char *name) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    size_t in_pix = (size_t)(g->in[0] * g->in[1]), out_pix = (size_t)(g->out[0] * g->out[1]);
    size_t ks = (size_t)(g->kernel[0] * g->kernel[1]), ny = M * out_pix;
    float *x = xalloc(C * in_pix * 4), *w = xalloc(M * ks * 4), *bias = xalloc(M * 4);
    float *slope = xalloc(M * 4), *y = xalloc(ny * 4), *want = xalloc(ny * 4);
    float *res = xalloc(ny * 4);
    fill(x, C * in_pix, 1), fill(w, M * ks, 2), fill(bias, M, 3), fill(slope, M, 4);
    fill(res, ny, 5);
    for (int act = ONNXCC_ACT_NONE; act <= ONNXCC_ACT_SILU; act++)
        for (int with_res = 0; with_res < 2; with_res++) {
            const float a = act == ONNXCC_ACT_CLIP ? -0.2f : 0.3f, b = 0.25f;
            if (with_res) memcpy(y, res, ny * 4);
            else fill(y, ny, 6);
            OnnxccEpilogue ep = {.bias = {bias, 1, 0}, .bias_scale = 1.0f,
                                 .slope = {slope, 1, 0}, .act = act, .act_alpha = a,
                                 .act_beta = b, .residual = {with_res ? y : NULL, 0, 0}};
            onnxcc_f32_conv_dw(&G, 1, C, M, x, w, y, &ep, NULL, NULL);
            naive_dw(g, C, M, x, w, bias, with_res ? res : NULL, act, a, b, slope, want);
            char what[160];
            snprintf(what, sizeof what, "%s act %d%s", name, act, with_res ? " + residual" : "");
            expect_close(y, want, ny, what);
        }
    free(x), free(w), free(bias), free(slope), free(y), free(want), free(res);
}

static void check_pool(const OnnxccConvGeom *g, const char *name) {
    size_t planes = 3, nx = planes * (size_t)(g->in[0] * g->in[1]);
    size_t ny = planes * (size_t)(g->out[0] * g->out[1]);
    float *x = xalloc(nx * 4), *y = xalloc(ny * 4), *want = xalloc(ny * 4);
    int64_t *ind = xalloc(ny * 8), *ind_want = xalloc(ny * 8);
    fill(x, nx, 7);
    char what[160];
    onnxcc_f32_maxpool(g, planes, x, y, NULL, 0, NULL);
    naive_pool(g, planes, x, want, ind_want, true, false);
    snprintf(what, sizeof what, "%s maxpool", name);
    expect_close(y, want, ny, what);
    onnxcc_f32_maxpool(g, planes, x, y, ind, 0, NULL);
    snprintf(what, sizeof what, "%s maxpool with indices", name);
    expect_close(y, want, ny, what);
    for (size_t i = 0; i < ny; i++)
        if (ind[i] != ind_want[i]) {
            printf("FAIL %s: index %zu is %lld, expected %lld\n", what, i, (long long)ind[i],
                   (long long)ind_want[i]);
            failures++;
            break;
        }
    for (int include = 0; include < 2; include++) {
        onnxcc_f32_avgpool(g, planes, x, y, include, NULL);
        naive_pool(g, planes, x, want, NULL, false, include);
        snprintf(what, sizeof what, "%s avgpool%s", name, include ? " count_include_pad" : "");
        expect_close(y, want, ny, what);
    }
    free(x), free(y), free(want), free(ind), free(ind_want);
}

static void check_global(size_t planes, size_t pix) {
    float *x = xalloc(planes * pix * 4), *y = xalloc(planes * 4), *want = xalloc(planes * 4);
    fill(x, planes * pix, 8);
    char what[96];
    for (int is_max = 0; is_max < 2; is_max++) {
        for (size_t p = 0; p < planes; p++) {
            double s = 0.0;
            float m = -INFINITY;
            for (size_t i = 0; i < pix; i++) s += x[p * pix + i], m = fmaxf(m, x[p * pix + i]);
            want[p] = is_max ? m : (float)(s / (double)pix);
        }
        if (is_max) onnxcc_f32_global_maxpool(planes, pix, x, y, NULL);
        else onnxcc_f32_global_avgpool(planes, pix, x, y, NULL);
        snprintf(what, sizeof what, "global %s pool %zu x %zu", is_max ? "max" : "average",
                 planes, pix);
        expect_close(y, want, planes, what);
    }
    free(x), free(y), free(want);
}

static int check_all(void) {
    /* Depthwise: kernel 3, 5 and 7, stride 1 and 2, odd, even and small planes, "same" and
     * asymmetric or zero pads, 1-D, a channel multiplier, and the general path. */
    static const struct { int64_t h, w, k, s, pt, pl, pb, pr; size_t C, M; } dw[] = {
        {1, 1, 3, 1, 1, 1, 1, 1, 3, 3},     {2, 2, 3, 1, 1, 1, 1, 1, 3, 3},
        {7, 7, 3, 1, 1, 1, 1, 1, 5, 5},     {7, 7, 5, 1, 2, 2, 2, 2, 5, 5},
        {14, 14, 3, 1, 1, 1, 1, 1, 3, 3},   {14, 14, 5, 1, 2, 2, 2, 2, 3, 3},
        {13, 11, 3, 1, 1, 1, 1, 1, 3, 3},   {13, 11, 5, 2, 2, 2, 2, 2, 3, 3},
        {13, 11, 3, 2, 0, 1, 1, 0, 2, 2},   {13, 11, 5, 1, 2, 0, 1, 3, 2, 2},
        {14, 14, 3, 2, 1, 1, 1, 1, 3, 3},   {14, 14, 5, 2, 2, 2, 2, 2, 3, 3},
        {7, 7, 3, 2, 1, 1, 1, 1, 3, 3},     {2, 2, 5, 2, 2, 2, 2, 2, 2, 2},
        {1, 1, 5, 1, 2, 2, 2, 2, 2, 2},     {3, 3, 3, 1, 0, 0, 0, 0, 2, 2},
        {112, 112, 3, 1, 1, 1, 1, 1, 2, 2}, {112, 112, 3, 2, 1, 1, 1, 1, 2, 2},
        {56, 56, 5, 2, 2, 2, 2, 2, 2, 2},   {40, 33, 5, 1, 2, 2, 2, 2, 2, 2},
        {8, 8, 3, 1, 1, 1, 1, 1, 3, 6},     {13, 11, 5, 2, 1, 2, 2, 1, 2, 4},
        {17, 19, 3, 1, 2, 0, 0, 2, 2, 2},   {20, 18, 3, 1, 1, 1, 1, 1, 2, 2},
        {9, 9, 4, 1, 1, 1, 2, 2, 2, 2},     {9, 9, 3, 3, 1, 1, 1, 1, 2, 2},
        /* two rows per vector (rows of at most 8): several tiles, pads on one side */
        {20, 6, 5, 1, 2, 2, 2, 2, 2, 2},    {6, 5, 3, 1, 0, 2, 2, 0, 2, 2},
        {8, 8, 5, 1, 2, 2, 2, 2, 2, 2},     {5, 3, 5, 1, 1, 4, 3, 0, 2, 2},
        /* 7x7 (ConvNeXt): "same" at 56, 28 and 7 (two rows per vector), odd planes,
         * stride 2, asymmetric pads, a plane smaller than the kernel */
        {56, 56, 7, 1, 3, 3, 3, 3, 2, 2},   {28, 28, 7, 1, 3, 3, 3, 3, 2, 2},
        {7, 7, 7, 1, 3, 3, 3, 3, 3, 3},     {13, 11, 7, 1, 3, 3, 3, 3, 2, 2},
        {13, 11, 7, 2, 3, 3, 3, 3, 2, 2},   {17, 19, 7, 1, 1, 3, 5, 2, 2, 4},
        {3, 3, 7, 1, 3, 3, 3, 3, 2, 2},     {20, 6, 7, 1, 3, 3, 3, 3, 2, 2},
    };
    for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++) {
        OnnxccConvGeom g = geom2(dw[i].h, dw[i].w, dw[i].k, dw[i].s, dw[i].pt, dw[i].pl,
                                 dw[i].pb, dw[i].pr, false);
        char name[96];
        snprintf(name, sizeof name, "dw %lldx%lld k%lld s%lld pads %lld,%lld,%lld,%lld C%zu M%zu",
                 (long long)dw[i].h, (long long)dw[i].w, (long long)dw[i].k,
                 (long long)dw[i].s, (long long)dw[i].pt, (long long)dw[i].pl,
                 (long long)dw[i].pb, (long long)dw[i].pr, dw[i].C, dw[i].M);
        check_dw(&g, dw[i].C, dw[i].M, name);
    }
    {   /* Dilation: the general path. */
        OnnxccConvGeom g = geom2(9, 9, 3, 1, 2, 2, 2, 2, false);
        g.dilation[0] = g.dilation[1] = 2;
        g.out[0] = g.out[1] = 9;
        check_dw(&g, 2, 2, "dw 9x9 k3 dilation 2");
    }
    /* Pooling: 3x3/2 with and without pads and ceil_mode (squeezenet, resnet), 2x2/2,
     * 3x3/1, odd and small sizes. */
    static const struct { int64_t h, w, k, s, pt, pl, pb, pr; bool ceil_mode; } pools[] = {
        {111, 111, 3, 2, 0, 0, 0, 0, true}, {55, 55, 3, 2, 0, 0, 0, 0, true},
        {27, 27, 3, 2, 0, 0, 0, 0, true},   {112, 112, 3, 2, 1, 1, 1, 1, false},
        {13, 11, 3, 2, 1, 0, 0, 1, true},   {56, 56, 2, 2, 0, 0, 0, 0, false},
        {7, 9, 2, 2, 0, 0, 0, 0, true},     {13, 11, 3, 1, 1, 1, 1, 1, false},
        {1, 1, 3, 2, 1, 1, 1, 1, false},    {2, 2, 2, 2, 0, 0, 0, 0, false},
        {40, 37, 5, 2, 2, 2, 2, 2, true},   {9, 8, 3, 3, 1, 2, 0, 1, true},
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        OnnxccConvGeom g = geom2(pools[i].h, pools[i].w, pools[i].k, pools[i].s, pools[i].pt,
                                 pools[i].pl, pools[i].pb, pools[i].pr, pools[i].ceil_mode);
        char name[96];
        snprintf(name, sizeof name, "pool %lldx%lld k%lld s%lld pads %lld,%lld,%lld,%lld%s",
                 (long long)pools[i].h, (long long)pools[i].w, (long long)pools[i].k,
                 (long long)pools[i].s, (long long)pools[i].pt, (long long)pools[i].pl,
                 (long long)pools[i].pb, (long long)pools[i].pr,
                 pools[i].ceil_mode ? " ceil" : "");
        check_pool(&g, name);
    }
    {   /* A window wider than the separable path's row buffer, dilation, a 1 x 1 kernel. */
        OnnxccConvGeom g = {.n_spatial = 2, .in = {2, 2300}, .out = {2, 3}, .kernel = {1, 1100},
                            .stride = {1, 600}, .dilation = {1, 1}, .pad_begin = {0, 10},
                            .pad_end = {0, 0}};
        check_pool(&g, "pool 2x2300 k1x1100 s1x600 (wide window)");
        OnnxccConvGeom gd = geom2(12, 12, 3, 2, 1, 1, 1, 1, false);
        gd.dilation[0] = gd.dilation[1] = 2;
        gd.out[0] = gd.out[1] = 5;
        check_pool(&gd, "pool 12x12 k3 s2 dilation 2");
        OnnxccConvGeom g1 = geom2(5, 6, 1, 1, 0, 0, 0, 0, false);
        check_pool(&g1, "pool 5x6 k1");
    }
    static const size_t globals[][2] = {{3, 1}, {5, 7}, {4, 49}, {3, 169}, {2, 3136}, {17, 16}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
        check_global(globals[i][0], globals[i][1]);
    printf("%d of %d checks failed\n", failures, checks);
    return failures ? 1 : 0;
}

/* ---- timing mode --------------------------------------------------------------------------- */

typedef struct DwLayer {
    const char *name;
    int c, h, k, s;     /* channels, input size (square), kernel, stride; pads k / 2 */
} DwLayer;

static const DwLayer dw_layers[] = {
    {"dw3x3 32 @112", 32, 112, 3, 1},       {"dw3x3/2 96 @112", 96, 112, 3, 2},
    {"dw3x3/2 16 @112", 16, 112, 3, 2},     {"dw3x3 144 @56", 144, 56, 3, 1},
    {"dw3x3/2 144 @56", 144, 56, 3, 2},     {"dw5x5/2 144 @56", 144, 56, 5, 2},
    {"dw3x3/2 72 @56", 72, 56, 3, 2},       {"dw3x3 192 @28", 192, 28, 3, 1},
    {"dw3x3/2 192 @28", 192, 28, 3, 2},     {"dw5x5 240 @28", 240, 28, 5, 1},
    {"dw5x5/2 96 @28", 96, 28, 5, 2},       {"dw3x3 384 @14", 384, 14, 3, 1},
    {"dw3x3/2 576 @14", 576, 14, 3, 2},     {"dw5x5 672 @14", 672, 14, 5, 1},
    {"dw5x5/2 672 @14", 672, 14, 5, 2},     {"dw3x3 960 @7", 960, 7, 3, 1},
    {"dw5x5 1152 @7", 1152, 7, 5, 1},       {"dw5x5 576 @7", 576, 7, 5, 1},
};

typedef struct PoolLayer {
    const char *name;
    int c, h, k, s, pad;
    bool ceil_mode, is_max;
} PoolLayer;

static const PoolLayer pool_layers[] = {
    {"maxpool 3x3/2 64 @111 ceil", 64, 111, 3, 2, 0, true, true},
    {"maxpool 3x3/2 128 @55 ceil", 128, 55, 3, 2, 0, true, true},
    {"maxpool 3x3/2 256 @27 ceil", 256, 27, 3, 2, 0, true, true},
    {"maxpool 3x3/2 64 @112 pad 1", 64, 112, 3, 2, 1, false, true},
    {"maxpool 2x2/2 64 @56", 64, 56, 2, 2, 0, false, true},
    {"avgpool 3x3/1 64 @28 pad 1", 64, 28, 3, 1, 1, false, false},
    {"avgpool 2x2/2 64 @56", 64, 56, 2, 2, 0, false, false},
};

static const size_t global_layers[][2] = {{1280, 49}, {1152, 49}, {1000, 169}, {32, 12544},
                                          {144, 3136}};

static void time_all(const char *filter) {
    printf("%-32s %10s %10s %10s\n", "layer", "us", "GFLOP/s", "SiLU us");
    for (size_t li = 0; li < sizeof dw_layers / sizeof dw_layers[0]; li++) {
        const DwLayer *L = &dw_layers[li];
        if (filter && !strstr(L->name, filter)) continue;
        int64_t p = L->k / 2;
        OnnxccConvGeom g = geom2(L->h, L->h, L->k, L->s, p, p, p, p, false);
        OnnxccGeom3 G;
        onnxcc_geom3(&g, &G);
        size_t C = (size_t)L->c, nx = C * (size_t)(L->h * L->h);
        size_t ny = C * (size_t)(g.out[0] * g.out[1]), nw = C * (size_t)(L->k * L->k);
        float *x = xalloc(nx * 4), *y = xalloc(ny * 4), *w = xalloc(nw * 4), *b = xalloc(C * 4);
        fill(x, nx, 1), fill(w, nw, 2), fill(b, C, 3);
        size_t sb = onnxcc_f32_conv_dw_scratch_bytes(&G, C, C);
        void *scratch = xalloc(sb ? sb : 64);
        OnnxccEpilogue ep = {.bias = {b, 1, 0}, .act = ONNXCC_ACT_RELU, .bias_scale = 1.0f};
        double t, t_silu;
        TIME_MEDIAN(t, onnxcc_f32_conv_dw(&G, 1, C, C, x, w, y, &ep, scratch, NULL));
        ep.act = ONNXCC_ACT_SILU;
        TIME_MEDIAN(t_silu, onnxcc_f32_conv_dw(&G, 1, C, C, x, w, y, &ep, scratch, NULL));
        printf("%-32s %10.1f %10.1f %10.1f\n", L->name, t * 1e6,
               2.0 * (double)ny * (double)(L->k * L->k) / t * 1e-9, t_silu * 1e6);
        free(x), free(y), free(w), free(b), free(scratch);
    }
    printf("%-32s %10s %10s\n", "pooling", "us", "GB/s");
    for (size_t li = 0; li < sizeof pool_layers / sizeof pool_layers[0]; li++) {
        const PoolLayer *L = &pool_layers[li];
        if (filter && !strstr(L->name, filter)) continue;
        OnnxccConvGeom g = geom2(L->h, L->h, L->k, L->s, L->pad, L->pad, L->pad, L->pad,
                                 L->ceil_mode);
        size_t nx = (size_t)L->c * (size_t)(L->h * L->h);
        size_t ny = (size_t)L->c * (size_t)(g.out[0] * g.out[1]);
        float *x = xalloc(nx * 4), *y = xalloc(ny * 4);
        fill(x, nx, 1);
        double t;
        if (L->is_max) TIME_MEDIAN(t, onnxcc_f32_maxpool(&g, (size_t)L->c, x, y, NULL, 0, NULL));
        else TIME_MEDIAN(t, onnxcc_f32_avgpool(&g, (size_t)L->c, x, y, 0, NULL));
        printf("%-32s %10.1f %10.1f\n", L->name, t * 1e6, (double)(nx + ny) * 4 / t * 1e-9);
        free(x), free(y);
    }
    for (size_t li = 0; li < sizeof global_layers / sizeof global_layers[0]; li++) {
        size_t planes = global_layers[li][0], pix = global_layers[li][1];
        char name[64];
        snprintf(name, sizeof name, "global avgpool %zu x %zu", planes, pix);
        if (filter && !strstr(name, filter)) continue;
        float *x = xalloc(planes * pix * 4), *y = xalloc(planes * 4);
        fill(x, planes * pix, 1);
        double t;
        TIME_MEDIAN(t, onnxcc_f32_global_avgpool(planes, pix, x, y, NULL));
        printf("%-32s %10.1f %10.1f\n", name, t * 1e6, (double)(planes * pix) * 4 / t * 1e-9);
        free(x), free(y);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--check") == 0) return check_all();
    time_all(argc > 1 ? argv[1] : NULL);
    return 0;
}
