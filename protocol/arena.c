/*
 * arena.c — a bump allocator for everything one parsed message, record or
 * schema hands out. Memory comes in chunks that double in size; a request
 * larger than half a chunk gets a chunk of its own. The arena never frees
 * single allocations: the owner frees the whole arena at once. It holds at
 * most PROTO__ARENA_MAX bytes, the ceiling on what one input may cost.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ARENA_FIRST_CHUNK 4096
#define ARENA_ALIGN 16

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct proto_arena {
    struct arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t total;             /* bytes of all chunks, checked against the ceiling */
    size_t next_size;
};

struct proto_arena *proto__arena_new(void)
{
    struct proto_arena *a = calloc(1, sizeof(*a));
    if (a)
        a->next_size = ARENA_FIRST_CHUNK;
    return a;
}

void proto__arena_free(struct proto_arena *a)
{
    if (!a)
        return;
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

/* Adds a chunk of at least n usable bytes; the current chunk stays in front when n is big. */
static struct arena_chunk *arena_grow(struct proto_arena *a, size_t n)
{
    size_t size = a->next_size;
    int own = 0;
    if (n > size / 2) {
        size = n;
        own = 1;
    }
    if (size > PROTO__ARENA_MAX - a->total)
        return NULL;
    struct arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    a->total += size;
    if (own && a->head) {
        /* Keep filling the current chunk: link the big one behind it. */
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
        if (a->next_size < PROTO__ARENA_MAX / 4)
            a->next_size *= 2;
    }
    return c;
}

void *proto__alloc_raw(struct proto_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > PROTO__ARENA_MAX)
        return NULL;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < rounded) {
        c = arena_grow(a, rounded);
        if (!c)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += rounded;
    return p;
}

void *proto__alloc(struct proto_arena *a, size_t n)
{
    void *p = proto__alloc_raw(a, n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

char *proto__strndup(struct proto_arena *a, const char *s, size_t n)
{
    /* Every byte is written below, so the memory need not be zeroed first. */
    char *p = proto__alloc_raw(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *proto__strdup(struct proto_arena *a, const char *s)
{
    return proto__strndup(a, s, strlen(s));
}
