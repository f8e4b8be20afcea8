/*
 * search_terms.c - the term table of the search folders (search_terms.h).
 *
 * Two hash tables over the same entries: number -> entry, and a hash of the
 * text -> the chain of entries with that hash.  Entries sit on a list in
 * order of use; past the bound a tenth goes from its tail in one batch, as
 * the cache does with listings.
 */
#include "search_terms.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dlist.h"
#include "idtable.h"
#include "utf8.h"

struct term {
	struct dlist_node lru;   /* on search_terms.lru, most recently used first */
	struct term *same_hash; /* the next term with the same text hash */
	int64_t id;
	uint64_t hash;
	size_t len;
	char text[];
};

struct search_terms {
	pthread_mutex_t lock;
	struct idtable by_id;   /* number -> struct term * */
	struct idtable by_hash; /* text hash -> first struct term * of its chain */
	struct dlist lru;
	size_t max_terms;
	int64_t next_id;
};

static uint64_t text_hash(const char *s, size_t n)
{
	uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
	return h;
}

struct search_terms *search_terms_new(size_t max_terms)
{
	struct search_terms *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (!idtable_init(&t->by_id) || !idtable_init(&t->by_hash)) {
		idtable_destroy(&t->by_id, NULL);
		idtable_destroy(&t->by_hash, NULL);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->max_terms = max_terms ? max_terms : SEARCH_TERMS_MAX;
	t->next_id = 1;
	return t;
}

void search_terms_free(struct search_terms *t)
{
	if (!t)
		return;
	idtable_destroy(&t->by_hash, NULL);
	idtable_destroy(&t->by_id, free);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The term without its leading and trailing spaces: s[*from..*to). */
static void strip_spaces(const char *s, size_t len, size_t *from, size_t *to)
{
	*from = 0;
	*to = len;
	while (*from < *to && s[*from] == ' ')
		(*from)++;
	while (*to > *from && s[*to - 1] == ' ')
		(*to)--;
}

bool search_term_valid(const char *name, size_t len)
{
	if (len == 0 || name[0] == '.')
		return false;
	size_t from, to;
	strip_spaces(name, len, &from, &to);
	size_t chars = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(name + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f || cp == '/')
			return false;
		if (i >= from && i < to)
			chars++;
		i += n;
	}
	return chars >= SEARCH_TERM_MIN_CHARS;
}

/* ---- with the lock held ---- */

static struct term *find_text(struct search_terms *t, const char *text, size_t len, uint64_t hash)
{
	struct idtable_entry *e = idtable_find(&t->by_hash, hash);
	for (struct term *x = e ? e->value : NULL; x; x = x->same_hash)
		if (x->len == len && memcmp(x->text, text, len) == 0)
			return x;
	return NULL;
}

static void unlink_hash(struct search_terms *t, struct term *x)
{
	struct idtable_entry *e = idtable_find(&t->by_hash, x->hash);
	if (!e)
		return;
	struct term **link = (struct term **)&e->value;
	while (*link && *link != x)
		link = &(*link)->same_hash;
	if (*link)
		*link = x->same_hash;
	if (!e->value)
		idtable_remove(&t->by_hash, x->hash);
}

static void forget(struct search_terms *t, struct term *x)
{
	dlist_unlink(&t->lru, &x->lru);
	unlink_hash(t, x);
	idtable_remove(&t->by_id, (uint64_t)x->id);
	free(x);
}

/* Past the bound: the least recently used tenth goes (never `keep`). */
static void enforce_bound(struct search_terms *t, const struct term *keep)
{
	if (t->by_id.count <= t->max_terms)
		return;
	size_t target = t->max_terms - t->max_terms / 10;
	struct dlist_node *n = t->lru.tail;
	while (n && t->by_id.count > target) {
		struct dlist_node *prev = n->prev;
		struct term *x = dlist_entry(n, struct term, lru);
		if (x != keep)
			forget(t, x);
		n = prev;
	}
}

static struct term *add_term(struct search_terms *t, const char *text, size_t len, uint64_t hash)
{
	struct term *x = calloc(1, sizeof(*x) + len + 1);
	if (!x)
		return NULL;
	x->id = t->next_id;
	x->hash = hash;
	x->len = len;
	memcpy(x->text, text, len);
	if (!idtable_insert(&t->by_id, (uint64_t)x->id, x)) {
		free(x);
		return NULL;
	}
	struct idtable_entry *chain = idtable_find(&t->by_hash, hash);
	if (chain) {
		x->same_hash = chain->value;
		chain->value = x;
	} else if (!idtable_insert(&t->by_hash, hash, x)) {
		idtable_remove(&t->by_id, (uint64_t)x->id);
		free(x);
		return NULL;
	}
	t->next_id++;
	dlist_push_front(&t->lru, &x->lru);
	return x;
}

int64_t search_terms_intern(struct search_terms *t, const char *term, size_t len)
{
	uint64_t hash = text_hash(term, len);
	pthread_mutex_lock(&t->lock);
	struct term *x = find_text(t, term, len, hash);
	if (x) {
		dlist_move_front(&t->lru, &x->lru);
	} else if ((x = add_term(t, term, len, hash))) {
		enforce_bound(t, x);
	}
	int64_t id = x ? x->id : 0;
	pthread_mutex_unlock(&t->lock);
	return id;
}

bool search_terms_text(struct search_terms *t, int64_t id, struct strbuf *out)
{
	pthread_mutex_lock(&t->lock);
	struct idtable_entry *e = idtable_find(&t->by_id, (uint64_t)id);
	struct term *x = e ? e->value : NULL;
	if (x) {
		dlist_move_front(&t->lru, &x->lru);
		size_t from, to;
		strip_spaces(x->text, x->len, &from, &to);
		sb_append(out, x->text + from, to - from);
	}
	pthread_mutex_unlock(&t->lock);
	return x != NULL;
}

size_t search_terms_count(struct search_terms *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->by_id.count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
