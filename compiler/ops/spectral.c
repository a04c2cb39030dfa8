/* spectral.c: DFT and STFT, the discrete Fourier transform along one axis and the
 * short-time transform of a windowed signal.
 *
 * Signals hold complex numbers in a last dim of 2 (real, imaginary) or real ones in a
 * last dim of 1.  Both ops reduce to one kernel, a direct O(N^2) transform of a strided
 * sequence of J samples into K coefficients:
 *
 *     y[k] = scale * sum_{j < J} w_j * x[j] * exp(sign * 2*pi*i * k*j / N)
 *
 * with sign -1 forward, +1 inverse (scale 1/N).  Samples past J are zeros (dft_length
 * longer than the signal) and samples past N are dropped (shorter).  The inverse of a
 * one-sided spectrum (irfft) reads the N/2+1 stored coefficients of a Hermitian sequence:
 * the others are conjugates, so each stored one counts twice (w_j = 2) except the DC and,
 * for even N, the Nyquist term, and only the real part is written.  STFT multiplies the
 * samples by its window first.
 *
 * N is a compile-time constant (dft_length, frame_length and the axis are inputs that
 * must be constants), so the emitted code indexes tables of cos and sin of 2*pi*m/N
 * computed here in double: (k*j) mod N is carried incrementally, with no division.
 * Accumulation is in double for float and double signals. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

enum {
    SPEC_MAX_LENGTH = 1 << 16,   /* largest N: the twiddle tables become C text */
    SPEC_TABLE_PER_LINE = 4,     /* twiddle constants per emitted line */
};

/* 2*pi to double precision (M_PI is not ISO C). */
static const double SPEC_TWO_PI = 6.283185307179586476925286766559;

static const DType spec_types[] = { DT_FLOAT, DT_DOUBLE, DT_UNDEFINED };

/* One transform: NA x NB sequences; sequence (a, b) reads sample j of component c at
 * x[a*xa + b*xb + j*xs + c] and writes coefficient k at y[a*ya + b*yb + k*ys + c]. */
typedef struct Spectral {
    int64_t na, nb;
    int64_t xa, xb, xs, ya, yb, ys;
    int64_t j_count;      /* J, samples read */
    int64_t k_count;      /* K, coefficients written */
    int64_t n;            /* N, the transform length */
    int comps_in;         /* 1 (real) or 2 (complex) */
    int comps_out;        /* 2, or 1 for irfft */
    int sign;             /* -1 forward, +1 inverse */
    bool hermitian;       /* irfft weights */
    int window;           /* input index of the window (STFT), or -1 */
} Spectral;

/* Reads optional constant scalar input i into *v (untouched when absent). */
static bool spec_scalar(const Node *n, int i, const char *what, int64_t *v, Diag *d) {
    if (!op_input(n, i)) return true;
    int count;
    if (!ou_const_ints(n, i, v, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "%s must hold one value, it has %d", what, count);
        return false;
    }
    return true;
}

static bool spec_check_length(const Node *n, const char *what, int64_t len, Diag *d) {
    if (len < 1 || len > SPEC_MAX_LENGTH) {
        diag_error(d, n, "%s %lld is out of the supported range [1, %d]", what, (long long)len,
                   SPEC_MAX_LENGTH);
        return false;
    }
    return true;
}

/* Whether the product of v's dims, zeros counted as 1, fits in int64: then every stride
 * and partial product computed from them does too, even for an empty tensor. */
static bool spec_dims_fit(const Value *v) {
    int64_t n = 1;
    for (int k = 0; k < v->rank; k++)
        if (!i64_mul(n, v->dims[k] > 0 ? v->dims[k] : 1, &n)) return false;
    return true;
}

/* The signal input 0: known shape, float or double, rank >= min_rank, last dim 1 or 2. */
static bool spec_check_signal(const Node *n, int min_rank, Diag *d) {
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, spec_types, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < min_rank) {
        diag_error(d, n, "signal '%s' has rank %d, %s needs %d or more", x->name, x->rank,
                   n->op_type, min_rank);
        return false;
    }
    if (!spec_dims_fit(x)) {
        diag_error(d, n, "signal '%s' has too many elements", x->name);
        return false;
    }
    const int64_t c = x->dims[x->rank - 1];
    if (c != 1 && c != 2) {
        diag_error(d, n, "signal '%s' has a last dim of %lld, expected 1 (real) or 2 (complex)",
                   x->name, (long long)c);
        return false;
    }
    return true;
}

/* ---- DFT ---- */

/* The DFT's transform and output dims. */
static bool dft_plan(const Node *n, Spectral *s, int64_t *dims, Diag *d) {
    if (!spec_check_signal(n, 2, d)) return false;
    const Value *x = n->inputs[0];
    const int rank = x->rank;
    /* opset 20 made the axis an input (default -2, the last signal dim) */
    int64_t axis = n->opset >= 20 ? -2 : ir_attr_int(n, "axis", 1);
    if (n->opset >= 20 && !spec_scalar(n, 2, "axis", &axis, d)) return false;
    int ax;
    if (!ou_axis(n, "axis", axis, rank, false, &ax, d)) return false;
    if (ax == rank - 1) {
        diag_error(d, n, "axis %lld is the complex dim; it must name a signal dim",
                   (long long)axis);
        return false;
    }
    const bool inverse = ir_attr_int(n, "inverse", 0) != 0;
    const bool onesided = ir_attr_int(n, "onesided", 0) != 0;
    const int64_t len = x->dims[ax];
    int64_t nlen = inverse && onesided ? 2 * (len - 1) : len;
    if (!spec_scalar(n, 1, "dft_length", &nlen, d) ||
        !spec_check_length(n, "dft_length", nlen, d))
        return false;
    memset(s, 0, sizeof *s);
    s->n = nlen;
    s->comps_in = (int)x->dims[rank - 1];
    s->sign = inverse ? 1 : -1;
    s->hermitian = inverse && onesided;
    s->comps_out = s->hermitian ? 1 : 2;
    s->k_count = !inverse && onesided ? nlen / 2 + 1 : nlen;
    const int64_t j_max = s->hermitian ? nlen / 2 + 1 : nlen;
    s->j_count = len < j_max ? len : j_max;
    s->window = -1;
    /* [outer][len][inner][comps_in] -> [outer][K][inner][comps_out] */
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < ax; k++) outer *= x->dims[k];
    for (int k = ax + 1; k < rank - 1; k++) inner *= x->dims[k];
    s->na = outer;
    s->nb = inner;
    s->xs = inner * s->comps_in;
    s->xa = len * s->xs;
    s->xb = s->comps_in;
    s->ys = inner * s->comps_out;   /* <= the input's inner * 2 elements: fits */
    s->yb = s->comps_out;
    int64_t total;
    if (!i64_mul(s->k_count, s->ys, &s->ya) || !i64_mul(s->ya, outer, &total)) {
        diag_error(d, n, "the output of dft_length %lld has too many elements",
                   (long long)nlen);
        return false;
    }
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    dims[ax] = s->k_count;
    dims[rank - 1] = s->comps_out;
    return true;
}

static bool dft_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    Spectral s;
    int64_t dims[IR_MAX_RANK];
    if (!dft_plan(n, &s, dims, d)) return false;
    const Value *x = n->inputs[0];
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank, dims, d);
}

/* ---- STFT ---- */

/* The STFT's transform and output dims [batch][frames][K][2]. */
static bool stft_plan(const Node *n, Spectral *s, int64_t *dims, Diag *d) {
    if (!spec_check_signal(n, 3, d)) return false;
    const Value *x = n->inputs[0], *w = op_input(n, 2);
    if (x->rank != 3) {
        diag_error(d, n, "signal '%s' has rank %d, STFT needs [batch][length][1 or 2]",
                   x->name, x->rank);
        return false;
    }
    int64_t step = 0, frame = -1;
    if (!op_input(n, 1)) {
        diag_error(d, n, "frame_step is required");
        return false;
    }
    if (!spec_scalar(n, 1, "frame_step", &step, d) || !spec_scalar(n, 3, "frame_length",
                                                                    &frame, d))
        return false;
    if (w) {
        if (!op_require_shape(n, 2, d)) return false;
        if (w->rank != 1 || w->dtype != x->dtype) {
            diag_error(d, n, "window '%s' must be 1-D %s, it is %s of rank %d", w->name,
                       dtype_name(x->dtype), dtype_name(w->dtype), w->rank);
            return false;
        }
        if (frame >= 0 && frame != w->dims[0]) {
            diag_error(d, n, "frame_length %lld differs from the window's length %lld",
                       (long long)frame, (long long)w->dims[0]);
            return false;
        }
        frame = w->dims[0];
    }
    const int64_t len = x->dims[1];
    if (frame < 0) frame = len;
    if (!spec_check_length(n, "frame_length", frame, d)) return false;
    if (step < 1) {
        diag_error(d, n, "frame_step %lld must be positive", (long long)step);
        return false;
    }
    if (frame > len) {
        diag_error(d, n, "frame_length %lld exceeds the signal's length %lld",
                   (long long)frame, (long long)len);
        return false;
    }
    const bool onesided = ir_attr_int(n, "onesided", 1) != 0;
    memset(s, 0, sizeof *s);
    s->n = s->j_count = frame;
    s->k_count = onesided ? frame / 2 + 1 : frame;
    s->comps_in = (int)x->dims[2];
    s->comps_out = 2;
    s->sign = -1;
    s->window = w ? 2 : -1;
    s->na = x->dims[0];
    s->nb = 1 + (len - frame) / step;
    /* a step past the signal gives one frame: clamping it keeps step * comps in range */
    if (step > len) step = len;
    s->xs = s->comps_in;
    s->xa = len * s->comps_in;
    s->xb = step * s->comps_in;
    s->ys = 2;
    s->yb = s->k_count * 2;
    int64_t total;
    if (!i64_mul(s->nb, s->yb, &s->ya) || !i64_mul(s->ya, s->na, &total)) {
        diag_error(d, n, "the output of %lld frames has too many elements", (long long)s->nb);
        return false;
    }
    dims[0] = s->na;
    dims[1] = s->nb;
    dims[2] = s->k_count;
    dims[3] = 2;
    return true;
}

static bool stft_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    Spectral s;
    int64_t dims[4];
    if (!stft_plan(n, &s, dims, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, 4, dims, d);
}

/* ---- the shared kernel: folding ---- */

/* Weight of stored coefficient j of a one-sided spectrum in an irfft. */
static double spec_hermitian_weight(int64_t j, int64_t n) {
    return j == 0 || 2 * j == n ? 1.0 : 2.0;
}

static bool spec_fold(Graph *g, Node *n, const Spectral *s, Diag *d) {
    const Value *x = n->inputs[0];
    const Value *w = s->window >= 0 ? n->inputs[s->window] : NULL;
    Value *y = n->outputs[0];
    if (!ir_value_alloc_data(g, y, d)) return false;
    const double scale = s->sign > 0 ? 1.0 / (double)s->n : 1.0;
        for (int64_t a = 0; a < s->na; a++)
        for (int64_t b = 0; b < s->nb; b++)
            for (int64_t k = 0; k < s->k_count; k++) {
                double re = 0, im = 0;
                for (int64_t j = 0; j < s->j_count; j++) {
                    const int64_t at = a * s->xa + b * s->xb + j * s->xs;
                    double wt = w ? ou_get_f64(w, j) : 1.0;
                    if (s->hermitian) wt *= spec_hermitian_weight(j, s->n);
                    const double xr = wt * ou_get_f64(x, at);
                    const double xi = s->comps_in == 2 ? wt * ou_get_f64(x, at + 1) : 0.0;
                    const double angle = SPEC_TWO_PI * (double)(k * j % s->n) / (double)s->n;
                    const double c = cos(angle), sn = s->sign * sin(angle);
                    re += xr * c - xi * sn;
                    im += xi * c + xr * sn;
                }
                const int64_t at = a * s->ya + b * s->yb + k * s->ys;
                ou_set_f64(y, at, re * scale);
                if (s->comps_out == 2) ou_set_f64(y, at + 1, im * scale);
            }
    return true;
}

static bool dft_fold(Graph *g, Node *n, Diag *d) {
    Spectral s;
    int64_t dims[IR_MAX_RANK];
    return dft_plan(n, &s, dims, d) && spec_fold(g, n, &s, d);
}

static bool stft_fold(Graph *g, Node *n, Diag *d) {
    Spectral s;
    int64_t dims[4];
    return stft_plan(n, &s, dims, d) && spec_fold(g, n, &s, d);
}

/* ---- the shared kernel: emitting ---- */

/* `static const double NAME[N] = { f(2*pi*m/N) ... };` */
static void spec_emit_table(Emitter *e, const char *name, int64_t count, bool sine) {
    char lit[32], line[SPEC_TABLE_PER_LINE * 34 + 1];
    emit_line(e, "static const double %s[%lld] = {", name, (long long)count);
    e->indent++;
    for (int64_t m = 0; m < count; m += SPEC_TABLE_PER_LINE) {
        line[0] = '\0';
        for (int64_t q = m; q < count && q < m + SPEC_TABLE_PER_LINE; q++) {
            const double angle = SPEC_TWO_PI * (double)q / (double)count;
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, "%s%s,", q > m ? " " : "",
                     c_double(lit, sine ? sin(angle) : cos(angle)));
        }
        emit_line(e, "%s", line);
    }
    e->indent--;
    emit_line(e, "};");
}

static bool spec_emit(Emitter *e, const Node *n, const Spectral *s) {
    const Value *x = n->inputs[0];
    const char *T = dtype_ctype(x->dtype);
    char sx[128], sy[128], scale[32];
    emit_line(e, "/* %s %s -> %s: %lld sequences of %lld samples -> %lld coefficients, N = %lld */",
              n->op_type, ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, n->outputs[0]),
              (long long)(s->na * s->nb), (long long)s->j_count, (long long)s->k_count,
              (long long)s->n);
    for (int k = 1; k < n->n_inputs; k++)
        if (n->inputs[k] && k != s->window)
            emit_line(e, "(void)x%d;   /* a size, applied at compile time */", k);
    if (s->j_count == 0) {   /* an empty signal axis: every coefficient is 0 */
        emit_line(e, "(void)x0;   /* no samples */");
        if (s->window >= 0) emit_line(e, "(void)x%d;", s->window);
        emit_line(e, "memset(y0, 0, %zu);", ir_nbytes(n->outputs[0]));
        return true;
    }
    emit_line(e, "/* twiddles: tw_cos[m] = cos(2*pi*m/N), tw_sin[m] = sin(2*pi*m/N) */");
    spec_emit_table(e, "tw_cos", s->n, false);
    spec_emit_table(e, "tw_sin", s->n, true);
    emit_open(e, "for (size_t a = 0; a < %lld; a++)", (long long)s->na);
    emit_open(e, "for (size_t b = 0; b < %lld; b++)", (long long)s->nb);
    emit_line(e, "const %s *xs = x0 + a * %lld + b * %lld;   /* sample j at xs[j * %lld] */", T,
              (long long)s->xa, (long long)s->xb, (long long)s->xs);
    emit_line(e, "%s *ys = y0 + a * %lld + b * %lld;   /* coefficient k at ys[k * %lld] */", T,
              (long long)s->ya, (long long)s->yb, (long long)s->ys);
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)s->k_count);
    emit_line(e, "double re = 0, im = 0;");
    emit_line(e, "size_t m = 0;   /* (k * j) mod N */");
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)s->j_count);
    /* the sample's weight: the window (STFT), the Hermitian pairs (irfft), or none */
    const char *wt = "";
    if (s->window >= 0) {
        emit_line(e, "const double wt = (double)x2[j];   /* window */");
        wt = "wt * ";
    } else if (s->hermitian) {
        emit_line(e, "const double wt = j == 0 || 2 * j == %lld ? 1.0 : 2.0;   /* conjugate "
                  "pairs */", (long long)s->n);
        wt = "wt * ";
    }
    emit_line(e, "const double xr = %s(double)xs[j * %lld];", wt, (long long)s->xs);
    if (s->comps_in == 2)
        emit_line(e, "const double xi = %s(double)xs[j * %lld + 1];", wt, (long long)s->xs);
    else
        emit_line(e, "const double xi = 0.0;   /* real signal */");
    emit_line(e, "/* (xr + i xi) * (cos %c i sin) */", s->sign < 0 ? '-' : '+');
    emit_line(e, "re += xr * tw_cos[m] %s xi * tw_sin[m];", s->sign < 0 ? "+" : "-");
    emit_line(e, "im += xi * tw_cos[m] %s xr * tw_sin[m];", s->sign < 0 ? "-" : "+");
    emit_line(e, "m += k;");
    emit_line(e, "if (m >= %lld) m -= %lld;", (long long)s->n, (long long)s->n);
    emit_close(e);
    if (s->sign > 0) {
        emit_line(e, "re *= %s;   /* 1 / N */", c_double(scale, 1.0 / (double)s->n));
        emit_line(e, "im *= %s;", scale);
    }
    emit_line(e, "ys[k * %lld] = (%s)re;", (long long)s->ys, T);
    if (s->comps_out == 2) emit_line(e, "ys[k * %lld + 1] = (%s)im;", (long long)s->ys, T);
    else emit_line(e, "(void)im;   /* irfft: the real part only */");
    emit_close(e);
    emit_close(e);
    return emit_close(e);
}

static bool dft_emit(Emitter *e, const Node *n, Diag *d) {
    Spectral s;
    int64_t dims[IR_MAX_RANK];
    return dft_plan(n, &s, dims, d) && spec_emit(e, n, &s);
}

static bool stft_emit(Emitter *e, const Node *n, Diag *d) {
    Spectral s;
    int64_t dims[4];
    return stft_plan(n, &s, dims, d) && spec_emit(e, n, &s);
}

/* Floating-point operations: a complex multiply-add (8) per sample and coefficient. */
enum { SPEC_FLOPS_PER_TERM = 8 };

static int64_t spec_flops(const Spectral *s) {
    return s->na * s->nb * s->k_count * s->j_count * SPEC_FLOPS_PER_TERM;
}

static int64_t dft_flops(const Node *n) {
    Spectral s;
    int64_t dims[IR_MAX_RANK];
    Diag d;
    diag_init(&d);
    const bool ok = dft_plan(n, &s, dims, &d);
    diag_free(&d);
    return ok ? spec_flops(&s) : 0;
}

static int64_t stft_flops(const Node *n) {
    Spectral s;
    int64_t dims[4];
    Diag d;
    diag_init(&d);
    const bool ok = stft_plan(n, &s, dims, &d);
    diag_free(&d);
    return ok ? spec_flops(&s) : 0;
}

const OpDef op_dft = {
    .name = "DFT", .domain = "", .since = 17, .min_inputs = 1, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1, .infer = dft_infer, .fold = dft_fold,
    .emit = dft_emit, .memory = OP_MEMORY_SEPARATE, .flops = dft_flops,
};

const OpDef op_stft = {
    .name = "STFT", .domain = "", .since = 17, .min_inputs = 2, .max_inputs = 4,
    .min_outputs = 1, .max_outputs = 1, .infer = stft_infer, .fold = stft_fold,
    .emit = stft_emit, .memory = OP_MEMORY_SEPARATE, .flops = stft_flops,
};
