/* shape.c: shape arithmetic shared by every op: broadcasting, strides, axes and the
 * geometry of convolution and pooling windows.  See shape.h. */
#include "ir/shape.h"

#include <string.h>

#include "base/checked.h"

bool shape_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int *rank_out,
                     int64_t *out) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db) out[i] = da;
        else if (da == 1) out[i] = db;
        else if (db == 1) out[i] = da;
        else if (da < 0 || db < 0) out[i] = -1;
        else return false;
    }
    *rank_out = r;
    return true;
}

void shape_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void shape_broadcast_strides(int r_in, const int64_t *in_dims, int r_out, int64_t *strides) {
    int64_t own[IR_MAX_RANK];
    shape_strides(r_in, in_dims, own);
    for (int i = 0; i < r_out; i++) {
        int k = i - (r_out - r_in);
        strides[i] = (k < 0 || in_dims[k] == 1) ? 0 : own[k];
    }
}

bool shape_axis(int64_t axis, int rank, bool allow_end, int *out) {
    int64_t hi = allow_end ? rank + 1 : rank;
    if (axis < -hi || axis >= hi) return false;
    if (axis < 0) axis += hi;
    *out = (int)axis;
    return true;
}

int64_t shape_numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || !i64_mul(n, dims[i], &n)) return -1;
    }
    return n;
}

/* Reads an ints attribute of exactly `want` values (or none, giving dflt). */
static bool spatial_attr(const Node *n, const char *name, int want, int64_t dflt,
                         int64_t *out, Diag *d) {
    const int64_t *v;
    size_t count = ir_attr_ints(n, name, &v);
    if (count == 0) {
        for (int i = 0; i < want; i++) out[i] = dflt;
        return true;
    }
    if (count != (size_t)want) {
        diag_error(d, n, "attribute '%s' has %zu values, expected %d", name, count, want);
        return false;
    }
    for (int i = 0; i < want; i++) out[i] = v[i];
    return true;
}

bool shape_spatial_geom(const Node *n, int ns, const int64_t *in_spatial,
                        const int64_t *kernel, bool ceil_mode, SpatialGeom *g, Diag *d) {
    memset(g, 0, sizeof *g);
    if (ns < 1 || ns > 3) {
        diag_error(d, n, "%d spatial dimensions, only 1 to 3 are supported", ns);
        return false;
    }
    g->n_spatial = ns;
    int64_t pads[6];
    if (!spatial_attr(n, "strides", ns, 1, g->stride, d) ||
        !spatial_attr(n, "dilations", ns, 1, g->dilation, d) ||
        !spatial_attr(n, "pads", 2 * ns, 0, pads, d))
        return false;
    const char *auto_pad = ir_attr_string(n, "auto_pad", "NOTSET");
    for (int i = 0; i < ns; i++) {
        g->in[i] = in_spatial[i];
        g->kernel[i] = kernel[i];
        if (g->kernel[i] < 1 || g->kernel[i] > (1 << 20)) {
            diag_error(d, n, "kernel size %lld on spatial axis %d is out of range",
                       (long long)g->kernel[i], i);
            return false;
        }
        if (g->stride[i] < 1 || g->stride[i] > (1 << 20) || g->dilation[i] < 1 ||
            g->dilation[i] > (1 << 20)) {
            diag_error(d, n, "stride %lld / dilation %lld on spatial axis %d must be in 1..%d",
                       (long long)g->stride[i], (long long)g->dilation[i], i, 1 << 20);
            return false;
        }
        int64_t ek = (g->kernel[i] - 1) * g->dilation[i] + 1;   /* effective kernel */
        if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
            int64_t out = (g->in[i] + g->stride[i] - 1) / g->stride[i];
            int64_t total = (out - 1) * g->stride[i] + ek - g->in[i];
            if (total < 0) total = 0;
            int64_t small = total / 2, big = total - small;
            g->pad_begin[i] = strcmp(auto_pad, "SAME_UPPER") == 0 ? small : big;
            g->pad_end[i] = total - g->pad_begin[i];
            g->out[i] = out;
            continue;
        }
        if (strcmp(auto_pad, "VALID") == 0) {
            g->pad_begin[i] = g->pad_end[i] = 0;
        } else if (strcmp(auto_pad, "NOTSET") == 0) {
            g->pad_begin[i] = pads[i];
            g->pad_end[i] = pads[i + ns];
            if (pads[i] < 0 || pads[i + ns] < 0 || pads[i] > (1 << 20) || pads[i + ns] > (1 << 20)) {
                diag_error(d, n, "pads on spatial axis %d are %lld, %lld: must be in 0..%d", i,
                           (long long)pads[i], (long long)pads[i + ns], 1 << 20);
                return false;
            }
        } else {
            diag_error(d, n, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                       auto_pad);
            return false;
        }
        int64_t span = g->in[i] + g->pad_begin[i] + g->pad_end[i] - ek;
        if (span < 0) {
            diag_error(d, n, "kernel %lld (dilated %lld) is larger than the padded input %lld on "
                       "spatial axis %d", (long long)g->kernel[i], (long long)ek,
                       (long long)(g->in[i] + g->pad_begin[i] + g->pad_end[i]), i);
            return false;
        }
        int64_t out = ceil_mode ? (span + g->stride[i] - 1) / g->stride[i] + 1
                                : span / g->stride[i] + 1;
        /* ceil_mode: the last window must start inside the input or left padding. */
        if (ceil_mode && (out - 1) * g->stride[i] >= g->in[i] + g->pad_begin[i]) out--;
        g->out[i] = out;
    }
    return true;
}
