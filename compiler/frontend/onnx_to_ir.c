/* onnx_to_ir.c: an unpacked ModelProto -> the IR Graph.
 *
 * Order of work: opset imports, initializers (constants), graph inputs (those that are
 * also initializers stay constants, as old exporters list them twice), every node's
 * outputs, then every node's inputs (so that an unsorted model still resolves; the
 * toposort pass orders it), then graph outputs.  Names are resolved through a small
 * hash table, since models have 10^5 values.  Everything kept is copied into the graph's
 * arena; errors name the tensor or node and the conversion goes on to report the rest.
 * A graph attribute (the body of If, Loop, Scan) is converted the same way in a nested
 * scope once its node's inputs are resolved; the outer names it reads become captures
 * (see Subgraph in ir/graph.h), and nesting is bounded by IR_MAX_SUBGRAPH_DEPTH.
 * A graph input may be a sequence of tensors or an optional (Value.kind, with the
 * element type); its length comes later from the caller's data (ir_list_bind_input).
 */
#include "frontend/tensor_data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"

enum { QBUF = 200, MAX_NODE_ARITY = 1 << 20 };

/* --- name -> value hash table (open addressing, linear probing) ------------------------- */

typedef struct NameMap {
    const char **keys;
    Value **vals;
    size_t cap, count;          /* cap is a power of two, at most half full */
} NameMap;

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;        /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool map_init(NameMap *m, size_t expect) {
    size_t cap = 64;
    while (cap / 2 < expect && cap < ((size_t)1 << 40)) cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->count = 0;
    return m->keys && m->vals;
}

static void map_free(NameMap *m) {
    free(m->keys);
    free(m->vals);
}

static Value *map_get(const NameMap *m, const char *name) {
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)name_hash(name) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i]) return NULL;
        if (strcmp(m->keys[i], name) == 0) return m->vals[i];
    }
}

/* The key must outlive the map (it is the value's arena name). */
static bool map_put(NameMap *m, const char *key, Value *v) {
    if ((m->count + 1) * 2 > m->cap) {
        NameMap bigger = { 0 };
        bigger.cap = m->cap * 2;
        bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
        bigger.vals = calloc(bigger.cap, sizeof *bigger.vals);
        if (!bigger.keys || !bigger.vals) { map_free(&bigger); return false; }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) map_put(&bigger, m->keys[i], m->vals[i]);
        map_free(m);
        *m = bigger;
    }
    size_t mask = m->cap - 1;
    size_t i = (size_t)name_hash(key) & mask;
    while (m->keys[i]) i = (i + 1) & mask;
    m->keys[i] = key;
    m->vals[i] = v;
    m->count++;
    return true;
}

/* --- conversion state --------------------------------------------------------------------- */

typedef struct OpsetEntry {
    const char *domain;         /* "" for the default domain; points into the message */
    int version;
} OpsetEntry;

/* The names visible while converting a body (a graph attribute): its own, then its
 * parent's.  An outer name a body reads becomes one of its captures (graph.h). */
typedef struct Scope {
    struct Scope *parent;       /* NULL: the parent is the main graph */
    Subgraph *sub;
    Node *owner;                /* the node holding the attribute, in the parent scope */
    NameMap names;              /* the body's own values and captures */
} Scope;

typedef struct Conv {
    Graph *g;
    Diag *d;
    const char *base_dir;
    NameMap names;              /* the main graph's values */
    OpsetEntry *opsets;
    size_t n_opsets;
    Scope *scope;               /* the body being converted, NULL for the main graph */
} Conv;

static const char *norm_domain(const char *dom) {
    if (!dom || strcmp(dom, "ai.onnx") == 0) return "";
    return dom;
}

static bool oom(Conv *c) {
    diag_error(c->d, NULL, "out of memory while loading the model");
    return false;
}

/* A name from the model: NULL/"" allowed where optional, length limited. */
static bool name_ok(Conv *c, const char *name, const char *what) {
    if (strlen(name) > IR_MAX_NAME) {
        char q[QBUF];
        diag_error(c->d, NULL, "%s name '%s' is longer than %d characters", what,
                   diag_quote(q, sizeof q, name), (int)IR_MAX_NAME);
        return false;
    }
    return true;
}

/* Who defines v, for "defined twice" messages. */
static const char *definer(const Value *v, char *buf, size_t size) {
    if (v->producer) {
        char q[QBUF];
        snprintf(buf, size, "node '%s'", diag_quote(q, sizeof q, v->producer->name));
    } else if (v->data) {
        snprintf(buf, size, "an initializer");
    } else {
        snprintf(buf, size, "a graph input");
    }
    return buf;
}

/* A new value named name in the current scope; error if the name is taken there. */
static Value *define_value(Conv *c, const char *name, const char *what, const Node *by) {
    char q[QBUF], who[QBUF + 16];
    if (!name_ok(c, name, what)) return NULL;
    NameMap *names = c->scope ? &c->scope->names : &c->names;
    Value *old = map_get(names, name);
    if (old) {
        diag_error(c->d, by, "value '%s' is defined twice (by %s and by %s)",
                   diag_quote(q, sizeof q, name), definer(old, who, sizeof who), what);
        return NULL;
    }
    Value *v = c->scope ? ir_subgraph_value_new(c->g, c->scope->sub, name, c->d)
                        : ir_value_new(c->g, name, c->d);
    if (!v) return NULL;
    if (!map_put(names, v->name, v)) { oom(c); return NULL; }
    return v;
}

/* The value a name denotes in scope s (NULL: the main graph), or NULL.  A name found
 * only in an outer scope becomes a capture of s: a local placeholder, and the outer
 * value appended to the inputs of s's owner node.  Recursion is bounded by the nesting
 * depth (IR_MAX_SUBGRAPH_DEPTH). */
static Value *resolve_name(Conv *c, Scope *s, const char *name) {
    if (!s) return map_get(&c->names, name);
    Value *v = map_get(&s->names, name);
    if (v) return v;
    Value *outer = resolve_name(c, s->parent, name);
    if (!outer) return NULL;
    Value *p = ir_subgraph_value_new(c->g, s->sub, name, c->d);
    if (!p || !ir_subgraph_add_capture(c->g, s->sub, p, c->d) ||
        !ir_node_add_input(c->g, s->owner, outer, c->d))
        return NULL;
    if (!map_put(&s->names, p->name, p)) { oom(c); return NULL; }
    return p;
}

/* --- tensors ------------------------------------------------------------------------------ */

/* Fills a value (shape, dtype, data in the arena) from a TensorProto. */
static bool fill_constant(Conv *c, Value *v, const Onnx__TensorProto *tp, const char *what) {
    TensorMeta m;
    if (!tensor_proto_meta(tp, what, &m, c->d)) return false;
    ir_value_set_shape(v, m.dtype, m.rank, m.dims);
    if (!ir_value_alloc_data(c->g, v, c->d)) return false;
    return tensor_proto_data(tp, &m, c->base_dir, what, v->data, c->d);
}

static bool convert_initializers(Conv *c, const Onnx__GraphProto *gp) {
    bool ok = true;
    char q[QBUF], what[QBUF + 32];
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!*name) {
            diag_error(c->d, NULL, "initializer #%zu has no name", i);
            ok = false;
            continue;
        }
        snprintf(what, sizeof what, "initializer '%s'", diag_quote(q, sizeof q, name));
        Value *v = define_value(c, name, what, NULL);
        if (!v || !fill_constant(c, v, tp, what)) { ok = false; continue; }
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        const char *name = sp->values && sp->values->name ? sp->values->name : "";
        diag_error(c->d, NULL, "sparse initializer '%s' is not supported (sparse tensors are "
                   "not implemented)", diag_quote(q, sizeof q, name));
        ok = false;
    }
    return ok;
}

/* --- graph inputs and outputs ------------------------------------------------------------ */

/* Sequences and optionals: a sequence of tensors, an optional of a tensor or of such a
 * sequence.  *kind gets the value's kind, *elem the innermost tensor type (NULL if the
 * model leaves it out); false + error for other types (maps, nested sequences...). */
static bool list_type(Conv *c, const Onnx__TypeProto *tp, const char *what, ValueKind *kind,
                      const Onnx__TypeProto__Tensor **elem) {
    const Onnx__TypeProto *inner = NULL;
    *elem = NULL;
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && tp->sequence_type) {
        *kind = VK_SEQUENCE;
        inner = tp->sequence_type->elem_type;
    } else if (tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE && tp->optional_type) {
        *kind = VK_OPTIONAL;
        inner = tp->optional_type->elem_type;
        if (inner && inner->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE &&
            inner->sequence_type)
            inner = inner->sequence_type->elem_type;
    } else {
        diag_error(c->d, NULL, "%s is not a tensor, a sequence of tensors or an optional (maps "
                   "and sparse tensors are not supported)", what);
        return false;
    }
    if (inner && inner->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        diag_error(c->d, NULL, "%s is a %s of %s: only tensors and sequences of tensors are "
                   "supported inside sequences and optionals", what,
                   *kind == VK_SEQUENCE ? "sequence" : "optional",
                   inner->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "sequences"
                                                                             : "another type");
        return false;
    }
    if (inner) *elem = inner->tensor_type;
    return true;
}

/* The tensor type of a ValueInfo, or NULL + error. */
static const Onnx__TypeProto__Tensor *tensor_type(Conv *c, const Onnx__ValueInfoProto *vi,
                                                   const char *what) {
    if (!vi->type) {
        diag_error(c->d, NULL, "%s has no type", what);
        return NULL;
    }
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type) {
        diag_error(c->d, NULL, "%s is not a tensor (maps and sparse tensors are not "
                   "supported)", what);
        return NULL;
    }
    return vi->type->tensor_type;
}

static bool elem_dtype(Conv *c, int t, const char *what, DType *out) {
    if (t <= 0 || !dtype_is_valid(t) || dtype_size((DType)t) == 0) {
        if (t == 0)
            diag_error(c->d, NULL, "%s has no element type", what);
        else if (t == DT_STRING)
            diag_error(c->d, NULL, "%s has data type string, which is not supported", what);
        else if (onnx_type_name(t))
            diag_error(c->d, NULL, "%s has data type %s, which is not supported", what,
                       onnx_type_name(t));
        else
            diag_error(c->d, NULL, "%s has unknown data type %d", what, t);
        return false;
    }
    *out = (DType)t;
    return true;
}

/* A graph input that is a sequence or an optional: its kind and element type; its length
 * and element shapes come from the caller's data (ir_list_bind_input). */
static bool convert_list_input(Conv *c, Value *v, const Onnx__TypeProto *tp, const char *what) {
    ValueKind kind;
    const Onnx__TypeProto__Tensor *elem;
    if (!list_type(c, tp, what, &kind, &elem)) return false;
    DType dt = DT_UNDEFINED;
    if (elem && elem->has_elem_type && !elem_dtype(c, elem->elem_type, what, &dt)) return false;
    v->kind = kind;
    v->dtype = dt;
    return ir_graph_add_input(c->g, v, c->d);
}

static bool convert_input(Conv *c, const Onnx__ValueInfoProto *vi, size_t index) {
    char q[QBUF], what[QBUF + 32];
    const char *name = vi->name ? vi->name : "";
    if (!*name) {
        diag_error(c->d, NULL, "graph input #%zu has no name", index);
        return false;
    }
    Value *known = map_get(&c->names, name);
    if (known && known->data) return true;   /* an initializer listed as an input */
    snprintf(what, sizeof what, "graph input '%s'", diag_quote(q, sizeof q, name));
    /* Defined before its type is checked, so a bad input is reported once and not again
     * by every node that reads it. */
    Value *v = define_value(c, name, what, NULL);
    if (!v) return false;
    if (vi->type && vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return convert_list_input(c, v, vi->type, what);
    const Onnx__TypeProto__Tensor *tt = tensor_type(c, vi, what);
    if (!tt) return false;
    DType dt;
    if (!elem_dtype(c, tt->has_elem_type ? tt->elem_type : 0, what, &dt)) return false;
    const Onnx__TensorShapeProto *sp = tt->shape;
    if (sp && sp->n_dim > IR_MAX_RANK) {
        diag_error(c->d, NULL, "%s has rank %zu, more than the maximum of %d", what, sp->n_dim,
                   (int)IR_MAX_RANK);
        return false;
    }
    if (!sp) {
        v->dtype = dt;          /* rank unknown */
        v->rank = -1;
    } else {
        int64_t dims[IR_MAX_RANK];
        for (size_t k = 0; k < sp->n_dim; k++) {
            const Onnx__TensorShapeProto__Dimension *dim = sp->dim[k];
            dims[k] = -1;
            if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                if (dim->dim_value < 0) {
                    diag_error(c->d, NULL, "%s has negative dimension %lld at axis %zu", what,
                               (long long)dim->dim_value, k);
                    return false;
                }
                dims[k] = dim->dim_value;
            } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                       dim->dim_param && *dim->dim_param) {
                if (!name_ok(c, dim->dim_param, "dimension")) return false;
                v->dim_params[k] = arena_strdup(&c->g->arena, dim->dim_param);
                if (!v->dim_params[k]) return oom(c);
            }
        }
        ir_value_set_shape(v, dt, (int)sp->n_dim, dims);
    }
    return ir_graph_add_input(c->g, v, c->d);
}

static bool convert_output(Conv *c, const Onnx__ValueInfoProto *vi, size_t index) {
    char q[QBUF];
    const char *name = vi->name ? vi->name : "";
    if (!*name) {
        diag_error(c->d, NULL, "graph output #%zu has no name", index);
        return false;
    }
    Value *v = map_get(&c->names, name);
    if (!v) {
        diag_error(c->d, NULL, "graph output '%s' is not defined by any node, input or "
                   "initializer", diag_quote(q, sizeof q, name));
        return false;
    }
    /* The model's output shapes are not authoritative (inference recomputes them), but
     * a declared element type is kept until inference sets its own. */
    if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        vi->type->tensor_type && vi->type->tensor_type->has_elem_type) {
        int t = vi->type->tensor_type->elem_type;
        if (v->dtype == DT_UNDEFINED && t > 0 && dtype_is_valid(t) && dtype_size((DType)t))
            v->dtype = (DType)t;
    }
    return ir_graph_add_output(c->g, v, c->d);
}

/* --- attributes --------------------------------------------------------------------------- */

/* Old models may leave the type out; deduce it from the field that is set. */
static int attr_type_of(const Onnx__AttributeProto *ap) {
    if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return (int)ap->type;
    if (ap->has_f) return ATTR_FLOAT;
    if (ap->has_i) return ATTR_INT;
    if (ap->has_s) return ATTR_STRING;
    if (ap->t) return ATTR_TENSOR;
    if (ap->g) return ATTR_GRAPH;
    if (ap->n_floats) return ATTR_FLOATS;
    if (ap->n_ints) return ATTR_INTS;
    if (ap->n_strings) return ATTR_STRINGS;
    if (ap->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    return 0;
}

/* A constant value for a TENSOR attribute: in the arena, not in graph->values. */
static Value *attr_tensor(Conv *c, const Node *n, const Onnx__TensorProto *tp,
                          const char *attr_name) {
    char q[QBUF], qa[64], what[2 * QBUF];
    snprintf(what, sizeof what, "tensor attribute '%s' of node '%s'",
             diag_quote(qa, sizeof qa, attr_name), diag_quote(q, sizeof q, n->name));
    const char *nm = tp->name && *tp->name ? tp->name : attr_name;
    if (!name_ok(c, nm, "tensor")) return NULL;
    Value *v = arena_alloc(&c->g->arena, sizeof *v);
    if (v) v->name = arena_strdup(&c->g->arena, nm);
    if (!v || !v->name) { oom(c); return NULL; }
    v->id = -1;
    v->rank = -1;
    if (!fill_constant(c, v, tp, what)) return NULL;
    return v;
}

static bool convert_attr(Conv *c, Node *n, const Onnx__AttributeProto *ap, Attr *a) {
    Arena *ar = &c->g->arena;
    char q[QBUF];
    const char *aname = ap->name ? ap->name : "";
    if (!*aname) {
        diag_error(c->d, n, "attribute with no name");
        return false;
    }
    if (!name_ok(c, aname, "attribute")) return false;
    a->name = arena_strdup(ar, aname);
    if (!a->name) return oom(c);
    int t = attr_type_of(ap);
    switch (t) {
    case ATTR_FLOAT:
        a->type = ATTR_FLOAT;
        a->f = ap->f;
        return true;
    case ATTR_INT:
        a->type = ATTR_INT;
        a->i = ap->i;
        return true;
    case ATTR_STRING:
        a->type = ATTR_STRING;
        a->s = arena_strndup(ar, ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
        a->s_len = ap->s.len;
        return a->s ? true : oom(c);
    case ATTR_FLOATS:
        a->type = ATTR_FLOATS;
        a->count = ap->n_floats;
        a->floats = arena_array(ar, ap->n_floats, sizeof(float));
        if (!a->floats) return oom(c);
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        return true;
    case ATTR_INTS:
        a->type = ATTR_INTS;
        a->count = ap->n_ints;
        a->ints = arena_array(ar, ap->n_ints, sizeof(int64_t));
        if (!a->ints) return oom(c);
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        return true;
    case ATTR_STRINGS:
        a->type = ATTR_STRINGS;
        a->count = ap->n_strings;
        a->strings = arena_array(ar, ap->n_strings, sizeof(char *));
        if (!a->strings) return oom(c);
        for (size_t k = 0; k < ap->n_strings; k++) {
            const ProtobufCBinaryData *s = &ap->strings[k];
            a->strings[k] = arena_strndup(ar, s->data ? (const char *)s->data : "", s->len);
            if (!a->strings[k]) return oom(c);
        }
        return true;
    case ATTR_TENSOR:
        a->type = ATTR_TENSOR;
        if (!ap->t) {
            diag_error(c->d, n, "tensor attribute '%s' holds no tensor",
                       diag_quote(q, sizeof q, aname));
            return false;
        }
        a->tensor = attr_tensor(c, n, ap->t, aname);
        return a->tensor != NULL;
    case ATTR_GRAPH:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        /* A graph is converted with the node's inputs (convert_graph_attrs), once every
         * outer name is defined; a list of graphs is not converted (a->graph stays NULL,
         * which the ops reject). */
        a->type = ATTR_GRAPH;
        return true;
    case ATTR_TYPE_PROTO:
        /* Optional's `type` (the type of an empty optional): nothing reads its contents */
        a->type = ATTR_TYPE_PROTO;
        return true;
    case 0:
        diag_error(c->d, n, "attribute '%s' has no type", diag_quote(q, sizeof q, aname));
        return false;
    default:
        diag_error(c->d, n, "attribute '%s' has type %d (sparse tensors, tensor lists and "
                   "type protos are not supported)", diag_quote(q, sizeof q, aname), t);
        return false;
    }
}

/* --- nodes -------------------------------------------------------------------------------- */

static int node_opset(Conv *c, const char *domain) {
    for (size_t i = 0; i < c->n_opsets; i++)
        if (strcmp(c->opsets[i].domain, domain) == 0) return c->opsets[i].version;
    return 0;
}

/* First pass over one node: creates it, its attributes and its output values. */
static Node *convert_node_outputs(Conv *c, const Onnx__NodeProto *np, size_t index) {
    char q[QBUF], qd[QBUF];
    const char *op_type = np->op_type ? np->op_type : "";
    const char *name = np->name ? np->name : "";
    const char *domain = norm_domain(np->domain);
    if (!name_ok(c, name, "node") || !name_ok(c, op_type, "op_type") ||
        !name_ok(c, domain, "domain"))
        return NULL;
    if (np->n_input > MAX_NODE_ARITY || np->n_output > MAX_NODE_ARITY) {
        diag_error(c->d, NULL, "node '%s' has too many inputs or outputs",
                   diag_quote(q, sizeof q, name));
        return NULL;
    }
    Node *n = c->scope ? ir_subgraph_node_new(c->g, c->scope->sub, name, op_type, domain,
                                              (int)np->n_input, (int)np->n_output, c->d)
                       : ir_node_new(c->g, name, op_type, domain, (int)np->n_input,
                                     (int)np->n_output, c->d);
    if (!n) return NULL;
    bool ok = true;
    /* Outputs first: a node with errors still defines them, so its readers do not add
     * "not defined" errors of their own. */
    for (size_t k = 0; k < np->n_output; k++) {
        const char *out = np->output[k] ? np->output[k] : "";
        if (!*out) continue;        /* omitted optional output */
        char what[QBUF + 16];
        snprintf(what, sizeof what, "node '%s'", diag_quote(q, sizeof q, name));
        Value *v = define_value(c, out, what, n);
        if (!v) { ok = false; continue; }
        v->producer = n;
        n->outputs[k] = v;
    }
    if (!*op_type) {
        diag_error(c->d, NULL, "node #%zu ('%s') has no op_type", index,
                   diag_quote(q, sizeof q, name));
        return NULL;
    }
    n->opset = node_opset(c, domain);
    if (n->opset == 0) {
        diag_error(c->d, n, "node uses domain '%s', which the model does not import "
                   "(no opset_import entry)", diag_quote(qd, sizeof qd, domain));
        return NULL;
    }
    if (np->n_attribute > 0) {
        if (np->n_attribute > MAX_NODE_ARITY) {
            diag_error(c->d, n, "node has too many attributes");
            return NULL;
        }
        n->attrs = arena_array(&c->g->arena, np->n_attribute, sizeof(Attr));
        if (!n->attrs) { oom(c); return NULL; }
        for (size_t k = 0; k < np->n_attribute; k++) {
            Attr *a = &n->attrs[n->n_attrs];
            if (!convert_attr(c, n, np->attribute[k], a)) { ok = false; continue; }
            for (int j = 0; j < n->n_attrs; j++)
                if (strcmp(n->attrs[j].name, a->name) == 0) {
                    diag_error(c->d, n, "attribute '%s' is given twice",
                               diag_quote(q, sizeof q, a->name));
                    ok = false;
                }
            n->n_attrs++;
        }
    }
    return ok ? n : NULL;
}

static bool convert_graph_attrs(Conv *c, const Onnx__NodeProto *np, Node *n);

/* Second pass: resolves inputs; reports every name defined nowhere; converts the
 * node's graph attributes (bodies), whose outer names are all defined by now. */
static bool convert_node_inputs(Conv *c, const Onnx__NodeProto *np, Node *n) {
    bool ok = true;
    char q[QBUF];
    for (size_t k = 0; k < np->n_input; k++) {
        const char *in = np->input[k] ? np->input[k] : "";
        if (!*in) continue;         /* omitted optional input */
        Value *v = resolve_name(c, c->scope, in);
        if (!v) {
            diag_error(c->d, n, "input '%s' is not defined by any node, graph input or "
                       "initializer", diag_quote(q, sizeof q, in));
            ok = false;
            continue;
        }
        n->inputs[k] = v;
    }
    return convert_graph_attrs(c, np, n) && ok;
}

/* --- bodies (graph attributes) ------------------------------------------------------------ */

/* A formal input of a body.  Its type may be left out (Loop bodies often do): the
 * binding at expansion gives it. */
static bool convert_body_input(Conv *c, const Onnx__ValueInfoProto *vi, size_t index) {
    char q[QBUF], what[QBUF + 32];
    const char *name = vi->name ? vi->name : "";
    if (!*name) {
        diag_error(c->d, NULL, "input #%zu of subgraph '%s' has no name", index,
                   diag_quote(q, sizeof q, c->scope->sub->name));
        return false;
    }
    snprintf(what, sizeof what, "subgraph input '%s'", diag_quote(q, sizeof q, name));
    Value *v = define_value(c, name, what, NULL);
    if (!v) return false;
    if (vi->type && vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        ValueKind kind;                     /* a Loop's carried sequence */
        const Onnx__TypeProto__Tensor *elem;
        if (!list_type(c, vi->type, what, &kind, &elem)) return false;
    } else if (vi->type && !tensor_type(c, vi, what)) {
        return false;
    }
    c->scope->sub->inputs[c->scope->sub->n_inputs++] = v;
    return true;
}

static bool convert_body_output(Conv *c, const Onnx__ValueInfoProto *vi, size_t index) {
    char q[QBUF];
    Subgraph *sub = c->scope->sub;
    const char *name = vi->name ? vi->name : "";
    Value *v = *name ? resolve_name(c, c->scope, name) : NULL;
    if (!v) {
        diag_error(c->d, NULL, "output #%zu '%s' of subgraph '%s' is not defined", index,
                   diag_quote(q, sizeof q, name), sub->name);
        return false;
    }
    sub->outputs[sub->n_outputs++] = v;
    return true;
}

/* The body of a graph attribute of owner, converted in a new scope inside the current
 * one: initializers, inputs, nodes (in two passes, as for the main graph), outputs. */
static Subgraph *convert_subgraph(Conv *c, Node *owner, const Onnx__GraphProto *gp) {
    char q[QBUF];
    int depth = c->scope ? c->scope->sub->depth + 1 : 1;
    const char *gname = gp->name ? gp->name : "";
    if (!name_ok(c, gname, "graph")) return NULL;
    if (depth > IR_MAX_SUBGRAPH_DEPTH) {
        diag_error(c->d, owner, "subgraph '%s' is nested more than %d deep",
                   diag_quote(q, sizeof q, gname), (int)IR_MAX_SUBGRAPH_DEPTH);
        return NULL;
    }
    if (gp->n_node > MAX_NODE_ARITY || gp->n_input > MAX_NODE_ARITY ||
        gp->n_output > MAX_NODE_ARITY) {
        diag_error(c->d, owner, "subgraph '%s' is too large", diag_quote(q, sizeof q, gname));
        return NULL;
    }
    Subgraph *sub = ir_subgraph_new(c->g, gname, depth, c->d);
    if (!sub) return NULL;
    sub->capture_base = owner->n_inputs;
    sub->inputs = arena_array(&c->g->arena, gp->n_input ? gp->n_input : 1, sizeof(Value *));
    sub->outputs = arena_array(&c->g->arena, gp->n_output ? gp->n_output : 1, sizeof(Value *));
    Scope sc = { .parent = c->scope, .sub = sub, .owner = owner };
    size_t expect = gp->n_initializer + gp->n_input;
    for (size_t i = 0; i < gp->n_node; i++) expect += gp->node[i]->n_output;
    Node **nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof *nodes);
    bool ok = sub->inputs && sub->outputs && nodes && map_init(&sc.names, expect);
    if (!ok) {
        free(nodes);
        map_free(&sc.names);
        oom(c);
        return NULL;
    }
    c->scope = &sc;
    if (!convert_initializers(c, gp)) ok = false;
    for (size_t i = 0; i < gp->n_input; i++) {
        Value *known = map_get(&sc.names, gp->input[i]->name ? gp->input[i]->name : "");
        if (known && known->data) {
            /* body inputs are bound by position: a constant in one slot would shift the
             * others, so an initializer listed as a body input is refused */
            char qg[80], qn[80];
            diag_error(c->d, NULL, "body '%s': input %zu '%s' is also an initializer, which "
                       "is not supported in a subgraph",
                       diag_quote(qg, sizeof qg, gp->name ? gp->name : ""), i,
                       diag_quote(qn, sizeof qn, gp->input[i]->name ? gp->input[i]->name : ""));
            ok = false;
            continue;
        }
        if (!convert_body_input(c, gp->input[i], i)) ok = false;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        nodes[i] = convert_node_outputs(c, gp->node[i], i);
        if (!nodes[i]) ok = false;
    }
    for (size_t i = 0; i < gp->n_node; i++)
        if (nodes[i] && !convert_node_inputs(c, gp->node[i], nodes[i])) ok = false;
    for (size_t i = 0; i < gp->n_output; i++)
        if (!convert_body_output(c, gp->output[i], i)) ok = false;
    c->scope = sc.parent;
    free(nodes);
    map_free(&sc.names);
    return ok ? sub : NULL;
}

static bool convert_graph_attrs(Conv *c, const Onnx__NodeProto *np, Node *n) {
    bool ok = true;
    char q[QBUF];
    for (size_t k = 0; k < np->n_attribute; k++) {
        const Onnx__AttributeProto *ap = np->attribute[k];
        if (attr_type_of(ap) != ATTR_GRAPH || !ap->name) continue;
        for (int j = 0; j < n->n_attrs; j++) {
            Attr *a = &n->attrs[j];
            if (strcmp(a->name, ap->name) != 0) continue;
            if (!ap->g) {
                diag_error(c->d, n, "graph attribute '%s' holds no graph",
                           diag_quote(q, sizeof q, a->name));
                ok = false;
            } else if (!(a->graph = convert_subgraph(c, n, ap->g))) {
                ok = false;
            }
        }
    }
    return ok;
}

/* --- the model ---------------------------------------------------------------------------- */

static bool convert_opsets(Conv *c, const Onnx__ModelProto *m) {
    char q[QBUF];
    c->opsets = calloc(m->n_opset_import ? m->n_opset_import : 1, sizeof *c->opsets);
    if (!c->opsets) return oom(c);
    bool ok = true;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        const char *dom = norm_domain(os->domain);
        int64_t ver = os->has_version ? os->version : 0;
        if (ver < 1 || ver > INT_MAX) {
            diag_error(c->d, NULL, "opset_import for domain '%s' has invalid version %lld",
                       diag_quote(q, sizeof q, dom), (long long)ver);
            ok = false;
            continue;
        }
        int seen = node_opset(c, dom);
        if (seen == (int)ver) continue;     /* a harmless repeat */
        if (seen != 0) {
            diag_error(c->d, NULL, "opset_import lists domain '%s' twice, with versions %d "
                       "and %lld", diag_quote(q, sizeof q, dom), seen, (long long)ver);
            ok = false;
            continue;
        }
        c->opsets[c->n_opsets].domain = dom;
        c->opsets[c->n_opsets].version = (int)ver;
        c->n_opsets++;
    }
    if (!ok) return false;
    /* IR version 3 made opset_import mandatory; older models mean opset 1. */
    if (m->n_opset_import == 0 && m->has_ir_version && m->ir_version < 3) {
        c->opsets[0].domain = "";
        c->opsets[0].version = 1;
        c->n_opsets = 1;
    }
    if (m->n_opset_import == 0 && c->n_opsets == 0) {
        diag_error(c->d, NULL, "the model has no opset_import (required since IR version 3)");
        return false;
    }
    /* A model of other domains only (ai.onnx.ml, training) need not import the default
     * one; a default-domain node then has no opset, which is an error. */
    int v = node_opset(c, "");
    if (v == 0 && m->graph) {
        for (size_t i = 0; i < m->graph->n_node; i++) {
            if (*norm_domain(m->graph->node[i]->domain) == '\0') {
                diag_error(c->d, NULL, "the model has no opset_import for the default ONNX "
                           "domain, which its nodes use");
                return false;
            }
        }
    }
    c->g->opset = v;
    return true;
}

static bool convert_header(Conv *c, const Onnx__ModelProto *m, const Onnx__GraphProto *gp) {
    Graph *g = c->g;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    const char *gname = gp->name ? gp->name : "";
    if (!name_ok(c, gname, "graph")) return false;
    g->name = arena_strdup(&g->arena, gname);
    const char *pn = m->producer_name ? m->producer_name : "";
    const char *pv = m->producer_version ? m->producer_version : "";
    if (strlen(pn) > IR_MAX_NAME || strlen(pv) > IR_MAX_NAME) {
        diag_error(c->d, NULL, "producer name or version is too long");
        return false;
    }
    g->producer = *pv ? arena_printf(&g->arena, "%s %s", pn, pv) : arena_strdup(&g->arena, pn);
    return g->name && g->producer ? true : oom(c);
}

Graph *onnx_model_to_ir(const Onnx__ModelProto *model, const char *base_dir,
                        const LoadOptions *opt, Diag *d) {
    if (!model->graph) {
        diag_error(d, NULL, "not a valid ONNX model (it has no graph)");
        return NULL;
    }
    /* Calls of the model's local functions become their nodes first. */
    Arena inlined;
    arena_init(&inlined, 0);
    const Onnx__ModelProto *m = fn_inline_model(model, &inlined, d);
    if (!m) {
        arena_free(&inlined);
        return NULL;
    }
    const Onnx__GraphProto *gp = m->graph;
    Conv c = { 0 };
    int errors_before = d->n_errors;
    c.d = d;
    c.base_dir = base_dir;
    c.g = ir_graph_new(opt ? opt->arena_limit_bytes : 0);
    if (!c.g) {
        diag_error(d, NULL, "out of memory while loading the model");
        arena_free(&inlined);
        return NULL;
    }
    size_t expect = gp->n_initializer + gp->n_input;
    for (size_t i = 0; i < gp->n_node; i++) expect += gp->node[i]->n_output;
    Node **nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof *nodes);
    bool ok = nodes && map_init(&c.names, expect);
    if (!ok) oom(&c);
    ok = ok && convert_opsets(&c, m);
    ok = ok && convert_header(&c, m, gp);
    if (ok) {
        /* Go on after an error to report as many problems as possible at once. */
        if (!convert_initializers(&c, gp)) ok = false;
        for (size_t i = 0; i < gp->n_input; i++)
            if (!convert_input(&c, gp->input[i], i)) ok = false;
        for (size_t i = 0; i < gp->n_node; i++) {
            nodes[i] = convert_node_outputs(&c, gp->node[i], i);
            if (!nodes[i]) ok = false;
        }
        for (size_t i = 0; i < gp->n_node; i++)
            if (nodes[i] && !convert_node_inputs(&c, gp->node[i], nodes[i])) ok = false;
        for (size_t i = 0; i < gp->n_output; i++)
            if (!convert_output(&c, gp->output[i], i)) ok = false;
        if (ok && gp->n_output == 0) {
            diag_error(d, NULL, "the model's graph has no outputs");
            ok = false;
        }
    }
    free(nodes);
    map_free(&c.names);
    free(c.opsets);
    arena_free(&inlined);
    if (!ok || d->n_errors != errors_before) {
        ir_graph_free(c.g);
        return NULL;
    }
    return c.g;
}
