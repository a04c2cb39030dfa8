/* test_ops_signal.c: the signal-processing and data-dependent ops (DFT, STFT, the cosine
 * windows, MelWeightMatrix, RoiAlign, TensorScatter, NonZero, Compress, Unique,
 * NonMaxSuppression): inference and folding on small constants checked against values
 * derived by hand, the error paths, and the emitted code run end to end against the
 * folder on the same data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "ops/op_util.h"

/* A scalar constant of dtype t. */
static Value *sscalar(Graph *g, const char *name, DType t, double v) {
    return tb_value(g, name, t, 0, NULL, (double[]){ v });
}

/* ---- DFT and STFT ------------------------------------------------------------------------- */

/* x = [1, 2, 3, 4] has the spectrum [10, -2+2i, -2, -2-2i]. */
static const double SPECTRUM[] = { 10, 0, -2, 2, -2, 0, -2, -2 };

Test(signal_dft, forward_real_opset17) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 4, 1 }, (double[]){ 1, 2, 3, 4 });
    Node *n = tb_op_node(g, "DFT", 17, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 4, 2 }, SPECTRUM, TB_ABS(1e-5));
    ir_graph_free(g);
}

Test(signal_dft, onesided_and_longer_dft_length) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_DOUBLE, 3, (int64_t[]){ 1, 4, 1 }, (double[]){ 1, 2, 3, 4 });
    Node *n = tb_op_node(g, "DFT", 17, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "onesided", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_DOUBLE, 3, (int64_t[]){ 1, 3, 2 }, SPECTRUM, TB_ABS(1e-12));
    /* dft_length 8 pads with zeros: X[4] = 1 - 2 + 3 - 4 = -2 */
    Value *len = sscalar(g, "len", DT_INT64, 8);
    Node *m = tb_op_node(g, "DFT", 17, 2, (Value *[]){ x, len }, 1);
    tb_attr_int(g, m, "onesided", 1);
    tb_fold_ok(g, m);
    cr_assert_eq(m->outputs[0]->dims[1], 5);
    cr_assert_float_eq(ou_get_f64(m->outputs[0], 0), 10.0, 1e-12);
    cr_assert_float_eq(ou_get_f64(m->outputs[0], 8), -2.0, 1e-12);
    cr_assert_float_eq(ou_get_f64(m->outputs[0], 9), 0.0, 1e-12);
    ir_graph_free(g);
}

Test(signal_dft, inverse_and_irfft_opset20) {
    Graph *g = ir_graph_new(0);
    Value *spec = tb_value(g, "s", DT_FLOAT, 3, (int64_t[]){ 1, 4, 2 }, SPECTRUM);
    Value *axis = sscalar(g, "axis", DT_INT64, 1);
    Node *n = tb_op_node(g, "DFT", 20, 3, (Value *[]){ spec, NULL, axis }, 1);
    tb_attr_int(g, n, "inverse", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 4, 2 },
              (double[]){ 1, 0, 2, 0, 3, 0, 4, 0 }, TB_ABS(1e-5));
    /* the one-sided half [10, -2+2i, -2] gives back the real signal (N = 2 * (3 - 1)) */
    Value *half = tb_value(g, "h", DT_FLOAT, 3, (int64_t[]){ 1, 3, 2 }, SPECTRUM);
    Node *m = tb_op_node(g, "DFT", 20, 3, (Value *[]){ half, NULL, axis }, 1);
    tb_attr_int(g, m, "inverse", 1);
    tb_attr_int(g, m, "onesided", 1);
    tb_fold_ok(g, m);
    tb_expect(m->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 4, 1 }, (double[]){ 1, 2, 3, 4 },
              TB_ABS(1e-5));
    ir_graph_free(g);
}

Test(signal_dft, errors) {
    Graph *g = ir_graph_new(0);
    Value *x3 = tb_value(g, "x3", DT_FLOAT, 2, (int64_t[]){ 4, 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "DFT", 17, 1, (Value *[]){ x3 }, 1), "last dim of 3");
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 4, 2 }, NULL);
    Node *n = tb_op_node(g, "DFT", 17, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, n, "axis", 2);
    tb_fold_err(g, n, "complex dim");
    Value *zero = sscalar(g, "zero", DT_INT64, 0);
    tb_fold_err(g, tb_op_node(g, "DFT", 17, 2, (Value *[]){ x, zero }, 1), "dft_length 0");
    Value *xi = tb_value(g, "xi", DT_INT32, 3, (int64_t[]){ 1, 4, 2 }, NULL);
    tb_fold_err(g, tb_op_node(g, "DFT", 17, 1, (Value *[]){ xi }, 1), "int32");
    Value *len = tb_value(g, "len", DT_INT64, 0, NULL, NULL);   /* not a constant */
    tb_fold_err(g, tb_op_node(g, "DFT", 17, 2, (Value *[]){ x, len }, 1), "must be a constant");
    ir_graph_free(g);
}

Test(signal_stft, frames_with_window) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 3, (int64_t[]){ 1, 8, 1 },
                        (double[]){ 1, 2, 3, 4, 5, 6, 7, 8 });
    Value *step = sscalar(g, "step", DT_INT64, 2);
    Value *w = tb_value(g, "w", DT_FLOAT, 1, (int64_t[]){ 4 }, (double[]){ 1, 1, 1, 1 });
    Node *n = tb_op_node(g, "STFT", 17, 3, (Value *[]){ x, step, w }, 1);
    tb_fold_ok(g, n);
    /* frames 1 + (8 - 4) / 2 = 3, one-sided bins 3; frame f starts at 2f: its spectrum is
     * [4 a + 6, -2 + 2i, -2] with a = 2f + 1 */
    double want[3 * 3 * 2];
    for (int f = 0; f < 3; f++) {
        const double v[] = { 4.0 * (2 * f + 1) + 6, 0, -2, 2, -2, 0 };
        memcpy(want + f * 6, v, sizeof v);
    }
    tb_expect(n->outputs[0], DT_FLOAT, 4, (int64_t[]){ 1, 3, 3, 2 }, want, TB_ABS(1e-5));
    Value *bad = sscalar(g, "fl", DT_INT64, 3);
    tb_fold_err(g, tb_op_node(g, "STFT", 17, 4, (Value *[]){ x, step, w, bad }, 1),
                "differs from the window");
    Value *big = sscalar(g, "big", DT_INT64, 9);
    tb_fold_err(g, tb_op_node(g, "STFT", 17, 4, (Value *[]){ x, step, NULL, big }, 1),
                "exceeds the signal");
    ir_graph_free(g);
}

/* ---- windows and MelWeightMatrix ---------------------------------------------------------- */

static void window_case(const char *op, int64_t size, int64_t periodic, const double *want) {
    Graph *g = ir_graph_new(0);
    Value *s = sscalar(g, "size", DT_INT32, (double)size);
    Node *n = tb_op_node(g, op, 17, 1, (Value *[]){ s }, 1);
    tb_attr_int(g, n, "periodic", periodic);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, &size, want, TB_ABS(1e-6));
    ir_graph_free(g);
}

Test(signal_window, hann_hamming_blackman) {
    window_case("HannWindow", 4, 1, (double[]){ 0, 0.5, 1, 0.5 });
    window_case("HannWindow", 3, 0, (double[]){ 0, 1, 0 });
    window_case("HammingWindow", 2, 1, (double[]){ 4.0 / 46.0, 1 });
    window_case("BlackmanWindow", 4, 1, (double[]){ 0, 0.34, 1, 0.34 });
    window_case("HannWindow", 1, 0, (double[]){ 1 });   /* M = 0: one sample */
}

Test(signal_window, output_datatype_and_errors) {
    Graph *g = ir_graph_new(0);
    Value *s = sscalar(g, "size", DT_INT64, 3);
    Node *n = tb_op_node(g, "HannWindow", 17, 1, (Value *[]){ s }, 1);
    tb_attr_int(g, n, "output_datatype", DT_DOUBLE);
    tb_attr_int(g, n, "periodic", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_DOUBLE, 1, (int64_t[]){ 3 }, (double[]){ 0, 1, 0 }, TB_ABS(1e-12));
    Node *m = tb_op_node(g, "HannWindow", 17, 1, (Value *[]){ s }, 1);
    tb_attr_int(g, m, "output_datatype", DT_STRING);
    tb_fold_err(g, m, "not a numeric type");
    Value *neg = sscalar(g, "neg", DT_INT64, -1);
    tb_fold_err(g, tb_op_node(g, "BlackmanWindow", 17, 1, (Value *[]){ neg }, 1), "negative");
    ir_graph_free(g);
}

/* The emitter, used only for windows too large to fold: the formula with M baked in. */
Test(signal_window, emitted_formula) {
    Graph *g = ir_graph_new(0);
    Value *s = sscalar(g, "size", DT_INT64, 5);
    Node *n = tb_op_node(g, "BlackmanWindow", 17, 1, (Value *[]){ s }, 1);
    tb_attr_int(g, n, "periodic", 0);
    Diag d;
    diag_init(&d);
    cr_assert(n->op->infer(g, n, &d));
    Emitter e;
    emit_init(&e);
    cr_assert(n->op->emit(&e, n, &d));
    const char *text = e.out.data;
    cr_assert_not_null(strstr(text, "cos(2 pi n / 4)"), "%s", text);
    cr_assert_not_null(strstr(text, "const double phase = 1.5707963267948966 * (double)i;"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "0.41999999999999998 - 0.5 * cos(phase) + "
                                    "0.080000000000000002 * cos(2.0 * phase)"), "%s", text);
    cr_assert_not_null(strstr(text, "y0[i] = (float)v;"), "%s", text);
    emit_free(&e);
    diag_free(&d);
    ir_graph_free(g);
}

Test(signal_mel, the_onnx_example) {
    Graph *g = ir_graph_new(0);
    Value *in[] = { sscalar(g, "bins", DT_INT32, 8), sscalar(g, "dft", DT_INT32, 16),
                    sscalar(g, "rate", DT_INT32, 8192), sscalar(g, "lo", DT_FLOAT, 0),
                    sscalar(g, "hi", DT_FLOAT, 4096) };
    Node *n = tb_op_node(g, "MelWeightMatrix", 17, 5, in, 1);
    tb_fold_ok(g, n);
    /* the expected matrix listed with the ONNX node test */
    double want[9 * 8] = { 0 };
    const int ones[][2] = { { 0, 0 }, { 0, 1 }, { 1, 2 }, { 1, 3 }, { 2, 4 }, { 3, 5 },
                            { 4, 6 }, { 5, 7 } };
    for (size_t k = 0; k < sizeof ones / sizeof ones[0]; k++)
        want[ones[k][0] * 8 + ones[k][1]] = 1;
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 9, 8 }, want, TB_ABS(1e-6));
    Value *bad[] = { in[0], in[1], in[2], in[3], sscalar(g, "inf", DT_FLOAT, INFINITY) };
    tb_fold_err(g, tb_op_node(g, "MelWeightMatrix", 17, 5, bad, 1), "must be finite");
    Value *huge[] = { sscalar(g, "many", DT_INT64, 1 << 21), in[1], in[2], in[3], in[4] };
    tb_fold_err(g, tb_op_node(g, "MelWeightMatrix", 17, 5, huge, 1),
                "exceeds the supported maximum");
    ir_graph_free(g);
}

/* ---- RoiAlign ----------------------------------------------------------------------------- */

static Node *roi_node(Graph *g, const char *ctm, const char *mode, int64_t batch_index) {
    Value *x = tb_value(g, "x", DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 2 }, (double[]){ 1, 2, 3, 4 });
    Value *r = tb_value(g, "r", DT_FLOAT, 2, (int64_t[]){ 1, 4 }, (double[]){ 0, 0, 1, 1 });
    Value *b = tb_value(g, "b", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ (double)batch_index });
    Node *n = tb_op_node(g, "RoiAlign", 16, 3, (Value *[]){ x, r, b }, 1);
    tb_attr_str(g, n, "coordinate_transformation_mode", ctm);
    tb_attr_str(g, n, "mode", mode);
    tb_attr_int(g, n, "sampling_ratio", 1);
    return n;
}

Test(signal_roialign, one_sample_per_cell) {
    Graph *g = ir_graph_new(0);
    const int64_t one[] = { 1, 1, 1, 1 };
    /* output_half_pixel: the sample is at (0.5, 0.5), the mean of the four pixels */
    Node *n = roi_node(g, "output_half_pixel", "avg", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, one, (double[]){ 2.5 }, TB_ABS(1e-6));
    /* half_pixel shifts the region by -0.5: the sample is pixel (0, 0) */
    n = roi_node(g, "half_pixel", "avg", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, one, (double[]){ 1 }, TB_ABS(1e-6));
    /* max takes the largest weighted corner: 0.25 * 4 */
    n = roi_node(g, "output_half_pixel", "max", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 4, one, (double[]){ 1 }, TB_ABS(1e-6));
    tb_fold_err(g, roi_node(g, "output_half_pixel", "avg", 1), "batch index 1 of ROI 0");
    tb_fold_err(g, roi_node(g, "corner", "avg", 0), "coordinate_transformation_mode 'corner'");
    ir_graph_free(g);
}

/* ---- TensorScatter ------------------------------------------------------------------------ */

static Node *ts_node(Graph *g, const char *mode, int64_t w) {
    Value *c = tb_value(g, "c", DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 0, 0, 0 });
    Value *u = tb_value(g, "u", DT_FLOAT, 3, (int64_t[]){ 1, 2, 1 }, (double[]){ 7, 8 });
    Value *wi = tb_value(g, "w", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ (double)w });
    Node *n = tb_op_node(g, "TensorScatter", 24, 3, (Value *[]){ c, u, wi }, 1);
    tb_attr_str(g, n, "mode", mode);
    return n;
}

Test(signal_tensorscatter, linear_and_circular) {
    Graph *g = ir_graph_new(0);
    Node *n = ts_node(g, "linear", 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 0, 7, 8 }, TB_EXACT);
    n = ts_node(g, "circular", 2);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 8, 0, 7 }, TB_EXACT);
    n = ts_node(g, "circular", -1);   /* -1 mod 3 = 2 */
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 3, (int64_t[]){ 1, 3, 1 }, (double[]){ 8, 0, 7 }, TB_EXACT);
    tb_fold_err(g, ts_node(g, "linear", 2), "runs past the cache");
    tb_fold_err(g, ts_node(g, "ring", 0), "mode 'ring'");
    ir_graph_free(g);
}

/* ---- NonZero, Compress, Unique, NonMaxSuppression ----------------------------------------- */

Test(signal_nonzero, indices_and_run_time_input) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 1, 0, NAN, 2 });
    Node *n = tb_op_node(g, "NonZero", 13, 1, (Value *[]){ x }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT64, 2, (int64_t[]){ 2, 3 }, (double[]){ 0, 1, 1, 0, 0, 1 },
              TB_EXACT);
    Value *z = tb_value(g, "z", DT_INT32, 1, (int64_t[]){ 3 }, (double[]){ 0, 0, 0 });
    n = tb_op_node(g, "NonZero", 13, 1, (Value *[]){ z }, 1);
    tb_fold_ok(g, n);
    cr_assert_eq(n->outputs[0]->dims[0], 1);
    cr_assert_eq(n->outputs[0]->dims[1], 0);
    Value *r = tb_value(g, "r", DT_FLOAT, 1, (int64_t[]){ 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "NonZero", 13, 1, (Value *[]){ r }, 1),
                "output shape depends on the input's values; only constant inputs are supported");
    cr_assert(r->needs_const);
    ir_graph_free(g);
}

Test(signal_compress, axis_flattened_and_errors) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 2, 3, 4, 5, 6 });
    Value *c = tb_value(g, "c", DT_BOOL, 1, (int64_t[]){ 3 }, (double[]){ 0, 1, 1 });
    Node *n = tb_op_node(g, "Compress", 11, 2, (Value *[]){ x, c }, 1);
    tb_attr_int(g, n, "axis", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 2, (int64_t[]){ 2, 2 }, (double[]){ 3, 4, 5, 6 }, TB_EXACT);
    n = tb_op_node(g, "Compress", 11, 2, (Value *[]){ x, c }, 1);   /* flattened, short */
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 2 }, (double[]){ 2, 3 }, TB_EXACT);
    Value *c4 = tb_value(g, "c4", DT_BOOL, 1, (int64_t[]){ 4 }, (double[]){ 1, 1, 1, 1 });
    n = tb_op_node(g, "Compress", 11, 2, (Value *[]){ x, c4 }, 1);
    tb_attr_int(g, n, "axis", -2);
    tb_fold_err(g, n, "more than the 3 slices");
    Value *cr = tb_value(g, "cr", DT_BOOL, 1, (int64_t[]){ 3 }, NULL);
    tb_fold_err(g, tb_op_node(g, "Compress", 11, 2, (Value *[]){ x, cr }, 1),
                "output shape depends on the input's values");
    ir_graph_free(g);
}

static void unique_case(bool sorted, const double *y, const double *idx, const double *inv,
                        const double *cnt) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_FLOAT, 1, (int64_t[]){ 6 }, (double[]){ 2, 1, 1, 3, 4, 3 });
    Node *n = tb_op_node(g, "Unique", 11, 1, (Value *[]){ x }, 4);
    tb_attr_int(g, n, "sorted", sorted);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_FLOAT, 1, (int64_t[]){ 4 }, y, TB_EXACT);
    tb_expect(n->outputs[1], DT_INT64, 1, (int64_t[]){ 4 }, idx, TB_EXACT);
    tb_expect(n->outputs[2], DT_INT64, 1, (int64_t[]){ 6 }, inv, TB_EXACT);
    tb_expect(n->outputs[3], DT_INT64, 1, (int64_t[]){ 4 }, cnt, TB_EXACT);
    ir_graph_free(g);
}

Test(signal_unique, sorted_and_first_occurrence) {
    unique_case(true, (double[]){ 1, 2, 3, 4 }, (double[]){ 1, 0, 3, 4 },
                (double[]){ 1, 0, 0, 2, 3, 2 }, (double[]){ 2, 1, 2, 1 });
    unique_case(false, (double[]){ 2, 1, 3, 4 }, (double[]){ 0, 1, 3, 4 },
                (double[]){ 0, 1, 1, 2, 3, 2 }, (double[]){ 1, 2, 2, 1 });
}

Test(signal_unique, rows_along_axis) {
    Graph *g = ir_graph_new(0);
    Value *x = tb_value(g, "x", DT_INT32, 2, (int64_t[]){ 3, 2 }, (double[]){ 1, 0, 1, 0, 0, 5 });
    Node *n = tb_op_node(g, "Unique", 11, 1, (Value *[]){ x }, 4);
    tb_attr_int(g, n, "axis", 0);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT32, 2, (int64_t[]){ 2, 2 }, (double[]){ 0, 5, 1, 0 }, TB_EXACT);
    tb_expect(n->outputs[1], DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 2, 0 }, TB_EXACT);
    tb_expect(n->outputs[2], DT_INT64, 1, (int64_t[]){ 3 }, (double[]){ 1, 1, 0 }, TB_EXACT);
    tb_expect(n->outputs[3], DT_INT64, 1, (int64_t[]){ 2 }, (double[]){ 1, 2 }, TB_EXACT);
    Node *m = tb_op_node(g, "Unique", 11, 1, (Value *[]){ x }, 1);
    tb_attr_int(g, m, "axis", 2);
    tb_fold_err(g, m, "axis 2 is out of range");
    ir_graph_free(g);
}

Test(signal_nms, suppression_by_iou_and_limit) {
    Graph *g = ir_graph_new(0);
    Value *b = tb_value(g, "b", DT_FLOAT, 3, (int64_t[]){ 1, 3, 4 },
                        (double[]){ 0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 10, 1, 11 });
    Value *s = tb_value(g, "s", DT_FLOAT, 3, (int64_t[]){ 1, 1, 3 }, (double[]){ 0.9, 0.8, 0.7 });
    Value *mx = tb_value(g, "mx", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 3 });
    Value *iou = tb_value(g, "iou", DT_FLOAT, 1, (int64_t[]){ 1 }, (double[]){ 0.5 });
    Node *n = tb_op_node(g, "NonMaxSuppression", 11, 4, (Value *[]){ b, s, mx, iou }, 1);
    tb_fold_ok(g, n);
    /* box 1 overlaps box 0 with IoU 0.9 / 1.1 > 0.5: suppressed */
    tb_expect(n->outputs[0], DT_INT64, 2, (int64_t[]){ 2, 3 }, (double[]){ 0, 0, 0, 0, 0, 2 },
              TB_EXACT);
    Value *one = tb_value(g, "one", DT_INT64, 1, (int64_t[]){ 1 }, (double[]){ 1 });
    n = tb_op_node(g, "NonMaxSuppression", 11, 4, (Value *[]){ b, s, one, iou }, 1);
    tb_fold_ok(g, n);
    tb_expect(n->outputs[0], DT_INT64, 2, (int64_t[]){ 1, 3 }, (double[]){ 0, 0, 0 }, TB_EXACT);
    Value *bad = tb_value(g, "bad", DT_FLOAT, 3, (int64_t[]){ 1, 2, 4 }, NULL);
    tb_fold_err(g, tb_op_node(g, "NonMaxSuppression", 11, 2, (Value *[]){ bad, s }, 1),
                "output shape depends on the input's values");
    ir_graph_free(g);
}

/* ---- end to end: emitted code against the folder ------------------------------------------ */

enum { E2E_SEED = 23 };

/* The emitted code against the folder: every output must agree to 1e-5 relative (NaN matching
 * NaN). */
static void emit_vs_fold(TbBuild build, int n_out) {
    tb_emit_vs_fold(build, (TbE2E){ .seed = E2E_SEED, .n_out = n_out, .tol = TB_REL(1e-5),
                                    .nan_equal = true });
}

static Node *b_dft_complex_middle_axis(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 5, 3, 2 }, 0);
    Value *len = tb_const_i64(g, "len", 0, NULL, (int64_t[]){ 7 });   /* zero-padded */
    Node *n = tb_node(g, "DFT", "dft", 2, (Value *[]){ x, len }, 1);
    n->opset = 17;
    return n;
}

static Node *b_dft_irfft(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 3, 4, 2 }, 0);
    Value *axis = tb_const_i64(g, "axis", 0, NULL, (int64_t[]){ -2 });
    Node *n = tb_node(g, "DFT", "dft", 3, (Value *[]){ x, NULL, axis }, 1);
    n->opset = 20;
    tb_attr_int(g, n, "inverse", 1);
    tb_attr_int(g, n, "onesided", 1);
    return n;
}

static Node *b_stft_window(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 19, 2 }, 0);
    Value *step = tb_const_i64(g, "step", 0, NULL, (int64_t[]){ 3 });
    Value *w = tb_const_rand(g, "w", 1, (int64_t[]){ 6 }, 5, 0.0f, 1.0f);
    Node *n = tb_node(g, "STFT", "stft", 3, (Value *[]){ x, step, w }, 1);
    n->opset = 17;
    tb_attr_int(g, n, "onesided", 0);
    return n;
}

static Node *b_roialign(Graph *g, bool konst, const char *mode, int64_t sampling) {
    Value *x = tb_e2e_input(g, konst, "x", 4, (int64_t[]){ 2, 3, 6, 7 }, 0);
    Value *r = tb_const(g, "r", 2, (int64_t[]){ 3, 4 },
                        (float[]){ 0.5f, 1, 5.5f, 4, -2, -1, 3, 2.5f, 4, 4.5f, 9, 8 });
    Value *b = tb_const_i64(g, "b", 1, (int64_t[]){ 3 }, (int64_t[]){ 1, 0, 1 });
    Node *n = tb_node(g, "RoiAlign", "roi", 3, (Value *[]){ x, r, b }, 1);
    n->opset = 16;
    tb_attr_str(g, n, "mode", mode);
    tb_attr_int(g, n, "output_height", 3);
    tb_attr_int(g, n, "output_width", 2);
    tb_attr_int(g, n, "sampling_ratio", sampling);
    tb_attr_float(g, n, "spatial_scale", 0.75f);
    return n;
}

static Node *b_roialign_avg_adaptive(Graph *g, bool konst) {
    return b_roialign(g, konst, "avg", 0);
}

static Node *b_roialign_max(Graph *g, bool konst) { return b_roialign(g, konst, "max", 2); }

static Node *b_tensorscatter(Graph *g, bool konst) {
    Value *c = tb_e2e_input(g, konst, "c", 4, (int64_t[]){ 2, 2, 5, 3 }, 0);
    Value *u = tb_e2e_input(g, konst, "u", 4, (int64_t[]){ 2, 2, 3, 3 }, 1);
    Value *w = tb_const_i64(g, "w", 1, (int64_t[]){ 2 }, (int64_t[]){ 4, 1 });
    Node *n = tb_node(g, "TensorScatter", "ts", 3, (Value *[]){ c, u, w }, 1);
    n->opset = 24;
    tb_attr_str(g, n, "mode", "circular");
    return n;
}

static Node *b_tensorscatter_prefill(Graph *g, bool konst) {
    Value *c = tb_e2e_input(g, konst, "c", 3, (int64_t[]){ 2, 6, 4 }, 0);
    Value *u = tb_e2e_input(g, konst, "u", 3, (int64_t[]){ 2, 4, 4 }, 1);
    Node *n = tb_node(g, "TensorScatter", "ts", 2, (Value *[]){ c, u }, 1);
    n->opset = 24;   /* linear, no write_indices: rows 0..3 */
    return n;
}

static Node *b_compress(Graph *g, bool konst) {
    Value *x = tb_e2e_input(g, konst, "x", 3, (int64_t[]){ 2, 7, 3 }, 0);
    Value *c = tb_value(g, "c", DT_BOOL, 1, (int64_t[]){ 6 }, (double[]){ 1, 1, 0, 1, 0, 1 });
    Node *n = tb_node(g, "Compress", "cp", 2, (Value *[]){ x, c }, 1);
    n->opset = 11;
    tb_attr_int(g, n, "axis", 1);
    return n;
}

Test(signal_run, dft_complex_middle_axis) { emit_vs_fold(b_dft_complex_middle_axis, 1); }
Test(signal_run, dft_irfft) { emit_vs_fold(b_dft_irfft, 1); }
Test(signal_run, stft_window_two_sided) { emit_vs_fold(b_stft_window, 1); }
Test(signal_run, roialign_avg_adaptive) { emit_vs_fold(b_roialign_avg_adaptive, 1); }
Test(signal_run, roialign_max) { emit_vs_fold(b_roialign_max, 1); }
Test(signal_run, tensorscatter_circular) { emit_vs_fold(b_tensorscatter, 1); }
Test(signal_run, tensorscatter_prefill) { emit_vs_fold(b_tensorscatter_prefill, 1); }
Test(signal_run, compress_runtime_data) { emit_vs_fold(b_compress, 1); }
