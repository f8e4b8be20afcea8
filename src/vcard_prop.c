/*
 * vcard_prop.c - the parsed card's arena, questions about its properties,
 * and the canonical card printer (vcard_parse.h; the parser itself is
 * vcard_parse.c).  Pure.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vcard_parse.h"

/* ------------------------------------------------------------------------ */
/* Arena                                                                    */
/* ------------------------------------------------------------------------ */

#define ARENA_BLOCK (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

struct vcard_arena {
	struct arena_block *head;
};

void *vcard_card_alloc(struct vcard_card *card, size_t n)
{
	struct vcard_arena *a = card->arena;
	const size_t align = alignof(max_align_t);
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	struct arena_block *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

struct vcard_card *vcard_card_new(void)
{
	struct vcard_card *card = calloc(1, sizeof *card);
	if (card && !(card->arena = calloc(1, sizeof *card->arena))) {
		free(card);
		return NULL;
	}
	if (card)
		card->version = VCARD_V30;
	return card;
}

char *vcard_card_strndup(struct vcard_card *card, const char *s, size_t n)
{
	char *p = n < SIZE_MAX ? vcard_card_alloc(card, n + 1) : NULL;
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *vcard_card_strtrim(struct vcard_card *card, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return vcard_card_strndup(card, s, n);
}

void vcard_card_free(struct vcard_card *card)
{
	if (!card)
		return;
	struct arena_block *b = card->arena ? card->arena->head : NULL;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(card->arena);
	free(card);
}

/* ------------------------------------------------------------------------ */
/* Questions                                                                */
/* ------------------------------------------------------------------------ */

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool vcard_word_is(const char *s, size_t n, const char *word)
{
	size_t i = 0;
	for (; i < n && word[i]; i++)
		if (ascii_lower(s[i]) != ascii_lower(word[i]))
			return false;
	return i == n && word[i] == '\0';
}
bool vcard_prop_is(const struct vcard_prop *p, const char *name)
{
	return vcard_word_is(p->name, strlen(p->name), name);
}

bool vcard_prop_in_group(const struct vcard_prop *p, const char *group)
{
	if (!group || !p->group)
		return !group && !p->group;
	return vcard_word_is(p->group, strlen(p->group), group);
}

const char *vcard_prop_param(const struct vcard_prop *p, const char *name)
{
	for (size_t k = 0; k < p->n_params; k++)
		if (vcard_word_is(p->params[k].name, strlen(p->params[k].name), name) &&
		    p->params[k].n_values)
			return p->params[k].values[0];
	return NULL;
}

bool vcard_prop_has_type(const struct vcard_prop *p, const char *type)
{
	for (size_t k = 0; k < p->n_params; k++) {
		const struct vcard_param *pm = &p->params[k];
		if (strcmp(pm->name, "TYPE") != 0)
			continue;
		for (size_t v = 0; v < pm->n_values; v++) {
			const char *s = pm->values[v];
			while (*s) {
				size_t n = strcspn(s, ",");
				if (vcard_word_is(s, n, type))
					return true;
				s += n + (s[n] == ',');
			}
		}
	}
	return false;
}

int vcard_prop_pref(const struct vcard_prop *p)
{
	const char *pref = vcard_prop_param(p, "PREF");
	if (pref) {
		int v = 0;
		for (const char *s = pref; *s >= '0' && *s <= '9' && v <= 100; s++)
			v = v * 10 + (*s - '0');
		return v >= 1 && v <= 100 ? v : 1;
	}
	return vcard_prop_has_type(p, "pref") ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Canonical printer                                                        */
/* ------------------------------------------------------------------------ */

static void put_param_value(struct strbuf *line, const char *v, bool v4)
{
	bool quote = strpbrk(v, ",;:") != NULL;
	if (quote)
		sb_putc(line, '"');
	for (const char *s = v; *s; s++) {
		if (v4 && *s == '^')
			sb_puts(line, "^^");
		else if (v4 && *s == '\n')
			sb_puts(line, "^n");
		else if (v4 && *s == '"')
			sb_puts(line, "^'");
		else
			sb_putc(line, *s);
	}
	if (quote)
		sb_putc(line, '"');
}

void vcard_escape_item(struct strbuf *line, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': sb_puts(line, "\\\\"); break;
		case ',': sb_puts(line, "\\,"); break;
		case ';': sb_puts(line, "\\;"); break;
		case '\n': sb_puts(line, "\\n"); break;
		default: sb_putc(line, *s); break;
		}
	}
}

static void put_prop(struct strbuf *line, const struct vcard_prop *p, bool v4)
{
	if (p->group) {
		sb_puts(line, p->group);
		sb_putc(line, '.');
	}
	sb_puts(line, p->name);
	for (size_t k = 0; k < p->n_params; k++) {
		sb_putc(line, ';');
		sb_puts(line, p->params[k].name);
		sb_putc(line, '=');
		for (size_t v = 0; v < p->params[k].n_values; v++) {
			if (v)
				sb_putc(line, ',');
			put_param_value(line, p->params[k].values[v], v4);
		}
	}
	sb_putc(line, ':');
	for (size_t c = 0; c < p->n_comps; c++) {
		if (c)
			sb_putc(line, ';');
		for (size_t i = 0; i < p->comps[c].n_items; i++) {
			if (i)
				sb_putc(line, ',');
			vcard_escape_item(line, p->comps[c].items[i]);
		}
	}
}

void vcard_print(const struct vcard_card *card, struct strbuf *out)
{
	bool v4 = card->version == VCARD_V40;
	struct strbuf line = STRBUF_INIT;
	vcard_fold_line(out, "BEGIN:VCARD", 11);
	vcard_fold_line(out, v4 ? "VERSION:4.0" : "VERSION:3.0", 11);
	for (size_t i = 0; i < card->n_props; i++) {
		sb_truncate(&line, 0);
		put_prop(&line, &card->props[i], v4);
		if (sb_failed(&line))
			break;
		vcard_fold_line(out, line.data, line.len);
	}
	if (sb_failed(&line))
		out->failed = true;
	sb_free(&line);
	vcard_fold_line(out, "END:VCARD", 9);
}
