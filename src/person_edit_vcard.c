/*
 * person_edit_vcard.c - an edited or new card -> v2 request body
 * (person_edit.h; the mapping is documented in docs/vcard.md, "Editing").
 *
 * Job: reduce the card the file was read from and the card the user saved
 * to the same logical model (card_model.h), compare them field by field, and
 * map only the fields that changed back to Pipedrive's shapes, keeping what
 * the card could not show (a label the renderer wrote as a plain TYPE, a
 * duplicate phone shown once, a label id without a name, address parts the
 * card has no slot for) from the original person.  Pure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_model.h"
#include "field_text.h"
#include "person_edit.h"
#include "person_edit_internal.h"
#include "vcard.h"
#include "vcard_parse.h"

struct edit {
	struct card_model old, now;
	bool have_old;                    /* false: a new person */
	struct json_object *person;       /* the original person, or NULL */
	const struct person_edit_resolver *r;
	const struct person_edit_place *place;
	struct json_object *body;
	struct person_edit_error *err;
};

static const struct person_edit_resolver no_resolver = { 0 };

static int add_text(struct edit *e, struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v = json_object_new_string(s);
	return v ? pe_add(obj, key, v, e->err) : pe_oom(e->err);
}

static int add_int(struct edit *e, struct json_object *obj, const char *key, int64_t n)
{
	struct json_object *v = json_object_new_int64(n);
	return v ? pe_add(obj, key, v, e->err) : pe_oom(e->err);
}

/* ------------------------------------------------------------------------ */
/* Names, single texts, birthday                                            */
/* ------------------------------------------------------------------------ */

static bool same_n(const struct card_model *a, const struct card_model *b)
{
	return a->has_n == b->has_n && !strcmp(a->family, b->family) &&
	       !strcmp(a->given, b->given) && !strcmp(a->additional, b->additional) &&
	       !strcmp(a->prefix, b->prefix) && !strcmp(a->suffix, b->suffix);
}

/* "prefix given additional family suffix", the parts that are there. */
static char *name_from_n(const struct card_model *m)
{
	const char *parts[] = { m->prefix, m->given, m->additional, m->family, m->suffix };
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < 5; i++) {
		if (!*parts[i])
			continue;
		if (sb.len)
			sb_putc(&sb, ' ');
		sb_puts(&sb, parts[i]);
	}
	if (!sb.data && !sb.failed)
		sb_puts(&sb, "");
	return sb_detach(&sb, NULL);
}

/*
 * FN is the person's name.  Pipedrive takes no first_name/last_name in a
 * request (it splits name itself), so a change of N alone is sent as the
 * name N spells.
 */
static int map_name(struct edit *e)
{
	const struct card_model *n = &e->now, *o = &e->old;
	bool fn_changed = !e->have_old || !card_text_equal(o->fn, n->fn);
	bool n_changed = n->has_n && (!e->have_old || !same_n(o, n));
	if (!fn_changed && !n_changed)
		return 0;
	char *name = fn_changed && n->fn ? strdup(n->fn) : name_from_n(n);
	if (!name)
		return pe_oom(e->err);
	int rc = 0;
	if (!*name) { /* an emptied N beside an FN says nothing */
		if (e->have_old && !n->fn)
			rc = pe_fail(e->err, "the card has no name (FN): a person needs one");
	} else if (!e->have_old || !card_text_equal(o->fn, name)) {
		rc = add_text(e, e->body, "name", name);
	}
	free(name);
	return rc;
}

/* TITLE -> job_title, NOTE -> notes; a removed line clears the field (""). */
static int map_text(struct edit *e, const char *key, const char *was, const char *now)
{
	if (e->have_old ? card_text_equal(was, now) : !now)
		return 0;
	return add_text(e, e->body, key, now ? now : "");
}

static int map_birthday(struct edit *e)
{
	const char *now = e->now.birthday;
	if (e->have_old ? card_text_equal(e->old.birthday, now) : !now)
		return 0;
	if (!now)
		return pe_add(e->body, "birthday", NULL, e->err);
	if (!e->now.birthday_is_date)
		return pe_fail(e->err, "BDAY \"%.40s\" is not a full date; Pipedrive needs "
				       "year, month and day (YYYY-MM-DD)", now);
	return add_text(e, e->body, "birthday", now);
}

/* ------------------------------------------------------------------------ */
/* ORG                                                                      */
/* ------------------------------------------------------------------------ */

static int64_t person_int(struct json_object *person, const char *key)
{
	struct json_object *v = pe_get(person, key);
	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

static int map_org(struct edit *e)
{
	const char *now = e->now.org;
	int64_t folder_org = e->place ? e->place->org_id : 0;
	if (e->have_old && card_text_equal(e->old.org, now))
		return 0;
	if (!now) /* ORG removed: the person leaves its organization */
		return e->have_old ? pe_add(e->body, "org_id", NULL, e->err) : 0;
	int64_t id = 0;
	int rc = e->r->org_id ? e->r->org_id(e->r->ctx, now, &id) : -ENOENT;
	if (rc == -EEXIST)
		return pe_fail(e->err, "several organizations are named \"%.60s\"; set org_id in the "
				       ".json instead", now);
	if (rc)
		return pe_fail(e->err, "no organization named \"%.60s\" in Pipedrive: create the "
				       "organization in Pipedrive first, then save the card again", now);
	if (folder_org > 0 && id != folder_org)
		return pe_fail(e->err, "ORG \"%.60s\" is not organization %lld of this by-org folder; "
				       "remove ORG or save the card in that organization's folder",
			       now, (long long)folder_org);
	if (folder_org > 0 || (e->have_old && id == person_int(e->person, "org_id")))
		return 0;
	return add_int(e, e->body, "org_id", id);
}

/* ------------------------------------------------------------------------ */
/* ADR -> postal_address                                                    */
/* ------------------------------------------------------------------------ */

static void append_part(struct strbuf *sb, const char *part, const char *sep)
{
	if (!*part)
		return;
	if (sb->len)
		sb_puts(sb, sep);
	sb_puts(sb, part);
}

/* The whole address as one line: "street, code locality, region, country". */
static char *formatted_address(const struct card_address *a)
{
	struct strbuf sb = STRBUF_INIT, city = STRBUF_INIT;
	append_part(&city, a->postal_code, " ");
	append_part(&city, a->locality, " ");
	append_part(&sb, a->pobox, ", ");
	append_part(&sb, a->street, ", ");
	append_part(&sb, a->extended, ", ");
	append_part(&sb, city.data ? city.data : "", ", ");
	append_part(&sb, a->region, ", ");
	append_part(&sb, a->country, ", ");
	if (!sb.data && !sb.failed)
		sb_puts(&sb, "");
	if (city.failed)
		sb.failed = true;
	sb_free(&city);
	return sb_detach(&sb, NULL);
}

/* A part of the original postal_address, or "" if it has none. */
static const char *original_part(struct json_object *pa, const char *key)
{
	struct json_object *v = pe_get(pa, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/*
 * All ten writable parts are sent, so nothing depends on whether Pipedrive
 * merges or replaces the object.  The card's street slot holds "number
 * route, subpremise" (or the whole address): while it is unchanged the
 * original route/street_number/subpremise are kept; once edited it cannot
 * be split reliably and goes whole into route.
 */
static int map_address(struct edit *e)
{
	const struct card_address *a = &e->now.address, *o = &e->old.address;
	if (e->have_old ? card_address_equal(o, a) : !a->present)
		return 0;
	if (!a->present)
		return pe_add(e->body, "postal_address", NULL, e->err);
	struct json_object *pa = e->have_old ? pe_get(e->person, "postal_address") : NULL;
	bool street_kept = e->have_old && o->present && !strcmp(o->street, a->street) &&
			   !strcmp(o->extended, a->extended) && !strcmp(o->pobox, a->pobox);
	bool locality_kept = street_kept && !strcmp(o->locality, a->locality);
	bool region_kept = street_kept && !strcmp(o->region, a->region);
	char *value = formatted_address(a);
	struct json_object *obj = json_object_new_object();
	if (!value || !obj) {
		free(value);
		json_object_put(obj);
		return pe_oom(e->err);
	}
	const char *pairs[][2] = {
		{ "value", value },
		{ "route", street_kept ? original_part(pa, "route") : a->street },
		{ "street_number", street_kept ? original_part(pa, "street_number") : "" },
		{ "subpremise", street_kept ? original_part(pa, "subpremise") : a->extended },
		{ "sublocality", locality_kept ? original_part(pa, "sublocality") : "" },
		{ "locality", a->locality },
		{ "admin_area_level_2", region_kept ? original_part(pa, "admin_area_level_2") : "" },
		{ "admin_area_level_1", a->region },
		{ "postal_code", a->postal_code },
		{ "country", a->country },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] && rc == 0; i++)
		rc = add_text(e, obj, pairs[i][0], pairs[i][1]);
	free(value);
	if (rc) {
		json_object_put(obj);
		return rc;
	}
	return pe_add(e->body, "postal_address", obj, e->err);
}

/* ------------------------------------------------------------------------ */
/* The edit                                                                 */
/* ------------------------------------------------------------------------ */

static int map_custom_fields(struct edit *e)
{
	struct json_object *changed = NULL;
	int rc = field_text_diff(e->have_old ? &e->old : NULL, &e->now,
				 pe_get(e->person, "custom_fields"), e->r, &changed,
				 e->err->message, sizeof e->err->message);
	if (rc)
		return rc;
	if (json_object_object_length(changed) == 0) {
		json_object_put(changed);
		return 0;
	}
	return pe_add(e->body, "custom_fields", changed, e->err);
}

/* The saved card must still be this person's. */
static int check_identity(struct edit *e)
{
	const struct card_model *o = &e->old, *n = &e->now;
	if (o->uid && n->uid && strcmp(o->uid, n->uid) != 0)
		return pe_fail(e->err, "UID changed (%.60s): the card now belongs to another contact; "
				       "restore the UID or create a new file", n->uid);
	if (o->pipedrive_id && n->pipedrive_id && strcmp(o->pipedrive_id, n->pipedrive_id) != 0)
		return pe_fail(e->err, "X-PIPEDRIVE-ID changed (%.30s): it is read-only", n->pipedrive_id);
	return 0;
}

static int map_all(struct edit *e)
{
	const struct card_model *old = e->have_old ? &e->old : NULL;
	struct json_object *p = e->have_old ? e->person : NULL;
	int rc;
	if ((e->have_old && (rc = check_identity(e))) || (rc = map_name(e)) ||
	    (rc = map_org(e)) || (rc = map_text(e, "job_title", e->old.title, e->now.title)) ||
	    (rc = pe_map_list("emails", true, old ? &old->emails : NULL, &e->now.emails,
			       pe_get(p, "emails"), e->body, e->err)) ||
	    (rc = pe_map_list("phones", true, old ? &old->phones : NULL, &e->now.phones,
			       pe_get(p, "phones"), e->body, e->err)) ||
	    /* the renderer shows every IM account, duplicates too */
	    (rc = pe_map_list("im", false, old ? &old->ims : NULL, &e->now.ims, pe_get(p, "im"),
			       e->body, e->err)) ||
	    (rc = map_birthday(e)) || (rc = map_address(e)) ||
	    (rc = map_text(e, "notes", e->old.note, e->now.note)) ||
	    (rc = pe_map_categories(old, &e->now, pe_get(p, "label_ids"), e->r, e->body, e->err)) ||
	    (rc = map_custom_fields(e)))
		return rc;
	return 0;
}

/* Parse a card and build its model; `which` names it in messages. */
static int read_card(const char *text, size_t len, const char *which, struct vcard_card **card,
		     struct card_model *m, struct person_edit_error *err)
{
	struct vcard_parse_error perr;
	int rc = vcard_parse(text, len, card, &perr);
	if (rc == -ENOMEM)
		return pe_oom(err);
	if (rc)
		return pe_fail(err, "%s: %s", which, perr.message);
	char msg[200];
	rc = card_model_build(*card, m, msg, sizeof msg);
	if (rc == -ENOMEM)
		return pe_oom(err);
	if (rc)
		return pe_fail(err, "%s: %s", which, msg);
	return 0;
}

static int finish(struct edit *e, int rc, struct json_object **body)
{
	if (rc) {
		json_object_put(e->body);
		return rc;
	}
	*body = e->body;
	return 0;
}

int person_edit_vcard(const char *card, size_t card_len, const char *edited, size_t edited_len,
		      struct json_object *person, const struct person_edit_resolver *r,
		      struct json_object **body, struct person_edit_error *err)
{
	struct person_edit_error scratch;
	struct edit e = { .have_old = true, .person = person, .r = r ? r : &no_resolver,
			  .err = err ? err : &scratch };
	struct vcard_card *old_card = NULL, *new_card = NULL;
	*body = NULL;
	e.err->message[0] = '\0';
	int rc = read_card(card, card_len, "the card as it was read (a bug: report it)", &old_card,
			   &e.old, e.err);
	if (rc == 0)
		rc = read_card(edited, edited_len, "the saved card", &new_card, &e.now, e.err);
	if (rc == 0)
		rc = (e.body = json_object_new_object()) ? map_all(&e) : pe_oom(e.err);
	rc = finish(&e, rc, body);
	vcard_card_free(old_card);
	vcard_card_free(new_card);
	return rc;
}

int person_create_vcard(const char *card, size_t len, const struct person_edit_place *place,
			const struct person_edit_resolver *r, struct json_object **body,
			struct person_edit_error *err)
{
	struct person_edit_error scratch;
	struct edit e = { .have_old = false, .r = r ? r : &no_resolver, .place = place,
			  .err = err ? err : &scratch };
	struct vcard_card *new_card = NULL;
	*body = NULL;
	e.err->message[0] = '\0';
	memset(&e.old, 0, sizeof e.old);
	e.old.family = e.old.given = e.old.additional = e.old.prefix = e.old.suffix = "";
	int rc = read_card(card, len, "the new card", &new_card, &e.now, e.err);
	if (rc == 0)
		rc = (e.body = json_object_new_object()) ? map_all(&e) : pe_oom(e.err);
	if (rc == 0)
		rc = pe_apply_place(e.body, place, e.err);
	rc = finish(&e, rc, body);
	vcard_card_free(new_card);
	return rc;
}
