/*
 * fs.h - the filesystem layer: inode numbers, the tree, FUSE callbacks.
 *
 * Uses libfuse's low-level API.  Inode numbers are a pure function of what a
 * node is (kind in the top byte, Pipedrive id below), so they are stable across
 * refreshes and FORGET needs no bookkeeping.  Handlers never touch the network:
 * a request that needs a listing the cache does not hold is parked as a cache
 * waiter, a worker thread walks the API, and the reply is sent from the worker
 * when the walk ends (the low-level API allows replies from any thread).  The
 * dispatch loop itself is single-threaded and never blocks on the network.
 */
#ifndef PDFS_FS_H
#define PDFS_FS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "api.h"
#include "cache.h"
#include "person.h"

struct fs_config {
	double ttl;                 /* entry/attr timeouts and the cache TTL */
	int page_limit;             /* limit= for list requests */
	int workers;                /* network worker threads */
	struct person_render render;
};

struct fs;

struct fs *fs_new(const struct fs_config *cfg, struct api_client *client, struct cache *cache);
/* Start the worker threads (after fuse_daemonize: threads do not survive fork). */
int fs_start(struct fs *fs);
/* Cancel requests in flight, stop and join the workers, free. */
void fs_free(struct fs *fs);
const struct fuse_lowlevel_ops *fs_operations(void);

#endif
