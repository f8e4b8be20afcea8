/*
 * fs_read.c - READ: the bytes of a person file (fs_internal.h).
 *
 * The bytes come from the store's current version of the person, the same
 * version attributes come from.  A .vcf is its kept text, or rendered again
 * from the person's JSON with the names pinned when it was built
 * (person_vcf: same bytes as st_size promised).  A small .json
 * is re-indented per READ (cheap); a big one is rendered once by the pretty
 * cache on its own thread - the READ waits parked, the dispatch thread goes
 * on - and later READs serve slices of that text, so reading a file is
 * linear in its size.  Files over FS_FILE_MAX are refused with EFBIG.
 *
 * Reading ahead across files: the first READ of a person's file in a
 * directory opened lately queues the next FS_READAHEAD_PERSONS persons of
 * that directory (readdir order); the invalidation thread renders their
 * files and stores them in the kernel's page cache, so a reader going
 * through the directory in order reads them like cached files - no round
 * trip through the daemon.  The same thread drops pages of persons that
 * changed, before it stores any: bytes stored are never older than an
 * invalidation it saw.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "listing.h"
#include "log.h"

/* Answer req (through pk when parked; pk is freed). */
static void answer_err(fuse_req_t req, struct parked *pk, int err)
{
	if (!pk) {
		fuse_reply_err(req, err);
		return;
	}
	if (park_take(pk))
		fuse_reply_err(req, err);
	park_free(pk);
}

static void answer_slice(fuse_req_t req, struct parked *pk, const char *data, size_t len,
			 size_t size, off_t off)
{
	if (pk && !park_take(pk)) {
		park_free(pk);
		return;
	}
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
	park_free(pk);
}

/* One log line per too-big file, not one per READ. */
static void warn_too_big(struct fs *fs, const struct person *p, enum node_kind kind, size_t len)
{
	int64_t tag = kind == NODE_PERSON_JSON ? p->id : -p->id;
	bool seen = false;
	pthread_mutex_lock(&fs->warn_lock);
	for (size_t i = 0; i < sizeof(fs->warned) / sizeof(fs->warned[0]); i++)
		seen |= fs->warned[i] == tag;
	if (!seen)
		fs->warned[fs->warned_next++ % (sizeof(fs->warned) / sizeof(fs->warned[0]))] = tag;
	pthread_mutex_unlock(&fs->warn_lock);
	if (!seen)
		log_error("the %s file of person %lld is %zu bytes, more than the %u MiB pipedrivefs "
			  "serves; reading it fails with EFBIG (File too large); read it in Pipedrive",
			  kind == NODE_PERSON_JSON ? ".json" : ".vcf", (long long)p->id, len,
			  FS_FILE_MAX >> 20);
}

static void pretty_done(struct pretty_waiter *w, struct pretty_text *t, int err)
{
	struct parked *pk = (struct parked *)((char *)w - offsetof(struct parked, pretty));
	if (!t) {
		answer_err(pk->req, pk, err);
		return;
	}
	answer_slice(pk->req, pk, t->data, t->len, pk->size, pk->off);
	pretty_text_unref(t);
}

/* A .json file too big to re-indent per READ. */
static void read_big_json(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
			  size_t size, off_t off)
{
	struct pretty_text *t = prettycache_get(fs->pretty, p);
	if (t) {
		answer_slice(req, pk, t->data, t->len, size, off);
		pretty_text_unref(t);
		return;
	}
	if (!pk && !(pk = park_new(fs, req, PARKED_READ, tree_ino(NODE_PERSON_JSON, p->id), NULL)))
		return; /* answered */
	pk->size = size;
	pk->off = off;
	pk->pretty.done = pretty_done;
	prettycache_wait(fs->pretty, p, &pk->pretty);
}

static void read_full_person(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
			     enum node_kind kind, size_t size, off_t off);
/* A slice of the .vcf file: kept, or rendered again (person_vcf_slice). */
static void read_vcf(fuse_req_t req, struct parked *pk, const struct person *p, size_t size,
		     off_t off)
{
	struct strbuf slice = STRBUF_INIT;
	int rc = off < 0 ? 0 : person_vcf_slice(p, (size_t)off, size, &slice);
	if (rc == -EIO)
		log_error("the vCard of person %lld did not come out %zu bytes long; reading it "
			  "fails with EIO; please report this bug", (long long)p->id, p->vcf_len);
	if (rc)
		answer_err(req, pk, -rc);
	else
		answer_slice(req, pk, slice.data ? slice.data : "", slice.len, slice.len, 0);
	sb_free(&slice);
}

void fs_read_person(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
		    enum node_kind kind, size_t size, off_t off)
{
	size_t len = kind == NODE_PERSON_JSON ? p->json_len : p->vcf_len;
	fs_write_served(fs, p); /* a version an edit may be based on (-o rw) */
	if (len > FS_FILE_MAX) {
		warn_too_big(fs, p, kind, len);
		answer_err(req, pk, EFBIG);
		return;
	}
	/* A light person's bytes: memory within cache_max_mb, else the disk. */
	struct person *full = cache_person_bytes(fs->cache, p);
	if (full) {
		read_full_person(fs, req, pk, full, kind, size, off);
		person_unref(full);
		return;
	}
	if (pk) { /* fetched again and still nowhere */
		log_error("the bytes of person %lld are neither in memory nor on disk; reading "
			  "its file fails with EIO (is the disk cache full or damaged?)",
			  (long long)p->id);
		answer_err(req, pk, EIO);
		return;
	}
	/* Not on disk in this version any more: fetch it again by id. */
	struct parked *again = park_new(fs, req, PARKED_READ, tree_ino(kind, p->id), NULL);
	if (!again)
		return; /* answered */
	again->size = size;
	again->off = off;
	park_on_listing(fs, again, tree_ino(NODE_BY_ID_PERSON, p->id));
}

static void read_full_person(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
			     enum node_kind kind, size_t size, off_t off)
{
	size_t len = kind == NODE_PERSON_JSON ? p->json_len : p->vcf_len;
	if (kind == NODE_PERSON_VCF) {
		read_vcf(req, pk, p, size, off);
		return;
	}
	if (len > FS_PRETTY_INLINE_MAX) {
		read_big_json(fs, req, pk, p, size, off);
		return;
	}
	struct strbuf json = STRBUF_INIT;
	person_json(p, &json);
	if (sb_failed(&json))
		answer_err(req, pk, ENOMEM);
	else
		answer_slice(req, pk, json.data, json.len, size, off);
	sb_free(&json);
}

/* ------------------------------------------------------------------ */
/* Reading ahead across files                                           */

void fs_readahead_init(struct fs *fs)
{
	memset(&fs->readahead, 0, sizeof(fs->readahead));
	pthread_mutex_init(&fs->readahead.lock, NULL);
}

void fs_readahead_free(struct fs *fs)
{
	struct fs_readahead *ra = &fs->readahead;
	for (size_t i = 0; i < FS_READAHEAD_LISTINGS; i++)
		listing_unref(ra->recent[i].listing);
	free(ra->queue);
	pthread_mutex_destroy(&ra->lock);
}

void fs_readahead_note(struct fs *fs, struct listing *l)
{
	if (l->order)
		return; /* shown in another order than by id (/recent): not followed */
	struct fs_readahead *ra = &fs->readahead;
	pthread_mutex_lock(&ra->lock);
	bool known = false;
	for (size_t i = 0; i < FS_READAHEAD_LISTINGS && !known; i++)
		known = ra->recent[i].listing == l;
	if (!known) {
		struct readahead_dir *slot = &ra->recent[ra->next++ % FS_READAHEAD_LISTINGS];
		listing_unref(slot->listing);
		slot->listing = listing_ref(l);
		slot->frontier = 0;
	}
	pthread_mutex_unlock(&ra->lock);
}

/* Queue persons [from, to) of l; lock held.  False when out of memory. */
static bool queue_range(struct fs_readahead *ra, const struct listing *l, size_t from, size_t to)
{
	if (ra->queued + (to - from) > ra->cap) {
		size_t cap = ra->cap ? ra->cap : 64;
		while (cap < ra->queued + (to - from))
			cap *= 2;
		int64_t *grown = realloc(ra->queue, cap * sizeof(*grown));
		if (!grown)
			return false;
		ra->queue = grown;
		ra->cap = cap;
	}
	for (size_t i = from; i < to; i++)
		ra->queue[ra->queued++] = listing_id_at(l, i);
	return true;
}

/* A first READ of person id's file: if it is in a directory opened lately,
 * the persons after it are pushed, half a window before the reader needs
 * them. */
static void readahead_after(struct fs *fs, int64_t id)
{
	struct fs_readahead *ra = &fs->readahead;
	/* -o rw: an edit is compared with the version its writer read
	 * (fs_write_served), so every byte a writer sees comes through READ. */
	if (fs->w)
		return;
	bool queued = false;
	pthread_mutex_lock(&ra->lock);
	for (size_t i = 0; i < FS_READAHEAD_LISTINGS; i++) {
		struct readahead_dir *dir = &ra->recent[i];
		long at = dir->listing ? listing_find(dir->listing, id) : -1;
		if (at < 0)
			continue;
		size_t pos = (size_t)at, count = dir->listing->count;
		if (pos + 1 < dir->frontier && dir->frontier - pos > 2 * FS_READAHEAD_PERSONS)
			dir->frontier = pos + 1; /* the reader jumped back */
		if (pos + FS_READAHEAD_PERSONS / 2 < dir->frontier)
			break; /* pushed far enough */
		size_t from = dir->frontier > pos + 1 ? dir->frontier : pos + 1;
		size_t to = pos + 1 + FS_READAHEAD_PERSONS < count ? pos + 1 + FS_READAHEAD_PERSONS
								  : count;
		if (from < to && queue_range(ra, dir->listing, from, to)) {
			dir->frontier = to;
			queued = true;
		}
		break;
	}
	pthread_mutex_unlock(&ra->lock);
	if (queued)
		sem_post(&fs->inval_wake);
}

/* Store one file's bytes in the kernel's page cache. */
static bool store_file(struct fs *fs, fuse_ino_t ino, const struct strbuf *bytes)
{
	struct fuse_bufvec bufv = FUSE_BUFVEC_INIT(bytes->len);
	bufv.buf[0].mem = bytes->data;
	return fuse_lowlevel_notify_store(fs->se, ino, 0, &bufv, 0) == 0;
}

void fs_readahead_run(struct fs *fs)
{
	struct fs_readahead *ra = &fs->readahead;
	pthread_mutex_lock(&ra->lock);
	int64_t *queue = ra->queue;
	size_t queued = ra->queued;
	ra->queue = NULL;
	ra->queued = ra->cap = 0;
	pthread_mutex_unlock(&ra->lock);
	struct strbuf bytes = STRBUF_INIT;
	uint64_t pushed = 0;
	if (fuse_session_exited(fs->se)) /* unmounting: nobody reads them */
		queued = 0;
	for (size_t i = 0; i < queued; i++) {
		/* the version a READ would serve now */
		struct person *current = fs_person_current(fs, queue[i]);
		if (!current)
			continue; /* gone meanwhile */
		/* a light person's bytes: memory within cache_max_mb, or the disk */
		struct person *p = cache_person_bytes(fs->cache, current);
		person_unref(current);
		if (!p)
			continue; /* a READ fetches it */
		if (p->json_len <= FS_PRETTY_INLINE_MAX) {
			sb_reset(&bytes);
			person_json(p, &bytes);
			if (!sb_failed(&bytes) && bytes.len == p->json_len &&
			    store_file(fs, tree_ino(NODE_PERSON_JSON, p->id), &bytes))
				pushed++;
		}
		if (p->vcf_len <= FS_PRETTY_INLINE_MAX) {
			sb_reset(&bytes);
			if (person_vcf(p, &bytes) == 0 &&
			    store_file(fs, tree_ino(NODE_PERSON_VCF, p->id), &bytes))
				pushed++;
		}
		person_unref(p);
	}
	free(queue);
	sb_free(&bytes);
	if (pushed) {
		pthread_mutex_lock(&ra->lock);
		ra->pushed += pushed;
		pthread_mutex_unlock(&ra->lock);
	}
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	if (ino == INO_STATUS) {
		pthread_mutex_lock(&fs->status_lock);
		answer_slice(req, NULL, fs->status.data, fs->status.len, size, off);
		pthread_mutex_unlock(&fs->status_lock);
		return;
	}
	if (tree_is_folder_file(ino)) {
		fs_folderfile_read(fs, req, ino, size, off);
		return;
	}
	if (!fs_is_person_file(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct person *p = fs_person_current(fs, tree_id(ino));
	if (!p) {
		/* Evicted (cache_max_mb) or never seen: fetch it by id. */
		struct parked *pk = park_new(fs, req, PARKED_READ, ino, NULL);
		if (!pk)
			return;
		pk->size = size;
		pk->off = off;
		park_on_listing(fs, pk, tree_ino(NODE_BY_ID_PERSON, tree_id(ino)));
		return;
	}
	fs_read_person(fs, req, NULL, p, tree_kind(ino), size, off);
	person_unref(p);
	if (off == 0)
		readahead_after(fs, tree_id(ino));
}
