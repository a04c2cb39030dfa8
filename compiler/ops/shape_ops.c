/* shape_ops.c: the ops of the shape chains PyTorch exports (Shape, Size, Gather,
 * Unsqueeze, Squeeze, Slice, Cast, CastLike, ConstantOfShape; Cast and CastLike also
 * convert the low-precision types).  All of them fold when their inputs are constant
 * (Shape as soon as its input's shape is known), so a flatten/view written as
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape disappears at compile time; each also
 * emits plain C for the cases where data flows at run time. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"
#include "onnxcc_lowp.h"

/* ---- Shape -------------------------------------------------------------------------- */

static void shape_range(const Node *n, int rank, int64_t *start, int64_t *end) {
    int64_t s = n->opset >= 15 ? ir_attr_int(n, "start", 0) : 0;
    int64_t e = n->opset >= 15 ? ir_attr_int(n, "end", rank) : rank;
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : (s > rank ? rank : s);
    e = e < 0 ? 0 : (e > rank ? rank : e);
    *start = s;
    *end = e > s ? e : s;
}

static bool shape_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    int64_t s, e;
    shape_range(n, n->inputs[0]->rank, &s, &e);
    int64_t len = e - s;
    return ou_set_output(n, n->outputs[0], DT_INT64, 1, &len, d);
}

static bool shape_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    const Value *x = n->inputs[0];
    int64_t s, e;
    shape_range(n, x->rank, &s, &e);
    if (!ir_value_alloc_data(g, y, d)) return false;
    for (int64_t k = s; k < e; k++) ((int64_t *)y->data)[k - s] = x->dims[k];
    return true;
}

static bool shape_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    const Value *x = n->inputs[0];
    int64_t s, en;
    char lit[40], sx[128];
    shape_range(n, x->rank, &s, &en);
    emit_line(e, "/* Shape of %s */", ou_shape(sx, sizeof sx, x));
    emit_line(e, "(void)x0;");
    if (en == s) emit_line(e, "(void)y0;");
    for (int64_t k = s; k < en; k++)
        emit_line(e, "y0[%lld] = %s;", (long long)(k - s), c_int64(lit, (long long)x->dims[k]));
    return true;
}

const OpDef op_shape = {
    .name = "Shape", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = shape_infer, .fold = shape_fold,
    .fold_on_shapes = true, .emit = shape_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Size: the input's element count, an int64 scalar --------------------------------- */

static bool size_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    return ou_set_output(n, n->outputs[0], DT_INT64, 0, NULL, d);
}

static bool size_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    ((int64_t *)y->data)[0] = ir_numel(n->inputs[0]);
    return true;
}

static bool size_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    char lit[40], sx[128];
    emit_line(e, "/* Size of %s */", ou_shape(sx, sizeof sx, n->inputs[0]));
    emit_line(e, "(void)x0;");
    emit_line(e, "y0[0] = %s;", c_int64(lit, (long long)ir_numel(n->inputs[0])));
    return true;
}

const OpDef op_size = {
    .name = "Size", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = size_infer, .fold = size_fold,
    .fold_on_shapes = true, .emit = size_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Gather ------------------------------------------------------------------------- */

typedef struct GatherGeom {
    int axis;
    int64_t outer, dim, n_idx, inner;
} GatherGeom;

static bool gather_geom(const Node *n, GatherGeom *gg, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    if (x->rank == 0) {
        diag_error(d, n, "data must have rank >= 1");
        return false;
    }
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), x->rank, false, &gg->axis, d))
        return false;
    gg->outer = shape_numel(gg->axis, x->dims);
    gg->dim = x->dims[gg->axis];
    gg->inner = shape_numel(x->rank - gg->axis - 1, x->dims + gg->axis + 1);
    gg->n_idx = ir_numel(ind);
    return true;
}

static bool gather_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    if (!ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    if (ind->dtype != DT_INT64 && ind->dtype != DT_INT32) {
        diag_error(d, n, "indices must be int32 or int64, not %s", dtype_name(ind->dtype));
        return false;
    }
    GatherGeom gg;
    if (!gather_geom(n, &gg, d)) return false;
    int rank = x->rank - 1 + ind->rank;
    if (rank > IR_MAX_RANK) {
        diag_error(d, n, "output rank %d exceeds the maximum of %d", rank, IR_MAX_RANK);
        return false;
    }
    int64_t dims[IR_MAX_RANK];
    int r = 0;
    for (int k = 0; k < gg.axis; k++) dims[r++] = x->dims[k];
    for (int k = 0; k < ind->rank; k++) dims[r++] = ind->dims[k];
    for (int k = gg.axis + 1; k < x->rank; k++) dims[r++] = x->dims[k];
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

static bool gather_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    Value *y = n->outputs[0];
    GatherGeom gg;
    if (!gather_geom(n, &gg, d) || !ir_value_alloc_data(g, y, d)) return false;
    size_t es = dtype_size(x->dtype);
    for (int64_t j = 0; j < gg.n_idx; j++) {
        int64_t k = ir_const_get_i64(ind, j);
        if (k < -gg.dim || k >= gg.dim) {
            diag_error(d, n, "index %lld is out of range for dimension %lld", (long long)k,
                       (long long)gg.dim);
            return false;
        }
    }
    for (int64_t o = 0; o < gg.outer; o++) {
        for (int64_t j = 0; j < gg.n_idx; j++) {
            int64_t k = ir_const_get_i64(ind, j);
            if (k < 0) k += gg.dim;
            if (gg.inner > 0)
                memcpy((char *)y->data + (size_t)((o * gg.n_idx + j) * gg.inner) * es,
                       (const char *)x->data + (size_t)((o * gg.dim + k) * gg.inner) * es,
                       (size_t)gg.inner * es);
        }
    }
    return true;
}

static bool gather_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *ind = n->inputs[1];
    GatherGeom gg;
    if (!gather_geom(n, &gg, d)) return false;
    const char *T = dtype_ctype(x->dtype);
    char sx[128], si[128];
    emit_line(e, "/* Gather axis %d of %s with indices %s */", gg.axis,
              ou_shape(sx, sizeof sx, x), ou_shape(si, sizeof si, ind));
    if (gg.outer == 0 || gg.n_idx == 0 || gg.inner == 0) {
        emit_line(e, "(void)x0; (void)x1; (void)y0;");
        return true;
    }
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)gg.n_idx);
    emit_line(e, "int64_t k = x1[j];");
    emit_line(e, "if (k < 0) k += %lld;", (long long)gg.dim);
    emit_line(e, "if (k < 0 || k >= %lld) return 1; /* index out of range */",
              (long long)gg.dim);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)gg.outer);
    if (gg.inner == 1)
        emit_line(e, "y0[o * %lld + j] = x0[o * %lld + (size_t)k];", (long long)gg.n_idx,
                  (long long)gg.dim);
    else
        emit_line(e, "memcpy(y0 + (o * %lld + j) * %lld, x0 + (o * %lld + (size_t)k) * %lld, "
                  "%lld * sizeof(%s));", (long long)gg.n_idx, (long long)gg.inner,
                  (long long)gg.dim, (long long)gg.inner, (long long)gg.inner, T);
    emit_close(e);
    return emit_close(e);   /* the backend adds the final `return 0;` */
}

const OpDef op_gather = {
    .name = "Gather", .domain = "", .since = 1, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = gather_infer, .fold = gather_fold,
    .emit = gather_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};

/* ---- Unsqueeze / Squeeze ------------------------------------------------------------ */

/* Axes from the attribute (before opset 13) or input 1; *present false if none given. */
static bool read_axes(const Node *n, int64_t *axes, int *count, bool *present, Diag *d) {
    *count = 0;
    *present = false;
    if (n->opset < 13) {
        const int64_t *a;
        size_t c = ir_attr_ints(n, "axes", &a);
        if (!ir_attr(n, "axes")) return true;
        if (c > IR_MAX_RANK) {
            diag_error(d, n, "axes has %zu entries, at most %d supported", c, IR_MAX_RANK);
            return false;
        }
        for (size_t k = 0; k < c; k++) axes[k] = a[k];
        *count = (int)c;
        *present = true;
        return true;
    }
    if (!op_input(n, 1)) return true;
    *present = true;
    return ou_const_ints(n, 1, axes, IR_MAX_RANK, count, d);
}

static bool unsqueeze_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t axes[IR_MAX_RANK];
    int cnt;
    bool present;
    if (!read_axes(n, axes, &cnt, &present, d)) return false;
    if (!present) {
        diag_error(d, n, "axes are required");
        return false;
    }
    int rank = x->rank + cnt;
    if (rank > IR_MAX_RANK) {
        diag_error(d, n, "output rank %d exceeds the maximum of %d", rank, IR_MAX_RANK);
        return false;
    }
    bool ins[IR_MAX_RANK] = { false };
    for (int k = 0; k < cnt; k++) {
        int a;
        if (!ou_axis(n, "axis", axes[k], rank, false, &a, d)) return false;
        if (ins[a]) {
            diag_error(d, n, "axis %d appears twice in axes", a);
            return false;
        }
        ins[a] = true;
    }
    int64_t dims[IR_MAX_RANK];
    for (int k = 0, src = 0; k < rank; k++) dims[k] = ins[k] ? 1 : x->dims[src++];
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

const OpDef op_unsqueeze = {
    .name = "Unsqueeze", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = unsqueeze_infer, .fold = ou_fold_copy,
    .emit = ou_emit_alias, .memory = OP_MEMORY_ALIAS,
};

static bool squeeze_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t axes[IR_MAX_RANK];
    int cnt;
    bool present;
    if (!read_axes(n, axes, &cnt, &present, d)) return false;
    bool drop[IR_MAX_RANK] = { false };
    /* empty axes count as none given, as onnxruntime does */
    if (!present || cnt == 0) {
        for (int k = 0; k < x->rank; k++) drop[k] = x->dims[k] == 1;
    }
    for (int k = 0; k < cnt; k++) {
        int a;
        if (!ou_axis(n, "axis", axes[k], x->rank, false, &a, d)) return false;
        if (drop[a]) {
            diag_error(d, n, "axis %d appears twice in axes", a);
            return false;
        }
        if (x->dims[a] != 1) {
            diag_error(d, n, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
            return false;
        }
        drop[a] = true;
    }
    int64_t dims[IR_MAX_RANK];
    int rank = 0;
    for (int k = 0; k < x->rank; k++)
        if (!drop[k]) dims[rank++] = x->dims[k];
    return ou_set_output(n, n->outputs[0], x->dtype, rank, dims, d);
}

const OpDef op_squeeze = {
    .name = "Squeeze", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = squeeze_infer, .fold = ou_fold_copy,
    .emit = ou_emit_alias, .memory = OP_MEMORY_ALIAS,
};

/* ---- Slice -------------------------------------------------------------------------- */

typedef struct SliceSpec {
    int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
} SliceSpec;

static bool slice_spec(const Node *n, SliceSpec *s, Diag *d) {
    const Value *x = n->inputs[0];
    int r = x->rank;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns = 0, ne = 0, na = -1, nst = -1;
    if (n->opset < 10) {
        const int64_t *v;
        size_t c;
        const char *names[3] = { "starts", "ends", "axes" };
        int64_t *dst[3] = { starts, ends, axes };
        int *cnt[3] = { &ns, &ne, &na };
        for (int k = 0; k < 3; k++) {
            c = ir_attr_ints(n, names[k], &v);
            if (!ir_attr(n, names[k])) {
                if (k < 2) {
                    diag_error(d, n, "attribute '%s' is required", names[k]);
                    return false;
                }
                continue;
            }
            if (c > IR_MAX_RANK) {
                diag_error(d, n, "'%s' has %zu entries, more than the rank %d", names[k], c,
                           r);
                return false;
            }
            for (size_t j = 0; j < c; j++) dst[k][j] = v[j];
            *cnt[k] = (int)c;
        }
    } else {
        if (!op_input(n, 1) || !op_input(n, 2)) {
            diag_error(d, n, "inputs starts and ends are required");
            return false;
        }
        if (!ou_const_ints(n, 1, starts, IR_MAX_RANK, &ns, d) ||
            !ou_const_ints(n, 2, ends, IR_MAX_RANK, &ne, d))
            return false;
        if (op_input(n, 3) && !ou_const_ints(n, 3, axes, IR_MAX_RANK, &na, d)) return false;
        if (op_input(n, 4) && !ou_const_ints(n, 4, steps, IR_MAX_RANK, &nst, d)) return false;
    }
    if (na < 0) {
        na = ns;
        for (int k = 0; k < ns; k++) axes[k] = k;
    }
    if (nst < 0) {
        nst = ns;
        for (int k = 0; k < ns; k++) steps[k] = 1;
    }
    if (ne != ns || na != ns || nst != ns || ns > r) {
        diag_error(d, n, "starts, ends, axes and steps have %d, %d, %d, %d entries "
                   "(equal, at most rank %d, needed)", ns, ne, na, nst, r);
        return false;
    }
    for (int k = 0; k < r; k++) {
        s->start[k] = 0;
        s->step[k] = 1;
        s->count[k] = x->dims[k];
    }
    bool seen[IR_MAX_RANK] = { false };
    for (int k = 0; k < ns; k++) {
        int a;
        if (!ou_axis(n, "axis", axes[k], r, false, &a, d)) return false;
        if (seen[a]) {
            diag_error(d, n, "axis %d appears twice in axes", a);
            return false;
        }
        seen[a] = true;
        int64_t dim = x->dims[a], st = steps[k], b = starts[k], e = ends[k];
        if (st == 0) {
            diag_error(d, n, "step of axis %d is 0", a);
            return false;
        }
        if (b < 0) b += dim;    /* no overflow: dim >= 0 */
        if (e < 0) e += dim;
        int64_t cnt;
        if (st > 0) {
            b = b < 0 ? 0 : (b > dim ? dim : b);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            cnt = e > b ? (e - b - 1) / st + 1 : 0;
        } else {
            b = b < 0 ? 0 : (b > dim - 1 ? dim - 1 : b);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            /* -st cannot overflow once clamped: a step longer than the dim takes one */
            int64_t mag = st < -dim ? dim + 1 : -st;
            cnt = b > e ? (b - e - 1) / mag + 1 : 0;
        }
        if (cnt <= 1) st = 1;   /* a single element: the step does not matter */
        if (cnt == 0) b = 0;
        s->start[a] = b;
        s->step[a] = st;
        s->count[a] = cnt;
    }
    return true;
}

static bool slice_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    SliceSpec s;
    if (!slice_spec(n, &s, d)) return false;
    const Value *x = n->inputs[0];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, s.count, d);
}

/* Operand 0: y contiguous; operand 1: x at start + i * step along each axis. */
static void slice_loop(const Node *n, const SliceSpec *s, OuLoop *l) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    int64_t xs[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    l->n_ops = 2;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    shape_strides(y->rank, y->dims, l->strides[0]);
    for (int k = 0; k < x->rank; k++) {
        l->strides[1][k] = s->step[k] * xs[k];
        l->base[1] += s->start[k] * xs[k];
    }
}

static bool slice_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    SliceSpec s;
    OuLoop l;
    if (!slice_spec(n, &s, d) || !ir_value_alloc_data(g, y, d)) return false;
    slice_loop(n, &s, &l);
    size_t es = dtype_size(y->dtype);
    int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++)
        ou_copy_elems(y->data, p, n->inputs[0]->data, ou_loop_offset(&l, 1, p), es);
    return true;
}

static bool slice_emit(Emitter *e, const Node *n, Diag *d) {
    SliceSpec s;
    OuLoop l;
    if (!slice_spec(n, &s, d)) return false;
    slice_loop(n, &s, &l);
    char sx[128], sy[128];
    emit_line(e, "/* Slice %s -> %s */", ou_shape(sx, sizeof sx, n->inputs[0]),
              ou_shape(sy, sizeof sy, n->outputs[0]));
    if (ir_numel(n->outputs[0]) == 0) {
        emit_line(e, "(void)x0; (void)y0;");
        return true;
    }
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    ou_loop_open(e, &l, idx);
    emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
    ou_loop_close(e, &l);
    return true;
}

const OpDef op_slice = {
    .name = "Slice", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 1, .infer = slice_infer, .fold = slice_fold,
    .emit = slice_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Cast --------------------------------------------------------------------------- */

/* Cast takes its target type from the attribute `to`, CastLike from its second input's
 * element type; the rest is shared.  The low-precision types (float8s, float4e2m1, int4,
 * int2...) convert through onnxcc_lowp.h, the same functions in folding and in the
 * generated code: `saturate` (opset 19+, default 1) says whether float8 overflow clamps to
 * the largest finite value, `round_mode` (opset 24+, default "up") how float8e8m0 rounds. */
static bool cast_like(const Node *n) { return n->n_inputs == 2; }

typedef struct CastMode {
    bool saturate;
    int round_mode;             /* ONNXCC_ROUND_* */
} CastMode;

static bool cast_mode(const Node *n, CastMode *m, Diag *d) {
    static const char *const modes[] = { [ONNXCC_ROUND_UP] = "up",
                                         [ONNXCC_ROUND_DOWN] = "down",
                                         [ONNXCC_ROUND_NEAREST] = "nearest" };
    int64_t sat = ir_attr_int(n, "saturate", 1);
    if (sat != 0 && sat != 1) {
        diag_error(d, n, "attribute 'saturate' must be 0 or 1, not %lld", (long long)sat);
        return false;
    }
    m->saturate = sat == 1;
    const char *rm = ir_attr_string(n, "round_mode", "up");
    for (int k = 0; k < (int)(sizeof modes / sizeof modes[0]); k++)
        if (strcmp(rm, modes[k]) == 0) {
            m->round_mode = k;
            return true;
        }
    char q[80];
    diag_error(d, n, "attribute 'round_mode' must be up, down or nearest, not '%s'",
               diag_quote(q, sizeof q, rm));
    return false;
}

/* Types whose values Cast reads as a floating-point number. */
static bool cast_float_like(DType t) { return dtype_is_float(t) || dtype_is_lowp_float(t); }

static bool cast_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t to = cast_like(n) ? (int64_t)n->inputs[1]->dtype : ir_attr_int(n, "to", -1);
    if (!cast_like(n) && !ir_attr(n, "to")) {
        diag_error(d, n, "attribute 'to' is required");
        return false;
    }
    if (to < 0 || to > 1000 || dtype_size((DType)to) == 0) {
        diag_error(d, n, "cannot cast to element type %lld", (long long)to);
        return false;
    }
    if (dtype_size(x->dtype) == 0) {
        diag_error(d, n, "cannot cast from element type %s", dtype_name(x->dtype));
        return false;
    }
    CastMode m;
    if (!cast_mode(n, &m, d)) return false;
    ir_value_set_shape(n->outputs[0], (DType)to, x->rank, x->dims);
    return true;
}

/* Element i of x converted to y's low-precision type. */
static void cast_fold_lowp(const Value *x, Value *y, int64_t i, const CastMode *m) {
    if (y->dtype == DT_FLOAT8E8M0) {
        ((uint8_t *)y->data)[i] = onnxcc_e8m0_from_float((float)ou_get_f64(x, i), m->saturate,
                                                         m->round_mode);
    } else if (dtype_is_lowp_float(y->dtype) || cast_float_like(x->dtype) ||
               x->dtype == DT_UINT64) {
        ou_lowp_set(y->dtype, y->data, i, ou_get_f64(x, i), m->saturate);
    } else {
        ou_lowp_set_int(y->dtype, y->data, i, ou_get_i64(x, i));
    }
}

static bool cast_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    CastMode m;
    if (!cast_mode(n, &m, d) || !ir_value_alloc_data(g, y, d)) return false;
    int64_t count = ir_numel(y);
    if (x->dtype == y->dtype) {
        if (count) memcpy(y->data, x->data, ir_nbytes(y));
        return true;
    }
    bool via_float = cast_float_like(x->dtype) || dtype_is_float(y->dtype);
    for (int64_t i = 0; i < count; i++) {
        if (dtype_is_lowp(y->dtype)) {
            cast_fold_lowp(x, y, i, &m);
        } else if (cast_float_like(x->dtype) && dtype_is_integer(y->dtype) &&
                   y->dtype != DT_UINT64) {
            /* saturate like the emitted code; NaN gives 0 */
            double v = ou_get_f64(x, i);
            int bits = (int)dtype_size(y->dtype) * 8;
            bool sgn = y->dtype == DT_INT8 || y->dtype == DT_INT16 || y->dtype == DT_INT32 ||
                       y->dtype == DT_INT64;
            double lo = sgn ? -ldexp(1.0, bits - 1) : 0, hi = ldexp(1.0, sgn ? bits - 1 : bits);
            uint64_t max = sgn ? (UINT64_C(1) << (bits - 1)) - 1 : (UINT64_C(1) << bits) - 1;
            if (v != v) ou_set_i64(y, i, 0);
            else if (v <= lo) ou_set_i64(y, i, sgn ? -(int64_t)max - 1 : 0);
            else if (v >= hi) ou_set_i64(y, i, (int64_t)max);
            else ou_set_i64(y, i, (int64_t)v);
        } else if (via_float) {
            ou_set_f64(y, i, ou_get_f64(x, i));
        } else {
            ou_set_i64(y, i, ou_get_i64(x, i));
        }
    }
    return true;
}

/* The C expression converting `v` (of type from) to type to, free of UB. */
static bool cast_expr(char *buf, size_t size, DType from, DType to) {
    const char *T = dtype_ctype(to);
    if (ou_is_half(to) || ou_is_half(from) || dtype_is_lowp(to) || dtype_is_lowp(from))
        return false;
    if (to == DT_BOOL) {
        snprintf(buf, size, "v != 0");
    } else if ((from == DT_FLOAT || from == DT_DOUBLE) && dtype_is_integer(to)) {
        unsigned bits = (unsigned)dtype_size(to) * 8;
        bool sgn = to == DT_INT8 || to == DT_INT16 || to == DT_INT32 || to == DT_INT64;
        /* compare in double, where every bound is exact; NaN gives 0 */
        if (sgn)
            snprintf(buf, size, "(double)v != (double)v ? 0 : (double)v <= -%.1f ? INT%u_MIN "
                     ": (double)v >= %.1f ? INT%u_MAX : (%s)v", ldexp(1.0, (int)bits - 1),
                     bits, ldexp(1.0, (int)bits - 1), bits, T);
        else
            snprintf(buf, size, "!((double)v > 0) ? 0 : (double)v >= %.1f ? UINT%u_MAX : (%s)v",
                     ldexp(1.0, (int)bits), bits, T);
    } else {
        snprintf(buf, size, "(%s)v", T);
    }
    return true;
}

/* Declares `v` holding element i of x in a plain C type and returns that type: half and
 * low-precision floats load as float, int4/int2 as int8_t, uint4/uint2 as uint8_t. */
static DType cast_emit_load(Emitter *e, DType t) {
    if (ou_is_half(t)) {
        ou_emit_half_load(e, t, "v", "x0[i]");
        return DT_FLOAT;
    }
    if (dtype_is_lowp_float(t)) {
        char expr[128];
        emit_line(e, "const float v = %s;", ou_lowp_load_expr(expr, sizeof expr, t, "x0[i]"));
        return DT_FLOAT;
    }
    DType as = t == DT_INT4 || t == DT_INT2 ? DT_INT8 : dtype_is_lowp_int(t) ? DT_UINT8 : t;
    emit_line(e, "const %s v = x0[i];", dtype_ctype(as));
    return as;
}

/* Stores `v` (of plain type from) into y0[i] of the low-precision type to. */
static void cast_emit_store_lowp(Emitter *e, DType from, DType to, const CastMode *m) {
    if (to == DT_FLOAT8E8M0) {
        emit_line(e, "y0[i] = onnxcc_e8m0_from_float((float)v, %d, %d); /* float8e8m0, round "
                  "%s */", m->saturate, m->round_mode, m->round_mode == ONNXCC_ROUND_UP ? "up"
                  : m->round_mode == ONNXCC_ROUND_DOWN ? "down" : "nearest");
    } else if (dtype_is_lowp_float(to) || dtype_is_float(from) || from == DT_UINT64) {
        ou_emit_lowp_store(e, to, "y0[i]", "v", m->saturate);
    } else {
        emit_line(e, "y0[i] = (%s)onnxcc_lowp_int_wrap(%d, (int64_t)v); /* %s */",
                  dtype_ctype(to), (int)to, dtype_name(to));
    }
}

static bool cast_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    char sx[128], expr[256];
    CastMode m;
    if (!cast_mode(n, &m, d)) return false;
    emit_line(e, "/* %s %s -> %s */", n->op_type, ou_shape(sx, sizeof sx, x),
              dtype_name(y->dtype));
    if (cast_like(n)) emit_line(e, "(void)x1;   /* only its element type counts */");
    if (x->dtype == y->dtype) {
        emit_line(e, "memcpy(y0, x0, %zu);", ir_nbytes(y));
        return true;
    }
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)ir_numel(y));
    /* half and low-precision types go through float (int4/int2 through int8) */
    DType from = cast_emit_load(e, x->dtype);
    if (dtype_is_lowp(y->dtype)) {
        cast_emit_store_lowp(e, from, y->dtype, &m);
    } else if (ou_is_half(y->dtype)) {
        if (!cast_expr(expr, sizeof expr, from, DT_FLOAT)) BUG("cast_expr refused %d", from);
        emit_line(e, "const float f = %s;", from == DT_FLOAT ? "v" : expr);
        ou_emit_half_store(e, y->dtype, "y0[i]", "f");
    } else {
        if (!cast_expr(expr, sizeof expr, from, y->dtype))
            BUG("cast_expr refused %d -> %d", from, y->dtype);
        emit_line(e, "y0[i] = %s;", expr);
    }
    return emit_close(e);
}

const OpDef op_cast = {
    .name = "Cast", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = cast_infer, .fold = cast_fold,
    .emit = cast_emit, .memory = OP_MEMORY_SEPARATE,
};

const OpDef op_castlike = {
    .name = "CastLike", .domain = "", .since = 15, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = cast_infer, .fold = cast_fold,
    .emit = cast_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- ConstantOfShape ---------------------------------------------------------------- */

static bool cos_value(const Node *n, DType *t, double *v, int64_t *vi, Diag *d) {
    const Attr *a = ir_attr(n, "value");
    *t = DT_FLOAT;
    *v = 0;
    *vi = 0;
    if (!a) return true;
    const Value *tv = a->type == ATTR_TENSOR ? a->tensor : NULL;
    if (!tv || !tv->data || ir_numel(tv) != 1 || dtype_size(tv->dtype) == 0) {
        diag_error(d, n, "attribute 'value' must be a one-element tensor");
        return false;
    }
    *t = tv->dtype;
    *v = ou_get_f64(tv, 0);
    *vi = ou_get_i64(tv, 0);
    return true;
}

static bool cos_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    int64_t dims[IR_MAX_RANK];
    int rank;
    DType t;
    double v;
    int64_t vi;
    if (!cos_value(n, &t, &v, &vi, d)) return false;
    if (!ou_const_ints(n, 0, dims, IR_MAX_RANK, &rank, d)) return false;
    return ou_set_output(n, n->outputs[0], t, rank, dims, d);
}

static bool cos_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    DType t;
    double v;
    int64_t vi;
    if (!cos_value(n, &t, &v, &vi, d) || !ir_value_alloc_data(g, y, d)) return false;
    const Value *tv = ir_attr(n, "value") ? ir_attr(n, "value")->tensor : NULL;
    size_t es = dtype_size(t);
    int64_t count = ir_numel(y);
    for (int64_t i = 0; i < count; i++) {
        if (tv) memcpy((char *)y->data + (size_t)i * es, tv->data, es);
        /* else: zero-filled float by ir_value_alloc_data */
    }
    return true;
}

static bool cos_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *y = n->outputs[0];
    DType t;
    double v;
    int64_t vi;
    char lit[40], sy[128];
    if (!cos_value(n, &t, &v, &vi, d)) return false;
    emit_line(e, "/* ConstantOfShape %s */", ou_shape(sy, sizeof sy, y));
    emit_line(e, "(void)x0;");
    emit_line(e, "for (size_t i = 0; i < %lld; i++) y0[i] = %s;", (long long)ir_numel(y),
              ou_literal(lit, t, v, vi));
    return true;
}

const OpDef op_constantofshape = {
    .name = "ConstantOfShape", .domain = "", .since = 9, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = cos_infer, .fold = cos_fold,
    .emit = cos_emit, .memory = OP_MEMORY_SEPARATE,
};
