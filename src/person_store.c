/*
 * person_store.c - a person as the disk cache keeps it (person_store.h).
 */
#include "person_store.h"

#include <stdlib.h>
#include <string.h>

static char *copy_bytes(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

struct person *person_from_store_row(const struct store_person_row *r)
{
	struct person *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	atomic_init(&p->refs, 1);
	p->id = r->id;
	p->owner_id = r->owner_id;
	p->org_id = r->org_id;
	p->update_time = r->update_time;
	p->base = copy_bytes(r->base, r->base_len);
	p->base_len = r->base_len;
	p->compact = copy_bytes(r->json, r->json_len);
	p->compact_len = r->json_len;
	p->json_len = r->pretty_len;
	p->vcf = copy_bytes(r->vcf, r->vcf_len);
	p->vcf_len = r->vcf_len;
	if (!p->base || !p->compact || !p->vcf) {
		person_unref(p);
		return NULL;
	}
	person_set_digest(p);
	return p;
}

struct store_person_row person_store_row(const struct person *p)
{
	struct store_person_row r = {
		.id = p->id, .owner_id = p->owner_id, .org_id = p->org_id,
		.update_time = p->update_time, .base = p->base, .base_len = p->base_len,
		.json = p->compact, .json_len = p->compact_len, .pretty_len = p->json_len,
		.vcf = p->vcf, .vcf_len = p->vcf_len,
	};
	return r;
}
