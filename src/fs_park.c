/*
 * fs_park.c - requests parked until a listing (or a rendered file) is ready,
 * and FUSE interrupts (fs_internal.h).
 *
 * A parked request can be answered from two sides: the worker that finishes
 * its walk (or the render thread), and the dispatch thread when the kernel
 * interrupts it (Ctrl-C, SIGKILL of the waiting process).  The side that
 * flips pk->state from WAITING to ANSWERED answers; the other does not touch
 * the request.  Whoever answers from a worker first unregisters the
 * interrupt callback, which waits out a callback in progress (libfuse runs it
 * under the request's lock) - so the callback never sees a freed pk.  The
 * struct itself stays with the cache or the pretty cache until their waiter
 * callback runs, which frees it either way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "log.h"

enum {
	PARK_WAITING,
	PARK_ANSWERED,
};

/* The request being registered on this thread: libfuse calls the interrupt
 * callback right away (under the request's lock) if the interrupt came
 * first, and answering there would free the request under libfuse's feet. */
static _Thread_local const struct parked *registering;

static void on_interrupt(fuse_req_t req, void *data)
{
	struct parked *pk = data;
	if (registering == pk) {
		pk->interrupted_early = true; /* park_new answers */
		return;
	}
	struct fs *fs = pk->fs;
	int expected = PARK_WAITING;
	if (atomic_compare_exchange_strong(&pk->state, &expected, PARK_ANSWERED)) {
		/* pk may be freed from here on: only req and fs. */
		atomic_fetch_add(&fs->interrupted, 1);
		fuse_reply_err(req, EINTR);
	}
}

bool park_take(struct parked *pk)
{
	int expected = PARK_WAITING;
	if (!atomic_compare_exchange_strong(&pk->state, &expected, PARK_ANSWERED))
		return false;
	fuse_req_interrupt_func(pk->req, NULL, NULL); /* no callback runs after this */
	return true;
}

bool park_is_waiting(struct parked *pk)
{
	return atomic_load(&pk->state) == PARK_WAITING;
}

void park_free(struct parked *pk)
{
	if (pk)
		growing_unref(pk->growing);
	free(pk);
}

static void parked_done(struct listing_waiter *w, struct listing *l, int err)
{
	struct parked *pk = (struct parked *)w;
	struct fs *fs = pk->fs;
	if (!l) {
		if (park_take(pk))
			fuse_reply_err(pk->req, err);
		park_free(pk);
		return;
	}
	if (pk->op == PARKED_READ && l->count == 1 && atomic_load(&pk->state) == PARK_WAITING) {
		/* Answered (or parked again for rendering) by the read path. */
		struct person *p = fs_listing_current(fs, l, 0);
		listing_unref(l);
		if (p) {
			fs_read_person(fs, pk->req, pk, p, tree_kind(pk->ino), pk->size, pk->off);
			person_unref(p);
			return;
		}
		if (park_take(pk))
			fuse_reply_err(pk->req, EIO); /* logged */
		park_free(pk);
		return;
	}
	if (park_take(pk)) {
		switch (pk->op) {
		case PARKED_OPENDIR:
			fs_reply_opendir(fs, pk->req, pk->ino, &pk->fi, listing_ref(l));
			break;
		case PARKED_LOOKUP:
			if (tree_is_group_root(pk->ino))
				fs_lookup_group_link(fs, pk->req, pk->ino, l, pk->name);
			else
				fs_lookup_person_file(fs, pk->req, pk->ino, l, pk->name);
			break;
		case PARKED_LOOKUP_ONE:
			fs_lookup_one_reply(fs, pk->req, pk->ino, l, pk->name);
			break;
		case PARKED_READDIR: /* never a listing waiter */
		case PARKED_WRITE: /* never on a listing (fs_write.c answers it) */
			fuse_reply_err(pk->req, EIO);
			break;
		case PARKED_GETATTR:
		case PARKED_READ: {
			struct person *p = l->count == 1 ? fs_listing_current(fs, l, 0) : NULL;
			if (l->count != 1) {
				fuse_reply_err(pk->req, ENOENT); /* deleted on the server */
			} else if (!p) {
				fuse_reply_err(pk->req, EIO); /* logged */
			} else {
				struct stat st;
				fs_person_attr(fs, p, tree_kind(pk->ino), &st);
				fuse_reply_attr(pk->req, &st, fs->cfg.ttl);
			}
			person_unref(p);
			break;
		}
		case PARKED_FOLDER_ENTRY:
		case PARKED_FOLDER_ATTR:
		case PARKED_FOLDER_READ:
			fs_folderfile_reply(fs, pk, l);
			break;
		}
	}
	listing_unref(l);
	park_free(pk);
}

struct parked *park_new(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
			const char *name)
{
	size_t name_len = name ? strlen(name) + 1 : 0;
	struct parked *pk = calloc(1, sizeof(*pk) + name_len);
	if (!pk) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	pk->waiter.done = parked_done;
	pk->fs = fs;
	pk->req = req;
	atomic_init(&pk->state, PARK_WAITING);
	pk->op = op;
	pk->ino = ino;
	if (name)
		memcpy(pk->name, name, name_len);
	registering = pk;
	fuse_req_interrupt_func(req, on_interrupt, pk);
	registering = NULL;
	if (pk->interrupted_early) {
		park_take(pk);
		atomic_fetch_add(&fs->interrupted, 1);
		fuse_reply_err(req, EINTR);
		park_free(pk);
		return NULL;
	}
	return pk;
}

void park_on_listing(struct fs *fs, struct parked *pk, uint64_t key)
{
	struct listing *l = NULL;
	enum cache_lookup found = cache_listing_lookup(fs->cache, key, fs_now(), &l, &pk->waiter);
	if (found != CACHE_FRESH && log_get_level() >= LOG_LEVEL_DEBUG) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		log_debug("%s: %s", where, found == CACHE_START_FETCH ? "not cached, fetching"
								   : "joining the walk in flight");
	}
	switch (found) {
	case CACHE_FRESH:
		parked_done(&pk->waiter, l, 0);
		break;
	case CACHE_START_FETCH:
		walker_fetch(fs->walker, key);
		break;
	case CACHE_JOINED:
	case CACHE_FAILED: /* already answered */
	case CACHE_STREAM_START: /* not from cache_listing_lookup */
	case CACHE_STREAM_JOINED:
		break;
	}
}

void park_or_fail(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
		  const char *name, const struct fuse_file_info *fi, uint64_t key)
{
	struct parked *pk = park_new(fs, req, op, ino, name);
	if (!pk)
		return;
	if (fi)
		pk->fi = *fi;
	park_on_listing(fs, pk, key);
}
