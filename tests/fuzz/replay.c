/*
 * replay.c — the main() of a harness built without libFuzzer: runs every
 * file named on the command line, or found (not recursively) in a folder
 * named there, through LLVMFuzzerTestOneInput once, from an exact-size
 * heap copy. This is how the normal and sanitizer builds replay the seed
 * corpus and every regression case (ctest: fuzz_<harness>).
 *
 *   fuzz_x [--min N] PATH...   fails when fewer than N inputs were found
 *
 * Files whose name starts with "." (.gitkeep) and README* are skipped. A
 * failing input aborts the run; the line before names it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Optional in a harness; a weak reference is NULL when it has none. */
#pragma weak LLVMFuzzerInitialize

static int skip_name(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *bigger = realloc(buf, cap);
            FZ_CHECK(bigger != NULL, "out of memory reading %s", path);
            buf = bigger;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void run_file(const char *path, size_t *count)
{
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    FZ_CHECK(buf != NULL, "cannot read %s", path);
    /* The exact-size copy is what makes an over-read visible to ASan. */
    char *exact = fz_copy(buf, len);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput((const uint8_t *)exact, len);
    free(exact);
    (*count)++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a folder's files in name order, so a failure replays the same way. */
static void run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    FZ_CHECK(d != NULL, "cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        if (skip_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof *names);
            FZ_CHECK(bigger != NULL, "out of memory listing %s", dir);
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        FZ_CHECK(names[n] != NULL, "out of memory listing %s", dir);
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_file(names[i], count);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    size_t count = 0, min = 0;
    int first = 1;

    if (argc > 2 && strcmp(argv[1], "--min") == 0) {
        min = strtoul(argv[2], NULL, 10);
        first = 3;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            /* A regression folder may not exist yet; a missing corpus shows in the count. */
            fprintf(stderr, "replay: %s does not exist, skipped\n", argv[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode))
            run_dir(argv[i], &count);
        else
            run_file(argv[i], &count);
    }
    printf("replay: %zu inputs passed\n", count);
    if (count < min) {
        fprintf(stderr, "replay: only %zu inputs found, expected at least %zu\n", count, min);
        return 1;
    }
    return 0;
}
