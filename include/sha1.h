/*
 * sha1.h - a small SHA-1 (FIPS 180-4), used only to derive UUIDv5 values.
 * Not for security: SHA-1 is broken for collision resistance.
 */
#ifndef PDFS_SHA1_H
#define PDFS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

struct sha1_ctx {
	uint32_t state[5];
	uint64_t total_len;      /* bytes hashed so far */
	unsigned char block[64]; /* pending partial block */
	size_t block_used;
};

void sha1_init(struct sha1_ctx *ctx);
void sha1_update(struct sha1_ctx *ctx, const void *data, size_t len);
void sha1_final(struct sha1_ctx *ctx, unsigned char digest[SHA1_DIGEST_LEN]);
/* One-shot convenience. */
void sha1(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_LEN]);

#endif
