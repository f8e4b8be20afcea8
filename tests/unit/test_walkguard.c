/* The walk guard: cycles, pages without news, caps, and a legitimate big walk. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "walkguard.h"

/* Feed one page of ids first..first+n-1 with cursor `next` (NULL: last). */
static enum walkguard_verdict page(struct walkguard *g, uint64_t first, size_t n,
				   const char *next, double now)
{
	uint64_t keys[600];
	for (size_t i = 0; i < n; i++)
		keys[i] = first + i;
	return walkguard_page(g, keys, n, n, next, next ? strlen(next) : 0, now);
}

static void test_last_page_is_done(void)
{
	struct walkguard g;
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 10, "A", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 11, 10, NULL, 1) == WALKGUARD_DONE);
	walkguard_free(&g);

	/* An empty or repeated last page still ends the walk. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 0, NULL, 0) == WALKGUARD_DONE);
	walkguard_free(&g);
}

static void test_cycles_are_caught(void)
{
	struct walkguard g;
	/* A, B, A: every page brings new ids, the cursor gives it away. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 5, "A", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 6, 5, "B", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 11, 5, "A", 0) == WALKGUARD_CURSOR_REPEATED);
	walkguard_free(&g);

	/* The same cursor twice in a row. */
	walkguard_init(&g, NULL, false, 0);
	CHECK(page(&g, 1, 5, "A", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 6, 5, "A", 0) == WALKGUARD_CURSOR_REPEATED);
	walkguard_free(&g);

	/* A long cycle: A1..A50, then A7 again. */
	walkguard_init(&g, NULL, true, 0);
	char cur[16];
	for (int i = 1; i <= 50; i++) {
		snprintf(cur, sizeof(cur), "A%d", i);
		CHECK(page(&g, (uint64_t)i * 10, 10, cur, 0) == WALKGUARD_CONTINUE);
	}
	CHECK(page(&g, 1000, 10, "A7", 0) == WALKGUARD_CURSOR_REPEATED);
	walkguard_free(&g);

	/* Back to the cursor the walk started from. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(walkguard_start_cursor(&g, "S", 1) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 1, 5, "T", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 6, 5, "S", 0) == WALKGUARD_CURSOR_REPEATED);
	walkguard_free(&g);

	/* Cursors that differ in one byte are different. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 5, "cursor-1", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 6, 5, "cursor-2", 0) == WALKGUARD_CONTINUE);
	walkguard_free(&g);
}

static void test_pages_without_news(void)
{
	struct walkguard g;
	char cur[16];
	/* Ascending: the same ids under ever new cursors. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 100, "c0", 0) == WALKGUARD_CONTINUE);
	for (unsigned i = 1; i < WALKGUARD_DEFAULT_MAX_IDLE_PAGES; i++) {
		snprintf(cur, sizeof(cur), "c%u", i);
		CHECK(page(&g, 1, 100, cur, 0) == WALKGUARD_CONTINUE);
	}
	CHECK(page(&g, 1, 100, "last", 0) == WALKGUARD_NO_PROGRESS);
	walkguard_free(&g);

	/* Ascending: ids that go back count as nothing new. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1000, 10, "c0", 0) == WALKGUARD_CONTINUE);
	enum walkguard_verdict v = WALKGUARD_CONTINUE;
	for (unsigned i = 1; i <= WALKGUARD_DEFAULT_MAX_IDLE_PAGES && v == WALKGUARD_CONTINUE; i++) {
		snprintf(cur, sizeof(cur), "c%u", i);
		v = page(&g, 1000 - i * 10, 10, cur, 0);
	}
	CHECK(v == WALKGUARD_NO_PROGRESS);
	walkguard_free(&g);

	/* Empty pages with new cursors. */
	walkguard_init(&g, NULL, true, 0);
	v = WALKGUARD_CONTINUE;
	unsigned pages = 0;
	while (v == WALKGUARD_CONTINUE && pages < 1000) {
		snprintf(cur, sizeof(cur), "e%u", pages++);
		v = page(&g, 0, 0, cur, 0);
	}
	CHECK(v == WALKGUARD_NO_PROGRESS && pages == WALKGUARD_DEFAULT_MAX_IDLE_PAGES);
	walkguard_free(&g);

	/* A few idle pages in between are tolerated: the count starts over. */
	walkguard_init(&g, NULL, true, 0);
	uint64_t next_id = 1;
	v = WALKGUARD_CONTINUE;
	for (unsigned i = 0; i < 200 && v == WALKGUARD_CONTINUE; i++) {
		snprintf(cur, sizeof(cur), "m%u", i);
		if (i % 5 == 4) {
			v = page(&g, next_id, 10, cur, 0);
			next_id += 10;
		} else {
			v = page(&g, 0, 0, cur, 0);
		}
	}
	CHECK(v == WALKGUARD_CONTINUE);
	walkguard_free(&g);

	/* Not ascending (e.g. newest first): any order, but new keys. */
	walkguard_init(&g, NULL, false, 0);
	CHECK(page(&g, 500, 10, "d0", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 100, 10, "d1", 0) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 900, 10, "d2", 0) == WALKGUARD_CONTINUE);
	v = WALKGUARD_CONTINUE;
	for (unsigned i = 3; i < 100 && v == WALKGUARD_CONTINUE; i++) {
		snprintf(cur, sizeof(cur), "d%u", i);
		v = page(&g, 100 + (i % 3) * 400, 10, cur, 0); /* only old keys */
	}
	CHECK(v == WALKGUARD_NO_PROGRESS);
	CHECK(g.pages == 3 + WALKGUARD_DEFAULT_MAX_IDLE_PAGES);
	walkguard_free(&g);

	/* Key 0 is a key like any other. */
	walkguard_init(&g, NULL, false, 0);
	CHECK(page(&g, 0, 1, "z0", 0) == WALKGUARD_CONTINUE);
	CHECK(g.idle_pages == 0);
	CHECK(page(&g, 0, 1, "z1", 0) == WALKGUARD_CONTINUE);
	CHECK(g.idle_pages == 1);
	walkguard_free(&g);
}

static void test_caps(void)
{
	struct walkguard_limits lim;
	walkguard_default_limits(&lim);
	lim.max_items = 1000;
	struct walkguard g;
	char cur[16];
	walkguard_init(&g, &lim, true, 0);
	enum walkguard_verdict v = WALKGUARD_CONTINUE;
	uint64_t id = 1;
	unsigned pages = 0;
	while (v == WALKGUARD_CONTINUE && pages < 1000) {
		snprintf(cur, sizeof(cur), "i%u", pages++);
		v = page(&g, id, 100, cur, 0);
		id += 100;
	}
	CHECK(v == WALKGUARD_TOO_MANY_ITEMS && g.items == 1000);
	walkguard_free(&g);

	walkguard_default_limits(&lim);
	lim.max_pages = 7;
	walkguard_init(&g, &lim, true, 0);
	v = WALKGUARD_CONTINUE;
	pages = 0;
	id = 1;
	while (v == WALKGUARD_CONTINUE && pages < 1000) {
		snprintf(cur, sizeof(cur), "p%u", pages++);
		v = page(&g, id++, 1, cur, 0);
	}
	CHECK(v == WALKGUARD_TOO_MANY_PAGES && pages == 7);
	walkguard_free(&g);

	/* Duration: the clock is the caller's. */
	walkguard_init(&g, NULL, true, 1000.0);
	CHECK(page(&g, 1, 1, "t0", 1000.0 + WALKGUARD_DEFAULT_MAX_SECONDS - 1) == WALKGUARD_CONTINUE);
	CHECK(page(&g, 2, 1, "t1", 1000.0 + WALKGUARD_DEFAULT_MAX_SECONDS + 1) == WALKGUARD_TOO_LONG);
	walkguard_free(&g);
	/* ... but a walk that ends late has still ended. */
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 1, NULL, 10 * WALKGUARD_DEFAULT_MAX_SECONDS) == WALKGUARD_DONE);
	walkguard_free(&g);

	/* Cursor length. */
	static char huge[WALKGUARD_DEFAULT_MAX_CURSOR_LEN + 2];
	memset(huge, 'x', sizeof(huge) - 1);
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 1, huge, 0) == WALKGUARD_CURSOR_TOO_LONG);
	walkguard_free(&g);
	huge[WALKGUARD_DEFAULT_MAX_CURSOR_LEN] = '\0';
	walkguard_init(&g, NULL, true, 0);
	CHECK(page(&g, 1, 1, huge, 0) == WALKGUARD_CONTINUE);
	CHECK(walkguard_start_cursor(&g, huge, strlen(huge)) == WALKGUARD_CURSOR_REPEATED);
	walkguard_free(&g);

	CHECK(strstr(walkguard_reason(WALKGUARD_CURSOR_REPEATED), "cycle") != NULL);
	CHECK(walkguard_reason(WALKGUARD_DONE)[0] == '\0');
}

/* 1,000,000 persons at page_limit=500 on a slow link (30 s a page): the
 * defaults let it finish. */
static void test_legitimate_big_walk(void)
{
	struct walkguard g;
	walkguard_init(&g, NULL, true, 0);
	enum walkguard_verdict v = WALKGUARD_CONTINUE;
	char cur[32];
	uint64_t id = 1;
	unsigned p;
	for (p = 0; p < 2000 && v == WALKGUARD_CONTINUE; p++) {
		snprintf(cur, sizeof(cur), "eyJpZCI6%llu", (unsigned long long)id);
		v = page(&g, id, 500, p == 1999 ? NULL : cur, 30.0 * (p + 1));
		id += 500;
	}
	CHECK(v == WALKGUARD_DONE && p == 2000 && g.items == 1000000);
	walkguard_free(&g);

	/* The same, newest first (not ascending): 1,000,000 keys remembered. */
	walkguard_init(&g, NULL, false, 0);
	v = WALKGUARD_CONTINUE;
	id = 1000000;
	for (p = 0; p < 2000 && v == WALKGUARD_CONTINUE; p++) {
		snprintf(cur, sizeof(cur), "n%u", p);
		v = page(&g, id - 499, 500, p == 1999 ? NULL : cur, 30.0 * (p + 1));
		id -= 500;
	}
	CHECK(v == WALKGUARD_DONE && p == 2000);
	walkguard_free(&g);
}

int main(void)
{
	test_last_page_is_done();
	test_cycles_are_caught();
	test_pages_without_news();
	test_caps();
	test_legitimate_big_walk();
	return check_finish("walkguard");
}
