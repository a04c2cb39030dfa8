/* convtranspose.c: ConvTranspose (1-D to 3-D, groups, strides, dilations, pads,
 * output_padding, output_shape, auto_pad), float and double.
 *
 * X [N][C][in...], W [C][M / group][k...], optional B [M]; each input element scatters
 * into the outputs it reaches: y[n][m][i * stride - pad_begin + t * dilation] +=
 * x[n][c][i] * w[c][m % (M / group)][t], c and m in the same group.  Output sizes and pads
 * follow the specification: without pads, output_shape (or, for SAME_UPPER/SAME_LOWER,
 * input size x stride) fixes the total padding, split with Python's floor division
 * (the extra at the end for SAME_UPPER, at the beginning otherwise); with pads, the
 * output is stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads, unless
 * output_shape is given.
 *
 * Emitted, for float, as a matrix product and a scatter (col2im): per image and group,
 * the runtime GEMM computes col = W^T x X, one row per (output channel, kernel tap) and
 * one column per input position (W^T is read in place: its rows are W's contiguous
 * columns), into scratch; each row of col then adds into the output positions its tap
 * reaches, one contiguous input row at a time (bounds solved per row, no test per
 * element).  When the taps tile the output exactly (stride = kernel, no dilation, pads
 * or output padding, the U-Net upsampling) every output is written once, so the bias is
 * added there and nothing is cleared first.  Double, and the degenerate shapes (no
 * input positions or channels), use plain scatter loops. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

enum {
    CT_MAX_SPATIAL = 3,
    CT_MAX_ROW_COPY = 16384,     /* bytes of a col row the scatter copies to the stack */
};
/* The largest col buffer the GEMM path uses (bytes); beyond it the scatter loops run. */
static const size_t ct_max_col_bytes = (size_t)1 << 31;

typedef struct CtGeom {
    int ns;                             /* spatial dims */
    int64_t group, N, C, M;
    int64_t in[CT_MAX_SPATIAL], out[CT_MAX_SPATIAL], k[CT_MAX_SPATIAL];
    int64_t stride[CT_MAX_SPATIAL], dil[CT_MAX_SPATIAL], pad[CT_MAX_SPATIAL];
} CtGeom;

/* Python's floor division (the reference's `//`). */
static int64_t floor_div2(int64_t t) { return t >= 0 ? t / 2 : -((-t + 1) / 2); }

/* An ints attribute of ns (or 2 ns) entries, or dflt everywhere when absent. */
static bool ct_ints(const Node *n, const char *name, int want, int64_t dflt, int64_t *out,
                    bool *present, Diag *d) {
    const int64_t *v;
    const size_t c = ir_attr_ints(n, name, &v);
    if (present) *present = ir_attr(n, name) != NULL;
    if (!ir_attr(n, name)) {
        for (int k = 0; k < want; k++) out[k] = dflt;
        return true;
    }
    if ((int)c != want) {
        diag_error(d, n, "%s has %zu entries, %d expected", name, c, want);
        return false;
    }
    memcpy(out, v, sizeof(int64_t) * (size_t)want);
    return true;
}

static bool ct_geom(const Node *n, CtGeom *g, Diag *d) {
    const Value *x = n->inputs[0], *w = n->inputs[1];
    if (x->rank < 3 || x->rank > 2 + CT_MAX_SPATIAL || w->rank != x->rank) {
        diag_error(d, n, "X must have rank 3 to 5 and W the same rank (they have %d and %d)",
                   x->rank, w->rank);
        return false;
    }
    const int ns = g->ns = x->rank - 2;
    g->group = ir_attr_int(n, "group", 1);
    g->N = x->dims[0];
    g->C = x->dims[1];
    if (g->group < 1 || g->C % g->group != 0 || w->dims[0] != g->C) {
        diag_error(d, n, "W has %lld input channels for X's %lld, in %lld groups",
                   (long long)w->dims[0], (long long)g->C, (long long)g->group);
        return false;
    }
    g->M = w->dims[1] * g->group;
    int64_t ks[CT_MAX_SPATIAL], opad[CT_MAX_SPATIAL], pads[2 * CT_MAX_SPATIAL],
        oshape[CT_MAX_SPATIAL];
    bool has_pads, has_oshape, has_k;
    if (!ct_ints(n, "kernel_shape", ns, 0, ks, &has_k, d) ||
        !ct_ints(n, "strides", ns, 1, g->stride, NULL, d) ||
        !ct_ints(n, "dilations", ns, 1, g->dil, NULL, d) ||
        !ct_ints(n, "output_padding", ns, 0, opad, NULL, d) ||
        !ct_ints(n, "pads", 2 * ns, 0, pads, &has_pads, d) ||
        !ct_ints(n, "output_shape", ns, 0, oshape, &has_oshape, d))
        return false;
    const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
    const bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
    if (!same && strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0) {
        diag_error(d, n, "auto_pad %s is not supported", ap);
        return false;
    }
    for (int a = 0; a < ns; a++) {
        g->in[a] = x->dims[2 + a];
        g->k[a] = w->dims[2 + a];
        if ((has_k && ks[a] != g->k[a]) || g->stride[a] < 1 || g->dil[a] < 1 || g->k[a] < 1) {
            diag_error(d, n, "kernel, strides or dilations do not fit W on spatial dim %d", a);
            return false;
        }
        if (opad[a] < 0 || (opad[a] >= g->stride[a] && opad[a] >= g->dil[a])) {
            diag_error(d, n, "output_padding %lld on spatial dim %d must be in [0, max(stride, "
                       "dilation))", (long long)opad[a], a);
            return false;
        }
        /* the extent without padding: stride * (in - 1) + output_padding + span */
        const int64_t full = g->stride[a] * (g->in[a] - 1) + opad[a] +
                             (g->k[a] - 1) * g->dil[a] + 1;
        if (!has_pads && (has_oshape || same)) {
            g->out[a] = has_oshape ? oshape[a] : g->in[a] * g->stride[a];
            const int64_t total = full - g->out[a];
            g->pad[a] = strcmp(ap, "SAME_UPPER") == 0 ? floor_div2(total)
                                                      : total - floor_div2(total);
        } else {
            g->pad[a] = pads[a];
            g->out[a] = has_oshape ? oshape[a] : full - pads[a] - pads[ns + a];
        }
        if (g->out[a] < 0 || g->out[a] > ((int64_t)1 << 31)) {
            diag_error(d, n, "output size %lld on spatial dim %d is out of range",
                       (long long)g->out[a], a);
            return false;
        }
    }
    return true;
}

static bool ct_infer(Graph *gr, Node *n, Diag *d) {
    (void)gr;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d)) return false;
    const Value *x = n->inputs[0], *w = n->inputs[1], *b = op_input(n, 2);
    if ((x->dtype != DT_FLOAT && x->dtype != DT_DOUBLE) || w->dtype != x->dtype) {
        diag_error(d, n, "X and W must both be float or both double");
        return false;
    }
    CtGeom g;
    if (!ct_geom(n, &g, d)) return false;
    if (b && !op_require_shape(n, 2, d)) return false;
    if (b && (b->dtype != x->dtype || ir_numel(b) != g.M)) {
        diag_error(d, n, "B must hold the %lld output channels", (long long)g.M);
        return false;
    }
    int64_t dims[IR_MAX_RANK] = {g.N, g.M};
    for (int a = 0; a < g.ns; a++) dims[2 + a] = g.out[a];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* "i0 * 2 - 1 + t0 * 3": output position a from input index i<a> and tap t<a>, the
 * unit factors and a zero pad left out. */
static void ct_pos_expr(char *buf, size_t size, const CtGeom *g, int a) {
    char st[32] = "", pd[32] = "", dl[32] = "";
    if (g->stride[a] != 1) snprintf(st, sizeof st, " * %lld", (long long)g->stride[a]);
    if (g->pad[a] != 0)
        snprintf(pd, sizeof pd, " %c %lld", g->pad[a] > 0 ? '-' : '+',
                 (long long)(g->pad[a] > 0 ? g->pad[a] : -g->pad[a]));
    if (g->dil[a] != 1) snprintf(dl, sizeof dl, " * %lld", (long long)g->dil[a]);
    snprintf(buf, size, "i%d%s%s + t%d%s", a, st, pd, a, dl);
}

static bool ct_fold(Graph *gr, Node *n, Diag *d) {
    const Value *x = n->inputs[0], *w = n->inputs[1], *b = op_input(n, 2);
    Value *y = n->outputs[0];
    CtGeom g;
    if (!ct_geom(n, &g, d) || !ir_value_alloc_data(gr, y, d)) return false;
    const int64_t nin = shape_numel(g.ns, g.in), nout = shape_numel(g.ns, g.out);
    const int64_t nk = shape_numel(g.ns, g.k), cg = g.C / g.group, mg = g.M / g.group;
    int64_t ostride[CT_MAX_SPATIAL];
    shape_strides(g.ns, g.out, ostride);
    for (int64_t i = 0; i < g.N * g.M * nout; i++)
        ou_set_f64(y, i, b ? ou_get_f64(b, i / nout % g.M) : 0);
    for (int64_t bn = 0; bn < g.N; bn++)
        for (int64_t c = 0; c < g.C; c++)
            for (int64_t ip = 0; ip < nin; ip++) {
                int64_t pi[CT_MAX_SPATIAL];
                for (int a = g.ns - 1, r = ip; a >= 0; a--) pi[a] = r % g.in[a], r /= g.in[a];
                const double v = ou_get_f64(x, (bn * g.C + c) * nin + ip);
                for (int64_t mm = 0; mm < mg; mm++)
                    for (int64_t kp = 0; kp < nk; kp++) {
                        int64_t off = 0;
                        bool inside = true;
                        for (int a = g.ns - 1, r = kp; a >= 0; a--) {
                            const int64_t t = r % g.k[a];
                            r /= g.k[a];
                            const int64_t po = pi[a] * g.stride[a] - g.pad[a] + t * g.dil[a];
                            inside = inside && po >= 0 && po < g.out[a];
                            off += po * ostride[a];
                        }
                        if (!inside) continue;
                        const int64_t m = c / cg * mg + mm;
                        const int64_t at = (bn * g.M + m) * nout + off;
                        ou_set_f64(y, at, ou_get_f64(y, at) +
                                              v * ou_get_f64(w, (c * mg + mm) * nk + kp));
                    }
            }
    return true;
}

/* The plain scatter loops (double, degenerate shapes): each input element adds into the
 * outputs it reaches. */
static bool ct_emit_loops(Emitter *e, const Node *n, const CtGeom *gp) {
    const Value *x = n->inputs[0], *b = op_input(n, 2);
    const CtGeom g = *gp;
    const char *T = dtype_ctype(x->dtype);
    const int64_t nin = shape_numel(g.ns, g.in), nout = shape_numel(g.ns, g.out);
    const int64_t nk = shape_numel(g.ns, g.k), cg = g.C / g.group, mg = g.M / g.group;
    char sx[128], sy[128];
    emit_line(e, "/* ConvTranspose %s -> %s, %lld group(s): each input element scatters into "
              "the outputs it reaches */", ou_shape(sx, sizeof sx, x),
              ou_shape(sy, sizeof sy, n->outputs[0]), (long long)g.group);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)(g.N * g.M * nout));
    if (b) emit_line(e, "y0[i] = x2[i / %lld %% %lld];", (long long)nout, (long long)g.M);
    else emit_line(e, "y0[i] = 0;");
    emit_close(e);
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)g.N);
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)g.C);
    if (g.group > 1)
        emit_line(e, "const size_t m0 = c / %lld * %lld;   /* the group's first output "
                  "channel */", (long long)cg, (long long)mg);
    else
        emit_line(e, "const size_t m0 = 0;   /* one group: every output channel */");
    /* input position i0.., kernel tap t0.., output position o0.. per spatial dim */
    for (int a = 0; a < g.ns; a++)
        emit_open(e, "for (int64_t i%d = 0; i%d < %lld; i%d++)", a, a, (long long)g.in[a], a);
    /* row-major offsets over the input, tap and output positions */
    char xoff[256], koff[256], yoff[256], pos[128];
    int64_t st[CT_MAX_SPATIAL];
    shape_strides(g.ns, g.in, st);
    ou_index_expr(xoff, g.ns, st, 0, "i");
    shape_strides(g.ns, g.k, st);
    ou_index_expr(koff, g.ns, st, 0, "t");
    shape_strides(g.ns, g.out, st);
    ou_index_expr(yoff, g.ns, st, 0, "o");
    emit_line(e, "const %s v = x0[(n * %lld + c) * %lld + (size_t)(%s)];", T, (long long)g.C,
              (long long)nin, xoff);
    emit_open(e, "for (size_t mm = 0; mm < %lld; mm++)", (long long)mg);
    emit_line(e, "const %s *wk = x1 + (c * %lld + mm) * %lld;", T, (long long)mg, (long long)nk);
    emit_line(e, "%s *yc = y0 + (n * %lld + m0 + mm) * %lld;", T, (long long)g.M,
              (long long)nout);
    for (int a = 0; a < g.ns; a++) {
        emit_open(e, "for (int64_t t%d = 0; t%d < %lld; t%d++)", a, a, (long long)g.k[a], a);
        ct_pos_expr(pos, sizeof pos, &g, a);
        emit_line(e, "const int64_t o%d = %s;", a, pos);
        emit_line(e, "if (o%d < 0 || o%d >= %lld) continue;", a, a, (long long)g.out[a]);
    }
    emit_line(e, "yc[(size_t)(%s)] += v * wk[(size_t)(%s)];", yoff, koff);
    for (int a = 0; a < g.ns; a++) emit_close(e);
    emit_close(e);
    for (int a = 0; a < g.ns; a++) emit_close(e);
    emit_close(e);
    return emit_close(e);
}

/* Bytes of the col buffer of one group's product ([M / group x taps][input positions]
 * floats), or 0 when the GEMM path is not taken (double, degenerate or too large). */
static size_t ct_col_bytes(const Node *n, const CtGeom *g) {
    if (n->inputs[0]->dtype != DT_FLOAT) return 0;
    const int64_t nin = shape_numel(g->ns, g->in), nk = shape_numel(g->ns, g->k);
    const int64_t nout = shape_numel(g->ns, g->out), mg = g->M / g->group;
    size_t rows, bytes;
    if (nin <= 0 || nk <= 0 || nout <= 0 || mg <= 0 || g->C == 0 || g->N == 0 ||
        !size_mul((size_t)mg, (size_t)nk, &rows) || !size_mul(rows, (size_t)nin, &bytes) ||
        !size_mul(bytes, sizeof(float), &bytes) || bytes > ct_max_col_bytes)
        return 0;
    return bytes;
}

/* Whether the taps tile the output exactly: each output position is reached by one
 * (input position, tap) pair, so the scatter may store instead of add. */
static bool ct_exact_tiling(const CtGeom *g) {
    for (int a = 0; a < g->ns; a++)
        if (g->stride[a] != g->k[a] || g->dil[a] != 1 || g->pad[a] != 0 ||
            g->out[a] != g->in[a] * g->stride[a])
            return false;
    return true;
}

/* The col2im scatter of one group: row (mm, tap) of col adds into output channel mm of
 * yg at the positions i * stride - pad + tap * dilation that fall inside. */
static void ct_emit_col2im(Emitter *e, const Node *n, const CtGeom *g, bool exact) {
    const int ns = g->ns, L = ns - 1;
    const int64_t nin = shape_numel(ns, g->in), nk = shape_numel(ns, g->k);
    const int64_t nout = shape_numel(ns, g->out), mg = g->M / g->group;
    const bool bias = op_input(n, 2) != NULL;
    int64_t is[CT_MAX_SPATIAL], ks[CT_MAX_SPATIAL], os[CT_MAX_SPATIAL];
    shape_strides(ns, g->in, is);
    shape_strides(ns, g->k, ks);
    shape_strides(ns, g->out, os);
    char koff[256], ioff[256], ooff[256];
    ou_index_expr(koff, ns, ks, 0, "t");
    ou_index_expr(ioff, L, is, 0, "i");
    ou_index_expr(ooff, L, os, 0, "o");
    emit_open(e, "for (size_t mm = 0; mm < %lld; mm++)", (long long)mg);
    if (exact && bias)
        emit_line(e, "const float bv = x2[g * %lld + mm];   /* the channel's bias */",
                  (long long)mg);
    else if (exact)
        emit_line(e, "const float bv = 0.0f;   /* no bias */");
    emit_line(e, "float *ym = yg + mm * %lld;   /* output channel mm: [out...] */",
              (long long)nout);
    for (int a = 0; a < ns; a++)
        emit_open(e, "for (int64_t t%d = 0; t%d < %lld; t%d++)", a, a, (long long)g->k[a], a);
    emit_line(e, "const float *cr = col + (mm * %lld + (size_t)(%s)) * %lld;   /* row (mm, tap) */",
              (long long)nk, koff, (long long)nin);
    char pos[128];
    for (int a = 0; a < L; a++) {
        emit_open(e, "for (int64_t i%d = 0; i%d < %lld; i%d++)", a, a, (long long)g->in[a], a);
        ct_pos_expr(pos, sizeof pos, g, a);
        emit_line(e, "const int64_t o%d = %s;", a, pos);
        emit_line(e, "if (o%d < 0 || o%d >= %lld) continue;", a, a, (long long)g->out[a]);
    }
    /* the last axis: o = i * stride + c, inside for i in [lo, hi) */
    const long long s = (long long)g->stride[L], in = (long long)g->in[L];
    const long long out = (long long)g->out[L];
    char land[64];
    snprintf(land, sizeof land, "t%d", L);
    if (g->dil[L] != 1)
        snprintf(land + strlen(land), sizeof land - strlen(land), " * %lld",
                 (long long)g->dil[L]);
    if (g->pad[L] != 0)
        snprintf(land + strlen(land), sizeof land - strlen(land), " - (%lld)",
                 (long long)g->pad[L]);
    emit_line(e, "const int64_t c%d = %s;   /* where input position 0 lands */", L, land);
    emit_line(e, "const int64_t lo = c%d >= 0 ? 0 : (%lld - c%d) / %lld;", L, s - 1, L, s);
    emit_line(e, "const int64_t hi_out = c%d >= %lld ? 0 : (%lld - c%d) / %lld + 1;", L, out,
              out - 1, L, s);
    emit_line(e, "const int64_t hi = hi_out < %lld ? hi_out : %lld;", in, in);
    /* Inlined into the model's run function, col and the output are slices of the one
     * workspace, and the vectoriser gives up on loads and stores of different strides
     * from one object: a copy of the row on the stack is a separate one. */
    if ((size_t)in * sizeof(float) <= CT_MAX_ROW_COPY) {
        emit_line(e, "float src[%lld];   /* the input row on the stack: its loads cannot alias "
                  "dst */", in);
        emit_line(e, "memcpy(src, cr + (size_t)(%s), %zu);", ioff, (size_t)in * sizeof(float));
    } else {
        emit_line(e, "const float *restrict src = cr + (size_t)(%s);", ioff);
    }
    emit_line(e, "float *restrict dst = ym + (size_t)(%s);", ooff);
    emit_open(e, "for (int64_t i%d = lo; i%d < hi; i%d++)", L, L, L);
    if (exact)
        emit_line(e, "dst[i%d * %lld + c%d] = src[i%d] + bv;", L, s, L, L);
    else
        emit_line(e, "dst[i%d * %lld + c%d] += src[i%d];", L, s, L, L);
    emit_close(e);
    for (int a = 0; a < L; a++) emit_close(e);
    for (int a = 0; a < ns; a++) emit_close(e);
    emit_close(e);
}

/* Float: per image and group, col = W^T x X by the runtime GEMM, then col2im. */
static bool ct_emit_gemm(Emitter *e, const Node *n, const CtGeom *g) {
    const Value *x = n->inputs[0], *b = op_input(n, 2);
    const int64_t nin = shape_numel(g->ns, g->in), nk = shape_numel(g->ns, g->k);
    const int64_t nout = shape_numel(g->ns, g->out);
    const int64_t cg = g->C / g->group, mg = g->M / g->group;
    const bool exact = ct_exact_tiling(g);
    char sx[128], sy[128];
    emit_line(e, "/* ConvTranspose %s -> %s, %lld group(s): per image and group, col = W^T x X",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, n->outputs[0]),
              (long long)g->group);
    emit_line(e, " * ([%lld channels x %lld taps][%lld input positions], the runtime GEMM), "
              "then each row of col", (long long)mg, (long long)nk, (long long)nin);
    emit_line(e, " * %s */",
              exact ? "stored where its tap lands (the taps tile the output: one write each, "
                      "bias added there)"
                    : "added into the output positions its tap reaches");
    emit_line(e, "float *col = (float *)scratch;");
    if (!exact) {
        emit_open(e, "for (size_t nm = 0; nm < %lld; nm++)", (long long)(g->N * g->M));
        if (b) emit_line(e, "const float bv = x2[nm %% %lld];", (long long)g->M);
        else emit_line(e, "const float bv = 0.0f;");
        emit_line(e, "for (size_t s = 0; s < %lld; s++) y0[nm * %lld + s] = bv;",
                  (long long)nout, (long long)nout);
        emit_close(e);
    }
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)g->N);
    emit_open(e, "for (size_t g = 0; g < %lld; g++)", (long long)g->group);
    emit_line(e, "/* col[%lld][%lld] = W_g^T [%lld][%lld] x X_g [%lld][%lld] */",
              (long long)(mg * nk), (long long)nin, (long long)(mg * nk), (long long)cg,
              (long long)cg, (long long)nin);
    emit_line(e, "onnxcc_f32_gemm(%lld, %lld, %lld, 1.0f, x1 + g * %lld, 1, %lld,",
              (long long)(mg * nk), (long long)nin, (long long)cg, (long long)(cg * mg * nk),
              (long long)(mg * nk));
    emit_line(e, "                x0 + (n * %lld + g * %lld) * %lld, %lld, 1, col, %lld, NULL, "
              "pool);", (long long)g->C, (long long)cg, (long long)nin, (long long)nin,
              (long long)nin);
    emit_line(e, "float *yg = y0 + (n * %lld + g * %lld) * %lld;   /* the group's outputs */",
              (long long)g->M, (long long)mg, (long long)nout);
    ct_emit_col2im(e, n, g, exact);
    emit_close(e);
    return emit_close(e);
}

static bool ct_emit(Emitter *e, const Node *n, Diag *d) {
    CtGeom g;
    if (!ct_geom(n, &g, d)) return false;
    if (ct_col_bytes(n, &g) > 0) return ct_emit_gemm(e, n, &g);
    return ct_emit_loops(e, n, &g);
}

static size_t ct_scratch(const Node *n) {
    CtGeom g;
    Diag d;
    diag_init(&d);
    const size_t bytes = ct_geom(n, &g, &d) ? ct_col_bytes(n, &g) : 0;
    diag_free(&d);
    return bytes;
}

const OpDef op_convtranspose = {
    .name = "ConvTranspose", .domain = "", .since = 1, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = ct_infer, .fold = ct_fold, .emit = ct_emit,
    .scratch_bytes = ct_scratch, .memory = OP_MEMORY_SEPARATE,
};
