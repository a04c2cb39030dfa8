/* test_ops_types.c: the low-precision element types (float8 variants, float4e2m1,
 * float8e8m0, int4/uint4, int2/uint2): dtype facts, the conversions of onnxcc_lowp.h on
 * values derived by hand from the formats, the frontend's unpacking and packing of the
 * sub-byte types, Cast/CastLike (saturate, round_mode) and BitCast inference, folding and
 * error paths, and the emitted code run end to end against the folder. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tensor_data.h"
#include "helpers.h"
#include "ir/graph.h"
#include "onnxcc_lowp.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* ---- small helpers (the pattern of test_ops_more.c) ------------------------------------ */

/* Output 0's raw bytes (one per element for the low-precision types). */
static void expect_bytes(const Value *v, DType t, const uint8_t *want, int64_t count) {
    cr_assert_eq(v->dtype, t, "dtype %s, expected %s", dtype_name(v->dtype), dtype_name(t));
    cr_assert_eq(ir_numel(v), count);
    for (int64_t i = 0; i < count; i++)
        cr_assert_eq(((const uint8_t *)v->data)[i], want[i], "byte %lld is 0x%02x, expected "
                     "0x%02x", (long long)i, ((const uint8_t *)v->data)[i], want[i]);
}

/* A Cast (or CastLike with `like`) of a float constant to t, folded. */
static Node *cast_of(Graph *g, DType t, const double *vals, int count, Value *like) {
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ count }, vals);
    Node *n = like ? tb_op_node(g, "CastLike", 24, 2, (Value *[]){ x, like }, 1)
                   : tb_op_node(g, "Cast", 24, 1, (Value *[]){ x }, 1);
    if (!like) tb_attr_int(g, n, "to", t);
    return n;
}

/* ---- dtype facts ------------------------------------------------------------------------- */

Test(types, dtype_facts) {
    const DType lowp[] = { DT_FLOAT8E4M3FN, DT_FLOAT8E4M3FNUZ, DT_FLOAT8E5M2, DT_FLOAT8E5M2FNUZ,
                           DT_UINT4, DT_INT4, DT_FLOAT4E2M1, DT_FLOAT8E8M0, DT_UINT2, DT_INT2 };
    for (size_t k = 0; k < sizeof lowp / sizeof lowp[0]; k++) {
        cr_assert_eq(dtype_size(lowp[k]), 1, "%s is one byte in memory", dtype_name(lowp[k]));
        cr_assert(dtype_is_lowp(lowp[k]));
        cr_assert_not(dtype_is_float(lowp[k]), "%s is not an arithmetic float",
                      dtype_name(lowp[k]));
        cr_assert_not(dtype_is_integer(lowp[k]));
        cr_assert(dtype_is_valid((int)lowp[k]));
    }
    cr_assert_str_eq(dtype_name(DT_FLOAT8E4M3FN), "float8e4m3fn");
    cr_assert_str_eq(dtype_name(DT_INT2), "int2");
    cr_assert_str_eq(dtype_ctype(DT_INT4), "int8_t");
    cr_assert_str_eq(dtype_ctype(DT_FLOAT8E5M2), "uint8_t");
    cr_assert_eq(dtype_packed_bits(DT_INT4), 4);
    cr_assert_eq(dtype_packed_bits(DT_FLOAT4E2M1), 4);
    cr_assert_eq(dtype_packed_bits(DT_UINT2), 2);
    cr_assert_eq(dtype_packed_bits(DT_FLOAT8E8M0), 8);
    cr_assert_eq(dtype_packed_bits(DT_FLOAT), 32);
    cr_assert(dtype_is_lowp_float(DT_FLOAT8E8M0));
    cr_assert(dtype_is_lowp_int(DT_UINT2));
    cr_assert_not(dtype_is_lowp(DT_UINT8));
    cr_assert_eq(dtype_size((DType)27), 0, "float6e2m3 is not held");
    cr_assert_not(dtype_is_valid(29));
}

/* ---- conversions (onnxcc_lowp.h) --------------------------------------------------------- */

/* float8e4m3fn: bias 7, max 1.75 * 2^8 = 448 (0x7e), NaN S.1111.111, no Inf. */
Test(types, e4m3fn_values) {
    const int t = ONNXCC_LOWP_F8E4M3FN;
    cr_assert_eq(onnxcc_lowp_from_float(t, 1.0f, 1), 0x38);        /* 2^0: field 7 */
    cr_assert_eq(onnxcc_lowp_from_float(t, -2.0f, 1), 0xc0);
    cr_assert_eq(onnxcc_lowp_from_float(t, 448.0f, 0), 0x7e);
    cr_assert_eq(onnxcc_lowp_from_float(t, 464.0f, 0), 0x7e, "tie to even stays at 448");
    cr_assert_eq(onnxcc_lowp_from_float(t, 470.0f, 0), 0x7f, "rounds past max: NaN");
    cr_assert_eq(onnxcc_lowp_from_float(t, 470.0f, 1), 0x7e, "saturates");
    cr_assert_eq(onnxcc_lowp_from_float(t, -INFINITY, 1), 0xfe);
    cr_assert_eq(onnxcc_lowp_from_float(t, -INFINITY, 0), 0xff);
    cr_assert_eq(onnxcc_lowp_from_float(t, NAN, 1), 0x7f);
    cr_assert_eq(onnxcc_lowp_from_float(t, -0.0f, 1), 0x80);
    cr_assert_eq(onnxcc_lowp_from_float(t, 0x1p-9f, 1), 0x01, "smallest subnormal");
    cr_assert_eq(onnxcc_lowp_from_float(t, 0x1p-10f, 1), 0x00, "half of it: tie to 0");
    cr_assert_eq(onnxcc_lowp_from_float(t, 0x1.8p-10f, 1), 0x01);
    cr_assert_eq(onnxcc_lowp_from_float(t, 0x1.ep-7f, 1), 0x08, "7.5 * 2^-10 carries into "
                 "the smallest normal");
    cr_assert_eq(onnxcc_lowp_to_float(t, 0x7e), 448.0f);
    cr_assert_eq(onnxcc_lowp_to_float(t, 0x01), 0x1p-9f);
    cr_assert_eq(onnxcc_lowp_to_float(t, 0x0b), 0x1.6p-6f, "normal 1.011b * 2^-6");
    cr_assert(isnan(onnxcc_lowp_to_float(t, 0xff)));
    cr_assert(signbit(onnxcc_lowp_to_float(t, 0x80)));
}

/* The fnuz types: one NaN (0x80), no -0, no Inf; bias 8 (e4m3) and 16 (e5m2). */
Test(types, fnuz_values) {
    const int a = ONNXCC_LOWP_F8E4M3FNUZ, b = ONNXCC_LOWP_F8E5M2FNUZ;
    cr_assert_eq(onnxcc_lowp_from_float(a, 1.0f, 1), 0x40);
    cr_assert_eq(onnxcc_lowp_from_float(b, 1.0f, 1), 0x40);
    cr_assert_eq(onnxcc_lowp_from_float(a, -0.0f, 0), 0x00);
    cr_assert_eq(onnxcc_lowp_from_float(b, -1e-30f, 1), 0x00);
    cr_assert_eq(onnxcc_lowp_from_float(a, INFINITY, 0), 0x80);
    cr_assert_eq(onnxcc_lowp_from_float(a, INFINITY, 1), 0x7f);
    cr_assert_eq(onnxcc_lowp_from_float(a, 1e6f, 0), 0x80);
    cr_assert_eq(onnxcc_lowp_to_float(a, 0x7f), 240.0f);
    cr_assert_eq(onnxcc_lowp_to_float(b, 0x7f), 57344.0f);
    cr_assert(isnan(onnxcc_lowp_to_float(b, 0x80)));
}

/* float8e5m2: IEEE-like, bias 15, max 57344 (0x7b), Inf 0x7c. */
Test(types, e5m2_values) {
    const int t = ONNXCC_LOWP_F8E5M2;
    cr_assert_eq(onnxcc_lowp_from_float(t, 1.0f, 1), 0x3c);
    cr_assert_eq(onnxcc_lowp_from_float(t, 1e6f, 0), 0x7c);
    cr_assert_eq(onnxcc_lowp_from_float(t, -1e6f, 1), 0xfb);
    cr_assert_eq(onnxcc_lowp_from_float(t, 61439.0f, 0), 0x7b, "below the midpoint to 2^16");
    cr_assert_eq(onnxcc_lowp_from_float(t, NAN, 0), 0x7e);
    cr_assert_eq(onnxcc_lowp_to_float(t, 0xfc), -INFINITY);
    cr_assert(isnan(onnxcc_lowp_to_float(t, 0x7d)));
    cr_assert_eq(onnxcc_lowp_to_float(t, 0x01), 0x1p-16f);
}

/* float4e2m1: 0, 0.5, 1, 1.5, 2, 3, 4, 6; always saturates; NaN -> zero, sign inverted. */
Test(types, float4_values) {
    const int t = ONNXCC_LOWP_F4E2M1;
    const float vals[8] = { 0, 0.5f, 1, 1.5f, 2, 3, 4, 6 };
    for (int c = 0; c < 8; c++) {
        cr_assert_eq(onnxcc_lowp_to_float(t, (uint8_t)c), vals[c]);
        cr_assert_eq(onnxcc_lowp_to_float(t, (uint8_t)(c | 8)), -vals[c]);
        cr_assert_eq(onnxcc_lowp_from_float(t, vals[c], 0), c);
    }
    cr_assert_eq(onnxcc_lowp_from_float(t, 0.25f, 1), 0x0, "tie to even: 0");
    cr_assert_eq(onnxcc_lowp_from_float(t, 0.75f, 1), 0x2, "tie to even: 1.0");
    cr_assert_eq(onnxcc_lowp_from_float(t, 5.0f, 1), 0x6, "tie to even: 4");
    cr_assert_eq(onnxcc_lowp_from_float(t, 1e6f, 0), 0x7);
    cr_assert_eq(onnxcc_lowp_from_float(t, -INFINITY, 0), 0xf);
    cr_assert_eq(onnxcc_lowp_from_float(t, NAN, 1), 0x8);
    cr_assert_eq(onnxcc_lowp_from_float(t, -NAN, 1), 0x0);
}

/* float8e8m0: 2^(e-127); round up / down / nearest (ties up); saturate stops at 0xfe. */
Test(types, e8m0_values) {
    cr_assert_eq(onnxcc_e8m0_to_float(127), 1.0f);
    cr_assert_eq(onnxcc_e8m0_to_float(0), 0x1p-127f);
    cr_assert(isnan(onnxcc_e8m0_to_float(0xff)));
    cr_assert_eq(onnxcc_e8m0_from_float(1.1f, 1, ONNXCC_ROUND_UP), 128);
    cr_assert_eq(onnxcc_e8m0_from_float(1.1f, 1, ONNXCC_ROUND_DOWN), 127);
    cr_assert_eq(onnxcc_e8m0_from_float(1.1f, 1, ONNXCC_ROUND_NEAREST), 127);
    cr_assert_eq(onnxcc_e8m0_from_float(3.0f, 1, ONNXCC_ROUND_NEAREST), 129, "tie rounds up");
    cr_assert_eq(onnxcc_e8m0_from_float(2.9f, 1, ONNXCC_ROUND_NEAREST), 128);
    cr_assert_eq(onnxcc_e8m0_from_float(0x1.8p127f, 1, ONNXCC_ROUND_UP), 0xfe);
    cr_assert_eq(onnxcc_e8m0_from_float(0x1.8p127f, 0, ONNXCC_ROUND_UP), 0xff);
    cr_assert_eq(onnxcc_e8m0_from_float(INFINITY, 1, ONNXCC_ROUND_UP), 0xff);
    cr_assert_eq(onnxcc_e8m0_from_float(0.0f, 1, ONNXCC_ROUND_UP), 0);
    cr_assert_eq(onnxcc_lowp_from_float(ONNXCC_LOWP_F8E8M0, 4.0f, 1), 129);
}

/* int4/uint4/int2/uint2: truncate, then wrap (two's complement). */
Test(types, small_int_values) {
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, 8.0), -8);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, 9.7), -7);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, -9.0), 7);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_UINT4, -1.0), 15);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_UINT2, 5.0), 1);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT2, 2.0), -2);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, NAN), 0);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, -INFINITY), 0);
    cr_assert_eq(onnxcc_lowp_int_from_double(ONNXCC_LOWP_INT4, 1e30), 0);
    cr_assert_eq(onnxcc_lowp_int_wrap(ONNXCC_LOWP_INT2, INT64_MIN), 0);
    cr_assert_eq(onnxcc_lowp_int_min(ONNXCC_LOWP_INT4), -8);
    cr_assert_eq(onnxcc_lowp_int_max(ONNXCC_LOWP_UINT2), 3);
}

/* Every float8 bit pattern decodes to a value that encodes back to the same bits (NaNs
 * to a NaN, fnuz's 0x80 aside, -0 of the fnuz types does not exist). */
Test(types, float8_round_trip) {
    const int types[] = { ONNXCC_LOWP_F8E4M3FN, ONNXCC_LOWP_F8E4M3FNUZ, ONNXCC_LOWP_F8E5M2,
                          ONNXCC_LOWP_F8E5M2FNUZ };
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 256; b++) {
            const float f = onnxcc_lowp_to_float(types[k], (uint8_t)b);
            const uint8_t back = onnxcc_lowp_from_float(types[k], f, 0);
            if (isnan(f)) cr_assert(isnan(onnxcc_lowp_to_float(types[k], back)));
            else cr_assert_eq(back, b, "type %d bits 0x%02x -> %g -> 0x%02x", types[k], b,
                              (double)f, back);
        }
}

/* ---- frontend packing ---------------------------------------------------------------------- */

Test(types, unpack_and_pack) {
    /* int4 [7, -1, -8] packed low nibble first: 0xf7, 0x08 */
    uint8_t buf[4] = { 0xf7, 0x08, 0, 0 };
    cr_assert_eq(tensor_packed_size(DT_INT4, 3), 2);
    tensor_unpack_lowp(DT_INT4, buf, 3);
    cr_assert_eq((int8_t)buf[0], 7);
    cr_assert_eq((int8_t)buf[1], -1);
    cr_assert_eq((int8_t)buf[2], -8);
    uint8_t packed[2] = { 0xaa, 0xaa };
    tensor_pack_lowp(DT_INT4, buf, 3, packed);
    cr_assert_eq(packed[0], 0xf7);
    cr_assert_eq(packed[1], 0x08, "padding bits are zero");
    /* uint2 [1, 2, 3, 0, 3] in two bytes: 0b00111001, 0b00000011 */
    uint8_t u2[5] = { 0x39, 0x03 };
    cr_assert_eq(tensor_packed_size(DT_UINT2, 5), 2);
    tensor_unpack_lowp(DT_UINT2, u2, 5);
    const uint8_t want[5] = { 1, 2, 3, 0, 3 };
    cr_assert_arr_eq(u2, want, 5);
    cr_assert_eq(tensor_packed_size(DT_FLOAT8E5M2, 5), 5);
    cr_assert_eq(tensor_packed_size(DT_FLOAT, 5), 20);
}

/* raw_data of a packed type: its length is the packed size, checked. */
Test(types, tensor_proto_packed) {
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[1] = { 3 };
    uint8_t raw[2] = { 0x21, 0x0f };               /* uint4 [1, 2, 15] */
    tp.n_dims = 1;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = DT_UINT4;
    tp.has_raw_data = 1;
    tp.raw_data.len = 2;
    tp.raw_data.data = raw;
    Diag d;
    diag_init(&d);
    TensorMeta m;
    cr_assert(tensor_proto_meta(&tp, "t", &m, &d));
    cr_assert_eq(m.nbytes, 3);
    cr_assert_eq(m.stored_bytes, 2);
    uint8_t out[3];
    cr_assert(tensor_proto_data(&tp, &m, NULL, "t", out, &d));
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
    cr_assert_eq(out[2], 15);
    tp.raw_data.len = 3;
    cr_assert_not(tensor_proto_data(&tp, &m, NULL, "t", out, &d));
    cr_assert_not_null(strstr(d.messages[0], "3 bytes of raw_data, but its shape needs 2"));
    diag_free(&d);
    /* int32_data: one packed byte per entry */
    diag_init(&d);
    int32_t i32[2] = { 0x21, 0x0f };
    tp.has_raw_data = 0;
    tp.n_int32_data = 2;
    tp.int32_data = i32;
    memset(out, 0, sizeof out);
    cr_assert(tensor_proto_data(&tp, &m, NULL, "t", out, &d));
    cr_assert_eq(out[2], 15);
    tp.n_int32_data = 3;
    cr_assert_not(tensor_proto_data(&tp, &m, NULL, "t", out, &d));
    cr_assert_not_null(strstr(d.messages[0], "needs 2 packed bytes"));
    diag_free(&d);
    /* an entry that is no byte (signed or unsigned) is refused, not truncated */
    diag_init(&d);
    int32_t wide[2] = { 0x21, 300 };
    tp.n_int32_data = 2;
    tp.int32_data = wide;
    cr_assert_not(tensor_proto_data(&tp, &m, NULL, "t", out, &d));
    cr_assert_not_null(strstr(d.messages[0], "entry 1 is 300, not a packed byte"));
    diag_free(&d);
}

/* ---- Cast and CastLike -------------------------------------------------------------------- */

Test(types, cast_to_float8_saturate) {
    Graph *g = ir_graph_new(0);
    const double vals[4] = { 1.0, 1000.0, -INFINITY, 0.3 };
    Node *n = cast_of(g, DT_FLOAT8E4M3FN, vals, 4, NULL);
    tb_fold_ok(g, n);
    /* 0.3 = 1.2 * 2^-2: mantissa 1.2 * 8 = 9.6 -> 10 = 0b1010, exponent field 5 */
    expect_bytes(n->outputs[0], DT_FLOAT8E4M3FN, (const uint8_t[]){ 0x38, 0x7e, 0xfe, 0x2a },
                 4);
    Node *ns = cast_of(g, DT_FLOAT8E4M3FN, vals, 4, NULL);
    tb_attr_int(g, ns, "saturate", 0);
    tb_fold_ok(g, ns);
    expect_bytes(ns->outputs[0], DT_FLOAT8E4M3FN, (const uint8_t[]){ 0x38, 0x7f, 0xff, 0x2a },
                 4);
    ir_graph_free(g);
}

Test(types, castlike_and_round_mode) {
    Graph *g = ir_graph_new(0);
    Value *like = tb_value(g, "like", DT_FLOAT8E8M0, 1, (int64_t[]){ 1 }, NULL);
    const double vals[3] = { 1.1, 3.0, 0.25 };
    Node *n = cast_of(g, DT_UNDEFINED, vals, 3, like);
    tb_attr_str(g, n, "round_mode", "nearest");
    tb_fold_ok(g, n);
    expect_bytes(n->outputs[0], DT_FLOAT8E8M0, (const uint8_t[]){ 127, 129, 125 }, 3);
    Node *up = cast_of(g, DT_FLOAT8E8M0, vals, 3, NULL);
    tb_fold_ok(g, up);
    expect_bytes(up->outputs[0], DT_FLOAT8E8M0, (const uint8_t[]){ 128, 129, 125 }, 3);
    ir_graph_free(g);
}

Test(types, cast_small_ints) {
    Graph *g = ir_graph_new(0);
    const double vals[4] = { -9, 8, 7.9, -0.5 };
    Node *n = cast_of(g, DT_INT4, vals, 4, NULL);
    tb_fold_ok(g, n);
    expect_bytes(n->outputs[0], DT_INT4, (const uint8_t[]){ 7, 0xf8, 7, 0 }, 4);
    /* int4 -> int8 keeps the value; uint2 -> float */
    Node *back = tb_op_node(g, "Cast", 21, 1, (Value *[]){ n->outputs[0] }, 1);
    tb_attr_int(g, back, "to", DT_INT8);
    tb_fold_ok(g, back);
    cr_assert_eq(((int8_t *)back->outputs[0]->data)[1], -8);
    Value *u2 = tb_value(g, "u2", DT_UINT2, 1, (int64_t[]){ 2 }, (double[]){ 3, 6 });
    Node *f = tb_op_node(g, "Cast", 21, 1, (Value *[]){ u2 }, 1);
    tb_attr_int(g, f, "to", DT_FLOAT);
    tb_fold_ok(g, f);
    cr_assert_eq(((float *)f->outputs[0]->data)[0], 3.0f);
    cr_assert_eq(((float *)f->outputs[0]->data)[1], 2.0f, "6 wraps to 2 in uint2");
    ir_graph_free(g);
}

/* float8 -> int32 saturates like float -> int32; float8 -> float16 is exact. */
Test(types, cast_from_float8) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT8E5M2, 1, (int64_t[]){ 3 },
                        (double[]){ 57344, -2.5, NAN });
    Node *n = tb_op_node(g, "Cast", 21, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "to", DT_INT8);
    tb_fold_ok(g, n);
    const int8_t *y = n->outputs[0]->data;
    cr_assert_eq(y[0], 127);
    cr_assert_eq(y[1], -2);
    cr_assert_eq(y[2], 0);
    Node *h = tb_op_node(g, "Cast", 21, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, h, "to", DT_FLOAT16);
    tb_fold_ok(g, h);
    cr_assert_eq(ou_get_f64(h->outputs[0], 0), 57344.0);
    cr_assert_eq(ou_get_f64(h->outputs[0], 1), -2.5);
    ir_graph_free(g);
}

Test(types, cast_errors) {
    Graph *g = ir_graph_new(0);
    const double vals[1] = { 1 };
    Node *n = cast_of(g, DT_FLOAT8E4M3FN, vals, 1, NULL);
    tb_attr_int(g, n, "saturate", 2);
    tb_fold_err(g, n, "'saturate' must be 0 or 1");
    Node *r = cast_of(g, DT_FLOAT8E8M0, vals, 1, NULL);
    tb_attr_str(g, r, "round_mode", "sideways");
    tb_fold_err(g, r, "'round_mode' must be up, down or nearest");
    Node *t = cast_of(g, (DType)27, vals, 1, NULL);
    tb_fold_err(g, t, "cannot cast to element type 27");
    ir_graph_free(g);
}

/* Arithmetic ops refuse the low-precision types instead of treating their bits as uint8. */
Test(types, arithmetic_rejects_lowp) {
    Graph *g = ir_graph_new(0);
    Value *a = tb_value(g, "a", DT_FLOAT8E4M3FN, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 });
    Node *add = tb_op_node(g, "Add", 14, 2, (Value *[]){ a, a }, 1);
    tb_fold_err(g, add, "float8e4m3fn");
    Node *relu = tb_op_node(g, "Relu", 14, 1, (Value *[]){ a }, 1);
    tb_fold_err(g, relu, "float8e4m3fn");
    ir_graph_free(g);
}

/* ---- BitCast -------------------------------------------------------------------------------- */

Test(types, bitcast_values) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1.0, -2.5 });
    Node *n = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "to", DT_INT32);
    tb_fold_ok(g, n);
    cr_assert_eq(((int32_t *)n->outputs[0]->data)[0], 0x3f800000);
    cr_assert_eq(((int32_t *)n->outputs[0]->data)[1], (int32_t)0xc0200000u);
    /* uint4 15 -> int4 -1: the nibble is sign-extended again */
    Value *u = tb_value(g, "u", DT_UINT4, 1, (int64_t[]){ 2 }, (double[]){ 15, 7 });
    Node *s = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ u }, 1);
    tb_attr_int(g, s, "to", DT_INT4);
    tb_fold_ok(g, s);
    expect_bytes(s->outputs[0], DT_INT4, (const uint8_t[]){ 0xff, 7 }, 2);
    /* int4 -8 -> float4e2m1 0x8 (-0) */
    Value *i4 = tb_value(g, "i4", DT_INT4, 1, (int64_t[]){ 1 }, (double[]){ -8 });
    Node *f4 = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ i4 }, 1);
    tb_attr_int(g, f4, "to", DT_FLOAT4E2M1);
    tb_fold_ok(g, f4);
    expect_bytes(f4->outputs[0], DT_FLOAT4E2M1, (const uint8_t[]){ 0x8 }, 1);
    /* uint8 2 -> bool true (a C bool holds 0 or 1) */
    Value *b = tb_value(g, "b", DT_UINT8, 1, (int64_t[]){ 2 }, (double[]){ 2, 0 });
    Node *nb = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ b }, 1);
    tb_attr_int(g, nb, "to", DT_BOOL);
    tb_fold_ok(g, nb);
    expect_bytes(nb->outputs[0], DT_BOOL, (const uint8_t[]){ 1, 0 }, 2);
    ir_graph_free(g);
}

Test(types, bitcast_errors) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 1.0, -2.5 });
    Node *n = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "to", DT_INT16);
    tb_fold_err(g, n, "cannot bitcast float (32 bits) to int16 (16 bits)");
    Node *m = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ x }, 1);
    tb_fold_err(g, m, "attribute 'to' is required");
    Node *s = tb_op_node(g, "BitCast", 26, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, s, "to", DT_STRING);
    tb_fold_err(g, s, "cannot bitcast to element type 8");
    ir_graph_free(g);
}

/* ---- end to end: emitted code against the folder ------------------------------------------ */

enum { E2E_SEED = 5, E2E_COUNT = 97 };

/* The chain tb_run can feed and read (float in, float out):
 *   x * scale -> Cast(lowp type, saturate, round_mode) -> [BitCast] -> Cast(float).
 * x is a graph input, or with konst a constant holding what tb_run feeds. */
typedef struct ChainSpec {
    DType t;
    int saturate;
    const char *round_mode;
    float scale;
    DType bitcast_to;           /* DT_UNDEFINED: no BitCast */
} ChainSpec;
static ChainSpec chain;

static Node *b_chain(Graph *g, bool konst) {
    const int64_t dims[1] = { E2E_COUNT };
    Value *x;
    if (konst) {
        float buf[E2E_COUNT];
        tb_fill(buf, E2E_COUNT, E2E_SEED);
        for (int i = 0; i < E2E_COUNT; i++) buf[i] *= chain.scale;
        x = tb_const(g, "x", 1, dims, buf);
    } else {
        Value *in = tb_input(g, "x", 1, dims);
        Value *s = tb_const(g, "s", 0, NULL, &chain.scale);
        x = tb_node(g, "Mul", "mul", 2, (Value *[]){ in, s }, 1)->outputs[0];
    }
    Node *to = tb_node(g, "Cast", "to", 1, (Value *[]){ x }, 1);
    tb_attr_int(g, to, "to", chain.t);
    tb_attr_int(g, to, "saturate", chain.saturate);
    if (chain.round_mode) tb_attr_str(g, to, "round_mode", chain.round_mode);
    Node *last = to;
    if (chain.bitcast_to != DT_UNDEFINED) {
        if (konst) tb_fold_chain(g, (Node *[]){ to }, 1);
        last = tb_node(g, "BitCast", "bc", 1, (Value *[]){ to->outputs[0] }, 1);
        tb_attr_int(g, last, "to", chain.bitcast_to);
    }
    if (konst) tb_fold_chain(g, (Node *[]){ last }, 1);
    Node *back = tb_node(g, "Cast", "back", 1, (Value *[]){ last->outputs[0] }, 1);
    tb_attr_int(g, back, "to", DT_FLOAT);
    return back;
}

/* The chain compiled and run against the chain folded: every element the same (NaN matching
 * NaN). */
static void emit_vs_fold(ChainSpec spec) {
    chain = spec;
    tb_emit_vs_fold(b_chain, (TbE2E){ .seed = E2E_SEED, .n_out = 1, .tol = TB_EXACT,
                                      .nan_equal = true, .opset = 26 });
}

Test(types_run, e4m3fn_no_saturate) {
    emit_vs_fold((ChainSpec){ DT_FLOAT8E4M3FN, 0, NULL, 600, DT_UNDEFINED });
}
Test(types_run, e5m2fnuz_saturate) {
    emit_vs_fold((ChainSpec){ DT_FLOAT8E5M2FNUZ, 1, NULL, 1e5f, DT_UNDEFINED });
}
Test(types_run, e8m0_nearest) {
    emit_vs_fold((ChainSpec){ DT_FLOAT8E8M0, 1, "nearest", 100, DT_UNDEFINED });
}
Test(types_run, float4) { emit_vs_fold((ChainSpec){ DT_FLOAT4E2M1, 1, NULL, 8, DT_UNDEFINED }); }
Test(types_run, int4_wraps) { emit_vs_fold((ChainSpec){ DT_INT4, 1, NULL, 20, DT_UNDEFINED }); }
Test(types_run, bitcast_uint4_to_int4) {
    emit_vs_fold((ChainSpec){ DT_UINT4, 1, NULL, 20, DT_INT4 });
}
Test(types_run, bitcast_e4m3fn_to_uint8) {
    emit_vs_fold((ChainSpec){ DT_FLOAT8E4M3FN, 1, NULL, 100, DT_UINT8 });
}
