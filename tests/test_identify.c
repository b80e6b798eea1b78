/* test_identify.c -- stage 2 (omr/identify.c): the page barcode is read and
 * the orientation found on synthetic pages built here: a white A4 page with
 * corner marks, lines of text and a Code 128 barcode encoded by zint (an
 * encoder independent of the zbar decoder under test), drawn at the
 * template's barcode box (110,276,88,12 mm), then scanned the ways sheets go
 * through a scanner: 200/300 dpi, grey or bitonal, upside down, sideways,
 * skewed, speckled. Ground truth is what was drawn. Also the blank-sheet test. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <zint.h>

#include "check.h"
#include "identify.h"
#include "template.h"

static int mm(double v, int dpi)
{
    return (int)lround(v * dpi / 25.4);
}

/* Draw a Code 128 of text into rectangle (x, y, w, h) mm of an 8 bpp page.
 * zint gives the module pattern; the modules are spread over the box width
 * with fractional widths, as a printer at another resolution would. */
static int draw_barcode(PIX *page, int dpi, const char *text, double x, double y, double w,
                        double h)
{
    struct zint_symbol *s = ZBarcode_Create();
    s->symbology = BARCODE_CODE128;
    s->show_hrt = 0;
    s->whitespace_width = 0;
    s->border_width = 0;
    int rc = ZBarcode_Encode_and_Buffer(s, (unsigned char *)text, (int)strlen(text), 0);
    if (rc >= ZINT_ERROR || s->width <= 0 || s->bitmap_width < s->width) {
        ZBarcode_Delete(s);
        return -1;
    }
    int modules = s->width, ppm = s->bitmap_width / s->width;
    int row = s->bitmap_height / 2;
    unsigned char bar[1024] = {0};
    for (int m = 0; m < modules && m < 1024; m++)
        bar[m] = s->bitmap[((size_t)row * s->bitmap_width + (size_t)(m * ppm + ppm / 2)) * 3] < 128;
    ZBarcode_Delete(s);
    int x0 = mm(x, dpi), y0 = mm(y, dpi), wpx = mm(w, dpi), hpx = mm(h, dpi);
    for (int px = 0; px < wpx; px++) {
        int m = (int)((px + 0.5) * modules / wpx);
        if (bar[m])
            for (int py = 0; py < hpx; py++)
                pixSetPixel(page, x0 + px, y0 + py, 0);
    }
    return modules;
}

static L_BMF *font;

/* An upright printed page: corner marks, text, barcode (when payload is not
 * NULL) with its text under it. Grey, 8 bpp. */
static PIX *make_page(int dpi, const char *payload, int with_text)
{
    PIX *p = pixCreate(mm(210, dpi), mm(297, dpi), 8);
    pixSetAllArbitrary(p, 255);
    pixSetResolution(p, dpi, dpi);
    static const double mx[4] = {12, 198, 12, 198}, my[4] = {12, 12, 285, 285};
    for (int i = 0; i < 4; i++) {
        BOX *b = boxCreate(mm(mx[i] - 3, dpi), mm(my[i] - 3, dpi), mm(6, dpi), mm(6, dpi));
        pixSetInRectArbitrary(p, b, 0);
        boxDestroy(&b);
    }
    if (with_text)
        for (int line = 0; line < 40; line++) {
            char text[128];
            snprintf(text, sizeof text, "Q%d. How many staff work on IT security? 1 2 3 4 5 %d",
                     line + 1, line * 7);
            pixSetTextline(p, font, text, 0, mm(20, dpi), mm(30 + 6 * line, dpi), NULL, NULL);
        }
    if (payload) {
        CHECK(draw_barcode(p, dpi, payload, 110, 276, 88, 9) > 0);
        pixSetTextline(p, font, payload, 0, mm(130, dpi), mm(288.5, dpi), NULL, NULL);
    }
    return p;
}

/* Add dust: n random specks of 1..3 px. Fixed seed: reproducible. */
static void add_speckle(PIX *p, int n, unsigned seed)
{
    int w = pixGetWidth(p), h = pixGetHeight(p);
    uint32_t s = seed;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        int x = (int)((s >> 8) % (unsigned)(w - 4)), y = (int)((s >> 3) % (unsigned)(h - 4));
        int r = 1 + (int)(s >> 29) % 3;
        BOX *b = boxCreate(x, y, r, r);
        pixSetInRectArbitrary(p, b, pixGetDepth(p) == 1 ? 1 : 0);
        boxDestroy(&b);
    }
}

/* Scan a page: rotate by skew degrees (about the centre, white brought in),
 * make it bitonal if asked, turn it by quarter turns clockwise. Takes p. */
static PIX *scan(PIX *p, double skew_deg, int bitonal, int quarter_turns, int speckle)
{
    PIX *q = p;
    if (skew_deg != 0) {
        q = pixRotate(p, (float)(skew_deg * M_PI / 180), L_ROTATE_AREA_MAP, L_BRING_IN_WHITE, 0, 0);
        pixDestroy(&p);
    }
    if (bitonal) {
        PIX *b = pixThresholdToBinary(q, 160);
        pixDestroy(&q);
        q = b;
    }
    if (speckle)
        add_speckle(q, speckle, 7);
    if (quarter_turns) {
        PIX *r = pixRotateOrth(q, quarter_turns);
        pixDestroy(&q);
        q = r;
    }
    return q;
}

typedef struct {
    const char *name;
    int dpi, bitonal, turns;
    double skew;
    int speckle;
    int want_orientation;
} case_t;

static void check_case(const case_t *c, const char *payload)
{
    PIX *p = scan(make_page(c->dpi, payload, 1), c->skew, c->bitonal, c->turns, c->speckle);
    omr_barcode_t bc;
    omr_error_t err = {0};
    omr_status_t st = omr_identify_read(p, NULL, &bc, &err);
    CHECK(st == OMR_OK, "%s: status %d: %s", c->name, st, err.msg);
    if (st == OMR_OK) {
        CHECK(!strcmp(bc.payload, payload), "%s: payload %s", c->name, bc.payload);
        CHECK(bc.parsed, "%s", c->name);
        CHECK(bc.orientation == c->want_orientation, "%s: orientation %d, want %d", c->name,
              bc.orientation, c->want_orientation);
        CHECK(bc.fast, "%s: only found on the whole page", c->name);
        /* Where: the drawn barcode's centre (154, 280.5) mm mapped like the page. */
        /* Leptonica turns clockwise for a positive angle, about the centre. */
        double a = c->skew * M_PI / 180, dx = 154.0 - 105, dy = 280.5 - 148.5;
        double u = (105 + dx * cos(a) - dy * sin(a)) / 210;
        double v = (148.5 + dx * sin(a) + dy * cos(a)) / 297, ix, iy;
        switch (c->want_orientation) {
        case 90: ix = 1 - v; iy = u; break;
        case 180: ix = 1 - u; iy = 1 - v; break;
        case 270: ix = v; iy = 1 - u; break;
        default: ix = u; iy = v;
        }
        double cx = (bc.x + bc.w / 2.0) / pixGetWidth(p), cy = (bc.y + bc.h / 2.0) / pixGetHeight(p);
        CHECK(fabs(cx - ix) < 0.01 && fabs(cy - iy) < 0.01,
              "%s: barcode centre at (%.3f, %.3f), drawn at (%.3f, %.3f)", c->name, cx, cy, ix, iy);
    }
    pixDestroy(&p);
}

static void test_orientations(void)
{
    static const case_t cases[] = {
        {"300 grey upright", 300, 0, 0, 0, 0, 0},
        {"300 bitonal upright", 300, 1, 0, 0, 0, 0},
        {"200 bitonal upright", 200, 1, 0, 0, 0, 0},
        {"200 grey upside down", 200, 0, 2, 0, 0, 180},
        {"300 bitonal upside down", 300, 1, 2, 0, 0, 180},
        {"300 bitonal turned 90", 300, 1, 1, 0, 0, 90},
        {"300 grey turned 270", 300, 0, 3, 0, 0, 270},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i], "ITSC18-A03-000123");
}

static void test_skew_and_speckle(void)
{
    static const case_t cases[] = {
        {"300 bitonal +3 deg", 300, 1, 0, 3, 0, 0},
        {"300 bitonal -3 deg speckle", 300, 1, 0, -3, 3000, 0},
        {"200 grey +2 deg upside down", 200, 0, 2, 2, 0, 180},
        {"200 bitonal -3 deg upside down speckle", 200, 1, 2, -3, 3000, 180},
        {"300 grey speckle", 300, 0, 0, 0, 5000, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i], "ITSC18-B12-004711");
}

/* A faded grey scan cleaned by the scanner's background removal: dim paper
 * (215) and grey ink (105), the bars thinned by a pixel each side (the blurred
 * edges went to white) and white specks inside them (noise above the cut).
 * Such specks break every scan line through a bar; the reader's second cut
 * grows the ink by a pixel along the reading direction. */
static PIX *fade(PIX *p, unsigned seed)
{
    int w = pixGetWidth(p), h = pixGetHeight(p);
    PIX *thin = pixErodeGray(p, 3, 1); /* grey erosion = max: ink loses a pixel each side */
    PIX *q = pixMaxDynamicRange(thin, L_LINEAR_SCALE); /* keep 0..255 */
    pixDestroy(&thin);
    uint32_t s = seed;
    l_uint32 *d = pixGetData(q);
    int wpl = pixGetWpl(q);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            l_uint32 *line = d + (size_t)y * wpl;
            int v = GET_DATA_BYTE(line, x);
            s = s * 1664525u + 1013904223u;
            if (v < 128 && (s >> 24) < 13) /* 5 % of the ink pixels: a white speck */
                v = 255;
            SET_DATA_BYTE(line, x, v < 128 ? 105 : v >= 250 ? 255 : 215);
        }
    pixDestroy(&p);
    return q;
}

static void test_faded(void)
{
    for (int turns = 0; turns < 4; turns += 2) {
        PIX *p = fade(make_page(300, "ITSC18-A07-000002", 1), 99);
        if (turns) {
            PIX *r = pixRotateOrth(p, turns);
            pixDestroy(&p);
            p = r;
        }
        omr_barcode_t bc;
        omr_error_t err = {0};
        omr_status_t st = omr_identify_read(p, NULL, &bc, &err);
        CHECK(st == OMR_OK, "faded, %d turns: status %d: %s", turns, st, err.msg);
        if (st == OMR_OK) {
            CHECK_STR(bc.payload, "ITSC18-A07-000002");
            CHECK_INT(bc.orientation, turns * 90);
            CHECK(bc.fast, "faded: only found on the whole page");
        }
        pixDestroy(&p);
    }
}

/* A real faded 200-dpi grey JPEG of the simulator's worst scanner
 * (tests/data/faded-200dpi-A06-000038.jpg, corpus page A-000038-06: dim
 * uneven paper, blur, JPEG quality ~60; truth from the simulator's
 * pages.csv: form A page 6, respondent 000038, fed upright). A bar module
 * is ~2.5 px and every thresholded zone pass loses it; the doubled-zone
 * pass reads it (omr/identify.c, scan_zone_doubled). Upside down too. */
static void test_faded_200dpi_jpeg(void)
{
    PIX *page = pixRead("tests/data/faded-200dpi-A06-000038.jpg");
    CHECK(page != NULL && pixGetDepth(page) == 8, "read the faded 200-dpi page");
    if (!page)
        return;
    for (int turns = 0; turns < 4; turns += 2) {
        PIX *p = turns ? pixRotateOrth(page, turns) : pixClone(page);
        omr_barcode_t bc;
        omr_error_t err = {0};
        omr_status_t st = omr_identify_read(p, NULL, &bc, &err);
        CHECK(st == OMR_OK, "faded 200 dpi JPEG, %d turns: status %d: %s", turns, st, err.msg);
        if (st == OMR_OK) {
            CHECK_STR(bc.payload, "ITSC18-A06-000038");
            CHECK_INT(bc.orientation, turns * 90);
            /* the box is in page pixels, inside the bottom (or top) fifth */
            int h = pixGetHeight(p);
            CHECK(turns ? bc.y + bc.h < h / 5 : bc.y > h * 4 / 5, "barcode box y %d h %d", bc.y, bc.h);
        }
        pixDestroy(&p);
    }
    pixDestroy(&page);
}

/* The bottom quarter of a real faded 200-dpi grey PNG of the simulator
 * (tests/data/faded-200dpi-B02-000299-bottom.png, corpus page B-000299-02:
 * truth from pages.csv: form B page 2, respondent 000299, upright, 1.1
 * degrees of skew). Every cut of the zone, plain or doubled, misses it:
 * JPEG-like noise and speckled bars break each scan line. Averaged along
 * the bars it reads (identify.c, smooth_along_bars). The zone is the whole
 * strip; upside down too. */
static void test_faded_200dpi_png_averaged(void)
{
    PIX *strip = pixRead("tests/data/faded-200dpi-B02-000299-bottom.png");
    CHECK(strip != NULL && pixGetDepth(strip) == 8, "read the faded 200-dpi strip");
    if (!strip)
        return;
    const omr_zone_t all = {0, 0, 1, 1};
    for (int turns = 0; turns < 4; turns += 2) {
        PIX *p = turns ? pixRotateOrth(strip, turns) : pixClone(strip);
        omr_barcode_t bc;
        omr_error_t err = {0};
        omr_status_t st = omr_identify_read(p, &all, &bc, &err);
        CHECK(st == OMR_OK, "faded 200 dpi PNG, %d turns: status %d: %s", turns, st, err.msg);
        if (st == OMR_OK) {
            CHECK_STR(bc.payload, "ITSC18-B02-000299");
            CHECK_INT(bc.orientation, turns * 90);
        }
        pixDestroy(&p);
    }
    pixDestroy(&strip);
}

/* Barcode outside the expected zone: found by the whole-page pass. */
static void test_whole_page(void)
{
    PIX *p = make_page(300, NULL, 1);
    CHECK(draw_barcode(p, 300, "ITSC18-A01-000001", 60, 140, 88, 9) > 0);
    omr_barcode_t bc;
    omr_error_t err;
    CHECK_INT(omr_identify_read(p, NULL, &bc, &err), OMR_OK);
    CHECK_STR(bc.payload, "ITSC18-A01-000001");
    CHECK_INT(bc.fast, 0);
    CHECK_INT(bc.orientation, 0);
    CHECK_STR(bc.code, "ITSC18");
    CHECK_STR(bc.form, "A");
    CHECK_INT(bc.page, 1);
    CHECK_STR(bc.respondent, "000001");
    /* A caller-given zone where it really is: the fast path finds it. */
    omr_zone_t z = {60.0 / 210, 138.0 / 297, 88.0 / 210, 14.0 / 297};
    CHECK_INT(omr_identify_read(p, &z, &bc, &err), OMR_OK);
    CHECK_INT(bc.fast, 1);
    pixDestroy(&p);
}

/* The survey's zone: the union of its pages' barcode boxes. Truth: every
 * page file of templates/ipa-itsc-2018 says `barcode box=65,270,80,14` on a
 * 210 x 297 mm page. A barcode there is read in that zone, upright and
 * upside down; one shifted 30 mm sideways still in the bottom zone. */
static void test_survey_zone(void)
{
    omr_zone_t z;
    omr_identify_zone_for_survey(NULL, &z);
    CHECK(z.x == 0 && z.y == 0.8 && z.w == 1 && z.h == 0.2, "NULL survey: the bottom zone");
    omr_survey_t *s = NULL;
    omr_error_t err;
    CHECK_INT(omr_template_load("templates/ipa-itsc-2018", &s, &err), OMR_OK);
    if (!s)
        return;
    omr_identify_zone_for_survey(s, &z);
    omr_template_free(s);
    CHECK(fabs(z.x - 65.0 / 210) < 1e-9 && fabs(z.w - 80.0 / 210) < 1e-9, "x %.4f w %.4f", z.x, z.w);
    CHECK(fabs(z.y - 270.0 / 297) < 1e-9 && fabs(z.h - 14.0 / 297) < 1e-9, "y %.4f h %.4f", z.y, z.h);

    for (int bitonal = 0; bitonal <= 1; bitonal++)
        for (int turns = 0; turns <= 2; turns += 2) {
            PIX *p = make_page(300, NULL, 1);
            CHECK(draw_barcode(p, 300, "ITSC18-B03-000042", 65, 270, 80, 9) > 0);
            p = scan(p, 0.5, bitonal, turns, 0);
            omr_barcode_t bc;
            CHECK_INT(omr_identify_read(p, &z, &bc, &err), OMR_OK);
            CHECK_STR(bc.payload, "ITSC18-B03-000042");
            CHECK_INT(bc.zone_pass, 1);
            CHECK_INT(bc.orientation, turns * 90);
            pixDestroy(&p);
        }
    PIX *p = make_page(300, NULL, 1);
    CHECK(draw_barcode(p, 300, "ITSC18-B03-000043", 110, 265, 80, 9) > 0);
    omr_barcode_t bc;
    CHECK_INT(omr_identify_read(p, &z, &bc, &err), OMR_OK);
    CHECK_STR(bc.payload, "ITSC18-B03-000043");
    CHECK_INT(bc.zone_pass, 2);
    CHECK_INT(bc.fast, 1);
    pixDestroy(&p);
}

static void test_not_found(void)
{
    PIX *p = scan(make_page(300, NULL, 1), 0, 1, 0, 2000);
    omr_barcode_t bc;
    omr_error_t err;
    CHECK_INT(omr_identify_read(p, NULL, &bc, &err), OMR_ENOTFOUND);
    CHECK(strstr(err.msg, "no Code 128") != NULL, "%s", err.msg);
    CHECK_STR(bc.payload, "");
    pixDestroy(&p);

    /* A Code 128 that is not a page ID (another survey's label, a parcel). */
    p = make_page(300, "PARCEL 4711/22", 1);
    CHECK_INT(omr_identify_read(p, NULL, &bc, &err), OMR_EINPUT);
    CHECK_STR(bc.payload, "PARCEL 4711/22");
    CHECK_INT(bc.parsed, 0);
    CHECK(strstr(err.msg, "PARCEL 4711/22") != NULL, "%s", err.msg);
    pixDestroy(&p);

    /* Another survey's page ID parses: the pipeline compares the code. */
    p = make_page(300, "OTHER9-A01-000777", 1);
    CHECK_INT(omr_identify_read(p, NULL, &bc, &err), OMR_OK);
    CHECK_STR(bc.code, "OTHER9");
    pixDestroy(&p);

    /* A 32 bpp page is refused, not misread. */
    p = pixCreate(100, 100, 32);
    CHECK_INT(omr_identify_read(p, NULL, &bc, &err), OMR_EUNSUPPORTED);
    pixDestroy(&p);
}

static void test_blank(void)
{
    omr_error_t err;
    int blank = -1;
    double ink = -1;

    /* A white sheet with dust, bitonal. */
    PIX *p = pixCreate(mm(210, 300), mm(297, 300), 1);
    add_speckle(p, 4000, 3);
    CHECK_INT(omr_identify_is_blank(p, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 1, "bitonal dusty sheet: ink %.5f", ink);
    pixDestroy(&p);

    /* Grey back of a duplex sheet: light bleed-through of the front's text. */
    p = pixCreate(mm(210, 200), mm(297, 200), 8);
    pixSetAllArbitrary(p, 250);
    for (int line = 0; line < 40; line++)
        pixSetTextline(p, font, "bleed-through of the other side, mirrored", 215, mm(20, 200),
                       mm(30 + 6 * line, 200), NULL, NULL);
    add_speckle(p, 3000, 5);
    CHECK_INT(omr_identify_is_blank(p, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 1, "grey back with bleed-through: ink %.5f", ink);
    pixDestroy(&p);

    /* A page with text is not blank, grey or bitonal, even a short note. */
    p = make_page(300, NULL, 1);
    CHECK_INT(omr_identify_is_blank(p, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 0, "text page: ink %.5f", ink);
    PIX *b = pixThresholdToBinary(p, 128);
    CHECK_INT(omr_identify_is_blank(b, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 0, "bitonal text page: ink %.5f", ink);
    pixDestroy(&b);
    pixDestroy(&p);

    p = pixCreate(mm(210, 300), mm(297, 300), 1);
    for (int line = 0; line < 3; line++)
        pixSetTextline(p, font, "Separator: batch 17, box 3 of 12, received 2018-11-02", 1,
                       mm(20, 300), mm(100 + 8 * line, 300), NULL, NULL);
    CHECK_INT(omr_identify_is_blank(p, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 0, "three lines of text: ink %.5f", ink);
    pixDestroy(&p);

    /* Ink in the border only (scanner edge shadow) does not count. */
    p = pixCreate(mm(210, 300), mm(297, 300), 1);
    BOX *edge = boxCreate(0, 0, 20, mm(297, 300));
    pixSetInRectArbitrary(p, edge, 1);
    boxDestroy(&edge);
    CHECK_INT(omr_identify_is_blank(p, 0, &blank, &ink, &err), OMR_OK);
    CHECK(blank == 1, "edge shadow: ink %.5f", ink);
    pixDestroy(&p);
}

/* Real scans of queXF's test form (tests/data/quexf: 300 dpi, 1 bit): its
 * barcode is interleaved 2 of 5 at the top right, holding the page ID
 * 00000101 / 00000102 (truth: ground_truth_transcribed.csv, page_id). With
 * the survey's template (templates/quexf-test: kind=i25 value=...) each page
 * is identified, upright and upside down; without it, nothing is read (Code
 * 128 only). */
static void test_fixed_page_ids(void)
{
    omr_survey_t *s = NULL;
    omr_error_t err = {0};
    CHECK(omr_template_load("templates/quexf-test", &s, &err) == OMR_OK, "%s", err.msg);
    if (!s)
        return;
    omr_zone_t zone;
    omr_identify_zone_for_survey(s, &zone);
    CHECK(zone.y < 0.1, "the survey's zone is at the top: y %.3f", zone.y);
    const char *files[] = {"tests/data/quexf/form2-page1.png", "tests/data/quexf/form3-page2.png"};
    const int pages[] = {1, 2};
    for (int i = 0; i < 2; i++) {
        PIX *page = pixRead(files[i]);
        CHECK(page != NULL, "read %s", files[i]);
        if (!page)
            continue;
        for (int turns = 0; turns < 4; turns += 2) {
            PIX *p = turns ? pixRotateOrth(page, turns) : pixClone(page);
            omr_barcode_t bc;
            omr_status_t st = omr_identify_read_survey(p, &zone, s, &bc, &err);
            CHECK(st == OMR_OK && bc.parsed && bc.fixed_id, "%s, %d turns: status %d: %s", files[i], turns, st,
                  err.msg);
            if (st == OMR_OK) {
                CHECK_STR(bc.form, "Q");
                CHECK_INT(bc.page, pages[i]);
                CHECK_STR(bc.code, "QUEXF");
                CHECK_STR(bc.respondent, "");
                CHECK_INT(bc.orientation, turns * 90);
                CHECK(bc.fast == 1, "found in the survey's zone");
            }
            /* a zone that misses the barcode (a sheet shifted far): the
             * default band, turned over, covers the page's top too, before
             * the whole page is searched */
            const omr_zone_t off = {0.0, 0.1, 0.3, 0.04};
            st = omr_identify_read_survey(p, &off, s, &bc, &err);
            CHECK(st == OMR_OK && bc.zone_pass == 2 && bc.fast && bc.page == pages[i],
                  "%s, %d turns, zone off: status %d pass %d fast %d", files[i], turns, st, bc.zone_pass, bc.fast);
            st = omr_identify_read(p, &zone, &bc, &err);
            CHECK(st == OMR_ENOTFOUND, "Code 128 only: status %d payload '%s'", st, bc.payload);
            pixDestroy(&p);
        }
        pixDestroy(&page);
    }
    omr_template_free(s);
}

int main(void)
{
    omr_quiet_libraries();
    font = bmfCreate(NULL, 10);
    if (!font) {
        fprintf(stderr, "no Leptonica bitmap font\n");
        return 1;
    }
    RUN(test_orientations);
    RUN(test_skew_and_speckle);
    RUN(test_whole_page);
    RUN(test_survey_zone);
    RUN(test_not_found);
    RUN(test_blank);
    RUN(test_faded);
    RUN(test_faded_200dpi_jpeg);
    RUN(test_faded_200dpi_png_averaged);
    RUN(test_fixed_page_ids);
    bmfDestroy(&font);
    return check_report();
}
