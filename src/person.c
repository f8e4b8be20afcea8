/*
 * person.c - one person built from a scanned page element (person.h): its
 * attributes, file name and sizes, its JSON kept as sent, and its card -
 * measured, and kept or rendered again on read with the names it was
 * rendered with the first time.
 */
#include "person.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonfmt.h"
#include "meta.h"
#include "names.h"

#define MAX_CUSTOM_FIELDS 64

/* A name the card shows, pinned: the organization of ORG and org fields,
 * the users of user fields, the persons of people fields. */
struct person_pin {
	int64_t key; /* kind << 56 | id */
	struct meta_name *name;
};

static int64_t pin_key(enum meta_kind kind, int64_t id)
{
	return (int64_t)((uint64_t)kind << 56 | ((uint64_t)id & ((UINT64_C(1) << 56) - 1)));
}

/* ---- the shared settings ---- */

struct person_style {
	atomic_uint refs;
	struct person_render r; /* its strings point into the same block */
};

struct person_style *person_style_new(const struct person_render *r)
{
	size_t company = r->company ? strlen(r->company) + 1 : 0;
	size_t app_url = r->app_url ? strlen(r->app_url) + 1 : 0;
	struct person_style *s = malloc(sizeof(*s) + company + app_url);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->r = *r;
	char *at = (char *)(s + 1);
	if (company)
		s->r.company = memcpy(at, r->company, company);
	if (app_url)
		s->r.app_url = memcpy(at + company, r->app_url, app_url);
	return s;
}

struct person_style *person_style_ref(struct person_style *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void person_style_unref(struct person_style *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		free(s);
}

const struct person_render *person_style_render(const struct person_style *s)
{
	return &s->r;
}

/* ---- the card ---- */

/*
 * The names a card shows.  While a person is built, every name the
 * renderer asks for is looked up in meta once and pinned - a name meta
 * does not know is pinned as none, so two lookups in one rendering always
 * agree - and the pins with a name are kept in the person.  When its card is
 * rendered again (meta NULL) the pins alone answer: what was not pinned has
 * no name, as it had none the first time.
 */
struct pins {
	struct person_pin *pin;
	size_t count, cap;
	struct meta *meta; /* while building: where names come from */
	bool failed;
};

static const char *pinned_name(void *ctx, enum meta_kind kind, int64_t id)
{
	struct pins *ps = ctx;
	int64_t key = pin_key(kind, id);
	for (size_t i = 0; i < ps->count; i++)
		if (ps->pin[i].key == key)
			return ps->pin[i].name ? meta_name_text(ps->pin[i].name) : NULL;
	if (!ps->meta)
		return NULL;
	if (ps->count == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct person_pin *grown = realloc(ps->pin, cap * sizeof(*grown));
		if (!grown) {
			ps->failed = true;
			return NULL;
		}
		ps->pin = grown;
		ps->cap = cap;
	}
	struct meta_ref ref = { kind, id };
	struct person_pin *pin = &ps->pin[ps->count++];
	pin->key = key;
	if (!meta_names_pin(ps->meta, &ref, 1, &pin->name))
		ps->failed = true; /* out of memory: no card short of a name */
	return pin->name ? meta_name_text(pin->name) : NULL;
}

/* Keep only the pins with a name (a missing pin means none). */
static void pins_settle(struct pins *ps)
{
	size_t kept = 0;
	for (size_t i = 0; i < ps->count; i++)
		if (ps->pin[i].name)
			ps->pin[kept++] = ps->pin[i];
	ps->count = kept;
}

static void pins_release(struct pins *ps)
{
	for (size_t i = 0; i < ps->count; i++)
		meta_name_unref(ps->pin[i].name);
	free(ps->pin);
}

/* What a rendering needs besides the person. */
struct card_inputs {
	const struct person_render *r;
	const struct meta_fields *fields;
	struct pins *pins;
	int64_t org_id;
};

/* Render the card of object obj (custom_fields: its member of that name)
 * into out, or only count its bytes into *measure. */
static int render_card(const struct card_inputs *in, const struct jsonscan_doc *d, uint32_t obj,
		       uint32_t custom_fields, struct person_scratch *s, size_t *measure,
		       struct strbuf *out)
{
	struct arena *scratch = &s->arena;
	struct strbuf *custom = &s->custom;
	struct vcard_options opt = {
		.version = in->r->version,
		.company = in->r->company,
		.app_url = in->r->app_url,
		.org_name = in->org_id ? pinned_name(in->pins, META_ORG, in->org_id) : NULL,
		.scratch = scratch,
		.buffers = &s->buffers,
		.measure = measure,
	};
	struct vcard_field fields[MAX_CUSTOM_FIELDS];
	if (in->fields) {
		opt.label_name = meta_label_name;
		opt.label_ctx = (void *)in->fields;
		if (custom_fields) {
			opt.fields = fields;
			opt.field_count = meta_custom_fields(in->fields, d, custom_fields, pinned_name,
							     in->pins, scratch, fields,
							     MAX_CUSTOM_FIELDS, custom);
			if (sb_failed(custom) || in->pins->failed)
				return -ENOMEM;
		}
	}
	int rc = vcard_render(d, obj, &opt, out);
	return rc == 0 && in->pins->failed ? -ENOMEM : rc;
}

/* ---- building ---- */

void person_scratch_init(struct person_scratch *s)
{
	arena_init(&s->arena, 16384);
	sb_init(&s->card);
	sb_init(&s->custom);
	sb_init(&s->base);
	memset(&s->buffers, 0, sizeof(s->buffers));
}

void person_scratch_free(struct person_scratch *s)
{
	arena_free(&s->arena);
	sb_free(&s->card);
	sb_free(&s->custom);
	sb_free(&s->base);
	vcard_buffers_free(&s->buffers);
}

static const struct jsonscan_key member_keys[] = {
	JSONSCAN_KEY("id"), JSONSCAN_KEY("owner_id"), JSONSCAN_KEY("org_id"),
	JSONSCAN_KEY("update_time"), JSONSCAN_KEY("name"), JSONSCAN_KEY("custom_fields"),
	JSONSCAN_KEY("is_deleted"),
};
enum { K_ID, K_OWNER, K_ORG, K_UPDATE, K_NAME, K_CUSTOM, K_DELETED, K_COUNT };

static int64_t positive(const struct jsonscan_doc *d, uint32_t t)
{
	int64_t v;
	return jsonscan_int64(d, t, &v) == 0 && v > 0 ? v : 0;
}

/* One block: the person, its pins, base, compact and the kept card. */
static struct person *person_alloc(size_t pins, size_t base_len, size_t compact_len,
				   size_t vcf_len, bool keep)
{
	size_t size = sizeof(struct person) + pins * sizeof(struct person_pin) + base_len + 1 +
		      compact_len + 1 + (keep ? vcf_len + 1 : 0);
	struct person *p = malloc(size);
	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	char *at = (char *)(p + 1);
	p->pins = (struct person_pin *)(void *)at;
	at += pins * sizeof(struct person_pin);
	p->base = at;
	at += base_len + 1;
	p->compact = at;
	at += compact_len + 1;
	p->vcf = keep ? at : NULL;
	return p;
}

static struct person *build(const struct jsonscan_doc *d, uint32_t obj,
			    struct person_style *style, struct person_scratch *s, int *err)
{
	const struct person_render *r = &style->r;
	uint32_t m[K_COUNT];
	jsonscan_get_many(d, obj, member_keys, K_COUNT, m);
	int64_t id;
	if (jsonscan_type(d, obj) != JSONSCAN_OBJECT || jsonscan_int64(d, m[K_ID], &id) != 0 ||
	    id <= 0 || id > NAMES_MAX_ID) {
		*err = -EINVAL;
		return NULL;
	}
	if (jsonscan_is_true(d, m[K_DELETED])) {
		*err = -ENOENT; /* soft-deleted: no file */
		return NULL;
	}
	int64_t org_id = positive(d, m[K_ORG]);
	const struct meta_fields *fields = r->meta ? meta_fields_current(r->meta) : NULL;
	struct pins pins = { .meta = r->meta };
	struct card_inputs in = { .r = r, .fields = fields, .pins = &pins, .org_id = org_id };

	sb_reset(&s->card);
	sb_reset(&s->base);
	/* The card is measured; its text is made only when it is kept. */
	bool keep = r->keep_vcf;
	size_t vcf_len = 0;
	*err = render_card(&in, d, obj, m[K_CUSTOM], s, keep ? NULL : &vcf_len, &s->card);
	if (*err == 0 && !keep && vcf_len >= PERSON_KEEP_VCF_MIN) {
		keep = true; /* big: kept (the same pins, so the same card) */
		*err = render_card(&in, d, obj, m[K_CUSTOM], s, NULL, &s->card);
	}
	if (keep)
		vcf_len = s->card.len;
	pins_settle(&pins);
	size_t name_len = 0;
	const char *name = jsonscan_str(d, m[K_NAME], &s->arena, &name_len);
	if (*err == 0 && !name && jsonscan_type(d, m[K_NAME]) == JSONSCAN_STRING)
		*err = -ENOMEM;
	if (*err == 0)
		names_person_base(&s->base, name, name_len, id);
	if (*err == 0 && (sb_failed(&s->base) || sb_failed(&s->card)))
		*err = -ENOMEM;
	size_t compact_len;
	const char *compact = jsonscan_raw(d, obj, &compact_len);
	struct person *p = *err ? NULL : person_alloc(pins.count, s->base.len, compact_len,
						      vcf_len, keep);
	if (!p) {
		if (*err == 0)
			*err = -ENOMEM;
		pins_release(&pins);
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->id = id;
	p->owner_id = positive(d, m[K_OWNER]);
	p->org_id = org_id;
	size_t n;
	const char *t = jsonscan_str(d, m[K_UPDATE], NULL, &n);
	p->update_time = t ? person_parse_time_n(t, n) : 0;
	if (!t && jsonscan_type(d, m[K_UPDATE]) == JSONSCAN_STRING) { /* escaped: rare */
		t = jsonscan_str(d, m[K_UPDATE], &s->arena, &n);
		p->update_time = t ? person_parse_time_n(t, n) : 0;
	}
	memcpy(p->base, s->base.data, s->base.len + 1);
	p->base_len = s->base.len;
	memcpy(p->compact, compact, compact_len); /* raw text: not NUL-terminated */
	p->compact[compact_len] = '\0';
	p->compact_len = compact_len;
	p->json_len = person_scan_json_len(d, obj);
	p->vcf_len = vcf_len;
	if (keep)
		memcpy(p->vcf, s->card.data, vcf_len + 1);
	p->style = person_style_ref(style);
	p->fields = fields;
	p->pin_count = (uint32_t)pins.count;
	if (pins.count)
		memcpy(p->pins, pins.pin, pins.count * sizeof(*pins.pin));
	free(pins.pin); /* the names' references moved into p */
	return p;
}

struct person *person_build(const struct jsonscan_doc *d, uint32_t obj,
			    struct person_style *style, struct person_scratch *scratch, int *err)
{
	struct person_scratch own;
	if (!scratch) {
		person_scratch_init(&own);
		scratch = &own;
	}
	struct person *p = build(d, obj, style, scratch, err);
	if (scratch == &own)
		person_scratch_free(&own);
	else
		arena_reset(&scratch->arena);
	return p;
}

/* Scan one JSON object's text into d (the tokens in arena). */
static int scan_text(struct jsonscan_doc *d, const char *json, size_t len, struct arena *arena)
{
	switch (jsonscan_parse(d, json, len, arena, NULL)) {
	case JSONSCAN_OK:
		return 0;
	case JSONSCAN_E_NOMEM:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

struct person *person_from_text(const char *json, size_t len, struct person_style *style,
				int *err)
{
	struct person_scratch s;
	person_scratch_init(&s);
	struct jsonscan_doc d;
	struct person *p = NULL;
	if ((*err = scan_text(&d, json, len, &s.arena)) == 0)
		p = build(&d, jsonscan_root(&d), style, &s, err);
	person_scratch_free(&s);
	return p;
}

struct person *person_rebuild(const struct person *p, int *err)
{
	if (person_is_light(p)) {
		*err = -EINVAL; /* no JSON to build from: a bug in the caller */
		return NULL;
	}
	return person_from_text(p->compact, p->compact_len, p->style, err);
}

/* ---- reading ---- */

const char *person_compact(const struct person *p, size_t *len)
{
	*len = p->compact_len;
	return p->compact;
}

void person_json(const struct person *p, struct strbuf *out)
{
	jsonfmt_pretty(out, p->compact, p->compact_len);
}

int person_vcf_slice(const struct person *p, size_t off, size_t len, struct strbuf *out)
{
	if (off >= p->vcf_len)
		return 0;
	if (len > p->vcf_len - off)
		len = p->vcf_len - off;
	if (person_is_light(p))
		return -EIO; /* its bytes are the bytecache's (cache_person_bytes) */
	if (p->vcf) {
		sb_append(out, p->vcf + off, len);
		return sb_failed(out) ? -ENOMEM : 0;
	}
	if (off == 0 && len == p->vcf_len)
		return person_vcf(p, out);
	struct strbuf card = STRBUF_INIT;
	int rc = person_vcf(p, &card);
	if (rc == 0)
		sb_append(out, card.data + off, len);
	sb_free(&card);
	return rc == 0 && sb_failed(out) ? -ENOMEM : rc;
}

int person_vcf(const struct person *p, struct strbuf *out)
{
	if (person_is_light(p))
		return -EIO; /* its bytes are the bytecache's (cache_person_bytes) */
	if (p->vcf) {
		sb_append(out, p->vcf, p->vcf_len);
		return sb_failed(out) ? -ENOMEM : 0;
	}
	if (!p->style)
		return -EIO;
	struct person_scratch s;
	person_scratch_init(&s);
	struct jsonscan_doc d;
	struct pins pins = { .pin = p->pins, .count = p->pin_count };
	struct card_inputs in = { .r = &p->style->r, .fields = p->fields, .pins = &pins,
				  .org_id = p->org_id };
	size_t before = out->len;
	int rc = scan_text(&d, p->compact, p->compact_len, &s.arena);
	uint32_t root = jsonscan_root(&d);
	if (rc == 0)
		rc = render_card(&in, &d, root, jsonscan_get(&d, root, "custom_fields"), &s, NULL,
				 out);
	person_scratch_free(&s);
	if (rc == 0 && out->len - before != p->vcf_len)
		rc = -EIO;
	return rc == -EINVAL ? -EIO : rc;
}

bool person_name(const struct person *p, struct strbuf *out)
{
	if (person_is_light(p))
		return false;
	struct arena arena;
	arena_init(&arena, p->compact_len + 1024);
	struct jsonscan_doc d;
	bool named = scan_text(&d, p->compact, p->compact_len, &arena) == 0 &&
		     person_scan_name(&d, jsonscan_root(&d), out);
	arena_free(&arena);
	return named;
}

static bool same_pins(const struct person *a, const struct person *b)
{
	if (a->pin_count != b->pin_count)
		return false;
	for (uint32_t i = 0; i < a->pin_count; i++) {
		const struct meta_name *x = a->pins[i].name, *y = b->pins[i].name;
		if (a->pins[i].key != b->pins[i].key ||
		    (x != y && (meta_name_len(x) != meta_name_len(y) ||
				memcmp(meta_name_text(x), meta_name_text(y), meta_name_len(x)) != 0)))
			return false;
	}
	return true;
}

bool person_same(const struct person *a, const struct person *b)
{
	if (person_is_light(a) || person_is_light(b))
		return a->digest && a->digest == b->digest && a->compact_len == b->compact_len &&
		       a->vcf_len == b->vcf_len && a->json_len == b->json_len &&
		       a->base_len == b->base_len && memcmp(a->base, b->base, a->base_len) == 0;
	if (a->compact_len != b->compact_len || a->vcf_len != b->vcf_len ||
	    memcmp(a->compact, b->compact, a->compact_len) != 0)
		return false;
	if (a->vcf && b->vcf)
		return memcmp(a->vcf, b->vcf, a->vcf_len) == 0;
	/* the same JSON rendered with the same settings and names */
	return a->style == b->style && a->fields == b->fields && same_pins(a, b);
}

size_t person_mem_bytes(const struct person *p)
{
	if (person_is_light(p))
		return PERSON_LIGHT_SIZE + p->base_len + 1;
	return sizeof(*p) + p->pin_count * sizeof(struct person_pin) + p->base_len + 1 +
	       p->compact_len + 1 + (p->vcf ? p->vcf_len + 1 : 0);
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
	if (person_is_light(p)) {
		free(p);
		return;
	}
	for (uint32_t i = 0; i < p->pin_count; i++)
		meta_name_unref(p->pins[i].name);
	person_style_unref(p->style);
	free(p);
}

/* FNV-1a, 64 bits: a version's fingerprint, not a defence against anyone. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

void person_set_digest(struct person *p)
{
	uint64_t h = fnv1a(UINT64_C(14695981039346656037), p->compact, p->compact_len);
	h = fnv1a(h ^ 0xff, &p->vcf_len, sizeof(p->vcf_len));
	if (p->vcf) {
		h = fnv1a(h, p->vcf, p->vcf_len);
	} else {
		/* the card is the JSON rendered with these names */
		for (uint32_t i = 0; i < p->pin_count; i++) {
			const struct meta_name *n = p->pins[i].name;
			h = fnv1a(h ^ 0xfe, &p->pins[i].key, sizeof(p->pins[i].key));
			h = fnv1a(h, meta_name_text(n), meta_name_len(n));
		}
	}
	p->digest = h ? h : 1;
}

struct person *person_light(const struct person *p)
{
	struct person *l = malloc(PERSON_LIGHT_SIZE + p->base_len + 1);
	if (!l)
		return NULL;
	memset(l, 0, PERSON_LIGHT_SIZE);
	atomic_init(&l->refs, 1);
	l->id = p->id;
	l->owner_id = p->owner_id;
	l->org_id = p->org_id;
	l->update_time = p->update_time;
	l->base = (char *)l + PERSON_LIGHT_SIZE;
	memcpy(l->base, p->base, p->base_len);
	l->base[p->base_len] = '\0';
	l->base_len = p->base_len;
	l->compact_len = p->compact_len;
	l->json_len = p->json_len;
	l->vcf_len = p->vcf_len;
	l->digest = p->digest;
	return l;
}

struct person *person_from_parts(const struct person_parts *in)
{
	struct person *p = person_alloc(0, in->base_len, in->compact_len, in->vcf_len, true);
	if (!p)
		return NULL;
	atomic_init(&p->refs, 1);
	p->id = in->id;
	p->owner_id = in->owner_id;
	p->org_id = in->org_id;
	p->update_time = in->update_time;
	memcpy(p->base, in->base, in->base_len);
	p->base[in->base_len] = '\0';
	p->base_len = in->base_len;
	memcpy(p->compact, in->compact, in->compact_len);
	p->compact[in->compact_len] = '\0';
	p->compact_len = in->compact_len;
	p->json_len = in->json_len;
	memcpy(p->vcf, in->vcf, in->vcf_len);
	p->vcf[in->vcf_len] = '\0';
	p->vcf_len = in->vcf_len;
	person_set_digest(p);
	return p;
}
