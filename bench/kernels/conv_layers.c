/* conv_layers.c: times the runtime's convolution and GEMM kernels on the layer shapes
 * that matter (resnet18 dense convs, mobilenet_v2 depthwise and 1x1 convs, a few GEMMs)
 * and prints GFLOP/s per layer, median of several repetitions, one thread, in CPU time of
 * the thread (see now()).  Dense convs are timed with the weights as the model has them
 * (onnxcc_f32_conv) and packed as the compiler emits them (onnxcc_f32_conv_packed, what
 * generated code calls), one after the other; convolutions of few input channels
 * (onnxcc_conv_first_use: the first layers) also through onnxcc_f32_conv_first, the
 * kernel that the compiler picks for them (the `first` column).
 *
 *   clang -O3 -march=native -Iruntime/include bench/kernels/conv_layers.c \
 *       runtime/src/rt_*.c -lm -lpthread -o /tmp/conv_layers && /tmp/conv_layers [filter]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "onnxcc_conv_blocked.h"
#include "onnxcc_conv_wino.h"
#include "onnxcc_rt.h"

typedef struct Layer {
    const char *name;
    int c, h, m, k, s, group;   /* in channels, in size (square), out channels, kernel, stride */
    int unpadded;               /* 1: no padding (else kernel / 2 on each side) */
} Layer;

static const Layer layers[] = {
    {"r18 conv1 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 1, 0},
    {"r18 3x3 64->64 @56", 64, 56, 64, 3, 1, 1, 0},
    {"r18 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1, 0},
    {"r18 3x3 128->128 @28", 128, 28, 128, 3, 1, 1, 0},
    {"r18 3x3/2 128->256 @28", 128, 28, 256, 3, 2, 1, 0},
    {"r18 3x3 256->256 @14", 256, 14, 256, 3, 1, 1, 0},
    {"r18 3x3/2 256->512 @14", 256, 14, 512, 3, 2, 1, 0},
    {"r18 3x3 512->512 @7", 512, 7, 512, 3, 1, 1, 0},
    {"r18 1x1/2 64->128 @56", 64, 56, 128, 1, 2, 1, 0},
    {"sq 3x3 16->64 @55", 16, 55, 64, 3, 1, 1, 0},
    {"sq 3x3 32->128 @27", 32, 27, 128, 3, 1, 1, 0},
    {"sq 3x3 48->192 @13", 48, 13, 192, 3, 1, 1, 0},
    {"sq 3x3 64->256 @13", 64, 13, 256, 3, 1, 1, 0},
    {"mv2 conv1 3x3/2 3->32 @224", 3, 224, 32, 3, 2, 1, 0},
    {"mv3 conv1 3x3/2 3->16 @224", 3, 224, 16, 3, 2, 1, 0},
    {"sq conv1 3x3/2 3->64 @224 unpadded", 3, 224, 64, 3, 2, 1, 1},
    {"mv2 dw3x3 32 @112", 32, 112, 32, 3, 1, 32, 0},
    {"mv2 dw3x3/2 96 @112", 96, 112, 96, 3, 2, 96, 0},
    {"mv2 dw3x3 144 @56", 144, 56, 144, 3, 1, 144, 0},
    {"mv2 dw3x3/2 144 @56", 144, 56, 144, 3, 2, 144, 0},
    {"mv2 dw3x3 192 @28", 192, 28, 192, 3, 1, 192, 0},
    {"mv2 dw3x3 384 @14", 384, 14, 384, 3, 1, 384, 0},
    {"mv2 dw3x3/2 576 @14", 576, 14, 576, 3, 2, 576, 0},
    {"mv2 dw3x3 960 @7", 960, 7, 960, 3, 1, 960, 0},
    {"mv2 1x1 32->16 @112", 32, 112, 16, 1, 1, 1, 0},
    {"mv2 1x1 16->96 @112", 16, 112, 96, 1, 1, 1, 0},
    {"mv2 1x1 144->24 @56", 144, 56, 24, 1, 1, 1, 0},
    {"mv2 1x1 24->144 @56", 24, 56, 144, 1, 1, 1, 0},
    {"mv2 1x1 192->32 @28", 192, 28, 32, 1, 1, 1, 0},
    {"mv2 1x1 384->64 @14", 384, 14, 64, 1, 1, 1, 0},
    {"mv2 1x1 576->96 @14", 576, 14, 96, 1, 1, 1, 0},
    {"mv2 1x1 960->160 @7", 960, 7, 160, 1, 1, 1, 0},
    {"mv2 1x1 320->1280 @7", 320, 7, 1280, 1, 1, 1, 0},
};

typedef struct GemmShape {
    const char *name;
    int m, n, k;
} GemmShape;

static const GemmShape gemms[] = {
    {"gemm 1x1000x512 (fc)", 1, 1000, 512},
    {"gemm 32x128x128 (enc)", 32, 128, 128},
    {"gemm 32x512x128 (ffn)", 32, 512, 128},
    {"gemm 256x256x256", 256, 256, 256},
    {"gemm 512x512x512", 512, 512, 512},
};


int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    double total_flops = 0, total_t = 0;
    printf("%-36s %10s %10s %10s %10s %10s\n", "layer", "us", "GFLOP/s", "packed", "first",
           "wino");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const Layer *L = &layers[li];
        if (filter && !strstr(L->name, filter)) continue;
        int pad = L->unpadded ? 0 : L->k / 2;
        int oh = (L->h + 2 * pad - L->k) / L->s + 1;
        OnnxccConvGeom g = {.n_spatial = 2, .in = {L->h, L->h, 1}, .out = {oh, oh, 1},
                            .kernel = {L->k, L->k, 1}, .stride = {L->s, L->s, 1},
                            .dilation = {1, 1, 1}, .pad_begin = {pad, pad, 0},
                            .pad_end = {pad, pad, 0}};
        size_t cin_g = (size_t)(L->c / L->group);
        size_t nx = (size_t)L->c * L->h * L->h, ny = (size_t)L->m * oh * oh;
        size_t nw = (size_t)L->m * cin_g * L->k * L->k;
        float *x = xalloc(nx * 4), *y = xalloc(ny * 4), *w = xalloc(nw * 4);
        float *b = xalloc((size_t)L->m * 4);
        fill(x, nx, 1), fill(w, nw, 2), fill(b, (size_t)L->m, 3);
        size_t sb = onnxcc_f32_conv_scratch_bytes(&g, (size_t)L->c, (size_t)L->m,
                                                  (size_t)L->group);
        void *scratch = xalloc(sb ? sb : 64);
        OnnxccEpilogue ep = {.bias = {b, 1, 0}, .act = ONNXCC_ACT_RELU, .bias_scale = 1.0f};
        double flops = 2.0 * (double)ny * (double)(cin_g * L->k * L->k);
        double t;
        TIME_MEDIAN(t, onnxcc_f32_conv(&g, 1, (size_t)L->c, (size_t)L->m, (size_t)L->group,
                                       x, w, y, &ep, scratch, NULL));
        if (onnxcc_conv_direct((size_t)L->c, (size_t)L->group)) {
            /* Depthwise weights stay unpacked: the generated code calls onnxcc_f32_conv. */
            total_flops += flops, total_t += t;
            printf("%-36s %10.1f %10.1f %10s\n", L->name, t * 1e6, flops / t * 1e-9, "-");
        } else {
            size_t kdim = cin_g * (size_t)(L->k * L->k), M = (size_t)L->m, G = (size_t)L->group;
            float *wp = xalloc(onnxcc_conv_packed_floats(M, G, kdim) * 4);
            memset(wp, 0, onnxcc_conv_packed_floats(M, G, kdim) * 4);
            for (size_t oc = 0; oc < M; oc++)
                for (size_t k = 0; k < kdim; k++)
                    wp[onnxcc_conv_packed_index(M, G, kdim, oc, k)] = w[oc * kdim + k];
            double tp;
            TIME_MEDIAN(tp, onnxcc_f32_conv_packed(&g, 1, (size_t)L->c, M, G, x, wp, y, &ep,
                                                   scratch, NULL));
            /* Plain again, side by side with the packed run (the machine is shared). */
            double t2;
            TIME_MEDIAN(t2, onnxcc_f32_conv(&g, 1, (size_t)L->c, M, G, x, w, y, &ep, scratch,
                                            NULL));
            if (t2 < t) t = t2;
            OnnxccGeom3 G3;
            onnxcc_geom3(&g, &G3);
            char first[32] = "-";
            if (onnxcc_conv_blocked_use(&G3, (size_t)L->c, M, G)) {
                /* The channel-blocked direct kernel beside the packed path: its rate and
                 * largest difference go after the row's own figures. */
                const size_t taps = (size_t)(L->k * L->k), C = (size_t)L->c;
                float *wb = xalloc(onnxcc_conv_blocked_floats(M, C, taps) * 4);
                memset(wb, 0, onnxcc_conv_blocked_floats(M, C, taps) * 4);
                for (size_t oc = 0; oc < M; oc++)
                    for (size_t c = 0; c < C; c++)
                        for (size_t t = 0; t < taps; t++)
                            wb[onnxcc_conv_blocked_index(C, taps, oc, c, t)] =
                                w[(oc * C + c) * taps + t];
                void *sb2 = xalloc(onnxcc_f32_conv_blocked_scratch_bytes(&G3, C));
                float *yb = xalloc(ny * 4);
                double tb, tp2, err = 0;
                TIME_MEDIAN(tb, onnxcc_f32_conv_blocked(&g, 1, C, M, x, wb, yb, &ep, sb2, NULL));
                TIME_MEDIAN(tp2, onnxcc_f32_conv_packed(&g, 1, C, M, G, x, wp, y, &ep, scratch,
                                                        NULL));
                if (tp2 < tp) tp = tp2;
                for (size_t i = 0; i < ny; i++) {
                    double e = y[i] > yb[i] ? y[i] - yb[i] : yb[i] - y[i];
                    err = e > err ? e : err;
                }
                printf("%-36s %10s %10s %10.1f %10s blocked %.1f (us: %.1f, max diff %.2g)\n",
                       L->name, "", "", flops / tp * 1e-9, "", flops / tb * 1e-9, tb * 1e6, err);
                free(wb), free(sb2), free(yb);
            }
            if (onnxcc_conv_first_use(&G3, (size_t)L->c, M, G)) {
                /* The first-layer kernel, then the packed GEMM path again beside it. */
                size_t taps = onnxcc_conv_first_taps(&G3, (size_t)L->c);
                float *wf = xalloc(onnxcc_conv_first_floats(M, taps) * 4);
                memset(wf, 0, onnxcc_conv_first_floats(M, taps) * 4);
                for (size_t oc = 0; oc < M; oc++)
                    for (size_t k = 0; k < taps; k++)
                        wf[onnxcc_conv_first_index(taps, oc, k)] = w[oc * taps + k];
                void *sf = xalloc(onnxcc_f32_conv_first_scratch_bytes(&g, (size_t)L->c));
                double tf, tp2;
                TIME_MEDIAN(tf, onnxcc_f32_conv_first(&g, 1, (size_t)L->c, M, x, wf, y, &ep,
                                                      sf, NULL));
                TIME_MEDIAN(tp2, onnxcc_f32_conv_packed(&g, 1, (size_t)L->c, M, G, x, wp, y,
                                                        &ep, scratch, NULL));
                if (tp2 < tp) tp = tp2;
                snprintf(first, sizeof first, "%.1f", flops / tf * 1e-9);
                printf("%-36s %10.1f %10.1f %10.1f %10s (us: %.1f)\n", L->name, tp * 1e6,
                       flops / t * 1e-9, flops / tp * 1e-9, first, tf * 1e6);
                tp = tf;    /* the total counts what generated code runs */
                free(wf), free(sf);
            } else if (onnxcc_conv_wino_use(&G3, (size_t)L->c, M, G)) {
                /* Winograd, then the packed GEMM path again beside it; GFLOP/s counts the
                 * direct convolution's operations (the `wino` column is an effective rate),
                 * and the largest difference from the packed path's output is printed. */
                const int tile = onnxcc_conv_wino_tile(&G3);
                float *wu = xalloc(onnxcc_conv_wino_floats(tile, M, (size_t)L->c) * 4);
                onnxcc_conv_wino_pack(w, M, (size_t)L->c, tile, wu);
                void *sw = xalloc(onnxcc_f32_conv_wino_scratch_bytes(&G3, (size_t)L->c, M));
                float *yw = xalloc(ny * 4);
                double tw, tp2, err = 0, big = 0;
                TIME_MEDIAN(tw, onnxcc_f32_conv_wino(&g, 1, (size_t)L->c, M, x, wu, yw, &ep,
                                                     sw, NULL));
                TIME_MEDIAN(tp2, onnxcc_f32_conv_packed(&g, 1, (size_t)L->c, M, G, x, wp, y,
                                                        &ep, scratch, NULL));
                if (tp2 < tp) tp = tp2;
                for (size_t i = 0; i < ny; i++) {
                    double e = y[i] > yw[i] ? y[i] - yw[i] : yw[i] - y[i];
                    err = e > err ? e : err;
                    big = y[i] > big ? y[i] : big;
                }
                printf("%-36s %10.1f %10.1f %10.1f %10s %10.1f (us: %.1f, max diff %.2g of "
                       "%.3g)\n", L->name, tp * 1e6, flops / t * 1e-9, flops / tp * 1e-9,
                       first, flops / tw * 1e-9, tw * 1e6, err, big);
                tp = tw;
                free(wu), free(sw), free(yw);
            } else {
                printf("%-36s %10.1f %10.1f %10.1f %10s\n", L->name, tp * 1e6,
                       flops / t * 1e-9, flops / tp * 1e-9, first);
            }
            total_flops += flops, total_t += tp;
            free(wp);
        }
        free(x), free(y), free(w), free(b), free(scratch);
    }
    for (size_t gi = 0; gi < sizeof gemms / sizeof gemms[0]; gi++) {
        const GemmShape *G = &gemms[gi];
        if (filter && !strstr(G->name, filter)) continue;
        size_t M = (size_t)G->m, N = (size_t)G->n, K = (size_t)G->k;
        float *a = xalloc(M * K * 4), *bm = xalloc(K * N * 4), *c = xalloc(M * N * 4);
        float *bias = xalloc(N * 4);
        fill(a, M * K, 4), fill(bm, K * N, 5), fill(bias, N, 6);
        OnnxccEpilogue ep = {.bias = {bias, 0, 1}, .act = ONNXCC_ACT_RELU, .bias_scale = 1.0f};
        double t;
        TIME_MEDIAN(t, onnxcc_f32_gemm(M, N, K, 1.0f, a, (ptrdiff_t)K, 1, bm, (ptrdiff_t)N, 1,
                                       c, (ptrdiff_t)N, &ep, NULL));
        double flops = 2.0 * (double)M * (double)N * (double)K;
        printf("%-36s %10.1f %10.1f\n", G->name, t * 1e6, flops / t * 1e-9);
        free(a), free(bm), free(c), free(bias);
    }
    if (total_t > 0) printf("%-36s %10.1f %10.1f\n", "all conv layers", total_t * 1e6,
                            total_flops / total_t * 1e-9);
    return 0;
}
