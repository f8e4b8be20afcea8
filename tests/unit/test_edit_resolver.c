/*
 * test_edit_resolver.c - names back to ids over meta (edit_resolver.h).
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "edit_resolver.h"
#include "meta.h"

#define NICK "1111111111111111111111111111111111111111"
#define SOURCE "2222222222222222222222222222222222222222"

static const char fields[] =
	"[{\"field_code\":\"label_ids\",\"field_type\":\"set\",\"is_custom_field\":false,"
	"  \"options\":[{\"id\":1,\"label\":\"Customer\"},{\"id\":\"vip\",\"label\":\"VIP\"},"
	"              {\"id\":\"3\",\"label\":\"Twin\"},{\"id\":4,\"label\":\"Twin\"}]},"
	" {\"field_code\":\"" NICK "\",\"field_name\":\"Nickname\",\"field_type\":\"varchar_auto\","
	"  \"is_custom_field\":true},"
	" {\"field_code\":\"" SOURCE "\",\"field_name\":\"Lead source\",\"field_type\":\"enum\","
	"  \"is_custom_field\":true,\"options\":[{\"id\":11,\"label\":\"Inbound\"},"
	"  {\"id\":12,\"label\":\"Outbound\"},{\"id\":13,\"label\":\"Outbound\"}]}]";

int main(void)
{
	struct meta *m = meta_new();
	CHECK(m != NULL);
	if (!m)
		return check_finish("edit_resolver");
	CHECK(meta_person_fields_store_text(m, fields, strlen(fields)) == 0);
	meta_name_store(m, META_ORG, 5, "Acme, Inc.", 1.0);
	meta_name_store(m, META_ORG, 6, "Globex", 1.0);
	meta_name_store(m, META_ORG, 7, "Globex", 1.0);
	meta_name_store(m, META_USER, 9, "Acme, Inc.", 1.0);

	struct edit_resolver er;
	edit_resolver_init(&er, m);
	const struct person_edit_resolver *r = &er.r;

	struct vcard_id id;
	CHECK(r->label_id(r->ctx, "Customer", &id) == 0 && id.numeric && id.num == 1);
	CHECK(r->label_id(r->ctx, "VIP", &id) == 0 && !id.numeric && id.len == 3 &&
	      memcmp(id.text, "vip", 3) == 0);
	CHECK(r->label_id(r->ctx, "Twin", &id) == -EEXIST);
	CHECK(r->label_id(r->ctx, "Nope", &id) == -ENOENT);
	struct vcard_id three = { .numeric = true, .num = 3 };
	CHECK(r->label_name(r->ctx, &three) && strcmp(r->label_name(r->ctx, &three), "Twin") == 0);

	struct person_edit_field f;
	CHECK(r->custom_field(r->ctx, "Nickname", &f) == 0 && strcmp(f.key, NICK) == 0 &&
	      strcmp(f.type, "varchar_auto") == 0);
	CHECK(r->custom_field(r->ctx, SOURCE, &f) == 0 && strcmp(f.type, "enum") == 0);
	CHECK(r->custom_field(r->ctx, "Shoe size", &f) == -ENOENT);

	int64_t n = 0;
	CHECK(r->option_id(r->ctx, SOURCE, "Inbound", &n) == 0 && n == 11);
	CHECK(r->option_id(r->ctx, SOURCE, "Outbound", &n) == -EEXIST);
	CHECK(r->option_id(r->ctx, NICK, "Inbound", &n) == -ENOENT);

	CHECK(r->org_id(r->ctx, "Acme, Inc.", &n) == 0 && n == 5); /* not the user */
	CHECK(r->org_id(r->ctx, "Globex", &n) == -EEXIST);
	CHECK(r->org_id(r->ctx, "Initech", &n) == -ENOENT);
	meta_free(m);
	return check_finish("edit_resolver");
}
