/* helpers.h: building small graphs in unit tests, and running them through the compiler.
 *
 * Every helper fails the current Criterion test (cr_assert) instead of returning an error,
 * so tests read as a list of steps.  Graphs are float32 and opset 17 unless a test changes
 * g->opset or a node's opset.
 */
#ifndef ONNXCC_TEST_HELPERS_H
#define ONNXCC_TEST_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "ir/graph.h"

Graph *tb_graph(void);
/* A float graph input. */
Value *tb_input(Graph *g, const char *name, int rank, const int64_t *dims);
/* Constants; data is copied. */
Value *tb_const(Graph *g, const char *name, int rank, const int64_t *dims, const float *data);
Value *tb_const_rand(Graph *g, const char *name, int rank, const int64_t *dims, unsigned seed,
                     float lo, float hi);
Value *tb_const_i64(Graph *g, const char *name, int rank, const int64_t *dims,
                    const int64_t *data);
/* A node with n_out fresh output values named "<name>_out<k>"; inputs may hold NULL. */
Node *tb_node(Graph *g, const char *op_type, const char *name, int n_in, Value *const *inputs,
              int n_out);
/* A value of dtype t; with vals, a constant holding them (converted to t), else shape only. */
Value *tb_value(Graph *g, const char *name, DType t, int rank, const int64_t *dims,
                const double *vals);
/* A node of a registered op (resolved, opset set) with fresh outputs "y0", "y1"...; for
 * tests that call op->infer and op->fold directly. */
Node *tb_op_node(Graph *g, const char *op_type, int opset, int n_in, Value *const *inputs,
                 int n_out);
void tb_attr_int(Graph *g, Node *n, const char *name, int64_t v);
void tb_attr_float(Graph *g, Node *n, const char *name, float v);
void tb_attr_str(Graph *g, Node *n, const char *name, const char *v);
void tb_attr_ints(Graph *g, Node *n, const char *name, const int64_t *v, size_t count);
void tb_output(Graph *g, Value *v);
/* pipeline_run with verify on; on failure the diagnostics are in d (diag_init'ed here). */
bool tb_pipeline(Graph *g, bool fuse, Diag *d);
/* Live nodes of that op type. */
int tb_count_live(const Graph *g, const char *op_type);
/* Fills n floats with a fixed-seed pattern in [-1, 1). */
void tb_fill(float *x, int64_t n, unsigned seed);
/* Compiles the planned graph to C, builds and runs it (clang -O1) with every input filled
 * by tb_fill(seed + input index); out[k] gets output k (malloc'ed, caller frees) with
 * out_n[k] elements. */
bool tb_run(const Graph *g, unsigned seed, float **out, int64_t *out_n, int n_out);
/* Builds a program with clang from repository files (`sources`: paths relative to the
 * source tree, separated by spaces) with `flags` and the test build's C flags
 * (ONNXCC_TEST_CFLAGS: the sanitizers in a sanitizer build; else -O2), runs it with
 * `args`, and fails the test if either step fails, naming the log to read (the
 * temporary folder is removed only on success). */
void tb_build_and_run(const char *flags, const char *sources, const char *args);

#endif
