/* The store's blob layouts and the checks on what it reads back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_codec.h"

/* Decode a whole blob of ids: 0 or -EINVAL. */
static int decode_all(const unsigned char *blob, size_t n, int64_t *out)
{
	int64_t prev = 0;
	return store_decode_ids_to(blob, n, &prev, out);
}

static void test_ids_round_trip(void)
{
	int64_t ids[] = { 1, 7, 1234567890123, INT64_C(9007199254740991) }, back[4];
	unsigned char blob[4 * STORE_ID_BYTES];
	store_encode_ids_to(blob, ids, 4);
	CHECK(blob[0] == 1 && blob[8] == 7 && blob[15] == 0); /* little-endian */
	CHECK(decode_all(blob, 4, back) == 0 && memcmp(back, ids, sizeof(ids)) == 0);
	/* In pieces: the order is checked across them. */
	int64_t prev = 0;
	CHECK(store_decode_ids_to(blob, 2, &prev, back) == 0 && prev == 7);
	CHECK(store_decode_ids_to(blob + 2 * STORE_ID_BYTES, 2, &prev, back + 2) == 0);
	CHECK(memcmp(back, ids, sizeof(ids)) == 0);
	prev = 100;
	CHECK(store_decode_ids_to(blob, 2, &prev, back) == -EINVAL); /* 1 after 100 */
	CHECK(decode_all(blob, 0, back) == 0);
}

static void test_ids_rejected(void)
{
	int64_t back[2];
	unsigned char blob[2 * STORE_ID_BYTES];
	const int64_t cases[][2] = { { 5, 3 }, { 3, 3 }, { 0, 1 }, { -4, 1 },
				     { INT64_C(9007199254740992), INT64_C(9007199254740993) } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_encode_ids_to(blob, cases[i], 2);
		CHECK(decode_all(blob, 2, back) == -EINVAL);
	}
}

static void test_names(void)
{
	char *names[] = { "Jane Doe", NULL, "Acme, Inc.; EMEA", "Rocket \xF0\x9F\x9A\x80" };
	struct strbuf b = STRBUF_INIT;
	store_encode_names(&b, names, 4);
	char **back = NULL;
	CHECK(store_decode_names(b.data, b.len, 4, &back) == 0);
	CHECK(back && strcmp(back[0], "Jane Doe") == 0 && back[1] == NULL &&
	      strcmp(back[2], names[2]) == 0 && strcmp(back[3], names[3]) == 0);
	store_free_names(back, 4);
	CHECK(store_decode_names(b.data, b.len, 3, &back) == -EINVAL); /* trailing bytes */
	CHECK(store_decode_names(b.data, b.len, 5, &back) == -EINVAL); /* too few */
	CHECK(store_decode_names(b.data, b.len - 1, 4, &back) == -EINVAL); /* no final NUL */
	sb_free(&b);
	static const char slash[] = "a/b\0", ctrl[] = "a\x01" "b\0", bad_utf8[] = "a\xC3\0";
	CHECK(store_decode_names(slash, sizeof(slash) - 1, 1, &back) == -EINVAL);
	CHECK(store_decode_names(ctrl, sizeof(ctrl) - 1, 1, &back) == -EINVAL);
	CHECK(store_decode_names(bad_utf8, sizeof(bad_utf8) - 1, 1, &back) == -EINVAL);
}

static struct store_person_row good_row(void)
{
	static const char json[] = "{\"id\":42,\"name\":\"Ann Lee\"}";
	static const char vcf[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n";
	struct store_person_row r = {
		.id = 42, .owner_id = 7, .org_id = 0, .update_time = 1700000000,
		.base = "Ann Lee (42)", .base_len = 12, .json = json, .json_len = sizeof(json) - 1,
		.pretty_len = sizeof(json) + 10, .vcf = vcf, .vcf_len = sizeof(vcf) - 1,
	};
	return r;
}

static void test_person_rows(void)
{
	const char *why;
	struct store_person_row r = good_row();
	CHECK(store_check_person_row(&r, &why) == 0 && why == NULL);
	r.id = 0;
	CHECK(store_check_person_row(&r, &why) == -EINVAL && why);
	r = good_row();
	r.owner_id = -1;
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.base = "Ann Lee (43)"; /* another id */
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.base = "  (42)";
	r.base_len = 6; /* a name of one space is still a name */
	CHECK(store_check_person_row(&r, NULL) == 0);
	r.base = " (42)";
	r.base_len = 5; /* no name at all */
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.base = "A/B (42)";
	r.base_len = 8;
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.base = ".x (42)";
	r.base_len = 7;
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.json_len = 5; /* cut */
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.pretty_len = 3;
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
	r = good_row();
	r.vcf_len -= 2;
	CHECK(store_check_person_row(&r, NULL) == -EINVAL);
}

static void test_sync_times(void)
{
	CHECK(store_check_sync_time("", 0));
	CHECK(store_check_sync_time("2026-11-28T08:25:50Z", 20));
	CHECK(!store_check_sync_time("2026-11-28T08:25:50", 19));
	CHECK(!store_check_sync_time("2026-13-28T08:25:50Z", 20));
	CHECK(!store_check_sync_time("2026-11-28 08:25:50Z", 20));
	CHECK(!store_check_sync_time("2026-11-28T24:25:50Z", 20));
	CHECK(!store_check_sync_time("x026-11-28T08:25:50Z", 20));
}

int main(void)
{
	test_ids_round_trip();
	test_ids_rejected();
	test_names();
	test_person_rows();
	test_sync_times();
	return check_finish("store_codec");
}
