/* frontend.h: from an ONNX file to the IR.
 *
 * onnx_load() maps the file, unpacks ModelProto with protobuf-c (bindings generated at
 * build time from schemas/onnx.proto), validates what it reads, loads external data from
 * inside the model's folder only, and builds a Graph that holds no pointer into protobuf
 * data.  Every malformed input is reported as one clear error naming the node or tensor.
 */
#ifndef ONNXCC_FRONTEND_H
#define ONNXCC_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "ir/graph.h"

typedef struct LoadOptions {
    size_t max_file_bytes;      /* refuse larger files (0 = default 4 GiB) */
    size_t arena_limit_bytes;   /* 0 = none */
} LoadOptions;

/* Loads and converts a model.  NULL + errors in d on failure. */
Graph *onnx_load(const char *path, const LoadOptions *opt, Diag *d);
/* Same from bytes in memory (tests, fuzzers).  base_dir is where external data may be
 * looked up (NULL: external data is refused). */
Graph *onnx_load_bytes(const uint8_t *bytes, size_t len, const char *base_dir,
                       const LoadOptions *opt, Diag *d);

/* A tensor read from or written to a TensorProto .pb file (the ONNX test-case layout). */
typedef struct HostTensor {
    char *name;                 /* malloc'ed, may be "" */
    DType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    void *data;                 /* malloc'ed, numel * dtype_size bytes, row-major */
    size_t nbytes;
} HostTensor;

bool tensor_read_pb(const char *path, HostTensor *t, Diag *d);
/* What a value file held besides its tensors: a tensor (count 1), a sequence of count
 * tensors, or an optional, empty (present false) or holding a tensor or a sequence. */
typedef struct HostLayout {
    ValueKind kind;
    bool present;
    ValueKind inner;            /* an optional's value: VK_TENSOR or VK_SEQUENCE */
    int count;                  /* tensors read */
} HostLayout;
/* Reads a TensorProto, SequenceProto or OptionalProto file (as kind says, the model's
 * type: the files do not say which they are) into out[0..cap), its tensors in order. */
bool value_read_pb(const char *path, ValueKind kind, HostTensor *out, int cap, HostLayout *lay,
                   Diag *d);
bool tensor_write_pb(const char *path, const HostTensor *t, Diag *d);
void tensor_free(HostTensor *t);

#endif
