/*
 * fs_dir.c - directories: open handles holding a listing snapshot,
 * READDIR(PLUS), and finding a name in a listing (fs_internal.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "names.h"

static const struct {
	const char *name;
	fuse_ino_t ino;
} root_entries[] = {
	{ ".pipedrivefs", INO_CONTROL }, { "by-filter", INO_BY_FILTER }, { "by-id", INO_BY_ID },
	{ "by-org", INO_BY_ORG },         { "by-owner", INO_BY_OWNER },   { "recent", INO_RECENT },
	{ "search", INO_SEARCH },
};
#define ROOT_ENTRY_COUNT (sizeof(root_entries) / sizeof(root_entries[0]))

bool fs_root_entry(const char *name, fuse_ino_t *ino)
{
	for (size_t i = 0; i < ROOT_ENTRY_COUNT; i++)
		if (strcmp(name, root_entries[i].name) == 0) {
			*ino = root_entries[i].ino;
			return true;
		}
	return false;
}

static void open_dir_free(struct fs *fs, struct open_dir *od)
{
	pthread_mutex_lock(&fs->dirs_lock);
	dlist_unlink(&fs->dirs, &od->node);
	pthread_mutex_unlock(&fs->dirs_lock);
	listing_unref(od->listing);
	growing_unref(od->growing);
	free(od);
}

void fs_free_open_dirs(struct fs *fs)
{
	while (fs->dirs.head)
		open_dir_free(fs, dlist_entry(fs->dirs.head, struct open_dir, node));
}

void fs_reply_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t dir, struct fuse_file_info *fi,
		      struct listing *l)
{
	struct open_dir *od = calloc(1, sizeof(*od));
	if (!od) {
		listing_unref(l);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	od->listing = l;
	if (listing_of_persons(l))
		fs_readahead_note(fs, l);
	pthread_mutex_lock(&fs->dirs_lock);
	dlist_push_front(&fs->dirs, &od->node);
	pthread_mutex_unlock(&fs->dirs_lock);
	fi->fh = (uint64_t)(uintptr_t)od;
	fi->cache_readdir = fs->cfg.ttl > 0;
	/* A group root shows the folder files of fresh folders too. */
	uint64_t shown = tree_is_group_root(dir) ? fs_folderfile_open_token(fs, dir, l)
						 : l->generation;
	fi->keep_cache = fs->cfg.ttl > 0 &&
			 cache_listing_unchanged_since_last_open(fs->cache, dir, shown);
	if (fuse_reply_open(req, fi) != 0)
		open_dir_free(fs, od); /* interrupted: no releasedir will come */
}

/* ------------------------------------------------------------------ */
/* Streaming: a folder whose first walk is still running                */

/* Folders whose first walk is streamed: those of persons, but a search
 * (its order is known only at its end). */
static bool streams(fuse_ino_t ino)
{
	return tree_is_person_dir(ino) && tree_kind(ino) != NODE_SEARCH_DIR;
}

static void reply_opendir_growing(struct fs *fs, fuse_req_t req, fuse_ino_t dir,
				  struct fuse_file_info *fi, struct growing *g)
{
	struct open_dir *od = calloc(1, sizeof(*od));
	if (!od) {
		growing_unref(g);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	od->growing = g;
	pthread_mutex_lock(&fs->dirs_lock);
	dlist_push_front(&fs->dirs, &od->node);
	pthread_mutex_unlock(&fs->dirs_lock);
	fi->fh = (uint64_t)(uintptr_t)od;
	fi->cache_readdir = 0; /* this handle only; the next open gets the listing */
	fi->keep_cache = 0;
	/* The next open gets the finished listing: the kernel drops this one. */
	cache_listing_unchanged_since_last_open(fs->cache, dir, 0);
	if (fuse_reply_open(req, fi) != 0)
		open_dir_free(fs, od);
}

/* OPENDIR of a folder: a fresh listing at once; no listing at all (the
 * first walk): at once too, its entries come as the walk brings them;
 * an expired one: when its refresh ends. */
static void open_person_dir(struct fs *fs, fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct parked *pk = park_new(fs, req, PARKED_OPENDIR, ino, NULL);
	if (!pk)
		return;
	pk->fi = *fi;
	struct listing *l = NULL;
	struct growing *g = NULL;
	enum cache_lookup found = cache_listing_lookup_stream(fs->cache, ino, fs_now(), &l,
							      &pk->waiter, &g);
	switch (found) {
	case CACHE_FRESH:
		if (park_take(pk))
			fs_reply_opendir(fs, req, ino, &pk->fi, l);
		else
			listing_unref(l);
		park_free(pk);
		break;
	case CACHE_START_FETCH:
		walker_fetch(fs->walker, ino);
		break;
	case CACHE_JOINED:
	case CACHE_FAILED: /* waiting, or answered */
		break;
	case CACHE_STREAM_START:
		walker_fetch(fs->walker, ino);
		/* fall through */
	case CACHE_STREAM_JOINED:
		if (park_take(pk))
			reply_opendir_growing(fs, req, ino, &pk->fi, g);
		else
			growing_unref(g);
		park_free(pk);
		break;
	}
}

bool fs_lookup_in_growing(struct fs *fs, fuse_req_t req, fuse_ino_t dir, const char *name)
{
	struct growing *g = cache_growing(fs->cache, dir);
	if (!g)
		return false;
	int64_t id;
	enum person_file kind;
	size_t base_len;
	struct person *p = names_parse_person_file(name, strlen(name), &id, &kind, &base_len)
				   ? growing_find(g, id)
				   : NULL;
	growing_unref(g);
	if (!p)
		return false;
	bool same_name = p->base_len == base_len && memcmp(p->base, name, base_len) == 0;
	if (same_name)
		fs_reply_person_entry(req, fs, p,
				      kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF);
	person_unref(p);
	return same_name;
}

bool fs_lookup_by_id_applies(struct fs *fs, fuse_ino_t dir)
{
	enum node_kind k = tree_kind(dir);
	return (k == NODE_OWNER_DIR || k == NODE_ORG_DIR) && !cache_listing_busy(fs->cache, dir) &&
	       !(fs->cfg.store && store_has_listing(fs->cfg.store, dir));
}

void fs_lookup_one_reply(struct fs *fs, fuse_req_t req, fuse_ino_t dir, const struct listing *l,
			 const char *name)
{
	int64_t id;
	enum person_file kind;
	size_t base_len;
	struct person *p = l->count == 1 ? fs_listing_current(fs, l, 0) : NULL;
	if (l->count == 1 && !p) {
		fuse_reply_err(req, EIO); /* logged */
		return;
	}
	bool found = p && names_parse_person_file(name, strlen(name), &id, &kind, &base_len) &&
		     p->id == id && p->base_len == base_len && memcmp(p->base, name, base_len) == 0 &&
		     (tree_kind(dir) == NODE_OWNER_DIR ? p->owner_id : p->org_id) == tree_id(dir);
	if (found)
		fs_reply_person_entry(req, fs, p,
				      kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF);
	else
		fuse_reply_err(req, ENOENT); /* not this folder's, or not this name */
	person_unref(p);
}

void fs_lookup_person_file(struct fs *fs, fuse_req_t req, fuse_ino_t dir,
			   const struct listing *l, const char *name)
{
	size_t n = strlen(name);
	int64_t id;
	enum person_file kind;
	size_t base_len;
	long idx = -1;
	if (listing_of_persons(l) && names_parse_person_file(name, n, &id, &kind, &base_len))
		idx = listing_find(l, id);
	bool by_id_name = idx < 0 && dir == INO_BY_ID;
	if (by_id_name) {
		/* /by-id names are "<id>.json": the per-id key holds 0 or 1 person. */
		idx = l->count == 1 ? 0 : -1;
		kind = n > 5 && strcmp(name + n - 5, ".json") == 0 ? PERSON_FILE_JSON : PERSON_FILE_VCF;
	}
	struct person *p = idx >= 0 ? cache_listing_person(fs->cache, l, (size_t)idx) : NULL;
	if (idx >= 0 && !p) {
		fuse_reply_err(req, EIO); /* logged */
		return;
	}
	if (p && !by_id_name && (p->base_len != base_len || memcmp(p->base, name, base_len) != 0)) {
		person_unref(p); /* renamed: the old name is gone */
		p = NULL;
	}
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_reply_person_entry(req, fs, p, kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF);
	person_unref(p);
}

void fs_lookup_group_link(struct fs *fs, fuse_req_t req, fuse_ino_t root,
			  const struct listing *l, const char *name)
{
	for (size_t i = 0; l->names && i < l->count; i++) {
		if (l->names[i] && strcmp(l->names[i], name) == 0) {
			struct stat st;
			struct fuse_entry_param e;
			fs_link_attr(fs, tree_ino(tree_group_link_kind(root), l->ids[i]), &st);
			fs_entry_of(fs, &st, fs->cfg.ttl, &e);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	if (ino == INO_ROOT || ino == INO_CONTROL || ino == INO_SEARCH) {
		fi->fh = 0;
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
	} else if (streams(ino)) {
		open_person_dir(fs, req, ino, fi);
	} else if (tree_is_group_root(ino) || tree_is_person_dir(ino)) {
		park_or_fail(fs, req, PARKED_OPENDIR, ino, NULL, fi, ino);
	} else {
		fuse_reply_err(req, ENOTDIR);
	}
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_dir *od = (struct open_dir *)(uintptr_t)fi->fh;
	if (od)
		open_dir_free(fs_of(req), od);
	fuse_reply_err(req, 0);
}

/* Entry `index` of a person folder is person p's .json (even) or .vcf (odd):
 * its name into name, its attributes (of p's current version) into st. */
static bool person_entry(struct fs *fs, fuse_ino_t dir, const struct person *p, size_t index,
			 struct strbuf *name, struct stat *st)
{
	enum person_file kind = index % 2 ? PERSON_FILE_VCF : PERSON_FILE_JSON;
	if (dir == INO_BY_ID)
		sb_printf(name, "%" PRId64, p->id);
	else
		sb_append(name, p->base, p->base_len);
	sb_puts(name, names_extension(kind));
	struct person *current = fs_current_version(fs, p);
	fs_person_attr(fs, current, kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF, st);
	person_unref(current);
	return true;
}

/* The entry at directory position `index` (after "." and ".."); false past
 * the end, or with *err set (EIO: a person of a listing by ids could not be
 * read back).  Group roots list the id directories, then the name links, then
 * the folder files; person directories list each person's .json and .vcf,
 * with the attributes of the store's current version.  /search lists
 * nothing: a term is a question, not a place (nothing walking the tree
 * ever searches). */
static bool dir_entry_at(struct fs *fs, fuse_ino_t dir, const struct listing *l, size_t index,
			 struct strbuf *name, struct stat *st, int *err)
{
	sb_reset(name);
	if (dir == INO_SEARCH)
		return false;
	if (dir == INO_ROOT || dir == INO_CONTROL) {
		if (dir == INO_CONTROL) {
			if (index == 1 && fs->w) { /* writable mounts: the conflict files */
				sb_puts(name, "conflicts");
				fs_dir_attr(fs, INO_CONFLICTS, st);
				return true;
			}
			if (index > 0)
				return false;
			sb_puts(name, "status");
			fs_status_attr(fs, st);
			return true;
		}
		if (index >= ROOT_ENTRY_COUNT)
			return false;
		sb_puts(name, root_entries[index].name);
		fs_dir_attr(fs, root_entries[index].ino, st);
		return true;
	}
	if (l->ids) {
		if (index >= 3 * l->count)
			return false;
		if (index >= 2 * l->count) {
			fs_folderfile_entry(fs, dir, l->ids[index - 2 * l->count], name, st);
			return true; /* a folder that is not fresh leaves an empty slot */
		}
		if (index < l->count) {
			sb_printf(name, "%" PRId64, l->ids[index]);
			fs_dir_attr(fs, tree_ino(tree_group_member_kind(dir), l->ids[index]), st);
		} else if (l->names && l->names[index - l->count]) {
			sb_puts(name, l->names[index - l->count]);
			fs_link_attr(fs, tree_ino(tree_group_link_kind(dir), l->ids[index - l->count]), st);
		}
		return true; /* an id without a link name leaves an empty slot */
	}
	if (index / 2 >= l->count)
		return false;
	size_t i = l->order ? l->order[index / 2] : index / 2;
	struct person *p = cache_listing_person(fs->cache, l, i);
	if (!p) {
		*err = EIO; /* logged; never a silent end of the listing */
		return false;
	}
	bool shown = person_entry(fs, dir, p, index, name, st);
	person_unref(p);
	return shown;
}

/* The name and attributes of entry `index` (after "." and "..") of a folder
 * whose persons are persons[0..n), person `first` being persons[0]; false
 * past them, or with *err set (EIO: a NULL entry, a person of a cache by ids
 * that could not be read back). */
static bool growing_entry_at(struct fs *fs, fuse_ino_t dir, struct person *const *persons,
			     size_t n, size_t first, size_t index, struct strbuf *name,
			     struct stat *st, int *err)
{
	sb_reset(name);
	if (index / 2 < first || index / 2 - first >= n)
		return false;
	const struct person *p = persons[index / 2 - first];
	if (!p) {
		*err = EIO;
		return false;
	}
	return person_entry(fs, dir, p, index, name, st);
}

#define GROWING_BATCH 512 /* persons looked at per READDIR */

static void readdir_growing(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    bool plus, struct growing *g, struct parked *pk);

static void readdir_more(struct growing_waiter *w)
{
	struct parked *pk = (struct parked *)((char *)w - offsetof(struct parked, more));
	if (!park_is_waiting(pk)) { /* interrupted meanwhile: answered */
		park_free(pk);
		return;
	}
	readdir_growing(pk->fs, pk->req, pk->ino, pk->size, pk->off, pk->plus, pk->growing, pk);
}

/* Answer req through pk when parked (pk freed), else directly. */
static void readdir_answer(fuse_req_t req, struct parked *pk, const char *buf, size_t len, int err)
{
	if (!pk || park_take(pk)) {
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_buf(req, buf, len);
	}
	park_free(pk);
}

/* READDIR of a folder whose first walk is running: the persons so far from
 * `off`; past them, wait for the next page (the request is parked and
 * answered from the walker's thread); past the end of a failed walk, its
 * error - never an early end of the listing. */
static void readdir_growing(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    bool plus, struct growing *g, struct parked *pk)
{
	bool done;
	int err;
	size_t first = off < 2 ? 0 : (size_t)(off - 2) / 2;
	size_t count = growing_count(g, &done, &err);
	if (off >= 2 && first >= count && !done) {
		if (!pk) {
			pk = park_new(fs, req, PARKED_READDIR, ino, NULL);
			if (!pk)
				return; /* answered */
			pk->size = size;
			pk->off = off;
			pk->plus = plus;
			pk->growing = growing_ref(g);
			pk->more.ready = readdir_more;
		}
		if (growing_wait(g, first, &pk->more))
			return; /* readdir_more goes on */
		count = growing_count(g, &done, &err);
	}
	if (off >= 2 && first >= count && done && err) {
		readdir_answer(req, pk, NULL, 0, err);
		return;
	}
	if (done && !err && first >= count) { /* the end: files are read next */
		struct listing *l = cache_listing_peek(fs->cache, ino);
		if (l)
			fs_readahead_note(fs, l);
		listing_unref(l);
	}
	struct person *persons[GROWING_BATCH];
	size_t n = growing_slice(g, first, GROWING_BATCH, persons);
	/* nothing from persons the walk has: out of memory, not the end */
	int entry_err = n == 0 && first < count ? ENOMEM : 0;
	char *buf = entry_err ? NULL : malloc(size);
	struct strbuf name = STRBUF_INIT;
	size_t used = 0;
	for (off_t pos = off; buf; pos++) {
		struct stat st;
		if (pos < 2) {
			sb_reset(&name);
			sb_puts(&name, pos == 0 ? "." : "..");
			fs_dir_attr(fs, pos == 0 ? ino : INO_ROOT, &st);
		} else if (!growing_entry_at(fs, ino, persons, n, first, (size_t)pos - 2, &name, &st,
					     &entry_err)) {
			break;
		}
		if (sb_failed(&name))
			break;
		struct fuse_entry_param e;
		fs_entry_of(fs, &st, fs->cfg.ttl, &e);
		size_t want = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name.data,
							    &e, pos + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name.data, &st,
						       pos + 1);
		if (want > size - used)
			break;
		used += want;
	}
	for (size_t i = 0; i < n; i++)
		person_unref(persons[i]);
	int answer_err = !buf || sb_failed(&name) ? (entry_err ? entry_err : ENOMEM)
						  : entry_err && used == 0 ? entry_err : 0;
	readdir_answer(req, pk, buf, used, answer_err);
	free(buf);
	sb_free(&name);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	const struct open_dir *od = (const struct open_dir *)(uintptr_t)fi->fh;
	if (od && od->growing) {
		readdir_growing(fs, req, ino, size, off, plus, od->growing, NULL);
		return;
	}
	const struct listing *l = od ? od->listing : NULL;
	if (ino != INO_ROOT && ino != INO_CONTROL && ino != INO_SEARCH && !l) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (ino == INO_CONTROL)
		fs_status_refresh(fs);
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct strbuf name = STRBUF_INIT;
	size_t used = 0;
	int err = 0;
	for (off_t pos = off;; pos++) {
		struct stat st;
		if (pos < 2) {
			sb_reset(&name);
			sb_puts(&name, pos == 0 ? "." : "..");
			fs_dir_attr(fs, pos == 0 ? ino : INO_ROOT, &st);
		} else if (!dir_entry_at(fs, ino, l, (size_t)pos - 2, &name, &st, &err)) {
			break;
		}
		if (sb_failed(&name)) {
			free(buf);
			sb_free(&name);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (name.len == 0)
			continue; /* an empty slot */
		struct fuse_entry_param e;
		fs_entry_of(fs, &st, st.st_ino == INO_STATUS ? 0 : fs->cfg.ttl, &e);
		size_t want = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name.data,
							    &e, pos + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name.data, &st,
						       pos + 1);
		if (want > size - used)
			break;
		used += want;
	}
	/* An entry that could not be read ends this answer; asked for again
	 * (the next READDIR starts there), it fails. */
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
	sb_free(&name);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}
