/*
 * test_record_decode.c — proto_record_decode (record_decode.c, no cJSON)
 * against the cJSON-based decoder it replaced, kept here only as the
 * reference (old_record_decode below, the code of record.c before).
 *
 *   - equivalence: random records (values made the way a push makes them:
 *     a cJSON tree through proto__value_from_json; odd names and devices;
 *     stamps at and beyond their bounds) are encoded with
 *     proto_record_encode and decoded by both; they must agree on success
 *     or failure and, on success, on every byte of the decoded structure;
 *   - strictness: mutated encodings (bytes changed, inserted, deleted, cut)
 *     that the new decoder accepts must decode to exactly what the old one
 *     gives (it accepts a subset of what the old one read, never something
 *     else); valid JSON that the encoder never writes is refused;
 *   - robustness: random bytes, in buffers of exactly their length (no NUL
 *     after them), never crash it (run it under ASan: build with
 *     -DVS_SANITIZE=ON).
 * Each property counts both of its outcomes, so it cannot pass vacuously.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto_record.h"

/* ---- the reference: the cJSON-based decoder record.c had before -------- */

struct old_entry {
    const char *name;
    struct proto_stamp stamp;
    int deleted;
};

static int old_entry_cmp(const void *x, const void *y)
{
    return strcmp(((const struct old_entry *)x)->name, ((const struct old_entry *)y)->name);
}

static int old_corrupt(struct proto_fault *f, const char *field, const char *what)
{
    return proto_fault_set(f, PROTO_CODE_INTERNAL, field, "the stored record is corrupt: %s",
                           what);
}

static int old_read_meta(struct proto_arena *a, const cJSON *meta, struct old_entry **out,
                         size_t *n_out, struct proto_fault *f)
{
    if (!cJSON_IsObject(meta))
        return old_corrupt(f, "meta", "meta is not a JSON object");
    size_t n = (size_t)cJSON_GetArraySize(meta);
    struct old_entry *e = proto__alloc(a, (n ? n : 1) * sizeof(*e));
    if (!e)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = meta->child; c && i < n; c = c->next, i++) {
        int is_deleted = strcmp(c->string, "_deleted") == 0;
        int size = cJSON_GetArraySize(c);
        const cJSON *ms = cJSON_GetArrayItem(c, 0), *ctr = cJSON_GetArrayItem(c, 1);
        const cJSON *dev = cJSON_GetArrayItem(c, 2), *rev = cJSON_GetArrayItem(c, 3);
        if (!cJSON_IsArray(c) || size != (is_deleted ? 5 : 4) ||
            !proto__json_int(ms, 0, PROTO_HLC_MS_MAX, &e[i].stamp.hlc.ms) ||
            !proto__json_int(ctr, 0, PROTO_HLC_COUNTER_MAX, &e[i].stamp.hlc.counter) ||
            !cJSON_IsString(dev) || !proto__json_int(rev, 0, PROTO_SEQ_MAX, &e[i].stamp.rev) ||
            (is_deleted && !cJSON_IsBool(cJSON_GetArrayItem(c, 4))))
            return old_corrupt(f, c->string, "a stamp must be [ms,counter,\"device\",rev]");
        e[i].name = proto__strdup(a, c->string);
        e[i].stamp.device = proto__strdup(a, dev->valuestring);
        if (!e[i].name || !e[i].stamp.device)
            return PROTO_ENOMEM;
        e[i].deleted = is_deleted && cJSON_IsTrue(cJSON_GetArrayItem(c, 4));
    }
    qsort(e, i, sizeof(*e), old_entry_cmp);
    for (size_t k = 1; k < i; k++) {
        if (strcmp(e[k - 1].name, e[k].name) == 0)
            return old_corrupt(f, e[k].name, "a field is stamped twice");
    }
    *out = e;
    *n_out = i;
    return 0;
}

static int old_read_body(struct proto_arena *a, const cJSON *body, size_t extra,
                         struct proto_field **out, size_t *n_out, struct proto_fault *f)
{
    size_t n = body ? (size_t)cJSON_GetArraySize(body) : 0;
    if (body && !cJSON_IsObject(body))
        return old_corrupt(f, "body", "body is not a JSON object");
    struct proto_field *fields = proto__alloc(a, (n + extra ? n + extra : 1) * sizeof(*fields));
    if (!fields)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = body ? body->child : NULL; c && i < n; c = c->next, i++) {
        const char *why = NULL;
        if (strcmp(c->string, "_deleted") == 0)
            return old_corrupt(f, c->string, "_deleted belongs in meta, not in body");
        int err = proto__value_from_json(a, c, &fields[i].value, &why);
        if (err == PROTO_EINVALID)
            return old_corrupt(f, c->string, why);
        if (err)
            return err;
        fields[i].name = proto__strdup(a, c->string);
        if (!fields[i].name)
            return PROTO_ENOMEM;
    }
    const char *dup = proto__fields_sort(fields, i);
    if (dup)
        return old_corrupt(f, dup, "a field appears twice in body");
    *out = fields;
    *n_out = i;
    return 0;
}

static int old_record_decode(const char *body, size_t body_len, const char *meta,
                             size_t meta_len, struct proto_record **out,
                             struct proto_fault *fault)
{
    static const struct proto_value deleted_true = {
        .type = PROTO_BOOL, .boolean = 1, .json = "true", .json_len = 4};
    static const struct proto_value deleted_false = {
        .type = PROTO_BOOL, .boolean = 0, .json = "false", .json_len = 5};
    cJSON *jbody = NULL, *jmeta = NULL;
    struct proto_arena *a = proto__arena_new();
    int err = a ? 0 : PROTO_ENOMEM;
    if (!err && body && body_len)
        err = proto__json_parse(body, body_len, &jbody, fault);
    if (!err && meta && meta_len)
        err = proto__json_parse(meta, meta_len, &jmeta, fault);
    if (err == PROTO_EINVALID)
        fault->code = PROTO_CODE_INTERNAL;
    struct old_entry *entries = NULL;
    size_t n_entries = 0;
    if (!err && jmeta)
        err = old_read_meta(a, jmeta, &entries, &n_entries, fault);
    struct proto_field *fields = NULL;
    size_t n = 0;
    if (!err)
        err = old_read_body(a, jbody, 1, &fields, &n, fault);
    struct proto_record *r = NULL;
    if (!err) {
        r = proto__alloc(a, sizeof(*r));
        err = r ? 0 : PROTO_ENOMEM;
    }
    if (err)
        goto done;
    for (size_t k = 0; k < n_entries; k++) {
        if (strcmp(entries[k].name, "_deleted") == 0) {
            fields[n].name = "_deleted";
            fields[n].value = entries[k].deleted ? deleted_true : deleted_false;
            n++;
        }
    }
    (void)proto__fields_sort(fields, n);
    r->stamps = proto__alloc(a, (n ? n : 1) * sizeof(*r->stamps));
    if (!r->stamps) {
        err = PROTO_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct old_entry key = {.name = fields[i].name};
        const struct old_entry *e =
            entries ? bsearch(&key, entries, n_entries, sizeof(*entries), old_entry_cmp) : NULL;
        if (e) {
            r->stamps[i] = e->stamp;
        } else if (jmeta) {
            err = old_corrupt(fault, fields[i].name, "a field has no stamp in meta");
            goto done;
        } else {
            r->stamps[i].device = "";
        }
    }
    if (n != n_entries && jmeta) {
        err = old_corrupt(fault, "meta", "meta stamps a field that body does not hold");
        goto done;
    }
done:
    cJSON_Delete(jbody);
    cJSON_Delete(jmeta);
    if (err) {
        proto__arena_free(a);
        return err;
    }
    r->fields = fields;
    r->n_fields = n;
    r->arena = a;
    *out = r;
    return 0;
}

/* ---- comparing decoded records ------------------------------------------ */

/* Writes where x and y first differ into why; returns 0 when they are the same. */
static int value_differs(const struct proto_value *x, const struct proto_value *y, char *why,
                         size_t size)
{
    if (x->type != y->type || x->boolean != y->boolean ||
        memcmp(&x->number, &y->number, sizeof(double)) != 0 || x->len != y->len ||
        x->chars != y->chars || x->n_items != y->n_items || x->json_len != y->json_len ||
        !x->str != !y->str || !x->items != !y->items || !x->json || !y->json) {
        snprintf(why, size, "type %d/%d len %zu/%zu chars %zu/%zu items %zu/%zu json %.*s/%.*s",
                 x->type, y->type, x->len, y->len, x->chars, y->chars, x->n_items, y->n_items,
                 (int)x->json_len, x->json ? x->json : "", (int)y->json_len,
                 y->json ? y->json : "");
        return 1;
    }
    /* Both texts NUL-terminated, as every decoded string has always been. */
    if (memcmp(x->json, y->json, x->json_len + 1) != 0 ||
        (x->str && memcmp(x->str, y->str, x->len + 1) != 0)) {
        snprintf(why, size, "text %.*s / %.*s", (int)x->json_len, x->json, (int)y->json_len,
                 y->json);
        return 1;
    }
    for (size_t i = 0; i < x->n_items; i++)
        if (value_differs(&x->items[i], &y->items[i], why, size))
            return 1;
    return 0;
}

static int record_differs(const struct proto_record *x, const struct proto_record *y, char *why,
                          size_t size)
{
    if (x->n_fields != y->n_fields || !x->stamps != !y->stamps) {
        snprintf(why, size, "%zu / %zu fields", x->n_fields, y->n_fields);
        return 1;
    }
    for (size_t i = 0; i < x->n_fields; i++) {
        if (strcmp(x->fields[i].name, y->fields[i].name) != 0) {
            snprintf(why, size, "field %zu: %s / %s", i, x->fields[i].name, y->fields[i].name);
            return 1;
        }
        if (value_differs(&x->fields[i].value, &y->fields[i].value, why, size))
            return 1;
        if (!x->stamps)
            continue;
        const struct proto_stamp *s = &x->stamps[i], *t = &y->stamps[i];
        if (s->hlc.ms != t->hlc.ms || s->hlc.counter != t->hlc.counter || s->rev != t->rev ||
            strcmp(s->device, t->device) != 0) {
            snprintf(why, size, "stamp of %s", x->fields[i].name);
            return 1;
        }
    }
    return 0;
}

struct tally {
    long both_ok, both_refused, old_only; /* old_only: valid JSON the encoder never writes */
};

/*
 * Decodes with both from buffers of exactly their length; fails the test
 * when the new decoder accepts what the old refuses or decodes differently,
 * and, with same_verdict, when their verdicts differ at all.
 */
static void compare(const char *body, size_t body_len, const char *meta, size_t meta_len,
                    int same_verdict, struct tally *t)
{
    char *b = body ? malloc(body_len ? body_len : 1) : NULL;
    char *m = meta ? malloc(meta_len ? meta_len : 1) : NULL;
    if (body)
        memcpy(b, body, body_len);
    if (meta)
        memcpy(m, meta, meta_len);
    struct proto_record *x = NULL, *y = NULL;
    struct proto_fault fx = {0}, fy = {0};
    int ex = old_record_decode(b, body_len, m, meta_len, &x, &fx);
    int ey = proto_record_decode(b, body_len, m, meta_len, &y, &fy);
    char why[400] = "";
    if (ey == 0 && (ex != 0 || record_differs(x, y, why, sizeof why)))
        fail_msg("the new decoder reads what the old %s: %s\nbody %.*s\nmeta %.*s",
                 ex ? "refused" : "read otherwise", ex ? fx.message : why, (int)body_len,
                 body ? body : "", (int)meta_len, meta ? meta : "");
    if (ey != 0 && (ey != PROTO_EINVALID || fy.code != PROTO_CODE_INTERNAL || !fy.message[0]))
        fail_msg("a refusal must be EINVALID with an INTERNAL fault (got %d, code %d)", ey,
                 fy.code);
    if (same_verdict && ex != ey)
        fail_msg("the old decoder %s, the new %s (%s / %s)\nbody %.*s\nmeta %.*s",
                 ex ? "refused" : "read it", ey ? "refused" : "read it", fx.message,
                 fy.message, (int)body_len, body ? body : "", (int)meta_len, meta ? meta : "");
    if (ex == 0 && ey == 0)
        t->both_ok++;
    else if (ey != 0 && ex != 0)
        t->both_refused++;
    else
        t->old_only++;
    proto_record_free(x);
    proto_record_free(y);
    free(b);
    free(m);
}

/* ---- random records --------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* Pieces of strings: plain ASCII, everything the encoder escapes, UTF-8 of 2-4 bytes. */
static const char *const pieces[] = {
    "a", "Z", "0", " ", "/", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
    "é", "中", "旭峰农牧", "😀", "u00", "e+1", "\\u0000", "{", "}", "[", "]", ",", ":",
};

static void random_text(char *out, size_t size, int max_pieces)
{
    size_t n = 0, k = below((size_t)max_pieces + 1);
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[below(sizeof pieces / sizeof pieces[0])];
        size_t len = strlen(p);
        if (n + len + 1 > size)
            break;
        memcpy(out + n, p, len + 1);
        n += len;
    }
}

static double random_number(void)
{
    static const double fixed[] = {
        0, -0.0, 1, -1, 0.5, 0.1, 1.5, 3500.5, 1e9, 1e15, -1e15, 999999999999999.0,
        1000000000000001.0, 9007199254740992.0, 9007199254740993.0, 1e21, 1e300, -1e-300,
        4.9e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.30000000000000004,
        123456.789, 2147483647.0, 2147483648.0, -2147483649.0, 1e-7, 100, 1e16};
    switch (below(5)) {
    case 0:
        return fixed[below(sizeof fixed / sizeof fixed[0])];
    case 1:
        return (double)(int64_t)(rnd() % 2000001) - 1000000;
    case 2:
        return (double)(int64_t)(rnd() >> 11) * (below(2) ? 1 : -1);
    case 3:
        return (double)(int64_t)(rnd() % 100000000) / 1000.0;
    default: {
        double d;
        do {
            uint64_t bits = rnd();
            memcpy(&d, &bits, sizeof d);
        } while (!isfinite(d));
        return d;
    }
    }
}

/* A random JSON tree; containers nest to at most depth levels. */
static cJSON *random_json(int depth)
{
    char text[128];
    switch (below(depth > 1 ? 8 : 5)) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(below(2));
    case 2:
        return cJSON_CreateNumber(random_number());
    case 3:
    case 4:
        random_text(text, sizeof text, 8);
        return cJSON_CreateString(text);
    case 5:
    case 6: {
        cJSON *a = cJSON_CreateArray();
        /* Now and then longer than the decoder's list on the stack (16). */
        for (size_t i = below(16) ? below(5) : below(40); i > 0; i--)
            cJSON_AddItemToArray(a, random_json(depth - 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = below(4); i > 0; i--) {
            random_text(text, sizeof text, 3);
            cJSON_AddItemToObject(o, text, random_json(depth - 1));
        }
        return o;
    }
    }
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(((const struct proto_field *)x)->name, ((const struct proto_field *)y)->name);
}

/* A name: plain, odd, escaped, long, or not UTF-8 (names are stored as they came). */
static void random_name(char *out, size_t size)
{
    static const char *const odd[] = {"", "a", "_", "_d", "_deletee", "z\"q", "x\ny", "名字",
                                      "\x7f", "\xff\xfe", "a\\b", "\x01"};
    switch (below(4)) {
    case 0:
        snprintf(out, size, "%s", odd[below(sizeof odd / sizeof odd[0])]);
        break;
    case 1:
        random_text(out, size, 6);
        break;
    case 2:
        /* Longer than the encoder's fast path (64 bytes). */
        memset(out, 'n', 70);
        snprintf(out + 70, size - 70, "%zu", below(1000));
        break;
    default:
        snprintf(out, size, "f%zu", below(40));
        break;
    }
}

static int64_t random_int(int64_t max)
{
    switch (below(8)) {
    case 0:
        return 0;
    case 1:
        return max;
    case 2:
        /* Rarely out of range (a record has up to 72 integers): both must refuse. */
        return below(64) ? 1 : max + 1 + (int64_t)below(3);
    case 3:
        return below(64) ? 2 : -1 - (int64_t)below(5);
    default:
        return (int64_t)(rnd() % (uint64_t)max);
    }
}

struct record_gen {
    struct proto_arena *a;
    struct proto_field fields[24];
    struct proto_stamp stamps[24];
    char names[24][96];
    char devices[24][96];
    size_t n;
};

/* Fills g with a random record: values as a push makes them (proto__value_from_json). */
static void random_record(struct record_gen *g)
{
    size_t want = below(8) ? below(14) : below(24);
    g->n = 0;
    for (size_t i = 0; i < want; i++) {
        struct proto_field *f = &g->fields[g->n];
        if (below(12) == 0) {
            snprintf(g->names[g->n], sizeof g->names[0], "_deleted");
            memset(&f->value, 0, sizeof f->value);
            f->value.type = PROTO_BOOL;
            f->value.boolean = below(2);
        } else {
            random_name(g->names[g->n], sizeof g->names[0]);
            cJSON *j = random_json(1 + (int)below(9));
            const char *why = NULL;
            int err = proto__value_from_json(g->a, j, &f->value, &why);
            cJSON_Delete(j);
            if (err)
                continue; /* too deep, or an invalid string: a push would have refused it */
        }
        f->name = g->names[g->n];
        int dup = 0;
        for (size_t k = 0; k < g->n; k++)
            dup |= strcmp(g->fields[k].name, f->name) == 0;
        if (dup)
            continue;
        struct proto_stamp *s = &g->stamps[g->n];
        s->hlc.ms = random_int(PROTO_HLC_MS_MAX);
        s->hlc.counter = random_int(PROTO_HLC_COUNTER_MAX);
        s->rev = random_int(PROTO_SEQ_MAX);
        random_name(g->devices[g->n], sizeof g->devices[0]);
        s->device = g->devices[g->n];
        g->n++;
    }
    /* Sorted by name, each stamp staying with its field. */
    struct proto_field tmp[24];
    struct proto_stamp st[24];
    memcpy(tmp, g->fields, g->n * sizeof tmp[0]);
    qsort(tmp, g->n, sizeof tmp[0], name_cmp);
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->n; k++)
            if (tmp[i].name == g->fields[k].name)
                st[i] = g->stamps[k];
    memcpy(g->fields, tmp, g->n * sizeof tmp[0]);
    memcpy(g->stamps, st, g->n * sizeof st[0]);
}

/* ---- the tests --------------------------------------------------------------- */

#define RECORDS 4000
#define MUTATIONS 6

/* Changes text in place (at most size bytes) once; returns its new length. */
static size_t mutate(char *text, size_t len, size_t size)
{
    static const char bytes[] = "\"\\{}[],:-+.0123456789eEtfnu \x01\x1f\x7f\x80\xff";
    size_t at = len ? below(len) : 0;
    char c = bytes[below(sizeof bytes)]; /* includes the NUL at the end */
    switch (below(5)) {
    case 0:
        if (len)
            text[at] = c;
        return len;
    case 1:
        if (len + 1 > size)
            return len;
        memmove(text + at + 1, text + at, len - at);
        text[at] = c;
        return len + 1;
    case 2:
        if (len)
            memmove(text + at, text + at + 1, len - at - 1);
        return len ? len - 1 : 0;
    case 3:
        return at; /* cut */
    default:
        if (len)
            text[at] = (char)(rnd() & 0xff);
        return len;
    }
}

static void equivalence(void **state)
{
    (void)state;
    struct tally t = {0}, parts = {0};
    struct record_gen g;
    long encoded = 0, out_of_range = 0;
    for (int i = 0; i < RECORDS; i++) {
        g.a = proto__arena_new();
        assert_non_null(g.a);
        random_record(&g);
        struct proto_buf body, meta;
        proto_buf_init(&body, 0, 1 << 20);
        proto_buf_init(&meta, 0, 1 << 20);
        assert_int_equal(proto_record_encode(g.fields, g.stamps, g.n, &body, &meta), 0);
        encoded++;
        const char *b = proto_buf_data(&body), *m = proto_buf_data(&meta);
        long before = t.both_refused;
        compare(b, body.len, m, meta.len, 1, &t);
        out_of_range += t.both_refused - before;
        /* The same texts alone: a body without meta, a meta without body, nothing. */
        compare(b, body.len, NULL, 0, 1, &parts);
        compare(NULL, 0, m, meta.len, 1, &parts);
        compare(b, 0, m, 0, 1, &parts);
        /* Re-encoding what was decoded gives the same bytes. */
        struct proto_record *r = NULL;
        struct proto_fault f;
        if (proto_record_decode(b, body.len, m, meta.len, &r, &f) == 0) {
            struct proto_buf b2, m2;
            proto_buf_init(&b2, 0, 1 << 20);
            proto_buf_init(&m2, 0, 1 << 20);
            assert_int_equal(proto_record_encode(r->fields, r->stamps, r->n_fields, &b2, &m2), 0);
            assert_int_equal(b2.len, body.len);
            assert_memory_equal(proto_buf_data(&b2), b, body.len);
            assert_int_equal(m2.len, meta.len);
            assert_memory_equal(proto_buf_data(&m2), m, meta.len);
            proto_buf_free(&b2);
            proto_buf_free(&m2);
            proto_record_free(r);
        }
        proto_buf_free(&body);
        proto_buf_free(&meta);
        proto__arena_free(g.a);
    }
    print_message("%ld records: %ld decoded alike, %ld refused by both (stamps out of range); "
                  "parts: %ld alike, %ld refused by both\n",
                  encoded, t.both_ok, t.both_refused, parts.both_ok, parts.both_refused);
    /* Not vacuous: most records decode, and the out-of-range stamps are refused. */
    assert_true(t.both_ok > RECORDS / 4);
    assert_true(out_of_range > 0);
    assert_int_equal(t.old_only, 0);
}

static void strictness(void **state)
{
    (void)state;
    struct tally t = {0};
    struct record_gen g;
    static char body[1 << 16], meta[1 << 16];
    for (int i = 0; i < RECORDS; i++) {
        g.a = proto__arena_new();
        random_record(&g);
        struct proto_buf b, m;
        proto_buf_init(&b, 0, sizeof body - 64);
        proto_buf_init(&m, 0, sizeof meta - 64);
        if (proto_record_encode(g.fields, g.stamps, g.n, &b, &m) == 0) {
            for (int k = 0; k < MUTATIONS; k++) {
                size_t bl = b.len, ml = m.len;
                memcpy(body, proto_buf_data(&b), bl);
                memcpy(meta, proto_buf_data(&m), ml);
                for (size_t steps = 1 + below(3); steps > 0; steps--) {
                    if (below(2))
                        bl = mutate(body, bl, sizeof body);
                    else
                        ml = mutate(meta, ml, sizeof meta);
                }
                compare(body, bl, meta, ml, 0, &t);
            }
        }
        proto_buf_free(&b);
        proto_buf_free(&m);
        proto__arena_free(g.a);
    }
    print_message("mutated: %ld read alike, %ld refused by both, %ld read only by the old "
                  "decoder\n",
                  t.both_ok, t.both_refused, t.old_only);
    /* Each outcome seen: mutations that keep the format, break it, or leave other JSON. */
    assert_true(t.both_ok > 100);
    assert_true(t.both_refused > 100);
    assert_true(t.old_only > 10);
}

static void refuses_what_the_encoder_never_writes(void **state)
{
    (void)state;
    static const struct {
        const char *body, *meta;
    } cases[] = {
        {"{ \"a\":1}", "{\"a\":[1,0,\"d\",1]}"},          /* whitespace */
        {"{\"a\":1}", "{\"a\": [1,0,\"d\",1]}"},
        {"{\"b\":1,\"a\":2}", "{\"a\":[1,0,\"d\",1],\"b\":[1,0,\"d\",1]}"}, /* unsorted */
        {"{\"a\":1,\"b\":2}", "{\"b\":[1,0,\"d\",1],\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1.0}", "{\"a\":[1,0,\"d\",1]}"},         /* numbers cJSON prints otherwise */
        {"{\"a\":1E2}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1000000000000000}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":0.10}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":-0.0}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1.0,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1e3,0,\"d\",1]}"},
        {"{\"a\":\"\\u00e9\"}", "{\"a\":[1,0,\"d\",1]}"}, /* escapes it never writes */
        {"{\"a\":\"\\/\"}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":\"\\u000A\"}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":\"\\u000a\"}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1,0,\"\\u0064\",1]}"},
        {"{\"\\u0061\":1}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":\"\\u001F\"}", "{\"a\":[1,0,\"d\",1]}"}, /* it writes lowercase hex */
        {"{\"a\":\"\\u001f\"}", "{\"a\":[1,0,\"\\u001F\",1]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_record *r = NULL;
        struct proto_fault f = {0};
        const char *b = cases[i].body, *m = cases[i].meta;
        if (old_record_decode(b, strlen(b), m, strlen(m), &r, &f) != 0)
            fail_msg("case %zu (%s / %s): the old decoder refused it too", i, b, m);
        proto_record_free(r);
        r = NULL;
        if (proto_record_decode(b, strlen(b), m, strlen(m), &r, &f) != PROTO_EINVALID)
            fail_msg("case %zu (%s / %s) decoded", i, b, m);
        assert_null(r);
        assert_int_equal(f.code, PROTO_CODE_INTERNAL);
    }
    /* What the encoder does write at the edges: -0, 1e+15, \u001f, the largest stamps. */
    const char *b = "{\"a\":-0,\"b\":1e+15,\"c\":\"\\u001f\\\"\",\"d\":[[],{},[{\"x\":[1]}]]}";
    const char *m = "{\"_deleted\":[0,0,\"\",0,false],\"a\":[8640000000000000,2147483647,"
                    "\"d\",9007199254740991],\"b\":[1,0,\"d\",1],\"c\":[1,0,\"d\",1],"
                    "\"d\":[1,0,\"d\",1]}";
    struct tally t = {0};
    compare(b, strlen(b), m, strlen(m), 1, &t);
    assert_int_equal(t.both_ok, 1);
}

static void refuses_what_the_old_refused(void **state)
{
    (void)state;
    static const struct {
        const char *body, *meta;
    } cases[] = {
        /* Twice the same field, in body and meta alike. */
        {"{\"a\":1,\"a\":2}", "{\"a\":[1,0,\"d\",1],\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1,0,\"d\",1],\"a\":[1,0,\"d\",1]}"},
        /* Nine levels of nesting; eight pass (below). */
        {"{\"a\":[[[[[[[[1]]]]]]]]}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":[[[[[[[[[]]]]]]]]]}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}",
         "{\"a\":[1,0,\"d\",1]}"},
        /* Strings that are not UTF-8, in a value and in a name inside an object value. */
        {"{\"a\":\"\xff\"}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":[\"\xc3\"]}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":{\"\xed\xa0\x80\":1}}", "{\"a\":[1,0,\"d\",1]}"},
        /* \u0000, infinity, a stamp out of range, _deleted without its flag, trailing text. */
        {"{\"a\":\"\\u0000\"}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1e400}", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1,2147483648,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1,0,\"d\",9007199254740992]}"},
        {"{}", "{\"_deleted\":[1,0,\"d\",1,1]}"},
        {"{\"a\":1}x", "{\"a\":[1,0,\"d\",1]}"},
        {"{\"a\":1}", "{\"a\":[1,0,\"d\",1]}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tally t = {0};
        compare(cases[i].body, strlen(cases[i].body), cases[i].meta, strlen(cases[i].meta), 1,
                &t);
        if (t.both_refused != 1)
            fail_msg("case %zu (%s / %s) was read", i, cases[i].body, cases[i].meta);
    }
    /* Eight levels of arrays and of objects are still read, by both alike. */
    struct tally t = {0};
    const char *b = "{\"a\":[[[[[[[1]]]]]]],\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
                    "{\"h\":{\"i\":1}}}}}}},\"c\":[[[[[[[[]]]]]]]]}";
    const char *m = "{\"a\":[1,0,\"d\",1],\"b\":[1,0,\"d\",1],\"c\":[1,0,\"d\",1]}";
    compare(b, strlen(b), m, strlen(m), 1, &t);
    assert_int_equal(t.both_ok, 1);
}

static void survives_random_bytes(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\",:\\-0123456789.eE+tfnul_ad\x01\x80\xff";
    long ok = 0;
    for (int i = 0; i < 20000; i++) {
        size_t bl = below(48), ml = below(48);
        char *b = malloc(bl ? bl : 1), *m = malloc(ml ? ml : 1);
        for (size_t k = 0; k < bl; k++)
            b[k] = below(4) ? alphabet[below(sizeof alphabet - 1)] : (char)rnd();
        for (size_t k = 0; k < ml; k++)
            m[k] = below(4) ? alphabet[below(sizeof alphabet - 1)] : (char)rnd();
        /* Often a plausible start, so the reader gets past the first byte. */
        if (bl > 2 && below(2)) {
            b[0] = '{';
            b[1] = '"';
        }
        if (ml > 2 && below(2)) {
            m[0] = '{';
            m[1] = '"';
        }
        struct proto_record *r = NULL;
        struct proto_fault f;
        int err = proto_record_decode(b, bl, m, ml, &r, &f);
        if (err == 0) {
            ok++;
            proto_record_free(r);
        } else {
            assert_int_equal(err, PROTO_EINVALID);
            assert_null(r);
        }
        free(b);
        free(m);
    }
    /* Empty texts decode as a new record, so some succeed. */
    assert_true(ok > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equivalence),
        cmocka_unit_test(strictness),
        cmocka_unit_test(refuses_what_the_encoder_never_writes),
        cmocka_unit_test(refuses_what_the_old_refused),
        cmocka_unit_test(survives_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
