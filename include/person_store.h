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
/* The row of a full person (pointers into p; valid while p is). */
struct store_person_row person_store_row(const struct person *p);

#endif
