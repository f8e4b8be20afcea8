#include "person.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonfmt.h"
#include "meta.h"
#include "names.h"

static int64_t int_field(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	int64_t n = json_object_get_int64(v);
	return n > 0 ? n : 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t person_parse_time(const char *s)
{
	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || se < 0 || se > 60)
		return 0;
	const char *p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	long offset = 0;
	if (*p == '+' || *p == '-') {
		/* "+HH:MM" or "+HHMM"; read no further than the string goes */
		size_t rest = strlen(p + 1);
		int oh = rest >= 2 ? digits(p + 1, 2) : -1;
		bool colon = rest >= 5 && p[3] == ':';
		int om = colon ? digits(p + 4, 2) : rest >= 4 ? digits(p + 3, 2) : -1;
		if (oh < 0 || om < 0)
			return 0;
		offset = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
	}
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = se };
	return (int64_t)timegm(&tm) - offset;
}

#define MAX_CUSTOM_FIELDS 64

static int render_vcf(struct json_object *obj, const struct person_render *r,
		      const char *org_name, struct strbuf *out)
{
	struct vcard_options opt = {
		.version = r->version,
		.company = r->company,
		.app_url = r->app_url,
		.org_name = org_name,
	};
	struct vcard_field fields[MAX_CUSTOM_FIELDS];
	char *storage = NULL;
	if (r->meta) {
		opt.label_name = meta_label_name;
		opt.label_ctx = r->meta;
		struct json_object *custom;
		if (json_object_object_get_ex(obj, "custom_fields", &custom)) {
			opt.fields = fields;
			opt.field_count = meta_custom_fields(r->meta, custom, fields,
							     MAX_CUSTOM_FIELDS, &storage);
		}
	}
	int rc = vcard_render(obj, &opt, out);
	free(storage);
	return rc;
}

struct person *person_from_json(struct json_object *obj, const struct person_render *r,
				const char *org_name, int *err)
{
	return person_from_json_text(obj, NULL, 0, r, org_name, err);
}

struct person *person_from_json_text(struct json_object *obj, const char *raw, size_t raw_len,
				     const struct person_render *r, const char *org_name,
				     int *err)
{
	struct json_object *idv;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "id", &idv) || !json_object_is_type(idv, json_type_int) ||
	    json_object_get_int64(idv) <= 0 || json_object_get_int64(idv) > NAMES_MAX_ID) {
		*err = -EINVAL;
		return NULL;
	}
	struct person *p = calloc(1, sizeof(*p));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->id = json_object_get_int64(idv);
	p->owner_id = int_field(obj, "owner_id");
	p->org_id = int_field(obj, "org_id");
	struct json_object *v;
	if (json_object_object_get_ex(obj, "update_time", &v) && json_object_is_type(v, json_type_string))
		p->update_time = person_parse_time(json_object_get_string(v));

	struct strbuf buf = STRBUF_INIT;
	const char *name = NULL;
	size_t name_len = 0;
	if (json_object_object_get_ex(obj, "name", &v) && json_object_is_type(v, json_type_string)) {
		name = json_object_get_string(v);
		name_len = (size_t)json_object_get_string_len(v);
	}
	names_person_base(&buf, name, name_len, p->id);
	p->base = sb_detach(&buf, &p->base_len);

	size_t compact_len = raw_len;
	const char *compact = raw;
	if (!compact)
		compact = json_object_to_json_string_length(
			obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &compact_len);
	p->compact = compact ? malloc(compact_len + 1) : NULL;
	if (p->compact) {
		memcpy(p->compact, compact, compact_len); /* raw text: not NUL-terminated */
		p->compact[compact_len] = '\0';
		p->compact_len = compact_len;
		p->json_len = jsonfmt_pretty_len(p->compact, p->compact_len);
	}

	sb_reserve(&buf, compact_len / 2 + 256);
	int rc = render_vcf(obj, r, org_name, &buf);
	p->vcf = rc ? NULL : sb_detach(&buf, &p->vcf_len);
	if (p->vcf) {
		char *exact = realloc(p->vcf, p->vcf_len + 1); /* keep only what is used */
		if (exact)
			p->vcf = exact;
	}
	sb_free(&buf);
	if (!p->base || !p->compact || !p->vcf) {
		person_unref(p);
		*err = rc ? rc : -ENOMEM;
		return NULL;
	}
	*err = 0;
	return p;
}

bool person_json_is_deleted(struct json_object *obj)
{
	struct json_object *v;
	return json_object_object_get_ex(obj, "is_deleted", &v) &&
	       json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

int64_t person_json_id(struct json_object *obj)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, "id", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0 || json_object_get_int64(v) > NAMES_MAX_ID)
		return 0;
	return json_object_get_int64(v);
}

static const char *nonempty_string(struct json_object *obj, const char *key, size_t *n)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return NULL;
	*n = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

bool person_json_name(struct json_object *obj, struct strbuf *out)
{
	size_t n, first_len = 0, last_len = 0;
	const char *s = nonempty_string(obj, "name", &n);
	if (s) {
		sb_append(out, s, n);
		return true;
	}
	const char *first = nonempty_string(obj, "first_name", &first_len);
	const char *last = nonempty_string(obj, "last_name", &last_len);
	if (first)
		sb_append(out, first, first_len);
	if (first && last)
		sb_putc(out, ' ');
	if (last)
		sb_append(out, last, last_len);
	return first || last;
}

bool person_name(const struct person *p, struct strbuf *out)
{
	struct json_object *obj = json_tokener_parse(p->compact);
	bool named = obj && person_json_name(obj, out);
	json_object_put(obj);
	return named;
}

struct person *person_ref(struct person *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void person_unref(struct person *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	free(p->base);
	free(p->compact);
	free(p->vcf);
	free(p);
}

void person_json(const struct person *p, struct strbuf *out)
{
	jsonfmt_pretty(out, p->compact, p->compact_len);
}

bool person_same(const struct person *a, const struct person *b)
{
	if (a->compact_len != b->compact_len || a->vcf_len != b->vcf_len)
		return false;
	if (person_is_light(a) || person_is_light(b))
		return a->digest && a->digest == b->digest && a->json_len == b->json_len &&
		       a->base_len == b->base_len && memcmp(a->base, b->base, a->base_len) == 0;
	return memcmp(a->compact, b->compact, a->compact_len) == 0 &&
	       memcmp(a->vcf, b->vcf, a->vcf_len) == 0;
}

/* FNV-1a, 64 bits: a version's fingerprint, not a defence against anyone. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

void person_set_digest(struct person *p)
{
	uint64_t h = fnv1a(UINT64_C(14695981039346656037), p->compact, p->compact_len);
	h = fnv1a(h ^ 0xff, p->vcf, p->vcf_len);
	p->digest = h ? h : 1;
}

struct person *person_light(const struct person *p)
{
	struct person *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->id = p->id;
	l->owner_id = p->owner_id;
	l->org_id = p->org_id;
	l->update_time = p->update_time;
	l->base = malloc(p->base_len + 1);
	if (!l->base) {
		free(l);
		return NULL;
	}
	memcpy(l->base, p->base, p->base_len);
	l->base[p->base_len] = '\0';
	l->base_len = p->base_len;
	l->compact_len = p->compact_len;
	l->json_len = p->json_len;
	l->vcf_len = p->vcf_len;
	l->digest = p->digest;
	return l;
}
