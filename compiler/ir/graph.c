/* graph.c: creating and editing the IR, and the bodies of control-flow nodes; see graph.h. */
#include "ir/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"

Graph *ir_graph_new(size_t arena_limit_bytes) {
    Arena a;
    arena_init(&a, arena_limit_bytes);
    Graph *g = arena_alloc(&a, sizeof *g);
    if (!g) { arena_free(&a); return NULL; }
    g->arena = a;
    g->name = "";
    g->producer = "";
    return g;
}

void ir_graph_free(Graph *g) {
    if (!g) return;
    free(g->name_index);
    Arena a = g->arena;   /* g itself lives in the arena */
    arena_free(&a);
}

/* --- the name index ----------------------------------------------------------------------- */

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;        /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* (Re)builds the index with room for twice the values; on failure there is none (the
 * linear scan remains correct). */
static void name_index_build(Graph *g) {
    enum { MIN_CAP = 256 };
    free(g->name_index);
    g->name_index = NULL;
    size_t cap = MIN_CAP;
    while (cap < 4 * (size_t)g->n_values + 4) cap *= 2;
    Value **slots = calloc(cap, sizeof *slots);
    if (!slots) return;
    for (int k = 0; k < g->n_values; k++) {
        size_t i = (size_t)name_hash(g->values[k]->name) & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = g->values[k];
    }
    g->name_index = slots;
    g->name_index_cap = cap;
}

/* Adds a new value to the index, if there is one (at most half full). */
static void name_index_add(Graph *g, Value *v) {
    if (!g->name_index) return;
    if (2 * (size_t)g->n_values > g->name_index_cap) {
        name_index_build(g);    /* v is in g->values already */
        return;
    }
    size_t mask = g->name_index_cap - 1;
    size_t i = (size_t)name_hash(v->name) & mask;
    while (g->name_index[i]) i = (i + 1) & mask;
    g->name_index[i] = v;
}

Value *ir_value_new(Graph *g, const char *name, Diag *d) {
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        Value **p = arena_grow(&g->arena, g->values, (size_t)g->n_values, (size_t)cap, sizeof *p);
        if (!p) { diag_error(d, NULL, "out of memory creating value"); return NULL; }
        g->values = p;
        g->cap_values = cap;
    }
    Value *v = arena_alloc(&g->arena, sizeof *v);
    char *nm = v ? arena_strdup(&g->arena, name) : NULL;
    if (!nm) { diag_error(d, NULL, "out of memory creating value"); return NULL; }
    v->name = nm;
    v->rank = -1;
    v->id = g->n_values;
    g->values[g->n_values++] = v;
    name_index_add(g, v);
    return v;
}

Value *ir_value_find(const Graph *g, const char *name) {
    if (g->name_index) {
        size_t mask = g->name_index_cap - 1;
        for (size_t i = (size_t)name_hash(name) & mask; g->name_index[i]; i = (i + 1) & mask)
            if (strcmp(g->name_index[i]->name, name) == 0) return g->name_index[i];
        return NULL;
    }
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i]->name, name) == 0) return g->values[i];
    return NULL;
}

/* A node in g's arena, in no schedule. */
static Node *node_alloc(Graph *g, const char *name, const char *op_type, const char *domain,
                        int n_inputs, int n_outputs, Diag *d) {
    Node *n = arena_alloc(&g->arena, sizeof *n);
    if (!n) { diag_error(d, NULL, "out of memory creating node"); return NULL; }
    n->name = arena_strdup(&g->arena, name ? name : "");
    n->op_type = arena_strdup(&g->arena, op_type);
    n->domain = arena_strdup(&g->arena, domain ? domain : "");
    n->inputs = arena_array(&g->arena, (size_t)(n_inputs > 0 ? n_inputs : 1), sizeof(Value *));
    n->outputs = arena_array(&g->arena, (size_t)(n_outputs > 0 ? n_outputs : 1), sizeof(Value *));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) {
        diag_error(d, NULL, "out of memory creating node");
        return NULL;
    }
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->epi.slope_input = -1;
    n->epi.residual_input = -1;
    return n;
}

/* Appends to an arena array of *count entries and capacity *cap (doubling). */
static bool node_list_push(Graph *g, Node ***list, int *count, int *cap, Node *n) {
    if (*count == *cap) {
        int c = *cap ? *cap * 2 : 64;
        Node **q = arena_grow(&g->arena, *list, (size_t)*count, (size_t)c, sizeof *q);
        if (!q) return false;
        *list = q;
        *cap = c;
    }
    (*list)[(*count)++] = n;
    return true;
}

static bool value_list_push(Graph *g, Value ***list, int *count, int *cap, Value *v) {
    if (*count == *cap) {
        int c = *cap ? *cap * 2 : 16;
        Value **q = arena_grow(&g->arena, *list, (size_t)*count, (size_t)c, sizeof *q);
        if (!q) return false;
        *list = q;
        *cap = c;
    }
    (*list)[(*count)++] = v;
    return true;
}

Node *ir_node_new(Graph *g, const char *name, const char *op_type, const char *domain,
                  int n_inputs, int n_outputs, Diag *d) {
    Node *n = node_alloc(g, name, op_type, domain, n_inputs, n_outputs, d);
    if (!n) return NULL;
    if (!node_list_push(g, &g->nodes, &g->n_nodes, &g->cap_nodes, n)) {
        diag_error(d, NULL, "out of memory creating node");
        return NULL;
    }
    n->id = g->next_node_id++;
    return n;
}

/* --- bodies ------------------------------------------------------------------------------- */

Subgraph *ir_subgraph_new(Graph *g, const char *name, int depth, Diag *d) {
    Subgraph *s = arena_alloc(&g->arena, sizeof *s);
    if (s) s->name = arena_strdup(&g->arena, name ? name : "");
    if (!s || !s->name) { diag_error(d, NULL, "out of memory creating a subgraph"); return NULL; }
    s->depth = depth;
    return s;
}

Value *ir_subgraph_value_new(Graph *g, Subgraph *s, const char *name, Diag *d) {
    Value *v = arena_alloc(&g->arena, sizeof *v);
    char *nm = v ? arena_strdup(&g->arena, name) : NULL;
    if (!nm || !value_list_push(g, &s->values, &s->n_values, &s->cap_values, v)) {
        diag_error(d, NULL, "out of memory creating value");
        return NULL;
    }
    v->name = nm;
    v->rank = -1;
    v->id = s->n_values - 1;
    return v;
}

Node *ir_subgraph_node_new(Graph *g, Subgraph *s, const char *name, const char *op_type,
                           const char *domain, int n_inputs, int n_outputs, Diag *d) {
    Node *n = node_alloc(g, name, op_type, domain, n_inputs, n_outputs, d);
    if (!n) return NULL;
    if (!node_list_push(g, &s->nodes, &s->n_nodes, &s->cap_nodes, n)) {
        diag_error(d, NULL, "out of memory creating node");
        return NULL;
    }
    n->id = s->n_nodes - 1;
    return n;
}

bool ir_subgraph_add_capture(Graph *g, Subgraph *s, Value *placeholder, Diag *d) {
    if (!value_list_push(g, &s->captures, &s->n_captures, &s->cap_captures,
                         placeholder)) {
        diag_error(d, NULL, "out of memory recording an outer value of a subgraph");
        return false;
    }
    return true;
}

bool ir_node_add_input(Graph *g, Node *n, Value *v, Diag *d) {
    Value **p = arena_grow(&g->arena, n->inputs, (size_t)n->n_inputs, (size_t)n->n_inputs + 1,
                           sizeof *p);
    if (!p) { diag_error(d, n, "out of memory adding an input"); return false; }
    p[n->n_inputs++] = v;
    n->inputs = p;
    return true;
}

static bool value_list_add(Graph *g, Value ***list, int *count, Value *v, Diag *d) {
    Value **p = arena_grow(&g->arena, *list, (size_t)*count, (size_t)*count + 1, sizeof *p);
    if (!p) { diag_error(d, NULL, "out of memory"); return false; }
    p[*count] = v;
    *list = p;
    (*count)++;
    return true;
}

bool ir_graph_add_input(Graph *g, Value *v, Diag *d) {
    v->is_input = true;
    return value_list_add(g, &g->inputs, &g->n_inputs, v, d);
}

bool ir_graph_add_output(Graph *g, Value *v, Diag *d) {
    v->is_output = true;
    return value_list_add(g, &g->outputs, &g->n_outputs, v, d);
}

/* --- sequences and optionals (compile-time lists of tensor values) ---------------------- */

bool ir_value_inferred(const Value *v) {
    return v->kind == VK_TENSOR ? v->rank >= 0 : v->list_known;
}

bool ir_list_set(Graph *g, Value *v, ValueKind kind, Value *const *elems, int n, Diag *d) {
    if (n < 0 || n > IR_MAX_LIST) {
        diag_error(d, v->producer, "'%s' would hold %d elements, more than the %d a sequence "
                   "may hold", v->name, n, (int)IR_MAX_LIST);
        return false;
    }
    if (n > IR_MAX_LIST_TOTAL - g->list_elems) {
        diag_error(d, v->producer, "the sequences of this model would hold more than %d "
                   "elements in all", (int)IR_MAX_LIST_TOTAL);
        return false;
    }
    g->list_elems += n;
    Value **p = arena_array(&g->arena, n ? (size_t)n : 1, sizeof *p);
    if (!p) { diag_error(d, NULL, "out of memory"); return false; }
    if (n) memcpy(p, elems, (size_t)n * sizeof *p);
    v->kind = kind;
    v->elems = p;
    v->n_elems = n;
    v->list_known = true;
    return true;
}

int64_t ir_list_tensor_count(const Value *v) {
    if (v->kind == VK_TENSOR) return 1;
    int64_t count = 0;
    for (int i = 0; i < v->n_elems; i++) count += ir_list_tensor_count(v->elems[i]);
    return count;
}

/* A sequence of count fresh tensor graph inputs named "base[i]", element type t. */
static bool list_new_inputs(Graph *g, Value *seq, const char *base, DType t, int count,
                            Diag *d) {
    if (count < 0 || count > IR_MAX_LIST) {
        diag_error(d, NULL, "input '%s' is a sequence of %d tensors, more than the %d "
                   "supported", base, count, (int)IR_MAX_LIST);
        return false;
    }
    Value **elems = arena_array(&g->arena, count ? (size_t)count : 1, sizeof *elems);
    if (!elems) { diag_error(d, NULL, "out of memory"); return false; }
    for (int i = 0; i < count; i++) {
        const char *nm = arena_printf(&g->arena, "%s[%d]", base, i);
        nm = nm ? ir_unique_name(g, nm) : NULL;
        elems[i] = nm ? ir_value_new(g, nm, d) : NULL;
        if (!elems[i]) { if (!nm) diag_error(d, NULL, "out of memory"); return false; }
        elems[i]->dtype = t;
        elems[i]->is_input = true;
    }
    return ir_list_set(g, seq, VK_SEQUENCE, elems, count, d);
}

bool ir_list_bind_input(Graph *g, Value *v, bool present, ValueKind inner, int count,
                        Diag *d) {
    if (v->kind == VK_SEQUENCE) return list_new_inputs(g, v, v->name, v->dtype, count, d);
    if (v->kind != VK_OPTIONAL) BUG("ir_list_bind_input on tensor '%s'", v->name);
    if (!present) return ir_list_set(g, v, VK_OPTIONAL, NULL, 0, d);
    const char *nm = arena_printf(&g->arena, "%s.value", v->name);
    nm = nm ? ir_unique_name(g, nm) : NULL;
    Value *e = nm ? ir_value_new(g, nm, d) : NULL;
    if (!e) { if (!nm) diag_error(d, NULL, "out of memory"); return false; }
    e->dtype = v->dtype;
    if (inner == VK_SEQUENCE) {
        e->kind = VK_SEQUENCE;
        if (!list_new_inputs(g, e, v->name, v->dtype, count, d)) return false;
    } else {
        e->is_input = true;
    }
    return ir_list_set(g, v, VK_OPTIONAL, &e, 1, d);
}

/* Appends v's tensors (v itself for a tensor) to *list. */
static bool list_append_flat(Graph *g, Value ***list, int *count, Value *v, bool output,
                             Diag *d) {
    if (v->kind != VK_TENSOR) {
        for (int i = 0; i < v->n_elems; i++)
            if (!list_append_flat(g, list, count, v->elems[i], output, d)) return false;
        return true;
    }
    if (output) v->is_output = true;
    return value_list_add(g, list, count, v, d);
}

bool ir_graph_flatten_io(Graph *g, bool outputs, Diag *d) {
    Value **old = outputs ? g->outputs : g->inputs;
    int n_old = outputs ? g->n_outputs : g->n_inputs;
    bool any = false;
    for (int i = 0; i < n_old; i++) {
        if (old[i]->kind == VK_TENSOR) continue;
        if (!old[i]->list_known) BUG("flattening the unbound list '%s'", old[i]->name);
        any = true;
    }
    if (!any) return true;
    Value **flat = NULL;
    int n_flat = 0;
    for (int i = 0; i < n_old; i++)
        if (!list_append_flat(g, &flat, &n_flat, old[i], outputs, d)) return false;
    if (outputs) {
        g->model_outputs = old;
        g->n_model_outputs = n_old;
        g->outputs = flat;
        g->n_outputs = n_flat;
    } else {
        g->inputs = flat;
        g->n_inputs = n_flat;
    }
    return true;
}

void ir_graph_compact(Graph *g) {
    int o = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead) g->nodes[o++] = g->nodes[i];
    g->n_nodes = o;
}

const char *ir_unique_name(Graph *g, const char *base) {
    if (!g->name_index) name_index_build(g);
    if (!ir_value_find(g, base)) return arena_strdup(&g->arena, base);
    for (int k = 1;; k++) {
        char *s = arena_printf(&g->arena, "%s__%d", base, k);
        if (!s || !ir_value_find(g, s)) return s;
    }
}

void ir_value_set_shape(Value *v, DType t, int rank, const int64_t *dims) {
    v->dtype = t;
    v->rank = rank;
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++) v->dims[i] = dims[i];
}

bool ir_value_shape_known(const Value *v) {
    if (v->rank < 0) return false;
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i] < 0) return false;
    return true;
}

int64_t ir_numel(const Value *v) {
    if (!ir_value_shape_known(v)) return -1;
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++)
        if (!i64_mul(n, v->dims[i], &n)) return -1;
    return n;
}

size_t ir_nbytes(const Value *v) {
    int64_t n = ir_numel(v);
    size_t b;
    if (n < 0 || !size_mul((size_t)n, dtype_size(v->dtype), &b)) return 0;
    return b;
}

bool ir_same_shape(const Value *a, const Value *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

const char *ir_shape_str(char *buf, size_t size, const Value *v) {
    size_t o = (size_t)snprintf(buf, size, "%s", dtype_name(v->dtype));
    if (v->rank < 0 && o < size) snprintf(buf + o, size - o, "[?]");
    for (int i = 0; i < v->rank && o < size; i++) {
        if (v->dims[i] >= 0)
            o += (size_t)snprintf(buf + o, size - o, "[%lld]", (long long)v->dims[i]);
        else
            o += (size_t)snprintf(buf + o, size - o, "[%s]", v->dim_params[i] ? v->dim_params[i] : "?");
    }
    return buf;
}

bool ir_value_alloc_data(Graph *g, Value *v, Diag *d) {
    int64_t n = ir_numel(v);
    size_t es = dtype_size(v->dtype);
    if (n < 0 || es == 0) {
        diag_error(d, NULL, "cannot allocate constant '%s': unknown shape or type", v->name);
        return false;
    }
    v->data = arena_array(&g->arena, (size_t)n, es);
    if (!v->data) {
        diag_error(d, NULL, "out of memory allocating constant '%s' (%lld elements)", v->name,
                   (long long)n);
        return false;
    }
    return true;
}

int ir_value_use_count(const Graph *g, const Value *v) {
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == v) count++;
    }
    return count;
}

Node *ir_value_single_consumer(const Graph *g, const Value *v) {
    if (v->is_output) return NULL;
    Node *found = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] != v) continue;
            if (found) return NULL;
            found = n;
        }
    }
    return found;
}

void ir_replace_uses(Graph *g, Value *old_v, Value *new_v) {
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == old_v) n->inputs[k] = new_v;
    }
}

/* Constant access, by dtype. */
int64_t ir_const_get_i64(const Value *v, int64_t i) {
    switch (v->dtype) {
    case DT_INT64: return ((const int64_t *)v->data)[i];
    case DT_INT32: return ((const int32_t *)v->data)[i];
    case DT_INT16: return ((const int16_t *)v->data)[i];
    case DT_INT8: return ((const int8_t *)v->data)[i];
    case DT_UINT8: return ((const uint8_t *)v->data)[i];
    case DT_UINT16: return ((const uint16_t *)v->data)[i];
    case DT_UINT32: return ((const uint32_t *)v->data)[i];
    case DT_UINT64: return (int64_t)((const uint64_t *)v->data)[i];
    case DT_BOOL: return ((const bool *)v->data)[i];
    case DT_FLOAT: return (int64_t)((const float *)v->data)[i];
    case DT_DOUBLE: return (int64_t)((const double *)v->data)[i];
    default: return 0;
    }
}

double ir_const_get_f64(const Value *v, int64_t i) {
    switch (v->dtype) {
    case DT_FLOAT: return ((const float *)v->data)[i];
    case DT_DOUBLE: return ((const double *)v->data)[i];
    case DT_UINT64: return (double)((const uint64_t *)v->data)[i];
    default: return (double)ir_const_get_i64(v, i);
    }
}

void ir_const_set_f64(Value *v, int64_t i, double x) {
    switch (v->dtype) {
    case DT_FLOAT: ((float *)v->data)[i] = (float)x; break;
    case DT_DOUBLE: ((double *)v->data)[i] = x; break;
    case DT_BOOL: ((bool *)v->data)[i] = x != 0; break;
    default: ir_const_set_i64(v, i, (int64_t)x); break;
    }
}

void ir_const_set_i64(Value *v, int64_t i, int64_t x) {
    switch (v->dtype) {
    case DT_INT64: ((int64_t *)v->data)[i] = x; break;
    case DT_INT32: ((int32_t *)v->data)[i] = (int32_t)x; break;
    case DT_INT16: ((int16_t *)v->data)[i] = (int16_t)x; break;
    case DT_INT8: ((int8_t *)v->data)[i] = (int8_t)x; break;
    case DT_UINT8: ((uint8_t *)v->data)[i] = (uint8_t)x; break;
    case DT_UINT16: ((uint16_t *)v->data)[i] = (uint16_t)x; break;
    case DT_UINT32: ((uint32_t *)v->data)[i] = (uint32_t)x; break;
    case DT_UINT64: ((uint64_t *)v->data)[i] = (uint64_t)x; break;
    case DT_BOOL: ((bool *)v->data)[i] = x != 0; break;
    case DT_FLOAT: ((float *)v->data)[i] = (float)x; break;
    case DT_DOUBLE: ((double *)v->data)[i] = (double)x; break;
    default: break;
    }
}
