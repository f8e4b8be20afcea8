/*
 * vcard_lists.c - emails[], phones[] and im[] as EMAIL, TEL and IMPP lines
 * (vcard_internal.h): ordered (primary first), de-duplicated, labels as
 * TYPE parameters or Apple's itemN.X-ABLabel.  Pure.
 */
#include "vcard_internal.h"

#include <stdlib.h>
#include <string.h>

struct list_entry {
	struct span value, label; /* cleaned, in contact_list.text */
	const char *value_ptr;    /* set once text stops growing (sorting) */
	size_t index;             /* position in the JSON array */
	bool primary;
	bool duplicate;
};

static struct list_entry *list_entries(const struct contact_list *l)
{
	return (struct list_entry *)(void *)l->entries.data;
}

/* An element is {value, primary, label} or, tolerated, a bare string. */
static void collect_entry(struct card *c, struct contact_list *l, uint32_t item, size_t index)
{
	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("value"), JSONSCAN_KEY("primary"), JSONSCAN_KEY("label"),
	};
	uint32_t m[3] = { 0, 0, 0 };
	struct list_entry e = { .index = index };
	size_t n = 0;
	const char *value;
	if (jsonscan_type(c->d, item) == JSONSCAN_STRING) {
		value = card_string(c, item, &n);
	} else {
		jsonscan_get_many(c->d, item, keys, 3, m);
		value = card_string(c, m[0], &n);
		e.primary = jsonscan_is_true(c->d, m[1]);
	}
	e.value = card_clean_into(&l->text, value, n, VCARD_TEXT_SINGLE_LINE);
	if (e.value.len == 0)
		return;
	const char *label = card_string(c, m[2], &n);
	e.label = card_clean_into(&l->text, label, n, VCARD_TEXT_SINGLE_LINE);
	sb_append(&l->entries, &e, sizeof e);
	if (!sb_failed(&l->entries))
		l->count++;
}

/* Primary entries first, otherwise the order of the JSON array. */
static int compare_emit_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	if (x->primary != y->primary)
		return x->primary ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static int compare_value_then_emit_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	size_t common = x->value.len < y->value.len ? x->value.len : y->value.len;
	int r = memcmp(x->value_ptr, y->value_ptr, common);
	if (r)
		return r;
	if (x->value.len != y->value.len)
		return x->value.len < y->value.len ? -1 : 1;
	return compare_emit_order(a, b);
}

/* Flag every entry whose value equals an earlier one in emit order
 * (sorting: O(n log n), so a huge array stays cheap). */
static void flag_duplicates(struct contact_list *l)
{
	struct list_entry *e = list_entries(l);
	for (size_t i = 0; i < l->count; i++)
		e[i].value_ptr = l->text.data + e[i].value.off;
	qsort(e, l->count, sizeof *e, compare_value_then_emit_order);
	for (size_t i = 1; i < l->count; i++)
		e[i].duplicate = e[i].value.len == e[i - 1].value.len &&
				 memcmp(e[i].value_ptr, e[i - 1].value_ptr,
					e[i].value.len) == 0;
}

void card_collect_list(struct card *c, struct contact_list *l, int slot, uint32_t array,
		       enum duplicates duplicates)
{
	l->slot = slot;
	l->entries = card_borrow(&c->buf->entries[slot]);
	l->text = card_borrow(&c->buf->text[slot]);
	l->count = 0;
	if (jsonscan_type(c->d, array) != JSONSCAN_ARRAY)
		return;
	size_t i = 0;
	JSONSCAN_FOREACH(c->d, array, item)
		collect_entry(c, l, item, i++);
	if (l->count < 2)
		return;
	if (duplicates == DROP_DUPLICATES)
		flag_duplicates(l);
	qsort(list_entries(l), l->count, sizeof(struct list_entry), compare_emit_order);
}

/* The first entry in emit order: the primary one, else the first non-empty
 * one. */
bool card_list_first_value(const struct contact_list *l, const char **s, size_t *n)
{
	if (l->count == 0)
		return false;
	struct list_entry *first = &list_entries(l)[0];
	*s = l->text.data + first->value.off;
	*n = first->value.len;
	return true;
}

void card_release_list(struct card *c, struct contact_list *l)
{
	card_release(c, &l->entries, &c->buf->entries[l->slot]);
	card_release(c, &l->text, &c->buf->text[l->slot]);
}

/* ---- EMAIL and TEL ---- */

struct label_params {
	const char *label; /* lower-case Pipedrive label; NULL = custom label */
	const char *v30, *v40;
};

struct list_style {
	const char *property;
	const struct label_params *known;
	size_t n_known;
	struct label_params custom; /* parameters for itemN.<property> */
};

static const struct label_params email_labels[] = {
	{ "work", ";TYPE=INTERNET;TYPE=WORK", ";TYPE=work" },
	{ "home", ";TYPE=INTERNET;TYPE=HOME", ";TYPE=home" },
	{ "other", ";TYPE=INTERNET", "" },
	{ "", ";TYPE=INTERNET", "" },
};

static const struct label_params phone_labels[] = {
	{ "work", ";TYPE=WORK;TYPE=VOICE", ";TYPE=work" },
	{ "home", ";TYPE=HOME;TYPE=VOICE", ";TYPE=home" },
	{ "mobile", ";TYPE=CELL;TYPE=VOICE", ";TYPE=cell" },
	{ "other", ";TYPE=VOICE", ";TYPE=voice" },
	{ "", ";TYPE=VOICE", ";TYPE=voice" },
};

static const struct list_style email_style = {
	"EMAIL", email_labels, sizeof email_labels / sizeof email_labels[0],
	{ NULL, ";TYPE=INTERNET", "" },
};

static const struct list_style phone_style = {
	"TEL", phone_labels, sizeof phone_labels / sizeof phone_labels[0],
	{ NULL, ";TYPE=VOICE", ";TYPE=voice" },
};

static const struct label_params *find_label_params(const struct list_style *style,
						    const char *label, size_t n)
{
	for (size_t i = 0; i < style->n_known; i++)
		if (vcard_equals_ignoring_case(label, n, style->known[i].label))
			return &style->known[i];
	return NULL;
}

static void put_contact_list(struct card *c, const struct contact_list *l,
			     const struct list_style *style)
{
	bool pref_given = false;
	for (size_t i = 0; i < l->count; i++) {
		const struct list_entry *e = &list_entries(l)[i];
		if (e->duplicate)
			continue;
		const char *label = span_text(&l->text, e->label);
		const struct label_params *params =
			find_label_params(style, label, e->label.len);
		card_line_begin(c, "");
		if (!params) {
			params = &style->custom;
			sb_puts(&c->line, "item");
			sb_put_int(&c->line, ++c->item_no);
			sb_putc(&c->line, '.');
		}
		sb_puts(&c->line, style->property);
		sb_puts(&c->line, c->v4 ? params->v40 : params->v30);
		if (e->primary && !pref_given) {
			card_put_pref(c);
			pref_given = true;
		}
		sb_putc(&c->line, ':');
		vcard_escape_clean(&c->line, span_text(&l->text, e->value), e->value.len);
		card_line_finish(c);
		if (params == &style->custom)
			card_put_ablabel(c, label, e->label.len);
	}
}

/* ---- IMPP ---- */

struct im_service {
	const char *label;       /* lower-case Pipedrive label */
	const char *service30;   /* X-SERVICE-TYPE in 3.0 */
	const char *service40;   /* X-SERVICE-TYPE in 4.0, NULL = none */
	const char *scheme;      /* URI scheme of the IMPP value */
	const char *x_property;  /* 3.0 duplicate that Evolution reads */
};

static const struct im_service im_services[] = {
	{ "skype", "Skype", "Skype", "skype", "X-SKYPE" },
	{ "jabber", "Jabber", NULL, "xmpp", "X-JABBER" },
	{ "xmpp", "Jabber", NULL, "xmpp", "X-JABBER" },
	{ "google", "Jabber", NULL, "xmpp", "X-GOOGLE-TALK" },
	{ "aim", "AIM", "AIM", "aim", "X-AIM" },
	{ "icq", "ICQ", "ICQ", "aim", "X-ICQ" }, /* Apple writes ICQ as aim: */
	{ "msn", "MSN", "MSN", "msnim", "X-MSN" },
	{ "yahoo", "Yahoo", "Yahoo", "ymsgr", "X-YAHOO" },
	{ "sip", "SIP", "SIP", "sip", "X-SIP" },
	{ "matrix", "Matrix", "Matrix", "matrix", "X-MATRIX" },
};

static const struct im_service *find_im_service(const char *label, size_t n)
{
	for (size_t i = 0; i < sizeof im_services / sizeof im_services[0]; i++)
		if (vcard_equals_ignoring_case(label, n, im_services[i].label))
			return &im_services[i];
	return NULL;
}

/* A custom label as a parameter value: DQUOTE is not allowed at all, and the
 * value is quoted if it holds , ; or : (RFC 2426 / 6350 param-value). */
static void put_param_value(struct strbuf *line, const char *s, size_t n)
{
	bool needs_quotes = false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == ';' || s[i] == ':')
			needs_quotes = true;
	if (needs_quotes)
		sb_putc(line, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		sb_append(line, s + run, i - run);
		run = i + 1;
	}
	sb_append(line, s + run, n - run);
	if (needs_quotes)
		sb_putc(line, '"');
}

static void put_im_entry(struct card *c, const struct contact_list *l,
			 const struct list_entry *e, bool pref)
{
	const char *label = span_text(&l->text, e->label);
	const char *value = span_text(&l->text, e->value);
	const struct im_service *svc = find_im_service(label, e->label.len);

	card_line_begin(c, "IMPP");
	if (svc) {
		const char *type = c->v4 ? svc->service40 : svc->service30;
		if (type) {
			sb_puts(&c->line, ";X-SERVICE-TYPE=");
			sb_puts(&c->line, type);
		}
	} else if (e->label.len) {
		sb_puts(&c->line, ";X-SERVICE-TYPE=");
		put_param_value(&c->line, label, e->label.len);
	}
	if (pref)
		card_put_pref(c);
	sb_putc(&c->line, ':');
	sb_puts(&c->line, svc ? svc->scheme : "x-apple");
	sb_putc(&c->line, ':');
	vcard_percent_encode(&c->line, value, e->value.len, "");
	card_line_finish(c);

	if (svc && !c->v4) {
		card_line_begin(c, svc->x_property);
		sb_putc(&c->line, ':');
		vcard_escape_clean(&c->line, value, e->value.len);
		card_line_finish(c);
	}
}

void card_put_ims(struct card *c, const struct contact_list *l)
{
	bool pref_given = false;
	for (size_t i = 0; i < l->count; i++) {
		const struct list_entry *e = &list_entries(l)[i];
		if (e->duplicate)
			continue;
		bool pref = e->primary && !pref_given;
		pref_given = pref_given || pref;
		put_im_entry(c, l, e, pref);
	}
}

void card_put_emails(struct card *c, const struct contact_list *l)
{
	put_contact_list(c, l, &email_style);
}

void card_put_phones(struct card *c, const struct contact_list *l)
{
	put_contact_list(c, l, &phone_style);
}
