/* grid_sample.c: GridSample (opsets 16, 20, 22): Y[n][c][p] samples the spatial dims of
 * X[n][c] at the normalised coordinates grid[n][p][:] (in [-1, 1], last spatial dim
 * first), with interpolation nearest, linear or cubic (spelled bilinear / bicubic before
 * opset 20) and padding_mode zeros, border or reflection, for any number of spatial dims.
 *
 * The grid is run-time data, so the sampling positions are computed in the emitted code:
 * for each batch and output position, every spatial dim turns its grid value into input
 * positions and weights (the taps: 1, 2 or 4 per dim), their product over the dims into
 * a small table of offsets and weights, which every channel then reads.  Coordinates are
 * computed in float as the ONNX reference does (it holds them in float32); the weighted
 * sum in X's type.  X is float or double; the grid float or double. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum { GS_MAX_TAPS = 4 };          /* cubic: 4 taps per spatial dim */
/* Coordinates further than this outside the input read nothing but padding; clamping
 * them there keeps NaN and infinities out of the float-to-integer conversions. */
static const double gs_guard = 8;

typedef enum GsMode { GS_NEAREST, GS_LINEAR, GS_CUBIC } GsMode;
typedef enum GsPad { GS_ZEROS, GS_BORDER, GS_REFLECTION } GsPad;

typedef struct GsParams {
    GsMode mode;
    GsPad pad;
    bool align_corners;
    int spatial;                   /* spatial dims of X */
} GsParams;

static const DType gs_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

static bool gs_params(const Node *n, GsParams *p, Diag *d) {
    const char *mode = ir_attr_string(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
    const bool new_names = n->opset >= 20;
    if (strcmp(mode, "nearest") == 0) p->mode = GS_NEAREST;
    else if (strcmp(mode, new_names ? "linear" : "bilinear") == 0) p->mode = GS_LINEAR;
    else if (strcmp(mode, new_names ? "cubic" : "bicubic") == 0) p->mode = GS_CUBIC;
    else {
        diag_error(d, n, "attribute 'mode' is '%s', expected nearest, %s or %s (opset %d)",
                   mode, new_names ? "linear" : "bilinear", new_names ? "cubic" : "bicubic",
                   n->opset);
        return false;
    }
    const char *pad = ir_attr_string(n, "padding_mode", "zeros");
    if (strcmp(pad, "zeros") == 0) p->pad = GS_ZEROS;
    else if (strcmp(pad, "border") == 0) p->pad = GS_BORDER;
    else if (strcmp(pad, "reflection") == 0) p->pad = GS_REFLECTION;
    else {
        diag_error(d, n, "attribute 'padding_mode' is '%s', expected zeros, border or "
                   "reflection", pad);
        return false;
    }
    p->align_corners = ir_attr_int(n, "align_corners", 0) != 0;
    return true;
}

static bool gs_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !op_require_shape(n, 1, d) ||
        !ou_check_dtype(n, 0, gs_types, d) || !ou_check_dtype(n, 1, gs_types, d))
        return false;
    GsParams p;
    if (!gs_params(n, &p, d)) return false;
    const Value *x = n->inputs[0], *grid = n->inputs[1];
    if (x->rank < 3) {
        diag_error(d, n, "X has rank %d, GridSample needs [N, C, spatial...]", x->rank);
        return false;
    }
    if (grid->rank != x->rank || grid->dims[0] != x->dims[0] ||
        grid->dims[grid->rank - 1] != x->rank - 2) {
        char sx[128], sg[128];
        diag_error(d, n, "grid %s does not fit X %s: it must be [N, out spatial..., %d]",
                   ou_shape(sg, sizeof sg, grid), ou_shape(sx, sizeof sx, x), x->rank - 2);
        return false;
    }
    int64_t dims[IR_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int k = 1; k < grid->rank - 1; k++) dims[k + 1] = grid->dims[k];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* Emits `v = reflect(v)` into [lo, hi], as the reference: mirrored at the near border
 * until inside. */
static void gs_emit_reflect(Emitter *e, const char *v, double lo, double hi) {
    char slo[40], shi[40], srng[40];
    c_float(slo, (float)lo), c_float(shi, (float)hi), c_float(srng, (float)(hi - lo));
    if (hi == lo) {
        emit_line(e, "%s = %s;", v, slo);
        return;
    }
    emit_open(e, "if (%s < %s || %s > %s)", v, slo, v, shi);
    emit_line(e, "const bool below = %s < %s;", v, slo);
    emit_line(e, "const float dx = below ? %s - %s : %s - %s;", slo, v, v, shi);
    emit_line(e, "const float turns = floorf(dx / %s), rem = dx - turns * %s;", srng, srng);
    emit_line(e, "const bool even = fmodf(turns, 2.0f) == 0;");
    emit_line(e, "%s = below == even ? %s + rem : %s - rem;", v, slo, shi);
    emit_close(e);
}

/* Emits dim k's taps: `int64_t iK[T]` (input positions, in range), `float wK[T]`
 * (weights) and, for zeros padding, `bool okK[T]` (inside the input).  g points at the
 * grid vector of the output position; component `comp` belongs to this dim. */
static void gs_emit_dim(Emitter *e, const GsParams *p, int k, int comp, int64_t size,
                        int taps) {
    char lit[40], lo_s[40], hi_s[40], last[40];
    const double lo = p->align_corners ? 0 : -0.5;
    const double hi = p->align_corners ? (double)size - 1 : (double)size - 0.5;
    c_float(last, (float)(size - 1));
    emit_line(e, "/* spatial dim %d (size %lld): grid component %d */", k, (long long)size,
              comp);
    emit_line(e, "int64_t i%d[%d];", k, taps);
    emit_line(e, "float w%d[%d];", k, taps);
    if (p->pad == GS_ZEROS) emit_line(e, "bool ok%d[%d];", k, taps);
    emit_line(e, "{");
    e->indent++;
    /* denormalise, in float (the reference's float32) */
    if (p->align_corners)
        emit_line(e, "float x = (float)((g[%d] + 1) / 2 * %s);", comp, c_int64(lit, size - 1));
    else
        emit_line(e, "float x = (float)(((g[%d] + 1) * %s - 1) / 2);", comp,
                  c_int64(lit, size));
    if (p->mode == GS_NEAREST) emit_line(e, "x = nearbyintf(x);   /* half to even */");
    c_float(lo_s, (float)lo), c_float(hi_s, (float)hi);
    if (p->pad == GS_BORDER)
        emit_line(e, "if (x < %s || x > %s) x = x < 0 ? 0 : x > %s ? %s : x;", lo_s, hi_s,
                  last, last);
    else if (p->pad == GS_REFLECTION)
        gs_emit_reflect(e, "x", lo, hi);
    /* no NaN or far value past this point (see gs_guard) */
    emit_line(e, "x = fminf(fmaxf(x, %s), %s);", c_float(lit, (float)-gs_guard),
              c_float(hi_s, (float)((double)size + gs_guard)));
    if (p->mode == GS_NEAREST) {
        emit_line(e, "const int64_t t[1] = { (int64_t)x };");
        emit_line(e, "w%d[0] = 1;", k);
    } else {
        emit_line(e, "const float fl = floorf(x), f = x - fl;");
        emit_line(e, "const int64_t b = (int64_t)fl;");
        if (p->mode == GS_LINEAR) {
            emit_line(e, "const int64_t t[2] = { b, b + 1 };");
            emit_line(e, "w%d[0] = 1 - f;", k);
            emit_line(e, "w%d[1] = f;", k);
        } else {
            /* Keys' cubic convolution, A = -0.75, at distances 1 + f, f, 1 - f, 2 - f */
            emit_line(e, "const int64_t t[4] = { b - 1, b, b + 1, b + 2 };");
            emit_line(e, "const float A = -0.75f, f1 = f + 1, f2 = 1 - f, f3 = 2 - f;");
            emit_line(e, "w%d[0] = ((A * f1 - 5 * A) * f1 + 8 * A) * f1 - 4 * A;", k);
            emit_line(e, "w%d[1] = ((A + 2) * f - (A + 3)) * f * f + 1;", k);
            emit_line(e, "w%d[2] = ((A + 2) * f2 - (A + 3)) * f2 * f2 + 1;", k);
            emit_line(e, "w%d[3] = ((A * f3 - 5 * A) * f3 + 8 * A) * f3 - 4 * A;", k);
        }
    }
    /* each tap's input position, as the padding mode says */
    emit_open(e, "for (int j = 0; j < %d; j++)", taps);
    if (p->pad == GS_ZEROS) {
        emit_line(e, "ok%d[j] = t[j] >= 0 && t[j] < %s;", k, c_int64(lit, size));
        emit_line(e, "i%d[j] = ok%d[j] ? t[j] : 0;", k, k);
    } else if (p->pad == GS_BORDER) {
        emit_line(e, "i%d[j] = t[j] < 0 ? 0 : t[j] > %s ? %s : t[j];", k, c_int64(lit, size - 1),
                  lit);
    } else {
        emit_line(e, "float pos = (float)t[j];");
        gs_emit_reflect(e, "pos", lo, hi);
        emit_line(e, "const int64_t ri = (int64_t)pos;");
        emit_line(e, "i%d[j] = ri < 0 ? 0 : ri > %s ? %s : ri;", k, c_int64(lit, size - 1),
                  lit);
    }
    emit_close(e);
    emit_close(e);
}

static bool gs_emit(Emitter *e, const Node *n, Diag *d) {
    GsParams p;
    if (!gs_params(n, &p, d)) return false;
    if (ou_emit_if_empty(e, n)) return true;
    const Value *x = n->inputs[0], *grid = n->inputs[1], *y = n->outputs[0];
    const int sp = x->rank - 2;
    const int taps = p.mode == GS_NEAREST ? 1 : p.mode == GS_LINEAR ? 2 : GS_MAX_TAPS;
    int64_t total = 1;                 /* taps over all dims */
    for (int k = 0; k < sp; k++) total *= taps;
    int64_t plane = 1, points = 1;     /* input spatial elements; output positions */
    for (int k = 0; k < sp; k++) plane *= x->dims[2 + k], points *= y->dims[2 + k];
    const int64_t batch = x->dims[0], chans = x->dims[1];
    const char *T = dtype_ctype(x->dtype), *G = dtype_ctype(grid->dtype);
    static const char *const mode_names[] = { "nearest", "linear", "cubic" };
    static const char *const pad_names[] = { "zeros", "border", "reflection" };
    char sx[128], sg[128], sy[128];
    emit_line(e, "/* GridSample (%s, padding %s, align_corners %d) of %s at grid %s -> %s */",
              mode_names[p.mode], pad_names[p.pad], p.align_corners,
              ou_shape(sx, sizeof sx, x), ou_shape(sg, sizeof sg, grid),
              ou_shape(sy, sizeof sy, y));
    emit_open(e, "for (size_t n = 0; n < %lld; n++)", (long long)batch);
    emit_open(e, "for (size_t p = 0; p < %lld; p++)", (long long)points);
    emit_line(e, "const %s *g = x1 + (n * %lld + p) * %d;   /* x, y, ... */", G,
              (long long)points, sp);
    if (plane == 0) {
        /* an empty input: every sample is padding (zeros), or has nothing to read */
        emit_line(e, "(void)g;");
        emit_line(e, "(void)x0;");
        emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)chans);
        emit_line(e, "y0[(n * %lld + c) * %lld + p] = 0;", (long long)chans, (long long)points);
        emit_close(e);
        emit_close(e);
        return emit_close(e);
    }
    /* spatial dim k (k = 0 outermost) reads grid component sp - 1 - k */
    for (int k = 0; k < sp; k++) gs_emit_dim(e, &p, k, sp - 1 - k, x->dims[2 + k], taps);
    /* the product of the dims' taps: offsets into a plane and weights */
    emit_line(e, "size_t off[%lld];", (long long)total);
    emit_line(e, "%s wt[%lld];", T, (long long)total);
    if (p.pad == GS_ZEROS) emit_line(e, "bool ok[%lld];", (long long)total);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)total);
    emit_line(e, "int r = j;");
    emit_line(e, "size_t o = 0;");
    emit_line(e, "%s w = 1;", T);
    if (p.pad == GS_ZEROS) emit_line(e, "bool in = true;");
    int64_t stride = 1;
    for (int k = sp - 1; k >= 0; k--) {
        emit_line(e, "o += (size_t)i%d[r %% %d] * %lld;", k, taps, (long long)stride);
        emit_line(e, "w *= (%s)w%d[r %% %d];", T, k, taps);
        if (p.pad == GS_ZEROS) emit_line(e, "in = in && ok%d[r %% %d];", k, taps);
        emit_line(e, "r /= %d;", taps);
        stride *= x->dims[2 + k];
    }
    emit_line(e, "off[j] = o;");
    emit_line(e, "wt[j] = w;");
    if (p.pad == GS_ZEROS) emit_line(e, "ok[j] = in;");
    emit_close(e);
    /* every channel reads the same taps */
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)chans);
    emit_line(e, "const %s *xc = x0 + (n * %lld + c) * %lld;", T, (long long)chans,
              (long long)plane);
    emit_line(e, "%s acc = 0;", T);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)total);
    /* a tap outside the input (zeros padding) adds nothing, not 0 * x */
    emit_line(e, p.pad == GS_ZEROS ? "if (ok[j]) acc += wt[j] * xc[off[j]];"
                                   : "acc += wt[j] * xc[off[j]];");
    emit_close(e);
    emit_line(e, "y0[(n * %lld + c) * %lld + p] = acc;", (long long)chans, (long long)points);
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

/* Work of one run: a multiply-add per tap and channel. */
static int64_t gs_flops(const Node *n) {
    GsParams p;
    Diag d;
    diag_init(&d);
    const bool ok = gs_params(n, &p, &d);
    diag_free(&d);
    const int64_t count = ir_numel(n->outputs[0]);
    if (!ok || count < 0) return 0;
    const int taps = p.mode == GS_NEAREST ? 1 : p.mode == GS_LINEAR ? 2 : GS_MAX_TAPS;
    int64_t total = 2 * count;
    for (int k = 2; k < n->inputs[0]->rank; k++) total *= taps;
    return total;
}

const OpDef op_gridsample = {
    .name = "GridSample", .domain = "", .since = 16, .min_inputs = 2, .max_inputs = 2,
    .min_outputs = 1, .max_outputs = 1, .infer = gs_infer, .emit = gs_emit,
    .memory = OP_MEMORY_SEPARATE, .flops = gs_flops,
};
