/*
 * vcard_parse.h - read one vCard 3.0 or 4.0 (RFC 2426 / RFC 6350) into its
 * properties, the first step of mapping an edited .vcf back to Pipedrive.
 *
 * Pure: no I/O, no globals, no locale.  Everything a parsed card holds lives
 * in one arena freed by vcard_card_free().  Implemented in vcard_parse.c
 * (the parser and the arena) and vcard_prop.c (questions, the printer).
 *
 * What it accepts:
 *   - lines ended by CRLF, LF or a bare CR; a line starting with SPACE or TAB
 *     continues the previous one (also in the middle of a UTF-8 sequence:
 *     the text is checked after unfolding); blank lines are skipped;
 *   - an optional UTF-8 byte order mark; the card must be UTF-8 without
 *     control characters other than TAB;
 *   - exactly one card: BEGIN:VCARD ... END:VCARD, no nested BEGIN, nothing
 *     but blank lines around it; VERSION 3.0 or 4.0, exactly once;
 *   - groups ("item1.EMAIL"), names and parameter names of letters, digits
 *     and "-" in any case; parameters "NAME=a,b", repeated parameters,
 *     quoted values ("a;b"), bare 3.0 types ("TEL;WORK;VOICE:" = TYPE=WORK,
 *     TYPE=VOICE); in 4.0 cards the RFC 6868 escapes ^n ^^ ^' in parameter
 *     values.
 * It keeps every property (also PHOTO, REV, X-...): what is ignored is the
 * mapping's decision (card_model.h), not the parser's.
 *
 * Bounds: VCARD_PARSE_MAX_BYTES per card, VCARD_PARSE_MAX_LINE bytes per
 * unfolded line, VCARD_PARSE_MAX_PROPS properties, VCARD_PARSE_MAX_PARAMS
 * parameters per property.  Exceeding one is an error with a clear message.
 */
#ifndef PDFS_VCARD_PARSE_H
#define PDFS_VCARD_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"
#include "vcard.h"

#define VCARD_PARSE_MAX_BYTES (1024 * 1024)
#define VCARD_PARSE_MAX_LINE (128 * 1024)
#define VCARD_PARSE_MAX_PROPS 4096
#define VCARD_PARSE_MAX_PARAMS 32

struct vcard_param {
	char *name;     /* upper case */
	char **values;  /* quotes removed; ^-escapes decoded in 4.0; case as written */
	size_t n_values;
};

/* One ";"-separated component of a value; its ","-separated items, each
 * with the text escapes decoded. */
struct vcard_component {
	char **items;
	size_t n_items; /* >= 1 */
};

struct vcard_prop {
	char *group;    /* lower case, NULL if none */
	char *name;     /* upper case */
	struct vcard_param *params;
	size_t n_params;
	char *raw;      /* the value as written, unfolded (escapes intact) */
	size_t raw_len;
	/* The whole value with \n \N \, \; \: \\ decoded; another "\x" stays
	 * as it is.  For TEXT properties (FN, NOTE, EMAIL, ...). */
	char *text;
	size_t text_len;
	/* The value split on unescaped ";" then ",", each item decoded.  For
	 * structured and list properties (N, ADR, ORG, CATEGORIES). */
	struct vcard_component *comps;
	size_t n_comps; /* >= 1 */
	size_t line;    /* physical line (1-based) where the property starts */
};

struct vcard_arena;

struct vcard_card {
	enum vcard_version version;
	/* In file order; BEGIN, END and VERSION are not among them. */
	struct vcard_prop *props;
	size_t n_props;
	struct vcard_arena *arena;
};

struct vcard_parse_error {
	size_t line;       /* 0 if not tied to a line */
	char message[200]; /* one short sentence for the log */
};

/*
 * Parse data[0..len).  Returns 0 and *out (free with vcard_card_free), or
 * -EINVAL with err->message saying what is wrong and where, or -ENOMEM.
 * err may be NULL.
 */
int vcard_parse(const char *data, size_t len, struct vcard_card **out,
		struct vcard_parse_error *err);
void vcard_card_free(struct vcard_card *card);
/* An empty card (no properties, version 3.0) with its arena; NULL on ENOMEM. */
struct vcard_card *vcard_card_new(void);

/* Memory that lives as long as the card (for models built from it); NULL on
 * ENOMEM.  vcard_card_strndup copies s[0..n) and adds a NUL. */
void *vcard_card_alloc(struct vcard_card *card, size_t n);
char *vcard_card_strndup(struct vcard_card *card, const char *s, size_t n);
/* The same with SPACE, TAB, CR and LF trimmed from both ends. */
char *vcard_card_strtrim(struct vcard_card *card, const char *s, size_t n);

/* ---- Questions about one property ---- */

/* ASCII case-insensitive equality of s[0..n) and the string `word`. */
bool vcard_word_is(const char *s, size_t n, const char *word);

/* Case-insensitive equality of the property name, and of the group (NULL
 * group matches only a property without group). */
bool vcard_prop_is(const struct vcard_prop *p, const char *name);
bool vcard_prop_in_group(const struct vcard_prop *p, const char *group);
/* True if a TYPE value equals `type` ignoring case; TYPE values are also
 * split on "," (TYPE="work,voice"). */
bool vcard_prop_has_type(const struct vcard_prop *p, const char *type);
/* The first value of parameter `name` (case-insensitive), or NULL. */
const char *vcard_prop_param(const struct vcard_prop *p, const char *name);
/* Preference: 0 = not preferred; PREF=n (1..100) gives n; TYPE=pref gives 1. */
int vcard_prop_pref(const struct vcard_prop *p);

/* Append s with \ , ; and LF escaped (\\ \, \; \n): the inverse of the
 * decoding of one item. */
void vcard_escape_item(struct strbuf *out, const char *s);

/*
 * Append the card in a canonical form: BEGIN, VERSION, every property as
 * group.NAME;PARAM=v,v:value with the value written from its components
 * (items escaped, joined by "," and ";"), parameter values quoted when they
 * hold , ; or : (4.0: ^-escaped), lines folded at 75 octets, CRLF, END.
 * Parsing the output gives the same card (same groups, names, parameters,
 * text and components): the fuzz harness checks it.
 */
void vcard_print(const struct vcard_card *card, struct strbuf *out);

#endif
