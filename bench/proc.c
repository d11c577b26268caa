/*
 * proc.c — what the benchmarks read about the server from outside: its
 * memory and CPU from /proc, the size of its database file, and the
 * device credentials bench/setup wrote.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bench_proc_read(pid_t pid, struct bench_proc *out)
{
    char path[64], line[512];
    struct bench_proc p = {0};
    int rc = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            p.hwm_kib = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            p.rss_kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(line, sizeof(line), f))
        goto out;
    /* The command name may hold spaces: fields are counted after its ')'. */
    char *s = strrchr(line, ')');
    if (!s)
        goto out;
    unsigned long long ut = 0, st = 0;
    if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        goto out;
    p.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    *out = p;
    rc = 0;
out:
    fclose(f);
    return rc;
}

long long bench_db_bytes(const char *path)
{
    struct stat st;
    long long n = 0;
    char wal[4096];
    if (stat(path, &st) == 0)
        n += st.st_size;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    if (stat(wal, &st) == 0)
        n += st.st_size;
    return n;
}

int bench_creds_read(const char *path, int max, struct bench_cred **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot read credentials %s: run bench/setup first\n", path);
        return -1;
    }
    struct bench_cred *c = calloc((size_t)max, sizeof(*c));
    int n = 0;
    char line[512];
    while (c && n < max && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%64s %127s %64s", c[n].device, c[n].token, c[n].grid) == 3)
            n++;
    }
    fclose(f);
    if (!c) {
        fprintf(stderr, "out of memory reading %s\n", path);
        return -1;
    }
    *out = c;
    return n;
}
