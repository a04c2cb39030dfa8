/* test_eltwise.c: onnxcc_f32_act (rt_eltwise.c), the standalone activations.
 *
 * Every activation code but PRelu, over n = 0, 1, VL - 1, VL, VL + 1 and 1000 elements
 * (no whole vector, a partial one alone, exactly one, one and a tail, many), out of place
 * and in place, on special values (+-0, +-inf, NaN, denormals, FLT_MAX, the edges of the
 * exponential's range and of v_tanh's two forms) and pseudo-random values in [-12, 12].
 * Each result is checked against the scalar onnxcc_act within the bound of its
 * activation (see act_close), the floats past y[n) must be left alone, and an element's
 * bits must not depend on where it lies: each call reads a window of the inputs at an
 * offset that puts its elements in other lanes than the full-length call, and must give
 * that call's bits, in place as out of place.
 *
 * Like test_conv_first.c this file needs only the runtime, so it is built into unit_tests
 * and into the per-ISA kern_tests_* programs (CMakeLists.txt): AVX-512, AVX2 + FMA and the
 * portable vector extensions each run it against their own v_act.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "onnxcc_eltwise.h"
#include "onnxcc_simd.h"

enum { EW_MAX = 1000, EW_OFFSET = 3, EW_GUARD = 2 * VL };

typedef struct EwAct {
    int act;
    float alpha, beta;
    const char *name;
} EwAct;

static const EwAct ew_acts[] = {
    { ONNXCC_ACT_NONE, 0, 0, "none" },
    { ONNXCC_ACT_RELU, 0, 0, "relu" },
    { ONNXCC_ACT_LEAKY_RELU, 0.1f, 0, "leaky_relu(0.1)" },
    { ONNXCC_ACT_ELU, 0.7f, 0, "elu(0.7)" },
    { ONNXCC_ACT_CLIP, -0.2f, 0.3f, "clip(-0.2, 0.3)" },
    { ONNXCC_ACT_SIGMOID, 0, 0, "sigmoid" },
    { ONNXCC_ACT_TANH, 0, 0, "tanh" },
    { ONNXCC_ACT_HARD_SIGMOID, 0.2f, 0.5f, "hard_sigmoid(0.2, 0.5)" },
    { ONNXCC_ACT_HARD_SWISH, 0, 0, "hard_swish" },
    { ONNXCC_ACT_SILU, 0, 0, "silu" },
};

/* The inputs: special values first, then values in [-12, 12] from a fixed LCG. */
static void ew_inputs(float *x, size_t n) {
    static const float special[] = {
        0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f,
        3e-39f, -3e-39f, FLT_MAX, -FLT_MAX, 1e-8f, -1e-8f, 0.5f, -0.5f, 1.0f, -1.0f,
        0.625f, -0.625f, 0.624999940f, -0.624999940f, 9.02f, -9.02f, 88.8f, -86.7f,
        -90.0f, -104.5f, 3.0f, -3.0f, 2.5f, -2.5f,
    };
    const size_t ns = sizeof special / sizeof special[0];
    uint32_t state = 12345u;
    for (size_t i = 0; i < n; i++) {
        if (i < ns) {
            x[i] = special[i];
        } else {
            state = state * 1664525u + 1013904223u;
            x[i] = ((float)(state >> 8) / 16777216.0f - 0.5f) * 24.0f;
        }
    }
}

/* One unit in the last place of s (the smallest denormal at and below FLT_MIN). */
static double ew_ulp(float s) {
    double a = fabs((double)s);
    if (a < FLT_MIN) return ldexp(1.0, -149);
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 24);
}

/* Whether y, onnxcc_f32_act's result for x, is close enough to the scalar onnxcc_act's s.
 * The piecewise-linear activations compute the same formulas: equal bits, but for the
 * multiply-add alpha x + beta of HardSigmoid and HardSwish, which v_act fuses: the
 * product's rounding, an ulp of alpha x, is missing, and is large against a result near
 * 0 (HardSwish: times x, plus an ulp of the clipped factor).  The vector math
 * of the others is within 3 ulp of exact and the scalar functions within 2.3
 * (test_vmath.c): 6 ulp of s apart at most, plus, for Elu's alpha (e^x - 1) at x < 0, an
 * error of e^x near 1 (2^-22 alpha, as e^x - 1 loses the digits that ulps would count);
 * below x = -86.64, where onnxcc_expf flushes e^x to 0 and the vector e^x is a denormal,
 * Sigmoid and SiLU are within max(1, |x|) * 2.4e-38 (test_vmath.c).  NaN must match NaN,
 * and a zero carry the scalar zero's sign. */
static bool act_close(const EwAct *a, float x, float y, float s) {
    if (isnan(s) || isnan(y)) return isnan(s) && isnan(y);
    if (y == 0 && s == 0) return signbit(y) == signbit(s);
    if (isinf(s) || isinf(y)) return y == s;
    double err = fabs((double)y - (double)s), ulps = err / ew_ulp(s);
    switch (a->act) {
    case ONNXCC_ACT_HARD_SIGMOID: return err <= ew_ulp(a->alpha * x) + ew_ulp(s);
    case ONNXCC_ACT_HARD_SWISH:
        return err <= fabs((double)x) * (ew_ulp(x / 6.0f) + ew_ulp(1.0f)) + ew_ulp(s);
    case ONNXCC_ACT_SIGMOID:
    case ONNXCC_ACT_SILU:
        if (x < -86.64f) return err <= fmax(1.0, fabs((double)x)) * 2.4e-38;
        return ulps <= 6.0;
    case ONNXCC_ACT_ELU:
        return x < 0 ? err <= 6.0 * ew_ulp(s) + ldexp(fabs((double)a->alpha), -22)
                     : ulps == 0.0;
    case ONNXCC_ACT_TANH: return ulps <= 6.0;
    default: return ulps == 0.0;
    }
}

/* Bit-for-bit equality, but any NaN equals any NaN: which operand's NaN x86 passes on
 * (sign and payload) depends on the operand order the compiler picked, which differs
 * between the loop and the tail. */
static bool ew_same_bits(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Activation a over n inputs read at x + EW_OFFSET, out of place and in place, against
 * full (the full-length call's results) and the scalar function. */
static void check_length(const EwAct *a, const float *x, const float *full, size_t n) {
    static float y[EW_MAX + EW_GUARD], z[EW_MAX + EW_GUARD];
    const float sentinel = -1234.5f;
    for (size_t i = 0; i < EW_MAX + EW_GUARD; i++) y[i] = sentinel;
    onnxcc_f32_act(a->act, x + EW_OFFSET, y, n, a->alpha, a->beta);
    memcpy(z, x + EW_OFFSET, n * sizeof(float));
    for (size_t i = n; i < EW_MAX + EW_GUARD; i++) z[i] = sentinel;
    onnxcc_f32_act(a->act, z, z, n, a->alpha, a->beta);
    for (size_t i = 0; i < n; i++) {
        const float xi = x[EW_OFFSET + i];
        const float s = onnxcc_act(a->act, xi, a->alpha, a->beta, 0.0f);
        cr_assert(act_close(a, xi, y[i], s), "%s(%.9g), n = %zu, element %zu: %.9g, scalar %.9g",
                  a->name, (double)xi, n, i, (double)y[i], (double)s);
        cr_assert(ew_same_bits(y[i], full[EW_OFFSET + i]),
                  "%s(%.9g), n = %zu, element %zu: %.9g, %.9g in the full-length call",
                  a->name, (double)xi, n, i, (double)y[i], (double)full[EW_OFFSET + i]);
        cr_assert(ew_same_bits(z[i], y[i]), "%s(%.9g), n = %zu, element %zu: %.9g in place",
                  a->name, (double)xi, n, i, (double)z[i]);
    }
    for (size_t i = n; i < EW_MAX + EW_GUARD; i++) {
        cr_assert(ew_same_bits(y[i], sentinel), "%s, n = %zu: y[%zu] written", a->name, n, i);
        cr_assert(ew_same_bits(z[i], sentinel), "%s, n = %zu, in place: y[%zu] written",
                  a->name, n, i);
    }
}

Test(eltwise, every_act_every_length) {
    static float x[EW_MAX + EW_OFFSET], full[EW_MAX + EW_OFFSET];
    const size_t lengths[] = { 0, 1, VL - 1, VL, VL + 1, EW_MAX };
    ew_inputs(x, EW_MAX + EW_OFFSET);
    for (size_t k = 0; k < sizeof ew_acts / sizeof ew_acts[0]; k++) {
        const EwAct *a = &ew_acts[k];
        onnxcc_f32_act(a->act, x, full, EW_MAX + EW_OFFSET, a->alpha, a->beta);
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
            check_length(a, x, full, lengths[l]);
    }
}

/* The values the activations must give exactly at their edges, whatever the ISA. */
Test(eltwise, special_values) {
    const float x[] = { -0.0f, 0.0f, INFINITY, -INFINITY, NAN, 1e-45f, -3e-39f };
    enum { N = sizeof x / sizeof x[0] };
    float y[N];
    onnxcc_f32_act(ONNXCC_ACT_TANH, x, y, N, 0.0f, 0.0f);
    cr_assert(y[0] == 0.0f && signbit(y[0]), "tanh(-0) = %g, expected -0", (double)y[0]);
    cr_assert(y[1] == 0.0f && !signbit(y[1]), "tanh(+0) = %g, expected +0", (double)y[1]);
    cr_assert(y[2] == 1.0f && y[3] == -1.0f, "tanh(+-inf) = %g, %g", (double)y[2],
              (double)y[3]);
    cr_assert(isnan(y[4]), "tanh(NaN) = %g", (double)y[4]);
    cr_assert(y[5] == x[5] && y[6] == x[6], "tanh of denormals: %g, %g", (double)y[5],
              (double)y[6]);
    onnxcc_f32_act(ONNXCC_ACT_SIGMOID, x, y, N, 0.0f, 0.0f);
    cr_assert(y[0] == 0.5f && y[2] == 1.0f && y[3] == 0.0f && isnan(y[4]),
              "sigmoid(-0, +inf, -inf, NaN) = %g, %g, %g, %g", (double)y[0], (double)y[2],
              (double)y[3], (double)y[4]);
    onnxcc_f32_act(ONNXCC_ACT_RELU, x, y, N, 0.0f, 0.0f);
    cr_assert(y[2] == INFINITY && y[3] == 0.0f && y[4] == 0.0f,
              "relu(+inf, -inf, NaN) = %g, %g, %g (NaN > 0 is false, as onnxcc_relu)",
              (double)y[2], (double)y[3], (double)y[4]);
}
