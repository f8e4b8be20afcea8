/*
 * fuzz_vcard_parse.c - bytes -> vcard_parse, and what is built on it.
 *
 * For every input:
 *   1. vcard_parse never crashes; when it accepts the card, every property
 *      is well-formed (upper-case name, lower-case group, >= 1 component
 *      of >= 1 item, text valid UTF-8 without controls but TAB and LF),
 *      and the canonical printer is stable: print -> parse gives the same
 *      card (groups, names, parameters, text, components) and printing that
 *      gives the same bytes (parse . print . parse = parse);
 *   2. the logical model (card_model_build) is stable too: model -> card
 *      (3.0 and 4.0) -> model is equal;
 *   3. person_edit_vcard(seed, input) on a fixed person rendered by our
 *      renderer: no crash; when it answers, the body only holds writable
 *      keys, never a field whose model value is unchanged, and a card whose
 *      model equals the seed's gives an empty body;
 *   4. person_create_vcard(input) gives a body with a name or an error;
 *   5. the input as an edited .json of a fixed person: person_edit_json
 *      never crashes and only ever sends writable keys.
 */
#include <errno.h>

#include "card_model.h"
#include "fuzz_common.h"
#include "jsonscan.h"
#include "person_edit.h"
#include "strbuf.h"
#include "vcard.h"
#include "vcard_parse.h"

/* ---- a fixed company and person ---- */

/* Labels 1 and 2 have integer ids, "hot" a text id (built-in option ids may
 * be strings). */
static const char *label_name(void *ctx, const struct vcard_id *id)
{
	(void)ctx;
	if (!id->numeric)
		return id->len == 3 && memcmp(id->text, "hot", 3) == 0 ? "Hot" : NULL;
	return id->num == 1 ? "Customer" : id->num == 2 ? "VIP, EMEA" : NULL;
}

static int label_id(void *ctx, const char *name, struct vcard_id *id)
{
	(void)ctx;
	memset(id, 0, sizeof *id);
	id->num = strcmp(name, "Customer") == 0 ? 1 : strcmp(name, "VIP, EMEA") == 0 ? 2 : 0;
	id->numeric = id->num != 0;
	if (strcmp(name, "Hot") == 0) {
		id->text = "hot";
		id->len = 3;
		return 0;
	}
	return id->numeric ? 0 : strcmp(name, "Twin") == 0 ? -EEXIST : -ENOENT;
}

static const char *const field_types[][2] = {
	{ "Nickname", "varchar" }, { "Source", "enum" },   { "Tags", "set" },
	{ "Budget", "monetary" },  { "Due", "date" },	   { "Owner", "user" },
	{ "Score", "double" },	   { "Span", "daterange" }, { "At", "time" },
	{ "Hours", "timerange" },  { "Flag", "boolean" },  { "Count", "int" },
};

static int custom_field(void *ctx, const char *name, struct person_edit_field *out)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof field_types / sizeof field_types[0]; i++)
		if (strcmp(field_types[i][0], name) == 0) {
			snprintf(out->key, sizeof out->key, "%040zu", i);
			snprintf(out->type, sizeof out->type, "%s", field_types[i][1]);
			return 0;
		}
	return -ENOENT;
}

static int option_id(void *ctx, const char *key, const char *label, int64_t *id)
{
	(void)ctx;
	(void)key;
	static const char *const labels[] = { "A", "B, C", "D; E", "F" };
	for (size_t i = 0; i < 4; i++)
		if (strcmp(labels[i], label) == 0) {
			*id = (int64_t)i + 10;
			return 0;
		}
	return -ENOENT;
}

static int org_id(void *ctx, const char *name, int64_t *id)
{
	(void)ctx;
	*id = strcmp(name, "Acme") == 0 ? 5 : 0;
	return *id ? 0 : -ENOENT;
}

static const struct person_edit_resolver resolver = {
	.label_id = label_id, .label_name = label_name, .custom_field = custom_field,
	.option_id = option_id, .org_id = org_id,
};

static const char person_json[] =
	"{\"id\":42,\"name\":\"Ann Lee\",\"first_name\":\"Ann\",\"last_name\":\"Lee\","
	"\"owner_id\":3,\"org_id\":5,\"add_time\":\"2021-01-01T00:00:00Z\","
	"\"update_time\":\"2026-01-01T00:00:00Z\",\"emails\":[{\"value\":\"ann@x.org\","
	"\"primary\":true,\"label\":\"work\"},{\"value\":\"b@x.org\",\"primary\":false,"
	"\"label\":\"billing\"}],\"phones\":[{\"value\":\"123\",\"primary\":true,\"label\":\"work\"},"
	"{\"value\":\"123\",\"primary\":false,\"label\":\"mobile\"},{\"value\":\"456\","
	"\"primary\":false,\"label\":\"other\"}],\"is_deleted\":false,\"visible_to\":3,"
	"\"label_ids\":[1,2,9,\"hot\"],\"picture_id\":null,\"custom_fields\":{"
	"\"0000000000000000000000000000000000000000\":\"Kiki\","
	"\"0000000000000000000000000000000000000003\":{\"value\":8000,\"currency\":\"EUR\"},"
	"\"0000000000000000000000000000000000000005\":7},"
	"\"notes\":\"a; b, c\\nd\",\"im\":[{\"value\":\"live:ann\",\"primary\":true,"
	"\"label\":\"skype\"}],\"birthday\":\"1980-02-29\",\"job_title\":\"CEO\","
	"\"postal_address\":{\"value\":\"Main St 1, 10115 Berlin\",\"route\":\"Main St\","
	"\"street_number\":\"1\",\"locality\":\"Berlin\",\"postal_code\":\"10115\","
	"\"country\":\"DE\"}}";

static const struct vcard_field shown_fields[] = {
	{ "Nickname", "Kiki" }, { "Budget", "8000 EUR" }, { "Owner", "Ann Owner" },
};

struct seed {
	struct json_object *person;
	char *card[2]; /* 3.0, 4.0 */
	size_t len[2];
	struct vcard_card *parsed[2];
	struct card_model model[2];
};

static struct seed *seed(void)
{
	static struct seed s;
	static bool ready;
	if (ready)
		return &s;
	ready = true;
	s.person = json_tokener_parse(person_json);
	FUZZ_CHECK(s.person, "the fixed person does not parse");
	for (int v = 0; v < 2; v++) {
		struct vcard_options opt = {
			.version = v ? VCARD_V40 : VCARD_V30, .company = "acme", .org_name = "Acme",
			.label_name = label_name, .fields = shown_fields, .field_count = 3,
		};
		struct strbuf sb = STRBUF_INIT;
		struct arena arena;
		arena_init(&arena, 0);
		struct jsonscan_doc d;
		FUZZ_CHECK(jsonscan_parse(&d, person_json, strlen(person_json), &arena, NULL) ==
				   JSONSCAN_OK && vcard_render(&d, jsonscan_root(&d), &opt, &sb) == 0,
			   "render failed");
		arena_free(&arena);
		s.card[v] = sb_detach(&sb, &s.len[v]);
		FUZZ_CHECK(vcard_parse(s.card[v], s.len[v], &s.parsed[v], NULL) == 0,
			   "our own card does not parse");
		FUZZ_CHECK(card_model_build(s.parsed[v], &s.model[v], NULL, 0) == 0,
			   "our own card has no model");
	}
	return &s;
}

/* ---- 1. the parser and its printer ---- */

static bool lower_name(const char *s, bool upper)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		bool ok = (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			  (upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z'));
		if (!ok)
			return false;
	}
	return true;
}

static void check_prop(const struct vcard_prop *p)
{
	FUZZ_CHECK(lower_name(p->name, true), "bad name \"%s\"", p->name);
	FUZZ_CHECK(!p->group || lower_name(p->group, false), "bad group \"%s\"", p->group);
	FUZZ_CHECK(p->n_comps >= 1, "no component");
	for (size_t c = 0; c < p->n_comps; c++)
		FUZZ_CHECK(p->comps[c].n_items >= 1, "component without item");
	FUZZ_CHECK(strlen(p->text) == p->text_len, "NUL inside text");
	FUZZ_CHECK(ref_valid_utf8(p->text, p->text_len), "text is not UTF-8");
	for (size_t i = 0; i < p->text_len; i++) {
		unsigned char ch = (unsigned char)p->text[i];
		FUZZ_CHECK(ch >= 0x20 || ch == '\t' || ch == '\n', "control 0x%02X in text", ch);
	}
	for (size_t k = 0; k < p->n_params; k++) {
		FUZZ_CHECK(lower_name(p->params[k].name, true), "bad parameter name");
		FUZZ_CHECK(p->params[k].n_values >= 1, "parameter without value");
	}
}

static bool same_prop(const struct vcard_prop *a, const struct vcard_prop *b)
{
	if (strcmp(a->name, b->name) || (!a->group != !b->group) ||
	    (a->group && strcmp(a->group, b->group)) || strcmp(a->text, b->text) ||
	    a->n_comps != b->n_comps || a->n_params != b->n_params)
		return false;
	for (size_t c = 0; c < a->n_comps; c++) {
		if (a->comps[c].n_items != b->comps[c].n_items)
			return false;
		for (size_t i = 0; i < a->comps[c].n_items; i++)
			if (strcmp(a->comps[c].items[i], b->comps[c].items[i]))
				return false;
	}
	for (size_t k = 0; k < a->n_params; k++) {
		const struct vcard_param *x = &a->params[k], *y = &b->params[k];
		if (strcmp(x->name, y->name) || x->n_values != y->n_values)
			return false;
		for (size_t v = 0; v < x->n_values; v++)
			if (strcmp(x->values[v], y->values[v]))
				return false;
	}
	return true;
}

static void check_printer(const struct vcard_card *card)
{
	struct strbuf out = STRBUF_INIT, again = STRBUF_INIT;
	struct vcard_card *back = NULL;
	struct vcard_parse_error err;
	vcard_print(card, &out);
	FUZZ_CHECK(!sb_failed(&out), "printer failed");
	int rc = vcard_parse(out.data, out.len, &back, &err);
	if (rc) {
		fuzz_dump("printed", out.data, out.len);
		FUZZ_CHECK(0, "printed card does not parse: %s", err.message);
	}
	FUZZ_CHECK(back->version == card->version && back->n_props == card->n_props,
		   "printed card differs: %zu vs %zu properties", back->n_props, card->n_props);
	for (size_t i = 0; i < card->n_props; i++) {
		if (!same_prop(&card->props[i], &back->props[i])) {
			fuzz_dump("original raw", card->props[i].raw, card->props[i].raw_len);
			fuzz_dump("reparsed raw", back->props[i].raw, back->props[i].raw_len);
			FUZZ_CHECK(0, "property %zu (%s) changed through print + parse", i,
				   card->props[i].name);
		}
	}
	vcard_print(back, &again);
	FUZZ_CHECK(again.len == out.len && !memcmp(again.data, out.data, out.len),
		   "printing is not idempotent");
	vcard_card_free(back);
	sb_free(&out);
	sb_free(&again);
}

/* ---- 2. the model ---- */

static void dump_list(const char *what, const struct card_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		fprintf(stderr, "  %s[%zu]%s label ", what, i, l->items[i].primary ? " primary" : "");
		fuzz_dump("", l->items[i].label, strlen(l->items[i].label));
		fuzz_dump("    value", l->items[i].value, strlen(l->items[i].value));
	}
}

/* Say which part of two models differs (for the failure message). */
static void explain(const struct card_model *a, const struct card_model *b)
{
	const struct card_list *la[] = { &a->emails, &a->phones, &a->ims };
	const struct card_list *lb[] = { &b->emails, &b->phones, &b->ims };
	static const char *const names[] = { "emails", "phones", "ims" };
	for (int k = 0; k < 3; k++)
		if (!card_list_equal(la[k], lb[k])) {
			dump_list(names[k], la[k]);
			fprintf(stderr, "  --- after the round trip:\n");
			dump_list(names[k], lb[k]);
		}
	const char *const ta[] = { a->fn, a->title, a->note, a->org, a->birthday, a->uid };
	const char *const tb[] = { b->fn, b->title, b->note, b->org, b->birthday, b->uid };
	for (int k = 0; k < 6; k++)
		if (!card_text_equal(ta[k], tb[k])) {
			fuzz_dump("text before", ta[k] ? ta[k] : "(null)", ta[k] ? strlen(ta[k]) : 6);
			fuzz_dump("text after", tb[k] ? tb[k] : "(null)", tb[k] ? strlen(tb[k]) : 6);
		}
	if (!card_categories_equal(a, b))
		fprintf(stderr, "  categories differ (%zu vs %zu)\n", a->n_categories, b->n_categories);
	if (!card_address_equal(&a->address, &b->address))
		fprintf(stderr, "  address differs\n");
	if (a->n_fields != b->n_fields)
		fprintf(stderr, "  %zu vs %zu custom fields\n", a->n_fields, b->n_fields);
}

static void check_model(const struct card_model *m)
{
	for (int v = 0; v < 2; v++) {
		struct strbuf out = STRBUF_INIT;
		struct vcard_card *back = NULL;
		struct card_model mb;
		char msg[200];
		card_model_print(m, v ? VCARD_V40 : VCARD_V30, &out);
		FUZZ_CHECK(!sb_failed(&out), "model printer failed");
		struct vcard_parse_error err;
		if (vcard_parse(out.data, out.len, &back, &err)) {
			fuzz_dump("model card", out.data, out.len);
			FUZZ_CHECK(0, "the model's card does not parse: %s", err.message);
		}
		if (card_model_build(back, &mb, msg, sizeof msg)) {
			fuzz_dump("model card", out.data, out.len);
			FUZZ_CHECK(0, "the model's card has no model: %s", msg);
		}
		if (!card_model_equal(m, &mb)) {
			fuzz_dump("model card", out.data, out.len);
			explain(m, &mb);
			FUZZ_CHECK(0, "model -> card -> model differs (version %d)", v ? 40 : 30);
		}
		vcard_card_free(back);
		sb_free(&out);
	}
}

/* ---- 3./4. edits and creations ---- */

static const char *const writable[] = {
	"name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids",
	"postal_address", "notes", "im", "birthday", "job_title", "marketing_status",
	"custom_fields", NULL,
};

static bool is_writable(const char *key)
{
	for (const char *const *w = writable; *w; w++)
		if (strcmp(*w, key) == 0)
			return true;
	return false;
}

static bool n_equal(const struct card_model *a, const struct card_model *b)
{
	return a->has_n == b->has_n && !strcmp(a->family, b->family) &&
	       !strcmp(a->given, b->given) && !strcmp(a->additional, b->additional) &&
	       !strcmp(a->prefix, b->prefix) && !strcmp(a->suffix, b->suffix);
}

/* A key in the body must name a field whose model value changed. */
static bool field_changed(const char *key, const struct card_model *a, const struct card_model *b)
{
	if (!strcmp(key, "name"))
		return !card_text_equal(a->fn, b->fn) || !n_equal(a, b);
	if (!strcmp(key, "org_id"))
		return !card_text_equal(a->org, b->org);
	if (!strcmp(key, "job_title"))
		return !card_text_equal(a->title, b->title);
	if (!strcmp(key, "notes"))
		return !card_text_equal(a->note, b->note);
	if (!strcmp(key, "birthday"))
		return !card_text_equal(a->birthday, b->birthday);
	if (!strcmp(key, "postal_address"))
		return !card_address_equal(&a->address, &b->address);
	if (!strcmp(key, "emails"))
		return !card_list_equal(&a->emails, &b->emails);
	if (!strcmp(key, "phones"))
		return !card_list_equal(&a->phones, &b->phones);
	if (!strcmp(key, "im"))
		return !card_list_equal(&a->ims, &b->ims);
	if (!strcmp(key, "label_ids"))
		return !card_categories_equal(a, b);
	if (!strcmp(key, "custom_fields")) {
		if (a->n_fields != b->n_fields)
			return true;
		for (size_t i = 0; i < a->n_fields; i++)
			if (strcmp(a->fields[i].label, b->fields[i].label) ||
			    strcmp(a->fields[i].value, b->fields[i].value))
				return true;
		return false; /* same fields in the same order */
	}
	return false; /* owner_id, visible_to, marketing_status: never from a card */
}

static void check_edit(const uint8_t *data, size_t size, const struct card_model *input_model)
{
	struct seed *s = seed();
	for (int v = 0; v < 2; v++) {
		struct json_object *body = NULL;
		struct person_edit_error err;
		int rc = person_edit_vcard(s->card[v], s->len[v], (const char *)data, size, s->person,
					   &resolver, &body, &err);
		FUZZ_CHECK(rc == 0 || rc == -EINVAL, "person_edit_vcard returned %d", rc);
		FUZZ_CHECK((rc == 0) == (body != NULL), "body and return code disagree");
		FUZZ_CHECK(rc == 0 || err.message[0], "an error without a message");
		if (!body)
			continue;
		FUZZ_CHECK(json_object_is_type(body, json_type_object), "body is not an object");
		json_object_object_foreach(body, key, val)
		{
			(void)val;
			FUZZ_CHECK(is_writable(key), "body holds \"%s\"", key);
			if (input_model)
				FUZZ_CHECK(field_changed(key, &s->model[v], input_model),
					   "body sends %s, which the card did not change", key);
		}
		if (input_model && card_model_equal(&s->model[v], input_model))
			FUZZ_CHECK(json_object_object_length(body) == 0,
				   "an unchanged card sends %s",
				   json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
		json_object_put(body);
	}

	struct json_object *body = NULL;
	struct person_edit_error err;
	struct person_edit_place place = { .owner_id = 3 };
	int rc = person_create_vcard((const char *)data, size, &place, &resolver, &body, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "person_create_vcard returned %d", rc);
	if (body) {
		struct json_object *name;
		FUZZ_CHECK(json_object_object_get_ex(body, "name", &name) &&
				   json_object_is_type(name, json_type_string),
			   "a creation without a name");
		json_object_object_foreach(body, key, val)
		{
			(void)val;
			FUZZ_CHECK(is_writable(key), "creation body holds \"%s\"", key);
		}
		json_object_put(body);
	}
}

static void check_json_edit(const uint8_t *data, size_t size)
{
	struct json_object *body = NULL;
	struct person_edit_error err;
	int rc = person_edit_json(person_json, sizeof person_json - 1, (const char *)data, size,
				  &body, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "person_edit_json returned %d", rc);
	if (!body)
		return;
	json_object_object_foreach(body, key, val)
	{
		(void)val;
		FUZZ_CHECK(is_writable(key), "json body holds \"%s\"", key);
	}
	json_object_put(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcard_card *card = NULL;
	struct vcard_parse_error err;
	int rc = vcard_parse((const char *)data, size, &card, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "vcard_parse returned %d", rc);
	FUZZ_CHECK((rc == 0) == (card != NULL), "card and return code disagree");
	FUZZ_CHECK(rc == 0 || err.message[0], "an error without a message");
	struct card_model model;
	bool have_model = false;
	if (card) {
		for (size_t i = 0; i < card->n_props; i++)
			check_prop(&card->props[i]);
		check_printer(card);
		have_model = card_model_build(card, &model, NULL, 0) == 0;
		if (have_model)
			check_model(&model);
	}
	check_edit(data, size, have_model ? &model : NULL);
	if (size && data[0] == '{')
		check_json_edit(data, size);
	vcard_card_free(card);
	return 0;
}
