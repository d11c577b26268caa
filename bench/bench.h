/*
 * bench.h — the pieces the benchmark programs share: a small epoll
 * WebSocket client (bench_ws_*), a JSON member scanner that reads the
 * server's replies without building a tree (bench_json_*), the generator of
 * realistic visit records (bench_visit_*), /proc readings of the server
 * (bench_proc_*) and clocks.
 *
 * Why our own client: the libwebsockets client masks frames a byte at a
 * time and saturates a core at ~5k messages/s, which would measure the
 * load generator instead of the server. This one masks 8 bytes at a time,
 * never offers permessage-deflate and runs many connections on one thread.
 * Everything here is single-threaded: the caller's thread owns the loop and
 * every connection on it. Loopback only: connect refuses other addresses.
 */
#ifndef VS_BENCH_H
#define VS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- clocks ---------------------------------------------------------- */

/* Monotonic nanoseconds, for durations. */
uint64_t bench_now_ns(void);
/* Wall clock, ms since the epoch, for hlc and visited_at. */
int64_t bench_wall_ms(void);

/* ---- event loop and WebSocket client ---------------------------------- */

struct bench_loop;
struct bench_ws;

struct bench_ws_ops {
    /* The upgrade succeeded; the connection may send. */
    void (*on_open)(struct bench_ws *ws, void *user);
    /* One whole text message; msg is valid only during the call. */
    void (*on_text)(struct bench_ws *ws, void *user, const char *msg, size_t len);
    /* The connection is gone (code 1006 when no close frame came). The
     * caller still frees ws with bench_ws_free, after this returns. */
    void (*on_close)(struct bench_ws *ws, void *user, int code, const char *why);
};

/* Creates an epoll loop. The caller owns *out (bench_loop_free). */
int bench_loop_new(struct bench_loop **out);
void bench_loop_free(struct bench_loop *loop);
/* Waits up to timeout_ms for events and handles them; returns 0 or -1 (errno). */
int bench_loop_run_once(struct bench_loop *loop, int timeout_ms);
/*
 * Connections started after this come from the loopback IPv4 address addr
 * (NULL: the kernel's choice, 127.0.0.1). One source address has one
 * ephemeral port range (about 28,000 ports) towards the server: more
 * connections than that need several. Returns 0, or -1 for a non-loopback addr.
 */
int bench_loop_set_source(struct bench_loop *loop, const char *addr);

/*
 * Starts a non-blocking connect to ws://host:port/path (host must be a
 * loopback IPv4 address) offering subprotocol; the upgrade completes inside
 * bench_loop_run_once and then ops->on_open runs. The caller owns *out and
 * frees it with bench_ws_free (also after on_close). Returns 0, or -1 with
 * a sentence in err.
 */
int bench_ws_connect(struct bench_loop *loop, const char *host, int port, const char *path,
                     const char *subprotocol, const struct bench_ws_ops *ops, void *user,
                     struct bench_ws **out, char *err, size_t errsize);
/* Queues one masked, unfragmented text frame and tries to write it at once.
 * Returns 0, or -1 when the connection is not open or its output ceiling
 * (64 MiB) would be passed. */
int bench_ws_send_text(struct bench_ws *ws, const char *data, size_t len);
/* The same for one binary frame (a photo chunk, §2.6). */
int bench_ws_send_binary(struct bench_ws *ws, const void *data, size_t len);
/* 1 while the connection is open (upgraded and not closed). */
int bench_ws_is_open(const struct bench_ws *ws);
/* Sends a close frame when open, then closes the socket without waiting
 * and frees ws. NULL is a no-op. on_close is not called. */
void bench_ws_free(struct bench_ws *ws, int code);

/* ---- JSON scanning (no tree, no copies) -------------------------------- */

/* A value's text as it appears in the message: strings keep their quotes. */
struct bench_span {
    const char *p;
    size_t n;
};

/*
 * Reads the top-level members named keys[0..nkeys) of the JSON object in
 * s[0..n) in one pass. vals[i].p is NULL for a member not present.
 * Returns 0, or -1 when s is not a well-formed object at the top level.
 */
int bench_json_members(const char *s, size_t n, const char *const *keys, struct bench_span *vals,
                       size_t nkeys);
/* Iterates an array span: *pos starts at 0; returns 1 and the next element
 * in *elem, 0 at the end, -1 when malformed. */
int bench_json_array_next(struct bench_span arr, size_t *pos, struct bench_span *elem);
/* True when the span is the string literal "lit" (given without quotes). */
int bench_json_str_eq(struct bench_span v, const char *lit);
/* Copies a string span's content (no unescaping; ids and cursors need
 * none) into buf; returns 0, or -1 when it is not a string or too long. */
int bench_json_str_copy(struct bench_span v, char *buf, size_t size);

/* ---- realistic visits -------------------------------------------------- */

/* splitmix64: fast, seedable, good enough for test data (not for secrets). */
struct bench_rng {
    uint64_t s;
};
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n). */
uint32_t bench_rng_below(struct bench_rng *r, uint32_t n);

#define BENCH_GRIDS 12
/* The grid of the i-th device (and of the i-th cadre): "g01".."g12". */
void bench_grid_name(int i, char out[8]);

/* An id of 32 lowercase hex digits (like a tablet's UUID without dashes). */
void bench_visit_id(struct bench_rng *r, char out[33]);

/*
 * Writes the "fields" object of one visit of the default schema (§4) to
 * buf: subject, grid, visited_at (RFC 3339, +08:00, in the 30 days before
 * now_ms), kind, living, employment, income, assistance, needs and notes of
 * 100–200 Chinese characters; about 700 bytes, so that the whole change is
 * about 850. Returns its length, or 0 when size is too small (use 4096).
 */
size_t bench_visit_fields(struct bench_rng *r, const char *grid, int64_t now_ms, char *buf,
                          size_t size);

/* Subjects per grid that visits name ("s-g01-0001".."s-g01-0300"). */
#define BENCH_SUBJECTS 300
/* The id of the n-th (1-based) subject of grid. */
void bench_subject_id(const char *grid, int n, char out[24]);
/*
 * Writes the "fields" object of a new subject of the default schema: name,
 * grid, status, employment, income, dibao, disability_cert, phone, address
 * and family_notes of 60–120 characters; about 500 bytes. Returns its
 * length, or 0 when size is too small (use 4096).
 */
size_t bench_subject_fields(struct bench_rng *r, const char *grid, char *buf, size_t size);
/*
 * Writes the "fields" of a cadre's edit of an existing record: for a
 * subject (subject != 0) employment and income, family_notes or dibao; for
 * a visit assistance, notes or needs; pick chooses which. Two calls with
 * the same pick and rng state but different side (0, 1) write different
 * values of the same fields: a concurrent edit that conflicts. Returns the
 * length, or 0 when size is too small (use 4096).
 */
size_t bench_edit_fields(struct bench_rng *r, int subject, int pick, int side, char *buf,
                         size_t size);

/* ---- the server process ------------------------------------------------- */

struct bench_proc {
    long hwm_kib;  /* VmHWM: peak resident set */
    long rss_kib;  /* VmRSS: resident set now */
    double cpu_s;  /* utime + stime */
};
/* Reads /proc/PID/status and /proc/PID/stat. Returns 0, or -1 when gone. */
int bench_proc_read(pid_t pid, struct bench_proc *out);

/* Size of a SQLite file plus its -wal, in bytes (0 when absent). */
long long bench_db_bytes(const char *path);

/* ---- credentials written by bench/setup --------------------------------- */

struct bench_cred {
    char device[65];
    char token[128];
    char grid[65];
};
/* Reads up to max "device token grid" lines. The caller frees *out.
 * Returns how many were read, or -1 with a sentence on stderr. */
int bench_creds_read(const char *path, int max, struct bench_cred **out);

#endif
