/*
 * jsonscan.h - a strict JSON scanner: one complete buffer in, a flat array
 * of tokens out, values read in place.
 *
 * jsonscan_parse() checks the whole text against RFC 8259 and writes one
 * token per value (object, array, string, number, true, false, null; an
 * object member's key is a string token followed by its value's tokens),
 * in document order, into an arena.  Each token knows its byte span in the
 * text and the index of the token after its whole subtree, so skipping a
 * sibling is O(1).  Nothing is copied or converted while scanning; the
 * accessors below read values when asked and never allocate, except where
 * a function says so (unescaping into an arena).
 *
 * Token indexes are uint32_t: the top-level value is 1, and 0 means "no such
 * value".  Every accessor accepts 0 (and any out-of-range index) and answers
 * as for a value of the wrong type, so lookups chain without checks:
 * jsonscan_get(d, jsonscan_get(d, root, "a"), "b") is 0 if either is missing.
 *
 * Strictness (what json-c's JSON_TOKENER_STRICT parser accepts, minus its
 * leniencies; see docs/fuzzing.md for the comparison):
 *   - exactly one value, white space (space, tab, LF, CR) around it, nothing
 *     else: no comments, no trailing commas, no trailing garbage;
 *   - strings in double quotes only; no unescaped control character
 *     (U+0000..U+001F) inside; escapes \" \\ \/ \b \f \n \r \t \uXXXX only;
 *   - numbers as the grammar says: no leading zeros ("01", "-01", "00"), a
 *     digit after '.', 'e' and '-', no NaN/Infinity, no '+' sign;
 *   - literals true, false, null in lower case.
 * Invalid UTF-8 inside a string is ACCEPTED: the bytes are kept as they are
 * and the token is flagged JSONSCAN_BAD_UTF8, so a caller that must write
 * valid UTF-8 sanitises exactly those strings (json-c also keeps such bytes).
 * A \uXXXX escape that is a lone surrogate (a high one not followed by a
 * low one, or a low one alone) unescapes to U+FFFD, as json-c does; the
 * unescaped text of a string without BAD_UTF8 is therefore valid UTF-8
 * (it may contain U+0000 from "\u0000": lengths are authoritative).
 *
 * Limits: input at most JSONSCAN_MAX_INPUT bytes; nesting at most max_depth
 * (a value's depth is 1 at the top level and one more than its container's
 * inside it, so max_depth 32 allows 32 nested empty arrays but only 31
 * around a value - exactly json-c's default); at most max_tokens tokens.
 *
 * Numbers are read with strtod, so LC_NUMERIC must be "C" (the daemon never
 * calls setlocale).  Pure; a parsed document is read-only and may be read
 * from several threads at once (each with its own scratch arena).
 */
#ifndef PDFS_JSONSCAN_H
#define PDFS_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

enum jsonscan_type {
	JSONSCAN_NONE = 0, /* token 0: no such value */
	JSONSCAN_OBJECT,
	JSONSCAN_ARRAY,
	JSONSCAN_STRING,
	JSONSCAN_NUMBER,
	JSONSCAN_TRUE,
	JSONSCAN_FALSE,
	JSONSCAN_NULL,
};

/* Token flags. */
#define JSONSCAN_ESCAPES 0x01  /* string: has a backslash escape (unescaping copies) */
#define JSONSCAN_BAD_UTF8 0x02 /* string: has bytes that are not well-formed UTF-8 */
#define JSONSCAN_NOT_INT 0x04  /* number: has a fraction or an exponent */

struct jsonscan_token {
	uint32_t start; /* byte offset of the value's text */
	uint32_t len;   /* bytes of its text, quotes and brackets included */
	uint32_t next;  /* index of the token after its whole subtree */
	uint8_t type;   /* enum jsonscan_type */
	uint8_t flags;
};

enum jsonscan_status {
	JSONSCAN_OK = 0,
	JSONSCAN_E_EMPTY,      /* no value at all (empty or only white space) */
	JSONSCAN_E_UNEXPECTED, /* a byte that cannot be there */
	JSONSCAN_E_END,        /* the text ends inside a value */
	JSONSCAN_E_NUMBER,     /* a malformed number (leading zero, missing digits) */
	JSONSCAN_E_CONTROL,    /* an unescaped control character in a string */
	JSONSCAN_E_ESCAPE,     /* an invalid escape in a string */
	JSONSCAN_E_TRAILING,   /* something other than white space after the value */
	JSONSCAN_E_DEPTH,      /* nested deeper than max_depth */
	JSONSCAN_E_TOKENS,     /* more than max_tokens values */
	JSONSCAN_E_TOO_BIG,    /* more than JSONSCAN_MAX_INPUT bytes */
	JSONSCAN_E_NOMEM,      /* the arena could not grow */
	JSONSCAN_E_NOT_OBJECT, /* jsonscan_page: the top-level value is not an object */
};

#define JSONSCAN_MAX_INPUT ((size_t)128 << 20) /* api.c's largest answer */
#define JSONSCAN_DEFAULT_DEPTH 32u
#define JSONSCAN_DEFAULT_TOKENS ((uint32_t)1 << 22)

struct jsonscan_limits {
	uint32_t max_depth;  /* 0: JSONSCAN_DEFAULT_DEPTH */
	uint32_t max_tokens; /* 0: JSONSCAN_DEFAULT_TOKENS */
};

struct jsonscan_doc {
	const char *text; /* the input (not copied: it must outlive the doc) */
	size_t len;
	const struct jsonscan_token *tokens; /* in the arena; [0] is the "none" token */
	uint32_t count;                      /* tokens including [0] */
	enum jsonscan_status status;
	size_t error_at; /* on failure: byte offset where the text went wrong */
	uint8_t flags;   /* the OR of every token's flags: 0 = no escapes, all UTF-8, ... */
};

/*
 * Scan text[0..len) into doc, tokens allocated from arena (about 16 bytes
 * per value; nothing else).  limits may be NULL for the defaults.  Returns
 * doc->status: JSONSCAN_OK, or the first problem with doc->error_at set (the
 * doc then has no tokens; what the arena holds is left for its reset).
 */
enum jsonscan_status jsonscan_parse(struct jsonscan_doc *doc, const char *text, size_t len,
				    struct arena *arena, const struct jsonscan_limits *limits);

/* A short English description of a status ("unescaped control character in a string"). */
const char *jsonscan_strerror(enum jsonscan_status status);

/* ---- tokens ------------------------------------------------------------ */

static inline const struct jsonscan_token *jsonscan_token(const struct jsonscan_doc *d,
							  uint32_t t)
{
	return t < d->count ? &d->tokens[t] : &d->tokens[0];
}

static inline enum jsonscan_type jsonscan_type(const struct jsonscan_doc *d, uint32_t t)
{
	return t < d->count ? (enum jsonscan_type)d->tokens[t].type : JSONSCAN_NONE;
}

/* The top-level value (1), or 0 if the document did not parse. */
static inline uint32_t jsonscan_root(const struct jsonscan_doc *d)
{
	return d->count > 1 ? 1 : 0;
}

/* The value's text exactly as sent (strings with their quotes), not
 * NUL-terminated; NULL and *len 0 for token 0. */
const char *jsonscan_raw(const struct jsonscan_doc *d, uint32_t t, size_t *len);

/* ---- containers -------------------------------------------------------- */

/*
 * Iteration.  For an array, jsonscan_first gives the first element and
 * jsonscan_next the one after c; for an object they give member KEY tokens
 * (the member's value is always key + 1).  0 at the end, for an empty
 * container and for anything that is not a container.
 */
static inline uint32_t jsonscan_first(const struct jsonscan_doc *d, uint32_t t)
{
	enum jsonscan_type ty = jsonscan_type(d, t);
	if ((ty != JSONSCAN_OBJECT && ty != JSONSCAN_ARRAY) || d->tokens[t].next == t + 1)
		return 0;
	return t + 1;
}

static inline uint32_t jsonscan_next(const struct jsonscan_doc *d, uint32_t t, uint32_t c)
{
	if (c == 0 || c + 1 >= d->count || t >= c)
		return 0;
	uint32_t n = d->tokens[t].type == JSONSCAN_OBJECT ? d->tokens[c + 1].next
							  : d->tokens[c].next;
	return n < d->tokens[t].next ? n : 0;
}

#define JSONSCAN_FOREACH(d, container, child)                                 \
	for (uint32_t child = jsonscan_first((d), (container)); child;      \
	     child = jsonscan_next((d), (container), child))

/* Elements of an array or members of an object (duplicates counted); 0 for
 * anything else.  Walks the children: O(count). */
size_t jsonscan_count(const struct jsonscan_doc *d, uint32_t t);

/* The i-th element of an array (O(i)), 0 if there is none. */
uint32_t jsonscan_at(const struct jsonscan_doc *d, uint32_t array, size_t i);

/*
 * The value of member `key` (key_len bytes, may hold NUL) of an object, or
 * 0.  Keys compare as unescaped text ("\u0041" matches "A"); a key sent
 * without escapes is compared in place.  Duplicate keys: the LAST one wins,
 * as in json-c, Python and JavaScript.  O(members).
 */
uint32_t jsonscan_getn(const struct jsonscan_doc *d, uint32_t obj, const char *key,
		       size_t key_len);
/* The same for a NUL-terminated key. */
uint32_t jsonscan_get(const struct jsonscan_doc *d, uint32_t obj, const char *key);

struct jsonscan_key {
	const char *name;
	size_t len;
};
#define JSONSCAN_KEY(literal) { (literal), sizeof(literal) - 1 }

/*
 * Several members in one pass over obj: values[i] = the value of keys[i]
 * (last one wins), 0 if absent.  The way to read many fields of a person,
 * e.g. its e-mails ({value, primary, label}, or a bare string):
 *
 *   static const struct jsonscan_key entry[] = {
 *       JSONSCAN_KEY("value"), JSONSCAN_KEY("primary"), JSONSCAN_KEY("label") };
 *   JSONSCAN_FOREACH(d, jsonscan_get(d, person, "emails"), e) {
 *       uint32_t v[3];
 *       jsonscan_get_many(d, e, entry, 3, v);
 *       size_t n;
 *       const char *value = jsonscan_str(d, jsonscan_type(d, e) == JSONSCAN_STRING
 *                                           ? e : v[0], scratch, &n);
 *       bool primary = jsonscan_is_true(d, v[1]);
 *       ...
 *   }
 */
void jsonscan_get_many(const struct jsonscan_doc *d, uint32_t obj, const struct jsonscan_key *keys,
		       size_t n, uint32_t *values);

/* True if a later member of obj has the same key as the member whose key
 * token is `key` (skip such members to see each key once, last one wins). */
bool jsonscan_member_shadowed(const struct jsonscan_doc *d, uint32_t obj, uint32_t key);

/* ---- strings ----------------------------------------------------------- */

/*
 * The unescaped text of a string: a view into the input when it has no
 * escapes (NOT NUL-terminated), otherwise unescaped into `scratch` (which
 * may be NULL only if the caller knows there are no escapes).  NULL with
 * *len = 0 if t is not a string, or if memory ran out (check jsonscan_type
 * first when the difference matters).
 */
const char *jsonscan_str(const struct jsonscan_doc *d, uint32_t t, struct arena *scratch,
			 size_t *len);

/* Always a NUL-terminated copy in `scratch` (for C-string callers); NULL if
 * t is not a string or memory ran out. */
char *jsonscan_strdup(const struct jsonscan_doc *d, uint32_t t, struct arena *scratch,
		      size_t *len);

/* Unescape into out, which has room for jsonscan_raw's length of t; returns
 * the bytes written (0 if t is not a string).  Never allocates. */
size_t jsonscan_unescape(const struct jsonscan_doc *d, uint32_t t, char *out);

/* True if t is a string whose unescaped text is s[0..n).  Never allocates. */
bool jsonscan_str_eq(const struct jsonscan_doc *d, uint32_t t, const char *s, size_t n);

static inline bool jsonscan_has_flag(const struct jsonscan_doc *d, uint32_t t, uint8_t flag)
{
	return t < d->count && (d->tokens[t].flags & flag);
}

/* The OR of the flags of t and every token inside it: e.g. whether an
 * element holds a string that is not UTF-8 (check doc->flags first: when it
 * lacks the flag, no token has it).  O(tokens of t). */
uint8_t jsonscan_subtree_flags(const struct jsonscan_doc *d, uint32_t t);

/* ---- numbers, booleans, null ------------------------------------------ */

/* An integer (written without fraction or exponent, e.g. 42, -0) that fits
 * int64_t: 0 and *out set.  -EINVAL if t is not a number or not written as
 * an integer ("1.0", "1e2"); -ERANGE if it does not fit. */
int jsonscan_int64(const struct jsonscan_doc *d, uint32_t t, int64_t *out);

/* Any number as a double (correctly rounded, strtod): 0 and *out set;
 * -ERANGE with *out = +-HUGE_VAL if its magnitude is too large; -EINVAL if
 * t is not a number.  Allocates nothing, except a short-lived malloc for a
 * top-level number longer than 63 bytes (-ENOMEM if that fails). */
int jsonscan_double(const struct jsonscan_doc *d, uint32_t t, double *out);

/* true/false: 0 and *out set; -EINVAL for anything else. */
int jsonscan_bool(const struct jsonscan_doc *d, uint32_t t, bool *out);

static inline bool jsonscan_is_true(const struct jsonscan_doc *d, uint32_t t)
{
	return jsonscan_type(d, t) == JSONSCAN_TRUE;
}

static inline bool jsonscan_is_null(const struct jsonscan_doc *d, uint32_t t)
{
	return jsonscan_type(d, t) == JSONSCAN_NULL;
}

/* ---- a page of a Pipedrive list --------------------------------------- */

/* One element of a page's data array: its token and its exact text. */
struct jsonscan_element {
	uint32_t token;
	uint32_t start; /* byte offset in the body */
	uint32_t len;
};

struct jsonscan_page {
	struct jsonscan_doc doc;
	int success;         /* 1 true, 0 false, -1 absent or not a boolean */
	uint32_t data;       /* the "data" member (any type: check it), 0 if absent */
	const struct jsonscan_element *elements; /* data's elements when it is an array */
	size_t count;
	uint32_t next_cursor; /* additional_data.next_cursor (any type), 0 if absent */
	const char *cursor;   /* its text when it is a string (unescaped, NUL-terminated), else NULL */
	size_t cursor_len;
	const char *error;    /* the "error" member when it is a string (as above), else NULL */
	size_t error_len;
};

/*
 * Scan a response body and pick out what a list walk needs, everything
 * allocated from arena (tokens, the element list, unescaped strings).
 * Returns JSONSCAN_OK, a parse error (page->doc.error_at says where), or
 * JSONSCAN_E_NOT_OBJECT.  Duplicate keys: the last one wins everywhere, so
 * the elements are always those of the data array the other fields see.
 * Judging the page (success, the type of data) is the caller's.
 */
enum jsonscan_status jsonscan_page_parse(struct jsonscan_page *page, const char *body, size_t len,
					 struct arena *arena, const struct jsonscan_limits *limits);

#endif
