/*
 * record_decode.c — reads a stored record back: exactly the text
 * proto_record_encode (record.c) writes, and nothing else, without cJSON.
 *
 * Design: one pass over body and one over meta, each with a cursor that is
 * checked against the text's end before every byte it reads. The grammar is
 * the encoder's canonical compact JSON: no whitespace; members sorted
 * bytewise and unique; strings escaped exactly as
 * proto_buf_append_json_string escapes them; numbers exactly as cJSON
 * prints them (what proto__value_from_json made of them when they were
 * pushed); stamps as proto__i64_format writes integers. Because a value's
 * text is its canonical text, each value keeps its own slice of body as
 * its json instead of being printed again. Anything else (whitespace, "1.0",
 * "\u00e9", an unsorted member...) is corrupt: PROTO_EINVALID with an
 * INTERNAL fault, as the cJSON-based decoder reported unreadable text.
 * Only field values recurse, at most PROTO__MAX_VALUE_DEPTH levels.
 *
 * Why not cJSON: the writer thread decodes every stored record it updates,
 * while the service thread parses messages with cJSON, whose parser writes
 * a global error position on every call. Nothing here keeps global state;
 * any thread may decode.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto_record.h"

/* The longest number the encoder writes is cJSON's "%1.17g" (24 bytes); more is corrupt. */
#define NUMBER_TEXT_MAX 32
/* The most digits of a stamp integer: every bound below 2^53 has at most 16. */
#define STAMP_DIGITS_MAX 16
/* Lists (fields, stamps, array items) start in a buffer of this many on the stack. */
#define LIST_ON_STACK 16

/* A cursor over one text (body or meta); pos never passes len. */
struct reader {
    const char *s;
    size_t len;
    size_t pos;
    const char *part;  /* "body" or "meta", for faults */
    const char *field; /* the member being read, for faults; NULL outside one */
    struct proto_arena *a;
    struct proto_fault *fault;
};

/* A stamp read from meta, with the flag of a "_deleted" entry. */
struct stamp_entry {
    const char *name;
    struct proto_stamp stamp;
    int deleted;
};

/* Fills the INTERNAL fault for stored text that breaks the format at r->pos. */
static int corrupt_at(struct reader *r, const char *field, const char *why)
{
    if (!field)
        field = r->field ? r->field : r->part;
    return proto_fault_set(r->fault, PROTO_CODE_INTERNAL, field,
                           "the stored record is corrupt: %s at byte %zu of %s", why, r->pos,
                           r->part);
}

/* Consumes c when it is the next byte. */
static int eat(struct reader *r, char c)
{
    if (r->pos < r->len && r->s[r->pos] == c) {
        r->pos++;
        return 1;
    }
    return 0;
}

/* Consumes the literal word (true, false, null) when it comes next. */
static int eat_word(struct reader *r, const char *word, size_t n)
{
    if (r->len - r->pos >= n && memcmp(r->s + r->pos, word, n) == 0) {
        r->pos += n;
        return 1;
    }
    return 0;
}

/*
 * Makes room for element n of a list of elements of size bytes that holds
 * *cap (a buffer of the caller's at first): returns list itself, or a copy
 * in the arena with twice the capacity when it is full, or NULL when out of
 * memory.
 */
static void *list_room(struct proto_arena *a, void *list, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return list;
    /* n is bounded by the text's length (at most PROTO__MAX_TEXT), so this cannot overflow. */
    void *p = proto__alloc_raw(a, 2 * *cap * size);
    if (!p)
        return NULL;
    memcpy(p, list, n * size);
    *cap *= 2;
    return p;
}

/*
 * The list's n elements in memory of the arena's own, exactly n long: the
 * list itself when it is there already, else a copy of the caller's
 * buffer. An empty list is one zeroed element, never NULL. NULL when out
 * of memory.
 */
static void *list_keep(struct proto_arena *a, void *list, const void *buf, size_t n, size_t size)
{
    if (list != buf && n)
        return list;
    void *p = n ? proto__alloc_raw(a, n * size) : proto__alloc(a, size);
    if (p && n)
        memcpy(p, list, n * size);
    return p;
}

/* True for the lowercase hex digit c, its value in *v (proto_buf_append_json_string's digits). */
static int hex_digit(char c, unsigned *v)
{
    if (c >= '0' && c <= '9')
        *v = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *v = (unsigned)(c - 'a' + 10);
    else
        return 0;
    return 1;
}

/*
 * The byte an escape at s[0..avail) stands for, and its length in *n; 0
 * when it is not one the encoder writes. It writes \" \\ \b \f \n \r \t,
 * and \u00xx in lowercase hex for the other bytes 0x01..0x1f; never \/,
 * never \u for a byte with a short escape, a byte above 0x1f or 0.
 */
static unsigned char escape_byte(const char *s, size_t avail, size_t *n)
{
    static const char shorts[] = "\"\\bfnrt";
    static const char bytes[] = "\"\\\b\f\n\r\t";
    if (avail < 2)
        return 0;
    const char *k = s[1] ? strchr(shorts, s[1]) : NULL;
    if (k) {
        *n = 2;
        return (unsigned char)bytes[k - shorts];
    }
    unsigned hi, lo;
    if (s[1] != 'u' || avail < 6 || s[2] != '0' || s[3] != '0' || !hex_digit(s[4], &hi) ||
        !hex_digit(s[5], &lo))
        return 0;
    unsigned c = hi << 4 | lo;
    if (c == 0 || c >= 0x20 || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 0;
    *n = 6;
    return (unsigned char)c;
}

/*
 * Reads a string literal at the cursor. When out is given, its decoded
 * bytes go into the arena (NUL-terminated) with their length in *out_len.
 * With utf8 set the decoded bytes must be UTF-8 (as every string value
 * must), their code points counted in *chars; names and devices are
 * stored as they came, so they are only unescaped.
 */
static int read_string(struct reader *r, int utf8, const char **out, size_t *out_len,
                       size_t *chars)
{
    if (!eat(r, '"'))
        return corrupt_at(r, NULL, "expected a string");
    size_t start = r->pos, dec_len = 0, n_chars = 0;
    int escaped = 0;
    for (;;) {
        size_t run = proto__json_plain(r->s + r->pos, r->len - r->pos), run_chars = 0;
        /* An escape decodes to an ASCII byte, so a character never spans one: runs check alone. */
        if (utf8 && !proto__utf8_valid(r->s + r->pos, run, &run_chars))
            return corrupt_at(r, NULL, "a string is not valid UTF-8");
        r->pos += run;
        dec_len += run;
        n_chars += run_chars;
        if (r->pos == r->len)
            return corrupt_at(r, NULL, "a string is not terminated");
        if (r->s[r->pos] == '"')
            break;
        size_t n = 0;
        if (r->s[r->pos] != '\\' || !escape_byte(r->s + r->pos, r->len - r->pos, &n))
            return corrupt_at(r, NULL,
                              "a string holds a byte or escape the encoder does not write");
        r->pos += n;
        dec_len++;
        n_chars++;
        escaped = 1;
    }
    size_t end = r->pos++;
    if (!out)
        return 0;
    char *p = escaped ? proto__alloc_raw(r->a, dec_len + 1)
                      : proto__strndup(r->a, r->s + start, dec_len);
    if (!p)
        return PROTO_ENOMEM;
    if (escaped) {
        /* Validated above: every backslash starts an escape escape_byte accepts. */
        size_t k = 0;
        for (size_t i = start; i < end;) {
            size_t n = 1;
            p[k++] = r->s[i] == '\\' ? (char)escape_byte(r->s + i, end - i, &n) : r->s[i];
            i += n;
        }
        p[k] = '\0';
    }
    *out = p;
    *out_len = dec_len;
    if (chars)
        *chars = n_chars;
    return 0;
}

/*
 * cJSON 1.7.15's "%1.15g" test (its compare_double): numbers stored before
 * the printer became exact (proto__json_number_text) were written by it,
 * and stay readable.
 */
static int near_enough(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

/* The text the printer gave d before it became exact; its length, or 0. */
static size_t legacy_number_text(double d, char out[PROTO__NUM_MAX])
{
    size_t n;
    if (proto__json_int_text(d, out, &n))
        return n;
    int k = snprintf(out, PROTO__NUM_MAX, "%1.15g", d);
    if (k > 0 && k < PROTO__NUM_MAX && near_enough(strtod(out, NULL), d))
        return (size_t)k;
    k = snprintf(out, PROTO__NUM_MAX, "%1.17g", d);
    return k > 0 && k < PROTO__NUM_MAX ? (size_t)k : 0;
}

/*
 * Reads a number and checks that it is written as the encoder writes it:
 * reading it (strtod, as cJSON does) and printing it again must give the
 * same text. Integers of up to 15 digits, nearly every number stored, are
 * read without strtod or printf. The process's LC_NUMERIC is "C" (nothing
 * calls setlocale); under another locale strtod would stop at the '.' and
 * such numbers would be refused, never misread.
 */
static int read_number(struct reader *r, double *out)
{
    size_t start = r->pos;
    while (r->pos < r->len && r->pos - start < NUMBER_TEXT_MAX && r->s[r->pos] &&
           strchr("-+.eE0123456789", r->s[r->pos]))
        r->pos++;
    size_t n = r->pos - start;
    if (n == 0 || n >= NUMBER_TEXT_MAX)
        return corrupt_at(r, NULL, "a number is not written as the encoder writes it");
    const char *t = r->s + start;
    size_t neg = t[0] == '-', digits = 0;
    int64_t iv = 0;
    while (neg + digits < n && t[neg + digits] >= '0' && t[neg + digits] <= '9' && digits < 16)
        iv = iv * 10 + (t[neg + digits++] - '0');
    if (neg + digits == n && digits >= 1 && digits <= 15 &&
        (t[neg] != '0' || (digits == 1 && !neg))) {
        *out = neg ? -(double)iv : (double)iv;
        return 0;
    }
    char text[NUMBER_TEXT_MAX], again[PROTO__NUM_MAX], legacy[PROTO__NUM_MAX];
    memcpy(text, t, n);
    text[n] = '\0';
    char *end = NULL;
    double d = strtod(text, &end);
    if (end != text + n || !isfinite(d) ||
        ((proto__json_number_text(d, again) != n || memcmp(again, text, n)) &&
         (legacy_number_text(d, legacy) != n || memcmp(legacy, text, n))))
        return corrupt_at(r, NULL, "a number is not written as the encoder writes it");
    *out = d;
    return 0;
}

static int read_value(struct reader *r, struct proto_value *v, int level);

/* Reads an array's items into v (or only checks them when v is NULL). */
static int read_array(struct reader *r, struct proto_value *v, int level)
{
    struct proto_value buf[LIST_ON_STACK], *items = buf;
    size_t n = 0, cap = LIST_ON_STACK;
    int err = 0;
    r->pos++; /* '[' */
    if (!eat(r, ']')) {
        do {
            if (v && !(items = list_room(r->a, items, &cap, n, sizeof(*items))))
                return PROTO_ENOMEM;
            if ((err = read_value(r, v ? &items[n] : NULL, level + 1)) != 0)
                return err;
            n++;
        } while (eat(r, ','));
        if (!eat(r, ']'))
            return corrupt_at(r, NULL, "expected ',' or ']'");
    }
    if (v) {
        /* An empty array still points at an item, as the cJSON decoder's did. */
        if (!(v->items = list_keep(r->a, items, buf, n, sizeof(*items))))
            return PROTO_ENOMEM;
        v->n_items = n;
    }
    return 0;
}

/* Checks an object value: it is carried only as its text, but its strings must be UTF-8. */
static int check_object(struct reader *r, int level)
{
    int err;
    r->pos++; /* '{' */
    if (eat(r, '}'))
        return 0;
    do {
        if ((err = read_string(r, 1, NULL, NULL, NULL)) != 0)
            return err;
        if (!eat(r, ':'))
            return corrupt_at(r, NULL, "expected ':'");
        if ((err = read_value(r, NULL, level + 1)) != 0)
            return err;
    } while (eat(r, ','));
    return eat(r, '}') ? 0 : corrupt_at(r, NULL, "expected ',' or '}'");
}

/*
 * Reads one value at nesting level (a field's value is level 1) into *v,
 * or only checks it when v is NULL (inside an object). v->json is the
 * value's own text, copied from the record.
 */
static int read_value(struct reader *r, struct proto_value *v, int level)
{
    struct proto_value tmp;
    size_t start = r->pos;
    int err = 0;
    if (level > PROTO__MAX_VALUE_DEPTH)
        return corrupt_at(r, NULL, "a value nests deeper than 8 levels");
    if (r->pos == r->len)
        return corrupt_at(r, NULL, "expected a value");
    memset(&tmp, 0, sizeof(tmp));
    switch (r->s[r->pos]) {
    case '"':
        tmp.type = PROTO_STRING;
        err = read_string(r, 1, v ? &tmp.str : NULL, &tmp.len, &tmp.chars);
        break;
    case '[':
        tmp.type = PROTO_ARRAY;
        err = read_array(r, v ? &tmp : NULL, level);
        break;
    case '{':
        tmp.type = PROTO_OBJECT;
        err = check_object(r, level);
        break;
    case 't':
    case 'f':
        tmp.type = PROTO_BOOL;
        tmp.boolean = r->s[r->pos] == 't';
        tmp.json = tmp.boolean ? "true" : "false";
        if (!eat_word(r, tmp.json, tmp.boolean ? 4 : 5))
            err = corrupt_at(r, NULL, "expected a value");
        break;
    case 'n':
        tmp.type = PROTO_NULL;
        tmp.json = "null";
        if (!eat_word(r, "null", 4))
            err = corrupt_at(r, NULL, "expected a value");
        break;
    default:
        tmp.type = PROTO_NUMBER;
        if (r->s[r->pos] == '-' || (r->s[r->pos] >= '0' && r->s[r->pos] <= '9'))
            err = read_number(r, &tmp.number);
        else
            err = corrupt_at(r, NULL, "expected a value");
        break;
    }
    if (err || !v)
        return err;
    tmp.json_len = r->pos - start;
    if (!tmp.json && !(tmp.json = proto__strndup(r->a, r->s + start, tmp.json_len)))
        return PROTO_ENOMEM;
    *v = tmp;
    return 0;
}

/* Reads a member name and its colon; names come sorted and unique after prev. */
static int read_name(struct reader *r, const char *prev, const char **name)
{
    size_t len;
    int err = read_string(r, 0, name, &len, NULL);
    if (err)
        return err;
    if (prev && strcmp(prev, *name) >= 0)
        return corrupt_at(r, *name, "the members are not sorted by name or not unique");
    return eat(r, ':') ? 0 : corrupt_at(r, *name, "expected ':'");
}

/* Checks that the object just read ended the text. */
static int read_end(struct reader *r)
{
    if (!eat(r, '}'))
        return corrupt_at(r, NULL, "expected ',' or '}'");
    return r->pos == r->len ? 0 : corrupt_at(r, NULL, "text follows the object");
}

/* body: {"name":value,...}, every name but "_deleted"; the list starts in buf. */
static int read_stored_body(struct reader *r, struct proto_field *buf,
                            struct proto_field **out, size_t *n_out)
{
    struct proto_field *fields = buf;
    size_t n = 0, cap = LIST_ON_STACK;
    int err;
    if (!eat(r, '{'))
        return corrupt_at(r, NULL, "body is not a JSON object");
    if (!eat(r, '}')) {
        do {
            if (!(fields = list_room(r->a, fields, &cap, n, sizeof(*fields))))
                return PROTO_ENOMEM;
            if ((err = read_name(r, n ? fields[n - 1].name : NULL, &fields[n].name)) != 0)
                return err;
            if (proto__is_deleted(fields[n].name))
                return corrupt_at(r, PROTO__DELETED, "_deleted belongs in meta, not in body");
            r->field = fields[n].name;
            if ((err = read_value(r, &fields[n].value, 1)) != 0)
                return err;
            r->field = NULL;
            n++;
        } while (eat(r, ','));
        if ((err = read_end(r)) != 0)
            return err;
    } else if (r->pos != r->len) {
        return corrupt_at(r, NULL, "text follows the object");
    }
    *out = fields;
    *n_out = n;
    return 0;
}

/* An integer of a stamp: plain digits, no leading zero, at most max. */
static int read_int(struct reader *r, int64_t max, int64_t *out)
{
    size_t start = r->pos;
    int64_t v = 0;
    while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9' &&
           r->pos - start < STAMP_DIGITS_MAX)
        v = v * 10 + (r->s[r->pos++] - '0');
    size_t n = r->pos - start;
    if (n == 0 || (n > 1 && r->s[start] == '0') || v > max ||
        (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9'))
        return -1;
    *out = v;
    return 0;
}

/* One stamp: [ms,counter,"device",rev] or, for "_deleted", [ms,counter,"device",rev,flag]. */
static int read_stamp(struct reader *r, struct stamp_entry *e)
{
    struct proto_stamp *s = &e->stamp;
    size_t dev_len;
    int is_deleted = proto__is_deleted(e->name);
    int err = 0;
    if (!eat(r, '[') || read_int(r, PROTO_HLC_MS_MAX, &s->hlc.ms) || !eat(r, ',') ||
        read_int(r, PROTO_HLC_COUNTER_MAX, &s->hlc.counter) || !eat(r, ','))
        return corrupt_at(r, e->name, "a stamp must be [ms,counter,\"device\",rev]");
    if ((err = read_string(r, 0, &s->device, &dev_len, NULL)) != 0)
        return err;
    if (!eat(r, ',') || read_int(r, PROTO_SEQ_MAX, &s->rev))
        return corrupt_at(r, e->name, "a stamp must be [ms,counter,\"device\",rev]");
    e->deleted = 0;
    if (is_deleted) {
        if (!eat(r, ','))
            return corrupt_at(r, e->name, "the stamp of _deleted must end with true or false");
        if (eat_word(r, "true", 4))
            e->deleted = 1;
        else if (!eat_word(r, "false", 5))
            return corrupt_at(r, e->name, "the stamp of _deleted must end with true or false");
    }
    return eat(r, ']') ? 0 : corrupt_at(r, e->name, "a stamp must be [ms,counter,\"device\",rev]");
}

/* meta: {"name":stamp,...}, "_deleted" among them when it was ever set; the list starts in buf. */
static int read_stored_meta(struct reader *r, struct stamp_entry *buf,
                            struct stamp_entry **out, size_t *n_out)
{
    struct stamp_entry *e = buf;
    size_t n = 0, cap = LIST_ON_STACK;
    int err;
    if (!eat(r, '{'))
        return corrupt_at(r, NULL, "meta is not a JSON object");
    if (!eat(r, '}')) {
        do {
            if (!(e = list_room(r->a, e, &cap, n, sizeof(*e))))
                return PROTO_ENOMEM;
            if ((err = read_name(r, n ? e[n - 1].name : NULL, &e[n].name)) != 0)
                return err;
            r->field = e[n].name;
            if ((err = read_stamp(r, &e[n])) != 0)
                return err;
            r->field = NULL;
            n++;
        } while (eat(r, ','));
        if ((err = read_end(r)) != 0)
            return err;
    } else if (r->pos != r->len) {
        return corrupt_at(r, NULL, "text follows the object");
    }
    *out = e;
    *n_out = n;
    return 0;
}

/*
 * Joins body's fields and meta's stamps, both sorted by name, into r:
 * "_deleted" joins the fields from its stamp, and every other stamp must
 * name the next field of body.
 */
static int join_stamps(struct reader *rm, struct proto_record *rec,
                       const struct proto_field *fields, size_t n_fields,
                       const struct stamp_entry *e, size_t n_e)
{
    static const struct proto_value deleted_true = {
        .type = PROTO_BOOL, .boolean = 1, .json = "true", .json_len = 4};
    static const struct proto_value deleted_false = {
        .type = PROTO_BOOL, .boolean = 0, .json = "false", .json_len = 5};
    size_t j = 0;
    for (size_t i = 0; i < n_e; i++) {
        if (proto__is_deleted(e[i].name)) {
            rec->fields[i].name = PROTO__DELETED;
            rec->fields[i].value = e[i].deleted ? deleted_true : deleted_false;
        } else if (j < n_fields && strcmp(fields[j].name, e[i].name) == 0) {
            rec->fields[i] = fields[j++];
        } else if (j < n_fields && strcmp(fields[j].name, e[i].name) < 0) {
            return corrupt_at(rm, fields[j].name, "a field has no stamp in meta");
        } else {
            return corrupt_at(rm, e[i].name, "meta stamps a field that body does not hold");
        }
        rec->stamps[i] = e[i].stamp;
    }
    if (j < n_fields)
        return corrupt_at(rm, fields[j].name, "a field has no stamp in meta");
    rec->n_fields = n_e;
    return 0;
}

int proto_record_decode(const char *body, size_t body_len, const char *meta, size_t meta_len,
                        struct proto_record **out, struct proto_fault *fault)
{
    struct proto_arena *a = proto__arena_new();
    struct reader rb = {body, body ? body_len : 0, 0, "body", NULL, a, fault};
    struct reader rm = {meta, meta ? meta_len : 0, 0, "meta", NULL, a, fault};
    struct proto_field field_buf[LIST_ON_STACK], *fields = field_buf;
    struct stamp_entry entry_buf[LIST_ON_STACK], *entries = entry_buf;
    size_t n_fields = 0, n_entries = 0;
    struct proto_record *rec = NULL;
    int err = a ? 0 : PROTO_ENOMEM;

    if (!err && (rb.len > PROTO__MAX_TEXT || rm.len > PROTO__MAX_TEXT))
        err = corrupt_at(rb.len > PROTO__MAX_TEXT ? &rb : &rm, NULL, "the text is too long");
    /* Absent (NULL or empty) text is a record not stored yet. */
    if (!err && rb.len)
        err = read_stored_body(&rb, field_buf, &fields, &n_fields);
    if (!err && rm.len)
        err = read_stored_meta(&rm, entry_buf, &entries, &n_entries);
    if (!err) {
        rec = proto__alloc(a, sizeof(*rec));
        err = rec ? 0 : PROTO_ENOMEM;
    }
    if (err)
        goto out;
    if (!rm.len) {
        /* A body without meta: its stamps are unknown (device "", zeros). */
        rec->fields = list_keep(a, fields, field_buf, n_fields, sizeof(*fields));
        rec->stamps = proto__alloc(a, (n_fields ? n_fields : 1) * sizeof(*rec->stamps));
        if (!rec->fields || !rec->stamps) {
            err = PROTO_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n_fields; i++)
            rec->stamps[i].device = "";
        rec->n_fields = n_fields;
    } else {
        rec->fields = proto__alloc(a, (n_entries ? n_entries : 1) * sizeof(*rec->fields));
        rec->stamps = proto__alloc(a, (n_entries ? n_entries : 1) * sizeof(*rec->stamps));
        err = !rec->fields || !rec->stamps
                  ? PROTO_ENOMEM
                  : join_stamps(&rm, rec, fields, n_fields, entries, n_entries);
    }
out:
    if (err) {
        proto__arena_free(a);
        return err;
    }
    rec->arena = a;
    *out = rec;
    return 0;
}
