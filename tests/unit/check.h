/*
 * check.h - the unit tests' few assertions.  Each failed check prints where
 * and what, and the test's main returns check_finish() (1 if any failed).
 */
#ifndef PDFS_CHECK_H
#define PDFS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		check_count++;                                                       \
		if (!(cond)) {                                                       \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

/* Compare a byte range with an expected C string, showing both on failure. */
#define CHECK_BYTES(data, len, expected)                                             \
	do {                                                                         \
		const char *exp_ = (expected);                                       \
		size_t len_ = (len);                                                 \
		check_count++;                                                       \
		if (len_ != strlen(exp_) || memcmp((data), exp_, len_) != 0) {       \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: expected [%s] (%zu bytes), got [%.*s] (%zu bytes)\n", \
				__FILE__, __LINE__, exp_, strlen(exp_), (int)len_, (const char *)(data), len_); \
		}                                                                    \
	} while (0)

/* The bytes of tests/unit/data/<name> (PDFS_TEST_DATA names the folder),
 * NUL-terminated, malloc'd; NULL (and a message) if it cannot be read. */
static inline char *check_read_data(const char *name, size_t *len)
{
	const char *dir = getenv("PDFS_TEST_DATA");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	if (buf)
		buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* A repeatable pseudo-random sequence (xorshift64) for randomized tests. */
static uint64_t check_random_state = 88172645463325252u;

static inline uint64_t check_random(void)
{
	check_random_state ^= check_random_state << 13;
	check_random_state ^= check_random_state >> 7;
	check_random_state ^= check_random_state << 17;
	return check_random_state;
}

/* qsort order of int64_t values. */
static inline int check_cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static inline int check_finish(const char *name)
{
	if (check_failures)
		fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
	else
		printf("%s: all %d checks passed\n", name, check_count);
	return check_failures ? 1 : 0;
}

#endif
