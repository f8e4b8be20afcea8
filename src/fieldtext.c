#include "fieldtext.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANGE_SEPARATOR " \xE2\x80\x93 " /* " – " between the ends of a range */
#define LIST_SEPARATOR ", "

static const struct {
	const char *name;
	enum fieldtext_type type;
} type_names[] = {
	{ "varchar", FIELDTEXT_TEXT },        { "varchar_auto", FIELDTEXT_TEXT },
	{ "text", FIELDTEXT_TEXT },           { "phone", FIELDTEXT_TEXT },
	{ "date", FIELDTEXT_TEXT },           { "double", FIELDTEXT_DOUBLE },
	{ "monetary", FIELDTEXT_MONETARY },   { "address", FIELDTEXT_ADDRESS },
	{ "daterange", FIELDTEXT_DATERANGE }, { "time", FIELDTEXT_TIME },
	{ "timerange", FIELDTEXT_TIMERANGE }, { "enum", FIELDTEXT_ENUM },
	{ "set", FIELDTEXT_SET },             { "user", FIELDTEXT_USER },
	{ "org", FIELDTEXT_ORG },             { "people", FIELDTEXT_PEOPLE },
};

enum fieldtext_type fieldtext_type_of(const char *field_type)
{
	for (size_t i = 0; field_type && i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(field_type, type_names[i].name) == 0)
			return type_names[i].type;
	return FIELDTEXT_OTHER;
}

bool fieldtext_is_reference(enum fieldtext_type type)
{
	return type == FIELDTEXT_USER || type == FIELDTEXT_ORG || type == FIELDTEXT_PEOPLE;
}

static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* The bytes of a non-empty JSON string, or NULL. */
static const char *text_of(struct json_object *v, size_t *n)
{
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
		return NULL;
	*n = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

void fieldtext_number(struct strbuf *out, double v)
{
	if (!isfinite(v))
		return;
	if (v == 0) { /* also -0 */
		sb_putc(out, '0');
		return;
	}
	sb_printf(out, "%.15g", v);
}

/* A string that is entirely a decimal number (for double and monetary
 * fields sent as text); false otherwise. */
static bool parse_number(const char *s, size_t n, double *v)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return false; /* no hex, inf, nan or white space */
	char *end;
	*v = strtod(buf, &end);
	return end == buf + n && isfinite(*v);
}

/* The id a reference value names: an integer, a numeric string, or an
 * object's "id" / "value". */
static bool reference_id(struct json_object *v, int64_t *id)
{
	struct vcard_id vid;
	if (json_object_is_type(v, json_type_object)) {
		struct json_object *inner = member(v, "id");
		if (!inner)
			inner = member(v, "value");
		v = inner;
	}
	if (!vcard_id_of(v, &vid) || !vid.numeric || vid.num <= 0)
		return false;
	*id = vid.num;
	return true;
}

static void append_value(struct strbuf *out, struct json_object *v, enum fieldtext_type type,
			 const struct fieldtext_lookup *lk);

/* Elements joined by ", "; elements without text leave no separator. */
static void append_list(struct strbuf *out, struct json_object *arr, enum fieldtext_type type,
			const struct fieldtext_lookup *lk)
{
	size_t shown = 0, n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		size_t mark = out->len;
		if (shown)
			sb_puts(out, LIST_SEPARATOR);
		size_t before = out->len;
		append_value(out, json_object_array_get_idx(arr, i), type, lk);
		if (out->len == before)
			sb_truncate(out, mark);
		else
			shown++;
	}
}

/* An object as text: its label, name or formatted address, else its value
 * with the currency, the end of the range and the time zone beside it. */
static void append_object(struct strbuf *out, struct json_object *obj, enum fieldtext_type type,
			  const struct fieldtext_lookup *lk)
{
	static const char *const whole[] = { "label", "name", "formatted_address" };
	size_t n;
	const char *s;
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		if ((s = text_of(member(obj, whole[i]), &n))) {
			sb_append(out, s, n);
			return;
		}
	}
	size_t start = out->len;
	append_value(out, member(obj, "value"), type, lk);
	if (out->len == start)
		return;
	if ((s = text_of(member(obj, "currency"), &n))) {
		sb_putc(out, ' ');
		sb_append(out, s, n);
	}
	struct json_object *until = member(obj, "until");
	if (until && !json_object_is_type(until, json_type_null)) {
		size_t mark = out->len;
		sb_puts(out, RANGE_SEPARATOR);
		size_t before = out->len;
		append_value(out, until, type, lk);
		if (out->len == before)
			sb_truncate(out, mark);
	}
	if ((s = text_of(member(obj, "timezone_name"), &n))) {
		sb_puts(out, " (");
		sb_append(out, s, n);
		sb_putc(out, ')');
	}
}

/* A scalar as text: strings as they are, numbers without noise. */
static void append_plain(struct strbuf *out, struct json_object *v, enum fieldtext_type type)
{
	size_t n;
	const char *s;
	double d;
	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if ((type == FIELDTEXT_DOUBLE || type == FIELDTEXT_MONETARY) && parse_number(s, n, &d))
			fieldtext_number(out, d);
		else
			sb_append(out, s, n);
		break;
	case json_type_int:
		sb_printf(out, "%" PRId64, json_object_get_int64(v));
		break;
	case json_type_double:
		fieldtext_number(out, json_object_get_double(v));
		break;
	case json_type_boolean:
		sb_puts(out, json_object_get_boolean(v) ? "yes" : "no");
		break;
	default:
		break;
	}
}

/* An enum option: its label; a string that is no option is shown as it is
 * (a label sent instead of an id), a number that is none is not shown. */
static void append_option(struct strbuf *out, struct json_object *v,
			  const struct fieldtext_lookup *lk)
{
	struct vcard_id id;
	if (!vcard_id_of(v, &id))
		return;
	const char *label = lk && lk->option ? lk->option(lk->ctx, &id) : NULL;
	if (label)
		sb_puts(out, label);
	else if (!id.numeric)
		sb_append(out, id.text, id.len);
}

/* A set sent the v1 way, "21,22": each option. */
static void append_option_string(struct strbuf *out, const char *s, size_t n,
				 const struct fieldtext_lookup *lk)
{
	struct json_object *arr = json_object_new_array();
	size_t start = 0;
	for (size_t i = 0; arr && i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		json_object_array_add(arr, json_object_new_string_len(s + start, (int)(i - start)));
		start = i + 1;
	}
	if (!arr) {
		out->failed = true;
		return;
	}
	append_list(out, arr, FIELDTEXT_ENUM, lk);
	json_object_put(arr);
}

static void append_reference(struct strbuf *out, struct json_object *v, enum fieldtext_type type,
			     const struct fieldtext_lookup *lk)
{
	size_t n;
	const char *s = text_of(member(v, "name"), &n);
	int64_t id;
	if (s)
		sb_append(out, s, n);
	else if (reference_id(v, &id) && lk && lk->name && (s = lk->name(lk->ctx, type, id)))
		sb_puts(out, s);
}

static void append_value(struct strbuf *out, struct json_object *v, enum fieldtext_type type,
			 const struct fieldtext_lookup *lk)
{
	if (!v || json_object_is_type(v, json_type_null))
		return;
	if (json_object_is_type(v, json_type_array)) {
		append_list(out, v, type == FIELDTEXT_SET ? FIELDTEXT_ENUM : type, lk);
		return;
	}
	switch (type) {
	case FIELDTEXT_ENUM:
	case FIELDTEXT_SET:
		if (json_object_is_type(v, json_type_object)) {
			size_t n;
			const char *label = text_of(member(v, "label"), &n);
			if (label)
				sb_append(out, label, n);
			else
				append_option(out, member(v, "id"), lk);
		} else if (type == FIELDTEXT_SET && json_object_is_type(v, json_type_string)) {
			append_option_string(out, json_object_get_string(v),
					     (size_t)json_object_get_string_len(v), lk);
		} else {
			append_option(out, v, lk);
		}
		return;
	case FIELDTEXT_USER:
	case FIELDTEXT_ORG:
	case FIELDTEXT_PEOPLE:
		append_reference(out, v, type, lk);
		return;
	default:
		break;
	}
	if (json_object_is_type(v, json_type_object))
		append_object(out, v, type, lk);
	else
		append_plain(out, v, type);
}

void fieldtext_append(struct strbuf *out, struct json_object *value, enum fieldtext_type type,
		      const struct fieldtext_lookup *lookup)
{
	append_value(out, value, type, lookup);
}

void fieldtext_each_reference(struct json_object *value, enum fieldtext_type type,
			      void (*fn)(void *ctx, enum fieldtext_type type, int64_t id),
			      void *ctx)
{
	if (!fieldtext_is_reference(type) || !value)
		return;
	if (json_object_is_type(value, json_type_array)) {
		size_t n = json_object_array_length(value);
		for (size_t i = 0; i < n; i++)
			fieldtext_each_reference(json_object_array_get_idx(value, i), type, fn, ctx);
		return;
	}
	int64_t id;
	if (reference_id(value, &id))
		fn(ctx, type, id);
}
