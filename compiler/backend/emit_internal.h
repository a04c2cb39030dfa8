/* emit_internal.h: what the parts of the C backend share (emit_model.c writes the node
 * functions and entry points, emit_weights.c the constants).  Not a public interface. */
#ifndef ONNXCC_EMIT_INTERNAL_H
#define ONNXCC_EMIT_INTERNAL_H

#include <stdbool.h>

#include "backend/backend.h"
#include "base/diag.h"
#include "base/strbuf.h"
#include "ir/graph.h"

enum {
    LITERAL_MAX_ELEMS = 1024,   /* WEIGHTS_AUTO: larger constants become byte strings */
    C_FRAGMENT_MAX = 40,        /* characters of a model name kept in an identifier */
    COMMENT_MAX = 80,           /* characters of a model name kept in a comment */
};

/* What each value is called in NAME_run and whether it is a byte-string constant. */
typedef struct ValueRef {
    char *expr;                 /* C expression of type T * (or const T *) */
    bool used;                  /* referenced by some node or output */
} ValueRef;

typedef struct Ctx {
    const Graph *g;
    const BackendOptions *opt;
    ValueRef *refs;             /* by value id */
    char **in_params;           /* parameter name per graph input */
    char **out_params;          /* per graph output */
    Diag *d;
} Ctx;

/* A malloc'ed copy of s (NULL when out of memory). */
char *emit_xstrdup(const char *s);
/* Model text for a comment: c_comment_text cut to COMMENT_MAX characters. */
const char *emit_quote(char *buf, size_t size, const char *s);

/* Gives every constant its C expression in x->refs (before the nodes are emitted). */
bool emit_name_weights(Ctx *x);
/* Writes the constants that are marked used (and, in the incbin and file modes, fills
 * x->opt->files: NAME.weights and NAME_weights.S). */
bool emit_weights(Ctx *x, StrBuf *c);
/* NAME.h's declarations for the weights mode: NAME_set_weights() and its size macro for
 * WEIGHTS_FILE, nothing in the other modes.  emit_header calls it after the entry points. */
void emit_weights_header(const Ctx *x, StrBuf *h);
/* The first statement of every entry point that reads weights: with WEIGHTS_FILE, return
 * -1 while NAME_set_weights() has not succeeded; nothing in the other modes. */
void emit_weights_run_check(const Ctx *x, StrBuf *c);

#endif
