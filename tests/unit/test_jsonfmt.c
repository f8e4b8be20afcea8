/* The JSON re-indenter keeps every token's bytes and only changes layout. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "jsonfmt.h"

static void check_pretty(const char *in, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	jsonfmt_pretty(&sb, in, strlen(in));
	CHECK_BYTES(sb.data, sb.len, expected);
	CHECK(jsonfmt_pretty_len(in, strlen(in)) == strlen(expected));
	sb_free(&sb);
}

static void check_elements(const char *json, const char *key, size_t want, const char *first,
			   const char *last)
{
	struct jsonfmt_span spans[8];
	size_t n = jsonfmt_array_elements(json, strlen(json), key, spans, 8);
	CHECK(n == want);
	if (n == want && want != SIZE_MAX && want > 0) {
		CHECK_BYTES(json + spans[0].start, spans[0].len, first);
		CHECK_BYTES(json + spans[n - 1].start, spans[n - 1].len, last);
	}
}

static void test_array_elements(void)
{
	check_elements("{\"success\":true,\"data\":[{\"id\":1,\"n\":\"a]},\\\"\"},{\"id\":2}],"
		       "\"additional_data\":{\"next_cursor\":null}}",
		       "data", 2, "{\"id\":1,\"n\":\"a]},\\\"\"}", "{\"id\":2}");
	check_elements("{ \"data\" : [ 1 , \"x\" , [2,3] ] }", "data", 3, "1", "[2,3]");
	check_elements("{\"x\":{\"data\":[1]},\"data\":[]}", "data", 0, "", "");
	check_elements("{\"data\":null}", "data", SIZE_MAX, "", "");
	check_elements("{\"other\":[1]}", "data", SIZE_MAX, "", "");
	check_elements("{\"data\":[1,2", "data", SIZE_MAX, "", "");
	check_elements("[1]", "data", SIZE_MAX, "", "");
	/* json-c keeps the last of duplicate keys: refuse to guess. */
	check_elements("{\"data\":[1],\"data\":[2]}", "data", SIZE_MAX, "", "");
	check_elements("{\"data\":[1],\"x\":", "data", SIZE_MAX, "", "");
}

int main(void)
{
	test_array_elements();
	check_pretty("{\"id\":1,\"name\":\"A, \\\"B\\\" {x}\"}",
		     "{\n  \"id\": 1,\n  \"name\": \"A, \\\"B\\\" {x}\"\n}\n");
	check_pretty("{\"a\":[],\"b\":{},\"c\":[1,2.50,-3e5],\"d\":null}",
		     "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    2.50,\n    -3e5\n  ],\n"
		     "  \"d\": null\n}\n");
	check_pretty("{\"e\":[{\"v\":\"x:y\",\"p\":true}]}",
		     "{\n  \"e\": [\n    {\n      \"v\": \"x:y\",\n      \"p\": true\n    }\n  ]\n}\n");
	check_pretty("\"back\\\\slash\\\\\"", "\"back\\\\slash\\\\\"\n");
	/* Broken input is copied through without running past the end. */
	check_pretty("{\"a\":\"unterminated", "{\n  \"a\": \"unterminated\n");
	check_pretty("]]]", "\n]\n]\n]\n");
	/* Invalid UTF-8 inside strings (a buggy or hostile server): each
	 * maximal ill-formed subpart becomes U+FFFD, valid text is untouched,
	 * and the predicted length counts the replacements. */
	check_pretty("{\"n\":\"a\xFF" "b\xC3(\xE6\x97\",\"ok\":\"Zo\xC3\xAB\"}",
		     "{\n  \"n\": \"a\xEF\xBF\xBD" "b\xEF\xBF\xBD(\xEF\xBF\xBD\",\n"
		     "  \"ok\": \"Zo\xC3\xAB\"\n}\n");
	check_pretty("{\"\xC0\xAF\":[\"\xED\xA0\x80\"]}",
		     "{\n  \"\xEF\xBF\xBD\xEF\xBF\xBD\": [\n    \"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"\n  ]\n}\n");
	/* outside strings too (garbage the tokener would not accept anyway) */
	check_pretty("[1\xFF]", "[\n  1\xEF\xBF\xBD\n]\n");
	return check_finish("jsonfmt");
}
