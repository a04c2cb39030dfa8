/* reduce.c: the Reduce* family (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare).
 *
 * One table gives each op its accumulator: the initial value, the C statement that adds
 * one element `v` to `acc`, and the final expression.  The axes come from the attribute
 * (opset < 18, ReduceSum < 13) or from a constant second input.  The shape is reduced to
 * a canonical nest: size-1 dims dropped and neighbouring dims of the same kind (kept or
 * reduced) merged, so a mean over H x W or over the last axis is one outer loop over the
 * outputs and one contiguous inner loop.  ArgMax and ArgMin live here too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

typedef enum RedKind {
    RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2, RED_LOG_SUM,
    RED_LOG_SUM_EXP, RED_SUM_SQUARE,
} RedKind;

typedef struct RedInfo {
    RedKind kind;
    int axes_input_since;   /* opset from which axes is an input, not an attribute */
} RedInfo;

static const RedInfo red_sum = { RED_SUM, 13 };
static const RedInfo red_mean = { RED_MEAN, 18 };
static const RedInfo red_max = { RED_MAX, 18 };
static const RedInfo red_min = { RED_MIN, 18 };
static const RedInfo red_prod = { RED_PROD, 18 };
static const RedInfo red_l1 = { RED_L1, 18 };
static const RedInfo red_l2 = { RED_L2, 18 };
static const RedInfo red_log_sum = { RED_LOG_SUM, 18 };
static const RedInfo red_log_sum_exp = { RED_LOG_SUM_EXP, 18 };
static const RedInfo red_sum_square = { RED_SUM_SQUARE, 18 };

static const RedInfo *red_info(const Node *n) { return n->op->data; }

/* The reduction of one node, resolved from attributes and inputs. */
typedef struct RedPlan {
    bool reduced[IR_MAX_RANK];  /* per input axis */
    bool noop;                  /* empty axes with noop_with_empty_axes: output = input */
    int64_t count;              /* elements reduced into each output */
} RedPlan;

static bool red_plan(const Node *n, RedPlan *p, Diag *d) {
    const Value *x = n->inputs[0];
    memset(p, 0, sizeof *p);
    int64_t axes[IR_MAX_RANK];
    int n_axes = 0;
    if (n->opset >= red_info(n)->axes_input_since) {
        if (op_input(n, 1) && !ou_const_ints(n, 1, axes, IR_MAX_RANK, &n_axes, d))
            return false;
    } else {
        const int64_t *a;
        size_t count = ir_attr_ints(n, "axes", &a);
        if (count > IR_MAX_RANK) {
            diag_error(d, n, "axes has %zu entries, more than the rank %d", count, x->rank);
            return false;
        }
        for (size_t k = 0; k < count; k++) axes[k] = a[k];
        n_axes = (int)count;
    }
    int64_t noop = ir_attr_int(n, "noop_with_empty_axes", 0);
    if (noop != 0 && noop != 1) {
        diag_error(d, n, "noop_with_empty_axes must be 0 or 1, not %lld", (long long)noop);
        return false;
    }
    if (n_axes == 0) {
        if (noop) {
            p->noop = true;
            p->count = 1;
            return true;
        }
        for (int k = 0; k < x->rank; k++) p->reduced[k] = true;
    }
    for (int k = 0; k < n_axes; k++) {
        int ax;
        if (!ou_axis(n, "axis", axes[k], x->rank, false, &ax, d)) return false;
        if (p->reduced[ax]) {
            diag_error(d, n, "axis %lld is listed twice", (long long)axes[k]);
            return false;
        }
        p->reduced[ax] = true;
    }
    p->count = 1;
    for (int k = 0; k < x->rank; k++)
        if (p->reduced[k]) p->count *= x->dims[k];   /* <= numel(x), no overflow */
    return true;
}

static bool dtype_is_signed_int(DType t) {
    return t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64;
}

static bool red_float_only(RedKind k) {
    return k == RED_L2 || k == RED_LOG_SUM || k == RED_LOG_SUM_EXP;
}

static bool red_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    RedKind kind = red_info(n)->kind;
    bool bool_ok = (kind == RED_MAX || kind == RED_MIN) && x->dtype == DT_BOOL;
    if (!bool_ok) {
        if (!ou_check_dtype(n, 0, red_float_only(kind) ? ou_float_types : ou_numeric_types, d))
            return false;
    }
    int64_t keepdims = ir_attr_int(n, "keepdims", 1);
    if (keepdims != 0 && keepdims != 1) {
        diag_error(d, n, "keepdims must be 0 or 1, not %lld", (long long)keepdims);
        return false;
    }
    RedPlan p;
    if (!red_plan(n, &p, d)) return false;
    if (p.noop) return op_infer_like_input0(g, n, d);
    int rank = 0;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) {
        if (!p.reduced[k]) dims[rank++] = x->dims[k];
        else if (keepdims) dims[rank++] = 1;
    }
    ir_value_set_shape(n->outputs[0], x->dtype, rank, dims);
    return true;
}

/* The canonical nest: kept dims (outer, output order) and reduced dims (inner), each with
 * its element stride in x; kept dims also with their stride in y. */
typedef struct RedNest {
    int n_kept, n_red;
    int64_t kept[IR_MAX_RANK], kept_xs[IR_MAX_RANK], kept_ys[IR_MAX_RANK];
    int64_t red[IR_MAX_RANK], red_xs[IR_MAX_RANK];
} RedNest;

static void red_nest(const Value *x, const RedPlan *p, RedNest *r) {
    int64_t xs[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    memset(r, 0, sizeof *r);
    int last = -1;  /* kind of the previous kept dim: 0 kept, 1 reduced */
    for (int k = 0; k < x->rank; k++) {
        if (x->dims[k] == 1) continue;
        int kind = p->reduced[k] ? 1 : 0;
        int64_t *sz = kind ? r->red : r->kept, *st = kind ? r->red_xs : r->kept_xs;
        int *cnt = kind ? &r->n_red : &r->n_kept;
        /* x is contiguous: a dim right after one of the same kind merges into it */
        if (last == kind && *cnt > 0) {
            sz[*cnt - 1] *= x->dims[k];
            st[*cnt - 1] = xs[k];
        } else {
            sz[*cnt] = x->dims[k];
            st[*cnt] = xs[k];
            (*cnt)++;
        }
        last = kind;
    }
    int64_t s = 1;
    for (int k = r->n_kept - 1; k >= 0; k--) {
        r->kept_ys[k] = s;
        s *= r->kept[k];
    }
}

/* Folding: the same accumulation in double. */
static double red_fold_one(RedKind kind, const Value *x, const RedNest *r, int64_t xbase,
                           int64_t count) {
    int64_t total = 1;
    for (int k = 0; k < r->n_red; k++) total *= r->red[k];
    double acc = 0, m = -INFINITY;
    if (kind == RED_MAX) acc = -INFINITY;
    if (kind == RED_MIN) acc = INFINITY;
    if (kind == RED_PROD) acc = 1;
    for (int pass = 0; pass < (kind == RED_LOG_SUM_EXP ? 2 : 1); pass++) {
        for (int64_t q = 0; q < total; q++) {
            int64_t off = xbase, rest = q;
            for (int k = r->n_red - 1; k >= 0; k--) {
                off += (rest % r->red[k]) * r->red_xs[k];
                rest /= r->red[k];
            }
            double v = ou_get_f64(x, off);
            switch (kind) {
            case RED_MAX: acc = v > acc ? v : acc; break;
            case RED_MIN: acc = v < acc ? v : acc; break;
            case RED_PROD: acc *= v; break;
            case RED_L1: acc += fabs(v); break;
            case RED_L2: case RED_SUM_SQUARE: acc += v * v; break;
            case RED_LOG_SUM_EXP:
                if (pass == 0) m = v > m ? v : m;
                else acc += exp(v - m);
                break;
            default: acc += v; break;
            }
        }
        if (kind == RED_LOG_SUM_EXP && pass == 0 && !isfinite(m)) m = 0;
    }
    switch (kind) {
    case RED_MEAN: return count ? acc / (double)count : NAN;
    case RED_L2: return sqrt(acc);
    case RED_LOG_SUM: return log(acc);
    case RED_LOG_SUM_EXP: return m + log(acc);
    default: return acc;
    }
}

static bool red_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    RedPlan p;
    if (!red_plan(n, &p, d)) return false;
    if (!ir_value_alloc_data(g, y, d)) return false;
    if (p.noop) {
        memcpy(y->data, x->data, ir_nbytes(x));
        return true;
    }
    RedNest r;
    red_nest(x, &p, &r);
    RedKind kind = red_info(n)->kind;
    int64_t outs = ir_numel(y);
    bool exact_int = dtype_is_integer(x->dtype) && x->dtype != DT_UINT64 &&
                     kind != RED_MEAN;
    for (int64_t o = 0; o < outs; o++) {
        int64_t xbase = 0, rest = o;
        for (int k = r.n_kept - 1; k >= 0; k--) {
            xbase += (rest % r.kept[k]) * r.kept_xs[k];
            rest /= r.kept[k];
        }
        if (x->dtype == DT_BOOL) {
            int64_t total = p.count, acc = kind == RED_MIN ? 1 : 0;
            for (int64_t q = 0; q < total; q++) {
                int64_t off = xbase, rr = q;
                for (int k = r.n_red - 1; k >= 0; k--) {
                    off += (rr % r.red[k]) * r.red_xs[k];
                    rr /= r.red[k];
                }
                int64_t v = ir_const_get_i64(x, off) != 0;
                acc = kind == RED_MIN ? (acc && v) : (acc || v);
            }
            ir_const_set_i64(y, o, acc);
        } else if (exact_int && kind != RED_MAX && kind != RED_MIN) {
            /* integer sums and products wrap, like the emitted unsigned arithmetic */
            uint64_t acc = kind == RED_PROD ? 1 : 0;
            for (int64_t q = 0; q < p.count; q++) {
                int64_t off = xbase, rr = q;
                for (int k = r.n_red - 1; k >= 0; k--) {
                    off += (rr % r.red[k]) * r.red_xs[k];
                    rr /= r.red[k];
                }
                int64_t v = ir_const_get_i64(x, off);
                if (kind == RED_L1 && v < 0) v = (int64_t)(0u - (uint64_t)v);
                if (kind == RED_PROD) acc *= (uint64_t)v;
                else if (kind == RED_SUM_SQUARE) acc += (uint64_t)v * (uint64_t)v;
                else acc += (uint64_t)v;
            }
            ir_const_set_i64(y, o, (int64_t)acc);
        } else {
            double v = red_fold_one(kind, x, &r, xbase, p.count);
            if (dtype_is_integer(x->dtype) && kind == RED_MEAN)
                v = p.count ? trunc(v) : 0;
            if (dtype_is_integer(x->dtype) && (kind == RED_MAX || kind == RED_MIN) &&
                p.count == 0) {
                /* empty set: the identity of the emitted code (lowest / highest) */
                ou_set_f64(y, o, kind == RED_MAX ? -1e300 : 1e300);
                continue;
            }
            ou_set_f64(y, o, v);
        }
    }
    return true;
}

/* The C index expression sum(var_k * stride_k) for a group of loop variables. */
static void red_index(char *s, size_t size, const char *var, int count, const int64_t *st,
                      const char *prefix) {
    size_t used = (size_t)snprintf(s, size, "%s", prefix);
    for (int k = 0; k < count && used < size; k++) {
        const char *sep = used ? " + " : "";
        if (st[k] == 1) used += (size_t)snprintf(s + used, size - used, "%s%s%d", sep, var, k);
        else used += (size_t)snprintf(s + used, size - used, "%s%s%d * %lld", sep, var, k,
                                      (long long)st[k]);
    }
    if (!used) snprintf(s, size, "0");
}

/* Lowest / highest value of an integer type as a C expression. */
static const char *int_limit(DType t, bool highest) {
    switch (t) {
    case DT_INT8: return highest ? "INT8_MAX" : "INT8_MIN";
    case DT_INT16: return highest ? "INT16_MAX" : "INT16_MIN";
    case DT_INT32: return highest ? "INT32_MAX" : "INT32_MIN";
    case DT_INT64: return highest ? "INT64_MAX" : "INT64_MIN";
    case DT_UINT8: return highest ? "UINT8_MAX" : "0";
    case DT_UINT16: return highest ? "UINT16_MAX" : "0";
    case DT_UINT32: return highest ? "UINT32_MAX" : "0";
    default: return highest ? "UINT64_MAX" : "0";
    }
}

static bool red_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0], *y = n->outputs[0];
    RedKind kind = red_info(n)->kind;
    RedPlan p;
    if (!red_plan(n, &p, d)) return false;
    char sx[128], sy[128];
    emit_line(e, "/* %s: %s -> %s */", n->op_type, ou_shape(sx, sizeof sx, x),
              ou_shape(sy, sizeof sy, y));
    if (op_input(n, 1)) emit_line(e, "(void)x1;");
    if (p.noop) {
        emit_line(e, "memcpy(y0, x0, %zu);", ir_nbytes(x));
        return true;
    }
    RedNest r;
    red_nest(x, &p, &r);
    DType t = x->dtype;
    bool half = ou_is_half(t), fl = dtype_is_float(t), is_bool = t == DT_BOOL;
    /* accumulator type: float for half types, the element type otherwise, integer sums
     * and products in uint64_t (wrap-around, no UB; exact modulo the width) */
    const char *A = half ? "float" : dtype_ctype(t);
    const char *U = "uint64_t";
    bool uacc = !fl && !is_bool && kind != RED_MAX && kind != RED_MIN;
    if (uacc) A = U;
    const char *sq = t == DT_DOUBLE ? "sqrt" : "sqrtf";
    const char *lg = t == DT_DOUBLE ? "log" : "logf";
    const char *ex = t == DT_DOUBLE ? "exp" : "expf";
    char init[48];
    switch (kind) {
    case RED_MAX:
        if (is_bool) snprintf(init, sizeof init, "false");
        else snprintf(init, sizeof init, "%s", fl ? "-ONNXCC_INF" : int_limit(t, false));
        break;
    case RED_MIN:
        if (is_bool) snprintf(init, sizeof init, "true");
        else snprintf(init, sizeof init, "%s", fl ? "ONNXCC_INF" : int_limit(t, true));
        break;
    case RED_PROD: snprintf(init, sizeof init, "1"); break;
    default: snprintf(init, sizeof init, "0"); break;
    }
    for (int k = 0; k < r.n_kept; k++)
        emit_open(e, "for (size_t a%d = 0; a%d < %lld; a%d++)", k, k, (long long)r.kept[k], k);
    char xb[200], yi[200], xi[400];
    red_index(xb, sizeof xb, "a", r.n_kept, r.kept_xs, "");
    red_index(yi, sizeof yi, "a", r.n_kept, r.kept_ys, "");
    char pre[210];
    snprintf(pre, sizeof pre, "%s", xb);
    if (strcmp(pre, "0") == 0) pre[0] = 0;
    red_index(xi, sizeof xi, "b", r.n_red, r.red_xs, pre);
    int passes = kind == RED_LOG_SUM_EXP ? 2 : 1;
    if (kind == RED_LOG_SUM_EXP) emit_line(e, "%s m = -ONNXCC_INF;", A);
    emit_line(e, "%s acc = %s;", A, init);
    /* sums over one contiguous run: partial sums that vectorise */
    if (p.count == 0) {
        /* empty reduction: the initial value (sum 0, max -inf ...), no loop */
        passes = 0;
        emit_line(e, "/* empty reduction */");
    }
    bool fast = p.count > 0 && fl && !half && r.n_red == 1 && r.red_xs[0] == 1 &&
                (kind == RED_SUM || kind == RED_MEAN || kind == RED_SUM_SQUARE ||
                 kind == RED_L2 || kind == RED_L1);
    if (fast) {
        char load[300];
        if (pre[0]) snprintf(load, sizeof load, "x0[%s + j]", pre);
        else snprintf(load, sizeof load, "x0[j]");
        const char *term = kind == RED_SUM_SQUARE || kind == RED_L2 ? "v * v" :
                           kind == RED_L1 ? "(v < 0 ? -v : v)" : "v";
        ou_emit_sum_loop(e, A, "acc", r.red[0], load, term);
        passes = 0;
    }
    for (int pass = 0; pass < passes; pass++) {
        for (int k = 0; k < r.n_red; k++)
            emit_open(e, "for (size_t b%d = 0; b%d < %lld; b%d++)", k, k, (long long)r.red[k],
                      k);
        char src[420];
        snprintf(src, sizeof src, "x0[%s]", xi);
        if (half) ou_emit_half_load(e, t, "v", src);
        else if (uacc) emit_line(e, "const %s v = (%s)%s;", A, A, src);
        else emit_line(e, "const %s v = %s;", A, src);
        switch (kind) {
        case RED_MAX:
            if (is_bool) emit_line(e, "acc = acc || v;");
            else emit_line(e, "acc = v > acc ? v : acc;");
            break;
        case RED_MIN:
            if (is_bool) emit_line(e, "acc = acc && v;");
            else emit_line(e, "acc = v < acc ? v : acc;");
            break;
        case RED_PROD: emit_line(e, "acc *= v;"); break;
        case RED_L1:
            if (fl) emit_line(e, "acc += v < 0 ? -v : v;");
            else if (dtype_is_signed_int(t)) emit_line(e, "acc += %s < 0 ? 0u - v : v;", src);
            else emit_line(e, "acc += v;");
            break;
        case RED_L2: case RED_SUM_SQUARE: emit_line(e, "acc += v * v;"); break;
        case RED_LOG_SUM_EXP:
            if (pass == 0) emit_line(e, "m = v > m ? v : m;");
            else emit_line(e, "acc += %s(v - m);", ex);
            break;
        default: emit_line(e, "acc += v;"); break;
        }
        for (int k = 0; k < r.n_red; k++) emit_close(e);
        if (kind == RED_LOG_SUM_EXP && pass == 0)
            emit_line(e, "if (!isfinite(m)) m = 0; /* all -inf or empty */");
    }
    char res[96], cnt[40];
    switch (kind) {
    case RED_MEAN:
        if (fl) {
            snprintf(res, sizeof res, "acc / %s", ou_literal(cnt, half ? DT_FLOAT : t,
                                                               (double)p.count, p.count));
        } else if (p.count == 0) {
            snprintf(res, sizeof res, "0");
        } else {
            /* mean of integers: the signed sum divided, truncating toward zero */
            snprintf(res, sizeof res, "(%s)((%s)acc / %lld)", dtype_ctype(t),
                     dtype_is_signed_int(t) ? "int64_t" : "uint64_t", (long long)p.count);
        }
        break;
    case RED_L2: snprintf(res, sizeof res, "%s(acc)", sq); break;
    case RED_LOG_SUM: snprintf(res, sizeof res, "%s(acc)", lg); break;
    case RED_LOG_SUM_EXP: snprintf(res, sizeof res, "m + %s(acc)", lg); break;
    default:
        if (uacc) snprintf(res, sizeof res, "(%s)acc", dtype_ctype(t));
        else snprintf(res, sizeof res, "acc");
        break;
    }
    char dst[220];
    snprintf(dst, sizeof dst, "y0[%s]", yi);
    if (half) {
        emit_line(e, "const float r = %s;", res);
        ou_emit_half_store(e, t, dst, "r");
    } else {
        emit_line(e, "%s = %s;", dst, res);
    }
    for (int k = 0; k < r.n_kept; k++) emit_close(e);
    return true;
}

static int64_t red_flops(const Node *n) {
    int64_t c = ir_numel(n->inputs[0]);
    return c > 0 ? c : 0;
}

#define RED_OP(var, NAME, INFO)                                                              \
    const OpDef var = {                                                                      \
        .name = NAME, .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 2,           \
        .min_outputs = 1, .max_outputs = 1, .infer = red_infer, .fold = red_fold,           \
        .emit = red_emit, .memory = OP_MEMORY_SEPARATE, .flops = red_flops, .data = &INFO,  \
    }

RED_OP(op_reducesum, "ReduceSum", red_sum);
RED_OP(op_reducemean, "ReduceMean", red_mean);
RED_OP(op_reducemax, "ReduceMax", red_max);
RED_OP(op_reducemin, "ReduceMin", red_min);
RED_OP(op_reduceprod, "ReduceProd", red_prod);
RED_OP(op_reducel1, "ReduceL1", red_l1);
RED_OP(op_reducel2, "ReduceL2", red_l2);
RED_OP(op_reducelogsum, "ReduceLogSum", red_log_sum);
RED_OP(op_reducelogsumexp, "ReduceLogSumExp", red_log_sum_exp);
RED_OP(op_reducesumsquare, "ReduceSumSquare", red_sum_square);

/* ---- ArgMax, ArgMin ----
 * x is seen as [outer][D][inner] around the axis; the output (int64) as [outer][inner].
 * The first extreme index wins, or the last with select_last_index. */

static const DType arg_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_INT8, DT_INT16, DT_INT32, DT_INT64, DT_UINT8, DT_UINT16,
    DT_UINT32, DT_UINT64, DT_UNDEFINED,
};

static bool arg_is_max(const Node *n) { return strcmp(n->op_type, "ArgMax") == 0; }

static bool arg_geom(const Node *n, int *axis, int64_t *outer, int64_t *dim, int64_t *inner,
                     Diag *d) {
    const Value *x = n->inputs[0];
    if (!ou_axis(n, "axis", ir_attr_int(n, "axis", 0), x->rank, false, axis, d)) return false;
    ou_axis_split(x, *axis, outer, dim, inner);
    return true;
}

static bool arg_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d)) return false;
    if (!ou_check_dtype(n, 0, arg_types, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank == 0) {
        diag_error(d, n, "input must have rank >= 1");
        return false;
    }
    int64_t keepdims = ir_attr_int(n, "keepdims", 1);
    int64_t last = ir_attr_int(n, "select_last_index", 0);
    if ((keepdims != 0 && keepdims != 1) || (last != 0 && last != 1)) {
        diag_error(d, n, "keepdims and select_last_index must be 0 or 1");
        return false;
    }
    int axis;
    int64_t outer, dim, inner;
    if (!arg_geom(n, &axis, &outer, &dim, &inner, d)) return false;
    if (dim == 0) {
        diag_error(d, n, "the axis %d has no elements, there is no index to return", axis);
        return false;
    }
    int rank = 0;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) {
        if (k != axis) dims[rank++] = x->dims[k];
        else if (keepdims) dims[rank++] = 1;
    }
    ir_value_set_shape(n->outputs[0], DT_INT64, rank, dims);
    return true;
}

static bool arg_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    int axis;
    int64_t outer, dim, inner;
    if (!arg_geom(n, &axis, &outer, &dim, &inner, d)) return false;
    if (!ir_value_alloc_data(g, y, d)) return false;
    bool is_max = arg_is_max(n), last = ir_attr_int(n, "select_last_index", 0) != 0;
    bool fl = dtype_is_float(x->dtype), u64 = x->dtype == DT_UINT64;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * dim * inner + i, best = 0;
            for (int64_t k = 1; k < dim; k++) {
                int64_t p = base + k * inner, q = base + best * inner;
                int c;   /* sign of x[p] - x[q] */
                if (fl) {
                    double a = ou_get_f64(x, p), b = ou_get_f64(x, q);
                    c = a > b ? 1 : a < b ? -1 : 0;
                } else if (u64) {
                    uint64_t a = (uint64_t)ir_const_get_i64(x, p);
                    uint64_t b = (uint64_t)ir_const_get_i64(x, q);
                    c = a > b ? 1 : a < b ? -1 : 0;
                } else {
                    int64_t a = ir_const_get_i64(x, p), b = ir_const_get_i64(x, q);
                    c = a > b ? 1 : a < b ? -1 : 0;
                }
                if (!is_max) c = -c;
                if (c > 0 || (c == 0 && last)) best = k;
            }
            ir_const_set_i64(y, o * inner + i, best);
        }
    }
    return true;
}

static bool arg_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    int axis;
    int64_t outer, dim, inner;
    if (!arg_geom(n, &axis, &outer, &dim, &inner, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    bool last = ir_attr_int(n, "select_last_index", 0) != 0;
    const char *cmp = arg_is_max(n) ? (last ? ">=" : ">") : (last ? "<=" : "<");
    const char *T = dtype_ctype(x->dtype);
    char sx[128];
    emit_line(e, "/* %s: %s along axis %d */", n->op_type, ou_shape(sx, sizeof sx, x), axis);
    emit_open(e, "for (size_t o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)inner);
    emit_line(e, "const %s *xp = x0 + o * %lld + i;", T, (long long)(dim * inner));
    emit_line(e, "%s best = xp[0];", T);
    emit_line(e, "int64_t at = 0;");
    emit_open(e, "for (size_t k = 1; k < %lld; k++)", (long long)dim);
    emit_line(e, "const %s v = xp[k * %lld];", T, (long long)inner);
    emit_open(e, "if (v %s best)", cmp);
    emit_line(e, "best = v;");
    emit_line(e, "at = (int64_t)k;");
    emit_close(e);
    emit_close(e);
    emit_line(e, "y0[o * %lld + i] = at;", (long long)inner);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_argmax = {
    .name = "ArgMax", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = arg_infer, .fold = arg_fold,
    .emit = arg_emit, .memory = OP_MEMORY_SEPARATE, .flops = red_flops,
};

const OpDef op_argmin = {
    .name = "ArgMin", .domain = "", .since = 1, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = arg_infer, .fold = arg_fold,
    .emit = arg_emit, .memory = OP_MEMORY_SEPARATE, .flops = red_flops,
};
