/*
 * idorder.c - ids in append order, delta-encoded in runs (idorder.h).
 */
#include "idorder.h"

#include <stdlib.h>
#include <string.h>

struct idorder_run {
	size_t first;  /* position of the run's first id */
	size_t offset; /* where its bytes start */
};

#define VARINT_MAX 10 /* bytes of the largest uint64 */

static bool reserve(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *grown = realloc(*p, ncap * size);
	if (!grown)
		return false;
	*p = grown;
	*cap = ncap;
	return true;
}

static size_t put_varint(unsigned char *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (unsigned char)v;
	return n;
}

static uint64_t get_varint(const unsigned char **p)
{
	uint64_t v = 0;
	for (int shift = 0;; shift += 7) {
		unsigned char b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

bool idorder_append(struct idorder *o, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 1)
			return false;
	size_t runs = n / IDORDER_RUN + 1;
	if (!reserve((void **)&o->runs, &o->runs_cap, o->nruns + runs, sizeof(*o->runs)) ||
	    !reserve((void **)&o->bytes, &o->cap, o->len + n * VARINT_MAX, 1))
		return false;
	for (size_t i = 0; i < n; i++, o->count++) {
		bool starts_run = !o->nruns || o->count - o->runs[o->nruns - 1].first == IDORDER_RUN;
		if (starts_run)
			o->runs[o->nruns++] = (struct idorder_run){ o->count, o->len };
		int64_t delta = ids[i] - (starts_run ? 0 : o->last); /* both >= 1 */
		uint64_t zigzag = delta < 0 ? ((uint64_t)-delta << 1) - 1 : (uint64_t)delta << 1;
		o->len += put_varint(o->bytes + o->len, zigzag);
		o->last = ids[i];
	}
	return true;
}

size_t idorder_get(const struct idorder *o, size_t from, size_t max, int64_t *out)
{
	if (from >= o->count || max == 0)
		return 0;
	size_t lo = 0, hi = o->nruns; /* the last run that starts at or before from */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->runs[mid].first <= from)
			lo = mid;
		else
			hi = mid;
	}
	size_t n = 0;
	for (size_t r = lo; r < o->nruns && n < max; r++) {
		size_t end = r + 1 < o->nruns ? o->runs[r + 1].first : o->count;
		const unsigned char *p = o->bytes + o->runs[r].offset;
		int64_t id = 0;
		for (size_t pos = o->runs[r].first; pos < end && n < max; pos++) {
			uint64_t zigzag = get_varint(&p);
			id += zigzag & 1 ? -(int64_t)((zigzag + 1) >> 1) : (int64_t)(zigzag >> 1);
			if (pos >= from)
				out[n++] = id;
		}
	}
	return n;
}

size_t idorder_bytes(const struct idorder *o)
{
	return o->cap + o->runs_cap * sizeof(*o->runs);
}

void idorder_clear(struct idorder *o)
{
	free(o->bytes);
	free(o->runs);
	memset(o, 0, sizeof(*o));
}
