/* The person model: update times, file names, sizes, the kept JSON text. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
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
}

static void test_from_json(void)
{
	const struct person_render r = { .version = VCARD_V30, .company = "acme" };
	/* Text as a server might send it: spaces, escapes json-c would rewrite. */
	const char *raw = "{ \"id\": 7, \"name\": \"A\\/B \\u00e9\", \"owner_id\": 3, \"org_id\": null,"
			  " \"update_time\": \"2021-01-01T00:00:00Z\", \"n\": 1.50 }";
	struct json_object *obj = json_tokener_parse(raw);
	int err;
	struct person *p = person_from_json_text(obj, raw, strlen(raw), &r, "Org, Inc.", &err);
	CHECK(p && err == 0);
	if (p) {
		CHECK(p->id == 7 && p->owner_id == 3 && p->org_id == 0);
		CHECK(p->update_time == 1609459200);
		CHECK_BYTES(p->base, p->base_len, "A_B \xC3\xA9 (7)");
		CHECK_BYTES(p->compact, p->compact_len, raw);
		struct strbuf json = STRBUF_INIT;
		person_json(p, &json);
		CHECK(json.len == p->json_len);
		CHECK(strstr(json.data, "\"A\\/B \\u00e9\"") != NULL); /* exactly as sent */
		CHECK(strstr(json.data, "1.50") != NULL);
		sb_free(&json);
		CHECK(strstr(p->vcf, "\r\nORG:Org\\, Inc.\r\n") != NULL);
		CHECK(strlen(p->vcf) == p->vcf_len);
		person_unref(p);
	}
	json_object_put(obj);

	/* Without the text: json-c's compact form. */
	obj = json_tokener_parse("{\"id\":8,\"name\":\"\"}");
	p = person_from_json(obj, &r, NULL, &err);
	CHECK(p && strcmp(p->base, "Unnamed (8)") == 0);
	CHECK(p && strcmp(p->compact, "{\"id\":8,\"name\":\"\"}") == 0);
	person_unref(p);
	json_object_put(obj);

	obj = json_tokener_parse("{\"name\":\"no id\"}");
	CHECK(person_from_json(obj, &r, NULL, &err) == NULL && err < 0);
	json_object_put(obj);
}

static void check_name(const char *json, const char *want)
{
	struct json_object *obj = json_tokener_parse(json);
	struct strbuf sb = STRBUF_INIT;
	bool named = person_json_name(obj, &sb);
	CHECK(named == (want != NULL));
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, want ? want : "");
	sb_free(&sb);
	json_object_put(obj);
}

static void test_json_helpers(void)
{
	struct json_object *obj = json_tokener_parse(
		"{\"id\":7,\"name\":\"Ann\",\"is_deleted\":true}");
	CHECK(person_json_is_deleted(obj) && person_json_id(obj) == 7);
	json_object_put(obj);
	obj = json_tokener_parse("{\"id\":\"7\",\"is_deleted\":\"true\"}");
	CHECK(!person_json_is_deleted(obj) && person_json_id(obj) == 0);
	json_object_put(obj);
	check_name("{\"name\":\"Ann Lee\",\"first_name\":\"X\"}", "Ann Lee");
	check_name("{\"name\":\"\",\"first_name\":\"Ann\",\"last_name\":\"Lee\"}", "Ann Lee");
	check_name("{\"name\":null,\"last_name\":\"Madonna\"}", "Madonna");
	check_name("{\"name\":\"\",\"first_name\":null}", NULL);
	struct person_render r = { .version = VCARD_V30, .company = "acme" };
	obj = json_tokener_parse("{\"id\":9,\"first_name\":\"Bo\",\"last_name\":\"Lee\"}");
	int err;
	struct person *p = person_from_json(obj, &r, NULL, &err);
	struct strbuf sb = STRBUF_INIT;
	CHECK(p && person_name(p, &sb));
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, "Bo Lee");
	sb_free(&sb);
	person_unref(p);
	json_object_put(obj);
}

int main(void)
{
	test_parse_time();
	test_from_json();
	test_json_helpers();
	return check_finish("person");
}
