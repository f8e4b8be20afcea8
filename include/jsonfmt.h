/*
 * jsonfmt.h - re-indent JSON text without changing a single value.
 *
 * Input is one JSON value as text (the compact form json-c produces); output
 * is the same tokens with two-space indentation, "key": value spacing, empty
 * containers kept as {} and [], and a final newline - the layout of Python's
 * json.dumps(indent=2).  Strings and numbers are copied byte for byte, so the
 * file shows exactly the values the API sent.  Pure; bad input never crashes
 * (it is copied through, best effort).
 */
#ifndef PDFS_JSONFMT_H
#define PDFS_JSONFMT_H

#include <stddef.h>

#include "strbuf.h"

void jsonfmt_pretty(struct strbuf *out, const char *json, size_t len);

#endif
