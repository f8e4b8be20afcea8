/*
 * log.h - the daemon's one logger.
 *
 * Lines go to stderr in the foreground and to syslog (LOG_DAEMON, ident
 * "pipedrivefs") once daemonized.  Callers never log the API token; the API
 * client builds URLs and messages without it.  Every warning or error line
 * should say what the user can do about it.  Thread-safe.
 */
#ifndef PDFS_LOG_H
#define PDFS_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Switch from stderr to syslog (called after fuse_daemonize()). */
void log_use_syslog(bool on);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
