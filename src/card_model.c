/*
 * card_model.c - a parsed vCard -> the person fields it states (card_model.h).
 *
 * Job: read each property Pipedrive can hold into one logical value,
 * independent of how the writer spelled it (order, case, groups, 3.0 or
 * 4.0 preference syntax, "tel:" URIs, IMPP schemes); compare two models;
 * print a model back as a card for the fuzz harness.
 *
 * Pure; strings are allocated in the card's arena.
 */
#include "card_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_entry.h"

struct builder {
	struct vcard_card *card;
	struct card_labels *labels;
	struct card_model *m;
	char *msg;
	size_t msg_len;
};

static int oom(struct builder *b)
{
	snprintf(b->msg, b->msg_len, "out of memory");
	return -ENOMEM;
}

/* The items of one component joined with "," (what the writer typed when it
 * did not escape its commas), trimmed. */
static const char *component_text(struct builder *b, const struct vcard_prop *p, size_t c)
{
	if (c >= p->n_comps)
		return "";
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < p->comps[c].n_items; i++) {
		if (i)
			sb_putc(&sb, ',');
		sb_puts(&sb, p->comps[c].items[i]);
	}
	const char *t = sb_failed(&sb) ? NULL : vcard_card_strtrim(b->card, sb.data ? sb.data : "", sb.len);
	sb_free(&sb);
	return t;
}

/* ------------------------------------------------------------------------ */
/* Single-valued properties                                                 */
/* ------------------------------------------------------------------------ */

/* Take the trimmed text of p into *slot; an empty text is absence. */
static int take_single(struct builder *b, const struct vcard_prop *p, const char **slot,
		       bool *seen)
{
	if (*seen) {
		snprintf(b->msg, b->msg_len, "line %zu: the card has %s twice; Pipedrive keeps one",
			 p->line, p->name);
		return -EINVAL;
	}
	*seen = true;
	const char *t = vcard_card_strtrim(b->card, p->text, p->text_len);
	if (!t)
		return oom(b);
	*slot = *t ? t : NULL;
	return 0;
}

bool card_is_date(const char *s, size_t n)
{
	static const int days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	static const size_t start[3] = { 0, 5, 8 }, width[3] = { 4, 2, 2 };
	int v[3] = { 0, 0, 0 }; /* year, month, day */
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t k = 0; k < 3; k++)
		for (size_t i = start[k]; i < start[k] + width[k]; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			v[k] = v[k] * 10 + (s[i] - '0');
		}
	if (v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days[v[1] - 1])
		return false;
	return v[1] != 2 || v[2] < 29 || (v[0] % 4 == 0 && (v[0] % 100 != 0 || v[0] % 400 == 0));
}

/* "YYYY-MM-DD" or "YYYYMMDD", optionally followed by "T<time>". */
static void normalise_birthday(struct builder *b)
{
	struct card_model *m = b->m;
	const char *s = m->birthday;
	size_t n = strcspn(s, "Tt");
	char date[11];
	if (n == 8 && strspn(s, "0123456789") >= 8)
		snprintf(date, sizeof date, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
	else if (n == 10)
		snprintf(date, sizeof date, "%.10s", s);
	else
		return;
	if (!card_is_date(date, 10))
		return; /* kept as text, compared as text */
	const char *copy = vcard_card_strndup(b->card, date, 10);
	if (copy) {
		m->birthday = copy;
		m->birthday_is_date = true;
	}
}

static int take_name(struct builder *b, const struct vcard_prop *p)
{
	struct card_model *m = b->m;
	if (m->has_n) {
		snprintf(b->msg, b->msg_len, "line %zu: the card has N twice", p->line);
		return -EINVAL;
	}
	m->has_n = true;
	const char **slots[] = { &m->family, &m->given, &m->additional, &m->prefix, &m->suffix };
	for (size_t c = 0; c < 5; c++)
		if (!(*slots[c] = component_text(b, p, c)))
			return oom(b);
	return 0;
}

static int take_address(struct builder *b, const struct vcard_prop *p)
{
	struct card_address *a = &b->m->address;
	if (a->present) {
		snprintf(b->msg, b->msg_len,
			 "line %zu: the card has two ADR; Pipedrive keeps one postal address", p->line);
		return -EINVAL;
	}
	const char **slots[] = { &a->pobox, &a->extended, &a->street, &a->locality,
				 &a->region, &a->postal_code, &a->country };
	bool any = false;
	for (size_t c = 0; c < 7; c++) {
		if (!(*slots[c] = component_text(b, p, c)))
			return oom(b);
		any = any || **slots[c];
	}
	a->present = any;
	return 0;
}

/* ORG: the components joined with ";" (our renderer escapes ";" in names, so
 * its ORG is one component), trailing empty units dropped. */
static int take_org(struct builder *b, const struct vcard_prop *p, bool *seen)
{
	if (*seen) {
		snprintf(b->msg, b->msg_len, "line %zu: the card has ORG twice; a person has one organization",
			 p->line);
		return -EINVAL;
	}
	*seen = true;
	size_t last = p->n_comps;
	struct strbuf sb = STRBUF_INIT;
	while (last > 1) {
		const char *t = component_text(b, p, last - 1);
		if (!t)
			return oom(b);
		if (*t)
			break;
		last--;
	}
	for (size_t c = 0; c < last; c++) {
		if (c)
			sb_putc(&sb, ';');
		sb_puts(&sb, component_text(b, p, c));
	}
	const char *t = sb_failed(&sb) ? NULL : vcard_card_strtrim(b->card, sb.data ? sb.data : "", sb.len);
	sb_free(&sb);
	if (!t)
		return oom(b);
	b->m->org = *t ? t : NULL;
	return 0;
}

static int take_categories(struct builder *b, const struct vcard_prop *p, struct strbuf *list)
{
	for (size_t c = 0; c < p->n_comps; c++) {
		for (size_t i = 0; i < p->comps[c].n_items; i++) {
			const char *item = p->comps[c].items[i];
			const char *t = vcard_card_strtrim(b->card, item, strlen(item));
			if (!t)
				return oom(b);
			if (*t)
				sb_append(list, &t, sizeof t);
		}
	}
	return sb_failed(list) ? oom(b) : 0;
}

struct ranked {
	const char *s;
	size_t index;
};

static int compare_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int r = strcmp(x->s, y->s);
	return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* Drop later duplicates of a string list, keeping the order (sorting, so a
 * card with thousands of categories stays cheap). */
static int drop_duplicates(const char **list, size_t *n)
{
	if (*n < 2)
		return 0;
	struct ranked *r = malloc(*n * sizeof *r);
	bool *dup = calloc(*n, sizeof *dup);
	if (!r || !dup) {
		free(r);
		free(dup);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *n; i++)
		r[i] = (struct ranked){ list[i], i };
	qsort(r, *n, sizeof *r, compare_ranked);
	for (size_t i = 1; i < *n; i++)
		if (strcmp(r[i].s, r[i - 1].s) == 0)
			dup[r[i].index] = true;
	size_t o = 0;
	for (size_t i = 0; i < *n; i++)
		if (!dup[i])
			list[o++] = list[i];
	*n = o;
	free(r);
	free(dup);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* EMAIL, TEL, IMPP                                                         */
/* ------------------------------------------------------------------------ */

struct pending_list {
	struct strbuf entries; /* struct card_entry */
	struct strbuf ranks;   /* int, the PREF rank of each */
};

static int take_entry(struct builder *b, const struct vcard_prop *p, enum card_entry_kind kind,
		      struct pending_list *l)
{
	struct card_entry e;
	if (card_entry_read(b->labels, b->card, p, kind, &e))
		return oom(b);
	if (!*e.value)
		return 0;
	int rank = vcard_prop_pref(p);
	sb_append(&l->entries, &e, sizeof e);
	sb_append(&l->ranks, &rank, sizeof rank);
	return sb_failed(&l->entries) || sb_failed(&l->ranks) ? oom(b) : 0;
}

/* Move the pending entries into the arena; the lowest PREF rank (first of
 * equals) is the primary one. */
static int finish_list(struct builder *b, struct pending_list *l, struct card_list *out)
{
	size_t n = l->entries.len / sizeof(struct card_entry);
	out->n = n;
	out->items = NULL;
	if (n) {
		out->items = vcard_card_alloc(b->card, l->entries.len);
		if (!out->items)
			return oom(b);
		memcpy(out->items, l->entries.data, l->entries.len);
		const int *ranks = (const int *)(void *)l->ranks.data;
		size_t best = n;
		for (size_t i = 0; i < n; i++)
			if (ranks[i] > 0 && (best == n || ranks[i] < ranks[best]))
				best = i;
		if (best < n)
			out->items[best].primary = true;
	}
	sb_free(&l->entries);
	sb_free(&l->ranks);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Custom fields                                                            */
/* ------------------------------------------------------------------------ */

static int take_field(struct builder *b, const struct vcard_prop *p, struct strbuf *fields)
{
	const char *label = card_group_label(b->labels, b->card, p);
	if (!label || !*label) {
		snprintf(b->msg, b->msg_len,
			 "line %zu: X-PIPEDRIVE-FIELD without an X-ABLabel naming its field", p->line);
		return -EINVAL;
	}
	struct card_field f = { .label = label, .value = vcard_card_strtrim(b->card, p->text, p->text_len) };
	if (!f.value)
		return oom(b);
	sb_append(fields, &f, sizeof f);
	return sb_failed(fields) ? oom(b) : 0;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                */
/* ------------------------------------------------------------------------ */

struct seen {
	bool fn, title, note, bday, org, uid, id;
};

static int take_property(struct builder *b, const struct vcard_prop *p, struct seen *seen,
			 struct pending_list lists[3], struct strbuf *categories,
			 struct strbuf *fields)
{
	struct card_model *m = b->m;
	if (vcard_prop_is(p, "FN"))
		return take_single(b, p, &m->fn, &seen->fn);
	if (vcard_prop_is(p, "N"))
		return take_name(b, p);
	if (vcard_prop_is(p, "TITLE"))
		return take_single(b, p, &m->title, &seen->title);
	if (vcard_prop_is(p, "NOTE"))
		return take_single(b, p, &m->note, &seen->note);
	if (vcard_prop_is(p, "BDAY")) {
		int rc = take_single(b, p, &m->birthday, &seen->bday);
		if (rc == 0 && m->birthday)
			normalise_birthday(b);
		return rc;
	}
	if (vcard_prop_is(p, "UID"))
		return take_single(b, p, &m->uid, &seen->uid);
	if (vcard_prop_is(p, "X-PIPEDRIVE-ID"))
		return take_single(b, p, &m->pipedrive_id, &seen->id);
	if (vcard_prop_is(p, "ORG"))
		return take_org(b, p, &seen->org);
	if (vcard_prop_is(p, "ADR"))
		return take_address(b, p);
	if (vcard_prop_is(p, "CATEGORIES"))
		return take_categories(b, p, categories);
	if (vcard_prop_is(p, "EMAIL"))
		return take_entry(b, p, CARD_EMAIL, &lists[CARD_EMAIL]);
	if (vcard_prop_is(p, "TEL"))
		return take_entry(b, p, CARD_TEL, &lists[CARD_TEL]);
	if (vcard_prop_is(p, "IMPP"))
		return take_entry(b, p, CARD_IMPP, &lists[CARD_IMPP]);
	if (vcard_prop_is(p, "X-PIPEDRIVE-FIELD"))
		return take_field(b, p, fields);
	return 0; /* not something Pipedrive holds */
}

/* The elements collected in sb, copied into the card's arena. */
static void *move_to_arena(struct vcard_card *card, const struct strbuf *sb, size_t *count,
			   size_t size)
{
	void *p = vcard_card_alloc(card, sb->len);
	if (p)
		memcpy(p, sb->data, sb->len);
	*count = p ? sb->len / size : 0;
	return p;
}

int card_model_build(struct vcard_card *card, struct card_model *m, char *msg, size_t msg_len)
{
	char scratch[8];
	if (!msg || !msg_len) {
		msg = scratch;
		msg_len = sizeof scratch;
	}
	msg[0] = '\0';
	memset(m, 0, sizeof *m);
	m->family = m->given = m->additional = m->prefix = m->suffix = "";
	struct builder b = { card, card_labels_index(card), m, msg, msg_len };
	if (!b.labels)
		return oom(&b);
	struct pending_list lists[3] = {
		{ STRBUF_INIT, STRBUF_INIT }, { STRBUF_INIT, STRBUF_INIT }, { STRBUF_INIT, STRBUF_INIT }
	};
	struct strbuf categories = STRBUF_INIT, fields = STRBUF_INIT;
	struct seen seen = { 0 };
	int rc = 0;
	for (size_t i = 0; i < card->n_props && rc == 0; i++)
		rc = take_property(&b, &card->props[i], &seen, lists, &categories, &fields);

	struct card_list *outs[3] = { &m->emails, &m->phones, &m->ims };
	for (size_t k = 0; k < 3; k++)
		if (finish_list(&b, &lists[k], outs[k]) && rc == 0)
			rc = -ENOMEM;
	if (rc == 0 && categories.len) {
		m->categories = move_to_arena(card, &categories, &m->n_categories, sizeof(char *));
		if (!m->categories || drop_duplicates(m->categories, &m->n_categories))
			rc = oom(&b);
	}
	if (rc == 0 && fields.len &&
	    !(m->fields = move_to_arena(card, &fields, &m->n_fields, sizeof(struct card_field))))
		rc = oom(&b);
	sb_free(&categories);
	sb_free(&fields);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Comparison                                                               */
/* ------------------------------------------------------------------------ */

bool card_text_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int compare_entries(const void *a, const void *b)
{
	const struct card_entry *x = a, *y = b;
	int r = strcmp(x->value, y->value);
	if (!r)
		r = strcmp(x->label, y->label);
	return r ? r : (int)x->primary - (int)y->primary;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Equal as multisets: n elements of `size` bytes each, sorted copies compared. */
static bool same_elements(const void *a, const void *b, size_t n, size_t size,
			  int (*cmp)(const void *, const void *))
{
	if (n == 0)
		return true;
	char *x = malloc(n * size), *y = malloc(n * size);
	bool equal = x && y;
	if (equal) {
		memcpy(x, a, n * size);
		memcpy(y, b, n * size);
		qsort(x, n, size, cmp);
		qsort(y, n, size, cmp);
		for (size_t i = 0; i < n && equal; i++)
			equal = cmp(x + i * size, y + i * size) == 0;
	}
	free(x);
	free(y);
	return equal;
}

bool card_list_equal(const struct card_list *a, const struct card_list *b)
{
	return a->n == b->n &&
	       same_elements(a->items, b->items, a->n, sizeof *a->items, compare_entries);
}

bool card_categories_equal(const struct card_model *a, const struct card_model *b)
{
	return a->n_categories == b->n_categories &&
	       same_elements(a->categories, b->categories, a->n_categories, sizeof(char *),
			     compare_strings);
}

bool card_address_equal(const struct card_address *a, const struct card_address *b)
{
	if (a->present != b->present)
		return false;
	return !a->present ||
	       (strcmp(a->pobox, b->pobox) == 0 && strcmp(a->extended, b->extended) == 0 &&
		strcmp(a->street, b->street) == 0 && strcmp(a->locality, b->locality) == 0 &&
		strcmp(a->region, b->region) == 0 && strcmp(a->postal_code, b->postal_code) == 0 &&
		strcmp(a->country, b->country) == 0);
}

bool card_model_equal(const struct card_model *a, const struct card_model *b)
{
	if (!card_text_equal(a->fn, b->fn) || a->has_n != b->has_n ||
	    strcmp(a->family, b->family) || strcmp(a->given, b->given) ||
	    strcmp(a->additional, b->additional) || strcmp(a->prefix, b->prefix) ||
	    strcmp(a->suffix, b->suffix) || !card_text_equal(a->title, b->title) ||
	    !card_text_equal(a->note, b->note) || !card_text_equal(a->org, b->org) ||
	    !card_text_equal(a->birthday, b->birthday) ||
	    a->birthday_is_date != b->birthday_is_date || !card_text_equal(a->uid, b->uid) ||
	    !card_text_equal(a->pipedrive_id, b->pipedrive_id) ||
	    !card_address_equal(&a->address, &b->address) ||
	    !card_list_equal(&a->emails, &b->emails) || !card_list_equal(&a->phones, &b->phones) ||
	    !card_list_equal(&a->ims, &b->ims) || !card_categories_equal(a, b) ||
	    a->n_fields != b->n_fields)
		return false;
	for (size_t i = 0; i < a->n_fields; i++)
		if (strcmp(a->fields[i].label, b->fields[i].label) ||
		    strcmp(a->fields[i].value, b->fields[i].value))
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Printing a model                                                         */
/* ------------------------------------------------------------------------ */

struct printer {
	struct strbuf *out;
	struct strbuf line;
	bool v4;
	unsigned item;
};

static void put_escaped(struct strbuf *line, const char *s)
{
	vcard_escape_item(line, s);
}

static void emit(struct printer *pr)
{
	vcard_fold_line(pr->out, pr->line.data ? pr->line.data : "", pr->line.len);
	sb_truncate(&pr->line, 0);
}

static void put_text_line(struct printer *pr, const char *name, const char *value)
{
	if (!value)
		return;
	sb_puts(&pr->line, name);
	sb_putc(&pr->line, ':');
	put_escaped(&pr->line, value);
	emit(pr);
}

static void put_ablabel(struct printer *pr, const char *label)
{
	sb_printf(&pr->line, "item%u.X-ABLabel:", pr->item);
	put_escaped(&pr->line, label);
	emit(pr);
}

static void put_components(struct printer *pr, const char *name, const char *const *parts,
			   size_t n)
{
	sb_puts(&pr->line, name);
	sb_putc(&pr->line, ':');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(&pr->line, ';');
		put_escaped(&pr->line, parts[i]);
	}
	emit(pr);
}

void card_model_print(const struct card_model *m, enum vcard_version version, struct strbuf *out)
{
	struct printer pr = { .out = out, .line = STRBUF_INIT, .v4 = version == VCARD_V40 };
	vcard_fold_line(out, "BEGIN:VCARD", 11);
	vcard_fold_line(out, pr.v4 ? "VERSION:4.0" : "VERSION:3.0", 11);
	put_text_line(&pr, "UID", m->uid);
	put_text_line(&pr, "FN", m->fn);
	if (m->has_n) {
		const char *n[] = { m->family, m->given, m->additional, m->prefix, m->suffix };
		put_components(&pr, "N", n, 5);
	}
	put_text_line(&pr, "ORG", m->org);
	put_text_line(&pr, "TITLE", m->title);
	const struct card_list *lists[] = { &m->emails, &m->phones, &m->ims };
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < lists[k]->n; i++)
			card_entry_print(&lists[k]->items[i], (enum card_entry_kind)k, pr.v4, &pr.item,
					 out);
	put_text_line(&pr, "BDAY", m->birthday);
	if (m->address.present) {
		const struct card_address *a = &m->address;
		const char *parts[] = { a->pobox, a->extended, a->street, a->locality,
					a->region, a->postal_code, a->country };
		put_components(&pr, "ADR", parts, 7);
	}
	put_text_line(&pr, "NOTE", m->note);
	if (m->n_categories) {
		sb_puts(&pr.line, "CATEGORIES:");
		for (size_t i = 0; i < m->n_categories; i++) {
			if (i)
				sb_putc(&pr.line, ',');
			put_escaped(&pr.line, m->categories[i]);
		}
		emit(&pr);
	}
	for (size_t i = 0; i < m->n_fields; i++) {
		sb_printf(&pr.line, "item%u.X-PIPEDRIVE-FIELD:", ++pr.item);
		put_escaped(&pr.line, m->fields[i].value);
		emit(&pr);
		put_ablabel(&pr, m->fields[i].label);
	}
	put_text_line(&pr, "X-PIPEDRIVE-ID", m->pipedrive_id);
	if (sb_failed(&pr.line))
		out->failed = true;
	sb_free(&pr.line);
	vcard_fold_line(out, "END:VCARD", 9);
}
