/*
 * api_walk.c - cursor-paged lists (api.h): one page, and the walk from page
 * to page under the walk guard.
 *
 * A page is scanned once (jsonscan, api_get_page) and handed on as it is:
 * the body, its tokens, the data array's elements with their exact text.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "strbuf.h"
#include "walkguard.h"

static void out_of_memory(struct api_error *err)
{
	err->err = ENOMEM;
	snprintf(err->message, sizeof(err->message), "out of memory");
}

int api_list_page(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *cursor, struct api_page *page, char **next, struct api_error *err)
{
	memset(page, 0, sizeof(*page));
	*next = NULL;
	struct strbuf req = STRBUF_INIT;
	sb_puts(&req, path);
	url_list_query(&req, q, cursor);
	if (sb_failed(&req)) {
		out_of_memory(err);
		return -ENOMEM;
	}
	int rc = api_get_page(conn, API_V2, req.data, page, err);
	sb_free(&req);
	if (rc)
		return rc;
	enum jsonscan_type data = jsonscan_type(&page->scan.doc, page->scan.data);
	if (data != JSONSCAN_ARRAY && data != JSONSCAN_NULL && data != JSONSCAN_NONE) {
		api_page_release(page);
		err->err = EIO;
		snprintf(err->message, sizeof(err->message),
			 "Pipedrive sent a page of %s whose data is not a list", path);
		return -EIO;
	}
	if (page->scan.cursor && !(*next = strndup(page->scan.cursor, page->scan.cursor_len))) {
		api_page_release(page);
		out_of_memory(err);
		return -ENOMEM;
	}
	return 0;
}

/* The identities of a page's items for the walk guard: ids, and in a walk
 * that is not ascending a hash of the text of elements without one. */
static size_t page_keys(const struct api_page *page, bool ascending, uint64_t *keys)
{
	const struct jsonscan_doc *d = &page->scan.doc;
	size_t k = 0;
	for (size_t i = 0; i < page->scan.count; i++) {
		const struct jsonscan_element *el = &page->scan.elements[i];
		int64_t id;
		if (jsonscan_int64(d, jsonscan_get(d, el->token, "id"), &id) == 0) {
			keys[k++] = (uint64_t)id;
		} else if (!ascending) {
			uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
			for (size_t b = 0; b < el->len; b++)
				h = (h ^ (unsigned char)page->body[el->start + b]) * UINT64_C(1099511628211);
			keys[k++] = h | UINT64_C(1) << 63; /* apart from ids */
		}
	}
	return k;
}

static int walk_stopped(enum walkguard_verdict v, const char *path, const struct walkguard *g,
			struct api_error *err)
{
	err->err = v == WALKGUARD_OUT_OF_MEMORY ? ENOMEM : EIO;
	snprintf(err->message, sizeof(err->message),
		 "Pipedrive's list %s did not end properly: %s (after %llu pages, %llu items); "
		 "stopped the walk; try again later, and report it if it persists",
		 path, walkguard_reason(v), (unsigned long long)g->pages,
		 (unsigned long long)g->items);
	return -err->err;
}

static bool query_ascending_by_id(const struct list_query *q)
{
	return q->sort_by && strcmp(q->sort_by, "id") == 0 && q->sort_direction &&
	       strcmp(q->sort_direction, "asc") == 0;
}

int api_walk_from(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *start_cursor, api_page_fn on_page, void *ctx, struct api_error *err)
{
	struct walkguard guard;
	walkguard_init(&guard, NULL, query_ascending_by_id(q), rl_now());
	char *cursor = NULL;
	int rc = 0;
	if (start_cursor) {
		enum walkguard_verdict v = walkguard_start_cursor(&guard, start_cursor, strlen(start_cursor));
		if (v != WALKGUARD_CONTINUE)
			rc = walk_stopped(v, path, &guard, err);
		else if (!(cursor = strdup(start_cursor)))
			rc = -ENOMEM;
	}
	uint64_t *keys = NULL;
	size_t keys_cap = 0;
	while (rc == 0) {
		struct api_page page;
		char *next = NULL;
		rc = api_list_page(conn, path, q, cursor, &page, &next, err);
		if (rc)
			break;
		size_t n = page.scan.count;
		if (n > keys_cap) {
			uint64_t *grown = realloc(keys, n * sizeof(*keys));
			if (!grown) {
				api_page_release(&page);
				free(next);
				rc = -ENOMEM;
				break;
			}
			keys = grown;
			keys_cap = n;
		}
		size_t nkeys = page_keys(&page, guard.ascending, keys);
		enum walkguard_verdict v = walkguard_page(&guard, keys, nkeys, n, next,
							  next ? strlen(next) : 0, rl_now());
		rc = on_page(ctx, &page);
		api_page_release(&page);
		if (rc == 0 && v != WALKGUARD_CONTINUE && v != WALKGUARD_DONE)
			rc = walk_stopped(v, path, &guard, err);
		free(cursor);
		cursor = next;
		if (rc || v == WALKGUARD_DONE)
			break;
	}
	if (rc == -ENOMEM && !err->message[0])
		out_of_memory(err);
	free(keys);
	free(cursor);
	walkguard_free(&guard);
	return rc;
}

int api_walk(struct api_conn *conn, const char *path, const struct list_query *q,
	     api_page_fn on_page, void *ctx, struct api_error *err)
{
	return api_walk_from(conn, path, q, NULL, on_page, ctx, err);
}
