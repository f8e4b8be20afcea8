/*
 * meta.h - what the company's other endpoints tell about persons: the names
 * of organizations (for ORG and org custom fields), of users (user custom
 * fields) and of persons (people custom fields), the label names (for
 * CATEGORIES), and the custom fields' names, types and option labels (for
 * the labelled X-PIPEDRIVE-FIELD lines).
 *
 * Knows the JSON shapes of /organizations, /users and /personFields (read
 * from scanned answers, jsonscan.h), not HTTP or FUSE.
 *
 * Names are kept until the caller decides they are too old: each lookup says
 * from when on a name counts (time passed in by the caller, monotonic
 * seconds), and meta_names_expire() forgets the age of all of them at once
 * (SIGHUP).  Each name is an immutable, reference-counted struct meta_name:
 * a person pins the names its card was rendered with (meta_names_pin), so a
 * card rendered again later shows the same names even after meta learnt new
 * ones.
 *
 * Person fields are a struct meta_fields: built from /personFields pages,
 * then installed once per mount; immutable from then on and read without a
 * lock.  An installed set lives until meta_free, also when a later one
 * replaces it, so persons built with it can render their cards again.
 * Thread-safe.
 */
#ifndef PDFS_META_H
#define PDFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldtext.h"
#include "jsonscan.h"
#include "strbuf.h"
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

/* ---- names ---------------------------------------------------------- */

/* valid_after for a name however old (also after meta_names_expire). */
#define META_ANY_AGE (-1.0)

/* The name of an organization, user or person, if it was stored at or after
 * valid_after and after the last meta_names_expire(). */
enum meta_name_state meta_name(struct meta *m, enum meta_kind kind, int64_t id,
			       double valid_after, char *buf, size_t len);
/* Record a name (NULL or "": asked, none) fetched at `now`. */
void meta_name_store(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		     double now);
/* The same for name[0..len) (NUL bytes cut it short, as in a C string). */
void meta_name_store_n(struct meta *m, enum meta_kind kind, int64_t id, const char *name,
		       size_t len, double now);
/* The same for a name that can be had again without a request (a person
 * the persistent store holds, or one of the page being built), held for the
 * caller's walk (a new reference, or NULL without memory): meta lets such a
 * name go when the last walk holding it lets go (meta_name_release), and a
 * card rendered later takes it from the person name source.  Under
 * cache_max_mb, so that the names meta keeps do not grow with the company. */
struct meta_name *meta_name_store_held(struct meta *m, enum meta_kind kind, int64_t id,
				       const char *name, size_t len, double now);
/* Record an organization object of /organizations (id and name). */
void meta_org_store(struct meta *m, const struct jsonscan_doc *d, uint32_t org, double now);
/* Record the users of /api/v1/users, an array (id and name each).  User
 * names are loaded once per mount (and again whenever /by-owner is listed). */
void meta_users_store(struct meta *m, const struct jsonscan_doc *d, uint32_t users, double now);
bool meta_users_loaded(struct meta *m);
/* How many person names meta holds (under cache_max_mb only those in use). */
size_t meta_person_names(struct meta *m);
/* Every name stored so far counts as too old from now on (SIGHUP). */
void meta_names_expire(struct meta *m, double now);

/* A name as meta knew it at one moment (never empty). */
struct meta_name;
const char *meta_name_text(const struct meta_name *n); /* NUL-terminated */
size_t meta_name_len(const struct meta_name *n);
struct meta_name *meta_name_ref(struct meta_name *n);
void meta_name_unref(struct meta_name *n);

/* Hold the name meta has for (kind, id), however old, for a walk (a new
 * reference; its text may be empty: asked, none), or NULL.  A held name
 * stays in meta until released. */
struct meta_name *meta_name_hold(struct meta *m, enum meta_kind kind, int64_t id);
/* A walk lets go of a name meta_name_store_held or meta_name_hold gave.
 * Holds are counted per id (a newer name stored meanwhile takes them over):
 * when no walk holds the id any more, a forgettable name leaves meta (the
 * cards rendered with it keep their own reference).  A name learnt for good
 * (meta_name_store) stays so when a held store replaces it. */
void meta_name_release(struct meta *m, enum meta_kind kind, int64_t id, struct meta_name *n);
/* Where a card finds a person name meta does not have (one it forgot): the
 * name into out and 1, 0 if there is none to be had, -1 without memory.
 * Called without meta's lock, from the thread rendering the card. */
typedef int (*meta_person_name_fn)(void *ctx, int64_t id, char **out, size_t *len);
void meta_set_person_name_source(struct meta *m, meta_person_name_fn fn, void *ctx);

/* A record whose name a card may show. */
struct meta_ref {
	enum meta_kind kind;
	int64_t id;
};

/* The current names of refs[0..n), however old, as new references: out[i]
 * is NULL when none is known.  One lock for all of them; a person name meta
 * forgot comes from the person name source after it.  False when that ran
 * out of memory (a card must not be built without a name it has). */
bool meta_names_pin(struct meta *m, const struct meta_ref *refs, size_t n,
		    struct meta_name **out);

/* ---- person fields -------------------------------------------------- */

/* Label names and custom field definitions (name, type, option labels). */
struct meta_fields;

struct meta_fields *meta_fields_new(void);
void meta_fields_free(struct meta_fields *f); /* one never installed */
/* Add the items of one /personFields page (an array).  False when out of
 * memory (the set is then incomplete: do not install it). */
bool meta_fields_add(struct meta_fields *f, const struct jsonscan_doc *d, uint32_t items);
/* Install f (meta owns it from now on, see above). */
void meta_person_fields_install(struct meta *m, struct meta_fields *f);
/* Build and install from the JSON text of an array of /personFields items:
 * 0, -EINVAL (not strict JSON) or -ENOMEM. */
int meta_person_fields_store_text(struct meta *m, const char *json, size_t len);
bool meta_person_fields_loaded(struct meta *m);
/* The installed set (an empty one before any), valid until meta_free. */
const struct meta_fields *meta_fields_current(struct meta *m);
/* True if key is a known custom field key (person fields must be loaded). */
bool meta_custom_field_known(struct meta *m, const char *key);
/* True if some custom field is of this type. */
bool meta_has_field_type(struct meta *m, enum fieldtext_type type);
bool meta_fields_has_type(const struct meta_fields *f, enum fieldtext_type type);

/* A vcard_label_name_fn over a set's label names; ctx is the const struct
 * meta_fields.  Integer ids and numeric string ids match each other. */
const char *meta_label_name(void *fields, const struct vcard_id *label_id);

/* Call fn for each organization, user or person a person's custom_fields
 * object refers to (fields of type org, user, people).  scratch holds
 * unescaped keys and the like; false when it ran out of memory. */
bool meta_each_reference(const struct meta_fields *f, const struct jsonscan_doc *d,
			 uint32_t custom_fields,
			 void (*fn)(void *ctx, enum meta_kind kind, int64_t id), void *ctx,
			 struct arena *scratch);

/* Where custom fields find the names of users, organizations and persons:
 * the name or NULL. */
typedef const char *(*meta_name_fn)(void *ctx, enum meta_kind kind, int64_t id);

/*
 * The custom fields of a person (its custom_fields object) as (name, value
 * text) pairs for the vCard, each value as the Pipedrive UI shows it
 * (fieldtext.h), names of records through name(ctx, ...).  Fields without
 * text are skipped.  Fills at most max entries; their strings live in
 * *storage (reset first), valid until it changes.  scratch (required) holds
 * unescaped strings.  Returns the count.
 */
size_t meta_custom_fields(const struct meta_fields *f, const struct jsonscan_doc *d,
			  uint32_t custom_fields, meta_name_fn name, void *ctx,
			  struct arena *scratch, struct vcard_field *out, size_t max,
			  struct strbuf *storage);

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
