/*
 * persons_bench - the daemon's CPU per person for saved pages of GET
 * /persons, without HTTP or FUSE: what a cold walk does with each page, and
 * what a first READ of each file does.
 *
 *   walk   scan the page (jsonscan_page_parse, as api_get_page), read the
 *          references of every person (meta_each_reference, as
 *          names_resolve_page), build every person (person_build: pins,
 *          card measured, pretty size), keep them until the repetition ends
 *   read   for every person built once: its .vcf (person_vcf, rendered
 *          again) and its .json (person_json), as the first READs do
 *
 * The company's /personFields, /organizations and /users answers are loaded
 * into meta first, so every custom field renders with its names.  Each mode
 * runs `reps` times; the best repetition counts (CPU time,
 * CLOCK_PROCESS_CPUTIME_ID: the machine is shared).  Prints one line per
 * mode: "<mode> <persons> <us per person>".
 *
 *   persons_bench [-p REPS] [-m walk|read] [-3|-4] DIR
 *
 * DIR holds persons-NNN.json, fields-NNN.json, orgs-NNN.json, users.json
 * (bench/run saves them from tests/fake_pipedrive.py).  -m runs one mode only
 * (for valgrind --tool=callgrind).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "bench_common.h"
#include "jsonscan.h"
#include "meta.h"
#include "person.h"
#include "strbuf.h"

struct page {
	char *body;
	size_t len;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir whose names start with prefix, sorted, read. */
static size_t load(const char *dir, const char *prefix, struct page **out)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char *names[4096];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < 4096;)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	*out = calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(*out)[i].body = slurp(path, &(*out)[i].len);
		free(names[i]);
	}
	return n;
}

static bool scan(struct jsonscan_page *sp, const struct page *p, struct arena *a)
{
	return jsonscan_page_parse(sp, p->body, p->len, a, NULL) == JSONSCAN_OK;
}

/* /personFields, /organizations and /users into meta. */
static void load_meta(struct meta *m, const char *dir)
{
	struct page *pages;
	struct arena a;
	arena_init(&a, 0);
	struct jsonscan_page sp;
	struct meta_fields *f = meta_fields_new();
	size_t n = load(dir, "fields-", &pages);
	for (size_t i = 0; i < n; i++)
		if (scan(&sp, &pages[i], &a))
			meta_fields_add(f, &sp.doc, sp.data);
	meta_person_fields_install(m, f);
	n = load(dir, "orgs-", &pages);
	for (size_t i = 0; i < n; i++)
		if (scan(&sp, &pages[i], &a))
			for (size_t k = 0; k < sp.count; k++)
				meta_org_store(m, &sp.doc, sp.elements[k].token, 1.0);
	n = load(dir, "users", &pages);
	for (size_t i = 0; i < n; i++)
		if (scan(&sp, &pages[i], &a))
			meta_users_store(m, &sp.doc, sp.data, 1.0);
	arena_free(&a);
}

static void note_reference(void *ctx, enum meta_kind kind, int64_t id)
{
	(void)kind;
	*(int64_t *)ctx ^= id;
}

/* One cold walk over every page; the persons built are kept in *kept. */
static size_t walk(const struct page *pages, size_t n, struct person_style *r,
		   struct meta *meta, struct person ***kept)
{
	size_t count = 0, cap = 1024;
	struct person **all = malloc(cap * sizeof(*all));
	struct arena a;
	arena_init(&a, 0);
	struct person_scratch scratch;
	person_scratch_init(&scratch);
	int64_t refs = 0;
	for (size_t i = 0; i < n; i++) {
		struct jsonscan_page sp;
		arena_reset(&a);
		if (!scan(&sp, &pages[i], &a))
			continue;
		for (size_t k = 0; k < sp.count; k++) /* names_resolve_page */
			meta_each_reference(meta_fields_current(meta), &sp.doc,
					    jsonscan_get(&sp.doc, sp.elements[k].token, "custom_fields"),
					    note_reference, &refs, &scratch.arena);
		for (size_t k = 0; k < sp.count; k++) {
			int err;
			struct person *p = person_build(&sp.doc, sp.elements[k].token, r, &scratch, &err);
			if (!p)
				continue;
			if (count == cap)
				all = realloc(all, (cap *= 2) * sizeof(*all));
			all[count++] = p;
		}
	}
	person_scratch_free(&scratch);
	arena_free(&a);
	*kept = all;
	return count;
}

static void drop(struct person **all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		person_unref(all[i]);
	free(all);
}

int main(int argc, char **argv)
{
	int reps = 5;
	const char *only = NULL;
	enum vcard_version version = VCARD_V30;
	int a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "-p") == 0 && a + 1 < argc)
			reps = atoi(argv[++a]);
		else if (strcmp(argv[a], "-m") == 0 && a + 1 < argc)
			only = argv[++a];
		else if (strcmp(argv[a], "-4") == 0)
			version = VCARD_V40;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: persons_bench [-p REPS] [-m walk|read] [-3|-4] DIR\n");
		return 2;
	}
	struct meta *meta = meta_new();
	load_meta(meta, argv[a]);
	struct page *pages;
	size_t n = load(argv[a], "persons-", &pages);
	const struct person_render settings = { .version = version, .company = "acme", .meta = meta };
	struct person_style *r = person_style_new(&settings);

	struct person **all;
	size_t persons = 0;
	double best = 1e9;
	if (!only || strcmp(only, "walk") == 0) {
		for (int rep = 0; rep < reps; rep++) {
			double t0 = cpu_now();
			persons = walk(pages, n, r, meta, &all);
			double t = cpu_now() - t0;
			best = t < best ? t : best;
			drop(all, persons);
		}
		printf("walk %zu %.2f\n", persons, best / (double)(persons ? persons : 1) * 1e6);
	}
	if (!only || strcmp(only, "read") == 0) {
		persons = walk(pages, n, r, meta, &all);
		best = 1e9;
		struct strbuf out = STRBUF_INIT;
		for (int rep = 0; rep < reps; rep++) {
			double t0 = cpu_now();
			for (size_t i = 0; i < persons; i++) {
				sb_reset(&out);
				person_vcf(all[i], &out);
				sb_reset(&out);
				person_json(all[i], &out);
			}
			double t = cpu_now() - t0;
			best = t < best ? t : best;
		}
		sb_free(&out);
		printf("read %zu %.2f\n", persons, best / (double)(persons ? persons : 1) * 1e6);
		drop(all, persons);
	}
	person_style_unref(r);
	meta_free(meta);
	for (size_t i = 0; i < n; i++)
		free(pages[i].body);
	free(pages);
	return 0;
}
