/* review_http.c -- the review server's HTTP side (review.h): libmicrohttpd,
 * request bodies with a size limit, sessions and CSRF tokens, login, the
 * built-in page, and the crop warmer thread. The JSON API itself is in
 * review_api.c; this file decides who may reach it.
 *
 * Checks, in order, for every request:
 *   1. body larger than opts.max_body                      -> 413
 *   2. GET / /app.js /app.css                               -> no session needed
 *   3. POST: an Origin header, when sent, naming this server
 *      (http:// or https:// and the Host, or X-Forwarded-Host
 *      when the request comes from loopback: see origin_ok) -> else 403
 *   4. POST /api/login: throttled per name and per client
 *      address (429), else Argon2id                         -> 200 or 401
 *   5. a valid, unexpired session cookie of an operator who
 *      is still enabled and has the password of the login   -> else 401
 *   6. POST: X-CSRF-Token equal to the session's token      -> else 403
 *   7. the handler (review_api.c): 400/404/409 for bad input, nothing changed.
 * Sessions live in memory (a restart logs everyone out, which is harmless):
 * 256-bit random tokens from libsodium, compared in constant time, expiring
 * after opts.session_seconds without a request; at most SESSIONS_PER_OP per
 * operator.
 *
 * Behind a TLS reverse proxy (README: Review, serving beyond this machine):
 * the browser's Origin is https://SITE; the proxy passes Host: SITE through,
 * or sends X-Forwarded-Host: SITE (believed from loopback only). The session
 * cookie is Secure when the request came through TLS: X-Forwarded-Proto:
 * https (or Forwarded: proto=https), or an https:// Origin. Believing these
 * from anyone is harmless: they only make the cookie stricter, and a page of
 * another site cannot make a browser send X-Forwarded-* (custom headers need
 * a CORS preflight, which this server never grants). The client address for
 * login throttling is the rightmost X-Forwarded-For entry (the one the proxy
 * appended) when the request comes from loopback, else the peer address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "review_internal.h"

void omr_review_opts_default(omr_review_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->lease_seconds = 300;
    o->session_seconds = 8 * 3600;
    o->max_body = 64 * 1024;
    o->warm = 1;
}

void omr_review_reply_error(omr_review_reply_t *rep, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(rep->json);
    free(rep->data);
    rep->data = NULL;
    rep->status = status;
    rep->json = json_pack("{s:s}", "error", omr_utf8_safe(msg)); /* a value quoted in it may be cut inside a character */
}

/* ---- sessions ---- */

static void random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    randombytes_buf(buf, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, buf, nbytes);
}

/* Find the session of a token; copies it to *out. 1 found, 0 not. */
static int session_find(omr_review_server_t *srv, const char *token, omr_review_session_t *out)
{
    if (!token || strlen(token) != 64)
        return 0;
    time_t now = time(NULL);
    int found = 0;
    pthread_mutex_lock(&srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++) {
        omr_review_session_t *s = &srv->sessions[i];
        if (!s->used || sodium_memcmp(s->token, token, 64) != 0)
            continue;
        if (now - s->last > srv->opts.session_seconds) {
            sodium_memzero(s, sizeof *s); /* expired */
            break;
        }
        s->last = now;
        s->touched = ++srv->sess_clock;
        *out = *s;
        found = 1;
        break;
    }
    pthread_mutex_unlock(&srv->sess_lock);
    return found;
}

/* Write back the queue context a handler changed. */
static void session_save(omr_review_server_t *srv, const omr_review_session_t *copy)
{
    pthread_mutex_lock(&srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++) {
        omr_review_session_t *s = &srv->sessions[i];
        if (s->used && !strcmp(s->token, copy->token)) {
            s->last_page = copy->last_page;
            memcpy(s->last_form, copy->last_form, sizeof s->last_form);
            memcpy(s->last_question, copy->last_question, sizeof s->last_question);
            memcpy(s->skip, copy->skip, sizeof s->skip);
            s->last_item = copy->last_item;
            memcpy(s->last_key, copy->last_key, sizeof s->last_key);
            break;
        }
    }
    pthread_mutex_unlock(&srv->sess_lock);
}

/* One operator's sessions at most (browsers, tabs after a lost cookie): a
 * further login ends their own session used longest ago, so one account
 * logging in again and again cannot push the others out of the table. */
#define SESSIONS_PER_OP 8

/* The digest of a password hash a session keeps: the hash changes with the
 * password (`omr operator passwd`), and the session ends. */
static void hash_digest(const char *hash, unsigned char out[16])
{
    crypto_generichash(out, 16, (const unsigned char *)hash, strlen(hash), NULL, 0);
}

static int session_new(omr_review_server_t *srv, const char *op, const unsigned char digest[16],
                       omr_review_session_t *out)
{
    time_t now = time(NULL);
    int slot = -1, mine = 0, mine_lru = -1;
    pthread_mutex_lock(&srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++) {
        omr_review_session_t *s = &srv->sessions[i];
        if (s->used && now - s->last > srv->opts.session_seconds)
            sodium_memzero(s, sizeof *s);
        if (s->used && !strcmp(s->op, op)) {
            mine++;
            if (mine_lru < 0 || s->touched < srv->sessions[mine_lru].touched)
                mine_lru = i;
        }
        if (!s->used && slot < 0)
            slot = i;
    }
    if (mine >= SESSIONS_PER_OP) /* the operator's own session used longest ago goes */
        slot = mine_lru;
    else if (slot < 0) { /* full: the session used longest ago goes */
        slot = 0;
        for (int i = 1; i < OMR_REVIEW_MAX_SESSIONS; i++)
            if (srv->sessions[i].touched < srv->sessions[slot].touched)
                slot = i;
    }
    omr_review_session_t *s = &srv->sessions[slot];
    sodium_memzero(s, sizeof *s);
    s->used = 1;
    random_hex(s->token, 32);
    random_hex(s->csrf, 32);
    snprintf(s->op, sizeof s->op, "%s", op);
    memcpy(s->hash_digest, digest, sizeof s->hash_digest);
    s->created = s->last = now;
    s->touched = ++srv->sess_clock;
    *out = *s;
    pthread_mutex_unlock(&srv->sess_lock);
    return 1;
}

static void session_end(omr_review_server_t *srv, const char *token)
{
    pthread_mutex_lock(&srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++)
        if (srv->sessions[i].used && !strcmp(srv->sessions[i].token, token))
            sodium_memzero(&srv->sessions[i], sizeof srv->sessions[i]);
    pthread_mutex_unlock(&srv->sess_lock);
}

/* The operator of a session is still the one who logged in: the name exists,
 * is not disabled, and has the password hash of the login (one indexed read
 * per request, so `omr operator disable` and `passwd` take effect at the
 * operator's next request). 1 yes; 0 no: the session is ended here, and a
 * disabled or removed operator's leases go back to the queue; -1 the store
 * could not be read (the session is kept). */
static int session_operator_ok(omr_review_server_t *srv, const omr_review_session_t *sess)
{
    int ok = -1, gone = 0;
    pthread_mutex_lock(&srv->db_lock);
    sqlite3 *db = omr_store_db(srv->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT hash, disabled FROM operators WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sess->op, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            const char *hash = (const char *)sqlite3_column_text(st, 0);
            unsigned char d[16];
            hash_digest(hash ? hash : "", d);
            gone = sqlite3_column_int(st, 1) != 0;
            ok = !gone && sodium_memcmp(d, sess->hash_digest, sizeof d) == 0;
        } else if (r == SQLITE_DONE) {
            gone = 1;
            ok = 0;
        }
    }
    sqlite3_finalize(st);
    if (gone)
        omr_review_q_release(db, sess->op, 0);
    pthread_mutex_unlock(&srv->db_lock);
    if (ok == 0)
        session_end(srv, sess->token);
    return ok;
}

/* ---- the client ---- */

/* The peer's address as text into addr; 1 when it is loopback (where the
 * documented reverse proxy runs). */
static int peer_address(struct MHD_Connection *c, char *addr, size_t n)
{
    snprintf(addr, n, "?");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)n);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)n);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

/* Who is logging in, for throttling: "a:ADDRESS". From loopback (the proxy)
 * the rightmost X-Forwarded-For entry, which the proxy appended; entries
 * before it are the client's own words and are not believed. */
static void client_key(struct MHD_Connection *c, char *out, size_t n)
{
    char peer[INET6_ADDRSTRLEN + 1];
    int lo = peer_address(c, peer, sizeof peer);
    const char *xff = lo ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For") : NULL;
    if (xff) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        last += strspn(last, " \t");
        char a[INET6_ADDRSTRLEN + 1];
        size_t k = strcspn(last, " \t");
        unsigned char bin[sizeof(struct in6_addr)];
        if (k < sizeof a && last[k + strspn(last + k, " \t")] == '\0') {
            memcpy(a, last, k);
            a[k] = '\0';
            if (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1) {
                snprintf(out, n, "a:%s", a);
                return;
            }
        }
    }
    snprintf(out, n, "a:%s", peer);
}

/* The request reached the proxy through TLS: the session cookie is Secure. */
static int request_tls(struct MHD_Connection *c)
{
    const char *p = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    if (p) {
        p += strspn(p, " \t");
        if (!strncasecmp(p, "https", 5) && (p[5] == '\0' || p[5] == ',' || p[5] == ' '))
            return 1;
    }
    const char *f = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Forwarded");
    if (f && strcasestr(f, "proto=https"))
        return 1;
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    return o && !strncasecmp(o, "https://", 8);
}

static void set_session_cookie(omr_review_reply_t *rep, const char *token, int max_age, int tls)
{
    snprintf(rep->cookie, sizeof rep->cookie, "omr_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s", token,
             max_age, tls ? "; Secure" : "");
}

/* ---- login throttling ----
 * Failed logins are counted per name (known or not: the answers must not
 * tell names apart) and per client address. THROTTLE_FAILS failures within
 * THROTTLE_WINDOW seconds refuse that name / address for THROTTLE_FIRST
 * seconds (429, saying how long), doubling with each further such run up to
 * THROTTLE_MAX; a refused attempt costs no Argon2id check. A name or address
 * without a failure for THROTTLE_FORGET seconds starts afresh, and so does a
 * name after a successful login. The table has THROTTLE_SLOTS entries: when
 * full, one not refused, idle longest, makes room (a flood of new addresses
 * does not free the refused ones). */
#define THROTTLE_SLOTS 1024
#define THROTTLE_FAILS 5
#define THROTTLE_WINDOW 60
#define THROTTLE_FIRST 30
#define THROTTLE_MAX 900
#define THROTTLE_FORGET 3600

typedef struct {
    char key[72]; /* "n:NAME" or "a:ADDRESS"; "" free */
    int fails, strikes;
    time_t window, blocked_until, last;
} throttle_t;

struct omr_review_login {
    pthread_mutex_t lock;
    throttle_t slot[THROTTLE_SLOTS];
};

/* An unknown or disabled name is checked against this (interactive limits,
 * as omr_review_operator_add makes them; nobody's password), so that it
 * costs what a real check costs; it never logs anyone in. */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$lvVYUASZGBTegHQIow7XRA$pfgDhsm+3+jiSKMzZwFazKMFstSbdqMH8JeXmYX2+9k";

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Which entry to give up first: free, then not refused (idle longest), then
 * refused (the refusal ending soonest). */
static int evict_before(const throttle_t *a, const throttle_t *b, time_t now)
{
    int ra = !a->key[0] ? 0 : a->blocked_until <= now ? 1 : 2;
    int rb = !b->key[0] ? 0 : b->blocked_until <= now ? 1 : 2;
    if (ra != rb)
        return ra < rb;
    if (ra == 1)
        return a->last < b->last;
    if (ra == 2)
        return a->blocked_until < b->blocked_until;
    return 0;
}

/* The entry of key (caller holds L->lock); with create, made when missing. */
static throttle_t *throttle_get(struct omr_review_login *L, const char *key, time_t now, int create)
{
    throttle_t *victim = NULL;
    for (int i = 0; i < THROTTLE_SLOTS; i++) {
        throttle_t *t = &L->slot[i];
        if (t->key[0] && t->blocked_until <= now && now - t->last > THROTTLE_FORGET)
            memset(t, 0, sizeof *t);
        if (t->key[0] && !strcmp(t->key, key))
            return t;
        if (create && (!victim || evict_before(t, victim, now)))
            victim = t;
    }
    if (!victim)
        return NULL;
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->window = victim->last = now;
    return victim;
}

/* Seconds until key may try again (0: now). */
static long throttle_wait(struct omr_review_login *L, const char *key)
{
    if (!key[0])
        return 0;
    time_t now = mono_now();
    pthread_mutex_lock(&L->lock);
    throttle_t *t = throttle_get(L, key, now, 0);
    long w = t && t->blocked_until > now ? (long)(t->blocked_until - now) : 0;
    pthread_mutex_unlock(&L->lock);
    return w;
}

static void throttle_fail(struct omr_review_login *L, const char *key)
{
    if (!key[0])
        return;
    time_t now = mono_now();
    pthread_mutex_lock(&L->lock);
    throttle_t *t = throttle_get(L, key, now, 1);
    if (now - t->window >= THROTTLE_WINDOW)
        t->window = now, t->fails = 0;
    t->fails++;
    t->last = now;
    if (t->fails >= THROTTLE_FAILS) {
        long d = THROTTLE_FIRST;
        for (int k = 0; k < t->strikes && d < THROTTLE_MAX; k++)
            d *= 2;
        t->strikes++;
        t->blocked_until = now + (d < THROTTLE_MAX ? d : THROTTLE_MAX);
        t->fails = 0;
        t->window = now;
    }
    pthread_mutex_unlock(&L->lock);
}

static void throttle_clear(struct omr_review_login *L, const char *key)
{
    if (!key[0])
        return;
    pthread_mutex_lock(&L->lock);
    throttle_t *t = throttle_get(L, key, mono_now(), 0);
    if (t)
        memset(t, 0, sizeof *t);
    pthread_mutex_unlock(&L->lock);
}

/* 1 (and the 429 in rep) when the address or the name must wait. */
static int throttled(omr_review_server_t *srv, const char *akey, const char *nkey, const char *name,
                     omr_review_reply_t *rep)
{
    long wa = throttle_wait(srv->login, akey), wn = throttle_wait(srv->login, nkey);
    if (wa > 0 && wa >= wn)
        omr_review_reply_error(rep, 429,
                               "too many failed logins from this address: try again in %ld s (the wait doubles"
                               " with each further run of failures, up to %d min)",
                               wa, THROTTLE_MAX / 60);
    else if (wn > 0)
        omr_review_reply_error(rep, 429,
                               "too many failed logins for %s: try again in %ld s (the wait doubles with each"
                               " further run of failures, up to %d min)",
                               name, wn, THROTTLE_MAX / 60);
    return wa > 0 || wn > 0;
}

/* ---- login ---- */

static void do_login(omr_review_server_t *srv, struct MHD_Connection *c, omr_review_req_t *req,
                     omr_review_reply_t *rep)
{
    const char *name = json_string_value(json_object_get(req->body, "name"));
    const char *pw = json_string_value(json_object_get(req->body, "password"));
    if (!name || !pw) {
        omr_review_reply_error(rep, 400, "login needs a JSON body {\"name\": ..., \"password\": ...}");
        return;
    }
    int name_ok = omr_review_name_ok(name);
    char akey[80], nkey[48] = "";
    client_key(c, akey, sizeof akey);
    if (name_ok)
        snprintf(nkey, sizeof nkey, "n:%s", name);
    if (throttled(srv, akey, nkey, name, rep))
        return; /* at once: a flood does not queue on login_lock */
    int ok = 0;
    unsigned char digest[16] = {0};
    if (name_ok && strlen(pw) <= 256) {
        /* Argon2id: one at a time (64 MB each), outside the DB lock */
        pthread_mutex_lock(&srv->login_lock);
        /* the failures of those ahead in the queue count */
        if (throttled(srv, akey, nkey, name, rep)) {
            pthread_mutex_unlock(&srv->login_lock);
            return;
        }
        pthread_mutex_lock(&srv->db_lock);
        sqlite3_stmt *st = NULL;
        char hash[256] = "";
        int disabled = 1;
        if (sqlite3_prepare_v2(omr_store_db(srv->store), "SELECT hash, disabled FROM operators WHERE name = ?", -1,
                               &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) {
                const char *h = (const char *)sqlite3_column_text(st, 0);
                snprintf(hash, sizeof hash, "%s", h ? h : "");
                hash_digest(h ? h : "", digest); /* as session_operator_ok computes it */
                disabled = sqlite3_column_int(st, 1);
            }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&srv->db_lock);
        /* an unknown or disabled name costs a check too: the time of the
         * answer does not tell which names exist */
        int real = hash[0] && !disabled;
        if (!real)
            srv->login_dummy_checks++;
        int match = crypto_pwhash_str_verify(real ? hash : dummy_hash, pw, strlen(pw)) == 0;
        ok = real && match;
        if (ok) {
            throttle_clear(srv->login, nkey);
        } else {
            throttle_fail(srv->login, akey);
            throttle_fail(srv->login, nkey);
        }
        sodium_memzero(hash, sizeof hash);
        pthread_mutex_unlock(&srv->login_lock);
    } else {
        throttle_fail(srv->login, akey); /* not a name: only the address counts */
    }
    if (!ok) {
        omr_review_reply_error(rep, 401, "unknown operator or wrong password");
        return;
    }
    omr_review_session_t s;
    session_new(srv, name, digest, &s);
    rep->status = 200;
    rep->json = json_pack("{s:s,s:s}", "operator", s.op, "csrf", s.csrf);
    set_session_cookie(rep, s.token, srv->opts.session_seconds, request_tls(c));
}

/* ---- libmicrohttpd glue ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int too_big;
} conn_t;

static enum MHD_Result send_reply(struct MHD_Connection *c, omr_review_reply_t *rep)
{
    if (!rep->data) {
        char *z = rep->json ? json_dumps(rep->json, JSON_COMPACT) : NULL;
        rep->data = (unsigned char *)(z ? z : strdup("{}"));
        rep->len = rep->data ? strlen((char *)rep->data) : 0;
        rep->type = "application/json; charset=utf-8";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(rep->len, rep->data, MHD_RESPMEM_MUST_FREE);
    rep->data = NULL;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", rep->type ? rep->type : "application/octet-stream");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self';"
                            " frame-ancestors 'none'; form-action 'none'");
    if (rep->cache_seconds > 0) {
        char cc[64];
        snprintf(cc, sizeof cc, "private, max-age=%d", rep->cache_seconds);
        MHD_add_response_header(r, "Cache-Control", cc);
    } else {
        MHD_add_response_header(r, "Cache-Control", "no-store");
    }
    if (rep->cookie[0])
        MHD_add_response_header(r, "Set-Cookie", rep->cookie);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rep->status, r);
    MHD_destroy_response(r);
    json_decref(rep->json);
    rep->json = NULL;
    return ret;
}

static void static_reply(omr_review_reply_t *rep, const char *text, const char *type)
{
    rep->status = 200;
    rep->len = strlen(text);
    rep->data = malloc(rep->len + 1);
    if (rep->data)
        memcpy(rep->data, text, rep->len + 1);
    else
        rep->len = 0;
    rep->type = type;
}

/* host (a Host header's value, len hn) names the host[:port] hp (len n) of an
 * Origin of scheme https or http: the same, or with the default port written. */
static int host_is(const char *hp, size_t n, int https, const char *host, size_t hn)
{
    while (hn && (*host == ' ' || *host == '\t'))
        host++, hn--;
    while (hn && (host[hn - 1] == ' ' || host[hn - 1] == '\t'))
        hn--;
    if (hn < n || strncasecmp(host, hp, n) != 0)
        return 0;
    const char *dp = https ? ":443" : ":80";
    return hn == n || (hn == n + strlen(dp) && !strncmp(host + n, dp, strlen(dp)));
}

/* Origin, when the browser sends one, must be this server: a page of another
 * site cannot post here even with a stolen token. This server is
 * http://HOST or https://HOST (behind a TLS proxy), HOST the Host the browser
 * asked for, or the proxy's X-Forwarded-Host when the request comes from
 * loopback. A browser never lets another site's page set either header. */
static int origin_ok(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return 1;
    int https;
    const char *hp;
    if (!strncasecmp(origin, "https://", 8))
        https = 1, hp = origin + 8;
    else if (!strncasecmp(origin, "http://", 7))
        https = 0, hp = origin + 7;
    else
        return 0; /* "null", other schemes */
    size_t n = strlen(hp);
    if (n == 0 || n > 255 || strcspn(hp, "/?#@\\ \t") != n)
        return 0;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && host_is(hp, n, https, host, strlen(host)))
        return 1;
    char peer[INET6_ADDRSTRLEN + 1];
    const char *fwd = peer_address(c, peer, sizeof peer)
                          ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Host")
                          : NULL;
    return fwd && host_is(hp, n, https, fwd, strcspn(fwd, ",")); /* the first: the client's */
}

static void handle(omr_review_server_t *srv, struct MHD_Connection *c, const char *url, const char *method,
                   conn_t *cc, omr_review_reply_t *rep)
{
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), is_post = !strcmp(method, "POST");
    if (!is_get && !is_post) {
        omr_review_reply_error(rep, 405, "method %s is not allowed", method);
        return;
    }
    if (cc->too_big) {
        omr_review_reply_error(rep, 413, "request body larger than %zu bytes", srv->opts.max_body);
        return;
    }
    if (is_get && (!strcmp(url, "/") || !strcmp(url, "/index.html"))) {
        static_reply(rep, omr_review_page_html, "text/html; charset=utf-8");
        return;
    }
    if (is_get && !strcmp(url, "/app.js")) {
        static_reply(rep, omr_review_page_js, "text/javascript; charset=utf-8");
        return;
    }
    if (is_get && !strcmp(url, "/app.css")) {
        static_reply(rep, omr_review_page_css, "text/css; charset=utf-8");
        return;
    }
    omr_review_req_t req = {.method = method, .url = url};
    if (is_post) {
        if (!origin_ok(c)) {
            omr_review_reply_error(rep, 403, "cross-origin request refused");
            return;
        }
        if (cc->len) {
            json_error_t jerr;
            req.body = json_loadb(cc->buf, cc->len, JSON_REJECT_DUPLICATES, &jerr);
            if (!req.body || !json_is_object(req.body)) {
                json_decref(req.body);
                omr_review_reply_error(rep, 400, "the body is not a JSON object");
                return;
            }
        } else {
            req.body = json_object();
        }
    }
    if (is_post && !strcmp(url, "/api/login")) {
        do_login(srv, c, &req, rep);
        json_decref(req.body);
        return;
    }
    omr_review_session_t sess;
    const char *token = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "omr_session");
    if (!session_find(srv, token, &sess)) {
        omr_review_reply_error(rep, 401, "not logged in, or the session expired: log in again");
        json_decref(req.body);
        return;
    }
    int live = session_operator_ok(srv, &sess);
    if (live <= 0) {
        if (live == 0) {
            omr_review_reply_error(rep, 401,
                                   "the session ended: operator %s was disabled, removed or given a new password;"
                                   " log in again",
                                   sess.op);
            set_session_cookie(rep, "", 0, request_tls(c));
        } else {
            omr_review_reply_error(rep, 503, "the store cannot be read just now: try again");
        }
        sodium_memzero(&sess, sizeof sess);
        json_decref(req.body);
        return;
    }
    if (is_post) {
        const char *csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!csrf || strlen(csrf) != 64 || sodium_memcmp(csrf, sess.csrf, 64) != 0) {
            omr_review_reply_error(rep, 403, "missing or wrong CSRF token (X-CSRF-Token)");
            json_decref(req.body);
            return;
        }
    }
    req.sess = &sess;
    req.query_w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "w");
    if (is_get && !strcmp(url, "/api/me")) {
        rep->status = 200;
        rep->json = json_pack("{s:s,s:s}", "operator", sess.op, "csrf", sess.csrf);
    } else if (is_post && !strcmp(url, "/api/logout")) {
        session_end(srv, sess.token);
        rep->status = 200;
        rep->json = json_pack("{s:b}", "ok", 1);
        set_session_cookie(rep, "", 0, request_tls(c));
        pthread_mutex_lock(&srv->db_lock);
        omr_review_q_release(omr_store_db(srv->store), sess.op, 0);
        pthread_mutex_unlock(&srv->db_lock);
    } else {
        omr_review_api(srv, &req, rep);
        session_save(srv, &sess);
    }
    json_decref(req.body);
    /* a decision or a lease changes what comes next: let the warmer look */
    if (is_post) {
        pthread_mutex_lock(&srv->warm_lock);
        srv->warm_kick = 1;
        pthread_cond_broadcast(&srv->warm_cond);
        pthread_mutex_unlock(&srv->warm_lock);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    omr_review_server_t *srv = cls;
    conn_t *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > srv->opts.max_body) {
            /* refuse at once, without reading the body */
            omr_review_reply_t rep = {0};
            omr_review_reply_error(&rep, 413, "request body larger than %zu bytes", srv->opts.max_body);
            return send_reply(c, &rep);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_big) {
            if (cc->len + *upload_size > srv->opts.max_body) {
                cc->too_big = 1;
                free(cc->buf);
                cc->buf = NULL;
                cc->len = cc->cap = 0;
            } else {
                if (cc->len + *upload_size > cc->cap) {
                    size_t cap = (cc->len + *upload_size) * 2;
                    char *b = realloc(cc->buf, cap);
                    if (!b)
                        return MHD_NO;
                    cc->buf = b;
                    cc->cap = cap;
                }
                memcpy(cc->buf + cc->len, upload, *upload_size);
                cc->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    omr_review_reply_t rep = {0};
    rep.status = 500;
    handle(srv, c, url, method, cc, &rep);
    enum MHD_Result r = send_reply(c, &rep);
    free(rep.data);
    json_decref(rep.json);
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn_t *cc = *con_cls;
    if (cc) {
        free(cc->buf);
        free(cc);
    }
    *con_cls = NULL;
}

static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls, (void)fmt, (void)ap; /* the library does not print; errors reach the client as statuses */
}

/* ---- the crop warmer ---- */

static void *warm_main(void *arg)
{
    omr_review_server_t *srv = arg;
    /* below the request threads: warming only uses idle time */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 4);
    pthread_mutex_lock(&srv->warm_lock);
    while (!srv->stopping) {
        srv->warm_kick = 0;
        pthread_mutex_unlock(&srv->warm_lock);
        int n = omr_review_warm_some(srv, 8);
        pthread_mutex_lock(&srv->warm_lock);
        if (n == 0 && !srv->warm_kick && !srv->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2;
            pthread_cond_timedwait(&srv->warm_cond, &srv->warm_lock, &ts);
        }
    }
    pthread_mutex_unlock(&srv->warm_lock);
    return NULL;
}

/* ---- the coder: decisions reach responses and export ---- */

static void *code_main(void *arg)
{
    omr_review_server_t *srv = arg;
    pthread_mutex_lock(&srv->warm_lock);
    while (!srv->stopping) {
        if (!srv->code_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&srv->warm_cond, &srv->warm_lock, &ts);
        }
        int kicked = srv->code_kick;
        srv->code_kick = 0;
        pthread_mutex_unlock(&srv->warm_lock);
        if (kicked)
            omr_review_code_dirty(srv);
        pthread_mutex_lock(&srv->warm_lock);
    }
    pthread_mutex_unlock(&srv->warm_lock);
    /* what was decided just before the stop is coded before the server goes */
    omr_review_code_dirty(srv);
    return NULL;
}

/* ---- start, stop ---- */

static omr_status_t parse_listen(const char *z, struct sockaddr_in *sa, omr_error_t *err)
{
    char host[64];
    int port = -1, end = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (sscanf(z, "%63[^:]:%d%n", host, &port, &end) != 2 || z[end] || port < 0 || port > 65535)
        return omr_error_set(err, OMR_EINPUT, "--listen %s: give HOST:PORT, e.g. 127.0.0.1:8080", z);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return omr_error_set(err, OMR_EINPUT, "--listen %s: '%s' is not an IPv4 address", z, host);
    sa->sin_port = htons((unsigned short)port);
    return OMR_OK;
}

omr_status_t omr_review_start(const omr_review_opts_t *opts, omr_review_server_t **psrv, omr_error_t *err)
{
    *psrv = NULL;
    if (sodium_init() < 0)
        return omr_error_set(err, OMR_EIO, "libsodium could not be initialised");
    if (!opts->db_path || !opts->template_path)
        return omr_error_set(err, OMR_EINPUT, "review: a database and a survey folder are needed");
    omr_review_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    srv->opts = *opts;
    omr_review_opts_t def;
    omr_review_opts_default(&def);
    if (!srv->opts.listen)
        srv->opts.listen = def.listen;
    if (srv->opts.lease_seconds <= 0)
        srv->opts.lease_seconds = def.lease_seconds;
    if (srv->opts.session_seconds <= 0)
        srv->opts.session_seconds = def.session_seconds;
    if (!srv->opts.max_body)
        srv->opts.max_body = def.max_body;
    pthread_mutex_init(&srv->db_lock, NULL);
    pthread_mutex_init(&srv->sess_lock, NULL);
    pthread_mutex_init(&srv->login_lock, NULL);
    pthread_mutex_init(&srv->warm_lock, NULL);
    pthread_cond_init(&srv->warm_cond, NULL);
    if (!(srv->login = calloc(1, sizeof *srv->login))) {
        omr_review_stop(srv);
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&srv->login->lock, NULL);
    omr_status_t rc;
    struct sockaddr_in sa;
    if ((rc = parse_listen(srv->opts.listen, &sa, err)) ||
        (rc = omr_template_load(opts->template_path, &srv->survey, err)) ||
        (rc = omr_store_open(opts->db_path, &srv->store, err)) || (rc = omr_review_schema(srv->store, err)) ||
        (rc = omr_store_open(opts->db_path, &srv->code_store, err)))
        goto fail;
    /* the calibration omr scan uses: assigned pages are read like scanned ones */
    omr_calib_default(&srv->cal);
    if (access("calib/default.calib", F_OK) == 0) {
        omr_error_t cerr = {0};
        if (omr_calib_load("calib/default.calib", &srv->cal, &cerr))
            omr_calib_default(&srv->cal);
    }
    if (!(srv->files = omr_review_files_new(opts->image_dirs, opts->n_image_dirs)) ||
        !(srv->images = omr_review_images_new(256u << 20, srv->files))) {
        rc = omr_error_set(err, OMR_ENOMEM, "out of memory");
        goto fail;
    }
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO, 0, NULL,
                         NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_NOTIFY_COMPLETED, on_done, srv, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                         MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL,
                         MHD_OPTION_END);
    if (!d) {
        rc = omr_error_set(err, OMR_EIO, "cannot listen on %s (address in use, or not this machine's)",
                           srv->opts.listen);
        goto fail;
    }
    srv->mhd = d;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : ntohs(sa.sin_port);
    if (srv->opts.warm && pthread_create(&srv->warm_thread, NULL, warm_main, srv) == 0)
        srv->warm_started = 1;
    srv->code_kick = 1; /* respondents left dirty by an earlier run */
    if (pthread_create(&srv->code_thread, NULL, code_main, srv) == 0)
        srv->code_started = 1;
    *psrv = srv;
    return OMR_OK;
fail:
    omr_review_stop(srv);
    return rc;
}

int omr_review_port(const omr_review_server_t *srv) { return srv ? srv->port : 0; }

void omr_review_stop(omr_review_server_t *srv)
{
    if (!srv)
        return;
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    pthread_mutex_lock(&srv->warm_lock);
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->warm_cond);
    pthread_mutex_unlock(&srv->warm_lock);
    if (srv->warm_started)
        pthread_join(srv->warm_thread, NULL);
    if (srv->code_started)
        pthread_join(srv->code_thread, NULL);
    omr_review_images_free(srv->images);
    omr_review_files_free(srv->files);
    omr_store_close(srv->code_store);
    omr_store_close(srv->store);
    omr_template_free(srv->survey);
    pthread_mutex_destroy(&srv->db_lock);
    pthread_mutex_destroy(&srv->sess_lock);
    pthread_mutex_destroy(&srv->login_lock);
    pthread_mutex_destroy(&srv->warm_lock);
    pthread_cond_destroy(&srv->warm_cond);
    if (srv->login) {
        pthread_mutex_destroy(&srv->login->lock);
        free(srv->login);
    }
    sodium_memzero(srv->sessions, sizeof srv->sessions);
    free(srv);
}
