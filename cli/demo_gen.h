/*
 * demo_gen.h — plans the demo township: its people, and the changes each
 * cadre's tablet would have pushed over the last 90 days (subjects created,
 * visits recorded, a few subjects' employment updated), as proto_change
 * arrays ready for sync_apply_push.
 *
 * The plan is deterministic (a fixed PRNG seed): the same people, records
 * and texts every run. Only the dates move with today, so the visits
 * always fall in the last 90 days. Tokens are not part of the plan.
 */
#ifndef VS_CLI_DEMO_GEN_H
#define VS_CLI_DEMO_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "demo_data.h"
#include "proto.h"

#define DEMO_CADRES 184
#define DEMO_STAFF 4 /* sup01..sup03 and admin */
#define DEMO_SUBJECTS 208
#define DEMO_DAY_MS 86400000LL /* a day in ms */

struct demo_person {
    char id[16];
    char name[32];
    const char *role;  /* "cadre", "supervisor", "admin" */
    int grid;          /* index into demo_villages; -1: all grids */
    char device[16];   /* cadres only: tab-c001 */
};

/* The changes of one cadre's tablet, in seq order (seq 1..n), oldest first. */
struct demo_device {
    struct proto_change *changes;
    size_t n;
};

struct demo_plan {
    struct demo_person cadres[DEMO_CADRES];
    struct demo_person staff[DEMO_STAFF];
    struct demo_device devices[DEMO_CADRES]; /* devices[i] belongs to cadres[i] */
    size_t n_subjects, n_visits, n_updates, n_changes;
    struct cli_arena *arena; /* owns every change and string above */
};

/* The grid id of village index g ("g01"); buf holds at least 8 bytes. */
void demo_grid_id(int g, char *buf, size_t size);

/*
 * Fills *p with the whole plan for a township whose "today" is now_ms.
 * The caller owns *p afterwards and frees it with demo_plan_free.
 * Returns 0, or -1 when out of memory. Runs on the caller's thread.
 */
int demo_plan_build(struct demo_plan *p, int64_t now_ms);
void demo_plan_free(struct demo_plan *p);

#endif
