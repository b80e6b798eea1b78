/* test_review.c -- the review server over real HTTP on a loopback port
 * (review.h, issue 4): login and sessions, CSRF, the queue, decisions
 * recorded and re-coded, undo, group review, page view, every kind of bad
 * request refused with a 4xx and no change, and two operators at once
 * deciding every item exactly once.
 *
 * Fixture: one page of form A drawn by the printer (omr_print_render_page)
 * and saved as PNG, stored for several respondents through store.h with
 * region states chosen to raise items of several kinds (two marks, doubtful
 * marks, handwritten boxes, text), coded by the real coder; plus one page
 * without a barcode. The expected values come from the template (option
 * codes), not from the server.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "http_client.h"
#include "print.h"
#include "review.h"
#include "review_internal.h"
#include "store.h"

#define N_RESP 6

static char g_dir[256], g_db[300], g_png[300];
static omr_survey_t *g_survey;
static const omr_form_t *g_form;
static int g_page;                 /* template page index used */
static omr_review_server_t *g_srv;
static int g_port;

/* ---- a tiny HTTP client (http_client.h) ---- */

static int http_raw(const char *req, size_t reqlen, resp_t *out) { return http_send(g_port, req, reqlen, out); }

typedef struct {
    char cookie[200];
    char csrf[80];
} client_t;

static int http(const client_t *c, const char *method, const char *path, const char *body, resp_t *out)
{
    char *req = malloc(strlen(body ? body : "") + 1024);
    int n = sprintf(req,
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s%s%s%s%s"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                    method, path, g_port, c && c->cookie[0] ? "Cookie: " : "", c ? c->cookie : "",
                    c && c->cookie[0] ? "\r\n" : "", c && c->csrf[0] ? "X-CSRF-Token: " : "", c ? c->csrf : "",
                    c && c->csrf[0] ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    int r = http_raw(req, (size_t)n, out);
    free(req);
    return r;
}

static json_t *http_json(const client_t *c, const char *method, const char *path, const char *body, int *pstatus)
{
    resp_t r;
    if (http(c, method, path, body, &r)) {
        *pstatus = -1;
        return NULL;
    }
    *pstatus = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    resp_free(&r);
    return j;
}

static int login(client_t *c, const char *name, const char *pw)
{
    memset(c, 0, sizeof *c);
    char body[200];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    resp_t r;
    if (http(NULL, "POST", "/api/login", body, &r))
        return -1;
    int st = r.status;
    snprintf(c->cookie, sizeof c->cookie, "%s", r.cookie);
    json_t *j = json_loads(r.body, 0, NULL);
    const char *csrf = json_string_value(json_object_get(j, "csrf"));
    snprintf(c->csrf, sizeof c->csrf, "%s", csrf ? csrf : "");
    json_decref(j);
    resp_free(&r);
    return st;
}

/* ---- DB probes (the server holds its own connection; WAL lets us read) ---- */

static long long q_int(const char *sql)
{
    sqlite3 *db;
    long long v = -1;
    if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

/* Run one statement on the store as another process would (the server's
 * connection sees it at its next read). Returns 0 on success. */
static int q_exec(const char *sql)
{
    sqlite3 *db;
    int rc = -1;
    if (sqlite3_open(g_db, &db) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    }
    sqlite3_close(db);
    return rc;
}

/* The coder thread re-codes decided respondents just after the request:
 * wait (bounded) until nothing is dirty. */
static int wait_coded(void)
{
    for (int i = 0; i < 500; i++) {
        if (q_int("SELECT count(*) FROM respondents WHERE dirty = 1") == 0)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* A fingerprint of everything a request could change. */
static long long state_sum(void)
{
    return q_int("SELECT (SELECT count(*) FROM decisions) * 1000000 + (SELECT count(*) FROM review_items WHERE state"
                 " = 'resolved') * 1000 + (SELECT count(*) FROM review_items WHERE state = 'leased')");
}

/* ---- fixture ---- */

static int kind_on_page(const omr_form_t *f, int page, omr_kind_t k)
{
    for (int i = 0; i < f->n_questions; i++)
        if (f->questions[i].page == page && f->questions[i].kind == k)
            return 1;
    return 0;
}

static void fill_regions(const omr_page_t *tp, omr_region_result_t *rr, int variant)
{
    int single_seen = 0;
    for (int qi = 0; qi < g_form->n_questions; qi++) {
        const omr_question_t *q = &g_form->questions[qi];
        if (q->page != g_page || q->n_regions == 0)
            continue;
        omr_region_result_t *r = &rr[q->first_region];
        const omr_region_t *t = &tp->regions[q->first_region];
        switch (q->kind) {
        case OMR_KIND_SINGLE:
            single_seen++;
            r[0].state = OMR_MARK_MARKED, r[0].m.ink = 0.4f, r[0].m.score = 0.95f;
            if (single_seen == 1 && q->n_regions > 1) /* two marks where one is allowed */
                r[1].state = OMR_MARK_MARKED, r[1].m.ink = 0.4f, r[1].m.score = 0.95f;
            if (single_seen == 2 && q->n_regions > 1) { /* a faint second mark */
                r[0].state = OMR_MARK_BLANK;
                r[1].state = OMR_MARK_DOUBTFUL, r[1].doubt = OMR_DOUBT_FAINT, r[1].m.score = 0.45f;
            }
            break;
        case OMR_KIND_MULTI:
        case OMR_KIND_TICKLIST:
            r[0].state = OMR_MARK_MARKED, r[0].m.score = 0.9f;
            if (q->n_regions > 2)
                r[2].state = OMR_MARK_DOUBTFUL, r[2].doubt = OMR_DOUBT_FAINT, r[2].m.score = 0.4f + 0.02f * variant;
            break;
        case OMR_KIND_TOP3:
            for (int i = 0; i < q->n_regions; i++)
                if (t[i].kind == OMR_REGION_DIGIT && i < 2)
                    r[i].has_ink = 1, r[i].digit = q->options[i % q->n_options].code % 10, r[i].digit_conf = 0.9f;
            break;
        case OMR_KIND_TEXT:
            r[0].has_ink = 1;
            break;
        default:
            break;
        }
    }
}

static void make_fixture(void)
{
    omr_error_t err;
    snprintf(g_dir, sizeof g_dir, "/tmp/omr-test-review-%d", (int)getpid());
    mkdir(g_dir, 0700);
    snprintf(g_db, sizeof g_db, "%s/review.db", g_dir);
    snprintf(g_png, sizeof g_png, "%s/page.png", g_dir);
    unlink(g_db);
    if (omr_template_load("templates/ipa-itsc-2018", &g_survey, &err)) {
        fprintf(stderr, "templates: %s\n", err.msg);
        exit(1);
    }
    g_form = omr_template_form(g_survey, "A");
    /* the page with the most kinds on it */
    int best = 0, best_n = -1;
    for (int p = 0; p < g_form->n_pages; p++) {
        int n = kind_on_page(g_form, p, OMR_KIND_SINGLE) * 2 + kind_on_page(g_form, p, OMR_KIND_MULTI) +
                kind_on_page(g_form, p, OMR_KIND_TOP3) + kind_on_page(g_form, p, OMR_KIND_TEXT);
        if (n > best_n && !g_form->pages[p].is_case)
            best = p, best_n = n;
    }
    g_page = best;
    const double dpi = 100;
    int w = 0, h = 0;
    omr_store_t *s;
    if (omr_store_open(g_db, &s, &err) || omr_review_schema(s, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        exit(1);
    }
    long long batch;
    omr_store_batch_begin(s, "fixture", "", &batch, &err);
    const omr_page_t *tp = &g_form->pages[g_page];
    for (int k = 0; k <= N_RESP; k++) {
        /* each respondent's page is a file of its own (its barcode differs),
         * stored with its real SHA-256 and size: the server shows a page only
         * from the file that was scanned (review_files.c) */
        char id[16], hash[65];
        snprintf(id, sizeof id, "%06d", 101 + k);
        snprintf(g_png, sizeof g_png, "%s/page-%d.png", g_dir, k);
        PIX *pix = omr_print_render_page(g_survey, g_form, g_page, id, dpi, &err);
        if (!pix || pixWrite(g_png, pix, IFF_PNG)) {
            fprintf(stderr, "render: %s\n", err.msg);
            exit(1);
        }
        w = pixGetWidth(pix), h = pixGetHeight(pix);
        pixDestroy(&pix);
        unsigned char md[32];
        long long size;
        if (omr_load_hash_file(g_png, md, &size, NULL, NULL, &err)) {
            fprintf(stderr, "hash: %s\n", err.msg);
            exit(1);
        }
        omr_load_sha256_hex(md, hash);
        omr_page_result_t r;
        memset(&r, 0, sizeof r);
        snprintf(r.file, sizeof r.file, "%s", g_png);
        snprintf(r.file_hash, sizeof r.file_hash, "%s", hash);
        r.width = w, r.height = h, r.dpi = dpi;
        if (k < N_RESP) {
            r.status = OMR_PAGE_OK;
            snprintf(r.form, sizeof r.form, "A");
            r.page_number = g_page + 1;
            snprintf(r.respondent, sizeof r.respondent, "%06d", 101 + k);
            double s_ = dpi / 25.4;
            r.xform[0] = s_, r.xform[4] = s_;
            r.n_regions = tp->n_regions;
            r.regions = calloc((size_t)tp->n_regions, sizeof *r.regions);
            for (int i = 0; i < tp->n_regions; i++)
                r.regions[i].digit = -1;
            fill_regions(tp, r.regions, k);
        } else {
            r.status = OMR_PAGE_NO_BARCODE;
            snprintf(r.reason, sizeof r.reason, "no page barcode found in any orientation");
        }
        omr_claim_t claim;
        long long file;
        if (omr_store_file_claim(s, hash, g_png, size, batch, &claim, &file, &err) ||
            omr_store_file_save(s, file, g_survey, &r, 1, 1, NULL, &err)) {
            fprintf(stderr, "store page: %s\n", err.msg);
            exit(1);
        }
        omr_page_result_clear(&r);
    }
    for (int k = 0; k < N_RESP; k++) {
        char resp[16];
        snprintf(resp, sizeof resp, "%06d", 101 + k);
        if (omr_review_recode(s, g_survey, "A", resp, &err)) {
            fprintf(stderr, "code: %s\n", err.msg);
            exit(1);
        }
    }
    if (omr_review_operator_add(s, "alice", "alice-password", 0, &err) ||
        omr_review_operator_add(s, "bob", "bob-password", 0, &err)) {
        fprintf(stderr, "operators: %s\n", err.msg);
        exit(1);
    }
    omr_store_close(s);
}

static omr_review_server_t *start_server_with(const char *const *dirs, int n_dirs, int warm);

static void start_server(void)
{
    if (!(g_srv = start_server_with(NULL, 0, 1)))
        exit(1);
}

/* A value the item takes, from the template's options, not the server. */
static void valid_value(json_t *item, char *buf, size_t n)
{
    const char *input = json_string_value(json_object_get(item, "input"));
    const char *prop = json_string_value(json_object_get(item, "proposal"));
    json_t *opts = json_object_get(item, "options");
    if (!strcmp(input, "page"))
        snprintf(buf, n, "reject");
    else if (!strcmp(input, "dup"))
        snprintf(buf, n, "duplicate");
    else if (!strcmp(input, "text"))
        snprintf(buf, n, json_object_get(item, "hint") ? "" : "株式会社テスト");
    else if ((!strcmp(input, "choice") || !strcmp(input, "digits")) && json_array_size(opts))
        snprintf(buf, n, "%lld", (long long)json_integer_value(json_object_get(json_array_get(opts, 0), "code")));
    else
        snprintf(buf, n, "%s", prop ? prop : "");
}

/* ---- tests ---- */

static void test_fixture_has_items(void)
{
    CHECK(q_int("SELECT count(*) FROM review_items WHERE current = 1") >= 10, "fixture too small");
    CHECK(q_int("SELECT count(*) FROM review_items WHERE reason = 2") >= 1, "no multiple-marks item");
    CHECK(q_int("SELECT count(*) FROM review_items WHERE reason = 1") >= 1, "no doubtful item");
    CHECK(q_int("SELECT count(*) FROM review_items WHERE reason = 8") == 1, "no page-level item");
    CHECK(q_int("SELECT count(*) FROM operators WHERE hash LIKE '$argon2id$%'") == 2, "passwords not Argon2id hashes");
    CHECK(q_int("SELECT count(*) FROM operators WHERE hash LIKE '%password%'") == 0, "password in clear");
}

static void test_page_built_in(void)
{
    resp_t r;
    CHECK(http(NULL, "GET", "/", NULL, &r) == 0 && r.status == 200);
    CHECK(strstr(r.body, "<script src=\"/app.js\"") != NULL);
    CHECK(!strstr(r.body, "http://") && !strstr(r.body, "https://"), "the page must not load anything from elsewhere");
    resp_free(&r);
    /* the embedded page is the committed source (tools/gen-review-page.sh was run) */
    char *js = omr_read_file("omr/review_web/app.js", 1 << 22, NULL, NULL);
    char *css = omr_read_file("omr/review_web/app.css", 1 << 22, NULL, NULL);
    char *html = omr_read_file("omr/review_web/index.html", 1 << 22, NULL, NULL);
    CHECK(js && !strcmp(js, omr_review_page_js), "review_page.c is stale: run tools/gen-review-page.sh");
    CHECK(css && !strcmp(css, omr_review_page_css), "review_page.c is stale: run tools/gen-review-page.sh");
    CHECK(html && !strcmp(html, omr_review_page_html), "review_page.c is stale: run tools/gen-review-page.sh");
    free(js), free(css), free(html);
}

static void test_login_and_session(void)
{
    client_t c;
    CHECK_INT(login(&c, "alice", "wrong-password"), 401);
    CHECK_INT(login(&c, "mallory", "alice-password"), 401);
    CHECK_INT(login(&c, "../etc", "x"), 401);
    long long before = state_sum();
    int st;
    client_t none = {0};
    json_t *j = http_json(&none, "POST", "/api/next", "{}", &st);
    CHECK_INT(st, 401);
    json_decref(j);
    j = http_json(&none, "GET", "/api/progress", NULL, &st);
    CHECK_INT(st, 401);
    json_decref(j);
    client_t forged = {.cookie = "omr_session=0000000000000000000000000000000000000000000000000000000000000000"};
    j = http_json(&forged, "GET", "/api/progress", NULL, &st);
    CHECK_INT(st, 401);
    json_decref(j);
    resp_t r;
    CHECK(http(&none, "GET", "/img/page/1.png", NULL, &r) == 0 && r.status == 401);
    resp_free(&r);
    CHECK_INT(state_sum(), before);
    CHECK_INT(login(&c, "alice", "alice-password"), 200);
    CHECK(strlen(c.csrf) == 64);
    CHECK(!strncmp(c.cookie, "omr_session=", 12) && strlen(c.cookie) == 12 + 64);
    j = http_json(&c, "GET", "/api/me", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(json_string_value(json_object_get(j, "operator")) ?: "", "alice");
    json_decref(j);
    /* logout ends the session */
    j = http_json(&c, "POST", "/api/logout", "{}", &st);
    CHECK_INT(st, 200);
    json_decref(j);
    j = http_json(&c, "GET", "/api/me", NULL, &st);
    CHECK_INT(st, 401);
    json_decref(j);
}

static void test_cookie_flags(void)
{
    resp_t r;
    CHECK(http(NULL, "POST", "/api/login", "{\"name\":\"alice\",\"password\":\"alice-password\"}", &r) == 0);
    CHECK(strstr(r.set_cookie, "HttpOnly") != NULL, "%s", r.set_cookie);
    CHECK(strstr(r.set_cookie, "SameSite=Strict") != NULL, "%s", r.set_cookie);
    resp_free(&r);
}

static void test_csrf(void)
{
    client_t c;
    login(&c, "alice", "alice-password");
    long long before = state_sum();
    client_t no = c;
    no.csrf[0] = 0;
    int st;
    json_t *j = http_json(&no, "POST", "/api/next", "{}", &st);
    CHECK_INT(st, 403);
    json_decref(j);
    client_t wrong = c;
    wrong.csrf[0] = wrong.csrf[0] == 'a' ? 'b' : 'a';
    j = http_json(&wrong, "POST", "/api/next", "{}", &st);
    CHECK_INT(st, 403);
    json_decref(j);
    /* another site's page posting with the cookie */
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /api/next HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\nCookie: %s\r\n"
                     "X-CSRF-Token: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                     g_port, c.cookie, c.csrf);
    resp_t r;
    CHECK(http_raw(req, (size_t)n, &r) == 0 && r.status == 403, "status %d", r.status);
    resp_free(&r);
    CHECK_INT(state_sum(), before);
}

static json_t *next_item(const client_t *c, int *pst)
{
    json_t *j = http_json(c, "POST", "/api/next", "{}", pst);
    json_t *it = json_incref(json_object_get(j, "item"));
    json_decref(j);
    return it;
}

static void test_decide_and_undo(void)
{
    client_t c;
    login(&c, "alice", "alice-password");
    int st;
    json_t *it = next_item(&c, &st);
    CHECK_INT(st, 200);
    CHECK(json_is_object(it));
    if (!json_is_object(it))
        return;
    long long id = json_integer_value(json_object_get(it, "id"));
    CHECK_STR(json_string_value(json_object_get(it, "lease_owner")), "alice");
    char value[300], body[600];
    valid_value(it, value, sizeof value);
    /* a crop of the region exists and is a PNG */
    const char *img = json_string_value(json_object_get(it, "image"));
    if (img) {
        resp_t r;
        CHECK(http(&c, "GET", img, NULL, &r) == 0 && r.status == 200 && !strcmp(r.type, "image/png") &&
              r.len > 8 && !memcmp(r.body, "\x89PNG", 4));
        resp_free(&r);
    }
    /* invalid values: nothing changes */
    long long before = state_sum();
    const char *bad[] = {"{\"item\":%lld,\"value\":\"999\"}", "{\"item\":%lld,\"value\":\"-1\"}",
                         "{\"item\":%lld,\"value\":7}", "{\"item\":%lld}", "{\"item\":%lld,\"value\":\"1\",\"value\":\"2\"}"};
    const char *input = json_string_value(json_object_get(it, "input"));
    for (int i = 0; i < 5; i++) {
        if (i == 0 && !strcmp(input, "text"))
            continue; /* any text is a transcription */
        snprintf(body, sizeof body, bad[i], id);
        json_t *j = http_json(&c, "POST", "/api/decide", body, &st);
        CHECK_INT(st, 400);
        CHECK(json_string_value(json_object_get(j, "error")) != NULL, "a 4xx says why");
        json_decref(j);
    }
    CHECK_INT(state_sum(), before);
    /* the decision */
    json_t *jb = json_pack("{s:I,s:s}", "item", (json_int_t)id, "value", value);
    char *b = json_dumps(jb, 0);
    json_t *j = http_json(&c, "POST", "/api/decide", b, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM decisions WHERE item = %lld AND operator = 'alice' AND undone = 0 AND time != ''", id);
    CHECK_INT(q_int(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM review_items WHERE id = %lld AND state = 'resolved'", id);
    CHECK_INT(q_int(sql), 1);
    /* re-coded: the respondent is not dirty, and a resolved response exists for a column decision */
    CHECK(wait_coded(), "the decided respondent was not re-coded");
    const char *var = json_string_value(json_object_get(it, "var"));
    if (var && var[0] && strncmp(var, "page:", 5)) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM responses WHERE name = '%s' AND status = 'resolved'", var);
        CHECK(q_int(sql) >= 1, "no resolved response for %s", var);
    }
    /* decided twice: refused */
    before = state_sum();
    j = http_json(&c, "POST", "/api/decide", b, &st);
    CHECK_INT(st, 409);
    json_decref(j);
    CHECK_INT(state_sum(), before);
    /* undo: the decision stays in history, the item comes back to alice */
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    j = http_json(&c, "POST", "/api/undo", body, &st);
    CHECK_INT(st, 200);
    CHECK_INT(json_integer_value(json_object_get(j, "undone")), id);
    json_decref(j);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM decisions WHERE item = %lld AND undone = 1 AND undone_by = 'alice'", id);
    CHECK_INT(q_int(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM review_items WHERE id = %lld AND state = 'leased' AND lease_owner = 'alice'",
             id);
    CHECK_INT(q_int(sql), 1);
    CHECK(wait_coded(), "the undone respondent was not re-coded");
    if (var && var[0] && strncmp(var, "page:", 5)) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM responses WHERE name = '%s' AND status = 'resolved'", var);
        CHECK_INT(q_int(sql), 0);
    }
    /* and decided again */
    j = http_json(&c, "POST", "/api/decide", b, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    free(b);
    json_decref(jb);
    json_decref(it);
}

static void test_foreign_lease_and_bad_ids(void)
{
    client_t a, b;
    login(&a, "alice", "alice-password");
    login(&b, "bob", "bob-password");
    int st;
    json_t *it = next_item(&a, &st);
    if (!json_is_object(it)) {
        CHECK(0, "no item");
        return;
    }
    long long id = json_integer_value(json_object_get(it, "id"));
    char value[300], body[600];
    valid_value(it, value, sizeof value);
    long long before = state_sum();
    json_t *jb = json_pack("{s:I,s:s}", "item", (json_int_t)id, "value", value);
    char *bd = json_dumps(jb, 0);
    json_t *j = http_json(&b, "POST", "/api/decide", bd, &st);
    CHECK_INT(st, 409);
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    j = http_json(&b, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 409);
    json_decref(j);
    CHECK_INT(state_sum(), before);
    /* bob's next item is another one */
    json_t *it2 = next_item(&b, &st);
    CHECK(json_is_object(it2) && json_integer_value(json_object_get(it2, "id")) != id);
    json_decref(it2);
    before = state_sum();
    const char *bad[] = {"{\"item\":999999,\"value\":\"1\"}", "{\"item\":\"12\",\"value\":\"1\"}",
                         "{\"item\":-3,\"value\":\"1\"}", "{\"item\":1.5,\"value\":\"1\"}", "not json", "[1,2]"};
    int want[] = {404, 400, 400, 400, 400, 400};
    for (int i = 0; i < 6; i++) {
        j = http_json(&a, "POST", "/api/decide", bad[i], &st);
        CHECK(st == want[i], "case %d: status %d, want %d", i, st, want[i]);
        json_decref(j);
    }
    j = http_json(&a, "POST", "/api/undo", "{\"item\":999999}", &st);
    CHECK_INT(st, 404);
    json_decref(j);
    CHECK_INT(state_sum(), before);
    /* alice can still decide it */
    j = http_json(&a, "POST", "/api/decide", bd, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    free(bd);
    json_decref(jb);
    json_decref(it);
}

static void test_paths_and_body_limit(void)
{
    client_t c;
    login(&c, "alice", "alice-password");
    long long before = state_sum();
    const char *paths[] = {"/img/item/../../etc/passwd", "/img/item/..%2F..%2Fetc%2Fpasswd", "/img/page/%2e%2e/x.png",
                           "/img/page/1.png/../../../etc/passwd", "/img/item/1.png%00.txt", "/img/page/-1.png",
                           "/img//etc/passwd", "/api/item/1%20OR%201=1", "/img/page/99999999999999999999.png",
                           "/api/page/0"};
    for (int i = 0; i < 10; i++) {
        resp_t r;
        CHECK(http(&c, "GET", paths[i], NULL, &r) == 0);
        CHECK(r.status >= 400 && r.status < 500, "%s: status %d", paths[i], r.status);
        CHECK(!strstr(r.body, "root:"), "%s leaked a file", paths[i]);
        resp_free(&r);
    }
    /* oversized bodies: with Content-Length, and with a lie-free big JSON */
    size_t big = 200 * 1024;
    char *body = malloc(big + 32);
    memset(body, ' ', big);
    memcpy(body, "{\"item\":1,\"value\":\"", 19);
    memcpy(body + big - 2, "\"}", 2);
    body[big] = 0;
    int st;
    json_t *j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 413);
    json_decref(j);
    /* chunked, no Content-Length: counted as it comes */
    char *req = malloc(big + 1024);
    int n = sprintf(req,
                    "POST /api/decide HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%zx\r\n",
                    g_port, c.cookie, c.csrf, big);
    memcpy(req + n, body, big);
    n += (int)big;
    n += sprintf(req + n, "\r\n0\r\n\r\n");
    resp_t r;
    CHECK(http_raw(req, (size_t)n, &r) == 0 && r.status == 413, "chunked: status %d", r.status);
    resp_free(&r);
    free(req);
    free(body);
    CHECK_INT(state_sum(), before);
}

static void test_page_item_and_view(void)
{
    client_t c;
    login(&c, "alice", "alice-password");
    long long id = q_int("SELECT id FROM review_items WHERE reason = 8");
    char body[300];
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    int st;
    json_t *j = http_json(&c, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 200);
    json_t *it = json_object_get(j, "item");
    CHECK_STR(json_string_value(json_object_get(it, "input")) ?: "", "page");
    const char *pimg = json_string_value(json_object_get(it, "page_image"));
    CHECK(pimg != NULL, "a page-level item shows the whole page");
    if (pimg) {
        resp_t r;
        CHECK(http(&c, "GET", pimg, NULL, &r) == 0 && r.status == 200 && !memcmp(r.body, "\x89PNG", 4));
        resp_free(&r);
    }
    json_decref(j);
    long long before = state_sum();
    const char *bad[] = {"assign:Z:1:000101", "assign:A:99:000101", "assign:A:1:../x", "1", "accept"};
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"%s\"}", id, bad[i]);
        j = http_json(&c, "POST", "/api/decide", body, &st);
        CHECK(st == 400, "%s: status %d", bad[i], st);
        json_decref(j);
    }
    CHECK_INT(state_sum(), before);
    snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"assign:A:%d:000199\"}", id, g_page + 1);
    j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM decisions WHERE item = %lld AND after LIKE 'assign:A:%%:000199'", id);
    CHECK_INT(q_int(sql), 1);
    /* page view: every template region over the page, with a state */
    long long page = q_int("SELECT min(id) FROM pages WHERE status = 'ok'");
    char path[100];
    snprintf(path, sizeof path, "/api/page/%lld", page);
    j = http_json(&c, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    json_t *regs = json_object_get(j, "regions");
    CHECK_INT(json_array_size(regs), g_form->pages[g_page].n_regions);
    int doubtful = 0, marked = 0;
    for (size_t i = 0; i < json_array_size(regs); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(regs, i), "state"));
        doubtful += s && !strcmp(s, "doubtful");
        marked += s && !strcmp(s, "marked");
    }
    CHECK(doubtful >= 1 && marked >= 1, "doubtful %d marked %d", doubtful, marked);
    json_decref(j);
}

/* The assignment of test_page_item_and_view was real: the page was read
 * again as the assigned page and coded for its respondent; undo puts the
 * page back. Then a missing page: confirmed with "missing", or supplied by
 * assigning the unidentified page to it. */
static void test_assign_and_missing(void)
{
    client_t c;
    login(&c, "alice", "alice-password");
    long long id = q_int("SELECT id FROM review_items WHERE reason = 8");
    long long page = q_int("SELECT page FROM review_items WHERE reason = 8");
    char sql[300], body[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pages WHERE id = %lld AND status = 'ok' AND form = 'A'"
                              " AND respondent = '000199' AND page_number = %d", page, g_page + 1);
    CHECK_INT(q_int(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM regions WHERE page = %lld", page);
    CHECK_INT(q_int(sql), g_form->pages[g_page].n_regions);
    CHECK(wait_coded(), "respondent 000199 not coded");
    CHECK(q_int("SELECT count(*) FROM responses WHERE respondent = '000199'") > 0, "the assigned page was not coded");
    int st;
    /* another page-level item on the assigned page (as when the coder finds
     * the respondent already had that page): rejecting it and undoing that
     * reopens the item and leaves the assignment alone */
    snprintf(sql, sizeof sql,
             "INSERT INTO review_items(key, source, reason, form, respondent, page, created)"
             " VALUES ('test-second-page-item', 'page', 9, 'A', '000199', %lld, '2026-01-01T00:00:00Z')", page);
    CHECK_INT(q_exec(sql), 0);
    long long other = q_int("SELECT id FROM review_items WHERE key = 'test-second-page-item'");
    snprintf(body, sizeof body, "{\"item\":%lld}", other);
    json_t *j = http_json(&c, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"reject\"}", other);
    j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld}", other);
    j = http_json(&c, "POST", "/api/undo", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pages WHERE id = %lld AND status = 'ok' AND respondent = '000199'",
             page);
    CHECK(q_int(sql) == 1, "undoing a reject on the page took its assignment back");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM decisions WHERE item = %lld AND undone = 0 AND after LIKE 'assign:%%'",
             id);
    CHECK_INT(q_int(sql), 1);
    CHECK(wait_coded(), "not re-coded after the second undo");
    q_exec("DELETE FROM review_items WHERE key = 'test-second-page-item'");
    /* undo: the page is as scanned again, the respondent has nothing */
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    j = http_json(&c, "POST", "/api/undo", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pages WHERE id = %lld AND status = 'no_barcode'"
                              " AND coalesce(respondent, '') = ''", page);
    CHECK_INT(q_int(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM regions WHERE page = %lld", page);
    CHECK_INT(q_int(sql), 0);
    CHECK(wait_coded(), "not re-coded after undo");
    CHECK_INT(q_int("SELECT count(*) FROM responses WHERE respondent = '000199'"), 0);
    /* a missing page: only "missing" is an answer */
    long long m1 = q_int("SELECT min(id) FROM review_items WHERE reason = 14 AND respondent = '000101' AND state = 'open'");
    long long m2 = q_int("SELECT max(id) FROM review_items WHERE reason = 14 AND respondent = '000102' AND state = 'open'");
    CHECK(m1 > 0 && m2 > 0, "no missing-page items");
    snprintf(body, sizeof body, "{\"item\":%lld}", m2);
    j = http_json(&c, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "item"), "input")) ?: "", "missing");
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"reject\"}", m2);
    j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 400);
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"missing\"}", m2);
    j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    CHECK(wait_coded(), "not re-coded");
    /* the unidentified page, assigned to a page 000101 misses */
    j = http_json(&c, "GET", "/api/unidentified", NULL, &st);
    CHECK_INT(st, 200);
    json_t *pages = json_object_get(j, "pages");
    CHECK(json_array_size(pages) == 1 && json_integer_value(json_object_get(json_array_get(pages, 0), "item")) == id,
          "the no-barcode page is the candidate");
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld}", m1);
    j = http_json(&c, "POST", "/api/lease", body, &st);
    json_decref(j);
    long long before = state_sum();
    snprintf(body, sizeof body, "{\"missing\":%lld,\"item\":%lld}", m1, id);
    j = http_json(&c, "POST", "/api/assign", body, &st);
    CHECK(st == 200 || st == 422, "assign: %d", st);
    json_decref(j);
    if (st == 200) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pages WHERE id = %lld AND respondent = '000101'", page);
        CHECK_INT(q_int(sql), 1);
        CHECK(wait_coded(), "not re-coded");
        snprintf(sql, sizeof sql, "SELECT count(*) FROM review_items WHERE id = %lld AND state != 'resolved'", m1);
        CHECK_INT(q_int(sql), 0); /* no longer missing */
    } else {
        CHECK_INT(state_sum(), before); /* refused: nothing changed */
    }
    /* not a missing item, or a page item: 400 */
    snprintf(body, sizeof body, "{\"missing\":%lld,\"item\":%lld}", id, m2);
    j = http_json(&c, "POST", "/api/assign", body, &st);
    CHECK_INT(st, 400);
    json_decref(j);
}

static void test_group_review(void)
{
    client_t c;
    login(&c, "bob", "bob-password");
    int st;
    json_t *j = http_json(&c, "GET", "/api/groups", NULL, &st);
    CHECK_INT(st, 200);
    json_t *g = json_array_get(json_object_get(j, "groups"), 0);
    CHECK(g != NULL, "no group: the fixture repeats the same items on every respondent");
    /* text to transcribe is never a group: its tiles would record "" */
    const char *text_reason = omr_review_reason_name(OMR_REVIEW_TEXT);
    CHECK(q_int("SELECT count(*) FROM review_items WHERE reason = 7 AND current = 1 AND state = 'open'") >= 2,
          "the fixture has text items");
    for (size_t i = 0; i < json_array_size(json_object_get(j, "groups")); i++)
        CHECK(strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j, "groups"), i), "reason")) ?: "",
                     text_reason),
              "a group of text items is offered");
    {
        char tb[300];
        snprintf(tb, sizeof tb, "{\"reason\":\"%s\",\"form\":\"A\",\"question\":\"Q1\",\"var\":\"\"}", text_reason);
        json_t *tr = http_json(&c, "POST", "/api/group", tb, &st);
        CHECK_INT(st, 400);
        json_decref(tr);
    }
    /* a page-level item cannot be decided in a group (assign: would not move the page) */
    long long pitem = q_int("SELECT min(id) FROM review_items WHERE question = '' AND current = 1 AND state != 'resolved'");
    if (pitem > 0) {
        char pb[300];
        snprintf(pb, sizeof pb, "{\"item\":%lld}", pitem);
        json_t *pr = http_json(&c, "POST", "/api/lease", pb, &st);
        json_decref(pr);
        long long before_p = state_sum();
        snprintf(pb, sizeof pb, "{\"decisions\":[{\"item\":%lld,\"value\":\"assign:A:1:000999\"}]}", pitem);
        pr = http_json(&c, "POST", "/api/group/decide", pb, &st);
        CHECK_INT(st, 400);
        json_decref(pr);
        CHECK_INT(state_sum(), before_p);
        pr = http_json(&c, "POST", "/api/release", "{}", &st);
        json_decref(pr);
    } else {
        CHECK(0, "no page-level item left for the group test");
    }
    if (!g) {
        json_decref(j);
        return;
    }
    json_t *req = json_pack("{s:O,s:O,s:O,s:O}", "reason", json_object_get(g, "reason"), "form", json_object_get(g, "form"),
                            "question", json_object_get(g, "question"), "var", json_object_get(g, "var"));
    char *b = json_dumps(req, 0);
    json_t *r = http_json(&c, "POST", "/api/group", b, &st);
    CHECK_INT(st, 200);
    json_t *items = json_object_get(r, "items");
    size_t n = json_array_size(items);
    CHECK(n >= 2, "group of %zu", n);
    /* one bad value refuses the whole group */
    json_t *ds = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        char v[300];
        valid_value(it, v, sizeof v);
        json_array_append_new(ds, json_pack("{s:O,s:s}", "item", json_object_get(it, "id"), "value", i == n - 1 ? "77x" : v));
    }
    json_t *body = json_pack("{s:O}", "decisions", ds);
    char *bb = json_dumps(body, 0);
    long long before = state_sum();
    json_t *x = http_json(&c, "POST", "/api/group/decide", bb, &st);
    CHECK_INT(st, 400);
    json_decref(x);
    CHECK_INT(state_sum(), before);
    free(bb);
    json_t *last = json_array_get(ds, n - 1);
    char v[300];
    valid_value(json_array_get(items, n - 1), v, sizeof v);
    json_object_set_new(last, "value", json_string(v));
    bb = json_dumps(body, 0);
    x = http_json(&c, "POST", "/api/group/decide", bb, &st);
    CHECK_INT(st, 200);
    CHECK_INT(json_integer_value(json_object_get(x, "decided")), n);
    json_decref(x);
    free(bb);
    free(b);
    json_decref(body);
    json_decref(ds);
    json_decref(req);
    json_decref(r);
    json_decref(j);
}

typedef struct {
    const char *name, *pw;
    long long decided[4096];
    int n, errors;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    client_t c;
    if (login(&c, w->name, w->pw) != 200) {
        w->errors++;
        return NULL;
    }
    for (int guard = 0; guard < 2000; guard++) {
        int st;
        json_t *it = next_item(&c, &st);
        if (st != 200)
            w->errors++;
        if (!json_is_object(it)) {
            json_decref(it);
            break;
        }
        long long id = json_integer_value(json_object_get(it, "id"));
        char v[300];
        valid_value(it, v, sizeof v);
        json_t *jb = json_pack("{s:I,s:s}", "item", (json_int_t)id, "value", v);
        char *b = json_dumps(jb, 0);
        json_t *r = http_json(&c, "POST", "/api/decide", b, &st);
        if (st == 200 && w->n < 4096)
            w->decided[w->n++] = id;
        else if (st != 409) /* a lease lost to expiry would be 409; anything else is a failure */
            w->errors++;
        json_decref(r);
        free(b);
        json_decref(jb);
        json_decref(it);
    }
    return NULL;
}

static void test_two_operators(void)
{
    static worker_t a = {.name = "alice", .pw = "alice-password"}, b = {.name = "bob", .pw = "bob-password"};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, work, &a);
    pthread_create(&tb, NULL, work, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_INT(a.errors, 0);
    CHECK_INT(b.errors, 0);
    CHECK(a.n > 0 && b.n > 0, "both worked: %d %d", a.n, b.n);
    for (int i = 0; i < a.n; i++)
        for (int k = 0; k < b.n; k++)
            CHECK(a.decided[i] != b.decided[k], "item %lld decided by both", a.decided[i]);
    CHECK_INT(q_int("SELECT count(*) FROM review_items WHERE current = 1 AND state != 'resolved'"), 0);
    CHECK_INT(q_int("SELECT count(*) FROM (SELECT item FROM decisions WHERE undone = 0 GROUP BY item HAVING count(*) > 1)"), 0);
    CHECK_INT(q_int("SELECT count(*) FROM review_items i WHERE state = 'resolved' AND NOT EXISTS"
                    " (SELECT 1 FROM decisions d WHERE d.item = i.id AND d.undone = 0)"), 0);
    /* coding.md: nothing left in review once every item is decided */
    CHECK(wait_coded(), "respondents left dirty");
    CHECK_INT(q_int("SELECT count(*) FROM responses WHERE status = 'review'"), 0);
    CHECK_INT(q_int("SELECT count(*) FROM respondents WHERE complete = 0 OR dirty = 1"), 0);
    int st;
    client_t c;
    login(&c, "alice", "alice-password");
    json_t *p = http_json(&c, "GET", "/api/progress", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(json_integer_value(json_object_get(p, "left")), 0);
    CHECK(json_array_size(json_object_get(p, "operators")) == 2);
    json_decref(p);
}

static void test_values_unit(void)
{
    omr_error_t err;
    const omr_form_t *f = g_form;
    const omr_question_t *single = NULL, *multi = NULL;
    for (int i = 0; i < f->n_questions; i++) {
        if (!single && f->questions[i].kind == OMR_KIND_SINGLE)
            single = &f->questions[i];
        if (!multi && f->questions[i].kind == OMR_KIND_MULTI)
            multi = &f->questions[i];
    }
    if (!single || !multi) {
        CHECK(0, "form A has single and multi questions");
        return;
    }
    char code[16];
    snprintf(code, sizeof code, "%d", single->options[0].code);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DOUBTFUL_MARK, single->id, single->base, code, &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DOUBTFUL_MARK, single->id, single->base, "", &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DOUBTFUL_MARK, single->id, single->base, "99", &err) ==
          OMR_EINPUT);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DOUBTFUL_MARK, single->id, single->base, "01", &err) ==
          OMR_EINPUT);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DOUBTFUL_MARK, single->id, single->base, "-1", &err) ==
          OMR_EINPUT);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_ROUTING, single->id, "", "-1", &err) == OMR_OK);
    char list[32];
    snprintf(list, sizeof list, "%d,%d", multi->options[0].code, multi->options[1].code);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_EXCLUSIVE, multi->id, "", list, &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_EXCLUSIVE, multi->id, "", "1,99", &err) == OMR_EINPUT);
    omr_override_t o[64];
    int n = omr_review_overrides(f, multi->id, "", 0, list, o, 64);
    CHECK(n >= multi->n_options, "%d overrides", n);
    int ones = 0;
    for (int i = 0; i < n && i < 64; i++)
        ones += !strcmp(o[i].value, "1");
    CHECK_INT(ones, 2);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_NO_BARCODE, "", "", "reject", &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_NO_BARCODE, "", "", "assign:A:1:000001", &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_NO_BARCODE, "", "", "assign:A:1:000001:x", &err) == OMR_EINPUT);
    /* a top-3 question as a whole: up to three different codes, no empty box
     * before a written one (the conflicts the coder raises it for) */
    const omr_question_t *top3 = NULL;
    for (int i = 0; i < f->n_questions && !top3; i++)
        if (f->questions[i].kind == OMR_KIND_TOP3)
            top3 = &f->questions[i];
    CHECK(top3 != NULL, "form A has a top-3 question");
    if (top3) {
        const char *ok[] = {"3,1,2", "3", "3,1", ""}, *no[] = {"3,3,3", "3,3", "3,,1", ",3", "1,2,3,4"};
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
            CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_INVALID_VALUE, top3->id, "", ok[i], &err) == OMR_OK,
                  "top-3 '%s': %s", ok[i], err.msg);
        for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
            CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_INVALID_VALUE, top3->id, "", no[i], &err) ==
                      OMR_EINPUT,
                  "top-3 '%s' accepted", no[i]);
    }
    /* a copy of a page already coded (the coder raises it with no question,
     * var "page:<hash>:<index>"): "duplicate" or "case", and both reach the
     * coder as overrides of that page key */
    const char *dup = "page:3727b73ab749d62c:10";
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DUPLICATE, "", dup, "case", &err) == OMR_OK, "%s",
          err.msg);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DUPLICATE, "", dup, "duplicate", &err) == OMR_OK);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DUPLICATE, "", dup, "reject", &err) == OMR_EINPUT);
    CHECK(omr_review_check_value(g_survey, "A", OMR_REVIEW_DUPLICATE, "", dup, "assign:A:1:000001", &err) ==
          OMR_EINPUT);
    n = omr_review_overrides(f, "", dup, 0, "case", o, 64);
    CHECK(n == 1 && !strcmp(o[0].var, dup) && !strcmp(o[0].value, "case"), "page-key override: %d", n);
    /* a number (queXF's B4, 4 boxes): its digits as written, at most one per box, or nothing */
    omr_survey_t *qs;
    if (omr_template_load("templates/quexf-test", &qs, &err)) {
        CHECK(0, "templates/quexf-test: %s", err.msg);
        return;
    }
    const omr_form_t *qf = omr_template_form(qs, "Q");
    const char *good[] = {"43", "0043", "1234", ""}, *bad[] = {"12345", "4 3", "4x", "+43", "4,3"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(omr_review_check_value(qs, "Q", OMR_REVIEW_HANDWRITTEN, "B4", "B4", good[i], &err) == OMR_OK,
              "refused \"%s\": %s", good[i], err.msg);
        CHECK(omr_review_overrides(qf, "B4", "B4", 0, good[i], o, 64) == 1 && !strcmp(o[0].var, "B4") &&
                  !strcmp(o[0].value, good[i]),
              "override of \"%s\"", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(omr_review_check_value(qs, "Q", OMR_REVIEW_HANDWRITTEN, "B4", "B4", bad[i], &err) == OMR_EINPUT &&
                  strstr(err.msg, "digits"),
              "accepted \"%s\" (%s)", bad[i], err.msg);
        CHECK(omr_review_overrides(qf, "B4", "B4", 0, bad[i], o, 64) == -1, "override of \"%s\"", bad[i]);
    }
    CHECK(omr_review_check_value(qs, "Q", OMR_REVIEW_HANDWRITTEN, "B4", "B4", "-1", &err) == OMR_EINPUT);
    /* the whole question (a routing item): the number, or -1 (not applicable: B4 emptied) */
    CHECK(omr_review_overrides(qf, "B4", "", 0, "1234", o, 64) == 1 && !strcmp(o[0].value, "1234"));
    CHECK(omr_review_overrides(qf, "B4", "", 0, "-1", o, 64) == 1 && !strcmp(o[0].value, ""));
    omr_template_free(qs);
}

/* ---- scans moved or written over after the scan (review_files.c) ---- */

/* A server on the fixture's store (the crop warmer on or off; the given
 * --images folders). Sets g_port to it. NULL when it does not start. */
static omr_review_server_t *start_server_with(const char *const *dirs, int n_dirs, int warm)
{
    omr_review_opts_t o;
    omr_review_opts_default(&o);
    o.db_path = g_db;
    o.template_path = "templates/ipa-itsc-2018";
    o.listen = "127.0.0.1:0";
    o.warm = warm;
    o.image_dirs = dirs;
    o.n_image_dirs = n_dirs;
    omr_review_server_t *srv = NULL;
    omr_error_t err;
    if (omr_review_start(&o, &srv, &err)) {
        fprintf(stderr, "start: %s\n", err.msg);
        return NULL;
    }
    g_port = omr_review_port(srv);
    return srv;
}

/* The status of GET /img/item/ID.png from a new server (dirs), and its
 * error text (when not 200) in why. */
static int item_image_status(long long item, const char *const *dirs, int n_dirs, char *why, size_t n)
{
    /* a new server: no crop or page cached, no warmer making them */
    omr_review_server_t *srv = start_server_with(dirs, n_dirs, 0);
    if (!srv)
        return -1;
    client_t c;
    login(&c, "bob", "bob-password");
    char path[80];
    snprintf(path, sizeof path, "/img/item/%lld.png", item);
    resp_t r;
    int st = http(&c, "GET", path, NULL, &r) ? -1 : r.status;
    why[0] = 0;
    if (st == 200)
        CHECK(r.len > 8 && !memcmp(r.body, "\x89PNG", 4), "a PNG");
    else if (st > 0) {
        json_t *j = json_loads(r.body, 0, NULL);
        snprintf(why, n, "%s", json_string_value(json_object_get(j, "error")) ?: "");
        json_decref(j);
    }
    if (st >= 0)
        resp_free(&r);
    omr_review_stop(srv);
    return st;
}

/* The page file of an item with a crop (a doubtful mark), and the item. */
static long long item_and_file(char *file, size_t n)
{
    long long item = q_int("SELECT min(i.id) FROM review_items i JOIN pages p ON p.id = i.page"
                           " WHERE i.reason = 1 AND p.status = 'ok'");
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT f.path FROM review_items i JOIN pages p ON p.id = i.page"
                              " JOIN files f ON f.id = p.file WHERE i.id = %lld", item);
    sqlite3 *db;
    file[0] = 0;
    if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            snprintf(file, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return item;
}

/* 0 when every byte of from was written to to (replaced). */
static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char buf[8192];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

/* The review shows a page only from the file that was scanned: a file moved
 * away is refused with where to look (and found with --images, under its
 * name or another); another file written over the stored path is refused,
 * never shown; a file changed after it was found right is checked again. */
static void test_moved_and_replaced_scans(void)
{
    char file[1024], why[1024], moved_dir[400], deep[500], moved[1400], other[1400];
    long long item = item_and_file(file, sizeof file);
    CHECK(item > 0 && file[0], "an item with a page file");
    snprintf(moved_dir, sizeof moved_dir, "%s/archive", g_dir);
    snprintf(deep, sizeof deep, "%s/2026-11-25", moved_dir);
    mkdir(moved_dir, 0700);
    mkdir(deep, 0700);
    snprintf(moved, sizeof moved, "%s/%s", deep, strrchr(file, '/') + 1);
    const char *dirs[] = {moved_dir};
    CHECK_INT(item_image_status(item, NULL, 0, why, sizeof why), 200);

    /* moved into the archive: refused, naming the file, then found there */
    CHECK(rename(file, moved) == 0, "move %s", file);
    CHECK_INT(item_image_status(item, NULL, 0, why, sizeof why), 404);
    CHECK(strstr(why, file) && strstr(why, "not there any more") && strstr(why, "--images"), "%s", why);
    CHECK_INT(item_image_status(item, dirs, 1, why, sizeof why), 200);

    /* renamed in the archive: found by its size and hash */
    snprintf(other, sizeof other, "%s/renamed.png", deep);
    CHECK(rename(moved, other) == 0, "rename");
    CHECK_INT(item_image_status(item, dirs, 1, why, sizeof why), 200);

    /* another respondent's page written over the stored path: never shown */
    char neighbour[400];
    snprintf(neighbour, sizeof neighbour, "%s/page-%d.png", g_dir, N_RESP);
    CHECK(strcmp(neighbour, file) != 0, "another page");
    CHECK(copy_file(neighbour, file) == 0, "overwrite");
    CHECK_INT(item_image_status(item, NULL, 0, why, sizeof why), 404);
    CHECK(strstr(why, "not the file that was scanned") != NULL, "%s", why);
    CHECK_INT(item_image_status(item, dirs, 1, why, sizeof why), 200); /* the archived copy */

    /* the files layer itself: found right, then changed in place */
    CHECK(rename(other, file) == 0, "put back");
    unsigned char md[32];
    char sha[65];
    omr_error_t err;
    long long size = 0;
    CHECK(omr_load_hash_file(file, md, &size, NULL, NULL, &err) == OMR_OK);
    omr_load_sha256_hex(md, sha);
    const omr_store_file_t f = {1, file, sha, size};
    omr_review_files_t *fs = omr_review_files_new(NULL, 0);
    char path[4096];
    omr_scan_where_t where = OMR_SCAN_GONE;
    CHECK(omr_review_files_locate(fs, &f, path, sizeof path, &where, &err) == OMR_OK && !strcmp(path, file) &&
          where == OMR_SCAN_AT_PATH);
    char saved[1100];
    snprintf(saved, sizeof saved, "%s.saved", file);
    CHECK(copy_file(file, saved) == 0, "keep the scanned bytes");
    CHECK(copy_file(neighbour, file) == 0, "overwrite again");
    CHECK(omr_review_files_locate(fs, &f, path, sizeof path, &where, &err) == OMR_ENOTFOUND &&
              where == OMR_SCAN_CHANGED,
          "a file changed after it was found right is checked again");

    /* Replaced by another file of the same size and modification time (a
     * copy made with cp -p or rsync -t): another inode, so checked again
     * and refused, by the locator and by the page load. */
    CHECK(rename(saved, file) == 0, "put the scanned bytes back");
    CHECK(omr_review_files_locate(fs, &f, path, sizeof path, &where, &err) == OMR_OK && where == OMR_SCAN_AT_PATH);
    char twin[1100];
    snprintf(twin, sizeof twin, "%s.twin", file);
    struct stat sb;
    CHECK(copy_file(file, twin) == 0 && stat(file, &sb) == 0);
    FILE *tf = fopen(twin, "r+b");
    CHECK(tf != NULL);
    if (tf) {
        fseek(tf, -1, SEEK_END);
        int c = fgetc(tf);
        fseek(tf, -1, SEEK_END);
        fputc(c ^ 0x5a, tf); /* same size, one byte other */
        fclose(tf);
    }
    struct timespec times[2] = {sb.st_mtim, sb.st_mtim};
    CHECK(utimensat(AT_FDCWD, twin, times, 0) == 0 && rename(twin, file) == 0);
    CHECK(omr_review_files_locate(fs, &f, path, sizeof path, &where, &err) == OMR_ENOTFOUND &&
              where == OMR_SCAN_CHANGED,
          "a same-size, same-mtime replacement is checked again: %s", err.msg);
    omr_review_page_t pg = {.id = 1, .file_id = 1, .size = size, .idx = 0};
    snprintf(pg.path, sizeof pg.path, "%s", file);
    snprintf(pg.sha256, sizeof pg.sha256, "%s", sha);
    omr_image_t img;
    CHECK(omr_review_files_load(fs, &pg, &img, &err) == OMR_ENOTFOUND && img.pix == NULL &&
              strstr(err.msg, "not the file that was scanned"),
          "%s", err.msg);
    omr_image_clear(&img);

    /* a pipe where the scan was: refused at once, not waited on (alarm: a
     * hang kills the test instead of the CI run) */
    CHECK(unlink(file) == 0 && mkfifo(file, 0600) == 0);
    alarm(30);
    CHECK(omr_review_files_locate(fs, &f, path, sizeof path, &where, &err) == OMR_ENOTFOUND && where == OMR_SCAN_GONE,
          "a pipe at the stored path: %s", err.msg);
    CHECK(omr_review_files_load(fs, &pg, &img, &err) == OMR_ENOTFOUND && img.pix == NULL);
    alarm(0);
    omr_image_clear(&img);
    unlink(file);
    omr_review_files_free(fs);
}

/* Bytes that are not UTF-8 in a stored string (a Shift-JIS file name, a
 * copy cut inside a character) must not lose the item: jansson refused the
 * whole reply, the item could not be shown, leased or skipped. The item is
 * served with each stray byte as '?'; omr_utf8_safe keeps valid text as it
 * is and cuts nothing else. */
static void test_bytes_not_utf8(void)
{
    CHECK_STR(omr_utf8_safe("問2 abc"), "問2 abc");
    CHECK_STR(omr_utf8_safe("scan_\x93\xfa\x96\x7b.png"), "scan_???{.png");
    CHECK_STR(omr_utf8_safe("\xe5\x95"), "??"); /* a character cut short */
    CHECK_STR(omr_utf8_safe("\xc0\xaf"), "??"); /* overlong '/' */
    CHECK_STR(omr_utf8_safe("\xed\xa0\x80"), "???"); /* a surrogate */
    CHECK_STR(omr_path_tail("/a/b/年度.png", 10), "年度.png");
    CHECK_STR(omr_path_tail("/a/b/年度.png", 9), "度.png"); /* not inside 年 */
    long long id = q_int("SELECT min(id) FROM review_items WHERE state = 'open' AND current = 1");
    CHECK(id > 0, "an open item");
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE review_items SET detail = CAST(X'8E9F8E9F20E5B9B4E5' AS TEXT) || ' page 3' WHERE id = %lld", id);
    CHECK_INT(q_exec(sql), 0);
    client_t c;
    login(&c, "alice", "alice-password");
    char path[64], body[64];
    /* a duplicate copy's item is offered as one (input "dup": d / c), not
     * as a page to assign or reject */
    snprintf(sql, sizeof sql,
             "INSERT INTO review_items(key, source, reason, form, respondent, page, var, proposal, created)"
             " SELECT 'test-dup', 'code', 11, form, respondent, id, 'page:00000000deadbeef:0', 'case',"
             " '2026-01-01T00:00:00Z' FROM pages WHERE status = 'ok' ORDER BY id LIMIT 1");
    CHECK_INT(q_exec(sql), 0);
    long long dup = q_int("SELECT id FROM review_items WHERE key = 'test-dup'");
    snprintf(path, sizeof path, "/api/item/%lld", dup);
    int st0;
    json_t *jd = http_json(&c, "GET", path, NULL, &st0);
    CHECK_INT(st0, 200);
    json_t *di = json_object_get(jd, "item") ? json_object_get(jd, "item") : jd;
    CHECK_STR(json_string_value(json_object_get(di, "input")) ?: "", "dup");
    json_decref(jd);
    q_exec("DELETE FROM review_items WHERE key = 'test-dup'");
    snprintf(path, sizeof path, "/api/item/%lld", id);
    int st;
    json_t *j = http_json(&c, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    const char *detail = json_string_value(json_object_get(json_object_get(j, "item"), "detail"));
    if (!detail)
        detail = json_string_value(json_object_get(j, "detail"));
    CHECK(detail && !strcmp(detail, "???? 年? page 3"), "detail served as '%s'", detail ? detail : "(none)");
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    j = http_json(&c, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 200);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "item"), "id")) == id, "the item is leased and shown");
    json_decref(j);
    /* a refused value quoted in the message, cut inside a character: the
     * message still arrives */
    char longv[200] = "a";
    for (int i = 0; i < 30; i++)
        strcat(longv, "あ");
    char vb[300];
    snprintf(vb, sizeof vb, "{\"item\":%lld,\"value\":\"%s\"}", id, longv);
    j = http_json(&c, "POST", "/api/decide", vb, &st);
    CHECK_INT(st, 400);
    CHECK(json_string_value(json_object_get(j, "error")) != NULL, "the refusal has no message");
    json_decref(j);
    j = http_json(&c, "POST", "/api/release", "{}", &st);
    json_decref(j);
}

/* Undoing a decision on an item the coder no longer raises (another
 * decision settled it) keeps the item and its history, out of the queue:
 * the store deleted it, and its decisions with it. */
static void test_undo_keeps_history(void)
{
    const omr_question_t *single = NULL;
    for (int i = 0; i < g_form->n_questions && !single; i++)
        if (g_form->questions[i].kind == OMR_KIND_SINGLE && !g_form->questions[i].is_case)
            single = &g_form->questions[i];
    const char *resp = "000101";
    char sql[600], body[200];
    CHECK(wait_coded(), "earlier decisions not re-coded"); /* the coder would delete the item below */
    snprintf(sql, sizeof sql,
             "INSERT INTO review_items(key, source, reason, form, respondent, question, var, proposal, created)"
             " VALUES ('test-not-raised', 'code', 1, 'A', '%s', '%s', '%s', '', '2026-01-01T00:00:00Z')",
             resp, single->id, single->base);
    CHECK_INT(q_exec(sql), 0);
    long long id = q_int("SELECT id FROM review_items WHERE key = 'test-not-raised'");
    client_t c;
    login(&c, "alice", "alice-password");
    int st;
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    json_t *j = http_json(&c, "POST", "/api/lease", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    snprintf(body, sizeof body, "{\"item\":%lld,\"value\":\"%d\"}", id, single->options[0].code);
    j = http_json(&c, "POST", "/api/decide", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    CHECK(wait_coded(), "not re-coded");
    snprintf(body, sizeof body, "{\"item\":%lld}", id);
    j = http_json(&c, "POST", "/api/undo", body, &st);
    CHECK_INT(st, 200);
    json_decref(j);
    CHECK(wait_coded(), "not re-coded after undo");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM decisions WHERE item = %lld AND undone = 1", id);
    CHECK(q_int(sql) == 1, "the undone decision is gone from the history");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM review_items WHERE id = %lld AND current = 0", id);
    CHECK(q_int(sql) == 1, "the item is gone, or still in the queue");
}

int main(void)
{
    make_fixture();
    start_server();
    RUN(test_fixture_has_items);
    RUN(test_bytes_not_utf8);
    RUN(test_values_unit);
    RUN(test_page_built_in);
    RUN(test_login_and_session);
    RUN(test_cookie_flags);
    RUN(test_csrf);
    RUN(test_decide_and_undo);
    RUN(test_foreign_lease_and_bad_ids);
    RUN(test_paths_and_body_limit);
    RUN(test_page_item_and_view);
    RUN(test_assign_and_missing);
    RUN(test_group_review);
    RUN(test_undo_keeps_history);
    RUN(test_two_operators);
    omr_review_stop(g_srv);
    RUN(test_moved_and_replaced_scans);
    omr_template_free(g_survey);
    omr_print_shutdown();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return check_report();
}
