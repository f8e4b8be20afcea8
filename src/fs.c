/*
 * fs.c - FUSE low-level callbacks over the cache (see fs.h and tree.h).
 *
 * Sections: the status file, the invalidation thread, the callbacks, and
 * the lifecycle.  Directories, parked requests and the read path live in
 * fs_dir.c, fs_park.c and fs_read.c (fs_internal.h says what is where).
 */
#include "fs_internal.h"

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

double fs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* The status file                                                      */

void fs_status_refresh(struct fs *fs)
{
	struct status_input in = { .version = PDFS_VERSION, .config_text = fs->config_text,
				   .uptime_s = (long)(time(NULL) - fs->mount_time) };
	cache_get_stats(fs->cache, &in.cache);
	prettycache_get_stats(fs->pretty, &in.pretty);
	in.interrupted = atomic_load(&fs->interrupted);
	pthread_mutex_lock(&fs->readahead.lock);
	in.readahead_files = fs->readahead.pushed;
	pthread_mutex_unlock(&fs->readahead.lock);
	walker_get_stats(fs->walker, &in.walks);
	api_client_counters(fs->client, &in.api);
	pthread_mutex_lock(&fs->status_lock);
	sb_reset(&fs->status);
	status_render(&fs->status, &in);
	fs->status_time = time(NULL);
	pthread_mutex_unlock(&fs->status_lock);
}

void fs_status_attr(struct fs *fs, struct stat *st)
{
	pthread_mutex_lock(&fs->status_lock);
	fs_base_attr(fs, INO_STATUS, S_IFREG | 0444, st);
	st->st_size = (off_t)fs->status.len;
	st->st_mtime = st->st_ctime = st->st_atime = fs->status_time;
	pthread_mutex_unlock(&fs->status_lock);
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
		fs_readahead_run(fs); /* after the invalidations: never older bytes */
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
	fuse_ino_t ino;
	if (parent == INO_ROOT) {
		if (fs_root_entry(name, &ino))
			fs_reply_dir_entry(req, fs, ino);
		else
			fuse_reply_err(req, ENOENT);
	} else if (parent == INO_CONTROL) {
		if (strcmp(name, "status") != 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		struct stat st;
		struct fuse_entry_param e;
		fs_status_refresh(fs);
		fs_status_attr(fs, &st);
		fs_entry_of(fs, &st, 0, &e);
		fuse_reply_entry(req, &e);
	} else if (tree_is_group_root(parent)) {
		/* Any canonical id is a directory, listed by its parent or not. */
		if (names_parse_id(name, strlen(name), &id))
			fs_reply_dir_entry(req, fs, tree_ino(tree_group_member_kind(parent), id));
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
	if (fs_is_directory(ino)) {
		fs_dir_attr(fs, ino, &st);
	} else if (fs_is_link(ino)) {
		fs_link_attr(fs, ino, &st);
	} else if (ino == INO_STATUS) {
		fs_status_refresh(fs);
		fs_status_attr(fs, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	} else if (fs_is_person_file(ino)) {
		struct person *p = cache_person_get(fs->cache, tree_id(ino));
		if (!p) {
			/* Evicted (cache_max_mb) or never seen: fetch it by id. */
			park_or_fail(fs, req, PARKED_GETATTR, ino, NULL, NULL,
				     tree_ino(NODE_BY_ID_PERSON, tree_id(ino)));
			return;
		}
		fs_person_attr(fs, p, tree_kind(ino), &st);
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
	if (!fs_is_link(ino)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(target, sizeof(target), "%" PRId64, tree_id(ino));
	fuse_reply_readlink(req, target);
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
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = op_open,
	.read = fs_op_read,
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
	fs->pretty = prettycache_new(FS_PRETTY_CACHE_BYTES);
	if (!fs->config_text || !fs->pretty || sem_init(&fs->inval_wake, 0, 0) != 0) {
		prettycache_free(fs->pretty);
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
	pthread_mutex_init(&fs->warn_lock, NULL);
	fs_readahead_init(fs);
	sb_init(&fs->status);
	return fs;
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
	int rc = prettycache_start(fs->pretty);
	if (rc) {
		log_error("cannot start the thread that renders big .json files: %s", strerror(-rc));
		return rc;
	}
	rc = pthread_create(&fs->inval_thread, NULL, invalidation_main, fs);
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
	prettycache_free(fs->pretty); /* answers READs still waiting for a render */
	fs_readahead_free(fs);
	fs_free_open_dirs(fs);
	sem_destroy(&fs->inval_wake);
	pthread_mutex_destroy(&fs->inval_lock);
	pthread_mutex_destroy(&fs->dirs_lock);
	pthread_mutex_destroy(&fs->status_lock);
	pthread_mutex_destroy(&fs->warn_lock);
	sb_free(&fs->status);
	free(fs->config_text);
	free(fs);
}
