/* main.c -- build/simulate: write a simulated scan corpus with its ground truth.
 *
 *   simulate --template DIR --form A|B|all --respondents N [--first-id 1]
 *            --seed S --out DIR [--profile clean|mixed] [--dpi 100|150|200|300|600|mixed]
 *            [--format g4|lzw|png|jpeg|mixed] [-j N] [--bad]
 *
 * For each respondent: draw them and their answers (fill side, sim.h), print
 * each sheet of their packet (a cached blank page plus their barcode), put
 * their ink on it, scan it under the packet's scan condition (scanner.c) and
 * write the packet's files (output.c). The truth goes to DIR/truth/, a
 * description to DIR/README.txt, bad input files for the scan pipeline's tests
 * to DIR/bad/ with --bad.
 *
 * Work is split over -j worker processes by contiguous respondent ranges;
 * each worker writes its own partial truth files, which the parent joins in
 * respondent order. Every random choice depends only on (seed, respondent,
 * sheet, purpose), so the corpus is the same bytes for any -j.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "print.h"
#include "scan_internal.h"

/* The scan side's streams are seeded from the corpus seed mixed with this
 * constant, so they can never coincide with the fill side's streams. */
#define SCAN_SEED_SALT 0x5ca77e5ca77e0001ULL
/* Stream of a respondent's packet choice is number * SHEET_STREAMS; sheet i
 * uses number * SHEET_STREAMS + 1 + i. */
#define SHEET_STREAMS 4096

typedef struct {
    const char *template_dir;
    const char *form; /* "A", "B", "all" */
    int respondents;
    int first_id;
    uint64_t seed;
    const char *out;
    int clean;        /* --profile clean */
    int dpi;          /* 0: mixed */
    int format;       /* -1: mixed */
    int jobs;
    int bad;
    size_t cache_mb;
} options_t;

/* One respondent to simulate. */
typedef struct {
    int form;       /* index into survey->forms */
    int number;     /* respondent number, printed as %06d */
} job_t;

/* Time spent per stage, summed over a worker's pages; printed at the end,
 * never written into the corpus (it would break byte-identity). */
typedef struct {
    long pages, respondents;
    double render_ms, stamp_ms, fill_ms, scan_ms, write_ms;
} stats_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ render cache */

/* Blank renders per (form, page, dpi), least recently used evicted past the
 * budget: rendering a page costs far more than copying it. */
typedef struct {
    int form, page, dpi;
    PIX *pix;
    size_t bytes;
    unsigned long used;
} cache_entry_t;

typedef struct {
    cache_entry_t *e;
    int n, cap;
    size_t bytes, budget;
    unsigned long clock;
} cache_t;

static void cache_free(cache_t *c)
{
    for (int i = 0; i < c->n; i++)
        pixDestroy(&c->e[i].pix);
    free(c->e);
    memset(c, 0, sizeof *c);
}

/* The blank page, borrowed from the cache (valid until the next call), or
 * NULL with *err. */
static PIX *cache_get(cache_t *c, const omr_survey_t *s, int form, int page, int dpi,
                      omr_error_t *err)
{
    c->clock++;
    for (int i = 0; i < c->n; i++)
        if (c->e[i].form == form && c->e[i].page == page && c->e[i].dpi == dpi) {
            c->e[i].used = c->clock;
            return c->e[i].pix;
        }
    PIX *pix = omr_print_render_page(s, &s->forms[form], page, NULL, dpi, err);
    if (!pix)
        return NULL;
    size_t bytes = (size_t)pixGetWpl(pix) * 4 * pixGetHeight(pix);
    /* Evict the least recently used until the new page fits. */
    while (c->n > 0 && c->bytes + bytes > c->budget) {
        int lru = 0;
        for (int i = 1; i < c->n; i++)
            if (c->e[i].used < c->e[lru].used)
                lru = i;
        c->bytes -= c->e[lru].bytes;
        pixDestroy(&c->e[lru].pix);
        c->e[lru] = c->e[--c->n];
    }
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        cache_entry_t *e = realloc(c->e, sizeof *e * (size_t)cap);
        if (!e) {
            pixDestroy(&pix);
            omr_error_set(err, OMR_ENOMEM, "out of memory");
            return NULL;
        }
        c->e = e;
        c->cap = cap;
    }
    c->e[c->n++] = (cache_entry_t){form, page, dpi, pix, bytes, c->clock};
    c->bytes += bytes;
    return pix;
}

/* ------------------------------------------------------------ small helpers */

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "simulate: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

static FILE *open_out(const char *dir, const char *name, const char *mode)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f)
        fprintf(stderr, "simulate: cannot open %s: %s\n", path, strerror(errno));
    return f;
}

/* Append the file at path to out; returns -1 on a read error. A missing file
 * is empty (a worker with no respondents of that form). */
static int append_file(FILE *out, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return errno == ENOENT ? 0 : -1;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    int bad = ferror(in);
    fclose(in);
    return bad ? -1 : 0;
}

static int form_selected(const options_t *o, const omr_form_t *f)
{
    return !strcmp(o->form, "all") || !strcmp(o->form, f->id);
}

/* ------------------------------------------------------------------ worker */

/* Per-worker truth files, in the worker's part folder. */
typedef struct {
    FILE *main_csv[16], *cases_csv[16];
    FILE *cells, *pages;
} parts_t;

static int parts_open(parts_t *p, const char *dir, const omr_survey_t *s, const options_t *o)
{
    memset(p, 0, sizeof *p);
    for (int f = 0; f < s->n_forms && f < 16; f++) {
        if (!form_selected(o, &s->forms[f]))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s.csv", s->forms[f].id);
        p->main_csv[f] = open_out(dir, name, "w");
        snprintf(name, sizeof name, "%s_cases.csv", s->forms[f].id);
        p->cases_csv[f] = open_out(dir, name, "w");
        if (!p->main_csv[f] || !p->cases_csv[f])
            return -1;
    }
    p->cells = open_out(dir, "cells.csv", "w");
    p->pages = open_out(dir, "pages.csv", "w");
    return p->cells && p->pages ? 0 : -1;
}

static int parts_close(parts_t *p)
{
    int bad = 0;
    for (int f = 0; f < 16; f++) {
        if (p->main_csv[f] && fclose(p->main_csv[f]) != 0)
            bad = 1;
        if (p->cases_csv[f] && fclose(p->cases_csv[f]) != 0)
            bad = 1;
    }
    if (p->cells && fclose(p->cells) != 0)
        bad = 1;
    if (p->pages && fclose(p->pages) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

typedef struct {
    const omr_survey_t *survey;
    const options_t *opt;
    sim_profile_t profile;
    cache_t cache;
    parts_t parts;
    stats_t stats;
    char scans_dir[2048];
} worker_t;

/* The printed, filled sheet as an image at dpi; NULL after printing why. */
static sim_image_t *print_and_fill(worker_t *w, const sim_respondent_t *r, int form,
                                   const sim_sheet_t *sheet, const char *id, int dpi)
{
    const omr_survey_t *s = w->survey;
    omr_error_t err = {0};
    double t0 = now_ms();
    PIX *blank = cache_get(&w->cache, s, form, sheet->page_index, dpi, &err);
    double t1 = now_ms();
    PIX *pix = blank ? pixCopy(NULL, blank) : NULL;
    if (!pix) {
        fprintf(stderr, "simulate: form %s page %d at %d dpi: %s\n", s->forms[form].id,
                sheet->page_index + 1, dpi, blank ? "out of memory" : err.msg);
        return NULL;
    }
    if (omr_print_stamp_barcode(pix, s, &s->forms[form], sheet->page_index, id, dpi, &err) != OMR_OK) {
        fprintf(stderr, "simulate: respondent %s form %s page %d: barcode: %s\n", id,
                s->forms[form].id, sheet->page_index + 1, err.msg);
        pixDestroy(&pix);
        return NULL;
    }
    double t2 = now_ms();
    if (sim_fill_sheet(r, sheet, pix, dpi, w->parts.cells) != 0) {
        fprintf(stderr, "simulate: respondent %s form %s page %d: filling failed: %s\n", id,
                s->forms[form].id, sheet->page_index + 1, sim_fill_last_error());
        pixDestroy(&pix);
        return NULL;
    }
    double t3 = now_ms();
    sim_image_t *img = sim_image_from_pix(pix);
    pixDestroy(&pix);
    if (!img)
        fprintf(stderr, "simulate: out of memory\n");
    else
        img->dpi = dpi;
    w->stats.render_ms += t1 - t0;
    w->stats.stamp_ms += t2 - t1;
    w->stats.fill_ms += t3 - t2;
    return img;
}

/* Does omr name the respondent after the scanned file (a survey whose pages
 * carry no barcode, or a fixed page ID: FORMAT.md)? Then the file must be
 * named after the respondent, and hold all of their sheets. */
static int file_is_respondent(const omr_survey_t *s) { return s->ids_by_order || s->ids_by_value; }

/* Write one scanned sheet: appended to the packet's TIFF, or its own file
 * (<stem>-NN.<ext>; when the file is the respondent: <stem>.<ext>, their
 * one sheet). rel gets the file name relative to the corpus folder. */
static int write_sheet(worker_t *w, const sim_image_t *img, const sim_scan_t *scan, sim_tiff_t *tif,
                       const char *stem, int seq, char *rel, size_t nrel)
{
    omr_error_t err = {0};
    char path[4096];
    int rc;
    if (tif) {
        snprintf(rel, nrel, "scans/%s.tif", stem);
        rc = sim_tiff_add(tif, img, &err);
    } else {
        if (file_is_respondent(w->survey))
            snprintf(rel, nrel, "scans/%s.%s", stem, sim_format_ext(scan->format));
        else
            snprintf(rel, nrel, "scans/%s-%02d.%s", stem, seq, sim_format_ext(scan->format));
        snprintf(path, sizeof path, "%s/%s", w->opt->out, rel);
        rc = scan->format == SIM_FMT_PNG ? sim_write_png(path, img, &err)
                                         : sim_write_jpeg(path, img, scan->jpeg_quality, &err);
    }
    if (rc != 0)
        fprintf(stderr, "simulate: %s\n", err.msg);
    return rc;
}

/* Simulate one respondent: every sheet of the packet, the truth rows. */
static int run_job(worker_t *w, const job_t *job)
{
    const omr_survey_t *s = w->survey;
    const omr_form_t *form = &s->forms[job->form];
    const options_t *o = w->opt;
    char id[16], stem[64];
    snprintf(id, sizeof id, "%06d", job->number);
    /* omr names such a survey's respondents after their files: name the
     * file after the respondent's ID. */
    if (file_is_respondent(s))
        snprintf(stem, sizeof stem, "%s", id);
    else
        snprintf(stem, sizeof stem, "%s-%s", form->id, id);

    sim_respondent_t *r = sim_respondent_new(s, form, id, o->seed, &w->profile);
    if (!r) {
        fprintf(stderr, "simulate: respondent %s: out of memory\n", id);
        return -1;
    }
    sim_sheet_t *sheets = NULL;
    int n = sim_respondent_sheets(r, &sheets);

    /* The packet's scanner and settings. */
    sim_rng_t rng;
    sim_rng_seed(&rng, o->seed ^ SCAN_SEED_SALT, (uint64_t)job->number * SHEET_STREAMS);
    const sim_condition_t *cond = o->clean ? sim_condition_find("clean") : sim_condition_pick(&rng);
    sim_scan_t packet;
    sim_scan_packet(cond, &rng, o->dpi, o->format, &packet);
    /* There each file is one returned questionnaire: a packet of several
     * sheets goes into one (grey) TIFF, never one file per sheet. */
    if (file_is_respondent(s) && n > 1 && !sim_format_is_tiff(packet.format))
        packet.format = SIM_FMT_LZW;

    int rc = 0;
    sim_tiff_t *tif = NULL;
    if (n > 0 && sim_format_is_tiff(packet.format)) {
        char path[4096];
        omr_error_t err = {0};
        snprintf(path, sizeof path, "%s/%s.tif", w->scans_dir, stem);
        tif = sim_tiff_open(path, &err);
        if (!tif) {
            fprintf(stderr, "simulate: %s\n", err.msg);
            rc = -1;
        }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const sim_sheet_t *sh = &sheets[i];
        sim_image_t *page = print_and_fill(w, r, job->form, sh, id, packet.dpi);
        if (!page) {
            rc = -1;
            break;
        }
        sim_rng_t srng;
        sim_rng_seed(&srng, o->seed ^ SCAN_SEED_SALT, (uint64_t)job->number * SHEET_STREAMS + 1 + (uint64_t)i);
        sim_scan_t scan = packet;
        sim_scan_sheet(cond, &srng, &scan);
        /* Nothing on a sheet read by order tells which way up it was fed
         * (omr reads such pages upright only): the office feeds them so. */
        if (s->ids_by_order)
            scan.upside_down = 0;
        double t0 = now_ms();
        sim_image_t *img = sim_scan_page(page, &scan, &srng);
        double t1 = now_ms();
        sim_image_free(page);
        if (!img) {
            fprintf(stderr, "simulate: respondent %s: out of memory scanning\n", id);
            rc = -1;
            break;
        }
        char rel[256];
        rc = write_sheet(w, img, &scan, tif, stem, i + 1, rel, sizeof rel);
        double t2 = now_ms();
        sim_image_free(img);
        w->stats.scan_ms += t1 - t0;
        w->stats.write_ms += t2 - t1;
        w->stats.pages++;
        fprintf(w->parts.pages, "%s,%d,%s,%s,%d,%d,%d,%d,%d,%s,%.3f,%.2f,%.2f,%.4f,%s\n", rel,
                tif ? i + 1 : 1, id, form->id, form->pages[sh->page_index].number,
                sh->case_number, sh->duplicate, scan.upside_down, scan.dpi,
                sim_format_name(scan.format), scan.skew_deg, scan.shift_x_mm, scan.shift_y_mm,
                scan.scale, scan.condition);
    }
    if (tif) {
        omr_error_t err = {0};
        if (sim_tiff_close(tif, &err) != 0 && rc == 0) {
            fprintf(stderr, "simulate: %s\n", err.msg);
            rc = -1;
        }
    }
    if (rc == 0) {
        sim_respondent_write_missing(r, w->parts.cells);
        sim_respondent_write_answers(r, w->parts.main_csv[job->form], w->parts.cases_csv[job->form]);
        w->stats.respondents++;
    }
    free(sheets);
    sim_respondent_free(r);
    return rc;
}

static void part_dir(char *buf, size_t n, const char *out, int worker)
{
    snprintf(buf, n, "%s/.parts/%02d", out, worker);
}

/* Run jobs [lo, hi) writing worker `index`'s part files. Returns 0 or -1. */
static int run_worker(const omr_survey_t *s, const options_t *o, const job_t *jobs, int lo, int hi,
                      int index)
{
    worker_t w;
    memset(&w, 0, sizeof w);
    w.survey = s;
    w.opt = o;
    sim_profile_defaults(&w.profile, o->clean);
    w.cache.budget = o->cache_mb << 20;
    snprintf(w.scans_dir, sizeof w.scans_dir, "%s/scans", o->out);
    char dir[2048];
    part_dir(dir, sizeof dir, o->out, index);
    int rc = make_dir(dir);
    if (rc == 0)
        rc = parts_open(&w.parts, dir, s, o);
    for (int j = lo; j < hi && rc == 0; j++)
        rc = run_job(&w, &jobs[j]);
    if (parts_close(&w.parts) != 0 && rc == 0) {
        fprintf(stderr, "simulate: writing the truth files in %s failed\n", dir);
        rc = -1;
    }
    FILE *st = open_out(dir, "stats", "w");
    if (st) {
        fprintf(st, "%ld %ld %.3f %.3f %.3f %.3f %.3f\n", w.stats.pages, w.stats.respondents,
                w.stats.render_ms, w.stats.stamp_ms, w.stats.fill_ms, w.stats.scan_ms,
                w.stats.write_ms);
        fclose(st);
    }
    cache_free(&w.cache);
    return rc;
}

/* ------------------------------------------------------------------- merge */

/* One truth file: its name, and the form and part whose answer header it
 * takes (part -1: cells.csv / pages.csv, fixed headers). */
typedef struct {
    char name[64];
    int form, part;
} truth_file_t;

static int truth_files(const omr_survey_t *s, const options_t *o, truth_file_t *t)
{
    int n = 0;
    for (int f = 0; f < s->n_forms && f < 16; f++) {
        if (!form_selected(o, &s->forms[f]))
            continue;
        for (int part = 0; part < 2; part++) {
            snprintf(t[n].name, sizeof t[n].name, "%s%s.csv", s->forms[f].id, part ? "_cases" : "");
            t[n].form = f;
            t[n++].part = part;
        }
    }
    t[n++] = (truth_file_t){"cells.csv", -1, -1};
    t[n++] = (truth_file_t){"pages.csv", -1, -1};
    return n;
}

static void truth_header(const omr_survey_t *s, const truth_file_t *t, FILE *out)
{
    if (t->part >= 0)
        sim_write_answer_headers(&s->forms[t->form], t->part ? NULL : out, t->part ? out : NULL);
    else if (!strcmp(t->name, "cells.csv"))
        fputs("respondent,form,page,case,var,kind,state,style,value\n", out);
    else
        fputs("file,file_page,respondent,form,page,case,duplicate,upside_down,dpi,format,"
              "skew_deg,shift_x_mm,shift_y_mm,scale,condition\n",
              out);
}

/* Sum the worker's stats file into *total. */
static void add_stats(const char *dir, stats_t *total)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/stats", dir);
    FILE *st = fopen(path, "r");
    stats_t x = {0};
    if (st && fscanf(st, "%ld %ld %lf %lf %lf %lf %lf", &x.pages, &x.respondents, &x.render_ms,
                     &x.stamp_ms, &x.fill_ms, &x.scan_ms, &x.write_ms) == 7) {
        total->pages += x.pages;
        total->respondents += x.respondents;
        total->render_ms += x.render_ms;
        total->stamp_ms += x.stamp_ms;
        total->fill_ms += x.fill_ms;
        total->scan_ms += x.scan_ms;
        total->write_ms += x.write_ms;
    }
    if (st)
        fclose(st);
    remove(path);
}

/* Join the workers' part files into DIR/truth in worker (= respondent) order,
 * after their header lines; remove the parts. Sums the workers' stats. */
static int merge_parts(const omr_survey_t *s, const options_t *o, int workers, stats_t *total)
{
    char truth[2048], dir[2048], path[4096];
    snprintf(truth, sizeof truth, "%s/truth", o->out);
    truth_file_t files[40];
    int n_files = truth_files(s, o, files);
    int rc = 0;
    for (int k = 0; k < n_files && rc == 0; k++) {
        FILE *out = open_out(truth, files[k].name, "w");
        if (!out)
            return -1;
        truth_header(s, &files[k], out);
        for (int wk = 0; wk < workers && rc == 0; wk++) {
            part_dir(dir, sizeof dir, o->out, wk);
            snprintf(path, sizeof path, "%s/%.63s", dir, files[k].name);
            if (append_file(out, path) != 0) {
                fprintf(stderr, "simulate: cannot read %s\n", path);
                rc = -1;
            }
        }
        if (fclose(out) != 0)
            rc = -1;
    }
    memset(total, 0, sizeof *total);
    for (int wk = 0; wk < workers; wk++) {
        part_dir(dir, sizeof dir, o->out, wk);
        add_stats(dir, total);
        for (int k = 0; k < n_files; k++) {
            snprintf(path, sizeof path, "%s/%.63s", dir, files[k].name);
            remove(path);
        }
        rmdir(dir);
    }
    snprintf(path, sizeof path, "%s/.parts", o->out);
    rmdir(path);
    return rc;
}

/* ------------------------------------------------------------------ driver */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: simulate --template DIR --form A|B|all --respondents N --seed S --out DIR\n"
            "                [--first-id 1] [--profile clean|mixed] [--dpi 100|150|200|300|600|mixed]\n"
            "                [--format g4|lzw|png|jpeg|mixed] [-j N] [--bad] [--cache-mb 768]\n"
            "\n"
            "Writes simulated scans of filled questionnaires with their ground truth:\n"
            "  DIR/scans/   one multi-page TIFF per respondent packet (g4, lzw), or one\n"
            "               PNG/JPEG per sheet (<form>-<id>-NN), in scan order\n"
            "               (a survey without barcodes or with fixed page IDs: <id>.tif,\n"
            "               <id>.png, <id>.jpg: omr names the respondent after the file)\n"
            "  DIR/truth/   <form>.csv, <form>_cases.csv, cells.csv, pages.csv\n"
            "  DIR/bad/     with --bad: broken files for the scan pipeline's tests\n"
            "  DIR/README.txt\n"
            "Respondent IDs are consecutive from --first-id over the chosen forms in\n"
            "survey order. The same options give the same bytes, for any -j.\n"
            "\n"
            "exit status: 0 ok, 1 usage error, 2 failed\n");
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"template", required_argument, 0, 't'}, {"form", required_argument, 0, 'f'},
        {"respondents", required_argument, 0, 'n'}, {"first-id", required_argument, 0, 'i'},
        {"seed", required_argument, 0, 's'}, {"out", required_argument, 0, 'o'},
        {"profile", required_argument, 0, 'p'}, {"dpi", required_argument, 0, 'd'},
        {"format", required_argument, 0, 'F'}, {"jobs", required_argument, 0, 'j'},
        {"bad", no_argument, 0, 'b'}, {"cache-mb", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->form = "all";
    o->first_id = 1;
    o->format = -1;
    o->jobs = 1;
    o->respondents = -1;
    o->cache_mb = 768;
    int have_seed = 0, c;
    char *end;
    while ((c = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': o->template_dir = optarg; break;
        case 'f': o->form = optarg; break;
        case 'n': o->respondents = (int)strtol(optarg, &end, 10); if (*end) o->respondents = -1; break;
        case 'i': o->first_id = (int)strtol(optarg, &end, 10); if (*end) o->first_id = -1; break;
        case 's': o->seed = strtoull(optarg, &end, 0); have_seed = !*end; break;
        case 'o': o->out = optarg; break;
        case 'p':
            if (strcmp(optarg, "clean") && strcmp(optarg, "mixed")) {
                fprintf(stderr, "simulate: --profile must be clean or mixed, not '%s'\n", optarg);
                return -1;
            }
            o->clean = !strcmp(optarg, "clean");
            break;
        case 'd':
            o->dpi = !strcmp(optarg, "mixed") ? 0 : atoi(optarg);
            /* 100 and 150: document-scanner apps and phone "scans" (no
             * scanner condition picks them; forced only) */
            if (o->dpi != 0 && o->dpi != 100 && o->dpi != 150 && o->dpi != 200 && o->dpi != 300 && o->dpi != 600) {
                fprintf(stderr, "simulate: --dpi must be 100, 150, 200, 300, 600 or mixed, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'F':
            o->format = !strcmp(optarg, "mixed") ? -1 : sim_format_from_name(optarg);
            if (o->format < 0 && strcmp(optarg, "mixed")) {
                fprintf(stderr, "simulate: --format must be g4, lzw, png, jpeg or mixed, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'j': o->jobs = atoi(optarg); break;
        case 'b': o->bad = 1; break;
        case 'c': o->cache_mb = (size_t)atol(optarg); break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "simulate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->template_dir || !o->out || !have_seed || o->respondents < 0) {
        fprintf(stderr, "simulate: --template, --respondents, --seed and --out are required\n");
        return -1;
    }
    if (o->first_id < 0 || o->jobs < 1 || o->jobs > 64 || o->cache_mb < 64) {
        fprintf(stderr, "simulate: bad --first-id, -j (1..64) or --cache-mb (>= 64)\n");
        return -1;
    }
    return 0;
}

/* The job list: --respondents per chosen form, numbered on from --first-id. */
static job_t *make_jobs(const omr_survey_t *s, const options_t *o, int *pn)
{
    int forms = 0;
    for (int f = 0; f < s->n_forms; f++)
        forms += form_selected(o, &s->forms[f]);
    *pn = 0;
    if (forms == 0) {
        fprintf(stderr, "simulate: %s: no form '%s' in the survey\n", o->template_dir, o->form);
        return NULL;
    }
    if ((long)o->first_id + (long)forms * o->respondents > 999999) {
        fprintf(stderr, "simulate: respondent IDs would pass 999999\n");
        return NULL;
    }
    job_t *jobs = calloc((size_t)(forms * o->respondents) + 1, sizeof *jobs);
    if (!jobs)
        return NULL;
    int n = 0;
    for (int f = 0; f < s->n_forms; f++) {
        if (!form_selected(o, &s->forms[f]))
            continue;
        for (int k = 0; k < o->respondents; k++, n++)
            jobs[n] = (job_t){f, o->first_id + n};
    }
    *pn = n;
    return jobs;
}

/* Run the jobs over o->jobs processes; returns the number of workers used,
 * or -1 when one failed. */
static int run_all(const omr_survey_t *s, const options_t *o, const job_t *jobs, int n)
{
    int workers = o->jobs < n ? o->jobs : (n > 0 ? n : 1);
    if (workers == 1)
        return run_worker(s, o, jobs, 0, n, 0) == 0 ? 1 : -1;
    fflush(NULL);
    pid_t pids[64];
    for (int k = 0; k < workers; k++) {
        int lo = (int)((long)n * k / workers), hi = (int)((long)n * (k + 1) / workers);
        pids[k] = fork();
        if (pids[k] < 0) {
            fprintf(stderr, "simulate: fork failed: %s\n", strerror(errno));
            for (int i = 0; i < k; i++)
                waitpid(pids[i], NULL, 0);
            return -1;
        }
        if (pids[k] == 0)
            _exit(run_worker(s, o, jobs, lo, hi, k) == 0 ? 0 : 1);
    }
    int failed = 0;
    for (int k = 0; k < workers; k++) {
        int status = 0;
        if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    return failed ? -1 : workers;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr, "try 'simulate --help'\n");
        return 1;
    }
    omr_quiet_libraries();
    omr_error_t err = {0};
    omr_survey_t *s = NULL;
    if (omr_template_load(o.template_dir, &s, &err) != OMR_OK) {
        fprintf(stderr, "simulate: %s\n", err.msg);
        return 2;
    }
    int n = 0;
    job_t *jobs = make_jobs(s, &o, &n);
    char path[4096];
    int rc = jobs ? 0 : -1;
    if (rc == 0)
        rc = make_dir(o.out);
    snprintf(path, sizeof path, "%s/scans", o.out);
    if (rc == 0)
        rc = make_dir(path);
    snprintf(path, sizeof path, "%s/truth", o.out);
    if (rc == 0)
        rc = make_dir(path);
    snprintf(path, sizeof path, "%s/.parts", o.out);
    if (rc == 0)
        rc = make_dir(path);

    double t0 = now_ms();
    int workers = rc == 0 ? run_all(s, &o, jobs, n) : -1;
    stats_t st = {0};
    if (workers > 0)
        rc = merge_parts(s, &o, workers, &st);
    else
        rc = -1;
    if (rc == 0 && o.bad && sim_corpus_write_bad(s, o.out, o.seed, &err) != 0) {
        fprintf(stderr, "simulate: %s/bad: %s\n", o.out, err.msg);
        rc = -1;
    }
    if (rc == 0) {
        /* the command line, for the README: only the options that shape the corpus */
        char cmd[1024], dpi_word[16];
        snprintf(dpi_word, sizeof dpi_word, o.dpi ? "%d" : "mixed", o.dpi);
        snprintf(cmd, sizeof cmd,
                 "simulate --template %s --form %s --respondents %d --first-id %d --seed %" PRIu64
                 " --profile %s --dpi %s --format %s%s",
                 o.template_dir, o.form, o.respondents, o.first_id, o.seed,
                 o.clean ? "clean" : "mixed", dpi_word,
                 o.format < 0 ? "mixed" : sim_format_name((sim_format_t)o.format), o.bad ? " --bad" : "");
        if (sim_corpus_write_readme(s, o.out, cmd, o.bad, &err) != 0) {
            fprintf(stderr, "simulate: %s\n", err.msg);
            rc = -1;
        }
    }
    double t1 = now_ms();
    if (rc == 0 && st.pages > 0) {
        double p = (double)st.pages;
        fprintf(stderr,
                "simulate: %ld respondents, %ld pages in %.1f s (%.1f pages/s, -j %d); per page: "
                "render %.1f ms (cached), barcode %.1f, fill %.1f, scan %.1f, write %.1f\n",
                st.respondents, st.pages, (t1 - t0) / 1e3, p / ((t1 - t0) / 1e3), workers,
                st.render_ms / p, st.stamp_ms / p, st.fill_ms / p, st.scan_ms / p, st.write_ms / p);
    }
    free(jobs);
    omr_template_free(s);
    return rc == 0 ? 0 : 2;
}
