/* Unit tests for the cache's person map (personmap.h): random inserts and
 * removals checked against a plain array, runs that wrap the table's end,
 * and the light persons' smaller allocation (person.h). */
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "idtable.h"
#include "person.h"
#include "personmap.h"

enum { MAX_ID = 5000 };

static struct person *fake_person(int64_t id)
{
	struct person *p = calloc(1, sizeof(*p));
	if (p)
		p->id = id;
	return p;
}

static void count_one(struct person *p, void *ctx)
{
	(void)p;
	(*(size_t *)ctx)++;
}

static void free_fake(struct person *p) { free(p); }

/* Every id the reference holds is found at a slot holding it; no other is. */
static bool agrees(const struct personmap *m, struct person *const *ref)
{
	size_t held = 0, seen = 0;
	for (int64_t id = 1; id <= MAX_ID; id++) {
		struct person **at = personmap_find(m, id);
		if (ref[id]) {
			held++;
			if (!at || *at != ref[id])
				return false;
		} else if (at) {
			return false;
		}
	}
	personmap_each(m, count_one, &seen);
	return held == m->count && seen == held;
}

static void test_random_against_array(void)
{
	static struct person *ref[MAX_ID + 1];
	struct personmap m;
	CHECK(personmap_init(&m));
	srand(7);
	bool all_agreed = true;
	for (int step = 0; step < 60000; step++) {
		int64_t id = 1 + rand() % MAX_ID;
		if (rand() % 3) {
			if (!ref[id]) {
				struct person *p = fake_person(id);
				CHECK(p && personmap_insert(&m, p));
				ref[id] = p;
			}
		} else {
			struct person *gone = personmap_remove(&m, id);
			if (gone != ref[id])
				all_agreed = false;
			free(gone);
			ref[id] = NULL;
		}
		if (step % 5000 == 0 && !agrees(&m, ref))
			all_agreed = false;
	}
	CHECK(all_agreed);
	CHECK(agrees(&m, ref));
	CHECK(m.count * 4 <= m.nslots * 3); /* never more than 3/4 full */
	/* Storing another person of the same id through the found slot. */
	for (int64_t id = 1; id <= MAX_ID; id++)
		if (ref[id]) {
			struct person **at = personmap_find(&m, id);
			struct person *twin = fake_person(id);
			CHECK(at && twin);
			free(*at);
			*at = ref[id] = twin;
			break;
		}
	CHECK(agrees(&m, ref));
	personmap_destroy(&m, free_fake);
	CHECK(m.count == 0 && personmap_find(&m, 1) == NULL);
}

/* Ids that share a home slot near the table's end: removal must move the
 * wrapped members of the run back, or they are lost. */
static void test_runs_that_wrap(void)
{
	struct personmap m;
	CHECK(personmap_init(&m));
	struct person *ps[64];
	size_t n = 0;
	/* Collect ids whose home is one of the last two slots of 256. */
	for (int64_t id = 1; n < 40 && id < 10000000; id++) {
		if ((idtable_mix((uint64_t)id) & 255) >= 254)
			ps[n++] = fake_person(id);
	}
	CHECK(n == 40);
	for (size_t i = 0; i < n; i++)
		CHECK(ps[i] && personmap_insert(&m, ps[i]));
	CHECK(m.nslots == 256);
	for (size_t i = 0; i < n; i += 2)
		CHECK(personmap_remove(&m, ps[i]->id) == ps[i]);
	for (size_t i = 0; i < n; i++) {
		struct person **at = personmap_find(&m, ps[i]->id);
		CHECK(i % 2 ? at && *at == ps[i] : at == NULL);
	}
	for (size_t i = 0; i < n; i += 2)
		free(ps[i]);
	personmap_destroy(&m, free_fake);
}

/* A light person is allocated without the fields only full persons use,
 * and keeps everything the tree needs. */
static void test_light_person(void)
{
	const char *json = "{\"id\":42,\"name\":\"Ada Lovelace\",\"owner_id\":7,"
			   "\"update_time\":\"2024-01-02T03:04:05Z\"}";
	struct person_render r = { .version = VCARD_V30, .company = "acme", .app_url = "" };
	struct person_style *style = person_style_new(&r);
	int err = 0;
	struct person *full = style ? person_from_text(json, strlen(json), style, &err) : NULL;
	CHECK(full != NULL);
	if (!full) {
		person_style_unref(style);
		return;
	}
	person_set_digest(full);
	struct person *light = person_light(full);
	CHECK(light && person_is_light(light));
	CHECK(person_mem_bytes(light) == PERSON_LIGHT_SIZE + light->base_len + 1);
	CHECK(PERSON_LIGHT_SIZE < sizeof(struct person));
	CHECK(light->id == 42 && light->owner_id == 7 && light->vcf_len == full->vcf_len &&
	      light->json_len == full->json_len && light->digest == full->digest);
	CHECK_BYTES(light->base, light->base_len, "Ada Lovelace (42)");
	CHECK(person_same(light, full));
	struct strbuf out = STRBUF_INIT;
	CHECK(person_vcf(light, &out) == -EIO && person_vcf_slice(light, 0, 10, &out) == -EIO);
	CHECK(person_rebuild(light, &err) == NULL && err == -EINVAL);
	sb_free(&out);
	person_unref(light);
	person_unref(full);
	person_style_unref(style);
}

int main(void)
{
	test_random_against_array();
	test_runs_that_wrap();
	test_light_person();
	return check_finish("personmap");
}
