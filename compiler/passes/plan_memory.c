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
 *    byte size whose group is last read at this very step;
 *  - Concat along an axis with only 1s before it (channels of a batch-1 NCHW tensor): the
 *    output is the inputs laid end to end, so an input can be written straight into its
 *    slice of the output, and the Concat then copies nothing (tensor.c skips an input
 *    found at its slice).  An input joins the output's group at its slice's offset when
 *    it is a workspace value whose group is last read by this Concat (so nothing reads
 *    it once the output may be overwritten), not already in the output's group (an input
 *    listed twice, or two inputs sharing bytes), and its slice starts at a multiple of
 *    64 bytes (every buffer stays aligned).  This is the planner's one rule about a
 *    specific op.
 * A group is one buffer: each member sits at a fixed byte offset inside it (0 except for
 * Concat slices), and the group spans the extent of all its members.
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
#include "ir/shape.h"
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
    int64_t *rel;       /* bytes from a value's start to its parent's (0 for a root) */
    int *first, *last;  /* per value id, then per group root */
    int64_t *lo, *hi;   /* per group root: the group's byte extent, from the root's start */
    bool *in_ws;        /* value is a workspace value */
} Planner;

/* The root of v's group; *offset (if not NULL) gets v's byte offset from the root's
 * start.  Every value on the way is made to point at the root directly. */
static int find_at(Planner *p, int v, int64_t *offset) {
    int root = v;
    int64_t off = 0;
    while (p->parent[root] != root) {
        off += p->rel[root];
        root = p->parent[root];
    }
    if (offset) *offset = off;
    while (v != root) {                 /* off: v's offset from the root */
        int next = p->parent[v];
        int64_t step = p->rel[v];
        p->parent[v] = root;
        p->rel[v] = off;
        off -= step;
        v = next;
    }
    return root;
}

static int find(Planner *p, int v) { return find_at(p, v, NULL); }

/* Merges the groups of a and b so that b starts delta bytes after a; the root keeps the
 * union of their lifetimes and extents. */
static void unite_at(Planner *p, int a, int b, int64_t delta) {
    int64_t off_a, off_b;
    int ra = find_at(p, a, &off_a), rb = find_at(p, b, &off_b);
    if (ra == rb) return;
    int64_t shift = off_a + delta - off_b;          /* rb's start from ra's */
    if (rb < ra) {                                  /* lower id is the root: deterministic */
        int t = ra; ra = rb; rb = t;
        shift = -shift;
    }
    p->parent[rb] = ra;
    p->rel[rb] = shift;
    if (p->first[rb] < p->first[ra]) p->first[ra] = p->first[rb];
    if (p->last[rb] > p->last[ra]) p->last[ra] = p->last[rb];
    if (p->lo[rb] + shift < p->lo[ra]) p->lo[ra] = p->lo[rb] + shift;
    if (p->hi[rb] + shift > p->hi[ra]) p->hi[ra] = p->hi[rb] + shift;
}

static void unite(Planner *p, int a, int b) { unite_at(p, a, b, 0); }

/* Storage classes and workspace lifetimes.  False + error when a size is unknown. */
static bool classify(Planner *p) {
    Graph *g = p->g;
    for (int i = 0; i < g->n_values; i++) {
        Value *v = g->values[i];
        v->storage = STORAGE_NONE;
        v->ws_offset = 0;
        p->parent[i] = i;
        p->rel[i] = p->lo[i] = p->hi[i] = 0;
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
            size_t aligned;
            if (!size_align_up(bytes, PLAN_ALIGN, &aligned) || aligned > INT64_MAX) {
                diag_error(p->d, n, "value '%s' is too large (%zu bytes)", v->name, bytes);
                return false;
            }
            p->hi[v->id] = (int64_t)aligned;
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

/* Puts the inputs of Concat n (step t) that may live in their slice of the output there
 * (see the file comment). */
static void share_concat(Planner *p, const Node *n, int t) {
    const Value *y = n->outputs[0];
    int axis;
    if (!shape_axis(ir_attr_int(n, "axis", 1), y->rank, false, &axis)) return;
    for (int k = 0; k < axis; k++)
        if (y->dims[k] != 1) return;            /* the slices would be strided */
    size_t start = 0;                           /* input k's first byte in y */
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *x = n->inputs[k];
        size_t bytes = ir_nbytes(x);
        int64_t off_x, slice = (int64_t)((bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN);
        if (bytes > 0 && p->in_ws[x->id] && start % PLAN_ALIGN == 0) {
            int rx = find_at(p, x->id, &off_x);
            /* the group's extent must lie within x's slice (aligned up, as planned) */
            bool fits = p->lo[rx] >= off_x && p->hi[rx] - off_x <= slice;
            if (p->last[rx] == t && rx != find(p, y->id) && fits)
                unite_at(p, y->id, x->id, (int64_t)start);
        }
        start += bytes;
    }
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
        if (strcmp(n->op->name, "Concat") == 0 && n->op->domain[0] == '\0') {
            share_concat(p, n, t);
        } else if (n->op->memory == OP_MEMORY_ALIAS) {
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
        *b = (Block){ .size = (size_t)(p->hi[i] - p->lo[i]), .first = p->first[i],
                      .last = p->last[i], .order = count };
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
    for (int i = 0; i < g->n_values; i++) {
        if (!p->in_ws[i]) continue;
        int64_t off;
        int root = find_at(p, i, &off);
        g->values[i]->ws_offset = by_root[root]->offset + (size_t)(off - p->lo[root]);
    }
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
        .rel = arena_array(&tmp, nv, sizeof(int64_t)),
        .lo = arena_array(&tmp, nv, sizeof(int64_t)),
        .hi = arena_array(&tmp, nv, sizeof(int64_t)),
        .in_ws = arena_array(&tmp, nv, sizeof(bool)),
    };
    bool ok = plan && offsets && p.parent && p.first && p.last && p.rel && p.lo && p.hi &&
              p.in_ws;
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
