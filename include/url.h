/*
 * url.h - the URLs pipedrivefs talks to, built and checked without I/O.
 *
 * The configured base is the {baseUrl} of the persons endpoint document, e.g.
 * https://api.pipedrive.com/api/v2; the v1 endpoints (users, filters) live
 * beside it (…/api/v1).  Query strings contain only documented parameters,
 * percent-encoded.  The token is never part of a URL.
 */
#ifndef PDFS_URL_H
#define PDFS_URL_H

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

#define URL_DEFAULT_BASE "https://api.pipedrive.com/api/v2"

/*
 * Normalise a base URL: trims trailing slashes, requires http(s)://host...
 * ending in "/v2", refuses plain http unless the host is a loopback address
 * (127.0.0.0/8, ::1, localhost).  On success returns a malloc'd string and
 * sets *v1 to the malloc'd v1 base; on failure returns NULL and writes a
 * message for the user into err (errlen bytes).
 */
char *url_normalize_base(const char *url, char **v1, char *err, size_t errlen);

/* "acme" -> "https://acme.pipedrive.com/api/v2" (malloc'd), or NULL with a
 * message if the domain is not a plain DNS label sequence. */
char *url_from_company_domain(const char *domain, char *err, size_t errlen);

/* True if the URL's host is a loopback address. */
bool url_host_is_loopback(const char *url);

/* Append s percent-encoded (RFC 3986 unreserved characters kept). */
void url_encode(struct strbuf *out, const char *s);

/* The query of one GET /persons (or /organizations) page. Zero / NULL fields
 * are left out. */
struct list_query {
	int64_t owner_id;
	int64_t org_id;
	int64_t filter_id;
	const char *ids;            /* comma separated, ≤ 100 */
	const char *updated_since;  /* whole-second RFC 3339 */
	const char *updated_until;
	const char *sort_by;        /* id | update_time | add_time */
	const char *sort_direction; /* asc | desc */
	const char *include_fields;
	const char *custom_fields;
	int limit;                  /* 1..500 */
};

/* Append "?k=v&..." for the query and the cursor (NULL on the first page). */
void url_list_query(struct strbuf *out, const struct list_query *q, const char *cursor);

/* Append the query of one GET /persons/search page: "?term=<term>&limit=N"
 * and the cursor (NULL on the first page); the term percent-encoded. */
void url_search_query(struct strbuf *out, const char *term, int limit, const char *cursor);

#endif
