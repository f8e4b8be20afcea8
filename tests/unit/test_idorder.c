/* idorder: what goes in comes out at the same positions and in the same
 * order, batch by batch, across run borders, whatever the ids' spread and
 * order; a bad batch is refused and leaves the order as it was; a company's
 * ids take a few bytes each. */
#include <stdlib.h>

#include "check.h"
#include "idorder.h"

/* Batches of random sizes (0 to 1,500: one to three runs) of ids below
 * spread; every position read back alone and in slices. */
static void round_trip(uint64_t spread, size_t total)
{
	struct idorder o = IDORDER_INIT;
	int64_t *model = malloc(total * sizeof(*model));
	size_t have = 0;
	bool ok = true;
	while (have < total && ok) {
		size_t n = check_random() % 1501;
		if (n > total - have)
			n = total - have;
		int64_t *batch = model + have;
		for (size_t i = 0; i < n; i++)
			batch[i] = 1 + (int64_t)(check_random() % spread);
		if (check_random() % 3 == 0) /* some batches in order, some not */
			qsort(batch, n, sizeof(*batch), check_cmp_int64);
		ok = idorder_append(&o, batch, n);
		have += n;
		ok = ok && idorder_count(&o) == have;
	}
	CHECK(ok);
	int64_t one;
	for (size_t i = 0; i < have && ok; i++)
		ok = idorder_get(&o, i, 1, &one) == 1 && one == model[i];
	CHECK(ok);
	int64_t slice[700];
	for (size_t from = 0; from < have && ok; from += 1 + check_random() % 900) {
		size_t want = check_random() % 700;
		size_t expect = have - from < want ? have - from : want;
		size_t got = idorder_get(&o, from, want, slice);
		ok = got == expect;
		for (size_t i = 0; i < got && ok; i++)
			ok = slice[i] == model[from + i];
	}
	CHECK(ok);
	CHECK(idorder_get(&o, have, 10, slice) == 0 && idorder_get(&o, 0, 0, slice) == 0);
	idorder_clear(&o);
	CHECK(idorder_count(&o) == 0 && idorder_bytes(&o) == 0);
	free(model);
}

static void test_positions_come_back(void)
{
	round_trip(2000000, 100000);                /* a company: near ids */
	round_trip(UINT64_C(1) << 53, 20000);       /* the whole id range */
	round_trip(3, 50);                          /* tiny batches */
}

static void test_bad_batches_change_nothing(void)
{
	struct idorder o = IDORDER_INIT;
	int64_t good[] = { 5, 9, 2, INT64_MAX, 1 }, zero[] = { 4, 0 }, negative[] = { -4 };
	CHECK(idorder_append(&o, good, 5));
	CHECK(!idorder_append(&o, zero, 2) && !idorder_append(&o, negative, 1));
	int64_t back[8];
	CHECK(idorder_count(&o) == 5 && idorder_get(&o, 0, 8, back) == 5);
	CHECK(back[0] == 5 && back[2] == 2 && back[3] == INT64_MAX && back[4] == 1);
	CHECK(idorder_append(&o, NULL, 0) && idorder_count(&o) == 5);
	idorder_clear(&o);
}

static void test_a_company_costs_a_few_bytes_per_id(void)
{
	struct idorder o = IDORDER_INIT;
	int64_t page[500];
	for (size_t p = 0; p < 400; p++) { /* pages of persons from all over 1..10^6 */
		for (size_t i = 0; i < 500; i++)
			page[i] = 1 + (int64_t)((p * 500 + i) * 7919 % 1000003); /* distinct */
		CHECK(idorder_append(&o, page, 500));
	}
	CHECK(idorder_count(&o) == 200000);
	CHECK(o.len < 3.2 * 200000); /* bytes written: 8 as int64 */
	CHECK(idorder_bytes(&o) < 8 * 200000); /* reserved too */
	idorder_clear(&o);
	bool ok = true;
	for (int64_t id = 1000; id < 201000; id++) /* one by one, in order: a byte each */
		ok = ok && idorder_append(&o, &id, 1);
	CHECK(ok && o.len < 1.01 * 200000 && idorder_bytes(&o) < 4 * 200000);
	int64_t slice[3];
	CHECK(idorder_get(&o, 199997, 3, slice) == 3 && slice[0] == 200997 && slice[2] == 200999);
	idorder_clear(&o);
}

int main(void)
{
	test_positions_come_back();
	test_bad_batches_change_nothing();
	test_a_company_costs_a_few_bytes_per_id();
	return check_finish("idorder");
}
