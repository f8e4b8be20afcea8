/*
 * person_store.h - a person as the disk cache keeps it, both ways.  Pure:
 * no I/O (the store does that).
 */
#ifndef PDFS_PERSON_STORE_H
#define PDFS_PERSON_STORE_H

#include "person.h"
#include "store_codec.h"

/* A full person from a row that passed the store's checks (digest set);
 * NULL if out of memory. */
struct person *person_from_store_row(const struct store_person_row *row);
/* The row of a full person whose card is kept (person_storable; pointers
 * into p, valid while p is).  With a disk cache every person is built with
 * its card kept (person_render.keep_vcf). */
struct store_person_row person_store_row(const struct person *p);
static inline bool person_storable(const struct person *p)
{
	return !person_is_light(p) && p->vcf != NULL;
}

#endif
