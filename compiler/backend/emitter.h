/* emitter.h: writing C text with indentation.
 *
 * Op emitters never print: they call emit_line / emit_open / emit_close, and the Emitter
 * owns indentation and the output buffer.  Inside a node's function body the names are:
 *   x0, x1, ...   input i as `const T *` (T from the input's dtype; NULL-absent inputs are
 *                 not passed), constants included (they point at static data)
 *   y0, y1, ...   output i as `T *`
 *   scratch       `unsigned char *` to op->scratch_bytes(n) bytes, 64-byte aligned
 * Shapes are known at compile time, so emitters bake them in as literals.
 */
#ifndef ONNXCC_EMITTER_H
#define ONNXCC_EMITTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

typedef struct Emitter {
    StrBuf out;
    int indent;          /* levels of 4 spaces */
} Emitter;

void emit_init(Emitter *e);
void emit_free(Emitter *e);
/* One line at the current indentation, newline added. */
void emit_line(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line with " {" appended, and one more level of indentation:
 * emit_open(e, "for (size_t i = 0; i < %d; i++)", n). */
void emit_open(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One level less and "}". Returns true so emitters can `return emit_close(e);`. */
bool emit_close(Emitter *e);
/* Raw text, no indentation or newline. */
void emit_raw(Emitter *e, const char *s);

/* A float as a C literal that round-trips exactly, in the C locale: "1.5f", "-3e-08f",
 * "ONNXCC_INF", "(-ONNXCC_INF)", "ONNXCC_NAN".  buf must hold 32 bytes. */
const char *c_float(char *buf, float f);
/* A double literal likewise (no suffix). */
const char *c_double(char *buf, double f);
/* An int64 as a C literal: "INT64_C(-5)" or plain digits when it fits int32. */
const char *c_int64(char *buf, long long v);

#endif
