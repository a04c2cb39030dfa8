/* onnxcc_act.h: the scalar math of every activation, written once.
 *
 * These static inline functions are used by the compiler's constant folder and by
 * emitted elementwise loops.  The GEMM/convolution epilogues and onnxcc_f32_act
 * (onnxcc_eltwise.h: the standalone activations of float tensors) compute the same
 * activations with onnxcc_simd.h's vector math: the piecewise-linear ones exactly (but
 * for the rounding of HardSigmoid's and HardSwish's multiply-add, fused there), Sigmoid,
 * SiLU, Elu and Tanh within an ulp or two (Tanh's vector form is not libm's tanhf).
 * Codes are stable: the compiler stores them in its IR and emits them as literals.
 */
#ifndef ONNXCC_ACT_H
#define ONNXCC_ACT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ONNXCC_ACT_NONE = 0,
    ONNXCC_ACT_RELU = 1,
    ONNXCC_ACT_LEAKY_RELU = 2,    /* alpha */
    ONNXCC_ACT_ELU = 3,           /* alpha */
    ONNXCC_ACT_PRELU = 4,         /* slope tensor */
    ONNXCC_ACT_CLIP = 5,          /* alpha = min, beta = max */
    ONNXCC_ACT_SIGMOID = 6,
    ONNXCC_ACT_TANH = 7,
    ONNXCC_ACT_HARD_SIGMOID = 8,  /* alpha, beta */
    ONNXCC_ACT_HARD_SWISH = 9,
    ONNXCC_ACT_SILU = 10,         /* x * sigmoid(x), also called swish */
};

/* e^x without branches or library calls, so that loops calling it vectorise (libm's expf
 * is a scalar call).  e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2 (a
 * two-part ln 2 keeps r exact), e^r by a degree-7 polynomial (Cephes' expf
 * coefficients): relative error below 1e-7 for normal results (measured on 1.7 million
 * points of [-86, 88.7] against exp() in double).  Results below about 2.4e-38
 * (x < -86.64) are flushed to 0, x > 88.72 gives +inf, NaN stays NaN. */
static inline float onnxcc_expf(float x) {
    const float hi = 88.72283935546875f, lo = -86.64f;
    float xc = x > hi ? hi : (x < lo ? lo : x);
    xc = xc == xc ? xc : 0.0f;                          /* NaN: computed on 0, fixed below */
    float fn = floorf(xc * 1.44269504088896341f + 0.5f);   /* n, in [-125, 128] */
    float r = xc - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    /* 2^(n-1) from its bits (n - 1 + 127 in [1, 254]: always a normal float), times 2. */
    union { uint32_t u; float f; } scale;
    scale.u = (uint32_t)((int32_t)fn + 126) << 23;
    y = y * scale.f * 2.0f;
    y = x > hi ? INFINITY : (x < lo ? 0.0f : y);
    return x == x ? y : x;
}

/* erf(x) without branches or library calls, so that loops calling it vectorise (libm's
 * erff is a scalar call; Gelu and the exported erf form of GELU spend most of their time
 * there).  |x| < 0.5: x times the Taylor series of erf(x)/x in x^2 to the x^12 term (the
 * next is below 2^-31 relative).  Else erf = 1 - erfc(|x|), with the sign of x, and
 * erfc(z) = t e^(-z^2 + P(t)), t = 1 / (1 + z/2), P of degree 9 (the Chebyshev fit of
 * Numerical Recipes' erfcc, relative error below 1.2e-7).  Both are computed and one
 * selected.  Within 3 ulp of erf() in double on every normal float (2.93 at worst, just
 * above |x| = 0.5 where 1 - erfc cancels): tests/unit/test_vmath.c. */
static inline float onnxcc_erff(float x) {
    const float z = fabsf(x), z2 = x * x;
    /* 2/sqrt(pi) (1 - z2/3 + z2^2/10 - z2^3/42 + z2^4/216 - z2^5/1320 + z2^6/9360) */
    float s = 1.2055332981789664e-4f;
    s = s * z2 - 8.5483270234508346e-4f;
    s = s * z2 + 5.2239776254421878e-3f;
    s = s * z2 - 2.6866170645131252e-2f;
    s = s * z2 + 1.1283791670955126e-1f;
    s = s * z2 - 3.7612638903183752e-1f;
    s = s * z2 + 1.1283791670955126f;
    const float small = x * s;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float big = 1.0f - t * onnxcc_expf(p - z2);
    return z < 0.5f ? small : copysignf(big, x);
}

static inline float onnxcc_relu(float x) { return x > 0.0f ? x : 0.0f; }
static inline float onnxcc_leaky_relu(float x, float alpha) { return x >= 0.0f ? x : alpha * x; }
static inline float onnxcc_elu(float x, float alpha) {
    return x >= 0.0f ? x : alpha * (onnxcc_expf(x) - 1.0f);
}
static inline float onnxcc_prelu(float x, float slope) { return x >= 0.0f ? x : slope * x; }
/* NaN passes through, as in onnxruntime. */
static inline float onnxcc_clip(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}
static inline float onnxcc_sigmoid(float x) {
    /* e^-x may be +inf (x < -88.7): 1 / inf is the right 0.  No branch: vectorises. */
    return 1.0f / (1.0f + onnxcc_expf(-x));
}
static inline float onnxcc_tanh(float x) { return tanhf(x); }
static inline float onnxcc_hard_sigmoid(float x, float alpha, float beta) {
    return onnxcc_clip(alpha * x + beta, 0.0f, 1.0f);
}
static inline float onnxcc_hard_swish(float x) { return x * onnxcc_hard_sigmoid(x, 1.0f / 6.0f, 0.5f); }
/* Mul(x, Sigmoid(x)) of EfficientNet and other SiLU/swish networks, as the two ops give it. */
static inline float onnxcc_silu(float x) { return x * onnxcc_sigmoid(x); }

/* One activation by code; slope is used by PRelu only. */
static inline float onnxcc_act(int act, float x, float alpha, float beta, float slope) {
    switch (act) {
    case ONNXCC_ACT_RELU: return onnxcc_relu(x);
    case ONNXCC_ACT_LEAKY_RELU: return onnxcc_leaky_relu(x, alpha);
    case ONNXCC_ACT_ELU: return onnxcc_elu(x, alpha);
    case ONNXCC_ACT_PRELU: return onnxcc_prelu(x, slope);
    case ONNXCC_ACT_CLIP: return onnxcc_clip(x, alpha, beta);
    case ONNXCC_ACT_SIGMOID: return onnxcc_sigmoid(x);
    case ONNXCC_ACT_TANH: return onnxcc_tanh(x);
    case ONNXCC_ACT_HARD_SIGMOID: return onnxcc_hard_sigmoid(x, alpha, beta);
    case ONNXCC_ACT_HARD_SWISH: return onnxcc_hard_swish(x);
    case ONNXCC_ACT_SILU: return onnxcc_silu(x);
    default: return x;
    }
}

/* Kept out of line where the compiler allows: inlined into a kernel that stages a tile
 * through a stack buffer, clang 14 stops vectorising the loops below (the last values
 * are forwarded to the caller's loads), and each SiLU costs a scalar exponential. */
#if defined(__GNUC__)
#define ONNXCC_ACT_OUT_OF_LINE static __attribute__((noinline, unused))
#else
#define ONNXCC_ACT_OUT_OF_LINE static inline
#endif

/* y[i] = act(y[i], alpha, beta, slope) for i < n: the switch outside, one loop per
 * activation, so that every loop vectorises (onnxcc_act's switch inside a loop does not,
 * and SiLU or Sigmoid then cost a scalar exponential per element).  Written for the
 * kernels' epilogues, which now use onnxcc_simd.h's v_act instead (Tanh included); PRelu
 * takes one slope for all n. */
ONNXCC_ACT_OUT_OF_LINE void onnxcc_act_array(int act, float *y, size_t n, float alpha,
                                             float beta, float slope) {
#define ONNXCC_ACT_LOOP(expr) \
    for (size_t i = 0; i < n; i++) { const float x = y[i]; y[i] = (expr); } \
    return
    switch (act) {
    case ONNXCC_ACT_RELU: ONNXCC_ACT_LOOP(onnxcc_relu(x));
    case ONNXCC_ACT_LEAKY_RELU: ONNXCC_ACT_LOOP(onnxcc_leaky_relu(x, alpha));
    case ONNXCC_ACT_ELU: ONNXCC_ACT_LOOP(onnxcc_elu(x, alpha));
    case ONNXCC_ACT_PRELU: ONNXCC_ACT_LOOP(onnxcc_prelu(x, slope));
    case ONNXCC_ACT_CLIP: ONNXCC_ACT_LOOP(onnxcc_clip(x, alpha, beta));
    case ONNXCC_ACT_SIGMOID: ONNXCC_ACT_LOOP(onnxcc_sigmoid(x));
    case ONNXCC_ACT_TANH: ONNXCC_ACT_LOOP(onnxcc_tanh(x));
    case ONNXCC_ACT_HARD_SIGMOID: ONNXCC_ACT_LOOP(onnxcc_hard_sigmoid(x, alpha, beta));
    case ONNXCC_ACT_HARD_SWISH: ONNXCC_ACT_LOOP(onnxcc_hard_swish(x));
    case ONNXCC_ACT_SILU: ONNXCC_ACT_LOOP(onnxcc_silu(x));
    default: return;
    }
#undef ONNXCC_ACT_LOOP
}

#endif
