/*
 * fuzz_text.c - the text building blocks against independent reference
 * implementations of their contracts:
 *
 *   vcard_escape_text (both modes)  == reference clean + escape
 *   vcard_fold_line                 unfolds to the input; physical lines
 *                                   <= 75 octets; breaks only between
 *                                   characters / escape pairs; greedy
 *   utf8_decode, utf8_sanitize      == Unicode Table 3-7 / maximal subparts
 *   utf8_boundary                   cuts only at a character boundary
 *   names_person_base               == reference naming rule; the base of a
 *                                   generated name parses back (both
 *                                   extensions) to the same id
 *   names_group_link                == the same rule without the id; no
 *                                   link for empty or id-like names
 *   names_parse_person_file/_id     consistent on arbitrary bytes
 *
 * Input: byte 0 = flags, bytes 1..8 = id seed, the rest (or all of it) text.
 */
#include <inttypes.h>

#include "fuzz_common.h"
#include "names.h"
#include "strbuf.h"
#include "utf8.h"
#include "vcard.h"

/* ---- vcard_escape_text ---- */

/* Reference: sanitize, map line breaks/TAB, drop other controls and DEL,
 * trim white space, then escape. */
static void ref_escape(struct strbuf *out, const char *s, size_t n, bool multi)
{
	size_t rn;
	char *r = ref_sanitize(s, n, &rn);
	char *m = malloc(rn + 1);
	size_t mn = 0;
	for (size_t i = 0; i < rn; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c == '\r' || c == '\n') {
			m[mn++] = multi ? '\n' : ' ';
			if (c == '\r' && i + 1 < rn && r[i + 1] == '\n')
				i++;
		} else if (c == '\t') {
			m[mn++] = multi ? '\t' : ' ';
		} else if (c >= 0x20 && c != 0x7F) {
			m[mn++] = (char)c;
		}
	}
	size_t b = 0, e = mn;
	while (b < e && (m[b] == ' ' || m[b] == '\t' || m[b] == '\n'))
		b++;
	while (e > b && (m[e - 1] == ' ' || m[e - 1] == '\t' || m[e - 1] == '\n'))
		e--;
	for (size_t i = b; i < e; i++) {
		switch (m[i]) {
		case '\\': sb_puts(out, "\\\\"); break;
		case ',': sb_puts(out, "\\,"); break;
		case ';': sb_puts(out, "\\;"); break;
		case '\n': sb_puts(out, "\\n"); break;
		default: sb_putc(out, m[i]);
		}
	}
	free(m);
	free(r);
}

static void check_escape(const char *s, size_t n, enum vcard_text_mode mode)
{
	struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
	sb_puts(&got, "pre:");
	vcard_escape_text(&got, s, n, mode);
	ref_escape(&want, s, n, mode == VCARD_TEXT_MULTI_LINE);
	FUZZ_CHECK(!sb_failed(&got), "escape buffer failed");
	const char *g = got.data + 4;
	size_t gn = got.len - 4;
	if (gn != want.len || memcmp(g, want.data ? want.data : "", gn)) {
		fuzz_dump("input", s, n);
		fuzz_dump("got", g, gn);
		fuzz_dump("want", want.data ? want.data : "", want.len);
		FUZZ_CHECK(0, "vcard_escape_text(%s) differs from the contract",
			   mode == VCARD_TEXT_MULTI_LINE ? "multi" : "single");
	}
	FUZZ_CHECK(ref_valid_utf8(g, gn), "escaped text is not UTF-8");
	sb_free(&got);
	sb_free(&want);
}

/* ---- vcard_fold_line ---- */

/* Units the folder must keep together, scanning from the left: a "\x"
 * pair (x ASCII), a well-formed UTF-8 sequence, or one stray byte. */
static size_t ref_unit(const char *line, size_t len, size_t i)
{
	size_t sub;
	if (line[i] == '\\' && i + 1 < len && (unsigned char)line[i + 1] < 0x80)
		return 2;
	size_t k = ref_utf8_seq((const unsigned char *)line + i, len - i, &sub);
	return k ? k : 1;
}

static void check_fold(const char *line, size_t len)
{
	struct strbuf out = STRBUF_INIT;
	sb_puts(&out, "X");
	vcard_fold_line(&out, line, len);
	FUZZ_CHECK(!sb_failed(&out), "fold buffer failed");
	const char *o = out.data + 1;
	size_t on = out.len - 1;
	FUZZ_CHECK(on >= 2 && o[on - 2] == '\r' && o[on - 1] == '\n', "fold: no final CRLF");

	/* Unit boundaries of the input. */
	unsigned char *boundary = calloc(len + 1, 1);
	for (size_t i = 0; i < len; i += ref_unit(line, len, i))
		boundary[i] = 1;
	boundary[len] = 1;

	size_t pos = 0, consumed = 0, phys_no = 0;
	while (pos < on) {
		const char *crlf = memmem(o + pos, on - pos, "\r\n", 2);
		FUZZ_CHECK(crlf, "fold: line without CRLF");
		size_t end = (size_t)(crlf - o);
		size_t phys = end - pos;
		FUZZ_CHECK(phys <= 75, "fold: physical line of %zu octets", phys);
		const char *content = o + pos;
		size_t clen = phys;
		if (phys_no > 0) {
			FUZZ_CHECK(phys >= 2 && o[pos] == ' ', "fold: bad continuation line");
			content++;
			clen--;
		}
		FUZZ_CHECK(consumed + clen <= len && !memcmp(content, line + consumed, clen),
			   "fold: text changed");
		consumed += clen;
		FUZZ_CHECK(boundary[consumed], "fold: break at byte %zu splits a character "
			   "or an escape pair", consumed);
		pos = end + 2;
		if (pos < on) {
			/* greedy: the next unit would not have fit on this line */
			size_t next = ref_unit(line, len, consumed);
			FUZZ_CHECK(phys + next > 75, "fold: line %zu broken early (%zu + %zu)",
				   phys_no, phys, next);
		}
		phys_no++;
	}
	FUZZ_CHECK(consumed == len, "fold: %zu of %zu bytes came out", consumed, len);
	free(boundary);
	sb_free(&out);
}

/* ---- utf8 ---- */

static void check_utf8(const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = 0xFFFFFFFF;
		size_t sub;
		size_t k = utf8_decode(s + i, n - i, &cp);
		size_t want = ref_utf8_seq(u + i, n - i, &sub);
		FUZZ_CHECK(k == want, "utf8_decode at %zu: %zu, want %zu", i, k, want);
		if (k)
			FUZZ_CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF),
				   "utf8_decode code point %" PRIX32, cp);
	}

	struct strbuf got = STRBUF_INIT;
	sb_puts(&got, "p");
	utf8_sanitize(&got, s, n);
	size_t wn;
	char *want = ref_sanitize(s, n, &wn);
	if (got.len - 1 != wn || memcmp(got.data + 1, want, wn)) {
		fuzz_dump("input", s, n);
		fuzz_dump("got", got.data + 1, got.len - 1);
		fuzz_dump("want", want, wn);
		FUZZ_CHECK(0, "utf8_sanitize differs from maximal-subpart replacement");
	}

	/* utf8_boundary on well-formed text */
	size_t b = utf8_boundary(want, wn, max);
	if (wn <= max) {
		FUZZ_CHECK(b == wn, "utf8_boundary cut a short string");
	} else {
		FUZZ_CHECK(b <= max && max - b < 4, "utf8_boundary(%zu) = %zu", max, b);
		FUZZ_CHECK(ref_valid_utf8(want, b), "utf8_boundary split a character");
	}
	/* and on anything: never beyond max */
	b = utf8_boundary(s, n, max);
	FUZZ_CHECK(n <= max ? b == n : b <= max, "utf8_boundary(raw) = %zu", b);
	free(want);
	sb_free(&got);
}

/* ---- names ---- */

static bool ref_parse_id(const char *s, size_t n, int64_t *id);

/* Reference cleaning of a person/group name: sanitize, "/" and controls to
 * "_", leading dots removed, cut at a character boundary to budget bytes. */
static void ref_clean_name(struct strbuf *want, const char *s, size_t n, bool null_name,
			   size_t budget)
{
	size_t rn = 0;
	char *r = null_name ? strdup("") : ref_sanitize(s, n, &rn);
	size_t start = 0;
	while (start < rn && r[start] == '.')
		start++;
	size_t from = want->len;
	for (size_t i = start; i < rn; i++) {
		unsigned char c = (unsigned char)r[i];
		sb_putc(want, (c == '/' || c < 0x20 || c == 0x7F) ? '_' : (char)c);
	}
	free(r);
	size_t keep = want->len - from;
	if (keep > budget) {
		size_t i = 0, sub;
		while (i < keep) {
			size_t k = ref_utf8_seq((const unsigned char *)want->data + from + i,
						keep - i, &sub);
			FUZZ_CHECK(k, "reference name is not UTF-8");
			if (i + k > budget)
				break;
			i += k;
		}
		keep = i;
	}
	sb_truncate(want, from + keep);
}

static void check_group_link(const char *s, size_t n)
{
	struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
	sb_puts(&got, "by-org/");
	bool ok = names_group_link(&got, s, n);

	/* reference: the person-name cleaning, then no leading dots or spaces
	 * and no trailing spaces (repeatedly: " .x" must not become ".x") */
	ref_clean_name(&want, s, n, false, SIZE_MAX);
	size_t b = 0, e = want.len;
	while (b < e && (want.data[b] == '.' || want.data[b] == ' '))
		b++;
	while (e > b && want.data[e - 1] == ' ')
		e--;
	bool digits = e > b;
	for (size_t i = b; i < e; i++)
		digits = digits && want.data[i] >= '0' && want.data[i] <= '9';
	/* "<digits>.vcf" is the name of an id folder's folder file */
	bool folder_file = e - b > 4 && memcmp(want.data + e - 4, ".vcf", 4) == 0;
	for (size_t i = b; folder_file && i < e - 4; i++)
		folder_file = want.data[i] >= '0' && want.data[i] <= '9';
	bool want_ok = e > b && !digits && !folder_file;
	if (e - b <= NAMES_NAME_MAX)
		FUZZ_CHECK(ok == want_ok, "names_group_link returned %d, want %d", ok, want_ok);
	else /* the cut to NAMES_NAME_MAX may leave digits alone: refused too */
		FUZZ_CHECK(!ok || want_ok, "names_group_link made a link of %zu bytes that names an id",
			   e - b);

	if (!ok) {
		FUZZ_CHECK(got.len == 7, "names_group_link appended on failure");
	} else {
		const char *g = got.data + 7;
		size_t gn = got.len - 7;
		bool bad = gn == 0 || gn > NAMES_NAME_MAX || !ref_valid_utf8(g, gn) ||
			   g[0] == '.' || g[0] == ' ' || g[gn - 1] == ' ' ||
			   names_all_digits(g, gn);
		for (size_t i = 0; i < gn; i++)
			bad = bad || g[i] == '/' || (unsigned char)g[i] < 0x20 || g[i] == 0x7F;
		/* content: the reference, possibly cut at a character boundary */
		bad = bad || gn > e - b || memcmp(g, want.data + b, gn) != 0;
		if (!bad && gn < e - b) {
			/* cut: at the last character boundary within NAME_MAX, then
			 * trailing spaces dropped */
			size_t cut = utf8_boundary(want.data + b, e - b, NAMES_NAME_MAX);
			for (size_t i = gn; i < cut; i++)
				bad = bad || want.data[b + i] != ' ';
			bad = bad || cut < gn;
		}
		if (bad) {
			fuzz_dump("name", s, n);
			fuzz_dump("got", g, gn);
			fuzz_dump("want", want.data + b, e - b);
			FUZZ_CHECK(0, "names_group_link breaks its contract");
		}
	}
	sb_free(&got);
	sb_free(&want);
}

static void check_names(const char *s, size_t n, bool null_name, int64_t id)
{
	struct strbuf base = STRBUF_INIT;
	sb_puts(&base, "//");
	names_person_base(&base, null_name ? NULL : s, null_name ? 0 : n, id);
	FUZZ_CHECK(!sb_failed(&base), "names buffer failed");
	const char *b = base.data + 2;
	size_t bn = base.len - 2;

	/* reference */
	char suffix[32];
	size_t sl = (size_t)snprintf(suffix, sizeof suffix, " (%" PRId64 ")", id);
	struct strbuf want = STRBUF_INIT;
	ref_clean_name(&want, s, n, null_name, 255 - 5 - sl);
	if (want.len == 0)
		sb_puts(&want, "Unnamed");
	sb_append(&want, suffix, sl);
	if (bn != want.len || memcmp(b, want.data, bn)) {
		fuzz_dump("name", s, null_name ? 0 : n);
		fuzz_dump("got", b, bn);
		fuzz_dump("want", want.data, want.len);
		FUZZ_CHECK(0, "names_person_base differs from the naming rule (id %" PRId64 ")", id);
	}
	sb_free(&want);

	for (int k = 0; k < 2; k++) {
		enum person_file kind = (enum person_file)k;
		struct strbuf file = STRBUF_INIT;
		sb_append(&file, b, bn);
		sb_puts(&file, names_extension(kind));
		FUZZ_CHECK(file.len <= NAMES_NAME_MAX, "file name of %zu bytes", file.len);
		FUZZ_CHECK(ref_valid_utf8(file.data, file.len), "file name not UTF-8");
		int64_t pid = -1;
		enum person_file pk = (enum person_file)7;
		size_t pbl = 0;
		bool ok = names_parse_person_file(file.data, file.len, &pid, &pk, &pbl);
		FUZZ_CHECK(ok && pid == id && pk == kind && pbl == bn,
			   "round trip of \"%s\": ok=%d id=%" PRId64 " (want %" PRId64
			   ") kind=%d base_len=%zu (want %zu)",
			   file.data, ok, pid, id, (int)pk, pbl, bn);
		sb_free(&file);
	}
	sb_free(&base);
}

static bool ref_parse_id(const char *s, size_t n, int64_t *id)
{
	if (n == 0 || n > 16 || s[0] == '0')
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > NAMES_MAX_ID)
		return false;
	*id = v;
	return true;
}

static void check_parse(const char *s, size_t n)
{
	int64_t id = -1, rid = -1;
	bool ok = names_parse_id(s, n, &id);
	bool rok = ref_parse_id(s, n, &rid);
	FUZZ_CHECK(ok == rok && (!ok || id == rid), "names_parse_id: %d/%" PRId64
		   " want %d/%" PRId64, ok, id, rok, rid);

	enum person_file kind;
	size_t base_len = 0;
	id = -1;
	if (!names_parse_person_file(s, n, &id, &kind, &base_len))
		return;
	FUZZ_CHECK(kind == PERSON_FILE_JSON || kind == PERSON_FILE_VCF, "kind %d", (int)kind);
	const char *ext = names_extension(kind);
	size_t el = strlen(ext);
	FUZZ_CHECK(base_len + el == n && !memcmp(s + base_len, ext, el),
		   "base_len %zu of %zu", base_len, n);
	char suffix[32];
	size_t sl = (size_t)snprintf(suffix, sizeof suffix, " (%" PRId64 ")", id);
	FUZZ_CHECK(id >= 1 && id <= NAMES_MAX_ID && base_len >= sl &&
			   !memcmp(s + base_len - sl, suffix, sl),
		   "parsed id %" PRId64 " is not the name's \" (<id>)\"", id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const char *text = (const char *)data + 1;
	size_t tn = size - 1;

	check_escape(text, tn, VCARD_TEXT_SINGLE_LINE);
	check_escape(text, tn, VCARD_TEXT_MULTI_LINE);

	/* fold the raw bytes with line breaks masked (a logical line has none) */
	char *line = malloc(tn + 1);
	if (!line)
		abort();
	for (size_t i = 0; i < tn; i++)
		line[i] = text[i] == '\r' || text[i] == '\n' ? ' ' : text[i];
	check_fold(line, tn);
	free(line);
	/* and an escaped property line, as the renderer folds it */
	struct strbuf prop = STRBUF_INIT;
	sb_puts(&prop, flags & 1 ? "NOTE:" : "item1.X-ABLabel:");
	vcard_escape_text(&prop, text, tn, flags & 1 ? VCARD_TEXT_MULTI_LINE
						    : VCARD_TEXT_SINGLE_LINE);
	check_fold(prop.data, prop.len);
	sb_free(&prop);

	check_utf8(text, tn, flags);

	int64_t id = fuzz_id_from(data + 1, tn < 8 ? tn : 8);
	if (flags & 0x80)
		id = id % 1000 + 1;
	check_names(text, tn, (flags & 0x40) && (flags & 0x20), id);
	check_group_link(text, tn);
	check_parse((const char *)data, size);
	check_parse(text, tn);
	return 0;
}
