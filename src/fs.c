/*
 * fs.c - FUSE low-level callbacks over the cache (see fs.h).
 *
 * Sections: inode numbering, attributes, the worker pool and its jobs (API
 * walks), requests parked on a listing, and the callbacks themselves.
 */
#include "fs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "log.h"
#include "names.h"
#include "strbuf.h"

/* ------------------------------------------------------------------ */
/* Inode numbers                                                        */

enum node_kind {
	NODE_FIXED = 0,       /* the fixed directories below */
	NODE_OWNER_DIR = 1,   /* /by-owner/<id> */
	NODE_ORG_DIR = 2,     /* /by-org/<id> */
	NODE_PERSON_JSON = 3, /* <Name> (<id>).json */
	NODE_PERSON_VCF = 4,  /* <Name> (<id>).vcf */
};

enum fixed_node {
	INO_ROOT = FUSE_ROOT_ID, /* 1 */
	INO_BY_OWNER = 2,
	INO_BY_ORG = 3,
};

#define KIND_SHIFT 56
#define ID_MASK ((UINT64_C(1) << KIND_SHIFT) - 1)

static fuse_ino_t make_ino(enum node_kind kind, int64_t id)
{
	return ((uint64_t)kind << KIND_SHIFT) | ((uint64_t)id & ID_MASK);
}

static enum node_kind ino_kind(fuse_ino_t ino) { return (enum node_kind)(ino >> KIND_SHIFT); }
static int64_t ino_id(fuse_ino_t ino) { return (int64_t)(ino & ID_MASK); }

static bool is_person_dir(fuse_ino_t ino)
{
	return ino_kind(ino) == NODE_OWNER_DIR || ino_kind(ino) == NODE_ORG_DIR;
}

static bool is_listed_dir(fuse_ino_t ino)
{
	return ino == INO_BY_OWNER || ino == INO_BY_ORG || is_person_dir(ino);
}

static const struct {
	const char *name;
	fuse_ino_t ino;
} root_entries[] = {
	{ "by-org", INO_BY_ORG },
	{ "by-owner", INO_BY_OWNER },
};
#define ROOT_ENTRY_COUNT (sizeof(root_entries) / sizeof(root_entries[0]))

/* ------------------------------------------------------------------ */
/* The filesystem object                                                */

struct job {
	struct job *next;
	uint64_t key; /* the directory inode whose listing to fetch */
};

struct fs {
	struct fs_config cfg;
	struct api_client *client;
	struct cache *cache;
	time_t mount_time;
	uid_t uid;
	gid_t gid;

	pthread_mutex_t queue_lock;
	pthread_cond_t queue_changed;
	struct job *queue_head, *queue_tail;
	bool stopping;
	pthread_t *threads;
	int nthreads;
};

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Attributes                                                           */

static void dir_attr(const struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = fs->mount_time;
}

static void person_attr(const struct fs *fs, const struct person *p, enum person_file kind,
			struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = make_ino(kind == PERSON_FILE_JSON ? NODE_PERSON_JSON : NODE_PERSON_VCF, p->id);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)(kind == PERSON_FILE_JSON ? p->json_len : p->vcf_len);
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	time_t t = p->update_time ? (time_t)p->update_time : fs->mount_time;
	st->st_mtime = st->st_ctime = st->st_atime = t;
}

static void fill_entry(const struct fs *fs, struct fuse_entry_param *e)
{
	e->attr_timeout = fs->cfg.ttl;
	e->entry_timeout = fs->cfg.ttl;
	e->ino = e->attr.st_ino;
	e->generation = 0;
}

static void dir_entry(const struct fs *fs, fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	dir_attr(fs, ino, &e->attr);
	fill_entry(fs, e);
}

static void person_entry(const struct fs *fs, const struct person *p, enum person_file kind,
			 struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	person_attr(fs, p, kind, &e->attr);
	fill_entry(fs, e);
}

/* ------------------------------------------------------------------ */
/* Worker jobs: fetch one directory's listing                           */

struct person_collector {
	struct fs *fs;
	struct person **items;
	size_t count, cap;
	size_t skipped;
};

static int collect_persons(void *ctx, struct json_object *data)
{
	struct person_collector *pc = ctx;
	size_t n = json_object_array_length(data);
	if (pc->count + n > pc->cap) {
		size_t cap = pc->cap ? pc->cap : 512;
		while (cap < pc->count + n)
			cap *= 2;
		struct person **items = realloc(pc->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		pc->items = items;
		pc->cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		int err;
		struct person *p = person_from_json(json_object_array_get_idx(data, i),
						    &pc->fs->cfg.render, &err);
		if (!p) {
			if (err == -ENOMEM)
				return -ENOMEM;
			pc->skipped++;
			continue;
		}
		pc->items[pc->count++] = cache_person_put(pc->fs->cache, p);
	}
	return 0;
}

static void collector_free(struct person_collector *pc)
{
	for (size_t i = 0; i < pc->count; i++)
		person_unref(pc->items[i]);
	free(pc->items);
}

static int fetch_person_dir(struct fs *fs, struct api_conn *conn, fuse_ino_t dir,
			    struct listing **out, struct api_error *err)
{
	struct list_query q = {
		.sort_by = "id",
		.sort_direction = "asc",
		.limit = fs->cfg.page_limit,
	};
	if (ino_kind(dir) == NODE_OWNER_DIR)
		q.owner_id = ino_id(dir);
	else
		q.org_id = ino_id(dir);
	struct person_collector pc = { .fs = fs };
	int rc = api_walk(conn, "/persons", &q, collect_persons, &pc, err);
	if (rc == 0) {
		struct listing *l = listing_new_persons(pc.count);
		if (!l) {
			rc = -ENOMEM;
		} else {
			memcpy(l->persons, pc.items, pc.count * sizeof(*pc.items));
			pc.count = 0; /* moved into the listing */
			listing_sort(l);
			*out = l;
		}
	}
	if (pc.skipped)
		log_warn("skipped %zu persons without a valid id while listing %s %" PRId64,
			 pc.skipped, ino_kind(dir) == NODE_OWNER_DIR ? "owner" : "organization",
			 ino_id(dir));
	collector_free(&pc);
	return rc;
}

struct id_collector {
	int64_t *ids;
	size_t count, cap;
};

static int collect_ids(void *ctx, struct json_object *data)
{
	struct id_collector *ic = ctx;
	size_t n = json_object_array_length(data);
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(data, i), *id;
		if (!json_object_object_get_ex(item, "id", &id) || !json_object_is_type(id, json_type_int))
			continue;
		int64_t v = json_object_get_int64(id);
		if (v <= 0 || v > NAMES_MAX_ID)
			continue;
		if (ic->count == ic->cap) {
			size_t cap = ic->cap ? ic->cap * 2 : 256;
			int64_t *ids = realloc(ic->ids, cap * sizeof(*ids));
			if (!ids)
				return -ENOMEM;
			ic->ids = ids;
			ic->cap = cap;
		}
		ic->ids[ic->count++] = v;
	}
	return 0;
}

static int fetch_id_dir(struct fs *fs, struct api_conn *conn, fuse_ino_t dir,
			struct listing **out, struct api_error *err)
{
	struct id_collector ic = { 0 };
	int rc;
	if (dir == INO_BY_OWNER) {
		struct json_object *resp = NULL, *data = NULL;
		rc = api_get(conn, API_V1, "/users", &resp, err);
		if (rc == 0 && json_object_object_get_ex(resp, "data", &data) &&
		    json_object_is_type(data, json_type_array))
			rc = collect_ids(&ic, data);
		json_object_put(resp);
	} else {
		struct list_query q = { .limit = fs->cfg.page_limit };
		rc = api_walk(conn, "/organizations", &q, collect_ids, &ic, err);
	}
	if (rc == 0) {
		struct listing *l = listing_new_ids(ic.count);
		if (!l) {
			rc = -ENOMEM;
		} else {
			memcpy(l->ids, ic.ids, ic.count * sizeof(*ic.ids));
			listing_sort(l);
			*out = l;
		}
	}
	free(ic.ids);
	return rc;
}

static void describe_dir(fuse_ino_t dir, char *buf, size_t len)
{
	if (dir == INO_BY_OWNER)
		snprintf(buf, len, "/by-owner");
	else if (dir == INO_BY_ORG)
		snprintf(buf, len, "/by-org");
	else
		snprintf(buf, len, "/%s/%" PRId64,
			 ino_kind(dir) == NODE_OWNER_DIR ? "by-owner" : "by-org", ino_id(dir));
}

static void run_fetch_job(struct fs *fs, struct api_conn *conn, uint64_t key)
{
	struct listing *l = NULL;
	struct api_error err = { 0 };
	int rc = conn ? (is_person_dir(key) ? fetch_person_dir(fs, conn, key, &l, &err)
					    : fetch_id_dir(fs, conn, key, &l, &err))
		      : -ENOMEM;
	if (rc) {
		char where[64];
		describe_dir(key, where, sizeof(where));
		if (!err.message[0])
			snprintf(err.message, sizeof(err.message), "%s", strerror(-rc));
		if (rc != -ECANCELED)
			log_error("listing %s failed: %s", where, err.message);
	}
	cache_listing_finish(fs->cache, key, l, rc ? -rc : 0, now_monotonic());
}

static void *worker_main(void *arg)
{
	struct fs *fs = arg;
	struct api_conn *conn = api_conn_new(fs->client);
	if (!conn)
		log_error("out of memory creating an HTTP connection; listings will fail");
	pthread_mutex_lock(&fs->queue_lock);
	for (;;) {
		while (!fs->stopping && !fs->queue_head)
			pthread_cond_wait(&fs->queue_changed, &fs->queue_lock);
		struct job *job = fs->queue_head;
		if (!job)
			break; /* stopping and nothing left */
		fs->queue_head = job->next;
		if (!fs->queue_head)
			fs->queue_tail = NULL;
		pthread_mutex_unlock(&fs->queue_lock);
		run_fetch_job(fs, conn, job->key);
		free(job);
		pthread_mutex_lock(&fs->queue_lock);
	}
	pthread_mutex_unlock(&fs->queue_lock);
	api_conn_free(conn);
	return NULL;
}

static void submit_fetch(struct fs *fs, uint64_t key)
{
	struct job *job = malloc(sizeof(*job));
	if (!job) {
		log_error("out of memory queueing a listing");
		cache_listing_finish(fs->cache, key, NULL, ENOMEM, now_monotonic());
		return;
	}
	job->key = key;
	job->next = NULL;
	pthread_mutex_lock(&fs->queue_lock);
	if (fs->queue_tail)
		fs->queue_tail->next = job;
	else
		fs->queue_head = job;
	fs->queue_tail = job;
	pthread_cond_signal(&fs->queue_changed);
	pthread_mutex_unlock(&fs->queue_lock);
}

/* ------------------------------------------------------------------ */
/* Requests parked until a listing arrives                              */

enum parked_op {
	PARKED_OPENDIR,
	PARKED_LOOKUP,
};

struct parked {
	struct listing_waiter waiter; /* first: the cache hands this back */
	struct fs *fs;
	fuse_req_t req;
	enum parked_op op;
	fuse_ino_t dir;
	struct fuse_file_info fi;
	char name[]; /* lookup only */
};

static void reply_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t dir, struct fuse_file_info *fi,
			  struct listing *l)
{
	fi->fh = (uint64_t)(uintptr_t)l;
	fi->cache_readdir = fs->cfg.ttl > 0;
	fi->keep_cache = fs->cfg.ttl > 0 &&
			 cache_listing_unchanged_since_last_open(fs->cache, dir, l->generation);
	if (fuse_reply_open(req, fi) != 0)
		listing_unref(l); /* the request was interrupted: no releasedir will come */
}

static void reply_lookup_in_listing(struct fs *fs, fuse_req_t req, struct listing *l,
				    const char *name)
{
	int64_t id;
	enum person_file kind;
	size_t base_len;
	size_t n = strlen(name);
	long idx = names_parse_person_file(name, n, &id, &kind, &base_len) ? listing_find(l, id) : -1;
	if (idx < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct person *p = l->persons[idx];
	if (p->base_len != base_len || memcmp(p->base, name, base_len) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e;
	person_entry(fs, p, kind, &e);
	fuse_reply_entry(req, &e);
}

static void parked_done(struct listing_waiter *w, struct listing *l, int err)
{
	struct parked *pk = (struct parked *)w;
	if (!l) {
		fuse_reply_err(pk->req, err);
	} else if (pk->op == PARKED_OPENDIR) {
		reply_opendir(pk->fs, pk->req, pk->dir, &pk->fi, l);
		l = NULL; /* owned by the open directory now */
	} else {
		reply_lookup_in_listing(pk->fs, pk->req, l, pk->name);
	}
	listing_unref(l);
	free(pk);
}

/* Get the listing of dir for req: reply now if cached, else park req. */
static void with_listing(struct fs *fs, fuse_req_t req, fuse_ino_t dir, enum parked_op op,
			 const struct fuse_file_info *fi, const char *name)
{
	size_t name_len = name ? strlen(name) + 1 : 0;
	struct parked *pk = calloc(1, sizeof(*pk) + name_len);
	if (!pk) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pk->waiter.done = parked_done;
	pk->fs = fs;
	pk->req = req;
	pk->op = op;
	pk->dir = dir;
	if (fi)
		pk->fi = *fi;
	if (name)
		memcpy(pk->name, name, name_len);
	struct listing *l = NULL;
	switch (cache_listing_lookup(fs->cache, dir, now_monotonic(), &l, &pk->waiter)) {
	case CACHE_FRESH:
		parked_done(&pk->waiter, l, 0);
		break;
	case CACHE_START_FETCH:
		submit_fetch(fs, dir);
		break;
	case CACHE_JOINED:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                            */

static struct fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int64_t id;
	if (parent == INO_ROOT) {
		for (size_t i = 0; i < ROOT_ENTRY_COUNT; i++) {
			if (strcmp(name, root_entries[i].name) == 0) {
				dir_entry(fs, root_entries[i].ino, &e);
				fuse_reply_entry(req, &e);
				return;
			}
		}
		fuse_reply_err(req, ENOENT);
	} else if (parent == INO_BY_OWNER || parent == INO_BY_ORG) {
		/* Any canonical id is a directory, listed by its parent or not. */
		if (!names_parse_id(name, strlen(name), &id)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		dir_entry(fs, make_ino(parent == INO_BY_OWNER ? NODE_OWNER_DIR : NODE_ORG_DIR, id), &e);
		fuse_reply_entry(req, &e);
	} else if (is_person_dir(parent)) {
		enum person_file kind;
		size_t base_len;
		if (!names_parse_person_file(name, strlen(name), &id, &kind, &base_len)) {
			fuse_reply_err(req, ENOENT); /* not a person file name: no request */
			return;
		}
		with_listing(fs, req, parent, PARKED_LOOKUP, NULL, name);
	} else {
		fuse_reply_err(req, ENOTDIR);
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	struct stat st;
	enum node_kind kind = ino_kind(ino);
	if (ino == INO_ROOT || ino == INO_BY_OWNER || ino == INO_BY_ORG || is_person_dir(ino)) {
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->cfg.ttl);
		return;
	}
	if (kind != NODE_PERSON_JSON && kind != NODE_PERSON_VCF) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct person *p = cache_person_get(fs->cache, ino_id(ino));
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	person_attr(fs, p, kind == NODE_PERSON_JSON ? PERSON_FILE_JSON : PERSON_FILE_VCF, &st);
	person_unref(p);
	fuse_reply_attr(req, &st, fs->cfg.ttl);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	if (ino == INO_ROOT) {
		fi->fh = 0;
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
	} else if (is_listed_dir(ino)) {
		with_listing(fs, req, ino, PARKED_OPENDIR, fi, NULL);
	} else {
		fuse_reply_err(req, ENOTDIR);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	listing_unref((struct listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Name and entry of directory position `index` (after "." and ".."); false
 * past the end. */
static bool dir_entry_at(struct fs *fs, fuse_ino_t dir, const struct listing *l, size_t index,
			 struct strbuf *name, struct fuse_entry_param *e)
{
	sb_reset(name);
	if (dir == INO_ROOT) {
		if (index >= ROOT_ENTRY_COUNT)
			return false;
		sb_puts(name, root_entries[index].name);
		dir_entry(fs, root_entries[index].ino, e);
		return true;
	}
	if (l->ids) {
		if (index >= l->count)
			return false;
		sb_printf(name, "%" PRId64, l->ids[index]);
		dir_entry(fs, make_ino(dir == INO_BY_OWNER ? NODE_OWNER_DIR : NODE_ORG_DIR,
				       l->ids[index]), e);
		return true;
	}
	if (index / 2 >= l->count)
		return false;
	const struct person *p = l->persons[index / 2];
	enum person_file kind = index % 2 ? PERSON_FILE_VCF : PERSON_FILE_JSON;
	sb_append(name, p->base, p->base_len);
	sb_puts(name, names_extension(kind));
	person_entry(fs, p, kind, e);
	return true;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	const struct listing *l = (const struct listing *)(uintptr_t)fi->fh;
	if (ino != INO_ROOT && !l) {
		fuse_reply_err(req, EBADF);
		return;
	}
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct strbuf name = STRBUF_INIT;
	size_t used = 0;
	for (off_t pos = off;; pos++) {
		struct fuse_entry_param e;
		if (pos < 2) {
			sb_reset(&name);
			sb_puts(&name, pos == 0 ? "." : "..");
			dir_entry(fs, pos == 0 ? ino : INO_ROOT, &e);
		} else if (!dir_entry_at(fs, ino, l, (size_t)pos - 2, &name, &e)) {
			break;
		}
		if (sb_failed(&name)) {
			free(buf);
			sb_free(&name);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		size_t want = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name.data,
							    &e, pos + 1)
				   : fuse_add_direntry(req, buf + used, size - used, name.data,
						       &e.attr, pos + 1);
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
 * freshness comes from attributes (mtime = update_time, exact size). */
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
	enum node_kind kind = ino_kind(ino);
	if (kind != NODE_PERSON_JSON && kind != NODE_PERSON_VCF) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct person *p = cache_person_get(fs->cache, ino_id(ino));
	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct strbuf vcf = STRBUF_INIT;
	const char *data = p->json;
	size_t len = p->json_len;
	if (kind == NODE_PERSON_VCF) {
		int rc = person_render_vcf(p, &fs->cfg.render, &vcf);
		if (rc || sb_failed(&vcf)) {
			log_error("rendering the vCard of person %" PRId64 " failed: %s", p->id,
				  strerror(rc ? -rc : ENOMEM));
			person_unref(p);
			sb_free(&vcf);
			fuse_reply_err(req, rc ? -rc : ENOMEM);
			return;
		}
		data = vcf.data;
		len = vcf.len;
	}
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
	sb_free(&vcf);
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

struct fs *fs_new(const struct fs_config *cfg, struct api_client *client, struct cache *cache)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->cfg = *cfg;
	fs->client = client;
	fs->cache = cache;
	fs->mount_time = time(NULL);
	fs->uid = getuid();
	fs->gid = getgid();
	pthread_mutex_init(&fs->queue_lock, NULL);
	pthread_cond_init(&fs->queue_changed, NULL);
	return fs;
}

int fs_start(struct fs *fs)
{
	int n = fs->cfg.workers > 0 ? fs->cfg.workers : 4;
	fs->threads = calloc((size_t)n, sizeof(*fs->threads));
	if (!fs->threads)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&fs->threads[i], NULL, worker_main, fs);
		if (rc) {
			log_error("cannot start a worker thread: %s", strerror(rc));
			return -rc;
		}
		fs->nthreads++;
	}
	return 0;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->queue_lock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->queue_changed);
	pthread_mutex_unlock(&fs->queue_lock);
	api_client_cancel(fs->client);
	for (int i = 0; i < fs->nthreads; i++)
		pthread_join(fs->threads[i], NULL);
	free(fs->threads);
	pthread_mutex_destroy(&fs->queue_lock);
	pthread_cond_destroy(&fs->queue_changed);
	free(fs);
}
