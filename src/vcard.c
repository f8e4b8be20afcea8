/*
 * vcard.c - render one Pipedrive person (a json-c object) as a vCard 3.0/4.0.
 *
 * Job: turn whatever the API sent into exactly one valid card: UTF-8 only,
 * CRLF after every line, every content line folded at 75 octets without
 * splitting a character or a "\x" escape, FN never empty, TEXT values
 * escaped, URI values percent-encoded.  Mapping and line order follow
 * shared/reference/vcard.md sections 1.2-1.9.
 *
 * Pure: no I/O, no globals, no locale.  All memory comes from struct strbuf;
 * a failed allocation is sticky and checked once at the end of vcard_render().
 */
#include "vcard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "utf8.h"

#define PRODID "-//pipedrivefs//pipedrivefs//EN"

#define FOLD_FIRST_MAX 75 /* bytes on the first physical line */
#define FOLD_CONT_MAX 74  /* bytes after the SPACE of a continuation line */

/*
 * Namespace of every UID this program emits.  NEVER CHANGE IT: address books
 * key cards on the UID, so another namespace would duplicate every contact of
 * every user.  It is uuid5(NAMESPACE_URL, "https://pipedrivefs.invalid/vcard/uid")
 * = 1bfde081-d68a-5d42-9318-0bbdd3e3b7c1.
 */
static const unsigned char uid_namespace[16] = {
	0x1b, 0xfd, 0xe0, 0x81, 0xd6, 0x8a, 0x5d, 0x42,
	0x93, 0x18, 0x0b, 0xbd, 0xd3, 0xe3, 0xb7, 0xc1,
};

static void mark_failed(struct strbuf *sb)
{
	sb->failed = true;
}

/* ------------------------------------------------------------------------ */
/* Text cleaning and escaping                                               */
/* ------------------------------------------------------------------------ */

/* Bytes trimmed from both ends: ASCII white space and the controls that
 * would be dropped anyway. */
static bool is_trimmable(unsigned char c)
{
	return c <= 0x20 || c == 0x7F;
}

/* Append well-formed UTF-8 s[0..n) trimmed, with controls dropped and line
 * breaks / TAB mapped as `mode` says.  Not escaped. */
static void clean_valid_text(struct strbuf *dst, const char *s, size_t n,
			     enum vcard_text_mode mode)
{
	bool multi = mode == VCARD_TEXT_MULTI_LINE;
	size_t begin = 0, end = n;
	while (begin < end && is_trimmable((unsigned char)s[begin]))
		begin++;
	while (end > begin && is_trimmable((unsigned char)s[end - 1]))
		end--;
	if (begin == end)
		return;

	size_t run = begin;
	for (size_t i = begin; i < end; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != 0x7F)
			continue;
		sb_append(dst, s + run, i - run);
		if (c == '\r' || c == '\n') {
			sb_putc(dst, multi ? '\n' : ' ');
			if (c == '\r' && i + 1 < end && s[i + 1] == '\n')
				i++;
		} else if (c == '\t') {
			sb_putc(dst, multi ? '\t' : ' ');
		}
		run = i + 1;
	}
	sb_append(dst, s + run, end - run);
}

/* Append s[0..n) cleaned (see vcard_escape_text) but not escaped. */
static void clean_text(struct strbuf *dst, const char *s, size_t n,
		       enum vcard_text_mode mode)
{
	if (n == 0)
		return;
	if (utf8_valid_prefix(s, n) == n) {
		clean_valid_text(dst, s, n, mode);
		return;
	}
	struct strbuf valid = STRBUF_INIT;
	utf8_sanitize(&valid, s, n);
	if (sb_failed(&valid))
		mark_failed(dst);
	else
		clean_valid_text(dst, valid.data, valid.len, mode);
	sb_free(&valid);
}

/* Append cleaned text with \ , ; and newline escaped. */
static void escape_clean_text(struct strbuf *dst, const char *s, size_t n)
{
	if (n == 0)
		return;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *escaped;
		switch (s[i]) {
		case '\\': escaped = "\\\\"; break;
		case ',': escaped = "\\,"; break;
		case ';': escaped = "\\;"; break;
		case '\n': escaped = "\\n"; break;
		default: continue;
		}
		sb_append(dst, s + run, i - run);
		sb_append(dst, escaped, 2);
		run = i + 1;
	}
	sb_append(dst, s + run, n - run);
}

void vcard_escape_text(struct strbuf *out, const char *s, size_t n,
		       enum vcard_text_mode mode)
{
	struct strbuf clean = STRBUF_INIT;
	clean_text(&clean, s, n, mode);
	if (sb_failed(&clean))
		mark_failed(out);
	else
		escape_clean_text(out, clean.data, clean.len);
	sb_free(&clean);
}

static bool is_uri_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c != 0 && strchr("@+.-_~", c));
}

/* Append s[0..n) with every byte that is neither unreserved nor in
 * `also_keep` written as %XX. */
static void append_percent_encoded(struct strbuf *dst, const char *s, size_t n,
				   const char *also_keep)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_uri_unreserved(c) || (c != 0 && strchr(also_keep, c))) {
			sb_putc(dst, (char)c);
		} else {
			char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_append(dst, enc, sizeof enc);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Folding                                                                  */
/* ------------------------------------------------------------------------ */

/* Length of the unit at line[i] that must stay on one physical line: a "\x"
 * escape pair, one UTF-8 sequence, or a single stray byte. */
static size_t fold_unit_len(const char *line, size_t len, size_t i)
{
	if (line[i] == '\\' && i + 1 < len && (unsigned char)line[i + 1] < 0x80)
		return 2;
	uint32_t cp;
	size_t k = utf8_decode(line + i, len - i, &cp);
	return k ? k : 1;
}

void vcard_fold_line(struct strbuf *out, const char *line, size_t len)
{
	if (len == 0) {
		sb_append(out, "\r\n", 2);
		return;
	}
	if (len < SIZE_MAX / 2)
		sb_reserve(out, len + len / 70 * 3 + 2);

	size_t start = 0, max = FOLD_FIRST_MAX;
	for (size_t i = 0; i < len;) {
		size_t unit = fold_unit_len(line, len, i);
		if (i + unit - start > max) {
			sb_append(out, line + start, i - start);
			sb_append(out, "\r\n ", 3);
			start = i;
			max = FOLD_CONT_MAX;
		}
		i += unit;
	}
	sb_append(out, line + start, len - start);
	sb_append(out, "\r\n", 2);
}

/* ------------------------------------------------------------------------ */
/* UUID version 5                                                           */
/* ------------------------------------------------------------------------ */

void vcard_uuid5_ns(const unsigned char ns[16], const char *name, size_t n,
		    char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[SHA1_DIGEST_LEN];
	struct sha1_ctx ctx;
	sha1_init(&ctx);
	sha1_update(&ctx, ns, 16);
	sha1_update(&ctx, name, n);
	sha1_final(&ctx, digest);
	digest[6] = (unsigned char)((digest[6] & 0x0F) | 0x50); /* version 5 */
	digest[8] = (unsigned char)((digest[8] & 0x3F) | 0x80); /* RFC 4122 variant */

	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[digest[i] >> 4];
		buf[o++] = hex[digest[i] & 15];
	}
	buf[o] = '\0';
}

void vcard_uuid5(const char *name, char buf[37])
{
	vcard_uuid5_ns(uid_namespace, name, strlen(name), buf);
}

/* ------------------------------------------------------------------------ */
/* JSON access that tolerates every wrong type                              */
/* ------------------------------------------------------------------------ */

static struct json_object *field(const struct json_object *obj, const char *key)
{
	struct json_object *value = NULL;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &value))
		return NULL;
	return value;
}

/* The bytes of a JSON string (which may hold NULs), or NULL if v is not one. */
static const char *string_value(struct json_object *v, size_t *len)
{
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static const char *field_string(const struct json_object *obj, const char *key,
				size_t *len)
{
	return string_value(field(obj, key), len);
}

/* True if v is a JSON integer that fits int64_t exactly. */
static bool exact_int64(const struct json_object *v, int64_t *out)
{
	if (!json_object_is_type(v, json_type_int))
		return false;
	int64_t i = json_object_get_int64(v);
	if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
		return false; /* a uint64 beyond int64: json-c clamped it */
	*out = i;
	return true;
}

#define MAX_NUMERIC_ID_DIGITS 18 /* fits int64_t */

bool vcard_id_of(struct json_object *v, struct vcard_id *out)
{
	memset(out, 0, sizeof(*out));
	if (exact_int64(v, &out->num)) {
		out->numeric = true;
		return true;
	}
	size_t n;
	const char *s = string_value(v, &n);
	if (!s || n == 0)
		return false;
	bool canonical = n <= MAX_NUMERIC_ID_DIGITS && (s[0] != '0' || n == 1);
	int64_t num = 0;
	for (size_t i = 0; i < n && canonical; i++) {
		if (s[i] < '0' || s[i] > '9')
			canonical = false;
		else
			num = num * 10 + (s[i] - '0');
	}
	if (canonical) {
		out->numeric = true;
		out->num = num;
	} else {
		out->text = s;
		out->len = n;
	}
	return true;
}

static bool field_is_true(const struct json_object *obj, const char *key)
{
	struct json_object *v = field(obj, key);
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) comparison of s[0..n) with the string `word`. */
static bool equals_ignoring_case(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower(word[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Spans of cleaned text kept in one pool                                   */
/* ------------------------------------------------------------------------ */

struct span {
	size_t off, len;
};

static struct span clean_into_pool(struct strbuf *pool, const char *s, size_t n,
				   enum vcard_text_mode mode)
{
	struct span sp = { pool->len, 0 };
	if (s)
		clean_text(pool, s, n, mode);
	sp.len = pool->len - sp.off;
	return sp;
}

static struct span clean_field_into_pool(struct strbuf *pool,
					 const struct json_object *obj,
					 const char *key, enum vcard_text_mode mode)
{
	size_t n = 0;
	const char *s = field_string(obj, key, &n);
	return clean_into_pool(pool, s, n, mode);
}

static const char *span_text(const struct strbuf *pool, struct span sp)
{
	return sp.len ? pool->data + sp.off : "";
}

/* ------------------------------------------------------------------------ */
/* The card being built                                                     */
/* ------------------------------------------------------------------------ */

struct card {
	const struct vcard_options *opt;
	const struct json_object *person;
	bool v4;
	int64_t id;
	struct strbuf *out;
	struct strbuf line;   /* the logical line being built */
	struct strbuf pool;   /* cleaned single values (struct span) */
	unsigned item_no;     /* last itemN group number used */
	bool oom;             /* a scratch buffer failed */
};

static void line_begin(struct card *c, const char *text)
{
	sb_truncate(&c->line, 0);
	sb_puts(&c->line, text);
}

static void line_finish(struct card *c)
{
	vcard_fold_line(c->out, c->line.data, c->line.len);
	sb_truncate(&c->line, 0);
}

static void put_fixed_line(struct card *c, const char *text)
{
	line_begin(c, text);
	line_finish(c);
}

/* NAME:<escaped text>, nothing if the cleaned text is empty. */
static void put_text_property(struct card *c, const char *name, struct span text)
{
	if (text.len == 0)
		return;
	line_begin(c, name);
	sb_putc(&c->line, ':');
	escape_clean_text(&c->line, span_text(&c->pool, text), text.len);
	line_finish(c);
}

static void put_int_property(struct card *c, const char *name, int64_t value)
{
	line_begin(c, name);
	sb_printf(&c->line, ":%" PRId64, value);
	line_finish(c);
}

/* Free a scratch buffer, remembering whether it ran out of memory. */
static void release_scratch(struct card *c, struct strbuf *sb)
{
	if (sb_failed(sb))
		c->oom = true;
	sb_free(sb);
}

/* ------------------------------------------------------------------------ */
/* emails[], phones[], im[]: ordered, de-duplicated entry lists             */
/* ------------------------------------------------------------------------ */

struct list_entry {
	struct span value, label; /* cleaned, in contact_list.text */
	const char *value_ptr;    /* set once text stops growing (sorting) */
	size_t index;             /* position in the JSON array */
	bool primary;
	bool duplicate;
};

struct contact_list {
	struct strbuf entries; /* struct list_entry[count] */
	struct strbuf text;
	size_t count;
};

static struct list_entry *list_entries(const struct contact_list *l)
{
	return (struct list_entry *)(void *)l->entries.data;
}

/* An element is {value, primary, label} or, tolerated, a bare string. */
static void collect_entry(struct contact_list *l, struct json_object *item,
			  size_t index)
{
	struct list_entry e = { .index = index };
	size_t n = 0;
	const char *value = string_value(item, &n);
	if (!value) {
		value = field_string(item, "value", &n);
		e.primary = field_is_true(item, "primary");
	}
	e.value = clean_into_pool(&l->text, value, n, VCARD_TEXT_SINGLE_LINE);
	if (e.value.len == 0)
		return;
	e.label = clean_field_into_pool(&l->text, item, "label",
					VCARD_TEXT_SINGLE_LINE);
	sb_append(&l->entries, &e, sizeof e);
	if (!sb_failed(&l->entries))
		l->count++;
}

/* Primary entries first, otherwise the order of the JSON array. */
static int compare_emit_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	if (x->primary != y->primary)
		return x->primary ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static int compare_value_then_emit_order(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	size_t common = x->value.len < y->value.len ? x->value.len : y->value.len;
	int r = memcmp(x->value_ptr, y->value_ptr, common);
	if (r)
		return r;
	if (x->value.len != y->value.len)
		return x->value.len < y->value.len ? -1 : 1;
	return compare_emit_order(a, b);
}

/* Flag every entry whose value equals an earlier one in emit order
 * (sorting: O(n log n), so a huge array stays cheap). */
static void flag_duplicates(struct contact_list *l)
{
	struct list_entry *e = list_entries(l);
	for (size_t i = 0; i < l->count; i++)
		e[i].value_ptr = l->text.data + e[i].value.off;
	qsort(e, l->count, sizeof *e, compare_value_then_emit_order);
	for (size_t i = 1; i < l->count; i++)
		e[i].duplicate = e[i].value.len == e[i - 1].value.len &&
				 memcmp(e[i].value_ptr, e[i - 1].value_ptr,
					e[i].value.len) == 0;
}

enum duplicates { KEEP_DUPLICATES, DROP_DUPLICATES };

static void collect_list(struct contact_list *l, const struct json_object *person,
			 const char *key, enum duplicates duplicates)
{
	struct json_object *array = field(person, key);
	sb_init(&l->entries);
	sb_init(&l->text);
	l->count = 0;
	if (!json_object_is_type(array, json_type_array))
		return;
	size_t n = json_object_array_length(array);
	for (size_t i = 0; i < n; i++)
		collect_entry(l, json_object_array_get_idx(array, i), i);
	if (l->count < 2)
		return;
	if (duplicates == DROP_DUPLICATES)
		flag_duplicates(l);
	qsort(list_entries(l), l->count, sizeof(struct list_entry), compare_emit_order);
}

/* The value FN falls back to: the first entry in emit order, i.e. the
 * primary one, else the first non-empty one. */
static bool list_first_value(const struct contact_list *l, const char **s, size_t *n)
{
	if (l->count == 0)
		return false;
	struct list_entry *first = &list_entries(l)[0];
	*s = l->text.data + first->value.off;
	*n = first->value.len;
	return true;
}

static void release_list(struct card *c, struct contact_list *l)
{
	release_scratch(c, &l->entries);
	release_scratch(c, &l->text);
}

/* ---- EMAIL and TEL ---- */

struct label_params {
	const char *label; /* lower-case Pipedrive label; NULL = custom label */
	const char *v30, *v40;
};

struct list_style {
	const char *property;
	const struct label_params *known;
	size_t n_known;
	struct label_params custom; /* parameters for itemN.<property> */
};

static const struct label_params email_labels[] = {
	{ "work", ";TYPE=INTERNET;TYPE=WORK", ";TYPE=work" },
	{ "home", ";TYPE=INTERNET;TYPE=HOME", ";TYPE=home" },
	{ "other", ";TYPE=INTERNET", "" },
	{ "", ";TYPE=INTERNET", "" },
};

static const struct label_params phone_labels[] = {
	{ "work", ";TYPE=WORK;TYPE=VOICE", ";TYPE=work" },
	{ "home", ";TYPE=HOME;TYPE=VOICE", ";TYPE=home" },
	{ "mobile", ";TYPE=CELL;TYPE=VOICE", ";TYPE=cell" },
	{ "other", ";TYPE=VOICE", ";TYPE=voice" },
	{ "", ";TYPE=VOICE", ";TYPE=voice" },
};

static const struct list_style email_style = {
	"EMAIL", email_labels, sizeof email_labels / sizeof email_labels[0],
	{ NULL, ";TYPE=INTERNET", "" },
};

static const struct list_style phone_style = {
	"TEL", phone_labels, sizeof phone_labels / sizeof phone_labels[0],
	{ NULL, ";TYPE=VOICE", ";TYPE=voice" },
};

static const struct label_params *find_label_params(const struct list_style *style,
						    const char *label, size_t n)
{
	for (size_t i = 0; i < style->n_known; i++)
		if (equals_ignoring_case(label, n, style->known[i].label))
			return &style->known[i];
	return NULL;
}

static void put_pref(struct card *c)
{
	sb_puts(&c->line, c->v4 ? ";PREF=1" : ";TYPE=PREF");
}

/* itemN.X-ABLabel:<label>, Apple's way to carry a custom label. */
static void put_ablabel(struct card *c, const char *label, size_t n)
{
	line_begin(c, "");
	sb_printf(&c->line, "item%u.X-ABLabel:", c->item_no);
	escape_clean_text(&c->line, label, n);
	line_finish(c);
}

static void put_contact_list(struct card *c, const struct contact_list *l,
			     const struct list_style *style)
{
	bool pref_given = false;
	for (size_t i = 0; i < l->count; i++) {
		const struct list_entry *e = &list_entries(l)[i];
		if (e->duplicate)
			continue;
		const char *label = span_text(&l->text, e->label);
		const struct label_params *params =
			find_label_params(style, label, e->label.len);
		line_begin(c, "");
		if (!params) {
			params = &style->custom;
			sb_printf(&c->line, "item%u.", ++c->item_no);
		}
		sb_puts(&c->line, style->property);
		sb_puts(&c->line, c->v4 ? params->v40 : params->v30);
		if (e->primary && !pref_given) {
			put_pref(c);
			pref_given = true;
		}
		sb_putc(&c->line, ':');
		escape_clean_text(&c->line, span_text(&l->text, e->value), e->value.len);
		line_finish(c);
		if (params == &style->custom)
			put_ablabel(c, label, e->label.len);
	}
}

/* ---- IMPP ---- */

struct im_service {
	const char *label;       /* lower-case Pipedrive label */
	const char *service30;   /* X-SERVICE-TYPE in 3.0 */
	const char *service40;   /* X-SERVICE-TYPE in 4.0, NULL = none */
	const char *scheme;      /* URI scheme of the IMPP value */
	const char *x_property;  /* 3.0 duplicate that Evolution reads */
};

static const struct im_service im_services[] = {
	{ "skype", "Skype", "Skype", "skype", "X-SKYPE" },
	{ "jabber", "Jabber", NULL, "xmpp", "X-JABBER" },
	{ "xmpp", "Jabber", NULL, "xmpp", "X-JABBER" },
	{ "google", "Jabber", NULL, "xmpp", "X-GOOGLE-TALK" },
	{ "aim", "AIM", "AIM", "aim", "X-AIM" },
	{ "icq", "ICQ", "ICQ", "aim", "X-ICQ" }, /* Apple writes ICQ as aim: */
	{ "msn", "MSN", "MSN", "msnim", "X-MSN" },
	{ "yahoo", "Yahoo", "Yahoo", "ymsgr", "X-YAHOO" },
	{ "sip", "SIP", "SIP", "sip", "X-SIP" },
	{ "matrix", "Matrix", "Matrix", "matrix", "X-MATRIX" },
};

static const struct im_service *find_im_service(const char *label, size_t n)
{
	for (size_t i = 0; i < sizeof im_services / sizeof im_services[0]; i++)
		if (equals_ignoring_case(label, n, im_services[i].label))
			return &im_services[i];
	return NULL;
}

/* A custom label as a parameter value: DQUOTE is not allowed at all, and the
 * value is quoted if it holds , ; or : (RFC 2426 / 6350 param-value). */
static void put_param_value(struct strbuf *line, const char *s, size_t n)
{
	bool needs_quotes = false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == ';' || s[i] == ':')
			needs_quotes = true;
	if (needs_quotes)
		sb_putc(line, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		sb_append(line, s + run, i - run);
		run = i + 1;
	}
	sb_append(line, s + run, n - run);
	if (needs_quotes)
		sb_putc(line, '"');
}

static void put_im_entry(struct card *c, const struct contact_list *l,
			 const struct list_entry *e, bool pref)
{
	const char *label = span_text(&l->text, e->label);
	const char *value = span_text(&l->text, e->value);
	const struct im_service *svc = find_im_service(label, e->label.len);

	line_begin(c, "IMPP");
	if (svc) {
		const char *type = c->v4 ? svc->service40 : svc->service30;
		if (type)
			sb_printf(&c->line, ";X-SERVICE-TYPE=%s", type);
	} else if (e->label.len) {
		sb_puts(&c->line, ";X-SERVICE-TYPE=");
		put_param_value(&c->line, label, e->label.len);
	}
	if (pref)
		put_pref(c);
	sb_putc(&c->line, ':');
	sb_puts(&c->line, svc ? svc->scheme : "x-apple");
	sb_putc(&c->line, ':');
	append_percent_encoded(&c->line, value, e->value.len, "");
	line_finish(c);

	if (svc && !c->v4) {
		line_begin(c, svc->x_property);
		sb_putc(&c->line, ':');
		escape_clean_text(&c->line, value, e->value.len);
		line_finish(c);
	}
}

static void put_im_list(struct card *c, const struct contact_list *l)
{
	bool pref_given = false;
	for (size_t i = 0; i < l->count; i++) {
		const struct list_entry *e = &list_entries(l)[i];
		if (e->duplicate)
			continue;
		bool pref = e->primary && !pref_given;
		pref_given = pref_given || pref;
		put_im_entry(c, l, e, pref);
	}
}

/* ------------------------------------------------------------------------ */
/* Dates and times                                                          */
/* ------------------------------------------------------------------------ */

struct date_time {
	int year, month, day, hour, minute, second;
};

static bool parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Exactly "YYYY-MM-DD" with a real calendar date, year 0001-9999. */
static bool parse_date(const char *s, size_t n, struct date_time *dt)
{
	if (n != 10 || s[4] != '-' || s[7] != '-' ||
	    !parse_digits(s, 4, &dt->year) || !parse_digits(s + 5, 2, &dt->month) ||
	    !parse_digits(s + 8, 2, &dt->day))
		return false;
	return dt->year >= 1 && dt->month >= 1 && dt->month <= 12 &&
	       dt->day >= 1 && dt->day <= days_in_month(dt->year, dt->month);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct date_time *dt)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	dt->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	dt->month = (int)month;
	dt->year = (int)(yoe + era * 400 + (month <= 2));
}

/* The "Z" / "+HH:MM" / "-HH:MM" suffix as seconds east of UTC. */
static bool parse_utc_offset(const char *s, size_t n, int *offset)
{
	int hh, mm;
	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*offset = 0;
		return true;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
	    !parse_digits(s + 1, 2, &hh) || !parse_digits(s + 4, 2, &mm) ||
	    hh > 23 || mm > 59)
		return false;
	*offset = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return true;
}

/*
 * RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" normalised to UTC
 * (fraction dropped).  Also the v1 API form "YYYY-MM-DD HH:MM:SS", which
 * Pipedrive documents as UTC.
 */
static bool parse_timestamp_utc(const char *s, size_t n, struct date_time *dt)
{
	if (n < 19 || !parse_date(s, 10, dt) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':' || !parse_digits(s + 11, 2, &dt->hour) ||
	    !parse_digits(s + 14, 2, &dt->minute) || !parse_digits(s + 17, 2, &dt->second) ||
	    dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return false;

	size_t i = 19;
	if (i < n && s[i] == '.') {
		size_t digits_start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == digits_start)
			return false;
	}
	int offset = 0;
	bool v1_form = i == 19 && n == 19 && s[10] == ' ';
	if (!v1_form && !parse_utc_offset(s + i, n - i, &offset))
		return false;

	int64_t secs = days_from_civil(dt->year, dt->month, dt->day) * 86400 +
		       dt->hour * 3600 + dt->minute * 60 + dt->second - offset;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	civil_from_days(days, dt);
	dt->hour = (int)(rem / 3600);
	dt->minute = (int)(rem / 60 % 60);
	dt->second = (int)(rem % 60);
	return dt->year >= 1 && dt->year <= 9999;
}

static void put_birthday(struct card *c)
{
	size_t n = 0;
	const char *s = field_string(c->person, "birthday", &n);
	struct date_time dt;
	if (!s || !parse_date(s, n, &dt))
		return;
	line_begin(c, "");
	sb_printf(&c->line, c->v4 ? "BDAY:%04d%02d%02d" : "BDAY:%04d-%02d-%02d",
		  dt.year, dt.month, dt.day);
	line_finish(c);
}

static void put_revision(struct card *c)
{
	size_t n = 0;
	const char *s = field_string(c->person, "update_time", &n);
	struct date_time dt;
	if (!s || !parse_timestamp_utc(s, n, &dt))
		return;
	line_begin(c, "");
	sb_printf(&c->line, "REV:%04d%02d%02dT%02d%02d%02dZ", dt.year, dt.month,
		  dt.day, dt.hour, dt.minute, dt.second);
	line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */
/* ------------------------------------------------------------------------ */

struct person_names {
	struct span name, first, last;
};

static void put_formatted_name(struct card *c, const struct person_names *nm,
			       const struct contact_list *emails,
			       const struct contact_list *phones)
{
	const char *s;
	size_t n;
	line_begin(c, "FN:");
	if (nm->name.len) {
		escape_clean_text(&c->line, span_text(&c->pool, nm->name), nm->name.len);
	} else if (nm->first.len || nm->last.len) {
		escape_clean_text(&c->line, span_text(&c->pool, nm->first), nm->first.len);
		if (nm->first.len && nm->last.len)
			sb_putc(&c->line, ' ');
		escape_clean_text(&c->line, span_text(&c->pool, nm->last), nm->last.len);
	} else if (list_first_value(emails, &s, &n) || list_first_value(phones, &s, &n)) {
		escape_clean_text(&c->line, s, n);
	} else {
		sb_printf(&c->line, "Pipedrive person %" PRId64, c->id);
	}
	line_finish(c);
}

static void put_structured_name(struct card *c, const struct person_names *nm)
{
	line_begin(c, "N:");
	if (!nm->first.len && !nm->last.len) {
		escape_clean_text(&c->line, span_text(&c->pool, nm->name), nm->name.len);
		sb_puts(&c->line, ";;;;");
	} else {
		escape_clean_text(&c->line, span_text(&c->pool, nm->last), nm->last.len);
		sb_putc(&c->line, ';');
		escape_clean_text(&c->line, span_text(&c->pool, nm->first), nm->first.len);
		sb_puts(&c->line, ";;;");
	}
	line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* ADR                                                                      */
/* ------------------------------------------------------------------------ */

/* Countries that write the house number after the street name, as ISO
 * 3166 alpha-2 / alpha-3 codes, English and local names. */
static const char *const number_after_route_countries[] = {
	"DE", "DEU", "Germany", "Deutschland",
	"NL", "NLD", "Netherlands", "The Netherlands", "Nederland",
	"AT", "AUT", "Austria", "\xC3\x96sterreich",
	"CH", "CHE", "Switzerland", "Schweiz", "Suisse", "Svizzera",
	"IT", "ITA", "Italy", "Italia",
	"ES", "ESP", "Spain", "Espa\303\261a",
	"PL", "POL", "Poland", "Polska",
	"SE", "SWE", "Sweden", "Sverige",
	"NO", "NOR", "Norway", "Norge",
	"DK", "DNK", "Denmark", "Danmark",
	"FI", "FIN", "Finland", "Suomi",
	"BR", "BRA", "Brazil", "Brasil",
	"MX", "MEX", "Mexico", "M\xC3\xA9xico",
	"AR", "ARG", "Argentina",
};

static bool writes_number_after_route(const char *country, size_t n)
{
	size_t count = sizeof number_after_route_countries /
		       sizeof number_after_route_countries[0];
	for (size_t i = 0; i < count; i++)
		if (equals_ignoring_case(country, n, number_after_route_countries[i]))
			return true;
	return false;
}

struct address {
	struct span number, route, subpremise, locality, region, postal_code,
		country, value;
};

static void put_pool_escaped(struct card *c, struct span sp)
{
	escape_clean_text(&c->line, span_text(&c->pool, sp), sp.len);
}

/* The street component: "number route" (or "route number"), ", subpremise". */
static void put_street(struct card *c, const struct address *a)
{
	const char *country = span_text(&c->pool, a->country);
	bool route_first = writes_number_after_route(country, a->country.len);
	struct span first = route_first ? a->route : a->number;
	struct span second = route_first ? a->number : a->route;
	put_pool_escaped(c, first);
	if (first.len && second.len)
		sb_putc(&c->line, ' ');
	put_pool_escaped(c, second);
	if ((first.len || second.len) && a->subpremise.len)
		sb_puts(&c->line, "\\, ");
	put_pool_escaped(c, a->subpremise);
}

static void collect_address(struct card *c, struct address *a)
{
	struct json_object *pa = field(c->person, "postal_address");
	const enum vcard_text_mode single = VCARD_TEXT_SINGLE_LINE;
	size_t n = 0;
	const char *whole = string_value(pa, &n); /* v1 sent a plain string */

	memset(a, 0, sizeof *a);
	if (whole) {
		a->value = clean_into_pool(&c->pool, whole, n, single);
		return;
	}
	a->number = clean_field_into_pool(&c->pool, pa, "street_number", single);
	a->route = clean_field_into_pool(&c->pool, pa, "route", single);
	a->subpremise = clean_field_into_pool(&c->pool, pa, "subpremise", single);
	a->locality = clean_field_into_pool(&c->pool, pa, "locality", single);
	a->region = clean_field_into_pool(&c->pool, pa, "admin_area_level_1", single);
	a->postal_code = clean_field_into_pool(&c->pool, pa, "postal_code", single);
	a->country = clean_field_into_pool(&c->pool, pa, "country", single);
	a->value = clean_field_into_pool(&c->pool, pa, "value", single);
}

static void put_address(struct card *c)
{
	struct address a;
	collect_address(c, &a);
	bool has_components = a.number.len || a.route.len || a.subpremise.len ||
			      a.locality.len || a.region.len || a.postal_code.len ||
			      a.country.len;
	if (!has_components && !a.value.len)
		return;

	line_begin(c, c->v4 ? "ADR;TYPE=work:;;" : "ADR;TYPE=WORK:;;");
	if (has_components)
		put_street(c, &a);
	else
		put_pool_escaped(c, a.value);
	struct span rest[] = { a.locality, a.region, a.postal_code, a.country };
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		sb_putc(&c->line, ';');
		put_pool_escaped(c, rest[i]);
	}
	line_finish(c);
}

/* ------------------------------------------------------------------------ */
/* ORG, CATEGORIES, URL, X-PIPEDRIVE-*                                      */
/* ------------------------------------------------------------------------ */

static void put_organization(struct card *c)
{
	const char *org = c->opt->org_name;
	if (!org)
		return;
	put_text_property(c, "ORG",
			  clean_into_pool(&c->pool, org, strlen(org), VCARD_TEXT_SINGLE_LINE));
}

static void put_categories(struct card *c)
{
	struct json_object *ids = field(c->person, "label_ids");
	if (!c->opt->label_name || !json_object_is_type(ids, json_type_array))
		return;
	size_t resolved = 0, n = json_object_array_length(ids);
	line_begin(c, "CATEGORIES:");
	for (size_t i = 0; i < n; i++) {
		struct vcard_id id;
		if (!vcard_id_of(json_object_array_get_idx(ids, i), &id))
			continue;
		const char *name = c->opt->label_name(c->opt->label_ctx, &id);
		if (!name)
			continue;
		struct span sp = clean_into_pool(&c->pool, name, strlen(name),
						 VCARD_TEXT_SINGLE_LINE);
		if (!sp.len)
			continue;
		if (resolved++)
			sb_putc(&c->line, ',');
		put_pool_escaped(c, sp);
	}
	if (resolved)
		line_finish(c);
	else
		sb_truncate(&c->line, 0);
}

/* Characters of an http(s) URL besides the unreserved ones that stay as
 * they are; , and ; are percent-encoded like everything else. */
#define URL_KEEP ":/?#[]!$&'()*=%"

static void put_url(struct card *c)
{
	const char *base = c->opt->app_url;
	line_begin(c, "URL:");
	if (base && *base) {
		size_t n = strlen(base);
		while (n > 0 && base[n - 1] == '/')
			n--;
		append_percent_encoded(&c->line, base, n, URL_KEEP);
	} else {
		const char *company = c->opt->company ? c->opt->company : "";
		sb_puts(&c->line, "https://");
		append_percent_encoded(&c->line, company, strlen(company), "");
		sb_puts(&c->line, ".pipedrive.com");
	}
	sb_printf(&c->line, "/person/%" PRId64, c->id);
	line_finish(c);
}

static void put_pipedrive_ids(struct card *c)
{
	int64_t v;
	put_int_property(c, "X-PIPEDRIVE-ID", c->id);
	if (exact_int64(field(c->person, "org_id"), &v))
		put_int_property(c, "X-PIPEDRIVE-ORG-ID", v);
	if (exact_int64(field(c->person, "owner_id"), &v))
		put_int_property(c, "X-PIPEDRIVE-OWNER-ID", v);

	struct json_object *ids = field(c->person, "label_ids");
	if (!json_object_is_type(ids, json_type_array))
		return;
	size_t n = json_object_array_length(ids);
	for (size_t i = 0; i < n; i++) {
		struct vcard_id id;
		if (!vcard_id_of(json_object_array_get_idx(ids, i), &id))
			continue;
		if (id.numeric) {
			put_int_property(c, "X-PIPEDRIVE-LABEL-ID", id.num);
		} else {
			put_text_property(c, "X-PIPEDRIVE-LABEL-ID",
					  clean_into_pool(&c->pool, id.text, id.len,
							  VCARD_TEXT_SINGLE_LINE));
		}
	}
}

static void put_uid(struct card *c)
{
	char uuid[37];
	struct strbuf name = STRBUF_INIT;
	sb_printf(&name, "pipedrive:%s:person:%" PRId64,
		  c->opt->company ? c->opt->company : "", c->id);
	if (!sb_failed(&name)) {
		vcard_uuid5(name.data, uuid);
		line_begin(c, c->v4 ? "UID:urn:uuid:" : "UID:");
		sb_puts(&c->line, uuid);
		line_finish(c);
	}
	release_scratch(c, &name);
}

/* ------------------------------------------------------------------------ */
/* The card                                                                 */
/* ------------------------------------------------------------------------ */

/* Custom fields, after NOTE and CATEGORIES: a labelled group each. */
static void put_custom_fields(struct card *c)
{
	for (size_t i = 0; i < c->opt->field_count; i++) {
		const struct vcard_field *f = &c->opt->fields[i];
		if (!f->value || !f->label)
			continue;
		struct span value = clean_into_pool(&c->pool, f->value, strlen(f->value),
						    VCARD_TEXT_SINGLE_LINE);
		if (value.len == 0)
			continue;
		struct span label = clean_into_pool(&c->pool, f->label, strlen(f->label),
						    VCARD_TEXT_SINGLE_LINE);
		c->item_no++;
		line_begin(c, "");
		sb_printf(&c->line, "item%u.X-PIPEDRIVE-FIELD:", c->item_no);
		escape_clean_text(&c->line, span_text(&c->pool, value), value.len);
		line_finish(c);
		put_ablabel(c, span_text(&c->pool, label), label.len);
	}
}

static void put_card_body(struct card *c)
{
	const enum vcard_text_mode single = VCARD_TEXT_SINGLE_LINE;
	struct person_names names = {
		.name = clean_field_into_pool(&c->pool, c->person, "name", single),
		.first = clean_field_into_pool(&c->pool, c->person, "first_name", single),
		.last = clean_field_into_pool(&c->pool, c->person, "last_name", single),
	};
	struct contact_list emails, phones, ims;
	collect_list(&emails, c->person, "emails", DROP_DUPLICATES);
	collect_list(&phones, c->person, "phones", DROP_DUPLICATES);
	/* the same handle on two services is two accounts */
	collect_list(&ims, c->person, "im", KEEP_DUPLICATES);

	put_fixed_line(c, "BEGIN:VCARD");
	put_fixed_line(c, c->v4 ? "VERSION:4.0" : "VERSION:3.0");
	put_fixed_line(c, "PRODID:" PRODID);
	put_uid(c);
	if (c->v4)
		put_fixed_line(c, "KIND:individual");
	put_formatted_name(c, &names, &emails, &phones);
	put_structured_name(c, &names);
	put_organization(c);
	put_text_property(c, "TITLE",
			  clean_field_into_pool(&c->pool, c->person, "job_title", single));
	put_contact_list(c, &emails, &email_style);
	put_contact_list(c, &phones, &phone_style);
	put_im_list(c, &ims);
	put_birthday(c);
	put_address(c);
	put_text_property(c, "NOTE",
			  clean_field_into_pool(&c->pool, c->person, "notes",
						VCARD_TEXT_MULTI_LINE));
	put_categories(c);
	put_custom_fields(c);
	put_url(c);
	put_pipedrive_ids(c);
	put_revision(c);
	put_fixed_line(c, "END:VCARD");

	release_list(c, &emails);
	release_list(c, &phones);
	release_list(c, &ims);
}

int vcard_render(const struct json_object *person, const struct vcard_options *opt,
		 struct strbuf *out)
{
	int64_t id;
	if (!opt || !exact_int64(field(person, "id"), &id))
		return -EINVAL;

	struct card c = {
		.opt = opt,
		.person = person,
		.v4 = opt->version == VCARD_V40,
		.id = id,
		.out = out,
		.line = STRBUF_INIT,
		.pool = STRBUF_INIT,
	};
	put_card_body(&c);
	release_scratch(&c, &c.line);
	release_scratch(&c, &c.pool);
	if (c.oom || sb_failed(out)) {
		mark_failed(out);
		return -ENOMEM;
	}
	return 0;
}
