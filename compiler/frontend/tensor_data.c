/* tensor_data.c: TensorProto -> bytes, for initializers, Constant attributes and the
 * .pb files of test cases.
 *
 * A TensorProto stores its elements in one of several fields depending on the type
 * (float_data, int32_data for every type of 32 bits or fewer as bit patterns, int64_data,
 * double_data, uint64_data for uint32/uint64), or as little-endian raw_data, or in an
 * external file next to the model.  Everything here is model data: every count, size and
 * path is checked before it is used.
 *
 * The sub-byte types (int4, uint4, float4e2m1: two a byte; int2, uint2: four a byte, the
 * first element in the lowest bits) are stored packed, in raw_data, external data and
 * int32_data (one packed byte per entry) alike; they are unpacked here to one element a
 * byte, the layout the rest of onnxcc uses (dtype.h).
 */
#include "frontend/tensor_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/checked.h"

/* --- the budgeted allocator -------------------------------------------------------------- */

/* Every block carries its size in a header so that free can give it back to the budget. */
typedef union PbHeader {
    size_t size;
    max_align_t align;
} PbHeader;

static void *pb_budget_alloc(void *data, size_t size) {
    PbBudget *b = data;
    size_t total, used;
    if (!size_add(size, sizeof(PbHeader), &total) || !size_add(b->used, total, &used) ||
        used > b->limit) {
        b->exceeded = true;
        return NULL;
    }
    PbHeader *h = malloc(total);
    if (!h) { b->exceeded = true; return NULL; }
    h->size = total;
    b->used = used;
    return h + 1;
}

static void pb_budget_free(void *data, void *p) {
    PbBudget *b = data;
    if (!p) return;
    PbHeader *h = (PbHeader *)p - 1;
    b->used -= h->size;
    free(h);
}

void pb_budget_init(PbBudget *b, size_t limit) {
    b->alloc.alloc = pb_budget_alloc;
    b->alloc.free = pb_budget_free;
    b->alloc.allocator_data = b;
    b->used = 0;
    b->limit = limit;
    b->exceeded = false;
}

/* --- type and shape ---------------------------------------------------------------------- */

const char *onnx_type_name(int t) {
    if (t > 0 && dtype_is_valid(t) && dtype_size((DType)t) > 0) return dtype_name((DType)t);
    switch (t) {
    case 8: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    case 24: return "float8e8m0";
    case 25: return "uint2";
    case 26: return "int2";
    case 27: return "float6e2m3";
    case 28: return "float6e3m2";
    default: return NULL;
    }
}

bool tensor_proto_meta(const Onnx__TensorProto *tp, const char *what, TensorMeta *m, Diag *d) {
    memset(m, 0, sizeof *m);
    int t = tp->has_data_type ? tp->data_type : 0;
    if (t == 0) {
        diag_error(d, NULL, "%s has no data type", what);
        return false;
    }
    if (t < 0 || !dtype_is_valid(t) || dtype_size((DType)t) == 0) {
        const char *nm = onnx_type_name(t);
        if (nm)
            diag_error(d, NULL, "%s has data type %s, which is not supported", what, nm);
        else
            diag_error(d, NULL, "%s has unknown data type %d", what, t);
        return false;
    }
    if (tp->segment) {
        diag_error(d, NULL, "%s is stored in segments, which is not supported", what);
        return false;
    }
    if (tp->n_dims > IR_MAX_RANK) {
        diag_error(d, NULL, "%s has rank %zu, more than the maximum of %d", what, tp->n_dims,
                   (int)IR_MAX_RANK);
        return false;
    }
    m->dtype = (DType)t;
    m->rank = (int)tp->n_dims;
    size_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        int64_t dim = tp->dims[i];
        if (dim < 0) {
            diag_error(d, NULL, "%s has negative dimension %lld at axis %zu", what,
                       (long long)dim, i);
            return false;
        }
        m->dims[i] = dim;
        if ((uint64_t)dim > SIZE_MAX || !size_mul(numel, (size_t)dim, &numel)) {
            diag_error(d, NULL, "%s has too many elements (the dimensions overflow)", what);
            return false;
        }
    }
    /* Counts must also fit int64_t, which the IR uses for element counts. */
    if (numel > (size_t)INT64_MAX || !size_mul(numel, dtype_size(m->dtype), &m->nbytes)) {
        diag_error(d, NULL, "%s has too many elements (its size overflows)", what);
        return false;
    }
    m->numel = numel;
    m->stored_bytes = tensor_packed_size(m->dtype, numel);
    return true;
}

/* --- packed sub-byte types --------------------------------------------------------------- */

size_t tensor_packed_size(DType t, size_t numel) {
    const size_t per_byte = (size_t)(8 / dtype_packed_bits(t));
    if (per_byte <= 1) return numel * dtype_size(t);
    return numel / per_byte + (numel % per_byte != 0);
}

void tensor_unpack_lowp(DType t, void *buf, size_t numel) {
    const int bits = dtype_packed_bits(t);
    if (bits >= 8) return;
    const size_t per_byte = (size_t)(8 / bits);
    const unsigned mask = (1u << bits) - 1, sign = 1u << (bits - 1);
    const bool is_signed = t == DT_INT4 || t == DT_INT2;
    uint8_t *p = buf;
    /* backwards: element i reads byte i / per_byte <= i, which later (smaller) elements
     * have not overwritten yet */
    for (size_t i = numel; i-- > 0;) {
        unsigned v = (p[i / per_byte] >> (bits * (int)(i % per_byte))) & mask;
        if (is_signed && (v & sign)) v |= ~mask & 0xffu;     /* sign-extend into the byte */
        p[i] = (uint8_t)v;
    }
}

void tensor_pack_lowp(DType t, const void *src, size_t numel, void *dst) {
    const int bits = dtype_packed_bits(t);
    if (bits >= 8) {
        if (numel) memcpy(dst, src, numel * dtype_size(t));
        return;
    }
    const size_t per_byte = (size_t)(8 / bits);
    const unsigned mask = (1u << bits) - 1;
    const uint8_t *s = src;
    uint8_t *d = dst;
    memset(d, 0, tensor_packed_size(t, numel));
    for (size_t i = 0; i < numel; i++)
        d[i / per_byte] |= (uint8_t)((s[i] & mask) << (bits * (int)(i % per_byte)));
}

/* --- element conversion ------------------------------------------------------------------ */

static bool host_is_big_endian(void) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
    return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
#else
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 0;
#endif
}

/* raw_data and external data are little-endian; fix elements in place on other hosts. */
static void le_to_host(void *buf, size_t numel, size_t es) {
    if (es == 1 || !host_is_big_endian()) return;
    uint8_t *p = buf;
    for (size_t i = 0; i < numel; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t tmp = p[a];
            p[a] = p[b];
            p[b] = tmp;
        }
}

/* A bool byte other than 0 or 1 would be undefined behaviour once read as bool. */
static void normalize_bools(const TensorMeta *m, void *out) {
    if (m->dtype != DT_BOOL) return;
    uint8_t *p = out;
    for (size_t i = 0; i < m->numel; i++) p[i] = p[i] != 0;
}

static bool count_ok(size_t have, const TensorMeta *m, const char *field, const char *what,
                     Diag *d) {
    if (have == m->numel) return true;
    diag_error(d, NULL, "%s has %zu elements in %s, but its shape holds %zu", what, have, field,
               m->numel);
    return false;
}

/* The typed fields (not raw_data). */
static bool typed_data(const Onnx__TensorProto *tp, const TensorMeta *m, const char *what,
                       void *out, Diag *d) {
    switch (m->dtype) {
    case DT_FLOAT:
        if (!count_ok(tp->n_float_data, m, "float_data", what, d)) return false;
        if (m->numel) memcpy(out, tp->float_data, m->nbytes);
        return true;
    case DT_DOUBLE:
        if (!count_ok(tp->n_double_data, m, "double_data", what, d)) return false;
        if (m->numel) memcpy(out, tp->double_data, m->nbytes);
        return true;
    case DT_INT64:
        if (!count_ok(tp->n_int64_data, m, "int64_data", what, d)) return false;
        if (m->numel) memcpy(out, tp->int64_data, m->nbytes);
        return true;
    case DT_UINT64:
    case DT_UINT32:
        if (!count_ok(tp->n_uint64_data, m, "uint64_data", what, d)) return false;
        for (size_t i = 0; i < m->numel; i++) {
            if (m->dtype == DT_UINT64) ((uint64_t *)out)[i] = tp->uint64_data[i];
            else ((uint32_t *)out)[i] = (uint32_t)tp->uint64_data[i];
        }
        return true;
    case DT_INT4: case DT_UINT4: case DT_FLOAT4E2M1: case DT_INT2: case DT_UINT2:
        /* one packed byte per entry */
        if (tp->n_int32_data != m->stored_bytes) {
            diag_error(d, NULL, "%s has %zu entries in int32_data, but its shape needs %zu "
                       "packed bytes", what, tp->n_int32_data, m->stored_bytes);
            return false;
        }
        for (size_t i = 0; i < m->stored_bytes; i++) {
            /* a byte, written as unsigned (0..255) or signed (-128..127) */
            if (tp->int32_data[i] < INT8_MIN || tp->int32_data[i] > UINT8_MAX) {
                diag_error(d, NULL, "%s: int32_data entry %zu is %d, not a packed byte", what,
                           i, (int)tp->int32_data[i]);
                return false;
            }
            ((uint8_t *)out)[i] = (uint8_t)tp->int32_data[i];
        }
        tensor_unpack_lowp(m->dtype, out, m->numel);
        return true;
    case DT_INT32: case DT_INT16: case DT_UINT16: case DT_INT8: case DT_UINT8:
    case DT_BOOL: case DT_FLOAT16: case DT_BFLOAT16: case DT_FLOAT8E4M3FN:
    case DT_FLOAT8E4M3FNUZ: case DT_FLOAT8E5M2: case DT_FLOAT8E5M2FNUZ: case DT_FLOAT8E8M0:
        if (!count_ok(tp->n_int32_data, m, "int32_data", what, d)) return false;
        for (size_t i = 0; i < m->numel; i++) {
            /* Narrower types are stored as bit patterns in the low bits. */
            uint32_t bits = (uint32_t)tp->int32_data[i];
            switch (dtype_size(m->dtype)) {
            case 4: ((uint32_t *)out)[i] = bits; break;
            case 2: ((uint16_t *)out)[i] = (uint16_t)bits; break;
            default: ((uint8_t *)out)[i] = (uint8_t)bits; break;
            }
        }
        return true;
    default:
        diag_error(d, NULL, "%s has data type %s, which is not supported", what,
                   dtype_name(m->dtype));
        return false;
    }
}

/* --- external data ----------------------------------------------------------------------- */

/* A decimal count from an external_data entry. */
static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* A relative path with no ".." component. */
static bool location_is_safe(const char *loc) {
    if (!*loc || loc[0] == '/') return false;
    const char *p = loc;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        if (!e) break;
        p = e + 1;
    }
    return true;
}

static bool external_data(const Onnx__TensorProto *tp, const TensorMeta *m, const char *base_dir,
                          const char *what, void *out, Diag *d) {
    const char *loc = NULL;
    uint64_t offset = 0, length = m->stored_bytes;
    bool has_length = false;
    char qb[300];
    if (!base_dir) {
        diag_error(d, NULL, "%s uses external data, which is not allowed here", what);
        return false;
    }
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        const char *key = e->key ? e->key : "";
        if (strcmp(key, "location") == 0) {
            loc = e->value;
        } else if (strcmp(key, "offset") == 0) {
            if (!parse_u64(e->value, &offset)) {
                diag_error(d, NULL, "%s has an invalid external data offset '%s'", what,
                           diag_quote(qb, 64, e->value ? e->value : ""));
                return false;
            }
        } else if (strcmp(key, "length") == 0) {
            if (!parse_u64(e->value, &length)) {
                diag_error(d, NULL, "%s has an invalid external data length '%s'", what,
                           diag_quote(qb, 64, e->value ? e->value : ""));
                return false;
            }
            has_length = true;
        }
    }
    if (!loc) {
        diag_error(d, NULL, "%s has external data without a location", what);
        return false;
    }
    if (!location_is_safe(loc)) {
        diag_error(d, NULL, "%s has external data location '%s': only relative paths inside "
                   "the model's folder are allowed", what, diag_quote(qb, sizeof qb, loc));
        return false;
    }
    if (has_length && length != m->stored_bytes) {
        diag_error(d, NULL, "%s has external data length %llu, but its shape needs %zu bytes",
                   what, (unsigned long long)length, m->stored_bytes);
        return false;
    }
    /* Resolve symlinks on both sides and require the file to stay inside base_dir. */
    size_t plen = strlen(base_dir) + strlen(loc) + 2;
    char *joined = malloc(plen);
    char *real_base = realpath(base_dir, NULL);
    char *real_file = NULL;
    bool ok = false;
    int fd = -1;
    if (!joined || !real_base) {
        diag_error(d, NULL, "%s: cannot resolve the model folder '%s': %s", what,
                   diag_quote(qb, sizeof qb, base_dir), strerror(errno));
        goto done;
    }
    snprintf(joined, plen, "%s/%s", base_dir, loc);
    real_file = realpath(joined, NULL);
    if (!real_file) {
        diag_error(d, NULL, "%s: cannot open external data '%s': %s", what,
                   diag_quote(qb, sizeof qb, loc), strerror(errno));
        goto done;
    }
    size_t bl = strlen(real_base);
    bool inside = strncmp(real_file, real_base, bl) == 0 &&
                  (real_file[bl] == '/' || (bl == 1 && real_base[0] == '/'));
    if (!inside) {
        diag_error(d, NULL, "%s has external data '%s' that leads outside the model's folder",
                   what, diag_quote(qb, sizeof qb, loc));
        goto done;
    }
    fd = open(real_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        diag_error(d, NULL, "%s: cannot open external data '%s': %s", what,
                   diag_quote(qb, sizeof qb, loc), strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error(d, NULL, "%s: external data '%s' is not a regular file", what,
                   diag_quote(qb, sizeof qb, loc));
        goto done;
    }
    uint64_t end;
    if (__builtin_add_overflow(offset, length, &end) || end > (uint64_t)st.st_size) {
        diag_error(d, NULL, "%s: external data '%s' is too short (offset %llu + length %llu > "
                   "file size %lld)", what, diag_quote(qb, sizeof qb, loc),
                   (unsigned long long)offset, (unsigned long long)length,
                   (long long)st.st_size);
        goto done;
    }
    size_t got = 0;
    while (got < m->stored_bytes) {
        ssize_t r = pread(fd, (uint8_t *)out + got, m->stored_bytes - got,
                          (off_t)(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            diag_error(d, NULL, "%s: cannot read external data '%s': %s", what,
                       diag_quote(qb, sizeof qb, loc), r < 0 ? strerror(errno) : "file shrank");
            goto done;
        }
        got += (size_t)r;
    }
    le_to_host(out, m->numel, dtype_size(m->dtype));
    tensor_unpack_lowp(m->dtype, out, m->numel);
    ok = true;
done:
    if (fd >= 0) close(fd);
    free(joined);
    free(real_base);
    free(real_file);
    return ok;
}

bool tensor_proto_data(const Onnx__TensorProto *tp, const TensorMeta *m, const char *base_dir,
                       const char *what, void *out, Diag *d) {
    bool ok;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        ok = external_data(tp, m, base_dir, what, out, d);
    } else if (tp->has_raw_data && (tp->raw_data.len > 0 || m->nbytes == 0)) {
        if (tp->raw_data.len != m->stored_bytes) {
            diag_error(d, NULL, "%s has %zu bytes of raw_data, but its shape needs %zu", what,
                       tp->raw_data.len, m->stored_bytes);
            return false;
        }
        if (m->stored_bytes) memcpy(out, tp->raw_data.data, m->stored_bytes);
        le_to_host(out, m->numel, dtype_size(m->dtype));
        tensor_unpack_lowp(m->dtype, out, m->numel);
        ok = true;
    } else {
        ok = typed_data(tp, m, what, out, d);
    }
    if (ok) normalize_bools(m, out);
    return ok;
}
