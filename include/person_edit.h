/*
 * person_edit.h - an edited .json or .vcf file -> the body of the Pipedrive
 * v2 request that carries exactly what the user changed.
 *
 *   edit   -> PATCH /api/v2/persons/{id}   (person_edit_json, person_edit_vcard)
 *   create -> POST  /api/v2/persons        (person_create_json, person_create_vcard)
 *
 * A change is computed against the version the file was read from (the
 * original JSON text as served and, for a card, the card as rendered): a
 * field is in the body only if its value differs, so a tool that rewrites
 * every line in its own order and case (khard) sends only what the user
 * changed.  Lists (emails, phones, im, label_ids) are sent whole when any
 * entry changed, because the API replaces arrays; custom_fields holds only
 * the changed keys.  The mapping and what is refused: docs/vcard.md,
 * "Editing".
 *
 * Pure: no I/O, no globals.  Bodies are new json-c objects owned by the
 * caller (json_object_put).  An edit that changes nothing gives an empty
 * object: send nothing.  Every function returns 0, -ENOMEM, or -EINVAL with
 * err->message (one sentence for the log, saying what to do); on error
 * *body is NULL.  The file system answers EINVAL and keeps the old text.
 */
#ifndef PDFS_PERSON_EDIT_H
#define PDFS_PERSON_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vcard.h"

struct person_edit_error {
	char message[256];
};

/* A custom field as the company defines it (GET /personFields). */
struct person_edit_field {
	char key[64];  /* field_code, the 40-hex key */
	char type[32]; /* field_type: varchar, enum, set, monetary, date, user, ... */
};

/*
 * What the mapping needs to know about the company, without depending on
 * meta.c: callbacks over the caller's tables.  Each returns 0 and fills the
 * out-parameter, -ENOENT if there is no such thing, -EEXIST if the name is
 * not unique; any callback may be NULL (= nothing known).  Names are given
 * as they appear in the card (trimmed, single-line text).
 */
struct person_edit_resolver {
	void *ctx;
	/* label name (CATEGORIES) -> label id.  Label ids may be integers or
	 * strings (vcard.h, struct vcard_id); a text id must stay valid while
	 * the resolver is in use.  The body carries the id in the same form. */
	int (*label_id)(void *ctx, const char *name, struct vcard_id *id);
	/* label id -> its name, or NULL if unknown (labels the card could not
	 * show are kept when CATEGORIES change); vcard_label_name_fn */
	const char *(*label_name)(void *ctx, const struct vcard_id *id);
	/* custom field name (X-ABLabel) -> key and type; the renderer shows a
	 * field it has no name for under its key, so accept the key too */
	int (*custom_field)(void *ctx, const char *name, struct person_edit_field *out);
	/* option label of an enum/set custom field -> option id */
	int (*option_id)(void *ctx, const char *key, const char *label, int64_t *id);
	/* organization name (ORG) -> id; organizations are never created here */
	int (*org_id)(void *ctx, const char *name, int64_t *id);
};

/*
 * A .json edit.  original = the file's text as served, edited = the text
 * written.  Refused: invalid JSON, not an object, an unknown top-level key,
 * a changed read-only field (id, first_name, last_name, add_time,
 * update_time, is_deleted, picture_id, labels and the include_fields
 * counters), a removed writable field (set it to null or [] to clear it), a
 * value of the wrong shape for a changed field, an unknown or removed
 * custom field key, [] for a custom field.
 */
int person_edit_json(const char *original, size_t original_len, const char *edited,
		     size_t edited_len, struct json_object **body, struct person_edit_error *err);

/*
 * A .vcf edit.  card = the card the file was read from (as rendered),
 * edited = the card written, person = the original person object (the
 * JSON the card was rendered from), r = the company's names.
 */
int person_edit_vcard(const char *card, size_t card_len, const char *edited, size_t edited_len,
		      struct json_object *person, const struct person_edit_resolver *r,
		      struct json_object **body, struct person_edit_error *err);

/* Where a new file was written: by-owner/<id>/ gives owner_id, by-org/<id>/
 * gives org_id (0 = not given by the folder).  The folder wins over the
 * file's own owner_id/org_id; a card whose ORG names another organization
 * than its by-org folder is refused. */
struct person_edit_place {
	int64_t owner_id;
	int64_t org_id;
};

/* A new .json file -> POST body.  name is required; read-only fields (a
 * copied file's id, times, first/last name ...) are left out; null values
 * are left out; unknown keys are refused. */
int person_create_json(const char *text, size_t len, const struct person_edit_place *place,
		       struct json_object **body, struct person_edit_error *err);

/* A new card (khard new) -> POST body; FN (or N) gives the name. */
int person_create_vcard(const char *card, size_t len, const struct person_edit_place *place,
			const struct person_edit_resolver *r, struct json_object **body,
			struct person_edit_error *err);

/*
 * Conflict check before sending: the fields of `body` (top-level keys, and
 * custom_fields keys one by one) that the server changed too since
 * `original` (both person objects).  Returns how many; names the first in
 * field[0..field_len) ("phones", "custom_fields.<key>").
 */
size_t person_edit_conflicts(struct json_object *original, struct json_object *current,
			     struct json_object *body, char *field, size_t field_len);

/* JSON equality as the edits compare values: numbers by value (1 == 1.0),
 * objects by keys regardless of order, arrays in order. */
bool person_edit_json_equal(struct json_object *a, struct json_object *b);

#endif
