/* pack_weights.c: constant Conv, Gemm and MatMul weights rewritten in the runtime's packed
 * layouts, so that the generated code's GEMMs read them as they are.
 *
 * Requires: inferred shapes, folded constants, BatchNormalization folded and activations
 * fused (the weights are final; the fusion passes look for Conv/Gemm/MatMul weights in
 * their model layout).  Establishes:
 *  - a float Conv on a GEMM path (not the direct, depthwise case: onnxcc_conv_direct)
 *    whose W is a constant reads, as input 1, a new 1-D constant holding W in the layout
 *    of onnxcc_conv_packed_index (runtime/include/onnxcc_conv.h: per group, the packed-A
 *    layout of onnxcc_gemm.h), or, for the small planes of onnxcc_conv_use_small
 *    (kern_conv_path KERN_CONV_SMALL), as the K x out_channels matrix B(k, oc) = W[oc][k]
 *    in the packed-B layout, or, for few input channels (KERN_CONV_FIRST), in the blocks
 *    of output channels of onnxcc_conv_first_index (runtime/include/onnxcc_conv_first.h);
 *  - a float Gemm or MatMul whose B is a constant 2-D matrix reads B (transB applied) in
 *    the packed-B layout of onnxcc_packed_b_index;
 *  - such a node carries the attribute KERN_ATTR_PACKED (ops/kernel_emit.h) holding the
 *    weight's former dims, which its emitter and shape checks use.
 * The original constant is not modified: another reader still sees it, and the backend
 * emits only constants that some node reads.  Nodes that pack one weight the same way
 * share one packed copy.  The layouts are the runtime's, computed with its index
 * functions (one definition of each layout).
 *
 * Like fuse_activation, this pass is about specific ops and says so: it knows which input
 * of Conv, Gemm and MatMul is the weight and which layout their kernels take.
 */
#include <string.h>

#include "base/checked.h"
#include "onnxcc_conv.h"
#include "onnxcc_conv_first.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* How a weight is packed: as a convolution's A with `groups` groups, as B (K x N)
 * stored [K][N] or, with transB, [N][K], or for the direct kernel of few input
 * channels. */
typedef enum Layout { LAYOUT_CONV_A, LAYOUT_B, LAYOUT_B_TRANSPOSED, LAYOUT_CONV_FIRST } Layout;

typedef struct Packed {
    const Value *orig;
    Layout layout;
    int64_t groups;             /* LAYOUT_CONV_A */
    Value *packed;
} Packed;

/* The packed copies made so far, for sharing (a short list: one per weight). */
typedef struct PackList {
    Packed *items;
    int n, cap;
} PackList;

static Value *find_packed(const PackList *l, const Value *w, Layout layout, int64_t groups) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].orig == w && l->items[i].layout == layout &&
            l->items[i].groups == groups)
            return l->items[i].packed;
    return NULL;
}

static bool remember(Graph *g, PackList *l, const Packed *p, Diag *d) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        Packed *items = arena_grow(&g->arena, l->items, (size_t)l->cap, (size_t)cap,
                                   sizeof *items);
        if (!items) {
            diag_error(d, NULL, "out of memory packing weights");
            return false;
        }
        l->items = items, l->cap = cap;
    }
    l->items[l->n++] = *p;
    return true;
}

/* A new zeroed 1-D float constant of `floats` values named after w. */
static Value *packed_value(Graph *g, const Node *n, const Value *w, size_t floats, Diag *d) {
    if (floats > (size_t)INT64_MAX) {
        diag_error(d, n, "packed weights of '%s' are too large", w->name);
        return NULL;
    }
    const char *base = arena_printf(&g->arena, "%s_packed", w->name);
    const char *name = base ? ir_unique_name(g, base) : NULL;
    if (!name) {
        diag_error(d, n, "out of memory packing weights '%s'", w->name);
        return NULL;
    }
    Value *v = ir_value_new(g, name, d);
    if (!v) return NULL;
    int64_t dims[1] = {(int64_t)floats};
    ir_value_set_shape(v, DT_FLOAT, 1, dims);
    return ir_value_alloc_data(g, v, d) ? v : NULL;
}

/* W[M][kdim] (a convolution's weights, groups of M / groups rows) in the layout of
 * onnxcc_conv_packed_index. */
static Value *pack_conv(Graph *g, const Node *n, const Value *w, size_t M, size_t groups,
                        size_t kdim, Diag *d) {
    size_t rows, floats;
    if (!size_align_up(M / groups, ONNXCC_PACK_MR, &rows) || !size_mul(rows, kdim, &floats) ||
        !size_mul(floats, groups, &floats)) {
        diag_error(d, n, "packed weights of '%s' are too large", w->name);
        return NULL;
    }
    Value *v = packed_value(g, n, w, floats, d);
    if (!v) return NULL;
    const float *src = w->data;
    float *dst = v->data;
    for (size_t oc = 0; oc < M; oc++)
        for (size_t k = 0; k < kdim; k++)
            dst[onnxcc_conv_packed_index(M, groups, kdim, oc, k)] = src[oc * kdim + k];
    return v;
}

/* B (K x N; stored [K][N], or [N][K] when transposed) in the layout of
 * onnxcc_packed_b_index. */
static Value *pack_b(Graph *g, const Node *n, const Value *b, size_t K, size_t N,
                     bool transposed, Diag *d) {
    size_t cols, floats;
    if (!size_align_up(N, ONNXCC_PACK_NR, &cols) || !size_mul(cols, K, &floats)) {
        diag_error(d, n, "packed weights of '%s' are too large", b->name);
        return NULL;
    }
    Value *v = packed_value(g, n, b, floats, d);
    if (!v) return NULL;
    const float *src = b->data;
    float *dst = v->data;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            dst[onnxcc_packed_b_index(K, k, j)] = src[transposed ? j * K + k : k * N + j];
    return v;
}

/* W[M][taps] (a convolution's weights, one group) in the layout of
 * onnxcc_conv_first_index. */
static Value *pack_conv_first(Graph *g, const Node *n, const Value *w, size_t M, size_t taps,
                              Diag *d) {
    size_t rows, floats;
    if (!size_align_up(M, ONNXCC_CONV_FIRST_OC, &rows) || !size_mul(rows, taps, &floats)) {
        diag_error(d, n, "packed weights of '%s' are too large", w->name);
        return NULL;
    }
    Value *v = packed_value(g, n, w, floats, d);
    if (!v) return NULL;
    const float *src = w->data;
    float *dst = v->data;
    for (size_t oc = 0; oc < M; oc++)
        for (size_t t = 0; t < taps; t++)
            dst[onnxcc_conv_first_index(taps, oc, t)] = src[oc * taps + t];
    return v;
}

/* Whether input i of n is a constant float tensor of known shape. */
static bool const_float(const Node *n, int i) {
    const Value *v = op_input(n, i);
    return v && v->data && v->dtype == DT_FLOAT && ir_value_shape_known(v) && ir_numel(v) > 0;
}

/* Packs input 1 of n (unless a copy with that layout exists) and marks n. */
static bool pack_node(Graph *g, Node *n, PackList *l, Layout layout, int64_t groups,
                      size_t rows, size_t cols, Diag *d) {
    Value *w = n->inputs[1];
    Value *p = find_packed(l, w, layout, groups);
    if (!p) {
        p = layout == LAYOUT_CONV_A       ? pack_conv(g, n, w, rows, (size_t)groups, cols, d)
            : layout == LAYOUT_CONV_FIRST ? pack_conv_first(g, n, w, rows, cols, d)
                                          : pack_b(g, n, w, rows, cols,
                                                   layout == LAYOUT_B_TRANSPOSED, d);
        Packed entry = {w, layout, groups, p};
        if (!p || !remember(g, l, &entry, d)) return false;
    }
    if (!ir_attr_set_ints(g, n, KERN_ATTR_PACKED, w->dims, (size_t)w->rank, d)) return false;
    n->inputs[1] = p;
    return true;
}

static bool try_pack(Graph *g, Node *n, PackList *l, Diag *d) {
    if (!const_float(n, 1) || !n->inputs[0] || n->inputs[0]->dtype != DT_FLOAT) return true;
    const Value *x = n->inputs[0], *w = n->inputs[1];
    if (is_op(n, "Conv")) {
        /* Shapes were checked by Conv's infer: W [M, C / group, kernel...]. */
        int64_t groups = ir_attr_int(n, "group", 1);
        if (x->rank < 3 || onnxcc_conv_direct((size_t)x->dims[1], (size_t)groups)) return true;
        size_t M = (size_t)w->dims[0], kdim = (size_t)ir_numel(w) / M;
        switch (kern_conv_path(n)) {
        case KERN_CONV_SMALL:           /* W [M][kdim] is B stored transposed */
            return pack_node(g, n, l, LAYOUT_B_TRANSPOSED, 0, kdim, M, d);
        case KERN_CONV_FIRST:
            return pack_node(g, n, l, LAYOUT_CONV_FIRST, 0, M, kdim, d);
        case KERN_CONV_GEMM:
            break;
        }
        return pack_node(g, n, l, LAYOUT_CONV_A, groups, M, kdim, d);
    }
    if (w->rank != 2) return true;
    if (is_op(n, "Gemm")) {
        bool trans = ir_attr_int(n, "transB", 0) != 0;
        size_t K = (size_t)w->dims[trans ? 1 : 0], N = (size_t)w->dims[trans ? 0 : 1];
        return pack_node(g, n, l, trans ? LAYOUT_B_TRANSPOSED : LAYOUT_B, 0, K, N, d);
    }
    if (is_op(n, "MatMul"))
        return pack_node(g, n, l, LAYOUT_B, 0, (size_t)w->dims[0], (size_t)w->dims[1], d);
    return true;
}

bool pass_pack_weights(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    PackList list = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_pack(g, n, &list, d)) return false;
    }
    return true;
}
