/*
 * meta_internal.h - what meta.c (names, the installed person fields) asks of
 * meta_fields.c (one set of person fields).  Not part of meta.h.
 */
#ifndef PDFS_META_INTERNAL_H
#define PDFS_META_INTERNAL_H

#include "meta.h"

/* Make f ready to be read by many threads (sorted, no duplicate keys) and
 * keep `older`, the set it replaces: meta_fields_free frees both. */
void meta_fields_seal(struct meta_fields *f, struct meta_fields *older);
/* True if key is one of f's custom field keys. */
bool meta_fields_knows(const struct meta_fields *f, const char *key);

/* meta_each_option and meta_each_custom_field over one set (meta.h). */
void meta_fields_each_option(const struct meta_fields *f, const char *key,
			     void (*fn)(void *ctx, const struct vcard_id *id, const char *label),
			     void *ctx);
void meta_fields_each_custom_field(const struct meta_fields *f,
				   void (*fn)(void *ctx, const char *key, const char *name,
					      const char *type),
				   void *ctx);

#endif
