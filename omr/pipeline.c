/* pipeline.c -- the scan driver (pipeline.h): the list of stages, per file
 * then per respondent. Each stage is one call into its own module; this file
 * only orders them, turns failures into page statuses, and runs workers.
 */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "code.h"
#include "identify.h"
#include "load.h"
#include "recognise.h"
#include "register.h"

/* A damaged file can claim any number of pages; past this many failed pages
 * in a row the rest of the file is one failure. */
#define MAX_FAILED_PAGES_IN_A_ROW 16

/* Copy a string into a fixed buffer, cut to fit. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the input list: files, folders walked like load.h does ---- */

typedef struct {
    char **paths;
    int n, cap;
} list_t;

static int list_push(list_t *l, const char *path)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        l->paths = p;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

static void list_free(list_t *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

/* omr_load_walk_images callback: the folder's image files join the list. */
static int push_found(void *ctx, const char *path, long long size)
{
    (void)size;
    return list_push(ctx, path);
}

/* ---- shared state between workers (anonymous shared memory) ---- */

enum { OUT_PENDING, OUT_DONE, OUT_SKIPPED, OUT_BUSY, OUT_REFUSED, OUT_DEFERRED };

typedef struct {
    int kind;
    char reason[1024];
} outcome_t;

typedef struct {
    int next;        /* next file index to take (atomic) */
    int done, skipped, busy, refused, deferred, pages;
    outcome_t out[]; /* one per file */
} shared_t;

static void add(int *p, int v) { __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static int get(int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

typedef struct {
    const omr_survey_t *survey;
    const omr_calib_t *cal;
    const list_t *files;
    shared_t *sh;
    long long batch;
    const omr_pipeline_opts_t *opts;
    double t0;
    double last_progress;
} run_t;

static void report_progress(run_t *r, int force)
{
    if (!r->opts->progress)
        return;
    double t = now_s();
    if (!force && t - r->last_progress < 0.25)
        return;
    r->last_progress = t;
    omr_pipeline_progress_t p = {.files_total = r->files->n,
                                 .files_done = get(&r->sh->done),
                                 .files_skipped = get(&r->sh->skipped),
                                 .files_busy = get(&r->sh->busy),
                                 .files_refused = get(&r->sh->refused),
                                 .files_deferred = get(&r->sh->deferred),
                                 .pages = get(&r->sh->pages),
                                 .elapsed_s = t - r->t0};
    r->opts->progress(r->opts->progress_ctx, &p);
}

/* ---- stage 1: hash ---- */

/* SHA-256 of the open file (load.h, OpenSSL): its identity in the store.
 * The loader reads the same descriptor with the digest given, so the file
 * is hashed once and the pages stored are the bytes hashed. */
static omr_status_t hash_file(int fd, const char *path, unsigned char md[32], char hex[65], long long *psize,
                              omr_error_t *err)
{
    omr_status_t st = omr_load_hash_fd(fd, path, md, psize, NULL, NULL, err);
    if (st != OMR_OK)
        return st;
    omr_load_sha256_hex(md, hex);
    return OMR_OK;
}

/* Why a file is left for the next run before it is read: last written
 * less than opts->settle_s ago (--settle). "" when not. */
static void unsettled_reason(const run_t *run, const omr_load_stamp_t *at_open, char *out, size_t n)
{
    out[0] = '\0';
    if (run->opts->settle_s <= 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double age = (double)(now.tv_sec - at_open->mtime_s) + 1e-9 * (double)(now.tv_nsec - at_open->mtime_ns);
    if (age < run->opts->settle_s)
        snprintf(out, n, "last written %.0f s ago, less than --settle %.0f s: it may still be being written; "
                         "left for the next run", age < 0 ? 0.0 : age, run->opts->settle_s);
}

/* ---- stage 4: identify ---- */

static void set_status(omr_page_result_t *r, omr_page_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(omr_page_result_t *r, omr_page_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->status = status;
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

/* Does a sheet that looks blank show the survey's corner marks (those of
 * its first page, upright or upside down), or, on a page printed without
 * marks, its print (omr_register_page_print against the page's reference)?
 * Then it is a page whose ink the scan made faint (a light grey scan of a
 * pencil-filled sheet), not a separator or the empty back of a duplex scan:
 * skipping it as blank would lose a respondent's page without a word. Only
 * sheets that look blank pay for it. */
static int shows_form_marks(PIX *pix, const omr_survey_t *survey, omr_sample_cache_t *cache, double dpi)
{
    const omr_form_t *form = &survey->forms[0];
    const omr_page_t *pg = &form->pages[0];
    omr_error_t err = {0};
    const omr_register_print_ref_t *ref =
        omr_page_has_marks(pg) ? NULL : omr_sample_cache_print_ref(cache, form, 0, &err);
    for (int orientation = 0; orientation <= 180; orientation += 180) {
        omr_register_t reg;
        omr_status_t st = omr_page_has_marks(pg) ? omr_register_page(pix, pg, orientation, dpi, NULL, &reg, &err)
                          : ref ? omr_register_page_print(pix, pg, ref, orientation, dpi, NULL, &reg, &err)
                                : OMR_ENOTFOUND;
        if (st == OMR_OK)
            return 1;
    }
    return 0;
}

/* A form that carries no barcode (survey identify=order): a sheet that is
 * not blank is a page of the survey's one form; which page, read_pages
 * says from its place in the file (page_number_by_order). Upright only:
 * nothing on such a page says which way up it was fed. */
static void identify_by_order(PIX *pix, const omr_survey_t *survey, omr_sample_cache_t *cache, omr_page_result_t *r)
{
    omr_error_t err = {0};
    int blank = 0;
    double ink = 0;
    if (omr_identify_is_blank(pix, 0, &blank, &ink, &err) == OMR_OK && blank &&
        !shows_form_marks(pix, survey, cache, r->dpi)) {
        set_status(r, OMR_PAGE_BLANK, "blank sheet (ink %.3f%% of the page)", 100 * ink);
        return;
    }
    r->status = OMR_PAGE_OK;
    r->orientation = 0;
    copy_str(r->form, sizeof r->form, survey->forms[0].id);
}

/* The page number of the n-th sheet of a file that is not blank (n from 0),
 * on a survey identified by order: pages 1 … N of the form, then 1 … N of
 * the next copy (respondent_from_file names it). */
static void page_number_by_order(const omr_survey_t *survey, int n, omr_page_result_t *r)
{
    if (r->status == OMR_PAGE_OK)
        r->page_number = n % survey->forms[0].n_pages + 1;
}

/* Which page of which form of our survey this is, or why not. The barcode
 * is looked for first (1-5 ms in its zone); only a page without one is
 * tested for blankness. */
static void identify(PIX *pix, const omr_survey_t *survey, omr_sample_cache_t *cache, omr_page_result_t *r)
{
    omr_barcode_t bc;
    omr_error_t err = {0};
    if (survey->ids_by_order) {
        identify_by_order(pix, survey, cache, r);
        return;
    }
    /* Look where the templates print the barcode first (~0.7 ms on a G4
     * page, against ~3 ms for the bottom fifth of the page). */
    omr_zone_t zone;
    omr_identify_zone_for_survey(survey, &zone);
    omr_status_t st = omr_identify_read_survey(pix, &zone, survey, &bc, &err);
    if (st == OMR_OK && bc.parsed) {
        copy_str(r->payload, sizeof r->payload, bc.payload);
        r->orientation = bc.orientation;
        r->barcode_box[0] = bc.x;
        r->barcode_box[1] = bc.y;
        r->barcode_box[2] = bc.w;
        r->barcode_box[3] = bc.h;
        const omr_form_t *form = omr_template_form(survey, bc.form);
        if (strcmp(bc.code, survey->code))
            set_status(r, OMR_PAGE_UNKNOWN_SURVEY, "barcode %s belongs to survey %s, not %s", bc.payload, bc.code,
                       survey->code);
        else if (!form)
            set_status(r, OMR_PAGE_UNKNOWN_PAGE, "barcode %s: survey %s has no form %s", bc.payload, survey->code,
                       bc.form);
        else if (bc.page < 1 || bc.page > form->n_pages)
            set_status(r, OMR_PAGE_UNKNOWN_PAGE, "barcode %s: form %s has pages 1-%d, not %d", bc.payload, bc.form,
                       form->n_pages, bc.page);
        else {
            r->status = OMR_PAGE_OK;
            copy_str(r->form, sizeof r->form, bc.form);
            r->page_number = bc.page;
            copy_str(r->respondent, sizeof r->respondent, bc.respondent);
        }
        return;
    }
    if (st == OMR_OK || st == OMR_EINPUT) {
        copy_str(r->payload, sizeof r->payload, bc.payload);
        set_status(r, OMR_PAGE_UNKNOWN_SURVEY, "barcode '%s' is not a page ID of survey %s", bc.payload,
                   survey->code);
        return;
    }
    if (st != OMR_ENOTFOUND) {
        set_status(r, OMR_PAGE_UNREADABLE, "barcode reader failed: %s", err.msg);
        return;
    }
    int blank = 0;
    double ink = 0;
    if (omr_identify_is_blank(pix, 0, &blank, &ink, &err) == OMR_OK && blank && !shows_form_marks(pix, survey, cache, r->dpi))
        set_status(r, OMR_PAGE_BLANK, "blank sheet (ink %.3f%% of the page)", 100 * ink);
    else
        set_status(r, OMR_PAGE_NO_BARCODE, "no page barcode found in any orientation");
}

/* A page identified by a fixed page ID (a form printed by another tool)
 * names no respondent: the scanned file is one returned questionnaire, so
 * the respondent is the file's name without folder and extension; a page
 * numbered below the one before it (by_order: or the same) starts another copy in the same file
 * ("name-2", "name-3"). The same number again is the same sheet fed twice:
 * it stays with its respondent, whose coding sends the duplicate to review
 * (a new respondent would be a phantom with one page). *pcopy and *plast
 * carry the count through the file's pages. Deterministic: a rerun of the
 * file gives the same IDs. */
static void respondent_from_file(omr_page_result_t *r, int by_order, int *pcopy, int *plast)
{
    if (r->status != OMR_PAGE_OK || r->respondent[0])
        return;
    /* by order, numbers only go up within a copy: page 1 again (a one-page
     * form's every sheet) is the next copy */
    if (*pcopy == 0 || r->page_number < *plast || (by_order && r->page_number == *plast))
        (*pcopy)++;
    *plast = r->page_number;
    const char *base = strrchr(r->file, '/');
    base = base ? base + 1 : r->file;
    const char *dot = strrchr(base, '.');
    int n = dot && dot > base ? (int)(dot - base) : (int)strlen(base);
    char suffix[16] = "";
    if (*pcopy > 1)
        snprintf(suffix, sizeof suffix, "-%d", *pcopy);
    int room = (int)sizeof r->respondent - 1 - (int)strlen(suffix);
    snprintf(r->respondent, sizeof r->respondent, "%.*s%s", n < room ? n : room, base, suffix);
}

/* ---- stages 2-6 for one file ---- */

typedef struct {
    omr_page_result_t *v;
    int n, cap;
} pages_t;

static omr_page_result_t *pages_add(pages_t *p)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        omr_page_result_t *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    omr_page_result_t *r = &p->v[p->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static void pages_free(pages_t *p)
{
    for (int i = 0; i < p->n; i++)
        omr_page_result_clear(&p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Load, identify and recognise every page of one claimed file into *pages.
 * Never fails for bad input: a failure becomes a page status. Returns the
 * page count the file claims; *file_error gets the reason when no page at
 * all could be read. */
static int read_pages(run_t *run, const char *path, int fd, const unsigned char *md, const char *sha,
                      omr_sample_cache_t *cache, pages_t *pages, char *file_error, size_t nfe)
{
    omr_load_t *src = NULL;
    omr_error_t err = {0};
    omr_image_t img;
    int n_in_file = 0, failed_in_a_row = 0, any_ok = 0;
    int copy = 0, last_page = 0; /* respondent_from_file */
    int n_by_order = 0;          /* sheets identified by their order so far */
    file_error[0] = 0;
    memset(&img, 0, sizeof img);
    if (omr_load_open_fd(path, fd, md, &src, &err)) {
        snprintf(file_error, nfe, "%s", err.msg);
        omr_page_result_t *r = pages_add(pages);
        if (r) {
            copy_str(r->file, sizeof r->file, path);
            copy_str(r->file_hash, sizeof r->file_hash, sha);
            set_status(r, OMR_PAGE_UNREADABLE, "%s", err.msg);
        }
        return 1;
    }
    omr_status_t st;
    while ((st = omr_load_next(src, &img, &err)) != OMR_ENOTFOUND) {
        omr_page_result_t *r = pages_add(pages);
        if (!r) {
            omr_image_clear(&img);
            break;
        }
        copy_str(r->file, sizeof r->file, path);
        copy_str(r->file_hash, sizeof r->file_hash, sha);
        /* page indices are unique within a file even if a damaged file
         * reports one twice */
        r->index_in_file = img.page;
        if (pages->n > 1 && r->index_in_file <= pages->v[pages->n - 2].index_in_file)
            r->index_in_file = pages->v[pages->n - 2].index_in_file + 1;
        if (img.n_pages > n_in_file)
            n_in_file = img.n_pages;
        r->dpi = img.dpi;
        add(&run->sh->pages, 1);
        if (st != OMR_OK) {
            /* stage 3 failed: the page is kept as a review item */
            set_status(r, OMR_PAGE_UNREADABLE, "%s", err.msg);
            if (!file_error[0])
                snprintf(file_error, nfe, "%s", err.msg);
            omr_image_clear(&img);
            if (++failed_in_a_row >= MAX_FAILED_PAGES_IN_A_ROW)
                break;
            continue;
        }
        failed_in_a_row = 0;
        any_ok = 1;
        r->width = (int)pixGetWidth(img.pix);
        r->height = (int)pixGetHeight(img.pix);
        identify(img.pix, run->survey, cache, r);              /* stage 4 */
        if (run->survey->ids_by_order && r->status == OMR_PAGE_OK)
            page_number_by_order(run->survey, n_by_order++, r);
        respondent_from_file(r, run->survey->ids_by_order, &copy, &last_page);
        if (r->status == OMR_PAGE_OK) {                         /* stage 5 */
            omr_error_t rerr = {0};
            if (omr_recognise_page(img.pix, run->survey, run->cal, cache, r, &rerr))
                set_status(r, OMR_PAGE_REGISTER_FAILED, "%s", rerr.msg);
        }
        omr_image_clear(&img);
        report_progress(run, 0);
    }
    omr_load_close(src);
    if (any_ok)
        file_error[0] = 0;
    if (pages->n == 0) {
        /* nothing came out at all (an empty file): one unreadable page */
        omr_page_result_t *r = pages_add(pages);
        if (r) {
            copy_str(r->file, sizeof r->file, path);
            copy_str(r->file_hash, sizeof r->file_hash, sha);
            set_status(r, OMR_PAGE_UNREADABLE, "%s", file_error[0] ? file_error : "the file holds no page");
            if (!file_error[0])
                snprintf(file_error, nfe, "the file holds no page");
        }
    }
    return n_in_file > pages->n ? n_in_file : pages->n;
}

static void process_open_file(run_t *run, omr_store_t *store, omr_sample_cache_t *cache, int i, int fd);

/* A file not stored: refused (OUT_REFUSED) or left for the next run
 * (OUT_DEFERRED), with the reason the report gives. */
static void not_stored(run_t *run, outcome_t *out, int kind, const char *reason)
{
    out->kind = kind;
    copy_str(out->reason, sizeof out->reason, reason);
    add(kind == OUT_DEFERRED ? &run->sh->deferred : &run->sh->refused, 1);
}

/* The file is opened once: hashed, decoded and checked afterwards through
 * the same descriptor (so a file replaced under its name meanwhile cannot
 * mix two scans). */
static void process_file(run_t *run, omr_store_t *store, omr_sample_cache_t *cache, int i)
{
    const char *path = run->files->paths[i];
    outcome_t *out = &run->sh->out[i];
    /* O_NONBLOCK: a FIFO or device named on the command line must not hang
     * the batch; reads of a regular file ignore it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    char why[300];
    if (fd < 0) {
        snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
        not_stored(run, out, OUT_REFUSED, why);
        return;
    }
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        not_stored(run, out, OUT_REFUSED, "not a regular file (a folder, pipe or device): not an image");
        close(fd);
        return;
    }
    process_open_file(run, store, cache, i, fd);
    close(fd);
}

static void process_open_file(run_t *run, omr_store_t *store, omr_sample_cache_t *cache, int i, int fd)
{
    const char *path = run->files->paths[i];
    outcome_t *out = &run->sh->out[i];
    omr_error_t err = {0};
    char sha[65], why[400];
    unsigned char md[32];
    long long size, file;
    omr_claim_t claim;
    omr_load_stamp_t at_open, after;
    if (omr_load_stamp_fd(fd, &at_open)) {
        snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
        not_stored(run, out, OUT_REFUSED, why);
        return;
    }
    unsettled_reason(run, &at_open, why, sizeof why);
    if (why[0]) {
        not_stored(run, out, OUT_DEFERRED, why);
        return;
    }
    if (hash_file(fd, path, md, sha, &size, &err)) {                 /* stage 1 */
        not_stored(run, out, OUT_REFUSED, err.msg);
        return;
    }
    if (size == 0) {
        /* every empty file has the same hash: refuse each by name rather than
         * store one and skip the others as "already stored" */
        not_stored(run, out, OUT_REFUSED, "empty file (0 bytes): not an image");
        return;
    }
    /* The store keeps the absolute path: the review server, started from
     * any folder, finds the file there (or, moved, by its hash: review_files.c).
     * Messages keep the path as given. */
    char abs_path[PATH_MAX];
    const char *stored_path = realpath(path, abs_path) ? abs_path : path;
    if (omr_store_file_claim(store, sha, stored_path, size, run->batch, &claim, &file, &err)) { /* stage 2 */
        not_stored(run, out, OUT_REFUSED, err.msg);
        return;
    }
    if (claim != OMR_CLAIM_TAKEN) {
        out->kind = claim == OMR_CLAIM_DONE ? OUT_SKIPPED : OUT_BUSY;
        add(claim == OMR_CLAIM_DONE ? &run->sh->skipped : &run->sh->busy, 1);
        return;
    }
    pages_t pages = {0};
    char file_error[1024];
    int n_in_file = read_pages(run, path, fd, md, sha, cache, &pages, file_error, sizeof file_error); /* 3-5 */
    if (omr_load_stamp_fd(fd, &after) || !omr_load_stamp_same(&at_open, &after)) {
        /* Written while we read it (a scan still coming in, a copy not
         * finished): the hash and the pages may be of different bytes, so
         * nothing of it is stored; the next run reads it whole. */
        omr_error_t e2;
        omr_store_file_unclaim(store, file, &e2);
        not_stored(run, out, OUT_DEFERRED,
               "changed while it was being read (still being written?): nothing of it stored; "
               "left for the next run");
    } else if (omr_store_file_save(store, file, run->survey, pages.v, pages.n, n_in_file, /* stage 6 */
                                   file_error[0] ? file_error : NULL, &err)) {
        omr_error_t e2;
        omr_store_file_unclaim(store, file, &e2);
        char reason[sizeof err.msg + 16]; /* not_stored() cuts it to out->reason */
        snprintf(reason, sizeof reason, "not stored: %s", err.msg);
        not_stored(run, out, OUT_REFUSED, reason);
    } else {
        out->kind = OUT_DONE;
        add(&run->sh->done, 1);
    }
    pages_free(&pages);
}

/* The sample cache keeps the blank pages' masks in the store, so only the
 * first run after a template change draws them (omr_sample_backing_t). */
typedef struct {
    omr_store_t *store;
    const omr_survey_t *survey;
} mask_backing_t;

static int mask_get(void *ctx, const char *key, unsigned char **blob, size_t *len)
{
    return omr_store_mask_get(((mask_backing_t *)ctx)->store, key, blob, len);
}

static void mask_put(void *ctx, const char *key, const omr_form_t *form, int page_index, const unsigned char *blob,
                     size_t len)
{
    mask_backing_t *b = ctx;
    omr_error_t e;
    /* best effort: a failure only means the next run draws this page again */
    omr_store_mask_put(b->store, key, b->survey->id ? b->survey->id : "", form->id, page_index, blob, len, &e);
}

/* One worker: its own connection and sample cache, files from the shared
 * counter until none is left. Returns 0, or -1 when the store is unusable. */
static int worker(run_t *run, omr_error_t *err)
{
    omr_store_t *store;
    omr_sample_cache_t *cache;
    if (omr_store_open(run->opts->db_path, &store, err))
        return -1;
    if (omr_sample_cache_new(run->survey, &cache, err)) {
        omr_store_close(store);
        return -1;
    }
    mask_backing_t mb = {store, run->survey};
    omr_sample_backing_t backing = {mask_get, mask_put, &mb};
    omr_sample_cache_set_backing(cache, &backing);
    int i;
    while ((i = __atomic_fetch_add(&run->sh->next, 1, __ATOMIC_RELAXED)) < run->files->n) {
        process_file(run, store, cache, i);
        report_progress(run, 0);
    }
    omr_sample_cache_free(cache);
    omr_store_close(store);
    return 0;
}

/* Run `jobs` forked workers and wait for them, reporting progress. */
static omr_status_t run_forked(run_t *run, int jobs, omr_error_t *err)
{
    pid_t *pids = calloc((size_t)jobs, sizeof *pids);
    if (!pids)
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    pid_t parent = getpid();
    int started = 0;
    for (int j = 0; j < jobs; j++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            /* die with the parent: a killed batch leaves no orphan writing */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(3);
            run_t mine = *run;
            /* the workers report no progress (the parent does) */
            mine.opts = &(omr_pipeline_opts_t){.db_path = run->opts->db_path, .settle_s = run->opts->settle_s};
            omr_error_t e;
            _exit(worker(&mine, &e) ? 2 : 0);
        }
        pids[started++] = pid;
    }
    if (!started) {
        free(pids);
        return omr_error_set(err, OMR_EIO, "cannot start worker processes: %s", strerror(errno));
    }
    int left = started, bad = 0;
    while (left > 0) {
        for (int j = 0; j < started; j++) {
            int status;
            if (pids[j] > 0 && waitpid(pids[j], &status, WNOHANG) == pids[j]) {
                pids[j] = 0;
                left--;
                if (!WIFEXITED(status) || WEXITSTATUS(status))
                    bad++;
            }
        }
        report_progress(run, 0);
        if (left)
            usleep(50000);
    }
    free(pids);
    if (bad == started)
        return omr_error_set(err, OMR_EIO, "%s: every worker failed (is the database writable?)", run->opts->db_path);
    return OMR_OK;
}

/* ---- stage 7: code ---- */

static void add_problem(omr_pipeline_problem_t **pv, int *pn, const char *what, const char *reason)
{
    omr_pipeline_problem_t *v = realloc(*pv, (size_t)(*pn + 1) * sizeof *v);
    if (!v)
        return;
    *pv = v;
    copy_str(v[*pn].what, sizeof v[*pn].what, what);
    copy_str(v[*pn].reason, sizeof v[*pn].reason, reason);
    (*pn)++;
}

/* Turn stored decisions into code.h overrides: an item about one column
 * gives one; a whole-question item's decision holds "VAR=VALUE" lines. */
static int decisions_to_overrides(const omr_store_decision_t *d, int nd, omr_override_t **pov)
{
    int n = 0, cap = nd + 8;
    omr_override_t *ov = malloc((size_t)cap * sizeof *ov);
    if (!ov)
        return -1;
    for (int i = 0; i < nd; i++) {
        if (d[i].var[0]) {
            memset(&ov[n], 0, sizeof ov[n]);
            copy_str(ov[n].var, sizeof ov[n].var, d[i].var);
            ov[n].case_number = d[i].case_number;
            copy_str(ov[n].value, sizeof ov[n].value, d[i].after);
            n++;
            continue;
        }
        char buf[sizeof d[i].after];
        copy_str(buf, sizeof buf, d[i].after);
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            if (n == cap) {
                cap *= 2;
                omr_override_t *o = realloc(ov, (size_t)cap * sizeof *ov);
                if (!o) {
                    free(ov);
                    return -1;
                }
                ov = o;
            }
            *eq = 0;
            memset(&ov[n], 0, sizeof ov[n]);
            copy_str(ov[n].var, sizeof ov[n].var, line);
            ov[n].case_number = d[i].case_number;
            copy_str(ov[n].value, sizeof ov[n].value, eq + 1);
            n++;
        }
    }
    *pov = ov;
    return n;
}

/* Columns of both parts of every form, computed once per coding run. */
typedef struct {
    omr_column_t *cols[2];
    int n[2];
} formcols_t;

/* Store the coder's result: values and items in store terms. */
static omr_status_t save_coded(omr_store_t *store, const omr_form_t *form, const formcols_t *fc,
                               const char *respondent, long long batch, const omr_coded_t *c, const long long *ids,
                               int n_pages, omr_error_t *err)
{
    omr_store_value_t *v = calloc((size_t)c->n_values + 1, sizeof *v);
    omr_store_item_t *it = calloc((size_t)c->n_items + 1, sizeof *it);
    omr_status_t st = OMR_ENOMEM;
    if (!v || !it) {
        omr_error_set(err, st, "out of memory");
        goto done;
    }
    int nv = 0;
    for (int i = 0; i < c->n_values; i++) {
        const omr_value_t *x = &c->values[i];
        int part = x->case_number > 0;
        if (x->column < 0 || x->column >= fc->n[part])
            continue;
        v[nv++] = (omr_store_value_t){x->case_number, x->column, fc->cols[part][x->column].name, x->value, x->status};
    }
    for (int i = 0; i < c->n_items; i++) {
        const omr_review_item_t *x = &c->items[i];
        it[i] = (omr_store_item_t){x->reason,
                                   x->case_number,
                                   x->page >= 0 && x->page < n_pages ? ids[x->page] : 0,
                                   x->question >= 0 && x->question < form->n_questions ? form->questions[x->question].id
                                                                                        : "",
                                   x->var,
                                   x->proposal,
                                   x->detail};
    }
    /* the case each page became (code.h page_case): pages.case_number */
    st = omr_store_save_coding(store, form->id, respondent, batch, v, nv, it, c->n_items, ids, c->page_case,
                               c->page_case && c->n_page_case == n_pages ? n_pages : 0, err);
done:
    free(v);
    free(it);
    return st;
}

/* Code one respondent inside one transaction, so a scan committing a new
 * page of it meanwhile is either seen or leaves it dirty for later. */
static omr_status_t code_one(omr_store_t *store, const omr_survey_t *survey, const omr_form_t *form,
                             const formcols_t *fc, const char *respondent, long long batch, omr_error_t *err)
{
    omr_page_result_t *pages = NULL;
    long long *ids = NULL;
    omr_store_decision_t *dec = NULL;
    omr_override_t *ov = NULL;
    omr_coded_t coded;
    int n = 0, nd = 0, nov = 0;
    memset(&coded, 0, sizeof coded);
    omr_status_t st;
    if ((st = omr_store_begin(store, err)))
        return st;
    if ((st = omr_store_load_pages(store, form->id, respondent, &pages, &ids, &n, err)) ||
        (st = omr_store_decisions(store, form->id, respondent, &dec, &nd, err)))
        goto done;
    if ((nov = decisions_to_overrides(dec, nd, &ov)) < 0) {
        st = omr_error_set(err, OMR_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = omr_code_respondent(survey, form, pages, n, ov, nov, NULL, &coded, err)) ||
        (st = save_coded(store, form, fc, respondent, batch, &coded, ids, n, err)))
        goto done;
    st = omr_store_commit(store, err);
done:
    if (st)
        omr_store_rollback(store);
    omr_coded_clear(&coded);
    omr_store_pages_free(pages, n);
    free(ids);
    free(dec);
    free(ov);
    return st;
}

omr_status_t omr_pipeline_code_dirty(omr_store_t *store, const omr_survey_t *survey, long long batch, int *pcoded,
                                     omr_pipeline_result_t *res, omr_error_t *err)
{
    omr_store_key_t *keys;
    int nk, coded = 0;
    *pcoded = 0;
    omr_status_t st = omr_store_dirty_respondents(store, &keys, &nk, err);
    if (st)
        return st;
    formcols_t *fc = calloc((size_t)survey->n_forms + 1, sizeof *fc);
    if (!fc) {
        free(keys);
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    }
    for (int f = 0; f < survey->n_forms; f++)
        for (int part = 0; part < 2; part++)
            fc[f].n[part] = omr_template_columns(&survey->forms[f], part, &fc[f].cols[part]);
    for (int i = 0; i < nk; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s/%s", keys[i].form, keys[i].respondent);
        int f = 0;
        while (f < survey->n_forms && strcmp(survey->forms[f].id, keys[i].form))
            f++;
        omr_error_t e = {0};
        if (f == survey->n_forms) {
            if (res)
                add_problem(&res->coding_failed, &res->n_coding_failed, what, "form not in this survey's templates");
            continue;
        }
        if (fc[f].n[0] < 0 || fc[f].n[1] < 0) {
            st = omr_error_set(err, OMR_ENOMEM, "out of memory");
            break;
        }
        omr_status_t cst = code_one(store, survey, &survey->forms[f], &fc[f], keys[i].respondent, batch, &e);
        if (cst == OMR_EIO) {
            /* the store itself failed: stop, the respondents stay dirty */
            st = cst;
            *err = e;
            break;
        }
        if (cst) {
            if (res)
                add_problem(&res->coding_failed, &res->n_coding_failed, what, e.msg);
            continue;
        }
        coded++;
    }
    for (int f = 0; f < survey->n_forms; f++) {
        free(fc[f].cols[0]);
        free(fc[f].cols[1]);
    }
    free(fc);
    free(keys);
    *pcoded = coded;
    return st;
}

/* ---- the batch ---- */

/* path as the store keeps it (absolute, pipeline.c process_open_file), in
 * buf; as given when it cannot be resolved (gone). */
static const char *stored_form(const char *path, char *buf)
{
    return realpath(path, buf) ? buf : path;
}

static void count_unstored(void *ctx, const omr_store_unstored_t *f)
{
    (void)f;
    ++*(int *)ctx;
}

/* The files this run did not store, into the store for `omr status`
 * (store.h, omr_store_unstored_record); the files it stored or found stored
 * (out[i] DONE or SKIPPED) settle what earlier runs recorded of them, when
 * anything is outstanding (most nights nothing is: no path resolved). */
static omr_status_t record_unstored(omr_store_t *store, const omr_pipeline_result_t *res, const list_t *files,
                                    const outcome_t *out, omr_error_t *err)
{
    int n = res->n_refused + res->n_deferred, n_stored = 0, outstanding = 0;
    omr_status_t st = omr_store_unstored_outstanding(store, count_unstored, &outstanding, err);
    if (st || (n == 0 && outstanding == 0))
        return st;
    omr_store_unstored_t *v = calloc((size_t)n + 1, sizeof *v);
    char **stored = calloc((size_t)files->n + 1, sizeof *stored);
    char (*abs)[PATH_MAX] = calloc((size_t)n + 1, PATH_MAX);
    if (!v || !stored || !abs) {
        st = omr_error_set(err, OMR_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int d = i >= res->n_refused;
        const omr_pipeline_problem_t *p = d ? &res->deferred[i - res->n_refused] : &res->refused[i];
        v[i] = (omr_store_unstored_t){.path = stored_form(p->what, abs[i]), .deferred = d, .reason = p->reason};
    }
    for (int i = 0; outstanding && i < files->n; i++) {
        char buf[PATH_MAX];
        if ((out[i].kind == OUT_DONE || out[i].kind == OUT_SKIPPED) &&
            !(stored[n_stored++] = strdup(stored_form(files->paths[i], buf)))) {
            st = omr_error_set(err, OMR_ENOMEM, "out of memory");
            goto done;
        }
    }
    st = omr_store_unstored_record(store, res->batch, v, n, (const char *const *)stored, n_stored, err);
done:
    for (int i = 0; stored && i < n_stored; i++)
        free(stored[i]);
    free(stored);
    free(abs);
    free(v);
    return st;
}

omr_status_t omr_pipeline_run(const omr_survey_t *survey, const omr_calib_t *cal, const char *const *inputs,
                              int n_inputs, const omr_pipeline_opts_t *opts, omr_pipeline_result_t *res,
                              omr_error_t *err)
{
    memset(res, 0, sizeof *res);
    if (n_inputs < 1)
        return omr_error_set(err, OMR_EINPUT, "no input files");
    omr_calib_t default_cal;
    if (!cal) {
        omr_calib_default(&default_cal);
        cal = &default_cal;
    }

    /* the file list: folders walked now, missing paths refused here */
    list_t files = {0};
    for (int i = 0; i < n_inputs; i++) {
        struct stat st;
        if (stat(inputs[i], &st)) {
            add_problem(&res->refused, &res->n_refused, inputs[i], strerror(errno));
            continue;
        }
        if ((S_ISDIR(st.st_mode) ? omr_load_walk_images(inputs[i], push_found, &files)
                                 : list_push(&files, inputs[i]))) {
            list_free(&files);
            return omr_error_set(err, OMR_ENOMEM, "out of memory");
        }
    }

    /* Every page takes and gives back the same few large buffers (the image,
     * decode and sampling scratch, 1-9 MB). glibc would map each one afresh
     * (mmap threshold) or return the heap top to the kernel (trim), and the
     * kernel then zero-fills every page of it again: ~0.7 ms a G4 page of
     * system time. Kept in the heap instead; the peak stays one page's worth.
     * Process-wide, inherited by the forked workers. */
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif

    omr_store_t *store;
    omr_status_t st = omr_store_open(opts->db_path, &store, err);
    if (st) {
        list_free(&files);
        return st;
    }
    char name[64];
    time_t t = time(NULL);
    strftime(name, sizeof name, "scan %Y-%m-%d %H:%M:%S", localtime(&t));
    if ((st = omr_store_batch_begin(store, opts->batch_name ? opts->batch_name : name, opts->options, &res->batch,
                                    err))) {
        omr_store_close(store);
        list_free(&files);
        return st;
    }
    /* no connection crosses fork(): closed now, reopened for coding */
    omr_store_close(store);
    store = NULL;

    size_t shsize = sizeof(shared_t) + (size_t)(files.n + 1) * sizeof(outcome_t);
    shared_t *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        list_free(&files);
        return omr_error_set(err, OMR_ENOMEM, "out of memory (shared state)");
    }
    memset(sh, 0, shsize);
    run_t run = {survey, cal, &files, sh, res->batch, opts, now_s(), 0};
    int jobs = opts->jobs < 1 ? 1 : opts->jobs;
    if (jobs > files.n)
        jobs = files.n > 0 ? files.n : 1;
    if (files.n > 0)
        st = jobs == 1 ? (worker(&run, err) ? OMR_EIO : OMR_OK) : run_forked(&run, jobs, err);
    report_progress(&run, 1);

    for (int i = 0; i < files.n; i++) {
        if (sh->out[i].kind == OUT_REFUSED)
            add_problem(&res->refused, &res->n_refused, files.paths[i], sh->out[i].reason);
        else if (sh->out[i].kind == OUT_DEFERRED)
            add_problem(&res->deferred, &res->n_deferred, files.paths[i], sh->out[i].reason);
        else if (sh->out[i].kind == OUT_PENDING && !st)
            add_problem(&res->refused, &res->n_refused, files.paths[i], "not processed (a worker died)");
    }
    res->progress = (omr_pipeline_progress_t){.files_total = files.n,
                                              .files_done = sh->done,
                                              .files_skipped = sh->skipped,
                                              .files_busy = sh->busy,
                                              .files_refused = res->n_refused,
                                              .files_deferred = sh->deferred,
                                              .pages = sh->pages,
                                              .elapsed_s = now_s() - run.t0};
    if (!st && !(st = omr_store_open(opts->db_path, &store, err)))
        st = record_unstored(store, res, &files, sh->out, err);
    munmap(sh, shsize);
    list_free(&files);
    if (st) {
        omr_store_close(store);
        return st;
    }

    /* stage 7 */
    st = omr_pipeline_code_dirty(store, survey, res->batch, &res->respondents_coded, res, err);
    omr_error_t e2;
    if (!st)
        omr_store_batch_end(store, res->batch, &e2); /* a missing end time is harmless */
    omr_store_close(store);
    return st;
}

void omr_pipeline_result_clear(omr_pipeline_result_t *res)
{
    if (!res)
        return;
    free(res->refused);
    free(res->deferred);
    free(res->coding_failed);
    memset(res, 0, sizeof *res);
}
