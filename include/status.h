/*
 * status.h - the text of /.pipedrivefs/status, from counters and settings.
 *
 * Pure: the filesystem gathers the numbers, this formats them as "key: value"
 * lines (documented in docs/status.md), one per line, so scripts can grep
 * them.  Never includes the token (it is not an input).
 */
#ifndef PDFS_STATUS_H
#define PDFS_STATUS_H

#include "api.h"
#include "cache.h"
#include "prettycache.h"
#include "store.h"
#include "bytecache.h"
#include "strbuf.h"
#include "walker.h"
#include "writeback.h"

struct status_input {
	const char *version;
	const char *config_text; /* "key: value" lines of the settings in effect */
	long uptime_s;
	struct cache_stats cache;
	struct prettycache_stats pretty;
	uint64_t interrupted; /* requests answered EINTR */
	uint64_t readahead_files; /* files stored in the page cache ahead of a reader */
	struct walker_stats walks;
	struct walker_progress in_progress[WALKER_PROGRESS_MAX];
	size_t in_progress_count;
	struct api_counters api;
	bool offline;             /* Pipedrive unreachable since the mount */
	bool disk_cache;          /* a disk cache is in use */
	const char *disk_cache_path;
	struct store_stats store;
	bool bounded;             /* persons' bytes kept within cache_max_mb (bytecache) */
	struct bytecache_stats bytes;
	struct writeback_stats writes; /* zeros in a read-only mount */
};

void status_render(struct strbuf *out, const struct status_input *in);

#endif
