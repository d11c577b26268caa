/*
 * srv_list.h — an intrusive circular doubly linked list, for the service
 * thread's session lists and reply FIFOs.
 *
 * Design: a struct that goes on a list embeds a struct srv_list (its link);
 * a list is a struct srv_list head whose next and prev point at the head
 * itself when the list is empty, so insert and remove are a few pointer
 * stores with no case for the ends, and no allocation. srv_list_entry()
 * turns a link back into the struct that embeds it. A link that is on no
 * list has next == NULL (zeroed memory, or after srv_list_remove), which is
 * what srv_list_linked() reads: a struct needs no flag of its own to say
 * whether it is on a list.
 *
 * Walking a list is the same pointer chase as a hand-written list; lookups
 * and the poke fan-out walk these lists, so everything here is inline.
 * Nothing is locked: a list belongs to one thread (for server/, the lws
 * service thread).
 */
#ifndef VS_SRV_LIST_H
#define VS_SRV_LIST_H

#include <stddef.h>

struct srv_list {
    struct srv_list *next, *prev;
};

/* The struct of type whose member link is at link. */
#define srv_list_entry(link, type, member) \
    ((type *)(void *)((char *)(link) - offsetof(type, member)))

/* Visits every link of head, first to last; the body must not remove link. */
#define SRV_LIST_FOREACH(link, head) \
    for ((link) = (head)->next; (link) != (head); (link) = (link)->next)

/* Visits every link of head, first to last; the body may remove link (next is kept in tmp). */
#define SRV_LIST_FOREACH_SAFE(link, tmp, head)                        \
    for ((link) = (head)->next, (tmp) = (link)->next; (link) != (head); \
         (link) = (tmp), (tmp) = (link)->next)

/* Makes head an empty list. */
static inline void srv_list_init(struct srv_list *head)
{
    head->next = head;
    head->prev = head;
}

/* True when head holds no link. */
static inline int srv_list_empty(const struct srv_list *head)
{
    return head->next == head;
}

/* True when link is on a list. */
static inline int srv_list_linked(const struct srv_list *link)
{
    return link->next != NULL;
}

/* The first link of head, or NULL when it is empty. */
static inline struct srv_list *srv_list_first(const struct srv_list *head)
{
    return head->next != head ? head->next : NULL;
}

/* Puts link (on no list) first on head. */
static inline void srv_list_insert_head(struct srv_list *head, struct srv_list *link)
{
    link->next = head->next;
    link->prev = head;
    head->next->prev = link;
    head->next = link;
}

/* Puts link (on no list) last on head. */
static inline void srv_list_insert_tail(struct srv_list *head, struct srv_list *link)
{
    link->next = head;
    link->prev = head->prev;
    head->prev->next = link;
    head->prev = link;
}

/* Takes link off its list; then it is on none. link must be on a list. */
static inline void srv_list_remove(struct srv_list *link)
{
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->next = NULL;
    link->prev = NULL;
}

#endif
