/*
 * jsonscan.c - the strict JSON scanner (jsonscan.h); reading is in
 * jsonscan_read.c, the page helper in jsonscan_page.c.
 *
 * The scanner is one loop over the bytes with three states (a value is
 * expected, a member key is expected, a value just ended) and no recursion:
 * an open container keeps its parent's index in its `next` field until it
 * closes, so the nesting costs no stack.  String bodies are skipped eight
 * bytes at a time while they hold nothing special.
 */
#include "jsonscan.h"

#include <string.h>

#include "utf8.h"

#define INITIAL_TOKENS_MAX ((uint32_t)1 << 16)

static const struct jsonscan_token none_token = { 0, 0, 1, JSONSCAN_NONE, 0 };

const char *jsonscan_strerror(enum jsonscan_status status)
{
	switch (status) {
	case JSONSCAN_OK: return "no error";
	case JSONSCAN_E_EMPTY: return "no JSON value (empty or only white space)";
	case JSONSCAN_E_UNEXPECTED: return "unexpected character";
	case JSONSCAN_E_END: return "the text ends inside a value";
	case JSONSCAN_E_NUMBER: return "malformed number";
	case JSONSCAN_E_CONTROL: return "unescaped control character in a string";
	case JSONSCAN_E_ESCAPE: return "invalid escape in a string";
	case JSONSCAN_E_TRAILING: return "more than one value (trailing characters)";
	case JSONSCAN_E_DEPTH: return "nested too deep";
	case JSONSCAN_E_TOKENS: return "too many values";
	case JSONSCAN_E_TOO_BIG: return "text too large";
	case JSONSCAN_E_NOMEM: return "out of memory";
	case JSONSCAN_E_NOT_OBJECT: return "the top-level value is not an object";
	}
	return "unknown error";
}

/* ------------------------------------------------------------------------ */
/* Scanning                                                                  */
/* ------------------------------------------------------------------------ */

struct scanner {
	struct arena *arena;
	struct jsonscan_token *tok;
	uint32_t n;     /* tokens used, [0] included */
	uint32_t cap;   /* tokens allocated */
	uint32_t limit; /* max_tokens + 1 */
};

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p <= ' ' && is_ws(*p))
		p++;
	return p;
}

static inline bool is_digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10;
}

static inline int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Room for one more token; false with the reason in *st if there is none. */
static bool grow(struct scanner *sc, enum jsonscan_status *st)
{
	if (sc->cap >= sc->limit) {
		*st = JSONSCAN_E_TOKENS;
		return false;
	}
	uint32_t cap = sc->cap > sc->limit / 2 ? sc->limit : sc->cap * 2;
	struct jsonscan_token *t = arena_realloc(sc->arena, sc->tok, sc->cap * sizeof(*t),
						 (size_t)cap * sizeof(*t));
	if (!t) {
		*st = JSONSCAN_E_NOMEM;
		return false;
	}
	sc->tok = t;
	sc->cap = cap;
	return true;
}

/* A byte that may stand in a string as it is and needs no look:
 * printable ASCII but the quote and the backslash. */
static inline bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Eight bytes at once: a bit set in byte i if byte i is '"', '\\', < 0x20
 * or >= 0x80.  Exact for the lowest such byte (the borrows of the zero tests
 * only reach bytes above it), which is all skip_plain uses. */
static inline uint64_t special_in_8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x;
	memcpy(&x, p, 8);
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	uint64_t zero_q = (q - ones) & ~q, zero_b = (b - ones) & ~b;
	uint64_t below_space = (x - ones * 0x20) & ~x;
	return (zero_q | zero_b | below_space | x) & highs;
}

/* The first byte at or after q that is not plain (or end). */
static inline const unsigned char *skip_plain(const unsigned char *q, const unsigned char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (end - q >= 8) {
		uint64_t special = special_in_8(q);
		if (special)
			return q + (__builtin_ctzll(special) >> 3);
		q += 8;
	}
#endif
	while (q < end && plain_byte(*q))
		q++;
	return q;
}

/*
 * The string whose opening quote is at p.  Returns the byte after the
 * closing quote and ORs its flags in, or NULL with *st and *at set.
 */
static inline __attribute__((always_inline)) const unsigned char *
scan_string(const unsigned char *p, const unsigned char *end,
	    uint8_t *flags, enum jsonscan_status *st, const unsigned char **at)
{
	const unsigned char *q = p + 1;
	for (;;) {
		q = skip_plain(q, end);
		if (q >= end) {
			*st = JSONSCAN_E_END;
			*at = p;
			return NULL;
		}
		unsigned char c = *q;
		if (c == '"')
			return q + 1;
		if (c == '\\') {
			*flags |= JSONSCAN_ESCAPES;
			if (end - q < 2) {
				*st = JSONSCAN_E_END;
				*at = p;
				return NULL;
			}
			switch (q[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				q += 2;
				continue;
			case 'u':
				if (end - q >= 6 && hex_value(q[2]) >= 0 && hex_value(q[3]) >= 0 &&
				    hex_value(q[4]) >= 0 && hex_value(q[5]) >= 0) {
					q += 6;
					continue;
				}
				break;
			default:
				break;
			}
			*st = JSONSCAN_E_ESCAPE;
			*at = q;
			return NULL;
		}
		if (c < 0x20) {
			*st = JSONSCAN_E_CONTROL;
			*at = q;
			return NULL;
		}
		uint32_t cp;
		size_t k = utf8_decode((const char *)q, (size_t)(end - q), &cp);
		if (k == 0) {
			*flags |= JSONSCAN_BAD_UTF8;
			k = 1;
		}
		q += k;
	}
}

/* The number starting at p; NULL if malformed (the caller reports where it began). */
static const unsigned char *scan_number(const unsigned char *p, const unsigned char *end,
					uint8_t *flags)
{
	if (*p == '-')
		p++;
	if (p >= end)
		return NULL;
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return NULL; /* leading zero */
	} else if (is_digit(*p)) {
		while (p < end && is_digit(*p))
			p++;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		*flags |= JSONSCAN_NOT_INT;
		p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p | 0x20) == 'e') {
		*flags |= JSONSCAN_NOT_INT;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	return p;
}

/* The literal `word` (n = 4 or 5 bytes) at p. */
static inline bool literal_at(const unsigned char *p, const unsigned char *end, const char *word,
			      size_t n)
{
	if ((size_t)(end - p) < n)
		return false;
	uint32_t have, want;
	memcpy(&have, p + n - 4, 4);
	memcpy(&want, word + n - 4, 4);
	return have == want && p[0] == (unsigned char)word[0];
}

static enum jsonscan_status fail(struct jsonscan_doc *doc, enum jsonscan_status st, size_t at)
{
	doc->status = st;
	doc->error_at = at;
	doc->tokens = &none_token;
	doc->count = 1;
	doc->flags = 0;
	return st;
}

/* The next token, starting at byte `start`; NULL if there is no room. */
static inline struct jsonscan_token *new_token(struct scanner *sc, uint32_t start,
					       enum jsonscan_status *st)
{
	if (sc->n == sc->cap && !grow(sc, st))
		return NULL;
	struct jsonscan_token *t = &sc->tok[sc->n];
	t->start = start;
	t->flags = 0;
	return t;
}

#define FAIL_AT(status, where)     \
	do {                       \
		st = (status);     \
		at = (where);      \
		goto failed;       \
	} while (0)

enum jsonscan_status jsonscan_parse(struct jsonscan_doc *doc, const char *text, size_t len,
				    struct arena *arena, const struct jsonscan_limits *limits)
{
	uint32_t max_depth = limits && limits->max_depth ? limits->max_depth : JSONSCAN_DEFAULT_DEPTH;
	uint32_t max_tokens = limits && limits->max_tokens ? limits->max_tokens
							  : JSONSCAN_DEFAULT_TOKENS;
	if (max_tokens > UINT32_MAX / 2)
		max_tokens = UINT32_MAX / 2;
	doc->text = text;
	doc->len = len;
	doc->status = JSONSCAN_OK;
	doc->error_at = 0;
	doc->flags = 0;
	if (len > JSONSCAN_MAX_INPUT)
		return fail(doc, JSONSCAN_E_TOO_BIG, 0);

	struct scanner sc = { .arena = arena, .limit = max_tokens + 1 };
	/* Compact JSON averages 8-12 bytes per value; the array grows (in place
	 * when the arena has room) and is trimmed to size at the end. */
	sc.cap = len / 12 < INITIAL_TOKENS_MAX ? (uint32_t)(len / 12) + 16 : INITIAL_TOKENS_MAX;
	if (sc.cap > sc.limit)
		sc.cap = sc.limit;
	sc.tok = arena_alloc(arena, (size_t)sc.cap * sizeof(*sc.tok));
	if (!sc.tok)
		return fail(doc, JSONSCAN_E_NOMEM, 0);
	sc.tok[0] = none_token;
	sc.n = 1;

	const unsigned char *base = (const unsigned char *)text, *end = base + len;
	const unsigned char *p = skip_ws(base, end), *at = p, *q;
	enum jsonscan_status st = JSONSCAN_OK;
	uint32_t open = 0;  /* innermost open container, 0 at the top level */
	uint32_t depth = 0; /* containers open */
	uint8_t all_flags = 0;
	struct jsonscan_token *t;
	if (p == end)
		return fail(doc, JSONSCAN_E_EMPTY, len);

value: /* p: the first byte of a value (white space skipped) */
	if (depth >= max_depth)
		FAIL_AT(JSONSCAN_E_DEPTH, p);
	if (p >= end)
		FAIL_AT(JSONSCAN_E_END, p);
	if (!(t = new_token(&sc, (uint32_t)(p - base), &st)))
		FAIL_AT(st, p);
	switch (*p) {
	case '{':
	case '[':
		t->type = *p == '{' ? JSONSCAN_OBJECT : JSONSCAN_ARRAY;
		t->next = open; /* the parent, until it closes */
		open = sc.n++;
		depth++;
		p = skip_ws(p + 1, end);
		if (p < end && *p == (t->type == JSONSCAN_OBJECT ? '}' : ']'))
			goto close;
		if (t->type == JSONSCAN_OBJECT)
			goto key;
		goto value;
	case '"':
		if (!(q = scan_string(p, end, &t->flags, &st, &at)))
			goto failed;
		t->type = JSONSCAN_STRING;
		break;
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			uint8_t len, type;
		} lit[] = { { "true", 4, JSONSCAN_TRUE }, { "false", 5, JSONSCAN_FALSE },
			    { "null", 4, JSONSCAN_NULL } };
		int i = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
		if (!literal_at(p, end, lit[i].word, lit[i].len))
			FAIL_AT(JSONSCAN_E_UNEXPECTED, p);
		t->type = lit[i].type;
		q = p + lit[i].len;
		break;
	}
	default:
		if (*p != '-' && !is_digit(*p))
			FAIL_AT(JSONSCAN_E_UNEXPECTED, p);
		if (!(q = scan_number(p, end, &t->flags)))
			FAIL_AT(JSONSCAN_E_NUMBER, p);
		t->type = JSONSCAN_NUMBER;
		break;
	}
	t->len = (uint32_t)(q - p);
	all_flags |= t->flags;
	t->next = ++sc.n;
	p = q;

after: /* a value just ended at p */
	p = skip_ws(p, end);
	if (!open) {
		if (p != end)
			FAIL_AT(JSONSCAN_E_TRAILING, p);
		goto done;
	}
	if (p >= end)
		FAIL_AT(JSONSCAN_E_END, p);
	if (*p == ',') {
		p = skip_ws(p + 1, end);
		if (sc.tok[open].type == JSONSCAN_OBJECT)
			goto key;
		goto value;
	}
	if (*p != (sc.tok[open].type == JSONSCAN_OBJECT ? '}' : ']'))
		FAIL_AT(JSONSCAN_E_UNEXPECTED, p);
close: /* p: the closing bracket of `open` */
	t = &sc.tok[open];
	open = t->next;
	t->next = sc.n;
	t->len = (uint32_t)(p + 1 - base) - t->start;
	depth--;
	p++;
	goto after;

key: /* p: where a member's key must start (white space skipped) */
	if (p >= end)
		FAIL_AT(JSONSCAN_E_END, p);
	if (*p != '"')
		FAIL_AT(JSONSCAN_E_UNEXPECTED, p);
	if (!(t = new_token(&sc, (uint32_t)(p - base), &st)))
		FAIL_AT(st, p);
	if (!(q = scan_string(p, end, &t->flags, &st, &at)))
		goto failed;
	t->type = JSONSCAN_STRING;
	t->len = (uint32_t)(q - p);
	all_flags |= t->flags;
	t->next = ++sc.n;
	p = skip_ws(q, end);
	if (p >= end)
		FAIL_AT(JSONSCAN_E_END, p);
	if (*p != ':')
		FAIL_AT(JSONSCAN_E_UNEXPECTED, p);
	p = skip_ws(p + 1, end);
	goto value;

done:
	/* give back the unused tail (in place: the array is the arena's last allocation) */
	sc.tok = arena_realloc(arena, sc.tok, (size_t)sc.cap * sizeof(*sc.tok),
			       (size_t)sc.n * sizeof(*sc.tok));
	doc->tokens = sc.tok;
	doc->count = sc.n;
	doc->flags = all_flags;
	return JSONSCAN_OK;

failed:
	return fail(doc, st, (size_t)(at - base));
}
