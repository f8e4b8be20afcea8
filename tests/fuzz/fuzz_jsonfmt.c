/*
 * fuzz_jsonfmt.c - jsonfmt_pretty on any bytes and on valid JSON.
 *
 * Any bytes: no crash, the output ends in "\n", it is valid UTF-8, and apart
 * from ASCII white space it holds exactly the input's bytes in order, each
 * maximal ill-formed UTF-8 subpart replaced by U+FFFD (nothing lost, nothing
 * invented - "copied through, best effort"); jsonfmt_pretty_len predicts
 * the length exactly; jsonfmt_array_elements(.., "data", ..) returns spans
 * in order and in bounds, and on valid JSON exactly the elements json-c
 * sees under "data".
 * Valid JSON in valid UTF-8 (strict json-c parse of the whole input; json-c
 * does not check UTF-8): the output parses to
 * an equal value, formatting is idempotent, and formatting json-c's compact
 * form gives exactly the json.dumps(indent=2) layout, built here from the
 * json-c tree with json-c's own leaf serialization.
 *
 * Inputs nested deeper than MAX_DEPTH are skipped: the output indents every
 * line by the depth, so n bytes of "[[[[..." give O(n^2) bytes (400 KB of
 * "[" ask for 40 GB).  person.c only formats json-c's own output, which the
 * tokener limits to depth 32, so that is not reachable from the daemon (see
 * docs/fuzzing.md).
 */
#include "fuzz_common.h"
#include "jsonfmt.h"
#include "strbuf.h"
#include "utf8.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#define MAX_DEPTH 64

/* Deepest [ / { nesting outside strings (strings skipped like jsonfmt). */
static size_t max_depth(const char *s, size_t n)
{
	size_t depth = 0, max = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (s[i] == '[' || s[i] == '{') {
			if (++depth > max)
				max = depth;
		} else if ((s[i] == ']' || s[i] == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The input without ASCII white space, each run between white space with
 * its ill-formed UTF-8 replaced (jsonfmt's tokens end next to ASCII bytes,
 * which never belong to a UTF-8 sequence, so this is what it must write). */
static char *strip_ws_sanitized(const char *s, size_t n, size_t *out_len)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (i < n && !is_ws(s[i]))
			i++;
		utf8_sanitize(&sb, s + run, i - run);
		while (i < n && is_ws(s[i]))
			i++;
	}
	if (sb_failed(&sb))
		abort();
	return sb_detach(&sb, out_len);
}

static char *strip_ws(const char *s, size_t n, size_t *out_len)
{
	char *o = malloc(n + 1);
	size_t k = 0;
	if (!o)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!is_ws(s[i]))
			o[k++] = s[i];
	*out_len = k;
	return o;
}

static struct json_object *parse_strict(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, s, (int)n);
	if (obj) {
		size_t used = json_tokener_get_parse_end(tok);
		while (used < n && is_ws(s[used]))
			used++;
		if (used != n) { /* trailing garbage: not one JSON value */
			json_object_put(obj);
			obj = NULL;
		}
	} else if (json_tokener_get_error(tok) == json_tokener_continue) {
		/* a bare number at the very end needs the end of input */
		obj = json_tokener_parse_ex(tok, "", 1);
	}
	json_tokener_free(tok);
	return obj;
}

static void indent(struct strbuf *out, size_t depth)
{
	sb_putc(out, '\n');
	for (size_t i = 0; i < depth; i++)
		sb_puts(out, "  ");
}

static void ref_pretty(struct strbuf *out, struct json_object *v, size_t depth)
{
	if (json_object_is_type(v, json_type_object)) {
		if (json_object_object_length(v) == 0) {
			sb_puts(out, "{}");
			return;
		}
		sb_putc(out, '{');
		bool first = true;
		json_object_object_foreach(v, key, val) {
			if (!first)
				sb_putc(out, ',');
			first = false;
			indent(out, depth + 1);
			struct json_object *k = json_object_new_string(key);
			sb_puts(out, json_object_to_json_string_ext(k, FLAGS));
			json_object_put(k);
			sb_puts(out, ": ");
			ref_pretty(out, val, depth + 1);
		}
		indent(out, depth);
		sb_putc(out, '}');
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		if (n == 0) {
			sb_puts(out, "[]");
			return;
		}
		sb_putc(out, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_putc(out, ',');
			indent(out, depth + 1);
			ref_pretty(out, json_object_array_get_idx(v, i), depth + 1);
		}
		indent(out, depth);
		sb_putc(out, ']');
	} else {
		size_t len;
		const char *s = json_object_to_json_string_length(v, FLAGS, &len);
		sb_append(out, s, len);
	}
}

static void check_parses_back(const char *what, const char *text, size_t n,
			      struct json_object *want)
{
	struct json_object *back = parse_strict(text, n);
	if (!back || !fuzz_json_equal(back, want)) {
		fuzz_dump("pretty", text, n);
		FUZZ_CHECK(0, "%s: the pretty form does not parse to an equal value", what);
	}
	json_object_put(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (size_t)INT32_MAX / 2)
		return 0;
	const char *in = (const char *)data;
	if (max_depth(in, size) > MAX_DEPTH)
		return 0;
	struct strbuf out = STRBUF_INIT;
	jsonfmt_pretty(&out, in, size);
	FUZZ_CHECK(!sb_failed(&out), "buffer failed");
	FUZZ_CHECK(out.len >= 1 && out.data[out.len - 1] == '\n', "no final newline");
	FUZZ_CHECK(out.data[out.len] == '\0', "not NUL-terminated");
	size_t predicted = jsonfmt_pretty_len(in, size);
	FUZZ_CHECK(predicted == out.len, "jsonfmt_pretty_len %zu, jsonfmt_pretty wrote %zu",
		   predicted, out.len);

	/* the element splitter: in bounds and in order on any bytes */
	struct jsonfmt_span spans[32];
	size_t count = jsonfmt_array_elements(in, size, "data", spans, 32);
	if (count != SIZE_MAX) {
		size_t prev_end = 0;
		for (size_t i = 0; i < count && i < 32; i++) {
			FUZZ_CHECK(spans[i].start >= prev_end && spans[i].len > 0 &&
					   spans[i].start + spans[i].len <= size,
				   "span %zu out of order or bounds", i);
			prev_end = spans[i].start + spans[i].len;
		}
	}

	FUZZ_CHECK(utf8_valid_prefix(out.data, out.len) == out.len, "output is not valid UTF-8");
	size_t a_len, b_len;
	char *a = strip_ws_sanitized(in, size, &a_len);
	char *b = strip_ws(out.data, out.len, &b_len);
	if (a_len != b_len || memcmp(a, b, a_len)) {
		fuzz_dump("input", in, size);
		fuzz_dump("output", out.data, out.len);
		FUZZ_CHECK(0, "jsonfmt_pretty changed bytes other than white space");
	}
	free(a);
	free(b);

	bool valid_utf8 = utf8_valid_prefix(in, size) == size;
	struct json_object *obj = valid_utf8 ? parse_strict(in, size) : NULL;
	struct json_object *arr;
	if (obj && json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "data", &arr) &&
	    json_object_is_type(arr, json_type_array) && count != SIZE_MAX) {
		/* valid JSON: the spans are exactly the elements of "data" */
		size_t n = json_object_array_length(arr);
		FUZZ_CHECK(count == n, "jsonfmt_array_elements found %zu elements, json-c %zu",
			   count, n);
		for (size_t i = 0; i < n && i < 32; i++) {
			struct json_object *el = parse_strict(in + spans[i].start, spans[i].len);
			struct json_object *want = json_object_array_get_idx(arr, i);
			/* json-c represents a JSON null as a NULL object */
			bool null_ok = !el && !want && spans[i].len == 4 &&
				       memcmp(in + spans[i].start, "null", 4) == 0;
			if (!null_ok && (!el || !fuzz_json_equal(el, want))) {
				fuzz_dump("span", in + spans[i].start, spans[i].len);
				FUZZ_CHECK(0, "span %zu is not element %zu of \"data\"", i, i);
			}
			json_object_put(el);
		}
	}
	if (obj) {
		check_parses_back("input", out.data, out.len, obj);

		struct strbuf twice = STRBUF_INIT;
		jsonfmt_pretty(&twice, out.data, out.len);
		FUZZ_CHECK(twice.len == out.len && !memcmp(twice.data, out.data, out.len),
			   "jsonfmt_pretty is not idempotent");
		sb_free(&twice);

		/* the way person.c uses it: json-c's compact form */
		size_t clen;
		const char *compact = json_object_to_json_string_length(obj, FLAGS, &clen);
		struct strbuf pretty = STRBUF_INIT, want = STRBUF_INIT;
		jsonfmt_pretty(&pretty, compact, clen);
		check_parses_back("compact", pretty.data, pretty.len, obj);
		ref_pretty(&want, obj, 0);
		sb_putc(&want, '\n');
		if (want.len != pretty.len || memcmp(want.data, pretty.data, want.len)) {
			fuzz_dump("compact", compact, clen);
			fuzz_dump("got", pretty.data, pretty.len);
			fuzz_dump("want", want.data, want.len);
			FUZZ_CHECK(0, "layout differs from json.dumps(indent=2)");
		}
		sb_free(&pretty);
		sb_free(&want);
		json_object_put(obj);
	}
	sb_free(&out);
	return 0;
}
