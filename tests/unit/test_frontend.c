/* test_frontend.c: the ONNX frontend (onnx_read.c, onnx_to_ir.c, tensor_data.c, functions.c)
 * and the TensorProto .pb files (tensor_pb.c).
 *
 * Models are built as protobuf-c structs here, packed with onnx__model_proto__pack and
 * loaded with onnx_load_bytes, so each test states exactly which bytes the loader sees.
 * Every error path asserts an error was recorded and that its message says what is wrong.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "frontend/frontend.h"
#include "helpers.h"
#include "ir/graph.h"

/* --- the protobuf structs of one test live in tb_alloc's pool (freed by the suite's fini) - */

enum { ARR_CAP = 32 };

static void *pa(size_t bytes) { return tb_alloc(bytes); }
static char *ps(const char *s) { return tb_strdup(s); }

/* --- model builders ---------------------------------------------------------------------- */

static Onnx__OperatorSetIdProto *mk_opset(const char *domain, int64_t version) {
    Onnx__OperatorSetIdProto *o = pa(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = ps(domain);
    o->has_version = 1;
    o->version = version;
    return o;
}

/* ir_version 8, opset 17 for the default domain, an empty graph named "g". */
static Onnx__ModelProto *mk_model(void) {
    Onnx__ModelProto *m = pa(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = ps("pytorch");
    m->producer_version = ps("2.1");
    m->opset_import = pa(ARR_CAP * sizeof(void *));
    m->opset_import[m->n_opset_import++] = mk_opset("", 17);
    Onnx__GraphProto *g = pa(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = ps("g");
    g->node = pa(ARR_CAP * sizeof(void *));
    g->initializer = pa(ARR_CAP * sizeof(void *));
    g->input = pa(ARR_CAP * sizeof(void *));
    g->output = pa(ARR_CAP * sizeof(void *));
    m->graph = g;
    return m;
}

/* dims < 0 become the symbolic dim "N"; rank < 0 leaves the shape out. */
static Onnx__ValueInfoProto *mk_vi(const char *name, int elem, int rank, const int64_t *dims) {
    Onnx__ValueInfoProto *vi = pa(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = ps(name);
    Onnx__TypeProto *tp = pa(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = pa(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sp = pa(sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)rank;
        sp->dim = pa((size_t)(rank + 1) * sizeof(void *));
        for (int k = 0; k < rank; k++) {
            Onnx__TensorShapeProto__Dimension *dm = pa(sizeof *dm);
            onnx__tensor_shape_proto__dimension__init(dm);
            if (dims[k] >= 0 || dims[k] == -2) {
                if (dims[k] >= 0) {
                    dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                    dm->dim_value = dims[k];
                }
                /* -2: a dim with neither value nor param */
            } else if (dims[k] == -1) {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dm->dim_param = ps("N");
            } else {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dm->dim_value = dims[k];
            }
            sp->dim[k] = dm;
        }
        tt->shape = sp;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

static void add_input(Onnx__ModelProto *m, const char *name, int elem, int rank,
                      const int64_t *dims) {
    m->graph->input[m->graph->n_input++] = mk_vi(name, elem, rank, dims);
}

static void add_output(Onnx__ModelProto *m, const char *name, int elem) {
    m->graph->output[m->graph->n_output++] = mk_vi(name, elem, -1, NULL);
}

/* A node; "" in ins/outs is an omitted optional entry. */
static Onnx__NodeProto *add_node(Onnx__ModelProto *m, const char *op, const char *name,
                                 int n_in, const char *const *ins, int n_out,
                                 const char *const *outs) {
    Onnx__NodeProto *n = pa(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ps(op);
    n->name = ps(name);
    n->input = pa((size_t)(n_in + 1) * sizeof(char *));
    n->output = pa((size_t)(n_out + 1) * sizeof(char *));
    for (int k = 0; k < n_in; k++) n->input[n->n_input++] = ps(ins[k]);
    for (int k = 0; k < n_out; k++) n->output[n->n_output++] = ps(outs[k]);
    n->attribute = pa(ARR_CAP * sizeof(void *));
    m->graph->node[m->graph->n_node++] = n;
    return n;
}

static Onnx__TensorProto *mk_tensor(const char *name, int dtype, int rank, const int64_t *dims) {
    Onnx__TensorProto *t = pa(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = ps(name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = pa((size_t)(rank + 1) * sizeof(int64_t));
    for (int k = 0; k < rank; k++) t->dims[k] = dims[k];
    return t;
}

static void set_raw(Onnx__TensorProto *t, const void *data, size_t len) {
    t->has_raw_data = 1;
    t->raw_data.len = len;
    t->raw_data.data = pa(len);
    memcpy(t->raw_data.data, data, len);
}

static void set_floats(Onnx__TensorProto *t, const float *v, size_t n) {
    t->n_float_data = n;
    t->float_data = pa(n * sizeof(float));
    memcpy(t->float_data, v, n * sizeof(float));
}

static void set_int32s(Onnx__TensorProto *t, const int32_t *v, size_t n) {
    t->n_int32_data = n;
    t->int32_data = pa(n * sizeof(int32_t));
    memcpy(t->int32_data, v, n * sizeof(int32_t));
}

static void add_init(Onnx__ModelProto *m, Onnx__TensorProto *t) {
    m->graph->initializer[m->graph->n_initializer++] = t;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = pa(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ps(name);
    if (type) {
        a->has_type = 1;
        a->type = (Onnx__AttributeProto__AttributeType)type;
    }
    n->attribute[n->n_attribute++] = a;
    return a;
}

static Onnx__StringStringEntryProto *mk_entry(const char *k, const char *v) {
    Onnx__StringStringEntryProto *e = pa(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = ps(k);
    e->value = ps(v);
    return e;
}

/* A tensor stored externally at loc; offset/length NULL to leave them out. */
static void set_external(Onnx__TensorProto *t, const char *loc, const char *offset,
                         const char *length) {
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = pa(4 * sizeof(void *));
    t->external_data[t->n_external_data++] = mk_entry("location", loc);
    if (offset) t->external_data[t->n_external_data++] = mk_entry("offset", offset);
    if (length) t->external_data[t->n_external_data++] = mk_entry("length", length);
}

/* Packs m into pool memory. */
static uint8_t *pack(const Onnx__ModelProto *m, size_t *len) {
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = pa(*len);
    onnx__model_proto__pack(m, buf);
    return buf;
}

static Graph *load_in(const Onnx__ModelProto *m, const char *base_dir, Diag *d) {
    size_t len;
    uint8_t *buf = pack(m, &len);
    diag_init(d);
    return onnx_load_bytes(buf, len, base_dir, NULL, d);
}

static Graph *load(const Onnx__ModelProto *m, Diag *d) { return load_in(m, NULL, d); }

/* Loads m expecting failure with a message containing word. */
static void expect_error_in(const Onnx__ModelProto *m, const char *base_dir, const char *word) {
    Diag d;
    Graph *g = load_in(m, base_dir, &d);
    cr_assert_null(g, "model loaded although it should fail with '%s'", word);
    cr_assert_gt(d.n_errors, 0);
    cr_assert(tb_diag_has(&d, word), "no message contains '%s'; first: %s", word,
              d.n_messages ? d.messages[0] : "(none)");
    diag_free(&d);
}

static void expect_error(const Onnx__ModelProto *m, const char *word) {
    expect_error_in(m, NULL, word);
}

static Graph *load_ok(const Onnx__ModelProto *m, const char *base_dir) {
    Diag d;
    Graph *g = load_in(m, base_dir, &d);
    cr_assert_not_null(g, "load failed: %s", d.n_messages ? d.messages[0] : "(no message)");
    cr_assert_eq(d.n_errors, 0);
    diag_free(&d);
    return g;
}

static Value *find(const Graph *g, const char *name) {
    Value *v = ir_value_find(g, name);
    cr_assert_not_null(v, "no value '%s'", name);
    return v;
}

/* Model: input X float[N,3], initializer W float[2,3] (float_data), Add(X, W) -> Y. */
static Onnx__ModelProto *mk_simple(void) {
    Onnx__ModelProto *m = mk_model();
    const int64_t xd[2] = { -1, 3 }, wd[2] = { 2, 3 };
    add_input(m, "X", 1, 2, xd);
    Onnx__TensorProto *w = mk_tensor("W", 1, 2, wd);
    const float wv[6] = { 1, 2, 3, 4, 5, 6 };
    set_floats(w, wv, 6);
    add_init(m, w);
    const char *ins[2] = { "X", "W" }, *outs[1] = { "Y" };
    add_node(m, "Add", "add0", 2, ins, 1, outs);
    add_output(m, "Y", 1);
    return m;
}

/* --- loading: what the graph holds ------------------------------------------------------- */

TestSuite(fe_load, .fini = tb_free_all);

Test(fe_load, simple_model) {
    Graph *g = load_ok(mk_simple(), NULL);
    cr_assert_eq(g->opset, 17);
    cr_assert_eq(g->ir_version, 8);
    cr_assert_str_eq(g->name, "g");
    cr_assert_str_eq(g->producer, "pytorch 2.1");
    cr_assert_eq(g->n_values, 3);
    cr_assert_eq(g->n_inputs, 1);
    cr_assert_eq(g->n_outputs, 1);
    cr_assert_eq(g->n_nodes, 1);

    Value *x = find(g, "X");
    cr_assert(x->is_input);
    cr_assert_eq(g->inputs[0], x);
    cr_assert_eq(x->dtype, DT_FLOAT);
    cr_assert_eq(x->rank, 2);
    cr_assert_eq(x->dims[0], -1);
    cr_assert_str_eq(x->dim_params[0], "N");
    cr_assert_eq(x->dims[1], 3);
    cr_assert_null(x->dim_params[1]);
    cr_assert_null(x->data);

    Value *w = find(g, "W");
    cr_assert(!w->is_input);
    cr_assert_null(w->producer);
    cr_assert_eq(w->rank, 2);
    cr_assert_eq(w->dims[0], 2);
    cr_assert_eq(((float *)w->data)[5], 6.0f);

    Node *n = g->nodes[0];
    cr_assert_str_eq(n->name, "add0");
    cr_assert_str_eq(n->op_type, "Add");
    cr_assert_str_eq(n->domain, "");
    cr_assert_eq(n->opset, 17);
    cr_assert_eq(n->n_inputs, 2);
    cr_assert_eq(n->inputs[0], x);
    cr_assert_eq(n->inputs[1], w);
    Value *y = find(g, "Y");
    cr_assert_eq(n->outputs[0], y);
    cr_assert_eq(y->producer, n);
    cr_assert(y->is_output);
    cr_assert_eq(g->outputs[0], y);
    cr_assert_eq(y->dtype, DT_FLOAT);    /* recorded from the model's output type */
    ir_graph_free(g);
}

Test(fe_load, initializer_listed_as_input_is_constant) {
    Onnx__ModelProto *m = mk_simple();
    const int64_t wd[2] = { 2, 3 };
    add_input(m, "W", 1, 2, wd);
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->n_inputs, 1);
    cr_assert_str_eq(g->inputs[0]->name, "X");
    Value *w = find(g, "W");
    cr_assert(!w->is_input);
    cr_assert_not_null(w->data);
    ir_graph_free(g);
}

Test(fe_load, omitted_inputs_and_outputs_are_null) {
    Onnx__ModelProto *m = mk_model();
    const int64_t xd[1] = { 4 };
    add_input(m, "X", 1, 1, xd);
    const char *ins[3] = { "X", "", "X" }, *outs[2] = { "Y", "" };
    add_node(m, "Dropout", "", 3, ins, 2, outs);
    add_output(m, "Y", 1);
    Graph *g = load_ok(m, NULL);
    Node *n = g->nodes[0];
    cr_assert_str_eq(n->name, "");
    cr_assert_eq(n->n_inputs, 3);
    cr_assert_not_null(n->inputs[0]);
    cr_assert_null(n->inputs[1]);
    cr_assert_eq(n->inputs[2], n->inputs[0]);
    cr_assert_eq(n->n_outputs, 2);
    cr_assert_not_null(n->outputs[0]);
    cr_assert_null(n->outputs[1]);
    ir_graph_free(g);
}

Test(fe_load, shapes_missing_and_unknown_dims) {
    Onnx__ModelProto *m = mk_model();
    const int64_t ad[3] = { -2, 5, -1 };
    add_input(m, "A", 7, 3, ad);      /* int64 */
    add_input(m, "B", 9, -1, NULL);   /* bool, no shape */
    const char *ins[2] = { "A", "B" }, *outs[1] = { "Y" };
    add_node(m, "Foo", "f", 2, ins, 1, outs);
    add_output(m, "Y", 1);
    Graph *g = load_ok(m, NULL);
    Value *a = find(g, "A"), *b = find(g, "B");
    cr_assert_eq(a->dtype, DT_INT64);
    cr_assert_eq(a->rank, 3);
    cr_assert_eq(a->dims[0], -1);
    cr_assert_null(a->dim_params[0]);
    cr_assert_eq(a->dims[1], 5);
    cr_assert_str_eq(a->dim_params[2], "N");
    cr_assert_eq(b->dtype, DT_BOOL);
    cr_assert_eq(b->rank, -1);
    ir_graph_free(g);
}

Test(fe_load, nodes_out_of_order_resolve) {
    Onnx__ModelProto *m = mk_model();
    const int64_t xd[1] = { 4 };
    add_input(m, "X", 1, 1, xd);
    const char *i2[1] = { "T" }, *o2[1] = { "Y" };
    const char *i1[1] = { "X" }, *o1[1] = { "T" };
    add_node(m, "Relu", "second", 1, i2, 1, o2);
    add_node(m, "Relu", "first", 1, i1, 1, o1);
    add_output(m, "Y", 1);
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->n_nodes, 2);
    cr_assert_str_eq(g->nodes[0]->name, "second");
    cr_assert_eq(g->nodes[0]->id, 0);
    cr_assert_eq(g->nodes[0]->inputs[0], g->nodes[1]->outputs[0]);
    cr_assert_eq(g->nodes[0]->inputs[0]->producer, g->nodes[1]);
    ir_graph_free(g);
}

Test(fe_load, domains_and_opsets) {
    Onnx__ModelProto *m = mk_simple();
    m->opset_import[0]->domain = ps("ai.onnx");
    m->opset_import[m->n_opset_import++] = mk_opset("com.microsoft", 1);
    const char *ins[1] = { "Y" }, *outs[1] = { "Z" };
    Onnx__NodeProto *n = add_node(m, "Gelu", "gelu", 1, ins, 1, outs);
    n->domain = ps("com.microsoft");
    add_output(m, "Z", 1);
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->opset, 17);
    cr_assert_eq(g->nodes[0]->opset, 17);
    cr_assert_str_eq(g->nodes[1]->domain, "com.microsoft");
    cr_assert_eq(g->nodes[1]->opset, 1);
    ir_graph_free(g);
}

Test(fe_load, other_domains_only_need_no_default_opset) {
    Onnx__ModelProto *m = mk_simple();
    m->opset_import[0]->domain = ps("ai.onnx.ml");
    m->opset_import[0]->version = 3;
    m->graph->node[0]->domain = ps("ai.onnx.ml");
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->opset, 0);
    cr_assert_eq(g->nodes[0]->opset, 3);
    cr_assert_str_eq(g->nodes[0]->domain, "ai.onnx.ml");
    ir_graph_free(g);
}

Test(fe_load, old_ir_version_without_opset_means_opset_1) {
    Onnx__ModelProto *m = mk_simple();
    m->ir_version = 2;
    m->n_opset_import = 0;
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->opset, 1);
    cr_assert_eq(g->nodes[0]->opset, 1);
    ir_graph_free(g);
}

Test(fe_load, attributes_of_every_type) {
    Onnx__ModelProto *m = mk_simple();
    Onnx__NodeProto *n = m->graph->node[0];
    Onnx__AttributeProto *a;
    a = add_attr(n, "f", ATTR_FLOAT);
    a->has_f = 1;
    a->f = 0.5f;
    a = add_attr(n, "i", ATTR_INT);
    a->has_i = 1;
    a->i = -7;
    a = add_attr(n, "s", ATTR_STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ps("NOTSET");
    a->s.len = 6;
    a = add_attr(n, "fs", ATTR_FLOATS);
    a->n_floats = 2;
    a->floats = pa(2 * sizeof(float));
    a->floats[0] = 1.5f;
    a->floats[1] = -2.0f;
    a = add_attr(n, "is", ATTR_INTS);
    a->n_ints = 3;
    a->ints = pa(3 * sizeof(int64_t));
    a->ints[0] = 1;
    a->ints[1] = 2;
    a->ints[2] = (int64_t)1 << 40;
    a = add_attr(n, "ss", ATTR_STRINGS);
    a->n_strings = 2;
    a->strings = pa(2 * sizeof(ProtobufCBinaryData));
    a->strings[0].data = (uint8_t *)ps("ab");
    a->strings[0].len = 2;
    a->strings[1].data = (uint8_t *)ps("");
    a->strings[1].len = 0;
    a = add_attr(n, "t", ATTR_TENSOR);
    const int64_t td[1] = { 3 };
    a->t = mk_tensor("", 7, 1, td);
    a->t->n_int64_data = 3;
    a->t->int64_data = pa(3 * sizeof(int64_t));
    a->t->int64_data[2] = 42;
    a = add_attr(n, "body", ATTR_GRAPH);
    a->g = pa(sizeof(Onnx__GraphProto));
    onnx__graph_proto__init(a->g);
    a = add_attr(n, "untyped", 0);   /* type deduced from the field that is set */
    a->has_i = 1;
    a->i = 9;

    Graph *g = load_ok(m, NULL);
    Node *node = g->nodes[0];
    cr_assert_eq(node->n_attrs, 9);
    cr_assert_float_eq(ir_attr_float(node, "f", 0), 0.5f, 0);
    cr_assert_eq(ir_attr_int(node, "i", 0), -7);
    cr_assert_str_eq(ir_attr_string(node, "s", ""), "NOTSET");
    cr_assert_eq(ir_attr(node, "s")->s_len, 6);
    const float *fs;
    cr_assert_eq(ir_attr_floats(node, "fs", &fs), 2);
    cr_assert_eq(fs[1], -2.0f);
    const int64_t *is;
    cr_assert_eq(ir_attr_ints(node, "is", &is), 3);
    cr_assert_eq(is[2], (int64_t)1 << 40);
    const Attr *ss = ir_attr(node, "ss");
    cr_assert_eq(ss->type, ATTR_STRINGS);
    cr_assert_eq(ss->count, 2);
    cr_assert_str_eq(ss->strings[0], "ab");
    cr_assert_str_eq(ss->strings[1], "");
    const Attr *t = ir_attr(node, "t");
    cr_assert_eq(t->type, ATTR_TENSOR);
    cr_assert_eq(t->tensor->id, -1);
    cr_assert_eq(t->tensor->dtype, DT_INT64);
    cr_assert_eq(t->tensor->rank, 1);
    cr_assert_eq(t->tensor->dims[0], 3);
    cr_assert_eq(((int64_t *)t->tensor->data)[2], 42);
    cr_assert_null(t->tensor->producer);
    cr_assert_eq(ir_attr(node, "body")->type, ATTR_GRAPH);
    cr_assert_eq(ir_attr(node, "untyped")->type, ATTR_INT);
    cr_assert_eq(ir_attr_int(node, "untyped", 0), 9);
    /* The tensor attribute is not a graph value. */
    for (int k = 0; k < g->n_values; k++) cr_assert_neq(g->values[k], t->tensor);
    ir_graph_free(g);
}

/* One initializer per encoding; each is an input of a node so the model is valid. */
Test(fe_load, initializer_encodings) {
    Onnx__ModelProto *m = mk_model();
    const int64_t d3[1] = { 3 };
    Onnx__TensorProto *t;
    const int32_t i32v[3] = { -1, 200, 7 };
    static const struct { const char *name; int dtype; } narrow[] = {
        { "i8", 3 }, { "u8", 2 }, { "i16", 5 }, { "u16", 4 }, { "i32", 6 }, { "b", 9 },
        { "f16", 10 }, { "bf16", 16 },
    };
    for (size_t k = 0; k < sizeof narrow / sizeof narrow[0]; k++) {
        t = mk_tensor(narrow[k].name, narrow[k].dtype, 1, d3);
        set_int32s(t, i32v, 3);
        add_init(m, t);
    }
    t = mk_tensor("i64", 7, 1, d3);
    t->n_int64_data = 3;
    t->int64_data = pa(3 * sizeof(int64_t));
    t->int64_data[0] = -((int64_t)1 << 50);
    add_init(m, t);
    t = mk_tensor("f64", 11, 1, d3);
    t->n_double_data = 3;
    t->double_data = pa(3 * sizeof(double));
    t->double_data[1] = 0.25;
    add_init(m, t);
    t = mk_tensor("u32", 12, 1, d3);
    t->n_uint64_data = 3;
    t->uint64_data = pa(3 * sizeof(uint64_t));
    t->uint64_data[2] = 4000000000u;
    add_init(m, t);
    t = mk_tensor("u64", 13, 1, d3);
    t->n_uint64_data = 3;
    t->uint64_data = pa(3 * sizeof(uint64_t));
    t->uint64_data[0] = UINT64_MAX;
    add_init(m, t);
    const int64_t raw64[3] = { 5, -6, 7 };
    t = mk_tensor("raw_i64", 7, 1, d3);
    set_raw(t, raw64, sizeof raw64);
    add_init(m, t);
    const uint8_t rawb[3] = { 0, 1, 5 };
    t = mk_tensor("raw_b", 9, 1, d3);
    set_raw(t, rawb, 3);
    add_init(m, t);
    t = mk_tensor("scalar", 1, 0, NULL);
    const float one = 1.0f;
    set_floats(t, &one, 1);
    add_init(m, t);
    t = mk_tensor("empty", 1, 1, (const int64_t[1]){ 0 });
    add_init(m, t);
    const char *ins[1] = { "i8" }, *outs[1] = { "Y" };
    add_node(m, "Identity", "id", 1, ins, 1, outs);
    add_output(m, "Y", 3);

    Graph *g = load_ok(m, NULL);
    cr_assert_eq(((int8_t *)find(g, "i8")->data)[0], -1);
    cr_assert_eq(((int8_t *)find(g, "i8")->data)[1], (int8_t)200);
    cr_assert_eq(((uint8_t *)find(g, "u8")->data)[1], 200);
    cr_assert_eq(((int16_t *)find(g, "i16")->data)[0], -1);
    cr_assert_eq(((uint16_t *)find(g, "u16")->data)[0], 0xffff);
    cr_assert_eq(((int32_t *)find(g, "i32")->data)[2], 7);
    cr_assert_eq(((uint8_t *)find(g, "b")->data)[1], 1);   /* 200 -> true */
    cr_assert_eq(((uint16_t *)find(g, "f16")->data)[1], 200);
    cr_assert_eq(((uint16_t *)find(g, "bf16")->data)[2], 7);
    cr_assert_eq(find(g, "bf16")->dtype, DT_BFLOAT16);
    cr_assert_eq(((int64_t *)find(g, "i64")->data)[0], -((int64_t)1 << 50));
    cr_assert_eq(((double *)find(g, "f64")->data)[1], 0.25);
    cr_assert_eq(((uint32_t *)find(g, "u32")->data)[2], 4000000000u);
    cr_assert_eq(((uint64_t *)find(g, "u64")->data)[0], UINT64_MAX);
    cr_assert_eq(((int64_t *)find(g, "raw_i64")->data)[1], -6);
    cr_assert_eq(((uint8_t *)find(g, "raw_b")->data)[2], 1);   /* normalised */
    Value *s = find(g, "scalar");
    cr_assert_eq(s->rank, 0);
    cr_assert_eq(((float *)s->data)[0], 1.0f);
    Value *e = find(g, "empty");
    cr_assert_eq(e->rank, 1);
    cr_assert_eq(e->dims[0], 0);
    cr_assert_eq(ir_numel(e), 0);
    ir_graph_free(g);
}

/* --- external data ----------------------------------------------------------------------- */

static char tmpdir[64];

static const char *mk_tmpdir(void) {
    strcpy(tmpdir, "/tmp/onnxcc_fe_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    return tmpdir;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Removes the files the external-data tests create, then the folder. */
static void rm_tmpdir(const char *dir) {
    static const char *const names[] = { "w.bin", "link.bin", "model.onnx", "t.pb", "t.pb.tmp",
                                         "bad.pb", "typed.pb", "sub/w.bin", "sub" };
    char path[256];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if (unlink(path) != 0) rmdir(path);
    }
    rmdir(dir);
}

/* Model whose W (float[2]) is external; X float[2]; Add -> Y. */
static Onnx__ModelProto *mk_external(const char *loc, const char *off, const char *len) {
    Onnx__ModelProto *m = mk_model();
    const int64_t d2[1] = { 2 };
    add_input(m, "X", 1, 1, d2);
    Onnx__TensorProto *w = mk_tensor("W", 1, 1, d2);
    set_external(w, loc, off, len);
    add_init(m, w);
    const char *ins[2] = { "X", "W" }, *outs[1] = { "Y" };
    add_node(m, "Add", "add", 2, ins, 1, outs);
    add_output(m, "Y", 1);
    return m;
}

static const float ext_data[4] = { 9, 8, 7, 6 };

Test(fe_load, external_data) {
    const char *dir = mk_tmpdir();
    write_file(dir, "w.bin", ext_data, sizeof ext_data);
    Graph *g = load_ok(mk_external("w.bin", "4", "8"), dir);
    float *w = find(g, "W")->data;
    cr_assert_eq(w[0], 8.0f);
    cr_assert_eq(w[1], 7.0f);
    ir_graph_free(g);
    g = load_ok(mk_external("./w.bin", NULL, NULL), dir);
    cr_assert_eq(((float *)find(g, "W")->data)[1], 8.0f);
    ir_graph_free(g);
    rm_tmpdir(dir);
}

Test(fe_load, onnx_load_from_file_with_external_data) {
    const char *dir = mk_tmpdir();
    write_file(dir, "w.bin", ext_data, sizeof ext_data);
    size_t len;
    uint8_t *buf = pack(mk_external("w.bin", "8", "8"), &len);
    write_file(dir, "model.onnx", buf, len);
    char path[256];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    Diag d;
    diag_init(&d);
    Graph *g = onnx_load(path, NULL, &d);
    cr_assert_not_null(g, "%s", d.n_messages ? d.messages[0] : "");
    cr_assert_eq(((float *)find(g, "W")->data)[0], 7.0f);
    ir_graph_free(g);
    /* Too large for the caller's limit. */
    LoadOptions opt = { .max_file_bytes = len - 1 };
    cr_assert_null(onnx_load(path, &opt, &d));
    cr_assert(tb_diag_has(&d, "too large"));
    /* Empty file. */
    write_file(dir, "model.onnx", "", 0);
    cr_assert_null(onnx_load(path, NULL, &d));
    cr_assert(tb_diag_has(&d, "empty"));
    diag_free(&d);
    rm_tmpdir(dir);
}

TestSuite(fe_ext_err, .fini = tb_free_all);

Test(fe_ext_err, refused_without_base_dir) {
    expect_error(mk_external("w.bin", NULL, NULL), "external data");
}

Test(fe_ext_err, absolute_path) {
    const char *dir = mk_tmpdir();
    expect_error_in(mk_external("/etc/passwd", NULL, NULL), dir, "relative");
    rm_tmpdir(dir);
}

Test(fe_ext_err, dotdot_component) {
    const char *dir = mk_tmpdir();
    expect_error_in(mk_external("sub/../../w.bin", NULL, NULL), dir, "relative");
    expect_error_in(mk_external("..", NULL, NULL), dir, "relative");
    rm_tmpdir(dir);
}

Test(fe_ext_err, symlink_leaving_folder) {
    const char *dir = mk_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/link.bin", dir);
    cr_assert_eq(symlink("/etc/hostname", path), 0);
    expect_error_in(mk_external("link.bin", NULL, "8"), dir, "outside");
    rm_tmpdir(dir);
}

Test(fe_ext_err, beyond_end_of_file) {
    const char *dir = mk_tmpdir();
    write_file(dir, "w.bin", ext_data, sizeof ext_data);
    expect_error_in(mk_external("w.bin", "12", "8"), dir, "too short");
    expect_error_in(mk_external("w.bin", "18446744073709551615", "8"), dir, "too short");
    rm_tmpdir(dir);
}

Test(fe_ext_err, length_mismatch_and_bad_numbers) {
    const char *dir = mk_tmpdir();
    write_file(dir, "w.bin", ext_data, sizeof ext_data);
    expect_error_in(mk_external("w.bin", "0", "12"), dir, "length");
    expect_error_in(mk_external("w.bin", "-4", NULL), dir, "offset");
    expect_error_in(mk_external("w.bin", NULL, "8x"), dir, "length");
    rm_tmpdir(dir);
}

Test(fe_ext_err, missing_file) {
    const char *dir = mk_tmpdir();
    expect_error_in(mk_external("nothere.bin", NULL, NULL), dir, "No such file");
    rm_tmpdir(dir);
}

/* --- errors ------------------------------------------------------------------------------- */

TestSuite(fe_err, .fini = tb_free_all);

Test(fe_err, not_protobuf) {
    Diag d;
    diag_init(&d);
    const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34 };
    cr_assert_null(onnx_load_bytes(junk, sizeof junk, NULL, NULL, &d));
    cr_assert_gt(d.n_errors, 0);
    cr_assert(tb_diag_has(&d, "protobuf parse failed"));
    cr_assert_null(onnx_load_bytes(junk, 0, NULL, NULL, &d));
    cr_assert(tb_diag_has(&d, "empty"));
    diag_free(&d);
}

Test(fe_err, truncated) {
    size_t len;
    uint8_t *buf = pack(mk_simple(), &len);
    Diag d;
    diag_init(&d);
    cr_assert_null(onnx_load_bytes(buf, len - 3, NULL, NULL, &d));
    cr_assert(tb_diag_has(&d, "not a valid ONNX model"));
    diag_free(&d);
}

Test(fe_err, unreadable_file) {
    Diag d;
    diag_init(&d);
    cr_assert_null(onnx_load("/nonexistent/dir/model.onnx", NULL, &d));
    cr_assert_gt(d.n_errors, 0);
    cr_assert(tb_diag_has(&d, "No such file"));
    cr_assert_null(onnx_load("/tmp", NULL, &d));
    cr_assert(tb_diag_has(&d, "not a regular file"));
    diag_free(&d);
}

Test(fe_err, no_graph) {
    Onnx__ModelProto *m = mk_simple();
    m->graph = NULL;
    expect_error(m, "no graph");
}

Test(fe_err, no_opset_import) {
    Onnx__ModelProto *m = mk_simple();
    m->n_opset_import = 0;
    expect_error(m, "opset_import");
    m = mk_simple();
    m->opset_import[0]->domain = ps("com.other");
    expect_error(m, "default ONNX domain");
}

Test(fe_err, bad_opset_imports) {
    Onnx__ModelProto *m = mk_simple();
    m->opset_import[m->n_opset_import++] = mk_opset("ai.onnx", 17);   /* same: fine */
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->opset, 17);
    ir_graph_free(g);
    m->opset_import[m->n_opset_import++] = mk_opset("", 13);
    expect_error(m, "twice");
    m = mk_simple();
    m->opset_import[0]->version = 0;
    expect_error(m, "invalid version 0");
}

Test(fe_err, domain_not_imported) {
    Onnx__ModelProto *m = mk_simple();
    m->graph->node[0]->domain = ps("com.microsoft");
    expect_error(m, "com.microsoft");
}

Test(fe_err, undefined_inputs_all_listed) {
    Onnx__ModelProto *m = mk_simple();
    const char *ins[2] = { "ghost1", "X" }, *outs[1] = { "Z" };
    add_node(m, "Add", "a1", 2, ins, 1, outs);
    const char *ins2[1] = { "ghost2" }, *outs2[1] = { "Z2" };
    add_node(m, "Relu", "r2", 1, ins2, 1, outs2);
    Diag d;
    cr_assert_null(load(m, &d));
    cr_assert_eq(d.n_errors, 2);
    cr_assert(tb_diag_has(&d, "'ghost1' is not defined"));
    cr_assert(tb_diag_has(&d, "'ghost2' is not defined"));
    cr_assert(tb_diag_has(&d, "node 'r2'"));
    diag_free(&d);
}

Test(fe_err, value_defined_twice) {
    Onnx__ModelProto *m = mk_simple();
    const char *ins[1] = { "X" }, *outs[1] = { "W" };
    add_node(m, "Relu", "r", 1, ins, 1, outs);
    expect_error(m, "defined twice");
    m = mk_simple();
    const char *outs2[1] = { "Y" };
    add_node(m, "Relu", "r", 1, ins, 1, outs2);
    expect_error(m, "defined twice");
    m = mk_simple();
    add_input(m, "X", 1, 0, NULL);
    expect_error(m, "defined twice");
}

Test(fe_err, output_defined_nowhere) {
    Onnx__ModelProto *m = mk_simple();
    add_output(m, "nowhere", 1);
    expect_error(m, "graph output 'nowhere'");
}

Test(fe_err, rank_too_large) {
    const int64_t d9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    Onnx__ModelProto *m = mk_simple();
    Onnx__TensorProto *t = mk_tensor("big", 1, 9, d9);
    set_floats(t, (const float[1]){ 0 }, 1);
    add_init(m, t);
    expect_error(m, "rank 9");
    m = mk_simple();
    add_input(m, "I9", 1, 9, d9);
    expect_error(m, "rank 9");
}

Test(fe_err, negative_dims) {
    Onnx__ModelProto *m = mk_simple();
    add_init(m, mk_tensor("neg", 1, 1, (const int64_t[1]){ -3 }));
    expect_error(m, "negative");
    m = mk_simple();
    add_input(m, "I", 1, 2, (const int64_t[2]){ 2, -5 });
    expect_error(m, "negative");
}

Test(fe_err, element_count_overflow) {
    Onnx__ModelProto *m = mk_simple();
    const int64_t huge[3] = { (int64_t)1 << 40, (int64_t)1 << 40, 4 };
    add_init(m, mk_tensor("huge", 1, 3, huge));
    expect_error(m, "overflow");
    m = mk_simple();
    const int64_t big[1] = { (int64_t)1 << 62 };
    add_init(m, mk_tensor("big", 1, 1, big));     /* numel fits, bytes do not */
    expect_error(m, "overflow");
}

Test(fe_err, data_length_mismatch) {
    Onnx__ModelProto *m = mk_simple();
    Onnx__TensorProto *t = mk_tensor("r", 1, 1, (const int64_t[1]){ 3 });
    set_raw(t, ext_data, 8);
    add_init(m, t);
    expect_error(m, "raw_data");
    m = mk_simple();
    t = mk_tensor("f", 1, 1, (const int64_t[1]){ 3 });
    set_floats(t, ext_data, 2);
    add_init(m, t);
    expect_error(m, "float_data");
    m = mk_simple();
    t = mk_tensor("nodata", 7, 1, (const int64_t[1]){ 3 });
    add_init(m, t);
    expect_error(m, "int64_data");
}

Test(fe_err, bad_data_types) {
    Onnx__ModelProto *m = mk_simple();
    add_init(m, mk_tensor("u", 99, 0, NULL));
    expect_error(m, "unknown data type 99");
    m = mk_simple();
    add_init(m, mk_tensor("s", 8, 0, NULL));
    expect_error(m, "string");
    m = mk_simple();
    add_init(m, mk_tensor("c", 14, 0, NULL));
    expect_error(m, "complex64");
    m = mk_simple();
    Onnx__TensorProto *t = mk_tensor("none", 1, 0, NULL);
    t->has_data_type = 0;
    add_init(m, t);
    expect_error(m, "no data type");
    m = mk_simple();
    add_input(m, "S", 8, 0, NULL);
    expect_error(m, "string");
    m = mk_simple();
    add_input(m, "F6", 27, 0, NULL);   /* float6e2m3: defined by ONNX, not held */
    expect_error(m, "float6e2m3");
    m = mk_simple();
    add_input(m, "U", 77, 0, NULL);
    expect_error(m, "unknown data type 77");
}

Test(fe_err, sparse_initializer) {
    Onnx__ModelProto *m = mk_simple();
    Onnx__SparseTensorProto *sp = pa(sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    sp->values = mk_tensor("sp", 1, 1, (const int64_t[1]){ 1 });
    set_floats(sp->values, ext_data, 1);
    sp->indices = mk_tensor("", 7, 1, (const int64_t[1]){ 1 });
    sp->indices->n_int64_data = 1;
    sp->indices->int64_data = pa(sizeof(int64_t));
    m->graph->n_sparse_initializer = 1;
    m->graph->sparse_initializer = pa(sizeof(void *));
    m->graph->sparse_initializer[0] = sp;
    expect_error(m, "sparse initializer 'sp' is not supported");
}

Test(fe_err, input_not_a_tensor) {
    /* a map (sequences and optionals of tensors are accepted: test_ops_seq.c) */
    Onnx__ModelProto *m = mk_simple();
    Onnx__ValueInfoProto *vi = mk_vi("Q", 1, -1, NULL);
    Onnx__TypeProto__Map *mp = pa(sizeof *mp);
    onnx__type_proto__map__init(mp);
    mp->has_key_type = 1;
    mp->key_type = DT_INT64;
    mp->value_type = vi->type;
    Onnx__TypeProto *tp = pa(sizeof *tp);
    onnx__type_proto__init(tp);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE;
    tp->map_type = mp;
    vi->type = tp;
    m->graph->input[m->graph->n_input++] = vi;
    expect_error(m, "not a tensor");
}

Test(fe_err, unsupported_attribute_type) {
    Onnx__ModelProto *m = mk_simple();
    Onnx__AttributeProto *a = add_attr(m->graph->node[0], "sp", 11);
    (void)a;
    expect_error(m, "not supported");
    m = mk_simple();
    add_attr(m->graph->node[0], "nothing", 0);
    expect_error(m, "no type");
    m = mk_simple();
    a = add_attr(m->graph->node[0], "dup", ATTR_INT);
    a->has_i = 1;
    a = add_attr(m->graph->node[0], "dup", ATTR_INT);
    a->has_i = 1;
    expect_error(m, "twice");
}

Test(fe_err, bad_tensor_attribute) {
    Onnx__ModelProto *m = mk_simple();
    Onnx__AttributeProto *a = add_attr(m->graph->node[0], "value", ATTR_TENSOR);
    a->t = mk_tensor("", 1, 1, (const int64_t[1]){ 4 });
    set_floats(a->t, ext_data, 3);
    expect_error(m, "tensor attribute 'value'");
}

/* A bad input or node is reported once, not again by every reader. */
Test(fe_err, no_cascading_errors) {
    Onnx__ModelProto *m = mk_simple();
    m->graph->input[0]->type->tensor_type->elem_type = 8;     /* X: string */
    Diag d;
    cr_assert_null(load(m, &d));
    cr_assert_eq(d.n_errors, 1, "%d errors, first: %s", d.n_errors, d.messages[0]);
    cr_assert(tb_diag_has(&d, "string"));
    diag_free(&d);
    m = mk_simple();
    m->graph->node[0]->domain = ps("com.unknown");
    cr_assert_null(load(m, &d));
    cr_assert_eq(d.n_errors, 1, "%d errors, first: %s", d.n_errors, d.messages[0]);
    diag_free(&d);
}

Test(fe_err, node_without_op_type) {
    Onnx__ModelProto *m = mk_simple();
    m->graph->node[0]->op_type = NULL;
    expect_error(m, "no op_type");
}

Test(fe_err, arena_limit) {
    size_t len;
    Onnx__ModelProto *m = mk_simple();
    Onnx__TensorProto *t = mk_tensor("big", 1, 1, (const int64_t[1]){ 1 << 20 });
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)4 << 20;
    t->raw_data.data = pa(t->raw_data.len);
    add_init(m, t);
    uint8_t *buf = pack(m, &len);
    Diag d;
    diag_init(&d);
    LoadOptions opt = { .arena_limit_bytes = 1 << 20 };
    cr_assert_null(onnx_load_bytes(buf, len, NULL, &opt, &d));
    cr_assert(tb_diag_has(&d, "out of memory"));
    diag_free(&d);
}

/* --- TensorProto .pb files -------------------------------------------------------------- */

TestSuite(fe_pb, .fini = tb_free_all);

Test(fe_pb, round_trip) {
    const char *dir = mk_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/t.pb", dir);
    float data[6] = { 1.5f, -2, 3, 4, 5, 6e-3f };
    HostTensor t = { .name = "input_0", .dtype = DT_FLOAT, .rank = 2, .dims = { 2, 3 },
                     .data = data, .nbytes = sizeof data };
    Diag d;
    diag_init(&d);
    cr_assert(tensor_write_pb(path, &t, &d));
    char tmp[280];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "temporary file left behind");
    HostTensor r;
    cr_assert(tensor_read_pb(path, &r, &d), "%s", d.n_messages ? d.messages[0] : "");
    cr_assert_str_eq(r.name, "input_0");
    cr_assert_eq(r.dtype, DT_FLOAT);
    cr_assert_eq(r.rank, 2);
    cr_assert_eq(r.dims[0], 2);
    cr_assert_eq(r.dims[1], 3);
    cr_assert_eq(r.nbytes, sizeof data);
    cr_assert_arr_eq(r.data, data, sizeof data);
    tensor_free(&r);

    /* int64 scalar, and an empty bool tensor, overwrite the same file. */
    int64_t s = -123456789012345;
    HostTensor t2 = { .name = "", .dtype = DT_INT64, .rank = 0, .data = &s, .nbytes = 8 };
    cr_assert(tensor_write_pb(path, &t2, &d));
    cr_assert(tensor_read_pb(path, &r, &d));
    cr_assert_eq(r.rank, 0);
    cr_assert_eq(*(int64_t *)r.data, s);
    tensor_free(&r);
    HostTensor t3 = { .name = "e", .dtype = DT_BOOL, .rank = 2, .dims = { 0, 4 },
                      .data = NULL, .nbytes = 0 };
    cr_assert(tensor_write_pb(path, &t3, &d));
    cr_assert(tensor_read_pb(path, &r, &d));
    cr_assert_eq(r.dtype, DT_BOOL);
    cr_assert_eq(r.nbytes, 0);
    cr_assert_eq(r.dims[1], 4);
    tensor_free(&r);
    cr_assert_eq(d.n_errors, 0);
    diag_free(&d);
    rm_tmpdir(dir);
}

Test(fe_pb, read_typed_fields) {
    const char *dir = mk_tmpdir();
    Onnx__TensorProto *tp = mk_tensor("x", 1, 1, (const int64_t[1]){ 3 });
    set_floats(tp, ext_data, 3);
    size_t len = onnx__tensor_proto__get_packed_size(tp);
    uint8_t *buf = pa(len);
    onnx__tensor_proto__pack(tp, buf);
    write_file(dir, "typed.pb", buf, len);
    char path[256];
    snprintf(path, sizeof path, "%s/typed.pb", dir);
    HostTensor r;
    Diag d;
    diag_init(&d);
    cr_assert(tensor_read_pb(path, &r, &d));
    cr_assert_eq(((float *)r.data)[2], 7.0f);
    tensor_free(&r);
    diag_free(&d);
    rm_tmpdir(dir);
}

Test(fe_pb, errors) {
    const char *dir = mk_tmpdir();
    char path[256];
    Diag d;
    diag_init(&d);
    HostTensor r;
    snprintf(path, sizeof path, "%s/bad.pb", dir);
    write_file(dir, "bad.pb", "\xff\xff\xff\xff\xff", 5);
    cr_assert_not(tensor_read_pb(path, &r, &d));
    cr_assert(tb_diag_has(&d, "protobuf parse failed"));
    cr_assert_null(r.data);
    snprintf(path, sizeof path, "%s/missing.pb", dir);
    cr_assert_not(tensor_read_pb(path, &r, &d));
    cr_assert(tb_diag_has(&d, "No such file"));
    /* A tensor whose byte count does not match its shape is not written. */
    float x[2] = { 0 };
    HostTensor t = { .name = "x", .dtype = DT_FLOAT, .rank = 1, .dims = { 3 }, .data = x,
                     .nbytes = sizeof x };
    snprintf(path, sizeof path, "%s/t.pb", dir);
    cr_assert_not(tensor_write_pb(path, &t, &d));
    cr_assert(tb_diag_has(&d, "shape needs"));
    cr_assert_neq(access(path, F_OK), 0);
    t.dtype = DT_STRING;
    cr_assert_not(tensor_write_pb(path, &t, &d));
    cr_assert(tb_diag_has(&d, "unsupported data type"));
    /* Unwritable destination. */
    t.dtype = DT_FLOAT;
    t.dims[0] = 2;
    cr_assert_not(tensor_write_pb("/nonexistent/dir/t.pb", &t, &d));
    cr_assert(tb_diag_has(&d, "cannot write"));
    diag_free(&d);
    rm_tmpdir(dir);
}

/* --- a real export ------------------------------------------------------------------------ */

/* The committed example (a PyTorch export, opset 13): always present, so this test runs
 * in CI instead of being skipped when a scratch model is missing. */
Test(fe_real, pytorch_export) {
    const char *path = ONNXCC_SOURCE_DIR "/examples/digits/model.onnx";
    Diag d;
    diag_init(&d);
    Graph *g = onnx_load(path, NULL, &d);
    cr_assert_not_null(g, "%s", d.n_messages ? d.messages[0] : "");
    cr_assert_eq(g->n_nodes, 7, "Conv, Relu, MaxPool, Conv, Relu, Flatten, Gemm");
    cr_assert_geq(g->n_inputs, 1);
    cr_assert_geq(g->n_outputs, 1);
    cr_assert_gt(g->opset, 0);
    int consts = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i]->data) consts++;
    cr_assert_eq(consts, 6, "the six initializers: two convs and the Gemm, weight and bias");
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        cr_assert_gt(n->opset, 0);
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k]) cr_assert_eq(n->outputs[k]->producer, n);
    }
    for (int i = 0; i < g->n_inputs; i++) cr_assert_null(g->inputs[i]->data);
    ir_graph_free(g);
    diag_free(&d);
}

/* --- model-local functions (functions.c) ------------------------------------------------- */

/* A function domain.name(ins) -> (outs) with room for ARR_CAP nodes, added to the model
 * (and its domain imported at version 1). */
static Onnx__FunctionProto *add_function(Onnx__ModelProto *m, const char *domain,
                                         const char *name, int n_in, const char *const *ins,
                                         int n_out, const char *const *outs) {
    Onnx__FunctionProto *f = pa(sizeof *f);
    onnx__function_proto__init(f);
    f->domain = ps(domain);
    f->name = ps(name);
    f->input = pa((size_t)(n_in + 1) * sizeof(char *));
    f->output = pa((size_t)(n_out + 1) * sizeof(char *));
    for (int k = 0; k < n_in; k++) f->input[f->n_input++] = ps(ins[k]);
    for (int k = 0; k < n_out; k++) f->output[f->n_output++] = ps(outs[k]);
    f->node = pa(ARR_CAP * sizeof(void *));
    f->attribute_proto = pa(ARR_CAP * sizeof(void *));
    if (!m->functions) m->functions = pa(ARR_CAP * sizeof(void *));
    m->functions[m->n_functions++] = f;
    m->opset_import[m->n_opset_import++] = mk_opset(domain, 1);
    return f;
}

/* Moves the graph's last node into function f's body. */
static Onnx__NodeProto *move_last_node_to(Onnx__ModelProto *m, Onnx__FunctionProto *f) {
    Onnx__NodeProto *n = m->graph->node[--m->graph->n_node];
    f->node[f->n_node++] = n;
    return n;
}

static const Node *node_named(const Graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    cr_assert_fail("no node '%s'", name);
    return NULL;
}

/* A call whose optional input is left out: inside the body the formal input reads as
 * absent; an attribute reference with neither a value in the call nor a default is left
 * out (the op's default applies); a body value gets the call's prefix. */
Test(fe_functions, omitted_inputs_and_unbound_attribute_references) {
    Onnx__ModelProto *m = mk_model();
    int64_t d[1] = { 4 };
    add_input(m, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d);
    const char *fin[2] = { "a", "lo" }, *fout[1] = { "b" };
    Onnx__FunctionProto *f = add_function(m, "local", "ClipLeaky", 2, fin, 1, fout);
    const char *cin[3] = { "a", "lo", "" }, *cout[1] = { "t" };
    add_node(m, "Clip", "clip", 3, cin, 1, cout);
    move_last_node_to(m, f);
    const char *lin[1] = { "t" }, *lout[1] = { "b" };
    Onnx__NodeProto *leaky = add_node(m, "LeakyRelu", "leaky", 1, lin, 1, lout);
    Onnx__AttributeProto *ref = add_attr(leaky, "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    ref->ref_attr_name = ps("slope");                  /* bound by neither call nor default */
    move_last_node_to(m, f);
    const char *call_in[1] = { "x" }, *call_out[1] = { "y" };
    Onnx__NodeProto *call = add_node(m, "ClipLeaky", "call", 1, call_in, 1, call_out);
    call->domain = ps("local");
    add_output(m, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->n_nodes, 2);
    const Node *clip = node_named(g, "call#1/clip");
    cr_assert_eq(clip->inputs[0], find(g, "x"));
    cr_assert_null(clip->inputs[1], "the call left 'lo' out");
    cr_assert_eq(clip->outputs[0], find(g, "call#1/t"));
    const Node *lr = node_named(g, "call#1/leaky");
    cr_assert_null(ir_attr(lr, "alpha"), "an unbound reference is left out");
    cr_assert_eq(lr->outputs[0], find(g, "y"));
    ir_graph_free(g);
}

/* A function is found by domain and name: a node of the default domain with the same op
 * type as a local function is the standard op. */
Test(fe_functions, a_standard_op_is_not_a_function_of_another_domain) {
    Onnx__ModelProto *m = mk_model();
    int64_t d[1] = { 4 };
    add_input(m, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d);
    const char *fin[1] = { "a" }, *fout[1] = { "b" };
    Onnx__FunctionProto *f = add_function(m, "local", "Relu", 1, fin, 1, fout);
    add_node(m, "Neg", "neg", 1, fin, 1, fout);
    move_last_node_to(m, f);
    const char *in[1] = { "x" }, *out[1] = { "y" };
    add_node(m, "Relu", "plain_relu", 1, in, 1, out);
    add_output(m, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    Graph *g = load_ok(m, NULL);
    cr_assert_eq(g->n_nodes, 1);
    cr_assert_str_eq(g->nodes[0]->op_type, "Relu");
    cr_assert_str_eq(g->nodes[0]->name, "plain_relu");
    ir_graph_free(g);
}

/* Two functions that call each other are a cycle: refused at the nesting limit. */
Test(fe_functions, mutual_recursion_is_refused) {
    Onnx__ModelProto *m = mk_model();
    int64_t d[1] = { 4 };
    add_input(m, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d);
    const char *fin[1] = { "a" }, *fout[1] = { "b" };
    Onnx__FunctionProto *ping = add_function(m, "local", "Ping", 1, fin, 1, fout);
    Onnx__FunctionProto *pong = add_function(m, "local", "Pong", 1, fin, 1, fout);
    add_node(m, "Pong", "to_pong", 1, fin, 1, fout)->domain = ps("local");
    move_last_node_to(m, ping);
    add_node(m, "Ping", "to_ping", 1, fin, 1, fout)->domain = ps("local");
    move_last_node_to(m, pong);
    const char *in[1] = { "x" }, *out[1] = { "y" };
    add_node(m, "Ping", "call", 1, in, 1, out)->domain = ps("local");
    add_output(m, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    expect_error(m, "nested calls");
}
