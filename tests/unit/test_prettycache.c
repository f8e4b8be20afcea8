/* The pretty cache: one render however many wait, slices of the same text
 * later, the byte bound, a new person version gets a new text. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "prettycache.h"
#include "strbuf.h"

static const struct person_render render = { .version = VCARD_V30, .company = "acme" };
static struct person_style *style; /* made from render in main */

/* A person whose .json is a little over `bytes` long. */
static struct person *big_person(int64_t id, size_t bytes, char fill)
{
	struct strbuf sb = STRBUF_INIT;
	sb_printf(&sb, "{\"id\":%lld,\"name\":\"P\",\"tags\":[", (long long)id);
	for (size_t i = 0; sb.len < bytes; i++)
		sb_printf(&sb, "%s{\"k\":\"%c%zu\"}", i ? "," : "", fill, i);
	sb_puts(&sb, "]}");
	int err;
	struct person *p = person_from_text(sb.data, sb.len, style, &err);
	sb_free(&sb);
	return p;
}

struct got {
	struct pretty_waiter w;
	pthread_mutex_t lock;
	int calls;
	struct pretty_text *text;
	int err;
};

static void on_done(struct pretty_waiter *w, struct pretty_text *t, int err)
{
	struct got *g = (struct got *)w;
	pthread_mutex_lock(&g->lock);
	g->calls++;
	pretty_text_unref(g->text);
	g->text = t;
	g->err = err;
	pthread_mutex_unlock(&g->lock);
}

static void got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	g->w.done = on_done;
	pthread_mutex_init(&g->lock, NULL);
}

static int calls_of(struct got *g)
{
	pthread_mutex_lock(&g->lock);
	int n = g->calls;
	pthread_mutex_unlock(&g->lock);
	return n;
}

static void wait_calls(struct got *g, int n)
{
	for (int i = 0; i < 5000 && calls_of(g) < n; i++)
		usleep(1000);
}

static void test_render_once_and_share(void)
{
	struct prettycache *pc = prettycache_new(10u << 20);
	CHECK(prettycache_start(pc) == 0);
	struct person *p = big_person(1, 200000, 'a');
	struct got a, b;
	got_init(&a);
	got_init(&b);
	CHECK(prettycache_get(pc, p) == NULL);
	prettycache_wait(pc, p, &a.w);
	prettycache_wait(pc, p, &b.w);
	wait_calls(&a, 1);
	wait_calls(&b, 1);
	CHECK(a.calls == 1 && b.calls == 1 && a.text && a.text == b.text);
	/* The text is the person's .json file. */
	struct strbuf want = STRBUF_INIT;
	person_json(p, &want);
	CHECK(a.text->len == want.len && a.text->len == p->json_len &&
	      memcmp(a.text->data, want.data, want.len) == 0);
	sb_free(&want);
	struct pretty_text *again = prettycache_get(pc, p);
	CHECK(again == a.text);
	pretty_text_unref(again);
	/* Waiting for a held text answers at once, on this thread. */
	struct got c;
	got_init(&c);
	prettycache_wait(pc, p, &c.w);
	CHECK(c.calls == 1 && c.text == a.text);
	struct prettycache_stats st;
	prettycache_get_stats(pc, &st);
	CHECK(st.renders == 1 && st.texts == 1 && st.bytes == p->json_len);
	pretty_text_unref(a.text);
	pretty_text_unref(b.text);
	pretty_text_unref(c.text);
	person_unref(p);
	prettycache_free(pc);
}

static void test_bound_and_versions(void)
{
	struct person *p1 = big_person(1, 300000, 'a');
	struct prettycache *pc = prettycache_new(p1->json_len * 2 + 10);
	CHECK(prettycache_start(pc) == 0);
	struct person *p2 = big_person(2, 300000, 'b');
	struct person *p3 = big_person(3, 300000, 'c');
	struct person *p1b = big_person(1, 300000, 'z'); /* a new version of 1 */
	struct person *order[] = { p1, p2, p3 };
	for (int i = 0; i < 3; i++) {
		struct got g;
		got_init(&g);
		prettycache_wait(pc, order[i], &g.w);
		wait_calls(&g, 1);
		CHECK(g.text != NULL);
		pretty_text_unref(g.text);
	}
	struct prettycache_stats st;
	prettycache_get_stats(pc, &st);
	CHECK(st.texts == 2 && st.bytes <= p1->json_len * 2 + 10);
	struct pretty_text *t = prettycache_get(pc, p1);
	CHECK(t == NULL); /* the least recently used went */
	t = prettycache_get(pc, p3);
	CHECK(t != NULL);
	pretty_text_unref(t);
	/* Another version of a person is another text. */
	CHECK(prettycache_get(pc, p1b) == NULL);
	struct got g;
	got_init(&g);
	prettycache_wait(pc, p1b, &g.w);
	wait_calls(&g, 1);
	CHECK(g.text && g.text->person == p1b && g.text->data[g.text->len - 2] == '}');
	CHECK(memchr(g.text->data, 'z', g.text->len) != NULL);
	pretty_text_unref(g.text);
	prettycache_get_stats(pc, &st);
	CHECK(st.renders == 4);
	person_unref(p1);
	person_unref(p2);
	person_unref(p3);
	person_unref(p1b);
	prettycache_free(pc);
}

static void test_without_a_thread(void)
{
	/* Not started: rendered on the caller's thread. */
	struct prettycache *pc = prettycache_new(1u << 20);
	struct person *p = big_person(5, 100000, 'q');
	struct got g;
	got_init(&g);
	prettycache_wait(pc, p, &g.w);
	CHECK(g.calls == 1 && g.text && g.text->len == p->json_len);
	pretty_text_unref(g.text);
	prettycache_free(pc);
	person_unref(p);
}

int main(void)
{
	style = person_style_new(&render);
	test_render_once_and_share();
	test_bound_and_versions();
	test_without_a_thread();
	person_style_unref(style);
	return check_finish("prettycache");
}
