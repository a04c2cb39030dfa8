/* compile.c: `onnxcc compile MODEL -o DIR [--name NAME] [--emit-runtime]`.
 *
 * Writes DIR/NAME.c and DIR/NAME.h, the weights mode's files (DIR/NAME.weights, and
 * DIR/NAME_weights.S for --weights incbin) and with --emit-runtime the runtime's files.
 * Every file is produced in memory first, so no output appears unless the whole model
 * compiled.  The model's files are then written under temporary names and renamed into
 * place only once all of them were written: a failed write (a full disk) leaves none of
 * them half-written or out of step with the others, and no temporary file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/driver_internal.h"

bool drv_emit_files(const Graph *g, const DriverOptions *o, const char *model_path,
                    const char *name, StrBuf *c, StrBuf *h, WeightsFiles *files, Diag *d) {
    const char *base = strrchr(model_path, '/');
    char opts[160];
    snprintf(opts, sizeof opts, "%s%s%s", o->fuse ? "fusion on" : "fusion off (--no-fuse)",
             o->weights == WEIGHTS_AUTO ? "" : ", --weights ",
             o->weights == WEIGHTS_AUTO ? "" : weights_mode_name(o->weights));
    BackendOptions bo = {.name = name, .model_file = base ? base + 1 : model_path,
                         .weights = o->weights, .files = files, .options_text = opts};
    sb_init(c);
    sb_init(h);
    return backend_emit(g, &bo, c, h, d);
}

bool drv_emit(const Graph *g, const DriverOptions *o, const char *model_path,
              const char *name, StrBuf *c, StrBuf *h, Diag *d) {
    return drv_emit_files(g, o, model_path, name, c, h, NULL, d);
}

static char *path_in_dir(const char *dir, const char *file, const char *suffix) {
    size_t n = strlen(dir) + strlen(file) + strlen(suffix) + 2;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/%s%s", dir, file, suffix);
    return path;
}

static bool write_in_dir(const char *dir, const char *file, const char *data, size_t len,
                         Diag *d) {
    char *path = path_in_dir(dir, file, "");
    if (!path) return false;
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

/* One file of the model's output: NAME.h, NAME.c, NAME.weights, NAME_weights.S. */
enum { MAX_MODEL_FILES = 4 };
typedef struct OutFile {
    char name[80];
    const StrBuf *text;
} OutFile;

/* Creates path (which must not exist) and writes data to it in pieces of WRITE_CHUNK:
 * on Linux one write() of hundreds of MB is at times ten times slower than the same bytes
 * in 1 MB pieces (resnet50's 283 MB NAME.c, side by side: 0.3-3.8 s against 0.2-0.4 s). */
static bool write_new_file(const char *path, const char *data, size_t len, Diag *d) {
    enum { WRITE_CHUNK = 1 << 20 };
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f != NULL;
    for (size_t done = 0; ok && done < len; done += WRITE_CHUNK) {
        size_t piece = len - done < WRITE_CHUNK ? len - done : WRITE_CHUNK;
        ok = fwrite(data + done, 1, piece, f) == piece;
    }
    if (f) ok = (fclose(f) == 0) && ok;
    else if (fd >= 0) close(fd);
    if (!ok) {
        diag_error(d, NULL, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) unlink(path);
    }
    return ok;
}

/* Writes every file as FILE.partPID, then renames them all into place; on a failure
 * removes the parts it wrote. */
static bool write_model_files(const char *dir, const OutFile *files, int n, Diag *d) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".part%ld", (long)getpid());
    char *parts[MAX_MODEL_FILES] = {0}, *finals[MAX_MODEL_FILES] = {0};
    if (n > MAX_MODEL_FILES) BUG("%d output files", n);
    bool ok = true;
    int created = 0;   /* parts[0 .. created) exist */
    for (int i = 0; ok && i < n; i++) {
        parts[i] = path_in_dir(dir, files[i].name, suffix);
        finals[i] = path_in_dir(dir, files[i].name, "");
        if (!parts[i] || !finals[i]) {
            diag_error(d, NULL, "out of memory");
            ok = false;
        } else if ((ok = write_new_file(parts[i], files[i].text->data ? files[i].text->data : "",
                                        files[i].text->len, d))) {
            created++;
        }
    }
    for (int i = 0; ok && i < n; i++) {
        if (rename(parts[i], finals[i]) != 0) {
            diag_error(d, NULL, "cannot write %s: %s", finals[i], strerror(errno));
            ok = false;
        }
    }
    for (int i = 0; !ok && i < created; i++) unlink(parts[i]);   /* renamed ones: no-op */
    for (int i = 0; i < n; i++) {
        free(parts[i]);
        free(finals[i]);
    }
    return ok;
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
    WeightsFiles wf;
    sb_init(&dump);
    sb_init(&c);
    sb_init(&h);
    sb_init(&wf.bin);
    sb_init(&wf.s);
    bool ok = drv_pipeline(g, o, &dump, d);
    if (dump.len) fputs(dump.data, stdout);
    if (ok && drv_emit_files(g, o, o->model, name, &c, &h, &wf, d)) {
        rc = 2;
        if (c.failed || h.failed || wf.bin.failed || wf.s.failed) {
            diag_error(d, NULL, "out of memory writing the C for %s", name);
            goto out;
        }
        if (mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
            diag_error(d, NULL, "cannot create %s: %s", o->out_dir, strerror(errno));
            goto out;
        }
        OutFile files[MAX_MODEL_FILES];
        int n = 0;
        snprintf(files[n].name, sizeof files[n].name, "%s.h", name);
        files[n++].text = &h;
        snprintf(files[n].name, sizeof files[n].name, "%s.c", name);
        files[n++].text = &c;
        if (o->weights == WEIGHTS_INCBIN || o->weights == WEIGHTS_FILE) {
            snprintf(files[n].name, sizeof files[n].name, "%s.weights", name);
            files[n++].text = &wf.bin;
        }
        if (o->weights == WEIGHTS_INCBIN) {
            snprintf(files[n].name, sizeof files[n].name, "%s_weights.S", name);
            files[n++].text = &wf.s;
        }
        if (write_model_files(o->out_dir, files, n, d) &&
            (!o->emit_runtime || drv_write_runtime(o->out_dir, d)))
            rc = 0;
        if (rc == 0 && o->verbose)
            for (int i = 0; i < n; i++)
                fprintf(stderr, "onnxcc: wrote %s/%s (%zu bytes)\n", o->out_dir, files[i].name,
                        files[i].text->len);
    }
out:
    sb_free(&dump);
    sb_free(&c);
    sb_free(&h);
    sb_free(&wf.bin);
    sb_free(&wf.s);
    ir_graph_free(g);
    return rc;
}
