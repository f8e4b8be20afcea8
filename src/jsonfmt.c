#include "jsonfmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* Where the re-indented text goes: a buffer, or only a byte count. */
struct sink {
	struct strbuf *out; /* NULL: count only */
	size_t count;
};

static void put(struct sink *k, const char *s, size_t n)
{
	k->count += n;
	if (k->out)
		sb_append(k->out, s, n);
}

static void put_char(struct sink *k, char c)
{
	put(k, &c, 1);
}

static void put_piece(void *ctx, const char *piece, size_t len)
{
	put(ctx, piece, len);
}

/* A token's bytes with each ill-formed UTF-8 subpart as U+FFFD, so the file
 * is valid UTF-8 whatever the server sent inside its strings. */
static void put_text(struct sink *k, const char *s, size_t n)
{
	utf8_sanitize_each(s, n, put_piece, k);
}

static void newline_indent(struct sink *k, size_t depth)
{
	static const char spaces[] = "                                ";
	put_char(k, '\n');
	size_t n = depth * 2;
	while (n > 0) {
		size_t chunk = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		put(k, spaces, chunk);
		n -= chunk;
	}
}

/* Length of the string token starting at s[0] == '"' (including quotes). */
static size_t string_token_len(const char *s, size_t n)
{
	size_t i = 1;
	while (i < n) {
		if (s[i] == '\\')
			i += 2;
		else if (s[i++] == '"')
			break;
	}
	return i < n ? i : n;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n && is_space(s[i]))
		i++;
	return i;
}

static void pretty(struct sink *out, const char *s, size_t n)
{
	size_t depth = 0;
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (is_space(c)) {
			i++;
		} else if (c == '"') {
			size_t len = string_token_len(s + i, n - i);
			put_text(out, s + i, len);
			i += len;
		} else if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';
			size_t next = skip_space(s, n, i + 1);
			if (next < n && s[next] == close) {
				put_char(out, c);
				put_char(out, close);
				i = next + 1;
			} else {
				put_char(out, c);
				newline_indent(out, ++depth);
				i++;
			}
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			newline_indent(out, depth);
			put_char(out, c);
			i++;
		} else if (c == ',') {
			put_char(out, ',');
			newline_indent(out, depth);
			i++;
		} else if (c == ':') {
			put(out, ": ", 2);
			i++;
		} else {
			size_t start = i;
			while (i < n && !is_space(s[i]) && s[i] != ',' && s[i] != ':' &&
			       s[i] != '}' && s[i] != ']' && s[i] != '{' && s[i] != '[' &&
			       s[i] != '"')
				i++;
			put_text(out, s + start, i - start);
		}
	}
	put_char(out, '\n');
}

void jsonfmt_pretty(struct strbuf *out, const char *json, size_t len)
{
	struct sink k = { .out = out };
	sb_reserve(out, len + len / 2);
	pretty(&k, json, len);
}

size_t jsonfmt_pretty_len(const char *json, size_t len)
{
	struct sink k = { .out = NULL };
	pretty(&k, json, len);
	return k.count;
}

/* Index just past the value starting at i (or n if it runs off the end). */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;
	while (i < n) {
		char c = s[i];
		if (c == '"') {
			i += string_token_len(s + i, n - i);
			if (depth == 0)
				return i;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i; /* the end of the enclosing container */
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || is_space(c))) {
			return i; /* end of a scalar */
		}
		i++;
	}
	return n;
}

/* Spans of the array starting at s[i] == '['; returns the index just past
 * it (SIZE_MAX if malformed) and the element count in *count. */
static size_t array_elements(const char *s, size_t n, size_t i, struct jsonfmt_span *out,
			     size_t max, size_t *count)
{
	if (i >= n || s[i] != '[')
		return SIZE_MAX;
	*count = 0;
	i = skip_space(s, n, i + 1);
	if (i < n && s[i] == ']')
		return i + 1;
	for (;;) {
		size_t end = skip_value(s, n, i);
		if (end <= i || end >= n)
			return SIZE_MAX;
		if (*count < max) {
			out[*count].start = i;
			out[*count].len = end - i;
		}
		(*count)++;
		i = skip_space(s, n, end);
		if (i < n && s[i] == ']')
			return i + 1;
		if (i >= n || s[i] != ',')
			return SIZE_MAX;
		i = skip_space(s, n, i + 1);
	}
}

size_t jsonfmt_array_elements(const char *s, size_t n, const char *key,
			      struct jsonfmt_span *out, size_t max)
{
	size_t key_len = strlen(key);
	size_t found = SIZE_MAX;
	size_t i = skip_space(s, n, 0);
	if (i >= n || s[i] != '{')
		return SIZE_MAX;
	i++;
	for (;;) {
		i = skip_space(s, n, i);
		if (i >= n || s[i] != '"')
			return SIZE_MAX;
		size_t klen = string_token_len(s + i, n - i);
		bool match = klen == key_len + 2 && memcmp(s + i + 1, key, key_len) == 0;
		i = skip_space(s, n, i + klen);
		if (i >= n || s[i] != ':')
			return SIZE_MAX;
		i = skip_space(s, n, i + 1);
		if (match) {
			/* A key given twice: parsers disagree on which one counts. */
			if (found != SIZE_MAX)
				return SIZE_MAX;
			i = array_elements(s, n, i, out, max, &found);
		} else {
			i = skip_value(s, n, i);
		}
		if (i == SIZE_MAX)
			return SIZE_MAX;
		i = skip_space(s, n, i);
		if (i < n && s[i] == '}')
			return found;
		if (i >= n || s[i] != ',')
			return SIZE_MAX;
		i++;
	}
}
