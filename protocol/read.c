/*
 * read.c — typed readers for the members of a parsed JSON object, shared
 * by every parser of protocol/. They make the faults uniform: the member
 * is named with its full path and the sentence says what was expected and
 * what came instead.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void proto__describe(const cJSON *item, char *buf, size_t size)
{
    if (!item)
        snprintf(buf, size, "nothing");
    else if (cJSON_IsNull(item))
        snprintf(buf, size, "null");
    else if (cJSON_IsTrue(item))
        snprintf(buf, size, "true");
    else if (cJSON_IsFalse(item))
        snprintf(buf, size, "false");
    else if (cJSON_IsNumber(item) && !isfinite(item->valuedouble))
        snprintf(buf, size, "a number too large for a double");
    else if (cJSON_IsNumber(item))
        snprintf(buf, size, "%.17g", item->valuedouble);
    else if (cJSON_IsString(item))
        snprintf(buf, size, "a string");
    else if (cJSON_IsArray(item))
        snprintf(buf, size, "an array");
    else
        snprintf(buf, size, "an object");
}

/* Sets the fault, naming the member by its path in field and in the sentence. */
__attribute__((format(printf, 3, 4))) static int member_fault(const struct proto__where *w,
                                                              const char *name,
                                                              const char *fmt, ...)
{
    char field[sizeof(w->fault->field)];
    snprintf(field, sizeof(field), "%s%s", w->prefix, name);
    char msg[sizeof(w->fault->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return proto_fault_set(w->fault, w->code, field, "%s %s", field, msg);
}

/* Looks the member up; faults on duplicates and on a missing required one. */
static int lookup(const cJSON *obj, const char *name, int required, const cJSON **out,
                  const struct proto__where *w)
{
    const cJSON *it;
    if (proto__member(obj, name, &it) < 0)
        return member_fault(w, name, "appears more than once");
    if (it && cJSON_IsNull(it) && !required)
        it = NULL;
    if (!it && required)
        return member_fault(w, name, "is required");
    *out = it;
    return 0;
}

int proto__get_string(struct proto_arena *a, const cJSON *obj, const char *name, int required,
                      size_t min_chars, size_t max_chars, const char **out,
                      const struct proto__where *w)
{
    const cJSON *it = NULL;
    int err = lookup(obj, name, required, &it, w);
    if (err || !it)
        return err;
    char got[40];
    if (!cJSON_IsString(it)) {
        proto__describe(it, got, sizeof(got));
        return member_fault(w, name, "must be a string; got %s", got);
    }
    size_t len = strlen(it->valuestring), chars;
    if (!proto__utf8_valid(it->valuestring, len, &chars))
        return member_fault(w, name, "is not valid UTF-8");
    if (chars < min_chars && min_chars == 1)
        return member_fault(w, name, "must not be empty");
    if (chars < min_chars)
        return member_fault(w, name, "must be at least %zu characters; got %zu", min_chars, chars);
    if (chars > max_chars)
        return member_fault(w, name, "must be at most %zu characters; got %zu", max_chars, chars);
    const char *copy = proto__strndup(a, it->valuestring, len);
    if (!copy)
        return PROTO_ENOMEM;
    *out = copy;
    return 0;
}

int proto__get_int(const cJSON *obj, const char *name, int required, int64_t lo, int64_t hi,
                   int64_t *out, int *present, const struct proto__where *w)
{
    const cJSON *it = NULL;
    int err = lookup(obj, name, required, &it, w);
    if (err)
        return err;
    if (present)
        *present = it != NULL;
    if (!it)
        return 0;
    int64_t v;
    if (!proto__json_int(it, lo, hi, &v)) {
        char got[40];
        proto__describe(it, got, sizeof(got));
        return member_fault(w, name, "must be an integer from %lld to %lld; got %s",
                            (long long)lo, (long long)hi, got);
    }
    *out = v;
    return 0;
}

int proto__get_bool(const cJSON *obj, const char *name, int required, int *out,
                    const struct proto__where *w)
{
    const cJSON *it = NULL;
    int err = lookup(obj, name, required, &it, w);
    if (err || !it)
        return err;
    if (!cJSON_IsBool(it)) {
        char got[40];
        proto__describe(it, got, sizeof(got));
        return member_fault(w, name, "must be true or false; got %s", got);
    }
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 0;
}

int proto__get_item(const cJSON *obj, const char *name, int required, int type,
                    const cJSON **out, const struct proto__where *w)
{
    const cJSON *it = NULL;
    int err = lookup(obj, name, required, &it, w);
    if (err)
        return err;
    if (it && (it->type & 0xFF) != type) {
        char got[40];
        proto__describe(it, got, sizeof(got));
        return member_fault(w, name, "must be %s; got %s",
                            type == cJSON_Array    ? "an array"
                            : type == cJSON_Object ? "an object"
                            : type == cJSON_String ? "a string"
                                                   : "of another type",
                            got);
    }
    *out = it;
    return 0;
}
