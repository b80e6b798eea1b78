/* bench-icr-boxes -- the handwritten-box reader (omr/icr_boxes.h) on a
 * simulated corpus, against the simulator's truth (issue 5, "measure").
 *
 *   build/bench-icr-boxes --template DIR --corpus DIR [--threshold T]
 *                         [--errors] [--dump DIR]
 *
 * For every scanned page listed in CORPUS/truth/pages.csv (duplicate scans
 * skipped, as the evaluator does): load (load.h), identify (identify.h),
 * register (register.h), then omr_icr_read_page; its readings are compared
 * with CORPUS/truth/cells.csv, which the simulator wrote from what it drew
 * (never from the code under test): DIGIT rows `marked` (value = the digit)
 * or `doubtful` (faint pencil) are written boxes, `blank` rows empty.
 *
 * Prints per page condition and in total:
 *   empty_wrong    boxes read empty when written, or written when empty
 *   proposed/right boxes with a digit proposal, and how many are the truth
 *   accepted       proposals the `auto` policy takes (confidence >= T, not
 *                  doubtful, a digit), and the wrong ones among them
 * and last
 *   icr-corpus: boxes=N written=W empty_wrong=E coverage=C error_accepted=A
 *               accuracy=P ms_per_box=T
 * coverage = accepted / written boxes, error_accepted = wrong / accepted
 * (a wrong accepted value includes an empty box read as a digit), accuracy =
 * right proposals / written boxes, ms_per_box = CPU time (one thread) to
 * crop and read one digit box; the `time:` line also gives the whole
 * omr_icr_read_page per region read (text fields are larger crops).
 * --errors lists every wrong box; --dump DIR writes their crops as PNG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <leptonica/allheaders.h>

#include "icr_boxes.h"
#include "identify.h"
#include "load.h"
#include "register.h"
#include "sample.h"
#include "template.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- CSV (the simulator's truth files: no quoted commas in the columns read) */

static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    line[strcspn(line, "\r\n")] = 0;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

typedef struct {
    char key[160]; /* respondent|form|page|case|var */
    char state[12], style[16];
    int value;
} cell_t;

static cell_t *cells;
static size_t n_cells;

static int cell_cmp(const void *a, const void *b)
{
    return strcmp(((const cell_t *)a)->key, ((const cell_t *)b)->key);
}

static const cell_t *cell_find(const char *resp, const char *form, int page, int cs, const char *var)
{
    cell_t k;
    snprintf(k.key, sizeof k.key, "%s|%s|%d|%d|%s", resp, form, page, cs, var);
    return bsearch(&k, cells, n_cells, sizeof *cells, cell_cmp);
}

typedef struct {
    char file[512], resp[32], form[8], cond[32];
    int file_page, page, cs, dup;
} sheet_t;

/* ---- tallies ---------------------------------------------------------------- */

typedef struct {
    char name[32];
    long pages, pages_lost, boxes, written, empty_wrong, missed, phantom, proposed, right,
        accepted, acc_wrong, notdigit, fields, fields_written, fields_wrong;
} tally_t;

static tally_t tallies[16];
static int n_tallies = 1; /* [0] = all */

static tally_t *tally_for(const char *cond)
{
    for (int i = 1; i < n_tallies; i++)
        if (!strcmp(tallies[i].name, cond))
            return &tallies[i];
    if (n_tallies == 16)
        return &tallies[15];
    snprintf(tallies[n_tallies].name, sizeof tallies[0].name, "%s", cond);
    return &tallies[n_tallies++];
}

static void tally_print(const tally_t *t, double thr)
{
    printf("%-8s pages=%ld lost=%ld boxes=%ld written=%ld empty_wrong=%ld (missed %ld, phantom %ld) "
           "proposed=%ld right=%ld not_digit=%ld accepted@%.3f=%ld wrong=%ld | fields=%ld "
           "written=%ld wrong=%ld\n",
           t->name, t->pages, t->pages_lost, t->boxes, t->written, t->empty_wrong, t->missed,
           t->phantom, t->proposed, t->right, t->notdigit, thr, t->accepted, t->acc_wrong,
           t->fields, t->fields_written, t->fields_wrong);
}

int main(int argc, char **argv)
{
    const char *tdir = NULL, *corpus = NULL, *dump = NULL;
    double thr = OMR_ICR_AUTO_ACCEPT_CONF;
    int list_errors = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--template") && i + 1 < argc)
            tdir = argv[++i];
        else if (!strcmp(argv[i], "--corpus") && i + 1 < argc)
            corpus = argv[++i];
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            thr = atof(argv[++i]);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
            dump = argv[++i];
        else if (!strcmp(argv[i], "--errors"))
            list_errors = 1;
        else {
            fprintf(stderr, "usage: bench-icr-boxes --template DIR --corpus DIR [--threshold T] "
                            "[--errors] [--dump DIR]\n");
            return 1;
        }
    }
    if (!tdir || !corpus) {
        fprintf(stderr, "bench-icr-boxes: --template and --corpus are required\n");
        return 1;
    }
    omr_error_t err = {0};
    omr_survey_t *survey = NULL;
    if (omr_template_load(tdir, &survey, &err) != OMR_OK) {
        fprintf(stderr, "bench-icr-boxes: %s\n", err.msg);
        return 2;
    }
    if (dump)
        mkdir(dump, 0777);

    /* truth: cells (DIGIT and TEXT rows) */
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/truth/cells.csv", corpus);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench-icr-boxes: cannot read %s\n", path);
        return 2;
    }
    size_t cap = 0;
    fgets(line, sizeof line, f); /* header */
    while (fgets(line, sizeof line, f)) {
        char *fl[12];
        if (split(line, fl, 12) < 9 || (strcmp(fl[5], "digit") && strcmp(fl[5], "text")))
            continue;
        if (n_cells == cap) {
            cap = cap ? cap * 2 : 4096;
            cells = realloc(cells, cap * sizeof *cells);
        }
        cell_t *c = &cells[n_cells++];
        snprintf(c->key, sizeof c->key, "%s|%s|%s|%s|%s", fl[0], fl[1], fl[2], fl[3], fl[4]);
        snprintf(c->state, sizeof c->state, "%s", fl[6]);
        snprintf(c->style, sizeof c->style, "%s", fl[7]);
        c->value = fl[8][0] ? atoi(fl[8]) : -1;
    }
    fclose(f);
    qsort(cells, n_cells, sizeof *cells, cell_cmp);

    /* truth: pages */
    snprintf(path, sizeof path, "%s/truth/pages.csv", corpus);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench-icr-boxes: cannot read %s\n", path);
        return 2;
    }
    sheet_t *sheets = NULL;
    int n_sheets = 0, sheet_cap = 0;
    fgets(line, sizeof line, f);
    while (fgets(line, sizeof line, f)) {
        char *fl[16];
        if (split(line, fl, 16) < 15)
            continue;
        if (n_sheets == sheet_cap) {
            sheet_cap = sheet_cap ? sheet_cap * 2 : 256;
            sheets = realloc(sheets, (size_t)sheet_cap * sizeof *sheets);
        }
        sheet_t *s = &sheets[n_sheets++];
        snprintf(s->file, sizeof s->file, "%s", fl[0]);
        s->file_page = atoi(fl[1]);
        snprintf(s->resp, sizeof s->resp, "%s", fl[2]);
        snprintf(s->form, sizeof s->form, "%s", fl[3]);
        s->page = atoi(fl[4]);
        s->cs = atoi(fl[5]);
        s->dup = atoi(fl[6]);
        snprintf(s->cond, sizeof s->cond, "%s", fl[14]);
    }
    fclose(f);

    snprintf(tallies[0].name, sizeof tallies[0].name, "all");
    double ms = 0, digit_ms = 0;
    long timed_regions = 0, digit_boxes = 0;
    for (int si = 0; si < n_sheets; si++) {
        if (si > 0 && !strcmp(sheets[si].file, sheets[si - 1].file))
            continue; /* the file was read with its first sheet */
        snprintf(path, sizeof path, "%s/%s", corpus, sheets[si].file);
        omr_load_t *src;
        if (omr_load_open(path, &src, &err) != OMR_OK) {
            fprintf(stderr, "bench-icr-boxes: %s\n", err.msg);
            continue;
        }
        omr_image_t img;
        omr_status_t st;
        while ((st = omr_load_next(src, &img, &err)) != OMR_ENOTFOUND) {
            sheet_t *sh = NULL;
            for (int k = si; k < n_sheets && !strcmp(sheets[k].file, sheets[si].file); k++)
                if (sheets[k].file_page == img.page + 1)
                    sh = &sheets[k];
            if (!sh || sh->dup || st != OMR_OK) {
                omr_image_clear(&img);
                continue;
            }
            tally_t *tc = tally_for(sh->cond), *ta = &tallies[0];
            tc->pages++, ta->pages++;
            const omr_form_t *form = omr_template_form(survey, sh->form);
            omr_barcode_t bc;
            omr_register_t reg;
            int lost = !form || sh->page < 1 || sh->page > form->n_pages ||
                       omr_identify_read(img.pix, NULL, &bc, &err) != OMR_OK || !bc.parsed ||
                       strcmp(bc.form, sh->form) || bc.page != sh->page;
            const omr_page_t *pg = lost ? NULL : &form->pages[sh->page - 1];
            if (!lost && omr_register_page(img.pix, pg, bc.orientation, img.dpi, NULL, &reg,
                                           &err) != OMR_OK)
                lost = 1;
            if (lost) {
                tc->pages_lost++, ta->pages_lost++;
                fprintf(stderr, "%s page %d: not identified or registered (%s)\n", sh->file,
                        sh->file_page, err.msg);
                omr_image_clear(&img);
                continue;
            }
            int n = pg->n_regions;
            omr_region_result_t *rr = calloc((size_t)n + 1, sizeof *rr);
            omr_icr_box_reading_t *rd = calloc((size_t)n + 1, sizeof *rd);
            for (int i = 0; i < n; i++)
                rr[i].digit = -1;
            double t0 = now_ms();
            st = omr_icr_read_page_ex(img.pix, reg.xform, form, sh->page - 1, rr, rd, &err);
            ms += now_ms() - t0;
            if (st != OMR_OK) {
                fprintf(stderr, "%s page %d: %s\n", sh->file, sh->file_page, err.msg);
                free(rr), free(rd);
                omr_image_clear(&img);
                continue;
            }
            /* The digit boxes alone (crop + read, as the page reader does,
             * without the text fields and the per-question decision). */
            double t1 = now_ms();
            for (int i = 0; i < n; i++) {
                if (pg->regions[i].kind != OMR_REGION_DIGIT)
                    continue;
                PIX *crop = omr_sample_crop(img.pix, reg.xform, &pg->regions[i],
                                            OMR_ICR_BOXES_INSET_MM, OMR_ICR_BOXES_PX_PER_MM, NULL);
                if (!crop)
                    continue;
                PIX *c8 = pixEndianByteSwapNew(crop); /* row-major bytes */
                omr_icr_input_t in;
                float prob[10];
                omr_icr_read_crop((const uint8_t *)pixGetData(c8), (int)pixGetWidth(c8),
                                  (int)pixGetHeight(c8), 4 * pixGetWpl(c8), &in, prob, NULL);
                pixDestroy(&c8);
                pixDestroy(&crop);
                digit_boxes++;
            }
            digit_ms += now_ms() - t1;
            for (int i = 0; i < n; i++) {
                const omr_region_t *rg = &pg->regions[i];
                if (rg->kind != OMR_REGION_DIGIT && rg->kind != OMR_REGION_TEXT)
                    continue;
                timed_regions++;
                const cell_t *c = cell_find(sh->resp, sh->form, sh->page, sh->cs, rg->var);
                if (!c || !strcmp(c->state, "missing"))
                    continue;
                int written = strcmp(c->state, "blank") != 0;
                const omr_region_result_t *r = &rr[i];
                int wrong = 0;
                tally_t *ts[2] = {tc, ta};
                for (int k = 0; k < 2; k++) {
                    tally_t *t = ts[k];
                    if (rg->kind == OMR_REGION_TEXT) {
                        t->fields++;
                        t->fields_written += written;
                        t->fields_wrong += r->has_ink != written;
                        continue;
                    }
                    t->boxes++;
                    t->written += written;
                    if (r->has_ink != written) {
                        t->empty_wrong++;
                        t->missed += written;
                        t->phantom += !written;
                    }
                    t->notdigit += (r->doubt & OMR_DOUBT_NOT_DIGIT) != 0;
                    if (written && r->digit >= 0) {
                        t->proposed++;
                        t->right += r->digit == c->value;
                    }
                    int acc = r->has_ink && r->digit >= 0 && r->digit_conf >= thr &&
                              r->state != OMR_MARK_DOUBTFUL && !(r->doubt & OMR_DOUBT_NOT_DIGIT);
                    if (acc) {
                        t->accepted++;
                        t->acc_wrong += !written || r->digit != c->value;
                    }
                }
                if (rg->kind == OMR_REGION_TEXT)
                    wrong = r->has_ink != written;
                else
                    wrong = r->has_ink != written || (written && r->digit != c->value);
                if (wrong && list_errors)
                    printf("error: %s p%d %s%s truth=%s/%s/%d read ink=%d digit=%d conf=%.3f "
                           "other=%.2f state=%d flags=%u %s\n",
                           sh->file, sh->file_page, rg->var,
                           rg->kind == OMR_REGION_TEXT ? "(text)" : "", c->state, c->style,
                           c->value, r->has_ink, r->digit, (double)r->digit_conf,
                           (double)rd[i].other, r->state, rd[i].decision.flags, sh->cond);
                if (wrong && dump) {
                    PIX *crop = omr_sample_crop(img.pix, reg.xform, rg, 0, 10, NULL);
                    if (crop) {
                        char out[1200];
                        snprintf(out, sizeof out, "%s/%s-%s-p%d-%s-t%d-r%d.png", dump, sh->resp,
                                 sh->form, sh->page, rg->var, c->value, r->digit);
                        pixWrite(out, crop, IFF_PNG);
                        pixDestroy(&crop);
                    }
                }
            }
            free(rr), free(rd);
            omr_image_clear(&img);
        }
        omr_load_close(src);
    }
    for (int i = 1; i < n_tallies; i++)
        tally_print(&tallies[i], thr);
    tally_print(&tallies[0], thr);
    printf("time: %.3f ms per region read by omr_icr_read_page (digit boxes and text fields), "
           "%.3f ms per digit box (crop + read)\n",
           timed_regions ? ms / (double)timed_regions : 0,
           digit_boxes ? digit_ms / (double)digit_boxes : 0);
    const tally_t *t = &tallies[0];
    printf("icr-corpus: boxes=%ld written=%ld empty_wrong=%ld coverage=%.4f error_accepted=%.4f "
           "accuracy=%.4f ms_per_box=%.3f\n",
           t->boxes, t->written, t->empty_wrong,
           t->written ? (double)t->accepted / (double)t->written : 0,
           t->accepted ? (double)t->acc_wrong / (double)t->accepted : 0,
           t->written ? (double)t->right / (double)t->written : 0,
           digit_boxes ? digit_ms / (double)digit_boxes : 0);
    free(cells);
    free(sheets);
    omr_template_free(survey);
    return 0;
}
