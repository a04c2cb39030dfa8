/* affine_grid.c: AffineGrid (opset 20), the sampling grid for GridSample of a batch of
 * affine maps: for theta [N, 2, 3] and size (N, C, H, W) the output is [N, H, W, 2],
 * grid[n][h][w] = theta[n] @ (x_w, y_h, 1); for theta [N, 3, 4] and size (N, C, D, H, W)
 * it is [N, D, H, W, 3] with (x_w, y_h, z_d, 1).  The base coordinates span [-1, 1]:
 * align_corners=1 puts -1 and 1 on the centres of the first and last pixels
 * (-1 + 2i / (L - 1)), align_corners=0 on their outer edges (-1 + (2i + 1) / L).
 *
 * size is needed at compile time (it gives the output shape), so the base coordinates are
 * static tables; theta is read at run time.  The products are computed in double, as the
 * reference does, and rounded once to the output type. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

enum { AG_MAX_SPATIAL = 3, AG_SIZE_LEN_MAX = AG_MAX_SPATIAL + 2 };

static const DType ag_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

/* The spatial dims (outermost first) from size; theta's shape checked against them. */
static bool ag_dims(const Node *n, int *sp, int64_t *dims, Diag *d) {
    int64_t size[AG_SIZE_LEN_MAX];
    int count;
    if (!ou_const_ints(n, 1, size, AG_SIZE_LEN_MAX, &count, d)) return false;
    if (count != 4 && count != 5) {
        diag_error(d, n, "size has %d values, expected 4 (N, C, H, W) or 5 (N, C, D, H, W)",
                   count);
        return false;
    }
    const Value *theta = n->inputs[0];
    *sp = count - 2;
    if (theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != *sp ||
        theta->dims[2] != *sp + 1) {
        char st[128];
        diag_error(d, n, "theta %s does not fit size: it must be [%lld, %d, %d]",
                   ou_shape(st, sizeof st, theta), (long long)size[0], *sp, *sp + 1);
        return false;
    }
    for (int k = 0; k < count; k++) {
        if (size[k] < 0) {
            diag_error(d, n, "size[%d] is negative (%lld)", k, (long long)size[k]);
            return false;
        }
        dims[k] = size[k];
    }
    return true;
}

static bool ag_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, ag_types, d)) return false;
    int sp;
    int64_t size[AG_SIZE_LEN_MAX], out[AG_SIZE_LEN_MAX];
    if (!ag_dims(n, &sp, size, d)) return false;
    out[0] = size[0];
    for (int k = 0; k < sp; k++) out[1 + k] = size[2 + k];
    out[1 + sp] = sp;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, sp + 2, out, d);
}

/* Base coordinate i of an axis of length len. */
static double ag_base(bool align, int64_t len, int64_t i) {
    if (align) return len > 1 ? -1 + (double)i * (2.0 / (double)(len - 1)) : 0.0;
    const double step = 2.0 / (double)len;
    return -1 + step / 2 + (double)i * step;
}

static bool ag_fold(Graph *g, Node *n, Diag *d) {
    const Value *theta = n->inputs[0];
    Value *y = n->outputs[0];
    int sp;
    int64_t size[AG_SIZE_LEN_MAX];
    if (!ag_dims(n, &sp, size, d) || !ir_value_alloc_data(g, y, d)) return false;
    const bool align = ir_attr_int(n, "align_corners", 0) != 0;
    int64_t points = 1;
    for (int k = 0; k < sp; k++) points *= size[2 + k];
    const int64_t tsize = (int64_t)sp * (sp + 1);
    for (int64_t b = 0; b < size[0]; b++) {
        for (int64_t p = 0; p < points; p++) {
            /* homogeneous (x, y, z, 1): x from the innermost dim */
            double h[AG_MAX_SPATIAL + 1];
            int64_t r = p;
            for (int k = sp - 1; k >= 0; k--) {
                const int64_t len = size[2 + k];
                h[sp - 1 - k] = ag_base(align, len, r % len);
                r /= len;
            }
            h[sp] = 1;
            for (int row = 0; row < sp; row++) {
                double acc = 0;
                for (int col = 0; col <= sp; col++)
                    acc += ou_get_f64(theta, b * tsize + row * (sp + 1) + col) * h[col];
                ou_set_f64(y, (b * points + p) * sp + row, acc);
            }
        }
    }
    return true;
}

/* static const double NAME[len] = { base coordinates }; */
static void ag_emit_table(Emitter *e, const char *name, bool align, int64_t len) {
    char lit[40];
    emit_open(e, "static const double %s[%lld] =", name, (long long)len);
    StrBuf line;
    sb_init(&line);
    for (int64_t i = 0; i < len; i++) {
        sb_printf(&line, "%s%s,", line.len ? " " : "", c_double(lit, ag_base(align, len, i)));
        if ((i + 1) % 4 == 0 || i + 1 == len) {
            emit_line(e, "%s", line.data);
            line.len = 0;
            line.data[0] = '\0';
        }
    }
    sb_free(&line);
    e->indent--;
    emit_line(e, "};");
}

static bool ag_emit(Emitter *e, const Node *n, Diag *d) {
    int sp;
    int64_t size[AG_SIZE_LEN_MAX];
    if (!ag_dims(n, &sp, size, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    const bool align = ir_attr_int(n, "align_corners", 0) != 0;
    const char *T = dtype_ctype(n->inputs[0]->dtype);
    static const char *const names[AG_MAX_SPATIAL] = { "x", "y", "z" };
    char st[128], sy[128];
    emit_line(e, "/* AffineGrid (align_corners %d): theta %s -> grid %s */", align,
              ou_shape(st, sizeof st, n->inputs[0]), ou_shape(sy, sizeof sy, n->outputs[0]));
    emit_line(e, "/* base coordinates in [-1, 1] along each spatial axis */");
    /* coordinate c (x = 0) belongs to spatial dim sp - 1 - c */
    for (int c = 0; c < sp; c++) ag_emit_table(e, names[c], align, size[2 + sp - 1 - c]);
    emit_line(e, "size_t o = 0;   /* output element */");
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)size[0]);
    emit_line(e, "const %s *th = x0 + n * %d;   /* [%d][%d] */", T, sp * (sp + 1), sp, sp + 1);
    for (int k = 0; k < sp; k++)
        emit_open(e, "for (size_t i%d = 0; i%d < %lld; i%d++)", k, k, (long long)size[2 + k], k);
    emit_open(e, "for (int r = 0; r < %d; r++)", sp);
    char expr[512];
    size_t len = 0;
    for (int c = 0; c < sp; c++)
        len += (size_t)snprintf(expr + len, sizeof expr - len, "(double)th[r * %d + %d] * %s[i%d] + ",
                                sp + 1, c, names[c], sp - 1 - c);
    snprintf(expr + len, sizeof expr - len, "(double)th[r * %d + %d]", sp + 1, sp);
    emit_line(e, "y0[o++] = (%s)(%s);", T, expr);
    emit_close(e);
    for (int k = 0; k < sp; k++) emit_close(e);
    return emit_close(e);
}

const OpDef op_affinegrid = {
    .name = "AffineGrid", .domain = "", .since = 20, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = ag_infer, .fold = ag_fold, .emit = ag_emit,
    .memory = OP_MEMORY_SEPARATE,
};
