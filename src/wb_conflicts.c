/*
 * wb_conflicts.c - conflict files: the user's text of every change that
 * ended unsent, kept in the journal (kind "conflict") when there is one,
 * listed, read and removed through /.pipedrivefs/conflicts (writeback.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "writeback_internal.h"

static const char *base_name(const char *where)
{
	const char *slash = strrchr(where, '/');
	return slash ? slash + 1 : where;
}

static bool conflict_exists(struct writeback *wb, const char *name)
{
	for (struct wb_conflict *c = wb->conflicts; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return true;
	return false;
}

/* Lock held: add a conflict file (takes name and text). */
void wb_conflict_add(struct writeback *wb, int64_t seq, char *name, char *text, size_t len,
		     time_t at)
{
	struct wb_conflict *c = calloc(1, sizeof(*c));
	if (!c) {
		free(name);
		free(text);
		return;
	}
	*c = (struct wb_conflict){ .id = seq > 0 ? (uint64_t)seq : ++wb->next_conflict_id,
				   .seq = seq, .name = name, .text = text, .len = len, .at = at };
	*wb->conflicts_tail = c;
	wb->conflicts_tail = &c->next;
	wb->nconflicts++;
}

static char *conflict_record(const char *name, const char *text, size_t len, const char *why)
{
	struct json_object *r = json_object_new_object();
	if (!r)
		return NULL;
	json_object_object_add(r, "v", json_object_new_int(1));
	json_object_object_add(r, "name", json_object_new_string(name));
	json_object_object_add(r, "text", json_object_new_string_len(text, (int)len));
	json_object_object_add(r, "why", json_object_new_string(why));
	const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
	char *copy = s && json_object_object_length(r) == 4 ? strdup(s) : NULL;
	json_object_put(r);
	return copy;
}

void wb_keep_conflict(struct writeback *wb, const struct wb_entry *e, const char *why)
{
	if (!e->text) {
		log_warn("%s: %s", e->where, why);
		return;
	}
	char stamp[32], name[300];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	pthread_mutex_lock(&wb->lock);
	snprintf(name, sizeof(name), "%s %.240s", stamp, base_name(e->where));
	for (int n = 2; conflict_exists(wb, name) && n < 1000; n++)
		snprintf(name, sizeof(name), "%s-%d %.240s", stamp, n, base_name(e->where));
	pthread_mutex_unlock(&wb->lock);
	char *copy = malloc(e->text_len + 1), *owned = strdup(name);
	int64_t seq = 0;
	char *record = copy && owned ? conflict_record(name, e->text, e->text_len, why) : NULL;
	bool durable = record && wb->cfg.store &&
		       store_journal_append(wb->cfg.store, "conflict", e->person_id, record, &seq) == 0;
	free(record);
	if (!copy || !owned) {
		free(copy);
		free(owned);
		log_error("%s: %s; out of memory keeping your text: it is lost", e->where, why);
		return;
	}
	memcpy(copy, e->text, e->text_len);
	copy[e->text_len] = '\0';
	pthread_mutex_lock(&wb->lock);
	wb_conflict_add(wb, durable ? seq : 0, owned, copy, e->text_len, now);
	pthread_mutex_unlock(&wb->lock);
	log_warn("%s: %s; your text is kept as /.pipedrivefs/conflicts/%s%s", e->where, why, name,
		 durable ? "" : " (until unmount: there is no journal)");
}

static void info_of(const struct wb_conflict *c, struct wb_conflict_info *out)
{
	out->id = c->id;
	snprintf(out->name, sizeof(out->name), "%s", c->name);
	out->len = c->len;
	out->at = c->at;
}

size_t writeback_conflicts(struct writeback *wb, struct wb_conflict_info **list)
{
	size_t n = 0;
	pthread_mutex_lock(&wb->lock);
	*list = malloc((wb->nconflicts ? wb->nconflicts : 1) * sizeof(**list));
	for (struct wb_conflict *c = wb->conflicts; c && *list; c = c->next)
		info_of(c, &(*list)[n++]);
	pthread_mutex_unlock(&wb->lock);
	return n;
}

static bool conflict_lookup(struct writeback *wb, const char *name, uint64_t id,
			    struct wb_conflict_info *out, char **text)
{
	bool found = false;
	pthread_mutex_lock(&wb->lock);
	for (struct wb_conflict *c = wb->conflicts; c && !found; c = c->next) {
		if (name ? strcmp(c->name, name) != 0 : c->id != id)
			continue;
		found = true;
		if (out)
			info_of(c, out);
		if (text && (*text = malloc(c->len + 1)))
			memcpy(*text, c->text, c->len + 1);
	}
	pthread_mutex_unlock(&wb->lock);
	return found;
}

bool writeback_conflict_find(struct writeback *wb, const char *name, struct wb_conflict_info *out)
{
	return conflict_lookup(wb, name, 0, out, NULL);
}

bool writeback_conflict_get(struct writeback *wb, uint64_t id, struct wb_conflict_info *out)
{
	return conflict_lookup(wb, NULL, id, out, NULL);
}

char *writeback_conflict_text(struct writeback *wb, uint64_t id, size_t *len)
{
	struct wb_conflict_info info;
	char *text = NULL;
	if (!conflict_lookup(wb, NULL, id, &info, &text))
		return NULL;
	*len = info.len;
	return text;
}

int writeback_conflict_remove(struct writeback *wb, uint64_t id)
{
	pthread_mutex_lock(&wb->lock);
	struct wb_conflict **link = &wb->conflicts, *c = NULL;
	while (*link && (*link)->id != id)
		link = &(*link)->next;
	if ((c = *link)) {
		*link = c->next;
		if (wb->conflicts_tail == &c->next)
			wb->conflicts_tail = link;
		wb->nconflicts--;
	}
	pthread_mutex_unlock(&wb->lock);
	if (!c)
		return -ENOENT;
	if (c->seq && wb->cfg.store)
		store_journal_remove(wb->cfg.store, c->seq);
	free(c->name);
	free(c->text);
	free(c);
	return 0;
}
