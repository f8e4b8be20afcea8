/*
 * reconnect.c - probing Pipedrive after an offline start (see reconnect.h).
 */
#include "reconnect.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Test-only: the first delay in seconds (tests cannot wait long). */
#define FIRST_DELAY_ENV "PDFS_TEST_RECONNECT_S"

struct reconnect {
	struct api_client *client;
	struct cache *cache;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stopping;
	pthread_t thread;
};

static double first_delay(void)
{
	const char *text = getenv(FIRST_DELAY_ENV);
	char *end;
	double v = text ? strtod(text, &end) : 0;
	return text && end != text && v > 0 ? v : RECONNECT_FIRST_S;
}

/* Wait for `seconds` or until stopped; false if stopped. */
static bool wait_or_stop(struct reconnect *r, double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	double whole = floor(seconds);
	until.tv_sec += (time_t)whole;
	until.tv_nsec += (long)((seconds - whole) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->stopping && pthread_cond_timedwait(&r->changed, &r->lock, &until) != ETIMEDOUT)
		;
	bool go_on = !r->stopping;
	pthread_mutex_unlock(&r->lock);
	return go_on;
}

static void *reconnect_main(void *arg)
{
	struct reconnect *r = arg;
	double delay = first_delay();
	while (wait_or_stop(r, delay)) {
		struct api_conn *conn = api_conn_new(r->client);
		struct api_error err = { 0 };
		int rc = conn ? api_probe(conn, &err) : -ENOMEM;
		api_conn_free(conn);
		if (rc == 0) {
			api_client_set_offline(r->client, false, NULL);
			cache_expire_all_softly(r->cache);
			log_info("Pipedrive answers again: listings are refreshed as they are used");
			break;
		}
		delay = delay * 2 > RECONNECT_MAX_S ? RECONNECT_MAX_S : delay * 2;
		log_debug("Pipedrive is still unreachable (%s); next try in %.0f s",
			  err.message[0] ? err.message : strerror(-rc), delay);
	}
	return NULL;
}

struct reconnect *reconnect_start(struct api_client *client, struct cache *cache)
{
	struct reconnect *r = calloc(1, sizeof(*r));
	if (!r) {
		log_error("out of memory starting the reconnect thread; the mount stays offline");
		return NULL;
	}
	r->client = client;
	r->cache = cache;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->changed, NULL);
	int rc = pthread_create(&r->thread, NULL, reconnect_main, r);
	if (rc) {
		log_error("cannot start the reconnect thread (%s); the mount stays offline until "
			  "it is mounted again", strerror(rc));
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->changed);
		free(r);
		return NULL;
	}
	return r;
}

void reconnect_stop(struct reconnect *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->changed);
	free(r);
}
