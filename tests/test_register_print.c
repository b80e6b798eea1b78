/* test_register_print.c -- stage 3 for pages printed without corner marks:
 * registration by the page's print (register.h, omr_register_page_print).
 *
 * Synthetic: pages of the IPA survey rendered blank by omr's printer at 200
 * and 300 dpi, some with answers inked over their answer regions, warped by
 * a known affine (warp.h: skew, shift, unequal scale, 180°), grey or
 * thresholded to 1 bpp, with or without the file's resolution: the truth is
 * the affine we applied. The reference is the same page rendered at
 * OMR_REGISTER_PRINT_PX_PER_MM. Every region centre must be mapped within
 * 0.15 mm of where the warp put it (about twice the worst measured). Then
 * what must not register: another page of the survey, a blank sheet, the
 * right page told the wrong way up, and a scan of the page with only a
 * corner of it on the image.
 * The real scans (OMRChecker's sample6, whose print differs from its
 * reference image in places) are tests/omrchecker_sample6.sh's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "identify.h"
#include "pipeline.h"
#include "load.h"
#include "print.h"
#include "recognise.h"
#include "register.h"
#include "sample.h"
#include "template.h"
#include "warp.h"

static omr_survey_t *survey;
static const omr_form_t *form;

/* The page's blank render prepared as the reference. */
static omr_register_print_ref_t *prepare(int page_index)
{
    omr_error_t err = {0};
    PIX *ref = omr_print_render_page(survey, form, page_index, NULL, OMR_REGISTER_PRINT_PX_PER_MM * OMR_MM_PER_INCH,
                                     &err);
    CHECK(ref != NULL, "render: %s", err.msg);
    omr_register_print_ref_t *rp = NULL;
    if (ref)
        CHECK(omr_register_print_prepare(ref, &form->pages[page_index], &rp, &err) == OMR_OK, "%s", err.msg);
    pixDestroy(&ref);
    return rp;
}

/* The page's marks, and 2 mm around them, painted white (k px per mm). */
static void white_marks(PIX *pix, const omr_page_t *pg, double k)
{
    for (int m = 0; m < 4; m++) {
        double half = pg->mark_size / 2 + 2;
        BOX *b = boxCreate((int)((pg->mark_x[m] - half) * k), (int)((pg->mark_y[m] - half) * k), (int)(2 * half * k),
                           (int)(2 * half * k));
        pixSetInRect(pix, b);
        boxDestroy(&b);
    }
}

/* Ink over the page's answer regions, every third one: a respondent's
 * marks, which the reference does not have. */
static void ink_answers(PIX *pix, const omr_page_t *pg, double k)
{
    for (int i = 0; i < pg->n_regions; i += 3) {
        const omr_rect_t *b = &pg->regions[i].box;
        BOX *box = boxCreate((int)(b->x * k), (int)(b->y * k), (int)(b->w * k), (int)(b->h * k));
        pixClearInRect(pix, box); /* (8 bpp: 0 is black) */
        boxDestroy(&box);
    }
}

typedef struct {
    int page, dpi, bitonal, with_dpi, answers;
    warp_t w;
} case_t;

/* Register one synthetic scan; returns the worst region error in mm, or -1
 * when not registered. */
static double run_case(const omr_register_print_ref_t *rp, const case_t *c)
{
    omr_error_t err = {0};
    const omr_page_t *pg = &form->pages[c->page];
    PIX *blank = omr_print_render_page(survey, form, c->page, NULL, c->dpi, &err);
    CHECK(blank != NULL, "render: %s", err.msg);
    if (!blank)
        return -1;
    double k = c->dpi / OMR_MM_PER_INCH;
    if (c->answers)
        ink_answers(blank, pg, k);
    PIX *scan = make_scan(blank, pg, &c->w, c->bitonal);
    omr_register_t reg;
    omr_status_t st = omr_register_page_print(scan, pg, rp, c->w.flip ? 180 : 0, c->with_dpi ? c->dpi : 0, NULL,
                                              &reg, &err);
    double worst = st == OMR_OK ? warp_region_error_px(&c->w, pg, k, reg.xform) / k : -1;
    if (st != OMR_OK)
        fprintf(stderr, "  not registered: %s\n", err.msg);
    else
        printf("  page %d, %d dpi %s%s%s, skew %.1f: %d patches, residual %.3f mm, worst region %.3f mm\n",
               c->page + 1, c->dpi, c->bitonal ? "1 bpp" : "grey", c->with_dpi ? "" : ", no dpi",
               c->answers ? ", answered" : "", c->w.skew, reg.n_patches, reg.residual_mm, worst);
    pixDestroy(&scan);
    pixDestroy(&blank);
    return worst;
}

static void test_synthetic_warps(void)
{
    const case_t cases[] = {
        {0, 300, 0, 1, 0, {.skew = 0.8, .sx = 1.004, .sy = 0.996, .tx = 2, .ty = -3, .border = 3}},
        {0, 300, 1, 1, 1, {.skew = -1.6, .sx = 0.995, .sy = 1.006, .tx = -4, .ty = 5, .border = 3}},
        {0, 200, 1, 0, 1, {.skew = 2.5, .sx = 1.01, .sy = 1.0, .tx = 6, .ty = 2, .border = 5}},
        {0, 200, 0, 1, 0, {.skew = -0.4, .sx = 1.0, .sy = 1.0, .tx = 0, .ty = 0, .flip = 1, .border = 3}},
        {3, 300, 1, 1, 1, {.skew = 1.2, .sx = 1.002, .sy = 1.008, .tx = -2, .ty = -6, .border = 4}},
        {3, 200, 0, 0, 1, {.skew = -3.0, .sx = 0.99, .sy = 0.995, .tx = 3, .ty = 4, .flip = 1, .border = 6}},
    };
    omr_register_print_ref_t *rp[2] = {prepare(0), prepare(3)};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        omr_register_print_ref_t *r = rp[cases[i].page == 0 ? 0 : 1];
        if (!r)
            continue;
        double worst = run_case(r, &cases[i]);
        CHECK(worst >= 0 && worst <= 0.15, "case %zu: worst region error %.3f mm (-1: not registered)", i, worst);
    }
    omr_register_print_ref_free(rp[0]);
    omr_register_print_ref_free(rp[1]);
}

/* A sheet lying sideways (fed short edge first; a barcode says so): the scan
 * turned a quarter clockwise registers with orientation 90, and a quarter
 * anticlockwise with 270, every region where the upright scan puts it. */
static void test_sideways(void)
{
    omr_register_print_ref_t *rp = prepare(0);
    omr_error_t err = {0};
    const omr_page_t *pg = &form->pages[0];
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, 200, &err);
    warp_t w = {.skew = 1.1, .sx = 1.003, .sy = 0.998, .tx = 2, .ty = -1, .border = 3};
    PIX *scan = blank ? make_scan(blank, pg, &w, 1) : NULL;
    for (int quads = 1; rp && scan && quads <= 3; quads += 2) {
        PIX *turned = pixRotateOrth(scan, quads);
        omr_register_t reg;
        omr_status_t st = omr_register_page_print(turned, pg, rp, quads * 90, 200, NULL, &reg, &err);
        CHECK(st == OMR_OK, "turned %d: %s", quads * 90, err.msg);
        double W = pixGetWidth(scan), H = pixGetHeight(scan), k = 200 / OMR_MM_PER_INCH, worst = 0;
        for (int i = 0; st == OMR_OK && i < pg->n_regions; i++) {
            double X = pg->regions[i].box.x + pg->regions[i].box.w / 2;
            double Y = pg->regions[i].box.y + pg->regions[i].box.h / 2, tx, ty, px, py;
            warp_map(&w, pg, k, X, Y, &tx, &ty);
            omr_register_map(reg.xform, X, Y, &px, &py);
            /* where the turn took the warped point (continuous coordinates) */
            double ex = quads == 1 ? H - ty : ty, ey = quads == 1 ? tx : W - tx;
            worst = fmax(worst, hypot(px - ex, py - ey) / k);
        }
        CHECK(st != OMR_OK || worst <= 0.15, "turned %d: worst region %.3f mm", quads * 90, worst);
        pixDestroy(&turned);
    }
    pixDestroy(&scan);
    pixDestroy(&blank);
    omr_register_print_ref_free(rp);
}

/* One of our own pages whose four corner marks are lost (covered, cut
 * off) and whose barcode gives no landmark: recognise registers it by its
 * print (omr's render of the page), every region within 0.15 mm. */
static void test_own_page_without_its_marks(void)
{
    omr_error_t err = {0};
    const omr_page_t *pg = &form->pages[0];
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, 300, &err);
    if (!blank) {
        CHECK(0, "render: %s", err.msg);
        return;
    }
    const double k = 300 / OMR_MM_PER_INCH;
    white_marks(blank, pg, k);
    warp_t w = {.skew = -0.9, .sx = 1.002, .sy = 0.997, .tx = 3, .ty = 2, .border = 3};
    PIX *scan = make_scan(blank, pg, &w, 1);
    omr_sample_cache_t *cache = NULL;
    omr_page_result_t res;
    memset(&res, 0, sizeof res);
    snprintf(res.form, sizeof res.form, "A");
    snprintf(res.payload, sizeof res.payload, "ITSC18-A01-000001");
    res.page_number = 1;
    res.dpi = 300;
    res.status = OMR_PAGE_OK;
    CHECK(omr_sample_cache_new(survey, &cache, &err) == OMR_OK, "%s", err.msg);
    omr_register_t reg;
    CHECK(omr_register_page(scan, pg, 0, 300, NULL, &reg, &err) == OMR_ENOTFOUND, "the marks are gone");
    CHECK(cache && omr_recognise_page(scan, survey, NULL, cache, &res, &err) == OMR_OK, "%s", err.msg);
    CHECK(res.status == OMR_PAGE_OK, "not registered: %s", res.reason);
    if (res.status == OMR_PAGE_OK) {
        double worst = warp_region_error_px(&w, pg, k, res.xform) / k;
        printf("  page 1 without its corner marks: registered by print, worst region %.3f mm\n", worst);
        CHECK(worst <= 0.15, "worst region %.3f mm", worst);
    }
    omr_page_result_clear(&res);
    omr_sample_cache_free(cache);
    pixDestroy(&scan);
    pixDestroy(&blank);
}

/* A form read by order (no barcode) with corner marks and a reference
 * image: IPA page A-1 made such a survey here, its blank render as the
 * reference. A scan whose marks are lost is registered by the reference's
 * print, every region within 0.15 mm; without the reference it is not
 * registered (the marks were all it had; our own render is used only for
 * pages our barcode names). */
static void test_marks_lost_reference_kept(void)
{
    char tdir[] = "/tmp/omr-test-register-print-XXXXXX";
    omr_error_t err = {0};
    omr_survey_t *by_order[2] = {NULL, NULL}; /* without, with the reference */
    if (!mkdtemp(tdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, 150, &err);
    char path[400], text[65536];
    snprintf(path, sizeof path, "%s/ref.png", tdir);
    CHECK(blank && pixWrite(path, blank, IFF_PNG) == 0, "ref.png");
    FILE *in = fopen("templates/ipa-itsc-2018/A-01.page", "r");
    size_t n = in ? fread(text, 1, sizeof text - 1, in) : 0;
    text[n] = 0;
    if (in)
        fclose(in);
    char *no_barcode = check_replaced(text, "barcode box=65,270,80,14\n", "");
    char *with_ref = no_barcode ? check_replaced(no_barcode, "size=210x297\n", "size=210x297 reference=ref.png\n")
                                : NULL;
    const char *sv = "survey id=ipa-itsc-2018 code=ITSC18 title=\"by order\" identify=order\n"
                     "form A title=\"A\"\npage form=A number=1 file=A-01.page\n";
    check_write_file(tdir, "survey.omr", sv);
    for (int r = 0; r < 2 && no_barcode && with_ref; r++) {
        check_write_file(tdir, "A-01.page", r ? with_ref : no_barcode);
        CHECK(omr_template_load(tdir, &by_order[r], &err) == OMR_OK, "%s", err.msg);
    }
    free(no_barcode);
    free(with_ref);
    const omr_page_t *pg = &form->pages[0];
    const double k = 200 / OMR_MM_PER_INCH;
    PIX *paper = omr_print_render_page(survey, form, 0, NULL, 200, &err);
    warp_t w = {.skew = 1.3, .sx = 0.998, .sy = 1.003, .tx = -2, .ty = 3, .border = 3};
    PIX *scan = NULL;
    if (paper) {
        white_marks(paper, pg, k);
        scan = make_scan(paper, pg, &w, 1);
    }
    for (int r = 0; r < 2 && scan && by_order[r]; r++) {
        omr_sample_cache_t *cache = NULL;
        omr_page_result_t res;
        memset(&res, 0, sizeof res);
        snprintf(res.form, sizeof res.form, "A");
        res.page_number = 1;
        res.dpi = 200;
        res.status = OMR_PAGE_OK;
        CHECK(omr_sample_cache_new(by_order[r], &cache, &err) == OMR_OK, "%s", err.msg);
        CHECK(cache && omr_recognise_page(scan, by_order[r], NULL, cache, &res, &err) == OMR_OK, "%s", err.msg);
        if (!r) {
            CHECK(res.status == OMR_PAGE_REGISTER_FAILED, "registered without marks or reference (status %d)",
                  res.status);
        } else {
            CHECK(res.status == OMR_PAGE_OK, "not registered: %s", res.reason);
            double worst = res.status == OMR_PAGE_OK ? warp_region_error_px(&w, pg, k, res.xform) / k : -1;
            printf("  page A-1 read by order, marks lost, with a reference: worst region %.3f mm\n", worst);
            CHECK(worst >= 0 && worst <= 0.15, "worst region %.3f mm", worst);
        }
        omr_page_result_clear(&res);
        omr_sample_cache_free(cache);
    }
    pixDestroy(&scan);
    pixDestroy(&paper);
    pixDestroy(&blank);
    omr_template_free(by_order[0]);
    omr_template_free(by_order[1]);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    CHECK(system(cmd) == 0);
}

/* A real sheet of a form without marks (sample6), scanned so light that
 * its ink count calls it blank, is still a page (its print registers), not
 * a skipped separator; a white sheet beside it is skipped as blank. */
static void test_faded_mark_less_sheet(void)
{
    char tdir[] = "/tmp/omr-test-faded-print-XXXXXX";
    omr_error_t err = {0};
    omr_survey_t *s6 = NULL;
    if (!mkdtemp(tdir) || omr_template_load("templates/omrchecker-sample6", &s6, &err) != OMR_OK) {
        CHECK(0, "setup: %s", err.msg);
        return;
    }
    int dpi = 0;
    PIX *scan = load_first_page("tests/data/omrchecker-sample6/sample_roll_01.jpg", &dpi);
    CHECK(scan != NULL);
    if (scan) {
        /* faded: black 0 -> 215, paper stays */
        const int w = (int)pixGetWidth(scan), h = (int)pixGetHeight(scan);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                l_uint32 v;
                pixGetPixel(scan, x, y, &v);
                pixSetPixel(scan, x, y, 215 + v * 40 / 255);
            }
        int blank = 0;
        double ink = 0;
        CHECK(omr_identify_is_blank(scan, 0, &blank, &ink, &err) == OMR_OK && blank,
              "test bug: the faded sheet should look blank to the ink count (ink %.4f)", ink);
        PIX *white = pixCreate(w, h, 8);
        pixSetAllArbitrary(white, 255);
        char faded[400], whitep[400], db[400];
        snprintf(faded, sizeof faded, "%s/faded.png", tdir);
        snprintf(whitep, sizeof whitep, "%s/white.png", tdir);
        snprintf(db, sizeof db, "%s/s.db", tdir);
        CHECK(pixWrite(faded, scan, IFF_PNG) == 0 && pixWrite(whitep, white, IFF_PNG) == 0);
        pixDestroy(&white);
        const char *inputs[] = {faded, whitep};
        omr_pipeline_opts_t opts = {.db_path = db, .batch_name = "faded", .jobs = 1};
        omr_pipeline_result_t res;
        memset(&res, 0, sizeof res);
        CHECK(omr_pipeline_run(s6, NULL, inputs, 2, &opts, &res, &err) == OMR_OK, "%s", err.msg);
        omr_pipeline_result_clear(&res);
        sqlite3 *h_db = NULL;
        sqlite3_stmt *st = NULL;
        int faded_ok = 0, white_blank = 0;
        if (sqlite3_open(db, &h_db) == SQLITE_OK &&
            sqlite3_prepare_v2(h_db, "SELECT f.path, p.status FROM pages p JOIN files f ON f.id = p.file", -1, &st,
                               NULL) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW) {
                const char *path = (const char *)sqlite3_column_text(st, 0);
                const char *status = (const char *)sqlite3_column_text(st, 1);
                if (strstr(path, "faded.png"))
                    faded_ok = !strcmp(status, "ok");
                else
                    white_blank = !strcmp(status, "blank");
            }
        sqlite3_finalize(st);
        sqlite3_close(h_db);
        CHECK(faded_ok, "the faded sheet was not read as a page");
        CHECK(white_blank, "the white sheet was not skipped as blank");
    }
    pixDestroy(&scan);
    omr_template_free(s6);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    CHECK(system(cmd) == 0);
}

/* What must not register against page 1's print. */
static void test_not_registered(void)
{
    omr_register_print_ref_t *rp = prepare(0);
    if (!rp)
        return;
    omr_error_t err = {0};
    const omr_page_t *pg = &form->pages[0];
    warp_t w = {.skew = 0.5, .sx = 1, .sy = 1, .tx = 1, .ty = 1, .border = 3};
    omr_register_t reg;
    /* another page of the survey (its own print, the same marks) */
    PIX *other = omr_print_render_page(survey, form, 4, NULL, 200, &err);
    PIX *scan = other ? make_scan(other, &form->pages[4], &w, 0) : NULL;
    CHECK(scan && omr_register_page_print(scan, pg, rp, 0, 200, NULL, &reg, &err) == OMR_ENOTFOUND,
          "page 5 registered as page 1");
    pixDestroy(&scan);
    pixDestroy(&other);
    /* a blank sheet */
    PIX *white = pixCreate(1654, 2339, 8);
    pixSetAll(white);
    pixSetResolution(white, 200, 200);
    CHECK(omr_register_page_print(white, pg, rp, 0, 200, NULL, &reg, &err) == OMR_ENOTFOUND,
          "a white sheet registered");
    pixDestroy(&white);
    /* the page itself, told upside down */
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, 200, &err);
    scan = blank ? make_scan(blank, pg, &w, 1) : NULL;
    CHECK(scan && omr_register_page_print(scan, pg, rp, 180, 200, NULL, &reg, &err) == OMR_ENOTFOUND,
          "the upright page registered as upside down");
    /* a quarter of it (the rest cut off) */
    BOX *quarter = boxCreate(0, 0, 830, 1170);
    PIX *corner = scan ? pixClipRectangle(scan, quarter, NULL) : NULL;
    boxDestroy(&quarter);
    CHECK(corner && omr_register_page_print(corner, pg, rp, 0, 200, NULL, &reg, &err) == OMR_ENOTFOUND,
          "a quarter of the page registered");
    pixDestroy(&corner);
    pixDestroy(&scan);
    pixDestroy(&blank);
    omr_register_print_ref_free(rp);
}

/* A real scan (OMRChecker's sample6, no marks, its reference differing from
 * the print in places) upright and turned upside down: both register, and
 * every region lands on the same spot of the sheet (within 0.1 mm). */
static void test_real_upside_down(void)
{
    omr_survey_t *s6 = NULL;
    omr_error_t err = {0};
    if (omr_template_load("templates/omrchecker-sample6", &s6, &err) != OMR_OK) {
        CHECK(0, "templates/omrchecker-sample6: %s", err.msg);
        return;
    }
    const omr_form_t *f = omr_template_form(s6, "S");
    const omr_page_t *pg = &f->pages[0];
    PIX *ref = omr_print_render_page(s6, f, 0, NULL, OMR_REGISTER_PRINT_PX_PER_MM * OMR_MM_PER_INCH, &err);
    omr_register_print_ref_t *rp = NULL;
    CHECK(ref && omr_register_print_prepare(ref, pg, &rp, &err) == OMR_OK, "%s", err.msg);
    int dpi = 0;
    PIX *up = load_first_page("tests/data/omrchecker-sample6/sample_roll_01.jpg", &dpi);
    PIX *down = up ? pixRotate180(NULL, up) : NULL;
    omr_register_t ru, rd;
    CHECK(rp && up && omr_register_page_print(up, pg, rp, 0, dpi, NULL, &ru, &err) == OMR_OK, "upright: %s", err.msg);
    CHECK(rp && down && omr_register_page_print(down, pg, rp, 180, dpi, NULL, &rd, &err) == OMR_OK,
          "upside down: %s", err.msg);
    if (rp && up && down && ru.n_patches && rd.n_patches) {
        double W = pixGetWidth(up), H = pixGetHeight(up), worst = 0;
        for (int i = 0; i < pg->n_regions; i++) {
            double X = pg->regions[i].box.x + pg->regions[i].box.w / 2;
            double Y = pg->regions[i].box.y + pg->regions[i].box.h / 2, xu, yu, xd, yd;
            omr_register_map(ru.xform, X, Y, &xu, &yu);
            omr_register_map(rd.xform, X, Y, &xd, &yd);
            worst = fmax(worst, hypot(xu - (W - xd), yu - (H - yd)));
        }
        double k = ru.dpi / OMR_MM_PER_INCH; /* px per mm, as measured */
        printf("  sample_roll_01: upright and upside down, regions at most %.3f mm apart\n", worst / k);
        CHECK(worst / k <= 0.1, "regions upright and upside down %.3f mm apart", worst / k);
        /* told the wrong way, neither registers */
        omr_register_t rx;
        CHECK(omr_register_page_print(up, pg, rp, 180, dpi, NULL, &rx, &err) == OMR_ENOTFOUND,
              "upright scan registered as upside down");
    }
    pixDestroy(&up);
    pixDestroy(&down);
    pixDestroy(&ref);
    omr_register_print_ref_free(rp);
    omr_template_free(s6);
}

int main(void)
{
    omr_quiet_libraries();
    omr_error_t err = {0};
    if (omr_template_load("templates/ipa-itsc-2018", &survey, &err) != OMR_OK || !(form = omr_template_form(survey, "A"))) {
        fprintf(stderr, "templates/ipa-itsc-2018: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_synthetic_warps);
    RUN(test_sideways);
    RUN(test_own_page_without_its_marks);
    RUN(test_marks_lost_reference_kept);
    RUN(test_faded_mark_less_sheet);
    RUN(test_not_registered);
    RUN(test_real_upside_down);
    omr_template_free(survey);
    return check_report();
}
