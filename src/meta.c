#include "meta.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"
#include "strbuf.h"

struct org_entry {
	char *name; /* NULL: asked, none */
	double at;
};

struct custom_field {
	char *key;
	char *name;
	struct idtable options; /* option id -> char *label */
};

struct meta {
	pthread_mutex_t lock;
	double ttl;
	struct idtable orgs;   /* id -> struct org_entry * */
	struct idtable labels; /* id -> char * */
	struct custom_field *fields;
	size_t field_count;
	bool fields_loaded;
};

static void free_org(void *v)
{
	struct org_entry *o = v;
	free(o->name);
	free(o);
}

static void free_fields(struct meta *m)
{
	for (size_t i = 0; i < m->field_count; i++) {
		free(m->fields[i].key);
		free(m->fields[i].name);
		idtable_destroy(&m->fields[i].options, free);
	}
	free(m->fields);
	m->fields = NULL;
	m->field_count = 0;
}

struct meta *meta_new(double ttl)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (!idtable_init(&m->orgs) || !idtable_init(&m->labels)) {
		idtable_destroy(&m->orgs, NULL);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->ttl = ttl;
	return m;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	idtable_destroy(&m->orgs, free_org);
	idtable_destroy(&m->labels, free);
	free_fields(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

enum meta_org_state meta_org_name(struct meta *m, int64_t org_id, double now, char *buf,
				  size_t len)
{
	enum meta_org_state state = META_ORG_UNKNOWN;
	pthread_mutex_lock(&m->lock);
	struct idtable_entry *e = idtable_find(&m->orgs, (uint64_t)org_id);
	if (e) {
		struct org_entry *o = e->value;
		if (m->ttl > 0 && now - o->at < m->ttl) {
			if (o->name) {
				size_t n = strlen(o->name);
				if (n >= len)
					n = len - 1;
				memcpy(buf, o->name, n);
				buf[n] = '\0';
				state = META_ORG_NAMED;
			} else {
				state = META_ORG_NONE;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
	return state;
}

static void store_org(struct meta *m, int64_t id, const char *name, double now)
{
	char *copy = name ? strdup(name) : NULL;
	if (name && !copy)
		return;
	pthread_mutex_lock(&m->lock);
	struct idtable_entry *e = idtable_find(&m->orgs, (uint64_t)id);
	if (e) {
		struct org_entry *o = e->value;
		free(o->name);
		o->name = copy;
		o->at = now;
	} else {
		struct org_entry *o = malloc(sizeof(*o));
		if (o) {
			o->name = copy;
			o->at = now;
			if (!idtable_insert(&m->orgs, (uint64_t)id, o))
				free_org(o);
		} else {
			free(copy);
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void meta_org_store(struct meta *m, struct json_object *org, double now)
{
	struct json_object *id, *name;
	if (!json_object_object_get_ex(org, "id", &id) || !json_object_is_type(id, json_type_int) ||
	    json_object_get_int64(id) <= 0)
		return;
	const char *text = NULL;
	if (json_object_object_get_ex(org, "name", &name) && json_object_is_type(name, json_type_string))
		text = json_object_get_string(name);
	store_org(m, json_object_get_int64(id), text && *text ? text : NULL, now);
}

void meta_org_store_none(struct meta *m, int64_t org_id, double now)
{
	store_org(m, org_id, NULL, now);
}

static const char *string_of(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Fill an id -> label table from a field's "options" array. */
static void load_options(struct idtable *t, struct json_object *field)
{
	struct json_object *options;
	if (!json_object_object_get_ex(field, "options", &options) ||
	    !json_object_is_type(options, json_type_array))
		return;
	size_t n = json_object_array_length(options);
	for (size_t i = 0; i < n; i++) {
		struct json_object *opt = json_object_array_get_idx(options, i), *id;
		const char *label = string_of(opt, "label");
		if (!label || !json_object_object_get_ex(opt, "id", &id) ||
		    !json_object_is_type(id, json_type_int))
			continue;
		uint64_t key = (uint64_t)json_object_get_int64(id);
		if (idtable_find(t, key))
			continue;
		char *copy = strdup(label);
		if (copy && !idtable_insert(t, key, copy))
			free(copy);
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
	struct idtable labels;
	struct custom_field *fields = calloc(n ? n : 1, sizeof(*fields));
	if (!fields || !idtable_init(&labels)) {
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
			if (!cf->key || !cf->name || !idtable_init(&cf->options)) {
				free(cf->key);
				free(cf->name);
				continue;
			}
			load_options(&cf->options, f);
			count++;
		}
	}
	pthread_mutex_lock(&m->lock);
	idtable_destroy(&m->labels, free);
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

/* Label names are loaded once per mount and never freed before meta_free,
 * so the pointer stays valid for the renderer. */
const char *meta_label_name(void *ctx, int64_t label_id)
{
	struct meta *m = ctx;
	pthread_mutex_lock(&m->lock);
	struct idtable_entry *e = idtable_find(&m->labels, (uint64_t)label_id);
	const char *name = e ? e->value : NULL;
	pthread_mutex_unlock(&m->lock);
	return name;
}

/* Append one scalar as text: an option label when the field has options. */
static void append_scalar(struct strbuf *sb, struct json_object *v, const struct custom_field *cf)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		sb_append(sb, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		break;
	case json_type_int: {
		struct idtable_entry *e =
			cf ? idtable_find(&cf->options, (uint64_t)json_object_get_int64(v)) : NULL;
		if (e)
			sb_puts(sb, e->value);
		else
			sb_printf(sb, "%" PRId64, json_object_get_int64(v));
		break;
	}
	case json_type_double:
		sb_puts(sb, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		break;
	case json_type_boolean:
		sb_puts(sb, json_object_get_boolean(v) ? "yes" : "no");
		break;
	case json_type_object: {
		/* {id,label}, {value,currency}, {value,until}, address {value,...} */
		const char *label = string_of(v, "label");
		struct json_object *value, *extra;
		if (label) {
			sb_puts(sb, label);
		} else if (json_object_object_get_ex(v, "value", &value)) {
			append_scalar(sb, value, NULL);
			if (json_object_object_get_ex(v, "currency", &extra) &&
			    json_object_is_type(extra, json_type_string))
				sb_printf(sb, " %s", json_object_get_string(extra));
			if (json_object_object_get_ex(v, "until", &extra) &&
			    !json_object_is_type(extra, json_type_null)) {
				sb_puts(sb, " - ");
				append_scalar(sb, extra, NULL);
			}
		}
		break;
	}
	default:
		break;
	}
}

static void append_value(struct strbuf *sb, struct json_object *v, const struct custom_field *cf)
{
	if (!json_object_is_type(v, json_type_array)) {
		append_scalar(sb, v, cf);
		return;
	}
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(sb, ", ");
		append_scalar(sb, json_object_array_get_idx(v, i), cf);
	}
}

size_t meta_custom_fields(struct meta *m, struct json_object *custom_fields,
			  struct vcard_field *out, size_t max, char **storage)
{
	*storage = NULL;
	if (!custom_fields || !json_object_is_type(custom_fields, json_type_object) || max == 0)
		return 0;
	struct strbuf sb = STRBUF_INIT;
	size_t offsets[2 * 64];
	if (max > 64)
		max = 64;
	size_t count = 0;
	pthread_mutex_lock(&m->lock);
	json_object_object_foreach(custom_fields, key, value)
	{
		if (count == max)
			break;
		if (!value || json_object_is_type(value, json_type_null))
			continue;
		const struct custom_field *cf = find_field(m, key);
		size_t label_at = sb.len;
		sb_puts(&sb, cf ? cf->name : key);
		sb_putc(&sb, '\0');
		size_t value_at = sb.len;
		append_value(&sb, value, cf);
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
