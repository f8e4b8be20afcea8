/*
 * fieldtext.h - a custom field's value as the Pipedrive UI shows it.
 *
 * The v2 API sends custom field values in one shape per field type
 * (personFields' field_type): strings for varchar, varchar_auto, text, phone
 * and date; a number for double; {value, currency} for monetary; an address
 * object whose formatted_address (or value) is the whole address;
 * {value, until} for daterange; a plain "HH:MM:SS" or {value, timezone_name}
 * for time and the same with until for timerange; an option id (integer or
 * string) for enum and a list of them for set; a user, organization or person
 * id for user, org and people fields.  This turns any of them into one line
 * of text with names instead of ids: option labels, user / organization /
 * person names through the caller's lookups.  An id nobody can name gives no
 * text at all (never a bare id); a type it does not know is shown as its
 * text, ids left out.  Numbers carry no trailing zeros ("12.5", "8000").
 *
 * Values are tokens of a scanned document (jsonscan.h); strings with
 * escapes are unescaped into the caller's scratch arena.
 *
 * Pure: no I/O, no globals, no locale (the C locale's decimal point).
 */
#ifndef PDFS_FIELDTEXT_H
#define PDFS_FIELDTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "jsonscan.h"
#include "strbuf.h"
#include "vcard.h"

enum fieldtext_type {
	FIELDTEXT_OTHER,   /* any type not below: shown as its text, without ids */
	FIELDTEXT_TEXT,    /* varchar, varchar_auto, text, phone, date */
	FIELDTEXT_DOUBLE,
	FIELDTEXT_MONETARY,
	FIELDTEXT_ADDRESS,
	FIELDTEXT_DATERANGE,
	FIELDTEXT_TIME,
	FIELDTEXT_TIMERANGE,
	FIELDTEXT_ENUM,
	FIELDTEXT_SET,
	FIELDTEXT_USER,
	FIELDTEXT_ORG,
	FIELDTEXT_PEOPLE,
};

/* The type of a personFields field_type string (NULL: FIELDTEXT_OTHER). */
enum fieldtext_type fieldtext_type_of(const char *field_type);

/* True for the types whose values are ids of other records (user, org,
 * people). */
bool fieldtext_is_reference(enum fieldtext_type type);

struct fieldtext_lookup {
	void *ctx;
	/* The label of an enum/set option, or NULL. */
	const char *(*option)(void *ctx, const struct vcard_id *id);
	/* The name of the user, organization or person `id` (type is
	 * FIELDTEXT_USER, _ORG or _PEOPLE), or NULL. */
	const char *(*name)(void *ctx, enum fieldtext_type type, int64_t id);
};

/* Append token `value` of d (a field of `type`) as text; appends nothing
 * when there is nothing to show.  lookup may be NULL (then no option or name
 * is known). */
void fieldtext_append(struct strbuf *out, const struct jsonscan_doc *d, uint32_t value,
		      enum fieldtext_type type, const struct fieldtext_lookup *lookup,
		      struct arena *scratch);

/*
 * Call fn for every record id a value of a reference type holds: an integer,
 * a numeric string, an object's "id" or "value", or a list of those.  For
 * other types nothing is called.
 */
void fieldtext_each_reference(const struct jsonscan_doc *d, uint32_t value,
			      enum fieldtext_type type,
			      void (*fn)(void *ctx, enum fieldtext_type type, int64_t id),
			      void *ctx, struct arena *scratch);

/* A number without noise: integers as integers, others with up to 15
 * significant digits and no trailing zeros. */
void fieldtext_number(struct strbuf *out, double v);

#endif
