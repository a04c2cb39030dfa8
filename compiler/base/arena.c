/* arena.c: a bump allocator in chunks; see arena.h. */
#include "base/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"

enum { ARENA_ALIGN = 64, ARENA_CHUNK_BYTES = 1 << 20 };

struct ArenaChunk {
    ArenaChunk *next;
    size_t size;        /* usable bytes after the header */
    size_t used;
    _Alignas(64) unsigned char bytes[];
};

void arena_init(Arena *a, size_t limit_bytes) {
    a->head = NULL;
    a->used_bytes = 0;
    a->limit_bytes = limit_bytes;
}

void arena_free(Arena *a) {
    ArenaChunk *c = a->head;
    while (c) {
        ArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

static ArenaChunk *arena_new_chunk(Arena *a, size_t min_bytes) {
    size_t size = min_bytes > ARENA_CHUNK_BYTES ? min_bytes : ARENA_CHUNK_BYTES;
    size_t total;
    if (!size_add(sizeof(ArenaChunk), size, &total)) return NULL;
    size_t new_used;
    if (!size_add(a->used_bytes, total, &new_used)) return NULL;
    if (a->limit_bytes && new_used > a->limit_bytes) {
        /* Try a chunk of exactly what is needed before giving up. */
        size = min_bytes;
        total = sizeof(ArenaChunk) + size;
        new_used = a->used_bytes + total;
        if (new_used > a->limit_bytes) return NULL;
    }
    ArenaChunk *c = aligned_alloc(ARENA_ALIGN, (total + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
    if (!c) return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
    a->used_bytes = new_used;
    return c;
}

void *arena_alloc(Arena *a, size_t bytes) {
    size_t need;
    if (bytes == 0) bytes = 1;
    if (!size_align_up(bytes, ARENA_ALIGN, &need)) return NULL;
    ArenaChunk *c = a->head;
    if (!c || c->size - c->used < need) {
        /* A large block gets a chunk of its own, put behind the current one so the
         * current chunk's free space is not wasted. */
        ArenaChunk *old = a->head;
        c = arena_new_chunk(a, need);
        if (!c) return NULL;
        if (old && need > ARENA_CHUNK_BYTES / 4) {
            a->head = old;
            c->next = old->next;
            old->next = c;
        }
    }
    void *p = c->bytes + c->used;
    c->used += need;
    memset(p, 0, bytes);
    return p;
}

void *arena_array(Arena *a, size_t count, size_t elem_bytes) {
    size_t bytes;
    if (!size_mul(count, elem_bytes, &bytes)) return NULL;
    return arena_alloc(a, bytes);
}

char *arena_strndup(Arena *a, const char *s, size_t len) {
    char *p = arena_alloc(a, len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s) {
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *arena_grow(Arena *a, void *old, size_t old_count, size_t new_count, size_t elem_bytes) {
    void *p = arena_array(a, new_count, elem_bytes);
    if (!p) return NULL;
    if (old && old_count) memcpy(p, old, old_count * elem_bytes);
    return p;
}
