/*
 * walker_internal.h - what the files of the walker share.  walker.h is the
 * module's contract; only src/walker*.c include this.
 *
 *   walker.c         the job queue and threads, person directories, group
 *                    roots, persons by id
 *   walker_search.c  the walk of a search folder
 */
#ifndef PDFS_WALKER_INTERNAL_H
#define PDFS_WALKER_INTERNAL_H

#include "walker.h"

/* A search folder holds at most this many persons: a term that finds more
 * is refused (E2BIG) before any person is fetched - a search folder is for
 * finding people, and 10,000 persons already cost 20 search pages and 100
 * ids= batches. */
#define SEARCH_MAX_PERSONS 10000
#define SEARCH_PAGE_LIMIT 500

/* ---- walker.c ---- */
/* The persons with ids[0..n) in ids= batches of up to 100, names resolved,
 * each stored in the person store: new references, in no particular order,
 * in *out (malloc'd) and *count.  Ids the answers leave out or mark deleted
 * leave every cached listing.  0, or -errno with err set. */
int walker_persons_by_ids(struct walker *w, struct api_conn *conn, const int64_t *ids, size_t n,
			  struct person ***out, size_t *count, struct api_error *err);

/* ---- walker_search.c ---- */
/* The listing of search folder key (NODE_SEARCH_DIR): the persons the
 * search finds, sorted by id, with the search's order as display order.
 * 0, or -errno with err set: ESTALE if the term was forgotten, E2BIG past
 * SEARCH_MAX_PERSONS. */
int walker_search_walk(struct walker *w, struct api_conn *conn, uint64_t key,
		       struct listing **out, struct api_error *err);

#endif
