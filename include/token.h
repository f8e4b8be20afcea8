/*
 * token.h - the API token: read from its one source, trimmed, checked.
 *
 * The token comes from exactly one of
 *   - the environment variable PIPEDRIVE_API_TOKEN (set and not empty),
 *   - a token file: the first line of a regular file that belongs to the
 *     user and that nobody else may read or write (mode 0600 or 0400; a
 *     symbolic link is not followed),
 *   - a token command: the first line of its standard output
 *     (token_command.h: no shell, a timeout, its stderr passes through).
 * Two sources given is an error (an empty PIPEDRIVE_API_TOKEN counts as not
 * given).  PIPEDRIVE_API_TOKEN is wiped and removed from the environment
 * whatever the outcome, so /proc/PID/environ never shows it.  Blanks and line
 * ends around the token are dropped; an empty token or one holding a control
 * character is refused.  Messages name the source, never the token.
 */
#ifndef PDFS_TOKEN_H
#define PDFS_TOKEN_H

#include <stddef.h>

struct token_sources {
	const char *file;     /* token_file, or NULL */
	const char *command;  /* token_command, or NULL */
	int command_timeout_ms;
	const char *config;   /* the config file read, for messages, or NULL */
};

/* The source in use as its option name: "token_command", "token_file" or
 * "PIPEDRIVE_API_TOKEN" (for the status file). */
const char *token_source_name(const struct token_sources *src);

/* A malloc'd token (the caller wipes it with explicit_bzero and frees it),
 * or NULL with a message in err. */
char *token_read(const struct token_sources *src, char *err, size_t errlen);

#endif
