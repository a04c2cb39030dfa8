/* helpers.c: see helpers.h. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "driver/driver.h"
#include "frontend/frontend.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "passes/pass.h"

Graph *tb_graph(void) {
    Graph *g = ir_graph_new(0);
    cr_assert(g, "ir_graph_new failed");
    g->opset = 17;
    g->name = "test";
    return g;
}

static Value *new_value(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
    Diag d;
    diag_init(&d);
    Value *v = ir_value_new(g, name, &d);
    cr_assert(v, "ir_value_new('%s') failed", name);
    ir_value_set_shape(v, t, rank, dims);
    diag_free(&d);
    return v;
}

Value *tb_input(Graph *g, const char *name, int rank, const int64_t *dims) {
    Value *v = new_value(g, name, DT_FLOAT, rank, dims);
    Diag d;
    diag_init(&d);
    v->is_input = true;
    cr_assert(ir_graph_add_input(g, v, &d));
    diag_free(&d);
    return v;
}

static Value *new_const(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
    Value *v = new_value(g, name, t, rank, dims);
    Diag d;
    diag_init(&d);
    cr_assert(ir_value_alloc_data(g, v, &d), "allocating constant '%s'", name);
    diag_free(&d);
    return v;
}

Value *tb_const(Graph *g, const char *name, int rank, const int64_t *dims, const float *data) {
    Value *v = new_const(g, name, DT_FLOAT, rank, dims);
    memcpy(v->data, data, ir_nbytes(v));
    return v;
}

Value *tb_const_rand(Graph *g, const char *name, int rank, const int64_t *dims, unsigned seed,
                     float lo, float hi) {
    Value *v = new_const(g, name, DT_FLOAT, rank, dims);
    float *p = v->data;
    int64_t n = ir_numel(v);
    tb_fill(p, n, seed);
    for (int64_t i = 0; i < n; i++) p[i] = lo + (p[i] + 1.0f) * 0.5f * (hi - lo);
    return v;
}

Value *tb_const_i64(Graph *g, const char *name, int rank, const int64_t *dims,
                    const int64_t *data) {
    Value *v = new_const(g, name, DT_INT64, rank, dims);
    memcpy(v->data, data, ir_nbytes(v));
    return v;
}

Node *tb_node(Graph *g, const char *op_type, const char *name, int n_in, Value *const *inputs,
              int n_out) {
    Diag d;
    diag_init(&d);
    Node *n = ir_node_new(g, name, op_type, "", n_in, n_out, &d);
    cr_assert(n, "ir_node_new failed");
    n->opset = g->opset;
    for (int i = 0; i < n_in; i++) n->inputs[i] = inputs[i];
    for (int k = 0; k < n_out; k++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s_out%d", name, k);
        Value *v = ir_value_new(g, buf, &d);
        cr_assert(v);
        v->producer = n;
        n->outputs[k] = v;
    }
    diag_free(&d);
    return n;
}

Value *tb_value(Graph *g, const char *name, DType t, int rank, const int64_t *dims,
                const double *vals) {
    Diag d;
    diag_init(&d);
    Value *v = ir_value_new(g, name, &d);
    cr_assert_not_null(v);
    ir_value_set_shape(v, t, rank, dims);
    if (vals) {
        cr_assert(ir_value_alloc_data(g, v, &d));
        for (int64_t i = 0; i < ir_numel(v); i++) ou_set_f64(v, i, vals[i]);
    }
    diag_free(&d);
    return v;
}

Node *tb_op_node(Graph *g, const char *op_type, int opset, int n_in, Value *const *inputs,
                 int n_out) {
    return tb_op_node_in(g, "", op_type, opset, n_in, inputs, n_out);
}

Node *tb_op_node_in(Graph *g, const char *domain, const char *op_type, int opset, int n_in,
                    Value *const *inputs, int n_out) {
    Diag d;
    diag_init(&d);
    Node *n = ir_node_new(g, "n", op_type, domain, n_in, n_out, &d);
    cr_assert_not_null(n);
    n->op = op_find(domain, op_type);
    cr_assert_not_null(n->op, "%s is not registered", op_type);
    n->opset = opset;
    for (int k = 0; k < n_in; k++) n->inputs[k] = inputs[k];
    for (int k = 0; k < n_out; k++) {
        char name[32];
        snprintf(name, sizeof name, "y%d", k);
        n->outputs[k] = ir_value_new(g, ir_unique_name(g, name), &d);
        cr_assert_not_null(n->outputs[k]);
        n->outputs[k]->producer = n;
    }
    diag_free(&d);
    return n;
}

void tb_attr_int(Graph *g, Node *n, const char *name, int64_t v) {
    Diag d;
    diag_init(&d);
    cr_assert(ir_attr_set_int(g, n, name, v, &d));
    diag_free(&d);
}

void tb_attr_str(Graph *g, Node *n, const char *name, const char *v) {
    Diag d;
    diag_init(&d);
    cr_assert(ir_attr_set_string(g, n, name, v, &d));
    diag_free(&d);
}

void tb_attr_float(Graph *g, Node *n, const char *name, float v) {
    Diag d;
    diag_init(&d);
    cr_assert(ir_attr_set_float(g, n, name, v, &d));
    diag_free(&d);
}

void tb_attr_ints(Graph *g, Node *n, const char *name, const int64_t *v, size_t count) {
    Diag d;
    diag_init(&d);
    cr_assert(ir_attr_set_ints(g, n, name, v, count, &d));
    diag_free(&d);
}

void tb_output(Graph *g, Value *v) {
    Diag d;
    diag_init(&d);
    v->is_output = true;
    cr_assert(ir_graph_add_output(g, v, &d));
    diag_free(&d);
}

bool tb_pipeline(Graph *g, bool fuse, Diag *d) {
    diag_init(d);
    PassOptions opt = {.fuse = fuse, .winograd = true, .verify = true};
    bool ok = pipeline_run(g, &opt, d);
    for (int i = 0; i < d->n_messages; i++) cr_log_info("%s", d->messages[i]);
    return ok;
}

void tb_pipeline_ok(Graph *g) {
    Diag d;
    cr_assert(tb_pipeline(g, false, &d), "pipeline: %s", d.n_messages ? d.messages[0] : "");
    diag_free(&d);
}

int tb_count_live(const Graph *g, const char *op_type) {
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && strcmp(g->nodes[i]->op_type, op_type) == 0) count++;
    return count;
}

void tb_fill(float *x, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;              /* LCG: deterministic everywhere */
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.0f;
    }
}

/* tb_run's work: the errors stay in d (initialised here) for the caller. */
static bool run_graph(const Graph *g, unsigned seed, float **out, int64_t *out_n, int n_out,
                      Diag *d) {
    cr_assert_eq(n_out, g->n_outputs, "tb_run: %d outputs asked, graph has %d", n_out,
                 g->n_outputs);
    HostTensor in[16], res[16];
    cr_assert(g->n_inputs <= 16 && n_out <= 16);
    memset(in, 0, sizeof in);
    memset(res, 0, sizeof res);
    for (int i = 0; i < g->n_inputs; i++) {
        const Value *v = g->inputs[i];
        in[i].name = (char *)v->name;
        in[i].dtype = v->dtype;
        in[i].rank = v->rank;
        memcpy(in[i].dims, v->dims, sizeof v->dims);
        in[i].nbytes = ir_nbytes(v);
        in[i].data = malloc(in[i].nbytes + 1);
        cr_assert(in[i].data);
        tb_fill(in[i].data, ir_numel(v), seed + (unsigned)i);
    }
    DriverOptions o;
    driver_options_default(&o);
#ifdef ONNXCC_TEST_CFLAGS
    o.cflags = ONNXCC_TEST_CFLAGS;
#else
    o.cflags = "-O1";
#endif
    diag_init(d);
    bool ok = driver_build_and_run(g, &o, in, g->n_inputs, res, d);
    for (int i = 0; i < g->n_inputs; i++) free(in[i].data);
    for (int k = 0; k < n_out; k++) {
        out[k] = ok ? res[k].data : NULL;
        out_n[k] = ok ? (int64_t)(res[k].nbytes / sizeof(float)) : 0;
        if (!ok) tensor_free(&res[k]);
        else free(res[k].name);
    }
    return ok;
}

bool tb_run(const Graph *g, unsigned seed, float **out, int64_t *out_n, int n_out) {
    Diag d;
    bool ok = run_graph(g, seed, out, out_n, n_out, &d);
    for (int i = 0; i < d.n_messages; i++) cr_log_error("%s", d.messages[i]);
    diag_free(&d);
    return ok;
}

void tb_run_fails(const Graph *g, unsigned seed, const char *want) {
    enum { MAX_OUT = 16 };
    float *out[MAX_OUT];
    int64_t out_n[MAX_OUT];
    cr_assert(g->n_outputs <= MAX_OUT);
    Diag d;
    cr_assert_not(run_graph(g, seed, out, out_n, g->n_outputs, &d), "the run succeeded");
    bool found = false;
    for (int i = 0; i < d.n_messages; i++) found |= strstr(d.messages[i], want) != NULL;
    cr_assert(found, "no error message contains '%s' (first: %s)", want,
              d.n_messages ? d.messages[0] : "none");
    diag_free(&d);
}

#ifdef ONNXCC_TEST_CFLAGS
#define TB_PROGRAM_CFLAGS ONNXCC_TEST_CFLAGS
#else
#define TB_PROGRAM_CFLAGS "-O2"
#endif

void tb_build_and_run(const char *flags, const char *sources, const char *args) {
    char dir[] = "/tmp/onnxcc-prog-XXXXXX";
    cr_assert(mkdtemp(dir));
    /* Each source as an absolute path: ONNXCC_SOURCE_DIR/<source>. */
    char srcs[1024] = "", cmd[4096];
    char *list = strdup(sources);
    cr_assert(list);
    for (char *tok = strtok(list, " "); tok; tok = strtok(NULL, " ")) {
        size_t len = strlen(srcs);
        int n = snprintf(srcs + len, sizeof srcs - len, " %s/%s", ONNXCC_SOURCE_DIR, tok);
        cr_assert(n > 0 && (size_t)n < sizeof srcs - len, "source list too long");
    }
    free(list);
    snprintf(cmd, sizeof cmd,
             "clang -std=c11 -Wall -Wextra -Werror %s %s -I%s/runtime/include%s -o %s/prog "
             "-lm -pthread > %s/cc.log 2>&1",
             TB_PROGRAM_CFLAGS, flags, ONNXCC_SOURCE_DIR, srcs, dir, dir);
    cr_assert_eq(system(cmd), 0, "building%s with %s failed (see %s/cc.log)", srcs, flags, dir);
    snprintf(cmd, sizeof cmd, "%s/prog %s > %s/run.log 2>&1", dir, args, dir);
    cr_assert_eq(system(cmd), 0, "the program built from%s with %s failed (see %s/run.log)",
                 srcs, flags, dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- memory that lives until the suite ends ---------------------------------------------- */

static void **pool;             /* every tb_alloc block, freed by tb_free_all */
static size_t n_pool, pool_cap;

void *tb_alloc(size_t bytes) {
    if (n_pool == pool_cap) {
        size_t cap = pool_cap ? 2 * pool_cap : 256;
        void **grown = realloc(pool, cap * sizeof *grown);
        cr_assert_not_null(grown, "tb_alloc: out of memory");
        pool = grown;
        pool_cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    cr_assert_not_null(p, "tb_alloc: out of memory for %zu bytes", bytes);
    pool[n_pool++] = p;
    return p;
}

char *tb_strdup(const char *s) {
    size_t len = strlen(s) + 1;
    return memcpy(tb_alloc(len), s, len);
}

void tb_free_all(void) {
    for (size_t i = 0; i < n_pool; i++) free(pool[i]);
    free(pool);
    pool = NULL;
    n_pool = pool_cap = 0;
}

bool tb_diag_has(const Diag *d, const char *word) {
    for (int i = 0; i < d->n_messages; i++)
        if (strstr(d->messages[i], word)) return true;
    return false;
}

/* ---- one node on constants -------------------------------------------------------------- */

/* The attribute `name` of n, new or emptied, for a type the ir has no setter for: set as
 * an int (which finds or appends the slot), then retyped by the caller. */
static Attr *attr_slot(Graph *g, Node *n, const char *name) {
    tb_attr_int(g, n, name, 0);
    Attr *a = (Attr *)ir_attr(n, name);
    cr_assert_not_null(a);
    return a;
}

void tb_attr_floats(Graph *g, Node *n, const char *name, const float *v, size_t count) {
    float *copy = arena_array(&g->arena, count ? count : 1, sizeof *copy);
    cr_assert_not_null(copy);
    if (count) memcpy(copy, v, sizeof *copy * count);
    Attr *a = attr_slot(g, n, name);
    a->type = ATTR_FLOATS;
    a->floats = copy;
    a->count = count;
}

void tb_attr_strings(Graph *g, Node *n, const char *name, const char *const *v, size_t count) {
    const char **copy = arena_array(&g->arena, count ? count : 1, sizeof *copy);
    cr_assert_not_null(copy);
    for (size_t k = 0; k < count; k++) {
        copy[k] = arena_strdup(&g->arena, v[k]);
        cr_assert_not_null(copy[k]);
    }
    Attr *a = attr_slot(g, n, name);
    a->type = ATTR_STRINGS;
    a->strings = copy;
    a->count = count;
}

void tb_attr_tensor(Graph *g, Node *n, const char *name, Value *t) {
    Attr *a = attr_slot(g, n, name);
    a->type = ATTR_TENSOR;
    a->tensor = t;
}

bool tb_fold(Graph *g, Node *n, Diag *d) {
    return n->op->infer(g, n, d) && (!n->op->fold || n->op->fold(g, n, d));
}

static bool infer_only(Graph *g, Node *n, Diag *d) { return n->op->infer(g, n, d); }

/* run(g, n) must succeed, or must fail with a first message containing want (want NULL:
 * must succeed). */
static void expect_outcome(bool (*run)(Graph *, Node *, Diag *), Graph *g, Node *n,
                           const char *want) {
    Diag d;
    diag_init(&d);
    bool ok = run(g, n, &d);
    if (!want) {
        cr_assert(ok, "failed: %s", d.n_messages ? d.messages[0] : "(no message)");
    } else {
        cr_assert_not(ok, "expected an error containing '%s'", want);
        cr_assert_geq(d.n_messages, 1);
        cr_assert_not_null(strstr(d.messages[0], want), "message '%s' lacks '%s'",
                           d.messages[0], want);
    }
    diag_free(&d);
}

void tb_fold_ok(Graph *g, Node *n) { expect_outcome(tb_fold, g, n, NULL); }
void tb_fold_err(Graph *g, Node *n, const char *want) { expect_outcome(tb_fold, g, n, want); }
void tb_infer_ok(Graph *g, Node *n) { expect_outcome(infer_only, g, n, NULL); }
void tb_infer_err(Graph *g, Node *n, const char *want) {
    expect_outcome(infer_only, g, n, want);
}

void tb_fold_chain(Graph *g, Node *const *chain, int count) {
    for (int i = 0; i < count; i++) {
        chain[i]->op = op_find("", chain[i]->op_type);
        cr_assert_not_null(chain[i]->op, "%s is not registered", chain[i]->op_type);
        tb_fold_ok(g, chain[i]);
    }
}

bool tb_close(double got, double want, TbTol tol) {
    if (tol.abs == 0 && tol.rel == 0) return got == want;
    return fabs(got - want) <= tol.abs + tol.rel * (1 + fabs(want));
}

void tb_expect_shape(const Value *v, int rank, const int64_t *dims) {
    cr_assert_eq(v->rank, rank, "rank %d, expected %d", v->rank, rank);
    for (int k = 0; k < rank; k++)
        cr_assert_eq(v->dims[k], dims[k], "dim %d is %lld, expected %lld", k,
                     (long long)v->dims[k], (long long)dims[k]);
}

void tb_expect_data(const Value *v, int64_t count, const double *want, TbTol tol) {
    cr_assert_not_null(v->data, "'%s' holds no data", v->name);
    cr_assert_eq(ir_numel(v), count, "%lld elements, expected %lld", (long long)ir_numel(v),
                 (long long)count);
    for (int64_t i = 0; i < count; i++) {
        const double got = ou_get_f64(v, i);
        cr_assert(tb_close(got, want[i], tol), "element %lld is %.9g, expected %.9g",
                  (long long)i, got, want[i]);
    }
}

void tb_expect(const Value *v, DType t, int rank, const int64_t *dims, const double *vals,
               TbTol tol) {
    if (t != TB_ANY_DTYPE)
        cr_assert_eq(v->dtype, t, "dtype %s, expected %s", dtype_name(v->dtype),
                     dtype_name(t));
    tb_expect_shape(v, rank, dims);
    if (vals) tb_expect_data(v, ir_numel(v), vals, tol);
}

/* ---- end to end ------------------------------------------------------------------------- */

/* The seed of the tb_emit_vs_fold in progress: what its tb_run feeds graph input i is
 * tb_fill(seed + i), and tb_e2e_input's constants must hold the same. */
static struct {
    bool active;
    unsigned seed;
} e2e_run;

Value *tb_e2e_input(Graph *g, bool konst, const char *name, int rank, const int64_t *dims,
                    int index) {
    if (!konst) return tb_input(g, name, rank, dims);
    cr_assert(e2e_run.active, "tb_e2e_input('%s') with konst outside tb_emit_vs_fold", name);
    int64_t count = 1;
    for (int k = 0; k < rank; k++) count *= dims[k];
    float *buf = malloc(sizeof(float) * (size_t)(count ? count : 1));
    cr_assert_not_null(buf);
    tb_fill(buf, count, e2e_run.seed + (unsigned)index);
    Value *v = tb_const(g, name, rank, dims, buf);
    free(buf);
    return v;
}

void tb_expect_run_output(const char *what, int k, const float *got, int64_t n,
                          const Value *want, TbTol tol, bool nan_equal) {
    cr_assert_not_null(want->data, "%s output %d did not fold", what, k);
    cr_assert_eq(n, ir_numel(want), "%s output %d: %lld elements, expected %lld", what, k,
                 (long long)n, (long long)ir_numel(want));
    for (int64_t i = 0; i < n; i++) {
        const double w = ou_get_f64(want, i), x = got[i];
        if (nan_equal && (x == w || (isnan(x) && isnan(w)))) continue;
        cr_assert(tb_close(x, w, tol), "%s output %d element %lld: emitted %.9g, folded %.9g",
                  what, k, (long long)i, x, w);
    }
}

enum { TB_MAX_OUTPUTS = 16 };   /* as many as tb_run takes */

void tb_emit_vs_fold(TbBuild build, TbE2E opt) {
    cr_assert(opt.n_out >= 1 && opt.n_out <= TB_MAX_OUTPUTS, "n_out %d", opt.n_out);
    Graph *g = tb_graph();
    if (opt.opset) g->opset = opt.opset;
    Node *n = build(g, false);
    for (int k = 0; k < opt.n_out; k++) tb_output(g, n->outputs[k]);
    tb_pipeline_ok(g);
    if (opt.node_kept)
        cr_assert_eq(tb_count_live(g, n->op_type), 1, "%s was folded away", n->op_type);
    float *out[TB_MAX_OUTPUTS] = { 0 };
    int64_t out_n[TB_MAX_OUTPUTS] = { 0 };
    cr_assert(tb_run(g, opt.seed, out, out_n, opt.n_out));
    Graph *gc = tb_graph();
    if (opt.opset) gc->opset = opt.opset;
    e2e_run.active = true;
    e2e_run.seed = opt.seed;
    Node *nc = build(gc, true);
    e2e_run.active = false;
    if (!nc->op) nc->op = op_find(nc->domain, nc->op_type);
    cr_assert_not_null(nc->op, "%s is not registered", nc->op_type);
    tb_fold_ok(gc, nc);
    for (int k = 0; k < opt.n_out; k++) {
        const Value *y = nc->outputs[k];
        if (opt.float_out)
            cr_assert_eq(y->dtype, DT_FLOAT, "output %d is %s, not float", k,
                         dtype_name(y->dtype));
        tb_expect_run_output(nc->op_type, k, out[k], out_n[k], y, opt.tol, opt.nan_equal);
        free(out[k]);
    }
    ir_graph_free(g);
    ir_graph_free(gc);
}
