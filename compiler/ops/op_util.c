/* op_util.c: helpers shared by the op files; see op_util.h. */
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "onnxcc_lowp.h"

const DType ou_float_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_UNDEFINED };
const DType ou_numeric_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
    DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_UNDEFINED,
};
const DType ou_signed_types[] = {
    DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
    DT_UNDEFINED,
};
const DType ou_lowp_float_types[] = {
    DT_FLOAT8E4M3FN, DT_FLOAT8E4M3FNUZ, DT_FLOAT8E5M2, DT_FLOAT8E5M2FNUZ, DT_FLOAT8E8M0,
    DT_FLOAT4E2M1, DT_UNDEFINED,
};
const DType ou_lowp_int_types[] = { DT_INT4, DT_UINT4, DT_INT2, DT_UINT2, DT_UNDEFINED };

/* ---- half types (onnxcc_lowp.h holds the rules, shared with the generated code) ---- */

float ou_half_to_float(uint16_t h) { return onnxcc_f16_to_float(h); }
uint16_t ou_float_to_half(float f) { return onnxcc_float_to_f16(f); }
float ou_bf16_to_float(uint16_t h) { return onnxcc_bf16_to_float(h); }
uint16_t ou_float_to_bf16(float f) { return onnxcc_float_to_bf16(f); }

double ou_round_to(DType t, double x) {
    switch (t) {
    case DT_FLOAT: return (float)x;
    case DT_FLOAT16: return onnxcc_f16_to_float(onnxcc_float_to_f16((float)x));
    case DT_BFLOAT16: return onnxcc_bf16_to_float(onnxcc_float_to_bf16((float)x));
    default: return x;
    }
}

/* ---- typed element access --------------------------------------------------------- */

double ou_get_f64(const Value *v, int64_t i) {
    switch (v->dtype) {
    case DT_FLOAT16: return ou_half_to_float(((const uint16_t *)v->data)[i]);
    case DT_BFLOAT16: return ou_bf16_to_float(((const uint16_t *)v->data)[i]);
    default:
        if (dtype_is_lowp(v->dtype)) return ou_lowp_get(v->dtype, v->data, i);
        return ir_const_get_f64(v, i);
    }
}

/* ---- low-precision types (onnxcc_lowp.h holds the rules) ---------------------------- */

double ou_lowp_get(DType t, const void *data, int64_t i) {
    if (dtype_is_lowp_float(t)) return onnxcc_lowp_to_float((int)t, ((const uint8_t *)data)[i]);
    if (t == DT_INT4 || t == DT_INT2) return ((const int8_t *)data)[i];
    return ((const uint8_t *)data)[i];
}

void ou_lowp_set(DType t, void *data, int64_t i, double x, bool saturate) {
    if (dtype_is_lowp_float(t))
        ((uint8_t *)data)[i] = onnxcc_lowp_from_float((int)t, (float)x, saturate);
    else
        ou_lowp_set_int(t, data, i, onnxcc_lowp_int_from_double((int)t, x));
}

void ou_lowp_set_int(DType t, void *data, int64_t i, int64_t x) {
    const int w = onnxcc_lowp_int_wrap((int)t, x);
    if (t == DT_INT4 || t == DT_INT2) ((int8_t *)data)[i] = (int8_t)w;
    else ((uint8_t *)data)[i] = (uint8_t)w;
}

const char *ou_lowp_load_expr(char *buf, size_t size, DType t, const char *src) {
    if (dtype_is_lowp_float(t))
        snprintf(buf, size, "onnxcc_lowp_to_float(%d, %s) /* %s */", (int)t, src, dtype_name(t));
    else
        snprintf(buf, size, "(float)%s", src);
    return buf;
}

void ou_emit_lowp_store(Emitter *e, DType t, const char *dst, const char *src, bool saturate) {
    if (dtype_is_lowp_float(t))
        emit_line(e, "%s = onnxcc_lowp_from_float(%d, (float)(%s), %d); /* %s */", dst, (int)t, src,
                  saturate ? 1 : 0, dtype_name(t));
    else
        emit_line(e, "%s = (%s)onnxcc_lowp_int_from_double(%d, %s); /* %s */", dst,
                  dtype_ctype(t), (int)t, src, dtype_name(t));
}

/* Float to integer without UB: NaN -> 0, out of range saturates. */
static int64_t f64_to_i64(double x) {
    if (x != x) return 0;
    if (x >= 9223372036854775807.0) return INT64_MAX;
    if (x <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)x;
}

int64_t ou_get_i64(const Value *v, int64_t i) {
    if (dtype_is_float(v->dtype) || dtype_is_lowp(v->dtype)) return f64_to_i64(ou_get_f64(v, i));
    return ir_const_get_i64(v, i);
}

void ou_set_f64(Value *v, int64_t i, double x) {
    switch (v->dtype) {
    case DT_FLOAT: ((float *)v->data)[i] = (float)x; break;
    case DT_DOUBLE: ((double *)v->data)[i] = x; break;
    case DT_FLOAT16: ((uint16_t *)v->data)[i] = ou_float_to_half((float)x); break;
    case DT_BFLOAT16: ((uint16_t *)v->data)[i] = ou_float_to_bf16((float)x); break;
    case DT_BOOL: ((bool *)v->data)[i] = x != 0; break;
    case DT_FLOAT8E4M3FN: case DT_FLOAT8E4M3FNUZ: case DT_FLOAT8E5M2: case DT_FLOAT8E5M2FNUZ:
    case DT_FLOAT8E8M0: case DT_FLOAT4E2M1: case DT_INT4: case DT_UINT4: case DT_INT2:
    case DT_UINT2:
        ou_lowp_set(v->dtype, v->data, i, x, true);
        break;
    case DT_UINT64:
        ((uint64_t *)v->data)[i] = x != x || x <= 0 ? 0
            : x >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)x;
        break;
    default: ir_const_set_i64(v, i, f64_to_i64(x)); break;
    }
}

void ou_set_i64(Value *v, int64_t i, int64_t x) {
    switch (v->dtype) {
    case DT_FLOAT16: case DT_BFLOAT16: ou_set_f64(v, i, (double)x); break;
    default:
        if (dtype_is_lowp_int(v->dtype)) ou_lowp_set_int(v->dtype, v->data, i, x);
        else if (dtype_is_lowp_float(v->dtype)) ou_set_f64(v, i, (double)x);
        else ir_const_set_i64(v, i, x);
        break;
    }
}

/* ---- attribute and input readers -------------------------------------------------- */

bool ou_const_ints(const Node *n, int input, int64_t *out, int max, int *count, Diag *d) {
    if (!op_require_const(n, input, d)) return false;
    const Value *v = n->inputs[input];
    if (!dtype_is_integer(v->dtype)) {
        diag_error(d, n, "input %d '%s' must be int64 or int32, not %s", input, v->name,
                   dtype_name(v->dtype));
        return false;
    }
    if (v->rank > 1) {
        diag_error(d, n, "input %d '%s' must be 1-D, it has rank %d", input, v->name, v->rank);
        return false;
    }
    int64_t len = ir_numel(v);
    if (len < 0 || len > max) {
        diag_error(d, n, "input %d '%s' has %lld elements, at most %d allowed", input, v->name,
                   (long long)len, max);
        return false;
    }
    for (int64_t k = 0; k < len; k++) out[k] = ir_const_get_i64(v, k);
    *count = (int)len;
    return true;
}

bool ou_axis(const Node *n, const char *what, int64_t axis, int rank, bool allow_end,
             int *out, Diag *d) {
    if (!shape_axis(axis, rank, allow_end, out)) {
        int hi = allow_end ? rank + 1 : rank;
        diag_error(d, n, "%s %lld is out of range [%d, %d] for rank %d", what,
                   (long long)axis, -hi, hi - 1, rank);
        return false;
    }
    return true;
}

bool ou_check_dtype(const Node *n, int i, const DType *allowed, Diag *d) {
    const Value *v = op_input(n, i);
    if (!v) return true;
    for (const DType *t = allowed; *t != DT_UNDEFINED; t++)
        if (v->dtype == *t) return true;
    diag_error(d, n, "input %d '%s' has element type %s, which %s does not accept", i,
               v->name, dtype_name(v->dtype), n->op_type);
    return false;
}

/* ---- loop nests ------------------------------------------------------------------- */

void ou_loop_simplify(OuLoop *l) {
    OuLoop r = *l;
    r.rank = 0;
    for (int k = 0; k < l->rank; k++) {
        if (l->dims[k] == 1) continue;
        int j = r.rank;
        bool merge = j > 0;
        for (int o = 0; merge && o < l->n_ops; o++)
            merge = r.strides[o][j - 1] == l->strides[o][k] * l->dims[k];
        if (merge) {
            r.dims[j - 1] *= l->dims[k];
            for (int o = 0; o < l->n_ops; o++) r.strides[o][j - 1] = l->strides[o][k];
            continue;
        }
        r.dims[j] = l->dims[k];
        for (int o = 0; o < l->n_ops; o++) r.strides[o][j] = l->strides[o][k];
        r.rank++;
    }
    bool empty = false;
    for (int k = 0; k < l->rank; k++) empty |= l->dims[k] == 0;
    if (empty) {
        r.rank = 1;
        r.dims[0] = 0;
    }
    *l = r;
}

void ou_index_expr(char *s, int rank, const int64_t *strides, int64_t base, const char *var) {
    size_t used = 0;
    s[0] = 0;
    if (base != 0) used += (size_t)snprintf(s + used, 256 - used, "%lld", (long long)base);
    for (int k = 0; k < rank && used < 200; k++) {
        int64_t st = strides[k];
        if (st == 0) continue;
        const char *sep = used ? (st < 0 ? " - " : " + ") : (st < 0 ? "-" : "");
        long long mag = st < 0 ? -(long long)st : (long long)st;
        /* size_t index variables: cast to ptrdiff_t so negative steps stay signed */
        const char *cast = base != 0 || st < 0 ? "(ptrdiff_t)" : "";
        if (mag == 1)
            used += (size_t)snprintf(s + used, 256 - used, "%s%s%s%d", sep, cast, var, k);
        else
            used += (size_t)snprintf(s + used, 256 - used, "%s%s%s%d * %lld", sep, cast, var, k,
                                     mag);
    }
    if (!used) snprintf(s, 256, "0");
}

void ou_loop_index(const OuLoop *l, int o, char *s) {
    ou_index_expr(s, l->rank, l->strides[o], l->base[o], "i");
}

void ou_axis_split(const Value *x, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = shape_numel(axis, x->dims);
    *len = x->dims[axis];
    *inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
}

void ou_loop_open(Emitter *e, const OuLoop *l, char idx[][256]) {
    /* A nest simplified to one element still gets its block, so that a body emitted
     * several times (Sum's one pass per input) declares its locals once per scope. */
    if (l->rank == 0) emit_open(e, "/* a single element */");
    for (int k = 0; k < l->rank; k++)
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)l->dims[k], k);
    for (int o = 0; o < l->n_ops; o++) ou_loop_index(l, o, idx[o]);
}

void ou_loop_close(Emitter *e, const OuLoop *l) {
    if (l->rank == 0) emit_close(e);
    for (int k = 0; k < l->rank; k++) emit_close(e);
}

int64_t ou_loop_offset(const OuLoop *l, int o, int64_t pos) {
    int64_t off = l->base[o];
    for (int k = l->rank - 1; k >= 0; k--) {
        int64_t dk = l->dims[k];
        if (dk <= 0) return off;
        off += (pos % dk) * l->strides[o][k];
        pos /= dk;
    }
    return off;
}

void ou_bcast_strides(const Value *v, int out_rank, int64_t *strides) {
    shape_broadcast_strides(v->rank, v->dims, out_rank, strides);
}

void ou_copy_elems(void *dst, int64_t di, const void *src, int64_t si, size_t es) {
    memcpy((char *)dst + (size_t)di * es, (const char *)src + (size_t)si * es, es);
}

const char *ou_shape(char *buf, size_t size, const Value *v) {
    return ir_shape_str(buf, size, v);
}

void ou_emit_alias_copy(Emitter *e, const Node *n) {
    char b0[128], b1[128];
    const Value *x = n->inputs[0], *y = n->outputs[0];
    emit_line(e, "/* %s -> %s: same bytes, copied only if not aliased */",
              ou_shape(b0, sizeof b0, x), ou_shape(b1, sizeof b1, y));
    emit_line(e, "if ((const void *)y0 != (const void *)x0) memcpy(y0, x0, %zu);",
              ir_nbytes(y));
}

bool ou_fold_copy(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    size_t nb = ir_nbytes(y);
    if (nb) memcpy(y->data, n->inputs[0]->data, nb);
    return true;
}

const char *ou_literal(char *buf, DType t, double x, int64_t xi) {
    switch (t) {
    case DT_FLOAT: return c_float(buf, (float)x);
    case DT_DOUBLE: return c_double(buf, x);
    case DT_BOOL: return strcpy(buf, xi ? "true" : "false");
    case DT_FLOAT16: snprintf(buf, 32, "%u", (unsigned)ou_float_to_half((float)x)); return buf;
    case DT_BFLOAT16: snprintf(buf, 32, "%u", (unsigned)ou_float_to_bf16((float)x)); return buf;
    case DT_UINT64: snprintf(buf, 32, "UINT64_C(%llu)", (unsigned long long)xi); return buf;
    case DT_UINT32: snprintf(buf, 32, "%lluu", (unsigned long long)(uint32_t)xi); return buf;
    default:
        if (dtype_is_lowp_float(t)) {
            /* the saturated bits, as a float constant cast to this type would give */
            snprintf(buf, 32, "%u", (unsigned)onnxcc_lowp_from_float((int)t, (float)x, 1));
            return buf;
        }
        if (dtype_is_lowp_int(t)) return c_int64(buf, onnxcc_lowp_int_wrap((int)t, xi));
        return c_int64(buf, (long long)xi);
    }
}

void ou_emit_half_load(Emitter *e, DType t, const char *dst, const char *src) {
    emit_line(e, "float %s = %s(%s);", dst, ou_half_to_float_fn(t), src);
}

void ou_emit_half_store(Emitter *e, DType t, const char *dst, const char *src) {
    emit_line(e, "%s = %s(%s);", dst, ou_float_to_half_fn(t), src);
}

void ou_emit_load(Emitter *e, DType t, const char *ctype, const char *dst, const char *src) {
    if (ou_is_half(t)) ou_emit_half_load(e, t, dst, src);
    else if (strcmp(ctype, dtype_ctype(t)) == 0) emit_line(e, "%s %s = %s;", ctype, dst, src);
    else emit_line(e, "%s %s = (%s)%s;", ctype, dst, ctype, src);
}

void ou_emit_store(Emitter *e, DType t, const char *dst, const char *var) {
    if (ou_is_half(t)) emit_line(e, "%s = %s((float)%s);", dst, ou_float_to_half_fn(t), var);
    else emit_line(e, "%s = (%s)%s;", dst, dtype_ctype(t), var);
}

void ou_emit_round(Emitter *e, DType t, const char *var) {
    if (!ou_is_half(t)) return;
    emit_line(e, "%s = %s(%s((float)%s));", var, ou_half_to_float_fn(t), ou_float_to_half_fn(t),
              var);
}

const char *ou_half_to_float_fn(DType t) {
    return t == DT_BFLOAT16 ? "onnxcc_bf16_to_float" : "onnxcc_f16_to_float";
}

const char *ou_float_to_half_fn(DType t) {
    return t == DT_BFLOAT16 ? "onnxcc_float_to_bf16" : "onnxcc_float_to_f16";
}

bool ou_set_output(const Node *n, Value *y, DType t, int rank, const int64_t *dims, Diag *d) {
    if (rank > IR_MAX_RANK || rank < 0) {
        diag_error(d, n, "output rank %d exceeds the maximum of %d", rank, IR_MAX_RANK);
        return false;
    }
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0) {
            diag_error(d, n, "output dimension %d is negative (%lld)", k, (long long)dims[k]);
            return false;
        }
    }
    if (shape_numel(rank, dims) < 0) {
        diag_error(d, n, "output has too many elements");
        return false;
    }
    ir_value_set_shape(y, t, rank, dims);
    return true;
}

void ou_emit_sum_loop(Emitter *e, const char *T, const char *acc, int64_t count,
                      const char *load, const char *term) {
    if (count < 32) {
        emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)count);
        emit_line(e, "const %s v = %s;", T, load);
        emit_line(e, "%s += %s;", acc, term);
        emit_close(e);
        return;
    }
    /* 16 independent partial sums: the compiler keeps them in vector registers instead
     * of one serial chain of dependent adds */
    long long body = (long long)(count / 16 * 16);
    emit_line(e, "{");
    e->indent++;
    emit_line(e, "%s part[16] = { 0 };", T);
    emit_open(e, "for (size_t jb = 0; jb < %lld; jb += 16)", body);
    emit_open(e, "for (size_t ju = 0; ju < 16; ju++)");
    emit_line(e, "const size_t j = jb + ju;");
    emit_line(e, "const %s v = %s;", T, load);
    emit_line(e, "part[ju] += %s;", term);
    emit_close(e);
    emit_close(e);
    if (body < count) {
        emit_open(e, "for (size_t j = %lld; j < %lld; j++)", body, (long long)count);
        emit_line(e, "const %s v = %s;", T, load);
        emit_line(e, "%s += %s;", acc, term);
        emit_close(e);
    }
    emit_line(e, "for (size_t ju = 0; ju < 16; ju++) %s += part[ju];", acc);
    emit_close(e);
}

bool ou_require_typed(const Node *n, int i, Diag *d) {
    if (!op_require_shape(n, i, d)) return false;
    const Value *v = n->inputs[i];
    if (!dtype_ctype(v->dtype)) {
        diag_error(d, n, "input type %s is not supported", dtype_name(v->dtype));
        return false;
    }
    return true;
}

bool ou_check_holdable(const Node *n, int i, Diag *d) {
    const Value *v = op_input(n, i);
    if (v && dtype_size(v->dtype) == 0) {
        diag_error(d, n, "input %d '%s' has element type %s, which is not supported", i,
                   v->name, dtype_name(v->dtype));
        return false;
    }
    return true;
}

bool ou_emit_alias(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    ou_emit_alias_copy(e, n);
    return true;
}

bool ou_emit_if_empty(Emitter *e, const Node *n) {
    if (ir_numel(n->outputs[0]) != 0) return false;
    emit_line(e, "/* %s: empty output, nothing to do */", n->op_type);
    emit_line(e, "(void)x0;");
    emit_line(e, "(void)y0;");
    return true;
}

/* ---- scatter reductions ------------------------------------------------------------- */

bool ou_scatter_reduction(const Node *n, OuScatterRed *r, Diag *d) {
    static const char *const names[] = { "none", "add", "mul", "max", "min" };
    const char *s = ir_attr_string(n, "reduction", "none");
    for (int k = 0; k < 5; k++)
        if (strcmp(s, names[k]) == 0) {
            *r = (OuScatterRed)k;
            /* the reductions do arithmetic, which the low-precision types do not get */
            const Value *x = op_input(n, 0);
            if (*r != OU_SCATTER_NONE && x && dtype_is_lowp(x->dtype)) {
                diag_error(d, n, "reduction %s on element type %s is not supported", s,
                           dtype_name(x->dtype));
                return false;
            }
            return true;
        }
    diag_error(d, n, "reduction must be none, add, mul, max or min");
    return false;
}

void ou_scatter_fold(Value *y, int64_t at, const Value *u, int64_t from, OuScatterRed r) {
    if (r == OU_SCATTER_NONE) {
        ou_copy_elems(y->data, at, u->data, from, dtype_size(y->dtype));
    } else if (dtype_is_float(y->dtype)) {
        const double a = ou_get_f64(y, at), b = ou_get_f64(u, from);
        ou_set_f64(y, at, r == OU_SCATTER_ADD ? a + b : r == OU_SCATTER_MUL ? a * b
                          : r == OU_SCATTER_MAX ? (b > a ? b : a) : (b < a ? b : a));
    } else {
        const int64_t a = ir_const_get_i64(y, at), b = ir_const_get_i64(u, from);
        ir_const_set_i64(y, at, r == OU_SCATTER_ADD ? (int64_t)((uint64_t)a + (uint64_t)b)
                                : r == OU_SCATTER_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                                : r == OU_SCATTER_MAX ? (b > a ? b : a) : (b < a ? b : a));
    }
}

void ou_emit_scatter_update(Emitter *e, DType t, OuScatterRed r) {
    const char *T = dtype_ctype(t);
    /* int32 and wider: add and multiply in the unsigned type of the same width */
    const bool wrap = !dtype_is_float(t) && dtype_size(t) >= 4;
    const char *U = dtype_size(t) == 8 ? "uint64_t" : "uint32_t";
    switch (r) {
    case OU_SCATTER_NONE: emit_line(e, "*to = u;"); break;
    case OU_SCATTER_ADD:
    case OU_SCATTER_MUL:
        if (wrap) emit_line(e, "*to = (%s)((%s)*to %s (%s)u);   /* wraps, no UB */", T, U,
                            r == OU_SCATTER_ADD ? "+" : "*", U);
        else emit_line(e, "*to = (%s)(*to %s u);", T, r == OU_SCATTER_ADD ? "+" : "*");
        break;
    case OU_SCATTER_MAX: emit_line(e, "*to = u > *to ? u : *to;"); break;
    case OU_SCATTER_MIN: emit_line(e, "*to = u < *to ? u : *to;"); break;
    }
}
