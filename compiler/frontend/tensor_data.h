/* tensor_data.h: the frontend's internals shared by its files.
 *
 * TensorProto -> bytes (every element encoding ONNX allows, external data from inside the
 * model's folder only), a protobuf-c allocator with a byte budget, reading a whole file,
 * and the ModelProto -> Graph conversion (onnx_to_ir.c).  Used by onnx_read.c (models)
 * and tensor_pb.c (test-case .pb files); nothing outside compiler/frontend/ needs it.
 */
#ifndef ONNXCC_TENSOR_DATA_H
#define ONNXCC_TENSOR_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "onnx.pb-c.h"

#include "base/arena.h"
#include "base/diag.h"
#include "frontend/frontend.h"
#include "ir/graph.h"

/* Validated type and shape of a TensorProto. */
typedef struct TensorMeta {
    DType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    size_t numel;
    size_t nbytes;              /* numel * dtype_size(dtype): the unpacked size in memory */
    size_t stored_bytes;        /* the size in raw_data / external data: nbytes, or packed
                                   (two 4-bit or four 2-bit elements a byte) */
} TensorMeta;

/* The ONNX spelling of a data type number, also for types we cannot hold ("complex64");
 * NULL for numbers ONNX does not define. */
const char *onnx_type_name(int t);
/* Checks data type (held types only: no strings), rank, dims and size overflow.  what
 * names the tensor in messages ("initializer 'w'"). */
bool tensor_proto_meta(const Onnx__TensorProto *tp, const char *what, TensorMeta *m, Diag *d);
/* Bytes that numel elements of t take packed as ONNX stores them (ceil(numel * bits / 8)). */
size_t tensor_packed_size(DType t, size_t numel);
/* Sub-byte types (int4, uint4, float4e2m1, int2, uint2): unpacks in place the packed
 * bytes at the start of buf (tensor_packed_size(t, numel) of them, low bits first) into
 * one element a byte (signed types sign-extended).  Other types: nothing to do. */
void tensor_unpack_lowp(DType t, void *buf, size_t numel);
/* The reverse: packs numel one-byte elements of src into dst (tensor_packed_size bytes;
 * padding bits zero).  For other types, copies numel * dtype_size bytes. */
void tensor_pack_lowp(DType t, const void *src, size_t numel, void *dst);
/* Writes the m->nbytes bytes of the tensor's contents, row-major, host byte order, into
 * out.  Checks that the stored data has exactly numel elements.  base_dir: folder where
 * external data may be read (NULL: external data refused). */
bool tensor_proto_data(const Onnx__TensorProto *tp, const TensorMeta *m, const char *base_dir,
                       const char *what, void *out, Diag *d);

/* A protobuf-c allocator that refuses to hand out more than limit bytes in all, so a
 * hostile file cannot make unpacking use unbounded memory. */
typedef struct PbBudget {
    ProtobufCAllocator alloc;   /* pass &b->alloc to the unpack / free functions */
    size_t used, limit;
    bool exceeded;
} PbBudget;
void pb_budget_init(PbBudget *b, size_t limit);

/* A whole file in memory (mapped read-only).  Refuses non-regular files, empty files
 * and files over max_bytes; errors name the path. */
typedef struct FileMap {
    const uint8_t *data;
    size_t len;
    void *map;                  /* for fe_file_unmap */
} FileMap;
bool fe_file_map(const char *path, size_t max_bytes, FileMap *f, Diag *d);
void fe_file_unmap(FileMap *f);

/* The model with every call of a model-local function replaced by the function's nodes
 * (functions.c): m itself when it has no functions, else a shallow copy whose new parts
 * live in `a` (free it after converting), NULL + errors in d on failure. */
const Onnx__ModelProto *fn_inline_model(const Onnx__ModelProto *m, Arena *a, Diag *d);

/* ModelProto -> Graph.  NULL + errors in d on failure.  Copies everything it keeps. */
Graph *onnx_model_to_ir(const Onnx__ModelProto *m, const char *base_dir,
                        const LoadOptions *opt, Diag *d);

#endif
