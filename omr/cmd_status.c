/* cmd_status.c -- `omr status`: what a store holds and what is left to do,
 * for the scanning staff in the morning and for the nightly job's checks:
 * every batch (finished or not, pages identified, blank, unusable), the
 * review queue by reason, and the respondents ready for export; with
 * --files, whether the scans the review still needs are where the store says
 * (review.h, omr_review_files_locate). Reads the store only; needs no
 * templates. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "cmd.h"
#include "review.h"
#include "store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: omr status --db FILE [--json] [--files [--images DIR]...]\n"
                 "What the store holds and what is left to do: each batch (when it ran, whether it\n"
                 "finished, its pages identified, blank, not usable and too light for pencil, its\n"
                 "open review items), the review queue by reason (open, leased to an operator,\n"
                 "resolved), and the respondents: complete (export writes them), waiting for\n"
                 "review, changed since they were coded; and the files a scan did not store (refused,\n"
                 "or left for the next run) that are still at their path and not stored since.\n"
                 "A batch that did not finish was killed or is still running: running the same scan\n"
                 "again finishes it.\n"
                 "\n"
                 "  --db FILE   the store written by 'omr scan' (never created here)\n"
                 "  --json      the same as one JSON object on stdout\n"
                 "  --files     also check the scans the review still needs (those with open items):\n"
                 "              each must be at its stored path or under an --images folder with the\n"
                 "              SHA-256 it had when scanned; the others are listed (moved, or written over)\n"
                 "  --images DIR  where the scans are now, if moved (repeatable; as 'omr review --images';\n"
                 "              implies --files)\n"
                 "\n"
                 "Exit status:\n"
                 "  0  nothing left: no review item open, every respondent coded and complete\n"
                 "  1  usage error\n"
                 "  2  the store cannot be read (missing, not a database, of a newer omr)\n"
                 "  3  something left: items to review, respondents to code again, or files not\n"
                 "     stored that are still at their path\n");
}

/* One batch as status reports it (the store's strings copied: they are
 * borrowed only during omr_store_batches' callback). */
typedef struct {
    long long id;
    char name[128], started[32], finished[32]; /* finished "": not finished */
    int files_unfinished, too_light;
    omr_store_summary_t sum;
} batch_row_t;

/* The batches, gathered for both outputs. */
typedef struct {
    omr_store_t *store;
    batch_row_t *rows;
    int n, cap;
    omr_status_t st;
    omr_error_t err;
} batches_t;

static int open_items(const omr_store_summary_t *s)
{
    int n = 0;
    for (int r = 0; r < OMR_STORE_N_REASONS; r++)
        n += s->flagged[r];
    return n;
}

static void count_page(void *ctx, const char *path, int page)
{
    (void)path;
    (void)page;
    ++*(int *)ctx;
}

static void add_batch(void *ctx, const omr_store_batch_t *b)
{
    batches_t *bs = ctx;
    if (bs->st)
        return;
    if (bs->n == bs->cap) {
        int cap = bs->cap ? 2 * bs->cap : 16;
        batch_row_t *p = realloc(bs->rows, (size_t)cap * sizeof *p);
        if (!p) {
            bs->st = omr_error_set(&bs->err, OMR_ENOMEM, "out of memory");
            return;
        }
        bs->rows = p;
        bs->cap = cap;
    }
    batch_row_t *row = &bs->rows[bs->n];
    memset(row, 0, sizeof *row);
    row->id = b->id;
    snprintf(row->name, sizeof row->name, "%s", b->name);
    snprintf(row->started, sizeof row->started, "%s", b->started);
    snprintf(row->finished, sizeof row->finished, "%s", b->finished ? b->finished : "");
    row->files_unfinished = b->files_processing;
    if ((bs->st = omr_store_batch_summary(bs->store, b->id, &row->sum, &bs->err)) ||
        (bs->st = omr_store_batch_light_pages(bs->store, b->id, count_page, &row->too_light, &bs->err)))
        return;
    bs->n++;
}

/* Files scans met and did not store, still at their path and not stored
 * since (store.h, omr_store_unstored_outstanding): the first MAX_LISTED
 * listed, all counted. One whose file is gone is no longer a concern. */
#define MAX_UNSTORED 50
typedef struct {
    int n, n_deferred, n_listed;
    struct {
        char path[1024], reason[512], batch[128];
        int deferred;
    } listed[MAX_UNSTORED];
} unstored_t;

static void add_unstored(void *ctx, const omr_store_unstored_t *f)
{
    unstored_t *u = ctx;
    if (access(f->path, F_OK) != 0)
        return;
    u->n++;
    u->n_deferred += f->deferred != 0;
    if (u->n_listed < MAX_UNSTORED) {
        snprintf(u->listed[u->n_listed].path, sizeof u->listed[0].path, "%s", f->path);
        snprintf(u->listed[u->n_listed].reason, sizeof u->listed[0].reason, "%s", f->reason);
        snprintf(u->listed[u->n_listed].batch, sizeof u->listed[0].batch, "%s", f->batch);
        u->listed[u->n_listed++].deferred = f->deferred;
    }
}

/* A deferred file's reason without the "; left for the next run" that the
 * line already says before it. */
static int reason_len(const char *reason, int deferred)
{
    static const char tail[] = "; left for the next run";
    size_t n = strlen(reason), k = sizeof tail - 1;
    if (deferred && n >= k && !strcmp(reason + n - k, tail))
        n -= k;
    return (int)n;
}

static void print_unstored_text(const unstored_t *u)
{
    if (!u->n)
        return;
    printf("files not stored: %d (%d left for the next run, %d refused), still at their path\n", u->n,
           u->n_deferred, u->n - u->n_deferred);
    for (int i = 0; i < u->n_listed; i++)
        printf("  %s: %s: %.*s (batch %s)\n", u->listed[i].path,
               u->listed[i].deferred ? "left for the next run" : "refused",
               reason_len(u->listed[i].reason, u->listed[i].deferred), u->listed[i].reason, u->listed[i].batch);
    if (u->n > u->n_listed)
        printf("  ... and %d more\n", u->n - u->n_listed);
    if (u->n_deferred)
        printf("  files left for the next run are read by the next scan of their folder\n");
    if (u->n > u->n_deferred)
        printf("  a refused file stays listed until it is stored, or moved away from that path\n");
}

static json_t *unstored_json(const unstored_t *u)
{
    json_t *files = json_array();
    for (int i = 0; i < u->n_listed; i++)
        json_array_append_new(files, json_pack("{s:s,s:s,s:s,s:s}", "path", u->listed[i].path, "what",
                                               u->listed[i].deferred ? "left_for_next_run" : "refused", "reason",
                                               u->listed[i].reason, "batch", u->listed[i].batch));
    return json_pack("{s:i,s:i,s:i,s:o}", "count", u->n, "left_for_next_run", u->n_deferred, "refused",
                     u->n - u->n_deferred, "files", files);
}

/* --files: the scans the review still needs, and where they are. */
#define MAX_LISTED 20
typedef struct {
    omr_review_files_t *fs;
    int needed, items, at_path, moved, gone, changed;
    int n_listed;
    struct {
        char path[1024];
        omr_scan_where_t where;
        int items;
    } listed[MAX_LISTED]; /* the first problems (gone, changed) */
} scans_t;

static void check_scan(void *ctx, const omr_store_file_t *f, int open_items)
{
    scans_t *sc = ctx;
    char path[4096];
    omr_scan_where_t where = OMR_SCAN_GONE;
    omr_error_t err = {0};
    omr_review_files_locate(sc->fs, f, path, sizeof path, &where, &err);
    sc->needed++;
    sc->items += open_items;
    int *count[] = {&sc->at_path, &sc->moved, &sc->gone, &sc->changed};
    ++*count[where];
    if ((where == OMR_SCAN_GONE || where == OMR_SCAN_CHANGED) && sc->n_listed < MAX_LISTED) {
        snprintf(sc->listed[sc->n_listed].path, sizeof sc->listed[0].path, "%s", f->path);
        sc->listed[sc->n_listed].where = where;
        sc->listed[sc->n_listed++].items = open_items;
    }
}

static const char *where_name(omr_scan_where_t w)
{
    static const char *names[] = {"at_path", "moved", "gone", "changed"};
    return names[w];
}

static void print_scans_text(const scans_t *sc)
{
    printf("scans the review still needs: %d file(s) (%d open item(s)): %d at their stored path, %d moved "
           "(found under --images), %d gone, %d written over\n",
           sc->needed, sc->items, sc->at_path, sc->moved, sc->gone, sc->changed);
    for (int i = 0; i < sc->n_listed; i++)
        printf("  %s: %s (%d item(s))\n", sc->listed[i].path,
               sc->listed[i].where == OMR_SCAN_GONE ? "gone (moved or deleted since the scan)"
                                                    : "other bytes than when scanned (another scan written over it?)",
               sc->listed[i].items);
    if (sc->gone + sc->changed > sc->n_listed)
        printf("  ... and %d more\n", sc->gone + sc->changed - sc->n_listed);
    if (sc->gone + sc->changed)
        printf("  the review cannot show these pages: give 'omr review' the folder they are in now "
               "(--images DIR), or put them back\n");
}

static json_t *scans_json(const scans_t *sc)
{
    json_t *problems = json_array();
    for (int i = 0; i < sc->n_listed; i++)
        json_array_append_new(problems, json_pack("{s:s,s:s,s:i}", "path", sc->listed[i].path, "where",
                                                  where_name(sc->listed[i].where), "items", sc->listed[i].items));
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:o}", "needed", sc->needed, "items", sc->items, "at_path",
                     sc->at_path, "moved", sc->moved, "gone", sc->gone, "changed", sc->changed, "problems",
                     problems);
}

/* "2026-11-25T22:03:10.123Z" as "2026-11-25 22:03" */
static void short_time(const char *iso, char *buf, size_t n)
{
    snprintf(buf, n, "%.10s %.5s", iso, strlen(iso) > 11 ? iso + 11 : "");
}

static void print_text(const char *db, const char *survey, const batches_t *bs, const omr_store_queue_t *q,
                       const omr_store_respondents_t *resp, const unstored_t *unstored, const scans_t *scans)
{
    printf("store %s: %s\n", db, survey[0] ? survey : "(no survey yet: nothing scanned)");
    printf("batches: %d\n", bs->n);
    for (int i = 0; i < bs->n; i++) {
        const batch_row_t *b = &bs->rows[i];
        const omr_store_summary_t *s = &b->sum;
        char t0[32], t1[32];
        short_time(b->started, t0, sizeof t0);
        printf("  %-20s %s", b->name, t0);
        if (b->finished[0]) {
            short_time(b->finished, t1, sizeof t1);
            printf(" to %s", t1 + (strncmp(t0, t1, 10) ? 0 : 11)); /* the date once when it is the same */
        } else {
            printf("  NOT FINISHED (%d file(s) claimed): killed, or still running; run the same scan again",
                   b->files_unfinished);
        }
        printf("\n    %d file(s), %d page(s): %d identified, %d blank, %d not usable", s->files_processed, s->pages,
               s->identified, s->blank, s->pages - s->identified - s->blank);
        if (b->too_light)
            printf(", %d too light for pencil (rescan in grey: omr scan lists them)", b->too_light);
        printf("; %d item(s) open", open_items(s));
        if (s->files_not_stored)
            printf("; %d file(s) not stored", s->files_not_stored);
        printf("\n");
    }
    int open = 0, leased = 0, resolved = 0;
    for (int r = 0; r < OMR_STORE_N_REASONS; r++) {
        open += q->open[r];
        leased += q->leased[r];
        resolved += q->resolved[r];
    }
    printf("review queue: %d open, %d leased to an operator, %d resolved\n", open, leased, resolved);
    for (int r = 0; r < OMR_STORE_N_REASONS; r++)
        if (q->open[r] || q->leased[r] || q->resolved[r])
            printf("  %-56s %6d open %6d leased %6d resolved\n", omr_review_reason_text((omr_review_reason_t)r),
                   q->open[r], q->leased[r], q->resolved[r]);
    printf("respondents: %d complete (export writes them), %d waiting for review, %d changed since coded%s\n",
           resp->complete, resp->waiting, resp->dirty,
           resp->dirty ? " (omr scan --recode, or the review server, codes them again)" : "");
    print_unstored_text(unstored);
    if (scans)
        print_scans_text(scans);
}

static void print_json(const char *db, const char *survey, const batches_t *bs, const omr_store_queue_t *q,
                       const omr_store_respondents_t *resp, const unstored_t *unstored, const scans_t *scans)
{
    json_t *batches = json_array(), *queue = json_object();
    for (int i = 0; i < bs->n; i++) {
        const batch_row_t *b = &bs->rows[i];
        const omr_store_summary_t *s = &b->sum;
        json_t *reasons = json_object();
        for (int r = 0; r < OMR_STORE_N_REASONS; r++)
            if (s->flagged[r])
                json_object_set_new(reasons, omr_review_reason_name((omr_review_reason_t)r),
                                    json_integer(s->flagged[r]));
        json_array_append_new(
            batches, json_pack("{s:I,s:s,s:s,s:s?,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o}", "id", (json_int_t)b->id,
                               "name", b->name, "started", b->started, "finished",
                               b->finished[0] ? b->finished : NULL, "done", b->finished[0] != 0, "files",
                               s->files_processed, "files_unfinished", b->files_unfinished, "files_not_stored",
                               s->files_not_stored, "pages", s->pages,
                               "identified", s->identified, "blank", s->blank, "too_light", b->too_light,
                               "items_open", open_items(s), "items_by_reason", reasons));
    }
    for (int r = 0; r < OMR_STORE_N_REASONS; r++)
        if (q->open[r] || q->leased[r] || q->resolved[r])
            json_object_set_new(queue, omr_review_reason_name((omr_review_reason_t)r),
                                json_pack("{s:i,s:i,s:i}", "open", q->open[r], "leased", q->leased[r], "resolved",
                                          q->resolved[r]));
    json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:{s:i,s:i,s:i}}", "store", db, "survey", survey, "batches", batches,
                          "review_queue", queue, "respondents", "complete", resp->complete, "waiting", resp->waiting,
                          "changed", resp->dirty);
    if (o)
        json_object_set_new(o, "files_not_stored", unstored_json(unstored));
    if (o && scans)
        json_object_set_new(o, "scans", scans_json(scans));
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

int omr_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},     {"db", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'J'},     {"files", no_argument, 0, 'F'},
                                         {"images", required_argument, 0, 'i'}, {0, 0, 0, 0}};
    const char *db = NULL;
    int as_json = 0, check_files = 0, c;
    const char *dirs[OMR_CMD_MAX_IMAGE_DIRS];
    int n_dirs = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return OMR_EXIT_OK;
        case 'd':
            db = optarg;
            break;
        case 'J':
            as_json = 1;
            break;
        case 'F':
            check_files = 1;
            break;
        case 'i':
            if (omr_cmd_add_image_dir("status", optarg, dirs, &n_dirs))
                return OMR_EXIT_USAGE;
            check_files = 1; /* where the scans are is only asked by --files */
            break;
        default:
            usage(stderr);
            return OMR_EXIT_USAGE;
        }
    }
    if (!db || optind != argc) {
        usage(stderr);
        return OMR_EXIT_USAGE;
    }
    /* omr_store_open creates a missing file: a typo must not make an empty store */
    if (access(db, F_OK) != 0) {
        fprintf(stderr, "omr status: %s: no such store\n", db);
        return OMR_EXIT_FAILED;
    }
    omr_error_t err;
    omr_store_t *store;
    if (omr_store_open(db, &store, &err)) {
        fprintf(stderr, "omr status: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    char survey[128];
    batches_t bs = {store, NULL, 0, 0, OMR_OK, {0}};
    omr_store_queue_t q;
    omr_store_respondents_t resp;
    omr_status_t st = omr_store_bound_survey(store, survey, sizeof survey, &err);
    if (!st && !(st = omr_store_batches(store, add_batch, &bs, &err)) && bs.st) {
        st = bs.st;
        err = bs.err;
    }
    if (!st)
        st = omr_store_queue_counts(store, &q, &err);
    if (!st)
        st = omr_store_respondent_counts(store, &resp, &err);
    unstored_t *unstored = calloc(1, sizeof *unstored);
    if (!st && !unstored)
        st = omr_error_set(&err, OMR_ENOMEM, "out of memory");
    if (!st)
        st = omr_store_unstored_outstanding(store, add_unstored, unstored, &err);
    /* --files: hashes each needed scan once (a few ms a file) */
    scans_t *scans = NULL;
    if (!st && check_files) {
        if (!(scans = calloc(1, sizeof *scans)) || !(scans->fs = omr_review_files_new(dirs, n_dirs)))
            st = omr_error_set(&err, OMR_ENOMEM, "out of memory");
        else
            st = omr_store_files_needed(store, check_scan, scans, &err);
    }
    omr_store_close(store);
    if (scans)
        omr_review_files_free(scans->fs);
    if (st) {
        fprintf(stderr, "omr status: %s: %s\n", db, err.msg);
        free(bs.rows);
        free(scans);
        free(unstored);
        return OMR_EXIT_FAILED;
    }
    int left = resp.waiting + resp.dirty + unstored->n;
    for (int r = 0; r < OMR_STORE_N_REASONS; r++)
        left += q.open[r] + q.leased[r];
    if (as_json)
        print_json(db, survey, &bs, &q, &resp, unstored, scans);
    else
        print_text(db, survey, &bs, &q, &resp, unstored, scans);
    free(bs.rows);
    free(scans);
    free(unstored);
    return left ? OMR_EXIT_REVIEW : OMR_EXIT_OK;
}
