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

#endif
