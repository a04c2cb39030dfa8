/* helpers.c: see helpers.h. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    Diag d;
    diag_init(&d);
    Node *n = ir_node_new(g, "n", op_type, "", n_in, n_out, &d);
    cr_assert_not_null(n);
    n->op = op_find("", op_type);
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

bool tb_run(const Graph *g, unsigned seed, float **out, int64_t *out_n, int n_out) {
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
    Diag d;
    diag_init(&d);
    bool ok = driver_build_and_run(g, &o, in, g->n_inputs, res, &d);
    for (int i = 0; i < d.n_messages; i++) cr_log_error("%s", d.messages[i]);
    diag_free(&d);
    for (int i = 0; i < g->n_inputs; i++) free(in[i].data);
    for (int k = 0; k < n_out; k++) {
        out[k] = ok ? res[k].data : NULL;
        out_n[k] = ok ? (int64_t)(res[k].nbytes / sizeof(float)) : 0;
        if (!ok) tensor_free(&res[k]);
        else free(res[k].name);
    }
    return ok;
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
