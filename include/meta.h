/*
 * meta.h - what the company's other endpoints tell about persons: the names
 * of organizations (for ORG and org custom fields), of users (user custom
 * fields) and of persons (people custom fields), the label names (for
 * CATEGORIES), and the custom fields' names, types and option labels (for
 * the labelled X-PIPEDRIVE-FIELD lines).
 *
 * Knows the JSON shapes of /organizations, /users and /personFields, not
 * HTTP or FUSE.  Names are kept until the caller decides they are too old:
 * each lookup says from when on a name counts (time passed in by the caller,
 * monotonic seconds), and meta_names_expire() forgets the age of all of them
 * at once (SIGHUP).  Person fields are loaded once per mount.  Thread-safe.
 */
#ifndef PDFS_META_H
#define PDFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fieldtext.h"
#include "vcard.h"

struct meta;

enum meta_kind {
	META_ORG,
	META_USER,
	META_PERSON,
};

enum meta_name_state {
	META_NAME_UNKNOWN, /* never asked, or asked before valid_after: fetch it */
	META_NAME_KNOWN,   /* name copied into the buffer */
	META_NAME_NONE,    /* asked: no such record (or it has no name) */
};

struct meta *meta_new(void);
void meta_free(struct meta *m);

/* valid_after for a name however old (also after meta_names_expire). */
#define META_ANY_AGE (-1.0)

/* The name of an organization, user or person, if it was stored at or after
 * valid_after and after the last meta_names_expire(). */
enum meta_name_state meta_name(struct meta *m, enum meta_kind kind, int64_t id,
			       double valid_after, char *buf, size_t len);
/* Record a name (NULL or "": asked, none) fetched at `now`. */
void meta_name_store(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		     double now);
/* Record an organization object from /organizations (id and name). */
void meta_org_store(struct meta *m, struct json_object *org, double now);
/* Record the users of /api/v1/users (id and name each).  User names are
 * loaded once per mount (and again whenever /by-owner is listed). */
void meta_users_store(struct meta *m, struct json_object *users, double now);
bool meta_users_loaded(struct meta *m);
/* Every name stored so far counts as too old from now on (SIGHUP). */
void meta_names_expire(struct meta *m, double now);

/* Load /personFields items (call once; later calls replace). */
void meta_person_fields_store(struct meta *m, struct json_object *items);
bool meta_person_fields_loaded(struct meta *m);
/* True if key is a known custom field key (person fields must be loaded). */
bool meta_custom_field_known(struct meta *m, const char *key);
/* True if some custom field is of this type. */
bool meta_has_field_type(struct meta *m, enum fieldtext_type type);

/* A vcard_label_name_fn over the loaded label names; ctx is the meta.
 * Integer ids and numeric string ids match each other. */
const char *meta_label_name(void *meta, const struct vcard_id *label_id);

/* Call fn for each organization, user or person a person's custom fields
 * refer to (fields of type org, user, people).  Called with meta's lock
 * held: fn must not call meta. */
void meta_each_reference(struct meta *m, struct json_object *custom_fields,
			 void (*fn)(void *ctx, enum meta_kind kind, int64_t id), void *ctx);

/* The custom fields of a person as (name, value text) pairs, for the vCard,
 * each value as the Pipedrive UI shows it (fieldtext.h) with the names
 * stored here.  Fields without text are skipped.  Fills at most max entries
 * whose strings live in *storage (free with free()). */
size_t meta_custom_fields(struct meta *m, struct json_object *custom_fields,
			  struct vcard_field *out, size_t max, char **storage);

/*
 * Walking what is known, for the write path's look-ups of names back to ids
 * (edit_resolver.h).  fn runs with meta's lock held: it must not call meta;
 * its string arguments live as long as meta (labels, fields and options are
 * loaded once per mount) or, for names, until the call returns.
 */
/* Every stored name of a kind (organizations, users, persons), any age. */
void meta_each_name(struct meta *m, enum meta_kind kind,
		    void (*fn)(void *ctx, int64_t id, const char *name), void *ctx);
/* The options of custom field `key`, or with key NULL the person labels. */
void meta_each_option(struct meta *m, const char *key,
		      void (*fn)(void *ctx, const struct vcard_id *id, const char *label), void *ctx);
/* Every custom field: key, name, field_type as the API sent it. */
void meta_each_custom_field(struct meta *m,
			    void (*fn)(void *ctx, const char *key, const char *name,
				       const char *type),
			    void *ctx);

#endif
