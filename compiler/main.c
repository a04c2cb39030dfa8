/* main.c: the command line.  Parses arguments into DriverOptions, runs one subcommand,
 * prints the diagnostics as `onnxcc: error: ...` lines on stderr.
 *
 * Exit codes: 0 success, 1 the model is invalid, unsupported or gives wrong results,
 * 2 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/driver.h"
#include "onnxcc_threads.h"
#include "passes/pass.h"

#define ONNXCC_STRINGIFY_(x) #x
#define ONNXCC_STRINGIFY(x) ONNXCC_STRINGIFY_(x)

static void usage(FILE *f) {
    fprintf(f,
        "usage: onnxcc compile MODEL.onnx -o DIR [--name NAME] [--emit-runtime] [options]\n"
        "       onnxcc info MODEL.onnx [--shape NAME=DIMS]\n"
        "       onnxcc run MODEL.onnx -i INPUT_0.pb [-i INPUT_1.pb ...] -o OUTDIR [options]\n"
        "       onnxcc test CASE_DIR [options]\n"
        "\n"
        "compile  writes DIR/NAME.c and DIR/NAME.h (and the runtime with --emit-runtime)\n"
        "info     prints opset, inputs, outputs, ops, parameters, FLOPs and workspace\n"
        "run      compiles, builds with a C compiler, runs once, writes OUTDIR/output_K.pb\n"
        "test     runs an ONNX test case (model.onnx, test_data_set_*/) and compares\n"
        "\n"
        "options:\n"
        "  --shape NAME=DIMS     give an input's shape, e.g. --shape input=1x3x224x224\n"
        "  --no-fuse             no activation fusion\n"
        "  --no-winograd         3x3 stride-1 convolutions without Winograd's transform\n"
        "                        (the direct kernels' rounding, a little slower)\n"
        "  --weights MODE        auto (default: C arrays for small tensors, byte strings\n"
        "                        for large), literal (C arrays), blob (byte strings),\n"
        "                        incbin (NAME.weights linked in by NAME_weights.S) or\n"
        "                        file (NAME.weights, loaded by the caller: NAME_set_weights)\n"
        "  --dump-after PASS     print the graph after a pass:");
    for (int i = 0; i < pipeline_n_passes; i++) fprintf(f, " %s", pipeline_passes[i].name);
    fprintf(f, "\n"
        "  --cc CC               C compiler for run/test (default clang)\n"
        "  --cflags FLAGS        its flags (default \"-O3 -march=native\")\n"
        "  --rtol X, --atol X    test tolerances (default: the case's tolerance.txt, else\n"
        "                        rtol 1e-3 atol 1e-7 as the ONNX backend tests)\n"
        "  --threads N           run/test: run the generated code on a pool of N threads\n"
        "                        (default 1: no pool)\n"
        "  --keep                keep run/test's temporary build folder\n"
        "  -v, --verbose         say what is written\n"
        "  --version, --help\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "onnxcc: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see onnxcc --help)\n");
    return 2;
}

/* A thread count in [1, ONNXCC_POOL_MAX_THREADS]. */
static bool parse_threads(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > ONNXCC_POOL_MAX_THREADS) return false;
    *out = (int)v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end && *out >= 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("onnxcc %s\n", ONNXCC_VERSION);
        return 0;
    }
    int (*run)(const DriverOptions *, Diag *) = NULL;
    if (strcmp(cmd, "compile") == 0) run = driver_compile;
    else if (strcmp(cmd, "info") == 0) run = driver_info;
    else if (strcmp(cmd, "run") == 0) run = driver_run;
    else if (strcmp(cmd, "test") == 0) run = driver_test;
    else return usage_error("unknown command '%s'", cmd);

    DriverOptions o;
    driver_options_default(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) o.out_dir = val;
        else if (strcmp(a, "--name") == 0) o.name = val;
        else if (strcmp(a, "--shape") == 0) {
            if (o.n_shapes == DRIVER_MAX_SHAPES) return usage_error("too many %s options", a);
            o.shapes[o.n_shapes++] = val;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0) {
            if (o.n_inputs == DRIVER_MAX_FILES) return usage_error("too many %s options", a);
            o.inputs[o.n_inputs++] = val;
        } else if (strcmp(a, "--weights") == 0) {
            if (!val) return usage_error("%s needs a value", a);
            if (!weights_mode_parse(val, &o.weights))
                return usage_error("--weights '%s': expected auto, literal, blob, incbin or file",
                                   val);
        } else if (strcmp(a, "--dump-after") == 0) o.dump_after = val;
        else if (strcmp(a, "--cc") == 0) o.cc = val;
        else if (strcmp(a, "--cflags") == 0) o.cflags = val;
        else if (strcmp(a, "--rtol") == 0 || strcmp(a, "--atol") == 0) {
            if (!val || !parse_double(val, a[2] == 'r' ? &o.rtol : &o.atol))
                return usage_error("%s needs a non-negative number", a);
        } else if (strcmp(a, "--threads") == 0) {
            if (!val || !parse_threads(val, &o.threads))
                return usage_error("%s needs a number of threads from 1 to "
                                   ONNXCC_STRINGIFY(ONNXCC_POOL_MAX_THREADS), a);
        } else {
            takes_value = false;
            if (strcmp(a, "--no-fuse") == 0) o.fuse = false;
            else if (strcmp(a, "--no-winograd") == 0) o.winograd = false;
            else if (strcmp(a, "--emit-runtime") == 0) o.emit_runtime = true;
            else if (strcmp(a, "--keep") == 0) o.keep = true;
            else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) o.verbose = true;
            else if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
            else if (o.model) return usage_error("unexpected argument '%s'", a);
            else o.model = a;
        }
        if (takes_value) {
            if (!val) return usage_error("%s needs a value", a);
            i++;
        }
    }
    if (!o.model) return usage_error("%s needs a model", cmd);

    Diag d;
    diag_init(&d);
    int rc = run(&o, &d);
    for (int i = 0; i < d.n_messages; i++) fprintf(stderr, "onnxcc: %s\n", d.messages[i]);
    if (d.n_errors > d.n_messages)
        fprintf(stderr, "onnxcc: ... and %d more errors\n", d.n_errors - d.n_messages);
    if (rc == 0 && d.n_errors > 0) rc = 1;
    if (rc != 0 && d.n_errors == 0)
        fprintf(stderr, "onnxcc: error: %s failed\n", cmd);
    diag_free(&d);
    return rc;
}
