/*
 * store_codec.h - the byte layouts the persistent store keeps in its blobs,
 * and the checks every value read back must pass before anyone uses it.
 *
 * A database can be scribbled on (a disk error, another program, a crash of
 * an older version): nothing read from it is trusted.  A value that fails a
 * check is reported (-EINVAL) and the caller drops that row; it never
 * crashes and never reaches a file.  Pure: no I/O, no SQLite.
 *
 *   ids    n little-endian int64, strictly ascending, each in 1..2^53-1
 *   names  n strings, each ended by one NUL; "" means "no name"; a name is
 *          valid UTF-8 without "/" or control characters
 */
#ifndef PDFS_STORE_CODEC_H
#define PDFS_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define STORE_ID_BYTES 8 /* one id in an ids blob */

/* The blob of ids[0..n) (strictly ascending) into out[0..n *
 * STORE_ID_BYTES); a big blob is written piece by piece. */
void store_encode_ids_to(unsigned char *out, const int64_t *ids, size_t n);
/* Decode n ids of a blob (read piece by piece) into out[0..n): *prev is the
 * id before the piece (0 before the first) and becomes its last.  0, or
 * -EINVAL if a value is out of range or not above the one before.  The
 * blob's length is the caller's to check (count * STORE_ID_BYTES). */
int store_decode_ids_to(const unsigned char *blob, size_t n, int64_t *prev, int64_t *out);

/* Append the blob of names[0..n) (NULL entries become ""). */
void store_encode_names(struct strbuf *out, char *const *names, size_t n);
/* Decode a blob of exactly `count` names: 0 and a malloc'd array of malloc'd
 * strings (NULL for ""), -EINVAL, -ENOMEM. */
int store_decode_names(const void *blob, size_t len, size_t count, char ***names);
void store_free_names(char **names, size_t count);

/* A person row as read back. */
struct store_person_row {
	int64_t id, owner_id, org_id, update_time;
	bool deleted;
	const char *base;
	size_t base_len;
	const char *json; /* compact JSON as the API sent it */
	size_t json_len;
	size_t pretty_len; /* bytes of the .json file */
	const char *vcf;
	size_t vcf_len;
};

/* 0 if the row is plausible: id in range, owner/org ids 0 or in range, a base
 * that is a valid file name ending in " (<id>)", JSON text that is one object
 * ({...}) no longer than its pretty form, a vCard that begins and ends as
 * one.  -EINVAL otherwise, with the first problem in why (may be NULL). */
int store_check_person_row(const struct store_person_row *row, const char **why);

/* True for "" and for whole-second RFC 3339 UTC ("2026-11-28T08:25:50Z"). */
bool store_check_sync_time(const char *s, size_t n);

#endif
