/*
 * decode.c — what decoding one stored record costs, with our decoder
 * (proto_record_decode, record_decode.c) and with cJSON (proto_fields_decode,
 * the path every update took before): the writer decodes the stored record
 * once per edit it merges (issue 13).
 *
 * The records are the benchmark's own (bench/visit.c): half subjects, half
 * visits, each encoded as the server stores it, by proto_record_encode, with
 * stamps as two devices' edits leave them. Each decoder runs over all of
 * them, round after round, for at least --ms milliseconds; the figure is
 * the mean wall time per record on this thread. cJSON reads only the body
 * (proto_fields_decode has no meta), so the like-for-like ratio is the
 * body-only one; our decoder's body + meta time is printed as well.
 */
#include "bench.h"
#include "proto_record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stored text of one record. */
struct stored {
    char *body, *meta;
    size_t body_len, meta_len;
};

/*
 * Encodes the fields object json[0..n) as the server stores a record that
 * device "bench-00001" created at rev 1 and "bench-00002" edited at rev 3
 * (every third field). The caller frees out's two strings. Returns 0 or -1.
 */
static int store_one(const char *json, size_t n, int64_t ms, struct stored *out)
{
    struct proto_record *rec = NULL;
    struct proto_fault fault;
    struct proto_buf body, meta;
    struct proto_stamp *st = NULL;
    int rc = -1;
    proto_buf_init(&body, 0, 1 << 20);
    proto_buf_init(&meta, 0, 1 << 20);
    if (proto_fields_decode(json, n, &rec, &fault) != 0) {
        fprintf(stderr, "decode: a generated record does not decode: %s: %s\n", fault.field,
                fault.message);
        goto out;
    }
    st = calloc(rec->n_fields ? rec->n_fields : 1, sizeof(*st));
    if (!st)
        goto out;
    for (size_t i = 0; i < rec->n_fields; i++) {
        int edited = i % 3 == 2;
        st[i].hlc.ms = ms + (edited ? 86400000 : 0);
        st[i].hlc.counter = (int64_t)i;
        st[i].device = edited ? "bench-00002" : "bench-00001";
        st[i].rev = edited ? 3 : 1;
    }
    if (proto_record_encode(rec->fields, st, rec->n_fields, &body, &meta) != 0) {
        fprintf(stderr, "decode: proto_record_encode refused a generated record\n");
        goto out;
    }
    out->body = strdup(proto_buf_data(&body));
    out->meta = strdup(proto_buf_data(&meta));
    out->body_len = body.len;
    out->meta_len = meta.len;
    if (!out->body || !out->meta) {
        free(out->body);
        free(out->meta);
        goto out;
    }
    rc = 0;
out:
    free(st);
    proto_record_free(rec);
    proto_buf_free(&body);
    proto_buf_free(&meta);
    return rc;
}

enum how { OWN, OWN_BODY, CJSON_BODY };

/* Mean ns per record of one decoder over all records, for at least min_ms. */
static double time_decoder(enum how how, const struct stored *s, int n, int min_ms, int *failed)
{
    uint64_t t0 = bench_now_ns(), t1;
    long done = 0;
    do {
        for (int i = 0; i < n; i++) {
            struct proto_record *rec = NULL;
            struct proto_fault fault;
            int rc;
            if (how == CJSON_BODY)
                rc = proto_fields_decode(s[i].body, s[i].body_len, &rec, &fault);
            else
                rc = proto_record_decode(s[i].body, s[i].body_len, how == OWN ? s[i].meta : NULL,
                                         how == OWN ? s[i].meta_len : 0, &rec, &fault);
            if (rc != 0)
                (*failed)++;
            proto_record_free(rec);
        }
        done += n;
        t1 = bench_now_ns();
    } while (t1 - t0 < (uint64_t)min_ms * 1000000u);
    return (double)(t1 - t0) / (double)done;
}

int main(int argc, char **argv)
{
    int n = 2000, min_ms = 300, rc = 1, failed = 0, made = 0;
    static const struct option lo[] = {{"records", 1, 0, 'n'}, {"ms", 1, 0, 'm'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n': n = atoi(optarg); break;
        case 'm': min_ms = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: decode [--records 2000] [--ms 300 per decoder]\n");
            return 2;
        }
    }
    if (n < 2 || n > 1000000 || min_ms < 1 || min_ms > 60000) {
        fprintf(stderr, "decode: records 2..1000000, ms 1..60000\n");
        return 2;
    }
    struct stored *s = calloc((size_t)n, sizeof(*s));
    if (!s) {
        fprintf(stderr, "decode: out of memory\n");
        return 1;
    }
    struct bench_rng rng = {42};
    int64_t now = bench_wall_ms();
    size_t body_bytes = 0, meta_bytes = 0;
    for (; made < n; made++) {
        char json[4096], grid[8];
        bench_grid_name(made / 2, grid);
        size_t len = made % 2 ? bench_visit_fields(&rng, grid, now, json, sizeof(json))
                              : bench_subject_fields(&rng, grid, json, sizeof(json));
        if (!len || store_one(json, len, now, &s[made]) != 0)
            goto out;
        body_bytes += s[made].body_len;
        meta_bytes += s[made].meta_len;
    }
    /* One untimed round each, so that the first decoder does not pay the page faults. */
    time_decoder(OWN, s, n, 1, &failed);
    time_decoder(CJSON_BODY, s, n, 1, &failed);
    double own = time_decoder(OWN, s, n, min_ms, &failed);
    double own_body = time_decoder(OWN_BODY, s, n, min_ms, &failed);
    double cj = time_decoder(CJSON_BODY, s, n, min_ms, &failed);
    if (failed) {
        fprintf(stderr, "decode: %d decodes failed\n", failed);
        goto out;
    }
    printf("decode_records: %d (half subjects, half visits; body %.0f bytes, meta %.0f bytes "
           "on average)\n",
           n, (double)body_bytes / n, (double)meta_bytes / n);
    printf("decode_ns_own: %.0f (body and meta)\n", own);
    printf("decode_ns_own_body: %.0f\n", own_body);
    printf("decode_ns_cjson: %.0f (body only: proto_fields_decode)\n", cj);
    printf("decode_ratio_cjson_vs_own_body: %.2f\n", own_body > 0 ? cj / own_body : 0.0);
    rc = 0;
out:
    for (int i = 0; i < made; i++) {
        free(s[i].body);
        free(s[i].meta);
    }
    free(s);
    return rc;
}
