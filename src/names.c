#include "names.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

static const char *const extensions[] = { ".json", ".vcf" };
#define LONGEST_EXTENSION 5 /* ".json" */

const char *names_extension(enum person_file kind)
{
	return extensions[kind];
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7F;
}

/* Append the cleaned name, cut to budget bytes; returns the bytes written. */
static size_t append_clean_name(struct strbuf *out, const char *name, size_t n, size_t budget)
{
	struct strbuf clean = STRBUF_INIT;
	if (name)
		utf8_sanitize(&clean, name, n);
	size_t start = 0;
	while (start < clean.len && clean.data[start] == '.')
		start++;
	size_t from = out->len;
	for (size_t i = start; i < clean.len; i++) {
		unsigned char c = (unsigned char)clean.data[i];
		sb_putc(out, (c == '/' || is_control(c)) ? '_' : (char)c);
	}
	sb_free(&clean);
	if (sb_failed(out))
		return 0;
	size_t written = out->len - from;
	if (written > budget) {
		written = utf8_boundary(out->data + from, written, budget);
		sb_truncate(out, from + written);
	}
	return written;
}

void names_person_base(struct strbuf *out, const char *name, size_t n, int64_t id)
{
	char suffix[32];
	int suffix_len = snprintf(suffix, sizeof(suffix), " (%" PRId64 ")", id);
	size_t budget = NAMES_NAME_MAX - LONGEST_EXTENSION - (size_t)suffix_len;
	if (append_clean_name(out, name, n, budget) == 0)
		sb_puts(out, "Unnamed");
	sb_append(out, suffix, (size_t)suffix_len);
}

bool names_group_link(struct strbuf *out, const char *name, size_t n)
{
	size_t from = out->len;
	size_t written = name ? append_clean_name(out, name, n, SIZE_MAX) : 0;
	if (sb_failed(out) || written == 0)
		return false;
	/* No leading dots or spaces (in any mix), no trailing spaces. */
	char *text = out->data + from;
	size_t skip = 0;
	while (skip < written && (text[skip] == '.' || text[skip] == ' '))
		skip++;
	memmove(text, text + skip, written - skip);
	written -= skip;
	while (written > 0 && text[written - 1] == ' ')
		written--;
	if (written > NAMES_NAME_MAX) {
		written = utf8_boundary(text, written, NAMES_NAME_MAX);
		while (written > 0 && text[written - 1] == ' ')
			written--;
	}
	sb_truncate(out, from + written);
	/* Digits alone name an id directory, digits + ".vcf" its folder file. */
	bool folder_file = written > 4 && memcmp(text + written - 4, ".vcf", 4) == 0 &&
			   names_all_digits(text, written - 4);
	if (written == 0 || names_all_digits(text, written) || folder_file) {
		sb_truncate(out, from);
		return false;
	}
	return true;
}

bool names_all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

bool names_parse_id(const char *s, size_t n, int64_t *id)
{
	if (n == 0 || n > 16 || s[0] == '0')
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > NAMES_MAX_ID)
		return false;
	*id = v;
	return true;
}

bool names_parse_person_file(const char *name, size_t n, int64_t *id,
			     enum person_file *kind, size_t *base_len)
{
	for (int k = 0; k < 2; k++) {
		size_t ext_len = strlen(extensions[k]);
		if (n <= ext_len || memcmp(name + n - ext_len, extensions[k], ext_len) != 0)
			continue;
		size_t end = n - ext_len; /* index just past ')' */
		if (end < 4 || name[end - 1] != ')')
			return false;
		size_t open = end - 1;
		while (open > 0 && name[open - 1] != '(')
			open--;
		if (open < 2 || name[open - 2] != ' ')
			return false;
		if (!names_parse_id(name + open, end - 1 - open, id))
			return false;
		*kind = (enum person_file)k;
		*base_len = end;
		return true;
	}
	return false;
}
