/* test_ops_control.c: If, Loop and Scan: the frontend's conversion of graph attributes
 * (captures of outer values, the nesting limit) and their expansion during inference.
 *
 * Models are built as protobuf-c structs (as in test_frontend.c), loaded with
 * onnx_load_bytes and run through the real pipeline.  With constant inputs the expanded
 * bodies fold: the outputs are checked against values derived by hand.  With graph
 * inputs the expansion is compiled and run (tb_run) and compared with the folded result
 * of the same model whose inputs are initializers holding the same data.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

#include "frontend/frontend.h"
#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"

/* --- the protobuf structs of one test live in tb_alloc's pool (freed by the suite's fini) -- */

enum { ARR_CAP = 32, RUN_SEED = 11 };

static void *pa(size_t bytes) { return tb_alloc(bytes); }
static char *ps(const char *s) { return tb_strdup(s); }

/* --- model builders ----------------------------------------------------------------------- */

static Onnx__GraphProto *mk_graph(const char *name) {
    Onnx__GraphProto *g = pa(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = ps(name);
    g->node = pa(ARR_CAP * sizeof(void *));
    g->initializer = pa(ARR_CAP * sizeof(void *));
    g->input = pa(ARR_CAP * sizeof(void *));
    g->output = pa(ARR_CAP * sizeof(void *));
    return g;
}

/* ir_version 8, the default domain at `opset`, an empty main graph. */
static Onnx__ModelProto *mk_model(int opset) {
    Onnx__ModelProto *m = pa(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->opset_import = pa(sizeof(void *));
    Onnx__OperatorSetIdProto *o = pa(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = ps("");
    o->has_version = 1;
    o->version = opset;
    m->opset_import[m->n_opset_import++] = o;
    m->graph = mk_graph("main");
    return m;
}

/* A value info; elem 0 leaves the type out (as Loop bodies often do). */
static Onnx__ValueInfoProto *mk_vi(const char *name, int elem, int rank, const int64_t *dims) {
    Onnx__ValueInfoProto *vi = pa(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = ps(name);
    if (!elem) return vi;
    Onnx__TypeProto *tp = pa(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = pa(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sp = pa(sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->dim = pa((size_t)(rank + 1) * sizeof(void *));
        for (int k = 0; k < rank; k++) {
            Onnx__TensorShapeProto__Dimension *dm = pa(sizeof *dm);
            onnx__tensor_shape_proto__dimension__init(dm);
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = dims[k];
            sp->dim[sp->n_dim++] = dm;
        }
        tt->shape = sp;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

static void g_input(Onnx__GraphProto *g, const char *name, int elem, int rank,
                    const int64_t *dims) {
    g->input[g->n_input++] = mk_vi(name, elem, rank, dims);
}

static void g_output(Onnx__GraphProto *g, const char *name) {
    g->output[g->n_output++] = mk_vi(name, 0, -1, NULL);
}

/* A node; "" in ins/outs is an omitted optional entry. */
static Onnx__NodeProto *g_node(Onnx__GraphProto *g, const char *op, int n_in,
                               const char *const *ins, int n_out, const char *const *outs) {
    Onnx__NodeProto *n = pa(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ps(op);
    n->name = ps(op);
    n->input = pa((size_t)(n_in + 1) * sizeof(char *));
    n->output = pa((size_t)(n_out + 1) * sizeof(char *));
    for (int k = 0; k < n_in; k++) n->input[n->n_input++] = ps(ins[k]);
    for (int k = 0; k < n_out; k++) n->output[n->n_output++] = ps(outs[k]);
    n->attribute = pa(ARR_CAP * sizeof(void *));
    g->node[g->n_node++] = n;
    return n;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = pa(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ps(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_graph(Onnx__NodeProto *n, const char *name, Onnx__GraphProto *body) {
    add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = body;
}

static void attr_int(Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_ints(Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = pa((size_t)count * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)count * sizeof *a->ints);
    a->n_ints = (size_t)count;
}

/* An initializer (raw data) of elem type `elem` (float, int64 or bool). */
static void g_init(Onnx__GraphProto *g, const char *name, int elem, int rank,
                   const int64_t *dims, const void *data, size_t bytes) {
    Onnx__TensorProto *t = pa(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = ps(name);
    t->has_data_type = 1;
    t->data_type = elem;
    t->dims = pa((size_t)(rank + 1) * sizeof(int64_t));
    for (int k = 0; k < rank; k++) t->dims[t->n_dims++] = dims[k];
    t->has_raw_data = 1;
    t->raw_data.data = pa(bytes);
    memcpy(t->raw_data.data, data, bytes);
    t->raw_data.len = bytes;
    g->initializer[g->n_initializer++] = t;
}

/* A float main-graph tensor: a graph input, or (konst) an initializer holding what
 * tb_run would feed that input (tb_fill with seed RUN_SEED + index). */
static void float_in(Onnx__ModelProto *m, bool konst, const char *name, int index, int rank,
                     const int64_t *dims) {
    int64_t count = 1;
    for (int k = 0; k < rank; k++) count *= dims[k];
    if (!konst) {
        g_input(m->graph, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, dims);
        return;
    }
    float *x = pa((size_t)count * sizeof *x);
    tb_fill(x, count, RUN_SEED + (unsigned)index);
    g_init(m->graph, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, dims, x,
           (size_t)count * sizeof *x);
}

static void init_floats(Onnx__GraphProto *g, const char *name, int rank, const int64_t *dims,
                        const float *v, size_t count) {
    g_init(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, dims, v, count * sizeof *v);
}

static void init_i64(Onnx__GraphProto *g, const char *name, int64_t v) {
    g_init(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL, &v, sizeof v);
}

static void init_bool(Onnx__GraphProto *g, const char *name, bool v) {
    g_init(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL, &v, sizeof v);
}

/* --- loading and running ------------------------------------------------------------------ */

static Graph *load(const Onnx__ModelProto *m, Diag *d) {
    size_t len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = pa(len);
    onnx__model_proto__pack(m, buf);
    diag_init(d);
    return onnx_load_bytes(buf, len, NULL, NULL, d);
}

static Graph *load_ok(const Onnx__ModelProto *m) {
    Diag d;
    Graph *g = load(m, &d);
    cr_assert_not_null(g, "load failed: %s", d.n_messages ? d.messages[0] : "(no message)");
    diag_free(&d);
    return g;
}

/* Loads and compiles m; the pipeline must pass. */
static Graph *compile_ok(const Onnx__ModelProto *m) {
    Graph *g = load_ok(m);
    tb_pipeline_ok(g);
    return g;
}

/* Loads m (which must load) and expects the pipeline to fail with a message holding
 * word; returns the graph for further checks (caller frees). */
static Graph *compile_err(const Onnx__ModelProto *m, const char *word) {
    Graph *g = load_ok(m);
    Diag d;
    cr_assert_not(tb_pipeline(g, false, &d), "pipeline passed, expected '%s'", word);
    cr_assert(tb_diag_has(&d, word), "no message holds '%s'; first: %s", word,
              d.n_messages ? d.messages[0] : "(none)");
    diag_free(&d);
    return g;
}

/* Output k is a folded constant with these dims and (exact) float values. */
static void expect_const(const Graph *g, int k, int rank, const int64_t *dims,
                         const float *vals) {
    const Value *v = g->outputs[k];
    cr_assert_not_null(v->data, "output '%s' did not fold", v->name);
    cr_assert_eq(v->rank, rank, "rank %d, expected %d", v->rank, rank);
    for (int i = 0; i < rank; i++) cr_assert_eq(v->dims[i], dims[i], "dim %d", i);
    for (int64_t i = 0; i < ir_numel(v); i++)
        cr_assert_eq(ir_const_get_f64(v, i), vals[i], "element %lld is %g, expected %g",
                     (long long)i, ir_const_get_f64(v, i), (double)vals[i]);
}

/* The model built from graph inputs, compiled and run, against the same model built on
 * initializers and folded: every output the same to 1e-6 relative. */
static void run_vs_fold(Onnx__ModelProto *(*build)(bool konst), int n_out) {
    Graph *gr = compile_ok(build(false));
    float *out[4] = { 0 };
    int64_t out_n[4] = { 0 };
    cr_assert(tb_run(gr, RUN_SEED, out, out_n, n_out));
    Graph *gf = compile_ok(build(true));
    for (int k = 0; k < n_out; k++) {
        tb_expect_run_output("the model", k, out[k], out_n[k], gf->outputs[k], TB_REL(1e-6),
                             false);
        free(out[k]);
    }
    ir_graph_free(gr);
    ir_graph_free(gf);
}

/* --- bodies ------------------------------------------------------------------------------- */

/* Scan body: (sum_in, x_t) -> (sum_in + x_t, sum_in + x_t), all float[2]. */
static Onnx__GraphProto *sum_body(void) {
    Onnx__GraphProto *b = mk_graph("sum_body");
    g_input(b, "sum_in", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, (int64_t[]){ 2 });
    g_input(b, "x_t", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, (int64_t[]){ 2 });
    g_node(b, "Add", 2, (const char *[]){ "sum_in", "x_t" }, 1, (const char *[]){ "sum_out" });
    g_node(b, "Identity", 1, (const char *[]){ "sum_out" }, 1, (const char *[]){ "scan_out" });
    g_output(b, "sum_out");
    g_output(b, "scan_out");
    return b;
}

/* Scan-9 cumulative sum of x[3][2] (rows 1..6) from zeros, with the given attributes. */
static Onnx__ModelProto *scan9_model(int64_t in_dir, int64_t out_axis, int64_t out_dir) {
    Onnx__ModelProto *m = mk_model(11);
    init_floats(m->graph, "init", 1, (int64_t[]){ 2 }, (float[]){ 0, 0 }, 2);
    init_floats(m->graph, "x", 2, (int64_t[]){ 3, 2 }, (float[]){ 1, 2, 3, 4, 5, 6 }, 6);
    Onnx__NodeProto *n = g_node(m->graph, "Scan", 2, (const char *[]){ "init", "x" }, 2,
                                (const char *[]){ "y", "z" });
    attr_graph(n, "body", sum_body());
    attr_int(n, "num_scan_inputs", 1);
    attr_ints(n, "scan_input_directions", 1, &in_dir);
    attr_ints(n, "scan_output_axes", 1, &out_axis);
    attr_ints(n, "scan_output_directions", 1, &out_dir);
    g_output(m->graph, "y");
    g_output(m->graph, "z");
    return m;
}

TestSuite(control, .fini = tb_free_all);

/* --- frontend ----------------------------------------------------------------------------- */

Test(control, body_reads_outer_value_as_capture) {
    Onnx__ModelProto *m = mk_model(11);
    g_input(m->graph, "c", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL);
    g_input(m->graph, "a", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, (int64_t[]){ 2 });
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    g_node(t, "Neg", 1, (const char *[]){ "a" }, 1, (const char *[]){ "t_out" });
    g_output(t, "t_out");
    g_output(e, "a");       /* a result that is an outer value itself */
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_output(m->graph, "y");
    Graph *g = load_ok(m);
    const Node *nd = g->nodes[0];
    cr_assert_eq(nd->n_inputs, 3, "cond + one capture per branch, got %d", nd->n_inputs);
    cr_assert_str_eq(nd->inputs[1]->name, "a");
    cr_assert_eq(nd->inputs[2], nd->inputs[1]);
    const Subgraph *sb = ir_attr(nd, "then_branch")->graph;
    cr_assert_not_null(sb);
    cr_assert_eq(sb->depth, 1);
    cr_assert_eq(sb->capture_base, 1);
    cr_assert_eq(sb->n_captures, 1);
    cr_assert_eq(sb->nodes[0]->inputs[0], sb->captures[0], "the body reads its placeholder");
    const Subgraph *se = ir_attr(nd, "else_branch")->graph;
    cr_assert_eq(se->capture_base, 2);
    cr_assert_eq(se->outputs[0], se->captures[0]);
    cr_assert_eq(g->n_values, 3, "body values stay out of graph->values");
    ir_graph_free(g);
}

Test(control, nesting_deeper_than_the_limit_is_rejected) {
    /* If inside the then_branch of an If ..., IR_MAX_SUBGRAPH_DEPTH + 1 levels of bodies */
    Onnx__ModelProto *m = mk_model(11);
    g_input(m->graph, "c", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL);
    Onnx__GraphProto *outer = m->graph;
    for (int depth = 0; depth <= IR_MAX_SUBGRAPH_DEPTH; depth++) {
        const char *out = depth ? "inner" : "y";
        Onnx__NodeProto *n = g_node(outer, "If", 1, (const char *[]){ "c" }, 1,
                                    (const char *[]){ out });
        g_output(outer, out);
        Onnx__GraphProto *t = mk_graph("t"), *e = mk_graph("e");
        g_output(e, "c");
        attr_graph(n, "then_branch", t);
        attr_graph(n, "else_branch", e);
        outer = t;
    }
    g_output(outer, "c");
    Diag d;
    cr_assert_null(load(m, &d));
    cr_assert(tb_diag_has(&d, "nested more than 16 deep"), "first: %s",
              d.n_messages ? d.messages[0] : "");
    diag_free(&d);
}

Test(control, undefined_body_output_is_rejected) {
    Onnx__ModelProto *m = mk_model(11);
    g_input(m->graph, "c", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL);
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    g_output(t, "nowhere");
    g_output(e, "c");
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_output(m->graph, "y");
    Diag d;
    cr_assert_null(load(m, &d));
    cr_assert(tb_diag_has(&d, "'nowhere' of subgraph 'then' is not defined"), "first: %s",
              d.n_messages ? d.messages[0] : "");
    diag_free(&d);
}

Test(control, capture_of_a_value_computed_later_in_the_model) {
    /* the If comes first in the file; toposort must see that its branch reads b */
    Onnx__ModelProto *m = mk_model(13);
    init_bool(m->graph, "c", true);
    init_floats(m->graph, "a", 1, (int64_t[]){ 2 }, (float[]){ 1, -2 }, 2);
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    g_node(t, "Neg", 1, (const char *[]){ "b" }, 1, (const char *[]){ "t_out" });
    g_output(t, "t_out");
    g_output(e, "a");
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_node(m->graph, "Abs", 1, (const char *[]){ "a" }, 1, (const char *[]){ "b" });
    g_output(m->graph, "y");
    Graph *g = compile_ok(m);
    expect_const(g, 0, 1, (int64_t[]){ 2 }, (float[]){ -1, -2 });
    ir_graph_free(g);
}

Test(control, unsorted_body_is_rejected) {
    Onnx__ModelProto *m = mk_model(13);
    init_bool(m->graph, "c", true);
    init_floats(m->graph, "a", 1, (int64_t[]){ 2 }, (float[]){ 1, -2 }, 2);
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    g_node(t, "Neg", 1, (const char *[]){ "u" }, 1, (const char *[]){ "t_out" });
    g_node(t, "Abs", 1, (const char *[]){ "a" }, 1, (const char *[]){ "u" });
    g_output(t, "t_out");
    g_output(e, "a");
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_output(m->graph, "y");
    ir_graph_free(compile_err(m, "subgraph 'then' is not topologically sorted"));
}

/* --- Scan --------------------------------------------------------------------------------- */

Test(control, scan9_cumulative_sum_folds) {
    Graph *g = compile_ok(scan9_model(0, 0, 0));
    expect_const(g, 0, 1, (int64_t[]){ 2 }, (float[]){ 9, 12 });
    expect_const(g, 1, 2, (int64_t[]){ 3, 2 }, (float[]){ 1, 2, 4, 6, 9, 12 });
    cr_assert_eq(g->n_nodes, 0, "everything folded");
    ir_graph_free(g);
}

Test(control, scan9_reverse_input_and_output_axis_1) {
    /* rows taken 5 6, 3 4, 1 2: running sums 5 6, 8 10, 9 12, stacked on axis 1 */
    Graph *g = compile_ok(scan9_model(1, 1, 0));
    expect_const(g, 0, 1, (int64_t[]){ 2 }, (float[]){ 9, 12 });
    expect_const(g, 1, 2, (int64_t[]){ 2, 3 }, (float[]){ 5, 8, 9, 6, 10, 12 });
    ir_graph_free(g);
}

Test(control, scan9_reverse_output) {
    Graph *g = compile_ok(scan9_model(0, -1, 1));
    expect_const(g, 1, 2, (int64_t[]){ 2, 3 }, (float[]){ 9, 4, 1, 12, 6, 2 });
    ir_graph_free(g);
}

Test(control, scan8_batch_axis) {
    Onnx__ModelProto *m = mk_model(8);
    init_floats(m->graph, "init", 2, (int64_t[]){ 2, 2 }, (float[]){ 0, 0, 10, 10 }, 4);
    init_floats(m->graph, "x", 3, (int64_t[]){ 2, 2, 2 }, (float[]){ 1, 2, 3, 4, 5, 6, 7, 8 },
                8);
    Onnx__NodeProto *n = g_node(m->graph, "Scan", 3, (const char *[]){ "", "init", "x" }, 2,
                                (const char *[]){ "y", "z" });
    attr_graph(n, "body", sum_body());
    attr_int(n, "num_scan_inputs", 1);
    g_output(m->graph, "y");
    g_output(m->graph, "z");
    Graph *g = compile_ok(m);
    expect_const(g, 0, 2, (int64_t[]){ 2, 2 }, (float[]){ 4, 6, 22, 24 });
    expect_const(g, 1, 3, (int64_t[]){ 2, 2, 2 }, (float[]){ 1, 2, 4, 6, 15, 16, 22, 24 });
    ir_graph_free(g);
}

Test(control, scan_bad_num_scan_inputs) {
    Onnx__ModelProto *m = scan9_model(0, 0, 0);
    m->graph->node[0]->attribute[1]->i = 3;
    ir_graph_free(compile_err(m, "num_scan_inputs must be an integer in [1, 2]"));
}

Test(control, scan_bad_direction) {
    ir_graph_free(compile_err(scan9_model(2, 0, 0), "'scan_input_directions' value 2 is not 0"));
}

Test(control, scan_bad_output_axis) {
    ir_graph_free(compile_err(scan9_model(0, 2, 0), "scan_output_axes value 2 is out of range"));
}

Test(control, scan_body_arity_mismatch) {
    Onnx__ModelProto *m = scan9_model(0, 0, 0);
    m->graph->node[0]->attribute[0]->g->n_output = 1;
    ir_graph_free(compile_err(m, "the body has 2 inputs and 1 outputs"));
}

/* Scan over a graph input, with an outer value (w) read by the body. */
static Onnx__ModelProto *scan_run_model(bool konst) {
    Onnx__ModelProto *m = mk_model(11);
    float_in(m, konst, "x", 0, 3, (int64_t[]){ 2, 4, 3 });
    float_in(m, konst, "s0", 1, 1, (int64_t[]){ 3 });
    init_floats(m->graph, "w", 1, (int64_t[]){ 3 }, (float[]){ 0.5f, -1, 2 }, 3);
    Onnx__GraphProto *b = mk_graph("body");
    g_input(b, "s_in", 0, -1, NULL);
    g_input(b, "x_t", 0, -1, NULL);
    g_node(b, "Mul", 2, (const char *[]){ "s_in", "w" }, 1, (const char *[]){ "sw" });
    g_node(b, "Add", 2, (const char *[]){ "sw", "x_t" }, 1, (const char *[]){ "s_out" });
    g_node(b, "Tanh", 1, (const char *[]){ "s_out" }, 1, (const char *[]){ "o" });
    g_output(b, "s_out");
    g_output(b, "o");
    Onnx__NodeProto *n = g_node(m->graph, "Scan", 2, (const char *[]){ "s0", "x" }, 2,
                                (const char *[]){ "y", "z" });
    attr_graph(n, "body", b);
    attr_int(n, "num_scan_inputs", 1);
    attr_ints(n, "scan_input_axes", 1, (int64_t[]){ 1 });
    attr_ints(n, "scan_output_axes", 1, (int64_t[]){ 0 });
    g_output(m->graph, "y");
    g_output(m->graph, "z");
    return m;
}

Test(control, scan_run_matches_fold) { run_vs_fold(scan_run_model, 2); }

/* --- If ----------------------------------------------------------------------------------- */

/* If(cond) then a * 2 else a + 1 (or, with other_shape, else a[0:1]). */
static Onnx__ModelProto *if_model(bool konst, bool cond_const, bool cond_value,
                                  bool other_shape) {
    Onnx__ModelProto *m = mk_model(13);
    float_in(m, konst, "a", 0, 1, (int64_t[]){ 4 });
    if (cond_const) {
        init_bool(m->graph, "c", cond_value);
    } else {
        float_in(m, konst, "p", 1, 0, NULL);
        init_floats(m->graph, "zero", 0, NULL, (float[]){ 0 }, 1);
        g_node(m->graph, "Less", 2, (const char *[]){ "p", "zero" }, 1, (const char *[]){ "c" });
    }
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    init_floats(t, "two", 0, NULL, (float[]){ 2 }, 1);
    g_node(t, "Mul", 2, (const char *[]){ "a", "two" }, 1, (const char *[]){ "t_out" });
    g_output(t, "t_out");
    if (other_shape) {
        g_init(e, "st", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, (int64_t[]){ 1 },
               (int64_t[]){ 0 }, sizeof(int64_t));
        g_init(e, "en", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, (int64_t[]){ 1 },
               (int64_t[]){ 1 }, sizeof(int64_t));
        g_node(e, "Slice", 3, (const char *[]){ "a", "st", "en" }, 1,
               (const char *[]){ "e_out" });
    } else {
        init_floats(e, "one", 0, NULL, (float[]){ 1 }, 1);
        g_node(e, "Add", 2, (const char *[]){ "a", "one" }, 1, (const char *[]){ "e_out" });
    }
    g_output(e, "e_out");
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_output(m->graph, "y");
    return m;
}

Test(control, if_constant_condition_takes_one_branch) {
    Onnx__ModelProto *m = if_model(false, true, false, true);
    Graph *g = compile_ok(m);
    cr_assert_eq(g->outputs[0]->rank, 1);
    cr_assert_eq(g->outputs[0]->dims[0], 1, "the else branch's shape");
    cr_assert_eq(tb_count_live(g, "Mul"), 0, "the then branch is not computed");
    ir_graph_free(g);
    g = compile_ok(if_model(true, true, true, false));
    float a[4];
    tb_fill(a, 4, RUN_SEED);
    expect_const(g, 0, 1, (int64_t[]){ 4 },
                 (float[]){ a[0] * 2, a[1] * 2, a[2] * 2, a[3] * 2 });
    ir_graph_free(g);
}

static Onnx__ModelProto *if_select_model(bool konst) {
    return if_model(konst, false, false, false);
}

Test(control, if_runtime_condition_selects) {
    Graph *g = compile_ok(if_select_model(false));
    cr_assert_eq(tb_count_live(g, "Where"), 1);
    ir_graph_free(g);
    run_vs_fold(if_select_model, 1);
}

Test(control, if_runtime_condition_with_different_shapes_is_rejected) {
    Graph *g = compile_err(if_model(false, false, false, true),
                           "needs its condition at compile time");
    cr_assert(ir_value_find(g, "p")->needs_const, "the input the condition comes from");
    ir_graph_free(g);
}

/* If on a [1] condition with scalar branches: the result stays a scalar. */
static Onnx__ModelProto *if_scalar_model(bool konst) {
    Onnx__ModelProto *m = mk_model(13);
    float_in(m, konst, "a", 0, 0, NULL);
    float_in(m, konst, "p", 1, 1, (int64_t[]){ 1 });
    init_floats(m->graph, "zero", 1, (int64_t[]){ 1 }, (float[]){ 0 }, 1);
    g_node(m->graph, "Less", 2, (const char *[]){ "p", "zero" }, 1, (const char *[]){ "c" });
    Onnx__GraphProto *t = mk_graph("then"), *e = mk_graph("else");
    g_node(t, "Neg", 1, (const char *[]){ "a" }, 1, (const char *[]){ "t_out" });
    g_output(t, "t_out");
    g_node(e, "Exp", 1, (const char *[]){ "a" }, 1, (const char *[]){ "e_out" });
    g_output(e, "e_out");
    Onnx__NodeProto *n = g_node(m->graph, "If", 1, (const char *[]){ "c" }, 1,
                                (const char *[]){ "y" });
    attr_graph(n, "then_branch", t);
    attr_graph(n, "else_branch", e);
    g_output(m->graph, "y");
    return m;
}

Test(control, if_one_element_condition_keeps_scalar_outputs) {
    Graph *g = compile_ok(if_scalar_model(false));
    cr_assert_eq(g->outputs[0]->rank, 0);
    ir_graph_free(g);
    run_vs_fold(if_scalar_model, 1);
}

/* --- Loop --------------------------------------------------------------------------------- */

/* Loop(trip, cond, y0 = 0): y += float(i); cond_out = i < stop; scan output y. */
static Onnx__ModelProto *loop_model(bool trip_input, int64_t trip, int64_t stop) {
    Onnx__ModelProto *m = mk_model(13);
    if (trip_input)
        g_input(m->graph, "M", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL);
    else
        init_i64(m->graph, "M", trip);
    init_bool(m->graph, "c", true);
    init_floats(m->graph, "y0", 1, (int64_t[]){ 1 }, (float[]){ 0 }, 1);
    init_i64(m->graph, "stop", stop);
    Onnx__GraphProto *b = mk_graph("body");
    g_input(b, "i", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL);
    g_input(b, "c_in", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL);
    g_input(b, "y_in", 0, -1, NULL);
    Onnx__NodeProto *cast = g_node(b, "Cast", 1, (const char *[]){ "i" }, 1,
                                   (const char *[]){ "fi" });
    attr_int(cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    g_node(b, "Add", 2, (const char *[]){ "y_in", "fi" }, 1, (const char *[]){ "y_out" });
    g_node(b, "Less", 2, (const char *[]){ "i", "stop" }, 1, (const char *[]){ "c_out" });
    g_node(b, "Identity", 1, (const char *[]){ "y_out" }, 1, (const char *[]){ "scan" });
    g_output(b, "c_out");
    g_output(b, "y_out");
    g_output(b, "scan");
    Onnx__NodeProto *n = g_node(m->graph, "Loop", 3, (const char *[]){ "M", "c", "y0" }, 2,
                                (const char *[]){ "y", "ys" });
    attr_graph(n, "body", b);
    g_output(m->graph, "y");
    g_output(m->graph, "ys");
    return m;
}

Test(control, loop_constant_trip_count_folds) {
    Graph *g = compile_ok(loop_model(false, 4, 100));
    expect_const(g, 0, 1, (int64_t[]){ 1 }, (float[]){ 6 });
    expect_const(g, 1, 2, (int64_t[]){ 4, 1 }, (float[]){ 0, 1, 3, 6 });
    ir_graph_free(g);
}

Test(control, loop_condition_stops_early) {
    /* cond_out = i < 2 is false after iteration 2: three iterations */
    Graph *g = compile_ok(loop_model(false, 10, 2));
    expect_const(g, 0, 1, (int64_t[]){ 1 }, (float[]){ 3 });
    expect_const(g, 1, 2, (int64_t[]){ 3, 1 }, (float[]){ 0, 1, 3 });
    ir_graph_free(g);
}

Test(control, loop_runtime_trip_count_is_rejected) {
    Graph *g = compile_err(loop_model(true, 0, 100), "trip count 'M' of a Loop must be known");
    cr_assert(ir_value_find(g, "M")->needs_const, "`onnxcc test` may freeze M");
    ir_graph_free(g);
}

Test(control, loop_unroll_limit) {
    ir_graph_free(compile_err(loop_model(false, 2 * OP_EXPAND_MAX_NODES, INT32_MAX),
                              "exceeds its limit of 100000 nodes"));
}

Test(control, loop_without_iterations_and_scan_outputs_is_rejected) {
    ir_graph_free(compile_err(loop_model(false, 0, 100), "runs no iteration"));
}
