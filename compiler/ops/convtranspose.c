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
 * output_shape is given.  Emitted as plain loops (no runtime kernel yet): correct first;
 * the U-Net-style models of issue 5 will want a faster one. */
#include <stdio.h>
#include <string.h>

#include "ir/shape.h"
#include "ops/op_util.h"

enum { CT_MAX_SPATIAL = 3 };

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

static bool ct_emit(Emitter *e, const Node *n, Diag *d) {
    const Value *x = n->inputs[0], *b = op_input(n, 2);
    CtGeom g;
    if (!ct_geom(n, &g, d)) return false;
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

const OpDef op_convtranspose = {
    .name = "ConvTranspose", .domain = "", .since = 1, .min_inputs = 2, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = ct_infer, .fold = ct_fold, .emit = ct_emit,
    .memory = OP_MEMORY_SEPARATE,
};
