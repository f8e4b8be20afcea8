#include "meta.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"
#include "strbuf.h"

#define KIND_COUNT 3
#define MAX_FIELDS_PER_CARD 64

struct name_entry {
	char *name; /* NULL: asked, none */
	double at;
};

/* Option (or label) ids -> labels; integer ids and numeric strings share the
 * numeric table, other string ids are kept in a short list. */
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
	char *key;
	char *name;
	char *type_name; /* field_type as sent, e.g. "varchar_auto" */
	enum fieldtext_type type;
	struct optmap options;
};

struct meta {
	pthread_mutex_t lock;
	struct idtable names[KIND_COUNT]; /* id -> struct name_entry * */
	bool users_loaded;
	double expired_at; /* names stored before this are too old */
	struct optmap labels;
	struct custom_field *fields;
	size_t field_count;
	bool fields_loaded;
};

/* ---- option maps ---- */

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

/* Add an option; the first label of an id wins.  Out of memory only loses
 * the option (its label is then not shown). */
static void optmap_add(struct optmap *o, const struct vcard_id *id, const char *label)
{
	if (optmap_find(o, id))
		return;
	char *copy = strdup(label);
	if (!copy)
		return;
	if (id->numeric) {
		if (!idtable_insert(&o->numeric, (uint64_t)id->num, copy))
			free(copy);
		return;
	}
	if (o->text_count == o->text_cap) {
		size_t cap = o->text_cap ? o->text_cap * 2 : 8;
		struct text_option *texts = realloc(o->texts, cap * sizeof(*texts));
		if (!texts) {
			free(copy);
			return;
		}
		o->texts = texts;
		o->text_cap = cap;
	}
	struct text_option *t = &o->texts[o->text_count];
	t->id = malloc(id->len);
	if (!t->id) {
		free(copy);
		return;
	}
	memcpy(t->id, id->text, id->len);
	t->id_len = id->len;
	t->label = copy;
	o->text_count++;
}

/* ---- lifecycle ---- */

static void free_name(void *v)
{
	struct name_entry *e = v;
	free(e->name);
	free(e);
}

static void free_fields(struct meta *m)
{
	for (size_t i = 0; i < m->field_count; i++) {
		free(m->fields[i].key);
		free(m->fields[i].name);
		free(m->fields[i].type_name);
		optmap_destroy(&m->fields[i].options);
	}
	free(m->fields);
	m->fields = NULL;
	m->field_count = 0;
}

struct meta *meta_new(void)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	bool ok = optmap_init(&m->labels);
	for (int k = 0; k < KIND_COUNT; k++)
		ok = idtable_init(&m->names[k]) && ok;
	if (!ok) {
		optmap_destroy(&m->labels);
		for (int k = 0; k < KIND_COUNT; k++)
			idtable_destroy(&m->names[k], NULL);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	for (int k = 0; k < KIND_COUNT; k++)
		idtable_destroy(&m->names[k], free_name);
	optmap_destroy(&m->labels);
	free_fields(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- names ---- */

static const struct name_entry *find_name(const struct meta *m, enum meta_kind kind, int64_t id)
{
	struct idtable_entry *e = idtable_find(&m->names[kind], (uint64_t)id);
	return e ? e->value : NULL;
}

enum meta_name_state meta_name(struct meta *m, enum meta_kind kind, int64_t id,
			       double valid_after, char *buf, size_t len)
{
	enum meta_name_state state = META_NAME_UNKNOWN;
	pthread_mutex_lock(&m->lock);
	const struct name_entry *e = find_name(m, kind, id);
	if (e && (valid_after == META_ANY_AGE ||
		  (e->at >= valid_after && e->at >= m->expired_at))) {
		if (e->name && len > 0) {
			size_t n = strlen(e->name);
			if (n >= len)
				n = len - 1;
			memcpy(buf, e->name, n);
			buf[n] = '\0';
			state = META_NAME_KNOWN;
		} else {
			state = META_NAME_NONE;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return state;
}

/* Lock held. */
static void store_name_locked(struct meta *m, enum meta_kind kind, int64_t id, char *name,
			      double now)
{
	struct idtable_entry *e = idtable_find(&m->names[kind], (uint64_t)id);
	if (e) {
		struct name_entry *n = e->value;
		free(n->name);
		n->name = name;
		n->at = now;
		return;
	}
	struct name_entry *n = malloc(sizeof(*n));
	if (n) {
		n->name = name;
		n->at = now;
		if (idtable_insert(&m->names[kind], (uint64_t)id, n))
			return;
		free(n);
	}
	free(name);
}

void meta_name_store(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		     double now)
{
	char *copy = name && *name ? strdup(name) : NULL;
	if (name && *name && !copy)
		return; /* out of memory: stays unknown, asked again */
	pthread_mutex_lock(&m->lock);
	store_name_locked(m, kind, id, copy, now);
	pthread_mutex_unlock(&m->lock);
}

static const char *string_of(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An {id, name} object's id, or 0. */
static int64_t id_of(struct json_object *obj)
{
	struct json_object *id;
	if (!json_object_object_get_ex(obj, "id", &id) || !json_object_is_type(id, json_type_int) ||
	    json_object_get_int64(id) <= 0)
		return 0;
	return json_object_get_int64(id);
}

void meta_org_store(struct meta *m, struct json_object *org, double now)
{
	int64_t id = id_of(org);
	if (id)
		meta_name_store(m, META_ORG, id, string_of(org, "name"), now);
}

void meta_users_store(struct meta *m, struct json_object *users, double now)
{
	if (!json_object_is_type(users, json_type_array))
		return;
	size_t n = json_object_array_length(users);
	for (size_t i = 0; i < n; i++) {
		struct json_object *u = json_object_array_get_idx(users, i);
		int64_t id = id_of(u);
		if (id)
			meta_name_store(m, META_USER, id, string_of(u, "name"), now);
	}
	pthread_mutex_lock(&m->lock);
	m->users_loaded = true;
	pthread_mutex_unlock(&m->lock);
}

bool meta_users_loaded(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	bool loaded = m->users_loaded;
	pthread_mutex_unlock(&m->lock);
	return loaded;
}

void meta_names_expire(struct meta *m, double now)
{
	pthread_mutex_lock(&m->lock);
	m->expired_at = now;
	pthread_mutex_unlock(&m->lock);
}

/* ---- person fields ---- */

/* Fill an option map from a field's "options" array (ids integer or string). */
static void load_options(struct optmap *o, struct json_object *field)
{
	struct json_object *options;
	if (!json_object_object_get_ex(field, "options", &options) ||
	    !json_object_is_type(options, json_type_array))
		return;
	size_t n = json_object_array_length(options);
	for (size_t i = 0; i < n; i++) {
		struct json_object *opt = json_object_array_get_idx(options, i), *idv;
		const char *label = string_of(opt, "label");
		struct vcard_id id;
		if (label && json_object_object_get_ex(opt, "id", &idv) && vcard_id_of(idv, &id))
			optmap_add(o, &id, label);
	}
}

static bool is_custom(struct json_object *field)
{
	struct json_object *v;
	return json_object_object_get_ex(field, "is_custom_field", &v) && json_object_get_boolean(v);
}

void meta_person_fields_store(struct meta *m, struct json_object *items)
{
	if (!json_object_is_type(items, json_type_array))
		return;
	size_t n = json_object_array_length(items);
	struct optmap labels;
	struct custom_field *fields = calloc(n ? n : 1, sizeof(*fields));
	if (!fields || !optmap_init(&labels)) {
		free(fields);
		return;
	}
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(items, i);
		const char *code = string_of(f, "field_code");
		if (!code)
			continue;
		if (strcmp(code, "label_ids") == 0 || strcmp(code, "label") == 0) {
			load_options(&labels, f);
		} else if (is_custom(f)) {
			const char *name = string_of(f, "field_name");
			struct custom_field *cf = &fields[count];
			cf->key = strdup(code);
			cf->name = strdup(name ? name : code);
			const char *type = string_of(f, "field_type");
			cf->type = fieldtext_type_of(type);
			cf->type_name = strdup(type ? type : "");
			if (!cf->key || !cf->name || !cf->type_name || !optmap_init(&cf->options)) {
				free(cf->key);
				free(cf->name);
				free(cf->type_name);
				continue;
			}
			load_options(&cf->options, f);
			count++;
		}
	}
	pthread_mutex_lock(&m->lock);
	optmap_destroy(&m->labels);
	m->labels = labels;
	free_fields(m);
	m->fields = fields;
	m->field_count = count;
	m->fields_loaded = true;
	pthread_mutex_unlock(&m->lock);
}

bool meta_person_fields_loaded(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	bool loaded = m->fields_loaded;
	pthread_mutex_unlock(&m->lock);
	return loaded;
}

static struct custom_field *find_field(struct meta *m, const char *key)
{
	for (size_t i = 0; i < m->field_count; i++)
		if (strcmp(m->fields[i].key, key) == 0)
			return &m->fields[i];
	return NULL;
}

bool meta_custom_field_known(struct meta *m, const char *key)
{
	pthread_mutex_lock(&m->lock);
	bool known = find_field(m, key) != NULL;
	pthread_mutex_unlock(&m->lock);
	return known;
}

bool meta_has_field_type(struct meta *m, enum fieldtext_type type)
{
	bool found = false;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->field_count && !found; i++)
		found = m->fields[i].type == type;
	pthread_mutex_unlock(&m->lock);
	return found;
}

/* Label names are loaded once per mount and never freed before meta_free,
 * so the pointer stays valid for the renderer. */
const char *meta_label_name(void *ctx, const struct vcard_id *label_id)
{
	struct meta *m = ctx;
	pthread_mutex_lock(&m->lock);
	const char *name = optmap_find(&m->labels, label_id);
	pthread_mutex_unlock(&m->lock);
	return name;
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

void meta_each_reference(struct meta *m, struct json_object *custom_fields,
			 void (*fn)(void *ctx, enum meta_kind kind, int64_t id), void *ctx)
{
	if (!json_object_is_type(custom_fields, json_type_object))
		return;
	struct reference_walk rw = { .fn = fn, .ctx = ctx };
	pthread_mutex_lock(&m->lock);
	json_object_object_foreach(custom_fields, key, value)
	{
		const struct custom_field *cf = find_field(m, key);
		if (cf)
			fieldtext_each_reference(value, cf->type, pass_reference, &rw);
	}
	pthread_mutex_unlock(&m->lock);
}

/* ---- rendering custom fields (lock held) ---- */

struct field_lookup {
	struct meta *m;
	const struct custom_field *cf;
};

static const char *lookup_option(void *ctx, const struct vcard_id *id)
{
	const struct field_lookup *fl = ctx;
	return fl->cf ? optmap_find(&fl->cf->options, id) : NULL;
}

/* Any stored name, however old: the walker refreshes names before it builds
 * persons, and an old name beats none when that failed. */
static const char *lookup_name(void *ctx, enum fieldtext_type type, int64_t id)
{
	const struct field_lookup *fl = ctx;
	const struct name_entry *e = find_name(fl->m, kind_of(type), id);
	return e ? e->name : NULL;
}

size_t meta_custom_fields(struct meta *m, struct json_object *custom_fields,
			  struct vcard_field *out, size_t max, char **storage)
{
	*storage = NULL;
	if (!custom_fields || !json_object_is_type(custom_fields, json_type_object) || max == 0)
		return 0;
	struct strbuf sb = STRBUF_INIT;
	size_t offsets[2 * MAX_FIELDS_PER_CARD];
	if (max > MAX_FIELDS_PER_CARD)
		max = MAX_FIELDS_PER_CARD;
	size_t count = 0;
	pthread_mutex_lock(&m->lock);
	json_object_object_foreach(custom_fields, key, value)
	{
		if (count == max)
			break;
		if (!value || json_object_is_type(value, json_type_null))
			continue;
		struct field_lookup fl = { .m = m, .cf = find_field(m, key) };
		struct fieldtext_lookup lookup = { .ctx = &fl, .option = lookup_option,
						   .name = lookup_name };
		size_t label_at = sb.len;
		sb_puts(&sb, fl.cf ? fl.cf->name : key);
		sb_putc(&sb, '\0');
		size_t value_at = sb.len;
		fieldtext_append(&sb, value, fl.cf ? fl.cf->type : FIELDTEXT_OTHER, &lookup);
		if (sb.len == value_at) { /* nothing to show */
			sb_truncate(&sb, label_at);
			continue;
		}
		sb_putc(&sb, '\0');
		offsets[2 * count] = label_at;
		offsets[2 * count + 1] = value_at;
		count++;
	}
	pthread_mutex_unlock(&m->lock);
	char *data = sb_detach(&sb, NULL);
	if (!data)
		return 0;
	for (size_t i = 0; i < count; i++) {
		out[i].label = data + offsets[2 * i];
		out[i].value = data + offsets[2 * i + 1];
	}
	*storage = data;
	return count;
}

/* ---- walking what is known (names back to ids, for the write path) ---- */

struct each_name {
	void (*fn)(void *ctx, int64_t id, const char *name);
	void *ctx;
};

static void pass_name(struct idtable_entry *e, void *ctx)
{
	const struct each_name *en = ctx;
	const struct name_entry *n = e->value;
	if (n->name)
		en->fn(en->ctx, (int64_t)e->key, n->name);
}

void meta_each_name(struct meta *m, enum meta_kind kind,
		    void (*fn)(void *ctx, int64_t id, const char *name), void *ctx)
{
	struct each_name en = { fn, ctx };
	pthread_mutex_lock(&m->lock);
	idtable_each(&m->names[kind], pass_name, &en);
	pthread_mutex_unlock(&m->lock);
}

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

void meta_each_option(struct meta *m, const char *key,
		      void (*fn)(void *ctx, const struct vcard_id *id, const char *label), void *ctx)
{
	struct each_option eo = { fn, ctx };
	pthread_mutex_lock(&m->lock);
	const struct custom_field *cf = key ? find_field(m, key) : NULL;
	if (!key)
		each_option(&m->labels, &eo);
	else if (cf)
		each_option(&cf->options, &eo);
	pthread_mutex_unlock(&m->lock);
}

void meta_each_custom_field(struct meta *m,
			    void (*fn)(void *ctx, const char *key, const char *name,
				       const char *type),
			    void *ctx)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->field_count; i++)
		fn(ctx, m->fields[i].key, m->fields[i].name, m->fields[i].type_name);
	pthread_mutex_unlock(&m->lock);
}
