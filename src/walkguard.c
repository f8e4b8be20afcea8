/*
 * walkguard.c - when a cursor walk must stop (see walkguard.h).
 */
#include "walkguard.h"

#include <stdlib.h>
#include <string.h>

#include "sha1.h"

/* ------------------------------------------------------------------ */
/* A set of 64-bit keys                                                 */

static size_t slot_of(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

static bool set_grow(struct walkguard_set *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64;
	uint64_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return false;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t k = s->slots[i];
		if (!k)
			continue;
		size_t j = slot_of(k, cap);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = k;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return true;
}

/* Add k; *added tells whether it was new.  False when out of memory. */
static bool set_add(struct walkguard_set *s, uint64_t k, bool *added)
{
	*added = false;
	if (k == 0) {
		*added = !s->has_zero;
		s->has_zero = true;
		return true;
	}
	if ((s->count + 1) * 2 > s->cap && !set_grow(s))
		return false;
	size_t j = slot_of(k, s->cap);
	while (s->slots[j]) {
		if (s->slots[j] == k)
			return true;
		j = (j + 1) & (s->cap - 1);
	}
	s->slots[j] = k;
	s->count++;
	*added = true;
	return true;
}

static void set_free(struct walkguard_set *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* The guard                                                            */

void walkguard_default_limits(struct walkguard_limits *out)
{
	out->max_items = WALKGUARD_DEFAULT_MAX_ITEMS;
	out->max_pages = WALKGUARD_DEFAULT_MAX_PAGES;
	out->max_seconds = WALKGUARD_DEFAULT_MAX_SECONDS;
	out->max_idle_pages = WALKGUARD_DEFAULT_MAX_IDLE_PAGES;
	out->max_cursor_len = WALKGUARD_DEFAULT_MAX_CURSOR_LEN;
}

void walkguard_init(struct walkguard *g, const struct walkguard_limits *limits, bool ascending,
		    double now)
{
	memset(g, 0, sizeof(*g));
	if (limits)
		g->limits = *limits;
	else
		walkguard_default_limits(&g->limits);
	g->ascending = ascending;
	g->started = now;
}

void walkguard_free(struct walkguard *g)
{
	set_free(&g->keys);
	set_free(&g->cursors);
}

static uint64_t cursor_hash(const char *cursor, size_t len)
{
	unsigned char digest[SHA1_DIGEST_LEN];
	sha1(cursor, len, digest);
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | digest[i];
	return h;
}

/* Remember a cursor; CONTINUE if it is new. */
static enum walkguard_verdict note_cursor(struct walkguard *g, const char *cursor, size_t len)
{
	if (len > g->limits.max_cursor_len)
		return WALKGUARD_CURSOR_TOO_LONG;
	bool added;
	if (!set_add(&g->cursors, cursor_hash(cursor, len), &added))
		return WALKGUARD_OUT_OF_MEMORY;
	return added ? WALKGUARD_CONTINUE : WALKGUARD_CURSOR_REPEATED;
}

enum walkguard_verdict walkguard_start_cursor(struct walkguard *g, const char *cursor, size_t len)
{
	return note_cursor(g, cursor, len);
}

/* Does the page bring anything this walk has not seen?  False with
 * *oom when the key set cannot grow. */
static bool page_brings_news(struct walkguard *g, const uint64_t *keys, size_t nkeys, bool *oom)
{
	bool news = false;
	*oom = false;
	for (size_t i = 0; i < nkeys; i++) {
		if (g->ascending) {
			if (!g->any_key || keys[i] > g->max_key) {
				g->max_key = keys[i];
				g->any_key = true;
				news = true;
			}
			continue;
		}
		bool added;
		if (!set_add(&g->keys, keys[i], &added)) {
			*oom = true;
			return news;
		}
		news |= added;
	}
	return news;
}

enum walkguard_verdict walkguard_page(struct walkguard *g, const uint64_t *keys, size_t nkeys,
				      size_t item_count, const char *next, size_t next_len,
				      double now)
{
	g->pages++;
	g->items += item_count;
	bool oom;
	bool news = page_brings_news(g, keys, nkeys, &oom);
	g->idle_pages = news ? 0 : g->idle_pages + 1;
	if (!next)
		return WALKGUARD_DONE;
	if (oom)
		return WALKGUARD_OUT_OF_MEMORY;
	if (g->items >= g->limits.max_items)
		return WALKGUARD_TOO_MANY_ITEMS;
	if (g->pages >= g->limits.max_pages)
		return WALKGUARD_TOO_MANY_PAGES;
	if (g->idle_pages >= g->limits.max_idle_pages)
		return WALKGUARD_NO_PROGRESS;
	if (now - g->started > g->limits.max_seconds)
		return WALKGUARD_TOO_LONG;
	return note_cursor(g, next, next_len);
}

const char *walkguard_reason(enum walkguard_verdict v)
{
	switch (v) {
	case WALKGUARD_CONTINUE:
	case WALKGUARD_DONE:
		return "";
	case WALKGUARD_CURSOR_REPEATED:
		return "the server handed out a cursor it had already given in this walk (a cycle)";
	case WALKGUARD_NO_PROGRESS:
		return "page after page brought nothing new";
	case WALKGUARD_TOO_MANY_ITEMS:
		return "the walk passed its cap on items";
	case WALKGUARD_TOO_MANY_PAGES:
		return "the walk passed its cap on pages";
	case WALKGUARD_TOO_LONG:
		return "the walk passed its cap on duration";
	case WALKGUARD_CURSOR_TOO_LONG:
		return "the server sent an implausibly long cursor";
	case WALKGUARD_OUT_OF_MEMORY:
		return "out of memory tracking the walk";
	}
	return "unknown";
}
