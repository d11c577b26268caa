/*
 * args.c — the strict long-option parser of args.h. It keeps the rules in
 * one place so every subcommand rejects the same mistakes with the same
 * words: an unknown option, a missing or empty value, an option given
 * twice, a missing or extra argument.
 */
#include "args.h"

#include <stdio.h>
#include <string.h>

/* Finds the option whose name is the n bytes at s. */
static const struct cli_opt *find_opt(const struct cli_args_spec *spec, const char *s, size_t n)
{
    for (size_t i = 0; i < spec->n_opts; i++) {
        const char *name = spec->opts[i].name;
        if (strlen(name) == n && memcmp(name, s, n) == 0)
            return &spec->opts[i];
    }
    return NULL;
}

int cli_args_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

/*
 * Stores a value, refusing a second occurrence and an empty value. A value
 * in the next argument that starts with "--" is taken for a forgotten value
 * followed by the next option; written as --name=VALUE it is the value.
 */
static int store_value(const char **slot, const char *name, const char *value, int joined,
                       int *given, char *err, size_t errsize)
{
    if (*given) {
        snprintf(err, errsize, "option --%s given twice", name);
        return CLI_ARGS_USAGE;
    }
    if (value == NULL || value[0] == '\0' || (!joined && strncmp(value, "--", 2) == 0)) {
        snprintf(err, errsize, "option --%s needs a value", name);
        return CLI_ARGS_USAGE;
    }
    *slot = value;
    *given = 1;
    return CLI_ARGS_OK;
}

int cli_args_parse(const struct cli_args_spec *spec, int argc, char **argv, const char **pos,
                   size_t *n_pos, char *err, size_t errsize)
{
    /* given[i] tracks spec->opts[i]; the last slot is --db. Specs are small. */
    int given[33] = {0};
    size_t npos = 0;
    int only_pos = 0;

    if (spec->n_opts > 32) {
        snprintf(err, errsize, "internal: too many options in one command");
        return CLI_ARGS_USAGE;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
            return CLI_ARGS_HELP;
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            if (a[1] != '-') {
                snprintf(err, errsize, "unknown option '%.60s'", a);
                return CLI_ARGS_USAGE;
            }
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            int rc;
            if (spec->db_path && n == 2 && memcmp(name, "db", 2) == 0) {
                const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                rc = store_value(spec->db_path, "db", v, eq != NULL, &given[32], err, errsize);
                if (rc != CLI_ARGS_OK)
                    return rc;
                continue;
            }
            const struct cli_opt *o = find_opt(spec, name, n);
            if (o == NULL) {
                snprintf(err, errsize, "unknown option '--%.*s'", (int)(n > 60 ? 60 : n), name);
                return CLI_ARGS_USAGE;
            }
            size_t k = (size_t)(o - spec->opts);
            if (o->value == NULL) {
                if (eq) {
                    snprintf(err, errsize, "option --%s takes no value", o->name);
                    return CLI_ARGS_USAGE;
                }
                if (given[k]) {
                    snprintf(err, errsize, "option --%s given twice", o->name);
                    return CLI_ARGS_USAGE;
                }
                given[k] = 1;
                if (o->flag)
                    *o->flag = 1;
                continue;
            }
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            rc = store_value(o->value, o->name, v, eq != NULL, &given[k], err, errsize);
            if (rc != CLI_ARGS_OK)
                return rc;
            continue;
        }
        if (npos >= spec->max_pos) {
            snprintf(err, errsize, "unexpected argument '%.60s'", a);
            return CLI_ARGS_USAGE;
        }
        pos[npos++] = a;
    }
    for (size_t k = 0; k < spec->n_opts; k++) {
        if (spec->opts[k].required && !given[k]) {
            snprintf(err, errsize, "missing option --%s", spec->opts[k].name);
            return CLI_ARGS_USAGE;
        }
    }
    if (npos < spec->min_pos) {
        const char *what = spec->pos_names ? spec->pos_names[npos] : "argument";
        snprintf(err, errsize, "missing %s", what);
        return CLI_ARGS_USAGE;
    }
    *n_pos = npos;
    return CLI_ARGS_OK;
}
