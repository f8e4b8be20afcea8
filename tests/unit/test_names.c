/* File names of persons and directories: safe, bounded, parseable back. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "names.h"

static void check_base(const char *name, int64_t id, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	names_person_base(&sb, name, name ? strlen(name) : 0, id);
	CHECK_BYTES(sb.data, sb.len, expected);
	sb_free(&sb);
}

static void test_person_base(void)
{
	check_base("Person Name", 1, "Person Name (1)");
	check_base("AC/DC", 2, "AC_DC (2)");
	check_base("..hidden", 3, "hidden (3)");
	check_base("...", 4, "Unnamed (4)");
	check_base("", 5, "Unnamed (5)");
	check_base(NULL, 6, "Unnamed (6)");
	check_base("a\nb\tc\x7f" "d", 7, "a_b_c_d (7)");
	check_base("bad \xff byte", 8, "bad \xEF\xBF\xBD byte (8)");
	check_base("Zoë 😀", 9, "Zoë 😀 (9)");
	check_base(".a.b", 10, "a.b (10)");
	/* A NUL inside the name (JSON "\u0000") is a control character. */
	struct strbuf sb = STRBUF_INIT;
	names_person_base(&sb, "x\0y", 3, 11);
	CHECK_BYTES(sb.data, sb.len, "x_y (11)");
	sb_free(&sb);
}

static void test_long_names_fit(void)
{
	char ascii[400];
	memset(ascii, 'x', sizeof(ascii) - 1);
	ascii[sizeof(ascii) - 1] = '\0';
	struct strbuf sb = STRBUF_INIT;
	names_person_base(&sb, ascii, strlen(ascii), 123456789);
	CHECK(sb.len + strlen(".json") == NAMES_NAME_MAX);
	sb_free(&sb);

	/* 3-byte characters: the cut must land on a character boundary. */
	struct strbuf cjk = STRBUF_INIT;
	for (int i = 0; i < 120; i++)
		sb_puts(&cjk, "日");
	names_person_base(&sb, cjk.data, cjk.len, 42);
	CHECK(sb.len + strlen(".json") <= NAMES_NAME_MAX);
	CHECK(sb.len + strlen(".json") > NAMES_NAME_MAX - 3);
	size_t name_part = sb.len - strlen(" (42)");
	CHECK(name_part % 3 == 0);
	sb_free(&sb);
	sb_free(&cjk);
}

static void test_parse_id(void)
{
	int64_t id = 0;
	CHECK(names_parse_id("1", 1, &id) && id == 1);
	CHECK(names_parse_id("9007199254740991", 16, &id) && id == NAMES_MAX_ID);
	CHECK(!names_parse_id("9007199254740992", 16, &id));
	CHECK(!names_parse_id("0", 1, &id));
	CHECK(!names_parse_id("01", 2, &id));
	CHECK(!names_parse_id("-1", 2, &id));
	CHECK(!names_parse_id("+1", 2, &id));
	CHECK(!names_parse_id("1a", 2, &id));
	CHECK(!names_parse_id("", 0, &id));
	CHECK(!names_parse_id("99999999999999999999", 20, &id));
}

static void test_parse_person_file(void)
{
	int64_t id;
	enum person_file kind;
	size_t base;
	const char *n = "Person Name (17).json";
	CHECK(names_parse_person_file(n, strlen(n), &id, &kind, &base));
	CHECK(id == 17 && kind == PERSON_FILE_JSON && base == strlen("Person Name (17)"));
	n = "A (b) (5).vcf";
	CHECK(names_parse_person_file(n, strlen(n), &id, &kind, &base) && id == 5 &&
	      kind == PERSON_FILE_VCF);
	n = "Unnamed (3).txt";
	CHECK(!names_parse_person_file(n, strlen(n), &id, &kind, &base));
	n = "x(3).json";
	CHECK(!names_parse_person_file(n, strlen(n), &id, &kind, &base));
	n = "x (03).json";
	CHECK(!names_parse_person_file(n, strlen(n), &id, &kind, &base));
	n = "(3).json";
	CHECK(!names_parse_person_file(n, strlen(n), &id, &kind, &base));
	n = ".json";
	CHECK(!names_parse_person_file(n, strlen(n), &id, &kind, &base));
}

static void check_link(const char *name, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = names_group_link(&sb, name, strlen(name));
	if (!expected)
		CHECK(!ok && sb.len == 0);
	else
		CHECK(ok && sb.len == strlen(expected) && memcmp(sb.data, expected, sb.len) == 0);
	sb_free(&sb);
}

static void test_group_links(void)
{
	check_link("Acme, Inc.; EMEA", "Acme, Inc.; EMEA");
	check_link("  Spaces  ", "Spaces");
	check_link("AC/DC", "AC_DC");
	check_link("..", NULL);
	check_link("", NULL);
	check_link("42", NULL);      /* would shadow the id directory 42 */
	check_link("42 Ltd", "42 Ltd");
	check_link("007", NULL);     /* digits are reserved for ids */
	check_link(". x", "x");
	check_link(". 123", NULL);
	check_link(" . .hidden ", "hidden");
	check_link("42.vcf", NULL);  /* would shadow the folder file 42.vcf */
	check_link("0042.vcf", NULL);
	check_link("42.vcf Ltd", "42.vcf Ltd");
	check_link("A42.vcf", "A42.vcf");
	check_link(".vcf", "vcf");
}

int main(void)
{
	test_group_links();
	test_person_base();
	test_long_names_fit();
	test_parse_id();
	test_parse_person_file();
	return check_finish("names");
}
