/* The person names meta may forget (cache_max_mb): a name stored or found
 * for a walk is held until the walk lets go, stays while any walk holds it,
 * leaves meta when the last one lets go (a card that pinned it keeps its
 * text), holds stay with the id when a newer name replaces the entry, a name
 * learnt for good is never forgotten, and a card rendered after that gets
 * it from the person name source. */
#include <stdlib.h>

#include "check.h"
#include "meta.h"

static int source_calls;

static int source(void *ctx, int64_t id, char **out, size_t *len)
{
	(void)ctx;
	source_calls++;
	if (id == 13)
		return -1; /* out of memory */
	if (id != 7)
		return 0;
	*out = strdup("Seven From Disk");
	*len = strlen(*out);
	return 1;
}

static bool knows(struct meta *m, int64_t id)
{
	char buf[64];
	return meta_name(m, META_PERSON, id, META_ANY_AGE, buf, sizeof(buf)) == META_NAME_KNOWN;
}

static void test_held_names_leave_when_the_last_walk_lets_go(void)
{
	struct meta *m = meta_new();
	struct meta_name *a = meta_name_store_held(m, META_PERSON, 7, "Seven", 5, 1.0);
	struct meta_name *b = meta_name_hold(m, META_PERSON, 7);
	CHECK(a && b && a == b && knows(m, 7) && meta_person_names(m) == 1);
	struct meta_ref ref = { META_PERSON, 7 };
	struct meta_name *pinned;
	meta_names_pin(m, &ref, 1, &pinned); /* a card rendered with it */
	meta_name_release(m, META_PERSON, 7, a);
	CHECK(knows(m, 7)); /* the other walk still holds it */
	meta_name_release(m, META_PERSON, 7, b);
	CHECK(!knows(m, 7) && meta_person_names(m) == 0);
	CHECK(pinned && strcmp(meta_name_text(pinned), "Seven") == 0); /* the card's own */
	meta_name_unref(pinned);
	CHECK(!meta_name_hold(m, META_PERSON, 7));
	meta_free(m);
}

static void test_names_learnt_for_good_stay(void)
{
	struct meta *m = meta_new();
	meta_name_store(m, META_PERSON, 8, "Eight", 1.0); /* from an ids= answer */
	struct meta_name *n = meta_name_store_held(m, META_PERSON, 8, "Eight", 5, 2.0);
	meta_name_release(m, META_PERSON, 8, n);
	CHECK(knows(m, 8));
	/* a new name replaces the entry: the held old one goes without harm */
	struct meta_name *old = meta_name_store_held(m, META_PERSON, 9, "Nine", 4, 1.0);
	meta_name_store(m, META_PERSON, 9, "Nine Renamed", 2.0);
	meta_name_release(m, META_PERSON, 9, old);
	CHECK(knows(m, 9) && meta_person_names(m) == 2);
	meta_free(m);
}

/* Two pages hold person 5; the second stores a newer name (the store's):
 * it takes over the first page's hold, so the name stays until both let go. */
static void test_holds_belong_to_the_id(void)
{
	struct meta *m = meta_new();
	struct meta_name *first = meta_name_store_held(m, META_PERSON, 5, "Five", 4, 1.0);
	struct meta_name *second = meta_name_store_held(m, META_PERSON, 5, "Five Renamed", 12, 2.0);
	CHECK(first && second && first != second);
	meta_name_release(m, META_PERSON, 5, second);
	char buf[32];
	CHECK(meta_name(m, META_PERSON, 5, META_ANY_AGE, buf, sizeof(buf)) == META_NAME_KNOWN &&
	      strcmp(buf, "Five Renamed") == 0); /* the first page still needs a name */
	meta_name_release(m, META_PERSON, 5, first);
	CHECK(!knows(m, 5));
	/* a name learnt for good stays so when a held store renames it */
	meta_name_store(m, META_PERSON, 6, "Six", 1.0);
	struct meta_name *held = meta_name_store_held(m, META_PERSON, 6, "Six Renamed", 11, 2.0);
	meta_name_release(m, META_PERSON, 6, held);
	CHECK(knows(m, 6));
	meta_free(m);
}

static void test_a_forgotten_name_comes_from_the_source(void)
{
	struct meta *m = meta_new();
	struct meta_ref refs[] = { { META_PERSON, 7 }, { META_PERSON, 5 }, { META_ORG, 7 } };
	struct meta_name *out[3];
	CHECK(meta_names_pin(m, refs, 3, out));
	CHECK(!out[0] && !out[1] && !out[2] && source_calls == 0); /* no source: none */
	meta_set_person_name_source(m, source, NULL);
	CHECK(meta_names_pin(m, refs, 3, out));
	CHECK(out[0] && strcmp(meta_name_text(out[0]), "Seven From Disk") == 0);
	CHECK(!out[1] && !out[2] && source_calls == 2); /* persons only */
	CHECK(meta_person_names(m) == 0); /* what the source gave is the card's alone */
	meta_name_unref(out[0]);
	struct meta_ref short_of_memory = { META_PERSON, 13 };
	CHECK(!meta_names_pin(m, &short_of_memory, 1, out) && !out[0]);
	meta_free(m);
}

int main(void)
{
	test_held_names_leave_when_the_last_walk_lets_go();
	test_names_learnt_for_good_stay();
	test_holds_belong_to_the_id();
	test_a_forgotten_name_comes_from_the_source();
	return check_finish("meta_names");
}
