/*
 * jsonscan_page.c - one page of a Pipedrive list read with the scanner
 * (jsonscan.h): success, the data elements' exact texts, the next cursor
 * and the error message.  Knows the shape of a list response, not HTTP.
 */
#include "jsonscan.h"

#include <string.h>

enum jsonscan_status jsonscan_page_parse(struct jsonscan_page *page, const char *body, size_t len,
					 struct arena *arena, const struct jsonscan_limits *limits)
{
	memset(page, 0, sizeof(*page));
	page->success = -1;
	enum jsonscan_status st = jsonscan_parse(&page->doc, body, len, arena, limits);
	if (st)
		return st;
	const struct jsonscan_doc *d = &page->doc;
	uint32_t root = jsonscan_root(d);
	if (jsonscan_type(d, root) != JSONSCAN_OBJECT)
		return JSONSCAN_E_NOT_OBJECT;

	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("success"), JSONSCAN_KEY("data"), JSONSCAN_KEY("additional_data"),
		JSONSCAN_KEY("error"),
	};
	uint32_t v[4];
	jsonscan_get_many(d, root, keys, 4, v);
	bool ok;
	if (jsonscan_bool(d, v[0], &ok) == 0)
		page->success = ok;
	page->data = v[1];
	if (jsonscan_type(d, v[1]) == JSONSCAN_ARRAY) {
		size_t n = jsonscan_count(d, v[1]);
		struct jsonscan_element *el = n ? arena_alloc(arena, n * sizeof(*el)) : NULL;
		if (n && !el)
			return JSONSCAN_E_NOMEM;
		size_t i = 0;
		JSONSCAN_FOREACH(d, v[1], e) {
			el[i].token = e;
			el[i].start = d->tokens[e].start;
			el[i].len = d->tokens[e].len;
			i++;
		}
		page->elements = el;
		page->count = n;
	}
	page->next_cursor = jsonscan_get(d, v[2], "next_cursor");
	if (jsonscan_type(d, page->next_cursor) == JSONSCAN_STRING &&
	    !(page->cursor = jsonscan_strdup(d, page->next_cursor, arena, &page->cursor_len)))
		return JSONSCAN_E_NOMEM;
	if (jsonscan_type(d, v[3]) == JSONSCAN_STRING &&
	    !(page->error = jsonscan_strdup(d, v[3], arena, &page->error_len)))
		return JSONSCAN_E_NOMEM;
	return JSONSCAN_OK;
}
