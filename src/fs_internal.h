/*
 * fs_internal.h - what the files of the filesystem layer share.  fs.h is the
 * layer's contract; only src/fs*.c include this.
 *
 *   fs.c       lifecycle, the status file, the invalidation thread, the
 *              callback table and the small callbacks
 *   fs_attr.c  attributes and entry replies
 *   fs_dir.c   open directories, READDIR(PLUS), names in a listing
 *   fs_park.c  requests parked until a listing or a rendered file is ready;
 *              FUSE interrupts; each request answered exactly once
 *   fs_read.c  READ: the bytes of a person file
 *   fs_folderfile.c  /by-owner/<id>.vcf and the like: a folder's cards in
 *              one file, sized and read from the folder's listing
 *   fs_write*.c, fs_conflicts.c  the write layer (-o rw, src/fs_write.h)
 *
 * Rule for attributes and bytes: both come from the person store's current
 * version of a person (cache_person_get), never from an older copy a listing
 * still holds, so `ls -l` and `cat` always agree; when the store's version is
 * replaced, the invalidation thread drops the kernel's attributes and pages.
 */
#ifndef PDFS_FS_INTERNAL_H
#define PDFS_FS_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "dlist.h"
#include "growing.h"
#include "fs.h"
#include "prettycache.h"
#include "strbuf.h"
#include "tree.h"

/* Person files larger than this are refused with EFBIG (their size shows). */
#define FS_FILE_MAX (32u << 20)
/* A .json file up to this size is re-indented on every READ; bigger ones
 * are rendered once by the pretty cache. */
#define FS_PRETTY_INLINE_MAX (64u << 10)
/* What the pretty cache may hold: two files of the largest size. */
#define FS_PRETTY_CACHE_BYTES (2 * (size_t)FS_FILE_MAX)

/* What the kernel must forget: a person's file inodes (parent 0), or one
 * directory entry (a deleted person's file name in a directory). */
struct invalidation {
	struct invalidation *next;
	int64_t person_id;
	fuse_ino_t ino;    /* one inode of the write layer (person_id 0), or 0 */
	fuse_ino_t parent;
	size_t name_len;
	char name[];
};

/* Reading ahead across files (fs_read.c): a reader that reads a directory's
 * files in order (grep -r, find | xargs cat, cp -r) finds the next ones in
 * the kernel's page cache, stored there by the invalidation thread
 * (fuse_lowlevel_notify_store), instead of a FUSE round trip per file. */
#define FS_READAHEAD_PERSONS 128 /* persons pushed ahead of a reader */
#define FS_READAHEAD_LISTINGS 4  /* directories opened lately */

struct fs_readahead {
	pthread_mutex_t lock;
	struct readahead_dir {
		struct listing *listing; /* a person directory opened lately */
		size_t frontier;         /* persons before it were pushed */
	} recent[FS_READAHEAD_LISTINGS];
	unsigned next; /* the slot the next directory takes */
	int64_t *queue; /* ids of persons to push, for the invalidation thread */
	size_t queued, cap;
	uint64_t pushed; /* files stored into the page cache */
};

/* An open directory: its listing snapshot.  Kept on a list so that handles
 * the kernel never releases (a lazy unmount) are freed at exit. */
struct open_dir {
	struct dlist_node node; /* on fs.dirs */
	struct listing *listing;
	struct growing *growing; /* instead of listing: the first walk, still going */
};

struct fs {
	struct fs_config cfg;
	char *config_text;
	struct api_client *client;
	struct cache *cache;
	struct walker *walker;
	struct prettycache *pretty;
	struct fuse_session *se;
	time_t mount_time;
	uid_t uid;
	gid_t gid;

	/* The invalidation thread: person ids whose bytes changed, and SIGHUP. */
	pthread_mutex_t inval_lock;
	struct invalidation *inval_head;
	sem_t inval_wake;
	atomic_bool refresh_requested;
	atomic_bool stopping;
	pthread_t inval_thread;
	bool inval_started;

	pthread_mutex_t dirs_lock;
	struct dlist dirs;

	/* The status file's current text: getattr and read must agree. */
	pthread_mutex_t status_lock;
	struct strbuf status;
	time_t status_time;

	atomic_uint_fast64_t interrupted; /* requests answered EINTR */

	struct folder_indexes *folder_indexes; /* fs_folderfile.c: where each card starts */
	struct fs_write *w; /* the write layer; NULL in a read-only mount */
	struct fs_readahead readahead;

	/* Person ids whose too-big file was logged lately (one line each). */
	pthread_mutex_t warn_lock;
	int64_t warned[16];
	unsigned warned_next;
};

static inline struct fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }
double fs_now(void);

/* ---- fs.c ---- */
void fs_status_refresh(struct fs *fs);
void fs_status_attr(struct fs *fs, struct stat *st);
/* For the invalidation thread: a person's files, one inode, one name. */
void fs_queue_person_invalidation(struct fs *fs, int64_t person_id);
void fs_queue_node_invalidation(struct fs *fs, fuse_ino_t ino);
void fs_queue_entry_invalidation(struct fs *fs, fuse_ino_t parent, const char *name);

/* ---- fs_attr.c ---- */
bool fs_is_directory(fuse_ino_t ino);
bool fs_is_link(fuse_ino_t ino);
bool fs_is_person_file(fuse_ino_t ino);
void fs_base_attr(const struct fs *fs, fuse_ino_t ino, mode_t mode, struct stat *st);
void fs_dir_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st);
void fs_link_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st);
void fs_person_attr(const struct fs *fs, const struct person *p, enum node_kind kind,
		    struct stat *st);
void fs_entry_of(const struct fs *fs, const struct stat *st, double attr_timeout,
		 struct fuse_entry_param *e);
void fs_reply_dir_entry(fuse_req_t req, const struct fs *fs, fuse_ino_t ino);
void fs_reply_person_entry(fuse_req_t req, struct fs *fs, const struct person *p,
			   enum node_kind kind);
/* The store's current version of p's person (a new reference); p itself
 * when the store no longer holds one. */
struct person *fs_current_version(struct fs *fs, const struct person *p);
/* The current version of person i of listing l (cache_listing_person); NULL
 * (logged) if it can be read nowhere: answer EIO. */
struct person *fs_listing_current(struct fs *fs, const struct listing *l, size_t i);

/* ---- fs_park.c ---- */
enum parked_op {
	PARKED_OPENDIR,
	PARKED_LOOKUP,  /* a name in a directory */
	PARKED_GETATTR, /* a person file the store no longer holds */
	PARKED_READ,    /* the same, or a big .json file being rendered */
	/* A folder file, waiting for its folder's listing (fs_folderfile.c). */
	PARKED_FOLDER_ENTRY,
	PARKED_FOLDER_ATTR,
	PARKED_FOLDER_READ,
	PARKED_WRITE,   /* a change the writeback delivers (fs_write.c) */
	PARKED_READDIR,    /* a READDIR past the persons a first walk has brought so far */
	PARKED_LOOKUP_ONE, /* a file of a folder not listed yet, looked up by its id alone */
};

struct parked {
	struct listing_waiter waiter; /* first: the cache hands this back */
	struct pretty_waiter pretty;  /* a READ waiting for a rendered file */
	struct growing_waiter more;   /* a READDIR waiting for the walk's next persons */
	struct growing *growing;      /* ... of this growing listing (a reference) */
	bool plus;                    /* READDIRPLUS */
	struct fs *fs;
	fuse_req_t req;
	atomic_int state;             /* PARK_WAITING until someone answers */
	bool interrupted_early;
	enum parked_op op;
	fuse_ino_t ino; /* the directory, or the file for getattr/read */
	struct fuse_file_info fi;
	size_t size;
	off_t off;
	char name[]; /* lookup only */
};

/* Park req: NULL if it was answered already (ENOMEM, or interrupted before
 * it could be parked).  Interrupts answer a parked request with EINTR. */
struct parked *park_new(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
			const char *name);
/* The right to answer pk->req: true exactly once per request, false if an
 * interrupt answered it.  Whoever holds pk frees it afterwards (park_free). */
bool park_take(struct parked *pk);
void park_free(struct parked *pk);
/* Not answered yet (no interrupt came). */
bool park_is_waiting(struct parked *pk);
/* ---- fs_dir.c, streaming ---- */
/* A person file's name in a folder whose first walk is running: answered
 * (true) if the walk has brought that person already. */
bool fs_lookup_in_growing(struct fs *fs, fuse_req_t req, fuse_ino_t dir, const char *name);
/* One file, one request: a folder neither listed nor being walked is not
 * walked for a LOOKUP; the person is fetched by id and checked to belong. */
bool fs_lookup_by_id_applies(struct fs *fs, fuse_ino_t dir);
void fs_lookup_one_reply(struct fs *fs, fuse_req_t req, fuse_ino_t dir, const struct listing *l,
			 const char *name);

/* Answer pk from the listing of key: now if cached, else when a walk ends. */
void park_on_listing(struct fs *fs, struct parked *pk, uint64_t key);
/* Park req (op, ino, name, fi) on the listing of key, or answer it. */
void park_or_fail(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
		  const char *name, const struct fuse_file_info *fi, uint64_t key);

/* ---- fs_dir.c ---- */
/* The inode of a name in the root, false if there is none. */
bool fs_root_entry(const char *name, fuse_ino_t *ino);
/* Takes the reference l. */
void fs_reply_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t dir, struct fuse_file_info *fi,
		      struct listing *l);
void fs_lookup_person_file(struct fs *fs, fuse_req_t req, fuse_ino_t dir,
			   const struct listing *l, const char *name);
void fs_lookup_group_link(struct fs *fs, fuse_req_t req, fuse_ino_t root,
			  const struct listing *l, const char *name);
void fs_free_open_dirs(struct fs *fs);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);

/* ---- fs_folderfile.c ---- */
struct folder_indexes *fs_folder_indexes_new(void);
void fs_folder_indexes_free(struct folder_indexes *fi);
/* LOOKUP of name in a group root: false if it is not "<id>.vcf", else it
 * is answered (or parked on the folder's listing). */
bool fs_folderfile_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t root, const char *name);
void fs_folderfile_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino);
void fs_folderfile_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
/* Answer pk (a PARKED_FOLDER_* request the caller may answer) from its
 * folder's listing l. */
void fs_folderfile_reply(struct fs *fs, struct parked *pk, struct listing *l);
/* The folder file of group root's folder id for a readdir entry: false
 * (name, st untouched) when it is not listed - only folders whose listing
 * is fresh show theirs, so listing a group root never needs a request. */
bool fs_folderfile_entry(struct fs *fs, fuse_ino_t root, int64_t id, struct strbuf *name,
			 struct stat *st);
/* What an opened group root shows beyond its listing l: which folder files
 * (fresh folder listings, and their generations).  Equal tokens, equal
 * entries: the kernel may keep its cached entries. */
uint64_t fs_folderfile_open_token(struct fs *fs, fuse_ino_t root, const struct listing *l);

/* ---- fs_read.c ---- */
/* Answer a READ of p's file (kind) from p.  pk: the parked request being
 * answered (consumed: answered and freed, or parked again until the file is
 * rendered), or NULL for req answered from the dispatch thread. */
void fs_read_person(struct fs *fs, fuse_req_t req, struct parked *pk, struct person *p,
		    enum node_kind kind, size_t size, off_t off);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_readahead_init(struct fs *fs);
void fs_readahead_free(struct fs *fs);
/* A person directory's listing was handed to an opened directory. */
void fs_readahead_note(struct fs *fs, struct listing *l);
/* On the invalidation thread: store the queued files in the page cache. */
void fs_readahead_run(struct fs *fs);

/* ---- the write layer (fs_write.c, fs_write_names.c, fs_conflicts.c) ----
 * In a read-only mount (fs->w NULL) the hooks do nothing and return false,
 * the operations answer EROFS. */
int fs_write_new(struct fs *fs);
void fs_write_free(struct fs *fs);
/* The person as the mount shows it: as a change waiting for delivery makes
 * it, else the cached version; NULL if unknown or a delete waits.  Every
 * read path takes persons from here (the lead may redirect it). */
struct person *fs_person_current(struct fs *fs, int64_t id);
bool fs_person_gone(struct fs *fs, int64_t id);
/* READ served p: a version an edit may be based on. */
void fs_write_served(struct fs *fs, struct person *p);
/* Hooks: true when the request was answered. */
bool fs_write_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_write_getattr(fuse_req_t req, fuse_ino_t ino);
bool fs_write_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_write_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void conflicts_readdir(struct fs *fs, fuse_req_t req, size_t size, off_t off, bool plus);
/* Operations. */
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);

#endif
