/*
 * fs_dir.c - directories: open handles holding a listing snapshot,
 * READDIR(PLUS), and finding a name in a listing (fs_internal.h).
 */
#include <errno.h>
#include <inttypes.h>
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
	if (l->persons)
		fs_readahead_note(fs, l);
	pthread_mutex_lock(&fs->dirs_lock);
	dlist_push_front(&fs->dirs, &od->node);
	pthread_mutex_unlock(&fs->dirs_lock);
	fi->fh = (uint64_t)(uintptr_t)od;
	fi->cache_readdir = fs->cfg.ttl > 0;
	fi->keep_cache = fs->cfg.ttl > 0 &&
			 cache_listing_unchanged_since_last_open(fs->cache, dir, l->generation);
	if (fuse_reply_open(req, fi) != 0)
		open_dir_free(fs, od); /* interrupted: no releasedir will come */
}

void fs_lookup_person_file(struct fs *fs, fuse_req_t req, fuse_ino_t dir,
			   const struct listing *l, const char *name)
{
	size_t n = strlen(name);
	int64_t id;
	enum person_file kind;
	size_t base_len;
	long idx = -1;
	if (l->persons && names_parse_person_file(name, n, &id, &kind, &base_len))
		idx = listing_find(l, id);
	if (idx < 0 && dir == INO_BY_ID) {
		/* /by-id names are "<id>.json": the per-id key holds 0 or 1 person. */
		idx = l->count == 1 ? 0 : -1;
		kind = n > 5 && strcmp(name + n - 5, ".json") == 0 ? PERSON_FILE_JSON : PERSON_FILE_VCF;
		base_len = 0;
	} else if (idx >= 0) {
		const struct person *p = l->persons[idx];
		if (p->base_len != base_len || memcmp(p->base, name, base_len) != 0)
			idx = -1; /* renamed: the old name is gone */
	}
	if (idx < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_reply_person_entry(req, fs, l->persons[idx],
			      kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF);
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
	if (ino == INO_ROOT || ino == INO_CONTROL) {
		fi->fh = 0;
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
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

/* The entry at directory position `index` (after "." and ".."); false past
 * the end.  Group roots list the id directories, then the name links;
 * person directories list each person's .json and .vcf, with the attributes
 * of the store's current version. */
static bool dir_entry_at(struct fs *fs, fuse_ino_t dir, const struct listing *l, size_t index,
			 struct strbuf *name, struct stat *st)
{
	sb_reset(name);
	if (dir == INO_ROOT || dir == INO_CONTROL) {
		if (dir == INO_CONTROL) {
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
		if (index >= 2 * l->count)
			return false;
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
	const struct person *p = l->persons[i];
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

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	const struct open_dir *od = (const struct open_dir *)(uintptr_t)fi->fh;
	const struct listing *l = od ? od->listing : NULL;
	if (ino != INO_ROOT && ino != INO_CONTROL && !l) {
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
	for (off_t pos = off;; pos++) {
		struct stat st;
		if (pos < 2) {
			sb_reset(&name);
			sb_puts(&name, pos == 0 ? "." : "..");
			fs_dir_attr(fs, pos == 0 ? ino : INO_ROOT, &st);
		} else if (!dir_entry_at(fs, ino, l, (size_t)pos - 2, &name, &st)) {
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
