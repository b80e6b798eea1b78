/* review_store.c -- the review server's own tables and queries on the store:
 * operator accounts (review.h), and the queue's context-keeping lease order,
 * lease checks and progress counts (review_internal.h).
 *
 * Schema additions, additive so the store's migrations stay its own:
 *   operators(name PRIMARY KEY, hash, created, disabled)
 *   INDEX review_items_queue ON review_items(page, id)
 * Every function here runs on the caller's connection; the server holds its
 * database lock around each call.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"
#include "review_internal.h"

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static omr_status_t db_err(sqlite3 *db, omr_error_t *err, const char *what)
{
    return omr_error_set(err, OMR_EIO, "review store: %s: %s", what, sqlite3_errmsg(db));
}

omr_status_t omr_review_schema(omr_store_t *store, omr_error_t *err)
{
    sqlite3 *db = omr_store_db(store);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS operators(name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
                     " created TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
                     "CREATE INDEX IF NOT EXISTS review_items_queue ON review_items(page, id);"
                     /* a page as it was before an operator assigned it (undo puts it back) */
                     "CREATE TABLE IF NOT EXISTS review_page_backup(page INTEGER PRIMARY KEY, status TEXT,"
                     " reason TEXT, payload TEXT, form TEXT, page_number INTEGER, respondent TEXT,"
                     " orientation INTEGER, dpi REAL, width INTEGER, height INTEGER, xform TEXT, residual REAL,"
                     " case_number INTEGER);"
                     "CREATE TABLE IF NOT EXISTS review_region_backup(page INTEGER NOT NULL, idx INTEGER NOT NULL,"
                     " var TEXT, kind TEXT, ink REAL, ink_label REAL, darkness REAL, score REAL, state INTEGER,"
                     " doubt INTEGER, has_ink INTEGER, digit INTEGER, digit_conf REAL, PRIMARY KEY(page, idx));",
                     NULL, NULL, &msg) != SQLITE_OK) {
        omr_error_set(err, OMR_EIO, "review store: create tables: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return OMR_EIO;
    }
    return OMR_OK;
}

int omr_review_name_ok(const char *z)
{
    size_t n = strlen(z);
    if (n < 1 || n > 32)
        return 0;
    for (const char *p = z; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '-' ||
              *p == '_' || *p == '.'))
            return 0;
    return 1;
}

omr_status_t omr_review_operator_add(omr_store_t *store, const char *name, const char *password, int replace,
                                     omr_error_t *err)
{
    if (!omr_review_name_ok(name))
        return omr_error_set(err, OMR_EINPUT, "operator name '%.40s': 1 to 32 letters, digits, '.', '_' or '-'", name);
    size_t pn = strlen(password);
    if (pn < 8 || pn > 256)
        return omr_error_set(err, OMR_EINPUT, "the password must have 8 to 256 characters");
    if (sodium_init() < 0)
        return omr_error_set(err, OMR_EIO, "libsodium could not be initialised");
    omr_status_t rc = omr_review_schema(store, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, pn, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return omr_error_set(err, OMR_ENOMEM, "hashing the password ran out of memory");
    sqlite3 *db = omr_store_db(store);
    sqlite3_stmt *st = NULL;
    const char *sql = replace ? "INSERT INTO operators(name, hash, created) VALUES(?1, ?2, " NOW_SQL ")"
                                " ON CONFLICT(name) DO UPDATE SET hash = excluded.hash"
                              : "INSERT INTO operators(name, hash, created) VALUES(?1, ?2, " NOW_SQL ")";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "add operator");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    sodium_memzero(hash, sizeof hash);
    if (r == SQLITE_CONSTRAINT)
        return omr_error_set(err, OMR_EINPUT, "operator %s exists already (use 'omr operator passwd')", name);
    if (r != SQLITE_DONE)
        return db_err(db, err, "add operator");
    return OMR_OK;
}

omr_status_t omr_review_operator_check(omr_store_t *store, const char *name, const char *password, int *pok,
                                       omr_error_t *err)
{
    *pok = 0;
    if (sodium_init() < 0)
        return omr_error_set(err, OMR_EIO, "libsodium could not be initialised");
    sqlite3 *db = omr_store_db(store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT hash, disabled FROM operators WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "check operator");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    char hash[crypto_pwhash_STRBYTES] = "";
    int disabled = 1, found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 0));
        disabled = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (!found || disabled)
        return OMR_OK;
    *pok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    return OMR_OK;
}

omr_status_t omr_review_operator_disable(omr_store_t *store, const char *name, int disabled, omr_error_t *err)
{
    sqlite3 *db = omr_store_db(store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE operators SET disabled = ? WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "disable operator");
    sqlite3_bind_int(st, 1, disabled != 0);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return db_err(db, err, "disable operator");
    if (sqlite3_changes(db) != 1)
        return omr_error_set(err, OMR_ENOTFOUND, "there is no operator %s", name);
    return OMR_OK;
}

omr_status_t omr_review_operator_list(omr_store_t *store,
                                      void (*fn)(void *ctx, const char *name, const char *created, int disabled,
                                                 int decisions),
                                      void *ctx, omr_error_t *err)
{
    omr_status_t rc = omr_review_schema(store, err);
    if (rc)
        return rc;
    sqlite3 *db = omr_store_db(store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, created, disabled, (SELECT count(*) FROM decisions d WHERE d.operator = o.name"
                           " AND d.undone = 0) FROM operators o ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "list operators");
    while (sqlite3_step(st) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));
    sqlite3_finalize(st);
    return OMR_OK;
}

/* ---- the queue ---- */

/* An item an operator may take: open, or leased with the lease run out, or
 * already leased to this operator. */
#define TAKEABLE                                                                                           \
    " current = 1 AND (state = 'open' OR (state = 'leased' AND (lease_expires < " NOW_SQL                 \
    " OR lease_owner = ?1)))"

static long long first_id(sqlite3 *db, const char *sql, const char *owner, long long a, const char *b,
                          const char *c, const char *skip)
{
    sqlite3_stmt *st = NULL;
    long long id = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_index(st, "?2"))
        sqlite3_bind_int64(st, 2, a);
    if (sqlite3_bind_parameter_index(st, "?3"))
        sqlite3_bind_text(st, 3, b ? b : "", -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_index(st, "?4"))
        sqlite3_bind_text(st, 4, c ? c : "", -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_index(st, "?5"))
        sqlite3_bind_text(st, 5, skip ? skip : "", -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    else if (r != SQLITE_DONE)
        id = -1;
    sqlite3_finalize(st);
    return id;
}

/* skip is a ",id,id," list the operator passed over with → (a JSON-free
 * format SQLite's instr() can test). */
#define NOT_SKIPPED " AND instr(?5, ',' || id || ',') = 0"

/* Nobody else holds a live lease on an item of this respondent / this page. */
#define FREE_RESPONDENT                                                                                    \
    " AND (respondent = '' OR NOT EXISTS (SELECT 1 FROM review_items o WHERE o.form = review_items.form"   \
    " AND o.respondent = review_items.respondent AND o.state = 'leased' AND o.lease_owner != ?1"          \
    " AND o.lease_expires >= " NOW_SQL "))"
#define FREE_PAGE                                                                                          \
    " AND (page IS NULL OR page NOT IN (SELECT page FROM review_items WHERE state = 'leased'"             \
    " AND lease_owner != ?1 AND lease_expires >= " NOW_SQL " AND page IS NOT NULL))"

long long omr_review_q_next(sqlite3 *db, const char *owner, long long last_page, const char *last_form,
                            const char *last_question, const char *skip)
{
    long long id = 0;
    /* 1. the same page as the operator's last item: the page is on screen in
     *    their head, the crop cache holds it */
    if (last_page > 0)
        id = first_id(db, "SELECT id FROM review_items WHERE" TAKEABLE " AND page = ?2" NOT_SKIPPED " ORDER BY id LIMIT 1",
                      owner, last_page, NULL, NULL, skip);
    /* 2. the same question (items of the respondent without a page, or the
     *    same question on other respondents' forms), on a respondent nobody
     *    else is working on */
    if (id == 0 && last_question && last_question[0])
        id = first_id(db, "SELECT id FROM review_items WHERE" TAKEABLE " AND form = ?3 AND question = ?4" NOT_SKIPPED
                          FREE_RESPONDENT " ORDER BY page, id LIMIT 1",
                      owner, 0, last_form, last_question, skip);
    /* 3. the first page of a respondent nobody else is working on: one
     *    operator's decision re-codes the respondent, which may settle (and
     *    take away) items another operator has on screen; then the first
     *    page nobody else is working on, so two operators do not interleave
     *    on one page */
    if (id == 0)
        id = first_id(db, "SELECT id FROM review_items WHERE" TAKEABLE NOT_SKIPPED FREE_RESPONDENT FREE_PAGE
                          " ORDER BY page IS NULL, page, id LIMIT 1",
                      owner, 0, NULL, NULL, skip);
    if (id == 0)
        id = first_id(db, "SELECT id FROM review_items WHERE" TAKEABLE NOT_SKIPPED FREE_PAGE
                          " ORDER BY page IS NULL, page, id LIMIT 1",
                      owner, 0, NULL, NULL, skip);
    /* 4. anything left */
    if (id == 0)
        id = first_id(db, "SELECT id FROM review_items WHERE" TAKEABLE NOT_SKIPPED " ORDER BY page IS NULL, page, id LIMIT 1",
                      owner, 0, NULL, NULL, skip);
    return id;
}

int omr_review_q_lease(sqlite3 *db, const char *owner, long long item, int seconds)
{
    sqlite3_stmt *st = NULL;
    char mod[32];
    snprintf(mod, sizeof mod, "+%d seconds", seconds > 0 ? seconds : 1);
    if (sqlite3_prepare_v2(db,
                           "UPDATE review_items SET state = 'leased', lease_owner = ?1,"
                           " lease_expires = strftime('%Y-%m-%dT%H:%M:%fZ','now', ?3) WHERE id = ?2 AND" TAKEABLE,
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, item);
    sqlite3_bind_text(st, 3, mod, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return -1;
    return sqlite3_changes(db) == 1 ? 0 : 1;
}

int omr_review_q_holds(sqlite3 *db, const char *owner, long long item)
{
    sqlite3_stmt *st = NULL;
    int held = 0;
    if (sqlite3_prepare_v2(db, "SELECT state, lease_owner FROM review_items WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, item);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        const char *lo = (const char *)sqlite3_column_text(st, 1);
        /* a lease that ran out is still ours while nobody took the item over */
        held = state && !strcmp(state, "leased") && lo && !strcmp(lo, owner) ? 1 : 2;
    }
    sqlite3_finalize(st);
    return held;
}

void omr_review_q_release(sqlite3 *db, const char *owner, long long except)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE review_items SET state = 'open', lease_owner = NULL, lease_expires = NULL"
                           " WHERE state = 'leased' AND lease_owner = ?1 AND id != ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, except);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

void omr_review_q_fingerprint(sqlite3 *db, const char *form, const char *respondent, char *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    snprintf(buf, n, "?");
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) || ':' || coalesce(max(d.id), 0) || ':' || coalesce(sum(d.undone), 0)"
                           " FROM decisions d JOIN review_items i ON i.id = d.item WHERE i.form = ?1"
                           " AND i.respondent = ?2) || '/' || (SELECT count(*) || ':' || coalesce(sum(id * 7 +"
                           " page_number), 0) || ':' || group_concat(status) FROM pages WHERE form = ?1 AND respondent = ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, form, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, respondent, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* ---- assigning a page ---- */

static int exec_page(sqlite3 *db, const char *sql, long long page)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, page);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : -1;
}

#define DIRTY_OF_PAGE_SQL                                                                                  \
    "INSERT INTO respondents(form, respondent, dirty) SELECT form, respondent, 1 FROM pages WHERE id = ?1" \
    " AND coalesce(form, '') != '' AND coalesce(respondent, '') != '' ON CONFLICT DO UPDATE SET dirty = 1"

static const char *kind_name(omr_region_kind_t k)
{
    return k == OMR_REGION_CIRCLE ? "circle" : k == OMR_REGION_CHECK ? "check" : k == OMR_REGION_DIGIT ? "digit" : "text";
}

omr_status_t omr_review_page_assign(sqlite3 *db, const omr_survey_t *survey, long long page,
                                    const omr_page_result_t *r, omr_error_t *err)
{
    const omr_form_t *f = omr_template_form(survey, r->form);
    if (!f || r->page_number < 1 || r->page_number > f->n_pages)
        return omr_error_set(err, OMR_EINPUT, "assign: no form %s page %d", r->form, r->page_number);
    const omr_page_t *tp = &f->pages[r->page_number - 1];
    char xform[200];
    snprintf(xform, sizeof xform, "[%.17g,%.17g,%.17g,%.17g,%.17g,%.17g]", r->xform[0], r->xform[1], r->xform[2],
             r->xform[3], r->xform[4], r->xform[5]);
    /* the first assignment's backup is the page as scanned: keep it */
    if (exec_page(db, "INSERT OR IGNORE INTO review_page_backup SELECT id, status, reason, payload, form, page_number,"
                      " respondent, orientation, dpi, width, height, xform, residual, case_number FROM pages WHERE id = ?1",
                  page) ||
        exec_page(db, "INSERT OR IGNORE INTO review_region_backup SELECT * FROM regions WHERE page = ?1", page) ||
        exec_page(db, DIRTY_OF_PAGE_SQL, page) || exec_page(db, "DELETE FROM regions WHERE page = ?1", page))
        return db_err(db, err, "assign a page");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE pages SET status = 'ok', reason = NULL, form = ?2, page_number = ?3, respondent = ?4,"
                           " orientation = ?5, dpi = ?6, width = ?7, height = ?8, xform = ?9, residual = ?10,"
                           " case_number = 0 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "assign a page");
    sqlite3_bind_int64(st, 1, page);
    sqlite3_bind_text(st, 2, r->form, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->page_number);
    sqlite3_bind_text(st, 4, r->respondent, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->orientation);
    sqlite3_bind_double(st, 6, r->dpi);
    sqlite3_bind_int(st, 7, r->width);
    sqlite3_bind_int(st, 8, r->height);
    sqlite3_bind_text(st, 9, xform, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 10, r->residual_mm);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_err(db, err, "assign a page");
    if (sqlite3_prepare_v2(db, "INSERT INTO regions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return db_err(db, err, "assign a page");
    for (int i = 0; i < r->n_regions && r->regions; i++) {
        const omr_region_result_t *g = &r->regions[i];
        const omr_region_t *tr = i < tp->n_regions ? &tp->regions[i] : NULL;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, page);
        sqlite3_bind_int(st, 2, i);
        if (tr) {
            sqlite3_bind_text(st, 3, tr->var, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, kind_name(tr->kind), -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(st, 3);
            sqlite3_bind_null(st, 4);
        }
        sqlite3_bind_double(st, 5, g->m.ink);
        sqlite3_bind_double(st, 6, g->m.ink_label);
        sqlite3_bind_double(st, 7, g->m.darkness);
        sqlite3_bind_double(st, 8, g->m.score);
        sqlite3_bind_int(st, 9, (int)g->state);
        sqlite3_bind_int(st, 10, (int)g->doubt);
        sqlite3_bind_int(st, 11, g->has_ink);
        sqlite3_bind_int(st, 12, g->digit);
        sqlite3_bind_double(st, 13, g->digit_conf);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return db_err(db, err, "assign a page: regions");
        }
    }
    sqlite3_finalize(st);
    if (exec_page(db, DIRTY_OF_PAGE_SQL, page))
        return db_err(db, err, "assign a page");
    return OMR_OK;
}

omr_status_t omr_review_page_unassign(sqlite3 *db, long long page, omr_error_t *err)
{
    if (exec_page(db, DIRTY_OF_PAGE_SQL, page) ||
        exec_page(db, "UPDATE pages SET (status, reason, payload, form, page_number, respondent, orientation, dpi,"
                      " width, height, xform, residual, case_number) = (SELECT status, reason, payload, form,"
                      " page_number, respondent, orientation, dpi, width, height, xform, residual, case_number FROM"
                      " review_page_backup b WHERE b.page = ?1) WHERE id = ?1 AND EXISTS (SELECT 1 FROM"
                      " review_page_backup b WHERE b.page = ?1)",
                  page) ||
        exec_page(db, "DELETE FROM regions WHERE page = ?1 AND EXISTS (SELECT 1 FROM review_page_backup b"
                      " WHERE b.page = ?1)", page) ||
        exec_page(db, "INSERT INTO regions SELECT * FROM review_region_backup WHERE page = ?1", page) ||
        exec_page(db, "DELETE FROM review_region_backup WHERE page = ?1", page) ||
        exec_page(db, "DELETE FROM review_page_backup WHERE page = ?1", page) || exec_page(db, DIRTY_OF_PAGE_SQL, page))
        return db_err(db, err, "undo a page assignment");
    return OMR_OK;
}
