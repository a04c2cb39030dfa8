/* helpers.h: building small graphs in unit tests, and running them through the compiler.
 *
 * Every helper fails the current Criterion test (cr_assert) instead of returning an error,
 * so tests read as a list of steps.  Graphs are float32 and opset 17 unless a test changes
 * g->opset or a node's opset.
 */
#ifndef ONNXCC_TEST_HELPERS_H
#define ONNXCC_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
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
/* tb_pipeline without fusion, which must succeed (else the test fails with the first
 * message). */
void tb_pipeline_ok(Graph *g);
/* Live nodes of that op type. */
int tb_count_live(const Graph *g, const char *op_type);
/* Fills n floats with a fixed-seed pattern in [-1, 1). */
void tb_fill(float *x, int64_t n, unsigned seed);
/* Compiles the planned graph to C, builds and runs it (clang -O1) with every input filled
 * by tb_fill(seed + input index); out[k] gets output k (malloc'ed, caller frees) with
 * out_n[k] elements. */
bool tb_run(const Graph *g, unsigned seed, float **out, int64_t *out_n, int n_out);
/* The same for a graph whose generated code must fail at run time (a data-dependent
 * index out of range): fails the test unless building succeeds, the run fails and an
 * error message contains `want`.  (tb_run logs its errors, which fails the run.) */
void tb_run_fails(const Graph *g, unsigned seed, const char *want);
/* Builds a program with clang from repository files (`sources`: paths relative to the
 * source tree, separated by spaces) with `flags` and the test build's C flags
 * (ONNXCC_TEST_CFLAGS: the sanitizers in a sanitizer build; else -O2), runs it with
 * `args`, and fails the test if either step fails, naming the log to read (the
 * temporary folder is removed only on success). */
void tb_build_and_run(const char *flags, const char *sources, const char *args);

/* ---- memory that lives until the suite ends ------------------------------------------------
 *
 * For data a test hands to code that keeps pointers into it (protobuf structs built by
 * hand): never NULL, zeroed, and released all at once by tb_free_all, which a suite names
 * as its fini: TestSuite(fe_load, .fini = tb_free_all). */
void *tb_alloc(size_t bytes);
char *tb_strdup(const char *s);
void tb_free_all(void);
/* Whether any message of d contains word. */
bool tb_diag_has(const Diag *d, const char *word);

/* ---- one node on constants: infer, fold, check ---------------------------------------------
 *
 * The op tests build one node with tb_op_node on tb_value constants, run it with
 * tb_fold_ok or tb_fold_err, and check each output with tb_expect:
 *
 *     Node *n = tb_op_node(g, "Trilu", 14, 1, (Value *[]){ x }, 1);
 *     tb_fold_ok(g, n);
 *     tb_expect(n->outputs[0], DT_FLOAT, 2, dims, want, TB_EXACT);
 */

/* Like tb_op_node, for an op of another domain ("ai.onnx.ml", ...). */
Node *tb_op_node_in(Graph *g, const char *domain, const char *op_type, int opset, int n_in,
                    Value *const *inputs, int n_out);
/* Attributes the ir has no setter for; the values are copied into the graph's arena. */
void tb_attr_floats(Graph *g, Node *n, const char *name, const float *v, size_t count);
void tb_attr_strings(Graph *g, Node *n, const char *name, const char *const *v, size_t count);
void tb_attr_tensor(Graph *g, Node *n, const char *name, Value *t);
/* Runs n's infer, then its fold when the op has one; false with the reason in d. */
bool tb_fold(Graph *g, Node *n, Diag *d);
/* tb_fold must succeed (else the test fails with the first message). */
void tb_fold_ok(Graph *g, Node *n);
/* tb_fold must fail, and its first message must contain want. */
void tb_fold_err(Graph *g, Node *n, const char *want);
/* The same for n's infer alone (ops that do not fold, shape-only inputs). */
void tb_infer_ok(Graph *g, Node *n);
void tb_infer_err(Graph *g, Node *n, const char *want);
/* Resolves each node of a chain (tb_node, default domain) and folds it, in order: the
 * nodes' inputs must be constants by their turn. */
void tb_fold_chain(Graph *g, Node *const *chain, int count);

/* How close a value must be to the one expected: |got - want| <= abs + rel * (1 + |want|).
 * TB_EXACT (both 0) means got == want. */
typedef struct TbTol {
    double abs;
    double rel;
} TbTol;
#define TB_EXACT ((TbTol){ 0, 0 })
#define TB_ABS(tol) ((TbTol){ (tol), 0 })
#define TB_REL(tol) ((TbTol){ 0, (tol) })
/* tb_expect's dtype that matches any dtype. */
#define TB_ANY_DTYPE DT_UNDEFINED

bool tb_close(double got, double want, TbTol tol);
/* v has this rank and these dims. */
void tb_expect_shape(const Value *v, int rank, const int64_t *dims);
/* v holds count elements (read with ou_get_f64: any numeric dtype), each close to want. */
void tb_expect_data(const Value *v, int64_t count, const double *want, TbTol tol);
/* v has dtype t (TB_ANY_DTYPE: not checked), this shape, and when vals is not NULL data
 * close to vals. */
void tb_expect(const Value *v, DType t, int rank, const int64_t *dims, const double *vals,
               TbTol tol);

/* ---- end to end: the emitted code against the folder ---------------------------------------
 *
 * A TbBuild builds the graph under test and returns the node whose outputs are compared.
 * tb_emit_vs_fold calls it twice.  With konst false, the float inputs it takes from
 * tb_e2e_input are graph inputs, and the graph is compiled and run by tb_run; with konst
 * true, they are constants holding what that run fed them, so the node folds (a builder
 * folds any earlier nodes of a chain with tb_fold_chain):
 *
 *     static Node *b_det(Graph *g, bool konst) {
 *         Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 3, 4, 4 }, 0);
 *         Node *n = tb_node(g, "Det", "det", 1, (Value *[]){ a }, 1);
 *         n->opset = 11;
 *         return n;
 *     }
 *     Test(misc_run, det) { tb_emit_vs_fold(b_det, (TbE2E){ .seed = 23, .n_out = 1,
 *                                                           .tol = TB_REL(1e-5) }); }
 *
 * A test file usually wraps tb_emit_vs_fold in its own emit_vs_fold fixing the options.
 */
typedef Node *(*TbBuild)(Graph *g, bool konst);

typedef struct TbE2E {
    unsigned seed;          /* tb_run's seed (graph input i gets tb_fill(seed + i)) */
    int n_out;              /* node outputs 0 .. n_out-1 are graph outputs, all compared */
    TbTol tol;              /* emitted (got) against folded (want) */
    bool nan_equal;         /* NaN against NaN passes (so does an infinity against itself) */
    bool float_out;         /* the folded outputs must be float */
    bool node_kept;         /* the node must not be folded away by the pipeline */
    int opset;              /* the graphs' opset; 0: tb_graph's */
} TbE2E;

/* A float input of a builder: graph input number `index`, or with konst a constant holding
 * what the tb_run of the tb_emit_vs_fold in progress feeds that input (konst outside
 * tb_emit_vs_fold fails the test). */
Value *tb_e2e_input(Graph *g, bool konst, const char *name, int rank, const int64_t *dims,
                    int index);
/* Compiles and runs build(g, false) with tb_run, folds build(gc, true), and compares the
 * outputs element by element. */
void tb_emit_vs_fold(TbBuild build, TbE2E opt);
/* Output k as tb_run returned it (got, n floats) against the folded value want; what names
 * the node or model in messages. */
void tb_expect_run_output(const char *what, int k, const float *got, int64_t n,
                          const Value *want, TbTol tol, bool nan_equal);

#endif
