/* rotary.c: RotaryEmbedding (opset 23), rotary position embeddings (RoPE).
 *
 * The input is 4-D [batch][heads][seq][head_size] or 3-D [batch][seq][heads * head_size]
 * (num_heads says how many).  The first rotary_embedding_dim (default head_size) values
 * of each head are rotated in pairs by the angle of their position:
 *
 *   x1' = cos * x1 - sin * x2        x2' = sin * x1 + cos * x2
 *
 * where the pair (x1, x2) of index k is (x[k], x[k + dim/2]), or (x[2k], x[2k + 1]) when
 * interleaved; the rest of the head is copied.  cos and sin come from the caches,
 * [max_position][dim/2] indexed by position_ids [batch][seq], or, without position_ids,
 * [batch][seq][dim/2] directly.  A position outside the cache makes the generated function
 * fail (return 1).  float16/bfloat16 are computed in float and rounded after each
 * product and sum, as the reference (numpy in the element type) does.
 */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum { ROPE_X, ROPE_COS, ROPE_SIN, ROPE_POS };

static const DType rope_types[] = { DT_FLOAT, DT_FLOAT16, DT_BFLOAT16, DT_UNDEFINED };

typedef struct RopeView {
    DType t;
    bool in3d, interleaved, has_pos;
    int64_t B, H, S, D;          /* batch, heads, sequence, head size */
    int64_t rd, half;            /* rotated values per head and pairs */
    int64_t max_pos;             /* cache rows, with position_ids */
    int64_t xs[3];               /* element strides of (batch, head, seq) */
} RopeView;

/* The caches' shapes: [max_pos][half] with position_ids, else [B][S][half]. */
static bool rope_check_caches(const Node *n, RopeView *r, Diag *d) {
    const Value *c = n->inputs[ROPE_COS], *s = n->inputs[ROPE_SIN];
    if (c->dtype != r->t || s->dtype != r->t || !ir_same_shape(c, s)) {
        diag_error(d, n, "cos_cache and sin_cache must have one shape and the input's type");
        return false;
    }
    if (r->has_pos) {
        const Value *p = n->inputs[ROPE_POS];
        if (!op_require_shape(n, ROPE_POS, d)) return false;
        if (p->dtype != DT_INT64 || p->rank != 2 || p->dims[0] != r->B || p->dims[1] != r->S) {
            diag_error(d, n, "position_ids must be int64[%lld][%lld]", (long long)r->B,
                       (long long)r->S);
            return false;
        }
        if (c->rank != 2 || c->dims[1] != r->half) {
            diag_error(d, n, "with position_ids the caches must be [max_position][%lld]",
                       (long long)r->half);
            return false;
        }
        r->max_pos = c->dims[0];
        return true;
    }
    if (c->rank != 3 || c->dims[0] != r->B || c->dims[1] != r->S || c->dims[2] != r->half) {
        diag_error(d, n, "without position_ids the caches must be [%lld][%lld][%lld]",
                   (long long)r->B, (long long)r->S, (long long)r->half);
        return false;
    }
    return true;
}

static bool rope_view(const Node *n, RopeView *r, Diag *d) {
    memset(r, 0, sizeof *r);
    for (int i = ROPE_X; i <= ROPE_SIN; i++)
        if (!op_require_shape(n, i, d)) return false;
    if (!ou_check_dtype(n, ROPE_X, rope_types, d)) return false;
    const Value *x = n->inputs[ROPE_X];
    r->t = x->dtype;
    r->has_pos = op_input(n, ROPE_POS) != NULL;
    r->interleaved = ir_attr_int(n, "interleaved", 0) != 0;
    if (x->rank == 4) {
        r->B = x->dims[0], r->H = x->dims[1], r->S = x->dims[2], r->D = x->dims[3];
    } else if (x->rank == 3) {
        int64_t heads = ir_attr_int(n, "num_heads", 0);
        if (heads <= 0 || x->dims[2] % heads != 0) {
            diag_error(d, n, "a 3-D input needs num_heads > 0 dividing its hidden size %lld, "
                       "got %lld", (long long)x->dims[2], (long long)heads);
            return false;
        }
        r->B = x->dims[0], r->S = x->dims[1], r->H = heads, r->D = x->dims[2] / heads;
    } else {
        diag_error(d, n, "input must be 3-D or 4-D, got rank %d", x->rank);
        return false;
    }
    r->in3d = x->rank == 3;
    r->rd = ir_attr_int(n, "rotary_embedding_dim", 0);
    if (r->rd == 0) r->rd = r->D;
    if (r->rd < 0 || r->rd > r->D || r->rd % 2 != 0) {
        diag_error(d, n, "rotary_embedding_dim %lld must be even and in 0..%lld (the head "
                   "size)", (long long)r->rd, (long long)r->D);
        return false;
    }
    r->half = r->rd / 2;
    if (r->in3d) r->xs[0] = r->S * r->H * r->D, r->xs[1] = r->D, r->xs[2] = r->H * r->D;
    else r->xs[0] = r->H * r->S * r->D, r->xs[1] = r->S * r->D, r->xs[2] = r->D;
    return rope_check_caches(n, r, d);
}

static bool rope_infer(Graph *g, Node *n, Diag *d) {
    RopeView r;
    if (!rope_view(n, &r, d)) return false;
    return op_infer_like_input0(g, n, d);
}

/* Declares float `dst` = element `src` of type t. */
static void rope_load(Emitter *e, DType t, const char *dst, const char *src) {
    ou_emit_load(e, t, "float", dst, src);
}

/* `dst = expr` in float, rounded to t when t is a half type. */
static void rope_op(Emitter *e, DType t, const char *dst, const char *expr) {
    if (!ou_is_half(t)) {
        emit_line(e, "const float %s = %s;", dst, expr);
        return;
    }
    emit_line(e, "const float %s = %s(%s(%s));", dst, ou_half_to_float_fn(t),
              ou_float_to_half_fn(t), expr);
}

/* One head: the rotated pairs, then the copied tail. */
static void rope_emit_head(Emitter *e, const RopeView *r) {
    const DType t = r->t;
    emit_open(e, "for (int64_t k = 0; k < %lld; k++)", (long long)r->half);
    char i1[48], i2[48], src[96];
    if (r->interleaved) snprintf(i1, sizeof i1, "2 * k"), snprintf(i2, sizeof i2, "2 * k + 1");
    else snprintf(i1, sizeof i1, "k"), snprintf(i2, sizeof i2, "k + %lld", (long long)r->half);
    rope_load(e, t, "cv", "cr[k]");
    rope_load(e, t, "sv", "sr[k]");
    snprintf(src, sizeof src, "xr[%s]", i1);
    rope_load(e, t, "a", src);
    snprintf(src, sizeof src, "xr[%s]", i2);
    rope_load(e, t, "bb", src);
    rope_op(e, t, "ca", "cv * a");
    rope_op(e, t, "sb", "sv * bb");
    rope_op(e, t, "sa", "sv * a");
    rope_op(e, t, "cb", "cv * bb");
    rope_op(e, t, "re", "ca - sb");
    rope_op(e, t, "im", "sa + cb");
    snprintf(src, sizeof src, "yr[%s]", i1);
    ou_emit_store(e, t, src, "re");
    snprintf(src, sizeof src, "yr[%s]", i2);
    ou_emit_store(e, t, src, "im");
    emit_close(e);
    if (r->rd < r->D)
        emit_line(e, "memcpy(yr + %lld, xr + %lld, %lld * sizeof *yr);   /* not rotated */",
                  (long long)r->rd, (long long)r->rd, (long long)(r->D - r->rd));
}

static bool rope_emit(Emitter *e, const Node *n, Diag *d) {
    RopeView r;
    if (!rope_view(n, &r, d)) return false;
    const char *T = dtype_ctype(r.t);
    char sx[128];
    emit_line(e, "/* RotaryEmbedding of %s: %lld heads of %lld, the first %lld rotated%s */",
              ou_shape(sx, sizeof sx, n->inputs[0]), (long long)r.H, (long long)r.D,
              (long long)r.rd, r.interleaved ? " (interleaved pairs)" : "");
    emit_open(e, "for (int64_t b = 0; b < %lld; b++)", (long long)r.B);
    emit_open(e, "for (int64_t s = 0; s < %lld; s++)", (long long)r.S);
    if (r.has_pos) {
        emit_line(e, "const int64_t pos = x%d[b * %lld + s];", ROPE_POS, (long long)r.S);
        emit_line(e, "if (pos < 0 || pos >= %lld) return 1;   /* outside the caches */",
                  (long long)r.max_pos);
    } else {
        emit_line(e, "const int64_t pos = b * %lld + s;   /* caches [batch][seq] */",
                  (long long)r.S);
    }
    emit_line(e, "const %s *cr = x%d + pos * %lld, *sr = x%d + pos * %lld;", T, ROPE_COS,
              (long long)r.half, ROPE_SIN, (long long)r.half);
    emit_open(e, "for (int64_t h = 0; h < %lld; h++)", (long long)r.H);
    emit_line(e, "const size_t at = (size_t)(b * %lld + h * %lld + s * %lld);",
              (long long)r.xs[0], (long long)r.xs[1], (long long)r.xs[2]);
    emit_line(e, "const %s *xr = x0 + at;", T);
    emit_line(e, "%s *yr = y0 + at;", T);
    rope_emit_head(e, &r);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

const OpDef op_rotaryembedding = {
    .name = "RotaryEmbedding", .domain = "", .since = 23,
    .min_inputs = 3, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = rope_infer, .emit = rope_emit, .memory = OP_MEMORY_SEPARATE, .may_fail = true,
};
