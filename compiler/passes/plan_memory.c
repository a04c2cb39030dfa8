/* plan_memory.c: where every value's bytes live, and the workspace layout.
 *
 * Requires: the final schedule (g->nodes, topological), known shapes of every value a
 * live node writes.  Establishes: v->storage for every value (INPUT for graph inputs,
 * OUTPUT for graph outputs a node writes, CONST for constants, WORKSPACE with a 64-byte
 * aligned v->ws_offset for everything else a node writes, unread outputs included), and
 * g->plan (workspace size, its lower bound, and each node's scratch offset).
 *
 * Liveness: a workspace value lives from the step of its producer to the step of its
 * last reader (inclusive; steps are schedule indices).  Values that share bytes form a
 * group (union-find) that lives as long as all its members together:
 *  - OP_MEMORY_ALIAS (Reshape...): output 0 joins input 0's group when both are workspace
 *    values of the same size; the emitter then skips the copy;
 *  - OP_MEMORY_INPLACE (elementwise): output 0 joins the group of an input of the same
 *    byte size whose group is last read at this very step.
 * A node's scratch is one more buffer living only during its step.  Groups and scratch
 * buffers are placed greedily, each clear of the already placed buffers whose lifetimes
 * overlap its own: largest first, largest bytes x steps first, or in schedule order; each
 * at the lowest offset (first fit) or in the smallest gap that holds it (best fit).  The
 * smallest of these six arenas wins (ResNet-18: schedule order reaches the lower bound,
 * largest-first is 7.6% above); ties in every order fall back to the start step and
 * creation order, so the plan is deterministic.  Offsets are multiples of 64.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "ops/op.h"
#include "passes/pass.h"

enum { PLAN_ALIGN = 64 };

/* One buffer to place: an alias group or a node's scratch. */
typedef struct Block {
    size_t size;        /* aligned bytes */
    int first, last;    /* steps, inclusive */
    int order;          /* creation order, the last tie-breaker */
    size_t offset;      /* result */
} Block;

typedef struct Planner {
    Graph *g;
    Diag *d;
    int *parent;        /* union-find over value ids */
    int *first, *last;  /* per value id, then per group root */
    size_t *size;       /* aligned bytes per value id, then per group root */
    bool *in_ws;        /* value is a workspace value */
} Planner;

static int find(Planner *p, int v) {
    while (p->parent[v] != v) {
        p->parent[v] = p->parent[p->parent[v]];
        v = p->parent[v];
    }
    return v;
}

/* Merges the groups of a and b; the root keeps the union of their lifetimes. */
static void unite(Planner *p, int a, int b) {
    int ra = find(p, a), rb = find(p, b);
    if (ra == rb) return;
    if (rb < ra) { int t = ra; ra = rb; rb = t; }   /* lower id is the root: deterministic */
    p->parent[rb] = ra;
    if (p->first[rb] < p->first[ra]) p->first[ra] = p->first[rb];
    if (p->last[rb] > p->last[ra]) p->last[ra] = p->last[rb];
    if (p->size[rb] > p->size[ra]) p->size[ra] = p->size[rb];
}

/* Storage classes and workspace lifetimes.  False + error when a size is unknown. */
static bool classify(Planner *p) {
    Graph *g = p->g;
    for (int i = 0; i < g->n_values; i++) {
        Value *v = g->values[i];
        v->storage = STORAGE_NONE;
        v->ws_offset = 0;
        p->parent[i] = i;
        p->first[i] = p->last[i] = -1;
        if (v->is_input) v->storage = STORAGE_INPUT;
        else if (v->data) v->storage = STORAGE_CONST;
    }
    for (int t = 0; t < g->n_nodes; t++) {
        Node *n = g->nodes[t];
        for (int k = 0; k < n->n_outputs; k++) {
            Value *v = n->outputs[k];
            if (!v || v->is_input) continue;
            if (v->is_output) { v->storage = STORAGE_OUTPUT; continue; }
            size_t bytes = ir_nbytes(v);
            if (!ir_value_shape_known(v) || (bytes == 0 && ir_numel(v) != 0) ||
                dtype_size(v->dtype) == 0) {
                diag_error(p->d, n, "cannot plan memory for '%s': unknown shape or type",
                           v->name);
                return false;
            }
            if (!size_align_up(bytes, PLAN_ALIGN, &p->size[v->id])) {
                diag_error(p->d, n, "value '%s' is too large (%zu bytes)", v->name, bytes);
                return false;
            }
            v->storage = STORAGE_WORKSPACE;
            p->in_ws[v->id] = true;
            p->first[v->id] = p->last[v->id] = t;
        }
    }
    for (int t = 0; t < g->n_nodes; t++) {
        Node *n = g->nodes[t];
        for (int k = 0; k < n->n_inputs; k++) {
            Value *v = n->inputs[k];
            if (v && p->in_ws[v->id] && p->last[v->id] < t) p->last[v->id] = t;
        }
    }
    return true;
}

/* Alias and in-place groups, in schedule order (a group's lifetime is final by the time
 * a later step looks at it: anything that extends it is read at that later step). */
static void share(Planner *p) {
    Graph *g = p->g;
    for (int t = 0; t < g->n_nodes; t++) {
        Node *n = g->nodes[t];
        if (!n->op || n->n_outputs < 1 || !n->outputs[0] || n->n_inputs < 1) continue;
        Value *y = n->outputs[0];
        if (!p->in_ws[y->id]) continue;
        size_t ybytes = ir_nbytes(y);
        if (n->op->memory == OP_MEMORY_ALIAS) {
            Value *x = n->inputs[0];
            if (x && p->in_ws[x->id] && ir_nbytes(x) == ybytes) unite(p, x->id, y->id);
        } else if (n->op->memory == OP_MEMORY_INPLACE) {
            for (int k = 0; k < n->n_inputs; k++) {
                Value *x = n->inputs[k];
                if (!x || !p->in_ws[x->id] || ir_nbytes(x) != ybytes ||
                    dtype_size(x->dtype) != dtype_size(y->dtype))
                    continue;
                if (p->last[find(p, x->id)] != t) continue;
                unite(p, x->id, y->id);
                break;
            }
        }
    }
}

/* Orders in which blocks are placed.  Ties fall back to the start step, then creation
 * order, so every order is total and the plan deterministic. */
static int tie_break(const Block *a, const Block *b) {
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

static int by_size(const void *pa, const void *pb) {
    const Block *a = *(Block *const *)pa, *b = *(Block *const *)pb;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    return tie_break(a, b);
}

/* Bytes x steps: long-lived large buffers first. */
static int by_area(const void *pa, const void *pb) {
    const Block *a = *(Block *const *)pa, *b = *(Block *const *)pb;
    double area_a = (double)a->size * (a->last - a->first + 1);
    double area_b = (double)b->size * (b->last - b->first + 1);
    if (area_a != area_b) return area_a > area_b ? -1 : 1;
    return by_size(pa, pb);
}

/* In schedule order, as a linear scan would: often best on chains of blocks. */
static int by_start(const void *pa, const void *pb) {
    const Block *a = *(Block *const *)pa, *b = *(Block *const *)pb;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return by_size(pa, pb);
}

static int offset_cmp(const void *pa, const void *pb) {
    const Block *a = *(Block *const *)pa, *b = *(Block *const *)pb;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Places blocks in the given order, each at the lowest offset (first fit) or in the
 * smallest free gap (best fit) clear of the already placed blocks whose lifetimes overlap
 * its own.  *end gets the arena's end; false on size overflow. */
static bool place(Block **blocks, int count, Block **tmp, bool best_fit, size_t *end) {
    *end = 0;
    for (int i = 0; i < count; i++) {
        Block *b = blocks[i];
        int n = 0;
        for (int j = 0; j < i; j++) {
            Block *o = blocks[j];
            if (o->first <= b->last && b->first <= o->last && o->size > 0) tmp[n++] = o;
        }
        qsort(tmp, (size_t)n, sizeof *tmp, offset_cmp);
        size_t at = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
        for (int j = 0; j < n; j++) {
            if (tmp[j]->offset >= at && tmp[j]->offset - at >= b->size) {
                size_t gap = tmp[j]->offset - at;       /* free bytes before tmp[j] */
                if (!best_fit) { best = at; break; }
                if (gap < best_gap) { best_gap = gap; best = at; }
            }
            size_t o_end;
            if (!size_add(tmp[j]->offset, tmp[j]->size, &o_end)) return false;
            if (o_end > at) at = o_end;
        }
        b->offset = best != SIZE_MAX ? best : at;       /* else past every neighbour */
        size_t b_end;
        if (!size_add(b->offset, b->size, &b_end)) return false;
        if (b_end > *end) *end = b_end;
    }
    return true;
}

/* Tries a few orders and both fits, keeps the smallest arena (the first on a tie). */
static bool place_best(Block **blocks, int count, Arena *tmp, size_t *end, Diag *d) {
    static int (*const orders[])(const void *, const void *) = { by_size, by_area, by_start };
    Block **work = arena_array(tmp, (size_t)count + 1, sizeof(Block *));
    Block **order = arena_array(tmp, (size_t)count + 1, sizeof(Block *));
    size_t *best = arena_array(tmp, (size_t)count + 1, sizeof(size_t));
    if (!work || !order || !best) {
        diag_error(d, NULL, "out of memory planning memory");
        return false;
    }
    size_t best_end = SIZE_MAX;
    for (size_t k = 0; k < sizeof orders / sizeof orders[0]; k++) {
        for (int fit = 0; fit < 2; fit++) {
            memcpy(order, blocks, (size_t)count * sizeof *order);
            qsort(order, (size_t)count, sizeof *order, orders[k]);
            size_t e;
            if (!place(order, count, work, fit == 1, &e)) {
                diag_error(d, NULL, "the workspace is too large to address");
                return false;
            }
            if (e >= best_end) continue;
            best_end = e;
            for (int i = 0; i < count; i++) best[i] = blocks[i]->offset;
        }
    }
    for (int i = 0; i < count; i++) blocks[i]->offset = best[i];
    *end = count > 0 ? best_end : 0;
    return true;
}

/* The largest sum of live block sizes over the steps. */
static bool lower_bound(Block *const *blocks, int count, int n_steps, size_t *out) {
    *out = 0;
    for (int t = 0; t < n_steps; t++) {
        size_t sum = 0;
        for (int i = 0; i < count; i++)
            if (blocks[i]->first <= t && t <= blocks[i]->last &&
                !size_add(sum, blocks[i]->size, &sum))
                return false;
        if (sum > *out) *out = sum;
    }
    return true;
}

/* Builds blocks for groups and scratch buffers, places them, writes offsets back. */
static bool layout(Planner *p, Arena *tmp, MemoryPlan *plan) {
    Graph *g = p->g;
    int cap = g->n_values + g->n_nodes + 1;
    Block *store = arena_array(tmp, (size_t)cap, sizeof(Block));
    Block **blocks = arena_array(tmp, (size_t)cap, sizeof(Block *));
    Block **scratch = arena_array(tmp, (size_t)cap, sizeof(Block *));
    Block **by_root = arena_array(tmp, (size_t)g->n_values + 1, sizeof(Block *));
    if (!store || !blocks || !scratch || !by_root) {
        diag_error(p->d, NULL, "out of memory planning memory");
        return false;
    }
    int count = 0;
    for (int i = 0; i < g->n_values; i++) {
        if (!p->in_ws[i] || find(p, i) != i) continue;
        Block *b = &store[count];
        *b = (Block){ .size = p->size[i], .first = p->first[i], .last = p->last[i],
                      .order = count };
        by_root[i] = b;
        blocks[count++] = b;
    }
    for (int t = 0; t < g->n_nodes; t++) {
        const Node *n = g->nodes[t];
        size_t bytes = n->op && n->op->scratch_bytes ? n->op->scratch_bytes(n) : 0;
        if (bytes == 0) continue;
        Block *b = &store[count];
        *b = (Block){ .first = t, .last = t, .order = count };
        if (!size_align_up(bytes, PLAN_ALIGN, &b->size)) {
            diag_error(p->d, n, "scratch of %zu bytes is too large", bytes);
            return false;
        }
        scratch[t] = b;
        blocks[count++] = b;
    }
    if (!lower_bound(blocks, count, g->n_nodes, &plan->lower_bound_bytes)) {
        diag_error(p->d, NULL, "the workspace is too large to address");
        return false;
    }
    if (!place_best(blocks, count, tmp, &plan->workspace_bytes, p->d)) return false;
    for (int i = 0; i < g->n_values; i++)
        if (p->in_ws[i]) g->values[i]->ws_offset = by_root[find(p, i)]->offset;
    for (int t = 0; t < g->n_nodes; t++)
        plan->scratch_offset[t] = scratch[t] ? scratch[t]->offset : 0;
    return true;
}

bool pass_plan_memory(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    MemoryPlan *plan = arena_alloc(&g->arena, sizeof *plan);
    size_t *offsets = arena_array(&g->arena, (size_t)g->n_nodes + 1, sizeof(size_t));
    Arena tmp;
    arena_init(&tmp, 0);
    size_t nv = (size_t)g->n_values + 1;
    Planner p = {
        .g = g, .d = d,
        .parent = arena_array(&tmp, nv, sizeof(int)),
        .first = arena_array(&tmp, nv, sizeof(int)),
        .last = arena_array(&tmp, nv, sizeof(int)),
        .size = arena_array(&tmp, nv, sizeof(size_t)),
        .in_ws = arena_array(&tmp, nv, sizeof(bool)),
    };
    bool ok = plan && offsets && p.parent && p.first && p.last && p.size && p.in_ws;
    if (!ok) diag_error(d, NULL, "out of memory planning memory");
    if (ok) {
        plan->scratch_offset = offsets;
        ok = classify(&p);
    }
    if (ok) {
        share(&p);
        ok = layout(&p, &tmp, plan);
    }
    arena_free(&tmp);
    if (ok) g->plan = plan;
    return ok;
}

const MemoryPlan *plan_get(const Graph *g) {
    return g->plan;
}
