/* onnx_read.c: from an ONNX file (or bytes) to an unpacked ModelProto, then to the IR.
 *
 * The file is memory-mapped after its size is checked, unpacked by protobuf-c with an
 * allocator that enforces a byte budget, converted by onnx_model_to_ir() (onnx_to_ir.c),
 * and the protobuf message is freed before returning: the Graph keeps no pointer into it.
 */
#include "frontend/tensor_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/checked.h"

enum { MAX_PATH_MSG = 300 };

/* 4 GiB unless the caller says otherwise. */
static size_t max_file_bytes(const LoadOptions *opt) {
    if (opt && opt->max_file_bytes) return opt->max_file_bytes;
    return (size_t)4 << 30;
}

bool fe_file_map(const char *path, size_t max_bytes, FileMap *f, Diag *d) {
    char qp[MAX_PATH_MSG];
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_error(d, NULL, "cannot read '%s': %s", diag_quote(qp, sizeof qp, path),
                   strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        diag_error(d, NULL, "cannot read '%s': %s", diag_quote(qp, sizeof qp, path),
                   strerror(errno));
        close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error(d, NULL, "cannot read '%s': not a regular file",
                   diag_quote(qp, sizeof qp, path));
        close(fd);
        return false;
    }
    if (st.st_size == 0) {
        diag_error(d, NULL, "'%s' is empty: not a valid ONNX file",
                   diag_quote(qp, sizeof qp, path));
        close(fd);
        return false;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        diag_error(d, NULL, "'%s' is too large (%lld bytes, the limit is %zu)",
                   diag_quote(qp, sizeof qp, path), (long long)st.st_size, max_bytes);
        close(fd);
        return false;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        diag_error(d, NULL, "cannot read '%s': %s", diag_quote(qp, sizeof qp, path),
                   strerror(err));
        return false;
    }
    f->data = p;
    f->len = (size_t)st.st_size;
    f->map = p;
    return true;
}

void fe_file_unmap(FileMap *f) {
    if (f->map) munmap(f->map, f->len);
    memset(f, 0, sizeof *f);
}

/* Unpacking can need several times the file's size (a packed varint of one byte becomes
 * an int64, an empty submessage a whole struct); beyond this the file is refused. */
static size_t unpack_budget(size_t len) {
    size_t b;
    if (!size_mul(len, 16, &b) || !size_add(b, (size_t)256 << 20, &b)) return SIZE_MAX;
    return b;
}

Graph *onnx_load_bytes(const uint8_t *bytes, size_t len, const char *base_dir,
                       const LoadOptions *opt, Diag *d) {
    if (len == 0 || !bytes) {
        diag_error(d, NULL, "not a valid ONNX model (the input is empty)");
        return NULL;
    }
    if (len > max_file_bytes(opt)) {
        diag_error(d, NULL, "model is too large (%zu bytes, the limit is %zu)", len,
                   max_file_bytes(opt));
        return NULL;
    }
    PbBudget budget;
    pb_budget_init(&budget, unpack_budget(len));
    Onnx__ModelProto *m = onnx__model_proto__unpack(&budget.alloc, len, bytes);
    if (!m) {
        if (budget.exceeded)
            diag_error(d, NULL, "not a valid ONNX model (unpacking it needs more than %zu "
                       "bytes of memory)", budget.limit);
        else
            diag_error(d, NULL, "not a valid ONNX model (protobuf parse failed)");
        return NULL;
    }
    Graph *g = onnx_model_to_ir(m, base_dir, opt, d);
    onnx__model_proto__free_unpacked(m, &budget.alloc);
    return g;
}

Graph *onnx_load(const char *path, const LoadOptions *opt, Diag *d) {
    FileMap f;
    if (!fe_file_map(path, max_file_bytes(opt), &f, d)) return NULL;
    /* External data is looked up next to the model. */
    char *dir = strdup(path);
    if (!dir) {
        diag_error(d, NULL, "out of memory");
        fe_file_unmap(&f);
        return NULL;
    }
    char *slash = strrchr(dir, '/');
    const char *base = ".";
    if (slash == dir) base = "/";
    else if (slash) { *slash = '\0'; base = dir; }
    Graph *g = onnx_load_bytes(f.data, f.len, base, opt, d);
    free(dir);
    fe_file_unmap(&f);
    return g;
}
