/*
 * person.h - one Pipedrive person as the cache keeps it.
 *
 * Compact by design: the JSON as received (the .json file is its pretty form,
 * produced on read without parsing), the vCard rendered once when the person
 * is built (with the organization name known then, so size and bytes always
 * agree), and the few fields the tree needs.  Immutable and reference counted, so
 * one object is shared by every listing it appears in and by readers on any
 * thread.  Knows neither FUSE nor HTTP.
 */
#ifndef PDFS_PERSON_H
#define PDFS_PERSON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "strbuf.h"
#include "vcard.h"

struct meta;

/* What a vCard needs beyond the person: the mount's settings and the
 * company's label and custom field names. */
struct person_render {
	enum vcard_version version;
	const char *company;
	const char *app_url;
	struct meta *meta; /* label and custom field names, or NULL */
};

struct person {
	atomic_uint refs;
	int64_t id;
	int64_t owner_id;    /* 0 if none */
	int64_t org_id;      /* 0 if none */
	int64_t update_time; /* Unix seconds, 0 if missing or unparseable */
	char *base;          /* "<safe name> (<id>)", the file name without extension */
	size_t base_len;
	char *compact;       /* the object as received, compact JSON */
	size_t compact_len;
	size_t json_len;     /* bytes of the .json file (pretty, see person_json) */
	char *vcf;           /* the .vcf file, rendered once */
	size_t vcf_len;
	/* A hash of compact and vcf (person_set_digest); 0 until set.  A
	 * "light" person (person_light) keeps it while compact and vcf are
	 * NULL: its bytes live elsewhere (bytecache.h). */
	uint64_t digest;
};

/* Build from one element of a page's data array; org_name is the resolved
 * name of its organization or NULL.  Returns NULL and sets *err to -EINVAL
 * (not an object, or no integer id) or -ENOMEM. */
struct person *person_from_json(struct json_object *obj, const struct person_render *r,
				const char *org_name, int *err);
/* The same, keeping raw[0..raw_len) - the element's text exactly as the API
 * sent it - as the JSON (raw must be the text obj was parsed from). */
struct person *person_from_json_text(struct json_object *obj, const char *raw, size_t raw_len,
				     const struct person_render *r, const char *org_name,
				     int *err);
/* Append the .json file: the object pretty-printed, ending in a newline. */
void person_json(const struct person *p, struct strbuf *out);
/* True if both carry the same bytes (JSON and vCard); for a light person,
 * the same digest and sizes. */
bool person_same(const struct person *a, const struct person *b);
/* Set p's digest (before p is shared with other threads). */
void person_set_digest(struct person *p);
/* A copy of p's attributes, name and digest without its bytes; NULL if out
 * of memory.  p must have its digest set. */
struct person *person_light(const struct person *p);
static inline bool person_is_light(const struct person *p) { return p->compact == NULL; }
struct person *person_ref(struct person *p);
void person_unref(struct person *p);

/* True if the API marks the object as deleted ("is_deleted": true): the real
 * API keeps soft-deleted persons for 30 days and may send them in
 * updated_since and ids= answers. */
bool person_json_is_deleted(struct json_object *obj);
/* The integer id of a person object, or 0. */
int64_t person_json_id(struct json_object *obj);
/* Append the name a person is known by in Pipedrive: "name", else first and
 * last name; false (nothing appended) if it has none. */
bool person_json_name(struct json_object *obj, struct strbuf *out);
/* The same for a stored person (parses its JSON). */
bool person_name(const struct person *p, struct strbuf *out);

/* "2021-01-01T00:00:00Z" (fractions and offsets accepted) -> Unix seconds;
 * 0 if it does not parse. */
int64_t person_parse_time(const char *s);

#endif
