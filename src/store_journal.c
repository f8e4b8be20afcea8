/*
 * store_journal.c - the journal of writes not yet delivered to Pipedrive
 * (see store.h).  Appends are durable when they return (synchronous=FULL).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_internal.h"

int store_journal_append(struct store *s, const char *kind, int64_t person_id,
			 const char *payload, int64_t *seq)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->wr,
			       "INSERT INTO journal(created, kind, person_id, payload) VALUES(?,?,?,?)",
			       &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, person_id);
		sqlite3_bind_text(st, 4, payload, -1, SQLITE_STATIC);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "journaling a change");
		if (rc == 0 && seq)
			*seq = sqlite3_last_insert_rowid(s->wr);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

static char *column_strdup(sqlite3_stmt *st, int col, bool *failed)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	if (!text)
		return NULL;
	char *copy = strdup(text);
	if (!copy)
		*failed = true;
	return copy;
}

void store_journal_free(struct store_journal_entry *entries, size_t count)
{
	for (size_t i = 0; entries && i < count; i++) {
		free(entries[i].kind);
		free(entries[i].payload);
		free(entries[i].last_error);
	}
	free(entries);
}

int store_journal_list(struct store *s, struct store_journal_entry **entries, size_t *count)
{
	*entries = NULL;
	*count = 0;
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT seq, created, kind, person_id, payload, attempts, last_error "
			       "FROM journal ORDER BY seq", &st);
	size_t cap = 0;
	int step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_journal_entry *grown = realloc(*entries, ncap * sizeof(**entries));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			*entries = grown;
			cap = ncap;
		}
		struct store_journal_entry *e = &(*entries)[*count];
		bool failed = false;
		memset(e, 0, sizeof(*e));
		e->seq = sqlite3_column_int64(st, 0);
		e->created = sqlite3_column_int64(st, 1);
		e->kind = column_strdup(st, 2, &failed);
		e->person_id = sqlite3_column_int64(st, 3);
		e->payload = column_strdup(st, 4, &failed);
		e->attempts = sqlite3_column_int(st, 5);
		e->last_error = column_strdup(st, 6, &failed);
		(*count)++;
		if (failed)
			rc = -ENOMEM;
		else if (!e->kind || !e->payload || e->person_id < 0 || e->attempts < 0)
			rc = -EINVAL; /* scribbled on: the caller reports it */
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = store_error(s, s->rd, step, "reading the journal");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (rc) {
		store_journal_free(*entries, *count);
		*entries = NULL;
		*count = 0;
	}
	return rc;
}

static int journal_update(struct store *s, const char *sql, int64_t seq, const char *text,
			  const char *what)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->wr, sql, &st);
	if (rc == 0) {
		int n = 1;
		if (text)
			sqlite3_bind_text(st, n++, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, n, seq);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, what);
		if (rc == 0 && sqlite3_changes(s->wr) == 0)
			rc = -ENOENT;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

int store_journal_remove(struct store *s, int64_t seq)
{
	return journal_update(s, "DELETE FROM journal WHERE seq=?", seq, NULL,
			      "removing a delivered change");
}

int store_journal_note_failure(struct store *s, int64_t seq, const char *error)
{
	return journal_update(s, "UPDATE journal SET attempts=attempts+1, last_error=? WHERE seq=?",
			      seq, error ? error : "", "noting a failed delivery");
}
