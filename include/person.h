/*
 * person.h - one Pipedrive person as the cache keeps it.
 *
 * Compact by design, one allocation: the JSON exactly as received (the .json
 * file is its pretty form, produced on read without parsing), the few fields
 * the tree needs, the exact sizes of both files, and what the vCard is
 * rendered with.  The card's text is not kept (unless asked for, or big): it
 * is rendered again from the JSON when read, with the same settings and the
 * names pinned when the person was built (organization, and the users,
 * organizations and persons its custom fields name), so its size and its
 * bytes always agree however meta's names change meanwhile.
 *
 * Immutable and reference counted, so one object is shared by every listing
 * it appears in and by readers on any thread.  Knows neither FUSE nor HTTP.
 * Bytes are read through person_compact(), person_json() and person_vcf()
 * only, never from the fields.
 */
#ifndef PDFS_PERSON_H
#define PDFS_PERSON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "jsonscan.h"
#include "strbuf.h"
#include "vcard.h"

struct meta;
struct meta_fields;

/* What a vCard needs beyond the person: the mount's settings, and the
 * company's names (organizations, users, persons, labels, custom fields).
 * Must outlive every person built with it. */
struct person_render {
	enum vcard_version version;
	const char *company;
	const char *app_url;
	struct meta *meta; /* or NULL: no ORG, CATEGORIES or custom fields */
	/* Keep every card's text in memory (the disk cache stores it); else only
	 * cards over PERSON_KEEP_VCF_MIN are kept, and the others rendered again
	 * whenever they are read. */
	bool keep_vcf;
};

/*
 * The settings persons are built and rendered with, shared: a reference-
 * counted copy (strings included) that whoever builds persons holds, and
 * every person built with it too - a card is rendered again on read, on any
 * thread, whatever freed the builder meanwhile.  meta must outlive the
 * persons' renderings.
 */
struct person_style;
struct person_style *person_style_new(const struct person_render *r); /* NULL: ENOMEM */
struct person_style *person_style_ref(struct person_style *s);
void person_style_unref(struct person_style *s);
const struct person_render *person_style_render(const struct person_style *s);

/* Cards at least this big are kept: a read of any slice of a card renders
 * all of it, so rendering big ones per READ would be quadratic. */
#define PERSON_KEEP_VCF_MIN ((size_t)64 << 10)

struct person_pin; /* a name the card shows (person.c) */

struct person {
	atomic_uint refs;
	int64_t id;
	int64_t owner_id;    /* 0 if none */
	int64_t org_id;      /* 0 if none */
	int64_t update_time; /* Unix seconds, 0 if missing or unparseable */
	char *base;          /* "<safe name> (<id>)", the file name without extension */
	size_t base_len;
	char *compact;       /* the object as received: read it with person_compact() */
	size_t compact_len;
	size_t json_len;     /* bytes of the .json file (pretty, see person_json) */
	size_t vcf_len;      /* bytes of the .vcf file, exact either way */
	/* A hash of the person's bytes (person_set_digest); 0 until set.  A
	 * "light" person (person_light) keeps it while compact and vcf are
	 * NULL: its bytes live elsewhere (bytecache.h). */
	uint64_t digest;
	/* What renders the card.  A light person is allocated without these
	 * (PERSON_LIGHT_SIZE): only person.c reads them, and only after
	 * person_is_light() said no. */
	char *vcf;           /* the card when kept, else NULL: read it with person_vcf() */
	struct person_style *style;       /* what the card is rendered with */
	const struct meta_fields *fields; /* the custom fields it was rendered with */
	struct person_pin *pins;
	uint32_t pin_count;
};

/* The bytes a light person's fields take: a million listed persons cost a
 * third less than whole structs would. */
#define PERSON_LIGHT_SIZE offsetof(struct person, vcf)

/* Memory reused from person to person by one thread (NULL: each build
 * makes its own). */
struct person_scratch {
	struct arena arena;
	struct strbuf card, custom, base;
	struct vcard_buffers buffers;
};
void person_scratch_init(struct person_scratch *s);
void person_scratch_free(struct person_scratch *s);

/*
 * Build from object `obj` of a scanned document (one element of a page's
 * data array); its exact text (jsonscan_raw) becomes the JSON.  Names come
 * from the style's meta as it knows them now, however old.  Returns NULL and sets
 * *err to -EINVAL (not an object, or no integer id in 1..NAMES_MAX_ID),
 * -ENOENT (marked deleted, person_scan_is_deleted: it is no file) or
 * -ENOMEM.
 */
struct person *person_build(const struct jsonscan_doc *d, uint32_t obj,
			    struct person_style *style, struct person_scratch *scratch, int *err);
/* The same from the text of one JSON object (strict JSON, else -EINVAL). */
struct person *person_from_text(const char *json, size_t len, struct person_style *style,
				int *err);
/* p built again from its own JSON with the names known now (NULL: *err). */
struct person *person_rebuild(const struct person *p, int *err);

/* The object as received, compact_len bytes (NUL-terminated). */
const char *person_compact(const struct person *p, size_t *len);
/* Append the .json file: the object pretty-printed, ending in a newline. */
void person_json(const struct person *p, struct strbuf *out);
/* Append the .vcf file, vcf_len bytes: the kept text or a new rendering.
 * 0, -ENOMEM, or -EIO if a rendering came out another size (a bug) or p
 * is light.  The one way to a card's bytes (with person_vcf_slice). */
int person_vcf(const struct person *p, struct strbuf *out);
/* Append bytes [off, off + len) of the .vcf file (fewer at its end): a READ.
 * A kept card is copied from, not rendered, so reading a big one slice by
 * slice stays linear.  Errors as person_vcf. */
int person_vcf_slice(const struct person *p, size_t off, size_t len, struct strbuf *out);
/* True if both carry the same bytes (JSON and vCard); for a light person,
 * the same digest and sizes. */
bool person_same(const struct person *a, const struct person *b);
/* Bytes the person holds (for cache_max_mb). */
size_t person_mem_bytes(const struct person *p);
/* Set p's digest (before p is shared with other threads): of the JSON and
 * the kept card, or of the JSON and the names the card is rendered with. */
void person_set_digest(struct person *p);
/* A copy of p's attributes, name and digest without its bytes; NULL if out
 * of memory.  p must have its digest set. */
struct person *person_light(const struct person *p);
static inline bool person_is_light(const struct person *p) { return p->compact == NULL; }

/* A person from kept parts (the disk cache's row): its card is the text
 * given, never rendered again.  NULL if out of memory. */
struct person_parts {
	int64_t id, owner_id, org_id, update_time;
	const char *base, *compact, *vcf;
	size_t base_len, compact_len, json_len, vcf_len;
};
struct person *person_from_parts(const struct person_parts *in);
struct person *person_ref(struct person *p);
void person_unref(struct person *p);

/* True if the API marks the object as deleted ("is_deleted": true): the real
 * API keeps soft-deleted persons for 30 days and may send them in
 * updated_since and ids= answers. */
bool person_scan_is_deleted(const struct jsonscan_doc *d, uint32_t obj);
/* The integer id of a person object (1..NAMES_MAX_ID), or 0. */
int64_t person_scan_id(const struct jsonscan_doc *d, uint32_t obj);
/* Append the name a person is known by in Pipedrive: "name", else first and
 * last name; false (nothing appended) if it has none. */
bool person_scan_name(const struct jsonscan_doc *d, uint32_t obj, struct strbuf *out);
/* The same for a built person (scans its JSON). */
bool person_name(const struct person *p, struct strbuf *out);
/* Bytes of the .json file of object obj (jsonfmt_pretty of its text), from
 * the tokens without reading the text again. */
size_t person_scan_json_len(const struct jsonscan_doc *d, uint32_t obj);

/* "2021-01-01T00:00:00Z" (fractions and offsets accepted) -> Unix seconds;
 * 0 if it does not parse. */
int64_t person_parse_time(const char *s);
/* The same for s[0..n). */
int64_t person_parse_time_n(const char *s, size_t n);

#endif
