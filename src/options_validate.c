/*
 * options_validate.c - options_validate: every option's range and form
 * checked once, paths made absolute, whether the mount writes.  Parsing
 * argv and the config file is options.c's.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount_origin.h"

static int parse_ttl(const char *s, double *ttl)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 86400 * 365)
		return -1;
	*ttl = v;
	return 0;
}

/* A comma-separated list of field keys: letters, digits and '_' only. */
static int validate_key_list(const char *list, int max, const char *what, char *err,
			     size_t errlen)
{
	int count = 0;
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",");
		bool ok = n > 0;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)p[i]) || p[i] == '_';
		if (!ok) {
			snprintf(err, errlen, "%s=%s: give field keys separated by commas (letters, "
					      "digits and '_')", what, list);
			return -1;
		}
		count++;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	if (count > max) {
		snprintf(err, errlen, "%s: %d keys given, the API allows at most %d", what, count, max);
		return -1;
	}
	return 0;
}

/* The CA bundle as an absolute path, checked readable now: the daemon's
 * working directory becomes / once it mounts (fuse_daemonize), and every new
 * connection reads the file again. */
static int resolve_ca_file(struct options *opts, char *err, size_t errlen)
{
	char *abs = realpath(opts->ca_file, NULL);
	int fd = abs ? open(abs, O_RDONLY | O_CLOEXEC) : -1;
	int saved = errno;
	struct stat st;
	bool regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (fd >= 0)
		close(fd);
	if (!regular) {
		snprintf(err, errlen, "ca_file=%s: %s; give a readable PEM file of CA certificates",
			 opts->ca_file, fd < 0 ? strerror(saved) : "not a regular file");
		free(abs);
		return -1;
	}
	free(opts->ca_file);
	opts->ca_file = abs;
	return 0;
}

/* cache_dir as an absolute path (the daemon's working directory becomes /
 * once it mounts); the folder itself may not exist yet. */
static int resolve_cache_dir(struct options *opts, char *err, size_t errlen)
{
	if (opts->cache_dir[0] == '\0') {
		snprintf(err, errlen, "cache_dir= needs a folder");
		return -1;
	}
	if (opts->cache_dir[0] == '/')
		return 0;
	char *cwd = getcwd(NULL, 0);
	char *abs = NULL;
	if (!cwd || asprintf(&abs, "%s/%s", cwd, opts->cache_dir) < 0) {
		free(cwd);
		snprintf(err, errlen, "cache_dir=%s: cannot make it absolute", opts->cache_dir);
		return -1;
	}
	free(cwd);
	free(opts->cache_dir);
	opts->cache_dir = abs;
	return 0;
}

/*
 * Writing: -o rw or -o allow_write.  mount(8) hands "rw" to every file
 * system it mounts without "ro" (an fstab line with "defaults" arrives as
 * "-o rw,dev,suid"), so when mount(8) started us a bare "rw" is its word,
 * not the user's, and only allow_write turns writing on.
 */
static void decide_writable(struct options *opts)
{
	opts->started_by_mount = mount_origin_is_mount8();
	bool asked = opts->allow_write || (opts->rw_word && !opts->started_by_mount);
	opts->writable = asked && !opts->ro_word;
}

int options_validate(struct options *opts, char *err, size_t errlen)
{
	opts->ttl = 60;
	if (opts->cache_ttl && parse_ttl(opts->cache_ttl, &opts->ttl)) {
		snprintf(err, errlen, "cache_ttl=%s: give a number of seconds (0 = no caching)",
			 opts->cache_ttl);
		return -1;
	}
	if (opts->page_limit < 1 || opts->page_limit > 500) {
		snprintf(err, errlen, "page_limit=%d: must be 1..500 (the API's maximum is 500)",
			 opts->page_limit);
		return -1;
	}
	if (opts->timeout < 1 || opts->timeout > 3600) {
		snprintf(err, errlen, "timeout=%d: must be 1..3600 seconds", opts->timeout);
		return -1;
	}
	if (opts->token_command_timeout < 1 || opts->token_command_timeout > 3600) {
		snprintf(err, errlen, "token_command_timeout=%d: must be 1..3600 seconds",
			 opts->token_command_timeout);
		return -1;
	}
	if (opts->workers < 1 || opts->workers > 64) {
		snprintf(err, errlen, "workers=%d: must be 1..64", opts->workers);
		return -1;
	}
	if (opts->vcard_version && strcmp(opts->vcard_version, "3.0") != 0 &&
	    strcmp(opts->vcard_version, "4.0") != 0) {
		snprintf(err, errlen, "vcard_version=%s: must be 3.0 or 4.0", opts->vcard_version);
		return -1;
	}
	if (opts->recent_days < 1 || opts->recent_days > 3650) {
		snprintf(err, errlen, "recent_days=%d: must be 1..3650", opts->recent_days);
		return -1;
	}
	if (opts->full_refresh < 0) {
		snprintf(err, errlen, "full_refresh=%d: give seconds (0 = every refresh is full)",
			 opts->full_refresh);
		return -1;
	}
	if (opts->walk_windows < 0 || opts->walk_windows > 8) {
		snprintf(err, errlen, "walk_windows=%d: 0 (automatic) or 1..8", opts->walk_windows);
		return -1;
	}
	if (opts->cache_max_mb < 0) {
		snprintf(err, errlen, "cache_max_mb=%d: give megabytes (0 = no bound)",
			 opts->cache_max_mb);
		return -1;
	}
	if (opts->ca_file && resolve_ca_file(opts, err, errlen))
		return -1;
	if (opts->disk_cache && strcmp(opts->disk_cache, "yes") != 0 &&
	    strcmp(opts->disk_cache, "no") != 0) {
		snprintf(err, errlen, "disk_cache=%s: yes or no", opts->disk_cache);
		return -1;
	}
	opts->use_disk_cache = !opts->disk_cache || strcmp(opts->disk_cache, "yes") == 0;
	if (opts->cache_dir && resolve_cache_dir(opts, err, errlen))
		return -1;
	decide_writable(opts);
	if (opts->custom_fields && validate_key_list(opts->custom_fields, 15, "custom_fields",
						     err, errlen))
		return -1;
	if (opts->include_fields && validate_key_list(opts->include_fields, 64, "include_fields",
						      err, errlen))
		return -1;
	if (!opts->mountpoint) {
		snprintf(err, errlen, "no mountpoint given (usage: pipedrivefs [SOURCE] MOUNTPOINT "
				      "[-o options]; see --help)");
		return -1;
	}
	return 0;
}
