/* window.c: HannWindow, HammingWindow and BlackmanWindow, the generalised cosine windows
 *
 *     w[n] = a0 - a1 * cos(2*pi*n / M) + a2 * cos(4*pi*n / M),   n in [0, size)
 *
 * with M = size when periodic (the default) and size - 1 when symmetric.  The three ops
 * differ only in (a0, a1, a2), their OpDef's data.  The output type is the attribute
 * output_datatype (float by default).  size, a scalar input, fixes the output's shape, so
 * it must be a constant; the window is then computed at compile time (fold), and the
 * emitter, used only when the output is too large to fold, computes it at run time.  A
 * symmetric window of one sample (M = 0) is [1], as in PyTorch. */
#include <math.h>
#include <stdio.h>

#include "ops/op_util.h"

typedef struct CosineWindow {
    double a0, a1, a2;
} CosineWindow;

/* Hamming's a0 = 25/46, as the ONNX spec and its reference state. */
static const CosineWindow WIN_HANN = { 0.5, 0.5, 0.0 };
static const CosineWindow WIN_HAMMING = { 25.0 / 46.0, 21.0 / 46.0, 0.0 };
static const CosineWindow WIN_BLACKMAN = { 0.42, 0.5, 0.08 };

static const double WIN_TWO_PI = 6.283185307179586476925286766559;

/* The window's length and its denominator M. */
static bool win_size(const Node *n, int64_t *size, int64_t *m, Diag *d) {
    int count;
    if (!ou_const_ints(n, 0, size, 1, &count, d)) return false;
    if (count != 1) {
        diag_error(d, n, "size must hold one value, it has %d", count);
        return false;
    }
    if (*size < 0) {
        diag_error(d, n, "size %lld is negative", (long long)*size);
        return false;
    }
    *m = ir_attr_int(n, "periodic", 1) != 0 ? *size : *size - 1;
    return true;
}

static bool win_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    int64_t size, m;
    if (!win_size(n, &size, &m, d)) return false;
    const int64_t t = ir_attr_int(n, "output_datatype", DT_FLOAT);
    if (!dtype_is_valid((int)t) || t != (int)t || dtype_size((DType)t) == 0 ||
        (!dtype_is_float((DType)t) && !dtype_is_integer((DType)t))) {
        diag_error(d, n, "output_datatype %lld is not a numeric type", (long long)t);
        return false;
    }
    return ou_set_output(n, n->outputs[0], (DType)t, 1, &size, d);
}

/* Sample i of the window. */
static double win_value(const CosineWindow *w, int64_t i, int64_t m) {
    if (m <= 0) return 1.0;
    const double phase = WIN_TWO_PI * (double)i / (double)m;
    return w->a0 - w->a1 * cos(phase) + w->a2 * cos(2.0 * phase);
}

static bool win_fold(Graph *g, Node *n, Diag *d) {
    const CosineWindow *w = n->op->data;
    Value *y = n->outputs[0];
    int64_t size, m;
    if (!win_size(n, &size, &m, d) || !ir_value_alloc_data(g, y, d)) return false;
    for (int64_t i = 0; i < size; i++) ou_set_f64(y, i, win_value(w, i, m));
    return true;
}

static bool win_emit(Emitter *e, const Node *n, Diag *d) {
    const CosineWindow *w = n->op->data;
    const Value *y = n->outputs[0];
    int64_t size, m;
    if (!win_size(n, &size, &m, d)) return false;
    char a0[32], a1[32], a2[32], step[32], sy[128];
    emit_line(e, "/* %s %s: a0 - a1 cos(2 pi n / %lld) + a2 cos(4 pi n / %lld) */", n->op_type,
              ou_shape(sy, sizeof sy, y), (long long)m, (long long)m);
    emit_line(e, "(void)x0;   /* size, applied at compile time */");
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", (long long)size);
    if (m <= 0) {
        emit_line(e, "const double v = 1.0;   /* one symmetric sample */");
    } else {
        emit_line(e, "const double phase = %s * (double)i;",
                  c_double(step, WIN_TWO_PI / (double)m));
        emit_line(e, "const double v = %s - %s * cos(phase) + %s * cos(2.0 * phase);",
                  c_double(a0, w->a0), c_double(a1, w->a1), c_double(a2, w->a2));
    }
    if (ou_is_half(y->dtype)) {
        emit_line(e, "const float vf = (float)v;");
        ou_emit_half_store(e, y->dtype, "y0[i]", "vf");
    } else {
        emit_line(e, "y0[i] = (%s)v;", dtype_ctype(y->dtype));
    }
    return emit_close(e);
}

#define WINDOW_OP(sym, onnx_name, coeffs)                                                  \
    const OpDef sym = {                                                                    \
        .name = onnx_name, .domain = "", .since = 17, .min_inputs = 1, .max_inputs = 1,    \
        .min_outputs = 1, .max_outputs = 1, .infer = win_infer, .fold = win_fold,          \
        .emit = win_emit, .memory = OP_MEMORY_SEPARATE, .data = &(coeffs),                 \
    }

WINDOW_OP(op_hannwindow, "HannWindow", WIN_HANN);
WINDOW_OP(op_hammingwindow, "HammingWindow", WIN_HAMMING);
WINDOW_OP(op_blackmanwindow, "BlackmanWindow", WIN_BLACKMAN);
