/*
 * fuzz_person.c - bytes as a persons page, scanned as api.c scans pages
 * (jsonscan_page_parse) -> person_build for every element of "data" (or the
 * top-level value itself) -> the person's files.  json-c (strict) parses the
 * same bytes independently and is the model of what each element is.
 *
 * Checks, for pages both parsers accept: the page's elements are the
 * elements json-c sees, each with the exact text jsonfmt_array_elements (a
 * third scanner) splits off; person_build accepts exactly the objects with
 * an integer id in 1..2^53-1 (one marked "is_deleted": true is no person,
 * -ENOENT); base is "<name> (<id>)"; the kept JSON is the
 * element's text as sent; json_len is both what person_json writes and
 * jsonfmt_pretty_len of the text, and the .json file parses back (json-c)
 * to the element; the .vcf (person_vcf) is vcf_len bytes, a valid card,
 * the same on every read, and the same as the text a keep_vcf person keeps
 * (measured size = rendered bytes); when meta's names change afterwards the
 * card read again is still the same (pins), while a person built again
 * (person_rebuild) equals one built fresh; a second person from the element,
 * and one built from its own .json file (what the next listing gives),
 * carry the same bytes (person_same); refcounting frees everything.
 *
 * The render settings alternate (input length odd/even) between a bare 3.0
 * and a 4.0 with a struct meta loaded with the fake server's /personFields
 * (labels with integer and string option ids, a custom field of every type)
 * and the names of users, organizations and persons 1..40 (org_id, user,
 * org and people fields).  A page object may carry "x_fuzz_person_fields"
 * (an array of /personFields items) to load into a meta of its own instead.
 */
#include <errno.h>
#include <inttypes.h>

#include "fuzz_common.h"
#include "jsonfmt.h"
#include "jsonscan.h"
#include "meta.h"
#include "names.h"
#include "person.h"
#include "utf8.h"

/* /personFields of tests/fake_pipedrive.py: labels (their option ids mixed
 * integers and strings, as the spec allows for built-in fields) and a custom
 * field of every type. */
static const char person_fields[] =
	"[{\"field_name\":\"Labels\",\"field_code\":\"label_ids\",\"field_type\":\"set\",\"options\":[{\"id\""
	":1,\"label\":\"Customer\",\"color\":\"green\"},{\"id\":\"2\",\"label\":\"VIP\",\"color\":\"purple\"}"
	",{\"id\":3,\"label\":\"Hot, lead; now\",\"color\":\"red\"},{\"id\":\"4\",\"label\":\"Cold/Lost\",\"c"
	"olor\":\"blue\"},{\"id\":5,\"label\":\"Partner \\\"A\\\"\",\"color\":\"yellow\"},{\"id\":\"vip_key\""
	",\"label\":\"VIP (key)\"}],\"is_custom_field\":false},{\"field_name\":\"Nickname\",\"field_code\":\""
	"1c90dd6d19a280a9d414cf85185f81c8c970386e\",\"field_type\":\"varchar\",\"options\":null,\"is_custom_f"
	"ield\":true},{\"field_name\":\"Lead source\",\"field_code\":\"ba5a5c7095a4e481393d3b81847a36fe8bde5b"
	"70\",\"field_type\":\"enum\",\"options\":[{\"id\":11,\"label\":\"Inbound\"},{\"id\":12,\"label\":\"O"
	"utbound\"},{\"id\":13,\"label\":\"Referral, partner\"}],\"is_custom_field\":true},{\"field_name\":\""
	"Interests\",\"field_code\":\"756bae01237bb656d54ad844fa36f057b55a6a3b\",\"field_type\":\"set\",\"opt"
	"ions\":[{\"id\":21,\"label\":\"CRM\"},{\"id\":22,\"label\":\"Email; marketing\"},{\"id\":23,\"label\""
	":\"Reporting/BI\"}],\"is_custom_field\":true},{\"field_name\":\"Budget\",\"field_code\":\"92c4078cdc"
	"71dcba7ec5d47d2a670475b0ec8c9f\",\"field_type\":\"monetary\",\"options\":null,\"is_custom_field\":tr"
	"ue},{\"field_name\":\"Contract date\",\"field_code\":\"72efaeec5aa1f2be579cf0ed90a41e7adbfc9afc\",\""
	"field_type\":\"date\",\"options\":null,\"is_custom_field\":true},{\"field_name\":\"Industry tag\",\""
	"field_code\":\"55916ebd8bb4864fff75615be25e93a56c7f7bc5\",\"field_type\":\"varchar_auto\",\"options\""
	":null,\"is_custom_field\":true},{\"field_name\":\"Background\",\"field_code\":\"3f18fdeea531cfdd8aad"
	"9a9867cf9269a0986c6b\",\"field_type\":\"text\",\"options\":null,\"is_custom_field\":true},{\"field_n"
	"ame\":\"Score\",\"field_code\":\"295abcc749e451bf9fbb78cb528c92f933c1506e\",\"field_type\":\"double\""
	",\"options\":null,\"is_custom_field\":true},{\"field_name\":\"Assistant phone\",\"field_code\":\"340"
	"a78bf9f54895f9dbf511a2773b171b892290f\",\"field_type\":\"phone\",\"options\":null,\"is_custom_field\""
	":true},{\"field_name\":\"Trial period\",\"field_code\":\"f2220c77b691f358c489c3eaa6587564336a4ec5\","
	"\"field_type\":\"daterange\",\"options\":null,\"is_custom_field\":true},{\"field_name\":\"Best call "
	"time\",\"field_code\":\"c20fc85d81dd8e75f8874b463b2dcaf049a1114b\",\"field_type\":\"time\",\"options"
	"\":null,\"is_custom_field\":true},{\"field_name\":\"Office hours\",\"field_code\":\"2954f17ea428c777"
	"6ae4df443c74c1186704fa20\",\"field_type\":\"timerange\",\"options\":null,\"is_custom_field\":true},{"
	"\"field_name\":\"Account manager\",\"field_code\":\"b0dea2902f3e8f68a3cc090443becdc94784dcea\",\"fie"
	"ld_type\":\"user\",\"options\":null,\"is_custom_field\":true},{\"field_name\":\"Billing organization"
	"\",\"field_code\":\"629ff9bee690e9394f6e4b25fe8215e27c80fc3b\",\"field_type\":\"org\",\"options\":nu"
	"ll,\"is_custom_field\":true},{\"field_name\":\"Referred by\",\"field_code\":\"482a1239b3a064bc8586f4"
	"d7ae0bc0e1c2404236\",\"field_type\":\"people\",\"options\":null,\"is_custom_field\":true},{\"field_n"
	"ame\":\"Home address\",\"field_code\":\"bb84517c7bf1ec3cfd9d070bbfdfa94ff7be0877\",\"field_type\":\""
	"address\",\"options\":null,\"is_custom_field\":true}]";

/* Names the fake meta knows, so user, org and people fields resolve. */
static const char *const known_names[] = {
	"Alice Admin", "Bob M\xC3\xBCller", "Acme, Inc.; EMEA", "Line\nBreak Ltd",
	"Doe, John; \"JD\" \\ Jr.: CEO", "\xFF bad \xC3", "",
};

static bool expect_valid(struct json_object *obj)
{
	struct json_object *idv;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "id", &idv) || !json_object_is_type(idv, json_type_int))
		return false;
	int64_t id = json_object_get_int64(idv);
	return id > 0 && id <= NAMES_MAX_ID;
}

/* A deep copy with every string and key's ill-formed UTF-8 as U+FFFD. */
static struct json_object *repaired(struct json_object *v)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_object *out;
	switch (json_object_get_type(v)) {
	case json_type_string:
		utf8_sanitize(&sb, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		out = json_object_new_string_len(sb.data ? sb.data : "", (int)sb.len);
		break;
	case json_type_array:
		out = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(v); i++)
			json_object_array_add(out, repaired(json_object_array_get_idx(v, i)));
		break;
	case json_type_object:
		out = json_object_new_object();
		json_object_object_foreach(v, key, val) {
			sb_reset(&sb);
			utf8_sanitize(&sb, key, strlen(key));
			json_object_object_add(out, sb.data ? sb.data : "", repaired(val));
		}
		break;
	default:
		out = json_object_get(v);
		break;
	}
	sb_free(&sb);
	return out;
}

static char *vcf_of(const struct person *p, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = person_vcf(p, &sb);
	FUZZ_CHECK(rc == 0, "person_vcf: %d", rc);
	FUZZ_CHECK(sb.len == p->vcf_len, "vcf_len %zu but the card has %zu bytes", p->vcf_len,
		   sb.len);
	return sb_detach(&sb, len);
}

static struct meta *fake_meta;

/* The names meta knows for id 1..40 (or, renamed, others). */
static void store_names(struct meta *m, bool renamed)
{
	size_t n = sizeof(known_names) / sizeof(known_names[0]);
	for (int64_t id = 1; id <= 40; id++) {
		char other[64];
		snprintf(other, sizeof other, "Renamed %" PRId64 ", Ltd", id);
		meta_name_store(m, META_USER, id, renamed ? other : known_names[(size_t)id % n], 1.0);
		meta_name_store(m, META_ORG, id, renamed ? other : known_names[(size_t)(id + 1) % n],
				1.0);
		meta_name_store(m, META_PERSON, id,
				renamed ? other : known_names[(size_t)(id + 2) % n], 1.0);
	}
}

static void check_one(const struct jsonscan_doc *d, uint32_t token, struct json_object *obj,
		      struct person_style *style)
{
	const struct person_render *r = person_style_render(style);
	int err = 12345;
	struct person_scratch scratch;
	person_scratch_init(&scratch);
	struct person *p = person_build(d, token, style, &scratch, &err);
	if (!expect_valid(obj)) {
		FUZZ_CHECK(!p && err == -EINVAL, "invalid person: p=%p err=%d", (void *)p, err);
		person_scratch_free(&scratch);
		return;
	}
	struct json_object *deleted;
	if (json_object_object_get_ex(obj, "is_deleted", &deleted) &&
	    json_object_is_type(deleted, json_type_boolean) && json_object_get_boolean(deleted)) {
		FUZZ_CHECK(!p && err == -ENOENT, "deleted person: p=%p err=%d", (void *)p, err);
		person_scratch_free(&scratch);
		return;
	}
	FUZZ_CHECK(p && err == 0, "valid person refused: err=%d", err);

	struct json_object *idv;
	json_object_object_get_ex(obj, "id", &idv);
	FUZZ_CHECK(p->id == json_object_get_int64(idv), "id %" PRId64, p->id);

	/* base == names_person_base(name, id) and parses back. */
	struct strbuf want = STRBUF_INIT;
	struct json_object *namev;
	const char *name = NULL;
	size_t name_len = 0;
	if (json_object_object_get_ex(obj, "name", &namev) &&
	    json_object_is_type(namev, json_type_string)) {
		name = json_object_get_string(namev);
		name_len = (size_t)json_object_get_string_len(namev);
	}
	names_person_base(&want, name, name_len, p->id);
	FUZZ_CHECK(p->base_len == want.len && !memcmp(p->base, want.data, want.len),
		   "base differs from names_person_base");
	FUZZ_CHECK(strlen(p->base) == p->base_len, "NUL inside the base");
	sb_free(&want);

	/* the JSON: the element's text exactly as sent */
	size_t raw_len, compact_len;
	const char *raw = jsonscan_raw(d, token, &raw_len);
	const char *compact = person_compact(p, &compact_len);
	FUZZ_CHECK(compact_len == raw_len && !memcmp(compact, raw, raw_len) &&
			   compact[compact_len] == '\0',
		   "compact differs from the element's text");

	/* The .json file: json_len bytes on every read, parses back. */
	struct strbuf j1 = STRBUF_INIT, j2 = STRBUF_INIT;
	person_json(p, &j1);
	sb_puts(&j2, "prefix");
	person_json(p, &j2);
	FUZZ_CHECK(!sb_failed(&j1) && !sb_failed(&j2), "json buffer failed");
	FUZZ_CHECK(j1.len == p->json_len && jsonfmt_pretty_len(compact, compact_len) == p->json_len,
		   "json_len %zu but person_json gives %zu", p->json_len, j1.len);
	FUZZ_CHECK(j2.len == j1.len + 6 && !memcmp(j2.data + 6, j1.data, j1.len),
		   "second person_json differs");
	FUZZ_CHECK(j1.len > 0 && j1.data[j1.len - 1] == '\n', "json file does not end in a newline");
	FUZZ_CHECK(utf8_valid_prefix(j1.data, j1.len) == j1.len, "json file is not valid UTF-8");
	struct json_tokener *tok = json_tokener_new();
	struct json_object *back = json_tokener_parse_ex(tok, j1.data, (int)j1.len);
	json_tokener_free(tok);
	/* equal but for ill-formed UTF-8, which the file shows as U+FFFD */
	struct json_object *back_repaired = repaired(back), *obj_repaired = repaired(obj);
	bool same = back && fuzz_json_equal(back_repaired, obj_repaired);
	json_object_put(back_repaired);
	json_object_put(obj_repaired);
	if (!same) {
		fuzz_dump("compact", compact, compact_len);
		fuzz_dump("pretty", j1.data, j1.len);
		FUZZ_CHECK(0, "pretty JSON does not parse back to the element");
	}

	/* The .vcf file: measured, then rendered on read; the same as the
	 * text a keep_vcf person keeps, and the same on every read. */
	size_t vcf_len, again_len;
	char *vcf = vcf_of(p, &vcf_len);
	fuzz_check_vcard(vcf, vcf_len, r->version);
	char *again = vcf_of(p, &again_len);
	FUZZ_CHECK(again_len == vcf_len && !memcmp(again, vcf, vcf_len), "second read differs");
	free(again);
	struct person_render keep = *r;
	keep.keep_vcf = true;
	struct person_style *keep_style = person_style_new(&keep);
	struct person *k = person_build(d, token, keep_style, &scratch, &err);
	person_style_unref(keep_style);
	FUZZ_CHECK(k && k->vcf && k->vcf_len == vcf_len && !memcmp(k->vcf, vcf, vcf_len),
		   "the kept card differs from the card rendered on read");
	person_unref(k);

	/* The same element again, and the element as re-read from the .json
	 * file: same bytes, same sizes. */
	struct person *q = person_build(d, token, style, &scratch, &err);
	FUZZ_CHECK(q && err == 0 && person_same(p, q) && q->json_len == p->json_len,
		   "second person_build differs");
	person_unref(q);
	q = person_from_text(j1.data, j1.len, style, &err);
	FUZZ_CHECK(q && err == 0, "re-read person refused: %d", err);
	/* The re-read JSON holds U+FFFD where the element had ill-formed UTF-8,
	 * so keys that differed only there are one key now: not compared then. */
	bool valid_compact = utf8_valid_prefix(compact, compact_len) == compact_len;
	size_t qlen;
	char *qvcf = vcf_of(q, &qlen);
	if (valid_compact && (qlen != vcf_len || memcmp(qvcf, vcf, vcf_len) || strcmp(q->base, p->base))) {
		fuzz_dump("vcf", vcf, vcf_len);
		fuzz_dump("re-read vcf", qvcf, qlen);
		FUZZ_CHECK(0, "person built from its own .json file differs");
	}
	free(qvcf);
	person_unref(q);

	/* meta learns other names: the card read again is the card it was
	 * (pins); the person built again shows the new names, as a fresh one. */
	if (r->meta) {
		store_names(r->meta, true);
		again = vcf_of(p, &again_len);
		FUZZ_CHECK(again_len == vcf_len && !memcmp(again, vcf, vcf_len),
			   "the card changed with meta's names");
		free(again);
		q = person_rebuild(p, &err);
		k = person_build(d, token, style, &scratch, &err);
		FUZZ_CHECK(q && k && person_same(q, k), "rebuilt person differs from a fresh one");
		size_t a_len, b_len;
		char *a = vcf_of(q, &a_len), *b = vcf_of(k, &b_len);
		FUZZ_CHECK(a_len == b_len && !memcmp(a, b, a_len), "rebuilt card differs");
		free(a);
		free(b);
		person_unref(q);
		person_unref(k);
		store_names(r->meta, false);
	}
	free(vcf);
	json_object_put(back);
	sb_free(&j1);
	sb_free(&j2);
	person_scratch_free(&scratch);

	q = person_ref(p);
	person_unref(p);
	person_unref(q);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fake_meta = meta_new();
	if (!fake_meta || meta_person_fields_store_text(fake_meta, person_fields,
							sizeof(person_fields) - 1) != 0)
		abort();
	store_names(fake_meta, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (size_t)INT32_MAX)
		return 0;
	/* the model: json-c, strict, as api.c parsed pages before */
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return 0;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *page = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	/* what api.c does now: one strict scan */
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_page sp;
	enum jsonscan_status st = jsonscan_page_parse(&sp, (const char *)data, size, &arena, NULL);
	bool scanned = st == JSONSCAN_OK || st == JSONSCAN_E_NOT_OBJECT;
	/* both must read it (fuzz_jsonscan compares the two parsers) */
	if (!page || !scanned) {
		json_object_put(page);
		arena_free(&arena);
		return 0;
	}
	const struct jsonscan_doc *d = &sp.doc;

	struct meta *meta = fake_meta, *own = NULL;
	uint32_t fields = jsonscan_get(d, jsonscan_root(d), "x_fuzz_person_fields");
	if (fields && (own = meta_new())) {
		size_t n;
		const char *text = jsonscan_raw(d, fields, &n);
		if (meta_person_fields_store_text(own, text, n) == 0)
			meta = own;
		store_names(own, false);
	}
	struct person_render renders[2] = {
		{ .version = VCARD_V30, .company = "acme" },
		{ .version = VCARD_V40, .company = "\xC3\xA1" "cme co", .app_url = "https://x.example/a b/",
		  .meta = meta },
	};
	struct person_style *style = person_style_new(&renders[size % 2]);
	if (!style)
		abort();

	/* A third scanner's split of the page text into elements (any bytes). */
	const char *text = (const char *)data;
	struct jsonfmt_span spans[64];
	size_t count = jsonfmt_array_elements(text, size, "data", spans, 64);

	struct json_object *items;
	if (json_object_is_type(page, json_type_object) &&
	    json_object_object_get_ex(page, "data", &items)) {
		if (json_object_is_type(items, json_type_array)) {
			size_t n = json_object_array_length(items);
			FUZZ_CHECK(sp.count == n, "%zu elements scanned, json-c has %zu", sp.count, n);
			for (size_t i = 0; i < n && i < sp.count; i++) {
				if (count == n && i < 64)
					FUZZ_CHECK(sp.elements[i].start == spans[i].start &&
							   sp.elements[i].len == spans[i].len,
						   "element %zu at [%u,+%u), jsonfmt splits [%zu,+%zu)",
						   i, sp.elements[i].start, sp.elements[i].len,
						   spans[i].start, spans[i].len);
				check_one(d, sp.elements[i].token, json_object_array_get_idx(items, i), style);
			}
		} else {
			FUZZ_CHECK(sp.count == 0, "elements of a data that is no array");
			check_one(d, sp.data, items, style);
		}
	} else {
		check_one(d, jsonscan_root(d), page, style);
	}
	json_object_put(page);
	person_style_unref(style);
	meta_free(own);
	arena_free(&arena);
	return 0;
}
