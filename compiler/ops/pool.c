/* pool.c: MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool.
 *
 * The windowed pools resolve their geometry (pads, strides, dilations, auto_pad,
 * ceil_mode) with shape_spatial_geom() and emit one call to the runtime's
 * onnxcc_f32_maxpool / onnxcc_f32_avgpool; the global pools one call to
 * onnxcc_f32_global_avgpool / onnxcc_f32_global_maxpool.
 */
#include <stdio.h>
#include <string.h>

#include "backend/emitter.h"
#include "base/checked.h"
#include "ir/shape.h"
#include "ops/kernel_emit.h"
#include "ops/op.h"


static bool pool_check_x(const Node *n, const char *op, Diag *d) {
    if (!op_require_shape(n, 0, d)) return false;
    const Value *x = n->inputs[0];
    if (x->dtype != DT_FLOAT) {
        diag_error(d, n, "only float32 is supported for %s (input X is %s)", op,
                   dtype_name(x->dtype));
        return false;
    }
    if (x->rank < 3 || x->rank > 5) {
        diag_error(d, n, "input X must have rank 3 to 5 (1-D to 3-D pooling), got %d",
                   x->rank);
        return false;
    }
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] < 1) {
            diag_error(d, n, "input X must have no empty dimension");
            return false;
        }
    }
    return true;
}

/* Geometry of a windowed pool: kernel_shape (required), ceil_mode, the rest via
 * shape_spatial_geom. */
static bool pool_geom(const Node *n, SpatialGeom *sg, Diag *d) {
    const Value *x = n->inputs[0];
    int ns = x->rank - 2;
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk == 0) {
        diag_error(d, n, "attribute kernel_shape is required");
        return false;
    }
    if (nk != (size_t)ns) {
        diag_error(d, n, "kernel_shape has %zu values, expected %d", nk, ns);
        return false;
    }
    int64_t ceil_mode = ir_attr_int(n, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1) {
        diag_error(d, n, "ceil_mode must be 0 or 1, got %lld", (long long)ceil_mode);
        return false;
    }
    return shape_spatial_geom(n, ns, x->dims + 2, ks, ceil_mode != 0, sg, d);
}

static void set_pool_output(Value *v, DType t, const Value *x, const SpatialGeom *sg) {
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < sg->n_spatial; i++) dims[2 + i] = sg->out[i];
    ir_value_set_shape(v, t, x->rank, dims);
}

static bool maxpool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!pool_check_x(n, "MaxPool", d)) return false;
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    int64_t so = ir_attr_int(n, "storage_order", 0);
    if (so != 0 && so != 1) {
        diag_error(d, n, "storage_order must be 0 or 1, got %lld", (long long)so);
        return false;
    }
    if (!n->outputs[0]) {
        diag_error(d, n, "output Y is required (only Indices is not supported)");
        return false;
    }
    set_pool_output(n->outputs[0], DT_FLOAT, n->inputs[0], &sg);
    if (n->n_outputs > 1 && n->outputs[1])
        set_pool_output(n->outputs[1], DT_INT64, n->inputs[0], &sg);
    return true;
}

static long long planes_of(const Value *x) { return (long long)(x->dims[0] * x->dims[1]); }

static bool maxpool_emit(Emitter *e, const Node *n, Diag *d) {
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    bool with_indices = n->n_outputs > 1 && n->outputs[1];
    kern_emit_geom(e, &sg);
    emit_line(e, "onnxcc_f32_maxpool(&geom, %lld, x0, y0, %s, %d, pool);", planes_of(n->inputs[0]),
              with_indices ? "y1" : "NULL", (int)ir_attr_int(n, "storage_order", 0));
    return true;
}

static int64_t window_flops(const Node *n) {
    const int64_t *ks;
    size_t nk = ir_attr_ints(n, "kernel_shape", &ks);
    int64_t f = ir_numel(n->outputs[0]);
    for (size_t i = 0; i < nk; i++)
        if (!i64_mul(f, ks[i], &f)) return -1;
    return f;
}

const OpDef op_maxpool = {
    .name = "MaxPool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 2,
    .infer = maxpool_infer, .emit = maxpool_emit, .flops = window_flops,
    .memory = OP_MEMORY_SEPARATE,
};

static bool avgpool_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!pool_check_x(n, "AveragePool", d)) return false;
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    int64_t cip = ir_attr_int(n, "count_include_pad", 0);
    if (cip != 0 && cip != 1) {
        diag_error(d, n, "count_include_pad must be 0 or 1, got %lld", (long long)cip);
        return false;
    }
    set_pool_output(n->outputs[0], DT_FLOAT, n->inputs[0], &sg);
    return true;
}

static bool avgpool_emit(Emitter *e, const Node *n, Diag *d) {
    SpatialGeom sg;
    if (!pool_geom(n, &sg, d)) return false;
    kern_emit_geom(e, &sg);
    emit_line(e, "onnxcc_f32_avgpool(&geom, %lld, x0, y0, %d, pool);", planes_of(n->inputs[0]),
              (int)ir_attr_int(n, "count_include_pad", 0));
    return true;
}

const OpDef op_averagepool = {
    .name = "AveragePool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = avgpool_infer, .emit = avgpool_emit, .flops = window_flops,
    .memory = OP_MEMORY_SEPARATE,
};

/* ---- global pools: [N, C, spatial...] -> [N, C, 1, ...] ------------------------------ */

static bool global_infer(Node *n, const char *op, Diag *d) {
    if (!pool_check_x(n, op, d)) return false;
    const Value *x = n->inputs[0];
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    ir_value_set_shape(n->outputs[0], DT_FLOAT, x->rank, dims);
    return true;
}

static bool gap_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    return global_infer(n, "GlobalAveragePool", d);
}

static bool gmp_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    return global_infer(n, "GlobalMaxPool", d);
}

/* One call to the runtime's global pool over every (image, channel) plane. */
static bool global_emit(Emitter *e, const Node *n, bool is_max) {
    const Value *x = n->inputs[0];
    long long pix = (long long)(ir_numel(x) / (x->dims[0] * x->dims[1]));
    emit_line(e, "onnxcc_f32_global_%spool(%lld, %lld, x0, y0, pool);", is_max ? "max" : "avg",
              planes_of(x), pix);
    return true;
}

static bool gap_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    return global_emit(e, n, false);
}

static bool gmp_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    return global_emit(e, n, true);
}

static int64_t global_flops(const Node *n) { return ir_numel(n->inputs[0]); }

const OpDef op_globalaveragepool = {
    .name = "GlobalAveragePool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gap_infer, .emit = gap_emit, .flops = global_flops,
    .memory = OP_MEMORY_SEPARATE,
};

const OpDef op_globalmaxpool = {
    .name = "GlobalMaxPool", .domain = "", .since = 1,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gmp_infer, .emit = gmp_emit, .flops = global_flops,
    .memory = OP_MEMORY_SEPARATE,
};
