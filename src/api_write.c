/*
 * api_write.c - person writes and the one-person read (api_write.h).
 */
#include "api_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jsonscan.h"
#include "strbuf.h"
#include "url.h"

void api_person_release(struct api_person *p)
{
	if (p->obj)
		json_object_put(p->obj);
	free(p->raw);
	memset(p, 0, sizeof(*p));
}

/* The text of the answer's "data" member, exactly as sent. */
static void cut_out_data(struct api_conn *conn, struct api_person *out)
{
	size_t len = 0;
	char *body = api_conn_take_body(conn, &len);
	if (!body)
		return;
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc doc;
	if (jsonscan_parse(&doc, body, len, &arena, NULL) == JSONSCAN_OK) {
		uint32_t data = jsonscan_get(&doc, jsonscan_root(&doc), "data");
		size_t n = 0;
		const char *raw = jsonscan_type(&doc, data) == JSONSCAN_OBJECT
					  ? jsonscan_raw(&doc, data, &n)
					  : NULL;
		if (raw && (out->raw = malloc(n + 1))) {
			memcpy(out->raw, raw, n);
			out->raw[n] = '\0';
			out->raw_len = n;
		}
	}
	arena_free(&arena);
	free(body);
}

/* Send rq; on success the answer's "data" object goes to *out. */
static int person_request(struct api_conn *conn, const struct api_request *rq,
			  struct api_person *out, struct api_error *err)
{
	struct json_object *resp = NULL, *data;
	if (out)
		memset(out, 0, sizeof(*out));
	int rc = api_send(conn, rq, &resp, err);
	if (rc)
		return rc;
	if (!json_object_object_get_ex(resp, "data", &data) ||
	    !json_object_is_type(data, json_type_object)) {
		json_object_put(resp);
		err->err = EIO;
		snprintf(err->message, sizeof(err->message),
			 "Pipedrive answered %s %s without the person (no \"data\" object)",
			 rq->method, rq->path);
		return -EIO;
	}
	if (out) {
		out->obj = json_object_get(data);
		cut_out_data(conn, out);
	}
	json_object_put(resp);
	return 0;
}

static int person_path(struct strbuf *path, int64_t id, const struct api_person_query *q,
		       struct api_error *err)
{
	sb_printf(path, "/persons/%" PRId64, id);
	if (q) {
		struct list_query lq = { .custom_fields = q->custom_fields,
					 .include_fields = q->include_fields };
		url_list_query(path, &lq, NULL);
	}
	if (!sb_failed(path))
		return 0;
	err->err = ENOMEM;
	snprintf(err->message, sizeof(err->message), "out of memory");
	return -ENOMEM;
}

/* GET, PATCH or DELETE of /persons/{id}: idempotent, retried like a GET. */
static int person_call(struct api_conn *conn, const char *method, int64_t id,
		       const struct api_person_query *q, const char *body, int retries,
		       struct api_person *out, struct api_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int rc = person_path(&path, id, q, err);
	struct api_request rq = { .method = method, .base = API_V2, .path = path.data,
				  .body = body, .retry = API_RETRY_SAFE, .max_retries = retries };
	if (rc == 0)
		rc = person_request(conn, &rq, out, err);
	sb_free(&path);
	return rc;
}

int api_person_fetch(struct api_conn *conn, int64_t id, const struct api_person_query *q,
		     int retries, struct api_person *out, struct api_error *err)
{
	return person_call(conn, "GET", id, q, NULL, retries, out, err);
}

int api_person_patch(struct api_conn *conn, int64_t id, const char *body, int retries,
		     struct api_person *out, struct api_error *err)
{
	return person_call(conn, "PATCH", id, NULL, body, retries, out, err);
}

int api_person_create(struct api_conn *conn, const char *body, int retries,
		      struct api_person *out, struct api_error *err)
{
	struct api_request rq = { .method = "POST", .base = API_V2, .path = "/persons",
				  .body = body, .retry = API_RETRY_UNSENT, .max_retries = retries };
	return person_request(conn, &rq, out, err);
}

int api_person_delete(struct api_conn *conn, int64_t id, int retries, struct api_error *err)
{
	return person_call(conn, "DELETE", id, NULL, NULL, retries, NULL, err);
}
