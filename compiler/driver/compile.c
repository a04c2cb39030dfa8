/* compile.c: `onnxcc compile MODEL -o DIR [--name NAME] [--emit-runtime]`.
 *
 * Writes DIR/NAME.c and DIR/NAME.h (and the runtime's files with --emit-runtime), each
 * through a temporary file renamed into place, so a failed compile leaves nothing
 * half-written.  Every file is produced in memory first: no output appears unless the
 * whole model compiled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver/driver_internal.h"

/* Emits the planned graph; c and h are initialised here. */
bool drv_emit(const Graph *g, const DriverOptions *o, const char *model_path,
              const char *name, StrBuf *c, StrBuf *h, Diag *d) {
    const char *base = strrchr(model_path, '/');
    char opts[160];
    snprintf(opts, sizeof opts, "%s%s", o->fuse ? "fusion on" : "fusion off (--no-fuse)",
             o->weights == WEIGHTS_LITERAL ? ", --weights literal"
             : o->weights == WEIGHTS_BLOB ? ", --weights blob" : "");
    BackendOptions bo = {.name = name, .model_file = base ? base + 1 : model_path,
                         .weights = o->weights, .options_text = opts};
    sb_init(c);
    sb_init(h);
    return backend_emit(g, &bo, c, h, d);
}

static bool write_in_dir(const char *dir, const char *file, const char *data, size_t len,
                         Diag *d) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *path = malloc(n);
    if (!path) return false;
    snprintf(path, n, "%s/%s", dir, file);
    bool ok = drv_write_file(path, data, len, d);
    free(path);
    return ok;
}

bool drv_write_runtime(const char *dir, Diag *d) {
    for (int i = 0; i < rt_n_files; i++)
        if (!write_in_dir(dir, rt_files[i].path, rt_files[i].text, rt_files[i].len, d))
            return false;
    return true;
}

int driver_compile(const DriverOptions *o, Diag *d) {
    if (!o->out_dir) {
        diag_error(d, NULL, "compile needs an output folder: -o DIR");
        return 2;
    }
    int rc;
    Graph *g = drv_load(o, o->model, &rc, d);
    if (!g) return rc;
    rc = 1;
    char name[64];
    drv_c_name(o, o->model, name, sizeof name);
    StrBuf dump, c, h;
    sb_init(&dump);
    sb_init(&c);
    sb_init(&h);
    bool ok = drv_pipeline(g, o, &dump, d);
    if (dump.len) fputs(dump.data, stdout);
    if (ok && drv_emit(g, o, o->model, name, &c, &h, d)) {
        char file[80];
        rc = 2;
        if (mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
            diag_error(d, NULL, "cannot create %s: %s", o->out_dir, strerror(errno));
            goto out;
        }
        snprintf(file, sizeof file, "%s.h", name);
        if (write_in_dir(o->out_dir, file, h.data, h.len, d)) {
            snprintf(file, sizeof file, "%s.c", name);
            if (write_in_dir(o->out_dir, file, c.data, c.len, d) &&
                (!o->emit_runtime || drv_write_runtime(o->out_dir, d)))
                rc = 0;
        }
        if (rc == 0 && o->verbose)
            fprintf(stderr, "onnxcc: wrote %s/%s.c (%zu bytes) and %s.h\n", o->out_dir, name,
                    c.len, name);
    }
out:
    sb_free(&dump);
    sb_free(&c);
    sb_free(&h);
    ir_graph_free(g);
    return rc;
}
