/*
 * store_rows.c - the store's rows (see store.h): persons read one by one or
 * in batches, listings read, listed and dropped, and store_save writing
 * listings with their persons in one transaction.  Every row read back is
 * checked (store_codec.h) before it is handed out.
 */
#include "store.h"
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* ------------------------------------------------------------------ */
/* Persons                                                              */

static size_t column_bytes(sqlite3_stmt *st, int col, const void **data)
{
	*data = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	return n > 0 && *data ? (size_t)n : 0;
}

int store_get_person(struct store *s, int64_t id, struct store_person_row *row, void **mem)
{
	*mem = NULL;
	memset(row, 0, sizeof(*row));
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT owner_id, org_id, update_time, deleted, base, pretty_len, json, vcf "
			       "FROM persons WHERE id=?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const void *base, *json, *vcf;
			size_t base_len = column_bytes(st, 4, &base);
			size_t json_len = column_bytes(st, 6, &json);
			size_t vcf_len = column_bytes(st, 7, &vcf);
			char *block = malloc(base_len + json_len + vcf_len + 3);
			if (!block) {
				rc = -ENOMEM;
			} else {
				char *p = block;
				row->id = id;
				row->owner_id = sqlite3_column_int64(st, 0);
				row->org_id = sqlite3_column_int64(st, 1);
				row->update_time = sqlite3_column_int64(st, 2);
				row->deleted = sqlite3_column_int64(st, 3) != 0;
				int64_t pretty = sqlite3_column_int64(st, 5);
				row->pretty_len = pretty > 0 ? (size_t)pretty : 0;
				row->base = memcpy(p, base_len ? base : "", base_len);
				row->base_len = base_len;
				p[base_len] = '\0';
				p += base_len + 1;
				row->json = memcpy(p, json_len ? json : "", json_len);
				row->json_len = json_len;
				p[json_len] = '\0';
				p += json_len + 1;
				row->vcf = memcpy(p, vcf_len ? vcf : "", vcf_len);
				row->vcf_len = vcf_len;
				p[vcf_len] = '\0';
				*mem = block;
			}
		} else {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a person");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (rc == 0 && store_check_person_row(row, NULL) != 0) {
		atomic_fetch_add(&s->dropped_rows, 1);
		free(*mem);
		*mem = NULL;
		memset(row, 0, sizeof(*row));
		rc = -EINVAL;
	}
	return rc;
}

int store_each_person(struct store *s, const int64_t *ids, size_t n,
		      int (*fn)(void *ctx, const struct store_person_row *row), void *ctx)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT owner_id, org_id, update_time, deleted, base, pretty_len, json, vcf "
			       "FROM persons WHERE id=?", &st);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		int step = sqlite3_step(st);
		if (step != SQLITE_ROW) {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a person");
			break;
		}
		const void *base, *json, *vcf;
		struct store_person_row row = {
			.id = ids[i],
			.owner_id = sqlite3_column_int64(st, 0),
			.org_id = sqlite3_column_int64(st, 1),
			.update_time = sqlite3_column_int64(st, 2),
			.deleted = sqlite3_column_int64(st, 3) != 0,
		};
		int64_t pretty = sqlite3_column_int64(st, 5);
		row.pretty_len = pretty > 0 ? (size_t)pretty : 0;
		row.base_len = column_bytes(st, 4, &base);
		row.json_len = column_bytes(st, 6, &json);
		row.vcf_len = column_bytes(st, 7, &vcf);
		row.base = base;
		row.json = json;
		row.vcf = vcf;
		if (store_check_person_row(&row, NULL) != 0) {
			atomic_fetch_add(&s->dropped_rows, 1);
			rc = -EINVAL;
			break;
		}
		rc = fn(ctx, &row);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	return rc;
}

/* Upsert one person; lock held, inside a transaction. */
static int put_person(struct store *s, sqlite3_stmt *st, const struct store_person_row *p)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_int64(st, 2, p->owner_id);
	sqlite3_bind_int64(st, 3, p->org_id);
	sqlite3_bind_int64(st, 4, p->update_time);
	sqlite3_bind_int(st, 5, p->deleted ? 1 : 0);
	sqlite3_bind_text(st, 6, p->base, (int)p->base_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (int64_t)p->pretty_len);
	sqlite3_bind_blob(st, 8, p->json, (int)p->json_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, p->vcf, (int)p->vcf_len, SQLITE_STATIC);
	int step = sqlite3_step(st);
	return step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "saving a person");
}

/* ------------------------------------------------------------------ */
/* Listings                                                             */

void store_listing_clear(struct store_listing *l)
{
	if (!l->ids_borrowed)
		free(l->ids);
	store_free_names(l->names, l->count);
	memset(l, 0, sizeof(*l));
}

/* A listing's ids blob goes through SQLite's incremental blob I/O a piece
 * at a time, so that neither a write nor a read holds a second copy of a
 * big listing (a million persons: 8 MB) beside the ids themselves. */
#define IDS_PIECE 1024

/* The count ids of listing key's blob (rd_lock held): 0 and a malloc'd
 * array in *ids (NULL when count is 0), -EINVAL (damaged), -ENOMEM, -EIO. */
static int read_ids(struct store *s, uint64_t key, size_t count, int64_t **ids)
{
	*ids = NULL;
	if (count == 0)
		return 0;
	int64_t *out = malloc(count * sizeof(*out));
	if (!out)
		return -ENOMEM;
	sqlite3_blob *blob = NULL;
	int src = sqlite3_blob_open(s->rd, "main", "listings", "ids", (sqlite3_int64)key, 0, &blob);
	unsigned char piece[IDS_PIECE * STORE_ID_BYTES];
	int64_t prev = 0;
	int rc = 0;
	for (size_t at = 0, n; src == SQLITE_OK && rc == 0 && at < count; at += n) {
		n = count - at < IDS_PIECE ? count - at : IDS_PIECE;
		src = sqlite3_blob_read(blob, piece, (int)(n * STORE_ID_BYTES),
					(int)(at * STORE_ID_BYTES));
		if (src == SQLITE_OK)
			rc = store_decode_ids_to(piece, n, &prev, out + at);
	}
	sqlite3_blob_close(blob);
	if (src != SQLITE_OK)
		rc = store_error(s, s->rd, src, "reading a listing");
	if (rc)
		free(out);
	else
		*ids = out;
	return rc;
}

/* Write the ids of l into its row's blob, made as zeroblob(count * 8) by the
 * INSERT before (wr_lock held, in the transaction). */
static int write_ids(struct store *s, const struct store_listing *l)
{
	if (l->count == 0)
		return 0;
	sqlite3_blob *blob = NULL;
	int src = sqlite3_blob_open(s->wr, "main", "listings", "ids", (sqlite3_int64)l->key, 1,
				    &blob);
	unsigned char piece[IDS_PIECE * STORE_ID_BYTES];
	for (size_t at = 0, n; src == SQLITE_OK && at < l->count; at += n) {
		n = l->count - at < IDS_PIECE ? l->count - at : IDS_PIECE;
		store_encode_ids_to(piece, l->ids + at, n);
		src = sqlite3_blob_write(blob, piece, (int)(n * STORE_ID_BYTES),
					 (int)(at * STORE_ID_BYTES));
	}
	int closed = sqlite3_blob_close(blob);
	if (src == SQLITE_OK)
		src = closed;
	return src == SQLITE_OK ? 0 : store_error(s, s->wr, src, "saving a listing");
}

int store_get_listing(struct store *s, uint64_t key, struct store_listing *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT synced_to, fetched_at, full_walk_at, count, typeof(ids), "
			       "length(ids), names FROM listings WHERE key=?", &st);
	bool bad = false;
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const void *names;
			const char *synced = (const char *)sqlite3_column_text(st, 0);
			size_t synced_len = synced ? (size_t)sqlite3_column_bytes(st, 0) : 0;
			int64_t count = sqlite3_column_int64(st, 3);
			const char *ids_type = (const char *)sqlite3_column_text(st, 4);
			int64_t ids_len = sqlite3_column_int64(st, 5);
			bool has_names = sqlite3_column_type(st, 6) != SQLITE_NULL;
			size_t names_len = column_bytes(st, 6, &names);
			out->key = key;
			out->fetched_at = sqlite3_column_int64(st, 1);
			out->full_walk_at = sqlite3_column_int64(st, 2);
			bad = count < 0 || out->fetched_at < 0 || out->full_walk_at < 0 ||
			      !ids_type || strcmp(ids_type, "blob") != 0 ||
			      (uint64_t)count > SIZE_MAX / STORE_ID_BYTES || ids_len < 0 ||
			      ids_len % STORE_ID_BYTES || ids_len / STORE_ID_BYTES != count ||
			      synced_len >= sizeof(out->synced_to) ||
			      !store_check_sync_time(synced ? synced : "", synced_len);
			if (!bad) {
				memcpy(out->synced_to, synced ? synced : "", synced_len);
				out->count = (size_t)count;
				rc = read_ids(s, key, out->count, &out->ids);
				if (rc == 0 && has_names)
					rc = store_decode_names(names, names_len, out->count, &out->names);
				bad = rc == -EINVAL;
			}
		} else {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a listing");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (bad) {
		atomic_fetch_add(&s->dropped_rows, 1);
		rc = -EINVAL;
	}
	if (rc)
		store_listing_clear(out);
	return rc;
}

bool store_has_listing(struct store *s, uint64_t key)
{
	if (!store_usable(s))
		return false;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	bool has = false;
	if (store_prepare(s, s->rd, "SELECT 1 FROM listings WHERE key=?", &st) == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		has = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	return has;
}

int store_listing_keys(struct store *s, uint64_t **keys, size_t *count)
{
	*keys = NULL;
	*count = 0;
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd, "SELECT key FROM listings ORDER BY key", &st);
	size_t cap = 0;
	int step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint64_t *grown = realloc(*keys, ncap * sizeof(**keys));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			*keys = grown;
			cap = ncap;
		}
		(*keys)[(*count)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = store_error(s, s->rd, step, "listing the stored directories");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (rc) {
		free(*keys);
		*keys = NULL;
		*count = 0;
	}
	return rc;
}

static int put_listing(struct store *s, sqlite3_stmt *st, const struct store_listing *l)
{
	struct strbuf names = STRBUF_INIT;
	if (l->names)
		store_encode_names(&names, l->names, l->count);
	int rc = 0;
	if (sb_failed(&names) || names.len > INT32_MAX || l->count > INT32_MAX / STORE_ID_BYTES) {
		rc = -ENOMEM;
	} else {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (int64_t)l->key);
		sqlite3_bind_text(st, 2, l->synced_to, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, l->fetched_at);
		sqlite3_bind_int64(st, 4, l->full_walk_at);
		sqlite3_bind_int64(st, 5, (int64_t)l->count);
		sqlite3_bind_zeroblob(st, 6, (int)(l->count * STORE_ID_BYTES));
		if (l->names)
			sqlite3_bind_blob(st, 7, names.data ? names.data : "", (int)names.len,
					  SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 7);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? write_ids(s, l) : store_error(s, s->wr, step, "saving a listing");
	}
	sb_free(&names);
	return rc;
}

/* End a write begun with wr_lock held and BEGIN: COMMIT when rc is 0, else
 * ROLLBACK; wr_lock is released.  Returns rc, or COMMIT's error. */
static int finish_write(struct store *s, int rc)
{
	if (rc == 0)
		rc = store_exec(s, s->wr, "COMMIT", "committing");
	if (rc)
		sqlite3_exec(s->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

int store_save(struct store *s, const struct store_listing *listings, size_t nlistings,
	       const struct store_person_row *persons, size_t npersons)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *person_st = NULL, *listing_st = NULL;
	int rc = store_exec(s, s->wr, "BEGIN IMMEDIATE", "starting a transaction");
	if (rc == 0)
		rc = store_prepare(s, s->wr,
				   "INSERT INTO persons(id, owner_id, org_id, update_time, deleted, base, "
				   "pretty_len, json, vcf) VALUES(?,?,?,?,?,?,?,?,?) "
				   "ON CONFLICT(id) DO UPDATE SET owner_id=excluded.owner_id, "
				   "org_id=excluded.org_id, update_time=excluded.update_time, "
				   "deleted=excluded.deleted, base=excluded.base, "
				   "pretty_len=excluded.pretty_len, json=excluded.json, vcf=excluded.vcf "
				   "WHERE persons.json IS NOT excluded.json OR persons.vcf IS NOT "
				   "excluded.vcf OR persons.base IS NOT excluded.base OR persons.deleted "
				   "IS NOT excluded.deleted",
				   &person_st);
	if (rc == 0)
		rc = store_prepare(s, s->wr,
				   "INSERT OR REPLACE INTO listings(key, synced_to, fetched_at, "
				   "full_walk_at, count, ids, names) VALUES(?,?,?,?,?,?,?)",
				   &listing_st);
	for (size_t i = 0; rc == 0 && i < npersons; i++)
		rc = put_person(s, person_st, &persons[i]);
	for (size_t i = 0; rc == 0 && i < nlistings; i++)
		rc = put_listing(s, listing_st, &listings[i]);
	sqlite3_finalize(person_st);
	sqlite3_finalize(listing_st);
	return finish_write(s, rc);
}

int store_drop_persons(struct store *s, const int64_t *ids, size_t n)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_exec(s, s->wr, "BEGIN IMMEDIATE", "starting a transaction");
	if (rc == 0)
		rc = store_prepare(s, s->wr, "DELETE FROM persons WHERE id=?", &st);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "forgetting a person");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return finish_write(s, rc);
}

int store_drop_listing(struct store *s, uint64_t key)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->wr, "DELETE FROM listings WHERE key=?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "dropping a listing");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}
