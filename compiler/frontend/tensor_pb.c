/* tensor_pb.c: TensorProto .pb files, the input/output layout of ONNX test cases.
 *
 * `onnxcc run` reads its inputs and writes its outputs with these, and `onnxcc test`
 * reads the expected outputs.  Reading accepts every encoding tensor_data.c knows (but
 * no external data); writing always uses raw_data and is atomic (PATH.tmp, then rename).
 * A HostTensor holds the sub-byte types (int4, uint4, float4e2m1, int2, uint2) one element
 * a byte, like the rest of onnxcc: reading unpacks them (tensor_data.c), writing packs them.
 * Test cases give sequences and optionals as SequenceProto and OptionalProto files, read
 * here as their tensors in order (value_read_pb).
 */
#include "frontend/tensor_data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/checked.h"

enum { PB_MAX_FILE_BYTES = 1 << 30 };   /* 1 GiB: far beyond any test tensor */

/* A HostTensor from the bytes of one TensorProto, named `what` in errors. */
static bool host_from_bytes(const uint8_t *bytes, size_t len, const char *what, HostTensor *t,
                            Diag *d) {
    memset(t, 0, sizeof *t);
    PbBudget budget;
    size_t limit;
    if (!size_mul(len, 16, &limit) || !size_add(limit, (size_t)64 << 20, &limit))
        limit = SIZE_MAX;
    pb_budget_init(&budget, limit);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&budget.alloc, len, bytes);
    if (!tp) {
        diag_error(d, NULL, "%s is not a valid TensorProto (protobuf parse failed)", what);
        return false;
    }
    TensorMeta m;
    bool ok = tensor_proto_meta(tp, what, &m, d);
    if (ok) {
        t->name = strdup(tp->name ? tp->name : "");
        t->data = malloc(m.nbytes ? m.nbytes : 1);
        if (!t->name || !t->data) {
            diag_error(d, NULL, "out of memory reading %s", what);
            ok = false;
        }
    }
    if (ok) ok = tensor_proto_data(tp, &m, NULL, what, t->data, d);
    if (ok) {
        t->dtype = m.dtype;
        t->rank = m.rank;
        memcpy(t->dims, m.dims, sizeof t->dims);
        t->nbytes = m.nbytes;
    } else {
        tensor_free(t);
    }
    onnx__tensor_proto__free_unpacked(tp, &budget.alloc);
    return ok;
}

bool tensor_read_pb(const char *path, HostTensor *t, Diag *d) {
    char qp[300], what[340];
    memset(t, 0, sizeof *t);
    diag_quote(qp, sizeof qp, path);
    snprintf(what, sizeof what, "tensor file '%s'", qp);
    FileMap f;
    if (!fe_file_map(path, PB_MAX_FILE_BYTES, &f, d)) return false;
    bool ok = host_from_bytes(f.data, f.len, what, t, d);
    fe_file_unmap(&f);
    return ok;
}

/* --- SequenceProto and OptionalProto files -------------------------------------------------
 * Their schema is not among the bindings (schemas/onnx.proto), and they are small: a
 * name (field 1), an element type (field 2, SequenceProto.DataType / OptionalProto's,
 * the same numbers) and the values, TensorProtos read by host_from_bytes.  This reads
 * the wire format directly: SequenceProto's tensor_values (3); OptionalProto's
 * tensor_value (3) or sequence_value (5).  Other contents (sparse tensors, maps, nested
 * optionals) are refused. */

enum { PB_WIRE_VARINT = 0, PB_WIRE_I64 = 1, PB_WIRE_LEN = 2, PB_WIRE_I32 = 5,
       PB_VARINT_MAX_BYTES = 10 };
enum { SEQ_FIELD_TENSORS = 3, OPT_FIELD_TENSOR = 3, OPT_FIELD_SEQUENCE = 5,
       ELEM_TYPE_FIELD = 2, ELEM_TENSOR = 1, ELEM_SEQUENCE = 3,
       /* both messages: 4 sparse tensors, 5 sequences, 6 maps, 7 optionals */
       FIELD_OTHER_FIRST = 4, FIELD_OTHER_LAST = 7 };

typedef struct PbField {
    uint32_t num;
    int wire;
    uint64_t varint;            /* PB_WIRE_VARINT */
    const uint8_t *p;           /* PB_WIRE_LEN: the bytes */
    size_t len;
} PbField;

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < PB_VARINT_MAX_BYTES && *p < end; i++) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) { *out = v; return true; }
    }
    return false;
}

/* The next field of [*p, end); false at a malformed field (*p == end: no more). */
static bool pb_next(const uint8_t **p, const uint8_t *end, PbField *f) {
    uint64_t key, len;
    if (!pb_varint(p, end, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) return false;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case PB_WIRE_VARINT: return pb_varint(p, end, &f->varint);
    case PB_WIRE_I64: if (end - *p < 8) return false; *p += 8; return true;
    case PB_WIRE_I32: if (end - *p < 4) return false; *p += 4; return true;
    case PB_WIRE_LEN:
        if (!pb_varint(p, end, &len) || len > (uint64_t)(end - *p)) return false;
        f->p = *p;
        f->len = (size_t)len;
        *p += len;
        return true;
    default: return false;
    }
}

/* Reads the tensors of a SequenceProto's bytes into out[*count...]. */
static bool read_sequence(const uint8_t *p, size_t len, const char *what, HostTensor *out,
                          int cap, int *count, Diag *d) {
    const uint8_t *end = p + len;
    PbField f;
    while (p < end) {
        if (!pb_next(&p, end, &f)) {
            diag_error(d, NULL, "%s is not a valid SequenceProto", what);
            return false;
        }
        if (f.num == ELEM_TYPE_FIELD && f.wire == PB_WIRE_VARINT && f.varint != ELEM_TENSOR &&
            f.varint != 0) {
            diag_error(d, NULL, "%s is a sequence of elements of kind %llu: only sequences "
                       "of tensors are supported", what, (unsigned long long)f.varint);
            return false;
        }
        if (f.wire == PB_WIRE_LEN && f.num >= FIELD_OTHER_FIRST && f.num <= FIELD_OTHER_LAST) {
            diag_error(d, NULL, "%s holds sparse tensors, sequences, maps or optionals: only "
                       "sequences of tensors are supported", what);
            return false;
        }
        if (f.num != SEQ_FIELD_TENSORS || f.wire != PB_WIRE_LEN) continue;
        if (*count >= cap) {
            diag_error(d, NULL, "%s holds more than %d tensors in all", what, cap);
            return false;
        }
        char ewhat[400];
        snprintf(ewhat, sizeof ewhat, "%s, element %d", what, *count);
        if (!host_from_bytes(f.p, f.len, ewhat, &out[*count], d)) return false;
        (*count)++;
    }
    return true;
}

/* An OptionalProto's bytes: empty, a tensor or a sequence of tensors. */
static bool read_optional(const uint8_t *p, size_t len, const char *what, HostTensor *out,
                          int cap, HostLayout *lay, Diag *d) {
    const uint8_t *end = p + len;
    PbField f;
    uint64_t elem_type = 0;   /* 0: not given */
    while (p < end) {
        if (!pb_next(&p, end, &f)) {
            diag_error(d, NULL, "%s is not a valid OptionalProto", what);
            return false;
        }
        if (f.num == ELEM_TYPE_FIELD && f.wire == PB_WIRE_VARINT && f.varint != 0 &&
            f.varint != ELEM_TENSOR && f.varint != ELEM_SEQUENCE) {
            diag_error(d, NULL, "%s is an optional of kind %llu: only optional tensors and "
                       "sequences are supported", what, (unsigned long long)f.varint);
            return false;
        }
        if (f.num == ELEM_TYPE_FIELD && f.wire == PB_WIRE_VARINT) elem_type = f.varint;
        if (f.wire == PB_WIRE_LEN && f.num >= FIELD_OTHER_FIRST && f.num <= FIELD_OTHER_LAST &&
            f.num != OPT_FIELD_SEQUENCE) {
            diag_error(d, NULL, "%s holds a sparse tensor, map or optional: only optional "
                       "tensors and sequences are supported", what);
            return false;
        }
        if (f.wire != PB_WIRE_LEN || (f.num != OPT_FIELD_TENSOR && f.num != OPT_FIELD_SEQUENCE))
            continue;
        if (elem_type != 0 &&
            elem_type != (f.num == OPT_FIELD_TENSOR ? ELEM_TENSOR : ELEM_SEQUENCE)) {
            diag_error(d, NULL, "%s: its element type says %s but it holds a %s", what,
                       elem_type == ELEM_TENSOR ? "tensor" : "sequence",
                       f.num == OPT_FIELD_TENSOR ? "tensor" : "sequence");
            return false;
        }
        if (lay->present) {
            diag_error(d, NULL, "%s holds two values", what);
            return false;
        }
        lay->present = true;
        if (f.num == OPT_FIELD_SEQUENCE) {
            lay->inner = VK_SEQUENCE;
            if (!read_sequence(f.p, f.len, what, out, cap, &lay->count, d)) return false;
        } else {
            lay->inner = VK_TENSOR;
            if (cap < 1) {
                diag_error(d, NULL, "%s: too many tensors in all", what);
                return false;
            }
            if (!host_from_bytes(f.p, f.len, what, &out[0], d)) return false;
            lay->count = 1;
        }
    }
    return true;
}

bool value_read_pb(const char *path, ValueKind kind, HostTensor *out, int cap, HostLayout *lay,
                   Diag *d) {
    char qp[300], what[340];
    memset(lay, 0, sizeof *lay);
    lay->kind = kind;
    lay->inner = VK_TENSOR;
    if (kind == VK_TENSOR) {
        if (cap < 1) {
            diag_error(d, NULL, "too many tensor files");
            return false;
        }
        lay->present = true;
        lay->count = 1;
        return tensor_read_pb(path, out, d);
    }
    diag_quote(qp, sizeof qp, path);
    snprintf(what, sizeof what, "%s file '%s'", kind == VK_SEQUENCE ? "sequence" : "optional",
             qp);
    FileMap f;
    if (!fe_file_map(path, PB_MAX_FILE_BYTES, &f, d)) return false;
    bool ok;
    if (kind == VK_SEQUENCE) {
        lay->present = true;
        ok = read_sequence(f.data, f.len, what, out, cap, &lay->count, d);
    } else {
        ok = read_optional(f.data, f.len, what, out, cap, lay, d);
    }
    fe_file_unmap(&f);
    if (!ok) {
        for (int i = 0; i < lay->count; i++) tensor_free(&out[i]);
        lay->count = 0;
    }
    return ok;
}

/* Checks that a HostTensor is self-consistent before it is written. */
static bool host_tensor_ok(const HostTensor *t, const char *what, Diag *d) {
    if (dtype_size(t->dtype) == 0) {
        diag_error(d, NULL, "cannot write %s: unsupported data type %s", what,
                   dtype_name(t->dtype));
        return false;
    }
    if (t->rank < 0 || t->rank > IR_MAX_RANK) {
        diag_error(d, NULL, "cannot write %s: invalid rank %d", what, t->rank);
        return false;
    }
    size_t n = dtype_size(t->dtype);
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0 || (uint64_t)t->dims[i] > SIZE_MAX ||
            !size_mul(n, (size_t)t->dims[i], &n)) {
            diag_error(d, NULL, "cannot write %s: invalid dimension %lld", what,
                       (long long)t->dims[i]);
            return false;
        }
    }
    if (n != t->nbytes || (n && !t->data)) {
        diag_error(d, NULL, "cannot write %s: it holds %zu bytes, its shape needs %zu", what,
                   t->nbytes, n);
        return false;
    }
    return true;
}

/* Writes all of buf to fd. */
static bool write_all(int fd, const uint8_t *buf, size_t len) {
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

bool tensor_write_pb(const char *path, const HostTensor *t, Diag *d) {
    char qp[300], what[340];
    diag_quote(qp, sizeof qp, path);
    snprintf(what, sizeof what, "tensor file '%s'", qp);
    if (!host_tensor_ok(t, what, d)) return false;

    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    tp.n_dims = (size_t)t->rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)t->dtype;
    tp.name = t->name ? t->name : "";
    tp.has_raw_data = 1;
    tp.raw_data.len = t->nbytes;
    tp.raw_data.data = t->data;
    size_t es = dtype_size(t->dtype);
    uint8_t *packed = NULL;
    if (dtype_packed_bits(t->dtype) < 8) {
        /* one element a byte in memory (es == 1): nbytes is the element count */
        tp.raw_data.len = tensor_packed_size(t->dtype, t->nbytes);
        packed = malloc(tp.raw_data.len ? tp.raw_data.len : 1);
        if (!packed) { diag_error(d, NULL, "out of memory writing %s", what); return false; }
        tensor_pack_lowp(t->dtype, t->data, t->nbytes, packed);
        tp.raw_data.data = packed;
    }
    /* raw_data is little-endian: on a big-endian host write a swapped copy. */
    uint8_t *swapped = NULL;
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (es > 1 && t->nbytes) {
        swapped = malloc(t->nbytes);
        if (!swapped) {
            free(packed);
            diag_error(d, NULL, "out of memory writing %s", what);
            return false;
        }
        for (size_t i = 0; i < t->nbytes; i += es)
            for (size_t k = 0; k < es; k++)
                swapped[i + k] = ((const uint8_t *)t->data)[i + es - 1 - k];
        tp.raw_data.data = swapped;
    }
#else
    (void)es;
#endif
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(len ? len : 1);
    size_t plen = strlen(path) + 5;
    char *tmp = malloc(plen);
    bool ok = false;
    int fd = -1;
    if (!buf || !tmp) {
        diag_error(d, NULL, "out of memory writing %s", what);
        goto done;
    }
    onnx__tensor_proto__pack(&tp, buf);
    snprintf(tmp, plen, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        diag_error(d, NULL, "cannot write %s: %s", what, strerror(errno));
        goto done;
    }
    if (!write_all(fd, buf, len) || fsync(fd) != 0) {
        diag_error(d, NULL, "cannot write %s: %s", what, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        diag_error(d, NULL, "cannot write %s: %s", what, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        diag_error(d, NULL, "cannot write %s: %s", what, strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (fd >= 0) close(fd);
    if (!ok && tmp) unlink(tmp);
    free(tmp);
    free(buf);
    free(swapped);
    free(packed);
    return ok;
}

void tensor_free(HostTensor *t) {
    if (!t) return;
    free(t->name);
    free(t->data);
    t->name = NULL;
    t->data = NULL;
    t->nbytes = 0;
}
