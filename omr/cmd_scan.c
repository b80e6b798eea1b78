/* cmd_scan.c -- `omr scan`: run a batch of scanned files through the
 * pipeline (pipeline.h) into the store, show progress on a terminal, print
 * the batch report, and exit with a status a nightly job can act on. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calib.h"
#include "cmd.h"
#include "pipeline.h"
#include "store.h"
#include "template.h"

#define DEFAULT_TEMPLATE "templates/ipa-itsc-2018"
#define DEFAULT_CALIB "calib/default.calib"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omr scan --db FILE [--batch NAME] [--template DIR] [--calib FILE] [-j N] [-q] INPUT...\n"
            "       omr scan --db FILE [--template DIR] --recode\n"
            "Read scanned pages (multi-page TIFF, PNG, JPEG; files or folders, walked in name order)\n"
            "into the store: identify each page by its barcode, register it, read its marks, then\n"
            "code every respondent the batch touched and queue what a person must review.\n"
            "Files already in the store (same content, by SHA-256) are skipped, so running a batch\n"
            "again, or again after it was killed, changes nothing that was done.\n"
            "\n"
            "  --db FILE        the SQLite store (created if missing); several scans may share it.\n"
            "                   It holds one survey, read with one version of its templates: scan,\n"
            "                   review and export refuse templates whose questions or regions differ\n"
            "  --batch NAME     a name for this batch in the store (default: 'scan <date time>')\n"
            "  --template DIR   the survey's templates (default " DEFAULT_TEMPLATE ")\n"
            "  --calib FILE     the calibration profile (default " DEFAULT_CALIB ", built-in\n"
            "                   thresholds when that file does not exist)\n"
            "  -j, --jobs N     N worker processes (default 1)\n"
            "  -q, --quiet      no progress line\n"
            "  --recode         no INPUT needed: only re-code respondents whose pages or review\n"
            "                   decisions changed since they were last coded\n"
            "  --settle SECONDS leave files last written less than SECONDS ago for the next run\n"
            "                   (a scanner or a copy may still be writing them; default 0). A file\n"
            "                   that changes while it is read is always left for the next run\n"
            "\n"
            "Every page or file that cannot be used (unreadable, no barcode, another survey or form,\n"
            "not registrable) is reported with file, page and reason and kept as a review item;\n"
            "the rest of the batch is stored. Blank sheets are counted and skipped.\n"
            "A form printed by another tool whose barcode holds only a page ID (templates/FORMAT.md,\n"
            "barcode value=) names no respondent: each file is one returned questionnaire, its\n"
            "respondent the file's name (build/tiffpack packs single-page scans into one file).\n"
            "So does a form with no barcode at all (survey identify=order): its sheets are its pages\n"
            "in the file's order, one copy after another; a sheet fed upside down is turned by its print.\n"
            "\n"
            "Exit status:\n"
            "  0  done, nothing left to review\n"
            "  1  usage error\n"
            "  2  failed: no input usable, or the store or templates cannot be used\n"
            "  3  done, with items to review (open review items in the store), inputs refused,\n"
            "     or files left for the next run\n");
}

/* The progress line on a terminal: rewritten in place with \r. */
static void on_progress(void *ctx, const omr_pipeline_progress_t *p)
{
    (void)ctx;
    int files = p->files_done + p->files_skipped + p->files_busy + p->files_refused + p->files_deferred;
    fprintf(stderr, "\rfiles %d/%d, pages %d, %.1f pages/s   ", files, p->files_total, p->pages,
            p->elapsed_s > 0 ? p->pages / p->elapsed_s : 0.0);
    fflush(stderr);
}

static const char *status_words(omr_page_status_t s)
{
    switch (s) {
    case OMR_PAGE_UNREADABLE:
        return "unreadable";
    case OMR_PAGE_NO_BARCODE:
        return "no barcode";
    case OMR_PAGE_UNKNOWN_SURVEY:
        return "another survey";
    case OMR_PAGE_UNKNOWN_PAGE:
        return "unknown form or page";
    case OMR_PAGE_REGISTER_FAILED:
        return "not registered";
    default:
        return omr_store_page_status_name(s);
    }
}

/* One flagged page: "file page N: what: reason". Reasons from the loader
 * already start with the file name and page. */
static void print_problem(void *ctx, const char *path, int page, omr_page_status_t status, const char *reason)
{
    (void)ctx;
    size_t n = strlen(path);
    if (!strncmp(reason, path, n))
        printf("  %s: %s\n", status_words(status), reason);
    else
        printf("  %s page %d: %s: %s\n", path, page + 1, status_words(status), reason);
}

/* The light pages of a batch, one line per file ("path: pages 2, 5"), the
 * first LIGHT_FILES_LISTED files listed and the rest counted. */
#define LIGHT_FILES_LISTED 20
typedef struct {
    char path[1024];
    char pages[256];
    int n_pages, n_files, listed;
} light_list_t;

static void light_flush(light_list_t *l)
{
    if (!l->path[0])
        return;
    if (l->listed == 0)
        printf("scans too light for pencil (the bitonal threshold erased part of the print, so pencil\n"
               "may be lost there; their blank answers wait for review): rescan in grey, or darker:\n");
    if (l->listed++ < LIGHT_FILES_LISTED)
        printf("  %s: page%s %s\n", l->path, strchr(l->pages, ',') ? "s" : "", l->pages);
    l->path[0] = 0;
    l->pages[0] = 0;
}

static void light_page(void *ctx, const char *path, int page)
{
    light_list_t *l = ctx;
    if (strcmp(l->path, path)) {
        light_flush(l);
        snprintf(l->path, sizeof l->path, "%s", path);
        l->n_files++;
    }
    size_t n = strlen(l->pages);
    if (n + 16 < sizeof l->pages)
        snprintf(l->pages + n, sizeof l->pages - n, "%s%d", n ? ", " : "", page + 1);
    l->n_pages++;
}

/* Scans too light for pencil: the one problem the scanning staff can fix at
 * the scanner (rescan in grey, or darker) instead of operators guessing. */
static void print_light_pages(omr_store_t *store, long long batch)
{
    light_list_t l;
    memset(&l, 0, sizeof l);
    omr_error_t err;
    if (omr_store_batch_light_pages(store, batch, light_page, &l, &err)) {
        printf("scans too light for pencil: (cannot list them: %s)\n", err.msg);
        return;
    }
    if (!l.n_pages)
        return;
    light_flush(&l);
    if (l.listed > LIGHT_FILES_LISTED)
        printf("  ... and %d more file(s)\n", l.listed - LIGHT_FILES_LISTED);
    printf("  %d page(s) in %d file(s) too light\n", l.n_pages, l.n_files);
}

static void print_summary(omr_store_t *store, const omr_survey_t *survey, const omr_pipeline_result_t *res,
                          const omr_store_summary_t *sum)
{
    const omr_pipeline_progress_t *p = &res->progress;
    printf("batch %lld: %d file(s): %d stored, %d already in the store, %d in progress elsewhere, %d refused",
           res->batch, p->files_total, p->files_done, p->files_skipped, p->files_busy, res->n_refused);
    if (res->n_deferred)
        printf(", %d left for the next run", res->n_deferred);
    printf("\n");
    printf("pages: %d stored in %.1f s (%.1f pages/s), %d identified, %d blank skipped, %d flagged\n", sum->pages,
           p->elapsed_s, p->elapsed_s > 0 ? p->pages / p->elapsed_s : 0.0, sum->identified, sum->blank,
           sum->pages - sum->identified - sum->blank);
    if (sum->pages - sum->identified - sum->blank > 0) {
        printf("flagged pages:\n");
        omr_error_t err;
        if (omr_store_batch_problems(store, res->batch, print_problem, NULL, &err))
            printf("  (cannot list them: %s)\n", err.msg);
    }
    int any = 0;
    for (int r = 1; r < OMR_STORE_N_REASONS; r++)
        if (sum->flagged[r]) {
            if (!any)
                printf("review items from this batch, by reason:\n");
            any = 1;
            printf("  %-16s %5d  %s\n", omr_review_reason_name((omr_review_reason_t)r), sum->flagged[r],
                   omr_review_reason_text((omr_review_reason_t)r));
        }
    print_light_pages(store, res->batch);
    if ((survey->ids_by_value || survey->ids_by_order) && sum->flagged[OMR_REVIEW_MISSING_PAGE])
        /* the likely cause: one file per page, where the file is the respondent */
        printf("pages missing: this survey's barcodes name no respondent, so each file must hold one whole\n"
               "questionnaire (pack single-page scans with build/tiffpack OUT.tif PAGE...)\n");
    printf("respondents coded: %d complete, %d incomplete (waiting for review)\n", sum->respondents_complete,
           sum->respondents_incomplete);
    if (res->n_refused) {
        printf("inputs refused:\n");
        for (int i = 0; i < res->n_refused; i++)
            printf("  %s: %s\n", res->refused[i].what, res->refused[i].reason);
    }
    if (res->n_deferred) {
        printf("files left for the next run (nothing of them stored):\n");
        for (int i = 0; i < res->n_deferred; i++)
            printf("  %s: %s\n", res->deferred[i].what, res->deferred[i].reason);
    }
    if (res->n_coding_failed) {
        printf("respondents not coded (left for the next run):\n");
        for (int i = 0; i < res->n_coding_failed; i++)
            printf("  %s: %s\n", res->coding_failed[i].what, res->coding_failed[i].reason);
    }
    printf("open review items in the store: %d\n", sum->open_items);
}

int omr_cmd_add_image_dir(const char *cmd, const char *dir, const char **dirs, int *n)
{
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "omr %s: --images %s: no such folder\n", cmd, dir);
        return OMR_EXIT_USAGE;
    }
    if (*n == OMR_CMD_MAX_IMAGE_DIRS) {
        fprintf(stderr, "omr %s: at most %d --images folders (give a parent folder)\n", cmd, OMR_CMD_MAX_IMAGE_DIRS);
        return OMR_EXIT_USAGE;
    }
    dirs[(*n)++] = dir;
    return OMR_EXIT_OK;
}

int omr_cmd_bind_store(const char *cmd, const char *db, omr_store_t *store, const omr_survey_t *survey)
{
    omr_error_t err = {0};
    char fp[65];
    omr_status_t st = omr_template_fingerprint(survey, fp) ? omr_error_set(&err, OMR_ENOMEM, "out of memory")
                                                            : omr_store_bind_survey(store, survey->id, fp, &err);
    if (st) {
        fprintf(stderr, "omr %s: %s: %s\n", cmd, db, err.msg);
        return OMR_EXIT_FAILED;
    }
    return OMR_EXIT_OK;
}

int omr_cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},          {"db", required_argument, 0, 'd'},
                                         {"batch", required_argument, 0, 'b'},   {"template", required_argument, 0, 't'},
                                         {"calib", required_argument, 0, 'c'},   {"jobs", required_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},         {"recode", no_argument, 0, 'r'},
                                         {"settle", required_argument, 0, 's'},  {0, 0, 0, 0}};
    const char *db = NULL, *batch = NULL, *tpl = DEFAULT_TEMPLATE, *calib = NULL;
    int jobs = 1, quiet = 0, recode = 0, ch;
    double settle = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hj:q", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return OMR_EXIT_OK;
        case 'd':
            db = optarg;
            break;
        case 'b':
            batch = optarg;
            break;
        case 't':
            tpl = optarg;
            break;
        case 'c':
            calib = optarg;
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "omr scan: -j %s: a number of processes from 1 to 256\n", optarg);
                return OMR_EXIT_USAGE;
            }
            jobs = (int)v;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'r':
            recode = 1;
            break;
        case 's': {
            char *end;
            settle = strtod(optarg, &end);
            if (end == optarg || *end || !(settle >= 0 && settle <= 86400)) {
                fprintf(stderr, "omr scan: --settle %s: a number of seconds from 0 to 86400\n", optarg);
                return OMR_EXIT_USAGE;
            }
            break;
        }
        default:
            fprintf(stderr, "try 'omr scan --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (!db || (optind >= argc && !recode)) {
        fprintf(stderr, "omr scan: %s\ntry 'omr scan --help'\n", !db ? "--db FILE is required" : "no INPUT given");
        return OMR_EXIT_USAGE;
    }

    omr_error_t err;
    omr_survey_t *survey;
    if (omr_template_load(tpl, &survey, &err)) {
        fprintf(stderr, "omr scan: templates: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    omr_calib_t cal;
    omr_calib_default(&cal);
    if (calib || access(DEFAULT_CALIB, F_OK) == 0) {
        if (omr_calib_load(calib ? calib : DEFAULT_CALIB, &cal, &err)) {
            fprintf(stderr, "omr scan: calibration: %s\n", err.msg);
            omr_template_free(survey);
            return OMR_EXIT_FAILED;
        }
    }

    /* the pipeline's workers open the store themselves: bind it first */
    omr_store_t *bound = NULL;
    if (omr_store_open(db, &bound, &err)) {
        fprintf(stderr, "omr scan: %s\n", err.msg);
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }
    int bind_rc = omr_cmd_bind_store("scan", db, bound, survey);
    omr_store_close(bound);
    if (bind_rc) {
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }

    /* the command line, stored with the batch */
    char options[2048] = "";
    size_t used = 0;
    for (int i = 1; i < argc && used < sizeof options - 1; i++)
        used += (size_t)snprintf(options + used, sizeof options - used, "%s%s", i > 1 ? " " : "", argv[i]);

    omr_pipeline_result_t res;
    memset(&res, 0, sizeof res);
    omr_status_t st = OMR_OK;
    omr_store_t *store = NULL;
    if (optind < argc) {
        int progress = !quiet && isatty(fileno(stderr));
        omr_pipeline_opts_t po = {.db_path = db,
                                  .batch_name = batch,
                                  .options = options,
                                  .jobs = jobs,
                                  .progress = progress ? on_progress : NULL,
                                  .settle_s = settle};
        st = omr_pipeline_run(survey, &cal, (const char *const *)argv + optind, argc - optind, &po, &res, &err);
        if (progress)
            fputc('\n', stderr);
        if (!st)
            st = omr_store_open(db, &store, &err);
    } else {
        /* --recode alone */
        if (!(st = omr_store_open(db, &store, &err)) &&
            !(st = omr_store_batch_begin(store, batch ? batch : "recode", options, &res.batch, &err)))
            st = omr_pipeline_code_dirty(store, survey, res.batch, &res.respondents_coded, &res, &err);
    }
    int rc = OMR_EXIT_OK;
    omr_store_summary_t sum;
    if (st || omr_store_batch_summary(store, res.batch, &sum, &err)) {
        fprintf(stderr, "omr scan: %s\n", err.msg);
        for (int i = 0; i < res.n_refused; i++)
            fprintf(stderr, "  %s: %s\n", res.refused[i].what, res.refused[i].reason);
        rc = OMR_EXIT_FAILED;
    } else {
        print_summary(store, survey, &res, &sum);
        int usable = res.progress.files_done + res.progress.files_skipped + res.progress.files_busy +
                     res.progress.files_deferred;
        if (optind < argc && usable == 0) {
            fprintf(stderr, "omr scan: no input could be used\n");
            rc = OMR_EXIT_FAILED;
        } else if (sum.open_items > 0 || res.n_refused > 0 || res.n_deferred > 0 || res.n_coding_failed > 0)
            rc = OMR_EXIT_REVIEW;
    }
    omr_store_close(store);
    omr_pipeline_result_clear(&res);
    omr_template_free(survey);
    return rc;
}
