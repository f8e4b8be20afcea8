/*
 * vcard_internal.h - the pieces of the vCard renderer (vcard.h) shared by
 * its files: vcard_text.c (cleaning, escaping, folding, UID, ids),
 * vcard_date.c (dates and times), vcard_lists.c (EMAIL, TEL, IMPP) and
 * vcard.c (the card).  Not part of vcard.h.
 */
#ifndef PDFS_VCARD_INTERNAL_H
#define PDFS_VCARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vcard.h"

/* ---- vcard_text.c ---- */

/* Append s[0..n) cleaned (see vcard_escape_text) but not escaped. */
void vcard_clean_text(struct strbuf *dst, const char *s, size_t n, enum vcard_text_mode mode);
/* Append cleaned text with \ , ; and newline escaped. */
void vcard_escape_clean(struct strbuf *dst, const char *s, size_t n);
/* Append s[0..n) with every byte that is neither unreserved nor in
 * `also_keep` written as %XX. */
void vcard_percent_encode(struct strbuf *dst, const char *s, size_t n, const char *also_keep);
/* Case-insensitive (ASCII) comparison of s[0..n) with the string `word`. */
bool vcard_equals_ignoring_case(const char *s, size_t n, const char *word);
/* Append v as exactly `digits` decimal digits, zero-padded (0 <= v). */
void vcard_put_digits(struct strbuf *sb, int v, int digits);

/* ---- vcard_date.c ---- */

struct date_time {
	int year, month, day, hour, minute, second;
};

/* Exactly "YYYY-MM-DD" with a real calendar date, year 0001-9999. */
bool vcard_parse_date(const char *s, size_t n, struct date_time *dt);
/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" normalised to UTC
 * (fraction dropped), or the v1 API form "YYYY-MM-DD HH:MM:SS" (UTC). */
bool vcard_parse_timestamp_utc(const char *s, size_t n, struct date_time *dt);

/* ---- the card being built (vcard.c) ---- */

/* A run of cleaned text in card.pool. */
struct span {
	size_t off, len;
};

struct card {
	const struct vcard_options *opt;
	const struct jsonscan_doc *d;
	uint32_t person;
	struct arena *scratch; /* unescaped strings */
	struct vcard_buffers *buf; /* lent to line, pool and the lists */
	bool v4;
	int64_t id;
	struct strbuf *out;
	struct strbuf line;   /* the logical line being built */
	struct strbuf pool;   /* cleaned single values (struct span) */
	unsigned item_no;     /* last itemN group number used */
	bool oom;             /* a scratch buffer or the arena failed */
};

/* The unescaped bytes of string token t, or NULL if t is not a string (or
 * memory ran out: then c->oom). */
const char *card_string(struct card *c, uint32_t t, size_t *n);
/* s[0..n) (s may be NULL) cleaned into pool. */
struct span card_clean_into(struct strbuf *pool, const char *s, size_t n,
			    enum vcard_text_mode mode);
/* String member key of object obj cleaned into pool. */
struct span card_clean_member(struct card *c, struct strbuf *pool, uint32_t obj,
			      const char *key, enum vcard_text_mode mode);
static inline const char *span_text(const struct strbuf *pool, struct span sp)
{
	return sp.len ? pool->data + sp.off : "";
}
void card_line_begin(struct card *c, const char *text);
void card_line_finish(struct card *c);
/* ;PREF=1 (4.0) or ;TYPE=PREF (3.0) onto the line. */
void card_put_pref(struct card *c);
/* itemN.X-ABLabel:<label>, Apple's way to carry a custom label. */
void card_put_ablabel(struct card *c, const char *label, size_t n);
/* Hand a borrowed buffer back to *home, remembering whether it ran out of
 * memory. */
void card_release(struct card *c, struct strbuf *sb, struct strbuf *home);
/* Borrow *home, emptied. */
struct strbuf card_borrow(struct strbuf *home);

/* ---- emails[], phones[], im[] (vcard_lists.c) ---- */

struct contact_list {
	struct strbuf entries; /* struct list_entry[count] */
	struct strbuf text;
	size_t count;
	int slot;
};

enum duplicates { KEEP_DUPLICATES, DROP_DUPLICATES };

/* The entries of array token `array` (missing or not an array: none), in
 * emit order: primary ones first, then as sent.  slot (0..2): which of
 * c->buf's list buffers it borrows until card_release_list. */
void card_collect_list(struct card *c, struct contact_list *l, int slot, uint32_t array,
		       enum duplicates duplicates);
/* The value FN falls back to: the first entry in emit order. */
bool card_list_first_value(const struct contact_list *l, const char **s, size_t *n);
void card_release_list(struct card *c, struct contact_list *l);
void card_put_emails(struct card *c, const struct contact_list *l);
void card_put_phones(struct card *c, const struct contact_list *l);
void card_put_ims(struct card *c, const struct contact_list *l);

#endif
