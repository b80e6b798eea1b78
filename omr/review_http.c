/* review_http.c -- the review server's HTTP side (review.h): libmicrohttpd,
 * request bodies with a size limit, sessions and CSRF tokens, login, the
 * built-in page, and the crop warmer thread. The JSON API itself is in
 * review_api.c; this file decides who may reach it.
 *
 * Checks, in order, for every request:
 *   1. body larger than opts.max_body                      -> 413
 *   2. GET / /app.js /app.css, POST /api/login              -> no session needed
 *   3. a valid, unexpired session cookie                    -> else 401
 *   4. POST: X-CSRF-Token equal to the session's token, and
 *      an Origin header, when sent, naming this server      -> else 403
 *   5. the handler (review_api.c): 400/404/409 for bad input, nothing changed.
 * Sessions live in memory (a restart logs everyone out, which is harmless):
 * 256-bit random tokens from libsodium, compared in constant time, expiring
 * after opts.session_seconds without a request.
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
    rep->json = json_pack("{s:s}", "error", msg);
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

static int session_new(omr_review_server_t *srv, const char *op, omr_review_session_t *out)
{
    time_t now = time(NULL);
    int slot = -1;
    pthread_mutex_lock(&srv->sess_lock);
    for (int i = 0; i < OMR_REVIEW_MAX_SESSIONS; i++) {
        omr_review_session_t *s = &srv->sessions[i];
        if (s->used && now - s->last > srv->opts.session_seconds)
            sodium_memzero(s, sizeof *s);
        if (!s->used && slot < 0)
            slot = i;
    }
    if (slot < 0) { /* full: the session idle longest goes */
        slot = 0;
        for (int i = 1; i < OMR_REVIEW_MAX_SESSIONS; i++)
            if (srv->sessions[i].last < srv->sessions[slot].last)
                slot = i;
    }
    omr_review_session_t *s = &srv->sessions[slot];
    memset(s, 0, sizeof *s);
    s->used = 1;
    random_hex(s->token, 32);
    random_hex(s->csrf, 32);
    snprintf(s->op, sizeof s->op, "%s", op);
    s->created = s->last = now;
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

/* ---- login ---- */

static void do_login(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    const char *name = json_string_value(json_object_get(req->body, "name"));
    const char *pw = json_string_value(json_object_get(req->body, "password"));
    if (!name || !pw) {
        omr_review_reply_error(rep, 400, "login needs a JSON body {\"name\": ..., \"password\": ...}");
        return;
    }
    int ok = 0;
    omr_error_t err = {0};
    if (omr_review_name_ok(name) && strlen(pw) <= 256) {
        /* Argon2id: one at a time (64 MB each), outside the DB lock */
        pthread_mutex_lock(&srv->login_lock);
        pthread_mutex_lock(&srv->db_lock);
        sqlite3_stmt *st = NULL;
        char hash[256] = "";
        int disabled = 1;
        if (sqlite3_prepare_v2(omr_store_db(srv->store), "SELECT hash, disabled FROM operators WHERE name = ?", -1,
                               &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) {
                snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 0));
                disabled = sqlite3_column_int(st, 1);
            }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&srv->db_lock);
        if (hash[0] && !disabled)
            ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
        pthread_mutex_unlock(&srv->login_lock);
    }
    (void)err;
    if (!ok) {
        omr_review_reply_error(rep, 401, "unknown operator or wrong password");
        return;
    }
    omr_review_session_t s;
    session_new(srv, name, &s);
    rep->status = 200;
    rep->json = json_pack("{s:s,s:s}", "operator", s.op, "csrf", s.csrf);
    snprintf(rep->cookie, sizeof rep->cookie, "omr_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d",
             s.token, srv->opts.session_seconds);
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

/* Origin, when the browser sends one, must be this server: a page of another
 * site cannot post here even with a stolen token. */
static int origin_ok(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!origin)
        return 1;
    if (!host)
        return 0;
    char want[300];
    snprintf(want, sizeof want, "http://%s", host);
    return !strcmp(origin, want);
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
        do_login(srv, &req, rep);
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
        snprintf(rep->cookie, sizeof rep->cookie, "omr_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
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
    sodium_memzero(srv->sessions, sizeof srv->sessions);
    free(srv);
}
