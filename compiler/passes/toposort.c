/* toposort.c: orders the schedule topologically and links producers.
 *
 * Requires: a graph from the frontend (nodes in any order, every input defined).
 * Establishes: g->nodes in topological order, ties broken by original node index (so the
 * schedule, and everything emitted from it, is deterministic); v->producer set for every
 * node output.  A cycle is an error naming one node on it.  Iterative (Kahn's algorithm
 * with a binary heap keyed by node id): no recursion, so huge graphs cannot overflow the
 * stack.
 */
#include <string.h>

#include "passes/pass.h"

/* A min-heap of node positions, ordered by Node.id. */
typedef struct Heap {
    Node **items;
    int len;
} Heap;

static void heap_push(Heap *h, Node *n) {
    int i = h->len++;
    h->items[i] = n;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h->items[p]->id <= h->items[i]->id) break;
        Node *t = h->items[p]; h->items[p] = h->items[i]; h->items[i] = t;
        i = p;
    }
}

static Node *heap_pop(Heap *h) {
    Node *top = h->items[0];
    h->items[0] = h->items[--h->len];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->items[l]->id < h->items[m]->id) m = l;
        if (r < h->len && h->items[r]->id < h->items[m]->id) m = r;
        if (m == i) break;
        Node *t = h->items[m]; h->items[m] = h->items[i]; h->items[i] = t;
        i = m;
    }
    return top;
}

bool pass_toposort(Graph *g, const PassOptions *opt, Diag *d) {
    (void)opt;
    int n = g->n_nodes;
    if (n == 0) return true;
    /* Producers first: every value made by a node points back at it. */
    for (int i = 0; i < g->n_values; i++) g->values[i]->producer = NULL;
    for (int i = 0; i < n; i++) {
        Node *node = g->nodes[i];
        for (int k = 0; k < node->n_outputs; k++) {
            Value *v = node->outputs[k];
            if (!v) continue;
            if (v->producer) {
                diag_error(d, node, "output '%s' is also produced by node '%s'", v->name,
                           v->producer->name);
                return false;
            }
            v->producer = node;
        }
    }
    /* Pending input count per node position, and consumer lists in CSR form keyed by
     * value id: edges[first[v] .. first[v + 1]) are the positions of v's readers. */
    int *pending = arena_array(&g->arena, (size_t)n, sizeof(int));
    int *first = arena_array(&g->arena, (size_t)g->n_values + 1, sizeof(int));
    int *fill = arena_array(&g->arena, (size_t)g->n_values + 1, sizeof(int));
    Node **order = arena_array(&g->arena, (size_t)n, sizeof(Node *));
    Heap heap = { arena_array(&g->arena, (size_t)n, sizeof(Node *)), 0 };
    if (!pending || !first || !fill || !order || !heap.items) {
        diag_error(d, NULL, "out of memory sorting %d nodes", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        Node *node = g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++) {
            Value *v = node->inputs[k];
            if (v && v->producer) { first[v->id + 1]++; pending[i]++; }
        }
    }
    for (int i = 0; i < g->n_values; i++) first[i + 1] += first[i];
    int n_edges = first[g->n_values];
    int *edges = arena_array(&g->arena, (size_t)(n_edges > 0 ? n_edges : 1), sizeof(int));
    if (!edges) { diag_error(d, NULL, "out of memory sorting %d nodes", n); return false; }
    memcpy(fill, first, ((size_t)g->n_values + 1) * sizeof(int));
    for (int i = 0; i < n; i++) {
        Node *node = g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++) {
            Value *v = node->inputs[k];
            if (v && v->producer) edges[fill[v->id]++] = i;
        }
    }
    for (int i = 0; i < n; i++)
        if (pending[i] == 0) heap_push(&heap, g->nodes[i]);
    int done = 0;
    while (heap.len > 0) {
        Node *node = heap_pop(&heap);
        order[done++] = node;
        for (int k = 0; k < node->n_outputs; k++) {
            Value *v = node->outputs[k];
            if (!v) continue;
            for (int e = first[v->id]; e < first[v->id + 1]; e++) {
                int c = edges[e];
                if (--pending[c] == 0) heap_push(&heap, g->nodes[c]);
            }
        }
    }
    if (done != n) {
        for (int i = 0; i < n; i++) {
            if (pending[i] > 0) {
                diag_error(d, g->nodes[i], "the graph has a cycle through this node");
                return false;
            }
        }
    }
    memcpy(g->nodes, order, (size_t)n * sizeof(Node *));
    return true;
}
