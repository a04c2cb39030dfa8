/* rt_conv_first.c: direct convolution for few input channels (onnxcc_conv_first.h).
 *
 * Per image, two steps:
 *  1. phase planes: every input channel is copied into stride x stride planes (rows
 *     iy = qy * stride + py, columns ix = qx * stride + px of the padded image), zeros
 *     where they fall in the padding (onnxcc_conv_first_plane gives their size).  Output
 *     pixel (oy, ox) then reads, for kernel tap t, element (oy, ox) + offset(t) of one
 *     plane: consecutive output pixels read consecutive floats, whatever the stride,
 *     padding or dilation, and no read needs a bounds test.  One task per channel and
 *     row phase.
 *  2. tiles: CF_ROWS output rows x VL output pixels x ONNXCC_CONV_FIRST_OC output
 *     channels in CF_ROWS x OC vector registers (AVX-512: 3 x 16 x 8, 24 of the 32 zmm).
 *     Per tap: one vector load per tile row and one broadcast weight per channel, each
 *     feeding CF_ROWS multiply-adds.  The accumulators start at the bias; the residual and
 *     the activation (v_act of onnxcc_simd.h: within a few ulp of onnxcc_act.h) are
 *     applied in registers before the one store.  One task per block of OC channels
 *     and band of BAND_ROWS rows: each output is computed by the same instructions
 *     whatever the thread count.
 * Written once over the vector primitives of onnxcc_simd.h, so AVX-512, AVX2, NEON and
 * the portable build share it; only the tile's height depends on the ISA (how many
 * accumulators its registers hold).
 */
#include <stdbool.h>
#include <string.h>

/* gcc in ISO C mode contracts a * b + c into an FMA only when asked, and unrolls the
 * constant loops over a tile (which keeps its accumulators in registers) only from -O3
 * or with peel-loops: the same request as rt_gemm_kernel.c. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "peel-loops")
#endif

#include "onnxcc_conv_first.h"
#include "onnxcc_simd.h"

enum {
    OC = ONNXCC_CONV_FIRST_OC,
    MAX_TAPS = ONNXCC_CONV_FIRST_MAX_TAPS,
    /* Tile rows: 3 x 8 accumulators where 32 vector registers leave room for them
     * (AVX-512, NEON); 1 x 8 with 16 (AVX2, the portable build). */
#if defined(ONNXCC_GEMM_ISA_AVX512) || defined(ONNXCC_GEMM_ISA_NEON)
    CF_ROWS = 3,
#else
    CF_ROWS = 1,
#endif
    BAND_ROWS = 4 * CF_ROWS,    /* rows per task */
};
_Static_assert(ONNXCC_CONV_FIRST_COL_ALIGN % VL == 0, "a plane row holds whole vectors");

/* What the tasks of one image share. */
typedef struct FirstJob {
    OnnxccGeom3 G;
    size_t cout, taps, bands;
    size_t rows, cols;          /* of a phase plane */
    const float *x;             /* the image, [cin][in...] */
    float *planes;              /* its phase planes, in the scratch */
    const float *w;             /* the packed weights */
    float *y;                   /* the image's output, [cout][out...] */
    const float *res;           /* its residual (same layout), or NULL */
    const OnnxccEpilogue *ep;
    ptrdiff_t off[MAX_TAPS];    /* tap t of output pixel (oy, ox) reads plane element
                                   planes[off[t] + oy * cols + ox] */
} FirstJob;

/* ---- step 1: phase planes --------------------------------------------------------------- */

/* Task c * stride[1] + py: the planes of row phase py of channel c.  They take 12-25 %
 * of a first layer's time, bound by memory: the input comes from L3 or memory.  (Writing
 * the two column phases of stride 2 in one pass over the input row measured slower, an
 * explicit AVX-512 deinterleave 1.5 % faster.) */
static void plane_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const FirstJob *job = ctx;
    const OnnxccGeom3 *G = &job->G;
    const int64_t s1 = G->stride[1], s2 = G->stride[2], H = G->in[1], W = G->in[2];
    const int64_t c = (int64_t)task / s1, py = (int64_t)task % s1, cols = (int64_t)job->cols;
    const float *xc = job->x + c * H * W;
    for (int64_t px = 0; px < s2; px++) {
        float *plane = job->planes + (size_t)((c * s1 + py) * s2 + px) * job->rows * job->cols;
        /* Columns qx in [lo, hi) read input column qx * s2 + px - pad2 inside the row. */
        const int64_t first = px - G->pad[2];
        int64_t lo = first >= 0 ? 0 : (-first + s2 - 1) / s2;
        int64_t hi = W - 1 - first < 0 ? 0 : (W - 1 - first) / s2 + 1;
        if (hi > cols) hi = cols;
        if (lo > hi) lo = hi;
        for (int64_t qy = 0; qy < (int64_t)job->rows; qy++) {
            float *restrict dst = plane + qy * cols;
            const int64_t iy = qy * s1 + py - G->pad[1];
            if (iy < 0 || iy >= H) {
                memset(dst, 0, (size_t)cols * sizeof(float));
                continue;
            }
            if (lo > 0) memset(dst, 0, (size_t)lo * sizeof(float));
            if (hi > lo) {
                /* d[q] = column lo + q of the plane = input column src[q * s2]. */
                const float *restrict src = xc + iy * W + (lo * s2 + first);
                float *restrict d = dst + lo;
                const int64_t n = hi - lo;
                if (s2 == 1) {
                    memcpy(d, src, (size_t)n * sizeof(float));
                } else if (s2 == 2) {   /* a constant stride: the loop vectorises */
                    for (int64_t q = 0; q < n; q++) d[q] = src[2 * q];
                } else {
                    for (int64_t q = 0; q < n; q++) d[q] = src[q * s2];
                }
            }
            if (hi < cols) memset(dst + hi, 0, (size_t)(cols - hi) * sizeof(float));
        }
    }
}

/* ---- step 2: tiles ---------------------------------------------------------------------- */

/* The tile of `rows` (<= CF_ROWS) output rows from oy, VL pixels from ox and the OC
 * channels of block b (`valid` of them below cout), whose accumulators start at `bias`;
 * activation `act` (PRelu: the channels' `slope`) before the store. */
ONNXCC_INLINE ONNXCC_WIDE void first_tile(const FirstJob *job, const int rows, size_t b,
                                          size_t valid, const float bias[OC], int act,
                                          const float slope[OC], int64_t oy, int64_t ox) {
    const size_t cols = job->cols, taps = job->taps;
    const float *in = job->planes + (size_t)oy * cols + (size_t)ox;
    const float *w = job->w + b * taps * OC;
    V acc[CF_ROWS][OC];
    for (int o = 0; o < OC; o++) {
        V init = v_set1(bias[o]);
        for (int r = 0; r < rows; r++) acc[r][o] = init;
    }
    for (size_t t = 0; t < taps; t++, w += OC) {
        const float *p = in + job->off[t];
        V xv[CF_ROWS];
        for (int r = 0; r < rows; r++) xv[r] = v_load(p + (size_t)r * cols);
        for (int o = 0; o < OC; o++) {
            V wv = v_set1(w[o]);
            for (int r = 0; r < rows; r++) acc[r][o] = v_fma(xv[r], wv, acc[r][o]);
        }
    }
    const OnnxccGeom3 *G = &job->G;
    const size_t W = (size_t)G->out[2], out_pix = (size_t)G->out[1] * W;
    const size_t n = W - (size_t)ox < VL ? W - (size_t)ox : VL;
    const size_t at = b * OC * out_pix + (size_t)oy * W + (size_t)ox;
    float *y = job->y + at;
    const float *res = job->res ? job->res + at : NULL;
    const float alpha = job->ep->act_alpha, beta = job->ep->act_beta;
    /* Constant bounds (o < OC, not o < valid): the accumulators are indexed by constants
     * only, so that compilers keep them in registers (clang keeps an array indexed
     * otherwise in memory: 2-3x slower). */
    for (size_t o = 0; o < OC; o++)
        for (int r = 0; r < rows && o < valid; r++) {
            const size_t e = o * out_pix + (size_t)r * W;
            V v = acc[r][o];
            /* The residual is read before y is written: it may alias y. */
            if (res) v = v_add(v, v_load_part(res + e, n));
            v = v_act(v, act, alpha, beta, slope[o]);
            v_store_part(y + e, v, n);
        }
}

/* Task b * bands + band: output channels [b * OC, b * OC + OC) of the band's rows.  The
 * activation is applied in the tiles' registers (v_act of onnxcc_simd.h; applying
 * SiLU over the finished rows instead measured the same). */
static ONNXCC_WIDE void tile_task(void *ctx, size_t task, size_t thread) {
    (void)thread;
    const FirstJob *job = ctx;
    const OnnxccGeom3 *G = &job->G;
    const OnnxccEpilogue *ep = job->ep;
    const size_t b = task / job->bands, oc0 = b * OC;
    const int64_t oy0 = (int64_t)(task % job->bands) * BAND_ROWS;
    const int64_t oy1 = oy0 + BAND_ROWS < G->out[1] ? oy0 + BAND_ROWS : G->out[1];
    const size_t valid = job->cout - oc0 < OC ? job->cout - oc0 : OC;
    const int act = ep->act;
    float bias[OC] = {0}, slope[OC] = {0};
    for (size_t o = 0; o < valid; o++) {
        if (ep->bias.ptr)
            bias[o] = ep->bias_scale * ep->bias.ptr[(ptrdiff_t)(oc0 + o) * ep->bias.row_stride];
        if (act == ONNXCC_ACT_PRELU)
            slope[o] = ep->slope.ptr[(ptrdiff_t)(oc0 + o) * ep->slope.row_stride];
    }
    for (int64_t oy = oy0; oy < oy1; oy += CF_ROWS) {
        const bool whole = oy + CF_ROWS <= oy1;
        for (int64_t ox = 0; ox < G->out[2]; ox += VL) {
            if (whole) {
                first_tile(job, CF_ROWS, b, valid, bias, act, slope, oy, ox);
            } else {
                /* The band's last rows, one at a time. */
                for (int64_t r = oy; r < oy1; r++)
                    first_tile(job, 1, b, valid, bias, act, slope, r, ox);
            }
        }
    }
}

/* ---- entry points ----------------------------------------------------------------------- */

size_t onnxcc_f32_conv_first_scratch_bytes(const OnnxccConvGeom *g, size_t in_channels) {
    OnnxccGeom3 G;
    onnxcc_geom3(g, &G);
    size_t rows, cols;
    onnxcc_conv_first_plane(&G, &rows, &cols);
    return in_channels * (size_t)(G.stride[1] * G.stride[2]) * rows * cols * sizeof(float);
}

static const OnnxccEpilogue no_epilogue = {{0}, {0}, {0}, ONNXCC_ACT_NONE, 0.0f, 0.0f, 1.0f};

void onnxcc_f32_conv_first(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                           size_t out_channels, const float *x, const float *wf, float *y,
                           const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool) {
    FirstJob job = {.cout = out_channels, .planes = scratch, .w = wf,
                    .ep = ep ? ep : &no_epilogue};
    onnxcc_geom3(g, &job.G);
    const OnnxccGeom3 *G = &job.G;
    if (batch == 0 || G->out[1] * G->out[2] == 0) return;
    job.taps = onnxcc_conv_first_taps(G, in_channels);
    job.bands = (size_t)((G->out[1] + BAND_ROWS - 1) / BAND_ROWS);
    onnxcc_conv_first_plane(G, &job.rows, &job.cols);
    const int64_t s1 = G->stride[1], s2 = G->stride[2];
    for (size_t c = 0, t = 0; c < in_channels; c++)
        for (int64_t ky = 0; ky < G->kernel[1]; ky++)
            for (int64_t kx = 0; kx < G->kernel[2]; kx++, t++) {
                const int64_t dy = ky * G->dilation[1], dx = kx * G->dilation[2];
                const int64_t plane = ((int64_t)c * s1 + dy % s1) * s2 + dx % s2;
                job.off[t] = (ptrdiff_t)((plane * (int64_t)job.rows + dy / s1) *
                                             (int64_t)job.cols + dx / s2);
            }
    const size_t in_img = in_channels * (size_t)(G->in[1] * G->in[2]);
    const size_t out_img = out_channels * (size_t)(G->out[1] * G->out[2]);
    const size_t blocks = (out_channels + OC - 1) / OC;
    for (size_t n = 0; n < batch; n++) {
        job.x = x + n * in_img;
        job.y = y + n * out_img;
        job.res = job.ep->residual.ptr ? job.ep->residual.ptr + n * out_img : NULL;
        onnxcc_parallel_for(pool, in_channels * (size_t)s1, plane_task, &job);
        onnxcc_parallel_for(pool, blocks * job.bands, tile_task, &job);
    }
}
