/*
 * bench_common.h - small helpers of the micro-benchmarks in bench/: CPU
 * time of the process, a whole file read into memory.
 */
#ifndef PDFS_BENCH_COMMON_H
#define PDFS_BENCH_COMMON_H

#include <stdio.h>
#include <time.h>

#include "strbuf.h"

static inline double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The file's bytes (malloc'd, NUL-terminated), or NULL. */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct strbuf b = STRBUF_INIT;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sb_append(&b, chunk, got);
	fclose(f);
	return sb_detach(&b, len);
}

#endif
