/* store.h -- the embedded store: one SQLite file holding batches, source files
 * (by content hash), pages with each region's raw measures, coded responses,
 * the review queue and the operators' decisions.
 *
 * Why one SQLite file: a nightly batch, the review server and the exporter
 * all work on the same data; SQLite in WAL mode lets several scan processes
 * and the review server share it with plain transactions, and a kill -9 at
 * any moment leaves either a committed transaction or nothing.
 *
 * Schema (version 1; migrations are numbered, see store.c `migrations[]`):
 *   schema_version(version, applied)
 *   batches(id, name, started, finished, options, pid)
 *   files(id, sha256 UNIQUE, path, size, pages, status processing|done, error,
 *         owner_pid, owner_host, claimed, batch)
 *   pages(id, file, idx, status, reason, payload, form, page_number, respondent,
 *         orientation, dpi, width, height, xform (6 numbers), residual, case_number)
 *         case_number: what the coder made of the page (code.h page_case): 0 the
 *         respondent part (and pages not coded yet), 1.. a case, -1 not coded
 *         (a duplicate, a spare blank photocopy)
 *   regions(page, idx, var, kind, ink, ink_label, darkness, score, state, doubt,
 *           has_ink, digit, digit_conf)
 *   respondents(form, respondent, dirty, complete, n_cases, batch, coded)
 *   responses(form, respondent, case_number, col, name, value, status)
 *   review_items(id, key UNIQUE, source page|code, current, reason, form,
 *                respondent, case_number, page, question, var, proposal, detail,
 *                state open|leased|resolved, lease_owner, lease_expires, created)
 *   decisions(id, item, operator, time, before, after, undone, undone_time)
 *   mask_cache(key, survey, form, page, data, created)          (version 2)
 *   survey_binding(survey, fingerprint, bound): one row         (version 3)
 *
 * Review items keep their id across re-coding: an item is found again by its
 * natural key (reason, form, respondent, case, question, var, page), so a
 * lease, a URL or a decision made on it survives a re-scan. An item is
 * decided at most once (a unique index on live decisions); undo marks the
 * decision undone and reopens the item. Live decisions are the overrides the
 * coder gets when a respondent is re-coded.
 *
 * Images stay out of the database: a page row holds its file (path, hash) and
 * index plus the registration transform, so the review server re-reads the
 * page and crops through the transform.
 *
 * Ownership: omr_store_open() returns a handle owned by the caller
 * (omr_store_close()). A handle is one connection: use it from one thread or
 * process; after fork() open a new one in the child.
 */
#ifndef OMR_STORE_H
#define OMR_STORE_H

#include <sqlite3.h>

#include "code.h"
#include "omr.h"
#include "page.h"
#include "template.h"

#define OMR_STORE_SCHEMA_VERSION 4

typedef struct omr_store omr_store_t;

/* Open (creating and migrating as needed) the store at path. WAL journal,
 * busy timeout 60 s (several scan processes and the review server wait for
 * each other instead of failing), foreign keys on.
 * Errors: OMR_EIO when the file cannot be opened or is not a database,
 * OMR_EUNSUPPORTED when it was written by a newer omr (schema version above
 * ours). */
omr_status_t omr_store_open(const char *path, omr_store_t **pstore, omr_error_t *err);

/* Close; NULL is allowed. Rolls back an open transaction. */
void omr_store_close(omr_store_t *store);

/* The connection, borrowed until omr_store_close(): for the review server's
 * queries and for tests. */
sqlite3 *omr_store_db(omr_store_t *store);

/* Schema version of the open database. */
int omr_store_schema_version(omr_store_t *store);

/* A store holds one survey, read with one version of its templates. The
 * first call records survey_id and fingerprint (template.h
 * omr_template_fingerprint); later calls return OMR_OK when both agree,
 * OMR_EINPUT with the reason for the operator when the store holds another
 * survey or was filled with templates whose questions or regions differ
 * (stored readings would meet the wrong boxes). A store made before the
 * binding existed is bound by its next use. */
omr_status_t omr_store_bind_survey(omr_store_t *store, const char *survey_id, const char *fingerprint,
                                   omr_error_t *err);

/* Transactions. begin takes the write lock at once (BEGIN IMMEDIATE) so two
 * writers queue instead of deadlocking. They nest: the functions below that
 * write use them too, so a caller may wrap several in one transaction; only
 * the outermost commit commits, and a rollback anywhere rolls back all of it
 * (the outer commit then fails). rollback may be called with no transaction
 * open. */
omr_status_t omr_store_begin(omr_store_t *store, omr_error_t *err);
omr_status_t omr_store_commit(omr_store_t *store, omr_error_t *err);
void omr_store_rollback(omr_store_t *store);

/* ---- batches ---- */

/* A batch row (name, start time, options text, pid); *pbatch gets its id. */
omr_status_t omr_store_batch_begin(omr_store_t *store, const char *name, const char *options,
                                   long long *pbatch, omr_error_t *err);
omr_status_t omr_store_batch_end(omr_store_t *store, long long batch, omr_error_t *err);

/* ---- files ---- */

typedef enum {
    OMR_CLAIM_TAKEN, /* the file is ours to process: its row says 'processing' by this pid */
    OMR_CLAIM_DONE,  /* the store already holds this content fully processed: skip */
    OMR_CLAIM_BUSY   /* another live process is processing it now: skip */
} omr_claim_t;

/* Claim a file by its content hash (64 hex chars), in one transaction: a new
 * hash gets a row with status 'processing' and owner = this pid and host; a
 * row already 'processing' whose owner is this host and no longer alive (or
 * the claim is older than 6 hours, for owners on other hosts) is taken over;
 * a 'done' row is OMR_CLAIM_DONE. *pfile gets the row id when taken. */
omr_status_t omr_store_file_claim(omr_store_t *store, const char *sha256_hex, const char *path,
                                  long long size, long long batch, omr_claim_t *pclaim,
                                  long long *pfile, omr_error_t *err);

/* Give a claim back (the process could not finish the file): deletes the
 * 'processing' row so another run takes it. */
omr_status_t omr_store_file_unclaim(omr_store_t *store, long long file, omr_error_t *err);

/* Store every page of a claimed file and mark the file done, in ONE
 * transaction: page rows, their regions (var and kind named from the survey
 * when the page was identified; survey may be NULL), a page-level review item
 * for every page that is not OK or BLANK, and the `dirty` mark on every
 * respondent the pages belong to (the coder picks those up, even after a
 * kill). n_pages_in_file is what the file claims (may exceed n for a damaged
 * file); file_error is the reason when the file as a whole failed, or NULL.
 * On failure nothing is written. */
omr_status_t omr_store_file_save(omr_store_t *store, long long file, const omr_survey_t *survey,
                                 const omr_page_result_t *pages, int n, int n_pages_in_file,
                                 const char *file_error, omr_error_t *err);

/* ---- respondents and coding ---- */

typedef struct {
    char form[16];
    char respondent[32];
} omr_store_key_t;

/* Respondents whose pages changed since they were last coded. *pkeys is
 * owned by the caller (free()); *pn gets the count. */
omr_status_t omr_store_dirty_respondents(omr_store_t *store, omr_store_key_t **pkeys, int *pn,
                                         omr_error_t *err);

/* The stored page results of one respondent (status OK, REGISTER_FAILED and
 * the like, never BLANK, nor a page whose page-level item an operator decided
 * "reject" or "duplicate"), in scan order: file path, then file hash, then
 * page index. *ppages (each with its regions) is owned by the caller: free
 * with omr_store_pages_free(). *pids gets the page row ids (owned, free()). */
omr_status_t omr_store_load_pages(omr_store_t *store, const char *form, const char *respondent,
                                  omr_page_result_t **ppages, long long **pids, int *pn,
                                  omr_error_t *err);
void omr_store_pages_free(omr_page_result_t *pages, int n);

/* The blank pages' sample masks kept between runs (sample.h
 * omr_sample_backing_t; the store only keeps bytes, sample.c checks them).
 * get: 1 with *blob (malloc'd, caller frees) and *len when key is stored,
 * else 0 (also on any failure: a miss only costs a render). put: stores
 * blob under key, dropping older entries of the same survey, form and page
 * (0-based), in its own transaction (or the caller's). Returns OMR_OK or
 * OMR_EIO. */
int omr_store_mask_get(omr_store_t *store, const char *key, unsigned char **blob, size_t *len);
omr_status_t omr_store_mask_put(omr_store_t *store, const char *key, const char *survey, const char *form,
                                int page, const unsigned char *blob, size_t len, omr_error_t *err);

/* A stored value (status as code.h: certain, review, resolved); strings
 * borrowed for the call. */
typedef struct {
    int case_number;      /* 0: the respondent part; 1, 2, …: a case */
    int col;              /* index in omr_template_columns() of that part */
    const char *name;     /* column name */
    const char *value;    /* "" for empty, "-1" for not applicable */
    omr_value_status_t status;
} omr_store_value_t;

/* A review item as the coder proposes it (strings borrowed for the call). */
typedef struct {
    omr_review_reason_t reason;
    int case_number;
    long long page;       /* page row id, 0 when the item is not about one page */
    const char *question; /* question id ("Q2"), "" for page-level items */
    const char *var;      /* column, "" when the item is about a whole question */
    const char *proposal; /* the machine's proposed value, "" when none */
    const char *detail;   /* words for the operator */
} omr_store_item_t;

/* Live operator decisions on a respondent's items: the overrides for
 * re-coding. Strings inline; *pdec owned by the caller (free()). */
typedef struct {
    long long item;
    omr_review_reason_t reason;
    int case_number;
    long long page;
    char question[24];
    char var[64];
    char after[512];      /* what the operator chose: for an item with a var, the value
                             of that var (code.h omr_override_t); for a whole-question
                             item, lines "VAR=VALUE", one per column */
} omr_store_decision_t;

omr_status_t omr_store_decisions(omr_store_t *store, const char *form, const char *respondent,
                                 omr_store_decision_t **pdec, int *pn, omr_error_t *err);

/* Replace a respondent's coding in one transaction: all its responses, its
 * machine review items (matched by natural key: kept items keep id, state and
 * decisions; open items no longer produced are deleted; decided ones are kept
 * with current=0), the case number of each page (page_case[i] for page_ids[i],
 * n_pages entries, may be 0/NULL), the respondent's complete flag (no cell in
 * REVIEW and no open item) and its dirty mark cleared. */
omr_status_t omr_store_save_coding(omr_store_t *store, const char *form, const char *respondent,
                                   long long batch, const omr_store_value_t *values, int n_values,
                                   const omr_store_item_t *items, int n_items,
                                   const long long *page_ids, const int *page_case, int n_pages,
                                   omr_error_t *err);

/* ---- the review queue (issue 4 builds on these) ---- */

/* Lease the oldest open item (or one whose lease expired) to owner for
 * seconds. *pitem gets its id, 0 when the queue is empty. */
omr_status_t omr_store_item_lease(omr_store_t *store, const char *owner, int seconds,
                                  long long *pitem, omr_error_t *err);

/* Decide an item once: records (operator, before = the proposal, after),
 * marks the item resolved and its respondent dirty (re-code with the
 * decision). OMR_EINPUT when the item is unknown or already decided. */
omr_status_t omr_store_item_decide(omr_store_t *store, long long item, const char *operator_name,
                                   const char *after, omr_error_t *err);

/* Undo the live decision on an item: the decision stays in history with
 * undone=1, the item is open again, the respondent dirty. OMR_EINPUT when
 * there is no live decision. */
omr_status_t omr_store_item_undo(omr_store_t *store, long long item, const char *operator_name,
                                 omr_error_t *err);

/* ---- the batch report ---- */

/* Review reasons counted by the reports below: omr_review_reason_t values
 * are all below it (page.h). */
#define OMR_STORE_N_REASONS 16

typedef struct {
    int files_processed;      /* files stored by this batch */
    int files_not_stored;     /* files it refused or left for the next run, settled since or not
                               * (omr_store_unstored_record) */
    int pages;                /* pages stored by this batch */
    int identified;           /* … of which OK */
    int blank;
    int flagged[OMR_STORE_N_REASONS]; /* open items of this batch's pages and respondents, by reason */
    int respondents_complete; /* coded by this batch, nothing left to review */
    int respondents_incomplete;
    int open_items;           /* open or leased items in the whole queue */
} omr_store_summary_t;

omr_status_t omr_store_batch_summary(omr_store_t *store, long long batch, omr_store_summary_t *sum,
                                     omr_error_t *err);

/* Call fn for every page of this batch that is neither OK nor BLANK, in file
 * path and page order (path, 0-based page index, status, reason). */
omr_status_t omr_store_batch_problems(omr_store_t *store, long long batch,
                                      void (*fn)(void *ctx, const char *path, int page,
                                                 omr_page_status_t status, const char *reason),
                                      void *ctx, omr_error_t *err);

/* Call fn for every page of this batch read on a scan too light for pencil:
 * a region of it carries OMR_DOUBT_LIGHT_SCAN (classify.h: the bitonal
 * threshold erased part of the print, blank answers there are doubtful), in
 * file path and page order (path, 0-based page index). What the scanning
 * staff should rescan in grey or darker. */
omr_status_t omr_store_batch_light_pages(omr_store_t *store, long long batch,
                                         void (*fn)(void *ctx, const char *path, int page), void *ctx,
                                         omr_error_t *err);

/* ---- files a batch did not store ---- */

/* A file a scan met and did not store: refused (not an image, empty, not a
 * regular file, unreadable) or left for the next run (still being written).
 * The scan report names them; the store keeps them so that `omr status`
 * still does the next morning. */
typedef struct {
    const char *path;   /* absolute when it could be resolved */
    int deferred;       /* 1: left for the next run; 0: refused */
    const char *reason;
    const char *batch;  /* omr_store_unstored_outstanding: the batch's name */
    const char *when;   /* … and when it started (ISO 8601 UTC) */
} omr_store_unstored_t;

/* In one transaction: record the n files batch did not store (a file
 * recorded by this batch before is replaced), and mark settled every record,
 * of any batch, of the n_stored paths this run stored or found stored
 * already (no longer outstanding; the record stays, for the batch's count).
 * Paths as the store keeps them: absolute. */
omr_status_t omr_store_unstored_record(omr_store_t *store, long long batch, const omr_store_unstored_t *files, int n,
                                       const char *const *stored_paths, int n_stored, omr_error_t *err);

/* Call fn for every path recorded as not stored that is outstanding: its
 * latest record (by batch) not settled, and no stored file at that path
 * (files.path); oldest batch first. Strings borrowed, valid during the callback. Whether the
 * file is still there is the caller's to check. */
omr_status_t omr_store_unstored_outstanding(omr_store_t *store, void (*fn)(void *ctx, const omr_store_unstored_t *f),
                                            void *ctx, omr_error_t *err);

/* ---- the store's state, for `omr status` ---- */

typedef struct {
    long long id;
    const char *name;     /* borrowed, valid during the callback */
    const char *started;  /* ISO 8601 UTC */
    const char *finished; /* NULL: not finished (still running, or killed: run it again) */
    int files_processing; /* files claimed by a scan and not stored yet */
} omr_store_batch_t;

/* The survey the store holds (omr_store_bind_survey), "" before the first
 * scan bound one. */
omr_status_t omr_store_bound_survey(omr_store_t *store, char *survey_id, size_t n, omr_error_t *err);

/* Call fn for every batch, oldest first. */
omr_status_t omr_store_batches(omr_store_t *store, void (*fn)(void *ctx, const omr_store_batch_t *batch), void *ctx,
                               omr_error_t *err);

/* The whole review queue by reason (index = omr_review_reason_t): items
 * open, leased to an operator, and resolved. */
typedef struct {
    int open[OMR_STORE_N_REASONS], leased[OMR_STORE_N_REASONS], resolved[OMR_STORE_N_REASONS];
} omr_store_queue_t;

omr_status_t omr_store_queue_counts(omr_store_t *store, omr_store_queue_t *q, omr_error_t *err);

/* Respondents: coded with nothing left to review (what export writes),
 * waiting for review, and changed since they were last coded (a scan or a
 * decision; `omr scan --recode` or the review server codes them again). */
typedef struct {
    int complete, waiting, dirty;
} omr_store_respondents_t;

omr_status_t omr_store_respondent_counts(omr_store_t *store, omr_store_respondents_t *r, omr_error_t *err);

/* A scanned file as stored: what omr_review_files_locate (review.h) looks
 * for. Strings borrowed, valid during the callback. */
typedef struct {
    long long id;
    const char *path;   /* as scanned (absolute, from omr scan) */
    const char *sha256; /* hex */
    long long size;     /* bytes (0: not known) */
} omr_store_file_t;

/* Call fn for every scanned file the review still needs: one with a page
 * that an open or leased review item shows (open_items of them), by path. */
omr_status_t omr_store_files_needed(omr_store_t *store,
                                    void (*fn)(void *ctx, const omr_store_file_t *file, int open_items), void *ctx,
                                    omr_error_t *err);

/* Name of a page status as stored ("ok", "blank", "unreadable", …). */
const char *omr_store_page_status_name(omr_page_status_t status);

#endif
