#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "token.h"

#define OPT(spec, field, value) { spec, offsetof(struct options, field), value }

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_ALLOW_OTHER,
	KEY_RW,
	KEY_RO,
};

static const struct fuse_opt option_spec[] = {
	OPT("base_url=%s", base_url, 0),
	OPT("token_file=%s", token_file, 0),
	OPT("token_command=%s", token_command, 0),
	OPT("token_command_timeout=%d", token_command_timeout, 0),
	OPT("cache_ttl=%s", cache_ttl, 0),
	OPT("page_limit=%d", page_limit, 0),
	OPT("timeout=%d", timeout, 0),
	OPT("workers=%d", workers, 0),
	OPT("vcard_version=%s", vcard_version, 0),
	OPT("ca_file=%s", ca_file, 0),
	OPT("log_level=%s", log_level, 0),
	OPT("config=%s", config, 0),
	OPT("custom_fields=%s", custom_fields, 0),
	OPT("include_fields=%s", include_fields, 0),
	OPT("recent_days=%d", recent_days, 0),
	OPT("full_refresh=%d", full_refresh, 0),
	OPT("cache_max_mb=%d", cache_max_mb, 0),
	OPT("walk_windows=%d", walk_windows, 0),
	OPT("cache_dir=%s", cache_dir, 0),
	OPT("disk_cache=%s", disk_cache, 0),
	OPT("allow_write", allow_write, 1),
	OPT("allow_delete", allow_delete, 1),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	/* mount(8) and fstab words that mean nothing to a FUSE daemon */
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

/* fuse_opt_parse hands the same pointer to the offsets and to process_arg,
 * so the options come first. */
struct parse_state {
	struct options parsed;
	struct options *opts; /* == &parsed */
	char *nonopts[2];
	char *err;
	size_t errlen;
	bool failed;
};

static int process_arg(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)outargs;
	struct parse_state *ps = data;
	switch (key) {
	case KEY_HELP:
		ps->opts->show_help = true;
		return 0;
	case KEY_VERSION:
		ps->opts->show_version = true;
		return 0;
	case KEY_ALLOW_OTHER:
		ps->opts->allow_other = true;
		return 1; /* keep it for libfuse */
	case KEY_RW:
		ps->opts->rw_word = true;
		return 0; /* the mount's flags are ours to set (main.c) */
	case KEY_RO:
		ps->opts->ro_word = true;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (ps->opts->nonopt_count >= 2) {
			snprintf(ps->err, ps->errlen, "unexpected argument '%s'", arg);
			ps->failed = true;
			return -1;
		}
		ps->nonopts[ps->opts->nonopt_count++] = strdup(arg);
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (strncmp(arg, "token=", 6) == 0 || strncmp(arg, "api_token=", 10) == 0) {
			snprintf(ps->err, ps->errlen,
				 "the token is never given on the command line (other users can read "
				 "it in ps); set PIPEDRIVE_API_TOKEN, or use -o token_file=PATH or "
				 "-o token_command=CMD");
			ps->failed = true;
			return -1;
		}
		return 1;
	default:
		return 1;
	}
}

/* The values include_fields takes (persons endpoint documentation). */
static const char *const include_field_names[] = {
	"next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
	"closed_deals_count", "related_closed_deals_count", "participant_open_deals_count",
	"participant_closed_deals_count", "email_messages_count", "activities_count",
	"done_activities_count", "undone_activities_count", "files_count", "notes_count",
	"followers_count", "won_deals_count", "related_won_deals_count", "lost_deals_count",
	"related_lost_deals_count", "last_incoming_mail_time", "last_outgoing_mail_time",
	"marketing_status", "doi_status", "smart_bcc_email",
};

static bool is_custom_field_key(const char *s, size_t n)
{
	if (n != 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_include_field(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(include_field_names) / sizeof(*include_field_names); i++)
		if (strlen(include_field_names[i]) == n && memcmp(include_field_names[i], s, n) == 0)
			return true;
	return false;
}

/*
 * libfuse splits -o at every comma, but custom_fields and include_fields take
 * comma-separated lists.  In one -o string, the items after such an option that
 * can only be list members (a 40-hex custom field key, a documented
 * include_fields name) are joined back with an escaped comma.
 */
static char *glue_list_options(const char *optstr)
{
	struct strbuf out = STRBUF_INIT;
	enum { NONE, CUSTOM, INCLUDE } list = NONE;
	const char *p = optstr;
	for (;;) {
		const char *q = p;
		while (*q && *q != ',') {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		size_t n = (size_t)(q - p);
		bool member = (list == CUSTOM && is_custom_field_key(p, n)) ||
			      (list == INCLUDE && is_include_field(p, n));
		if (p != optstr)
			sb_puts(&out, member ? "\\," : ",");
		sb_append(&out, p, n);
		if (!member)
			list = strncmp(p, "custom_fields=", 14) == 0	 ? CUSTOM
			       : strncmp(p, "include_fields=", 15) == 0 ? INCLUDE
									 : NONE;
		if (!*q)
			break;
		p = q + 1;
	}
	return sb_detach(&out, NULL);
}

static int parse_once(int argc, char **argv, struct options *opts, struct fuse_args *args,
		      char *err, size_t errlen)
{
	struct parse_state ps = { .err = err, .errlen = errlen };
	ps.opts = &ps.parsed;
	ps.parsed.page_limit = 500;
	ps.parsed.timeout = 30;
	ps.parsed.token_command_timeout = 60;
	ps.parsed.workers = 4;
	ps.parsed.recent_days = 7;
	ps.parsed.full_refresh = 3600;
	*args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	err[0] = '\0';
	int rc = fuse_opt_parse(args, &ps, option_spec, process_arg);
	*opts = ps.parsed;
	if (rc == -1 || ps.failed) {
		if (!err[0])
			snprintf(err, errlen, "invalid options (see --help)");
		free(ps.nonopts[0]);
		free(ps.nonopts[1]);
		return -1;
	}
	if (opts->nonopt_count == 2) {
		opts->source = ps.nonopts[0];
		opts->mountpoint = ps.nonopts[1];
	} else if (opts->nonopt_count == 1) {
		opts->mountpoint = ps.nonopts[0];
	}
	return 0;
}

/* Append one "name = value" line of a config file as "-o" text. */
static int config_line(struct strbuf *opt, char *line, const char *path, int lineno, char *err,
		       size_t errlen)
{
	line[strcspn(line, "\r\n")] = '\0';
	char *p = line + strspn(line, " \t");
	if (*p == '\0' || *p == '#')
		return 0;
	char *eq = strchr(p, '=');
	char *end = eq ? eq : p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char *value = eq ? eq + 1 + strspn(eq + 1, " \t") : NULL;
	if (value) {
		size_t n = strlen(value);
		while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			value[--n] = '\0';
	}
	bool name_ok = end > p;
	for (const char *c = p; name_ok && c < end; c++)
		name_ok = isalnum((unsigned char)*c) || *c == '_';
	if (!name_ok) {
		snprintf(err, errlen, "%s:%d: expected 'name = value' with an option name "
				      "(letters, digits, '_')", path, lineno);
		return -1;
	}
	if (opt->len)
		sb_putc(opt, ',');
	sb_append(opt, p, (size_t)(end - p));
	if (value) {
		sb_putc(opt, '=');
		for (const char *v = value; *v; v++) {
			if (*v == ',' || *v == '\\')
				sb_putc(opt, '\\'); /* fuse_opt: a backslash keeps the next byte */
			sb_putc(opt, *v);
		}
	}
	return 0;
}

/* Read a config file into one "-o" argument's text; 0, or -1 with a message. */
static int read_config(const char *path, bool must_exist, struct strbuf *opt, char *err,
		       size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 1;
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f))
		rc = config_line(opt, line, path, ++lineno, err, errlen);
	fclose(f);
	if (rc == 0 && sb_failed(opt)) {
		snprintf(err, errlen, "out of memory reading %s", path);
		rc = -1;
	}
	return rc;
}

static char *default_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *path = NULL;
	if (xdg && *xdg) {
		if (asprintf(&path, "%s/pipedrivefs/config", xdg) < 0)
			path = NULL;
	} else if (home && *home) {
		if (asprintf(&path, "%s/.config/pipedrivefs/config", home) < 0)
			path = NULL;
	}
	return path;
}

static int options_parse_glued(int argc, char **argv, struct options *opts,
			       struct fuse_args *args, char *err, size_t errlen);

/* A copy of argv with every -o string passed through glue_list_options. */
static char **glued_argv(int argc, char **argv, char ***owned)
{
	char **copy = calloc((size_t)argc + 1, sizeof(*copy));
	char **keep = calloc((size_t)argc + 1, sizeof(*keep));
	if (!copy || !keep) {
		free(copy);
		free(keep);
		return NULL;
	}
	for (int i = 0; i < argc; i++) {
		const char *optstr = NULL;
		if (i > 0 && strcmp(argv[i - 1], "-o") == 0)
			optstr = argv[i];
		else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2])
			optstr = argv[i] + 2;
		copy[i] = argv[i];
		if (!optstr)
			continue;
		char *glued = glue_list_options(optstr);
		if (glued && optstr != argv[i]) {
			char *with_flag = NULL;
			if (asprintf(&with_flag, "-o%s", glued) < 0)
				with_flag = NULL;
			free(glued);
			glued = with_flag;
		}
		if (glued)
			copy[i] = keep[i] = glued;
	}
	*owned = keep;
	return copy;
}

static void free_glued(int argc, char **copy, char **owned)
{
	for (int i = 0; owned && i < argc; i++)
		free(owned[i]);
	free(owned);
	free(copy);
}

int options_parse(int argc, char **argv, struct options *opts, struct fuse_args *args,
		  char *err, size_t errlen)
{
	char **owned = NULL;
	char **glued = glued_argv(argc, argv, &owned);
	if (!glued) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = options_parse_glued(argc, glued, opts, args, err, errlen);
	free_glued(argc, glued, owned);
	return rc;
}

static int options_parse_glued(int argc, char **argv, struct options *opts,
			       struct fuse_args *args, char *err, size_t errlen)
{
	if (parse_once(argc, argv, opts, args, err, errlen) != 0)
		return -1;
	if (opts->show_help || opts->show_version)
		return 0;
	char *path = opts->config ? strdup(opts->config) : default_config_path();
	if (!path)
		return 0;
	struct strbuf opt = STRBUF_INIT;
	int rc = read_config(path, opts->config != NULL, &opt, err, errlen);
	if (rc != 0 || opt.len == 0) {
		sb_free(&opt);
		if (rc == 0)
			opts->config_used = path;
		else
			free(path);
		return rc < 0 ? -1 : 0;
	}
	/* Parse again with the file's options first, so the command line wins. */
	char **argv2 = calloc((size_t)argc + 3, sizeof(*argv2));
	if (!argv2) {
		sb_free(&opt);
		free(path);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	argv2[0] = argv[0];
	argv2[1] = "-o";
	argv2[2] = opt.data;
	for (int i = 1; i < argc; i++)
		argv2[i + 2] = argv[i];
	fuse_opt_free_args(args);
	options_free(opts);
	rc = parse_once(argc + 2, argv2, opts, args, err, errlen);
	/* fuse_opt copied what it keeps into args. */
	free(argv2);
	sb_free(&opt);
	if (rc == 0)
		opts->config_used = path;
	else
		free(path);
	return rc;
}

char *options_describe(const struct options *opts, const char *base_url, const char *company)
{
	struct strbuf sb = STRBUF_INIT;
	sb_printf(&sb, "company: %s\n", company);
	sb_printf(&sb, "base_url: %s\n", base_url);
	sb_printf(&sb, "config_file: %s\n", opts->config_used ? opts->config_used : "none");
	struct token_sources src = { .file = opts->token_file, .command = opts->token_command };
	sb_printf(&sb, "token_source: %s\n", token_source_name(&src));
	sb_printf(&sb, "cache_ttl: %g\n", opts->ttl);
	sb_printf(&sb, "cache_max_mb: %d\n", opts->cache_max_mb);
	sb_printf(&sb, "disk_cache: %s\n", opts->use_disk_cache ? "yes" : "no");
	sb_printf(&sb, "page_limit: %d\n", opts->page_limit);
	sb_printf(&sb, "timeout: %d\n", opts->timeout);
	sb_printf(&sb, "workers: %d\n", opts->workers);
	sb_printf(&sb, "vcard_version: %s\n", opts->vcard_version ? opts->vcard_version : "3.0");
	sb_printf(&sb, "recent_days: %d\n", opts->recent_days);
	sb_printf(&sb, "full_refresh: %d\n", opts->full_refresh);
	sb_printf(&sb, "walk_windows: %d\n", opts->walk_windows);
	sb_printf(&sb, "custom_fields: %s\n", opts->custom_fields ? opts->custom_fields : "all");
	sb_printf(&sb, "include_fields: %s\n", opts->include_fields ? opts->include_fields : "none");
	sb_printf(&sb, "writable: %s\n", opts->writable ? "yes" : "no");
	sb_printf(&sb, "allow_delete: %s\n", opts->writable && opts->allow_delete ? "yes" : "no");
	return sb_detach(&sb, NULL);
}

void options_free(struct options *opts)
{
	free(opts->config);
	free(opts->config_used);
	free(opts->custom_fields);
	free(opts->include_fields);
	free(opts->source);
	free(opts->mountpoint);
	free(opts->base_url);
	free(opts->token_file);
	free(opts->token_command);
	free(opts->cache_ttl);
	free(opts->vcard_version);
	free(opts->ca_file);
	free(opts->log_level);
	free(opts->cache_dir);
	free(opts->disk_cache);
}

void options_print_help(const char *progname)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [-f] [-d] [-s] [-o option[,option...]]\n"
	       "       %s -h | --help | -V | --version\n"
	       "\n"
	       "Mount a Pipedrive company's persons as a folder of .json and .vcf files (read-only\n"
	       "unless -o rw).\n"
	       "SOURCE is the company domain (NAME in NAME.pipedrive.com).\n"
	       "\n"
	       "The API token comes from one of PIPEDRIVE_API_TOKEN, -o token_file=PATH or\n"
	       "-o token_command=CMD, never from the command line itself.\n"
	       "\n"
	       "pipedrivefs options:\n"
	       "    -o base_url=URL        API base (default https://api.pipedrive.com/api/v2,\n"
	       "                           or https://SOURCE.pipedrive.com/api/v2)\n"
	       "    -o token_file=PATH     file holding the API token, mode 0600 or 0400\n"
	       "                           (default: none, PIPEDRIVE_API_TOKEN is used)\n"
	       "    -o token_command=CMD   run CMD (no shell) and use the first line it prints,\n"
	       "                           e.g. token_command=pass show pipedrive\n"
	       "    -o token_command_timeout=SECONDS  how long CMD may take (default 60)\n"
	       "    -o cache_ttl=SECONDS   how long listings and files stay cached (default 60; 0 = off)\n"
	       "    -o page_limit=N        persons per API page, 1..500 (default 500)\n"
	       "    -o timeout=SECONDS     per-request timeout (default 30)\n"
	       "    -o workers=N           network threads (default 4)\n"
	       "    -o vcard_version=V     3.0 (default) or 4.0\n"
	       "    -o ca_file=PATH        CA bundle used instead of the system's (default: system CAs)\n"
	       "    -o log_level=LEVEL     error, warn, info (default) or debug\n"
	       "    -o config=PATH         config file (default $XDG_CONFIG_HOME/pipedrivefs/config)\n"
	       "    -o recent_days=N       what /recent shows (default 7)\n"
	       "    -o full_refresh=SECONDS  full re-walk period that catches deletions (default 3600)\n"
	       "    -o custom_fields=KEY,..  only these custom fields (at most 15; default all)\n"
	       "    -o include_fields=F,..   extra fields to include, e.g. notes_count (default: none)\n"
	       "    -o cache_max_mb=N      bound the memory the cache uses (default 0 = none)\n"
	       "    -o disk_cache=yes|no   keep listings and persons on disk across mounts (default yes)\n"
	       "    -o cache_dir=DIR       where (default $XDG_CACHE_HOME/pipedrivefs)\n"
	       "    -o walk_windows=N      parallel time windows for big cold listings: 0 = rate limit\n"
	       "                           x page latency (default), 1 = one cursor walk\n"
	       "    -o rw                  write changes to Pipedrive (default: read-only); through\n"
	       "                           mount(8) and fstab, which pass rw to every mount, write\n"
	       "                           allow_write instead\n"
	       "    -o allow_write         the same as rw, also in fstab\n"
	       "    -o allow_delete        with rw: rm of a person file deletes the person\n"
	       "\n"
	       "    -h, --help             print this help\n"
	       "    -V, --version          print the version\n"
	       "\n",
	       progname, progname);
}
