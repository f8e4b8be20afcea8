/*
 * vcard.h - render one Pipedrive person as a vCard (3.0 or 4.0).
 *
 * Pure: no I/O, no globals, no locale; the same input always gives the same
 * bytes (st_size is computed from one rendering and read() serves another).
 * The person is an object token of a scanned document (jsonscan.h), read in
 * place; any field may be missing, null or of the wrong type, strings may
 * hold invalid UTF-8 or NULs: the output is still one valid card (UTF-8, CRLF,
 * folded at 75 octets, never an empty FN).  The mapping follows
 * shared/reference/vcard.md section 1.8.
 */
#ifndef PDFS_VCARD_H
#define PDFS_VCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "jsonscan.h"
#include "strbuf.h"

enum vcard_version {
	VCARD_V30 = 30,
	VCARD_V40 = 40,
};

/*
 * A label or option id as the API sends it: the spec types option ids as
 * integers for custom fields and strings for built-in ones (the person
 * labels), so either may come.  A string holding a canonical decimal number
 * ("5") is the same id as the integer 5; any other non-empty string is an id
 * of its own (text[0..len)).
 */
struct vcard_id {
	bool numeric;
	int64_t num;      /* numeric ids */
	const char *text; /* other strings (not NUL-terminated) */
	size_t len;
};

/* The id in token v (an integer or a string, unescaped into scratch when it
 * has escapes), or false if v is neither. */
bool vcard_id_of(const struct jsonscan_doc *d, uint32_t v, struct arena *scratch,
		 struct vcard_id *out);
/* The id a string s[0..n) names (false if it is empty). */
bool vcard_id_from_text(const char *s, size_t n, struct vcard_id *out);

/* Returns the label's name for a label id, or NULL if unknown. */
typedef const char *(*vcard_label_name_fn)(void *ctx, const struct vcard_id *label_id);

/* A custom field as people read it: the field's name and its value as text. */
struct vcard_field {
	const char *label;
	const char *value;
};

/* Buffers a renderer reuses from card to card (one owner at a time). */
struct vcard_buffers {
	struct strbuf line, pool, entries[3], text[3];
};
void vcard_buffers_free(struct vcard_buffers *b);

struct vcard_options {
	enum vcard_version version;
	/* Company identity for UID (uuid5 of "pipedrive:<company>:person:<id>")
	 * and for URL (https://<company>.pipedrive.com/person/<id>).  Never NULL. */
	const char *company;
	/* Base of the web app for the URL line, e.g. "https://acme.pipedrive.com";
	 * NULL means derive it from company. */
	const char *app_url;
	/* Resolved name of the person's organization, or NULL (then no ORG line;
	 * never the bare id). */
	const char *org_name;
	/* Label names for CATEGORIES; NULL means none resolved. */
	vcard_label_name_fn label_name;
	void *label_ctx;
	/* Custom fields, each rendered as an Apple-style labelled group:
	 * itemN.X-PIPEDRIVE-FIELD:<value> + itemN.X-ABLabel:<label>. */
	const struct vcard_field *fields;
	size_t field_count;
	/* Room for the strings that have escapes, unescaped, and buffers to
	 * reuse; NULL: the renderer uses its own. */
	struct arena *scratch;
	struct vcard_buffers *buffers;
	/* Non-NULL: only count the card's bytes into *measure (out is not
	 * written; the UID's digest is not computed, its length is fixed). */
	size_t *measure;
};

/* Append the card for object `person` of d to `out`.  Returns 0, or -ENOMEM
 * (out failed), or -EINVAL if person is not an object or has no integer id
 * (one that fits int64_t). */
int vcard_render(const struct jsonscan_doc *d, uint32_t person, const struct vcard_options *opt,
		 struct strbuf *out);

/* ---- Building blocks, exported for unit tests and the fuzzers ---- */

enum vcard_text_mode {
	VCARD_TEXT_SINGLE_LINE,  /* CR, LF, CRLF and TAB become one space (FN, N, TITLE, ORG, ADR, labels) */
	VCARD_TEXT_MULTI_LINE,   /* CRLF, CR, LF become the two bytes "\n"; TAB kept (NOTE) */
};

/*
 * Append the escaped form of s[0..n): invalid UTF-8 -> U+FFFD; control
 * characters U+0000-U+001F (except those the mode keeps) and U+007F dropped;
 * "\" -> "\\", "," -> "\,", ";" -> "\;"; newlines as the mode says.  Leading
 * and trailing white space is trimmed.
 */
void vcard_escape_text(struct strbuf *out, const char *s, size_t n,
		       enum vcard_text_mode mode);

/*
 * Append one logical content line (without line break) folded to 75 octets:
 * the first physical line holds at most 75 bytes, each continuation is CRLF,
 * one SPACE and at most 74 bytes; never splits a UTF-8 sequence or a "\x"
 * escape pair; ends with CRLF.
 */
void vcard_fold_line(struct strbuf *out, const char *line, size_t len);
/* The bytes vcard_fold_line would append. */
size_t vcard_fold_line_len(const char *line, size_t len);

/* Deterministic UUID version 5 (SHA-1, RFC 4122) of `name` in the fixed
 * pipedrivefs namespace, formatted lowercase 8-4-4-4-12 into buf[37]. */
void vcard_uuid5(const char *name, char buf[37]);

/* The same with an explicit namespace and a name of n bytes (for the RFC 4122
 * test vectors, e.g. NAMESPACE_DNS).  ns is the namespace in network order. */
void vcard_uuid5_ns(const unsigned char ns[16], const char *name, size_t n,
		    char buf[37]);

#endif
