/*
 * card_entry.c - EMAIL / TEL / IMPP properties <-> card entries (card_entry.h).
 *
 * Job: one place that knows how labels are spelled in cards - TYPE values
 * (work, home, cell), Apple's itemN.X-ABLabel and its "_$!<Mobile>!$_",
 * khard's TYPE=X-name, IMPP's X-SERVICE-TYPE and URI schemes, 3.0 "tel:"
 * less numbers and 4.0 tel: URIs - in both directions.  Pure.
 */
#include "card_entry.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "vcard.h"

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

struct card_labels {
	const struct vcard_prop **props; /* X-ABLabel lines with a group, by group then line */
	size_t n;
};

static int compare_by_group(const void *a, const void *b)
{
	const struct vcard_prop *x = *(const struct vcard_prop *const *)a;
	const struct vcard_prop *y = *(const struct vcard_prop *const *)b;
	int r = strcmp(x->group, y->group); /* the parser lower-cased groups */
	return r ? r : (x > y) - (x < y);
}

struct card_labels *card_labels_index(struct vcard_card *card)
{
	struct card_labels *l = vcard_card_alloc(card, sizeof *l);
	if (!l)
		return NULL;
	l->n = 0;
	l->props = vcard_card_alloc(card, (card->n_props + 1) * sizeof *l->props);
	if (!l->props)
		return NULL;
	for (size_t i = 0; i < card->n_props; i++)
		if (card->props[i].group && vcard_prop_is(&card->props[i], "X-ABLABEL"))
			l->props[l->n++] = &card->props[i];
	qsort(l->props, l->n, sizeof *l->props, compare_by_group);
	return l;
}

const char *card_group_label(const struct card_labels *labels, struct vcard_card *card,
			     const struct vcard_prop *p)
{
	if (!p->group || !labels)
		return NULL;
	size_t lo = 0, hi = labels->n;
	while (lo < hi) { /* the first label of the group */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(labels->props[mid]->group, p->group) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == labels->n || strcmp(labels->props[lo]->group, p->group) != 0)
		return NULL;
	const struct vcard_prop *q = labels->props[lo];
	const char *t = vcard_card_strtrim(card, q->text, q->text_len);
	size_t n = t ? strlen(t) : 0;
	if (n > 8 && memcmp(t, "_$!<", 4) == 0 && memcmp(t + n - 4, ">!$_", 4) == 0) {
		char *apple = vcard_card_strndup(card, t + 4, n - 8);
		for (char *s = apple; s && *s; s++)
			*s = ascii_lower(*s);
		return apple;
	}
	return t;
}

/* A TYPE value "X-name" (khard writes the custom label so): "name". */
static const char *x_type_label(struct vcard_card *card, const struct vcard_prop *p)
{
	for (size_t k = 0; k < p->n_params; k++) {
		if (strcmp(p->params[k].name, "TYPE") != 0)
			continue;
		for (size_t v = 0; v < p->params[k].n_values; v++) {
			const char *s = p->params[k].values[v];
			if ((s[0] == 'X' || s[0] == 'x') && s[1] == '-' && s[2] && !strchr(s, ','))
				return vcard_card_strtrim(card, s + 2, strlen(s + 2));
		}
	}
	return NULL;
}

struct type_label {
	const char *type, *label;
};

static const struct type_label email_types[] = { { "work", "work" }, { "home", "home" } };
static const struct type_label tel_types[] = {
	{ "work", "work" }, { "home", "home" }, { "cell", "mobile" }, { "mobile", "mobile" },
};

/* IM services: the X-SERVICE-TYPE names and URI schemes our renderer writes. */
static const struct type_label im_services[] = {
	{ "skype", "skype" }, { "jabber", "jabber" }, { "xmpp", "jabber" }, { "aim", "aim" },
	{ "icq", "icq" },     { "msn", "msn" },       { "msnim", "msn" },   { "yahoo", "yahoo" },
	{ "ymsgr", "yahoo" }, { "sip", "sip" },       { "matrix", "matrix" },
	{ "google", "google" },
};

static const char *lookup(const struct type_label *t, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (vcard_word_is(word, strlen(word), t[i].type))
			return t[i].label;
	return NULL;
}

/* The first known TYPE in parameter order (values also split on ","). */
static const char *known_type_label(const struct vcard_prop *p, const struct type_label *t,
				    size_t n)
{
	for (size_t k = 0; k < p->n_params; k++) {
		if (strcmp(p->params[k].name, "TYPE") != 0)
			continue;
		for (size_t v = 0; v < p->params[k].n_values; v++) {
			const char *s = p->params[k].values[v];
			while (*s) {
				size_t len = strcspn(s, ",");
				for (size_t i = 0; i < n; i++)
					if (vcard_word_is(s, len, t[i].type))
						return t[i].label;
				s += len + (s[len] == ',');
			}
		}
	}
	return NULL;
}

/* Length of the URI scheme of s including its ":", or 0. */
static size_t scheme_length(const char *s)
{
	size_t i = 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while (s[i] && (strchr("+.-", s[i]) || (s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	return s[i] == ':' ? i + 1 : 0;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/*
 * %XX decoded in place - all or nothing: s stays as written when an escape
 * stands for a control character (other than TAB) or the result is not
 * UTF-8.  (A LF already in s, from a text escape, is kept either way.)
 */
static void percent_decode(char *s)
{
	size_t n = strlen(s), o = 0;
	char *d = malloc(n + 1);
	if (!d)
		return;
	bool clean = true;
	for (size_t i = 0; i < n && clean; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0) {
			unsigned char c = (unsigned char)(hi * 16 + lo);
			clean = (c >= 0x20 && c != 0x7F) || c == '\t';
			d[o++] = (char)c;
			i += 2;
		} else {
			d[o++] = s[i];
		}
	}
	for (size_t i = 0; i < o && clean;) {
		uint32_t cp;
		size_t k = (unsigned char)d[i] < 0x80 ? 1 : utf8_decode(d + i, o - i, &cp);
		clean = k != 0;
		i += k ? k : 1;
	}
	if (clean) {
		memcpy(s, d, o);
		s[o] = '\0';
	}
	free(d);
}

static int entry_value(struct vcard_card *card, const struct vcard_prop *p,
		       enum card_entry_kind kind, const char **value, const char **scheme_label)
{
	const char *t = vcard_card_strtrim(card, p->text, p->text_len);
	if (!t)
		return -ENOMEM;
	*scheme_label = NULL;
	if (kind == CARD_TEL && vcard_word_is(t, strnlen(t, 4), "tel:"))
		t = vcard_card_strtrim(card, t + 4, strlen(t + 4));
	else if (kind == CARD_IMPP) {
		size_t k = scheme_length(t);
		if (k) {
			char *scheme = vcard_card_strndup(card, t, k - 1);
			char *rest = vcard_card_strndup(card, t + k, strlen(t + k));
			if (!scheme || !rest)
				return -ENOMEM;
			percent_decode(rest);
			*scheme_label = lookup(im_services, sizeof im_services / sizeof im_services[0],
					       scheme);
			t = vcard_card_strtrim(card, rest, strlen(rest));
		}
	}
	if (!t)
		return -ENOMEM;
	*value = t;
	return 0;
}

static const char *entry_label(const struct card_labels *labels, struct vcard_card *card,
			       const struct vcard_prop *p, enum card_entry_kind kind,
			       const char *scheme_label)
{
	const char *l = card_group_label(labels, card, p);
	if (l && *l)
		return l;
	if ((l = x_type_label(card, p)) && *l)
		return l;
	switch (kind) {
	case CARD_EMAIL:
		l = known_type_label(p, email_types, sizeof email_types / sizeof email_types[0]);
		break;
	case CARD_TEL:
		l = known_type_label(p, tel_types, sizeof tel_types / sizeof tel_types[0]);
		break;
	case CARD_IMPP: {
		const char *service = vcard_prop_param(p, "X-SERVICE-TYPE");
		if (service && *service) {
			l = lookup(im_services, sizeof im_services / sizeof im_services[0], service);
			if (!l)
				l = vcard_card_strtrim(card, service, strlen(service));
		} else {
			l = scheme_label;
		}
		break;
	}
	}
	return l ? l : "";
}

int card_entry_read(const struct card_labels *labels, struct vcard_card *card,
		    const struct vcard_prop *p, enum card_entry_kind kind, struct card_entry *e)
{
	const char *scheme_label;
	e->primary = false;
	e->label = "";
	int rc = entry_value(card, p, kind, &e->value, &scheme_label);
	if (rc || !*e->value)
		return rc;
	e->label = entry_label(labels, card, p, kind, scheme_label);
	return e->label ? 0 : -ENOMEM;
}

/* ---- writing ---- */

/* A label is written as a TYPE (or service) only when reading that back
 * gives exactly the same label; otherwise as an itemN.X-ABLabel. */
static const char *type_for_label(enum card_entry_kind kind, const char *label)
{
	static const struct type_label email_out[] = { { "work", "work" }, { "home", "home" } };
	static const struct type_label tel_out[] = {
		{ "work", "work" }, { "home", "home" }, { "mobile", "cell" },
	};
	const struct type_label *t = kind == CARD_EMAIL ? email_out : tel_out;
	size_t n = kind == CARD_EMAIL ? 2 : 3;
	for (size_t i = 0; i < n; i++)
		if (strcmp(label, t[i].type) == 0)
			return t[i].label;
	return NULL;
}

static bool is_service_label(const char *label)
{
	const char *l = lookup(im_services, sizeof im_services / sizeof im_services[0], label);
	return l && strcmp(l, label) == 0;
}

void card_entry_print(const struct card_entry *e, enum card_entry_kind kind, bool v4,
		      unsigned *item, struct strbuf *out)
{
	struct strbuf line = STRBUF_INIT;
	static const char *const names[] = { "EMAIL", "TEL", "IMPP" };
	bool custom;
	const char *type = NULL;
	if (kind == CARD_IMPP)
		custom = *e->label && !is_service_label(e->label);
	else
		custom = *e->label && !(type = type_for_label(kind, e->label));
	if (custom)
		sb_printf(&line, "item%u.", ++*item);
	sb_puts(&line, names[kind]);
	if (type)
		sb_printf(&line, ";TYPE=%s", type);
	if (kind == CARD_IMPP && !custom && *e->label)
		sb_printf(&line, ";X-SERVICE-TYPE=%s", e->label);
	if (e->primary)
		sb_puts(&line, v4 ? ";PREF=1" : ";TYPE=pref");
	sb_putc(&line, ':');
	if (kind == CARD_IMPP) {
		static const char hex[] = "0123456789ABCDEF";
		sb_puts(&line, "x-pd:");
		for (const unsigned char *s = (const unsigned char *)e->value; *s; s++)
			if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			    (*s >= '0' && *s <= '9') || strchr("@.-_~+", *s))
				sb_putc(&line, (char)*s);
			else if (*s == '\n') /* a text escape: %0A would not decode */
				sb_puts(&line, "\\n");
			else
				sb_printf(&line, "%%%c%c", hex[*s >> 4], hex[*s & 15]);
	} else {
		if (kind == CARD_TEL)
			sb_puts(&line, "tel:");
		vcard_escape_item(&line, e->value);
	}
	vcard_fold_line(out, line.data, line.len);
	if (custom) {
		sb_truncate(&line, 0);
		sb_printf(&line, "item%u.X-ABLabel:", *item);
		vcard_escape_item(&line, e->label);
		vcard_fold_line(out, line.data, line.len);
	}
	if (sb_failed(&line))
		out->failed = true;
	sb_free(&line);
}

