/* diag.h: diagnostics collected by the library.
 *
 * Library code never prints and never exits: it records problems in a Diag and returns
 * false.  A Diag holds many errors, so a model with five unknown ops reports all five.
 * Only main.c prints them, as `onnxcc: error: <message> (node 'x', op Conv)`.
 */
#ifndef ONNXCC_DIAG_H
#define ONNXCC_DIAG_H

#include <stdbool.h>
#include <stddef.h>

struct Node;

enum { DIAG_MAX_MESSAGES = 64 };   /* further errors are counted, not stored */

typedef struct Diag {
    char *messages[DIAG_MAX_MESSAGES];   /* malloc'ed, full text including node context */
    int n_messages;
    int n_errors;                        /* may exceed n_messages */
    int n_warnings;
} Diag;

void diag_init(Diag *d);
void diag_free(Diag *d);
/* Records an error; node may be NULL.  The node's name and op are appended. */
void diag_error(Diag *d, const struct Node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, const struct Node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline bool diag_ok(const Diag *d) { return d->n_errors == 0; }
/* BUG(): an impossible state inside the compiler (never caused by model data). */
#define BUG(...) diag_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void diag_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Escapes a model-supplied string for a one-line message: printable ASCII kept, the
 * rest as \xHH, cut to max_chars with "...".  Writes into buf (size >= max_chars + 8). */
const char *diag_quote(char *buf, size_t buf_size, const char *s);

#endif
