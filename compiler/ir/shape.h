/* shape.h: the shape arithmetic every op shares: broadcasting, strides, axes,
 * convolution/pooling output sizes and auto_pad.  Ops call these instead of writing
 * their own. */
#ifndef ONNXCC_SHAPE_H
#define ONNXCC_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/graph.h"

/* numpy broadcasting of a (rank ra) and b (rank rb) into out (rank max(ra, rb)).
 * false if incompatible; unknown dims (-1) propagate. */
bool shape_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int *rank_out,
                     int64_t *out);
/* Row-major strides (in elements) of dims. */
void shape_strides(int rank, const int64_t *dims, int64_t *strides);
/* Strides of an input of rank r_in broadcast to an output of rank r_out: 0 where the
 * input's dim is 1 (or absent), the input's own stride otherwise; aligned right. */
void shape_broadcast_strides(int r_in, const int64_t *in_dims, int r_out, int64_t *strides);
/* Normalises an axis in [-rank, rank) (or [-rank-1, rank] when allow_end) to [0, rank).
 * false if out of range. */
bool shape_axis(int64_t axis, int rank, bool allow_end, int *out);
int64_t shape_numel(int rank, const int64_t *dims);   /* -1 on unknown or overflow */

/* Convolution / pooling geometry for one spatial axis. */
typedef struct SpatialGeom {
    int n_spatial;                      /* 1..3 */
    int64_t in[3], out[3];              /* spatial input and output sizes */
    int64_t kernel[3], stride[3], dilation[3];
    int64_t pad_begin[3], pad_end[3];
} SpatialGeom;

/* Reads kernel_shape (or takes kernel from weight dims), strides, dilations, pads and
 * auto_pad of a Conv/ConvTranspose/pool node and computes output sizes.  ceil_mode as in
 * pooling.  Records an error on n and returns false for bad attributes. */
bool shape_spatial_geom(const Node *n, int n_spatial, const int64_t *in_spatial,
                        const int64_t *kernel, bool ceil_mode, SpatialGeom *g, Diag *d);

#endif
