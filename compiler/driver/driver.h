/* driver.h: the subcommands behind the command line (compile, info, run, test).
 * main.c parses arguments into DriverOptions and calls one of these; they return the
 * process exit code and put every problem in d. */
#ifndef ONNXCC_DRIVER_H
#define ONNXCC_DRIVER_H

#include <stdbool.h>

#include "backend/backend.h"
#include "base/diag.h"

enum { DRIVER_MAX_FILES = 64, DRIVER_MAX_SHAPES = 32 };

typedef struct DriverOptions {
    const char *model;          /* MODEL.onnx or CASE_DIR */
    const char *out_dir;        /* -o */
    const char *name;           /* --name, or NULL for the file's base name */
    const char *shapes[DRIVER_MAX_SHAPES];   /* --shape NAME=1x3x224x224 */
    int n_shapes;
    bool fuse;                  /* !--no-fuse */
    bool winograd;              /* !--no-winograd */
    bool emit_runtime;
    const char *dump_after;
    bool report;
    WeightsMode weights;
    const char *inputs[DRIVER_MAX_FILES];    /* run: -i files */
    int n_inputs;
    const char *cc;             /* --cc, default "clang" */
    const char *cflags;         /* --cflags, default "-O3 -march=native" */
    double rtol, atol;          /* test: tolerances */
    bool keep;                  /* keep the temporary build folder (debugging) */
    int threads;                /* run/test: --threads N, a pool of N threads (0, 1: none) */
    bool verbose;
} DriverOptions;

/* Emits C for a graph that has been through the pipeline (planned), builds it with
 * o->cc / o->cflags in a temporary folder together with the embedded runtime and a small
 * harness, runs it once on `inputs` (one per graph input, in order) and fills `outputs`
 * (one per graph output; the caller frees them with tensor_free).  Used by `run`, `test`
 * and by unit tests that compare fused and unfused graphs numerically. */
struct HostTensor;
bool driver_build_and_run(const Graph *g, const DriverOptions *o, const struct HostTensor *inputs,
                          int n_inputs, struct HostTensor *outputs, Diag *d);
/* Default options (clang, -O3 -march=native, fusion on). */
void driver_options_default(DriverOptions *o);

int driver_compile(const DriverOptions *o, Diag *d);
int driver_info(const DriverOptions *o, Diag *d);
int driver_run(const DriverOptions *o, Diag *d);
int driver_test(const DriverOptions *o, Diag *d);

#endif
