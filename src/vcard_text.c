/*
 * vcard_text.c - the text of vCard values (vcard_internal.h): cleaning and
 * escaping TEXT, percent-encoding URIs, folding content lines at 75 octets,
 * UIDs (uuid5), label and option ids, integers without printf.  Pure.
 */
#include "vcard_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "utf8.h"

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

/* The bytes of x (8, little-endian order) that are not printable ASCII
 * (< 0x20, 0x7F or >= 0x80): a high bit each; exact for the lowest one. */
static inline uint64_t unprintable_in_8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t del = x ^ (ones * 0x7F);
	return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del) | x) & highs;
}

/* The bytes of x equal to c: a high bit each; exact for the lowest one. */
static inline uint64_t byte_in_8(uint64_t x, unsigned char c)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t y = x ^ (ones * c);
	return (y - ones) & ~y & highs;
}

/* How many leading bytes of s[0..n) are printable ASCII (0x20..0x7E). */
static size_t printable_prefix(const char *s, size_t n)
{
	size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; n - i >= 8; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		uint64_t bad = unprintable_in_8(x);
		if (bad)
			return i + (size_t)(__builtin_ctzll(bad) >> 3);
	}
#endif
	while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F)
		i++;
	return i;
}

/* How many leading bytes of s[0..n) need no TEXT escape (, ; \ newline). */
static size_t unescaped_prefix(const char *s, size_t n)
{
	size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; n - i >= 8; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		uint64_t hit = byte_in_8(x, ',') | byte_in_8(x, ';') | byte_in_8(x, '\\') |
			       byte_in_8(x, '\n');
		if (hit)
			return i + (size_t)(__builtin_ctzll(hit) >> 3);
	}
#endif
	while (i < n && s[i] != ',' && s[i] != ';' && s[i] != '\\' && s[i] != '\n')
		i++;
	return i;
}

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

void vcard_clean_text(struct strbuf *dst, const char *s, size_t n,
		       enum vcard_text_mode mode)
{
	if (n == 0)
		return;
	if (printable_prefix(s, n) == n) { /* most values: nothing to drop or map */
		size_t begin = 0, end = n;
		while (begin < end && s[begin] == ' ')
			begin++;
		while (end > begin && s[end - 1] == ' ')
			end--;
		sb_append(dst, s + begin, end - begin);
		return;
	}
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

void vcard_escape_clean(struct strbuf *dst, const char *s, size_t n)
{
	size_t plain = unescaped_prefix(s, n);
	sb_append(dst, s, plain);
	if (plain == n)
		return;
	size_t run = plain;
	for (size_t i = plain; i < n; i++) {
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
	vcard_clean_text(&clean, s, n, mode);
	if (sb_failed(&clean))
		mark_failed(out);
	else
		vcard_escape_clean(out, clean.data, clean.len);
	sb_free(&clean);
}

static bool is_uri_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c != 0 && strchr("@+.-_~", c));
}

void vcard_percent_encode(struct strbuf *dst, const char *s, size_t n,
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
static inline size_t fold_unit_len(const char *line, size_t len, size_t i)
{
	unsigned char c = (unsigned char)line[i];
	if (c < 0x80)
		return c == '\\' && i + 1 < len && (unsigned char)line[i + 1] < 0x80 ? 2 : 1;
	uint32_t cp;
	size_t k = utf8_decode(line + i, len - i, &cp);
	return k ? k : 1;
}

/* Fold line[0..len) into out (NULL: only count); returns the bytes. */
static size_t fold(struct strbuf *out, const char *line, size_t len)
{
	if (len <= FOLD_FIRST_MAX) { /* most lines: nothing to fold */
		if (out && sb_reserve(out, len + 2)) {
			memcpy(out->data + out->len, line, len);
			memcpy(out->data + out->len + len, "\r\n", 3);
			out->len += len + 2;
		}
		return len + 2;
	}
	if (out && len < SIZE_MAX / 2)
		sb_reserve(out, len + len / 70 * 3 + 2);

	size_t start = 0, max = FOLD_FIRST_MAX, folds = 0;
	for (size_t i = 0; i < len;) {
		size_t unit = fold_unit_len(line, len, i);
		if (i + unit - start > max) {
			if (out) {
				sb_append(out, line + start, i - start);
				sb_append(out, "\r\n ", 3);
			}
			folds++;
			start = i;
			max = FOLD_CONT_MAX;
		}
		i += unit;
	}
	if (out) {
		sb_append(out, line + start, len - start);
		sb_append(out, "\r\n", 2);
	}
	return len + 2 + 3 * folds;
}

void vcard_fold_line(struct strbuf *out, const char *line, size_t len)
{
	fold(out, line, len);
}

size_t vcard_fold_line_len(const char *line, size_t len)
{
	return fold(NULL, line, len);
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

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool vcard_equals_ignoring_case(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower(word[i]))
			return false;
	return true;
}


#define MAX_NUMERIC_ID_DIGITS 18 /* fits int64_t */

bool vcard_id_from_text(const char *s, size_t n, struct vcard_id *out)
{
	memset(out, 0, sizeof(*out));
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

bool vcard_id_of(const struct jsonscan_doc *d, uint32_t v, struct arena *scratch,
		 struct vcard_id *out)
{
	memset(out, 0, sizeof(*out));
	if (jsonscan_int64(d, v, &out->num) == 0) {
		out->numeric = true;
		return true;
	}
	size_t n;
	const char *s = jsonscan_str(d, v, scratch, &n);
	return s && vcard_id_from_text(s, n, out);
}

void vcard_put_digits(struct strbuf *sb, int v, int digits)
{
	char buf[16];
	if (digits > (int)sizeof(buf))
		digits = (int)sizeof(buf);
	for (int i = digits - 1; i >= 0; i--) {
		buf[i] = (char)('0' + v % 10);
		v /= 10;
	}
	sb_append(sb, buf, (size_t)digits);
}
