/*
 * fuzz_common.h - checks shared by the libFuzzer harnesses.
 *
 * Everything here is written independently of src/ (no utf8_decode, no
 * vcard internals) so a harness compares the code under test with a second
 * implementation of the contract instead of with itself.  A violated
 * contract prints what was wrong and abort()s, which libFuzzer reports as a
 * crash and saves the input as crash-<sha1>.
 */
#ifndef PDFS_FUZZ_COMMON_H
#define PDFS_FUZZ_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "\nFUZZ CHECK FAILED %s:%d: %s\n  ",   \
				__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* Print s[0..n) (at most 300 bytes) escaped, for failure messages. */
static inline void fuzz_dump(const char *what, const char *s, size_t n)
{
	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02X", c);
	}
	fprintf(stderr, "%s\"\n", n > 300 ? "..." : "");
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) per Unicode Table 3-7,
 * 0 if ill-formed.  *sub gets the length of the maximal ill-formed subpart
 * (>= 1) when 0 is returned.
 */
static inline size_t ref_utf8_seq(const unsigned char *s, size_t n, size_t *sub)
{
	unsigned char c = s[0];
	size_t want;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		want = 2;
	else if (c == 0xE0)
		want = 3, lo = 0xA0;
	else if (c == 0xED)
		want = 3, hi = 0x9F;
	else if (c >= 0xE1 && c <= 0xEF)
		want = 3;
	else if (c == 0xF0)
		want = 4, lo = 0x90;
	else if (c == 0xF4)
		want = 4, hi = 0x8F;
	else if (c >= 0xF1 && c <= 0xF3)
		want = 4;
	else {
		*sub = 1;
		return 0;
	}
	size_t i = 1;
	if (i < n && s[1] >= lo && s[1] <= hi) {
		i = 2;
		while (i < want && i < n && s[i] >= 0x80 && s[i] <= 0xBF)
			i++;
	}
	if (i == want)
		return want;
	*sub = i;
	return 0;
}

static inline bool ref_valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, sub;
	while (i < n) {
		size_t k = ref_utf8_seq(s + i, n - i, &sub);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Reference sanitizer: malloc'd copy with each maximal ill-formed subpart
 * replaced by U+FFFD. */
static inline char *ref_sanitize(const char *str, size_t n, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)str;
	char *out = malloc(n * 3 + 1);
	size_t o = 0, i = 0, sub;
	if (!out)
		abort();
	while (i < n) {
		size_t k = ref_utf8_seq(s + i, n - i, &sub);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += sub;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* json_object_equal, except that NaN equals NaN (json-c's tokener accepts
 * NaN in non-strict mode and json_object_equal compares doubles with ==). */
static inline bool fuzz_json_equal(struct json_object *a, struct json_object *b)
{
	if (json_object_equal(a, b))
		return true;
	if (!a || !b || json_object_get_type(a) != json_object_get_type(b))
		return false;
	switch (json_object_get_type(a)) {
	case json_type_double: {
		double x = json_object_get_double(a), y = json_object_get_double(b);
		return x == y || (isnan(x) && isnan(y));
	}
	case json_type_array: {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!fuzz_json_equal(json_object_array_get_idx(a, i),
					     json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va) {
			struct json_object *vb;
			if (!json_object_object_get_ex(b, key, &vb) || !fuzz_json_equal(va, vb))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/*
 * Check one rendered vCard against the contract of vcard.h: UTF-8 only, CRLF
 * after every physical line and no other CR/LF, every physical line at most
 * 75 octets (continuations start with one SPACE), BEGIN/VERSION first, END
 * last, exactly one FN with a non-empty value, no controls but TAB.
 * `version` is 30 or 40.
 */
static inline void fuzz_check_vcard(const char *s, size_t n, int version)
{
	if (!ref_valid_utf8(s, n)) {
		size_t bad = 0, sub;
		while (ref_utf8_seq((const unsigned char *)s + bad, n - bad, &sub))
			bad += ref_utf8_seq((const unsigned char *)s + bad, n - bad, &sub);
		size_t from = bad; /* start of the logical line */
		while (from > 0 && !(from >= 2 && s[from - 2] == '\r' && s[from - 1] == '\n' &&
				     s[from] != ' '))
			from--;
		fuzz_dump("logical line with the bad byte", s + from, n - from);
		FUZZ_CHECK(0, "card is not valid UTF-8 at byte %zu", bad);
	}
	FUZZ_CHECK(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n',
		   "card does not end with CRLF");

	/* Unfold into logical lines as we go. */
	char *logical = malloc(n + 1);
	if (!logical)
		abort();
	size_t ll = 0, line_no = 0, fn_count = 0;
	bool have_logical = false, seen_end = false;
	size_t pos = 0;
	while (pos < n) {
		size_t end = pos;
		while (end < n && s[end] != '\r' && s[end] != '\n')
			end++;
		FUZZ_CHECK(end + 1 < n && s[end] == '\r' && s[end + 1] == '\n',
			   "bare CR/LF or missing CRLF at byte %zu", end);
		size_t phys = end - pos;
		if (phys > 75) {
			fuzz_dump("line", s + pos, phys);
			FUZZ_CHECK(phys <= 75, "physical line of %zu octets", phys);
		}
		for (size_t i = pos; i < end; i++) {
			unsigned char c = (unsigned char)s[i];
			if ((c < 0x20 && c != '\t') || c == 0x7F) {
				fuzz_dump("line", s + pos, phys);
				FUZZ_CHECK(0, "control byte 0x%02X in the card", c);
			}
		}
		bool continuation = phys > 0 && s[pos] == ' ';
		FUZZ_CHECK(phys > 0, "empty physical line");
		if (continuation) {
			FUZZ_CHECK(have_logical, "card starts with a continuation line");
			FUZZ_CHECK(phys > 1, "continuation line holds only the SPACE");
			memcpy(logical + ll, s + pos + 1, phys - 1);
			ll += phys - 1;
		}
		pos = end + 2;
		bool next_is_cont = pos < n && s[pos] == ' ';
		if (!continuation) {
			memcpy(logical, s + end - phys, phys);
			ll = phys;
			have_logical = true;
		}
		if (next_is_cont)
			continue;
		/* a complete logical line */
		logical[ll] = '\0';
		FUZZ_CHECK(!seen_end, "content after END:VCARD");
		FUZZ_CHECK(ref_valid_utf8(logical, ll), "logical line %zu is not UTF-8 "
			   "(fold split a character)", line_no);
		FUZZ_CHECK(memchr(logical, ':', ll) != NULL, "logical line %zu has no ':'",
			   line_no);
		if (line_no == 0)
			FUZZ_CHECK(ll == 11 && !memcmp(logical, "BEGIN:VCARD", 11),
				   "first line is not BEGIN:VCARD");
		if (line_no == 1) {
			const char *want = version == 40 ? "VERSION:4.0" : "VERSION:3.0";
			FUZZ_CHECK(ll == 11 && !memcmp(logical, want, 11),
				   "second line is not %s", want);
		}
		if (ll >= 3 && !memcmp(logical, "FN:", 3)) {
			fn_count++;
			FUZZ_CHECK(ll > 3, "empty FN");
		}
		if (ll == 9 && !memcmp(logical, "END:VCARD", 9))
			seen_end = true;
		line_no++;
	}
	FUZZ_CHECK(seen_end, "last line is not END:VCARD");
	FUZZ_CHECK(fn_count == 1, "%zu FN lines", fn_count);
	free(logical);
}

/* Deterministic id from input bytes, in 1..2^53-1. */
static inline int64_t fuzz_id_from(const uint8_t *d, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		v = v << 8 | d[i];
	return (int64_t)(v % UINT64_C(9007199254740991)) + 1;
}

#endif
