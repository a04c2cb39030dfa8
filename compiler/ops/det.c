/* det.c: Det, the determinant of each square matrix in the last two dims of a float
 * tensor [*, M, M] -> [*].  Computed by LU decomposition with partial pivoting, in
 * double (the emitted code copies each matrix into `scratch`, M * M doubles), then
 * rounded once to the element type.  The folder runs the same algorithm (det_lu) so
 * folded and generated results agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op_util.h"

/* The determinant of the m x m row-major matrix a, destroyed in the process.  A zero
 * pivot column gives 0; NaNs propagate. */
static double det_lu(double *a, int64_t m) {
    double det = 1.0;
    for (int64_t c = 0; c < m; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
        if (a[p * m + c] == 0.0) return 0.0;
        if (p != c) {
            det = -det;
            for (int64_t j = 0; j < m; j++) {
                const double t = a[c * m + j];
                a[c * m + j] = a[p * m + j];
                a[p * m + j] = t;
            }
        }
        det *= a[c * m + c];
        for (int64_t r = c + 1; r < m; r++) {
            const double f = a[r * m + c] / a[c * m + c];
            for (int64_t j = c + 1; j < m; j++) a[r * m + j] -= f * a[c * m + j];
        }
    }
    return det;
}

static bool det_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (!op_require_shape(n, 0, d) || !ou_check_dtype(n, 0, ou_float_types, d)) return false;
    const Value *x = n->inputs[0];
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
        char sx[128];
        diag_error(d, n, "input '%s' is %s; Det needs square matrices in its last two dims",
                   x->name, ou_shape(sx, sizeof sx, x));
        return false;
    }
    return ou_set_output(n, n->outputs[0], x->dtype, x->rank - 2, x->dims, d);
}

/* Side of the matrices and their count. */
static void det_dims(const Node *n, int64_t *m, int64_t *mats) {
    const Value *x = n->inputs[0];
    *m = x->dims[x->rank - 1];
    *mats = ir_numel(n->outputs[0]);
}

static bool det_fold(Graph *g, Node *n, Diag *d) {
    const Value *x = n->inputs[0];
    Value *y = n->outputs[0];
    int64_t m, mats;
    det_dims(n, &m, &mats);
    if (!ir_value_alloc_data(g, y, d)) return false;
    if (mats == 0) return true;     /* m may then be any size: allocate nothing */
    double *a = malloc(sizeof(double) * (size_t)(m > 0 ? m * m : 1));
    if (!a) {
        diag_error(d, n, "out of memory folding Det");
        return false;
    }
    for (int64_t k = 0; k < mats; k++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = ou_get_f64(x, k * m * m + i);
        const double det = det_lu(a, m);
        /* half types: through float, as the emitted code rounds */
        ou_set_f64(y, k, ou_is_half(y->dtype) ? (double)(float)det : det);
    }
    free(a);
    return true;
}

static size_t det_scratch_bytes(const Node *n) {
    int64_t m, mats, mm;
    det_dims(n, &m, &mats);
    size_t bytes;
    if (mats == 0) return 0;        /* nothing is computed */
    if (!i64_mul(m, m, &mm) || !size_mul((size_t)mm, sizeof(double), &bytes)) return 0;
    return bytes;
}

static bool det_emit(Emitter *e, const Node *n, Diag *d) {
    (void)d;
    const Value *x = n->inputs[0], *y = n->outputs[0];
    DType t = x->dtype;
    int64_t m, mats;
    det_dims(n, &m, &mats);
    const long long M = (long long)m, MM = (long long)(m * m);
    char sx[128], sy[128];
    emit_line(e, "/* Det: %s -> %s, LU with partial pivoting in double (det_lu in det.c) */",
              ou_shape(sx, sizeof sx, x), ou_shape(sy, sizeof sy, y));
    if (mats == 0) {
        emit_line(e, "(void)x0; (void)y0;");
        return true;
    }
    if (m == 0) {   /* the determinant of an empty matrix is 1 */
        emit_line(e, "(void)x0;");
        emit_line(e, "for (size_t k = 0; k < %lld; k++) y0[k] = 1;", (long long)mats);
        return true;
    }
    emit_line(e, "double *const a = (double *)scratch;   /* [%lld][%lld] */", M, M);
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)mats);
    emit_open(e, "for (size_t i = 0; i < %lld; i++)", MM);
    if (ou_is_half(t)) {
        char src[64];
        snprintf(src, sizeof src, "x0[k * %lld + i]", MM);
        ou_emit_half_load(e, t, "v", src);
        emit_line(e, "a[i] = v;");
    } else {
        emit_line(e, "a[i] = (double)x0[k * %lld + i];", MM);
    }
    emit_close(e);
    emit_line(e, "double det = 1.0;");
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", M);
    emit_line(e, "size_t p = c;");
    emit_line(e, "for (size_t r = c + 1; r < %lld; r++)", M);
    emit_line(e, "    if (fabs(a[r * %lld + c]) > fabs(a[p * %lld + c])) p = r;", M, M);
    emit_open(e, "if (a[p * %lld + c] == 0.0)", M);
    emit_line(e, "det = 0.0;");
    emit_line(e, "break;");
    emit_close(e);
    emit_open(e, "if (p != c)");
    emit_line(e, "det = -det;");
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", M);
    emit_line(e, "const double s = a[c * %lld + j];", M);
    emit_line(e, "a[c * %lld + j] = a[p * %lld + j];", M, M);
    emit_line(e, "a[p * %lld + j] = s;", M);
    emit_close(e);
    emit_close(e);
    emit_line(e, "det *= a[c * %lld + c];", M);
    emit_open(e, "for (size_t r = c + 1; r < %lld; r++)", M);
    emit_line(e, "const double f = a[r * %lld + c] / a[c * %lld + c];", M, M);
    emit_line(e, "for (size_t j = c + 1; j < %lld; j++) a[r * %lld + j] -= f * a[c * %lld + j];",
              M, M, M);
    emit_close(e);
    emit_close(e);
    if (ou_is_half(t)) {
        emit_line(e, "const float r = (float)det;");
        ou_emit_half_store(e, t, "y0[k]", "r");
    } else {
        emit_line(e, "y0[k] = (%s)det;", dtype_ctype(t));
    }
    return emit_close(e);
}

const OpDef op_det = {
    .name = "Det", .domain = "", .since = 11, .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1, .infer = det_infer, .fold = det_fold,
    .emit = det_emit, .scratch_bytes = det_scratch_bytes, .memory = OP_MEMORY_SEPARATE,
};
