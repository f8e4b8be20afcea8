/*
 * vcard.c - render one Pipedrive person (an object of a scanned page) as a
 * vCard 3.0/4.0.
 *
 * Job: turn whatever the API sent into exactly one valid card: UTF-8 only,
 * CRLF after every line, every content line folded at 75 octets without
 * splitting a character or a "\x" escape, FN never empty, TEXT values
 * escaped, URI values percent-encoded.  Mapping and line order follow
 * shared/reference/vcard.md sections 1.2-1.9.  This file assembles the card;
 * the text rules are vcard_text.c, dates vcard_date.c, EMAIL/TEL/IMPP
 * vcard_lists.c.
 *
 * Pure: no I/O, no globals, no locale.  Memory comes from struct strbuf and
 * the scratch arena; a failed allocation is sticky and checked once at the
 * end of vcard_render().
 */
#include "vcard_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PRODID "-//pipedrivefs//pipedrivefs//EN"

/* The person's members the card reads, found in one pass. */
enum person_member {
	M_ID, M_NAME, M_FIRST_NAME, M_LAST_NAME, M_EMAILS, M_PHONES, M_IM, M_BIRTHDAY,
	M_POSTAL_ADDRESS, M_NOTES, M_JOB_TITLE, M_LABEL_IDS, M_ORG_ID, M_OWNER_ID,
	M_UPDATE_TIME, M_COUNT
};

static const struct jsonscan_key person_keys[M_COUNT] = {
	[M_ID] = JSONSCAN_KEY("id"),
	[M_NAME] = JSONSCAN_KEY("name"),
	[M_FIRST_NAME] = JSONSCAN_KEY("first_name"),
	[M_LAST_NAME] = JSONSCAN_KEY("last_name"),
	[M_EMAILS] = JSONSCAN_KEY("emails"),
	[M_PHONES] = JSONSCAN_KEY("phones"),
	[M_IM] = JSONSCAN_KEY("im"),
	[M_BIRTHDAY] = JSONSCAN_KEY("birthday"),
	[M_POSTAL_ADDRESS] = JSONSCAN_KEY("postal_address"),
	[M_NOTES] = JSONSCAN_KEY("notes"),
	[M_JOB_TITLE] = JSONSCAN_KEY("job_title"),
	[M_LABEL_IDS] = JSONSCAN_KEY("label_ids"),
	[M_ORG_ID] = JSONSCAN_KEY("org_id"),
	[M_OWNER_ID] = JSONSCAN_KEY("owner_id"),
	[M_UPDATE_TIME] = JSONSCAN_KEY("update_time"),
};

/* ------------------------------------------------------------------------ */
/* Pieces shared with vcard_lists.c                                         */
/* ------------------------------------------------------------------------ */

const char *card_string(struct card *c, uint32_t t, size_t *n)
{
	const char *s = jsonscan_str(c->d, t, c->scratch, n);
	if (!s && jsonscan_type(c->d, t) == JSONSCAN_STRING)
		c->oom = true; /* could not unescape it */
	return s;
}

struct span card_clean_into(struct strbuf *pool, const char *s, size_t n,
			    enum vcard_text_mode mode)
{
	struct span sp = { pool->len, 0 };
	if (s)
		vcard_clean_text(pool, s, n, mode);
	sp.len = pool->len - sp.off;
	return sp;
}

struct span card_clean_member(struct card *c, struct strbuf *pool, uint32_t obj,
			      const char *key, enum vcard_text_mode mode)
{
	size_t n = 0;
	const char *s = card_string(c, jsonscan_get(c->d, obj, key), &n);
	return card_clean_into(pool, s, n, mode);
}

/* String token t cleaned into the card's pool. */
static struct span clean_token(struct card *c, uint32_t t, enum vcard_text_mode mode)
{
	size_t n = 0;
	const char *s = card_string(c, t, &n);
	return card_clean_into(&c->pool, s, n, mode);
}

void card_line_begin(struct card *c, const char *text)
{
	sb_truncate(&c->line, 0);
	sb_puts(&c->line, text);
}

void card_line_finish(struct card *c)
{
	if (c->opt->measure)
		*c->opt->measure += vcard_fold_line_len(c->line.data, c->line.len);
	else
		vcard_fold_line(c->out, c->line.data, c->line.len);
	sb_truncate(&c->line, 0);
}

void card_put_pref(struct card *c)
{
	sb_puts(&c->line, c->v4 ? ";PREF=1" : ";TYPE=PREF");
}

void card_put_ablabel(struct card *c, const char *label, size_t n)
{
	card_line_begin(c, "item");
	sb_put_int(&c->line, c->item_no);
	sb_puts(&c->line, ".X-ABLabel:");
	vcard_escape_clean(&c->line, label, n);
	card_line_finish(c);
}

struct strbuf card_borrow(struct strbuf *home)
{
	struct strbuf sb = *home;
	sb_init(home);
	sb_truncate(&sb, 0);
	sb.failed = false;
	return sb;
}

void card_release(struct card *c, struct strbuf *sb, struct strbuf *home)
{
	if (sb_failed(sb))
		c->oom = true;
	*home = *sb;
	sb_init(sb);
}

void vcard_buffers_free(struct vcard_buffers *b)
{
	sb_free(&b->line);
	sb_free(&b->pool);
	for (int i = 0; i < 3; i++) {
		sb_free(&b->entries[i]);
		sb_free(&b->text[i]);
	}
}

static void put_fixed_line(struct card *c, const char *text)
{
	card_line_begin(c, text);
	card_line_finish(c);
}

/* NAME:<escaped text>, nothing if the cleaned text is empty. */
static void put_text_property(struct card *c, const char *name, struct span text)
{
	if (text.len == 0)
		return;
	card_line_begin(c, name);
	sb_putc(&c->line, ':');
	vcard_escape_clean(&c->line, span_text(&c->pool, text), text.len);
	card_line_finish(c);
}

static void put_int_property(struct card *c, const char *name, int64_t value)
{
	card_line_begin(c, name);
	sb_putc(&c->line, ':');
	sb_put_int(&c->line, value);
	card_line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                    */
/* ------------------------------------------------------------------------ */

static void put_birthday(struct card *c, uint32_t birthday)
{
	size_t n = 0;
	const char *s = card_string(c, birthday, &n);
	struct date_time dt;
	if (!s || !vcard_parse_date(s, n, &dt))
		return;
	card_line_begin(c, "BDAY:");
	vcard_put_digits(&c->line, dt.year, 4);
	if (!c->v4)
		sb_putc(&c->line, '-');
	vcard_put_digits(&c->line, dt.month, 2);
	if (!c->v4)
		sb_putc(&c->line, '-');
	vcard_put_digits(&c->line, dt.day, 2);
	card_line_finish(c);
}

static void put_revision(struct card *c, uint32_t update_time)
{
	size_t n = 0;
	const char *s = card_string(c, update_time, &n);
	struct date_time dt;
	if (!s || !vcard_parse_timestamp_utc(s, n, &dt))
		return;
	card_line_begin(c, "REV:");
	vcard_put_digits(&c->line, dt.year, 4);
	vcard_put_digits(&c->line, dt.month, 2);
	vcard_put_digits(&c->line, dt.day, 2);
	sb_putc(&c->line, 'T');
	vcard_put_digits(&c->line, dt.hour, 2);
	vcard_put_digits(&c->line, dt.minute, 2);
	vcard_put_digits(&c->line, dt.second, 2);
	sb_putc(&c->line, 'Z');
	card_line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* Names and ADR                                                            */
/* ------------------------------------------------------------------------ */

struct person_names {
	struct span name, first, last;
};

static void put_formatted_name(struct card *c, const struct person_names *nm,
			       const struct contact_list *emails,
			       const struct contact_list *phones)
{
	const char *s;
	size_t n;
	card_line_begin(c, "FN:");
	if (nm->name.len) {
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->name), nm->name.len);
	} else if (nm->first.len || nm->last.len) {
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->first), nm->first.len);
		if (nm->first.len && nm->last.len)
			sb_putc(&c->line, ' ');
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->last), nm->last.len);
	} else if (card_list_first_value(emails, &s, &n) || card_list_first_value(phones, &s, &n)) {
		vcard_escape_clean(&c->line, s, n);
	} else {
		sb_puts(&c->line, "Pipedrive person ");
		sb_put_int(&c->line, c->id);
	}
	card_line_finish(c);
}

static void put_structured_name(struct card *c, const struct person_names *nm)
{
	card_line_begin(c, "N:");
	if (!nm->first.len && !nm->last.len) {
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->name), nm->name.len);
		sb_puts(&c->line, ";;;;");
	} else {
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->last), nm->last.len);
		sb_putc(&c->line, ';');
		vcard_escape_clean(&c->line, span_text(&c->pool, nm->first), nm->first.len);
		sb_puts(&c->line, ";;;");
	}
	card_line_finish(c);
}

/* ---- ADR ---- */

/* Countries that write the house number after the street name, as ISO
 * 3166 alpha-2 / alpha-3 codes, English and local names. */
static const char *const number_after_route_countries[] = {
	"DE", "DEU", "Germany", "Deutschland",
	"NL", "NLD", "Netherlands", "The Netherlands", "Nederland",
	"AT", "AUT", "Austria", "\xC3\x96sterreich",
	"CH", "CHE", "Switzerland", "Schweiz", "Suisse", "Svizzera",
	"IT", "ITA", "Italy", "Italia",
	"ES", "ESP", "Spain", "Espa\303\261a",
	"PL", "POL", "Poland", "Polska",
	"SE", "SWE", "Sweden", "Sverige",
	"NO", "NOR", "Norway", "Norge",
	"DK", "DNK", "Denmark", "Danmark",
	"FI", "FIN", "Finland", "Suomi",
	"BR", "BRA", "Brazil", "Brasil",
	"MX", "MEX", "Mexico", "M\xC3\xA9xico",
	"AR", "ARG", "Argentina",
};

static bool writes_number_after_route(const char *country, size_t n)
{
	size_t count = sizeof number_after_route_countries /
		       sizeof number_after_route_countries[0];
	for (size_t i = 0; i < count; i++)
		if (vcard_equals_ignoring_case(country, n, number_after_route_countries[i]))
			return true;
	return false;
}

struct address {
	struct span number, route, subpremise, locality, region, postal_code,
		country, value;
};

static void put_pool_escaped(struct card *c, struct span sp)
{
	vcard_escape_clean(&c->line, span_text(&c->pool, sp), sp.len);
}

/* The street component: "number route" (or "route number"), ", subpremise". */
static void put_street(struct card *c, const struct address *a)
{
	const char *country = span_text(&c->pool, a->country);
	bool route_first = writes_number_after_route(country, a->country.len);
	struct span first = route_first ? a->route : a->number;
	struct span second = route_first ? a->number : a->route;
	put_pool_escaped(c, first);
	if (first.len && second.len)
		sb_putc(&c->line, ' ');
	put_pool_escaped(c, second);
	if ((first.len || second.len) && a->subpremise.len)
		sb_puts(&c->line, "\\, ");
	put_pool_escaped(c, a->subpremise);
}

static void collect_address(struct card *c, uint32_t pa, struct address *a)
{
	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("street_number"), JSONSCAN_KEY("route"), JSONSCAN_KEY("subpremise"),
		JSONSCAN_KEY("locality"), JSONSCAN_KEY("admin_area_level_1"),
		JSONSCAN_KEY("postal_code"), JSONSCAN_KEY("country"), JSONSCAN_KEY("value"),
	};
	struct span *parts[] = { &a->number, &a->route, &a->subpremise, &a->locality,
				 &a->region, &a->postal_code, &a->country, &a->value };
	const enum vcard_text_mode single = VCARD_TEXT_SINGLE_LINE;
	size_t n = 0;
	memset(a, 0, sizeof *a);
	if (jsonscan_type(c->d, pa) == JSONSCAN_STRING) { /* v1 sent a plain string */
		const char *whole = card_string(c, pa, &n);
		a->value = card_clean_into(&c->pool, whole, n, single);
		return;
	}
	uint32_t m[8];
	jsonscan_get_many(c->d, pa, keys, 8, m);
	for (size_t i = 0; i < 8; i++) {
		const char *s = card_string(c, m[i], &n);
		*parts[i] = card_clean_into(&c->pool, s, n, single);
	}
}

static void put_address(struct card *c, uint32_t postal_address)
{
	struct address a;
	collect_address(c, postal_address, &a);
	bool has_components = a.number.len || a.route.len || a.subpremise.len ||
			      a.locality.len || a.region.len || a.postal_code.len ||
			      a.country.len;
	if (!has_components && !a.value.len)
		return;

	card_line_begin(c, c->v4 ? "ADR;TYPE=work:;;" : "ADR;TYPE=WORK:;;");
	if (has_components)
		put_street(c, &a);
	else
		put_pool_escaped(c, a.value);
	struct span rest[] = { a.locality, a.region, a.postal_code, a.country };
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		sb_putc(&c->line, ';');
		put_pool_escaped(c, rest[i]);
	}
	card_line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* ORG, CATEGORIES, URL, X-PIPEDRIVE-*                                      */
/* ------------------------------------------------------------------------ */

static void put_organization(struct card *c)
{
	const char *org = c->opt->org_name;
	if (!org)
		return;
	put_text_property(c, "ORG",
			  card_clean_into(&c->pool, org, strlen(org), VCARD_TEXT_SINGLE_LINE));
}

static void put_categories(struct card *c, uint32_t ids)
{
	if (!c->opt->label_name || jsonscan_type(c->d, ids) != JSONSCAN_ARRAY)
		return;
	size_t resolved = 0;
	card_line_begin(c, "CATEGORIES:");
	JSONSCAN_FOREACH(c->d, ids, e) {
		struct vcard_id id;
		if (!vcard_id_of(c->d, e, c->scratch, &id))
			continue;
		const char *name = c->opt->label_name(c->opt->label_ctx, &id);
		if (!name)
			continue;
		struct span sp = card_clean_into(&c->pool, name, strlen(name),
						 VCARD_TEXT_SINGLE_LINE);
		if (!sp.len)
			continue;
		if (resolved++)
			sb_putc(&c->line, ',');
		put_pool_escaped(c, sp);
	}
	if (resolved)
		card_line_finish(c);
	else
		sb_truncate(&c->line, 0);
}

/* Characters of an http(s) URL besides the unreserved ones that stay as
 * they are; , and ; are percent-encoded like everything else. */
#define URL_KEEP ":/?#[]!$&'()*=%"

static void put_url(struct card *c)
{
	const char *base = c->opt->app_url;
	card_line_begin(c, "URL:");
	if (base && *base) {
		size_t n = strlen(base);
		while (n > 0 && base[n - 1] == '/')
			n--;
		vcard_percent_encode(&c->line, base, n, URL_KEEP);
	} else {
		const char *company = c->opt->company ? c->opt->company : "";
		sb_puts(&c->line, "https://");
		vcard_percent_encode(&c->line, company, strlen(company), "");
		sb_puts(&c->line, ".pipedrive.com");
	}
	sb_puts(&c->line, "/person/");
	sb_put_int(&c->line, c->id);
	card_line_finish(c);
}

static void put_pipedrive_ids(struct card *c, const uint32_t *m)
{
	int64_t v;
	put_int_property(c, "X-PIPEDRIVE-ID", c->id);
	if (jsonscan_int64(c->d, m[M_ORG_ID], &v) == 0)
		put_int_property(c, "X-PIPEDRIVE-ORG-ID", v);
	if (jsonscan_int64(c->d, m[M_OWNER_ID], &v) == 0)
		put_int_property(c, "X-PIPEDRIVE-OWNER-ID", v);
	if (jsonscan_type(c->d, m[M_LABEL_IDS]) != JSONSCAN_ARRAY)
		return;
	JSONSCAN_FOREACH(c->d, m[M_LABEL_IDS], e) {
		struct vcard_id id;
		if (!vcard_id_of(c->d, e, c->scratch, &id))
			continue;
		if (id.numeric) {
			put_int_property(c, "X-PIPEDRIVE-LABEL-ID", id.num);
		} else {
			put_text_property(c, "X-PIPEDRIVE-LABEL-ID",
					  card_clean_into(&c->pool, id.text, id.len,
							  VCARD_TEXT_SINGLE_LINE));
		}
	}
}

static void put_uid(struct card *c)
{
	if (c->opt->measure) { /* 8-4-4-4-12 hex digits: the length is all that counts */
		card_line_begin(c, c->v4 ? "UID:urn:uuid:" : "UID:");
		sb_append(&c->line, "00000000-0000-0000-0000-000000000000", 36);
		card_line_finish(c);
		return;
	}
	char uuid[37];
	struct strbuf name = STRBUF_INIT;
	sb_puts(&name, "pipedrive:");
	sb_puts(&name, c->opt->company ? c->opt->company : "");
	sb_puts(&name, ":person:");
	sb_put_int(&name, c->id);
	if (!sb_failed(&name)) {
		vcard_uuid5(name.data, uuid);
		card_line_begin(c, c->v4 ? "UID:urn:uuid:" : "UID:");
		sb_append(&c->line, uuid, 36);
		card_line_finish(c);
	} else {
		c->oom = true;
	}
	sb_free(&name);
}

/* ------------------------------------------------------------------------ */
/* The card                                                                 */
/* ------------------------------------------------------------------------ */

/* Custom fields, after NOTE and CATEGORIES: a labelled group each. */
static void put_custom_fields(struct card *c)
{
	for (size_t i = 0; i < c->opt->field_count; i++) {
		const struct vcard_field *f = &c->opt->fields[i];
		if (!f->value || !f->label)
			continue;
		struct span value = card_clean_into(&c->pool, f->value, strlen(f->value),
						    VCARD_TEXT_SINGLE_LINE);
		if (value.len == 0)
			continue;
		struct span label = card_clean_into(&c->pool, f->label, strlen(f->label),
						    VCARD_TEXT_SINGLE_LINE);
		c->item_no++;
		card_line_begin(c, "item");
		sb_put_int(&c->line, c->item_no);
		sb_puts(&c->line, ".X-PIPEDRIVE-FIELD:");
		vcard_escape_clean(&c->line, span_text(&c->pool, value), value.len);
		card_line_finish(c);
		card_put_ablabel(c, span_text(&c->pool, label), label.len);
	}
}

static void put_card_body(struct card *c, const uint32_t *m)
{
	const enum vcard_text_mode single = VCARD_TEXT_SINGLE_LINE;
	struct person_names names = {
		.name = clean_token(c, m[M_NAME], single),
		.first = clean_token(c, m[M_FIRST_NAME], single),
		.last = clean_token(c, m[M_LAST_NAME], single),
	};
	struct contact_list emails, phones, ims;
	card_collect_list(c, &emails, 0, m[M_EMAILS], DROP_DUPLICATES);
	card_collect_list(c, &phones, 1, m[M_PHONES], DROP_DUPLICATES);
	/* the same handle on two services is two accounts */
	card_collect_list(c, &ims, 2, m[M_IM], KEEP_DUPLICATES);

	put_fixed_line(c, "BEGIN:VCARD");
	put_fixed_line(c, c->v4 ? "VERSION:4.0" : "VERSION:3.0");
	put_fixed_line(c, "PRODID:" PRODID);
	put_uid(c);
	if (c->v4)
		put_fixed_line(c, "KIND:individual");
	put_formatted_name(c, &names, &emails, &phones);
	put_structured_name(c, &names);
	put_organization(c);
	put_text_property(c, "TITLE", clean_token(c, m[M_JOB_TITLE], single));
	card_put_emails(c, &emails);
	card_put_phones(c, &phones);
	card_put_ims(c, &ims);
	put_birthday(c, m[M_BIRTHDAY]);
	put_address(c, m[M_POSTAL_ADDRESS]);
	put_text_property(c, "NOTE", clean_token(c, m[M_NOTES], VCARD_TEXT_MULTI_LINE));
	put_categories(c, m[M_LABEL_IDS]);
	put_custom_fields(c);
	put_url(c);
	put_pipedrive_ids(c, m);
	put_revision(c, m[M_UPDATE_TIME]);
	put_fixed_line(c, "END:VCARD");

	card_release_list(c, &emails);
	card_release_list(c, &phones);
	card_release_list(c, &ims);
}

int vcard_render(const struct jsonscan_doc *d, uint32_t person, const struct vcard_options *opt,
		 struct strbuf *out)
{
	int64_t id;
	uint32_t m[M_COUNT];
	if (!opt || jsonscan_type(d, person) != JSONSCAN_OBJECT)
		return -EINVAL;
	jsonscan_get_many(d, person, person_keys, M_COUNT, m);
	if (jsonscan_int64(d, m[M_ID], &id) != 0)
		return -EINVAL;

	struct arena own;
	arena_init(&own, 1024);
	struct vcard_buffers own_buffers = { 0 };
	struct vcard_buffers *b = opt->buffers ? opt->buffers : &own_buffers;
	struct card c = {
		.opt = opt,
		.d = d,
		.person = person,
		.scratch = opt->scratch ? opt->scratch : &own,
		.buf = b,
		.v4 = opt->version == VCARD_V40,
		.id = id,
		.out = out,
		.line = card_borrow(&b->line),
		.pool = card_borrow(&b->pool),
	};
	put_card_body(&c, m);
	card_release(&c, &c.line, &b->line);
	card_release(&c, &c.pool, &b->pool);
	arena_free(&own);
	vcard_buffers_free(&own_buffers);
	if (c.oom || sb_failed(out)) {
		out->failed = true;
		return -ENOMEM;
	}
	return 0;
}
