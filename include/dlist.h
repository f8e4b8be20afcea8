/*
 * dlist.h - an intrusive doubly linked list: embed a struct dlist_node in
 * the element, get the element back with dlist_entry.  Used for lists in
 * order of use (the cache's slots, the pretty cache's texts) and the open
 * directory handles.  No locking, no allocation.
 */
#ifndef PDFS_DLIST_H
#define PDFS_DLIST_H

#include <stddef.h>

struct dlist_node {
	struct dlist_node *prev, *next;
};

struct dlist {
	struct dlist_node *head, *tail; /* head: the newest / most recently used */
};

#define dlist_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

static inline void dlist_unlink(struct dlist *l, struct dlist_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static inline void dlist_push_front(struct dlist *l, struct dlist_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	if (!l->tail)
		l->tail = n;
}

/* Move n (on l) to the front. */
static inline void dlist_move_front(struct dlist *l, struct dlist_node *n)
{
	if (l->head != n) {
		dlist_unlink(l, n);
		dlist_push_front(l, n);
	}
}

#endif
