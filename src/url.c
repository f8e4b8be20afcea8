#include "url.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Host part of an absolute URL: [start, end) offsets; false if none. */
static bool url_host_span(const char *url, size_t *start, size_t *end)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	p += 3;
	const char *at = NULL;
	for (const char *q = p; *q && *q != '/'; q++)
		if (*q == '@')
			at = q;
	if (at)
		p = at + 1;
	const char *h = p, *e;
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e)
			return false;
		*start = (size_t)(h + 1 - url);
		*end = (size_t)(e - url);
		return true;
	}
	e = h;
	while (*e && *e != '/' && *e != ':' && *e != '?' && *e != '#')
		e++;
	if (e == h)
		return false;
	*start = (size_t)(h - url);
	*end = (size_t)(e - url);
	return true;
}

bool url_host_is_loopback(const char *url)
{
	size_t s, e;
	if (!url_host_span(url, &s, &e))
		return false;
	size_t n = e - s;
	const char *h = url + s;
	if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 3 && strncmp(h, "::1", 3) == 0))
		return true;
	if (n < 9 || strncmp(h, "127.", 4) != 0)
		return false;
	int dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)h[i]))
			return false;
	}
	return dots == 3;
}

char *url_normalize_base(const char *url, char **v1, char *err, size_t errlen)
{
	*v1 = NULL;
	bool https = strncasecmp(url, "https://", 8) == 0;
	bool http = strncasecmp(url, "http://", 7) == 0;
	size_t hs, he;
	if ((!https && !http) || !url_host_span(url, &hs, &he)) {
		snprintf(err, errlen, "base_url '%s' is not an http(s) URL; use e.g. %s",
			 url, URL_DEFAULT_BASE);
		return NULL;
	}
	if (http && !url_host_is_loopback(url)) {
		snprintf(err, errlen,
			 "base_url '%s' uses plain http to a non-loopback host, which would send the "
			 "API token unencrypted; use https", url);
		return NULL;
	}
	if (strchr(url, '?') || strchr(url, '#')) {
		snprintf(err, errlen, "base_url '%s' must not contain a query or fragment", url);
		return NULL;
	}
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n < 3 || strncmp(url + n - 3, "/v2", 3) != 0) {
		snprintf(err, errlen,
			 "base_url '%s' must end in /api/v2 (the persons endpoint's base), e.g. %s",
			 url, URL_DEFAULT_BASE);
		return NULL;
	}
	char *base = strndup(url, n);
	char *v1base = strndup(url, n);
	if (!base || !v1base) {
		free(base);
		free(v1base);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v1base[n - 1] = '1';
	*v1 = v1base;
	return base;
}

char *url_from_company_domain(const char *domain, char *err, size_t errlen)
{
	size_t n = strlen(domain);
	bool ok = n > 0 && n <= 63 && domain[0] != '-' && domain[n - 1] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)domain[i]) || domain[i] == '-';
	if (!ok) {
		snprintf(err, errlen,
			 "'%s' is not a Pipedrive company domain (the NAME in NAME.pipedrive.com: "
			 "letters, digits and '-')", domain);
		return NULL;
	}
	char *url = NULL;
	if (asprintf(&url, "https://%s.pipedrive.com/api/v2", domain) < 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return url;
}

void url_encode(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			sb_putc(out, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_append(out, esc, 3);
		}
	}
}

static void add_param(struct strbuf *out, bool *first, const char *key)
{
	sb_putc(out, *first ? '?' : '&');
	*first = false;
	sb_puts(out, key);
	sb_putc(out, '=');
}

static void add_str(struct strbuf *out, bool *first, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	add_param(out, first, key);
	url_encode(out, value);
}

static void add_int(struct strbuf *out, bool *first, const char *key, int64_t value)
{
	if (value <= 0)
		return;
	add_param(out, first, key);
	sb_printf(out, "%" PRId64, value);
}

void url_list_query(struct strbuf *out, const struct list_query *q, const char *cursor)
{
	bool first = true;
	add_int(out, &first, "filter_id", q->filter_id);
	add_str(out, &first, "ids", q->ids);
	add_int(out, &first, "owner_id", q->owner_id);
	add_int(out, &first, "org_id", q->org_id);
	add_str(out, &first, "updated_since", q->updated_since);
	add_str(out, &first, "updated_until", q->updated_until);
	add_str(out, &first, "sort_by", q->sort_by);
	add_str(out, &first, "sort_direction", q->sort_direction);
	add_str(out, &first, "include_fields", q->include_fields);
	add_str(out, &first, "custom_fields", q->custom_fields);
	add_int(out, &first, "limit", q->limit);
	add_str(out, &first, "cursor", cursor);
}

void url_search_query(struct strbuf *out, const char *term, int limit, const char *cursor)
{
	bool first = true;
	add_str(out, &first, "term", term);
	add_int(out, &first, "limit", limit);
	add_str(out, &first, "cursor", cursor);
}
