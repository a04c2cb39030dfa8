/* attr.c: reading and setting node attributes. */
#include <string.h>

#include "ir/graph.h"

const Attr *ir_attr(const Node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt) {
    const Attr *a = ir_attr(n, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

float ir_attr_float(const Node *n, const char *name, float dflt) {
    const Attr *a = ir_attr(n, name);
    if (a && a->type == ATTR_FLOAT) return a->f;
    if (a && a->type == ATTR_INT) return (float)a->i;
    return dflt;
}

const char *ir_attr_string(const Node *n, const char *name, const char *dflt) {
    const Attr *a = ir_attr(n, name);
    return a && a->type == ATTR_STRING ? a->s : dflt;
}

size_t ir_attr_ints(const Node *n, const char *name, const int64_t **out) {
    const Attr *a = ir_attr(n, name);
    if (!a || a->type != ATTR_INTS) { *out = NULL; return 0; }
    *out = a->ints;
    return a->count;
}

size_t ir_attr_floats(const Node *n, const char *name, const float **out) {
    const Attr *a = ir_attr(n, name);
    if (!a || a->type != ATTR_FLOATS) { *out = NULL; return 0; }
    *out = a->floats;
    return a->count;
}

static Attr *attr_slot(Graph *g, Node *n, const char *name, Diag *d) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            Attr *a = &n->attrs[i];
            const char *keep = a->name;
            memset(a, 0, sizeof *a);
            a->name = keep;
            return a;
        }
    Attr *p = arena_grow(&g->arena, n->attrs, (size_t)n->n_attrs, (size_t)n->n_attrs + 1, sizeof *p);
    char *nm = p ? arena_strdup(&g->arena, name) : NULL;
    if (!nm) { diag_error(d, n, "out of memory setting attribute '%s'", name); return NULL; }
    n->attrs = p;
    Attr *a = &p[n->n_attrs++];
    a->name = nm;
    return a;
}

bool ir_attr_set_int(Graph *g, Node *n, const char *name, int64_t v, Diag *d) {
    Attr *a = attr_slot(g, n, name, d);
    if (!a) return false;
    a->type = ATTR_INT;
    a->i = v;
    return true;
}

bool ir_attr_set_float(Graph *g, Node *n, const char *name, float v, Diag *d) {
    Attr *a = attr_slot(g, n, name, d);
    if (!a) return false;
    a->type = ATTR_FLOAT;
    a->f = v;
    return true;
}

bool ir_attr_set_string(Graph *g, Node *n, const char *name, const char *v, Diag *d) {
    char *copy = arena_strdup(&g->arena, v);
    if (!copy) { diag_error(d, n, "out of memory setting attribute '%s'", name); return false; }
    Attr *a = attr_slot(g, n, name, d);
    if (!a) return false;
    a->type = ATTR_STRING;
    a->s = copy;
    a->s_len = strlen(copy);
    return true;
}

bool ir_attr_set_ints(Graph *g, Node *n, const char *name, const int64_t *v, size_t count,
                      Diag *d) {
    int64_t *copy = arena_array(&g->arena, count ? count : 1, sizeof *copy);
    if (!copy) { diag_error(d, n, "out of memory setting attribute '%s'", name); return false; }
    if (count) memcpy(copy, v, count * sizeof *copy);
    Attr *a = attr_slot(g, n, name, d);
    if (!a) return false;
    a->type = ATTR_INTS;
    a->ints = copy;
    a->count = count;
    return true;
}
