/*
 * fuzz_jsonscan.c - jsonscan against json-c (JSON_TOKENER_STRICT) on the
 * same bytes.
 *
 * Decision: both accept or both reject, except where json-c is lenient
 * against RFC 8259 and jsonscan is not (json-c accepts, jsonscan rejects at
 * the offending byte): numbers with a leading zero ("-01", "00"), a '.'
 * without digits before or after it ("-.5", "1.", "1.e5"), NaN, Infinity,
 * -Infinity, a
 * single-quoted object key, and an unescaped control character inside a
 * string.  Anything else is a finding.
 *
 * On accept, the two trees must be the same: types, array lengths and
 * elements, object members in json-c's order (keys cut at their first NUL
 * and de-duplicated as json-c does: first position, last value), strings
 * byte-equal after unescaping, integers equal (or out of int64 range exactly
 * when json-c clamped them), doubles equal.  Also checked: the token
 * invariants (subtree ends and spans nest), JSONSCAN_BAD_UTF8 exactly when
 * the unescaped text is not UTF-8, jsonscan_str_eq / getn / get_many /
 * member_shadowed against a naive reference, the document's flags, every
 * element of the top-level container parsed alone from its span, the page
 * helper against json-c's view of a page, and the depth and token limits at
 * and just below what the input needs.
 */
#include <errno.h>
#include <limits.h>

#include "fuzz_common.h"
#include "jsonscan.h"

/* json-c's view: one strict value and nothing after it but white space.
 * False if json-c rejects; *out is the value (NULL for a JSON null). */
static bool jsonc_parse(const uint8_t *data, size_t size, struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	size_t end = json_tokener_get_parse_end(tok);
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, "", 1); /* a top-level number needs an end */
		end = size;
	}
	bool ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	for (; ok && end < size; end++)
		if (!strchr(" \t\r\n", data[end]) || data[end] == '\0')
			ok = false; /* more than one value */
	if (!ok) {
		json_object_put(obj);
		obj = NULL;
	}
	*out = obj;
	return ok;
}

static bool starts_with(const uint8_t *s, size_t n, const char *word)
{
	size_t k = strlen(word);
	return n >= k && memcmp(s, word, k) == 0;
}

/* The leniencies of json-c that jsonscan rejects, recognised at the byte
 * where jsonscan stopped. */
static bool json_c_leniency_at(const uint8_t *s, size_t n, enum jsonscan_status st)
{
	switch (st) {
	case JSONSCAN_E_CONTROL:
		return n > 0 && s[0] < 0x20;
	case JSONSCAN_E_UNEXPECTED:
		return starts_with(s, n, "NaN") || starts_with(s, n, "Infinity") ||
		       (n > 0 && s[0] == '\'');
	case JSONSCAN_E_NUMBER: {
		size_t i = 0;
		if (i < n && s[i] == '-')
			i++;
		if (starts_with(s + i, n - i, "Infinity"))
			return true;
		size_t digits = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i - digits > 1 && s[digits] == '0')
			return true; /* leading zero */
		if (i == n || s[i] != '.')
			return false;
		bool digit_after = i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9';
		return i == digits ? digits == 1 /* "-.5" */ : !digit_after /* "1." */;
	}
	default:
		return false;
	}
}

/* ---- the tree comparison ---------------------------------------------- */

struct ctx {
	const struct jsonscan_doc *d;
	struct arena *scratch;
	const uint8_t *in;
};

static void compare(struct ctx *c, uint32_t t, struct json_object *j, int depth);

/* The unescaped text of string token t (in the scratch arena). */
static const char *text_of(struct ctx *c, uint32_t t, size_t *n)
{
	const char *s = jsonscan_str(c->d, t, c->scratch, n);
	FUZZ_CHECK(s != NULL, "jsonscan_str failed on string token %u", t);
	return s;
}

static void check_string(struct ctx *c, uint32_t t, struct json_object *j)
{
	size_t n, jn = (size_t)json_object_get_string_len(j);
	const char *s = text_of(c, t, &n), *js = json_object_get_string(j);
	if (n != jn || memcmp(s, js, n) != 0) {
		fuzz_dump("jsonscan", s, n);
		fuzz_dump("json-c", js, jn);
		FUZZ_CHECK(0, "string token %u differs", t);
	}
	FUZZ_CHECK(jsonscan_str_eq(c->d, t, js, jn), "str_eq false on its own text");
	if (jn > 0)
		FUZZ_CHECK(!jsonscan_str_eq(c->d, t, js, jn - 1), "str_eq true on a prefix");
	char *dup = malloc(jn + 2);
	memcpy(dup, js, jn);
	dup[jn] = 'x';
	FUZZ_CHECK(!jsonscan_str_eq(c->d, t, dup, jn + 1), "str_eq true on a longer text");
	size_t raw_len;
	jsonscan_raw(c->d, t, &raw_len);
	char *buf = malloc(raw_len);
	FUZZ_CHECK(jsonscan_unescape(c->d, t, buf) == jn && memcmp(buf, js, jn) == 0,
		   "jsonscan_unescape differs from jsonscan_str");
	size_t dn;
	char *d = jsonscan_strdup(c->d, t, c->scratch, &dn);
	FUZZ_CHECK(d && dn == jn && memcmp(d, js, jn) == 0 && d[dn] == '\0', "jsonscan_strdup");
	free(buf);
	free(dup);
	bool bad = jsonscan_has_flag(c->d, t, JSONSCAN_BAD_UTF8);
	FUZZ_CHECK(bad == !ref_valid_utf8(s, n), "BAD_UTF8 flag %d on a string that is%s UTF-8",
		   bad, bad ? "" : " not");
	const struct jsonscan_token *tk = jsonscan_token(c->d, t);
	bool has_backslash = memchr(c->in + tk->start + 1, '\\', tk->len - 2) != NULL;
	FUZZ_CHECK(has_backslash == jsonscan_has_flag(c->d, t, JSONSCAN_ESCAPES), "ESCAPES flag");
}

/* The number text as a NUL-terminated copy. */
static char *number_text(struct ctx *c, uint32_t t)
{
	size_t n;
	const char *raw = jsonscan_raw(c->d, t, &n);
	char *s = malloc(n + 1);
	memcpy(s, raw, n);
	s[n] = '\0';
	return s;
}

static void check_number(struct ctx *c, uint32_t t, struct json_object *j)
{
	char *text = number_text(c, t);
	bool not_int = jsonscan_has_flag(c->d, t, JSONSCAN_NOT_INT);
	int64_t v;
	int rc = jsonscan_int64(c->d, t, &v);
	double dv;
	int drc = jsonscan_double(c->d, t, &dv);
	FUZZ_CHECK(drc == 0 || drc == -ERANGE, "jsonscan_double(%s) = %d", text, drc);
	FUZZ_CHECK((drc == -ERANGE) == (isinf(dv) != 0), "double range error vs inf for %s", text);
	if (json_object_is_type(j, json_type_int)) {
		FUZZ_CHECK(!not_int, "json-c int %s flagged NOT_INT", text);
		if (rc == 0) {
			FUZZ_CHECK(v == json_object_get_int64(j), "int %s: %lld vs json-c %lld", text,
				   (long long)v, (long long)json_object_get_int64(j));
			FUZZ_CHECK(dv == (double)v || llabs(v) > (1LL << 53), "double of int %s", text);
		} else {
			FUZZ_CHECK(rc == -ERANGE, "int %s: rc %d", text, rc);
			if (text[0] == '-') {
				FUZZ_CHECK(json_object_get_int64(j) == INT64_MIN,
					   "%s overflows but json-c has %lld", text,
					   (long long)json_object_get_int64(j));
			} else {
				errno = 0;
				unsigned long long want = strtoull(text, NULL, 10);
				FUZZ_CHECK(want > (unsigned long long)INT64_MAX &&
						   json_object_get_uint64(j) == want,
					   "%s overflows but json-c has %llu", text,
					   (unsigned long long)json_object_get_uint64(j));
			}
		}
	} else {
		FUZZ_CHECK(json_object_is_type(j, json_type_double), "number %s: json-c type %s", text,
			   json_type_to_name(json_object_get_type(j)));
		FUZZ_CHECK(not_int && rc == -EINVAL, "json-c double %s read as an integer", text);
		double jd = json_object_get_double(j);
		FUZZ_CHECK(dv == jd || (isnan(dv) && isnan(jd)), "double %s: %.17g vs json-c %.17g",
			   text, dv, jd);
	}
	free(text);
}

/* Key token k's text cut at its first NUL, as json-c keeps object keys. */
static const char *cut_key(struct ctx *c, uint32_t k, size_t *n)
{
	const char *s = text_of(c, k, n);
	const char *nul = memchr(s, '\0', *n);
	if (nul)
		*n = (size_t)(nul - s);
	return s;
}

static bool same_text(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && memcmp(a, b, an) == 0;
}

static void check_object(struct ctx *c, uint32_t t, struct json_object *j, int depth)
{
	const struct jsonscan_doc *d = c->d;
	size_t members = jsonscan_count(d, t);
	uint32_t *keys = malloc((members + 1) * sizeof(*keys));
	size_t m = 0;
	JSONSCAN_FOREACH(d, t, k)
	{
		FUZZ_CHECK(jsonscan_type(d, k) == JSONSCAN_STRING, "member key is not a string");
		keys[m++] = k;
	}
	FUZZ_CHECK(m == members, "count %zu vs %zu members", members, m);

	/* Full keys: getn and member_shadowed against the naive rule. */
	struct jsonscan_key *many = malloc((m + 1) * sizeof(*many));
	uint32_t *got = malloc((m + 1) * sizeof(*got));
	for (size_t i = 0; i < m; i++) {
		size_t n;
		const char *s = text_of(c, keys[i], &n);
		uint32_t last = keys[i] + 1;
		bool later = false;
		for (size_t k = i + 1; k < m; k++) {
			size_t kn;
			const char *ks = text_of(c, keys[k], &kn);
			if (same_text(s, n, ks, kn)) {
				last = keys[k] + 1;
				later = true;
			}
		}
		FUZZ_CHECK(jsonscan_getn(d, t, s, n) == last, "getn of member %zu", i);
		FUZZ_CHECK(jsonscan_member_shadowed(d, t, keys[i]) == later, "member_shadowed %zu",
			   i);
		many[i].name = s;
		many[i].len = n;
	}
	jsonscan_get_many(d, t, many, m, got);
	for (size_t i = 0; i < m; i++)
		FUZZ_CHECK(got[i] == jsonscan_getn(d, t, many[i].name, many[i].len),
			   "get_many differs from getn for key %zu", i);

	/* json-c's members: keys cut at NUL, first position, last value. */
	FUZZ_CHECK(json_object_is_type(j, json_type_object), "json-c: not an object");
	size_t jm = (size_t)json_object_object_length(j), seen = 0;
	for (size_t i = 0; i < m; i++) {
		size_t n;
		const char *s = cut_key(c, keys[i], &n);
		bool first = true;
		for (size_t k = 0; k < i && first; k++) {
			size_t kn;
			const char *ks = cut_key(c, keys[k], &kn);
			first = !same_text(s, n, ks, kn);
		}
		if (!first)
			continue;
		uint32_t value = keys[i] + 1;
		for (size_t k = i + 1; k < m; k++) {
			size_t kn;
			const char *ks = cut_key(c, keys[k], &kn);
			if (same_text(s, n, ks, kn))
				value = keys[k] + 1;
		}
		char *ckey = strndup(s, n);
		struct json_object *jv;
		FUZZ_CHECK(json_object_object_get_ex(j, ckey, &jv), "json-c lacks key \"%s\"", ckey);
		compare(c, value, jv, depth + 1);
		free(ckey);
		seen++;
	}
	FUZZ_CHECK(seen == jm, "%zu distinct keys vs json-c's %zu", seen, jm);
	free(keys);
	free(many);
	free(got);
}

static void compare(struct ctx *c, uint32_t t, struct json_object *j, int depth)
{
	const struct jsonscan_doc *d = c->d;
	switch (jsonscan_type(d, t)) {
	case JSONSCAN_OBJECT:
		check_object(c, t, j, depth);
		break;
	case JSONSCAN_ARRAY: {
		FUZZ_CHECK(json_object_is_type(j, json_type_array), "json-c: not an array");
		size_t n = jsonscan_count(d, t), i = 0;
		FUZZ_CHECK(n == json_object_array_length(j), "array of %zu vs json-c's %zu", n,
			   json_object_array_length(j));
		JSONSCAN_FOREACH(d, t, e)
		{
			FUZZ_CHECK(jsonscan_at(d, t, i) == e, "jsonscan_at(%zu)", i);
			compare(c, e, json_object_array_get_idx(j, i), depth + 1);
			i++;
		}
		FUZZ_CHECK(jsonscan_at(d, t, n) == 0, "jsonscan_at past the end");
		break;
	}
	case JSONSCAN_STRING:
		FUZZ_CHECK(json_object_is_type(j, json_type_string), "json-c: not a string");
		check_string(c, t, j);
		break;
	case JSONSCAN_NUMBER:
		check_number(c, t, j);
		break;
	case JSONSCAN_TRUE:
	case JSONSCAN_FALSE: {
		bool b;
		FUZZ_CHECK(jsonscan_bool(d, t, &b) == 0 && json_object_is_type(j, json_type_boolean) &&
				   b == (bool)json_object_get_boolean(j), "boolean differs");
		break;
	}
	case JSONSCAN_NULL:
		FUZZ_CHECK(j == NULL && jsonscan_is_null(d, t), "null differs");
		break;
	default:
		FUZZ_CHECK(0, "token %u has type %d", t, jsonscan_type(d, t));
	}
}

/* ---- structure, limits, spans, the page helper ------------------------ */

/* Token invariants; returns the deepest value level (the root is 1). */
static uint32_t check_tokens(const struct jsonscan_doc *d, size_t size)
{
	FUZZ_CHECK(d->count >= 2 && d->tokens[0].type == JSONSCAN_NONE, "token 0 / count");
	uint32_t *ends = malloc(d->count * sizeof(*ends)); /* open subtree ends */
	uint32_t open = 0, deepest = 0;
	uint8_t flags = 0;
	for (uint32_t i = 1; i < d->count; i++) {
		const struct jsonscan_token *t = &d->tokens[i];
		flags |= t->flags;
		while (open && ends[open - 1] <= i)
			open--;
		if (open + 1 > deepest)
			deepest = open + 1;
		FUZZ_CHECK(t->next > i && t->next <= d->count, "token %u next %u", i, t->next);
		FUZZ_CHECK((size_t)t->start + t->len <= size && t->len > 0, "token %u span", i);
		bool container = t->type == JSONSCAN_OBJECT || t->type == JSONSCAN_ARRAY;
		FUZZ_CHECK(container || t->next == i + 1, "scalar %u with a subtree", i);
		if (container) {
			if (t->next < d->count) /* the subtree ends before the next token's text */
				FUZZ_CHECK(d->tokens[t->next].start >= t->start + t->len, "span %u", i);
			ends[open++] = t->next;
		}
	}
	free(ends);
	FUZZ_CHECK(d->flags == flags && jsonscan_subtree_flags(d, 1) == flags, "document flags");
	return deepest;
}

/* Each child of the top-level container, parsed alone from its span, is
 * the same value json-c has there. */
static void check_spans(const struct jsonscan_doc *d, const uint8_t *in, struct json_object *j)
{
	uint32_t root = jsonscan_root(d);
	size_t i = 0;
	JSONSCAN_FOREACH(d, root, child)
	{
		uint32_t value = jsonscan_type(d, root) == JSONSCAN_OBJECT ? child + 1 : child;
		const struct jsonscan_token *t = jsonscan_token(d, value);
		struct arena a = ARENA_INIT;
		arena_init(&a, 128);
		struct jsonscan_doc alone;
		FUZZ_CHECK(jsonscan_parse(&alone, (const char *)in + t->start, t->len, &a, NULL) ==
				   JSONSCAN_OK && alone.count - 1 == t->next - value,
			   "child %zu does not parse alone from its span", i);
		struct json_object *jc;
		FUZZ_CHECK(jsonc_parse(in + t->start, t->len, &jc), "json-c rejects child %zu", i);
		if (json_object_is_type(j, json_type_array))
			FUZZ_CHECK(fuzz_json_equal(jc, json_object_array_get_idx(j, i)),
				   "element %zu parsed from its span differs", i);
		json_object_put(jc);
		arena_free(&a);
		i++;
	}
}

static void check_limits(const uint8_t *in, size_t size, uint32_t values, uint32_t deepest)
{
	struct arena a = ARENA_INIT;
	arena_init(&a, 64);
	struct jsonscan_doc d;
	struct jsonscan_limits lim = { .max_tokens = values };
	FUZZ_CHECK(jsonscan_parse(&d, (const char *)in, size, &a, &lim) == JSONSCAN_OK,
		   "rejected with max_tokens = its %u values", values);
	if (values > 1) {
		lim.max_tokens = values - 1;
		FUZZ_CHECK(jsonscan_parse(&d, (const char *)in, size, &a, &lim) == JSONSCAN_E_TOKENS,
			   "max_tokens %u not enforced", values - 1);
	}
	lim = (struct jsonscan_limits){ .max_depth = deepest };
	FUZZ_CHECK(jsonscan_parse(&d, (const char *)in, size, &a, &lim) == JSONSCAN_OK,
		   "rejected with max_depth = its depth %u", deepest);
	if (deepest > 1) {
		lim.max_depth = deepest - 1;
		FUZZ_CHECK(jsonscan_parse(&d, (const char *)in, size, &a, &lim) == JSONSCAN_E_DEPTH,
			   "max_depth %u not enforced", deepest - 1);
	}
	arena_free(&a);
}

static void check_page(const uint8_t *in, size_t size, struct json_object *j)
{
	struct arena a = ARENA_INIT;
	arena_init(&a, 256);
	struct jsonscan_page page;
	enum jsonscan_status st = jsonscan_page_parse(&page, (const char *)in, size, &a, NULL);
	if (!json_object_is_type(j, json_type_object)) {
		FUZZ_CHECK(st == JSONSCAN_E_NOT_OBJECT, "page helper on a non-object: %d", st);
		arena_free(&a);
		return;
	}
	FUZZ_CHECK(st == JSONSCAN_OK, "page helper failed: %s", jsonscan_strerror(st));
	struct json_object *v, *extra;
	int success = -1;
	if (json_object_object_get_ex(j, "success", &v) && json_object_is_type(v, json_type_boolean))
		success = json_object_get_boolean(v);
	FUZZ_CHECK(page.success == success, "success %d vs json-c %d", page.success, success);

	bool has_data = json_object_object_get_ex(j, "data", &v);
	FUZZ_CHECK(has_data == (page.data != 0), "data present");
	if (json_object_is_type(v, json_type_array) && has_data) {
		FUZZ_CHECK(page.count == json_object_array_length(v), "page of %zu vs %zu", page.count,
			   json_object_array_length(v));
		for (size_t i = 0; i < page.count; i++) {
			struct json_object *el;
			FUZZ_CHECK(jsonc_parse(in + page.elements[i].start, page.elements[i].len, &el),
				   "json-c rejects page element %zu", i);
			FUZZ_CHECK(fuzz_json_equal(el, json_object_array_get_idx(v, i)),
				   "page element %zu differs", i);
			json_object_put(el);
		}
	} else {
		FUZZ_CHECK(page.count == 0 && page.elements == NULL, "elements without an array");
	}

	struct json_object *cursor = NULL;
	if (json_object_object_get_ex(j, "additional_data", &extra))
		json_object_object_get_ex(extra, "next_cursor", &cursor);
	if (json_object_is_type(cursor, json_type_string)) {
		size_t n = (size_t)json_object_get_string_len(cursor);
		FUZZ_CHECK(page.cursor && page.cursor_len == n &&
				   memcmp(page.cursor, json_object_get_string(cursor), n) == 0 &&
				   page.cursor[n] == '\0', "next_cursor differs");
	} else {
		FUZZ_CHECK(page.cursor == NULL, "a cursor json-c does not see as a string");
	}
	if (json_object_object_get_ex(j, "error", &v) && json_object_is_type(v, json_type_string)) {
		size_t n = (size_t)json_object_get_string_len(v);
		FUZZ_CHECK(page.error && page.error_len == n &&
				   memcmp(page.error, json_object_get_string(v), n) == 0,
			   "error message differs");
	} else {
		FUZZ_CHECK(page.error == NULL, "an error message json-c does not see as a string");
	}
	arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > JSONSCAN_MAX_INPUT || size > INT_MAX)
		return 0;
	struct arena arena = ARENA_INIT;
	arena_init(&arena, 64); /* tiny first chunk: growth and moves get exercised */
	struct jsonscan_doc doc;
	enum jsonscan_status st = jsonscan_parse(&doc, (const char *)data, size, &arena, NULL);
	struct json_object *j;
	bool jc_ok = jsonc_parse(data, size, &j);

	if (st != JSONSCAN_OK && jc_ok) {
		FUZZ_CHECK(doc.error_at <= size, "error offset %zu past %zu", doc.error_at, size);
		if (!json_c_leniency_at(data + doc.error_at, size - doc.error_at, st)) {
			fuzz_dump("input", (const char *)data, size);
			FUZZ_CHECK(0, "json-c accepts, jsonscan rejects at byte %zu: %s", doc.error_at,
				   jsonscan_strerror(st));
		}
	} else if (st == JSONSCAN_OK && !jc_ok) {
		fuzz_dump("input", (const char *)data, size);
		FUZZ_CHECK(0, "jsonscan accepts what json-c rejects");
	} else if (st == JSONSCAN_OK) {
		uint32_t deepest = check_tokens(&doc, size);
		struct arena scratch = ARENA_INIT;
		arena_init(&scratch, 64);
		struct ctx c = { &doc, &scratch, data };
		compare(&c, jsonscan_root(&doc), j, 1);
		arena_free(&scratch);
		check_spans(&doc, data, j);
		check_limits(data, size, doc.count - 1, deepest);
		check_page(data, size, j);
	} else {
		FUZZ_CHECK(jsonscan_root(&doc) == 0 && doc.error_at <= size, "failed doc state");
	}
	json_object_put(j);
	arena_reset(&arena);
	arena_free(&arena);
	return 0;
}
