/* kernel_emit.h: emitter pieces shared by the ops that call runtime kernels (conv.c,
 * gemm.c, pool.c): the initialisers of the runtime's OnnxccEpilogue and OnnxccConvGeom. */
#ifndef ONNXCC_KERNEL_EMIT_H
#define ONNXCC_KERNEL_EMIT_H

#include "backend/emitter.h"
#include "ir/shape.h"

/* Writes `const OnnxccEpilogue NAME = {...};` from node->epi (gemm.c).  bias/residual
 * are operand initialisers ("{x2, 1, 0}") or NULL; slope likewise for a fused PRelu. */
void kern_emit_epilogue(Emitter *e, const Node *n, const char *name, const char *bias,
                        float bias_scale, const char *residual, const char *slope);
/* Writes `const OnnxccConvGeom geom = {...};` (conv.c). */
void kern_emit_geom(Emitter *e, const SpatialGeom *sg);

#endif
