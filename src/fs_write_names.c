/*
 * fs_write_names.c - write-layer files and their names: LOOKUP, GETATTR,
 * READ, FORGET; what a name is; the changes FUSE requests wait for, and what
 * their outcome makes of the names (fs_write.h).  The operations that make
 * them: fs_write_ops.c.
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

bool person_like(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".json") == 0) ||
				  (n > 4 && strcmp(name + n - 4, ".vcf") == 0));
}

enum person_file kind_of_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".json") == 0 ? PERSON_FILE_JSON : PERSON_FILE_VCF;
}

/* Folders where a new file makes a new person. */
bool creatable(fuse_ino_t dir)
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
int64_t resolve_person(struct fs *fs, fuse_ino_t dir, const char *name,
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
int64_t person_of_name(struct fs *fs, const struct wname *nm, fuse_ino_t dir,
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

void reply_node_entry(struct fs *fs, fuse_req_t req, struct wnode *n)
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

struct wcommit *commit_new(enum wcommit_kind what, struct wnode *n, fuse_ino_t dir,
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
char *node_text(const struct wnode *n, size_t *len)
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
void submit_for_person(struct fs *fs, fuse_req_t req, enum wcommit_kind what,
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

void place_of(fuse_ino_t dir, struct person_edit_place *place)
{
	place->owner_id = tree_kind(dir) == NODE_OWNER_DIR ? tree_id(dir) : 0;
	place->org_id = tree_kind(dir) == NODE_ORG_DIR ? tree_id(dir) : 0;
}

void refuse_new_person(fuse_ino_t dir, const char *name)
{
	char where[512];
	where_of(dir, name, where, sizeof(where));
	log_warn("%s: not saved: new persons are made in by-owner/<id>/ or by-org/<id>/ (the "
		 "folder gives the owner or organization); the text stays in memory only", where);
}

/* Fill a create (text from n, lock held); false when out of memory. */
bool create_change(struct wnode *n, fuse_ino_t dir, const char *name,
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
