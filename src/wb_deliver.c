/*
 * wb_deliver.c - one attempt to deliver a change (writeback_internal.h).
 *
 * An edit or a move is re-checked right before it is sent: the person is
 * read again (GET /persons/{id}, 1 token) and every field of the body that
 * Pipedrive changed too since the version the file was read from is kept
 * back (person_edit_conflicts); the others are sent (PATCH, 5 tokens).  A
 * create whose earlier POST may have been applied (no answer, a 5xx) first
 * looks for the person among those updated since the change was made, so it
 * is never created twice.  After a delivery the person is read again and
 * replaces its cached version; a deleted one leaves every listing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "strbuf.h"
#include "url.h"
#include "writeback_internal.h"

/* A failed request: try again later, or never.  Later: no answer, 5xx,
 * 429, the CDN's block, a token that was rejected (kept until a mount with
 * a good one delivers it); never: every other 4xx. */
static enum wb_result failed(const struct api_error *ae, const char *what, int *err, char *msg,
			     size_t msg_len)
{
	long s = ae->status;
	bool transient = s == 0 || s == 401 || s == 429 || s >= 500 || (s >= 200 && s < 300) ||
			 (s == 403 && ae->err == EIO) || ae->err == EAGAIN;
	snprintf(msg, msg_len, "%s: %s", what, ae->message);
	if (transient) {
		*err = EIO;
		return WB_TRANSIENT;
	}
	*err = s == 404 || s == 410 ? ENOENT : s == 403 ? EACCES : EINVAL;
	return WB_REJECTED;
}

static bool is_deleted(struct json_object *person)
{
	struct json_object *v;
	return json_object_object_get_ex(person, "is_deleted", &v) && json_object_get_boolean(v);
}

static int64_t id_of(struct json_object *person)
{
	struct json_object *v;
	return json_object_object_get_ex(person, "id", &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v)
		       : 0;
}

/* The person read again replaces its cached version and its listings: it
 * joins the folders it belongs in and leaves those of `before`. */
static void install(struct writeback *wb, struct api_person *fresh, struct json_object *before)
{
	struct person *p = wb_person_build(wb, fresh->obj, fresh->raw, fresh->raw_len);
	if (!p) {
		log_warn("person %" PRId64 " as Pipedrive answered cannot be shown (out of memory or "
			 "no id); its folders show it at their next refresh", id_of(fresh->obj));
		return;
	}
	uint64_t in[3], out[3];
	size_t nin = wb_folder_keys(p, in), nout = 0;
	if (before) {
		struct person *old = wb_person_build(wb, before, NULL, 0);
		uint64_t keys[3];
		size_t n = old ? wb_folder_keys(old, keys) : 0;
		for (size_t i = 0; i < n; i++) {
			bool kept = false;
			for (size_t k = 0; k < nin; k++)
				kept |= in[k] == keys[i];
			if (!kept)
				out[nout++] = keys[i];
		}
		if (old)
			person_unref(old);
	}
	cache_person_replace(wb->cache, p, in, nin, out, nout);
}

/* After a write: the person as Pipedrive now has it (else as the write's
 * answer had it). */
static void refresh(struct writeback *wb, int64_t id, struct api_person *answer,
		    struct json_object *before, int retries)
{
	struct api_person fresh;
	struct api_error ae;
	if (api_person_fetch(wb->conn, id, &wb->query, retries, &fresh, &ae) == 0) {
		install(wb, &fresh, before);
		api_person_release(&fresh);
	} else if (answer && answer->obj) {
		log_warn("person %" PRId64 " was written but could not be read again (%s); it shows "
			 "as the write's answer had it", id, ae.message);
		install(wb, answer, before);
	}
}

/* ---- conflicts ---- */

static bool field_conflicts(struct json_object *base, struct json_object *fresh,
			    const char *key, struct json_object *value, const char *sub)
{
	struct json_object *one = json_object_new_object(), *inner = NULL;
	if (!one)
		return true; /* out of memory: keep it back rather than overwrite */
	if (sub) {
		inner = json_object_new_object();
		json_object_object_add(inner, sub, json_object_get(value));
		json_object_object_add(one, key, inner);
	} else {
		json_object_object_add(one, key, json_object_get(value));
	}
	char field[128];
	size_t n = person_edit_conflicts(base, fresh, one, field, sizeof(field));
	json_object_put(one);
	return n > 0;
}

/* The body without the fields Pipedrive changed too; their names go to
 * kept[]. */
static struct json_object *without_conflicts(struct json_object *body, struct json_object *base,
					     struct json_object *fresh, struct strbuf *kept)
{
	struct json_object *send = NULL;
	if (json_object_deep_copy(body, &send, NULL) != 0)
		return NULL;
	json_object_object_foreach(body, key, value)
	{
		if (strcmp(key, "custom_fields") == 0 && json_object_is_type(value, json_type_object)) {
			struct json_object *cf = json_object_object_get(send, key);
			json_object_object_foreach(value, sub, v)
			{
				if (!field_conflicts(base, fresh, key, v, sub))
					continue;
				sb_printf(kept, "%scustom_fields.%s", kept->len ? ", " : "", sub);
				json_object_object_del(cf, sub);
			}
			if (json_object_object_length(cf) == 0)
				json_object_object_del(send, key);
		} else if (field_conflicts(base, fresh, key, value, NULL)) {
			sb_printf(kept, "%s%s", kept->len ? ", " : "", key);
			json_object_object_del(send, key);
		}
	}
	return send;
}

/* ---- the operations ---- */

static enum wb_result deliver_patch(struct writeback *wb, struct wb_entry *e, int retries,
				    int *err, char *msg, size_t msg_len)
{
	struct api_person fresh, answer;
	struct api_error ae;
	if (api_person_fetch(wb->conn, e->person_id, &wb->query, retries, &fresh, &ae))
		return failed(&ae, "reading the person before sending the change", err, msg,
			      msg_len);
	if (is_deleted(fresh.obj)) {
		api_person_release(&fresh);
		*err = ENOENT;
		snprintf(msg, msg_len, "the person was deleted in Pipedrive");
		return WB_REJECTED;
	}
	struct strbuf kept = STRBUF_INIT;
	struct json_object *send = e->base ? without_conflicts(e->body, e->base, fresh.obj, &kept)
					   : json_object_get(e->body);
	if (!send || sb_failed(&kept)) {
		api_person_release(&fresh);
		json_object_put(send);
		sb_free(&kept);
		*err = ENOMEM;
		snprintf(msg, msg_len, "out of memory");
		return WB_TRANSIENT;
	}
	enum wb_result result = WB_DELIVERED;
	if (json_object_object_length(send) > 0) {
		const char *text = json_object_to_json_string_ext(send, JSON_C_TO_STRING_PLAIN);
		if (api_person_patch(wb->conn, e->person_id, text, retries, &answer, &ae)) {
			result = failed(&ae, "sending the change", err, msg, msg_len);
		} else {
			wb->delivered++;
			refresh(wb, e->person_id, &answer, e->base, retries);
			api_person_release(&answer);
		}
	} else {
		install(wb, &fresh, e->base); /* nothing sent: show Pipedrive's version */
	}
	api_person_release(&fresh);
	if (result == WB_DELIVERED && kept.len) {
		*err = EBUSY;
		snprintf(msg, msg_len, "Pipedrive changed %s too since the file was read; %s", kept.data,
			 json_object_object_length(send) ? "the other fields were sent"
							 : "nothing was sent");
		result = WB_CONFLICT;
	}
	json_object_put(send);
	sb_free(&kept);
	return result;
}

static bool same_member(struct json_object *a, struct json_object *b, const char *key)
{
	struct json_object *va = json_object_object_get(a, key);
	struct json_object *vb = json_object_object_get(b, key);
	return !va || person_edit_json_equal(va, vb);
}

/* A person that an earlier, unanswered POST of this change made: updated
 * since the change was made, with its name, e-mails and phones. */
static int find_created(struct writeback *wb, const struct wb_entry *e, int64_t *found,
			struct api_error *ae)
{
	char since[32];
	time_t t = e->created - 5;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct list_query q = { .updated_since = since, .sort_by = "update_time",
				.sort_direction = "desc", .limit = 100,
				.owner_id = e->place.owner_id, .org_id = e->place.org_id };
	struct api_page page;
	char *next = NULL;
	int rc = api_list_page(wb->conn, "/persons", &q, NULL, &page, &next, ae);
	free(next);
	*found = 0;
	for (size_t i = 0; rc == 0 && i < page.scan.count && !*found; i++) {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *p = tok ? json_tokener_parse_ex(tok, page.body +
							page.scan.elements[i].start,
							(int)page.scan.elements[i].len)
					    : NULL;
		json_tokener_free(tok);
		if (!tok)
			rc = -ENOMEM;
		else if (p && !is_deleted(p) && same_member(e->body, p, "name") &&
			 same_member(e->body, p, "emails") && same_member(e->body, p, "phones"))
			*found = id_of(p);
		json_object_put(p);
	}
	if (rc == 0)
		api_page_release(&page);
	return rc;
}

static enum wb_result deliver_create(struct writeback *wb, struct wb_entry *e, int retries,
				     int64_t *person_id, int *err, char *msg, size_t msg_len)
{
	struct api_error ae;
	int64_t id = 0;
	if (e->attempts > 0 && find_created(wb, e, &id, &ae))
		return failed(&ae, "looking for the person an unanswered request may have made", err,
			      msg, msg_len);
	if (id) {
		log_info("%s: the person was made by an earlier request whose answer was lost "
			 "(person %" PRId64 "); not sent again", e->where, id);
	} else {
		struct api_person answer;
		const char *text = json_object_to_json_string_ext(e->body, JSON_C_TO_STRING_PLAIN);
		if (api_person_create(wb->conn, text, retries, &answer, &ae)) {
			enum wb_result r = failed(&ae, "creating the person", err, msg, msg_len);
			if (ae.maybe_applied)
				snprintf(msg + strlen(msg), msg_len - strlen(msg),
					 " (it may have been made: checked before trying again)");
			return ae.maybe_applied ? WB_TRANSIENT : r;
		}
		wb->delivered++;
		id = id_of(answer.obj);
		refresh(wb, id, &answer, NULL, retries);
		api_person_release(&answer);
		*person_id = id;
		return id ? WB_DELIVERED : WB_REJECTED;
	}
	refresh(wb, id, NULL, NULL, retries);
	*person_id = id;
	return WB_DELIVERED;
}

static enum wb_result deliver_delete(struct writeback *wb, struct wb_entry *e, int retries,
				     int *err, char *msg, size_t msg_len)
{
	struct api_error ae;
	int rc = api_person_delete(wb->conn, e->person_id, retries, &ae);
	if (rc && ae.status != 404 && ae.status != 410)
		return failed(&ae, "deleting the person", err, msg, msg_len);
	if (rc == 0)
		wb->delivered++;
	cache_persons_remove(wb->cache, &e->person_id, 1);
	return WB_DELIVERED;
}

enum wb_result wb_deliver(struct writeback *wb, struct wb_entry *e, int retries,
			  int64_t *person_id, int *err, char *msg, size_t msg_len)
{
	*person_id = e->person_id;
	*err = 0;
	msg[0] = '\0';
	if (!wb->conn && !(wb->conn = api_conn_new(wb->client))) {
		*err = ENOMEM;
		snprintf(msg, msg_len, "out of memory (no connection)");
		return WB_TRANSIENT;
	}
	switch (e->op) {
	case WB_EDIT:
	case WB_MOVE:
		return deliver_patch(wb, e, retries, err, msg, msg_len);
	case WB_CREATE:
		return deliver_create(wb, e, retries, person_id, err, msg, msg_len);
	case WB_DELETE:
		return deliver_delete(wb, e, retries, err, msg, msg_len);
	}
	return WB_REJECTED;
}
