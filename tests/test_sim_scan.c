/* test_sim_scan.c -- the simulator's scanner model and image writers
 * (tools/simulate/scanner.c, output.c), on synthetic pages.
 *
 * The scanner must put every paper point where the recorded skew, shift,
 * scale and upside-down say (truth/pages.csv is only worth something if it
 * does), and the writers must give files that libtiff, libpng and libjpeg read
 * back with the right page count, resolution and pixels. The tool's sources
 * are compiled into this test directly, since tools are not in libomr.a.
 */
#include "../tools/simulate/output.c"
#include "../tools/simulate/rng.c"
#include "../tools/simulate/scanner.c"

#include "check.h"

#include <unistd.h>

/* Files go to a private temporary folder, removed at the end. */
static char tmp_dir[] = "/tmp/test_sim_scan.XXXXXX";
static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

#define PAGE_W_MM 210.0
#define PAGE_H_MM 297.0

/* A white A4 page at dpi with black squares of side 4 mm centred on pts. */
static sim_image_t *synthetic_page(int dpi, const double (*pts)[2], int n)
{
    double k = dpi / 25.4;
    sim_image_t *img = sim_image_new((int)lround(PAGE_W_MM * k), (int)lround(PAGE_H_MM * k), 8, dpi);
    if (!img)
        return NULL;
    memset(img->data, 255, (size_t)img->stride * img->h);
    for (int i = 0; i < n; i++) {
        int x0 = (int)lround((pts[i][0] - 2) * k), x1 = (int)lround((pts[i][0] + 2) * k);
        int y0 = (int)lround((pts[i][1] - 2) * k), y1 = (int)lround((pts[i][1] + 2) * k);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                img->data[(size_t)y * img->stride + x] = 0;
    }
    /* a thin rule, so the page is not only squares */
    int ry = (int)lround(150 * k);
    for (int x = (int)lround(30 * k); x < (int)lround(180 * k); x++)
        img->data[(size_t)ry * img->stride + x] = 0;
    return img;
}

/* Darkness-weighted centroid of the pixels in a window around (cx, cy), in
 * continuous coordinates (pixel centres at i + 0.5). Works on 8 and 1 bpp. */
static int blob_centroid(const sim_image_t *img, double cx, double cy, double radius, double *px,
                         double *py)
{
    double sw = 0, sx = 0, sy = 0;
    for (int y = (int)(cy - radius); y <= (int)(cy + radius); y++) {
        if (y < 0 || y >= img->h)
            continue;
        for (int x = (int)(cx - radius); x <= (int)(cx + radius); x++) {
            if (x < 0 || x >= img->w)
                continue;
            const uint8_t *row = img->data + (size_t)y * img->stride;
            double wgt;
            if (img->bpp == 8)
                wgt = row[x] < 128 ? 128 - row[x] : 0;
            else
                wgt = (row[x >> 3] & (0x80 >> (x & 7))) ? 1 : 0;
            sw += wgt;
            sx += wgt * (x + 0.5);
            sy += wgt * (y + 0.5);
        }
    }
    if (sw <= 0)
        return -1;
    *px = sx / sw;
    *py = sy / sw;
    return 0;
}

static void base_scan(sim_scan_t *s, int dpi, sim_format_t fmt)
{
    memset(s, 0, sizeof *s);
    s->condition = "test";
    s->dpi = dpi;
    s->format = fmt;
    s->scale = 1;
    s->paper = 250;
    s->ink = 10;
    s->backing = 255;
    s->streak_x = -1;
    s->threshold = 130;
    s->jpeg_quality = 90;
    s->white_cut = 256;
}

/* The mapping itself, against hand computation. */
static void test_map_identity_and_shift(void)
{
    sim_scan_t s;
    base_scan(&s, 300, SIM_FMT_PNG);
    double x, y, k = 300 / 25.4;
    sim_scan_map(&s, PAGE_W_MM, PAGE_H_MM, 20, 30, &x, &y);
    CHECK(fabs(x - 20 * k) < 1e-6 && fabs(y - 30 * k) < 1e-6, "(%g, %g)", x, y);
    s.shift_x_mm = 5;
    s.shift_y_mm = -3;
    sim_scan_map(&s, PAGE_W_MM, PAGE_H_MM, 20, 30, &x, &y);
    CHECK(fabs(x - 25 * k) < 1e-6 && fabs(y - 27 * k) < 1e-6, "(%g, %g)", x, y);
}

static void test_map_upside_down(void)
{
    sim_scan_t s;
    base_scan(&s, 200, SIM_FMT_G4);
    s.upside_down = 1;
    double x, y, k = 200 / 25.4;
    sim_scan_map(&s, PAGE_W_MM, PAGE_H_MM, 20, 30, &x, &y);
    CHECK(fabs(x - (PAGE_W_MM - 20) * k) < 1e-6 && fabs(y - (PAGE_H_MM - 30) * k) < 1e-6, "(%g, %g)", x, y);
}

static void test_map_skew_clockwise_and_scale(void)
{
    sim_scan_t s;
    base_scan(&s, 300, SIM_FMT_PNG);
    s.skew_deg = 2;
    double x, y, k = 300 / 25.4;
    /* A point 50 mm right of the centre goes down by 50·sin 2° (clockwise). */
    sim_scan_map(&s, PAGE_W_MM, PAGE_H_MM, 105 + 50, 148.5, &x, &y);
    CHECK(fabs(y - (148.5 + 50 * sin(2 * M_PI / 180)) * k) < 1e-6, "y %g", y);
    CHECK(fabs(x - (105 + 50 * cos(2 * M_PI / 180)) * k) < 1e-6, "x %g", x);
    s.skew_deg = 0;
    s.scale = 1.03;
    sim_scan_map(&s, PAGE_W_MM, PAGE_H_MM, 5, 8.5, &x, &y);
    CHECK(fabs(x - (105 - 100 * 1.03) * k) < 1e-6 && fabs(y - (148.5 - 140 * 1.03) * k) < 1e-6,
          "(%g, %g)", x, y);
}

static const double points[][2] = {{12, 12}, {198, 12}, {12, 285}, {198, 285}, {60, 90}, {150, 210}};
#define N_POINTS ((int)(sizeof points / sizeof points[0]))

/* Scan a page with squares and find each square where sim_scan_map says. */
static void check_points_land(const sim_scan_t *s, int page_dpi, double tol_px)
{
    sim_image_t *page = synthetic_page(page_dpi, points, N_POINTS);
    CHECK(page != NULL);
    if (!page)
        return;
    sim_rng_t rng;
    sim_rng_seed(&rng, 7, 1);
    sim_image_t *out = sim_scan_page(page, s, &rng);
    CHECK(out != NULL);
    if (out) {
        CHECK_INT(out->w, (int)lround(page->w * (double)s->dpi / page_dpi));
        CHECK_INT(out->dpi, s->dpi);
        int checked = 0;
        for (int i = 0; i < N_POINTS; i++) {
            double ex, ey, gx = -1, gy = -1, r = 4.5 * s->dpi / 25.4;
            sim_scan_map(s, PAGE_W_MM, PAGE_H_MM, points[i][0], points[i][1], &ex, &ey);
            /* a square pushed (partly) off the image by the shift cannot be found whole */
            if (ex - r < 0 || ey - r < 0 || ex + r >= out->w || ey + r >= out->h)
                continue;
            checked++;
            /* 4 mm square plus skew: a 4.5 mm window holds it and nothing else */
            int rc = blob_centroid(out, ex, ey, 4.5 * s->dpi / 25.4, &gx, &gy);
            CHECK(rc == 0 && fabs(gx - ex) <= tol_px && fabs(gy - ey) <= tol_px,
                  "point %d (%g,%g mm): expected (%.2f, %.2f) px, found (%.2f, %.2f)", i,
                  points[i][0], points[i][1], ex, ey, gx, gy);
        }
        CHECK(checked >= 4, "only %d squares inside the image", checked);
    }
    sim_image_free(out);
    sim_image_free(page);
}

static void test_warp_matches_record_grey(void)
{
    sim_scan_t s;
    base_scan(&s, 200, SIM_FMT_PNG);
    s.skew_deg = 3.2;
    s.shift_x_mm = 2.5;
    s.shift_y_mm = -3;
    s.scale = 1.02;
    s.upside_down = 1;
    check_points_land(&s, 150, 1.0);
}

static void test_warp_matches_record_bitonal_noisy(void)
{
    sim_scan_t s;
    base_scan(&s, 300, SIM_FMT_G4);
    s.skew_deg = -4.7;
    s.shift_x_mm = -8;
    s.shift_y_mm = 5;
    s.scale = 0.975;
    s.noise_sd = 4;
    s.blur = 2;
    s.grad_x = 0.1;
    s.vignette = 0.05;
    s.paper = 225;
    s.ink = 50;
    s.threshold = 140;
    check_points_land(&s, 300, 1.0);
}

/* The same stream gives the same pixels; another stream other noise. */
static void test_scan_deterministic(void)
{
    sim_image_t *page = synthetic_page(100, points, N_POINTS);
    const sim_condition_t *c = sim_condition_find("rough");
    CHECK(c != NULL);
    if (!page || !c) {
        sim_image_free(page);
        return;
    }
    sim_image_t *img[3];
    for (int i = 0; i < 3; i++) {
        sim_rng_t rng;
        sim_rng_seed(&rng, 42, i == 2 ? 2 : 1);
        sim_scan_t s;
        sim_scan_packet(c, &rng, 100, SIM_FMT_LZW, &s);
        sim_scan_sheet(c, &rng, &s);
        img[i] = sim_scan_page(page, &s, &rng);
    }
    CHECK(img[0] && img[1] && img[2]);
    if (img[0] && img[1] && img[2]) {
        size_t n = (size_t)img[0]->stride * img[0]->h;
        CHECK(memcmp(img[0]->data, img[1]->data, n) == 0, "same stream, different pixels");
        CHECK(img[2]->w != img[0]->w || memcmp(img[0]->data, img[2]->data, n) != 0,
              "other stream, same pixels");
    }
    for (int i = 0; i < 3; i++)
        sim_image_free(img[i]);
    sim_image_free(page);
}

/* Every condition stays within the limits. */
static void test_conditions_within_limits(void)
{
    int n;
    const sim_condition_t *cs = sim_conditions(&n);
    double total = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        total += cs[i].share;
        for (int k = 0; k < 2000; k++) {
            sim_rng_t rng;
            sim_rng_seed(&rng, 3, (uint64_t)(i * 100000 + k));
            sim_scan_t s;
            sim_scan_packet(&cs[i], &rng, 0, -1, &s);
            sim_scan_sheet(&cs[i], &rng, &s);
            if (fabs(s.skew_deg) > 5 || fabs(s.shift_x_mm) > 10 || fabs(s.shift_y_mm) > 10 ||
                fabs(s.scale - 1) > 0.03 || (s.dpi != 200 && s.dpi != 300 && s.dpi != 600) ||
                s.threshold <= s.ink || s.threshold >= s.paper)
                bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(fabs(total - 1) < 1e-9, "shares sum to %g", total);
}

static sim_image_t *pattern_image(int w, int h, int bpp, int dpi, int seed)
{
    sim_image_t *img = sim_image_new(w, h, bpp, dpi);
    if (!img)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < img->stride; x++)
            img->data[(size_t)y * img->stride + x] = (uint8_t)((x * 7 + y * 13 + seed * 31) ^ (x * y));
    if (bpp == 1 && (w & 7)) /* padding bits beyond the width are not pixels */
        for (int y = 0; y < h; y++)
            img->data[(size_t)y * img->stride + img->stride - 1] &= (uint8_t)(0xff << (8 - (w & 7)));
    return img;
}

static void test_g4_tiff_roundtrip(void)
{
    const char *path = tmp_path("g4.tif");
    const int dims[3][3] = {{1001, 1403, 200}, {1654, 2339, 200}, {2480, 3508, 300}};
    sim_image_t *img[3];
    omr_error_t err = {0};
    sim_tiff_t *t = sim_tiff_open(path, &err);
    CHECK(t != NULL, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        img[i] = pattern_image(dims[i][0], dims[i][1], 1, dims[i][2], i);
        if (t && img[i])
            CHECK(sim_tiff_add(t, img[i], &err) == 0, "%s", err.msg);
    }
    CHECK(sim_tiff_close(t, &err) == 0, "%s", err.msg);

    TIFF *tif = TIFFOpen(path, "r");
    CHECK(tif != NULL);
    if (tif) {
        CHECK_INT(TIFFNumberOfDirectories(tif), 3);
        for (int i = 0; i < 3 && img[i]; i++) {
            CHECK(TIFFSetDirectory(tif, (uint16_t)i) == 1);
            uint32_t w = 0, h = 0;
            uint16_t comp = 0, photo = 0, bps = 0, unit = 0;
            float xr = 0, yr = 0;
            TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
            TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
            TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp);
            TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
            TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps);
            TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr);
            TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr);
            TIFFGetField(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
            CHECK_INT(w, dims[i][0]);
            CHECK_INT(h, dims[i][1]);
            CHECK_INT(comp, COMPRESSION_CCITTFAX4);
            CHECK_INT(photo, PHOTOMETRIC_MINISWHITE);
            CHECK_INT(bps, 1);
            CHECK_INT(unit, RESUNIT_INCH);
            CHECK(xr == dims[i][2] && yr == dims[i][2], "resolution %g x %g", xr, yr);
            char *dt = NULL;
            CHECK(!TIFFGetField(tif, TIFFTAG_DATETIME, &dt), "DateTime tag present");
            uint8_t *row = malloc((size_t)TIFFScanlineSize(tif));
            int diff = 0;
            for (uint32_t y = 0; row && y < h; y++) {
                if (TIFFReadScanline(tif, row, y, 0) < 0) {
                    diff++;
                    break;
                }
                /* compare the pixels only: decoders leave the padding bits alone */
                const uint8_t *mine = img[i]->data + (size_t)y * img[i]->stride;
                int full = (int)w / 8, rest = (int)w % 8;
                uint8_t mask = (uint8_t)(0xff << (8 - rest));
                if (memcmp(row, mine, (size_t)full) || (rest && ((row[full] ^ mine[full]) & mask)))
                    diff++;
            }
            CHECK_INT(diff, 0);
            free(row);
        }
        TIFFClose(tif);
    }
    /* and Leptonica, which the scan pipeline may use, sees black as 1 */
    PIX *pix = pixRead(path);
    CHECK(pix != NULL && pixGetDepth(pix) == 1 && pixGetXRes(pix) == 200);
    if (pix && img[0]) {
        PIX *mine = sim_image_to_pix(img[0]);
        l_int32 same = 0;
        pixEqual(pix, mine, &same);
        CHECK(same, "Leptonica reads other pixels");
        pixDestroy(&mine);
    }
    pixDestroy(&pix);
    for (int i = 0; i < 3; i++)
        sim_image_free(img[i]);
    remove(path);
}

static void test_lzw_tiff_roundtrip(void)
{
    const char *path = tmp_path("lzw.tif");
    sim_image_t *img = pattern_image(1237, 1750, 8, 150, 5);
    omr_error_t err = {0};
    sim_tiff_t *t = sim_tiff_open(path, &err);
    CHECK(t && img && sim_tiff_add(t, img, &err) == 0, "%s", err.msg);
    CHECK(sim_tiff_close(t, &err) == 0);
    PIX *pix = pixRead(path);
    CHECK(pix && pixGetDepth(pix) == 8 && pixGetXRes(pix) == 150);
    if (pix && img) {
        PIX *mine = sim_image_to_pix(img);
        l_int32 same = 0;
        pixEqual(pix, mine, &same);
        CHECK(same);
        pixDestroy(&mine);
    }
    pixDestroy(&pix);
    sim_image_free(img);
    remove(path);
}

static void test_png_keeps_resolution(void)
{
    const char *path = tmp_path("p.png");
    sim_image_t *img = pattern_image(1654, 2339, 8, 200, 9);
    omr_error_t err = {0};
    CHECK(img && sim_write_png(path, img, &err) == 0, "%s", err.msg);
    PIX *pix = pixRead(path);
    CHECK(pix && pixGetDepth(pix) == 8 && pixGetXRes(pix) == 200 && pixGetYRes(pix) == 200,
          "res %d", pix ? (int)pixGetXRes(pix) : -1);
    if (pix && img) {
        PIX *mine = sim_image_to_pix(img);
        l_int32 same = 0;
        pixEqual(pix, mine, &same);
        CHECK(same);
        pixDestroy(&mine);
    }
    pixDestroy(&pix);
    size_t len = 0;
    char *bytes = omr_read_file(path, 1u << 26, &len, NULL);
    CHECK(bytes != NULL);
    CHECK(bytes && !memmem(bytes, len, "tIME", 4), "PNG has a tIME chunk");
    CHECK(bytes && memmem(bytes, len, "pHYs", 4), "PNG has no pHYs chunk");
    free(bytes);
    sim_image_free(img);
    remove(path);
}

static void test_jpeg_keeps_resolution(void)
{
    const char *path = tmp_path("p.jpg");
    sim_image_t *img = sim_image_new(800, 600, 8, 300);
    CHECK(img != NULL);
    if (!img)
        return;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            img->data[(size_t)y * img->stride + x] = (uint8_t)(x / 4 + y / 8);
    omr_error_t err = {0};
    CHECK(sim_write_jpeg(path, img, 90, &err) == 0, "%s", err.msg);
    PIX *pix = pixRead(path);
    CHECK(pix && pixGetDepth(pix) == 8 && pixGetXRes(pix) == 300);
    if (pix) {
        double sum = 0;
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++) {
                l_uint32 v;
                pixGetPixel(pix, x, y, &v);
                sum += fabs((double)v - img->data[(size_t)y * img->stride + x]);
            }
        CHECK(sum / (img->w * img->h) < 2.0, "mean error %g", sum / (img->w * img->h));
    }
    pixDestroy(&pix);
    sim_image_free(img);
    remove(path);
}

int main(void)
{
    omr_quiet_libraries();
    if (!mkdtemp(tmp_dir)) {
        printf("cannot create a temporary folder\n0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_map_identity_and_shift);
    RUN(test_map_upside_down);
    RUN(test_map_skew_clockwise_and_scale);
    RUN(test_warp_matches_record_grey);
    RUN(test_warp_matches_record_bitonal_noisy);
    RUN(test_scan_deterministic);
    RUN(test_conditions_within_limits);
    RUN(test_g4_tiff_roundtrip);
    RUN(test_lzw_tiff_roundtrip);
    RUN(test_png_keeps_resolution);
    RUN(test_jpeg_keeps_resolution);
    rmdir(tmp_dir);
    return check_report();
}
