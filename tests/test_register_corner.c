/* test_register_corner.c -- stage 3 (register.h) with L-shaped corner marks
 * (OMR_MARK_CORNER), on the queXF test form (templates/quexf-test).
 *
 * Real scans (tests/data/quexf, 300 dpi, 1 bit): every page registers with 4
 * marks, and the inside corners found agree with ones measured here by a
 * different and simpler method (ref_corners: Leptonica's connected
 * components for the L's bounding box, then the arms' inner edges read row
 * by row and column by column next to the corner, medians); a checkbox's
 * template centre lands inside its printed frame.
 *
 * Synthetic: the blank page rendered (omr_print_render_page draws the Ls
 * from the template), warped by a known affine (skew, shift, scale, 180°),
 * optionally thresholded to 1 bpp: the truth is the affine we applied. Then
 * a hidden L, decoys that are not Ls (a box frame where the L should be,
 * crossing rules, a frame beside the L) and a pen stroke across an arm.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "load.h"
#include "print.h"
#include "register.h"
#include "template.h"
#include "warp.h"

static omr_survey_t *survey;
static const omr_form_t *form;
static PIX *blank300; /* Q-01 rendered blank at 300 dpi, 8 bpp */

/* ------------------------------------------------------------ real scans */

static int black(PIX *p, int x, int y)
{
    l_uint32 v = 0;
    if (x < 0 || y < 0 || x >= (int)pixGetWidth(p) || y >= (int)pixGetHeight(p))
        return 0;
    pixGetPixel(p, x, y, &v);
    return pixGetDepth(p) == 1 ? v != 0 : v < 128;
}

static int cmp_double(const void *a, const void *b)
{
    double d = *(const double *)a - *(const double *)b;
    return (d > 0) - (d < 0);
}

/* One arm's inner edge next to the corner, the reference way: along lines
 * 12 to 40 px from the bounding box's outer corner (past the other arm,
 * which is ~6 px wide; close enough that a skew of 1° moves the edge by
 * less than 0.5 px from where it meets the other arm), walk from the box's
 * outer side inwards to the first black pixel, then on to the first white
 * one: the edge between them (continuous px). Returns the median, or NAN
 * when fewer than 20 lines cross the arm. vertical: the arm along y, walked
 * in x from o_across (the box's outer edge) in direction dir; o_along the
 * box's outer edge along the arm, lines going in direction along. */
static double ref_edge(PIX *p, int vertical, int o_across, int dir, int o_along, int along)
{
    double e[32];
    int n = 0;
    for (int j = 12; j <= 40; j++) {
        int line = o_along + along * j - (along < 0);
        int s = o_across - (dir < 0), k = 0;
        while (k < 15 && !(vertical ? black(p, s, line) : black(p, line, s)))
            s += dir, k++;
        if (k == 15)
            continue;
        while (k < 40 && (vertical ? black(p, s, line) : black(p, line, s)))
            s += dir, k++;
        if (k < 40)
            e[n++] = dir > 0 ? s : s + 1;
    }
    if (n < 20)
        return NAN;
    qsort(e, (size_t)n, sizeof *e, cmp_double);
    return e[n / 2];
}

/* The inside corners of the four Ls of a page image upright, TL TR BL BR,
 * measured without the code under test: the connected components whose
 * bounding box is 200..280 px a side (an L of 20 mm at 300 dpi is ~238 px;
 * nothing else on these pages is), one per quarter of the page; the inner
 * edges of its arms next to its outer corner (ref_edge). Returns the number
 * found (4 on every test page). */
static int ref_corners(PIX *p, double cx[4], double cy[4])
{
    int w = (int)pixGetWidth(p), h = (int)pixGetHeight(p), found = 0;
    for (int m = 0; m < 4; m++)
        cx[m] = cy[m] = NAN;
    BOXA *ba = pixConnComp(p, NULL, 8);
    for (int i = 0; ba && i < boxaGetCount(ba); i++) {
        l_int32 bx, by, bw, bh;
        boxaGetBoxGeometry(ba, i, &bx, &by, &bw, &bh);
        if (bw < 200 || bw > 280 || bh < 200 || bh > 280)
            continue;
        int right = bx + bw / 2 > w / 2, bottom = by + bh / 2 > h / 2, m = 2 * bottom + right;
        int ox = right ? bx + bw : bx, oy = bottom ? by + bh : by; /* outer corner, continuous */
        int hx = right ? -1 : 1, vy = bottom ? -1 : 1;             /* the arms' ways */
        cx[m] = ref_edge(p, 1, ox, hx, oy, vy);
        cy[m] = ref_edge(p, 0, oy, vy, ox, hx);
        found += isfinite(cx[m]) && isfinite(cy[m]);
    }
    boxaDestroy(&ba);
    return found;
}

/* The checkbox with template centre (X, Y) mm mapped through xf: its frame
 * (5 mm, ~59 px at 300 dpi, a ~1 px line) must be found within 8 px of where
 * a 5 mm box around the mapped centre puts each side (count the black pixels
 * of a band 17 px across the side, 21 px along it: a side gives ~15, paper
 * 0), and, on a blank page, white within 8 px of the centre. */
static void check_box(const char *name, PIX *p, const double *xf, double X, double Y, int blank)
{
    double cx, cy;
    omr_register_map(xf, X, Y, &cx, &cy);
    const double half = 2.5 * 300 / OMR_MM_PER_INCH;
    int side[4] = {0};
    for (int a = -8; a <= 8; a++)
        for (int b = -10; b <= 10; b++) {
            side[0] += black(p, (int)floor(cx - half + a), (int)floor(cy + b));
            side[1] += black(p, (int)floor(cx + half + a), (int)floor(cy + b));
            side[2] += black(p, (int)floor(cx + b), (int)floor(cy - half + a));
            side[3] += black(p, (int)floor(cx + b), (int)floor(cy + half + a));
        }
    for (int s = 0; s < 4; s++)
        CHECK(side[s] >= 8, "%s: box at %.1f,%.1f mm -> %.1f,%.1f px: side %d has %d black px",
              name, X, Y, cx, cy, s, side[s]);
    if (blank) {
        int inside = 0;
        for (int a = -8; a <= 8; a++)
            for (int b = -8; b <= 8; b++)
                inside += black(p, (int)floor(cx + a), (int)floor(cy + b));
        CHECK(inside == 0, "%s: %d black px in the middle of the blank box", name, inside);
    }
}

static double worst_real_px; /* for the report line */

static void real_page(const char *file, int page_index, int rotate)
{
    char path[256], name[64];
    snprintf(path, sizeof path, "tests/data/quexf/%s", file);
    snprintf(name, sizeof name, "%s%s", file, rotate ? " (180)" : "");
    PIX *up = load_first_page(path, NULL);
    CHECK(up != NULL, "%s: not loaded", path);
    if (!up)
        return;
    double rx[4], ry[4];
    CHECK_INT(ref_corners(up, rx, ry), 4);
    int w = (int)pixGetWidth(up), h = (int)pixGetHeight(up);
    PIX *p = rotate ? pixRotate180(NULL, up) : pixClone(up);
    const omr_page_t *pg = &form->pages[page_index];
    omr_register_t r;
    omr_error_t err = {0};
    omr_status_t st = omr_register_page(p, pg, rotate ? 180 : 0, 300, NULL, &r, &err);
    CHECK_INT(st, OMR_OK);
    if (st == OMR_OK) {
        CHECK_INT(r.n_marks, 4);
        CHECK(r.residual_mm < 1.0, "%s: residual %.3f mm", name, r.residual_mm);
        CHECK(fabs(r.skew_deg) < 2, "%s: skew %.2f", name, r.skew_deg);
        for (int m = 0; m < 4; m++) {
            /* upside down, the template's mark m is the upright scan's
             * mark m turned: at the image's opposite corner */
            double ex = rotate ? w - rx[m] : rx[m], ey = rotate ? h - ry[m] : ry[m];
            double e = hypot(r.mark_x[m] - ex, r.mark_y[m] - ey);
            CHECK(r.found[m] && e <= 3.0,
                  "%s: mark %d at %.2f,%.2f, measured %.2f,%.2f: %.2f px apart", name, m,
                  r.mark_x[m], r.mark_y[m], ex, ey, e);
            if (e > worst_real_px)
                worst_real_px = e;
        }
        /* A checkbox: Q-01 A1 row A col 1 (box=134.03,62.15,5,5), Q-02 C1
         * option 2 (check=166.96,51.73,5,5); blank on the blank form. */
        int blank = !strncmp(file, "blank", 5);
        if (page_index == 0)
            check_box(name, p, r.xform, 134.03 + 2.5, 62.15 + 2.5, blank);
        else
            check_box(name, p, r.xform, 166.96 + 2.5, 51.73 + 2.5, blank);
    } else {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    }
    pixDestroy(&p);
    pixDestroy(&up);
}

/* The reference measurement itself, against corners read off the pixels by
 * eye (dumps of the images as text): blank-page1's top-left L has its
 * vertical arm in columns 138..144 and its horizontal arm in rows 142..147,
 * so the inside corner is at (145, 148); form1-page1's top-left arms are in
 * columns 161..167 and rows 120..125: (168, 126); its bottom-right arms in
 * columns 2277..2282 and rows 3258..3263: (2277, 3258); blank-page1's
 * bottom-left in columns 189..194 and rows 3285..3290, the top row ragged
 * (3284 half black): (195, 3284.5). */
static void test_reference_method(void)
{
    const struct {
        const char *file;
        int m;
        double x, y;
    } eye[4] = {{"blank-page1.png", 0, 145, 148},
                {"form1-page1.png", 0, 168, 126},
                {"form1-page1.png", 3, 2277, 3258},
                {"blank-page1.png", 2, 195, 3284.5}};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/quexf/%s", eye[i].file);
        PIX *p = load_first_page(path, NULL);
        CHECK(p != NULL);
        if (!p)
            continue;
        double rx[4], ry[4];
        ref_corners(p, rx, ry);
        CHECK(hypot(rx[eye[i].m] - eye[i].x, ry[eye[i].m] - eye[i].y) <= 1.0,
              "%s mark %d: measured %.1f,%.1f, by eye %.1f,%.1f", eye[i].file, eye[i].m,
              rx[eye[i].m], ry[eye[i].m], eye[i].x, eye[i].y);
        pixDestroy(&p);
    }
}

static void test_real_scans(void)
{
    static const char *const files[4] = {"blank", "form1", "form2", "form3"};
    for (int f = 0; f < 4; f++)
        for (int pg = 0; pg < 2; pg++) {
            char file[64];
            snprintf(file, sizeof file, "%s-page%d.png", files[f], pg + 1);
            real_page(file, pg, 0);
        }
    printf("     real scans: worst inside corner %.2f px from the reference\n", worst_real_px);
}

static void test_real_upside_down(void)
{
    real_page("blank-page1.png", 0, 1);
    real_page("form2-page2.png", 1, 1);
}

/* ------------------------------------------------------------ synthetic */

/* Fill a rectangle (mm, on a copy of the 8-bpp render) black or white. */
static void fill_mm(PIX *p, double x, double y, double w, double h, int black_ink)
{
    double k = pixGetXRes(p) / OMR_MM_PER_INCH;
    BOX *b = boxCreate((int)lround(x * k), (int)lround(y * k), (int)lround(w * k),
                       (int)lround(h * k));
    pixSetInRectArbitrary(p, b, black_ink ? 0 : 255);
    boxDestroy(&b);
}

/* A box frame (mm) of line width t. */
static void frame_mm(PIX *p, double x, double y, double w, double h, double t)
{
    fill_mm(p, x, y, w, t, 1);
    fill_mm(p, x, y + h - t, w, t, 1);
    fill_mm(p, x, y, t, h, 1);
    fill_mm(p, x + w - t, y, t, h, 1);
}

/* Hide L m of the page (white over its bounding rectangle and 1 mm more). */
static void hide_mark(PIX *p, const omr_page_t *pg, int m)
{
    omr_rect_t r = omr_template_mark_rect(pg, pg->mark_x[m], pg->mark_y[m]);
    fill_mm(p, r.x - 1, r.y - 1, r.w + 2, r.h + 2, 0);
}

/* Register the warped page; the marks found and every region centre mapped
 * must be within tol_px of where the warp put them. */
static void run_case(const char *name, PIX *blank, const warp_t *w, int bitonal, int expect_marks,
                     int expect_missing, double tol_px)
{
    const omr_page_t *pg = &form->pages[0];
    PIX *scan = make_scan(blank, pg, w, bitonal);
    CHECK(scan != NULL, "%s: warp failed", name);
    if (!scan)
        return;
    omr_register_t r;
    omr_error_t err = {0};
    const double dpi = pixGetXRes(blank), k = dpi / OMR_MM_PER_INCH;
    omr_status_t st = omr_register_page(scan, pg, w->flip ? 180 : 0, dpi, NULL, &r, &err);
    CHECK_INT(st, OMR_OK);
    if (st == OMR_OK) {
        CHECK(r.n_marks == expect_marks, "%s: %d marks (found %d%d%d%d)", name, r.n_marks,
              r.found[0], r.found[1], r.found[2], r.found[3]);
        if (expect_missing >= 0)
            CHECK(!r.found[expect_missing], "%s: mark %d taken", name, expect_missing);
        int m;
        double e = warp_mark_error_px(w, pg, k, &r, &m);
        CHECK(e <= tol_px, "%s: mark %d at %.2f,%.2f, %.2f px from where the warp put it", name, m,
              m >= 0 ? r.mark_x[m] : 0, m >= 0 ? r.mark_y[m] : 0, e);
        double worst = warp_region_error_px(w, pg, k, r.xform);
        CHECK(worst <= tol_px, "%s: a region centre off by %.2f px", name, worst);
        CHECK(fabs(r.skew_deg - w->skew) < 0.1, "%s: skew %.3f, want %.3f", name, r.skew_deg,
              w->skew);
        if (!bitonal)
            CHECK(r.mark_grey < 100, "%s: the marks' grey %.0f", name, r.mark_grey);
    } else {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    }
    pixDestroy(&scan);
}

static void test_synthetic(void)
{
    warp_t w = {.skew = 0, .sx = 1, .sy = 1};
    run_case("straight", blank300, &w, 1, 4, -1, 1.0);
    /* Upside down, 2° skew, shifted, scaled: the brief's case. */
    w = (warp_t){.skew = 2.0, .sx = 1.01, .sy = 0.995, .tx = 4, .ty = -3, .flip = 1, .border = 8};
    run_case("180 skew 2", blank300, &w, 1, 4, -1, 1.0);
    run_case("180 skew 2 grey", blank300, &w, 0, 4, -1, 1.0);
    /* The tolerance limits: 5° skew, 10 mm shift, 3 % scale at once. */
    w = (warp_t){.skew = -5.0, .sx = 0.97, .sy = 0.975, .tx = -8, .ty = 6, .border = 12};
    run_case("limits", blank300, &w, 1, 4, -1, 1.0);
    w = (warp_t){.skew = 5.0, .sx = 1.03, .sy = 1.025, .tx = 2, .ty = -4, .flip = 1, .border = 13};
    run_case("limits 180 grey", blank300, &w, 0, 4, -1, 1.0);
    /* 200 dpi: arms ~157 px long, ~3 px wide. */
    omr_error_t err = {0};
    PIX *blank200 = omr_print_render_page(survey, form, 0, NULL, 200, &err);
    CHECK(blank200 != NULL, "render: %s", err.msg);
    if (blank200) {
        w = (warp_t){.skew = -2.5, .sx = 0.99, .sy = 1, .tx = -3, .ty = 5, .flip = 1, .border = 6};
        run_case("200 dpi 180", blank200, &w, 1, 4, -1, 1.0);
        run_case("200 dpi 180 grey", blank200, &w, 0, 4, -1, 1.0);
        pixDestroy(&blank200);
    }
}

static void test_hidden_mark(void)
{
    const omr_page_t *pg = &form->pages[0];
    for (int m = 0; m < 4; m++) {
        PIX *p = pixCopy(NULL, blank300);
        hide_mark(p, pg, m);
        warp_t w = {.skew = 1.2, .sx = 1.005, .sy = 0.995, .tx = 2, .ty = -3, .flip = m & 1,
                    .border = 5};
        char name[48];
        snprintf(name, sizeof name, "mark %d hidden", m);
        run_case(name, p, &w, 1, 3, m, 1.5);
        pixDestroy(&p);
    }
}

/* Things near a corner that are not an L must not be taken for one. */
static void test_not_an_l(void)
{
    const omr_page_t *pg = &form->pages[0];
    const double t = pg->mark_line;
    warp_t w = {.skew = -1.5, .sx = 1, .sy = 1, .tx = 1, .ty = 2, .border = 4};
    omr_rect_t tl = omr_template_mark_rect(pg, pg->mark_x[0], pg->mark_y[0]);
    omr_rect_t tr = omr_template_mark_rect(pg, pg->mark_x[1], pg->mark_y[1]);
    omr_rect_t br = omr_template_mark_rect(pg, pg->mark_x[3], pg->mark_y[3]);

    /* A box frame of the L's size where the L was: two arms of the right
     * length meeting at the right corner, but running into the frame's
     * other sides. */
    PIX *p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 0);
    frame_mm(p, tl.x, tl.y, tl.w, tl.h, t);
    run_case("frame of the L's size", p, &w, 1, 3, 0, 1.5);
    pixDestroy(&p);

    /* Ls with free arms too long (rules along a box's corner) or too short
     * there: beyond 1.35 and under 0.6 of the arm's length. */
    p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 0);
    fill_mm(p, tl.x, tl.y, 32, t, 1);
    fill_mm(p, tl.x, tl.y, t, 30, 1);
    run_case("L of 1.5 arms", p, &w, 1, 3, 0, 1.5);
    pixDestroy(&p);
    p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 0);
    fill_mm(p, tl.x, tl.y, 11.5, t, 1);
    fill_mm(p, tl.x, tl.y, t, 11, 1);
    run_case("L of 0.55 arms", p, &w, 1, 3, 0, 1.5);
    pixDestroy(&p);

    /* A hairline L (0.1 mm: thinner than the arms by far), an L whose arms
     * are 6° off square (each within the skew allowed). */
    p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 0);
    fill_mm(p, tl.x, tl.y, tl.w, 0.1, 1);
    fill_mm(p, tl.x, tl.y, 0.1, tl.h, 1);
    run_case("hairline L", p, &w, 1, 3, 0, 1.5);
    pixDestroy(&p);
    p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 0);
    {
        const double k = 300 / OMR_MM_PER_INCH, a = 3 * M_PI / 180, len = tl.w * k;
        const double ox = tl.x * k, oy = tl.y * k, lw = t * k;
        pixRenderLineArb(p, (int)(ox + lw / 2), (int)oy, (int)(ox + lw / 2 - sin(a) * len),
                         (int)(oy + cos(a) * len), (int)lround(lw), 0, 0, 0);
        pixRenderLineArb(p, (int)ox, (int)(oy + lw / 2), (int)(ox + cos(a) * len),
                         (int)(oy + lw / 2 - sin(a) * len), (int)lround(lw), 0, 0, 0);
    }
    run_case("L not square", p, &w, 1, 3, 0, 1.5);
    pixDestroy(&p);

    /* Rules crossing where the top-right L's arms would be: a + with arms
     * of the right length on the inside, and more beyond the corner. */
    p = pixCopy(NULL, blank300);
    hide_mark(p, pg, 1);
    fill_mm(p, tr.x, tr.y, tr.w + 6, t, 1);
    fill_mm(p, tr.x + tr.w - t, tr.y - 6, t, tr.h + 6, 1);
    run_case("crossing rules", p, &w, 1, 3, 1, 1.5);
    pixDestroy(&p);

    /* A T: the bottom-right L's horizontal arm carried on past its corner. */
    p = pixCopy(NULL, blank300);
    fill_mm(p, br.x, br.y + br.h - t, br.w + 5, t, 1);
    run_case("T at a corner", p, &w, 0, 3, 3, 1.5);
    pixDestroy(&p);

    /* The L there, and a frame of the L's size just inside it, with text
     * (a row of short strokes) along the L's arm: the L is taken. */
    p = pixCopy(NULL, blank300);
    frame_mm(p, tl.x + 1.5, tl.y + 1.5, 20, 20, t);
    for (int i = 0; i < 12; i++)
        fill_mm(p, tl.x + 2 + 1.5 * i, tl.y - 4, 0.3, 2.5, 1);
    run_case("frame beside the L", p, &w, 1, 4, -1, 1.0);
    pixDestroy(&p);
}

/* A pen stroke (1 mm) across the middle of an arm: the arm's two pieces
 * make one stroke. */
static void test_crossed_arm(void)
{
    const omr_page_t *pg = &form->pages[0];
    omr_rect_t bl = omr_template_mark_rect(pg, pg->mark_x[2], pg->mark_y[2]);
    PIX *p = pixCopy(NULL, blank300);
    fill_mm(p, bl.x - 3, bl.y + 8, 8, 1.0, 1);
    fill_mm(p, bl.x + 11, bl.y + bl.h - 4, 1.2, 6, 1);
    warp_t w = {.skew = 0.8, .sx = 1, .sy = 1, .tx = -2, .ty = 1, .border = 3};
    run_case("pen across both arms", p, &w, 1, 4, -1, 1.0);
    pixDestroy(&p);
}

int main(void)
{
    omr_quiet_libraries();
    omr_error_t err = {0};
    if (omr_template_load("templates/quexf-test", &survey, &err) != OMR_OK) {
        fprintf(stderr, "templates/quexf-test: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    form = omr_template_form(survey, "Q");
    if (form)
        blank300 = omr_print_render_page(survey, form, 0, NULL, 300, &err);
    if (!form || !blank300 || form->pages[0].mark_shape != OMR_MARK_CORNER) {
        fprintf(stderr, "quexf-test: no form Q with corner marks, or render: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_reference_method);
    RUN(test_real_scans);
    RUN(test_real_upside_down);
    RUN(test_synthetic);
    RUN(test_hidden_mark);
    RUN(test_not_an_l);
    RUN(test_crossed_arm);
    pixDestroy(&blank300);
    omr_template_free(survey);
    return check_report();
}
