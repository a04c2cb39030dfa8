/* pass.h: a pass is a named function graph -> graph.
 *
 * The pipeline (pipeline.c) is a plain array of passes run in order; each pass's file
 * opens with what it requires and what it establishes.  ir_verify() runs after every pass
 * when PassOptions.verify is set (tests, debug builds).
 */
#ifndef ONNXCC_PASS_H
#define ONNXCC_PASS_H

#include <stdbool.h>

#include "base/diag.h"
#include "base/strbuf.h"
#include "ir/graph.h"

typedef struct PassOptions {
    bool fuse;                  /* activation and residual fusion (--no-fuse clears it) */
    bool winograd;              /* Winograd 3x3 convolutions (--no-winograd clears it) */
    bool verify;                /* ir_verify after every pass */
    const char *dump_after;     /* pass name, or NULL */
    StrBuf *dump_out;           /* where --dump-after text goes */
} PassOptions;

typedef struct Pass {
    const char *name;
    bool (*run)(Graph *g, const PassOptions *opt, Diag *d);
    /* When this pass finds errors, the next pass still runs, to report its own, and the
     * pipeline stops after it: one run then lists every problem it can (resolve_ops
     * leaves the nodes it could not bind without an op, and infer_shapes skips them). */
    bool goes_on;
} Pass;

/* The passes, one file each. */
bool pass_toposort(Graph *g, const PassOptions *opt, Diag *d);
bool pass_resolve_ops(Graph *g, const PassOptions *opt, Diag *d);
bool pass_infer_shapes(Graph *g, const PassOptions *opt, Diag *d);
bool pass_fold_constants(Graph *g, const PassOptions *opt, Diag *d);
bool pass_dce(Graph *g, const PassOptions *opt, Diag *d);
bool pass_canonicalize(Graph *g, const PassOptions *opt, Diag *d);
bool pass_fold_batchnorm(Graph *g, const PassOptions *opt, Diag *d);
bool pass_fuse_activation(Graph *g, const PassOptions *opt, Diag *d);
bool pass_pack_weights(Graph *g, const PassOptions *opt, Diag *d);
bool pass_plan_memory(Graph *g, const PassOptions *opt, Diag *d);

/* Runs the whole pipeline (or up to and including `last`, if not NULL). */
bool pipeline_run(Graph *g, const PassOptions *opt, Diag *d);
/* The pipeline's pass names, NULL-terminated, for --help and validation of --dump-after. */
extern const Pass pipeline_passes[];
extern const int pipeline_n_passes;

/* Result of the memory plan, kept on the side for `info` and the backend. */
typedef struct MemoryPlan {
    size_t workspace_bytes;     /* arena size the generated code needs */
    size_t lower_bound_bytes;   /* largest sum of live bytes at any step */
    size_t *scratch_offset;     /* per node index in schedule: offset of its scratch */
} MemoryPlan;
/* The plan computed by pass_plan_memory, stored in the graph's arena. */
const MemoryPlan *plan_get(const Graph *g);

#endif
