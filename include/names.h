/*
 * names.h - the file and directory names of the tree, both ways.
 *
 * A person's files are "<Name> (<id>).json" and "<Name> (<id>).vcf".  <Name>
 * is the person's name made safe: invalid UTF-8 becomes U+FFFD, "/" and
 * control characters (C0 and DEL) become "_", leading dots are removed, an
 * empty result is "Unnamed", and it is cut (never inside a UTF-8 character)
 * so that the longer of the two file names fits in NAME_MAX (255) bytes.
 * Directory names are canonical decimal ids: no sign, no leading zero.
 * Pure functions.
 */
#ifndef PDFS_NAMES_H
#define PDFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define NAMES_MAX_ID INT64_C(9007199254740991) /* 2^53 - 1: ids are JSON numbers */
#define NAMES_NAME_MAX 255

enum person_file {
	PERSON_FILE_JSON = 0,
	PERSON_FILE_VCF = 1,
};

/* ".json" or ".vcf" */
const char *names_extension(enum person_file kind);

/* Append "<safe name> (<id>)" (the part before the extension) to out.
 * name may be NULL; n is its length in bytes. */
void names_person_base(struct strbuf *out, const char *name, size_t n, int64_t id);

/* Append the name of a /by-owner, /by-org or /by-filter link for an owner,
 * organization or filter called `name`: the same cleaning as person names,
 * without the id, and without leading or trailing spaces.  Returns false
 * (and appends nothing) if the result would be empty, all digits, or digits
 * and ".vcf" - such names get no link (they are the names of the id folders
 * and of their folder files). */
bool names_group_link(struct strbuf *out, const char *name, size_t n);

/* True if s[0..n) is non-empty and only digits (a name reserved for ids). */
bool names_all_digits(const char *s, size_t n);

/* Parse a canonical decimal id in 1..NAMES_MAX_ID; false otherwise. */
bool names_parse_id(const char *s, size_t n, int64_t *id);

/* Split "<anything> (<id>).json|.vcf" into id, kind and the length of the
 * base ("<anything> (<id>)").  False if the name does not have that shape. */
bool names_parse_person_file(const char *name, size_t n, int64_t *id,
			     enum person_file *kind, size_t *base_len);

#endif
