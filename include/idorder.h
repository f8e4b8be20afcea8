/*
 * idorder.h - ids in the order they were appended, in a few bytes each.
 *
 * Ids come in batches (a page of a walk); a batch is kept in ascending runs
 * of up to IDORDER_RUN ids, each id as the varint of its distance from the
 * one before (the run's first from 0).  Positions never change once
 * appended.  Position i costs a binary search over the runs and the decoding
 * of at most one run.  A company's ids (a few million apart at most) take 2
 * or 3 bytes each instead of 8.
 *
 * Pure and not thread-safe: the owner locks.  Starts zeroed (IDORDER_INIT),
 * freed with idorder_clear.
 */
#ifndef PDFS_IDORDER_H
#define PDFS_IDORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDORDER_RUN 512

struct idorder_run;

struct idorder {
	unsigned char *bytes;
	size_t len, cap;
	struct idorder_run *runs;
	size_t nruns, runs_cap;
	size_t count; /* ids appended */
};

#define IDORDER_INIT {0}

/* Append ids[0..n), which must be strictly ascending and positive (one
 * batch, sorted by the caller); false without memory or for ids that are
 * not (the order unchanged). */
bool idorder_append(struct idorder *o, const int64_t *ids, size_t n);
/* The ids at positions from.. into out[0..max); how many there were. */
size_t idorder_get(const struct idorder *o, size_t from, size_t max, int64_t *out);
static inline size_t idorder_count(const struct idorder *o)
{
	return o->count;
}
/* The bytes the order holds on the heap. */
size_t idorder_bytes(const struct idorder *o);
void idorder_clear(struct idorder *o);

#endif
