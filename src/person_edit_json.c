/*
 * person_edit_json.c - .json edits and creations -> v2 request bodies, the
 * field rules shared with the vCard path, and the conflict check
 * (person_edit.h).
 *
 * Job: know which person fields the v2 API lets a client write (the
 * PATCH /persons/{id} and POST /persons request bodies of the official
 * spec), check the shape of every value that is sent, and put in the body
 * only what differs from the version the file was read from.  Pure.
 */
#include "person_edit_internal.h"

#include <json-c/json.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Which fields                                                             */
/* ------------------------------------------------------------------------ */

/* The request body properties of PATCH /api/v2/persons/{id} (POST adds
 * add_time, which we do not send: a copied file would back-date the copy). */
static const char *const writable_fields[] = {
	"name",	    "owner_id", "org_id", "emails",	"phones",    "visible_to",
	"label_ids", "postal_address", "notes", "im", "birthday", "job_title",
	"marketing_status", "custom_fields", NULL,
};

/*
 * The person fields GET returns that no request body takes: Pipedrive sets
 * them.  In an edit, every other key the served JSON holds that is not
 * writable (include_fields counters, whatever Pipedrive adds later) is
 * read-only too; only keys in neither are unknown.
 */
static const char *const read_only_fields[] = {
	"id", "first_name", "last_name", "add_time", "update_time", "is_deleted", "picture_id",
	"labels", NULL,
};

static const char *const address_keys[] = {
	"value", "country", "admin_area_level_1", "admin_area_level_2", "locality",
	"sublocality", "route", "street_number", "subpremise", "postal_code", NULL,
};

static bool listed(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */
/* Errors and JSON helpers shared with person_edit_vcard.c                  */
/* ------------------------------------------------------------------------ */

int pe_fail(struct person_edit_error *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int pe_oom(struct person_edit_error *err)
{
	if (err)
		snprintf(err->message, sizeof err->message, "out of memory");
	return -ENOMEM;
}

int pe_add(struct json_object *obj, const char *key, struct json_object *value,
	   struct person_edit_error *err)
{
	if (json_object_object_add(obj, key, value)) {
		json_object_put(value);
		return pe_oom(err);
	}
	return 0;
}

struct json_object *pe_get(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static bool is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

bool person_edit_json_equal(struct json_object *a, struct json_object *b)
{
	if (!a || !b)
		return a == b;
	if (is_number(a) && is_number(b)) {
		if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
			return json_object_get_int64(a) == json_object_get_int64(b) &&
			       json_object_get_uint64(a) == json_object_get_uint64(b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return false;
	switch (json_object_get_type(a)) {
	case json_type_array: {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!person_edit_json_equal(json_object_array_get_idx(a, i),
						    json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va)
		{
			struct json_object *vb;
			if (!json_object_object_get_ex(b, key, &vb) || !person_edit_json_equal(va, vb))
				return false;
		}
		return true;
	}
	default:
		return json_object_equal(a, b);
	}
}

/* Strict JSON (no comments, no single quotes, no NaN), one value, nothing
 * after it but white space. */
static int parse_strict(const char *text, size_t len, struct json_object **out,
			struct person_edit_error *err)
{
	*out = NULL;
	if (len > 16 * 1024 * 1024)
		return pe_fail(err, "the .json file is larger than 16 MB");
	if (memchr(text, '\0', len))
		return pe_fail(err, "the .json file holds a NUL byte");
	struct json_tokener *tok = json_tokener_new_ex(64);
	if (!tok)
		return pe_oom(err);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		return pe_fail(err, "the .json file is not valid JSON (%s near byte %zu)",
			       json_tokener_error_desc(jerr), used);
	}
	for (size_t i = used; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			json_object_put(obj);
			return pe_fail(err, "the .json file holds more than one JSON value (byte %zu)", i);
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return pe_fail(err, "the .json file must hold one JSON object (a person)");
	}
	*out = obj;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Shapes of the values we send                                             */
/* ------------------------------------------------------------------------ */

static bool positive_int(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0;
}

static int check_contact_list(const char *key, struct json_object *v,
			      struct person_edit_error *err)
{
	if (!json_object_is_type(v, json_type_array))
		return pe_fail(err, "%s must be a list of {\"value\", \"primary\", \"label\"} "
				    "(use [] to clear it)", key);
	size_t n = json_object_array_length(v), primaries = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_object))
			return pe_fail(err, "%s[%zu] must be an object {\"value\", \"primary\", \"label\"}",
				       key, i);
		json_object_object_foreach(item, k, iv)
		{
			bool ok = strcmp(k, "value") == 0   ? json_object_is_type(iv, json_type_string)
				  : strcmp(k, "label") == 0 ? json_object_is_type(iv, json_type_string)
				  : strcmp(k, "primary") == 0
				      ? json_object_is_type(iv, json_type_boolean)
				      : false;
			if (!ok)
				return pe_fail(err, "%s[%zu].%.40s: only value (text), primary (true/false) "
						    "and label (text) are allowed", key, i, k);
		}
		if (!pe_get(item, "value"))
			return pe_fail(err, "%s[%zu] has no value", key, i);
		struct json_object *p = pe_get(item, "primary");
		primaries += p && json_object_get_boolean(p);
	}
	if (primaries > 1)
		return pe_fail(err, "%s has %zu primary entries; mark at most one", key, primaries);
	return 0;
}

static int check_address(struct json_object *v, struct person_edit_error *err)
{
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return pe_fail(err, "postal_address must be an object or null");
	json_object_object_foreach(v, k, part)
	{
		if (!listed(address_keys, k))
			return pe_fail(err, "postal_address.%.40s is not an address field Pipedrive "
					    "accepts (value, route, street_number, locality, ...)", k);
		if (part && !json_object_is_type(part, json_type_string))
			return pe_fail(err, "postal_address.%s must be text or null", k);
	}
	return 0;
}

/* The shape of a writable top-level field's value (custom_fields apart). */
static int check_field(const char *key, struct json_object *v, struct person_edit_error *err)
{
	if (strcmp(key, "name") == 0) {
		const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (strspn(s, " \t\r\n") == strlen(s))
			return pe_fail(err, "name must be non-empty text (Pipedrive derives first_name "
					    "and last_name from it)");
		return 0;
	}
	if (strcmp(key, "owner_id") == 0)
		return positive_int(v) ? 0 : pe_fail(err, "owner_id must be a user id (a number)");
	if (strcmp(key, "org_id") == 0)
		return !v || positive_int(v) ? 0
					     : pe_fail(err, "org_id must be an organization id or null");
	if (strcmp(key, "visible_to") == 0) {
		int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
		return x == 1 || x == 3 || x == 5 || x == 7
			       ? 0
			       : pe_fail(err, "visible_to must be 1, 3, 5 or 7");
	}
	if (strcmp(key, "emails") == 0 || strcmp(key, "phones") == 0 || strcmp(key, "im") == 0)
		return check_contact_list(key, v, err);
	if (strcmp(key, "label_ids") == 0) {
		bool ok = json_object_is_type(v, json_type_array);
		for (size_t i = 0; ok && i < json_object_array_length(v); i++) {
			struct vcard_id id; /* integers, or strings as the API may send them */
			ok = pe_id_of(json_object_array_get_idx(v, i), &id) &&
			     (!id.numeric || id.num > 0);
		}
		return ok ? 0 : pe_fail(err, "label_ids must be a list of label ids");
	}
	if (strcmp(key, "postal_address") == 0)
		return check_address(v, err);
	if (strcmp(key, "notes") == 0 || strcmp(key, "job_title") == 0)
		return !v || json_object_is_type(v, json_type_string)
			       ? 0
			       : pe_fail(err, "%s must be text or null", key);
	if (strcmp(key, "birthday") == 0) {
		bool ok = !v || (json_object_is_type(v, json_type_string) &&
				 card_is_date(json_object_get_string(v),
					    (size_t)json_object_get_string_len(v)));
		return ok ? 0 : pe_fail(err, "birthday must be a date YYYY-MM-DD or null");
	}
	if (strcmp(key, "marketing_status") == 0) {
		static const char *const states[] = { "no_consent", "unsubscribed", "subscribed",
						      "archived", NULL };
		bool ok = json_object_is_type(v, json_type_string) &&
			  listed(states, json_object_get_string(v));
		return ok ? 0 : pe_fail(err, "marketing_status must be no_consent, unsubscribed, "
					     "subscribed or archived");
	}
	return 0;
}

static int check_custom_value(const char *key, struct json_object *v,
			      struct person_edit_error *err)
{
	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0)
		return pe_fail(err, "custom_fields.%.40s: [] is not accepted; use null to clear it", key);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Edit                                                                     */
/* ------------------------------------------------------------------------ */

static int diff_custom_fields(struct json_object *old, struct json_object *now,
			      struct json_object *body, struct person_edit_error *err)
{
	if (!json_object_is_type(now, json_type_object))
		return pe_fail(err, "custom_fields must be an object (set a key to null to clear it)");
	if (!json_object_is_type(old, json_type_object))
		old = NULL;
	struct json_object *changed = json_object_new_object();
	if (!changed)
		return pe_oom(err);
	int rc = 0;
	json_object_object_foreach(now, key, v)
	{
		struct json_object *was;
		if (!old || !json_object_object_get_ex(old, key, &was)) {
			rc = pe_fail(err, "custom_fields.%.40s is not a custom field of this person "
					  "(keys are listed by GET /personFields)", key);
			break;
		}
		if (person_edit_json_equal(was, v))
			continue;
		if ((rc = check_custom_value(key, v, err)) ||
		    (rc = pe_add(changed, key, json_object_get(v), err)))
			break;
	}
	if (rc == 0 && old) {
		json_object_object_foreach(old, old_key, was)
		{
			(void)was;
			if (!json_object_object_get_ex(now, old_key, NULL)) {
				rc = pe_fail(err, "custom_fields.%.40s was removed; set it to null to "
						  "clear it", old_key);
				break;
			}
		}
	}
	if (rc == 0 && json_object_object_length(changed))
		return pe_add(body, "custom_fields", changed, err);
	json_object_put(changed);
	return rc;
}

static int diff_top_level(struct json_object *old, struct json_object *now,
			  struct json_object *body, struct person_edit_error *err)
{
	json_object_object_foreach(now, key, v)
	{
		struct json_object *was = NULL;
		bool had = json_object_object_get_ex(old, key, &was);
		bool writable = listed(writable_fields, key);
		if (!writable && (had || listed(read_only_fields, key))) {
			if (!had || !person_edit_json_equal(was, v))
				return pe_fail(err, "%.40s is read-only (Pipedrive sets it); restore its "
						    "old value", key);
			continue;
		}
		if (!writable)
			return pe_fail(err, "unknown field \"%.40s\" (not a person field Pipedrive "
					    "accepts)", key);
		int rc;
		if (strcmp(key, "custom_fields") == 0)
			rc = diff_custom_fields(was, v, body, err);
		else if (had && person_edit_json_equal(was, v))
			rc = 0;
		else if (!(rc = check_field(key, v, err)))
			rc = pe_add(body, key, json_object_get(v), err);
		if (rc)
			return rc;
	}
	json_object_object_foreach(old, old_key, old_value)
	{
		(void)old_value;
		if (listed(writable_fields, old_key) && !json_object_object_get_ex(now, old_key, NULL))
			return pe_fail(err, "%.40s was removed; set it to null (or [] for a list) to "
					    "clear it", old_key);
	}
	return 0;
}

int person_edit_json(const char *original, size_t original_len, const char *edited,
		     size_t edited_len, struct json_object **body, struct person_edit_error *err)
{
	*body = NULL;
	struct json_object *old = NULL;
	struct json_tokener *tok = original_len <= INT32_MAX ? json_tokener_new() : NULL;
	if (tok) {
		old = json_tokener_parse_ex(tok, original, (int)original_len);
		json_tokener_free(tok);
	}
	if (!json_object_is_type(old, json_type_object)) {
		json_object_put(old);
		return pe_fail(err, "the person's JSON as served does not parse (a bug: report it)");
	}
	struct json_object *now;
	int rc = parse_strict(edited, edited_len, &now, err);
	if (rc) {
		json_object_put(old);
		return rc;
	}
	struct json_object *out = json_object_new_object();
	rc = out ? diff_top_level(old, now, out, err) : pe_oom(err);
	json_object_put(old);
	json_object_put(now);
	if (rc) {
		json_object_put(out);
		return rc;
	}
	*body = out;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Create                                                                   */
/* ------------------------------------------------------------------------ */

static int copy_custom_fields(struct json_object *v, struct json_object *body,
			      struct person_edit_error *err)
{
	if (!json_object_is_type(v, json_type_object))
		return pe_fail(err, "custom_fields must be an object");
	struct json_object *set = json_object_new_object();
	if (!set)
		return pe_oom(err);
	int rc = 0;
	json_object_object_foreach(v, key, fv)
	{
		if (!fv)
			continue;
		if ((rc = check_custom_value(key, fv, err)) ||
		    (rc = pe_add(set, key, json_object_get(fv), err)))
			break;
	}
	if (rc == 0 && json_object_object_length(set))
		return pe_add(body, "custom_fields", set, err);
	json_object_put(set);
	return rc;
}

int pe_apply_place(struct json_object *body, const struct person_edit_place *place,
		   struct person_edit_error *err)
{
	if (place && place->owner_id > 0 &&
	    pe_add(body, "owner_id", json_object_new_int64(place->owner_id), err))
		return -ENOMEM;
	if (place && place->org_id > 0 &&
	    pe_add(body, "org_id", json_object_new_int64(place->org_id), err))
		return -ENOMEM;
	if (!pe_get(body, "name"))
		return pe_fail(err, "a new person needs a name (FN in a card, \"name\" in a .json)");
	return 0;
}

static int create_fields(struct json_object *obj, struct json_object *body,
			 struct person_edit_error *err)
{
	json_object_object_foreach(obj, key, v)
	{
		if (listed(read_only_fields, key))
			continue;
		if (!listed(writable_fields, key))
			return pe_fail(err, "unknown field \"%.40s\" (not a person field Pipedrive "
					    "accepts)", key);
		if (!v)
			continue;
		int rc = strcmp(key, "custom_fields") == 0 ? copy_custom_fields(v, body, err)
			 : check_field(key, v, err)	    ? -EINVAL
						    : pe_add(body, key, json_object_get(v), err);
		if (rc)
			return rc;
	}
	return 0;
}

int person_create_json(const char *text, size_t len, const struct person_edit_place *place,
		       struct json_object **body, struct person_edit_error *err)
{
	*body = NULL;
	struct json_object *obj;
	int rc = parse_strict(text, len, &obj, err);
	if (rc)
		return rc;
	struct json_object *out = json_object_new_object();
	rc = out ? create_fields(obj, out, err) : pe_oom(err);
	if (rc == 0)
		rc = pe_apply_place(out, place, err);
	json_object_put(obj);
	if (rc) {
		json_object_put(out);
		return rc;
	}
	*body = out;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Conflicts                                                                */
/* ------------------------------------------------------------------------ */

/* The server changed `key` of from -> to, and not to what we send. */
static bool server_changed(struct json_object *from, struct json_object *to, const char *key,
			   struct json_object *sent)
{
	struct json_object *a = NULL, *b = NULL;
	bool had = json_object_object_get_ex(from, key, &a);
	bool has = json_object_object_get_ex(to, key, &b);
	if (had == has && person_edit_json_equal(a, b))
		return false;
	return !(has && person_edit_json_equal(b, sent));
}

size_t person_edit_conflicts(struct json_object *original, struct json_object *current,
			     struct json_object *body, char *field, size_t field_len)
{
	size_t count = 0;
	if (field && field_len)
		field[0] = '\0';
	if (!json_object_is_type(body, json_type_object))
		return 0;
	json_object_object_foreach(body, key, sent)
	{
		if (strcmp(key, "custom_fields") == 0 && json_object_is_type(sent, json_type_object)) {
			struct json_object *from = pe_get(original, key), *to = pe_get(current, key);
			if (!json_object_is_type(from, json_type_object))
				from = NULL;
			if (!json_object_is_type(to, json_type_object))
				to = NULL;
			json_object_object_foreach(sent, ckey, cv)
			{
				if (!server_changed(from, to, ckey, cv))
					continue;
				if (count++ == 0 && field)
					snprintf(field, field_len, "custom_fields.%s", ckey);
			}
			continue;
		}
		if (!server_changed(original, current, key, sent))
			continue;
		if (count++ == 0 && field)
			snprintf(field, field_len, "%s", key);
	}
	return count;
}
