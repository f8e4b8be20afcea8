/*
 * fuzz_vcard.c - bytes -> jsonscan -> vcard_render (3.0 and 4.0, with and
 * without ORG / CATEGORIES callbacks) -> the card must satisfy vcard.h.
 * json-c (strict) parses the same bytes as the independent model: whether
 * the person has a usable id, and the steering keys below.  Every card is
 * also measured (opt.measure): the count must be the card's length.
 *
 * Optional keys let the fuzzer steer the options too:
 *   "x_fuzz_org"      string: the resolved organization name (ORG)
 *   "x_fuzz_labels"   array of strings: label id k resolves to element
 *                     k % length (null/non-string elements: unresolved)
 *   "x_fuzz_company"  string: the company (UID, URL)
 *   "x_fuzz_app_url"  string: the app URL (URL)
 *   "x_fuzz_fields"   object: custom fields (label -> value; non-string
 *                     values use their JSON text)
 */
#include <errno.h>

#include "fuzz_common.h"
#include "jsonscan.h"
#include "strbuf.h"
#include "vcard.h"

/* A text id hashes like a number, so every label id can have a name. */
static uint64_t id_hash(const struct vcard_id *id)
{
	if (id->numeric)
		return (uint64_t)id->num;
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < id->len; i++)
		h = (h ^ (unsigned char)id->text[i]) * 1099511628211u;
	return h;
}

static const char *label_name(void *ctx, const struct vcard_id *id)
{
	struct json_object *labels = ctx;
	size_t n = json_object_array_length(labels);
	if (n == 0)
		return NULL;
	uint64_t k = id_hash(id) % n;
	struct json_object *v = json_object_array_get_idx(labels, k);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *fixed_label_name(void *ctx, const struct vcard_id *id)
{
	(void)ctx;
	switch (id_hash(id) % 4) {
	case 0: return "VIP";
	case 1: return " a,b;c\\d\r\n\x01 ";
	case 2: return "";
	default: return NULL;
	}
}

static const char *opt_string(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static void render_and_check(const struct jsonscan_doc *d, const struct vcard_options *opt,
			     bool expect_ok, bool unsure)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	uint32_t obj = jsonscan_root(d);
	int rc = vcard_render(d, obj, opt, &a);
	if (unsure && rc == -EINVAL) {
		sb_free(&a);
		return;
	}
	if (!expect_ok) {
		FUZZ_CHECK(rc == -EINVAL, "rc %d for a person without a usable id", rc);
		sb_free(&a);
		return;
	}
	FUZZ_CHECK(rc == 0, "vcard_render returned %d", rc);
	FUZZ_CHECK(!sb_failed(&a), "buffer failed");
	fuzz_check_vcard(a.data, a.len, opt->version);

	/* Measured, the same length (the UID's digest is left out then). */
	size_t measured = 0;
	struct vcard_options count = *opt;
	count.measure = &measured;
	FUZZ_CHECK(vcard_render(d, obj, &count, &b) == 0 && b.len == 0 && measured == a.len,
		   "measured %zu, rendered %zu", measured, a.len);

	/* Same input, same bytes; and it appends (does not overwrite). */
	sb_puts(&b, "PREFIX");
	rc = vcard_render(d, obj, opt, &b);
	FUZZ_CHECK(rc == 0, "second vcard_render returned %d", rc);
	FUZZ_CHECK(b.len == a.len + 6 && !memcmp(b.data, "PREFIX", 6) &&
			   !memcmp(b.data + 6, a.data, a.len),
		   "second rendering differs (%zu vs %zu bytes)", a.len, b.len - 6);

	/* ORG appears iff org_name has something left after cleaning. */
	bool has_org = strstr(a.data, "\r\nORG:") != NULL;
	if (!opt->org_name)
		FUZZ_CHECK(!has_org, "ORG without org_name");
	if (!opt->label_name)
		FUZZ_CHECK(!strstr(a.data, "\r\nCATEGORIES:"), "CATEGORIES without label_name");
	sb_free(&a);
	sb_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (size_t)INT32_MAX)
		return 0;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return 0;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc d;
	bool scanned = jsonscan_parse(&d, (const char *)data, size, &arena, NULL) == JSONSCAN_OK;
	/* both must read it (fuzz_jsonscan compares the two parsers) */
	if (!obj || !scanned) {
		json_object_put(obj);
		arena_free(&arena);
		return 0;
	}

	bool expect_ok = false, unsure = false;
	struct json_object *idv;
	if (json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "id", &idv) && json_object_is_type(idv, json_type_int)) {
		int64_t id = json_object_get_int64(idv);
		/* json-c clamps integers it cannot hold to the ends of int64 */
		unsure = id == INT64_MAX || id == INT64_MIN;
		expect_ok = true;
	}

	struct json_object *labels = NULL;
	if (json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "x_fuzz_labels", &labels) &&
	    !json_object_is_type(labels, json_type_array))
		labels = NULL;
	const char *company = NULL, *app_url = NULL, *org = NULL;
	if (json_object_is_type(obj, json_type_object)) {
		company = opt_string(obj, "x_fuzz_company");
		app_url = opt_string(obj, "x_fuzz_app_url");
		org = opt_string(obj, "x_fuzz_org");
	}

	struct vcard_field fields[16];
	size_t field_count = 0;
	struct json_object *fobj;
	if (json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "x_fuzz_fields", &fobj) &&
	    json_object_is_type(fobj, json_type_object)) {
		json_object_object_foreach(fobj, key, val) {
			if (field_count == 16)
				break;
			fields[field_count].label = key;
			fields[field_count].value = json_object_is_type(val, json_type_string)
				? json_object_get_string(val) : json_object_to_json_string(val);
			field_count++;
		}
	}

	static const enum vcard_version versions[] = { VCARD_V30, VCARD_V40 };
	for (int v = 0; v < 2; v++) {
		struct vcard_options plain = {
			.version = versions[v],
			.company = company ? company : "acme",
			.app_url = app_url,
		};
		render_and_check(&d, &plain, expect_ok, unsure);

		struct vcard_options full = plain;
		full.org_name = org ? org : " Acme, Inc.; \\ R&D\n ";
		full.label_name = labels ? label_name : fixed_label_name;
		full.label_ctx = labels;
		full.fields = fields;
		full.field_count = field_count;
		render_and_check(&d, &full, expect_ok, unsure);
	}
	json_object_put(obj);
	arena_free(&arena);
	return 0;
}
