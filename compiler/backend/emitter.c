/* emitter.c: C text with indentation, and exact literals; see emitter.h. */
#include "backend/emitter.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void emit_init(Emitter *e) {
    sb_init(&e->out);
    e->indent = 0;
}

void emit_free(Emitter *e) { sb_free(&e->out); }

static void emit_indent(Emitter *e) {
    for (int i = 0; i < e->indent; i++) sb_puts(&e->out, "    ");
}

void emit_line(Emitter *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (fmt[0]) emit_indent(e);
    sb_vprintf(&e->out, fmt, ap);
    sb_putc(&e->out, '\n');
    va_end(ap);
}

void emit_open(Emitter *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit_indent(e);
    sb_vprintf(&e->out, fmt, ap);
    sb_puts(&e->out, " {\n");
    va_end(ap);
    e->indent++;
}

bool emit_close(Emitter *e) {
    if (e->indent > 0) e->indent--;
    emit_indent(e);
    sb_puts(&e->out, "}\n");
    return true;
}

void emit_raw(Emitter *e, const char *s) { sb_puts(&e->out, s); }

/* %.9g round-trips every float; the C locale is guaranteed because onnxcc never calls
 * setlocale.  A '.' or exponent is added so the literal is a float, not an int. */
const char *c_float(char *buf, float f) {
    if (isnan(f)) return strcpy(buf, "ONNXCC_NAN");
    if (isinf(f)) return strcpy(buf, f > 0 ? "ONNXCC_INF" : "(-ONNXCC_INF)");
    snprintf(buf, 28, "%.9g", (double)f);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    strcat(buf, "f");
    return buf;
}

const char *c_double(char *buf, double f) {
    if (isnan(f)) return strcpy(buf, "((double)ONNXCC_NAN)");
    if (isinf(f)) return strcpy(buf, f > 0 ? "((double)ONNXCC_INF)" : "(-(double)ONNXCC_INF)");
    snprintf(buf, 30, "%.17g", f);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    return buf;
}

const char *c_int64(char *buf, long long v) {
    if (v >= -2147483647LL && v <= 2147483647LL) snprintf(buf, 32, "%lld", v);
    else if (v == (-9223372036854775807LL - 1)) strcpy(buf, "INT64_MIN");
    else snprintf(buf, 32, "INT64_C(%lld)", v);
    return buf;
}
