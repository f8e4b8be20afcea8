/*
 * meta.h - what the company's other endpoints tell about persons: the names
 * of organizations (for ORG), of labels (for CATEGORIES) and of custom fields
 * (for the labelled X-PIPEDRIVE-FIELD lines), and the option labels of enum
 * and set custom fields.
 *
 * Knows the JSON shapes of /organizations and /personFields, not HTTP or FUSE.
 * Organization names live for the cache TTL (time passed in by the caller);
 * person fields are loaded once per mount.  Thread-safe.
 */
#ifndef PDFS_META_H
#define PDFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vcard.h"

struct meta;

enum meta_org_state {
	META_ORG_UNKNOWN, /* not asked, or expired: fetch it */
	META_ORG_NAMED,   /* name copied into the buffer */
	META_ORG_NONE,    /* asked: no such organization (or it has no name) */
};

struct meta *meta_new(double ttl);
void meta_free(struct meta *m);

enum meta_org_state meta_org_name(struct meta *m, int64_t org_id, double now, char *buf,
				  size_t len);
/* Record an organization object from /organizations (id and name). */
void meta_org_store(struct meta *m, struct json_object *org, double now);
/* Record that an id was asked for and not returned. */
void meta_org_store_none(struct meta *m, int64_t org_id, double now);

/* Load /personFields items (call once; later calls replace). */
void meta_person_fields_store(struct meta *m, struct json_object *items);
bool meta_person_fields_loaded(struct meta *m);
/* True if key is a known custom field key (person fields must be loaded). */
bool meta_custom_field_known(struct meta *m, const char *key);

/* A vcard_label_name_fn over the loaded label names; ctx is the meta. */
const char *meta_label_name(void *meta, int64_t label_id);

/* The custom fields of a person as (name, value text) pairs, for the vCard.
 * Null values are skipped; enum/set ids become their option labels.  Fills
 * at most max entries whose strings live in *storage (free with free()). */
size_t meta_custom_fields(struct meta *m, struct json_object *custom_fields,
			  struct vcard_field *out, size_t max, char **storage);

#endif
