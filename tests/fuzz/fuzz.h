/*
 * fuzz.h — what the harnesses of tests/fuzz share.
 *
 * Each harness is one libFuzzer entry point, LLVMFuzzerTestOneInput. Built
 * with VS_FUZZ, libFuzzer drives it; otherwise replay.c gives it a main()
 * that runs every file of the corpus and regression folders once, so every
 * ordinary and sanitizer build replays every input a fuzzer ever kept.
 *
 * A harness checks properties, not just the absence of crashes: a broken
 * property prints what broke and aborts, which libFuzzer reports as a crash
 * and keeps the input.
 */
#ifndef VS_TEST_FUZZ_H
#define VS_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "proto_errors.h"

/* The entry points libFuzzer calls; the first is optional (replay.c checks). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Prints "fuzz: file:line: what" and the sentence, calls fz_on_fail (when a
 * harness set it, to print the case it generated), then aborts.
 */
extern void (*fz_on_fail)(void);
void fz_fail(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond))                                                         \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
    } while (0)

/*
 * True when the bug named id is listed in the environment variable
 * VS_FUZZ_KNOWN (comma-separated): a harness then skips the one check that
 * bug breaks, so that fuzzing can go on looking for others while its fix is
 * routed. Every build's ctest runs without it, so a known bug still fails
 * its regression case there.
 */
int fz_known(const char *id);

/* An exact-size heap copy of data[0..n) (no NUL after it), so ASan sees over-reads. */
char *fz_copy(const void *data, size_t n);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
int fz_utf8_valid(const char *s, size_t n);

/*
 * Checks that a fault is what a reply can carry: field and message end
 * within their arrays and are valid UTF-8 (proto_fault_set drops broken
 * sequences, whatever text it quotes), and a set code has a message.
 * what names the call in the failure.
 */
void fz_check_fault(const struct proto_fault *f, const char *what);


/* Reads bytes off an input as small choices; 0 once the bytes run out. */
struct fz_bytes {
    const uint8_t *p;
    size_t n;
    size_t at;
    int backward; /* read from the end towards the start */
};

void fz_bytes_init(struct fz_bytes *b, const uint8_t *p, size_t n, int backward);
/* A number in 0..n-1 (n >= 1) from the next byte. */
unsigned fz_take(struct fz_bytes *b, unsigned n);

#endif
