/*
 * meta_fields.c - a company's person fields (meta.h): label names and the
 * custom fields' definitions, built from scanned /personFields pages, then
 * read without a lock (immutable once installed); the references of a
 * person's custom fields and their text for the vCard.
 */
#include "meta_internal.h"

#include <stdlib.h>
#include <string.h>

#include "idtable.h"

#define MAX_FIELDS_PER_CARD 64

/* ---- option maps: option (or label) ids -> labels; integer ids and
 * numeric strings share the numeric table, other string ids are kept in a
 * short list ---- */

struct text_option {
	char *id;
	size_t id_len;
	char *label;
};

struct optmap {
	struct idtable numeric; /* id -> char *label */
	struct text_option *texts;
	size_t text_count, text_cap;
};

struct custom_field {
	size_t order; /* position in /personFields: the first of a key counts */
	char *key;
	size_t key_len;
	char *name;
	char *type_name; /* field_type as sent, e.g. "varchar_auto" */
	enum fieldtext_type type;
	struct optmap options;
};

struct meta_fields {
	struct meta_fields *retired; /* installed earlier (meta keeps them) */
	struct optmap labels;
	struct custom_field *fields; /* sorted by key once installed */
	size_t count, cap, added;
	bool sorted;
};

static bool optmap_init(struct optmap *o)
{
	memset(o, 0, sizeof(*o));
	return idtable_init(&o->numeric);
}

static void optmap_destroy(struct optmap *o)
{
	idtable_destroy(&o->numeric, free);
	for (size_t i = 0; i < o->text_count; i++) {
		free(o->texts[i].id);
		free(o->texts[i].label);
	}
	free(o->texts);
	memset(o, 0, sizeof(*o));
}

static const char *optmap_find(const struct optmap *o, const struct vcard_id *id)
{
	if (id->numeric) {
		struct idtable_entry *e = idtable_find(&o->numeric, (uint64_t)id->num);
		return e ? e->value : NULL;
	}
	for (size_t i = 0; i < o->text_count; i++)
		if (o->texts[i].id_len == id->len && memcmp(o->texts[i].id, id->text, id->len) == 0)
			return o->texts[i].label;
	return NULL;
}

/* Add an option; the first label of an id wins.  False when out of memory. */
static bool optmap_add(struct optmap *o, const struct vcard_id *id, const char *label,
		       size_t label_len)
{
	if (optmap_find(o, id))
		return true;
	char *copy = strndup(label, label_len);
	if (!copy)
		return false;
	if (id->numeric) {
		if (idtable_insert(&o->numeric, (uint64_t)id->num, copy))
			return true;
		free(copy);
		return false;
	}
	if (o->text_count == o->text_cap) {
		size_t cap = o->text_cap ? o->text_cap * 2 : 8;
		struct text_option *texts = realloc(o->texts, cap * sizeof(*texts));
		if (!texts) {
			free(copy);
			return false;
		}
		o->texts = texts;
		o->text_cap = cap;
	}
	struct text_option *t = &o->texts[o->text_count];
	t->id = malloc(id->len ? id->len : 1);
	if (!t->id) {
		free(copy);
		return false;
	}
	memcpy(t->id, id->text, id->len);
	t->id_len = id->len;
	t->label = copy;
	o->text_count++;
	return true;
}

/* ---- building ---- */

struct meta_fields *meta_fields_new(void)
{
	struct meta_fields *f = calloc(1, sizeof(*f));
	if (f && !optmap_init(&f->labels)) {
		free(f);
		return NULL;
	}
	return f;
}

void meta_fields_free(struct meta_fields *f)
{
	if (!f)
		return;
	meta_fields_free(f->retired);
	optmap_destroy(&f->labels);
	for (size_t i = 0; i < f->count; i++) {
		free(f->fields[i].key);
		free(f->fields[i].name);
		free(f->fields[i].type_name);
		optmap_destroy(&f->fields[i].options);
	}
	free(f->fields);
	free(f);
}

/* A string member of obj as a NUL-terminated copy in scratch, or NULL. */
static char *string_member(const struct jsonscan_doc *d, uint32_t obj, const char *key,
			   struct arena *scratch, size_t *len)
{
	return jsonscan_strdup(d, jsonscan_get(d, obj, key), scratch, len);
}

/* Fill an option map from a field's "options" array (ids integer or
 * string).  False when out of memory. */
static bool load_options(struct optmap *o, const struct jsonscan_doc *d, uint32_t field,
			 struct arena *scratch)
{
	JSONSCAN_FOREACH(d, jsonscan_get(d, field, "options"), opt) {
		size_t n;
		struct vcard_id id;
		const char *label = string_member(d, opt, "label", scratch, &n);
		if (label && vcard_id_of(d, jsonscan_get(d, opt, "id"), scratch, &id) &&
		    !optmap_add(o, &id, label, n))
			return false;
	}
	return true;
}

static bool add_custom_field(struct meta_fields *f, const struct jsonscan_doc *d, uint32_t item,
			     const char *code, size_t code_len, struct arena *scratch)
{
	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		struct custom_field *grown = realloc(f->fields, cap * sizeof(*grown));
		if (!grown)
			return false;
		f->fields = grown;
		f->cap = cap;
	}
	size_t name_len, type_len;
	const char *name = string_member(d, item, "field_name", scratch, &name_len);
	const char *type = string_member(d, item, "field_type", scratch, &type_len);
	struct custom_field *cf = &f->fields[f->count];
	memset(cf, 0, sizeof(*cf));
	cf->order = f->added++;
	cf->key = strndup(code, code_len);
	cf->key_len = cf->key ? strlen(cf->key) : 0;
	cf->name = name ? strndup(name, name_len) : strndup(code, code_len);
	cf->type = fieldtext_type_of(type);
	cf->type_name = type ? strndup(type, type_len) : strdup("");
	if (!cf->key || !cf->name || !cf->type_name || !optmap_init(&cf->options)) {
		free(cf->key);
		free(cf->name);
		free(cf->type_name);
		return false;
	}
	f->count++;
	return load_options(&cf->options, d, item, scratch);
}

bool meta_fields_add(struct meta_fields *f, const struct jsonscan_doc *d, uint32_t items)
{
	struct arena scratch;
	arena_init(&scratch, 4096);
	bool ok = true;
	f->sorted = false;
	JSONSCAN_FOREACH(d, items, item) {
		size_t code_len;
		const char *code = string_member(d, item, "field_code", &scratch, &code_len);
		if (!code)
			continue;
		if (strcmp(code, "label_ids") == 0 || strcmp(code, "label") == 0)
			ok = load_options(&f->labels, d, item, &scratch);
		else if (jsonscan_is_true(d, jsonscan_get(d, item, "is_custom_field")))
			ok = add_custom_field(f, d, item, code, code_len, &scratch);
		arena_reset(&scratch);
		if (!ok)
			break;
	}
	arena_free(&scratch);
	return ok;
}

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);
	return r ? r : (alen > blen) - (alen < blen);
}

static int cmp_field(const void *a, const void *b)
{
	const struct custom_field *x = a, *y = b;
	int r = cmp_key(x->key, x->key_len, y->key, y->key_len);
	return r ? r : (x->order > y->order) - (x->order < y->order);
}

void meta_fields_seal(struct meta_fields *f, struct meta_fields *older)
{
	f->retired = older;
	if (f->count > 1)
		qsort(f->fields, f->count, sizeof(*f->fields), cmp_field);
	/* the same key twice: the first one counts (as before, a linear search) */
	size_t kept = 0;
	for (size_t i = 0; i < f->count; i++) {
		const struct custom_field *prev = kept ? &f->fields[kept - 1] : NULL;
		if (prev && cmp_key(prev->key, prev->key_len, f->fields[i].key,
				    f->fields[i].key_len) == 0) {
			free(f->fields[i].key);
			free(f->fields[i].name);
			free(f->fields[i].type_name);
			optmap_destroy(&f->fields[i].options);
			continue;
		}
		f->fields[kept++] = f->fields[i];
	}
	f->count = kept;
	f->sorted = true;
}

/* ---- reading ---- */

static const struct custom_field *find_field(const struct meta_fields *f, const char *key,
					     size_t len)
{
	size_t lo = 0, hi = f->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = cmp_key(f->fields[mid].key, f->fields[mid].key_len, key, len);
		if (r == 0)
			return &f->fields[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool meta_fields_knows(const struct meta_fields *f, const char *key)
{
	return find_field(f, key, strlen(key)) != NULL;
}

bool meta_fields_has_type(const struct meta_fields *f, enum fieldtext_type type)
{
	for (size_t i = 0; i < f->count; i++)
		if (f->fields[i].type == type)
			return true;
	return false;
}

const char *meta_label_name(void *ctx, const struct vcard_id *label_id)
{
	const struct meta_fields *f = ctx;
	return f ? optmap_find(&f->labels, label_id) : NULL;
}

/* ---- an object's members as json-c's object showed them: each key once,
 * at the place it first appears, with the value it last had ---- */

struct member {
	uint32_t key;   /* key token of the first occurrence */
	uint32_t value; /* value token of the last one */
	const char *text; /* the unescaped key (sorting) */
	size_t len;
	uint64_t print; /* raw keys: equal keys have equal prints */
};

/* A fingerprint of a key's raw text (length, first and last bytes), never
 * 0; keys with escapes all get 0 and are compared in full. */
static uint64_t key_print(const struct jsonscan_doc *d, uint32_t k)
{
	const struct jsonscan_token *t = jsonscan_token(d, k);
	if (t->flags & JSONSCAN_ESCAPES)
		return 0;
	const char *s = d->text + t->start + 1; /* inside the quotes */
	size_t n = t->len - 2;
	uint64_t head = 0, tail = 0;
	if (n >= 8) {
		memcpy(&head, s, 8);
		memcpy(&tail, s + n - 8, 8);
	} else {
		memcpy(&head, s, n);
	}
	uint64_t h = (head ^ (tail * UINT64_C(0x9E3779B97F4A7C15)) ^ n) * UINT64_C(0xff51afd7ed558ccd);
	return (h ^ (h >> 29)) | 1;
}

static bool same_key(const struct jsonscan_doc *d, uint32_t a, uint32_t b, struct arena *scratch)
{
	const struct jsonscan_token *ta = jsonscan_token(d, a), *tb = jsonscan_token(d, b);
	if (!((ta->flags | tb->flags) & JSONSCAN_ESCAPES))
		return ta->len == tb->len && memcmp(d->text + ta->start, d->text + tb->start, ta->len) == 0;
	size_t n;
	const char *s = jsonscan_str(d, a, scratch, &n);
	return s && jsonscan_str_eq(d, b, s, n);
}

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int r = cmp_key(x->text, x->len, y->text, y->len);
	return r ? r : (x->key > y->key) - (x->key < y->key);
}

static int cmp_member_place(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

#define FEW_MEMBERS 64 /* found with prints; more are sorted */

/* The members of obj in scratch (*out); their count, or SIZE_MAX when out of
 * memory. */
static size_t object_members(const struct jsonscan_doc *d, uint32_t obj, struct arena *scratch,
			     struct member **out)
{
	size_t m = jsonscan_count(d, obj), n = 0;
	struct member *mem = arena_alloc(scratch, (m ? m : 1) * sizeof(*mem));
	if (!mem)
		return SIZE_MAX;
	if (m <= FEW_MEMBERS) {
		/* a bit per print seen: a key whose bit is clear is new, no search */
		uint64_t seen = 0;
		JSONSCAN_FOREACH(d, obj, k) {
			uint64_t print = key_print(d, k);
			uint64_t bit = print ? UINT64_C(1) << (print >> 58) : ~UINT64_C(0);
			size_t i = n;
			if (seen & bit)
				for (i = 0; i < n; i++)
					if ((mem[i].print == print || !print || !mem[i].print) &&
					    same_key(d, mem[i].key, k, scratch))
						break;
			seen |= bit;
			if (i == n)
				mem[n++] = (struct member){ .key = k, .print = print };
			mem[i].value = k + 1;
		}
		*out = mem;
		return n;
	}
	JSONSCAN_FOREACH(d, obj, k) {
		mem[n] = (struct member){ .key = k, .value = k + 1 };
		if (!(mem[n].text = jsonscan_str(d, k, scratch, &mem[n].len)))
			return SIZE_MAX;
		n++;
	}
	qsort(mem, n, sizeof(*mem), cmp_member);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (kept && cmp_key(mem[kept - 1].text, mem[kept - 1].len, mem[i].text, mem[i].len) == 0)
			mem[kept - 1].value = mem[i].value; /* later place: its value counts */
		else
			mem[kept++] = mem[i];
	}
	qsort(mem, kept, sizeof(*mem), cmp_member_place);
	*out = mem;
	return kept;
}

/* The definition of the member whose key token is k, or NULL. */
static const struct custom_field *field_of_key(const struct meta_fields *f,
					       const struct jsonscan_doc *d, uint32_t k,
					       struct arena *scratch)
{
	size_t n;
	const char *key = jsonscan_str(d, k, scratch, &n);
	return key ? find_field(f, key, n) : NULL;
}

static enum meta_kind kind_of(enum fieldtext_type type)
{
	return type == FIELDTEXT_USER ? META_USER : type == FIELDTEXT_ORG ? META_ORG : META_PERSON;
}

struct reference_walk {
	void (*fn)(void *ctx, enum meta_kind kind, int64_t id);
	void *ctx;
};

static void pass_reference(void *ctx, enum fieldtext_type type, int64_t id)
{
	struct reference_walk *rw = ctx;
	rw->fn(rw->ctx, kind_of(type), id);
}

bool meta_each_reference(const struct meta_fields *f, const struct jsonscan_doc *d,
			 uint32_t custom_fields,
			 void (*fn)(void *ctx, enum meta_kind kind, int64_t id), void *ctx,
			 struct arena *scratch)
{
	if (!f || jsonscan_type(d, custom_fields) != JSONSCAN_OBJECT)
		return true;
	struct reference_walk rw = { .fn = fn, .ctx = ctx };
	struct member *mem;
	size_t n = object_members(d, custom_fields, scratch, &mem);
	if (n == SIZE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (jsonscan_is_null(d, mem[i].value))
			continue;
		const struct custom_field *cf = field_of_key(f, d, mem[i].key, scratch);
		if (cf)
			fieldtext_each_reference(d, mem[i].value, cf->type, pass_reference, &rw,
						 scratch);
	}
	return true;
}

/* ---- the custom fields' text ---- */

struct field_lookup {
	const struct custom_field *cf;
	meta_name_fn name;
	void *ctx;
};

static const char *lookup_option(void *ctx, const struct vcard_id *id)
{
	const struct field_lookup *fl = ctx;
	return fl->cf ? optmap_find(&fl->cf->options, id) : NULL;
}

static const char *lookup_name(void *ctx, enum fieldtext_type type, int64_t id)
{
	const struct field_lookup *fl = ctx;
	return fl->name ? fl->name(fl->ctx, kind_of(type), id) : NULL;
}

size_t meta_custom_fields(const struct meta_fields *f, const struct jsonscan_doc *d,
			  uint32_t custom_fields, meta_name_fn name, void *ctx,
			  struct arena *scratch, struct vcard_field *out, size_t max,
			  struct strbuf *storage)
{
	sb_truncate(storage, 0);
	storage->failed = false;
	if (jsonscan_type(d, custom_fields) != JSONSCAN_OBJECT || max == 0)
		return 0;
	size_t offsets[2 * MAX_FIELDS_PER_CARD];
	if (max > MAX_FIELDS_PER_CARD)
		max = MAX_FIELDS_PER_CARD;
	size_t count = 0;
	struct member *mem;
	size_t members = object_members(d, custom_fields, scratch, &mem);
	if (members == SIZE_MAX)
		storage->failed = true;
	for (size_t i = 0; i < members && members != SIZE_MAX && count < max; i++) {
		if (jsonscan_is_null(d, mem[i].value))
			continue;
		size_t key_len;
		const char *key = jsonscan_str(d, mem[i].key, scratch, &key_len);
		if (!key) {
			storage->failed = true;
			break;
		}
		struct field_lookup fl = { .cf = f ? find_field(f, key, key_len) : NULL,
					   .name = name, .ctx = ctx };
		struct fieldtext_lookup lookup = { .ctx = &fl, .option = lookup_option,
						   .name = lookup_name };
		size_t label_at = storage->len;
		if (fl.cf)
			sb_puts(storage, fl.cf->name);
		else /* the key up to a NUL, as a C string */
			sb_append(storage, key, strnlen(key, key_len));
		sb_putc(storage, '\0');
		size_t value_at = storage->len;
		fieldtext_append(storage, d, mem[i].value, fl.cf ? fl.cf->type : FIELDTEXT_OTHER,
				 &lookup, scratch);
		if (storage->len == value_at) { /* nothing to show */
			sb_truncate(storage, label_at);
			continue;
		}
		sb_putc(storage, '\0');
		offsets[2 * count] = label_at;
		offsets[2 * count + 1] = value_at;
		count++;
	}
	if (sb_failed(storage))
		return 0;
	for (size_t i = 0; i < count; i++) {
		out[i].label = storage->data + offsets[2 * i];
		out[i].value = storage->data + offsets[2 * i + 1];
	}
	return count;
}

/* ---- walking what is known (meta_each_option, meta_each_custom_field) ---- */

struct each_option {
	void (*fn)(void *ctx, const struct vcard_id *id, const char *label);
	void *ctx;
};

static void pass_option(struct idtable_entry *e, void *ctx)
{
	const struct each_option *eo = ctx;
	struct vcard_id id = { .numeric = true, .num = (int64_t)e->key };
	eo->fn(eo->ctx, &id, e->value);
}

static void each_option(const struct optmap *o, const struct each_option *eo)
{
	idtable_each(&o->numeric, pass_option, (void *)eo);
	for (size_t i = 0; i < o->text_count; i++) {
		struct vcard_id id = { .text = o->texts[i].id, .len = o->texts[i].id_len };
		eo->fn(eo->ctx, &id, o->texts[i].label);
	}
}

void meta_fields_each_option(const struct meta_fields *f, const char *key,
			     void (*fn)(void *ctx, const struct vcard_id *id, const char *label),
			     void *ctx)
{
	struct each_option eo = { fn, ctx };
	if (!key) {
		each_option(&f->labels, &eo);
		return;
	}
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->fields[i].key, key) == 0) {
			each_option(&f->fields[i].options, &eo);
			return;
		}
}

void meta_fields_each_custom_field(const struct meta_fields *f,
				   void (*fn)(void *ctx, const char *key, const char *name,
					      const char *type),
				   void *ctx)
{
	for (size_t i = 0; i < f->count; i++)
		fn(ctx, f->fields[i].key, f->fields[i].name, f->fields[i].type_name);
}
