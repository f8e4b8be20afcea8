/*
 * fuzz_person.c - bytes as a persons page -> person_from_json for every
 * element of "data" (or the top-level value itself) -> the person's files.
 *
 * Pages are also split like walker.c does (jsonfmt_array_elements on the
 * raw text) and, when the split agrees with json-c, each element is built
 * from its own text (person_from_json_text): its .json file must still parse
 * back to the element json-c parsed.
 *
 * Checks: person_from_json accepts exactly the objects with an integer id in
 * 1..2^53-1; base is "<name> (<id>)"; compact is json-c's compact text of
 * the element; person_json (the .json file) is json_len bytes every time,
 * ends in "\n" and parses back to an equal value; the .vcf (vcf, vcf_len) is
 * a valid card; a second person built from the element, and one built from
 * the .json file re-parsed (what the next listing gives), carry the same
 * bytes (person_same); refcounting frees everything.
 *
 * The render settings alternate (input length odd/even) between a bare 3.0
 * and a 4.0 with an organization name and a struct meta loaded with the fake
 * server's /personFields (labels with integer and string option ids, a
 * custom field of every type) and the names of users, organizations and
 * persons 1..40 (user, org and people fields).  A page
 * object may carry "x_fuzz_person_fields" (an array of /personFields items)
 * to load into the meta instead.
 */
#include <errno.h>
#include <inttypes.h>

#include "fuzz_common.h"
#include "jsonfmt.h"
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

static const char *org_names[] = {
	NULL, "Acme, Inc.; \\ R&D", " \r\n ", "\xC3\xA9" "cole \xFF", "",
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

/* raw: the element's text as sent (person_from_json_text, as the walker
 * does when jsonfmt_array_elements splits the page), or NULL. */
static struct person *build(struct json_object *obj, const char *raw, size_t raw_len,
			    const struct person_render *r, const char *org, int *err)
{
	return raw ? person_from_json_text(obj, raw, raw_len, r, org, err)
		   : person_from_json(obj, r, org, err);
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

static void check_one(struct json_object *obj, const char *raw, size_t raw_len,
		      const struct person_render *r, const char *org)
{
	int err = 12345;
	struct person *p = build(obj, raw, raw_len, r, org, &err);
	if (!expect_valid(obj)) {
		FUZZ_CHECK(!p && err == -EINVAL, "invalid person: p=%p err=%d", (void *)p, err);
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

	/* compact: the text as sent, or json-c's own compact text */
	size_t compact_len = raw_len;
	const char *compact = raw;
	if (!raw)
		compact = json_object_to_json_string_length(
			obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &compact_len);
	FUZZ_CHECK(p->compact_len == compact_len && !memcmp(p->compact, compact, compact_len),
		   "compact differs from %s", raw ? "the element's text" : "json-c's serialization");

	/* The .json file: json_len bytes on every read, parses back. */
	struct strbuf j1 = STRBUF_INIT, j2 = STRBUF_INIT;
	person_json(p, &j1);
	sb_puts(&j2, "prefix");
	person_json(p, &j2);
	FUZZ_CHECK(!sb_failed(&j1) && !sb_failed(&j2), "json buffer failed");
	FUZZ_CHECK(j1.len == p->json_len, "json_len %zu but person_json gives %zu",
		   p->json_len, j1.len);
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

	/* The .vcf file. */
	FUZZ_CHECK(p->vcf && p->vcf[p->vcf_len] == '\0', "vcf not NUL-terminated");
	fuzz_check_vcard(p->vcf, p->vcf_len, r->version);

	/* The same element again, and the element as re-read from the .json
	 * file: same bytes, same sizes. */
	struct person *q = build(obj, raw, raw_len, r, org, &err);
	FUZZ_CHECK(q && err == 0 && person_same(p, q) && q->json_len == p->json_len,
		   "second person_from_json differs");
	person_unref(q);
	q = person_from_json(back, r, org, &err);
	FUZZ_CHECK(q && err == 0, "re-read person refused: %d", err);
	/* (with raw text the JSON bytes differ - json-c re-serialises.  The
	 * re-read JSON holds U+FFFD where the element had ill-formed UTF-8, so
	 * keys that differed only there are one key now: not compared then) */
	bool valid_compact = utf8_valid_prefix(p->compact, p->compact_len) == p->compact_len;
	bool same_vcf = q->vcf_len == p->vcf_len && !memcmp(q->vcf, p->vcf, p->vcf_len);
	bool same_json = raw || (person_same(p, q) && q->json_len == p->json_len);
	if (valid_compact && (!same_vcf || !same_json || strcmp(q->base, p->base))) {
		fuzz_dump("vcf", p->vcf, p->vcf_len);
		fuzz_dump("re-read vcf", q->vcf, q->vcf_len);
		FUZZ_CHECK(0, "person built from its own .json file differs");
	}
	person_unref(q);
	json_object_put(back);
	sb_free(&j1);
	sb_free(&j2);

	q = person_ref(p);
	person_unref(p);
	person_unref(q);
}

static struct meta *fake_meta;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct json_object *items = json_tokener_parse(person_fields);
	fake_meta = meta_new();
	if (!items || !fake_meta)
		abort();
	meta_person_fields_store(fake_meta, items);
	size_t n = sizeof(known_names) / sizeof(known_names[0]);
	for (int64_t id = 1; id <= 40; id++) {
		meta_name_store(fake_meta, META_USER, id, known_names[(size_t)id % n], 1.0);
		meta_name_store(fake_meta, META_ORG, id, known_names[(size_t)(id + 1) % n], 1.0);
		meta_name_store(fake_meta, META_PERSON, id, known_names[(size_t)(id + 2) % n], 1.0);
	}
	json_object_put(items);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (size_t)INT32_MAX)
		return 0;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return 0;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* as api.c parses pages */
	struct json_object *page = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!page)
		return 0;

	struct meta *meta = fake_meta, *own = NULL;
	struct json_object *fields;
	if (json_object_is_type(page, json_type_object) &&
	    json_object_object_get_ex(page, "x_fuzz_person_fields", &fields)) {
		own = meta_new();
		if (own) {
			meta_person_fields_store(own, fields);
			meta = own;
		}
	}
	struct person_render renders[2] = {
		{ .version = VCARD_V30, .company = "acme" },
		{ .version = VCARD_V40, .company = "\xC3\xA1" "cme co", .app_url = "https://x.example/a b/",
		  .meta = meta },
	};
	const struct person_render *r = &renders[size % 2];
	const char *org = size % 2 ? org_names[size % 5] : NULL;

	/* The walker's split of the page text into elements (any bytes). */
	const char *text = (const char *)data;
	struct jsonfmt_span spans[64];
	size_t count = jsonfmt_array_elements(text, size, "data", spans, 64);
	if (count != SIZE_MAX) {
		size_t prev_end = 0;
		for (size_t i = 0; i < count && i < 64; i++) {
			FUZZ_CHECK(spans[i].start >= prev_end && spans[i].len > 0 &&
					   spans[i].start + spans[i].len <= size,
				   "span %zu [%zu,+%zu) out of order/bounds (size %zu)", i,
				   spans[i].start, spans[i].len, size);
			prev_end = spans[i].start + spans[i].len;
		}
	}

	struct json_object *items;
	if (json_object_is_type(page, json_type_object) &&
	    json_object_object_get_ex(page, "data", &items)) {
		if (json_object_is_type(items, json_type_array)) {
			size_t n = json_object_array_length(items);
			/* as build_page() in walker.c: raw text only if the split
			 * finds the same number of elements */
			bool use_raw = n > 0 && n <= 64 && count == n;
			for (size_t i = 0; i < n; i++)
				check_one(json_object_array_get_idx(items, i),
					  use_raw ? text + spans[i].start : NULL,
					  use_raw ? spans[i].len : 0, r, org);
		} else {
			check_one(items, NULL, 0, r, org);
		}
	} else {
		check_one(page, NULL, 0, r, org);
	}
	json_object_put(page);
	meta_free(own);
	return 0;
}
