/* test_classify.c -- stages 4-5 (sample.h, classify.h) and the calibration
 * profile parser (calib.h).
 *
 * Marks are drawn with known geometry on a blank render of form A page 3
 * (circle targets and grid checkboxes): a pen circle around an option
 * number, a circle around an option's text only, a tick and a cross in
 * boxes, a faint grey circle, and nothing elsewhere. The page is turned by a
 * small angle (Leptonica), registered, sampled and classified, on grey and
 * thresholded to 1 bpp; the states must be what was drawn.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "calib.h"
#include "check.h"
#include "classify.h"
#include "print.h"
#include "recognise.h"
#include "register.h"
#include "sample.h"
#include "template.h"

static omr_survey_t *survey;
static const omr_form_t *form;
static const int page_index = 2; /* circles and a checkbox grid */
#define DPI 300.0

/* Darken pixels within w/2 mm of segment (ax,ay)-(bx,by) (mm) to grey `level`. */
static void stroke(PIX *pix, double ax, double ay, double bx, double by, double w, int level)
{
    double k = DPI / OMR_MM_PER_INCH;
    int x0 = (int)((fmin(ax, bx) - w) * k), x1 = (int)((fmax(ax, bx) + w) * k);
    int y0 = (int)((fmin(ay, by) - w) * k), y1 = (int)((fmax(ay, by) + w) * k);
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double px = (x + 0.5) / k, py = (y + 0.5) / k;
            double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = ax + t * dx - px, ey = ay + t * dy - py;
            if (ex * ex + ey * ey <= w * w / 4) {
                l_uint32 v;
                pixGetPixel(pix, x, y, &v);
                if ((int)v > level)
                    pixSetPixel(pix, x, y, (l_uint32)level);
            }
        }
}

/* An ellipse of half-axes rx, ry around (cx, cy) as 48 segments. */
static void ellipse(PIX *pix, double cx, double cy, double rx, double ry, double w, int level)
{
    for (int i = 0; i < 48; i++) {
        double a0 = 2 * M_PI * i / 48, a1 = 2 * M_PI * (i + 1) / 48;
        stroke(pix, cx + rx * cos(a0), cy + ry * sin(a0), cx + rx * cos(a1), cy + ry * sin(a1), w,
               level);
    }
}

typedef struct {
    int region;
    omr_mark_state_t want_grey, want_1bpp;
    const char *what;
} expect_t;

static expect_t want[16];
static int n_want;

static const omr_page_t *page(void) { return &form->pages[page_index]; }

/* The first region of a kind after index `after`, or -1. */
static int region_of(omr_region_kind_t kind, int after, int with_label)
{
    for (int i = after + 1; i < page()->n_regions; i++)
        if (page()->regions[i].kind == kind && (!with_label || page()->regions[i].label.w > 0))
            return i;
    return -1;
}

static PIX *draw_marks(void)
{
    omr_error_t err = {0};
    PIX *pix = omr_print_render_page(survey, form, page_index, "000042", DPI, &err);
    if (!pix)
        return NULL;
    const omr_page_t *pg = page();
    n_want = 0;
    int c1 = region_of(OMR_REGION_CIRCLE, -1, 1);
    int c2 = region_of(OMR_REGION_CIRCLE, c1, 1);
    int c3 = region_of(OMR_REGION_CIRCLE, c2, 1);
    int c4 = region_of(OMR_REGION_CIRCLE, c3, 1);
    int k1 = region_of(OMR_REGION_CHECK, -1, 0);
    int k2 = region_of(OMR_REGION_CHECK, k1 + 1, 0); /* skip one: a blank box between */
    int k3 = region_of(OMR_REGION_CHECK, k2 + 1, 0);
    if (c4 < 0 || k3 < 0)
        return pix;
    const omr_region_t *r;
    /* A black pen circle around the number. */
    r = &pg->regions[c1];
    ellipse(pix, r->box.x + r->box.w / 2, r->box.y + r->box.h / 2, 2.1, 1.9, 0.45, 20);
    want[n_want++] = (expect_t){c1, OMR_MARK_MARKED, OMR_MARK_MARKED, "pen circle on the number"};
    /* A circle around the start of the option text only. */
    r = &pg->regions[c2];
    {
        double tw = fmin(r->label.w, 14);
        ellipse(pix, r->label.x + tw / 2, r->label.y + r->label.h / 2, tw / 2 + 0.9,
                r->label.h / 2 + 0.8, 0.45, 30);
    }
    want[n_want++] = (expect_t){c2, OMR_MARK_MARKED, OMR_MARK_MARKED, "circle around the text"};
    /* A faint grey pencil circle: doubtful on grey, nothing on a 50 % threshold. */
    r = &pg->regions[c3];
    ellipse(pix, r->box.x + r->box.w / 2, r->box.y + r->box.h / 2, 2.1, 1.9, 0.4, 215);
    want[n_want++] = (expect_t){c3, OMR_MARK_DOUBTFUL, OMR_MARK_BLANK, "faint circle"};
    /* Nothing on c4. */
    want[n_want++] = (expect_t){c4, OMR_MARK_BLANK, OMR_MARK_BLANK, "untouched circle"};
    /* A tick in a box. */
    r = &pg->regions[k1];
    {
        double x = r->box.x, y = r->box.y, s = r->box.w;
        stroke(pix, x + 0.2 * s, y + 0.5 * s, x + 0.42 * s, y + 0.8 * s, 0.45, 25);
        stroke(pix, x + 0.42 * s, y + 0.8 * s, x + 0.85 * s, y + 0.15 * s, 0.45, 25);
    }
    want[n_want++] = (expect_t){k1, OMR_MARK_MARKED, OMR_MARK_MARKED, "tick in a box"};
    want[n_want++] = (expect_t){k1 + 1, OMR_MARK_BLANK, OMR_MARK_BLANK, "untouched box"};
    /* A cross in another box. */
    r = &pg->regions[k2];
    stroke(pix, r->box.x + 1, r->box.y + 1, r->box.x + r->box.w - 1, r->box.y + r->box.h - 1, 0.4, 25);
    stroke(pix, r->box.x + r->box.w - 1, r->box.y + 1, r->box.x + 1, r->box.y + r->box.h - 1, 0.4, 25);
    want[n_want++] = (expect_t){k2, OMR_MARK_MARKED, OMR_MARK_MARKED, "cross in a box"};
    want[n_want++] = (expect_t){k3, OMR_MARK_BLANK, OMR_MARK_BLANK, "untouched box 2"};
    return pix;
}

/* Read `scan` as page A-03 at dpi into *res (cleared first; the caller
 * clears it after). Returns omr_recognise_page's status; err gets its
 * message. */
static omr_status_t recognise_a03(PIX *scan, double dpi, omr_sample_cache_t *cache, omr_page_result_t *res,
                                  omr_error_t *err)
{
    memset(res, 0, sizeof *res);
    snprintf(res->form, sizeof res->form, "A");
    res->page_number = page_index + 1;
    res->dpi = dpi;
    return omr_recognise_page(scan, survey, NULL, cache, res, err);
}

static void check_page(PIX *scan, int bitonal, omr_sample_cache_t *cache)
{
    omr_page_result_t res;
    omr_error_t err = {0};
    omr_status_t st = recognise_a03(scan, DPI, cache, &res, &err);
    CHECK_INT(st, OMR_OK);
    CHECK_INT(res.status, OMR_PAGE_OK);
    CHECK_INT(res.n_regions, page()->n_regions);
    if (st != OMR_OK || res.status != OMR_PAGE_OK) {
        fprintf(stderr, "%s %s\n", err.msg, res.reason);
        omr_page_result_clear(&res);
        return;
    }
    for (int i = 0; i < n_want; i++) {
        const omr_region_result_t *r = &res.regions[want[i].region];
        omr_mark_state_t w = bitonal ? want[i].want_1bpp : want[i].want_grey;
        CHECK(r->state == w, "%s %s (%s): state %d, want %d (ink %.4f label %.4f dark %.2f)",
              bitonal ? "1bpp" : "grey", want[i].what, page()->regions[want[i].region].var,
              r->state, w, r->m.ink, r->m.ink_label, r->m.darkness);
    }
    /* Every other mark region reads blank: nothing was drawn there. */
    for (int i = 0; i < page()->n_regions; i++) {
        int listed = 0;
        for (int j = 0; j < n_want; j++)
            listed |= want[j].region == i;
        omr_region_kind_t kind = page()->regions[i].kind;
        if (listed || (kind != OMR_REGION_CIRCLE && kind != OMR_REGION_CHECK))
            continue;
        CHECK(res.regions[i].state == OMR_MARK_BLANK, "%s region %s reads %d (ink %.4f)",
              bitonal ? "1bpp" : "grey", page()->regions[i].var, res.regions[i].state,
              res.regions[i].m.ink);
    }
    /* The faint circle is doubtful because it is light, not by accident. */
    if (!bitonal)
        CHECK(res.regions[want[2].region].doubt & (OMR_DOUBT_FAINT | OMR_DOUBT_ERASURE),
              "faint circle doubt bits %u", res.regions[want[2].region].doubt);
    CHECK(res.regions[want[1].region].doubt & OMR_DOUBT_LABEL_ONLY, "label circle bits %u",
          res.regions[want[1].region].doubt);
    omr_page_result_clear(&res);
}

static void test_marks_grey_and_1bpp(void)
{
    PIX *pix = draw_marks();
    CHECK(pix != NULL && n_want == 8, "drawing failed");
    if (!pix || n_want != 8) {
        pixDestroy(&pix);
        return;
    }
    omr_sample_cache_t *cache = NULL;
    CHECK_INT(omr_sample_cache_new(survey, &cache, NULL), OMR_OK);
    /* Turn by 1.2° (an ordinary feeder skew); paper stays white. */
    PIX *rot = pixRotate(pix, 1.2 * M_PI / 180, L_ROTATE_AREA_MAP, L_BRING_IN_WHITE, 0, 0);
    pixCopyResolution(rot, pix);
    check_page(rot, 0, cache);
    PIX *bin = pixThresholdToBinary(rot, 128);
    pixCopyResolution(bin, pix);
    check_page(bin, 1, cache);
    pixDestroy(&bin);
    pixDestroy(&rot);
    pixDestroy(&pix);
    omr_sample_cache_free(cache);
}

/* A round blot of radius r mm at (cx, cy) mm, grey level `level`, on a page
 * rendered at dpi. */
static void blot(PIX *pix, double dpi, double cx, double cy, double r, int level)
{
    double k = dpi / OMR_MM_PER_INCH;
    for (int y = (int)((cy - r) * k) - 1; y <= (int)((cy + r) * k) + 1; y++)
        for (int x = (int)((cx - r) * k) - 1; x <= (int)((cx + r) * k) + 1; x++) {
            double dx = (x + 0.5) / k - cx, dy = (y + 0.5) / k - cy;
            if (dx * dx + dy * dy <= r * r)
                pixSetPixel(pix, x, y, (l_uint32)level);
        }
}

/* Read page A-03 rendered at dpi with dust on a blank circle (one blot in
 * the ring's open corner) and a blank checkbox (two blots), grey or
 * thresholded; returns the states of the two regions in st[2]. */
static void read_dusty(double dpi, int bitonal, omr_sample_cache_t *cache, int c, int k, int st[2])
{
    st[0] = st[1] = -1;
    PIX *pix = omr_print_render_page(survey, form, page_index, "000042", dpi, NULL);
    if (!pix)
        return;
    const omr_rect_t *bc = &page()->regions[c].box, *bk = &page()->regions[k].box;
    blot(pix, dpi, bc->x + 0.9, bc->y + 0.9, 0.15, 30);
    blot(pix, dpi, bk->x + 1.1, bk->y + 1.1, 0.15, 30);
    blot(pix, dpi, bk->x + bk->w - 1.1, bk->y + bk->h - 1.3, 0.12, 40);
    PIX *scan = bitonal ? pixThresholdToBinary(pix, 128) : pixClone(pix);
    pixSetResolution(scan, (int)dpi, (int)dpi);
    omr_page_result_t res;
    omr_error_t err = {0};
    if (recognise_a03(scan, dpi, cache, &res, &err) == OMR_OK &&
        res.status == OMR_PAGE_OK) {
        st[0] = res.regions[c].state;
        st[1] = res.regions[k].state;
    }
    omr_page_result_clear(&res);
    pixDestroy(&scan);
    pixDestroy(&pix);
}

/* Dust specks (round blots of 0.25-0.3 mm) on blank targets read blank,
 * not doubtful: they sent a page's question to review for nothing (352
 * blank cells of the simulated corpus). At 200 dpi on bitonal scans a
 * pencil mark can come out as one or two dots, so there dust stays
 * doubtful rather than risk losing a mark. */
static void test_dust_is_blank(void)
{
    int c = region_of(OMR_REGION_CIRCLE, -1, 1), k = region_of(OMR_REGION_CHECK, -1, 0);
    CHECK(c >= 0 && k >= 0, "page A-03 has circles and checkboxes");
    if (c < 0 || k < 0)
        return;
    omr_sample_cache_t *cache = NULL;
    CHECK_INT(omr_sample_cache_new(survey, &cache, NULL), OMR_OK);
    int st[2];
    read_dusty(300, 0, cache, c, k, st);
    CHECK(st[0] == OMR_MARK_BLANK && st[1] == OMR_MARK_BLANK, "grey 300 dpi: %d %d", st[0], st[1]);
    read_dusty(300, 1, cache, c, k, st);
    CHECK(st[0] == OMR_MARK_BLANK && st[1] == OMR_MARK_BLANK, "1bpp 300 dpi: %d %d", st[0], st[1]);
    read_dusty(200, 0, cache, c, k, st);
    CHECK(st[0] == OMR_MARK_BLANK && st[1] == OMR_MARK_BLANK, "grey 200 dpi: %d %d", st[0], st[1]);
    read_dusty(200, 1, cache, c, k, st);
    CHECK(st[0] == OMR_MARK_DOUBTFUL && st[1] == OMR_MARK_DOUBTFUL, "1bpp 200 dpi: %d %d", st[0],
          st[1]);
    omr_sample_cache_free(cache);
}

/* Light bitonal threshold (the simulator's worn 200-dpi feeder at 30 %):
 * the print is eroded and a pencil tick (grey 90 of 255, lighter than the
 * print) vanishes. The page's print recovery says so, and the blank answer
 * units -- the ticked one among them -- become doubtful (LIGHT_SCAN), while
 * a unit with a pen circle read keeps its blanks. At a 50 % threshold the
 * same page is not light and nothing is flagged for it. */
static void read_light(int threshold, omr_sample_cache_t *cache, int c, int k, int c_other,
                       int *st, float *recovery)
{
    const double dpi = 200;
    st[0] = st[1] = st[2] = -1;
    *recovery = -2;
    PIX *pix = omr_print_render_page(survey, form, page_index, "000042", dpi, NULL);
    if (!pix)
        return;
    double s = dpi / DPI; /* stroke() draws at DPI: scale a copy instead */
    PIX *big = pixScale(pix, 1 / s, 1 / s);
    const omr_rect_t *bc = &page()->regions[c].box, *bk = &page()->regions[k].box;
    ellipse(big, bc->x + bc->w / 2, bc->y + bc->h / 2, 2.1, 1.9, 0.45, 20);
    stroke(big, bk->x + 0.2 * bk->w, bk->y + 0.5 * bk->h, bk->x + 0.42 * bk->w, bk->y + 0.8 * bk->h,
           0.45, 90);
    stroke(big, bk->x + 0.42 * bk->w, bk->y + 0.8 * bk->h, bk->x + 0.85 * bk->w,
           bk->y + 0.15 * bk->h, 0.45, 90);
    PIX *small = pixScaleAreaMap(big, s, s);
    PIX *blur = small ? pixBlockconv(small, 1, 1) : NULL;
    PIX *scan = blur ? pixThresholdToBinary(blur, threshold) : NULL;
    if (scan) {
        pixSetResolution(scan, (int)dpi, (int)dpi);
        omr_page_result_t res;
        omr_error_t err = {0};
        if (recognise_a03(scan, dpi, cache, &res, &err) == OMR_OK &&
            res.status == OMR_PAGE_OK) {
            st[0] = (int)res.regions[c].state;
            st[1] = (int)res.regions[k].state | (int)(res.regions[k].doubt << 4);
            st[2] = (int)res.regions[c_other].state;
            omr_region_result_t *rr = calloc((size_t)page()->n_regions, sizeof *rr);
            omr_sample_info_t info = {0};
            if (rr && omr_sample_page_ex(scan, form, page_index, res.xform, 0, cache, rr, &info,
                                         NULL) == OMR_OK)
                *recovery = info.print_recovery;
            free(rr);
        }
        omr_page_result_clear(&res);
    }
    pixDestroy(&scan);
    pixDestroy(&blur);
    pixDestroy(&small);
    pixDestroy(&big);
    pixDestroy(&pix);
}

static void test_light_scan(void)
{
    int c = region_of(OMR_REGION_CIRCLE, -1, 1), k = region_of(OMR_REGION_CHECK, -1, 0);
    int c_other = c + 1;
    CHECK(c >= 0 && k >= 0 && c_other < page()->n_regions &&
              page()->regions[c_other].question == page()->regions[c].question,
          "page A-03 has a question with two circles and a checkbox");
    if (c < 0 || k < 0 || c_other >= page()->n_regions)
        return;
    omr_sample_cache_t *cache = NULL;
    CHECK_INT(omr_sample_cache_new(survey, &cache, NULL), OMR_OK);
    int st[3];
    float rec;
    read_light(128, cache, c, k, c_other, st, &rec);
    CHECK(rec >= 0.9f, "50 %% threshold: print recovery %.3f", rec);
    CHECK(st[0] == OMR_MARK_MARKED && (st[1] & 15) == OMR_MARK_MARKED && st[2] == OMR_MARK_BLANK,
          "50 %% threshold: circle %d tick %d other %d", st[0], st[1] & 15, st[2]);
    read_light(70, cache, c, k, c_other, st, &rec);
    CHECK(rec >= 0 && rec < 0.75f, "light threshold: print recovery %.3f", rec);
    CHECK(st[0] == OMR_MARK_MARKED, "light threshold: pen circle %d", st[0]);
    CHECK(st[2] == OMR_MARK_BLANK, "light threshold: the circled question's other option %d",
          st[2]);
    CHECK((st[1] & 15) == OMR_MARK_DOUBTFUL && ((st[1] >> 4) & OMR_DOUBT_LIGHT_SCAN),
          "light threshold: lost pencil tick state %d doubt %d", st[1] & 15, st[1] >> 4);
    omr_sample_cache_free(cache);
}

static void test_light_scan_rule(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    /* Question 0 (circles 0-2, one marked), question 1 grid rows a and b
     * (checks 3-4 blank, 5 doubtful + 6 blank), a digit box 7. */
    omr_region_t rg[8] = {
        {.kind = OMR_REGION_CIRCLE, .question = 0}, {.kind = OMR_REGION_CIRCLE, .question = 0},
        {.kind = OMR_REGION_CIRCLE, .question = 0}, {.kind = OMR_REGION_CHECK, .question = 1, .row = "a"},
        {.kind = OMR_REGION_CHECK, .question = 1, .row = "a"},
        {.kind = OMR_REGION_CHECK, .question = 1, .row = "b"},
        {.kind = OMR_REGION_CHECK, .question = 1, .row = "b"}, {.kind = OMR_REGION_DIGIT, .question = 2}};
    omr_page_t pg = {.regions = rg, .n_regions = 8};
    omr_region_result_t r[8];
    memset(r, 0, sizeof r);
    r[1].state = OMR_MARK_MARKED;
    r[1].m.ink = 0.2f; /* not eroded: the page is light only by its print recovery */
    r[5].state = OMR_MARK_DOUBTFUL;
    r[5].doubt = OMR_DOUBT_BORDERLINE;
    cal.light_scan_eroded_traces = 0; /* the borderline cell would make 0.8 and 0.9 light */
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.9f, r), 0);
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.8f, r), 0);
    cal.light_scan_eroded_traces = 1;
    CHECK_INT(omr_classify_light_scan(&pg, &cal, -1, r), 0);
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.5f, r), 3);
    CHECK(r[0].state == OMR_MARK_BLANK && r[2].state == OMR_MARK_BLANK, "marked unit keeps blanks");
    CHECK(r[3].state == OMR_MARK_DOUBTFUL && r[4].state == OMR_MARK_DOUBTFUL &&
              r[6].state == OMR_MARK_DOUBTFUL && (r[3].doubt & OMR_DOUBT_LIGHT_SCAN),
          "blank units doubtful: %d %d %d", r[3].state, r[4].state, r[6].state);
    CHECK(r[5].doubt == OMR_DOUBT_BORDERLINE, "doubtful cell untouched: %u", r[5].doubt);
    CHECK(r[7].state == OMR_MARK_BLANK, "digit box untouched");
    cal.light_scan_recovery_min = 0;
    memset(r, 0, sizeof r);
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.1f, r), 0);
}

/* A light bitonal page whose respondent used pen: three marks read with a
 * pen's full ink (a pen circle 0.3, a pen tick 0.25) leave the blank units
 * blank; the same marks at eroded-pencil levels, or only two of them, do
 * not. */
static void test_light_scan_pen(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    /* Q0 circles 0-2, Q1 circles 3-5, Q2 checks 6-7 (row a), 8-9 (row b), Q3 checks 10-11. */
    omr_region_t rg[12];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 12; i++) {
        rg[i].kind = i < 6 ? OMR_REGION_CIRCLE : OMR_REGION_CHECK;
        rg[i].question = i < 3 ? 0 : i < 6 ? 1 : i < 10 ? 2 : 3;
        snprintf(rg[i].row, sizeof rg[i].row, "%s", i >= 6 && i < 8 ? "a" : i >= 8 && i < 10 ? "b" : "");
    }
    omr_page_t pg = {.regions = rg, .n_regions = 12};
    omr_region_result_t r[12];
    const float pen[3] = {0.30f, 0.22f, 0.25f}, pencil[3] = {0.05f, 0.04f, 0.03f};
    const int at[3] = {0, 4, 6};
    for (int v = 0; v < 3; v++) {
        memset(r, 0, sizeof r);
        for (int k = 0; k < (v == 2 ? 2 : 3); k++) {
            r[at[k]].state = OMR_MARK_MARKED;
            r[at[k]].m.ink = (v == 1 ? pencil : pen)[k];
            r[at[k]].m.darkness = 1;
        }
        int n = omr_classify_light_scan(&pg, &cal, 0.5f, r);
        if (v == 0) {
            CHECK_INT(n, 2); /* pen: Q2 row b stays blank (Q2 has a mark), unmarked Q3 does not */
            CHECK(r[8].state == OMR_MARK_BLANK && r[10].state == OMR_MARK_DOUBTFUL, "pen page blanks");
        } else {
            CHECK_INT(n, v == 1 ? 4 : 6); /* pencil: row b + Q3; two marks: also Q1 */
            CHECK(r[8].state == OMR_MARK_DOUBTFUL && (r[10].doubt & OMR_DOUBT_LIGHT_SCAN),
                  "variant %d: lost pencil is doubtful", v);
        }
    }
    cal.light_scan_pen_marks = 0; /* the exception off: the rule applies */
    memset(r, 0, sizeof r);
    for (int k = 0; k < 3; k++) {
        r[at[k]].state = OMR_MARK_MARKED;
        r[at[k]].m.ink = pen[k];
    }
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.5f, r), 4);
}

/* A page whose print survived better (recovery 0.85, above recovery_min)
 * is still light when the marks read on it are eroded pencil, or when none
 * was read; pen-level marks there keep its blanks. On a light pencil page a
 * many-answer question (options in columns of their own) is doubtful cell
 * by cell, a one-answer question only when nothing in it was read. */
static void test_light_scan_eroded(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    /* Q0: one answer, circles 0-2 (var "Q0"); Q1: many answers, checks 3-6 (Q1_1..Q1_4). */
    omr_region_t rg[7];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 7; i++) {
        rg[i].kind = i < 3 ? OMR_REGION_CIRCLE : OMR_REGION_CHECK;
        rg[i].question = i < 3 ? 0 : 1;
        if (i < 3)
            snprintf(rg[i].var, sizeof rg[i].var, "Q0");
        else
            snprintf(rg[i].var, sizeof rg[i].var, "Q1_%d", i - 2);
    }
    omr_page_t pg = {.regions = rg, .n_regions = 7};
    omr_region_result_t r[7];

    /* Eroded pencil marks in both questions at recovery 0.85. */
    memset(r, 0, sizeof r);
    r[1].state = r[4].state = OMR_MARK_MARKED;
    r[1].m.ink = 0.03f;
    r[4].m.ink = 0.02f;
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), 3);
    CHECK(r[0].state == OMR_MARK_BLANK && r[2].state == OMR_MARK_BLANK,
          "one-answer question with a mark keeps its blanks");
    CHECK(r[3].state == OMR_MARK_DOUBTFUL && r[5].state == OMR_MARK_DOUBTFUL &&
              r[6].state == OMR_MARK_DOUBTFUL && (r[6].doubt & OMR_DOUBT_LIGHT_SCAN),
          "many-answer blanks doubtful: %d %d %d", r[3].state, r[5].state, r[6].state);

    /* The many-answer question's mark is a whole tick (0.20: the stroke
     * survived): its blanks stay blank; a filled box (0.50) says nothing. */
    for (int v = 0; v < 2; v++) {
        memset(r, 0, sizeof r);
        r[1].state = r[4].state = OMR_MARK_MARKED;
        r[1].m.ink = 0.03f;
        r[4].m.ink = v == 0 ? 0.20f : 0.50f;
        CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), v == 0 ? 0 : 3);
        CHECK(r[5].state == (v == 0 ? OMR_MARK_BLANK : OMR_MARK_DOUBTFUL), "tick %d: blank beside it %d", v,
              r[5].state);
    }

    /* The same marks with a pen's ink: not a light page at 0.85. */
    memset(r, 0, sizeof r);
    r[1].state = r[4].state = OMR_MARK_MARKED;
    r[1].m.ink = 0.30f;
    r[4].m.ink = 0.25f;
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), 0);

    /* Nothing read at 0.85: every blank doubtful; at 0.95 nothing changes. */
    memset(r, 0, sizeof r);
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.95f, r), 0);
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), 7);
    memset(r, 0, sizeof r);
    cal.light_scan_eroded_empty = 0;
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), 0);

    /* Many-answer cells off: the marked unit keeps its blanks. */
    omr_calib_default(&cal);
    cal.light_scan_multi_cells = 0;
    memset(r, 0, sizeof r);
    r[1].state = r[4].state = OMR_MARK_MARKED;
    r[1].m.ink = 0.03f;
    r[4].m.ink = 0.02f;
    CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.5f, r), 0);
}

/* Filled checkboxes say nothing of the instrument: a light page whose only
 * marks are filled boxes (pencil fills survive a threshold that erased the
 * ticks) is judged as pencil, cell by cell in a many-answer question; with
 * the fill level off the same fills read as pen and the blank is kept. */
static void test_light_scan_fills(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t rg[4];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 4; i++) {
        rg[i].kind = OMR_REGION_CHECK;
        snprintf(rg[i].var, sizeof rg[i].var, "Q0_%d", i + 1);
    }
    omr_page_t pg = {.regions = rg, .n_regions = 4};
    omr_region_result_t r[4];
    const float fills[3] = {0.50f, 0.53f, 0.45f};
    for (int v = 0; v < 2; v++) {
        cal.light_scan_pen_fill_ink = v == 0 ? 0.40 : 0;
        memset(r, 0, sizeof r);
        for (int k = 0; k < 3; k++) {
            r[k].state = OMR_MARK_MARKED;
            r[k].m.ink = fills[k];
        }
        CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.5f, r), v == 0 ? 1 : 0);
        CHECK(r[3].state == (v == 0 ? OMR_MARK_DOUBTFUL : OMR_MARK_BLANK), "fill level %d: the blank box %d", v,
              r[3].state);
    }
}

/* Borderline traces count as eroded marks: at recovery 0.85 a page with
 * one pen-level circle and one trace is light (the unread question and the
 * trace's question go to review); with the traces not counted it is not. */
static void test_light_scan_traces(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t rg[9];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 9; i++) {
        rg[i].kind = OMR_REGION_CIRCLE;
        rg[i].question = i / 3;
        snprintf(rg[i].var, sizeof rg[i].var, "Q%d", i / 3);
    }
    omr_page_t pg = {.regions = rg, .n_regions = 9};
    omr_region_result_t r[9];
    for (int v = 0; v < 2; v++) {
        cal.light_scan_eroded_traces = v == 0;
        memset(r, 0, sizeof r);
        r[1].state = OMR_MARK_MARKED;
        r[1].m.ink = 0.20f;
        r[4].state = OMR_MARK_DOUBTFUL;
        r[4].doubt = OMR_DOUBT_BORDERLINE;
        r[4].m.ink = 0.005f;
        CHECK_INT(omr_classify_light_scan(&pg, &cal, 0.85f, r), v == 0 ? 5 : 0);
        CHECK(r[7].state == (v == 0 ? OMR_MARK_DOUBTFUL : OMR_MARK_BLANK) && r[0].state == OMR_MARK_BLANK,
              "traces %d: unread question %d, marked question %d", v, r[7].state, r[0].state);
    }
}

/* Digit boxes on a light page: an empty box of a unit with nothing written
 * becomes doubtful (light scan), a unit with a written box keeps its empty
 * ones; nothing changes on a page that is not light or with the rule off. */
static void test_light_scan_boxes(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    /* a circle (question 0), code grid question 1: row a boxes 1-2, row b boxes 3-4 */
    omr_region_t rg[5];
    memset(rg, 0, sizeof rg);
    rg[0].kind = OMR_REGION_CIRCLE;
    snprintf(rg[0].var, sizeof rg[0].var, "Q0");
    for (int i = 1; i < 5; i++) {
        rg[i].kind = OMR_REGION_DIGIT;
        rg[i].question = 1;
        snprintf(rg[i].row, sizeof rg[i].row, "%s", i < 3 ? "a" : "b");
        snprintf(rg[i].var, sizeof rg[i].var, "Q1_%s_%d", i < 3 ? "a" : "b", i);
    }
    omr_page_t pg = {.regions = rg, .n_regions = 5};
    omr_region_result_t r[5];
    for (int v = 0; v < 3; v++) {
        memset(r, 0, sizeof r);
        r[0].state = OMR_MARK_MARKED;
        r[0].m.ink = 0.03f; /* eroded pencil */
        r[4].state = OMR_MARK_MARKED;
        r[4].has_ink = 1;
        cal.light_scan_boxes = v != 2;
        int n = omr_classify_light_scan_boxes(&pg, &cal, v == 1 ? 0.95f : 0.5f, r);
        if (v == 0) {
            CHECK_INT(n, 2);
            CHECK(r[1].state == OMR_MARK_DOUBTFUL && r[2].state == OMR_MARK_DOUBTFUL &&
                      (r[1].doubt & OMR_DOUBT_LIGHT_SCAN),
                  "empty row a doubtful: %d %d", r[1].state, r[2].state);
            CHECK(r[3].state == OMR_MARK_BLANK && r[4].state == OMR_MARK_MARKED,
                  "row b, with a written box, keeps its empty one");
            CHECK(r[0].state == OMR_MARK_MARKED, "mark regions untouched");
        } else {
            CHECK_INT(n, 0); /* v 1: not light; v 2: the rule off */
        }
    }
}

/* A digit box the handwriting reader found empty while the sampler measured
 * ink (a 1 drawn along the frame) is doubtful, never a certain empty; boxes
 * with only noise, boxes the reader found written, and the rule turned off
 * keep their reading. */
static void test_boxes_disagree(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t rg[4];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 4; i++) {
        rg[i].kind = i == 3 ? OMR_REGION_TEXT : OMR_REGION_DIGIT;
        snprintf(rg[i].var, sizeof rg[i].var, "Q1_r%d", i + 1);
    }
    omr_page_t pg = {.regions = rg, .n_regions = 4};
    omr_region_result_t r[4];
    for (int off = 0; off < 2; off++) {
        memset(r, 0, sizeof r);
        for (int i = 0; i < 4; i++)
            r[i].digit = -1;
        r[0].m.ink = 0.032f; /* the reader dropped the stroke */
        r[1].m.ink = 0.0016f; /* dust on an empty box */
        r[2].m.ink = 0.2f, r[2].has_ink = 1, r[2].state = OMR_MARK_MARKED, r[2].digit = 4;
        r[3].m.ink = 0.05f; /* a text field: not this rule's */
        cal.write_disagree_ink = off ? 0 : 0.005;
        CHECK_INT(omr_classify_boxes_disagree(&pg, &cal, r), off ? 0 : 1);
        if (!off)
            CHECK(r[0].state == OMR_MARK_DOUBTFUL && r[0].has_ink && (r[0].doubt & OMR_DOUBT_NOT_DIGIT),
                  "stroke the reader dropped: state %d has_ink %d doubt %u", r[0].state, r[0].has_ink, r[0].doubt);
        else
            CHECK(r[0].state == OMR_MARK_BLANK && !r[0].has_ink, "rule off: reading kept");
        CHECK(r[1].state == OMR_MARK_BLANK && !r[1].has_ink, "noise stays an empty box");
        CHECK(r[2].state == OMR_MARK_MARKED && r[2].digit == 4 && !r[2].doubt, "a read digit is untouched");
        CHECK(r[3].state == OMR_MARK_BLANK && !r[3].has_ink, "text fields untouched");
    }
}

/* Filled checkboxes on a form whose convention is "fill a box to cancel it"
 * (queXF; survey filled=cancel): with another box of its row ticked, the
 * filled box is not the answer; alone, it goes to review; without the
 * convention it stays a mark. Inks as measured on queXF's real scans
 * (calib/default.calib: crosses 0.16-0.34, blacked-out boxes 0.50-0.77). */
static void test_filled_cancels(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t rg[5];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 5; i++) {
        rg[i].kind = OMR_REGION_CHECK;
        rg[i].question = i < 3 ? 0 : 1; /* row A of question 0: 0-2; question 1: 3-4 */
        snprintf(rg[i].row, sizeof rg[i].row, "%s", i < 3 ? "A" : "");
        rg[i].code = i % 3 + 1;
    }
    omr_page_t pg = {.regions = rg, .n_regions = 5};
    for (int cancels = 0; cancels < 2; cancels++) {
        omr_region_result_t r[5];
        memset(r, 0, sizeof r);
        const float ink[5] = {0.62f, 0.25f, 0.0f, 0.69f, 0.0f};
        for (int i = 0; i < 5; i++) {
            r[i].m.ink = ink[i];
            r[i].m.darkness = 1;
            omr_classify_region(&rg[i], &cal, &r[i]);
        }
        CHECK(r[0].state == OMR_MARK_MARKED && r[3].state == OMR_MARK_MARKED, "filled boxes read as marks first");
        CHECK_INT(omr_classify_filled(&pg, &cal, cancels, r), cancels ? 2 : 0);
        if (cancels) {
            CHECK(r[0].state == OMR_MARK_BLANK && (r[0].doubt & OMR_DOUBT_CROSSOUT),
                  "filled beside a tick: cancelled (state %d)", r[0].state);
            CHECK(r[3].state == OMR_MARK_DOUBTFUL && (r[3].doubt & OMR_DOUBT_CROSSOUT),
                  "filled alone: review (state %d)", r[3].state);
        } else {
            CHECK(r[0].state == OMR_MARK_MARKED && r[3].state == OMR_MARK_MARKED, "no convention: a mark");
        }
        CHECK(r[1].state == OMR_MARK_MARKED, "the tick stays");
        CHECK(r[2].state == OMR_MARK_BLANK && r[4].state == OMR_MARK_BLANK, "blank boxes stay");
    }
}

static void test_register_failure_is_a_page_status(void)
{
    PIX *white = pixCreate(2480, 3508, 1);
    pixSetResolution(white, 300, 300);
    omr_sample_cache_t *cache = NULL;
    omr_sample_cache_new(survey, &cache, NULL);
    omr_page_result_t res;
    memset(&res, 0, sizeof res);
    snprintf(res.form, sizeof res.form, "A");
    res.page_number = 1;
    omr_error_t err = {0};
    CHECK_INT(omr_recognise_page(white, survey, NULL, cache, &res, &err), OMR_OK);
    CHECK_INT(res.status, OMR_PAGE_REGISTER_FAILED);
    CHECK(res.reason[0] != 0);
    /* A page number the form lacks is an input error. */
    res.page_number = 99;
    CHECK_INT(omr_recognise_page(white, survey, NULL, cache, &res, &err), OMR_EINPUT);
    omr_page_result_clear(&res);
    pixDestroy(&white);
    omr_sample_cache_free(cache);
}

static void test_classify_rules(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE, .label = {10, 10, 20, 3}};
    omr_region_t check = {.kind = OMR_REGION_CHECK};
    omr_region_result_t r = {0};
    r.m = (omr_measure_t){.ink = 0, .ink_label = 0, .darkness = 0};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
    r.m = (omr_measure_t){.ink = 0.3f, .darkness = 1};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    CHECK(r.m.score > 0.75f);
    /* Between the thresholds: doubtful, borderline. */
    r.m = (omr_measure_t){.ink = (float)(0.5 * (cal.circle_blank_max + cal.circle_marked_min)),
                          .darkness = 1};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_BORDERLINE);
    /* Enough ink but light: faint, or erasure residue when lighter still. */
    r.m = (omr_measure_t){.ink = 0.3f,
                          .darkness = (float)(0.5 * (cal.faint_darkness + cal.erasure_darkness))};
    omr_classify_region(&check, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_FAINT);
    /* (Counted ink is at least OMR_SAMPLE_DARK_MIN dark; lighter means
     * light ink only, test_light_ink_rule.) */
    r.m.darkness = (float)(0.5 * (cal.erasure_darkness + OMR_SAMPLE_DARK_MIN));
    omr_classify_region(&check, &cal, &r);
    CHECK(r.doubt & OMR_DOUBT_ERASURE);
    /* Label only, when the profile says doubtful. */
    cal.label_only_marks = 0;
    r.m = (omr_measure_t){.ink = 0, .ink_label = 0.3f, .darkness = 1};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_LABEL_ONLY);
}

/* Traces measured on the corpus that were read blank with a 0.003 blank
 * maximum: a light pen tick beside a grey scan's number (ink 0.0014,
 * darkness 0.73), a 200-dpi bitonal pencil tick in a box (0.0027), a tick
 * on the number of a grey scan (sample sets the speck level 0.006 with a
 * darkness of at least 0.23). The default profile must not call them blank;
 * a zone with no trace stays blank. */
static void test_traces_are_doubtful(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE, .label = {0, 0, 10, 3}};
    omr_region_t check = {.kind = OMR_REGION_CHECK};
    omr_region_result_t r = {0};
    r.m = (omr_measure_t){.ink = 0.0014f, .darkness = 0.73f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    r.m = (omr_measure_t){.ink = 0.0027f, .darkness = 1};
    omr_classify_region(&check, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    r.m = (omr_measure_t){.ink = (float)OMR_SAMPLE_SPECK_INK, .darkness = 0.231f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    r.m = (omr_measure_t){.ink = 0, .darkness = 0};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
}

/* Field by field: the struct has padding, memcmp would compare garbage. */
static int calib_equal(const omr_calib_t *a, const omr_calib_t *b)
{
    return a->circle_blank_max == b->circle_blank_max &&
           a->circle_marked_min == b->circle_marked_min &&
           a->label_blank_max == b->label_blank_max && a->label_marked_min == b->label_marked_min &&
           a->label_only_marks == b->label_only_marks && a->check_blank_max == b->check_blank_max &&
           a->check_marked_min == b->check_marked_min && a->write_ink_min == b->write_ink_min &&
           a->faint_darkness == b->faint_darkness && a->erasure_darkness == b->erasure_darkness &&
           a->light_blank_max == b->light_blank_max &&
           a->batch_min_regions == b->batch_min_regions &&
           a->batch_circle_blank_limit == b->batch_circle_blank_limit &&
           a->batch_check_blank_limit == b->batch_check_blank_limit &&
           a->light_scan_recovery_min == b->light_scan_recovery_min &&
           a->light_scan_pen_marks == b->light_scan_pen_marks &&
           a->light_scan_pen_circle_ink == b->light_scan_pen_circle_ink &&
           a->light_scan_pen_check_ink == b->light_scan_pen_check_ink &&
           a->light_scan_pen_fill_ink == b->light_scan_pen_fill_ink &&
           a->light_scan_eroded_traces == b->light_scan_eroded_traces &&
           a->light_scan_eroded_recovery_max == b->light_scan_eroded_recovery_max &&
           a->light_scan_eroded_ink == b->light_scan_eroded_ink &&
           a->light_scan_eroded_empty == b->light_scan_eroded_empty &&
           a->light_scan_multi_cells == b->light_scan_multi_cells &&
           a->light_scan_boxes == b->light_scan_boxes &&
           a->bitonal_hires_dpi == b->bitonal_hires_dpi &&
           a->bitonal_hires_blank_max == b->bitonal_hires_blank_max &&
           a->register_max_residual_mm == b->register_max_residual_mm &&
           a->light_ink_min == b->light_ink_min && a->trace_stroke_mm == b->trace_stroke_mm &&
           a->trace_span_mm == b->trace_span_mm && a->trace_piece_mm == b->trace_piece_mm &&
           a->circle_blackout_min == b->circle_blackout_min &&
           a->write_disagree_ink == b->write_disagree_ink && a->check_filled_min == b->check_filled_min &&
           a->bubble_blank_max == b->bubble_blank_max && a->bubble_marked_min == b->bubble_marked_min &&
           a->bubble_base_max == b->bubble_base_max && a->bubble_full_gap == b->bubble_full_gap &&
           a->bubble_full_min == b->bubble_full_min && a->bubble_blank_min == b->bubble_blank_min &&
           a->bubble_noise_k == b->bubble_noise_k && a->bubble_stand_out_min == b->bubble_stand_out_min &&
           a->bubble_stand_out_ratio == b->bubble_stand_out_ratio &&
           a->bubble_stand_out_noise == b->bubble_stand_out_noise;
}

static void test_calib_parse(void)
{
    omr_calib_t cal, def;
    omr_calib_default(&def);
    omr_error_t err = {0};
    /* The shipped profile parses and equals the built-in one. */
    CHECK_INT(omr_calib_load("calib/default.calib", &cal, &err), OMR_OK);
    CHECK(calib_equal(&cal, &def), "calib/default.calib differs from omr_calib_default()");
    CHECK_INT(omr_calib_parse("# only a comment\n\n circle.blank_max = 0.01 # why\n", "x.calib",
                              &cal, &err),
              OMR_OK);
    CHECK(fabs(cal.circle_blank_max - 0.01) < 1e-12);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"circle.blank_max = 0.01\n\nbogus.key = 1\n", "broken.calib:3: unknown key 'bogus.key'"},
        {"check.marked_min = 0.1x\n", "broken.calib:1: check.marked_min: '0.1x' is not a number"},
        {"# c\ncircle.blank_max 0.1\n", "broken.calib:2: expected 'key = value'"},
        {"circle.blank_max = 1.5\n", "broken.calib:1: circle.blank_max = 1.5 is outside 0..1"},
        {"circle.marked_min = 0.01\ncircle.blank_max = 0.05\n", "broken.calib:2: circle.blank_max"},
        {"label.only_marks = 2\n", "broken.calib:1: label.only_marks"},
        {"write.ink_min = 0.1\nwrite.ink_min = 0.2\n", "broken.calib:2: 'write.ink_min' set twice"},
        {"register.max_residual_mm = -1\n", "broken.calib:1: register.max_residual_mm"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK_INT(omr_calib_parse(bad[i].text, "broken.calib", &cal, &err), OMR_EINPUT);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "case %zu: message \"%s\", want \"%s\"", i,
              err.msg, bad[i].want);
        CHECK(calib_equal(&cal, &def), "case %zu: a failed parse leaves the defaults", i);
    }
    CHECK_INT(omr_calib_load("calib/no-such.calib", &cal, &err), OMR_EIO);
}

static void test_calib_roundtrip(void)
{
    omr_calib_t cal, back;
    omr_calib_default(&cal);
    cal.circle_blank_max = 0.0103;
    cal.batch_min_regions = 777;
    char path[] = "/tmp/omr-test-calib-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    omr_error_t err = {0};
    CHECK_INT(omr_calib_write(path, &cal, "a test\nsecond line", &err), OMR_OK);
    CHECK_INT(omr_calib_load(path, &back, &err), OMR_OK);
    CHECK(calib_equal(&back, &cal), "the profile read back differs from the one written");
    CHECK(fabs(back.circle_blank_max - 0.0103) < 1e-9);
    CHECK_INT(back.batch_min_regions, 777);
    unlink(path);
}

static void test_refine(void)
{
    /* A dusty batch: blank circles all carry some ink. The blank maximum
     * rises above it, within the limit; a clean batch changes nothing. */
    omr_calib_t base, out;
    omr_calib_default(&base);
    base.batch_min_regions = 100;
    const omr_page_t *pg = page();
    int np = 40;
    omr_page_result_t *pages = calloc((size_t)np, sizeof *pages);
    for (int p = 0; p < np; p++) {
        pages[p].status = OMR_PAGE_OK;
        snprintf(pages[p].form, sizeof pages[p].form, "A");
        pages[p].page_number = page_index + 1;
        pages[p].n_regions = pg->n_regions;
        pages[p].regions = calloc((size_t)pg->n_regions, sizeof *pages[p].regions);
    }
    char note[256];
    CHECK_INT(omr_classify_refine(&base, survey, pages, np, &out, note, sizeof note), 0);
    CHECK(out.circle_blank_max == base.circle_blank_max, "%s", note);
    for (int p = 0; p < np; p++)
        for (int i = 0; i < pg->n_regions; i++)
            pages[p].regions[i].m.ink = (float)(base.circle_blank_max * (0.5 + 0.4 * ((p + i) % 3)));
    CHECK(omr_classify_refine(&base, survey, pages, np, &out, note, sizeof note) > 0, "%s", note);
    CHECK(out.circle_blank_max > base.circle_blank_max, "%s", note);
    CHECK(out.circle_blank_max <= base.batch_circle_blank_limit, "%s", note);
    CHECK(out.circle_marked_min >= out.circle_blank_max);
    for (int p = 0; p < np; p++)
        omr_page_result_clear(&pages[p]);
    free(pages);
}

/* Bitonal scans at 300 dpi keep the higher blank maximum (a 0.002 trace is
 * a stray dot there); 200-dpi bitonal and grey scans keep the low one (the
 * same trace is a pencil tick: doubtful). */
static void test_scan_calib(void)
{
    omr_calib_t cal, sc;
    omr_calib_default(&cal);
    omr_region_t check = {.kind = OMR_REGION_CHECK};
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE};
    omr_region_result_t r = {0};
    omr_classify_scan_calib(&cal, 1, 300, &sc);
    r.m = (omr_measure_t){.ink = 0.002f, .darkness = 1};
    omr_classify_region(&check, &sc, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
    omr_classify_region(&circle, &sc, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
    r.m = (omr_measure_t){.ink = 0.004f, .darkness = 1};
    omr_classify_region(&circle, &sc, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    omr_classify_scan_calib(&cal, 1, 200, &sc);
    r.m = (omr_measure_t){.ink = 0.002f, .darkness = 1};
    omr_classify_region(&check, &sc, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    omr_classify_scan_calib(&cal, 8, 300, &sc);
    r.m = (omr_measure_t){.ink = 0.002f, .darkness = 0.7f};
    omr_classify_region(&circle, &sc, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    /* Off switch. */
    cal.bitonal_hires_dpi = 0;
    omr_classify_scan_calib(&cal, 1, 600, &sc);
    CHECK(sc.circle_blank_max == cal.circle_blank_max);
}

/* A cross-out seen by sampling (OMR_DOUBT_CROSSOUT on entry) turns a marked
 * reading doubtful; a blank reading stays blank and loses the bit. */
static void test_crossout_rule(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE};
    omr_region_result_t r = {0};
    r.m = (omr_measure_t){.ink = 0.9f, .darkness = 1};
    r.doubt = OMR_DOUBT_CROSSOUT;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_CROSSOUT);
    r.m = (omr_measure_t){.ink = 0, .darkness = 0};
    r.doubt = OMR_DOUBT_CROSSOUT;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
    /* without the sampler's bit: a circle read 0.4 is marked, a target
     * blacked out (0.9) is a cross-out all the same (circle.blackout_min) */
    r.m = (omr_measure_t){.ink = 0.4f, .darkness = 1};
    r.doubt = 0;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    r.m = (omr_measure_t){.ink = 0.9f, .darkness = 1};
    r.doubt = 0;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_CROSSOUT);
    cal.circle_blackout_min = 0; /* off: marked */
    r.doubt = 0;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    /* a checkbox has no such level: a filled box is a mark */
    omr_calib_default(&cal);
    omr_region_t box = {.kind = OMR_REGION_CHECK};
    r.doubt = 0;
    omr_classify_region(&box, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
}

/* Light ink only on a grey scan (sample.c reports its share with a darkness
 * below OMR_SAMPLE_DARK_MIN): at or above grey.light_ink_min doubtful FAINT,
 * below blank; a faint share never becomes a mark. */
static void test_light_ink_rule(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE};
    omr_region_result_t r = {0};
    r.m.ink = 0.04f;
    r.m.darkness = 0.08f;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    CHECK(r.doubt & OMR_DOUBT_FAINT);
    memset(&r, 0, sizeof r);
    r.m.ink = 0.004f;
    r.m.darkness = 0.08f;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
}

/* A faint pencil tick on a grey scan whose stroke is light nearly all
 * along but crosses the ink level (OMR_SAMPLE_DARK_MIN) for a millimetre:
 * the few dark points alone are too little ink and read blank, though the
 * tick is plain to see (the simulator's grey pages had 18 such checkboxes
 * exported as certain blanks). With its light ink it is doubtful FAINT; a
 * blank box beside it stays blank. Page A-03 at 300 dpi, paper 255. */
static void test_faint_tick_partly_dark(void)
{
    int k1 = region_of(OMR_REGION_CHECK, -1, 0), k2 = region_of(OMR_REGION_CHECK, k1, 0);
    CHECK(k1 >= 0 && k2 >= 0, "page A-03 has checkboxes");
    if (k1 < 0 || k2 < 0)
        return;
    PIX *pix = omr_print_render_page(survey, form, page_index, "000042", DPI, NULL);
    CHECK(pix != NULL);
    if (!pix)
        return;
    const omr_rect_t *b = &page()->regions[k1].box;
    double x = b->x + b->w / 2, y = b->y + b->h / 2, s = fmin(b->w, b->h) * 0.35;
    /* darkness ~0.10 (level 230), and ~0.18 (level 210) over 1 mm of the long arm */
    stroke(pix, x - s, y, x - s / 3, y + s * 0.8, 0.35, 230);
    stroke(pix, x - s / 3, y + s * 0.8, x + s, y - s, 0.35, 230);
    double ax = x - s / 3, ay = y + s * 0.8, bx = x + s, by = y - s;
    stroke(pix, ax + 0.35 * (bx - ax), ay + 0.35 * (by - ay), ax + 0.65 * (bx - ax), ay + 0.65 * (by - ay), 0.2,
           210);
    pixSetResolution(pix, (int)DPI, (int)DPI);
    omr_sample_cache_t *cache = NULL;
    CHECK_INT(omr_sample_cache_new(survey, &cache, NULL), OMR_OK);
    omr_page_result_t res;
    omr_error_t err = {0};
    CHECK_INT(recognise_a03(pix, DPI, cache, &res, &err), OMR_OK);
    if (res.status == OMR_PAGE_OK) {
        omr_calib_t cal;
        omr_calib_default(&cal);
        const omr_region_result_t *r1 = &res.regions[k1], *r2 = &res.regions[k2];
        CHECK(r1->m.darkness >= (float)OMR_SAMPLE_DARK_MIN && r1->m.ink <= cal.light_blank_max,
              "the dark part alone is too little ink: ink %.4f darkness %.3f", (double)r1->m.ink,
              (double)r1->m.darkness);
        CHECK(r1->state == OMR_MARK_DOUBTFUL && (r1->doubt & OMR_DOUBT_FAINT),
              "faint tick read %d (doubt %u; ink %.4f light %.4f darkness %.3f)", r1->state, r1->doubt,
              (double)r1->m.ink, (double)r1->m.light_share, (double)r1->m.darkness);
        CHECK(r2->state == OMR_MARK_BLANK, "blank box beside it read %d (light %.4f)", r2->state,
              (double)r2->m.light_share);
    } else {
        CHECK(0, "page not registered: %s", res.reason);
    }
    omr_page_result_clear(&res);
    omr_sample_cache_free(cache);
    pixDestroy(&pix);
}

/* The shape of a little ink (sample.h trace_*, calib.h trace_*). On circle
 * targets of page A-03 (ring 2 mm around a 9-pt number "1"): a thin pen
 * line drawn right through the number, 2 mm long, of which only its two
 * ends beside the print count (each well under 1 mm, 2 mm apart; too
 * little ink to be read a mark by its amount): a tick over the number, a
 * mark; a dust blot touching the number's side: one piece of at most
 * 0.5 mm, never a mark. Grey and 1 bpp at 300 dpi. */
static void test_trace_shape(void)
{
    int c1 = region_of(OMR_REGION_CIRCLE, -1, 1), c2 = region_of(OMR_REGION_CIRCLE, c1, 1);
    CHECK(c1 >= 0 && c2 >= 0, "page A-03 has circles");
    if (c1 < 0 || c2 < 0)
        return;
    omr_sample_cache_t *cache = NULL;
    CHECK_INT(omr_sample_cache_new(survey, &cache, NULL), OMR_OK);
    for (int bitonal = 0; bitonal <= 1; bitonal++) {
        PIX *pix = omr_print_render_page(survey, form, page_index, "000042", DPI, NULL);
        CHECK(pix != NULL);
        if (!pix)
            break;
        const omr_rect_t *b1 = &page()->regions[c1].box, *b2 = &page()->regions[c2].box;
        double x1 = b1->x + b1->w / 2, y1 = b1->y + b1->h / 2;
        stroke(pix, x1 - 1.0, y1 + 0.1, x1 + 1.0, y1 - 0.1, 0.15, 40);
        double x2 = b2->x + b2->w / 2, y2 = b2->y + b2->h / 2;
        blot(pix, DPI, x2 + 0.95, y2, 0.2, 30);
        PIX *scan = bitonal ? pixThresholdToBinary(pix, 128) : pixClone(pix);
        pixSetResolution(scan, (int)DPI, (int)DPI);
        omr_page_result_t res;
        omr_error_t err = {0};
        CHECK_INT(recognise_a03(scan, DPI, cache, &res, &err), OMR_OK);
        if (res.status == OMR_PAGE_OK) {
            const omr_region_result_t *r1 = &res.regions[c1], *r2 = &res.regions[c2];
            /* Too little ink for a mark by its amount: the shape decides. */
            CHECK(r1->m.ink > 0.001f && r1->m.ink < 0.012f, "%s: ink %.4f", bitonal ? "1bpp" : "grey",
                  (double)r1->m.ink);
            CHECK(r1->m.trace_span_mm >= 1.75f && r1->m.trace_span_mm <= 2.6f &&
                      r1->m.trace_piece_mm >= 0.45f && r1->m.trace_piece_mm <= 1.1f,
                  "%s: line through the number: ink %.4f pieces %.2f span %.2f mm", bitonal ? "1bpp" : "grey",
                  (double)r1->m.ink, (double)r1->m.trace_piece_mm, (double)r1->m.trace_span_mm);
            CHECK(r1->state == OMR_MARK_MARKED, "%s: line through the number read %d",
                  bitonal ? "1bpp" : "grey", r1->state);
            CHECK(r2->m.trace_piece_mm <= 0.6f && r2->state != OMR_MARK_MARKED,
                  "%s: blot at the number: ink %.4f piece %.2f mm, read %d", bitonal ? "1bpp" : "grey",
                  (double)r2->m.ink, (double)r2->m.trace_piece_mm, r2->state);
        } else {
            CHECK(0, "page not registered: %s", res.reason);
        }
        omr_page_result_clear(&res);
        pixDestroy(&scan);
        pixDestroy(&pix);
    }
    omr_sample_cache_free(cache);
}

/* The shape rule on measures (calib.h trace_*): a borderline trace with a
 * pen-stroke piece is marked, unless it is light, struck through, or the
 * rule is off; short pieces stay doubtful. A borderline circle with a clear
 * circle around its option text is marked. */
static void test_trace_rules(void)
{
    omr_calib_t cal;
    omr_calib_default(&cal);
    omr_region_t circle = {.kind = OMR_REGION_CIRCLE, .label = {10, 10, 20, 3}};
    omr_region_t check = {.kind = OMR_REGION_CHECK};
    const float mid = (float)(0.5 * (cal.circle_blank_max + cal.circle_marked_min));
    omr_region_result_t r = {0};
    /* One long piece. */
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 1.2f, .trace_span_mm = 1.2f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    CHECK(r.m.score >= 0.75f);
    omr_classify_region(&check, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    /* Two pieces on both sides of the print. */
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 0.75f, .trace_span_mm = 2.4f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    /* Dust-sized pieces, however far apart; one piece of 0.9 mm (a sliver). */
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 0.45f, .trace_span_mm = 3.0f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 0.9f, .trace_span_mm = 0.9f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    /* Light: stays doubtful (faint). */
    r.m = (omr_measure_t){.ink = mid,
                          .darkness = (float)(0.5 * (cal.faint_darkness + cal.erasure_darkness)),
                          .trace_piece_mm = 1.5f, .trace_span_mm = 1.5f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    /* Struck through. */
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 1.5f, .trace_span_mm = 1.5f};
    r.doubt = OMR_DOUBT_CROSSOUT;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    r.doubt = 0;
    /* Below the blank maximum the shape changes nothing. */
    r.m = (omr_measure_t){.ink = 0, .darkness = 0, .trace_piece_mm = 1.5f, .trace_span_mm = 1.5f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_BLANK);
    /* The rule turned off. */
    cal.trace_stroke_mm = 0;
    r.m = (omr_measure_t){.ink = mid, .darkness = 1, .trace_piece_mm = 1.5f, .trace_span_mm = 1.5f};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    omr_calib_default(&cal);
    /* A borderline number with a clear circle around the text. */
    r.m = (omr_measure_t){.ink = mid, .ink_label = (float)cal.label_marked_min + 0.1f, .darkness = 1};
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_MARKED);
    CHECK(r.doubt & OMR_DOUBT_LABEL_ONLY);
    cal.label_only_marks = 0;
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
    omr_calib_default(&cal);
    /* ...but not when the ink is light. */
    r.m.darkness = (float)(0.5 * (cal.faint_darkness + cal.erasure_darkness));
    omr_classify_region(&circle, &cal, &r);
    CHECK_INT(r.state, OMR_MARK_DOUBTFUL);
}

int main(void)
{
    omr_quiet_libraries();
    if (check_load_survey(&survey))
        return 1;
    form = omr_template_form(survey, "A");
    RUN(test_calib_parse);
    RUN(test_calib_roundtrip);
    RUN(test_classify_rules);
    RUN(test_traces_are_doubtful);
    RUN(test_trace_rules);
    RUN(test_scan_calib);
    RUN(test_crossout_rule);
    RUN(test_marks_grey_and_1bpp);
    RUN(test_dust_is_blank);
    RUN(test_trace_shape);
    RUN(test_light_scan_rule);
    RUN(test_light_scan_pen);
    RUN(test_light_scan_eroded);
    RUN(test_light_scan_fills);
    RUN(test_light_scan_traces);
    RUN(test_light_scan_boxes);
    RUN(test_boxes_disagree);
    RUN(test_filled_cancels);
    RUN(test_light_scan);
    RUN(test_register_failure_is_a_page_status);
    RUN(test_refine);
    RUN(test_light_ink_rule);
    RUN(test_faint_tick_partly_dark);
    omr_template_free(survey);
    return check_report();
}
