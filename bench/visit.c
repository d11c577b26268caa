/*
 * visit.c — realistic visit records of the default schema (§4) for the
 * benchmarks: the same generator feeds the load generator, the SQLite
 * limit and (through loadgen --emit-docs) the peer, so every figure is
 * measured on the same kind of record. Notes are Chinese prose of 100–200
 * characters, as a cadre types them; a whole change is about 850 bytes.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t bench_rng_next(struct bench_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t bench_rng_below(struct bench_rng *r, uint32_t n)
{
    return (uint32_t)(((bench_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

void bench_grid_name(int i, char out[8])
{
    snprintf(out, 8, "g%02d", (i % BENCH_GRIDS) + 1);
}

void bench_visit_id(struct bench_rng *r, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = bench_rng_next(r), b = bench_rng_next(r);
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(a >> (4 * i)) & 15];
        out[16 + i] = hex[(b >> (4 * i)) & 15];
    }
    out[32] = '\0';
}

/* Every phrase is made of 3-byte UTF-8 characters only, so a character
 * count is its byte length / 3 and truncation is exact. */
static const char *const notes_pool[] = {
    "今日入户走访，",
    "本人在家，精神状态良好。",
    "与其母亲交谈，了解近期生活情况。",
    "已按时参加社区康复活动。",
    "近期在县城一家餐馆务工，月收入较稳定。",
    "反映就业岗位不稳定，希望得到技能培训。",
    "家属表示会继续配合社区做好帮教工作。",
    "已提醒其按时尿检并遵守社区康复协议。",
    "居住环境整洁，家庭关系较为和睦。",
    "有申请低保的意愿，已告知所需材料。",
    "下次走访计划在两周后进行。",
    "对其表现给予肯定，鼓励继续保持。",
    "了解到其子女就学存在困难，已转介民政部门。",
    "本人身体状况一般，建议到乡镇卫生院复查。",
    "与村两委沟通，协调公益性岗位一个。",
    "未发现异常情况。",
};
static const char *const living_pool[] = {
    "与父母同住，住房为自建房。", "独居，租住在镇上。",   "与妻子和两个孩子同住。",
    "借住在亲戚家中。",           "住在村里老宅，条件较差。",
};
static const char *const needs_pool[] = {
    "希望获得职业技能培训。", "需要帮助申请低保。", "希望介绍稳定工作。",
    "需要医疗救助。",         "暂无特别需求。",     "希望解决子女入学问题。",
};
static const char *const family_pool[] = {
    "父亲早年去世，母亲务农，身体尚可。", "妻子在镇上超市上班，两个孩子在读小学。",
    "家中有一弟弟在外省打工，每月寄钱回家。", "父母年迈，需要照顾，家庭经济较为困难。",
    "与家人关系曾经紧张，近一年明显改善。", "配偶支持其戒治，经常陪同参加活动。",
};
static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};
static const char *const given[] = {"伟", "芳", "军", "敏", "强", "磊", "洋", "勇", "艳", "杰",
                                    "涛", "明", "超", "平", "刚", "华"};
static const char *const statuses[] = {"community_rehab", "voluntary", "completed", "relapsed"};
static const char *const dibaos[] = {"none", "applied", "approved", "rejected"};
static const char *const kinds[] = {"home", "phone", "workplace", "office", "group"};
static const char *const employments[] = {"employed", "self_employed", "unemployed", "unable"};
static const char *const assistances[] = {"rehab", "training", "placement", "family",
                                          "fund",  "purchase", "dibao",     "medical"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct out {
    char *p;
    size_t len, size;
    int full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->len + n + 1 > o->size) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Appends Chinese prose of exactly chars characters drawn from pool. */
static void prose(struct out *o, struct bench_rng *r, const char *const *pool, size_t npool,
                  size_t chars)
{
    size_t have = 0;
    while (have < chars) {
        const char *ph = pool[bench_rng_below(r, (uint32_t)npool)];
        size_t pc = strlen(ph) / 3;
        size_t take = pc < chars - have ? pc : chars - have;
        put(o, ph, take * 3);
        have += take;
    }
}

size_t bench_visit_fields(struct bench_rng *r, const char *grid, int64_t now_ms, char *buf,
                          size_t size)
{
    struct out o = {.p = buf, .size = size};
    char tmp[96];

    char subject[24];
    bench_subject_id(grid, (int)bench_rng_below(r, BENCH_SUBJECTS) + 1, subject);
    snprintf(tmp, sizeof(tmp), "{\"subject\":\"%s\",\"grid\":\"%s\"", subject, grid);
    puts_(&o, tmp);

    /* visited_at: some time in the last 30 days, in China Standard Time. */
    time_t t = (time_t)(now_ms / 1000) - (time_t)bench_rng_below(r, 30 * 86400) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(tmp, sizeof(tmp), ",\"visited_at\":\"%Y-%m-%dT%H:%M:%S+08:00\"", &tm);
    puts_(&o, tmp);

    snprintf(tmp, sizeof(tmp), ",\"kind\":\"%s\",\"living\":\"",
             kinds[bench_rng_below(r, NELEM(kinds))]);
    puts_(&o, tmp);
    prose(&o, r, living_pool, NELEM(living_pool), 8 + bench_rng_below(r, 9));

    snprintf(tmp, sizeof(tmp), "\",\"employment\":\"%s\",\"income\":%u,\"assistance\":[",
             employments[bench_rng_below(r, NELEM(employments))], bench_rng_below(r, 61) * 100);
    puts_(&o, tmp);
    /* 0–3 distinct kinds of assistance: a random start and stride over the list. */
    uint32_t na = bench_rng_below(r, 4), start = bench_rng_below(r, NELEM(assistances));
    for (uint32_t i = 0; i < na; i++) {
        snprintf(tmp, sizeof(tmp), "%s\"%s\"", i ? "," : "",
                 assistances[(start + 3 * i) % NELEM(assistances)]);
        puts_(&o, tmp);
    }
    puts_(&o, "],\"needs\":\"");
    prose(&o, r, needs_pool, NELEM(needs_pool), 8 + bench_rng_below(r, 9));
    puts_(&o, "\",\"notes\":\"");
    prose(&o, r, notes_pool, NELEM(notes_pool), 100 + bench_rng_below(r, 101));
    puts_(&o, "\"}");
    return o.full ? 0 : o.len;
}

void bench_subject_id(const char *grid, int n, char out[24])
{
    snprintf(out, 24, "s-%s-%04d", grid, n);
}

size_t bench_subject_fields(struct bench_rng *r, const char *grid, char *buf, size_t size)
{
    struct out o = {.p = buf, .size = size};
    char tmp[320];

    puts_(&o, "{\"name\":\"");
    puts_(&o, surnames[bench_rng_below(r, NELEM(surnames))]);
    for (uint32_t i = 0, n = 1 + bench_rng_below(r, 2); i < n; i++)
        puts_(&o, given[bench_rng_below(r, NELEM(given))]);
    snprintf(tmp, sizeof(tmp),
             "\",\"grid\":\"%s\",\"status\":\"%s\",\"employment\":\"%s\",\"income\":%u,"
             "\"dibao\":\"%s\",\"disability_cert\":%s,\"phone\":\"1%010llu\",\"address\":\"",
             grid, statuses[bench_rng_below(r, NELEM(statuses))],
             employments[bench_rng_below(r, NELEM(employments))], bench_rng_below(r, 61) * 100,
             dibaos[bench_rng_below(r, NELEM(dibaos))], bench_rng_below(r, 10) ? "false" : "true",
             (unsigned long long)(bench_rng_next(r) % 10000000000ULL));
    puts_(&o, tmp);
    prose(&o, r, living_pool, NELEM(living_pool), 10 + bench_rng_below(r, 6));
    puts_(&o, "\",\"family_notes\":\"");
    prose(&o, r, family_pool, NELEM(family_pool), 60 + bench_rng_below(r, 61));
    puts_(&o, "\"}");
    return o.full ? 0 : o.len;
}

size_t bench_edit_fields(struct bench_rng *r, int subject, int pick, int side, char *buf,
                         size_t size)
{
    struct out o = {.p = buf, .size = size};
    char tmp[96];
    switch ((subject ? 0 : 3) + pick % 3) {
    case 0:
        /* side 1 earns 50 more: the two edits of a pair always differ. */
        snprintf(tmp, sizeof(tmp), "{\"employment\":\"%s\",\"income\":%u}",
                 employments[bench_rng_below(r, NELEM(employments))],
                 bench_rng_below(r, 61) * 100 + (side ? 50u : 0u));
        puts_(&o, tmp);
        break;
    case 1:
        puts_(&o, side ? "{\"family_notes\":\"复核：" : "{\"family_notes\":\"");
        prose(&o, r, family_pool, NELEM(family_pool), 40 + bench_rng_below(r, 41));
        puts_(&o, "\"}");
        break;
    case 2:
        snprintf(tmp, sizeof(tmp), "{\"dibao\":\"%s\"}",
                 dibaos[(bench_rng_below(r, NELEM(dibaos)) + (unsigned)side) % NELEM(dibaos)]);
        puts_(&o, tmp);
        break;
    case 3: {
        /* side 0 has 1 or 2 kinds, side 1 has 3: never the same list. */
        uint32_t na = side ? 3 : 1 + bench_rng_below(r, 2);
        uint32_t start = bench_rng_below(r, NELEM(assistances));
        puts_(&o, "{\"assistance\":[");
        for (uint32_t i = 0; i < na; i++) {
            snprintf(tmp, sizeof(tmp), "%s\"%s\"", i ? "," : "",
                     assistances[(start + 3 * i) % NELEM(assistances)]);
            puts_(&o, tmp);
        }
        puts_(&o, "]}");
        break;
    }
    case 4:
        puts_(&o, side ? "{\"notes\":\"复核：" : "{\"notes\":\"");
        prose(&o, r, notes_pool, NELEM(notes_pool), 100 + bench_rng_below(r, 101));
        puts_(&o, "\"}");
        break;
    default:
        puts_(&o, side ? "{\"needs\":\"复核：" : "{\"needs\":\"");
        prose(&o, r, needs_pool, NELEM(needs_pool), 8 + bench_rng_below(r, 9));
        puts_(&o, "\"}");
        break;
    }
    return o.full ? 0 : o.len;
}
