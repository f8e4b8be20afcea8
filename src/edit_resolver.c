/*
 * edit_resolver.c - names back to ids for person_edit, over meta
 * (edit_resolver.h).
 */
#include "edit_resolver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What one look-up found: how many matches and the first one's id. */
struct match {
	const char *want;
	const char *key; /* custom field options: the field */
	int found;
	struct vcard_id id;
	struct person_edit_field field;
};

static int verdict(const struct match *m)
{
	return m->found == 1 ? 0 : m->found ? -EEXIST : -ENOENT;
}

static void match_option(void *ctx, const struct vcard_id *id, const char *label)
{
	struct match *m = ctx;
	if (strcmp(label, m->want) == 0 && m->found++ == 0)
		m->id = *id;
}

static int label_id(void *ctx, const char *name, struct vcard_id *id)
{
	struct edit_resolver *er = ctx;
	struct match m = { .want = name };
	meta_each_option(er->meta, NULL, match_option, &m);
	*id = m.id;
	return verdict(&m);
}

static const char *label_name(void *ctx, const struct vcard_id *id)
{
	struct edit_resolver *er = ctx;
	return meta_label_name((void *)meta_fields_current(er->meta), id);
}

static void match_field(void *ctx, const char *key, const char *name, const char *type)
{
	struct match *m = ctx;
	/* the renderer shows a field it has no name for under its key */
	if ((strcmp(name, m->want) == 0 || strcmp(key, m->want) == 0) && m->found++ == 0) {
		snprintf(m->field.key, sizeof(m->field.key), "%s", key);
		snprintf(m->field.type, sizeof(m->field.type), "%s", type);
	}
}

static int custom_field(void *ctx, const char *name, struct person_edit_field *out)
{
	struct edit_resolver *er = ctx;
	struct match m = { .want = name };
	meta_each_custom_field(er->meta, match_field, &m);
	*out = m.field;
	return verdict(&m);
}

static int option_id(void *ctx, const char *key, const char *label, int64_t *id)
{
	struct edit_resolver *er = ctx;
	struct match m = { .want = label };
	meta_each_option(er->meta, key, match_option, &m);
	if (m.found == 1 && !m.id.numeric)
		return -ENOENT; /* custom field options have integer ids */
	*id = m.id.num;
	return verdict(&m);
}

static void match_name(void *ctx, int64_t id, const char *name)
{
	struct match *m = ctx;
	if (strcmp(name, m->want) == 0 && m->found++ == 0)
		m->id.num = id;
}

static int org_id(void *ctx, const char *name, int64_t *id)
{
	struct edit_resolver *er = ctx;
	struct match m = { .want = name };
	meta_each_name(er->meta, META_ORG, match_name, &m);
	*id = m.id.num;
	return verdict(&m);
}

void edit_resolver_init(struct edit_resolver *er, struct meta *meta)
{
	er->meta = meta;
	er->r = (struct person_edit_resolver){
		.ctx = er,
		.label_id = label_id,
		.label_name = label_name,
		.custom_field = custom_field,
		.option_id = option_id,
		.org_id = org_id,
	};
}
