/* The term table of the search folders: numbers, validity, the bound. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "search_terms.h"

static bool valid(const char *s) { return search_term_valid(s, strlen(s)); }

static void test_valid(void)
{
	CHECK(valid("acme"));
	CHECK(valid("ab"));
	CHECK(valid("Zoë"));
	CHECK(valid("日本"));                /* two characters, six bytes */
	CHECK(valid("ann@example.com"));
	CHECK(valid("+1 555"));
	CHECK(valid(" ab "));
	CHECK(!valid(""));
	CHECK(!valid("a"));
	CHECK(!valid("é"));                  /* one character, two bytes */
	CHECK(!valid(" a "));                /* one once stripped */
	CHECK(!valid("   "));
	CHECK(!valid(".git"));               /* what tools probe in every folder */
	CHECK(!valid(".hidden"));
	CHECK(!valid("a\tb"));               /* control characters */
	CHECK(!valid("a\nb"));
	CHECK(!valid("ab\x7f"));
	CHECK(!valid("bad \xff byte"));      /* not UTF-8 */
	CHECK(!valid("\xc3"));
	CHECK(!search_term_valid("ab\0cd", 5));
}

static void test_numbers(void)
{
	struct search_terms *t = search_terms_new(0);
	CHECK(t != NULL);
	int64_t acme = search_terms_intern(t, "acme", 4);
	int64_t ann = search_terms_intern(t, "ann", 3);
	CHECK(acme == 1);
	CHECK(ann == 2);
	CHECK(search_terms_intern(t, "acme", 4) == acme); /* the same term, the same number */
	CHECK(search_terms_intern(t, " acme", 5) != acme); /* another name, another folder */
	struct strbuf text = STRBUF_INIT;
	CHECK(search_terms_text(t, acme, &text));
	CHECK_BYTES(text.data, text.len, "acme");
	sb_reset(&text);
	CHECK(search_terms_text(t, search_terms_intern(t, "  two words ", 12), &text));
	CHECK_BYTES(text.data, text.len, "two words"); /* sent stripped */
	sb_reset(&text);
	CHECK(!search_terms_text(t, 99, &text));
	CHECK(!search_terms_text(t, 0, &text));
	CHECK(search_terms_count(t) == 4);
	sb_free(&text);
	search_terms_free(t);
}

/* Past the bound the least recently used tenth goes; numbers are never
 * given again, and a forgotten term gets a new one. */
static void test_bound(void)
{
	struct search_terms *t = search_terms_new(20);
	char name[32];
	int64_t first = search_terms_intern(t, "term0", 5);
	for (int i = 1; i < 20; i++) {
		snprintf(name, sizeof(name), "term%d", i);
		search_terms_intern(t, name, strlen(name));
	}
	CHECK(search_terms_count(t) == 20);
	struct strbuf text = STRBUF_INIT;
	CHECK(search_terms_text(t, first, &text)); /* term0 used: now the newest */
	int64_t last = search_terms_intern(t, "term20", 6);
	CHECK(last == 21);
	CHECK(search_terms_count(t) == 18);        /* 21 - a tenth of 20, rounded up */
	CHECK(search_terms_text(t, first, &text)); /* kept: used lately */
	CHECK(!search_terms_text(t, 2, &text));    /* term1, term2, term3: forgotten */
	CHECK(!search_terms_text(t, 4, &text));
	CHECK(search_terms_text(t, 5, &text));
	int64_t again = search_terms_intern(t, "term1", 5);
	CHECK(again == 22);                        /* a new number, never an old one */
	sb_free(&text);
	search_terms_free(t);
}

/* Many terms whose hashes land in the same buckets still find each other. */
static void test_many(void)
{
	struct search_terms *t = search_terms_new(5000);
	char name[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		CHECK(search_terms_intern(t, name, strlen(name)) == i + 1);
	}
	for (int i = 0; i < 4000; i += 7) {
		snprintf(name, sizeof(name), "t%d", i);
		CHECK(search_terms_intern(t, name, strlen(name)) == i + 1);
	}
	search_terms_free(t);
}

int main(void)
{
	test_valid();
	test_numbers();
	test_bound();
	test_many();
	return check_finish("search_terms");
}
