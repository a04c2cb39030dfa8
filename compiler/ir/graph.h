/* graph.h: the intermediate representation.
 *
 * A Graph owns an arena; every Value, Node, Attr, name and constant buffer lives in it and
 * is released by ir_graph_free().  Values carry dtype, shape and (for constants) their data;
 * nodes carry the op, typed attributes, inputs and outputs.  graph->nodes is the schedule:
 * after the toposort pass it is in topological order, ties broken by original node index,
 * so every later step is deterministic.  A dead node is marked and removed by
 * ir_graph_compact(); no node is freed on its own.
 */
#ifndef ONNXCC_GRAPH_H
#define ONNXCC_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/diag.h"
#include "ir/dtype.h"

enum {
    IR_MAX_RANK = 8,          /* larger ranks are rejected by the frontend */
    IR_MAX_NAME = 4096,       /* longer names are rejected */
    IR_MAX_SUBGRAPH_DEPTH = 16, /* deeper nesting of If/Loop/Scan bodies is rejected */
    IR_MAX_LIST = 65536,      /* longer sequences are rejected */
    IR_MAX_LIST_TOTAL = 1 << 24, /* elements of all the lists of a graph together (each list
                                    holds its own array: a loop inserting into a sequence
                                    makes quadratically many) */
};

/* What a value is.  Sequences and optionals exist only at compile time: a list value
 * holds the tensor values it is made of (see Value.elems), and the ops that handle lists
 * are expanded during inference into ordinary nodes on those tensors (ops/sequence.c). */
typedef enum ValueKind {
    VK_TENSOR = 0,
    VK_SEQUENCE,              /* elems: the tensors, in order */
    VK_OPTIONAL,              /* elems: none (empty) or one tensor or sequence value */
} ValueKind;

typedef struct Graph Graph;
typedef struct Node Node;
typedef struct Value Value;
typedef struct Subgraph Subgraph;
struct OpDef;

/* Where a value's bytes live in the generated program. Set by the memory planner. */
typedef enum Storage {
    STORAGE_NONE = 0,       /* not planned yet */
    STORAGE_CONST,          /* static const data in the generated .c (v->data) */
    STORAGE_INPUT,          /* a caller's input buffer */
    STORAGE_OUTPUT,         /* a caller's output buffer */
    STORAGE_WORKSPACE,      /* a slice of the workspace at v->ws_offset */
} Storage;

struct Value {
    const char *name;           /* ONNX name (unique in the graph), never NULL */
    DType dtype;                /* DT_UNDEFINED until inferred */
    int rank;                   /* -1 while unknown */
    int64_t dims[IR_MAX_RANK];  /* -1 for an unknown / symbolic dim */
    const char *dim_params[IR_MAX_RANK]; /* symbolic dim names from the model, or NULL */
    void *data;                 /* constant contents (row-major, dtype elements) or NULL */
    Node *producer;             /* NULL for graph inputs and constants */
    int id;                     /* index in graph->values, stable */
    bool is_input;              /* a graph input (not an initializer) */
    bool is_output;             /* a graph output */
    bool needs_const;           /* an op asked for this value's data at compile time, or for
                                   that of a value computed from it (op_require_const);
                                   `onnxcc test` then freezes such graph inputs */
    /* sequences and optionals (kind != VK_TENSOR): dtype is the element type declared by
     * the model (DT_UNDEFINED if none), rank stays -1; the list is known once list_known
     * is set (by an expansion, or by binding a graph input's data) */
    ValueKind kind;
    Value **elems;              /* n_elems values (arena); shared between lists */
    int n_elems;
    bool list_known;
    /* memory plan */
    Storage storage;
    size_t ws_offset;           /* bytes into the workspace, for STORAGE_WORKSPACE */
};

/* ONNX AttributeProto.AttributeType numbering. */
typedef enum AttrType {
    ATTR_UNDEFINED = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
    ATTR_TYPE_PROTO = 13,       /* a type (Optional's `type`): only its presence is kept */
} AttrType;

typedef struct Attr {
    const char *name;
    AttrType type;
    float f;                    /* ATTR_FLOAT */
    int64_t i;                  /* ATTR_INT */
    const char *s;              /* ATTR_STRING (NUL-terminated copy) */
    size_t s_len;
    float *floats;              /* ATTR_FLOATS */
    int64_t *ints;              /* ATTR_INTS */
    const char **strings;       /* ATTR_STRINGS */
    size_t count;               /* elements of floats / ints / strings */
    Value *tensor;              /* ATTR_TENSOR: a constant value not in graph->values */
    Subgraph *graph;            /* ATTR_GRAPH: the body (NULL for a list of graphs, which
                                   is not converted) */
} Attr;

/* The body of a control-flow node (If's branches, Loop's and Scan's body): a graph
 * attribute, converted by the frontend.  Its values and nodes live in the graph's arena
 * but not in graph->values or the schedule; a body value's id is its index in
 * sub->values.  A body never names an outer value directly: each outer value it reads is
 * a local placeholder, capture k, standing for input capture_base + k of the node that
 * holds the attribute (the frontend appends those inputs after the declared ones), so
 * toposort and liveness see what a body reads.  Ops with bodies are expanded into plain
 * nodes during inference (OpDef.expand); nothing after inference sees a Subgraph. */
struct Subgraph {
    const char *name;
    int depth;                  /* 1 for a body of a main-graph node, <= IR_MAX_SUBGRAPH_DEPTH */
    Value **inputs;             /* formal inputs, bound at each instantiation */
    int n_inputs;
    Value **outputs;            /* results: local values, inputs or captures */
    int n_outputs;
    Node **nodes;               /* in the model's (topological) order */
    int n_nodes, cap_nodes;
    Value **values;             /* every local value, by local id */
    int n_values, cap_values;
    Value **captures;           /* placeholders for outer values */
    int n_captures, cap_captures;
    int capture_base;           /* index of capture 0 among the owner node's inputs */
};

/* What a fused node does after its main computation, element by element, before the one
 * store: y = act(y + residual).  Activation kinds are the runtime's ONNXCC_ACT_* codes
 * (runtime/include/onnxcc_act.h), so the compiler's folder and the kernels share them. */
typedef struct Epilogue {
    int act;                    /* ONNXCC_ACT_NONE when nothing is fused */
    float alpha, beta;          /* LeakyRelu/Elu alpha, Clip min/max, HardSigmoid a/b */
    int slope_input;            /* PRelu: index into node->inputs of the slope, or -1 */
    int residual_input;         /* residual Add: index into node->inputs, or -1 */
} Epilogue;

struct Node {
    const char *name;           /* ONNX node name ("" if the model gave none) */
    const char *op_type;
    const char *domain;         /* "" for the default ONNX domain */
    const struct OpDef *op;     /* NULL until resolved by the registry */
    int opset;                  /* opset version in force for this node's domain */
    int id;                     /* original index in the model: the tie-breaker */
    Value **inputs;             /* n_inputs entries; NULL for an omitted optional input */
    int n_inputs;
    Value **outputs;            /* n_outputs entries; NULL for an omitted optional output */
    int n_outputs;
    Attr *attrs;
    int n_attrs;
    Epilogue epi;
    const char *fused;          /* for comments: "Relu 'relu1'" etc. of absorbed nodes, or NULL */
    bool dead;                  /* to be removed by ir_graph_compact() */
};

struct Graph {
    Arena arena;
    const char *name;           /* graph name from the model */
    const char *producer;       /* producer_name + version, for the header comment */
    int64_t ir_version;
    int opset;                  /* default-domain opset */
    Value **values;             /* every value, by id */
    int n_values, cap_values;
    Node **nodes;               /* the schedule */
    int n_nodes, cap_nodes;
    int next_node_id;           /* ids are never reused, even after compaction */
    Value **inputs;             /* graph inputs in model order (initializers excluded) */
    int n_inputs;
    Value **outputs;            /* graph outputs in model order */
    int n_outputs;
    /* the outputs as the model declares them, sequences and optionals included, once
     * ir_graph_flatten_io has replaced each list in `outputs` by its tensors (else NULL) */
    Value **model_outputs;
    int n_model_outputs;
    int64_t list_elems;         /* elements of every list made so far (IR_MAX_LIST_TOTAL) */
    struct MemoryPlan *plan;    /* set by the plan_memory pass */
    /* name -> value hash (open addressing, malloc'ed, freed by ir_graph_free), built by
     * the first ir_unique_name so that expansions creating 10^5 values stay linear; NULL
     * until then (ir_value_find then scans graph->values) */
    Value **name_index;
    size_t name_index_cap;
};

/* Creation.  All return NULL (and record an error in d) when the arena is exhausted. */
Graph *ir_graph_new(size_t arena_limit_bytes);
void   ir_graph_free(Graph *g);
Value *ir_value_new(Graph *g, const char *name, Diag *d);
Value *ir_value_find(const Graph *g, const char *name);     /* linear; frontend uses a hash */
Node  *ir_node_new(Graph *g, const char *name, const char *op_type, const char *domain,
                   int n_inputs, int n_outputs, Diag *d);
/* Adds v to g->inputs / g->outputs. */
bool   ir_graph_add_input(Graph *g, Value *v, Diag *d);
bool   ir_graph_add_output(Graph *g, Value *v, Diag *d);
/* Removes dead nodes from the schedule, keeping order. */
void   ir_graph_compact(Graph *g);
/* A fresh value name derived from base, unique in g ("base__1", ...). */
const char *ir_unique_name(Graph *g, const char *base);

/* Bodies (graph attributes).  Values and nodes created here are local to s. */
Subgraph *ir_subgraph_new(Graph *g, const char *name, int depth, Diag *d);
Value *ir_subgraph_value_new(Graph *g, Subgraph *s, const char *name, Diag *d);
Node  *ir_subgraph_node_new(Graph *g, Subgraph *s, const char *name, const char *op_type,
                            const char *domain, int n_inputs, int n_outputs, Diag *d);
/* Adds a placeholder value of s standing for the owner's input capture_base + k. */
bool   ir_subgraph_add_capture(Graph *g, Subgraph *s, Value *placeholder, Diag *d);
/* Appends an input to a node (the frontend's captures). */
bool   ir_node_add_input(Graph *g, Node *n, Value *v, Diag *d);

/* Sequences and optionals. */
/* v has a known type: a tensor with a rank, or a list whose elements are known. */
bool    ir_value_inferred(const Value *v);
/* Makes v the list `kind` of the n values elems (copied into the arena); false + error
 * beyond IR_MAX_LIST elements (IR_MAX_LIST_TOTAL for the graph) or on memory exhaustion. */
bool    ir_list_set(Graph *g, Value *v, ValueKind kind, Value *const *elems, int n, Diag *d);
/* Tensors of a list value, nested lists flattened in order (a tensor counts 1). */
int64_t ir_list_tensor_count(const Value *v);
/* Gives list graph input v its structure from the caller's data: a sequence of count
 * fresh tensor inputs named "v[i]" (element type v->dtype, shape bound later); an
 * optional that is empty (present false) or holds a tensor (inner VK_TENSOR) or a
 * sequence of count tensors. */
bool    ir_list_bind_input(Graph *g, Value *v, bool present, ValueKind inner, int count,
                           Diag *d);
/* Replaces each list among g->inputs (outputs: g->outputs, keeping the declared list in
 * g->model_outputs) by its tensors in order, nested lists flattened; the tensors become
 * inputs (outputs) too, and the lists keep their flags (they are the model's).  The
 * generated function then takes and returns one buffer per tensor. */
bool    ir_graph_flatten_io(Graph *g, bool outputs, Diag *d);

/* Shapes. */
void    ir_value_set_shape(Value *v, DType t, int rank, const int64_t *dims);
bool    ir_value_shape_known(const Value *v);   /* rank >= 0 and no dim < 0 */
int64_t ir_numel(const Value *v);               /* -1 if unknown or overflowing */
size_t  ir_nbytes(const Value *v);              /* 0 if unknown */
bool    ir_same_shape(const Value *a, const Value *b);
/* "float[1][3][224][224]" into buf. */
const char *ir_shape_str(char *buf, size_t size, const Value *v);
/* Allocates zeroed constant data for v (shape must be known); false + error on failure. */
bool    ir_value_alloc_data(Graph *g, Value *v, Diag *d);
/* Number of live nodes reading v, and whether v must be materialised for the caller. */
int     ir_value_use_count(const Graph *g, const Value *v);
/* The unique live consumer of v if it has exactly one and v is not a graph output. */
Node   *ir_value_single_consumer(const Graph *g, const Value *v);
/* Replaces every use of old_v by new_v in live nodes and graph outputs. */
void    ir_replace_uses(Graph *g, Value *old_v, Value *new_v);

/* Attributes (attr.c). */
const Attr *ir_attr(const Node *n, const char *name);
int64_t     ir_attr_int(const Node *n, const char *name, int64_t dflt);
float       ir_attr_float(const Node *n, const char *name, float dflt);
const char *ir_attr_string(const Node *n, const char *name, const char *dflt);
/* ints attribute: returns count (0 if absent) and *out (arena memory, do not free). */
size_t      ir_attr_ints(const Node *n, const char *name, const int64_t **out);
size_t      ir_attr_floats(const Node *n, const char *name, const float **out);
/* Adds or replaces an attribute on a node (used by passes). */
bool        ir_attr_set_int(Graph *g, Node *n, const char *name, int64_t v, Diag *d);
bool        ir_attr_set_float(Graph *g, Node *n, const char *name, float v, Diag *d);
bool        ir_attr_set_string(Graph *g, Node *n, const char *name, const char *v, Diag *d);
bool        ir_attr_set_ints(Graph *g, Node *n, const char *name, const int64_t *v,
                             size_t count, Diag *d);

/* Text form, for --dump-after (print.c). */
struct StrBuf;
void ir_graph_print(const Graph *g, struct StrBuf *out);
/* Structural checks run after every pass in tests and debug builds (verify.c): every
 * input defined before use, outputs produced once, no dead node left in the schedule. */
bool ir_verify(const Graph *g, Diag *d);

/* Constant values: typed readers used by folders and emitters. */
int64_t ir_const_get_i64(const Value *v, int64_t index);   /* any integer/bool dtype */
double  ir_const_get_f64(const Value *v, int64_t index);   /* any numeric dtype */
void    ir_const_set_f64(Value *v, int64_t index, double x);
void    ir_const_set_i64(Value *v, int64_t index, int64_t x);

#endif
