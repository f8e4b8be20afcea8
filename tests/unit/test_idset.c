/* idset: membership and counts agree with a plain sorted array whatever the
 * order ids come in (clustered, dense past a block's array limit, scattered
 * across blocks, repeated), and dense ids cost far less than 8 bytes each. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "idset.h"

/* The model: a plain open-addressing table of 2^18 slots (0: empty). */
#define MODEL_SLOTS (1u << 18)

static bool model_find(const int64_t *slots, int64_t id, size_t *at)
{
	size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15u >> 46);
	while (slots[i] && slots[i] != id)
		i = (i + 1) % MODEL_SLOTS;
	*at = i;
	return slots[i] == id;
}

/* Add n ids drawn by pick, checking every answer against the model. */
static void differential(int64_t (*pick)(void), size_t n)
{
	struct idset s = IDSET_INIT;
	int64_t *slots = calloc(MODEL_SLOTS, sizeof(*slots));
	int64_t *added = malloc(n * sizeof(*added));
	size_t have = 0, at;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		int64_t id = pick();
		bool was = model_find(slots, id, &at);
		ok = idset_has(&s, id) == was && idset_add(&s, id) == (was ? 0 : 1);
		if (!was)
			slots[at] = added[have++] = id;
		ok = ok && idset_has(&s, id) && idset_count(&s) == have;
	}
	CHECK(ok);
	for (size_t i = 0; i < 20000 && ok; i++) {
		int64_t probe = pick();
		ok = idset_has(&s, probe) == model_find(slots, probe, &at);
	}
	CHECK(ok);
	qsort(added, have, sizeof(*added), check_cmp_int64);
	for (size_t i = 0; i < have && ok; i++)
		ok = idset_has(&s, added[i]) && !(i && added[i] == added[i - 1]);
	CHECK(ok);
	idset_clear(&s);
	CHECK(idset_count(&s) == 0 && !idset_has(&s, added[0]) && idset_bytes(&s) == 0);
	free(added);
	free(slots);
}

static int64_t clustered(void) /* a company's ids: one range, some gaps */
{
	return 1000000 + (int64_t)(check_random() % 300000);
}

static int64_t one_block(void) /* past 4,096 in one block: array -> bitmap */
{
	return (7 << 16) + (int64_t)(check_random() % 9000);
}

static int64_t scattered(void) /* many blocks, a few ids each */
{
	return 1 + (int64_t)(check_random() % (UINT64_C(1) << 40));
}

static int64_t edges(void) /* block borders and the extremes */
{
	static const int64_t v[] = { 1, 2, 65535, 65536, 65537, 131071, INT64_MAX,
				     INT64_MAX - 1, (int64_t)1 << 53 };
	return v[check_random() % (sizeof(v) / sizeof(v[0]))];
}

static void test_agrees_with_a_sorted_array(void)
{
	differential(clustered, 60000);
	differential(one_block, 20000);
	differential(scattered, 3000);
	differential(edges, 100);
}

static void test_bad_ids_are_refused(void)
{
	struct idset s = IDSET_INIT;
	CHECK(idset_add(&s, 0) == -EINVAL && idset_add(&s, -5) == -EINVAL);
	CHECK(idset_count(&s) == 0 && !idset_has(&s, 0) && !idset_has(&s, -5));
	idset_clear(&s);
}

static void test_dense_ids_cost_little(void)
{
	struct idset s = IDSET_INIT;
	for (int64_t id = 1; id <= 1000000; id += 1 + (id % 3 == 0)) /* 2 in 3 */
		idset_add(&s, id);
	double per_id = (double)idset_bytes(&s) / (double)idset_count(&s);
	CHECK(idset_count(&s) == 666667 && per_id < 0.25);
	idset_clear(&s);
	/* sparse but near: one id in 40, each block an array (of 1,638 in
	 * 2,048 slots) */
	for (int64_t id = 40; id <= 4000000; id += 40)
		idset_add(&s, id);
	per_id = (double)idset_bytes(&s) / (double)idset_count(&s);
	CHECK(idset_count(&s) == 100000 && per_id <= 2.6);
	idset_clear(&s);
}

int main(void)
{
	test_agrees_with_a_sorted_array();
	test_bad_ids_are_refused();
	test_dense_ids_cost_little();
	return check_finish("idset");
}
