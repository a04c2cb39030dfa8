/* rt_pool.c: max and average pooling over 1-D to 3-D windows.
 *
 * Like rt_conv.c, geometry is widened to 3-D (missing axes of size 1, in front).  Windows are
 * clipped to the input per axis; the clipped ranges also give average pooling its
 * divisor (positions inside the input, or inside input + explicit padding).
 */
#include "onnxcc_rt.h"

/* First and one-past-last kernel taps of axis a whose input position lies in [lo, hi). */
static void taps(const OnnxccGeom3 *G, int a, int64_t o, int64_t lo, int64_t hi, int64_t *k_begin,
                 int64_t *k_end) {
    int64_t start = o * G->stride[a] - G->pad[a];
    int64_t kb = 0, ke = G->kernel[a];
    while (kb < ke && start + kb * G->dilation[a] < lo) kb++;
    while (ke > kb && start + (ke - 1) * G->dilation[a] >= hi) ke--;
    *k_begin = kb;
    *k_end = ke;
}

/* Outputs o2 in [*lo, *hi) whose tap k2 falls inside the input on the last axis. */
static void tap_range(const OnnxccGeom3 *G, int64_t k2, int64_t *lo, int64_t *hi, int64_t *off) {
    const int64_t s2 = G->stride[2];
    *off = k2 * G->dilation[2] - G->pad[2];
    *lo = *off >= 0 ? 0 : (-*off + s2 - 1) / s2;
    int64_t last = G->in[2] - 1 - *off;
    *hi = last < 0 ? 0 : last / s2 + 1;
    if (*hi > G->out[2]) *hi = G->out[2];
}

/* y[i] = max(y[i], x[i * stride]) for i < n. */
static void max_into(int64_t n, const float *restrict x, int64_t stride, float *restrict y) {
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > y[i] ? x[i] : y[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i * stride] > y[i] ? x[i * stride] : y[i];
    }
}

/* Max pooling without indices, one output row at a time: each kernel tap takes the max
 * over the range of outputs for which it is inside the input (no test in the loop). */
static void maxpool_rows(const OnnxccGeom3 *G, size_t planes, const float *x, float *y) {
    int64_t in_pix = G->in[0] * G->in[1] * G->in[2];
    int64_t out_pix = G->out[0] * G->out[1] * G->out[2];
    const int64_t s2 = G->stride[2];
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + (int64_t)p * in_pix;
        for (int64_t o0 = 0; o0 < G->out[0]; o0++)
        for (int64_t o1 = 0; o1 < G->out[1]; o1++) {
            float *yrow = y + (int64_t)p * out_pix + (o0 * G->out[1] + o1) * G->out[2];
            for (int64_t o2 = 0; o2 < G->out[2]; o2++) yrow[o2] = -ONNXCC_INF;
            int64_t a0, b0, a1, b1;
            taps(G, 0, o0, 0, G->in[0], &a0, &b0);
            taps(G, 1, o1, 0, G->in[1], &a1, &b1);
            for (int64_t k0 = a0; k0 < b0; k0++)
            for (int64_t k1 = a1; k1 < b1; k1++) {
                int64_t i0 = o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
                int64_t i1 = o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
                const float *row = xp + (i0 * G->in[1] + i1) * G->in[2];
                for (int64_t k2 = 0; k2 < G->kernel[2]; k2++) {
                    int64_t lo, hi, off;
                    tap_range(G, k2, &lo, &hi, &off);
                    if (lo < hi) max_into(hi - lo, row + lo * s2 + off, s2, yrow + lo);
                }
            }
        }
    }
}

void onnxcc_f32_maxpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int64_t *indices, int storage_order, OnnxccPool *pool) {
    (void)pool;
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (!indices) {
        maxpool_rows(&G, planes, x, y);
        return;
    }
    int64_t in_pix = G.in[0] * G.in[1] * G.in[2];
    int64_t out_pix = G.out[0] * G.out[1] * G.out[2];
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + (int64_t)p * in_pix;
        float *yp = y + (int64_t)p * out_pix;
        for (int64_t o0 = 0; o0 < G.out[0]; o0++) {
            int64_t a0, b0;
            taps(&G, 0, o0, 0, G.in[0], &a0, &b0);
            for (int64_t o1 = 0; o1 < G.out[1]; o1++) {
                int64_t a1, b1;
                taps(&G, 1, o1, 0, G.in[1], &a1, &b1);
                for (int64_t o2 = 0; o2 < G.out[2]; o2++) {
                    int64_t a2, b2;
                    taps(&G, 2, o2, 0, G.in[2], &a2, &b2);
                    float best = -ONNXCC_INF;
                    int64_t bi[3] = {0, 0, 0};
                    int found = 0;
                    for (int64_t k0 = a0; k0 < b0; k0++) {
                        int64_t i0 = o0 * G.stride[0] - G.pad[0] + k0 * G.dilation[0];
                        for (int64_t k1 = a1; k1 < b1; k1++) {
                            int64_t i1 = o1 * G.stride[1] - G.pad[1] + k1 * G.dilation[1];
                            const float *row = xp + (i0 * G.in[1] + i1) * G.in[2];
                            for (int64_t k2 = a2; k2 < b2; k2++) {
                                int64_t i2 = o2 * G.stride[2] - G.pad[2] + k2 * G.dilation[2];
                                float v = row[i2];
                                if (!found || v > best) {
                                    best = v;
                                    bi[0] = i0, bi[1] = i1, bi[2] = i2;
                                    found = 1;
                                }
                            }
                        }
                    }
                    int64_t o = (o0 * G.out[1] + o1) * G.out[2] + o2;
                    yp[o] = best;
                    if (indices) {
                        int64_t flat = storage_order
                            ? bi[0] + G.in[0] * (bi[1] + G.in[1] * bi[2])
                            : (bi[0] * G.in[1] + bi[1]) * G.in[2] + bi[2];
                        indices[(int64_t)p * out_pix + o] = (int64_t)p * in_pix + flat;
                    }
                }
            }
        }
    }
}

/* y[i] += x[i * stride] for i < n. */
static void add_into(int64_t n, const float *restrict x, int64_t stride, float *restrict y) {
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++) y[i] += x[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] += x[i * stride];
    }
}

/* Row by row like maxpool_rows: sums by kernel tap, then one division per output. */
void onnxcc_f32_avgpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int count_include_pad, OnnxccPool *pool) {
    (void)pool;
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    int64_t in_pix = G.in[0] * G.in[1] * G.in[2];
    int64_t out_pix = G.out[0] * G.out[1] * G.out[2];
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + (int64_t)p * in_pix;
        for (int64_t o0 = 0; o0 < G.out[0]; o0++)
        for (int64_t o1 = 0; o1 < G.out[1]; o1++) {
            float *yrow = y + (int64_t)p * out_pix + (o0 * G.out[1] + o1) * G.out[2];
            int64_t a0, b0, c0, d0, a1, b1, c1, d1;
            taps(&G, 0, o0, 0, G.in[0], &a0, &b0);
            taps(&G, 0, o0, -G.pad[0], G.in[0] + G.pad_end[0], &c0, &d0);
            taps(&G, 1, o1, 0, G.in[1], &a1, &b1);
            taps(&G, 1, o1, -G.pad[1], G.in[1] + G.pad_end[1], &c1, &d1);
            for (int64_t o2 = 0; o2 < G.out[2]; o2++) yrow[o2] = 0.0f;
            for (int64_t k0 = a0; k0 < b0; k0++)
            for (int64_t k1 = a1; k1 < b1; k1++) {
                int64_t i0 = o0 * G.stride[0] - G.pad[0] + k0 * G.dilation[0];
                int64_t i1 = o1 * G.stride[1] - G.pad[1] + k1 * G.dilation[1];
                const float *row = xp + (i0 * G.in[1] + i1) * G.in[2];
                for (int64_t k2 = 0; k2 < G.kernel[2]; k2++) {
                    int64_t lo, hi, off;
                    tap_range(&G, k2, &lo, &hi, &off);
                    if (lo < hi) add_into(hi - lo, row + lo * G.stride[2] + off, G.stride[2],
                                          yrow + lo);
                }
            }
            int64_t n01 = count_include_pad ? (d0 - c0) * (d1 - c1) : (b0 - a0) * (b1 - a1);
            for (int64_t o2 = 0; o2 < G.out[2]; o2++) {
                int64_t a2, b2;
                if (count_include_pad)
                    taps(&G, 2, o2, -G.pad[2], G.in[2] + G.pad_end[2], &a2, &b2);
                else
                    taps(&G, 2, o2, 0, G.in[2], &a2, &b2);
                int64_t cnt = n01 * (b2 - a2);
                yrow[o2] = cnt > 0 ? yrow[o2] / (float)cnt : 0.0f;
            }
        }
    }
}
