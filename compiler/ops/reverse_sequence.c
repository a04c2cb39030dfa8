/* reverse_sequence.c: ReverseSequence.  x has rank >= 2 with a time axis and a batch
 * axis (attributes time_axis and batch_axis, 0 and 1 in some order; 0 and 1 by default);
 * sequence_lens (int64, one per batch entry) says how many leading time steps of each
 * batch entry are reversed; the steps after them are copied as they are.  A length
 * outside [0, time steps] makes the generated function return 1 (a constant one is
 * refused when folding). */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

typedef struct RsView {
    int time_axis, batch_axis;
    int64_t steps, batch, inner;    /* dims along time and batch, elements per (t, b) */
} RsView;

static bool rs_view(const Node *n, RsView *v, Diag *d) {
    const Value *x = n->inputs[0];
    const int64_t ta = ir_attr_int(n, "time_axis", 0), ba = ir_attr_int(n, "batch_axis", 1);
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) {
        diag_error(d, n, "time_axis (%lld) and batch_axis (%lld) must be 0 and 1, in either "
                   "order", (long long)ta, (long long)ba);
        return false;
    }
    v->time_axis = (int)ta;
    v->batch_axis = (int)ba;
    v->steps = x->dims[ta];
    v->batch = x->dims[ba];
    v->inner = 1;       /* a sub-product of x's dims, which fits: no overflow */
    for (int a = 2; a < x->rank; a++) v->inner *= x->dims[a];
    return true;
}

/* Element offset of (time t, batch b)'s first inner element. */
static int64_t rs_offset(const RsView *v, int64_t t, int64_t b) {
    return (v->time_axis == 0 ? t * v->batch + b : b * v->steps + t) * v->inner;
}

static bool rs_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!ou_require_typed(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *lens = n->inputs[1];
    if (x->rank < 2) {
        diag_error(d, n, "input '%s' has rank %d, ReverseSequence needs 2 or more", x->name,
                   x->rank);
        return false;
    }
    RsView v;
    if (!rs_view(n, &v, d)) return false;
    if (lens->dtype != DT_INT64 || lens->rank != 1 || lens->dims[0] != v.batch) {
        char sl[128];
        diag_error(d, n, "sequence_lens '%s' is %s, expected int64[%lld] (one per batch entry)",
                   lens->name, ou_shape(sl, sizeof sl, lens), (long long)v.batch);
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, x->dims, d);
}

static bool rs_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *lens = n->inputs[1];
    Value *y = n->outputs[0];
    RsView v;
    if (!rs_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    const size_t es = dtype_size(x->dtype);
    for (int64_t b = 0; b < v.batch; b++) {
        const int64_t len = ir_const_get_i64(lens, b);
        if (len < 0 || len > v.steps) {
            diag_error(d, n, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b,
                       (long long)len, (long long)v.steps);
            return false;
        }
        for (int64_t t = 0; t < v.steps; t++) {
            const int64_t from = t < len ? len - 1 - t : t;
            for (int64_t i = 0; i < v.inner; i++)
                ou_copy_elems(y->data, rs_offset(&v, t, b) + i, x->data,
                              rs_offset(&v, from, b) + i, es);
        }
    }
    return true;
}

static bool rs_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    RsView v;
    if (!rs_view(n, &v, d)) return false;
    char sx[128];
    emit_line(e, "/* ReverseSequence of %s: time axis %d, batch axis %d; %lld elements per "
              "step */", ou_shape(sx, sizeof sx, x), v.time_axis, v.batch_axis,
              (long long)v.inner);
    if (ir_numel(x) == 0) {
        emit_line(e, "(void)x0; (void)x1; (void)y0;");
        return true;
    }
    /* offsets of (t, b) as rs_offset computes them */
    const long long t_stride = (long long)(v.time_axis == 0 ? v.batch : 1) * v.inner;
    const long long b_stride = (long long)(v.time_axis == 0 ? 1 : v.steps) * v.inner;
    emit_open(e, "for (size_t b = 0; b < %lld; b++)", (long long)v.batch);
    emit_line(e, "const int64_t len = x1[b];");
    emit_line(e, "if (len < 0 || len > %lld) return 1; /* length out of range */",
              (long long)v.steps);
    emit_open(e, "for (int64_t t = 0; t < %lld; t++)", (long long)v.steps);
    emit_line(e, "const int64_t from = t < len ? len - 1 - t : t;");
    emit_line(e, "memcpy(&y0[(size_t)t * %lld + b * %lld], &x0[(size_t)from * %lld + b * %lld], "
              "%zu);", t_stride, b_stride, t_stride, b_stride,
              (size_t)v.inner * dtype_size(x->dtype));
    emit_close(e);
    emit_close(e);
    return true;   /* the backend adds the final `return 0;` */
}

const OpDef op_reversesequence = {
    .name = "ReverseSequence", .domain = "", .since = 10, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = rs_infer, .fold = rs_fold, .emit = rs_emit,
    .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
