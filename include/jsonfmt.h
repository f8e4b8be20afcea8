/*
 * jsonfmt.h - re-indent JSON text without changing a single value.
 *
 * Input is one JSON value as text (the compact form json-c produces); output
 * is the same tokens with two-space indentation, "key": value spacing, empty
 * containers kept as {} and [], and a final newline - the layout of Python's
 * json.dumps(indent=2).  Strings and numbers are copied byte for byte, so the
 * file shows exactly the values the API sent - except that each maximal
 * ill-formed UTF-8 subpart becomes U+FFFD, so the output is always valid
 * UTF-8 (a buggy or hostile server may send raw invalid bytes inside
 * strings; json-c accepts them).  Pure; bad input never crashes (it is
 * copied through, best effort).
 */
#ifndef PDFS_JSONFMT_H
#define PDFS_JSONFMT_H

#include <stddef.h>

#include "strbuf.h"

void jsonfmt_pretty(struct strbuf *out, const char *json, size_t len);
/* The length jsonfmt_pretty would append, without building it. */
size_t jsonfmt_pretty_len(const char *json, size_t len);

/* A byte range of JSON text. */
struct jsonfmt_span {
	size_t start;
	size_t len;
};

/*
 * The byte ranges of the elements of the array stored under `key` in the
 * top-level object of json (e.g. the "data" of a list response), so each
 * element can be kept exactly as it was sent.  Fills at most max spans and
 * returns how many elements there are, or SIZE_MAX if the text does not have
 * that shape.  Scans; does not validate the elements.
 */
size_t jsonfmt_array_elements(const char *json, size_t len, const char *key,
			      struct jsonfmt_span *out, size_t max);

#endif
