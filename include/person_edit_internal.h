/*
 * person_edit_internal.h - the pieces the files of the person_edit module
 * (person_edit.h) share: person_edit_json.c (the .json side, the field rules
 * and these helpers), person_edit_vcard.c (the card side) and
 * person_edit_lists.c (card lists -> arrays).  Not for other modules.
 */
#ifndef PDFS_PERSON_EDIT_INTERNAL_H
#define PDFS_PERSON_EDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "card_model.h"
#include "person_edit.h"

/* Fill err->message (printf style) and return -EINVAL. */
int pe_fail(struct person_edit_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "out of memory", -ENOMEM. */
int pe_oom(struct person_edit_error *err);

/* A label or option id as the API sends it (an integer, or a string,
 * numeric or not: vcard.h); false if v is neither. */
bool pe_id_of(struct json_object *v, struct vcard_id *out);
/* json_object_object_add taking value's reference; on failure value is put
 * and -ENOMEM returned.  value may be NULL (JSON null). */
int pe_add(struct json_object *obj, const char *key, struct json_object *value,
	   struct person_edit_error *err);
/* obj[key] or NULL (also when obj is not an object). */
struct json_object *pe_get(struct json_object *obj, const char *key);
/* owner_id / org_id of the folder a new file was written in, then check
 * that the body has a name. */
int pe_apply_place(struct json_object *body, const struct person_edit_place *place,
		   struct person_edit_error *err);

/* The text the renderer put in a card for a JSON string (cleaned to one
 * line), escapes undone: what card values are compared with.  malloc'd;
 * "" for a non-string; NULL on ENOMEM. */
char *pe_shown_text(struct json_object *v);

/* EMAIL/TEL/IMPP -> body[key] (emails, phones, im) when the list changed
 * (old = NULL: a new person, sent when not empty).  orig = the person's
 * array.  drops_duplicates: the renderer shows a repeated value once. */
int pe_map_list(const char *key, bool drops_duplicates, const struct card_list *old,
		const struct card_list *now, struct json_object *orig, struct json_object *body,
		struct person_edit_error *err);

/* CATEGORIES -> body.label_ids when they changed; names resolved through r
 * (an unknown name is refused: labels are created in Pipedrive); original
 * ids whose label has no name are kept. */
int pe_map_categories(const struct card_model *old, const struct card_model *now,
		      struct json_object *orig, const struct person_edit_resolver *r,
		      struct json_object *body, struct person_edit_error *err);

#endif
