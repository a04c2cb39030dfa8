/* test_plan.c: the memory planner (passes/plan_memory.c).
 *
 * Every test builds a graph, runs the pipeline and hands the result to check_plan(), which
 * recomputes lifetimes on its own and checks the plan's promises: storage classes, 64-byte
 * aligned offsets inside the workspace, no two buffers live at the same step overlapping
 * (values that legitimately share bytes through an alias or in-place op, or a Concat
 * input placed in its slice of the output, are one buffer),
 * scratch buffers disjoint from everything live at their step, and the lower bound.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/emitter.h"
#include "helpers.h"
#include "onnxcc_act.h"
#include "ops/op.h"
#include "passes/pass.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static bool overlap(size_t a_off, size_t a_size, size_t b_off, size_t b_size) {
    return a_size > 0 && b_size > 0 && a_off < b_off + b_size && b_off < a_off + a_size;
}

typedef struct Check {
    int *parent, *first, *last;     /* per value id: sharing groups and lifetimes */
} Check;

static int root(Check *c, int v) {
    while (c->parent[v] != v) v = c->parent[v];
    return v;
}

/* Lifetime of every workspace value: producer step .. last reader step. */
static void lifetimes(const Graph *g, Check *c) {
    for (int i = 0; i < g->n_values; i++) {
        c->parent[i] = i;
        c->first[i] = c->last[i] = -1;
    }
    for (int t = 0; t < g->n_nodes; t++) {
        const Node *n = g->nodes[t];
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k]) c->first[n->outputs[k]->id] = c->last[n->outputs[k]->id] = t;
        for (int k = 0; k < n->n_inputs; k++) {
            const Value *v = n->inputs[k];
            if (v && v->storage == STORAGE_WORKSPACE && c->last[v->id] < t) c->last[v->id] = t;
        }
    }
}

/* A Concat input placed at its slice of the output joins the output's group (whose root,
 * the output, is the group's largest value); legal only when nothing reads the input's
 * group after the Concat. */
static void concat_groups(const Node *n, int t, Check *c) {
    const Value *y = n->outputs[0];
    size_t start = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *x = n->inputs[k];
        if (x->storage == STORAGE_WORKSPACE && x->ws_offset == y->ws_offset + start &&
            ir_nbytes(x) > 0 && root(c, x->id) != root(c, y->id)) {
            int rx = root(c, x->id), ry = root(c, y->id);
            cr_assert_eq(c->last[rx], t, "'%s' lives in '%s' but is read after step %d",
                         x->name, y->name, t);
            c->parent[rx] = ry;
            if (c->first[rx] < c->first[ry]) c->first[ry] = c->first[rx];
        }
        start += ir_nbytes(x);
    }
}

/* Output 0 sharing input bytes through an alias or in-place op becomes one group; an
 * in-place share is legal only when the input's group is read for the last time here. */
static void groups(const Graph *g, Check *c) {
    for (int t = 0; t < g->n_nodes; t++) {
        const Node *n = g->nodes[t];
        const Value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
        if (!y || y->storage != STORAGE_WORKSPACE || !n->op) continue;
        if (strcmp(n->op_type, "Concat") == 0) concat_groups(n, t, c);
        if (n->op->memory == OP_MEMORY_SEPARATE) continue;
        for (int k = 0; k < n->n_inputs; k++) {
            const Value *x = n->inputs[k];
            if (!x || x->storage != STORAGE_WORKSPACE || x->ws_offset != y->ws_offset ||
                ir_nbytes(x) != ir_nbytes(y))
                continue;
            int rx = root(c, x->id), ry = root(c, y->id);
            if (rx == ry) continue;
            if (n->op->memory == OP_MEMORY_INPLACE)
                cr_assert_eq(c->last[rx], t, "'%s' overwrites '%s', still read after step %d",
                             y->name, x->name, t);
            c->parent[ry] = rx;
            if (c->first[ry] < c->first[rx]) c->first[rx] = c->first[ry];
            if (c->last[ry] > c->last[rx]) c->last[rx] = c->last[ry];
        }
    }
}

static size_t scratch_of(const Node *n) {
    return n->op && n->op->scratch_bytes ? align64(n->op->scratch_bytes(n)) : 0;
}

/* Checks every promise of the plan; returns the plan. */
static const MemoryPlan *check_plan(const Graph *g) {
    const MemoryPlan *plan = plan_get(g);
    cr_assert(plan, "no plan");
    cr_assert_geq(plan->workspace_bytes, plan->lower_bound_bytes);
    Check c = { calloc((size_t)g->n_values + 1, sizeof(int)),
                calloc((size_t)g->n_values + 1, sizeof(int)),
                calloc((size_t)g->n_values + 1, sizeof(int)) };
    cr_assert(c.parent && c.first && c.last);

    for (int i = 0; i < g->n_inputs; i++) cr_assert_eq(g->inputs[i]->storage, STORAGE_INPUT);
    for (int t = 0; t < g->n_nodes; t++) {
        const Node *n = g->nodes[t];
        for (int k = 0; k < n->n_outputs; k++) {
            const Value *v = n->outputs[k];
            if (!v) continue;
            cr_assert_eq(v->storage, v->is_output ? STORAGE_OUTPUT : STORAGE_WORKSPACE,
                         "storage of '%s'", v->name);
            if (v->storage != STORAGE_WORKSPACE) continue;
            cr_assert_eq(v->ws_offset % 64, 0, "'%s' at %zu", v->name, v->ws_offset);
            cr_assert_leq(v->ws_offset + ir_nbytes(v), plan->workspace_bytes);
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] && n->inputs[k]->data && !n->inputs[k]->producer)
                cr_assert_eq(n->inputs[k]->storage, STORAGE_CONST);
    }
    lifetimes(g, &c);
    groups(g, &c);

    /* Pairs of workspace values in different groups whose group lifetimes overlap. */
    for (int i = 0; i < g->n_values; i++) {
        const Value *u = g->values[i];
        if (u->storage != STORAGE_WORKSPACE) continue;
        int ru = root(&c, i);
        for (int j = i + 1; j < g->n_values; j++) {
            const Value *v = g->values[j];
            if (v->storage != STORAGE_WORKSPACE) continue;
            int rv = root(&c, j);
            if (ru == rv || c.first[ru] > c.last[rv] || c.first[rv] > c.last[ru]) continue;
            cr_assert(!overlap(u->ws_offset, ir_nbytes(u), v->ws_offset, ir_nbytes(v)),
                      "'%s' and '%s' are live together and overlap", u->name, v->name);
        }
    }
    /* Scratch, and the lower bound recomputed from the groups. */
    size_t bound = 0;
    for (int t = 0; t < g->n_nodes; t++) {
        size_t s = scratch_of(g->nodes[t]), live = s;
        if (s > 0) {
            cr_assert_eq(plan->scratch_offset[t] % 64, 0);
            cr_assert_leq(plan->scratch_offset[t] + s, plan->workspace_bytes);
        }
        for (int i = 0; i < g->n_values; i++) {
            const Value *v = g->values[i];
            if (v->storage != STORAGE_WORKSPACE) continue;
            int r = root(&c, i);
            if (c.first[r] > t || c.last[r] < t) continue;
            cr_assert(!overlap(plan->scratch_offset[t], s, v->ws_offset, ir_nbytes(v)),
                      "scratch of step %d overlaps '%s'", t, v->name);
            if (r == i) live += align64(ir_nbytes(v));
        }
        if (live > bound) bound = live;
    }
    cr_assert_eq(plan->lower_bound_bytes, bound, "lower bound %zu, expected %zu",
                 plan->lower_bound_bytes, bound);
    free(c.parent);
    free(c.first);
    free(c.last);
    return plan;
}

static void run_pipeline(Graph *g, bool fuse) {
    Diag d;
    cr_assert(tb_pipeline(g, fuse, &d), "pipeline failed");
    diag_free(&d);
}

static Node *unary(Graph *g, const char *op, const char *name, Value *x) {
    return tb_node(g, op, name, 1, &x, 1);
}

static Node *binary(Graph *g, const char *op, const char *name, Value *a, Value *b) {
    Value *in[2] = { a, b };
    return tb_node(g, op, name, 2, in, 1);
}

Test(plan_basic, elementwise_chain_runs_in_place) {
    Graph *g = tb_graph();
    int64_t xd[2] = { 1, 64 };
    Node *r1 = unary(g, "Relu", "r1", tb_input(g, "x", 2, xd));
    Node *s = unary(g, "Sigmoid", "s", r1->outputs[0]);
    Node *t = unary(g, "Tanh", "t", s->outputs[0]);
    Node *r2 = unary(g, "Relu", "r2", t->outputs[0]);
    tb_output(g, r2->outputs[0]);
    run_pipeline(g, false);
    const MemoryPlan *plan = check_plan(g);
    cr_assert_eq(s->outputs[0]->ws_offset, r1->outputs[0]->ws_offset, "Sigmoid in place");
    cr_assert_eq(t->outputs[0]->ws_offset, r1->outputs[0]->ws_offset, "Tanh in place");
    cr_assert_eq(plan->lower_bound_bytes, 256);
    cr_assert_eq(plan->workspace_bytes, 256);
    cr_assert_eq(r2->outputs[0]->storage, STORAGE_OUTPUT);
    ir_graph_free(g);
}

Test(plan_basic, matmul_chain_is_near_the_lower_bound) {
    /* [8,16] x [16,32] x [32,8] x [8,64] x [64,4]: no op runs in place. */
    Graph *g = tb_graph();
    int64_t xd[2] = { 8, 16 };
    int64_t widths[5] = { 16, 32, 8, 64, 4 };
    Value *x = tb_input(g, "x", 2, xd);
    for (int i = 0; i < 4; i++) {
        int64_t wd[2] = { widths[i], widths[i + 1] };
        char wname[16], nname[16];
        snprintf(wname, sizeof wname, "w%d", i);
        snprintf(nname, sizeof nname, "mm%d", i);
        x = binary(g, "MatMul", nname, x, tb_const_rand(g, wname, 2, wd, (unsigned)i, -1, 1))
                ->outputs[0];
    }
    tb_output(g, x);
    run_pipeline(g, false);
    const MemoryPlan *plan = check_plan(g);
    cr_assert_gt(plan->lower_bound_bytes, 0);
    cr_assert_leq(plan->workspace_bytes * 10, plan->lower_bound_bytes * 11,
                  "workspace %zu vs lower bound %zu", plan->workspace_bytes,
                  plan->lower_bound_bytes);
    ir_graph_free(g);
}

/* x -> Relu a -> { Sigmoid b, Tanh c } -> Add e -> Relu f (output). */
static Graph *build_diamond(Node **nodes) {
    Graph *g = tb_graph();
    int64_t xd[2] = { 2, 32 };
    Node *a = unary(g, "Relu", "a", tb_input(g, "x", 2, xd));
    Node *b = unary(g, "Sigmoid", "b", a->outputs[0]);
    Node *c = unary(g, "Tanh", "c", a->outputs[0]);
    Node *e = binary(g, "Add", "e", b->outputs[0], c->outputs[0]);
    Node *f = unary(g, "Relu", "f", e->outputs[0]);
    tb_output(g, f->outputs[0]);
    if (nodes) {
        nodes[0] = a; nodes[1] = b; nodes[2] = c; nodes[3] = e; nodes[4] = f;
    }
    return g;
}

Test(plan_basic, diamond) {
    Node *n[5];
    Graph *g = build_diamond(n);
    run_pipeline(g, false);
    check_plan(g);
    /* b is written while a is still needed by c; c may take a's bytes. */
    cr_assert_neq(n[1]->outputs[0]->ws_offset, n[0]->outputs[0]->ws_offset);
    cr_assert_eq(n[2]->outputs[0]->ws_offset, n[0]->outputs[0]->ws_offset);
    ir_graph_free(g);
}

Test(plan_basic, reshape_aliases_its_input) {
    /* a = Relu(x); r = Reshape(a); s = Sigmoid(r); t = Reshape(s); u = Add(t, a). */
    Graph *g = tb_graph();
    int64_t xd[2] = { 2, 8 }, sd[1] = { 2 }, s44[2] = { 4, 4 }, s28[2] = { 2, 8 };
    Node *a = unary(g, "Relu", "a", tb_input(g, "x", 2, xd));
    Node *r = binary(g, "Reshape", "r", a->outputs[0], tb_const_i64(g, "shape44", 1, sd, s44));
    Node *s = unary(g, "Sigmoid", "s", r->outputs[0]);
    Node *t = binary(g, "Reshape", "t", s->outputs[0], tb_const_i64(g, "shape28", 1, sd, s28));
    Node *u = binary(g, "Add", "u", t->outputs[0], a->outputs[0]);
    tb_output(g, u->outputs[0]);
    run_pipeline(g, false);
    check_plan(g);
    cr_assert_eq(tb_count_live(g, "Reshape"), 2);
    cr_assert_eq(r->outputs[0]->storage, STORAGE_WORKSPACE);
    cr_assert_eq(r->outputs[0]->ws_offset, a->outputs[0]->ws_offset, "Reshape aliased");
    cr_assert_eq(t->outputs[0]->ws_offset, s->outputs[0]->ws_offset, "Reshape aliased");
    cr_assert_neq(s->outputs[0]->ws_offset, a->outputs[0]->ws_offset,
                  "a is read after s: no in-place");

    /* The generated code computes u = sigmoid(relu(x)) + relu(x). */
    float *out = NULL;
    int64_t n_out = 0;
    cr_assert(tb_run(g, 3, &out, &n_out, 1));
    cr_assert_eq(n_out, 16);
    float x[16];
    tb_fill(x, 16, 3);
    for (int i = 0; i < 16; i++) {
        float ra = x[i] > 0 ? x[i] : 0;
        float want = 1.0f / (1.0f + expf(-ra)) + ra;
        cr_assert_float_eq(out[i], want, 1e-5, "element %d", i);
    }
    free(out);
    ir_graph_free(g);
}

Test(plan_basic, storage_classes_scratch_and_unread_outputs) {
    /* Conv (scratch) -> MaxPool with an indices output nobody reads. */
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 8, 8 }, wd[4] = { 4, 2, 3, 3 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 5, -1, 1) };
    Node *conv = tb_node(g, "Conv", "conv", 2, in, 1);
    Node *pool = tb_node(g, "MaxPool", "pool", 1, conv->outputs, 2);
    int64_t k2[2] = { 2, 2 };
    tb_attr_ints(g, pool, "kernel_shape", k2, 2);
    tb_attr_ints(g, pool, "strides", k2, 2);
    tb_output(g, pool->outputs[0]);
    run_pipeline(g, false);
    check_plan(g);
    cr_assert_eq(in[0]->storage, STORAGE_INPUT);
    cr_assert_eq(in[1]->storage, STORAGE_CONST);
    cr_assert_eq(conv->outputs[0]->storage, STORAGE_WORKSPACE);
    cr_assert_eq(pool->outputs[0]->storage, STORAGE_OUTPUT);
    cr_assert_eq(pool->outputs[1]->storage, STORAGE_WORKSPACE, "unread indices get bytes");
    cr_assert(!overlap(conv->outputs[0]->ws_offset, ir_nbytes(conv->outputs[0]),
                       pool->outputs[1]->ws_offset, ir_nbytes(pool->outputs[1])));
    ir_graph_free(g);
}

Test(plan_basic, deterministic) {
    Graph *g1 = build_diamond(NULL), *g2 = build_diamond(NULL);
    run_pipeline(g1, true);
    run_pipeline(g2, true);
    const MemoryPlan *p1 = check_plan(g1), *p2 = check_plan(g2);
    cr_assert_eq(p1->workspace_bytes, p2->workspace_bytes);
    cr_assert_eq(g1->n_values, g2->n_values);
    size_t *before = calloc((size_t)g1->n_values + 1, sizeof(size_t));
    cr_assert(before);
    for (int i = 0; i < g1->n_values; i++) {
        cr_assert_eq(g1->values[i]->storage, g2->values[i]->storage);
        cr_assert_eq(g1->values[i]->ws_offset, g2->values[i]->ws_offset);
        before[i] = g1->values[i]->ws_offset;
    }
    /* Planning the same graph again gives the same offsets. */
    Diag d;
    diag_init(&d);
    PassOptions opt = { .fuse = true, .verify = true };
    cr_assert(pass_plan_memory(g1, &opt, &d));
    diag_free(&d);
    for (int i = 0; i < g1->n_values; i++) cr_assert_eq(g1->values[i]->ws_offset, before[i]);
    cr_assert_eq(plan_get(g1)->workspace_bytes, p2->workspace_bytes);
    free(before);
    ir_graph_free(g1);
    ir_graph_free(g2);
}

Test(plan_basic, fused_conv_graph) {
    /* Conv + Relu fused, then a residual-free tail: the plan of a fused graph is valid. */
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 8, 8 }, wd[4] = { 8, 3, 3, 3 }, w2d[4] = { 8, 8, 1, 1 };
    int64_t pads[4] = { 1, 1, 1, 1 };
    Value *in[2] = { tb_input(g, "x", 4, xd), tb_const_rand(g, "w", 4, wd, 1, -1, 1) };
    Node *c1 = tb_node(g, "Conv", "c1", 2, in, 1);
    tb_attr_ints(g, c1, "pads", pads, 4);
    Node *r1 = unary(g, "Relu", "r1", c1->outputs[0]);
    Value *in2[2] = { r1->outputs[0], tb_const_rand(g, "w2", 4, w2d, 2, -1, 1) };
    Node *c2 = tb_node(g, "Conv", "c2", 2, in2, 1);
    Node *add = binary(g, "Add", "add", c2->outputs[0], r1->outputs[0]);
    Node *r2 = unary(g, "Relu", "r2", add->outputs[0]);
    tb_output(g, r2->outputs[0]);
    run_pipeline(g, true);
    check_plan(g);
    cr_assert_eq(tb_count_live(g, "Conv"), 2);
    ir_graph_free(g);
}

/* ---- Concat inputs written straight into their slice of the output -------------------
 * Each graph is checked by check_plan (which lets a Concat input share its slice only
 * when nothing reads it after the Concat) and run, against contents computed here. */

enum { CC_MAX = 256 };

/* A value of a concat test graph and its expected contents. */
typedef struct CcVal {
    Value *v;
    float ref[CC_MAX];
} CcVal;

/* Graph input `name` of shape dims, filled as tb_run fills input `index` (seed 7). */
static CcVal cc_input(Graph *g, const char *name, int rank, const int64_t *dims, int index) {
    CcVal r = { .v = tb_input(g, name, rank, dims) };
    tb_fill(r.ref, ir_numel(r.v), 7u + (unsigned)index);
    return r;
}

/* Relu, Sigmoid, Tanh or Neg of x. */
static CcVal cc_unary(Graph *g, const char *op, const char *name, const CcVal *x) {
    CcVal r = { .v = unary(g, op, name, x->v)->outputs[0] };
    ir_value_set_shape(r.v, DT_FLOAT, x->v->rank, x->v->dims);
    for (int64_t i = 0; i < ir_numel(x->v); i++) {
        float v = x->ref[i];
        r.ref[i] = op[0] == 'R' ? onnxcc_relu(v) : op[0] == 'S' ? onnxcc_sigmoid(v)
                   : op[0] == 'T' ? onnxcc_tanh(v) : -v;
    }
    return r;
}

/* Concat of n values along axis 1. */
static CcVal cc_concat(Graph *g, const char *name, int n, const CcVal *const *in) {
    Value *vals[8];
    int64_t dims[IR_MAX_RANK];
    int rank = in[0]->v->rank;
    memcpy(dims, in[0]->v->dims, sizeof dims);
    dims[1] = 0;
    for (int k = 0; k < n; k++) {
        vals[k] = in[k]->v;
        dims[1] += in[k]->v->dims[1];
    }
    Node *c = tb_node(g, "Concat", name, n, vals, 1);
    tb_attr_int(g, c, "axis", 1);
    CcVal r = { .v = c->outputs[0] };
    ir_value_set_shape(r.v, DT_FLOAT, rank, dims);
    int64_t outer = dims[0], inner = ir_numel(r.v) / (dims[0] * dims[1]), at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n; k++) {
            int64_t chunk = in[k]->v->dims[1] * inner;
            memcpy(r.ref + at, in[k]->ref + o * chunk, (size_t)chunk * sizeof(float));
            at += chunk;
        }
    return r;
}

/* Plans g (whose outputs are outs), checks the plan and the numbers. */
static void cc_check(Graph *g, int n_out, const CcVal *const *outs) {
    for (int k = 0; k < n_out; k++) tb_output(g, outs[k]->v);
    run_pipeline(g, false);
    check_plan(g);
    float *got[2] = { NULL, NULL };
    int64_t n_got[2] = { 0, 0 };
    cr_assert(tb_run(g, 7, got, n_got, n_out));
    for (int k = 0; k < n_out; k++) {
        cr_assert_eq(n_got[k], ir_numel(outs[k]->v));
        for (int64_t i = 0; i < n_got[k]; i++)
            cr_assert(fabsf(got[k][i] - outs[k]->ref[i]) <= 1e-6f,
                      "output %d element %lld: %.9g, expected %.9g", k, (long long)i,
                      (double)got[k][i], (double)outs[k]->ref[i]);
        free(got[k]);
    }
}

/* Is v in the workspace at byte `start` of y? */
static bool in_slice(const CcVal *v, const CcVal *y, size_t start) {
    return v->v->storage == STORAGE_WORKSPACE && v->v->ws_offset == y->v->ws_offset + start;
}

/* The C body the Concat's emitter writes. */
static bool concat_copies(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (strcmp(n->op_type, "Concat") != 0) continue;
        Emitter e;
        emit_init(&e);
        Diag d;
        diag_init(&d);
        cr_assert(n->op->emit(&e, n, &d));
        bool copies = e.out.data && strstr(e.out.data, "memcpy");
        emit_free(&e);
        diag_free(&d);
        if (copies) return true;
    }
    return false;
}

Test(plan_concat, inputs_are_written_in_their_slices) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 4, 4 };                   /* 128 bytes: slices stay aligned */
    CcVal x = cc_input(g, "x", 4, xd, 0);
    CcVal a = cc_unary(g, "Relu", "a", &x), b = cc_unary(g, "Sigmoid", "b", &x);
    CcVal y = cc_concat(g, "cat", 2, (const CcVal *[]){ &a, &b });
    CcVal out = cc_unary(g, "Tanh", "out", &y);
    cc_check(g, 1, (const CcVal *[]){ &out });
    cr_assert(in_slice(&a, &y, 0) && in_slice(&b, &y, 128), "a at %zu, b at %zu, y at %zu",
              a.v->ws_offset, b.v->ws_offset, y.v->ws_offset);
    cr_assert(!concat_copies(g), "the Concat copies nothing");
    ir_graph_free(g);
}

Test(plan_concat, input_read_after_the_concat_keeps_its_buffer) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 4, 4 };
    CcVal x = cc_input(g, "x", 4, xd, 0);
    CcVal a = cc_unary(g, "Relu", "a", &x), b = cc_unary(g, "Sigmoid", "b", &x);
    CcVal y = cc_concat(g, "cat", 2, (const CcVal *[]){ &a, &b });
    CcVal out = cc_unary(g, "Tanh", "out", &y), late = cc_unary(g, "Neg", "late", &a);
    cc_check(g, 2, (const CcVal *[]){ &out, &late });
    cr_assert(!in_slice(&a, &y, 0), "a is read after y is written");
    cr_assert(in_slice(&b, &y, 128));
    cr_assert(concat_copies(g));
    ir_graph_free(g);
}

Test(plan_concat, input_listed_twice_takes_one_slice) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 2, 4, 4 };
    CcVal x = cc_input(g, "x", 4, xd, 0);
    CcVal a = cc_unary(g, "Relu", "a", &x), b = cc_unary(g, "Sigmoid", "b", &x);
    CcVal y = cc_concat(g, "cat", 3, (const CcVal *[]){ &a, &a, &b });
    CcVal out = cc_unary(g, "Tanh", "out", &y);
    cc_check(g, 1, (const CcVal *[]){ &out });
    cr_assert(in_slice(&a, &y, 0) && in_slice(&b, &y, 256));
    ir_graph_free(g);
}

Test(plan_concat, graph_inputs_unaligned_and_strided_slices_are_copied) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 3, 1, 1 }, zd[4] = { 2, 2, 2, 4 };
    CcVal x = cc_input(g, "x", 4, xd, 0), z = cc_input(g, "z", 4, zd, 1);
    /* x is a graph input; a starts at byte 12, not a multiple of 64 */
    CcVal a = cc_unary(g, "Relu", "a", &x);
    CcVal y = cc_concat(g, "cat", 2, (const CcVal *[]){ &x, &a });
    CcVal out = cc_unary(g, "Tanh", "out", &y);
    /* batch 2: each input's slice is two pieces, not one */
    CcVal c = cc_unary(g, "Relu", "c", &z), d = cc_unary(g, "Sigmoid", "d", &z);
    CcVal w = cc_concat(g, "cat2", 2, (const CcVal *[]){ &c, &d });
    CcVal out2 = cc_unary(g, "Tanh", "out2", &w);
    cc_check(g, 2, (const CcVal *[]){ &out, &out2 });
    cr_assert(!in_slice(&a, &y, 12));
    cr_assert(!in_slice(&c, &w, 0) && !in_slice(&d, &w, 64));
    ir_graph_free(g);
}

Test(plan_concat, nested_concats_share_one_buffer) {
    Graph *g = tb_graph();
    int64_t xd[4] = { 1, 1, 4, 4 };                   /* 64 bytes */
    CcVal x = cc_input(g, "x", 4, xd, 0);
    CcVal a = cc_unary(g, "Relu", "a", &x), b = cc_unary(g, "Sigmoid", "b", &x);
    CcVal inner = cc_concat(g, "inner", 2, (const CcVal *[]){ &a, &b });
    CcVal c = cc_unary(g, "Tanh", "c", &x);
    CcVal y = cc_concat(g, "outer", 2, (const CcVal *[]){ &c, &inner });
    CcVal out = cc_unary(g, "Neg", "out", &y);
    cc_check(g, 1, (const CcVal *[]){ &out });
    cr_assert(in_slice(&c, &y, 0) && in_slice(&inner, &y, 64) && in_slice(&a, &y, 64) &&
              in_slice(&b, &y, 128));
    cr_assert(!concat_copies(g));
    ir_graph_free(g);
}

/* ---- random DAGs, run for real --------------------------------------------------------
 * Graphs of elementwise ops and Reshapes over 32-element tensors, with many readers per
 * value, so in-place and alias sharing happen in every pattern; the generated code (whose
 * every intermediate lives in the planned workspace) must give the numbers of a direct
 * evaluation here. */

enum { RD_NUMEL = 32, RD_NODES = 24, RD_MAX_VALUES = RD_NODES + 3 };

typedef struct RandDag {
    Value *v[RD_MAX_VALUES];
    float ref[RD_MAX_VALUES][RD_NUMEL];
    int count;
} RandDag;

static unsigned rd_next(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* A value of the same shape as dag->v[a], else a itself. */
static int rd_partner(const RandDag *dag, int a, unsigned *s) {
    int tries = 8;
    while (tries--) {
        int b = (int)(rd_next(s) % (unsigned)dag->count);
        if (ir_same_shape(dag->v[a], dag->v[b])) return b;
    }
    return a;
}

static Graph *build_random_dag(unsigned seed, RandDag *dag, int *second_out) {
    static const int64_t shapes[4][2] = { { 4, 8 }, { 8, 4 }, { 2, 16 }, { 32, 1 } };
    Graph *g = tb_graph();
    unsigned s = seed;
    dag->v[0] = tb_input(g, "x0", 2, shapes[0]);
    dag->v[1] = tb_input(g, "x1", 2, shapes[0]);
    tb_fill(dag->ref[0], RD_NUMEL, seed);
    tb_fill(dag->ref[1], RD_NUMEL, seed + 1);
    dag->count = 2;
    for (int i = 0; i < RD_NODES; i++) {
        /* Prefer recent values, so chains form as well as fan-out. */
        int a = dag->count - 1 - (int)(rd_next(&s) % (unsigned)(dag->count < 4 ? dag->count : 4));
        if (rd_next(&s) % 3 == 0) a = (int)(rd_next(&s) % (unsigned)dag->count);
        int kind = (int)(rd_next(&s) % 6), k = dag->count;
        char name[32];
        snprintf(name, sizeof name, "n%d", i);
        const float *x = dag->ref[a];
        float *y = dag->ref[k];
        Node *n;
        if (kind < 3) {
            static const char *ops[3] = { "Relu", "Sigmoid", "Tanh" };
            n = unary(g, ops[kind], name, dag->v[a]);
            for (int e = 0; e < RD_NUMEL; e++)
                y[e] = kind == 0 ? onnxcc_relu(x[e])
                                 : kind == 1 ? onnxcc_sigmoid(x[e]) : onnxcc_tanh(x[e]);
        } else if (kind < 5) {
            int b = rd_partner(dag, a, &s);
            n = binary(g, kind == 3 ? "Add" : "Mul", name, dag->v[a], dag->v[b]);
            for (int e = 0; e < RD_NUMEL; e++)
                y[e] = kind == 3 ? x[e] + dag->ref[b][e] : x[e] * dag->ref[b][e];
        } else {
            int sh = (int)(rd_next(&s) % 4);
            if (dag->v[a]->dims[0] == shapes[sh][0]) sh = (sh + 1) % 4;
            int64_t two = 2;
            char cname[32];
            snprintf(cname, sizeof cname, "shape%d", i);
            n = binary(g, "Reshape", name, dag->v[a], tb_const_i64(g, cname, 1, &two, shapes[sh]));
            memcpy(y, x, sizeof dag->ref[k]);
        }
        dag->v[k] = n->outputs[0];
        /* Shapes are needed by rd_partner before inference runs. */
        if (kind == 5) {
            const Value *shape = n->inputs[1];
            ir_value_set_shape(dag->v[k], DT_FLOAT, 2, shape->data);
        } else {
            ir_value_set_shape(dag->v[k], DT_FLOAT, 2, dag->v[a]->dims);
        }
        dag->count++;
    }
    /* The end reads x0 and x1, so that every graph input is used whatever the draw. */
    int64_t two = 2;
    int last = dag->count - 1, k = dag->count;
    Node *r = binary(g, "Reshape", "final_shape", dag->v[last],
                     tb_const_i64(g, "shape_final", 1, &two, shapes[0]));
    Node *f1 = binary(g, "Add", "final1", r->outputs[0], dag->v[1]);
    Node *f = binary(g, "Add", "final", f1->outputs[0], dag->v[0]);
    for (int e = 0; e < RD_NUMEL; e++)
        dag->ref[k][e] = (dag->ref[last][e] + dag->ref[1][e]) + dag->ref[0][e];
    dag->v[k] = f->outputs[0];
    dag->count++;
    tb_output(g, dag->v[k]);
    *second_out = 2 + (int)(rd_next(&s) % (unsigned)(dag->count - 4));
    tb_output(g, dag->v[*second_out]);
    return g;
}

Test(plan_random, dags_run_correctly, .timeout = 120) {
    for (unsigned seed = 1; seed <= 10; seed++) {
        RandDag dag;
        int second;
        Graph *g = build_random_dag(seed, &dag, &second);
        run_pipeline(g, seed % 2 == 0);
        check_plan(g);
        float *out[2] = { NULL, NULL };
        int64_t n_out[2] = { 0, 0 };
        cr_assert(tb_run(g, seed, out, n_out, 2), "seed %u", seed);
        const float *want[2] = { dag.ref[dag.count - 1], dag.ref[second] };
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(n_out[k], RD_NUMEL);
            for (int e = 0; e < RD_NUMEL; e++)
                cr_assert(fabsf(out[k][e] - want[k][e]) <= 1e-5f * (1.0f + fabsf(want[k][e])),
                          "seed %u output %d element %d: %.9g, expected %.9g", seed, k, e,
                          (double)out[k][e], (double)want[k][e]);
            free(out[k]);
        }
        ir_graph_free(g);
    }
}

Test(plan_basic, unknown_shape_is_an_error) {
    /* Run the planner alone, before inference: the Relu's output has no shape yet. */
    Graph *g = tb_graph();
    int64_t xd[2] = { 2, 3 };
    Node *r = unary(g, "Relu", "r", tb_input(g, "x", 2, xd));
    Node *s = unary(g, "Sigmoid", "s", r->outputs[0]);
    tb_output(g, s->outputs[0]);
    Diag d;
    diag_init(&d);
    PassOptions opt = { .fuse = true };
    cr_assert(!pass_plan_memory(g, &opt, &d));
    cr_assert_eq(d.n_errors, 1);
    cr_assert(strstr(d.messages[0], "cannot plan memory for 'r_out0': unknown shape or type"),
              "message: %s", d.messages[0]);
    diag_free(&d);
    ir_graph_free(g);
}
