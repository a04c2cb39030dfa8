/* driver.c: what every subcommand shares: options, loading with --shape, the pipeline,
 * atomic file writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/driver_internal.h"

void driver_options_default(DriverOptions *o) {
    memset(o, 0, sizeof *o);
    o->fuse = true;
    o->winograd = true;
    o->cc = "clang";
    o->cflags = "-O3 -march=native";
    o->rtol = -1;   /* test: from tolerance.txt or the ONNX defaults */
    o->atol = -1;
}

/* "1x3x224x224" or "1,3,224,224"; an empty list is a scalar. */
static bool parse_dims(const char *s, int64_t *dims, int *rank) {
    *rank = 0;
    if (!*s) return true;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0 || *rank >= IR_MAX_RANK) return false;
        dims[(*rank)++] = v;
        if (!*end) return true;
        if (*end != 'x' && *end != ',') return false;
        s = end + 1;
    }
}

static bool apply_shape_option(Graph *g, const char *opt, Diag *d) {
    const char *eq = strrchr(opt, '=');
    if (!eq) {
        diag_error(d, NULL, "--shape '%s': expected NAME=DIMS, e.g. input=1x3x224x224", opt);
        return false;
    }
    char name[IR_MAX_NAME];
    size_t len = (size_t)(eq - opt);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, opt, len);
    name[len] = '\0';
    int64_t dims[IR_MAX_RANK];
    int rank;
    if (!parse_dims(eq + 1, dims, &rank)) {
        diag_error(d, NULL, "--shape '%s': DIMS must be non-negative integers joined by 'x'",
                   opt);
        return false;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        Value *v = g->inputs[i];
        if (strcmp(v->name, name) != 0) continue;
        if (v->rank >= 0 && v->rank != rank) {
            diag_error(d, NULL, "--shape %s: the model gives this input rank %d, not %d", name,
                       v->rank, rank);
            return false;
        }
        for (int k = 0; k < rank && v->rank >= 0; k++) {
            if (v->dims[k] >= 0 && v->dims[k] != dims[k]) {
                diag_error(d, NULL, "--shape %s: dimension %d is fixed to %lld by the model",
                           name, k, (long long)v->dims[k]);
                return false;
            }
        }
        ir_value_set_shape(v, v->dtype, rank, dims);
        return true;
    }
    diag_error(d, NULL, "--shape %s: the model has no input of that name", name);
    return false;
}

Graph *drv_load(const DriverOptions *o, const char *model_path, int *rc, Diag *d) {
    LoadOptions lo = {0};
    struct stat st;
    *rc = 2;
    if (stat(model_path, &st) != 0) {
        diag_error(d, NULL, "%s: %s", model_path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error(d, NULL, "%s: not a regular file", model_path);
        return NULL;
    }
    *rc = 1;
    Graph *g = onnx_load(model_path, &lo, d);
    if (!g) return NULL;
    for (int i = 0; i < o->n_shapes; i++) {
        if (!apply_shape_option(g, o->shapes[i], d)) {
            ir_graph_free(g);
            return NULL;
        }
    }
    return g;
}

bool drv_bind_lists(Graph *g, const HostLayout *lays, int n, Diag *d) {
    if (n != g->n_inputs) {
        diag_error(d, NULL, "the model has %d inputs but %d input files were given",
                   g->n_inputs, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        Value *v = g->inputs[i];
        if (v->kind == VK_TENSOR) continue;
        if (lays[i].kind != v->kind)
            BUG("input %d read as kind %d, the model's is %d", i, lays[i].kind, v->kind);
        if (!ir_list_bind_input(g, v, lays[i].present, lays[i].inner, lays[i].count, d))
            return false;
    }
    return ir_graph_flatten_io(g, false, d);
}

bool drv_bind_input_shapes(Graph *g, const HostTensor *inputs, int n, Diag *d) {
    if (n != g->n_inputs) {
        diag_error(d, NULL, "the model has %d inputs but %d input tensors were given",
                   g->n_inputs, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        Value *v = g->inputs[i];
        const HostTensor *t = &inputs[i];
        if (v->dtype != DT_UNDEFINED && v->dtype != t->dtype) {
            diag_error(d, NULL, "input %d '%s' is %s in the model but the tensor given is %s", i,
                       v->name, dtype_name(v->dtype), dtype_name(t->dtype));
            return false;
        }
        if (v->rank >= 0 && v->rank != t->rank) {
            diag_error(d, NULL, "input %d '%s' has rank %d in the model but the tensor given "
                       "has rank %d", i, v->name, v->rank, t->rank);
            return false;
        }
        for (int k = 0; k < t->rank && v->rank >= 0; k++) {
            if (v->dims[k] >= 0 && v->dims[k] != t->dims[k]) {
                diag_error(d, NULL, "input %d '%s' dimension %d is %lld in the model but %lld "
                           "in the tensor given", i, v->name, k, (long long)v->dims[k],
                           (long long)t->dims[k]);
                return false;
            }
        }
        ir_value_set_shape(v, t->dtype, t->rank, t->dims);
    }
    return true;
}

bool drv_freeze_inputs(Graph *g, const HostTensor *inputs, int n, const bool *freeze,
                       bool *frozen, Diag *d) {
    if (n != g->n_inputs) {
        diag_error(d, NULL, "the model has %d inputs but %d input tensors were given",
                   g->n_inputs, n);
        return false;
    }
    int kept = 0;
    for (int k = 0; k < n; k++) {
        Value *v = g->inputs[k];
        frozen[k] = freeze[k];
        if (!freeze[k]) {
            g->inputs[kept++] = v;
            continue;
        }
        /* drv_bind_input_shapes gave v the tensor's type and shape. */
        if (v->dtype != inputs[k].dtype || (size_t)ir_nbytes(v) != inputs[k].nbytes) {
            diag_error(d, NULL, "input %d '%s': the tensor given does not match its type and "
                       "shape", k, v->name);
            return false;
        }
        if (!ir_value_alloc_data(g, v, d)) return false;
        if (inputs[k].nbytes) memcpy(v->data, inputs[k].data, inputs[k].nbytes);
        v->is_input = false;
    }
    g->n_inputs = kept;
    return true;
}

bool drv_pipeline(Graph *g, const DriverOptions *o, StrBuf *dump, Diag *d) {
    PassOptions po = {.fuse = o->fuse, .winograd = o->winograd, .verify = true,
                      .dump_after = o->dump_after,
                      .dump_out = dump};
    if (o->dump_after) {
        bool known = false;
        for (int i = 0; i < pipeline_n_passes; i++)
            known |= strcmp(pipeline_passes[i].name, o->dump_after) == 0;
        if (!known) {
            diag_error(d, NULL, "--dump-after %s: no such pass (see onnxcc --help)",
                       o->dump_after);
            return false;
        }
    }
    return pipeline_run(g, &po, d);
}

void drv_c_name(const DriverOptions *o, const char *model_path, char *out, size_t size) {
    if (o->name) c_name_from_file(o->name, out, size);
    else c_name_from_file(model_path, out, size);
}

bool drv_write_file(const char *path, const char *data, size_t len, Diag *d) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        diag_error(d, NULL, "out of memory");
        return false;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", 11);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        diag_error(d, NULL, "cannot create a file next to %s: %s", path, strerror(errno));
        free(tmp);
        return false;
    }
    (void)fchmod(fd, 0644);   /* mkstemp makes 0600; generated sources are not secret */
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok = (fclose(f) == 0) && ok;
    else close(fd);
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        diag_error(d, NULL, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

char *drv_read_text(const char *path, size_t max_bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max_bytes + 1);
    size_t n = buf ? fread(buf, 1, max_bytes, f) : 0;
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}
