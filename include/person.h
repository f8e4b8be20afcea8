/*
 * person.h - one Pipedrive person as the cache keeps it.
 *
 * Compact by design: the pretty-printed JSON (which is the .json file's
 * content, byte for byte) plus the few fields the tree needs.  The vCard is
 * rendered from the JSON on demand; its size is computed once when the
 * person is built.  Immutable after construction and reference counted, so
 * one object is shared by every listing it appears in and by readers on any
 * thread.  Knows neither FUSE nor HTTP.
 */
#ifndef PDFS_PERSON_H
#define PDFS_PERSON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "strbuf.h"
#include "vcard.h"

/* What a vCard needs beyond the person: the mount's company and settings,
 * and name lookups the cache answers. */
struct person_render {
	enum vcard_version version;
	const char *company;
	const char *app_url;
	/* Organization name for an org id, copied into buf; false if unknown. */
	int (*org_name)(void *ctx, int64_t org_id, char *buf, size_t len);
	void *org_ctx;
	vcard_label_name_fn label_name;
	void *label_ctx;
};

struct person {
	atomic_uint refs;
	int64_t id;
	int64_t owner_id;    /* 0 if none */
	int64_t org_id;      /* 0 if none */
	int64_t update_time; /* Unix seconds, 0 if missing or unparseable */
	char *base;          /* "<safe name> (<id>)", the file name without extension */
	size_t base_len;
	char *json;          /* the .json file: pretty JSON ending in "\n" */
	size_t json_len;
	size_t vcf_len;      /* bytes of the rendered .vcf */
};

/* Build from one element of a page's data array.  Returns NULL and sets
 * *err to -EINVAL (not an object, or no integer id) or -ENOMEM. */
struct person *person_from_json(struct json_object *obj, const struct person_render *r,
				int *err);
struct person *person_ref(struct person *p);
void person_unref(struct person *p);

/* Render the vCard; the bytes are the same every time for the same render
 * settings.  0 or -errno. */
int person_render_vcf(const struct person *p, const struct person_render *r,
		      struct strbuf *out);

/* "2021-01-01T00:00:00Z" (fractions and offsets accepted) -> Unix seconds;
 * 0 if it does not parse. */
int64_t person_parse_time(const char *s);

#endif
