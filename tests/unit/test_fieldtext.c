/* Custom field values as the Pipedrive UI shows them (fieldtext.c), and
 * meta's option maps and names behind them (ids as integers or strings). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fieldtext.h"
#include "meta.h"

static const char *option(void *ctx, const struct vcard_id *id)
{
	(void)ctx;
	if (!id->numeric)
		return id->len == 3 && memcmp(id->text, "hot", 3) == 0 ? "Hot lead" : NULL;
	switch (id->num) {
	case 11: return "Inbound";
	case 12: return "Outbound";
	case 13: return "Referral, partner";
	default: return NULL;
	}
}

static const char *name(void *ctx, enum fieldtext_type type, int64_t id)
{
	(void)ctx;
	if (type == FIELDTEXT_USER && id == 2)
		return "Bob M\xC3\xBCller";
	if (type == FIELDTEXT_ORG && id == 1)
		return "Acme, Inc.; EMEA";
	if (type == FIELDTEXT_PEOPLE && id == 29)
		return "John Smith";
	return NULL;
}

static const struct fieldtext_lookup lookup = { .option = option, .name = name };

/* One JSON text scanned, as the daemon scans pages. */
struct scanned {
	struct arena arena;
	struct jsonscan_doc d;
	uint32_t root;
};

static void scan(struct scanned *sc, const char *json)
{
	arena_init(&sc->arena, 0);
	CHECK(jsonscan_parse(&sc->d, json, strlen(json), &sc->arena, NULL) == JSONSCAN_OK);
	sc->root = jsonscan_root(&sc->d);
}

static void check_text(const char *json, enum fieldtext_type type, const char *want)
{
	struct scanned v;
	scan(&v, json);
	struct strbuf sb = STRBUF_INIT;
	fieldtext_append(&sb, &v.d, v.root, type, &lookup, &v.arena);
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, want);
	sb_free(&sb);
	arena_free(&v.arena);
}

static void test_types(void)
{
	CHECK(fieldtext_type_of("varchar_auto") == FIELDTEXT_TEXT);
	CHECK(fieldtext_type_of("timerange") == FIELDTEXT_TIMERANGE);
	CHECK(fieldtext_type_of("json") == FIELDTEXT_OTHER);
	CHECK(fieldtext_type_of(NULL) == FIELDTEXT_OTHER);
	CHECK(fieldtext_is_reference(FIELDTEXT_PEOPLE) && !fieldtext_is_reference(FIELDTEXT_SET));

	check_text("\"Bob\"", FIELDTEXT_TEXT, "Bob");
	check_text("\"+49 30 1234567\"", FIELDTEXT_TEXT, "+49 30 1234567");
	check_text("12.50", FIELDTEXT_DOUBLE, "12.5");
	check_text("12.0", FIELDTEXT_DOUBLE, "12");
	check_text("-0.0", FIELDTEXT_DOUBLE, "0");
	check_text("0.125", FIELDTEXT_DOUBLE, "0.125");
	check_text("1234567.25", FIELDTEXT_DOUBLE, "1234567.25");
	check_text("\"99.990\"", FIELDTEXT_DOUBLE, "99.99");
	check_text("\"n/a\"", FIELDTEXT_DOUBLE, "n/a");
	check_text("7", FIELDTEXT_DOUBLE, "7");
	check_text("{\"value\":8000,\"currency\":\"EUR\"}", FIELDTEXT_MONETARY, "8000 EUR");
	check_text("{\"value\":\"500.00\",\"currency\":\"USD\"}", FIELDTEXT_MONETARY, "500 USD");
	check_text("{\"value\":12.5}", FIELDTEXT_MONETARY, "12.5");
	check_text("{\"value\":\"Main St 1\",\"route\":\"Main St\",\"formatted_address\":"
		   "\"Main St 1, Berlin, Germany\"}", FIELDTEXT_ADDRESS, "Main St 1, Berlin, Germany");
	check_text("{\"value\":\"Main St 1\",\"formatted_address\":null}", FIELDTEXT_ADDRESS,
		   "Main St 1");
	check_text("\"2025-12-31\"", FIELDTEXT_TEXT, "2025-12-31");
	check_text("{\"value\":\"2025-01-01\",\"until\":\"2025-03-31\"}", FIELDTEXT_DATERANGE,
		   "2025-01-01 \xE2\x80\x93 2025-03-31");
	check_text("{\"value\":\"2025-01-01\",\"until\":null}", FIELDTEXT_DATERANGE, "2025-01-01");
	/* time and timerange: a plain string or an object with a time zone */
	check_text("\"09:30:00\"", FIELDTEXT_TIME, "09:30:00");
	check_text("{\"value\":\"09:30:00\",\"timezone_name\":\"Europe/Berlin\"}", FIELDTEXT_TIME,
		   "09:30:00 (Europe/Berlin)");
	check_text("{\"value\":\"09:00:00\",\"until\":\"17:30:00\",\"timezone_name\":"
		   "\"Europe/Tallinn\",\"timezone_id\":7}", FIELDTEXT_TIMERANGE,
		   "09:00:00 \xE2\x80\x93 17:30:00 (Europe/Tallinn)");
	check_text("{\"value\":\"09:00:00\",\"until\":\"17:00:00\"}", FIELDTEXT_TIMERANGE,
		   "09:00:00 \xE2\x80\x93 17:00:00");
	check_text("\"09:00:00\"", FIELDTEXT_TIMERANGE, "09:00:00");
	/* options: labels, never a bare id */
	check_text("13", FIELDTEXT_ENUM, "Referral, partner");
	check_text("\"13\"", FIELDTEXT_ENUM, "Referral, partner");
	check_text("\"hot\"", FIELDTEXT_ENUM, "Hot lead");
	check_text("{\"id\":12,\"label\":\"Outbound\"}", FIELDTEXT_ENUM, "Outbound");
	check_text("99", FIELDTEXT_ENUM, "");
	check_text("\"Inbound (a label)\"", FIELDTEXT_ENUM, "Inbound (a label)");
	check_text("[11,99,13]", FIELDTEXT_SET, "Inbound, Referral, partner");
	check_text("\"11,12\"", FIELDTEXT_SET, "Inbound, Outbound");
	check_text("[{\"id\":11,\"label\":\"Inbound\"},{\"id\":12,\"label\":\"Outbound\"}]",
		   FIELDTEXT_SET, "Inbound, Outbound");
	check_text("[]", FIELDTEXT_SET, "");
	/* users, organizations, persons: their names */
	check_text("2", FIELDTEXT_USER, "Bob M\xC3\xBCller");
	check_text("1", FIELDTEXT_ORG, "Acme, Inc.; EMEA");
	check_text("{\"value\":1}", FIELDTEXT_ORG, "Acme, Inc.; EMEA");
	check_text("{\"value\":5,\"name\":\"Given Name\"}", FIELDTEXT_ORG, "Given Name");
	check_text("29", FIELDTEXT_PEOPLE, "John Smith");
	check_text("\"29\"", FIELDTEXT_PEOPLE, "John Smith");
	check_text("[29,30]", FIELDTEXT_PEOPLE, "John Smith");
	check_text("30", FIELDTEXT_PEOPLE, "");
	/* unknown types: their text, ids left out */
	check_text("true", FIELDTEXT_OTHER, "yes");
	check_text("{\"id\":5}", FIELDTEXT_OTHER, "");
	check_text("{\"id\":5,\"name\":\"Deal X\"}", FIELDTEXT_OTHER, "Deal X");
	check_text("[\"a\",null,\"b\"]", FIELDTEXT_OTHER, "a, b");
	check_text("null", FIELDTEXT_TEXT, "");
	/* escapes are read as their text */
	check_text("\"B\\u00f6b \\\"B\\\"\"", FIELDTEXT_TEXT, "B\xC3\xB6" "b \"B\"");
	check_text("\"\\u0032\\u0039\"", FIELDTEXT_PEOPLE, "John Smith");
	check_text("\"11,12,x\"", FIELDTEXT_SET, "Inbound, Outbound, x");
	check_text("{\"value\":9,\"until\":10,\"timezone_name\":\"UTC\"}", FIELDTEXT_TIMERANGE,
		   "9 \xE2\x80\x93 10 (UTC)");
}

static void collect(void *ctx, enum fieldtext_type type, int64_t id)
{
	int64_t *seen = ctx;
	seen[seen[0]++ + 1] = type == FIELDTEXT_ORG ? -id : id;
}

static void test_references(void)
{
	struct scanned v;
	scan(&v, "[29,\"31\",{\"value\":3},{\"id\":4},\"x\",0]");
	int64_t seen[8] = { 0 };
	fieldtext_each_reference(&v.d, v.root, FIELDTEXT_PEOPLE, collect, seen, &v.arena);
	CHECK(seen[0] == 4 && seen[1] == 29 && seen[2] == 31 && seen[3] == 3 && seen[4] == 4);
	seen[0] = 0;
	fieldtext_each_reference(&v.d, v.root, FIELDTEXT_SET, collect, seen, &v.arena);
	CHECK(seen[0] == 0);
	arena_free(&v.arena);
	scan(&v, "7");
	fieldtext_each_reference(&v.d, v.root, FIELDTEXT_ORG, collect, seen, &v.arena);
	CHECK(seen[0] == 1 && seen[1] == -7);
	arena_free(&v.arena);
}

/* Names as the daemon's cards see them: whatever meta stores, however old. */
static const char *meta_names(void *ctx, enum meta_kind kind, int64_t id)
{
	static char buf[4][128];
	static int next;
	char *b = buf[next++ % 4];
	return meta_name(ctx, kind, id, META_ANY_AGE, b, 128) == META_NAME_KNOWN ? b : NULL;
}

static void collect_meta(void *ctx, enum meta_kind kind, int64_t id)
{
	int64_t *seen = ctx;
	seen[seen[0]++ + 1] = kind == META_USER ? -id : id;
}

/* meta: label and option ids as the spec allows them, names with an age. */
static void test_meta(void)
{
	struct meta *m = meta_new();
	const char *fields = (
		"[{\"field_code\":\"label_ids\",\"field_type\":\"set\",\"is_custom_field\":false,"
		"\"options\":[{\"id\":\"1\",\"label\":\"Customer\"},{\"id\":\"vip\",\"label\":\"VIP\"},"
		"{\"id\":3,\"label\":\"Three\"}]},"
		"{\"field_code\":\"k_enum\",\"field_name\":\"Source\",\"field_type\":\"enum\","
		"\"is_custom_field\":true,\"options\":[{\"id\":11,\"label\":\"Inbound\"},"
		"{\"id\":\"x12\",\"label\":\"Outbound\"}]},"
		"{\"field_code\":\"k_people\",\"field_name\":\"Referred by\",\"field_type\":\"people\","
		"\"is_custom_field\":true,\"options\":null},"
		"{\"field_code\":\"k_user\",\"field_name\":\"Manager\",\"field_type\":\"user\","
		"\"is_custom_field\":true}]");
	CHECK(!meta_person_fields_loaded(m));
	CHECK(meta_person_fields_store_text(m, fields, strlen(fields)) == 0);
	CHECK(meta_person_fields_loaded(m));
	CHECK(meta_person_fields_store_text(m, "[{,]", 4) == -EINVAL);
	const struct meta_fields *f = meta_fields_current(m);
	void *lf = (void *)f;
	struct vcard_id one = { .numeric = true, .num = 1 }, three = { .numeric = true, .num = 3 };
	struct vcard_id vip = { .text = "vip", .len = 3 }, other = { .text = "vi", .len = 2 };
	CHECK(meta_label_name(lf, &one) && strcmp(meta_label_name(lf, &one), "Customer") == 0);
	CHECK(meta_label_name(lf, &three) && strcmp(meta_label_name(lf, &three), "Three") == 0);
	CHECK(meta_label_name(lf, &vip) && strcmp(meta_label_name(lf, &vip), "VIP") == 0);
	CHECK(meta_label_name(lf, &other) == NULL);
	CHECK(meta_custom_field_known(m, "k_enum") && !meta_custom_field_known(m, "k_en"));
	CHECK(meta_has_field_type(m, FIELDTEXT_USER) && !meta_has_field_type(m, FIELDTEXT_ORG));

	char buf[64];
	meta_name_store(m, META_PERSON, 29, "John Smith", 100.0);
	meta_name_store(m, META_ORG, 5, NULL, 100.0);
	CHECK(meta_name(m, META_PERSON, 29, 50.0, buf, sizeof(buf)) == META_NAME_KNOWN &&
	      strcmp(buf, "John Smith") == 0);
	CHECK(meta_name(m, META_PERSON, 29, 150.0, buf, sizeof(buf)) == META_NAME_UNKNOWN);
	CHECK(meta_name(m, META_ORG, 5, 50.0, buf, sizeof(buf)) == META_NAME_NONE);
	CHECK(meta_name(m, META_USER, 29, 50.0, buf, sizeof(buf)) == META_NAME_UNKNOWN);
	meta_names_expire(m, 120.0); /* SIGHUP */
	CHECK(meta_name(m, META_PERSON, 29, 50.0, buf, sizeof(buf)) == META_NAME_UNKNOWN);
	CHECK(meta_name(m, META_PERSON, 29, META_ANY_AGE, buf, sizeof(buf)) == META_NAME_KNOWN);

	struct scanned users;
	scan(&users, "[{\"id\":2,\"name\":\"Bob\"},{\"id\":3,\"name\":\"\\u0041l\"}]");
	CHECK(!meta_users_loaded(m));
	meta_users_store(m, &users.d, users.root, 130.0);
	CHECK(meta_users_loaded(m));
	CHECK(meta_name(m, META_USER, 3, 0, buf, sizeof(buf)) == META_NAME_KNOWN &&
	      strcmp(buf, "Al") == 0);
	arena_free(&users.arena);

	struct scanned custom;
	scan(&custom, "{\"k_enum\":\"x12\",\"k_people\":29,\"k_user\":2,\"k_unknown\":{\"id\":4},"
		      "\"k_gone\":null}");
	struct vcard_field out[8];
	struct strbuf storage = STRBUF_INIT;
	size_t n = meta_custom_fields(f, &custom.d, custom.root, meta_names, m, &custom.arena, out,
				      8, &storage);
	CHECK(n == 3);
	CHECK(n == 3 && strcmp(out[0].label, "Source") == 0 && strcmp(out[0].value, "Outbound") == 0);
	CHECK(n == 3 && strcmp(out[1].value, "John Smith") == 0); /* any age */
	CHECK(n == 3 && strcmp(out[2].label, "Manager") == 0 && strcmp(out[2].value, "Bob") == 0);
	int64_t seen[8] = { 0 };
	CHECK(meta_each_reference(f, &custom.d, custom.root, collect_meta, seen, &custom.arena));
	CHECK(seen[0] == 2 && seen[1] == 29 && seen[2] == -2); /* person 29, user 2 */
	arena_free(&custom.arena);

	/* A key given twice shows once, at its first place, with its last value
	 * (as a json-c object showed it); null as the last value hides it. */
	scan(&custom, "{\"k_user\":3,\"k_enum\":11,\"k_user\":2,\"k_people\":29,\"k_people\":null}");
	n = meta_custom_fields(f, &custom.d, custom.root, meta_names, m, &custom.arena, out, 8,
			       &storage);
	CHECK(n == 2 && strcmp(out[0].value, "Bob") == 0 && strcmp(out[1].value, "Inbound") == 0);
	seen[0] = 0;
	CHECK(meta_each_reference(f, &custom.d, custom.root, collect_meta, seen, &custom.arena));
	CHECK(seen[0] == 1 && seen[1] == -2);
	arena_free(&custom.arena);
	sb_free(&storage);

	/* A set installed later replaces the current one; the older one stays
	 * readable (persons built with it render their cards with it). */
	CHECK(meta_person_fields_store_text(m, "[]", 2) == 0);
	CHECK(meta_fields_current(m) != f && !meta_custom_field_known(m, "k_enum"));
	CHECK(meta_label_name(lf, &one) && strcmp(meta_label_name(lf, &one), "Customer") == 0);
	meta_free(m);
}

/* A pinned name stays what it was when pinned: a card rendered again later
 * shows the same name, whatever meta learnt meanwhile. */
static void test_pins(void)
{
	struct meta *m = meta_new();
	meta_name_store(m, META_ORG, 7, "Acme", 1.0);
	meta_name_store(m, META_USER, 8, NULL, 1.0); /* asked: none */
	struct meta_ref refs[] = { { META_ORG, 7 }, { META_USER, 8 }, { META_PERSON, 9 } };
	struct meta_name *names[3];
	meta_names_pin(m, refs, 3, names);
	CHECK(names[0] && strcmp(meta_name_text(names[0]), "Acme") == 0 &&
	      meta_name_len(names[0]) == 4);
	CHECK(!names[1] && !names[2]);
	meta_name_store(m, META_ORG, 7, "Acme Renamed", 2.0);
	CHECK(strcmp(meta_name_text(names[0]), "Acme") == 0);
	meta_free(m); /* the pinned name outlives meta */
	CHECK(strcmp(meta_name_text(names[0]), "Acme") == 0);
	meta_name_unref(names[0]);
}

int main(void)
{
	test_types();
	test_references();
	test_meta();
	test_pins();
	return check_finish("fieldtext");
}
