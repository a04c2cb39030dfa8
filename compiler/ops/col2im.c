/* col2im.c: Col2Im (opset 18), the inverse of im2col: input [N, C * prod(block), L] holds,
 * for each kernel offset and each of the L sliding-block positions, one value, which is
 * added into the image [N, C, image...] at
 *     image[d] = position[d] * strides[d] - pads_begin[d] + offset[d] * dilations[d]
 * when that lies inside the image (L = prod of the block counts per dim,
 * (image + pads_begin + pads_end - dilation * (block - 1) - 1) / stride + 1).
 *
 * image_shape and block_shape are needed at compile time.  Per spatial dim, the image
 * position of every (kernel offset, block position) pair, or -1 outside, is a small static
 * table (already times the image stride); the emitted code zeroes the image and adds
 * every input element through those tables, dims nested. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum { C2I_MAX_SPATIAL = IR_MAX_RANK - 2 };

static const DType c2i_types[] = { DT_FLOAT, DT_DOUBLE, DT_INT8, DT_INT16, DT_INT32, DT_INT64,
                                   DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_UNDEFINED };

typedef struct C2iView {
    int sp;                                  /* spatial dims */
    int64_t image[C2I_MAX_SPATIAL], block[C2I_MAX_SPATIAL];
    int64_t stride[C2I_MAX_SPATIAL], dilation[C2I_MAX_SPATIAL], pad[C2I_MAX_SPATIAL];
    int64_t cols[C2I_MAX_SPATIAL];           /* block positions per dim */
    int64_t n, c, kernel, positions;         /* batch, channels, prod(block), L */
} C2iView;

/* An ints attribute of sp values, or dflt for each when absent. */
static bool c2i_ints(const Node *n, const char *name, int sp, int64_t dflt, int64_t *out,
                     int want, Diag *d) {
    const int64_t *v;
    const size_t count = ir_attr_ints(n, name, &v);
    if (count == 0) {
        for (int k = 0; k < want; k++) out[k] = dflt;
        return true;
    }
    if (count != (size_t)want) {
        diag_error(d, n, "attribute '%s' has %zu values, expected %d for %d spatial dims",
                   name, count, want, sp);
        return false;
    }
    for (int k = 0; k < want; k++) out[k] = v[k];
    return true;
}

static bool c2i_view(const Node *n, C2iView *v, Diag *d) {
    const Value *x = n->inputs[0];
    int ci, cb;
    if (!ou_const_ints(n, 1, v->image, C2I_MAX_SPATIAL, &ci, d) ||
        !ou_const_ints(n, 2, v->block, C2I_MAX_SPATIAL, &cb, d))
        return false;
    if (ci != cb || ci < 1) {
        diag_error(d, n, "image_shape has %d values and block_shape %d: they must agree "
                   "(and be 1 to %d)", ci, cb, C2I_MAX_SPATIAL);
        return false;
    }
    const int sp = v->sp = ci;
    int64_t pads[2 * C2I_MAX_SPATIAL];
    if (!c2i_ints(n, "strides", sp, 1, v->stride, sp, d) ||
        !c2i_ints(n, "dilations", sp, 1, v->dilation, sp, d) ||
        !c2i_ints(n, "pads", sp, 0, pads, 2 * sp, d))
        return false;
    if (x->rank != 3) {
        diag_error(d, n, "input '%s' has rank %d, expected 3 ([N, C * prod(block), L])",
                   x->name, x->rank);
        return false;
    }
    int64_t kernel = 1, positions = 1;
    for (int k = 0; k < sp; k++) {
        const int64_t img = v->image[k], blk = v->block[k];
        const int64_t s = v->stride[k], dl = v->dilation[k], p0 = pads[k], p1 = pads[sp + k];
        const int64_t lim = INT32_MAX;
        if (img < 1 || img > lim || blk < 1 || blk > lim || s < 1 || s > lim || dl < 1 ||
            dl > lim || p0 < 0 || p0 > lim || p1 < 0 || p1 > lim) {
            diag_error(d, n, "spatial dim %d: image %lld, block %lld, stride %lld, dilation "
                       "%lld and pads %lld, %lld must be positive (pads >= 0) and below 2^31",
                       k, (long long)img, (long long)blk, (long long)s, (long long)dl,
                       (long long)p0, (long long)p1);
            return false;
        }
        const int64_t span = img + p0 + p1 - dl * (blk - 1) - 1;
        if (span < 0) {
            diag_error(d, n, "spatial dim %d: the block (%lld, dilation %lld) is larger than "
                       "the padded image (%lld)", k, (long long)blk, (long long)dl,
                       (long long)(img + p0 + p1));
            return false;
        }
        v->cols[k] = span / s + 1;
        v->pad[k] = p0;
        if (!i64_mul(kernel, blk, &kernel) || !i64_mul(positions, v->cols[k], &positions)) {
            diag_error(d, n, "the block or position count overflows");
            return false;
        }
    }
    v->kernel = kernel, v->positions = positions;
    v->n = x->dims[0];
    if (x->dims[1] % kernel != 0 || x->dims[2] != positions) {
        diag_error(d, n, "input '%s' is [%lld, %lld, %lld]: dim 1 must be a multiple of "
                   "prod(block_shape) %lld and dim 2 the number of block positions %lld",
                   x->name, (long long)x->dims[0], (long long)x->dims[1],
                   (long long)x->dims[2], (long long)kernel, (long long)positions);
        return false;
    }
    v->c = x->dims[1] / kernel;
    return true;
}

static bool c2i_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, c2i_types, d)) return false;
    C2iView v;
    if (!c2i_view(n, &v, d)) return false;
    int64_t dims[IR_MAX_RANK] = { v.n, v.c };
    for (int k = 0; k < v.sp; k++) dims[2 + k] = v.image[k];
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, v.sp + 2, dims, d);
}

/* Image position along dim k of kernel offset o at block position q, or -1 outside. */
static int64_t c2i_at(const C2iView *v, int k, int64_t o, int64_t q) {
    const int64_t p = q * v->stride[k] - v->pad[k] + o * v->dilation[k];
    return p >= 0 && p < v->image[k] ? p : -1;
}

static bool c2i_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    C2iView v;
    if (!c2i_view(n, &v, d) || !ir_value_alloc_data(g, y, d)) return false;
    int64_t plane = 1;
    for (int k = 0; k < v.sp; k++) plane *= v.image[k];
    const bool fl = dtype_is_float(x->dtype);
    /* y starts zeroed; every input element (nc, o, q) adds into its image position */
    for (int64_t nc = 0; nc < v.n * v.c; nc++) {
        for (int64_t o = 0; o < v.kernel; o++) {
            for (int64_t q = 0; q < v.positions; q++) {
                int64_t at = 0, ro = o, rq = q, stride = 1;
                for (int k = v.sp - 1; k >= 0 && at >= 0; k--) {
                    const int64_t p = c2i_at(&v, k, ro % v.block[k], rq % v.cols[k]);
                    at = p < 0 ? -1 : at + p * stride;
                    ro /= v.block[k], rq /= v.cols[k], stride *= v.image[k];
                }
                if (at < 0) continue;
                const int64_t xi = (nc * v.kernel + o) * v.positions + q, yi = nc * plane + at;
                if (fl) ou_set_f64(y, yi, ou_get_f64(y, yi) + ou_get_f64(x, xi));
                else    /* integers wrap, as in the emitted C (unsigned arithmetic) */
                    ou_set_i64(y, yi, (int64_t)((uint64_t)ou_get_i64(y, yi) +
                                                (uint64_t)ou_get_i64(x, xi)));
            }
        }
    }
    return true;
}

/* static const int64_t atK[block][cols]: image offsets (times the image stride) or -1. */
static void c2i_emit_table(Emitter *e, const C2iView *v, int k, int64_t stride) {
    char lit[40];
    emit_line(e, "/* spatial dim %d: image %lld, block %lld, %lld positions (stride %lld, "
              "dilation %lld, pad %lld) */", k, (long long)v->image[k], (long long)v->block[k],
              (long long)v->cols[k], (long long)v->stride[k], (long long)v->dilation[k],
              (long long)v->pad[k]);
    emit_open(e, "static const int64_t at%d[%lld][%lld] =", k, (long long)v->block[k],
              (long long)v->cols[k]);
    StrBuf line;
    sb_init(&line);
    for (int64_t o = 0; o < v->block[k]; o++) {
        sb_puts(&line, "{ ");
        for (int64_t q = 0; q < v->cols[k]; q++) {
            const int64_t p = c2i_at(v, k, o, q);
            sb_printf(&line, "%s%s", c_int64(lit, p < 0 ? -1 : p * stride),
                      q + 1 < v->cols[k] ? ", " : " },");
        }
        emit_line(e, "%s", line.data);
        line.len = 0;
    }
    sb_free(&line);
    e->indent--;
    emit_line(e, "};");
}

static bool c2i_emit(Emitter *e, const Node *n, Diag *d) {
    C2iView v;
    if (!c2i_view(n, &v, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0], *y = n->outputs[0];
    const char *T = dtype_ctype(x->dtype);
    char sx[128], sy[128];
    emit_line(e, "/* Col2Im %s -> %s: every column element added into its image position */",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, y));
    int64_t plane = 1, strides[C2I_MAX_SPATIAL];
    for (int k = v.sp - 1; k >= 0; k--) strides[k] = plane, plane *= v.image[k];
    for (int k = 0; k < v.sp; k++) c2i_emit_table(e, &v, k, strides[k]);
    emit_line(e, "memset(y0, 0, %zu);", ir_nbytes(y));
    emit_open(e, "for (size_t nc = 0; nc < %lld; nc++)", (long long)(v.n * v.c));
    emit_line(e, "const %s *xc = x0 + nc * %lld;   /* [kernel %lld][positions %lld] */", T,
              (long long)(v.kernel * v.positions), (long long)v.kernel, (long long)v.positions);
    emit_line(e, "%s *yc = y0 + nc * %lld;", T, (long long)plane);
    /* kernel offsets o0.., then block positions q0..; the flat indices built as they go */
    for (int k = 0; k < v.sp; k++) {
        emit_open(e, "for (size_t o%d = 0; o%d < %lld; o%d++)", k, k, (long long)v.block[k], k);
        if (k == 0) emit_line(e, "const size_t ko0 = o0;");
        else emit_line(e, "const size_t ko%d = ko%d * %lld + o%d;", k, k - 1,
                       (long long)v.block[k], k);
    }
    for (int k = 0; k < v.sp; k++) {
        emit_open(e, "for (size_t q%d = 0; q%d < %lld; q%d++)", k, k, (long long)v.cols[k], k);
        emit_line(e, "const int64_t a%d = at%d[o%d][q%d];", k, k, k, k);
        emit_line(e, "if (a%d < 0) continue;   /* outside the image */", k);
        if (k == 0) emit_line(e, "const size_t kq0 = ko%d * %lld + q0;", v.sp - 1,
                              (long long)v.cols[0]);
        else emit_line(e, "const size_t kq%d = kq%d * %lld + q%d;", k, k - 1,
                       (long long)v.cols[k], k);
    }
    char at[256];
    size_t len = 0;
    for (int k = 0; k < v.sp; k++)
        len += (size_t)snprintf(at + len, sizeof at - len, "%sa%d", k ? " + " : "", k);
    if (dtype_is_integer(x->dtype) && x->dtype != DT_UINT64 && x->dtype != DT_UINT32)
        /* integers wrap (no signed overflow) */
        emit_line(e, "yc[%s] = (%s)((uint64_t)yc[%s] + (uint64_t)xc[kq%d]);", at, T, at,
                  v.sp - 1);
    else
        emit_line(e, "yc[%s] += xc[kq%d];", at, v.sp - 1);
    for (int k = 0; k < 2 * v.sp; k++) emit_close(e);
    return emit_close(e);
}

const OpDef op_col2im = {
    .name = "Col2Im", .domain = "", .since = 18, .min_inputs = 3, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = c2i_infer, .fold = c2i_fold,
    .emit = c2i_emit, .memory = OP_MEMORY_SEPARATE,
};
