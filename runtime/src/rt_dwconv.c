/* rt_dwconv.c: depthwise convolution, i.e. several groups of one input channel each (with
 * or without a channel multiplier), computed directly: per-group GEMMs with K = kernel
 * size would waste their packing.
 *
 * 3x3 and 5x5 kernels of stride 1 or 2 copy each channel into a zero-padded plane and run
 * a loop with the taps unrolled, vectorised along the output rows
 * (conv_dw_channel_fast); other geometries take a general loop (conv_direct_channel).
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_rt.h"

static size_t prod3(const int64_t v[3]) { return (size_t)v[0] * (size_t)v[1] * (size_t)v[2]; }

/* y[i] += w * x[i * stride] for i < n; x and y do not overlap (input vs output). */
static void axpy(int64_t n, float w, const float *restrict x, int64_t stride,
                 float *restrict y) {
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] += w * x[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] += w * x[i * stride];
    }
}

/* One output channel of a convolution whose group has a single input channel
 * (depthwise).  Each output row starts as bias + residual (read before y is written, so
 * the residual may alias y), each kernel tap then adds w * x over the range of outputs for
 * which that tap is inside the input (no bounds test in the loop, which vectorises), and
 * the activation goes last. */
static void conv_direct_channel(const OnnxccGeom3 *G, const float *xc, const float *wc,
                                float *yc, float bias,
                                const float *res, int act, float a, float b, float slope) {
    const int64_t s2 = G->stride[2];
    for (int64_t o0 = 0; o0 < G->out[0]; o0++)
    for (int64_t o1 = 0; o1 < G->out[1]; o1++) {
        float *yrow = yc + (o0 * G->out[1] + o1) * G->out[2];
        const float *rrow = res ? res + (o0 * G->out[1] + o1) * G->out[2] : NULL;
        for (int64_t o2 = 0; o2 < G->out[2]; o2++) yrow[o2] = bias + (rrow ? rrow[o2] : 0.0f);
        for (int64_t k0 = 0; k0 < G->kernel[0]; k0++) {
            int64_t i0 = o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
            if (i0 < 0 || i0 >= G->in[0]) continue;
            for (int64_t k1 = 0; k1 < G->kernel[1]; k1++) {
                int64_t i1 = o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
                if (i1 < 0 || i1 >= G->in[1]) continue;
                const float *xr = xc + (i0 * G->in[1] + i1) * G->in[2];
                const float *wr = wc + (k0 * G->kernel[1] + k1) * G->kernel[2];
                for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
                    /* Outputs o2 in [lo, hi) read x[o2 * s2 + off], inside [0, in2). */
                    int64_t off = k2 * G->dilation[2] - G->pad[2];
                    int64_t lo = off >= 0 ? 0 : (-off + s2 - 1) / s2;
                    int64_t last = G->in[2] - 1 - off;
                    int64_t hi = last < 0 ? 0 : last / s2 + 1;
                    if (hi > G->out[2]) hi = G->out[2];
                    float wv = wr[k2];
                    if (lo < hi) axpy(hi - lo, wv, xr + lo * s2 + off, s2, yrow + lo);
                }
            }
        }
        if (act != ONNXCC_ACT_NONE)
            for (int64_t o2 = 0; o2 < G->out[2]; o2++)
                yrow[o2] = onnxcc_act(act, yrow[o2], a, b, slope);
    }
}

/* ---- depthwise fast path ---------------------------------------------------------- */

#if defined(__GNUC__)
#define ONNXCC_INLINE __attribute__((always_inline)) inline
#else
#define ONNXCC_INLINE inline
#endif

/* Outputs [0, n) of one run: y[o] = bias (+ r[o]) + sum over the K x K taps t of
 * w[t] * x[o + off[t]].  K is a constant at each call, so the taps unroll and the loop
 * vectorises along o with plain loads (the offsets make stride 2 contiguous too, on a
 * deinterleaved plane). */
static ONNXCC_INLINE void dw_run(int K, const float *restrict x, const int64_t *off,
                                 const float *restrict wc, float *restrict y, int64_t n,
                                 float bias, const float *restrict r) {
    float w[25];
    int64_t o_[25];
    for (int t = 0; t < K * K; t++) w[t] = wc[t], o_[t] = off[t];
    /* Two loops rather than `r ? r[o] : 0` inside one: compilers turn that into a masked
     * load from NULL, which costs a microcode assist per vector on x86. */
    if (r) {
        for (int64_t o = 0; o < n; o++) {
            float acc = bias + r[o];
            for (int t = 0; t < K * K; t++) acc += w[t] * x[o + o_[t]];
            y[o] = acc;
        }
        return;
    }
    for (int64_t o = 0; o < n; o++) {
        float acc = bias;
        for (int t = 0; t < K * K; t++) acc += w[t] * x[o + o_[t]];
        y[o] = acc;
    }
}

static void dw_run_k(int K, const float *x, const int64_t *off, const float *wc, float *y,
                     int64_t n, float bias, const float *r) {
    if (K == 3) dw_run(3, x, off, wc, y, n, bias, r);
    else dw_run(5, x, off, wc, y, n, bias, r);
}

/* The activation over y[0..n); the common ones as loops that vectorise (the switch of
 * onnxcc_act per element does not). */
static void act_run(float *y, int64_t n, int act, float a, float b, float slope) {
    switch (act) {
    case ONNXCC_ACT_NONE:
        return;
    case ONNXCC_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_relu(y[i]);
        return;
    case ONNXCC_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_clip(y[i], a, b);
        return;
    case ONNXCC_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_leaky_relu(y[i], a);
        return;
    case ONNXCC_ACT_PRELU:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_prelu(y[i], slope);
        return;
    case ONNXCC_ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_hard_swish(y[i]);
        return;
    default:
        for (int64_t i = 0; i < n; i++) y[i] = onnxcc_act(act, y[i], a, b, slope);
        return;
    }
}

/* A depthwise channel on the fast path (onnxcc_conv_dw_fast).  The channel is copied into
 * a zero-padded plane (the first half of the scratch, zeroed by the caller once for all
 * channels), so no loop tests bounds:
 *  - stride 1, rows of at least 32 outputs: one dw_run per output row;
 *  - stride 1, narrow rows: one dw_run over the whole plane as a single row (the output
 *    grid as wide as the plane, into the scratch's second half), the valid columns then
 *    copied out: long vectorised runs instead of 7- or 14-wide ones;
 *  - stride 2: each plane row is stored deinterleaved (even columns, then odd ones), so
 *    that every tap reads consecutive floats; one dw_run per output row.
 * The residual r (y's shape) may alias y: each element is read before it is written. */
static void conv_dw_channel_fast(const OnnxccGeom3 *G, const float *xc, const float *wc,
                                 float *yc, float bias, const float *res, int act, float a,
                                 float b, float slope, float *plane) {
    const int K = (int)G->kernel[2], S = (int)G->stride[2];
    const int64_t Hp = onnxcc_conv_dw_plane_dim(G, 1), Wp = onnxcc_conv_dw_plane_dim(G, 2);
    const int64_t p1 = G->pad[1], p2 = G->pad[2], W = G->out[2], H = G->out[1];
    const int64_t We = (Wp + 1) / 2;    /* even columns of a deinterleaved row */
    float *grid = plane + Hp * Wp;
    /* Input columns that land inside the plane: [0, ncopy) at plane column p2. */
    int64_t ncopy = Wp - p2 < G->in[2] ? Wp - p2 : G->in[2];
    if (ncopy < 0) ncopy = 0;
    /* The plane's zeros were written by the caller, once for all channels: only the
     * input's rows are copied (always to the same places). */
    for (int64_t r = 0; r < Hp; r++) {
        float *dst = plane + r * Wp;
        int64_t i1 = r - p1;
        if (i1 < 0 || i1 >= G->in[1] || p2 >= Wp) continue;
        const float *src = xc + i1 * G->in[2];
        if (S == 1) {
            for (int64_t q = 0; q < ncopy; q++) dst[p2 + q] = src[q];
            continue;
        }
        /* Plane column j goes to dst[j / 2] (even j) or dst[We + j / 2] (odd j).  Input
         * column q is plane column q + p2: even q go to qe[q / 2], odd q to qo[q / 2], in
         * one loop over pairs that vectorises (a scalar loop here costs more than the
         * convolution itself). */
        int64_t h = p2 >> 1;
        float *qe = (p2 & 1) ? dst + We + h : dst + h;
        float *qo = (p2 & 1) ? dst + h + 1 : dst + We + h;
        int64_t pairs = ncopy >> 1;
        for (int64_t m = 0; m < pairs; m++) {
            qe[m] = src[2 * m];
            qo[m] = src[2 * m + 1];
        }
        if (ncopy & 1) qe[pairs] = src[2 * pairs];
    }
    int64_t off[25];
    if (S == 1 && W < 32) {
        for (int t = 0; t < K * K; t++) off[t] = (t / K) * Wp + t % K;
        int64_t n = (H - 1) * Wp + W;
        dw_run_k(K, plane, off, wc, grid, n, bias, NULL);
        if (!res) act_run(grid, n, act, a, b, slope);     /* one long run */
        for (int64_t o1 = 0; o1 < H; o1++) {
            float *yrow = yc + o1 * W;
            const float *g = grid + o1 * Wp;
            if (res) {
                const float *rrow = res + o1 * W;
                for (int64_t o2 = 0; o2 < W; o2++) yrow[o2] = g[o2] + rrow[o2];
                act_run(yrow, W, act, a, b, slope);
            } else {
                for (int64_t o2 = 0; o2 < W; o2++) yrow[o2] = g[o2];
            }
        }
        return;
    }
    for (int t = 0; t < K * K; t++) {
        int ky = t / K, kx = t % K;
        off[t] = S == 1 ? ky * Wp + kx : ky * Wp + (kx & 1) * We + (kx >> 1);
    }
    for (int64_t o1 = 0; o1 < H; o1++) {
        float *yrow = yc + o1 * W;
        dw_run_k(K, plane + o1 * S * Wp, off, wc, yrow, W, bias, res ? res + o1 * W : NULL);
        act_run(yrow, W, act, a, b, slope);
    }
}

size_t onnxcc_f32_conv_dw_scratch_bytes(const OnnxccGeom3 *G, size_t in_channels,
                                        size_t groups) {
    if (onnxcc_conv_dw_fast(G, in_channels, groups))
        return onnxcc_conv_dw_plane_floats(G) * sizeof(float);
    return 0;
}

void onnxcc_f32_conv_dw(const OnnxccGeom3 *G, size_t batch, size_t in_channels,
                        size_t out_channels, const float *x, const float *w, float *y,
                        const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    (void)pool;
    size_t groups = in_channels;
    if (groups == 0) return;
    size_t in_pix = prod3(G->in), out_pix = prod3(G->out), ksize = prod3(G->kernel);
    size_t cout_g = out_channels / groups;
    bool dw_fast = onnxcc_conv_dw_fast(G, in_channels, groups);
    if (dw_fast)    /* the padded plane's zeros, for every channel (see conv_dw_channel_fast) */
        memset(scratch, 0, onnxcc_conv_dw_plane_floats(G) / 2 * sizeof(float));
    for (size_t n = 0; n < batch; n++) {
        const float *xn = x + n * in_channels * in_pix;
        float *yn = y + n * out_channels * out_pix;
        const float *rn = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix
                                           : NULL;
        for (size_t oc = 0; oc < out_channels; oc++) {
            size_t ic = oc / cout_g;
            float bias = ep->bias.ptr ? ep->bias_scale * ep->bias.ptr[(ptrdiff_t)oc *
                                                                      ep->bias.row_stride]
                                      : 0.0f;
            float slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)oc * ep->slope.row_stride]
                                        : 0.0f;
            if (dw_fast)
                conv_dw_channel_fast(G, xn + ic * in_pix, w + oc * ksize, yn + oc * out_pix,
                                     bias, rn ? rn + oc * out_pix : NULL, ep->act,
                                     ep->act_alpha, ep->act_beta, slope, (float *)scratch);
            else
                conv_direct_channel(G, xn + ic * in_pix, w + oc * ksize, yn + oc * out_pix,
                                    bias, rn ? rn + oc * out_pix : NULL, ep->act,
                                    ep->act_alpha, ep->act_beta, slope);
        }
    }
}
