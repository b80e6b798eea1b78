/* register_print.c -- stage 3 for a page printed without corner marks: find
 * where its print lies in the scan and fit the transform from template mm to
 * image px (register.h, omr_register_page_print).
 *
 * How: the blank page's image and the scan are brought to the same grid,
 * upright, at OMR_REGISTER_PRINT_PX_PER_MM (4 px/mm, "fine"), and reduced
 * to 1 px/mm ("middle") and 0.5 px/mm ("first"). Patches of the blank
 * page's print (text, rules, headings) are chosen once per page (prepare):
 * never over the answer areas, where the respondent's ink would differ, and
 * only where unlike the rest of the page around them (evenly spaced text
 * lines and rows of alike bubbles would match themselves a line away). They
 * are looked for in the scan by normalised cross-correlation: the first
 * level's 40-mm patches over the whole shift, skew and scale the scanner
 * may have given; the middle level's 16-mm patches within a few pixels of
 * where that fit puts them; then each patch again at the fine level against
 * the scan resampled through the fit (so skew and scale do not blur the
 * match), to a fraction of a pixel. Wrong matches (a word printed twice, a
 * paragraph the reference sets otherwise) disagree with the others and are
 * left out: a consensus of three matches, weighted towards the answer
 * areas, with a prior against shear and unequal scales, then least squares
 * over the agreeing ones. What is fitted is the affine transform, as from
 * corner marks; what is checked is that enough patches, spread over the
 * page, agree within opts->max_residual_mm, and that the transform is a
 * plausible scan.
 *
 * Why not rotate or warp the scan: only the small resampled copies are
 * made; later stages map template points into the original image.
 */
#include "register.h"
#include "register_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FINE_K OMR_REGISTER_PRINT_PX_PER_MM
#define FINE_PATCH 48         /* fine patch side, px (12 mm), centred on a middle level patch */
#define MIN_STDDEV 14.0       /* grey levels: a flatter patch is blank paper or a solid area */
#define KEEPOUT_MM 1.5        /* patches keep away from the answer regions */
#define MARGIN_MM 4.0         /* and from the page's edge (scanner shadow, crop) */
#define MIN_NCC 0.5           /* a match must correlate at least this well */
#define UNIQUE_GAP 0.08       /* ... and better than its next peak (search) by this */
#define CENTRE_MM 75.0        /* the first search's reach is for patches this far from the middle */
#define INLIER_MM 1.5         /* a first or middle level match agrees with the fit within this */
#define NEAR_PX 3             /* middle level: px searched around the first fit's prediction */
#define FINE_SEARCH 4         /* fine level: px searched around the prediction */
#define FINE_INLIER_MM 0.5    /* a fine match agrees with the fit within this */
#define FINE_MIN_NCC 0.3      /* when too few fine matches reach MIN_NCC: the place is known to
                                 a pixel or two and the fit's agreement checks it (a rough 1-bit
                                 scan breaks small print into specks: 0.35-0.55 measured) */
#define MIN_PATCHES 6         /* fewer agreeing middle-level patches: not registered */
#define MAX_PATCHES 48
#define CELL_TRIES 4          /* windows tried in a cell for a distinct one */
#define REGION_NEAR_MM 50.0   /* a patch this far from the answers counts half in the consensus */
#define ANISO_WEIGHT 5.0      /* the consensus's prior against shear and unequal scales */
#define SKEW_STEP 2.5         /* degrees between the skews the first level is tried at */

/* The levels: the fine grid reduced SHRINK times; patches of SIDE px, one
 * per cell of a CX x CY grid, distinct (SELF_MAX) within their search, at
 * most OVER_REGIONS of their area over the answer regions. A big patch may
 * take in some answers (a few marks change little of 40 mm of print, and a
 * page of many questions has few 40-mm windows free of them); a small one
 * keeps KEEPOUT_MM clear. */
enum { FIRST, MIDDLE, N_LEVELS };
static const struct {
    int shrink, side, cx, cy;
    double self_max, over_regions;
} LEVEL[N_LEVELS] = {
    {8, 20, 4, 5, 0.8, 0.3}, /* first: 0.5 px/mm, 40 mm patches over the whole tolerance */
    {4, 16, 6, 8, 0.7, 0},   /* middle: 1 px/mm, 16 mm patches near where the first fit puts them */
};

/* An 8-bit grey image, row-major, w bytes a row. */
typedef struct {
    int w, h;
    uint8_t *p;
} grey_t;

/* A patch of the blank page: its top-left on its level's reference and its
 * centre in template mm; then what was matched. */
typedef struct {
    int x, y;
    double X, Y;
    int ok;           /* matched, and agrees with the fit so far */
    double x_px, y_px;/* where its centre lies in the scan grid being fitted */
    double ncc;
    double w;         /* its weight in the consensus: near the answers more */
} patch_t;

/* A peak of the correlation: top-left (x, y) with score ncc; second: the
 * best score 2 px or more away from it. */
typedef struct {
    double x, y, ncc, second;
} peak_t;

static void grey_free(grey_t *g)
{
    free(g->p);
    g->p = NULL;
}

/* The f x f block means of g: *out owned by the caller. */
static int shrink(const grey_t *g, int f, grey_t *out)
{
    out->w = g->w / f;
    out->h = g->h / f;
    out->p = malloc((size_t)(out->w ? out->w : 1) * (size_t)(out->h ? out->h : 1));
    if (!out->p)
        return -1;
    for (int j = 0; j < out->h; j++)
        for (int i = 0; i < out->w; i++) {
            int s = 0;
            for (int b = 0; b < f; b++) {
                const uint8_t *row = g->p + (size_t)(j * f + b) * g->w + i * f;
                for (int a = 0; a < f; a++)
                    s += row[a];
            }
            out->p[(size_t)j * out->w + i] = (uint8_t)((s + f * f / 2) / (f * f));
        }
    return 0;
}

/* A PIX (8 bpp, no colormap) as a grey_t (copied; *out owned by the caller). */
static int grey_of_pix(PIX *pix, grey_t *out)
{
    out->w = (int)pixGetWidth(pix);
    out->h = (int)pixGetHeight(pix);
    out->p = malloc((size_t)out->w * (size_t)out->h);
    if (!out->p)
        return -1;
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int j = 0; j < out->h; j++) {
        const l_uint32 *line = data + (size_t)j * wpl;
        for (int i = 0; i < out->w; i++)
            out->p[(size_t)j * out->w + i] = (uint8_t)GET_DATA_BYTE(line, i);
    }
    return 0;
}

/* Bits set in v (without the popcnt instruction, which the build does not
 * assume). */
static inline int popcount64(uint64_t v)
{
    v = v - (v >> 1 & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + (v >> 2 & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int)(v * 0x0101010101010101ull >> 56);
}

/* Dot products of a float patch row with a row of the scan, in 8 partial
 * sums so the compiler may use vector lanes (a single running float sum
 * must be added in order). */
static inline float dot_u8(const float *z, const uint8_t *row, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += z[i + k] * (float)row[i + k];
    float t = 0;
    for (; i < n; i++)
        t += z[i] * (float)row[i];
    return t + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline float dot_f(const float *z, const float *row, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += z[i + k] * row[i + k];
    float t = 0;
    for (; i < n; i++)
        t += z[i] * row[i];
    return t + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The scan on a grid aligned with the image, q image px per grid px: grid
 * pixel (i, j) the mean of the n x n image pixels around image point
 * ((i + 0.5) q, (j + 0.5) q) (n: q rounded; 1 bpp: black 0, white 255;
 * outside the image: paper). Row by row: the columns' boxes start where
 * their centres put them, the same in every row, so a box is n counts of n
 * pixels (on 1 bpp, one popcount of n bits each). */
static int grid_of_image(PIX *pix, double q, grey_t *out)
{
    const int W = (int)pixGetWidth(pix), H = (int)pixGetHeight(pix), depth = (int)pixGetDepth(pix);
    const int wpl = pixGetWpl(pix);
    const l_uint32 *data = pixGetData(pix);
    int n = (int)lround(q);
    if (n < 1)
        n = 1;
    if (n > 32)
        n = 32;
    out->w = (int)(W / q);
    out->h = (int)(H / q);
    out->p = malloc((size_t)(out->w ? out->w : 1) * (size_t)(out->h ? out->h : 1));
    int *x0 = malloc(sizeof *x0 * (size_t)(out->w ? out->w : 1));
    int *sum = malloc(sizeof *sum * (size_t)(out->w ? out->w : 1));
    if (!out->p || !x0 || !sum) {
        free(x0);
        free(sum);
        return -1;
    }
    const double half = n / 2.0;
    for (int i = 0; i < out->w; i++)
        x0[i] = (int)floor((i + 0.5) * q - half + 0.5);
    for (int j = 0; j < out->h; j++) {
        const int y0 = (int)floor((j + 0.5) * q - half + 0.5);
        memset(sum, 0, sizeof *sum * (size_t)out->w);
        for (int y = y0; y < y0 + n; y++) {
            if (y < 0 || y >= H) {
                for (int i = 0; i < out->w; i++)
                    sum[i] += 255 * n;
                continue;
            }
            const l_uint32 *line = data + (size_t)y * wpl;
            for (int i = 0; i < out->w; i++) {
                const int x = x0[i];
                if (x < 0 || x + n > W) { /* at the image's edge: pixel by pixel */
                    for (int xx = x; xx < x + n; xx++)
                        sum[i] += xx < 0 || xx >= W ? 255
                                  : depth == 1      ? (GET_DATA_BIT(line, xx) ? 0 : 255)
                                                    : (int)GET_DATA_BYTE(line, xx);
                } else if (depth == 1) {
                    /* the n bits from x: Leptonica keeps pixel 0 in a word's top bit */
                    const int w0 = x >> 5;
                    uint64_t bits = (uint64_t)line[w0] << 32 | (w0 + 1 < wpl ? line[w0 + 1] : 0);
                    bits = bits << (x & 31) >> (64 - n);
                    sum[i] += 255 * (n - popcount64(bits));
                } else {
                    for (int xx = x; xx < x + n; xx++)
                        sum[i] += (int)GET_DATA_BYTE(line, xx);
                }
            }
        }
        const float inv = 1.0f / (float)(n * n);
        for (int i = 0; i < out->w; i++)
            out->p[(size_t)j * out->w + i] = (uint8_t)((float)sum[i] * inv + 0.5f);
    }
    free(x0);
    free(sum);
    return 0;
}

/* The upright grid of a sheet lying at orientation: g (aligned with the
 * image) turned, into *out; m gets the map from the upright grid's
 * continuous coordinates (u, v) to the image's (q image px per grid px). */
static int upright_grid(const grey_t *g, int orientation, double q, grey_t *out, double *m)
{
    const int sideways = orientation == 90 || orientation == 270;
    out->w = sideways ? g->h : g->w;
    out->h = sideways ? g->w : g->h;
    out->p = malloc((size_t)(out->w ? out->w : 1) * (size_t)(out->h ? out->h : 1));
    if (!out->p)
        return -1;
    const double gw = g->w * q, gh = g->h * q;
    const double t[4][6] = {
        {q, 0, 0, 0, q, 0},
        {0, -q, gw, q, 0, 0},  /* 90: the sheet's top at the image's right */
        {-q, 0, gw, 0, -q, gh},
        {0, q, 0, -q, 0, gh},
    };
    memcpy(m, t[(orientation / 90) & 3], sizeof t[0]);
    for (int j = 0; j < out->h; j++)
        for (int i = 0; i < out->w; i++) {
            int ii, jj;
            switch (orientation) {
            case 90: ii = g->w - 1 - j; jj = i; break;
            case 180: ii = g->w - 1 - i; jj = g->h - 1 - j; break;
            case 270: ii = j; jj = g->h - 1 - i; break;
            default: ii = i; jj = j; break;
            }
            out->p[(size_t)j * out->w + i] = g->p[(size_t)jj * g->w + ii];
        }
    return 0;
}

/* c = a after b (affine maps as 6 numbers, x' = m0 x + m1 y + m2, ...). */
static void compose(const double *a, const double *b, double *c)
{
    double r[6];
    r[0] = a[0] * b[0] + a[1] * b[3];
    r[1] = a[0] * b[1] + a[1] * b[4];
    r[2] = a[0] * b[2] + a[1] * b[5] + a[2];
    r[3] = a[3] * b[0] + a[4] * b[3];
    r[4] = a[3] * b[1] + a[4] * b[4];
    r[5] = a[3] * b[2] + a[4] * b[5] + a[5];
    memcpy(c, r, sizeof r);
}

/* g at continuous point (u, v), bilinear between its pixel centres; paper
 * (255) where a neighbour is outside. */
static double bilinear(const grey_t *g, double u, double v)
{
    u -= 0.5;
    v -= 0.5;
    int x0 = (int)floor(u), y0 = (int)floor(v);
    if (x0 < 0 || y0 < 0 || x0 + 1 >= g->w || y0 + 1 >= g->h)
        return 255;
    double fx = u - x0, fy = v - y0;
    const uint8_t *a = g->p + (size_t)y0 * g->w + x0, *b = a + g->w;
    return (1 - fy) * ((1 - fx) * a[0] + fx * a[1]) + fy * ((1 - fx) * b[0] + fx * b[1]);
}

/* Sums of g and g^2 over rectangles: integral images, (w + 1) x (h + 1). */
typedef struct {
    int w, h;
    double *s, *s2;
} integral_t;

static int integral_of(const grey_t *g, integral_t *ii)
{
    ii->w = g->w;
    ii->h = g->h;
    size_t n = (size_t)(g->w + 1) * (size_t)(g->h + 1);
    ii->s = calloc(n, sizeof *ii->s);
    ii->s2 = calloc(n, sizeof *ii->s2);
    if (!ii->s || !ii->s2)
        return -1;
    for (int j = 0; j < g->h; j++) {
        double row = 0, row2 = 0;
        for (int i = 0; i < g->w; i++) {
            double v = g->p[(size_t)j * g->w + i];
            row += v;
            row2 += v * v;
            size_t k = (size_t)(j + 1) * (g->w + 1) + i + 1;
            ii->s[k] = ii->s[k - (g->w + 1)] + row;
            ii->s2[k] = ii->s2[k - (g->w + 1)] + row2;
        }
    }
    return 0;
}

static void integral_free(integral_t *ii)
{
    free(ii->s);
    free(ii->s2);
    ii->s = ii->s2 = NULL;
}

/* Sum and sum of squares of the w x h rectangle at (x, y), inside. */
static void rect_sums(const integral_t *ii, int x, int y, int w, int h, double *s, double *s2)
{
    const int W = ii->w + 1;
    size_t a = (size_t)y * W + x, b = a + w, c = (size_t)(y + h) * W + x, d = c + w;
    *s = ii->s[d] - ii->s[b] - ii->s[c] + ii->s[a];
    *s2 = ii->s2[d] - ii->s2[b] - ii->s2[c] + ii->s2[a];
}

/* The patch at (x, y) of g, side n, zero mean, into z[n * n]; returns its
 * norm (0: flat). */
static double patch_of(const grey_t *g, int x, int y, int n, float *z)
{
    double mean = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            mean += g->p[(size_t)(y + j) * g->w + x + i];
    mean /= (double)n * n;
    double ss = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double v = g->p[(size_t)(y + j) * g->w + x + i] - mean;
            z[j * n + i] = (float)v;
            ss += v * v;
        }
    return sqrt(ss);
}

/* Normalised cross-correlation of patch z (side n, zero mean, norm zn) with
 * g at top-left (x, y), inside; ii: g's sums. */
static double ncc_at(const grey_t *g, const integral_t *ii, const float *z, int n, double zn, int x, int y)
{
    double s, s2;
    rect_sums(ii, x, y, n, n, &s, &s2);
    double var = s2 - s * s / ((double)n * n);
    if (var < 1e-6 || zn <= 0)
        return 0;
    double cross = 0;
    for (int j = 0; j < n; j++)
        cross += dot_u8(z + j * n, g->p + (size_t)(y + j) * g->w + x, n);
    return cross / (zn * sqrt(var));
}

/* Search patch z over top-left positions within r of (cx, cy) on g (those
 * inside). The best peak, refined to a fraction of a pixel by a parabola
 * through its neighbours, and the best score 2 px or more away from it.
 * Returns 0, or -1 when no position is inside or out of memory. */
static int search(const grey_t *g, const integral_t *ii, const float *z, int n, double zn, int cx, int cy,
                  int r, peak_t *pk)
{
    int x0 = cx - r, x1 = cx + r, y0 = cy - r, y1 = cy + r;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > g->w - n) x1 = g->w - n;
    if (y1 > g->h - n) y1 = g->h - n;
    if (x1 < x0 || y1 < y0)
        return -1;
    const int sw = x1 - x0 + 1, sh = y1 - y0 + 1;
    double *map = malloc(sizeof *map * (size_t)sw * (size_t)sh);
    if (!map)
        return -1;
    int bi = 0, bj = 0;
    for (int j = 0; j < sh; j++)
        for (int i = 0; i < sw; i++) {
            double v = ncc_at(g, ii, z, n, zn, x0 + i, y0 + j);
            map[(size_t)j * sw + i] = v;
            if (v > map[(size_t)bj * sw + bi])
                bi = i, bj = j;
        }
    /* the next peak: the best local maximum 2 px or more away (the
     * shoulders of a broad best peak, a rotated or blurred match, are no
     * peaks of their own) */
    double best = map[(size_t)bj * sw + bi], second = -1;
    for (int j = 0; j < sh; j++)
        for (int i = 0; i < sw; i++) {
            double v = map[(size_t)j * sw + i];
            if ((abs(i - bi) < 2 && abs(j - bj) < 2) || v <= second)
                continue;
            int peak = 1;
            for (int b = -1; b <= 1 && peak; b++)
                for (int a = -1; a <= 1 && peak; a++) {
                    int ii = i + a, jj = j + b;
                    peak = (a == 0 && b == 0) || ii < 0 || jj < 0 || ii >= sw || jj >= sh ||
                           map[(size_t)jj * sw + ii] <= v;
                }
            if (peak)
                second = v;
        }
    double dx = 0, dy = 0;
    if (bi > 0 && bi < sw - 1) {
        double l = map[(size_t)bj * sw + bi - 1], rr = map[(size_t)bj * sw + bi + 1], den = l - 2 * best + rr;
        if (den < 0)
            dx = 0.5 * (l - rr) / den;
    }
    if (bj > 0 && bj < sh - 1) {
        double u = map[(size_t)(bj - 1) * sw + bi], d = map[(size_t)(bj + 1) * sw + bi], den = u - 2 * best + d;
        if (den < 0)
            dy = 0.5 * (u - d) / den;
    }
    free(map);
    pk->x = x0 + bi + dx;
    pk->y = y0 + bj + dy;
    pk->ncc = best;
    pk->second = second;
    return 0;
}

/* Is the reference's patch at (x, y) of side n unlike the rest of the
 * reference within r px (its correlation 3 px or more away stays below
 * self_max)? A patch of evenly spaced text lines or of a row of alike
 * bubbles matches itself shifted by a line or a bubble: found in the scan,
 * it could be the wrong one, and the wrong ones agree with one another (a
 * scale off by a line's height over the page). */
static int distinct(const grey_t *g, const integral_t *ii, int x, int y, int n, int r, double self_max, float *z)
{
    double zn = patch_of(g, x, y, n, z);
    for (int yy = y - r; yy <= y + r; yy++)
        for (int xx = x - r; xx <= x + r; xx++) {
            if ((abs(xx - x) < 3 && abs(yy - y) < 3) || xx < 0 || yy < 0 || xx + n > g->w || yy + n > g->h)
                continue;
            if (ncc_at(g, ii, z, n, zn, xx, yy) >= self_max)
                return 0;
        }
    return 1;
}

/* How far (mm) the rectangle is from the nearest answer region; 1e9 when
 * the page has none. */
static double region_distance(const omr_page_t *page, double x, double y, double w, double h)
{
    double best = 1e9;
    for (int i = 0; i < page->n_regions; i++) {
        const omr_rect_t *b = &page->regions[i].box;
        double dx = fmax(0, fmax(b->x - (x + w), x - (b->x + b->w)));
        double dy = fmax(0, fmax(b->y - (y + h), y - (b->y + b->h)));
        best = fmin(best, hypot(dx, dy));
    }
    return best;
}

/* The share of the mm rectangle covered by the page's answer regions
 * (which do not overlap one another). */
static double region_share(const omr_page_t *page, double x, double y, double w, double h)
{
    double covered = 0;
    for (int i = 0; i < page->n_regions; i++) {
        const omr_rect_t *b = &page->regions[i].box;
        double ow = fmin(x + w, b->x + b->w) - fmax(x, b->x), oh = fmin(y + h, b->y + b->h) - fmax(y, b->y);
        if (ow > 0 && oh > 0)
            covered += ow * oh;
    }
    return covered / (w * h);
}

/* The patches of level lv of the blank page g (kx, ky px per mm): in each
 * cell of the level's grid, of the windows that keep clear of the answer
 * regions and the page's edge and have enough contrast, the one of most
 * contrast that is distinct within r px (up to CELL_TRIES tried, each 4 px
 * or more from those before). Returns their number. */
static int choose_patches(const grey_t *g, const integral_t *ii, double kx, double ky, const omr_page_t *page,
                          int lv, int r, patch_t *out)
{
    const int n = LEVEL[lv].side;
    float *z = malloc(sizeof *z * (size_t)n * n);
    if (!z)
        return 0;
    int np = 0;
    for (int cy = 0; cy < LEVEL[lv].cy; cy++)
        for (int cx = 0; cx < LEVEL[lv].cx && np < MAX_PATCHES; cx++) {
            /* top-left corners whose window's centre lies in the cell */
            int xa = cx * g->w / LEVEL[lv].cx - n / 2, xb = (cx + 1) * g->w / LEVEL[lv].cx - n / 2;
            int ya = cy * g->h / LEVEL[lv].cy - n / 2, yb = (cy + 1) * g->h / LEVEL[lv].cy - n / 2;
            int tried_x[CELL_TRIES], tried_y[CELL_TRIES];
            for (int t = 0; t < CELL_TRIES; t++) {
                double best = MIN_STDDEV * MIN_STDDEV * n * n;
                int bx = -1, by = -1;
                for (int y = ya; y < yb; y += 2)
                    for (int x = xa; x < xb; x += 2) {
                        double X = x / kx, Y = y / ky, W = n / kx, H = n / ky;
                        if (X < MARGIN_MM || Y < MARGIN_MM || X + W > page->width - MARGIN_MM ||
                            Y + H > page->height - MARGIN_MM || x < 0 || y < 0 || x + n > g->w || y + n > g->h)
                            continue;
                        int near_tried = 0;
                        for (int k = 0; k < t; k++)
                            near_tried |= abs(x - tried_x[k]) < 4 && abs(y - tried_y[k]) < 4;
                        double s, s2;
                        rect_sums(ii, x, y, n, n, &s, &s2);
                        double var = s2 - s * s / ((double)n * n); /* n^2 times the variance */
                        int clear = LEVEL[lv].over_regions > 0
                                        ? region_share(page, X, Y, W, H) <= LEVEL[lv].over_regions
                                        : region_distance(page, X, Y, W, H) >= KEEPOUT_MM;
                        if (var > best && !near_tried && clear) {
                            best = var;
                            bx = x;
                            by = y;
                        }
                    }
                if (bx < 0)
                    break;
                tried_x[t] = bx;
                tried_y[t] = by;
                if (distinct(g, ii, bx, by, n, r, LEVEL[lv].self_max, z)) {
                    double X = bx / kx, Y = by / ky, W = n / kx, H = n / ky;
                    out[np++] = (patch_t){.x = bx, .y = by, .X = X + W / 2, .Y = Y + H / 2,
                                          .w = 1 / (1 + region_distance(page, X, Y, W, H) / REGION_NEAR_MM)};
                    break;
                }
            }
        }
    free(z);
    return np;
}

/* Least-squares affine fit of the patches marked ok (template mm -> their
 * x_px, y_px); the RMS residual. Returns -1 when fewer than 3 or
 * degenerate. */
static int fit_ok(const patch_t *p, int np, double *xf, double *rms)
{
    double X[MAX_PATCHES], Y[MAX_PATCHES], x[MAX_PATCHES], y[MAX_PATCHES];
    int n = 0;
    for (int i = 0; i < np; i++)
        if (p[i].ok) {
            X[n] = p[i].X;
            Y[n] = p[i].Y;
            x[n] = p[i].x_px;
            y[n] = p[i].y_px;
            n++;
        }
    return n < 3 ? -1 : omr_register_fit(X, Y, x, y, n, xf, rms);
}

/* Mark ok the matched patches (matched[i]) within tol px of xf; their count. */
static int agree(patch_t *p, int np, const int *matched, const double *xf, double tol)
{
    int n = 0;
    for (int i = 0; i < np; i++) {
        double px, py;
        omr_register_map(xf, p[i].X, p[i].Y, &px, &py);
        p[i].ok = matched[i] && hypot(px - p[i].x_px, py - p[i].y_px) <= tol;
        n += p[i].ok;
    }
    return n;
}

/* Consensus: of every three matched patches, the plausible affine transform
 * with the most weight of matches agreeing (within tol px), less a prior
 * against shear and unequal scales (a scanner's rollers slip a little, a
 * wrong consensus of evenly spaced lines stretches a lot), refitted on those
 * agreeing. Returns their number (ok set), 0 when no three give a plausible
 * transform. */
static int consensus(patch_t *p, int np, const int *matched, const omr_register_plaus_t *pl, double tol,
                     double *xf)
{
    int idx[MAX_PATCHES], m = 0;
    for (int i = 0; i < np; i++)
        if (matched[i])
            idx[m++] = i;
    double best_score = 0;
    double best_xf[6] = {0};
    for (int a = 0; a < m; a++)
        for (int b = a + 1; b < m; b++)
            for (int c = b + 1; c < m; c++) {
                const patch_t *pa = &p[idx[a]], *pb = &p[idx[b]], *pc = &p[idx[c]];
                double X[3] = {pa->X, pb->X, pc->X}, Y[3] = {pa->Y, pb->Y, pc->Y};
                double x[3] = {pa->x_px, pb->x_px, pc->x_px}, y[3] = {pa->y_px, pb->y_px, pc->y_px};
                /* three close together fix the transform poorly */
                double area = fabs((X[1] - X[0]) * (Y[2] - Y[0]) - (X[2] - X[0]) * (Y[1] - Y[0]));
                double f[6], sk, sx, sy, distortion;
                if (area < 400 || omr_register_fit(X, Y, x, y, 3, f, NULL) ||
                    (distortion = omr_register_plausible(pl, f, &sk, &sx, &sy)) < 0)
                    continue;
                double weight = 0;
                int n = 0;
                for (int i = 0; i < m; i++) {
                    double px, py;
                    omr_register_map(f, p[idx[i]].X, p[idx[i]].Y, &px, &py);
                    if (hypot(px - p[idx[i]].x_px, py - p[idx[i]].y_px) <= tol) {
                        weight += p[idx[i]].w;
                        n++;
                    }
                }
                double score = n >= 3 ? weight * (1 - ANISO_WEIGHT * distortion) : 0;
                if (score > best_score) {
                    best_score = score;
                    memcpy(best_xf, f, sizeof f);
                }
            }
    if (best_score <= 0)
        return 0;
    agree(p, np, matched, best_xf, tol);
    double rms;
    if (fit_ok(p, np, xf, &rms))
        return 0;
    return agree(p, np, matched, xf, tol);
}

/* The first search's radius, px at 1 px per nominal mm: the largest shift,
 * skew and scale error of a patch CENTRE_MM from the middle (slack: how far
 * the nominal scale itself may be off). */
static int first_radius_mm(const omr_register_opts_t *o, double slack)
{
    double reach = CENTRE_MM * (sin(o->max_skew_deg * M_PI / 180) + o->max_scale + slack);
    return (int)ceil(o->max_shift_mm + reach + 4);
}

/* Match the patches of one level (g: the blank page at that level, s: the
 * scan on the same grid) within r px of where xf (template mm -> s px)
 * puts them; matched[] set. */
static void match_level(const grey_t *g, const grey_t *s, const integral_t *si, patch_t *p, int np, int n,
                        const double *xf, int r, int *matched, float *z)
{
    for (int i = 0; i < np; i++) {
        double zn = patch_of(g, p[i].x, p[i].y, n, z), ex, ey;
        omr_register_map(xf, p[i].X, p[i].Y, &ex, &ey);
        peak_t pk;
        matched[i] = 0;
        if (search(s, si, z, n, zn, (int)lround(ex - n / 2.0), (int)lround(ey - n / 2.0), r, &pk))
            continue;
        matched[i] = pk.ncc >= MIN_NCC && pk.ncc - pk.second >= UNIQUE_GAP;
        p[i].x_px = pk.x + n / 2.0;
        p[i].y_px = pk.y + n / 2.0;
        p[i].ncc = pk.ncc;
    }
}

/* The scan resampled through xf (template mm -> s4 px) on the reference's
 * fine grid around patch (rx, ry) of side n, with FINE_SEARCH px of margin
 * on each side: out[(n + 2m)^2]. Bilinear between s4's pixel centres. */
static void rectify(const grey_t *s4, const double *xf, double k4x, double k4y, int rx, int ry, int n, float *out)
{
    const int m = FINE_SEARCH, w = n + 2 * m;
    for (int j = 0; j < w; j++)
        for (int i = 0; i < w; i++) {
            double X = (rx - m + i + 0.5) / k4x, Y = (ry - m + j + 0.5) / k4y, u, v;
            omr_register_map(xf, X, Y, &u, &v);
            out[j * w + i] = (float)bilinear(s4, u, v);
        }
}

/* Sums of the rectified window win (side n + 2 FINE_SEARCH) and of its
 * squares over every n x n sub-window: ws[(dy + S) * (2S + 1) + dx + S]
 * (S = FINE_SEARCH), by running sums along rows, then columns. */
static void window_sums(const float *win, int n, double *ws, double *ws2)
{
    const int w = n + 2 * FINE_SEARCH, m = 2 * FINE_SEARCH + 1;
    double rs[(FINE_PATCH + 2 * FINE_SEARCH) * (2 * FINE_SEARCH + 1)];
    double rs2[(FINE_PATCH + 2 * FINE_SEARCH) * (2 * FINE_SEARCH + 1)];
    for (int y = 0; y < w; y++)
        for (int dx = 0; dx < m; dx++) {
            double a = 0, a2 = 0;
            for (int i = 0; i < n; i++) {
                double v = win[(size_t)y * w + dx + i];
                a += v;
                a2 += v * v;
            }
            rs[y * m + dx] = a;
            rs2[y * m + dx] = a2;
        }
    for (int dy = 0; dy < m; dy++)
        for (int dx = 0; dx < m; dx++) {
            double a = 0, a2 = 0;
            for (int j = 0; j < n; j++) {
                a += rs[(dy + j) * m + dx];
                a2 += rs2[(dy + j) * m + dx];
            }
            ws[dy * m + dx] = a;
            ws2[dy * m + dx] = a2;
        }
}

/* NCC of patch z (side n, zero mean, norm zn) at offset (dx, dy) in the
 * rectified window win (side n + 2 FINE_SEARCH), whose sub-window there
 * sums to s, its squares to s2. */
static double ncc_window(const float *win, const float *z, int n, double zn, int dx, int dy, double s, double s2)
{
    const int w = n + 2 * FINE_SEARCH;
    double cross = 0;
    for (int j = 0; j < n; j++)
        cross += dot_f(z + j * n, win + (size_t)(FINE_SEARCH + dy + j) * w + FINE_SEARCH + dx, n);
    double var = s2 - s * s / ((double)n * n);
    return var < 1e-6 || zn <= 0 ? 0 : cross / (zn * sqrt(var));
}

/* One fine pass: each patch matched against the scan resampled through xf4
 * (template mm -> s4 px), its place refined to a fraction of a pixel;
 * matched[] set. */
static void fine_pass(const grey_t *r4, const grey_t *s4, double k4x, double k4y, patch_t *p, int np,
                      const double *xf4, double min_ncc, int *matched, float *z, float *win)
{
    const int n = FINE_PATCH;
    for (int i = 0; i < np; i++) {
        int rx = (int)lround(p[i].X * k4x - n / 2.0), ry = (int)lround(p[i].Y * k4y - n / 2.0);
        matched[i] = 0;
        if (rx < 0 || ry < 0 || rx + n > r4->w || ry + n > r4->h)
            continue;
        double zn = patch_of(r4, rx, ry, n, z);
        rectify(s4, xf4, k4x, k4y, rx, ry, n, win);
        double map[2 * FINE_SEARCH + 1][2 * FINE_SEARCH + 1];
        double ws[(2 * FINE_SEARCH + 1) * (2 * FINE_SEARCH + 1)], ws2[(2 * FINE_SEARCH + 1) * (2 * FINE_SEARCH + 1)];
        window_sums(win, n, ws, ws2);
        int bx = 0, by = 0;
        for (int dy = -FINE_SEARCH; dy <= FINE_SEARCH; dy++)
            for (int dx = -FINE_SEARCH; dx <= FINE_SEARCH; dx++) {
                const int k = (dy + FINE_SEARCH) * (2 * FINE_SEARCH + 1) + dx + FINE_SEARCH;
                map[dy + FINE_SEARCH][dx + FINE_SEARCH] = ncc_window(win, z, n, zn, dx, dy, ws[k], ws2[k]);
                if (map[dy + FINE_SEARCH][dx + FINE_SEARCH] > map[by + FINE_SEARCH][bx + FINE_SEARCH])
                    bx = dx, by = dy;
            }
        double best = map[by + FINE_SEARCH][bx + FINE_SEARCH], fx = bx, fy = by;
        if (abs(bx) < FINE_SEARCH) {
            double l = map[by + FINE_SEARCH][bx + FINE_SEARCH - 1], r = map[by + FINE_SEARCH][bx + FINE_SEARCH + 1];
            double den = l - 2 * best + r;
            if (den < 0)
                fx += 0.5 * (l - r) / den;
        }
        if (abs(by) < FINE_SEARCH) {
            double u = map[by + FINE_SEARCH - 1][bx + FINE_SEARCH], d = map[by + FINE_SEARCH + 1][bx + FINE_SEARCH];
            double den = u - 2 * best + d;
            if (den < 0)
                fy += 0.5 * (u - d) / den;
        }
        /* a peak at the window's edge is no peak */
        if (best < min_ncc || abs(bx) == FINE_SEARCH || abs(by) == FINE_SEARCH)
            continue;
        /* the patch's centre (X, Y) shows where the resampled scan's
         * (X + fx / k, Y + fy / k) lies */
        omr_register_map(xf4, p[i].X + fx / k4x, p[i].Y + fy / k4y, &p[i].x_px, &p[i].y_px);
        p[i].ncc = best;
        matched[i] = 1;
    }
}

/* The scan's black on 8 bpp: the grey level darker than all but 0.2 % of
 * the image's pixels (every 4th row and column); 0 on 1 bpp. */
static double scan_black(PIX *pix)
{
    if (pixGetDepth(pix) != 8)
        return 0;
    long hist[256] = {0}, n = 0;
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix), w = (int)pixGetWidth(pix), h = (int)pixGetHeight(pix);
    for (int y = 0; y < h; y += 4)
        for (int x = 0; x < w; x += 4, n++)
            hist[GET_DATA_BYTE(data + (size_t)y * wpl, x)]++;
    long acc = 0;
    for (int v = 0; v < 256; v++)
        if ((acc += hist[v]) > n / 500)
            return v;
    return 0;
}

/* Are the agreeing patches spread over the page: some in each half, across
 * and down? (Patches along one line fix no affine transform.) */
static int spread(const patch_t *p, int np, const omr_page_t *page)
{
    int q = 0;
    for (int i = 0; i < np; i++)
        if (p[i].ok)
            q |= 1 << ((p[i].X > page->width / 2) + 2 * (p[i].Y > page->height / 2));
    return q == 15 || ((q & 3) && (q & 12) && (q & 5) && (q & 10));
}

struct omr_register_print_ref {
    grey_t r4;                           /* the blank page on the fine grid */
    double k4x, k4y;                     /* its px per mm */
    grey_t g[N_LEVELS];                  /* at each level */
    int np[N_LEVELS];
    patch_t patches[N_LEVELS][MAX_PATCHES];
};

omr_status_t omr_register_print_prepare(PIX *ref, const omr_page_t *page, omr_register_print_ref_t **pout,
                                        omr_error_t *err)
{
    *pout = NULL;
    if (!ref || !page || pixGetDepth(ref) != 8 || pixGetColormap(ref))
        return omr_error_set(err, OMR_EINPUT, "register: no page or 8-bpp reference");
    omr_register_print_ref_t *rp = calloc(1, sizeof *rp);
    if (!rp || grey_of_pix(ref, &rp->r4)) {
        omr_register_print_ref_free(rp);
        return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
    }
    rp->k4x = rp->r4.w / page->width;
    rp->k4y = rp->r4.h / page->height;
    omr_register_opts_t o;
    omr_register_opts_default(&o);
    for (int lv = 0; lv < N_LEVELS; lv++) {
        integral_t ii = {0};
        const int f = LEVEL[lv].shrink;
        if (shrink(&rp->r4, f, &rp->g[lv]) || integral_of(&rp->g[lv], &ii)) {
            integral_free(&ii);
            omr_register_print_ref_free(rp);
            return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
        }
        /* distinct over the search of the level: the first over the whole
         * tolerance of a scan without a resolution, the middle near the fit */
        double px_per_mm = (double)FINE_K / f;
        int r = lv == FIRST ? (int)ceil(first_radius_mm(&o, 0.25) * px_per_mm) : NEAR_PX + 1;
        rp->np[lv] = choose_patches(&rp->g[lv], &ii, rp->k4x / f, rp->k4y / f, page, lv, r, rp->patches[lv]);
        integral_free(&ii);
    }
    *pout = rp;
    return OMR_OK;
}

int omr_register_print_ref_usable(const omr_register_print_ref_t *rp, int *n_big, int *n_patches)
{
    *n_big = rp ? rp->np[FIRST] : 0;
    *n_patches = rp ? rp->np[MIDDLE] : 0;
    return *n_big >= 3 && *n_patches >= MIN_PATCHES;
}

void omr_register_print_ref_free(omr_register_print_ref_t *rp)
{
    if (!rp)
        return;
    grey_free(&rp->r4);
    for (int lv = 0; lv < N_LEVELS; lv++)
        grey_free(&rp->g[lv]);
    free(rp);
}

/* g turned by deg about its middle (bilinear; paper outside): out[p'] =
 * g[R(p' - c) + c], R the rotation by deg, so a page skewed by deg in g
 * lies straight in out. */
static int turned(const grey_t *g, double deg, grey_t *out)
{
    out->w = g->w;
    out->h = g->h;
    out->p = malloc((size_t)g->w * (size_t)g->h);
    if (!out->p)
        return -1;
    const double c = cos(deg * M_PI / 180), sn = sin(deg * M_PI / 180), cx = g->w / 2.0, cy = g->h / 2.0;
    for (int j = 0; j < g->h; j++)
        for (int i = 0; i < g->w; i++) {
            double dx = i + 0.5 - cx, dy = j + 0.5 - cy;
            double u = c * dx - sn * dy + cx, v = sn * dx + c * dy + cy;
            out->p[(size_t)j * g->w + i] = (uint8_t)(bilinear(g, u, v) + 0.5);
        }
    return 0;
}

/* The first level at one skew: the big patches searched over the whole
 * tolerance in the scan's first-level grid g turned straight by deg (the
 * page's middle put in the scan's middle at the nominal scale), their places
 * turned back into g's frame; the consensus fit into xf0 (template mm -> g
 * px). Returns the number agreeing, 0 on failure. */
static int first_fit(const omr_register_print_ref_t *ref, const grey_t *g, double deg, const omr_page_t *page,
                     const omr_register_opts_t *o, double slack, float *z, double *xf0)
{
    grey_t t = {0};
    integral_t ti = {0};
    int n_ok = 0;
    if (turned(g, deg, &t) || integral_of(&t, &ti)) {
        grey_free(&t);
        integral_free(&ti);
        return 0;
    }
    const double c0 = (double)FINE_K / LEVEL[FIRST].shrink;
    const double nom[6] = {c0, 0, t.w / 2.0 - c0 * page->width / 2, 0, c0, t.h / 2.0 - c0 * page->height / 2};
    patch_t first[MAX_PATCHES];
    int matched[MAX_PATCHES];
    const int n0 = ref->np[FIRST];
    memcpy(first, ref->patches[FIRST], sizeof first);
    match_level(&ref->g[FIRST], &t, &ti, first, n0, LEVEL[FIRST].side, nom, (int)ceil(first_radius_mm(o, slack) * c0),
                matched, z);
    const double c = cos(deg * M_PI / 180), sn = sin(deg * M_PI / 180), cx = t.w / 2.0, cy = t.h / 2.0;
    for (int i = 0; i < n0; i++) { /* back into g's frame */
        double dx = first[i].x_px - cx, dy = first[i].y_px - cy;
        first[i].x_px = c * dx - sn * dy + cx;
        first[i].y_px = sn * dx + c * dy + cy;
    }
    omr_register_plaus_t pl0 = {.k = c0, .scale_slack = slack, .orient_rad = 0, .o = o};
    n_ok = consensus(first, n0, matched, &pl0, INLIER_MM * c0, xf0);
    grey_free(&t);
    integral_free(&ti);
    return n_ok;
}

/* The first and middle levels: xf1 (template mm -> the scan's middle-level
 * grid) fitted on the patches of the middle level that agree (ok set in p);
 * returns their number, 0 when no skew tried gives a first fit the middle
 * level confirms. s4: the scan on the fine grid. The first level is tried
 * straight, then turned by SKEW_STEP degrees each way up to the largest
 * skew (a big patch skewed 4 degrees correlates poorly on a rough scan);
 * only pages that fail straight pay for the others. */
static int coarse_fit(const omr_register_print_ref_t *ref, const grey_t *s4, const omr_page_t *page,
                      const omr_register_opts_t *o, double slack, patch_t *p, double *xf1)
{
    grey_t s[N_LEVELS] = {{0}};
    integral_t si[N_LEVELS] = {{0}};
    int matched[MAX_PATCHES], n_ok = 0;
    float *z = malloc(sizeof *z * (size_t)LEVEL[FIRST].side * LEVEL[FIRST].side);
    for (int lv = 0; lv < N_LEVELS; lv++)
        if (!z || shrink(s4, LEVEL[lv].shrink, &s[lv]) || integral_of(&s[lv], &si[lv]))
            goto done;
    const double c1 = (double)FINE_K / LEVEL[MIDDLE].shrink;
    omr_register_plaus_t pl1 = {.k = c1, .scale_slack = slack, .orient_rad = 0, .o = o};
    const int n1 = ref->np[MIDDLE];
    for (int k = 0; n_ok < MIN_PATCHES && k * SKEW_STEP <= o->max_skew_deg + 0.5 * SKEW_STEP; k++)
        for (int sign = 1; sign >= (k ? -1 : 1) && n_ok < MIN_PATCHES; sign -= 2) {
            double xf0[6];
            if (first_fit(ref, &s[FIRST], sign * k * SKEW_STEP, page, o, slack, z, xf0) < 3)
                continue;
            /* middle: every patch near where the first fit puts it */
            double pred[6];
            for (int i = 0; i < 6; i++)
                pred[i] = xf0[i] * LEVEL[FIRST].shrink / LEVEL[MIDDLE].shrink;
            memcpy(p, ref->patches[MIDDLE], sizeof(patch_t) * (size_t)n1);
            match_level(&ref->g[MIDDLE], &s[MIDDLE], &si[MIDDLE], p, n1, LEVEL[MIDDLE].side, pred, NEAR_PX, matched,
                        z);
            n_ok = consensus(p, n1, matched, &pl1, INLIER_MM * c1, xf1);
        }
done:
    for (int lv = 0; lv < N_LEVELS; lv++) {
        grey_free(&s[lv]);
        integral_free(&si[lv]);
    }
    free(z);
    return n_ok;
}

/* The fine fit: fine passes from xf4 (template mm -> s4 px), twice, each
 * keeping the matches of at least min_ncc that agree with the fit (within
 * twice FINE_INLIER_MM, refitted, then within FINE_INLIER_MM, refitted).
 * Returns the number agreeing (ok set in p), xf4 and *rms updated; 0 when
 * too few. */
static int fine_fit(const omr_register_print_ref_t *ref, const grey_t *s4, patch_t *p, int np, double min_ncc,
                    double *xf4, double *rms, float *z, float *win)
{
    int matched[MAX_PATCHES], n_fine = 0;
    for (int pass = 0; pass < 2; pass++) {
        fine_pass(&ref->r4, s4, ref->k4x, ref->k4y, p, np, xf4, min_ncc, matched, z, win);
        if (agree(p, np, matched, xf4, 2 * FINE_INLIER_MM * FINE_K) < MIN_PATCHES || fit_ok(p, np, xf4, rms))
            return 0;
        n_fine = agree(p, np, matched, xf4, FINE_INLIER_MM * FINE_K);
        if (n_fine < MIN_PATCHES || fit_ok(p, np, xf4, rms))
            return 0;
    }
    return n_fine;
}

omr_status_t omr_register_page_print(PIX *pix, const omr_page_t *page, const omr_register_print_ref_t *ref,
                                     int orientation, double dpi, const omr_register_opts_t *opts, omr_register_t *out,
                                     omr_error_t *err)
{
    omr_register_opts_t defaults;
    if (omr_register_begin(out, &opts, &defaults, err) != OMR_OK)
        return OMR_EINPUT;
    if (!pix || !page || !ref)
        return omr_error_set(err, OMR_EINPUT, "register: no image, page or reference");
    const int depth = (int)pixGetDepth(pix), W = (int)pixGetWidth(pix), H = (int)pixGetHeight(pix);
    if ((depth != 1 && depth != 8) || pixGetColormap(pix))
        return omr_error_set(err, OMR_EINPUT, "register: image depth %d bpp (1 or 8 expected)", depth);
    if (orientation % 90 != 0)
        return omr_error_set(err, OMR_EINPUT, "register: orientation %d (0, 90, 180, 270)", orientation);
    orientation = ((orientation % 360) + 360) % 360;
    if (W < 64 || H < 64) {
        snprintf(out->reason, sizeof out->reason, "image of %dx%d px is too small", W, H);
        return omr_error_set(err, OMR_ENOTFOUND, "register: %s", out->reason);
    }
    double slack;
    const double k = omr_register_nominal_k(page, orientation, W, H, dpi, &slack);
    const int sideways = orientation == 90 || orientation == 270;
    /* the upright scan on the fine grid: FINE_K px per nominal mm */
    const double q = k / FINE_K;
    const int w4 = (int)((sideways ? H : W) / q), h4 = (int)((sideways ? W : H) / q);
    double to_image[6];
    grey_t aligned = {0};
    grey_t s4 = {0};
    patch_t patches[MAX_PATCHES];
    const int np = ref->np[MIDDLE];
    float *z = malloc(sizeof *z * FINE_PATCH * FINE_PATCH);
    float *win = malloc(sizeof *win * (FINE_PATCH + 2 * FINE_SEARCH) * (FINE_PATCH + 2 * FINE_SEARCH));
    omr_status_t st = OMR_OK;
    const int min_side = LEVEL[FIRST].side * LEVEL[FIRST].shrink * 2;
    if (w4 < min_side || h4 < min_side) {
        snprintf(out->reason, sizeof out->reason, "image of %dx%d px is too small for the page", W, H);
        st = OMR_ENOTFOUND;
        goto done;
    }
    if (!z || !win || grid_of_image(pix, q, &aligned) || upright_grid(&aligned, orientation, q, &s4, to_image)) {
        st = omr_error_set(err, OMR_ENOMEM, "register: out of memory");
        goto done;
    }
    int n_big, n_mid;
    if (!omr_register_print_ref_usable(ref, &n_big, &n_mid)) {
        snprintf(out->reason, sizeof out->reason,
                 "the blank page's image has too little distinct print outside the answer areas to register "
                 "by (%d and %d patches; 3 and %d needed)",
                 n_big, n_mid, MIN_PATCHES);
        st = OMR_ENOTFOUND;
        goto done;
    }
    double xf1[6];
    int n_coarse = coarse_fit(ref, &s4, page, opts, slack, patches, xf1);
    if (n_coarse < MIN_PATCHES || !spread(patches, np, page)) {
        snprintf(out->reason, sizeof out->reason,
                 "the print of the page was not found in the scan: %d of %d patches of the blank page agree "
                 "(%d needed, spread over the page): a sheet of another form, a blank or dark scan, or one "
                 "turned otherwise",
                 n_coarse, np, MIN_PATCHES);
        st = OMR_ENOTFOUND;
        goto done;
    }
    /* fine: from the middle level's fit, twice; with a lower correlation
     * when too few patches pass (a rough 1-bit scan) */
    double xf4[6], rms = 0;
    int n_fine = 0;
    for (int t = 0; t < 2 && n_fine < MIN_PATCHES; t++) {
        for (int i = 0; i < 6; i++)
            xf4[i] = xf1[i] * LEVEL[MIDDLE].shrink;
        n_fine = fine_fit(ref, &s4, patches, np, t == 0 ? MIN_NCC : FINE_MIN_NCC, xf4, &rms, z, win);
    }
    double residual_mm = rms / FINE_K, sk, sx, sy;
    omr_register_plaus_t pl4 = {.k = FINE_K, .scale_slack = slack, .orient_rad = 0, .o = opts};
    if (n_fine < MIN_PATCHES || !spread(patches, np, page) || omr_register_plausible(&pl4, xf4, &sk, &sx, &sy) < 0 ||
        residual_mm > opts->max_residual_mm) {
        snprintf(out->reason, sizeof out->reason,
                 "the print of the page does not fit the scan closely: %d patches agree, residual %.2f mm "
                 "(at most %.2f): a sheet of another form or a distorted scan",
                 n_fine, residual_mm, opts->max_residual_mm);
        st = OMR_ENOTFOUND;
        goto done;
    }
    compose(to_image, xf4, out->xform);
    double ncc = 0;
    for (int i = 0; i < np; i++)
        ncc += patches[i].ok ? patches[i].ncc : 0;
    out->n_patches = n_fine;
    out->match = ncc / n_fine;
    out->residual_mm = residual_mm;
    out->skew_deg = sk;
    out->scale_x = sx;
    out->scale_y = sy;
    out->dpi = 0.5 * (sx + sy) * k * OMR_MM_PER_INCH;
    out->mark_grey = scan_black(pix);
done:
    if (st == OMR_ENOTFOUND)
        omr_error_set(err, OMR_ENOTFOUND, "register: %s", out->reason);
    free(z);
    free(win);
    grey_free(&aligned);
    grey_free(&s4);
    return st;
}
