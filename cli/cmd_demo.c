/*
 * cmd_demo.c — `visitsync demo`: fills an empty database with the demo
 * township of demo_gen.c and prints the tokens it made.
 *
 * The people (grids, users, tablets with fresh tokens, API tokens) are
 * added in one transaction. The records are then written the way tablets'
 * pushes are: each tablet's changes of one day form a push, applied by
 * sync_apply_push with the tablet's own principal (db_device_load), many
 * pushes to a db_commit_group of about 200 changes, as the server's writer
 * thread does. So the demo's store holds real history, stamps and revs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "change.h"
#include "cli.h"
#include "proto.h"
#include "proto_token.h"
#include "demo_gen.h"
#include "sync.h"

#define GROUP_CHANGES 200
#define GROUP_JOBS_MAX 512

struct tokens {
    char device[DEMO_CADRES][PROTO_TOKEN_CHARS + 1];
    char api[DEMO_STAFF][PROTO_TOKEN_CHARS + 1];
};

/* One push: a slice of one tablet's changes. */
struct push_job {
    const struct sync_rules *rules;
    const struct db_principal *who;
    const struct proto_change *changes;
    size_t n;
    int64_t now_ms;
    char why[512]; /* set when a change was not applied */
};

/* Progress on stderr: one updating line on a terminal, a few plain lines otherwise. */
struct progress {
    int tty;
    size_t done, total, next_plain;
};

static void progress_show(struct progress *pr, int final)
{
    if (pr->tty) {
        fprintf(stderr, "\rvisitsync: demo: writing changes %zu/%zu", pr->done, pr->total);
        if (final)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (final || pr->done >= pr->next_plain) {
        cli_note("demo: wrote %zu/%zu changes", pr->done, pr->total);
        pr->next_plain = pr->done + 1000;
    }
}

/* Applies one push inside the group's transaction (like the writer thread). */
static int apply_push(struct db *db, void *arg)
{
    struct push_job *job = arg;
    struct proto_result *results = calloc(job->n, sizeof *results);
    if (results == NULL) {
        snprintf(job->why, sizeof job->why, "out of memory");
        return SYNC_ENOMEM;
    }
    int rc = sync_apply_push(job->rules, db, job->who, job->changes, job->n, job->now_ms, results,
                             NULL);
    if (rc != 0) {
        snprintf(job->why, sizeof job->why, "%s", db_errmsg(db));
        goto out;
    }
    for (size_t i = 0; i < job->n; i++) {
        if (results[i].status != PROTO_APPLIED) {
            /* The demo's data must be valid: anything else is a bug worth reporting. */
            const struct proto_result *res = &results[i];
            int rejected = res->status == PROTO_REJECTED;
            snprintf(job->why, sizeof job->why,
                     "change %.64s/%.64s of %.64s came back %s%s%.40s %.*s",
                     job->changes[i].collection, job->changes[i].id, job->who->device,
                     proto_status_name(res->status), rejected ? ": " : "",
                     rejected ? proto_code_name(res->error.code) : "", rejected ? 60 : 0,
                     res->error.message);
            rc = DB_ECONSTRAINT;
            break;
        }
    }
out:
    sync_results_clear(results, job->n);
    free(results);
    return rc;
}

/* True when the store has no records and none of the demo's ids. */
static int demo_check_empty(struct db *db, const struct demo_plan *plan)
{
    int64_t cursor = 0;
    char grid[8];
    if (db_cursor(db, &cursor) != 0)
        return cli_fail("demo: cannot read the database: %s", db_errmsg(db));
    if (cursor != 0)
        return cli_fail("demo: the database already holds records; demo needs an empty one "
                        "(make one with: visitsync init --db NEW.db)");
    for (int g = 0; g < DEMO_GRIDS; g++) {
        demo_grid_id(g, grid, sizeof grid);
        int rc = db_grid_exists(db, grid);
        if (rc != 0)
            return rc < 0 ? cli_fail("demo: cannot read the database: %s", db_errmsg(db))
                          : cli_fail("demo: the database already has grid '%s'; demo needs an "
                                     "empty one (make one with: visitsync init --db NEW.db)",
                                     grid);
    }
    for (int i = 0; i < DEMO_STAFF; i++) {
        int rc = db_user_exists(db, plan->staff[i].id);
        if (rc != 0)
            return rc < 0 ? cli_fail("demo: cannot read the database: %s", db_errmsg(db))
                          : cli_fail("demo: the database already has user '%s'; demo needs an "
                                     "empty one (make one with: visitsync init --db NEW.db)",
                                     plan->staff[i].id);
    }
    return 0;
}

/* Adds grids, users, tablets and API tokens; fills tok. Runs in a transaction. */
static int add_people(struct db *db, const struct demo_plan *plan, struct tokens *tok,
                      int64_t now, char *why, size_t whysize)
{
    unsigned char hash[PROTO_TOKEN_HASH];
    char grid[8];
    int rc;
    for (int g = 0; g < DEMO_GRIDS; g++) {
        demo_grid_id(g, grid, sizeof grid);
        if ((rc = db_grid_add(db, grid, demo_villages[g].name, now)) != 0)
            goto fail;
    }
    for (int i = 0; i < DEMO_CADRES; i++) {
        const struct demo_person *c = &plan->cadres[i];
        const char *grids[1] = {grid};
        demo_grid_id(c->grid, grid, sizeof grid);
        if ((rc = db_user_add(db, c->id, c->name, DB_ROLE_CADRE, grids, 1, now)) != 0)
            goto fail;
        if ((rc = proto_token_new(tok->device[i], hash)) != 0) {
            snprintf(why, whysize, "no random bytes for a token");
            return rc;
        }
        if ((rc = db_device_enroll(db, c->device, c->id, hash, now)) != 0)
            goto fail;
    }
    for (int i = 0; i < DEMO_STAFF; i++) {
        const struct demo_person *s = &plan->staff[i];
        enum db_role role = strcmp(s->role, "admin") == 0 ? DB_ROLE_ADMIN : DB_ROLE_SUPERVISOR;
        if ((rc = db_user_add(db, s->id, s->name, role, NULL, 0, now)) != 0)
            goto fail;
        if ((rc = proto_token_new(tok->api[i], hash)) != 0) {
            snprintf(why, whysize, "no random bytes for a token");
            return rc;
        }
        if ((rc = db_token_add(db, s->id, hash, now)) != 0)
            goto fail;
    }
    /* A supervisor sees every grid: if that is more than ours, the store was not empty. */
    struct db_principal p;
    memset(&p, 0, sizeof p);
    if ((rc = db_token_load(db, hash, &p)) != 0)
        goto fail;
    size_t n_grids = p.scope.n;
    db_principal_clear(&p);
    if (n_grids > DEMO_GRIDS) {
        snprintf(why, whysize, "the database already has %zu other grids; demo needs an empty "
                 "one (make one with: visitsync init --db NEW.db)", n_grids - DEMO_GRIDS);
        return DB_EEXISTS;
    }
    return 0;
fail:
    snprintf(why, whysize, "%s", db_errmsg(db));
    return rc;
}

/* Commits jobs[0..n); 0 or CLI_EXIT_FAIL after printing why. */
static int commit_jobs(struct db *db, struct push_job *jobs, size_t n, struct progress *pr)
{
    void *ptrs[GROUP_JOBS_MAX] = {0};
    int job_rc[GROUP_JOBS_MAX];
    size_t changes = 0;
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &jobs[i];
        changes += jobs[i].n;
    }
    int rc = db_commit_group(db, apply_push, ptrs, n, job_rc);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (job_rc[i] != 0) {
            if (pr->tty)
                fputc('\n', stderr);
            return cli_fail("demo: a push of %s failed: %s (the people are in the database, some "
                            "records may be missing: start again with a new database)",
                            jobs[i].who->device,
                            jobs[i].why[0] ? jobs[i].why : sync_strerror(job_rc[i]));
        }
    if (rc != 0) {
        if (pr->tty)
            fputc('\n', stderr);
        return cli_fail("demo: cannot commit the records: %s (start again with a new database)",
                        db_errmsg(db));
    }
    pr->done += changes;
    progress_show(pr, 0);
    return 0;
}

/*
 * Pushes every tablet's changes, one push per tablet and day, in time
 * order across tablets (as if they synced every evening), about
 * GROUP_CHANGES changes to a commit.
 */
static int push_all(struct db *db, const struct demo_plan *plan, const struct db_principal *who,
                    const struct sync_rules *rules, int64_t now, struct progress *pr)
{
    struct push_job *jobs = calloc(GROUP_JOBS_MAX, sizeof *jobs);
    size_t next[DEMO_CADRES] = {0};
    size_t n_jobs = 0, in_group = 0;
    int64_t first = now;
    if (jobs == NULL)
        return cli_fail("demo: out of memory");
    for (int d = 0; d < DEMO_CADRES; d++)
        if (plan->devices[d].n && plan->devices[d].changes[0].hlc.ms < first)
            first = plan->devices[d].changes[0].hlc.ms;

    for (int64_t end = first - first % DEMO_DAY_MS + DEMO_DAY_MS;; end += DEMO_DAY_MS) {
        int left = 0;
        for (int d = 0; d < DEMO_CADRES; d++) {
            const struct demo_device *dev = &plan->devices[d];
            size_t k = next[d];
            while (k < dev->n && dev->changes[k].hlc.ms < end)
                k++;
            if (k > next[d]) {
                jobs[n_jobs] = (struct push_job){.rules = rules, .who = &who[d],
                                                 .changes = dev->changes + next[d],
                                                 .n = k - next[d], .now_ms = now};
                in_group += jobs[n_jobs].n;
                n_jobs++;
                next[d] = k;
            }
            left |= k < dev->n;
            if (in_group >= GROUP_CHANGES || n_jobs == GROUP_JOBS_MAX) {
                if (commit_jobs(db, jobs, n_jobs, pr) != 0)
                    goto fail;
                n_jobs = in_group = 0;
            }
        }
        if (!left)
            break;
    }
    if (n_jobs && commit_jobs(db, jobs, n_jobs, pr) != 0)
        goto fail;
    free(jobs);
    return 0;
fail:
    free(jobs);
    return CLI_EXIT_FAIL;
}

/* Terminal columns of a UTF-8 string: CJK and other wide characters count 2. */
static int display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = *p;
        int n = cp < 0x80 ? 0 : cp < 0xe0 ? 1 : cp < 0xf0 ? 2 : 3;
        if (n) {
            cp &= 0x3f >> n;
            for (int k = 1; k <= n && p[k]; k++)
                cp = cp << 6 | (p[k] & 0x3f);
        }
        p += n + 1;
        w += cp >= 0x1100 ? 2 : 1;
    }
    return w;
}

static void cell(const char *s, int width)
{
    cli_term_write(stdout, s, strlen(s));
    for (int k = display_width(s); k < width; k++)
        putchar(' ');
    fputs("  ", stdout);
}

static void row(const char *user, const char *name, const char *role, const char *grid,
                const char *device, const char *token)
{
    cell(user, 5);
    cell(name, 8);
    cell(role, 10);
    cell(grid, 4);
    cell(device, 8);
    puts(token);
}

static int print_table(const struct demo_plan *plan, const struct tokens *tok)
{
    char grid[8];
    row("USER", "NAME", "ROLE", "GRID", "DEVICE", "TOKEN");
    for (int i = 0; i < DEMO_CADRES; i++) {
        const struct demo_person *c = &plan->cadres[i];
        demo_grid_id(c->grid, grid, sizeof grid);
        row(c->id, c->name, c->role, grid, c->device, tok->device[i]);
    }
    for (int i = 0; i < DEMO_STAFF; i++) {
        const struct demo_person *s = &plan->staff[i];
        row(s->id, s->name, s->role, "all", "(api)", tok->api[i]);
    }
    if (fflush(stdout) != 0)
        return cli_fail("demo: cannot write the table of tokens to stdout");
    return 0;
}

int cli_cmd_demo(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_args_spec spec = {.db_path = &ctx->db_path};
    struct demo_plan plan;
    struct proto_schema *schema = NULL;
    struct proto_fault fault;
    struct db_principal *who = NULL;
    struct tokens *tok = NULL;
    struct db *db = NULL;
    struct progress pr = {.tty = isatty(STDERR_FILENO)};
    char err[256], why[512] = "";
    size_t n_pos = 0, loaded = 0;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("demo", "demo", "%s", err);

    int64_t now = proto_now_ms();
    memset(&plan, 0, sizeof plan);
    if ((rc = cli_open_db(ctx, "demo", 0, &db)) != 0)
        return rc;
    if (demo_plan_build(&plan, now) != 0) {
        rc = cli_fail("demo: out of memory while planning the demo");
        goto out;
    }
    if ((rc = demo_check_empty(db, &plan)) != 0)
        goto out;
    rc = proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json), &schema,
                            &fault);
    if (rc != 0) {
        rc = cli_fail("demo: the built-in schema does not parse: %s", fault.message);
        goto out;
    }
    tok = calloc(1, sizeof *tok);
    who = calloc(DEMO_CADRES, sizeof *who);
    if (tok == NULL || who == NULL) {
        rc = cli_fail("demo: out of memory");
        goto out;
    }

    if ((rc = db_begin(db)) != 0) {
        rc = cli_fail("demo: cannot start a transaction: %s", db_errmsg(db));
        goto out;
    }
    rc = add_people(db, &plan, tok, now, why, sizeof why);
    if (rc == 0)
        rc = db_commit(db);
    if (rc != 0) {
        if (!why[0])
            snprintf(why, sizeof why, "%s", db_errmsg(db));
        db_rollback(db);
        rc = cli_fail("demo: cannot add the demo's people: %s", why);
        goto out;
    }
    cli_note("demo: added %d grids, %d cadres with tablets, 3 supervisors and 1 admin", DEMO_GRIDS,
             DEMO_CADRES);

    for (; loaded < DEMO_CADRES; loaded++) {
        if ((rc = db_device_load(db, plan.cadres[loaded].device, &who[loaded])) != 0) {
            rc = cli_fail("demo: cannot load device '%s': %s", plan.cadres[loaded].device,
                          db_errmsg(db));
            goto out;
        }
    }
    struct sync_rules rules = {.schema = schema, .max_skew_ms = SYNC_DEFAULT_MAX_SKEW_MS};
    pr.total = plan.n_changes;
    pr.next_plain = 1000;
    if ((rc = push_all(db, &plan, who, &rules, now, &pr)) != 0)
        goto out;
    progress_show(&pr, 1);
    cli_note("demo: %zu subjects, %zu visits, %zu subject updates from %d tablets", plan.n_subjects,
             plan.n_visits, plan.n_updates, DEMO_CADRES);
    rc = print_table(&plan, tok);
out:
    for (size_t i = 0; i < loaded; i++)
        db_principal_clear(&who[i]);
    free(who);
    if (tok) {
        memset(tok, 0, sizeof *tok);
        free(tok);
    }
    proto_schema_free(schema);
    demo_plan_free(&plan);
    db_close(db);
    return rc;
}
