/*
 * prettycache.h - the pretty .json text of big persons, rendered once.
 *
 * A person keeps its JSON compact (person.h); the .json file is its pretty
 * form.  For a small person that form is cheap to build on every READ; for a
 * big one (megabytes) building it per READ makes reading the file quadratic
 * and would hold the FUSE dispatch thread.  This cache renders a big
 * person's text once, on its own thread, and keeps the most recently used
 * texts up to a byte bound, so READs serve slices.
 *
 * Keyed by person object: a person replaced by a new version (cache.h) gets
 * a new text; the old one ages out.  Waiters are called on the render thread
 * (or on the caller's, when the text is already there) without the lock.
 * Knows neither FUSE nor HTTP.
 */
#ifndef PDFS_PRETTYCACHE_H
#define PDFS_PRETTYCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "person.h"

/* The .json file of one person version; reference counted, immutable. */
struct pretty_text {
	atomic_uint refs;
	struct person *person; /* the version it was rendered from (a reference) */
	char *data;
	size_t len;
};

struct pretty_text *pretty_text_ref(struct pretty_text *t);
void pretty_text_unref(struct pretty_text *t);

struct pretty_waiter {
	struct pretty_waiter *next;
	/* t is a new reference (caller unrefs) or NULL with err > 0. */
	void (*done)(struct pretty_waiter *w, struct pretty_text *t, int err);
};

struct prettycache_stats {
	uint64_t renders; /* texts built */
	uint64_t bytes;   /* bytes of the texts held now */
	uint64_t texts;
};

struct prettycache;

/* max_bytes bounds the texts held (the least recently used go first); a
 * text in use by a reader stays alive until it is released. */
struct prettycache *prettycache_new(size_t max_bytes);
/* Start the render thread (after fuse_daemonize); 0 or -errno. */
int prettycache_start(struct prettycache *pc);
/* Stop the thread, answer every waiter still queued with ECANCELED, free. */
void prettycache_free(struct prettycache *pc);

/* The text of exactly this person object if held (a new reference), or NULL. */
struct pretty_text *prettycache_get(struct prettycache *pc, const struct person *p);
/* Call w->done with p's text: at once (on this thread) if held, else when the
 * render thread has built it.  Concurrent waiters for one person share one
 * render. */
void prettycache_wait(struct prettycache *pc, struct person *p, struct pretty_waiter *w);

void prettycache_get_stats(struct prettycache *pc, struct prettycache_stats *out);

#endif
