/*
 * demo_gen.c — the demo township's plan (demo_gen.h).
 *
 * Design: first the people and subjects are drawn from a fixed-seed PRNG;
 * then every subject gets a schedule of contacts over the last 90 days
 * (an in-person visit every 2-4 weeks, phone check-ins in between, the
 * grid's monthly group session); each contact becomes a pending item
 * (device, time, what). Items are sorted per device by time and only then
 * turned into proto_changes, so seq grows with the hybrid logical clock on
 * every tablet, as it would in the field.
 *
 * Placement (employed + self_employed over all subjects not completed) is
 * set exactly: 164 of the 196 subjects not completed are placed, 83.67%.
 * Pairing (点对点帮扶: subjects.cadre names the subject's own cadre) too:
 * 202 of the 208 are paired, 97.1%.
 */
#include "demo_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "proto_text.h"

#define ARENA_MAX (512u * 1024 * 1024)
#define DAYS 90
#define NOTE_MIN 60
#define NOTE_MAX 200
#define ITEMS_MAX 100000

/* Subject statuses: counts chosen so that 196 are not completed. */
#define N_REHAB 152
#define N_VOLUNTARY 34
#define N_RELAPSED 10
#define N_COMPLETED 12
#define N_PLACED 164 /* of the 196 not completed: 83.67% */
/* Every 33rd subject has no paired cadre yet: 202 of 208 are paired, 97.1%. */
#define UNPAIRED_EVERY 33

enum { ST_REHAB, ST_VOLUNTARY, ST_RELAPSED, ST_COMPLETED };
static const char *const subject_status_names[] = {"community_rehab", "voluntary", "relapsed",
                                                   "completed"};
enum { EM_EMPLOYED, EM_SELF, EM_UNEMPLOYED, EM_UNABLE };
static const char *const employment_names[] = {"employed", "self_employed", "unemployed",
                                               "unable"};
/* A subject's 低保 (minimum living allowance): not asked for, applied for, granted, refused. */
enum { DIBAO_NONE, DIBAO_APPLIED_FOR, DIBAO_APPROVED, DIBAO_REJECTED };
static const char *const dibao_names[] = {"none", "applied", "approved", "rejected"};
enum { K_HOME, K_PHONE, K_WORKPLACE, K_OFFICE, K_GROUP };
static const char *const kind_names[] = {"home", "phone", "workplace", "office", "group"};

/* Assistance kinds in schema order; a visit's array lists them in this order. */
enum { A_REHAB, A_TRAINING, A_PLACEMENT, A_FAMILY, A_FUND, A_PURCHASE, A_DIBAO, A_MEDICAL, A_N };
static const char *const assistance_names[A_N] = {"rehab",  "training", "placement", "family",
                                                  "fund",   "purchase", "dibao",     "medical"};

struct rng {
    uint64_t s;
};

/* splitmix64: small, fast and the same on every platform. */
static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int rng_range(struct rng *r, int lo, int hi)
{
    return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* True with probability pct percent. */
static int rng_pct(struct rng *r, int pct)
{
    return (int)(rng_next(r) % 100) < pct;
}

static const char *rng_pick(struct rng *r, const struct demo_pool *p)
{
    return p->items[rng_next(r) % p->n];
}

static void shuffle(struct rng *r, int *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(r) % i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

struct subject {
    char id[8];
    char name[32];
    int grid;
    int cadre; /* index of the cadre who follows this subject */
    int status;
    int employment;      /* now */
    int employment_then; /* before placed_day, for those placed during the 90 days */
    int placed_day;      /* days ago the subject started work; 0: not during the demo */
    int employer, job, trade, family;
    int income;
    int dibao;
    int disability;
    char phone[16];
    char address[128];
};

enum item_what { IT_SUBJECT, IT_VISIT, IT_UPDATE };

/* One change to be made: who, when, what. */
struct item {
    int device;
    int64_t ms;
    enum item_what what;
    int subject;
    int kind;        /* visits */
    int day;         /* days ago, visits */
    int follow_day;  /* days ago of the follow-up (may be negative: in the future) */
    int placement;   /* this visit found the subject newly at work */
};

struct gen {
    struct rng rng;
    struct demo_plan *plan;
    struct cli_arena *a;
    int64_t midnight_ms; /* today 00:00 at +08:00 */
    struct subject subjects[DEMO_SUBJECTS];
    struct item *items;
    size_t n_items;
    char names_used[DEMO_CADRES + DEMO_STAFF + DEMO_SUBJECTS][32];
    size_t n_names;
};

void demo_grid_id(int g, char *buf, size_t size)
{
    snprintf(buf, size, "g%02u", (unsigned)(g + 1) % 100u); /* g < DEMO_GRIDS <= 99 */
}

/* A Chinese name not used before in the township. */
static void make_name(struct gen *g, int female, char *out, size_t size)
{
    for (int attempt = 0;; attempt++) {
        const char *sur = rng_pick(&g->rng, &demo_surnames);
        const char *given = rng_pick(&g->rng, female ? &demo_given_female : &demo_given_male);
        snprintf(out, size, "%s%s", sur, given);
        int dup = 0;
        for (size_t i = 0; i < g->n_names && !dup; i++)
            dup = strcmp(g->names_used[i], out) == 0;
        if (!dup || attempt > 50)
            break;
    }
    snprintf(g->names_used[g->n_names++], sizeof g->names_used[0], "%s", out);
}

/* Cadres per grid: 184 over 12 grids, the first four grids get 16. */
static int cadres_in_grid(int grid)
{
    return DEMO_CADRES / DEMO_GRIDS + (grid < DEMO_CADRES % DEMO_GRIDS);
}

/* Cadre i works in grid i % 12, so the j-th cadre of grid g is g + 12 j. */
static int cadre_of_grid(int grid, int j)
{
    return grid + DEMO_GRIDS * j;
}

static void make_people(struct gen *g)
{
    struct demo_plan *p = g->plan;
    for (int i = 0; i < DEMO_CADRES; i++) {
        struct demo_person *c = &p->cadres[i];
        snprintf(c->id, sizeof c->id, "c%03d", i + 1);
        snprintf(c->device, sizeof c->device, "tab-c%03d", i + 1);
        make_name(g, rng_pct(&g->rng, 60), c->name, sizeof c->name);
        c->role = "cadre";
        c->grid = i % DEMO_GRIDS;
    }
    for (int i = 0; i < DEMO_STAFF; i++) {
        struct demo_person *s = &p->staff[i];
        if (i < 3) {
            snprintf(s->id, sizeof s->id, "sup%02d", i + 1);
            s->role = "supervisor";
        } else {
            snprintf(s->id, sizeof s->id, "admin");
            s->role = "admin";
        }
        make_name(g, rng_pct(&g->rng, 50), s->name, sizeof s->name);
        s->grid = -1;
    }
}

static void make_subjects(struct gen *g)
{
    static const char *const prefixes[] = {"134", "135", "136", "137", "138", "139", "150",
                                           "151", "152", "157", "158", "159", "182", "183",
                                           "187", "188"};
    int status[DEMO_SUBJECTS];
    int k = 0;
    for (int i = 0; i < N_REHAB; i++)
        status[k++] = ST_REHAB;
    for (int i = 0; i < N_VOLUNTARY; i++)
        status[k++] = ST_VOLUNTARY;
    for (int i = 0; i < N_RELAPSED; i++)
        status[k++] = ST_RELAPSED;
    for (int i = 0; i < N_COMPLETED; i++)
        status[k++] = ST_COMPLETED;
    shuffle(&g->rng, status, DEMO_SUBJECTS);

    /* Placement: the relapsed are never among the placed; 164 of the rest are. */
    int open[DEMO_SUBJECTS], n_open = 0;
    for (int i = 0; i < DEMO_SUBJECTS; i++)
        if (status[i] == ST_REHAB || status[i] == ST_VOLUNTARY)
            open[n_open++] = i;
    shuffle(&g->rng, open, (size_t)n_open);
    int employment[DEMO_SUBJECTS];
    for (int i = 0; i < DEMO_SUBJECTS; i++)
        employment[i] = status[i] == ST_COMPLETED
                            ? (rng_pct(&g->rng, 80) ? EM_EMPLOYED : EM_SELF)
                            : (rng_pct(&g->rng, 75) ? EM_UNEMPLOYED : EM_UNABLE);
    for (int i = 0; i < N_PLACED; i++)
        employment[open[i]] = rng_pct(&g->rng, 75) ? EM_EMPLOYED : EM_SELF;
    /* The first 18 placed (in shuffled order) found their work during the demo. */
    int newly[DEMO_SUBJECTS] = {0};
    for (int i = 0; i < 18; i++)
        if (employment[open[i]] == EM_EMPLOYED)
            newly[open[i]] = 1;

    for (int i = 0; i < DEMO_SUBJECTS; i++) {
        struct subject *s = &g->subjects[i];
        const struct demo_village *v;
        snprintf(s->id, sizeof s->id, "s-%04d", i + 1);
        s->grid = i % DEMO_GRIDS;
        v = &demo_villages[s->grid];
        s->cadre = cadre_of_grid(s->grid, (i / DEMO_GRIDS) % cadres_in_grid(s->grid));
        make_name(g, rng_pct(&g->rng, 12), s->name, sizeof s->name);
        s->status = status[i];
        s->employment = employment[i];
        s->employment_then = newly[i] ? EM_UNEMPLOYED : employment[i];
        s->placed_day = newly[i] ? -1 : 0; /* the day is picked with the schedule */
        s->employer = (int)(rng_next(&g->rng) % demo_employers.n);
        s->job = (int)(rng_next(&g->rng) % demo_jobs.n);
        s->trade = (int)(rng_next(&g->rng) % demo_self_trades.n);
        s->family = (int)(rng_next(&g->rng) % demo_family.n);
        if (s->employment == EM_EMPLOYED)
            s->income = rng_range(&g->rng, 26, 48) * 100;
        else if (s->employment == EM_SELF)
            s->income = rng_range(&g->rng, 15, 50) * 100;
        else
            s->income = 0;
        int roll = rng_range(&g->rng, 0, 99);
        if (s->employment == EM_UNABLE)
            s->dibao = roll < 70 ? DIBAO_APPROVED : DIBAO_APPLIED_FOR;
        else if (s->employment == EM_UNEMPLOYED)
            s->dibao = roll < 25   ? DIBAO_APPROVED
                       : roll < 45 ? DIBAO_APPLIED_FOR
                       : roll < 53 ? DIBAO_REJECTED
                                   : DIBAO_NONE;
        else
            s->dibao = roll < 2   ? DIBAO_APPROVED
                       : roll < 5 ? DIBAO_APPLIED_FOR
                       : roll < 7 ? DIBAO_REJECTED
                                  : DIBAO_NONE;
        s->disability = s->employment == EM_UNABLE ? rng_pct(&g->rng, 85) : rng_pct(&g->rng, 4);
        snprintf(s->phone, sizeof s->phone, "%s%08d",
                 prefixes[rng_next(&g->rng) % (sizeof prefixes / sizeof prefixes[0])],
                 rng_range(&g->rng, 0, 99999999));
        snprintf(s->address, sizeof s->address, "开平市蚬冈镇%s%s%d号", v->name,
                 v->hamlets[rng_next(&g->rng) % v->n_hamlets], rng_range(&g->rng, 1, 98));
    }
}

static int add_item(struct gen *g, struct item it)
{
    if (g->n_items == ITEMS_MAX)
        return -1;
    g->items[g->n_items++] = it;
    return 0;
}

/* ms of a time of day (minutes after midnight) days ago. */
static int64_t at(const struct gen *g, int day, int minutes)
{
    return g->midnight_ms - (int64_t)day * DEMO_DAY_MS + (int64_t)minutes * 60000;
}

/* Working hours for a visit in person: mornings and afternoons. */
static int visit_minutes(struct rng *r)
{
    if (rng_pct(r, 50))
        return rng_range(r, 9 * 60, 11 * 60 + 30);
    return rng_range(r, 14 * 60 + 30, 17 * 60 + 30);
}

struct contact {
    int day;
    int kind;
};

static int by_day_desc(const void *x, const void *y)
{
    const struct contact *a = x, *b = y;
    return b->day - a->day; /* oldest (most days ago) first */
}

/* Plans the contacts of subject i and turns them into items. */
static int schedule_subject(struct gen *g, int i, const int group_days[DEMO_GRIDS][3])
{
    struct subject *s = &g->subjects[i];
    struct contact c[64];
    int n = 0, in_person[16], n_in = 0;
    struct rng *r = &g->rng;

    if (s->status == ST_COMPLETED) {
        for (int d = DAYS - rng_range(r, 0, 20); d >= 1; d -= rng_range(r, 25, 35))
            c[n++] = (struct contact){d, K_PHONE};
    } else {
        for (int d = DAYS - rng_range(r, 0, 13); d >= 1 && n_in < 16; d -= rng_range(r, 14, 28)) {
            int kind = K_HOME;
            if (s->employment == EM_EMPLOYED && rng_pct(r, 30))
                kind = K_WORKPLACE;
            else if (rng_pct(r, 12))
                kind = K_OFFICE;
            in_person[n_in++] = n;
            c[n++] = (struct contact){d, kind};
        }
        for (int d = DAYS - rng_range(r, 0, 6); d >= 1 && n < 56; d -= rng_range(r, 6, 10)) {
            int clash = 0;
            for (int k = 0; k < n_in && !clash; k++)
                clash = abs(c[in_person[k]].day - d) < 2;
            if (!clash)
                c[n++] = (struct contact){d, K_PHONE};
        }
        for (int k = 0; k < 3 && n < 63; k++) {
            int d = group_days[s->grid][k], clash = 0;
            for (int m = 0; m < n && !clash; m++)
                clash = c[m].day == d;
            if (!clash && rng_pct(r, 60))
                c[n++] = (struct contact){d, K_GROUP};
        }
    }
    qsort(c, (size_t)n, sizeof c[0], by_day_desc);

    /* Those placed during the demo started work around their middle home visit. */
    int placement_at = -1;
    if (s->placed_day < 0) {
        int homes = 0;
        for (int k = 0; k < n; k++)
            homes += c[k].kind == K_HOME;
        for (int k = 0, seen = 0; k < n; k++) {
            if (c[k].kind == K_HOME && seen++ == homes / 2) {
                placement_at = k;
                s->placed_day = c[k].day;
                break;
            }
        }
        if (placement_at < 0) { /* no home visit: then the subject was at work all along */
            s->placed_day = 0;
            s->employment_then = s->employment;
        }
    }

    for (int k = 0; k < n; k++) {
        struct item it = {.what = IT_VISIT, .subject = i, .kind = c[k].kind, .day = c[k].day};
        int minutes;
        if (c[k].kind == K_PHONE)
            minutes = rng_range(r, 8 * 60 + 30, 20 * 60 + 30);
        else if (c[k].kind == K_GROUP)
            minutes = 14 * 60 + 30 + rng_range(r, 0, 40);
        else if (c[k].kind == K_OFFICE)
            minutes = rng_range(r, 9 * 60, 11 * 60 + 30);
        else
            minutes = visit_minutes(r);
        it.ms = at(g, c[k].day, minutes) + rng_range(r, 0, 59) * 1000;
        /* The subject's own cadre mostly; now and then a colleague of the grid covers. */
        it.device = s->cadre;
        if (!rng_pct(r, 85))
            it.device = cadre_of_grid(s->grid, rng_range(r, 0, cadres_in_grid(s->grid) - 1));
        it.follow_day = c[k].day - rng_range(r, 14, 28);
        for (int m = k + 1; m < n; m++) {
            if (c[m].kind != K_PHONE && c[m].kind != K_GROUP) {
                it.follow_day = c[m].day;
                break;
            }
        }
        it.placement = k == placement_at;
        if (add_item(g, it) != 0)
            return -1;
        if (it.placement) {
            /* The cadre also updates the subject's record, a second after the visit. */
            struct item up = {.device = s->cadre, .ms = it.ms + 1000, .what = IT_UPDATE,
                              .subject = i, .day = c[k].day};
            if (add_item(g, up) != 0)
                return -1;
        }
    }
    /* The subject was registered before the 90 days, by its cadre. */
    struct item reg = {.device = s->cadre, .what = IT_SUBJECT, .subject = i,
                       .ms = at(g, DAYS + 5 + i % 7, 9 * 60 + i)};
    return add_item(g, reg);
}

static int by_device_time(const void *x, const void *y)
{
    const struct item *a = x, *b = y;
    if (a->device != b->device)
        return a->device < b->device ? -1 : 1;
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    return (int)a->what - (int)b->what;
}

/* ---- texts ------------------------------------------------------------- */

struct note {
    char buf[1024];
    size_t len;
    int chars;
};

/* Formats days ago as "3月12日" (at +08:00). */
static void month_day(const struct gen *g, int day, char *buf, size_t size)
{
    time_t t = (time_t)((at(g, day, 12 * 60) + 8 * 3600 * 1000LL) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%d月%d日", tm.tm_mon + 1, tm.tm_mday);
}

/* Fills a phrase's placeholders for subject s. */
static void expand(const struct gen *g, const struct subject *s, int day, const char *tpl,
                   char *out, size_t size)
{
    size_t o = 0;
    char tmp[64];
    while (*tpl && o + 1 < size) {
        const char *sub = NULL;
        size_t skip = 0;
        if (tpl[0] == '{' && tpl[1] != '\0') {
            if (strncmp(tpl, "{E2}", 4) == 0) {
                sub = demo_employers.items[(s->employer + 3) % demo_employers.n];
                skip = 4;
            } else if (tpl[2] == '}') {
                skip = 3;
                switch (tpl[1]) {
                case 'E': sub = demo_employers.items[s->employer]; break;
                case 'J': sub = demo_jobs.items[s->job]; break;
                case 'S': sub = demo_self_trades.items[s->trade]; break;
                case 'V': sub = demo_villages[s->grid].name; break;
                case 'F': sub = demo_family.items[s->family]; break;
                case 'I':
                    snprintf(tmp, sizeof tmp, "%d", s->income);
                    sub = tmp;
                    break;
                case 'D':
                    month_day(g, day + 3 + (s->income / 100) % 6, tmp, sizeof tmp);
                    sub = tmp;
                    break;
                default: skip = 0; break;
                }
            }
        }
        if (sub) {
            size_t n = strlen(sub);
            if (o + n >= size)
                break;
            memcpy(out + o, sub, n);
            o += n;
            tpl += skip;
        } else {
            out[o++] = *tpl++;
        }
    }
    out[o] = '\0';
}

/* Appends a phrase when it still fits in NOTE_MAX characters; 1 when added. */
static int note_add(const struct gen *g, const struct subject *s, int day, struct note *n,
                    const char *tpl)
{
    char buf[512];
    expand(g, s, day, tpl, buf, sizeof buf);
    size_t len = strlen(buf);
    long chars = proto_utf8_chars(buf, len);
    if (chars < 0 || n->chars + chars > NOTE_MAX || n->len + len >= sizeof n->buf)
        return 0;
    memcpy(n->buf + n->len, buf, len + 1);
    n->len += len;
    n->chars += (int)chars;
    return 1;
}

/* Adds fillers (each at most once) until the note reaches NOTE_MIN characters. */
static void note_fill(struct gen *g, const struct subject *s, int day, struct note *n)
{
    size_t start = (size_t)(rng_next(&g->rng) % demo_p_filler.n);
    for (size_t k = 0; k < demo_p_filler.n && n->chars < NOTE_MIN; k++)
        note_add(g, s, day, n, demo_p_filler.items[(start + k) % demo_p_filler.n]);
    for (size_t k = 0; k < demo_p_plan.n && n->chars < NOTE_MIN; k++)
        note_add(g, s, day, n, demo_p_plan.items[(start + k) % demo_p_plan.n]);
}

static const struct demo_pool *work_pool(int employment)
{
    switch (employment) {
    case EM_EMPLOYED: return &demo_p_work_employed;
    case EM_SELF: return &demo_p_work_self;
    case EM_UNEMPLOYED: return &demo_p_work_unemployed;
    default: return &demo_p_work_unable;
    }
}

/* Composes a visit's notes, and marks the assistance it speaks of. */
static void compose(struct gen *g, const struct subject *s, const struct item *it, int employment,
                    struct note *n, int assist[A_N])
{
    struct rng *r = &g->rng;
    int day = it->day;
    memset(n, 0, sizeof *n);
    switch (it->kind) {
    case K_PHONE:
        note_add(g, s, day, n,
                 rng_pick(r, employment == EM_EMPLOYED ? &demo_p_phone_employed
                                                       : &demo_p_phone_other));
        if (rng_pct(r, 75))
            note_add(g, s, day, n, rng_pick(r, &demo_p_phone_more));
        break;
    case K_GROUP:
        note_add(g, s, day, n, rng_pick(r, &demo_p_group));
        assist[A_REHAB] = 1;
        break;
    case K_WORKPLACE:
        note_add(g, s, day, n, rng_pick(r, &demo_p_workplace));
        if (rng_pct(r, 30) && note_add(g, s, day, n, rng_pick(r, &demo_p_rehab)))
            assist[A_REHAB] = 1;
        break;
    case K_OFFICE:
        note_add(g, s, day, n, rng_pick(r, &demo_p_office));
        assist[A_REHAB] = 1;
        note_add(g, s, day, n, rng_pick(r, work_pool(employment)));
        break;
    default: /* home */
        if (rng_pct(r, 60) && note_add(g, s, day, n, rng_pick(r, &demo_p_rehab)))
            assist[A_REHAB] = 1;
        if (it->placement) {
            note_add(g, s, day, n, rng_pick(r, &demo_p_placed_now));
            assist[A_PLACEMENT] = 1;
        } else {
            note_add(g, s, day, n, rng_pick(r, work_pool(employment)));
        }
        if (rng_pct(r, 35))
            note_add(g, s, day, n, rng_pick(r, &demo_p_family));
        break;
    }

    /* Topics of assistance; phone calls and group sessions touch on them less. */
    int in_person = it->kind == K_HOME || it->kind == K_OFFICE || it->kind == K_WORKPLACE;
    int scale = in_person ? 1 : 3;
    if (employment == EM_UNEMPLOYED && rng_pct(r, 40 / scale) &&
        note_add(g, s, day, n, rng_pick(r, &demo_p_placement)))
        assist[A_PLACEMENT] = 1;
    if (rng_pct(r, (employment == EM_UNEMPLOYED ? 25 : 6) / scale) &&
        note_add(g, s, day, n, rng_pick(r, &demo_p_training)))
        assist[A_TRAINING] = 1;
    const struct demo_pool *dibao = s->dibao == DIBAO_APPLIED_FOR ? &demo_p_dibao_applied
                                    : s->dibao == DIBAO_APPROVED  ? &demo_p_dibao_approved
                                    : s->dibao == DIBAO_REJECTED  ? &demo_p_dibao_rejected
                                                                  : NULL;
    if (dibao && rng_pct(r, 45 / scale) && note_add(g, s, day, n, rng_pick(r, dibao)))
        assist[A_DIBAO] = 1;
    if (rng_pct(r, 10 / scale) && note_add(g, s, day, n, rng_pick(r, &demo_p_fund)))
        assist[A_FUND] = 1;
    if (employment == EM_SELF && rng_pct(r, 15 / scale) &&
        note_add(g, s, day, n, rng_pick(r, &demo_p_purchase)))
        assist[A_PURCHASE] = 1;
    if (rng_pct(r, 8 / scale) && note_add(g, s, day, n, rng_pick(r, &demo_p_medical)))
        assist[A_MEDICAL] = 1;
    if (rng_pct(r, 12 / scale) && note_add(g, s, day, n, rng_pick(r, &demo_p_family_support)))
        assist[A_FAMILY] = 1;
    if (in_person && rng_pct(r, 50))
        note_add(g, s, day, n, rng_pick(r, &demo_p_plan));
    note_fill(g, s, day, n);
}

/* "2026-11-28T09:30:00+08:00" for ms since the epoch. */
static void rfc3339(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void ymd(const struct gen *g, int day, char *buf, size_t size)
{
    time_t t = (time_t)((at(g, day, 12 * 60)) / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d", &tm);
}

/* A record id like a tablet's UUID, from the PRNG. */
static void visit_id(struct rng *r, char *buf, size_t size)
{
    uint64_t a = rng_next(r), b = rng_next(r);
    snprintf(buf, size, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             0x8000 | ((unsigned)(b >> 48) & 0x3fff), (unsigned long long)(b & 0xffffffffffffULL));
}

static void employer_text(const struct subject *s, int employment, char *buf, size_t size)
{
    if (employment == EM_EMPLOYED)
        snprintf(buf, size, "%s", demo_employers.items[s->employer]);
    else if (employment == EM_SELF)
        snprintf(buf, size, "个体：%s", demo_self_trades.items[s->trade]);
    else
        buf[0] = '\0';
}

/* Builds the change for item it as seq on its device. */
static int materialize(struct gen *g, const struct item *it, int64_t seq, struct proto_change *out)
{
    struct subject *s = &g->subjects[it->subject];
    struct cli_fields f = {0};
    struct cli_arena *a = g->a;
    char grid[8], buf[1024], id[48];
    demo_grid_id(s->grid, grid, sizeof grid);

    if (it->what == IT_SUBJECT) {
        int em = s->employment_then;
        cli_fields_str(&f, a, "name", s->name);
        cli_fields_str(&f, a, "grid", grid);
        cli_fields_str(&f, a, "status", subject_status_names[s->status]);
        cli_fields_str(&f, a, "employment", employment_names[em]);
        employer_text(s, em, buf, sizeof buf);
        if (buf[0])
            cli_fields_str(&f, a, "employer", buf);
        cli_fields_num(&f, a, "income", em == s->employment ? s->income : 0);
        cli_fields_str(&f, a, "dibao", dibao_names[s->dibao]);
        cli_fields_bool(&f, a, "disability_cert", s->disability);
        cli_fields_str(&f, a, "phone", s->phone);
        cli_fields_str(&f, a, "address", s->address);
        expand(g, s, 0, rng_pick(&g->rng, &demo_p_family_notes), buf, sizeof buf);
        cli_fields_str(&f, a, "family_notes", buf);
        /* 点对点帮扶: the subject's own cadre, for all but a few not paired yet. */
        if (it->subject % UNPAIRED_EVERY != UNPAIRED_EVERY - 1)
            cli_fields_str(&f, a, "cadre", g->plan->cadres[s->cadre].id);
        g->plan->n_subjects++;
        return cli_change_build(a, out, seq, "subjects", s->id, 0, it->ms, 0, &f);
    }
    if (it->what == IT_UPDATE) {
        cli_fields_str(&f, a, "employment", employment_names[s->employment]);
        employer_text(s, s->employment, buf, sizeof buf);
        cli_fields_str(&f, a, "employer", buf);
        cli_fields_num(&f, a, "income", s->income);
        g->plan->n_updates++;
        /* base 1: the tablet last saw the record as it created it. */
        return cli_change_build(a, out, seq, "subjects", s->id, 1, it->ms, 0, &f);
    }

    int employment = (s->placed_day > 0 && it->day > s->placed_day) ? s->employment_then
                                                                     : s->employment;
    int assist[A_N] = {0};
    struct note n;
    compose(g, s, it, employment, &n, assist);
    cli_fields_str(&f, a, "subject", s->id);
    cli_fields_str(&f, a, "grid", grid);
    rfc3339(it->ms, buf, sizeof buf);
    cli_fields_str(&f, a, "visited_at", buf);
    cli_fields_str(&f, a, "kind", kind_names[it->kind]);
    cli_fields_str(&f, a, "employment", employment_names[employment]);
    if ((employment == EM_EMPLOYED || employment == EM_SELF) && it->kind != K_PHONE &&
        it->kind != K_GROUP)
        cli_fields_num(&f, a, "income", s->income);
    if (it->kind == K_HOME) {
        expand(g, s, it->day, rng_pick(&g->rng, &demo_p_living), buf, sizeof buf);
        cli_fields_str(&f, a, "living", buf);
        if (rng_pct(&g->rng, 25)) {
            /* Needs follow the situation: work, a disability card, or anything. */
            const char *need;
            if (employment == EM_UNEMPLOYED)
                need = demo_p_needs.items[rng_pct(&g->rng, 50) ? 0 : 4];
            else if (s->disability && !rng_pct(&g->rng, 50))
                need = demo_p_needs.items[1];
            else
                need = rng_pick(&g->rng, &demo_p_needs);
            cli_fields_str(&f, a, "needs", need);
        }
    }
    const char *list[A_N];
    size_t n_list = 0;
    for (int k = 0; k < A_N; k++)
        if (assist[k])
            list[n_list++] = assistance_names[k];
    if (n_list)
        cli_fields_strs(&f, a, "assistance", list, n_list);
    cli_fields_str(&f, a, "notes", n.buf);
    if (it->kind != K_GROUP || rng_pct(&g->rng, 30)) {
        ymd(g, it->follow_day, buf, sizeof buf);
        cli_fields_str(&f, a, "follow_up", buf);
    }
    visit_id(&g->rng, id, sizeof id);
    g->plan->n_visits++;
    return cli_change_build(a, out, seq, "visits", id, 0, it->ms, 0, &f);
}

int demo_plan_build(struct demo_plan *p, int64_t now_ms)
{
    struct gen *g = calloc(1, sizeof *g);
    int rc = -1;
    memset(p, 0, sizeof *p);
    if (g == NULL)
        return -1;
    g->rng.s = 0x5869616e67616e67ULL; /* "Xiangang": fixed, so every demo is the same */
    g->plan = p;
    g->a = p->arena = cli_arena_new(ARENA_MAX);
    g->items = malloc(ITEMS_MAX * sizeof *g->items);
    if (p->arena == NULL || g->items == NULL)
        goto out;
    /* Today's midnight at +08:00: the township's calendar. */
    int64_t local = now_ms + 8 * 3600 * 1000LL;
    g->midnight_ms = local - local % DEMO_DAY_MS - 8 * 3600 * 1000LL;

    make_people(g);
    make_subjects(g);
    int group_days[DEMO_GRIDS][3];
    for (int k = 0; k < DEMO_GRIDS; k++) {
        group_days[k][0] = 76 - k % 5;
        group_days[k][1] = 47 - k % 4;
        group_days[k][2] = 17 - k % 3;
    }
    for (int i = 0; i < DEMO_SUBJECTS; i++)
        if (schedule_subject(g, i, group_days) != 0)
            goto out;

    qsort(g->items, g->n_items, sizeof *g->items, by_device_time);
    for (size_t start = 0, end; start < g->n_items; start = end) {
        for (end = start + 1; end < g->n_items && g->items[end].device == g->items[start].device;
             end++) {
            /* Two changes of one tablet never share a clock reading. */
            if (g->items[end].ms <= g->items[end - 1].ms)
                g->items[end].ms = g->items[end - 1].ms + 1;
        }
        struct demo_device *d = &p->devices[g->items[start].device];
        d->n = end - start;
        d->changes = cli_arena_alloc(g->a, d->n * sizeof *d->changes);
        if (d->changes == NULL)
            goto out;
        for (size_t k = start; k < end; k++)
            if (materialize(g, &g->items[k], (int64_t)(k - start + 1), &d->changes[k - start]) != 0)
                goto out;
        p->n_changes += d->n;
    }
    rc = 0;
out:
    free(g->items);
    free(g);
    if (rc != 0)
        demo_plan_free(p);
    return rc;
}

void demo_plan_free(struct demo_plan *p)
{
    cli_arena_free(p->arena);
    memset(p, 0, sizeof *p);
}
