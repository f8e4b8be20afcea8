/*
 * fs_attr.c - attributes of the nodes and entry replies (fs_internal.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"

bool fs_is_directory(fuse_ino_t ino)
{
	enum node_kind k = tree_kind(ino);
	return (k == NODE_FIXED && ino >= INO_ROOT && ino <= INO_CONTROL) || ino == INO_SEARCH ||
	       k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR ||
	       k == NODE_SEARCH_DIR;
}

bool fs_is_link(fuse_ino_t ino)
{
	enum node_kind k = tree_kind(ino);
	return k == NODE_OWNER_LINK || k == NODE_ORG_LINK || k == NODE_FILTER_LINK;
}

bool fs_is_person_file(fuse_ino_t ino)
{
	return tree_kind(ino) == NODE_PERSON_JSON || tree_kind(ino) == NODE_PERSON_VCF;
}

void fs_base_attr(const struct fs *fs, fuse_ino_t ino, mode_t mode, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = fs->mount_time;
}

void fs_dir_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	/* writable mounts: files can be made in person folders (fs_write.h) */
	bool open = fs->w && (tree_is_person_dir(ino) || ino == INO_CONFLICTS);
	fs_base_attr(fs, ino, S_IFDIR | (open ? 0755 : 0555), st);
	st->st_size = 4096;
}

void fs_link_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	char target[24];
	fs_base_attr(fs, ino, S_IFLNK | 0777, st);
	st->st_size = snprintf(target, sizeof(target), "%" PRId64, tree_id(ino));
}

void fs_person_attr(const struct fs *fs, const struct person *p, enum node_kind kind,
		    struct stat *st)
{
	fs_base_attr(fs, tree_ino(kind, p->id), S_IFREG | (fs->w ? 0644 : 0444), st);
	st->st_size = (off_t)(kind == NODE_PERSON_JSON ? p->json_len : p->vcf_len);
	st->st_blocks = (st->st_size + 511) / 512;
	if (p->update_time)
		st->st_mtime = st->st_ctime = st->st_atime = (time_t)p->update_time;
	/* The seconds are update_time; the nanoseconds tell versions apart
	 * whose bytes differ within the same second (an organization renamed,
	 * new settings), so tools that compare mtimes (vdirsyncer's ETags,
	 * make, rsync) see every change. */
	if (p->digest)
		st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec =
			(long)(p->digest % 1000000000u);
}

void fs_entry_of(const struct fs *fs, const struct stat *st, double attr_timeout,
		 struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr = *st;
	e->ino = st->st_ino;
	e->attr_timeout = attr_timeout;
	e->entry_timeout = fs->cfg.ttl;
}

void fs_reply_dir_entry(fuse_req_t req, const struct fs *fs, fuse_ino_t ino)
{
	struct stat st;
	struct fuse_entry_param e;
	fs_dir_attr(fs, ino, &st);
	fs_entry_of(fs, &st, fs->cfg.ttl, &e);
	fuse_reply_entry(req, &e);
}

struct person *fs_current_version(struct fs *fs, const struct person *p)
{
	struct person *current = fs_person_current(fs, p->id);
	return current ? current : person_ref((struct person *)p);
}

struct person *fs_listing_current(struct fs *fs, const struct listing *l, size_t i)
{
	struct person *held = cache_listing_person(fs->cache, l, i);
	struct person *current = held ? fs_current_version(fs, held) : NULL;
	person_unref(held);
	return current;
}

void fs_reply_person_entry(fuse_req_t req, struct fs *fs, const struct person *p,
			   enum node_kind kind)
{
	struct stat st;
	struct fuse_entry_param e;
	struct person *current = fs_current_version(fs, p);
	fs_person_attr(fs, current, kind, &st);
	person_unref(current);
	fs_entry_of(fs, &st, fs->cfg.ttl, &e);
	fuse_reply_entry(req, &e);
}
