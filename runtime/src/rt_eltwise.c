/* rt_eltwise.c: standalone activations of float tensors (onnxcc_eltwise.h).
 *
 * One loop per activation over onnxcc_simd.h's v_act, the switch on the code outside
 * the loops (v_act's own switch, on a constant, folds away when act_loop is inlined
 * into each case).  A libm or onnxcc_expf call per element costs a scalar exponential
 * (tanhf does not vectorise at all); v_act does VL elements in registers with the same
 * arithmetic as the GEMM and convolution epilogues.  The last n % VL elements go
 * through a stack buffer of one vector, so that they get the very same arithmetic as
 * the others: an element's result never depends on its position or on n.
 */
#include <string.h>

/* gcc in ISO C mode does not contract a * b + c into an FMA (clang does): asked for here
 * as in the kernels (rt_dwconv.c), so that v_act gives the epilogues' bits. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include "onnxcc_eltwise.h"
#include "onnxcc_simd.h"

/* y[0..n) = v_act(x[0..n)) for one activation; act is a constant where it is inlined.
 * x == y works: each vector is loaded before it is stored, and the tail is copied out
 * before it is written back. */
ONNXCC_INLINE ONNXCC_WIDE void act_loop(int act, const float *x, float *y, size_t n,
                                        float alpha, float beta) {
    size_t i = 0;
    for (; i + VL <= n; i += VL) v_store(y + i, v_act(v_load(x + i), act, alpha, beta, 0.0f));
    if (i < n) {
        float tmp[VL] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof(float));
        v_store(tmp, v_act(v_load(tmp), act, alpha, beta, 0.0f));
        memcpy(y + i, tmp, (n - i) * sizeof(float));
    }
}

ONNXCC_WIDE void onnxcc_f32_act(int act, const float *x, float *y, size_t n, float alpha,
                                float beta) {
    if (n == 0) return;
#define ACT_CASE(code) case code: act_loop(code, x, y, n, alpha, beta); return
    switch (act) {
    ACT_CASE(ONNXCC_ACT_RELU);
    ACT_CASE(ONNXCC_ACT_LEAKY_RELU);
    ACT_CASE(ONNXCC_ACT_ELU);
    ACT_CASE(ONNXCC_ACT_CLIP);
    ACT_CASE(ONNXCC_ACT_SIGMOID);
    ACT_CASE(ONNXCC_ACT_TANH);
    ACT_CASE(ONNXCC_ACT_HARD_SIGMOID);
    ACT_CASE(ONNXCC_ACT_HARD_SWISH);
    ACT_CASE(ONNXCC_ACT_SILU);
    default:                    /* ONNXCC_ACT_NONE: a copy, nothing to do in place */
        if (x != y) memcpy(y, x, n * sizeof(float));
        return;
    }
#undef ACT_CASE
}
