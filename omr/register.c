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
 * Then every combination of candidates (at most 3 per corner) is fitted, 4
 * marks first, then 3, then 2, and the best plausible fit wins (register.h).
 * Last, for a page with one or two marks found and no fit, and only when the
 * caller gave the barcode: one mark with the barcode's two ends
 * (register_barcode.c finds them; fit_barcode below).
 */
#include "register.h"

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

/* 8 bpp: threshold halfway between the window's paper (90th percentile) and
 * its darkest pixels (0.3rd percentile: inside the mark, which covers about
 * 0.6 % of the window). */
static int window_threshold(const img_t *im, int x0, int y0, int x1, int y1)
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
    if (n == 0)
        return 128;
    int dark = 0, paper = 255, acc = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (acc * 1000 < n * 3)
            dark = v + 1;
        if (acc * 10 < n * 9)
            paper = v + 1;
    }
    if (paper - dark < 24) /* no contrast: nothing can pass as a mark */
        return dark;
    return (paper + dark) / 2;
}

/* ---------------------------------------------------------- candidates */

typedef struct {
    double x, y;    /* centre, px */
    double side;    /* sqrt of the ink area, px */
    double dist;    /* from the expected place, px */
} cand_t;

/* Centroid of the black pixels in the square of half-side r around (*px, *py);
 * updates the point; returns the pixel count. */
static long centroid(const img_t *im, double *px, double *py, double r)
{
    int x0 = (int)floor(*px - r), x1 = (int)ceil(*px + r);
    int y0 = (int)floor(*py - r), y1 = (int)ceil(*py + r);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->w) x1 = im->w;
    if (y1 > im->h) y1 = im->h;
    long n = 0;
    double sx = 0, sy = 0;
    for (int y = y0; y < y1; y++) {
        const l_uint32 *line = im->data + (size_t)y * im->wpl;
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
            centroid(im, &cd.x, &cd.y, 0.75 * s_px);
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
        /* Keep the MAX_CAND nearest. */
        int pos = n_out;
        while (pos > 0 && out[pos - 1].dist > cd.dist)
            pos--;
        if (pos < MAX_CAND) {
            int last = n_out < MAX_CAND ? n_out : MAX_CAND - 1;
            for (int k = last; k > pos; k--)
                out[k] = out[k - 1];
            out[pos] = cd;
            if (n_out < MAX_CAND)
                n_out++;
        }
    }
    free(cnt);
    free(lab);
    free(stack);
    return n_out;
}

/* ---------------------------------------------------- nominal and checks */

/* The nominal transform for an orientation: template mm -> image px. */
static void nominal_xform(int orientation, double W, double H, double k, double *xf)
{
    double t[4][6] = {
        {k, 0, 0, 0, k, 0},          /* 0 */
        {0, -k, k * H, k, 0, 0},     /* 90: sheet turned clockwise */
        {-k, 0, k * W, 0, -k, k * H},/* 180 */
        {0, k, 0, -k, 0, k * W},     /* 270 */
    };
    memcpy(xf, t[(orientation / 90) & 3], sizeof t[0]);
}

typedef struct {
    double k;            /* nominal px per mm */
    double orient_rad;   /* angle of the template x axis in the image */
    const omr_register_opts_t *o;
} plaus_t;

/* Is a fitted transform a plausible scan of the page? Fills skew, scales.
 * Returns a distortion score (>= 0, smaller is better) or -1 when not. */
static double plausible(const plaus_t *p, const double *xf, double *pskew, double *psx, double *psy)
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
     * the image size), hence the 5 % on top of the scale tolerance. */
    double tol = p->o->max_scale + 0.05;
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
static int fit_barcode(const plaus_t *pl, const omr_page_t *page, cand_t cand[4][MAX_CAND],
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
            if (fit_similarity(X, Y, x, y, 3, f) || plausible(pl, f, &sk, &sx, &sy) < 0)
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
    if (!out)
        return omr_error_set(err, OMR_EINPUT, "register: no output");
    memset(out, 0, sizeof *out);
    omr_register_opts_t defaults;
    if (!opts) {
        omr_register_opts_default(&defaults);
        opts = &defaults;
    }
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
    int sideways = orientation == 90 || orientation == 270;
    double k_img = 0.5 * (im.w / (sideways ? page->height : page->width) +
                          im.h / (sideways ? page->width : page->height));
    double k = dpi > 0 ? dpi / OMR_MM_PER_INCH : k_img;
    if (fabs(k / k_img - 1) > 0.15)
        k = k_img;
    double nom[6];
    nominal_xform(orientation, page->width, page->height, k, nom);

    const double skew_r = opts->max_skew_deg * M_PI / 180;
    const double s_px = page->mark_size * k;
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
        n_cand[m] = x1 > x0 && y1 > y0
                        ? find_candidates(&im, x0, y0, x1, y1, s_px, ex, ey, cand[m])
                        : 0;
        if (n_cand[m] < 0)
            return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
    }

    plaus_t pl = {.k = k, .orient_rad = orientation * M_PI / 180, .o = opts};
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
                        if (plausible(&pl, xf, &sk, &sx, &sy) < 0)
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
                        double dist = plausible(&pl, xf, &sk, &sx, &sy);
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
                        if (plausible(&pl, xf, &sk, &sx, &sy) < 0)
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
        if (im.depth == 8) {
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
    plausible(&pl, out->xform, &sk, &sx, &sy);
    out->skew_deg = sk;
    out->scale_x = sx;
    out->scale_y = sy;
    out->dpi = 0.5 * (sx + sy) * k * OMR_MM_PER_INCH;
    return OMR_OK;
}
