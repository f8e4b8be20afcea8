/* Unit tests for the bump allocator (arena.h). */
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "check.h"

/* Under AddressSanitizer a failing malloc must return NULL, as libc's does,
 * instead of stopping the test (ignored without ASan). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static bool aligned(const void *p)
{
	return ((uintptr_t)p % alignof(max_align_t)) == 0;
}

static void test_alloc_and_growth(void)
{
	struct arena a;
	arena_init(&a, 100);
	CHECK(arena_capacity(&a) == 0); /* nothing until the first allocation */

	/* Many allocations over many chunks: all aligned, all keep their bytes. */
	enum { N = 2000 };
	unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		size_t size = (size_t)(i % 97) + 1;
		p[i] = arena_alloc(&a, size);
		CHECK(p[i] != NULL && aligned(p[i]));
		if (p[i])
			memset(p[i], i & 0xFF, size);
	}
	bool intact = true;
	for (int i = 0; i < N; i++)
		for (size_t k = 0; p[i] && k < (size_t)(i % 97) + 1; k++)
			intact &= p[i][k] == (i & 0xFF);
	CHECK(intact);
	/* chunks grow geometrically: far fewer bytes held than 2000 small chunks would need */
	size_t cap = arena_capacity(&a);
	CHECK(cap >= 2000 * 16 && cap < 4 * 2000 * 112);

	/* A request bigger than the next chunk gets its own. */
	void *big = arena_alloc(&a, 3u << 20);
	CHECK(big != NULL && aligned(big) && arena_capacity(&a) >= cap + (3u << 20));

	/* size 0 still gives a usable distinct pointer */
	void *z1 = arena_alloc(&a, 0), *z2 = arena_alloc(&a, 0);
	CHECK(z1 && z2 && z1 != z2);
	arena_free(&a);
	CHECK(arena_capacity(&a) == 0);
	CHECK(arena_alloc(&a, 10) != NULL); /* usable after free */
	arena_free(&a);
}

static void test_strndup(void)
{
	struct arena a;
	arena_init(&a, 0);
	char *s = arena_strndup(&a, "ab\0cd-not-copied", 5);
	CHECK(s && memcmp(s, "ab\0cd", 5) == 0 && s[5] == '\0');
	char *e = arena_strndup(&a, NULL, 0);
	CHECK(e && e[0] == '\0');
	/* strings are byte aligned: two short copies sit next to each other */
	char *x = arena_strndup(&a, "x", 1), *y = arena_strndup(&a, "y", 1);
	CHECK(x && y && y == x + 2);
	arena_free(&a);
}

static void test_realloc(void)
{
	struct arena a;
	arena_init(&a, 1 << 16);
	char *p = arena_alloc(&a, 100);
	memset(p, 'a', 100);
	char *q = arena_realloc(&a, p, 100, 5000); /* last allocation, room: in place */
	CHECK(q == p);
	q = arena_realloc(&a, q, 5000, 10); /* shrink in place gives the tail back */
	CHECK(q == p);
	char *next = arena_alloc(&a, 1);
	CHECK(next == p + 16); /* the next allocation follows the shrunk one (aligned) */
	char *moved = arena_realloc(&a, p, 10, 200); /* no longer the last: copied */
	CHECK(moved && moved != p && memcmp(moved, "aaaaaaaaaa", 10) == 0);
	char *grown = arena_realloc(&a, moved, 200, 1 << 20); /* beyond the chunk: copied */
	CHECK(grown && grown != moved && memcmp(grown, "aaaaaaaaaa", 10) == 0);
	CHECK(arena_realloc(&a, NULL, 0, 8) != NULL);
	arena_free(&a);
}

static void test_reset_keeps_one_chunk(void)
{
	struct arena a;
	arena_init(&a, 4096);
	for (int i = 0; i < 1000; i++)
		CHECK(arena_alloc(&a, 1000) != NULL);
	size_t held = arena_capacity(&a);
	CHECK(held >= 1000 * 1000);
	arena_reset(&a);
	/* one chunk, as big as everything the arena held */
	CHECK(arena_capacity(&a) == held);
	for (int i = 0; i < 1000; i++)
		CHECK(arena_alloc(&a, 1000) != NULL);
	CHECK(arena_capacity(&a) == held); /* the same use again needs no new chunk */
	arena_reset(&a);
	CHECK(arena_capacity(&a) == held);

	/* A reset after a huge use keeps nothing beyond ARENA_KEEP_MAX. */
	CHECK(arena_alloc(&a, ARENA_KEEP_MAX * 2) != NULL);
	arena_reset(&a);
	CHECK(arena_capacity(&a) <= ARENA_KEEP_MAX);
	CHECK(arena_alloc(&a, 64) != NULL);
	arena_free(&a);

	/* ... also when the huge use was the very first chunk */
	struct arena h;
	arena_init(&h, 0);
	CHECK(arena_alloc(&h, ARENA_KEEP_MAX + 1) != NULL);
	arena_reset(&h);
	CHECK(arena_capacity(&h) == 0);
	CHECK(arena_alloc(&h, 64) != NULL);
	arena_free(&h);

	/* resetting an empty arena is harmless */
	struct arena e = ARENA_INIT;
	arena_reset(&e);
	CHECK(arena_capacity(&e) == 0);
	arena_free(&e);
}

static void test_failure_is_reported(void)
{
	struct arena a;
	arena_init(&a, 0);
	CHECK(arena_alloc(&a, 10) != NULL);
	size_t held = arena_capacity(&a);
	CHECK(arena_alloc(&a, SIZE_MAX) == NULL);         /* overflows */
	CHECK(arena_alloc(&a, SIZE_MAX - 64) == NULL);    /* overflows with the header */
	CHECK(arena_alloc(&a, (size_t)1 << 62) == NULL);  /* malloc fails */
	CHECK(arena_strndup(&a, "x", SIZE_MAX) == NULL);
	char *p = arena_alloc(&a, 8);
	CHECK(arena_realloc(&a, p, 8, (size_t)1 << 62) == NULL); /* p stays valid */
	CHECK(arena_capacity(&a) == held);                /* nothing leaked into the arena */
	CHECK(arena_alloc(&a, 10) != NULL);               /* still usable */
	arena_free(&a);
}

int main(void)
{
	test_alloc_and_growth();
	test_strndup();
	test_realloc();
	test_reset_keeps_one_chunk();
	test_failure_is_reported();
	return check_finish("test_arena");
}
