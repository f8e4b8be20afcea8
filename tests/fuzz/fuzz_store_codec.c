/*
 * fuzz_store_codec.c - the store's checks on what it reads back, on any
 * bytes: a scribbled-on database reaches exactly these functions.
 *
 * The first byte picks what the rest is taken as:
 *   0  an ids blob (count = its length / 8, then count - 1 and count + 1)
 *   1  a names blob (count from the second byte)
 *   2  a person row (fields cut from the input at fixed points)
 *   3  a sync time
 * Contracts: no crash or leak; what decodes re-encodes to the same bytes;
 * decoded ids are strictly ascending and in range; decoded names are clean
 * (valid UTF-8, no "/", no control characters, at most 255 bytes).
 */
#include <errno.h>

#include "fuzz_common.h"
#include "names.h"
#include "store_codec.h"
#include "strbuf.h"

static void ids_case(const uint8_t *d, size_t n)
{
	size_t count = n / 8;
	int64_t *ids = malloc((count ? count : 1) * sizeof(*ids));
	unsigned char *again = malloc(count * 8 + 1);
	FUZZ_CHECK(ids && again, "out of memory");
	/* whole, then in two pieces: the same verdict */
	int64_t prev = 0;
	int rc = store_decode_ids_to(d, count, &prev, ids);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "rc %d", rc);
	int64_t prev2 = 0;
	size_t half = count / 2;
	int rc2 = store_decode_ids_to(d, half, &prev2, ids);
	if (rc2 == 0)
		rc2 = store_decode_ids_to(d + half * 8, count - half, &prev2, ids + half);
	FUZZ_CHECK(rc == rc2 && (rc || prev == prev2), "pieces disagree with the whole");
	if (rc == 0) {
		for (size_t i = 0; i < count; i++)
			FUZZ_CHECK(ids[i] >= 1 && ids[i] <= NAMES_MAX_ID && (i == 0 || ids[i] > ids[i - 1]),
				   "id %zu out of order or range", i);
		store_encode_ids_to(again, ids, count);
		FUZZ_CHECK(count == 0 || memcmp(again, d, count * 8) == 0,
			   "ids do not re-encode to the same bytes");
	}
	free(again);
	free(ids);
}

static void names_case(const uint8_t *d, size_t n)
{
	if (n < 1)
		return;
	size_t count = d[0];
	char **names = NULL;
	int rc = store_decode_names(d + 1, n - 1, count, &names);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "rc %d", rc);
	if (rc != 0) {
		FUZZ_CHECK(names == NULL, "names left on failure");
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (!names[i])
			continue;
		size_t len = strlen(names[i]);
		FUZZ_CHECK(len > 0 && len <= 255, "name length %zu", len);
		const unsigned char *s = (const unsigned char *)names[i];
		for (size_t k = 0; k < len;) {
			size_t sub;
			size_t seq = ref_utf8_seq(s + k, len - k, &sub);
			FUZZ_CHECK(seq > 0, "ill-formed UTF-8 accepted");
			FUZZ_CHECK(s[k] >= 0x20 && s[k] != 0x7f && s[k] != '/', "byte %02x accepted", s[k]);
			k += seq;
		}
	}
	struct strbuf b = STRBUF_INIT;
	store_encode_names(&b, names, count);
	FUZZ_CHECK(!sb_failed(&b) && b.len == n - 1 && (b.len == 0 || memcmp(b.data, d + 1, b.len) == 0),
		   "names do not re-encode to the same bytes");
	sb_free(&b);
	store_free_names(names, count);
}

static void person_case(const uint8_t *d, size_t n)
{
	if (n < 16)
		return;
	struct store_person_row r;
	memset(&r, 0, sizeof(r));
	memcpy(&r.id, d, 8);
	memcpy(&r.owner_id, d + 8, 8);
	r.org_id = (int64_t)d[0] - 3;
	r.update_time = (int64_t)d[1] - 10;
	const char *rest = (const char *)d + 16;
	size_t left = n - 16;
	size_t a = left / 3, b = left / 3;
	r.base = rest;
	r.base_len = a;
	r.json = rest + a;
	r.json_len = b;
	r.vcf = rest + a + b;
	r.vcf_len = left - a - b;
	r.pretty_len = b + d[2];
	const char *why = NULL;
	int rc = store_check_person_row(&r, &why);
	FUZZ_CHECK((rc == 0 && !why) || (rc == -EINVAL && why), "rc %d why %s", rc, why ? why : "-");
	if (rc == 0)
		FUZZ_CHECK(r.id >= 1 && r.base_len > 0 && r.json[0] == '{', "accepted a bad row");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0:
		ids_case(d, n);
		break;
	case 1:
		names_case(d, n);
		break;
	case 2:
		person_case(d, n);
		break;
	default:
		(void)store_check_sync_time((const char *)d, n);
		break;
	}
	return 0;
}
