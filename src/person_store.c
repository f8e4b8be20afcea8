/*
 * person_store.c - a person as the disk cache keeps it (person_store.h).
 */
#include "person_store.h"

struct person *person_from_store_row(const struct store_person_row *r)
{
	struct person_parts parts = {
		.id = r->id, .owner_id = r->owner_id, .org_id = r->org_id,
		.update_time = r->update_time, .base = r->base, .base_len = r->base_len,
		.compact = r->json, .compact_len = r->json_len, .json_len = r->pretty_len,
		.vcf = r->vcf, .vcf_len = r->vcf_len,
	};
	return person_from_parts(&parts); /* digest set */
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
