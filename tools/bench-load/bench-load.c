/* bench-load -- time the first two scan stages (load, identify) per page.
 *
 *   build/bench-load [-n REPEAT] [--zone X,Y,W,H] FILE_OR_FOLDER...
 *       for every page: decode ms, blank test ms, barcode ms (fast path or
 *       whole page), then the mean per input kind.
 *   build/bench-load --make DIR [DPI]
 *       write synthetic A4 test pages (text, corner marks, a Code 128) as
 *       3-page G4 TIFF, grey PNG, LZW grey TIFF, grey JPEG, grey JPEG-in-TIFF,
 *       and a page without barcode, to measure without a corpus. Grey pages
 *       get scanner-like noise so they compress like real scans.
 * Times are CPU ms of the calling thread (decode includes hashing the file,
 * charged to its first page). Errors of bad pages are printed and counted;
 * they never stop the run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <leptonica/allheaders.h>
#include <tiffio.h>
#include <zint.h>

#include "identify.h"
#include "load.h"

/* CPU time of this thread: the figure that matters for pages per second on
 * one core, and much steadier than wall time on a shared machine. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------- --make */

static int mm(double v, int dpi)
{
    return (int)lround(v * dpi / 25.4);
}

static PIX *synthetic_page(int dpi, const char *payload)
{
    PIX *p = pixCreate(mm(210, dpi), mm(297, dpi), 8);
    pixSetAllArbitrary(p, 255);
    pixSetResolution(p, dpi, dpi);
    L_BMF *font = bmfCreate(NULL, dpi >= 300 ? 14 : 10);
    static const double mx[4] = {12, 198, 12, 198}, my[4] = {12, 12, 285, 285};
    for (int i = 0; i < 4; i++) {
        BOX *b = boxCreate(mm(mx[i] - 3, dpi), mm(my[i] - 3, dpi), mm(6, dpi), mm(6, dpi));
        pixSetInRectArbitrary(p, b, 0);
        boxDestroy(&b);
    }
    for (int line = 0; line < 60; line++) {
        char text[160];
        snprintf(text, sizeof text,
                 "Q%d. Does your company require security clauses in outsourcing contracts? "
                 "1 yes 2 no 3 unknown %d",
                 line + 1, line * 13);
        pixSetTextline(p, font, text, 0, mm(18, dpi), mm(28 + 4.1 * line, dpi), NULL, NULL);
    }
    if (payload) {
        struct zint_symbol *s = ZBarcode_Create();
        s->symbology = BARCODE_CODE128;
        s->show_hrt = 0;
        if (ZBarcode_Encode_and_Buffer(s, (unsigned char *)payload, (int)strlen(payload), 0) <
                ZINT_ERROR &&
            s->width > 0) {
            int modules = s->width, ppm = s->bitmap_width / s->width, row = s->bitmap_height / 2;
            int x0 = mm(110, dpi), y0 = mm(276, dpi), w = mm(88, dpi), h = mm(9, dpi);
            for (int px = 0; px < w; px++) {
                int m = (int)((px + 0.5) * modules / w);
                if (s->bitmap[((size_t)row * s->bitmap_width + (size_t)(m * ppm + ppm / 2)) * 3] <
                    128)
                    for (int py = 0; py < h; py++)
                        pixSetPixel(p, x0 + px, y0 + py, 0);
            }
            pixSetTextline(p, font, payload, 0, mm(130, dpi), mm(288.5, dpi), NULL, NULL);
        }
        ZBarcode_Delete(s);
    }
    bmfDestroy(&font);
    return p;
}

/* Scanner-like grey: paper at ~235, ink at ~30, +-6 noise. */
static PIX *greyify(PIX *p)
{
    PIX *g = pixCopy(NULL, p);
    int w = pixGetWidth(g), h = pixGetHeight(g), wpl = pixGetWpl(g);
    l_uint32 *data = pixGetData(g);
    uint32_t s = 99;
    for (int y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < w; x++) {
            s = s * 1664525u + 1013904223u;
            int v = GET_DATA_BYTE(line, x) > 128 ? 235 : 30;
            v += (int)(s >> 28) - 8 + (int)((s >> 24) & 3);
            SET_DATA_BYTE(line, x, v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return g;
}

static void write_tiff(const char *path, PIX **pages, int n, int comp)
{
    for (int i = 0; i < n; i++)
        pixWriteTiff(path, pages[i], comp, i ? "a" : "w");
}

static int make_fixtures(const char *dir, int dpi)
{
    mkdir(dir, 0755);
    char path[1024];
    PIX *up[3], *grey[3];
    for (int i = 0; i < 3; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "ITSC18-A%02d-000123", i + 1);
        up[i] = synthetic_page(dpi, payload);
        grey[i] = greyify(up[i]);
    }
    PIX *bw[3];
    for (int i = 0; i < 3; i++)
        bw[i] = pixThresholdToBinary(up[i], 128);
    snprintf(path, sizeof path, "%s/g4-%d.tif", dir, dpi);
    write_tiff(path, bw, 3, IFF_TIFF_G4);
    snprintf(path, sizeof path, "%s/lzw-grey-%d.tif", dir, dpi);
    write_tiff(path, grey, 1, IFF_TIFF_LZW);
    snprintf(path, sizeof path, "%s/jpeg-grey-%d.tif", dir, dpi);
    write_tiff(path, grey, 1, IFF_TIFF_JPEG);
    snprintf(path, sizeof path, "%s/grey-%d.png", dir, dpi);
    pixWritePng(path, grey[0], 0);
    snprintf(path, sizeof path, "%s/grey-%d.jpg", dir, dpi);
    pixWriteJpeg(path, grey[0], 85, 0);
    PIX *turned = pixRotate180(NULL, bw[1]);
    snprintf(path, sizeof path, "%s/g4-upside-down-%d.tif", dir, dpi);
    write_tiff(path, &turned, 1, IFF_TIFF_G4);
    pixDestroy(&turned);
    PIX *nobar = synthetic_page(dpi, NULL), *nobw = pixThresholdToBinary(nobar, 128);
    snprintf(path, sizeof path, "%s/g4-no-barcode-%d.tif", dir, dpi);
    write_tiff(path, &nobw, 1, IFF_TIFF_G4);
    pixDestroy(&nobar);
    pixDestroy(&nobw);
    for (int i = 0; i < 3; i++) {
        pixDestroy(&up[i]);
        pixDestroy(&grey[i]);
        pixDestroy(&bw[i]);
    }
    printf("wrote test pages at %d dpi to %s\n", dpi, dir);
    return 0;
}

/* ------------------------------------------------------------ timing */

typedef struct {
    char kind[32];
    int pages;
    double decode, blank, fast, slow;
    int n_fast, n_slow, n_notfound;
} stats_t;

static stats_t *kind_stats(stats_t *st, int *n, const omr_image_t *img)
{
    char kind[32];
    snprintf(kind, sizeof kind, "%s %s %dbpp",
             img->format == OMR_FORMAT_TIFF ? "tiff" : img->format == OMR_FORMAT_PNG ? "png" : "jpeg",
             img->compression, img->pix ? pixGetDepth(img->pix) : 0);
    for (int i = 0; i < *n; i++)
        if (!strcmp(st[i].kind, kind))
            return &st[i];
    if (*n >= 16)
        return &st[15];
    memset(&st[*n], 0, sizeof st[*n]);
    snprintf(st[*n].kind, sizeof st[*n].kind, "%s", kind);
    return &st[(*n)++];
}

int main(int argc, char **argv)
{
    omr_quiet_libraries();
    if (argc >= 3 && !strcmp(argv[1], "--make"))
        return make_fixtures(argv[2], argc > 3 ? atoi(argv[3]) : 300);
    int repeat = 1, first = 1;
    omr_zone_t zone = OMR_ZONE_BOTTOM;
    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-n") && first + 1 < argc) {
            repeat = atoi(argv[first + 1]);
            first += 2;
        } else if (!strcmp(argv[first], "--zone") && first + 1 < argc &&
                   sscanf(argv[first + 1], "%lf,%lf,%lf,%lf", &zone.x, &zone.y, &zone.w,
                          &zone.h) == 4) {
            first += 2;
        } else {
            fprintf(stderr, "usage: bench-load [-n REPEAT] [--zone X,Y,W,H] FILE...\n"
                            "       bench-load --make DIR [DPI]\n");
            return 1;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "bench-load: no input files\n");
        return 1;
    }
    stats_t st[16];
    int n_st = 0, errors = 0;
    for (int rep = 0; rep < repeat; rep++) {
        omr_load_t *src;
        omr_error_t err;
        if (omr_load_open_paths((const char *const *)argv + first, argc - first, &src, &err)) {
            fprintf(stderr, "bench-load: %s\n", err.msg);
            return 2;
        }
        omr_image_t img;
        for (;;) {
            double t0 = now_ms();
            omr_status_t s = omr_load_next(src, &img, &err);
            double t1 = now_ms();
            if (s == OMR_ENOTFOUND)
                break;
            if (s != OMR_OK) {
                if (rep == 0)
                    printf("ERROR %-14s %s\n", omr_status_name(s), err.msg);
                errors++;
                omr_image_clear(&img);
                continue;
            }
            int blank = 0;
            double ink = 0;
            omr_identify_is_blank(img.pix, 0, &blank, &ink, &err);
            double t2 = now_ms();
            omr_barcode_t bc;
            omr_status_t bs = blank ? OMR_ENOTFOUND : omr_identify_read(img.pix, &zone, &bc, &err);
            double t3 = now_ms();
            stats_t *k = kind_stats(st, &n_st, &img);
            k->pages++;
            k->decode += t1 - t0;
            k->blank += t2 - t1;
            if (bs == OMR_OK && bc.fast) {
                k->fast += t3 - t2;
                k->n_fast++;
            } else if (!blank) {
                k->slow += t3 - t2;
                k->n_slow++;
                k->n_notfound += bs != OMR_OK;
            }
            if (rep == 0)
                printf("%s p%d %dx%d %dbpp %ddpi decode %.1f ms, blank %.1f ms (%s, ink %.4f), "
                       "barcode %.1f ms %s %s orient %d\n",
                       img.path, img.page + 1, pixGetWidth(img.pix), pixGetHeight(img.pix),
                       pixGetDepth(img.pix), img.dpi, t1 - t0, t2 - t1, blank ? "blank" : "not blank",
                       ink, t3 - t2, bs == OMR_OK ? (bc.fast ? "zone" : "page") : "-",
                       bs == OMR_OK ? bc.payload : omr_status_name(bs), bs == OMR_OK ? bc.orientation : -1);
            omr_image_clear(&img);
        }
        omr_load_close(src);
    }
    printf("\n%-22s %6s %10s %9s %14s %14s\n", "kind", "pages", "decode ms", "blank ms",
           "barcode zone", "barcode page");
    for (int i = 0; i < n_st; i++) {
        stats_t *k = &st[i];
        printf("%-22s %6d %10.2f %9.2f %8.2f (%3d) %8.2f (%3d)\n", k->kind, k->pages,
               k->decode / k->pages, k->blank / k->pages, k->n_fast ? k->fast / k->n_fast : 0,
               k->n_fast, k->n_slow ? k->slow / k->n_slow : 0, k->n_slow);
    }
    printf("errors: %d\n", errors);
    return 0;
}
