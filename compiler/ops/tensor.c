/* tensor.c: data-movement ops: Identity, Dropout (inference, or training with ratio 0),
 * Constant, Flatten, Reshape, Transpose, Concat and Pad.  They work on elements of any
 * size, so every dtype with a C type (float16 as raw bits) is accepted.  Identity,
 * Flatten and Reshape alias their input when the memory plan allows; the emitted copy
 * then does nothing. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

/* ---- Identity ----------------------------------------------------------------------- */

static bool identity_infer(Graph *g, Node *n, Diag *d) {
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    return op_infer_like_input0(g, n, d);
}

const OpDef op_identity = {
    .name = "Identity", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = identity_infer, .fold = ou_fold_copy,
    .emit = ou_emit_alias, .memory = OP_MEMORY_ALIAS,
};

/* ---- Dropout ------------------------------------------------------------------------ */

/* Dropout's default ratio (opset 12 and later, when input 1 is omitted). */
#define DROPOUT_DEFAULT_RATIO 0.5

/* Whether Dropout (opset 12 and later) runs in training mode: input 2, when present,
 * must be known at compile time (`onnxcc test` then freezes a graph input).  In training
 * mode the ratio (input 1) must be 0: Dropout then keeps every element, as in inference;
 * with a ratio > 0 its output is random and is refused. */
static bool dropout_check_training(const Node *n, Diag *d) {
    const Value *tm = op_input(n, 2);
    if (!tm) return true;
    if (!op_require_const(n, 2, d)) return false;
    if (ir_numel(tm) != 1) {
        diag_error(d, n, "training_mode '%s' must hold one value, got %lld", tm->name,
                   (long long)ir_numel(tm));
        return false;
    }
    if (ir_const_get_i64(tm, 0) == 0) return true;
    const Value *r = op_input(n, 1);
    double ratio = DROPOUT_DEFAULT_RATIO;
    if (r) {
        if (!op_require_const(n, 1, d)) return false;
        if (ir_numel(r) != 1 || !dtype_is_float(r->dtype)) {
            diag_error(d, n, "ratio '%s' must be one floating-point value", r->name);
            return false;
        }
        ratio = ou_get_f64(r, 0);
    }
    if (!(ratio >= 0.0 && ratio < 1.0)) {
        diag_error(d, n, "ratio must be in [0, 1), got %g", ratio);
        return false;
    }
    if (ratio > 0.0) {
        diag_error(d, n, "training-mode Dropout with ratio > 0 is random (ratio %g): only "
                   "ratio 0 (which keeps every element) is supported", ratio);
        return false;
    }
    return true;
}

static bool dropout_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (!dropout_check_training(n, d)) return false;
    ir_value_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
    if (n->n_outputs > 1 && n->outputs[1])
        ir_value_set_shape(n->outputs[1], n->opset >= 10 ? DT_BOOL : x->dtype, x->rank,
                           x->dims);
    return true;
}

static bool dropout_fold(Graph *g, Node *n, Diag *d) {
    if (!ou_fold_copy(g, n, d)) return false;
    if (n->n_outputs > 1 && n->outputs[1]) {
        Value *m = n->outputs[1];
        if (!ir_value_alloc_data(g, m, d)) return false;
        for (int64_t i = 0; i < ir_numel(m); i++) ou_set_i64(m, i, 1);
    }
    return true;
}

static bool dropout_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    ou_emit_alias_copy(e, n);
    if (n->n_outputs > 1 && n->outputs[1]) {
        const Value *m = n->outputs[1];
        char lit[40];
        emit_line(e, "/* mask: everything kept */");
        emit_line(e, "for (size_t i = 0; i < %lld; i++) y1[i] = %s;", (long long)ir_numel(m),
                  ou_literal(lit, m->dtype, 1.0, 1));
    }
    return true;
}

const OpDef op_dropout = {
    .name = "Dropout", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 2, .infer = dropout_infer, .fold = dropout_fold,
    .emit = dropout_emit, .memory = OP_MEMORY_ALIAS,
};

/* ---- Constant ----------------------------------------------------------------------- */

static bool constant_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    static const char *const unsupported[] = { "sparse_value", "value_string",
                                               "value_strings" };
    for (size_t k = 0; k < sizeof unsupported / sizeof unsupported[0]; k++) {
        if (ir_attr(n, unsupported[k])) {
            diag_error(d, n, "attribute '%s' is not supported", unsupported[k]);
            return false;
        }
    }
    static const char *const names[] = { "value", "value_float", "value_floats", "value_int",
                                         "value_ints" };
    const Attr *a = NULL;
    int which = -1;
    for (int k = 0; k < 5; k++) {
        const Attr *t = ir_attr(n, names[k]);
        if (!t) continue;
        if (a) {
            diag_error(d, n, "has both '%s' and '%s'; exactly one value attribute is allowed",
                       names[which], names[k]);
            return false;
        }
        a = t;
        which = k;
    }
    if (!a) {
        diag_error(d, n, "has no value attribute");
        return false;
    }
    static const AttrType want[] = { ATTR_TENSOR, ATTR_FLOAT, ATTR_FLOATS, ATTR_INT,
                                      ATTR_INTS };
    if (a->type != want[which]) {
        diag_error(d, n, "attribute '%s' has the wrong type", names[which]);
        return false;
    }
    Value *y = n->outputs[0];
    int64_t count = (int64_t)a->count;
    switch (which) {
    case 0:
        if (!a->tensor || !a->tensor->data || dtype_size(a->tensor->dtype) == 0 ||
            !ir_value_shape_known(a->tensor)) {
            diag_error(d, n, "attribute 'value' is not a tensor with data of a supported type");
            return false;
        }
        return ou_set_output(n, y, a->tensor->dtype, a->tensor->rank, a->tensor->dims, d);
    case 1: return ou_set_output(n, y, DT_FLOAT, 0, NULL, d);
    case 2: return ou_set_output(n, y, DT_FLOAT, 1, &count, d);
    case 3: return ou_set_output(n, y, DT_INT64, 0, NULL, d);
    default: return ou_set_output(n, y, DT_INT64, 1, &count, d);
    }
}

static bool constant_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const Attr *a;
    if ((a = ir_attr(n, "value"))) {
        size_t nb = ir_nbytes(y);
        if (nb) memcpy(y->data, a->tensor->data, nb);
    } else if ((a = ir_attr(n, "value_float"))) {
        ((float *)y->data)[0] = a->f;
    } else if ((a = ir_attr(n, "value_floats"))) {
        for (size_t k = 0; k < a->count; k++) ((float *)y->data)[k] = a->floats[k];
    } else if ((a = ir_attr(n, "value_int"))) {
        ((int64_t *)y->data)[0] = a->i;
    } else if ((a = ir_attr(n, "value_ints"))) {
        for (size_t k = 0; k < a->count; k++) ((int64_t *)y->data)[k] = a->ints[k];
    }
    return true;
}

static bool constant_emit(Emitter *e, const Node *n, Diag *d) {
    (void)e;
    diag_error(d, n, "constant is too large to be folded into the generated code");
    return false;
}

const OpDef op_constant = {
    .name = "Constant", .domain = "", .since = 1, .min_inputs = 0, .max_inputs = 0,
    .min_outputs = 1, .max_outputs = 1, .infer = constant_infer, .fold = constant_fold,
    .emit = constant_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Flatten ------------------------------------------------------------------------ */

static bool flatten_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t axis_attr = ir_attr_int(n, "axis", 1);
    if (axis_attr < -(int64_t)x->rank || axis_attr > x->rank) {
        diag_error(d, n, "axis %lld is out of range [%d, %d]", (long long)axis_attr, -x->rank,
                   x->rank);
        return false;
    }
    if (axis_attr < 0 && n->opset < 11) {
        diag_error(d, n, "negative axis %lld needs opset 11", (long long)axis_attr);
        return false;
    }
    int axis = (int)(axis_attr < 0 ? axis_attr + x->rank : axis_attr);
    int64_t dims[2];
    dims[0] = shape_numel(axis, x->dims);
    dims[1] = shape_numel(x->rank - axis, x->dims + axis);
    return ou_set_output(n, n->outputs[0], x->dtype, 2, dims, d);
}

const OpDef op_flatten = {
    .name = "Flatten", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = flatten_infer, .fold = ou_fold_copy,
    .emit = ou_emit_alias, .memory = OP_MEMORY_ALIAS,
};

/* ---- Reshape ------------------------------------------------------------------------ */

static bool reshape_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int64_t shape[IR_MAX_RANK + 1];
    int rank = 0;
    if (n->opset < 5) {
        const int64_t *s;
        size_t cnt = ir_attr_ints(n, "shape", &s);
        if (cnt > IR_MAX_RANK) {
            diag_error(d, n, "shape has %zu dims, at most %d supported", cnt, IR_MAX_RANK);
            return false;
        }
        for (size_t k = 0; k < cnt; k++) shape[k] = s[k];
        rank = (int)cnt;
    } else {
        if (n->n_inputs < 2 || !n->inputs[1]) {
            diag_error(d, n, "the shape input is missing");
            return false;
        }
        if (!ou_const_ints(n, 1, shape, IR_MAX_RANK, &rank, d)) return false;
    }
    bool allowzero = n->opset >= 14 && ir_attr_int(n, "allowzero", 0) != 0;
    int infer_at = -1;
    int64_t known = 1;
    for (int k = 0; k < rank; k++) {
        if (shape[k] == -1) {
            if (infer_at >= 0) {
                diag_error(d, n, "shape has more than one -1");
                return false;
            }
            infer_at = k;
            continue;
        }
        if (shape[k] < -1) {
            diag_error(d, n, "shape dimension %d is %lld", k, (long long)shape[k]);
            return false;
        }
        if (shape[k] == 0 && !allowzero) {
            if (k >= x->rank) {
                diag_error(d, n, "shape dimension %d is 0 (copy the input's) but the input "
                           "has rank %d", k, x->rank);
                return false;
            }
            shape[k] = x->dims[k];
        }
        if (!i64_mul(known, shape[k], &known)) {
            diag_error(d, n, "shape has too many elements");
            return false;
        }
    }
    int64_t total = ir_numel(x);
    if (infer_at >= 0) {
        if (known == 0) {
            diag_error(d, n, "cannot infer the -1 dimension: the other dims have a zero");
            return false;
        }
        if (total % known != 0) {
            diag_error(d, n, "cannot reshape %lld elements with -1 and the other dims "
                       "multiplying to %lld", (long long)total, (long long)known);
            return false;
        }
        shape[infer_at] = total / known;
    } else if (known != total) {
        char sx[128];
        diag_error(d, n, "cannot reshape %s (%lld elements) to %lld elements",
                   ou_shape(sx, sizeof sx, x), (long long)total, (long long)known);
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, rank, shape, d);
}

const OpDef op_reshape = {
    .name = "Reshape", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = reshape_infer, .fold = ou_fold_copy,
    .emit = ou_emit_alias, .memory = OP_MEMORY_ALIAS,
};

/* ---- Transpose ---------------------------------------------------------------------- */

static bool transpose_perm(const Node *n, int *perm, Diag *d) {
    const Value *x = n->inputs[0];
    const int64_t *p;
    size_t cnt = ir_attr_ints(n, "perm", &p);
    if (!ir_attr(n, "perm")) {
        for (int k = 0; k < x->rank; k++) perm[k] = x->rank - 1 - k;
        return true;
    }
    if (cnt != (size_t)x->rank) {
        diag_error(d, n, "perm has %zu entries, the input has rank %d", cnt, x->rank);
        return false;
    }
    bool seen[IR_MAX_RANK] = { false };
    for (int k = 0; k < x->rank; k++) {
        int a;
        if (!ou_axis(n, "perm entry", p[k], x->rank, false, &a, d)) return false;
        if (p[k] < 0 || seen[a]) {
            diag_error(d, n, "perm is not a permutation of 0..%d", x->rank - 1);
            return false;
        }
        seen[a] = true;
        perm[k] = a;
    }
    return true;
}

static bool transpose_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    int perm[IR_MAX_RANK];
    if (!transpose_perm(n, perm, d)) return false;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) dims[k] = x->dims[perm[k]];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* Operand 0: y contiguous; operand 1: x read through the permutation. */
static bool transpose_loop(const Node *n, OuLoop *l, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    int perm[IR_MAX_RANK];
    if (!transpose_perm(n, perm, d)) return false;
    int64_t xs[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    memset(l, 0, sizeof *l);
    l->rank = y->rank;
    l->n_ops = 2;
    memcpy(l->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    shape_strides(y->rank, y->dims, l->strides[0]);
    for (int k = 0; k < y->rank; k++) l->strides[1][k] = xs[perm[k]];
    return true;
}

static bool transpose_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    OuLoop l;
    if (!transpose_loop(n, &l, d) || !ir_value_alloc_data(g, y, d)) return false;
    size_t es = dtype_size(y->dtype);
    int64_t count = ir_numel(y);
    for (int64_t p = 0; p < count; p++)
        ou_copy_elems(y->data, p, n->inputs[0]->data, ou_loop_offset(&l, 1, p), es);
    return true;
}

static bool transpose_emit(Emitter *e, const Node *n, Diag *d) {
    OuLoop l;
    if (!transpose_loop(n, &l, d)) return false;
    char sx[128], sy[128];
    emit_line(e, "/* Transpose %s -> %s */", ou_shape(sx, sizeof sx, n->inputs[0]),
              ou_shape(sy, sizeof sy, n->outputs[0]));
    ou_loop_simplify(&l);
    char idx[OU_MAX_OPERANDS][256];
    int r = l.rank;
    enum { TILE = 32 };
    if (r < 2 || l.strides[1][r - 1] == 1 || l.dims[r - 1] < TILE || l.dims[r - 2] < TILE) {
        ou_loop_open(e, &l, idx);
        emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
        ou_loop_close(e, &l);
        return true;
    }
    /* the input is read across rows: tile the last two loops so both sides stay in cache */
    for (int k = 0; k < r - 2; k++)
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)l.dims[k], k);
    for (int k = r - 2; k < r; k++)
        emit_open(e, "for (size_t t%d = 0; t%d < %lld; t%d += %d)", k, k, (long long)l.dims[k],
                  k, TILE);
    for (int k = r - 2; k < r; k++) {
        emit_line(e, "const size_t e%d = t%d + %d < %lld ? t%d + %d : %lld;", k, k, TILE,
                  (long long)l.dims[k], k, TILE, (long long)l.dims[k]);
    }
    for (int k = r - 2; k < r; k++)
        emit_open(e, "for (size_t i%d = t%d; i%d < e%d; i%d++)", k, k, k, k, k);
    ou_loop_index(&l, 0, idx[0]);
    ou_loop_index(&l, 1, idx[1]);
    emit_line(e, "y0[%s] = x0[%s];", idx[0], idx[1]);
    for (int k = 0; k < r + 2; k++) emit_close(e);
    return true;
}

const OpDef op_transpose = {
    .name = "Transpose", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = transpose_infer, .fold = transpose_fold,
    .emit = transpose_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Concat ------------------------------------------------------------------------- */

static bool concat_axis(const Node *n, int *axis, Diag *d) {
    const Value *x = n->inputs[0];
    if (n->opset >= 4 && !ir_attr(n, "axis")) {
        diag_error(d, n, "attribute 'axis' is required");
        return false;
    }
    int64_t a = ir_attr_int(n, "axis", 1);
    if (x->rank == 0) {
        diag_error(d, n, "cannot concatenate scalars");
        return false;
    }
    return ou_axis(n, "axis", a, x->rank, false, axis, d);
}

static bool concat_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    for (int k = 0; k < n->n_inputs; k++) {
        if (!op_require_shape(n, k, d) || !ou_check_holdable(n, k, d)) return false;
    }
    const Value *x = n->inputs[0];
    int axis;
    if (!concat_axis(n, &axis, d)) return false;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[axis] = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        if (v->dtype != x->dtype || v->rank != x->rank) {
            diag_error(d, n, "input %d '%s' is %s of rank %d, input 0 is %s of rank %d", k,
                       v->name, dtype_name(v->dtype), v->rank, dtype_name(x->dtype), x->rank);
            return false;
        }
        for (int j = 0; j < x->rank; j++) {
            if (j != axis && v->dims[j] != x->dims[j]) {
                char s0[128], sk[128];
                diag_error(d, n, "input %d %s does not match input 0 %s outside axis %d", k,
                           ou_shape(sk, sizeof sk, v), ou_shape(s0, sizeof s0, x), axis);
                return false;
            }
        }
        if (!i64_add(dims[axis], v->dims[axis], &dims[axis])) {
            diag_error(d, n, "output is too large");
            return false;
        }
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

static bool concat_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    int axis;
    if (!concat_axis(n, &axis, d) || !ir_value_alloc_data(g, y, d)) return false;
    size_t es = dtype_size(y->dtype);
    int64_t outer = shape_numel(axis, y->dims);
    int64_t inner = shape_numel(y->rank - axis - 1, y->dims + axis + 1);
    int64_t ychunk = y->dims[axis] * inner, off = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        int64_t chunk = v->dims[axis] * inner;
        for (int64_t o = 0; o < outer && chunk > 0; o++)
            memcpy((char *)y->data + (size_t)(o * ychunk + off) * es,
                   (const char *)v->data + (size_t)(o * chunk) * es, (size_t)chunk * es);
        off += chunk;
    }
    return true;
}

/* Is input x in the workspace exactly where its slice of y starts, at byte `start`?  The
 * memory planner puts inputs there when it can (plan_memory.c); nothing is copied then. */
static bool in_its_slice(const Value *x, const Value *y, size_t start) {
    return x->storage == STORAGE_WORKSPACE && y->storage == STORAGE_WORKSPACE &&
           x->ws_offset == y->ws_offset + start;
}

static bool concat_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *y = n->outputs[0];
    int axis;
    if (!concat_axis(n, &axis, d)) return false;
    const char *T = dtype_ctype(y->dtype);
    int64_t outer = shape_numel(axis, y->dims);
    int64_t inner = shape_numel(y->rank - axis - 1, y->dims + axis + 1);
    int64_t ychunk = y->dims[axis] * inner, off = 0;
    bool placed = false, copied = false;
    char sy[128], sv[128];
    emit_line(e, "/* Concat along axis %d into %s */", axis, ou_shape(sy, sizeof sy, y));
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        int64_t chunk = v->dims[axis] * inner;
        if (chunk == 0 || outer == 0) {
            emit_line(e, "(void)x%d; /* empty */", k);
            continue;
        }
        if (outer == 1 && in_its_slice(v, y, (size_t)off * dtype_size(y->dtype))) {
            /* no x name here: the function then takes no pointer it does not use */
            emit_line(e, "/* input %d %s: already in its slice of the output */", k,
                      ou_shape(sv, sizeof sv, v));
            placed = true;
            off += chunk;
            continue;
        }
        copied = true;
        emit_line(e, "/* x%d: %s */", k, ou_shape(sv, sizeof sv, v));
        if (outer == 1)
            emit_line(e, "memcpy(y0 + %lld, x%d, %lld * sizeof(%s));", (long long)off, k,
                      (long long)chunk, T);
        else
            emit_line(e, "for (size_t o = 0; o < %lld; o++) memcpy(y0 + o * %lld + %lld, "
                      "x%d + o * %lld, %lld * sizeof(%s));", (long long)outer,
                      (long long)ychunk, (long long)off, k, (long long)chunk,
                      (long long)chunk, T);
        off += chunk;
    }
    /* The output is still passed in, so that the caller's pointer to it counts as used
     * even when no other node names it (a Concat feeding only another Concat). */
    if (placed && !copied) emit_line(e, "(void)y0;");
    return true;
}

const OpDef op_concat = {
    .name = "Concat", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1 << 20,
    .min_outputs = 1, .max_outputs = 1, .infer = concat_infer, .fold = concat_fold,
    .emit = concat_emit, .memory = OP_MEMORY_SEPARATE,
};

/* ---- Pad ---------------------------------------------------------------------------- */

typedef enum PadMode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } PadMode;

typedef struct PadSpec {
    PadMode mode;
    int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK];
    bool value_const;           /* constant value known at compile time */
    double value;
    int64_t value_i;
} PadSpec;

static bool pad_spec(const Node *n, PadSpec *p, Diag *d) {
    const Value *x = n->inputs[0];
    int r = x->rank;
    memset(p, 0, sizeof *p);
    const char *mode = ir_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") == 0) p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p->mode = PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0 && n->opset >= 19) p->mode = PAD_WRAP;
    else if (strcmp(mode, "wrap") == 0) {
        diag_error(d, n, "mode 'wrap' needs opset 19, the model has opset %d", n->opset);
        return false;
    } else {
        char q[80];
        diag_error(d, n, "unknown mode '%s'", diag_quote(q, sizeof q, mode));
        return false;
    }
    int64_t pads[2 * IR_MAX_RANK];
    int cnt = 0;
    int axes[IR_MAX_RANK];
    int n_axes = r;
    for (int k = 0; k < r; k++) axes[k] = k;
    p->value_const = true;
    if (n->opset < 11) {
        const int64_t *v;
        size_t c = ir_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &v);
        if (c > 2 * IR_MAX_RANK) c = 2 * IR_MAX_RANK + 1;
        for (size_t k = 0; k < c && k < 2 * IR_MAX_RANK; k++) pads[k] = v[k];
        cnt = (int)c;
        p->value = ir_attr_float(n, "value", 0);
        p->value_i = (int64_t)p->value;
    } else {
        if (!op_input(n, 1)) {
            diag_error(d, n, "the pads input is missing");
            return false;
        }
        if (!ou_const_ints(n, 1, pads, 2 * IR_MAX_RANK, &cnt, d)) return false;
        const Value *cv = op_input(n, 2);
        if (cv) {
            if (cv->dtype != x->dtype || ir_numel(cv) != 1) {
                diag_error(d, n, "constant_value '%s' must be one %s", cv->name,
                           dtype_name(x->dtype));
                return false;
            }
            p->value_const = cv->data != NULL;
            if (cv->data) {
                p->value = ou_get_f64(cv, 0);
                p->value_i = ou_get_i64(cv, 0);
            }
        }
        const Value *ax = op_input(n, 3);
        if (ax) {
            int64_t a[IR_MAX_RANK];
            if (!ou_const_ints(n, 3, a, IR_MAX_RANK, &n_axes, d)) return false;
            bool seen[IR_MAX_RANK] = { false };
            for (int k = 0; k < n_axes; k++) {
                if (!ou_axis(n, "axes entry", a[k], r, false, &axes[k], d)) return false;
                if (seen[axes[k]]) {
                    diag_error(d, n, "axis %d appears twice in axes", axes[k]);
                    return false;
                }
                seen[axes[k]] = true;
            }
        }
    }
    if (cnt != 2 * n_axes) {
        diag_error(d, n, "pads has %d values, expected %d", cnt, 2 * n_axes);
        return false;
    }
    for (int k = 0; k < n_axes; k++) {
        p->begin[axes[k]] = pads[k];
        p->end[axes[k]] = pads[k + n_axes];
    }
    return true;
}

static bool pad_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_holdable(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    PadSpec p;
    if (!pad_spec(n, &p, d)) return false;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) {
        if (p.begin[k] < -x->dims[k] || p.end[k] < -x->dims[k]) {
            diag_error(d, n, "pads %lld, %lld on dimension %d of size %lld remove more than "
                       "the dimension", (long long)p.begin[k], (long long)p.end[k], k,
                       (long long)x->dims[k]);
            return false;
        }
        int64_t s;
        if (!i64_add(x->dims[k], p.begin[k], &s) || !i64_add(s, p.end[k], &dims[k]) ||
            dims[k] < 0) {
            diag_error(d, n, "pads %lld, %lld on dimension %d of size %lld give a bad size",
                       (long long)p.begin[k], (long long)p.end[k], k, (long long)x->dims[k]);
            return false;
        }
        if (p.mode != PAD_CONSTANT && x->dims[k] == 0 && dims[k] > 0) {
            diag_error(d, n, "cannot pad an empty dimension %d in mode '%s'", k,
                       ir_attr_string(n, "mode", "constant"));
            return false;
        }
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* Source index of output index i along one axis; false: outside (constant mode). */
static bool pad_src(PadMode mode, int64_t i, int64_t begin, int64_t in, int64_t *j) {
    int64_t s = i - begin;
    if (s >= 0 && s < in) {
        *j = s;
        return true;
    }
    switch (mode) {
    case PAD_CONSTANT: return false;
    case PAD_EDGE: *j = s < 0 ? 0 : in - 1; return true;
    case PAD_WRAP: *j = ((s % in) + in) % in; return true;
    default:
        if (in == 1) {
            *j = 0;
            return true;
        }
        int64_t period = 2 * (in - 1);
        s = ((s % period) + period) % period;
        *j = s >= in ? period - s : s;
        return true;
    }
}

static bool pad_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    PadSpec p;
    if (!pad_spec(n, &p, d) || !ir_value_alloc_data(g, y, d)) return false;
    int r = y->rank;
    int64_t xs[IR_MAX_RANK];
    shape_strides(r, x->dims, xs);
    size_t es = dtype_size(y->dtype);
    int64_t count = ir_numel(y);
    for (int64_t pos = 0; pos < count; pos++) {
        int64_t rem = pos, src = 0;
        bool inside = true;
        for (int k = r - 1; k >= 0; k--) {
            int64_t i = rem % y->dims[k], j;
            rem /= y->dims[k];
            if (pad_src(p.mode, i, p.begin[k], x->dims[k], &j)) src += j * xs[k];
            else inside = false;
        }
        if (inside) ou_copy_elems(y->data, pos, x->data, src, es);
        else if (dtype_is_float(y->dtype) || dtype_is_lowp_float(y->dtype))
            ou_set_f64(y, pos, p.value);
        else ou_set_i64(y, pos, p.value_i);
    }
    return true;
}

static bool pad_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *y = n->outputs[0];
    PadSpec p;
    if (!pad_spec(n, &p, d)) return false;
    const char *T = dtype_ctype(y->dtype);
    int r = y->rank;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
    shape_strides(r, x->dims, xs);
    shape_strides(r, y->dims, ys);
    char sx[128], sy[128], lit[40];
    emit_line(e, "/* Pad (%s) %s -> %s */", ir_attr_string(n, "mode", "constant"),
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, y));
    if (n->opset >= 11) emit_line(e, "(void)x1;");
    if (op_input(n, 3)) emit_line(e, "(void)x3;");
    if (ir_numel(y) == 0) {
        emit_line(e, "(void)x0; (void)y0;");
        if (op_input(n, 2) && n->opset >= 11) emit_line(e, "(void)x2;");
        return true;
    }
    bool no_op = true;
    for (int k = 0; k < r; k++) no_op &= p.begin[k] == 0 && p.end[k] == 0;
    if (no_op) {
        if (op_input(n, 2) && n->opset >= 11) emit_line(e, "(void)x2;");
        emit_line(e, "memcpy(y0, x0, %zu); /* all pads are 0 */", ir_nbytes(y));
        return true;
    }
    if (p.mode == PAD_CONSTANT) {
        if (op_input(n, 2) && !p.value_const) emit_line(e, "const %s cval = x2[0];", T);
        else {
            if (op_input(n, 2) && n->opset >= 11) emit_line(e, "(void)x2;");
            emit_line(e, "const %s cval = %s;", T, ou_literal(lit, y->dtype, p.value,
                                                               p.value_i));
        }
    } else if (op_input(n, 2) && n->opset >= 11) {
        emit_line(e, "(void)x2;");
    }
    char yidx[256] = "", xidx[256] = "";
    size_t yu = 0, xu = 0;
    int flag = -1;      /* constant mode: the axis of the last "inside" flag */
    for (int k = 0; k < r; k++) {
        long long in = (long long)x->dims[k], b = (long long)p.begin[k];
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)y->dims[k],
                  k);
        if (p.begin[k] == 0 && p.end[k] == 0) {
            emit_line(e, "const ptrdiff_t j%d = (ptrdiff_t)i%d; /* not padded */", k, k);
        } else {
            emit_line(e, "ptrdiff_t j%d = (ptrdiff_t)i%d - %lld;", k, k, b);
            switch (p.mode) {
            case PAD_CONSTANT:
                if (flag < 0) emit_line(e, "const bool in%d = (size_t)j%d < (size_t)%lld;", k, k,
                                        in);
                else emit_line(e, "const bool in%d = in%d && (size_t)j%d < (size_t)%lld;", k,
                               flag, k, in);
                flag = k;
                break;
            case PAD_EDGE:
                emit_line(e, "j%d = j%d < 0 ? 0 : (j%d >= %lld ? %lld : j%d);", k, k, k, in,
                          in - 1, k);
                break;
            case PAD_WRAP:
                emit_line(e, "j%d %%= %lld;", k, in);
                emit_line(e, "if (j%d < 0) j%d += %lld;", k, k, in);
                break;
            default:
                /* reflect: fold j onto a period of 2 * (in - 1) */
                if (in == 1) {
                    emit_line(e, "j%d = 0;", k);
                } else {
                    emit_line(e, "j%d %%= %lld;", k, 2 * (in - 1));
                    emit_line(e, "if (j%d < 0) j%d += %lld;", k, k, 2 * (in - 1));
                    emit_line(e, "if (j%d >= %lld) j%d = %lld - j%d;", k, in, k, 2 * (in - 1),
                              k);
                }
                break;
            }
        }
        const char *sep = k ? " + " : "";
        if (ys[k] == 1) yu += (size_t)snprintf(yidx + yu, sizeof yidx - yu, "%si%d", sep, k);
        else yu += (size_t)snprintf(yidx + yu, sizeof yidx - yu, "%si%d * %lld", sep, k,
                                    (long long)ys[k]);
        if (xs[k] == 1) xu += (size_t)snprintf(xidx + xu, sizeof xidx - xu, "%sj%d", sep, k);
        else xu += (size_t)snprintf(xidx + xu, sizeof xidx - xu, "%sj%d * %lld", sep, k,
                                    (long long)xs[k]);
        if (yu >= sizeof yidx || xu >= sizeof xidx) {
            diag_error(d, n, "index expression too long");
            return false;
        }
    }
    if (r == 0) {
        emit_line(e, "y0[0] = x0[0];");
        if (p.mode == PAD_CONSTANT) emit_line(e, "(void)cval;");
        return true;
    }
    if (flag >= 0) {
        emit_line(e, "y0[%s] = in%d ? x0[%s] : cval;", yidx, flag, xidx);
    } else {
        if (p.mode == PAD_CONSTANT) emit_line(e, "(void)cval;");
        emit_line(e, "y0[%s] = x0[%s];", yidx, xidx);
    }
    for (int k = 0; k < r; k++) emit_close(e);
    return true;
}

const OpDef op_pad = {
    .name = "Pad", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 4,
    .min_outputs = 1, .max_outputs = 1, .infer = pad_infer, .fold = pad_fold,
    .emit = pad_emit, .memory = OP_MEMORY_SEPARATE,
};
