#include "arena.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_FIRST ((size_t)64 << 10)

struct arena_chunk {
	struct arena_chunk *older;
	size_t size; /* usable bytes in data */
	alignas(max_align_t) unsigned char data[];
};

void arena_init(struct arena *a, size_t first_size)
{
	memset(a, 0, sizeof(*a));
	a->first_size = first_size ? first_size : ARENA_DEFAULT_FIRST;
}

static struct arena_chunk *chunk_new(size_t size)
{
	if (size > PTRDIFF_MAX - sizeof(struct arena_chunk)) /* pointer differences must work */
		return NULL;
	struct arena_chunk *c = malloc(sizeof(*c) + size);
	if (c)
		c->size = size;
	return c;
}

static void use_chunk(struct arena *a, struct arena_chunk *c)
{
	c->older = a->chunks;
	a->chunks = c;
	a->next = (char *)c->data;
	a->end = (char *)c->data + c->size;
	a->held += c->size;
}

/* Start a chunk that fits at least `need` bytes (already aligned at its start). */
static bool add_chunk(struct arena *a, size_t need)
{
	size_t size;
	if (!a->chunks)
		size = a->first_size ? a->first_size : ARENA_DEFAULT_FIRST;
	else if (a->chunks->size >= ARENA_CHUNK_MAX / 2)
		size = ARENA_CHUNK_MAX;
	else
		size = a->chunks->size * 2;
	if (size < ARENA_CHUNK_MIN)
		size = ARENA_CHUNK_MIN;
	if (size < need)
		size = need;
	struct arena_chunk *c = chunk_new(size);
	if (!c)
		return false;
	use_chunk(a, c);
	return true;
}

static void *alloc_aligned(struct arena *a, size_t size, size_t align)
{
	if (size == 0)
		size = 1;
	if (a->next) {
		uintptr_t at = ((uintptr_t)a->next + (align - 1)) & ~(uintptr_t)(align - 1);
		if (at <= (uintptr_t)a->end && size <= (uintptr_t)a->end - at) {
			a->last = (char *)at;
			a->next = (char *)at + size;
			return a->last;
		}
	}
	if (!add_chunk(a, size))
		return NULL;
	a->last = a->next; /* chunk data is aligned for max_align_t */
	a->next += size;
	return a->last;
}

void *arena_alloc(struct arena *a, size_t size)
{
	return alloc_aligned(a, size, alignof(max_align_t));
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = alloc_aligned(a, n + 1, 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *arena_realloc(struct arena *a, void *p, size_t old_size, size_t new_size)
{
	if (!p)
		return arena_alloc(a, new_size);
	char *c = p;
	if (c == a->last && new_size <= (size_t)(a->end - c)) {
		a->next = c + (new_size ? new_size : 1);
		return p;
	}
	void *q = arena_alloc(a, new_size);
	if (q)
		memcpy(q, p, old_size < new_size ? old_size : new_size);
	return q;
}

static void free_chunks(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *older = c->older;
		free(c);
		c = older;
	}
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *first = a->chunks;
	if (!first)
		return;
	size_t held = a->held;
	while (first->older)
		first = first->older;
	for (struct arena_chunk *c = a->chunks; c != first;) {
		struct arena_chunk *older = c->older;
		free(c);
		c = older;
	}
	size_t keep = held < ARENA_KEEP_MAX ? held : ARENA_KEEP_MAX;
	if (keep > first->size) { /* one chunk for what the last use needed */
		struct arena_chunk *big = chunk_new(keep);
		if (big) {
			free(first);
			first = big;
		}
	}
	a->chunks = NULL;
	a->next = a->end = a->last = NULL;
	a->held = 0;
	if (first->size > ARENA_KEEP_MAX) {
		free(first);
		return;
	}
	use_chunk(a, first);
}

void arena_free(struct arena *a)
{
	free_chunks(a->chunks);
	a->chunks = NULL;
	a->next = a->end = a->last = NULL;
	a->held = 0;
}

size_t arena_capacity(const struct arena *a)
{
	return a->held;
}
