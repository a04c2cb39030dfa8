/* mel.c: MelWeightMatrix, the [dft_length/2 + 1][num_mel_bins] matrix that maps the bins
 * of a one-sided spectrum onto triangular filters evenly spaced on the mel scale
 * (mel = 2595 log10(1 + hz/700)).
 *
 * The num_mel_bins + 2 edges run from lower_edge_hertz to upper_edge_hertz in mel steps
 * of (high - low) / (num_mel_bins + 2), as the ONNX reference and its test compute them,
 * and each edge becomes the spectrum bin floor((dft_length + 1) * hz / sample_rate).
 * Filter i rises linearly from edge i to edge i+1 (weight 1 there; a lone 1 when the two
 * coincide) and falls to edge i+2.
 *
 * Every input is a scalar that fixes the output's shape or values, so all must be
 * constants and the matrix is computed at compile time; the emitter only reports the
 * case of an output too large to fold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/op_util.h"

enum { MEL_MAX_SIZE = 1 << 20 };   /* num_mel_bins, dft_length: the matrix is folded */

/* Bins beyond this are clamped to it (then rejected as outside the spectrum). */
static const int64_t MEL_MAX_BIN = INT64_C(1) << 62;

/* The five scalar inputs. */
typedef struct MelParams {
    int64_t bins;           /* num_mel_bins */
    int64_t dft_length;
    int64_t sample_rate;
    double low_hz, high_hz;
} MelParams;

static bool mel_int(const Node *n, int i, const char *what, int64_t lo, int64_t *v, Diag *d) {
    int count;
    if (!ou_const_ints(n, i, v, 1, &count, d)) return false;
    if (count != 1 || *v < lo) {
        diag_error(d, n, "%s must be one integer >= %lld", what, (long long)lo);
        return false;
    }
    return true;
}

static bool mel_float(const Node *n, int i, const char *what, double *v, Diag *d) {
    if (!op_require_const(n, i, d)) return false;
    const Value *x = n->inputs[i];
    if (!dtype_is_float(x->dtype) || ir_numel(x) != 1) {
        diag_error(d, n, "%s must be one floating-point value", what);
        return false;
    }
    *v = ou_get_f64(x, 0);
    if (!isfinite(*v) || *v < 0) {
        diag_error(d, n, "%s %g must be finite and non-negative", what, *v);
        return false;
    }
    return true;
}

static bool mel_params(const Node *n, MelParams *p, Diag *d) {
    if (!mel_int(n, 0, "num_mel_bins", 1, &p->bins, d) ||
        !mel_int(n, 1, "dft_length", 1, &p->dft_length, d) ||
        !mel_int(n, 2, "sample_rate", 1, &p->sample_rate, d) ||
        !mel_float(n, 3, "lower_edge_hertz", &p->low_hz, d) ||
        !mel_float(n, 4, "upper_edge_hertz", &p->high_hz, d))
        return false;
    if (p->bins > MEL_MAX_SIZE || p->dft_length > MEL_MAX_SIZE) {
        diag_error(d, n, "num_mel_bins %lld or dft_length %lld exceeds the supported maximum %d",
                   (long long)p->bins, (long long)p->dft_length, MEL_MAX_SIZE);
        return false;
    }
    return true;
}

static bool mel_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    MelParams p;
    if (!mel_params(n, &p, d)) return false;
    const int64_t t = ir_attr_int(n, "output_datatype", DT_FLOAT);
    if (!dtype_is_valid((int)t) || t != (int)t || dtype_size((DType)t) == 0 ||
        (!dtype_is_float((DType)t) && !dtype_is_integer((DType)t))) {
        diag_error(d, n, "output_datatype %lld is not a numeric type", (long long)t);
        return false;
    }
    const int64_t dims[2] = { p.dft_length / 2 + 1, p.bins };
    return ou_set_output(n, n->outputs[0], (DType)t, 2, dims, d);
}

static double mel_from_hz(double hz) { return 2595.0 * log1p(hz / 700.0) / log(10.0); }
static double mel_to_hz(double mel) { return 700.0 * expm1(mel / 2595.0 * log(10.0)); }

/* Writes weight v at (row j, column i) of y, [rows][cols]; false + d when j is not a
 * spectrum bin. */
static bool mel_put(const Node *n, Value *y, int64_t j, int64_t i, double v, Diag *d) {
    const int64_t rows = y->dims[0], cols = y->dims[1];
    if (j < 0 || j >= rows) {
        diag_error(d, n, "mel filter %lld reaches spectrum bin %lld, outside [0, %lld)",
                   (long long)i, (long long)j, (long long)rows);
        return false;
    }
    ou_set_f64(y, j * cols + i, v);
    return true;
}

static bool mel_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    MelParams p;
    if (!mel_params(n, &p, d) || !ir_value_alloc_data(g, y, d)) return false;
    const int64_t edges = p.bins + 2;
    int64_t *bin = malloc(sizeof *bin * (size_t)edges);
    if (!bin) {
        diag_error(d, n, "out of memory for %lld mel edges", (long long)edges);
        return false;
    }
    const double low = mel_from_hz(p.low_hz), high = mel_from_hz(p.high_hz);
    const double step = (high - low) / (double)edges;
    for (int64_t k = 0; k < edges; k++) {
        const double hz = mel_to_hz((double)k * step + low);
        const double b = floor((double)(p.dft_length + 1) * hz / (double)p.sample_rate);
        /* a bin past the spectrum is reported when used; clamp before converting */
        bin[k] = b < (double)MEL_MAX_BIN ? (int64_t)b : MEL_MAX_BIN;
    }
    bool ok = true;
    for (int64_t i = 0; ok && i < p.bins; i++) {
        const int64_t left = bin[i], center = bin[i + 1], right = bin[i + 2];
        if (center == left) ok = mel_put(n, y, center, i, 1.0, d);
        for (int64_t j = left; ok && center > left && j <= center; j++)
            ok = mel_put(n, y, j, i, (double)(j - left) / (double)(center - left), d);
        for (int64_t j = center; ok && right > center && j < right; j++)
            ok = mel_put(n, y, j, i, (double)(right - j) / (double)(right - center), d);
    }
    free(bin);
    return ok;
}

static bool mel_emit(Emitter *e, const Node *n, Diag *d) {
    (void)e;
    diag_error(d, n, "the mel weight matrix is computed at compile time only, and %s is too "
               "large to fold", n->outputs[0]->name);
    return false;
}

const OpDef op_melweightmatrix = {
    .name = "MelWeightMatrix", .domain = "", .since = 17, .min_inputs = 5, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 1, .infer = mel_infer, .fold = mel_fold,
    .emit = mel_emit, .memory = OP_MEMORY_SEPARATE,
};
