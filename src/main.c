/*
 * main.c - pipedrivefs: options, the token, the start-up check, the session.
 *
 * Order matters: everything that can fail with a message the user should see
 * (options, token, mountpoint, the token check against the server) happens
 * before fuse_daemonize(); worker threads start after it, because threads do
 * not survive the fork.
 *
 * Exit status: 0 clean unmount, 1 bad usage or configuration (options, token,
 * mountpoint), 2 the token was rejected, 3 Pipedrive could not be reached or
 * answered an error, 4 the mount itself failed.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <malloc.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "api.h"
#include "cache.h"
#include "fs.h"
#include "log.h"
#include "bytecache.h"
#include "reconnect.h"
#include "startup_cache.h"
#include "meta.h"
#include "names_resolve.h"
#include "options.h"
#include "token.h"
#include "url.h"
#include "walker.h"
#include "writeback.h"

enum exit_status {
	EXIT_USAGE = 1,
	EXIT_TOKEN_REJECTED = 2,
	EXIT_SERVER = 3,
	EXIT_MOUNT = 4,
};

static void print_version(void)
{
	printf("pipedrivefs %s\nlibfuse %s\n%s\n", PDFS_VERSION, fuse_pkgversion(), curl_version());
}

/* GET /api/v1/users/me: proves the token works; learns the company domain
 * and the user (the cache database is theirs). */
static int check_token(struct api_client *client, char **company, int64_t *user_id,
		       int *api_errno, char *err, size_t errlen)
{
	struct api_conn *conn = api_conn_new(client);
	if (!conn) {
		snprintf(err, errlen, "out of memory");
		return EXIT_SERVER;
	}
	struct json_object *resp = NULL, *data, *domain, *id;
	struct api_error e;
	int rc = api_get(conn, API_V1, "/users/me", &resp, &e);
	api_conn_free(conn);
	if (rc) {
		snprintf(err, errlen, "%s", e.message);
		*api_errno = e.err;
		return e.err == EACCES && e.status == 401 ? EXIT_TOKEN_REJECTED : EXIT_SERVER;
	}
	/* The company's own domain names it in UIDs and URLs, however SOURCE was typed. */
	if (json_object_object_get_ex(resp, "data", &data) &&
	    json_object_object_get_ex(data, "company_domain", &domain) &&
	    json_object_is_type(domain, json_type_string) && json_object_get_string_len(domain) > 0) {
		char *from_api = strdup(json_object_get_string(domain));
		if (from_api) {
			free(*company);
			*company = from_api;
		}
	}
	for (char *p = *company; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (json_object_object_get_ex(resp, "data", &data) &&
	    json_object_object_get_ex(data, "id", &id) && json_object_is_type(id, json_type_int))
		*user_id = json_object_get_int64(id);
	json_object_put(resp);
	return 0;
}

/* A read-only mount says when it leaves something of a writable one
 * waiting, and when allow_delete means nothing. */
static void note_read_only(const struct options *opts, struct store *store)
{
	struct store_stats st = { 0 };
	if (store)
		store_get_stats(store, &st);
	if (st.journal)
		log_warn("the journal holds %llu change(s) or conflict file(s) from a writable mount; "
			 "they are sent (and shown) when mounted with -o rw again",
			 (unsigned long long)st.journal);
	if (opts->rw_word && opts->started_by_mount && !opts->ro_word)
		log_info("mounted read-only: mount(8) passes rw to every mount, so it does not turn "
			 "writing on here; add allow_write to the mount options to write");
	if (opts->allow_delete)
		log_warn("allow_delete has no effect on a read-only mount (add rw)");
}

/* GET /api/v2/personFields once per mount: label and custom field names, and
 * the check that every custom_fields key exists.  Offline, the fields the
 * last online mount kept in the disk cache. */
static int load_person_fields(struct api_client *client, struct meta *meta, struct store *store,
			      bool offline, const struct options *opts, char *err, size_t errlen)
{
	int rc;
	struct api_error e = { 0 };
	if (offline) {
		char *text = startup_cache_person_fields(store);
		rc = text ? meta_person_fields_store_text(meta, text, strlen(text)) : -ENOENT;
		if (rc)
			snprintf(e.message, sizeof(e.message), "the disk cache holds none");
		free(text);
	} else {
		struct api_conn *conn = api_conn_new(client);
		char *text = NULL;
		rc = conn ? walker_load_person_fields(conn, meta, &text, &e) : -ENOMEM;
		api_conn_free(conn);
		if (rc == 0)
			startup_cache_remember(store, NULL, text);
		free(text);
	}
	if (rc) {
		if (!opts->custom_fields) {
			log_warn("cannot load the company's person fields (%s); vCards show no "
				 "CATEGORIES or custom field names", e.message[0] ? e.message : strerror(-rc));
			return 0;
		}
		snprintf(err, errlen, "cannot load person fields to check custom_fields: %s", e.message);
		return EXIT_SERVER;
	}
	for (const char *p = opts->custom_fields; p && *p;) {
		size_t n = strcspn(p, ",");
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) - 1 ? n : sizeof(key) - 1), p);
		if (!meta_custom_field_known(meta, key)) {
			snprintf(err, errlen, "custom_fields: '%s' is not a custom person field of this "
					      "company (see GET /api/v2/personFields)", key);
			return EXIT_USAGE;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

/* The handler only flags the request: the invalidation thread does the work. */
static struct fs *_Atomic refresh_target;

static void on_sighup(int sig)
{
	(void)sig;
	struct fs *fs = atomic_load(&refresh_target);
	if (fs)
		fs_request_refresh(fs);
}

/* Refuse a mountpoint that cannot work before talking to the network. */
static int check_mountpoint(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOTCONN) {
			snprintf(err, errlen, "%s is a dead FUSE mount (its daemon exited); unmount it "
					      "with: fusermount3 -u %s", path, path);
			return EXIT_MOUNT;
		}
		snprintf(err, errlen, "mountpoint %s: %s (create it with: mkdir -p %s)", path,
			 strerror(errno), path);
		return EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mountpoint %s is not a directory", path);
		return EXIT_USAGE;
	}
	char real[PATH_MAX];
	FILE *f = realpath(path, real) ? fopen("/proc/self/mountinfo", "re") : NULL;
	if (!f)
		return 0;
	char line[4096];
	int status = 0;
	while (fgets(line, sizeof(line), f)) {
		/* "id parent major:minor root mountpoint ..." (mountpoint octal-escaped) */
		char mnt[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strcmp(mnt, real) == 0) {
			snprintf(err, errlen, "%s is already a mountpoint; unmount it first "
					      "(fusermount3 -u %s) or choose another directory", path, path);
			status = EXIT_MOUNT;
			break;
		}
	}
	fclose(f);
	return status;
}

/* libfuse only rejects unknown options when the session is created: try that
 * on a copy now, so a typo fails before any request. */
static int check_fuse_options(const struct fuse_args *args)
{
	struct fuse_args probe = FUSE_ARGS_INIT(0, NULL);
	int ok = 1;
	for (int i = 0; i < args->argc && ok; i++)
		ok = fuse_opt_add_arg(&probe, args->argv[i]) == 0;
	struct fuse_session *se =
		ok ? fuse_session_new(&probe, fs_operations(), sizeof(*fs_operations()), NULL) : NULL;
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&probe);
	return se ? 0 : -1;
}

static char *resolve_base_url(const struct options *opts, char **v1, char *err, size_t errlen)
{
	char *from_source = NULL;
	const char *url = URL_DEFAULT_BASE;
	if (opts->base_url) {
		url = opts->base_url;
	} else if (opts->source) {
		from_source = url_from_company_domain(opts->source, err, errlen);
		if (!from_source)
			return NULL;
		url = from_source;
	}
	char *base = url_normalize_base(url, v1, err, errlen);
	free(from_source);
	return base;
}

static int add_mount_args(struct fuse_args *args, const struct options *opts, const char *company)
{
	char *fsname = NULL;
	if (asprintf(&fsname, "-ofsname=pipedrive:%s", company) < 0)
		return -1;
	/* fsname is a mount option: commas would split it. */
	for (char *p = fsname; *p; p++)
		if (*p == ',')
			*p = '_';
	int rc = (!opts->writable && fuse_opt_add_arg(args, "-oro")) ||
		 fuse_opt_add_arg(args, "-osubtype=pipedrivefs") ||
		 fuse_opt_add_arg(args, fsname) ||
		 (opts->allow_other && fuse_opt_add_arg(args, "-odefault_permissions"));
	free(fsname);
	return rc ? -1 : 0;
}

/* What a stored vCard was rendered with, besides its person. */
static void render_fingerprint(const struct walker_config *cfg, const struct options *opts,
			       char *buf, size_t len)
{
	snprintf(buf, len, "vcard=%s;company=%s;app=%s;custom_fields=%s;include_fields=%s",
		 cfg->render.version == VCARD_V40 ? "4.0" : "3.0", cfg->render.company,
		 cfg->render.app_url, opts->custom_fields ? opts->custom_fields : "",
		 opts->include_fields ? opts->include_fields : "");
}

static int run(struct options *opts, struct fuse_args *args)
{
	char err[512] = "";
	char *v1 = NULL, *company = opts->source ? strdup(opts->source) : NULL;
	char *base = NULL, *token = NULL, *app_url = NULL;
	struct api_client *client = NULL;
	struct cache *cache = NULL;
	struct meta *meta = NULL;
	struct walker *walker = NULL;
	struct writeback *writeback = NULL;
	struct store *store = NULL;
	struct reconnect *reconnect = NULL;
	struct bytecache *bytes = NULL;
	bool offline = false;
	char fingerprint[512];
	int64_t user_id = 0;
	unsigned char token_sha1[SHA1_DIGEST_LEN] = { 0 };
	struct fs *fs = NULL;
	char *config_text = NULL;
	struct fuse_session *se = NULL;
	struct fuse_cmdline_opts cmd = { 0 };
	int status = EXIT_USAGE;

	status = check_mountpoint(opts->mountpoint, err, sizeof(err));
	if (status)
		goto out;
	status = EXIT_USAGE;
	if (fuse_opt_add_arg(args, opts->mountpoint) || fuse_parse_cmdline(args, &cmd) != 0 ||
	    !cmd.mountpoint)
		goto out; /* libfuse printed why */
	if (check_fuse_options(args) != 0) {
		snprintf(err, sizeof(err), "invalid mount options (see the message above; "
					   "pipedrivefs --help lists them)");
		goto out;
	}
	if (cmd.debug)
		log_set_level(LOG_LEVEL_DEBUG);
	base = resolve_base_url(opts, &v1, err, sizeof(err));
	if (!base)
		goto out;
	struct token_sources token_src = {
		.file = opts->token_file,
		.command = opts->token_command,
		.command_timeout_ms = opts->token_command_timeout * 1000,
		.config = opts->config_used,
	};
	token = token_read(&token_src, err, sizeof(err));
	if (!token)
		goto out;

	struct api_config api_cfg = {
		.base_v2 = base, .base_v1 = v1, .token = token, .ca_file = opts->ca_file,
		.timeout_s = opts->timeout, .connect_timeout_s = opts->timeout < 10 ? opts->timeout : 10,
		.max_retries = 3,
	};
	client = api_client_new(&api_cfg);
	sha1(token, strlen(token), token_sha1); /* identifies the token to the disk cache */
	explicit_bzero(token, strlen(token));
	if (!client) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	int api_errno = 0;
	status = check_token(client, &company, &user_id, &api_errno, err, sizeof(err));
	/* Unreachable (or out of budget) at mount: the disk cache, if there is one. */
	if (status == EXIT_SERVER && (api_errno == EIO || api_errno == EAGAIN)) {
		char why[512];
		char *cached_company = NULL;
		if (startup_cache_offline(opts, base, token_sha1, &store, &cached_company, why,
					  sizeof(why)) == 0) {
			offline = true;
			free(company);
			company = cached_company;
			api_client_set_offline(client, true, err);
			log_warn("Pipedrive cannot be reached (%s); mounting the disk cache instead: "
				 "folders listed before are served as they were, others fail at once; "
				 "pipedrivefs tries again in the background and refreshes once it "
				 "answers (check the network, base_url and proxy settings)", err);
			status = 0;
		} else {
			size_t used = strlen(err);
			snprintf(err + used, sizeof(err) - used, " (and %s)", why);
		}
	}
	if (status)
		goto out;
	status = EXIT_USAGE;
	if (!company)
		company = strdup("api");
	if (!offline && company &&
	    startup_cache_online(opts, base, company, user_id, token_sha1, &store, err,
				 sizeof(err)) != 0) {
		explicit_bzero(token_sha1, sizeof(token_sha1));
		goto out;
	}
	explicit_bzero(token_sha1, sizeof(token_sha1));
	if (!offline)
		startup_cache_remember(store, company, NULL);
	status = EXIT_USAGE;
	if (!company || asprintf(&app_url, "https://%s.pipedrive.com", company) < 0) {
		app_url = NULL;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	/* Names of organizations, users and persons live until the next full
	 * refresh (walker_pages.c), whatever cache_ttl says. */
	meta = meta_new();
	if (!meta) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	status = load_person_fields(client, meta, store, offline, opts, err, sizeof(err));
	if (status)
		goto out;
	status = EXIT_USAGE;
	/* cache_max_mb: with a disk cache, half for the listings (persons by
	 * id, the persons in use) and half for persons' bytes, the rest on disk;
	 * without one, all of it for the persons the listings hold. */
	uint64_t bound = (uint64_t)opts->cache_max_mb << 20;
	bool on_disk = store && bound > 0;
	cache = cache_new(opts->ttl, on_disk ? bound / 2 : bound);
	if (cache && on_disk) {
		bytes = bytecache_new(store, bound - bound / 2);
		if (bytes)
			cache_use_bytecache(cache, bytes);
	}
	if (meta && cache) /* person names meta forgot under cache_max_mb */
		meta_set_person_name_source(meta, names_stored_person_name, cache);
	struct walker_config walker_cfg = {
		.page_limit = opts->page_limit,
		.workers = opts->workers,
		.recent_days = opts->recent_days,
		.full_refresh = opts->full_refresh,
		.walk_windows = opts->walk_windows,
		.custom_fields = opts->custom_fields,
		.include_fields = opts->include_fields,
		.store = store,
		.render = {
			.version = opts->vcard_version && strcmp(opts->vcard_version, "4.0") == 0
					   ? VCARD_V40 : VCARD_V30,
			.company = company,
			.app_url = app_url,
			.meta = meta,
		},
	};
	render_fingerprint(&walker_cfg, opts, fingerprint, sizeof(fingerprint));
	startup_cache_check_render(store, fingerprint);
	config_text = options_describe(opts, base, company);
	walker = cache && config_text ? walker_new(&walker_cfg, client, cache, meta) : NULL;
	if (walker && opts->writable) {
		struct writeback_config wb_cfg = { .render = walker_cfg.render,
						   .custom_fields = opts->custom_fields,
						   .include_fields = opts->include_fields,
						   .store = store };
		writeback = writeback_new(&wb_cfg, client, cache, meta);
	} else {
		note_read_only(opts, store);
	}
	struct fs_config fs_cfg = { .ttl = opts->ttl, .config_text = config_text, .store = store,
				    .writable = writeback != NULL,
				    .allow_delete = opts->allow_delete != 0,
				    .writeback = writeback };
	fs = walker && (writeback || !opts->writable) ? fs_new(&fs_cfg, client, cache, walker)
						      : NULL;
	if (!fs || add_mount_args(args, opts, company)) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	status = EXIT_MOUNT;
	se = fuse_session_new(args, fs_operations(), sizeof(*fs_operations()), fs);
	if (!se) {
		snprintf(err, sizeof(err), "cannot create the FUSE session (see the message above)");
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		snprintf(err, sizeof(err), "cannot install signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(se, cmd.mountpoint) != 0) {
		snprintf(err, sizeof(err),
			 "cannot mount on %s (is it an existing empty directory, not already "
			 "mounted? unmount with: fusermount3 -u %s)", cmd.mountpoint, cmd.mountpoint);
		goto out_handlers;
	}
	if (fuse_daemonize(cmd.foreground) != 0) {
		snprintf(err, sizeof(err), "cannot go to the background");
		goto out_unmount;
	}
	if (!cmd.foreground)
		log_use_syslog(true);
	if (walker_start(walker) != 0 || fs_start(fs, se) != 0 ||
	    (writeback && writeback_start(writeback) != 0)) {
		snprintf(err, sizeof(err), "cannot start threads");
		goto out_unmount;
	}
	if (offline)
		reconnect = reconnect_start(client, cache);
	atomic_store(&refresh_target, fs);
	signal(SIGHUP, on_sighup);
	log_info("mounted Pipedrive company '%s' (%s) on %s; cache_ttl=%g s", company, base,
		 cmd.mountpoint, opts->ttl);
	/* 0, a signal number (SIGTERM, SIGINT: a clean stop), or -errno. */
	status = fuse_session_loop(se) < 0 ? EXIT_MOUNT : 0;
	log_info("unmounting %s", cmd.mountpoint);
	signal(SIGHUP, SIG_IGN);
	atomic_store(&refresh_target, NULL);
	walker_free(walker); /* cancels walks in flight, answers their waiters */
	walker = NULL;
	reconnect_stop(reconnect);
	reconnect = NULL;
	writeback_free(writeback); /* a change in flight stays in the journal */
	writeback = NULL;
	fs_free(fs);
	fs = NULL;
out_unmount:
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	if (status && err[0])
		log_error("%s", err);
	walker_free(walker);
	writeback_free(writeback);
	fs_free(fs);
	if (meta)
		meta_set_person_name_source(meta, NULL, NULL);
	cache_free(cache);
	meta_free(meta);
	bytecache_free(bytes); /* writes what is not on disk yet */
	store_close(store);
	api_client_free(client);
	free(config_text);
	free(token);
	free(base);
	free(v1);
	free(company);
	free(app_url);
	free(cmd.mountpoint);
	return status;
}

int main(int argc, char **argv)
{
	/* Keep the token out of core dumps and /proc/PID/mem of other users. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct options opts;
	struct fuse_args args;
	char err[512];
	int status = EXIT_USAGE;

	if (options_parse(argc, argv, &opts, &args, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (opts.show_help) {
		options_print_help(argv[0]);
		printf("FUSE options:\n"
		       "    -f                     stay in the foreground (logs to stderr)\n"
		       "    -d                     debug: foreground and log_level=debug\n"
		       "    -s                     accepted; requests are always dispatched by one\n"
		       "                           thread, network waits never block it\n"
		       "    -o allow_other         let other users read the mount (adds default_permissions)\n"
		       "    -o auto_unmount        unmount when the daemon exits\n"
		       "\nAll FUSE mount options:\n");
		fuse_lowlevel_help();
		status = 0;
		goto out;
	}
	if (opts.show_version) {
		print_version();
		status = 0;
		goto out;
	}
	if (opts.log_level) {
		int level = log_level_parse(opts.log_level);
		if (level < 0) {
			log_error("log_level=%s: use error, warn, info or debug", opts.log_level);
			goto out;
		}
		log_set_level((enum log_level)level);
	}
	if (options_validate(&opts, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	/* With a memory bound, one malloc arena instead of one per thread:
	 * persons read back from disk on one thread and dropped on another
	 * would otherwise leave freed memory in every thread's arena (measured:
	 * 13-26 MiB over the bound during a grep of 100,000 persons). */
	if (opts.cache_max_mb > 0 && !mallopt(M_ARENA_MAX, 1))
		log_warn("could not limit malloc's arenas; memory may exceed cache_max_mb by more");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_error("cannot initialise libcurl");
		goto out;
	}
	status = run(&opts, &args);
	curl_global_cleanup();
out:
	fuse_opt_free_args(&args);
	options_free(&opts);
	return status;
}
