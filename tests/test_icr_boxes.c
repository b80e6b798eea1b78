/* test_icr_boxes.c -- reading the handwritten boxes of a scanned page
 * (omr/icr_boxes.h) end to end: a template page is rendered
 * (omr_print_render_page), real MNIST digits of the smoke set (validation
 * digits never trained on; their labels are the truth) are drawn into the
 * top-3 boxes at known places, a tick into one box, and the page is "scanned"
 * as 8-bit grey or 1 bpp, upright or upside down; then registered
 * (register.h) and read. Checked: every empty box and text field reads
 * empty (a text field with only dust too), every written box written (a
 * text field with a short pen word or one faint pencil stroke too), >= 95 % of the digit proposals right,
 * the tick is not a digit.
 *
 * Data: $OMR_DIGITS, else ../shared/data/digits, else /work/shared/data/digits, else tests/data/digits
 * (a missing data set is a failure, not a skip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "icr_boxes.h"
#include "print.h"
#include "register.h"
#include "template.h"

#define DPI 300.0
#define TRIALS 20 /* pages per scan variant: 60 digits, 10 ticks */

static omr_survey_t *survey;
static const omr_form_t *form;
static PIX *blank; /* form A page 5 (問11, 問16: six top-3 boxes), rendered */
static omr_icr_idx_t img, lab;

static const char *digits_dir(void)
{
    const char *env = getenv("OMR_DIGITS");
    if (env && *env)
        return env;
    if (access("../shared/data/digits/smoke-images-idx3-ubyte", R_OK) == 0)
        return "../shared/data/digits";
    if (access("/work/shared/data/digits/smoke-images-idx3-ubyte", R_OK) == 0)
        return "/work/shared/data/digits";
    return "tests/data/digits"; /* the small committed copy */
}

/* Region index of var on page pi, or -1. */
static int region_of(int pi, const char *var)
{
    const omr_page_t *pg = &form->pages[pi];
    for (int i = 0; i < pg->n_regions; i++)
        if (!strcmp(pg->regions[i].var, var))
            return i;
    return -1;
}

/* Draw MNIST image k (0 = paper, 255 = ink) into box b (mm) of the upright
 * page, its 28x28 field scaled so the digit is ~70 % of the box height,
 * shifted by (dx, dy) mm from the centre. Dark ink: grey = 255 - 0.9 * v. */
static void draw_digit(PIX *pix, const uint8_t *im, omr_rect_t b, double dx, double dy)
{
    double k = DPI / 25.4;
    double side = b.h * 0.7 * 28.0 / 20.0; /* mm covered by the 28x28 field */
    double x0 = b.x + (b.w - side) / 2 + dx, y0 = b.y + (b.h - side) / 2 + dy;
    int px0 = (int)floor(x0 * k), py0 = (int)floor(y0 * k);
    int n = (int)ceil(side * k) + 1;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double u = ((px0 + i + 0.5) / k - x0) / side * 28 - 0.5;
            double v = ((py0 + j + 0.5) / k - y0) / side * 28 - 0.5;
            int iu = (int)floor(u), iv = (int)floor(v);
            double fu = u - iu, fv = v - iv, val = 0;
            for (int q = 0; q < 4; q++) {
                int xx = iu + (q & 1), yy = iv + (q >> 1);
                if (xx < 0 || yy < 0 || xx >= 28 || yy >= 28)
                    continue;
                val += ((q & 1) ? fu : 1 - fu) * ((q >> 1) ? fv : 1 - fv) * im[yy * 28 + xx];
            }
            if (val < 8)
                continue;
            l_uint32 old;
            pixGetPixel(pix, px0 + i, py0 + j, &old);
            int g = (int)lround(255 - 0.9 * val);
            if (g < (int)old)
                pixSetPixel(pix, px0 + i, py0 + j, (l_uint32)g);
        }
}

/* A line of half-width r mm and grey level g from (ax, ay) to (bx, by) mm. */
static void draw_line(PIX *pix, double ax, double ay, double bx, double by, double r, int g)
{
    double k = DPI / 25.4;
    int x0 = (int)floor((fmin(ax, bx) - r) * k), x1 = (int)ceil((fmax(ax, bx) + r) * k);
    int y0 = (int)floor((fmin(ay, by) - r) * k), y1 = (int)ceil((fmax(ay, by) + r) * k);
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double px = (x + 0.5) / k - ax, py = (y + 0.5) / k - ay;
            double t = (px * dx + py * dy) / l2;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            if (hypot(px - t * dx, py - t * dy) <= r)
                pixSetPixel(pix, x, y, (l_uint32)g);
        }
}

/* A pen stroke 0.4 mm wide from (ax, ay) to (bx, by) mm. */
static void draw_stroke(PIX *pix, double ax, double ay, double bx, double by)
{
    draw_line(pix, ax, ay, bx, by, 0.2, 30);
}

/* What is drawn into the page's first text field, by trial: */
enum {
    TEXT_PEN,    /* a short word in pen: written */
    TEXT_PENCIL, /* one faint, thin pencil stroke 3.2 mm long (0.24 mm wide,
                    grey 120, still ink on a bitonal scan): written */
    TEXT_DUST,   /* a dozen specks of 0.2-0.3 mm: empty */
    TEXT_NONE,   /* nothing: empty */
    TEXT_KINDS
};

static void draw_text_field(PIX *pix, omr_rect_t b, int kind)
{
    double x = b.x + 5, y = b.y + b.h / 2;
    if (kind == TEXT_PEN) /* "N" "I" "L" */
        for (int c = 0; c < 3; c++, x += 4) {
            draw_stroke(pix, x, y + 1.5, x, y - 1.5);
            if (c == 0)
                draw_stroke(pix, x, y - 1.5, x + 2, y + 1.5), draw_stroke(pix, x + 2, y + 1.5, x + 2, y - 1.5);
            if (c == 2)
                draw_stroke(pix, x, y + 1.5, x + 2, y + 1.5);
        }
    else if (kind == TEXT_PENCIL)
        draw_line(pix, x, y - 1, x + 2.5, y + 1, 0.12, 120);
    else if (kind == TEXT_DUST)
        for (int i = 0; i < 12; i++) {
            double sx = b.x + 3 + fmod(i * 7.3, b.w - 6), sy = b.y + 1 + fmod(i * 1.7, b.h - 2);
            draw_line(pix, sx, sy, sx + 0.05 * (i % 3), sy, 0.1 + 0.02 * (i % 3), 40);
        }
}

/* A tick (check mark) in box b. */
static void draw_tick(PIX *pix, omr_rect_t b)
{
    double cx = b.x + b.w / 2, cy = b.y + b.h / 2;
    draw_stroke(pix, cx - 2.5, cy, cx - 0.8, cy + 2.5);
    draw_stroke(pix, cx - 0.8, cy + 2.5, cx + 3, cy - 3.5);
}

/* Next smoke image whose label is in allowed (bits) and not in used (bits),
 * from *pk on. */
static int next_digit(int *pk, unsigned allowed, unsigned used)
{
    for (; *pk < img.n; (*pk)++)
        if ((allowed >> lab.data[*pk] & 1) && !(used >> lab.data[*pk] & 1))
            return (*pk)++;
    return -1;
}

static void setup(void)
{
    omr_error_t err = {0};
    if (omr_template_load("templates/ipa-itsc-2018", &survey, &err) != OMR_OK) {
        fprintf(stderr, "template: %s\n", err.msg);
        return;
    }
    form = omr_template_form(survey, "A");
    if (form)
        blank = omr_print_render_page(survey, form, 4, "000001", DPI, &err);
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/smoke-images-idx3-ubyte", digits_dir());
    snprintf(lp, sizeof lp, "%s/smoke-labels-idx1-ubyte", digits_dir());
    if (omr_icr_idx_load(ip, &img, &err) != OMR_OK || omr_icr_idx_load(lp, &lab, &err) != OMR_OK)
        fprintf(stderr, "digits: %s\n", err.msg);
}

/* Totals over one scan variant. */
typedef struct {
    int empty_ok, empty_n, written_ok, written_n, right, proposals, tick_ok, tick_n, text_ok,
        text_n, text_written_ok, text_written_n, pages_ok, pages;
} score_t;

/* One trial page: Q11 boxes 1-2 written, box 3 empty; Q16 box 1 written,
 * box 2 a tick (trial odd) or empty, box 3 empty. Scanned per variant. */
static void run_variant(int bitonal, int upside_down, score_t *sc)
{
    const int pi = 4;
    const omr_page_t *pg = &form->pages[pi];
    const char *q11[3] = {"Q11_r1", "Q11_r2", "Q11_r3"}, *q16[3] = {"Q16_r1", "Q16_r2", "Q16_r3"};
    int ri11[3], ri16[3];
    for (int b = 0; b < 3; b++) {
        ri11[b] = region_of(pi, q11[b]);
        ri16[b] = region_of(pi, q16[b]);
        CHECK(ri11[b] >= 0 && ri16[b] >= 0, "box %d of Q11/Q16 missing from A-05", b + 1);
        if (ri11[b] < 0 || ri16[b] < 0)
            return;
    }
    int k = upside_down * 500 + bitonal * 250; /* different digits per variant */
    for (int trial = 0; trial < TRIALS; trial++) {
        PIX *page = pixCopy(NULL, blank);
        int truth[64];
        for (int i = 0; i < 64; i++)
            truth[i] = -2; /* -2: not a box under test */
        /* Q11 options 1..7, Q16 options 1..6; distinct values per question;
         * offsets up to 0.8 mm from the centre. */
        unsigned used = 0;
        for (int b = 0; b < 2; b++) {
            int d = next_digit(&k, 0xFE, used);
            if (d < 0)
                break;
            used |= 1u << lab.data[d];
            draw_digit(page, img.data + (size_t)d * 784, pg->regions[ri11[b]].box,
                       0.8 * ((trial + b) % 3 - 1), 0.5 * (trial % 2));
            truth[ri11[b]] = lab.data[d];
        }
        truth[ri11[2]] = -1;
        int d = next_digit(&k, 0x7E, 0);
        if (d >= 0) {
            draw_digit(page, img.data + (size_t)d * 784, pg->regions[ri16[0]].box, 0, 0);
            truth[ri16[0]] = lab.data[d];
        }
        if (trial % 2)
            draw_tick(page, pg->regions[ri16[1]].box), truth[ri16[1]] = 10; /* 10 = tick */
        else
            truth[ri16[1]] = -1;
        truth[ri16[2]] = -1;
        int ti = -1; /* first text field: its contents by trial */
        for (int i = 0; i < pg->n_regions && ti < 0; i++)
            if (pg->regions[i].kind == OMR_REGION_TEXT)
                ti = i;
        int text_kind = trial % TEXT_KINDS;
        if (ti >= 0)
            draw_text_field(page, pg->regions[ti].box, text_kind);

        PIX *scan = page;
        if (upside_down) {
            scan = pixRotate180(NULL, page);
            pixDestroy(&page);
        }
        if (bitonal) {
            PIX *b1 = pixThresholdToBinary(scan, 128);
            pixDestroy(&scan);
            scan = b1;
        }
        pixSetResolution(scan, (int)DPI, (int)DPI);
        sc->pages++;
        omr_register_t reg;
        omr_error_t err = {0};
        if (omr_register_page(scan, pg, upside_down ? 180 : 0, DPI, NULL, &reg, &err) != OMR_OK) {
            CHECK(0, "register (bitonal %d, upside down %d): %s", bitonal, upside_down, err.msg);
            pixDestroy(&scan);
            continue;
        }
        omr_region_result_t *rr = calloc((size_t)pg->n_regions, sizeof *rr);
        omr_status_t st = omr_icr_read_page(scan, reg.xform, form, pi, rr, &err);
        CHECK(st == OMR_OK, "read: %s", err.msg);
        if (st == OMR_OK) {
            sc->pages_ok++;
            for (int i = 0; i < pg->n_regions && i < 64; i++) {
                const omr_region_result_t *r = &rr[i];
                if (pg->regions[i].kind == OMR_REGION_TEXT) {
                    int want = i == ti && (text_kind == TEXT_PEN || text_kind == TEXT_PENCIL);
                    if (want) {
                        sc->text_written_n++;
                        sc->text_written_ok += r->has_ink && r->state == OMR_MARK_MARKED;
                    } else {
                        sc->text_n++;
                        sc->text_ok += !r->has_ink && r->state == OMR_MARK_BLANK;
                    }
                    if (r->has_ink != want)
                        printf("  text field %s trial %d (kind %d): read %s\n", pg->regions[i].var,
                               trial, i == ti ? text_kind : TEXT_NONE, r->has_ink ? "written" : "empty");
                    continue;
                }
                if (truth[i] == -2)
                    continue;
                if (truth[i] == -1) {
                    sc->empty_n++;
                    sc->empty_ok += !r->has_ink && r->digit == -1;
                } else if (truth[i] == 10) {
                    sc->tick_n++;
                    sc->tick_ok += r->has_ink && r->digit == -1 && (r->doubt & OMR_DOUBT_NOT_DIGIT);
                } else {
                    sc->written_n++;
                    sc->written_ok += r->has_ink;
                    sc->proposals++;
                    sc->right += r->digit == truth[i];
                    if (r->digit != truth[i])
                        printf("  misread: %s trial %d: %d read as %d (conf %.3f)\n",
                               pg->regions[i].var, trial, truth[i], r->digit,
                               (double)r->digit_conf);
                }
            }
        }
        free(rr);
        pixDestroy(&scan);
    }
}

static void check_variant(int bitonal, int upside_down)
{
    CHECK(blank && img.n == 1000 && lab.n == 1000, "setup failed (template, render or digits)");
    if (!blank || img.n != 1000 || lab.n != 1000)
        return;
    score_t sc = {0};
    run_variant(bitonal, upside_down, &sc);
    printf("  %s %s: pages %d/%d, empty %d/%d, written %d/%d, right %d/%d, tick %d/%d, text "
           "fields empty %d/%d, written %d/%d\n",
           bitonal ? "1bpp" : "8bit", upside_down ? "180" : "0", sc.pages_ok, sc.pages,
           sc.empty_ok, sc.empty_n, sc.written_ok, sc.written_n, sc.right, sc.proposals,
           sc.tick_ok, sc.tick_n, sc.text_ok, sc.text_n, sc.text_written_ok, sc.text_written_n);
    CHECK_INT(sc.pages_ok, TRIALS);
    CHECK_INT(sc.empty_ok, sc.empty_n);
    CHECK_INT(sc.written_ok, sc.written_n);
    CHECK(sc.written_n >= 2 * TRIALS, "only %d written boxes", sc.written_n);
    CHECK(sc.right * 100 >= 95 * sc.proposals, "%d of %d proposals right (< 95 %%)", sc.right,
          sc.proposals);
    CHECK_INT(sc.tick_ok, sc.tick_n);
    CHECK_INT(sc.text_ok, sc.text_n);
    CHECK_INT(sc.text_written_ok, sc.text_written_n);
    CHECK(sc.text_written_n >= TRIALS / 2, "only %d written text fields", sc.text_written_n);
}

static void test_grey_upright(void) { check_variant(0, 0); }
static void test_grey_upside_down(void) { check_variant(0, 1); }
static void test_bitonal_upright(void) { check_variant(1, 0); }
static void test_bitonal_upside_down(void) { check_variant(1, 1); }

/* Faint pencil on a grey page (omr_icr_light_ink): the page's paper is
 * dimmed to 200, every pixel gets JPEG-like noise (sd ~3 per pixel plus a
 * +-2 offset per 8x8 block, deterministic), and an MNIST digit is drawn
 * only 16 levels under the paper into Q11 box 1: too light for the reader
 * (the stretch needs 8 noise sd), so it must come out written but doubtful
 * (has_ink 1, DOUBTFUL, OMR_DOUBT_FAINT), never certain-empty. The other
 * five top-3 boxes of the page are empty and must stay empty. */
static void test_faint_grey(void)
{
    CHECK(blank && img.n == 1000, "setup failed");
    if (!blank || img.n != 1000)
        return;
    const int pi = 4;
    const omr_page_t *pg = &form->pages[pi];
    const char *vars[6] = {"Q11_r1", "Q11_r2", "Q11_r3", "Q16_r1", "Q16_r2", "Q16_r3"};
    int ri[6];
    for (int b = 0; b < 6; b++) {
        ri[b] = region_of(pi, vars[b]);
        CHECK(ri[b] >= 0, "%s missing from A-05", vars[b]);
        if (ri[b] < 0)
            return;
    }
    int faint_ok = 0, empty_ok = 0, empty_n = 0, pages = 0;
    unsigned seed = 12345;
    for (int trial = 0; trial < 6; trial++) {
        PIX *page = pixCopy(NULL, blank);
        int w = (int)pixGetWidth(page), h = (int)pixGetHeight(page);
        const uint8_t *im = img.data + (size_t)(trial * 37 % img.n) * 784;
        /* the digit: as draw_digit, at 22 levels of contrast over paper 200 */
        omr_rect_t b = pg->regions[ri[0]].box;
        double k = DPI / 25.4, side = b.h * 0.7 * 28.0 / 20.0;
        double x0 = b.x + (b.w - side) / 2, y0 = b.y + (b.h - side) / 2;
        int px0 = (int)floor(x0 * k), py0 = (int)floor(y0 * k), n = (int)ceil(side * k) + 1;
        float *dig = calloc((size_t)n * n, sizeof *dig);
        for (int j = 0; j < n && dig; j++)
            for (int i = 0; i < n; i++) {
                int u = (int)(((px0 + i + 0.5) / k - x0) / side * 28);
                int v = (int)(((py0 + j + 0.5) / k - y0) / side * 28);
                if (u >= 0 && v >= 0 && u < 28 && v < 28)
                    dig[j * n + i] = im[v * 28 + u] / 255.0f;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                l_uint32 v;
                pixGetPixel(page, x, y, &v);
                double g = v * 200.0 / 255.0;
                int i = x - px0, j = y - py0;
                if (dig && i >= 0 && j >= 0 && i < n && j < n)
                    g -= 16.0 * dig[j * n + i];
                /* noise: sum of 3 uniforms (sd ~3) + a block offset */
                double z = 0;
                for (int r = 0; r < 3; r++) {
                    seed = seed * 1103515245u + 12345u;
                    z += ((seed >> 16) & 0x7FFF) / 32767.0 - 0.5;
                }
                unsigned bh = (unsigned)(x / 8) * 2654435761u ^ (unsigned)(y / 8) * 40503u;
                g += z * 6.0 + (double)((bh >> 13) % 5) - 2.0;
                pixSetPixel(page, x, y, (l_uint32)(g < 0 ? 0 : g > 255 ? 255 : lround(g)));
            }
        free(dig);
        pixSetResolution(page, (int)DPI, (int)DPI);
        omr_register_t reg;
        omr_error_t err = {0};
        if (omr_register_page(page, pg, 0, DPI, NULL, &reg, &err) != OMR_OK) {
            CHECK(0, "register: %s", err.msg);
            pixDestroy(&page);
            continue;
        }
        omr_region_result_t *rr = calloc((size_t)pg->n_regions, sizeof *rr);
        omr_icr_box_reading_t *rd = calloc((size_t)pg->n_regions, sizeof *rd);
        if (rr && rd && omr_icr_read_page_ex(page, reg.xform, form, pi, rr, rd, &err) == OMR_OK) {
            pages++;
            const omr_region_result_t *f = &rr[ri[0]];
            int ok = f->has_ink && f->state == OMR_MARK_DOUBTFUL && (f->doubt & OMR_DOUBT_FAINT);
            faint_ok += ok;
            if (!ok)
                printf("  faint digit trial %d: has_ink %d state %d doubt %#x (share %.4f, "
                       "piece %.1f mm)\n", trial, f->has_ink, f->state, f->doubt,
                       (double)rd[ri[0]].light_share, (double)rd[ri[0]].light_extent_mm);
            for (int e = 1; e < 6; e++) {
                const omr_region_result_t *r = &rr[ri[e]];
                empty_n++;
                int eok = !r->has_ink && r->state == OMR_MARK_BLANK && r->digit == -1;
                empty_ok += eok;
                if (!eok)
                    printf("  empty box %s trial %d read written (share %.4f, piece %.1f mm)\n",
                           vars[e], trial, (double)rd[ri[e]].light_share,
                           (double)rd[ri[e]].light_extent_mm);
            }
        } else {
            CHECK(0, "read: %s", err.msg);
        }
        free(rr), free(rd);
        pixDestroy(&page);
    }
    printf("  faint grey: pages %d/6, faint digit doubtful %d, empty %d/%d\n", pages, faint_ok,
           empty_ok, empty_n);
    CHECK_INT(pages, 6);
    CHECK_INT(faint_ok, pages);
    CHECK_INT(empty_ok, empty_n);
}

/* Bad arguments are refused with a message, never a crash. */
static void test_bad_input(void)
{
    omr_error_t err = {0};
    double xf[6] = {DPI / 25.4, 0, 0, 0, DPI / 25.4, 0};
    omr_region_result_t rr[4];
    CHECK_INT(omr_icr_read_page(NULL, xf, form, 0, rr, &err), OMR_EINPUT);
    if (!blank)
        return;
    CHECK_INT(omr_icr_read_page(blank, xf, form, 99, rr, &err), OMR_EINPUT);
    CHECK(strstr(err.msg, "page") != NULL, "message: %s", err.msg);
    PIX *p32 = pixCreate(100, 100, 32);
    CHECK_INT(omr_icr_read_page(p32, xf, form, 4, rr, &err), OMR_EINPUT);
    pixDestroy(&p32);
}

int main(void)
{
    setup();
    RUN(test_grey_upright);
    RUN(test_grey_upside_down);
    RUN(test_bitonal_upright);
    RUN(test_bitonal_upside_down);
    RUN(test_faint_grey);
    RUN(test_bad_input);
    pixDestroy(&blank);
    omr_icr_idx_free(&img);
    omr_icr_idx_free(&lab);
    omr_template_free(survey);
    omr_print_shutdown();
    return check_report();
}
