/* kernel_emit.h: emitter pieces shared by the ops that call runtime kernels (conv.c,
 * gemm.c, pool.c): the initialisers of the runtime's OnnxccEpilogue and OnnxccConvGeom,
 * and how a node whose weights were packed at compile time says so. */
#ifndef ONNXCC_KERNEL_EMIT_H
#define ONNXCC_KERNEL_EMIT_H

#include <string.h>

#include "backend/emitter.h"
#include "ir/shape.h"

/* Writes `const OnnxccEpilogue NAME = {...};` from node->epi (gemm.c).  bias/residual
 * are operand initialisers ("{x2, 1, 0}") or NULL; slope likewise for a fused PRelu. */
void kern_emit_epilogue(Emitter *e, const Node *n, const char *name, const char *bias,
                        float bias_scale, const char *residual, const char *slope);
/* Writes `const OnnxccConvGeom geom = {...};` (conv.c). */
void kern_emit_geom(Emitter *e, const SpatialGeom *sg);

/* The internal attribute that the pack_weights pass (compiler/passes/pack_weights.c) sets
 * on a Conv, Gemm or MatMul whose weight input (input 1) it replaced by a copy in the
 * runtime's packed layout, a 1-D constant: the dims the weight had.  The ops' infer
 * rejects a model node that carries it, so only the pass can set it. */
#define KERN_ATTR_PACKED "onnxcc.packed_weight_dims"

/* The kernel a Conv with constant weights runs, hence the layout the pack_weights pass
 * writes its W in (conv.c decides, from the runtime's predicates):
 *  - KERN_CONV_GEMM: the left operand of its GEMM (onnxcc_conv_packed_index);
 *  - KERN_CONV_SMALL: the right one, B(k, oc) = W[oc][k] (onnxcc_packed_b_index), for the
 *    small-plane kernel of onnxcc_conv_small.h;
 *  - KERN_CONV_FIRST: blocks of output channels (onnxcc_conv_first_index), for the direct
 *    kernel of few input channels of onnxcc_conv_first.h;
 *  - KERN_CONV_BLOCKED: blocks of 32 output x 16 input channels
 *    (onnxcc_conv_blocked_index), for the direct register-tile kernel of
 *    onnxcc_conv_blocked.h;
 *  - KERN_CONV_WINO: the 16 or 36 transformed kernels of Winograd's F(2x2, 3x3) or
 *    F(4x4, 3x3), each a packed GEMM operand (onnxcc_conv_wino_pack), for the 3x3
 *    stride-1 kernel of onnxcc_conv_wino.h.
 * Not for the depthwise case (onnxcc_conv_direct), whose weights are not packed.
 * kern_conv_choose is the rule (winograd false: never KERN_CONV_WINO, the
 * --no-winograd option); the pass records its choice in the attribute KERN_ATTR_PATH,
 * which kern_conv_path reads back for the emitter. */
typedef enum KernConvPath {
    KERN_CONV_GEMM, KERN_CONV_SMALL, KERN_CONV_FIRST, KERN_CONV_WINO, KERN_CONV_BLOCKED
} KernConvPath;
#define KERN_ATTR_PATH "onnxcc.conv_path"
KernConvPath kern_conv_choose(const Node *n, bool winograd);
/* The output tile side (2 or 4) of a Conv on KERN_CONV_WINO: onnxcc_conv_wino_tile. */
int kern_conv_wino_tile(const Node *n);
static inline KernConvPath kern_conv_path(const Node *n) {
    int64_t p = ir_attr_int(n, KERN_ATTR_PATH, KERN_CONV_GEMM);
    return p >= KERN_CONV_GEMM && p <= KERN_CONV_BLOCKED ? (KernConvPath)p : KERN_CONV_GEMM;
}

/* Whether n's weight input is packed. */
static inline bool kern_is_packed(const Node *n) { return ir_attr(n, KERN_ATTR_PACKED) != NULL; }

/* Input 1 of n as the op's shape checks must see it: the value itself, or, when packed,
 * a copy in *buf with the dims the weight had before packing (its data is the packed
 * one: read it only through the runtime's layout). */
static inline const Value *kern_weight(const Node *n, Value *buf) {
    const Value *w = n->inputs[1];
    const int64_t *dims;
    size_t rank = ir_attr_ints(n, KERN_ATTR_PACKED, &dims);
    if (!kern_is_packed(n) || rank < 1 || rank > IR_MAX_RANK) return w;
    *buf = *w;
    buf->rank = (int)rank;
    memcpy(buf->dims, dims, rank * sizeof *dims);
    return buf;
}

#endif
