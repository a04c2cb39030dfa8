/* control_flow.h: the pieces of the control-flow expansion (control_flow.c) that the
 * other expanding ops reuse: the sequence and optional ops (sequence.c, optional.c) build
 * their plain nodes with the same helpers, and SequenceMap instantiates its body the way
 * Scan does.  All of them are for expand hooks (OpDef.expand) only: each node they create
 * is inferred (and folded) at once and counted against OP_EXPAND_MAX_NODES.
 */
#ifndef ONNXCC_CONTROL_FLOW_H
#define ONNXCC_CONTROL_FLOW_H

#include "ops/op.h"

/* Opset of the nodes an expansion creates itself (Unsqueeze and Split take inputs). */
enum { CF_OPSET = 13 };

/* Records "out of memory expanding ..." against owner; returns false. */
bool cf_oom(const Node *owner, Diag *d);
/* The name stem of the node's values: its first output's name. */
const char *cf_stem(const Node *n);
/* A fresh value of g, named after base. */
Value *cf_value(Graph *g, const Node *owner, const char *base, Diag *d);
/* A constant of type t holding x: rank 0, or rank 1 of one element. */
Value *cf_const(Graph *g, const Node *owner, const char *base, DType t, int rank, int64_t x,
                Diag *d);
/* A constant int64 vector of count elements (rank 1). */
Value *cf_const_ints(Graph *g, const Node *owner, const char *base, const int64_t *x,
                     int64_t count, Diag *d);
/* A new node op_type(in...) -> n_out fresh outputs named after base (outs[k]), inferred;
 * an int attribute when attr is not NULL. */
bool cf_opn(Graph *g, OpExpandCtx *cx, const Node *owner, const char *op_type,
            Value *const *in, int n_in, const char *attr, int64_t attr_value, Value **outs,
            int n_out, const char *base, Diag *d);
/* One op of the expansion: op_type(in...) -> one output, dst or a fresh value named base;
 * an int attribute when attr is not NULL.  Returns the output, NULL + d on error. */
Value *cf_op1(Graph *g, OpExpandCtx *cx, const Node *owner, const char *op_type,
              Value *const *in, int n_in, const char *attr, int64_t attr_value, Value *dst,
              const char *base, Diag *d);
/* dst takes x's contents: a tensor through Identity (which canonicalize drops), a
 * sequence or optional by sharing its list.  dst NULL: nothing to do. */
bool cf_bind(Graph *g, OpExpandCtx *cx, const Node *owner, Value *x, Value *dst, Diag *d);
/* The body attribute `name` of n, or NULL + error. */
const Subgraph *cf_body(const Node *n, const char *name, Diag *d);
/* Inputs declared by the model (the captures of the bodies follow them). */
int cf_declared_inputs(const Node *n);
/* "stem.kindN" (iter >= 0) or "stem.kind" for the values of one copy of a body. */
const char *cf_tag(Graph *g, const Node *n, const char *kind, int64_t iter);
/* One copy of body s in g: formal input i bound to binds[i], capture k to the owner's
 * input capture_base + k; outs[j] gets the value of result j.  Values are named
 * "<tag>/<body name>". */
bool cf_instantiate(Graph *g, OpExpandCtx *cx, const Node *owner, const Subgraph *s,
                    Value *const *binds, const char *tag, Value **outs, Diag *d);

/* sequence.c: what inference does with lists outside the sequence ops. */
/* A plain op reading a sequence or an optional: an alias op of one input and one output
 * (Identity) passes the list on; any other op is an error naming it. */
bool seq_pass_through(Graph *g, Node *n, OpExpandCtx *cx, Diag *d);
/* At the end of inference: each sequence or optional graph output is replaced by its
 * tensors (ir_graph_flatten_io), each a distinct value computed by the program (an
 * Identity copy where a tensor is a graph input or appears twice). */
bool seq_flatten_outputs(Graph *g, OpExpandCtx *cx, Diag *d);

#endif
