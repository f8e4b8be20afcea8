/*
 * sha1.c - SHA-1 as specified in FIPS 180-4, streaming interface.
 * Written for pipedrivefs to compute RFC 4122 version 5 UUIDs.
 */
#include "sha1.h"

#include <string.h>

static uint32_t rotl32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void sha1_compress(uint32_t state[5], const unsigned char block[64])
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = load_be32(block + 4 * i);
	for (int i = 16; i < 80; i++)
		w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

	uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		uint32_t t = rotl32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rotl32(b, 30);
		b = a;
		a = t;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
}

void sha1_init(struct sha1_ctx *ctx)
{
	ctx->state[0] = 0x67452301;
	ctx->state[1] = 0xEFCDAB89;
	ctx->state[2] = 0x98BADCFE;
	ctx->state[3] = 0x10325476;
	ctx->state[4] = 0xC3D2E1F0;
	ctx->total_len = 0;
	ctx->block_used = 0;
}

void sha1_update(struct sha1_ctx *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;
	ctx->total_len += len;
	while (len > 0) {
		size_t take = sizeof ctx->block - ctx->block_used;
		if (take > len)
			take = len;
		memcpy(ctx->block + ctx->block_used, p, take);
		ctx->block_used += take;
		p += take;
		len -= take;
		if (ctx->block_used == sizeof ctx->block) {
			sha1_compress(ctx->state, ctx->block);
			ctx->block_used = 0;
		}
	}
}

void sha1_final(struct sha1_ctx *ctx, unsigned char digest[SHA1_DIGEST_LEN])
{
	uint64_t bit_len = ctx->total_len * 8;
	static const unsigned char pad_start = 0x80;
	static const unsigned char zero = 0;
	sha1_update(ctx, &pad_start, 1);
	while (ctx->block_used != 56)
		sha1_update(ctx, &zero, 1);
	unsigned char len_be[8];
	for (int i = 0; i < 8; i++)
		len_be[i] = (unsigned char)(bit_len >> (56 - 8 * i));
	sha1_update(ctx, len_be, sizeof len_be);
	for (int i = 0; i < 5; i++)
		store_be32(digest + 4 * i, ctx->state[i]);
}

void sha1(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_LEN])
{
	struct sha1_ctx ctx;
	sha1_init(&ctx);
	sha1_update(&ctx, data, len);
	sha1_final(&ctx, digest);
}
