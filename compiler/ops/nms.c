/* nms.c: NonMaxSuppression, greedy selection of boxes per (batch, class): candidates
 * scoring above score_threshold (all when absent) are taken by decreasing score (ties:
 * lower box index first), each kept unless its IoU with a box already kept for the class
 * exceeds iou_threshold, until max_output_boxes_per_class are kept (0, the default, keeps
 * none).  The output lists the kept boxes as int64 [count][3] rows (batch, class, box).
 * Boxes are [y1, x1, y2, x2] with the corners in any order (center_point_box=0) or
 * [x_center, y_center, width, height] (center_point_box=1); the IoU test follows the
 * ONNX reference and onnxruntime (degenerate boxes never suppress).
 *
 * count depends on the input's values, and the generated functions have static output
 * shapes: the op is only folded at compile time, so every input must be a constant (or
 * computable from constants); `onnxcc test` freezes such graph inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_util.h"

static const DType nms_types[] = { DT_FLOAT, DT_DOUBLE, DT_FLOAT16, DT_BFLOAT16, DT_UNDEFINED };

typedef struct NmsParams {
    int64_t batches, classes, boxes;
    int64_t max_per_class;
    double iou, score;
    bool has_score, center;
} NmsParams;

/* A candidate box of one (batch, class). */
typedef struct NmsCand {
    double score;
    int64_t index;
} NmsCand;

/* A box as its edges. */
typedef struct NmsBox {
    double x0, x1, y0, y1;
} NmsBox;

/* Optional one-element input i into *v (as double); *present tells whether it was given. */
static bool nms_scalar(const Node *n, int i, double *v, bool *present, Diag *d) {
    *present = false;
    if (!op_input(n, i)) return true;
    if (!op_require_const_data(n, i, d)) return false;
    const Value *x = n->inputs[i];
    if (ir_numel(x) == 0) return true;   /* an empty tensor reads as absent */
    if (ir_numel(x) != 1) {
        diag_error(d, n, "input %d '%s' must hold one value, it has %lld", i, x->name,
                   (long long)ir_numel(x));
        return false;
    }
    *v = ou_get_f64(x, 0);
    *present = true;
    return true;
}

static bool nms_params(const Node *n, NmsParams *p, Diag *d) {
    if (!op_require_const_data(n, 0, d) || !op_require_const_data(n, 1, d) ||
        !ou_check_dtype(n, 0, nms_types, d) || !ou_check_dtype(n, 1, nms_types, d))
        return false;
    const Value *b = n->inputs[0], *s = n->inputs[1];
    if (b->rank != 3 || b->dims[2] != 4) {
        diag_error(d, n, "boxes '%s' must be [batches][boxes][4], it has rank %d", b->name,
                   b->rank);
        return false;
    }
    if (s->rank != 3 || s->dims[0] != b->dims[0] || s->dims[2] != b->dims[1]) {
        diag_error(d, n, "scores '%s' must be [%lld][classes][%lld]", s->name,
                   (long long)b->dims[0], (long long)b->dims[1]);
        return false;
    }
    p->batches = b->dims[0];
    p->boxes = b->dims[1];
    p->classes = s->dims[1];
    const int64_t cpb = ir_attr_int(n, "center_point_box", 0);
    if (cpb != 0 && cpb != 1) {
        diag_error(d, n, "center_point_box %lld is not 0 or 1", (long long)cpb);
        return false;
    }
    p->center = cpb == 1;
    double maxb = 0, iou = 0, score = 0;
    bool has_max, has_iou;
    if (!nms_scalar(n, 2, &maxb, &has_max, d) || !nms_scalar(n, 3, &iou, &has_iou, d) ||
        !nms_scalar(n, 4, &score, &p->has_score, d))
        return false;
    if (has_max && !dtype_is_integer(n->inputs[2]->dtype)) {
        diag_error(d, n, "max_output_boxes_per_class must be an integer, not %s",
                   dtype_name(n->inputs[2]->dtype));
        return false;
    }
    p->max_per_class = has_max ? ou_get_i64(n->inputs[2], 0) : 0;
    if (p->max_per_class < 0) p->max_per_class = 0;
    p->iou = iou;
    p->score = score;
    return true;
}

static NmsBox nms_box(const Value *b, const NmsParams *p, int64_t batch, int64_t index) {
    const int64_t at = (batch * p->boxes + index) * 4;
    const double v0 = ou_get_f64(b, at), v1 = ou_get_f64(b, at + 1);
    const double v2 = ou_get_f64(b, at + 2), v3 = ou_get_f64(b, at + 3);
    if (p->center)
        return (NmsBox){ v0 - v2 / 2, v0 + v2 / 2, v1 - v3 / 2, v1 + v3 / 2 };
    return (NmsBox){ fmin(v1, v3), fmax(v1, v3), fmin(v0, v2), fmax(v0, v2) };
}

/* Whether box a suppresses box b: IoU > threshold (never for empty overlaps or boxes). */
static bool nms_suppresses(NmsBox a, NmsBox b, double threshold) {
    const double ix0 = fmax(a.x0, b.x0), ix1 = fmin(a.x1, b.x1);
    const double iy0 = fmax(a.y0, b.y0), iy1 = fmin(a.y1, b.y1);
    if (!(ix1 > ix0) || !(iy1 > iy0)) return false;
    const double inter = (ix1 - ix0) * (iy1 - iy0);
    const double area_a = (a.x1 - a.x0) * (a.y1 - a.y0), area_b = (b.x1 - b.x0) * (b.y1 - b.y0);
    const double uni = area_a + area_b - inter;
    if (!(inter > 0) || !(area_a > 0) || !(area_b > 0) || !(uni > 0)) return false;
    return inter / uni > threshold;
}

/* Decreasing score, then increasing index; NaN scores last (a total order for qsort). */
static int nms_cmp(const void *pa, const void *pb) {
    const NmsCand *a = pa, *b = pb;
    if (isnan(a->score) != isnan(b->score)) return isnan(a->score) ? 1 : -1;
    if (a->score > b->score) return -1;
    if (a->score < b->score) return 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Runs the selection; rows (if not NULL) gets the (batch, class, box) triples; *count
 * their number. */
static bool nms_select(const Node *n, const NmsParams *p, int64_t *rows, int64_t *count,
                       Diag *d) {
    const Value *b = n->inputs[0], *s = n->inputs[1];
    const size_t cap = p->boxes > 0 ? (size_t)p->boxes : 1;
    NmsCand *cand = malloc(sizeof *cand * cap);
    int64_t *kept = malloc(sizeof *kept * cap);
    if (!cand || !kept) {
        free(cand), free(kept);
        diag_error(d, n, "out of memory for %lld boxes", (long long)p->boxes);
        return false;
    }
    *count = 0;
    for (int64_t bi = 0; bi < p->batches; bi++)
        for (int64_t c = 0; c < p->classes; c++) {
            size_t nc = 0;
            for (int64_t i = 0; i < p->boxes; i++) {
                const double sc = ou_get_f64(s, (bi * p->classes + c) * p->boxes + i);
                if (!p->has_score || sc > p->score) cand[nc++] = (NmsCand){ sc, i };
            }
            qsort(cand, nc, sizeof *cand, nms_cmp);
            int64_t nk = 0;
            for (size_t k = 0; k < nc && nk < p->max_per_class; k++) {
                const NmsBox box = nms_box(b, p, bi, cand[k].index);
                bool keep = true;
                for (int64_t q = 0; keep && q < nk; q++)
                    keep = !nms_suppresses(box, nms_box(b, p, bi, kept[q]), p->iou);
                if (!keep) continue;
                kept[nk++] = cand[k].index;
                if (rows) {
                    rows[*count * 3] = bi;
                    rows[*count * 3 + 1] = c;
                    rows[*count * 3 + 2] = cand[k].index;
                }
                (*count)++;
            }
        }
    free(cand), free(kept);
    return true;
}

static bool nms_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    NmsParams p;
    int64_t count;
    if (!nms_params(n, &p, d) || !nms_select(n, &p, NULL, &count, d)) return false;
    const int64_t dims[2] = { count, 3 };
    return ou_set_output(n, n->outputs[0], DT_INT64, 2, dims, d);
}

static bool nms_fold(Graph *g, Node *n, Diag *d) {
    NmsParams p;
    int64_t count;
    Value *y = n->outputs[0];
    return nms_params(n, &p, d) && ir_value_alloc_data(g, y, d) &&
           nms_select(n, &p, y->data, &count, d);
}

/* Reached only when the folded output would be too large to keep as a constant. */
static bool nms_emit(Emitter *e, const Node *n, Diag *d) {
    (void)e;
    diag_error(d, n, "NonMaxSuppression is computed at compile time only, and its output "
               "'%s' is too large to fold", n->outputs[0]->name);
    return false;
}

const OpDef op_nonmaxsuppression = {
    .name = "NonMaxSuppression", .domain = "", .since = 10, .min_inputs = 2, .max_inputs = 5,
    .min_outputs = 1, .max_outputs = 1, .infer = nms_infer, .fold = nms_fold,
    .emit = nms_emit, .memory = OP_MEMORY_SEPARATE,
};
