/* test_review_http.c -- who may reach the review server (review_http.c), over
 * real HTTP on a loopback port, on a store with operators and no items:
 *   - behind a TLS reverse proxy: the browser's Origin https://HOST is this
 *     server when HOST is the Host (or the proxy's X-Forwarded-Host), another
 *     site's Origin is still refused, and the session cookie is Secure;
 *   - a disabled operator's sessions end at their next request, and so do
 *     sessions opened with a password since changed;
 *   - an unknown (or disabled) name is checked against a dummy Argon2id hash,
 *     like a real one (counted by the server: no timing here);
 *   - failed logins are throttled per name and per client address (429), in
 *     a bounded table that a flood of addresses does not empty of the blocked;
 *   - one operator holds at most 8 sessions: a 9th login ends their own
 *     session used longest ago, nobody else's.
 * The client addresses are given as X-Forwarded-For, which the server takes
 * from loopback only (the proxy's address).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "http_client.h"
#include "review.h"
#include "review_internal.h"
#include "store.h"

static char g_dir[256], g_db[300];
static omr_review_server_t *g_srv;
static int g_port;

/* ---- a tiny HTTP client (http_client.h) ---- */

static int http_raw(const char *req, resp_t *out) { return http_send(g_port, req, strlen(req), out); }

typedef struct {
    char cookie[200];
    char csrf[80];
} sess_t;

/* One request. host NULL: 127.0.0.1:PORT; headers: more header lines, each
 * ending in \r\n ("" or NULL for none); s: the session's cookie and token. */
static int request(const char *method, const char *path, const char *host, const char *headers, const sess_t *s,
                   const char *body, resp_t *out)
{
    char hostbuf[64];
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%d", g_port);
        host = hostbuf;
    }
    char *req = malloc(strlen(body ? body : "") + 2048);
    sprintf(req,
            "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%s%s%s%s%s"
            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
            method, path, host, headers ? headers : "", s && s->cookie[0] ? "Cookie: " : "", s ? s->cookie : "",
            s && s->cookie[0] ? "\r\n" : "", s && s->csrf[0] ? "X-CSRF-Token: " : "", s ? s->csrf : "",
            s && s->csrf[0] ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    int r = http_raw(req, out);
    free(req);
    return r;
}

/* Log in; the session goes to *s (may be NULL). Returns the status. */
static int login_h(const char *name, const char *pw, const char *host, const char *headers, sess_t *s, resp_t *pr)
{
    char body[300];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    resp_t r;
    request("POST", "/api/login", host, headers, NULL, body, &r);
    if (s) {
        memset(s, 0, sizeof *s);
        snprintf(s->cookie, sizeof s->cookie, "%s", r.cookie);
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        snprintf(s->csrf, sizeof s->csrf, "%s", json_string_value(json_object_get(j, "csrf")) ?: "");
        json_decref(j);
    }
    int st = r.status;
    if (pr)
        *pr = r;
    else
        resp_free(&r);
    return st;
}

/* Log in as a client at address addr (X-Forwarded-For from the loopback proxy). */
static int login_from(const char *addr, const char *name, const char *pw, sess_t *s)
{
    char h[128];
    snprintf(h, sizeof h, "X-Forwarded-For: %s\r\n", addr);
    return login_h(name, pw, NULL, h, s, NULL);
}

static int me(const sess_t *s)
{
    resp_t r;
    request("GET", "/api/me", NULL, NULL, s, NULL, &r);
    resp_free(&r);
    return r.status;
}

static unsigned long dummy_checks(void)
{
    pthread_mutex_lock(&g_srv->login_lock);
    unsigned long n = g_srv->login_dummy_checks;
    pthread_mutex_unlock(&g_srv->login_lock);
    return n;
}

/* A change made with `omr operator` while the server runs: another connection. */
static void store_do(const char *what, const char *name, const char *pw)
{
    omr_store_t *s;
    omr_error_t err = {0};
    omr_status_t rc = omr_store_open(g_db, &s, &err);
    if (!rc) {
        if (!strcmp(what, "disable"))
            rc = omr_review_operator_disable(s, name, 1, &err);
        else if (!strcmp(what, "enable"))
            rc = omr_review_operator_disable(s, name, 0, &err);
        else
            rc = omr_review_operator_add(s, name, pw, !strcmp(what, "passwd"), &err);
        omr_store_close(s);
    }
    CHECK(rc == OMR_OK, "%s %s: %s", what, name, err.msg);
}

/* ---- tests ---- */

static void test_origin_behind_tls_proxy(void)
{
    const char *h = "Origin: https://review.example.org\r\nX-Forwarded-Proto: https\r\n"
                    "X-Forwarded-For: 203.0.113.10\r\n";
    resp_t r;
    sess_t s;
    /* the proxy passes the Host through (nginx: proxy_set_header Host $http_host) */
    CHECK_INT(login_h("alice", "alice-password", "review.example.org", h, &s, &r), 200);
    CHECK(strstr(r.set_cookie, "; Secure") != NULL, "behind TLS the cookie is Secure: %s", r.set_cookie);
    CHECK(strstr(r.set_cookie, "HttpOnly") && strstr(r.set_cookie, "SameSite=Strict"), "%s", r.set_cookie);
    resp_free(&r);
    /* a POST of the session through the proxy */
    CHECK(request("POST", "/api/next", "review.example.org", h, &s, "{}", &r) == 0);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    /* the browser's Origin alone says TLS */
    CHECK_INT(login_h("alice", "alice-password", "review.example.org",
                      "Origin: https://review.example.org\r\nX-Forwarded-For: 203.0.113.10\r\n", NULL, &r),
              200);
    CHECK(strstr(r.set_cookie, "; Secure") != NULL, "%s", r.set_cookie);
    resp_free(&r);
    /* Host :443 written out is the same site */
    CHECK_INT(login_h("alice", "alice-password", "review.example.org:443", h, NULL, NULL), 200);
    /* a proxy that sends the upstream's Host and the site's X-Forwarded-Host */
    CHECK_INT(login_h("alice", "alice-password", NULL,
                      "Origin: https://review.example.org\r\nX-Forwarded-Host: review.example.org\r\n"
                      "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.10\r\n",
                      NULL, NULL),
              200);
    /* other sites are still refused, through the proxy or not */
    const char *evil[] = {"https://evil.example", "https://review.example.org.evil.example",
                          "https://review.example.org:8443", "ftp://review.example.org", "null",
                          "https://review.example.org/", "https://evil.example@review.example.org",
                          "http://review.example.org.", ""};
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        char hh[300];
        snprintf(hh, sizeof hh, "Origin: %s\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.11\r\n",
                 evil[i]);
        CHECK_INT(login_h("alice", "alice-password", "review.example.org", hh, NULL, NULL), 403);
        CHECK(request("POST", "/api/next", "review.example.org", hh, &s, "{}", &r) == 0);
        CHECK(r.status == 403, "Origin '%s': %d", evil[i], r.status);
        resp_free(&r);
    }
    /* X-Forwarded-Host does not stand in for another site's Origin */
    CHECK_INT(login_h("alice", "alice-password", NULL,
                      "Origin: https://evil.example\r\nX-Forwarded-Host: review.example.org\r\n", NULL, NULL),
              403);
    /* plain HTTP on loopback, as before: no Secure (the browser would drop it) */
    char hh[200];
    snprintf(hh, sizeof hh, "Origin: http://127.0.0.1:%d\r\nX-Forwarded-For: 203.0.113.12\r\n", g_port);
    CHECK_INT(login_h("alice", "alice-password", NULL, hh, &s, &r), 200);
    CHECK(!strstr(r.set_cookie, "Secure"), "plain HTTP: %s", r.set_cookie);
    resp_free(&r);
    CHECK(request("POST", "/api/logout", NULL, hh, &s, "{}", &r) == 0);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

static void test_disable_and_passwd_end_sessions(void)
{
    sess_t b1, b2, b3, a;
    CHECK_INT(login_from("203.0.113.20", "bob", "bob-password", &b1), 200);
    CHECK_INT(login_from("203.0.113.20", "bob", "bob-password", &b2), 200);
    CHECK_INT(login_from("203.0.113.20", "alice", "alice-password", &a), 200);
    CHECK_INT(me(&b1), 200);
    store_do("disable", "bob", NULL);
    CHECK_INT(me(&b1), 401);
    resp_t r;
    CHECK(request("POST", "/api/next", NULL, NULL, &b2, "{}", &r) == 0);
    CHECK(r.status == 401, "a disabled operator's POST: %d", r.status);
    resp_free(&r);
    CHECK_INT(me(&a), 200);
    store_do("enable", "bob", NULL);
    CHECK_INT(me(&b1), 401); /* ended, not suspended */
    CHECK_INT(login_from("203.0.113.20", "bob", "bob-password", &b3), 200);
    CHECK_INT(me(&b3), 200);
    store_do("passwd", "bob", "bob-new-password");
    CHECK_INT(me(&b3), 401);
    CHECK_INT(login_from("203.0.113.21", "bob", "bob-password", NULL), 401);
    CHECK_INT(login_from("203.0.113.21", "bob", "bob-new-password", &b3), 200);
    CHECK_INT(me(&b3), 200);
    CHECK_INT(me(&a), 200);
}

static void test_unknown_name_dummy_verify(void)
{
    unsigned long d0 = dummy_checks();
    CHECK_INT(login_from("203.0.113.30", "nobody", "some-password", NULL), 401);
    CHECK(dummy_checks() == d0 + 1, "an unknown name is checked against the dummy hash: %lu", dummy_checks() - d0);
    CHECK_INT(login_from("203.0.113.31", "alice", "wrong-password", NULL), 401);
    CHECK_INT(login_from("203.0.113.31", "alice", "alice-password", NULL), 200);
    CHECK(dummy_checks() == d0 + 1, "a known name is checked against its own hash");
    CHECK_INT(login_from("203.0.113.32", "dora", "dora-password", NULL), 401); /* disabled */
    CHECK(dummy_checks() == d0 + 2, "a disabled name too: %lu", dummy_checks() - d0);
    /* the same answer for all three */
    resp_t r1, r2;
    login_h("nobody", "some-password", NULL, "X-Forwarded-For: 203.0.113.33\r\n", NULL, &r1);
    login_h("alice", "wrong-password", NULL, "X-Forwarded-For: 203.0.113.33\r\n", NULL, &r2);
    CHECK(r1.status == r2.status && r1.body && r2.body && !strcmp(r1.body, r2.body), "%s / %s", r1.body, r2.body);
    resp_free(&r1), resp_free(&r2);
}

static void test_throttle_per_name(void)
{
    char addr[32];
    for (int i = 0; i < 5; i++) {
        snprintf(addr, sizeof addr, "192.0.2.%d", 10 + i);
        CHECK_INT(login_from(addr, "erin", "wrong-password", NULL), 401);
    }
    resp_t r;
    CHECK_INT(login_h("erin", "erin-password", NULL, "X-Forwarded-For: 192.0.2.20\r\n", NULL, &r), 429);
    CHECK(r.body && strstr(r.body, "try again in"), "says how long: %s", r.body);
    resp_free(&r);
    /* other names are not held up */
    CHECK_INT(login_from("192.0.2.20", "frank", "frank-password", NULL), 200);
    /* an unknown name behaves the same (no telling names apart by throttling) */
    for (int i = 0; i < 5; i++) {
        snprintf(addr, sizeof addr, "192.0.2.%d", 30 + i);
        CHECK_INT(login_from(addr, "ghost", "wrong-password", NULL), 401);
    }
    unsigned long d0 = dummy_checks();
    CHECK_INT(login_from("192.0.2.40", "ghost", "wrong-password", NULL), 429);
    CHECK(dummy_checks() == d0, "a refused attempt costs no Argon2id check");
}

static void test_throttle_per_address(void)
{
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "u%d", i);
        CHECK_INT(login_from("198.51.100.7", name, "wrong-password", NULL), 401);
    }
    CHECK_INT(login_from("198.51.100.7", "grace", "grace-password", NULL), 429);
    /* a proxy appends the address it saw: what the client wrote before it is not believed */
    CHECK_INT(login_from("10.1.2.3, 198.51.100.7", "grace", "grace-password", NULL), 429);
    CHECK_INT(login_from("198.51.100.8", "grace", "grace-password", NULL), 200);
    /* bounded memory: a flood of other addresses (bad names: no Argon2id, fast)
     * does not push the blocked address out */
    int odd = 0;
    for (int i = 0; i < 3000; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        odd += login_from(addr, "../bad name", "x", NULL) != 401;
    }
    CHECK_INT(odd, 0);
    CHECK_INT(login_from("198.51.100.7", "grace", "grace-password", NULL), 429);
    CHECK_INT(login_from("198.51.100.9", "grace", "grace-password", NULL), 200);
}

static void test_sessions_per_operator(void)
{
    sess_t c[9], d;
    CHECK_INT(login_from("203.0.113.40", "dave", "dave-password", &d), 200);
    for (int i = 0; i < 8; i++)
        CHECK_INT(login_from("203.0.113.40", "carol", "carol-password", &c[i]), 200);
    CHECK_INT(me(&c[0]), 200); /* c[1] is now the one used longest ago */
    CHECK_INT(login_from("203.0.113.40", "carol", "carol-password", &c[8]), 200);
    CHECK(me(&c[1]) == 401, "a 9th session of one operator ends their session used longest ago");
    CHECK_INT(me(&c[0]), 200);
    for (int i = 2; i < 9; i++)
        CHECK(me(&c[i]) == 200, "session %d", i);
    CHECK_INT(me(&d), 200);
    /* more logins of the same operator never reach anyone else's */
    for (int i = 0; i < 10; i++)
        login_from("203.0.113.40", "carol", "carol-password", NULL);
    CHECK_INT(me(&d), 200);
    int n = 0;
    pthread_mutex_lock(&g_srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++)
        n += g_srv->sessions[i].used && !strcmp(g_srv->sessions[i].op, "carol");
    pthread_mutex_unlock(&g_srv->sess_lock);
    CHECK_INT(n, 8);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/omr-test-review-http-%d", (int)getpid());
    mkdir(g_dir, 0700);
    snprintf(g_db, sizeof g_db, "%s/r.db", g_dir);
    omr_store_t *s;
    omr_error_t err = {0};
    if (omr_store_open(g_db, &s, &err) || omr_review_schema(s, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    const char *ops[] = {"alice", "bob", "carol", "dave", "dora", "erin", "frank", "grace"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char pw[64];
        snprintf(pw, sizeof pw, "%s-password", ops[i]);
        if (omr_review_operator_add(s, ops[i], pw, 0, &err)) {
            fprintf(stderr, "operator: %s\n", err.msg);
            printf("0 passed, 1 failed\n");
            return 1;
        }
    }
    omr_review_operator_disable(s, "dora", 1, &err);
    omr_store_close(s);
    omr_review_opts_t o;
    omr_review_opts_default(&o);
    o.db_path = g_db;
    o.template_path = "templates/ipa-itsc-2018";
    o.listen = "127.0.0.1:0";
    o.warm = 0;
    if (omr_review_start(&o, &g_srv, &err)) {
        fprintf(stderr, "start: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    g_port = omr_review_port(g_srv);
    RUN(test_origin_behind_tls_proxy);
    RUN(test_disable_and_passwd_end_sessions);
    RUN(test_unknown_name_dummy_verify);
    RUN(test_throttle_per_name);
    RUN(test_throttle_per_address);
    RUN(test_sessions_per_operator);
    omr_review_stop(g_srv);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return check_report();
}
