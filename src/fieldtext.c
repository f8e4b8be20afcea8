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

/* A string's unescaped bytes (no copy unless it has escapes), or NULL. */
static const char *string_of(const struct jsonscan_doc *d, uint32_t v, struct arena *scratch,
			     size_t *n)
{
	*n = 0;
	return jsonscan_str(d, v, scratch, n);
}

/* The bytes of a non-empty JSON string, or NULL. */
static const char *text_of(const struct jsonscan_doc *d, uint32_t v, struct arena *scratch,
			   size_t *n)
{
	const char *s = string_of(d, v, scratch, n);
	return s && *n ? s : NULL;
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
static bool reference_id(const struct jsonscan_doc *d, uint32_t v, struct arena *scratch,
			 int64_t *id)
{
	struct vcard_id vid;
	if (jsonscan_type(d, v) == JSONSCAN_OBJECT) {
		uint32_t inner = jsonscan_get(d, v, "id");
		v = inner ? inner : jsonscan_get(d, v, "value");
	}
	if (!vcard_id_of(d, v, scratch, &vid) || !vid.numeric || vid.num <= 0)
		return false;
	*id = vid.num;
	return true;
}

struct render {
	struct strbuf *out;
	const struct jsonscan_doc *d;
	const struct fieldtext_lookup *lk;
	struct arena *scratch;
};

static void append_value(const struct render *r, uint32_t v, enum fieldtext_type type);

/* Elements joined by ", "; elements without text leave no separator. */
static void append_list(const struct render *r, uint32_t arr, enum fieldtext_type type)
{
	struct strbuf *out = r->out;
	size_t shown = 0;
	JSONSCAN_FOREACH(r->d, arr, e) {
		size_t mark = out->len;
		if (shown)
			sb_puts(out, LIST_SEPARATOR);
		size_t before = out->len;
		append_value(r, e, type);
		if (out->len == before)
			sb_truncate(out, mark);
		else
			shown++;
	}
}

/* An object as text: its label, name or formatted address, else its value
 * with the currency, the end of the range and the time zone beside it. */
static void append_object(const struct render *r, uint32_t obj, enum fieldtext_type type)
{
	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("label"), JSONSCAN_KEY("name"), JSONSCAN_KEY("formatted_address"),
		JSONSCAN_KEY("value"), JSONSCAN_KEY("currency"), JSONSCAN_KEY("until"),
		JSONSCAN_KEY("timezone_name"),
	};
	enum { LABEL, NAME, FORMATTED, VALUE, CURRENCY, UNTIL, TIMEZONE, NKEYS };
	uint32_t m[NKEYS];
	jsonscan_get_many(r->d, obj, keys, NKEYS, m);
	struct strbuf *out = r->out;
	size_t n;
	const char *s;
	for (int i = LABEL; i <= FORMATTED; i++) {
		if ((s = text_of(r->d, m[i], r->scratch, &n))) {
			sb_append(out, s, n);
			return;
		}
	}
	size_t start = out->len;
	append_value(r, m[VALUE], type);
	if (out->len == start)
		return;
	if ((s = text_of(r->d, m[CURRENCY], r->scratch, &n))) {
		sb_putc(out, ' ');
		sb_append(out, s, n);
	}
	if (m[UNTIL] && !jsonscan_is_null(r->d, m[UNTIL])) {
		size_t mark = out->len;
		sb_puts(out, RANGE_SEPARATOR);
		size_t before = out->len;
		append_value(r, m[UNTIL], type);
		if (out->len == before)
			sb_truncate(out, mark);
	}
	if ((s = text_of(r->d, m[TIMEZONE], r->scratch, &n))) {
		sb_puts(out, " (");
		sb_append(out, s, n);
		sb_putc(out, ')');
	}
}

/* A scalar as text: strings as they are, numbers without noise. */
static void append_plain(const struct render *r, uint32_t v, enum fieldtext_type type)
{
	size_t n;
	const char *s;
	double x;
	int64_t i;
	switch (jsonscan_type(r->d, v)) {
	case JSONSCAN_STRING:
		s = string_of(r->d, v, r->scratch, &n);
		if (!s)
			r->out->failed = true; /* could not unescape: out of memory */
		else if ((type == FIELDTEXT_DOUBLE || type == FIELDTEXT_MONETARY) &&
			 parse_number(s, n, &x))
			fieldtext_number(r->out, x);
		else
			sb_append(r->out, s, n);
		break;
	case JSONSCAN_NUMBER:
		if (jsonscan_int64(r->d, v, &i) == 0)
			sb_put_int(r->out, i);
		else if (jsonscan_double(r->d, v, &x) == 0)
			fieldtext_number(r->out, x);
		break;
	case JSONSCAN_TRUE:
		sb_puts(r->out, "yes");
		break;
	case JSONSCAN_FALSE:
		sb_puts(r->out, "no");
		break;
	default:
		break;
	}
}

/* An enum option id: its label; a string that is no option is shown as it
 * is (a label sent instead of an id), a number that is none is not shown. */
static void append_option_id(const struct render *r, const struct vcard_id *id)
{
	const char *label = r->lk && r->lk->option ? r->lk->option(r->lk->ctx, id) : NULL;
	if (label)
		sb_puts(r->out, label);
	else if (!id->numeric)
		sb_append(r->out, id->text, id->len);
}

static void append_option(const struct render *r, uint32_t v)
{
	struct vcard_id id;
	if (vcard_id_of(r->d, v, r->scratch, &id))
		append_option_id(r, &id);
}

/* A set sent the v1 way, "21,22": each option, joined like a list. */
static void append_option_string(const struct render *r, const char *s, size_t n)
{
	struct strbuf *out = r->out;
	size_t shown = 0, start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		size_t mark = out->len;
		if (shown)
			sb_puts(out, LIST_SEPARATOR);
		size_t before = out->len;
		struct vcard_id id;
		if (vcard_id_from_text(s + start, i - start, &id))
			append_option_id(r, &id);
		if (out->len == before)
			sb_truncate(out, mark);
		else
			shown++;
		start = i + 1;
	}
}

static void append_reference(const struct render *r, uint32_t v, enum fieldtext_type type)
{
	const struct fieldtext_lookup *lk = r->lk;
	size_t n;
	const char *s = text_of(r->d, jsonscan_get(r->d, v, "name"), r->scratch, &n);
	int64_t id;
	if (s)
		sb_append(r->out, s, n);
	else if (reference_id(r->d, v, r->scratch, &id) && lk && lk->name &&
		 (s = lk->name(lk->ctx, type, id)))
		sb_puts(r->out, s);
}

static void append_value(const struct render *r, uint32_t v, enum fieldtext_type type)
{
	enum jsonscan_type t = jsonscan_type(r->d, v);
	if (t == JSONSCAN_NONE || t == JSONSCAN_NULL)
		return;
	if (t == JSONSCAN_ARRAY) {
		append_list(r, v, type == FIELDTEXT_SET ? FIELDTEXT_ENUM : type);
		return;
	}
	switch (type) {
	case FIELDTEXT_ENUM:
	case FIELDTEXT_SET:
		if (t == JSONSCAN_OBJECT) {
			size_t n;
			const char *label = text_of(r->d, jsonscan_get(r->d, v, "label"), r->scratch, &n);
			if (label)
				sb_append(r->out, label, n);
			else
				append_option(r, jsonscan_get(r->d, v, "id"));
		} else if (type == FIELDTEXT_SET && t == JSONSCAN_STRING) {
			size_t n;
			const char *s = string_of(r->d, v, r->scratch, &n);
			if (s)
				append_option_string(r, s, n);
			else
				r->out->failed = true;
		} else {
			append_option(r, v);
		}
		return;
	case FIELDTEXT_USER:
	case FIELDTEXT_ORG:
	case FIELDTEXT_PEOPLE:
		append_reference(r, v, type);
		return;
	default:
		break;
	}
	if (t == JSONSCAN_OBJECT)
		append_object(r, v, type);
	else
		append_plain(r, v, type);
}

void fieldtext_append(struct strbuf *out, const struct jsonscan_doc *d, uint32_t value,
		      enum fieldtext_type type, const struct fieldtext_lookup *lookup,
		      struct arena *scratch)
{
	struct render r = { .out = out, .d = d, .lk = lookup, .scratch = scratch };
	append_value(&r, value, type);
}

void fieldtext_each_reference(const struct jsonscan_doc *d, uint32_t value,
			      enum fieldtext_type type,
			      void (*fn)(void *ctx, enum fieldtext_type type, int64_t id),
			      void *ctx, struct arena *scratch)
{
	if (!fieldtext_is_reference(type) || !value)
		return;
	if (jsonscan_type(d, value) == JSONSCAN_ARRAY) {
		JSONSCAN_FOREACH(d, value, e)
			fieldtext_each_reference(d, e, type, fn, ctx, scratch);
		return;
	}
	int64_t id;
	if (reference_id(d, value, scratch, &id))
		fn(ctx, type, id);
}
