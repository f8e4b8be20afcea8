/*
 * strbuf.h - a growable byte buffer with a sticky failure flag.
 *
 * Renderers append many small pieces; checking every append is noise, so a
 * failed allocation marks the buffer failed, later appends become no-ops, and
 * the caller checks sb_failed() once at the end.  The data is always
 * NUL-terminated (when not failed) so it can be logged, but may itself
 * contain NUL bytes; len is authoritative.
 */
#ifndef PDFS_STRBUF_H
#define PDFS_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct strbuf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, excluding the terminating NUL */
	size_t cap;   /* bytes allocated */
	bool failed;  /* an allocation failed; contents are unusable */
};

#define STRBUF_INIT { NULL, 0, 0, false }

void sb_init(struct strbuf *sb);
/* Make sure at least `extra` more bytes fit. Returns false (and marks failed) on ENOMEM. */
bool sb_reserve(struct strbuf *sb, size_t extra);
/* sb_append's slow path (growing, failure); call sb_append. */
void sb_append_grow(struct strbuf *sb, const void *data, size_t len);

/* Append len bytes (inline: renderers append many small pieces). */
static inline void sb_append(struct strbuf *sb, const void *data, size_t len)
{
	if (sb->data && !sb->failed && len < sb->cap - sb->len) {
		if (len)
			memcpy(sb->data + sb->len, data, len);
		sb->len += len;
		sb->data[sb->len] = '\0';
		return;
	}
	sb_append_grow(sb, data, len);
}

static inline void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

static inline void sb_putc(struct strbuf *sb, char c)
{
	if (sb->data && !sb->failed && sb->cap - sb->len > 1) {
		sb->data[sb->len++] = c;
		sb->data[sb->len] = '\0';
		return;
	}
	sb_append_grow(sb, &c, 1);
}
/* Append a decimal integer (no printf). */
void sb_put_int(struct strbuf *sb, int64_t v);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* Keep the allocation, drop the contents and the failure flag. */
void sb_reset(struct strbuf *sb);
/* Shorten to `len` bytes (no-op if already shorter). */
void sb_truncate(struct strbuf *sb, size_t len);
static inline bool sb_failed(const struct strbuf *sb) { return sb->failed; }
/* Hand the bytes to the caller (NUL-terminated, never NULL unless failed);
 * the buffer is left empty.  Returns NULL if the buffer failed. */
char *sb_detach(struct strbuf *sb, size_t *len);
void sb_free(struct strbuf *sb);

#endif
