/*
 * field_text.c - custom field text from a card -> v2 JSON value (field_text.h).
 *
 * Job: one parser per invertible field type, each strict about its syntax so
 * that a typo is an error the user sees, never a wrong value in the CRM.
 * Pure.
 */
#include "field_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcard_parse.h"

struct conv {
	const struct person_edit_field *field;
	const char *name;
	struct json_object *original;
	const struct person_edit_resolver *r;
	char *msg;
	size_t msg_len;
};

static int refuse(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct conv *c, const char *fmt, ...)
{
	int n = snprintf(c->msg, c->msg_len, "custom field \"%.60s\": ", c->name);
	if (n < 0 || (size_t)n >= c->msg_len)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg + n, c->msg_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int no_memory(struct conv *c)
{
	snprintf(c->msg, c->msg_len, "out of memory");
	return -ENOMEM;
}

static bool is_type(const struct conv *c, const char *const *types)
{
	for (; *types; types++)
		if (strcmp(c->field->type, *types) == 0)
			return true;
	return false;
}

/* ---- numbers ---- */

/* Length of a JSON number at s (sign, digits, fraction, exponent), 0 if none. */
static size_t number_length(const char *s, size_t n, bool *integral)
{
	size_t i = 0;
	*integral = true;
	if (i < n && s[i] == '-')
		i++;
	size_t digits = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == digits || (s[digits] == '0' && i - digits > 1))
		return 0;
	if (i < n && s[i] == '.') {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return 0;
		*integral = false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == e)
			return 0;
		*integral = false;
	}
	return i;
}

/* s[0..n) must be exactly one number; json-c reads it (no locale). */
static int parse_number(struct conv *c, const char *s, size_t n, bool want_int,
			struct json_object **out)
{
	bool integral;
	if (n == 0 || n > 64 || number_length(s, n, &integral) != n)
		return refuse(c, "\"%.40s\" is not a number (write it like 1234.5)", s);
	if (want_int && !integral)
		return refuse(c, "\"%.40s\" is not a whole number", s);
	char buf[72];
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = json_tokener_parse(buf);
	if (!*out)
		return refuse(c, "\"%.40s\" is not a number", s);
	if (json_object_is_type(*out, json_type_int) && n > 18) {
		/* beyond int64: json-c clamps; refuse rather than change the value */
		char back[32];
		snprintf(back, sizeof back, "%lld", (long long)json_object_get_int64(*out));
		if (strcmp(back, buf) != 0) {
			json_object_put(*out);
			*out = NULL;
			return refuse(c, "%.40s is too large", s);
		}
	}
	return 0;
}

/* ---- dates and times ---- */

static bool digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* "HH:MM" or "HH:MM:SS" -> "HH:MM:SS" in out[9]. */
static bool parse_time(const char *s, size_t n, char out[9])
{
	int h, m, sec = 0;
	if ((n != 5 && n != 8) || s[2] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) ||
	    h > 23 || m > 59)
		return false;
	if (n == 8 && (s[5] != ':' || !digits(s + 6, 2, &sec) || sec > 59))
		return false;
	snprintf(out, 9, "%02d:%02d:%02d", h, m, sec);
	return true;
}

/* Split "a - b" (also en/em dash) into two trimmed halves. */
static bool split_range(const char *s, const char **a, size_t *an, const char **b, size_t *bn)
{
	static const char *const seps[] = { " - ", " \xE2\x80\x93 ", " \xE2\x80\x94 " };
	for (size_t k = 0; k < 3; k++) {
		const char *at = strstr(s, seps[k]);
		if (!at)
			continue;
		*a = s;
		*an = (size_t)(at - s);
		*b = at + strlen(seps[k]);
		*bn = strlen(*b);
		return true;
	}
	return false;
}

static const char *original_string(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int add_string(struct json_object *obj, const char *key, const char *s, size_t n)
{
	struct json_object *v = json_object_new_string_len(s, (int)n);
	if (!v || json_object_object_add(obj, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* {value, until} of two dates or times; timezone_name kept from the original. */
static int parse_range(struct conv *c, const char *text, bool times, struct json_object **out)
{
	const char *a, *b;
	size_t an, bn;
	char ta[9], tb[9];
	if (!split_range(text, &a, &an, &b, &bn)) {
		a = text;
		an = strlen(text);
		b = NULL;
		bn = 0;
	}
	bool ok = times ? parse_time(a, an, ta) && (!b || parse_time(b, bn, tb))
			: card_is_date(a, an) && (!b || card_is_date(b, bn));
	if (!ok)
		return refuse(c, times ? "\"%.60s\" is not a time range (09:00 - 17:00)"
				       : "\"%.60s\" is not a date range (2025-01-01 - 2025-02-01)",
			      text);
	struct json_object *obj = json_object_new_object();
	if (!obj || add_string(obj, "value", times ? ta : a, times ? 8 : an) ||
	    (b ? add_string(obj, "until", times ? tb : b, times ? 8 : bn)
	       : json_object_object_add(obj, "until", NULL))) {
		json_object_put(obj);
		return no_memory(c);
	}
	const char *tz = original_string(c->original, "timezone_name");
	if (times && tz && add_string(obj, "timezone_name", tz, strlen(tz))) {
		json_object_put(obj);
		return no_memory(c);
	}
	*out = obj;
	return 0;
}

static int parse_single_time(struct conv *c, const char *text, struct json_object **out)
{
	char t[9];
	if (!parse_time(text, strlen(text), t))
		return refuse(c, "\"%.60s\" is not a time (09:30 or 09:30:00)", text);
	if (!json_object_is_type(c->original, json_type_object)) {
		*out = json_object_new_string(t);
		return *out ? 0 : no_memory(c);
	}
	struct json_object *obj = json_object_new_object();
	const char *tz = original_string(c->original, "timezone_name");
	if (!obj || add_string(obj, "value", t, 8) ||
	    (tz && add_string(obj, "timezone_name", tz, strlen(tz)))) {
		json_object_put(obj);
		return no_memory(c);
	}
	*out = obj;
	return 0;
}

/* ---- money ---- */

static bool is_currency(const char *s, size_t n)
{
	if (n != 3)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

static int parse_money(struct conv *c, const char *text, struct json_object **out)
{
	const char *space = strchr(text, ' ');
	const char *num = text, *cur = NULL;
	size_t num_n = strlen(text), cur_n = 0;
	if (space) {
		const char *rest = space + 1;
		while (*rest == ' ')
			rest++;
		if (is_currency(rest, strlen(rest))) { /* 8000 EUR */
			num_n = (size_t)(space - text);
			cur = rest;
			cur_n = strlen(rest);
		} else if (is_currency(text, (size_t)(space - text))) { /* EUR 8000 */
			cur = text;
			cur_n = (size_t)(space - text);
			num = rest;
			num_n = strlen(rest);
		} else {
			return refuse(c, "\"%.60s\" is not an amount (8000 EUR)", text);
		}
	}
	char currency[4] = "";
	if (cur) {
		for (size_t i = 0; i < cur_n; i++)
			currency[i] = (char)(cur[i] >= 'a' ? cur[i] - 'a' + 'A' : cur[i]);
		currency[cur_n] = '\0';
	} else {
		const char *was = original_string(c->original, "currency");
		if (!was || strlen(was) >= sizeof currency)
			return refuse(c, "\"%.60s\" has no currency (write 8000 EUR)", text);
		strcpy(currency, was);
	}
	struct json_object *amount = NULL;
	int rc = parse_number(c, num, num_n, false, &amount);
	if (rc)
		return rc;
	struct json_object *obj = json_object_new_object();
	if (!obj || json_object_object_add(obj, "value", amount) ||
	    add_string(obj, "currency", currency, strlen(currency))) {
		json_object_put(obj);
		return no_memory(c);
	}
	*out = obj;
	return 0;
}

/* ---- options ---- */

static int option(struct conv *c, const char *label, size_t n, int64_t *id)
{
	char buf[256];
	if (n >= sizeof buf || !c->r || !c->r->option_id)
		return -ENOENT;
	memcpy(buf, label, n);
	buf[n] = '\0';
	return c->r->option_id(c->r->ctx, c->field->key, buf, id);
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int parse_enum(struct conv *c, const char *text, struct json_object **out)
{
	int64_t id;
	int rc = option(c, text, strlen(text), &id);
	if (rc == -EEXIST)
		return refuse(c, "two options are called \"%.60s\"; edit the .json instead", text);
	if (rc)
		return refuse(c, "no option \"%.60s\" (use one of the field's option labels)", text);
	*out = json_object_new_int64(id);
	return *out ? 0 : no_memory(c);
}

/*
 * "A, B, C": the longest run of comma-separated pieces that is an option
 * label is taken first, so labels that hold commas ("Referral, partner")
 * still match.
 */
static int parse_set(struct conv *c, const char *text, struct json_object **out)
{
	struct json_object *ids = json_object_new_array();
	if (!ids)
		return no_memory(c);
	size_t n = strlen(text), start = 0;
	while (start < n) {
		size_t end = n;
		int64_t id = 0;
		int rc = -ENOENT;
		while (end > start) {
			const char *s = text + start;
			size_t len = end - start;
			trim(&s, &len);
			if (len && (rc = option(c, s, len, &id)) != -ENOENT)
				break;
			while (end > start && text[--end] != ',')
				;
		}
		if (rc) {
			json_object_put(ids);
			const char *s = text + start;
			size_t len = strcspn(s, ",");
			trim(&s, &len);
			return refuse(c, rc == -EEXIST ? "two options are called \"%.*s\"; edit the .json"
						       : "no option \"%.*s\" (use the field's option labels, "
							 "separated by commas)",
				      (int)(len > 60 ? 60 : len), s);
		}
		struct json_object *v = json_object_new_int64(id);
		if (!v || json_object_array_add(ids, v)) {
			json_object_put(v);
			json_object_put(ids);
			return no_memory(c);
		}
		start = end + 1;
	}
	*out = ids;
	return 0;
}

/* ---- the dispatcher ---- */

static int parse_boolean(struct conv *c, const char *text, struct json_object **out)
{
	size_t n = strlen(text);
	bool yes = vcard_word_is(text, n, "yes") || vcard_word_is(text, n, "true");
	bool no = vcard_word_is(text, n, "no") || vcard_word_is(text, n, "false");
	if (!yes && !no)
		return refuse(c, "\"%.60s\" is not yes or no", text);
	*out = json_object_new_boolean(yes);
	return *out ? 0 : no_memory(c);
}

int field_text_parse(const struct person_edit_field *field, const char *name, const char *text,
		     struct json_object *original, const struct person_edit_resolver *r,
		     struct json_object **value, char *msg, size_t msg_len)
{
	static const char *const text_types[] = { "varchar", "varchar_auto", "varchar_options",
						  "text", "phone", "autocomplete", NULL };
	struct conv c = { field, name, original, r, msg, msg_len };
	*value = NULL;
	if (!*text)
		return 0; /* an emptied field is cleared */
	const char *t = field->type;
	if (is_type(&c, text_types)) {
		*value = json_object_new_string(text);
		return *value ? 0 : no_memory(&c);
	}
	if (strcmp(t, "int") == 0 || strcmp(t, "double") == 0)
		return parse_number(&c, text, strlen(text), strcmp(t, "int") == 0, value);
	if (strcmp(t, "boolean") == 0)
		return parse_boolean(&c, text, value);
	if (strcmp(t, "date") == 0) {
		if (!card_is_date(text, strlen(text)))
			return refuse(&c, "\"%.60s\" is not a date (YYYY-MM-DD)", text);
		*value = json_object_new_string(text);
		return *value ? 0 : no_memory(&c);
	}
	if (strcmp(t, "enum") == 0)
		return parse_enum(&c, text, value);
	if (strcmp(t, "set") == 0)
		return parse_set(&c, text, value);
	if (strcmp(t, "monetary") == 0)
		return parse_money(&c, text, value);
	if (strcmp(t, "daterange") == 0)
		return parse_range(&c, text, false, value);
	if (strcmp(t, "timerange") == 0)
		return parse_range(&c, text, true, value);
	if (strcmp(t, "time") == 0)
		return parse_single_time(&c, text, value);
	return refuse(&c, "a %.20s field cannot be changed in the vCard (its text is not its value); "
			  "edit the .json instead",
		      t);
}

/* ------------------------------------------------------------------------ */
/* Comparing the fields of two cards                                        */
/* ------------------------------------------------------------------------ */

struct labelled {
	const char *label, *value;
	size_t index;
};

static int compare_labelled(const void *a, const void *b)
{
	const struct labelled *x = a, *y = b;
	int r = strcmp(x->label, y->label);
	return r ? r : (x->index > y->index) - (x->index < y->index);
}

static struct labelled *sorted_fields(const struct card_model *m)
{
	struct labelled *v = malloc((m->n_fields + 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->n_fields; i++)
		v[i] = (struct labelled){ m->fields[i].label, m->fields[i].value, i };
	qsort(v, m->n_fields, sizeof *v, compare_labelled);
	return v;
}

/* Entries [from, to) of v that carry the same label as v[from]. */
static size_t run_end(const struct labelled *v, size_t n, size_t from)
{
	size_t to = from + 1;
	while (to < n && strcmp(v[to].label, v[from].label) == 0)
		to++;
	return to;
}

static int map_one_field(const char *label, const char *text, struct json_object *custom_fields,
			 const struct person_edit_resolver *r, struct json_object *changed,
			 char *msg, size_t msg_len)
{
	struct person_edit_field f = { .key = "", .type = "" };
	int rc = r && r->custom_field ? r->custom_field(r->ctx, label, &f) : -ENOENT;
	if (rc == -EEXIST) {
		snprintf(msg, msg_len, "two custom fields are named \"%.60s\"; edit the .json instead",
			 label);
		return -EINVAL;
	}
	if (rc) {
		snprintf(msg, msg_len, "no custom field named \"%.60s\" in Pipedrive (the X-ABLabel of "
				       "an X-PIPEDRIVE-FIELD must be a field's name)", label);
		return -EINVAL;
	}
	struct json_object *original = NULL, *value = NULL;
	if (json_object_is_type(custom_fields, json_type_object))
		json_object_object_get_ex(custom_fields, f.key, &original);
	rc = field_text_parse(&f, label, text, original, r, &value, msg, msg_len);
	if (rc)
		return rc;
	if (json_object_object_add(changed, f.key, value)) {
		json_object_put(value);
		snprintf(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int field_text_diff(const struct card_model *old, const struct card_model *now,
		    struct json_object *custom_fields, const struct person_edit_resolver *r,
		    struct json_object **changed, char *msg, size_t msg_len)
{
	static const struct card_model empty = { 0 };
	const struct card_model *o = old ? old : &empty;
	struct labelled *a = sorted_fields(o), *b = sorted_fields(now);
	struct json_object *out = json_object_new_object();
	int rc = a && b && out ? 0 : -ENOMEM;
	if (rc)
		snprintf(msg, msg_len, "out of memory");
	size_t i = 0, j = 0;
	while (rc == 0 && (i < o->n_fields || j < now->n_fields)) {
		int order = i == o->n_fields	 ? 1
			    : j == now->n_fields ? -1
						 : strcmp(a[i].label, b[j].label);
		const char *label = order <= 0 ? a[i].label : b[j].label;
		size_t ie = order <= 0 ? run_end(a, o->n_fields, i) : i;
		size_t je = order >= 0 ? run_end(b, now->n_fields, j) : j;
		bool same = ie - i == je - j;
		for (size_t k = 0; same && k < ie - i; k++)
			same = strcmp(a[i + k].value, b[j + k].value) == 0;
		if (!same && (ie - i > 1 || je - j > 1)) {
			snprintf(msg, msg_len, "the card has several custom fields named \"%.60s\"; "
					       "edit the .json instead", label);
			rc = -EINVAL;
		} else if (!same) {
			const char *text = je > j ? b[j].value : "";
			if (old || *text)
				rc = map_one_field(label, text, custom_fields, r, out, msg, msg_len);
		}
		i = ie;
		j = je;
	}
	free(a);
	free(b);
	if (rc) {
		json_object_put(out);
		return rc;
	}
	*changed = out;
	return 0;
}
