/* test_ops_quant.c: the quantization ops (quantize.c: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear; qlinear.c: MatMulInteger, QLinearMatMul, ConvInteger,
 * QLinearConv): inference and error paths on one-node graphs, folding on small constants
 * against values worked out by hand (or the ONNX spec's examples), and the emitted code
 * run end to end against the folder on the same data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* ---- QuantizeLinear ------------------------------------------------------------------- */

Test(quant, quantize_per_tensor_uint8) {
    /* the spec's example: x / 2 rounded half to even, + 128, saturated to [0, 255] */
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 6 },
                        (double[]){ 0, 2, 3, 1000, -254, -1000 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 2 });
    Value *z = tb_value(g, "z", DT_UINT8, 0, NULL, (double[]){ 128 });
    Node *n = tb_op_node(g, "QuantizeLinear", 10, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_UINT8, 1, (int64_t[]){ 6 },
              (double[]){ 128, 129, 130, 255, 1, 0 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_rounds_half_to_even_int8) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 7 },
                        (double[]){ 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, NAN });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 1 });
    Value *z = tb_value(g, "z", DT_INT8, 0, NULL, (double[]){ 0 });
    Node *n = tb_op_node(g, "QuantizeLinear", 13, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    /* NaN saturates to the lowest code */
    tb_expect(n->outputs[0], DT_INT8, 1, (int64_t[]){ 7 },
              (double[]){ 0, 2, 2, 0, -2, -2, -128 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_per_axis) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 3, 2 },
                        (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *s = tb_value(g, "s", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 1, 2, 4 });
    Value *z = tb_value(g, "z", DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 0, 10, 20 });
    Node *n = tb_op_node(g, "QuantizeLinear", 13, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    /* channel 1: 3/2 = 1.5 -> 2, 4/2 = 2; channel 2: 5/4 = 1.25 -> 1, 6/4 = 1.5 -> 2 */
    tb_expect(n->outputs[0], DT_UINT8, 3, (int64_t[]){ 1, 3, 2 },
              (double[]){ 1, 2, 12, 12, 21, 22 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_blocked_int16_output_dtype) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 5 },
                        (double[]){ 10, 20, 30, 40, 50, -1, -2, -3, -4, -5 });
    /* blocks of 2 along axis 1: ceil(5 / 2) = 3 scales per row */
    Value *s = tb_value(g, "s", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, (double[]){ 10, 0.5, 0.25,
                                                                              1, 2, 0.5 });
    Node *n = tb_op_node(g, "QuantizeLinear", 21, 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, n, "axis", 1);
    tb_attr_int(g, n, "block_size", 2);
    tb_attr_int(g, n, "output_dtype", DT_INT16);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT16, 2, (int64_t[]){ 2, 5 },
              (double[]){ 1, 2, 60, 80, 200, -1, -2, -2, -2, -10 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_default_uint8_and_half_input) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT16, 1, (int64_t[]){ 3 }, (double[]){ 1, 300, -4 });
    Value *s = tb_value(g, "s", DT_FLOAT16, 0, NULL, (double[]){ 0.5 });
    Node *n = tb_op_node(g, "QuantizeLinear", 19, 2, (Value *[]){ x, s }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 2, 255, 0 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_errors) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *s3 = tb_value(g, "s3", DT_FLOAT, 1, (int64_t[]){ 3 }, NULL);
    Value *s4 = tb_value(g, "s4", DT_FLOAT, 1, (int64_t[]){ 4 }, NULL);
    Value *z2 = tb_value(g, "z2", DT_UINT8, 1, (int64_t[]){ 2 }, NULL);
    Value *z64 = tb_value(g, "z64", DT_INT64, 1, (int64_t[]){ 3 }, NULL);
    Value *xi = tb_value(g, "xi", DT_INT64, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *si = tb_value(g, "si", DT_INT32, 0, NULL, NULL);
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 13, 2, (Value *[]){ x, s4 }, 1),
                "per-axis scale");
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 10, 2, (Value *[]){ x, s3 }, 1),
                "before opset 13");
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 13, 3, (Value *[]){ x, s3, z2 }, 1),
                "same shape");
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 21, 3, (Value *[]){ x, s3, z64 }, 1),
                "not supported");
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 21, 2, (Value *[]){ xi, s3 }, 1), "int64");
    tb_fold_err(g, tb_op_node(g, "QuantizeLinear", 21, 2, (Value *[]){ x, si }, 1), "scale");
    Value *z8 = tb_value(g, "z8", DT_INT8, 1, (int64_t[]){ 3 }, NULL);
    Node *od = tb_op_node(g, "QuantizeLinear", 21, 3, (Value *[]){ x, s3, z8 }, 1);
    tb_attr_int(g, od, "output_dtype", DT_UINT8);
    tb_fold_err(g, od, "output_dtype");
    Node *ax = tb_op_node(g, "QuantizeLinear", 13, 2, (Value *[]){ x, s3 }, 1);
    tb_attr_int(g, ax, "axis", 2);
    tb_fold_err(g, ax, "axis");
    Value *sb = tb_value(g, "sb", DT_FLOAT, 2, (int64_t[]){ 2, 1 }, NULL);
    Node *bl = tb_op_node(g, "QuantizeLinear", 21, 2, (Value *[]){ x, sb }, 1);
    tb_attr_int(g, bl, "block_size", 2);
    tb_fold_err(g, bl, "blocked quantization");
    Node *neg = tb_op_node(g, "QuantizeLinear", 21, 2, (Value *[]){ x, s3 }, 1);
    tb_attr_int(g, neg, "block_size", -1);
    tb_fold_err(g, neg, "block_size");
    ir_graph_free(g);
}

Test(quant, quantize_precision_float16) {
    /* 2.5004 is 2.5 in float16, which rounds to even: 2; in float it gives 3 */
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 1 }, (double[]){ 2.5004 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 1 });
    Node *f = tb_op_node(g, "QuantizeLinear", 23, 2, (Value *[]){ x, s }, 1);
    tb_fold_ok(g, f);
    tb_expect(f->outputs[0], DT_UINT8, 1, (int64_t[]){ 1 }, (double[]){ 3 }, TB_EXACT);
    Node *h = tb_op_node(g, "QuantizeLinear", 23, 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, h, "precision", DT_FLOAT16);
    tb_fold_ok(g, h);
    tb_expect(h->outputs[0], DT_UINT8, 1, (int64_t[]){ 1 }, (double[]){ 2 }, TB_EXACT);
    Node *bad = tb_op_node(g, "QuantizeLinear", 23, 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, bad, "precision", DT_DOUBLE);
    tb_fold_err(g, bad, "precision");
    ir_graph_free(g);
}

Test(quant, quantize_int4_uint2) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ -10, -8.5, 7.5, 20 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 1 });
    Value *z = tb_value(g, "z", DT_INT4, 1, (int64_t[]){ 1 }, (double[]){ 0 });
    Node *n = tb_op_node(g, "QuantizeLinear", 25, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT4, 1, (int64_t[]){ 4 }, (double[]){ -8, -8, 7, 7 }, TB_EXACT);
    Value *x2 = tb_value(g, "x2", DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ -1, 0.5, 1.5, 9 });
    Node *u = tb_op_node(g, "QuantizeLinear", 25, 2, (Value *[]){ x2, s }, 1);
    tb_attr_int(g, u, "output_dtype", DT_UINT2);
    tb_fold_ok(g, u);
    tb_expect(u->outputs[0], DT_UINT2, 1, (int64_t[]){ 4 }, (double[]){ 0, 0, 2, 3 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, quantize_float8_saturate) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 5 },
                        (double[]){ 0, 0.5, 448, 1000, -1000 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Value *z = tb_value(g, "z", DT_FLOAT8E4M3FN, 1, (int64_t[]){ 1 }, (double[]){ 0 });
    Node *n = tb_op_node(g, "QuantizeLinear", 21, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    /* x / 0.5; float8e4m3fn's largest finite value is 448 */
    tb_expect(n->outputs[0], DT_FLOAT8E4M3FN, 1, (int64_t[]){ 5 },
              (double[]){ 0, 1, 448, 448, -448 }, TB_EXACT);
    Node *ns = tb_op_node(g, "QuantizeLinear", 21, 3, (Value *[]){ x, s, z }, 1);
    tb_attr_int(g, ns, "saturate", 0);
    tb_fold_ok(g, ns);
    cr_assert(isnan(ou_get_f64(ns->outputs[0], 3)), "no saturation: NaN expected");
    ir_graph_free(g);
}

Test(quant, dequantize_float8_float4_ignore_zero_point) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT8E4M3FN, 1, (int64_t[]){ 3 }, (double[]){ 1, -2, 448 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 2 });
    Value *z = tb_value(g, "z", DT_FLOAT8E4M3FN, 1, (int64_t[]){ 1 }, (double[]){ 0 });
    Node *n = tb_op_node(g, "DequantizeLinear", 21, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 2, -4, 896 }, TB_EXACT);
    Value *x4 = tb_value(g, "x4", DT_FLOAT4E2M1, 1, (int64_t[]){ 2 }, (double[]){ 1.5, -6 });
    Value *z4 = tb_value(g, "z4", DT_FLOAT4E2M1, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Value *h = tb_value(g, "h", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Node *f4 = tb_op_node(g, "DequantizeLinear", 23, 3, (Value *[]){ x4, h, z4 }, 1);
    tb_fold_ok(g, f4);
    tb_expect(f4->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0.75, -3 }, TB_EXACT);
    ir_graph_free(g);
}

/* ---- DequantizeLinear ----------------------------------------------------------------- */

Test(quant, dequantize_per_tensor_int8) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_INT8, 1, (int64_t[]){ 3 }, (double[]){ -128, 0, 127 });
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Value *z = tb_value(g, "z", DT_INT8, 0, NULL, (double[]){ -1 });
    Node *n = tb_op_node(g, "DequantizeLinear", 10, 3, (Value *[]){ x, s, z }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ -63.5, 0.5, 64 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, dequantize_per_axis_half_scale_and_int32) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_UINT16, 2, (int64_t[]){ 2, 2 }, (double[]){ 0, 10, 1000, 3 });
    Value *s = tb_value(g, "s", DT_FLOAT16, 1, (int64_t[]){ 2 }, (double[]){ 2, 0.25 });
    Value *z = tb_value(g, "z", DT_UINT16, 1, (int64_t[]){ 2 }, (double[]){ 1, 3 });
    Node *n = tb_op_node(g, "DequantizeLinear", 21, 3, (Value *[]){ x, s, z }, 1);
    tb_attr_int(g, n, "axis", 1);
    tb_fold_ok(g, n);
    /* output takes the scale's type */
    tb_expect(n->outputs[0], DT_FLOAT16, 2, (int64_t[]){ 2, 2 },
              (double[]){ -2, 1.75, 1998, 0 }, TB_EXACT);
    Value *xi = tb_value(g, "xi", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ -7, 100000 });
    Value *sf = tb_value(g, "sf", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Node *m = tb_op_node(g, "DequantizeLinear", 13, 2, (Value *[]){ xi, sf }, 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ -3.5, 50000 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, dequantize_errors) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_UINT8, 1, (int64_t[]){ 3 }, NULL);
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, NULL);
    Value *zi = tb_value(g, "zi", DT_INT8, 0, NULL, NULL);
    Value *xf = tb_value(g, "xf", DT_FLOAT, 1, (int64_t[]){ 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "DequantizeLinear", 13, 3, (Value *[]){ x, s, zi }, 1),
                "must match");
    tb_fold_err(g, tb_op_node(g, "DequantizeLinear", 13, 2, (Value *[]){ xf, s }, 1),
                "dequantizing float");
    Node *od = tb_op_node(g, "DequantizeLinear", 23, 2, (Value *[]){ x, s }, 1);
    tb_attr_int(g, od, "output_dtype", DT_INT32);
    tb_fold_err(g, od, "output_dtype");
    ir_graph_free(g);
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------ */

Test(quant, dynamic_quantize_spec_example) {
    Graph *g = tb_graph();
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 6 },
                        (double[]){ 0, 2, -3, -2.5, 1.34, 0.5 });
    Node *n = tb_op_node(g, "DynamicQuantizeLinear", 11, 1, (Value *[]){ x }, 3);
    tb_fold_ok(g, n);
    /* scale = (2 - -3) / 255, zero point = round(3 / scale) = 153 */
    tb_expect(n->outputs[0], DT_UINT8, 1, (int64_t[]){ 6 },
              (double[]){ 153, 255, 0, 26, 221, 179 }, TB_EXACT);
    tb_expect(n->outputs[1], DT_FLOAT, 0, NULL, (double[]){ (double)(5.0f / 255.0f) }, TB_EXACT);
    tb_expect(n->outputs[2], DT_UINT8, 0, NULL, (double[]){ 153 }, TB_EXACT);
    Value *xi = tb_value(g, "xi", DT_INT8, 1, (int64_t[]){ 6 }, NULL);
    tb_fold_err(g, tb_op_node(g, "DynamicQuantizeLinear", 11, 1, (Value *[]){ xi }, 3),
                "takes float");
    ir_graph_free(g);
}

/* ---- MatMulInteger / QLinearMatMul ---------------------------------------------------- */

Test(quant, matmulinteger_spec_example) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_UINT8, 2, (int64_t[]){ 4, 3 },
                        (double[]){ 11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0 });
    Value *b = tb_value(g, "b", DT_UINT8, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 4, 2, 5, 3, 6 });
    Value *za = tb_value(g, "za", DT_UINT8, 0, NULL, (double[]){ 12 });
    Value *zb = tb_value(g, "zb", DT_UINT8, 0, NULL, (double[]){ 0 });
    Node *n = tb_op_node(g, "MatMulInteger", 10, 4, (Value *[]){ a, b, za, zb }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT32, 2, (int64_t[]){ 4, 2 },
              (double[]){ -38, -83, -44, -98, -50, -113, -56, -128 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, matmulinteger_per_row_column_and_broadcast) {
    Graph *g = tb_graph();
    /* A [2][1][2] (batch 2), B [2][2] broadcast; zero points per row of A (1) and per
     * column of B (2) */
    Value *a = tb_value(g, "a", DT_INT8, 3, (int64_t[]){ 2, 1, 2 }, (double[]){ 1, 2, -3, 4 });
    Value *b = tb_value(g, "b", DT_INT8, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 0, 2, 1 });
    Value *za = tb_value(g, "za", DT_INT8, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    Value *zb = tb_value(g, "zb", DT_INT8, 1, (int64_t[]){ 2 }, (double[]){ 0, 1 });
    Node *n = tb_op_node(g, "MatMulInteger", 10, 4, (Value *[]){ a, b, za, zb }, 1);
    tb_fold_ok(g, n);
    /* batch 0: [0, 1] @ [[1, -1], [2, 0]] = [2, 0]; batch 1: [-4, 3] @ ... = [2, 4] */
    tb_expect(n->outputs[0], DT_INT32, 3, (int64_t[]){ 2, 1, 2 }, (double[]){ 2, 0, 2, 4 },
              TB_EXACT);
    ir_graph_free(g);
}

Test(quant, qlinearmatmul_by_hand) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_UINT8, 2, (int64_t[]){ 1, 2 }, (double[]){ 2, 4 });
    Value *as = tb_value(g, "as", DT_FLOAT, 0, NULL, (double[]){ 0.5 });
    Value *az = tb_value(g, "az", DT_UINT8, 0, NULL, (double[]){ 0 });
    Value *b = tb_value(g, "b", DT_UINT8, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 255, 3, 255 });
    Value *bs = tb_value(g, "bs", DT_FLOAT, 0, NULL, (double[]){ 0.25 });
    Value *bz = tb_value(g, "bz", DT_UINT8, 0, NULL, (double[]){ 1 });
    Value *ys = tb_value(g, "ys", DT_FLOAT, 0, NULL, (double[]){ 0.125 });
    Value *yz = tb_value(g, "yz", DT_UINT8, 0, NULL, (double[]){ 10 });
    Node *n = tb_op_node(g, "QLinearMatMul", 10, 8, (Value *[]){ a, as, az, b, bs, bz, ys, yz },
                         1);
    tb_fold_ok(g, n);
    /* column 0: 2 * 0 + 4 * 2 = 8, * (0.5 * 0.25 / 0.125) + 10 = 18; column 1 saturates */
    tb_expect(n->outputs[0], DT_UINT8, 2, (int64_t[]){ 1, 2 }, (double[]){ 18, 255 }, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, qlinear_errors) {
    Graph *g = tb_graph();
    Value *a = tb_value(g, "a", DT_UINT8, 2, (int64_t[]){ 2, 3 }, NULL);
    Value *b = tb_value(g, "b", DT_UINT8, 2, (int64_t[]){ 4, 2 }, NULL);
    Value *b3 = tb_value(g, "b3", DT_UINT8, 2, (int64_t[]){ 3, 2 }, NULL);
    Value *bi = tb_value(g, "bi", DT_INT16, 2, (int64_t[]){ 3, 2 }, NULL);
    Value *zi = tb_value(g, "zi", DT_INT8, 0, NULL, NULL);
    Value *z5 = tb_value(g, "z5", DT_UINT8, 1, (int64_t[]){ 5 }, NULL);
    tb_fold_err(g, tb_op_node(g, "MatMulInteger", 10, 2, (Value *[]){ a, b }, 1), "differs");
    tb_fold_err(g, tb_op_node(g, "MatMulInteger", 10, 2, (Value *[]){ a, bi }, 1), "int8 or uint8");
    tb_fold_err(g, tb_op_node(g, "MatMulInteger", 10, 3, (Value *[]){ a, b3, zi }, 1),
                "must match");
    tb_fold_err(g, tb_op_node(g, "MatMulInteger", 10, 3, (Value *[]){ a, b3, z5 }, 1),
                "a 1-D tensor of 2 values");
    /* conv: channels not divisible by group, W's channels per group */
    Value *x = tb_value(g, "x", DT_UINT8, 4, (int64_t[]){ 1, 3, 4, 4 }, NULL);
    Value *w = tb_value(g, "w", DT_UINT8, 4, (int64_t[]){ 2, 3, 2, 2 }, NULL);
    Value *w1 = tb_value(g, "w1", DT_UINT8, 4, (int64_t[]){ 2, 1, 2, 2 }, NULL);
    Node *grp = tb_op_node(g, "ConvInteger", 10, 2, (Value *[]){ x, w }, 1);
    tb_attr_int(g, grp, "group", 2);
    tb_fold_err(g, grp, "group");
    tb_fold_err(g, tb_op_node(g, "ConvInteger", 10, 2, (Value *[]){ x, w1 }, 1),
                "channels per group");
    ir_graph_free(g);
}

/* ---- ConvInteger / QLinearConv -------------------------------------------------------- */

Test(quant, convinteger_spec_example) {
    Graph *g = tb_graph();
    double xs[9];
    for (int i = 0; i < 9; i++) xs[i] = 2 + i;
    Value *x = tb_value(g, "x", DT_UINT8, 4, (int64_t[]){ 1, 1, 3, 3 }, xs);
    Value *w = tb_value(g, "w", DT_UINT8, 4, (int64_t[]){ 1, 1, 2, 2 }, (double[]){ 1, 1, 1, 1 });
    Value *z = tb_value(g, "z", DT_UINT8, 0, NULL, (double[]){ 1 });
    Node *n = tb_op_node(g, "ConvInteger", 10, 3, (Value *[]){ x, w, z }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT32, 4, (int64_t[]){ 1, 1, 2, 2 },
              (double[]){ 12, 16, 24, 28 }, TB_EXACT);
    /* with pads 1: the corners see one input each (x - 1 = 1, 3, 7, 9) */
    Node *p = tb_op_node(g, "ConvInteger", 10, 3, (Value *[]){ x, w, z }, 1);
    tb_attr_ints(g, p, "pads", (int64_t[]){ 1, 1, 1, 1 }, 4);
    tb_fold_ok(g, p);
    const double *want = (double[]){ 1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9 };
    tb_expect(p->outputs[0], DT_INT32, 4, (int64_t[]){ 1, 1, 4, 4 }, want, TB_EXACT);
    ir_graph_free(g);
}

Test(quant, qlinearconv_bias_per_channel_scale) {
    Graph *g = tb_graph();
    /* 1-D convolution, two output channels of kernel 1 */
    Value *x = tb_value(g, "x", DT_INT8, 3, (int64_t[]){ 1, 1, 3 }, (double[]){ -2, 0, 5 });
    Value *xs = tb_value(g, "xs", DT_FLOAT, 0, NULL, (double[]){ 1 });
    Value *xz = tb_value(g, "xz", DT_INT8, 0, NULL, (double[]){ 1 });
    Value *w = tb_value(g, "w", DT_INT8, 3, (int64_t[]){ 2, 1, 1 }, (double[]){ 3, -1 });
    Value *ws = tb_value(g, "ws", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 0.5, 2 });
    Value *wz = tb_value(g, "wz", DT_INT8, 1, (int64_t[]){ 2 }, (double[]){ 1, 0 });
    Value *ys = tb_value(g, "ys", DT_FLOAT, 0, NULL, (double[]){ 1 });
    Value *yz = tb_value(g, "yz", DT_INT8, 0, NULL, (double[]){ 0 });
    Value *bias = tb_value(g, "bias", DT_INT32, 1, (int64_t[]){ 2 }, (double[]){ 1, -100 });
    Node *n = tb_op_node(g, "QLinearConv", 10, 9,
                         (Value *[]){ x, xs, xz, w, ws, wz, ys, yz, bias }, 1);
    tb_fold_ok(g, n);
    /* channel 0: ((x - 1) * 2 + 1) * 0.5 = -2.5 -> -2, -0.5 -> 0 (half even), 4.5 -> 4;
     * channel 1: ((x - 1) * -1 - 100) * 2 = -194 -> -128, -198, -208 -> -128 */
    tb_expect(n->outputs[0], DT_INT8, 3, (int64_t[]){ 1, 2, 3 },
              (double[]){ -2, 0, 4, -128, -128, -128 }, TB_EXACT);
    ir_graph_free(g);
}

/* ---- the emitted code against the folder ---------------------------------------------- */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: the float output must agree exactly (both compute the
 * same float ops). */
static void emit_vs_fold(TbBuild build) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_EXACT,
                                    .float_out = true });
}

/* No axis attribute (per-tensor parameters). */
enum { NO_AXIS = -1 };

static Node *quantize(Graph *g, bool konst, const char *name, Value *x, Value *s, Value *z,
                      int axis) {
    Node *q = tb_node(g, "QuantizeLinear", name, z ? 3 : 2, (Value *[]){ x, s, z }, 1);
    q->opset = 21;
    if (axis != NO_AXIS) tb_attr_int(g, q, "axis", axis);
    if (konst) tb_fold_chain(g, (Node *[]){ q }, 1);
    return q;
}

static Node *dequantize(Graph *g, const char *name, Value *x, Value *s, Value *z) {
    Node *n = tb_node(g, "DequantizeLinear", name, z ? 3 : 2, (Value *[]){ x, s, z }, 1);
    n->opset = 21;
    return n;
}

/* float -> per-axis uint8 -> float */
static Node *b_qdq_axis(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 3, 5 }, 0);
    Value *s = tb_value(g, "s", DT_FLOAT, 1, (int64_t[]){ 3 }, (double[]){ 0.01, 0.02, 0.003 });
    Value *z = tb_value(g, "z", DT_UINT8, 1, (int64_t[]){ 3 }, (double[]){ 128, 100, 0 });
    Node *q = quantize(g, konst, "q", x, s, z, 1);
    Node *dq = dequantize(g, "dq", q->outputs[0], s, z);
    tb_attr_int(g, dq, "axis", 1);
    return dq;
}

/* float -> blocked int8 (no zero point) -> float */
static Node *b_qdq_blocked(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 7 }, 0);
    Value *s = tb_value(g, "s", DT_FLOAT, 2, (int64_t[]){ 3, 3 },
                        (double[]){ 0.01, 0.02, 0.03, 0.004, 0.05, 0.006, 0.07, 0.008, 0.09 });
    Node *q = tb_node(g, "QuantizeLinear", "q", 2, (Value *[]){ x, s }, 1);
    q->opset = 21;
    tb_attr_int(g, q, "axis", 1);
    tb_attr_int(g, q, "block_size", 3);
    tb_attr_int(g, q, "output_dtype", DT_INT8);
    if (konst) tb_fold_chain(g, (Node *[]){ q }, 1);
    Node *dq = dequantize(g, "dq", q->outputs[0], s, NULL);
    tb_attr_int(g, dq, "axis", 1);
    tb_attr_int(g, dq, "block_size", 3);
    return dq;
}

/* DynamicQuantizeLinear, then back to float with its own scale and zero point */
static Node *b_dynamic(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 4, 6 }, 0);
    Node *q = tb_node(g, "DynamicQuantizeLinear", "dq8", 1, (Value *[]){ x }, 3);
    q->opset = 11;
    if (konst) tb_fold_chain(g, (Node *[]){ q }, 1);
    return dequantize(g, "dq", q->outputs[0], q->outputs[1], q->outputs[2]);
}

/* a (uint8) @ b (int8, per-column scale and zero point) -> uint8 -> float */
static Node *b_qlinearmatmul(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 3, (int64_t[]){ 2, 3, 5 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 2, (int64_t[]){ 5, 4 }, 1);
    Value *as = tb_value(g, "as", DT_FLOAT, 0, NULL, (double[]){ 0.01 });
    Value *az = tb_value(g, "az", DT_UINT8, 0, NULL, (double[]){ 120 });
    Value *bs = tb_value(g, "bs", DT_FLOAT, 1, (int64_t[]){ 4 },
                         (double[]){ 0.01, 0.02, 0.03, 0.01 });
    Value *bz = tb_value(g, "bz", DT_INT8, 1, (int64_t[]){ 4 }, (double[]){ 0, 3, -5, 1 });
    Value *ys = tb_value(g, "ys", DT_FLOAT, 0, NULL, (double[]){ 0.02 });
    Value *yz = tb_value(g, "yz", DT_UINT8, 0, NULL, (double[]){ 128 });
    Node *qa = quantize(g, konst, "qa", a, as, az, NO_AXIS);
    Node *qb = quantize(g, konst, "qb", b, bs, bz, 1);
    Value *qa0 = qa->outputs[0], *qb0 = qb->outputs[0];
    Node *mm = tb_node(g, "QLinearMatMul", "mm", 8,
                       (Value *[]){ qa0, as, az, qb0, bs, bz, ys, yz }, 1);
    mm->opset = 21;
    if (konst) tb_fold_chain(g, (Node *[]){ mm }, 1);
    return dequantize(g, "dq", mm->outputs[0], ys, yz);
}

/* MatMulInteger's int32 back to float through DequantizeLinear */
static Node *b_matmulinteger(Graph *g, bool konst) {
    Value *a = tb_e2e_input(g, konst, "a", 2, (int64_t[]){ 3, 6 }, 0);
    Value *b = tb_e2e_input(g, konst, "b", 3, (int64_t[]){ 2, 6, 5 }, 1);
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 0.01 });
    Value *za = tb_value(g, "za", DT_INT8, 0, NULL, (double[]){ 3 });
    Value *zb = tb_value(g, "zb", DT_UINT8, 0, NULL, (double[]){ 100 });
    Node *qa = quantize(g, konst, "qa", a, s, za, NO_AXIS);
    Node *qb = quantize(g, konst, "qb", b, s, zb, NO_AXIS);
    Node *mm = tb_node(g, "MatMulInteger", "mm", 4,
                       (Value *[]){ qa->outputs[0], qb->outputs[0], za, zb }, 1);
    mm->opset = 10;
    if (konst) tb_fold_chain(g, (Node *[]){ mm }, 1);
    return dequantize(g, "dq", mm->outputs[0], s, NULL);
}

/* QLinearConv, 2 groups, stride 2, dilation, asymmetric pads, per-channel weights, bias */
static Node *b_qlinearconv(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 4, 7, 6 }, 0);
    Value *w = tb_e2e_input(g, konst, "w", 4, (int64_t[]){ 6, 2, 3, 2 }, 1);
    Value *xs = tb_value(g, "xs", DT_FLOAT, 0, NULL, (double[]){ 0.01 });
    Value *xz = tb_value(g, "xz", DT_UINT8, 0, NULL, (double[]){ 128 });
    double wsv[6] = { 0.01, 0.02, 0.005, 0.01, 0.03, 0.02 };
    Value *ws = tb_value(g, "ws", DT_FLOAT, 1, (int64_t[]){ 6 }, wsv);
    Value *wz = tb_value(g, "wz", DT_UINT8, 1, (int64_t[]){ 6 }, (double[]){ 128, 120, 130, 128,
                                                                              100, 128 });
    Value *ys = tb_value(g, "ys", DT_FLOAT, 0, NULL, (double[]){ 0.003 });
    Value *yz = tb_value(g, "yz", DT_INT8, 0, NULL, (double[]){ -3 });
    Value *bias = tb_value(g, "bias", DT_INT32, 1, (int64_t[]){ 6 },
                           (double[]){ 100, -200, 0, 5000, -7, 3 });
    Node *qx = quantize(g, konst, "qx", x, xs, xz, NO_AXIS);
    Node *qw = quantize(g, konst, "qw", w, ws, wz, 0);
    Value *qx0 = qx->outputs[0], *qw0 = qw->outputs[0];
    Node *cv = tb_node(g, "QLinearConv", "cv", 9,
                       (Value *[]){ qx0, xs, xz, qw0, ws, wz, ys, yz, bias }, 1);
    cv->opset = 10;
    tb_attr_int(g, cv, "group", 2);
    tb_attr_ints(g, cv, "strides", (int64_t[]){ 2, 1 }, 2);
    tb_attr_ints(g, cv, "dilations", (int64_t[]){ 1, 2 }, 2);
    tb_attr_ints(g, cv, "pads", (int64_t[]){ 1, 0, 2, 1 }, 4);
    if (konst) tb_fold_chain(g, (Node *[]){ cv }, 1);
    return dequantize(g, "dq", cv->outputs[0], ys, yz);
}

/* ConvInteger 1-D with SAME_UPPER padding and a per-channel weight zero point */
static Node *b_convinteger(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 1, 3, 9 }, 0);
    Value *w = tb_e2e_input(g, konst, "w", 3, (int64_t[]){ 2, 3, 4 }, 1);
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 0.02 });
    Value *xz = tb_value(g, "xz", DT_UINT8, 0, NULL, (double[]){ 7 });
    Value *wz = tb_value(g, "wz", DT_INT8, 1, (int64_t[]){ 2 }, (double[]){ 2, -1 });
    Node *qx = quantize(g, konst, "qx", x, s, xz, NO_AXIS);
    Value *wz0 = tb_value(g, "wz0", DT_INT8, 0, NULL, (double[]){ 0 });
    Node *qw = quantize(g, konst, "qw", w, s, wz0, NO_AXIS);
    Node *cv = tb_node(g, "ConvInteger", "cv", 4, (Value *[]){ qx->outputs[0], qw->outputs[0],
                                                               xz, wz }, 1);
    cv->opset = 10;
    tb_attr_str(g, cv, "auto_pad", "SAME_UPPER");
    tb_attr_ints(g, cv, "strides", (int64_t[]){ 2 }, 1);
    if (konst) tb_fold_chain(g, (Node *[]){ cv }, 1);
    return dequantize(g, "dq", cv->outputs[0], s, NULL);
}

/* float -> int4 per axis -> float */
static Node *b_qdq_int4(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 4, 5 }, 0);
    Value *s = tb_value(g, "s", DT_FLOAT, 1, (int64_t[]){ 5 },
                        (double[]){ 0.1, 0.2, 0.05, 0.3, 1 });
    Value *z = tb_value(g, "z", DT_INT4, 1, (int64_t[]){ 5 }, (double[]){ 0, 1, -2, 3, 0 });
    Node *q = quantize(g, konst, "q", x, s, z, 1);
    Node *dq = dequantize(g, "dq", q->outputs[0], s, z);
    tb_attr_int(g, dq, "axis", 1);
    return dq;
}

/* float -> float8e5m2 without saturation -> float */
static Node *b_qdq_float8(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 1, (int64_t[]){ 40 }, 0);
    Value *s = tb_value(g, "s", DT_FLOAT, 0, NULL, (double[]){ 1e-5 });
    Node *q = tb_node(g, "QuantizeLinear", "q", 2, (Value *[]){ x, s }, 1);
    q->opset = 21;
    tb_attr_int(g, q, "output_dtype", DT_FLOAT8E5M2);
    tb_attr_int(g, q, "saturate", 0);
    if (konst) tb_fold_chain(g, (Node *[]){ q }, 1);
    return dequantize(g, "dq", q->outputs[0], s, NULL);
}

/* half scales: float x with a float16 scale in bfloat16 precision, back to float */
static Node *b_qdq_half(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 2, (int64_t[]){ 3, 8 }, 0);
    Value *s = tb_value(g, "s", DT_FLOAT16, 0, NULL, (double[]){ 0.0078125 });
    Value *z = tb_value(g, "z", DT_INT8, 0, NULL, (double[]){ -3 });
    Node *q = tb_node(g, "QuantizeLinear", "q", 3, (Value *[]){ x, s, z }, 1);
    q->opset = 23;
    tb_attr_int(g, q, "precision", DT_BFLOAT16);
    if (konst) tb_fold_chain(g, (Node *[]){ q }, 1);
    Node *dq = dequantize(g, "dq", q->outputs[0], s, z);
    dq->opset = 23;
    tb_attr_int(g, dq, "output_dtype", DT_FLOAT);
    return dq;
}

Test(quant_run, qdq_int4_per_axis) { emit_vs_fold(b_qdq_int4); }
Test(quant_run, qdq_float8_no_saturation) { emit_vs_fold(b_qdq_float8); }
Test(quant_run, qdq_half_scale_bf16_precision) { emit_vs_fold(b_qdq_half); }
Test(quant_run, qdq_per_axis) { emit_vs_fold(b_qdq_axis); }
Test(quant_run, qdq_blocked) { emit_vs_fold(b_qdq_blocked); }
Test(quant_run, dynamic_quantize) { emit_vs_fold(b_dynamic); }
Test(quant_run, qlinearmatmul_broadcast_per_column) { emit_vs_fold(b_qlinearmatmul); }
Test(quant_run, matmulinteger_batched) { emit_vs_fold(b_matmulinteger); }
Test(quant_run, qlinearconv_groups_strides_pads) { emit_vs_fold(b_qlinearconv); }
Test(quant_run, convinteger_same_upper) { emit_vs_fold(b_convinteger); }
