#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token_command.h"

#define ENV_NAME "PIPEDRIVE_API_TOKEN"

const char *token_source_name(const struct token_sources *src)
{
	return src->command ? "token_command" : src->file ? "token_file" : ENV_NAME;
}

/* Drop blanks and line ends around t, then refuse an empty token or one with
 * a control character; what names the source in the message. */
static int clean_token(char *t, const char *what, char *err, size_t errlen)
{
	size_t n = strlen(t);
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	size_t start = strspn(t, " \t");
	if (start)
		memmove(t, t + start, n - start + 1);
	if (t[0] == '\0') {
		snprintf(err, errlen, "%s holds no token on its first line", what);
		return -1;
	}
	for (const unsigned char *c = (const unsigned char *)t; *c; c++) {
		if (*c < 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "%s: the token holds a control character (byte 0x%02x); "
					      "copy it again from Pipedrive, Personal preferences > API",
				 what, *c);
			return -1;
		}
	}
	return 0;
}

/* The first line of a private token file, not cleaned yet. */
static char *read_token_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open token_file %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token_file %s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "token_file %s belongs to uid %u, not to you (uid %u): a token file must be "
			 "yours and readable only by you", path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "token_file %s is readable or writable by others (mode %04o); refusing it. "
			 "Fix with: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "token_file %s is empty or unreadable", path);
		return NULL;
	}
	const char *newline = memchr(buf, '\n', (size_t)n);
	size_t len = newline ? (size_t)(newline - buf) : (size_t)n;
	if (memchr(buf, '\0', len)) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen, "token_file %s holds a NUL byte on its first line: is it a "
				      "text file with the token?", path);
		return NULL;
	}
	buf[len] = '\0';
	char *token = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!token)
		snprintf(err, errlen, "out of memory");
	return token;
}

/* Copy PIPEDRIVE_API_TOKEN if it is set and not empty, and in any case wipe
 * it and remove it from the environment.  *copy is NULL when not given. */
static int take_env_token(char **copy, char *err, size_t errlen)
{
	*copy = NULL;
	char *env = getenv(ENV_NAME);
	if (!env)
		return 0;
	int rc = 0;
	if (*env) {
		*copy = strdup(env);
		if (!*copy) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
	}
	/* Do not leave the secret readable in /proc/PID/environ. */
	explicit_bzero(env, strlen(env));
	unsetenv(ENV_NAME);
	return rc;
}

static void discard(char **token)
{
	if (*token) {
		explicit_bzero(*token, strlen(*token));
		free(*token);
		*token = NULL;
	}
}

char *token_read(const struct token_sources *src, char *err, size_t errlen)
{
	char *token = NULL;
	if (take_env_token(&token, err, errlen) != 0)
		return NULL;
	const char *given[3];
	int count = 0;
	if (token)
		given[count++] = ENV_NAME;
	if (src->file)
		given[count++] = "token_file";
	if (src->command)
		given[count++] = "token_command";
	if (count > 1) {
		discard(&token);
		char list[80];
		if (count == 2)
			snprintf(list, sizeof(list), "%s and %s", given[0], given[1]);
		else
			snprintf(list, sizeof(list), "%s, %s and %s", given[0], given[1], given[2]);
		if (src->config)
			snprintf(err, errlen, "the API token comes from one place only, but %s are "
					      "given (options may come from the config file %s); keep one",
				 list, src->config);
		else
			snprintf(err, errlen, "the API token comes from one place only, but %s are "
					      "given; keep one", list);
		return NULL;
	}
	char what[320] = ENV_NAME;
	if (src->file) {
		token = read_token_file(src->file, err, errlen);
		snprintf(what, sizeof(what), "token_file %.290s", src->file);
	} else if (src->command) {
		token = token_command_run(src->command, src->command_timeout_ms, err, errlen);
		snprintf(what, sizeof(what), "the output of token_command");
	} else if (!token) {
		snprintf(err, errlen,
			 "no API token: set " ENV_NAME ", or pass -o token_file=PATH or "
			 "-o token_command=CMD (find the token in Pipedrive under Personal "
			 "preferences > API)");
		return NULL;
	}
	if (token && clean_token(token, what, err, errlen) != 0)
		discard(&token);
	return token;
}
