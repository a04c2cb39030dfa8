/* op.h: the definition of an operator.
 *
 * Each ONNX operator is one `const OpDef op_<name>` in compiler/ops/<file>.c and one
 * OP(<name>) line in ops.def.  The OpDef says what the op accepts, how to infer its
 * output types and shapes, how to evaluate it at compile time (constant folding) and how
 * to emit its C.  Nothing outside its file switches on the op type.
 *
 * The emitter writes the body of one static C function; see backend/emitter.h for the
 * names it may use (x0.. inputs, y0.. outputs, scratch).
 */
#ifndef ONNXCC_OP_H
#define ONNXCC_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "ir/graph.h"

typedef struct Emitter Emitter;

/* The most nodes (loop iterations included) all expansions of one model may create. */
enum { OP_EXPAND_MAX_NODES = 100000 };

/* What the inference pass lends an op's expand hook: infer_node infers (and folds, and
 * expands in turn) a node the hook has just appended to the schedule; nodes_left is the
 * budget of nodes all expansions together may still create. */
typedef struct OpExpandCtx OpExpandCtx;
struct OpExpandCtx {
    bool (*infer_node)(OpExpandCtx *cx, Graph *g, Node *n, Diag *d);
    int64_t nodes_left;
};

/* How the memory planner may place output 0 relative to input 0. */
typedef enum OpMemory {
    OP_MEMORY_SEPARATE = 0,   /* output needs its own buffer */
    OP_MEMORY_INPLACE,        /* elementwise: output 0 may overwrite an input of the same size
                                 whose last use is this node */
    OP_MEMORY_ALIAS,          /* output 0 has the bytes of input 0 (Reshape, Flatten, Squeeze,
                                 Unsqueeze, Identity): the emitter copies only if the planner
                                 could not alias them */
} OpMemory;

typedef struct OpDef {
    const char *name;           /* ONNX op_type */
    const char *domain;         /* "" = ai.onnx */
    int since;                  /* oldest opset version handled */
    int min_inputs, max_inputs;
    int min_outputs, max_outputs;
    /* Sets dtype and shape of every output from the inputs and attributes; checks
     * attributes and input types.  false + diag_error on a bad model. */
    bool (*infer)(Graph *g, Node *n, Diag *d);
    /* Computes the outputs' data at compile time (every input is constant, or for
     * fold_on_shapes ops every input shape is known).  NULL when the op cannot fold. */
    bool (*fold)(Graph *g, Node *n, Diag *d);
    bool fold_on_shapes;        /* Shape, Size: fold needs only input shapes */
    /* Writes the body of the node's C function. */
    bool (*emit)(Emitter *e, const Node *n, Diag *d);
    /* Bytes of temporary memory the emitted code needs (im2col buffers...); NULL = 0. */
    size_t (*scratch_bytes)(const Node *n);
    OpMemory memory;
    /* The emitted body may `return 1;` on a run-time error (a data-dependent index out of
     * range); the backend then makes the function return int and checks it. */
    bool may_fail;
    /* Floating-point operations of one run (multiply-add = 2), for `onnxcc info`; NULL
     * counts one per output element. */
    int64_t (*flops)(const Node *n);
    const void *data;           /* per-op constants for families sharing functions */
    /* Control flow (If, Loop, Scan): called by inference instead of infer, once the
     * node's inputs are inferred.  Appends plain nodes to the schedule, calling
     * cx->infer_node on each right after appending it (so that later choices can read
     * folded values), makes the node's outputs produced by the last of them, and marks
     * the node dead.  NULL for ordinary ops. */
    bool (*expand)(Graph *g, Node *n, OpExpandCtx *cx, Diag *d);
} OpDef;

/* The registry (registry.c, generated from ops.def). */
const OpDef *op_find(const char *domain, const char *op_type);
/* All ops, for listings. */
extern const OpDef *const op_all[];
extern const int op_count;

/* Checks a node's arity against its OpDef; records an error and returns false. */
bool op_check_arity(const Node *n, Diag *d);

/* Helpers shared by op files (op_common.c). */
/* Input i if present, else NULL. */
static inline Value *op_input(const Node *n, int i) {
    return i < n->n_inputs ? n->inputs[i] : NULL;
}
/* Requires input i present with known shape; records an error otherwise. */
bool op_require_shape(const Node *n, int i, Diag *d);
/* Requires input i to be a constant (for ops whose parameters come as inputs: Reshape's
 * shape, Slice's starts...); records an error naming the input otherwise. */
bool op_require_const(const Node *n, int i, Diag *d);
/* The same for an input whose values decide the shape of the outputs (NonZero, Unique,
 * NonMaxSuppression, Compress's condition): the generated code has static shapes, so
 * such an op is computed at compile time; the error says why. */
bool op_require_const_data(const Node *n, int i, Diag *d);
/* Output 0 gets input 0's dtype and shape (elementwise unary ops). */
bool op_infer_like_input0(Graph *g, Node *n, Diag *d);

#endif
