/*
 * writeback.h - changes to persons, from a saved file to Pipedrive, in
 * order, losing none.  Knows Pipedrive (api_write.h), the store's journal,
 * the cache and meta; not FUSE.
 *
 * A change is what a file operation meant: an edit (a saved .json or .vcf
 * of a person), a create (a new file in a by-owner or by-org folder), a
 * delete (rm, with allow_delete) or a move (to another owner's or
 * organization's folder).  writeback_submit() hands one to the writeback
 * thread, which
 *
 *   1. computes the request (person_edit.h): an edit against the version the
 *      file was read from; a refused edit ends here with EINVAL and a
 *      message, an edit that changes nothing with 0;
 *   2. appends it to the journal (store.h) when there is a store: durable
 *      before anything is answered;
 *   3. shows it: until it is delivered, writeback_pending() gives the
 *      person as the change makes it (a deleted one as deleted);
 *   4. delivers it, in journal order: an edit or move re-reads the person
 *      (GET /persons/{id}) and sends only the fields Pipedrive did not also
 *      change since the version the file was read from (PATCH); a field
 *      changed on both sides is not sent and the change ends as a conflict
 *      (EBUSY), with the user's text kept as a conflict file.  After a
 *      delivery that person alone is read again and replaces its cached
 *      version and its folders' listings (cache_person_replace).
 *
 * Outcomes, reported once to the submitter's callback:
 *   0       delivered, or nothing to send, or - with a journal - kept for
 *           later because Pipedrive could not be reached (network, 5xx,
 *           429, the CDN's block, a rejected token): retried in order with
 *           backoff (1 s doubling to 5 min), also after a restart;
 *   EINVAL  the file does not say something Pipedrive can hold (message),
 *           or Pipedrive rejected it (4xx);
 *   EBUSY   a conflict; EACCES Pipedrive refused the permission;
 *   ENOENT  the person no longer exists in Pipedrive;
 *   EIO     it could not be delivered and there is no journal
 *           (disk_cache=no) or the journal could not be written.
 * Every change that ends unsent with the user's text (conflict, rejection,
 * EIO) leaves that text as a conflict file and one log line naming the file.
 *
 * Conflict files live in the journal too (kind "conflict"), so they survive
 * restarts when there is a store; without one, in memory for the mount.
 */
#ifndef PDFS_WRITEBACK_H
#define PDFS_WRITEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api.h"
#include "cache.h"
#include "meta.h"
#include "names.h"
#include "person.h"
#include "person_edit.h"
#include "store.h"

enum wb_op {
	WB_EDIT,
	WB_CREATE,
	WB_DELETE,
	WB_MOVE,
};

#define WB_VERSIONS 4

struct wb_change {
	enum wb_op op;
	int64_t person_id;     /* edit, delete, move */
	enum person_file kind; /* edit, create: which file was written */
	char *text;            /* edit, create: the file as written (malloc'd, taken) */
	size_t text_len;
	/* edit: the versions of the person the file may have been read from,
	 * the most likely first (references taken); a .json is matched by its
	 * update_time, a .vcf by REV, else the first is used.  delete, move:
	 * versions[0] is the person as known. */
	struct person *versions[WB_VERSIONS];
	size_t nversions;
	/* create: the folder (owner_id or org_id); move: the new owner_id or
	 * org_id (the other 0) */
	struct person_edit_place place;
	char where[512];       /* "by-owner/7/Ann Lee (42).vcf", for messages */
};

/* Releases what a change holds (text, versions). */
void wb_change_clear(struct wb_change *c);

/* err as above; person_id: the person the change made (a create's new id),
 * or 0; message: why it failed, or NULL. */
typedef void (*wb_done_fn)(void *ctx, int err, int64_t person_id, const char *message);

/* The person of id changed in what writeback_pending() gives (a change was
 * kept, delivered or dropped): the kernel's copies should go. */
typedef void (*wb_changed_fn)(void *ctx, int64_t person_id);

struct writeback_config {
	struct person_render render;
	const char *custom_fields;  /* the mount's -o custom_fields, or NULL */
	const char *include_fields; /* the mount's -o include_fields, or NULL */
	struct store *store;        /* the journal, or NULL (disk_cache=no) */
};

struct writeback_stats {
	uint64_t pending;   /* changes in the journal, not delivered yet */
	uint64_t delivered; /* requests that changed Pipedrive (this mount) */
	uint64_t conflicts; /* conflict files */
};

struct writeback;

/* Reads the journal (changes left by an earlier mount are delivered once
 * started, their conflict files listed).  NULL when out of memory. */
struct writeback *writeback_new(const struct writeback_config *cfg, struct api_client *client,
				struct cache *cache, struct meta *meta);
int writeback_start(struct writeback *wb);
/* Who hears of persons whose shown version changed (before start). */
void writeback_set_changed_hook(struct writeback *wb, wb_changed_fn fn, void *ctx);
/* Try the oldest waiting change now (SIGHUP). */
void writeback_kick(struct writeback *wb);
/* Stop the thread (a change in flight finishes or stays journaled; waiting
 * callbacks get 0 if journaled, else EIO) and free. */
void writeback_free(struct writeback *wb);

/* Takes what *change holds (cleared).  done runs once, on the writeback
 * thread (or at once when out of memory). */
void writeback_submit(struct writeback *wb, struct wb_change *change, wb_done_fn done, void *ctx);

/* The person as the changes waiting for it make it: a new reference, or
 * NULL when none waits; *deleted when a delete waits. */
struct person *writeback_pending(struct writeback *wb, int64_t id, bool *deleted);

void writeback_get_stats(struct writeback *wb, struct writeback_stats *out);

/* ---- conflict files ---- */
struct wb_conflict_info {
	uint64_t id;    /* stable for the mount: the file's inode number comes from it */
	char name[300];
	size_t len;
	time_t at;
};
/* Every conflict file in order of creation (*list malloc'd); how many. */
size_t writeback_conflicts(struct writeback *wb, struct wb_conflict_info **list);
/* The one called name: true and *out. */
bool writeback_conflict_find(struct writeback *wb, const char *name, struct wb_conflict_info *out);
bool writeback_conflict_get(struct writeback *wb, uint64_t id, struct wb_conflict_info *out);
/* A copy of its text (malloc'd), or NULL. */
char *writeback_conflict_text(struct writeback *wb, uint64_t id, size_t *len);
/* The user removed it: 0 or -ENOENT. */
int writeback_conflict_remove(struct writeback *wb, uint64_t id);

#endif
