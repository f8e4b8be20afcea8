/*
 * idorder.h - ids in the order they were appended, in a few bytes each.
 *
 * Ids come in batches (a page of a walk) and keep their order: runs of up
 * to IDORDER_RUN ids (a batch goes on in the last run while it has room),
 * each id as the varint of its signed distance from the one before (zigzag;
 * the run's first from 0).  Positions never change once
 * appended.  Position i costs a binary search over the runs and the decoding
 * of at most one run.  A company's ids (a few million apart at most) take 3
 * bytes each instead of 8, 1 when they come in order.
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
	int64_t last; /* the last one, the next delta's base */
};

#define IDORDER_INIT {0}

/* Append ids[0..n) in their order (positive; the caller keeps out
 * duplicates); false without memory or for an id below 1 (the order
 * unchanged). */
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
