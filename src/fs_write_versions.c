/*
 * fs_write_versions.c - the person as the mount shows it while changes wait
 * (fs_person_current: every read path takes persons from here), and the
 * versions READ served, which an edit is based on (fs_write.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fs_write.h"

struct person *fs_person_current(struct fs *fs, int64_t id)
{
	if (fs->w) {
		bool deleted = false;
		struct person *p = writeback_pending(fs->w->wb, id, &deleted);
		if (p || deleted)
			return p;
	}
	return cache_person_load(fs->cache, id); /* under cache_max_mb maybe from disk */
}

bool fs_person_gone(struct fs *fs, int64_t id)
{
	bool deleted = false;
	if (!fs->w)
		return false;
	struct person *p = writeback_pending(fs->w->wb, id, &deleted);
	if (p)
		person_unref(p);
	return deleted;
}

void served_free(void *v)
{
	struct served *s = v;
	for (size_t i = 0; i < SERVED_VERSIONS; i++)
		if (s->v[i])
			person_unref(s->v[i]);
	free(s);
}

struct oldest {
	uint64_t tick, id;
};

static void find_oldest(struct idtable_entry *e, void *ctx)
{
	struct oldest *o = ctx;
	const struct served *s = e->value;
	if (!o->id || s->tick < o->tick)
		*o = (struct oldest){ s->tick, e->key };
}

void fs_write_served(struct fs *fs, struct person *p)
{
	struct fs_write *w = fs->w;
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	struct idtable_entry *e = idtable_find(&w->served, (uint64_t)p->id);
	struct served *s = e ? e->value : NULL;
	if (!s && w->served.count >= SERVED_PERSONS) {
		struct oldest o = { 0, 0 };
		idtable_each(&w->served, find_oldest, &o);
		served_free(idtable_remove(&w->served, o.id));
	}
	if (!s && (s = calloc(1, sizeof(*s))) && !idtable_insert(&w->served, (uint64_t)p->id, s)) {
		free(s);
		s = NULL;
	}
	if (s && s->v[0] != p) {
		size_t at = 0;
		while (at < SERVED_VERSIONS - 1 && s->v[at] && s->v[at] != p)
			at++;
		if (s->v[at] && s->v[at] != p)
			person_unref(s->v[at]); /* the oldest falls out */
		else if (s->v[at] == p)
			person_unref(p);
		memmove(&s->v[1], &s->v[0], at * sizeof(s->v[0]));
		s->v[0] = person_ref(p);
	}
	if (s)
		s->tick = ++w->tick;
	pthread_mutex_unlock(&w->lock);
}

size_t person_versions(struct fs *fs, int64_t id, struct person **out, size_t max)
{
	struct fs_write *w = fs->w;
	size_t n = 0;
	pthread_mutex_lock(&w->lock);
	struct idtable_entry *e = idtable_find(&w->served, (uint64_t)id);
	const struct served *s = e ? e->value : NULL;
	for (size_t i = 0; s && i < SERVED_VERSIONS && s->v[i] && n < max - 1; i++)
		out[n++] = person_ref(s->v[i]);
	pthread_mutex_unlock(&w->lock);
	struct person *current = fs_person_current(fs, id);
	bool known = false;
	for (size_t i = 0; current && i < n; i++)
		known |= out[i] == current;
	if (current && !known)
		out[n++] = current;
	else if (current)
		person_unref(current);
	/* An edit compares with the bytes: those of a light person (a bounded
	 * disk cache) come from memory or the disk; a version neither has any
	 * more drops out. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct person *full = cache_person_bytes(fs->cache, out[i]);
		person_unref(out[i]);
		if (full)
			out[kept++] = full;
	}
	return kept;
}
