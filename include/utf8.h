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

#endif
