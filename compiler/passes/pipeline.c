/* pipeline.c: the order of the passes, and running them.
 *
 * One table, read top to bottom, is the whole compiler middle: each pass's file says
 * what it requires and establishes.  With PassOptions.verify, ir_verify() checks the
 * graph's structure after every pass, so a pass that breaks an invariant is named at once.
 */
#include <string.h>

#include "passes/pass.h"

const Pass pipeline_passes[] = {
    {"toposort", pass_toposort},
    {"resolve_ops", pass_resolve_ops, .goes_on = true},
    {"infer_shapes", pass_infer_shapes},
    {"dce", pass_dce},
    {"canonicalize", pass_canonicalize},
    {"fold_constants", pass_fold_constants},
    {"dce_after_fold", pass_dce},
    {"fold_batchnorm", pass_fold_batchnorm},
    {"fuse_activation", pass_fuse_activation},
    {"pack_weights", pass_pack_weights},
    {"plan_memory", pass_plan_memory},
};
const int pipeline_n_passes = (int)(sizeof pipeline_passes / sizeof pipeline_passes[0]);

bool pipeline_run(Graph *g, const PassOptions *opt, Diag *d) {
    bool stopping = false;   /* a `goes_on` pass failed: the pass after it is the last */
    for (int i = 0; i < pipeline_n_passes; i++) {
        const Pass *p = &pipeline_passes[i];
        const bool ok = p->run(g, opt, d) && diag_ok(d);
        if (!ok && p->goes_on && !stopping) {
            stopping = true;
            continue;
        }
        if (!ok || stopping) return false;
        if (opt->verify && !ir_verify(g, d)) {
            diag_error(d, NULL, "internal error: the graph is inconsistent after pass '%s'",
                       p->name);
            return false;
        }
        if (opt->dump_after && opt->dump_out && strcmp(opt->dump_after, p->name) == 0) {
            sb_printf(opt->dump_out, "# after %s\n", p->name);
            ir_graph_print(g, opt->dump_out);
        }
    }
    return true;
}
