/* store.c -- the embedded SQLite store (store.h): schema and migrations,
 * claiming files by hash, saving a file's pages in one transaction, coding
 * results, the review queue's lease/decide/undo, the batch report.
 *
 * Every write that must be all-or-nothing runs inside BEGIN IMMEDIATE ...
 * COMMIT, so a kill -9 leaves the database as it was before the transaction
 * or after it. Every function that fails rolls back what it began.
 */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Prepared statements kept for reuse, by SQL text: a scan saves every file
 * and codes every respondent with the same few statements, and compiling
 * them again each time cost more than running them (~0.3 ms a file). */
#define STMT_CACHE 48

struct omr_store {
    sqlite3 *db;
    char host[256];
    int depth; /* nested omr_store_begin() calls: only the outermost one begins */
    struct {
        char *sql;
        sqlite3_stmt *st;
        int busy; /* handed out by prep(), not yet release()d */
    } cache[STMT_CACHE];
    int n_cache;
};

/* ---- the schema, by version: migrations[i] takes version i to i + 1 ---- */

static const char *const migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE batches(\n"
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,\n"
    "  options TEXT, pid INTEGER);\n"
    "CREATE TABLE files(\n"
    "  id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL, size INTEGER,\n"
    "  pages INTEGER, status TEXT NOT NULL CHECK(status IN ('processing','done')), error TEXT,\n"
    "  owner_pid INTEGER, owner_host TEXT, claimed TEXT, batch INTEGER REFERENCES batches(id));\n"
    "CREATE TABLE pages(\n"
    "  id INTEGER PRIMARY KEY, file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,\n"
    "  idx INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, payload TEXT, form TEXT,\n"
    "  page_number INTEGER, respondent TEXT, orientation INTEGER, dpi REAL, width INTEGER,\n"
    "  height INTEGER, xform TEXT, residual REAL, case_number INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE(file, idx));\n"
    "CREATE INDEX pages_respondent ON pages(form, respondent);\n"
    "CREATE TABLE regions(\n"
    "  page INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE, idx INTEGER NOT NULL,\n"
    "  var TEXT, kind TEXT, ink REAL, ink_label REAL, darkness REAL, score REAL, state INTEGER,\n"
    "  doubt INTEGER, has_ink INTEGER, digit INTEGER, digit_conf REAL,\n"
    "  PRIMARY KEY(page, idx)) WITHOUT ROWID;\n"
    "CREATE TABLE respondents(\n"
    "  form TEXT NOT NULL, respondent TEXT NOT NULL, dirty INTEGER NOT NULL DEFAULT 1,\n"
    "  complete INTEGER NOT NULL DEFAULT 0, n_cases INTEGER NOT NULL DEFAULT 0,\n"
    "  batch INTEGER REFERENCES batches(id), coded TEXT, PRIMARY KEY(form, respondent));\n"
    "CREATE TABLE responses(\n"
    "  form TEXT NOT NULL, respondent TEXT NOT NULL, case_number INTEGER NOT NULL, col INTEGER,\n"
    "  name TEXT NOT NULL, value TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK(status IN ('certain','review','resolved')),\n"
    "  PRIMARY KEY(form, respondent, case_number, name));\n"
    "CREATE TABLE review_items(\n"
    /* AUTOINCREMENT: re-coding deletes settled items; an id must never come
     * back naming another item while an operator has the old one on screen */
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,\n"
    "  source TEXT NOT NULL CHECK(source IN ('page','code')), current INTEGER NOT NULL DEFAULT 1,\n"
    "  reason INTEGER NOT NULL, form TEXT NOT NULL DEFAULT '', respondent TEXT NOT NULL DEFAULT '',\n"
    "  case_number INTEGER NOT NULL DEFAULT 0, page INTEGER REFERENCES pages(id) ON DELETE CASCADE,\n"
    "  question TEXT NOT NULL DEFAULT '', var TEXT NOT NULL DEFAULT '', proposal TEXT, detail TEXT,\n"
    "  state TEXT NOT NULL DEFAULT 'open' CHECK(state IN ('open','leased','resolved')),\n"
    "  lease_owner TEXT, lease_expires TEXT, created TEXT NOT NULL);\n"
    "CREATE INDEX review_items_respondent ON review_items(form, respondent);\n"
    "CREATE INDEX review_items_state ON review_items(state, id);\n"
    "CREATE TABLE decisions(\n"
    "  id INTEGER PRIMARY KEY, item INTEGER NOT NULL REFERENCES review_items(id) ON DELETE CASCADE,\n"
    "  operator TEXT NOT NULL, time TEXT NOT NULL, before TEXT, after TEXT,\n"
    "  undone INTEGER NOT NULL DEFAULT 0, undone_time TEXT, undone_by TEXT);\n"
    /* an item is decided at most once at a time: undo, then decide again */
    "CREATE UNIQUE INDEX decisions_live ON decisions(item) WHERE undone = 0;\n",
    /* 1 -> 2: the blank pages' sample masks kept between runs (sample.h
     * omr_sample_backing_t), by a key naming everything they depend on;
     * survey/form/page only to drop an older entry of the same page */
    "CREATE TABLE mask_cache(\n"
    "  key TEXT PRIMARY KEY, survey TEXT NOT NULL, form TEXT NOT NULL, page INTEGER NOT NULL,\n"
    "  data BLOB NOT NULL, created TEXT NOT NULL);\n",
    /* 2 -> 3: the survey and the fingerprint of its templates the store was
     * filled with (omr_store_bind_survey); one row */
    "CREATE TABLE survey_binding(\n"
    "  survey TEXT NOT NULL, fingerprint TEXT NOT NULL, bound TEXT NOT NULL);\n",
    /* 3 -> 4: the files a batch met and did not store (refused, or left
     * for the next run), for `omr status` the next morning
     * (omr_store_unstored_record); deferred 1 = left for the next run,
     * settled 1 = a later run stored the path or found it stored */
    "CREATE TABLE unstored_files(\n"
    "  batch INTEGER NOT NULL REFERENCES batches(id), path TEXT NOT NULL, deferred INTEGER NOT NULL,\n"
    "  reason TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(batch, path));\n"
    "CREATE INDEX unstored_files_path ON unstored_files(path);\n",
};
enum { N_MIGRATIONS = (int)(sizeof migrations / sizeof migrations[0]) };
_Static_assert(N_MIGRATIONS == OMR_STORE_SCHEMA_VERSION, "one migration per schema version");

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* ---- small helpers ---- */

static omr_status_t db_fail(omr_store_t *s, omr_error_t *err, const char *what)
{
    return omr_error_set(err, OMR_EIO, "store: %s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "no database");
}

static omr_status_t exec(omr_store_t *s, const char *sql, omr_error_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        omr_error_set(err, OMR_EIO, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return OMR_EIO;
    }
    return OMR_OK;
}

/* A statement for sql, reset and unbound: from the cache when one is free
 * (the same statement may be in use twice at once: then a new one), else
 * compiled, and kept while the cache has room. Give it back with
 * release(), never sqlite3_finalize(). NULL with *err on failure. */
static sqlite3_stmt *prep(omr_store_t *s, const char *sql, omr_error_t *err)
{
    for (int i = 0; i < s->n_cache; i++)
        if (!s->cache[i].busy && !strcmp(s->cache[i].sql, sql)) {
            s->cache[i].busy = 1;
            return s->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    if (st && s->n_cache < STMT_CACHE) {
        char *copy = strdup(sql);
        if (copy) {
            s->cache[s->n_cache].sql = copy;
            s->cache[s->n_cache].st = st;
            s->cache[s->n_cache].busy = 1;
            s->n_cache++;
        }
    }
    return st;
}

/* Done with a statement from prep() (or any other; NULL is fine): a cached
 * one is reset (its read lock released) and unbound for the next prep(),
 * others finalized. */
static void release(omr_store_t *s, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (int i = 0; i < s->n_cache; i++)
        if (s->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->cache[i].busy = 0;
            return;
        }
    sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *z)
{
    if (z)
        sqlite3_bind_text(st, i, z, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* A batch id, or NULL for none (0: tests, tools without a batch row). */
static void bind_batch(sqlite3_stmt *st, int i, long long batch)
{
    if (batch > 0)
        sqlite3_bind_int64(st, i, batch);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *z = sqlite3_column_text(st, i);
    return z ? (const char *)z : "";
}

/* Make room for element n of *pa (elem bytes each), doubling the capacity
 * *pcap from `first`. Returns 0, or -1 on out of memory (*pa unchanged). */
static int grow(void *pa, int *pcap, int n, size_t elem, int first)
{
    if (n < *pcap)
        return 0;
    int cap = *pcap ? 2 * *pcap : first;
    void *p = realloc(*(void **)pa, (size_t)cap * elem);
    if (!p)
        return -1;
    *(void **)pa = p;
    *pcap = cap;
    return 0;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Run a statement that returns no rows (or whose rows do not matter). */
static omr_status_t step_done(omr_store_t *s, sqlite3_stmt *st, omr_error_t *err, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OMR_OK : db_fail(s, err, what);
}

/* Rows a bulk insert stores per statement. SQLite's work per statement run
 * (the program's start and halt, the statement's own savepoint) was as much
 * as a row's own; one statement for this many rows, then one per row for
 * the rest, stores the same rows in the same order. */
#define ROWS_PER_INSERT 16

/* "head VALUES group,group,... tail" with `rows` groups, in buf (n bytes,
 * large enough: the callers' are; else the text is cut and fails to
 * prepare). */
static const char *multi_insert(char *buf, size_t n, const char *head, const char *group, int rows,
                                const char *tail)
{
    size_t k = (size_t)snprintf(buf, n, "%s VALUES ", head);
    for (int r = 0; r < rows && k < n; r++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", r ? "," : "", group);
    if (k < n)
        snprintf(buf + k, n - k, "%s", tail);
    return buf;
}

/* ---- open, close, transactions ---- */

static omr_status_t migrate(omr_store_t *s, omr_error_t *err)
{
    omr_status_t st;
    if ((st = omr_store_begin(s, err)))
        return st;
    if ((st = exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, applied TEXT NOT NULL)",
                   err)))
        goto fail;
    int v = omr_store_schema_version(s);
    if (v > OMR_STORE_SCHEMA_VERSION) {
        st = omr_error_set(err, OMR_EUNSUPPORTED,
                           "store: the database has schema version %d, this omr knows up to %d: use a newer omr", v,
                           OMR_STORE_SCHEMA_VERSION);
        goto fail;
    }
    for (; v < OMR_STORE_SCHEMA_VERSION; v++) {
        char sql[160];
        if ((st = exec(s, migrations[v], err)))
            goto fail;
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(%d, %s)", v + 1, NOW_SQL);
        if ((st = exec(s, sql, err)))
            goto fail;
    }
    return omr_store_commit(s, err);
fail:
    omr_store_rollback(s);
    return st;
}

omr_status_t omr_store_open(const char *path, omr_store_t **pstore, omr_error_t *err)
{
    *pstore = NULL;
    omr_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return omr_error_set(err, OMR_ENOMEM, "store: out of memory");
    if (gethostname(s->host, sizeof s->host - 1))
        strcpy(s->host, "localhost");
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        omr_error_set(err, OMR_EIO, "store %s: cannot open: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : "out of memory");
        omr_store_close(s);
        return OMR_EIO;
    }
    sqlite3_busy_timeout(s->db, 60000);
    omr_status_t st;
    /* WAL: readers (export, review) never block the scan's writers; NORMAL
     * sync is safe in WAL against a killed process (only power loss can undo
     * the last commits, never corrupt). */
    if ((st = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", err)) ||
        (st = migrate(s, err))) {
        omr_error_prefix(err, "%s: ", path);
        omr_store_close(s);
        return st;
    }
    *pstore = s;
    return OMR_OK;
}

void omr_store_close(omr_store_t *s)
{
    if (!s)
        return;
    if (s->db) {
        for (int i = 0; i < s->n_cache; i++) {
            sqlite3_finalize(s->cache[i].st);
            free(s->cache[i].sql);
        }
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    free(s);
}

sqlite3 *omr_store_db(omr_store_t *s) { return s->db; }

omr_status_t omr_store_bind_survey(omr_store_t *s, const char *survey_id, const char *fingerprint,
                                   omr_error_t *err)
{
    omr_status_t st = exec(s, "BEGIN IMMEDIATE", err);
    if (st)
        return st;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT survey, fingerprint, bound FROM survey_binding LIMIT 1", -1, &q, NULL) !=
        SQLITE_OK) {
        st = db_fail(s, err, "reading the survey binding");
        exec(s, "ROLLBACK", NULL);
        return st;
    }
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *sv = (const char *)sqlite3_column_text(q, 0), *fp = (const char *)sqlite3_column_text(q, 1);
        const char *when = (const char *)sqlite3_column_text(q, 2);
        if (strcmp(sv ? sv : "", survey_id))
            st = omr_error_set(err, OMR_EINPUT,
                               "this store holds survey %s, not %s: use a store of its own for each survey",
                               sv ? sv : "?", survey_id);
        else if (strcmp(fp ? fp : "", fingerprint))
            st = omr_error_set(err, OMR_EINPUT,
                               "this store was filled with other templates of survey %s (bound %s, fingerprint %.12s; "
                               "these are %.12s): their questions or regions differ, so the stored pages would be "
                               "read against the wrong boxes. Use the templates the store was made with, or scan "
                               "into a new store",
                               survey_id, when ? when : "?", fp ? fp : "?", fingerprint);
        sqlite3_finalize(q);
    } else if (rc == SQLITE_DONE) {
        sqlite3_finalize(q);
        if (sqlite3_prepare_v2(s->db, "INSERT INTO survey_binding VALUES(?, ?, " NOW_SQL ")", -1, &q, NULL) !=
                SQLITE_OK ||
            sqlite3_bind_text(q, 1, survey_id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_text(q, 2, fingerprint, -1, SQLITE_TRANSIENT) != SQLITE_OK || sqlite3_step(q) != SQLITE_DONE)
            st = db_fail(s, err, "binding the store to its survey");
        sqlite3_finalize(q);
    } else {
        sqlite3_finalize(q);
        st = db_fail(s, err, "reading the survey binding");
    }
    if (st) {
        exec(s, "ROLLBACK", NULL);
        return st;
    }
    return exec(s, "COMMIT", err);
}

int omr_store_schema_version(omr_store_t *s)
{
    sqlite3_stmt *st = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    release(s, st);
    return v;
}

omr_status_t omr_store_begin(omr_store_t *s, omr_error_t *err)
{
    if (s->depth++ > 0)
        return OMR_OK;
    omr_status_t st = exec(s, "BEGIN IMMEDIATE", err);
    if (st)
        s->depth = 0;
    return st;
}

omr_status_t omr_store_commit(omr_store_t *s, omr_error_t *err)
{
    if (s->depth <= 0 || sqlite3_get_autocommit(s->db)) {
        /* an inner step failed and rolled the whole transaction back */
        s->depth = 0;
        return omr_error_set(err, OMR_EIO, "store: the transaction was rolled back");
    }
    if (--s->depth > 0)
        return OMR_OK;
    omr_status_t st = exec(s, "COMMIT", err);
    if (st)
        omr_store_rollback(s);
    return st;
}

void omr_store_rollback(omr_store_t *s)
{
    if (!s || !s->db)
        return;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->depth = 0;
}

/* ---- batches ---- */

omr_status_t omr_store_batch_begin(omr_store_t *s, const char *name, const char *options, long long *pbatch,
                                   omr_error_t *err)
{
    *pbatch = 0;
    sqlite3_stmt *st = prep(s, "INSERT INTO batches(name, started, options, pid) VALUES(?, " NOW_SQL ", ?, ?)", err);
    if (!st)
        return OMR_EIO;
    bind_text(st, 1, name);
    bind_text(st, 2, options);
    sqlite3_bind_int64(st, 3, (long long)getpid());
    omr_status_t rc = step_done(s, st, err, "new batch");
    release(s, st);
    if (!rc)
        *pbatch = sqlite3_last_insert_rowid(s->db);
    return rc;
}

omr_status_t omr_store_batch_end(omr_store_t *s, long long batch, omr_error_t *err)
{
    sqlite3_stmt *st = prep(s, "UPDATE batches SET finished = " NOW_SQL " WHERE id = ?", err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, batch);
    omr_status_t rc = step_done(s, st, err, "end batch");
    release(s, st);
    return rc;
}

/* ---- files ---- */

/* Is a claim by (pid, host) still held by a running process? Only a claim
 * made on this host can be checked; others are trusted until stale. */
static int owner_alive(omr_store_t *s, long long pid, const char *host, int stale)
{
    if (strcmp(host, s->host))
        return !stale;
    if (pid <= 0)
        return 0;
    if (pid == (long long)getpid())
        return 1;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

omr_status_t omr_store_file_claim(omr_store_t *s, const char *sha, const char *path, long long size,
                                  long long batch, omr_claim_t *pclaim, long long *pfile, omr_error_t *err)
{
    *pclaim = OMR_CLAIM_BUSY;
    *pfile = 0;
    omr_status_t rc;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    sqlite3_stmt *st = prep(s,
                            "SELECT id, status, coalesce(owner_pid, 0), coalesce(owner_host, ''),"
                            " claimed < strftime('%Y-%m-%dT%H:%M:%fZ','now','-6 hours') FROM files WHERE sha256 = ?",
                            err);
    if (!st)
        goto fail;
    bind_text(st, 1, sha);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0), pid = sqlite3_column_int64(st, 2);
        int done = !strcmp(col_text(st, 1), "done"), stale = sqlite3_column_int(st, 4);
        char host[256];
        copy_str(host, sizeof host, col_text(st, 3));
        release(s, st);
        st = NULL;
        if (done) {
            *pclaim = OMR_CLAIM_DONE;
        } else if (!owner_alive(s, pid, host, stale)) {
            /* the owner died mid-file (kill -9, crash): nothing of its work
             * was committed but the claim, take it over */
            st = prep(s, "UPDATE files SET owner_pid = ?, owner_host = ?, claimed = " NOW_SQL ", batch = ?, path = ?"
                         " WHERE id = ?", err);
            if (!st)
                goto fail;
            sqlite3_bind_int64(st, 1, (long long)getpid());
            bind_text(st, 2, s->host);
            bind_batch(st, 3, batch);
            bind_text(st, 4, path);
            sqlite3_bind_int64(st, 5, id);
            if ((rc = step_done(s, st, err, "take over a stale claim")))
                goto fail_rc;
            *pclaim = OMR_CLAIM_TAKEN;
            *pfile = id;
        }
    } else if (r == SQLITE_DONE) {
        release(s, st);
        st = prep(s, "INSERT INTO files(sha256, path, size, status, owner_pid, owner_host, claimed, batch)"
                     " VALUES(?, ?, ?, 'processing', ?, ?, " NOW_SQL ", ?)", err);
        if (!st)
            goto fail;
        bind_text(st, 1, sha);
        bind_text(st, 2, path);
        sqlite3_bind_int64(st, 3, size);
        sqlite3_bind_int64(st, 4, (long long)getpid());
        bind_text(st, 5, s->host);
        bind_batch(st, 6, batch);
        if ((rc = step_done(s, st, err, "claim a file")))
            goto fail_rc;
        *pclaim = OMR_CLAIM_TAKEN;
        *pfile = sqlite3_last_insert_rowid(s->db);
    } else {
        db_fail(s, err, "look up a file");
        goto fail;
    }
    release(s, st);
    if ((rc = omr_store_commit(s, err))) {
        *pclaim = OMR_CLAIM_BUSY;
        *pfile = 0;
    }
    return rc;
fail:
    rc = OMR_EIO;
fail_rc:
    release(s, st);
    omr_store_rollback(s);
    *pclaim = OMR_CLAIM_BUSY;
    *pfile = 0;
    return rc;
}

omr_status_t omr_store_file_unclaim(omr_store_t *s, long long file, omr_error_t *err)
{
    sqlite3_stmt *st = prep(s, "DELETE FROM files WHERE id = ? AND status = 'processing'", err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, file);
    omr_status_t rc = step_done(s, st, err, "give back a claim");
    release(s, st);
    return rc;
}

static const char *const status_names[] = {"ok", "blank", "unreadable", "no_barcode", "unknown_survey",
                                           "unknown_page", "register_failed"};

const char *omr_store_page_status_name(omr_page_status_t status)
{
    if ((unsigned)status < sizeof status_names / sizeof status_names[0])
        return status_names[status];
    return "unknown";
}

static omr_page_status_t page_status_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (!strcmp(status_names[i], name))
            return (omr_page_status_t)i;
    return OMR_PAGE_UNREADABLE;
}

/* The review reason of a page that is neither OK nor BLANK. */
static omr_review_reason_t page_reason(omr_page_status_t status)
{
    switch (status) {
    case OMR_PAGE_NO_BARCODE:
        return OMR_REVIEW_NO_BARCODE;
    case OMR_PAGE_UNKNOWN_SURVEY:
    case OMR_PAGE_UNKNOWN_PAGE:
        return OMR_REVIEW_UNKNOWN_PAGE;
    case OMR_PAGE_REGISTER_FAILED:
        return OMR_REVIEW_REGISTER;
    default:
        return OMR_REVIEW_UNREADABLE;
    }
}

static const char *region_kind_name(omr_region_kind_t k)
{
    switch (k) {
    case OMR_REGION_CIRCLE:
        return "circle";
    case OMR_REGION_CHECK:
        return "check";
    case OMR_REGION_DIGIT:
        return "digit";
    case OMR_REGION_TEXT:
        return "text";
    }
    return "";
}

/* The template page a result was identified as, or NULL. */
static const omr_page_t *template_page(const omr_survey_t *survey, const omr_page_result_t *r)
{
    if (!survey || !r->form[0])
        return NULL;
    const omr_form_t *f = omr_template_form(survey, r->form);
    if (!f || r->page_number < 1 || r->page_number > f->n_pages)
        return NULL;
    return &f->pages[r->page_number - 1];
}

/* The natural key of a review item: what makes "the same item" across
 * re-coding. The page is named by its file hash and index, which are the
 * same in every run, unlike row ids. */
static void item_key(char *buf, size_t n, omr_review_reason_t reason, const char *form, const char *respondent,
                     int case_number, const char *page_ref, const char *question, const char *var)
{
    snprintf(buf, n, "%d|%s|%s|%d|%s|%s|%s", (int)reason, form, respondent, case_number, page_ref, question, var);
}

/* Bind one item's row to parameters o + 1 .. o + ITEM_COLS of an upsert. */
static void bind_item(sqlite3_stmt *st, int o, const char *source, omr_review_reason_t reason, const char *form,
                      const char *respondent, int case_number, long long page, const char *page_ref,
                      const char *question, const char *var, const char *proposal, const char *detail)
{
    char key[512];
    item_key(key, sizeof key, reason, form, respondent, case_number, page_ref, question, var);
    bind_text(st, o + 1, key);
    bind_text(st, o + 2, source);
    sqlite3_bind_int(st, o + 3, (int)reason);
    bind_text(st, o + 4, form);
    bind_text(st, o + 5, respondent);
    sqlite3_bind_int(st, o + 6, case_number);
    if (page > 0)
        sqlite3_bind_int64(st, o + 7, page);
    else
        sqlite3_bind_null(st, o + 7);
    bind_text(st, o + 8, question);
    bind_text(st, o + 9, var);
    bind_text(st, o + 10, proposal);
    bind_text(st, o + 11, detail);
}

static omr_status_t insert_item(omr_store_t *s, sqlite3_stmt *st, const char *source, omr_review_reason_t reason,
                                const char *form, const char *respondent, int case_number, long long page,
                                const char *page_ref, const char *question, const char *var, const char *proposal,
                                const char *detail, omr_error_t *err)
{
    sqlite3_reset(st);
    bind_item(st, 0, source, reason, form, respondent, case_number, page, page_ref, question, var, proposal, detail);
    return step_done(s, st, err, "save a review item");
}

/* Upsert by key: a known item keeps its id, state and decisions. The
 * statement's parts, for a bulk insert of items (ITEM_COLS parameters a
 * row). */
#define ITEM_UPSERT_HEAD                                                                                   \
    "INSERT INTO review_items(key, source, reason, form, respondent, case_number, page, question, var,"   \
    " proposal, detail, created)"
#define ITEM_UPSERT_GROUP "(?,?,?,?,?,?,?,?,?,?,?, " NOW_SQL ")"
#define ITEM_UPSERT_TAIL                                                                                   \
    " ON CONFLICT(key) DO UPDATE SET current = 1, page = excluded.page, proposal = excluded.proposal,"   \
    " detail = excluded.detail"
#define ITEM_UPSERT_SQL ITEM_UPSERT_HEAD " VALUES " ITEM_UPSERT_GROUP ITEM_UPSERT_TAIL
#define ITEM_COLS 11

/* Columns of a regions row. */
#define REGION_COLS 13

/* ins_region stores one region row, ins_regions ROWS_PER_INSERT of them. */
static omr_status_t save_page(omr_store_t *s, long long file, const char *sha, const omr_survey_t *survey,
                              const omr_page_result_t *r, sqlite3_stmt *ins_page, sqlite3_stmt *ins_region,
                              sqlite3_stmt *ins_regions, sqlite3_stmt *ins_item, sqlite3_stmt *mark_dirty,
                              omr_error_t *err)
{
    omr_status_t rc;
    char xform[200];
    snprintf(xform, sizeof xform, "[%.17g,%.17g,%.17g,%.17g,%.17g,%.17g]", r->xform[0], r->xform[1], r->xform[2],
             r->xform[3], r->xform[4], r->xform[5]);
    sqlite3_reset(ins_page);
    sqlite3_bind_int64(ins_page, 1, file);
    sqlite3_bind_int(ins_page, 2, r->index_in_file);
    bind_text(ins_page, 3, omr_store_page_status_name(r->status));
    bind_text(ins_page, 4, r->reason);
    bind_text(ins_page, 5, r->payload);
    bind_text(ins_page, 6, r->form);
    sqlite3_bind_int(ins_page, 7, r->page_number);
    bind_text(ins_page, 8, r->respondent);
    sqlite3_bind_int(ins_page, 9, r->orientation);
    sqlite3_bind_double(ins_page, 10, r->dpi);
    sqlite3_bind_int(ins_page, 11, r->width);
    sqlite3_bind_int(ins_page, 12, r->height);
    bind_text(ins_page, 13, xform);
    sqlite3_bind_double(ins_page, 14, r->residual_mm);
    if ((rc = step_done(s, ins_page, err, "save a page")))
        return rc;
    long long page = sqlite3_last_insert_rowid(s->db);

    const omr_page_t *tp = template_page(survey, r);
    const int n_regions = r->regions ? r->n_regions : 0;
    for (int i = 0; i < n_regions;) {
        /* ROWS_PER_INSERT regions a statement while that many are left */
        sqlite3_stmt *st = n_regions - i >= ROWS_PER_INSERT ? ins_regions : ins_region;
        int rows = st == ins_regions ? ROWS_PER_INSERT : 1;
        sqlite3_reset(st);
        for (int k = 0; k < rows; k++, i++) {
            const omr_region_result_t *g = &r->regions[i];
            const omr_region_t *tr = tp && i < tp->n_regions ? &tp->regions[i] : NULL;
            const int o = k * REGION_COLS;
            sqlite3_bind_int64(st, o + 1, page);
            sqlite3_bind_int(st, o + 2, i);
            bind_text(st, o + 3, tr ? tr->var : NULL);
            bind_text(st, o + 4, tr ? region_kind_name(tr->kind) : NULL);
            sqlite3_bind_double(st, o + 5, g->m.ink);
            sqlite3_bind_double(st, o + 6, g->m.ink_label);
            sqlite3_bind_double(st, o + 7, g->m.darkness);
            sqlite3_bind_double(st, o + 8, g->m.score);
            sqlite3_bind_int(st, o + 9, (int)g->state);
            sqlite3_bind_int(st, o + 10, (int)g->doubt);
            sqlite3_bind_int(st, o + 11, g->has_ink);
            sqlite3_bind_int(st, o + 12, g->digit);
            sqlite3_bind_double(st, o + 13, g->digit_conf);
        }
        if ((rc = step_done(s, st, err, "save a region")))
            return rc;
    }

    if (r->status != OMR_PAGE_OK && r->status != OMR_PAGE_BLANK) {
        char ref[100];
        snprintf(ref, sizeof ref, "%s:%d", sha, r->index_in_file);
        if ((rc = insert_item(s, ins_item, "page", page_reason(r->status), r->form, r->respondent, 0, page, ref, "",
                              "", "", r->reason, err)))
            return rc;
    }
    if (r->status != OMR_PAGE_BLANK && r->form[0] && r->respondent[0]) {
        sqlite3_reset(mark_dirty);
        bind_text(mark_dirty, 1, r->form);
        bind_text(mark_dirty, 2, r->respondent);
        if ((rc = step_done(s, mark_dirty, err, "mark a respondent for coding")))
            return rc;
    }
    return OMR_OK;
}

omr_status_t omr_store_file_save(omr_store_t *s, long long file, const omr_survey_t *survey,
                                 const omr_page_result_t *pages, int n, int n_pages_in_file, const char *file_error,
                                 omr_error_t *err)
{
    omr_status_t rc;
    sqlite3_stmt *q = NULL, *ins_page = NULL, *ins_region = NULL, *ins_regions = NULL, *ins_item = NULL;
    sqlite3_stmt *mark_dirty = NULL;
    char sql[ROWS_PER_INSERT * (2 * REGION_COLS + 2) + 64];
    char sha[65] = "";
    if ((rc = omr_store_begin(s, err)))
        return rc;
    rc = OMR_EIO;
    if (!(q = prep(s, "SELECT sha256, status FROM files WHERE id = ?", err)))
        goto done;
    sqlite3_bind_int64(q, 1, file);
    if (sqlite3_step(q) != SQLITE_ROW || strcmp(col_text(q, 1), "processing")) {
        rc = omr_error_set(err, OMR_EINPUT, "store: file %lld is not claimed", file);
        goto done;
    }
    copy_str(sha, sizeof sha, col_text(q, 0));
    release(s, q);
    /* nothing should be there (saving is all-or-nothing), but a file is
     * stored exactly once whatever happened before */
    q = prep(s, "DELETE FROM pages WHERE file = ?", err);
    if (!q)
        goto done;
    sqlite3_bind_int64(q, 1, file);
    if ((rc = step_done(s, q, err, "clear pages")))
        goto done;
    rc = OMR_EIO;
    if (!(ins_page = prep(s, "INSERT INTO pages(file, idx, status, reason, payload, form, page_number, respondent,"
                             " orientation, dpi, width, height, xform, residual) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          err)) ||
        !(ins_region = prep(s, "INSERT INTO regions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", err)) ||
        !(ins_regions = prep(s, multi_insert(sql, sizeof sql, "INSERT INTO regions", "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                             ROWS_PER_INSERT, ""),
                             err)) ||
        !(ins_item = prep(s, ITEM_UPSERT_SQL, err)) ||
        !(mark_dirty = prep(s, "INSERT INTO respondents(form, respondent, dirty) VALUES(?, ?, 1)"
                               " ON CONFLICT DO UPDATE SET dirty = 1", err)))
        goto done;
    for (int i = 0; i < n; i++)
        if ((rc = save_page(s, file, sha, survey, &pages[i], ins_page, ins_region, ins_regions, ins_item, mark_dirty,
                            err)))
            goto done;
    release(s, q);
    rc = OMR_EIO;
    if (!(q = prep(s, "UPDATE files SET status = 'done', pages = ?, error = ?, owner_pid = NULL WHERE id = ?", err)))
        goto done;
    sqlite3_bind_int(q, 1, n_pages_in_file > n ? n_pages_in_file : n);
    bind_text(q, 2, file_error);
    sqlite3_bind_int64(q, 3, file);
    if ((rc = step_done(s, q, err, "finish a file")))
        goto done;
    rc = OMR_OK;
done:
    release(s, q);
    release(s, ins_page);
    release(s, ins_region);
    release(s, ins_regions);
    release(s, ins_item);
    release(s, mark_dirty);
    if (rc) {
        omr_store_rollback(s);
        return rc;
    }
    return omr_store_commit(s, err);
}

/* ---- respondents and coding ---- */

omr_status_t omr_store_dirty_respondents(omr_store_t *s, omr_store_key_t **pkeys, int *pn, omr_error_t *err)
{
    *pkeys = NULL;
    *pn = 0;
    sqlite3_stmt *st = prep(s, "SELECT form, respondent FROM respondents WHERE dirty ORDER BY form, respondent", err);
    if (!st)
        return OMR_EIO;
    omr_store_key_t *keys = NULL;
    int n = 0, cap = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow(&keys, &cap, n, sizeof *keys, 64)) {
            free(keys);
            release(s, st);
            return omr_error_set(err, OMR_ENOMEM, "store: out of memory");
        }
        copy_str(keys[n].form, sizeof keys[n].form, col_text(st, 0));
        copy_str(keys[n].respondent, sizeof keys[n].respondent, col_text(st, 1));
        n++;
    }
    release(s, st);
    if (r != SQLITE_DONE) {
        free(keys);
        return db_fail(s, err, "list respondents to code");
    }
    *pkeys = keys;
    *pn = n;
    return OMR_OK;
}

void omr_store_pages_free(omr_page_result_t *pages, int n)
{
    for (int i = 0; pages && i < n; i++)
        omr_page_result_clear(&pages[i]);
    free(pages);
}

static omr_status_t load_regions(omr_store_t *s, sqlite3_stmt *st, long long page, omr_page_result_t *r,
                                 omr_error_t *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, page);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = sqlite3_column_int(st, 0);
        if (i < 0 || i > 100000)
            continue;
        if (i >= r->n_regions) {
            omr_region_result_t *g = realloc(r->regions, (size_t)(i + 1) * sizeof *g);
            if (!g)
                return omr_error_set(err, OMR_ENOMEM, "store: out of memory");
            memset(g + r->n_regions, 0, (size_t)(i + 1 - r->n_regions) * sizeof *g);
            r->regions = g;
            r->n_regions = i + 1;
        }
        omr_region_result_t *g = &r->regions[i];
        g->m.ink = (float)sqlite3_column_double(st, 1);
        g->m.ink_label = (float)sqlite3_column_double(st, 2);
        g->m.darkness = (float)sqlite3_column_double(st, 3);
        g->m.score = (float)sqlite3_column_double(st, 4);
        g->state = (omr_mark_state_t)sqlite3_column_int(st, 5);
        g->doubt = (unsigned)sqlite3_column_int(st, 6);
        g->has_ink = sqlite3_column_int(st, 7);
        g->digit = sqlite3_column_int(st, 8);
        g->digit_conf = (float)sqlite3_column_double(st, 9);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OMR_OK : db_fail(s, err, "load regions");
}

omr_status_t omr_store_load_pages(omr_store_t *s, const char *form, const char *respondent,
                                  omr_page_result_t **ppages, long long **pids, int *pn, omr_error_t *err)
{
    *ppages = NULL;
    *pids = NULL;
    *pn = 0;
    omr_status_t rc = OMR_EIO;
    omr_page_result_t *pages = NULL;
    long long *ids = NULL;
    int n = 0, cap = 0, r;
    sqlite3_stmt *reg = NULL,
                 *st = prep(s,
                            "SELECT p.id, f.path, f.sha256, p.idx, p.status, p.reason, p.payload, p.form,"
                            " p.page_number, p.respondent, p.orientation, p.dpi, p.width, p.height, p.xform,"
                            " p.residual FROM pages p JOIN files f ON f.id = p.file"
                            " WHERE p.form = ? AND p.respondent = ? AND p.status != 'blank' AND f.status = 'done'"
                            /* a page an operator threw out (its page-level item decided
                             * reject or duplicate) is no page of the respondent's any
                             * more: the coder then sees it missing. Only pages that were
                             * not read have page-level items: the OR spares the lookup
                             * for the others. */
                            " AND (p.status = 'ok' OR NOT EXISTS (SELECT 1 FROM review_items i JOIN decisions d"
                            "   ON d.item = i.id AND d.undone = 0 WHERE i.page = p.id AND i.source = 'page'"
                            "   AND d.after IN ('reject', 'duplicate')))"
                            " ORDER BY f.path, f.sha256, p.idx",
                            err);
    if (!st || !(reg = prep(s, "SELECT idx, ink, ink_label, darkness, score, state, doubt, has_ink, digit,"
                               " digit_conf FROM regions WHERE page = ? ORDER BY idx", err)))
        goto done;
    bind_text(st, 1, form);
    bind_text(st, 2, respondent);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int cap_ids = cap; /* pages[] and ids[] grow together */
        if (grow(&pages, &cap, n, sizeof *pages, 16) || grow(&ids, &cap_ids, n, sizeof *ids, 16)) {
            rc = omr_error_set(err, OMR_ENOMEM, "store: out of memory");
            goto done;
        }
        omr_page_result_t *pr = &pages[n];
        memset(pr, 0, sizeof *pr);
        ids[n] = sqlite3_column_int64(st, 0);
        n++;
        copy_str(pr->file, sizeof pr->file, col_text(st, 1));
        copy_str(pr->file_hash, sizeof pr->file_hash, col_text(st, 2));
        pr->index_in_file = sqlite3_column_int(st, 3);
        pr->status = page_status_from_name(col_text(st, 4));
        copy_str(pr->reason, sizeof pr->reason, col_text(st, 5));
        copy_str(pr->payload, sizeof pr->payload, col_text(st, 6));
        copy_str(pr->form, sizeof pr->form, col_text(st, 7));
        pr->page_number = sqlite3_column_int(st, 8);
        copy_str(pr->respondent, sizeof pr->respondent, col_text(st, 9));
        pr->orientation = sqlite3_column_int(st, 10);
        pr->dpi = sqlite3_column_double(st, 11);
        pr->width = sqlite3_column_int(st, 12);
        pr->height = sqlite3_column_int(st, 13);
        double *x = pr->xform;
        if (sscanf(col_text(st, 14), "[%lf,%lf,%lf,%lf,%lf,%lf]", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) != 6)
            memset(pr->xform, 0, sizeof pr->xform);
        pr->residual_mm = sqlite3_column_double(st, 15);
        if ((rc = load_regions(s, reg, ids[n - 1], pr, err)))
            goto done;
        rc = OMR_EIO;
    }
    if (r != SQLITE_DONE) {
        db_fail(s, err, "load pages");
        goto done;
    }
    rc = OMR_OK;
done:
    release(s, st);
    release(s, reg);
    if (rc) {
        omr_store_pages_free(pages, n);
        free(ids);
        return rc;
    }
    *ppages = pages;
    *pids = ids;
    *pn = n;
    return OMR_OK;
}

omr_status_t omr_store_decisions(omr_store_t *s, const char *form, const char *respondent,
                                 omr_store_decision_t **pdec, int *pn, omr_error_t *err)
{
    *pdec = NULL;
    *pn = 0;
    sqlite3_stmt *st = prep(s,
                            "SELECT i.id, i.reason, i.case_number, coalesce(i.page, 0), i.question, i.var, d.after"
                            " FROM decisions d JOIN review_items i ON i.id = d.item"
                            " WHERE d.undone = 0 AND i.form = ? AND i.respondent = ? ORDER BY i.id",
                            err);
    if (!st)
        return OMR_EIO;
    bind_text(st, 1, form);
    bind_text(st, 2, respondent);
    omr_store_decision_t *d = NULL;
    int n = 0, cap = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow(&d, &cap, n, sizeof *d, 8)) {
            free(d);
            release(s, st);
            return omr_error_set(err, OMR_ENOMEM, "store: out of memory");
        }
        omr_store_decision_t *x = &d[n++];
        memset(x, 0, sizeof *x);
        x->item = sqlite3_column_int64(st, 0);
        x->reason = (omr_review_reason_t)sqlite3_column_int(st, 1);
        x->case_number = sqlite3_column_int(st, 2);
        x->page = sqlite3_column_int64(st, 3);
        copy_str(x->question, sizeof x->question, col_text(st, 4));
        copy_str(x->var, sizeof x->var, col_text(st, 5));
        copy_str(x->after, sizeof x->after, col_text(st, 6));
    }
    release(s, st);
    if (r != SQLITE_DONE) {
        free(d);
        return db_fail(s, err, "load decisions");
    }
    *pdec = d;
    *pn = n;
    return OMR_OK;
}

static const char *value_status_name(omr_value_status_t v)
{
    return v == OMR_VALUE_REVIEW ? "review" : v == OMR_VALUE_RESOLVED ? "resolved" : "certain";
}

/* "hash:index" of a page row, the page part of an item key; "" for none. */
static void page_ref(omr_store_t *s, sqlite3_stmt *st, long long page, char *buf, size_t n)
{
    buf[0] = 0;
    if (page <= 0)
        return;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, page);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(buf, n, "%s:%d", col_text(st, 0), sqlite3_column_int(st, 1));
    sqlite3_reset(st);
    (void)s;
}

/* Bind form and respondent as ?1, ?2 and run. */
static omr_status_t run2(omr_store_t *s, const char *sql, const char *form, const char *respondent,
                         omr_error_t *err)
{
    sqlite3_stmt *st = prep(s, sql, err);
    if (!st)
        return OMR_EIO;
    bind_text(st, 1, form);
    bind_text(st, 2, respondent);
    omr_status_t rc = step_done(s, st, err, "update coding");
    release(s, st);
    return rc;
}

omr_status_t omr_store_save_coding(omr_store_t *s, const char *form, const char *respondent, long long batch,
                                   const omr_store_value_t *values, int n_values, const omr_store_item_t *items,
                                   int n_items, const long long *page_ids, const int *page_case, int n_pages,
                                   omr_error_t *err)
{
    omr_status_t rc;
    sqlite3_stmt *ins = NULL, *ins_many = NULL, *ref = NULL, *up = NULL;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    if ((rc = run2(s, "DELETE FROM responses WHERE form = ?1 AND respondent = ?2", form, respondent, err)) ||
        (rc = run2(s, "UPDATE review_items SET current = 0 WHERE form = ?1 AND respondent = ?2 AND source = 'code'",
                   form, respondent, err)))
        goto done;
    rc = OMR_EIO;
    char sql[ROWS_PER_INSERT * 16 + 64];
    if (!(ins = prep(s, "INSERT OR REPLACE INTO responses VALUES(?,?,?,?,?,?,?)", err)) ||
        !(ins_many = prep(s, multi_insert(sql, sizeof sql, "INSERT OR REPLACE INTO responses", "(?,?,?,?,?,?,?)",
                                          ROWS_PER_INSERT, ""),
                          err)))
        goto done;
    int max_case = 0;
    for (int i = 0; i < n_values;) {
        /* ROWS_PER_INSERT values a statement while that many are left */
        sqlite3_stmt *st = n_values - i >= ROWS_PER_INSERT ? ins_many : ins;
        int rows = st == ins_many ? ROWS_PER_INSERT : 1;
        sqlite3_reset(st);
        for (int k = 0; k < rows; k++, i++) {
            const omr_store_value_t *v = &values[i];
            const int o = 7 * k;
            bind_text(st, o + 1, form);
            bind_text(st, o + 2, respondent);
            sqlite3_bind_int(st, o + 3, v->case_number);
            sqlite3_bind_int(st, o + 4, v->col);
            bind_text(st, o + 5, v->name);
            bind_text(st, o + 6, v->value ? v->value : "");
            bind_text(st, o + 7, value_status_name(v->status));
            if (v->case_number > max_case)
                max_case = v->case_number;
        }
        if ((rc = step_done(s, st, err, "save a response")))
            goto done;
    }
    release(s, ins);
    release(s, ins_many);
    ins_many = NULL;
    rc = OMR_EIO;
    char isql[ROWS_PER_INSERT * (sizeof ITEM_UPSERT_GROUP + 1) + sizeof ITEM_UPSERT_HEAD + sizeof ITEM_UPSERT_TAIL + 16];
    if (!(ins = prep(s, ITEM_UPSERT_SQL, err)) ||
        !(ins_many = prep(s, multi_insert(isql, sizeof isql, ITEM_UPSERT_HEAD, ITEM_UPSERT_GROUP, ROWS_PER_INSERT,
                                          ITEM_UPSERT_TAIL),
                          err)) ||
        !(ref = prep(s, "SELECT f.sha256, p.idx FROM pages p JOIN files f ON f.id = p.file WHERE p.id = ?", err)))
        goto done;
    for (int i = 0; i < n_items;) {
        /* ROWS_PER_INSERT items a statement while that many are left */
        sqlite3_stmt *st = n_items - i >= ROWS_PER_INSERT ? ins_many : ins;
        int rows = st == ins_many ? ROWS_PER_INSERT : 1;
        sqlite3_reset(st);
        for (int k = 0; k < rows; k++, i++) {
            const omr_store_item_t *it = &items[i];
            char pr[100];
            page_ref(s, ref, it->page, pr, sizeof pr);
            bind_item(st, k * ITEM_COLS, "code", it->reason, form, respondent, it->case_number, it->page, pr,
                      it->question ? it->question : "", it->var ? it->var : "", it->proposal, it->detail);
        }
        if ((rc = step_done(s, st, err, "save a review item")))
            goto done;
    }
    /* items the coder no longer raises go, unless an operator ever decided
     * them: a decision, undone or not, stays in the history with its item */
    if ((rc = run2(s, "DELETE FROM review_items WHERE form = ?1 AND respondent = ?2 AND source = 'code'"
                      " AND current = 0 AND NOT EXISTS (SELECT 1 FROM decisions d"
                      " WHERE d.item = review_items.id)",
                   form, respondent, err)))
        goto done;
    rc = OMR_EIO;
    if (!(up = prep(s, "UPDATE pages SET case_number = ? WHERE id = ?", err)))
        goto done;
    for (int i = 0; page_ids && page_case && i < n_pages; i++) {
        sqlite3_reset(up);
        sqlite3_bind_int(up, 1, page_case[i]);
        sqlite3_bind_int64(up, 2, page_ids[i]);
        if ((rc = step_done(s, up, err, "save case numbers")))
            goto done;
    }
    release(s, up);
    rc = OMR_EIO;
    if (!(up = prep(s,
                    "INSERT INTO respondents(form, respondent, dirty, complete, n_cases, batch, coded)"
                    " VALUES(?1, ?2, 0, NOT EXISTS (SELECT 1 FROM responses WHERE form = ?1 AND respondent = ?2"
                    "   AND status = 'review') AND NOT EXISTS (SELECT 1 FROM review_items WHERE form = ?1"
                    "   AND respondent = ?2 AND state != 'resolved' AND current = 1),"
                    " ?3, ?4, " NOW_SQL ")"
                    " ON CONFLICT DO UPDATE SET dirty = 0, complete = excluded.complete,"
                    " n_cases = excluded.n_cases, batch = excluded.batch, coded = excluded.coded",
                    err)))
        goto done;
    bind_text(up, 1, form);
    bind_text(up, 2, respondent);
    sqlite3_bind_int(up, 3, max_case);
    bind_batch(up, 4, batch);
    rc = step_done(s, up, err, "save respondent");
done:
    release(s, ins);
    release(s, ins_many);
    release(s, ref);
    release(s, up);
    if (rc) {
        omr_store_rollback(s);
        return rc;
    }
    return omr_store_commit(s, err);
}

/* ---- the review queue ---- */

omr_status_t omr_store_item_lease(omr_store_t *s, const char *owner, int seconds, long long *pitem,
                                  omr_error_t *err)
{
    *pitem = 0;
    omr_status_t rc;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    sqlite3_stmt *st = prep(s,
                            "SELECT id FROM review_items WHERE current = 1 AND (state = 'open' OR (state = 'leased'"
                            " AND lease_expires < " NOW_SQL ")) ORDER BY id LIMIT 1",
                            err);
    rc = OMR_EIO;
    if (!st)
        goto done;
    int r = sqlite3_step(st);
    long long id = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    release(s, st);
    st = NULL;
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        db_fail(s, err, "lease an item");
        goto done;
    }
    if (id) {
        char mod[32];
        snprintf(mod, sizeof mod, "+%d seconds", seconds > 0 ? seconds : 1);
        if (!(st = prep(s, "UPDATE review_items SET state = 'leased', lease_owner = ?,"
                           " lease_expires = strftime('%Y-%m-%dT%H:%M:%fZ','now', ?) WHERE id = ?", err)))
            goto done;
        bind_text(st, 1, owner);
        bind_text(st, 2, mod);
        sqlite3_bind_int64(st, 3, id);
        if ((rc = step_done(s, st, err, "lease an item")))
            goto done;
    }
    rc = OMR_OK;
    *pitem = id;
done:
    release(s, st);
    if (rc) {
        omr_store_rollback(s);
        *pitem = 0;
        return rc;
    }
    return omr_store_commit(s, err);
}

/* Run sql with ?1 = item inside the caller's transaction. */
static omr_status_t run_item(omr_store_t *s, const char *sql, long long item, const char *text, omr_error_t *err)
{
    sqlite3_stmt *st = prep(s, sql, err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, item);
    if (sqlite3_bind_parameter_count(st) >= 2)
        bind_text(st, 2, text);
    omr_status_t rc = step_done(s, st, err, "update the review queue");
    release(s, st);
    return rc;
}

#define DIRTY_OF_ITEM_SQL                                                                                  \
    "UPDATE respondents SET dirty = 1 WHERE (form, respondent) IN"                                        \
    " (SELECT form, respondent FROM review_items WHERE id = ?1)"

omr_status_t omr_store_item_decide(omr_store_t *s, long long item, const char *operator_name, const char *after,
                                   omr_error_t *err)
{
    omr_status_t rc;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    sqlite3_stmt *st = prep(s, "SELECT state FROM review_items WHERE id = ?", err);
    if (!st) {
        rc = OMR_EIO;
        goto done;
    }
    sqlite3_bind_int64(st, 1, item);
    if (sqlite3_step(st) != SQLITE_ROW)
        rc = omr_error_set(err, OMR_EINPUT, "review item %lld does not exist", item);
    else if (!strcmp(col_text(st, 0), "resolved"))
        rc = omr_error_set(err, OMR_EINPUT, "review item %lld is already decided (undo it first)", item);
    release(s, st);
    if (rc)
        goto done;
    st = prep(s, "INSERT INTO decisions(item, operator, time, before, after)"
                 " SELECT id, ?, " NOW_SQL ", proposal, ? FROM review_items WHERE id = ?", err);
    if (!st) {
        rc = OMR_EIO;
        goto done;
    }
    bind_text(st, 1, operator_name);
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int64(st, 3, item);
    rc = step_done(s, st, err, "record a decision");
    release(s, st);
    if (rc || (rc = run_item(s, "UPDATE review_items SET state = 'resolved', lease_owner = NULL,"
                                " lease_expires = NULL WHERE id = ?1", item, NULL, err)) ||
        (rc = run_item(s, DIRTY_OF_ITEM_SQL, item, NULL, err)))
        goto done;
done:
    if (rc) {
        omr_store_rollback(s);
        return rc;
    }
    return omr_store_commit(s, err);
}

omr_status_t omr_store_item_undo(omr_store_t *s, long long item, const char *operator_name, omr_error_t *err)
{
    omr_status_t rc;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    if ((rc = run_item(s, "UPDATE decisions SET undone = 1, undone_time = " NOW_SQL ", undone_by = ?2"
                          " WHERE item = ?1 AND undone = 0", item, operator_name, err)))
        goto done;
    if (sqlite3_changes(s->db) != 1) {
        rc = omr_error_set(err, OMR_EINPUT, "review item %lld has no decision to undo", item);
        goto done;
    }
    if ((rc = run_item(s, "UPDATE review_items SET state = 'open' WHERE id = ?1", item, NULL, err)) ||
        (rc = run_item(s, DIRTY_OF_ITEM_SQL, item, NULL, err)))
        goto done;
done:
    if (rc) {
        omr_store_rollback(s);
        return rc;
    }
    return omr_store_commit(s, err);
}

/* ---- the batch report ---- */

static int query_int(omr_store_t *s, const char *sql, long long batch, int *ok)
{
    sqlite3_stmt *st = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        *ok = 0;
        return 0;
    }
    sqlite3_bind_int64(st, 1, batch);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    else
        *ok = 0;
    release(s, st);
    return v;
}

omr_status_t omr_store_batch_summary(omr_store_t *s, long long batch, omr_store_summary_t *sum, omr_error_t *err)
{
    memset(sum, 0, sizeof *sum);
    int ok = 1;
    sum->files_processed = query_int(s, "SELECT count(*) FROM files WHERE batch = ?1 AND status = 'done'", batch, &ok);
#define PAGES_OF_BATCH "FROM pages p JOIN files f ON f.id = p.file WHERE f.batch = ?1 AND f.status = 'done'"
    sum->files_not_stored = query_int(s, "SELECT count(*) FROM unstored_files WHERE batch = ?1", batch, &ok);
    sum->pages = query_int(s, "SELECT count(*) " PAGES_OF_BATCH, batch, &ok);
    sum->identified = query_int(s, "SELECT count(*) " PAGES_OF_BATCH " AND p.status = 'ok'", batch, &ok);
    sum->blank = query_int(s, "SELECT count(*) " PAGES_OF_BATCH " AND p.status = 'blank'", batch, &ok);
    sum->respondents_complete =
        query_int(s, "SELECT count(*) FROM respondents WHERE batch = ?1 AND complete AND NOT dirty", batch, &ok);
    sum->respondents_incomplete =
        query_int(s, "SELECT count(*) FROM respondents WHERE batch = ?1 AND NOT (complete AND NOT dirty)", batch, &ok);
    sum->open_items = query_int(s, "SELECT count(*) FROM review_items WHERE state != 'resolved' AND current = 1"
                                   " AND ?1 = ?1", batch, &ok);
    sqlite3_stmt *st = prep(s,
                            "SELECT reason, count(*) FROM review_items i WHERE state != 'resolved' AND current = 1"
                            " AND (page IN (SELECT p.id " PAGES_OF_BATCH ") OR (form, respondent) IN"
                            " (SELECT form, respondent FROM respondents WHERE batch = ?1)) GROUP BY reason",
                            err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, batch);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int r = sqlite3_column_int(st, 0);
        if (r >= 0 && r < OMR_STORE_N_REASONS)
            sum->flagged[r] = sqlite3_column_int(st, 1);
    }
    release(s, st);
    return ok ? OMR_OK : db_fail(s, err, "batch summary");
}

omr_status_t omr_store_unstored_record(omr_store_t *s, long long batch, const omr_store_unstored_t *files, int n,
                                       const char *const *stored_paths, int n_stored, omr_error_t *err)
{
    omr_status_t st;
    if ((st = omr_store_begin(s, err)))
        return st;
    int ok = 1;
    for (int i = 0; ok && i < n_stored; i++) {
        sqlite3_stmt *q = prep(s, "UPDATE unstored_files SET settled = 1 WHERE path = ?1 AND NOT settled", err);
        if (!q)
            goto fail;
        sqlite3_bind_text(q, 1, stored_paths[i], -1, SQLITE_STATIC);
        ok = sqlite3_step(q) == SQLITE_DONE;
        release(s, q);
    }
    for (int i = 0; ok && i < n; i++) {
        sqlite3_stmt *q = prep(s, "INSERT OR REPLACE INTO unstored_files(batch, path, deferred, reason) "
                                  "VALUES (?1, ?2, ?3, ?4)", err);
        if (!q)
            goto fail;
        sqlite3_bind_int64(q, 1, batch);
        sqlite3_bind_text(q, 2, files[i].path, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 3, files[i].deferred != 0);
        sqlite3_bind_text(q, 4, files[i].reason ? files[i].reason : "", -1, SQLITE_STATIC);
        ok = sqlite3_step(q) == SQLITE_DONE;
        release(s, q);
    }
    if (!ok) {
        st = db_fail(s, err, "record the files not stored");
        omr_store_rollback(s);
        return st;
    }
    return omr_store_commit(s, err);
fail:
    omr_store_rollback(s);
    return OMR_EIO;
}

omr_status_t omr_store_unstored_outstanding(omr_store_t *s, void (*fn)(void *ctx, const omr_store_unstored_t *f),
                                            void *ctx, omr_error_t *err)
{
    /* the latest record of each path (batch ids grow with time) */
    sqlite3_stmt *st = prep(s,
                            "SELECT u.path, u.deferred, u.reason, b.name, b.started FROM unstored_files u"
                            " JOIN batches b ON b.id = u.batch"
                            " WHERE NOT u.settled"
                            " AND u.batch = (SELECT max(batch) FROM unstored_files v WHERE v.path = u.path)"
                            " AND NOT EXISTS (SELECT 1 FROM files f WHERE f.path = u.path AND f.status = 'done')"
                            " ORDER BY u.batch, u.path",
                            err);
    if (!st)
        return OMR_EIO;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        omr_store_unstored_t f = {col_text(st, 0), sqlite3_column_int(st, 1), col_text(st, 2), col_text(st, 3),
                                  col_text(st, 4)};
        fn(ctx, &f);
    }
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "list the files not stored");
}

omr_status_t omr_store_batch_light_pages(omr_store_t *s, long long batch,
                                         void (*fn)(void *ctx, const char *path, int page), void *ctx,
                                         omr_error_t *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT f.path, p.idx " PAGES_OF_BATCH " AND p.status = 'ok' AND EXISTS (SELECT 1 FROM "
             "regions r WHERE r.page = p.id AND (r.doubt & %d) != 0) ORDER BY f.path, p.idx",
             (int)OMR_DOUBT_LIGHT_SCAN);
    sqlite3_stmt *st = prep(s, sql, err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, batch);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, col_text(st, 0), sqlite3_column_int(st, 1));
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "list light pages");
}

omr_status_t omr_store_batch_problems(omr_store_t *s, long long batch,
                                      void (*fn)(void *ctx, const char *path, int page, omr_page_status_t status,
                                                 const char *reason),
                                      void *ctx, omr_error_t *err)
{
    sqlite3_stmt *st = prep(s,
                            "SELECT f.path, p.idx, p.status, p.reason " PAGES_OF_BATCH
                            " AND p.status NOT IN ('ok', 'blank') ORDER BY f.path, p.idx",
                            err);
    if (!st)
        return OMR_EIO;
    sqlite3_bind_int64(st, 1, batch);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, col_text(st, 0), sqlite3_column_int(st, 1), page_status_from_name(col_text(st, 2)), col_text(st, 3));
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "list problem pages");
}

/* ---- the store's state (omr status) ---- */

omr_status_t omr_store_bound_survey(omr_store_t *s, char *survey_id, size_t n, omr_error_t *err)
{
    if (n)
        survey_id[0] = 0;
    sqlite3_stmt *st = prep(s, "SELECT survey FROM survey_binding LIMIT 1", err);
    if (!st)
        return OMR_EIO;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        snprintf(survey_id, n, "%s", col_text(st, 0));
    release(s, st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "read the survey binding");
}

omr_status_t omr_store_batches(omr_store_t *s, void (*fn)(void *ctx, const omr_store_batch_t *batch), void *ctx,
                               omr_error_t *err)
{
    sqlite3_stmt *st = prep(s,
                            "SELECT b.id, b.name, b.started, b.finished, (SELECT count(*) FROM files f"
                            " WHERE f.batch = b.id AND f.status = 'processing') FROM batches b ORDER BY b.id",
                            err);
    if (!st)
        return OMR_EIO;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        omr_store_batch_t b = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                               sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL : col_text(st, 3),
                               sqlite3_column_int(st, 4)};
        fn(ctx, &b);
    }
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "list batches");
}

omr_status_t omr_store_queue_counts(omr_store_t *s, omr_store_queue_t *q, omr_error_t *err)
{
    memset(q, 0, sizeof *q);
    /* an item superseded by re-coding (current = 0) is no longer asked,
     * unless an operator resolved it */
    sqlite3_stmt *st = prep(s,
                            "SELECT reason, sum(state = 'open'), sum(state = 'leased'), sum(state = 'resolved')"
                            " FROM review_items WHERE current = 1 OR state = 'resolved' GROUP BY reason",
                            err);
    if (!st)
        return OMR_EIO;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int reason = sqlite3_column_int(st, 0);
        if (reason < 0 || reason >= OMR_STORE_N_REASONS)
            continue;
        q->open[reason] = sqlite3_column_int(st, 1);
        q->leased[reason] = sqlite3_column_int(st, 2);
        q->resolved[reason] = sqlite3_column_int(st, 3);
    }
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "count review items");
}

omr_status_t omr_store_files_needed(omr_store_t *s, void (*fn)(void *ctx, const omr_store_file_t *file, int open_items),
                                    void *ctx, omr_error_t *err)
{
    sqlite3_stmt *st = prep(s,
                            "SELECT f.id, f.path, f.sha256, coalesce(f.size, 0), count(*) FROM review_items i"
                            " JOIN pages p ON p.id = i.page JOIN files f ON f.id = p.file"
                            " WHERE i.current = 1 AND i.state IN ('open', 'leased') GROUP BY f.id ORDER BY f.path",
                            err);
    if (!st)
        return OMR_EIO;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        omr_store_file_t f = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                              sqlite3_column_int64(st, 3)};
        fn(ctx, &f, sqlite3_column_int(st, 4));
    }
    release(s, st);
    return r == SQLITE_DONE ? OMR_OK : db_fail(s, err, "list the files the review needs");
}

omr_status_t omr_store_respondent_counts(omr_store_t *s, omr_store_respondents_t *out, omr_error_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(s,
                            "SELECT coalesce(sum(complete AND NOT dirty), 0), coalesce(sum(NOT complete AND NOT dirty), 0),"
                            " coalesce(sum(dirty), 0) FROM respondents",
                            err);
    if (!st)
        return OMR_EIO;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        out->complete = sqlite3_column_int(st, 0);
        out->waiting = sqlite3_column_int(st, 1);
        out->dirty = sqlite3_column_int(st, 2);
    }
    release(s, st);
    return r == SQLITE_ROW ? OMR_OK : db_fail(s, err, "count respondents");
}

/* ---- the sample masks kept between runs ---- */

int omr_store_mask_get(omr_store_t *s, const char *key, unsigned char **blob, size_t *len)
{
    *blob = NULL;
    *len = 0;
    sqlite3_stmt *st = prep(s, "SELECT data FROM mask_cache WHERE key = ?1", NULL);
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *d = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (d && n > 0 && (*blob = malloc((size_t)n))) {
            memcpy(*blob, d, (size_t)n);
            *len = (size_t)n;
            found = 1;
        }
    }
    release(s, st);
    return found;
}

omr_status_t omr_store_mask_put(omr_store_t *s, const char *key, const char *survey, const char *form, int page,
                                const unsigned char *blob, size_t len, omr_error_t *err)
{
    if (len > 0x7fffffff)
        return omr_error_set(err, OMR_ELIMIT, "store: mask entry too large");
    omr_status_t rc;
    if ((rc = omr_store_begin(s, err)))
        return rc;
    sqlite3_stmt *del = prep(s, "DELETE FROM mask_cache WHERE survey = ?1 AND form = ?2 AND page = ?3 AND key <> ?4",
                             err);
    if (!del) {
        rc = OMR_EIO;
        goto fail;
    }
    bind_text(del, 1, survey);
    bind_text(del, 2, form);
    sqlite3_bind_int(del, 3, page);
    bind_text(del, 4, key);
    rc = step_done(s, del, err, "dropping old masks");
    release(s, del);
    if (rc)
        goto fail;
    sqlite3_stmt *ins = prep(s, "INSERT OR REPLACE INTO mask_cache(key, survey, form, page, data, created) "
                                "VALUES(?1, ?2, ?3, ?4, ?5, " NOW_SQL ")",
                             err);
    if (!ins) {
        rc = OMR_EIO;
        goto fail;
    }
    bind_text(ins, 1, key);
    bind_text(ins, 2, survey);
    bind_text(ins, 3, form);
    sqlite3_bind_int(ins, 4, page);
    sqlite3_bind_blob(ins, 5, blob, (int)len, SQLITE_STATIC);
    rc = step_done(s, ins, err, "saving masks");
    release(s, ins);
    if (rc)
        goto fail;
    return omr_store_commit(s, err);
fail:
    omr_store_rollback(s);
    return rc;
}
