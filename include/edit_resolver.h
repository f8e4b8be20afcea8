/*
 * edit_resolver.h - the names a saved card uses, back to ids: label names
 * (CATEGORIES), custom field names (X-ABLabel), option labels, organization
 * names (ORG).  The person_edit_resolver (person_edit.h) of the write path,
 * over what meta knows: labels, fields and options are loaded once per
 * mount; an organization is known when some listing named it (every /by-org
 * listing names them all).
 *
 * A name two things share is -EEXIST, an unknown one -ENOENT: person_edit
 * turns both into a message saying what to do.  Thread-safe as meta is.
 */
#ifndef PDFS_EDIT_RESOLVER_H
#define PDFS_EDIT_RESOLVER_H

#include "meta.h"
#include "person_edit.h"

struct edit_resolver {
	struct meta *meta;
	struct person_edit_resolver r; /* hand &r to person_edit */
};

void edit_resolver_init(struct edit_resolver *er, struct meta *meta);

#endif
