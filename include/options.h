/*
 * options.h - the mount's configuration: parsing, defaults and the token.
 *
 * Options come from the command line (-o name=value, libfuse's fuse_opt);
 * FUSE's own options (-f, -d, -s, allow_other, ...) pass through untouched.
 * The token never comes from the command line.  It comes from exactly one of
 * PIPEDRIVE_API_TOKEN (set and not empty), a token_file that only its owner
 * can read, or the first output line of token_command; two of them given is
 * an error.
 */
#ifndef PDFS_OPTIONS_H
#define PDFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include <fuse_opt.h>

struct options {
	char *source;        /* company domain, or NULL */
	char *config;        /* config file path given with -o config= */
	char *config_used;   /* the config file actually read, or NULL */
	char *mountpoint;
	char *base_url;
	char *token_file;
	char *token_command;  /* run without a shell: token_command.h */
	char *cache_ttl;     /* parsed into ttl */
	char *vcard_version;
	char *ca_file;
	char *log_level;
	char *custom_fields;
	char *include_fields;
	int page_limit;
	int recent_days;
	int full_refresh;
	int cache_max_mb;
	int walk_windows;
	char *cache_dir;     /* the persistent cache's folder, or NULL: the default */
	char *disk_cache;    /* "yes" (default) or "no" */
	bool use_disk_cache; /* derived from disk_cache */
	int timeout;
	int token_command_timeout; /* seconds */
	int workers;
	double ttl;
	bool show_help;
	bool show_version;
	bool allow_other;
	/* Writing (options.c, decide_writable): */
	int allow_write;       /* -o allow_write */
	int allow_delete;      /* -o allow_delete */
	bool rw_word;          /* "rw" was given (by the user, or by mount(8)) */
	bool ro_word;          /* "ro" was given: it wins */
	bool started_by_mount; /* mount(8) / mount.fuse3 started us */
	bool writable;         /* derived: changes go to Pipedrive */
	int nonopt_count;
};

/*
 * Parse argv into opts and the args left for libfuse, after the config file:
 * -o config=PATH, else $XDG_CONFIG_HOME/pipedrivefs/config (or
 * ~/.config/pipedrivefs/config) if it exists.  The file holds "name = value"
 * lines with the -o option names ("#" starts a comment); the command line
 * wins over the file.  Returns 0, or -1 with a message for the user in err.
 */
int options_parse(int argc, char **argv, struct options *opts, struct fuse_args *args,
		  char *err, size_t errlen);
/* "name: value" lines of the settings in effect (no token), malloc'd. */
char *options_describe(const struct options *opts, const char *base_url, const char *company);
/* Check ranges and fill derived fields; 0 or -1 with a message. */
int options_validate(struct options *opts, char *err, size_t errlen);
void options_free(struct options *opts);

void options_print_help(const char *progname);

/* Read the token from its one source: the environment (then wiped there),
 * the token file or the token command.  The token is trimmed of blanks and
 * line ends; an empty token or one with control characters is refused.
 * Returns a malloc'd token (the caller wipes and frees it) or NULL with a
 * message that names the source but never holds the token. */
char *options_read_token(const struct options *opts, char *err, size_t errlen);

#endif
