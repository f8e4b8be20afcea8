/*
 * store_codec.c - blob layouts of the persistent store and the checks on
 * what it reads back (see store_codec.h).
 */
#include "store_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "utf8.h"


void store_encode_ids_to(unsigned char *out, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++, out += STORE_ID_BYTES) {
		uint64_t v = (uint64_t)ids[i];
		for (int k = 0; k < STORE_ID_BYTES; k++)
			out[k] = (unsigned char)(v >> (8 * k));
	}
}

int store_decode_ids_to(const unsigned char *blob, size_t n, int64_t *prev, int64_t *out)
{
	for (size_t i = 0; i < n; i++, blob += STORE_ID_BYTES) {
		uint64_t v = 0;
		for (int k = 0; k < STORE_ID_BYTES; k++)
			v |= (uint64_t)blob[k] << (8 * k);
		int64_t id = (int64_t)v;
		if (id < 1 || id > NAMES_MAX_ID || id <= *prev)
			return -EINVAL;
		out[i] = *prev = id;
	}
	return 0;
}

void store_encode_names(struct strbuf *out, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (names && names[i])
			sb_puts(out, names[i]);
		sb_putc(out, '\0');
	}
}

void store_free_names(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Valid UTF-8, no "/" and no control characters. */
static bool is_clean_name(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f || cp == '/')
			return false;
		i += k;
	}
	return true;
}

int store_decode_names(const void *blob, size_t len, size_t count, char ***names)
{
	*names = NULL;
	if (count > SIZE_MAX / sizeof(char *) || (len && !blob) || len < count)
		return -EINVAL;
	char **out = calloc(count ? count : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	const char *p = blob, *end = p + len;
	for (size_t i = 0; i < count; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul) {
			store_free_names(out, count);
			return -EINVAL;
		}
		size_t n = (size_t)(nul - p);
		if (n > NAMES_NAME_MAX || !is_clean_name(p, n)) {
			store_free_names(out, count);
			return -EINVAL;
		}
		if (n && !(out[i] = strndup(p, n))) {
			store_free_names(out, count);
			return -ENOMEM;
		}
		p = nul + 1;
	}
	if (p != end) {
		store_free_names(out, count);
		return -EINVAL;
	}
	*names = out;
	return 0;
}

static bool id_ok(int64_t id, bool zero_ok)
{
	return (zero_ok && id == 0) || (id >= 1 && id <= NAMES_MAX_ID);
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int store_check_person_row(const struct store_person_row *r, const char **why)
{
	const char *problem = NULL;
	char tail[32];
	int tail_len = snprintf(tail, sizeof(tail), " (%" PRId64 ")", r->id);
	if (!id_ok(r->id, false))
		problem = "id out of range";
	else if (!id_ok(r->owner_id, true) || !id_ok(r->org_id, true))
		problem = "owner or organization id out of range";
	else if (r->update_time < 0)
		problem = "negative update time";
	else if (!r->base || r->base_len == 0 || r->base_len > NAMES_NAME_MAX ||
		 !is_clean_name(r->base, r->base_len) || r->base[0] == '.' ||
		 !ends_with(r->base, r->base_len, tail) || (size_t)tail_len >= r->base_len)
		problem = "file name";
	else if (!r->json || r->json_len < 2 || r->json[0] != '{' || r->json[r->json_len - 1] != '}' ||
		 memchr(r->json, '\0', r->json_len))
		problem = "JSON text";
	else if (r->pretty_len < r->json_len)
		problem = "JSON size";
	else if (!r->vcf || !starts_with(r->vcf, r->vcf_len, "BEGIN:VCARD\r\n") ||
		 !ends_with(r->vcf, r->vcf_len, "END:VCARD\r\n"))
		problem = "vCard text";
	if (why)
		*why = problem;
	return problem ? -EINVAL : 0;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool store_check_sync_time(const char *s, size_t n)
{
	if (n == 0)
		return true;
	/* YYYY-MM-DDTHH:MM:SSZ */
	if (n != 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) || s[19] != 'Z')
		return false;
	int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
	int hour = (s[11] - '0') * 10 + (s[12] - '0'), min = (s[14] - '0') * 10 + (s[15] - '0');
	int sec = (s[17] - '0') * 10 + (s[18] - '0');
	return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hour < 24 && min < 60 && sec < 61;
}
