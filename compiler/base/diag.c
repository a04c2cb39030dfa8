/* diag.c: diagnostics; see diag.h. */
#include "base/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "ir/graph.h"

void diag_init(Diag *d) { memset(d, 0, sizeof *d); }

void diag_free(Diag *d) {
    for (int i = 0; i < d->n_messages; i++) free(d->messages[i]);
    diag_init(d);
}

const char *diag_quote(char *buf, size_t buf_size, const char *s) {
    size_t o = 0;
    size_t max = buf_size > 8 ? buf_size - 8 : 0;
    for (; *s && o < max; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            if (o + 4 > max) break;
            snprintf(buf + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    if (*s) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = '\0';
    return buf;
}

static void diag_add(Diag *d, const char *kind, const Node *node, const char *fmt, va_list ap) {
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, kind);
    sb_vprintf(&sb, fmt, ap);
    if (node) {
        char qn[200], qo[80];
        sb_printf(&sb, " (node '%s', op %s)", diag_quote(qn, sizeof qn, node->name),
                  diag_quote(qo, sizeof qo, node->op_type));
    }
    if (d->n_messages < DIAG_MAX_MESSAGES && !sb.failed) {
        d->messages[d->n_messages++] = sb.data;
    } else {
        sb_free(&sb);
    }
}

void diag_error(Diag *d, const Node *node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_add(d, "error: ", node, fmt, ap);
    va_end(ap);
    d->n_errors++;
}

void diag_warning(Diag *d, const Node *node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_add(d, "warning: ", node, fmt, ap);
    va_end(ap);
    d->n_warnings++;
}

void diag_bug(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "onnxcc: internal error at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
