/*
 * fs_folderfile.c - /by-owner/<id>.vcf, /by-org/<id>.vcf, /by-filter/<id>.vcf:
 * every card of a folder in one file, for one-step import (fs_internal.h).
 *
 * The file is the concatenation of the folder's .vcf files in its listing's
 * order; nothing inside the folder changes.  Its size needs the folder's
 * listing, so:
 *
 *  - a group root lists <id>.vcf only while that folder's listing is fresh
 *    (READDIRPLUS then carries its exact size): `ls` and `ls -l` of a group
 *    root never cost a request, whatever the number of folders;
 *  - any <id>.vcf can be looked up, stat'ed and read by name: LOOKUP and
 *    GETATTR wait for the folder's listing like an `ls` of the folder (one
 *    walk shared by every waiter), and give the exact size;
 *  - a READ is served at its offset from the listing the cache holds (even
 *    expired, so a long read is not cut in two versions by a refresh; only
 *    a missing one is fetched): a binary search in the cards' end offsets
 *    finds the first card the range covers, and only the covered cards are
 *    copied - a big folder is never rendered in one piece.  The end offsets
 *    of the last few listings read are kept (FOLDER_INDEXES).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "log.h"
#include "names.h"

#define FOLDER_INDEXES 8 /* folder files read side by side without rebuilding */

/* Where each card of one listing ends in the folder file. */
struct folder_index {
	atomic_uint refs;
	struct listing *listing; /* a reference: the index describes exactly it */
	size_t count;
	uint64_t *ends; /* ends[i]: bytes of cards 0..i (listing order) */
	/* A listing by ids: the version of each card the ends were made from
	 * (its bytes are read in that version, as a listing of persons holds
	 * its versions), else NULL. */
	uint64_t *digests;
	int64_t newest; /* the newest update time of its persons */
};

struct folder_indexes {
	pthread_mutex_t lock;
	struct folder_index *slot[FOLDER_INDEXES];
	unsigned next; /* the slot replaced next */
};

/* The person at position i of the folder file (the listing's order), a new
 * reference; NULL (logged) if it cannot be read back. */
static struct person *card_person(struct fs *fs, const struct listing *l, size_t i)
{
	return cache_listing_person(fs->cache, l, l->order ? l->order[i] : i);
}

struct folder_index;
/* Bytes [from, from + n) of card i's .vcf file appended to out, in the
 * version the index was made from (its bytes may live in the disk cache:
 * cache_person_bytes; a card not kept is rendered: person_vcf_slice).  0,
 * or an errno: EIO when the card cannot be had or is not the length the
 * index says. */
static int card_slice(struct fs *fs, const struct folder_index *ix, size_t i, size_t from,
		      size_t n, struct strbuf *out);

static void index_unref(struct folder_index *ix)
{
	if (!ix || atomic_fetch_sub(&ix->refs, 1) != 1)
		return;
	listing_unref(ix->listing);
	free(ix->ends);
	free(ix->digests);
	free(ix);
}

/* NULL and *err: ENOMEM, or EIO when a person cannot be read back. */
static int card_slice(struct fs *fs, const struct folder_index *ix, size_t i, size_t from,
		      size_t n, struct strbuf *out)
{
	const struct listing *l = ix->listing;
	struct person *full = NULL;
	if (ix->digests) {
		full = cache_person_version(fs->cache, listing_id_at(l, l->order ? l->order[i] : i),
					    ix->digests[i]);
	} else {
		struct person *p = card_person(fs, l, i);
		full = p ? cache_person_bytes(fs->cache, p) : NULL;
		person_unref(p);
	}
	size_t expected_len = (size_t)(ix->ends[i] - (i ? ix->ends[i - 1] : 0));
	int rc = !full || full->vcf_len != expected_len ? -EIO
			 : person_vcf_slice(full, from, n, out);
	person_unref(full);
	return rc == -ENOMEM ? ENOMEM : rc ? EIO : 0;
}

static struct folder_index *index_build(struct fs *fs, struct listing *l, int *err)
{
	*err = ENOMEM;
	struct folder_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->ends = malloc((l->count ? l->count : 1) * sizeof(*ix->ends));
	if (l->person_ids)
		ix->digests = malloc((l->count ? l->count : 1) * sizeof(*ix->digests));
	if (!ix->ends || (l->person_ids && !ix->digests)) {
		free(ix->ends);
		free(ix->digests);
		free(ix);
		return NULL;
	}
	atomic_init(&ix->refs, 1);
	ix->listing = listing_ref(l);
	ix->count = l->count;
	uint64_t end = 0;
	for (size_t i = 0; i < l->count; i++) {
		struct person *p = card_person(fs, l, i);
		if (!p) {
			*err = EIO;
			index_unref(ix);
			return NULL;
		}
		ix->ends[i] = end += p->vcf_len;
		if (ix->digests)
			ix->digests[i] = p->digest;
		if (p->update_time > ix->newest)
			ix->newest = p->update_time;
		person_unref(p);
	}
	return ix;
}

struct folder_indexes *fs_folder_indexes_new(void)
{
	struct folder_indexes *fi = calloc(1, sizeof(*fi));
	if (fi)
		pthread_mutex_init(&fi->lock, NULL);
	return fi;
}

void fs_folder_indexes_free(struct folder_indexes *fi)
{
	if (!fi)
		return;
	for (size_t i = 0; i < FOLDER_INDEXES; i++)
		index_unref(fi->slot[i]);
	pthread_mutex_destroy(&fi->lock);
	free(fi);
}

/* The index of listing l (a new reference), built once per listing; NULL
 * and *err when it cannot be. */
static struct folder_index *index_of(struct fs *fs, struct listing *l, int *err)
{
	struct folder_indexes *fi = fs->folder_indexes;
	struct folder_index *ix = NULL;
	pthread_mutex_lock(&fi->lock);
	for (size_t i = 0; i < FOLDER_INDEXES && !ix; i++)
		if (fi->slot[i] && fi->slot[i]->listing == l)
			ix = fi->slot[i];
	if (ix)
		atomic_fetch_add(&ix->refs, 1);
	pthread_mutex_unlock(&fi->lock);
	if (ix || !(ix = index_build(fs, l, err)))
		return ix;
	atomic_fetch_add(&ix->refs, 1); /* one for the slot */
	pthread_mutex_lock(&fi->lock);
	struct folder_index *old = fi->slot[fi->next];
	fi->slot[fi->next] = ix;
	fi->next = (fi->next + 1) % FOLDER_INDEXES;
	pthread_mutex_unlock(&fi->lock);
	index_unref(old);
	return ix;
}

/* ---- attributes ---- */

/* The folder file's attributes, from its index (so its size is the bytes a
 * READ gives): 0, or the errno of building the index (EIO when a person of
 * a listing by ids cannot be read back). */
static int folder_attr(struct fs *fs, fuse_ino_t ino, struct listing *l, struct stat *st)
{
	int err;
	struct folder_index *ix = index_of(fs, l, &err);
	if (!ix)
		return err;
	uint64_t size = ix->count ? ix->ends[ix->count - 1] : 0;
	int64_t newest = ix->newest;
	index_unref(ix);
	fs_base_attr(fs, ino, S_IFREG | 0444, st);
	st->st_size = (off_t)size;
	st->st_blocks = (st->st_size + 511) / 512;
	if (newest)
		st->st_mtime = st->st_ctime = st->st_atime = (time_t)newest;
	return 0;
}

static void reply_entry(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct listing *l)
{
	struct stat st;
	struct fuse_entry_param e;
	int err = folder_attr(fs, ino, l, &st);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fs_entry_of(fs, &st, fs->cfg.ttl, &e);
	fuse_reply_entry(req, &e);
}

bool fs_folderfile_entry(struct fs *fs, fuse_ino_t root, int64_t id, struct strbuf *name,
			 struct stat *st)
{
	uint64_t folder = tree_ino(tree_group_member_kind(root), id);
	struct listing *l = cache_listing_peek_fresh(fs->cache, folder, fs_now());
	if (!l)
		return false;
	sb_printf(name, "%" PRId64 ".vcf", id);
	int err = folder_attr(fs, tree_file_of_folder(folder), l, st);
	listing_unref(l);
	if (err)
		sb_reset(name); /* an empty slot: looked up, it answers the error */
	return true;
}

uint64_t fs_folderfile_open_token(struct fs *fs, fuse_ino_t root, const struct listing *l)
{
	uint64_t h = UINT64_C(1469598103934665603) ^ l->generation; /* FNV-1a over the words */
	double now = fs_now();
	for (size_t i = 0; i < l->count; i++) {
		struct listing *folder = cache_listing_peek_fresh(
			fs->cache, tree_ino(tree_group_member_kind(root), l->ids[i]), now);
		if (!folder)
			continue;
		h = (h ^ (uint64_t)l->ids[i]) * UINT64_C(1099511628211);
		h = (h ^ folder->generation) * UINT64_C(1099511628211);
		listing_unref(folder);
	}
	return h;
}

/* ---- reading ---- */

/* Bytes [off, off + size) of the folder file of listing l. */
static void reply_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct listing *l,
		       size_t size, off_t off)
{
	int ix_err;
	struct folder_index *ix = index_of(fs, l, &ix_err);
	if (!ix) {
		fuse_reply_err(req, ix_err);
		return;
	}
	uint64_t total = ix->count ? ix->ends[ix->count - 1] : 0;
	if (off < 0 || (uint64_t)off >= total || size == 0) {
		index_unref(ix);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	uint64_t pos = (uint64_t)off;
	size_t want = total - pos < size ? (size_t)(total - pos) : size;
	char *buf = malloc(want);
	if (!buf) {
		index_unref(ix);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t lo = 0, hi = ix->count; /* the first card ending after pos */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->ends[mid] > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	size_t filled = 0;
	int err = 0;
	struct strbuf card = STRBUF_INIT;
	for (size_t i = lo; filled < want && i < ix->count; i++) {
		uint64_t start = i ? ix->ends[i - 1] : 0;
		size_t len = (size_t)(ix->ends[i] - start);
		size_t from = (size_t)(pos - start);
		size_t n = len - from < want - filled ? len - from : want - filled;
		sb_reset(&card);
		if ((err = card_slice(fs, ix, i, from, n, &card)) != 0)
			break;
		if (card.len != n) {
			err = EIO;
			break;
		}
		memcpy(buf + filled, card.data, n);
		filled += n;
		pos += n;
	}
	sb_free(&card);
	index_unref(ix);
	if (err) {
		char where[64];
		tree_describe(ino, where, sizeof(where));
		log_error("%s: a person's card is not the size its folder's listing says; the read "
			  "fails with EIO; list the folder again (or send SIGHUP) and report this",
			  where);
		fuse_reply_err(req, err);
	} else {
		fuse_reply_buf(req, buf, filled);
	}
	free(buf);
}

/* ---- requests ---- */

static void park_on_folder(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
			   size_t size, off_t off)
{
	struct parked *pk = park_new(fs, req, op, ino, NULL);
	if (!pk)
		return; /* answered */
	pk->size = size;
	pk->off = off;
	park_on_listing(fs, pk, tree_folder_of_file(ino));
}

bool fs_folderfile_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t root, const char *name)
{
	size_t n = strlen(name);
	int64_t id;
	if (n <= 4 || strcmp(name + n - 4, ".vcf") != 0 || !names_parse_id(name, n - 4, &id))
		return false;
	uint64_t folder = tree_ino(tree_group_member_kind(root), id);
	park_on_folder(fs, req, PARKED_FOLDER_ENTRY, tree_file_of_folder(folder), 0, 0);
	return true;
}

void fs_folderfile_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino)
{
	park_on_folder(fs, req, PARKED_FOLDER_ATTR, ino, 0, 0);
}

void fs_folderfile_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	/* The listing held now, even expired: the version the kernel's size
	 * most likely came from.  Only a missing one is fetched. */
	struct listing *l = cache_listing_peek(fs->cache, tree_folder_of_file(ino));
	if (!l) {
		park_on_folder(fs, req, PARKED_FOLDER_READ, ino, size, off);
		return;
	}
	reply_read(fs, req, ino, l, size, off);
	listing_unref(l);
}

void fs_folderfile_reply(struct fs *fs, struct parked *pk, struct listing *l)
{
	struct stat st;
	switch (pk->op) {
	case PARKED_FOLDER_ENTRY:
		reply_entry(fs, pk->req, pk->ino, l);
		break;
	case PARKED_FOLDER_ATTR: {
		int err = folder_attr(fs, pk->ino, l, &st);
		if (err)
			fuse_reply_err(pk->req, err);
		else
			fuse_reply_attr(pk->req, &st, fs->cfg.ttl);
		break;
	}
	default:
		reply_read(fs, pk->req, pk->ino, l, pk->size, pk->off);
		break;
	}
}
