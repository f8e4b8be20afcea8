/*
 * utf8.h - small UTF-8 helpers shared by the renderers and the file namer.
 * Pure functions, no allocation except utf8_sanitize's appends.
 */
#ifndef PDFS_UTF8_H
#define PDFS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/*
 * Decode one well-formed UTF-8 sequence at s[0..n).  Returns its length
 * (1..4) and stores the code point, or returns 0 if the bytes there are not a
 * well-formed sequence (overlong forms, surrogates, > U+10FFFF, truncated).
 */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Length of the longest prefix of s[0..max) that ends on a character
 * boundary of the well-formed text (never cuts a sequence in two). */
size_t utf8_boundary(const char *s, size_t len, size_t max);

/* Append s[0..n) to out with every ill-formed sequence replaced by U+FFFD
 * (one replacement per maximal ill-formed subpart, as Unicode recommends). */
void utf8_sanitize(struct strbuf *out, const char *s, size_t n);

/* The same, handing each piece of the repaired text (a run of valid bytes,
 * or UTF8_REPLACEMENT) to put(ctx, piece, len) in order. */
void utf8_sanitize_each(const char *s, size_t n,
			void (*put)(void *ctx, const char *piece, size_t len), void *ctx);

/* Length of the longest prefix of s[0..n) that is well-formed UTF-8. */
size_t utf8_valid_prefix(const char *s, size_t n);

/* Length of the maximal ill-formed subpart at s[0..n) (n > 0, and s[0] does
 * not start a well-formed sequence): the bytes one U+FFFD replaces. */
size_t utf8_ill_formed_len(const char *s, size_t n);

#endif
