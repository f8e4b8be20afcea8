/*
 * person_scan.c - reading a person object of a scanned document
 * (person.h): its id, whether it is deleted, its name, its update time, and
 * the exact size of its .json file, computed from the tokens.
 */
#include "person.h"

#include <string.h>
#include <time.h>

#include "names.h"
#include "utf8.h"

/* ---- times ---- */

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t person_parse_time_n(const char *s, size_t n)
{
	n = s ? strnlen(s, n) : 0; /* a C string's worth */
	if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || se < 0 || se > 60)
		return 0;
	size_t i = 19;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	long offset = 0;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		/* "+HH:MM" or "+HHMM"; read no further than the string goes */
		size_t rest = n - i - 1;
		const char *p = s + i;
		int oh = rest >= 2 ? digits(p + 1, 2) : -1;
		bool colon = rest >= 5 && p[3] == ':';
		int om = colon ? digits(p + 4, 2) : rest >= 4 ? digits(p + 3, 2) : -1;
		if (oh < 0 || om < 0)
			return 0;
		offset = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
	}
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = se };
	return (int64_t)timegm(&tm) - offset;
}

int64_t person_parse_time(const char *s)
{
	return s ? person_parse_time_n(s, strlen(s)) : 0;
}

/* ---- a person object ---- */

int64_t person_scan_id(const struct jsonscan_doc *d, uint32_t obj)
{
	int64_t id;
	if (jsonscan_int64(d, jsonscan_get(d, obj, "id"), &id) != 0 || id <= 0 ||
	    id > NAMES_MAX_ID)
		return 0;
	return id;
}

bool person_scan_is_deleted(const struct jsonscan_doc *d, uint32_t obj)
{
	return jsonscan_is_true(d, jsonscan_get(d, obj, "is_deleted"));
}

/* Append string token t unescaped; false if it is not a non-empty string. */
static bool append_nonempty(struct strbuf *out, const struct jsonscan_doc *d, uint32_t t)
{
	size_t raw;
	if (jsonscan_type(d, t) != JSONSCAN_STRING || (jsonscan_raw(d, t, &raw), raw == 2))
		return false;
	if (!sb_reserve(out, raw))
		return true;
	size_t n = jsonscan_unescape(d, t, out->data + out->len);
	out->len += n;
	out->data[out->len] = '\0';
	return n > 0;
}

bool person_scan_name(const struct jsonscan_doc *d, uint32_t obj, struct strbuf *out)
{
	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("name"), JSONSCAN_KEY("first_name"), JSONSCAN_KEY("last_name"),
	};
	uint32_t v[3];
	jsonscan_get_many(d, obj, keys, 3, v);
	if (append_nonempty(out, d, v[0]))
		return true;
	bool first = append_nonempty(out, d, v[1]);
	size_t mark = out->len;
	if (first)
		sb_putc(out, ' ');
	bool last = append_nonempty(out, d, v[2]);
	if (first && !last)
		sb_truncate(out, mark);
	return first || last;
}

/* ---- the .json file's size ---- */

static void count_piece(void *ctx, const char *piece, size_t len)
{
	(void)piece;
	*(size_t *)ctx += len;
}

/* Bytes of a scalar token in the .json file (ill-formed UTF-8 as U+FFFD). */
static inline size_t scalar_pretty_len(const struct jsonscan_doc *d, uint32_t t)
{
	const struct jsonscan_token *tok = &d->tokens[t]; /* t is one of d's */
	if (!(tok->flags & JSONSCAN_BAD_UTF8))
		return tok->len;
	size_t count = 0;
	utf8_sanitize_each(d->text + tok->start, tok->len, count_piece, &count);
	return count;
}

/* What jsonfmt_pretty makes of token t at depth `depth`, without the final
 * newline: computed from the tokens, the text is not read again. */
static size_t pretty_len_nested(const struct jsonscan_doc *d, uint32_t t, size_t depth)
{
	enum jsonscan_type type = jsonscan_type(d, t);
	if (type != JSONSCAN_OBJECT && type != JSONSCAN_ARRAY)
		return scalar_pretty_len(d, t);
	if (!jsonscan_first(d, t))
		return 2; /* {} or [] */
	size_t len = 2 + 1 + 2 * depth, children = 0; /* brackets, newline + indent of the close */
	JSONSCAN_FOREACH(d, t, c) {
		len += 1 + 2 * (depth + 1); /* newline + indent */
		if (type == JSONSCAN_OBJECT)
			len += scalar_pretty_len(d, c) + 2 + pretty_len_nested(d, c + 1, depth + 1);
		else
			len += pretty_len_nested(d, c, depth + 1);
		children++;
	}
	return len + children - 1; /* commas */
}

#define PRETTY_STACK 64

/* The same in one pass over the tokens (no recursion); values nested deeper
 * than PRETTY_STACK go the recursive way. */
static size_t pretty_len(const struct jsonscan_doc *d, uint32_t t)
{
	struct open {
		uint32_t end;
		uint32_t children;
		bool object, key_next;
	} stack[PRETTY_STACK];
	size_t depth = 0, len = 0;
	const struct jsonscan_token *tok = d->tokens;
	for (uint32_t i = t; i < tok[t].next; i++) {
		while (depth && i >= stack[depth - 1].end)
			depth--;
		if (depth) {
			struct open *parent = &stack[depth - 1];
			if (!parent->object || parent->key_next) { /* a new member or element */
				len += 1 + 2 * depth + (parent->children++ ? 1 : 0);
				if (parent->object) { /* its key, ": " */
					parent->key_next = false;
					len += scalar_pretty_len(d, i) + 2;
					continue;
				}
			} else {
				parent->key_next = true; /* this is the value */
			}
		}
		enum jsonscan_type type = (enum jsonscan_type)tok[i].type;
		if (type != JSONSCAN_OBJECT && type != JSONSCAN_ARRAY) {
			len += scalar_pretty_len(d, i);
		} else if (tok[i].next == i + 1) {
			len += 2; /* {} or [] */
		} else if (depth == PRETTY_STACK) {
			len += pretty_len_nested(d, i, depth);
			i = tok[i].next - 1;
		} else {
			len += 2 + 1 + 2 * depth; /* brackets, newline + indent of the close */
			stack[depth++] = (struct open){ .end = tok[i].next, .object = type == JSONSCAN_OBJECT,
							.key_next = true };
		}
	}
	return len;
}

size_t person_scan_json_len(const struct jsonscan_doc *d, uint32_t obj)
{
	return pretty_len(d, obj) + 1; /* the final newline */
}
