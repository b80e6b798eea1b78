/* review.h -- the review server: operators resolve the review queue in the
 * browser (issue 4), and the operator accounts it needs.
 *
 * `omr review --db FILE` runs omr_review_start(): a libmicrohttpd server on
 * loopback that serves one built-in page (HTML/CSS/JS in review_page.c, no
 * build step, no CDN) and a small JSON API under /api/ plus PNG crops under
 * /img/. See review_http.c for the endpoints and their checks.
 *
 * What the server guarantees (the contract the tests check):
 * - every request but the page itself and the login needs a session cookie
 *   (random 256-bit token, HttpOnly, SameSite=Strict, idle expiry); every
 *   POST needs the session's CSRF token in X-CSRF-Token;
 * - an item is leased to one operator at a time (leases expire), only the
 *   holder may decide it, and it is decided at most once (store.h's unique
 *   live decision); a decision is recorded (who, when, before, after) and can
 *   be undone; after each decision and undo the respondent is re-coded
 *   (code.h) by the server's coder thread within milliseconds (outside the
 *   request, so a decision costs one small transaction), and always before
 *   omr_review_stop() returns; responses and export follow;
 * - a bad request (no session, foreign lease, unknown item, value outside
 *   the question's options, a path that is not an ID, a body over the limit,
 *   missing CSRF token) gets a 4xx with a JSON {"error": "..."} and changes
 *   nothing.
 *
 * Schema additions (additive, CREATE ... IF NOT EXISTS, made by
 * omr_review_schema()): table operators(name PRIMARY KEY, hash, created,
 * disabled) and index review_items_queue ON review_items(page, id).
 */
#ifndef OMR_REVIEW_H
#define OMR_REVIEW_H

#include "code.h"
#include "omr.h"
#include "store.h"
#include "template.h"

typedef struct {
    const char *db_path;       /* the store (required) */
    const char *template_path; /* the survey folder (required) */
    const char *listen;        /* "127.0.0.1:8080" (default); port 0 picks a free port */
    int lease_seconds;         /* [300] an unfinished item goes back to the queue after this */
    int session_seconds;       /* [8 h] a session expires after this long without a request */
    size_t max_body;           /* [64 KiB] larger request bodies get 413 */
    int warm;                  /* [1] render crops ahead of the operators in a background thread */
    int threads;               /* unused (thread per connection) */
    const char *const *image_dirs; /* folders to find scans moved since the scan in (copied) */
    int n_image_dirs;
} omr_review_opts_t;

void omr_review_opts_default(omr_review_opts_t *opts);

/* ---- the scanned files (review_files.c) ----
 * Pictures for review come from the scanned files, which may have been
 * moved or written over since the scan: a file is used only when it has
 * the stored SHA-256, at its stored path or under one of the folders given
 * (`omr review --images DIR`, `omr status --files --images DIR`). */
typedef struct omr_review_files omr_review_files_t;

/* dirs: folders to search (copied). NULL when out of memory. */
omr_review_files_t *omr_review_files_new(const char *const *dirs, int n_dirs);
void omr_review_files_free(omr_review_files_t *fs);

typedef enum {
    OMR_SCAN_AT_PATH,  /* at its stored path, unchanged */
    OMR_SCAN_MOVED,    /* found under the folders */
    OMR_SCAN_GONE,     /* no file at the stored path, none found under the folders */
    OMR_SCAN_CHANGED   /* other bytes at the stored path (another scan written over it?), none found */
} omr_scan_where_t;

/* Where file f is now: out gets the path when found (OMR_OK); else
 * OMR_ENOTFOUND with the reason and what to do in *err. *pwhere (may be
 * NULL) says which. Thread-safe. */
omr_status_t omr_review_files_locate(omr_review_files_t *fs, const omr_store_file_t *f, char *out, size_t n,
                                     omr_scan_where_t *pwhere, omr_error_t *err);

typedef struct omr_review_server omr_review_server_t;

/* Open the store and the survey, create the schema additions, and start
 * serving in background threads. On OMR_OK *psrv is owned by the caller
 * (omr_review_stop()). Errors: OMR_EIO (store, listen address in use),
 * OMR_EINPUT (bad listen address, template), with *err. */
omr_status_t omr_review_start(const omr_review_opts_t *opts, omr_review_server_t **psrv, omr_error_t *err);

/* The port actually listened on (useful with port 0). */
int omr_review_port(const omr_review_server_t *srv);

/* Stop serving, wait for the threads, free everything. NULL is allowed. */
void omr_review_stop(omr_review_server_t *srv);

/* ---- operators (table `operators` in the store) ---- */

/* Create the review tables and indexes if missing (idempotent). */
omr_status_t omr_review_schema(omr_store_t *store, omr_error_t *err);

/* Add an operator, or with replace set a new password for an existing one.
 * The password is hashed with libsodium crypto_pwhash_str (Argon2id,
 * interactive limits); it is never stored. Names: 1..32 chars of
 * [A-Za-z0-9._-]; passwords 8..256 bytes. OMR_EINPUT for a bad name or
 * password, or an existing name without replace. */
omr_status_t omr_review_operator_add(omr_store_t *store, const char *name, const char *password, int replace,
                                     omr_error_t *err);

/* Check a password: *pok 1 when the operator exists, is enabled and the
 * password matches. Takes ~0.1 s and 64 MB by design (Argon2id). */
omr_status_t omr_review_operator_check(omr_store_t *store, const char *name, const char *password, int *pok,
                                       omr_error_t *err);

/* Enable (disabled 0) or disable (1) an operator: a disabled one cannot log
 * in. OMR_ENOTFOUND for an unknown name. */
omr_status_t omr_review_operator_disable(omr_store_t *store, const char *name, int disabled, omr_error_t *err);

/* Call fn for every operator (name, created, disabled, decisions made). */
omr_status_t omr_review_operator_list(omr_store_t *store,
                                      void (*fn)(void *ctx, const char *name, const char *created, int disabled,
                                                 int decisions),
                                      void *ctx, omr_error_t *err);

/* ---- decision values ---- */

/* Check that value is a valid decision for an item (reason, question id,
 * var, as stored in review_items) of form. Values, by what the item is about:
 *   one column (var):  single/top3/codegrid "" or an option code; grid1 row
 *                      "" or a column code; multi/ticklist/gridn cell "1"/"0";
 *                      number "" or its digits (0-9, at most one per box, "0043");
 *                      a _text column: any text (UTF-8, no control chars, <= 255 bytes);
 *   the whole question (var ""): single "" or a code; number "" or its
 *                      digits; multi/ticklist the marked codes "2,5" ("" none);
 *                      top3 the codes in box order "3,1"; grid1 "a:2,b:3",
 *                      gridn "a:1,a:3,c:2" (the marked cells), codegrid
 *                      "a_1:3,b_2:5"; a ROUTING item also "-1" (not
 *                      applicable: the answers are dropped);
 *   a page key var ("page:…", a duplicate copy): "duplicate" or "case";
 *   a page-level item (no question): "reject", "duplicate", or
 *                      "assign:FORM:PAGE:RESPONDENT" (e.g. "assign:A:3:000123").
 * Returns OMR_OK or OMR_EINPUT with the reason in words. */
omr_status_t omr_review_check_value(const omr_survey_t *survey, const char *form_id, omr_review_reason_t reason,
                                    const char *question, const char *var, const char *value, omr_error_t *err);

/* Turn one decision into the coder's overrides (code.h). Writes at most max
 * entries to out and returns how many it needs (0 for page-level decisions,
 * which the coder does not take), or -1 when the value is invalid. */
int omr_review_overrides(const omr_form_t *form, const char *question, const char *var, int case_number,
                         const char *value, omr_override_t *out, int max);

/* Re-code one respondent with every live decision as overrides, and store
 * the result (store.h omr_store_save_coding). The review server calls it
 * after each decision and undo. */
omr_status_t omr_review_recode(omr_store_t *store, const omr_survey_t *survey, const char *form_id,
                               const char *respondent, omr_error_t *err);

/* omr_review_recode in two steps, so the server's coder thread can code on
 * its own connection without holding the request threads' lock and take it
 * only for the (short) save: make reads pages and decisions and codes; save
 * writes the result. Everything in *c is owned by it (omr_review_coding_free,
 * also after a failed make). */
typedef struct {
    char form[16], respondent[32];
    long long batch;                 /* the respondent's batch as stored: kept */
    omr_page_result_t *pages;
    long long *page_ids;
    int n_pages;
    omr_coded_t coded;
    omr_column_t *cols[2];
    int n_cols[2];
    omr_store_value_t *values;       /* coded.n_values, strings borrowed from coded/cols */
    omr_store_item_t *items;         /* coded.n_items */
} omr_review_coding_t;

omr_status_t omr_review_coding_make(omr_store_t *store, const omr_survey_t *survey, const char *form_id,
                                    const char *respondent, omr_review_coding_t *c, omr_error_t *err);
omr_status_t omr_review_coding_save(omr_store_t *store, const omr_review_coding_t *c, omr_error_t *err);
void omr_review_coding_free(omr_review_coding_t *c);

#endif
