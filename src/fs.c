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
#include "search_terms.h"
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
	in.in_progress_count = walker_progress(fs->walker, in.in_progress, WALKER_PROGRESS_MAX);
	api_client_counters(fs->client, &in.api);
	in.offline = api_client_offline(fs->client);
	in.bounded = cache_bytes_stats(fs->cache, &in.bytes);
	in.disk_cache = fs->cfg.store != NULL;
	if (fs->cfg.store) {
		store_get_stats(fs->cfg.store, &in.store);
		in.disk_cache_path = store_path(fs->cfg.store);
	}
	if (fs->w)
		writeback_get_stats(fs->cfg.writeback, &in.writes);
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
	inv->ino = 0;
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

void fs_queue_person_invalidation(struct fs *fs, int64_t person_id)
{
	queue_invalidation(fs, person_id, 0, NULL, 0);
}

void fs_queue_node_invalidation(struct fs *fs, fuse_ino_t ino)
{
	struct invalidation *inv = calloc(1, sizeof(*inv) + 1);
	if (!inv)
		return;
	inv->ino = ino;
	pthread_mutex_lock(&fs->inval_lock);
	inv->next = fs->inval_head;
	fs->inval_head = inv;
	pthread_mutex_unlock(&fs->inval_lock);
	sem_post(&fs->inval_wake);
}

void fs_queue_entry_invalidation(struct fs *fs, fuse_ino_t parent, const char *name)
{
	queue_invalidation(fs, 0, parent, name, strlen(name));
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
			if (fs->w)
				writeback_kick(fs->cfg.writeback); /* retry waiting changes now */
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
			} else if (list->ino) {
				fuse_lowlevel_notify_inval_inode(fs->se, list->ino, 0, 0);
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
	struct fs *fs = userdata;
	/* writable: O_TRUNC comes with OPEN, not as a separate SETATTR */
	if (fs->w && (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC))
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* A streamed READDIR stays parked until the walk delivers more
	 * entries; without parallel dirops the kernel holds the directory's
	 * mutex for that time and a LOOKUP in it waits, uninterruptibly, for
	 * that page.  libfuse before 3.17 never passes this flag on (its
	 * commit c9905341), so on Debian 12 the wait is there: see
	 * docs/design.md, "Streamed listings". */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->time_gran = 1; /* person files carry nanoseconds (fs_person_attr) */
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

/* /search/<term>: any term that can be searched is a folder, no request
 * yet; anything else (under 2 characters, a hidden name, ...) is ENOENT. */
static void lookup_search_term(struct fs *fs, fuse_req_t req, const char *name)
{
	size_t n = strlen(name);
	if (!search_term_valid(name, n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	int64_t id = search_terms_intern(walker_search_terms(fs->walker), name, n);
	if (!id) {
		log_error("out of memory remembering a search term; try again");
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_reply_dir_entry(req, fs, tree_ino(NODE_SEARCH_DIR, id));
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t id;
	fuse_ino_t ino;
	if (fs_write_lookup(req, parent, name))
		return;
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
	} else if (parent == INO_SEARCH) {
		lookup_search_term(fs, req, name);
	} else if (tree_is_group_root(parent)) {
		/* Any canonical id is a directory, listed by its parent or not;
		 * "<id>.vcf" is its folder file. */
		if (fs_folderfile_lookup(fs, req, parent, name))
			return;
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
		else if (fs_lookup_in_growing(fs, req, parent, name))
			; /* the walk in flight has brought it */
		else if (fs_lookup_by_id_applies(fs, parent))
			park_or_fail(fs, req, PARKED_LOOKUP_ONE, parent, name, NULL,
				     tree_ino(NODE_BY_ID_PERSON, id));
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
	if (fs_write_getattr(req, ino))
		return;
	if (fs_is_directory(ino)) {
		fs_dir_attr(fs, ino, &st);
	} else if (fs_is_link(ino)) {
		fs_link_attr(fs, ino, &st);
	} else if (tree_is_folder_file(ino)) {
		fs_folderfile_getattr(fs, req, ino);
		return;
	} else if (ino == INO_STATUS) {
		fs_status_refresh(fs);
		fs_status_attr(fs, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	} else if (fs_is_person_file(ino)) {
		struct person *p = fs_person_current(fs, tree_id(ino));
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
 * invalidation thread.  A writable mount needs OPEN for its writers
 * (fs_write.c). */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fs_of(req)->w) {
		fs_write_open(req, ino, fi);
		return;
	}
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
	st.f_flag = fs_of(req)->w ? 0 : ST_RDONLY;
	fuse_reply_statfs(req, &st);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (!fs_write_read(req, ino, size, off, fi))
		fs_op_read(req, ino, size, off, fi);
}

/* /.pipedrivefs/conflicts next to the other directories. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_CONFLICTS && fs_of(req)->w) {
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	fs_op_opendir(req, ino, fi);
}

static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi, bool plus)
{
	if (ino == INO_CONFLICTS && fs_of(req)->w)
		conflicts_readdir(fs_of(req), req, size, off, plus);
	else
		(plus ? fs_op_readdirplus : fs_op_readdir)(req, ino, size, off, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, true);
}

/* Everything that would change the tree is the write layer's (fs_write*.c):
 * EROFS in a read-only mount. */
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *n, const char *v,
			size_t s, int f)
{
	(void)ino; (void)n; (void)v; (void)s; (void)f;
	fuse_reply_err(req, fs_of(req)->w ? ENOTSUP : EROFS);
}
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *n)
{
	(void)ino; (void)n;
	fuse_reply_err(req, fs_of(req)->w ? ENOTSUP : EROFS);
}

static const struct fuse_lowlevel_ops operations = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = op_open,
	.read = op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.fsync = fs_op_fsync,
	.release = fs_op_release,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.statfs = op_statfs,
	.setattr = fs_op_setattr,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.create = fs_op_create,
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
	fs->folder_indexes = fs_folder_indexes_new();
	if (!fs->config_text || !fs->pretty || !fs->folder_indexes ||
	    sem_init(&fs->inval_wake, 0, 0) != 0) {
		fs_folder_indexes_free(fs->folder_indexes);
		prettycache_free(fs->pretty);
		free(fs->config_text);
		free(fs);
		return NULL;
	}
	fs->cfg.config_text = fs->config_text;
	if (fs_write_new(fs) != 0) {
		prettycache_free(fs->pretty);
		free(fs->config_text);
		sem_destroy(&fs->inval_wake);
		free(fs);
		return NULL;
	}
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
	fs_folder_indexes_free(fs->folder_indexes);
	fs_write_free(fs);
	sem_destroy(&fs->inval_wake);
	pthread_mutex_destroy(&fs->inval_lock);
	pthread_mutex_destroy(&fs->dirs_lock);
	pthread_mutex_destroy(&fs->status_lock);
	pthread_mutex_destroy(&fs->warn_lock);
	sb_free(&fs->status);
	free(fs->config_text);
	free(fs);
}
