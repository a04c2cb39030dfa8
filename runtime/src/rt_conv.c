/* rt_conv.c: N-d convolution (1-D to 3-D) on top of the GEMM.
 *
 * Four paths, chosen from the geometry:
 *  - 1x1 kernel, stride 1, no padding: the input of a group already is the K x N matrix
 *    of the GEMM, which runs on it directly;
 *  - several groups of one input channel each (depthwise, channel multipliers): handed
 *    to onnxcc_f32_conv_dw (rt_dwconv.c);
 *  - 2-D stride-1 kernels on images at least 14 wide: the shifted-window GEMM
 *    (onnxcc_conv_shifted, conv_shifted_group): no im2col, B panels copied from a padded
 *    plane at each tap's offset;
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

/* Output pixels [p0, p1) of the im2col matrix: col[row][p - p0] with rows `ld` floats
 * apart (ld >= p1 - p0, the tail of each row zeroed), rows as in onnxcc_f32_im2col.
 * Walks each row of the matrix by runs along the last output axis. */
static void im2col_range(const OnnxccGeom3 *G, size_t channels, const float *restrict x,
                         float *restrict col, int64_t p0, int64_t p1, int64_t ld) {
    int64_t in_pix = G->in[0] * G->in[1] * G->in[2];
    /* Where p0 is, computed once (divisions are slow next to a short row). */
    const int64_t s_o2 = p0 % G->out[2], s_o1 = p0 / G->out[2] % G->out[1];
    const int64_t s_o0 = p0 / G->out[2] / G->out[1];
    for (size_t c = 0; c < channels; c++) {
        const float *xc = x + (int64_t)c * in_pix;
        for (int64_t k0 = 0; k0 < G->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < G->kernel[1]; k1++)
        for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
            float *dst = col;
            col += ld;
            for (int64_t t = p1 - p0; t < ld; t++) dst[t] = 0.0f;
            int64_t o2 = s_o2, o1 = s_o1, o0 = s_o0;
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
    int64_t n = G.out[0] * G.out[1] * G.out[2];
    im2col_range(&G, channels, x, col, 0, n, n);
}

static int is_pointwise(const OnnxccGeom3 *G) {
    for (int i = 0; i < 3; i++)
        if (G->kernel[i] != 1 || G->stride[i] != 1 || G->pad[i] != 0 || G->in[i] != G->out[i])
            return 0;
    return 1;
}

/* Output pixels of the shifted-window grid: out[1] rows of plane width, the last row cut
 * at out[2]. */
static size_t shifted_grid(const OnnxccGeom3 *G) {
    return (size_t)((G->out[1] - 1) * onnxcc_conv_plane_dim(G, 2) + G->out[2]);
}

size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t out_channels, size_t groups) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    size_t cin_g = groups ? in_channels / groups : 0, cout_g = groups ? out_channels / groups : 0;
    if (onnxcc_conv_direct(in_channels, groups))
        return onnxcc_f32_conv_dw_scratch_bytes(&G, in_channels, groups);
    if (is_pointwise(&G)) return 0;
    size_t kdim = cin_g * prod3(G.kernel);
    if (onnxcc_conv_shifted(&G, in_channels, groups)) {
        size_t plane = (size_t)onnxcc_conv_plane_dim(&G, 1) * (size_t)onnxcc_conv_plane_dim(&G, 2);
        size_t cols = onnxcc_conv_chunk_cols(kdim, shifted_grid(&G));
        return (cin_g * plane + (kdim + cout_g) * cols) * sizeof(float);
    }
    return kdim * onnxcc_conv_chunk_cols(kdim, prod3(G.out)) * sizeof(float);
}

/* y[0..n) = act(v[0..n)) for the shifted-window path's copy-out (v is its own buffer). */
static void out_run(float *restrict y, const float *restrict v, size_t n,
                    const OnnxccEpilogue *ep, float slope) {
    if (ep->act == ONNXCC_ACT_RELU) {
        for (size_t i = 0; i < n; i++) y[i] = v[i] > 0.0f ? v[i] : 0.0f;
    } else if (ep->act == ONNXCC_ACT_CLIP) {
        float lo = ep->act_alpha, hi = ep->act_beta;
        for (size_t i = 0; i < n; i++) y[i] = onnxcc_clip(v[i], lo, hi);
    } else if (ep->act != ONNXCC_ACT_NONE) {
        for (size_t i = 0; i < n; i++)
            y[i] = onnxcc_act(ep->act, v[i], ep->act_alpha, ep->act_beta, slope);
    } else {
        memcpy(y, v, n * sizeof(float));
    }
}

/* The same with a residual r, which may alias y exactly (each r[i] read before y[i] is
 * written): no restrict on either. */
static void out_run_residual(float *y, const float *restrict v, const float *r, size_t n,
                             const OnnxccEpilogue *ep, float slope) {
    if (ep->act == ONNXCC_ACT_RELU) {
        for (size_t i = 0; i < n; i++) {
            float x = v[i] + r[i];
            y[i] = x > 0.0f ? x : 0.0f;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            y[i] = onnxcc_act(ep->act, v[i] + r[i], ep->act_alpha, ep->act_beta, slope);
    }
}

/* One group of a convolution on the shifted-window path (onnxcc_conv_shifted).  The
 * group's channels are copied into zero-padded planes; then, a chunk of grid pixels at a
 * time, the B panels are copies of plane rows at each tap's offset, the GEMM writes
 * bias + W x B into ybuf, and the valid columns go to y with the residual and the
 * activation (the residual, of y's shape, may alias y). */
static void conv_shifted_group(const OnnxccGeom3 *G, size_t cin_g, size_t cout_g,
                               const float *xg, const float *wg, float *yg, const float *rg,
                               const OnnxccEpilogue *ep, float *scratch, OnnxccPool *pool) {
    const int64_t Hp = onnxcc_conv_plane_dim(G, 1), Wp = onnxcc_conv_plane_dim(G, 2);
    const int64_t p1 = G->pad[1], p2 = G->pad[2], W = G->out[2];
    const size_t plane = (size_t)(Hp * Wp), ksize = prod3(G->kernel);
    const size_t kdim = cin_g * ksize, grid = shifted_grid(G);
    const size_t chunk = onnxcc_conv_chunk(kdim, grid);
    const size_t cols_max = onnxcc_conv_chunk_cols(kdim, grid);
    float *planes = scratch, *panels = planes + cin_g * plane, *ybuf = panels + kdim * cols_max;
    /* The padded planes: input columns [0, ncopy) land at plane column p2. */
    int64_t ncopy = Wp - p2 < G->in[2] ? Wp - p2 : G->in[2];
    if (ncopy < 0) ncopy = 0;
    for (size_t c = 0; c < cin_g; c++) {
        for (int64_t r = 0; r < Hp; r++) {
            float *dst = planes + c * plane + r * Wp;
            int64_t i1 = r - p1;
            if (i1 < 0 || i1 >= G->in[1] || p2 >= Wp) {
                memset(dst, 0, (size_t)Wp * sizeof(float));
                continue;
            }
            memset(dst, 0, (size_t)p2 * sizeof(float));
            memcpy(dst + p2, xg + ((size_t)c * (size_t)G->in[1] + (size_t)i1) * (size_t)G->in[2],
                   (size_t)ncopy * sizeof(float));
            memset(dst + p2 + ncopy, 0, (size_t)(Wp - p2 - ncopy) * sizeof(float));
        }
    }
    /* Plane offset of each tap, in the weights' order (ky, kx). */
    enum { MAX_TAPS = 64 };
    int64_t off_small[MAX_TAPS];
    size_t ntaps = ksize <= MAX_TAPS ? ksize : 0;
    for (size_t t = 0; t < ntaps; t++)
        off_small[t] = (int64_t)(t / (size_t)G->kernel[2]) * G->dilation[1] * Wp +
                       (int64_t)(t % (size_t)G->kernel[2]) * G->dilation[2];
    OnnxccEpilogue be = {.bias = ep->bias, .bias_scale = ep->bias_scale, .act = ONNXCC_ACT_NONE};
    if (be.bias.ptr) be.bias.col_stride = 0;
    for (size_t t0 = 0; t0 < grid; t0 += chunk) {
        size_t cols = grid - t0 < chunk ? grid - t0 : chunk;
        /* B panels: row (c, tap) of panel q is plane c from t0 + q + offset(tap). */
        for (size_t q = 0; q < cols; q += ONNXCC_GEMM_NR) {
            size_t nr = cols - q < ONNXCC_GEMM_NR ? cols - q : ONNXCC_GEMM_NR;
            float *dst = panels + q * kdim;
            for (size_t c = 0; c < cin_g; c++) {
                const float *src = planes + c * plane + t0 + q;
                for (size_t t = 0; t < ksize; t++, dst += ONNXCC_GEMM_NR) {
                    int64_t off = t < ntaps ? off_small[t]
                                            : (int64_t)(t / (size_t)G->kernel[2]) *
                                                      G->dilation[1] * Wp +
                                                  (int64_t)(t % (size_t)G->kernel[2]) *
                                                      G->dilation[2];
                    const float *s = src + off;
                    if (nr == ONNXCC_GEMM_NR) {
                        /* 32-byte memcpys through a temporary become vector moves (a plain
                         * loop stays scalar: dst and s might overlap, for all it knows). */
                        for (size_t j = 0; j < ONNXCC_GEMM_NR; j += 8) {
                            float tmp[8];
                            memcpy(tmp, s + j, sizeof tmp);
                            memcpy(dst + j, tmp, sizeof tmp);
                        }
                    } else {
                        memcpy(dst, s, nr * sizeof(float));
                        memset(dst + nr, 0, (ONNXCC_GEMM_NR - nr) * sizeof(float));
                    }
                }
            }
        }
        onnxcc_f32_gemm_packed_b(cout_g, cols, kdim, 1.0f, wg, (ptrdiff_t)kdim, 1, panels, ybuf,
                                 (ptrdiff_t)cols, &be, pool);
        /* Valid grid columns to y, by runs along output rows. */
        for (size_t m = 0; m < cout_g; m++) {
            const float *src = ybuf + m * cols;
            float slope = ep->slope.ptr ? ep->slope.ptr[(ptrdiff_t)m * ep->slope.row_stride]
                                        : 0.0f;
            size_t t = t0;
            while (t < t0 + cols) {
                size_t oy = t / (size_t)Wp, ox = t % (size_t)Wp;
                size_t run_end = oy * (size_t)Wp + (size_t)W;
                if (ox >= (size_t)W) {              /* extra columns of the grid */
                    t = (oy + 1) * (size_t)Wp;
                    continue;
                }
                if (run_end > t0 + cols) run_end = t0 + cols;
                size_t n = run_end - t, yo = m * (size_t)(G->out[1] * W) + oy * (size_t)W + ox;
                if (rg) {
                    out_run_residual(yg + yo, src + (t - t0), rg + yo, n, ep, slope);
                } else {
                    out_run(yg + yo, src + (t - t0), n, ep, slope);
                }
                t = run_end;
            }
        }
    }
}

void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (groups == 0) return;
    size_t in_pix = prod3(G.in), out_pix = prod3(G.out), ksize = prod3(G.kernel);
    size_t cin_g = in_channels / groups, cout_g = out_channels / groups;
    size_t kdim = cin_g * ksize;
    static const OnnxccEpilogue none = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};
    if (!ep) ep = &none;
    if (onnxcc_conv_direct(in_channels, groups)) {
        onnxcc_f32_conv_dw(&G, batch, in_channels, out_channels, x, w, y, ep, scratch, pool);
        return;
    }
    for (size_t n = 0; n < batch; n++) {
        const float *xn = x + n * in_channels * in_pix;
        float *yn = y + n * out_channels * out_pix;
        const float *rn = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix
                                           : NULL;
        /* The GEMM runs over chunks of output pixels, im2col of one chunk at a time. */
        if (onnxcc_conv_shifted(&G, in_channels, groups)) {
            for (size_t gi = 0; gi < groups; gi++) {
                OnnxccEpilogue e = *ep;
                if (e.bias.ptr) e.bias.ptr += (ptrdiff_t)(gi * cout_g) * e.bias.row_stride;
                if (e.slope.ptr) e.slope.ptr += (ptrdiff_t)(gi * cout_g) * e.slope.row_stride;
                conv_shifted_group(&G, cin_g, cout_g, xn + gi * cin_g * in_pix,
                                   w + gi * cout_g * kdim, yn + gi * cout_g * out_pix,
                                   rn ? rn + gi * cout_g * out_pix : NULL, &e, (float *)scratch, pool);
            }
            continue;
        }
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
                e.residual.ptr = rn ? rn + oc0 * out_pix + p0 : NULL;
                float *yc = yn + oc0 * out_pix + p0;
                if (pointwise) {
                    onnxcc_f32_gemm(cout_g, cols, kdim, 1.0f, w + oc0 * kdim, (ptrdiff_t)kdim,
                                    1, xg + p0, (ptrdiff_t)out_pix, 1, yc, (ptrdiff_t)out_pix,
                                    &e, pool);
                    continue;
                }
                /* im2col of the whole chunk, then the GEMM packs it (measured faster than
                 * an im2col straight into 32-pixel panels: rows of a chunk are longer). */
                float *col = (float *)scratch;
                im2col_range(&G, cin_g, xg, col, (int64_t)p0, (int64_t)(p0 + cols),
                             (int64_t)cols);
                onnxcc_f32_gemm(cout_g, cols, kdim, 1.0f, w + oc0 * kdim, (ptrdiff_t)kdim, 1,
                                col, (ptrdiff_t)cols, 1, yc, (ptrdiff_t)out_pix, &e, pool);
            }
        }
    }
}
