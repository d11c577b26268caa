/*
 * facts.c — what the store keeps of a visit beside its body (visit_facts:
 * subject, visited_at, assistance, photos, creator), taken from the merged
 * fields the writer holds anyway, so that db/ binds plain values instead
 * of parsing the body again with SQLite's JSON functions (about a third of
 * the writer's time per new visit, docs/performance.md).
 *
 * db/ derives the same facts from the body in SQL (its back-fill, and the
 * writes of callers without parsed fields); the two must agree, which
 * tests/db/test_facts.c checks. Where this side could disagree (a subject
 * that is not a string, a visited_at that is not RFC 3339, which julianday()
 * may still read), it declines and the SQL decides.
 */
#include <string.h>

#include "proto_time.h"
#include "sync_internal.h"

static const struct proto_value *field_value(const struct sync__merged *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->fields[i].name, name) == 0)
            return &m->fields[i].value;
    return NULL;
}

static int absent(const struct proto_value *v)
{
    return v == NULL || v->type == PROTO_NULL;
}

/* See sync_internal.h. Pure; any thread. */
int sync__visit_facts(const struct sync__merged *m, const char *user, struct db_visit_facts *f)
{
    const struct proto_value *subject = field_value(m, "subject");
    const struct proto_value *at = field_value(m, "visited_at");
    const struct proto_value *assist = field_value(m, "assistance");
    const struct proto_value *photos = field_value(m, "photos");

    memset(f, 0, sizeof *f);
    if (!absent(subject)) {
        if (subject->type != PROTO_STRING || strlen(subject->str) != subject->len)
            return -1;
        f->subject = subject->str;
    }
    if (!absent(at)) {
        if (at->type != PROTO_STRING || proto_datetime_ms(at->str, at->len, &f->ms) != 0)
            return -1;
        f->has_ms = 1;
    }
    if (assist != NULL && assist->type == PROTO_ARRAY) {
        f->assist = assist->json;
        f->assist_len = assist->json_len;
    }
    f->photos = photos != NULL && photos->type == PROTO_ARRAY ? (int64_t)photos->n_items : 0;
    /* The creator is the user whose applied change made rev 1. */
    f->creator = m->rev == 1 && m->n_conflicts == 0 ? user : NULL;
    return 0;
}
