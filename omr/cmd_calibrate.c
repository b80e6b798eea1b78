/* cmd_calibrate.c -- `omr calibrate`: measure scans with known truth, report
 * the mark reader's accuracy per scan condition and the time per stage, and
 * derive a calibration profile (calib.h) from the measures.
 *
 *   omr calibrate --truth DIR/truth/cells.csv [--pages FILE] [--profile FILE]
 *                 [--template DIR] [--out FILE] [--dump FILE] [--identify]
 *                 [--verbose] SCANS...
 *
 * The truth is the simulator's (tools/simulate/sim.h): cells.csv gives every
 * region's state, pages.csv (default: next to cells.csv) says which image
 * page is which sheet, how it was scanned and under which condition. Paths
 * in pages.csv are relative to the truth folder's parent. SCANS are files or
 * folders; pages not listed in pages.csv are skipped.
 *
 * Orientation comes from the truth (upside_down) unless --identify, which
 * reads it from the barcode as the scan pipeline does.
 *
 * How the profile is derived (per kind, CIRCLE and CHECK, from truth-blank
 * and truth-marked regions; doubtful-on-purpose cells are left out): the
 * blank edge b is the 99.9th percentile of blank inks, the marked edge m the
 * 0.1th percentile of marked inks. With a gap, blank_max = 1.5 b + 0.002
 * (at most the middle of the gap) and marked_min = 4 blank_max (at most m):
 * the blank threshold hugs the noise, the band above it is doubtful. With an
 * overlap, the overlap itself becomes the doubtful band. Label
 * thresholds the same from circle-blank regions' ink_label (blank) and
 * circle_text marks (marked). The grey, batch and bubble keys are kept
 * from the starting profile (a bubble is read against its own page's
 * bubbles, not against fixed levels). Use a corpus of clean scans for this (make corpus-small):
 * thresholds from noisy scans would absorb their noise.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calib.h"
#include "classify.h"
#include "cmd.h"
#include "identify.h"
#include "load.h"
#include "register.h"
#include "sample.h"
#include "template.h"

typedef struct {
    char *path;        /* realpath of the image file */
    int file_page;     /* 1-based */
    char respondent[32], form[16], condition[32], format[16];
    int page, case_no, upside_down, dpi;
} truth_page_t;

typedef struct {
    char *key;         /* "respondent|form|page|case|var" */
    char state[12], style[24];
} truth_cell_t;

typedef struct {
    char name[32];
    long pages, reg_failed, cells, wrong, flagged, needless, doubtful_truth;
} tally_t;

typedef struct {
    char name[32];
    long pages;
    double t_reg, t_sample, t_classify;
} timing_t;

/* --------------------------------------------------------------- CSV */

/* Split a line in place on commas (no quoting in the simulator's files). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    char *e = f[n - 1] + strlen(f[n - 1]);
    while (e > f[n - 1] && (e[-1] == '\n' || e[-1] == '\r'))
        *--e = 0;
    return n;
}

static int cmp_cell(const void *a, const void *b)
{
    return strcmp(((const truth_cell_t *)a)->key, ((const truth_cell_t *)b)->key);
}

static int load_cells(const char *path, truth_cell_t **pcells, long *pn)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "omr calibrate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    long n = 0, cap = 0, lineno = 0;
    truth_cell_t *c = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *fl[9];
        if (lineno == 1)
            continue; /* header */
        if (split(line, fl, 9) != 9) {
            fprintf(stderr, "omr calibrate: %s:%ld: expected 9 fields\n", path, lineno);
            fclose(f);
            free(c);
            return -1;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            truth_cell_t *nc = realloc(c, sizeof *c * (size_t)cap);
            if (!nc) {
                fclose(f);
                free(c);
                return -1;
            }
            c = nc;
        }
        char key[256];
        snprintf(key, sizeof key, "%s|%s|%s|%s|%s", fl[0], fl[1], fl[2], fl[3], fl[4]);
        c[n].key = strdup(key);
        snprintf(c[n].state, sizeof c[n].state, "%s", fl[6]);
        snprintf(c[n].style, sizeof c[n].style, "%s", fl[7]);
        n++;
    }
    fclose(f);
    qsort(c, (size_t)n, sizeof *c, cmp_cell);
    *pcells = c;
    *pn = n;
    return 0;
}

static int load_pages(const char *path, const char *root, truth_page_t **ppages, long *pn)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "omr calibrate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2048];
    long n = 0, cap = 0, lineno = 0;
    truth_page_t *p = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *fl[16];
        if (lineno == 1)
            continue;
        if (split(line, fl, 16) < 15) {
            fprintf(stderr, "omr calibrate: %s:%ld: expected 15 fields\n", path, lineno);
            fclose(f);
            free(p);
            return -1;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            truth_page_t *np = realloc(p, sizeof *p * (size_t)cap);
            if (!np) {
                fclose(f);
                free(p);
                return -1;
            }
            p = np;
        }
        char full[PATH_MAX + 64], real[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", root, fl[0]);
        truth_page_t *t = &p[n];
        memset(t, 0, sizeof *t);
        t->path = strdup(realpath(full, real) ? real : full);
        t->file_page = atoi(fl[1]);
        snprintf(t->respondent, sizeof t->respondent, "%s", fl[2]);
        snprintf(t->form, sizeof t->form, "%s", fl[3]);
        t->page = atoi(fl[4]);
        t->case_no = atoi(fl[5]);
        t->upside_down = atoi(fl[7]);
        t->dpi = atoi(fl[8]);
        snprintf(t->format, sizeof t->format, "%s", fl[9]);
        snprintf(t->condition, sizeof t->condition, "%s", fl[14]);
        n++;
    }
    fclose(f);
    *ppages = p;
    *pn = n;
    return 0;
}

static const truth_page_t *find_page(const truth_page_t *p, long n, const char *path, int fp)
{
    char real[PATH_MAX];
    const char *r = realpath(path, real) ? real : path;
    for (long i = 0; i < n; i++)
        if (p[i].file_page == fp && !strcmp(p[i].path, r))
            return &p[i];
    return NULL;
}

static const truth_cell_t *find_cell(const truth_cell_t *c, long n, const char *key)
{
    truth_cell_t k = {.key = (char *)key};
    return bsearch(&k, c, (size_t)n, sizeof *c, cmp_cell);
}

/* ----------------------------------------------------------- helpers */

static const char *const kind_names[] = {"circle", "check", "digit", "text"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static tally_t *tally_for(tally_t *t, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    if (*n >= 63)
        return &t[63];
    memset(&t[*n], 0, sizeof t[*n]);
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    return &t[(*n)++];
}

static timing_t *timing_for(timing_t *t, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    if (*n >= 31)
        return &t[31];
    memset(&t[*n], 0, sizeof t[*n]);
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    return &t[(*n)++];
}

typedef struct {
    float *v;
    long n, cap;
} vec_t;

static void vec_push(vec_t *v, float x)
{
    if (v->n == v->cap) {
        long cap = v->cap ? 2 * v->cap : 1024;
        float *nv = realloc(v->v, sizeof(float) * (size_t)cap);
        if (!nv)
            return;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double pct(vec_t *v, double p)
{
    if (v->n == 0)
        return NAN;
    qsort(v->v, (size_t)v->n, sizeof(float), cmp_f);
    long i = (long)floor(p * (double)(v->n - 1));
    return v->v[i];
}

/* Thresholds from the blank and marked populations (header comment). */
static void derive(vec_t *blank, vec_t *marked, double *pblank_max, double *pmarked_min,
                   const char *what, FILE *log)
{
    if (blank->n < 20 || marked->n < 20) {
        fprintf(log, "  %s: too few cells (%ld blank, %ld marked): kept\n", what, blank->n,
                marked->n);
        return;
    }
    double b = pct(blank, 0.999), m = pct(marked, 0.001);
    /* The blank maximum sits just above the blank noise, whatever the gap
     * to the marks: a clean corpus has no faint or masked marks, so a
     * threshold in the middle of its wide gap would read the weak marks of
     * real batches (a tick over the printed number) as blank. */
    double lo = 1.5 * b + 0.002, hi;
    if (lo > 0.5 * (b + m) && m > b)
        lo = 0.5 * (b + m);
    if (m > b) {
        hi = 4 * lo;
        if (hi > m)
            hi = m;
    } else { /* overlap: all of it is doubtful */
        lo = m;
        hi = b;
    }
    fprintf(log, "  %s: blank 99.9%% %.4f (n %ld), marked 0.1%% %.4f (n %ld) -> %.4f .. %.4f\n",
            what, b, blank->n, m, marked->n, lo, hi);
    *pblank_max = lo;
    *pmarked_min = hi;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omr calibrate --truth CELLS.csv [options] SCANS...\n"
            "Measure scans whose truth is known (the simulator's corpus), print the mark\n"
            "reader's accuracy per scan condition and the time per stage, and derive a\n"
            "calibration profile.\n\n"
            "  --truth FILE     truth of every region (cells.csv)\n"
            "  --pages FILE     which image page is which sheet (default: pages.csv next to it)\n"
            "  --template DIR   survey templates (default templates/ipa-itsc-2018)\n"
            "  --profile FILE   profile to classify with and start from (default: built-in)\n"
            "  --out FILE       write the derived profile here\n"
            "  --dump FILE      write every region's measures and truth as CSV\n"
            "  --identify       take the orientation from the barcode, not the truth\n"
            "  --verbose        list every wrongly accepted and needlessly flagged cell\n\n"
            "Prints per condition `wrong_accepted`, `flagged` and `needless_flags` over\n"
            "the mark cells, and last\n"
            "  accuracy: cells=N wrong_accepted=W flagged=F needless_flags=X\n"
            "exit status: 0 ok, 1 usage error, 2 failed (unreadable truth, templates)\n");
}

int omr_cmd_calibrate(int argc, char **argv)
{
    const char *truth = NULL, *pages_path = NULL, *tpl = "templates/ipa-itsc-2018";
    const char *profile = NULL, *out = NULL, *dump = NULL;
    int use_identify = 0, verbose = 0;
    static const struct option opts[] = {
        {"truth", required_argument, 0, 't'},   {"pages", required_argument, 0, 'p'},
        {"template", required_argument, 0, 'T'}, {"profile", required_argument, 0, 'P'},
        {"out", required_argument, 0, 'o'},     {"dump", required_argument, 0, 'd'},
        {"identify", no_argument, 0, 'i'},      {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:p:T:P:o:d:ivh", opts, NULL)) != -1) {
        switch (c) {
        case 't': truth = optarg; break;
        case 'p': pages_path = optarg; break;
        case 'T': tpl = optarg; break;
        case 'P': profile = optarg; break;
        case 'o': out = optarg; break;
        case 'd': dump = optarg; break;
        case 'i': use_identify = 1; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return OMR_EXIT_OK;
        default:
            fprintf(stderr, "try 'omr calibrate --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (!truth || optind >= argc) {
        fprintf(stderr, "omr calibrate: --truth and at least one scan are required; "
                        "try 'omr calibrate --help'\n");
        return OMR_EXIT_USAGE;
    }
    /* The truth folder's parent is the corpus root. */
    char root[PATH_MAX], pbuf[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s", truth);
    char *slash = strrchr(root, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(root, sizeof root, ".");
    if (!pages_path) {
        snprintf(pbuf, sizeof pbuf, "%s/pages.csv", root);
        pages_path = pbuf;
    }
    slash = strrchr(root, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(root, sizeof root, ".");

    omr_error_t err = {0};
    omr_calib_t cal;
    if (profile ? omr_calib_load(profile, &cal, &err) : (omr_calib_default(&cal), OMR_OK)) {
        fprintf(stderr, "omr calibrate: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    omr_survey_t *survey = NULL;
    if (omr_template_load(tpl, &survey, &err) != OMR_OK) {
        fprintf(stderr, "omr calibrate: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    truth_cell_t *cells = NULL;
    truth_page_t *tpages = NULL;
    long n_cells = 0, n_tpages = 0;
    if (load_cells(truth, &cells, &n_cells) || load_pages(pages_path, root, &tpages, &n_tpages)) {
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }
    FILE *df = NULL;
    if (dump) {
        df = fopen(dump, "w");
        if (!df) {
            fprintf(stderr, "omr calibrate: %s: %s\n", dump, strerror(errno));
            return OMR_EXIT_FAILED;
        }
        fprintf(df, "condition,format,dpi,respondent,form,page,case,var,kind,truth,style,ink,"
                    "ink_label,darkness,state,doubt\n");
    }
    omr_sample_cache_t *cache = NULL;
    omr_sample_cache_new(survey, &cache, &err);
    omr_load_t *src = NULL;
    if (omr_load_open_paths((const char *const *)argv + optind, argc - optind, &src, &err)) {
        fprintf(stderr, "omr calibrate: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    tally_t tal[64];
    timing_t tim[32];
    int n_tal = 0, n_tim = 0;
    tally_t all = {.name = "all"};
    vec_t v_cb = {0}, v_cm = {0}, v_kb = {0}, v_km = {0}, v_lb = {0}, v_lm = {0};
    omr_region_result_t *rr = NULL;
    int rr_cap = 0;
    omr_image_t img;
    omr_status_t st;
    while ((st = omr_load_next(src, &img, &err)) != OMR_ENOTFOUND) {
        if (st != OMR_OK) {
            fprintf(stderr, "omr calibrate: %s\n", err.msg);
            omr_image_clear(&img);
            continue;
        }
        const truth_page_t *tp = find_page(tpages, n_tpages, img.path, img.page + 1);
        const omr_form_t *form = tp ? omr_template_form(survey, tp->form) : NULL;
        if (!tp || !form || tp->page < 1 || tp->page > form->n_pages) {
            omr_image_clear(&img);
            continue;
        }
        const omr_page_t *pg = &form->pages[tp->page - 1];
        tally_t *t = tally_for(tal, &n_tal, tp->condition);
        char kind[32];
        snprintf(kind, sizeof kind, "%s-%d", tp->format, tp->dpi);
        timing_t *tm = timing_for(tim, &n_tim, kind);
        t->pages++;
        all.pages++;
        int orientation = tp->upside_down ? 180 : 0;
        if (use_identify) {
            omr_barcode_t bc;
            omr_zone_t zone; /* the survey's own barcodes, where it prints them */
            omr_identify_zone_for_survey(survey, &zone);
            if (omr_identify_read_survey(img.pix, &zone, survey, &bc, &err) == OMR_OK)
                orientation = bc.orientation;
        }
        /* The blank reference is built once per template page: not a per-page cost. */
        omr_sample_cache_prepare(cache, form, tp->page - 1, NULL);
        double t0 = now_ms();
        omr_register_t reg;
        if (omr_page_has_marks(pg)) {
            st = omr_register_page(img.pix, pg, orientation, img.dpi, NULL, &reg, &err);
        } else { /* printed without marks: by its print */
            const omr_register_print_ref_t *ref = omr_sample_cache_print_ref(cache, form, tp->page - 1, &err);
            st = ref ? omr_register_page_print(img.pix, pg, ref, orientation, img.dpi, NULL, &reg, &err) : err.status;
        }
        double t1 = now_ms();
        if (st != OMR_OK) {
            t->reg_failed++;
            all.reg_failed++;
            fprintf(stderr, "omr calibrate: %s page %d (%s): %s\n", img.path, img.page + 1,
                    tp->condition, err.msg);
            omr_image_clear(&img);
            continue;
        }
        if (pg->n_regions > rr_cap) {
            rr_cap = pg->n_regions;
            free(rr);
            rr = calloc((size_t)rr_cap, sizeof *rr);
        }
        memset(rr, 0, sizeof *rr * (size_t)pg->n_regions);
        omr_sample_info_t info;
        if (omr_sample_page_ex(img.pix, form, tp->page - 1, reg.xform, reg.mark_grey, cache, rr, &info,
                               &err) != OMR_OK) {
            fprintf(stderr, "omr calibrate: %s page %d: %s\n", img.path, img.page + 1, err.msg);
            omr_image_clear(&img);
            continue;
        }
        double t2 = now_ms();
        /* as omr_recognise_page does: blank maxima for this scan's depth and dpi, then light scans */
        omr_calib_t scal;
        omr_classify_scan_calib(&cal, (int)pixGetDepth(img.pix), reg.dpi, &scal);
        omr_classify_page(pg, &scal, rr);
        omr_classify_light_scan(pg, &cal, info.print_recovery, rr);
        double t3 = now_ms();
        tm->pages++;
        tm->t_reg += t1 - t0;
        tm->t_sample += t2 - t1;
        tm->t_classify += t3 - t2;
        for (int i = 0; i < pg->n_regions; i++) {
            const omr_region_t *rg = &pg->regions[i];
            /* Regions sharing a column are named var:code in the truth. */
            int shared = 0;
            for (int j = 0; j < pg->n_regions && !shared; j++)
                shared = j != i && !strcmp(pg->regions[j].var, rg->var);
            char key[256];
            if (shared)
                snprintf(key, sizeof key, "%s|%s|%d|%d|%s:%d", tp->respondent, tp->form, tp->page,
                         tp->case_no, rg->var, rg->code);
            else
                snprintf(key, sizeof key, "%s|%s|%d|%d|%s", tp->respondent, tp->form, tp->page,
                         tp->case_no, rg->var);
            const truth_cell_t *tc = find_cell(cells, n_cells, key);
            if (!tc)
                continue;
            const omr_region_result_t *r = &rr[i];
            if (df)
                fprintf(df, "%s,%s,%d,%s,%s,%d,%d,%s,%s,%s,%s,%.5f,%.5f,%.3f,%d,%u\n",
                        tp->condition, tp->format, tp->dpi, tp->respondent, tp->form, tp->page,
                        tp->case_no, strrchr(key, '|') + 1, rg->round ? "bubble" : kind_names[rg->kind], tc->state, tc->style, r->m.ink, r->m.ink_label, r->m.darkness, r->state,
                        r->doubt);
            if (rg->kind != OMR_REGION_CIRCLE && rg->kind != OMR_REGION_CHECK)
                continue;
            int truth_marked = !strcmp(tc->state, "marked");
            int truth_blank = !strcmp(tc->state, "blank");
            int truth_doubt = !strcmp(tc->state, "doubtful");
            if (!truth_marked && !truth_blank && !truth_doubt)
                continue; /* missing sheet rows */
            t->cells++;
            all.cells++;
            if (truth_doubt) {
                t->doubtful_truth++;
                all.doubtful_truth++;
            }
            int wrong = (truth_marked && r->state == OMR_MARK_BLANK) ||
                        (truth_blank && r->state == OMR_MARK_MARKED);
            int flag = r->state == OMR_MARK_DOUBTFUL;
            t->wrong += wrong;
            all.wrong += wrong;
            t->flagged += flag;
            all.flagged += flag;
            t->needless += flag && !truth_doubt;
            all.needless += flag && !truth_doubt;
            if (verbose && (wrong || (flag && !truth_doubt)))
                printf("  %s %s: %s p%d %s truth %s/%s read %d doubt %u ink %.4f label %.4f "
                       "dark %.2f\n",
                       wrong ? "WRONG" : "flag ", tp->condition, img.path, img.page + 1, key,
                       tc->state, tc->style, r->state, r->doubt, r->m.ink, r->m.ink_label,
                       r->m.darkness);
            /* Populations for the derivation (clean truth only). A target with
             * light ink only (grey scans: darkness below OMR_SAMPLE_DARK_MIN)
             * holds the light-ink share in .ink, not counted ink: it has its own
             * limit (grey.light_ink_min) and must not move the blank edge. */
            int light_only = r->m.darkness > 0 && r->m.darkness < OMR_SAMPLE_DARK_MIN;
            if (light_only) {
                /* not a counted-ink population */
            } else if (rg->kind == OMR_REGION_CIRCLE) {
                if (truth_blank) {
                    vec_push(&v_cb, r->m.ink);
                    if (rg->label.w > 0)
                        vec_push(&v_lb, r->m.ink_label);
                } else if (truth_marked) {
                    if (!strcmp(tc->style, "circle_text"))
                        vec_push(&v_lm, r->m.ink_label);
                    else
                        vec_push(&v_cm, r->m.ink);
                }
            } else if (!rg->round) {
                /* bubbles are read against their page's own blank and filled
                 * ones (bubble.*), not derived here: their ink holds the
                 * printed code, and would drag check.blank_max up */
                if (truth_blank)
                    vec_push(&v_kb, r->m.ink);
                else if (truth_marked)
                    vec_push(&v_km, r->m.ink);
            }
        }
        omr_image_clear(&img);
    }
    omr_load_close(src);
    if (df)
        fclose(df);

    printf("%-10s %6s %6s %7s %7s %7s %7s %7s\n", "condition", "pages", "regfail", "cells",
           "wrong", "flagged", "needless", "doubt_t");
    for (int i = 0; i < n_tal; i++)
        printf("%-10s %6ld %6ld %7ld %7ld %7ld %7ld %7ld\n", tal[i].name, tal[i].pages,
               tal[i].reg_failed, tal[i].cells, tal[i].wrong, tal[i].flagged, tal[i].needless,
               tal[i].doubtful_truth);
    printf("\n%-10s %6s %9s %9s %9s  (ms per page, one core)\n", "input", "pages", "register",
           "sample", "classify");
    for (int i = 0; i < n_tim; i++)
        if (tim[i].pages)
            printf("%-10s %6ld %9.2f %9.2f %9.3f\n", tim[i].name, tim[i].pages,
                   tim[i].t_reg / tim[i].pages, tim[i].t_sample / tim[i].pages,
                   tim[i].t_classify / tim[i].pages);
    omr_calib_t d = cal;
    printf("\nderived thresholds:\n");
    derive(&v_cb, &v_cm, &d.circle_blank_max, &d.circle_marked_min, "circle", stdout);
    derive(&v_kb, &v_km, &d.check_blank_max, &d.check_marked_min, "check", stdout);
    derive(&v_lb, &v_lm, &d.label_blank_max, &d.label_marked_min, "label", stdout);
    if (d.batch_circle_blank_limit < d.circle_blank_max)
        d.batch_circle_blank_limit = d.circle_blank_max;
    if (d.batch_check_blank_limit < d.check_blank_max)
        d.batch_check_blank_limit = d.check_blank_max;
    int rc = OMR_EXIT_OK;
    if (out) {
        char header[512];
        snprintf(header, sizeof header,
                 "derived by omr calibrate from %ld pages (truth %s)\n"
                 "circle: %ld blank, %ld marked; check: %ld blank, %ld marked", all.pages, truth,
                 v_cb.n, v_cm.n, v_kb.n, v_km.n);
        if (omr_calib_write(out, &d, header, &err) != OMR_OK) {
            fprintf(stderr, "omr calibrate: %s\n", err.msg);
            rc = OMR_EXIT_FAILED;
        } else {
            printf("wrote %s\n", out);
        }
    }
    printf("accuracy: cells=%ld wrong_accepted=%ld flagged=%ld needless_flags=%ld\n", all.cells,
           all.wrong, all.flagged, all.needless);
    free(v_cb.v);
    free(v_cm.v);
    free(v_kb.v);
    free(v_km.v);
    free(v_lb.v);
    free(v_lm.v);
    free(rr);
    for (long i = 0; i < n_cells; i++)
        free(cells[i].key);
    free(cells);
    for (long i = 0; i < n_tpages; i++)
        free(tpages[i].path);
    free(tpages);
    omr_sample_cache_free(cache);
    omr_template_free(survey);
    return rc;
}
