/* test_register.c -- stage 3 (register.h) against known transforms.
 *
 * A template page is rendered blank (omr_print_render_page), warped by a
 * known affine with Leptonica (pixAffinePta: skew, shift, scale, 180°),
 * optionally thresholded to 1 bpp, and registered. The truth is the affine
 * we applied, not anything the code under test computes: every region centre
 * mapped by the recovered transform must land within 0.5 mm of where the
 * applied transform put it.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "print.h"
#include "register.h"
#include "template.h"
#include "warp.h"

static omr_survey_t *survey;
static const omr_form_t *form;
static PIX *blank300, *blank200; /* form A page 2, rendered blank */

/* Largest distance (mm) between recovered and true positions of the region
 * centres and the corner marks. */
static double max_error_mm(const omr_register_t *r, const omr_page_t *pg, const warp_t *w,
                           double k)
{
    double worst = 0;
    for (int i = 0; i < pg->n_regions + 4; i++) {
        double X, Y;
        if (i < pg->n_regions) {
            X = pg->regions[i].box.x + pg->regions[i].box.w / 2;
            Y = pg->regions[i].box.y + pg->regions[i].box.h / 2;
        } else {
            X = pg->mark_x[i - pg->n_regions];
            Y = pg->mark_y[i - pg->n_regions];
        }
        double tx, ty, rx, ry;
        warp_map(w, pg, k, X, Y, &tx, &ty);
        omr_register_map(r->xform, X, Y, &rx, &ry);
        double e = hypot(tx - rx, ty - ry) / k;
        if (e > worst)
            worst = e;
    }
    return worst;
}

static void run_case(const char *name, PIX *blank, const warp_t *w, int bitonal, double dpi_hint,
                     int expect_marks)
{
    const omr_page_t *pg = &form->pages[1];
    PIX *scan = make_scan(blank, pg, w, bitonal);
    CHECK(scan != NULL, "%s: warp failed", name);
    if (!scan)
        return;
    omr_register_t r;
    omr_error_t err = {0};
    omr_status_t st = omr_register_page(scan, pg, w->flip ? 180 : 0, dpi_hint, NULL, &r, &err);
    CHECK_INT(st, OMR_OK);
    if (st == OMR_OK) {
        double k = pixGetXRes(blank) / OMR_MM_PER_INCH;
        double e = max_error_mm(&r, pg, w, k);
        CHECK(e <= 0.5, "%s: worst region centre off by %.3f mm", name, e);
        CHECK(r.n_marks == expect_marks, "%s: %d marks (found %d%d%d%d)", name, r.n_marks, r.found[0], r.found[1], r.found[2], r.found[3]);
        CHECK(fabs(r.skew_deg - w->skew) < 0.2, "%s: skew %.2f, want %.2f", name, r.skew_deg,
              w->skew);
        CHECK(fabs(r.dpi / pixGetXRes(blank) - 0.5 * (w->sx + w->sy)) < 0.01,
              "%s: measured dpi %.1f", name, r.dpi);
        if (expect_marks == 4)
            CHECK(r.residual_mm < 0.3, "%s: residual %.3f mm", name, r.residual_mm);
    } else {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    }
    pixDestroy(&scan);
}

static void test_straight_1bpp(void)
{
    warp_t w = {.skew = 0, .sx = 1, .sy = 1};
    run_case("straight", blank300, &w, 1, 300, 4);
}

static void test_skew_shift_scale_1bpp(void)
{
    warp_t w = {.skew = 2.0, .sx = 1.02, .sy = 0.99, .tx = 3, .ty = -4, .border = 10};
    run_case("skew2", blank300, &w, 1, 300, 4);
}

static void test_limits_grey(void)
{
    /* The stated tolerance: 5° skew, 10 mm shift, 3 % scale, at once. */
    warp_t w = {.skew = -5.0, .sx = 0.97, .sy = 0.975, .tx = -8, .ty = 6, .border = 11};
    run_case("limits", blank300, &w, 0, 300, 4);
    w = (warp_t){.skew = 5.0, .sx = 1.03, .sy = 1.025, .tx = 0, .ty = -4, .border = 12};
    run_case("limits 1bpp", blank300, &w, 1, 300, 4);
    /* Within the paper, as the simulator scans (the image is the sheet). */
    w = (warp_t){.skew = 3.0, .sx = 0.98, .sy = 0.985, .tx = -1, .ty = 0};
    run_case("within paper", blank300, &w, 0, 300, 4);
    /* The same 3 mm further right: the top-right mark is cut by the image
     * edge. Its centroid would be biased; its centre comes from its inner
     * edge and middle row instead, still within 0.5 mm everywhere. */
    w.tx = 2;
    run_case("mark cut by the edge", blank300, &w, 1, 300, 4);
    w.ty = -3; /* and the top-left one too, by the top edge, on grey */
    run_case("two marks cut", blank300, &w, 0, 300, 4);
    /* More than half of the top-right mark off the image: refused, 3 marks. */
    w.tx = 5;
    w.ty = 0;
    run_case("mark mostly off", blank300, &w, 1, 300, 3);
}

static void test_upside_down_200(void)
{
    warp_t w = {.skew = 1.5, .sx = 1.01, .sy = 1.0, .tx = 2, .ty = 5, .flip = 1, .border = 6};
    run_case("flip200 1bpp", blank200, &w, 1, 200, 4);
    run_case("flip200 grey", blank200, &w, 0, 200, 4);
}

static void test_dpi_unknown(void)
{
    warp_t w = {.skew = -1.0, .sx = 1.0, .sy = 1.01, .tx = 1, .ty = 1};
    run_case("dpi 0", blank200, &w, 1, 0, 4);
    /* A header claiming 72 dpi for a 200-dpi scan: the image size wins. */
    run_case("dpi 72", blank200, &w, 1, 72, 4);
}

/* Paint a white or black square (mm, on the blank render) into a copy. */
static PIX *paint(PIX *blank, double x, double y, double side, int black)
{
    PIX *p = pixCopy(NULL, blank);
    double k = pixGetXRes(blank) / OMR_MM_PER_INCH;
    BOX *b = boxCreate((int)((x - side / 2) * k), (int)((y - side / 2) * k), (int)(side * k),
                       (int)(side * k));
    pixSetInRectArbitrary(p, b, black ? 0 : 255);
    boxDestroy(&b);
    return p;
}

static void test_hidden_mark(void)
{
    const omr_page_t *pg = &form->pages[1];
    for (int m = 0; m < 4; m++) {
        PIX *p = paint(blank300, pg->mark_x[m], pg->mark_y[m], pg->mark_size + 2, 0);
        warp_t w = {.skew = 1.0, .sx = 1.01, .sy = 0.995, .tx = 2, .ty = -3};
        char name[32];
        snprintf(name, sizeof name, "hidden mark %d", m);
        run_case(name, p, &w, 1, 300, 3);
        pixDestroy(&p);
    }
}

static void test_decoys(void)
{
    /* A respondent's fill next to a corner mark (smaller than a mark), a
     * large blot overlapping another, a mark-sized square far from any
     * corner: registration must use the real marks. */
    const omr_page_t *pg = &form->pages[1];
    PIX *p1 = paint(blank300, pg->mark_x[0] + 9, pg->mark_y[0] + 2, 4, 1);
    PIX *p2 = paint(p1, pg->mark_x[3] - 12, pg->mark_y[3] - 14, 6, 1);
    warp_t w = {.skew = -0.7, .sx = 1.0, .sy = 1.0, .tx = 4, .ty = 2};
    run_case("decoys", p2, &w, 1, 300, 4);
    /* A blot covering the top-right mark and more: 3 marks. */
    PIX *p3 = paint(p2, pg->mark_x[1] - 3, pg->mark_y[1] + 3, 14, 1);
    run_case("blot", p3, &w, 1, 300, 3);
    pixDestroy(&p1);
    pixDestroy(&p2);
    pixDestroy(&p3);
}

static void test_blank_page_fails(void)
{
    const omr_page_t *pg = &form->pages[1];
    PIX *white = pixCreate(2480, 3508, 1);
    pixSetResolution(white, 300, 300);
    omr_register_t r;
    omr_error_t err = {0};
    CHECK_INT(omr_register_page(white, pg, 0, 300, NULL, &r, &err), OMR_ENOTFOUND);
    CHECK(strstr(r.reason, "found 0 of 4") != NULL, "reason: %s", r.reason);
    pixDestroy(&white);
    /* All black (a scan of the lid): no square of the mark's size. */
    PIX *black = pixCreate(1654, 2339, 8);
    pixSetResolution(black, 200, 200);
    CHECK_INT(omr_register_page(black, pg, 0, 200, NULL, &r, &err), OMR_ENOTFOUND);
    pixDestroy(&black);
    /* Tiny and wrong-depth images. */
    PIX *tiny = pixCreate(5, 5, 8);
    CHECK_INT(omr_register_page(tiny, pg, 0, 300, NULL, &r, &err), OMR_ENOTFOUND);
    pixDestroy(&tiny);
    PIX *rgb = pixCreate(100, 100, 32);
    CHECK_INT(omr_register_page(rgb, pg, 0, 300, NULL, &r, &err), OMR_EINPUT);
    pixDestroy(&rgb);
    /* One mark only: failed, naming what is missing. */
    PIX *p = paint(blank300, pg->mark_x[0], pg->mark_y[0], pg->mark_size + 2, 0);
    PIX *q = paint(p, pg->mark_x[3], pg->mark_y[3], pg->mark_size + 2, 0);
    PIX *q2 = paint(q, pg->mark_x[1], pg->mark_y[1], pg->mark_size + 2, 0);
    PIX *b = pixThresholdToBinary(q2, 128);
    CHECK_INT(omr_register_page(b, pg, 0, 300, NULL, &r, &err), OMR_ENOTFOUND);
    CHECK(strstr(r.reason, "found 1 of 4") && strstr(r.reason, "top-left") &&
              strstr(r.reason, "bottom-right") && strstr(r.reason, "top-right"),
          "reason: %s", r.reason);
    pixDestroy(&p);
    pixDestroy(&q);
    pixDestroy(&q2);
    pixDestroy(&b);
}

/* Two marks: a similarity fit (rotation, uniform scale, shift) through them.
 * The warps here scale both axes alike, as the simulator's scanner does. */
static void test_two_marks(void)
{
    const omr_page_t *pg = &form->pages[1];
    static const int hide[6][2] = {{0, 3}, {1, 2}, {0, 1}, {2, 3}, {0, 2}, {1, 3}};
    for (int h = 0; h < 6; h++) {
        PIX *p = paint(blank300, pg->mark_x[hide[h][0]], pg->mark_y[hide[h][0]], pg->mark_size + 2, 0);
        PIX *q = paint(p, pg->mark_x[hide[h][1]], pg->mark_y[hide[h][1]], pg->mark_size + 2, 0);
        warp_t w = {.skew = -2.5, .sx = 1.015, .sy = 1.015, .tx = 3, .ty = -2, .border = 4};
        char name[48];
        snprintf(name, sizeof name, "marks %d and %d hidden", hide[h][0], hide[h][1]);
        run_case(name, q, &w, 1, 300, 2);
        w.flip = 1;
        snprintf(name, sizeof name, "marks %d and %d hidden, 180", hide[h][0], hide[h][1]);
        run_case(name, q, &w, 0, 300, 2);
        pixDestroy(&p);
        pixDestroy(&q);
    }
    /* A sheet shifted 11 mm right, the simulator's way (the image is the
     * paper): both right-hand marks more than half off the image. */
    warp_t w = {.skew = 0, .sx = 0.995, .sy = 0.995, .tx = 11, .ty = 1};
    run_case("right marks off the image", blank300, &w, 1, 300, 2);
}

static void test_fit(void)
{
    /* An exact affine through 4 points comes back exactly. */
    const double X[4] = {10, 200, 10, 200}, Y[4] = {10, 10, 287, 287};
    const double t[6] = {11.8, 0.2, 30, -0.3, 11.7, -12};
    double x[4], y[4], xf[6], rms;
    for (int i = 0; i < 4; i++)
        omr_register_map(t, X[i], Y[i], &x[i], &y[i]);
    CHECK_INT(omr_register_fit(X, Y, x, y, 4, xf, &rms), 0);
    for (int i = 0; i < 6; i++)
        CHECK(fabs(xf[i] - t[i]) < 1e-6, "coefficient %d: %g vs %g", i, xf[i], t[i]);
    CHECK(rms < 1e-6);
    /* Collinear points are refused. */
    const double Xc[3] = {0, 1, 2}, Yc[3] = {0, 1, 2};
    CHECK_INT(omr_register_fit(Xc, Yc, x, y, 3, xf, NULL), -1);
}

int main(void)
{
    omr_quiet_libraries();
    omr_error_t err = {0};
    if (check_load_survey(&survey))
        return 1;
    form = omr_template_form(survey, "A");
    blank300 = omr_print_render_page(survey, form, 1, NULL, 300, &err);
    blank200 = omr_print_render_page(survey, form, 1, NULL, 200, &err);
    if (!blank300 || !blank200) {
        fprintf(stderr, "render: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_fit);
    RUN(test_straight_1bpp);
    RUN(test_skew_shift_scale_1bpp);
    RUN(test_limits_grey);
    RUN(test_upside_down_200);
    RUN(test_dpi_unknown);
    RUN(test_hidden_mark);
    RUN(test_decoys);
    RUN(test_blank_page_fails);
    RUN(test_two_marks);
    pixDestroy(&blank300);
    pixDestroy(&blank200);
    omr_template_free(survey);
    return check_report();
}
