/* test_ir.c: the IR and the structural passes (toposort, DCE, verify), the arena, the
 * shape arithmetic, and the C-name helpers of the backend. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/emitter.h"
#include "base/arena.h"
#include "helpers.h"
#include "ir/shape.h"
#include "passes/pass.h"

Test(ir, arena_aligns_zeroes_and_limits) {
    Arena a;
    arena_init(&a, 4096);
    unsigned char *p = arena_alloc(&a, 10);
    unsigned char *q = arena_alloc(&a, 100);
    cr_assert(p && q);
    cr_assert_eq((uintptr_t)p % 64, 0);
    cr_assert_eq((uintptr_t)q % 64, 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(q[i], 0);
    cr_assert_null(arena_alloc(&a, 1 << 20), "the byte limit must refuse a large block");
    cr_assert_null(arena_array(&a, SIZE_MAX / 2, 4), "count * size overflow must fail");
    arena_free(&a);
}

Test(ir, values_nodes_and_shapes) {
    Graph *g = tb_graph();
    int64_t dims[] = {2, 3, 4};
    Value *x = tb_input(g, "x", 3, dims);
    cr_assert_eq(ir_numel(x), 24);
    cr_assert_eq(ir_nbytes(x), 96);
    char buf[64];
    cr_assert_str_eq(ir_shape_str(buf, sizeof buf, x), "float[2][3][4]");
    cr_assert_eq(ir_value_find(g, "x"), x);
    cr_assert_null(ir_value_find(g, "y"));
    Node *n = tb_node(g, "Relu", "r", 1, &x, 1);
    tb_output(g, n->outputs[0]);
    cr_assert_eq(ir_value_use_count(g, x), 1);
    cr_assert_null(ir_value_single_consumer(g, n->outputs[0]), "graph outputs have no single consumer");
    cr_assert_eq(ir_value_single_consumer(g, x), n);
    const char *u = ir_unique_name(g, "x");
    cr_assert(u && strcmp(u, "x") != 0 && !ir_value_find(g, u));
    ir_graph_free(g);
}

Test(ir, attributes_read_and_replace) {
    Graph *g = tb_graph();
    int64_t dims[] = {1};
    Value *x = tb_input(g, "x", 1, dims);
    Node *n = tb_node(g, "LeakyRelu", "l", 1, &x, 1);
    cr_assert_float_eq(ir_attr_float(n, "alpha", 0.01f), 0.01f, 0);
    tb_attr_float(g, n, "alpha", 0.5f);
    tb_attr_float(g, n, "alpha", 0.25f);
    cr_assert_float_eq(ir_attr_float(n, "alpha", 0.01f), 0.25f, 0);
    cr_assert_eq(n->n_attrs, 1, "replacing must not add a second attribute");
    int64_t v[] = {1, -2, 3};
    tb_attr_ints(g, n, "perm", v, 3);
    const int64_t *got;
    cr_assert_eq(ir_attr_ints(n, "perm", &got), 3);
    cr_assert_eq(got[1], -2);
    cr_assert_eq(ir_attr_int(n, "missing", 7), 7);
    ir_graph_free(g);
}

Test(ir, broadcast_and_axes) {
    int64_t a[] = {8, 1, 6, 1}, b[] = {7, 1, 5}, out[8];
    int rank;
    cr_assert(shape_broadcast(4, a, 3, b, &rank, out));
    cr_assert_eq(rank, 4);
    int64_t want[] = {8, 7, 6, 5};
    for (int i = 0; i < 4; i++) cr_assert_eq(out[i], want[i]);
    int64_t c[] = {3}, e[] = {4};
    cr_assert_not(shape_broadcast(1, c, 1, e, &rank, out));
    int ax;
    cr_assert(shape_axis(-1, 4, false, &ax) && ax == 3);
    cr_assert_not(shape_axis(4, 4, false, &ax));
    cr_assert(shape_axis(4, 4, true, &ax) && ax == 4);
    cr_assert_not(shape_axis(-5, 4, false, &ax));
    int64_t huge[] = {INT64_MAX / 2, 4};
    cr_assert_eq(shape_numel(2, huge), -1, "overflow must give -1");
}

/* A diamond given in reverse order: toposort must order it, ties by node id. */
Test(ir, toposort_orders_and_breaks_ties_by_id) {
    Graph *g = tb_graph();
    int64_t dims[] = {4};
    Value *x = tb_input(g, "x", 1, dims);
    Diag d;
    diag_init(&d);
    /* Build the consumers first with placeholder inputs, then wire them. */
    Node *add = tb_node(g, "Add", "add", 2, (Value *[]){x, x}, 1);
    Node *r1 = tb_node(g, "Relu", "r1", 1, &x, 1);
    Node *r2 = tb_node(g, "Sigmoid", "r2", 1, &x, 1);
    add->inputs[0] = r1->outputs[0];
    add->inputs[1] = r2->outputs[0];
    tb_output(g, add->outputs[0]);
    PassOptions po = {0};
    cr_assert(pass_toposort(g, &po, &d));
    cr_assert_eq(g->nodes[0], r1);
    cr_assert_eq(g->nodes[1], r2);
    cr_assert_eq(g->nodes[2], add);
    cr_assert_eq(add->outputs[0]->producer, add);
    cr_assert(ir_verify(g, &d));
    diag_free(&d);
    ir_graph_free(g);
}

Test(ir, toposort_reports_a_cycle) {
    Graph *g = tb_graph();
    int64_t dims[] = {4};
    Value *x = tb_input(g, "x", 1, dims);
    Node *a = tb_node(g, "Add", "a", 2, (Value *[]){x, x}, 1);
    Node *b = tb_node(g, "Relu", "b", 1, &x, 1);
    a->inputs[1] = b->outputs[0];
    b->inputs[0] = a->outputs[0];
    tb_output(g, b->outputs[0]);
    Diag d;
    diag_init(&d);
    PassOptions po = {0};
    cr_assert_not(pass_toposort(g, &po, &d));
    cr_assert_gt(d.n_errors, 0);
    cr_assert(strstr(d.messages[0], "cycle"), "message: %s", d.messages[0]);
    diag_free(&d);
    ir_graph_free(g);
}

Test(ir, dce_removes_unused_nodes) {
    Graph *g = tb_graph();
    int64_t dims[] = {4};
    Value *x = tb_input(g, "x", 1, dims);
    Node *used = tb_node(g, "Relu", "used", 1, &x, 1);
    tb_node(g, "Sigmoid", "unused", 1, &x, 1);
    tb_output(g, used->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d));
    cr_assert_eq(tb_count_live(g, "Sigmoid"), 0);
    cr_assert_eq(tb_count_live(g, "Relu"), 1);
    diag_free(&d);
    ir_graph_free(g);
}

Test(ir, unknown_ops_are_all_listed) {
    Graph *g = tb_graph();
    int64_t dims[] = {4};
    Value *x = tb_input(g, "x", 1, dims);
    Node *a = tb_node(g, "FancyOp", "first", 1, &x, 1);
    Node *b = tb_node(g, "OtherOp", "second", 1, a->outputs, 1);
    tb_output(g, b->outputs[0]);
    Diag d;
    cr_assert_not(tb_pipeline(g, true, &d));
    cr_assert_eq(d.n_errors, 2, "both unknown ops must be reported, got %d", d.n_errors);
    cr_assert(strstr(d.messages[0], "FancyOp") && strstr(d.messages[0], "first"));
    cr_assert(strstr(d.messages[1], "OtherOp") && strstr(d.messages[1], "second"));
    diag_free(&d);
    ir_graph_free(g);
}

Test(ir, verify_catches_use_before_definition) {
    Graph *g = tb_graph();
    int64_t dims[] = {4};
    Value *x = tb_input(g, "x", 1, dims);
    Node *a = tb_node(g, "Relu", "a", 1, &x, 1);
    Node *b = tb_node(g, "Relu", "b", 1, &x, 1);
    a->inputs[0] = b->outputs[0];   /* schedule order a, b: a reads b's output too early */
    tb_output(g, a->outputs[0]);
    Diag d;
    diag_init(&d);
    cr_assert_not(ir_verify(g, &d));
    cr_assert(strstr(d.messages[0], "before it is defined"), "%s", d.messages[0]);
    diag_free(&d);
    ir_graph_free(g);
}

Test(backend, names_are_sanitised_and_comments_safe) {
    char out[64];
    c_name_sanitize("conv1/weight:0", out, 40);
    cr_assert_str_eq(out, "conv1_weight_0");
    c_name_from_file("dir/resnet-18.onnx", out, sizeof out);
    cr_assert_str_eq(out, "resnet_18");
    c_name_from_file("3net.onnx", out, sizeof out);
    cr_assert_str_eq(out, "m3net");
    char buf[256];
    const char *t = c_comment_text(buf, sizeof buf, "a*/b\n?\?=\\", 80);
    cr_assert_null(strstr(t, "*/"));
    cr_assert_null(strchr(t, '\n'));
    cr_assert_null(strstr(t, "??"));
    cr_assert_str_eq(t, "a\\x2A/b\\x0A\\x3F\\x3F=\\x5C");
}

Test(backend, float_literals_round_trip) {
    char buf[40];
    cr_assert_str_eq(c_float(buf, 1.0f), "1.0f");
    cr_assert_str_eq(c_float(buf, 0.1f), "0.100000001f");
    /* Every literal reads back as the same float. */
    const float vals[] = {-3e-8f, 1e38f, 1.17549435e-38f, 1e-45f, 0.333333343f, -0.0f, 16777217.0f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float back = strtof(c_float(buf, vals[i]), NULL);
        cr_assert(memcmp(&back, &vals[i], sizeof back) == 0, "%s does not round-trip", buf);
    }
    cr_assert_str_eq(c_float(buf, 1.0f / 0.0f), "ONNXCC_INF");
    cr_assert_str_eq(c_int64(buf, INT64_MIN), "INT64_MIN");
    cr_assert_str_eq(c_int64(buf, 5000000000LL), "INT64_C(5000000000)");
}
