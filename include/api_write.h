/*
 * api_write.h - Pipedrive's person writes, and the one-person read that
 * goes with them.  Knows Pipedrive (through api.h), not FUSE.
 *
 *   GET    /api/v2/persons/{id}   cost 1  the version to compare with, and the
 *                                         version to show after a write
 *   PATCH  /api/v2/persons/{id}   cost 5  only the fields the user changed
 *   POST   /api/v2/persons        cost 5  a new person
 *   DELETE /api/v2/persons/{id}   cost 3  marked deleted (kept 30 days)
 *
 * Retries (api.h, api_send): GET, PATCH and DELETE are idempotent and are
 * retried like every GET; a POST only when it provably changed nothing, so
 * a timeout or 5xx after a POST comes back with err->maybe_applied set and
 * the caller finds out whether the person exists before sending it again.
 * Errors as api.h: an errno with a message (404 is ENOENT).
 */
#ifndef PDFS_API_WRITE_H
#define PDFS_API_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "api.h"

/* The query every person is read with (the mount's -o custom_fields and
 * include_fields), so a person read after a write has the bytes a listing
 * gives it. */
struct api_person_query {
	const char *custom_fields;
	const char *include_fields;
};

/* One person as an answer's "data": the parsed object and its text exactly
 * as sent (NULL if it could not be cut out: then only obj). */
struct api_person {
	struct json_object *obj;
	char *raw;
	size_t raw_len;
};
void api_person_release(struct api_person *p);

/* retries: how many times a failed attempt may be repeated (as api.h
 * allows), < 0 for the client's setting; 0 while a close() waits. */
int api_person_fetch(struct api_conn *conn, int64_t id, const struct api_person_query *q,
		     int retries, struct api_person *out, struct api_error *err);
/* body: the JSON text of the request; *out the person as the answer has it. */
int api_person_patch(struct api_conn *conn, int64_t id, const char *body, int retries,
		     struct api_person *out, struct api_error *err);
int api_person_create(struct api_conn *conn, const char *body, int retries,
		      struct api_person *out, struct api_error *err);
int api_person_delete(struct api_conn *conn, int64_t id, int retries, struct api_error *err);

#endif
