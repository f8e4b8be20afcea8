#include "utf8.h"

#include <string.h>

size_t utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2; v = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3; v = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

size_t utf8_boundary(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t i = max;
	/* Step back over continuation bytes to the start of the cut sequence. */
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

size_t utf8_ill_formed_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t want;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		want = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		want = 3;
		if (c == 0xE0) lo = 0xA0;
		if (c == 0xED) hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		want = 4;
		if (c == 0xF0) lo = 0x90;
		if (c == 0xF4) hi = 0x8F;
	} else {
		return 1;
	}
	size_t i = 1;
	if (i < n && i < want && s[i] >= lo && s[i] <= hi) {
		i++;
		while (i < n && i < want && (s[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		if ((unsigned char)s[i] < 0x80) {
			i++;
			/* a run of ASCII, eight bytes at a time */
			while (n - i >= 8) {
				uint64_t x;
				memcpy(&x, s + i, 8);
				if (x & 0x8080808080808080ull)
					break;
				i += 8;
			}
			continue;
		}
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (!k)
			break;
		i += k;
	}
	return i;
}

void utf8_sanitize_each(const char *s, size_t n,
			void (*put)(void *ctx, const char *piece, size_t len), void *ctx)
{
	size_t i = 0;
	while (i < n) {
		size_t valid = utf8_valid_prefix(s + i, n - i);
		if (valid)
			put(ctx, s + i, valid);
		i += valid;
		if (i < n) {
			put(ctx, UTF8_REPLACEMENT, 3);
			i += utf8_ill_formed_len(s + i, n - i);
		}
	}
}

static void append_piece(void *ctx, const char *piece, size_t len)
{
	sb_append(ctx, piece, len);
}

void utf8_sanitize(struct strbuf *out, const char *s, size_t n)
{
	utf8_sanitize_each(s, n, append_piece, out);
}
