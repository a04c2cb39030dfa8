/* backend.h: from a planned graph to NAME.c and NAME.h (and optionally the runtime). */
#ifndef ONNXCC_BACKEND_H
#define ONNXCC_BACKEND_H

#include <stdbool.h>

#include "base/diag.h"
#include "base/strbuf.h"
#include "ir/graph.h"

typedef enum WeightsMode {
    WEIGHTS_AUTO = 0,           /* C literals for small tensors, byte strings for large */
    WEIGHTS_LITERAL,            /* every tensor as float/int literals (readable, slow to build) */
    WEIGHTS_BLOB,               /* every tensor as a byte-string literal (fast to build) */
    WEIGHTS_INCBIN,             /* NAME.weights, linked in by NAME_weights.S (.incbin) */
    WEIGHTS_FILE,               /* NAME.weights, loaded by the caller: NAME_set_weights() */
} WeightsMode;

/* "auto", "literal", "blob", "incbin", "file": the --weights spelling of a mode. */
const char *weights_mode_name(WeightsMode mode);
/* The mode spelled `s`; false if there is none. */
bool weights_mode_parse(const char *s, WeightsMode *mode);

/* The files a weights mode writes beside NAME.c and NAME.h (empty in the other modes). */
typedef struct WeightsFiles {
    StrBuf bin;                 /* NAME.weights: a 64-byte header, then the tensors */
    StrBuf s;                   /* NAME_weights.S (WEIGHTS_INCBIN) */
} WeightsFiles;

typedef struct BackendOptions {
    const char *name;           /* C prefix, already a valid identifier */
    const char *model_file;     /* base name of the model, for the header comment */
    WeightsMode weights;
    WeightsFiles *files;        /* receives them (the caller initialises and frees it); NULL:
                                   the caller cannot write them, so INCBIN and FILE fail */
    const char *options_text;   /* options that matter, for the header comment */
} BackendOptions;

/* Emits the two files' text (and opt->files).  The graph must be planned (pass_plan_memory). */
bool backend_emit(const Graph *g, const BackendOptions *opt, StrBuf *c_file, StrBuf *h_file,
                  Diag *d);

/* Turns any string into a C identifier fragment: [A-Za-z0-9_], at most max_len chars. */
void c_name_sanitize(const char *in, char *out, size_t max_len);
/* Model text made safe inside a C comment: printable ASCII from a conservative set, every
 * other byte as \xHH, cut to max_chars source bytes with "...".  size >= 4 * max_chars + 8. */
const char *c_comment_text(char *buf, size_t size, const char *s, size_t max_chars);
/* A valid C prefix from a file name ("resnet-18.onnx" -> "resnet_18"). */
void c_name_from_file(const char *path, char *out, size_t size);

/* The runtime sources, embedded in the onnxcc binary at build time (rt_embed.c). */
typedef struct EmbeddedFile {
    const char *path;           /* relative: "onnxcc_rt.h", "gemm.c", ... */
    const char *text;
    size_t len;
} EmbeddedFile;
extern const EmbeddedFile rt_files[];
extern const int rt_n_files;

#endif
