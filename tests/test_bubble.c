/* test_bubble.c -- bubbles (option bubble=: an oval with its letter printed
 * inside, filled in to answer, as on mark sheets), read end to end on
 * simulated scans of tests/data/bubble-sheet at the resolutions bubble
 * sheets come in (100-300 dpi, grey and bitonal), against the marks the test
 * drew; and the blank and filled levels a page's bubbles give
 * (omr_classify_bubble_base, omr_classify_bubble_full). */
#include <math.h>
#include <stdlib.h>

#include <leptonica/allheaders.h>
#include <sqlite3.h>

#include "check.h"
#include "classify.h"
#include "identify.h"
#include "pipeline.h"
#include "omr.h"
#include "print.h"
#include "recognise.h"
#include "register.h"
#include "sample.h"
#include "template.h"
#include "warp.h"

static omr_survey_t *survey;
static const omr_form_t *form;

/* What the test draws in a bubble. */
typedef enum { DRAW_NONE, DRAW_FILL, DRAW_TICK, DRAW_DOT } draw_t;

/* The truth: what is drawn in bubble `option` (0-3) of single question q
 * (0-23), and in option k (0-5) of the multi question (and drawn_grid).
 * Rows 0, 6, 12, 18
 * blank; row 7 two bubbles filled; row 9 a tick through a bubble (not the
 * convention, but often done: a mark, or doubtful, never blank); row 11 a dot
 * (not a mark). */
static draw_t drawn_single(int q, int option)
{
    if (q % 6 == 0)
        return DRAW_NONE;
    if (q == 7)
        return option == 1 || option == 3 ? DRAW_FILL : DRAW_NONE;
    if (q == 9)
        return option == 2 ? DRAW_TICK : DRAW_NONE;
    if (q == 11)
        return option == 0 ? DRAW_DOT : DRAW_NONE;
    return option == q % 4 ? DRAW_FILL : DRAW_NONE;
}

static draw_t drawn_multi(int k) { return k == 0 || k == 1 || k == 4 ? DRAW_FILL : DRAW_NONE; }

/* The grid (rows a, b; columns 1-5): a2 and b5 filled. */
static draw_t drawn_grid(const char *row, int col)
{
    return (!strcmp(row, "a") && col == 2) || (!strcmp(row, "b") && col == 5) ? DRAW_FILL : DRAW_NONE;
}

/* Darken the pixels of pix (8 bpp, k px/mm) whose centre lies within the
 * ellipse (cx, cy, rx, ry) mm to grey `ink`: a pen's fill. */
static void fill_ellipse_mm(PIX *pix, double k, double cx, double cy, double rx, double ry, int ink)
{
    int w = (int)pixGetWidth(pix), h = (int)pixGetHeight(pix);
    for (int y = (int)floor((cy - ry) * k); y <= (int)ceil((cy + ry) * k); y++)
        for (int x = (int)floor((cx - rx) * k); x <= (int)ceil((cx + rx) * k); x++) {
            double dx = ((x + 0.5) / k - cx) / rx, dy = ((y + 0.5) / k - cy) / ry;
            if (x >= 0 && y >= 0 && x < w && y < h && dx * dx + dy * dy <= 1)
                pixSetPixel(pix, x, y, (l_uint32)ink);
        }
}

/* A straight pen stroke 0.4 mm wide from (x0, y0) to (x1, y1) mm. */
static void stroke_mm(PIX *pix, double k, double x0, double y0, double x1, double y1, int ink)
{
    double len = hypot(x1 - x0, y1 - y0);
    for (double t = 0; t <= len; t += 0.05)
        fill_ellipse_mm(pix, k, x0 + (x1 - x0) * t / len, y0 + (y1 - y0) * t / len, 0.2, 0.2, ink);
}

static void draw(PIX *pix, double k, const omr_region_t *rg, draw_t what)
{
    double cx = rg->box.x + rg->box.w / 2, cy = rg->box.y + rg->box.h / 2, r = rg->box.w / 2;
    switch (what) {
    case DRAW_NONE:
        break;
    case DRAW_FILL: /* filled to a little short of the outline, as pens do */
        fill_ellipse_mm(pix, k, cx + 0.1, cy - 0.05, 0.85 * r, 0.8 * r, 60);
        break;
    case DRAW_TICK:
        stroke_mm(pix, k, cx - 0.8 * r, cy, cx - 0.1 * r, cy + 0.7 * r, 50);
        stroke_mm(pix, k, cx - 0.1 * r, cy + 0.7 * r, cx + 0.9 * r, cy - 0.9 * r, 50);
        break;
    case DRAW_DOT:
        fill_ellipse_mm(pix, k, cx + 0.3 * r, cy + 0.2 * r, 0.25, 0.25, 60);
        break;
    }
}

/* The expected state of a bubble with `what` drawn in it. */
static int state_ok(draw_t what, int state)
{
    switch (what) {
    case DRAW_FILL:
        return state == OMR_MARK_MARKED;
    case DRAW_NONE:
        return state == OMR_MARK_BLANK;
    case DRAW_TICK: /* a bold tick through the middle: a mark or a person decides, never blank */
        return state != OMR_MARK_BLANK;
    case DRAW_DOT:
        return state != OMR_MARK_MARKED;
    }
    return 0;
}

static draw_t drawn(const omr_question_t *q, const omr_region_t *rg)
{
    if (q->kind == OMR_KIND_GRID1)
        return drawn_grid(rg->row, rg->code);
    int qi = atoi(q->id + 1) - 1;
    return q->kind == OMR_KIND_MULTI ? drawn_multi(rg->code - 1) : drawn_single(qi, rg->code - 1);
}

/* Render the sheet at dpi, draw the truth, scan it (warped, optionally
 * bitonal), recognise, and compare every bubble with what was drawn. */
static void run_sheet(int dpi, int bitonal, const warp_t *w)
{
    omr_error_t err = {0};
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, dpi, &err);
    CHECK(blank != NULL, "render at %d dpi: %s", dpi, err.msg);
    if (!blank)
        return;
    const omr_page_t *pg = &form->pages[0];
    double k = dpi / OMR_MM_PER_INCH;
    for (int i = 0; i < pg->n_regions; i++)
        draw(blank, k, &pg->regions[i], drawn(&form->questions[pg->regions[i].question], &pg->regions[i]));
    PIX *scan = make_scan(blank, pg, w, bitonal);
    omr_sample_cache_t *cache = NULL;
    omr_page_result_t res;
    memset(&res, 0, sizeof res);
    snprintf(res.form, sizeof res.form, "%s", form->id);
    res.page_number = 1;
    res.dpi = dpi;
    res.status = OMR_PAGE_OK;
    CHECK(omr_sample_cache_new(survey, &cache, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_recognise_page(scan, survey, NULL, cache, &res, &err) == OMR_OK, "%s", err.msg);
    CHECK(res.status == OMR_PAGE_OK, "%d dpi %s: page not read: %s", dpi, bitonal ? "bitonal" : "grey", res.reason);
    int wrong = 0;
    for (int i = 0; res.status == OMR_PAGE_OK && i < pg->n_regions; i++) {
        const omr_region_t *rg = &pg->regions[i];
        draw_t what = drawn(&form->questions[rg->question], rg);
        if (!state_ok(what, res.regions[i].state)) {
            wrong++;
            fprintf(stderr, "  %d dpi %s: %s option %d drawn %d read state %d (ink %.3f score %.3f)\n", dpi,
                    bitonal ? "bitonal" : "grey", rg->var, rg->code, what, res.regions[i].state,
                    res.regions[i].m.ink, res.regions[i].m.score);
        }
    }
    CHECK_INT(wrong, 0);
    omr_page_result_clear(&res);
    omr_sample_cache_free(cache);
    pixDestroy(&scan);
    pixDestroy(&blank);
}

static void test_grey_low_resolution(void)
{
    warp_t w = {.skew = 0.7, .sx = 1.008, .sy = 0.995, .tx = 1.5, .ty = -2, .border = 4};
    run_sheet(100, 0, &w);
    run_sheet(150, 0, &w);
}

static void test_grey(void)
{
    warp_t w = {.skew = -1.2, .sx = 0.996, .sy = 1.004, .tx = -2.5, .ty = 1, .border = 4};
    run_sheet(200, 0, &w);
    run_sheet(300, 0, &w);
}

/* Fed upside down: no barcode says so and the four square marks fit both
 * ways; the print decides (register_by_print), and every bubble reads as
 * drawn. */
static void test_upside_down(void)
{
    warp_t w = {.skew = 0.6, .sx = 1.0, .sy = 1.002, .tx = 1, .ty = -1.5, .flip = 1, .border = 4};
    run_sheet(150, 0, &w);
    run_sheet(300, 1, &w);
}

/* A real scan (OMRChecker's sheet, tests/data/omrchecker) turned upside down
 * reads as the upright one does, region for region. */
static void test_real_upside_down(void)
{
    const char *path = "tests/data/omrchecker/scan-type-1.jpg";
    omr_survey_t *enigma = NULL;
    omr_error_t err = {0};
    CHECK(omr_template_load("templates/omrchecker-enigma", &enigma, &err) == OMR_OK, "%s", err.msg);
    PIX *up = load_first_page(path, NULL);
    CHECK(up != NULL);
    if (!enigma || !up) {
        omr_template_free(enigma);
        pixDestroy(&up);
        return;
    }
    PIX *down = pixRotate180(NULL, up);
    omr_page_result_t res[2];
    omr_sample_cache_t *cache = NULL;
    CHECK(omr_sample_cache_new(enigma, &cache, &err) == OMR_OK);
    for (int k = 0; k < 2; k++) {
        memset(&res[k], 0, sizeof res[k]);
        snprintf(res[k].form, sizeof res[k].form, "%s", enigma->forms[0].id);
        res[k].page_number = 1;
        res[k].status = OMR_PAGE_OK;
        CHECK(omr_recognise_page(k ? down : up, enigma, NULL, cache, &res[k], &err) == OMR_OK, "%s", err.msg);
        CHECK(res[k].status == OMR_PAGE_OK, "%s: %s", k ? "upside down" : "upright", res[k].reason);
    }
    CHECK_INT(res[0].orientation, 0);
    CHECK_INT(res[1].orientation, 180);
    int differ = 0;
    for (int i = 0; res[0].status == OMR_PAGE_OK && res[1].status == OMR_PAGE_OK && i < res[0].n_regions; i++)
        differ += res[0].regions[i].state != res[1].regions[i].state;
    CHECK_INT(differ, 0);
    for (int k = 0; k < 2; k++)
        omr_page_result_clear(&res[k]);
    omr_sample_cache_free(cache);
    pixDestroy(&down);
    pixDestroy(&up);
    omr_template_free(enigma);
}

/* A sheet of another form whose corner marks sit where this form's do (an
 * IPA page, against the bubble sheet with its marks moved there) registers
 * both ways, and its print matches neither way clearly: not read. */
static void test_other_form_same_marks(void)
{
    char dir[] = "/tmp/omr-test-bubble-XXXXXX";
    omr_survey_t *ipa = NULL, *moved = NULL;
    omr_error_t err = {0};
    CHECK(mkdtemp(dir) != NULL);
    FILE *in = fopen("tests/data/bubble-sheet/M-01.page", "r");
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/M-01.page", dir);
    FILE *out = fopen(path, "w");
    CHECK(in && out);
    while (in && out && fgets(line, sizeof line, in)) {
        static const char *from[] = {"mark at=12,12 ", "mark at=198,12 ", "mark at=12,285 ", "mark at=198,285 "};
        static const char *to[] = {"mark at=10,10 ", "mark at=200,10 ", "mark at=10,287 ", "mark at=200,287 "};
        int k = 0;
        while (k < 4 && strncmp(line, from[k], strlen(from[k])))
            k++;
        if (k < 4)
            fprintf(out, "%s%s", to[k], line + strlen(from[k]));
        else
            fputs(line, out);
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    FILE *sv = fopen("tests/data/bubble-sheet/survey.omr", "r");
    snprintf(path, sizeof path, "%s/survey.omr", dir);
    out = fopen(path, "w");
    while (sv && out && fgets(line, sizeof line, sv))
        fputs(line, out);
    if (sv)
        fclose(sv);
    if (out)
        fclose(out);
    CHECK(omr_template_load(dir, &moved, &err) == OMR_OK, "%s", err.msg);
    CHECK(check_load_survey(&ipa) == 0);
    if (moved && ipa) {
        PIX *page = omr_print_render_page(ipa, &ipa->forms[0], 0, "000001", 200, &err);
        omr_sample_cache_t *cache = NULL;
        omr_page_result_t res;
        memset(&res, 0, sizeof res);
        snprintf(res.form, sizeof res.form, "M");
        res.page_number = 1;
        res.status = OMR_PAGE_OK;
        CHECK(page && omr_sample_cache_new(moved, &cache, &err) == OMR_OK);
        CHECK(page && omr_recognise_page(page, moved, NULL, cache, &res, &err) == OMR_OK, "%s", err.msg);
        CHECK(res.status == OMR_PAGE_REGISTER_FAILED && strstr(res.reason, "cannot tell which way up"),
              "status %d: %s", res.status, res.reason);
        omr_page_result_clear(&res);
        omr_sample_cache_free(cache);
        pixDestroy(&page);
    }
    omr_template_free(moved);
    omr_template_free(ipa);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
}

/* A sheet scanned so light that it looks blank (every pixel lighter than
 * mid-grey: a faded grey scan of a pencil-filled sheet) still shows the
 * form's corner marks: it is kept as a page, not skipped as a blank sheet,
 * which on a survey read by order would lose the respondent without a word.
 * A white sheet beside it is skipped. */
static void test_faded_sheet_not_blank(void)
{
    char dir[] = "/tmp/omr-test-faded-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    omr_error_t err = {0};
    PIX *page = omr_print_render_page(survey, form, 0, NULL, 200, &err);
    CHECK(page != NULL, "%s", err.msg);
    if (!page)
        return;
    double k = 200 / OMR_MM_PER_INCH;
    for (int i = 0; i < form->pages[0].n_regions; i++) {
        const omr_region_t *rg = &form->pages[0].regions[i];
        if (rg->code == 2) /* every question's second bubble, in pencil */
            fill_ellipse_mm(page, k, rg->box.x + rg->box.w / 2, rg->box.y + rg->box.h / 2, 0.8 * rg->box.w / 2,
                            0.8 * rg->box.h / 2, 90);
    }
    /* faded: black 0 -> 150, paper 255 stays */
    int w = (int)pixGetWidth(page), h = (int)pixGetHeight(page);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            l_uint32 v;
            pixGetPixel(page, x, y, &v);
            pixSetPixel(page, x, y, 150 + v * 105 / 255);
        }
    PIX *white = pixCreate(w, h, 8);
    pixSetAllArbitrary(white, 255);
    pixSetResolution(white, 200, 200);
    char faded_path[256], white_path[256], db[256];
    snprintf(faded_path, sizeof faded_path, "%s/faded.png", dir);
    snprintf(white_path, sizeof white_path, "%s/white.png", dir);
    snprintf(db, sizeof db, "%s/s.db", dir);
    CHECK(pixWrite(faded_path, page, IFF_PNG) == 0 && pixWrite(white_path, white, IFF_PNG) == 0);
    int blank = 0;
    double ink = 0;
    CHECK(omr_identify_is_blank(page, 0, &blank, &ink, &err) == OMR_OK && blank,
          "test bug: the faded page should look blank to the ink count (ink %.4f)", ink);
    const char *inputs[] = {faded_path, white_path};
    omr_pipeline_opts_t opts = {.db_path = db, .batch_name = "faded", .jobs = 1};
    omr_pipeline_result_t res;
    memset(&res, 0, sizeof res);
    CHECK(omr_pipeline_run(survey, NULL, inputs, 2, &opts, &res, &err) == OMR_OK, "%s", err.msg);
    omr_pipeline_result_clear(&res);
    sqlite3 *h_db = NULL;
    CHECK(sqlite3_open(db, &h_db) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(h_db,
                             "SELECT f.path, p.status, p.respondent FROM pages p JOIN files f ON f.id = p.file "
                             "ORDER BY f.path",
                             -1, &st, NULL) == SQLITE_OK);
    int faded_ok = 0, white_blank = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        const char *who = (const char *)sqlite3_column_text(st, 2);
        if (strstr(path, "faded.png"))
            faded_ok = !strcmp(status, "ok") && who && !strcmp(who, "faded");
        else if (strstr(path, "white.png"))
            white_blank = !strcmp(status, "blank");
        if (strstr(path, "faded.png") ? !faded_ok : !white_blank)
            fprintf(stderr, "  %s: %s (%s)\n", path, status, who ? who : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(h_db);
    CHECK(faded_ok, "the faded sheet is kept as respondent 'faded'");
    CHECK(white_blank, "the white sheet is skipped as blank");
    pixDestroy(&white);
    pixDestroy(&page);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* The print match itself: the blank page against itself fits only the
 * right way up. */
static void test_print_match(void)
{
    omr_error_t err = {0};
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, 100, &err);
    PIX *coarse = omr_print_render_page(survey, form, 0, NULL, OMR_SAMPLE_COARSE_DPI, &err);
    CHECK(blank && coarse, "%s", err.msg);
    if (blank && coarse) {
        const omr_page_t *pg = &form->pages[0];
        double k = 100 / OMR_MM_PER_INCH;
        const double upright[6] = {k, 0, 0, 0, k, 0};
        const double flipped[6] = {-k, 0, pg->width * k, 0, -k, pg->height * k};
        double mu = omr_register_print_match(blank, upright, coarse, OMR_SAMPLE_COARSE_DPI);
        double md = omr_register_print_match(blank, flipped, coarse, OMR_SAMPLE_COARSE_DPI);
        CHECK(mu > 0.3 && md < 0.5 * mu, "upright %.3f, upside down %.3f", mu, md);
    }
    pixDestroy(&blank);
    pixDestroy(&coarse);
}

static void test_bitonal(void)
{
    warp_t w = {.skew = 0.4, .sx = 1.0, .sy = 1.003, .tx = 0.5, .ty = 2, .border = 4};
    run_sheet(200, 1, &w);
    run_sheet(300, 1, &w);
}

/* The blank level: per printed code, the lower quartile of that code's
 * bubbles; the page's when a code has too few; capped; 0 without bubbles. */
static void test_bubble_base(void)
{
    const omr_page_t *pg = &form->pages[0];
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_result_t *r = calloc((size_t)pg->n_regions, sizeof *r);
    if (!r)
        return;
    /* A's read 0.30 + i/1000, B's 0.40 + ..., a fifth of them filled (0.95) */
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        const omr_region_t *rg = &pg->regions[i];
        double level = rg->print && !strcmp(rg->print, "A") ? 0.30 : rg->print && !strcmp(rg->print, "B") ? 0.40 : 0.20;
        r[i].m.ink = (float)(n % 5 == 4 ? 0.95 : level + (n % 7) / 1000.0);
        r[i].m.darkness = 1; /* as on a bitonal scan */
        n++;
    }
    double a = omr_classify_bubble_base(pg, &cal, r, "A"), b = omr_classify_bubble_base(pg, &cal, r, "B");
    CHECK(a >= 0.30 && a < 0.31, "A's blank level %.4f", a);
    CHECK(b >= 0.40 && b < 0.41, "B's blank level %.4f", b);
    /* "5" is printed once (the multi question): the page's level */
    double all = omr_classify_bubble_base(pg, &cal, r, NULL), five = omr_classify_bubble_base(pg, &cal, r, "5");
    CHECK(five == all && all >= 0.2 && all < 0.35, "a code printed once takes the page's level %.4f (page %.4f)",
          five, all);
    /* the filled level: the median of the dark ones; 1 when none is dark;
     * never below bubble.full_min (a page of ticks does not make a tick full) */
    double full = omr_classify_bubble_full(pg, &cal, r);
    CHECK(fabs(full - 0.95) < 1e-6, "filled level %.4f", full);
    for (int i = 0; i < pg->n_regions; i++)
        if (r[i].m.ink > 0.9f)
            r[i].m.ink = 0.22f;
    CHECK(omr_classify_bubble_full(pg, &cal, r) == 1, "no bubble filled: 1");
    n = 0;
    for (int i = 0; i < pg->n_regions; i++, n++)
        if (n % 5 == 4)
            r[i].m.ink = 0.62f;
    CHECK(omr_classify_bubble_full(pg, &cal, r) == cal.bubble_full_min, "ticks only: %.3f",
          omr_classify_bubble_full(pg, &cal, r));
    /* the page's blank maximum follows its noise: blank bubbles 0.20-0.21
     * over a level of 0.20 with filled ones at 0.95 fill at most ~0.013: the
     * floor; spread up to 0.09 over the level (a grainy scan): 1.8 x their
     * 95th percentile */
    for (int i = 0, k = 0; i < pg->n_regions; i++, k++)
        r[i].m.ink = (float)(k % 5 == 4 ? 0.95 : 0.20 + (k % 7) / 600.0);
    double quiet = omr_classify_bubble_blank_max(pg, &cal, r, 0.95);
    CHECK(quiet == cal.bubble_blank_min, "quiet page: %.3f", quiet);
    for (int i = 0, k = 0; i < pg->n_regions; i++, k++)
        r[i].m.ink = (float)(k % 5 == 4 ? 0.95 : 0.20 + (k % 10) * 0.01);
    double grainy = omr_classify_bubble_blank_max(pg, &cal, r, 0.95);
    CHECK(grainy > cal.bubble_blank_min && grainy <= cal.bubble_blank_max, "grainy page: %.3f", grainy);
    /* a sheet filled in almost everywhere: capped, its filled bubbles still marked */
    for (int i = 0; i < pg->n_regions; i++)
        r[i].m.ink = 0.95f;
    CHECK(omr_classify_bubble_base(pg, &cal, r, "A") == cal.bubble_base_max, "capped at bubble.base_max");
    omr_classify_page(pg, &cal, r);
    CHECK_INT(r[0].state, OMR_MARK_MARKED);
    free(r);
}

/* The regions of question `id` (e.g. "q3") on the bubble sheet's page:
 * *first and the count. */
static int question_regions(const omr_page_t *pg, const char *id, int *first)
{
    int n = 0;
    *first = -1;
    for (int i = 0; i < pg->n_regions; i++)
        if (!strcmp(form->questions[pg->regions[i].question].id, id)) {
            if (*first < 0)
                *first = i;
            n++;
        }
    return n;
}

/* A bubble's ink for a fill over a blank level of 0.20 and a filled one of
 * 0.95 (the page the test builds). */
static float ink_of_fill(double fill) { return (float)(0.20 + fill * 0.75); }

/* An unanswered question whose one trace stands out: doubtful
 * (OMR_DOUBT_STANDS_OUT), though it fills less than the page's blank
 * maximum. Not when it is no fuller than twice the question's next bubble,
 * below bubble.stand_out_min, within the page's noise, or beside an answer.
 * The fills are set here, so the truth is the test's. */
static void test_stand_out(void)
{
    const omr_page_t *pg = &form->pages[0];
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_result_t *r = calloc((size_t)pg->n_regions, sizeof *r);
    if (!r)
        return;
    for (int grainy = 0; grainy <= 1; grainy++) {
        /* every question answered (its code-th bubble filled), the blank
         * bubbles quiet (fill < 0.003) or grainy (fill up to 0.18) */
        for (int i = 0; i < pg->n_regions; i++) {
            const omr_region_t *rg = &pg->regions[i];
            int q = atoi(form->questions[rg->question].id + 1);
            r[i] = (omr_region_result_t){0};
            r[i].m.darkness = 1;
            r[i].m.ink = ink_of_fill(rg->code == q % 4 + 1 ? 1 : grainy ? (i % 13) * 0.015 : (i % 3) * 0.001);
        }
        int f1, f2, f3, f4;
        int n1 = question_regions(pg, "q1", &f1), n2 = question_regions(pg, "q2", &f2);
        int n3 = question_regions(pg, "q3", &f3), n4 = question_regions(pg, "q4", &f4);
        CHECK(n1 == 4 && n2 == 4 && n3 == 4 && n4 == 4, "four bubbles a question");
        if (n1 != 4 || n2 != 4 || n3 != 4 || n4 != 4)
            break;
        for (int k = 0; k < 4; k++) { /* q1-q3 unanswered, their bubbles at the blank level */
            r[f1 + k].m.ink = r[f2 + k].m.ink = r[f3 + k].m.ink = ink_of_fill(0);
        }
        /* q1: a thin tick, alone; on the grainy page one as full as its noise */
        r[f1 + 2].m.ink = ink_of_fill(grainy ? 0.20 : 0.09);
        r[f2 + 1].m.ink = ink_of_fill(0.09); /* q2: as full as the noise beside it */
        r[f2 + 3].m.ink = ink_of_fill(0.06);
        r[f3 + 0].m.ink = ink_of_fill(0.05); /* q3: below stand_out_min */
        int filled4 = 4 % 4; /* q4 answered (bubble code 1), a trace in its third */
        r[f4 + 2].m.ink = ink_of_fill(0.09);
        omr_classify_page(pg, &cal, r);
        if (!grainy)
            CHECK(r[f1 + 2].state == OMR_MARK_DOUBTFUL && (r[f1 + 2].doubt & OMR_DOUBT_STANDS_OUT),
                  "quiet page: the lone trace in q1 is doubtful (state %d doubt %u)", r[f1 + 2].state,
                  r[f1 + 2].doubt);
        else
            CHECK(r[f1 + 2].state == OMR_MARK_BLANK, "grainy page: the trace is within the noise (state %d)",
                  r[f1 + 2].state);
        for (int k = 0; k < 4; k++) {
            CHECK(r[f2 + k].state == OMR_MARK_BLANK, "q2 bubble %d: not twice its neighbour (state %d)", k + 1,
                  r[f2 + k].state);
            CHECK(r[f3 + k].state == OMR_MARK_BLANK, "q3 bubble %d: too light (state %d)", k + 1, r[f3 + k].state);
            if (k != filled4)
                CHECK(r[f4 + k].state == OMR_MARK_BLANK, "q4 bubble %d: answered beside (state %d)", k + 1,
                      r[f4 + k].state);
        }
        CHECK_INT(r[f4 + filled4].state, OMR_MARK_MARKED);
    }
    free(r);
}

int main(void)
{
    omr_quiet_libraries();
    omr_error_t err = {0};
    if (omr_template_load("tests/data/bubble-sheet", &survey, &err) != OMR_OK) {
        fprintf(stderr, "tests/data/bubble-sheet: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    form = omr_template_form(survey, "M");
    if (!form || !survey->ids_by_order) {
        fprintf(stderr, "bubble-sheet: no form M identified by order\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_grey_low_resolution);
    RUN(test_grey);
    RUN(test_bitonal);
    RUN(test_bubble_base);
    RUN(test_stand_out);
    RUN(test_upside_down);
    RUN(test_real_upside_down);
    RUN(test_print_match);
    RUN(test_other_form_same_marks);
    RUN(test_faded_sheet_not_blank);
    omr_template_free(survey);
    return check_report();
}
