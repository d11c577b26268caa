/*
 * db.h — the central store: one SQLite file in WAL mode.
 *
 * db/ is the only module that sees sqlite3. It owns the schema and its
 * migrations (PRAGMA user_version steps), every statement (prepared once,
 * reset and unbound on every exit path) and the commit path: a group of
 * jobs applied in one transaction, each in its own savepoint, made durable
 * by one COMMIT (synchronous=FULL: one fsync for the whole group).
 *
 * A struct db is one connection and is used by one thread at a time. The
 * server opens one for its writer thread and one per reader thread.
 *
 * Errors: functions return 0 or a negative DB_E* code; db_errmsg() then
 * holds a sentence naming what failed (SQLite's own message included).
 * Output parameters are set only on success. Strings handed out are copies
 * the caller frees with the matching *_clear function.
 */
#ifndef VS_DB_H
#define VS_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_ERRNO_MAP(X)                                                  \
    X(NOMEM, "out of memory")                                            \
    X(IO, "the database could not be read or written")                  \
    X(BUSY, "the database is locked by another process")                \
    X(CORRUPT, "the database file is damaged or not a visitsync database") \
    X(TOONEW, "the database was made by a newer visitsync")             \
    X(NOTFOUND, "no such row")                                          \
    X(EXISTS, "a row with that id already exists")                      \
    X(CONSTRAINT, "the change breaks a rule of the store")              \
    X(MISUSE, "the store was called in a way it does not allow")        \
    X(TOOOLD, "the database must be migrated first: run visitsync init")

enum db_errno {
    DB_OK = 0,
    DB_ERRNO_FIRST_ = -200,
#define DB_ERRNO_ENUM(name, text) DB_E##name,
    DB_ERRNO_MAP(DB_ERRNO_ENUM)
#undef DB_ERRNO_ENUM
};

const char *db_strerror(int err);

struct db;

enum db_open_flags {
    DB_OPEN_CREATE = 1,   /* create the file if missing (init), mode 0600 */
    DB_OPEN_READONLY = 2, /* a reader connection: no migrations, no writes */
};

/*
 * Opens path (":memory:" for tests) in WAL mode with synchronous=FULL,
 * foreign keys on and a busy timeout, and migrates the schema to the
 * current version unless DB_OPEN_READONLY. On failure returns a DB_E*
 * code and, when errbuf is not NULL, a sentence in it. The caller owns *out.
 * Errors: DB_ENOTFOUND (no file and no DB_OPEN_CREATE, or READONLY),
 * DB_ECORRUPT (not a SQLite file), DB_ETOONEW (a newer schema), DB_ETOOOLD
 * (READONLY on a file that `visitsync init` must migrate first).
 */
int db_open(const char *path, int flags, struct db **out, char *errbuf, size_t errsize);
void db_close(struct db *db);

/* The last error's sentence for this connection (never NULL). */
const char *db_errmsg(const struct db *db);

/* The schema version this build migrates to, and the file's current one. */
int db_schema_version(void);
int db_user_version(struct db *db, int *out);

/* ---- administration (cli/) ---------------------------------------------- */

enum db_role { DB_ROLE_CADRE, DB_ROLE_SUPERVISOR, DB_ROLE_ADMIN };
const char *db_role_name(enum db_role role);
/* Parses "cadre"|"supervisor"|"admin"; -1 when unknown. */
int db_role_parse(const char *s);

int db_grid_add(struct db *db, const char *id, const char *name, int64_t now_ms);
/* 1 when the grid exists, 0 when not, or a DB_E* code. Same for users. */
int db_grid_exists(struct db *db, const char *id);
int db_user_exists(struct db *db, const char *id);

/* grids may be NULL/0: "all grids" (supervisor, admin). DB_EEXISTS, DB_ENOTFOUND (a grid). */
int db_user_add(struct db *db, const char *id, const char *name, enum db_role role,
                const char *const *grids, size_t n_grids, int64_t now_ms);

/* token_hash is the SHA-256 (32 bytes) of the token. DB_ENOTFOUND (user), DB_EEXISTS. */
int db_device_enroll(struct db *db, const char *device, const char *user,
                     const unsigned char token_hash[32], int64_t now_ms);
/* DB_ENOTFOUND when no such device. Revoking twice is not an error. */
int db_device_revoke(struct db *db, const char *device, int64_t now_ms);
/* A supervisor's or admin's token for the HTTP API and the monitor. */
int db_token_add(struct db *db, const char *user, const unsigned char token_hash[32],
                 int64_t now_ms);

/* ---- who is asking ------------------------------------------------------ */

/*
 * The grids a principal may see. all != 0: every grid (grids lists them
 * all for the welcome); otherwise exactly grids[0..n).
 */
struct db_scope {
    int all;
    char **grids;
    size_t n;
};

struct db_principal {
    char device[65]; /* "" for an API token */
    char user[65];
    enum db_role role;
    int revoked;
    unsigned char token_hash[32];
    int64_t max_seq; /* highest committed seq of the device */
    struct db_scope scope;
};

/*
 * Loads a device with its user's role and scope. DB_ENOTFOUND when the
 * device does not exist. The caller compares token hashes (constant time)
 * and checks revoked. Free with db_principal_clear.
 */
int db_device_load(struct db *db, const char *device, struct db_principal *out);
/* Loads the user behind an API token hash. DB_ENOTFOUND when unknown. */
int db_token_load(struct db *db, const unsigned char token_hash[32], struct db_principal *out);
void db_principal_clear(struct db_principal *p);

/* What a device's hello reported, kept for supervisors (§2.1). */
struct db_hello {
    const char *app;            /* NULL: keep */
    int64_t pending;            /* -1: keep */
    const char *oldest_pending; /* NULL: keep */
    int has_skew;
    int64_t clock_skew_ms;
};
int db_device_hello(struct db *db, const char *device, const struct db_hello *h, int64_t now_ms);

/*
 * What a device did last, for the status page: a push or a pull, and its
 * last error (NULL: none; this clears an error an earlier activity left).
 * DB_ENOTFOUND when no such device.
 */
enum db_activity { DB_ACTIVITY_PUSH, DB_ACTIVITY_PULL };
int db_device_note(struct db *db, const char *device, enum db_activity what, int64_t now_ms,
                   const char *last_error);

/*
 * Calls fn(ctx, device) for each device revoked at or after since_ms. The
 * server polls this every second so that a revoke made by the CLI (another
 * process) closes live connections at once.
 */
int db_devices_revoked_since(struct db *db, int64_t since_ms,
                             void (*fn)(void *ctx, const char *device), void *ctx);

/*
 * Whether a device is revoked, read now (not from a principal loaded at
 * hello): *revoked is 1 or 0. DB_ENOTFOUND when no such device. The writer
 * calls it inside its transaction before each push, so a revoke committed
 * by another process before that transaction began is always seen.
 */
int db_device_revoked(struct db *db, const char *device, int *revoked);

/* Highest committed seq of a device (0 for a new one). */
int db_device_max_seq(struct db *db, const char *device, int64_t *out);
int db_device_set_max_seq(struct db *db, const char *device, int64_t max_seq, int64_t now_ms);

/* ---- records, history, conflicts (sync/ calls these inside a job) -------- */

/*
 * What the store keeps of a visit beside its body (visit_facts, see
 * db/migrate.c step 4), from a caller that holds the fields already parsed,
 * so the write path does not parse the body again in SQL. Each member must
 * equal what the SQL would derive from the body: subject the text of a
 * string "subject" (NULL when absent or null), ms its "visited_at" read as
 * julianday() reads it (has_ms 0 when absent or unreadable), assist the
 * compact JSON of an "assistance" array (NULL when not an array), photos
 * the length of a "photos" array (0 when not an array), creator the user of
 * the device whose applied change creates the visit (NULL for any later
 * write: the stored creator stays).
 */
struct db_visit_facts {
    const char *subject;
    int64_t ms;
    int has_ms;
    const char *assist;
    size_t assist_len;
    int64_t photos;
    const char *creator;
};

struct db_record {
    char *collection;
    char *id;
    int64_t rev;
    char *grid;
    int deleted;
    char *body; /* compact JSON object of the current fields */
    size_t body_len;
    char *meta; /* per-field stamps, see protocol/proto_record.h */
    size_t meta_len;
    int64_t seq; /* the history id of the change that last wrote it: the pull cursor */
    /* A visit's facts when the caller has them; NULL: derived from body in SQL. */
    const struct db_visit_facts *facts;
};

/* DB_ENOTFOUND when the record does not exist. Free with db_record_clear. */
int db_record_get(struct db *db, const char *collection, const char *id, struct db_record *out);
/*
 * A record's rev and grid without its body: one primary-key lookup, no
 * allocation. grid (size bytes) gets the grid as a string. DB_ENOTFOUND
 * when the record does not exist, DB_ECORRUPT when its grid does not fit.
 * Output parameters are set only on success.
 */
int db_record_head(struct db *db, const char *collection, const char *id, int64_t *rev,
                   char *grid, size_t size);
/* Inserts or replaces the record (all columns as given). */
int db_record_put(struct db *db, const struct db_record *r);
void db_record_clear(struct db_record *r);

/* Outcomes kept in the history, one per change received. */
enum db_outcome { DB_APPLIED, DB_CONFLICT, DB_DUPLICATE, DB_REJECTED };

struct db_history {
    const char *device;
    int64_t seq;
    int64_t received_ms;
    const char *collection; /* may be NULL for a malformed change */
    const char *record_id;  /* may be NULL */
    const char *change;     /* the change as sent */
    size_t change_len;
    enum db_outcome outcome;
    int64_t rev;            /* the record's rev after the change, 0 if none */
    const char *error_code; /* rejected only */
    const char *error_field;
    const char *error_message;
    const char *left_grid;  /* the grid the record left with this change, else NULL */
};

/*
 * Appends one history row; *id is its id, which is also the change-feed
 * sequence number (monotonic: history is append-only).
 */
int db_history_add(struct db *db, const struct db_history *h, int64_t *id);

/* One candidate value of a conflicted field. */
struct db_candidate {
    const char *device;
    int64_t hlc_ms;
    int64_t hlc_counter;
    const char *value; /* compact JSON */
    int64_t history_id; /* the change that wrote it, 0 if unknown */
    const char *user;   /* the user of device (browsing only), NULL when not a known device */
    const char *user_name; /* that user's name (browsing only), NULL with user */
};

/*
 * Records that field of a record has two concurrent candidates: finds the
 * open conflict entry for (collection, record_id, field) or opens one, and
 * adds both candidates unless already listed.
 */
int db_conflict_add(struct db *db, const char *collection, const char *record_id,
                    const char *field, const struct db_candidate *stored,
                    const struct db_candidate *incoming, int64_t now_ms);

/* ---- the commit path ---------------------------------------------------- */

/*
 * Applies jobs[0..n) in one transaction (BEGIN IMMEDIATE), each inside its
 * own savepoint: apply(db, jobs[i]) returns 0 to keep the job's writes or
 * a negative code to roll back only that job (job_rc[i] gets the code).
 * Then COMMIT once. Returns 0 when the COMMIT succeeded (each job_rc[i]
 * tells its own outcome) or a DB_E* code when nothing was committed (every
 * job_rc[i] is set to it). Called by the one writer thread.
 */
typedef int (*db_apply_fn)(struct db *db, void *job);
int db_commit_group(struct db *db, db_apply_fn apply, void *const *jobs, size_t n, int *job_rc);

/*
 * For tests and single-job tools: BEGIN IMMEDIATE, COMMIT and ROLLBACK on
 * this connection. Return 0 or a DB_E* code (db_errmsg says why).
 * db_rollback is harmless when no transaction is open.
 */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* ---- reading: pull, export, cursor -------------------------------------- */

/* The newest change-feed sequence number (0 for an empty store). */
int db_cursor(struct db *db, int64_t *out);

/*
 * The store's epoch: 8 lower-case hex characters (32 random bits) made when
 * the store was created or first migrated to the schema that has one, kept
 * in table store_meta. A copy made by db_backup gets a new one, so the
 * cursors a restored store hands out (§2.4: "<id>-<epoch>") never pass for
 * the ones it handed out before the restore. Copies it into out (NUL
 * ended). Returns 0, DB_ECORRUPT when the stored value is not an epoch, or
 * another DB_E* code. The thread that owns db (pull.c).
 */
#define DB_EPOCH_SIZE 9
int db_epoch(struct db *db, char out[DB_EPOCH_SIZE]);

/*
 * One page of a pull (§2.4): records in scope changed after since, oldest
 * first, at most limit; plus records that left the scope after since
 * (removed). Calls row(ctx, r, removed) for each; r is valid only during
 * the call. *next is the cursor to pull from next, *more whether there is
 * more. A read transaction keeps the page consistent.
 * When a page is full and more follows, *next is the position of its last
 * row; otherwise it is the store's cursor (db_cursor), so an idle device
 * advances. A removed row is placed at the history id of the change that
 * took the record out of the scope (r->seq stays the record's own), so
 * paging with *next reports each removal exactly once; pulls from 0 carry
 * no removals. A non-zero return of row stops the pull and is returned.
 */
typedef int (*db_row_fn)(void *ctx, const struct db_record *r, int removed);
int db_pull(struct db *db, int64_t since, const struct db_scope *scope, int64_t limit,
            db_row_fn row, void *ctx, int64_t *next, int *more);

/*
 * Every current record of a collection in id order (export), deleted ones
 * included (r->deleted set); row(ctx, r, 0) as for db_pull, in one read
 * transaction. A non-zero return of row stops and is returned.
 */
int db_export(struct db *db, const char *collection, db_row_fn row, void *ctx);

/* ---- browsing the history and the conflict log (browse.c) --------------- */

/*
 * Keyset paging by id, oldest first, for the supervisors' dashboard and for
 * tests. Pass after_id 0 for the first page and then *next; *next is 0 when
 * the page reached the end. limit is 1..DB_BROWSE_MAX_LIMIT. A page is read
 * in one read transaction (or inside the caller's). fn(ctx, ...) sees
 * strings valid only during the call and must not use this connection; a
 * non-zero return of fn stops the page and is returned (*next is then not
 * set). Called by the thread that owns db; returns 0 or a DB_E* code.
 */
#define DB_BROWSE_MAX_LIMIT 1000

enum db_conflict_status { DB_CONFLICT_OPEN, DB_CONFLICT_RESOLVED, DB_CONFLICT_ANY };

/* One conflict entry and every candidate it lists. */
struct db_conflict {
    int64_t id;
    const char *collection;
    const char *record_id;
    const char *field;
    enum db_conflict_status status; /* DB_CONFLICT_OPEN or DB_CONFLICT_RESOLVED */
    int64_t created_ms;
    int64_t updated_ms;
    const char *resolved_by; /* NULL (and resolved_ms 0) while open, as are the next two */
    int64_t resolved_ms;
    const char *reason;
    const char *resolution;
    const char *grid; /* the record's current grid, NULL when the record does not exist */
    /* Ordered by (hlc_ms, hlc_counter, device): the last is the greatest stamp listed. */
    const struct db_candidate *candidates;
    size_t n_candidates;
    void *mem_; /* the storage behind db_conflict_get's strings; db_conflict_clear frees it */
};

/*
 * scope NULL (or all): every entry; otherwise only entries whose record
 * exists now in one of the scope's grids.
 */
typedef int (*db_conflict_fn)(void *ctx, const struct db_conflict *c);
int db_conflicts_page(struct db *db, enum db_conflict_status status,
                      const struct db_scope *scope, int64_t after_id, int64_t limit,
                      db_conflict_fn fn, void *ctx, int64_t *next);
/* One entry with its candidates; the caller owns *out (db_conflict_clear). DB_ENOTFOUND. */
int db_conflict_get(struct db *db, int64_t id, struct db_conflict *out);
void db_conflict_clear(struct db_conflict *c);
/* How many entries have that status (DB_CONFLICT_ANY: all) in scope (NULL: all). */
int db_conflicts_count(struct db *db, enum db_conflict_status status,
                       const struct db_scope *scope, int64_t *out);

/*
 * Closes an open entry: status resolved, with who (a user id), when, why
 * (reason, may be NULL) and the chosen value (resolution, compact JSON).
 * Writes nothing else; sync_resolve writes the value into the record.
 * Returns 0, DB_ENOTFOUND when there is no such entry, DB_EEXISTS when it
 * is already resolved (its resolution exists), or another DB_E* code.
 * The writer thread, inside its transaction.
 */
int db_conflict_resolve(struct db *db, int64_t id, const char *resolved_by, int64_t now_ms,
                        const char *reason, const char *resolution);

/* History rows, all devices' (device NULL) or one device's; h->change is the text as sent. */
typedef int (*db_history_fn)(void *ctx, int64_t id, const struct db_history *h);
int db_history_page(struct db *db, const char *device, int64_t after_id, int64_t limit,
                    db_history_fn fn, void *ctx, int64_t *next);

/* ---- supervisors' views (db/status.c) ---------------------------------- */

/*
 * One device as GET /api/status shows it. Strings are valid only during
 * the callback; NULL when unknown or never.
 */
struct db_device_status {
    const char *device;
    const char *user;
    const char *user_name;
    const char *const *grids; /* the user's grids */
    size_t n_grids;           /* 0: a user of every grid */
    int revoked;
    const char *app;            /* NULL: never said hello */
    int64_t pending;            /* -1: never reported */
    const char *oldest_pending; /* RFC 3339 as the device sent it, or NULL */
    int has_skew;
    int64_t clock_skew_ms;
    int64_t last_seen_ms, last_push_ms, last_pull_ms; /* 0: never */
    const char *last_error;
    int64_t created_ms;
    int64_t missing_photos; /* photos named by visits in scope whose photos field this device
                               set last, not uploaded yet */
};
typedef int (*db_device_status_fn)(void *ctx, const struct db_device_status *d);
/*
 * Every device whose user's grids meet scope (scope NULL or all: every
 * device; a user of every grid is seen only by an unlimited scope), in
 * device id order, one read transaction. A non-zero return of fn stops and
 * is returned. The thread that owns db (a reader).
 */
int db_devices_status(struct db *db, const struct db_scope *scope, db_device_status_fn fn,
                      void *ctx);

struct db_store_stats {
    int64_t cursor;         /* db_cursor */
    int64_t records;        /* current records in scope, deleted ones not counted */
    int64_t db_bytes;       /* the database file plus its WAL, in bytes */
    int64_t conflicts_open; /* open conflict entries whose record is in scope */
    /* photo references (visits.photos "sha256:<hex>") of records in scope whose photo is
     * not complete (table blobs) */
    int64_t missing_photos;
};
/*
 * The figures of GET /api/status and of the metrics for scope (NULL: all),
 * in one read transaction. A photo counts as missing once per visit that
 * names it. The counts come from indexes (migration step 4), and only the
 * visits that have photos are read. The thread that owns db; 0 or a DB_E*
 * code.
 */
int db_store_stats(struct db *db, const struct db_scope *scope, struct db_store_stats *out);

/*
 * Devices enrolled after a position (the devices table's rowid), for the
 * monitor's "enrolled" event. fn may be NULL (only *last is set: the
 * newest position). *last is the highest rowid seen, or after when none.
 */
/* The strings passed to fn are valid only during the call. The thread that owns db. */
typedef void (*db_enrolled_fn)(void *ctx, const char *device, const char *user);
int db_devices_enrolled_after(struct db *db, int64_t after, db_enrolled_fn fn, void *ctx,
                              int64_t *last);

/* ---- the programme report (db/report.c) -------------------------------- */

#define DB_REPORT_WEEKS 12
struct db_count {
    const char *key;
    int64_t n;
};
struct db_report_grid {
    const char *grid, *name;
    int64_t subjects, visited_30d, paired;
};
struct db_report_cadre {
    const char *user, *name;
    int64_t visits_30d;         /* visits (visited_at in the last 30 days) created by this
                                 * user's devices */
    int64_t visits;             /* all visits created by this user's devices */
    int64_t paired;             /* subjects whose cadre field is this user */
    int64_t paired_visited_30d; /* of those, visited (by anyone) in the last 30 days */
};
struct db_report {
    int64_t subjects; /* current, not deleted, in scope */
    struct db_count *by_status; /* subjects.status value -> n; key "" for none */
    size_t n_status;
    /* subjects.employment value -> n, for subjects whose status is not "completed"; key ""
     * for none */
    struct db_count *by_employment;
    size_t n_employment;
    int64_t eligible; /* status not "completed" (the placement rate's denominator) */
    struct db_report_grid *grids; /* every grid in scope, id order, also with 0 subjects */
    size_t n_grids;
    struct db_count *assistance; /* visits.assistance kind -> visits listing it (all time) */
    size_t n_assistance;
    struct db_count *assistance_30d; /* same, visits of the last 30 days */
    size_t n_assistance_30d;
    struct db_report_cadre *cadres; /* every cadre (role cadre) with a grid in scope, id order */
    size_t n_cadres;
    int64_t paired;      /* subjects with a non-empty cadre */
    int64_t visited_30d; /* subjects visited in the last 30 days */
    /* visits per 7-day window by visited_at: weeks[DB_REPORT_WEEKS-1] = (now-7d, now],
     * weeks[i-1] the 7 days before weeks[i] */
    int64_t weeks[DB_REPORT_WEEKS];
    void *mem_;
};
/*
 * Reads the figures of the records in scope (NULL: all) as of now_ms, in
 * one read transaction. A window "the last N days" is (now - N days, now],
 * by visited_at; a subject is visited when a current visit in scope names
 * it; who made a visit is the device that created the record. The visits
 * are read from their typed facts (visit_facts, kept by db_record_put),
 * not their JSON. The assistance lists hold the kinds that occur (n > 0),
 * in key order. The caller owns *out and frees it with db_report_clear
 * (harmless twice). The thread that owns db (a reader); 0 or a DB_E* code,
 * *out set only on success.
 */
int db_report(struct db *db, const struct db_scope *scope, int64_t now_ms, struct db_report *out);
void db_report_clear(struct db_report *r);

/* ---- WAL checkpoints (checkpoint.c) ------------------------------------ */

/*
 * One PASSIVE checkpoint on a read-write connection: copies the WAL pages no
 * reader still needs into the database file without waiting for anyone.
 * Sets *wal_pages / *done_pages (may be NULL) on success. Returns 0,
 * DB_EBUSY when another checkpoint was running (try later), DB_EMISUSE on a
 * read-only connection, or another DB_E* code. The thread that owns db.
 */
int db_checkpoint(struct db *db, int *wal_pages, int *done_pages);
/* The WAL size in pages at which this connection's COMMIT checkpoints by itself (0: never). */
int db_wal_autocheckpoint(struct db *db, int pages);

/* ---- backups (backup.c) --------------------------------------------------- */

/* Called after each step of a backup with the pages copied so far and the total. */
typedef void (*db_progress_fn)(void *ctx, int done_pages, int total_pages);

/*
 * Copies the store into a new file at path while other connections keep
 * committing: the copy is one consistent snapshot (a read transaction held
 * for the whole copy, which in WAL mode blocks no writer). The copy gets a
 * new epoch (db_epoch) that differs from this store's, which keeps its
 * own; copy_epoch (may be NULL) receives it. It is written as
 * "<path>.partial" with mode 0600, verified with PRAGMA integrity_check,
 * flushed to disk and then renamed over path, so path never holds a partial
 * copy. progress (may be NULL) is called after every step. Returns 0 or a
 * DB_E* code (db_errmsg names the file and what failed). The thread that
 * owns db; not inside another transaction of db's.
 */
int db_backup(struct db *db, const char *path, db_progress_fn progress, void *ctx,
              char copy_epoch[DB_EPOCH_SIZE]);

/* ---- photos (blob.c) ------------------------------------------------------ */

/*
 * Photos (§2.6) live in the store: an upload is one device's attempt at one
 * photo (sha256 as 64 lowercase hex), its bytes kept in order as they came;
 * when they are all there and hash to the sha256, the photo is complete and
 * granted to every grid of the device's cadre. Only the writer thread
 * writes them, each call inside its commit group; nothing is durable before
 * that group's COMMIT.
 */
#define DB_BLOB_MIME_MAX 100 /* characters of a mime kept (protocol/'s limit) */
#define DB_BLOB_MIME_DEFAULT "application/octet-stream"
/*
 * Uploads one device may leave unfinished. Each holds up to --max-blob
 * bytes for good (they are in every backup), so a tablet, or a stolen
 * token, cannot fill the disk with photos it never completes; a real
 * tablet has a handful at a time.
 */
#define DB_BLOB_OPEN_MAX 64

/* Where a device's upload of a photo stands. */
struct db_blob_state {
    int64_t size; /* the size the upload was offered with; the photo's when complete */
    int64_t have; /* leading bytes held durably (size when complete) */
    int complete;
    int too_many; /* nothing started: the device has DB_BLOB_OPEN_MAX unfinished uploads */
};

/*
 * A device offers a photo of size bytes (mime NULL: DB_BLOB_MIME_DEFAULT).
 * A complete photo granted to a grid of the device's cadre is complete at
 * once (no bytes needed); otherwise the device's own open upload resumes,
 * or starts again at 0 when size differs from the one it was offered
 * with, or a new one starts (unless the device already has
 * DB_BLOB_OPEN_MAX unfinished: too_many). An open upload of a photo that
 * is complete for the device already is dropped. Returns 0 with *out, or
 * a DB_E* code. The
 * writer thread, inside a job.
 */
int db_blob_offer(struct db *db, const char *device, const char *sha256, int64_t size,
                  const char *mime, int64_t now_ms, struct db_blob_state *out);

/* What became of a chunk. */
enum db_blob_verdict {
    DB_BLOB_STORED,     /* kept; have grew by its length */
    DB_BLOB_COMPLETED,  /* kept, the last one: the bytes verified, the photo is granted */
    DB_BLOB_NOT_OFFERED, /* the device has no open upload of the photo: nothing kept */
    DB_BLOB_BAD_OFFSET, /* the offset is not have: nothing kept */
    DB_BLOB_TOO_LONG,   /* offset + length is over the offered size: nothing kept */
    DB_BLOB_CORRUPT,    /* the last one, but the bytes hash to another sha256: the upload is gone */
};

struct db_blob_chunk_result {
    enum db_blob_verdict verdict;
    int64_t have; /* the bytes held after it (BAD_OFFSET: the offset expected; CORRUPT: 0) */
    int64_t size; /* the offered size (NOT_OFFERED: 0) */
    char got[65]; /* CORRUPT: what the bytes hash to, lowercase hex */
};

/*
 * Appends len bytes (1.. any; protocol/ caps a chunk) at offset to the
 * device's open upload of sha256. The last byte checks the SHA-256 of all
 * of them (read back in order) and either completes the photo (grants
 * included) or deletes the upload. data is not kept after the call.
 * Returns 0 with *out (refusals are verdicts, not errors), or a DB_E* code.
 * The writer thread, inside a job.
 */
int db_blob_chunk(struct db *db, const char *device, const char *sha256, int64_t offset,
                  const void *data, size_t len, int64_t now_ms, struct db_blob_chunk_result *out);

/* A complete photo as GET /blobs serves it. */
struct db_blob_info {
    int64_t size;
    char mime[DB_BLOB_MIME_MAX + 1];
};

/*
 * The complete photo sha256 when scope (NULL or all: every photo) holds a
 * grid it is granted to: 0 with *out; DB_ENOTFOUND when it does not exist,
 * is not complete, or is not visible (one answer, so that existence does
 * not leak). The thread that owns db.
 */
int db_blob_find(struct db *db, const char *sha256, const struct db_scope *scope,
                 struct db_blob_info *out);

/*
 * Hands the bytes [from, from + len) of the complete photo sha256 to fn in
 * order, in pieces (no more than a stored chunk each); a non-zero return
 * of fn stops and is returned. The range must lie inside the photo
 * (DB_EMISUSE otherwise); DB_ENOTFOUND when the photo is not complete.
 * One read transaction. The thread that owns db.
 */
typedef int (*db_blob_bytes_fn)(void *ctx, const void *bytes, size_t n);
int db_blob_read(struct db *db, const char *sha256, int64_t from, int64_t len,
                 db_blob_bytes_fn fn, void *ctx);

/*
 * The device whose token hashes to token_hash (a tablet fetching a photo
 * with its own token): its id into device, or DB_ENOTFOUND. The caller
 * loads it (db_device_load), compares the hash in constant time and checks
 * revoked. The thread that owns db.
 */
int db_blob_token_device(struct db *db, const unsigned char token_hash[32], char device[65]);

/* ---- the audit log (audit.c) -------------------------------------------- */

/*
 * Who did what, for every admin and supervisor act (device enroll and
 * revoke, token create, grid and user add, export, backup, a conflict's
 * resolution). Append-only: triggers refuse UPDATE and DELETE, so a row,
 * once committed, stays as written; it is in every backup.
 */
#define DB_AUDIT_DETAIL_MAX 200  /* characters of detail kept; the rest is cut */
#define DB_AUDIT_MAX_LIMIT 10000 /* the largest page db_audit_page reads */

struct db_audit {
    int64_t id;        /* ascending in the order the acts were recorded */
    int64_t at_ms;     /* when: ms since 1970-01-01 UTC, by the actor's clock */
    const char *actor; /* "cli:<OS user>" or a supervisor's user id */
    const char *act;   /* "device enroll", "resolve", ... */
    const char *target; /* the device, user, grid, conflict, collection or file; may be NULL */
    const char *detail; /* a short note (never a token); may be NULL */
};

/*
 * Appends one row. Call it inside the act's own transaction where the act
 * has one, so the act and its record commit together or not at all;
 * outside one it is its own transaction. detail longer than
 * DB_AUDIT_DETAIL_MAX characters is cut there (at a character boundary).
 * Returns 0 or a DB_E* code. The thread that owns db.
 */
int db_audit_add(struct db *db, int64_t at_ms, const char *actor, const char *act,
                 const char *target, const char *detail);

/*
 * Keyset paging by id, oldest first: the rows with id > after_id and
 * at_ms >= since_ms, at most limit (1..DB_AUDIT_MAX_LIMIT). fn sees strings
 * valid only during the call and must not use this connection; a non-zero
 * return stops the page and is returned (*next is then not set). *next is
 * the id to pass as after_id for the next page, 0 when this page reached
 * the end. One read transaction (or the caller's). The thread that owns db;
 * 0 or a DB_E* code.
 */
typedef int (*db_audit_fn)(void *ctx, const struct db_audit *a);
int db_audit_page(struct db *db, int64_t since_ms, int64_t after_id, int64_t limit,
                  db_audit_fn fn, void *ctx, int64_t *next);

#endif
