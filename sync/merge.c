/*
 * merge.c — the per-field last-writer-wins merge of §2.3 on decoded records.
 *
 * Design: both field lists are sorted by name, so the merge is one pass of a
 * merge-join. A field of the change replaces the stored one iff its
 * (ms, counter, device) is greater, which makes the merged values a function
 * of the set of changes. Independently of who wins, a field is a conflict
 * when the stored value came from another device at a rev the change had
 * not seen (above its base) and the canonical encodings differ. Nothing here
 * touches the store, so it is tested on plain structs.
 */
#include <stdlib.h>
#include <string.h>

#include "sync_internal.h"

int sync__stamp_after(const struct proto_hlc *a, const char *a_device, const struct proto_hlc *b,
                      const char *b_device)
{
    if (a->ms != b->ms)
        return a->ms > b->ms;
    if (a->counter != b->counter)
        return a->counter > b->counter;
    return strcmp(a_device, b_device) > 0;
}

static int value_equal(const struct proto_value *a, const struct proto_value *b)
{
    return a->json_len == b->json_len && memcmp(a->json, b->json, a->json_len) == 0;
}

void sync__merged_clear(struct sync__merged *m)
{
    free(m->fields);
    free(m->stamps);
    free(m->conflicts);
    memset(m, 0, sizeof *m);
}

int sync__merge(const struct proto_collection *col, const struct proto_record *stored,
                int64_t stored_rev, const struct proto_change *c, const char *device,
                struct sync__merged *out)
{
    struct sync__merged m = {0};
    size_t ns = stored ? stored->n_fields : 0;
    size_t cap = ns + c->n_fields;
    size_t i = 0, j = 0;
    int rc = SYNC_ENOMEM;

    m.rev = stored_rev + 1;
    /* calloc(0) may return NULL; ask for one slot so NULL always means no memory. */
    m.fields = calloc(cap ? cap : 1, sizeof *m.fields);
    m.stamps = calloc(cap ? cap : 1, sizeof *m.stamps);
    m.conflicts = calloc(c->n_fields ? c->n_fields : 1, sizeof *m.conflicts);
    if (m.fields == NULL || m.stamps == NULL || m.conflicts == NULL)
        goto out;

    struct proto_stamp mine = {.hlc = c->hlc, .device = device, .rev = m.rev};
    while (i < ns || j < c->n_fields) {
        int cmp;
        if (i == ns)
            cmp = 1;
        else if (j == c->n_fields)
            cmp = -1;
        else
            cmp = strcmp(stored->fields[i].name, c->fields[j].name);

        if (cmp < 0) { /* only stored has it: keep */
            m.fields[m.n] = stored->fields[i];
            m.stamps[m.n] = stored->stamps[i];
            i++;
        } else if (cmp > 0) { /* only the change has it: take */
            m.fields[m.n] = c->fields[j];
            m.stamps[m.n] = mine;
            j++;
        } else {
            const struct proto_field *sf = &stored->fields[i];
            const struct proto_stamp *ss = &stored->stamps[i];
            const struct proto_field *cf = &c->fields[j];
            if (strcmp(ss->device, device) != 0 && ss->rev > c->base &&
                !value_equal(&sf->value, &cf->value)) {
                struct sync__conflict *k = &m.conflicts[m.n_conflicts++];
                k->field = cf->name;
                k->stored = &sf->value;
                k->stored_stamp = ss;
                k->incoming = &cf->value;
            }
            if (sync__stamp_after(&c->hlc, device, &ss->hlc, ss->device)) {
                m.fields[m.n] = *cf;
                m.stamps[m.n] = mine;
            } else {
                m.fields[m.n] = *sf;
                m.stamps[m.n] = *ss;
            }
            i++;
            j++;
        }
        const struct proto_field *f = &m.fields[m.n];
        if (strcmp(f->name, "_deleted") == 0)
            m.deleted = f->value.type == PROTO_BOOL && f->value.boolean;
        else if (col->scope != NULL && strcmp(f->name, col->scope) == 0)
            m.grid = f->value.type == PROTO_STRING ? f->value.str : NULL;
        m.n++;
    }
    *out = m;
    memset(&m, 0, sizeof m);
    rc = 0;
out:
    sync__merged_clear(&m);
    return rc;
}
