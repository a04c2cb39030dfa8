/* test_ops_seq.c: sequences and optionals, resolved at compile time (ops/sequence.c,
 * ops/optional.c): small graphs through the whole pipeline, checking the lists the
 * expansion builds by the constants it folds to (values derived by hand from the
 * spec), the error paths, sequence graph inputs and outputs flattened into tensors, one
 * graph built and run end to end against the values its input holds, and the reading of
 * SequenceProto and OptionalProto files (written here byte by byte). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "frontend/frontend.h"
#include "helpers.h"
#include "ir/graph.h"

enum { SEQ_OPSET = 18, SEQ_SEED = 7 };

static Value *sconst(Graph *g, const char *name, int64_t len, const double *vals) {
    return tb_value(g, name, DT_FLOAT, 1, &len, vals);
}

static Value *sint(Graph *g, const char *name, int64_t x) {
    const double v = (double)x;
    return tb_value(g, name, DT_INT64, 0, NULL, &v);
}

static Node *snode(Graph *g, const char *op, const char *name, int n_in, Value *const *in) {
    Node *n = tb_node(g, op, name, n_in, in, 1);
    n->opset = SEQ_OPSET;
    return n;
}

/* Runs the pipeline, which must fail with a message containing want. */
static void sfail(Graph *g, const char *want) {
    Diag d;
    cr_assert_not(tb_pipeline(g, false, &d), "expected an error containing '%s'", want);
    cr_assert_geq(d.n_messages, 1);
    cr_assert_not_null(strstr(d.messages[0], want), "message '%s' lacks '%s'", d.messages[0],
                       want);
    diag_free(&d);
    ir_graph_free(g);
}

/* A graph input 's' holding a sequence whose length and elements are not bound yet. */
static Value *seq_input(Graph *g) {
    Value *s = tb_input(g, "s", 1, (int64_t[]){ 2 });
    s->kind = VK_SEQUENCE;
    s->rank = -1;
    return s;
}

/* [a, b] from constants a = {1, 2}, b = {3, 4, 5}. */
static Value *pair(Graph *g) {
    Value *a = sconst(g, "a", 2, (double[]){ 1, 2 });
    Value *b = sconst(g, "b", 3, (double[]){ 3, 4, 5 });
    return snode(g, "SequenceConstruct", "sc", 2, (Value *[]){ a, b })->outputs[0];
}

Test(seq, construct_at_length) {
    Graph *g = tb_graph();
    Value *s = pair(g);
    Node *at = snode(g, "SequenceAt", "at", 2, (Value *[]){ s, sint(g, "p", -1) });
    Node *len = snode(g, "SequenceLength", "len", 1, (Value *[]){ s });
    tb_output(g, at->outputs[0]);
    tb_output(g, len->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect(g->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 3, 4, 5 }, TB_EXACT);
    tb_expect(g->outputs[1], DT_INT64, 0, NULL, (double[]){ 2 }, TB_EXACT);
    cr_assert_eq(g->n_nodes, 0, "everything folds, %d nodes left", g->n_nodes);
    ir_graph_free(g);
}

Test(seq, insert_erase_concat) {
    Graph *g = tb_graph();
    Value *s = pair(g);
    Value *c = sconst(g, "c", 1, (double[]){ 9 });
    /* [a, b] insert c at 1 -> [a, c, b]; erase 0 -> [c, b]; concat -> {9, 3, 4, 5} */
    Node *ins = snode(g, "SequenceInsert", "ins", 3, (Value *[]){ s, c, sint(g, "p1", 1) });
    Node *era = snode(g, "SequenceErase", "era", 2,
                      (Value *[]){ ins->outputs[0], sint(g, "p0", 0) });
    Node *cat = snode(g, "ConcatFromSequence", "cat", 1, (Value *[]){ era->outputs[0] });
    tb_attr_int(g, cat, "axis", 0);
    /* insert at the end by default, erase the last by default: [a, b, c] -> [a, b] */
    Node *ins2 = snode(g, "SequenceInsert", "ins2", 2, (Value *[]){ s, c });
    Node *era2 = snode(g, "SequenceErase", "era2", 1, (Value *[]){ ins2->outputs[0] });
    Node *cat2 = snode(g, "ConcatFromSequence", "cat2", 1, (Value *[]){ era2->outputs[0] });
    tb_attr_int(g, cat2, "axis", -1);
    tb_output(g, cat->outputs[0]);
    tb_output(g, cat2->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect(g->outputs[0], DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ 9, 3, 4, 5 }, TB_EXACT);
    tb_expect(g->outputs[1], DT_FLOAT, 1, (int64_t[]){ 5 }, (double[]){ 1, 2, 3, 4, 5 }, TB_EXACT);
    ir_graph_free(g);
}

Test(seq, concat_new_axis) {
    Graph *g = tb_graph();
    Value *a = sconst(g, "a", 2, (double[]){ 1, 2 });
    Value *b = sconst(g, "b", 2, (double[]){ 3, 4 });
    Node *sc = snode(g, "SequenceConstruct", "sc", 2, (Value *[]){ a, b });
    Node *cat = snode(g, "ConcatFromSequence", "cat", 1, (Value *[]){ sc->outputs[0] });
    tb_attr_int(g, cat, "axis", -1);        /* [-2, 1] with new_axis: the new last axis */
    tb_attr_int(g, cat, "new_axis", 1);
    tb_output(g, cat->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect_shape(g->outputs[0], 2, (int64_t[]){ 2, 2 });
    tb_expect_data(g->outputs[0], 4, (double[]){ 1, 3, 2, 4 }, TB_EXACT); /* [[1, 3], [2, 4]] */
    ir_graph_free(g);
}

Test(seq, split_to_sequence_chunks) {
    /* a scalar split of 4 over 10 elements: parts of 4, 4 and 2 */
    Graph *g = tb_graph();
    double x10[10];
    for (int i = 0; i < 10; i++) x10[i] = i;
    Value *x = sconst(g, "x", 10, x10);
    Node *sp = snode(g, "SplitToSequence", "sp", 2, (Value *[]){ x, sint(g, "four", 4) });
    Node *len = snode(g, "SequenceLength", "len", 1, (Value *[]){ sp->outputs[0] });
    Node *at = snode(g, "SequenceAt", "at", 2, (Value *[]){ sp->outputs[0], sint(g, "p", 2) });
    tb_output(g, len->outputs[0]);
    tb_output(g, at->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect(g->outputs[0], DT_INT64, 0, NULL, (double[]){ 3 }, TB_EXACT);
    tb_expect(g->outputs[1], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 8, 9 }, TB_EXACT);
    ir_graph_free(g);
}

Test(seq, split_to_sequence_nokeepdims) {
    /* no split: parts of one along axis 0, squeezed away with keepdims=0 */
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 2 },
                        (double[]){ 1, 2, 3, 4, 5, 6 });
    Node *sp = snode(g, "SplitToSequence", "sp", 1, (Value *[]){ x });
    tb_attr_int(g, sp, "keepdims", 0);
    Node *at = snode(g, "SequenceAt", "at", 2, (Value *[]){ sp->outputs[0], sint(g, "p", 1) });
    tb_output(g, at->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect(g->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 3, 4 }, TB_EXACT);
    ir_graph_free(g);
}

Test(seq, optional_ops) {
    Graph *g = tb_graph();
    Value *a = sconst(g, "a", 2, (double[]){ 1, 2 });
    Node *opt = snode(g, "Optional", "opt", 1, (Value *[]){ a });
    Node *has = snode(g, "OptionalHasElement", "has", 1, (Value *[]){ opt->outputs[0] });
    Node *none = snode(g, "OptionalHasElement", "none", 0, NULL);
    Node *get = snode(g, "OptionalGetElement", "get", 1, (Value *[]){ opt->outputs[0] });
    tb_output(g, has->outputs[0]);
    tb_output(g, none->outputs[0]);
    tb_output(g, get->outputs[0]);
    tb_pipeline_ok(g);
    tb_expect(g->outputs[0], DT_BOOL, 0, NULL, (double[]){ 1 }, TB_EXACT);
    tb_expect(g->outputs[1], DT_BOOL, 0, NULL, (double[]){ 0 }, TB_EXACT);
    tb_expect(g->outputs[2], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 }, TB_EXACT);
    ir_graph_free(g);
}

Test(seq, errors) {
    Graph *g = tb_graph();
    snode(g, "SequenceAt", "at", 2, (Value *[]){ pair(g), sint(g, "p", 2) });
    sfail(g, "position 2 is out of range [-2, 1] for a sequence of 2 elements");

    g = tb_graph();
    Node *e = snode(g, "SequenceEmpty", "e", 0, NULL);
    Node *cat = snode(g, "ConcatFromSequence", "cat", 1, (Value *[]){ e->outputs[0] });
    tb_attr_int(g, cat, "axis", 0);
    sfail(g, "is empty: there is nothing to concatenate");

    g = tb_graph();
    Value *empty = snode(g, "SequenceEmpty", "e", 0, NULL)->outputs[0];
    snode(g, "SequenceErase", "er", 1, (Value *[]){ empty });
    sfail(g, "cannot erase from the empty sequence");

    g = tb_graph();
    Value *i = sint(g, "i", 1);
    snode(g, "SequenceInsert", "ins", 2, (Value *[]){ pair(g), i });
    sfail(g, "tensor 'i' is int64 but the sequence");

    g = tb_graph();
    Value *x = sconst(g, "x", 5, (double[]){ 1, 2, 3, 4, 5 });
    Value *lens = tb_value(g, "lens", DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 2 });
    snode(g, "SplitToSequence", "sp", 2, (Value *[]){ x, lens });
    sfail(g, "split lengths sum to 4, the axis has 5");

    g = tb_graph();
    snode(g, "OptionalGetElement", "get", 1,
          (Value *[]){ snode(g, "Optional", "o", 0, NULL)->outputs[0] });
    sfail(g, "needs the attribute type");

    g = tb_graph();
    snode(g, "Add", "add", 2, (Value *[]){ pair(g), sconst(g, "c", 1, (double[]){ 1 }) });
    sfail(g, "input 0 'sc_out0' is a sequence: Add takes tensors only");

    g = tb_graph();
    g->list_elems = IR_MAX_LIST_TOTAL - 1;     /* as if earlier lists had used the rest */
    tb_output(g, snode(g, "SequenceLength", "len", 1, (Value *[]){ pair(g) })->outputs[0]);
    sfail(g, "would hold more than 16777216 elements in all");

    g = tb_graph();
    Value *c = sconst(g, "c", 1, (double[]){ 1 });
    snode(g, "SequenceAt", "at", 2, (Value *[]){ c, sint(g, "p", 0) });
    sfail(g, "input 0 'c' is a tensor, it must be a sequence");
}

Test(seq, unbound_sequence_input) {
    Graph *g = tb_graph();
    Value *s = seq_input(g);
    tb_output(g, snode(g, "SequenceLength", "len", 1, (Value *[]){ s })->outputs[0]);
    sfail(g, "input 's' is a sequence: its length and element shapes must be known");
}

/* A sequence graph input of two tensors through Identity: the generated function takes
 * and returns one buffer per element, the outputs named after the list. */
Test(seq, graph_io_flattened) {
    Graph *g = tb_graph();
    Value *s = seq_input(g);
    Diag d;
    diag_init(&d);
    cr_assert(ir_list_bind_input(g, s, true, VK_TENSOR, 2, &d));
    cr_assert(ir_graph_flatten_io(g, false, &d));
    diag_free(&d);
    cr_assert_eq(g->n_inputs, 2);
    cr_assert_str_eq(g->inputs[0]->name, "s[0]");
    ir_value_set_shape(g->inputs[0], DT_FLOAT, 1, (int64_t[]){ 3 });
    ir_value_set_shape(g->inputs[1], DT_FLOAT, 1, (int64_t[]){ 4 });
    Node *id = snode(g, "Identity", "id", 1, (Value *[]){ s });
    tb_output(g, id->outputs[0]);
    tb_pipeline_ok(g);
    cr_assert_eq(g->n_model_outputs, 1);
    cr_assert_eq(g->model_outputs[0]->kind, VK_SEQUENCE);
    cr_assert_eq(g->n_outputs, 2);
    cr_assert_str_eq(g->outputs[0]->name, "id_out0[0]");
    cr_assert_eq(g->outputs[1]->dims[0], 4);
    float *out[2] = { 0 };
    int64_t out_n[2] = { 0 };
    cr_assert(tb_run(g, SEQ_SEED, out, out_n, 2));
    for (int k = 0; k < 2; k++) {
        float want[4];
        tb_fill(want, 3 + k, SEQ_SEED + (unsigned)k);
        cr_assert_eq(out_n[k], 3 + k);
        for (int i = 0; i < 3 + k; i++) cr_assert_eq(out[k][i], want[i]);
        free(out[k]);
    }
    ir_graph_free(g);
}

/* Emitted code: SplitToSequence of a run-time input, an element and a concatenation of
 * the reversed parts, checked against the input's values. */
Test(seq, run_split_concat) {
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 2, (int64_t[]){ 2, 6 });
    Value *lens = tb_value(g, "lens", DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 1, 2, 3 });
    Node *sp = snode(g, "SplitToSequence", "sp", 2, (Value *[]){ x, lens });
    tb_attr_int(g, sp, "axis", 1);
    Node *at = snode(g, "SequenceAt", "at", 2, (Value *[]){ sp->outputs[0], sint(g, "p", 2) });
    /* erase the middle part and concatenate the rest along axis 1: columns 0, 3, 4, 5 */
    Node *er = snode(g, "SequenceErase", "er", 2, (Value *[]){ sp->outputs[0], sint(g, "q", 1) });
    Node *cat = snode(g, "ConcatFromSequence", "cat", 1, (Value *[]){ er->outputs[0] });
    tb_attr_int(g, cat, "axis", 1);
    tb_output(g, at->outputs[0]);
    tb_output(g, cat->outputs[0]);
    tb_pipeline_ok(g);
    float *out[2] = { 0 };
    int64_t out_n[2] = { 0 };
    cr_assert(tb_run(g, SEQ_SEED, out, out_n, 2));
    float xv[12];
    tb_fill(xv, 12, SEQ_SEED);
    cr_assert_eq(out_n[0], 6);
    cr_assert_eq(out_n[1], 8);
    for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 3; c++) cr_assert_eq(out[0][r * 3 + c], xv[r * 6 + 3 + c]);
        const int cols[4] = { 0, 3, 4, 5 };
        for (int c = 0; c < 4; c++) cr_assert_eq(out[1][r * 4 + c], xv[r * 6 + cols[c]]);
    }
    free(out[0]);
    free(out[1]);
    ir_graph_free(g);
}

/* --- SequenceProto and OptionalProto files -------------------------------------------- */

typedef struct Bytes {
    uint8_t b[512];
    size_t n;
} Bytes;

/* Appends field `num` of the length-delimited wire type holding p[0..len). */
static void put_len(Bytes *o, int num, const uint8_t *p, size_t len) {
    cr_assert_lt(len, 128);
    o->b[o->n++] = (uint8_t)(num << 3 | 2);
    o->b[o->n++] = (uint8_t)len;
    memcpy(o->b + o->n, p, len);
    o->n += len;
}

/* Appends varint field `num` (value < 128). */
static void put_small(Bytes *o, int num, int v) {
    o->b[o->n++] = (uint8_t)(num << 3);
    o->b[o->n++] = (uint8_t)v;
}

/* A float TensorProto [len] holding 0, 1, ... */
static void put_tensor(Bytes *o, int num, int64_t len) {
    float data[8];
    for (int i = 0; i < len; i++) data[i] = (float)i;
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 1;
    tp.dims = &len;
    tp.has_data_type = 1;
    tp.data_type = DT_FLOAT;
    tp.has_raw_data = 1;
    tp.raw_data.len = (size_t)len * sizeof(float);
    tp.raw_data.data = (uint8_t *)data;
    uint8_t buf[128];
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    cr_assert_lt(n, sizeof buf);
    onnx__tensor_proto__pack(&tp, buf);
    put_len(o, num, buf, n);
}

/* Writes the bytes to a temporary file and reads them as kind. */
static bool read_bytes(const Bytes *o, ValueKind kind, HostTensor *out, HostLayout *lay,
                       Diag *d) {
    char path[] = "/tmp/onnxcc_seq_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, o->b, o->n), (ssize_t)o->n);
    close(fd);
    diag_init(d);
    bool ok = value_read_pb(path, kind, out, 4, lay, d);
    unlink(path);
    return ok;
}

Test(seq, read_value_files) {
    Bytes seq = { .n = 0 };
    put_len(&seq, 1, (const uint8_t *)"s", 1);
    put_small(&seq, 2, 1);                      /* elem_type TENSOR */
    put_tensor(&seq, 3, 2);
    put_tensor(&seq, 3, 3);
    HostTensor t[4];
    HostLayout lay;
    Diag d;
    cr_assert(read_bytes(&seq, VK_SEQUENCE, t, &lay, &d));
    cr_assert(lay.kind == VK_SEQUENCE && lay.present && lay.count == 2);
    cr_assert(t[0].rank == 1 && t[0].dims[0] == 2 && t[1].dims[0] == 3);
    cr_assert_eq(((float *)t[1].data)[2], 2.0f);
    tensor_free(&t[0]);
    tensor_free(&t[1]);
    diag_free(&d);

    /* an optional holding that sequence (field 5), then an empty one */
    Bytes opt = { .n = 0 };
    put_small(&opt, 2, 3);                      /* elem_type SEQUENCE */
    put_len(&opt, 5, seq.b, seq.n);
    cr_assert(read_bytes(&opt, VK_OPTIONAL, t, &lay, &d));
    cr_assert(lay.present && lay.inner == VK_SEQUENCE && lay.count == 2);
    tensor_free(&t[0]);
    tensor_free(&t[1]);
    diag_free(&d);
    Bytes empty = { .n = 0 };
    put_small(&empty, 2, 1);
    cr_assert(read_bytes(&empty, VK_OPTIONAL, t, &lay, &d));
    cr_assert(!lay.present && lay.count == 0);
    diag_free(&d);

    /* malformed: truncated, a map element type, more tensors than room for */
    Bytes cut = seq;
    cut.n -= 3;
    cr_assert_not(read_bytes(&cut, VK_SEQUENCE, t, &lay, &d));
    cr_assert_not_null(strstr(d.messages[0], "is not a valid SequenceProto"), "%s",
                       d.messages[0]);
    diag_free(&d);
    Bytes map = { .n = 0 };
    put_small(&map, 2, 4);
    cr_assert_not(read_bytes(&map, VK_SEQUENCE, t, &lay, &d));
    cr_assert_not_null(strstr(d.messages[0], "only sequences of tensors"), "%s",
                       d.messages[0]);
    diag_free(&d);
    Bytes many = { .n = 0 };
    for (int i = 0; i < 5; i++) put_tensor(&many, 3, 1);
    cr_assert_not(read_bytes(&many, VK_SEQUENCE, t, &lay, &d));
    cr_assert_not_null(strstr(d.messages[0], "more than 4 tensors"), "%s", d.messages[0]);
    diag_free(&d);
}

/* Reading `b` as `kind` fails with a message that contains `text`. */
static void expect_read_refused(const Bytes *b, ValueKind kind, const char *text) {
    HostTensor t[4];
    HostLayout lay;
    Diag d;
    cr_assert_not(read_bytes(b, kind, t, &lay, &d));
    cr_assert_not_null(strstr(d.messages[0], text), "%s", d.messages[0]);
    diag_free(&d);
}

Test(seq, read_refuses_what_it_cannot_hold) {
    /* a sequence of sequences (field 5), with no elem_type to announce it */
    Bytes inner = { .n = 0 };
    put_tensor(&inner, 3, 2);
    Bytes nested = { .n = 0 };
    put_len(&nested, 5, inner.b, inner.n);
    expect_read_refused(&nested, VK_SEQUENCE, "only sequences of tensors");
    /* an optional whose elem_type says tensor but which holds a sequence */
    Bytes liar = { .n = 0 };
    put_small(&liar, 2, 1);                     /* elem_type TENSOR */
    put_len(&liar, 5, inner.b, inner.n);
    expect_read_refused(&liar, VK_OPTIONAL, "says tensor but it holds a sequence");
    /* an optional holding a map (field 6) */
    Bytes map = { .n = 0 };
    put_len(&map, 6, inner.b, inner.n);
    expect_read_refused(&map, VK_OPTIONAL, "sparse tensor, map or optional");
}
