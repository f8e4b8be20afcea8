/*
 * test_vcard.c - byte-for-byte unit tests of the vCard renderer (src/vcard.c)
 * and its SHA-1 (src/sha1.c).
 *
 * Standalone: exit 0 when every check passes, else one line per failed check
 * (expected and actual bytes, C-escaped) and exit 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "sha1.h"
#include "strbuf.h"
#include "utf8.h"
#include "vcard.h"

static int failures;

/* ---- reporting ---- */

static void print_escaped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\\')
			fputs("\\\\", stdout);
		else if (c < 0x20 || c >= 0x7F)
			printf("\\x%02X", c);
		else
			putchar(c);
	}
}

static void fail(const char *test, const char *why)
{
	failures++;
	printf("FAIL %s: %s\n", test, why);
}

static void expect_bytes(const char *test, const char *exp, size_t elen,
			 const char *act, size_t alen)
{
	if (elen == alen && (elen == 0 || memcmp(exp, act, elen) == 0))
		return;
	failures++;
	size_t at = 0;
	while (at < elen && at < alen && exp[at] == act[at])
		at++;
	printf("FAIL %s (first difference at byte %zu)\n  expected \"", test, at);
	print_escaped(exp, elen);
	printf("\"\n  actual   \"");
	print_escaped(act ? act : "", act ? alen : 0);
	printf("\"\n");
}

static void expect_true(const char *test, bool ok, const char *what)
{
	if (!ok)
		fail(test, what);
}

/* ---- helpers ---- */

/* Escape a string literal (which may contain NULs) and compare. */
#define ESCAPE_CASE(test, literal, mode, expected) \
	escape_case(test, literal, sizeof(literal) - 1, mode, expected)

static void escape_case(const char *test, const char *in, size_t n,
			enum vcard_text_mode mode, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	vcard_escape_text(&sb, in, n, mode);
	expect_bytes(test, expected, strlen(expected), sb.data, sb.len);
	sb_free(&sb);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static bool is_valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Remove every CRLF SPACE fold, as a reader does. */
static void unfold(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == ' ') {
			i += 2;
			continue;
		}
		sb_putc(out, s[i]);
	}
}

/*
 * Properties every folded text must have: CRLF-terminated physical lines of
 * at most 75 bytes, each valid UTF-8 on its own, no line break other than
 * CRLF, no continuation line starting with the character after a lone "\".
 */
static void check_physical_lines(const char *test, const char *s, size_t n)
{
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n') {
		fail(test, "output does not end in CRLF");
		return;
	}
	size_t start = 0;
	while (start < n) {
		const char *crlf = NULL;
		for (size_t i = start; i + 1 < n; i++)
			if (s[i] == '\r' && s[i + 1] == '\n') {
				crlf = s + i;
				break;
			}
		size_t len = (size_t)(crlf - (s + start));
		const char *l = s + start;
		if (len > 75)
			fail(test, "physical line longer than 75 bytes");
		if (memchr(l, '\r', len) || memchr(l, '\n', len))
			fail(test, "bare CR or LF inside a line");
		if (!is_valid_utf8(l, len))
			fail(test, "physical line is not valid UTF-8 on its own");
		size_t backslashes = 0;
		while (backslashes < len && l[len - 1 - backslashes] == '\\')
			backslashes++;
		/* an odd run at the end of a line that is followed by a fold */
		if (backslashes % 2 == 1 && crlf + 2 < s + n && crlf[2] == ' ')
			fail(test, "fold between a backslash and the escaped character");
		start = (size_t)(crlf - s) + 2;
	}
}

static void fold_roundtrip(const char *test, const char *line, size_t len)
{
	struct strbuf folded = STRBUF_INIT, unfolded = STRBUF_INIT;
	vcard_fold_line(&folded, line, len);
	check_physical_lines(test, folded.data, folded.len);
	unfold(&unfolded, folded.data, folded.len);
	if (unfolded.len < 2)
		fail(test, "nothing written");
	else
		expect_bytes(test, line, len, unfolded.data, unfolded.len - 2);
	sb_free(&folded);
	sb_free(&unfolded);
}

static void fold_case(const char *test, const char *line, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;
	vcard_fold_line(&sb, line, strlen(line));
	expect_bytes(test, expected, strlen(expected), sb.data, sb.len);
	sb_free(&sb);
	fold_roundtrip(test, line, strlen(line));
}

/* ---- escaping ---- */

static void test_escape_text(void)
{
	const enum vcard_text_mode S = VCARD_TEXT_SINGLE_LINE, M = VCARD_TEXT_MULTI_LINE;

	ESCAPE_CASE("escape specials", "a\\b,c;d:e\"f", S, "a\\\\b\\,c\\;d:e\"f");
	ESCAPE_CASE("escape specials multi", "\\,;", M, "\\\\\\,\\;");
	ESCAPE_CASE("escape t01 name", "Doe, John; \"JJ\" \\ Jr.", S,
		    "Doe\\, John\\; \"JJ\" \\\\ Jr.");
	ESCAPE_CASE("escape drops controls", "a\x01" "b\x1f" "c\x7f" "d\x1b" "e\a", S,
		    "abcde");
	ESCAPE_CASE("escape NUL inside", "a\0b", S, "ab");
	ESCAPE_CASE("escape NUL multi", "a\0\nb", M, "a\\nb");
	ESCAPE_CASE("escape invalid byte", "a\xff" "b", S, "a\xEF\xBF\xBD" "b");
	ESCAPE_CASE("escape truncated 2-byte at end", "ab\xC3", S, "ab\xEF\xBF\xBD");
	ESCAPE_CASE("escape truncated 3-byte is one U+FFFD", "x\xE2\x82y", S,
		    "x\xEF\xBF\xBDy");
	ESCAPE_CASE("escape surrogate", "\xED\xA0\x80", S,
		    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	ESCAPE_CASE("escape overlong slash", "\xC0\xAF", S, "\xEF\xBF\xBD\xEF\xBF\xBD");
	ESCAPE_CASE("escape replacement not trimmed", " \xff ", S, "\xEF\xBF\xBD");
	ESCAPE_CASE("escape valid multibyte kept", "Zo\xC3\xAB \xE6\x9D\x8E \xF0\x9F\x91\x8D",
		    S, "Zo\xC3\xAB \xE6\x9D\x8E \xF0\x9F\x91\x8D");
	ESCAPE_CASE("escape trims", " \t\r\n a b \r\n\t ", S, "a b");
	ESCAPE_CASE("escape trims controls then space", "\x01 x \x02", S, "x");
	ESCAPE_CASE("escape only white space", " \t\r\n\x01", S, "");
	ESCAPE_CASE("escape empty", "", S, "");
	ESCAPE_CASE("escape single CRLF", "John\r\nDoe", S, "John Doe");
	ESCAPE_CASE("escape single CR, LF, TAB", "a\rb\nc\td", S, "a b c d");
	ESCAPE_CASE("escape single CR CR", "a\r\rb", S, "a  b");
	ESCAPE_CASE("escape multi newlines",
		    "\r\nLine one\r\nLine two\rLine three\n\nAfter blank line\ttab\n", M,
		    "Line one\\nLine two\\nLine three\\n\\nAfter blank line\ttab");
	ESCAPE_CASE("escape multi LF CR is two", "a\n\rb", M, "a\\n\\nb");
	ESCAPE_CASE("escape multi keeps inner spaces", "a  \t b", M, "a  \t b");
}

/* ---- folding ---- */

static void test_fold_exact(void)
{
	char *x75 = repeat('X', 75), *x76 = repeat('X', 76), *x74 = repeat('X', 74);
	char expected[512];

	snprintf(expected, sizeof expected, "%s\r\n", x75);
	fold_case("fold 75 bytes stays one line", x75, expected);

	snprintf(expected, sizeof expected, "%s\r\n X\r\n", x75);
	fold_case("fold 76 bytes", x76, expected);

	char line[512];
	snprintf(line, sizeof line, "%s%s", x75, x74);
	snprintf(expected, sizeof expected, "%s\r\n %s\r\n", x75, x74);
	fold_case("fold 75+74 bytes is two lines", line, expected);

	snprintf(line, sizeof line, "%s%sY", x75, x74);
	snprintf(expected, sizeof expected, "%s\r\n %s\r\n Y\r\n", x75, x74);
	fold_case("fold 75+74+1 bytes is three lines", line, expected);

	fold_case("fold empty line", "", "\r\n");

	/* "\," straddling the boundary moves to the next line whole */
	snprintf(line, sizeof line, "%s\\,B", x74);
	snprintf(expected, sizeof expected, "%s\r\n \\,B\r\n", x74);
	fold_case("fold keeps \\, together", line, expected);

	/* "\\" pair ending exactly at byte 75, then "\," */
	snprintf(line, sizeof line, "%.73s\\\\\\,", x75);
	snprintf(expected, sizeof expected, "%.73s\\\\\r\n \\,\r\n", x75);
	fold_case("fold backslash pair parity", line, expected);

	/* a lone trailing backslash byte can still be placed */
	snprintf(line, sizeof line, "%s\\", x75);
	snprintf(expected, sizeof expected, "%s\r\n \\\r\n", x75);
	fold_case("fold lone trailing backslash", line, expected);

	free(x74);
	free(x75);
	free(x76);
}

/* An ASCII prefix of every length around the boundary, then one 2-, 3- or
 * 4-byte character: the character must land whole on one line. */
static void test_fold_multibyte(void)
{
	static const char *const chars[] = { "\xC3\xAB", "\xE6\x9D\x8E", "\xF0\x9F\x91\x8D" };
	for (size_t c = 0; c < 3; c++) {
		size_t k = strlen(chars[c]);
		for (size_t prefix = 68; prefix <= 76 + 74; prefix++) {
			char line[400], test[80], expected[400];
			char *a = repeat('a', prefix);
			snprintf(line, sizeof line, "%s%sz", a, chars[c]);
			snprintf(test, sizeof test, "fold %zu-byte char after %zu bytes", k, prefix);
			fold_roundtrip(test, line, strlen(line));
			if (prefix + k <= 75 && prefix + k + 1 > 75) {
				/* the char fits, the z goes to line two */
				snprintf(expected, sizeof expected, "%s%s\r\n z\r\n", a, chars[c]);
				fold_case(test, line, expected);
			} else if (prefix <= 75 && prefix + k > 75) {
				/* the char would straddle: it starts line two */
				snprintf(expected, sizeof expected, "%s\r\n %sz\r\n", a, chars[c]);
				fold_case(test, line, expected);
			}
			free(a);
		}
	}
	/* a line made only of 3-byte characters: 25 per line, then 24 */
	struct strbuf line = STRBUF_INIT, expected = STRBUF_INIT;
	for (int i = 0; i < 60; i++)
		sb_puts(&line, "\xE2\x82\xAC");
	for (int i = 0; i < 60; i++) {
		if (i == 25 || i == 49)
			sb_puts(&expected, "\r\n ");
		sb_puts(&expected, "\xE2\x82\xAC");
	}
	sb_puts(&expected, "\r\n");
	fold_case("fold only euro signs", line.data, expected.data);
	sb_free(&line);
	sb_free(&expected);
}

static void test_fold_long(void)
{
	struct strbuf line = STRBUF_INIT;
	static const char *const pieces[] = { "ab", "\\,", "\xC3\xA9", "\\\\", "\xE6\x9D\x8E",
					      "\\n", "\xF0\x9F\x91\x8D", " ", "\\;", "x" };
	for (size_t i = 0; line.len < 10 * 1024; i++)
		sb_puts(&line, pieces[(i * 7) % 10]);
	fold_roundtrip("fold 10 KB mixed line", line.data, line.len);

	/* a 4 MB line of backslash pairs folds linearly and correctly */
	sb_reset(&line);
	char *pairs = repeat('\\', 4u << 20);
	fold_roundtrip("fold 4 MB of backslashes", pairs, 4u << 20);
	free(pairs);

	/* invalid UTF-8 given directly to the folder must not loop or overflow */
	char *bad = repeat('\x80', 300);
	struct strbuf out = STRBUF_INIT, unfolded = STRBUF_INIT;
	vcard_fold_line(&out, bad, 300);
	unfold(&unfolded, out.data, out.len);
	expect_true("fold stray continuation bytes", unfolded.len == 302 &&
		    memcmp(unfolded.data, bad, 300) == 0, "unfolding does not give the input back");
	free(bad);
	sb_free(&out);
	sb_free(&unfolded);
	sb_free(&line);
}

/* ---- SHA-1 and UUIDv5 ---- */

static void expect_sha1(const char *test, const void *data, size_t n, const char *hex)
{
	unsigned char d[SHA1_DIGEST_LEN];
	char got[41];
	sha1(data, n, d);
	for (int i = 0; i < SHA1_DIGEST_LEN; i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	expect_bytes(test, hex, 40, got, strlen(got));
}

static void test_sha1(void)
{
	expect_sha1("sha1 empty", "", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	expect_sha1("sha1 abc", "abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	expect_sha1("sha1 56 bytes", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		    "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	char *million = repeat('a', 1000000);
	expect_sha1("sha1 million a", million, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);

	/* streaming in odd pieces gives the same digest */
	struct sha1_ctx ctx;
	unsigned char d1[SHA1_DIGEST_LEN], d2[SHA1_DIGEST_LEN];
	const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha1_init(&ctx);
	for (size_t i = 0; i < 56; i += 3)
		sha1_update(&ctx, msg + i, 56 - i < 3 ? 56 - i : 3);
	sha1_final(&ctx, d1);
	sha1(msg, 56, d2);
	expect_true("sha1 streaming", memcmp(d1, d2, sizeof d1) == 0, "digest differs");
}

static void test_uuid5(void)
{
	static const unsigned char namespace_dns[16] = {
		0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
	};
	char buf[37];
	vcard_uuid5_ns(namespace_dns, "python.org", 10, buf);
	expect_bytes("uuid5 DNS python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d", 36, buf,
		     strlen(buf));
	/* the fixed namespace: value computed with Python's uuid module */
	vcard_uuid5("pipedrive:acme:person:1", buf);
	expect_bytes("uuid5 fixed namespace", "ebe518ef-3d00-5cd6-9282-9bcbe219e05f", 36, buf,
		     strlen(buf));
}

/* ---- full renders ---- */

static const char *test_label_name(void *ctx, const struct vcard_id *label_id)
{
	(void)ctx;
	if (!label_id->numeric)
		return label_id->len == 3 && memcmp(label_id->text, "vip", 3) == 0 ? "VIP (text id)"
										   : NULL;
	switch (label_id->num) {
	case 1: return "Customer";
	case 2: return "VIP";
	case 3: return "Hot lead";
	case 4: return "Hot, urgent; \\ now";
	case 5: return " \r\n ";       /* empty after cleaning */
	case 6: return "Bad\xff\x01 byte";
	default: return NULL;
	}
}

static struct vcard_options options(enum vcard_version v)
{
	struct vcard_options o = { .version = v, .company = "acme" };
	return o;
}

/* Render a json-c object as the daemon renders a person: its JSON text
 * scanned (jsonscan), the object token given to vcard_render. */
static int render_obj(const struct json_object *person, const struct vcard_options *opt,
		      struct strbuf *out)
{
	const char *text = json_object_to_json_string_ext((struct json_object *)person,
							  JSON_C_TO_STRING_PLAIN);
	struct arena arena;
	arena_init(&arena, 0);
	struct jsonscan_doc d;
	int rc = -EINVAL;
	if (jsonscan_parse(&d, text, strlen(text), &arena, NULL) == JSONSCAN_OK)
		rc = vcard_render(&d, jsonscan_root(&d), opt, out);
	arena_free(&arena);
	return rc;
}

static struct json_object *parse(const char *test, const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	if (!o)
		fail(test, "test JSON does not parse");
	return o;
}

static void join_lines(struct strbuf *out, const char *const lines[])
{
	for (size_t i = 0; lines[i]; i++) {
		sb_puts(out, lines[i]);
		sb_puts(out, "\r\n");
	}
}

static void expect_card_obj(const char *test, struct json_object *person,
			    const struct vcard_options *opt, const char *const lines[])
{
	struct strbuf exp = STRBUF_INIT, out = STRBUF_INIT;
	join_lines(&exp, lines);
	int rc = render_obj(person, opt, &out);
	if (rc != 0)
		fail(test, "vcard_render did not return 0");
	expect_bytes(test, exp.data, exp.len, out.data, out.len);
	check_physical_lines(test, out.data, out.len);
	sb_free(&exp);
	sb_free(&out);
}

static void expect_card(const char *test, const char *json, const struct vcard_options *opt,
			const char *const lines[])
{
	struct json_object *person = parse(test, json);
	if (!person)
		return;
	expect_card_obj(test, person, opt, lines);
	json_object_put(person);
}

#define REF_PERSON_BASE                                                                  \
	"{\"id\":1,\"name\":\"Person Name\",\"first_name\":\"Person\",\"last_name\":\"Name\"," \
	"\"owner_id\":1,\"org_id\":1,\"add_time\":\"2021-01-01T00:00:00Z\","                \
	"\"update_time\":\"2021-01-01T00:00:00Z\","                                          \
	"\"emails\":[{\"value\":\"email1@email.com\",\"primary\":true,\"label\":\"work\"},"  \
	"{\"value\":\"email2@email.com\",\"primary\":false,\"label\":\"home\"}],"            \
	"\"is_deleted\":false,\"visible_to\":7,\"label_ids\":[1,2,3],\"picture_id\":1,"     \
	"\"custom_fields\":{},\"notes\":\"Notes from contact sync\","                        \
	"\"birthday\":\"2000-12-31\",\"job_title\":\"Manager\","

/* The input that gives exactly the vcard.md section 1.9 sample: one phone,
 * one IM, no subpremise (the generator's input for that sample). */
static const char ref_person_19[] = REF_PERSON_BASE
	"\"phones\":[{\"value\":\"12345\",\"primary\":true,\"label\":\"work\"}],"
	"\"im\":[{\"value\":\"skypeusername\",\"primary\":true,\"label\":\"skype\"}],"
	"\"postal_address\":{\"value\":\"123 Main St\",\"country\":\"USA\","
	"\"admin_area_level_1\":\"CA\",\"admin_area_level_2\":\"Santa Clara\","
	"\"locality\":\"Sunnyvale\",\"sublocality\":\"Downtown\",\"route\":\"Main St\","
	"\"street_number\":\"123\",\"postal_code\":\"94085\"}}";

/* The API reference example verbatim (pipedrive-api.md section 1.3). */
static const char ref_person_api[] = REF_PERSON_BASE
	"\"phones\":[{\"value\":\"12345\",\"primary\":true,\"label\":\"work\"},"
	"{\"value\":\"54321\",\"primary\":false,\"label\":\"home\"}],"
	"\"im\":[{\"value\":\"skypeusername\",\"primary\":true,\"label\":\"skype\"},"
	"{\"value\":\"whatsappusername\",\"primary\":false,\"label\":\"whatsapp\"}],"
	"\"postal_address\":{\"value\":\"123 Main St\",\"country\":\"USA\","
	"\"admin_area_level_1\":\"CA\",\"admin_area_level_2\":\"Santa Clara\","
	"\"locality\":\"Sunnyvale\",\"sublocality\":\"Downtown\",\"route\":\"Main St\","
	"\"street_number\":\"123\",\"subpremise\":\"Apt 1\",\"postal_code\":\"94085\"}}";

static void test_reference_person(void)
{
	struct vcard_options o3 = options(VCARD_V30), o4 = options(VCARD_V40);

	static const char *const v30[] = {
		"BEGIN:VCARD", "VERSION:3.0", "PRODID:-//pipedrivefs//pipedrivefs//EN",
		"UID:ebe518ef-3d00-5cd6-9282-9bcbe219e05f",
		"FN:Person Name", "N:Name;Person;;;", "TITLE:Manager",
		"EMAIL;TYPE=INTERNET;TYPE=WORK;TYPE=PREF:email1@email.com",
		"EMAIL;TYPE=INTERNET;TYPE=HOME:email2@email.com",
		"TEL;TYPE=WORK;TYPE=VOICE;TYPE=PREF:12345",
		"IMPP;X-SERVICE-TYPE=Skype;TYPE=PREF:skype:skypeusername",
		"X-SKYPE:skypeusername", "BDAY:2000-12-31",
		"ADR;TYPE=WORK:;;123 Main St;Sunnyvale;CA;94085;USA",
		"NOTE:Notes from contact sync", "URL:https://acme.pipedrive.com/person/1",
		"X-PIPEDRIVE-ID:1", "X-PIPEDRIVE-ORG-ID:1", "X-PIPEDRIVE-OWNER-ID:1",
		"X-PIPEDRIVE-LABEL-ID:1", "X-PIPEDRIVE-LABEL-ID:2", "X-PIPEDRIVE-LABEL-ID:3",
		"REV:20210101T000000Z", "END:VCARD", NULL,
	};
	expect_card("reference 1.9 v3.0", ref_person_19, &o3, v30);

	static const char *const v40[] = {
		"BEGIN:VCARD", "VERSION:4.0", "PRODID:-//pipedrivefs//pipedrivefs//EN",
		"UID:urn:uuid:ebe518ef-3d00-5cd6-9282-9bcbe219e05f", "KIND:individual",
		"FN:Person Name", "N:Name;Person;;;", "TITLE:Manager",
		"EMAIL;TYPE=work;PREF=1:email1@email.com", "EMAIL;TYPE=home:email2@email.com",
		"TEL;TYPE=work;PREF=1:12345",
		"IMPP;X-SERVICE-TYPE=Skype;PREF=1:skype:skypeusername", "BDAY:20001231",
		"ADR;TYPE=work:;;123 Main St;Sunnyvale;CA;94085;USA",
		"NOTE:Notes from contact sync", "URL:https://acme.pipedrive.com/person/1",
		"X-PIPEDRIVE-ID:1", "X-PIPEDRIVE-ORG-ID:1", "X-PIPEDRIVE-OWNER-ID:1",
		"X-PIPEDRIVE-LABEL-ID:1", "X-PIPEDRIVE-LABEL-ID:2", "X-PIPEDRIVE-LABEL-ID:3",
		"REV:20210101T000000Z", "END:VCARD", NULL,
	};
	expect_card("reference 1.9 v4.0", ref_person_19, &o4, v40);

	/* The verbatim API example with ORG and labels resolved (good30/good40). */
	struct vcard_options g3 = o3, g4 = o4;
	g3.org_name = g4.org_name = "Acme Inc.";
	g3.label_name = g4.label_name = test_label_name;
	static const char *const good30[] = {
		"BEGIN:VCARD", "VERSION:3.0", "PRODID:-//pipedrivefs//pipedrivefs//EN",
		"UID:ebe518ef-3d00-5cd6-9282-9bcbe219e05f",
		"FN:Person Name", "N:Name;Person;;;", "ORG:Acme Inc.", "TITLE:Manager",
		"EMAIL;TYPE=INTERNET;TYPE=WORK;TYPE=PREF:email1@email.com",
		"EMAIL;TYPE=INTERNET;TYPE=HOME:email2@email.com",
		"TEL;TYPE=WORK;TYPE=VOICE;TYPE=PREF:12345",
		"TEL;TYPE=HOME;TYPE=VOICE:54321",
		"IMPP;X-SERVICE-TYPE=Skype;TYPE=PREF:skype:skypeusername",
		"X-SKYPE:skypeusername",
		"IMPP;X-SERVICE-TYPE=whatsapp:x-apple:whatsappusername",
		"BDAY:2000-12-31",
		"ADR;TYPE=WORK:;;123 Main St\\, Apt 1;Sunnyvale;CA;94085;USA",
		"NOTE:Notes from contact sync", "CATEGORIES:Customer,VIP,Hot lead",
		"URL:https://acme.pipedrive.com/person/1",
		"X-PIPEDRIVE-ID:1", "X-PIPEDRIVE-ORG-ID:1", "X-PIPEDRIVE-OWNER-ID:1",
		"X-PIPEDRIVE-LABEL-ID:1", "X-PIPEDRIVE-LABEL-ID:2", "X-PIPEDRIVE-LABEL-ID:3",
		"REV:20210101T000000Z", "END:VCARD", NULL,
	};
	expect_card("reference API example v3.0 resolved", ref_person_api, &g3, good30);

	static const char *const good40[] = {
		"BEGIN:VCARD", "VERSION:4.0", "PRODID:-//pipedrivefs//pipedrivefs//EN",
		"UID:urn:uuid:ebe518ef-3d00-5cd6-9282-9bcbe219e05f", "KIND:individual",
		"FN:Person Name", "N:Name;Person;;;", "ORG:Acme Inc.", "TITLE:Manager",
		"EMAIL;TYPE=work;PREF=1:email1@email.com", "EMAIL;TYPE=home:email2@email.com",
		"TEL;TYPE=work;PREF=1:12345", "TEL;TYPE=home:54321",
		"IMPP;X-SERVICE-TYPE=Skype;PREF=1:skype:skypeusername",
		"IMPP;X-SERVICE-TYPE=whatsapp:x-apple:whatsappusername",
		"BDAY:20001231",
		"ADR;TYPE=work:;;123 Main St\\, Apt 1;Sunnyvale;CA;94085;USA",
		"NOTE:Notes from contact sync", "CATEGORIES:Customer,VIP,Hot lead",
		"URL:https://acme.pipedrive.com/person/1",
		"X-PIPEDRIVE-ID:1", "X-PIPEDRIVE-ORG-ID:1", "X-PIPEDRIVE-OWNER-ID:1",
		"X-PIPEDRIVE-LABEL-ID:1", "X-PIPEDRIVE-LABEL-ID:2", "X-PIPEDRIVE-LABEL-ID:3",
		"REV:20210101T000000Z", "END:VCARD", NULL,
	};
	expect_card("reference API example v4.0 resolved", ref_person_api, &g4, good40);
}

/* The card of {"id":106, ...} with nothing but one optional line before URL
 * and one after the X-PIPEDRIVE-ID line. */
static void expect_person_106(const char *test, const char *json,
			      const struct vcard_options *opt, const char *before_url,
			      const char *after_ids)
{
	const char *lines[16];
	size_t n = 0;
	bool v4 = opt->version == VCARD_V40;
	lines[n++] = "BEGIN:VCARD";
	lines[n++] = v4 ? "VERSION:4.0" : "VERSION:3.0";
	lines[n++] = "PRODID:-//pipedrivefs//pipedrivefs//EN";
	lines[n++] = v4 ? "UID:urn:uuid:b9057140-d975-52a8-880d-f5cf9b53d296"
			: "UID:b9057140-d975-52a8-880d-f5cf9b53d296";
	if (v4)
		lines[n++] = "KIND:individual";
	lines[n++] = "FN:Pipedrive person 106";
	lines[n++] = "N:;;;;";
	if (before_url)
		lines[n++] = before_url;
	lines[n++] = "URL:https://acme.pipedrive.com/person/106";
	lines[n++] = "X-PIPEDRIVE-ID:106";
	if (after_ids)
		lines[n++] = after_ids;
	lines[n++] = "END:VCARD";
	lines[n] = NULL;
	expect_card(test, json, opt, lines);
}

/* Lines every card for id N of company acme ends with (no org/owner/labels). */
#define TAIL(id) "URL:https://acme.pipedrive.com/person/" #id, "X-PIPEDRIVE-ID:" #id, \
		 "END:VCARD", NULL
#define HEAD30(uid) "BEGIN:VCARD", "VERSION:3.0", "PRODID:-//pipedrivefs//pipedrivefs//EN", \
		    "UID:" uid
#define HEAD40(uid) "BEGIN:VCARD", "VERSION:4.0", "PRODID:-//pipedrivefs//pipedrivefs//EN", \
		    "UID:urn:uuid:" uid, "KIND:individual"

static void test_tricky_punctuation(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	/* t01: every escape in FN, N, TITLE, NOTE, ORG and CATEGORIES */
	struct vcard_options t01o = o3;
	t01o.org_name = "Acme, Inc.; EMEA";
	t01o.label_name = test_label_name;
	expect_card("t01 punctuation",
		    "{\"id\":101,\"name\":\"Doe, John; \\\"JJ\\\" \\\\ Jr.\","
		    "\"first_name\":\"John; JJ\",\"last_name\":\"Doe, Jr. \\\\ III\","
		    "\"job_title\":\"VP, Sales; EMEA\","
		    "\"notes\":\"Met at conference, wants a demo; path C:\\\\tmp\","
		    "\"label_ids\":[4,5,99,6]}",
		    &t01o, (const char *const[]){
			    HEAD30("501e706b-7fbb-5f04-8c3a-b7d5d2556955"),
			    "FN:Doe\\, John\\; \"JJ\" \\\\ Jr.", "N:Doe\\, Jr. \\\\ III;John\\; JJ;;;",
			    "ORG:Acme\\, Inc.\\; EMEA", "TITLE:VP\\, Sales\\; EMEA",
			    "NOTE:Met at conference\\, wants a demo\\; path C:\\\\tmp",
			    "CATEGORIES:Hot\\, urgent\\; \\\\ now,Bad\xEF\xBF\xBD byte",
			    "URL:https://acme.pipedrive.com/person/101", "X-PIPEDRIVE-ID:101",
			    "X-PIPEDRIVE-LABEL-ID:4", "X-PIPEDRIVE-LABEL-ID:5",
			    "X-PIPEDRIVE-LABEL-ID:99", "X-PIPEDRIVE-LABEL-ID:6",
			    "END:VCARD", NULL });

	/* t02: line breaks in single-line and multi-line fields */
	expect_card("t02 newlines",
		    "{\"id\":102,\"name\":\"John\\r\\nDoe\",\"first_name\":\"John\\r\","
		    "\"last_name\":\"\\nDoe\\t\",\"job_title\":\"Head\\tof\\rSales\","
		    "\"notes\":\"  Line one\\r\\nLine two\\rLine three\\n\\nAfter blank line\\ttab\\n\\n\"}",
		    &o3, (const char *const[]){
			    HEAD30("8defe9e4-19dd-5022-9a13-20b3903f64e8"),
			    "FN:John Doe", "N:Doe;John;;;", "TITLE:Head of Sales",
			    "NOTE:Line one\\nLine two\\nLine three\\n\\nAfter blank line\ttab",
			    TAIL(102) });
}

static void test_tricky_unicode(void)
{
	struct vcard_options o4 = options(VCARD_V40);
	/* t03: emoji with skin tone and ZWJ, CJK, Arabic, Hebrew, RLM, flags */
	const char *name = "\xF0\x9F\x91\xA9\xF0\x9F\x8F\xBD\xE2\x80\x8D\xF0\x9F\x92\xBB "
			   "\xE6\x9D\x8E\xE5\xB0\x8F\xE9\xBE\x8D \xD8\xB9\xD9\x84\xD9\x8A "
			   "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D\xE2\x80\x8F \xF0\x9F\x87\xA9\xF0\x9F\x87\xAA";
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_int(103));
	json_object_object_add(p, "name", json_object_new_string(name));
	struct strbuf note = STRBUF_INIT;
	for (int i = 0; i < 6; i++)
		sb_puts(&note, name);
	json_object_object_add(p, "notes", json_object_new_string_len(note.data, (int)note.len));

	struct strbuf out = STRBUF_INIT, unfolded = STRBUF_INIT, want = STRBUF_INIT;
	expect_true("t03 render", render_obj(p, &o4, &out) == 0, "render failed");
	check_physical_lines("t03 unicode", out.data, out.len);
	unfold(&unfolded, out.data, out.len);
	sb_printf(&want, "\r\nFN:%s\r\nN:%s;;;;\r\n", name, name);
	expect_true("t03 FN and N exact", strstr(unfolded.data, want.data) != NULL,
		    "FN/N not byte-identical after unfolding");
	sb_reset(&want);
	sb_printf(&want, "\r\nNOTE:%s\r\n", note.data);
	expect_true("t03 NOTE exact", strstr(unfolded.data, want.data) != NULL,
		    "NOTE not byte-identical after unfolding");
	json_object_put(p);
	sb_free(&note);
	sb_free(&out);
	sb_free(&unfolded);
	sb_free(&want);
}

/* t04: a 3,480-character note mixing 1- to 4-byte characters and escapes. */
static void test_tricky_long_note(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	static const char *const pieces[] = { "a", "\xC3\xA9", "\xE6\x9D\x8E", "\xF0\x9F\x91\x8D",
					      ",", ";", "\\", " ", "\n" };
	static const char *const escaped[] = { "a", "\xC3\xA9", "\xE6\x9D\x8E", "\xF0\x9F\x91\x8D",
					       "\\,", "\\;", "\\\\", " ", "\\n" };
	struct strbuf note = STRBUF_INIT, want = STRBUF_INIT;
	sb_puts(&want, "\r\nNOTE:x");
	sb_puts(&note, "x");
	for (int i = 1; i < 3479; i++) {
		sb_puts(&note, pieces[(i * 5) % 9]);
		sb_puts(&want, escaped[(i * 5) % 9]);
	}
	sb_puts(&note, "y");
	sb_puts(&want, "y\r\n");

	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_int(104));
	json_object_object_add(p, "notes", json_object_new_string_len(note.data, (int)note.len));
	struct strbuf out = STRBUF_INIT, unfolded = STRBUF_INIT;
	expect_true("t04 render", render_obj(p, &o3, &out) == 0, "render failed");
	check_physical_lines("t04 long note", out.data, out.len);
	unfold(&unfolded, out.data, out.len);
	expect_true("t04 NOTE exact after unfolding", strstr(unfolded.data, want.data) != NULL,
		    "NOTE differs");
	json_object_put(p);
	sb_free(&note);
	sb_free(&want);
	sb_free(&out);
	sb_free(&unfolded);
}

static void test_tricky_fallbacks(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	/* t05: empty names -> primary email (not the first one) */
	expect_card("t05 empty names",
		    "{\"id\":105,\"name\":\"\",\"first_name\":\" \",\"last_name\":null,"
		    "\"emails\":[{\"value\":\"email2@email.com\",\"primary\":false,\"label\":\"home\"},"
		    "{\"value\":\"email1@email.com\",\"primary\":true,\"label\":\"work\"}]}",
		    &o3, (const char *const[]){
			    HEAD30("8ace0b00-eee0-5a75-a54f-a936be75888e"),
			    "FN:email1@email.com", "N:;;;;",
			    "EMAIL;TYPE=INTERNET;TYPE=WORK;TYPE=PREF:email1@email.com",
			    "EMAIL;TYPE=INTERNET;TYPE=HOME:email2@email.com",
			    TAIL(105) });
	/* t06: nothing at all */
	expect_card("t06 nothing", "{\"id\":106}", &o3, (const char *const[]){
			    HEAD30("b9057140-d975-52a8-880d-f5cf9b53d296"),
			    "FN:Pipedrive person 106", "N:;;;;", TAIL(106) });
	/* t07: no email, phone only (no primary: first non-empty wins) */
	expect_card("t07 phone fallback",
		    "{\"id\":107,\"emails\":[],\"phones\":[{\"value\":\"  \"},"
		    "{\"value\":\"+1 555 0100\",\"label\":\"mobile\"},{\"value\":\"+1 555 0199\"}]}",
		    &o3, (const char *const[]){
			    HEAD30("9b24691d-18eb-5b38-9a42-3a8122627790"),
			    "FN:+1 555 0100", "N:;;;;",
			    "TEL;TYPE=CELL;TYPE=VOICE:+1 555 0100", "TEL;TYPE=VOICE:+1 555 0199",
			    TAIL(107) });
	/* name only: it goes to the family component */
	expect_card("name only in N family",
		    "{\"id\":106,\"name\":\"  Solo, Name \",\"first_name\":null}",
		    &o3, (const char *const[]){
			    HEAD30("b9057140-d975-52a8-880d-f5cf9b53d296"),
			    "FN:Solo\\, Name", "N:Solo\\, Name;;;;", TAIL(106) });
	/* first + last when name is blank; first missing */
	expect_card("first and last fallback",
		    "{\"id\":106,\"name\":\"\\r\\n\",\"last_name\":\"Doe\"}",
		    &o3, (const char *const[]){
			    HEAD30("b9057140-d975-52a8-880d-f5cf9b53d296"),
			    "FN:Doe", "N:Doe;;;;", TAIL(106) });
}

static void test_tricky_lists(void)
{
	struct vcard_options o3 = options(VCARD_V30), o4 = options(VCARD_V40);
	/* t08: exact duplicates once (first in emit order wins), formats kept */
	expect_card("t08 duplicates",
		    "{\"id\":108,\"name\":\"Dup\",\"phones\":["
		    "{\"value\":\"12345\",\"primary\":false,\"label\":\"mobile\"},"
		    "{\"value\":\"+1 (555) 0100\",\"label\":\"home\"},"
		    "{\"value\":\"12345\",\"primary\":true,\"label\":\"work\"},"
		    "{\"value\":\" 12345\\n\",\"primary\":true,\"label\":\"home\"},"
		    "{\"value\":\"+15550100\",\"label\":\"work\"},"
		    "{\"value\":\"+1 (555) 0100\",\"label\":\"mobile\"}]}",
		    &o3, (const char *const[]){
			    HEAD30("9ce0cc03-19a2-5114-aa31-046343aae189"),
			    "FN:Dup", "N:Dup;;;;",
			    "TEL;TYPE=WORK;TYPE=VOICE;TYPE=PREF:12345",
			    "TEL;TYPE=HOME;TYPE=VOICE:+1 (555) 0100",
			    "TEL;TYPE=WORK;TYPE=VOICE:+15550100",
			    TAIL(108) });

	/* t09: custom labels as itemN + X-ABLabel, IM services */
	const char *t09 =
		"{\"id\":109,\"name\":\"Labels\","
		"\"emails\":[{\"value\":\"a@x.com\",\"label\":\"billing\"},"
		"{\"value\":\"b@x.com\",\"label\":\"OTHER\"},"
		"{\"value\":\"c@x.com\",\"label\":\"Work\",\"primary\":true},"
		"{\"value\":\"d@x.com\",\"label\":\"work\",\"primary\":true}],"
		"\"phones\":[{\"value\":\"555-1\",\"label\":\"assistant\",\"primary\":true},"
		"{\"value\":\"555-2\",\"label\":\"other\"},"
		"{\"value\":\"555-3\",\"label\":\"B\xC3\xBCro, 2. OG\"}],"
		"\"im\":[{\"value\":\"+49 151 12345\",\"label\":\"whatsapp\"},"
		"{\"value\":\"@tg;user\",\"label\":\"telegram\",\"primary\":true},"
		"{\"value\":\"me@jabber.org\",\"label\":\"jabber\"},"
		"{\"value\":\"me@gmail.com\",\"label\":\"google\"},"
		"{\"value\":\"123456\",\"label\":\"ICQ\"},"
		"{\"value\":\"x y\",\"label\":\"Chat: a, b\"},"
		"{\"value\":\"plain\"},{\"value\":\"me@jabber.org\",\"label\":\"SIP\"}]}";
	expect_card("t09 labels v3.0", t09, &o3, (const char *const[]){
			    HEAD30("b801e925-0353-5264-8d67-acf82486de3b"),
			    "FN:Labels", "N:Labels;;;;",
			    "EMAIL;TYPE=INTERNET;TYPE=WORK;TYPE=PREF:c@x.com",
			    "EMAIL;TYPE=INTERNET;TYPE=WORK:d@x.com",
			    "item1.EMAIL;TYPE=INTERNET:a@x.com", "item1.X-ABLabel:billing",
			    "EMAIL;TYPE=INTERNET:b@x.com",
			    "item2.TEL;TYPE=VOICE;TYPE=PREF:555-1", "item2.X-ABLabel:assistant",
			    "TEL;TYPE=VOICE:555-2",
			    "item3.TEL;TYPE=VOICE:555-3", "item3.X-ABLabel:B\xC3\xBCro\\, 2. OG",
			    "IMPP;X-SERVICE-TYPE=telegram;TYPE=PREF:x-apple:@tg%3Buser",
			    "IMPP;X-SERVICE-TYPE=whatsapp:x-apple:+49%20151%2012345",
			    "IMPP;X-SERVICE-TYPE=Jabber:xmpp:me@jabber.org", "X-JABBER:me@jabber.org",
			    "IMPP;X-SERVICE-TYPE=Jabber:xmpp:me@gmail.com", "X-GOOGLE-TALK:me@gmail.com",
			    "IMPP;X-SERVICE-TYPE=ICQ:aim:123456", "X-ICQ:123456",
			    "IMPP;X-SERVICE-TYPE=\"Chat: a, b\":x-apple:x%20y",
			    "IMPP:x-apple:plain",
			    "IMPP;X-SERVICE-TYPE=SIP:sip:me@jabber.org", "X-SIP:me@jabber.org",
			    TAIL(109) });
	expect_card("t09 labels v4.0", t09, &o4, (const char *const[]){
			    HEAD40("b801e925-0353-5264-8d67-acf82486de3b"),
			    "FN:Labels", "N:Labels;;;;",
			    "EMAIL;TYPE=work;PREF=1:c@x.com", "EMAIL;TYPE=work:d@x.com",
			    "item1.EMAIL:a@x.com", "item1.X-ABLabel:billing", "EMAIL:b@x.com",
			    "item2.TEL;TYPE=voice;PREF=1:555-1", "item2.X-ABLabel:assistant",
			    "TEL;TYPE=voice:555-2",
			    "item3.TEL;TYPE=voice:555-3", "item3.X-ABLabel:B\xC3\xBCro\\, 2. OG",
			    "IMPP;X-SERVICE-TYPE=telegram;PREF=1:x-apple:@tg%3Buser",
			    "IMPP;X-SERVICE-TYPE=whatsapp:x-apple:+49%20151%2012345",
			    "IMPP:xmpp:me@jabber.org", "IMPP:xmpp:me@gmail.com",
			    "IMPP;X-SERVICE-TYPE=ICQ:aim:123456",
			    "IMPP;X-SERVICE-TYPE=\"Chat: a, b\":x-apple:x%20y",
			    "IMPP:x-apple:plain", "IMPP;X-SERVICE-TYPE=SIP:sip:me@jabber.org",
			    TAIL(109) });
}

static void test_tricky_addresses(void)
{
	struct vcard_options o3 = options(VCARD_V30), o4 = options(VCARD_V40);
	/* t10: only the formatted value */
	expect_card("t10 address value only",
		    "{\"id\":110,\"name\":\"A\",\"postal_address\":"
		    "{\"value\":\"Friedrichstra\xC3\x9F" "e 123, 10117 Berlin, Germany\",\"route\":null}}",
		    &o3, (const char *const[]){
			    HEAD30("e400d02e-6276-515a-9ba3-6a51d1e23c57"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=WORK:;;Friedrichstra\xC3\x9F" "e 123\\, 10117 Berlin\\, Germany;;;;",
			    TAIL(110) });
	/* t11: German components, number after the route */
	expect_card("t11 address DE",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"value\":\"ignored\",\"country\":\"Germany\",\"admin_area_level_1\":\"Berlin\","
		    "\"locality\":\"Berlin\",\"route\":\"Friedrichstra\xC3\x9F" "e\","
		    "\"street_number\":\"123\",\"subpremise\":\"3. OG\",\"postal_code\":\"10117\"}}",
		    &o4, (const char *const[]){
			    HEAD40("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=work:;;Friedrichstra\xC3\x9F" "e 123\\, 3. OG;Berlin;Berlin;10117;Germany",
			    TAIL(111) });
	expect_card("address ISO code nl, route without number",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"country\":\"nl\",\"route\":\"Damrak\",\"locality\":\"Amsterdam\"}}",
		    &o3, (const char *const[]){
			    HEAD30("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=WORK:;;Damrak;Amsterdam;;;nl", TAIL(111) });
	expect_card("address local country name",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"country\":\"espa\u00f1a\",\"route\":\"Gran V\u00eda\",\"street_number\":\"1\"}}",
		    &o3, (const char *const[]){
			    HEAD30("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=WORK:;;Gran V\xC3\xAD" "a 1;;;;espa\xC3\xB1" "a", TAIL(111) });
	expect_card("address subpremise alone",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"subpremise\":\"Suite 5\",\"postal_code\":\"1000\"}}",
		    &o3, (const char *const[]){
			    HEAD30("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=WORK:;;Suite 5;;;1000;", TAIL(111) });
	expect_card("address number first in the US, ; escaped",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"country\":\"US\",\"street_number\":\"1\",\"route\":\"Main; St\"}}",
		    &o3, (const char *const[]){
			    HEAD30("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    "ADR;TYPE=WORK:;;1 Main\\; St;;;;US", TAIL(111) });
	expect_card("address empty components omitted",
		    "{\"id\":111,\"name\":\"A\",\"postal_address\":"
		    "{\"value\":\" \",\"country\":\"\",\"route\":5}}",
		    &o3, (const char *const[]){
			    HEAD30("8d8c28d9-14db-5a83-b1d4-f84705b618f1"), "FN:A", "N:A;;;;",
			    TAIL(111) });
}

/* t12: BEL, NUL, ESC, DEL and invalid UTF-8 inside values (raw bytes). */
static void test_tricky_controls(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_int(112));
	json_object_object_add(p, "name", json_object_new_string_len("\aJo\0hn\x1b D\x7foe\xC3", 14));
	json_object_object_add(p, "notes",
			       json_object_new_string_len("\0 a\a\r\nb\x1b\x7f\xff\0", 12));
	json_object_object_add(p, "job_title", json_object_new_string_len("\0\0\0", 3));
	expect_card_obj("t12 controls", p, &o3, (const char *const[]){
				HEAD30("caabb1ae-3e90-51a2-a7dd-8e161897af45"),
				"FN:John Doe\xEF\xBF\xBD", "N:John Doe\xEF\xBF\xBD;;;;",
				"NOTE:a\\nb\xEF\xBF\xBD", TAIL(112) });
	json_object_put(p);
}

static void test_dates(void)
{
	struct vcard_options o3 = options(VCARD_V30), o4 = options(VCARD_V40);
	static const struct {
		const char *update_time, *rev;
	} revs[] = {
		{ "2021-01-01T00:00:00Z", "REV:20210101T000000Z" },
		{ "2021-01-01T00:00:00.123456Z", "REV:20210101T000000Z" },
		{ "2021-01-01T01:30:00+02:00", "REV:20201231T233000Z" },
		{ "2020-12-31T23:30:00-01:00", "REV:20210101T003000Z" },
		{ "2024-02-28t23:59:59.9-00:01", "REV:20240229T000059Z" },
		{ "2021-06-15 10:20:30", "REV:20210615T102030Z" },
		{ "2021-01-01T00:00:00", NULL },
		{ "2021-02-29T00:00:00Z", NULL },
		{ "2021-01-01T24:00:00Z", NULL },
		{ "2021-01-01T00:00:00+2:00", NULL },
		{ "2021-01-01T00:00:00.Z", NULL },
		{ "2021-01-01T00:00:00Zjunk", NULL },
		{ "0001-01-01T00:00:00+01:00", NULL },
		{ "yesterday", NULL },
	};
	for (size_t i = 0; i < sizeof revs / sizeof revs[0]; i++) {
		char json[160], test[96];
		snprintf(json, sizeof json, "{\"id\":106,\"update_time\":\"%s\"}", revs[i].update_time);
		snprintf(test, sizeof test, "REV from %s", revs[i].update_time);
		expect_person_106(test, json, &o3, NULL, revs[i].rev);
	}

	static const struct {
		const char *birthday, *v3, *v4;
	} bdays[] = {
		{ "2000-12-31", "BDAY:2000-12-31", "BDAY:20001231" },
		{ "2000-02-29", "BDAY:2000-02-29", "BDAY:20000229" },
		{ "1900-02-29", NULL, NULL },
		{ "2001-04-31", NULL, NULL },
		{ "2000-13-01", NULL, NULL },
		{ "0000-01-01", NULL, NULL },
		{ "2000-1-01", NULL, NULL },
		{ "2000-12-31T00:00:00Z", NULL, NULL },
		{ "--12-31", NULL, NULL },
		{ "20001231", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof bdays / sizeof bdays[0]; i++) {
		char json[160], test[96];
		snprintf(json, sizeof json, "{\"id\":106,\"birthday\":\"%s\"}", bdays[i].birthday);
		for (int v = 0; v < 2; v++) {
			const char *line = v ? bdays[i].v4 : bdays[i].v3;
			snprintf(test, sizeof test, "BDAY from %s v%d", bdays[i].birthday, v ? 4 : 3);
			expect_person_106(test, json, v ? &o4 : &o3, line, NULL);
		}
	}
}

static void test_wrong_types(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	o3.label_name = test_label_name;
	o3.org_name = " \t ";
	expect_card("every field of the wrong type",
		    "{\"id\":200,\"name\":123,\"first_name\":[\"a\"],\"last_name\":{\"x\":1},"
		    "\"owner_id\":\"1\",\"org_id\":{\"value\":1},\"add_time\":5,"
		    "\"update_time\":1609459200,\"emails\":\"a@b.com\","
		    "\"phones\":{\"value\":\"1\"},\"im\":7,\"is_deleted\":\"no\","
		    "\"visible_to\":\"7\",\"label_ids\":\"1,2\",\"picture_id\":[],"
		    "\"custom_fields\":[],\"notes\":1.5,\"birthday\":20001231,"
		    "\"job_title\":true,\"postal_address\":[\"x\"]}",
		    &o3, (const char *const[]){
			    HEAD30("05574b4c-e759-58ec-864c-bd89a7cf2bd2"),
			    "FN:Pipedrive person 200", "N:;;;;", TAIL(200) });
	expect_card("wrong types inside arrays and objects",
		    "{\"id\":200,\"emails\":[null,5,[],{\"value\":7},{\"value\":null,\"primary\":true},"
		    "{\"value\":\"ok@x.com\",\"primary\":\"true\",\"label\":9},\"bare@x.com\"],"
		    "\"label_ids\":[1,\"2\",3.0,null,{},18446744073709551615,-4,\"vip\",\"02\","
		    "\"x;y\",\"\"],"
		    "\"owner_id\":9223372036854775807,\"org_id\":-1,"
		    "\"postal_address\":{\"value\":[],\"locality\":{\"a\":1},\"country\":\"DE\"}}",
		    &o3, (const char *const[]){
			    HEAD30("05574b4c-e759-58ec-864c-bd89a7cf2bd2"),
			    "FN:ok@x.com", "N:;;;;",
			    "EMAIL;TYPE=INTERNET:ok@x.com", "EMAIL;TYPE=INTERNET:bare@x.com",
			    "ADR;TYPE=WORK:;;;;;;DE",
			    /* label ids as the spec allows them for built-in fields:
			     * "2" is the id 2, other strings are ids of their own */
			    "CATEGORIES:Customer,VIP,VIP (text id)",
			    "URL:https://acme.pipedrive.com/person/200", "X-PIPEDRIVE-ID:200",
			    "X-PIPEDRIVE-ORG-ID:-1", "X-PIPEDRIVE-OWNER-ID:9223372036854775807",
			    "X-PIPEDRIVE-LABEL-ID:1", "X-PIPEDRIVE-LABEL-ID:2", "X-PIPEDRIVE-LABEL-ID:-4",
			    "X-PIPEDRIVE-LABEL-ID:vip", "X-PIPEDRIVE-LABEL-ID:02",
			    "X-PIPEDRIVE-LABEL-ID:x\\;y",
			    "END:VCARD", NULL });
	/* a v1-style plain string postal_address is the whole-value case */
	expect_card("postal_address as a string",
		    "{\"id\":200,\"postal_address\":\"1 Main St, Springfield\"}",
		    &o3, (const char *const[]){
			    HEAD30("05574b4c-e759-58ec-864c-bd89a7cf2bd2"),
			    "FN:Pipedrive person 200", "N:;;;;",
			    "ADR;TYPE=WORK:;;1 Main St\\, Springfield;;;;",
			    TAIL(200) });
}

static void test_ids_and_options(void)
{
	struct vcard_options o3 = options(VCARD_V30);
	expect_card("only an id", "{\"id\":300}", &o3, (const char *const[]){
			    HEAD30("9e0d64d4-acc8-55d3-b2f2-ff4521736143"),
			    "FN:Pipedrive person 300", "N:;;;;", TAIL(300) });
	expect_card("negative id is still an integer", "{\"id\":-5}", &o3, (const char *const[]){
			    HEAD30("b4f05bc4-9a8e-5ca3-be3b-567c42b9e349"),
			    "FN:Pipedrive person -5", "N:;;;;", TAIL(-5) });

	struct vcard_options app = o3;
	app.app_url = "https://app.example.com/sub dir/";
	expect_card("app_url with trailing slash and space", "{\"id\":300}", &app,
		    (const char *const[]){
			    HEAD30("9e0d64d4-acc8-55d3-b2f2-ff4521736143"),
			    "FN:Pipedrive person 300", "N:;;;;",
			    "URL:https://app.example.com/sub%20dir/person/300",
			    "X-PIPEDRIVE-ID:300", "END:VCARD", NULL });

	static const char *const invalid[] = {
		"{}", "{\"id\":null}", "{\"id\":\"1\"}", "{\"id\":1.0}", "{\"id\":[1]}",
		"{\"id\":18446744073709551615}", "[{\"id\":1}]", "\"id\"", "42",
	};
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		struct json_object *p = parse(invalid[i], invalid[i]);
		struct strbuf out = STRBUF_INIT;
		char test[96];
		snprintf(test, sizeof test, "-EINVAL for %s", invalid[i]);
		expect_true(test, render_obj(p, &o3, &out) == -EINVAL && out.len == 0,
			    "expected -EINVAL and no output");
		json_object_put(p);
		sb_free(&out);
	}
	struct strbuf out = STRBUF_INIT;
	expect_true("-EINVAL for NULL person", render_obj(NULL, &o3, &out) == -EINVAL,
		    "expected -EINVAL");
	sb_free(&out);
}

/* The same input always gives the same bytes, and rendering appends. */
static void test_deterministic_append(void)
{
	struct vcard_options o4 = options(VCARD_V40);
	struct json_object *p = parse("deterministic", ref_person_api);
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	sb_puts(&b, "prefix");
	render_obj(p, &o4, &a);
	render_obj(p, &o4, &b);
	expect_true("render appends", b.len == a.len + 6 && memcmp(b.data, "prefix", 6) == 0,
		    "existing contents changed");
	expect_bytes("render deterministic", a.data, a.len, b.data + 6, b.len - 6);
	json_object_put(p);
	sb_free(&a);
	sb_free(&b);
}

/* Pseudo-random bytes in every text field: the card keeps its invariants. */
static void test_random_bytes(void)
{
	static const char *const keys[] = { "name", "first_name", "last_name", "notes",
					    "job_title", "birthday", "update_time" };
	struct vcard_options opts[2] = { options(VCARD_V30), options(VCARD_V40) };
	uint32_t seed = 12345;
	for (int round = 0; round < 300; round++) {
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "id", json_object_new_int(round));
		char buf[300];
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			size_t n = (seed = seed * 1103515245 + 12345) >> 16 & 255;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				buf[i] = (char)(seed >> 16);
			}
			json_object_object_add(p, keys[k], json_object_new_string_len(buf, (int)n));
		}
		struct json_object *emails = json_object_new_array();
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "value", json_object_new_string_len(buf, 40));
		json_object_object_add(e, "label", json_object_new_string_len(buf + 40, 20));
		json_object_array_add(emails, e);
		json_object_object_add(p, "emails", emails);
		struct json_object *ims = json_object_get(emails);
		json_object_object_add(p, "im", ims);

		struct strbuf out = STRBUF_INIT;
		char test[64];
		snprintf(test, sizeof test, "random bytes round %d", round);
		expect_true(test, render_obj(p, &opts[round % 2], &out) == 0, "render failed");
		check_physical_lines(test, out.data, out.len);
		expect_true(test, strstr(out.data, "\r\nFN:\r\n") == NULL, "empty FN");
		json_object_put(p);
		sb_free(&out);
	}
}

int main(void)
{
	test_escape_text();
	test_fold_exact();
	test_fold_multibyte();
	test_fold_long();
	test_sha1();
	test_uuid5();
	test_reference_person();
	test_tricky_punctuation();
	test_tricky_unicode();
	test_tricky_long_note();
	test_tricky_fallbacks();
	test_tricky_lists();
	test_tricky_addresses();
	test_tricky_controls();
	test_dates();
	test_wrong_types();
	test_ids_and_options();
	test_deterministic_append();
	test_random_bytes();
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	puts("all vcard checks passed");
	return 0;
}
