/* warp.h -- a simulated scan of a rendered page for the registration tests
 * (test_register.c, test_register_corner.c): the paper scaled, skewed,
 * turned upside down and shifted on a larger scanner bed, as a sheet-fed
 * scanner does; known exactly, so a test can compare what registration
 * recovers with where every template point really went. Static functions:
 * each test program includes it once. */
#ifndef OMR_TESTS_WARP_H
#define OMR_TESTS_WARP_H

#include <math.h>
#include <stdio.h>

#include <leptonica/allheaders.h>

#include "load.h"
#include "omr.h"
#include "register.h"
#include "template.h"

/* A transform of the paper: scale sx, sy about the page centre, skew deg
 * (clockwise in the image), optionally 180°, shift in mm; then k px/mm. */
typedef struct {
    double skew, sx, sy, tx, ty;
    int flip;
    double border; /* mm of white added around the paper before warping: a
                      scanner bed larger than the sheet, so marks pushed
                      beyond the paper's edge by skew and shift stay whole */
} warp_t;

static void warp_map(const warp_t *w, const omr_page_t *pg, double k, double X, double Y,
                     double *px, double *py)
{
    double cx = pg->width / 2, cy = pg->height / 2;
    double dx = (X - cx) * w->sx, dy = (Y - cy) * w->sy;
    if (w->flip) {
        dx = -dx;
        dy = -dy;
    }
    double a = w->skew * M_PI / 180;
    double rx = cos(a) * dx - sin(a) * dy, ry = sin(a) * dx + cos(a) * dy;
    *px = (w->border + cx + w->tx + rx) * k;
    *py = (w->border + cy + w->ty + ry) * k;
}

/* Warp the blank render (at k px/mm) by w; 1 bpp when bitonal. */
static PIX *make_scan(PIX *blank, const omr_page_t *pg, const warp_t *w, int bitonal)
{
    double k = pixGetXRes(blank) / OMR_MM_PER_INCH;
    int bpx = (int)lround(w->border * k);
    PIX *canvas = bpx > 0 ? pixAddBorder(blank, bpx, 255) : pixClone(blank);
    PTA *ps = ptaCreate(3), *pd = ptaCreate(3);
    const double pts[3][2] = {{20, 20}, {190, 20}, {20, 280}};
    for (int i = 0; i < 3; i++) {
        double x, y;
        warp_map(w, pg, k, pts[i][0], pts[i][1], &x, &y);
        /* Leptonica's pixel coordinates put centres on integers. */
        ptaAddPt(ps, (float)(pts[i][0] * k + bpx - 0.5), (float)(pts[i][1] * k + bpx - 0.5));
        ptaAddPt(pd, (float)(x - 0.5), (float)(y - 0.5));
    }
    PIX *warped = pixAffinePta(canvas, pd, ps, L_BRING_IN_WHITE);
    pixDestroy(&canvas);
    pixCopyResolution(warped, blank);
    ptaDestroy(&ps);
    ptaDestroy(&pd);
    if (!bitonal)
        return warped;
    PIX *b = pixThresholdToBinary(warped, 128);
    pixDestroy(&warped);
    pixCopyResolution(b, blank);
    return b;
}

/* How far registration's xform puts the page's region centres from where
 * the warp w (at k px/mm) really put them: the worst, in px. */
static inline double warp_region_error_px(const warp_t *w, const omr_page_t *pg, double k, const double *xform)
{
    double worst = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        double X = pg->regions[i].box.x + pg->regions[i].box.w / 2;
        double Y = pg->regions[i].box.y + pg->regions[i].box.h / 2, tx, ty, px, py;
        warp_map(w, pg, k, X, Y, &tx, &ty);
        omr_register_map(xform, X, Y, &px, &py);
        worst = fmax(worst, hypot(px - tx, py - ty));
    }
    return worst;
}

/* How far the marks registration found (r) are from where the warp w (at
 * k px/mm) put them: the worst, in px; *pm its mark (TL TR BL BR), -1 when
 * none was found. */
static inline double warp_mark_error_px(const warp_t *w, const omr_page_t *pg, double k, const omr_register_t *r,
                                        int *pm)
{
    double worst = 0;
    *pm = -1;
    for (int m = 0; m < 4; m++) {
        if (!r->found[m])
            continue;
        double tx, ty;
        warp_map(w, pg, k, pg->mark_x[m], pg->mark_y[m], &tx, &ty);
        double e = hypot(r->mark_x[m] - tx, r->mark_y[m] - ty);
        if (*pm < 0 || e > worst) {
            worst = e;
            *pm = m;
        }
    }
    return worst;
}

/* The first page of an image file as omr's loader gives it (*pdpi: the
 * file's resolution, 0 when it has none; pdpi may be NULL), or NULL with the
 * reason on stderr. The caller destroys it. */
static inline PIX *load_first_page(const char *path, int *pdpi)
{
    omr_load_t *src = NULL;
    omr_image_t img;
    omr_error_t err = {0};
    PIX *pix = NULL;
    if (omr_load_open(path, &src, &err) == OMR_OK && omr_load_next(src, &img, &err) == OMR_OK) {
        pix = img.pix;
        if (pdpi)
            *pdpi = img.dpi;
        img.pix = NULL;
        omr_image_clear(&img);
    }
    if (!pix)
        fprintf(stderr, "%s: %s\n", path, err.msg);
    omr_load_close(src);
    return pix;
}

#endif
