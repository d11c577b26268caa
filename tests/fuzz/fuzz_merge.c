/*
 * fuzz_merge.c — the merge is a function of the set of changes (§2.3),
 * with the fuzzer choosing the set and the arrival order.
 *
 * The input's bytes, read from the front, generate a case as
 * tests/sync/test_property.c does: 2–6 devices (five of the cadre of g1,g2
 * and the supervisor of all grids), 1–3 records in two collections, up to
 * 32 changes with per-device rising hybrid clocks (ties across devices),
 * random bases, tombstones and restores, optional fields cleared with null,
 * values that the schema refuses, equal values spelled differently, and now
 * and then a clock too far ahead. Every change names the record's grid, so
 * whether a change is valid does not depend on what arrived before it.
 *
 * The same changes are applied through the real path (parsed by
 * proto_parse_client, applied by sync_apply_push) into two stores: A in
 * the order generated, one change per push; B in an interleaving of the
 * devices' queues (each device keeps its seq order, as a real one does)
 * with batches of 1–3, chosen by the input's bytes read from the back.
 *
 * Properties:
 *  - each change has the same fate in A and B: rejected with the same code
 *    and field, or merged (applied or conflict); none is a duplicate;
 *  - every record ends identical in A and B: body, deleted, grid, rev and
 *    each field's stamp (ms, counter, device — not the per-field rev, which
 *    depends on the order), and equal to a model: each field holds the
 *    value of its greatest (ms, counter, device) writer, rev counts the
 *    merged changes; every stored record decodes and re-encodes to itself;
 *  - re-sending a change with its seq (B, at random) is a duplicate that
 *    changes nothing, not even the record's cursor;
 *  - applying a merged change again under a new seq (B, at the end) changes
 *    only the record's rev: the merge is idempotent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fz_store.h"
#include "proto_record.h"

#define MAX_DEV 6
#define MAX_REC 3
#define MAX_CHG 32
#define POOL 5

/* ---- what the generator writes ----------------------------------------- */

struct gfield {
    const char *name;
    int required;
    int scope;
    unsigned valid;         /* pool[0..valid) are values the schema accepts */
    const char *pool[POOL]; /* JSON literals; NULL ends a short pool */
};

/*
 * Pools hold valid values, among them one value spelled two ways ("王" and
 * "\u738b", 100 and 1e2) that must compare equal once parsed, and after
 * them values the schema refuses (the change is then rejected in every
 * order), drawn one time in eight.
 */
static const struct gfield subject_fields[] = {
    {"name", 1, 0, 4, {"\"Zhang\"", "\"Li\"", "\"王\"", "\"\\u738b\"", "42"}},
    {"grid", 1, 1, 2, {"\"g1\"", "\"g2\""}},
    {"status", 0, 0, 2, {"\"voluntary\"", "\"completed\"", "\"bogus\""}},
    {"employment", 0, 0, 2, {"\"employed\"", "\"unemployed\""}},
    {"employer", 0, 0, 3, {"\"X\"", "\"Y\"", "null"}},
    {"income", 0, 0, 4, {"0", "100", "1e2", "2500.5", "-1"}},
    {"disability_cert", 0, 0, 2, {"true", "false", "\"yes\""}},
    {"phone", 0, 0, 3, {"\"1\"", "\"2\"", "null"}},
    {"_deleted", 0, 0, 2, {"true", "false"}},
};
static const struct gfield visit_fields[] = {
    {"subject", 1, 0, 2, {"\"s-1\"", "\"s-2\"", "\"bad id\""}},
    {"grid", 1, 1, 2, {"\"g1\"", "\"g2\""}},
    {"visited_at", 1, 0, 2,
     {"\"2026-11-28T09:30:00+08:00\"", "\"2026-11-29T10:00:00Z\"", "\"2026-02-30T00:00:00Z\""}},
    {"kind", 0, 0, 2, {"\"home\"", "\"phone\""}},
    {"income", 0, 0, 2, {"0", "300", "\"300\""}},
    {"assistance", 0, 0, 3, {"[\"rehab\"]", "[\"fund\",\"dibao\"]", "[]", "[\"nope\"]"}},
    {"notes", 0, 0, 3, {"\"n1\"", "\"n2\"", "null"}},
    {"follow_up", 0, 0, 2, {"\"2026-12-01\"", "\"2027-01-31\""}},
    {"_deleted", 0, 0, 2, {"true", "false"}},
};

struct gcoll {
    const char *name;
    const struct gfield *fields;
    unsigned n;
};
static const struct gcoll colls[] = {
    {"subjects", subject_fields, sizeof subject_fields / sizeof subject_fields[0]},
    {"visits", visit_fields, sizeof visit_fields / sizeof visit_fields[0]},
};

static const char *const device_pool[MAX_DEV] = {"dB", "sup", "dA", "dE", "dC", "dD"};

static unsigned pool_size(const struct gfield *g)
{
    unsigned n = 0;
    while (n < POOL && g->pool[n] != NULL)
        n++;
    return n;
}

/* ---- a generated case -------------------------------------------------- */

struct gchange {
    int dev;
    int rec;
    char json[1024];
    struct proto_msg *msg; /* the change parsed alone; msg->u.push.changes[0] */
};

struct gcase {
    int ndev;
    int nrec;
    int coll[MAX_REC];
    char ids[MAX_REC][16];
    int nchg;
    struct gchange chg[MAX_CHG];
    int nq[MAX_DEV];
    int q[MAX_DEV][MAX_CHG]; /* each device's changes, in seq order */
    int64_t last_seq[MAX_DEV];
};

static struct gcase gc;
static struct fz_store store_a, store_b;
static struct db_principal who[MAX_DEV];

static const struct proto_change *change_of(int i)
{
    return &gc.chg[i].msg->u.push.changes[0];
}

/* Prints the case, so a failure can be read without a debugger. */
static void print_case(void)
{
    fprintf(stderr, "the case (%d devices, %d records, %d changes):\n", gc.ndev, gc.nrec,
            gc.nchg);
    for (int i = 0; i < gc.nchg; i++)
        fprintf(stderr, "  [%d] %s %s\n", i, device_pool[gc.chg[i].dev], gc.chg[i].json);
}

struct gclock {
    int started;
    int64_t ms, counter, seq;
};

/* Appends "name":literal to a list of members. */
static void append(char *buf, size_t size, const char *name, const char *literal)
{
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s\"%s\":%s", len ? "," : "", name, literal);
}

/*
 * Rare choices are the last value of a draw, never 0: bytes of 0 (and a
 * spent input, which reads as 0) make ordinary changes.
 */
static void generate(struct fz_bytes *in)
{
    struct gclock clock[MAX_DEV];
    memset(&gc, 0, sizeof gc);
    memset(clock, 0, sizeof clock);
    gc.ndev = 2 + (int)fz_take(in, MAX_DEV - 1);
    gc.nrec = 1 + (int)fz_take(in, MAX_REC);
    for (int r = 0; r < gc.nrec; r++) {
        gc.coll[r] = (int)fz_take(in, 2);
        snprintf(gc.ids[r], sizeof gc.ids[r], "r%d", r);
    }
    gc.nchg = 1 + (int)fz_take(in, MAX_CHG);
    for (int i = 0; i < gc.nchg; i++) {
        struct gchange *c = &gc.chg[i];
        c->dev = (int)fz_take(in, (unsigned)gc.ndev);
        c->rec = (int)fz_take(in, (unsigned)gc.nrec);
        struct gclock *k = &clock[c->dev];
        if (!k->started) {
            k->started = 1;
            k->ms = 1000 + fz_take(in, 4);
            k->counter = fz_take(in, 2);
            k->seq = 1 + fz_take(in, 3);
        } else {
            /* A device's clock only rises: (ms, counter) never repeats for one device. */
            switch (fz_take(in, 4)) {
            case 0:
                k->counter++;
                break;
            case 1:
                k->counter += 1 + fz_take(in, 3);
                break;
            default:
                k->ms += 1 + fz_take(in, 3);
                k->counter = fz_take(in, 2);
                break;
            }
            k->seq += 1 + fz_take(in, 2);
        }
        /* Now and then a clock far ahead of the server's: clock_skew in every order. */
        int64_t ms = fz_take(in, 32) == 31 ? FZ_NOW + 3600 * 1000 : k->ms;
        int64_t base = fz_take(in, 3) == 0 ? 0 : 1 + fz_take(in, 4);

        const struct gcoll *col = &colls[gc.coll[c->rec]];
        char fields[768] = "";
        for (unsigned f = 0; f < col->n; f++) {
            const struct gfield *g = &col->fields[f];
            int take;
            if (g->scope)
                take = 1;
            else if (g->required)
                take = fz_take(in, 8) != 7;
            else if (strcmp(g->name, "_deleted") == 0)
                take = fz_take(in, 5) == 4;
            else
                take = fz_take(in, 3) == 0;
            if (take) {
                unsigned n = fz_take(in, 8) == 7 ? pool_size(g) : g->valid;
                append(fields, sizeof fields, g->name, g->pool[fz_take(in, n)]);
            }
        }
        snprintf(c->json, sizeof c->json,
                 "{\"seq\":%" PRId64 ",\"collection\":\"%s\",\"id\":\"%s\",\"base\":%" PRId64
                 ",\"hlc\":[%" PRId64 ",%" PRId64 "],\"fields\":{%s}}",
                 k->seq, col->name, gc.ids[c->rec], base, ms, k->counter, fields);
        gc.q[c->dev][gc.nq[c->dev]++] = i;
        gc.last_seq[c->dev] = k->seq;

        char text[1200];
        int n = snprintf(text, sizeof text, "{\"type\":\"push\",\"changes\":[%s]}", c->json);
        struct proto_fault fault = {0};
        int err = proto_parse_client(text, (size_t)n, &c->msg, &fault, NULL);
        FZ_CHECK(err == 0 && c->msg->u.push.n_changes == 1 &&
                     c->msg->u.push.changes[0].fault.code == PROTO_CODE_NONE,
                 "a generated change does not parse: %s\n%s", fault.message, text);
    }
}

static void free_case(void)
{
    for (int i = 0; i < gc.nchg; i++)
        proto_msg_free(gc.chg[i].msg);
}

/* ---- applying ---------------------------------------------------------- */

/* What happened to each change in one store. */
struct fate {
    enum proto_status status;
    struct proto_fault error;
};

/* Applies changes idx[0..n) of one device as one push; records their fates. */
static void push(struct fz_store *s, int dev, const int *idx, int n, struct fate *fates)
{
    struct proto_change batch[3];
    struct proto_result res[3];
    memset(batch, 0, sizeof batch);
    FZ_CHECK(n >= 1 && n <= 3, "batch of %d", n);
    for (int i = 0; i < n; i++)
        batch[i] = *change_of(idx[i]);
    fz_apply(s, &who[dev], batch, (size_t)n, res, NULL);
    for (int i = 0; i < n; i++) {
        FZ_CHECK(res[i].seq == batch[i].seq, "a result answers another change");
        FZ_CHECK(res[i].status != PROTO_DUPLICATE, "change %d, sent once, is a duplicate",
                 idx[i]);
        fates[idx[i]].status = res[i].status;
        fates[idx[i]].error = res[i].error;
    }
    sync_results_clear(res, (size_t)n);
}

static int get(struct fz_store *s, int rec, struct db_record *out)
{
    int rc = db_record_get(s->db, colls[gc.coll[rec]].name, gc.ids[rec], out);
    FZ_CHECK(rc == 0 || rc == DB_ENOTFOUND, "db_record_get: %s", db_errmsg(s->db));
    return rc == 0;
}

static int same_record(const struct db_record *a, const struct db_record *b, int with_rev)
{
    return (!with_rev || a->rev == b->rev) && a->deleted == b->deleted &&
           a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0 &&
           a->meta_len == b->meta_len && memcmp(a->meta, b->meta, a->meta_len) == 0 &&
           ((a->grid == NULL && b->grid == NULL) ||
            (a->grid != NULL && b->grid != NULL && strcmp(a->grid, b->grid) == 0));
}

/* Re-sends change ci with its own seq: a duplicate that changes nothing. */
static void resend(struct fz_store *s, int ci)
{
    const struct gchange *g = &gc.chg[ci];
    struct db_record before, after;
    struct proto_result res;
    int had = get(s, g->rec, &before);
    fz_apply(s, &who[g->dev], change_of(ci), 1, &res, NULL);
    FZ_CHECK(res.status == PROTO_DUPLICATE, "re-sent change %d is %s", ci,
             proto_status_name(res.status));
    FZ_CHECK(res.rev == (had ? before.rev : 0), "a duplicate reports rev %" PRId64, res.rev);
    int has = get(s, g->rec, &after);
    FZ_CHECK(had == has, "a duplicate created or removed %s", gc.ids[g->rec]);
    if (had) {
        FZ_CHECK(same_record(&before, &after, 1) && before.seq == after.seq,
                 "a duplicate changed %s", gc.ids[g->rec]);
        db_record_clear(&before);
        db_record_clear(&after);
    }
    sync_results_clear(&res, 1);
}

/* ---- checking ----------------------------------------------------------- */

/* The model's field: the greatest writer's value and stamp. */
struct mfield {
    const char *name;
    const struct proto_value *value;
    struct proto_hlc hlc;
    const char *device;
};

static int stamp_after(const struct proto_hlc *a, const char *ad, const struct proto_hlc *b,
                       const char *bd)
{
    if (a->ms != b->ms)
        return a->ms > b->ms;
    if (a->counter != b->counter)
        return a->counter > b->counter;
    return strcmp(ad, bd) > 0;
}

static int mfield_cmp(const void *x, const void *y)
{
    return strcmp(((const struct mfield *)x)->name, ((const struct mfield *)y)->name);
}

/* Checks record rec of store A against the model built from the merged changes. */
static void check_model(int rec, const struct fate *fates, const struct db_record *r)
{
    struct mfield m[32];
    int n = 0, merged = 0;
    for (int i = 0; i < gc.nchg; i++) {
        if (gc.chg[i].rec != rec || fates[i].status == PROTO_REJECTED)
            continue;
        merged++;
        const struct proto_change *c = change_of(i);
        const char *dev = device_pool[gc.chg[i].dev];
        for (size_t k = 0; k < c->n_fields; k++) {
            int j = 0;
            while (j < n && strcmp(m[j].name, c->fields[k].name) != 0)
                j++;
            if (j == n) {
                FZ_CHECK(n < 32, "too many fields");
                n++;
            } else if (!stamp_after(&c->hlc, dev, &m[j].hlc, m[j].device)) {
                continue;
            }
            m[j].name = c->fields[k].name;
            m[j].value = &c->fields[k].value;
            m[j].hlc = c->hlc;
            m[j].device = dev;
        }
    }
    FZ_CHECK((merged > 0) == (r != NULL), "%s: %d changes merged, stored: %s", gc.ids[rec],
             merged, r ? "yes" : "no");
    if (r == NULL)
        return;
    qsort(m, (size_t)n, sizeof m[0], mfield_cmp);
    FZ_CHECK(r->rev == merged, "%s: rev %" PRId64 ", but %d changes merged", gc.ids[rec], r->rev,
             merged);
    struct proto_record *dec = NULL;
    struct proto_fault fault = {0};
    FZ_CHECK(proto_record_decode(r->body, r->body_len, r->meta, r->meta_len, &dec, &fault) == 0,
             "decode: %s", fault.message);
    FZ_CHECK(dec->n_fields == (size_t)n, "%s: %zu fields, the model %d\nbody %s\nmeta %s",
             gc.ids[rec], dec->n_fields, n, r->body, r->meta);
    int deleted = 0;
    for (int i = 0; i < n; i++) {
        const struct proto_field *f = &dec->fields[i];
        const struct proto_stamp *s = &dec->stamps[i];
        FZ_CHECK(strcmp(f->name, m[i].name) == 0, "%s: field %s, the model %s", gc.ids[rec],
                 f->name, m[i].name);
        FZ_CHECK(f->value.json_len == m[i].value->json_len &&
                     memcmp(f->value.json, m[i].value->json, f->value.json_len) == 0,
                 "%s.%s = %.*s, the model %.*s", gc.ids[rec], f->name, (int)f->value.json_len,
                 f->value.json, (int)m[i].value->json_len, m[i].value->json);
        FZ_CHECK(s->hlc.ms == m[i].hlc.ms && s->hlc.counter == m[i].hlc.counter &&
                     strcmp(s->device, m[i].device) == 0,
                 "%s.%s stamp [%" PRId64 ",%" PRId64 ",%s], the model [%" PRId64 ",%" PRId64
                 ",%s]",
                 gc.ids[rec], f->name, s->hlc.ms, s->hlc.counter, s->device, m[i].hlc.ms,
                 m[i].hlc.counter, m[i].device);
        if (strcmp(f->name, "_deleted") == 0)
            deleted = m[i].value->type == PROTO_BOOL && m[i].value->boolean;
    }
    FZ_CHECK(r->deleted == deleted, "%s: deleted %d, the model %d", gc.ids[rec], r->deleted,
             deleted);
    proto_record_free(dec);
}

/* The stamps of a stored record without their per-field rev, which depends on the order. */
static void stamps_without_rev(const struct db_record *r, char *out, size_t size)
{
    struct proto_record *dec = NULL;
    struct proto_fault fault = {0};
    size_t len = 0;
    FZ_CHECK(proto_record_decode(r->body, r->body_len, r->meta, r->meta_len, &dec, &fault) == 0,
             "decode: %s", fault.message);
    out[0] = '\0';
    for (size_t i = 0; i < dec->n_fields && len < size; i++) {
        int w = snprintf(out + len, size - len, "%s=%" PRId64 ",%" PRId64 ",%s;",
                         dec->fields[i].name, dec->stamps[i].hlc.ms, dec->stamps[i].hlc.counter,
                         dec->stamps[i].device);
        if (w > 0)
            len += (size_t)w;
    }
    proto_record_free(dec);
}

static void compare_stores(const struct fate *fa, const struct fate *fb)
{
    for (int i = 0; i < gc.nchg; i++) {
        int ra = fa[i].status == PROTO_REJECTED, rb = fb[i].status == PROTO_REJECTED;
        FZ_CHECK(ra == rb, "change %d is %s in order A, %s in order B (%s; %s)", i,
                 proto_status_name(fa[i].status), proto_status_name(fb[i].status),
                 fa[i].error.message, fb[i].error.message);
        if (ra)
            FZ_CHECK(fa[i].error.code == fb[i].error.code &&
                         strcmp(fa[i].error.field, fb[i].error.field) == 0,
                     "change %d is rejected for %s in order A, %s in order B", i,
                     fa[i].error.message, fb[i].error.message);
    }
    for (int r = 0; r < gc.nrec; r++) {
        struct db_record a, b;
        int has_a = get(&store_a, r, &a), has_b = get(&store_b, r, &b);
        check_model(r, fa, has_a ? &a : NULL);
        FZ_CHECK(has_a == has_b, "%s exists only in order %s", gc.ids[r], has_a ? "A" : "B");
        if (!has_a)
            continue;
        const char *scope = "grid";
        fz_check_stored(&a, scope);
        fz_check_stored(&b, scope);
        static char sa[8192], sb[8192];
        stamps_without_rev(&a, sa, sizeof sa);
        stamps_without_rev(&b, sb, sizeof sb);
        FZ_CHECK(a.rev == b.rev && a.deleted == b.deleted && a.body_len == b.body_len &&
                     memcmp(a.body, b.body, a.body_len) == 0 && strcmp(sa, sb) == 0 &&
                     a.grid != NULL && b.grid != NULL && strcmp(a.grid, b.grid) == 0,
                 "%s differs between the orders:\nA rev %" PRId64 " deleted %d grid %s\n%s\n%s\n"
                 "B rev %" PRId64 " deleted %d grid %s\n%s\n%s",
                 gc.ids[r], a.rev, a.deleted, a.grid ? a.grid : "(none)", a.body, sa, b.rev,
                 b.deleted, b.grid ? b.grid : "(none)", b.body, sb);
        db_record_clear(&a);
        db_record_clear(&b);
    }
}

/* Applies a merged change again under a new seq: only the record's rev may change. */
static void apply_again(struct fz_store *s, int ci)
{
    const struct gchange *g = &gc.chg[ci];
    struct proto_change c = *change_of(ci);
    struct db_record before, after;
    struct proto_result res;
    FZ_CHECK(get(s, g->rec, &before), "a merged change's record is missing");
    c.seq = ++gc.last_seq[g->dev];
    fz_apply(s, &who[g->dev], &c, 1, &res, NULL);
    FZ_CHECK(res.status == PROTO_APPLIED || res.status == PROTO_CONFLICT,
             "change %d applied again is %s (%s)", ci, proto_status_name(res.status),
             res.error.message);
    FZ_CHECK(get(s, g->rec, &after), "the record vanished");
    FZ_CHECK(after.rev == before.rev + 1 && same_record(&before, &after, 0),
             "applying change %d again changed %s:\n%s\n%s\n---\n%s\n%s", ci, gc.ids[g->rec],
             before.body, before.meta, after.body, after.meta);
    db_record_clear(&before);
    db_record_clear(&after);
    sync_results_clear(&res, 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_store_open(&store_a);
    fz_store_open(&store_b);
    for (int d = 0; d < MAX_DEV; d++)
        fz_principal(&store_a, device_pool[d], &who[d]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_bytes front, back;
    static struct fate fa[MAX_CHG], fb[MAX_CHG];

    fz_bytes_init(&front, data, size, 0);
    fz_bytes_init(&back, data, size, 1);
    generate(&front);
    fz_on_fail = print_case;
    memset(fa, 0, sizeof fa);
    memset(fb, 0, sizeof fb);
    fz_store_begin(&store_a);
    fz_store_begin(&store_b);

    /* A: the order generated, one change per push. */
    for (int i = 0; i < gc.nchg; i++)
        push(&store_a, gc.chg[i].dev, &i, 1, fa);

    /* B: an interleaving of the devices' queues, in batches, with re-sends. */
    int next[MAX_DEV] = {0}, sent[MAX_CHG], nsent = 0;
    for (;;) {
        int live[MAX_DEV], nlive = 0;
        for (int d = 0; d < gc.ndev; d++) {
            if (next[d] < gc.nq[d])
                live[nlive++] = d;
        }
        if (nlive == 0)
            break;
        int d = live[fz_take(&back, (unsigned)nlive)];
        int k = 1 + (int)fz_take(&back, 3);
        if (k > gc.nq[d] - next[d])
            k = gc.nq[d] - next[d];
        push(&store_b, d, &gc.q[d][next[d]], k, fb);
        for (int i = 0; i < k; i++)
            sent[nsent++] = gc.q[d][next[d] + i];
        next[d] += k;
        if (fz_take(&back, 4) == 1)
            resend(&store_b, sent[fz_take(&back, (unsigned)nsent)]);
    }

    compare_stores(fa, fb);

    /* The merge is idempotent: a merged change once more changes nothing but rev. */
    int merged[MAX_CHG], nmerged = 0;
    for (int i = 0; i < gc.nchg; i++) {
        if (fb[i].status != PROTO_REJECTED)
            merged[nmerged++] = i;
    }
    if (nmerged > 0)
        apply_again(&store_b, merged[fz_take(&back, (unsigned)nmerged)]);

    fz_store_reset(&store_a);
    fz_store_reset(&store_b);
    fz_on_fail = NULL;
    free_case();
    return 0;
}
