/* The JSON re-indenter keeps every token's bytes and only changes layout. */
#include <string.h>

#include "check.h"
#include "jsonfmt.h"

static void check_pretty(const char *in, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	jsonfmt_pretty(&sb, in, strlen(in));
	CHECK_BYTES(sb.data, sb.len, expected);
	sb_free(&sb);
}

int main(void)
{
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
	return check_finish("jsonfmt");
}
