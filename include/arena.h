/*
 * arena.h - a bump allocator for scratch memory that dies all at once
 * (one page of a list, one rendering).
 *
 * Allocations come from chunks that grow geometrically (each new chunk at
 * least twice the previous one, up to ARENA_CHUNK_MAX; a larger request gets
 * a chunk of its own size).  Nothing is freed one by one: arena_reset makes
 * all of it reusable at once and keeps ONE chunk - the first, or, if the
 * arena grew past it, a single chunk as big as everything it held (at most
 * ARENA_KEEP_MAX) - so an arena reused page after page settles on one malloc
 * per page size ever, not one per page.  arena_free returns everything.
 *
 * Failure is reported, never fatal: every allocating call returns NULL when
 * malloc fails or a size overflows, and the arena stays usable.  Not
 * thread-safe: one owner at a time.
 */
#ifndef PDFS_ARENA_H
#define PDFS_ARENA_H

#include <stddef.h>

#define ARENA_CHUNK_MIN ((size_t)4096)         /* smallest chunk it mallocs */
#define ARENA_CHUNK_MAX ((size_t)64 << 20)     /* geometric growth stops here */
#define ARENA_KEEP_MAX ((size_t)16 << 20)      /* arena_reset keeps at most this */

struct arena_chunk;

struct arena {
	struct arena_chunk *chunks; /* newest first; NULL until the first allocation */
	char *next;                 /* free space of the newest chunk: [next, end) */
	char *end;
	char *last;                 /* the most recent allocation (arena_realloc) */
	size_t first_size;          /* usable bytes of the first chunk to allocate */
	size_t held;                /* usable bytes of every chunk held */
};

#define ARENA_INIT { NULL, NULL, NULL, NULL, 0, 0 }

/* An empty arena whose first chunk will hold first_size bytes (0: a default
 * of 64 KiB).  Allocates nothing yet. */
void arena_init(struct arena *a, size_t first_size);

/* size bytes aligned for any type (max_align_t); size 0 gives a valid
 * unique pointer.  NULL if out of memory. */
void *arena_alloc(struct arena *a, size_t size);

/* A NUL-terminated copy of s[0..n) (which may hold NULs; byte aligned).
 * NULL if out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/*
 * Resize p, which holds old_size bytes: the most recent allocation grows or
 * shrinks in place when its chunk has room, anything else is copied into a
 * new allocation (the old bytes stay until reset).  p NULL acts like
 * arena_alloc.  NULL if out of memory (p is still valid then).
 */
void *arena_realloc(struct arena *a, void *p, size_t old_size, size_t new_size);

/* Make every allocation reusable (pointers into the arena die), keeping one
 * chunk as described above. */
void arena_reset(struct arena *a);

/* Free every chunk; the arena is empty and reusable afterwards. */
void arena_free(struct arena *a);

/* Bytes of the chunks the arena holds (for statistics and tests). */
size_t arena_capacity(const struct arena *a);

#endif
