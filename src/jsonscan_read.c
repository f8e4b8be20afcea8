/*
 * jsonscan_read.c - reading a scanned document (jsonscan.h): containers,
 * member lookup, strings (views, unescaping, comparison), numbers.
 *
 * The scanner has checked the text, so readers trust its form: a string
 * token is quoted, its escapes are complete, a number token is one.
 */
#include "jsonscan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *jsonscan_raw(const struct jsonscan_doc *d, uint32_t t, size_t *len)
{
	if (t == 0 || t >= d->count) {
		*len = 0;
		return NULL;
	}
	*len = d->tokens[t].len;
	return d->text + d->tokens[t].start;
}

uint8_t jsonscan_subtree_flags(const struct jsonscan_doc *d, uint32_t t)
{
	if (t == 0 || t >= d->count)
		return 0;
	uint8_t flags = 0;
	for (uint32_t i = t; i < d->tokens[t].next; i++)
		flags |= d->tokens[i].flags;
	return flags;
}

size_t jsonscan_count(const struct jsonscan_doc *d, uint32_t t)
{
	size_t n = 0;
	JSONSCAN_FOREACH(d, t, c)
		n++;
	return n;
}

uint32_t jsonscan_at(const struct jsonscan_doc *d, uint32_t array, size_t i)
{
	if (jsonscan_type(d, array) != JSONSCAN_ARRAY)
		return 0;
	JSONSCAN_FOREACH(d, array, c)
		if (i-- == 0)
			return c;
	return 0;
}

/* The body of string token t (between the quotes). */
static inline const char *body_of(const struct jsonscan_doc *d, uint32_t t, size_t *n)
{
	*n = d->tokens[t].len - 2;
	return d->text + d->tokens[t].start + 1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Four hex digits (the scanner checked them). */
static uint32_t hex4(const char *s)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = (unsigned char)s[i];
		v = v << 4 | (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/*
 * Decode the escape at s[0..n) (s[0] is the backslash; the scanner checked
 * its form) into out[0..4).  Returns the bytes written; *used gets the input
 * bytes consumed.  Lone surrogates become U+FFFD.
 */
static size_t decode_escape(const char *s, size_t n, char out[4], size_t *used)
{
	if (s[1] != 'u') {
		*used = 2;
		switch (s[1]) {
		case 'b': out[0] = '\b'; break;
		case 'f': out[0] = '\f'; break;
		case 'n': out[0] = '\n'; break;
		case 'r': out[0] = '\r'; break;
		case 't': out[0] = '\t'; break;
		default: out[0] = s[1]; break; /* " \ / */
		}
		return 1;
	}
	uint32_t cp = hex4(s + 2);
	*used = 6;
	if (cp >= 0xD800 && cp <= 0xDBFF && n >= 12 && s[6] == '\\' && s[7] == 'u') {
		uint32_t low = hex4(s + 8);
		if (low >= 0xDC00 && low <= 0xDFFF) {
			*used = 12;
			return put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
		}
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = 0xFFFD;
	return put_utf8(out, cp);
}

size_t jsonscan_unescape(const struct jsonscan_doc *d, uint32_t t, char *out)
{
	if (jsonscan_type(d, t) != JSONSCAN_STRING)
		return 0;
	size_t n;
	const char *s = body_of(d, t, &n);
	if (!(d->tokens[t].flags & JSONSCAN_ESCAPES)) {
		memcpy(out, s, n);
		return n;
	}
	size_t o = 0;
	const char *end = s + n;
	while (s < end) {
		const char *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = (size_t)((bs ? bs : end) - s);
		memcpy(out + o, s, run);
		o += run;
		if (!bs)
			break;
		size_t used;
		o += decode_escape(bs, (size_t)(end - bs), out + o, &used);
		s = bs + used;
	}
	return o;
}

const char *jsonscan_str(const struct jsonscan_doc *d, uint32_t t, struct arena *scratch,
			 size_t *len)
{
	*len = 0;
	if (jsonscan_type(d, t) != JSONSCAN_STRING)
		return NULL;
	if (!(d->tokens[t].flags & JSONSCAN_ESCAPES))
		return body_of(d, t, len);
	char *out = scratch ? arena_alloc(scratch, d->tokens[t].len) : NULL;
	if (out) {
		*len = jsonscan_unescape(d, t, out);
		out[*len] = '\0';
	}
	return out;
}

char *jsonscan_strdup(const struct jsonscan_doc *d, uint32_t t, struct arena *scratch,
		      size_t *len)
{
	*len = 0;
	if (jsonscan_type(d, t) != JSONSCAN_STRING || !scratch)
		return NULL;
	char *out = arena_realloc(scratch, NULL, 0, d->tokens[t].len); /* >= body + NUL */
	if (!out)
		return NULL;
	*len = jsonscan_unescape(d, t, out);
	out[*len] = '\0';
	/* give back what unescaping saved */
	return arena_realloc(scratch, out, d->tokens[t].len, *len + 1);
}

/* String token t (known to be a string) equals s[0..n) after unescaping. */
static bool body_equals(const struct jsonscan_doc *d, uint32_t t, const char *s, size_t n)
{
	size_t bn;
	const char *b = body_of(d, t, &bn);
	if (!(d->tokens[t].flags & JSONSCAN_ESCAPES))
		return bn == n && memcmp(b, s, n) == 0;
	if (n > bn)
		return false; /* unescaping never makes text longer */
	const char *end = b + bn, *want_end = s + n;
	while (b < end) {
		const char *bs = memchr(b, '\\', (size_t)(end - b));
		size_t run = (size_t)((bs ? bs : end) - b);
		if ((size_t)(want_end - s) < run || memcmp(b, s, run) != 0)
			return false;
		s += run;
		if (!bs)
			break;
		char buf[4];
		size_t used, k = decode_escape(bs, (size_t)(end - bs), buf, &used);
		if ((size_t)(want_end - s) < k || memcmp(buf, s, k) != 0)
			return false;
		s += k;
		b = bs + used;
	}
	return s == want_end;
}

bool jsonscan_str_eq(const struct jsonscan_doc *d, uint32_t t, const char *s, size_t n)
{
	return jsonscan_type(d, t) == JSONSCAN_STRING && body_equals(d, t, s, n);
}

/* Key token k equals key[0..n): the common case (no escapes) inline. */
static inline bool key_equals(const struct jsonscan_doc *d, uint32_t k, const char *key, size_t n)
{
	const struct jsonscan_token *kt = &d->tokens[k];
	if (!(kt->flags & JSONSCAN_ESCAPES)) {
		const char *s = d->text + kt->start + 1;
		return kt->len - 2 == n && (n == 0 || (s[0] == key[0] && memcmp(s, key, n) == 0));
	}
	return body_equals(d, k, key, n);
}

uint32_t jsonscan_getn(const struct jsonscan_doc *d, uint32_t obj, const char *key,
		       size_t key_len)
{
	if (jsonscan_type(d, obj) != JSONSCAN_OBJECT)
		return 0;
	uint32_t found = 0, end = d->tokens[obj].next;
	for (uint32_t k = obj + 1; k < end; k = d->tokens[k + 1].next)
		if (key_equals(d, k, key, key_len))
			found = k + 1;
	return found;
}

uint32_t jsonscan_get(const struct jsonscan_doc *d, uint32_t obj, const char *key)
{
	return jsonscan_getn(d, obj, key, strlen(key));
}

/* A bucket for a key of n bytes starting with a and ending with b. */
static inline unsigned key_bucket(size_t n, unsigned char a, unsigned char b)
{
	return (unsigned)(n * 7 + a * 3 + b) & 63;
}

void jsonscan_get_many(const struct jsonscan_doc *d, uint32_t obj, const struct jsonscan_key *keys,
		       size_t n, uint32_t *values)
{
	for (size_t i = 0; i < n; i++)
		values[i] = 0;
	if (jsonscan_type(d, obj) != JSONSCAN_OBJECT)
		return;
	uint32_t end = d->tokens[obj].next;
	if (n < 4 || n > 255) {
		for (uint32_t k = obj + 1; k < end; k = d->tokens[k + 1].next)
			for (size_t i = 0; i < n; i++)
				if (key_equals(d, k, keys[i].name, keys[i].len))
					values[i] = k + 1;
		return;
	}
	/* The keys in 64 buckets (chains through chain[]), so a member is
	 * compared with the few keys that could be it, not with all. */
	uint8_t first[64], chain[255];
	memset(first, 0xFF, sizeof(first));
	for (size_t i = n; i-- > 0;) {
		size_t len = keys[i].len;
		const unsigned char *k = (const unsigned char *)keys[i].name;
		unsigned b = key_bucket(len, len ? k[0] : 0, len ? k[len - 1] : 0);
		chain[i] = first[b];
		first[b] = (uint8_t)i;
	}
	for (uint32_t k = obj + 1; k < end; k = d->tokens[k + 1].next) {
		const struct jsonscan_token *kt = &d->tokens[k];
		if (kt->flags & JSONSCAN_ESCAPES) { /* compared as unescaped text */
			for (size_t i = 0; i < n; i++)
				if (body_equals(d, k, keys[i].name, keys[i].len))
					values[i] = k + 1;
			continue;
		}
		size_t len = kt->len - 2;
		const unsigned char *s = (const unsigned char *)d->text + kt->start + 1;
		for (unsigned i = first[key_bucket(len, len ? s[0] : 0, len ? s[len - 1] : 0)];
		     i != 0xFF; i = chain[i])
			if (keys[i].len == len && memcmp(keys[i].name, s, len) == 0)
				values[i] = k + 1;
	}
}

bool jsonscan_member_shadowed(const struct jsonscan_doc *d, uint32_t obj, uint32_t key)
{
	if (jsonscan_type(d, obj) != JSONSCAN_OBJECT || key <= obj || key + 1 >= d->count)
		return false;
	uint32_t end = d->tokens[obj].next;
	size_t n;
	char small[256];
	const char *want = small;
	char *heap = NULL;
	if (d->tokens[key].flags & JSONSCAN_ESCAPES) { /* compare unescaped text */
		if (d->tokens[key].len > sizeof(small) && !(heap = malloc(d->tokens[key].len)))
			return false;
		n = jsonscan_unescape(d, key, heap ? heap : small);
		want = heap ? heap : small;
	} else {
		want = body_of(d, key, &n);
	}
	bool shadowed = false;
	for (uint32_t k = d->tokens[key + 1].next; k < end && !shadowed; k = d->tokens[k + 1].next)
		shadowed = key_equals(d, k, want, n);
	free(heap);
	return shadowed;
}

int jsonscan_int64(const struct jsonscan_doc *d, uint32_t t, int64_t *out)
{
	if (jsonscan_type(d, t) != JSONSCAN_NUMBER || (d->tokens[t].flags & JSONSCAN_NOT_INT))
		return -EINVAL;
	const char *s = d->text + d->tokens[t].start, *end = s + d->tokens[t].len;
	bool negative = *s == '-';
	s += negative;
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
	for (; s < end; s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (v > (limit - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int jsonscan_double(const struct jsonscan_doc *d, uint32_t t, double *out)
{
	if (jsonscan_type(d, t) != JSONSCAN_NUMBER)
		return -EINVAL;
	const struct jsonscan_token *tk = &d->tokens[t];
	const char *s = d->text + tk->start;
	char small[64], *heap = NULL;
	/* strtod needs a byte after the number that is not part of one: inside
	 * a container there is always one; a top-level number may end the text. */
	if ((size_t)tk->start + tk->len == d->len) {
		if (tk->len >= sizeof(small) && !(heap = malloc((size_t)tk->len + 1)))
			return -ENOMEM;
		char *copy = heap ? heap : small;
		memcpy(copy, d->text + tk->start, tk->len);
		copy[tk->len] = '\0';
		s = copy;
	}
	*out = strtod(s, NULL);
	free(heap);
	return isinf(*out) ? -ERANGE : 0;
}

int jsonscan_bool(const struct jsonscan_doc *d, uint32_t t, bool *out)
{
	enum jsonscan_type ty = jsonscan_type(d, t);
	if (ty != JSONSCAN_TRUE && ty != JSONSCAN_FALSE)
		return -EINVAL;
	*out = ty == JSONSCAN_TRUE;
	return 0;
}
