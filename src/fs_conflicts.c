/*
 * fs_conflicts.c - /.pipedrivefs/conflicts (writable mounts): the texts of
 * changes that were not sent - a conflict, a rejection, no journal to keep
 * them for later - one file each, readable, removable with rm (fs_write.h;
 * the files themselves live in the writeback, writeback.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_write.h"

static void conflict_attr(struct fs *fs, const struct wb_conflict_info *c, struct stat *st)
{
	fs_base_attr(fs, tree_ino(NODE_CONFLICT, (int64_t)c->id), S_IFREG | 0644, st);
	st->st_size = (off_t)c->len;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtime = st->st_ctime = st->st_atime = c->at;
}

bool conflicts_lookup(struct fs *fs, fuse_req_t req, const char *name)
{
	struct wb_conflict_info c;
	if (!writeback_conflict_find(fs->w->wb, name, &c)) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	struct stat st;
	struct fuse_entry_param e;
	conflict_attr(fs, &c, &st);
	fs_entry_of(fs, &st, 0, &e);
	e.entry_timeout = 0; /* removed from other places (restarts, rm) */
	fuse_reply_entry(req, &e);
	return true;
}

bool conflicts_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino)
{
	struct wb_conflict_info c;
	if (!writeback_conflict_get(fs->w->wb, (uint64_t)tree_id(ino), &c)) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	struct stat st;
	conflict_attr(fs, &c, &st);
	fuse_reply_attr(req, &st, 0);
	return true;
}

bool conflicts_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	size_t len = 0;
	char *text = writeback_conflict_text(fs->w->wb, (uint64_t)tree_id(ino), &len);
	if (!text) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	bool inside = off >= 0 && (size_t)off < len;
	fuse_reply_buf(req, inside ? text + off : NULL,
		       inside ? (len - (size_t)off < size ? len - (size_t)off : size) : 0);
	free(text);
	return true;
}

void conflicts_readdir(struct fs *fs, fuse_req_t req, size_t size, off_t off, bool plus)
{
	struct wb_conflict_info *list = NULL;
	size_t n = writeback_conflicts(fs->w->wb, &list);
	char *buf = malloc(size);
	if (!buf) {
		free(list);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (off_t pos = off; pos >= 0 && (size_t)pos < n + 2; pos++) {
		struct stat st;
		const char *name;
		if (pos < 2) {
			fs_dir_attr(fs, pos == 0 ? INO_CONFLICTS : INO_CONTROL, &st);
			name = pos == 0 ? "." : "..";
		} else {
			conflict_attr(fs, &list[pos - 2], &st);
			name = list[pos - 2].name;
		}
		struct fuse_entry_param e;
		fs_entry_of(fs, &st, 0, &e);
		e.entry_timeout = 0;
		size_t want = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
							    pos + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name, &st, pos + 1);
		if (want > size - used)
			break;
		used += want;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
	free(list);
}

void conflicts_unlink(struct fs *fs, fuse_req_t req, const char *name)
{
	struct wb_conflict_info c;
	int rc = writeback_conflict_find(fs->w->wb, name, &c)
			 ? writeback_conflict_remove(fs->w->wb, c.id)
			 : -ENOENT;
	fuse_reply_err(req, -rc);
}
