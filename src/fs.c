/*
 * fs.c - FUSE low-level callbacks over the cache (see fs.h and tree.h).
 *
 * Sections: attributes, requests parked until a listing arrives, the
 * invalidation thread, the status file, and the callbacks.
 */
#include "fs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "names.h"
#include "status.h"
#include "strbuf.h"
#include "tree.h"

static const struct {
	const char *name;
	fuse_ino_t ino;
} root_entries[] = {
	{ ".pipedrivefs", INO_CONTROL }, { "by-filter", INO_BY_FILTER }, { "by-id", INO_BY_ID },
	{ "by-org", INO_BY_ORG },         { "by-owner", INO_BY_OWNER },   { "recent", INO_RECENT },
};
#define ROOT_ENTRY_COUNT (sizeof(root_entries) / sizeof(root_entries[0]))

/* What the kernel must forget: a person's file inodes (parent 0), or one
 * directory entry (a deleted person's file name in a directory). */
struct invalidation {
	struct invalidation *next;
	int64_t person_id;
	fuse_ino_t parent;
	size_t name_len;
	char name[];
};

/* An open directory: its listing snapshot.  Kept on a list so that handles
 * the kernel never releases (a lazy unmount) are freed at exit. */
struct open_dir {
	struct open_dir *prev, *next;
	struct listing *listing;
};

struct fs {
	struct fs_config cfg;
	char *config_text;
	struct api_client *client;
	struct cache *cache;
	struct walker *walker;
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
	struct open_dir *dirs;

	/* The status file's current text: getattr and read must agree. */
	pthread_mutex_t status_lock;
	struct strbuf status;
	time_t status_time;
};

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* ------------------------------------------------------------------ */
/* Attributes                                                           */

static void base_attr(const struct fs *fs, fuse_ino_t ino, mode_t mode, struct stat *st)
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

static bool is_directory(fuse_ino_t ino)
{
	enum node_kind k = tree_kind(ino);
	return (k == NODE_FIXED && ino >= INO_ROOT && ino <= INO_CONTROL) || k == NODE_OWNER_DIR ||
	       k == NODE_ORG_DIR || k == NODE_FILTER_DIR;
}

static bool is_link(fuse_ino_t ino)
{
	enum node_kind k = tree_kind(ino);
	return k == NODE_OWNER_LINK || k == NODE_ORG_LINK || k == NODE_FILTER_LINK;
}

static bool is_person_file(fuse_ino_t ino)
{
	return tree_kind(ino) == NODE_PERSON_JSON || tree_kind(ino) == NODE_PERSON_VCF;
}

static void dir_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	base_attr(fs, ino, S_IFDIR | 0555, st);
	st->st_size = 4096;
}

static void link_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	char target[24];
	base_attr(fs, ino, S_IFLNK | 0777, st);
	st->st_size = snprintf(target, sizeof(target), "%" PRId64, tree_id(ino));
}

static void person_attr(const struct fs *fs, const struct person *p, enum node_kind kind,
			struct stat *st)
{
	base_attr(fs, tree_ino(kind, p->id), S_IFREG | 0444, st);
	st->st_size = (off_t)(kind == NODE_PERSON_JSON ? p->json_len : p->vcf_len);
	st->st_blocks = (st->st_size + 511) / 512;
	if (p->update_time)
		st->st_mtime = st->st_ctime = st->st_atime = (time_t)p->update_time;
}

static void entry_of(const struct fs *fs, const struct stat *st, double attr_timeout,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr = *st;
	e->ino = st->st_ino;
	e->attr_timeout = attr_timeout;
	e->entry_timeout = fs->cfg.ttl;
}

static void reply_dir_entry(fuse_req_t req, const struct fs *fs, fuse_ino_t ino)
{
	struct stat st;
	struct fuse_entry_param e;
	dir_attr(fs, ino, &st);
	entry_of(fs, &st, fs->cfg.ttl, &e);
	fuse_reply_entry(req, &e);
}

static void reply_person_entry(fuse_req_t req, const struct fs *fs, const struct person *p,
			       enum node_kind kind)
{
	struct stat st;
	struct fuse_entry_param e;
	person_attr(fs, p, kind, &st);
	entry_of(fs, &st, fs->cfg.ttl, &e);
	fuse_reply_entry(req, &e);
}

/* ------------------------------------------------------------------ */
/* The status file                                                      */

static void status_refresh(struct fs *fs)
{
	struct status_input in = { .version = PDFS_VERSION, .config_text = fs->config_text,
				   .uptime_s = (long)(time(NULL) - fs->mount_time) };
	cache_get_stats(fs->cache, &in.cache);
	walker_get_stats(fs->walker, &in.walks);
	api_client_counters(fs->client, &in.api);
	pthread_mutex_lock(&fs->status_lock);
	sb_reset(&fs->status);
	status_render(&fs->status, &in);
	fs->status_time = time(NULL);
	pthread_mutex_unlock(&fs->status_lock);
}

static void status_attr(struct fs *fs, struct stat *st)
{
	pthread_mutex_lock(&fs->status_lock);
	base_attr(fs, INO_STATUS, S_IFREG | 0444, st);
	st->st_size = (off_t)fs->status.len;
	st->st_mtime = st->st_ctime = st->st_atime = fs->status_time;
	pthread_mutex_unlock(&fs->status_lock);
}

/* ------------------------------------------------------------------ */
/* Requests parked until a listing arrives                              */

enum parked_op {
	PARKED_OPENDIR,
	PARKED_LOOKUP,  /* a name in a directory */
	PARKED_GETATTR, /* a person file the store no longer holds */
	PARKED_READ,
};

struct parked {
	struct listing_waiter waiter; /* first: the cache hands this back */
	struct fs *fs;
	fuse_req_t req;
	enum parked_op op;
	fuse_ino_t ino; /* the directory, or the file for getattr/read */
	struct fuse_file_info fi;
	size_t size;
	off_t off;
	char name[]; /* lookup only */
};

static void open_dir_free(struct fs *fs, struct open_dir *od)
{
	pthread_mutex_lock(&fs->dirs_lock);
	if (od->prev)
		od->prev->next = od->next;
	else
		fs->dirs = od->next;
	if (od->next)
		od->next->prev = od->prev;
	pthread_mutex_unlock(&fs->dirs_lock);
	listing_unref(od->listing);
	free(od);
}

/* Takes the reference l. */
static void reply_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t dir, struct fuse_file_info *fi,
			  struct listing *l)
{
	struct open_dir *od = calloc(1, sizeof(*od));
	if (!od) {
		listing_unref(l);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	od->listing = l;
	pthread_mutex_lock(&fs->dirs_lock);
	od->next = fs->dirs;
	if (fs->dirs)
		fs->dirs->prev = od;
	fs->dirs = od;
	pthread_mutex_unlock(&fs->dirs_lock);
	fi->fh = (uint64_t)(uintptr_t)od;
	fi->cache_readdir = fs->cfg.ttl > 0;
	fi->keep_cache = fs->cfg.ttl > 0 &&
			 cache_listing_unchanged_since_last_open(fs->cache, dir, l->generation);
	if (fuse_reply_open(req, fi) != 0)
		open_dir_free(fs, od); /* interrupted: no releasedir will come */
}

/* Find a person file's name in a person directory's listing. */
static void lookup_person_file(struct fs *fs, fuse_req_t req, fuse_ino_t dir,
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
	reply_person_entry(req, fs, l->persons[idx],
			   kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF);
}

/* A name in /by-owner, /by-org or /by-filter that is not an id: a link. */
static void lookup_group_link(struct fs *fs, fuse_req_t req, fuse_ino_t root,
			      const struct listing *l, const char *name)
{
	for (size_t i = 0; l->names && i < l->count; i++) {
		if (l->names[i] && strcmp(l->names[i], name) == 0) {
			struct stat st;
			struct fuse_entry_param e;
			link_attr(fs, tree_ino(tree_group_link_kind(root), l->ids[i]), &st);
			entry_of(fs, &st, fs->cfg.ttl, &e);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void reply_person_data(fuse_req_t req, const struct person *p, enum node_kind kind,
			      size_t size, off_t off)
{
	struct strbuf json = STRBUF_INIT;
	const char *data = p->vcf;
	size_t len = p->vcf_len;
	if (kind == NODE_PERSON_JSON) {
		person_json(p, &json);
		if (sb_failed(&json)) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		data = json.data;
		len = json.len;
	}
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
	sb_free(&json);
}

static void parked_done(struct listing_waiter *w, struct listing *l, int err)
{
	struct parked *pk = (struct parked *)w;
	struct fs *fs = pk->fs;
	if (!l) {
		fuse_reply_err(pk->req, err);
		free(pk);
		return;
	}
	switch (pk->op) {
	case PARKED_OPENDIR:
		reply_opendir(fs, pk->req, pk->ino, &pk->fi, l);
		l = NULL; /* owned by the open directory now */
		break;
	case PARKED_LOOKUP:
		if (tree_is_group_root(pk->ino))
			lookup_group_link(fs, pk->req, pk->ino, l, pk->name);
		else
			lookup_person_file(fs, pk->req, pk->ino, l, pk->name);
		break;
	case PARKED_GETATTR:
	case PARKED_READ:
		if (l->count != 1) {
			fuse_reply_err(pk->req, ENOENT); /* deleted on the server */
		} else if (pk->op == PARKED_GETATTR) {
			struct stat st;
			person_attr(fs, l->persons[0], tree_kind(pk->ino), &st);
			fuse_reply_attr(pk->req, &st, fs->cfg.ttl);
		} else {
			reply_person_data(pk->req, l->persons[0], tree_kind(pk->ino), pk->size, pk->off);
		}
		break;
	}
	listing_unref(l);
	free(pk);
}

static struct parked *park(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
			   const char *name)
{
	size_t name_len = name ? strlen(name) + 1 : 0;
	struct parked *pk = calloc(1, sizeof(*pk) + name_len);
	if (!pk)
		return NULL;
	pk->waiter.done = parked_done;
	pk->fs = fs;
	pk->req = req;
	pk->op = op;
	pk->ino = ino;
	if (name)
		memcpy(pk->name, name, name_len);
	return pk;
}

/* Answer pk from the listing of key: now if cached, else when a walk ends. */
static void with_listing(struct fs *fs, struct parked *pk, uint64_t key)
{
	struct listing *l = NULL;
	enum cache_lookup found = cache_listing_lookup(fs->cache, key, now_monotonic(), &l, &pk->waiter);
	if (found != CACHE_FRESH && log_get_level() >= LOG_LEVEL_DEBUG) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		log_debug("%s: %s", where, found == CACHE_START_FETCH ? "not cached, fetching"
								   : "joining the walk in flight");
	}
	switch (found) {
	case CACHE_FRESH:
		parked_done(&pk->waiter, l, 0);
		break;
	case CACHE_START_FETCH:
		walker_fetch(fs->walker, key);
		break;
	case CACHE_JOINED:
	case CACHE_FAILED: /* already answered */
		break;
	}
}

static void park_or_fail(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t ino,
			 const char *name, const struct fuse_file_info *fi, uint64_t key)
{
	struct parked *pk = park(fs, req, op, ino, name);
	if (!pk) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (fi)
		pk->fi = *fi;
	with_listing(fs, pk, key);
}

/* ------------------------------------------------------------------ */
/* The invalidation thread                                              */

static void queue_invalidation(struct fs *fs, int64_t person_id, fuse_ino_t parent,
			       const char *name, size_t name_len)
{
	/* NUL-terminated: libfuse sends the name with its terminator */
	struct invalidation *inv = malloc(sizeof(*inv) + name_len + 1);
	if (!inv)
		return; /* the kernel drops the pages at the next attribute refresh */
	inv->person_id = person_id;
	inv->parent = parent;
	inv->name_len = name_len;
	if (name_len)
		memcpy(inv->name, name, name_len);
	inv->name[name_len] = '\0';
	pthread_mutex_lock(&fs->inval_lock);
	inv->next = fs->inval_head;
	fs->inval_head = inv;
	pthread_mutex_unlock(&fs->inval_lock);
	sem_post(&fs->inval_wake);
}

static void invalidate_person(void *ctx, int64_t person_id)
{
	queue_invalidation(ctx, person_id, 0, NULL, 0);
}

/* A deleted person left the listing of key: the kernel forgets its two
 * file names there (and the files' pages). */
static void forget_person_entries(void *ctx, uint64_t key, const struct person *p)
{
	struct fs *fs = ctx;
	bool by_id = key == INO_BY_ID || tree_kind(key) == NODE_BY_ID_PERSON;
	if (!by_id && !tree_is_person_dir(key))
		return;
	struct strbuf name = STRBUF_INIT;
	for (int kind = PERSON_FILE_JSON; kind <= PERSON_FILE_VCF; kind++) {
		sb_reset(&name);
		if (by_id)
			sb_printf(&name, "%" PRId64, p->id);
		else
			sb_append(&name, p->base, p->base_len);
		sb_puts(&name, names_extension((enum person_file)kind));
		if (!sb_failed(&name))
			queue_invalidation(fs, p->id, by_id ? INO_BY_ID : key, name.data, name.len);
	}
	sb_free(&name);
	queue_invalidation(fs, p->id, 0, NULL, 0);
}

static void *invalidation_main(void *arg)
{
	struct fs *fs = arg;
	for (;;) {
		while (sem_wait(&fs->inval_wake) != 0)
			;
		if (atomic_load(&fs->stopping))
			break;
		if (atomic_exchange(&fs->refresh_requested, false)) {
			cache_expire_all(fs->cache);
			log_info("refresh requested: every listing is walked again in full on next use");
		}
		pthread_mutex_lock(&fs->inval_lock);
		struct invalidation *list = fs->inval_head;
		fs->inval_head = NULL;
		pthread_mutex_unlock(&fs->inval_lock);
		while (list) {
			struct invalidation *next = list->next;
			if (list->parent) {
				fuse_lowlevel_notify_inval_entry(fs->se, list->parent, list->name,
								 list->name_len);
			} else {
				fuse_lowlevel_notify_inval_inode(
					fs->se, tree_ino(NODE_PERSON_JSON, list->person_id), 0, 0);
				fuse_lowlevel_notify_inval_inode(
					fs->se, tree_ino(NODE_PERSON_VCF, list->person_id), 0, 0);
			}
			free(list);
			list = next;
		}
	}
	return NULL;
}

void fs_request_refresh(struct fs *fs)
{
	atomic_store(&fs->refresh_requested, true);
	sem_post(&fs->inval_wake);
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                            */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->time_gran = 1000000000;
}

/* "<id>.json" / "<id>.vcf" in /by-id. */
static bool parse_by_id_name(const char *name, int64_t *id)
{
	size_t n = strlen(name);
	size_t ext = n > 5 && strcmp(name + n - 5, ".json") == 0  ? 5
		     : n > 4 && strcmp(name + n - 4, ".vcf") == 0 ? 4
								   : 0;
	return ext && names_parse_id(name, n - ext, id);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t id;
	if (parent == INO_ROOT) {
		for (size_t i = 0; i < ROOT_ENTRY_COUNT; i++)
			if (strcmp(name, root_entries[i].name) == 0) {
				reply_dir_entry(req, fs, root_entries[i].ino);
				return;
			}
		fuse_reply_err(req, ENOENT);
	} else if (parent == INO_CONTROL) {
		if (strcmp(name, "status") != 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		struct stat st;
		struct fuse_entry_param e;
		status_refresh(fs);
		status_attr(fs, &st);
		entry_of(fs, &st, 0, &e);
		fuse_reply_entry(req, &e);
	} else if (tree_is_group_root(parent)) {
		/* Any canonical id is a directory, listed by its parent or not. */
		if (names_parse_id(name, strlen(name), &id))
			reply_dir_entry(req, fs, tree_ino(tree_group_member_kind(parent), id));
		else if (names_all_digits(name, strlen(name)))
			fuse_reply_err(req, ENOENT); /* out of range or not canonical */
		else
			park_or_fail(fs, req, PARKED_LOOKUP, parent, name, NULL, parent);
	} else if (parent == INO_BY_ID) {
		if (!parse_by_id_name(name, &id))
			fuse_reply_err(req, ENOENT);
		else
			park_or_fail(fs, req, PARKED_LOOKUP, parent, name, NULL,
				     tree_ino(NODE_BY_ID_PERSON, id));
	} else if (tree_is_person_dir(parent)) {
		enum person_file kind;
		size_t base_len;
		if (!names_parse_person_file(name, strlen(name), &id, &kind, &base_len))
			fuse_reply_err(req, ENOENT); /* not a person file name: no request */
		else
			park_or_fail(fs, req, PARKED_LOOKUP, parent, name, NULL, parent);
	} else {
		fuse_reply_err(req, ENOTDIR);
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	struct stat st;
	if (is_directory(ino)) {
		dir_attr(fs, ino, &st);
	} else if (is_link(ino)) {
		link_attr(fs, ino, &st);
	} else if (ino == INO_STATUS) {
		status_refresh(fs);
		status_attr(fs, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	} else if (is_person_file(ino)) {
		struct person *p = cache_person_get(fs->cache, tree_id(ino));
		if (!p) {
			/* Evicted (cache_max_mb) or never seen: fetch it by id. */
			park_or_fail(fs, req, PARKED_GETATTR, ino, NULL, NULL,
				     tree_ino(NODE_BY_ID_PERSON, tree_id(ino)));
			return;
		}
		person_attr(fs, p, tree_kind(ino), &st);
		person_unref(p);
	} else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_attr(req, &st, fs->cfg.ttl);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[24];
	if (!is_link(ino)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(target, sizeof(target), "%" PRId64, tree_id(ino));
	fuse_reply_readlink(req, target);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_dir *od = (struct open_dir *)(uintptr_t)fi->fh;
	if (od)
		open_dir_free(fs_of(req), od);
	fuse_reply_err(req, 0);
}

/* The entry at directory position `index` (after "." and ".."); false past
 * the end.  Group roots list the id directories, then the name links;
 * person directories list each person's .json and .vcf. */
static bool dir_entry_at(struct fs *fs, fuse_ino_t dir, const struct listing *l, size_t index,
			 struct strbuf *name, struct stat *st)
{
	sb_reset(name);
	if (dir == INO_ROOT || dir == INO_CONTROL) {
		if (dir == INO_CONTROL) {
			if (index > 0)
				return false;
			sb_puts(name, "status");
			status_attr(fs, st);
			return true;
		}
		if (index >= ROOT_ENTRY_COUNT)
			return false;
		sb_puts(name, root_entries[index].name);
		dir_attr(fs, root_entries[index].ino, st);
		return true;
	}
	if (l->ids) {
		if (index >= 2 * l->count)
			return false;
		if (index < l->count) {
			sb_printf(name, "%" PRId64, l->ids[index]);
			dir_attr(fs, tree_ino(tree_group_member_kind(dir), l->ids[index]), st);
		} else if (l->names && l->names[index - l->count]) {
			sb_puts(name, l->names[index - l->count]);
			link_attr(fs, tree_ino(tree_group_link_kind(dir), l->ids[index - l->count]), st);
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
	person_attr(fs, p, kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF, st);
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
		status_refresh(fs);
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
			dir_attr(fs, pos == 0 ? ino : INO_ROOT, &st);
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
		entry_of(fs, &st, st.st_ino == INO_STATUS ? 0 : fs->cfg.ttl, &e);
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

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/* Zero-message open: the kernel stops sending OPEN/RELEASE and keeps pages;
 * freshness comes from attributes (mtime = update_time, exact size) and the
 * invalidation thread. */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, ENOSYS);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	if (ino == INO_STATUS) {
		pthread_mutex_lock(&fs->status_lock);
		size_t len = fs->status.len;
		if (off >= 0 && (size_t)off < len)
			fuse_reply_buf(req, fs->status.data + off,
				       len - (size_t)off < size ? len - (size_t)off : size);
		else
			fuse_reply_buf(req, NULL, 0);
		pthread_mutex_unlock(&fs->status_lock);
		return;
	}
	if (!is_person_file(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct person *p = cache_person_get(fs->cache, tree_id(ino));
	if (!p) {
		struct parked *pk = park(fs, req, PARKED_READ, ino, NULL);
		if (!pk) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		pk->size = size;
		pk->off = off;
		with_listing(fs, pk, tree_ino(NODE_BY_ID_PERSON, tree_id(ino)));
		return;
	}
	reply_person_data(req, p, tree_kind(ino), size, off);
	person_unref(p);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs st = { 0 };
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_namemax = NAMES_NAME_MAX;
	st.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &st);
}

/* Everything that would change the tree: the mount is read-only. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)ino; (void)attr; (void)to_set; (void)fi;
	fuse_reply_err(req, EROFS);
}
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t d)
{
	(void)p; (void)n; (void)m; (void)d;
	fuse_reply_err(req, EROFS);
}
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{
	(void)p; (void)n; (void)m;
	fuse_reply_err(req, EROFS);
}
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
	(void)p; (void)n;
	fuse_reply_err(req, EROFS);
}
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{
	(void)l; (void)p; (void)n;
	fuse_reply_err(req, EROFS);
}
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
		      const char *nn, unsigned int flags)
{
	(void)p; (void)n; (void)np; (void)nn; (void)flags;
	fuse_reply_err(req, EROFS);
}
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np, const char *nn)
{
	(void)ino; (void)np; (void)nn;
	fuse_reply_err(req, EROFS);
}
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		      struct fuse_file_info *fi)
{
	(void)p; (void)n; (void)m; (void)fi;
	fuse_reply_err(req, EROFS);
}
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *n, const char *v,
			size_t s, int f)
{
	(void)ino; (void)n; (void)v; (void)s; (void)f;
	fuse_reply_err(req, EROFS);
}
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *n)
{
	(void)ino; (void)n;
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops operations = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.statfs = op_statfs,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.create = op_create,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};

const struct fuse_lowlevel_ops *fs_operations(void) { return &operations; }

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

struct fs *fs_new(const struct fs_config *cfg, struct api_client *client, struct cache *cache,
		  struct walker *walker)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->cfg = *cfg;
	fs->config_text = strdup(cfg->config_text ? cfg->config_text : "");
	if (!fs->config_text || sem_init(&fs->inval_wake, 0, 0) != 0) {
		free(fs->config_text);
		free(fs);
		return NULL;
	}
	fs->cfg.config_text = fs->config_text;
	fs->client = client;
	fs->cache = cache;
	fs->walker = walker;
	fs->mount_time = time(NULL);
	fs->uid = getuid();
	fs->gid = getgid();
	pthread_mutex_init(&fs->inval_lock, NULL);
	pthread_mutex_init(&fs->dirs_lock, NULL);
	pthread_mutex_init(&fs->status_lock, NULL);
	sb_init(&fs->status);
	return fs;
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
	int rc = pthread_create(&fs->inval_thread, NULL, invalidation_main, fs);
	if (rc) {
		log_error("cannot start the invalidation thread: %s", strerror(rc));
		return -rc;
	}
	fs->inval_started = true;
	cache_set_replace_hook(fs->cache, invalidate_person, fs);
	cache_set_remove_hook(fs->cache, forget_person_entries, fs);
	return 0;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	cache_set_replace_hook(fs->cache, NULL, NULL);
	cache_set_remove_hook(fs->cache, NULL, NULL);
	if (fs->inval_started) {
		atomic_store(&fs->stopping, true);
		sem_post(&fs->inval_wake);
		pthread_join(fs->inval_thread, NULL);
	}
	while (fs->inval_head) {
		struct invalidation *next = fs->inval_head->next;
		free(fs->inval_head);
		fs->inval_head = next;
	}
	while (fs->dirs)
		open_dir_free(fs, fs->dirs);
	sem_destroy(&fs->inval_wake);
	pthread_mutex_destroy(&fs->inval_lock);
	pthread_mutex_destroy(&fs->dirs_lock);
	pthread_mutex_destroy(&fs->status_lock);
	sb_free(&fs->status);
	free(fs->config_text);
	free(fs);
}
