/*
 * writeback_internal.h - what the files of the writeback share (writeback.h
 * is the contract; only src/wb_*.c and src/writeback.c include this).
 *
 *   writeback.c   the thread, the queue in journal order, submitting,
 *                 the changes shown before delivery
 *   wb_change.c   a change -> the request body (person_edit.h); journal
 *                 records; the person as a change makes it
 *   wb_deliver.c  delivering one change to Pipedrive; the person read
 *                 again afterwards
 *   wb_conflicts.c  conflict files
 */
#ifndef PDFS_WRITEBACK_INTERNAL_H
#define PDFS_WRITEBACK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "api_write.h"
#include "edit_resolver.h"
#include "writeback.h"

/* One change the queue holds: computed, maybe journaled, not delivered. */
struct wb_entry {
	struct wb_entry *next;
	int64_t seq;     /* its journal row, 0 when not journaled */
	time_t created;  /* when it was made (Unix seconds) */
	enum wb_op op;
	int64_t person_id;
	enum person_file kind;
	struct json_object *body; /* what to send: edit, move, create */
	struct json_object *base; /* the person it was computed against, or NULL */
	char *text;               /* the user's file (edit, create), or NULL */
	size_t text_len;
	struct person_edit_place place;
	char where[512];
	struct person *shown;     /* the person as it makes it (edit, move), or NULL */
	int attempts;
	double next_try;          /* monotonic seconds */
	wb_done_fn done;          /* the submitter, until answered */
	void *ctx;
};

struct wb_conflict {
	struct wb_conflict *next;
	uint64_t id;
	int64_t seq; /* journal row, 0 in memory only */
	char *name;
	char *text;
	size_t len;
	time_t at;
};

/* A submitted change not computed yet. */
struct wb_incoming {
	struct wb_incoming *next;
	struct wb_change change;
	wb_done_fn done;
	void *ctx;
};

struct writeback {
	struct writeback_config cfg;
	struct api_client *client;
	struct api_conn *conn;
	struct cache *cache;
	struct meta *meta;
	struct person_style *style; /* cfg.render, for the persons built here */
	struct edit_resolver resolver;
	struct api_person_query query;
	wb_changed_fn on_changed;
	void *on_changed_ctx;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stopping, kicked;
	struct wb_incoming *incoming, **incoming_tail;
	struct wb_entry *queue, **queue_tail; /* journal order */
	size_t queued;
	struct wb_conflict *conflicts, **conflicts_tail;
	size_t nconflicts;
	uint64_t next_conflict_id; /* for files not in the journal */
	uint64_t delivered;
};

/* How one delivery attempt ended. */
enum wb_result {
	WB_DELIVERED,
	WB_TRANSIENT, /* try again later: network, 5xx, 429, shutting down */
	WB_CONFLICT,  /* sent what it could; the rest stays with the user */
	WB_REJECTED,  /* Pipedrive said no (4xx): never retried */
};

/* ---- wb_change.c ---- */
/* Compute the entry of a change: 0 (*out, or NULL when there is nothing to
 * send), -EINVAL with msg, -ENOENT (no version known), -ENOMEM. */
int wb_entry_from_change(struct writeback *wb, struct wb_change *c, struct wb_entry **out,
			 char *msg, size_t msg_len);
void wb_entry_free(struct wb_entry *e);
/* "edit", "create", "delete", "move": the journal's kind column. */
const char *wb_op_name(enum wb_op op);
/* The journal record of an entry (malloc'd JSON text), and back. */
char *wb_entry_record(const struct wb_entry *e);
struct wb_entry *wb_entry_from_record(const struct store_journal_entry *j, char *msg,
				      size_t msg_len);
/* A person from its JSON (the organization name from meta); NULL if it
 * cannot be built. */
struct person *wb_person_build(struct writeback *wb, struct json_object *obj, const char *raw,
			       size_t raw_len);
/* base + body as a person (the change shown before it is delivered). */
struct person *wb_person_with(struct writeback *wb, struct json_object *base,
			      struct json_object *body);
/* The cache keys of the folders p belongs in (owner, organization, recent). */
size_t wb_folder_keys(const struct person *p, uint64_t *keys);

/* ---- wb_deliver.c ---- */
/* One attempt (retries: 0 while a close waits, else the client's).  On
 * WB_DELIVERED *person_id is the person's id; msg says what happened
 * otherwise (and for WB_CONFLICT which fields were kept back). */
enum wb_result wb_deliver(struct writeback *wb, struct wb_entry *e, int retries,
			  int64_t *person_id, int *err, char *msg, size_t msg_len);

/* ---- wb_conflicts.c ---- */
/* Keep the user's text of e as a conflict file, with one log line. */
void wb_keep_conflict(struct writeback *wb, const struct wb_entry *e, const char *why);
/* Lock held: add a conflict file (takes name and text). */
void wb_conflict_add(struct writeback *wb, int64_t seq, char *name, char *text, size_t len,
		     time_t at);

#endif
