/*
 * field_text.h - the text a custom field shows in a card -> its v2 JSON value.
 *
 * The inverse of the custom-field text in the rendered vCard, for the types
 * whose text can be read back without guessing:
 *
 *   varchar, varchar_auto, varchar_options, text, phone, autocomplete  the text
 *   int          "42"                      -> 42
 *   double       "12.5"                    -> 12.5 (JSON number syntax)
 *   boolean      "yes"/"no"/"true"/"false" -> true/false
 *   date         "2025-03-04"              -> "2025-03-04" (a real date)
 *   enum         option label              -> option id
 *   set          "A, B"                    -> [id_A, id_B] (labels may hold commas)
 *   monetary     "8000 EUR" / "EUR 8000"   -> {"value":8000,"currency":"EUR"}
 *                "8000"                    -> the original currency kept
 *   daterange    "2025-01-01 - 2025-02-01" -> {"value":…,"until":…} (also " – ")
 *   time         "09:30" / "09:30:00"      -> "09:30:00", or {"value","timezone_name"}
 *                                             when the original value was an object
 *   timerange    "09:00 - 17:00"           -> {"value","until"[,"timezone_name"]}
 *
 * An empty text clears the field (null).  Every other type (user, org,
 * people, address, deal, ...) shows names or formatted text that cannot be
 * mapped back: refused with "edit the .json instead".
 *
 * Pure; uses the resolver only for option labels.
 */
#ifndef PDFS_FIELD_TEXT_H
#define PDFS_FIELD_TEXT_H

#include <stddef.h>

#include <json-c/json.h>

#include "card_model.h"
#include "person_edit.h"

/*
 * text = the card's value (trimmed), name = the field's name (for
 * messages), original = the field's current JSON value or NULL.  Returns 0
 * and *value (a new object, NULL for JSON null), -ENOMEM, or -EINVAL with
 * msg saying what to do.
 */
int field_text_parse(const struct person_edit_field *field, const char *name, const char *text,
		     struct json_object *original, const struct person_edit_resolver *r,
		     struct json_object **value, char *msg, size_t msg_len);

/*
 * The custom fields of two cards compared by field name (X-ABLabel): for
 * each name whose value changed, was added or was removed, the field's key
 * (resolver) and its new value (field_text_parse; removed = null) go into
 * *changed (a new object, empty if nothing changed).  old = NULL for a new
 * person (then empty values are skipped).  custom_fields = the person's
 * current object or NULL.  A name given twice in a card with any change
 * under it is refused (which field is meant?).  Returns 0 / -EINVAL (msg) /
 * -ENOMEM.
 */
int field_text_diff(const struct card_model *old, const struct card_model *now,
		    struct json_object *custom_fields, const struct person_edit_resolver *r,
		    struct json_object **changed, char *msg, size_t msg_len);

#endif
