/* graph.c: creating and editing the IR; see graph.h. */
#include "ir/graph.h"

#include <stdio.h>
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
    Arena a = g->arena;   /* g itself lives in the arena */
    arena_free(&a);
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
    return v;
}

Value *ir_value_find(const Graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i]->name, name) == 0) return g->values[i];
    return NULL;
}

Node *ir_node_new(Graph *g, const char *name, const char *op_type, const char *domain,
                  int n_inputs, int n_outputs, Diag *d) {
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        Node **p = arena_grow(&g->arena, g->nodes, (size_t)g->n_nodes, (size_t)cap, sizeof *p);
        if (!p) { diag_error(d, NULL, "out of memory creating node"); return NULL; }
        g->nodes = p;
        g->cap_nodes = cap;
    }
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
    n->id = g->next_node_id++;
    n->epi.slope_input = -1;
    n->epi.residual_input = -1;
    g->nodes[g->n_nodes++] = n;
    return n;
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

void ir_graph_compact(Graph *g) {
    int o = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead) g->nodes[o++] = g->nodes[i];
    g->n_nodes = o;
}

const char *ir_unique_name(Graph *g, const char *base) {
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
