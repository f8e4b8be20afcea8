/*
 * wb_change.c - a change -> the request that carries it; journal records;
 * the person as a change makes it (writeback_internal.h).
 *
 * Which version an edit is computed against: the one the text names - a
 * .json by its update_time (a read-only field), a .vcf by REV when the
 * writer kept it (khard renews it) - among the versions recently served,
 * else the version most recently served.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "strbuf.h"
#include "tree.h"
#include "writeback_internal.h"

void wb_change_clear(struct wb_change *c)
{
	free(c->text);
	for (size_t i = 0; i < c->nversions; i++)
		person_unref(c->versions[i]);
	memset(c, 0, sizeof(*c));
}

void wb_entry_free(struct wb_entry *e)
{
	if (!e)
		return;
	json_object_put(e->body);
	json_object_put(e->base);
	free(e->text);
	if (e->shown)
		person_unref(e->shown);
	free(e);
}

static struct json_object *parse_compact(const struct person *p)
{
	if (!p || !p->compact)
		return NULL;
	return json_tokener_parse(p->compact);
}

/* ---- which version the file was read from ---- */

/* The REV of a card as Unix seconds (0 if it has none that parses). */
static int64_t card_revision(const char *text, size_t len)
{
	for (size_t i = 0; i + 4 < len; i++) {
		if ((i > 0 && text[i - 1] != '\n') || strncasecmp(text + i, "REV", 3) != 0 ||
		    (text[i + 3] != ':' && text[i + 3] != ';'))
			continue;
		const char *colon = memchr(text + i, ':', len - i);
		if (!colon)
			return 0;
		char digits[16];
		size_t n = 0;
		for (const char *p = colon + 1; p < text + len && *p != '\r' && *p != '\n' && n < 14;
		     p++)
			if (isdigit((unsigned char)*p))
				digits[n++] = *p;
		if (n != 14)
			return 0;
		digits[n] = '\0';
		struct tm tm = { 0 };
		if (sscanf(digits, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
			return 0;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		return (int64_t)timegm(&tm);
	}
	return 0;
}

/* The update_time of a .json text (0 if none), and whether it has one. */
static bool json_revision(const char *text, int64_t *when)
{
	struct json_object *obj = json_tokener_parse(text), *v;
	bool has = json_object_object_get_ex(obj, "update_time", &v) &&
		   json_object_is_type(v, json_type_string);
	*when = has ? person_parse_time(json_object_get_string(v)) : 0;
	json_object_put(obj);
	return has;
}

/* The version named by the text, else the most recently served one (a
 * .json whose update_time is no version is then refused as a change of a
 * read-only field). */
static const struct person *version_read(const struct wb_change *c)
{
	int64_t when = 0;
	bool named = c->kind == PERSON_FILE_JSON ? json_revision(c->text, &when)
						 : (when = card_revision(c->text, c->text_len)) != 0;
	for (size_t i = 0; named && i < c->nversions; i++)
		if (c->versions[i]->update_time == when)
			return c->versions[i];
	return c->nversions ? c->versions[0] : NULL;
}

/* ---- bodies ---- */

static int edit_body(struct writeback *wb, struct wb_change *c, const struct person *v,
		     struct json_object *base, struct json_object **body, char *msg,
		     size_t msg_len)
{
	struct person_edit_error err = { "" };
	int rc;
	if (c->kind == PERSON_FILE_JSON) {
		struct strbuf original = STRBUF_INIT;
		person_json(v, &original);
		rc = sb_failed(&original) ? -ENOMEM
					  : person_edit_json(original.data, original.len, c->text,
							     c->text_len, body, &err);
		sb_free(&original);
	} else {
		struct strbuf card = STRBUF_INIT;
		rc = person_vcf(v, &card);
		if (rc == 0)
			rc = person_edit_vcard(card.data ? card.data : "", card.len, c->text,
					       c->text_len, base, &wb->resolver.r, body, &err);
		sb_free(&card);
	}
	if (rc == -EINVAL)
		snprintf(msg, msg_len, "%s", err.message);
	return rc;
}

static int create_body(struct writeback *wb, struct wb_change *c, struct json_object **body,
		       char *msg, size_t msg_len)
{
	struct person_edit_error err = { "" };
	int rc = c->kind == PERSON_FILE_JSON
			 ? person_create_json(c->text, c->text_len, &c->place, body, &err)
			 : person_create_vcard(c->text, c->text_len, &c->place, &wb->resolver.r, body,
					       &err);
	if (rc == -EINVAL)
		snprintf(msg, msg_len, "%s", err.message);
	return rc;
}

static struct json_object *move_body(const struct person_edit_place *to)
{
	struct json_object *body = json_object_new_object();
	struct json_object *v = json_object_new_int64(to->owner_id ? to->owner_id : to->org_id);
	if (!body || !v || json_object_object_add(body, to->owner_id ? "owner_id" : "org_id", v)) {
		json_object_put(v);
		json_object_put(body);
		return NULL;
	}
	return body;
}

int wb_entry_from_change(struct writeback *wb, struct wb_change *c, struct wb_entry **out,
			 char *msg, size_t msg_len)
{
	*out = NULL;
	struct wb_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->op = c->op;
	e->person_id = c->person_id;
	e->kind = c->kind;
	e->place = c->place;
	e->created = time(NULL);
	snprintf(e->where, sizeof(e->where), "%s", c->where);
	int rc = 0;
	const struct person *v = c->op == WB_EDIT ? version_read(c)
				 : c->nversions ? c->versions[0] : NULL;
	if (c->op == WB_EDIT && !v)
		rc = -ENOENT;
	if (rc == 0 && c->op != WB_CREATE && v && !(e->base = parse_compact(v)))
		rc = -ENOMEM;
	if (rc == 0 && c->op == WB_EDIT)
		rc = edit_body(wb, c, v, e->base, &e->body, msg, msg_len);
	else if (rc == 0 && c->op == WB_CREATE)
		rc = create_body(wb, c, &e->body, msg, msg_len);
	else if (rc == 0 && c->op == WB_MOVE && !(e->body = move_body(&c->place)))
		rc = -ENOMEM;
	if (rc == 0 && e->body && json_object_object_length(e->body) == 0) {
		wb_entry_free(e); /* nothing changed: nothing to send */
		return 0;
	}
	if (rc == 0 && (c->op == WB_EDIT || c->op == WB_MOVE) &&
	    !(e->shown = wb_person_with(wb, e->base, e->body)))
		rc = -ENOMEM;
	if (rc == -ENOMEM || (rc && !msg[0]))
		snprintf(msg, msg_len, "%s", rc == -ENOMEM ? "out of memory" : strerror(-rc));
	/* the text goes with the change (a conflict file keeps it) */
	e->text = c->text;
	e->text_len = c->text_len;
	c->text = NULL;
	if (rc) {
		wb_entry_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

/* ---- journal records ---- */

static const char *const op_names[] = { "edit", "create", "delete", "move" };

const char *wb_op_name(enum wb_op op)
{
	return op_names[op];
}

static int add(struct json_object *obj, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_object_add(obj, key, v) ? -ENOMEM : 0;
}

char *wb_entry_record(const struct wb_entry *e)
{
	struct json_object *r = json_object_new_object(), *place = json_object_new_object();
	int rc = r && place ? 0 : -ENOMEM;
	rc = rc ? rc : add(r, "v", json_object_new_int(1));
	rc = rc ? rc : add(r, "op", json_object_new_string(op_names[e->op]));
	rc = rc ? rc : add(r, "id", json_object_new_int64(e->person_id));
	rc = rc ? rc : add(r, "kind", json_object_new_string(e->kind == PERSON_FILE_JSON ? "json" : "vcf"));
	rc = rc ? rc : add(r, "where", json_object_new_string(e->where));
	if (e->body)
		rc = rc ? rc : add(r, "body", json_object_get(e->body));
	if (e->base)
		rc = rc ? rc : add(r, "base", json_object_get(e->base));
	if (e->text)
		rc = rc ? rc : add(r, "text", json_object_new_string_len(e->text, (int)e->text_len));
	rc = rc ? rc : add(place, "owner_id", json_object_new_int64(e->place.owner_id));
	rc = rc ? rc : add(place, "org_id", json_object_new_int64(e->place.org_id));
	rc = rc ? rc : add(r, "place", json_object_get(place));
	char *text = rc ? NULL : strdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(place);
	json_object_put(r);
	return text;
}

static int64_t int_member(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v)
		       : 0;
}

static struct json_object *member(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type)
		       ? json_object_get(v)
		       : NULL;
}

struct wb_entry *wb_entry_from_record(const struct store_journal_entry *j, char *msg,
				      size_t msg_len)
{
	struct json_object *r = json_tokener_parse(j->payload), *v;
	struct wb_entry *e = r ? calloc(1, sizeof(*e)) : NULL;
	int op = -1;
	for (int i = 0; i < 4 && r; i++)
		if (json_object_object_get_ex(r, "op", &v) &&
		    strcmp(json_object_get_string(v), op_names[i]) == 0)
			op = i;
	if (!e || op < 0 || int_member(r, "v") != 1) {
		snprintf(msg, msg_len, "journal entry %" PRId64 " cannot be read (%s)", j->seq,
			 e ? "unknown record" : "not JSON");
		free(e);
		json_object_put(r);
		return NULL;
	}
	e->seq = j->seq;
	e->created = (time_t)j->created;
	e->attempts = j->attempts;
	e->op = (enum wb_op)op;
	e->person_id = int_member(r, "id");
	e->kind = json_object_object_get_ex(r, "kind", &v) &&
				  strcmp(json_object_get_string(v), "json") == 0
			  ? PERSON_FILE_JSON
			  : PERSON_FILE_VCF;
	if (json_object_object_get_ex(r, "where", &v))
		snprintf(e->where, sizeof(e->where), "%s", json_object_get_string(v));
	e->body = member(r, "body", json_type_object);
	e->base = member(r, "base", json_type_object);
	if (json_object_object_get_ex(r, "text", &v) && json_object_is_type(v, json_type_string)) {
		e->text_len = (size_t)json_object_get_string_len(v);
		if ((e->text = malloc(e->text_len + 1))) {
			memcpy(e->text, json_object_get_string(v), e->text_len);
			e->text[e->text_len] = '\0';
		}
	}
	struct json_object *place = member(r, "place", json_type_object);
	e->place.owner_id = int_member(place, "owner_id");
	e->place.org_id = int_member(place, "org_id");
	json_object_put(place);
	json_object_put(r);
	bool complete = (e->op == WB_DELETE || e->body) && (e->op == WB_CREATE || e->person_id > 0);
	if (!complete) {
		snprintf(msg, msg_len, "journal entry %" PRId64 " is incomplete", j->seq);
		wb_entry_free(e);
		return NULL;
	}
	return e;
}

/* ---- persons ---- */

struct person *wb_person_build(struct writeback *wb, struct json_object *obj, const char *raw,
			       size_t raw_len)
{
	/* the answer's text as sent; an object made here (wb_person_with) is
	 * written out plainly */
	const char *text = raw ? raw : json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	if (!text || !wb->style)
		return NULL;
	int err;
	return person_from_text(text, raw ? raw_len : strlen(text), wb->style, &err);
}

struct person *wb_person_with(struct writeback *wb, struct json_object *base,
			      struct json_object *body)
{
	struct json_object *merged = NULL;
	if (!base || json_object_deep_copy(base, &merged, NULL) != 0)
		return NULL;
	json_object_object_foreach(body, key, value)
	{
		struct json_object *cf;
		if (strcmp(key, "custom_fields") == 0 &&
		    json_object_object_get_ex(merged, "custom_fields", &cf) &&
		    json_object_is_type(cf, json_type_object)) {
			json_object_object_foreach(value, k, v)
				json_object_object_add(cf, k, json_object_get(v));
		} else {
			json_object_object_add(merged, key, json_object_get(value));
		}
	}
	struct person *p = wb_person_build(wb, merged, NULL, 0);
	json_object_put(merged);
	return p;
}

size_t wb_folder_keys(const struct person *p, uint64_t *keys)
{
	size_t n = 0;
	if (p->owner_id > 0)
		keys[n++] = tree_ino(NODE_OWNER_DIR, p->owner_id);
	if (p->org_id > 0)
		keys[n++] = tree_ino(NODE_ORG_DIR, p->org_id);
	keys[n++] = INO_RECENT;
	return n;
}
