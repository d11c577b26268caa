/*
 * demo_data.h — the word and phrase pools of the demo township (蚬冈镇,
 * 开平): surnames and given names, villages and their hamlets, employers,
 * and the phrases visit notes are composed from. Pure data.
 *
 * Phrases may hold placeholders that demo_gen.c fills in: {E} employer,
 * {J} job, {I} monthly income in CNY, {S} self-employed trade, {V} village,
 * {F} a family member, {D} a date like "3月12日", {E2} another employer.
 */
#ifndef VS_CLI_DEMO_DATA_H
#define VS_CLI_DEMO_DATA_H

#include <stddef.h>

struct demo_pool {
    const char *const *items;
    size_t n;
};

#define DEMO_GRIDS 12

struct demo_village {
    const char *name;           /* the grid's name, e.g. 蚬冈村 */
    const char *const *hamlets; /* 里/坊 of the village, for addresses */
    size_t n_hamlets;
};

extern const struct demo_village demo_villages[DEMO_GRIDS];

extern const struct demo_pool demo_surnames, demo_given_male, demo_given_female;
extern const struct demo_pool demo_employers, demo_jobs, demo_self_trades, demo_family;

/* Note phrases by topic. */
extern const struct demo_pool demo_p_rehab, demo_p_living, demo_p_family, demo_p_work_employed,
    demo_p_work_self, demo_p_work_unemployed, demo_p_work_unable, demo_p_workplace,
    demo_p_phone_employed, demo_p_phone_other, demo_p_phone_more, demo_p_office, demo_p_group, demo_p_training,
    demo_p_placement, demo_p_placed_now, demo_p_dibao_applied, demo_p_dibao_approved,
    demo_p_dibao_rejected, demo_p_fund, demo_p_purchase, demo_p_medical, demo_p_family_support,
    demo_p_plan, demo_p_filler, demo_p_needs, demo_p_family_notes;

#endif
