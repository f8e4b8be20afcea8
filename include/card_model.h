/*
 * card_model.h - what a parsed vCard says about a Pipedrive person.
 *
 * The logical model both the card a file was read from and the card a user
 * saved are reduced to, so that person_edit can compare them field by field
 * whatever order, case, grouping, folding or version the writer used
 * (khard re-emits every property in its own order and case).
 *
 * Pure; every string lives in the card's arena (vcard_parse.h), so the model
 * needs no freeing of its own and must not outlive the card.  All text is as
 * decoded from the card, trimmed of surrounding white space.
 *
 * Read: FN, N, EMAIL, TEL, IMPP, TITLE, NOTE, BDAY, ADR, ORG, CATEGORIES,
 * itemN.X-PIPEDRIVE-FIELD + itemN.X-ABLabel, UID, X-PIPEDRIVE-ID.
 * Ignored (Pipedrive cannot hold them, or they only repeat what is mapped):
 * everything else, e.g. PHOTO, REV, PRODID, KIND, URL, NICKNAME, the 3.0
 * X-SKYPE/X-JABBER/... copies of IMPP, X-PIPEDRIVE-ORG-ID, -OWNER-ID,
 * -LABEL-ID.
 */
#ifndef PDFS_CARD_MODEL_H
#define PDFS_CARD_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"
#include "vcard_parse.h"

/* One e-mail, phone or IM account. */
struct card_entry {
	const char *value; /* IMPP: the URI without its scheme, %XX decoded; TEL: no "tel:" */
	/*
	 * The label the card gives, in Pipedrive's terms:
	 *   EMAIL: "work", "home", or "" (no usable type);
	 *   TEL:   "work", "home", "mobile" (CELL), or "";
	 *   IMPP:  the service in lower case ("skype", "jabber", ...) from
	 *          X-SERVICE-TYPE or the URI scheme, a custom service as
	 *          written, or "";
	 * a custom label (itemN.X-ABLabel in the same group, or an "X-name"
	 * TYPE as khard writes it) wins over all of these, as written.
	 */
	const char *label;
	bool primary; /* the single most preferred entry of its list (PREF / TYPE=pref) */
};

struct card_list {
	struct card_entry *items;
	size_t n;
};

/* itemN.X-PIPEDRIVE-FIELD:<value> with itemN.X-ABLabel:<label> */
struct card_field {
	const char *label;
	const char *value;
};

struct card_address {
	bool present;
	/* ADR components; several items of one component joined with ", " */
	const char *pobox, *extended, *street, *locality, *region, *postal_code, *country;
};

struct card_model {
	const char *fn;      /* NULL if the card has no FN */
	bool has_n;
	const char *family, *given, *additional, *prefix, *suffix; /* N, "" when absent */
	struct card_list emails, phones, ims;
	const char *title, *note, *org; /* NULL when absent */
	const char *birthday; /* BDAY as YYYY-MM-DD when it is a full date, else as written; NULL if absent */
	bool birthday_is_date;
	struct card_address address;
	const char **categories; /* in card order, duplicates removed */
	size_t n_categories;
	struct card_field *fields;
	size_t n_fields;
	const char *uid, *pipedrive_id; /* NULL when absent */
};

/*
 * Build the model of `card` into *m.  Returns 0, -ENOMEM, or -EINVAL with a
 * message in msg[0..msg_len) when the card says something Pipedrive cannot
 * hold as one value: FN, N, TITLE, NOTE, BDAY, ORG or ADR given twice, an
 * X-PIPEDRIVE-FIELD without its X-ABLabel.
 */
int card_model_build(struct vcard_card *card, struct card_model *m, char *msg, size_t msg_len);

/* Exactly "YYYY-MM-DD" with a real calendar date (year 0001-9999). */
bool card_is_date(const char *s, size_t n);

/* Order-insensitive equality of two lists (value, label, primary). */
bool card_list_equal(const struct card_list *a, const struct card_list *b);
/* Order-insensitive equality of two category lists. */
bool card_categories_equal(const struct card_model *a, const struct card_model *b);
bool card_address_equal(const struct card_address *a, const struct card_address *b);
/* Equality of two possibly-NULL strings (NULL equals only NULL). */
bool card_text_equal(const char *a, const char *b);
/* Whole-model equality (lists and categories ignoring order; fields in order). */
bool card_model_equal(const struct card_model *a, const struct card_model *b);

/* Append a vCard (3.0 or 4.0) that card_model_build reads back as an equal
 * model: the fuzz harness checks parse -> model -> card -> model. */
void card_model_print(const struct card_model *m, enum vcard_version version, struct strbuf *out);

#endif
