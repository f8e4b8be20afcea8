/*
 * reconnect.h - after an offline start, a thread that asks Pipedrive again
 * with backoff (5 s, doubling, at most 5 minutes) until it answers; then the
 * client goes online and every cached listing is marked expired, so each is
 * refreshed (incrementally) when it is next used.  Knows the API client and
 * the cache; not FUSE.
 */
#ifndef PDFS_RECONNECT_H
#define PDFS_RECONNECT_H

#include "api.h"
#include "cache.h"

#define RECONNECT_FIRST_S 5.0
#define RECONNECT_MAX_S 300.0

struct reconnect;

/* Start probing (after fuse_daemonize: threads do not survive the fork).
 * NULL if the thread cannot start (logged; the mount stays offline). */
struct reconnect *reconnect_start(struct api_client *client, struct cache *cache);
/* Stop the thread (at unmount) and free. */
void reconnect_stop(struct reconnect *r);

#endif
