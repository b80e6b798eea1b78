/* sample.c -- stage 4: the ink added in each region, against the blank form
 * (see sample.h for the contract and the zones).
 *
 * Per region and zone the cache holds a grid of sample points in template
 * millimetres with a "printed" bit each. Sampling walks the grid row by row,
 * mapping the first point of a row through the affine transform and stepping
 * by the transform's columns, and reads one pixel per open point (a bit on
 * 1 bpp, a byte on grey). With 0.15 mm steps a 0.3 mm pen stroke gets at
 * least two points across at any angle, and a 450-region page is ~0.4 M
 * reads.
 */
#include "sample.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "print.h"
#include "register.h"

#define MASK_DPI 300.0
#define MASK_PRINTED_GREY 200 /* rendered grey below this is printed ink (notes are 0.72 ink) */
#define STEP_MARK_MM 0.15     /* CIRCLE, CHECK */
#define STEP_WIDE_MM 0.25     /* labels, DIGIT, TEXT: large zones, only "is there ink" matters */
#define PAPER_BLOCK_MM 10.0
#define SPECK_MM 0.8
#define NEAR_SLACK 0.04f      /* share of the band around the print that may be darker than the page's median */
/* Grey scans: a target's band around the print this much darker than the
 * page's median makes its reading doubtful (see omr_sample_page_ex). */
/* On the corpus 0.07 caught every such mark on grey and faded scans for 53
 * blank targets made doubtful, 0.10 missed 5 for 6. */
#define NEAR_SLACK_GREY 0.08f
/* Cross-out (two lines through a circled number, tools/simulate/pen.c):
 * rows within this of the target's middle are looked at; a row is struck
 * through when at least CROSSOUT_ROW_SHARE of its open points (at least
 * CROSSOUT_ROW_MIN_POINTS) are dark. Two such runs of rows with a clear row
 * between them: OMR_DOUBT_CROSSOUT. */
#define CROSSOUT_BAND_MM 1.2
#define CROSSOUT_ROW_SHARE 0.85
#define CROSSOUT_ROW_MIN_POINTS 8
#define ZONE_MAX_NX 2048      /* points per zone row (a page-wide field at 0.25 mm: 840) */

/* Points of a zone row tested at once for paper under them (zone_sample). */
#define WHITE_RUN 32

typedef struct {
    double X0, Y0, step; /* template mm of point (0, 0), spacing */
    int nx, ny;
    uint8_t *mask;       /* nx * ny, 1 = printed (skip) */
    int n_open;
    /* per row, per run of WHITE_RUN points (the last may be shorter): how
     * many have mask 0, 2, 3 and 4, a byte each from the low one
     * (zone_runs); ny * ((nx + WHITE_RUN - 1) / WHITE_RUN) */
    uint32_t *runs;
} zone_t;

typedef struct {
    const omr_page_t *page;
    int n;
    zone_t *target, *label; /* n each; label nx == 0 when none */
} page_masks_t;

struct omr_sample_cache {
    const omr_survey_t *survey;
    page_masks_t *pages;
    int n_pages, cap;
    /* omr_sample_cache_coarse: blank renders at OMR_SAMPLE_COARSE_DPI, by
     * page (its template page pointer), for telling which way up a sheet
     * without a barcode was fed */
    struct {
        const omr_page_t *page;
        int reference; /* 0: omr_sample_cache_coarse, 1: omr_sample_cache_reference */
        PIX *pix;
        omr_register_print_ref_t *prepared; /* reference 1: omr_sample_cache_print_ref */
    } *coarse;
    int n_coarse;
    unsigned char *render_buf; /* omr_print_render_ink's drawing buffer, kept */
    size_t render_cap;
    omr_sample_backing_t backing; /* get NULL: none */
    /* SHA-256 of everything a page's masks depend on except the page
     * itself (mask_base_digest); base_state 0 not yet, 1 done, -1 failed
     * (no key: masks are built and not kept) */
    unsigned char base[32];
    int base_state;
};

omr_status_t omr_sample_cache_new(const omr_survey_t *survey, omr_sample_cache_t **pcache,
                                  omr_error_t *err)
{
    if (!pcache)
        return omr_error_set(err, OMR_EINPUT, "sample: no cache pointer");
    *pcache = calloc(1, sizeof **pcache);
    if (!*pcache)
        return omr_error_set(err, OMR_ENOMEM, "sample: out of memory");
    (*pcache)->survey = survey;
    return OMR_OK;
}

static void page_masks_clear(page_masks_t *pm)
{
    for (int i = 0; i < pm->n; i++) {
        if (pm->target) {
            free(pm->target[i].mask);
            free(pm->target[i].runs);
        }
        if (pm->label) {
            free(pm->label[i].mask);
            free(pm->label[i].runs);
        }
    }
    free(pm->target);
    free(pm->label);
}

void omr_sample_cache_free(omr_sample_cache_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_pages; i++)
        page_masks_clear(&c->pages[i]);
    free(c->pages);
    for (int i = 0; i < c->n_coarse; i++) {
        pixDestroy(&c->coarse[i].pix);
        omr_register_print_ref_free(c->coarse[i].prepared);
    }
    free(c->coarse);
    free(c->render_buf);
    free(c);
}

/* The kept image of kind `reference` (0: coarse render, 1: reference) for
 * page page_index, made on first use. */
static PIX *cache_page_image(omr_sample_cache_t *c, const omr_form_t *form, int page_index, int reference,
                             omr_error_t *err)
{
    const omr_page_t *pg = &form->pages[page_index];
    for (int i = 0; i < c->n_coarse; i++)
        if (c->coarse[i].page == pg && c->coarse[i].reference == reference)
            return c->coarse[i].pix;
    void *grown = realloc(c->coarse, sizeof *c->coarse * (size_t)(c->n_coarse + 1));
    if (!grown) {
        omr_error_set(err, OMR_ENOMEM, "sample: out of memory");
        return NULL;
    }
    c->coarse = grown;
    PIX *pix;
    /* (a page printed by others renders as its reference image) */
    double dpi = reference ? OMR_REGISTER_PRINT_PX_PER_MM * OMR_MM_PER_INCH : OMR_SAMPLE_COARSE_DPI;
    pix = omr_print_render_page(c->survey, form, page_index, NULL, dpi, err);
    if (!pix)
        return NULL;
    c->coarse[c->n_coarse].page = pg;
    c->coarse[c->n_coarse].reference = reference;
    c->coarse[c->n_coarse].pix = pix;
    c->coarse[c->n_coarse].prepared = NULL;
    c->n_coarse++;
    return pix;
}

PIX *omr_sample_cache_coarse(omr_sample_cache_t *c, const omr_form_t *form, int page_index, omr_error_t *err)
{
    return cache_page_image(c, form, page_index, 0, err);
}

PIX *omr_sample_cache_reference(omr_sample_cache_t *c, const omr_form_t *form, int page_index, omr_error_t *err)
{
    return cache_page_image(c, form, page_index, 1, err);
}

const omr_register_print_ref_t *omr_sample_cache_print_ref(omr_sample_cache_t *c, const omr_form_t *form,
                                                           int page_index, omr_error_t *err)
{
    if (!cache_page_image(c, form, page_index, 1, err))
        return NULL;
    const omr_page_t *pg = &form->pages[page_index];
    for (int i = 0; i < c->n_coarse; i++)
        if (c->coarse[i].page == pg && c->coarse[i].reference == 1) {
            if (!c->coarse[i].prepared &&
                omr_register_print_prepare(c->coarse[i].pix, pg, &c->coarse[i].prepared, err) != OMR_OK)
                return NULL;
            return c->coarse[i].prepared;
        }
    return NULL;
}

/* ------------------------------------------------------------ the masks */

/* One row pass: out[k] = OR (AND) of the row's pixels x - r .. x + r;
 * row has a guard word each side (row[0], row[wpl + 1]). A word and its
 * left (right) neighbour side by side in 64 bits, pixels in order, give
 * every shift at once; the OR (AND) over r shifts is built by doubling. */
static inline __attribute__((always_inline)) void morph_row(const uint32_t *restrict row,
                                                             uint32_t *restrict out, int wpl,
                                                             int r, int erode)
{
    for (int k = 1; k <= wpl; k++) {
        uint64_t u = ((uint64_t)row[k - 1] << 32) | row[k]; /* low half: this word */
        uint64_t v = ((uint64_t)row[k] << 32) | row[k + 1]; /* high half: this word */
        uint64_t lu = u, rv = v;
        int done = 0; /* shifts 0..done covered */
        while (done < r) {
            int s = done + 1 <= r - done ? done + 1 : r - done;
            lu = erode ? lu & (lu >> s) : lu | (lu >> s);
            rv = erode ? rv & (rv << s) : rv | (rv << s);
            done += s;
        }
        uint32_t a = (uint32_t)lu, b = (uint32_t)(rv >> 32);
        out[k - 1] = erode ? a & b : a | b;
    }
}

/* out[k] |= o[k] (erode: &=), 4 words at a time (GCC/clang vectors). */
typedef uint32_t morph_v4 __attribute__((vector_size(16)));
static void morph_or_and(uint32_t *restrict out, const uint32_t *restrict o, int n, int erode)
{
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        morph_v4 a, b;
        memcpy(&a, out + k, sizeof a);
        memcpy(&b, o + k, sizeof b);
        a = erode ? a & b : a | b;
        memcpy(out + k, &a, sizeof a);
    }
    for (; k < n; k++)
        out[k] = erode ? out[k] & o[k] : out[k] | o[k];
}

/* Brick morphology on 1-bpp masks: the (2r+1)-pixel square dilation
 * (erode 0) or erosion (erode 1) of src, r in 1..31. The same pixels as
 * Leptonica's pixDilateBrick / pixErodeBrick (1.82; checked pixel for
 * pixel on every template page and on random noise): pixels outside the
 * image count as off, for the erosion too (its r outermost rows and columns
 * come out off). Whole 32-bit words at a time (pixel x is bit 31 - x % 32
 * of word x / 32), separable: a row pass, then a column pass; Leptonica's
 * rasterops took ~7 of the ~28 ms that one page's masks cost. The result's
 * pad bits are clear. Returns a new PIX (pixDestroy) or NULL (out of
 * memory, r out of range). */
static PIX *morph_brick(PIX *src, int r, int erode)
{
    if (r < 1 || r > 31)
        return NULL;
    const int w = (int)pixGetWidth(src), h = (int)pixGetHeight(src), wpl = pixGetWpl(src);
    PIX *dst = pixCreateNoInit(w, h, 1);
    uint32_t *tmp = malloc(sizeof(uint32_t) * ((size_t)wpl * h + (size_t)wpl + 2));
    if (!dst || !tmp) {
        pixDestroy(&dst);
        free(tmp);
        return NULL;
    }
    /* the last word's pixels beyond w are outside: off */
    const uint32_t padmask = (w & 31) ? 0xffffffffu >> (w & 31) : 0;
    uint32_t *row = tmp + (size_t)wpl * h; /* wpl + 2 words: a guard each side */
    const l_uint32 *sd = pixGetData(src);
    l_uint32 *dd = pixGetData(dst);
    for (int y = 0; y < h; y++) {
        row[0] = row[wpl + 1] = 0;
        memcpy(row + 1, sd + (size_t)y * wpl, sizeof(uint32_t) * (size_t)wpl);
        row[wpl] &= ~padmask;
        uint32_t *out = tmp + (size_t)y * wpl;
        /* constant r and erode for the two sizes used: the shifts unroll */
        if (r == 4 && !erode)
            morph_row(row, out, wpl, 4, 0);
        else if (r == 1 && !erode)
            morph_row(row, out, wpl, 1, 0);
        else if (r == 1)
            morph_row(row, out, wpl, 1, 1);
        else
            morph_row(row, out, wpl, r, erode);
    }
    for (int y = 0; y < h; y++) {
        l_uint32 *out = dd + (size_t)y * wpl;
        if (erode && (y - r < 0 || y + r >= h)) {
            memset(out, 0, sizeof(uint32_t) * (size_t)wpl); /* rows outside are off */
            continue;
        }
        /* rows outside are off: nothing to add to a dilation */
        const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r >= h ? h - 1 : y + r;
        memcpy(out, tmp + (size_t)y0 * wpl, sizeof(uint32_t) * (size_t)wpl);
        for (int yy = y0 + 1; yy <= y1; yy++)
            morph_or_and(out, tmp + (size_t)yy * wpl, wpl, erode);
        out[wpl - 1] &= ~padmask;
    }
    free(tmp);
    return dst;
}

static int in_rect(const omr_rect_t *r, double X, double Y, double pad)
{
    return X >= r->x - pad && X < r->x + r->w + pad && Y >= r->y - pad && Y < r->y + r->h + pad;
}

/* Bit x, y of a 1-bpp mask of the render (the caller checks the bounds). */
static inline int mask_bit(PIX *m, int x, int y)
{
    return GET_DATA_BIT(pixGetData(m) + (size_t)y * pixGetWpl(m), x);
}

/* z->runs from z->mask. 0, or -1 out of memory. */
static int zone_runs(zone_t *z)
{
    const int nr = (z->nx + WHITE_RUN - 1) / WHITE_RUN;
    if (z->nx <= 0 || z->ny <= 0)
        return 0;
    if (!(z->runs = malloc(sizeof *z->runs * (size_t)nr * (size_t)z->ny)))
        return -1;
    for (int j = 0; j < z->ny; j++)
        for (int r = 0; r < nr; r++) {
            const uint8_t *m = z->mask + (size_t)j * z->nx;
            int i1 = (r + 1) * WHITE_RUN < z->nx ? (r + 1) * WHITE_RUN : z->nx;
            uint32_t c0 = 0, c2 = 0, c3 = 0, c4 = 0;
            for (int i = r * WHITE_RUN; i < i1; i++) {
                c0 += m[i] == 0;
                c2 += m[i] == 2;
                c3 += m[i] == 3;
                c4 += m[i] == 4;
            }
            z->runs[(size_t)j * nr + r] = c0 | c2 << 8 | c3 << 16 | c4 << 24;
        }
    return 0;
}

/* Lay a grid over rect r and mark its printed points; `other` (optional):
 * the page's region boxes, whose points are excluded too except region
 * `self`. Returns 0 or -1 on out of memory. All masks are the render's
 * size (MASK_DPI); a point is on a mask when the render pixel under it
 * (floor of its mm times MASK_DPI / 25.4) is set, and off the render it is
 * on none. The point's pixel is found once for all masks, and only the
 * regions whose padded box can hold a grid point are tested (label zones
 * are ~3000 points, pages have up to ~80 regions). */
/* A bubble's sampled disc (round CHECK regions): inside its outline, the
 * printed code included, by geometry alone. Why not the render's mask:
 * another printer's letter and outline differ in font, weight and size from
 * omr's drawing of them, and at the low resolutions bubble sheets come in
 * (100-200 dpi) the mask grown around both leaves a few points. The code's
 * share is the page's blank level instead (classify.c,
 * omr_classify_bubble_base). */
static int in_bubble_disc(omr_rect_t r, double X, double Y)
{
    double dx = (X - (r.x + r.w / 2)) / (r.w / 2), dy = (Y - (r.y + r.h / 2)) / (r.h / 2);
    return dx * dx + dy * dy <= OMR_SAMPLE_BUBBLE_RIM * OMR_SAMPLE_BUBBLE_RIM;
}

static int zone_build(zone_t *z, omr_rect_t r, double step, PIX *mask, PIX *core, PIX *ink,
                      PIX *inner, const omr_page_t *pg, int self, int round)
{
    if (r.w / step > ZONE_MAX_NX)
        step = r.w / ZONE_MAX_NX;
    z->step = step;
    z->nx = (int)floor(r.w / step);
    z->ny = (int)floor(r.h / step);
    if (z->nx < 1 || z->ny < 1) {
        z->nx = z->ny = 0;
        return 0;
    }
    /* Centre the grid in the rectangle. */
    z->X0 = r.x + (r.w - (z->nx - 1) * step) / 2;
    z->Y0 = r.y + (r.h - (z->ny - 1) * step) / 2;
    z->mask = malloc((size_t)z->nx * z->ny);
    int *near = pg ? malloc(sizeof(int) * (size_t)(pg->n_regions ? pg->n_regions : 1)) : NULL;
    if (!z->mask || (pg && !near)) {
        free(near);
        return -1;
    }
    int n_near = 0;
    if (pg) {
        /* X = X0 + i * step grows with i in floating point too: the first
         * and last points bound every point's coordinates exactly. */
        const double xlo = z->X0, xhi = z->X0 + (z->nx - 1) * step;
        const double ylo = z->Y0, yhi = z->Y0 + (z->ny - 1) * step;
        const double pad = OMR_SAMPLE_MASK_MM;
        for (int q = 0; q < pg->n_regions; q++) {
            const omr_rect_t *b = &pg->regions[q].box;
            if (q == self || xhi < b->x - pad || xlo >= b->x + b->w + pad || yhi < b->y - pad ||
                ylo >= b->y + b->h + pad)
                continue;
            near[n_near++] = q;
        }
    }
    const double k = MASK_DPI / OMR_MM_PER_INCH;
    const int mw = (int)pixGetWidth(mask), mh = (int)pixGetHeight(mask);
    z->n_open = 0;
    for (int j = 0; j < z->ny; j++) {
        const double Y = z->Y0 + j * step;
        const int y = (int)floor(Y * k);
        for (int i = 0; i < z->nx; i++) {
            double X = z->X0 + i * step;
            const int x = (int)floor(X * k);
            const int inside = x >= 0 && y >= 0 && x < mw && y < mh;
            int skip = round ? !in_bubble_disc(r, X, Y) : inside && mask_bit(mask, x, y);
            if (round) {
                z->mask[(size_t)j * z->nx + i] = (uint8_t)skip;
                z->n_open += !skip;
                continue;
            }
            for (int n = 0; n < n_near && !skip; n++)
                if (in_rect(&pg->regions[near[n]].box, X, Y, OMR_SAMPLE_MASK_MM))
                    skip = 1;
            /* 2: near the print, not on it (see zone_sample). */
            if (skip && core && !pg && !(inside && mask_bit(core, x, y)))
                skip = 2;
            /* 3: on the blank form's print, well inside a stroke (the scan
             * must show it dark: print recovery, see omr_sample_info_t). */
            if (skip == 1 && inner && inside && mask_bit(inner, x, y))
                skip = 3;
            else if (skip == 1 && ink && inside && mask_bit(ink, x, y))
                skip = 4;
            z->mask[(size_t)j * z->nx + i] = (uint8_t)skip;
            z->n_open += !skip;
        }
    }
    free(near);
    return zone_runs(z);
}

/* Bounding box (mm) of the printed ink of the undilated render inside r;
 * r itself when there is none. */
static omr_rect_t ink_extent(PIX *ink, omr_rect_t r)
{
    double k = MASK_DPI / OMR_MM_PER_INCH;
    int x0 = (int)floor(r.x * k), y0 = (int)floor(r.y * k);
    int x1 = (int)ceil((r.x + r.w) * k), y1 = (int)ceil((r.y + r.h) * k);
    int w = (int)pixGetWidth(ink), h = (int)pixGetHeight(ink);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    int bx0 = x1, by0 = y1, bx1 = -1, by1 = -1;
    for (int y = y0; y < y1; y++) {
        const l_uint32 *line = pixGetData(ink) + (size_t)y * pixGetWpl(ink);
        for (int x = x0; x < x1; x++)
            if (GET_DATA_BIT(line, x)) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
            }
    }
    if (bx1 < 0)
        return r;
    omr_rect_t e = {bx0 / k, by0 / k, (bx1 + 1 - bx0) / k, (by1 + 1 - by0) / k};
    return e;
}

static page_masks_t *cache_find(omr_sample_cache_t *c, const omr_page_t *pg)
{
    for (int i = 0; i < c->n_pages; i++)
        if (c->pages[i].page == pg)
            return &c->pages[i];
    return NULL;
}

/* ------------------------------------------------- masks kept between runs
 *
 * An entry (omr_sample_backing_t) is the built zones of one page:
 *   "OMRMASK" 1 | u32 raw length | u32 crc32 of raw | zlib(raw)
 *   raw: u32 n_regions, then per region its target zone and its label zone,
 *        each f64 X0, Y0, step, i32 nx, ny, n_open, nx * ny mask bytes
 * (little-endian as the machine writes it: the key holds the byte order).
 * Masks are mostly runs: an A4 page's ~1.5 MB compress to ~50 kB and
 * inflate in ~1 ms, against ~10 ms to draw and build them. */

#define MASK_MAGIC "OMRMASK"
#define MASK_FORMAT 1
/* Bump with any change to how masks are built from the render (zone_build,
 * morph_brick, ink_extent, the steps and margins above). */
#define MASK_BUILD_VERSION 2 /* 2: bubbles */
#define MASK_RAW_MAX (256u << 20)

static int sha_update_file(EVP_MD_CTX *ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char buf[16384];
    size_t k;
    int rc = 0;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, k) != 1)
            rc = -1;
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* c->base: SHA-256 of the mask parameters, the renderer's identity
 * (print.h) and every regular file at the top of the survey folder (name,
 * size, bytes; in name order): the survey file and every page file, so any
 * template change makes new keys. 0, or -1 when something cannot be read
 * (then nothing is kept). */
static int mask_base_digest(omr_sample_cache_t *c)
{
    char ident[2048];
    const omr_survey_t *sv = c->survey;
    if (!sv || !sv->dir || omr_print_render_identity(ident, sizeof ident, NULL))
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    DIR *d = opendir(sv->dir);
    char **names = NULL;
    int n = 0, cap = 0, rc = -1;
    if (!ctx || !d || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto done;
    char params[256];
    int k = snprintf(params, sizeof params, "masks %d/%d; dpi %.3f grey %d mask %.4f steps %.4f %.4f label %.4f %.4f; %s; ",
                     MASK_FORMAT, MASK_BUILD_VERSION, MASK_DPI, MASK_PRINTED_GREY, OMR_SAMPLE_MASK_MM, STEP_MARK_MM,
                     STEP_WIDE_MM, OMR_SAMPLE_LABEL_PAD_MM, OMR_SAMPLE_LABEL_MAX_MM,
                     __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "le" : "be");
    if (EVP_DigestUpdate(ctx, params, (size_t)k) != 1 || EVP_DigestUpdate(ctx, ident, strlen(ident) + 1) != 1)
        goto done;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            int nc = cap ? 2 * cap : 32;
            char **p = realloc(names, sizeof *p * (size_t)nc);
            if (!p)
                goto done;
            names = p;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto done;
        n++;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char path[8192];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", sv->dir, names[i]);
        if (stat(path, &st))
            goto done;
        if (!S_ISREG(st.st_mode))
            continue;
        char head[64];
        int hk = snprintf(head, sizeof head, "%lld:", (long long)st.st_size);
        if (EVP_DigestUpdate(ctx, names[i], strlen(names[i]) + 1) != 1 ||
            EVP_DigestUpdate(ctx, head, (size_t)hk) != 1 || sha_update_file(ctx, path))
            goto done;
    }
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, c->base, &mdlen) == 1 && mdlen == 32)
        rc = 0;
done:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (d)
        closedir(d);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The key of page page_index of form (65 bytes: hex and NUL): SHA-256 of
 * c->base, the form id, the page index and its file's name. -1: no key. */
static int mask_key(omr_sample_cache_t *c, const omr_form_t *form, int page_index, char key[65])
{
    if (!c->base_state)
        c->base_state = mask_base_digest(c) ? -1 : 1;
    if (c->base_state < 0)
        return -1;
    char what[8400];
    /* the file's name only: its bytes are in c->base, and the same folder
     * named another way (./templates/...) must give the same key */
    const char *file = form->pages[page_index].file;
    const char *slash = file ? strrchr(file, '/') : NULL;
    if (slash)
        file = slash + 1;
    int k = snprintf(what, sizeof what, "%s\n%d\n%s", form->id, page_index, file ? file : "");
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, c->base, 32) == 1 &&
             EVP_DigestUpdate(ctx, what, (size_t)(k < (int)sizeof what ? k : (int)sizeof what - 1)) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        key[2 * i] = digits[md[i] >> 4];
        key[2 * i + 1] = digits[md[i] & 15];
    }
    key[64] = 0;
    return 0;
}

void omr_sample_cache_set_backing(omr_sample_cache_t *c, const omr_sample_backing_t *b)
{
    if (!c)
        return;
    if (b)
        c->backing = *b;
    else
        memset(&c->backing, 0, sizeof c->backing);
}

#define ZONE_HEAD (3 * sizeof(double) + 3 * sizeof(int32_t))

/* An entry for pm (see above); *blob malloc'd. 0, or -1 out of memory. */
static int masks_encode(const page_masks_t *pm, unsigned char **blob, size_t *len)
{
    size_t raw_len = sizeof(uint32_t);
    for (int i = 0; i < pm->n; i++)
        for (int z = 0; z < 2; z++) {
            const zone_t *zn = z ? &pm->label[i] : &pm->target[i];
            raw_len += ZONE_HEAD + (size_t)zn->nx * (size_t)zn->ny;
        }
    unsigned char *raw = malloc(raw_len);
    if (!raw)
        return -1;
    unsigned char *p = raw;
    uint32_t n = (uint32_t)pm->n;
    memcpy(p, &n, 4);
    p += 4;
    for (int i = 0; i < pm->n; i++)
        for (int z = 0; z < 2; z++) {
            const zone_t *zn = z ? &pm->label[i] : &pm->target[i];
            double d[3] = {zn->X0, zn->Y0, zn->step};
            int32_t v[3] = {zn->nx, zn->ny, zn->n_open};
            memcpy(p, d, sizeof d);
            p += sizeof d;
            memcpy(p, v, sizeof v);
            p += sizeof v;
            size_t m = (size_t)zn->nx * (size_t)zn->ny;
            if (m)
                memcpy(p, zn->mask, m);
            p += m;
        }
    uLongf clen = compressBound((uLong)raw_len);
    unsigned char *out = malloc(16 + (size_t)clen);
    if (!out || compress2(out + 16, &clen, raw, (uLong)raw_len, 6) != Z_OK) {
        free(out);
        free(raw);
        return -1;
    }
    uint32_t rl = (uint32_t)raw_len, crc = (uint32_t)crc32(0, raw, (uInt)raw_len);
    memcpy(out, MASK_MAGIC, 7);
    out[7] = MASK_FORMAT;
    memcpy(out + 8, &rl, 4);
    memcpy(out + 12, &crc, 4);
    free(raw);
    *blob = out;
    *len = 16 + (size_t)clen;
    return 0;
}

/* Whether a stored target zone (X0, Y0, step; nx, ny) is the grid that
 * zone_build lays over region rg (the same arithmetic, so exactly equal). */
static int target_matches(const omr_region_t *rg, const double d[3], const int32_t v[3])
{
    const omr_rect_t r = rg->box;
    double step = (rg->kind == OMR_REGION_CIRCLE || rg->kind == OMR_REGION_CHECK) ? STEP_MARK_MM : STEP_WIDE_MM;
    if (r.w / step > ZONE_MAX_NX)
        step = r.w / ZONE_MAX_NX;
    int nx = (int)floor(r.w / step), ny = (int)floor(r.h / step);
    if (nx < 1 || ny < 1)
        return v[0] == 0 && v[1] == 0;
    return v[0] == nx && v[1] == ny && d[2] == step && d[0] == r.x + (r.w - (nx - 1) * step) / 2 &&
           d[1] == r.y + (r.h - (ny - 1) * step) / 2;
}

/* pm from an entry, checked against page pg: 1, 0 when the entry is not
 * valid for it (*pm untouched), -1 out of memory. */
static int masks_decode(const unsigned char *blob, size_t len, const omr_page_t *pg, page_masks_t *pm)
{
    if (!blob || len < 16 || memcmp(blob, MASK_MAGIC, 7) || blob[7] != MASK_FORMAT)
        return 0;
    uint32_t rl, crc;
    memcpy(&rl, blob + 8, 4);
    memcpy(&crc, blob + 12, 4);
    if (rl < 4 || rl > MASK_RAW_MAX)
        return 0;
    unsigned char *raw = malloc(rl);
    if (!raw)
        return -1;
    uLongf got = rl;
    if (uncompress(raw, &got, blob + 16, (uLong)(len - 16)) != Z_OK || got != rl ||
        (uint32_t)crc32(0, raw, rl) != crc) {
        free(raw);
        return 0;
    }
    page_masks_t m = {.page = pg, .n = pg->n_regions};
    const unsigned char *p = raw, *end = raw + rl;
    uint32_t n;
    memcpy(&n, p, 4);
    p += 4;
    int ok = (int)n == pg->n_regions;
    if (ok) {
        m.target = calloc((size_t)(m.n ? m.n : 1), sizeof *m.target);
        m.label = calloc((size_t)(m.n ? m.n : 1), sizeof *m.label);
        if (!m.target || !m.label) {
            page_masks_clear(&m);
            free(raw);
            return -1;
        }
    }
    for (int i = 0; ok && i < m.n; i++)
        for (int z = 0; ok && z < 2; z++) {
            zone_t *zn = z ? &m.label[i] : &m.target[i];
            double d[3];
            int32_t v[3];
            if ((size_t)(end - p) < ZONE_HEAD) {
                ok = 0;
                break;
            }
            memcpy(d, p, sizeof d);
            p += sizeof d;
            memcpy(v, p, sizeof v);
            p += sizeof v;
            /* an unused zone (no label) is all zeros */
            if (!isfinite(d[0]) || !isfinite(d[1]) || !(d[2] > 0 || (d[2] == 0 && !v[0])) || v[0] < 0 || v[1] < 0 ||
                v[0] > ZONE_MAX_NX || (v[0] == 0) != (v[1] == 0) ||
                (size_t)v[0] * (size_t)v[1] > (size_t)(end - p) || (z && pg->regions[i].kind != OMR_REGION_CIRCLE && v[0])) {
                ok = 0;
                break;
            }
            if (!z && !target_matches(&pg->regions[i], d, v)) {
                ok = 0; /* an entry of another page, or another grid */
                break;
            }
            zn->X0 = d[0];
            zn->Y0 = d[1];
            zn->step = d[2];
            zn->nx = v[0];
            zn->ny = v[1];
            size_t k = (size_t)v[0] * (size_t)v[1];
            if (!k)
                continue;
            if (!(zn->mask = malloc(k))) {
                page_masks_clear(&m);
                free(raw);
                return -1;
            }
            memcpy(zn->mask, p, k);
            p += k;
            int open = 0;
            for (size_t q = 0; q < k; q++) {
                if (zn->mask[q] > 4)
                    ok = 0;
                open += !zn->mask[q];
            }
            if (open != v[2])
                ok = 0;
            zn->n_open = open;
            if (ok && zone_runs(zn)) {
                page_masks_clear(&m);
                free(raw);
                return -1;
            }
        }
    free(raw);
    if (!ok || p != end) {
        page_masks_clear(&m);
        return 0;
    }
    *pm = m;
    return 1;
}

/* Room for one more page in c->pages: 0, or -1 out of memory. */
static int pages_room(omr_sample_cache_t *c)
{
    if (c->n_pages < c->cap)
        return 0;
    int cap = c->cap ? 2 * c->cap : 16;
    page_masks_t *p = realloc(c->pages, sizeof *p * (size_t)cap);
    if (!p)
        return -1;
    c->pages = p;
    c->cap = cap;
    return 0;
}

int omr_sample_cache_import(omr_sample_cache_t *c, const omr_form_t *form, int page_index,
                            const unsigned char *blob, size_t len)
{
    if (!c || !form || page_index < 0 || page_index >= form->n_pages)
        return 0;
    const omr_page_t *pg = &form->pages[page_index];
    page_masks_t pm;
    int r = masks_decode(blob, len, pg, &pm);
    if (r <= 0)
        return r;
    if (pages_room(c)) {
        page_masks_clear(&pm);
        return -1;
    }
    page_masks_t *old = cache_find(c, pg);
    if (old) {
        page_masks_clear(old);
        *old = pm;
    } else
        c->pages[c->n_pages++] = pm;
    return 1;
}

omr_status_t omr_sample_cache_export(omr_sample_cache_t *c, const omr_form_t *form, int page_index,
                                     unsigned char **blob, size_t *len, char *key, omr_error_t *err)
{
    omr_status_t st = omr_sample_cache_prepare(c, form, page_index, err);
    if (st)
        return st;
    if (key && mask_key(c, form, page_index, key))
        key[0] = 0;
    if (masks_encode(cache_find(c, &form->pages[page_index]), blob, len))
        return omr_error_set(err, OMR_ENOMEM, "sample: out of memory encoding masks");
    return OMR_OK;
}

static omr_status_t masks_build(omr_sample_cache_t *c, const omr_form_t *form, int page_index, omr_error_t *err);

omr_status_t omr_sample_cache_prepare(omr_sample_cache_t *c, const omr_form_t *form,
                                      int page_index, omr_error_t *err)
{
    if (!c || !form || page_index < 0 || page_index >= form->n_pages)
        return omr_error_set(err, OMR_EINPUT, "sample: no cache, form or page %d", page_index + 1);
    const omr_page_t *pg = &form->pages[page_index];
    if (cache_find(c, pg))
        return OMR_OK;
    char key[65];
    if (!c->backing.get || mask_key(c, form, page_index, key))
        return masks_build(c, form, page_index, err);
    unsigned char *blob = NULL;
    size_t len = 0;
    if (c->backing.get(c->backing.ctx, key, &blob, &len) == 1) {
        int r = omr_sample_cache_import(c, form, page_index, blob, len);
        free(blob);
        if (r > 0)
            return OMR_OK;
        if (r < 0)
            return omr_error_set(err, OMR_ENOMEM, "sample: out of memory reading masks");
    }
    omr_status_t st = masks_build(c, form, page_index, err);
    if (st || !c->backing.put)
        return st;
    if (!masks_encode(cache_find(c, pg), &blob, &len)) {
        c->backing.put(c->backing.ctx, key, form, page_index, blob, len);
        free(blob);
    }
    return OMR_OK;
}

/* Draw page page_index and build its masks into c. */
static omr_status_t masks_build(omr_sample_cache_t *c, const omr_form_t *form, int page_index, omr_error_t *err)
{
    const omr_page_t *pg = &form->pages[page_index];
    /* The blank page's ink: its render darker than MASK_PRINTED_GREY
     * (drawn into the cache's reusable buffer). */
    PIX *ink = omr_print_render_ink(c->survey, form, page_index, MASK_DPI, MASK_PRINTED_GREY,
                                    &c->render_buf, &c->render_cap, err);
    if (!ink) {
        omr_error_prefix(err, "form %s page %d: rendering the blank reference: ", form->id,
                         pg->number);
        return err ? err->status : OMR_EINPUT;
    }
    int r = (int)lround(OMR_SAMPLE_MASK_MM * MASK_DPI / OMR_MM_PER_INCH);
    PIX *dil = morph_brick(ink, r, 0);
    /* The print itself, grown by 0.1 mm (a dark threshold, registration). */
    PIX *core = morph_brick(ink, 1, 0);
    /* The print's inner part: strokes eroded by one pixel of the render
     * (0.085 mm) each way, so registration error and quantisation still
     * land these points on the printed stroke in the scan. */
    PIX *inner = morph_brick(ink, 1, 1);
    if (!dil || !core || !inner) {
        pixDestroy(&inner);
        pixDestroy(&dil);
        pixDestroy(&core);
        pixDestroy(&ink);
        return omr_error_set(err, OMR_ENOMEM, "sample: out of memory building masks");
    }
    if (pages_room(c))
        goto oom;
    page_masks_t pm = {.page = pg, .n = pg->n_regions};
    pm.target = calloc((size_t)(pm.n ? pm.n : 1), sizeof *pm.target);
    pm.label = calloc((size_t)(pm.n ? pm.n : 1), sizeof *pm.label);
    if (!pm.target || !pm.label) {
        page_masks_clear(&pm);
        goto oom;
    }
    for (int i = 0; i < pm.n; i++) {
        const omr_region_t *rg = &pg->regions[i];
        double step = (rg->kind == OMR_REGION_CIRCLE || rg->kind == OMR_REGION_CHECK)
                          ? STEP_MARK_MM
                          : STEP_WIDE_MM;
        if (zone_build(&pm.target[i], rg->box, step, dil, core, ink, inner, NULL, i,
                       rg->kind == OMR_REGION_CHECK && rg->round))
            goto oom_pm;
        if (rg->kind == OMR_REGION_CIRCLE && rg->label.w > 0 && rg->label.h > 0) {
            omr_rect_t e = ink_extent(ink, rg->label);
            /* People circle the start of a long option text, not the whole
             * line: measure over its first OMR_SAMPLE_LABEL_MAX_MM, so such
             * a circle weighs the same on a long option as on a short one. */
            if (e.w > OMR_SAMPLE_LABEL_MAX_MM)
                e.w = OMR_SAMPLE_LABEL_MAX_MM;
            const double p = OMR_SAMPLE_LABEL_PAD_MM;
            omr_rect_t z = {e.x - p, e.y - p, e.w + 2 * p, e.h + 2 * p};
            if (zone_build(&pm.label[i], z, STEP_WIDE_MM, dil, NULL, ink, inner, pg, -1, 0))
                goto oom_pm;
        }
        continue;
    oom_pm:
        page_masks_clear(&pm);
        goto oom;
    }
    c->pages[c->n_pages++] = pm;
    pixDestroy(&inner);
    pixDestroy(&ink);
    pixDestroy(&dil);
    pixDestroy(&core);
    return OMR_OK;
oom:
    pixDestroy(&inner);
    pixDestroy(&ink);
    pixDestroy(&dil);
    pixDestroy(&core);
    return omr_error_set(err, OMR_ENOMEM, "sample: out of memory building masks");
}

/* ------------------------------------------------------------ sampling */

typedef struct {
    const l_uint32 *data;
    int wpl, w, h, depth;
    /* grey: paper level per block of the image, and the scan's black */
    float *paper, *p80; /* per block, -1 until computed; p80 inside paper's allocation */
    int bw, bh, block;
    float black;
    /* scratch for dust_filter: the counted dark points of the zone being
     * sampled (0, or 1 + 250 * darkness) and a point stack; dots_cap points */
    uint8_t *dots;
    int *stack;
    size_t dots_cap;
    /* grey, mark targets: per point 0, or the 2x2 mean grey level (at
     * least 1) of an open point not dark enough to be ink (light_tally) */
    uint8_t *light;
    size_t light_cap, light_used;
} scan_t;

typedef struct {
    int n_valid, n_ink;
    int n_near, n_near_ink; /* points near the print (mask 2) and the dark ones */
    int n_print, n_print_ink; /* points inside printed strokes (mask 3) and the dark ones */
    int n_edge, n_edge_ink;   /* points on printed strokes' edges (mask 4) and the dark ones */
    int i0, i1, j0, j1;     /* bounding box of the counted dark points (grid steps) */
    double sum_dark;
    /* dust_filter: small isolated blobs (dust, or the dots of a broken
     * pencil stroke), their points and darkness, the box of the rest */
    int n_small, small_pts;
    double small_dark;
    int ki0, ki1, kj0, kj1;
    /* struck-through rows: separate runs of rows near the zone's middle
     * whose open points are nearly all dark (crossout_bands) */
    int n_bands;
    /* grey, mark targets: light ink (light_tally) */
    int n_light;
    double sum_light;
    int p25, p50;      /* levels of the open points' 2x2 means; -1: too few points */
    float inv_range;   /* 1 / (paper - black) used for this zone */
    size_t light_off;  /* this zone's points in scan_t.light */
} tally_t;

/* Paper level per block: the 80th percentile of the block's pixels (most of
 * any block is paper), then the maximum over the 3x3 neighbourhood so a
 * block darkened by a fill or dense text takes its neighbours' paper.
 * Computed on demand, only for the blocks under regions (a page's regions
 * cover a fraction of it): block_p80 memoises in s->p80. */
static float block_p80(scan_t *s, int bx, int by)
{
    float *memo = &s->p80[by * s->bw + bx];
    if (*memo >= 0)
        return *memo;
    /* Four interleaved histograms, summed per level when needed: paper is
     * mostly one grey level, and counting every sample into one bin makes
     * each increment wait for the previous one (this loop was a third of
     * sampling). */
    int h4[4][256], n = 0;
    memset(h4, 0, sizeof h4);
    int x0 = bx * s->block, y0 = by * s->block;
    int x1 = x0 + s->block < s->w ? x0 + s->block : s->w;
    int y1 = y0 + s->block < s->h ? y0 + s->block : s->h;
    for (int y = y0; y < y1; y += 3) {
        const l_uint32 *line = s->data + (size_t)y * s->wpl;
        if (y + 9 < y1) {
            /* the row three samples on: rows 3 apart are 3 page widths
             * apart in memory, a stride the hardware does not follow, and
             * a freshly decoded grey page is mostly out of the caches (a
             * quarter of this function's time on a JPEG page) */
            const char *ahead = (const char *)(line + 9 * (size_t)s->wpl);
            for (int b = x0 & ~63; b < x1; b += 64)
                __builtin_prefetch(ahead + b);
        }
        int x = x0;
        for (; x + 9 < x1; x += 12, n += 4) {
            h4[0][GET_DATA_BYTE(line, x)]++;
            h4[1][GET_DATA_BYTE(line, x + 3)]++;
            h4[2][GET_DATA_BYTE(line, x + 6)]++;
            h4[3][GET_DATA_BYTE(line, x + 9)]++;
        }
        for (; x < x1; x += 3, n++)
            h4[0][GET_DATA_BYTE(line, x)]++;
    }
    /* The smallest level v < 255 whose cumulative count reaches 80 % (255
     * when none does), found from the top: paper is near it, so only the
     * few levels above are summed and walked. acc: the count at or below v. */
#define HIST_AT(v) (h4[0][v] + h4[1][v] + h4[2][v] + h4[3][v])
    int v = 254, acc = n - HIST_AT(255);
    if (acc * 5 < n * 4)
        v = 255;
    else
        while (v > 0 && (acc - HIST_AT(v)) * 5 >= n * 4) {
            acc -= HIST_AT(v);
            v--;
        }
#undef HIST_AT
    *memo = (float)v;
    return *memo;
}

static float paper_at(scan_t *s, int bx, int by)
{
    float *memo = &s->paper[by * s->bw + bx];
    if (*memo >= 0)
        return *memo;
    float m = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int x = bx + dx, y = by + dy;
            if (x >= 0 && y >= 0 && x < s->bw && y < s->bh) {
                float v = block_p80(s, x, y);
                if (v > m)
                    m = v;
            }
        }
    *memo = m;
    return m;
}

static int paper_map(scan_t *s, double k)
{
    s->block = (int)lround(PAPER_BLOCK_MM * k);
    if (s->block < 8)
        s->block = 8;
    s->bw = (s->w + s->block - 1) / s->block;
    s->bh = (s->h + s->block - 1) / s->block;
    size_t n = (size_t)s->bw * s->bh;
    s->paper = malloc(sizeof(float) * n * 2);
    if (!s->paper)
        return -1;
    s->p80 = s->paper + n;
    for (size_t i = 0; i < 2 * n; i++)
        s->paper[i] = -1;
    return 0;
}

/* The box (in zone points) of a zone's dark points, grown by point (i, j),
 * the n_ink-th. */
typedef struct {
    int i0, i1, j0, j1;
} box_t;

static inline void grow_box(box_t *b, int n_ink, int i, int j)
{
    if (n_ink == 1) {
        b->i0 = b->i1 = i;
        b->j0 = b->j1 = j;
        return;
    }
    if (i < b->i0) b->i0 = i;
    if (i > b->i1) b->i1 = i;
    if (j < b->j0) b->j0 = j;
    if (j > b->j1) b->j1 = j;
}

/* A speck: all of a zone's dark points within SPECK_MM each way. Dust on
 * the glass or the paper, not a mark (the smallest mark, a tick, is 2 mm). */
static int is_speck(const tally_t *t, double step)
{
    return t->n_ink > 0 && (t->i1 - t->i0 + 1) * step <= SPECK_MM &&
           (t->j1 - t->j0 + 1) * step <= SPECK_MM;
}

/* One blob of marked points: its box (in zone points), size, summed
 * darkness, and whether it touches the print or the zone's edge. */
typedef struct {
    int i0, i1, j0, j1, n;
    double dark;
    int touches;
} blob_t;

/* Flood the blob of dots (nx x ny; 0 = none, else 1 + 250 * darkness) that
 * holds point (i, j): points up to 2 steps apart join, so a stroke broken by
 * a bitonal threshold stays one blob. Its points are cleared from dots.
 * b->touches: a point lies within one step of the print (mask) or of the
 * zone's edge. stk: room for nx * ny ints (the caller's scratch). */
static void flood_blob(uint8_t *dots, const uint8_t *mask, int nx, int ny, int i, int j, int *stk,
                       blob_t *b)
{
    /* The blob in locals, written to *b at the end: the byte stores into
     * dots may alias *b, which kept its fields in memory at every point. */
    int top = 0, head = 0, i0 = i, i1 = i, j0 = j, j1 = j, touches = 0;
    double dark = (dots[(size_t)j * nx + i] - 1) / 250.0;
    stk[top++] = j * nx + i;
    dots[(size_t)j * nx + i] = 0;
    while (head < top) {
        int p = stk[head++], pi = p % nx, pj = p / nx;
        if (pi < i0) i0 = pi;
        if (pi > i1) i1 = pi;
        if (pj < j0) j0 = pj;
        if (pj > j1) j1 = pj;
        if (pi >= 2 && pj >= 2 && pi + 2 < nx && pj + 2 < ny) {
            /* Inside the zone (most points): no bounds to test, and a row
             * of the 5x5 neighbourhood with no dots left (most, after the
             * first few points of a blob) in one test; the same points in
             * the same order as the loop below. */
            for (int dj = -1; dj <= 1 && !touches; dj++) {
                const uint8_t *m = mask + (size_t)(pj + dj) * nx + pi - 1;
                touches = m[0] || m[1] || m[2];
            }
            for (int dj = -2; dj <= 2; dj++) {
                uint8_t *row = dots + (size_t)(pj + dj) * nx + pi - 2;
                uint32_t four;
                memcpy(&four, row, 4);
                if (!four && !row[4])
                    continue;
                for (int di = 0; di < 5; di++)
                    if (row[di]) {
                        dark += (row[di] - 1) / 250.0;
                        row[di] = 0;
                        stk[top++] = (int)(row + di - dots);
                    }
            }
            continue;
        }
        for (int dj = -2; dj <= 2; dj++)
            for (int di = -2; di <= 2; di++) {
                int qi = pi + di, qj = pj + dj;
                if (qi < 0 || qj < 0 || qi >= nx || qj >= ny) {
                    touches |= di >= -1 && di <= 1 && dj >= -1 && dj <= 1;
                    continue;
                }
                size_t q = (size_t)qj * nx + qi;
                if (di >= -1 && di <= 1 && dj >= -1 && dj <= 1 && mask[q])
                    touches = 1;
                if (dots[q]) {
                    dark += (dots[q] - 1) / 250.0;
                    dots[q] = 0;
                    stk[top++] = (int)q;
                }
            }
    }
    b->i0 = i0;
    b->i1 = i1;
    b->j0 = j0;
    b->j1 = j1;
    b->touches = touches;
    b->dark = dark;
    b->n = top;
}

/* Dust on the glass or the paper is a round blot of at most ~0.4 mm; the
 * smallest mark, a tick, is a 2 mm stroke. The zone's dark points are
 * grouped into blobs (points up to 2 steps apart join, so a stroke broken
 * by a bitonal threshold stays one blob); a blob within SPECK_MM each way
 * that touches neither the print (a mark crossing the printed number shows
 * only its ends) nor the zone's edge (a stroke entering from outside) is
 * dust, and when there are at most DUST_MAX_BLOBS such blobs they are taken
 * out of the tally. More small blobs are kept: a pencil stroke that a harsh
 * threshold left as a trail of dots. */
#define DUST_MAX_BLOBS 2
#define DUST_MIN_DPI_BITONAL 250.0
static void dust_filter(scan_t *s, const zone_t *z, tally_t *t)
{
    const int nx = z->nx, ny = z->ny;
    uint8_t *dots = s->dots;
    int *stk = s->stack;
    const int max_ext = (int)floor(SPECK_MM / z->step + 1e-9);
    int n_dust = 0, dust_pts = 0;
    double dust_dark = 0;
    int ki0 = nx, ki1 = -1, kj0 = ny, kj1 = -1; /* bounding box of the blobs kept */
    for (int j0 = t->j0; j0 <= t->j1; j0++)
        for (int i0 = t->i0; i0 <= t->i1; i0++) {
            if (!dots[(size_t)j0 * nx + i0])
                continue;
            blob_t b;
            flood_blob(dots, z->mask, nx, ny, i0, j0, stk, &b);
            int small = (b.i1 - b.i0 + 1) <= max_ext && (b.j1 - b.j0 + 1) <= max_ext;
            if (small && !b.touches) {
                n_dust++;
                dust_pts += b.n;
                dust_dark += b.dark;
            } else {
                if (b.i0 < ki0) ki0 = b.i0;
                if (b.i1 > ki1) ki1 = b.i1;
                if (b.j0 < kj0) kj0 = b.j0;
                if (b.j1 > kj1) kj1 = b.j1;
            }
        }
    t->n_small = n_dust;
    t->small_pts = dust_pts;
    t->small_dark = dust_dark;
    t->ki0 = ki0;
    t->ki1 = ki1;
    t->kj0 = kj0;
    t->kj1 = kj1;
}

/* Take the small blobs dust_filter found out of the tally. */
static void dust_remove(tally_t *t)
{
    if (!t->n_small)
        return;
    t->n_ink -= t->small_pts;
    t->sum_dark -= t->small_dark;
    if (t->n_ink <= 0 || t->ki1 < 0) {
        t->n_ink = 0;
        t->sum_dark = 0;
        return;
    }
    t->i0 = t->ki0;
    t->i1 = t->ki1;
    t->j0 = t->kj0;
    t->j1 = t->kj1;
}

/* Grey, mark targets: light ink, what faint pencil and erasure residue
 * leave (tools/simulate/pen.c draws them at grey 175-225 over paper of
 * 190-245, thin and grainy): open points darker than the zone's own paper
 * level by a clear margin but not dark enough to be ink. The zone's paper
 * level is the median of its open points (a mark covers far fewer), so
 * uneven light and faded backgrounds do not count; the margin is
 * LIGHT_MIN of the paper-to-black range, and at least LIGHT_NOISE_K times
 * the page's noise (noise_sd, from the spread of the targets' levels: the
 * faded corpus pages have sd 4-9 over a range of ~130). A point counts
 * when one of its 4 neighbours is light too (a stroke, not noise).
 * light[] holds the 2x2 mean levels of the candidates, 0 elsewhere
 * (zone_sample). Sets t->n_light and t->sum_light (their darkness against
 * the zone's paper, in the paper-to-black range). */
#define LIGHT_MIN 0.06
#define LIGHT_NOISE_K 3.0
static void light_tally(const zone_t *z, const uint8_t *light, float noise_sd, tally_t *t)
{
    t->n_light = 0;
    t->sum_light = 0;
    if (t->p50 < 0)
        return;
    const int zp = t->p50;
    float margin = (float)LIGHT_MIN / t->inv_range;
    if (margin < LIGHT_NOISE_K * noise_sd)
        margin = (float)LIGHT_NOISE_K * noise_sd;
    int lim = (int)floorf((float)zp - margin);
    if (lim < 1)
        return;
    const int nx = z->nx, ny = z->ny;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            int v = light[(size_t)j * nx + i];
            if (!v || v > lim)
                continue;
            int a = i > 0 ? light[(size_t)j * nx + i - 1] : 0;
            int b = i + 1 < nx ? light[(size_t)j * nx + i + 1] : 0;
            int c = j > 0 ? light[(size_t)(j - 1) * nx + i] : 0;
            int d = j + 1 < ny ? light[(size_t)(j + 1) * nx + i] : 0;
            if ((a && a <= lim) || (b && b <= lim) || (c && c <= lim) || (d && d <= lim)) {
                t->n_light++;
                t->sum_light += (float)(zp - v) * t->inv_range;
            }
        }
}

/* Most of a zone is paper. On 1 bpp a run of WHITE_RUN points of a zone
 * row (4.8 mm at the marks' 0.15 mm steps) is first tested as a whole:
 * when every image pixel that its points' 2x2 reads can touch is white, no
 * point of the run is dark, and its counts are the mask's (zone_t.runs).
 * On the bench's G4 pages half of the points lie in such runs. run_white:
 * the run from the point at image (x, y), stepping (dxx, dxy). Its
 * rectangle is that of the run's end points, whose coordinates bound the
 * others' (each is the one before plus a constant step, and rounding keeps
 * that monotone), widened by a pixel each way for the rounding of the end
 * point computed here and by the 2x2 read; a rectangle not wholly inside
 * the image is not white. */
static inline int run_white(const l_uint32 *data, int wpl, int w, int h, double x, double y,
                            double dxx, double dxy)
{
    double xe = x + (WHITE_RUN - 1) * dxx, ye = y + (WHITE_RUN - 1) * dxy;
    double x0 = x < xe ? x : xe, x1 = x < xe ? xe : x;
    double y0 = y < ye ? y : ye, y1 = y < ye ? ye : y;
    if (!(x0 >= 1 && y0 >= 1 && x1 < w && y1 < h))
        return 0;
    return omr_sample_rect_white(data, wpl, w, h, (int)x0 - 1, (int)x1 + 2, (int)y0 - 1,
                                 (int)y1 + 2);
}

/* Grey pages are 8 MB at 300 dpi, mostly out of the caches when sampled,
 * and each row of a zone reads new lines of two or three image rows, which
 * the loop then waits for (a fifth of sampling a JPEG page). So the lines
 * of the zone row two ahead are asked for while this one is counted: the
 * row from template point (X, Y) over len mm, its pixels and the row below
 * (the 2x2 reads). Only a hint, nothing is read: the bounds may be a line
 * off. (On 1 bpp, eight times denser, it did not pay.) */
static inline void prefetch_row(const scan_t *s, const double *xf, double X, double Y, double len)
{
    double xa = xf[0] * X + xf[1] * Y + xf[2], ya = xf[3] * X + xf[4] * Y + xf[5];
    double xb = xa + xf[0] * len, yb = ya + xf[3] * len;
    if (!(xa >= 0 && ya >= 0 && xb >= 0 && yb >= 0 && xa < s->w && xb < s->w && ya < s->h - 1 &&
          yb < s->h - 1))
        return;
    int x0 = (int)(xa < xb ? xa : xb), x1 = (int)(xa < xb ? xb : xa) + 1;
    int y0 = (int)(ya < yb ? ya : yb), y1 = (int)(ya < yb ? yb : ya) + 1;
    for (int y = y0; y <= y1; y++) {
        const char *line = (const char *)(s->data + (size_t)y * s->wpl);
        for (int b = x0 & ~63; b <= x1; b += 64)
            __builtin_prefetch(line + b);
    }
}

/* Grey: the tests of zone_sample, "(paper - scale * level) * inv_range >=
 * thr" in floats as written there, as a limit on the level: the largest
 * level in 0..n that passes (-1: none). scale * level is exact (scale 1 or
 * 0.25, level <= 1020) and grows with the level, the rounded difference
 * then never grows, and inv_range > 0: what passes is a prefix 0..limit,
 * found by bisection. So the loop compares integers, and computes the
 * darkness of the dark points only. */
static int level_limit(float paper, float inv_range, float scale, int n, float thr)
{
    int lo = -1, hi = n + 1; /* level lo passes (or is -1), hi fails (or is n + 1) */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if ((paper - scale * (float)mid) * inv_range >= thr)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Count the zone's open points: dark ones and, on grey, their darkness.
 * depth is s->depth, passed as a constant by zone_sample() so that each
 * depth gets its own loop without the other depth's branches. */
static inline __attribute__((always_inline)) void zone_sample_d(scan_t *s, const zone_t *z,
                                                                const double *xf, tally_t *t,
                                                                const int depth)
{
    memset(t, 0, sizeof *t);
    t->p25 = t->p50 = -1;
    if (z->nx <= 0)
        return;
    const double dxx = xf[0] * z->step, dxy = xf[3] * z->step;
    float paper = 255, inv_range = 1.0f / 255;
    if (depth == 8) {
        double cx, cy;
        omr_register_map(xf, z->X0 + z->nx * z->step / 2, z->Y0 + z->ny * z->step / 2, &cx, &cy);
        int bx = (int)(cx / s->block), by = (int)(cy / s->block);
        if (bx < 0) bx = 0;
        if (by < 0) by = 0;
        if (bx >= s->bw) bx = s->bw - 1;
        if (by >= s->bh) by = s->bh - 1;
        paper = paper_at(s, bx, by);
        float range = paper - s->black;
        if (range < 20)
            range = 20;
        inv_range = 1.0f / range;
    }
    const float dark_min = (float)OMR_SAMPLE_DARK_MIN;
    /* grey levels at or below which: the print shows, a point near the
     * print is dark, a point's 2x2 sum is dark (level_limit) */
    int print_lim = -1, near_lim = -1, sum_lim = -1;
    if (depth == 8) {
        print_lim = level_limit(paper, inv_range, 1.0f, 255, 0.5f);
        near_lim = level_limit(paper, inv_range, 1.0f, 255, 2 * dark_min);
        sum_lim = level_limit(paper, inv_range, 0.25f, 1020, dark_min);
    }
    size_t npts = (size_t)z->nx * z->ny;
    uint8_t *dots = s->dots && npts <= s->dots_cap ? s->dots : NULL;
    if (dots)
        memset(dots, 0, npts);
    uint8_t *light = dots && depth == 8 && s->light && s->light_used + npts <= s->light_cap
                         ? s->light + s->light_used
                         : NULL;
    int hist[256];
    if (light) {
        memset(light, 0, npts);
        memset(hist, 0, sizeof hist);
    }
    /* Grey: a dark point counts when its left or upper neighbour point is
     * dark too: pen strokes (>= 0.3 mm, two points across) pass, isolated
     * noise pixels and the smallest specks do not. */
    uint8_t prev[ZONE_MAX_NX + 1], cur[ZONE_MAX_NX + 1];
    memset(prev, 0, sizeof prev);
    /* Rows within CROSSOUT_BAND_MM of the middle: a line struck through the
     * target fills a row across; a ring only touches its ends. */
    const int band_j = (int)(CROSSOUT_BAND_MM / z->step);
    int in_band = 0, gap = 0;
    /* The loop works on local copies of the image, the zone and the counts:
     * its byte stores (dots, light, cur) may alias any of them through the
     * pointers, so with the counts in *t the compiler reloaded and stored
     * them at every point (a third of the loop's time). The same counts in
     * the same order, written back to *t after the loop. */
    const l_uint32 *const data = s->data;
    const int W = s->w, H = s->h, wpl = s->wpl, nx = z->nx, ny = z->ny;
    const int n_runs = (nx + WHITE_RUN - 1) / WHITE_RUN;
    const double step = z->step, X0 = z->X0, Y0 = z->Y0;
    int n_valid = 0, n_ink = 0, n_near = 0, n_near_ink = 0, n_print = 0, n_print_ink = 0;
    int n_edge = 0, n_edge_ink = 0, n_bands = 0;
    box_t box = {0, 0, 0, 0}; /* of the counted dark points */
    double sum_dark = 0;
    for (int j = 0; j < ny; j++) {
        const double Y = Y0 + j * step;
        const int row_valid0 = n_valid, row_ink0 = n_ink;
        double x = xf[0] * X0 + xf[1] * Y + xf[2];
        double y = xf[3] * X0 + xf[4] * Y + xf[5];
        const uint8_t *m = z->mask + (size_t)j * nx;
        if (depth == 8 && j + 2 < ny)
            prefetch_row(s, xf, X0, Y + 2 * step, (nx - 1) * step);
        cur[0] = 0;
        for (int i = 0; i < nx;) {
            const int iend = i + WHITE_RUN < nx ? i + WHITE_RUN : nx;
            if (depth == 1 && iend - i == WHITE_RUN && run_white(data, wpl, W, H, x, y, dxx, dxy)) {
                /* Paper under the whole run: the counts of the loop below
                 * follow from the mask (no point is dark, all are inside
                 * the image), without a pixel read; x and y step as there. */
                const uint32_t c = z->runs[(size_t)j * n_runs + i / WHITE_RUN];
                n_valid += (int)(c & 0xff);
                n_near += (int)(c >> 8 & 0xff);
                n_print += (int)(c >> 16 & 0xff);
                n_edge += (int)(c >> 24);
                for (; i < iend; i++, x += dxx, y += dxy)
                    ;
                continue;
            }
            for (; i < iend; i++, x += dxx, y += dxy) {
                cur[i + 1] = 0;
                if (m[i] == 1 || x < 0 || y < 0)
                    continue;
                int ix = (int)x, iy = (int)y;
                if (ix >= W || iy >= H)
                    continue;
                const l_uint32 *line = data + (size_t)iy * wpl;
                if (m[i] >= 3) {
                    /* On the print: a scan that shows it is not too light. */
                    int dk;
                    if (depth == 1) {
                        int ix1 = ix + 1 < W ? ix + 1 : ix;
                        const l_uint32 *line1 = iy + 1 < H ? line + wpl : line;
                        dk = GET_DATA_BIT(line, ix) | GET_DATA_BIT(line, ix1) |
                             GET_DATA_BIT(line1, ix) | GET_DATA_BIT(line1, ix1);
                    } else {
                        dk = (int)GET_DATA_BYTE(line, ix) <= print_lim;
                    }
                    if (m[i] == 3) {
                        n_print++;
                        n_print_ink += dk;
                    } else {
                        n_edge++;
                        n_edge_ink += dk;
                    }
                    continue;
                }
                if (m[i] == 2) {
                    /* Near the print: dark here is mostly the print grown by
                     * the scanner; omr_sample_page compares with the page. */
                    n_near++;
                    if (depth == 1)
                        n_near_ink += (float)GET_DATA_BIT(line, ix) >= 2 * dark_min;
                    else
                        n_near_ink += (int)GET_DATA_BYTE(line, ix) <= near_lim;
                    continue;
                }
                n_valid++;
                if (depth == 1) {
                    /* Bitonal: a pencil stroke may come out as scattered dots,
                     * so a point looks at its 2x2 pixels (at 300 dpi the points
                     * are 1.8 px apart: together they see nearly every pixel),
                     * and every black point counts (the scanner's threshold
                     * already removed the noise). */
                    int ix1 = ix + 1 < W ? ix + 1 : ix;
                    const l_uint32 *line1 = iy + 1 < H ? line + wpl : line;
                    if (GET_DATA_BIT(line, ix) | GET_DATA_BIT(line, ix1) | GET_DATA_BIT(line1, ix) |
                        GET_DATA_BIT(line1, ix1)) {
                        n_ink++;
                        sum_dark += 1;
                        grow_box(&box, n_ink, i, j);
                        if (dots)
                            dots[(size_t)j * nx + i] = 251;
                    }
                    continue;
                }
                /* Grey: the mean of 2x2 pixels halves the sensor noise and
                 * evens out pencil grain. */
                int ix1 = ix + 1 < W ? ix + 1 : ix;
                const l_uint32 *line1 = iy + 1 < H ? line + wpl : line;
                int v = GET_DATA_BYTE(line, ix) + GET_DATA_BYTE(line, ix1) + GET_DATA_BYTE(line1, ix) +
                        GET_DATA_BYTE(line1, ix1);
                if (light)
                    hist[v >> 2]++;
                if (v > sum_lim) { /* d < dark_min */
                    if (light)
                        light[(size_t)j * nx + i] = (uint8_t)((v >> 2) ? (v >> 2) : 1);
                    continue;
                }
                float d = (paper - 0.25f * (float)v) * inv_range;
                cur[i + 1] = 1;
                if (cur[i] || prev[i + 1]) {
                    n_ink++;
                    sum_dark += d > 1 ? 1 : d;
                    grow_box(&box, n_ink, i, j);
                    if (dots)
                        dots[(size_t)j * nx + i] = (uint8_t)(1 + lroundf((d > 1 ? 1 : d) * 250));
                }
            }
        }
        if (depth == 8)
            memcpy(prev, cur, (size_t)nx + 1);
        int rv = n_valid - row_valid0, ri = n_ink - row_ink0;
        if (abs(2 * j - (ny - 1)) > 2 * band_j)
            continue;
        int full = rv >= CROSSOUT_ROW_MIN_POINTS && ri >= CROSSOUT_ROW_SHARE * rv;
        if (full && !in_band && (n_bands == 0 || gap))
            n_bands++;
        if (full)
            gap = 0;
        else if (in_band || n_bands)
            gap = 1;
        in_band = full;
    }
    t->n_valid = n_valid;
    t->n_ink = n_ink;
    t->n_near = n_near;
    t->n_near_ink = n_near_ink;
    t->n_print = n_print;
    t->n_print_ink = n_print_ink;
    t->n_edge = n_edge;
    t->n_edge_ink = n_edge_ink;
    t->n_bands = n_bands;
    t->sum_dark = sum_dark;
    if (n_ink > 0) {
        t->i0 = box.i0;
        t->i1 = box.i1;
        t->j0 = box.j0;
        t->j1 = box.j1;
    }
    if (dots && t->n_ink > 0)
        dust_filter(s, z, t);
    t->inv_range = inv_range;
    if (light) {
        t->light_off = s->light_used;
        s->light_used += npts;
        int n = 0;
        for (int k = 0; k < 256; k++)
            n += hist[k];
        if (n >= 20) {
            int acc = 0;
            for (int k = 0; k < 256; k++) {
                acc += hist[k];
                if (t->p25 < 0 && acc > n / 4)
                    t->p25 = k;
                if (acc > n / 2) {
                    t->p50 = k;
                    break;
                }
            }
        }
    }
}

static void zone_sample(scan_t *s, const zone_t *z, const double *xf, tally_t *t)
{
    if (s->depth == 1)
        zone_sample_d(s, z, xf, t, 1);
    else
        zone_sample_d(s, z, xf, t, 8);
}

/* ---------------------------------------------------------- trace shape */

/* The shape of a little added ink (omr_measure_t.trace_piece_mm,
 * trace_span_mm; sample.h). Only for mark targets whose ink is below
 * OMR_SAMPLE_TRACE_INK_MAX, a few per page, so the zone is sampled again
 * here on its own (the counting loop of zone_sample stays as it is): the
 * open points (mask 0; the band around the print and the print itself are
 * left out, as for ink), dark as zone_sample counts them (bitonal: any of
 * the 2x2 pixels; grey: at least OMR_SAMPLE_DARK_MIN of the way from the
 * zone's paper to black, without the neighbour test), grouped into pieces
 * like dust_filter's blobs (points up to 2 steps apart join). A piece's
 * extent is the longer side of its box, in points times the step. Sets
 * *ppiece and *pspan (mm), both 0 when there are no pieces, more than
 * TRACE_MAX_PIECES (noise, a dotty page), or a piece touches the zone's
 * outer edge (a stroke coming in from outside: a scanner streak, a
 * neighbour's mark). Uses s->dots and s->stack (>= the zone's points).
 * Dust removal does not apply: a dust speck next to a trace only adds a
 * piece, and a trace needs a long piece to count (classify.c). */
#define TRACE_MAX_PIECES 2
static void trace_shape(scan_t *s, const zone_t *z, const double *xf, float *ppiece,
                        float *pspan)
{
    *ppiece = *pspan = 0;
    const int nx = z->nx, ny = z->ny;
    size_t npts = (size_t)nx * ny;
    if (nx <= 0 || !s->dots || !s->stack || npts > s->dots_cap)
        return;
    float paper = 255, inv_range = 1.0f / 255;
    if (s->depth == 8) {
        double cx, cy;
        omr_register_map(xf, z->X0 + nx * z->step / 2, z->Y0 + ny * z->step / 2, &cx, &cy);
        int bx = (int)(cx / s->block), by = (int)(cy / s->block);
        bx = bx < 0 ? 0 : bx >= s->bw ? s->bw - 1 : bx;
        by = by < 0 ? 0 : by >= s->bh ? s->bh - 1 : by;
        paper = paper_at(s, bx, by);
        float range = paper - s->black;
        inv_range = 1.0f / (range < 20 ? 20 : range);
    }
    uint8_t *d = s->dots;
    memset(d, 0, npts);
    int i0 = nx, i1 = -1, j0 = ny, j1 = -1;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            if (z->mask[(size_t)j * nx + i])
                continue;
            double x, y;
            omr_register_map(xf, z->X0 + i * z->step, z->Y0 + j * z->step, &x, &y);
            if (x < 0 || y < 0)
                continue;
            int ix = (int)x, iy = (int)y;
            if (ix >= s->w || iy >= s->h)
                continue;
            int ix1 = ix + 1 < s->w ? ix + 1 : ix;
            const l_uint32 *line = s->data + (size_t)iy * s->wpl;
            const l_uint32 *line1 = iy + 1 < s->h ? line + s->wpl : line;
            int dk;
            if (s->depth == 1) {
                dk = GET_DATA_BIT(line, ix) | GET_DATA_BIT(line, ix1) | GET_DATA_BIT(line1, ix) |
                     GET_DATA_BIT(line1, ix1);
            } else {
                int v = GET_DATA_BYTE(line, ix) + GET_DATA_BYTE(line, ix1) +
                        GET_DATA_BYTE(line1, ix) + GET_DATA_BYTE(line1, ix1);
                dk = (paper - 0.25f * (float)v) * inv_range >= (float)OMR_SAMPLE_DARK_MIN;
            }
            if (!dk)
                continue;
            d[(size_t)j * nx + i] = 1;
            if (i < i0) i0 = i;
            if (i > i1) i1 = i;
            if (j < j0) j0 = j;
            if (j > j1) j1 = j;
        }
    if (i1 < 0)
        return;
    int *stk = s->stack, n_pieces = 0, longest = 0;
    for (int jj = j0; jj <= j1; jj++)
        for (int ii = i0; ii <= i1; ii++) {
            if (!d[(size_t)jj * nx + ii])
                continue;
            blob_t b;
            flood_blob(d, z->mask, nx, ny, ii, jj, stk, &b);
            if (b.i0 == 0 || b.j0 == 0 || b.i1 == nx - 1 || b.j1 == ny - 1)
                return; /* enters from outside the zone */
            if (++n_pieces > TRACE_MAX_PIECES)
                return;
            int ext = (b.i1 - b.i0 > b.j1 - b.j0 ? b.i1 - b.i0 : b.j1 - b.j0) + 1;
            if (ext > longest)
                longest = ext;
        }
    int span = (i1 - i0 > j1 - j0 ? i1 - i0 : j1 - j0) + 1;
    *ppiece = (float)(longest * z->step);
    *pspan = (float)(span * z->step);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

omr_status_t omr_sample_page(PIX *pix, const omr_form_t *form, int page_index, const double *xform,
                             double black_grey, omr_sample_cache_t *cache,
                             omr_region_result_t *regions, omr_error_t *err)
{
    return omr_sample_page_ex(pix, form, page_index, xform, black_grey, cache, regions, NULL, err);
}

omr_status_t omr_sample_page_ex(PIX *pix, const omr_form_t *form, int page_index,
                                const double *xform, double black_grey,
                                omr_sample_cache_t *cache, omr_region_result_t *regions,
                                omr_sample_info_t *info, omr_error_t *err)
{
    if (info) {
        info->print_recovery = -1;
        info->edge_recovery = -1;
    }
    if (!pix || !form || !xform || !cache || !regions)
        return omr_error_set(err, OMR_EINPUT, "sample: missing argument");
    if (page_index < 0 || page_index >= form->n_pages)
        return omr_error_set(err, OMR_EINPUT, "sample: form %s has no page %d", form->id,
                             page_index + 1);
    scan_t s = {.data = pixGetData(pix), .wpl = pixGetWpl(pix), .w = (int)pixGetWidth(pix),
                .h = (int)pixGetHeight(pix), .depth = (int)pixGetDepth(pix)};
    if ((s.depth != 1 && s.depth != 8) || pixGetColormap(pix))
        return omr_error_set(err, OMR_EINPUT, "sample: image depth %d bpp (1 or 8 expected)",
                             s.depth);
    omr_status_t st = omr_sample_cache_prepare(cache, form, page_index, err);
    if (st != OMR_OK)
        return st;
    const page_masks_t *pm = cache_find(cache, &form->pages[page_index]);
    if (s.depth == 8) {
        double k = sqrt(fabs(xform[0] * xform[4] - xform[1] * xform[3]));
        if (paper_map(&s, k))
            return omr_error_set(err, OMR_ENOMEM, "sample: out of memory");
        s.black = black_grey > 0 ? (float)black_grey : 0;
    }
    /* Ink over the printed number or frame is hidden by the mask; only the
     * band just around the print shows it, as more dark points there than
     * the page's other regions of the same kind have (their print grows
     * the same way under this scan's threshold and blur). For circle
     * targets on 1-bpp scans that excess, beyond NEAR_SLACK, is added to
     * ink: on the simulator's corpus it lifted ticks and small loops drawn
     * on the number by 0.01-0.04 while blank circles gained at most 0.006.
     * Not on grey scans (JPEG halos and blur make the band noisy: blank
     * regions read as marked) nor for checkboxes (a blurred 200-dpi frame
     * gained up to 0.014 with no mark, and weak ticks in boxes are not on
     * the frame). */
    float *near = malloc(sizeof(float) * (size_t)(pm->n ? pm->n : 1) * 2);
    float *sorted = near ? near + pm->n : NULL;
    tally_t *tt = malloc(sizeof *tt * (size_t)(pm->n ? pm->n : 1));
    if (!near || !tt) {
        free(near);
        free(tt);
        free(s.paper);
        return omr_error_set(err, OMR_ENOMEM, "sample: out of memory");
    }
    const omr_region_t *rgs = form->pages[page_index].regions;
    /* Dust is filtered out of mark targets (dust_filter); text and digit
     * boxes are read by the handwriting stage, labels have a high blank
     * threshold. */
    for (int i = 0; i < pm->n; i++)
        if (rgs[i].kind == OMR_REGION_CIRCLE || rgs[i].kind == OMR_REGION_CHECK) {
            size_t np = (size_t)pm->target[i].nx * pm->target[i].ny;
            if (np > s.dots_cap)
                s.dots_cap = np;
        }
    if (s.dots_cap) {
        s.dots = malloc(s.dots_cap);
        s.stack = malloc(sizeof(int) * s.dots_cap);
        if (s.depth == 8)
            for (int i = 0; i < pm->n; i++)
                if (rgs[i].kind == OMR_REGION_CIRCLE || rgs[i].kind == OMR_REGION_CHECK)
                    s.light_cap += (size_t)pm->target[i].nx * pm->target[i].ny;
        s.light = s.light_cap ? malloc(s.light_cap) : NULL;
        if (!s.dots || !s.stack || (s.light_cap && !s.light)) {
            free(s.light);
            free(s.dots);
            free(s.stack);
            free(near);
            free(tt);
            free(s.paper);
            return omr_error_set(err, OMR_ENOMEM, "sample: out of memory");
        }
    }
    uint8_t *dots = s.dots;
    for (int i = 0; i < pm->n; i++) {
        /* not bubbles: their printed code would be a blot of "dust" */
        s.dots = (rgs[i].kind == OMR_REGION_CIRCLE || rgs[i].kind == OMR_REGION_CHECK) && !rgs[i].round ? dots : NULL;
        zone_sample(&s, &pm->target[i], xform, &tt[i]);
        near[i] = tt[i].n_near >= 20 ? (float)tt[i].n_near_ink / tt[i].n_near : -1;
    }
    s.dots = NULL;
    /* A page whose pen strokes come out as trails of dots (pencil under a
     * harsh bitonal threshold; the simulator's worn 200-dpi feeder) may
     * show a whole mark as one or two dots: there a dot is not dust, and
     * stays in the tally (at most doubtful, as a speck). Elsewhere up to
     * DUST_MAX_BLOBS small blobs in a target are dust and removed. */
    int dotty = 0;
    for (int i = 0; i < pm->n; i++)
        dotty += tt[i].n_small > DUST_MAX_BLOBS;
    /* Bitonal below 250 dpi: a pixel is 0.13 mm, a pencil stroke two to
     * four pixels wide, and a threshold below the middle leaves single
     * pixels of it; on the simulator's 200-dpi scans 24 pencil ticks and
     * crosses were one or two dots. Dust and such a mark look the same
     * there, so the dots stay (a speck: doubtful, never lost). */
    double px_per_mm = sqrt(fabs(xform[0] * xform[4] - xform[1] * xform[3]));
    if (s.depth == 1 && px_per_mm * OMR_MM_PER_INCH < DUST_MIN_DPI_BITONAL)
        dotty = 1;
    for (int i = 0; i < pm->n; i++)
        if (!dotty && tt[i].n_small <= DUST_MAX_BLOBS)
            dust_remove(&tt[i]);
    if (s.light) {
        /* The page's noise: the median over its targets of the spread
         * between their 25th and 50th percentile levels (0.674 sd of the
         * 2x2 means); a mark in one target moves it little. */
        int n_sp = 0;
        for (int i = 0; i < pm->n; i++)
            if (tt[i].p50 >= 0 && tt[i].p25 >= 0)
                sorted[n_sp++] = (float)(tt[i].p50 - tt[i].p25);
        qsort(sorted, (size_t)n_sp, sizeof *sorted, cmp_float);
        float noise_sd = n_sp ? sorted[n_sp / 2] / 0.674f : 0;
        for (int i = 0; i < pm->n; i++)
            if (tt[i].p50 >= 0)
                light_tally(&pm->target[i], s.light + tt[i].light_off, noise_sd, &tt[i]);
    }
    int n_circ = 0;
    for (int i = 0; i < pm->n; i++)
        if (rgs[i].kind == OMR_REGION_CIRCLE && near[i] >= 0)
            sorted[n_circ++] = near[i];
    qsort(sorted, (size_t)n_circ, sizeof *sorted, cmp_float);
    const float median = n_circ ? sorted[n_circ / 2] : 0;
    long n_print = 0, n_print_ink = 0, n_edge = 0, n_edge_ink = 0;
    for (int i = 0; i < pm->n; i++) {
        tally_t t = tt[i], tl;
        zone_sample(&s, &pm->label[i], xform, &tl);
        n_print += t.n_print + tl.n_print;
        n_print_ink += t.n_print_ink + tl.n_print_ink;
        n_edge += t.n_edge + tl.n_edge;
        n_edge_ink += t.n_edge_ink + tl.n_edge_ink;
        int speck = is_speck(&t, pm->target[i].step), speck_l = is_speck(&tl, pm->label[i].step);
        /* Kept dust (a dotty page): one or two blots and nothing else are
         * a speck too, wherever they lie in the zone. */
        if (t.n_ink > 0 && t.n_small > 0 && t.n_small <= DUST_MAX_BLOBS && t.ki1 < 0)
            speck = 1;
        omr_measure_t *m = &regions[i].m;
        m->ink = t.n_valid ? (float)t.n_ink / t.n_valid : 0;
        if (rgs[i].kind == OMR_REGION_CHECK && rgs[i].round) {
            /* A bubble: the mean darkness of its middle, printed code
             * included (classify.c takes the page's blank bubbles off). On
             * grey scans darkness, not the share of dark points: the blur
             * of a 100-dpi JPEG makes half the points around a printed
             * letter "dark", while a fill is dark through and through
             * (OMRChecker's two real scans, middles of 0.55 radii: filled
             * bubbles' 90-139 grey, blank ones' 121-197 with the letter). */
            m->ink = t.n_valid ? (float)(t.sum_dark / t.n_valid) : 0;
            speck = speck_l = 0;
        }
        if (s.depth == 1 && rgs[i].kind == OMR_REGION_CIRCLE && near[i] >= 0 && t.n_valid > 0 &&
            n_circ >= 4) {
            float excess = near[i] - median - NEAR_SLACK;
            if (excess > 0) {
                m->ink += excess * (float)t.n_near / (float)t.n_valid;
                if (t.n_ink == 0) { /* all of the added ink is on the print */
                    t.n_ink = 1;
                    t.sum_dark = 1;
                }
            }
        }
        if (s.depth == 8 && rgs[i].kind == OMR_REGION_CIRCLE && near[i] >= 0 &&
            t.n_valid > 0 && n_circ >= 4 && near[i] - median > NEAR_SLACK_GREY &&
            m->ink < OMR_SAMPLE_SPECK_INK) {
            /* Grey: JPEG halos and blur make the band too noisy to add its
             * excess as ink, but a clear excess with next to nothing
             * elsewhere is a tick or a small loop on the printed number:
             * doubtful (the speck level), never blank. */
            m->ink = OMR_SAMPLE_SPECK_INK;
            /* The band's dark points are at least 2 * OMR_SAMPLE_DARK_MIN
             * dark: one such point in the mean keeps a light trace beside
             * the number from reading as erasure noise (blank). */
            t.n_ink++;
            t.sum_dark += 2 * OMR_SAMPLE_DARK_MIN;
        }
        m->ink_label = tl.n_valid ? (float)tl.n_ink / tl.n_valid : 0;
        /* A speck is capped at OMR_SAMPLE_SPECK_INK: at most doubtful with
         * the default profile, never a mark by itself, never lost either. */
        if (speck && m->ink > OMR_SAMPLE_SPECK_INK)
            m->ink = OMR_SAMPLE_SPECK_INK;
        if (speck_l && m->ink_label > OMR_SAMPLE_SPECK_INK)
            m->ink_label = OMR_SAMPLE_SPECK_INK;
        int n_ink = t.n_ink + tl.n_ink;
        m->darkness = n_ink ? (float)((t.sum_dark + tl.sum_dark) / n_ink) : 0;
        if (n_ink == 0 && m->ink == 0 && m->ink_label == 0 && t.n_light > 0 && t.n_valid > 0) {
            /* No ink at all, but light ink (light_tally): reported as its
             * share with its darkness, which is below OMR_SAMPLE_DARK_MIN
             * (what tells it from counted ink; classify.c decides). */
            m->ink = (float)t.n_light / (float)t.n_valid;
            float dk = (float)(t.sum_light / t.n_light);
            const float cap = (float)OMR_SAMPLE_DARK_MIN * 0.99f;
            m->darkness = dk > cap ? cap : dk < 0.001f ? 0.001f : dk;
        }
        m->light_share = (rgs[i].kind == OMR_REGION_CIRCLE || rgs[i].kind == OMR_REGION_CHECK) &&
                                 !rgs[i].round && t.n_valid > 0
                             ? (float)t.n_light / (float)t.n_valid
                             : 0;
        m->trace_piece_mm = m->trace_span_mm = 0;
        if ((rgs[i].kind == OMR_REGION_CIRCLE || rgs[i].kind == OMR_REGION_CHECK) &&
            m->ink > 0 && m->ink < OMR_SAMPLE_TRACE_INK_MAX) {
            s.dots = dots;
            trace_shape(&s, &pm->target[i], xform, &m->trace_piece_mm, &m->trace_span_mm);
            s.dots = NULL;
        }
        if (rgs[i].kind == OMR_REGION_CIRCLE && t.n_bands >= 2)
            regions[i].doubt |= OMR_DOUBT_CROSSOUT;
        else
            regions[i].doubt &= ~(unsigned)OMR_DOUBT_CROSSOUT;
    }
    if (info && s.depth == 1) {
        if (n_print >= OMR_SAMPLE_RECOVERY_MIN_POINTS)
            info->print_recovery = (float)n_print_ink / (float)n_print;
        if (n_edge >= OMR_SAMPLE_RECOVERY_MIN_POINTS)
            info->edge_recovery = (float)n_edge_ink / (float)n_edge;
    }
    free(near);
    free(tt);
    free(s.paper);
    free(dots);
    free(s.stack);
    free(s.light);
    return OMR_OK;
}

/* ---------------------------------------------------------------- crop */

/* (int)floor(x) for finite x in int range, without the libm call. */
static inline int floor_int(double x)
{
    int t = (int)x; /* truncates towards zero */
    return t > x ? t - 1 : t;
}

/* lround(v) for finite 0 <= v < 2^31: v - (int)v is exact there, so the
 * half-way test is too (v + 0.5 could round up just below a half). */
static inline int round_nonneg(double v)
{
    int t = (int)v;
    return t + (v - t >= 0.5);
}

PIX *omr_sample_crop(PIX *pix, const double *xf, const omr_region_t *rg, double inset_mm,
                     double px_per_mm, omr_error_t *err)
{
    if (!pix || !xf || !rg) {
        omr_error_set(err, OMR_EINPUT, "sample crop: missing argument");
        return NULL;
    }
    int depth = (int)pixGetDepth(pix);
    if ((depth != 1 && depth != 8) || pixGetColormap(pix)) {
        omr_error_set(err, OMR_EINPUT, "sample crop: image depth %d bpp (1 or 8 expected)", depth);
        return NULL;
    }
    if (px_per_mm <= 0)
        px_per_mm = sqrt(fabs(xf[0] * xf[4] - xf[1] * xf[3]));
    double X0 = rg->box.x + inset_mm, Y0 = rg->box.y + inset_mm;
    double W = rg->box.w - 2 * inset_mm, H = rg->box.h - 2 * inset_mm;
    int w = (int)lround(W * px_per_mm), h = (int)lround(H * px_per_mm);
    if (w < 1 || h < 1 || w > 4096 || h > 4096 || !(px_per_mm < 1000)) {
        omr_error_set(err, OMR_EINPUT, "sample crop: region %s of %.1fx%.1f mm gives %dx%d px",
                      rg->var, W, H, w, h);
        return NULL;
    }
    PIX *out = pixCreate(w, h, 8);
    if (!out) {
        omr_error_set(err, OMR_ENOMEM, "sample crop: out of memory");
        return NULL;
    }
    pixSetResolution(out, (int)lround(px_per_mm * OMR_MM_PER_INCH),
                     (int)lround(px_per_mm * OMR_MM_PER_INCH));
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix), iw = (int)pixGetWidth(pix), ih = (int)pixGetHeight(pix);
    l_uint32 *odata = pixGetData(out);
    int owpl = pixGetWpl(out);
    /* The column coordinates once (a division each); per pixel the same
     * arithmetic as before, in the same order, so the same bytes: floor
     * and lround done inline (for the finite, non-negative values here
     * they are exact), the four taps unrolled with the sum in tap order. */
    double Xcol[4096];
    for (int i = 0; i < w; i++)
        Xcol[i] = X0 + (i + 0.5) / px_per_mm;
    for (int j = 0; j < h; j++) {
        double Y = Y0 + (j + 0.5) / px_per_mm;
        l_uint32 *oline = odata + (size_t)j * owpl;
        for (int i = 0; i < w; i++) {
            double x, y;
            omr_register_map(xf, Xcol[i], Y, &x, &y);
            /* Bilinear between pixel centres. */
            x -= 0.5;
            y -= 0.5;
            int x0 = floor_int(x), y0 = floor_int(y);
            double fx = x - x0, fy = y - y0;
            double g[4];
            for (int q = 0; q < 4; q++) {
                int xx = x0 + (q & 1), yy = y0 + (q >> 1);
                g[q] = 255;
                if (xx >= 0 && yy >= 0 && xx < iw && yy < ih) {
                    const l_uint32 *line = data + (size_t)yy * wpl;
                    g[q] = depth == 1 ? (GET_DATA_BIT(line, xx) ? 0 : 255) : GET_DATA_BYTE(line, xx);
                }
            }
            double v = 0;
            v += ((1 - fx) * (1 - fy)) * g[0];
            v += (fx * (1 - fy)) * g[1];
            v += ((1 - fx) * fy) * g[2];
            v += (fx * fy) * g[3];
            SET_DATA_BYTE(oline, i, round_nonneg(v));
        }
    }
    return out;
}
