/*
 * test_person_edit.c - edited and new .json/.vcf files -> v2 request bodies
 * (src/person_edit_*.c, src/field_text.c).
 *
 * Cards come from the renderer itself (vcard_render on the fixture person)
 * and from real khard (tests/unit/data, see make_khard_fixtures.sh).  Every
 * expected body is compared whole: a field too many is a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "person_edit.h"
#include "strbuf.h"
#include "vcard.h"

#define KEY_NICK "9b7d8d2c5b2d5e0a6c7b2f1e0d9c8b7a6f5e4d3c"
#define KEY_SOURCE "1111111111111111111111111111111111111111"
#define KEY_INTERESTS "2222222222222222222222222222222222222222"
#define KEY_BUDGET "3333333333333333333333333333333333333333"
#define KEY_DATE "4444444444444444444444444444444444444444"
#define KEY_MANAGER "5555555555555555555555555555555555555555"

/* ---- the company: labels, custom fields, organizations ---- */

/* Label ids as the API may send them: integers, or strings (the spec
 * types built-in option ids as strings); "partner_a" is a text id. */
static const struct {
	const char *id;
	const char *name;
} labels[] = { { "1", "Customer" }, { "2", "Hot lead" }, { "3", "VIP, EMEA" },
	       { "4", "Twin" },	    { "5", "Twin" },	 { "partner_a", "Partner" } };

static bool label_matches(const char *text, const struct vcard_id *id)
{
	if (id->numeric)
		return text[0] >= '0' && text[0] <= '9' && strtoll(text, NULL, 10) == id->num;
	return strlen(text) == id->len && memcmp(text, id->text, id->len) == 0;
}

static const char *label_name(void *ctx, const struct vcard_id *id)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		if (label_matches(labels[i].id, id))
			return labels[i].name;
	return NULL; /* e.g. label 9: no name known */
}

static int label_id(void *ctx, const char *name, struct vcard_id *id)
{
	int found = 0;
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		if (strcmp(labels[i].name, name) == 0) {
			const char *t = labels[i].id;
			memset(id, 0, sizeof *id);
			id->numeric = t[0] >= '0' && t[0] <= '9';
			id->num = id->numeric ? strtoll(t, NULL, 10) : 0;
			id->text = id->numeric ? NULL : t;
			id->len = id->numeric ? 0 : strlen(t);
			found++;
		}
	(void)ctx;
	return found == 1 ? 0 : found ? -EEXIST : -ENOENT;
}

static const struct {
	const char *name, *key, *type;
} fields[] = {
	{ "Nickname", KEY_NICK, "varchar" },	{ "Lead source", KEY_SOURCE, "enum" },
	{ "Interests", KEY_INTERESTS, "set" },	{ "Budget", KEY_BUDGET, "monetary" },
	{ "Contract date", KEY_DATE, "date" },	{ "Account manager", KEY_MANAGER, "user" },
};

static int custom_field(void *ctx, const char *name, struct person_edit_field *out)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strcmp(fields[i].name, name) == 0) {
			snprintf(out->key, sizeof out->key, "%s", fields[i].key);
			snprintf(out->type, sizeof out->type, "%s", fields[i].type);
			return 0;
		}
	return -ENOENT;
}

static const struct {
	const char *key, *label;
	int64_t id;
} options[] = {
	{ KEY_SOURCE, "Inbound", 11 },	      { KEY_SOURCE, "Outbound", 12 },
	{ KEY_SOURCE, "Referral, partner", 13 }, { KEY_INTERESTS, "CRM", 21 },
	{ KEY_INTERESTS, "Email; marketing", 22 }, { KEY_INTERESTS, "Reporting/BI", 23 },
};

static int option_id(void *ctx, const char *key, const char *label, int64_t *id)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		if (strcmp(options[i].key, key) == 0 && strcmp(options[i].label, label) == 0) {
			*id = options[i].id;
			return 0;
		}
	return -ENOENT;
}

static int org_id(void *ctx, const char *name, int64_t *id)
{
	(void)ctx;
	if (strcmp(name, "Acme, Inc.; EMEA") == 0)
		*id = 5;
	else if (strcmp(name, "Globex") == 0)
		*id = 6;
	else
		return strcmp(name, "Twin Corp") == 0 ? -EEXIST : -ENOENT;
	return 0;
}

static const struct person_edit_resolver resolver = {
	.label_id = label_id, .label_name = label_name, .custom_field = custom_field,
	.option_id = option_id, .org_id = org_id,
};

/* ---- helpers ---- */


/* The body must equal `want` (JSON text) exactly; prints both if not. */
static bool body_is(struct json_object *body, const char *want)
{
	struct json_object *w = json_tokener_parse(want);
	bool ok = w && body && json_object_equal(body, w);
	if (!ok)
		fprintf(stderr, "  body %s\n  want %s\n",
			body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "NULL",
			want);
	json_object_put(w);
	return ok;
}

static bool message_has(const struct person_edit_error *err, const char *want)
{
	if (strstr(err->message, want))
		return true;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->message, want);
	return false;
}

/* The fixture person and its card as our renderer writes it. */
struct rendered {
	struct json_object *person;
	char *json;
	char *card;
};

static const struct vcard_field shown_fields[] = {
	{ "Nickname", "Kiki" },		 { "Lead source", "Outbound" },
	{ "Interests", "CRM, Email; marketing" }, { "Budget", "8000 EUR" },
	{ "Contract date", "2025-03-04" }, { "Account manager", "Ann Owner" },
};

static bool render(struct rendered *r, enum vcard_version version, const char *patch_json)
{
	size_t n;
	r->json = check_read_data("khard-person.json", &n);
	r->person = r->json ? json_tokener_parse(r->json) : NULL;
	if (!r->person)
		return false;
	if (patch_json) { /* overwrite some fields of the fixture person */
		struct json_object *p = json_tokener_parse(patch_json);
		json_object_object_foreach(p, k, v)
			json_object_object_add(r->person, k, json_object_get(v));
		json_object_put(p);
		free(r->json);
		r->json = strdup(json_object_to_json_string_ext(r->person, JSON_C_TO_STRING_PRETTY));
	}
	struct vcard_options opt = {
		.version = version, .company = "acme", .org_name = "Acme, Inc.; EMEA",
		.label_name = label_name, .fields = shown_fields,
		.field_count = sizeof shown_fields / sizeof shown_fields[0],
	};
	struct strbuf sb = STRBUF_INIT;
	/* the renderer reads the person as the daemon does: scanned text */
	const char *text = json_object_to_json_string_ext(r->person, JSON_C_TO_STRING_PLAIN);
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc d;
	int rc = jsonscan_parse(&d, text, strlen(text), &arena, NULL) == JSONSCAN_OK
			 ? vcard_render(&d, jsonscan_root(&d), &opt, &sb)
			 : -EINVAL;
	arena_free(&arena);
	if (rc)
		return false;
	r->card = sb_detach(&sb, NULL);
	return r->card != NULL;
}

static void release(struct rendered *r)
{
	json_object_put(r->person);
	free(r->json);
	free(r->card);
	memset(r, 0, sizeof *r);
}

/* The rendered card with the first line starting with `from` replaced by
 * `to` (NULL: line removed; from = "" inserts `to` before END). */
static char *edit_line(const char *card, const char *from, const char *to)
{
	char key[128];
	snprintf(key, sizeof key, "\r\n%s", *from ? from : "END:VCARD");
	const char *at = strstr(card, key);
	if (!at) {
		fprintf(stderr, "  no line \"%s\" in the card\n", from);
		return NULL;
	}
	at += 2;
	struct strbuf sb = STRBUF_INIT;
	sb_append(&sb, card, (size_t)(at - card));
	if (to) {
		sb_puts(&sb, to);
		sb_puts(&sb, "\r\n");
	}
	const char *rest = at;
	if (*from) {
		rest = strstr(at, "\r\n") + 2;
		while (*rest == ' ') /* folded continuation lines */
			rest = strstr(rest, "\r\n") + 2;
	}
	sb_puts(&sb, rest);
	return sb_detach(&sb, NULL);
}

/* Edit one line of the rendered card and check the body (or the error). */
static bool vcf_case(enum vcard_version v, const char *person_patch, const char *from,
		     const char *to, const char *want_body, const char *want_error)
{
	struct rendered r = { 0 };
	if (!render(&r, v, person_patch)) {
		release(&r);
		return false;
	}
	char *edited = edit_line(r.card, from, to);
	struct json_object *body = NULL;
	struct person_edit_error err = { "" };
	int rc = edited ? person_edit_vcard(r.card, strlen(r.card), edited, strlen(edited), r.person,
					    &resolver, &body, &err)
			: -1;
	bool ok = want_error ? rc == -EINVAL && !body && message_has(&err, want_error)
			     : rc == 0 && body_is(body, want_body);
	if (!ok)
		fprintf(stderr, "  (edit \"%s\" -> \"%s\": rc %d, %s)\n", from, to ? to : "(removed)",
			rc, err.message);
	json_object_put(body);
	free(edited);
	release(&r);
	return ok;
}

/* ---- .vcf edits ---- */

static void test_khard_edit(void)
{
	static const char *const versions[] = { "3.0", "4.0" };
	for (size_t v = 0; v < 2; v++) {
		char name[64];
		size_t n1 = 0, n2 = 0, n3 = 0;
		snprintf(name, sizeof name, "khard-before-%s.vcf", versions[v]);
		char *before = check_read_data(name, &n1);
		snprintf(name, sizeof name, "khard-after-%s.vcf", versions[v]);
		char *after = check_read_data(name, &n2);
		char *json = check_read_data("khard-person.json", &n3);
		struct json_object *person = json ? json_tokener_parse(json) : NULL;
		struct json_object *body = NULL;
		struct person_edit_error err = { "" };
		CHECK(before && after && person);
		if (before && after && person) {
			CHECK(person_edit_vcard(before, n1, after, n2, person, &resolver, &body,
						&err) == 0);
			/* the changed phone keeps its place and label; the others are
			 * byte for byte what Pipedrive has ("other" stays "other") */
			CHECK(body_is(body, "{\"phones\":["
					    "{\"value\":\"+49 30 1234567\",\"primary\":true,\"label\":\"work\"},"
					    "{\"value\":\"+49 170 1111111\",\"primary\":false,\"label\":\"mobile\"},"
					    "{\"value\":\"030 999\",\"primary\":false,\"label\":\"other\"}]}"));
			json_object_put(body);
			/* the card saved unchanged: nothing to send */
			CHECK(person_edit_vcard(before, n1, before, n1, person, &resolver, &body,
						&err) == 0);
			CHECK(body_is(body, "{}"));
			json_object_put(body);
		}
		json_object_put(person);
		free(before);
		free(after);
		free(json);
	}
}

static void test_vcf_names(void)
{
	CHECK(vcf_case(VCARD_V30, NULL, "FN:", "FN:Anna Meyer", "{\"name\":\"Anna Meyer\"}", NULL));
	/* N alone: Pipedrive takes no first/last name, the name N spells is sent */
	CHECK(vcf_case(VCARD_V30, NULL, "N:", "N:Meyer;Anna;;Dr.;", "{\"name\":\"Dr. Anna Meyer\"}",
		       NULL));
	/* N emptied while FN stays: nothing */
	CHECK(vcf_case(VCARD_V30, NULL, "N:", "N:;;;;", "{}", NULL));
	/* N re-spelled to the same name: nothing */
	CHECK(vcf_case(VCARD_V40, NULL, "N:", "N:Schmidt;Anna;;;", "{}", NULL));
	/* FN emptied while N still spells the same name: nothing changes */
	CHECK(vcf_case(VCARD_V30, NULL, "FN:", "FN:  ", "{}", NULL));
	CHECK(vcf_case(VCARD_V30, "{\"first_name\":\"\",\"last_name\":\"\",\"name\":\"Solo\"}",
		       "N:", NULL, "{}", NULL));
	/* no FN and an empty N: no name at all */
	struct rendered r = { 0 };
	if (render(&r, VCARD_V30, NULL)) {
		char *a = edit_line(r.card, "FN:", NULL), *b = a ? edit_line(a, "N:", "N:;;;;") : NULL;
		struct json_object *body = NULL;
		struct person_edit_error err = { "" };
		CHECK(b && person_edit_vcard(r.card, strlen(r.card), b, strlen(b), r.person, &resolver,
					     &body, &err) == -EINVAL && !body);
		CHECK(message_has(&err, "no name"));
		free(a);
		free(b);
	}
	release(&r);
	CHECK(vcf_case(VCARD_V30, NULL, "UID:", "UID:other", NULL, "UID changed"));
	CHECK(vcf_case(VCARD_V30, NULL, "X-PIPEDRIVE-ID:", "X-PIPEDRIVE-ID:43", NULL, "read-only"));
	/* what Pipedrive cannot hold is ignored */
	CHECK(vcf_case(VCARD_V30, NULL, "", "NICKNAME:Annie\r\nPHOTO;VALUE=uri:http://x/y.png", "{}",
		       NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "REV:", "REV:20300101T000000Z", "{}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "X-PIPEDRIVE-OWNER-ID:", NULL, "{}", NULL));
}

static void test_vcf_texts(void)
{
	CHECK(vcf_case(VCARD_V30, NULL, "TITLE:", "TITLE:CEO", "{\"job_title\":\"CEO\"}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "TITLE:", NULL, "{\"job_title\":\"\"}", NULL));
	CHECK(vcf_case(VCARD_V40, NULL, "NOTE:", "NOTE:a\\, b\\nc", "{\"notes\":\"a, b\\nc\"}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "BDAY:", "BDAY:19810301", "{\"birthday\":\"1981-03-01\"}",
		       NULL));
	CHECK(vcf_case(VCARD_V40, NULL, "BDAY:", "BDAY:1980-02-29T00:00:00Z", "{}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "BDAY:", NULL, "{\"birthday\":null}", NULL));
	CHECK(vcf_case(VCARD_V40, NULL, "BDAY:", "BDAY:--0229", NULL, "not a full date"));
	CHECK(vcf_case(VCARD_V30, NULL, "", "NOTE:second", NULL, "NOTE twice"));
}

static void test_vcf_org(void)
{
	CHECK(vcf_case(VCARD_V30, NULL, "ORG:", "ORG:Globex", "{\"org_id\":6}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "ORG:", "ORG:Globex;Sales;", NULL,
		       "no organization named \"Globex;Sales\""));
	CHECK(vcf_case(VCARD_V30, NULL, "ORG:", "ORG:Initech", NULL,
		       "create the organization in Pipedrive first"));
	CHECK(vcf_case(VCARD_V30, NULL, "ORG:", "ORG:Twin Corp", NULL, "several organizations"));
	CHECK(vcf_case(VCARD_V30, NULL, "ORG:", NULL, "{\"org_id\":null}", NULL));
	/* the same organization spelled as khard's YAML writes it */
	CHECK(vcf_case(VCARD_V40, NULL, "ORG:", "ORG:Acme\\, Inc.\\; EMEA;", "{}", NULL));
}

static void test_vcf_lists(void)
{
	/* a work e-mail re-typed as home */
	CHECK(vcf_case(VCARD_V30, NULL, "EMAIL;TYPE=INTERNET;TYPE=WORK",
		       "EMAIL;TYPE=INTERNET;TYPE=HOME;TYPE=PREF:anna@example.com",
		       "{\"emails\":["
		       "{\"value\":\"anna@example.com\",\"primary\":true,\"label\":\"home\"},"
		       "{\"value\":\"anna.home@example.org\",\"primary\":false,\"label\":\"home\"},"
		       "{\"value\":\"billing@example.com\",\"primary\":false,\"label\":\"billing\"}]}",
		       NULL));
	/* a new phone is appended */
	CHECK(vcf_case(VCARD_V40, NULL, "", "TEL;TYPE=home:+1 555 0100",
		       "{\"phones\":["
		       "{\"value\":\"+49 30 1234567\",\"primary\":true,\"label\":\"work\"},"
		       "{\"value\":\"+49 170 7654321\",\"primary\":false,\"label\":\"mobile\"},"
		       "{\"value\":\"030 999\",\"primary\":false,\"label\":\"other\"},"
		       "{\"value\":\"+1 555 0100\",\"primary\":false,\"label\":\"home\"}]}",
		       NULL));
	/* ... and takes PREF from the old primary (4.0) */
	CHECK(vcf_case(VCARD_V40, NULL, "TEL;TYPE=work;PREF=1",
		       "TEL;TYPE=work:+49 30 1234567\r\nTEL;TYPE=home;PREF=1:+1 555 0100",
		       "{\"phones\":["
		       "{\"value\":\"+49 30 1234567\",\"primary\":false,\"label\":\"work\"},"
		       "{\"value\":\"+49 170 7654321\",\"primary\":false,\"label\":\"mobile\"},"
		       "{\"value\":\"030 999\",\"primary\":false,\"label\":\"other\"},"
		       "{\"value\":\"+1 555 0100\",\"primary\":true,\"label\":\"home\"}]}",
		       NULL));
	/* a phone deleted */
	CHECK(vcf_case(VCARD_V30, NULL, "TEL;TYPE=VOICE:", NULL,
		       "{\"phones\":["
		       "{\"value\":\"+49 30 1234567\",\"primary\":true,\"label\":\"work\"},"
		       "{\"value\":\"+49 170 7654321\",\"primary\":false,\"label\":\"mobile\"}]}",
		       NULL));
	/* a duplicate the card shows once survives an edit of another phone */
	const char *dup = "{\"phones\":[{\"value\":\"12345\",\"primary\":true,\"label\":\"work\"},"
			  "{\"value\":\"12345\",\"primary\":false,\"label\":\"mobile\"},"
			  "{\"value\":\"555\",\"primary\":false,\"label\":\"home\"}]}";
	CHECK(vcf_case(VCARD_V30, dup, "TEL;TYPE=HOME", "TEL;TYPE=HOME;TYPE=VOICE:556",
		       "{\"phones\":[{\"value\":\"12345\",\"primary\":true,\"label\":\"work\"},"
		       "{\"value\":\"12345\",\"primary\":false,\"label\":\"mobile\"},"
		       "{\"value\":\"556\",\"primary\":false,\"label\":\"home\"}]}",
		       NULL));
	/* IM: a custom service changed */
	CHECK(vcf_case(VCARD_V30, NULL, "IMPP;X-SERVICE-TYPE=whatsapp",
		       "IMPP;X-SERVICE-TYPE=whatsapp:x-apple:%2B49999",
		       "{\"im\":[{\"value\":\"anna.s\",\"primary\":true,\"label\":\"skype\"},"
		       "{\"value\":\"+49999\",\"primary\":false,\"label\":\"whatsapp\"}]}",
		       NULL));
	/* the 3.0 X-SKYPE copy is not the IM account */
	CHECK(vcf_case(VCARD_V30, NULL, "X-SKYPE:", "X-SKYPE:someone.else", "{}", NULL));
}

static void test_vcf_categories(void)
{
	CHECK(vcf_case(VCARD_V30, NULL, "CATEGORIES:", "CATEGORIES:Customer,VIP\\, EMEA,Hot lead",
		       "{\"label_ids\":[1,3,2]}", NULL));
	/* label 9 has no name the card could show: kept */
	CHECK(vcf_case(VCARD_V40, "{\"label_ids\":[1,9,3]}", "CATEGORIES:", "CATEGORIES:VIP\\, EMEA",
		       "{\"label_ids\":[3,9]}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "CATEGORIES:", "CATEGORIES:VIP\\, EMEA,Customer", "{}",
		       NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "CATEGORIES:", "CATEGORIES:Nope", NULL, "no label named"));
	CHECK(vcf_case(VCARD_V30, NULL, "CATEGORIES:", "CATEGORIES:Twin", NULL, "several labels"));
	CHECK(vcf_case(VCARD_V30, NULL, "CATEGORIES:", NULL, "{\"label_ids\":[]}", NULL));
	/* string ids (label_option_ids): kept as the API sent them; a label
	 * looked up by name goes out in the resolver's form */
	CHECK(vcf_case(VCARD_V30, "{\"label_ids\":[\"1\",\"partner_a\"]}", "CATEGORIES:",
		       "CATEGORIES:Customer,Partner,Hot lead",
		       "{\"label_ids\":[\"1\",\"partner_a\",2]}", NULL));
	CHECK(vcf_case(VCARD_V40, "{\"label_ids\":[\"3\"]}", "CATEGORIES:", "CATEGORIES:Partner",
		       "{\"label_ids\":[\"partner_a\"]}", NULL));
	CHECK(vcf_case(VCARD_V40, "{\"label_ids\":[\"3\",\"x9\"]}", "CATEGORIES:",
		       "CATEGORIES:Customer", "{\"label_ids\":[1,\"x9\"]}", NULL));
}

static void test_vcf_custom_fields(void)
{
	CHECK(vcf_case(VCARD_V30, NULL, "item2.X-PIPEDRIVE-FIELD:", "item2.X-PIPEDRIVE-FIELD:Kiki2",
		       "{\"custom_fields\":{\"" KEY_NICK "\":\"Kiki2\"}}", NULL));
	CHECK(vcf_case(VCARD_V40, NULL, "item3.X-PIPEDRIVE-FIELD:",
		       "item3.X-PIPEDRIVE-FIELD:Referral\\, partner",
		       "{\"custom_fields\":{\"" KEY_SOURCE "\":13}}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "item4.X-PIPEDRIVE-FIELD:",
		       "item4.X-PIPEDRIVE-FIELD:Reporting/BI\\, Email\\; marketing",
		       "{\"custom_fields\":{\"" KEY_INTERESTS "\":[23,22]}}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "item5.X-PIPEDRIVE-FIELD:", "item5.X-PIPEDRIVE-FIELD:9000.5 usd",
		       "{\"custom_fields\":{\"" KEY_BUDGET "\":{\"value\":9000.5,\"currency\":\"USD\"}}}",
		       NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "item5.X-PIPEDRIVE-FIELD:", "item5.X-PIPEDRIVE-FIELD:7000",
		       "{\"custom_fields\":{\"" KEY_BUDGET "\":{\"value\":7000,\"currency\":\"EUR\"}}}",
		       NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "item6.X-PIPEDRIVE-FIELD:", "item6.X-PIPEDRIVE-FIELD:",
		       "{\"custom_fields\":{\"" KEY_DATE "\":null}}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "item6.X-PIPEDRIVE-FIELD:", "item6.X-PIPEDRIVE-FIELD:2025-02-30",
		       NULL, "not a date"));
	CHECK(vcf_case(VCARD_V30, NULL, "item3.X-PIPEDRIVE-FIELD:", "item3.X-PIPEDRIVE-FIELD:Nope",
		       NULL, "no option \"Nope\""));
	CHECK(vcf_case(VCARD_V30, NULL, "item7.X-PIPEDRIVE-FIELD:", "item7.X-PIPEDRIVE-FIELD:Bob",
		       NULL, "edit the .json instead"));
	/* which of two "Lead source" fields is meant? */
	CHECK(vcf_case(VCARD_V30, NULL, "", "item9.X-PIPEDRIVE-FIELD:Inbound\r\nitem9.X-ABLabel:Lead source",
		       NULL, "several custom fields named \"Lead source\""));
	CHECK(vcf_case(VCARD_V30, NULL, "", "item99.X-PIPEDRIVE-FIELD:xyz\r\nitem99.X-ABLabel:Nope", NULL,
		       "no custom field named \"Nope\""));
	/* a removed group clears the field, even a type the card cannot write */
	CHECK(vcf_case(VCARD_V30, NULL, "item7.X-PIPEDRIVE-FIELD:", NULL,
		       "{\"custom_fields\":{\"" KEY_MANAGER "\":null}}", NULL));
}

static void test_vcf_address(void)
{
	/* city changed: street parts kept from Pipedrive, sublocality dropped */
	CHECK(vcf_case(VCARD_V30, NULL, "ADR;", "ADR;TYPE=WORK:;;Friedrichstra\xC3\x9F" "e 123\\, Hinterhaus;"
		       "Potsdam;Berlin;14467;Deutschland",
		       "{\"postal_address\":{\"value\":\"Friedrichstra\xC3\x9F" "e 123, Hinterhaus, 14467 "
		       "Potsdam, Berlin, Deutschland\",\"route\":\"Friedrichstra\xC3\x9F" "e\","
		       "\"street_number\":\"123\",\"subpremise\":\"Hinterhaus\",\"sublocality\":\"\","
		       "\"locality\":\"Potsdam\",\"admin_area_level_2\":\"Berlin\","
		       "\"admin_area_level_1\":\"Berlin\",\"postal_code\":\"14467\","
		       "\"country\":\"Deutschland\"}}",
		       NULL));
	/* street changed: it goes whole into route */
	CHECK(vcf_case(VCARD_V40, NULL, "ADR;", "ADR:;;Unter den Linden 1;Berlin;Berlin;10117;Deutschland",
		       "{\"postal_address\":{\"value\":\"Unter den Linden 1, 10117 Berlin, Berlin, "
		       "Deutschland\",\"route\":\"Unter den Linden 1\",\"street_number\":\"\","
		       "\"subpremise\":\"\",\"sublocality\":\"\",\"locality\":\"Berlin\","
		       "\"admin_area_level_2\":\"\",\"admin_area_level_1\":\"Berlin\","
		       "\"postal_code\":\"10117\",\"country\":\"Deutschland\"}}",
		       NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "ADR;", NULL, "{\"postal_address\":null}", NULL));
	CHECK(vcf_case(VCARD_V30, NULL, "", "ADR;TYPE=HOME:;;x;;;;", NULL, "two ADR"));
}

/* ---- .json edits ---- */

static bool json_case(const char *original, const char *edited, const char *want_body,
		      const char *want_error)
{
	struct json_object *body = NULL;
	struct person_edit_error err = { "" };
	int rc = person_edit_json(original, strlen(original), edited, strlen(edited), &body, &err);
	bool ok = want_error ? rc == -EINVAL && !body && message_has(&err, want_error)
			     : rc == 0 && body_is(body, want_body);
	if (!ok)
		fprintf(stderr, "  (edited %s: rc %d %s)\n", edited, rc, err.message);
	json_object_put(body);
	return ok;
}

#define ORIG                                                                                    \
	"{\n  \"id\": 42,\n  \"name\": \"Ann\",\n  \"first_name\": \"Ann\",\n  \"owner_id\": 3,\n" \
	"  \"org_id\": null,\n  \"update_time\": \"2026-01-01T00:00:00Z\",\n"                    \
	"  \"emails\": [{\"value\": \"a@x\", \"primary\": true, \"label\": \"work\"}],\n"          \
	"  \"visible_to\": 3,\n  \"label_ids\": [1],\n  \"notes_count\": 2,\n"                    \
	"  \"custom_fields\": {\"" KEY_NICK "\": null, \"" KEY_BUDGET "\": {\"value\": 8000, "   \
	"\"currency\": \"EUR\"}},\n  \"birthday\": null\n}\n"

static void test_json_edit(void)
{
	const char *compact =
		"{\"id\":42,\"name\":\"Ann\",\"first_name\":\"Ann\",\"owner_id\":3,\"org_id\":null,"
		"\"update_time\":\"2026-01-01T00:00:00Z\",\"emails\":[{\"value\":\"a@x\","
		"\"primary\":true,\"label\":\"work\"}],\"visible_to\":3,\"label_ids\":[1],"
		"\"notes_count\":2,\"custom_fields\":{\"" KEY_BUDGET "\":{\"currency\":\"EUR\","
		"\"value\":8000.0},\"" KEY_NICK "\":null},\"birthday\":null}";
	/* re-formatted, keys reordered, 8000 written as 8000.0: no change */
	CHECK(json_case(ORIG, compact, "{}", NULL));
	CHECK(json_case(ORIG, ORIG, "{}", NULL));
	char buf[2048];
	struct {
		const char *from, *to, *body, *error;
	} cases[] = {
		{ "\"name\": \"Ann\"", "\"name\": \"Ann Lee\"", "{\"name\":\"Ann Lee\"}", NULL },
		{ "\"org_id\": null", "\"org_id\": 7", "{\"org_id\":7}", NULL },
		{ "\"birthday\": null", "\"birthday\": \"1990-01-31\"", "{\"birthday\":\"1990-01-31\"}",
		  NULL },
		{ "\"" KEY_NICK "\": null", "\"" KEY_NICK "\": \"Bob\"",
		  "{\"custom_fields\":{\"" KEY_NICK "\":\"Bob\"}}", NULL },
		{ "\"label_ids\": [1]", "\"label_ids\": [1, 2]", "{\"label_ids\":[1,2]}", NULL },
		{ "\"label\": \"work\"", "\"label\": \"home\"",
		  "{\"emails\":[{\"value\":\"a@x\",\"primary\":true,\"label\":\"home\"}]}", NULL },
		{ "\"id\": 42", "\"id\": 43", NULL, "id is read-only" },
		{ "\"first_name\": \"Ann\"", "\"first_name\": \"Anne\"", NULL, "first_name is read-only" },
		{ "\"update_time\": \"2026", "\"update_time\": \"2027", NULL, "update_time is read-only" },
		{ "\"notes_count\": 2", "\"notes_count\": 3", NULL, "notes_count is read-only" },
		{ "\"id\": 42,", "\"id\": 42, \"nick\": 1,", NULL, "unknown field \"nick\"" },
		{ "\"id\": 42,", "\"id\": 42, \"picture_id\": 5,", NULL, "picture_id is read-only" },
		{ "\"visible_to\": 3,", "", NULL, "visible_to was removed" },
		{ "\"visible_to\": 3", "\"visible_to\": 4", NULL, "visible_to must be 1, 3, 5 or 7" },
		{ "\"name\": \"Ann\"", "\"name\": \" \"", NULL, "name must be non-empty" },
		{ "\"primary\": true", "\"primary\": \"yes\"", NULL, "only value (text)" },
		{ "\"label\": \"work\"}]", "\"label\": \"work\"}, {\"value\": \"b@x\", \"primary\": true}]",
		  NULL, "2 primary" },
		{ "\"birthday\": null", "\"birthday\": \"1990-02-30\"", NULL, "birthday must be a date" },
		{ "\"" KEY_NICK "\": null", "\"" KEY_NICK "\": []", NULL, "use null to clear" },
		{ "\"" KEY_NICK "\": null,", "", NULL, "custom_fields." KEY_NICK " was removed" },
		{ "\"" KEY_NICK "\": null", "\"" KEY_NICK "\": null, \"abc\": 1", NULL,
		  "custom_fields.abc is not a custom field" },
		{ "\"name\": \"Ann\",", "\"name\": \"Ann\",,", NULL, "not valid JSON" },
		{ "\n}\n", "\n}\n{}", NULL, "not valid JSON" },
		{ "\"name\": \"Ann\"", "\"name\": 'Ann'", NULL, "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(buf, sizeof buf, "%s", ORIG);
		char *at = strstr(buf, cases[i].from);
		CHECK(at != NULL);
		if (!at)
			continue;
		char tail[2048];
		snprintf(tail, sizeof tail, "%s", at + strlen(cases[i].from));
		snprintf(at, sizeof buf - (size_t)(at - buf), "%s%s", cases[i].to, tail);
		CHECK(json_case(ORIG, buf, cases[i].body, cases[i].error));
	}
	CHECK(json_case(ORIG, "[1]", NULL, "one JSON object"));
	CHECK(json_case(ORIG, "", NULL, "not valid JSON"));
}

/* ---- creation ---- */

static void test_create_json(void)
{
	struct person_edit_place place = { .owner_id = 9 };
	struct json_object *body = NULL;
	struct person_edit_error err = { "" };
	/* a copied person: read-only fields and nulls left out, the folder's owner */
	char copied[2048];
	snprintf(copied, sizeof copied, "%s", ORIG);
	char *counter = strstr(copied, "  \"notes_count\": 2,\n");
	memmove(counter, counter + 20, strlen(counter + 20) + 1);
	CHECK(person_create_json(copied, strlen(copied), &place, &body, &err) == 0);
	CHECK(body_is(body, "{\"name\":\"Ann\",\"owner_id\":9,\"emails\":[{\"value\":\"a@x\","
			    "\"primary\":true,\"label\":\"work\"}],\"visible_to\":3,\"label_ids\":[1],"
			    "\"custom_fields\":{\"" KEY_BUDGET "\":{\"value\":8000,\"currency\":\"EUR\"}}}"));
	json_object_put(body);
	/* include_fields counters are not person fields of a new person */
	CHECK(person_create_json(ORIG, strlen(ORIG), &place, &body, &err) == -EINVAL && !body);
	CHECK(message_has(&err, "unknown field \"notes_count\""));
	const char *no_name = "{\"first_name\": \"Ann\", \"emails\": []}";
	CHECK(person_create_json(no_name, strlen(no_name), &place, &body, &err) == -EINVAL && !body);
	CHECK(message_has(&err, "needs a name"));
	const char *unknown = "{\"name\": \"Ann\", \"nick\": 1}";
	CHECK(person_create_json(unknown, strlen(unknown), NULL, &body, &err) == -EINVAL);
	CHECK(message_has(&err, "unknown field"));
	const char *org = "{\"name\": \"Ann\", \"org_id\": 5}";
	struct person_edit_place by_org = { .org_id = 7 };
	CHECK(person_create_json(org, strlen(org), &by_org, &body, &err) == 0);
	CHECK(body_is(body, "{\"name\":\"Ann\",\"org_id\":7}"));
	json_object_put(body);
}

static void test_create_vcard(void)
{
	size_t n = 0;
	char *card = check_read_data("khard-new.vcf", &n);
	struct person_edit_place place = { .owner_id = 3 };
	struct json_object *body = NULL;
	struct person_edit_error err = { "" };
	CHECK(card && person_create_vcard(card, n, &place, &resolver, &body, &err) == 0);
	CHECK(body_is(body,
		      "{\"name\":\"Ben M\xC3\xBCller\",\"org_id\":5,\"job_title\":\"Buyer\","
		      "\"emails\":[{\"value\":\"ben@example.com\",\"primary\":false,\"label\":\"work\"}],"
		      "\"phones\":[{\"value\":\"+49 30 5550100\",\"primary\":true,\"label\":\"work\"},"
		      "{\"value\":\"+49 171 2223334\",\"primary\":false,\"label\":\"mobile\"}],"
		      "\"birthday\":\"1975-06-01\",\"postal_address\":{\"value\":\"Hauptstra\xC3\x9F"
		      "e 5, 80331 M\xC3\xBCnchen, Bayern, Deutschland\",\"route\":\"Hauptstra\xC3\x9F"
		      "e 5\",\"street_number\":\"\",\"subpremise\":\"\",\"sublocality\":\"\","
		      "\"locality\":\"M\xC3\xBCnchen\",\"admin_area_level_2\":\"\","
		      "\"admin_area_level_1\":\"Bayern\",\"postal_code\":\"80331\","
		      "\"country\":\"Deutschland\"},\"notes\":\"Met at CeBIT, talks; about CRM\","
		      "\"label_ids\":[1],\"owner_id\":3}"));
	json_object_put(body);
	/* written into another organization's folder */
	struct person_edit_place by_org = { .org_id = 6 };
	CHECK(card && person_create_vcard(card, n, &by_org, &resolver, &body, &err) == -EINVAL);
	CHECK(message_has(&err, "is not organization 6"));
	free(card);

	const char *nameless = "BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:a@x\r\nEND:VCARD\r\n";
	CHECK(person_create_vcard(nameless, strlen(nameless), NULL, &resolver, &body, &err) == -EINVAL);
	CHECK(message_has(&err, "needs a name"));
	const char *by_n = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Lee;Ann;;;\r\n"
			   "item1.X-PIPEDRIVE-FIELD:Inbound\r\nitem1.X-ABLabel:Lead source\r\nEND:VCARD\r\n";
	CHECK(person_create_vcard(by_n, strlen(by_n), NULL, &resolver, &body, &err) == 0);
	CHECK(body_is(body, "{\"name\":\"Ann Lee\",\"custom_fields\":{\"" KEY_SOURCE "\":11}}"));
	json_object_put(body);
}

/* ---- conflicts ---- */

static void test_conflicts(void)
{
	struct json_object *orig = json_tokener_parse(
		"{\"name\":\"A\",\"phones\":[],\"custom_fields\":{\"k1\":1,\"k2\":2}}");
	struct json_object *cur = json_tokener_parse(
		"{\"name\":\"B\",\"phones\":[],\"custom_fields\":{\"k1\":1,\"k2\":3}}");
	struct json_object *b1 = json_tokener_parse("{\"phones\":[{\"value\":\"1\"}],"
						    "\"custom_fields\":{\"k1\":5}}");
	struct json_object *b2 = json_tokener_parse("{\"name\":\"C\",\"custom_fields\":{\"k2\":4}}");
	struct json_object *b3 = json_tokener_parse("{\"name\":\"B\"}");
	char field[64];
	CHECK(person_edit_conflicts(orig, cur, b1, field, sizeof field) == 0 && !*field);
	CHECK(person_edit_conflicts(orig, cur, b2, field, sizeof field) == 2);
	CHECK(strcmp(field, "name") == 0);
	/* the server already has what we send: no conflict */
	CHECK(person_edit_conflicts(orig, cur, b3, field, sizeof field) == 0);
	/* a field neither version had, a custom field the server added */
	struct json_object *bare = json_tokener_parse("{\"name\":\"A\"}");
	struct json_object *b4 = json_tokener_parse("{\"custom_fields\":{\"k1\":5}}");
	CHECK(person_edit_conflicts(bare, cur, b4, field, sizeof field) == 1);
	CHECK(strcmp(field, "custom_fields.k1") == 0);
	CHECK(person_edit_conflicts(bare, bare, b1, NULL, 0) == 0);
	json_object_put(bare);
	json_object_put(b4);
	json_object_put(orig);
	json_object_put(cur);
	json_object_put(b1);
	json_object_put(b2);
	json_object_put(b3);
}

int main(void)
{
	test_khard_edit();
	test_vcf_names();
	test_vcf_texts();
	test_vcf_org();
	test_vcf_lists();
	test_vcf_categories();
	test_vcf_custom_fields();
	test_vcf_address();
	test_json_edit();
	test_create_json();
	test_create_vcard();
	test_conflicts();
	return check_finish("person_edit");
}
