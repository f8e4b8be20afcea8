/*
 * fs_write_names.c - write-layer files and the names that change persons:
 * LOOKUP, GETATTR, READ, FORGET, CREATE, MKNOD, UNLINK, RENAME, LINK
 * (fs_write.h).
 *
 *   rename(tmp, "Ann (42).vcf")     an edit of person 42 with tmp's text
 *   rename(tmp, "new.vcf")          in by-owner/<id>, by-org/<id>: a new person
 *   link(tmp, "<uid>.vcf")          the same (khard new)
 *   close("new.vcf") after writing  the same
 *   rename("Ann (42).vcf", "x~")    a copy of the card (vim's backup), nothing sent
 *   mv by-owner/1/f by-owner/2/     owner_id := 2 (by-org: org_id)
 *   rm "Ann (42).vcf"               DELETE, with -o allow_delete only (else EPERM)
 * Anything else that names a person's file is refused with EPERM and a log
 * line; other names (.x.swp, x~, 4913, tmpXXXX) live in memory only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_write.h"
#include "log.h"

/* How long, at least, a new person's file answers to the name it was
 * written as (else the cache TTL: until its folder's next listing). */
#define NAME_KEPT_S 10.0

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ------------------------------------------------------------------ */
/* Nodes and names (lock held)                                          */

struct wnode *wnode_new(struct fs_write *w, mode_t mode)
{
	struct wnode *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	uint64_t number = ++w->next_node;
	n->ino = tree_ino(NODE_WRITE_FILE, (int64_t)number);
	n->mode = mode & 07777 ? mode & 07777 : 0644;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	sb_init(&n->data);
	if (!idtable_insert(&w->nodes, number, n)) {
		free(n);
		return NULL;
	}
	return n;
}

struct wname *wname_find(struct fs *fs, fuse_ino_t dir, const char *name)
{
	for (struct wname *nm = fs->w->names; nm; nm = nm->next) {
		if (nm->dir != dir || strcmp(nm->name, name) != 0)
			continue;
		if (nm->person_name && nm->expires < fs_now()) {
			wname_remove(fs, nm); /* the listing shows the person by now */
			return NULL;
		}
		return nm;
	}
	return NULL;
}

struct wname *wname_add(struct fs_write *w, fuse_ino_t dir, const char *name, struct wnode *n)
{
	struct wname *nm = calloc(1, sizeof(*nm));
	if (!nm || !(nm->name = strdup(name))) {
		free(nm);
		return NULL;
	}
	nm->dir = dir;
	nm->node = n;
	nm->next = w->names;
	w->names = nm;
	n->links++;
	return nm;
}

void wname_remove(struct fs *fs, struct wname *nm)
{
	struct wname **link = &fs->w->names;
	while (*link && *link != nm)
		link = &(*link)->next;
	if (*link)
		*link = nm->next;
	struct wnode *n = nm->node;
	n->links--;
	free(nm->name);
	free(nm);
	wnode_release(fs, n);
}

/* ------------------------------------------------------------------ */
/* What a name is                                                       */

static bool person_like(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".json") == 0) ||
				  (n > 4 && strcmp(name + n - 4, ".vcf") == 0));
}

static enum person_file kind_of_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".json") == 0 ? PERSON_FILE_JSON : PERSON_FILE_VCF;
}

/* Folders where a new file makes a new person. */
static bool creatable(fuse_ino_t dir)
{
	return tree_kind(dir) == NODE_OWNER_DIR || tree_kind(dir) == NODE_ORG_DIR;
}

static bool in_folder(const struct person *p, fuse_ino_t dir)
{
	switch (tree_kind(dir)) {
	case NODE_OWNER_DIR:
		return p->owner_id == tree_id(dir);
	case NODE_ORG_DIR:
		return p->org_id == tree_id(dir);
	default:
		return true; /* a filter, /recent, /by-id: the name decides */
	}
}

static bool base_is(const struct person *p, const char *name, size_t base_len)
{
	return p && p->base_len == base_len && memcmp(p->base, name, base_len) == 0;
}

/* The person whose file `name` in dir is: its id (0 if none) and kind.
 * Its name as cached or as a pending change shows it. */
static int64_t resolve_person(struct fs *fs, fuse_ino_t dir, const char *name,
			      enum person_file *kind)
{
	int64_t id = 0;
	size_t n = strlen(name), base_len = 0;
	if (dir == INO_BY_ID) {
		size_t ext = n > 5 && strcmp(name + n - 5, ".json") == 0  ? 5
			     : n > 4 && strcmp(name + n - 4, ".vcf") == 0 ? 4
									   : 0;
		if (!ext || !names_parse_id(name, n - ext, &id))
			return 0;
		*kind = ext == 5 ? PERSON_FILE_JSON : PERSON_FILE_VCF;
		struct person *p = fs_person_current(fs, id);
		if (p)
			person_unref(p);
		return p ? id : 0;
	}
	if (!tree_is_person_dir(dir) || !names_parse_person_file(name, n, &id, kind, &base_len))
		return 0;
	struct person *shown = fs_person_current(fs, id), *cached = cache_person_get(fs->cache, id);
	bool named = base_is(shown, name, base_len) || base_is(cached, name, base_len);
	bool here = (shown && in_folder(shown, dir)) || (cached && in_folder(cached, dir));
	if (shown)
		person_unref(shown);
	if (cached)
		person_unref(cached);
	return named && here ? id : 0;
}

/* The person whose file a name in dir is: nm's (a write-layer name bound
 * to one), else a person's file there.  Called with the lock held (for nm);
 * releases it. */
static int64_t person_of_name(struct fs *fs, const struct wname *nm, fuse_ino_t dir,
			      const char *name, enum person_file *kind)
{
	int64_t id = nm ? nm->node->person_id : 0;
	if (id)
		*kind = nm->node->kind;
	pthread_mutex_unlock(&fs->w->lock);
	return id ? id : resolve_person(fs, dir, name, kind);
}

/* ------------------------------------------------------------------ */
/* LOOKUP, GETATTR, READ, FORGET                                        */

static void reply_node_entry(struct fs *fs, fuse_req_t req, struct wnode *n)
{
	struct fuse_entry_param e;
	fs_entry_of_node(fs, n, &e);
	if (!n->person_id)
		e.attr_timeout = 0; /* its size changes with every write */
	n->nlookup++;
	if (fuse_reply_entry(req, &e) != 0)
		n->nlookup--;
}

bool fs_write_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	if (!fs->w)
		return false;
	if (parent == INO_CONTROL && strcmp(name, "conflicts") == 0) {
		fs_reply_dir_entry(req, fs, INO_CONFLICTS);
		return true;
	}
	if (parent == INO_CONFLICTS)
		return conflicts_lookup(fs, req, name);
	if (!tree_is_person_dir(parent))
		return false;
	pthread_mutex_lock(&fs->w->lock);
	struct wname *nm = wname_find(fs, parent, name);
	if (nm)
		reply_node_entry(fs, req, nm->node);
	pthread_mutex_unlock(&fs->w->lock);
	if (nm)
		return true;
	enum person_file kind;
	int64_t id = 0;
	size_t base_len, n = strlen(name);
	if (parent == INO_BY_ID) {
		size_t ext = n > 5 && strcmp(name + n - 5, ".json") == 0 ? 5 : 4;
		names_parse_id(name, n > ext ? n - ext : 0, &id);
	} else {
		names_parse_person_file(name, n, &id, &kind, &base_len);
	}
	if (id && fs_person_gone(fs, id)) {
		fuse_reply_err(req, ENOENT); /* a delete waits for delivery */
		return true;
	}
	return false;
}

bool fs_write_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	if (!fs->w)
		return false;
	if (ino == INO_CONFLICTS) {
		fs_dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, 0);
		return true;
	}
	if (tree_kind(ino) == NODE_CONFLICT)
		return conflicts_getattr(fs, req, ino);
	if (tree_kind(ino) == NODE_WRITE_FILE) {
		pthread_mutex_lock(&fs->w->lock);
		struct wnode *n = wnode_get(fs->w, ino);
		bool bound = n && n->person_id;
		if (n)
			wnode_attr(fs, n, &st);
		pthread_mutex_unlock(&fs->w->lock);
		if (n)
			fuse_reply_attr(req, &st, bound ? fs->cfg.ttl : 0);
		else
			fuse_reply_err(req, ENOENT);
		return true;
	}
	if (fs_is_person_file(ino) && fs_person_gone(fs, tree_id(ino))) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	return false;
}

bool fs_names_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	if (tree_kind(ino) == NODE_CONFLICT)
		return conflicts_read(fs, req, ino, size, off);
	if (tree_kind(ino) != NODE_WRITE_FILE)
		return false;
	pthread_mutex_lock(&fs->w->lock);
	struct wnode *n = wnode_get(fs->w, ino);
	int64_t id = n ? n->person_id : 0;
	enum person_file kind = n ? n->kind : PERSON_FILE_VCF;
	if (n && !id) {
		size_t len = n->data.len;
		bool inside = off >= 0 && (size_t)off < len;
		fuse_reply_buf(req, inside ? n->data.data + off : NULL,
			       inside ? (len - (size_t)off < size ? len - (size_t)off : size) : 0);
	}
	pthread_mutex_unlock(&fs->w->lock);
	if (!n) {
		fuse_reply_err(req, ENOENT);
	} else if (id) {
		struct person *p = fs_person_current(fs, id);
		if (p) {
			fs_read_person(fs, req, NULL, p,
				       kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF, size,
				       off);
			person_unref(p);
		} else {
			fuse_reply_err(req, ENOENT);
		}
	}
	return true;
}

static void forget_one(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	if (!fs->w || tree_kind(ino) != NODE_WRITE_FILE)
		return;
	pthread_mutex_lock(&fs->w->lock);
	struct wnode *n = wnode_get(fs->w, ino);
	if (n) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
		wnode_release(fs, n);
	}
	pthread_mutex_unlock(&fs->w->lock);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ------------------------------------------------------------------ */
/* Changes                                                              */

static struct wcommit *commit_new(enum wcommit_kind what, struct wnode *n, fuse_ino_t dir,
				  const char *name)
{
	struct wcommit *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	*c = (struct wcommit){ .what = what, .node = n, .dir = dir };
	if (name && !(c->name = strdup(name))) {
		free(c);
		return NULL;
	}
	return c;
}

/* The bytes of n as a change's text (lock held). */
static char *node_text(const struct wnode *n, size_t *len)
{
	char *text = malloc(n->data.len + 1);
	if (text) {
		memcpy(text, n->data.data ? n->data.data : "", n->data.len);
		text[n->data.len] = '\0';
		*len = n->data.len;
	}
	return text;
}

/* A delete or move of change->person_id that req waits for. */
static void submit_for_person(struct fs *fs, fuse_req_t req, enum wcommit_kind what,
			      struct wb_change *change, fuse_ino_t dir, const char *name)
{
	change->nversions = person_versions(fs, change->person_id, change->versions, 1);
	struct wcommit *c = commit_new(what, NULL, dir, name);
	if (!c) {
		wb_change_clear(change);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	c->person_id = change->person_id;
	commit_submit(fs, req, c, change);
}

static void place_of(fuse_ino_t dir, struct person_edit_place *place)
{
	place->owner_id = tree_kind(dir) == NODE_OWNER_DIR ? tree_id(dir) : 0;
	place->org_id = tree_kind(dir) == NODE_ORG_DIR ? tree_id(dir) : 0;
}

static void refuse_new_person(fuse_ino_t dir, const char *name)
{
	char where[512];
	where_of(dir, name, where, sizeof(where));
	log_warn("%s: not saved: new persons are made in by-owner/<id>/ or by-org/<id>/ (the "
		 "folder gives the owner or organization); the text stays in memory only", where);
}

/* Fill a create (text from n, lock held); false when out of memory. */
static bool create_change(struct wnode *n, fuse_ino_t dir, const char *name,
			  struct wb_change *change)
{
	*change = (struct wb_change){ .op = WB_CREATE, .kind = kind_of_name(name) };
	place_of(dir, &change->place);
	where_of(dir, name, change->where, sizeof(change->where));
	change->text = node_text(n, &change->text_len);
	return change->text != NULL;
}

/* A file that became a person's file, written on through a handle opened
 * before: an edit of that person (lock held; released here). */
static void flush_bound(struct fs *fs, fuse_req_t req, struct wnode *n)
{
	struct wb_change change = { .op = WB_EDIT, .person_id = n->person_id, .kind = n->kind };
	struct wcommit *c = n->dirty ? commit_new(COMMIT_FLUSH, NULL, 0, NULL) : NULL;
	bool ok = c && (change.text = node_text(n, &change.text_len));
	n->dirty = false;
	pthread_mutex_unlock(&fs->w->lock);
	if (!ok) {
		free(c);
		fuse_reply_err(req, c ? ENOMEM : 0);
		return;
	}
	change.nversions = person_versions(fs, change.person_id, change.versions, WB_VERSIONS);
	snprintf(change.where, sizeof(change.where), "person %" PRId64 "%s", change.person_id,
		 names_extension(change.kind));
	c->person_id = change.person_id;
	c->kind = change.kind;
	commit_submit(fs, req, c, &change);
}

void fs_names_flush(struct fs *fs, fuse_req_t req, struct wnode *n)
{
	pthread_mutex_lock(&fs->w->lock);
	if (n->person_id) {
		flush_bound(fs, req, n);
		return;
	}
	struct wname *nm = NULL;
	bool refuse = false;
	for (struct wname *x = fs->w->names; n->dirty && n->data.len && x; x = x->next) {
		if (x->node != n || !person_like(x->name))
			continue;
		if (creatable(x->dir))
			nm = x;
		else
			refuse = true;
	}
	struct wb_change change;
	struct wcommit *c = NULL;
	int rc = 0;
	if (nm) {
		c = commit_new(COMMIT_CREATE, n, nm->dir, nm->name);
		if (!c || !create_change(n, nm->dir, nm->name, &change)) {
			rc = -ENOMEM;
			free(c ? c->name : NULL);
			free(c);
			c = NULL;
		} else {
			c->kind = change.kind;
			n->dirty = false;
		}
	} else if (refuse) {
		for (struct wname *x = fs->w->names; x; x = x->next)
			if (x->node == n && person_like(x->name))
				refuse_new_person(x->dir, x->name);
		n->dirty = false;
		rc = -EPERM;
	}
	pthread_mutex_unlock(&fs->w->lock);
	if (c)
		commit_submit(fs, req, c, &change);
	else
		fuse_reply_err(req, -rc);
}

/* After a commit: what its names become. */
void names_commit_done(struct fs *fs, struct wcommit *c, int err, int64_t person_id)
{
	if (!err && c->what == COMMIT_UNLINK && c->name) {
		pthread_mutex_lock(&fs->w->lock); /* the name a deleted person was written as */
		struct wname *nm = wname_find(fs, c->dir, c->name);
		if (nm && nm->person_name)
			wname_remove(fs, nm);
		pthread_mutex_unlock(&fs->w->lock);
	}
	if (err || !c->node)
		return;
	pthread_mutex_lock(&fs->w->lock);
	struct wnode *n = c->node;
	if (c->what == COMMIT_RENAME && c->src_name) {
		struct wname *src = wname_find(fs, c->src_dir, c->src_name);
		if (src && src->node == n) {
			n->links++; /* kept alive while its names change */
			wname_remove(fs, src);
			n->links--;
		}
	}
	bool created = c->what == COMMIT_CREATE || c->what == COMMIT_LINK ||
		       (c->what == COMMIT_RENAME && !c->person_id);
	if (person_id && (created || c->what == COMMIT_RENAME)) {
		n->person_id = person_id; /* the kernel may still use its inode */
		n->kind = c->kind;
		n->dirty = false; /* its text stays: a handle still open writes on in it */
	}
	if (created && person_id) {
		struct wname *dst = wname_find(fs, c->dir, c->name);
		if (dst && dst->node != n) {
			n->links++;
			wname_remove(fs, dst);
			n->links--;
			dst = NULL;
		}
		if (!dst)
			dst = wname_add(fs->w, c->dir, c->name, n);
		if (dst) {
			dst->person_name = true; /* rm of it deletes the person */
			dst->expires = fs_now() + (fs->cfg.ttl > NAME_KEPT_S ? fs->cfg.ttl : NAME_KEPT_S);
		}
	} else if (c->what == COMMIT_RENAME) {
		struct wname *dst = wname_find(fs, c->dir, c->name);
		if (dst && dst->node != n)
			wname_remove(fs, dst); /* an edit replaced what the name was */
	}
	pthread_mutex_unlock(&fs->w->lock);
	if (created && person_id)
		fs_queue_node_invalidation(fs, n->ino);
}

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
	struct person *p = fs_person_current(fs, id);
	if (!p)
		return -ENOENT;
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
