/* test_vmath.c: the vector math of onnxcc_simd.h (v_exp, v_sigmoid, v_silu, v_elu,
 * v_tanh) against double precision and against the scalar functions of onnxcc_act.h.
 *
 * Which V the header defines follows the -march of the translation unit, so the sweep
 * (vmath_check) is compiled twice: into unit_tests, for its own target, and, built by
 * the tests below with clang as a program of its own (VMATH_MAIN), for AVX-512, AVX2 +
 * FMA and the portable vector extensions, under the sanitizers when the tests are built
 * with them.  A target the CPU lacks is skipped.
 *
 * The sweep: one float bit pattern in 4099 over the whole line (about a million values,
 * each sign), the special values (+-0, +-inf, NaN, denormals, FLT_MAX) and the edges of
 * the exponential's range and of v_tanh's two forms.  For every x, the vector result's
 * error in ulps of the exact result (double precision) must be at most 2 more than the
 * scalar function's, or than 1.5 ulp where the scalar one is closer (the scalar
 * functions set the accuracy: Elu's e^x - 1 loses digits near 0 in both, and is left
 * out of the largest errors printed for x in (-1, 0)); v_tanh, which is not built from
 * its scalar function (libm's tanhf, up to 2.1 ulp), must be within 3 ulp.  NaN must
 * give NaN, overflow +inf, and a zero result must have the scalar function's sign
 * (tanh(-0) = -0).  Below x = -86.64, where onnxcc_expf flushes e^x to 0 and v_exp gives
 * denormals, exp, sigmoid and SiLU must be within max(1, |x|) * 2.4e-38 of the exact
 * value.  The largest errors found are printed (2026-11-25, every ISA: exp 1.1 ulp,
 * sigmoid 2.3, SiLU 3.4, Elu 1.5, tanh 1.3; the scalar functions 1.0, 2.0, 2.3, 1.5,
 * 2.1).  v_tanh was also checked at every float of [0, 9.2] (the rest saturates):
 * 1.4 ulp at most.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxcc_act.h"
#include "onnxcc_simd.h"

enum { VM_EXP, VM_SIGMOID, VM_SILU, VM_ELU, VM_TANH, VM_COUNT };
static const char *const vm_names[VM_COUNT] = {"exp", "sigmoid", "silu", "elu(0.7)", "tanh"};
static const float VM_ELU_ALPHA = 0.7f;
/* onnxcc_expf flushes e^x to 0 below VM_FLUSH, where it is under VM_TINY. */
static const float VM_FLUSH = -86.64f;
static const double VM_TINY = 2.4e-38;

/* The exact value of function f at x, in double precision. */
static double vm_exact(int f, float x) {
    double d = x;
    switch (f) {
    case VM_EXP: return exp(d);
    case VM_SIGMOID: return 1.0 / (1.0 + exp(-d));
    case VM_SILU: return d / (1.0 + exp(-d));
    case VM_TANH: return tanh(d);
    default: return d >= 0 ? d : (double)VM_ELU_ALPHA * expm1(d);
    }
}

static float vm_scalar(int f, float x) {
    switch (f) {
    case VM_EXP: return onnxcc_expf(x);
    case VM_SIGMOID: return onnxcc_sigmoid(x);
    case VM_SILU: return onnxcc_silu(x);
    case VM_TANH: return onnxcc_tanh(x);
    default: return onnxcc_elu(x, VM_ELU_ALPHA);
    }
}

/* Function f over n floats (a multiple of VL), one vector at a time. */
static void vm_vector(int f, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += VL) {
        V v = v_load(x + i);
        switch (f) {
        case VM_EXP: v = v_exp(v); break;
        case VM_SIGMOID: v = v_sigmoid(v); break;
        case VM_SILU: v = v_silu(v); break;
        case VM_TANH: v = v_tanh(v); break;
        default: v = v_elu(v, v_set1(VM_ELU_ALPHA)); break;
        }
        v_store(y + i, v);
    }
}

/* |y - exact| in units of the last place of the exact value rounded to float (the
 * smallest denormal below FLT_MIN).  An exact value that rounds to +-inf (halfway from
 * FLT_MAX to 2^128 or beyond) must give that infinity: 0 if it does. */
static double vm_ulps(float y, double exact) {
    const double overflow = ldexp(1.0, 128) - ldexp(1.0, 103);
    if (fabs(exact) >= overflow) return isinf(y) && (y > 0) == (exact > 0) ? 0.0 : INFINITY;
    if (isinf(y)) return INFINITY;
    double a = fabs(exact), ulp = ldexp(1.0, -149);
    if (a >= FLT_MIN) {
        int e;
        frexp(a, &e);               /* a in [2^(e-1), 2^e) */
        ulp = ldexp(1.0, e - 24);
    }
    return fabs((double)y - exact) / ulp;
}

/* The inputs: the special values and range edges, then one bit pattern in 4099 of
 * each sign; the count is rounded up to whole vectors with zeros. */
static float *vm_inputs(size_t *count) {
    static const float special[] = {
        0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f,
        3e-39f, -3e-39f, FLT_MAX, -FLT_MAX, 1e-8f, -1e-8f, 0.5f, -0.5f, 1.0f, -1.0f,
        88.72283935546875f, 88.7228317f, 88.7228470f, 89.0f, 89.1f, 100.0f, -86.64f,
        -86.6399994f, -86.6400070f, -87.33f, -88.72f, -89.0f, -103.0f, -104.0f, 20.0f, -20.0f,
        0.625f, -0.625f, 0.624999940f, -0.624999940f, 9.0f, 9.02f, -9.02f, 52.0f, -52.0f,
    };
    const size_t ns = sizeof special / sizeof special[0], step = 4099;
    size_t n = ns + 2 * ((size_t)UINT32_MAX / step + 1);
    n = (n + VL - 1) / VL * VL;
    float *x = calloc(n, sizeof(float));
    if (!x) return NULL;
    memcpy(x, special, sizeof special);
    size_t k = ns;
    for (uint64_t bits = 0; bits <= UINT32_MAX; bits += step) {
        uint32_t b = (uint32_t)bits & 0x7fffffffu;
        memcpy(&x[k++], &b, sizeof b);
        b |= 0x80000000u;
        memcpy(&x[k++], &b, sizeof b);
    }
    *count = n;
    return x;
}

/* Checks function f at every input; prints the first failures and the largest errors. */
static int vm_check_one(int f, const float *x, float *y, size_t n, FILE *log) {
    vm_vector(f, x, y, n);
    int failures = 0;
    double worst_v = 0, worst_s = 0;
    float at_v = 0, at_s = 0;
    for (size_t i = 0; i < n; i++) {
        float s = vm_scalar(f, x[i]), v = y[i];
        double exact = vm_exact(f, x[i]);
        bool ok;
        if (isnan(x[i]) || isnan(s)) {
            ok = isnan(v) && isnan(s);
        } else if (f != VM_ELU && f != VM_TANH && x[i] < VM_FLUSH) {
            ok = fabs((double)v - exact) <= fmax(1.0, fabs((double)x[i])) * VM_TINY;
        } else {
            double ev = vm_ulps(v, exact), es = vm_ulps(s, exact);
            ok = f == VM_TANH ? ev <= 3.0 : ev <= fmax(es, 1.5) + 2.0;
            if (v == 0 && s == 0) ok = ok && signbit(v) == signbit(s);
            if (f == VM_ELU && x[i] < 0 && x[i] > -1) continue;    /* e^x - 1: see above */
            if (ev > worst_v) { worst_v = ev; at_v = x[i]; }
            if (es > worst_s) { worst_s = es; at_s = x[i]; }
        }
        if (!ok && failures++ < 5)
            fprintf(log, "%s(%.9g): vector %.9g, scalar %.9g, exact %.17g\n", vm_names[f],
                    (double)x[i], (double)v, (double)s, exact);
    }
    fprintf(log, "%-9s largest error: vector %.2f ulp (x = %.9g), scalar %.2f ulp (x = %.9g)\n",
            vm_names[f], worst_v, (double)at_v, worst_s, (double)at_s);
    return failures;
}

/* Every function over the sweep: the number of failing values (or -1 out of memory). */
static int vmath_check(FILE *log) {
    size_t n = 0;
    float *x = vm_inputs(&n), *y = malloc(n * sizeof(float));
    if (!x || !y) {
        free(x);
        free(y);
        return -1;
    }
    int failures = 0;
    for (int f = 0; f < VM_COUNT; f++) failures += vm_check_one(f, x, y, n, log);
    free(x);
    free(y);
    return failures;
}

#ifdef VMATH_MAIN

int main(void) {
    fprintf(stdout, "vector width %d floats\n", (int)VL);
    return vmath_check(stdout) == 0 ? 0 : 1;
}

#else

#include <criterion/criterion.h>

#include "helpers.h"

Test(vmath, this_build) {
    cr_assert_eq(vmath_check(stdout), 0, "vector math differs from onnxcc_act.h (see above)");
}

/* onnxcc_erff (onnxcc_act.h, used by Erf and Gelu) against erf() in double: one float in
 * 1021 over each sign's normal range, within 3 ulp (the worst, 2.9 ulp, is just above
 * |x| = 0.5, where 1 - erfc cancels; every normal float was checked once on 2026-11-25:
 * 2.93 ulp at most), odd, erf(+-0) = +-0, erf(+-inf) = +-1, NaN stays NaN. */
Test(vmath, erf) {
    double worst = 0;
    float at = 0;
    for (uint32_t u = 0x00800000u; u < 0x7f800000u; u += 1021) {
        float x;
        memcpy(&x, &u, sizeof x);
        for (int sign = 0; sign < 2; sign++, x = -x) {
            const double e = vm_ulps(onnxcc_erff(x), erf((double)x));
            if (e > worst) worst = e, at = x;
        }
        cr_assert_eq(onnxcc_erff(-x), -onnxcc_erff(x), "erf is odd: x = %.9g", (double)x);
    }
    cr_log_info("onnxcc_erff: largest error %.2f ulp (x = %.9g)", worst, (double)at);
    cr_assert_leq(worst, 3.0, "onnxcc_erff is %.2f ulp off at x = %.9g", worst, (double)at);
    cr_assert(onnxcc_erff(0.0f) == 0.0f && !signbit(onnxcc_erff(0.0f)));
    cr_assert(onnxcc_erff(-0.0f) == 0.0f && signbit(onnxcc_erff(-0.0f)));
    cr_assert_eq(onnxcc_erff(INFINITY), 1.0f);
    cr_assert_eq(onnxcc_erff(-INFINITY), -1.0f);
    cr_assert(isnan(onnxcc_erff(NAN)));
}

/* Builds this file as a program of its own (VMATH_MAIN) with `flags` and runs it. */
static void run_vmath_program(const char *flags) {
    char all[256];
    snprintf(all, sizeof all, "%s -DVMATH_MAIN", flags);
    tb_build_and_run(all, "tests/unit/test_vmath.c", "");
}

Test(vmath, portable) { run_vmath_program("-DONNXCC_PORTABLE"); }

#if defined(__x86_64__) || defined(__i386__)
Test(vmath, avx2) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_skip_test("the CPU has no AVX2 + FMA");
    run_vmath_program("-mavx2 -mfma -mno-avx512f");
}

Test(vmath, avx512) {
    if (!__builtin_cpu_supports("avx512f")) cr_skip_test("the CPU has no AVX-512");
    run_vmath_program("-mavx512f -mavx2 -mfma");
}
#endif

#endif
