/* review_internal.h -- what the review server's files share (review_http.c,
 * review_api.c, review_image.c, review_store.c, review_page.c). Not a public
 * header: the public contract is review.h.
 */
#ifndef OMR_REVIEW_INTERNAL_H
#define OMR_REVIEW_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <leptonica/allheaders.h>

#include "calib.h"
#include "load.h"
#include "review.h"

/* ---- review_store.c: queue queries (caller holds the DB lock) ---- */

/* 1 when z is a valid operator name. */
int omr_review_name_ok(const char *z);

/* The next item for owner in context order (same page as last_page, then
 * same question, then the first page nobody else holds, then anything),
 * skipping ids in skip (",12,40," form). 0 when none, -1 on a DB error. */
long long omr_review_q_next(sqlite3 *db, const char *owner, long long last_page, const char *last_form,
                            const char *last_question, const char *skip);
/* Lease item to owner if it is takeable: 0 leased, 1 not takeable, -1 DB error. */
int omr_review_q_lease(sqlite3 *db, const char *owner, long long item, int seconds);
/* 1 owner holds the item's lease, 2 it does not (open, resolved, someone
 * else's), 0 no such item, -1 DB error. */
int omr_review_q_holds(sqlite3 *db, const char *owner, long long item);
/* Give back every lease owner holds except item `except`. */
void omr_review_q_release(sqlite3 *db, const char *owner, long long except);
/* What a respondent's coding depends on that requests change (its live and
 * undone decisions, its pages), as text: equal before and after coding means
 * nothing was decided meanwhile. */
void omr_review_q_fingerprint(sqlite3 *db, const char *form, const char *respondent, char *buf, size_t n);

/* Store a page an operator assigned (register/sample/classify done under
 * the assigned identity, r): the page row and its regions are replaced, the
 * page as scanned is kept for undo, the respondents it left and joined are
 * marked dirty. Run inside the caller's transaction. */
omr_status_t omr_review_page_assign(sqlite3 *db, const omr_survey_t *survey, long long page,
                                    const omr_page_result_t *r, omr_error_t *err);
/* Undo it: the page as scanned comes back (nothing happens without a backup). */
omr_status_t omr_review_page_unassign(sqlite3 *db, long long page, omr_error_t *err);

/* ---- the pages of the review screen (review_files.c, review_image.c) ---- */

/* Where a page's pixels are and how the template maps onto them. */
typedef struct {
    long long id;
    char path[4096];    /* the file as scanned (review_files.c finds where it is now) */
    long long file_id;
    char sha256[65];    /* the file's SHA-256 when scanned, hex */
    long long size;     /* its size in bytes then (0: not known) */
    int idx;            /* page index in the file */
    double xform[6];
    int has_xform;      /* registered: xform maps template mm to px */
    int orientation;    /* from identify, used when there is no xform */
    char form[16];
    int page_number;
    char status[24];
} omr_review_page_t;

/* A rectangle to draw on a crop, in template mm, with its colour. */
typedef struct {
    omr_rect_t r;
    unsigned char rgb[3];
    int width;          /* line width in output px */
} omr_review_mark_t;

/* ---- review_files.c (the locator itself is public: review.h) ---- */

/* omr_load_page of pg's page from the file omr_review_files_locate finds;
 * *img is the caller's (omr_image_clear), also on failure. */
omr_status_t omr_review_files_load(omr_review_files_t *fs, const omr_review_page_t *pg, omr_image_t *img,
                                   omr_error_t *err);

/* ---- review_image.c: crops and pages as PNG ---- */

typedef struct omr_review_images omr_review_images_t;

/* Caches: decoded pages (a few, LRU) and encoded PNGs (bounded by bytes).
 * Pages are read through files (borrowed: it must outlive the caches). */
omr_review_images_t *omr_review_images_new(size_t max_png_bytes, omr_review_files_t *files);
void omr_review_images_free(omr_review_images_t *im);

/* The PNG cached under key; *pdata malloc'd copy owned by the caller. 1 hit, 0 miss. */
int omr_review_images_lookup(omr_review_images_t *im, const char *key, unsigned char **pdata, size_t *plen);

/* Render (or take from the cache, key) the crop of page pg around the
 * template rectangle `area` (mm), upright, at px_per_mm, with marks drawn.
 * *pdata malloc'd, owned by the caller. */
omr_status_t omr_review_images_crop(omr_review_images_t *im, const char *key, const omr_review_page_t *pg,
                                    omr_rect_t area, const omr_review_mark_t *marks, int n_marks, double px_per_mm,
                                    unsigned char **pdata, size_t *plen, omr_error_t *err);

/* The whole page, upright, width px wide (PNG, cached under key). */
omr_status_t omr_review_images_page(omr_review_images_t *im, const char *key, const omr_review_page_t *pg,
                                    int width, unsigned char **pdata, size_t *plen, omr_error_t *err);

/* The geometry of omr_review_images_page's output: the transform template
 * mm -> output px (valid when pg->has_xform) and the output size. Needs the
 * image size, which it reads from the cache or the file header. */
omr_status_t omr_review_images_page_geometry(omr_review_images_t *im, const omr_review_page_t *pg, int width,
                                             double *xf_out, int *pw, int *ph, omr_error_t *err);

/* ---- the server (review_http.c) ---- */

#define OMR_REVIEW_MAX_SESSIONS 512

typedef struct {
    int used;
    char token[65];        /* cookie value, hex of 32 random bytes */
    char csrf[65];
    char op[40];
    time_t created, last;
    /* queue context */
    long long last_page;
    char last_form[16];
    char last_question[24];
    char skip[1024];       /* ",id,id," passed over with the → key */
    long long last_item;   /* the item last handed to this operator, and what it was about */
    char last_key[160];    /* (form|respondent|case|question|var): a decision on it after the
                              coder settled it away is told "settled", not "no such item" */
    unsigned char hash_digest[16]; /* BLAKE2b of the operator's password hash at login: a new
                                      password (omr operator passwd) ends the session */
    unsigned long long touched;    /* srv->sess_clock at the last request: least recently used */
} omr_review_session_t;

struct omr_review_login; /* review_http.c: failed-login counts (throttling) */

struct omr_review_server {
    omr_review_opts_t opts;
    char *db_path, *template_path, *listen;
    omr_store_t *store;
    pthread_mutex_t db_lock;     /* the request threads' connection; every use of it holds the lock,
                                    and so does every write (also the coder's save) */
    omr_calib_t cal;             /* the scan's calibration (calib/default.calib when there), for assigned pages */
    omr_store_t *code_store;     /* the coder thread's own connection (reads without the lock) */
    omr_survey_t *survey;
    void *mhd;                   /* struct MHD_Daemon */
    int port;
    pthread_mutex_t sess_lock;
    omr_review_session_t sessions[OMR_REVIEW_MAX_SESSIONS];
    pthread_mutex_t login_lock;  /* Argon2id takes 64 MB: one check at a time */
    unsigned long long sess_clock;    /* under sess_lock: orders sessions by use */
    struct omr_review_login *login;   /* failed logins per name and per address (review_http.c) */
    unsigned long login_dummy_checks; /* under login_lock: logins checked against the dummy hash
                                         (unknown or disabled name: same cost as a real one) */
    omr_review_files_t *files;   /* where the scans are now, checked by hash (review_files.c) */
    omr_review_images_t *images;
    /* crop warmer */
    pthread_t warm_thread;
    int warm_started;
    pthread_mutex_t warm_lock;
    pthread_cond_t warm_cond;
    int stopping;
    int warm_kick;
    /* coder thread: re-codes respondents the decisions marked dirty */
    pthread_t code_thread;
    int code_started, code_kick, code_errors;
};

/* A request as the API handlers see it: method, path, the body parsed as
 * JSON (NULL when none), the session (a copy; NULL when not logged in). */
typedef struct {
    const char *method;
    const char *url;
    json_t *body;
    omr_review_session_t *sess;
    const char *query_w;   /* ?w= for page images */
} omr_review_req_t;

/* A reply: status, content type, body bytes (malloc'd), or a JSON value. */
typedef struct {
    int status;
    const char *type;
    unsigned char *data;
    size_t len;
    json_t *json;          /* owned; serialised by the server when data is NULL */
    char cookie[256];      /* Set-Cookie, when not empty */
    int cache_seconds;     /* images: private cache */
} omr_review_reply_t;

/* Fill a reply with {"error": msg} and status. */
void omr_review_reply_error(omr_review_reply_t *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* review_api.c: route an authenticated request (session checked, CSRF
 * checked for POST) to its handler. */
void omr_review_api(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep);

/* review_api.c: render the crops of upcoming items (the warmer thread's work);
 * returns how many it rendered. */
int omr_review_warm_some(omr_review_server_t *srv, int max);

/* review_api.c: re-code every dirty respondent (the coder thread's work),
 * taking the DB lock per respondent; returns how many were coded. */
int omr_review_code_dirty(omr_review_server_t *srv);

/* review_page.c: the built-in page. */
extern const char omr_review_page_html[];
extern const char omr_review_page_css[];
extern const char omr_review_page_js[];

#endif
