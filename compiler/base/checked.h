/* checked.h: overflow-checked size arithmetic.
 *
 * Every product of dims, element counts or byte sizes read from a model goes through
 * these helpers; each returns false (and leaves *out unspecified) on overflow, so the
 * caller can report the offending tensor instead of wrapping around.
 */
#ifndef ONNXCC_CHECKED_H
#define ONNXCC_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool i64_mul(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool i64_add(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
/* Round up to a multiple of align (a power of two). */
static inline bool size_align_up(size_t n, size_t align, size_t *out) {
    if (!size_add(n, align - 1, out)) return false;
    *out &= ~(align - 1);
    return true;
}

#endif
