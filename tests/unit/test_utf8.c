/* UTF-8 decoding, boundaries and repair. */
#include <string.h>

#include "check.h"
#include "utf8.h"

static void check_sanitize(const char *in, size_t n, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	utf8_sanitize(&sb, in, n);
	CHECK_BYTES(sb.data ? sb.data : "", sb.len, expected);
	sb_free(&sb);
}

int main(void)
{
	uint32_t cp;
	CHECK(utf8_decode("A", 1, &cp) == 1 && cp == 'A');
	CHECK(utf8_decode("\xC3\xAB", 2, &cp) == 2 && cp == 0xEB);
	CHECK(utf8_decode("\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600);
	CHECK(utf8_decode("\xC0\xAF", 2, &cp) == 0);         /* overlong */
	CHECK(utf8_decode("\xED\xA0\x80", 3, &cp) == 0);     /* surrogate */
	CHECK(utf8_decode("\xF4\x90\x80\x80", 4, &cp) == 0); /* > U+10FFFF */
	CHECK(utf8_decode("\xE6\x97", 2, &cp) == 0);         /* truncated */

	CHECK(utf8_boundary("ab\xC3\xAB", 4, 3) == 2);
	CHECK(utf8_boundary("ab\xC3\xAB", 4, 4) == 4);
	CHECK(utf8_boundary("\xF0\x9F\x98\x80x", 5, 3) == 0);

	check_sanitize("ok", 2, "ok");
	check_sanitize("a\xFF" "b", 3, "a\xEF\xBF\xBD" "b");
	check_sanitize("\xE6\x97", 2, "\xEF\xBF\xBD");
	check_sanitize("\xE6\x97x", 3, "\xEF\xBF\xBDx");
	check_sanitize("\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
	check_sanitize("Zo\xC3\xAB", 4, "Zo\xC3\xAB");

	CHECK(utf8_valid_prefix("Zo\xC3\xAB", 4) == 4);
	CHECK(utf8_valid_prefix("ab\xFF" "c", 4) == 2);
	CHECK(utf8_valid_prefix("ab\xE6\x97", 4) == 2); /* cut sequence */
	CHECK(utf8_ill_formed_len("\xE6\x97x", 3) == 2);
	CHECK(utf8_ill_formed_len("\xFF\x80", 2) == 1);
	CHECK(utf8_ill_formed_len("\xED\xA0\x80", 3) == 1); /* surrogate: lead alone */
	return check_finish("utf8");
}
