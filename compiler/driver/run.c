/* run.c: `onnxcc run` and `onnxcc test`: compile a model, build the C with a real C
 * compiler, run it, and write or compare its outputs.
 *
 * The build happens in a fresh private folder (mkdtemp): NAME.c/.h from the backend, the
 * embedded runtime, and a small harness that reads raw input files, calls
 * model_run_generic_pool() (with a pool of --threads threads, or none) and writes raw
 * output files.  The compiler and the program are started with fork/exec (no shell), so
 * no path or flag is ever interpreted by sh.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver_internal.h"
#include "ops/op_util.h"

enum { MAX_ARGS = 128, MAX_DATA_SETS = 64 };

static const char harness_c[] =
    "/* harness.c: runs the model once on raw input files, writes raw output files.\n"
    " * usage: harness THREADS IN_0 ... OUT_0 ...  (THREADS > 1: a pool of that many) */\n"
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n#include \"model.h\"\n"
    "#include \"onnxcc_threads.h\"\n\n"
    "int main(int argc, char **argv)\n{\n"
    "    enum { NI = model_NUM_INPUTS, NO = model_NUM_OUTPUTS };\n"
    "    void *in[NI + 1] = {0}, *out[NO + 1] = {0};\n"
    "    if (argc != 2 + NI + NO) return 2;\n"
    "    int threads = atoi(argv[1]);\n"
    "    OnnxccPool *pool = NULL;\n"
    "    if (threads > 1 && !(pool = onnxcc_pool_create(threads))) {\n"
    "        fprintf(stderr, \"cannot start a pool of %d threads\\n\", threads);\n"
    "        return 3;\n"
    "    }\n"
    "    for (int i = 0; i < NI; i++) {\n"
    "        size_t n = model_inputs[i].nbytes;\n"
    "        FILE *f = fopen(argv[2 + i], \"rb\");\n"
    "        in[i] = malloc(n ? n : 1);\n"
    "        if (!f || !in[i] || fread(in[i], 1, n, f) != n) return 3;\n"
    "        fclose(f);\n"
    "    }\n"
    "    for (int i = 0; i < NO; i++) {\n"
    "        size_t n = model_outputs[i].nbytes;\n"
    "        out[i] = malloc(n ? n : 1);\n"
    "        if (!out[i]) return 3;\n"
    "    }\n"
    "    void *ws = malloc(model_WORKSPACE_BYTES);\n"
    "    if (!ws) return 3;\n"
    "#ifdef model_WEIGHTS_FILE_BYTES\n"
    "    /* --weights file: model.weights, beside this program, in memory aligned to 64. */\n"
    "    char path[4096];\n"
    "    const char *slash = strrchr(argv[0], '/');\n"
    "    int dir_len = slash ? (int)(slash - argv[0]) + 1 : 0;\n"
    "    snprintf(path, sizeof path, \"%.*smodel.weights\", dir_len, argv[0]);\n"
    "    void *weights = aligned_alloc(64, model_WEIGHTS_FILE_BYTES);\n"
    "    FILE *wf = fopen(path, \"rb\");\n"
    "    if (!weights || !wf ||\n"
    "        fread(weights, 1, model_WEIGHTS_FILE_BYTES, wf) != model_WEIGHTS_FILE_BYTES)\n"
    "        return 3;\n"
    "    fclose(wf);\n"
    "    int wrc = model_set_weights(weights, model_WEIGHTS_FILE_BYTES);\n"
    "    if (wrc != 0) {\n"
    "        fprintf(stderr, \"model_set_weights returned %d\\n\", wrc);\n"
    "        return 4;\n"
    "    }\n"
    "#endif\n"
    "    int rc = model_run_generic_pool((const void *const *)in, out, ws, pool);\n"
    "    if (rc != 0) {\n"
    "        fprintf(stderr, \"model_run returned %d\\n\", rc);\n"
    "        return 4;\n"
    "    }\n"
    "    for (int i = 0; i < NO; i++) {\n"
    "        size_t n = model_outputs[i].nbytes;\n"
    "        FILE *f = fopen(argv[2 + NI + i], \"wb\");\n"
    "        if (!f || fwrite(out[i], 1, n, f) != n || fclose(f) != 0) return 3;\n"
    "        free(out[i]);\n"
    "    }\n"
    "    for (int i = 0; i < NI; i++) free(in[i]);\n"
    "    free(ws);\n"
    "#ifdef model_WEIGHTS_FILE_BYTES\n"
    "    free(weights);\n"
    "#endif\n"
    "    onnxcc_pool_destroy(pool);\n"
    "    return 0;\n}\n";

int drv_spawn(char *const argv[], const char *log_path, Diag *d) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        diag_error(d, NULL, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (log_path) {
            FILE *f = freopen(log_path, "w", stdout);
            if (f) dup2(fileno(stdout), 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return (int)pid;
}

int drv_wait(int pid, const char *what, Diag *d) {
    int status;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR) {
            diag_error(d, NULL, "waiting for %s: %s", what, strerror(errno));
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        diag_error(d, NULL, "%s was killed by signal %d", what, WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

/* Runs argv[0] with argv, stdout+stderr to log_path (if not NULL); returns the exit status,
 * or -1 if it could not start or was killed (errors in d). */
static int run_process(char *const argv[], const char *log_path, Diag *d) {
    int pid = drv_spawn(argv, log_path, d);
    return pid < 0 ? -1 : drv_wait(pid, argv[0], d);
}

/* The first lines of a log, for an error message. */
static void log_excerpt(const char *path, char *out, size_t size) {
    char *text = drv_read_text(path, size - 1);
    snprintf(out, size, "%s", text ? text : "");
    free(text);
    for (char *p = out; *p; p++)
        if (*p == '\n') *p = ' ';
}

void drv_remove_tree(const char *dir) {
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dh))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

/* A build of one model: the folder and the program in it. */
typedef struct Build {
    char dir[256];
    char prog[300];
    bool keep;
} Build;

static void build_cleanup(Build *b) {
    if (!b->dir[0]) return;
    if (b->keep) fprintf(stderr, "onnxcc: kept the build folder %s\n", b->dir);
    else drv_remove_tree(b->dir);
    b->dir[0] = '\0';
}

static bool build_model(const Graph *g, const DriverOptions *o, const char *model_path,
                        Build *b, Diag *d) {
    memset(b, 0, sizeof *b);
    b->keep = o->keep;
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/onnxcc-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        diag_error(d, NULL, "cannot create a temporary folder: %s", strerror(errno));
        b->dir[0] = '\0';
        return false;
    }
    StrBuf c, h;
    WeightsFiles wf;   /* model.weights and model_weights.S, in the modes that write them */
    sb_init(&wf.bin);
    sb_init(&wf.s);
    bool ok = drv_emit_files(g, o, model_path, "model", &c, &h, &wf, d);
    char path[400];
    if (ok && wf.bin.len) {
        snprintf(path, sizeof path, "%s/model.weights", b->dir);
        ok = drv_write_file(path, wf.bin.data, wf.bin.len, d);
    }
    if (ok && wf.s.len) {
        snprintf(path, sizeof path, "%s/model_weights.S", b->dir);
        ok = drv_write_file(path, wf.s.data, wf.s.len, d);
    }
    sb_free(&wf.bin);
    sb_free(&wf.s);
    if (ok) {
        snprintf(path, sizeof path, "%s/model.c", b->dir);
        ok = drv_write_file(path, c.data, c.len, d);
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/model.h", b->dir);
        ok = drv_write_file(path, h.data, h.len, d);
    }
    sb_free(&c);
    sb_free(&h);
    if (ok) {
        snprintf(path, sizeof path, "%s/harness.c", b->dir);
        ok = drv_write_file(path, harness_c, sizeof harness_c - 1, d) &&
             drv_write_runtime(b->dir, d);
    }
    if (!ok) return false;

    /* cc CFLAGS... -std=c11 -Wall -Wextra -Werror -I DIR SOURCES... -o PROG -lm -pthread,
     * where SOURCES are the model's, then the runtime's cached objects (rt_cache.c) or,
     * without a cache, the runtime's sources. */
    char *argv[MAX_ARGS];
    int argc = 0;
    char *flags = strdup(o->cflags ? o->cflags : "");
    char *sources[64];
    int n_sources = 0;
    if (!flags) return false;
    argv[argc++] = (char *)o->cc;
    for (char *tok = strtok(flags, " \t"); tok && argc < MAX_ARGS - 80; tok = strtok(NULL, " \t"))
        argv[argc++] = tok;
    argv[argc++] = "-std=c11";
    argv[argc++] = "-Wall";
    argv[argc++] = "-Wextra";
    argv[argc++] = "-Werror";
    argv[argc++] = "-I";
    argv[argc++] = b->dir;
    char rt_dir[512], objects[64][512];
    int n_objects = drv_runtime_objects(o, rt_dir, sizeof rt_dir)
                        ? drv_runtime_object_paths(rt_dir, objects, 64)
                        : 0;
    /* model_weights.S only with --weights incbin (it finds model.weights through -I DIR). */
    const char *fixed[] = {"model.c", "harness.c",
                           o->weights == WEIGHTS_INCBIN ? "model_weights.S" : ""};
    int n_rt = n_objects ? 0 : rt_n_files;
    for (int i = 0; i < 3 + n_rt && n_sources < 60; i++) {
        const char *f = i < 3 ? fixed[i] : rt_files[i - 3].path;
        size_t len = strlen(f);
        if (len < 2 || (strcmp(f + len - 2, ".c") != 0 && strcmp(f + len - 2, ".S") != 0))
            continue;
        size_t n = strlen(b->dir) + len + 2;
        sources[n_sources] = malloc(n);
        if (!sources[n_sources]) break;
        snprintf(sources[n_sources], n, "%s/%s", b->dir, f);
        argv[argc++] = sources[n_sources++];
    }
    for (int i = 0; i < n_objects && argc < MAX_ARGS - 8; i++) argv[argc++] = objects[i];
    snprintf(b->prog, sizeof b->prog, "%s/model_harness", b->dir);
    argv[argc++] = "-o";
    argv[argc++] = b->prog;
    argv[argc++] = "-lm";
    argv[argc++] = "-pthread";   /* the runtime's thread pool */
    argv[argc] = NULL;
    char log[400];
    snprintf(log, sizeof log, "%s/cc.log", b->dir);
    int rc = run_process(argv, log, d);
    if (rc != 0 && rc != -1) {
        char excerpt[600];
        log_excerpt(log, excerpt, sizeof excerpt);
        diag_error(d, NULL, "%s failed to build the generated C (exit %d): %s", o->cc, rc,
                   excerpt);
    }
    for (int i = 0; i < n_sources; i++) free(sources[i]);
    free(flags);
    return rc == 0;
}

/* Runs the built program on inputs with `threads` threads; fills outputs from the graph's
 * output descriptors. */
static bool exec_model(const Graph *g, const Build *b, int threads, const HostTensor *inputs,
                       HostTensor *outputs, Diag *d) {
    char *argv[MAX_ARGS];
    char paths[MAX_ARGS][320];
    char threads_arg[16];
    int argc = 0;
    if (g->n_inputs + g->n_outputs + 3 > MAX_ARGS) {
        diag_error(d, NULL, "too many inputs and outputs to run (%d)", g->n_inputs + g->n_outputs);
        return false;
    }
    argv[argc++] = (char *)b->prog;
    snprintf(threads_arg, sizeof threads_arg, "%d", threads > 1 ? threads : 1);
    argv[argc++] = threads_arg;
    for (int i = 0; i < g->n_inputs; i++) {
        snprintf(paths[argc], sizeof paths[argc], "%s/in%d.bin", b->dir, i);
        if (!drv_write_file(paths[argc], inputs[i].data, inputs[i].nbytes, d)) return false;
        argv[argc] = paths[argc];
        argc++;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        snprintf(paths[argc], sizeof paths[argc], "%s/out%d.bin", b->dir, i);
        argv[argc] = paths[argc];
        argc++;
    }
    argv[argc] = NULL;
    char log[400];
    snprintf(log, sizeof log, "%s/run.log", b->dir);
    int rc = run_process(argv, log, d);
    if (rc != 0) {
        char excerpt[600];
        log_excerpt(log, excerpt, sizeof excerpt);
        diag_error(d, NULL, "the generated program failed (exit %d): %s", rc, excerpt);
        return false;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const Value *v = g->outputs[i];
        HostTensor *t = &outputs[i];
        memset(t, 0, sizeof *t);
        t->name = strdup(v->name);
        t->dtype = v->dtype;
        t->rank = v->rank;
        memcpy(t->dims, v->dims, sizeof t->dims);
        t->nbytes = ir_nbytes(v);
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        const char *path = paths[2 + g->n_inputs + i];
        FILE *f = fopen(path, "rb");
        bool ok = t->name && t->data && f && fread(t->data, 1, t->nbytes, f) == t->nbytes;
        if (f) fclose(f);
        if (!ok) {
            diag_error(d, NULL, "cannot read output %d of the generated program", i);
            for (int k = 0; k <= i; k++) tensor_free(&outputs[k]);
            return false;
        }
    }
    return true;
}

bool driver_build_and_run(const Graph *g, const DriverOptions *o, const HostTensor *inputs,
                          int n_inputs, HostTensor *outputs, Diag *d) {
    if (n_inputs != g->n_inputs) {
        diag_error(d, NULL, "%d inputs given, the model has %d", n_inputs, g->n_inputs);
        return false;
    }
    Build b;
    bool ok = build_model(g, o, o->model ? o->model : "model.onnx", &b, d) &&
              exec_model(g, &b, o->threads, inputs, outputs, d);
    build_cleanup(&b);
    return ok;
}

static void free_tensors(HostTensor *t, int n) {
    for (int i = 0; i < n; i++) tensor_free(&t[i]);
}

int driver_run(const DriverOptions *o, Diag *d) {
    if (!o->out_dir) {
        diag_error(d, NULL, "run needs an output folder: -o DIR");
        return 2;
    }
    HostTensor in[DRIVER_MAX_FILES];
    memset(in, 0, sizeof in);
    for (int i = 0; i < o->n_inputs; i++) {
        if (!tensor_read_pb(o->inputs[i], &in[i], d)) {
            free_tensors(in, o->n_inputs);
            return 2;
        }
    }
    int rc;
    Graph *g = drv_load(o, o->model, &rc, d);
    if (!g) {
        free_tensors(in, o->n_inputs);
        return rc;
    }
    rc = 1;
    HostTensor out[DRIVER_MAX_FILES];
    memset(out, 0, sizeof out);
    if (g->n_outputs > DRIVER_MAX_FILES) {
        diag_error(d, NULL, "the model has %d outputs; run handles at most %d", g->n_outputs,
                   DRIVER_MAX_FILES);
    } else if (drv_bind_input_shapes(g, in, o->n_inputs, d) && drv_pipeline(g, o, NULL, d) &&
               driver_build_and_run(g, o, in, o->n_inputs, out, d)) {
        rc = 2;
        if (mkdir(o->out_dir, 0755) == 0 || errno == EEXIST) {
            rc = 0;
            for (int i = 0; i < g->n_outputs && rc == 0; i++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/output_%d.pb", o->out_dir, i);
                if (!tensor_write_pb(path, &out[i], d)) rc = 2;
            }
        } else {
            diag_error(d, NULL, "cannot create %s: %s", o->out_dir, strerror(errno));
        }
        free_tensors(out, g->n_outputs);
    }
    free_tensors(in, o->n_inputs);
    ir_graph_free(g);
    return rc;
}

/* ---- test ------------------------------------------------------------------------- */

/* Compares one output as the ONNX backend tests do (floats of every width, float8 and
 * float4 included, within atol + rtol * |expected|, NaN equal to NaN; other types, int4
 * and int2 included, exactly); writes a one-line
 * reason on failure. */
static bool compare(const HostTensor *got, const HostTensor *want, double rtol, double atol,
                    double *max_err, char *why, size_t why_size) {
    if (got->dtype != want->dtype) {
        snprintf(why, why_size, "element type %s, expected %s", dtype_name(got->dtype),
                 dtype_name(want->dtype));
        return false;
    }
    bool same_shape = got->rank == want->rank;
    for (int k = 0; same_shape && k < got->rank; k++) same_shape = got->dims[k] == want->dims[k];
    if (!same_shape || got->nbytes != want->nbytes) {
        snprintf(why, why_size, "shape differs from the expected one (rank %d vs %d)", got->rank,
                 want->rank);
        return false;
    }
    size_t es = dtype_size(got->dtype);
    size_t n = es ? got->nbytes / es : 0;
    for (size_t i = 0; i < n; i++) {
        double a, b;
        switch (got->dtype) {
        case DT_FLOAT: a = ((float *)got->data)[i]; b = ((float *)want->data)[i]; break;
        case DT_DOUBLE: a = ((double *)got->data)[i]; b = ((double *)want->data)[i]; break;
        case DT_FLOAT16:
            a = ou_half_to_float(((uint16_t *)got->data)[i]);
            b = ou_half_to_float(((uint16_t *)want->data)[i]);
            break;
        case DT_BFLOAT16:
            a = ou_bf16_to_float(((uint16_t *)got->data)[i]);
            b = ou_bf16_to_float(((uint16_t *)want->data)[i]);
            break;
        case DT_FLOAT8E4M3FN: case DT_FLOAT8E4M3FNUZ: case DT_FLOAT8E5M2:
        case DT_FLOAT8E5M2FNUZ: case DT_FLOAT8E8M0: case DT_FLOAT4E2M1:
            /* by value: the two NaN patterns of float8e4m3fn compare equal */
            a = ou_lowp_get(got->dtype, got->data, (int64_t)i);
            b = ou_lowp_get(want->dtype, want->data, (int64_t)i);
            break;
        default:
            if (memcmp((char *)got->data + i * es, (char *)want->data + i * es, es) != 0) {
                snprintf(why, why_size, "element %zu differs (exact comparison for %s)", i,
                         dtype_name(got->dtype));
                return false;
            }
            continue;
        }
        if (isnan(a) && isnan(b)) continue;
        if (a == b) continue;   /* equal infinities */
        double err = fabs(a - b);
        if (!(err <= atol + rtol * fabs(b))) {
            snprintf(why, why_size, "element %zu is %.9g, expected %.9g (|diff| %.3g > atol %g "
                     "+ rtol %g * |expected|)", i, a, b, err, atol, rtol);
            return false;
        }
        if (err > *max_err) *max_err = err;
    }
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads DIR/PREFIX_0.pb, DIR/PREFIX_1.pb ... while they exist: file k as kinds[k] says
 * (a tensor beyond n_kinds), its layout in lays[k], its tensors appended to t (*n_flat in
 * all).  Returns the number of files, -1 on an error (nothing left allocated). */
static int read_numbered(const char *dir, const char *prefix, const ValueKind *kinds,
                         int n_kinds, HostTensor *t, HostLayout *lays, int *n_flat, Diag *d) {
    int n = 0;
    *n_flat = 0;
    for (; n < DRIVER_MAX_FILES; n++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, n);
        if (len < 0 || (size_t)len >= sizeof path) {
            diag_error(d, NULL, "%s: path too long", dir);
            free_tensors(t, *n_flat);
            return -1;
        }
        if (access(path, F_OK) != 0) break;
        ValueKind kind = n < n_kinds ? kinds[n] : VK_TENSOR;
        if (!value_read_pb(path, kind, t + *n_flat, DRIVER_MAX_FILES - *n_flat, &lays[n], d)) {
            free_tensors(t, *n_flat);
            return -1;
        }
        *n_flat += lays[n].count;
    }
    return n;
}

/* The kinds of the model's graph inputs (tensor, sequence, optional), which say how to
 * read the input files; false + d (and *rc) when the model cannot be loaded. */
static bool input_kinds(const DriverOptions *o, const char *path, ValueKind *kinds, int *n,
                        int *rc, Diag *d) {
    int load_rc;
    Graph *g = drv_load(o, path, &load_rc, d);
    if (!g) {
        *rc = load_rc;
        return false;
    }
    *n = g->n_inputs < DRIVER_MAX_FILES ? g->n_inputs : DRIVER_MAX_FILES;
    for (int i = 0; i < *n; i++) kinds[i] = g->inputs[i]->kind;
    ir_graph_free(g);
    return true;
}

/* The expected outputs' structure against the compiled model's (the model's declared
 * outputs, sequences and optionals included, before they were flattened). */
static bool check_layouts(const Graph *g, const HostLayout *lays, int n_files, const char *set,
                          Diag *d) {
    int n = g->model_outputs ? g->n_model_outputs : g->n_outputs;
    Value *const *outs = g->model_outputs ? g->model_outputs : g->outputs;
    if (n_files != n) {
        diag_error(d, NULL, "%s: %d expected outputs but the model has %d", set, n_files, n);
        return false;
    }
    for (int k = 0; k < n; k++) {
        const Value *v = outs[k];
        bool present = v->kind != VK_OPTIONAL || v->n_elems > 0;
        if (present != lays[k].present || ir_list_tensor_count(v) != lays[k].count) {
            diag_error(d, NULL, "%s: output %d '%s': %s of %lld tensors, expected %s of %d", set,
                       k, v->name, present ? "a value" : "an empty optional",
                       (long long)ir_list_tensor_count(v),
                       lays[k].present ? "a value" : "an empty optional", lays[k].count);
            return false;
        }
    }
    return true;
}

/* The program was compiled for the first data set's inputs (their count, types and
 * shapes; a sequence's length among them): a later data set must match them. */
static bool check_run_inputs(const Graph *g, const HostTensor *in, int n, const char *set,
                             Diag *d) {
    if (n != g->n_inputs) {
        diag_error(d, NULL, "%s: %d input tensors, but the program was compiled for %d (data "
                   "sets must match the first one's inputs)", set, n, g->n_inputs);
        return false;
    }
    for (int k = 0; k < n; k++) {
        const Value *v = g->inputs[k];
        if (in[k].dtype != v->dtype || in[k].nbytes != ir_nbytes(v)) {
            char sv[128];
            diag_error(d, NULL, "%s: input %d '%s' is not %s as in the first data set", set, k,
                       v->name, ir_shape_str(sv, sizeof sv, v));
            return false;
        }
    }
    return true;
}

/* Compiles and builds a test case's model for one data set's inputs (in) into *gp and b;
 * returns the exit code.  An op that needs a graph input at compile time (Reshape's
 * shape, Slice's starts, a reduction's axes...) fails the pipeline: the model is then
 * loaded again with those inputs frozen to this data set's values (frozen[k] for graph
 * input k), so that the case checks the op with them.  Inference stops at the first
 * error, so one attempt may reveal only the first of several such inputs (Slice's starts,
 * then its ends): the set grows until the pipeline passes or an attempt adds no input,
 * at most once per graph input.  A failed attempt's errors are dropped from d (which
 * holds nothing else: the caller stops at the first error). */
static int compile_case(const DriverOptions *o, const char *path, const HostTensor *in,
                        int n_in, const HostLayout *lays, int n_files, Graph **gp, Build *b,
                        bool *frozen, Diag *d) {
    int rc = 0;
    bool freeze[DRIVER_MAX_FILES] = {false};
    memset(frozen, 0, (size_t)n_in * sizeof *frozen);
    Graph *g = *gp = drv_load(o, path, &rc, d);
    if (!g) return rc;
    bool ok = drv_bind_lists(g, lays, n_files, d) && drv_bind_input_shapes(g, in, n_in, d) &&
              drv_pipeline(g, o, NULL, d);
    for (int attempt = 0; !ok && attempt < n_in && n_in <= DRIVER_MAX_FILES; attempt++) {
        /* g->inputs holds the inputs not frozen yet, in model order */
        bool grew = false;
        for (int k = 0, j = 0; k < n_in && j < g->n_inputs; k++)
            if (!freeze[k] && g->inputs[j++]->needs_const) grew = freeze[k] = true;
        if (!grew) break;
        ir_graph_free(g);
        diag_free(d);
        diag_init(d);
        g = *gp = drv_load(o, path, &rc, d);
        if (!g) return rc;
        ok = drv_bind_lists(g, lays, n_files, d) && drv_bind_input_shapes(g, in, n_in, d) &&
             drv_freeze_inputs(g, in, n_in, freeze, frozen, d) && drv_pipeline(g, o, NULL, d);
    }
    return ok && build_model(g, o, path, b, d) ? 0 : 1;
}

int driver_test(const DriverOptions *o, Diag *d) {
    char path[4096];
    /* Data sets, sorted by name so the order (and the output) is stable. */
    DIR *dh = opendir(o->model);
    if (!dh) {
        diag_error(d, NULL, "%s: %s (expected a test-case folder)", o->model, strerror(errno));
        return 2;
    }
    char *sets[MAX_DATA_SETS];
    int n_sets = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && n_sets < MAX_DATA_SETS)
        if (strncmp(e->d_name, "test_data_set_", 14) == 0) sets[n_sets++] = strdup(e->d_name);
    closedir(dh);
    qsort(sets, (size_t)n_sets, sizeof sets[0], cmp_str);
    snprintf(path, sizeof path, "%s/model.onnx", o->model);
    double rtol = 1e-3, atol = 1e-7;   /* the ONNX backend tests' defaults */
    char tol_path[4096];
    snprintf(tol_path, sizeof tol_path, "%s/tolerance.txt", o->model);
    char *tol = drv_read_text(tol_path, 200);
    if (tol) {
        double r, a;
        if (sscanf(tol, "%lf %lf", &r, &a) == 2) rtol = r, atol = a;
        free(tol);
    }
    if (o->rtol >= 0) rtol = o->rtol;
    if (o->atol >= 0) atol = o->atol;

    int rc = 0;
    Graph *g = NULL;
    Build b = {0};
    bool built = false, any_frozen = false;
    ValueKind in_kinds[DRIVER_MAX_FILES];
    int n_in_kinds = 0;
    if (n_sets == 0) {
        diag_error(d, NULL, "%s: no test_data_set_* folder", o->model);
        rc = 2;
    } else {
        (void)input_kinds(o, path, in_kinds, &n_in_kinds, &rc, d);    /* rc set on failure */
    }
    double max_err = 0;
    for (int s = 0; s < n_sets && rc == 0; s++) {
        char set_dir[4096];
        snprintf(set_dir, sizeof set_dir, "%s/%s", o->model, sets[s]);
        HostTensor in[DRIVER_MAX_FILES], want[DRIVER_MAX_FILES], got[DRIVER_MAX_FILES];
        HostLayout in_lays[DRIVER_MAX_FILES], want_lays[DRIVER_MAX_FILES];
        memset(in, 0, sizeof in);
        memset(want, 0, sizeof want);
        memset(got, 0, sizeof got);
        bool ran = false, frozen[DRIVER_MAX_FILES] = {false};
        /* n_in, n_want: tensors (a sequence file gives several); *_files: files */
        int n_in = 0, n_want = 0, n_want_files = 0;
        int n_in_files = read_numbered(set_dir, "input", in_kinds, n_in_kinds, in, in_lays,
                                       &n_in, d);
        if (n_in_files < 0) {
            rc = 2;
            break;
        }
        if (!built || any_frozen) {
            /* Compile with the shapes of the first data set, or again for each data set
             * when inputs are frozen to its values. */
            if (built) {
                build_cleanup(&b);
                ir_graph_free(g);
                g = NULL;
            }
            rc = compile_case(o, path, in, n_in, in_lays, n_in_files, &g, &b, frozen, d);
            for (int k = 0; k < n_in; k++) any_frozen |= frozen[k];
            built = true;
        }
        if (rc == 0) {
            /* read once compiled: the outputs' kinds are those inference found */
            ValueKind out_kinds[DRIVER_MAX_FILES];
            int n_outs = g->model_outputs ? g->n_model_outputs : g->n_outputs;
            for (int k = 0; k < n_outs && k < DRIVER_MAX_FILES; k++)
                out_kinds[k] = (g->model_outputs ? g->model_outputs : g->outputs)[k]->kind;
            n_want_files = read_numbered(set_dir, "output", out_kinds,
                                         n_outs < DRIVER_MAX_FILES ? n_outs : DRIVER_MAX_FILES,
                                         want, want_lays, &n_want, d);
            if (n_want_files < 0) {
                n_want = 0;
                rc = 2;
            } else if (!check_layouts(g, want_lays, n_want_files, sets[s], d)) {
                rc = 1;
            }
        }
        if (rc == 0 && n_want != g->n_outputs) {
            diag_error(d, NULL, "%s: %d expected output tensors but the model has %d", sets[s],
                       n_want, g->n_outputs);
            rc = 1;
        }
        if (rc == 0) {
            /* The frozen inputs are constants of the program now. */
            HostTensor run_in[DRIVER_MAX_FILES];
            int n_run = 0;
            for (int k = 0; k < n_in; k++)
                if (!frozen[k]) run_in[n_run++] = in[k];
            rc = check_run_inputs(g, run_in, n_run, sets[s], d) ? 0 : 1;
            ran = rc == 0 && exec_model(g, &b, o->threads, run_in, got, d);
            if (rc == 0 && !ran) rc = 1;
        }
        for (int k = 0; rc == 0 && k < n_want; k++) {
            char why[300];
            if (!compare(&got[k], &want[k], rtol, atol, &max_err, why, sizeof why)) {
                diag_error(d, NULL, "%s: output %d '%s': %s", sets[s], k, g->outputs[k]->name,
                           why);
                rc = 1;
            }
        }
        if (ran) free_tensors(got, g->n_outputs);
        free_tensors(in, n_in);
        free_tensors(want, n_want);
    }
    if (rc == 0)
        printf("PASS %s (%d data set%s, max |diff| %.3g, rtol %g atol %g)\n", o->model, n_sets,
               n_sets == 1 ? "" : "s", max_err, rtol, atol);
    if (built) build_cleanup(&b);
    ir_graph_free(g);
    for (int s = 0; s < n_sets; s++) free(sets[s]);
    return rc;
}
