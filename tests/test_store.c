/* test_store.c -- the SQLite store (omr/store.h): schema and migration,
 * idempotent claims by content hash, all-or-nothing file saves (including a
 * process killed inside the transaction), two connections at once, stale
 * claims of dead processes, coding with review items that keep their id, and
 * the lease / decide / undo cycle of the review queue, the sample masks
 * kept between runs (mask_cache) and the migration that added them. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

static char dbpath[256];

static void fresh_db(void)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/omr_test_store_%d.db", (int)getpid());
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", dbpath, sfx[i]);
        unlink(p);
    }
}

static int count(omr_store_t *s, const char *sql)
{
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(omr_store_db(s), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A hand-made page result: identified page `page_number` of form A. */
static void make_page(omr_page_result_t *r, int index, int page_number, const char *respondent, int n_regions)
{
    memset(r, 0, sizeof *r);
    snprintf(r->file, sizeof r->file, "scan.tif");
    r->index_in_file = index;
    r->status = OMR_PAGE_OK;
    snprintf(r->form, sizeof r->form, "A");
    r->page_number = page_number;
    snprintf(r->respondent, sizeof r->respondent, "%s", respondent);
    snprintf(r->payload, sizeof r->payload, "ITSC18-A%02d-%s", page_number, respondent);
    r->dpi = 300;
    r->xform[0] = 11.8;
    r->xform[4] = 11.8;
    r->n_regions = n_regions;
    r->regions = calloc((size_t)n_regions, sizeof *r->regions);
    for (int i = 0; i < n_regions; i++) {
        r->regions[i].m.ink = 0.01f * (float)i;
        r->regions[i].state = i % 2 ? OMR_MARK_MARKED : OMR_MARK_BLANK;
        r->regions[i].digit = -1;
    }
}

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_schema(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(omr_store_schema_version(s), OMR_STORE_SCHEMA_VERSION);
    const char *tables[] = {"batches", "files", "pages", "regions", "respondents", "responses", "review_items",
                            "decisions", "schema_version", "mask_cache", "survey_binding", "unstored_files"};
    for (int i = 0; i < 12; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
        CHECK_INT(count(s, sql), 1);
    }
    CHECK_INT(count(s, "SELECT count(*) FROM pragma_foreign_keys WHERE foreign_keys = 1"), 1);
    omr_store_close(s);
    /* reopening migrates nothing and keeps one row per version */
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(count(s, "SELECT count(*) FROM schema_version"), OMR_STORE_SCHEMA_VERSION);
    sqlite3_exec(omr_store_db(s), "INSERT INTO schema_version VALUES(99, 'x')", NULL, NULL, NULL);
    omr_store_close(s);
    /* a database from a newer omr is refused, not damaged */
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_EUNSUPPORTED, "status %d", err.status);
    CHECK(strstr(err.msg, "99") != NULL, "%s", err.msg);
    /* a file that is not a database is refused */
    FILE *f = fopen(dbpath, "w");
    fputs("this is not a database, just some text that is long enough to have a header.......", f);
    fclose(f);
    unlink(strcat(strcpy((char[300]){0}, dbpath), "-wal"));
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_EIO);
    CHECK(strstr(err.msg, dbpath) != NULL, "%s", err.msg);
    fresh_db();
}

/* A version-1 database (before the mask cache) with data in it is migrated
 * to the current version on open, its data kept. */
static void test_migrate_v1(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long batch;
    CHECK(omr_store_batch_begin(s, "old", NULL, &batch, &err) == OMR_OK, "%s", err.msg);
    /* back to what schema 1 was: no mask_cache, no survey binding, one version row */
    CHECK_INT(sqlite3_exec(omr_store_db(s),
                           "DROP TABLE mask_cache; DROP TABLE survey_binding; DROP TABLE unstored_files; "
                           "DELETE FROM schema_version WHERE version > 1",
                           NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(omr_store_schema_version(s), 1);
    omr_store_close(s);
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(omr_store_schema_version(s), OMR_STORE_SCHEMA_VERSION);
    CHECK_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='mask_cache'"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='survey_binding'"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='unstored_files'"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM batches WHERE name = 'old'"), 1);
    omr_store_close(s);
    fresh_db();
}

/* One survey per store, read with one version of its templates: the first
 * use binds, the same survey and fingerprint pass (also after reopening),
 * another survey or other templates are refused with the reason, and the
 * binding is unchanged by a refusal. */
static void test_bind_survey(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_bind_survey(s, "ipa-itsc-2018", "aaaa", &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_bind_survey(s, "ipa-itsc-2018", "aaaa", &err) == OMR_OK, "%s", err.msg);
    omr_store_close(s);
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_bind_survey(s, "ipa-itsc-2018", "aaaa", &err) == OMR_OK, "after reopening: %s", err.msg);
    CHECK(omr_store_bind_survey(s, "quexf-test", "aaaa", &err) == OMR_EINPUT);
    CHECK(strstr(err.msg, "holds survey ipa-itsc-2018, not quexf-test"), "%s", err.msg);
    CHECK(omr_store_bind_survey(s, "ipa-itsc-2018", "bbbb", &err) == OMR_EINPUT);
    CHECK(strstr(err.msg, "other templates of survey ipa-itsc-2018") && strstr(err.msg, "wrong boxes"), "%s",
          err.msg);
    CHECK_INT(count(s, "SELECT count(*) FROM survey_binding WHERE survey = 'ipa-itsc-2018' AND fingerprint = 'aaaa'"),
              1);
    CHECK_INT(count(s, "SELECT count(*) FROM survey_binding"), 1);
    omr_store_close(s);
    fresh_db();
}

/* Mask entries: a miss, a hit with the same bytes, a newer entry of the same
 * page replacing the older, other pages kept. */
static void test_mask_cache(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    unsigned char *b = (unsigned char *)"x";
    size_t n = 1;
    CHECK_INT(omr_store_mask_get(s, HASH_A, &b, &n), 0);
    CHECK(b == NULL && n == 0);
    const unsigned char one[] = {1, 0, 2, 3}, two[] = {9, 9};
    CHECK(omr_store_mask_put(s, HASH_A, "sv", "A", 0, one, sizeof one, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_mask_put(s, HASH_C, "sv", "A", 1, two, sizeof two, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(omr_store_mask_get(s, HASH_A, &b, &n), 1);
    CHECK(n == sizeof one && !memcmp(b, one, n));
    free(b);
    /* the template changed: page 0's new key replaces its old entry */
    CHECK(omr_store_mask_put(s, HASH_B, "sv", "A", 0, two, sizeof two, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(omr_store_mask_get(s, HASH_A, &b, &n), 0);
    CHECK_INT(omr_store_mask_get(s, HASH_B, &b, &n), 1);
    CHECK(n == sizeof two && !memcmp(b, two, n));
    free(b);
    CHECK_INT(omr_store_mask_get(s, HASH_C, &b, &n), 1);
    free(b);
    CHECK_INT(count(s, "SELECT count(*) FROM mask_cache"), 2);
    omr_store_close(s);
    fresh_db();
}

/* What omr_store_unstored_outstanding gave: "path|deferred|reason|batch;" each. */
static void collect_unstored(void *ctx, const omr_store_unstored_t *f)
{
    char *out = ctx;
    size_t k = strlen(out);
    snprintf(out + k, 1024 - k, "%s|%d|%s|%s;", f->path, f->deferred, f->reason, f->batch);
}

/* Files a batch did not store stay outstanding until a run stores their
 * path or finds it stored, or a stored file has that path; each path once,
 * with its latest record; each batch keeps its count. */
static void test_unstored_files(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long b1, b2, b3, file;
    omr_claim_t claim;
    CHECK(omr_store_batch_begin(s, "night1", NULL, &b1, &err) == OMR_OK, "%s", err.msg);
    omr_store_unstored_t night1[] = {{.path = "/in/empty.tif", .deferred = 0, .reason = "empty file"},
                                     {.path = "/in/coming.tif", .deferred = 1, .reason = "still being written"},
                                     {.path = "/in/text.tif", .deferred = 0, .reason = "not an image"}};
    CHECK(omr_store_unstored_record(s, b1, night1, 3, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    /* the same batch run again records the same, once */
    CHECK(omr_store_unstored_record(s, b1, night1, 3, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    char got[1024] = "";
    CHECK(omr_store_unstored_outstanding(s, collect_unstored, got, &err) == OMR_OK, "%s", err.msg);
    CHECK_STR(got, "/in/coming.tif|1|still being written|night1;/in/empty.tif|0|empty file|night1;"
                   "/in/text.tif|0|not an image|night1;");
    /* night 2 stores coming.tif, refuses empty.tif again, finds text.tif
     * stored already (same bytes under another name) */
    CHECK(omr_store_batch_begin(s, "night2", NULL, &b2, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_claim(s, HASH_A, "/in/coming.tif", 10, b2, &claim, &file, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_save(s, file, NULL, NULL, 0, 0, NULL, &err) == OMR_OK, "%s", err.msg);
    omr_store_unstored_t night2[] = {{.path = "/in/empty.tif", .deferred = 0, .reason = "empty file again"}};
    const char *stored2[] = {"/in/coming.tif", "/in/text.tif"};
    CHECK(omr_store_unstored_record(s, b2, night2, 1, stored2, 2, &err) == OMR_OK, "%s", err.msg);
    got[0] = 0;
    CHECK(omr_store_unstored_outstanding(s, collect_unstored, got, &err) == OMR_OK, "%s", err.msg);
    CHECK_STR(got, "/in/empty.tif|0|empty file again|night2;");
    /* a stored file at the path settles it too (a run that recorded nothing) */
    CHECK(omr_store_batch_begin(s, "night3", NULL, &b3, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_claim(s, HASH_B, "/in/empty.tif", 10, b3, &claim, &file, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_save(s, file, NULL, NULL, 0, 0, NULL, &err) == OMR_OK, "%s", err.msg);
    got[0] = 0;
    CHECK(omr_store_unstored_outstanding(s, collect_unstored, got, &err) == OMR_OK, "%s", err.msg);
    CHECK_STR(got, "");
    /* each batch keeps what it did not store */
    omr_store_summary_t sum;
    CHECK(omr_store_batch_summary(s, b1, &sum, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(sum.files_not_stored, 3);
    CHECK(omr_store_batch_summary(s, b2, &sum, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(sum.files_not_stored, 1);
    CHECK(omr_store_batch_summary(s, b3, &sum, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(sum.files_not_stored, 0);
    omr_store_close(s);
    fresh_db();
}

static void test_claim_idempotent(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long batch, file, file2;
    omr_claim_t claim;
    CHECK(omr_store_batch_begin(s, "b1", "-j 1", &batch, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_claim(s, HASH_A, "scan.tif", 123, batch, &claim, &file, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(claim, OMR_CLAIM_TAKEN);
    omr_page_result_t pages[3];
    make_page(&pages[0], 0, 1, "000001", 4);
    make_page(&pages[1], 1, 2, "000001", 6);
    make_page(&pages[2], 2, 0, "", 0);
    pages[2].status = OMR_PAGE_NO_BARCODE;
    snprintf(pages[2].reason, sizeof pages[2].reason, "no barcode found");
    CHECK(omr_store_file_save(s, file, NULL, pages, 3, 3, NULL, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 3);
    CHECK_INT(count(s, "SELECT count(*) FROM regions"), 10);
    CHECK_INT(count(s, "SELECT count(*) FROM files WHERE status = 'done' AND pages = 3"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM review_items WHERE reason = 8 AND source = 'page'"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents WHERE dirty AND respondent = '000001'"), 1);
    /* the same content again: done, nothing changes */
    CHECK(omr_store_file_claim(s, HASH_A, "copy/scan.tif", 123, batch, &claim, &file2, &err) == OMR_OK);
    CHECK_INT(claim, OMR_CLAIM_DONE);
    CHECK_INT(file2, 0);
    CHECK_INT(count(s, "SELECT count(*) FROM files"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 3);
    /* saving an unclaimed (done) file is refused */
    CHECK(omr_store_file_save(s, file, NULL, pages, 1, 1, NULL, &err) == OMR_EINPUT);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 3);
    /* pages come back in scan order with their regions */
    omr_page_result_t *back;
    long long *ids;
    int n;
    CHECK(omr_store_load_pages(s, "A", "000001", &back, &ids, &n, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(back[1].n_regions, 6);
        CHECK_INT(back[1].regions[3].state, OMR_MARK_MARKED);
        CHECK(back[1].regions[5].m.ink > 0.049f && back[1].regions[5].m.ink < 0.051f);
        CHECK_STR(back[0].file_hash, HASH_A);
        CHECK(back[0].xform[0] == 11.8, "xform %g", back[0].xform[0]);
    }
    omr_store_pages_free(back, n);
    free(ids);
    for (int i = 0; i < 3; i++)
        omr_page_result_clear(&pages[i]);
    omr_store_close(s);
    fresh_db();
}

static void test_rollback(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long file;
    omr_claim_t claim;
    CHECK(omr_store_file_claim(s, HASH_B, "b.tif", 1, 0, &claim, &file, &err) == OMR_OK, "%s", err.msg);
    /* two pages with the same index: the second insert fails, the first must
     * not stay behind */
    omr_page_result_t pages[2];
    make_page(&pages[0], 0, 1, "000002", 3);
    make_page(&pages[1], 0, 2, "000002", 3);
    CHECK(omr_store_file_save(s, file, NULL, pages, 2, 2, NULL, &err) == OMR_EIO);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 0);
    CHECK_INT(count(s, "SELECT count(*) FROM regions"), 0);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents"), 0);
    CHECK_INT(count(s, "SELECT count(*) FROM files WHERE status = 'processing'"), 1);
    /* a process killed inside the transaction leaves nothing either */
    pid_t pid = fork();
    if (pid == 0) {
        omr_store_t *c;
        omr_error_t e;
        if (omr_store_open(dbpath, &c, &e))
            _exit(1);
        omr_store_begin(c, &e);
        sqlite3_exec(omr_store_db(c), "INSERT INTO pages(file, idx, status) SELECT id, 7, 'ok' FROM files", NULL, NULL,
                     NULL);
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 0);
    /* and the database is still usable: a correct save goes through */
    pages[1].index_in_file = 1;
    CHECK(omr_store_file_save(s, file, NULL, pages, 2, 2, NULL, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(count(s, "SELECT count(*) FROM pages"), 2);
    omr_page_result_clear(&pages[0]);
    omr_page_result_clear(&pages[1]);
    omr_store_close(s);
    fresh_db();
}

static void test_two_connections(void)
{
    fresh_db();
    omr_store_t *a, *b;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &a, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_open(dbpath, &b, &err) == OMR_OK, "%s", err.msg);
    long long fa, fb;
    omr_claim_t ca, cb;
    CHECK(omr_store_file_claim(a, HASH_C, "c.tif", 1, 0, &ca, &fa, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(ca, OMR_CLAIM_TAKEN);
    /* b sees a's live claim (same pid here: the owner is alive) */
    CHECK(omr_store_file_claim(b, HASH_C, "c.tif", 1, 0, &cb, &fb, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(cb, OMR_CLAIM_BUSY);
    /* a reader is not blocked by a writer's open transaction (WAL) */
    CHECK(omr_store_begin(a, &err) == OMR_OK, "%s", err.msg);
    sqlite3_exec(omr_store_db(a), "INSERT INTO batches(name, started) VALUES('x', 'now')", NULL, NULL, NULL);
    CHECK_INT(count(b, "SELECT count(*) FROM files"), 1);
    CHECK_INT(count(b, "SELECT count(*) FROM batches"), 0);
    CHECK(omr_store_commit(a, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(count(b, "SELECT count(*) FROM batches"), 1);
    omr_page_result_t p;
    make_page(&p, 0, 1, "000003", 2);
    CHECK(omr_store_file_save(a, fa, NULL, &p, 1, 1, NULL, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_file_claim(b, HASH_C, "c.tif", 1, 0, &cb, &fb, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(cb, OMR_CLAIM_DONE);
    omr_page_result_clear(&p);

    /* a claim left by a dead process is taken over */
    pid_t pid = fork();
    if (pid == 0) {
        omr_store_t *c;
        omr_error_t e;
        long long f;
        omr_claim_t cl;
        if (omr_store_open(dbpath, &c, &e) ||
            omr_store_file_claim(c, HASH_A, "a.tif", 1, 0, &cl, &f, &e) || cl != OMR_CLAIM_TAKEN)
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK_INT(count(a, "SELECT count(*) FROM files WHERE status = 'processing'"), 1);
    CHECK(omr_store_file_claim(b, HASH_A, "a.tif", 1, 0, &cb, &fb, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(cb, OMR_CLAIM_TAKEN);
    CHECK(fb > 0);
    CHECK_INT(count(a, "SELECT count(*) FROM files WHERE sha256 LIKE 'aaaa%'"), 1);
    omr_store_close(a);
    omr_store_close(b);
    fresh_db();
}

static void test_coding_and_review(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long batch, file;
    omr_claim_t claim;
    omr_store_batch_begin(s, "b", "", &batch, &err);
    omr_store_file_claim(s, HASH_A, "a.tif", 1, batch, &claim, &file, &err);
    omr_page_result_t p;
    make_page(&p, 0, 3, "000009", 2);
    CHECK(omr_store_file_save(s, file, NULL, &p, 1, 1, NULL, &err) == OMR_OK, "%s", err.msg);
    omr_page_result_clear(&p);
    omr_store_key_t *keys;
    int nk;
    CHECK(omr_store_dirty_respondents(s, &keys, &nk, &err) == OMR_OK);
    CHECK_INT(nk, 1);
    if (nk == 1)
        CHECK_STR(keys[0].respondent, "000009");
    free(keys);
    long long page = 0;
    {
        omr_page_result_t *pp;
        long long *ids;
        int n;
        omr_store_load_pages(s, "A", "000009", &pp, &ids, &n, &err);
        if (n == 1)
            page = ids[0];
        omr_store_pages_free(pp, n);
        free(ids);
    }
    omr_store_value_t vals[] = {{0, 0, "Q1", "2", OMR_VALUE_CERTAIN}, {0, 1, "Q2_1", "", OMR_VALUE_REVIEW}};
    omr_store_item_t items[] = {{OMR_REVIEW_DOUBTFUL_MARK, 0, page, "Q2", "Q2_1", "1", "faint"},
                                {OMR_REVIEW_TEXT, 0, page, "Q2", "Q2_6_text", "", "transcribe"}};
    int case_of_page = 0;
    CHECK(omr_store_save_coding(s, "A", "000009", batch, vals, 2, items, 2, &page, &case_of_page, 1, &err) == OMR_OK,
          "%s", err.msg);
    CHECK_INT(count(s, "SELECT count(*) FROM responses"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents WHERE NOT dirty AND NOT complete"), 1);
    int id1 = count(s, "SELECT id FROM review_items WHERE var = 'Q2_1'");
    /* re-coding with the same result keeps ids and changes nothing */
    CHECK(omr_store_save_coding(s, "A", "000009", batch, vals, 2, items, 2, &page, &case_of_page, 1, &err) == OMR_OK);
    CHECK_INT(count(s, "SELECT id FROM review_items WHERE var = 'Q2_1'"), id1);
    CHECK_INT(count(s, "SELECT count(*) FROM review_items"), 2);

    /* lease, decide once, decide again refused */
    long long item;
    CHECK(omr_store_item_lease(s, "alice", 600, &item, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(item, id1);
    long long item2;
    CHECK(omr_store_item_lease(s, "bob", 600, &item2, &err) == OMR_OK);
    CHECK(item2 != item && item2 > 0);
    CHECK(omr_store_item_decide(s, item, "alice", "1", &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_item_decide(s, item, "bob", "0", &err) == OMR_EINPUT);
    CHECK_INT(count(s, "SELECT count(*) FROM decisions"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents WHERE dirty"), 1);
    omr_store_decision_t *dec;
    int nd;
    CHECK(omr_store_decisions(s, "A", "000009", &dec, &nd, &err) == OMR_OK);
    CHECK_INT(nd, 1);
    if (nd == 1) {
        CHECK_STR(dec[0].var, "Q2_1");
        CHECK_STR(dec[0].after, "1");
    }
    free(dec);
    /* re-coded with the override: the coder no longer raises the item; it
     * stays (resolved, with its decision), the other one too */
    vals[1].value = "1";
    vals[1].status = OMR_VALUE_RESOLVED;
    CHECK(omr_store_save_coding(s, "A", "000009", batch, vals, 2, items + 1, 1, &page, &case_of_page, 1, &err) ==
          OMR_OK);
    CHECK_INT(count(s, "SELECT count(*) FROM review_items"), 2);
    CHECK_INT(count(s, "SELECT count(*) FROM review_items WHERE state = 'resolved' AND current = 0"), 1);
    /* undo: reopened, decision kept as history, respondent dirty again */
    CHECK(omr_store_item_undo(s, item, "carol", &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_item_undo(s, item, "carol", &err) == OMR_EINPUT);
    CHECK_INT(count(s, "SELECT count(*) FROM decisions WHERE undone = 1 AND undone_by = 'carol'"), 1);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents WHERE dirty"), 1);
    CHECK(omr_store_decisions(s, "A", "000009", &dec, &nd, &err) == OMR_OK);
    CHECK_INT(nd, 0);
    free(dec);
    /* re-coded without the override: the same item (same id) is open again */
    vals[1].value = "";
    vals[1].status = OMR_VALUE_REVIEW;
    CHECK(omr_store_save_coding(s, "A", "000009", batch, vals, 2, items, 2, &page, &case_of_page, 1, &err) == OMR_OK);
    CHECK_INT(count(s, "SELECT id FROM review_items WHERE var = 'Q2_1' AND state = 'open' AND current = 1"), id1);
    /* an item the coder drops without any decision disappears */
    CHECK(omr_store_save_coding(s, "A", "000009", batch, vals, 1, NULL, 0, &page, &case_of_page, 1, &err) == OMR_OK);
    CHECK_INT(count(s, "SELECT count(*) FROM review_items WHERE var = 'Q2_6_text'"), 0);
    CHECK_INT(count(s, "SELECT count(*) FROM respondents WHERE complete AND NOT dirty"), 1);

    omr_store_summary_t sum;
    CHECK(omr_store_batch_summary(s, batch, &sum, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(sum.pages, 1);
    CHECK_INT(sum.identified, 1);
    CHECK_INT(sum.respondents_complete, 1);
    omr_store_close(s);
    fresh_db();
}

/* The batch report's light pages: the pages of the batch with a region that
 * the light-scan rule made doubtful, in file and page order, and no other. */
static void on_light(void *ctx, const char *path, int page)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s:%d;", path, page);
}

static void test_light_pages(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long batch, file;
    omr_claim_t claim;
    omr_store_batch_begin(s, "b", "", &batch, &err);
    omr_store_file_claim(s, HASH_C, "light.tif", 1, batch, &claim, &file, &err);
    omr_page_result_t p[3];
    make_page(&p[0], 0, 1, "000011", 4);
    make_page(&p[1], 1, 2, "000011", 4);
    make_page(&p[2], 2, 3, "000011", 4);
    p[1].regions[2].state = OMR_MARK_DOUBTFUL;
    p[1].regions[2].doubt = OMR_DOUBT_LIGHT_SCAN;
    p[2].regions[0].state = OMR_MARK_DOUBTFUL;
    p[2].regions[0].doubt = OMR_DOUBT_BORDERLINE; /* doubtful, but not for the scan's lightness */
    CHECK(omr_store_file_save(s, file, NULL, p, 3, 3, NULL, &err) == OMR_OK, "%s", err.msg);
    char out[256] = "";
    CHECK(omr_store_batch_light_pages(s, batch, on_light, out, &err) == OMR_OK, "%s", err.msg);
    CHECK_STR(out, "light.tif:1;");
    for (int i = 0; i < 3; i++)
        omr_page_result_clear(&p[i]);
    omr_store_close(s);
    fresh_db();
}

/* A page that was not read belongs to its respondent (the coder blocks its
 * questions) until an operator throws it out (its page-level item decided
 * reject or duplicate); undo brings it back. The coder's page -> case
 * mapping lands in pages.case_number. */
static void test_rejected_page(void)
{
    fresh_db();
    omr_store_t *s;
    omr_error_t err;
    CHECK(omr_store_open(dbpath, &s, &err) == OMR_OK, "%s", err.msg);
    long long batch, file;
    omr_claim_t claim;
    omr_store_batch_begin(s, "b", "", &batch, &err);
    omr_store_file_claim(s, HASH_B, "b.tif", 1, batch, &claim, &file, &err);
    omr_page_result_t p[2];
    make_page(&p[0], 0, 7, "000007", 2);
    make_page(&p[1], 1, 8, "000007", 0);
    p[1].status = OMR_PAGE_REGISTER_FAILED;
    snprintf(p[1].reason, sizeof p[1].reason, "corner marks not found");
    CHECK(omr_store_file_save(s, file, NULL, p, 2, 2, NULL, &err) == OMR_OK, "%s", err.msg);
    omr_page_result_clear(&p[0]);
    omr_page_result_clear(&p[1]);
    omr_page_result_t *pp;
    long long *ids;
    int n = 0;
    CHECK(omr_store_load_pages(s, "A", "000007", &pp, &ids, &n, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(n, 2);
    int page_case[2] = {2, -1};
    if (n == 2)
        CHECK(omr_store_save_coding(s, "A", "000007", batch, NULL, 0, NULL, 0, ids, page_case, 2, &err) == OMR_OK,
              "%s", err.msg);
    omr_store_pages_free(pp, n);
    free(ids);
    CHECK_INT(count(s, "SELECT case_number FROM pages WHERE idx = 0"), 2);
    CHECK_INT(count(s, "SELECT case_number FROM pages WHERE idx = 1"), -1);
    int item = count(s, "SELECT id FROM review_items WHERE source = 'page' AND reason = 10");
    CHECK(item > 0, "page-level item of the unread page");
    CHECK(omr_store_item_decide(s, item, "alice", "reject", &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_load_pages(s, "A", "000007", &pp, &ids, &n, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_INT(pp[0].page_number, 7);
    omr_store_pages_free(pp, n);
    free(ids);
    CHECK(omr_store_item_undo(s, item, "alice", &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_load_pages(s, "A", "000007", &pp, &ids, &n, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(n, 2);
    omr_store_pages_free(pp, n);
    free(ids);
    omr_store_close(s);
    fresh_db();
}

int main(void)
{
    RUN(test_schema);
    RUN(test_migrate_v1);
    RUN(test_bind_survey);
    RUN(test_mask_cache);
    RUN(test_claim_idempotent);
    RUN(test_unstored_files);
    RUN(test_rollback);
    RUN(test_two_connections);
    RUN(test_coding_and_review);
    RUN(test_rejected_page);
    RUN(test_light_pages);
    return check_report();
}
