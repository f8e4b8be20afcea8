/*
 * meta.c - names of organizations, users and persons with their age, and the
 * installed person fields (meta.h; one set of fields is meta_fields.c).
 */
#include "meta_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"

#define KIND_COUNT 3

/* A name as stored at one moment; len 0 means "asked, none".  Shared with
 * the persons that pin it, so the text never changes; `at` is only read and
 * written under meta's lock. */
struct meta_name {
	atomic_uint refs;
	uint32_t len;
	bool forgettable; /* meta_name_store_held: meta may let it go */
	uint32_t holds;   /* walks holding its id while it is the entry (meta's lock) */
	double at;
	char text[];
};

struct meta {
	pthread_mutex_t lock;
	struct idtable names[KIND_COUNT]; /* id -> struct meta_name * */
	bool users_loaded;
	double expired_at; /* names stored before this are too old */
	struct meta_fields *fields; /* installed (older ones chained to it) */
	meta_person_name_fn person_source; /* set once, before any walk */
	void *person_source_ctx;
	bool fields_loaded;
};

/* ---- name objects ---- */

const char *meta_name_text(const struct meta_name *n)
{
	return n->text;
}

size_t meta_name_len(const struct meta_name *n)
{
	return n->len;
}

struct meta_name *meta_name_ref(struct meta_name *n)
{
	atomic_fetch_add(&n->refs, 1);
	return n;
}

void meta_name_unref(struct meta_name *n)
{
	if (n && atomic_fetch_sub(&n->refs, 1) == 1)
		free(n);
}

static void unref_value(void *v)
{
	meta_name_unref(v);
}

static struct meta_name *name_new(const char *text, size_t len, double at)
{
	if (len > UINT32_MAX - 1)
		len = UINT32_MAX - 1;
	struct meta_name *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	atomic_init(&n->refs, 1);
	n->len = (uint32_t)len;
	n->forgettable = false;
	n->holds = 0;
	n->at = at;
	if (len)
		memcpy(n->text, text, len);
	n->text[len] = '\0';
	return n;
}

/* ---- lifecycle ---- */

struct meta *meta_new(void)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	bool ok = (m->fields = meta_fields_new()) != NULL;
	for (int k = 0; k < KIND_COUNT; k++)
		ok = idtable_init(&m->names[k]) && ok;
	if (!ok) {
		meta_fields_free(m->fields);
		for (int k = 0; k < KIND_COUNT; k++)
			idtable_destroy(&m->names[k], NULL);
		free(m);
		return NULL;
	}
	meta_fields_seal(m->fields, NULL);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	for (int k = 0; k < KIND_COUNT; k++)
		idtable_destroy(&m->names[k], unref_value);
	meta_fields_free(m->fields);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- names ---- */

static struct meta_name *find_name(const struct meta *m, enum meta_kind kind, int64_t id)
{
	struct idtable_entry *e = idtable_find(&m->names[kind], (uint64_t)id);
	return e ? e->value : NULL;
}

enum meta_name_state meta_name(struct meta *m, enum meta_kind kind, int64_t id,
			       double valid_after, char *buf, size_t len)
{
	enum meta_name_state state = META_NAME_UNKNOWN;
	pthread_mutex_lock(&m->lock);
	const struct meta_name *e = find_name(m, kind, id);
	if (e && (valid_after == META_ANY_AGE ||
		  (e->at >= valid_after && e->at >= m->expired_at))) {
		if (e->len && len > 0) {
			size_t n = e->len < len ? e->len : len - 1;
			memcpy(buf, e->text, n);
			buf[n] = '\0';
			state = META_NAME_KNOWN;
		} else {
			state = META_NAME_NONE;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return state;
}

/* Lock held: a walk holds n. */
static struct meta_name *hold(struct meta_name *n)
{
	n->holds++;
	return meta_name_ref(n);
}

/* Store the name; with held (a forgettable name), also hold for the caller
 * what meta now has for (kind, id) (NULL without memory). */
static struct meta_name *store_name(struct meta *m, enum meta_kind kind, int64_t id,
				    const char *name, size_t len, double now, bool held)
{
	len = name ? strnlen(name, len) : 0; /* a C string's worth, as before */
	pthread_mutex_lock(&m->lock);
	struct idtable_entry *e = idtable_find(&m->names[kind], (uint64_t)id);
	struct meta_name *old = e ? e->value : NULL;
	if (old && old->len == len && memcmp(old->text, name ? name : "", len) == 0) {
		old->at = now; /* the same name: only younger */
		old->forgettable = old->forgettable && held;
		struct meta_name *mine = held ? hold(old) : NULL;
		pthread_mutex_unlock(&m->lock);
		return mine;
	}
	struct meta_name *n = name_new(name, len, now);
	if (n)
		n->forgettable = held && (!old || old->forgettable);
	if (n && e) {
		n->holds = old->holds; /* holds are the id's: they stay with the entry */
		e->value = n;
		meta_name_unref(old);
	} else if (n && !idtable_insert(&m->names[kind], (uint64_t)id, n)) {
		meta_name_unref(n); /* out of memory: stays unknown, asked again */
		n = NULL;
	}
	struct meta_name *mine = held && n ? hold(n) : NULL;
	pthread_mutex_unlock(&m->lock);
	return mine;
}

void meta_name_store_n(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		       size_t len, double now)
{
	store_name(m, kind, id, name, len, now, false);
}

struct meta_name *meta_name_store_held(struct meta *m, enum meta_kind kind, int64_t id,
				       const char *name, size_t len, double now)
{
	return store_name(m, kind, id, name, len, now, true);
}

struct meta_name *meta_name_hold(struct meta *m, enum meta_kind kind, int64_t id)
{
	pthread_mutex_lock(&m->lock);
	struct meta_name *n = find_name(m, kind, id);
	if (n)
		hold(n);
	pthread_mutex_unlock(&m->lock);
	return n;
}

void meta_name_release(struct meta *m, enum meta_kind kind, int64_t id, struct meta_name *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&m->lock);
	struct meta_name *entry = find_name(m, kind, id); /* maybe a newer name than n */
	if (entry && entry->holds)
		entry->holds--;
	if (entry && !entry->holds && entry->forgettable)
		meta_name_unref(idtable_remove(&m->names[kind], (uint64_t)id));
	pthread_mutex_unlock(&m->lock);
	meta_name_unref(n);
}

size_t meta_person_names(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->names[META_PERSON].count;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void meta_set_person_name_source(struct meta *m, meta_person_name_fn fn, void *ctx)
{
	pthread_mutex_lock(&m->lock);
	m->person_source = fn;
	m->person_source_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
}

void meta_name_store(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		     double now)
{
	meta_name_store_n(m, kind, id, name, name ? strlen(name) : 0, now);
}

bool meta_names_pin(struct meta *m, const struct meta_ref *refs, size_t n,
		    struct meta_name **out)
{
	pthread_mutex_lock(&m->lock);
	size_t forgotten = 0;
	for (size_t i = 0; i < n; i++) {
		struct meta_name *e = find_name(m, refs[i].kind, refs[i].id);
		out[i] = e && e->len ? meta_name_ref(e) : NULL;
		forgotten += !e && refs[i].kind == META_PERSON;
	}
	meta_person_name_fn source = forgotten ? m->person_source : NULL;
	void *ctx = m->person_source_ctx;
	pthread_mutex_unlock(&m->lock);
	bool ok = true;
	for (size_t i = 0; source && i < n; i++) {
		char *text = NULL;
		size_t len = 0;
		if (out[i] || refs[i].kind != META_PERSON)
			continue;
		int found = source(ctx, refs[i].id, &text, &len);
		if (found == 1 && len && !(out[i] = name_new(text, strnlen(text, len), 0)))
			found = -1;
		ok = ok && found >= 0;
		free(text);
	}
	return ok;
}

/* An {id, name} object's positive integer id, or 0. */
static int64_t id_of(const struct jsonscan_doc *d, uint32_t obj)
{
	int64_t id;
	return jsonscan_int64(d, jsonscan_get(d, obj, "id"), &id) == 0 && id > 0 ? id : 0;
}

/* Store obj's "name" (a string, else none) for (kind, id). */
static void store_object_name(struct meta *m, enum meta_kind kind, int64_t id,
			      const struct jsonscan_doc *d, uint32_t obj, double now)
{
	uint32_t v = jsonscan_get(d, obj, "name");
	size_t n = 0;
	const char *name = NULL;
	char small[256], *heap = NULL;
	if (jsonscan_type(d, v) == JSONSCAN_STRING) {
		size_t raw;
		jsonscan_raw(d, v, &raw);
		if (raw > sizeof(small) && !(heap = malloc(raw)))
			return; /* out of memory: stays unknown */
		n = jsonscan_unescape(d, v, heap ? heap : small);
		name = heap ? heap : small;
	}
	meta_name_store_n(m, kind, id, name, n, now);
	free(heap);
}

void meta_org_store(struct meta *m, const struct jsonscan_doc *d, uint32_t org, double now)
{
	int64_t id = id_of(d, org);
	if (id)
		store_object_name(m, META_ORG, id, d, org, now);
}

void meta_users_store(struct meta *m, const struct jsonscan_doc *d, uint32_t users, double now)
{
	if (jsonscan_type(d, users) != JSONSCAN_ARRAY)
		return;
	JSONSCAN_FOREACH(d, users, u) {
		int64_t id = id_of(d, u);
		if (id)
			store_object_name(m, META_USER, id, d, u, now);
	}
	pthread_mutex_lock(&m->lock);
	m->users_loaded = true;
	pthread_mutex_unlock(&m->lock);
}

bool meta_users_loaded(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	bool loaded = m->users_loaded;
	pthread_mutex_unlock(&m->lock);
	return loaded;
}

void meta_names_expire(struct meta *m, double now)
{
	pthread_mutex_lock(&m->lock);
	m->expired_at = now;
	pthread_mutex_unlock(&m->lock);
}

/* ---- person fields ---- */

void meta_person_fields_install(struct meta *m, struct meta_fields *f)
{
	pthread_mutex_lock(&m->lock);
	meta_fields_seal(f, m->fields);
	m->fields = f;
	m->fields_loaded = true;
	pthread_mutex_unlock(&m->lock);
}

int meta_person_fields_store_text(struct meta *m, const char *json, size_t len)
{
	struct arena arena;
	arena_init(&arena, len + 4096);
	struct jsonscan_doc d;
	struct meta_fields *f = NULL;
	int rc = jsonscan_parse(&d, json, len, &arena, NULL) == JSONSCAN_OK ? 0 : -EINVAL;
	if (rc == 0 && d.status == JSONSCAN_OK && !(f = meta_fields_new()))
		rc = -ENOMEM;
	if (rc == 0 && !meta_fields_add(f, &d, jsonscan_root(&d)))
		rc = -ENOMEM;
	if (rc == 0)
		meta_person_fields_install(m, f);
	else
		meta_fields_free(f);
	arena_free(&arena);
	return rc;
}

bool meta_person_fields_loaded(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	bool loaded = m->fields_loaded;
	pthread_mutex_unlock(&m->lock);
	return loaded;
}

const struct meta_fields *meta_fields_current(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	const struct meta_fields *f = m->fields;
	pthread_mutex_unlock(&m->lock);
	return f;
}

bool meta_custom_field_known(struct meta *m, const char *key)
{
	return meta_fields_knows(meta_fields_current(m), key);
}

bool meta_has_field_type(struct meta *m, enum fieldtext_type type)
{
	return meta_fields_has_type(meta_fields_current(m), type);
}

/* ---- walking what is known (names back to ids, for the write path) ---- */

struct each_name {
	void (*fn)(void *ctx, int64_t id, const char *name);
	void *ctx;
};

static void pass_name(struct idtable_entry *e, void *ctx)
{
	const struct each_name *en = ctx;
	const struct meta_name *n = e->value;
	if (n->len) /* 0: asked, none */
		en->fn(en->ctx, (int64_t)e->key, n->text);
}

void meta_each_name(struct meta *m, enum meta_kind kind,
		    void (*fn)(void *ctx, int64_t id, const char *name), void *ctx)
{
	struct each_name en = { fn, ctx };
	pthread_mutex_lock(&m->lock);
	idtable_each(&m->names[kind], pass_name, &en);
	pthread_mutex_unlock(&m->lock);
}

/* The installed fields are immutable and live as long as meta: walked
 * without the lock. */
void meta_each_option(struct meta *m, const char *key,
		      void (*fn)(void *ctx, const struct vcard_id *id, const char *label), void *ctx)
{
	meta_fields_each_option(meta_fields_current(m), key, fn, ctx);
}

void meta_each_custom_field(struct meta *m,
			    void (*fn)(void *ctx, const char *key, const char *name,
				       const char *type),
			    void *ctx)
{
	meta_fields_each_custom_field(meta_fields_current(m), fn, ctx);
}
