/* rt_conv.c: N-d convolution (1-D to 3-D) on top of the GEMM.
 *
 * Three paths, chosen from the geometry:
 *  - 1x1 kernel, stride 1, no padding: the input of a group already is the K x N matrix
 *    of the GEMM, which runs on it directly;
 *  - several groups of one input channel each (depthwise, channel multipliers): a
 *    direct loop, since per-group GEMMs with K = kernel size would waste their packing;
 *  - otherwise im2col of one group, a chunk of output pixels at a time (about 256 KiB,
 *    onnxcc_conv_chunk), into the scratch buffer, then the GEMM
 *    W_g[oc][c*k] x col[c*k][pixel] for those pixels.
 * Geometry is widened to 3-D internally, the missing axes (of size 1) in front, so one
 * loop nest serves every rank and the innermost loops run along the image's rows.
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_rt.h"

static size_t prod3(const int64_t v[3]) { return (size_t)v[0] * (size_t)v[1] * (size_t)v[2]; }

/* Output pixels [p0, p1) of the im2col matrix: col[row][p - p0], rows as in
 * onnxcc_f32_im2col.  Walks each row of the matrix by runs along the last output axis. */
static void im2col_range(const OnnxccGeom3 *G, size_t channels, const float *restrict x,
                         float *restrict col, int64_t p0, int64_t p1) {
    int64_t in_pix = G->in[0] * G->in[1] * G->in[2];
    for (size_t c = 0; c < channels; c++) {
        const float *xc = x + (int64_t)c * in_pix;
        for (int64_t k0 = 0; k0 < G->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < G->kernel[1]; k1++)
        for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
            float *dst = col;
            col += p1 - p0;
            int64_t o2 = p0 % G->out[2], o1 = p0 / G->out[2] % G->out[1];
            int64_t o0 = p0 / G->out[2] / G->out[1];
            int64_t base = -G->pad[2] + k2 * G->dilation[2];
            for (int64_t p = p0; p < p1;) {
                int64_t run = G->out[2] - o2 < p1 - p ? G->out[2] - o2 : p1 - p;
                int64_t i0 = o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
                int64_t i1 = o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
                if (i0 < 0 || i0 >= G->in[0] || i1 < 0 || i1 >= G->in[1]) {
                    for (int64_t t = 0; t < run; t++) dst[t] = 0.0f;
                } else {
                    const float *src = xc + (i0 * G->in[1] + i1) * G->in[2];
                    int64_t first = base + o2 * G->stride[2];
                    int64_t last = first + (run - 1) * G->stride[2];
                    const int64_t s2 = G->stride[2];
                    if (s2 == 1 && first >= 0 && last < G->in[2]) {
                        for (int64_t t = 0; t < run; t++) dst[t] = src[first + t];
                    } else {
                        /* Zeros, the taps inside the input (no test per element), zeros. */
                        int64_t lo = first >= 0 ? 0 : (-first + s2 - 1) / s2;
                        int64_t hi = G->in[2] - 1 - first < 0 ? 0
                                                              : (G->in[2] - 1 - first) / s2 + 1;
                        if (lo > run) lo = run;
                        if (hi > run) hi = run;
                        if (hi < lo) hi = lo;
                        for (int64_t t = 0; t < lo; t++) dst[t] = 0.0f;
                        const float *from = src + first;
                        for (int64_t t = lo; t < hi; t++) dst[t] = from[t * s2];
                        for (int64_t t = hi; t < run; t++) dst[t] = 0.0f;
                    }
                }
                dst += run;
                p += run;
                o2 = 0;
                if (++o1 == G->out[1]) o1 = 0, o0++;
            }
        }
    }
}

void onnxcc_f32_im2col(const OnnxccConvGeom *g, size_t channels, const float *x, float *col) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    im2col_range(&G, channels, x, col, 0, G.out[0] * G.out[1] * G.out[2]);
}

static int is_pointwise(const OnnxccGeom3 *G) {
    for (int i = 0; i < 3; i++)
        if (G->kernel[i] != 1 || G->stride[i] != 1 || G->pad[i] != 0 || G->in[i] != G->out[i])
            return 0;
    return 1;
}

size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t groups) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    size_t cin_g = groups ? in_channels / groups : 0;
    if (is_pointwise(&G) || onnxcc_conv_direct(in_channels, groups)) return 0;
    size_t kdim = cin_g * prod3(G.kernel);
    return kdim * onnxcc_conv_chunk(kdim, prod3(G.out)) * sizeof(float);
}

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

void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (groups == 0) return;
    size_t in_pix = prod3(G.in), out_pix = prod3(G.out), ksize = prod3(G.kernel);
    size_t cin_g = in_channels / groups, cout_g = out_channels / groups;
    size_t kdim = cin_g * ksize;
    static const OnnxccEpilogue none = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};
    if (!ep) ep = &none;
    for (size_t n = 0; n < batch; n++) {
        const float *xn = x + n * in_channels * in_pix;
        float *yn = y + n * out_channels * out_pix;
        const float *rn = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix
                                           : NULL;
        if (onnxcc_conv_direct(in_channels, groups)) {
            for (size_t oc = 0; oc < out_channels; oc++) {
                size_t ic = oc / cout_g;
                float bias = ep->bias.ptr ? ep->bias_scale * ep->bias.ptr[(ptrdiff_t)oc *
                                                                          ep->bias.row_stride]
                                          : 0.0f;
                float slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)oc * ep->slope.row_stride]
                                            : 0.0f;
                conv_direct_channel(&G, xn + ic * in_pix, w + oc * ksize, yn + oc * out_pix,
                                    bias, rn ? rn + oc * out_pix : NULL, ep->act,
                                    ep->act_alpha, ep->act_beta, slope);
            }
            continue;
        }
        /* The GEMM runs over chunks of output pixels, im2col of one chunk at a time. */
        bool pointwise = is_pointwise(&G);
        size_t chunk = pointwise ? out_pix : onnxcc_conv_chunk(kdim, out_pix);
        for (size_t gi = 0; gi < groups; gi++) {
            const float *xg = xn + gi * cin_g * in_pix;
            size_t oc0 = gi * cout_g;
            OnnxccEpilogue e = *ep;
            if (e.bias.ptr) {
                e.bias.ptr += (ptrdiff_t)oc0 * e.bias.row_stride;
                e.bias.col_stride = 0;
            }
            if (e.slope.ptr) {
                e.slope.ptr += (ptrdiff_t)oc0 * e.slope.row_stride;
                e.slope.col_stride = 0;
            }
            e.residual.row_stride = (ptrdiff_t)out_pix;
            e.residual.col_stride = 1;
            for (size_t p0 = 0; p0 < out_pix; p0 += chunk) {
                size_t cols = out_pix - p0 < chunk ? out_pix - p0 : chunk;
                const float *bmat = xg + p0;
                ptrdiff_t b_rs = (ptrdiff_t)out_pix;
                if (!pointwise) {
                    im2col_range(&G, cin_g, xg, (float *)scratch, (int64_t)p0,
                                 (int64_t)(p0 + cols));
                    bmat = (const float *)scratch;
                    b_rs = (ptrdiff_t)cols;
                }
                e.residual.ptr = rn ? rn + oc0 * out_pix + p0 : NULL;
                onnxcc_f32_gemm(cout_g, cols, kdim, 1.0f, w + oc0 * kdim, (ptrdiff_t)kdim, 1,
                                bmat, b_rs, 1, yn + oc0 * out_pix + p0, (ptrdiff_t)out_pix, &e);
            }
        }
    }
}
