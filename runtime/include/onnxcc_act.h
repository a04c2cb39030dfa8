/* onnxcc_act.h: the scalar math of every activation, written once.
 *
 * These static inline functions are used by the compiler's constant folder, by emitted
 * elementwise loops and by the GEMM/convolution epilogues, so a fused and an unfused
 * activation compute exactly the same thing.  Codes are stable: the compiler stores them
 * in its IR and emits them as literals.
 */
#ifndef ONNXCC_ACT_H
#define ONNXCC_ACT_H

#include <math.h>

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
};

static inline float onnxcc_relu(float x) { return x > 0.0f ? x : 0.0f; }
static inline float onnxcc_leaky_relu(float x, float alpha) { return x >= 0.0f ? x : alpha * x; }
static inline float onnxcc_elu(float x, float alpha) { return x >= 0.0f ? x : alpha * (expf(x) - 1.0f); }
static inline float onnxcc_prelu(float x, float slope) { return x >= 0.0f ? x : slope * x; }
/* NaN passes through, as in onnxruntime. */
static inline float onnxcc_clip(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}
static inline float onnxcc_sigmoid(float x) {
    /* Split by sign so that expf never overflows. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static inline float onnxcc_tanh(float x) { return tanhf(x); }
static inline float onnxcc_hard_sigmoid(float x, float alpha, float beta) {
    return onnxcc_clip(alpha * x + beta, 0.0f, 1.0f);
}
static inline float onnxcc_hard_swish(float x) { return x * onnxcc_hard_sigmoid(x, 1.0f / 6.0f, 0.5f); }

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
    default: return x;
    }
}

#endif
