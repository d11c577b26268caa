/*
 * value.c — turns a cJSON item into a proto_value that owns nothing but
 * arena memory: its canonical compact encoding (cJSON_PrintUnformatted,
 * whose number format is deterministic: integers as integers, others with
 * %1.15g or %1.17g), and the decoded string or array items. Strings must
 * be UTF-8 (the socket checks it, the CLI and tests may not), numbers
 * finite, nesting at most PROTO__MAX_VALUE_DEPTH.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The canonical text of a string: quoted and escaped exactly as
 * cJSON_PrintUnformatted writes it (" and backslash, \b \f \n \r \t, other
 * control characters as \u00xx, everything else as it is).
 */
static char *quote(struct proto_arena *a, const char *s, size_t n, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    if (proto__json_plain(s, n) == n) {
        /* Most strings need no escape: the text is the string in quotes. */
        char *text = proto__alloc_raw(a, n + 3);
        if (!text)
            return NULL;
        text[0] = '"';
        memcpy(text + 1, s, n);
        text[n + 1] = '"';
        text[n + 2] = '\0';
        *len = n + 2;
        return text;
    }
    size_t out = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
            c == '\t')
            out += 2;
        else if (c < 0x20)
            out += 6;
        else
            out++;
    }
    char *text = proto__alloc(a, out + 1);
    if (!text)
        return NULL;
    char *p = text;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = 0;
        switch (c) {
        case '"': e = '"'; break;
        case '\\': e = '\\'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        default: break;
        }
        if (e) {
            *p++ = '\\';
            *p++ = e;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
    *len = out;
    return text;
}

/* An array's text from its items' texts: cJSON joins them with "," and no space. */
static char *join(struct proto_arena *a, const struct proto_value *items, size_t n, size_t *len)
{
    size_t out = 2 + (n ? n - 1 : 0);
    for (size_t i = 0; i < n; i++)
        out += items[i].json_len;
    char *text = proto__alloc(a, out + 1);
    if (!text)
        return NULL;
    char *p = text;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, items[i].json, items[i].json_len);
        p += items[i].json_len;
    }
    *p++ = ']';
    *p = '\0';
    *len = out;
    return text;
}

/*
 * Sets v->json, the canonical text of item, whose other members value_convert
 * has filled. Strings, literals, integers and arrays are written here, byte
 * for byte as cJSON_PrintUnformatted would (the writer and the service thread
 * did that for every value of every change); other numbers and objects still
 * go through cJSON.
 */
static int value_json(struct proto_arena *a, const cJSON *item, struct proto_value *v)
{
    char num[PROTO__I64_MAX];
    switch (v->type) {
    case PROTO_NULL:
        v->json = "null";
        v->json_len = 4;
        return 0;
    case PROTO_BOOL:
        v->json = v->boolean ? "true" : "false";
        v->json_len = v->boolean ? 4 : 5;
        return 0;
    case PROTO_STRING:
        v->json = quote(a, v->str, v->len, &v->json_len);
        break;
    case PROTO_ARRAY:
        v->json = join(a, v->items, v->n_items, &v->json_len);
        break;
    case PROTO_NUMBER:
        if (proto__json_int_text(v->number, num, &v->json_len)) {
            v->json = proto__strndup(a, num, v->json_len);
            break;
        }
        /* fall through */
    default:
        v->json = proto__json_print(a, item, &v->json_len);
        break;
    }
    return v->json ? 0 : PROTO_ENOMEM;
}

static int value_convert(struct proto_arena *a, const cJSON *item, struct proto_value *v,
                         int depth, const char **why)
{
    if (depth > PROTO__MAX_VALUE_DEPTH) {
        *why = "the value nests deeper than 8 levels";
        return PROTO_EINVALID;
    }
    memset(v, 0, sizeof(*v));
    if (cJSON_IsNull(item)) {
        v->type = PROTO_NULL;
    } else if (cJSON_IsBool(item)) {
        v->type = PROTO_BOOL;
        v->boolean = cJSON_IsTrue(item) ? 1 : 0;
    } else if (cJSON_IsNumber(item)) {
        /* 1e400 parses as infinity, which JSON cannot carry back. */
        if (!isfinite(item->valuedouble)) {
            *why = "the number is out of range";
            return PROTO_EINVALID;
        }
        v->type = PROTO_NUMBER;
        v->number = item->valuedouble;
    } else if (cJSON_IsString(item)) {
        v->type = PROTO_STRING;
        v->len = strlen(item->valuestring);
        if (!proto__utf8_valid(item->valuestring, v->len, &v->chars)) {
            *why = "the string is not valid UTF-8";
            return PROTO_EINVALID;
        }
        v->str = proto__strndup(a, item->valuestring, v->len);
        if (!v->str)
            return PROTO_ENOMEM;
    } else if (cJSON_IsArray(item)) {
        v->type = PROTO_ARRAY;
        size_t n = (size_t)cJSON_GetArraySize(item);
        struct proto_value *items = proto__alloc(a, (n ? n : 1) * sizeof(*items));
        if (!items)
            return PROTO_ENOMEM;
        size_t i = 0;
        for (const cJSON *c = item->child; c && i < n; c = c->next, i++) {
            int err = value_convert(a, c, &items[i], depth + 1, why);
            if (err)
                return err;
        }
        v->items = items;
        v->n_items = i;
    } else if (cJSON_IsObject(item)) {
        v->type = PROTO_OBJECT;
        if (proto__json_depth(item) + depth - 1 > PROTO__MAX_VALUE_DEPTH) {
            *why = "the value nests deeper than 8 levels";
            return PROTO_EINVALID;
        }
        /* Strings inside an object are carried only as JSON, but must still be UTF-8. */
        for (const cJSON *c = item->child; c; c = c->next) {
            struct proto_value inner;
            if (!proto__utf8_valid(c->string, strlen(c->string), NULL)) {
                *why = "a member name is not valid UTF-8";
                return PROTO_EINVALID;
            }
            int err = value_convert(a, c, &inner, depth + 1, why);
            if (err)
                return err;
        }
    } else {
        *why = "the value has no JSON type";
        return PROTO_EINVALID;
    }
    return value_json(a, item, v);
}

int proto__value_from_json(struct proto_arena *a, const cJSON *item, struct proto_value *v,
                           const char **why)
{
    struct proto_value tmp;
    const char *reason = NULL;
    int err = value_convert(a, item, &tmp, 1, &reason);
    if (err) {
        if (why)
            *why = reason ? reason : "out of memory";
        return err;
    }
    *v = tmp;
    return 0;
}

static int field_cmp(const void *x, const void *y)
{
    const struct proto_field *a = x, *b = y;
    return strcmp(a->name, b->name);
}

const char *proto__fields_sort(struct proto_field *fields, size_t n)
{
    if (n > 1)
        qsort(fields, n, sizeof(*fields), field_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(fields[i - 1].name, fields[i].name) == 0)
            return fields[i].name;
    }
    return NULL;
}
