/* kern_ref.h: what the kernel tests share: deterministic inputs and a naive convolution
 * to compare against.  Static inline so that each test program (unit_tests, and the
 * per-ISA kern_tests_* built from a few test files alone) takes only what it uses.
 * Include after <criterion/criterion.h> and onnxcc_rt.h (or the kernel header tested). */
#ifndef ONNXCC_TEST_KERN_REF_H
#define ONNXCC_TEST_KERN_REF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic values in [-1, 1). */
static inline void fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* A new array of n such values (at least one element; the test fails if out of memory). */
static inline float *frand(size_t n, unsigned seed) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    cr_assert(x);
    fill(x, n, seed);
    return x;
}

static inline size_t prod(const int64_t *v, int n) {
    size_t p = 1;
    for (int i = 0; i < n; i++) p *= (size_t)v[i];
    return p;
}

/* The geometry of ns spatial axes with explicit pads; a stride or dilation of 0 means 1
 * (so that test tables may leave them out); out computed with floor as ONNX does. */
static inline OnnxccConvGeom conv_geom(int ns, const int64_t in[3], const int64_t kernel[3],
                                       const int64_t stride[3], const int64_t dilation[3],
                                       const int64_t pb[3], const int64_t pe[3]) {
    OnnxccConvGeom g = {.n_spatial = ns};
    for (int a = 0; a < ns; a++) {
        g.in[a] = in[a], g.kernel[a] = kernel[a];
        g.stride[a] = stride[a] ? stride[a] : 1;
        g.dilation[a] = dilation[a] ? dilation[a] : 1;
        g.pad_begin[a] = pb[a], g.pad_end[a] = pe[a];
        int64_t span = (g.kernel[a] - 1) * g.dilation[a] + 1;
        g.out[a] = (g.in[a] + pb[a] + pe[a] - span) / g.stride[a] + 1;
    }
    return g;
}

/* A convolution case of the kernel tests: ns spatial axes, explicit pads (pb, pe), batch
 * N, C input and M output channels, and groups where the kernel takes them. */
typedef struct ConvCase {
    int ns;
    int64_t in[3], kernel[3], stride[3], dilation[3], pb[3], pe[3];
    size_t N, C, M, groups;
} ConvCase;

static inline OnnxccConvGeom conv_case_geom(const ConvCase *cc) {
    return conv_geom(cc->ns, cc->in, cc->kernel, cc->stride, cc->dilation, cc->pb, cc->pe);
}

/* w[M][K] in blocks of `block` rows, element (m, k) at (m / block * K + k) * block +
 * m % block, zeros past M: the packed-B panels (block 32, B(k, m) = w[m][k]) and the
 * first-layer kernel's channel blocks (block 8), spelled out here independently of the
 * runtime's index functions. */
static inline float *pack_blocked(const float *w, size_t M, size_t K, size_t block) {
    size_t blocks = (M + block - 1) / block;
    float *wp = calloc(blocks * block * K, sizeof(float));
    cr_assert(wp);
    for (size_t m = 0; m < M; m++)
        for (size_t k = 0; k < K; k++) wp[(m / block * K + k) * block + m % block] = w[m * K + k];
    return wp;
}

/* y = conv(x, w) + bias (bias may be NULL), any rank 1..3, groups, one output element at
 * a time, summed in double.  x[N][C][in...], w[M][C / groups][kernel...]. */
static inline void naive_conv(const OnnxccConvGeom *g, size_t N, size_t C, size_t M,
                              size_t groups, const float *x, const float *w,
                              const float *bias, float *y) {
    int ns = g->n_spatial;
    size_t in_pix = prod(g->in, ns), out_pix = prod(g->out, ns), ks = prod(g->kernel, ns);
    size_t cg = C / groups, mg = M / groups;
    for (size_t n = 0; n < N; n++)
    for (size_t m = 0; m < M; m++)
    for (size_t op = 0; op < out_pix; op++) {
        int64_t o[3] = {0, 0, 0}, rem = (int64_t)op;
        for (int a = ns - 1; a >= 0; a--) o[a] = rem % g->out[a], rem /= g->out[a];
        double s = bias ? bias[m] : 0.0;
        size_t grp = m / mg;
        for (size_t c = 0; c < cg; c++)
        for (size_t kp = 0; kp < ks; kp++) {
            int64_t k[3] = {0, 0, 0}, kr = (int64_t)kp;
            for (int a = ns - 1; a >= 0; a--) k[a] = kr % g->kernel[a], kr /= g->kernel[a];
            int64_t idx = 0;
            bool inside = true;
            for (int a = 0; a < ns; a++) {
                int64_t i = o[a] * g->stride[a] - g->pad_begin[a] + k[a] * g->dilation[a];
                if (i < 0 || i >= g->in[a]) inside = false;
                idx = idx * g->in[a] + i;
            }
            if (!inside) continue;
            s += (double)x[(n * C + grp * cg + c) * in_pix + (size_t)idx] *
                 w[(m * cg + c) * ks + kp];
        }
        y[(n * M + m) * out_pix + op] = (float)s;
    }
}

/* The epilogue the convolution-kernel tests run with every activation: the bias every
 * other float (row_stride 2) scaled by 0.5, a per-channel PRelu slope, alpha 0.3 and
 * beta 0.9, and with `with_res` a residual that aliases the output y.  want[i] gets the
 * expected result from raw (the naive convolution without bias) and res (y's contents
 * before the call), for ny outputs of M channels of out_pix pixels each. */
static inline OnnxccEpilogue ref_epilogue(int act, bool with_res, const float *bias,
                                          const float *slope, float *y) {
    OnnxccEpilogue ep = {.bias = {bias, 2, 0}, .bias_scale = 0.5f, .slope = {slope, 1, 0},
                         .act = act, .act_alpha = 0.3f, .act_beta = 0.9f};
    if (with_res) ep.residual = (OnnxccOperand){y, 0, 0};
    return ep;
}
static inline void ref_epilogue_want(const OnnxccEpilogue *ep, const float *raw,
                                     const float *res, size_t ny, size_t out_pix, size_t M,
                                     float *want) {
    for (size_t i = 0; i < ny; i++) {
        size_t m = i / out_pix % M;
        float v = raw[i] + ep->bias_scale * ep->bias.ptr[2 * m] +
                  (ep->residual.ptr ? res[i] : 0.0f);
        want[i] = onnxcc_act(ep->act, v, ep->act_alpha, ep->act_beta, ep->slope.ptr[m]);
    }
}

/* The signature the convolution kernels share (onnxcc_f32_conv_first, _small, _wino):
 * geometry, batch, in and out channels, x, packed weights, y, epilogue, scratch, pool. */
typedef void (*ConvKernelFn)(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                             size_t out_channels, const float *x, const float *w, float *y,
                             const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

/* Runs a kernel on a case (x, its packed weights w, scratch) with every activation, each
 * with and without a residual aliasing y (ref_epilogue), and checks each output against
 * raw (the naive convolution without bias): |y - want| <= tol_abs + tol_rel *
 * |want|.  With a pool, the output must also equal the one-thread output bit for bit. */
static inline void check_epilogues(ConvKernelFn kernel, const ConvCase *cc, const float *x,
                                   const float *w, void *scratch, const float *raw,
                                   float tol_abs, float tol_rel, OnnxccPool *pool) {
    const OnnxccConvGeom g = conv_case_geom(cc);
    const size_t out_pix = prod(g.out, cc->ns), ny = cc->N * cc->M * out_pix;
    float *bias = frand(2 * cc->M, 3), *slope = frand(cc->M, 4), *res = frand(ny, 5);
    float *want = frand(ny, 7), *y = frand(ny, 8), *y1 = frand(ny, 9);
    for (int act = ONNXCC_ACT_NONE; act <= ONNXCC_ACT_SILU; act++)
        for (int with_res = 0; with_res < 2; with_res++) {
            OnnxccEpilogue ep = ref_epilogue(act, with_res, bias, slope, y);
            ref_epilogue_want(&ep, raw, res, ny, out_pix, cc->M, want);
            memcpy(y, res, ny * sizeof(float));
            kernel(&g, cc->N, cc->C, cc->M, x, w, y, &ep, scratch, pool);
            for (size_t i = 0; i < ny; i++)
                cr_assert(fabsf(y[i] - want[i]) <= tol_abs + tol_rel * fabsf(want[i]),
                          "in %lldx%lld k %lldx%lld s %lld pads %lld,%lld/%lld,%lld N %zu C "
                          "%zu M %zu act %d res %d: y[%zu] is %.9g, expected %.9g",
                          (long long)cc->in[0], (long long)cc->in[1],
                          (long long)cc->kernel[0], (long long)cc->kernel[1],
                          (long long)cc->stride[0], (long long)cc->pb[0], (long long)cc->pb[1],
                          (long long)cc->pe[0], (long long)cc->pe[1], cc->N, cc->C, cc->M,
                          act, with_res, i, (double)y[i], (double)want[i]);
            if (!pool) continue;
            if (with_res) ep.residual = (OnnxccOperand){y1, 0, 0};
            memcpy(y1, res, ny * sizeof(float));
            kernel(&g, cc->N, cc->C, cc->M, x, w, y1, &ep, scratch, NULL);
            cr_assert(memcmp(y, y1, ny * sizeof(float)) == 0,
                      "act %d res %d: 2 threads differ from 1", act, with_res);
        }
    free(bias), free(slope), free(res), free(want), free(y), free(y1);
}

#endif
