/*
 * fs.h - the filesystem layer: the tree (tree.h) served through libfuse's
 * low-level API.
 *
 * Handlers never touch the network.  A request that needs a listing the cache
 * does not hold is parked as a cache waiter, the walker fetches it on a worker
 * thread, and the reply is sent from that thread when the walk ends (the
 * low-level API allows replies from any thread).  The dispatch loop itself is
 * single-threaded, so a slow walk never blocks other requests and cached
 * requests cost no thread hand-offs.
 *
 * Kernel caching: entry and attribute timeouts equal the cache TTL,
 * READDIRPLUS carries attributes, directories are opened with cache_readdir
 * (and keep_cache while their listing is unchanged), files use zero-message
 * open (ENOSYS) so the kernel keeps their pages - in a writable mount OPEN is
 * answered (keep_cache, no FLUSH for readers; a handle for writers); a
 * person whose bytes change gets its pages dropped by an invalidation thread
 * (never from a handler).
 */
#ifndef PDFS_FS_H
#define PDFS_FS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "api.h"
#include "cache.h"
#include "meta.h"
#include "store.h"
#include "walker.h"
#include "writeback.h"

struct fs_config {
	double ttl;              /* entry/attr timeouts and the cache TTL */
	const char *config_text; /* settings in effect, for the status file */
	struct store *store;     /* the disk cache, or NULL (memory only) */
	/* -o rw: files can be written (the write layer, fs_write.h); changes
	 * go through the writeback, which the caller owns and frees after
	 * fs_free.  Read-only (NULL / false): every change is EROFS. */
	bool writable;
	bool allow_delete;       /* rm deletes persons (else EPERM) */
	struct writeback *writeback;
};

struct fs;

struct fs *fs_new(const struct fs_config *cfg, struct api_client *client, struct cache *cache,
		  struct walker *walker);
/* After fuse_session_new and daemonizing: start the invalidation thread. */
int fs_start(struct fs *fs, struct fuse_session *se);
/* Stop the invalidation thread and free (the walker is freed by its owner). */
void fs_free(struct fs *fs);
const struct fuse_lowlevel_ops *fs_operations(void);
/* Expire every listing (SIGHUP); async-signal-safe. */
void fs_request_refresh(struct fs *fs);

#endif
