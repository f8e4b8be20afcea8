/*
 * personmap.c - open addressing with linear probing; removal shifts the
 * following run back, so there are no tombstones and a find stops at the
 * first empty slot.  The table stays at most 3/4 full.
 */
#include "personmap.h"

#include <stdlib.h>

#include "idtable.h"
#include "person.h"

#define INITIAL_SLOTS 256

static size_t home_of(int64_t id, size_t nslots)
{
	return (size_t)idtable_mix((uint64_t)id) & (nslots - 1);
}

bool personmap_init(struct personmap *m)
{
	m->count = 0;
	m->slots = calloc(INITIAL_SLOTS, sizeof(*m->slots));
	m->nslots = m->slots ? INITIAL_SLOTS : 0;
	return m->slots != NULL;
}

struct person **personmap_find(const struct personmap *m, int64_t id)
{
	if (!m->nslots)
		return NULL;
	size_t mask = m->nslots - 1;
	for (size_t i = home_of(id, m->nslots);; i = (i + 1) & mask) {
		struct person *p = m->slots[i];
		if (!p)
			return NULL;
		if (p->id == id)
			return &m->slots[i];
	}
}

static void place(struct person **slots, size_t nslots, struct person *p)
{
	size_t i = home_of(p->id, nslots);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = p;
}

static bool grow(struct personmap *m)
{
	size_t n = m->nslots ? m->nslots * 2 : INITIAL_SLOTS;
	if (n < m->nslots)
		return false;
	struct person **slots = calloc(n, sizeof(*slots));
	if (!slots)
		return false;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i])
			place(slots, n, m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	return true;
}

bool personmap_insert(struct personmap *m, struct person *p)
{
	if ((m->count + 1) * 4 > m->nslots * 3 && !grow(m))
		return false;
	place(m->slots, m->nslots, p);
	m->count++;
	return true;
}

struct person *personmap_remove(struct personmap *m, int64_t id)
{
	struct person **at = personmap_find(m, id);
	if (!at)
		return NULL;
	struct person *gone = *at;
	size_t mask = m->nslots - 1;
	size_t hole = (size_t)(at - m->slots);
	/* Move back every later member of the run that may sit in the hole:
	 * one whose home is not cyclically within (hole, i]. */
	for (size_t i = (hole + 1) & mask; m->slots[i]; i = (i + 1) & mask) {
		size_t home = home_of(m->slots[i]->id, m->nslots);
		bool home_after_hole = hole <= i ? (hole < home && home <= i)
						 : (hole < home || home <= i);
		if (!home_after_hole) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole] = NULL;
	m->count--;
	return gone;
}

void personmap_each(const struct personmap *m, void (*fn)(struct person *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i])
			fn(m->slots[i], ctx);
}

void personmap_destroy(struct personmap *m, void (*free_person)(struct person *p))
{
	if (free_person)
		for (size_t i = 0; i < m->nslots; i++)
			if (m->slots[i])
				free_person(m->slots[i]);
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
	m->count = 0;
}
