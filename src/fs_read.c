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
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "fs_internal.h"
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

/* The .vcf file: kept, or rendered again (person.h) - a slice of it. */
static void read_vcf(fuse_req_t req, struct parked *pk, const struct person *p, size_t size,
		     off_t off)
{
	if (p->vcf) { /* no copy */
		answer_slice(req, pk, p->vcf, p->vcf_len, size, off);
		return;
	}
	struct strbuf card = STRBUF_INIT;
	int rc = person_vcf(p, &card);
	if (rc == -EIO)
		log_error("the vCard of person %lld came out %zu bytes instead of %zu; reading it "
			  "fails with EIO; please report this bug", (long long)p->id, card.len,
			  p->vcf_len);
	if (rc)
		answer_err(req, pk, -rc);
	else
		answer_slice(req, pk, card.data, card.len, size, off);
	sb_free(&card);
}

void fs_read_person(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
		    enum node_kind kind, size_t size, off_t off)
{
	size_t len = kind == NODE_PERSON_JSON ? p->json_len : p->vcf_len;
	if (len > FS_FILE_MAX) {
		warn_too_big(fs, p, kind, len);
		answer_err(req, pk, EFBIG);
		return;
	}
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
	if (!fs_is_person_file(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct person *p = cache_person_get(fs->cache, tree_id(ino));
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
}
