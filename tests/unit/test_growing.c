/* The growing listing by ids (a first walk under cache_max_mb): each page's
 * new ids get the next positions in the order they came, an id seen before
 * is skipped, positions handed out never move, the final listing adds what
 * pages did not bring in its display order, a waiter hears of each page, and
 * persons come from the resolver. */
#include <stdlib.h>

#include "check.h"
#include "growing.h"

enum { MAX_ID = 100000 };
static struct person persons[MAX_ID + 1]; /* the resolver's persons: id i at i */

static struct person *resolve(void *ctx, int64_t id)
{
	(*(int *)ctx)++;
	return id >= 1 && id <= MAX_ID ? &persons[id] : NULL;
}

static void append(struct growing *g, const int64_t *ids, size_t n)
{
	struct person **page = malloc(n * sizeof(*page));
	for (size_t i = 0; i < n; i++)
		page[i] = &persons[ids[i]];
	growing_append(g, page, n);
	free(page);
}

/* The growing's ids from position from on equal want[0..n). */
static bool holds(struct growing *g, size_t from, const int64_t *want, size_t n)
{
	struct person *out[64];
	if (n > 64 || growing_slice(g, from, 64, out) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!out[i] || out[i]->id != want[i])
			return false;
	return true;
}

static int woken;
static void ready(struct growing_waiter *w)
{
	(void)w;
	woken++;
}

static void test_pages_then_the_final_listing(void)
{
	int resolved = 0;
	struct growing *g = growing_new_by_ids(resolve, &resolved);
	struct growing_waiter w = { .ready = ready };
	CHECK(growing_wait(g, 0, &w));
	append(g, (const int64_t[]){ 50, 3, 20 }, 3);
	CHECK(woken == 1);
	append(g, (const int64_t[]){ 20, 7, 99, 3, 7 }, 5);
	bool done;
	int err;
	CHECK(growing_count(g, &done, &err) == 5 && !done);
	CHECK(holds(g, 0, (const int64_t[]){ 50, 3, 20, 7, 99 }, 5));
	CHECK(holds(g, 3, (const int64_t[]){ 7, 99 }, 2));
	struct person *p = growing_find(g, 7);
	CHECK(p && p->id == 7 && !growing_find(g, 8));
	/* the final listing: sorted ids, two of them new */
	struct listing *l = listing_new_person_ids(7);
	const int64_t final[] = { 3, 7, 20, 50, 99, 120, 121 };
	for (size_t i = 0; i < 7; i++)
		l->person_ids[i] = final[i];
	CHECK(growing_wait(g, 5, &w)); /* a reader past the pages hears of the end */
	growing_finish(g, l, 0);
	CHECK(woken == 2);
	CHECK(growing_count(g, &done, &err) == 7 && done && err == 0);
	CHECK(holds(g, 0, (const int64_t[]){ 50, 3, 20, 7, 99, 120, 121 }, 7));
	CHECK(!growing_wait(g, 7, &w)); /* done: nothing to wait for */
	CHECK(resolved > 0);
	listing_unref(l);
	growing_unref(g);
}

static void test_a_failed_walk_is_told(void)
{
	int resolved = 0;
	struct growing *g = growing_new_by_ids(resolve, &resolved);
	append(g, (const int64_t[]){ 4 }, 1);
	growing_finish(g, NULL, 5 /* EIO */);
	bool done;
	int err;
	CHECK(growing_count(g, &done, &err) == 1 && done && err == 5);
	growing_unref(g);
}

static void test_many_pages_against_a_model(void)
{
	int resolved = 0;
	struct growing *g = growing_new_by_ids(resolve, &resolved);
	static int64_t model[MAX_ID];
	static bool seen[MAX_ID + 1];
	size_t have = 0;
	int64_t page[1200], fresh[1200];
	for (int p = 0; p < 60; p++) {
		size_t n = 1 + check_random() % 1200, k = 0;
		for (size_t i = 0; i < n; i++)
			page[i] = 1 + (int64_t)(check_random() % MAX_ID);
		append(g, page, n);
		for (size_t i = 0; i < n; i++)
			if (!seen[page[i]]) {
				seen[page[i]] = true;
				fresh[k++] = page[i];
			}
		for (size_t i = 0; i < k; i++)
			model[have++] = fresh[i];
	}
	bool done;
	int err, ok = growing_count(g, &done, &err) == have;
	for (size_t from = 0; ok && from < have; from += 64)
		ok = holds(g, from, model + from, have - from < 64 ? have - from : 64);
	CHECK(ok);
	growing_unref(g);
}

/* /recent: newest first (a display order), most persons not streamed */
static void test_the_final_listing_keeps_its_display_order(void)
{
	int resolved = 0;
	struct growing *g = growing_new_by_ids(resolve, &resolved);
	append(g, (const int64_t[]){ 900, 10 }, 2);
	enum { N = 1300 };
	struct listing *l = listing_new_person_ids(N);
	l->order = malloc(N * sizeof(*l->order));
	for (size_t i = 0; i < N; i++) {
		l->person_ids[i] = (int64_t)(i + 1) * 10; /* ids 10..13000 */
		l->order[i] = N - 1 - i;                  /* shown newest (highest) first */
	}
	growing_finish(g, l, 0);
	bool done;
	int err;
	bool ok = growing_count(g, &done, &err) == N && done && err == 0;
	CHECK(ok);
	static int64_t model[N];
	size_t have = 0;
	model[have++] = 900;
	model[have++] = 10;
	for (size_t i = 0; i < N; i++) {
		int64_t id = l->person_ids[l->order[i]];
		if (id != 900 && id != 10) /* those came with the pages */
			model[have++] = id;
	}
	for (size_t from = 0; ok && from < N; from += 64)
		ok = holds(g, from, model + from, N - from < 64 ? N - from : 64);
	CHECK(ok && have == N);
	listing_unref(l);
	growing_unref(g);
}

int main(void)
{
	for (int64_t i = 0; i <= MAX_ID; i++)
		persons[i].id = i;
	test_pages_then_the_final_listing();
	test_a_failed_walk_is_told();
	test_many_pages_against_a_model();
	test_the_final_listing_keeps_its_display_order();
	return check_finish("growing");
}
