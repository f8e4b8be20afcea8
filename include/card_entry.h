/*
 * card_entry.h - one EMAIL, TEL or IMPP property <-> struct card_entry (a
 * value, its label in Pipedrive's terms, primary), both directions; and the
 * X-ABLabel of a property's group.  The part of card_model.h that knows the
 * spellings of labels: TYPE values, Apple's itemN.X-ABLabel, khard's
 * "X-name" types, IMPP services and URI schemes.
 *
 * Pure; strings live in the card's arena.
 */
#ifndef PDFS_CARD_ENTRY_H
#define PDFS_CARD_ENTRY_H

#include <stdbool.h>

#include "card_model.h"
#include "strbuf.h"
#include "vcard_parse.h"

enum card_entry_kind { CARD_EMAIL, CARD_TEL, CARD_IMPP };

/* The card's itemN.X-ABLabel lines by group (built once per card, so a
 * card with thousands of groups stays linear-logarithmic). */
struct card_labels;

/* Build the index in the card's arena; NULL on ENOMEM. */
struct card_labels *card_labels_index(struct vcard_card *card);

/* The first X-ABLabel of p's group, trimmed ("_$!<Mobile>!$_" -> "mobile"),
 * or NULL when p has no group or the group no label.  NULL also on ENOMEM. */
const char *card_group_label(const struct card_labels *labels, struct vcard_card *card,
			     const struct vcard_prop *p);

/* Read p into *e (value and label as card_model.h describes them; primary
 * false: the list decides).  Returns 0 or -ENOMEM.  An empty value means
 * the property says nothing. */
int card_entry_read(const struct card_labels *labels, struct vcard_card *card,
		    const struct vcard_prop *p, enum card_entry_kind kind, struct card_entry *e);

/* Append e as a folded property line (plus itemN.X-ABLabel when its label
 * has no TYPE spelling) that card_entry_read reads back as e; *item counts
 * the itemN groups used so far. */
void card_entry_print(const struct card_entry *e, enum card_entry_kind kind, bool v4,
		      unsigned *item, struct strbuf *out);

#endif
