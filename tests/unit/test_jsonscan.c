/*
 * Unit tests for the strict JSON scanner (jsonscan.h).
 * argv[1]: the folder with the saved pages (tests/unit/data).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "check.h"
#include "jsonscan.h"

static struct arena arena;

static enum jsonscan_status scan(struct jsonscan_doc *d, const char *text)
{
	return jsonscan_parse(d, text, strlen(text), &arena, NULL);
}

/* ---- grammar ------------------------------------------------------------ */

static void test_accepts(void)
{
	static const char *const good[] = {
		"0", "-0", "1", "-1", "10", "0.5", "-0.0", "1e5", "1E+5", "1e-5", "0e0", "1.25e+10",
		"\"\"", "\"a\"", "true", "false", "null", "[]", "{}", " [ ] ", "\t\r\n1\n",
		"[1,2,3]", "{\"a\":1}", "{\"a\" : [ {} , [] , \"x\" ] }", "[[[]]]",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\"", "\"\x7f\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
		"{\"a\":1,\"a\":2}", "9223372036854775808", "1e999",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct jsonscan_doc d;
		enum jsonscan_status st = scan(&d, good[i]);
		CHECK(st == JSONSCAN_OK);
		if (st != JSONSCAN_OK)
			fprintf(stderr, "  rejected [%s]: %s at %zu\n", good[i], jsonscan_strerror(st),
				d.error_at);
	}
}

static void test_rejects(void)
{
	static const struct {
		const char *text;
		enum jsonscan_status status;
		size_t at;
	} bad[] = {
		{ "", JSONSCAN_E_EMPTY, 0 },
		{ " \n ", JSONSCAN_E_EMPTY, 3 },
		{ "01", JSONSCAN_E_NUMBER, 0 },          /* leading zero */
		{ "[-01]", JSONSCAN_E_NUMBER, 1 },       /* json-c accepts this */
		{ "[00]", JSONSCAN_E_NUMBER, 1 },        /* json-c accepts this */
		{ "[1.]", JSONSCAN_E_NUMBER, 1 },        /* json-c accepts this */
		{ "[1.e5]", JSONSCAN_E_NUMBER, 1 },      /* json-c accepts this */
		{ "[-.5]", JSONSCAN_E_NUMBER, 1 },       /* json-c accepts this */
		{ ".5", JSONSCAN_E_UNEXPECTED, 0 },
		{ "+1", JSONSCAN_E_UNEXPECTED, 0 },
		{ "-", JSONSCAN_E_NUMBER, 0 },
		{ "1e", JSONSCAN_E_NUMBER, 0 },
		{ "1e+", JSONSCAN_E_NUMBER, 0 },
		{ "[NaN]", JSONSCAN_E_UNEXPECTED, 1 },   /* json-c accepts this */
		{ "[Infinity]", JSONSCAN_E_UNEXPECTED, 1 },
		{ "[-Infinity]", JSONSCAN_E_NUMBER, 1 },
		{ "TRUE", JSONSCAN_E_UNEXPECTED, 0 },
		{ "tru", JSONSCAN_E_UNEXPECTED, 0 },
		{ "truex", JSONSCAN_E_TRAILING, 4 },
		{ "nul", JSONSCAN_E_UNEXPECTED, 0 },
		{ "[1,]", JSONSCAN_E_UNEXPECTED, 3 },    /* trailing commas */
		{ "{\"a\":1,}", JSONSCAN_E_UNEXPECTED, 7 },
		{ "[,1]", JSONSCAN_E_UNEXPECTED, 1 },
		{ "[1 2]", JSONSCAN_E_UNEXPECTED, 3 },
		{ "{\"a\" 1}", JSONSCAN_E_UNEXPECTED, 5 },
		{ "{\"a\"}", JSONSCAN_E_UNEXPECTED, 4 },
		{ "{\"a\":}", JSONSCAN_E_UNEXPECTED, 5 },
		{ "{1:2}", JSONSCAN_E_UNEXPECTED, 1 },
		{ "{'a':1}", JSONSCAN_E_UNEXPECTED, 1 }, /* json-c accepts single-quoted keys */
		{ "'a'", JSONSCAN_E_UNEXPECTED, 0 },
		{ "[1]]", JSONSCAN_E_TRAILING, 3 },
		{ "[1}", JSONSCAN_E_UNEXPECTED, 2 },
		{ "{\"a\":1]", JSONSCAN_E_UNEXPECTED, 6 },
		{ "/*c*/1", JSONSCAN_E_UNEXPECTED, 0 },  /* comments */
		{ "1//c", JSONSCAN_E_TRAILING, 1 },
		{ "1 x", JSONSCAN_E_TRAILING, 2 },
		{ "{} {}", JSONSCAN_E_TRAILING, 3 },
		{ "\v1", JSONSCAN_E_UNEXPECTED, 0 },     /* only the four JSON white spaces */
		{ "1\f", JSONSCAN_E_TRAILING, 1 },
		{ "\"a\tb\"", JSONSCAN_E_CONTROL, 2 },   /* json-c accepts raw controls */
		{ "\"a\x1f\"", JSONSCAN_E_CONTROL, 2 },
		{ "\"\\x\"", JSONSCAN_E_ESCAPE, 1 },
		{ "\"\\'\"", JSONSCAN_E_ESCAPE, 1 },
		{ "\"\\u12\"", JSONSCAN_E_ESCAPE, 1 },
		{ "\"\\uZZZZ\"", JSONSCAN_E_ESCAPE, 1 },
		{ "\"abc", JSONSCAN_E_END, 0 },
		{ "\"abc\\", JSONSCAN_E_END, 0 },
		{ "[1,2", JSONSCAN_E_END, 4 },
		{ "[1,", JSONSCAN_E_END, 3 },
		{ "{\"a\":", JSONSCAN_E_END, 5 },
		{ "{\"a\"", JSONSCAN_E_END, 4 },
		{ "{", JSONSCAN_E_END, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jsonscan_doc d;
		enum jsonscan_status st = scan(&d, bad[i].text);
		CHECK(st == bad[i].status && d.error_at == bad[i].at && jsonscan_root(&d) == 0);
		if (st != bad[i].status || d.error_at != bad[i].at)
			fprintf(stderr, "  [%s]: got %s at %zu\n", bad[i].text, jsonscan_strerror(st),
				d.error_at);
	}
	/* NUL bytes: never white space, never raw inside a string */
	struct jsonscan_doc d;
	CHECK(jsonscan_parse(&d, "[1]\0", 4, &arena, NULL) == JSONSCAN_E_TRAILING);
	CHECK(jsonscan_parse(&d, "\"a\0b\"", 5, &arena, NULL) == JSONSCAN_E_CONTROL);
	/* the text may stop anywhere: nothing is read past len */
	CHECK(jsonscan_parse(&d, "[true]", 4, &arena, NULL) == JSONSCAN_E_UNEXPECTED);
	CHECK(jsonscan_parse(&d, "12345", 3, &arena, NULL) == JSONSCAN_OK);
	int64_t v = 0;
	CHECK(jsonscan_int64(&d, 1, &v) == 0 && v == 123);
	CHECK(strcmp(jsonscan_strerror(JSONSCAN_E_DEPTH), "nested too deep") == 0);
}

static void test_invalid_utf8_accepted_and_flagged(void)
{
	struct jsonscan_doc d;
	CHECK(scan(&d, "[\"ok \xc3\xa9\", \"bad \xff\", \"cut \xe2\x82\", \"surrogate \xed\xa0\x80\", "
		       "\"overlong \xc0\x80\", \"\\u00e9\"]") == JSONSCAN_OK);
	uint8_t want[] = { 0, 1, 1, 1, 1, 0 };
	size_t i = 0;
	JSONSCAN_FOREACH(&d, 1, e)
	{
		CHECK(jsonscan_has_flag(&d, e, JSONSCAN_BAD_UTF8) == want[i]);
		i++;
	}
	CHECK(i == 6);
	size_t n;
	const char *s = jsonscan_str(&d, jsonscan_at(&d, 1, 1), NULL, &n);
	CHECK_BYTES(s, n, "bad \xff"); /* the bytes as they were */
	/* where to look: the document, then the subtree */
	CHECK((d.flags & JSONSCAN_BAD_UTF8) && (d.flags & JSONSCAN_ESCAPES));
	CHECK(scan(&d, "[{\"a\":[\"\xc3\xa9\"]},{\"b\":{\"c\":\"\xff\"}},1.5]") == JSONSCAN_OK);
	CHECK(d.flags == (JSONSCAN_BAD_UTF8 | JSONSCAN_NOT_INT));
	CHECK(jsonscan_subtree_flags(&d, jsonscan_at(&d, 1, 0)) == 0);
	CHECK(jsonscan_subtree_flags(&d, jsonscan_at(&d, 1, 1)) == JSONSCAN_BAD_UTF8);
	CHECK(jsonscan_subtree_flags(&d, 1) == d.flags && jsonscan_subtree_flags(&d, 0) == 0);
	CHECK(scan(&d, "{\"clean\":[\"text\",1,true]}") == JSONSCAN_OK && d.flags == 0);
	CHECK(scan(&d, "{\"k\\u0041\":1}") == JSONSCAN_OK && d.flags == JSONSCAN_ESCAPES); /* keys too */
}

/* ---- tokens ------------------------------------------------------------- */

static void test_tokens(void)
{
	const char *text = "{\"a\":[1,{\"b\":null}],\"c\":\"x\"}";
	struct jsonscan_doc d;
	CHECK(scan(&d, text) == JSONSCAN_OK);
	/* 0:none 1:{ 2:"a" 3:[ 4:1 5:{ 6:"b" 7:null 8:"c" 9:"x" */
	CHECK(d.count == 10);
	static const struct {
		enum jsonscan_type type;
		uint32_t start, len, next;
	} want[] = {
		{ JSONSCAN_NONE, 0, 0, 1 },       { JSONSCAN_OBJECT, 0, 28, 10 },
		{ JSONSCAN_STRING, 1, 3, 3 },     { JSONSCAN_ARRAY, 5, 14, 8 },
		{ JSONSCAN_NUMBER, 6, 1, 5 },     { JSONSCAN_OBJECT, 8, 10, 8 },
		{ JSONSCAN_STRING, 9, 3, 7 },     { JSONSCAN_NULL, 13, 4, 8 },
		{ JSONSCAN_STRING, 20, 3, 9 },    { JSONSCAN_STRING, 24, 3, 10 },
	};
	for (uint32_t i = 0; i < d.count && i < 10; i++) {
		const struct jsonscan_token *t = jsonscan_token(&d, i);
		CHECK(t->type == want[i].type && t->start == want[i].start && t->len == want[i].len &&
		      t->next == want[i].next);
	}
	size_t n;
	const char *raw = jsonscan_raw(&d, 3, &n);
	CHECK_BYTES(raw, n, "[1,{\"b\":null}]");
	raw = jsonscan_raw(&d, 9, &n);
	CHECK_BYTES(raw, n, "\"x\"");
	CHECK(jsonscan_raw(&d, 0, &n) == NULL && n == 0);
	CHECK(jsonscan_raw(&d, 99, &n) == NULL && n == 0);

	/* iteration: object members by key, array elements */
	uint32_t keys[4], k = 0;
	JSONSCAN_FOREACH(&d, 1, key)
		keys[k++] = key;
	CHECK(k == 2 && keys[0] == 2 && keys[1] == 8);
	uint32_t els[4], e = 0;
	JSONSCAN_FOREACH(&d, 3, el)
		els[e++] = el;
	CHECK(e == 2 && els[0] == 4 && els[1] == 5);
	CHECK(jsonscan_count(&d, 1) == 2 && jsonscan_count(&d, 3) == 2 && jsonscan_count(&d, 4) == 0);
	CHECK(jsonscan_at(&d, 3, 1) == 5 && jsonscan_at(&d, 3, 2) == 0 && jsonscan_at(&d, 1, 0) == 0);
	CHECK(jsonscan_first(&d, 9) == 0 && jsonscan_first(&d, 0) == 0 && jsonscan_first(&d, 1234) == 0);

	/* every accessor takes 0 and out-of-range indexes */
	CHECK(jsonscan_type(&d, 0) == JSONSCAN_NONE && jsonscan_type(&d, 10) == JSONSCAN_NONE);
	CHECK(jsonscan_get(&d, 0, "a") == 0 && jsonscan_get(&d, 77, "a") == 0);
	CHECK(jsonscan_get(&d, jsonscan_get(&d, 1, "zz"), "b") == 0);
	CHECK(jsonscan_str(&d, 0, &arena, &n) == NULL && n == 0);
	int64_t iv;
	bool bv;
	double dv;
	CHECK(jsonscan_int64(&d, 0, &iv) == -EINVAL && jsonscan_bool(&d, 0, &bv) == -EINVAL &&
	      jsonscan_double(&d, 500, &dv) == -EINVAL);
	CHECK(!jsonscan_is_null(&d, 0) && jsonscan_is_null(&d, 7) && !jsonscan_is_true(&d, 7));

	/* empty containers */
	CHECK(scan(&d, "[{},[]]") == JSONSCAN_OK);
	CHECK(jsonscan_first(&d, 2) == 0 && jsonscan_first(&d, 3) == 0 && jsonscan_count(&d, 1) == 2);
}

static void test_lookup(void)
{
	struct jsonscan_doc d;
	const char *text = "{\"id\":1,\"n\\u0061me\":\"A\",\"id\":2,\"k\\u0000x\":3,\"k\":4,"
			   "\"\\ud83d\\ude00\":5,\"esc\\\"aped\":6,\"\":7}";
	CHECK(scan(&d, text) == JSONSCAN_OK);
	int64_t v = 0;
	CHECK(jsonscan_int64(&d, jsonscan_get(&d, 1, "id"), &v) == 0 && v == 2); /* last wins */
	CHECK(jsonscan_str_eq(&d, jsonscan_get(&d, 1, "name"), "A", 1));        /* escaped key */
	CHECK(jsonscan_int64(&d, jsonscan_getn(&d, 1, "k\0x", 3), &v) == 0 && v == 3);
	CHECK(jsonscan_int64(&d, jsonscan_get(&d, 1, "k"), &v) == 0 && v == 4); /* NUL is a byte */
	CHECK(jsonscan_int64(&d, jsonscan_get(&d, 1, "\xf0\x9f\x98\x80"), &v) == 0 && v == 5);
	CHECK(jsonscan_int64(&d, jsonscan_get(&d, 1, "esc\"aped"), &v) == 0 && v == 6);
	CHECK(jsonscan_int64(&d, jsonscan_get(&d, 1, ""), &v) == 0 && v == 7);
	CHECK(jsonscan_get(&d, 1, "nam") == 0 && jsonscan_get(&d, 1, "namee") == 0);
	CHECK(jsonscan_get(&d, 1, "n\\u0061me") == 0); /* compared unescaped, not raw */

	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("name"), JSONSCAN_KEY("id"), JSONSCAN_KEY("missing"), JSONSCAN_KEY("id"),
	};
	uint32_t got[4];
	jsonscan_get_many(&d, 1, keys, 4, got);
	CHECK(got[0] == jsonscan_get(&d, 1, "name") && got[1] == jsonscan_get(&d, 1, "id") &&
	      got[2] == 0 && got[3] == got[1]);
	jsonscan_get_many(&d, 2, keys, 4, got); /* not an object */
	CHECK(got[0] == 0 && got[1] == 0 && got[3] == 0);

	/* shadowed members: the first "id" is, the second is not */
	uint32_t first_id = jsonscan_first(&d, 1);
	CHECK(jsonscan_member_shadowed(&d, 1, first_id));
	CHECK(!jsonscan_member_shadowed(&d, 1, jsonscan_get(&d, 1, "id") - 1));
	CHECK(!jsonscan_member_shadowed(&d, 1, jsonscan_get(&d, 1, "name") - 1));
	CHECK(scan(&d, "{\"\\u0061\":1,\"a\":2}") == JSONSCAN_OK);
	CHECK(jsonscan_member_shadowed(&d, 1, 2)); /* escaped and plain spelling of one key */
}

/* ---- strings ------------------------------------------------------------ */

static void check_unescaped(const char *json, const char *want, size_t want_len)
{
	struct jsonscan_doc d;
	CHECK(jsonscan_parse(&d, json, strlen(json), &arena, NULL) == JSONSCAN_OK);
	size_t n;
	const char *s = jsonscan_str(&d, 1, &arena, &n);
	CHECK(s && n == want_len && memcmp(s, want, n) == 0);
	if (!s || n != want_len || memcmp(s, want, n) != 0)
		fprintf(stderr, "  unescaping %s gave %zu bytes\n", json, n);
	CHECK(jsonscan_str_eq(&d, 1, want, want_len));
	if (want_len > 0)
		CHECK(!jsonscan_str_eq(&d, 1, want, want_len - 1));
	char buf[64];
	CHECK(jsonscan_unescape(&d, 1, buf) == want_len && memcmp(buf, want, want_len) == 0);
	size_t dn;
	char *dup = jsonscan_strdup(&d, 1, &arena, &dn);
	CHECK(dup && dn == want_len && memcmp(dup, want, dn) == 0 && dup[dn] == '\0');
}

static void test_strings(void)
{
	check_unescaped("\"plain\"", "plain", 5);
	check_unescaped("\"\"", "", 0);
	check_unescaped("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	check_unescaped("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
	check_unescaped("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4); /* surrogate pair */
	check_unescaped("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);  /* U+10FFFF */
	/* lone surrogates become U+FFFD (as json-c does) */
	check_unescaped("\"\\ud800\"", "\xef\xbf\xbd", 3);
	check_unescaped("\"\\udc00\"", "\xef\xbf\xbd", 3);
	check_unescaped("\"\\ud800x\"", "\xef\xbf\xbdx", 4);
	check_unescaped("\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A", 4);
	check_unescaped("\"\\udc00\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd", 6);
	check_unescaped("\"\\ud800\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80", 7);
	check_unescaped("\"\\ud800\\n\"", "\xef\xbf\xbd\n", 4);
	check_unescaped("\"a\\u0000b\"", "a\0b", 3);
	check_unescaped("\"mixed \xc3\xa9 and \\u00e9\"", "mixed \xc3\xa9 and \xc3\xa9", 15);

	/* zero-copy: a string without escapes is a view into the input */
	const char *text = "[\"view\",\"copy\\n\"]";
	struct jsonscan_doc d;
	CHECK(scan(&d, text) == JSONSCAN_OK);
	size_t n;
	CHECK(jsonscan_str(&d, 2, NULL, &n) == text + 2 && n == 4);
	CHECK(!jsonscan_has_flag(&d, 2, JSONSCAN_ESCAPES) && jsonscan_has_flag(&d, 3, JSONSCAN_ESCAPES));
	CHECK(jsonscan_str(&d, 3, NULL, &n) == NULL && n == 0); /* escapes need a scratch arena */
	const char *copy = jsonscan_str(&d, 3, &arena, &n);
	CHECK(copy && copy != text + 9 && n == 5 && copy[5] == '\0');
	CHECK(jsonscan_str(&d, 1, &arena, &n) == NULL); /* not a string */
	CHECK(!jsonscan_str_eq(&d, 1, "view", 4));
}

/* ---- numbers -------------------------------------------------------------- */

static void test_numbers(void)
{
	struct jsonscan_doc d;
	int64_t v;
	CHECK(scan(&d, "[9223372036854775807,-9223372036854775808,9223372036854775808,"
		       "-9223372036854775809,-0,1.0,1e2,12345678901234567890123]") == JSONSCAN_OK);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 0), &v) == 0 && v == INT64_MAX);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 1), &v) == 0 && v == INT64_MIN);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 2), &v) == -ERANGE);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 3), &v) == -ERANGE);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 4), &v) == 0 && v == 0);
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 5), &v) == -EINVAL); /* fraction */
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 6), &v) == -EINVAL); /* exponent */
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, 7), &v) == -ERANGE);
	CHECK(jsonscan_has_flag(&d, jsonscan_at(&d, 1, 5), JSONSCAN_NOT_INT));
	CHECK(!jsonscan_has_flag(&d, jsonscan_at(&d, 1, 4), JSONSCAN_NOT_INT));

	double x;
	CHECK(scan(&d, "[0.1,-2.5e-3,1e308,1e309,-1e999,4.9e-324,1e-400,-0.0,42]") == JSONSCAN_OK);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 0), &x) == 0 && x == 0.1);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 1), &x) == 0 && x == -2.5e-3);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 2), &x) == 0 && x == 1e308);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 3), &x) == -ERANGE && x == HUGE_VAL);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 4), &x) == -ERANGE && x == -HUGE_VAL);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 5), &x) == 0 && x == 4.9e-324);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 6), &x) == 0 && x == 0.0);
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 7), &x) == 0 && x == 0.0 && signbit(x));
	CHECK(jsonscan_double(&d, jsonscan_at(&d, 1, 8), &x) == 0 && x == 42.0);
	CHECK(jsonscan_double(&d, 1, &x) == -EINVAL);

	/* a top-level number that ends the text: read without looking past it */
	char buf[8] = { '1', '2', '5', 'e', '-', '2', '9', '9' };
	CHECK(jsonscan_parse(&d, buf, 6, &arena, NULL) == JSONSCAN_OK);
	CHECK(jsonscan_double(&d, 1, &x) == 0 && x == 1.25);
	char longnum[200];
	memset(longnum, '0', sizeof(longnum));
	longnum[0] = '0';
	longnum[1] = '.';
	longnum[150] = '5';
	CHECK(jsonscan_parse(&d, longnum, 151, &arena, NULL) == JSONSCAN_OK);
	CHECK(jsonscan_double(&d, 1, &x) == 0 && x == 5e-149);

	bool b;
	CHECK(scan(&d, "[true,false,null]") == JSONSCAN_OK);
	CHECK(jsonscan_bool(&d, 2, &b) == 0 && b && jsonscan_is_true(&d, 2));
	CHECK(jsonscan_bool(&d, 3, &b) == 0 && !b && !jsonscan_is_true(&d, 3));
	CHECK(jsonscan_bool(&d, 4, &b) == -EINVAL);
}

/* ---- limits --------------------------------------------------------------- */

static char *nested(int arrays, const char *inner)
{
	size_t n = strlen(inner);
	char *s = malloc(2 * (size_t)arrays + n + 1);
	memset(s, '[', (size_t)arrays);
	memcpy(s + arrays, inner, n);
	memset(s + arrays + n, ']', (size_t)arrays);
	s[2 * arrays + n] = '\0';
	return s;
}

static void test_limits(void)
{
	struct jsonscan_doc d;
	/* json-c's default: 32 levels of values (32 empty arrays, 31 around a value) */
	char *s = nested(32, "");
	CHECK(scan(&d, s) == JSONSCAN_OK);
	free(s);
	s = nested(31, "1");
	CHECK(scan(&d, s) == JSONSCAN_OK);
	free(s);
	s = nested(32, "1");
	CHECK(scan(&d, s) == JSONSCAN_E_DEPTH && d.error_at == 32);
	free(s);
	s = nested(33, "");
	CHECK(scan(&d, s) == JSONSCAN_E_DEPTH);
	free(s);
	/* deep input stops at the limit and uses no stack: a million brackets */
	s = nested(1000000, "");
	CHECK(scan(&d, s) == JSONSCAN_E_DEPTH);
	struct jsonscan_limits deep = { .max_depth = 1000001 };
	CHECK(jsonscan_parse(&d, s, strlen(s), &arena, &deep) == JSONSCAN_OK && d.count == 1000001);
	free(s);
	struct jsonscan_limits two = { .max_depth = 2 };
	CHECK(jsonscan_parse(&d, "[1]", 3, &arena, &two) == JSONSCAN_OK);
	CHECK(jsonscan_parse(&d, "[[1]]", 5, &arena, &two) == JSONSCAN_E_DEPTH);
	CHECK(jsonscan_parse(&d, "{\"a\":{}}", 8, &arena, &two) == JSONSCAN_OK);
	CHECK(jsonscan_parse(&d, "{\"a\":{\"b\":1}}", 13, &arena, &two) == JSONSCAN_E_DEPTH);

	struct jsonscan_limits three = { .max_tokens = 3 };
	CHECK(jsonscan_parse(&d, "[1,2]", 5, &arena, &three) == JSONSCAN_OK);
	CHECK(jsonscan_parse(&d, "[1,2,3]", 7, &arena, &three) == JSONSCAN_E_TOKENS &&
	      d.error_at == 5);
	CHECK(jsonscan_parse(&d, "{\"a\":1}", 7, &arena, &three) == JSONSCAN_OK); /* keys count */
	CHECK(jsonscan_parse(&d, "{\"a\":1,\"b\":2}", 13, &arena, &three) == JSONSCAN_E_TOKENS);

	/* size: one past the limit is refused before a byte is read */
	CHECK(jsonscan_parse(&d, "1", JSONSCAN_MAX_INPUT + 1, &arena, NULL) == JSONSCAN_E_TOO_BIG);
	/* exactly the limit is fine: a 64 MB string */
	char *big = malloc(JSONSCAN_MAX_INPUT);
	CHECK(big != NULL);
	if (big) {
		memset(big, 'x', JSONSCAN_MAX_INPUT);
		big[0] = '"';
		big[JSONSCAN_MAX_INPUT - 1] = '"';
		CHECK(jsonscan_parse(&d, big, JSONSCAN_MAX_INPUT, &arena, NULL) == JSONSCAN_OK &&
		      d.count == 2 && jsonscan_token(&d, 1)->len == JSONSCAN_MAX_INPUT);
		big[JSONSCAN_MAX_INPUT / 2] = '\n'; /* a control byte deep inside */
		CHECK(jsonscan_parse(&d, big, JSONSCAN_MAX_INPUT, &arena, NULL) == JSONSCAN_E_CONTROL &&
		      d.error_at == JSONSCAN_MAX_INPUT / 2);
		free(big);
	}
	arena_reset(&arena);
}

static void test_growth_from_a_tiny_arena(void)
{
	/* The token array starts small and moves between chunks as it grows. */
	struct arena tiny;
	arena_init(&tiny, 64);
	size_t n = 100000;
	char *s = malloc(2 * n + 2);
	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[1 + 2 * i] = (char)('0' + i % 10);
		s[2 + 2 * i] = ',';
	}
	s[2 * n] = ']';
	struct jsonscan_doc d;
	CHECK(jsonscan_parse(&d, s, 2 * n + 1, &tiny, NULL) == JSONSCAN_OK && d.count == n + 2);
	int64_t v = -1;
	CHECK(jsonscan_int64(&d, jsonscan_at(&d, 1, n - 1), &v) == 0 && v == (int64_t)((n - 1) % 10));
	arena_free(&tiny);
	free(s);
}

/* ---- pages ---------------------------------------------------------------- */

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static int64_t jsonc_int(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : 0;
}

/* The page helper on a page the fake server sent, against json-c. */
static void check_saved_page(const char *dir, const char *name, bool last)
{
	size_t len = 0;
	char *body = read_file(dir, name, &len);
	CHECK(body != NULL);
	if (!body)
		return;
	struct json_object *jc = json_tokener_parse(body), *jdata = NULL, *jextra, *jcursor;
	CHECK(jc && json_object_object_get_ex(jc, "data", &jdata));
	struct jsonscan_page page;
	CHECK(jsonscan_page_parse(&page, body, len, &arena, NULL) == JSONSCAN_OK);
	CHECK(page.success == 1 && page.error == NULL);
	CHECK(jsonscan_type(&page.doc, page.data) == JSONSCAN_ARRAY);
	CHECK(page.count == json_object_array_length(jdata) && page.count == 50);
	if (last) {
		CHECK(jsonscan_is_null(&page.doc, page.next_cursor) && page.cursor == NULL);
	} else {
		json_object_object_get_ex(jc, "additional_data", &jextra);
		json_object_object_get_ex(jextra, "next_cursor", &jcursor);
		CHECK(page.cursor && strcmp(page.cursor, json_object_get_string(jcursor)) == 0);
	}
	static const struct jsonscan_key fields[] = {
		JSONSCAN_KEY("id"), JSONSCAN_KEY("owner_id"), JSONSCAN_KEY("org_id"),
		JSONSCAN_KEY("update_time"), JSONSCAN_KEY("name"),
	};
	size_t same = 0;
	for (size_t i = 0; i < page.count && i < json_object_array_length(jdata); i++) {
		const struct jsonscan_element *el = &page.elements[i];
		struct json_object *jp = json_object_array_get_idx(jdata, i);
		/* the element's text, parsed alone, is the element */
		char *text = strndup(body + el->start, el->len);
		struct json_object *alone = json_tokener_parse(text);
		bool equal = json_object_equal(alone, jp);
		json_object_put(alone);
		free(text);

		uint32_t v[5];
		jsonscan_get_many(&page.doc, el->token, fields, 5, v);
		int64_t id = 0, owner = 0, org = 0;
		jsonscan_int64(&page.doc, v[0], &id);
		jsonscan_int64(&page.doc, v[1], &owner);
		jsonscan_int64(&page.doc, v[2], &org);
		size_t tn, nn;
		const char *t = jsonscan_str(&page.doc, v[3], &arena, &tn);
		const char *nm = jsonscan_str(&page.doc, v[4], &arena, &nn);
		struct json_object *jt, *jn;
		json_object_object_get_ex(jp, "update_time", &jt);
		json_object_object_get_ex(jp, "name", &jn);
		bool name_ok = jsonscan_is_null(&page.doc, v[4])
				       ? jn == NULL
				       : nm && (size_t)json_object_get_string_len(jn) == nn &&
						 memcmp(nm, json_object_get_string(jn), nn) == 0;
		if (equal && id == jsonc_int(jp, "id") && owner == jsonc_int(jp, "owner_id") &&
		    org == jsonc_int(jp, "org_id") && t && tn == strlen(json_object_get_string(jt)) &&
		    memcmp(t, json_object_get_string(jt), tn) == 0 && name_ok)
			same++;
	}
	CHECK(same == page.count);
	json_object_put(jc);
	free(body);
	arena_reset(&arena);
}

/* Reading contact lists the way a renderer would (the jsonscan.h example),
 * against json-c: every e-mail, phone and IM value and primary flag. */
static void check_contact_lists(const char *dir)
{
	size_t len = 0;
	char *body = read_file(dir, "persons-page-first.json", &len);
	if (!body)
		return;
	struct json_object *jc = json_tokener_parse(body), *jdata;
	json_object_object_get_ex(jc, "data", &jdata);
	struct jsonscan_page page;
	CHECK(jsonscan_page_parse(&page, body, len, &arena, NULL) == JSONSCAN_OK);
	const struct jsonscan_doc *d = &page.doc;
	static const struct jsonscan_key entry[] = {
		JSONSCAN_KEY("value"), JSONSCAN_KEY("primary"), JSONSCAN_KEY("label"),
	};
	static const char *const lists[] = { "emails", "phones", "im" };
	size_t entries = 0, same = 0;
	for (size_t i = 0; i < page.count; i++) {
		uint32_t person = page.elements[i].token;
		struct json_object *jp = json_object_array_get_idx(jdata, i);
		for (size_t l = 0; l < 3; l++) {
			struct json_object *jlist;
			json_object_object_get_ex(jp, lists[l], &jlist);
			size_t k = 0;
			JSONSCAN_FOREACH(d, jsonscan_get(d, person, lists[l]), e)
			{
				uint32_t v[3];
				jsonscan_get_many(d, e, entry, 3, v);
				size_t n;
				const char *value = jsonscan_str(
					d, jsonscan_type(d, e) == JSONSCAN_STRING ? e : v[0], &arena, &n);
				bool primary = jsonscan_is_true(d, v[1]);
				struct json_object *je = json_object_array_get_idx(jlist, k++), *jv, *jprim;
				json_object_object_get_ex(je, "value", &jv);
				json_object_object_get_ex(je, "primary", &jprim);
				entries++;
				if (value && n == (size_t)json_object_get_string_len(jv) &&
				    memcmp(value, json_object_get_string(jv), n) == 0 &&
				    primary == (bool)json_object_get_boolean(jprim))
					same++;
			}
			CHECK(k == (jlist ? json_object_array_length(jlist) : 0));
		}
	}
	CHECK(entries > 100 && same == entries);
	json_object_put(jc);
	free(body);
	arena_reset(&arena);
}

static void test_page_shapes(void)
{
	struct jsonscan_page page;
	const char *p = "{\"success\":false,\"error\":\"Scope \\\"x\\\" missing \\/ \\u00e9\","
			"\"error_info\":\"Please check\",\"data\":null}";
	CHECK(jsonscan_page_parse(&page, p, strlen(p), &arena, NULL) == JSONSCAN_OK);
	CHECK(page.success == 0 && jsonscan_is_null(&page.doc, page.data) && page.count == 0 &&
	      page.elements == NULL && page.next_cursor == 0 && page.cursor == NULL);
	CHECK(page.error && strcmp(page.error, "Scope \"x\" missing / \xc3\xa9") == 0 &&
	      page.error_len == 22);

	p = "{\"success\":true,\"data\":[],\"additional_data\":{\"next_cursor\":\"a\\/b\"}}";
	CHECK(jsonscan_page_parse(&page, p, strlen(p), &arena, NULL) == JSONSCAN_OK);
	CHECK(page.success == 1 && page.count == 0 && jsonscan_type(&page.doc, page.data) == JSONSCAN_ARRAY);
	CHECK(page.cursor && strcmp(page.cursor, "a/b") == 0 && page.cursor_len == 3);

	p = "{\"success\":\"yes\",\"additional_data\":{\"next_cursor\":5}}";
	CHECK(jsonscan_page_parse(&page, p, strlen(p), &arena, NULL) == JSONSCAN_OK);
	CHECK(page.success == -1 && page.data == 0 && page.cursor == NULL &&
	      jsonscan_type(&page.doc, page.next_cursor) == JSONSCAN_NUMBER);

	/* data of another type is reported, not judged */
	p = "{\"success\":true,\"data\":{\"id\":1}}";
	CHECK(jsonscan_page_parse(&page, p, strlen(p), &arena, NULL) == JSONSCAN_OK);
	CHECK(jsonscan_type(&page.doc, page.data) == JSONSCAN_OBJECT && page.count == 0);

	/* duplicate "data": the last one, and the element spans are its elements
	 * (json-c keeps the last too; jsonfmt_array_elements took the first) */
	p = "{\"data\":[{\"id\":1,\"name\":\"First\"}],\"data\":[{\"id\":2,\"name\":\"Second\"}],"
	    "\"success\":true}";
	CHECK(jsonscan_page_parse(&page, p, strlen(p), &arena, NULL) == JSONSCAN_OK);
	CHECK(page.count == 1);
	if (page.count == 1)
		CHECK_BYTES(p + page.elements[0].start, page.elements[0].len,
			    "{\"id\":2,\"name\":\"Second\"}");

	CHECK(jsonscan_page_parse(&page, "[1]", 3, &arena, NULL) == JSONSCAN_E_NOT_OBJECT);
	CHECK(jsonscan_page_parse(&page, "{\"data\":[1,]}", 13, &arena, NULL) == JSONSCAN_E_UNEXPECTED &&
	      page.doc.error_at == 11 && page.count == 0 && page.success == -1);
	CHECK(jsonscan_page_parse(&page, "", 0, &arena, NULL) == JSONSCAN_E_EMPTY);
	arena_reset(&arena);
}

int main(int argc, char **argv)
{
	const char *data_dir = argc > 1 ? argv[1] : "tests/unit/data";
	arena_init(&arena, 0);
	test_accepts();
	test_rejects();
	test_invalid_utf8_accepted_and_flagged();
	test_tokens();
	test_lookup();
	test_strings();
	test_numbers();
	test_limits();
	test_growth_from_a_tiny_arena();
	check_saved_page(data_dir, "persons-page-first.json", false);
	check_saved_page(data_dir, "persons-page-last.json", true);
	check_contact_lists(data_dir);
	test_page_shapes();
	arena_free(&arena);
	return check_finish("test_jsonscan");
}
