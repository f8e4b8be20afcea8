/*
 * idset.c - a set of positive ids in blocks of 65,536 (idset.h).
 */
#include "idset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOW_BITS 16
#define ARRAY_MAX 4096                      /* members an array block holds */
#define BITMAP_WORDS ((1u << LOW_BITS) / 64) /* 1,024 words: 8 KiB */

struct idset_block {
	uint64_t high;    /* the members' id >> LOW_BITS */
	uint32_t count;   /* members */
	uint32_t cap;     /* array slots; 0 once the block is a bitmap */
	void *members;    /* uint16_t[cap] ascending, or uint64_t[BITMAP_WORDS] */
};

static bool is_bitmap(const struct idset_block *b)
{
	return b->cap == 0;
}

/* Index of the first block whose high is >= high. */
static size_t block_at_or_after(const struct idset *s, uint64_t high)
{
	size_t lo = 0, hi = s->nblocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->blocks[mid].high < high)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first member >= low in an array block. */
static uint32_t member_at_or_after(const struct idset_block *b, uint16_t low)
{
	const uint16_t *m = b->members;
	uint32_t lo = 0, hi = b->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m[mid] < low)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool block_has(const struct idset_block *b, uint16_t low)
{
	if (is_bitmap(b))
		return ((const uint64_t *)b->members)[low / 64] >> (low % 64) & 1;
	uint32_t at = member_at_or_after(b, low);
	return at < b->count && ((const uint16_t *)b->members)[at] == low;
}

bool idset_has(const struct idset *s, int64_t id)
{
	if (id < 1)
		return false;
	uint64_t high = (uint64_t)id >> LOW_BITS;
	size_t at = block_at_or_after(s, high);
	return at < s->nblocks && s->blocks[at].high == high &&
	       block_has(&s->blocks[at], (uint16_t)id);
}

/* The array block, full at ARRAY_MAX, becomes a bitmap; false without
 * memory (the block unchanged). */
static bool to_bitmap(struct idset_block *b)
{
	uint64_t *bits = calloc(BITMAP_WORDS, sizeof(*bits));
	if (!bits)
		return false;
	const uint16_t *m = b->members;
	for (uint32_t i = 0; i < b->count; i++)
		bits[m[i] / 64] |= UINT64_C(1) << (m[i] % 64);
	free(b->members);
	b->members = bits;
	b->cap = 0;
	return true;
}

/* Add low (not a member) to block b; false without memory. */
static bool block_add(struct idset_block *b, uint16_t low)
{
	if (!is_bitmap(b) && b->count == ARRAY_MAX && !to_bitmap(b))
		return false;
	if (is_bitmap(b)) {
		((uint64_t *)b->members)[low / 64] |= UINT64_C(1) << (low % 64);
		b->count++;
		return true;
	}
	if (b->count == b->cap) {
		uint32_t cap = b->cap * 2;
		uint16_t *grown = realloc(b->members, cap * sizeof(*grown));
		if (!grown)
			return false;
		b->members = grown;
		b->cap = cap;
	}
	uint16_t *m = b->members;
	uint32_t at = member_at_or_after(b, low);
	memmove(&m[at + 1], &m[at], (b->count - at) * sizeof(*m));
	m[at] = low;
	b->count++;
	return true;
}

/* A new, empty block for high at index at; false without memory. */
static bool insert_block(struct idset *s, size_t at, uint64_t high)
{
	if (s->nblocks == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct idset_block *grown = realloc(s->blocks, cap * sizeof(*grown));
		if (!grown)
			return false;
		s->blocks = grown;
		s->cap = cap;
	}
	uint16_t *members = malloc(4 * sizeof(*members));
	if (!members)
		return false;
	memmove(&s->blocks[at + 1], &s->blocks[at], (s->nblocks - at) * sizeof(*s->blocks));
	s->blocks[at] = (struct idset_block){ .high = high, .cap = 4, .members = members };
	s->nblocks++;
	return true;
}

int idset_add(struct idset *s, int64_t id)
{
	if (id < 1)
		return -EINVAL;
	uint64_t high = (uint64_t)id >> LOW_BITS;
	size_t at = block_at_or_after(s, high);
	bool found = at < s->nblocks && s->blocks[at].high == high;
	if (found && block_has(&s->blocks[at], (uint16_t)id))
		return 0;
	if (!found && !insert_block(s, at, high))
		return -ENOMEM;
	if (!block_add(&s->blocks[at], (uint16_t)id)) {
		if (!found) { /* the set unchanged: the empty block goes again */
			free(s->blocks[at].members);
			memmove(&s->blocks[at], &s->blocks[at + 1],
				(--s->nblocks - at) * sizeof(*s->blocks));
		}
		return -ENOMEM;
	}
	s->count++;
	return 1;
}

size_t idset_bytes(const struct idset *s)
{
	size_t bytes = s->cap * sizeof(*s->blocks);
	for (size_t i = 0; i < s->nblocks; i++)
		bytes += is_bitmap(&s->blocks[i]) ? BITMAP_WORDS * sizeof(uint64_t)
						  : s->blocks[i].cap * sizeof(uint16_t);
	return bytes;
}

void idset_clear(struct idset *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i].members);
	free(s->blocks);
	memset(s, 0, sizeof(*s));
}
