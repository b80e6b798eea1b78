/* register.c -- stage 3: corner marks and the template -> image transform
 * (see register.h for the contract).
 *
 * How a mark is found, per corner:
 *   1. The window: the mark's expected place under the nominal transform
 *      (orientation, dpi), widened by the worst shift, skew about the page
 *      centre and scale the options allow.
 *   2. A coarse grid of ~0.75 mm cells counts the black pixels of the window
 *      (popcount on 1 bpp; a threshold halfway between the window's paper
 *      and its darkest pixels on grey). A mark is a 4-connected group of
 *      mostly-black cells whose ink area is a square of about the mark's side
 *      and whose bounding box is mostly filled; text, rules, barcode bars,
 *      a dark border beyond the paper and large fills fail these tests.
 *   3. The centre is the centroid of the black pixels in a square of 1.5
 *      sides around the candidate, computed twice (recentred); a square's
 *      centroid is its centre at any rotation.
 * L-shaped marks (OMR_MARK_CORNER) are found by their thin arms instead:
 * see "L-shaped marks" below; the candidate is the L's inside corner.
 * Then every combination of candidates (at most 3 per corner) is fitted, 4
 * marks first, then 3, then 2, and the best plausible fit wins (register.h).
 * Last, for a page with one or two marks found and no fit, and only when the
 * caller gave the barcode: one mark with the barcode's two ends
 * (register_barcode.c finds them; fit_barcode below).
 */
#include "register.h"
#include "register_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_CAND 3

/* Byte of pixel x within its 4-pixel word, as Leptonica stores it. */
#ifdef L_BIG_ENDIAN
#define BYTE_XOR 0
#else
#define BYTE_XOR 3
#endif

static const char *const mark_names[4] = {"top-left", "top-right", "bottom-left", "bottom-right"};

void omr_register_opts_default(omr_register_opts_t *o)
{
    o->max_shift_mm = 10;
    o->max_skew_deg = 5;
    o->max_scale = 0.03;
    /* The simulator's scans are exactly affine and fit to ~0.1 mm; paper on
     * real roller feeders stretches unevenly by a few tenths of a mm. 1 mm
     * is well under a circle target's half-side (2.6 mm), so a page within
     * the limit still samples the right places. */
    o->max_residual_mm = 1.0;
    o->max_shear_deg = 2;
    /* One mark + barcode: the barcode alone fixes rotation and scale over
     * its ~72 mm, to ~0.2 degrees and ~0.2 % from edges found to a pixel at
     * 200 dpi: ~1 mm at the far corners of the page. A mark that disagrees
     * by more is not this page's mark (or the bars were misread). */
    o->max_barcode_mm = 2.0;
}

/* ------------------------------------------------------------ the fit */

/* Solve the 3x3 system m * s = r by Cramer's rule; -1 when singular. */
static int solve3(const double m[3][3], const double r[3], double s[3])
{
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                 m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (fabs(det) < 1e-12)
        return -1;
    for (int k = 0; k < 3; k++) {
        double t[3][3];
        memcpy(t, m, sizeof t);
        for (int i = 0; i < 3; i++)
            t[i][k] = r[i];
        s[k] = (t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1]) -
                t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0]) +
                t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0])) /
               det;
    }
    return 0;
}

int omr_register_fit(const double *X, const double *Y, const double *x, const double *y, int n,
                     double *xf, double *prms)
{
    if (n < 3)
        return -1;
    /* Centre the template points: keeps the normal equations well scaled. */
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += X[i];
        my += Y[i];
    }
    mx /= n;
    my /= n;
    double m[3][3] = {{0}}, rx[3] = {0}, ry[3] = {0};
    for (int i = 0; i < n; i++) {
        double v[3] = {X[i] - mx, Y[i] - my, 1};
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++)
                m[a][b] += v[a] * v[b];
            rx[a] += v[a] * x[i];
            ry[a] += v[a] * y[i];
        }
    }
    double sx[3], sy[3];
    if (solve3(m, rx, sx) || solve3(m, ry, sy))
        return -1;
    xf[0] = sx[0];
    xf[1] = sx[1];
    xf[2] = sx[2] - sx[0] * mx - sx[1] * my;
    xf[3] = sy[0];
    xf[4] = sy[1];
    xf[5] = sy[2] - sy[0] * mx - sy[1] * my;
    if (prms) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            double px, py;
            omr_register_map(xf, X[i], Y[i], &px, &py);
            ss += (px - x[i]) * (px - x[i]) + (py - y[i]) * (py - y[i]);
        }
        *prms = sqrt(ss / n);
    }
    return 0;
}

/* Least-squares similarity (rotation, uniform scale, shift) of n >= 2 point
 * pairs: x = a X - b Y + c, y = b X + a Y + f. Exact through 2 points.
 * Returns -1 when the template points coincide. */
static int fit_similarity(const double *X, const double *Y, const double *x, const double *y, int n,
                          double *xf)
{
    double mX = 0, mY = 0, mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mX += X[i];
        mY += Y[i];
        mx += x[i];
        my += y[i];
    }
    mX /= n;
    mY /= n;
    mx /= n;
    my /= n;
    double ss = 0, sa = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        double dX = X[i] - mX, dY = Y[i] - mY, dx = x[i] - mx, dy = y[i] - my;
        ss += dX * dX + dY * dY;
        sa += dX * dx + dY * dy;
        sb += dX * dy - dY * dx;
    }
    if (ss < 1e-9)
        return -1;
    double a = sa / ss, b = sb / ss;
    xf[0] = a;
    xf[1] = -b;
    xf[2] = mx - a * mX + b * mY;
    xf[3] = b;
    xf[4] = a;
    xf[5] = my - b * mX - a * mY;
    return 0;
}

/* ------------------------------------------------------------- pixels */

/* Set bits of a word. Without a popcount instruction in the target
 * (plain x86-64), __builtin_popcount is a call into libgcc's table
 * version: the SWAR sum here is a few inline operations instead (the mark
 * search counts ~200000 words a page). */
static inline int popcount32(l_uint32 v)
{
#if defined(__POPCNT__)
    return __builtin_popcount(v);
#else
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (int)((((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
#endif
}

/* Black pixels of a 1-bpp row (Leptonica: pixel 0 is the MSB of word 0) in
 * columns [x0, x1). */
static int count_bits(const l_uint32 *line, int x0, int x1)
{
    if (x1 <= x0)
        return 0;
    int w0 = x0 >> 5, w1 = (x1 - 1) >> 5;
    l_uint32 lead = 0xffffffffu >> (x0 & 31);
    l_uint32 tail = 0xffffffffu << (31 - ((x1 - 1) & 31));
    if (w0 == w1)
        return popcount32(line[w0] & lead & tail);
    int n = popcount32(line[w0] & lead) + popcount32(line[w1] & tail);
    for (int w = w0 + 1; w < w1; w++)
        n += popcount32(line[w]);
    return n;
}

typedef struct {
    PIX *pix;
    const l_uint32 *data;
    int wpl, w, h, depth;
    int thresh; /* 8 bpp: grey below this is black */
} img_t;

/* Ask for the cache lines of bytes [x0, x1) of a grey row: the window
 * loops read every 2nd or 3rd row, page widths apart in memory, a stride
 * the hardware does not follow, of a page decoded a moment ago and mostly
 * out of the caches (8 MB at 300 dpi). Only a hint. */
static inline void prefetch_bytes(const l_uint32 *line, int x0, int x1)
{
    for (int b = x0 & ~63; b < x1; b += 64)
        __builtin_prefetch((const char *)line + b);
}

/* 8 bpp: threshold halfway between the window's paper (90th percentile; to
 * *ppaper when not NULL) and its darkest pixels (the dark_q / 10000
 * quantile: inside the mark; a square covers about 0.6 % of the window, 0.3
 * % is taken). */
static int window_threshold_q(const img_t *im, int x0, int y0, int x1, int y1, int dark_q,
                              int *ppaper)
{
    /* Eight interleaved histograms, summed after: most samples are paper
     * of one or two grey levels, and one histogram makes each increment
     * wait for the previous one to the same bin. */
    int h8[8][256], hist[256], n = 0;
    memset(h8, 0, sizeof h8);
    for (int y = y0; y < y1; y += 3) {
        const l_uint32 *line = im->data + (size_t)y * im->wpl;
        if (y + 9 < y1)
            prefetch_bytes(line + 9 * (size_t)im->wpl, x0, x1);
        int x = x0;
        for (; x + 21 < x1; x += 24, n += 8) {
            h8[0][GET_DATA_BYTE(line, x)]++;
            h8[1][GET_DATA_BYTE(line, x + 3)]++;
            h8[2][GET_DATA_BYTE(line, x + 6)]++;
            h8[3][GET_DATA_BYTE(line, x + 9)]++;
            h8[4][GET_DATA_BYTE(line, x + 12)]++;
            h8[5][GET_DATA_BYTE(line, x + 15)]++;
            h8[6][GET_DATA_BYTE(line, x + 18)]++;
            h8[7][GET_DATA_BYTE(line, x + 21)]++;
        }
        for (; x < x1; x += 3, n++)
            h8[0][GET_DATA_BYTE(line, x)]++;
    }
    for (int v = 0; v < 256; v++)
        hist[v] = h8[0][v] + h8[1][v] + h8[2][v] + h8[3][v] + h8[4][v] + h8[5][v] + h8[6][v] +
                  h8[7][v];
    if (ppaper)
        *ppaper = 255;
    if (n == 0)
        return 128;
    int dark = 0, paper = 255, acc = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if ((long long)acc * 10000 < (long long)n * dark_q)
            dark = v + 1;
        if (acc * 10 < n * 9)
            paper = v + 1;
    }
    if (ppaper)
        *ppaper = paper;
    if (paper - dark < 24) /* no contrast: nothing can pass as a mark */
        return dark;
    return (paper + dark) / 2;
}

static int window_threshold(const img_t *im, int x0, int y0, int x1, int y1)
{
    return window_threshold_q(im, x0, y0, x1, y1, 30, NULL);
}

/* ---------------------------------------------------------- candidates */

typedef struct {
    double x, y;    /* centre, px */
    double side;    /* sqrt of the ink area, px (an L: its arms' mean length; a
                       bullseye: its outer diameter) */
    double dist;    /* from the expected place, px */
    double grey;    /* 8 bpp: an L's mean grey along its arms' middle lines, a
                       bullseye's in the middle of its disc */
} cand_t;

/* Insert cd into out[0..n) sorted by distance from the expected place,
 * keeping the MAX_CAND nearest; returns the new count. */
static int keep_nearest(cand_t *out, int n, const cand_t *cd)
{
    int pos = n;
    while (pos > 0 && out[pos - 1].dist > cd->dist)
        pos--;
    if (pos >= MAX_CAND)
        return n;
    int last = n < MAX_CAND ? n : MAX_CAND - 1;
    for (int k = last; k > pos; k--)
        out[k] = out[k - 1];
    out[pos] = *cd;
    return n < MAX_CAND ? n + 1 : n;
}

/* The black pixels of image row line in columns [x0, x1): their count to
 * *pn, the sum of their x to *psx (inlined: the centroid's inner loop). */
static inline __attribute__((always_inline)) void row_ink(const img_t *im, const l_uint32 *line,
                                                           int x0, int x1, long *pn, long *psx)
{
    /* Integer sums: a row's sum of x is far below 2^53, so its double
     * is the one the sum in doubles gave. */
    long rn = 0, rsx = 0;
    if (im->depth == 1) {
        /* word by word, set bits only (pixel 0 is the MSB) */
        for (int wi = x0 >> 5; x1 > x0 && wi <= (x1 - 1) >> 5; wi++) {
            l_uint32 v = line[wi];
            if (wi == x0 >> 5)
                v &= 0xffffffffu >> (x0 & 31);
            if (wi == (x1 - 1) >> 5)
                v &= 0xffffffffu << (31 - ((x1 - 1) & 31));
            if (v == 0xffffffffu) {
                /* inside the mark, most words: pixels wi * 32 + 0..31 */
                rn += 32;
                rsx += (long)wi * 32 * 32 + 31 * 32 / 2;
                continue;
            }
            while (v) {
                int b = __builtin_clz(v);
                rn++;
                rsx += (long)wi * 32 + b;
                v &= ~(0x80000000u >> b);
            }
        }
    } else {
        const int t = im->thresh;
        int x = x0;
#if defined(__SSE2__)
        /* Sixteen pixels (four whole words) a step: the mask of the
         * dark bytes, then per word (a nibble of it) the count and the
         * sum of the pixels' offsets by table (memory byte r of a word
         * is pixel r ^ BYTE_XOR of it). The same integer sums as
         * pixel by pixel, a third of the time: this loop was most of
         * registering a grey page. */
        if (t >= 1 && t <= 256) {
#define NIB_COUNT(n) (((n) & 1) + ((n) >> 1 & 1) + ((n) >> 2 & 1) + ((n) >> 3 & 1))
#define NIB_SUM(n)                                                                                 \
    (((n) & 1) * (0 ^ BYTE_XOR) + ((n) >> 1 & 1) * (1 ^ BYTE_XOR) + ((n) >> 2 & 1) * (2 ^ BYTE_XOR) + \
     ((n) >> 3 & 1) * (3 ^ BYTE_XOR))
#define NIB_TABLE(f)                                                                               \
    {f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11), f(12), f(13), f(14), f(15)}
            static const uint8_t nib_count[16] = NIB_TABLE(NIB_COUNT), nib_sum[16] = NIB_TABLE(NIB_SUM);
#undef NIB_TABLE
#undef NIB_SUM
#undef NIB_COUNT
            const __m128i tm1 = _mm_set1_epi8((char)(t - 1));
            for (; x < x1 && (x & 3); x++) {
                long b = GET_DATA_BYTE(line, x) < t;
                rn += b;
                rsx += b * x;
            }
            for (; x + 16 <= x1; x += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(line + (x >> 2)));
                /* v < t  <=>  min(v, t - 1) == v (unsigned) */
                unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, tm1), v));
                for (int q = 0; q < 4; q++, m >>= 4) {
                    rn += nib_count[m & 15];
                    rsx += (long)(x + 4 * q) * nib_count[m & 15] + nib_sum[m & 15];
                }
            }
        }
#endif
        /* branch-free: the mark's edges make a branch unpredictable */
        for (; x < x1; x++) {
            long b = GET_DATA_BYTE(line, x) < t;
            rn += b;
            rsx += b * x;
        }
    }
    *pn = rn;
    *psx = rsx;
}

/* Centroid of the black pixels in the square of half-side r around (*px,
 * *py), or with round, of those whose centres lie within r of it (a
 * bullseye); updates the point; returns the pixel count. */
static long ink_centroid(const img_t *im, double *px, double *py, double r, int round)
{
    const double cx = *px, cy = *py;
    int x0 = (int)floor(cx - r), x1 = (int)ceil(cx + r);
    int y0 = (int)floor(cy - r), y1 = (int)ceil(cy + r);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->w) x1 = im->w;
    if (y1 > im->h) y1 = im->h;
    long n = 0;
    double sx = 0, sy = 0;
    for (int y = y0; y < y1; y++) {
        int xa = x0, xb = x1;
        if (round) {
            double dy = y + 0.5 - cy, h2 = r * r - dy * dy;
            if (h2 < 0)
                continue;
            double h = sqrt(h2);
            /* the pixels x with |x + 0.5 - cx| <= h */
            xa = (int)ceil(cx - h - 0.5);
            xb = (int)floor(cx + h - 0.5) + 1;
            if (xa < 0) xa = 0;
            if (xb > im->w) xb = im->w;
            if (xb <= xa)
                continue;
        }
        long rn, rsx;
        row_ink(im, im->data + (size_t)y * im->wpl, xa, xb, &rn, &rsx);
        n += rn;
        sx += (double)rsx;
        sy += (double)rn * y;
    }
    if (n > 0) {
        *px = sx / n + 0.5;
        *py = sy / n + 0.5;
    }
    return n;
}

static int black_at(const img_t *im, int x, int y)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return 0;
    const l_uint32 *line = im->data + (size_t)y * im->wpl;
    return im->depth == 1 ? (int)GET_DATA_BIT(line, x) : GET_DATA_BYTE(line, x) < im->thresh;
}

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Centre of a mark cut by one image edge (cut: 1 left, 2 right, 4 top,
 * 8 bottom). Along the cut axis: the median of the opposite edge over the
 * middle half of the mark, minus half a side (at 5° skew the error is
 * s/2 * (1/cos 5° - 1) = 0.01 mm). Across: the midpoint of the mark's two
 * edges on its middle row, which is exact at any rotation. Updates *px, *py;
 * returns 0, or -1 when the cut is on two sides or hides the middle. */
static int edge_centre(const img_t *im, double *px, double *py, double s_px, int cut)
{
    if (cut != 1 && cut != 2 && cut != 4 && cut != 8)
        return -1;
    const int vertical = cut >= 4; /* cut at the top or bottom */
    const int from_end = cut == 2 || cut == 8;
    const int reach = (int)(1.5 * s_px);
    for (int it = 0; it < 2; it++) {
        /* Opposite edge, over lines across the middle half of the mark. */
        int q = (int)(s_px / 4), edges[256], n = 0;
        int mid = (int)lround(vertical ? *px : *py);
        for (int l = mid - q; l <= mid + q && n < 256; l++) {
            /* Walk from the cut image edge into the page until leaving the mark. */
            int start = from_end ? (vertical ? im->h - 1 : im->w - 1) : 0;
            int step = from_end ? -1 : 1, pos = start, seen = 0;
            for (int k = 0; k < reach; k++, pos += step) {
                int b = vertical ? black_at(im, l, pos) : black_at(im, pos, l);
                if (b)
                    seen = 1;
                else if (seen)
                    break;
            }
            if (seen)
                edges[n++] = pos;
        }
        if (n < 3)
            return -1;
        qsort(edges, (size_t)n, sizeof *edges, cmp_int);
        double e = edges[n / 2]; /* first pixel past the mark */
        double c = from_end ? e + 1 + s_px / 2 : e - s_px / 2;
        int limit = vertical ? im->h : im->w;
        if (c < 0 || c >= limit)
            return -1; /* more than half the mark is off the image */
        /* Across: the mark's edges on its middle line. */
        int line = (int)c, a = (int)lround(vertical ? *px : *py), lo = a, hi = a;
        int b0 = vertical ? black_at(im, a, line) : black_at(im, line, a);
        if (!b0)
            return -1;
        while (hi - a < reach && (vertical ? black_at(im, hi + 1, line) : black_at(im, line, hi + 1)))
            hi++;
        while (a - lo < reach && (vertical ? black_at(im, lo - 1, line) : black_at(im, line, lo - 1)))
            lo--;
        double across = 0.5 * (lo + hi) + 0.5;
        if (vertical) {
            *py = c;
            *px = across;
        } else {
            *px = c;
            *py = across;
        }
    }
    return 0;
}

/* Dark samples per cell of the coarse grid (find_candidates): cnt[gy * gw +
 * gx] += the black pixels (1 bpp) or the grey samples below im->thresh
 * (8 bpp, every step-th pixel each way) of cell (gx, gy), c px square, the
 * grid starting at (x0, y0). Integer counts: any order gives the same.
 * hw: popcount has an instruction (the caller's target). */
static inline __attribute__((always_inline)) void count_cells_1bpp(const img_t *im, int x0, int y0,
                                                                  int c, int gw, int gh, int *cnt,
                                                                  int hw, l_uint32 *orw)
{
    /* the words holding the grid's columns */
    const int wa = x0 >> 5, wb = (x0 + gw * c - 1) >> 5;
    for (int gy = 0; gy < gh; gy++) {
        int *row = cnt + (size_t)gy * gw;
        const l_uint32 *top = im->data + (size_t)(y0 + gy * c) * im->wpl;
        /* The OR of the cell row's lines, per word: a cell whose words are
         * white on every line counts 0 without being counted (most of a
         * corner window is margin and paper). */
        for (int k = wa; k <= wb; k++)
            orw[k - wa] = top[k];
        for (int yy = 1; yy < c; yy++) {
            const l_uint32 *line = top + (size_t)yy * im->wpl;
            for (int k = wa; k <= wb; k++)
                orw[k - wa] |= line[k];
        }
        for (int gx = 0; gx < gw; gx++) {
            int xs = x0 + gx * c, wi = xs >> 5, wj = (xs + c - 1) >> 5;
            if (!(orw[wi - wa] | orw[wj - wa]))
                continue;
            /* A cell's c <= 32 bits sit in two neighbouring words: one
             * 64-bit window, one shift, one popcount. */
            int k = 0;
            const l_uint32 *line = top;
            for (int yy = 0; yy < c; yy++, line += im->wpl) {
                uint64_t u = (uint64_t)line[wi] << 32;
                if (wi + 1 < im->wpl)
                    u |= line[wi + 1];
                l_uint32 v = (l_uint32)((u << (xs & 31)) >> (64 - c));
                k += hw ? __builtin_popcount(v) : popcount32(v);
            }
            row[gx] += k;
        }
    }
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(__POPCNT__)
/* The same, compiled for CPUs with POPCNT (every x86-64 since ~2008; chosen
 * at run time, so the build still runs on the baseline target). */
__attribute__((target("popcnt"))) static void count_cells_1bpp_popcnt(const img_t *im, int x0,
                                                                     int y0, int c, int gw, int gh,
                                                                     int *cnt, l_uint32 *orw)
{
    count_cells_1bpp(im, x0, y0, c, gw, gh, cnt, 1, orw);
}
#define HAVE_POPCNT_CLONE 1
#endif


/* acc[i] += (line[i] < t) for i < n, 1 <= t <= 255 (8-bit counters: the
 * caller adds at most 255 rows). SSE2 is part of every x86-64. */
static void dark_flags_add(const uint8_t *line, size_t n, int t, uint8_t *acc)
{
    size_t i = 0;
#if defined(__SSE2__)
    if (t <= 255) {
        const __m128i tm1 = _mm_set1_epi8((char)(t - 1));
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(line + i));
            /* v < t  <=>  min(v, t - 1) == v (unsigned): all ones, -1 */
            __m128i d = _mm_cmpeq_epi8(_mm_min_epu8(v, tm1), v);
            __m128i a = _mm_loadu_si128((const __m128i *)(acc + i));
            _mm_storeu_si128((__m128i *)(acc + i), _mm_sub_epi8(a, d));
        }
    }
#endif
    for (; i < n; i++)
        acc[i] += line[i] < t;
}

/* Grey counts sample by sample (cells too large for dark_flags_add's 8-bit
 * counters: absurd resolutions only). */
static int count_cells_grey_slow(const img_t *im, int x0, int y0, int c, int gw, int gh, int step,
                                 int *cnt)
{
    for (int gy = 0; gy < gh; gy++) {
        int *row = cnt + (size_t)gy * gw;
        for (int yy = 0; yy < c; yy += step) {
            const l_uint32 *line = im->data + (size_t)(y0 + gy * c + yy) * im->wpl;
            for (int gx = 0; gx < gw; gx++)
                for (int xx = 0; xx < c; xx += step)
                    row[gx] += GET_DATA_BYTE(line, x0 + gx * c + xx) < im->thresh;
        }
    }
    return 0;
}

static int count_cells(const img_t *im, int x0, int y0, int c, int gw, int gh, int step, int *cnt)
{
    if (im->depth == 1 && c <= 32) {
        /* scratch: one word per word of the grid's columns */
        l_uint32 *orw = malloc(sizeof *orw * (size_t)(((x0 + gw * c - 1) >> 5) - (x0 >> 5) + 1));
        if (!orw)
            return -1;
#ifdef HAVE_POPCNT_CLONE
        if (__builtin_cpu_supports("popcnt"))
            count_cells_1bpp_popcnt(im, x0, y0, c, gw, gh, cnt, orw);
        else
            count_cells_1bpp(im, x0, y0, c, gw, gh, cnt, 0, orw);
#elif defined(__POPCNT__)
        count_cells_1bpp(im, x0, y0, c, gw, gh, cnt, 1, orw);
#else
        count_cells_1bpp(im, x0, y0, c, gw, gh, cnt, 0, orw);
#endif
        free(orw);
        return 0;
    }
    if (im->depth == 1) {
        for (int gy = 0; gy < gh; gy++)
            for (int yy = 0; yy < c; yy++) {
                const l_uint32 *line = im->data + (size_t)(y0 + gy * c + yy) * im->wpl;
                int *row = cnt + (size_t)gy * gw;
                for (int gx = 0; gx < gw; gx++)
                    row[gx] += count_bits(line, x0 + gx * c, x0 + gx * c + c);
            }
        return 0;
    }
    /* Grey: per cell row, the dark flags of its sampled rows summed per
     * byte column (vector compares over the raw words: Leptonica keeps 4
     * pixels a word, the first in the high byte, so pixel x of a line is
     * byte x ^ 3 in memory on a little-endian host), then each cell adds
     * its sampled columns. The same integer counts as testing sample by
     * sample. */
    const int span = gw * c, b0 = x0 & ~3;
    const size_t nb = (size_t)(((x0 + span - 1) | 3) + 1 - b0);
    if (c / step + 1 > 255)
        return count_cells_grey_slow(im, x0, y0, c, gw, gh, step, cnt);
    uint8_t *acc = malloc(nb);
    if (!acc)
        return -1;
    const int t = im->thresh;
    for (int gy = 0; gy < gh; gy++) {
        int *row = cnt + (size_t)gy * gw;
        memset(acc, 0, nb);
        if (t > 0)
            for (int yy = 0; yy < c; yy += step) {
                const uint8_t *line =
                    (const uint8_t *)(im->data + (size_t)(y0 + gy * c + yy) * im->wpl) + b0;
                if (yy + 2 * step < c) /* the row two samples on */
                    prefetch_bytes(im->data + (size_t)(y0 + gy * c + yy + 2 * step) * im->wpl, b0,
                                   b0 + (int)nb);
                dark_flags_add(line, nb, t, acc);
            }
        for (int gx = 0; gx < gw; gx++) {
            int k = 0, xs = x0 + gx * c - b0;
            for (int xx = 0; xx < c; xx += step)
                k += acc[(xs + xx) ^ BYTE_XOR];
            row[gx] += k;
        }
    }
    free(acc);
    return 0;
}

/* Find mark candidates in the window [x0,x1) x [y0,y1) for a mark of side
 * s_px expected at (ex, ey). Writes up to MAX_CAND candidates, nearest
 * first; returns their count, or -1 on out of memory. */
static int find_candidates(img_t *im, int x0, int y0, int x1, int y1, double s_px, double ex,
                           double ey, cand_t *out)
{
    int c = (int)lround(s_px / 8); /* ~0.75 mm for a 6 mm mark */
    if (c < 2)
        c = 2;
    int gw = (x1 - x0) / c, gh = (y1 - y0) / c;
    if (gw < 3 || gh < 3)
        return 0;
    if (im->depth == 8)
        im->thresh = window_threshold(im, x0, y0, x1, y1);
    int *cnt = calloc((size_t)gw * gh, sizeof *cnt);
    int *lab = calloc((size_t)gw * gh, sizeof *lab);
    int *stack = malloc(sizeof(int) * (size_t)gw * gh);
    if (!cnt || !lab || !stack) {
        free(cnt);
        free(lab);
        free(stack);
        return -1;
    }
    /* Counts per cell. Grey is sampled every other pixel each way (a cell
     * has >= 4 samples): the mark is large and solid, the count is only a
     * first look. */
    int step = im->depth == 8 ? 2 : 1;
    int cell_samples = 0;
    for (int yy = 0; yy < c; yy += step)
        for (int xx = 0; xx < c; xx += step)
            cell_samples++;
    if (count_cells(im, x0, y0, c, gw, gh, step, cnt)) {
        free(cnt);
        free(lab);
        free(stack);
        return -1;
    }
    const int full = cell_samples;
    const int dark_min = (int)(0.55 * full);
    const double max_box = s_px * 1.3 / c + 2; /* rotated by 5°: 1.09 s */
    int n_out = 0, next = 0;
    for (int start = 0; start < gw * gh; start++) {
        if (lab[start] || cnt[start] < dark_min)
            continue;
        /* Flood the 4-connected group of dark cells. */
        next++;
        int sp = 0, n = 0, bx0 = gw, by0 = gh, bx1 = -1, by1 = -1, solid = 0;
        stack[sp++] = start;
        lab[start] = next;
        while (sp > 0) {
            int i = stack[--sp], gx = i % gw, gy = i / gw;
            n++;
            solid += cnt[i] >= full * 95 / 100;
            if (gx < bx0) bx0 = gx;
            if (gx > bx1) bx1 = gx;
            if (gy < by0) by0 = gy;
            if (gy > by1) by1 = gy;
            const int nb[4] = {gx > 0 ? i - 1 : -1, gx < gw - 1 ? i + 1 : -1,
                               gy > 0 ? i - gw : -1, gy < gh - 1 ? i + gw : -1};
            for (int k = 0; k < 4; k++)
                if (nb[k] >= 0 && !lab[nb[k]] && cnt[nb[k]] >= dark_min) {
                    lab[nb[k]] = next;
                    stack[sp++] = nb[k];
                }
        }
        int bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
        if (bw > max_box || bh > max_box || bw < 2 || bh < 2)
            continue;
        if (n * 2 < bw * bh) /* a square fills its box; strokes and text do not */
            continue;
        double core = (s_px / c - 2) * (s_px / c - 2);
        if (solid < 0.4 * core)
            continue;
        /* Ink area over the box and a one-cell margin (the partial edge
         * cells of the square), and its centroid. */
        double area = 0, cx = 0, cy = 0;
        for (int gy = by0 - 1; gy <= by1 + 1; gy++)
            for (int gx = bx0 - 1; gx <= bx1 + 1; gx++) {
                if (gx < 0 || gy < 0 || gx >= gw || gy >= gh)
                    continue;
                double a = cnt[gy * gw + gx];
                area += a;
                cx += a * (gx + 0.5);
                cy += a * (gy + 0.5);
            }
        if (area <= 0)
            continue;
        double side = sqrt(area * (double)c * c / full);
        if (side < 0.68 * s_px || side > 1.3 * s_px)
            continue;
        cand_t cd;
        cd.x = x0 + cx / area * c;
        cd.y = y0 + cy / area * c;
        /* Refine on the pixels: twice, the second time around the better centre. */
        for (int it = 0; it < 2; it++)
            ink_centroid(im, &cd.x, &cd.y, 0.75 * s_px, 0);
        /* A mark cut by the image edge (a sheet shifted off the scan area):
         * its centroid is biased; its opposite edge and its middle row are
         * not (edge_centre). A mark cut on two sides, or by more than half,
         * is refused. An uncut mark must have the full area. */
        double half = 0.55 * s_px + 1;
        int cut = (cd.x - half < 0) + 2 * (cd.x + half > im->w) + 4 * (cd.y - half < 0) +
                  8 * (cd.y + half > im->h);
        if (cut == 0 && side < 0.75 * s_px)
            continue;
        if (cut != 0 && edge_centre(im, &cd.x, &cd.y, s_px, cut))
            continue;
        cd.side = side;
        cd.dist = hypot(cd.x - ex, cd.y - ey);
        n_out = keep_nearest(out, n_out, &cd);
    }
    free(cnt);
    free(lab);
    free(stack);
    return n_out;
}

/* ------------------------------------------------------ L-shaped marks */

/* How an L (OMR_MARK_CORNER) is found, per corner:
 *   1. The window: the expected inside corner under the nominal transform,
 *      widened as for a square, and on the arms' side by the arms' length.
 *      Its pixels become a bit image (1 = black; 8 bpp thresholded as for a
 *      square), and that bit image transposed (32x32 blocks).
 *   2. Thin strokes: on each line of the bit image, the runs of black no
 *      longer than about twice the arm's width; runs on successive lines
 *      that overlap (gaps of a few lines bridged) make a chain. A vertical
 *      arm is such a chain in the rows, a horizontal arm one in the columns
 *      (the transposed rows). Each chain is fitted with two straight edges
 *      (least squares through its runs' ends): a stroke. Pieces of one
 *      stroke (an arm crossed by a pen stroke) are joined when in line.
 *      Kept: strokes at least half an arm long, mostly unbroken, straight
 *      (their runs' ends within about a pixel of the edges), about as wide
 *      as an arm, within the skew. Where the arms of an L meet, the runs
 *      cross both arms and are long: each arm's chain ends at the other
 *      arm's inner edge. Crossing rules are joined across the crossing, so
 *      they do not end there.
 *   3. An L: a vertical and a horizontal stroke, square to each other,
 *      each ending at the other's inner edge, the arms pointing the way
 *      they do at this corner in this orientation; arms from the outer
 *      corner (the outer edges' meeting) of 60 % to 135 % of the arm's
 *      length (the scale tolerances on top of a few px), ending free
 *      (white past their ends, so not a box's side running into the next
 *      side), with white beyond the outer corner on both lines (not a T or
 *      a crossing of rules). The mark is the meeting of the inner edges:
 *      the template's point, at any skew. The best 3 (arms closest to the
 *      expected length) are kept; the fit chooses among them.
 * Text, checkbox frames and handwriting make no straight thin stroke half
 * an arm long; a frame or rule longer than the arms fails the length or the
 * free ends. */

/* A chain of thin runs on successive lines (line r, run [a, b) along it), in
 * the bit image's coordinates. */
typedef struct {
    int first, last;                   /* its first and last lines */
    int fa, fb, la, lb;                /* the runs on its first and last lines */
    int n;                             /* lines with a run */
    double st, stt;                    /* sums of t = r + 0.5 and t^2 */
    double sa, sat, saa, sb, sbt, sbb; /* of the runs' ends, and with t */
} chain_t;

/* A chain as a straight stroke, image px: along t (y for a vertical stroke,
 * x for a horizontal one), across s. */
typedef struct {
    double p[2], q[2]; /* its edges s = p + q t: [0] the low side, [1] the high side */
    double t0, t1;     /* its extent along t: the first line's low edge, the last's high edge */
    double rms;        /* the larger RMS distance of the runs' ends from their edge */
    double width;      /* mean run length */
} stroke_t;

/* Transpose a 32x32 bit block in place: bit 31 - c of a[r] <-> bit 31 - r
 * of a[c] (Hacker's Delight, 7-3). */
static void transpose32(uint32_t a[32])
{
    uint32_t m = 0x0000ffffu;
    for (int j = 16; j != 0; j >>= 1, m ^= m << j)
        for (int k = 0; k < 32; k = (k + j + 1) & ~j) {
            uint32_t t = (a[k] ^ (a[k + j] >> j)) & m;
            a[k] ^= t;
            a[k + j] ^= t << j;
        }
}

/* The window's pixels as bits: nw words per row for image rows y0 ..
 * y0 + rows - 1, bit 31 of word 0 the pixel x0 (a multiple of 32), 1 =
 * black; pixels past the image's right edge are white. */
static void window_bits(const img_t *im, int x0, int y0, int nw, int rows, uint32_t *bits)
{
    for (int r = 0; r < rows; r++) {
        const l_uint32 *line = im->data + (size_t)(y0 + r) * im->wpl;
        uint32_t *out = bits + (size_t)r * nw;
        for (int i = 0; i < nw; i++) {
            int x = x0 + 32 * i, n = im->w - x < 32 ? im->w - x : 32;
            uint32_t v = 0;
            if (n <= 0) {
                out[i] = 0;
                continue;
            }
            if (im->depth == 1) {
                v = line[x >> 5];
                if (n < 32)
                    v &= ~0u << (32 - n);
            } else {
                const int t = im->thresh;
                int j = 0;
#if defined(__SSE2__) && !defined(L_BIG_ENDIAN)
                /* 16 pixels (4 words) a step. Memory byte 4q + 3 - j is
                 * pixel 4q + j: each nibble of the compare mask is already
                 * its 4 pixels most significant first; only the nibbles'
                 * order turns round. */
                if (n == 32 && t >= 1 && t <= 256) {
                    const __m128i tm1 = _mm_set1_epi8((char)(t - 1));
                    for (; j < 32; j += 16) {
                        __m128i p = _mm_loadu_si128((const __m128i *)(line + ((x + j) >> 2)));
                        unsigned m = (unsigned)_mm_movemask_epi8(
                            _mm_cmpeq_epi8(_mm_min_epu8(p, tm1), p));
                        unsigned r16 = (m & 0xfu) << 12 | (m & 0xf0u) << 4 | (m >> 4 & 0xf0u) |
                                       m >> 12;
                        v |= (uint32_t)r16 << (16 - j);
                    }
                }
#endif
                for (; j < n; j++)
                    v |= (uint32_t)(GET_DATA_BYTE(line, x + j) < t) << (31 - j);
            }
            out[i] = v;
        }
    }
}

/* bits (rows x nw words) transposed into tr (32 * nw rows of tw = (rows +
 * 31) / 32 words, zeroed by the caller): bit x of row y becomes bit y of
 * row x. */
static void transpose_bits(const uint32_t *bits, int nw, int rows, uint32_t *tr)
{
    const int tw = (rows + 31) / 32;
    uint32_t a[32];
    for (int bi = 0; bi < tw; bi++)
        for (int bj = 0; bj < nw; bj++) {
            uint32_t any = 0;
            for (int k = 0; k < 32; k++) {
                int r = 32 * bi + k;
                a[k] = r < rows ? bits[(size_t)r * nw + bj] : 0;
                any |= a[k];
            }
            if (!any)
                continue; /* white: most of the window */
            transpose32(a);
            for (int c = 0; c < 32; c++)
                tr[(size_t)(32 * bj + c) * tw + bi] = a[c];
        }
}

/* Runs of set bits in a row of nw words: [ra[i], rb[i]), in order. Returns
 * their count (at most 16 * nw). */
static int row_runs(const uint32_t *row, int nw, int *ra, int *rb)
{
    int n = 0, in = 0, start = 0;
    for (int i = 0; i < nw; i++) {
        uint32_t v = row[i];
        if (v == (in ? ~0u : 0u))
            continue; /* no change within the word */
        int pos = 0;
        while (pos < 32) {
            uint32_t rest = (in ? ~v : v) << pos; /* the next bit that changes the state */
            if (!rest)
                break;
            pos += __builtin_clz(rest);
            if (!in) {
                start = 32 * i + pos;
            } else {
                ra[n] = start;
                rb[n++] = 32 * i + pos;
            }
            in = !in;
        }
    }
    if (in) {
        ra[n] = start;
        rb[n++] = 32 * nw;
    }
    return n;
}

typedef struct {
    chain_t *a;
    int n, cap;
} chains_t;

static int chains_push(chains_t *cs, const chain_t *c)
{
    if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 64;
        chain_t *a = realloc(cs->a, sizeof *a * (size_t)cap);
        if (!a)
            return -1;
        cs->a = a;
        cs->cap = cap;
    }
    cs->a[cs->n++] = *c;
    return 0;
}

static void chain_add(chain_t *c, int r, int a, int b)
{
    double t = r + 0.5;
    c->last = r;
    c->la = a;
    c->lb = b;
    c->n++;
    c->st += t;
    c->stt += t * t;
    c->sa += a;
    c->sat += a * t;
    c->saa += (double)a * a;
    c->sb += b;
    c->sbt += b * t;
    c->sbb += (double)b * b;
}

/* Chains of thin runs (length tmin .. tmax) over the rows of a bit image
 * (rows x nw words): a run continues the chain whose last run it overlaps
 * (or touches) on one of the gap + 1 lines before; longer runs break
 * chains. Appends the chains at least keep lines long to *out. Returns 0,
 * -1 out of memory. */
static int find_chains(const uint32_t *bits, int nw, int rows, int tmin, int tmax, int gap,
                       int keep, chains_t *out)
{
    const int max_runs = 16 * nw + 1;
    const size_t max_act = (size_t)(gap + 2) * (size_t)max_runs;
    int *ra = malloc(sizeof(int) * 2 * (size_t)max_runs);
    chain_t *mem = malloc(sizeof *mem * 2 * max_act);
    if (!ra || !mem) {
        free(ra);
        free(mem);
        return -1;
    }
    int *rb = ra + max_runs;
    chain_t *act = mem, *nxt = mem + max_act; /* this line's chains, the next line's */
    int na = 0, rc = 0;
    for (int r = 0; r <= rows && rc == 0; r++) {
        int nr = 0;
        if (r < rows) {
            int n = row_runs(bits + (size_t)r * nw, nw, ra, rb);
            for (int i = 0; i < n; i++)
                if (rb[i] - ra[i] >= tmin && rb[i] - ra[i] <= tmax) {
                    ra[nr] = ra[i];
                    rb[nr++] = rb[i];
                }
        }
        /* Merge the active chains (in order along the line) with the runs. */
        int nn = 0, i = 0, j = 0;
        while (i < na || j < nr) {
            chain_t *c = i < na ? &act[i] : NULL;
            if (c && (c->last < r - gap || r == rows)) {
                if (c->last - c->first + 1 >= keep && chains_push(out, c))
                    rc = -1;
                i++;
            } else if (c && j < nr && ra[j] <= c->lb && c->la <= rb[j]) {
                chain_add(c, r, ra[j], rb[j]);
                nxt[nn++] = *c;
                i++;
                j++;
            } else if (c && (j == nr || c->lb < ra[j])) {
                nxt[nn++] = *c;
                i++;
            } else {
                chain_t nc = {.first = r, .fa = ra[j], .fb = rb[j]};
                chain_add(&nc, r, ra[j], rb[j]);
                nxt[nn++] = nc;
                j++;
            }
        }
        chain_t *t = act;
        act = nxt;
        nxt = t;
        na = nn;
    }
    free(ra);
    free(mem);
    return rc;
}

/* Join the pieces of a stroke broken by a crossing or a gap in the scan:
 * a chain whose first line is at most maxgap lines after another's last,
 * its first run's middle within tol of the other's middle line carried on
 * (fitted), continues it. The pieces of one arm are joined in order along
 * it; merged-away chains are removed. */
static void merge_chains(chains_t *cs, int maxgap, double tol)
{
    /* by first line (insertion sort: a few dozen pieces) */
    for (int i = 1; i < cs->n; i++)
        for (int j = i; j > 0 && cs->a[j - 1].first > cs->a[j].first; j--) {
            chain_t t = cs->a[j];
            cs->a[j] = cs->a[j - 1];
            cs->a[j - 1] = t;
        }
    for (int i = 0; i < cs->n; i++) {
        chain_t *c = &cs->a[i];
        if (c->n == 0)
            continue;
        for (int j = i + 1; j < cs->n; j++) {
            chain_t *d = &cs->a[j];
            if (d->n == 0 || d->first <= c->last)
                continue;
            if (d->first - c->last - 1 > maxgap)
                break;
            /* c's middle line, s = p + q t, at d's first line */
            double den = c->n * c->stt - c->st * c->st;
            double sm = 0.5 * (c->sa + c->sb), smt = 0.5 * (c->sat + c->sbt);
            double q = den > 0 ? (c->n * smt - c->st * sm) / den : 0, p = (sm - q * c->st) / c->n;
            if (fabs(0.5 * (d->fa + d->fb) - (p + q * (d->first + 0.5))) > tol)
                continue;
            c->last = d->last;
            c->la = d->la;
            c->lb = d->lb;
            c->n += d->n;
            c->st += d->st;
            c->stt += d->stt;
            c->sa += d->sa;
            c->sat += d->sat;
            c->saa += d->saa;
            c->sb += d->sb;
            c->sbt += d->sbt;
            c->sbb += d->sbb;
            d->n = 0;
        }
    }
    int n = 0;
    for (int i = 0; i < cs->n; i++)
        if (cs->a[i].n)
            cs->a[n++] = cs->a[i];
    cs->n = n;
}

/* Least-squares line s = p + q t through n points given by their sums;
 * the RMS distance from it. */
static void fit_sums(double n, double st, double stt, double ss, double sst, double sss, double *pp,
                     double *pq, double *prms)
{
    double d = n * stt - st * st;
    double q = d > 0 ? (n * sst - st * ss) / d : 0;
    double p = (ss - q * st) / n;
    double e = sss - 2 * p * ss - 2 * q * sst + n * p * p + 2 * p * q * st + q * q * stt;
    *pp = p;
    *pq = q;
    *prms = sqrt(e > 0 ? e / n : 0);
}

/* A chain of a bit image whose line r is image line t_off + r and whose
 * bit i is at s_off + i, as a stroke in image px. */
static stroke_t chain_stroke(const chain_t *c, int t_off, int s_off)
{
    stroke_t k;
    double rms0, rms1;
    fit_sums(c->n, c->st, c->stt, c->sa, c->sat, c->saa, &k.p[0], &k.q[0], &rms0);
    fit_sums(c->n, c->st, c->stt, c->sb, c->sbt, c->sbb, &k.p[1], &k.q[1], &rms1);
    for (int e = 0; e < 2; e++)
        k.p[e] += s_off - k.q[e] * t_off;
    k.rms = fmax(rms0, rms1);
    k.t0 = t_off + c->first;
    k.t1 = t_off + c->last + 1;
    k.width = (c->sb - c->sa) / c->n;
    return k;
}

/* The middle of stroke k at t. */
static double stroke_mid(const stroke_t *k, double t)
{
    return 0.5 * (k->p[0] + k->p[1] + (k->q[0] + k->q[1]) * t);
}

/* Where edge ev of vertical stroke v (x = p + q y) meets edge eh of
 * horizontal stroke h (y = p + q x). */
static void stroke_meet(const stroke_t *v, int ev, const stroke_t *h, int eh, double *px,
                        double *py)
{
    double d = 1 - v->q[ev] * h->q[eh]; /* > 0.99: both within a few degrees of their axes */
    *px = (v->p[ev] + v->q[ev] * h->p[eh]) / d;
    *py = h->p[eh] + h->q[eh] * *px;
}

/* The share of black among the pixels of stroke k's middle line from t = ta
 * to tb (either order), one per line. vertical: k runs along y. */
static double black_share(const img_t *im, const stroke_t *k, int vertical, double ta, double tb)
{
    int n = 0, b = 0;
    double lo = fmin(ta, tb), hi = fmax(ta, tb);
    for (double t = floor(lo) + 0.5; t < hi; t += 1, n++) {
        int s = (int)floor(stroke_mid(k, t)), u = (int)floor(t);
        b += vertical ? black_at(im, s, u) : black_at(im, u, s);
    }
    return n ? (double)b / n : 0;
}

/* 8 bpp: adds the grey of stroke k's middle line from t = ta to tb, every
 * other line, to *psum, their count to *pn. vertical: k runs along y. */
static void stroke_grey(const img_t *im, const stroke_t *k, int vertical, double ta, double tb,
                        double *psum, double *pn)
{
    double lo = fmin(ta, tb), hi = fmax(ta, tb);
    for (double t = floor(lo) + 0.5; t < hi; t += 2) {
        int s = (int)floor(stroke_mid(k, t)), u = (int)floor(t);
        int x = vertical ? s : u, y = vertical ? u : s;
        if (x < 0 || y < 0 || x >= im->w || y >= im->h)
            continue;
        *psum += GET_DATA_BYTE(im->data + (size_t)y * im->wpl, x);
        *pn += 1;
    }
}

/* Find L-shaped mark candidates in the window [x0,x1) x [y0,y1): arms of
 * arm px from the outer corner, line px wide; from the outer corner the
 * horizontal arm runs towards x * hx and the vertical towards y * vy (hx,
 * vy = +1 or -1); edges' slopes up to max_slope, the arms square to each
 * other within max_shear (a slope). Writes up to MAX_CAND candidates (the
 * inside corner), best first; returns their count, or -1 on out of memory. */
static int find_corners(img_t *im, int x0, int y0, int x1, int y1, double arm, double line,
                        int hx, int vy, double max_slope, double max_shear, double ex, double ey,
                        cand_t *out)
{
    x0 &= ~31;
    const int nw = (x1 - x0 + 31) / 32, rows = y1 - y0, tw = (rows + 31) / 32;
    if (nw < 1 || rows < 32)
        return 0;
    if (im->depth == 8)
        im->thresh = window_threshold(im, x0, y0, x1, y1);
    uint32_t *bits = malloc(sizeof *bits * (size_t)rows * nw);
    uint32_t *tr = calloc((size_t)32 * nw * tw, sizeof *tr);
    chains_t cv = {0}, ch = {0};
    stroke_t *sv = NULL, *sh = NULL;
    int n_out = -1;
    if (!bits || !tr)
        goto done;
    window_bits(im, x0, y0, nw, rows, bits);
    transpose_bits(bits, nw, rows, tr);
    /* Thin: up to twice the arm's width and 3 px (blur, a heavy threshold);
     * gaps of a few lines (a broken scan line, a speck) are bridged, pieces
     * apart by up to 0.15 arm (a pen stroke across an arm) joined. */
    const int tmax = (int)(2 * line + 3), gap = 2 + (int)(line / 2);
    const int piece = (int)fmax(8, 0.15 * arm);
    if (find_chains(bits, nw, rows, 1, tmax, gap, piece, &cv) ||
        find_chains(tr, tw, 32 * nw, 1, tmax, gap, piece, &ch))
        goto done;
    merge_chains(&cv, piece, 1 + 0.25 * line);
    merge_chains(&ch, piece, 1 + 0.25 * line);
    sv = malloc(sizeof *sv * (size_t)(cv.n + 1));
    sh = malloc(sizeof *sh * (size_t)(ch.n + 1));
    if (!sv || !sh)
        goto done;
    /* Strokes: mostly unbroken, straight (the runs' ends within about a
     * pixel of a line: 1-bit edges are ragged by one), as wide as an arm,
     * within the skew. */
    int nv = 0, nh = 0;
    for (int pass = 0; pass < 2; pass++) {
        const chains_t *cs = pass ? &ch : &cv;
        for (int i = 0; i < cs->n; i++) {
            const chain_t *c = &cs->a[i];
            stroke_t k = pass ? chain_stroke(c, x0, y0) : chain_stroke(c, y0, x0);
            if (c->last - c->first + 1 < 0.5 * arm || c->n < 0.7 * (c->last - c->first + 1) ||
                k.rms > 1.2 + 0.1 * line ||
                k.width < 0.3 * line || fabs(k.q[0]) > max_slope || fabs(k.q[1]) > max_slope)
                continue;
            if (pass)
                sh[nh++] = k;
            else
                sv[nv++] = k;
        }
    }
    n_out = 0;
    double score[MAX_CAND];
    const int iv = hx > 0, ih = vy > 0; /* the inner edges: towards the arms */
    const double near = line + 3, ext = fmax(4, 0.1 * arm);
    for (int a = 0; a < nv; a++)
        for (int b = 0; b < nh; b++) {
            const stroke_t *v = &sv[a], *h = &sh[b];
            if (fabs(0.5 * (v->q[0] + v->q[1] + h->q[0] + h->q[1])) > max_shear)
                continue; /* not square */
            double cx, cy, ox, oy;
            stroke_meet(v, iv, h, ih, &cx, &cy);
            stroke_meet(v, !iv, h, !ih, &ox, &oy);
            /* Each stroke ends at the other's inner edge (there the runs
             * cross both arms) and runs away from it the arm's way. */
            double v_end = vy > 0 ? v->t0 : v->t1, v_far = vy > 0 ? v->t1 : v->t0;
            double h_end = hx > 0 ? h->t0 : h->t1, h_far = hx > 0 ? h->t1 : h->t0;
            if (fabs(v_end - cy) > near || fabs(h_end - cx) > near)
                continue;
            double lv = vy * (v_far - oy), lh = hx * (h_far - ox);
            if (lv < 0.6 * arm || lh < 0.6 * arm || lv > 1.35 * arm || lh > 1.35 * arm)
                continue;
            /* White beyond the outer corner on both lines (not a T, not
             * crossing rules), and past both far ends (not a box's sides). */
            if (black_share(im, v, 1, oy - vy * 2, oy - vy * ext) > 0.25 ||
                black_share(im, h, 0, ox - hx * 2, ox - hx * ext) > 0.25 ||
                black_share(im, v, 1, v_far, v_far + vy * (line + 1)) > 0.5 ||
                black_share(im, h, 0, h_far, h_far + hx * (line + 1)) > 0.5)
                continue;
            double sc = fabs(lv / arm - 1) + fabs(lh / arm - 1);
            cand_t cd = {.x = cx, .y = cy, .side = 0.5 * (lv + lh),
                         .dist = hypot(cx - ex, cy - ey)};
            if (im->depth == 8) {
                /* The scan's black: the arms' middle lines, off the corner
                 * and the ends (their edges are blurred). */
                double g[2] = {0}, ng[2] = {0};
                stroke_grey(im, v, 1, oy + vy * 2 * line, v_far - vy * line, &g[0], &ng[0]);
                stroke_grey(im, h, 0, ox + hx * 2 * line, h_far - hx * line, &g[1], &ng[1]);
                cd.grey = ng[0] + ng[1] > 0 ? (g[0] + g[1]) / (ng[0] + ng[1]) : 0;
            }
            /* One L found twice (its strokes in pieces): the better. */
            int dup = -1;
            for (int i = 0; i < n_out; i++)
                if (hypot(out[i].x - cx, out[i].y - cy) < 2 * line + 2)
                    dup = i;
            if (dup >= 0) {
                if (score[dup] <= sc)
                    continue;
                for (int i = dup; i + 1 < n_out; i++) {
                    out[i] = out[i + 1];
                    score[i] = score[i + 1];
                }
                n_out--;
            }
            int pos = n_out;
            while (pos > 0 && score[pos - 1] > sc)
                pos--;
            if (pos >= MAX_CAND)
                continue;
            int last = n_out < MAX_CAND ? n_out : MAX_CAND - 1;
            for (int i = last; i > pos; i--) {
                out[i] = out[i - 1];
                score[i] = score[i - 1];
            }
            out[pos] = cd;
            score[pos] = sc;
            if (n_out < MAX_CAND)
                n_out++;
        }
done:
    free(bits);
    free(tr);
    free(cv.a);
    free(ch.a);
    free(sv);
    free(sh);
    return n_out;
}

/* The candidates for L-shaped corner mark m of page expected at (ex, ey)
 * (nom: the nominal transform, k px per mm): the window and the arms'
 * directions for find_corners. */
static int find_corner_mark(img_t *im, const omr_page_t *page, int m, const double *nom, double k,
                            const omr_register_opts_t *o, double ex, double ey, cand_t *out)
{
    /* The arms run from the outer corner into the page: the template's
     * inward direction at this corner (omr_template_mark_rect's sides),
     * turned by the orientation. */
    double ix = page->mark_x[m] < page->width / 2 ? 1 : -1;
    double iy = page->mark_y[m] < page->height / 2 ? 1 : -1;
    int hx = nom[0] * ix + nom[1] * iy > 0 ? 1 : -1;
    int vy = nom[3] * ix + nom[4] * iy > 0 ? 1 : -1;
    const double arm = page->mark_size * k, line = page->mark_line * k;
    const double skew_r = o->max_skew_deg * M_PI / 180, slope_r = skew_r + M_PI / 180;
    double d = hypot(page->mark_x[m] - page->width / 2, page->mark_y[m] - page->height / 2);
    /* Where the inside corner may be (as a square's centre), then the L
     * around it: the outer corner a line's width out, the far ends up to
     * 1.1 arms in (the scale tolerances), a skewed arm's end swung aside. */
    double tol = (o->max_shift_mm + d * (sin(skew_r) + o->max_scale)) * k * (1 + o->max_scale) + 2;
    double back = tol + 2 * line + 4 + arm * sin(slope_r), fwd = tol + 1.1 * arm + 4;
    int x0 = (int)floor(ex - (hx > 0 ? back : fwd)), x1 = (int)ceil(ex + (hx > 0 ? fwd : back));
    int y0 = (int)floor(ey - (vy > 0 ? back : fwd)), y1 = (int)ceil(ey + (vy > 0 ? fwd : back));
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->w) x1 = im->w;
    if (y1 > im->h) y1 = im->h;
    if (x1 <= x0 || y1 <= y0)
        return 0;
    return find_corners(im, x0, y0, x1, y1, arm, line, hx, vy, tan(slope_r),
                        tan(o->max_shear_deg * M_PI / 180), ex, ey, out);
}

/* ------------------------------------------------------ bullseye marks */

/* How a bullseye (OMR_MARK_RING) is found, per corner:
 *   1. The window as for a square, made bits (8 bpp: the threshold halfway
 *      between its paper and its darkest 0.1 %, as a bullseye has half the
 *      ink of a square its size); the runs of black of each row joined into
 *      8-connected pieces (union-find over the runs).
 *   2. Seeds: pieces whose bounding box is about square (a circle's is, at
 *      any skew) and the size of the outer ring (0.68 to 1.3 of the mark's
 *      diameter, a square's tolerance) or of the middle ring (whole even
 *      when other ink touches the outer one).
 *   3. The rings, along 32 rays from the box's middle (ring_rays): black,
 *      white, black, white, black, white, the edges where OMR_RING_BANDS
 *      puts them. Half the rays must show them.
 *   4. The centre (ring_centre): the ink's centroid within 1.1 outer radii
 *      + 2 px (the whole bullseye and a margin of paper), then the middle of
 *      the rings' mirrored edges along rows and columns; on 8 bpp at the
 *      bullseye's own threshold, halfway between its black and its white
 *      bands (ring_level), each edge to a fraction of a pixel.
 *   5. The rings again from that centre: 3/4 of the rays must show them, and
 *      the outer diameter (twice the median outer edge) be 0.68 to 1.3 of
 *      the mark's.
 * A filled disc or bubble, a square, a circle outline or one round a dot,
 * text, a blot or a target with other bands fails the rays. A bullseye cut
 * by the image edge is refused: its centre is not measured the same way.
 * On rendered and warped pages (tests/test_register_ring.c) the centre is
 * found to 0.08 px on grey and 0.15 px on 1 bpp, from 100 to 600 dpi. */

#define RING_RAYS 32

static const double ring_band[5] = OMR_RING_BANDS;

/* A run of black bits [a, b) on line y of a window's bit image; up: its
 * union-find parent, a run of the same piece with a lower index (a root
 * is its own parent and its piece's first run). */
typedef struct {
    int a, b, y, up;
} ring_run_t;

/* A piece's bounding box in the bit image: bits [a, b), lines y0 .. y1. */
typedef struct {
    int a, b, y0, y1;
} ring_box_t;

static int run_root(ring_run_t *r, int i)
{
    while (r[i].up != i) {
        r[i].up = r[r[i].up].up; /* path halving */
        i = r[i].up;
    }
    return i;
}

/* The runs of black of a bit image (rows x nw words), in line order, each
 * joined with the runs it touches on the line before (8-connected: a
 * diagonal touch joins). *pruns (the caller frees it), *pn. Returns 0, -1
 * out of memory. */
static int bit_runs(const uint32_t *bits, int nw, int rows, ring_run_t **pruns, int *pn)
{
    const int max_runs = 16 * nw + 1;
    int *ra = malloc(sizeof(int) * 2 * (size_t)max_runs), *rb = ra ? ra + max_runs : NULL;
    ring_run_t *r = NULL;
    int n = 0, cap = 0, prev = 0;
    if (!ra)
        return -1;
    for (int y = 0; y < rows; y++) {
        int k = row_runs(bits + (size_t)y * nw, nw, ra, rb);
        if (n + k > cap) {
            int nc = cap ? 2 * cap : 1024;
            while (nc < n + k)
                nc *= 2;
            ring_run_t *t = realloc(r, sizeof *t * (size_t)nc);
            if (!t) {
                free(ra);
                free(r);
                return -1;
            }
            r = t;
            cap = nc;
        }
        const int cur = n;
        for (int i = 0; i < k; i++, n++)
            r[n] = (ring_run_t){.a = ra[i], .b = rb[i], .y = y, .up = n};
        /* Both lines' runs are in order along the line: step past the one
         * that ends first. */
        for (int i = prev, j = cur; i < cur && j < n;) {
            if (r[j].a <= r[i].b && r[i].a <= r[j].b) {
                int ri = run_root(r, i), rj = run_root(r, j);
                if (ri < rj)
                    r[rj].up = ri;
                else if (rj < ri)
                    r[ri].up = rj;
            }
            if (r[i].b < r[j].b)
                i++;
            else
                j++;
        }
        prev = cur;
    }
    free(ra);
    *pruns = r;
    *pn = n;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double d = *(const double *)a - *(const double *)b;
    return (d > 0) - (d < 0);
}

/* Along RING_RAYS rays from (cx, cy) out to t_max px, a bullseye's five
 * edges: black at the centre, then white, black, white, black, white. A ray
 * shows the bullseye when all five are there and the inner four lie where
 * ring_band puts them (as fractions of that ray's outer edge) within 6 % of
 * it and a pixel: blur and the threshold move the edges of every black band
 * out, or in, by about the same. Returns the rays that show it, or fewer
 * than need as soon as need can no longer be reached; *pr: the median outer
 * edge over them (0 when none). */
static int ring_rays(const img_t *im, double cx, double cy, double t_max, int need, double *pr)
{
    double outer[RING_RAYS];
    int n = 0;
    *pr = 0;
    if (!black_at(im, (int)floor(cx), (int)floor(cy)))
        return 0;
    /* half-pixel steps: at 100 dpi a band is ~2.3 px */
    const double ds = fmax(0.5, t_max / 120);
    for (int j = 0; j < RING_RAYS && n + RING_RAYS - j >= need; j++) {
        /* off the axes by half a step: no ray runs along a pixel boundary */
        double th = 2 * M_PI * (j + 0.5) / RING_RAYS, dx = cos(th), dy = sin(th), e[5];
        int k = 0, colour = 1;
        for (double t = ds; t <= t_max && k < 5; t += ds)
            if (black_at(im, (int)floor(cx + t * dx), (int)floor(cy + t * dy)) != colour) {
                e[k++] = t - ds / 2;
                colour = !colour;
            }
        if (k < 5)
            continue;
        int ok = 1;
        for (int q = 0; q < 4; q++)
            ok &= fabs(e[q] - ring_band[q] * e[4]) <= 0.06 * e[4] + 1;
        if (ok)
            outer[n++] = e[4];
    }
    if (n) {
        qsort(outer, (size_t)n, sizeof *outer, cmp_double);
        *pr = outer[n / 2];
    }
    return n;
}

/* Grey of pixel (x, y) of an 8-bpp image; paper (255) off the image. */
static int grey_at(const img_t *im, int x, int y)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return 255;
    return GET_DATA_BYTE(im->data + (size_t)y * im->wpl, x);
}

/* The centre across one axis from the bullseye's mirrored edges. On each
 * line along the axis (rows for x, columns for y) within 0.9 outer radii r
 * of the centre (*pc along, po across), the black runs within the line's
 * chord of the outer circle (and some paper beyond, for the error of *pc)
 * are the rings' chords, symmetric about the centre: the i-th edge from
 * the start and the i-th from the end are mirror images, their midpoint
 * the centre. On 1 bpp an edge is a pixel boundary, the midpoint off by
 * half the two edges' rounding to the grid; on 8 bpp an edge is where the
 * grey crosses the threshold, linear between the two pixels' centres, to a
 * tenth of a pixel. A line counts when its runs mirror each other; its
 * estimate is the mean of its midpoints, the centre the median over the
 * lines: a speck or a touching rule spoils only its own lines, shading of
 * the paper or uneven ink moves an edge at mid grey little. A skewed,
 * unevenly scaled bullseye is an ellipse whose chords' midpoints lie on a
 * line through the centre: lines either side cancel. Updates *pc; returns
 * 0, -1 when fewer than 4 lines count, -2 out of memory. */
static int mirror_centre(const img_t *im, int along_x, double *pc, double po, double r)
{
    const int l0 = (int)floor(po - 0.9 * r), l1 = (int)floor(po + 0.9 * r);
    const double level = im->thresh - 0.5; /* 8 bpp: between black (< thresh) and white */
    const double reach = r + 2 + 0.05 * r;  /* the outer edge, and paper for the seed's error */
    double *est = malloc(sizeof *est * (size_t)(l1 - l0 + 1));
    int n = 0;
    if (!est)
        return -2;
    for (int l = l0; l <= l1; l++) {
        const double d = l + 0.5 - po;
        if (fabs(d) > 0.9 * r)
            continue;
        /* the line's chord of the circle of radius reach */
        const double h = sqrt(reach * reach - d * d);
        const int a0 = (int)floor(*pc - h), a1 = (int)ceil(*pc + h);
        double e[16];
        int ne = 0, prev = 0, over = 0;
        for (int a = a0; a <= a1; a++) {
            int b = along_x ? black_at(im, a, l) : black_at(im, l, a);
            if (b == prev)
                continue;
            if (a == a0 || ne == 16) {
                over = 1; /* ink running in from outside; more than specks besides the rings */
                break;
            }
            double pos = a; /* the boundary before pixel a */
            if (im->depth == 8) {
                int v0 = along_x ? grey_at(im, a - 1, l) : grey_at(im, l, a - 1);
                int v1 = along_x ? grey_at(im, a, l) : grey_at(im, l, a);
                pos = a - 0.5 + fmin(1, fmax(0, (level - v0) / (v1 - v0)));
            }
            e[ne++] = pos;
            prev = b;
        }
        /* As many edges either side of the centre, and each run (black or
         * white) as long as its mirror image within 1.5 px (the rounding
         * of both ends of both, on 1 bpp): a rule or a stroke touching the
         * rings on one side adds edges there, or lengthens a ring's run. */
        if (over || prev || ne < 2 || ne % 2 || e[ne / 2 - 1] > *pc || e[ne / 2] < *pc)
            continue;
        int mirrored = 1;
        for (int i = 0; i + 1 < ne / 2; i++)
            mirrored &= fabs((e[i + 1] - e[i]) - (e[ne - 1 - i] - e[ne - 2 - i])) <= 1.5;
        if (!mirrored)
            continue;
        double m = 0;
        for (int i = 0; i < ne / 2; i++)
            m += 0.5 * (e[i] + e[ne - 1 - i]);
        est[n++] = m / (ne / 2);
    }
    int ret = -1;
    if (n >= 4) {
        qsort(est, (size_t)n, sizeof *est, cmp_double);
        *pc = n % 2 ? est[n / 2] : 0.5 * (est[n / 2 - 1] + est[n / 2]);
        ret = 0;
    }
    free(est);
    return ret;
}

/* 8 bpp: the centroid of the ink over the pixels whose centres lie within
 * r of (*px, *py), each weighted by how much darker than the paper it is
 * (paper - grey, 0 when lighter): that is linear in how much of the pixel
 * the ink covers, so neither the pixel grid nor blur biases it as a
 * threshold's quantised edges do (up to 0.5 px at 100 dpi). The paper's
 * noise adds weight evenly round the current centre: it slows the
 * correction a little, it does not bias it. Updates the point; returns 0,
 * -1 when there is no ink. */
static int circle_grey_centroid(const img_t *im, int paper, double *px, double *py, double r)
{
    const double cx = *px, cy = *py;
    double sw = 0, sx = 0, sy = 0;
    int y0 = (int)floor(cy - r), y1 = (int)ceil(cy + r);
    if (y0 < 0) y0 = 0;
    if (y1 > im->h) y1 = im->h;
    for (int y = y0; y < y1; y++) {
        double dy = y + 0.5 - cy, h2 = r * r - dy * dy;
        if (h2 < 0)
            continue;
        double h = sqrt(h2);
        int xa = (int)ceil(cx - h - 0.5), xb = (int)floor(cx + h - 0.5) + 1;
        if (xa < 0) xa = 0;
        if (xb > im->w) xb = im->w;
        const l_uint32 *line = im->data + (size_t)y * im->wpl;
        long rw = 0, rwx = 0; /* integer sums per row */
        for (int x = xa; x < xb; x++) {
            int wgt = paper - (int)GET_DATA_BYTE(line, x);
            if (wgt > 0) {
                rw += wgt;
                rwx += (long)wgt * x;
            }
        }
        sw += (double)rw;
        sx += (double)rwx;
        sy += (double)rw * y;
    }
    if (sw <= 0)
        return -1;
    *px = sx / sw + 0.5;
    *py = sy / sw + 0.5;
    return 0;
}

/* 8 bpp: the mean grey of the pixels whose centres lie within r of (cx,
 * cy), 0 when none. */
static double disc_grey(const img_t *im, double cx, double cy, double r)
{
    double sum = 0;
    int n = 0;
    for (int y = (int)floor(cy - r); y <= (int)ceil(cy + r); y++)
        for (int x = (int)floor(cx - r); x <= (int)ceil(cx + r); x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            if (x < 0 || y < 0 || x >= im->w || y >= im->h || dx * dx + dy * dy > r * r)
                continue;
            sum += GET_DATA_BYTE(im->data + (size_t)y * im->wpl, x);
            n++;
        }
    return n ? sum / n : 0;
}

/* 8 bpp: the grey halfway between a bullseye's black and white bands, from
 * the pixels within its outer radius r of (cx, cy): 6/10 of that disc is
 * black band, 4/10 white, so the 25th percentile is well inside the black
 * and the 85th inside the white even where blur has greyed both (at 100
 * dpi a band is 2-3 px). The window's threshold, halfway between paper and
 * the darkest ink, can fall on blurred white bands. Returns -1 when the two
 * are not 24 levels apart (no bullseye). */
static int ring_level(const img_t *im, double cx, double cy, double r)
{
    int hist[256] = {0}, n = 0;
    for (int y = (int)floor(cy - r); y <= (int)ceil(cy + r); y++)
        for (int x = (int)floor(cx - r); x <= (int)ceil(cx + r); x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            if (dx * dx + dy * dy <= r * r) {
                hist[grey_at(im, x, y)]++;
                n++;
            }
        }
    int lo = -1, hi = -1, acc = 0;
    for (int v = 0; v < 256 && hi < 0; v++) {
        acc += hist[v];
        if (lo < 0 && acc * 100 >= n * 25)
            lo = v;
        if (acc * 100 >= n * 85)
            hi = v;
    }
    if (n == 0 || hi - lo < 24)
        return -1;
    return (lo + hi + 1) / 2;
}

/* The centre of the bullseye seeded at (*px, *py), of outer radius about r
 * px (paper: the window's paper grey, 8 bpp). First the centroid of its
 * ink within 1.1 r + 2 px, twice (8 bpp: weighted by grey; 1 bpp: the
 * black pixels): near the centre whatever the seed. Then the rings'
 * mirrored edges (mirror_centre): on 1 bpp the centroid is off by up to
 * 0.5 px at 100 dpi, its edges' rounding hardly averaging out over so
 * few; on 8 bpp it leans towards darker ink or paper (0.2 px on the real
 * scans). On 8 bpp it sets im->thresh to the bullseye's own level
 * (ring_level) for the edges and for what the caller checks next; the
 * caller puts the window's back. Updates the point; returns 0, -1 when
 * the rings do not show, -2 out of memory. */
static int ring_centre(img_t *im, int paper, double *px, double *py, double r)
{
    const double rc = 1.1 * r + 2;
    for (int it = 0; it < 2; it++)
        if (im->depth == 8 ? circle_grey_centroid(im, paper, px, py, rc) != 0
                           : ink_centroid(im, px, py, rc, 1) == 0)
            return -1;
    double cx = *px, cy = *py;
    if (im->depth == 8 && (im->thresh = ring_level(im, cx, cy, r)) < 0)
        return -1;
    int mx = mirror_centre(im, 1, px, cy, r), my = mirror_centre(im, 0, py, cx, r);
    return mx == -2 || my == -2 ? -2 : mx || my ? -1 : 0;
}

/* Find bullseye candidates in the window [x0,x1) x [y0,y1) for a mark of
 * outer diameter d_px expected at (ex, ey). Writes up to MAX_CAND
 * candidates, nearest first; returns their count, or -1 on out of memory. */
static int find_rings(img_t *im, int x0, int y0, int x1, int y1, double d_px, double ex, double ey,
                      cand_t *out)
{
    x0 &= ~31;
    const int nw = (x1 - x0 + 31) / 32, rows = y1 - y0;
    if (nw < 1 || rows < 3)
        return 0;
    /* A bullseye's ink is about half a square's of its size, and at 100
     * dpi its bands are blurred to their middles: the darkest 0.1 %. */
    int paper = 255;
    if (im->depth == 8)
        im->thresh = window_threshold_q(im, x0, y0, x1, y1, 10, &paper);
    const int window_thresh = im->thresh;
    uint32_t *bits = malloc(sizeof *bits * (size_t)rows * nw);
    ring_run_t *runs = NULL;
    int nr = 0, n_out = -1;
    ring_box_t *box = NULL; /* per root run: its piece's box */
    if (!bits)
        goto done;
    window_bits(im, x0, y0, nw, rows, bits);
    if (bit_runs(bits, nw, rows, &runs, &nr))
        goto done;
    box = malloc(sizeof *box * (size_t)(nr + 1));
    if (!box)
        goto done;
    /* A root is its piece's first run, so it comes before the others. */
    for (int i = 0; i < nr; i++) {
        ring_box_t *b = &box[run_root(runs, i)];
        if (runs[i].up == i) {
            *b = (ring_box_t){runs[i].a, runs[i].b, runs[i].y, runs[i].y};
            continue;
        }
        if (runs[i].a < b->a) b->a = runs[i].a;
        if (runs[i].b > b->b) b->b = runs[i].b;
        b->y1 = runs[i].y; /* runs are in line order */
    }
    n_out = 0;
    const double lo = 0.68 * d_px, hi = 1.3 * d_px;
    const double t_max = 0.5 * hi + 2; /* out past the largest outer edge allowed */
    for (int i = 0; i < nr; i++) {
        if (runs[i].up != i)
            continue;
        const int w = box[i].b - box[i].a, h = box[i].y1 - box[i].y0 + 1;
        if (abs(w - h) > 0.15 * (w > h ? w : h) + 2)
            continue;
        const double size = 0.5 * (w + h);
        if (!(size >= lo - 2 && size <= hi + 2) &&
            !(size >= ring_band[2] * lo - 2 && size <= ring_band[2] * hi + 2))
            continue;
        double cx = x0 + 0.5 * (box[i].a + box[i].b), cy = y0 + box[i].y0 + 0.5 * h, r_out;
        if (ring_rays(im, cx, cy, t_max, RING_RAYS / 2, &r_out) < RING_RAYS / 2)
            continue;
        /* 8 bpp: from here on the bullseye's own threshold (ring_level) */
        int st = ring_centre(im, paper, &cx, &cy, r_out);
        if (st == -2) {
            n_out = -1;
            goto done;
        }
        const double rc = 1.1 * r_out + 2;
        int nm = st ? 0 : ring_rays(im, cx, cy, t_max, 3 * RING_RAYS / 4, &r_out);
        im->thresh = window_thresh;
        if (st || cx - rc < 0 || cy - rc < 0 || cx + rc > im->w || cy + rc > im->h)
            continue; /* no rings, or cut by the image edge */
        if (nm < 3 * RING_RAYS / 4 || 2 * r_out < lo || 2 * r_out > hi)
            continue;
        /* The outer and the middle ring of one bullseye both seed it. */
        int dup = 0;
        for (int k = 0; k < n_out; k++)
            dup |= hypot(out[k].x - cx, out[k].y - cy) < 0.5 * r_out;
        if (dup)
            continue;
        cand_t cd = {.x = cx, .y = cy, .side = 2 * r_out, .dist = hypot(cx - ex, cy - ey)};
        /* The scan's black: the middle of the disc (a bullseye's bands are
         * blurred at 100 dpi; its disc is the widest black). */
        if (im->depth == 8)
            cd.grey = disc_grey(im, cx, cy, fmax(1, 0.6 * ring_band[0] * r_out));
        n_out = keep_nearest(out, n_out, &cd);
    }
done:
    free(bits);
    free(runs);
    free(box);
    return n_out;
}

/* ---------------------------------------------------- nominal and checks */

omr_status_t omr_register_begin(omr_register_t *out, const omr_register_opts_t **popts,
                                omr_register_opts_t *defaults, omr_error_t *err)
{
    if (!out)
        return omr_error_set(err, OMR_EINPUT, "register: no output");
    memset(out, 0, sizeof *out);
    if (!*popts) {
        omr_register_opts_default(defaults);
        *popts = defaults;
    }
    return OMR_OK;
}

double omr_register_nominal_k(const omr_page_t *page, int orientation, int w, int h, double dpi,
                              double *pslack)
{
    int sideways = orientation == 90 || orientation == 270;
    double k_img = 0.5 * (w / (sideways ? page->height : page->width) + h / (sideways ? page->width : page->height));
    double k = dpi > 0 ? dpi / OMR_MM_PER_INCH : k_img;
    if (fabs(k / k_img - 1) > 0.15)
        k = k_img;
    /* A scale from the image size is a guess: a file without a resolution
     * (a JPEG from a document-scanner app) holds the sheet with whatever
     * margin the crop left, so the page's own layout must set the scale
     * (measured: OMRChecker's sample sheets 9 % off). With the file's dpi
     * the scale is known to a few %. */
    *pslack = k == k_img ? 0.25 : 0.05;
    return k;
}

void omr_register_nominal_xform(int orientation, double W, double H, double k, double *xf)
{
    double t[4][6] = {
        {k, 0, 0, 0, k, 0},          /* 0 */
        {0, -k, k * H, k, 0, 0},     /* 90: sheet turned clockwise */
        {-k, 0, k * W, 0, -k, k * H},/* 180 */
        {0, k, 0, -k, 0, k * W},     /* 270 */
    };
    memcpy(xf, t[(orientation / 90) & 3], sizeof t[0]);
}


double omr_register_plausible(const omr_register_plaus_t *p, const double *xf, double *pskew, double *psx,
                              double *psy)
{
    double ux = xf[0], uy = xf[3], vx = xf[1], vy = xf[4];
    double sx = hypot(ux, uy), sy = hypot(vx, vy);
    if (sx <= 0 || sy <= 0)
        return -1;
    double cross = ux * vy - uy * vx;
    if (cross <= 0) /* mirrored */
        return -1;
    double skew = atan2(uy, ux) - p->orient_rad;
    while (skew > M_PI)
        skew -= 2 * M_PI;
    while (skew < -M_PI)
        skew += 2 * M_PI;
    double cos_shear = (ux * vx + uy * vy) / (sx * sy);
    double rx = sx / p->k - 1, ry = sy / p->k - 1;
    *pskew = skew * 180 / M_PI;
    *psx = sx / p->k;
    *psy = sy / p->k;
    /* The nominal dpi may itself be off (a wrong file header, inferred from
     * the image size), hence the slack on top of the scale tolerance. */
    double tol = p->o->max_scale + p->scale_slack;
    if (fabs(rx) > tol || fabs(ry) > tol)
        return -1;
    if (fabs(sx / sy - 1) > 2 * p->o->max_scale + 0.01)
        return -1;
    if (fabs(*pskew) > p->o->max_skew_deg + 1)
        return -1;
    if (fabs(cos_shear) > sin(p->o->max_shear_deg * M_PI / 180))
        return -1;
    return fabs(sx / sy - 1) + fabs(cos_shear);
}

/* ------------------------------------------------- one mark + barcode */

/* The most the transforms xa and xb (template mm -> px) differ at the page's
 * corners, in px. */
static double corner_gap(const double *xa, const double *xb, double W, double H)
{
    const double cx[4] = {0, W, 0, W}, cy[4] = {0, 0, H, H};
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        double ax, ay, bx, by;
        omr_register_map(xa, cx[i], cy[i], &ax, &ay);
        omr_register_map(xb, cx[i], cy[i], &bx, &by);
        worst = fmax(worst, hypot(ax - bx, ay - by));
    }
    return worst;
}

/* A page whose marks did not register: fit each mark candidate with the two
 * ends of the barcode's bar pattern (bars, located in the image): rotation,
 * uniform scale and shift, least squares through the 3 points. Accepted
 * when plausible, the RMS residual within max_residual_mm, and the
 * transform of the barcode's ends alone within max_barcode_mm of the fit at
 * every corner of the page: with the short baseline of the barcode, the
 * residual alone would let a wrong mark pull the fit by several mm (a mark
 * 270 mm from the barcode is matched by turning the page about it, which
 * moves the ends only a little). The lowest residual wins.
 * Returns 1 with xf, pick (the candidate per corner, -1 for the others),
 * *prms (mm); 0 with why (the nearest miss, for the operator). */
static int fit_barcode(const omr_register_plaus_t *pl, const omr_page_t *page, cand_t cand[4][MAX_CAND],
                       const int n_cand[4], const omr_register_barcode_t *bc,
                       const omr_register_bars_t *bars, double *xf, int *pick, double *prms,
                       char *why, size_t nwhy)
{
    const omr_register_opts_t *o = pl->o;
    const double Ym = bc->bars.y + bc->bars.h / 2;
    double X[3] = {0, bc->bars.x, bc->bars.x + bc->bars.w}, Y[3] = {0, Ym, Ym};
    double x[3] = {0, bars->x[0], bars->x[1]}, y[3] = {0, bars->y[0], bars->y[1]};
    double xb[6];
    if (fit_similarity(X + 1, Y + 1, x + 1, y + 1, 2, xb)) {
        snprintf(why, nwhy, "the barcode has no length");
        return 0;
    }
    double best = INFINITY, miss_gap = INFINITY, miss_rms = INFINITY;
    int miss_m = -1;
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < n_cand[m]; i++) {
            X[0] = page->mark_x[m];
            Y[0] = page->mark_y[m];
            x[0] = cand[m][i].x;
            y[0] = cand[m][i].y;
            double f[6], sk, sx, sy;
            if (fit_similarity(X, Y, x, y, 3, f) || omr_register_plausible(pl, f, &sk, &sx, &sy) < 0)
                continue;
            double ss = 0;
            for (int t = 0; t < 3; t++) {
                double px, py;
                omr_register_map(f, X[t], Y[t], &px, &py);
                ss += (px - x[t]) * (px - x[t]) + (py - y[t]) * (py - y[t]);
            }
            double px_per_mm = pl->k * 0.5 * (sx + sy);
            double rms = sqrt(ss / 3) / px_per_mm;
            double gap = corner_gap(f, xb, page->width, page->height) / px_per_mm;
            if (rms > o->max_residual_mm || gap > o->max_barcode_mm) {
                if (gap < miss_gap) {
                    miss_gap = gap;
                    miss_rms = rms;
                    miss_m = m;
                }
                continue;
            }
            if (rms >= best)
                continue;
            best = rms;
            memcpy(xf, f, sizeof f);
            for (int t = 0; t < 4; t++)
                pick[t] = -1;
            pick[m] = i;
        }
    if (isfinite(best)) {
        *prms = best;
        return 1;
    }
    if (miss_m < 0)
        snprintf(why, nwhy, "no plausible fit with the barcode");
    else
        snprintf(why, nwhy,
                 "the barcode disagrees with the %s mark: %.1f mm at a page corner (limit "
                 "%.1f mm), residual %.2f mm (limit %.2f mm)",
                 mark_names[miss_m], miss_gap, o->max_barcode_mm, miss_rms, o->max_residual_mm);
    return 0;
}

/* ---------------------------------------------------------- the stage */

omr_status_t omr_register_page(PIX *pix, const omr_page_t *page, int orientation, double dpi,
                               const omr_register_opts_t *opts, omr_register_t *out,
                               omr_error_t *err)
{
    return omr_register_page_barcode(pix, page, orientation, dpi, opts, NULL, out, err);
}

omr_status_t omr_register_page_barcode(PIX *pix, const omr_page_t *page, int orientation,
                                       double dpi, const omr_register_opts_t *opts,
                                       const omr_register_barcode_t *bc, omr_register_t *out,
                                       omr_error_t *err)
{
    omr_register_opts_t defaults;
    if (omr_register_begin(out, &opts, &defaults, err) != OMR_OK)
        return OMR_EINPUT;
    if (!pix || !page)
        return omr_error_set(err, OMR_EINPUT, "register: no image or no template page");
    img_t im = {.pix = pix, .data = pixGetData(pix), .wpl = pixGetWpl(pix),
                .w = (int)pixGetWidth(pix), .h = (int)pixGetHeight(pix),
                .depth = (int)pixGetDepth(pix), .thresh = 128};
    if ((im.depth != 1 && im.depth != 8) || pixGetColormap(pix))
        return omr_error_set(err, OMR_EINPUT, "register: image depth %d bpp (1 or 8 expected)",
                             im.depth);
    if (page->mark_size <= 0 || page->width <= 0 || page->height <= 0)
        return omr_error_set(err, OMR_EINPUT, "register: template page %s has no corner marks",
                             page->file ? page->file : "?");
    if (orientation % 90 != 0)
        return omr_error_set(err, OMR_EINPUT, "register: orientation %d (0, 90, 180, 270)",
                             orientation);
    orientation = ((orientation % 360) + 360) % 360;
    if (im.w < 16 || im.h < 16) {
        snprintf(out->reason, sizeof out->reason, "image of %dx%d px is too small", im.w, im.h);
        return omr_error_set(err, OMR_ENOTFOUND, "register: %s", out->reason);
    }

    /* Nominal scale: the file's dpi unless it disagrees with the image size
     * by more than 15 % (a wrong or missing header), then the image size. */
    double scale_slack;
    const double k = omr_register_nominal_k(page, orientation, im.w, im.h, dpi, &scale_slack);
    double nom[6];
    omr_register_nominal_xform(orientation, page->width, page->height, k, nom);

    const double skew_r = opts->max_skew_deg * M_PI / 180;
    const double s_px = page->mark_size * k;
    const int corner = page->mark_shape == OMR_MARK_CORNER;
    const int ring = page->mark_shape == OMR_MARK_RING;
    cand_t cand[4][MAX_CAND];
    int n_cand[4];
    for (int m = 0; m < 4; m++) {
        double ex, ey;
        omr_register_map(nom, page->mark_x[m], page->mark_y[m], &ex, &ey);
        double d = hypot(page->mark_x[m] - page->width / 2, page->mark_y[m] - page->height / 2);
        double hw = (opts->max_shift_mm + d * (sin(skew_r) + opts->max_scale) +
                     page->mark_size) * k * (1 + opts->max_scale) + 2;
        int x0 = (int)floor(ex - hw), x1 = (int)ceil(ex + hw);
        int y0 = (int)floor(ey - hw), y1 = (int)ceil(ey + hw);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > im.w) x1 = im.w;
        if (y1 > im.h) y1 = im.h;
        if (corner)
            n_cand[m] = find_corner_mark(&im, page, m, nom, k, opts, ex, ey, cand[m]);
        else if (ring)
            n_cand[m] = x1 > x0 && y1 > y0
                            ? find_rings(&im, x0, y0, x1, y1, s_px, ex, ey, cand[m])
                            : 0;
        else
            n_cand[m] = x1 > x0 && y1 > y0
                            ? find_candidates(&im, x0, y0, x1, y1, s_px, ex, ey, cand[m])
                            : 0;
        if (n_cand[m] < 0)
            return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
    }

    omr_register_plaus_t pl = {.k = k, .scale_slack = scale_slack, .orient_rad = orientation * M_PI / 180, .o = opts};
    double best_rms = INFINITY, best_xf[6] = {0};
    int best_pick[4] = {-1, -1, -1, -1}, have4 = 0;
    double X[4], Y[4], x[4], y[4];
    /* All 4 marks: every combination of candidates. */
    if (n_cand[0] && n_cand[1] && n_cand[2] && n_cand[3]) {
        for (int i0 = 0; i0 < n_cand[0]; i0++)
            for (int i1 = 0; i1 < n_cand[1]; i1++)
                for (int i2 = 0; i2 < n_cand[2]; i2++)
                    for (int i3 = 0; i3 < n_cand[3]; i3++) {
                        int pick[4] = {i0, i1, i2, i3};
                        for (int m = 0; m < 4; m++) {
                            X[m] = page->mark_x[m];
                            Y[m] = page->mark_y[m];
                            x[m] = cand[m][pick[m]].x;
                            y[m] = cand[m][pick[m]].y;
                        }
                        double xf[6], rms, sk, sx, sy;
                        if (omr_register_fit(X, Y, x, y, 4, xf, &rms))
                            continue;
                        if (omr_register_plausible(&pl, xf, &sk, &sx, &sy) < 0)
                            continue;
                        rms /= k * 0.5 * (sx + sy); /* px -> mm */
                        if (rms < best_rms) {
                            best_rms = rms;
                            memcpy(best_xf, xf, sizeof xf);
                            memcpy(best_pick, pick, sizeof pick);
                        }
                    }
        have4 = best_rms <= opts->max_residual_mm;
    }
    double rms4 = best_rms;
    if (!have4) {
        /* Three marks: leave each corner out in turn; the least distorted
         * plausible fit wins. */
        double best_d = INFINITY;
        for (int skip = 0; skip < 4; skip++) {
            int idx[3], j = 0;
            for (int m = 0; m < 4; m++)
                if (m != skip)
                    idx[j++] = m;
            if (!n_cand[idx[0]] || !n_cand[idx[1]] || !n_cand[idx[2]])
                continue;
            for (int i0 = 0; i0 < n_cand[idx[0]]; i0++)
                for (int i1 = 0; i1 < n_cand[idx[1]]; i1++)
                    for (int i2 = 0; i2 < n_cand[idx[2]]; i2++) {
                        int pk[3] = {i0, i1, i2};
                        for (int t = 0; t < 3; t++) {
                            X[t] = page->mark_x[idx[t]];
                            Y[t] = page->mark_y[idx[t]];
                            x[t] = cand[idx[t]][pk[t]].x;
                            y[t] = cand[idx[t]][pk[t]].y;
                        }
                        double xf[6], sk, sx, sy;
                        if (omr_register_fit(X, Y, x, y, 3, xf, NULL))
                            continue;
                        double dist = omr_register_plausible(&pl, xf, &sk, &sx, &sy);
                        if (dist < 0 || dist >= best_d)
                            continue;
                        best_d = dist;
                        memcpy(best_xf, xf, sizeof xf);
                        for (int m = 0; m < 4; m++)
                            best_pick[m] = -1;
                        for (int t = 0; t < 3; t++)
                            best_pick[idx[t]] = pk[t];
                    }
        }
        if (!isfinite(best_d)) {
            /* Two marks (the others cut off by a sheet shifted beyond the
             * scanned area, hidden or lost): a similarity fit -- rotation,
             * uniform scale, shift -- through each pair, the pair farthest
             * apart first (a diagonal pair holds the page best); the first
             * plausible one wins. A similarity has no shear and one scale:
             * a roller's feed stretch of 1 % moves the far corner of an A4
             * page by up to ~2 mm less than an affine fit would have fixed,
             * so the page's regions are sampled a little off; the state
             * thresholds leave a doubtful band for that. */
            int pairs[6][2], np = 0;
            for (int m0 = 0; m0 < 4; m0++)
                for (int m1 = m0 + 1; m1 < 4; m1++)
                    if (n_cand[m0] && n_cand[m1]) {
                        pairs[np][0] = m0;
                        pairs[np][1] = m1;
                        np++;
                    }
            /* Farthest apart first (insertion sort on template distance). */
            for (int i = 1; i < np; i++)
                for (int j = i; j > 0; j--) {
                    double dj = hypot(page->mark_x[pairs[j][0]] - page->mark_x[pairs[j][1]],
                                      page->mark_y[pairs[j][0]] - page->mark_y[pairs[j][1]]);
                    double dp = hypot(page->mark_x[pairs[j - 1][0]] - page->mark_x[pairs[j - 1][1]],
                                      page->mark_y[pairs[j - 1][0]] - page->mark_y[pairs[j - 1][1]]);
                    if (dj <= dp)
                        break;
                    int t0 = pairs[j][0], t1 = pairs[j][1];
                    pairs[j][0] = pairs[j - 1][0];
                    pairs[j][1] = pairs[j - 1][1];
                    pairs[j - 1][0] = t0;
                    pairs[j - 1][1] = t1;
                }
            for (int pi = 0; pi < np && !isfinite(best_d); pi++) {
                int m0 = pairs[pi][0], m1 = pairs[pi][1];
                double best_s = INFINITY;
                for (int i0 = 0; i0 < n_cand[m0]; i0++)
                    for (int i1 = 0; i1 < n_cand[m1]; i1++) {
                        X[0] = page->mark_x[m0];
                        Y[0] = page->mark_y[m0];
                        X[1] = page->mark_x[m1];
                        Y[1] = page->mark_y[m1];
                        x[0] = cand[m0][i0].x;
                        y[0] = cand[m0][i0].y;
                        x[1] = cand[m1][i1].x;
                        y[1] = cand[m1][i1].y;
                        double xf[6], sk, sx, sy;
                        if (fit_similarity(X, Y, x, y, 2, xf))
                            continue;
                        if (omr_register_plausible(&pl, xf, &sk, &sx, &sy) < 0)
                            continue;
                        /* Among plausible candidate pairs: the nearest to
                         * their expected places. */
                        double score = cand[m0][i0].dist + cand[m1][i1].dist;
                        if (score >= best_s)
                            continue;
                        best_s = score;
                        best_d = 0;
                        memcpy(best_xf, xf, sizeof xf);
                        for (int m = 0; m < 4; m++)
                            best_pick[m] = -1;
                        best_pick[m0] = i0;
                        best_pick[m1] = i1;
                    }
            }
        }
        best_rms = 0;
        int nf = 0;
        char missing[128] = "";
        for (int m = 0; m < 4; m++) {
            if (n_cand[m])
                nf++;
            else {
                strcat(missing, missing[0] ? ", " : "");
                strcat(missing, mark_names[m]);
            }
        }
        /* The barcode as the other landmark: only for a page with one or
         * two marks found that did not register (a sheet mostly off the
         * scanned area); three or four marks that do not fit are a page
         * to look at. */
        char why[200] = "";
        if (!isfinite(best_d) && bc && nf >= 1 && nf <= 2) {
            omr_register_bars_t bars;
            omr_error_t berr = {0};
            omr_status_t bst =
                omr_register_find_bars(pix, bc, orientation, k, opts->max_skew_deg, &bars, &berr);
            if (bst == OMR_ENOMEM)
                return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
            if (bst != OMR_OK)
                snprintf(why, sizeof why, "%.190s", berr.msg);
            else if (fit_barcode(&pl, page, cand, n_cand, bc, &bars, best_xf, best_pick, &best_rms,
                                 why, sizeof why)) {
                best_d = 0;
                out->barcode = 1;
            }
        }
        if (!isfinite(best_d)) {
            if (nf < 2)
                snprintf(out->reason, sizeof out->reason,
                         "corner marks: found %d of 4 (missing %s)", nf, missing);
            else if (isfinite(rms4))
                snprintf(out->reason, sizeof out->reason,
                         "corner marks do not fit the form: residual %.2f mm (limit %.2f mm)",
                         rms4, opts->max_residual_mm);
            else if (nf < 4)
                snprintf(out->reason, sizeof out->reason,
                         "corner marks: found %d of 4 (missing %s), and their layout is not a "
                         "plausible scan of this page (skew or scale beyond the limits)",
                         nf, missing);
            else
                snprintf(out->reason, sizeof out->reason,
                         "corner marks found but their layout is not a plausible scan of this "
                         "page (skew, scale or shear beyond the limits)");
            if (why[0]) {
                size_t len = strlen(out->reason);
                snprintf(out->reason + len, sizeof out->reason - len, "; %s", why);
            }
            out->n_marks = nf < 2 ? nf : 0;
            out->barcode = 0;
            return omr_error_set(err, OMR_ENOTFOUND, "register: %s", out->reason);
        }
    }

    memcpy(out->xform, best_xf, sizeof best_xf);
    out->residual_mm = best_rms;
    double grey_sum = 0;
    int grey_n = 0;
    for (int m = 0; m < 4; m++) {
        if (best_pick[m] < 0)
            continue;
        const cand_t *cd = &cand[m][best_pick[m]];
        out->found[m] = 1;
        out->n_marks++;
        out->mark_x[m] = cd->x;
        out->mark_y[m] = cd->y;
        if (im.depth == 8 && (corner || ring)) {
            grey_sum += cd->grey; /* the arms' middle lines (find_corners), the disc (find_rings) */
            grey_n++;
        } else if (im.depth == 8) {
            /* The scan's black: the middle of the mark. */
            int r = (int)(s_px / 4);
            for (int yy = (int)cd->y - r; yy <= (int)cd->y + r; yy++)
                for (int xx = (int)cd->x - r; xx <= (int)cd->x + r; xx++)
                    if (xx >= 0 && yy >= 0 && xx < im.w && yy < im.h) {
                        grey_sum += GET_DATA_BYTE(im.data + (size_t)yy * im.wpl, xx);
                        grey_n++;
                    }
        }
    }
    out->mark_grey = grey_n ? grey_sum / grey_n : 0;
    double sk, sx, sy;
    omr_register_plausible(&pl, out->xform, &sk, &sx, &sy);
    out->skew_deg = sk;
    out->scale_x = sx;
    out->scale_y = sy;
    out->dpi = 0.5 * (sx + sy) * k * OMR_MM_PER_INCH;
    return OMR_OK;
}

/* ------------------------------------------------------ print match */

/* The scan as print_match reads it. */
typedef struct {
    const l_uint32 *data;
    int wpl, w, h, depth;
} scan_view_t;

/* The scan's level around image point (x, y): the mean of its 3x3 pixels
 * (1 bpp: black 0, white 255), -1 off the image. A single pixel would miss
 * half the thin printed strokes; 3x3 spans them at any resolution used. */
static int level_around(const scan_view_t *v, int x, int y)
{
    if (x < 1 || y < 1 || x >= v->w - 1 || y >= v->h - 1)
        return -1;
    int sum = 0;
    for (int yy = y - 1; yy <= y + 1; yy++) {
        const l_uint32 *line = v->data + (size_t)yy * v->wpl;
        if (v->depth == 1)
            sum += 255 * (3 - (int)GET_DATA_BIT(line, x - 1) - (int)GET_DATA_BIT(line, x) -
                          (int)GET_DATA_BIT(line, x + 1));
        else
            sum += (int)GET_DATA_BYTE(line, x - 1) + (int)GET_DATA_BYTE(line, x) + (int)GET_DATA_BYTE(line, x + 1);
    }
    return sum / 9;
}

/* Is blank pixel (x, y) paper with paper all around it (8 neighbours)? */
static int paper_all_around(const l_uint32 *data, int wpl, int w, int h, int x, int y)
{
    if (x < 1 || y < 1 || x >= w - 1 || y >= h - 1)
        return 0;
    for (int yy = y - 1; yy <= y + 1; yy++) {
        const l_uint32 *line = data + (size_t)yy * wpl;
        if ((GET_DATA_BYTE(line, x - 1) & GET_DATA_BYTE(line, x) & GET_DATA_BYTE(line, x + 1)) != 255)
            return 0;
    }
    return 1;
}

double omr_register_print_match(PIX *pix, const double *xform, PIX *blank, double blank_dpi)
{
    const int depth = (int)pixGetDepth(pix);
    if (!blank || pixGetDepth(blank) != 8 || (depth != 1 && depth != 8) || blank_dpi <= 0)
        return -1;
    const scan_view_t scan = {pixGetData(pix), pixGetWpl(pix), (int)pixGetWidth(pix), (int)pixGetHeight(pix),
                              depth};
    const int bw = (int)pixGetWidth(blank), bh = (int)pixGetHeight(blank);
    const l_uint32 *bdata = pixGetData(blank);
    const int bwpl = pixGetWpl(blank);
    const double mm_per_px = OMR_MM_PER_INCH / blank_dpi;
    /* printed: rendered darker than this at the coarse resolution (a thin
     * line covering a good part of the coarse pixel, text, marks) */
    const int printed_below = 160;
    double sum_print = 0, sum_paper = 0;
    long n_print = 0, n_paper = 0;
    for (int y = 0; y < bh; y++) {
        const l_uint32 *line = bdata + (size_t)y * bwpl;
        for (int x = 0; x < bw; x++) {
            int v = (int)GET_DATA_BYTE(line, x);
            int printed = v < printed_below;
            /* paper: every other pixel each way is plenty (paper is most
             * of a page), and only where nothing is printed nearby */
            if (!printed && (v != 255 || ((x | y) & 1) || !paper_all_around(bdata, bwpl, bw, bh, x, y)))
                continue;
            double px, py;
            omr_register_map(xform, (x + 0.5) * mm_per_px, (y + 0.5) * mm_per_px, &px, &py);
            int level = level_around(&scan, (int)px, (int)py);
            if (level < 0)
                continue;
            if (printed) {
                sum_print += level;
                n_print++;
            } else {
                sum_paper += level;
                n_paper++;
            }
        }
    }
    if (n_print < 50 || n_paper < 50)
        return -1;
    double paper = sum_paper / n_paper, print = sum_print / n_print;
    return paper > 0 ? (paper - print) / paper : -1;
}
