/*
 * token_command.h - run the command that prints the API token
 * (-o token_command=CMD), without a shell.
 *
 * Word splitting (pure; token_command_split): CMD is split like a simple
 * POSIX shell splits a command line, without any expansion:
 *   - words are separated by unquoted spaces, tabs and newlines;
 *   - '...' keeps everything up to the next ' as it is (no escapes inside);
 *   - "..." keeps everything up to the next unescaped "; inside, \" and \\
 *     stand for " and \, any other backslash is kept as it is;
 *   - outside quotes, a backslash keeps the next character as it is;
 *   - quoted and unquoted parts next to each other make one word
 *     (a'b c' is "ab c"); '' or "" alone is an empty word.
 * Everything a shell would expand or interpret is refused with a message
 * rather than passed on literally: unquoted | & ; < > ( ) $ ` * ? [ anywhere,
 * ~ or # at the start of a word, a first word of the form NAME=value, an
 * unterminated quote, a trailing backslash, and a command without words.
 *
 * Running (token_command_run): the program (argv[0]; searched in PATH when it
 * has no '/') runs in its own process group with the caller's environment,
 * standard input and standard error (so it can ask for a passphrase on the
 * terminal: when standard input is a terminal whose foreground group is the
 * caller's, the command's group becomes the foreground group while it runs).
 * Every other descriptor is closed at exec.  Its standard output is read
 * until it closes and it exits; the first line (without its "\n") is the
 * result.  On timeout the whole process group is killed (SIGKILL).  The child
 * is always reaped; nothing is logged and the output buffer is wiped.
 *
 * Not thread-safe with respect to other fork()s or SIGCHLD handling: call it
 * at start-up, before threads start.
 */
#ifndef PDFS_TOKEN_COMMAND_H
#define PDFS_TOKEN_COMMAND_H

#include <stddef.h>

/* The longest first line accepted, in bytes. */
#define TOKEN_COMMAND_MAX_LINE 4096

/* Split cmdline into a NULL-terminated vector of malloc'd words (free with
 * token_command_free_words), or NULL with a message in err. */
char **token_command_split(const char *cmdline, char *err, size_t errlen);
void token_command_free_words(char **words);

/* Run cmdline with a timeout of timeout_ms milliseconds.  Returns the first
 * line of its standard output (malloc'd, possibly empty: the caller checks
 * it, wipes it and frees it), or NULL with a message in err saying what to
 * fix when the command cannot be split, is not found, cannot be started,
 * exits with a non-zero status, is killed, prints nothing, prints a first
 * line longer than TOKEN_COMMAND_MAX_LINE or holding a NUL byte, or does not
 * finish in time.  The
 * message names the program (argv[0]), never its arguments or output. */
char *token_command_run(const char *cmdline, int timeout_ms, char *err, size_t errlen);

#endif
