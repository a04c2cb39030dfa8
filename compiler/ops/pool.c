/* pool.c: MaxPool, AveragePool, LpPool, MaxUnpool, GlobalAveragePool and GlobalMaxPool.
 *
 * The windowed pools resolve their geometry (pads, strides, dilations, auto_pad,
 * ceil_mode) with shape_spatial_geom().  float32 MaxPool and AveragePool emit one call to
 * the runtime's onnxcc_f32_maxpool / onnxcc_f32_avgpool; the global pools one call to
 * onnxcc_f32_global_avgpool / onnxcc_f32_global_maxpool.  The rarer cases (MaxPool on
 * double, int8 or uint8, with its Indices; LpPool) emit a plain loop nest over the window
 * instead (emit_window_loop), which keeps the float32 kernels untouched.  MaxUnpool
 * scatters X into zeros at the positions its indices name.
 */
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ir/shape.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"
#include "ops/op_util.h"


static const DType float_only[] = { DT_FLOAT, DT_UNDEFINED };
static const DType maxpool_types[] = { DT_FLOAT, DT_DOUBLE, DT_INT8, DT_UINT8, DT_UNDEFINED };
static const DType lppool_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

/* X: one of `types`, rank 3 to 5, no empty dim. */
static bool pool_check_x(const Node *n, const char *op, const DType *types, Diag *d) {
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    bool ok = false;
    for (const DType *t = types; *t != DT_UNDEFINED; t++) ok = ok || x->dtype == *t;
    if (!ok && types == float_only) {
        diag_error(d, n, "only float32 is supported for %s (input X is %s)", op,
                   dtype_name(x->dtype));
        return false;
    }
    if (!ok) {
        char list[128] = "";
        size_t at = 0;
        for (const DType *t = types; *t != DT_UNDEFINED && at < sizeof list; t++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", at ? ", " : "",
                                   dtype_name(*t));
        diag_error(d, n, "%s supports %s only (input X is %s)", op, list, dtype_name(x->dtype));
        return false;
    }
    if (x->rank < 3 || x->rank > 5) {
        diag_error(d, n, "input X must have rank 3 to 5 (1-D to 3-D pooling), got %d",
                   x->rank);
        return false;
    }
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] < 1) {
            diag_error(d, n, "input X must have no empty dimension");
            return false;
        }
    }
    return true;
}

/* Geometry of a windowed pool: kernel_shape (required), ceil_mode, the rest via
 * shape_spatial_geom. */
static bool pool_geom(const Node *n, SpatialGeom *sg, Diag *d) {
    const Value *x = n->inputs[0];
    int ns = x->rank - 2;
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk == 0) {
        diag_error(d, n, "attribute kernel_shape is required");
        return false;
    }
    if (nk != (size_t)ns) {
        diag_error(d, n, "kernel_shape has %zu values, expected %d", nk, ns);
        return false;
    }
    int64_t ceil_mode = ir_attr_int(n, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1) {
        diag_error(d, n, "ceil_mode must be 0 or 1, got %lld", (long long)ceil_mode);
        return false;
    }
    return shape_spatial_geom(n, ns, x->dims + 2, ks, ceil_mode != 0, sg, d);
}

static void set_pool_output(Value *v, DType t, const Value *x, const SpatialGeom *sg) {
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < sg->n_spatial; i++) dims[2 + i] = sg->out[i];
    ir_value_set_shape(v, t, x->rank, dims);
}

static long long planes_of(const Value *x) { return (long long)(x->dims[0] * x->dims[1]); }

/* ---- the emitted window loop (MaxPool off float32, LpPool) ---------------------------- */

typedef enum WinKind { WIN_MAX, WIN_LP } WinKind;

/* "(a * 5 + b) * 7 + c" over the variables var0.. of ns dims. */
static void row_major(char *s, size_t size, const char *var, int ns, const int64_t *dims) {
    size_t at = (size_t)snprintf(s, size, "%s0", var);
    for (int i = 1; i < ns && at < size; i++) {
        char prev[256];
        snprintf(prev, sizeof prev, "%s", s);
        at = (size_t)snprintf(s, size, i == 1 ? "%s * %lld + %s%d" : "(%s) * %lld + %s%d",
                              prev, (long long)dims[i], var, i);
    }
}

/* The same, column-major (MaxPool's storage_order 1). */
static void col_major(char *s, size_t size, const char *var, int ns, const int64_t *dims) {
    size_t at = (size_t)snprintf(s, size, "%s%d", var, ns - 1);
    for (int i = ns - 2; i >= 0 && at < size; i--) {
        char prev[256];
        snprintf(prev, sizeof prev, "%s", s);
        at = (size_t)snprintf(s, size, i == ns - 2 ? "%s * %lld + %s%d" : "(%s) * %lld + %s%d",
                              prev, (long long)dims[i], var, i);
    }
}

/* For every (image, channel) plane and output position, a loop over the window that skips
 * the padding: MaxPool keeps the largest value (the first one on ties) and where asked its
 * flat index in X; LpPool sums |x|^p (padding counts as 0) and takes the p-th root. */
static void emit_window_loop(Emitter *e, const Node *n, const SpatialGeom *sg, WinKind kind,
                             int64_t p) {
    const Value *x = n->inputs[0];
    const int ns = sg->n_spatial;
    const DType t = x->dtype;
    const char *T = dtype_ctype(t), *f = t == DT_DOUBLE ? "" : "f";
    const bool with_indices = kind == WIN_MAX && n->n_outputs > 1 && n->outputs[1];
    int64_t in_plane = 1, out_plane = 1;
    for (int i = 0; i < ns; i++) in_plane *= sg->in[i], out_plane *= sg->out[i];
    char sx[128], xi[256], yo[256], lit[40];
    emit_line(e, "/* %s of %s, window loop: planes of %lld -> %lld */", n->op_type,
              ou_shape(sx, sizeof sx, x), (long long)in_plane, (long long)out_plane);
    emit_open(e, "for (size_t pl = 0; pl < %lld; pl++)", planes_of(x));
    emit_line(e, "const %s *xp = x0 + pl * %lld;", T, (long long)in_plane);
    for (int i = 0; i < ns; i++)
        emit_open(e, "for (int64_t o%d = 0; o%d < %lld; o%d++)", i, i, (long long)sg->out[i], i);
    if (kind == WIN_MAX) {
        const char *lowest = t == DT_DOUBLE ? "-INFINITY" : t == DT_INT8 ? "INT8_MIN" : "0";
        emit_line(e, "%s acc = %s;", T, lowest);
        emit_line(e, "int64_t arg = -1;   /* flat offset of the maximum in the plane */");
    } else {
        emit_line(e, "%s acc = 0;", T);
    }
    for (int i = 0; i < ns; i++) {
        emit_open(e, "for (int64_t k%d = 0; k%d < %lld; k%d++)", i, i, (long long)sg->kernel[i], i);
        emit_line(e, "const int64_t i%d = o%d * %lld - %lld + k%d * %lld;", i, i,
                  (long long)sg->stride[i], (long long)sg->pad_begin[i], i,
                  (long long)sg->dilation[i]);
        emit_line(e, "if (i%d < 0 || i%d >= %lld) continue;   /* padding */", i, i,
                  (long long)sg->in[i]);
    }
    row_major(xi, sizeof xi, "i", ns, sg->in);
    emit_line(e, "const int64_t at = %s;", xi);
    emit_line(e, "const %s v = xp[at];", T);
    if (kind == WIN_MAX) {
        emit_open(e, "if (arg < 0 || v > acc)");
        emit_line(e, "acc = v;");
        if (with_indices && ir_attr_int(n, "storage_order", 0) == 1) {
            col_major(xi, sizeof xi, "i", ns, sg->in);
            emit_line(e, "arg = %s;   /* storage_order 1: column-major */", xi);
        } else {
            emit_line(e, "arg = at;");
        }
        emit_close(e);
    } else if (p == 1) {
        emit_line(e, "acc += fabs%s(v);", f);
    } else if (p == 2) {
        emit_line(e, "acc += v * v;");
    } else {
        emit_line(e, "acc += pow%s(fabs%s(v), %s);", f, f,
                  t == DT_DOUBLE ? c_double(lit, (double)p) : c_float(lit, (float)p));
    }
    for (int i = 0; i < ns; i++) emit_close(e);
    row_major(yo, sizeof yo, "o", ns, sg->out);
    emit_line(e, "const size_t yat = pl * %lld + (size_t)(%s);", (long long)out_plane, yo);
    if (kind == WIN_MAX) {
        emit_line(e, "y0[yat] = acc;");
        if (with_indices)
            emit_line(e, "y1[yat] = arg < 0 ? -1 : (int64_t)pl * %lld + arg;", (long long)in_plane);
    } else if (p == 1) {
        emit_line(e, "y0[yat] = acc;");
    } else if (p == 2) {
        emit_line(e, "y0[yat] = sqrt%s(acc);", f);
    } else {
        emit_line(e, "y0[yat] = pow%s(acc, %s);", f,
                  t == DT_DOUBLE ? c_double(lit, 1.0 / (double)p) : c_float(lit, 1.0f / (float)p));
    }
    for (int i = 0; i < ns; i++) emit_close(e);
    emit_close(e);
}

static bool maxpool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!pool_check_x(n, "MaxPool", maxpool_types, d)) return false;
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    int64_t so = ir_attr_int(n, "storage_order", 0);
    if (so != 0 && so != 1) {
        diag_error(d, n, "storage_order must be 0 or 1, got %lld", (long long)so);
        return false;
    }
    if (!n->outputs[0]) {
        diag_error(d, n, "output Y is required (only Indices is not supported)");
        return false;
    }
    set_pool_output(n->outputs[0], n->inputs[0]->dtype, n->inputs[0], &sg);
    if (n->n_outputs > 1 && n->outputs[1])
        set_pool_output(n->outputs[1], DT_INT64, n->inputs[0], &sg);
    return true;
}

static bool maxpool_emit(Emitter *e, const Node *n, Diag *d) {
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    bool with_indices = n->n_outputs > 1 && n->outputs[1];
    if (n->inputs[0]->dtype != DT_FLOAT) {
        emit_window_loop(e, n, &sg, WIN_MAX, 0);
        return true;
    }
    kern_emit_geom(e, &sg);
    emit_line(e, "onnxcc_f32_maxpool(&geom, %lld, x0, y0, %s, %d, pool);", planes_of(n->inputs[0]),
              with_indices ? "y1" : "NULL", (int)ir_attr_int(n, "storage_order", 0));
    return true;
}

static int64_t window_flops(const Node *n) {
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    int64_t f = ir_numel(n->outputs[0]);
    for (size_t i = 0; i < nk; i++)
        if (!i64_mul(f, ks[i], &f)) return -1;
    return f;
}

const OpDef op_maxpool = {
    .name = "MaxPool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 2,
    .infer = maxpool_infer, .emit = maxpool_emit, .flops = window_flops,
    .memory = OP_MEMORY_SEPARATE,
};

static bool avgpool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!pool_check_x(n, "AveragePool", float_only, d)) return false;
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    int64_t cip = ir_attr_int(n, "count_include_pad", 0);
    if (cip != 0 && cip != 1) {
        diag_error(d, n, "count_include_pad must be 0 or 1, got %lld", (long long)cip);
        return false;
    }
    set_pool_output(n->outputs[0], DT_FLOAT, n->inputs[0], &sg);
    return true;
}

static bool avgpool_emit(Emitter *e, const Node *n, Diag *d) {
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    kern_emit_geom(e, &sg);
    emit_line(e, "onnxcc_f32_avgpool(&geom, %lld, x0, y0, %d, pool);", planes_of(n->inputs[0]),
              (int)ir_attr_int(n, "count_include_pad", 0));
    return true;
}

const OpDef op_averagepool = {
    .name = "AveragePool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = avgpool_infer, .emit = avgpool_emit, .flops = window_flops,
    .memory = OP_MEMORY_SEPARATE,
};

/* ---- LpPool: (sum over the window of |x|^p)^(1/p) ------------------------------------ */

static bool lppool_p(const Node *n, int64_t *p, Diag *d) {
    *p = ir_attr_int(n, "p", 2);
    if (*p < 1) {
        diag_error(d, n, "p must be a positive integer, not %lld", (long long)*p);
        return false;
    }
    return true;
}

static bool lppool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!pool_check_x(n, "LpPool", lppool_types, d)) return false;
    SpatialGeom sg;
    int64_t p;
    if (!pool_geom(n, &sg, d) || !lppool_p(n, &p, d)) return false;
    set_pool_output(n->outputs[0], n->inputs[0]->dtype, n->inputs[0], &sg);
    return true;
}

static bool lppool_emit(Emitter *e, const Node *n, Diag *d) {
    SpatialGeom sg;
    int64_t p;
    if (!pool_geom(n, &sg, d) || !lppool_p(n, &p, d)) return false;
    emit_window_loop(e, n, &sg, WIN_LP, p);
    return true;
}

const OpDef op_lppool = {
    .name = "LpPool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = lppool_infer, .emit = lppool_emit, .flops = window_flops,
    .memory = OP_MEMORY_SEPARATE,
};

/* ---- MaxUnpool ------------------------------------------------------------------------- *
 * Y is zeros with Y[I[k]] = X[k].  The indices address the unpooled shape implied by the
 * attributes, [N][C][(in - 1) * stride - pad_begin - pad_end + kernel]...; an output_shape
 * input (a constant) may only enlarge it, and the unpooled block then sits at its start
 * along every axis (what the ONNX reference and the conformance data do).  An index
 * outside the unpooled shape is a run-time error. */

typedef struct Unpool {
    int rank;
    int64_t inferred[IR_MAX_RANK];   /* the shape the indices address */
    int64_t out[IR_MAX_RANK];        /* Y's shape */
} Unpool;

static bool unpool_shapes(const Node *n, Unpool *u, Diag *d) {
    if (!pool_check_x(n, "MaxUnpool", lppool_types, d) || !op_require_shape(n, 1, d))
        return false;
    const Value *x = n->inputs[0], *idx = n->inputs[1];
    if (idx->dtype != DT_INT64 || !ir_same_shape(idx, x)) {
        diag_error(d, n, "I must be int64 with X's shape");
        return false;
    }
    const int ns = x->rank - 2;
    const int64_t *ks, *st = NULL, *pads = NULL;
    const size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    const size_t nst = ir_attr_ints(n, "strides", &st);
    const size_t np = ir_attr_ints(n, "pads", &pads);
    if (nk != (size_t)ns || (nst && nst != (size_t)ns) || (np && np != 2 * (size_t)ns)) {
        diag_error(d, n, "kernel_shape, strides and pads must have %d, %d and %d values", ns,
                   ns, 2 * ns);
        return false;
    }
    u->rank = x->rank;
    u->inferred[0] = x->dims[0];
    u->inferred[1] = x->dims[1];
    for (int i = 0; i < ns; i++) {
        const int64_t s = nst ? st[i] : 1, pb = np ? pads[i] : 0, pe = np ? pads[i + ns] : 0;
        const int64_t limit = INT64_C(1) << 32;
        if (ks[i] < 1 || ks[i] > limit || s < 1 || s > limit || pb < 0 || pe < 0 ||
            pb > limit || pe > limit) {
            diag_error(d, n, "kernel_shape, strides or pads out of range on spatial axis %d", i);
            return false;
        }
        int64_t v;
        if (!i64_mul(x->dims[i + 2] - 1, s, &v) || !i64_add(v, ks[i] - pb - pe, &v) || v < 1) {
            diag_error(d, n, "the unpooled size on spatial axis %d is not positive", i);
            return false;
        }
        u->inferred[i + 2] = v;
    }
    memcpy(u->out, u->inferred, sizeof u->out);
    if (op_input(n, 2)) {
        int64_t want[IR_MAX_RANK];
        int count;
        if (!ou_const_ints(n, 2, want, IR_MAX_RANK, &count, d)) return false;
        if (count != x->rank) {
            diag_error(d, n, "output_shape has %d values, X has rank %d", count, x->rank);
            return false;
        }
        for (int k = 0; k < x->rank; k++) {
            if (want[k] < u->inferred[k] || (k < 2 && want[k] != u->inferred[k])) {
                diag_error(d, n, "output_shape[%d] = %lld cannot hold the unpooled size %lld "
                           "(only larger spatial sizes are supported)", k, (long long)want[k],
                           (long long)u->inferred[k]);
                return false;
            }
            u->out[k] = want[k];
        }
    }
    return true;
}

static bool unpool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    Unpool u;
    return unpool_shapes(n, &u, d) &&
           ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, u.rank, u.out, d);
}

static bool unpool_emit(Emitter *e, const Node *n, Diag *d) {
    Unpool u;
    if (!unpool_shapes(n, &u, d)) return false;
    const Value *x = n->inputs[0];
    const char *T = dtype_ctype(x->dtype);
    int64_t total = 1;
    for (int k = 0; k < u.rank; k++) total *= u.inferred[k];
    char sx[128], sy[128];
    emit_line(e, "/* MaxUnpool %s -> %s: Y = 0, then Y[I[k]] = X[k] */",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, n->outputs[0]));
    emit_line(e, "memset(y0, 0, sizeof(%s) * %lld);", T, (long long)ir_numel(n->outputs[0]));
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)ir_numel(x));
    emit_line(e, "int64_t at = x1[k];");
    emit_line(e, "if (at < 0 || at >= %lld) return 1;   /* index out of range */",
              (long long)total);
    bool same = true;
    for (int k = 0; k < u.rank; k++) same = same && u.out[k] == u.inferred[k];
    if (same) {
        emit_line(e, "y0[at] = x0[k];");
    } else {
        /* the unpooled block sits at the start of Y: re-address each coordinate */
        emit_line(e, "int64_t to = 0, stride = 1;");
        for (int k = u.rank - 1; k >= 0; k--) {
            emit_line(e, "to += at %% %lld * stride;", (long long)u.inferred[k]);
            emit_line(e, "at /= %lld;", (long long)u.inferred[k]);
            if (k > 0) emit_line(e, "stride *= %lld;", (long long)u.out[k]);
        }
        emit_line(e, "y0[to] = x0[k];");
    }
    return emit_close(e);
}

const OpDef op_maxunpool = {
    .name = "MaxUnpool", .domain = "", .since = 9,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = unpool_infer, .emit = unpool_emit, .memory = OP_MEMORY_SEPARATE,
    .may_fail = true,
};

/* ---- global pools: [N, C, spatial...] -> [N, C, 1, ...] ------------------------------ */

static bool global_infer(Node *n, const char *op, Diag *d) {
    if (!pool_check_x(n, op, float_only, d)) return false;
    const Value *x = n->inputs[0];
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    ir_value_set_shape(n->outputs[0], DT_FLOAT, x->rank, dims);
    return true;
}

static bool gap_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    return global_infer(n, "GlobalAveragePool", d);
}

static bool gmp_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    return global_infer(n, "GlobalMaxPool", d);
}

/* One call to the runtime's global pool over every (image, channel) plane. */
static bool global_emit(Emitter *e, const Node *n, bool is_max) {
    const Value *x = n->inputs[0];
    long long pix = (long long)(ir_numel(x) / (x->dims[0] * x->dims[1]));
    emit_line(e, "onnxcc_f32_global_%spool(%lld, %lld, x0, y0, pool);", is_max ? "max" : "avg",
              planes_of(x), pix);
    return true;
}

static bool gap_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    return global_emit(e, n, false);
}

static bool gmp_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    return global_emit(e, n, true);
}

static int64_t global_flops(const Node *n) { return ir_numel(n->inputs[0]); }

const OpDef op_globalaveragepool = {
    .name = "GlobalAveragePool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gap_infer, .emit = gap_emit, .flops = global_flops,
    .memory = OP_MEMORY_SEPARATE,
};

const OpDef op_globalmaxpool = {
    .name = "GlobalMaxPool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gmp_infer, .emit = gmp_emit, .flops = global_flops,
    .memory = OP_MEMORY_SEPARATE,
};
