/* review_image.c -- the pictures of the review screen: crops of a region with
 * context, and whole pages, made on the fly from the scanned page through the
 * stored registration transform, and cached (review_internal.h).
 *
 * The page is never warped: the crop is cut from the scan around the mapped
 * template rectangle, then turned by quarter turns so the form reads upright
 * (a sheet fed upside down maps template x to image -x), then scaled. Marks
 * (the regions of the item) are drawn through the same composed transform.
 *
 * Two caches, both under one mutex:
 *  - decoded pages (PIX), a few, least recently used first out: the queue
 *    keeps operators on one page for several items, and decoding a grey PNG
 *    page takes ~140 ms;
 *  - encoded PNGs by key ("i:<item>:<page>", "p:<page>:<width>"), bounded by
 *    total bytes: a crop is made once, by the warmer thread ahead of the
 *    operators or on the first request.
 * Leptonica's reference counts are not atomic, so pixClone/pixDestroy of a
 * cached page happen under the mutex too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "review_internal.h"

#define N_PAGES 24 /* one per operator at work (20), and the warmer's */
#define N_PNG 4096

typedef struct {
    long long id;
    PIX *pix;
    unsigned long tick;
} page_slot_t;

typedef struct {
    char key[48];
    unsigned char *data;
    size_t len;
    unsigned long tick;
} png_slot_t;

struct omr_review_images {
    pthread_mutex_t lock;
    omr_review_files_t *files; /* borrowed */
    page_slot_t pages[N_PAGES];
    png_slot_t *pngs; /* N_PNG */
    size_t bytes, max_bytes;
    unsigned long tick;
};

omr_review_images_t *omr_review_images_new(size_t max_png_bytes, omr_review_files_t *files)
{
    omr_review_images_t *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->files = files;
    im->pngs = calloc(N_PNG, sizeof *im->pngs);
    if (!im->pngs) {
        free(im);
        return NULL;
    }
    pthread_mutex_init(&im->lock, NULL);
    im->max_bytes = max_png_bytes;
    return im;
}

void omr_review_images_free(omr_review_images_t *im)
{
    if (!im)
        return;
    for (int i = 0; i < N_PAGES; i++)
        pixDestroy(&im->pages[i].pix);
    for (int i = 0; i < N_PNG; i++)
        free(im->pngs[i].data);
    free(im->pngs);
    pthread_mutex_destroy(&im->lock);
    free(im);
}

int omr_review_images_lookup(omr_review_images_t *im, const char *key, unsigned char **pdata, size_t *plen)
{
    int hit = 0;
    *pdata = NULL;
    *plen = 0;
    pthread_mutex_lock(&im->lock);
    for (int i = 0; i < N_PNG; i++) {
        png_slot_t *s = &im->pngs[i];
        if (s->data && !strcmp(s->key, key)) {
            unsigned char *d = malloc(s->len);
            if (d) {
                memcpy(d, s->data, s->len);
                *pdata = d;
                *plen = s->len;
                s->tick = ++im->tick;
                hit = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&im->lock);
    return hit;
}

/* Keep a copy of a PNG, evicting the least recently used ones over budget. */
static void png_store(omr_review_images_t *im, const char *key, const unsigned char *data, size_t len)
{
    if (len > im->max_bytes / 4)
        return;
    unsigned char *d = malloc(len);
    if (!d)
        return;
    memcpy(d, data, len);
    pthread_mutex_lock(&im->lock);
    int free_slot = -1;
    for (int i = 0; i < N_PNG; i++) {
        if (im->pngs[i].data && !strcmp(im->pngs[i].key, key)) { /* made twice at once: keep the first */
            pthread_mutex_unlock(&im->lock);
            free(d);
            return;
        }
        if (!im->pngs[i].data && free_slot < 0)
            free_slot = i;
    }
    while (free_slot < 0 || im->bytes + len > im->max_bytes) {
        int old = -1;
        for (int i = 0; i < N_PNG; i++)
            if (im->pngs[i].data && (old < 0 || im->pngs[i].tick < im->pngs[old].tick))
                old = i;
        if (old < 0)
            break;
        im->bytes -= im->pngs[old].len;
        free(im->pngs[old].data);
        im->pngs[old].data = NULL;
        free_slot = old;
    }
    png_slot_t *s = &im->pngs[free_slot];
    snprintf(s->key, sizeof s->key, "%s", key);
    s->data = d;
    s->len = len;
    s->tick = ++im->tick;
    im->bytes += len;
    pthread_mutex_unlock(&im->lock);
}

/* A clone of the decoded page (pixDestroy it), loading it on a miss. */
static PIX *page_pix(omr_review_images_t *im, const omr_review_page_t *pg, omr_error_t *err)
{
    pthread_mutex_lock(&im->lock);
    for (int i = 0; i < N_PAGES; i++)
        if (im->pages[i].pix && im->pages[i].id == pg->id) {
            im->pages[i].tick = ++im->tick;
            PIX *p = pixClone(im->pages[i].pix);
            pthread_mutex_unlock(&im->lock);
            return p;
        }
    pthread_mutex_unlock(&im->lock);
    /* decode outside the lock: other requests go on meanwhile */
    omr_image_t img;
    memset(&img, 0, sizeof img);
    if (omr_review_files_load(im->files, pg, &img, err) != OMR_OK) {
        omr_image_clear(&img);
        return NULL;
    }
    PIX *pix = img.pix;
    img.pix = NULL;
    omr_image_clear(&img);
    pthread_mutex_lock(&im->lock);
    int slot = 0;
    for (int i = 0; i < N_PAGES; i++) {
        if (!im->pages[i].pix) {
            slot = i;
            break;
        }
        if (im->pages[i].tick < im->pages[slot].tick)
            slot = i;
    }
    pixDestroy(&im->pages[slot].pix);
    im->pages[slot].id = pg->id;
    im->pages[slot].pix = pix;
    im->pages[slot].tick = ++im->tick;
    PIX *p = pixClone(pix);
    pthread_mutex_unlock(&im->lock);
    return p;
}

/* Quarter turns (clockwise) that make the template's x axis point right. */
static int upright_quads(const omr_review_page_t *pg)
{
    if (!pg->has_xform)
        return pg->orientation == 180 ? 2 : pg->orientation == 90 ? 3 : pg->orientation == 270 ? 1 : 0;
    double a = pg->xform[0], d = pg->xform[3];
    if (fabs(a) >= fabs(d))
        return a > 0 ? 0 : 2;
    return d > 0 ? 3 : 1;
}

/* xf (onto an image w x h) composed with q clockwise quarter turns of that image. */
static void rotate_xform(double *xf, int q, int w, int h)
{
    double a = xf[0], b = xf[1], c = xf[2], d = xf[3], e = xf[4], f = xf[5];
    switch (q) {
    case 1: /* (x, y) -> (h - y, x) */
        xf[0] = -d, xf[1] = -e, xf[2] = h - f, xf[3] = a, xf[4] = b, xf[5] = c;
        break;
    case 2: /* (x, y) -> (w - x, h - y) */
        xf[0] = -a, xf[1] = -b, xf[2] = w - c, xf[3] = -d, xf[4] = -e, xf[5] = h - f;
        break;
    case 3: /* (x, y) -> (y, w - x) */
        xf[0] = d, xf[1] = e, xf[2] = f, xf[3] = -a, xf[4] = -b, xf[5] = w - c;
        break;
    default:
        break;
    }
}

static void map_pt(const double *xf, double X, double Y, double *x, double *y)
{
    *x = xf[0] * X + xf[1] * Y + xf[2];
    *y = xf[3] * X + xf[4] * Y + xf[5];
}

/* 8-bit grey copy (1 bpp: 1 = black -> 0). */
static PIX *to_grey(PIX *p)
{
    if (pixGetDepth(p) == 1)
        return pixConvert1To8(NULL, p, 255, 0);
    if (pixGetDepth(p) == 8)
        return pixClone(p);
    return pixConvertTo8(p, 0);
}

static omr_status_t encode(PIX *p, unsigned char **pdata, size_t *plen, omr_error_t *err)
{
    l_uint8 *data = NULL;
    size_t len = 0;
    /* zlib level 2: crops are mostly white paper, speed matters more than
     * the last few per cent of size (pix->special 10 + level, Leptonica) */
    pixSetSpecial(p, 12);
    if (pixWriteMemPng(&data, &len, p, 0.0) || !data)
        return omr_error_set(err, OMR_ENOMEM, "could not encode the image as PNG");
    unsigned char *d = malloc(len);
    if (!d) {
        lept_free(data);
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    }
    memcpy(d, data, len);
    lept_free(data);
    *pdata = d;
    *plen = len;
    return OMR_OK;
}

omr_status_t omr_review_images_crop(omr_review_images_t *im, const char *key, const omr_review_page_t *pg,
                                    omr_rect_t area, const omr_review_mark_t *marks, int n_marks, double px_per_mm,
                                    unsigned char **pdata, size_t *plen, omr_error_t *err)
{
    if (omr_review_images_lookup(im, key, pdata, plen))
        return OMR_OK;
    if (!pg->has_xform)
        return omr_error_set(err, OMR_EINPUT, "page %lld is not registered: no crop", pg->id);
    PIX *pix = page_pix(im, pg, err);
    if (!pix)
        return err ? err->status : OMR_EIO;
    int W = pixGetWidth(pix), H = pixGetHeight(pix);
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (int k = 0; k < 4; k++) {
        double x, y;
        map_pt(pg->xform, area.x + (k & 1 ? area.w : 0), area.y + (k & 2 ? area.h : 0), &x, &y);
        x0 = fmin(x0, x), y0 = fmin(y0, y), x1 = fmax(x1, x), y1 = fmax(y1, y);
    }
    int bx = (int)floor(fmax(0, x0)), by = (int)floor(fmax(0, y0));
    int bw = (int)ceil(fmin(W, x1)) - bx, bh = (int)ceil(fmin(H, y1)) - by;
    omr_status_t rc = OMR_OK;
    PIX *crop = NULL, *grey = NULL, *rot = NULL, *scaled = NULL, *rgb = NULL;
    if (bw < 2 || bh < 2) {
        rc = omr_error_set(err, OMR_EINPUT, "the region lies outside the scanned image");
        goto done;
    }
    BOX *box = boxCreate(bx, by, bw, bh);
    crop = pixClipRectangle(pix, box, NULL);
    boxDestroy(&box);
    if (!crop || !(grey = to_grey(crop))) {
        rc = omr_error_set(err, OMR_ENOMEM, "out of memory cutting the crop");
        goto done;
    }
    double xf[6];
    memcpy(xf, pg->xform, sizeof xf);
    xf[2] -= bx;
    xf[5] -= by;
    int q = upright_quads(pg);
    rot = q ? pixRotateOrth(grey, q) : pixClone(grey);
    rotate_xform(xf, q, bw, bh);
    double scan_ppm = sqrt(fabs(xf[0] * xf[4] - xf[1] * xf[3]));
    double s = scan_ppm > 0 ? px_per_mm / scan_ppm : 1;
    if (pixGetWidth(rot) * s > 1400)
        s = 1400.0 / pixGetWidth(rot);
    if (fabs(s - 1) < 0.02)
        s = 1; /* close enough: no resampling, and the marks use the same scale */
    scaled = s == 1 ? pixClone(rot) : pixScale(rot, (l_float32)s, (l_float32)s);
    if (!scaled || !(rgb = pixConvertTo32(scaled))) {
        rc = omr_error_set(err, OMR_ENOMEM, "out of memory scaling the crop");
        goto done;
    }
    for (int i = 0; i < 6; i++)
        xf[i] *= s;
    for (int m = 0; m < n_marks; m++) {
        double px[4], py[4];
        const omr_rect_t *r = &marks[m].r;
        map_pt(xf, r->x, r->y, &px[0], &py[0]);
        map_pt(xf, r->x + r->w, r->y, &px[1], &py[1]);
        map_pt(xf, r->x + r->w, r->y + r->h, &px[2], &py[2]);
        map_pt(xf, r->x, r->y + r->h, &px[3], &py[3]);
        for (int k = 0; k < 4; k++)
            pixRenderLineArb(rgb, (int)lround(px[k]), (int)lround(py[k]), (int)lround(px[(k + 1) & 3]),
                             (int)lround(py[(k + 1) & 3]), marks[m].width, marks[m].rgb[0], marks[m].rgb[1],
                             marks[m].rgb[2]);
    }
    if ((rc = encode(rgb, pdata, plen, err)) == OMR_OK)
        png_store(im, key, *pdata, *plen);
done:
    pixDestroy(&rgb);
    pixDestroy(&scaled);
    pixDestroy(&rot);
    pixDestroy(&grey);
    pixDestroy(&crop);
    pthread_mutex_lock(&im->lock);
    pixDestroy(&pix);
    pthread_mutex_unlock(&im->lock);
    return rc;
}

static void page_size_out(int w, int h, int q, int width, double *ps, int *pw, int *ph)
{
    int rw = q & 1 ? h : w, rh = q & 1 ? w : h;
    double s = width > 0 && rw > 0 ? (double)width / rw : 1;
    *ps = s;
    *pw = (int)lround(rw * s);
    *ph = (int)lround(rh * s);
}

omr_status_t omr_review_images_page(omr_review_images_t *im, const char *key, const omr_review_page_t *pg,
                                    int width, unsigned char **pdata, size_t *plen, omr_error_t *err)
{
    if (omr_review_images_lookup(im, key, pdata, plen))
        return OMR_OK;
    PIX *pix = page_pix(im, pg, err);
    if (!pix)
        return err ? err->status : OMR_EIO;
    int q = upright_quads(pg), ow, oh;
    double s;
    page_size_out(pixGetWidth(pix), pixGetHeight(pix), q, width, &s, &ow, &oh);
    omr_status_t rc = OMR_OK;
    PIX *grey = NULL, *rot = NULL, *scaled = NULL;
    /* scaled to the exact size the geometry promises (the overlay must fit);
     * pixScaleToSize smooths when shrinking, so thin pencil stays visible */
    {
        PIX *g = to_grey(pix);
        grey = g ? pixScaleToSize(g, q & 1 ? oh : ow, q & 1 ? ow : oh) : NULL;
        pixDestroy(&g);
    }
    if (!grey || !(rot = q ? pixRotateOrth(grey, q) : pixClone(grey))) {
        rc = omr_error_set(err, OMR_ENOMEM, "out of memory drawing the page");
        goto done;
    }
    rc = encode(rot, pdata, plen, err);
    if (!rc)
        png_store(im, key, *pdata, *plen);
done:
    pixDestroy(&scaled);
    pixDestroy(&rot);
    pixDestroy(&grey);
    pthread_mutex_lock(&im->lock);
    pixDestroy(&pix);
    pthread_mutex_unlock(&im->lock);
    return rc;
}

omr_status_t omr_review_images_page_geometry(omr_review_images_t *im, const omr_review_page_t *pg, int width,
                                             double *xf_out, int *pw, int *ph, omr_error_t *err)
{
    PIX *pix = page_pix(im, pg, err);
    if (!pix)
        return err ? err->status : OMR_EIO;
    int w = pixGetWidth(pix), h = pixGetHeight(pix), q = upright_quads(pg);
    pthread_mutex_lock(&im->lock);
    pixDestroy(&pix);
    pthread_mutex_unlock(&im->lock);
    double s;
    page_size_out(w, h, q, width, &s, pw, ph);
    memcpy(xf_out, pg->xform, 6 * sizeof *xf_out);
    rotate_xform(xf_out, q, w, h);
    /* the scaled page is rounded to whole pixels: scale each axis to match */
    double sx = (double)*pw / (q & 1 ? h : w), sy = (double)*ph / (q & 1 ? w : h);
    for (int i = 0; i < 3; i++)
        xf_out[i] *= sx, xf_out[3 + i] *= sy;
    return OMR_OK;
}
