/* onnxcc_pooling.h: max and average pooling (runtime/src/rt_pool.c).
 */
#ifndef ONNXCC_ONNXCC_POOLING_H
#define ONNXCC_ONNXCC_POOLING_H

#include "onnxcc_threads.h"
#include "onnxcc_types.h"

/* Pooling over x[planes][in...] into y[planes][out...] (planes = batch * channels).
 * Max pooling ignores the padding; `indices` (may be NULL) receives, as ONNX's MaxPool
 * Indices output, the flat index of each maximum in the whole input tensor, with the
 * spatial part row-major (storage_order 0) or column-major (1). */
void onnxcc_f32_maxpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int64_t *indices, int storage_order, OnnxccPool *pool);
/* Average pooling: the divisor counts the window's positions inside the input, or also
 * those in the explicit padding when count_include_pad (never those past the padding,
 * which ceil_mode may add). */
void onnxcc_f32_avgpool(const OnnxccConvGeom *g, size_t planes, const float *x, float *y,
                        int count_include_pad, OnnxccPool *pool);
/* GlobalAveragePool and GlobalMaxPool: y[p] = the mean (or the max) of x[p][0..pix) for
 * p < planes.  The mean sums in 16 interleaved partial sums (a fixed order, the same for
 * every ISA), then divides by pix. */
void onnxcc_f32_global_avgpool(size_t planes, size_t pix, const float *x, float *y,
                               OnnxccPool *pool);
void onnxcc_f32_global_maxpool(size_t planes, size_t pix, const float *x, float *y,
                               OnnxccPool *pool);

#endif
