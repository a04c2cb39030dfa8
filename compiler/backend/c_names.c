/* c_names.c: turning model strings into C identifiers and comment text.
 *
 * Model names are untrusted.  An identifier fragment keeps only [A-Za-z0-9_]; the emitter
 * always puts a unique prefix in front (n012_, w34_, in_, out_), so two names that differ
 * only in punctuation still give different C names.  Comment text keeps a conservative
 * set of printable characters and writes every other byte as \xHH, so no "*" + "/",
 * newline, line splice, trigraph or non-ASCII byte reaches the emitted file.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

void c_name_sanitize(const char *in, char *out, size_t max_len) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n < max_len; p++) {
        unsigned char c = *p;
        out[n++] = (char)((c < 0x80 && (isalnum(c) || c == '_')) ? c : '_');
    }
    out[n] = '\0';
}

void c_name_from_file(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", base);
    char *dot = strrchr(tmp, '.');
    if (dot && dot != tmp) *dot = '\0';
    if (size < 2) {
        if (size) out[0] = '\0';
        return;
    }
    /* A C identifier may not start with a digit. */
    size_t off = 0;
    if (!isalpha((unsigned char)tmp[0]) && tmp[0] != '_') out[off++] = 'm';
    c_name_sanitize(tmp, out + off, size - 1 - off);
    if (!out[0]) snprintf(out, size, "model");
}

const char *c_comment_text(char *buf, size_t size, const char *s, size_t max_chars) {
    static const char safe[] = "_-.:,;=+#@()[]<> /'";
    size_t n = 0, used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (used >= max_chars || n + 8 >= size) {
            if (n + 4 < size) { memcpy(buf + n, "...", 3); n += 3; }
            break;
        }
        unsigned char c = *p;
        if (c < 0x80 && (isalnum(c) || (c && strchr(safe, c)))) {
            buf[n++] = (char)c;
        } else {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02X", c);
        }
        used++;
    }
    buf[n] = '\0';
    return buf;
}
