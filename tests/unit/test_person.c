/* The person model: update times, file names, sizes, the kept JSON text,
 * the card rendered again on read with the names it was built with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "meta.h"
#include "person.h"

static void test_parse_time(void)
{
	CHECK(person_parse_time("2021-01-01T00:00:00Z") == 1609459200);
	CHECK(person_parse_time("2021-01-01 00:00:00") == 1609459200);      /* v1 form */
	CHECK(person_parse_time("2021-01-01T00:00:00.123Z") == 1609459200);
	CHECK(person_parse_time("2021-01-01T02:00:00+02:00") == 1609459200);
	CHECK(person_parse_time("2021-01-01T02:00:00+0200") == 1609459200);
	CHECK(person_parse_time("2020-12-31T23:00:00-01:00") == 1609459200);
	/* malformed: no time at all, never a read past the end */
	CHECK(person_parse_time("2021-01-01T00:00:00+") == 0);
	CHECK(person_parse_time("2021-01-01T00:00:00+0") == 0);
	CHECK(person_parse_time("2021-01-01T00:00:00+02:") == 0);
	CHECK(person_parse_time("2021-13-01T00:00:00Z") == 0);
	CHECK(person_parse_time("2021-01-01") == 0);
	CHECK(person_parse_time("") == 0);
	CHECK(person_parse_time(NULL) == 0);
	/* a length, not a NUL, ends the text */
	CHECK(person_parse_time_n("2021-01-01T02:00:00+02:00", 19) == 1609466400);
	CHECK(person_parse_time_n("2021-01-01T02:00:00+02:00", 22) == 0);
}

/* A style for r (the test frees it with person_style_unref). */
static struct person_style *style_of(const struct person_render *r)
{
	struct person_style *s = person_style_new(r);
	CHECK(s != NULL);
	return s;
}

static char *vcf_of(const struct person *p)
{
	struct strbuf sb = STRBUF_INIT;
	CHECK(person_vcf(p, &sb) == 0 && sb.len == p->vcf_len);
	return sb_detach(&sb, NULL);
}

static void test_from_text(void)
{
	struct meta *m = meta_new();
	meta_name_store(m, META_ORG, 5, "Org, Inc.", 1.0);
	const struct person_render r = { .version = VCARD_V30, .company = "acme", .meta = m };
	struct person_style *rs = style_of(&r);
	/* Text as a server might send it: spaces, escapes a re-serialiser would rewrite. */
	const char *raw = "{ \"id\": 7, \"name\": \"A\\/B \\u00e9\", \"owner_id\": 3, \"org_id\": 5,"
			  " \"update_time\": \"2021-01-01T00:00:00Z\", \"n\": 1.50 }";
	int err;
	struct person *p = person_from_text(raw, strlen(raw), rs, &err);
	CHECK(p && err == 0);
	if (p) {
		CHECK(p->id == 7 && p->owner_id == 3 && p->org_id == 5);
		CHECK(p->update_time == 1609459200);
		CHECK_BYTES(p->base, p->base_len, "A_B \xC3\xA9 (7)");
		size_t n;
		const char *compact = person_compact(p, &n);
		CHECK_BYTES(compact, n, raw);
		struct strbuf json = STRBUF_INIT;
		person_json(p, &json);
		CHECK(json.len == p->json_len);
		CHECK(strstr(json.data, "\"A\\/B \\u00e9\"") != NULL); /* exactly as sent */
		CHECK(strstr(json.data, "1.50") != NULL);
		sb_free(&json);
		CHECK(!p->vcf); /* not kept: rendered when read */
		char *vcf = vcf_of(p);
		CHECK(vcf && strstr(vcf, "\r\nORG:Org\\, Inc.\r\n") != NULL);
		CHECK(vcf && strstr(vcf, "\r\nFN:A/B \xC3\xA9\r\n") != NULL);

		/* The name changes in meta: the card read again is the same card
		 * (size and bytes agree); a person built now shows the new name. */
		meta_name_store(m, META_ORG, 5, "Renamed Org", 2.0);
		char *again = vcf_of(p);
		CHECK(vcf && again && strcmp(vcf, again) == 0);
		struct person *q = person_rebuild(p, &err);
		CHECK(q && err == 0);
		char *fresh = q ? vcf_of(q) : NULL;
		CHECK(fresh && strstr(fresh, "\r\nORG:Renamed Org\r\n") != NULL);
		CHECK(q && !person_same(p, q) && q->vcf_len != p->vcf_len);
		person_unref(q);
		free(vcf);
		free(again);
		free(fresh);
		person_unref(p);
	}

	/* keep_vcf: the text is kept, the same bytes */
	const struct person_render keep = { .version = VCARD_V40, .company = "acme", .meta = m,
					    .keep_vcf = true };
	const struct person_render lazy = { .version = VCARD_V40, .company = "acme", .meta = m };
	struct person_style *ks = style_of(&keep), *ls = style_of(&lazy);
	struct person *kept = person_from_text(raw, strlen(raw), ks, &err);
	struct person *rendered = person_from_text(raw, strlen(raw), ls, &err);
	CHECK(kept && rendered && kept->vcf && !rendered->vcf);
	if (kept && rendered) {
		char *a = vcf_of(kept), *b = vcf_of(rendered);
		CHECK(a && b && kept->vcf_len == rendered->vcf_len && strcmp(a, b) == 0);
		/* READs: slices of 7 bytes put together are the card, kept or not */
		for (int k = 0; k < 2; k++) {
			const struct person *q = k ? kept : rendered;
			struct strbuf all = STRBUF_INIT;
			for (size_t off = 0; off < q->vcf_len + 10; off += 7)
				CHECK(person_vcf_slice(q, off, 7, &all) == 0);
			CHECK(all.len == q->vcf_len && a && memcmp(all.data, a, all.len) == 0);
			sb_free(&all);
		}
		CHECK(person_mem_bytes(kept) == person_mem_bytes(rendered) + kept->vcf_len + 1);
		free(a);
		free(b);
	}
	person_unref(kept);
	person_unref(rendered);
	person_style_unref(ks);
	person_style_unref(ls);

	p = person_from_text("{\"id\":8,\"name\":\"\"}", 18, rs, &err);
	CHECK(p && strcmp(p->base, "Unnamed (8)") == 0);
	person_unref(p);

	CHECK(person_from_text("{\"name\":\"no id\"}", 16, rs, &err) == NULL && err == -EINVAL);
	const char *gone = "{\"id\":9,\"is_deleted\":true}";
	CHECK(person_from_text(gone, strlen(gone), rs, &err) == NULL && err == -ENOENT);
	CHECK(person_from_text("{\"id\":1,}", 9, rs, &err) == NULL && err == -EINVAL); /* strict */
	CHECK(person_from_text("[1]", 3, rs, &err) == NULL && err == -EINVAL);
	person_style_unref(rs);
	meta_free(m);
}

/* A big card is kept: reading a slice of it must not render it all. */
static void test_big_card_kept(void)
{
	const struct person_render r = { .version = VCARD_V30, .company = "acme" };
	struct person_style *rs = style_of(&r);
	struct strbuf json = STRBUF_INIT;
	sb_puts(&json, "{\"id\":3,\"notes\":\"");
	for (size_t i = 0; i < PERSON_KEEP_VCF_MIN; i++)
		sb_putc(&json, 'x');
	sb_puts(&json, "\"}");
	int err;
	struct person *p = person_from_text(json.data, json.len, rs, &err);
	CHECK(p && p->vcf && p->vcf_len > PERSON_KEEP_VCF_MIN);
	person_unref(p);
	person_style_unref(rs);
	sb_free(&json);
}

/* Same bytes, same object: person_same decides what the cache reuses. */
static void test_same(void)
{
	struct meta *m = meta_new();
	meta_name_store(m, META_ORG, 1, "One", 1.0);
	const struct person_render r = { .version = VCARD_V30, .company = "acme", .meta = m };
	struct person_style *rs = style_of(&r);
	const char *a = "{\"id\":4,\"org_id\":1}", *b = "{\"id\":4,\"org_id\":1,\"x\":0}";
	int err;
	struct person *p = person_from_text(a, strlen(a), rs, &err);
	struct person *q = person_from_text(a, strlen(a), rs, &err);
	struct person *other = person_from_text(b, strlen(b), rs, &err);
	CHECK(p && q && other && person_same(p, q) && !person_same(p, other));
	meta_name_store(m, META_ORG, 1, "Two", 2.0); /* the same length: pins decide */
	struct person *renamed = person_from_text(a, strlen(a), rs, &err);
	CHECK(renamed && renamed->vcf_len == p->vcf_len && !person_same(p, renamed));
	person_unref(p);
	person_unref(q);
	person_unref(other);
	person_unref(renamed);
	person_style_unref(rs);
	meta_free(m);
}

static void check_name(const char *json, const char *want)
{
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc d;
	CHECK(jsonscan_parse(&d, json, strlen(json), &arena, NULL) == JSONSCAN_OK);
	struct strbuf sb = STRBUF_INIT;
	bool named = person_scan_name(&d, jsonscan_root(&d), &sb);
	CHECK(named == (want != NULL));
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, want ? want : "");
	sb_free(&sb);
	arena_free(&arena);
}

static void test_scan_helpers(void)
{
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc d;
	const char *t = "{\"id\":7,\"name\":\"Ann\",\"is_deleted\":true}";
	CHECK(jsonscan_parse(&d, t, strlen(t), &arena, NULL) == JSONSCAN_OK);
	CHECK(person_scan_is_deleted(&d, 1) && person_scan_id(&d, 1) == 7);
	t = "{\"id\":\"7\",\"is_deleted\":\"true\"}";
	CHECK(jsonscan_parse(&d, t, strlen(t), &arena, NULL) == JSONSCAN_OK);
	CHECK(!person_scan_is_deleted(&d, 1) && person_scan_id(&d, 1) == 0);
	arena_free(&arena);
	check_name("{\"name\":\"Ann Lee\",\"first_name\":\"X\"}", "Ann Lee");
	check_name("{\"name\":\"\",\"first_name\":\"Ann\",\"last_name\":\"Lee\"}", "Ann Lee");
	check_name("{\"name\":null,\"last_name\":\"Madonna\"}", "Madonna");
	check_name("{\"name\":\"\",\"first_name\":\"Cher\"}", "Cher");
	check_name("{\"name\":\"\",\"first_name\":null}", NULL);
	check_name("{\"name\":\"\\u00c5sa\"}", "\xC3\x85sa");
	struct person_render r = { .version = VCARD_V30, .company = "acme" };
	struct person_style *rs = style_of(&r);
	int err;
	const char *bo = "{\"id\":9,\"first_name\":\"Bo\",\"last_name\":\"Lee\"}";
	struct person *p = person_from_text(bo, strlen(bo), rs, &err);
	struct strbuf sb = STRBUF_INIT;
	CHECK(p && person_name(p, &sb));
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, "Bo Lee");
	sb_free(&sb);
	person_unref(p);
	person_style_unref(rs);
}

int main(void)
{
	test_parse_time();
	test_from_text();
	test_big_card_kept();
	test_same();
	test_scan_helpers();
	return check_finish("person");
}
