/*
 * fs_write_ops.c - the operations that make and change names in a writable
 * mount: CREATE, MKNOD, UNLINK, RENAME, LINK (and MKDIR, SYMLINK, RMDIR:
 * EPERM).  What each means for persons: fs_write_names.c's header and
 * docs/design.md, "The path of a write".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_write.h"
#include "log.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* A new write-layer file called name in parent (CREATE, MKNOD). */
static int new_file(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
		    struct wnode **out)
{
	if (!fs->w)
		return -EROFS;
	if (!tree_is_person_dir(parent))
		return -EPERM;
	if (strlen(name) > NAMES_NAME_MAX)
		return -ENAMETOOLONG;
	enum person_file kind;
	int64_t id;
	size_t base_len;
	if (resolve_person(fs, parent, name, &kind))
		return -EEXIST;
	if (names_parse_person_file(name, strlen(name), &id, &kind, &base_len)) {
		char where[512];
		where_of(parent, name, where, sizeof(where));
		log_warn("%s: refused: the name is person %" PRId64 "'s file name; to move a person "
			 "use mv, to make a new one use a new name", where, id);
		return -EPERM;
	}
	pthread_mutex_lock(&fs->w->lock);
	int rc = wname_find(fs, parent, name) ? -EEXIST : 0;
	struct wnode *n = rc ? NULL : wnode_new(fs->w, mode);
	if (!rc && (!n || !wname_add(fs->w, parent, name, n))) {
		if (n)
			wnode_release(fs, n);
		rc = -ENOMEM;
	}
	if (rc == 0)
		*out = n;
	else
		pthread_mutex_unlock(&fs->w->lock);
	return rc; /* 0: the lock is held */
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct wnode *n = NULL;
	int rc = new_file(fs, parent, name, mode, &n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct whandle *h = calloc(1, sizeof(*h));
	struct fuse_entry_param e;
	fs_entry_of_node(fs, n, &e);
	e.attr_timeout = 0;
	if (h) {
		h->node = n;
		n->opens++;
		n->nlookup++;
	}
	pthread_mutex_unlock(&fs->w->lock);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		pthread_mutex_lock(&fs->w->lock);
		n->nlookup--;
		pthread_mutex_unlock(&fs->w->lock);
		whandle_free(fs, h);
	}
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	struct fs *fs = fs_of(req);
	struct wnode *n = NULL;
	int rc = S_ISREG(mode) ? new_file(fs, parent, name, mode, &n) : fs->w ? -EPERM : -EROFS;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_node_entry(fs, req, n);
	pthread_mutex_unlock(&fs->w->lock);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	if (!fs->w) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (parent == INO_CONFLICTS) {
		conflicts_unlink(fs, req, name);
		return;
	}
	if (!tree_is_person_dir(parent)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	enum person_file kind = PERSON_FILE_VCF;
	pthread_mutex_lock(&fs->w->lock);
	struct wname *nm = wname_find(fs, parent, name);
	if (nm && !nm->person_name) {
		wname_remove(fs, nm); /* a write-layer file: gone from memory */
		pthread_mutex_unlock(&fs->w->lock);
		fuse_reply_err(req, 0);
		return;
	}
	int64_t id = person_of_name(fs, nm, parent, name, &kind);
	if (!id) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	char where[512];
	where_of(parent, name, where, sizeof(where));
	if (!fs->w->allow_delete) {
		log_warn("%s: not deleted: deleting persons needs -o allow_delete (nothing was sent)",
			 where);
		fuse_reply_err(req, EPERM);
		return;
	}
	struct wb_change change = { .op = WB_DELETE, .person_id = id };
	snprintf(change.where, sizeof(change.where), "%s", where);
	submit_for_person(fs, req, COMMIT_UNLINK, &change, parent, nm ? name : NULL);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, fs_of(req)->w ? EPERM : EROFS);
}

/* rename(person file, backup name) in its folder: a copy, nothing sent. */
static int backup_copy(struct fs *fs, int64_t id, enum person_file kind, fuse_ino_t dir,
		       const char *name)
{
	struct person *current = fs_person_current(fs, id);
	bool known = current != NULL;
	struct person *p = known ? cache_person_bytes(fs->cache, current) : NULL;
	person_unref(current);
	if (!p)
		return known ? -EAGAIN : -ENOENT;
	pthread_mutex_lock(&fs->w->lock);
	struct wname *old = wname_find(fs, dir, name);
	struct wnode *n = wnode_new(fs->w, 0644);
	int rc = n && person_text(p, kind, &n->data) ? 0 : -ENOMEM;
	if (rc == 0 && old)
		wname_remove(fs, old);
	if (rc == 0 && !wname_add(fs->w, dir, name, n))
		rc = -ENOMEM;
	if (rc && n)
		wnode_release(fs, n);
	pthread_mutex_unlock(&fs->w->lock);
	person_unref(p);
	if (rc == 0) /* the kernel moved the person's inode to that name: forget it */
		fs_queue_entry_invalidation(fs, dir, name);
	return rc;
}

/* mv of a person's file to another owner's or organization's folder. */
static void move_person(struct fs *fs, fuse_req_t req, int64_t id, fuse_ino_t from, fuse_ino_t to,
			const char *name)
{
	struct wb_change change = { .op = WB_MOVE, .person_id = id };
	place_of(to, &change.place);
	where_of(from, name, change.where, sizeof(change.where));
	submit_for_person(fs, req, COMMIT_MOVE, &change, to, NULL);
}

/* rename of a write-layer file of its own (lock held; released here). */
static void rename_node(struct fs *fs, fuse_req_t req, struct wname *src, fuse_ino_t parent,
			const char *name, fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct wnode *n = src->node;
	enum person_file kind = kind_of_name(newname);
	int64_t id = resolve_person(fs, newparent, newname, &kind);
	struct wname *dst = wname_find(fs, newparent, newname);
	if (!id && dst && dst->person_name) {
		id = dst->node->person_id;
		kind = dst->node->kind;
	}
	bool create = !id && creatable(newparent) && person_like(newname) && n->data.len;
	if ((id || dst) && (flags & RENAME_NOREPLACE)) {
		pthread_mutex_unlock(&fs->w->lock);
		fuse_reply_err(req, EEXIST);
		return;
	}
	if (!id && !create) {
		if (person_like(newname) && n->data.len && !creatable(newparent)) {
			pthread_mutex_unlock(&fs->w->lock);
			refuse_new_person(newparent, newname);
			fuse_reply_err(req, EPERM);
			return;
		}
		char *copy = strdup(newname);
		if (!copy) {
			pthread_mutex_unlock(&fs->w->lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (dst && dst != src)
			wname_remove(fs, dst);
		free(src->name);
		src->name = copy;
		src->dir = newparent;
		pthread_mutex_unlock(&fs->w->lock);
		fuse_reply_err(req, 0);
		return;
	}
	struct wb_change change;
	struct wcommit *c = commit_new(COMMIT_RENAME, n, newparent, newname);
	bool ok = c && (c->src_name = strdup(name));
	if (ok && create) {
		ok = create_change(n, newparent, newname, &change);
	} else if (ok) {
		change = (struct wb_change){ .op = WB_EDIT, .person_id = id, .kind = kind };
		where_of(newparent, newname, change.where, sizeof(change.where));
		ok = (change.text = node_text(n, &change.text_len)) != NULL;
	}
	pthread_mutex_unlock(&fs->w->lock);
	if (!ok) {
		if (c) {
			free(c->name);
			free(c->src_name);
			free(c);
		}
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (id)
		change.nversions = person_versions(fs, id, change.versions, WB_VERSIONS);
	c->src_dir = parent;
	c->person_id = id;
	c->kind = change.kind;
	commit_submit(fs, req, c, &change);
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	if (!fs->w) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!tree_is_person_dir(parent) || !tree_is_person_dir(newparent)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	pthread_mutex_lock(&fs->w->lock);
	struct wname *src = wname_find(fs, parent, name);
	if (src && !src->node->person_id) {
		rename_node(fs, req, src, parent, name, newparent, newname, flags);
		return;
	}
	enum person_file kind = PERSON_FILE_VCF;
	int64_t id = person_of_name(fs, src, parent, name, &kind);
	if (!id) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	enum person_file dst_kind;
	int64_t dst_id = resolve_person(fs, newparent, newname, &dst_kind);
	int64_t named_id;
	size_t base_len;
	bool same_file = strcmp(name, newname) == 0 ||
			 (names_parse_person_file(newname, strlen(newname), &named_id, &dst_kind,
						  &base_len) &&
			  named_id == id && dst_kind == kind);
	bool group_move = newparent != parent && tree_kind(newparent) == tree_kind(parent) &&
			  creatable(parent);
	if (group_move && same_file) {
		move_person(fs, req, id, parent, newparent, name);
		return;
	}
	if (newparent == parent && !dst_id && !person_like(newname)) {
		int rc = backup_copy(fs, id, kind, newparent, newname);
		fuse_reply_err(req, -rc);
		return;
	}
	char where[512];
	where_of(parent, name, where, sizeof(where));
	log_warn("%s: not renamed: a person's file moves only to another by-owner or by-org "
		 "folder under its own name (changes owner_id or org_id)", where);
	fuse_reply_err(req, EPERM);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs *fs = fs_of(req);
	if (!fs->w) {
		fuse_reply_err(req, EROFS);
		return;
	}
	enum person_file kind;
	if (!tree_is_person_dir(newparent) || resolve_person(fs, newparent, newname, &kind)) {
		fuse_reply_err(req, tree_is_person_dir(newparent) ? EEXIST : EPERM);
		return;
	}
	pthread_mutex_lock(&fs->w->lock);
	struct wnode *n = wnode_get(fs->w, ino);
	int rc = !n || n->person_id ? -EPERM : wname_find(fs, newparent, newname) ? -EEXIST : 0;
	bool create = rc == 0 && creatable(newparent) && person_like(newname) && n->data.len;
	if (rc == 0 && !create && person_like(newname) && n->data.len) {
		refuse_new_person(newparent, newname);
		rc = -EPERM;
	}
	if (rc == 0 && !create) {
		if (wname_add(fs->w, newparent, newname, n))
			reply_node_entry(fs, req, n);
		else
			rc = -ENOMEM;
		pthread_mutex_unlock(&fs->w->lock);
		if (rc)
			fuse_reply_err(req, -rc);
		return;
	}
	struct wb_change change;
	struct wcommit *c = rc ? NULL : commit_new(COMMIT_LINK, n, newparent, newname);
	if (rc == 0 && (!c || !create_change(n, newparent, newname, &change)))
		rc = -ENOMEM;
	pthread_mutex_unlock(&fs->w->lock);
	if (rc) {
		if (c) {
			free(c->name);
			free(c);
		}
		fuse_reply_err(req, -rc);
		return;
	}
	c->kind = change.kind;
	commit_submit(fs, req, c, &change);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, fs_of(req)->w ? EPERM : EROFS);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, fs_of(req)->w ? EPERM : EROFS);
}
