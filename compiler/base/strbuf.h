/* strbuf.h: a growable string (malloc-backed), used for emitted text and messages. */
#ifndef ONNXCC_STRBUF_H
#define ONNXCC_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>

typedef struct StrBuf {
    char *data;     /* always NUL-terminated when len > 0 or after sb_init */
    size_t len;
    size_t cap;
    bool failed;    /* an allocation failed: the text is incomplete */
} StrBuf;

void sb_init(StrBuf *sb);
void sb_free(StrBuf *sb);
/* Makes room for `extra` more bytes (and the NUL) without moving the text again; false,
 * with `failed` set, when out of memory.  Writers that know their size call it first. */
bool sb_reserve(StrBuf *sb, size_t extra);
void sb_putc(StrBuf *sb, char c);
void sb_puts(StrBuf *sb, const char *s);
void sb_putn(StrBuf *sb, const char *s, size_t n);
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);

#endif
