/* rt_conv.c: N-d convolution (1-D to 3-D) on top of the GEMM.
 *
 * Three paths, chosen from the geometry:
 *  - several groups of one input channel each (depthwise, channel multipliers): handed
 *    to onnxcc_f32_conv_dw (rt_dwconv.c);
 *  - 1x1 kernel, stride 1, no padding: the input of a group already is the K x N matrix
 *    of the GEMM, which reads it in place;
 *  - otherwise, a chunk of output pixels at a time (onnxcc_conv_chunk), the im2col matrix
 *    of the chunk is written straight into the GEMM's packed-B panels (32 pixels wide,
 *    onnxcc_packed_b_index) in the scratch, and the GEMM multiplies the group's weights
 *    by them, writing y (and applying the epilogue) directly.
 * The weights are the GEMM's A: as the model has them (onnxcc_f32_conv: the strided
 * entry points) or packed at compile time (onnxcc_f32_conv_packed: the packed-A ones).
 *
 * Building a panel is the only work besides the GEMM, and it must stay small next to it:
 * the GEMM spends about M cycles per panel row (M output channels, 32 FMAs a cycle), so
 * with M = 64 a row must cost a few cycles.  Two builders:
 *  - flat shift (onnxcc_conv_flat: 2-D or 1-D, input rows stride times as wide as the
 *    output's: the 3x3 "same" layers of CNNs, stride 1 or 2, and the 7x7/2 first layer):
 *    with stride 1, output pixel p reads, for tap t, the input at the flat index
 *    p + offset(t) whenever that tap is inside the image.  A panel row is then one
 *    contiguous 32-float copy, ANDed with a mask (computed once per panel and tap) that
 *    zeroes the taps in the padding, including those that wrapped around to the
 *    neighbouring image row.  With stride s the input of a group is first split into
 *    s x s phase planes (rows iy = py mod s, columns ix = px mod s), each as wide as the
 *    output: a tap reads one phase plane, again at a constant flat offset;
 *  - runs (every other geometry): the panel's pixels split into runs along the last
 *    output axis (computed once per panel); each row copies every run from its input
 *    row, zeros where the window falls in the padding.
 * Geometry is widened to 3-D internally, the missing axes (of size 1) in front, so one
 * loop nest serves every rank and the innermost loops run along the image's rows.
 *
 * Threads: the phase planes of the channels and the panels of a chunk are independent,
 * one task each (onnxcc_parallel_for); the GEMM parallelises itself.  The scratch holds
 * one chunk whatever the thread count.
 */
#include <stdbool.h>
#include <string.h>

#include "onnxcc_rt.h"

enum {
    NR = ONNXCC_PACK_NR,                        /* pixels per packed-B panel */
    MAX_AXIS_TAPS = ONNXCC_CONV_FLAT_MAX_KERNEL,  /* flat shift: kernel rows, columns */
    MAX_STRIDE = ONNXCC_CONV_FLAT_MAX_STRIDE,     /* flat shift: phases per axis */
};

static size_t prod3(const int64_t v[3]) { return (size_t)v[0] * (size_t)v[1] * (size_t)v[2]; }

static int is_pointwise(const OnnxccGeom3 *G) {
    for (int i = 0; i < 3; i++)
        if (G->kernel[i] != 1 || G->stride[i] != 1 || G->pad[i] != 0 || G->in[i] != G->out[i])
            return 0;
    return 1;
}

/* Whether the flat-shift path first splits the input into phase planes. */
static int has_phases(const OnnxccGeom3 *G) {
    return onnxcc_conv_flat(G) && (G->stride[1] > 1 || G->stride[2] > 1);
}

/* Floor division (b > 0). */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Rows of phase py: input rows py, py + s, ... (s = stride[1]). */
static int64_t phase_rows(const OnnxccGeom3 *G, int64_t py) {
    return (G->in[1] - py + G->stride[1] - 1) / G->stride[1];
}

/* Where phase plane (py, px) starts in a channel's in[1] x in[2] floats: the row phases
 * before py whole (rows of in[2] floats), then px planes of phase_rows(py) x out[2]
 * (in[2] = stride[2] * out[2], onnxcc_conv_flat). */
static int64_t phase_start(const OnnxccGeom3 *G, int64_t py, int64_t px) {
    int64_t start = 0;
    for (int64_t r = 0; r < py; r++) start += phase_rows(G, r) * G->in[2];
    return start + px * phase_rows(G, py) * G->out[2];
}

/* The phase planes of one channel (an onnxcc_parallel_for task per channel).  Only the
 * phases some tap reads are written (a 1x1 stride-2 kernel reads one of four). */
typedef struct PhaseJob {
    const OnnxccGeom3 *G;
    const float *x;             /* the group's input */
    float *planes;              /* its phase planes, in[1] * in[2] floats per channel */
    bool row_used[MAX_STRIDE], col_used[MAX_STRIDE];  /* by phase (< stride) */
} PhaseJob;

/* The phase of kernel offset k on axis a: which rows (or columns) mod stride it reads. */
static int64_t tap_phase(const OnnxccGeom3 *G, int a, int64_t k) {
    int64_t d = k * G->dilation[a] - G->pad[a];
    return d - floor_div(d, G->stride[a]) * G->stride[a];
}

static PhaseJob phase_job(const OnnxccGeom3 *G, const float *x, float *planes) {
    PhaseJob job = {.G = G, .x = x, .planes = planes};
    for (int64_t k = 0; k < G->kernel[1]; k++) job.row_used[tap_phase(G, 1, k)] = true;
    for (int64_t k = 0; k < G->kernel[2]; k++) job.col_used[tap_phase(G, 2, k)] = true;
    return job;
}

static void phase_task(void *ctx, size_t c, size_t thread) {
    (void)thread;
    const PhaseJob *job = ctx;
    const OnnxccGeom3 *G = job->G;
    const int64_t W = G->in[2], Wq = G->out[2], s1 = G->stride[1], s2 = G->stride[2];
    const size_t plane = (size_t)(G->in[1] * W);
    const float *xc = job->x + c * plane;
    float *qc = job->planes + c * plane;
    for (int64_t iy = 0; iy < G->in[1]; iy++) {
        const float *src = xc + iy * W;
        if (!job->row_used[iy % s1]) continue;
        float *dst[MAX_STRIDE];
        for (int64_t px = 0; px < s2; px++)
            dst[px] = qc + phase_start(G, iy % s1, px) + iy / s1 * Wq;
        if (s2 == 2 && job->col_used[0] && job->col_used[1]) {
            /* Both column phases in one pass: a deinterleave that vectorises. */
            float *restrict d0 = dst[0], *restrict d1 = dst[1];
            for (int64_t ox = 0; ox < Wq; ox++) d0[ox] = src[2 * ox], d1[ox] = src[2 * ox + 1];
            continue;
        }
        for (int64_t px = 0; px < s2; px++) {
            if (!job->col_used[px]) continue;
            float *restrict d = dst[px];
            for (int64_t ox = 0; ox < Wq; ox++) d[ox] = src[ox * s2 + px];
        }
    }
}

size_t onnxcc_f32_conv_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels,
                                     size_t out_channels, size_t groups) {
    (void)out_channels;
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (onnxcc_conv_direct(in_channels, groups))
        return onnxcc_f32_conv_dw_scratch_bytes(&G, in_channels, groups);
    if (is_pointwise(&G) || groups == 0) return 0;
    size_t kdim = in_channels / groups * prod3(G.kernel);
    size_t phases = has_phases(&G) ? in_channels / groups * prod3(G.in) : 0;
    return (phases + kdim * onnxcc_conv_chunk_cols(kdim, prod3(G.out))) * sizeof(float);
}

/* One chunk's panels, as the builders see it. */
typedef struct PanelJob {
    const OnnxccGeom3 *G;
    size_t channels;            /* input channels of the group */
    size_t ksize, kdim;         /* kernel taps; rows of the im2col matrix */
    const float *x;             /* the group's input, [channels][in...], or on the
                                   flat-shift path with a stride its phase planes */
    float *panels;              /* the chunk's panels, kdim * NR floats each */
    size_t p0, cols;            /* the chunk: output pixels [p0, p0 + cols) */
} PanelJob;

/* A panel row is NR = 32 floats.  With GCC/clang vector extensions it is copied as
 * 64-byte vectors (one AVX-512 register, two AVX2 or four NEON ones: the compiler splits
 * them for the -march at hand); clang keeps 512-bit vectors whole only when a function
 * asks (its default prefers 256-bit vectors on AVX-512 targets), and halving the moves
 * matters: building panels is most of what the conv does besides the GEMM. */
#if defined(__GNUC__)
typedef uint32_t U16 __attribute__((vector_size(64)));
#if defined(__clang__) && defined(__AVX512F__)
#define ONNXCC_WIDE __attribute__((min_vector_width(512)))
#else
#define ONNXCC_WIDE
#endif
/* dst[0..32) = src[0..32) with the bits of mask ANDed in (mask NULL: all ones). */
ONNXCC_WIDE static void copy_row(float *restrict dst, const float *restrict src,
                                 const uint32_t *restrict mask) {
    for (size_t j = 0; j < NR; j += 16) {
        U16 v, m;   /* memcpy: no alignment assumed, no aliasing issue */
        memcpy(&v, src + j, sizeof v);
        if (mask) {
            memcpy(&m, mask + j, sizeof m);
            v &= m;
        }
        memcpy(dst + j, &v, sizeof v);
    }
}
#else
static void copy_row(float *restrict dst, const float *restrict src,
                     const uint32_t *restrict mask) {
    for (size_t j = 0; j < NR; j++) {
        uint32_t v;
        memcpy(&v, src + j, sizeof v);
        if (mask) v &= mask[j];
        memcpy(dst + j, &v, sizeof v);
    }
}
#endif

/* Panel of the pixels [p, p + nr) on the flat-shift path (onnxcc_conv_flat). */
static void panel_flat(const PanelJob *job, size_t p, size_t nr, float *restrict dst) {
    const OnnxccGeom3 *G = job->G;
    const int64_t H = G->in[1], W = G->in[2], Wq = G->out[2], KH = G->kernel[1];
    const int64_t KW = G->kernel[2], s1 = G->stride[1], s2 = G->stride[2];
    /* Which input rows (per kernel row) and columns (per kernel column) of each pixel
     * fall in the image; pixels past nr in no row. */
    uint32_t row_ok[MAX_AXIS_TAPS][NR], col_ok[MAX_AXIS_TAPS][NR];
    int64_t oy[NR], ox[NR];     /* each pixel's output row and column */
    oy[0] = (int64_t)p / Wq, ox[0] = (int64_t)p % Wq;
    for (size_t j = 1; j < NR; j++) {
        bool wrap = ox[j - 1] + 1 == Wq;
        oy[j] = oy[j - 1] + wrap, ox[j] = wrap ? 0 : ox[j - 1] + 1;
    }
    /* Loops along the pixels innermost: they vectorise. */
    for (int64_t ky = 0; ky < KH; ky++) {
        const int64_t dy = ky * G->dilation[1] - G->pad[1];
        for (size_t j = 0; j < NR; j++) {
            int64_t iy = oy[j] * s1 + dy;
            row_ok[ky][j] = j < nr && iy >= 0 && iy < H ? ~0u : 0u;
        }
    }
    for (int64_t kx = 0; kx < KW; kx++) {
        const int64_t dx = kx * G->dilation[2] - G->pad[2];
        for (size_t j = 0; j < NR; j++) {
            int64_t ix = ox[j] * s2 + dx;
            col_ok[kx][j] = ix >= 0 && ix < W ? ~0u : 0u;
        }
    }
    /* Per tap: the mask, where its 32 floats start in a channel's block (its phase
     * plane's start plus the flat offset), whether the mask keeps everything, whether
     * the 32 floats lie inside the phase plane, and if not, the part [lo, hi) of them
     * that does (the kept ones are in it; only it may be read). */
    uint32_t mask[MAX_AXIS_TAPS * MAX_AXIS_TAPS][NR];
    int64_t from[MAX_AXIS_TAPS * MAX_AXIS_TAPS], lo[MAX_AXIS_TAPS * MAX_AXIS_TAPS];
    int64_t hi[MAX_AXIS_TAPS * MAX_AXIS_TAPS];
    bool full[MAX_AXIS_TAPS * MAX_AXIS_TAPS], inside[MAX_AXIS_TAPS * MAX_AXIS_TAPS];
    for (int64_t ky = 0, t = 0; ky < KH; ky++) {
        const int64_t dy = ky * G->dilation[1] - G->pad[1], py = tap_phase(G, 1, ky);
        for (int64_t kx = 0; kx < KW; kx++, t++) {
            const int64_t dx = kx * G->dilation[2] - G->pad[2], px = tap_phase(G, 2, kx);
            uint32_t all = ~0u;
            for (size_t j = 0; j < NR; j++) {
                mask[t][j] = row_ok[ky][j] & col_ok[kx][j];
                all &= mask[t][j];
            }
            int64_t off = (int64_t)p + floor_div(dy, s1) * Wq + floor_div(dx, s2);
            from[t] = phase_start(G, py, px) + off;
            const int64_t size = phase_rows(G, py) * Wq;
            full[t] = all != 0;
            inside[t] = off >= 0 && off + NR <= size;
            lo[t] = off >= 0 ? 0 : -off < NR ? -off : NR;
            hi[t] = size - off < lo[t] ? lo[t] : size - off < NR ? size - off : NR;
        }
    }
    /* The taps sorted by how their rows are copied (whole, masked, or near the top and
     * bottom of the image through `edge`), so that the loop over the channels, which
     * runs kdim times per panel, has no test per row. */
    const size_t ntaps = job->ksize, plane = (size_t)(H * W);
    size_t order[MAX_AXIS_TAPS * MAX_AXIS_TAPS], n_whole = 0, n_masked = 0;
    for (size_t t = 0; t < ntaps; t++)
        if (inside[t] && full[t]) order[n_whole++] = t;
    for (size_t t = 0; t < ntaps; t++)
        if (inside[t] && !full[t]) order[n_whole + n_masked++] = t;
    size_t n_inside = n_whole + n_masked;
    for (size_t t = 0; t < ntaps; t++)
        if (!inside[t]) order[n_inside++] = t;
    float edge[NR] = {0};
    for (size_t c = 0; c < job->channels; c++) {
        const float *xc = job->x + c * plane;
        float *rows = dst + c * ntaps * NR;     /* row t of channel c at rows + t * NR */
        for (size_t i = 0; i < n_whole; i++)
            copy_row(rows + order[i] * NR, xc + from[order[i]], NULL);
        for (size_t i = n_whole; i < n_whole + n_masked; i++)
            copy_row(rows + order[i] * NR, xc + from[order[i]], mask[order[i]]);
        for (size_t i = n_whole + n_masked; i < ntaps; i++) {
            /* Only [lo, hi) is inside the phase plane: copied into `edge`, whose other
             * lanes (zeros, or what an earlier tap left) the mask clears.  Cheaper than
             * the element-by-element select it replaces (gathers, half of the panel
             * building on 14 x 14 planes). */
            const size_t t = order[i];
            if (hi[t] > lo[t])
                memcpy(edge + lo[t], xc + from[t] + lo[t],
                       (size_t)(hi[t] - lo[t]) * sizeof(float));
            copy_row(rows + t * NR, edge, mask[t]);
        }
    }
}

/* A run of a panel's pixels along the last output axis. */
typedef struct Run {
    int64_t o0, o1, o2;         /* its first output pixel */
    int64_t len;
    size_t at;                  /* its first column in the panel */
} Run;

/* Panel of the pixels [p, p + nr) on the runs path. */
static void panel_runs(const PanelJob *job, size_t p, size_t nr, float *restrict dst) {
    const OnnxccGeom3 *G = job->G;
    Run runs[NR];
    size_t n_runs = 0;
    int64_t o2 = (int64_t)p % G->out[2], o1 = (int64_t)p / G->out[2] % G->out[1];
    int64_t o0 = (int64_t)p / G->out[2] / G->out[1];
    for (size_t at = 0; at < nr;) {
        int64_t len = G->out[2] - o2;
        if (len > (int64_t)(nr - at)) len = (int64_t)(nr - at);
        runs[n_runs++] = (Run){o0, o1, o2, len, at};
        at += (size_t)len;
        o2 = 0;
        if (++o1 == G->out[1]) o1 = 0, o0++;
    }
    const int64_t in_pix = G->in[0] * G->in[1] * G->in[2], s2 = G->stride[2];
    for (size_t c = 0; c < job->channels; c++) {
        const float *xc = job->x + (int64_t)c * in_pix;
        for (int64_t k0 = 0; k0 < G->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < G->kernel[1]; k1++)
        for (int64_t k2 = 0; k2 < G->kernel[2]; k2++, dst += NR) {
            for (size_t j = nr; j < NR; j++) dst[j] = 0.0f;
            const int64_t base = k2 * G->dilation[2] - G->pad[2];
            for (size_t r = 0; r < n_runs; r++) {
                const Run *run = &runs[r];
                float *d = dst + run->at;
                int64_t i0 = run->o0 * G->stride[0] - G->pad[0] + k0 * G->dilation[0];
                int64_t i1 = run->o1 * G->stride[1] - G->pad[1] + k1 * G->dilation[1];
                if (i0 < 0 || i0 >= G->in[0] || i1 < 0 || i1 >= G->in[1]) {
                    for (int64_t t = 0; t < run->len; t++) d[t] = 0.0f;
                    continue;
                }
                const float *src = xc + (i0 * G->in[1] + i1) * G->in[2];
                /* Input columns first + t * s2: zeros, the taps inside the row, zeros. */
                int64_t first = base + run->o2 * s2;
                int64_t lo = first >= 0 ? 0 : (-first + s2 - 1) / s2;
                int64_t hi = G->in[2] - 1 - first < 0 ? 0 : (G->in[2] - 1 - first) / s2 + 1;
                if (lo > run->len) lo = run->len;
                if (hi > run->len) hi = run->len;
                if (hi < lo) hi = lo;
                for (int64_t t = 0; t < lo; t++) d[t] = 0.0f;
                if (s2 == 1 && hi > lo) {
                    memcpy(d + lo, src + first + lo, (size_t)(hi - lo) * sizeof(float));
                } else {
                    for (int64_t t = lo; t < hi; t++) d[t] = src[first + t * s2];
                }
                for (int64_t t = hi; t < run->len; t++) d[t] = 0.0f;
            }
        }
    }
}

/* onnxcc_parallel_for task: panel `task` of the chunk. */
static void panel_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const PanelJob *job = ctx;
    size_t q = task * NR, nr = job->cols - q < NR ? job->cols - q : NR;
    float *dst = job->panels + q * job->kdim;
    if (onnxcc_conv_flat(job->G)) {
        panel_flat(job, job->p0 + q, nr, dst);
    } else {
        panel_runs(job, job->p0 + q, nr, dst);
    }
}

/* The GEMM paths of both entry points; `packed` says which layout w has. */
static void conv_gemm(const OnnxccGeom3 *G, size_t batch, size_t in_channels,
                      size_t out_channels, size_t groups, const float *x, const float *w,
                      bool packed, float *y, const OnnxccEpilogue *ep, void *scratch,
                      OnnxccPool *pool) {
    const size_t in_pix = prod3(G->in), out_pix = prod3(G->out), ksize = prod3(G->kernel);
    const size_t cin_g = in_channels / groups, cout_g = out_channels / groups;
    const size_t kdim = cin_g * ksize;
    const bool pointwise = is_pointwise(G);
    for (size_t n = 0; n < batch; n++) {
        const float *xn = x + n * in_channels * in_pix;
        float *yn = y + n * out_channels * out_pix;
        const float *rn = ep->residual.ptr ? ep->residual.ptr + n * out_channels * out_pix
                                           : NULL;
        for (size_t gi = 0; gi < groups; gi++) {
            const float *xg = xn + gi * cin_g * in_pix;
            const size_t oc0 = gi * cout_g;
            const float *wg = packed ? w + gi * onnxcc_conv_packed_group_floats(
                                                    out_channels, groups, kdim)
                                     : w + oc0 * kdim;
            float *yg = yn + oc0 * out_pix;
            /* Per-channel operands become per-row operands of the GEMM. */
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
            if (pointwise) {
                e.residual.ptr = rn ? rn + oc0 * out_pix : NULL;
                if (packed) {
                    onnxcc_f32_gemm_pa(cout_g, out_pix, kdim, 1.0f, wg, xg, (ptrdiff_t)out_pix,
                                       1, yg, (ptrdiff_t)out_pix, &e, pool);
                } else {
                    onnxcc_f32_gemm(cout_g, out_pix, kdim, 1.0f, wg, (ptrdiff_t)kdim, 1, xg,
                                    (ptrdiff_t)out_pix, 1, yg, (ptrdiff_t)out_pix, &e, pool);
                }
                continue;
            }
            PanelJob job = {.G = G, .channels = cin_g, .ksize = ksize, .kdim = kdim, .x = xg,
                            .panels = scratch};
            if (has_phases(G)) {
                PhaseJob split = phase_job(G, xg, scratch);
                onnxcc_parallel_for(pool, cin_g, phase_task, &split);
                job.x = split.planes;
                job.panels = split.planes + cin_g * in_pix;
            }
            for (size_t p0 = 0, cols; p0 < out_pix; p0 += cols) {
                cols = onnxcc_conv_chunk_at(kdim, out_pix, p0);
                job.p0 = p0, job.cols = cols;
                onnxcc_parallel_for(pool, (cols + NR - 1) / NR, panel_task, &job);
                e.residual.ptr = rn ? rn + oc0 * out_pix + p0 : NULL;
                if (packed) {
                    onnxcc_f32_gemm_pab(cout_g, cols, kdim, 1.0f, wg, job.panels, yg + p0,
                                        (ptrdiff_t)out_pix, &e, pool);
                } else {
                    onnxcc_f32_gemm_pb(cout_g, cols, kdim, 1.0f, wg, (ptrdiff_t)kdim, 1,
                                       job.panels, yg + p0, (ptrdiff_t)out_pix, &e, pool);
                }
            }
        }
    }
}

static const OnnxccEpilogue no_epilogue = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};

void onnxcc_f32_conv(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                     size_t out_channels, size_t groups, const float *x, const float *w,
                     float *y, const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (groups == 0) return;
    if (!ep) ep = &no_epilogue;
    if (onnxcc_conv_direct(in_channels, groups)) {
        onnxcc_f32_conv_dw(&G, batch, in_channels, out_channels, x, w, y, ep, scratch, pool);
        return;
    }
    conv_gemm(&G, batch, in_channels, out_channels, groups, x, w, false, y, ep, scratch, pool);
}

void onnxcc_f32_conv_packed(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                            size_t out_channels, size_t groups, const float *x,
                            const float *wp, float *y, const OnnxccEpilogue *ep,
                            void *scratch, OnnxccPool *pool) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    if (groups == 0) return;
    conv_gemm(&G, batch, in_channels, out_channels, groups, x, wp, true, y,
              ep ? ep : &no_epilogue, scratch, pool);
}
