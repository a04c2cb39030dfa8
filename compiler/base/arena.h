/* arena.h: the one allocator of the compiler.
 *
 * Every object of a graph (values, nodes, attributes, names, constant data) is carved
 * from the graph's arena and released all at once by arena_free().  Nothing is freed one
 * at a time.  An arena may carry a byte limit (tests use it to drive the out-of-memory
 * paths); every allocation returns NULL when the limit or the system says no, and the
 * caller turns that into a diagnostic.
 */
#ifndef ONNXCC_ARENA_H
#define ONNXCC_ARENA_H

#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;

typedef struct Arena {
    ArenaChunk *head;      /* newest chunk first */
    size_t used_bytes;     /* sum of chunk sizes, checked against limit_bytes */
    size_t limit_bytes;    /* 0 = no limit */
} Arena;

void  arena_init(Arena *a, size_t limit_bytes);
void  arena_free(Arena *a);
/* Zero-filled, aligned to 64 bytes (enough for any SIMD load); NULL on failure. */
void *arena_alloc(Arena *a, size_t bytes);
/* Zero-filled array of count elements of elem_bytes each, overflow-checked. */
void *arena_array(Arena *a, size_t count, size_t elem_bytes);
/* Copy of a string (or of len bytes + NUL); NULL on failure. */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t len);
/* printf into the arena. */
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows an array kept in the arena: returns a new block of new_count elements holding
 * the old_count old ones (the old block is simply abandoned). */
void *arena_grow(Arena *a, void *old, size_t old_count, size_t new_count, size_t elem_bytes);

#endif
