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
 *    of output channels of onnxcc_conv_first_index (runtime/include/onnxcc_conv_first.h),
 *    or, for the 3x3 stride-1 convolutions of KERN_CONV_WINO, transformed for Winograd's
 *    F(2x2, 3x3) into 16 packed matrices (onnxcc_conv_wino_pack,
 *    runtime/include/onnxcc_conv_wino.h; off with --no-winograd), or, for
 *    KERN_CONV_BLOCKED, in blocks of 32 output x 16 input channels
 *    (onnxcc_conv_blocked_index, runtime/include/onnxcc_conv_blocked.h); the Conv records the
 *    kernel chosen in the attribute KERN_ATTR_PATH;
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
#include "onnxcc_conv_blocked.h"
#include "onnxcc_conv_first.h"
#include "onnxcc_conv_wino.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"
#include "passes/pass.h"

static bool is_op(const Node *n, const char *type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, type) == 0;
}

/* How a weight is packed: as a convolution's A with `groups` groups, as B (K x N)
 * stored [K][N] or, with transB, [N][K], for the direct kernel of few input channels,
 * or transformed for Winograd's kernel. */
typedef enum Layout {
    LAYOUT_CONV_A, LAYOUT_B, LAYOUT_B_TRANSPOSED, LAYOUT_CONV_FIRST, LAYOUT_CONV_WINO,
    LAYOUT_CONV_BLOCKED
} Layout;

typedef struct Packed {
    const Value *orig;
    Layout layout;
    int64_t param;              /* LAYOUT_CONV_A: groups; LAYOUT_CONV_WINO: the tile side */
    Value *packed;
} Packed;

/* The packed copies made so far, for sharing (a short list: one per weight). */
typedef struct PackList {
    Packed *items;
    int n, cap;
} PackList;

static Value *find_packed(const PackList *l, const Value *w, Layout layout, int64_t param) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].orig == w && l->items[i].layout == layout &&
            l->items[i].param == param)
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

/* W as stored (rows x cols, row-major) and the layout it is packed in. */
typedef struct PackShape {
    Layout layout;
    size_t rows, cols;
    size_t param;               /* LAYOUT_CONV_A: groups; LAYOUT_CONV_WINO: the tile side;
                                   LAYOUT_CONV_BLOCKED: kernel taps */
} PackShape;

/* Floats of the packed copy: whole blocks of the layout's width (8-row panels per
 * group, 32-column panels of B, 8-channel blocks), overflow-checked. */
static bool packed_floats(const PackShape *s, size_t *out) {
    size_t floats_cin;
    switch (s->layout) {
    case LAYOUT_CONV_A:         /* W[M][kdim], rows M / groups per group */
        return size_align_up(s->rows / s->param, ONNXCC_PACK_MR, out) &&
               size_mul(*out, s->cols, out) && size_mul(*out, s->param, out);
    case LAYOUT_B:              /* B[K][N] */
        return size_align_up(s->cols, ONNXCC_PACK_NR, out) && size_mul(*out, s->rows, out);
    case LAYOUT_B_TRANSPOSED:   /* B stored [N][K] */
        return size_align_up(s->rows, ONNXCC_PACK_NR, out) && size_mul(*out, s->cols, out);
    case LAYOUT_CONV_FIRST:     /* W[M][taps] */
        return size_align_up(s->rows, ONNXCC_CONV_FIRST_OC, out) && size_mul(*out, s->cols, out);
    case LAYOUT_CONV_BLOCKED:   /* W[M][C * taps]: whole blocks of 32 x 16 channels */
        return size_align_up(s->rows, ONNXCC_BLOCKED_CO, out) &&
               size_align_up(s->cols / s->param, ONNXCC_BLOCKED_CI, &floats_cin) &&
               size_mul(*out, floats_cin, out) && size_mul(*out, s->param, out);
    case LAYOUT_CONV_WINO:      /* W[M][C * 9]: 16 or 36 packed-A matrices of M x C */
        return size_align_up(s->rows, ONNXCC_PACK_MR, out) &&
               size_mul(*out, s->cols / 9, out) &&
               size_mul(*out, onnxcc_conv_wino_positions((int)s->param), out);
    }
    return false;
}

/* Where element (r, c) of W as stored goes: the runtime's index function of the layout
 * (onnxcc_conv_packed_index, onnxcc_packed_b_index, onnxcc_conv_first_index). */
static size_t packed_index(const PackShape *s, size_t r, size_t c) {
    switch (s->layout) {
    case LAYOUT_CONV_A: return onnxcc_conv_packed_index(s->rows, s->param, s->cols, r, c);
    case LAYOUT_B: return onnxcc_packed_b_index(s->rows, r, c);
    case LAYOUT_B_TRANSPOSED: return onnxcc_packed_b_index(s->cols, c, r);
    case LAYOUT_CONV_FIRST: return onnxcc_conv_first_index(s->cols, r, c);
    case LAYOUT_CONV_BLOCKED:
        return onnxcc_conv_blocked_index(s->cols / s->param, s->param, r, c / s->param,
                                         c % s->param);
    case LAYOUT_CONV_WINO: break;       /* a transform, not a permutation: pack_weight */
    }
    return 0;
}

/* A copy of w in the layout of s (zeros in the padding of partial blocks). */
static Value *pack_weight(Graph *g, const Node *n, const Value *w, const PackShape *s,
                          Diag *d) {
    size_t floats;
    if (!packed_floats(s, &floats)) {
        diag_error(d, n, "packed weights of '%s' are too large", w->name);
        return NULL;
    }
    Value *v = packed_value(g, n, w, floats, d);
    if (!v) return NULL;
    const float *src = w->data;
    float *dst = v->data;
    if (s->layout == LAYOUT_CONV_WINO) {
        onnxcc_conv_wino_pack(src, s->rows, s->cols / 9, (int)s->param, dst);
        return v;
    }
    for (size_t r = 0; r < s->rows; r++)
        for (size_t c = 0; c < s->cols; c++) dst[packed_index(s, r, c)] = src[r * s->cols + c];
    return v;
}

/* Whether input i of n is a constant float tensor of known shape. */
static bool const_float(const Node *n, int i) {
    const Value *v = op_input(n, i);
    return v && v->data && v->dtype == DT_FLOAT && ir_value_shape_known(v) && ir_numel(v) > 0;
}

/* Packs input 1 of n, W stored as rows x cols (unless a copy with that layout exists),
 * and marks n. */
static bool pack_node(Graph *g, Node *n, PackList *l, Layout layout, int64_t param,
                      size_t rows, size_t cols, Diag *d) {
    Value *w = n->inputs[1];
    Value *p = find_packed(l, w, layout, param);
    if (!p) {
        PackShape shape = {layout, rows, cols, (size_t)param};
        p = pack_weight(g, n, w, &shape, d);
        Packed entry = {w, layout, param, p};
        if (!p || !remember(g, l, &entry, d)) return false;
    }
    if (!ir_attr_set_ints(g, n, KERN_ATTR_PACKED, w->dims, (size_t)w->rank, d)) return false;
    n->inputs[1] = p;
    return true;
}

static bool try_pack(Graph *g, Node *n, PackList *l, const PassOptions *opt, Diag *d) {
    if (!const_float(n, 1) || !n->inputs[0] || n->inputs[0]->dtype != DT_FLOAT) return true;
    const Value *x = n->inputs[0], *w = n->inputs[1];
    if (is_op(n, "Conv")) {
        /* Shapes were checked by Conv's infer: W [M, C / group, kernel...]. */
        int64_t groups = ir_attr_int(n, "group", 1);
        if (x->rank < 3 || onnxcc_conv_direct((size_t)x->dims[1], (size_t)groups)) return true;
        size_t M = (size_t)w->dims[0], kdim = (size_t)ir_numel(w) / M;
        KernConvPath path = kern_conv_choose(n, opt->winograd);
        if (!ir_attr_set_int(g, n, KERN_ATTR_PATH, path, d)) return false;
        switch (path) {
        case KERN_CONV_SMALL:           /* W [M][kdim] is B (K = kdim) stored transposed */
            return pack_node(g, n, l, LAYOUT_B_TRANSPOSED, 0, M, kdim, d);
        case KERN_CONV_FIRST:
            return pack_node(g, n, l, LAYOUT_CONV_FIRST, 0, M, kdim, d);
        case KERN_CONV_BLOCKED:         /* W [M][C * taps] */
            return pack_node(g, n, l, LAYOUT_CONV_BLOCKED, (int64_t)(kdim / (size_t)w->dims[1]),
                             M, kdim, d);
        case KERN_CONV_WINO:            /* W [M][C * 3 * 3], for the tile side */
            return pack_node(g, n, l, LAYOUT_CONV_WINO, kern_conv_wino_tile(n), M, kdim, d);
        case KERN_CONV_GEMM:
            break;
        }
        return pack_node(g, n, l, LAYOUT_CONV_A, groups, M, kdim, d);
    }
    if (w->rank != 2) return true;
    if (is_op(n, "Gemm")) {
        bool trans = ir_attr_int(n, "transB", 0) != 0;    /* W [N][K], else [K][N] */
        return pack_node(g, n, l, trans ? LAYOUT_B_TRANSPOSED : LAYOUT_B, 0,
                         (size_t)w->dims[0], (size_t)w->dims[1], d);
    }
    if (is_op(n, "MatMul"))
        return pack_node(g, n, l, LAYOUT_B, 0, (size_t)w->dims[0], (size_t)w->dims[1], d);
    return true;
}

bool pass_pack_weights(Graph *g, const PassOptions *opt, Diag *d) {
    PackList list = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (!n->dead && !try_pack(g, n, &list, opt, d)) return false;
    }
    return true;
}
