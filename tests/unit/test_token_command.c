/* token_command: the word splitter (pure) and the runner (small commands). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "token_command.h"

/* Split in and compare with the expected words (NULL-terminated list). */
static void check_split(const char *in, ...)
{
	char err[512] = "";
	char **words = token_command_split(in, err, sizeof(err));
	CHECK(words != NULL);
	if (!words) {
		fprintf(stderr, "  split [%s] failed: %s\n", in, err);
		return;
	}
	va_list ap;
	va_start(ap, in);
	size_t i = 0;
	for (const char *want; (want = va_arg(ap, const char *)); i++) {
		CHECK(words[i] != NULL);
		if (!words[i])
			break;
		CHECK_BYTES(words[i], strlen(words[i]), want);
	}
	va_end(ap);
	if (words[i]) {
		CHECK(words[i] == NULL);
		fprintf(stderr, "  split [%s]: extra word [%s]\n", in, words[i]);
	}
	token_command_free_words(words);
}

/* Splitting in must fail with a message holding needle. */
static void check_refused(const char *in, const char *needle)
{
	char err[512] = "";
	char **words = token_command_split(in, err, sizeof(err));
	CHECK(words == NULL);
	CHECK(strstr(err, needle) != NULL);
	if (words || !strstr(err, needle))
		fprintf(stderr, "  [%s]: expected an error with [%s], got [%s]\n", in, needle, err);
	token_command_free_words(words);
}

static void test_split(void)
{
	check_split("secret-tool lookup service pipedrive", "secret-tool", "lookup", "service",
		    "pipedrive", NULL);
	check_split("  pass\tshow \n pipedrive  ", "pass", "show", "pipedrive", NULL);
	check_split("a 'b c' d", "a", "b c", "d", NULL);
	check_split("a \"b c\" d", "a", "b c", "d", NULL);
	check_split("a'b c'd", "ab cd", NULL);
	check_split("x '' \"\" y", "x", "", "", "y", NULL);
	check_split("'it''s'", "its", NULL);
	check_split("\"it's\"", "it's", NULL);
	check_split("'a \\ \" b'", "a \\ \" b", NULL);                /* no escapes in '...' */
	check_split("\"q\\\"q\" \"b\\\\s\" \"k\\eep\"", "q\"q", "b\\s", "k\\eep", NULL);
	check_split("a\\ b c\\'d \\\\", "a b", "c'd", "\\", NULL);
	check_split("cmd '|;&<>()$`*?[~#'", "cmd", "|;&<>()$`*?[~#", NULL);
	check_split("cmd a\\|b \\$HOME \\~", "cmd", "a|b", "$HOME", "~", NULL);
	check_split("cmd a~b a#b", "cmd", "a~b", "a#b", NULL);  /* only a word's start */
	check_split("env GNUPGHOME=/x pass", "env", "GNUPGHOME=/x", "pass", NULL);
	check_split("'A=b' c", "A=b", "c", NULL);                 /* quoted: no assignment */
	check_split("1A=b", "1A=b", NULL);                        /* not a NAME */
	check_split("/usr/bin/pass show x/y.z-1", "/usr/bin/pass", "show", "x/y.z-1", NULL);
	check_split("{a,b} %s @ ! ^ ]", "{a,b}", "%s", "@", "!", "^", "]", NULL);
	check_split("caf\xc3\xa9 '\xe2\x82\xac'", "caf\xc3\xa9", "\xe2\x82\xac", NULL);

	check_refused("", "no command");
	check_refused(" \t\n ", "no command");
	check_refused("pass show 'x", "single quote");
	check_refused("pass show \"x", "double quote");
	check_refused("pass show \"x\\\"", "double quote");
	check_refused("pass show x\\", "backslash");
	check_refused("pass show pipedrive | head -1", "'|'");
	check_refused("a;b", "';'");
	check_refused("a && b", "'&'");
	check_refused("a > f", "'>'");
	check_refused("a < f", "'<'");
	check_refused("(a)", "'('");
	check_refused("pass show $USER", "'$'");
	check_refused("a `b`", "'`'");
	check_refused("cat *.token", "'*'");
	check_refused("cat ?.token", "'?'");
	check_refused("cat [ab].token", "'['");
	check_refused("~/bin/token", "'~'");
	check_refused("cat ~/token", "'~'");
	check_refused("pass show x # comment", "'#'");
	check_refused("GNUPGHOME=/x pass show y", "env NAME=value");
	check_refused("_A1=b c", "env NAME=value");
}

static long long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000LL + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void check_run(const char *cmd, const char *want)
{
	char err[512] = "";
	char *got = token_command_run(cmd, 5000, err, sizeof(err));
	CHECK(got != NULL);
	if (!got) {
		fprintf(stderr, "  run [%s] failed: %s\n", cmd, err);
		return;
	}
	CHECK_BYTES(got, strlen(got), want);
	free(got);
}

static void check_run_fails(const char *cmd, int timeout_ms, const char *needle)
{
	char err[512] = "";
	char *got = token_command_run(cmd, timeout_ms, err, sizeof(err));
	CHECK(got == NULL);
	CHECK(strstr(err, needle) != NULL);
	if (got || !strstr(err, needle))
		fprintf(stderr, "  run [%s]: expected an error with [%s], got [%s]\n", cmd, needle,
			err);
	free(got);
}

/* No child of ours is left, running or as a zombie. */
static void check_no_children(void)
{
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

static void test_run(void)
{
	check_run("printf 'tok-1\\nsecond line\\n'", "tok-1");
	check_run("printf tok-2", "tok-2");                        /* no newline at all */
	check_run("printf 'tok-3\\r\\n'", "tok-3\r");              /* the caller trims */
	check_run("printf '\\nlater'", "");                        /* the caller refuses */
	check_run("/bin/echo 'a b'", "a b");
	/* more output than a pipe holds: read to the end, keep the first line */
	check_run("sh -c 'echo first; head -c 300000 /dev/zero'", "first");
	/* the command exits while something it started still holds the pipe */
	check_run("sh -c 'echo quick; sleep 2 & exit 0'", "quick");
	/* descriptors other than 0-2 are closed in the command, even ours
	 * without close-on-exec */
	int leak = dup(STDERR_FILENO);
	check_run("sh -c 'ls /proc/self/fd | wc -l'", "4");        /* 0 1 2 and ls's own */
	close(leak);

	check_run_fails("false", 5000, "exit status 1");
	check_run_fails("sh -c 'echo tok; exit 3'", 5000, "exit status 3");
	check_run_fails("sh -c 'kill -9 $$'", 5000, "signal 9");
	check_run_fails("true", 5000, "printed nothing");
	check_run_fails("no-such-program-pdfs x", 5000, "not found in PATH");
	check_run_fails("/nonexistent/prog", 5000, "No such file");
	char plain[] = "/tmp/pdfs-tc-XXXXXX";                        /* not executable */
	int plain_fd = mkstemp(plain);
	CHECK(plain_fd >= 0);
	if (plain_fd >= 0) {
		close(plain_fd);
		check_run_fails(plain, 5000, "Permission denied");
		unlink(plain);
	}
	check_run_fails("sh -c 'head -c 5000 /dev/zero | tr \"\\\\0\" x'", 5000, "longer than");
	check_run_fails("printf 'ab\\000cd\\n'", 5000, "NUL byte");
	check_run_fails("pass show x | head", 5000, "'|'");

	/* a timeout kills the whole process group, promptly */
	char marker[] = "/tmp/pdfs-tc-XXXXXX";
	int fd = mkstemp(marker);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "sh -c '(sleep 1; echo late > %s) & wait'", marker);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_run_fails(cmd, 300, "did not finish within 1 s");
	CHECK(elapsed_ms(&start) < 1500);
	usleep(1500 * 1000); /* a surviving subshell would have written the marker */
	FILE *f = fopen(marker, "r");
	int c = f ? fgetc(f) : EOF;
	CHECK(f && c == EOF);
	if (f)
		fclose(f);
	unlink(marker);
	check_no_children();

	/* SIGCHLD inherited as ignored: the runner still sees the exit status */
	signal(SIGCHLD, SIG_IGN);
	check_run("printf ok", "ok");
	check_run_fails("false", 5000, "exit status 1");
	signal(SIGCHLD, SIG_DFL);
}

int main(void)
{
	test_split();
	test_run();
	return check_finish("token_command");
}
