/*
 * person_edit_lists.c - the lists of a card -> v2 arrays: EMAIL/TEL/IMPP ->
 * emails/phones/im, CATEGORIES -> label_ids (person_edit_internal.h).
 *
 * Job: the API replaces arrays, so a changed list is sent whole; this builds
 * it from the saved card while keeping from the original person what the
 * card could not spell: each item's exact value, a label the renderer wrote
 * as a plain TYPE ("other"), a duplicate the card showed once, the place of
 * a re-typed number, label ids without a name.  Pure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "person_edit_internal.h"
#include "vcard.h"

char *pe_shown_text(struct json_object *v)
{
	if (!json_object_is_type(v, json_type_string))
		return strdup("");
	struct strbuf sb = STRBUF_INIT;
	vcard_escape_text(&sb, json_object_get_string(v), (size_t)json_object_get_string_len(v),
			  VCARD_TEXT_SINGLE_LINE);
	char *s = sb_detach(&sb, NULL);
	if (!s)
		return NULL;
	char *d = s;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*d++ = *p == 'n' ? '\n' : *p;
		} else {
			*d++ = *p;
		}
	}
	*d = '\0';
	return s;
}


bool pe_id_of(struct json_object *v, struct vcard_id *out)
{
	memset(out, 0, sizeof(*out));
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);
		if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
			return false; /* a uint64 beyond int64: json-c clamped it */
		out->numeric = true;
		out->num = i;
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	return vcard_id_from_text(json_object_get_string(v),
				  (size_t)json_object_get_string_len(v), out);
}

/* ------------------------------------------------------------------------ */
/* emails, phones, im                                                       */
/* ------------------------------------------------------------------------ */

/* A card label as Pipedrive's label: no label is "other". */
static const char *pipedrive_label(const char *card_label)
{
	return *card_label ? card_label : "other";
}

/* The label the original card gave the entry with this value. */
static const char *old_card_label(const struct card_list *old, const char *value)
{
	for (size_t i = 0; i < old->n; i++)
		if (strcmp(old->items[i].value, value) == 0)
			return old->items[i].label;
	return NULL;
}

static int add_item(struct person_edit_error *err, struct json_object *list, const char *value,
		    size_t value_len, const char *label, bool primary)
{
	struct json_object *item = json_object_new_object();
	struct json_object *v = json_object_new_string_len(value, (int)value_len);
	struct json_object *p = json_object_new_boolean(primary);
	struct json_object *l = json_object_new_string(label);
	if (!item || !v || !p || !l || json_object_object_add(item, "value", v) ||
	    json_object_object_add(item, "primary", p) || json_object_object_add(item, "label", l) ||
	    json_object_array_add(list, item)) {
		json_object_put(item);
		return pe_oom(err);
	}
	return 0;
}

/*
 * An original item paired with a new entry: the value byte for byte as
 * Pipedrive has it while the card shows it unchanged (else the card's), the
 * item's own label while the card's label for it is unchanged (else the
 * card's), the card's primary flag.
 */
static int put_paired(struct person_edit_error *err, struct json_object *list,
		      struct json_object *item, const struct card_entry *now,
		      const struct card_list *old, const char *shown)
{
	struct json_object *v = json_object_is_type(item, json_type_string) ? item
									     : pe_get(item, "value");
	struct json_object *l = pe_get(item, "label");
	const char *was = old_card_label(old, shown);
	const char *label = was && strcmp(was, now->label) == 0 &&
					    json_object_is_type(l, json_type_string)
				    ? json_object_get_string(l)
				    : pipedrive_label(now->label);
	if (strcmp(now->value, shown) == 0 && json_object_is_type(v, json_type_string))
		return add_item(err, list, json_object_get_string(v),
				(size_t)json_object_get_string_len(v), label, now->primary);
	return add_item(err, list, now->value, strlen(now->value), label, now->primary);
}

/* A duplicate the card showed once: kept as it was, never primary twice. */
static int keep_duplicate(struct person_edit_error *err, struct json_object *list,
			  struct json_object *item)
{
	if (json_object_is_type(item, json_type_string))
		return add_item(err, list, json_object_get_string(item),
				(size_t)json_object_get_string_len(item), "other", false);
	struct json_object *copy = NULL;
	if (json_object_deep_copy(item, &copy, NULL) ||
	    (pe_get(copy, "primary") &&
	     json_object_object_add(copy, "primary", json_object_new_boolean(false))) ||
	    json_object_array_add(list, copy)) {
		json_object_put(copy);
		return pe_oom(err);
	}
	return 0;
}

/* The index of the first entry of `now` not yet used whose value (or, with
 * by_label, whose label) equals `text`; now->n if none. */
static size_t find_unused(const struct card_list *now, const bool *used, const char *text,
			  bool by_label)
{
	for (size_t k = 0; k < now->n; k++)
		if (!used[k] && strcmp(by_label ? now->items[k].label : now->items[k].value, text) == 0)
			return k;
	return now->n;
}

static bool holds_value(const struct card_list *now, const char *value)
{
	for (size_t k = 0; k < now->n; k++)
		if (strcmp(now->items[k].value, value) == 0)
			return true;
	return false;
}

struct list_build {
	struct json_object *orig; /* the original array, or NULL */
	size_t n_orig;
	char **shown;             /* each original value as the card showed it */
	size_t *match;            /* the new entry each original item became, or SIZE_MAX */
	bool *used;               /* new entries taken */
};

/*
 * Pair original items with new entries: first equal values; then an item
 * whose value is gone takes the first unused entry with the label it had in
 * the card (the same phone, re-typed), so it keeps its place and its label.
 */
static void pair_items(struct list_build *lb, const struct card_list *now,
		       const struct card_list *old)
{
	for (size_t i = 0; i < lb->n_orig; i++) {
		size_t k = find_unused(now, lb->used, lb->shown[i], false);
		lb->match[i] = k < now->n ? k : SIZE_MAX;
		if (k < now->n)
			lb->used[k] = true;
	}
	for (size_t i = 0; i < lb->n_orig; i++) {
		const char *label = old_card_label(old, lb->shown[i]);
		if (lb->match[i] != SIZE_MAX || !label || holds_value(now, lb->shown[i]))
			continue;
		size_t k = find_unused(now, lb->used, label, true);
		if (k < now->n) {
			lb->match[i] = k;
			lb->used[k] = true;
		}
	}
}

static int emit_list(struct person_edit_error *err, bool drops_duplicates, struct list_build *lb,
		     const struct card_list *now, const struct card_list *old, struct json_object *list)
{
	int rc = 0;
	for (size_t i = 0; i < lb->n_orig && rc == 0; i++) {
		struct json_object *item = json_object_array_get_idx(lb->orig, i);
		if (lb->match[i] != SIZE_MAX) {
			rc = put_paired(err, list, item, &now->items[lb->match[i]], old,
					lb->shown[i]);
		} else if (drops_duplicates && holds_value(now, lb->shown[i])) {
			rc = keep_duplicate(err, list, item);
		}
	}
	for (size_t k = 0; k < now->n && rc == 0; k++)
		if (!lb->used[k])
			rc = add_item(err, list, now->items[k].value, strlen(now->items[k].value),
				      pipedrive_label(now->items[k].label), now->items[k].primary);
	return rc;
}

/*
 * The whole new list: the original items the card still holds, in their
 * order (values byte for byte as Pipedrive has them, labels the card could
 * not spell kept), then the new entries in card order.  Items the user
 * deleted are left out.
 */
static int build_list(struct json_object *orig, bool drops_duplicates,
		      const struct card_list *now, const struct card_list *old,
		      struct json_object **out, struct person_edit_error *err)
{
	struct list_build lb = { 0 };
	lb.orig = orig;
	lb.n_orig = json_object_is_type(lb.orig, json_type_array)
			    ? json_object_array_length(lb.orig) : 0;
	lb.shown = calloc(lb.n_orig + 1, sizeof *lb.shown);
	lb.match = calloc(lb.n_orig + 1, sizeof *lb.match);
	lb.used = calloc(now->n + 1, sizeof *lb.used);
	struct json_object *list = json_object_new_array();
	int rc = lb.shown && lb.match && lb.used && list ? 0 : pe_oom(err);
	for (size_t i = 0; i < lb.n_orig && rc == 0; i++) {
		struct json_object *item = json_object_array_get_idx(lb.orig, i);
		lb.shown[i] = pe_shown_text(json_object_is_type(item, json_type_string)
						 ? item : pe_get(item, "value"));
		if (!lb.shown[i])
			rc = pe_oom(err);
	}
	if (rc == 0) {
		pair_items(&lb, now, old);
		rc = emit_list(err, drops_duplicates, &lb, now, old, list);
	}
	for (size_t i = 0; lb.shown && i < lb.n_orig; i++)
		free(lb.shown[i]);
	free(lb.shown);
	free(lb.match);
	free(lb.used);
	if (rc) {
		json_object_put(list);
		return rc;
	}
	*out = list;
	return 0;
}

int pe_map_list(const char *key, bool drops_duplicates, const struct card_list *old,
		const struct card_list *now, struct json_object *orig, struct json_object *body,
		struct person_edit_error *err)
{
	if (old ? card_list_equal(old, now) : now->n == 0)
		return 0;
	static const struct card_list none = { 0 };
	if (!json_object_is_type(orig, json_type_array))
		orig = NULL;
	struct json_object *list;
	int rc = build_list(orig, drops_duplicates, now, old ? old : &none, &list, err);
	return rc ? rc : pe_add(body, key, list, err);
}

/* ------------------------------------------------------------------------ */
/* CATEGORIES -> label_ids                                                  */
/* ------------------------------------------------------------------------ */

static bool same_id(const struct vcard_id *a, const struct vcard_id *b)
{
	if (a->numeric || b->numeric)
		return a->numeric == b->numeric && a->num == b->num;
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static bool has_id(struct json_object *ids, const struct vcard_id *id)
{
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		struct vcard_id have;
		if (pe_id_of(json_object_array_get_idx(ids, i), &have) && same_id(&have, id))
			return true;
	}
	return false;
}

/* Append id to ids unless it is there: as the original value v when given
 * (an id keeps the form the API sent it in), else as the resolver gave it. */
static int push_id(struct person_edit_error *err, struct json_object *ids,
		   const struct vcard_id *id, struct json_object *v)
{
	if (has_id(ids, id))
		return 0;
	struct json_object *copy = v ? json_object_get(v)
				: id->numeric ? json_object_new_int64(id->num)
					      : json_object_new_string_len(id->text, (int)id->len);
	if (!copy || json_object_array_add(ids, copy)) {
		json_object_put(copy);
		return pe_oom(err);
	}
	return 0;
}

static const char *label_of(const struct person_edit_resolver *r, struct json_object *v,
			    struct vcard_id *id)
{
	if (!pe_id_of(v, id))
		return NULL;
	return r->label_name ? r->label_name(r->ctx, id) : NULL;
}

/* The original label id value shown as `name` in the card, or NULL. */
static struct json_object *shown_label(const struct person_edit_resolver *r,
				       struct json_object *orig, const char *name, int *rc,
				       struct person_edit_error *err)
{
	for (size_t i = 0; i < json_object_array_length(orig); i++) {
		struct json_object *v = json_object_array_get_idx(orig, i);
		struct vcard_id id;
		const char *label = label_of(r, v, &id);
		if (!label)
			continue;
		struct json_object *tmp = json_object_new_string(label);
		char *shown = tmp ? pe_shown_text(tmp) : NULL;
		json_object_put(tmp);
		if (!shown) {
			*rc = pe_oom(err);
			return NULL;
		}
		bool match = strcmp(shown, name) == 0;
		free(shown);
		if (match)
			return v;
	}
	return NULL;
}

/* Original ids whose label has no name the card could show: kept. */
static int keep_unshown_labels(const struct person_edit_resolver *r, struct json_object *orig,
			       struct json_object *ids, struct person_edit_error *err)
{
	for (size_t i = 0; i < json_object_array_length(orig); i++) {
		struct json_object *v = json_object_array_get_idx(orig, i);
		struct vcard_id id;
		const char *label = label_of(r, v, &id);
		if (!pe_id_of(v, &id) || (label && label[strspn(label, " \t\r\n")]))
			continue;
		int rc = push_id(err, ids, &id, v);
		if (rc)
			return rc;
	}
	return 0;
}

int pe_map_categories(const struct card_model *old, const struct card_model *now,
		      struct json_object *orig, const struct person_edit_resolver *r,
		      struct json_object *body, struct person_edit_error *err)
{
	if (old ? card_categories_equal(old, now) : now->n_categories == 0)
		return 0;
	if (!json_object_is_type(orig, json_type_array))
		orig = NULL;
	struct json_object *ids = json_object_new_array();
	if (!ids)
		return pe_oom(err);
	int rc = 0;
	for (size_t i = 0; i < now->n_categories && rc == 0; i++) {
		const char *name = now->categories[i];
		struct json_object *shown = orig ? shown_label(r, orig, name, &rc, err) : NULL;
		struct vcard_id id;
		if (rc)
			break;
		if (shown) {
			pe_id_of(shown, &id);
		} else {
			int found = r->label_id ? r->label_id(r->ctx, name, &id) : -ENOENT;
			if (found == -EEXIST)
				rc = pe_fail(err, "several labels are named \"%.60s\"; set label_ids "
						  "in the .json instead", name);
			else if (found)
				rc = pe_fail(err, "no label named \"%.60s\" in Pipedrive (CATEGORIES "
						  "are Pipedrive's labels): create it in Pipedrive "
						  "first", name);
		}
		if (rc == 0)
			rc = push_id(err, ids, &id, shown);
	}
	if (rc == 0 && orig)
		rc = keep_unshown_labels(r, orig, ids, err);
	if (rc) {
		json_object_put(ids);
		return rc;
	}
	return pe_add(body, "label_ids", ids, err);
}
