/*
 * fs_write.c - opening files for writing, WRITE, SETATTR, FLUSH/FSYNC,
 * RELEASE; served versions; the person as pending changes show it
 * (fs_write.h).
 *
 * A person's file opened for writing gets a handle with its own buffer: the
 * file's text (empty with O_TRUNC) and the versions of the person it may
 * have been read from.  WRITE fills the buffer; FLUSH (every close) or
 * FSYNC of a changed buffer hands it to the writeback as an edit and waits,
 * parked, for the outcome: close() returns it (EINVAL: refused, EBUSY: a
 * conflict; either way the file shows the person as Pipedrive has it).
 * Read-only opens cost nothing: no handle, keep_cache, no FLUSH (noflush).
 * The versions an edit may be based on: fs_write_versions.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_write.h"
#include "log.h"

bool person_text(const struct person *p, enum person_file kind, struct strbuf *out)
{
	if (kind == PERSON_FILE_JSON)
		person_json(p, out);
	else if (person_vcf(p, out) != 0)
		return false;
	return !sb_failed(out);
}

void where_of(fuse_ino_t dir, const char *name, char *buf, size_t len)
{
	char folder[64];
	tree_describe(dir, folder, sizeof(folder));
	snprintf(buf, len, "%s/%s", folder, name);
}

/* ------------------------------------------------------------------ */
/* Write-layer files                                                    */

struct wnode *wnode_get(struct fs_write *w, fuse_ino_t ino)
{
	if (tree_kind(ino) != NODE_WRITE_FILE)
		return NULL;
	struct idtable_entry *e = idtable_find(&w->nodes, (uint64_t)tree_id(ino));
	return e ? e->value : NULL;
}

void wnode_release(struct fs *fs, struct wnode *n)
{
	if (n->nlookup || n->opens || n->pins || n->links)
		return;
	idtable_remove(&fs->w->nodes, (uint64_t)tree_id(n->ino));
	sb_free(&n->data);
	free(n);
}

void wnode_attr(struct fs *fs, const struct wnode *n, struct stat *st)
{
	struct person *p = n->person_id ? fs_person_current(fs, n->person_id) : NULL;
	if (p) {
		fs_person_attr(fs, p, n->kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF,
			       st);
		person_unref(p);
		st->st_ino = n->ino;
		return;
	}
	fs_base_attr(fs, n->ino, S_IFREG | (n->mode & 07777), st);
	st->st_size = (off_t)n->data.len;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = st->st_ctim = st->st_atim = n->mtime;
}

void fs_entry_of_node(struct fs *fs, const struct wnode *n, struct fuse_entry_param *e)
{
	struct stat st;
	wnode_attr(fs, n, &st);
	fs_entry_of(fs, &st, fs->cfg.ttl, e);
}

/* ------------------------------------------------------------------ */
/* Commits: a change a FUSE request waits for                           */

static void commit_done(void *ctx, int err, int64_t person_id, const char *message)
{
	(void)message; /* the writeback logged it */
	struct wcommit *c = ctx;
	struct fs *fs = c->fs;
	names_commit_done(fs, c, err, person_id);
	if (err && c->person_id)
		fs_queue_person_invalidation(fs, c->person_id); /* it keeps its old content */
	if (c->pk && park_take(c->pk)) {
		if (c->what == COMMIT_LINK && !err) {
			struct fuse_entry_param e;
			pthread_mutex_lock(&fs->w->lock);
			fs_entry_of_node(fs, c->node, &e);
			c->node->nlookup++;
			pthread_mutex_unlock(&fs->w->lock);
			if (fuse_reply_entry(c->pk->req, &e) != 0) {
				pthread_mutex_lock(&fs->w->lock);
				c->node->nlookup--;
				pthread_mutex_unlock(&fs->w->lock);
			}
		} else {
			fuse_reply_err(c->pk->req, err);
		}
	}
	if (c->pk)
		park_free(c->pk);
	if (c->node) {
		pthread_mutex_lock(&fs->w->lock);
		c->node->pins--;
		wnode_release(fs, c->node);
		pthread_mutex_unlock(&fs->w->lock);
	}
	free(c->name);
	free(c->src_name);
	free(c);
}

void commit_submit(struct fs *fs, fuse_req_t req, struct wcommit *c, struct wb_change *change)
{
	c->fs = fs;
	/* NULL when answered already (out of memory, interrupted): the change
	 * still goes, nobody waits for it */
	c->pk = park_new(fs, req, PARKED_WRITE, 0, NULL);
	if (c->node) {
		pthread_mutex_lock(&fs->w->lock);
		c->node->pins++;
		pthread_mutex_unlock(&fs->w->lock);
	}
	writeback_submit(fs->w->wb, change, commit_done, c);
}

/* ------------------------------------------------------------------ */
/* Handles                                                              */

void whandle_free(struct fs *fs, struct whandle *h)
{
	if (h->node) {
		pthread_mutex_lock(&fs->w->lock);
		h->node->opens--;
		wnode_release(fs, h->node);
		pthread_mutex_unlock(&fs->w->lock);
	}
	for (size_t i = 0; i < h->nversions; i++)
		person_unref(h->versions[i]);
	sb_free(&h->buf);
	free(h);
}

/* A handle writing person id's file of a kind. */
static int person_handle(struct fs *fs, int64_t id, enum person_file kind, bool truncate,
			 struct whandle **out)
{
	struct whandle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->person_id = id;
	h->kind = kind;
	h->nversions = person_versions(fs, id, h->versions, WB_VERSIONS);
	if (!h->nversions) {
		free(h);
		if (fs_person_gone(fs, id))
			return -ENOENT;
		log_warn("person %" PRId64 " is not in the cache (cache_max_mb): read its file, then "
			 "write it (EAGAIN)", id);
		return -EAGAIN;
	}
	const struct person *now = h->versions[h->nversions - 1];
	snprintf(h->where, sizeof(h->where), "%s%s", now->base, names_extension(kind));
	h->dirty = truncate;
	if (!truncate && !person_text(now, kind, &h->buf)) {
		whandle_free(fs, h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void fs_write_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	bool truncate = writing && (fi->flags & O_TRUNC);
	struct whandle *h = NULL;
	int rc = 0;
	fi->fh = 0;
	if (ino == INO_STATUS || tree_kind(ino) == NODE_CONFLICT) {
		rc = writing ? -EACCES : 0;
		fi->direct_io = 1; /* made when read */
	} else if (fs_is_person_file(ino)) {
		if (fs_person_gone(fs, tree_id(ino)))
			rc = -ENOENT;
		else if (writing)
			rc = person_handle(fs, tree_id(ino),
					   tree_kind(ino) == NODE_PERSON_JSON ? PERSON_FILE_JSON
									: PERSON_FILE_VCF,
					   truncate, &h);
		fi->keep_cache = !writing;
		fi->noflush = !writing;
	} else if (tree_kind(ino) == NODE_WRITE_FILE) {
		pthread_mutex_lock(&fs->w->lock);
		struct wnode *n = wnode_get(fs->w, ino);
		int64_t bound = n ? n->person_id : 0;
		enum person_file kind = n ? n->kind : PERSON_FILE_VCF;
		if (!n) {
			rc = -ENOENT;
		} else if (!bound && writing) {
			if (!(h = calloc(1, sizeof(*h)))) {
				rc = -ENOMEM;
			} else {
				h->node = n;
				n->opens++;
				if (truncate) {
					sb_reset(&n->data);
					n->dirty = true;
					clock_gettime(CLOCK_REALTIME, &n->mtime);
				}
			}
		}
		pthread_mutex_unlock(&fs->w->lock);
		if (rc == 0 && bound && writing)
			rc = person_handle(fs, bound, kind, truncate, &h);
		fi->keep_cache = 0;
		fi->noflush = !writing;
	} else {
		rc = -EISDIR;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0 && h)
		whandle_free(fs, h); /* interrupted: no release will come */
}

static struct whandle *handle_of(const struct fuse_file_info *fi)
{
	return fi ? (struct whandle *)(uintptr_t)fi->fh : NULL;
}

/* Write size bytes at off into b (zeros fill a gap). */
static int buffer_write(struct strbuf *b, const char *data, size_t size, off_t off)
{
	if (off < 0 || (uint64_t)off + size > FS_FILE_MAX)
		return -EFBIG;
	size_t end = (size_t)off + size;
	if (end > b->len) {
		if (!sb_reserve(b, end - b->len)) {
			sb_reset(b);
			return -ENOMEM;
		}
		memset(b->data + b->len, 0, end - b->len);
		b->len = end;
		b->data[end] = '\0';
	}
	memcpy(b->data + off, data, size);
	return 0;
}

/* Make b size bytes long. */
static int buffer_resize(struct strbuf *b, off_t size)
{
	if (size < 0 || (uint64_t)size > FS_FILE_MAX)
		return -EFBIG;
	if ((size_t)size <= b->len) {
		sb_truncate(b, (size_t)size);
		return 0;
	}
	return buffer_write(b, "", 0, size);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct whandle *h = handle_of(fi);
	if (!fs->w || !h) {
		fuse_reply_err(req, fs->w ? EBADF : EROFS);
		return;
	}
	int rc;
	if (h->node) {
		pthread_mutex_lock(&fs->w->lock);
		rc = buffer_write(&h->node->data, buf, size, off);
		h->node->dirty = true;
		clock_gettime(CLOCK_REALTIME, &h->node->mtime);
		pthread_mutex_unlock(&fs->w->lock);
	} else {
		rc = buffer_write(&h->buf, buf, size, off);
		h->dirty = h->written = true;
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* FLUSH and FSYNC: a changed person's file becomes an edit; a new person's
 * file (fs_write_names.c) a create. */
static void commit_handle(fuse_req_t req, struct whandle *h)
{
	struct fs *fs = fs_of(req);
	if (h && h->node) {
		fs_names_flush(fs, req, h->node);
		return;
	}
	/* An emptied file not written yet is no text to send: a shell's
	 * "> file" opens, duplicates and closes the descriptor before the
	 * command writes (see RELEASE for one never written). */
	if (!h || !h->dirty || (!h->written && h->buf.len == 0)) {
		fuse_reply_err(req, 0);
		return;
	}
	struct wb_change change = { .op = WB_EDIT, .person_id = h->person_id, .kind = h->kind };
	struct wcommit *c = calloc(1, sizeof(*c));
	change.text = malloc(h->buf.len + 1);
	if (!c || !change.text) {
		free(c);
		free(change.text);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(change.text, h->buf.data ? h->buf.data : "", h->buf.len);
	change.text[h->buf.len] = '\0';
	change.text_len = h->buf.len;
	for (size_t i = 0; i < h->nversions; i++)
		change.versions[change.nversions++] = person_ref(h->versions[i]);
	snprintf(change.where, sizeof(change.where), "%s", h->where);
	h->dirty = false; /* this text's outcome is reported now */
	*c = (struct wcommit){ .what = COMMIT_FLUSH, .person_id = h->person_id, .kind = h->kind };
	commit_submit(fs, req, c, &change);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	commit_handle(req, handle_of(fi));
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	commit_handle(req, handle_of(fi));
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct whandle *h = handle_of(fi);
	if (h && !h->node && h->dirty) {
		/* emptied and closed without a write: nothing Pipedrive can hold */
		log_warn("%s: emptied but not written: not saved; the file keeps its old content",
			 h->where);
		fs_queue_person_invalidation(fs, h->person_id);
	}
	if (h)
		whandle_free(fs, h);
	fuse_reply_err(req, 0);
}

/* Reading through a handle that wrote: the handle's text. */
bool fs_write_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct whandle *h = handle_of(fi);
	if (!fs->w)
		return false;
	if (h && !h->node) {
		size_t len = h->buf.len;
		fuse_reply_buf(req, off >= 0 && (size_t)off < len ? h->buf.data + off : NULL,
			       off >= 0 && (size_t)off < len ? (len - (size_t)off < size ? len - (size_t)off : size)
							     : 0);
		return true;
	}
	return fs_names_read(fs, req, ino, size, off);
}

/* A write-layer file of its own: size, mode and times are its own. */
static int setattr_node(struct wnode *n, const struct stat *attr, int to_set)
{
	int rc = 0;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = buffer_resize(&n->data, attr->st_size);
		n->dirty = true;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		n->mode = attr->st_mode;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &n->mtime);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		n->mtime = attr->st_mtim;
	return rc;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct whandle *h = handle_of(fi);
	struct stat st;
	if (!fs->w) {
		fuse_reply_err(req, EROFS);
		return;
	}
	int64_t id = 0;
	enum node_kind kind = tree_kind(ino);
	if (kind == NODE_WRITE_FILE) {
		pthread_mutex_lock(&fs->w->lock);
		struct wnode *n = wnode_get(fs->w, ino);
		int rc = n ? 0 : -ENOENT;
		/* its own bytes, or a handle opened before it became a person's
		 * file still writing them */
		bool own = n && (!n->person_id || (h && h->node == n));
		if (own && (rc = setattr_node(n, attr, to_set)) == 0)
			wnode_attr(fs, n, &st);
		if (own && rc == 0 && n->person_id) {
			st.st_size = (off_t)n->data.len;
			st.st_blocks = (st.st_size + 511) / 512;
		}
		id = n && !own ? n->person_id : 0;
		kind = n && n->kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF;
		pthread_mutex_unlock(&fs->w->lock);
		if (rc || !id) {
			if (rc)
				fuse_reply_err(req, -rc);
			else
				fuse_reply_attr(req, &st, 0);
			return;
		}
	} else if (fs_is_person_file(ino)) {
		id = tree_id(ino);
	} else if (fs_is_directory(ino) || ino == INO_CONFLICTS) {
		fs_dir_attr(fs, ino, &st); /* touch: the mount's times stay */
		fuse_reply_attr(req, &st, fs->cfg.ttl);
		return;
	} else {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* A person's file: its size changes only through a handle writing it;
	 * modes, owners and times are the mount's (accepted: editors set them). */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		int rc = -EINVAL;
		if (h && !h->node) {
			rc = buffer_resize(&h->buf, attr->st_size);
			h->dirty = true;
		} else {
			log_warn("truncating a person's file without opening it is not a change "
				 "pipedrivefs can send; open it and write the new text instead");
		}
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	struct person *p = fs_person_current(fs, id);
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_person_attr(fs, p, kind, &st);
	person_unref(p);
	st.st_ino = ino;
	if (h && !h->node) {
		st.st_size = (off_t)h->buf.len;
		st.st_blocks = (st.st_size + 511) / 512;
	}
	fuse_reply_attr(req, &st, 0);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

static void pending_changed(void *ctx, int64_t person_id)
{
	fs_queue_person_invalidation(ctx, person_id);
}

int fs_write_new(struct fs *fs)
{
	if (!fs->cfg.writable || !fs->cfg.writeback)
		return 0;
	struct fs_write *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (!idtable_init(&w->nodes) || !idtable_init(&w->served)) {
		idtable_destroy(&w->nodes, NULL);
		idtable_destroy(&w->served, NULL);
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->wb = fs->cfg.writeback;
	w->allow_delete = fs->cfg.allow_delete;
	fs->w = w;
	writeback_set_changed_hook(w->wb, pending_changed, fs);
	return 0;
}

static void free_node(void *v)
{
	struct wnode *n = v;
	sb_free(&n->data);
	free(n);
}

void fs_write_free(struct fs *fs)
{
	struct fs_write *w = fs->w;
	if (!w)
		return;
	/* the writeback is freed first (main.c): no hook runs any more */
	while (w->names) {
		struct wname *nm = w->names;
		w->names = nm->next;
		free(nm->name);
		free(nm);
	}
	idtable_destroy(&w->nodes, free_node);
	idtable_destroy(&w->served, served_free);
	pthread_mutex_destroy(&w->lock);
	free(w);
	fs->w = NULL;
}
