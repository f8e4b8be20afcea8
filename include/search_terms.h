/*
 * search_terms.h - the search folders of a mount: every term looked up in
 * /search gets a number, the id part of its folder's inode (tree.h,
 * NODE_SEARCH_DIR) and so the cache key of its listing.
 *
 * A term is the folder's name exactly as looked up (UTF-8, no "/").
 * Numbers start at 1 and only grow: a number is never given to another term
 * within the mount, so an inode the kernel still holds can never show the
 * results of a different search.  The table is bounded (max_terms, default
 * SEARCH_TERMS_MAX): past it, the least recently used tenth of the terms is
 * forgotten in one batch.  A forgotten term's number is unknown from then on
 * (its folder answers ESTALE); looking the name up again gives it a new
 * number.  Terms are used when looked up and when searched.
 *
 * Thread-safe (one lock); no I/O.
 */
#ifndef PDFS_SEARCH_TERMS_H
#define PDFS_SEARCH_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* About 300 bytes each: far more terms than anyone searches in a TTL. */
#define SEARCH_TERMS_MAX 1024u
/* Pipedrive's person search wants at least 2 characters (1 only with
 * exact_match, which search folders do not use). */
#define SEARCH_TERM_MIN_CHARS 2

struct search_terms;

/* max_terms 0: SEARCH_TERMS_MAX.  NULL when out of memory. */
struct search_terms *search_terms_new(size_t max_terms);
void search_terms_free(struct search_terms *t);

/*
 * Whether name[0..len) can be searched without a request that is sure to
 * fail or that nobody meant: well-formed UTF-8 without control characters,
 * not starting with "." (the names tools probe in every directory: .git,
 * .hidden, .directory, ...), and at least SEARCH_TERM_MIN_CHARS characters
 * once leading and trailing spaces are stripped.  Pure.
 */
bool search_term_valid(const char *name, size_t len);

/* The number of term[0..len) (a valid term), given now if it has none;
 * 0 when out of memory. */
int64_t search_terms_intern(struct search_terms *t, const char *term, size_t len);

/* Append the text to search for number id (the term without its leading
 * and trailing spaces) to out; false if the number is unknown (never given
 * or forgotten). */
bool search_terms_text(struct search_terms *t, int64_t id, struct strbuf *out);

/* Terms held now. */
size_t search_terms_count(struct search_terms *t);

#endif
