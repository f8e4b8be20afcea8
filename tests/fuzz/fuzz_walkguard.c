/*
 * fuzz_walkguard.c - the page walker's cursor handling on arbitrary page
 * sequences.
 *
 * The input is a header (limits, ascending or not) and a sequence of pages,
 * each with a cursor (arbitrary bytes, or "last page"), item keys and the
 * seconds it took.  Every page goes to walkguard_page and to a reference
 * model written here with naive structures (every cursor kept as bytes and
 * compared whole, every key in a plain array); the verdicts must agree page
 * by page.  Whatever the pages, the walk stops: the harness also checks that
 * no sequence continues past the caps (pages, items, idle pages, cursor
 * repeats), so an endless walk is impossible by construction.
 *
 * Layout: flags (bit 0 ascending, bits 1-3 idle limit - 1), max items,
 * max pages, max cursor length, max seconds / 4 (each 0 = the default);
 * then per page: cursor length (255 = no cursor, the last page), cursor
 * bytes, key count, keys (2 bytes each), elapsed seconds (1 byte).
 */
#include "fuzz_common.h"
#include "walkguard.h"

struct model {
	struct walkguard_limits lim;
	bool ascending;
	double started;
	uint64_t items, pages;
	unsigned idle;
	bool any;
	uint64_t max_key;
	uint64_t *keys;
	size_t nkeys;
	char **cursors;
	size_t *cursor_lens;
	size_t ncursors;
};

static bool model_has_key(const struct model *m, uint64_t k)
{
	for (size_t i = 0; i < m->nkeys; i++)
		if (m->keys[i] == k)
			return true;
	return false;
}

static enum walkguard_verdict model_cursor(struct model *m, const char *c, size_t len)
{
	if (len > m->lim.max_cursor_len)
		return WALKGUARD_CURSOR_TOO_LONG;
	for (size_t i = 0; i < m->ncursors; i++)
		if (m->cursor_lens[i] == len && memcmp(m->cursors[i], c, len) == 0)
			return WALKGUARD_CURSOR_REPEATED;
	m->cursors = realloc(m->cursors, (m->ncursors + 1) * sizeof(*m->cursors));
	m->cursor_lens = realloc(m->cursor_lens, (m->ncursors + 1) * sizeof(*m->cursor_lens));
	char *copy = malloc(len ? len : 1);
	if (!m->cursors || !m->cursor_lens || !copy)
		abort();
	memcpy(copy, c, len);
	m->cursors[m->ncursors] = copy;
	m->cursor_lens[m->ncursors++] = len;
	return WALKGUARD_CONTINUE;
}

static enum walkguard_verdict model_page(struct model *m, const uint64_t *keys, size_t n,
					 const char *next, size_t next_len, double now)
{
	m->pages++;
	m->items += n;
	bool news = false;
	for (size_t i = 0; i < n; i++) {
		if (m->ascending) {
			if (!m->any || keys[i] > m->max_key) {
				m->any = true;
				m->max_key = keys[i];
				news = true;
			}
		} else if (!model_has_key(m, keys[i])) {
			m->keys = realloc(m->keys, (m->nkeys + 1) * sizeof(*m->keys));
			if (!m->keys)
				abort();
			m->keys[m->nkeys++] = keys[i];
			news = true;
		}
	}
	m->idle = news ? 0 : m->idle + 1;
	if (!next)
		return WALKGUARD_DONE;
	if (m->items >= m->lim.max_items)
		return WALKGUARD_TOO_MANY_ITEMS;
	if (m->pages >= m->lim.max_pages)
		return WALKGUARD_TOO_MANY_PAGES;
	if (m->idle >= m->lim.max_idle_pages)
		return WALKGUARD_NO_PROGRESS;
	if (now - m->started > m->lim.max_seconds)
		return WALKGUARD_TOO_LONG;
	return model_cursor(m, next, next_len);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->ncursors; i++)
		free(m->cursors[i]);
	free(m->cursors);
	free(m->cursor_lens);
	free(m->keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct walkguard_limits lim;
	walkguard_default_limits(&lim);
	bool ascending = data[0] & 1;
	lim.max_idle_pages = 1u + ((data[0] >> 1) & 7u);
	if (data[1])
		lim.max_items = data[1];
	if (data[2])
		lim.max_pages = data[2];
	if (data[3])
		lim.max_cursor_len = data[3];
	if (data[4])
		lim.max_seconds = 4.0 * data[4];
	size_t pos = 5;

	struct walkguard g;
	walkguard_init(&g, &lim, ascending, 100.0);
	struct model m = { .lim = lim, .ascending = ascending, .started = 100.0 };
	double now = 100.0;
	enum walkguard_verdict v = WALKGUARD_CONTINUE;
	uint64_t keys[256];
	size_t distinct_cursors = 0;
	while (pos < size && v == WALKGUARD_CONTINUE) {
		size_t clen = data[pos++];
		const char *cursor = NULL;
		if (clen != 255) {
			if (clen > size - pos)
				clen = size - pos;
			cursor = (const char *)data + pos;
			pos += clen;
		}
		size_t n = pos < size ? data[pos++] : 0;
		size_t k = 0;
		for (; k < n && pos + 1 < size; k++, pos += 2)
			keys[k] = (uint64_t)data[pos] << 8 | data[pos + 1];
		now += pos < size ? data[pos++] : 0;
		/* A NULL cursor with length 0 vs "" with length 0: both exist. */
		v = walkguard_page(&g, keys, k, k, cursor, cursor ? clen : 0, now);
		enum walkguard_verdict want = model_page(&m, keys, k, cursor, cursor ? clen : 0, now);
		FUZZ_CHECK(v == want, "page %llu: guard says %d (%s), the model %d (%s)",
			   (unsigned long long)m.pages, (int)v, walkguard_reason(v), (int)want,
			   walkguard_reason(want));
		if (v == WALKGUARD_CONTINUE) {
			distinct_cursors++;
			/* Bounded by construction: never past a cap. */
			FUZZ_CHECK(g.pages < lim.max_pages && g.items < lim.max_items,
				   "continued past a cap");
			FUZZ_CHECK(g.idle_pages < lim.max_idle_pages, "continued while idle");
			FUZZ_CHECK(distinct_cursors == m.ncursors, "a repeated cursor was accepted");
			FUZZ_CHECK(cursor && clen <= lim.max_cursor_len, "continued without a cursor");
		}
	}
	walkguard_free(&g);
	model_free(&m);
	return 0;
}
