/* test_register_ring.c -- stage 3 (register.h) with bullseye corner marks
 * (OMR_MARK_RING).
 *
 * Synthetic: a page with four bullseyes (a template written here), rendered
 * blank by omr's printer (which draws the bullseyes from the template) at
 * 100 to 600 dpi, warped by a known affine (warp.h: skew, shift, scale,
 * 180°), grey or thresholded to 1 bpp, some blurred with grey ink and noise
 * like a cheap scan: the truth is the affine we applied. Every mark found
 * must be within 0.3 px of where the warp put its centre (about twice the
 * worst measured), every region centre mapped within 0.6 px. Then
 * decoys where a bullseye should be, or beside it: a filled disc and a
 * square of its size, a circle outline, a circle round a dot, a bullseye of
 * half the size, rings round a hole, a target of thin rings; none may be
 * taken for the mark.
 *
 * Real: OMRChecker's sample scans (UmarFarootAPS: JPEG, colour, no dpi in
 * the files, ~100 and ~120 dpi), with pages whose marks sit where they were
 * measured on the scans (REAL1, REAL2: not by the code under test): all
 * four found within 1 px of those centres.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "load.h"
#include "print.h"
#include "register.h"
#include "template.h"
#include "warp.h"

#define SCANS "../shared/data/external/omrchecker-samples/UmarFarootAPS/scans/"

/* Marker centres on the real scans, px (continuous: pixel i spans [i, i+1)),
 * TL TR BL BR. Measured with a throwaway program: along 180 rays from a
 * guess, the sub-pixel crossings (bilinear grey) of the level halfway
 * between the local paper and the darkest ink, for the first four edges met
 * coming in from outside (both edges of the outer ring, both of the middle
 * one); a least-squares circle through each edge's 180 points, the mean of
 * the four circles' centres, iterated. The four centres of one mark agree to
 * 0.1 px. Outer diameters: 23.4 px (scan-type-1), 28.3 px (scan-type-2). */
static const double REAL1[4][2] = {{83.57, 31.67}, {786.37, 27.60}, {87.93, 1032.81}, {790.68, 1029.34}};
static const double REAL2[4][2] = {{91.71, 125.18}, {906.56, 128.48}, {85.07, 1306.13}, {899.42, 1310.85}};

static char dir[256];
static omr_survey_t *survey;

static void write_file(const char *name, const char *text) { check_write_file(dir, name, text); }

/* Form R: an A4 page with 6 mm bullseyes 12 mm in from the edges, a
 * heading, a single choice and a grid. Form S: a small page (90x120 mm) for
 * 600 dpi. Forms T and U: the real scans' pages, their marks at REAL1 and
 * REAL2 at 100 and 120 dpi (x mm = x px * 25.4 / dpi), 5.9 mm across. */
static const char *SURVEY = "survey id=ring code=RING title=\"bullseye marks\"\n"
                            "form R\npage form=R number=1 file=R-01.page\n"
                            "form S\npage form=S number=1 file=S-01.page\n"
                            "form T\npage form=T number=1 file=T-01.page\n"
                            "form U\npage form=U number=1 file=U-01.page\n";

static const char *PAGE_R =
    "page survey=ring form=R number=1 size=210x297\n"
    "mark at=12,12 shape=ring size=6\nmark at=198,12 shape=ring size=6\n"
    "mark at=12,285 shape=ring size=6\nmark at=198,285 shape=ring size=6\n"
    "barcode box=60,276,90,12\n"
    "text box=25,20,160,8 size=12 bold \"A page with bullseye marks\"\n"
    "question Q1 kind=single label=\"Q1\"\n"
    "  prompt box=20,35,170,6 \"pick one\"\n"
    "  option 1 num=25,48 label=30,45,50,6 \"one\"\n"
    "  option 2 num=25,58 label=30,55,50,6 \"two\"\n"
    "question Q2 kind=grid1 label=\"Q2\"\n"
    "  prompt box=20,150,170,6 \"grid\"\n"
    "  col 1 label=100,160,20,8 \"yes\"\n  col 2 label=120,160,20,8 \"no\"\n"
    "  row a label=20,170,80,8 \"row a\"\n  row b label=20,180,80,8 \"row b\"\n"
    "  cell row=a col=1 box=108,171,5,5\n  cell row=a col=2 box=128,171,5,5\n"
    "  cell row=b col=1 box=108,181,5,5\n  cell row=b col=2 box=128,181,5,5\n";

static const char *PAGE_S = "page survey=ring form=S number=1 size=90x120\n"
                            "mark at=8,8 shape=ring size=5\nmark at=82,8 shape=ring size=5\n"
                            "mark at=8,112 shape=ring size=5\nmark at=82,112 shape=ring size=5\n"
                            "barcode box=20,106,50,10\n"
                            "question Q1 kind=single label=\"Q1\"\n"
                            "  prompt box=15,20,60,6 \"pick one\"\n"
                            "  option 1 num=20,40 \"one\"\n"
                            "  option 2 num=20,60 \"two\"\n";

/* A real page: size, marks from px at dpi, a barcode and one question
 * where nothing is printed (registration looks at neither). */
static void write_real_page(const char *file, const char *form, double w, double h,
                            const double px[4][2], double dpi)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "page survey=ring form=%s number=1 size=%.2fx%.2f\n", form, w, h);
    for (int m = 0; m < 4; m++)
        n += snprintf(text + n, sizeof text - (size_t)n, "mark at=%.3f,%.3f shape=ring size=5.9\n",
                      px[m][0] * OMR_MM_PER_INCH / dpi, px[m][1] * OMR_MM_PER_INCH / dpi);
    snprintf(text + n, sizeof text - (size_t)n,
             "barcode box=80,%.0f,50,6\n"
             "question Q1 kind=single label=\"Q1\"\n"
             "  prompt box=60,88,80,6 \"pick one\"\n"
             "  option 1 num=100,100 \"one\"\n"
             "  option 2 num=100,110 \"two\"\n",
             h - 30);
    write_file(file, text);
}

static int load_survey(void)
{
    snprintf(dir, sizeof dir, "/tmp/omr-test-ring-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    write_file("survey.omr", SURVEY);
    write_file("R-01.page", PAGE_R);
    write_file("S-01.page", PAGE_S);
    write_real_page("T-01.page", "T", 216, 273, REAL1, 100);
    write_real_page("U-01.page", "U", 1000 * OMR_MM_PER_INCH / 120, 1451 * OMR_MM_PER_INCH / 120, REAL2, 120);
    omr_error_t err = {0};
    omr_status_t st = omr_template_load(dir, &survey, &err);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (st != OMR_OK) {
        fprintf(stderr, "ring template: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static const omr_page_t *page_of(const char *form_id)
{
    const omr_form_t *f = omr_template_form(survey, form_id);
    return f ? &f->pages[0] : NULL;
}

static PIX *render(const char *form_id, double dpi)
{
    omr_error_t err = {0};
    PIX *p = omr_print_render_page(survey, omr_template_form(survey, form_id), 0, NULL, dpi, &err);
    if (!p)
        fprintf(stderr, "render %s at %.0f dpi: %s\n", form_id, dpi, err.msg);
    return p;
}

/* ------------------------------------------------------------ drawing */

/* Paint the pixels of an 8-bpp page whose centres lie between radii r0 and
 * r1 (mm) of (X, Y) mm with grey v. */
static void paint_annulus(PIX *p, double X, double Y, double r0, double r1, int v)
{
    const double k = pixGetXRes(p) / OMR_MM_PER_INCH, cx = X * k, cy = Y * k;
    const int w = (int)pixGetWidth(p), h = (int)pixGetHeight(p);
    for (int y = (int)floor(cy - r1 * k) - 1; y <= (int)ceil(cy + r1 * k) + 1; y++)
        for (int x = (int)floor(cx - r1 * k) - 1; x <= (int)ceil(cx + r1 * k) + 1; x++) {
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy) / k;
            if (x >= 0 && y >= 0 && x < w && y < h && d >= r0 && d <= r1)
                pixSetPixel(p, x, y, (l_uint32)v);
        }
}

/* A rectangle (mm: top left, width, height), grey v; at least a pixel
 * each way. */
static void paint_rect(PIX *p, double x, double y, double w, double h, int v)
{
    const double k = pixGetXRes(p) / OMR_MM_PER_INCH;
    int pw = (int)lround(w * k), ph = (int)lround(h * k);
    BOX *b = boxCreate((int)lround(x * k), (int)lround(y * k), pw > 1 ? pw : 1, ph > 1 ? ph : 1);
    pixSetInRectArbitrary(p, b, (l_uint32)v);
    boxDestroy(&b);
}

/* A square of side s (mm) centred at (X, Y), grey v. */
static void paint_square(PIX *p, double X, double Y, double s, int v)
{
    paint_rect(p, X - s / 2, Y - s / 2, s, s, v);
}

/* White over bullseye m of the page and 1 mm around it. */
static void hide_mark(PIX *p, const omr_page_t *pg, int m)
{
    paint_square(p, pg->mark_x[m], pg->mark_y[m], pg->mark_size + 2, 255);
}

/* A cheap scan of an 8-bpp image (a new one): a 3x3 blur, ink at grey 60
 * on paper at 245, and uniform noise of +-15 (a fixed sequence). */
static PIX *degrade(PIX *p)
{
    PIX *b = pixBlockconvGray(p, NULL, 1, 1);
    if (!b)
        return NULL;
    pixCopyResolution(b, p);
    const int w = (int)pixGetWidth(b), h = (int)pixGetHeight(b), wpl = pixGetWpl(b);
    l_uint32 *data = pixGetData(b);
    unsigned s = 12345;
    for (int y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < w; x++) {
            s = s * 1103515245u + 12345u;
            int noise = (int)((s >> 16) % 31) - 15;
            int v = 60 + GET_DATA_BYTE(line, x) * (245 - 60) / 255 + noise;
            SET_DATA_BYTE(line, x, v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return b;
}

/* ---------------------------------------------------------- synthetic */

enum { GREY = 0, BITONAL = 1, CHEAP = 2 }; /* CHEAP: degrade() after the warp; with BITONAL, then thresholded */

static double worst_px[2][5]; /* grey, 1 bpp; per resolution: 100, 150, 200, 300, 600 dpi */

static int dpi_slot(double dpi)
{
    return dpi < 125 ? 0 : dpi < 175 ? 1 : dpi < 250 ? 2 : dpi < 450 ? 3 : 4;
}

/* Register the warped page pg (rendered as blank); the marks found and
 * every region centre mapped must be within tol_px of where the warp put
 * them; expect_marks found, expect_missing (-1: none) not. */
static void run_case(const char *name, PIX *blank, const omr_page_t *pg, const warp_t *w, int how,
                     int expect_marks, int expect_missing, double tol_px)
{
    PIX *scan = make_scan(blank, pg, w, 0);
    if (scan && (how & CHEAP)) {
        PIX *d = degrade(scan);
        pixDestroy(&scan);
        scan = d;
    }
    if (scan && (how & BITONAL)) {
        PIX *b = pixThresholdToBinary(scan, how & CHEAP ? 150 : 128);
        pixCopyResolution(b, scan);
        pixDestroy(&scan);
        scan = b;
    }
    CHECK(scan != NULL, "%s: warp failed", name);
    if (!scan)
        return;
    omr_register_t r;
    omr_error_t err = {0};
    const double dpi = pixGetXRes(blank), k = dpi / OMR_MM_PER_INCH;
    omr_status_t st = omr_register_page(scan, pg, w->flip ? 180 : 0, dpi, NULL, &r, &err);
    CHECK(st == OMR_OK, "%s: %s", name, err.msg);
    if (st == OMR_OK) {
        CHECK(r.n_marks == expect_marks, "%s: %d marks (found %d%d%d%d)", name, r.n_marks, r.found[0],
              r.found[1], r.found[2], r.found[3]);
        if (expect_missing >= 0)
            CHECK(!r.found[expect_missing], "%s: mark %d taken at %.1f,%.1f", name, expect_missing,
                  r.mark_x[expect_missing], r.mark_y[expect_missing]);
        int m;
        double e = warp_mark_error_px(w, pg, k, &r, &m);
        CHECK(e <= tol_px, "%s: mark %d at %.2f,%.2f, %.2f px from where the warp put it", name, m,
              m >= 0 ? r.mark_x[m] : 0, m >= 0 ? r.mark_y[m] : 0, e);
        double *worst_mark = &worst_px[how & BITONAL ? 1 : 0][dpi_slot(dpi)];
        if (e > *worst_mark)
            *worst_mark = e;
        double worst = warp_region_error_px(w, pg, k, r.xform);
        CHECK(worst <= 2 * tol_px, "%s: a region centre off by %.2f px", name, worst);
        CHECK(fabs(r.skew_deg - w->skew) < 0.15, "%s: skew %.3f, want %.3f", name, r.skew_deg, w->skew);
        if (!(how & BITONAL))
            CHECK(r.mark_grey < (how & CHEAP ? 130 : 100), "%s: the marks' grey %.0f", name, r.mark_grey);
    }
    pixDestroy(&scan);
}

/* The warps of every resolution: straight; upside down, 2° skew, shifted,
 * scaled; the tolerance limits (5° skew, 8-10 mm shift, 3 % scale) both
 * ways up. */
static const warp_t WARPS[4] = {
    {.skew = 0, .sx = 1, .sy = 1},
    {.skew = 2.0, .sx = 1.01, .sy = 0.995, .tx = 4, .ty = -3, .flip = 1, .border = 8},
    {.skew = -5.0, .sx = 0.97, .sy = 0.975, .tx = -8, .ty = 6, .border = 12},
    {.skew = 4.6, .sx = 1.03, .sy = 1.025, .tx = 2, .ty = -4, .flip = 1, .border = 13},
};

static void synthetic_at(double dpi)
{
    PIX *blank = render("R", dpi);
    CHECK(blank != NULL);
    if (!blank)
        return;
    const omr_page_t *pg = page_of("R");
    static const char *const how_name[4] = {"grey", "1 bpp", "cheap grey", "cheap 1 bpp"};
    for (int i = 0; i < 4; i++)
        for (int how = 0; how < 4; how++) {
            if ((how & CHEAP) && (i & 1)) /* the cheap scan on two warps */
                continue;
            char name[96];
            snprintf(name, sizeof name, "%.0f dpi warp %d %s", dpi, i, how_name[how]);
            run_case(name, blank, pg, &WARPS[i], how, 4, -1, 0.3);
        }
    pixDestroy(&blank);
}

static void test_100dpi(void) { synthetic_at(100); }
static void test_150dpi(void) { synthetic_at(150); }
static void test_200dpi(void) { synthetic_at(200); }
static void test_300dpi(void) { synthetic_at(300); }

/* 600 dpi, on the small page (an A4 page at 600 dpi is 35 MB a copy). */
static void test_600dpi(void)
{
    PIX *blank = render("S", 600);
    CHECK(blank != NULL);
    if (!blank)
        return;
    const omr_page_t *pg = page_of("S");
    warp_t w = {.skew = -3.0, .sx = 1.01, .sy = 1.0, .tx = 3, .ty = 2, .border = 6};
    run_case("600 dpi grey", blank, pg, &w, GREY, 4, -1, 0.3);
    run_case("600 dpi 1 bpp", blank, pg, &w, BITONAL, 4, -1, 0.3);
    w = (warp_t){.skew = 1.5, .sx = 0.98, .sy = 0.985, .tx = -2, .ty = 4, .flip = 1, .border = 6};
    run_case("600 dpi 180 1 bpp", blank, pg, &w, BITONAL, 4, -1, 0.3);
    run_case("600 dpi 180 cheap grey", blank, pg, &w, CHEAP, 4, -1, 0.3);
    pixDestroy(&blank);
    for (int b = 0; b < 2; b++)
        printf("     worst mark centre, %s (px): 100 dpi %.2f, 150 dpi %.2f, 200 dpi %.2f, 300 dpi %.2f, "
               "600 dpi %.2f\n",
               b ? "1 bpp" : "grey", worst_px[b][0], worst_px[b][1], worst_px[b][2], worst_px[b][3],
               worst_px[b][4]);
}

/* One bullseye hidden: the page registers on the other three. */
static void test_hidden_mark(void)
{
    const omr_page_t *pg = page_of("R");
    PIX *blank = render("R", 150);
    if (!blank)
        return;
    for (int m = 0; m < 4; m++) {
        PIX *p = pixCopy(NULL, blank);
        hide_mark(p, pg, m);
        warp_t w = {.skew = 1.2, .sx = 1.005, .sy = 0.995, .tx = 2, .ty = -3, .flip = m & 1, .border = 5};
        char name[48];
        snprintf(name, sizeof name, "mark %d hidden", m);
        run_case(name, p, pg, &w, m & 2 ? GREY : BITONAL, 3, m, 0.75);
        pixDestroy(&p);
    }
    pixDestroy(&blank);
}

/* Things where a bullseye should be that are not one; each replaces mark m
 * (centre X, Y mm, outer radius R mm). */
static void decoy(PIX *p, int kind, double X, double Y, double R)
{
    switch (kind) {
    case 0: /* a filled disc of the bullseye's size */
        paint_annulus(p, X, Y, 0, R, 0);
        break;
    case 1: /* a solid square of its size */
        paint_square(p, X, Y, 2 * R, 0);
        break;
    case 2: /* a printed circle outline (0.5 mm), its size */
        paint_annulus(p, X, Y, R - 0.5, R, 0);
        break;
    case 3: /* a circle round a dot: a bubble with its middle filled */
        paint_annulus(p, X, Y, R - 0.5, R, 0);
        paint_annulus(p, X, Y, 0, 0.35 * R, 0);
        break;
    case 4: /* a bullseye of half the size */
        paint_annulus(p, X, Y, 0, 0.191 * R / 2, 0);
        paint_annulus(p, X, Y, 0.380 * R / 2, 0.586 * R / 2, 0);
        paint_annulus(p, X, Y, 0.794 * R / 2, R / 2, 0);
        break;
    case 5: /* thick rings round a hole: the bands the other way round */
        paint_annulus(p, X, Y, 0.191 * R, 0.380 * R, 0);
        paint_annulus(p, X, Y, 0.586 * R, 0.794 * R, 0);
        break;
    case 6: /* a target: a dot and two thin circles (0.2 mm), black, white,
               black, white, black out from the middle as a bullseye, but
               its edges 0.14 radii from where a bullseye's are */
        paint_annulus(p, X, Y, 0, 0.1 * R, 0);
        paint_annulus(p, X, Y, 0.46 * R, 0.54 * R, 0);
        paint_annulus(p, X, Y, 0.93 * R, R, 0);
        break;
    }
}

static const char *const decoy_name[7] = {"filled disc",        "square",
                                          "circle",             "circle round a dot",
                                          "half-size bullseye", "rings round a hole",
                                          "target of thin rings"};

/* A decoy in place of a hidden bullseye is not taken: three marks. */
static void test_decoy_instead(void)
{
    const omr_page_t *pg = page_of("R");
    static const double dpis[2] = {100, 200};
    for (int d = 0; d < 2; d++) {
        PIX *blank = render("R", dpis[d]);
        if (!blank)
            continue;
        for (int kind = 0; kind < 6; kind++) {
            int m = kind % 4;
            PIX *p = pixCopy(NULL, blank);
            hide_mark(p, pg, m);
            decoy(p, kind, pg->mark_x[m], pg->mark_y[m], pg->mark_size / 2);
            warp_t w = {.skew = -1.5, .sx = 1, .sy = 1, .tx = 1, .ty = 2, .flip = kind & 1, .border = 4};
            for (int how = 0; how < 3; how++) {
                char name[96];
                snprintf(name, sizeof name, "%s instead of mark %d, %.0f dpi %s", decoy_name[kind], m, dpis[d],
                         how == GREY ? "grey" : how == BITONAL ? "1 bpp" : "cheap grey");
                run_case(name, p, pg, &w, how, 3, m, 0.75);
            }
            pixDestroy(&p);
        }
        pixDestroy(&blank);
    }
}

/* The thin-ringed target in place of a hidden bullseye, at 200 and 300
 * dpi (at 100 dpi a pixel is 0.08 radii: the bands' places are not told
 * apart from a bullseye's so finely). */
static void test_decoy_target(void)
{
    const omr_page_t *pg = page_of("R");
    static const double dpis[2] = {200, 300};
    for (int d = 0; d < 2; d++) {
        PIX *blank = render("R", dpis[d]);
        if (!blank)
            continue;
        for (int m = 0; m < 4; m += 3) {
            PIX *p = pixCopy(NULL, blank);
            hide_mark(p, pg, m);
            decoy(p, 6, pg->mark_x[m], pg->mark_y[m], pg->mark_size / 2);
            warp_t w = {.skew = 0.7, .sx = 1.005, .sy = 1, .tx = -1, .ty = 1, .flip = m == 3, .border = 3};
            for (int how = 0; how < 2; how++) {
                char name[96];
                snprintf(name, sizeof name, "%s instead of mark %d, %.0f dpi %s", decoy_name[6], m, dpis[d],
                         how == GREY ? "grey" : "1 bpp");
                run_case(name, p, pg, &w, how, 3, m, 0.75);
            }
            pixDestroy(&p);
        }
        pixDestroy(&blank);
    }
}

/* Decoys beside every bullseye (8 mm further in, where a shifted sheet
 * might put the mark): the bullseyes are taken, to 0.3 px. */
static void test_decoy_beside(void)
{
    const omr_page_t *pg = page_of("R");
    static const double dpis[2] = {100, 300};
    for (int d = 0; d < 2; d++) {
        PIX *blank = render("R", dpis[d]);
        if (!blank)
            continue;
        for (int set = 0; set < 2; set++) {
            PIX *p = pixCopy(NULL, blank);
            for (int m = 0; m < 4; m++) {
                double in_x = pg->mark_x[m] < pg->width / 2 ? 8 : -8;
                double in_y = pg->mark_y[m] < pg->height / 2 ? 8 : -8;
                int kind = (m + 3 * set) % 6;
                /* the dot in the middle and the rings both ways, across and down */
                decoy(p, kind, pg->mark_x[m] + in_x, pg->mark_y[m], pg->mark_size / 2);
                decoy(p, (kind + 2) % 6, pg->mark_x[m], pg->mark_y[m] + in_y, pg->mark_size / 2);
            }
            warp_t w = {.skew = 2.5, .sx = 1.01, .sy = 1.005, .tx = -3, .ty = 2, .flip = set, .border = 5};
            for (int how = 0; how < 3; how++) {
                char name[96];
                snprintf(name, sizeof name, "decoys beside, set %d, %.0f dpi %s", set, dpis[d],
                         how == GREY ? "grey" : how == BITONAL ? "1 bpp" : "cheap grey");
                run_case(name, p, pg, &w, how, 4, -1, 0.3);
            }
            pixDestroy(&p);
        }
        pixDestroy(&blank);
    }
}

/* Other ink touching or crossing the bullseyes: a rule (0.3 mm) touching
 * the top-left's outer ring from below, one across the bottom-right's outer
 * ring (the ring is then no piece of its own: the middle ring seeds it),
 * specks (0.2 mm) round the top-right, a pen stroke (0.8 mm) over the
 * bottom-left's outer ring. Every mark is still found to 0.3 px: the centre
 * comes from the rings' mirrored edges on lines the ink leaves alone. */
static void test_touched(void)
{
    const omr_page_t *pg = page_of("R");
    static const double dpis[2] = {100, 200};
    for (int d = 0; d < 2; d++) {
        PIX *p = render("R", dpis[d]);
        if (!p)
            continue;
        const double R = pg->mark_size / 2;
        const double *mx = pg->mark_x, *my = pg->mark_y;
        paint_rect(p, mx[0] - 15, my[0] + R, 30, 0.3, 0);
        paint_rect(p, mx[3] + 0.9 * R - 0.15, my[3] - 12, 0.3, 24, 0);
        for (int i = 0; i < 8; i++) {
            double a = 2 * M_PI * i / 8 + 0.3;
            paint_square(p, mx[1] + 1.25 * R * cos(a), my[1] + 1.25 * R * sin(a), 0.2, 0);
        }
        for (int i = 0; i < 40; i++) /* a stroke along the lower left of the outer ring */
            paint_annulus(p, mx[2] - 0.9 * R * cos(i * 0.02), my[2] + 0.9 * R * sin(i * 0.02) - 0.4 * R, 0,
                          0.4, 0);
        warp_t w = {.skew = -1.0, .sx = 1.0, .sy = 1.01, .tx = 2, .ty = 1, .flip = d, .border = 4};
        for (int how = 0; how < 3; how++) {
            char name[96];
            snprintf(name, sizeof name, "ink touching the marks, %.0f dpi %s", dpis[d],
                     how == GREY ? "grey" : how == BITONAL ? "1 bpp" : "cheap grey");
            run_case(name, p, pg, &w, how, 4, -1, 0.3);
        }
        pixDestroy(&p);
    }
}

/* ------------------------------------------------------------ real scans */

/* Register the scan (as loaded and thresholded to 1 bpp as a bitonal
 * scanner would, each upright and upside down) with the page whose marks
 * are at truth; each found within 1 px of it. */
static void real_scan(const char *file, const char *form_id, const double truth[4][2])
{
    char path[512];
    snprintf(path, sizeof path, SCANS "%s", file);
    if (access(path, R_OK) != 0) {
        printf("     skipped: %s is not there\n", path);
        return;
    }
    int dpi = 0;
    PIX *up = load_first_page(path, &dpi);
    CHECK(up != NULL, "%s: not loaded", path);
    if (!up)
        return;
    const omr_page_t *pg = page_of(form_id);
    const int w = (int)pixGetWidth(up), h = (int)pixGetHeight(up);
    for (int v = 0; v < 4; v++) {
        const int rot = v & 1, bitonal = v >> 1;
        PIX *g = rot ? pixRotate180(NULL, up) : pixClone(up);
        PIX *p = bitonal ? pixThresholdToBinary(g, 150) : pixClone(g);
        pixDestroy(&g);
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", file, bitonal ? " 1 bpp" : "", rot ? " (180)" : "");
        omr_register_t r;
        omr_error_t err = {0};
        omr_status_t st = omr_register_page(p, pg, rot ? 180 : 0, dpi, NULL, &r, &err);
        CHECK(st == OMR_OK, "%s: %s", name, err.msg);
        if (st == OMR_OK) {
            CHECK_INT(r.n_marks, 4);
            printf("     %s: marks", name);
            for (int m = 0; m < 4; m++) {
                /* upside down, the image's pixel x is w - x of the upright one */
                double tx = rot ? w - truth[m][0] : truth[m][0], ty = rot ? h - truth[m][1] : truth[m][1];
                double e = hypot(r.mark_x[m] - tx, r.mark_y[m] - ty);
                CHECK(r.found[m] && e <= 1.0, "%s: mark %d at %.2f,%.2f, measured %.2f,%.2f: %.2f px", name, m,
                      r.mark_x[m], r.mark_y[m], tx, ty, e);
                printf(" (%.2f, %.2f)", r.mark_x[m], r.mark_y[m]);
            }
            printf("; residual %.3f mm, %.1f dpi\n", r.residual_mm, r.dpi);
        }
        pixDestroy(&p);
    }
    pixDestroy(&up);
}

static void test_real_scan_1(void) { real_scan("scan-type-1.jpg", "T", REAL1); }
static void test_real_scan_2(void) { real_scan("scan-type-2.jpg", "U", REAL2); }

/* ------------------------------------------------------------ template */

/* The mark statement: shape=ring parses, its rectangle is the square round
 * the circle; and what is refused. */
static void test_template(void)
{
    const omr_page_t *pg = page_of("R");
    CHECK_INT(pg->mark_shape, OMR_MARK_RING);
    CHECK(pg->mark_size == 6 && pg->mark_x[3] == 198 && pg->mark_y[3] == 285);
    omr_rect_t r = omr_template_mark_rect(pg, 198, 285);
    CHECK(r.x == 195 && r.y == 282 && r.w == 6 && r.h == 6, "%g,%g,%g,%g", r.x, r.y, r.w, r.h);
    /* The render: black at the centre and on both rings, white between,
     * white just outside (300 dpi: the outer radius is 35.4 px). */
    PIX *p = render("R", 300);
    CHECK(p != NULL);
    if (p) {
        const double k = 300 / OMR_MM_PER_INCH, cx = 12 * k, cy = 12 * k, R = 3 * k;
        static const double at[6] = {0, 0.285, 0.483, 0.69, 0.897, 1.12};
        for (int i = 0; i < 6; i++) {
            l_uint32 v = 0;
            pixGetPixel(p, (int)(cx + at[i] * R), (int)cy, &v);
            CHECK(i % 2 ? v > 200 : v < 50, "render at %.3f radii: grey %u", at[i], (unsigned)v);
        }
        pixDestroy(&p);
    }
    static const struct {
        const char *mark, *why;
    } bad[] = {
        {"mark at=12,12 shape=ring size=6 line=0.5", "no line="},
        {"mark at=12,12 shape=ring size=1.5", "2 to 30 mm"},
        {"mark at=12,12 shape=ring size=31", "2 to 30 mm"},
        {"mark at=12,12 shape=rings size=6", "shape=rings"},
        {"mark at=12,12 size=6", "same shape and size"},
        {"mark at=2,12 shape=ring size=6", "leaves the page"},
    };
    snprintf(dir, sizeof dir, "/tmp/omr-test-ring-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        CHECK(0, "mkdtemp");
        return;
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *first = "mark at=12,12 shape=ring size=6";
        const char *pos = strstr(PAGE_R, first);
        char text[4096];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(pos - PAGE_R), PAGE_R, bad[i].mark, pos + strlen(first));
        write_file("survey.omr", "survey id=ring code=RING\nform R\npage form=R number=1 file=R-01.page\n");
        write_file("R-01.page", text);
        omr_survey_t *s = NULL;
        omr_error_t err = {0};
        CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT && strstr(err.msg, bad[i].why),
              "%s: %s", bad[i].mark, err.msg);
        omr_template_free(s);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    omr_quiet_libraries();
    if (load_survey()) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_template);
    RUN(test_100dpi);
    RUN(test_150dpi);
    RUN(test_200dpi);
    RUN(test_300dpi);
    RUN(test_600dpi);
    RUN(test_hidden_mark);
    RUN(test_decoy_instead);
    RUN(test_decoy_target);
    RUN(test_decoy_beside);
    RUN(test_touched);
    RUN(test_real_scan_1);
    RUN(test_real_scan_2);
    omr_template_free(survey);
    return check_report();
}
