/*
 * json.c — the only door to cJSON. Text is first checked by a strict,
 * non-recursive scanner (RFC 8259 grammar, nesting at most
 * PROTO__MAX_DEPTH, no unescaped control characters, no \u0000, paired
 * surrogates, numbers of at most 63 characters) so that cJSON, which is
 * lenient ("01", "1.") and recursive, only ever sees small, valid trees.
 * Then the text is copied into a NUL-terminated buffer and parsed with
 * cJSON_ParseWithLengthOpts (never cJSON_GetErrorPtr: it is global state).
 * cJSON 1.7.15 still writes its global error position in every parse, so
 * the server parses with cJSON on the service thread only: its worker
 * threads read stored records with record_decode.c, which has no global
 * state (ThreadSanitizer saw the race with a TSan-built cJSON).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* cJSON copies a number into a 64-byte buffer: longer ones would be cut. */
#define JSON_NUMBER_MAX 63

struct scan {
    const unsigned char *s;
    size_t len;
    size_t pos;
    struct proto_fault *fault;
};

static int scan_fail(struct scan *sc, const char *what)
{
    return proto_fault_set(sc->fault, PROTO_CODE_BAD_JSON, "",
                           "invalid JSON: %s at byte %zu", what, sc->pos);
}

static void skip_ws(struct scan *sc)
{
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
}

static int hex4(struct scan *sc, size_t at, unsigned *out)
{
    if (sc->len - at < 4)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned char c = sc->s[at + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Scans a string starting at its opening quote. */
static int scan_string(struct scan *sc)
{
    sc->pos++;
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return 0;
        }
        if (c < 0x20)
            return scan_fail(sc, "a control character must be escaped inside a string");
        if (c != '\\') {
            /* Then every byte up to the next quote, backslash or control character at once. */
            sc->pos++;
            sc->pos += proto__json_plain((const char *)sc->s + sc->pos, sc->len - sc->pos);
            continue;
        }
        if (sc->pos + 1 >= sc->len)
            break;
        c = sc->s[sc->pos + 1];
        if (strchr("\"\\/bfnrt", c) && c) {
            sc->pos += 2;
            continue;
        }
        if (c != 'u')
            return scan_fail(sc, "unknown escape sequence");
        unsigned u;
        if (hex4(sc, sc->pos + 2, &u))
            return scan_fail(sc, "\\u must be followed by 4 hex digits");
        if (u == 0)
            return scan_fail(sc, "\\u0000 is not accepted in strings");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return scan_fail(sc, "a low surrogate without a high one");
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            size_t at = sc->pos + 6;
            if (sc->len - at < 6 || sc->s[at] != '\\' || sc->s[at + 1] != 'u' ||
                hex4(sc, at + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return scan_fail(sc, "a high surrogate must be followed by a low one");
            sc->pos += 12;
        } else {
            sc->pos += 6;
        }
    }
    return scan_fail(sc, "unterminated string");
}

static size_t scan_digits(struct scan *sc)
{
    size_t n = 0;
    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9') {
        sc->pos++;
        n++;
    }
    return n;
}

static int scan_number(struct scan *sc)
{
    size_t start = sc->pos;
    if (sc->s[sc->pos] == '-')
        sc->pos++;
    if (sc->pos < sc->len && sc->s[sc->pos] == '0') {
        sc->pos++;
        if (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
            return scan_fail(sc, "a number must not start with 0");
    } else if (scan_digits(sc) == 0)
        return scan_fail(sc, "a number needs digits");
    if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
        sc->pos++;
        if (scan_digits(sc) == 0)
            return scan_fail(sc, "a number needs digits after the decimal point");
    }
    if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
        sc->pos++;
        if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
            sc->pos++;
        if (scan_digits(sc) == 0)
            return scan_fail(sc, "a number needs digits in its exponent");
    }
    if (sc->pos - start > JSON_NUMBER_MAX)
        return scan_fail(sc, "a number longer than 63 characters");
    return 0;
}

static int scan_literal(struct scan *sc)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (sc->len - sc->pos >= n && memcmp(sc->s + sc->pos, words[i], n) == 0) {
            sc->pos += n;
            return 0;
        }
    }
    return scan_fail(sc, "expected a value");
}

/* What the scanner expects next. */
enum scan_state { S_VALUE, S_VALUE_OR_END, S_KEY, S_KEY_OR_END, S_COLON, S_AFTER };

/*
 * Checks the whole text without recursion: the stack of open containers
 * is a string of '{' and '[' at most PROTO__MAX_DEPTH long.
 */
static int scan_text(struct scan *sc)
{
    char stack[PROTO__MAX_DEPTH];
    int depth = 0;
    enum scan_state st = S_VALUE;
    for (;;) {
        skip_ws(sc);
        if (sc->pos >= sc->len) {
            if (st == S_AFTER && depth == 0)
                return 0;
            return scan_fail(sc, sc->len == 0 ? "the text is empty" : "the text ends too early");
        }
        unsigned char c = sc->s[sc->pos];
        int err = 0;
        switch (st) {
        case S_VALUE_OR_END:
            if (c == ']') {
                sc->pos++;
                depth--;
                st = S_AFTER;
                break;
            }
            /* fall through */
        case S_VALUE:
            if (c == '{' || c == '[') {
                if (depth == PROTO__MAX_DEPTH)
                    return proto_fault_set(sc->fault, PROTO_CODE_BAD_JSON, "",
                                           "the message nests deeper than %d levels",
                                           PROTO__MAX_DEPTH);
                stack[depth++] = (char)c;
                sc->pos++;
                st = c == '{' ? S_KEY_OR_END : S_VALUE_OR_END;
                break;
            }
            if (c == '"')
                err = scan_string(sc);
            else if (c == '-' || (c >= '0' && c <= '9'))
                err = scan_number(sc);
            else
                err = scan_literal(sc);
            st = S_AFTER;
            break;
        case S_KEY_OR_END:
            if (c == '}') {
                sc->pos++;
                depth--;
                st = S_AFTER;
                break;
            }
            /* fall through */
        case S_KEY:
            if (c != '"')
                return scan_fail(sc, "expected a member name in quotes");
            err = scan_string(sc);
            st = S_COLON;
            break;
        case S_COLON:
            if (c != ':')
                return scan_fail(sc, "expected ':' after a member name");
            sc->pos++;
            st = S_VALUE;
            break;
        case S_AFTER:
            if (depth == 0)
                return scan_fail(sc, "unexpected text after the JSON value");
            if (c == ',') {
                st = stack[depth - 1] == '{' ? S_KEY : S_VALUE;
            } else if ((c == '}' && stack[depth - 1] == '{') ||
                       (c == ']' && stack[depth - 1] == '[')) {
                depth--;
            } else {
                return scan_fail(sc, stack[depth - 1] == '{' ? "expected ',' or '}'"
                                                             : "expected ',' or ']'");
            }
            sc->pos++;
            break;
        }
        if (err)
            return err;
    }
}

int proto__json_parse(const char *json, size_t len, cJSON **root, struct proto_fault *fault)
{
    if (!json)
        len = 0;
    if (len > PROTO__MAX_TEXT)
        return proto_fault_set(fault, PROTO_CODE_BAD_JSON, "",
                               "the text is %zu bytes; at most %u can be parsed", len,
                               PROTO__MAX_TEXT);
    struct scan sc = {(const unsigned char *)json, len, 0, fault};
    int err = scan_text(&sc);
    if (err)
        return err;
    /* cJSON is given a NUL-terminated copy, so no bug of its can read past the text. */
    char *copy = malloc(len + 1);
    if (!copy)
        return PROTO_ENOMEM;
    memcpy(copy, json, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
    free(copy);
    /* The text is valid JSON: cJSON can fail only for want of memory. */
    if (!r)
        return PROTO_ENOMEM;
    *root = r;
    return 0;
}

int proto__member(const cJSON *obj, const char *name, const cJSON **out)
{
    const cJSON *found = NULL;
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next) {
        if (it->string && strcmp(it->string, name) == 0) {
            if (found)
                return -1;
            found = it;
        }
    }
    *out = found;
    return 0;
}

int proto__json_int(const cJSON *item, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double d = item->valuedouble;
    /* The bounds the contract uses are all within 2^53, where doubles are exact. */
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi ||
        fabs(d) > 9007199254740992.0)
        return 0;
    *out = (int64_t)d;
    return 1;
}

int proto__json_int_text(double d, char out[PROTO__I64_MAX], size_t *len)
{
    /*
     * cJSON prints numbers with "%1.15g", which writes an integer below 1e15
     * as its plain digits; -0 keeps its sign there, so it is left to cJSON.
     */
    if (!(fabs(d) < 1e15) || d != (double)(int64_t)d || (d == 0 && signbit(d)))
        return 0;
    *len = proto__i64_format((int64_t)d, out);
    return 1;
}

/*
 * cJSON's printer takes "%1.15g" when it reads back within an epsilon of
 * d, which loses the last digits of 2^53 in a change's raw text and turns
 * DBL_MAX into a text that reads back as infinity: a record holding it
 * could never be read again (tests/fuzz, lossy-numbers). Exact round trip.
 */
size_t proto__json_number_text(double d, char out[PROTO__NUM_MAX])
{
    size_t n;
    int k;

    if (!isfinite(d))
        return 0;
    if (proto__json_int_text(d, out, &n))
        return n;
    k = snprintf(out, PROTO__NUM_MAX, "%1.15g", d);
    if (k > 0 && k < PROTO__NUM_MAX && strtod(out, NULL) == d)
        return (size_t)k;
    k = snprintf(out, PROTO__NUM_MAX, "%1.17g", d);
    return k > 0 && k < PROTO__NUM_MAX ? (size_t)k : 0;
}

/*
 * Appends the compact text of item to b, byte for byte as
 * cJSON_PrintUnformatted writes it except for numbers, which are written
 * exactly (proto__json_number_text; cJSON's "null" for a non-finite one).
 */
static int print_item(struct proto_buf *b, const cJSON *item)
{
    char num[PROTO__NUM_MAX];
    size_t n;
    int err;

    /* The type byte read once (what cJSON_IsNull and the others compare), not five calls. */
    switch (item->type & 0xFF) {
    case cJSON_NULL:
        return proto_buf_append(b, "null", 4);
    case cJSON_False:
        return proto_buf_append(b, "false", 5);
    case cJSON_True:
        return proto_buf_append(b, "true", 4);
    case cJSON_String:
        return proto_buf_append_json_string(b, item->valuestring, strlen(item->valuestring));
    case cJSON_Number:
        n = proto__json_number_text(item->valuedouble, num);
        return n > 0 ? proto_buf_append(b, num, n) : proto_buf_append(b, "null", 4);
    case cJSON_Array:
    case cJSON_Object:
        break;
    default:
        return PROTO_EINVALID;
    }
    int object = (item->type & 0xFF) == cJSON_Object;
    err = proto_buf_append(b, object ? "{" : "[", 1);
    /* The scanner bounds nesting (PROTO__MAX_DEPTH), so this recursion is shallow. */
    for (const cJSON *c = item->child; !err && c; c = c->next) {
        if (!object) {
            if (c != item->child)
                err = proto_buf_append(b, ",", 1);
        } else {
            size_t key_len = strlen(c->string);
            if (key_len <= 64 && proto__json_plain(c->string, key_len) == key_len) {
                /* The usual member name: separator, quoted name and colon in one append. */
                char t[64 + 4];
                size_t k = 0;
                if (c != item->child)
                    t[k++] = ',';
                t[k++] = '"';
                memcpy(t + k, c->string, key_len);
                k += key_len;
                t[k++] = '"';
                t[k++] = ':';
                err = proto_buf_append(b, t, k);
            } else {
                if (c != item->child)
                    err = proto_buf_append(b, ",", 1);
                if (!err)
                    err = proto_buf_append_json_string(b, c->string, key_len);
                if (!err)
                    err = proto_buf_append(b, ":", 1);
            }
        }
        if (!err)
            err = print_item(b, c);
    }
    return err ? err : proto_buf_append(b, object ? "}" : "]", 1);
}

char *proto__json_print(struct proto_arena *a, const cJSON *item, size_t *len)
{
    /*
     * Our own printer instead of cJSON_PrintUnformatted: the same bytes
     * without printf and sscanf for every integer and a realloc per value
     * (each change of a push is printed whole for the history).
     */
    struct proto_buf b;
    char *copy = NULL;
    /* Printing may lengthen numbers ("1e9"), so the ceiling is the arena's, not the text's. */
    proto_buf_init(&b, 0, PROTO__ARENA_MAX);
    /* A change of a push is about 1 KiB: one allocation instead of doubling from 256 bytes. */
    if (item->child)
        (void)proto__buf_reserve(&b, 2048);
    if (print_item(&b, item) == 0 && b.mem) {
        copy = proto__strndup(a, b.mem, b.len);
        if (copy && len)
            *len = b.len;
    }
    proto_buf_free(&b);
    return copy;
}

int proto__json_depth(const cJSON *item)
{
    int max = 0;
    if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
        for (const cJSON *c = item->child; c; c = c->next) {
            int d = proto__json_depth(c);
            if (d > max)
                max = d;
        }
    }
    return max + 1;
}
