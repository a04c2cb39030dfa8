/* onnxcc_conv_wino.h: 3x3 stride-1 convolutions by Winograd's minimal filtering,
 * F(2x2, 3x3) and F(4x4, 3x3) (runtime/src/rt_conv_wino.c).
 *
 * Each m x m block of output pixels (a tile, m = 2 or 4) is computed from the
 * (m + 2) x (m + 2) block of input pixels it reads: with the input tile d transformed to
 * V = B^T d B and each 3 x 3 kernel g to U = G g G^T ((m + 2) x (m + 2) each), the
 * output is Y = A^T (sum over input channels of U . V) A, where . multiplies element by
 * element.  For each of the (m + 2)^2 positions p of a transformed tile, the sum over
 * input channels is a matrix product: M_p[oc][tile] = sum_c U_p[oc][c] V_p[c][tile].
 * F(2x2, 3x3) does 16 / 4 = 4 multiplications per output pixel and channel pair where
 * the direct convolution does 9; F(4x4, 3x3) 36 / 16 = 2.25.  The transforms cost
 * additions (and a few multiplications by small constants), linear in the data; the
 * rounding errors grow a little (F(4x4) has constants up to 8: tests bound the
 * difference from a double-precision convolution).
 *
 * F(2x2, 3x3) (points 0, 1, -1, infinity):
 *   B^T = | 1  0 -1  0 |    G = | 1    0    0  |    A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *         | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |        | 0    0    1  |
 * F(4x4, 3x3) (points 0, 1, -1, 2, -2, infinity):
 *   B^T = | 4  0 -5  0  1  0 |    G = |  1/4     0     0  |   A^T = | 1  1  1  1  1  0 |
 *         | 0 -4 -4  1  1  0 |        | -1/6  -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
 *         | 0  4 -4 -1  1  0 |        | -1/6   1/6  -1/6  |         | 0  1  1  4  4  0 |
 *         | 0 -2 -1  2  1  0 |        |  1/24  1/12  1/6  |         | 0  1 -1  8 -8  1 |
 *         | 0  2 -1 -2  1  0 |        |  1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |        |  0     0     1    |
 *
 * The weights are transformed and packed at compile time (onnxcc_conv_wino_pack, in
 * double precision): U_p is the GEMM's left operand in the packed-A layout of
 * onnxcc_gemm.h, so the products run the same micro-kernels as every other GEMM.
 */
#ifndef ONNXCC_ONNXCC_CONV_WINO_H
#define ONNXCC_ONNXCC_CONV_WINO_H

#include "onnxcc_gemm.h"
#include "onnxcc_threads.h"
#include "onnxcc_types.h"

#define ONNXCC_WINO_MAX_IN 6    /* input pixels per tile side: tile + 3 - 1 */
#define ONNXCC_WINO_MAX_POS 36  /* positions of a transformed tile: one GEMM each */
/* Bytes of the transformed inputs and products of one block of tiles: with 2 MiB of L2
 * per core, the block's V and M stay there while the products run. */
#define ONNXCC_WINO_BLOCK_BYTES (1u << 20)
/* The compiler takes this path only when the plan's scratch is at most this many floats
 * (64 MiB): a block is at least one row of tiles, which on very wide planes with many
 * channels outgrows every cache (resnet's layers need under 1.5 MiB). */
#define ONNXCC_WINO_MAX_SCRATCH_FLOATS ((size_t)1 << 24)

/* Whether a convolution takes this path (compiler and runtime agree through it): one
 * group, 2-D (the outer axis of onnxcc_geom3 trivial), a 3 x 3 kernel with stride and
 * dilation 1, any padding, at least 16 input and 16 output channels (with fewer, the
 * products are too thin to pay for the transforms) and at least 128 output pixels, 4 in
 * each direction.  On smaller planes the transformed weights (16/9 of the kernel's) are
 * used by too few tiles: inside resnet50, whose weights stream from memory, the 3 x 3
 * 512 -> 512 layers on 7 x 7 took 2.62 ms with F(2x2, 3x3) and 1.95 without, while
 * those on 14 x 14 took 1.30 with and 1.67 without (bench/kernels/node_profile.py).
 * In isolation: bench/kernels/conv_layers.c against onnxcc_f32_conv_packed. */
static inline int onnxcc_conv_wino_use(const OnnxccGeom3 *G, size_t in_channels,
                                       size_t out_channels, size_t groups) {
    return groups == 1 && in_channels >= 16 && out_channels >= 16 && G->in[0] == 1 &&
           G->out[0] == 1 && G->kernel[0] == 1 && G->kernel[1] == 3 && G->kernel[2] == 3 &&
           G->stride[1] == 1 && G->stride[2] == 1 && G->dilation[1] == 1 &&
           G->dilation[2] == 1 && G->out[1] >= 4 && G->out[2] >= 4 &&
           G->out[1] * G->out[2] >= 128;
}

/* The output tile side of a convolution of onnxcc_conv_wino_use: 4 where the output
 * planes are at least 16 x 16 (F(4x4, 3x3): fewer multiplications, and few tiles stick
 * out of the plane), else 2.  Measured with bench/kernels/conv_layers.c. */
static inline int onnxcc_conv_wino_tile(const OnnxccGeom3 *G) {
    return G->out[1] >= 16 && G->out[2] >= 16 ? 4 : 2;
}

/* Positions of a transformed tile (one GEMM each): (tile + 2)^2, 16 or 36. */
static inline size_t onnxcc_conv_wino_positions(int tile) {
    return (size_t)(tile + 2) * (size_t)(tile + 2);
}

/* The weights: for each position p, U_p = the out_channels x in_channels matrix of
 * position p of G g G^T, in the packed-A layout (onnxcc_packed_a_index), at
 * p * onnxcc_packed_a_floats(out_channels, in_channels) floats. */
static inline size_t onnxcc_conv_wino_floats(int tile, size_t out_channels,
                                             size_t in_channels) {
    return onnxcc_conv_wino_positions(tile) * onnxcc_packed_a_floats(out_channels, in_channels);
}

/* u (onnxcc_conv_wino_floats floats) = W[out_channels][in_channels][3][3] transformed for
 * the tile side `tile` (2 or 4) and packed as above, each value computed in double and
 * rounded once; zeros in the padding rows of the last panel. */
static inline void onnxcc_conv_wino_pack(const float *w, size_t out_channels,
                                         size_t in_channels, int tile, float *u) {
    static const double G2[4][3] = {
        {1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0.0, 0.0, 1.0}};
    static const double G4[6][3] = {
        {1.0 / 4, 0.0, 0.0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
        {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0.0, 0.0, 1.0}};
    const int n = tile + 2;
    const double(*G)[3] = tile == 4 ? G4 : G2;
    const size_t step = onnxcc_packed_a_floats(out_channels, in_channels);
    const size_t positions = onnxcc_conv_wino_positions(tile);
    for (size_t i = 0; i < positions * step; i++) u[i] = 0.0f;
    for (size_t oc = 0; oc < out_channels; oc++)
        for (size_t c = 0; c < in_channels; c++) {
            const float *g = w + (oc * in_channels + c) * 9;
            double gt[ONNXCC_WINO_MAX_IN][3];   /* G g */
            for (int a = 0; a < n; a++)
                for (int l = 0; l < 3; l++)
                    gt[a][l] = G[a][0] * g[l] + G[a][1] * g[3 + l] + G[a][2] * g[6 + l];
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) {
                    double v = gt[a][0] * G[b][0] + gt[a][1] * G[b][1] + gt[a][2] * G[b][2];
                    size_t p = (size_t)(a * n + b);
                    u[p * step + onnxcc_packed_a_index(in_channels, oc, c)] = (float)v;
                }
        }
}

/* How the tiles are cut into blocks, and where each block's buffers lie in the scratch
 * (floats from its start):
 *  - tiles: tiles_y x tiles_x tiles of tile x tile output pixels (onnxcc_conv_wino_tile;
 *    the last row and column may stick out of the output); a block is block_rows rows of
 *    tiles, at most block_tiles tiles;
 *  - V: `positions` packed-B matrices (onnxcc_packed_b_index, K = in_channels, N = the
 *    block's tiles), V_p at v + p * v_step;
 *  - M: `positions` row-major out_channels x tiles products, M_p at m + p * m_step, row
 *    stride the block's tiles rounded up to whole 32-column panels (the GEMMs compute
 *    whole panels, the padding columns of V being zeros: a ragged last sliver of 24 or
 *    17 columns cost more than a whole one);
 * floats is the total, 0 if it does not fit in a size_t. */
typedef struct OnnxccWinoPlan {
    int tile;
    size_t positions, tiles_y, tiles_x, block_rows, block_tiles;
    size_t v, v_step, m, m_step;
    size_t floats;
} OnnxccWinoPlan;

/* n rounded up to whole 4 KiB pages of floats, plus 256 bytes (overflow: no change, which
 * the plan's later checks catch). */
static inline size_t onnxcc_wino_spread(size_t n) {
    const size_t page = 1024, skew = 64;
    return n > (size_t)-1 - 2 * page ? n : (n + page - 1) / page * page + skew;
}

static inline void onnxcc_conv_wino_plan(const OnnxccGeom3 *G, size_t in_channels,
                                         size_t out_channels, OnnxccWinoPlan *pl) {
    const size_t out_y = (size_t)G->out[1], out_x = (size_t)G->out[2];
    pl->tile = onnxcc_conv_wino_tile(G);
    pl->positions = onnxcc_conv_wino_positions(pl->tile);
    pl->tiles_y = (out_y + (size_t)pl->tile - 1) / (size_t)pl->tile;
    pl->tiles_x = (out_x + (size_t)pl->tile - 1) / (size_t)pl->tile;
    /* Bytes per tile of V and M; the block's rows: as many as fit, at least one. */
    const size_t per_tile = pl->positions * (in_channels + out_channels) * sizeof(float);
    size_t rows = per_tile ? ONNXCC_WINO_BLOCK_BYTES / per_tile / pl->tiles_x : 1;
    rows = rows < 1 ? 1 : rows > pl->tiles_y ? pl->tiles_y : rows;
    pl->block_rows = rows;
    pl->block_tiles = rows * pl->tiles_x;
    const size_t panels = (pl->block_tiles + ONNXCC_PACK_NR - 1) / ONNXCC_PACK_NR;
    size_t m_room, total;
    int over = __builtin_mul_overflow(panels * ONNXCC_PACK_NR, in_channels, &pl->v_step);
    over |= __builtin_mul_overflow(out_channels, panels * ONNXCC_PACK_NR, &pl->m_step);
    /* The matrices of V (and of M) are written and read side by side: steps of a whole
     * number of 4 KiB pages would put them all in the same L1 sets, 16 or 36 streams in
     * 12 ways (the input transform ran 4.6 times slower).  A step of whole pages plus 256
     * bytes spreads them over the sets, 64-byte aligned. */
    pl->v_step = onnxcc_wino_spread(pl->v_step);
    pl->m_step = onnxcc_wino_spread(pl->m_step);
    over |= __builtin_mul_overflow(pl->m_step, pl->positions, &m_room);
    over |= __builtin_mul_overflow(pl->v_step, pl->positions, &total);
    pl->v = 0;
    pl->m = total;
    over |= __builtin_add_overflow(total, m_room, &total);
    pl->floats = over ? 0 : total;
}

/* Bytes of scratch onnxcc_f32_conv_wino needs (onnxcc_conv_wino_plan's floats); it does
 * not depend on the thread count. */
static inline size_t onnxcc_f32_conv_wino_scratch_bytes(const OnnxccGeom3 *G,
                                                        size_t in_channels,
                                                        size_t out_channels) {
    OnnxccWinoPlan pl;
    onnxcc_conv_wino_plan(G, in_channels, out_channels, &pl);
    return pl.floats * sizeof(float);
}

/* y[batch][out_channels][out...] = epilogue(conv(x, w)) for a convolution of
 * onnxcc_conv_wino_use; wu holds the weights as above, for onnxcc_conv_wino_tile's tile (64-byte aligned for speed).  In
 * ep (NULL: none): bias and PRelu slope are per output channel, channel oc's value at
 * ptr[oc * row_stride] (col_stride ignored); bias_scale applies as in the GEMM;
 * residual, if any, is a tensor of y's shape (its strides are ignored) and may alias y
 * exactly.  scratch holds onnxcc_f32_conv_wino_scratch_bytes() bytes (64-byte aligned
 * for speed).  x and y must not overlap.  With a pool, each step of a block (input
 * transform, products, output transform) is split across its threads; every output is
 * computed the same way whatever the thread count. */
void onnxcc_f32_conv_wino(const OnnxccConvGeom *g, size_t batch, size_t in_channels,
                          size_t out_channels, const float *x, const float *wu, float *y,
                          const OnnxccEpilogue *ep, void *scratch, OnnxccPool *pool);

#endif
