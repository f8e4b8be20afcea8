#include "jsonfmt.h"

#include <stdbool.h>

static void newline_indent(struct strbuf *out, size_t depth)
{
	sb_putc(out, '\n');
	for (size_t i = 0; i < depth; i++)
		sb_append(out, "  ", 2);
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

void jsonfmt_pretty(struct strbuf *out, const char *s, size_t n)
{
	size_t depth = 0;
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (is_space(c)) {
			i++;
		} else if (c == '"') {
			size_t len = string_token_len(s + i, n - i);
			sb_append(out, s + i, len);
			i += len;
		} else if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';
			size_t next = skip_space(s, n, i + 1);
			if (next < n && s[next] == close) {
				sb_putc(out, c);
				sb_putc(out, close);
				i = next + 1;
			} else {
				sb_putc(out, c);
				newline_indent(out, ++depth);
				i++;
			}
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			newline_indent(out, depth);
			sb_putc(out, c);
			i++;
		} else if (c == ',') {
			sb_putc(out, ',');
			newline_indent(out, depth);
			i++;
		} else if (c == ':') {
			sb_append(out, ": ", 2);
			i++;
		} else {
			size_t start = i;
			while (i < n && !is_space(s[i]) && s[i] != ',' && s[i] != ':' &&
			       s[i] != '}' && s[i] != ']' && s[i] != '{' && s[i] != '[' &&
			       s[i] != '"')
				i++;
			sb_append(out, s + start, i - start);
		}
	}
	sb_putc(out, '\n');
}
