/*
 * args.h — a small strict option parser for the subcommands.
 *
 * Long options only: `--name VALUE`, `--name=VALUE`, and flags `--name`.
 * Anything else starting with "-" (except a lone "-") is an unknown option;
 * "--" ends the options. A value may not be empty and may not start with
 * "--" (that is almost always a forgotten value). Every subcommand also
 * accepts `--db PATH`. Problems are reported as one sentence in a caller
 * buffer, never printed here, so the caller decides the line's prefix.
 */
#ifndef VS_CLI_ARGS_H
#define VS_CLI_ARGS_H

#include <stddef.h>

struct cli_opt {
    const char *name;   /* without the leading "--" */
    const char **value; /* option takes a value: where it goes (NULL for a flag) */
    int *flag;          /* flag: set to 1 when present (NULL for a valued option) */
    int required;       /* a missing required option is a usage error */
};

struct cli_args_spec {
    const struct cli_opt *opts;
    size_t n_opts;
    const char *const *pos_names; /* names of the positional arguments, for "missing ID" */
    size_t min_pos;
    size_t max_pos;
    const char **db_path; /* where --db goes; NULL: --db is not accepted */
};

enum cli_args_result { CLI_ARGS_OK = 0, CLI_ARGS_HELP = 1, CLI_ARGS_USAGE = -1 };

/*
 * Parses argv[0..argc) against spec. Positional arguments are stored in
 * pos[0..*n_pos) (pos must hold spec->max_pos entries; they point into
 * argv). Returns CLI_ARGS_OK, CLI_ARGS_HELP when --help or -h was given, or
 * CLI_ARGS_USAGE with a sentence in err ("unknown option '--frob'").
 * Values already set in *value before the call count as not given.
 * Runs on the caller's thread; keeps no state.
 */
int cli_args_parse(const struct cli_args_spec *spec, int argc, char **argv, const char **pos,
                   size_t *n_pos, char *err, size_t errsize);

/* True when argv[0..argc) asks for help (--help or -h before any "--"). */
int cli_args_wants_help(int argc, char **argv);

#endif
