/* Base URL rules, company domains and the list query string. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "url.h"

static void check_base(const char *in, const char *v2, const char *v1)
{
	char err[256] = "";
	char *one = NULL;
	char *two = url_normalize_base(in, &one, err, sizeof(err));
	if (!v2) {
		CHECK(two == NULL && err[0]);
	} else {
		CHECK(two && strcmp(two, v2) == 0);
		CHECK(one && strcmp(one, v1) == 0);
	}
	free(two);
	free(one);
}

static void check_query(const struct list_query *q, const char *cursor, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	url_list_query(&sb, q, cursor);
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, expected);
	sb_free(&sb);
}

int main(void)
{
	check_base("https://api.pipedrive.com/api/v2", "https://api.pipedrive.com/api/v2",
		   "https://api.pipedrive.com/api/v1");
	check_base("https://acme.pipedrive.com/api/v2//", "https://acme.pipedrive.com/api/v2",
		   "https://acme.pipedrive.com/api/v1");
	check_base("http://127.0.0.1:8080/api/v2/", "http://127.0.0.1:8080/api/v2",
		   "http://127.0.0.1:8080/api/v1");
	check_base("http://localhost/api/v2", "http://localhost/api/v2", "http://localhost/api/v1");
	check_base("http://[::1]:9/api/v2", "http://[::1]:9/api/v2", "http://[::1]:9/api/v1");
	check_base("http://example.com/api/v2", NULL, NULL);
	check_base("http://127.0.0.1.evil.com/api/v2", NULL, NULL);
	check_base("http://127.0.0.1@evil.com/api/v2", NULL, NULL);
	check_base("ftp://127.0.0.1/api/v2", NULL, NULL);
	check_base("https://api.pipedrive.com/api/v1", NULL, NULL);
	check_base("https://api.pipedrive.com/api/v2?x=1", NULL, NULL);

	CHECK(url_host_is_loopback("http://127.1.2.3:1/x"));
	CHECK(!url_host_is_loopback("http://128.0.0.1/x"));

	char err[256];
	char *u = url_from_company_domain("acme", err, sizeof(err));
	CHECK(u && strcmp(u, "https://acme.pipedrive.com/api/v2") == 0);
	free(u);
	CHECK(url_from_company_domain("evil.com/x", err, sizeof(err)) == NULL);
	CHECK(url_from_company_domain("", err, sizeof(err)) == NULL);

	struct list_query q = { .owner_id = 7, .sort_by = "id", .sort_direction = "asc", .limit = 500 };
	check_query(&q, NULL, "?owner_id=7&sort_by=id&sort_direction=asc&limit=500");
	check_query(&q, "eyJ+/=", "?owner_id=7&sort_by=id&sort_direction=asc&limit=500&cursor=eyJ%2B%2F%3D");
	/* The search query: the term percent-encoded as UTF-8 bytes. */
	struct strbuf sq = STRBUF_INIT;
	url_search_query(&sq, "Zoë & Co/+1", 500, NULL);
	CHECK_BYTES(sq.data, sq.len, "?term=Zo%C3%AB%20%26%20Co%2F%2B1&limit=500");
	sb_reset(&sq);
	url_search_query(&sq, "ann", 500, "eyJ=");
	CHECK_BYTES(sq.data, sq.len, "?term=ann&limit=500&cursor=eyJ%3D");
	sb_free(&sq);
	struct list_query q2 = { .ids = "1,2,3", .updated_since = "2025-01-01T10:20:00Z", .limit = 100 };
	check_query(&q2, NULL, "?ids=1%2C2%2C3&updated_since=2025-01-01T10%3A20%3A00Z&limit=100");
	struct list_query empty = { 0 };
	check_query(&empty, NULL, "");
	return check_finish("url");
}
