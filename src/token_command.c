#include "token_command.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"

/* ---- word splitting ---------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Characters a shell would interpret wherever they stand unquoted. */
static bool is_shell_special(char c)
{
	return c != '\0' && strchr("|&;<>()$`*?[", c) != NULL;
}

static bool push_word(char ***words, size_t *count, const struct strbuf *word)
{
	char **grown = realloc(*words, (*count + 2) * sizeof(**words));
	if (!grown)
		return false;
	*words = grown;
	char *copy = malloc(word->len + 1);
	if (!copy)
		return false;
	if (word->len)
		memcpy(copy, word->data, word->len);
	copy[word->len] = '\0';
	grown[(*count)++] = copy;
	grown[*count] = NULL;
	return true;
}

void token_command_free_words(char **words)
{
	for (size_t i = 0; words && words[i]; i++)
		free(words[i]);
	free(words);
}

#define NO_SHELL "the command runs without a shell"

char **token_command_split(const char *cmdline, char *err, size_t errlen)
{
	struct strbuf word = STRBUF_INIT;
	char **words = NULL;
	size_t count = 0;
	bool in_word = false;
	bool name_so_far = false; /* the word so far could be NAME of NAME=value */
	const char *p = cmdline;
	const char *problem = NULL;

	for (;;) {
		char c = *p;
		if (c == '\0' || is_blank(c)) {
			if (in_word && !push_word(&words, &count, &word)) {
				problem = "out of memory";
				break;
			}
			in_word = false;
			if (c == '\0')
				break;
			p++;
			continue;
		}
		if (!in_word) {
			in_word = true;
			name_so_far = true;
			sb_reset(&word);
			if (c == '~' || c == '#') {
				snprintf(err, errlen, "token_command: a word starts with an unquoted '%c' "
						      "(character %zu): " NO_SHELL ", so ~ is not your home "
						      "and # starts no comment; write the full path, or quote it",
					 c, (size_t)(p - cmdline) + 1);
				goto fail;
			}
		}
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				problem = "a single quote (') is not closed";
				break;
			}
			sb_append(&word, p + 1, (size_t)(end - p - 1));
			p = end + 1;
			name_so_far = false;
			continue;
		}
		if (c == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					break;
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				sb_putc(&word, *p);
			}
			if (*p != '"') {
				problem = "a double quote (\") is not closed";
				break;
			}
			p++;
			name_so_far = false;
			continue;
		}
		if (c == '\\') {
			if (p[1] == '\0') {
				problem = "it ends with a backslash that escapes nothing";
				break;
			}
			sb_putc(&word, p[1]);
			p += 2;
			name_so_far = false;
			continue;
		}
		if (is_shell_special(c)) {
			snprintf(err, errlen, "token_command: unquoted '%c' (character %zu): " NO_SHELL
					      ", so pipes, redirections, variables and globs are not "
					      "available; quote it, or run a shell: sh -c '...'",
				 c, (size_t)(p - cmdline) + 1);
			goto fail;
		}
		if (c == '=' && name_so_far && word.len > 0 && count == 0) {
			snprintf(err, errlen, "token_command: the first word sets a variable "
					      "(NAME=value): " NO_SHELL "; write env NAME=value "
					      "COMMAND instead");
			goto fail;
		}
		name_so_far = name_so_far && (c == '_' || isalpha((unsigned char)c) ||
					      (isdigit((unsigned char)c) && word.len > 0));
		sb_putc(&word, c);
		p++;
	}
	if (!problem && sb_failed(&word))
		problem = "out of memory";
	if (!problem && count == 0)
		problem = "it holds no command";
	if (problem) {
		snprintf(err, errlen, "token_command: %s (see pipedrivefs(1), token_command)",
			 problem);
		goto fail;
	}
	sb_free(&word);
	return words;
fail:
	sb_free(&word);
	token_command_free_words(words);
	return NULL;
}

/* ---- running ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The program's path: as given when it holds a '/', else the first match in
 * PATH (like execvp, but decided here so the message can say what to do). */
static char *find_program(const char *name, char *err, size_t errlen)
{
	if (name[0] == '\0') {
		snprintf(err, errlen, "token_command: the program name is empty");
		return NULL;
	}
	if (strchr(name, '/')) {
		char *copy = strdup(name);
		if (!copy)
			snprintf(err, errlen, "out of memory");
		return copy;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *dir = path;;) {
		size_t n = strcspn(dir, ":");
		char *candidate = NULL;
		if (asprintf(&candidate, "%.*s/%s", (int)n, n ? dir : ".", name) < 0) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		if (is_executable_file(candidate))
			return candidate;
		free(candidate);
		if (dir[n] == '\0')
			break;
		dir += n + 1;
	}
	snprintf(err, errlen, "token_command: program '%s' not found in PATH (install it, or "
			      "give its full path)", name);
	return NULL;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void exec_child(const char *path, char **argv, int out_fd, int status_fd,
		       bool take_terminal)
{
	setpgid(0, 0);
	if (take_terminal)
		tcsetpgrp(STDIN_FILENO, getpid()); /* SIGTTOU is blocked */
	static const int reset[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD,
				     SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2 };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (size_t i = 0; i < sizeof(reset) / sizeof(*reset); i++)
		sigaction(reset[i], &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int e = 0;
	if (out_fd == STDOUT_FILENO)
		e = fcntl(out_fd, F_SETFD, 0) < 0 ? errno : 0;
	else
		e = dup2(out_fd, STDOUT_FILENO) < 0 ? errno : 0;
	if (e == 0) {
#ifdef CLOSE_RANGE_CLOEXEC
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); /* best effort: older kernels */
#endif
		execv(path, argv);
		e = errno;
	}
	ssize_t ignored = write(status_fd, &e, sizeof(e));
	(void)ignored;
	_exit(127);
}

static void reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

struct output {
	char line[TOKEN_COMMAND_MAX_LINE + 1];
	size_t len;
	size_t total;   /* bytes read in all */
	bool line_done; /* the first "\n" was seen */
	bool too_long;
	int read_errno; /* why reading failed (READ_FAILED) */
};

static void take_output(struct output *o, const char *buf, size_t n)
{
	o->total += n;
	for (size_t i = 0; i < n && !o->line_done; i++) {
		if (buf[i] == '\n')
			o->line_done = true;
		else if (o->len < TOKEN_COMMAND_MAX_LINE)
			o->line[o->len++] = buf[i];
		else
			o->too_long = true;
	}
}

enum outcome { RAN, TIMED_OUT, READ_FAILED };

/* Read the child's output until it closed and the child exited (or the child
 * exited and nothing more is there), or until the deadline. */
static enum outcome collect(int fd, pid_t pid, int64_t deadline, struct output *o, int *status,
			    bool *reaped)
{
	char buf[4096];
	bool open = true;
	enum outcome result = RAN;
	for (;;) {
		if (!*reaped && waitpid(pid, status, WNOHANG) == pid)
			*reaped = true;
		if (*reaped && !open)
			break;
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			result = TIMED_OUT;
			break;
		}
		/* Wake up now and then to notice the child's exit while something it
		 * left behind keeps the pipe open. */
		int wait_ms = *reaped ? 0 : (int)(left < 50 ? left : 50);
		if (!open) {
			poll(NULL, 0, wait_ms);
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, wait_ms);
		if (ready < 0 && errno != EINTR) {
			o->read_errno = errno;
			result = READ_FAILED;
			break;
		}
		if (ready == 0 && *reaped)
			break; /* exited; whoever still holds the pipe is not the command */
		if (ready <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			o->read_errno = errno;
			result = READ_FAILED;
			break;
		}
		if (n == 0)
			open = false;
		else if (n > 0)
			take_output(o, buf, (size_t)n);
	}
	explicit_bzero(buf, sizeof(buf));
	return result;
}

/* True when the output can be used; else false with a message in err. */
static bool judge(enum outcome outcome, int status, const struct output *o, const char *name,
		  int timeout_ms, char *err, size_t errlen)
{
	if (outcome == TIMED_OUT) {
		snprintf(err, errlen, "token_command (%s) did not finish within %d s and was "
				      "stopped; if it waits for a passphrase or a locked keyring, answer "
				      "it in time (run pipedrivefs in the foreground of a terminal) or "
				      "raise token_command_timeout", name, (timeout_ms + 999) / 1000);
	} else if (outcome == READ_FAILED) {
		snprintf(err, errlen, "token_command (%s): cannot read its output: %s", name,
			 strerror(o->read_errno));
	} else if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "token_command (%s) was killed by signal %d (%s); run it "
				      "yourself to see why", name, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "token_command (%s) failed with exit status %d (its own "
				      "message, if any, is above); run it yourself to see why",
			 name, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (o->total == 0) {
		snprintf(err, errlen, "token_command (%s) printed nothing: it must print the API "
				      "token on the first line of its standard output", name);
	} else if (memchr(o->line, '\0', o->len)) {
		snprintf(err, errlen, "token_command (%s) printed a NUL byte in its first line, "
				      "which is no API token; check the command", name);
	} else if (o->too_long) {
		snprintf(err, errlen, "token_command (%s) printed a first line longer than %d "
				      "bytes, which is no API token; check the command", name,
			 TOKEN_COMMAND_MAX_LINE);
	} else {
		return true;
	}
	return false;
}

char *token_command_run(const char *cmdline, int timeout_ms, char *err, size_t errlen)
{
	char **argv = token_command_split(cmdline, err, errlen);
	if (!argv)
		return NULL;
	char *path = find_program(argv[0], err, errlen);
	char *token = NULL;
	int out[2] = { -1, -1 }, exec_status[2] = { -1, -1 };
	if (!path)
		goto out;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(exec_status, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "token_command: cannot create a pipe: %s", strerror(errno));
		goto out;
	}

	/* waitpid must see the child even if SIGCHLD was inherited as ignored;
	 * tcsetpgrp from a background group must not stop us (SIGTTOU). */
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld;
	sigaction(SIGCHLD, &dfl, &old_chld);
	sigset_t ttou, old_mask;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old_mask);
	bool take_terminal = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();

	int64_t deadline = now_ms() + timeout_ms;
	pid_t pid = fork();
	if (pid == 0)
		exec_child(path, argv, out[1], exec_status[1], take_terminal);
	if (pid < 0) {
		snprintf(err, errlen, "token_command (%s): cannot start it: %s", argv[0],
			 strerror(errno));
		goto restore;
	}
	setpgid(pid, pid); /* also here: no race with tcsetpgrp or a timeout kill */
	if (take_terminal)
		tcsetpgrp(STDIN_FILENO, pid);
	close(out[1]);
	close(exec_status[1]);
	out[1] = exec_status[1] = -1;

	int status = 0, exec_errno = 0;
	ssize_t n;
	while ((n = read(exec_status[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(exec_errno)) {
		reap(pid, &status);
		snprintf(err, errlen, "token_command (%s): cannot run %s: %s", argv[0], path,
			 strerror(exec_errno));
		goto restore;
	}

	struct output *o = calloc(1, sizeof(*o));
	bool reaped = false;
	enum outcome outcome = o ? collect(out[0], pid, deadline, o, &status, &reaped) : RAN;
	if (!reaped) {
		/* Timed out (or could not read): the command and all it started. */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		reap(pid, &status);
	}
	if (!o)
		snprintf(err, errlen, "out of memory");
	else if (judge(outcome, status, o, argv[0], timeout_ms, err, errlen) &&
		 !(token = strndup(o->line, o->len)))
		snprintf(err, errlen, "out of memory");
	if (o) {
		explicit_bzero(o, sizeof(*o));
		free(o);
	}
restore:
	if (take_terminal)
		tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (exec_status[i] >= 0)
			close(exec_status[i]);
	}
	free(path);
	token_command_free_words(argv);
	return token;
}
