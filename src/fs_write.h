/*
 * fs_write.h - what the files of the write layer share (-o rw).  Only
 * src/fs_write*.c include this; fs_internal.h declares what the rest of the
 * filesystem layer calls.
 *
 *   fs_write.c        opening for writing, WRITE, SETATTR, FLUSH/FSYNC (a
 *                     saved file becomes a change), RELEASE
 *   fs_write_versions.c  the versions a person was served in; the person as
 *                     pending changes show it
 *   fs_write_names.c  files of the write layer (temporary files, swap and
 *                     backup files, new persons' files under the names they
 *                     were written as): LOOKUP, GETATTR, READ, FORGET; the
 *                     changes requests wait for and what they make of names
 *   fs_write_ops.c    CREATE, MKNOD, UNLINK, RENAME, LINK
 *   fs_conflicts.c    /.pipedrivefs/conflicts
 *
 * Model.  A person's .json and .vcf always exist while the person does; a
 * name that is not a person's file is a write-layer file (struct wnode):
 * bytes in memory, never sent by themselves.  Such a file turns into a
 * change only by becoming a person's file: renamed over it (khard edit,
 * vim, gedit, atomic writes), linked or renamed to a new name ending in
 * .vcf/.json in a by-owner/<id> or by-org/<id> folder (khard new), or
 * written under such a new name and closed.  A write-layer file that became
 * a person's file stays bound to it (the kernel may still use its inode).
 */
#ifndef PDFS_FS_WRITE_H
#define PDFS_FS_WRITE_H

#include "fs_internal.h"
#include "idtable.h"
#include "names.h"
#include "writeback.h"

/* A file of the write layer. */
struct wnode {
	fuse_ino_t ino;         /* tree_ino(NODE_WRITE_FILE, n) */
	uint64_t nlookup;       /* the kernel's references */
	unsigned opens, pins, links; /* handles, changes in flight, names */
	int64_t person_id;      /* bound to this person's file; 0: a file of its own */
	enum person_file kind;  /* of the bound file */
	struct strbuf data;     /* unbound: the bytes */
	mode_t mode;
	struct timespec mtime;
	bool dirty;             /* written since its last change */
};

/* A name in a folder that is a write-layer file. */
struct wname {
	struct wname *next;
	fuse_ino_t dir;
	char *name;
	struct wnode *node;
	bool person_name;       /* the name a new person was written as: rm deletes it */
	double expires;         /* person names: until the folder's listing shows the
				 * person under its own name (fs_now() seconds) */
};

/* The versions a person was last served in, newest first. */
#define SERVED_VERSIONS 3
#define SERVED_PERSONS 512
struct served {
	struct person *v[SERVED_VERSIONS];
	uint64_t tick;
};

struct fs_write {
	pthread_mutex_t lock;   /* nodes, names, served */
	struct idtable nodes;   /* node number -> struct wnode * */
	uint64_t next_node;
	struct wname *names;
	struct idtable served;  /* person id -> struct served * */
	uint64_t tick;
	struct writeback *wb;
	bool allow_delete;
};

/* An open file being written (fi->fh); read-only opens have fh 0. */
struct whandle {
	struct wnode *node;     /* a write-layer file (opens held), or NULL */
	int64_t person_id;      /* a person's file: whose */
	enum person_file kind;
	struct strbuf buf;      /* a person's file: the new text */
	bool dirty;
	bool written;           /* a WRITE came (an O_TRUNC alone is no text yet) */
	struct person *versions[WB_VERSIONS]; /* a person's file: read from which */
	size_t nversions;
	char where[512];
};

/* A change a FUSE request waits for. */
enum wcommit_kind {
	COMMIT_FLUSH,   /* a saved file: FLUSH or FSYNC */
	COMMIT_CREATE,  /* a new person's file closed under its name */
	COMMIT_RENAME,  /* a file renamed over a person's, or to a new person's name */
	COMMIT_LINK,    /* a file linked to a new person's name (khard new) */
	COMMIT_UNLINK,  /* rm */
	COMMIT_MOVE,    /* mv to another owner's or organization's folder */
};

struct wcommit {
	struct fs *fs;
	struct parked *pk;
	enum wcommit_kind what;
	struct wnode *node;     /* pinned, or NULL */
	int64_t person_id;
	enum person_file kind;
	fuse_ino_t dir, src_dir;
	char *name, *src_name;
};

/* ---- fs_write_versions.c ---- */
void served_free(void *v); /* a struct served */

/* ---- fs_write.c ---- */
void whandle_free(struct fs *fs, struct whandle *h);
struct wnode *wnode_get(struct fs_write *w, fuse_ino_t ino); /* lock held */
void wnode_release(struct fs *fs, struct wnode *n);          /* lock held: free if unused */
/* The text of p's file of a kind. */
bool person_text(const struct person *p, enum person_file kind, struct strbuf *out);
/* The versions an edit of id may have been read from (served, then current). */
size_t person_versions(struct fs *fs, int64_t id, struct person **out, size_t max);
/* Hand a change to the writeback; req waits (parked) for its outcome. */
void commit_submit(struct fs *fs, fuse_req_t req, struct wcommit *c, struct wb_change *change);
/* "<folder>/<name>" for messages. */
void where_of(fuse_ino_t dir, const char *name, char *buf, size_t len);
void fs_entry_of_node(struct fs *fs, const struct wnode *n, struct fuse_entry_param *e);
void wnode_attr(struct fs *fs, const struct wnode *n, struct stat *st);

/* ---- fs_write_names.c (and fs_write_ops.c) ---- */
struct wname *wname_find(struct fs *fs, fuse_ino_t dir, const char *name); /* lock held */
void wname_remove(struct fs *fs, struct wname *nm);                            /* lock held */
struct wname *wname_add(struct fs_write *w, fuse_ino_t dir, const char *name, struct wnode *n);
struct wnode *wnode_new(struct fs_write *w, mode_t mode);                      /* lock held */
/* What a name is. */
bool person_like(const char *name);                /* "x.vcf", "x.json", not hidden */
enum person_file kind_of_name(const char *name);
bool creatable(fuse_ino_t dir);                    /* by-owner/<id>, by-org/<id> */
/* The person whose file `name` in dir is (its id, 0 if none) and kind. */
int64_t resolve_person(struct fs *fs, fuse_ino_t dir, const char *name, enum person_file *kind);
/* The same for a name that may be nm (lock held; released). */
int64_t person_of_name(struct fs *fs, const struct wname *nm, fuse_ino_t dir, const char *name,
		       enum person_file *kind);
void reply_node_entry(struct fs *fs, fuse_req_t req, struct wnode *n); /* lock held */
/* Building the changes FUSE requests wait for (lock held where a node is). */
struct wcommit *commit_new(enum wcommit_kind what, struct wnode *n, fuse_ino_t dir,
			   const char *name);
char *node_text(const struct wnode *n, size_t *len);
void place_of(fuse_ino_t dir, struct person_edit_place *place);
void refuse_new_person(fuse_ino_t dir, const char *name);
bool create_change(struct wnode *n, fuse_ino_t dir, const char *name, struct wb_change *change);
void submit_for_person(struct fs *fs, fuse_req_t req, enum wcommit_kind what,
		       struct wb_change *change, fuse_ino_t dir, const char *name);
/* The outcome of a commit for the names (a new person's file, a rename). */
void names_commit_done(struct fs *fs, struct wcommit *c, int err, int64_t person_id);
/* FLUSH/FSYNC of a write-layer file: a new person's file becomes a create. */
void fs_names_flush(struct fs *fs, fuse_req_t req, struct wnode *n);
/* READ of a write-layer file; false if ino is none. */
bool fs_names_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);

/* ---- fs_conflicts.c ---- */
bool conflicts_lookup(struct fs *fs, fuse_req_t req, const char *name);
bool conflicts_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino);
void conflicts_readdir(struct fs *fs, fuse_req_t req, size_t size, off_t off, bool plus);
bool conflicts_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
void conflicts_unlink(struct fs *fs, fuse_req_t req, const char *name);

#endif
