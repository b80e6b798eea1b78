/* icr_boxes.c -- read the handwritten boxes of a registered page (see
 * icr_boxes.h): crop each DIGIT box, clean the crop, decide empty vs
 * written, classify, and decide the boxes of a question together; read a
 * number's boxes again as one row of digits; check TEXT fields for ink. */
#include "icr_boxes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sample.h"

/* ---- scratch ------------------------------------------------------------- */

/* Scratch memory of one page's reading, grown on demand and reused by every
 * box and field of the page (a box costs no allocation). */
typedef struct {
    omr_icr_scratch_t norm; /* omr_icr_normalise_ws */
    uint8_t *crop, *buf, *sm, *mask;
    size_t crop_cap, buf_cap, sm_cap, mask_cap;
    int *stack;
    size_t stack_cap;
    unsigned *ii;
    size_t ii_cap;
} ws_t;

static void ws_free(ws_t *ws)
{
    omr_icr_scratch_free(&ws->norm);
    free(ws->crop), free(ws->buf), free(ws->sm), free(ws->mask), free(ws->stack), free(ws->ii);
    memset(ws, 0, sizeof *ws);
}

/* *p grown to hold at least `bytes` (contents not kept); NULL when out of
 * memory (the old block is kept and freed by ws_free). */
static void *grow(void *pp, size_t *cap, size_t bytes)
{
    void **p = pp;
    if (*cap < bytes || !*p) {
        size_t ncap = bytes + bytes / 4 + 256;
        void *m = malloc(ncap);
        if (!m)
            return NULL;
        free(*p);
        *p = m;
        *cap = ncap;
    }
    return *p;
}

/* ---- digit boxes ---------------------------------------------------------- */

/* The pre-processing in front of omr_icr_normalise. The normaliser measures
 * paper and ink in the crop and needs ink 40 grey levels below paper; a faint
 * pencil digit on a dim grey scan can be less. So the crop is stretched here
 * first: paper (median) -> 255, and the ink contrast scaled up when the box's
 * darkest pixels are well beyond the paper noise but short of 40 levels.
 * The noise is measured on the paper side of the histogram (above the
 * median: ink never lies there), so an empty box with sensor noise is not
 * stretched into "ink". Bitonal crops (0/255) pass unchanged.
 * stretch_lut: the table, from the histogram of the n pixels measured;
 * returns the darkest value it gives them. */
static int stretch_lut(const unsigned hist[256], size_t n, uint8_t lut[256])
{
    int paper = omr_icr_hist_quantile(hist, n, 0.5);
    int hi = omr_icr_hist_quantile(hist, n, 0.84);
    int dark = omr_icr_hist_quantile(hist, n, 0.003);
    /* Noise sd from the paper side; at least 2 levels (quantisation, JPEG),
     * and when the scanner clipped white (paper == 255) the lower side of
     * paper is all we have: assume the profile's worst, 4 levels. */
    double sd = hi - paper;
    if (paper >= 254)
        sd = sd < 4 ? 4 : sd;
    if (sd < 2)
        sd = 2;
    double contrast = paper - dark;
    double gain = 1.0;
    /* Contrast beyond 8 noise sd but under 48 levels: lift it to 48. */
    if (contrast >= 8 * sd && contrast < 48)
        gain = 48.0 / contrast;
    /* the output is a function of the grey level: one table */
    int darkest = 255;
    for (int g = 0; g < 256; g++) {
        double d = (double)(paper - g) * gain;
        double v = 255 - (d < 0 ? 0 : d);
        lut[g] = (uint8_t)(v < 0 ? 0 : v);
        if (hist[g] && lut[g] < darkest)
            darkest = lut[g];
    }
    return darkest;
}

/* The crop stretched (stretch_lut on its own histogram) into out; returns
 * the darkest value written. */
static int stretch_crop(const uint8_t *grey, int w, int h, int stride, uint8_t *out)
{
    unsigned hist[256];
    uint8_t lut[256];
    omr_icr_histogram(grey, w, h, stride, hist);
    int darkest = stretch_lut(hist, (size_t)w * h, lut);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = grey + (size_t)y * stride;
        uint8_t *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = lut[row[x]];
    }
    return darkest;
}

/* Radius of the speckle smoothing, px at OMR_ICR_BOXES_PX_PER_MM: 0.2 mm
 * (a 5x5 box of 0.5 mm). */
#define SPECKLE_RADIUS 2

/* Mean over a (2r+1)^2 box (clipped at the borders), via an integral image
 * (ws->ii). Returns 0, or -1 when out of memory. */
static int box_blur(const uint8_t *src, int w, int h, int r, uint8_t *dst, ws_t *ws)
{
    size_t iw = (size_t)w + 1;
    unsigned *ii = grow(&ws->ii, &ws->ii_cap, iw * (size_t)(h + 1) * sizeof *ii);
    if (!ii)
        return -1;
    memset(ii, 0, iw * sizeof *ii);
    for (int y = 0; y < h; y++) {
        unsigned row = 0;
        ii[(size_t)(y + 1) * iw] = 0;
        for (int x = 0; x < w; x++) {
            row += src[(size_t)y * w + x];
            ii[(size_t)(y + 1) * iw + x + 1] = ii[(size_t)y * iw + x + 1] + row;
        }
    }
    for (int y = 0; y < h; y++) {
        int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
        for (int x = 0; x < w; x++) {
            int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
            unsigned s = ii[(size_t)y1 * iw + x1] - ii[(size_t)y0 * iw + x1] -
                         ii[(size_t)y1 * iw + x0] + ii[(size_t)y0 * iw + x0];
            dst[(size_t)y * w + x] = (uint8_t)(s / (unsigned)((x1 - x0) * (y1 - y0)));
        }
    }
    return 0;
}

/* Extent (longest bounding-box side, px) of the largest 4-connected piece of
 * ink in a stretched crop (paper 255), ink as omr_icr_normalise sees it:
 * darker than the paper (median) by 35 % of the contrast, at least 40
 * levels. Pieces wholly in the outer tenth (frame remnants) are skipped. */
/* One connected piece of a w x h mask: the pixels equal to `from` reachable
 * from `start` (8-connected, or 4-connected when !eight) are set to `to`;
 * returns their count and bounding box (x1, y1 exclusive). stack: scratch of
 * w * h ints, the caller's. */
typedef struct {
    size_t area;
    int x0, y0, x1, y1;
} piece_t;

static piece_t fill_piece(uint8_t *m, int w, int h, size_t start, uint8_t from, uint8_t to, int eight,
                          int *stack)
{
    piece_t pc = {0, w, h, 0, 0};
    int sp = 0;
    stack[sp++] = (int)start;
    m[start] = to;
    while (sp) {
        int p = stack[--sp], px = p % w, py = p / w;
        pc.area++;
        if (px < pc.x0) pc.x0 = px;
        if (py < pc.y0) pc.y0 = py;
        if (px + 1 > pc.x1) pc.x1 = px + 1;
        if (py + 1 > pc.y1) pc.y1 = py + 1;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if ((!dx && !dy) || (!eight && dx && dy))
                    continue;
                int qx = px + dx, qy = py + dy;
                if (qx < 0 || qy < 0 || qx >= w || qy >= h)
                    continue;
                size_t q = (size_t)qy * w + qx;
                if (m[q] == from) {
                    m[q] = to;
                    stack[sp++] = (int)q;
                }
            }
    }
    return pc;
}

static int largest_piece(const uint8_t *g, int w, int h, ws_t *ws)
{
    size_t n = (size_t)w * h;
    unsigned hist[256];
    omr_icr_histogram(g, w, h, w, hist);
    int paper = omr_icr_hist_quantile(hist, n, 0.5), dark = omr_icr_hist_quantile(hist, n, 0.003);
    double thr = 0.35 * (paper - dark);
    if (thr < 40)
        thr = 40;
    uint8_t *m = grow(&ws->mask, &ws->mask_cap, n);
    int *stack = grow(&ws->stack, &ws->stack_cap, n * sizeof *stack);
    if (!m || !stack)
        return 0;
    omr_icr_mask_at_or_below(g, w, h, w, omr_icr_ink_limit(paper, thr), m);
    int side = w < h ? w : h, band = side / 10 > 4 ? side / 10 : 4, best = 0;
    for (size_t s = 0; s < n; s++) {
        const uint8_t *nx = memchr(m + s, 1, n - s); /* the next unvisited ink */
        if (!nx)
            break;
        s = (size_t)(nx - m);
        piece_t pc = fill_piece(m, w, h, s, 1, 2, 0, stack);
        int x0 = pc.x0, y0 = pc.y0, x1 = pc.x1, y1 = pc.y1;
        if (y1 <= band || y0 >= h - band || x1 <= band || x0 >= w - band)
            continue;
        int ext = x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0;
        if (ext > best)
            best = ext;
    }
    return best;
}

/* omr_icr_read_crop on the page's scratch. */
static omr_status_t read_crop_ws(const uint8_t *grey, int w, int h, int stride, ws_t *ws,
                                 omr_icr_input_t *in, float prob[10], omr_error_t *err)
{
    for (int d = 0; d < 10; d++)
        prob[d] = 0;
    if (!grey || w < 8 || h < 8 || w > 4096 || h > 4096 || stride < w)
        return omr_icr_normalise(grey, w, h, stride, in, err); /* its message */
    size_t n = (size_t)w * h;
    uint8_t *buf = grow(&ws->buf, &ws->buf_cap, n), *sm = grow(&ws->sm, &ws->sm_cap, n);
    if (!buf || !sm)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for a %dx%d box", w, h);
    int darkest = stretch_crop(grey, w, h, stride, buf);
    if (darkest >= 216) {
        /* Nothing 40 levels under white, so nothing 40 levels under any
         * paper level: every ink threshold below is at least 40 levels, and
         * a blur keeps values within the crop's range. Exactly what the
         * normaliser and the speckle retries would conclude: empty. */
        memset(in, 0, sizeof *in);
        in->empty = 1;
        return OMR_OK;
    }
    omr_status_t st = omr_icr_normalise_ws(buf, w, h, w, &ws->norm, in, err);
    /* Nothing found: maybe a pencil digit that a bitonal scan broke into
     * specks, each too small to count. Smoothed over 0.5 mm, then 0.9 mm, the
     * specks of a stroke merge again; the box counts as written only when the
     * merged ink spans a third of the box and one merged piece a sixth
     * (1.3 mm): scattered dust specks stay apart. */
    static const int radii[2] = {SPECKLE_RADIUS, 2 * SPECKLE_RADIUS};
    for (int k = 0; k < 2 && st == OMR_OK && in->empty; k++) {
        if (box_blur(buf, w, h, radii[k], sm, ws) < 0)
            return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for a %dx%d box", w, h);
        int side = w < h ? w : h;
        omr_icr_input_t in2;
        st = omr_icr_normalise_ws(sm, w, h, w, &ws->norm, &in2, err);
        int ext = in2.x1 - in2.x0 > in2.y1 - in2.y0 ? in2.x1 - in2.x0 : in2.y1 - in2.y0;
        if (st == OMR_OK && !in2.empty && ext * 3 >= side &&
            largest_piece(sm, w, h, ws) * 6 >= side)
            *in = in2;
    }
    if (st != OMR_OK)
        return st;
    if (!in->empty)
        omr_icr_classify(in->px, prob);
    return OMR_OK;
}

omr_status_t omr_icr_read_crop(const uint8_t *grey, int w, int h, int stride,
                               omr_icr_input_t *in, float prob[10], omr_error_t *err)
{
    ws_t ws = {0};
    omr_status_t st = read_crop_ws(grey, w, h, stride, &ws, in, prob, err);
    ws_free(&ws);
    return st;
}

/* ---- light ink in an "empty" digit box ----------------------------------- */

/* Faint pencil on a grey scan that the stretch of omr_icr_read_crop does not
 * reach: the simulator's faint digits lie 15-25 levels under the paper, the
 * reader needs more. Thresholds measured on the standard corpus (8-bit pages,
 * build/corpus, boxes read empty by the rule above):
 *   truly empty boxes (1542, clean/grey/faded, PNG/LZW/JPEG, 200/300 dpi):
 *     darkest 1 % of cells at most 11 levels under paper (faded JPEG; 4 on
 *     grey), box noise sd 1-4.5; kept share max 0.012, largest piece
 *     max 0.8 mm (faded JPEG blocks);
 *   faint digits read empty (157): share median 0.04 (grey PNG 300) to 0.11
 *     (grey JPEG 300), piece up to 6-7 mm; but faded JPEG 300 (84 boxes)
 *     shows nothing at all (darkest 1 % within 4 levels of paper).
 * A fixed 6-level margin (sample.c's 6 % of paper-to-black, ~14 levels, is
 * above most of these digits) with 3 noise sd; share >= 0.015 and a piece
 * >= 1.2 mm (1.5 x the empties' worst): 0 empty boxes flagged, 40 of the
 * 157 faint ones caught (share 0.01/1.0 mm: 45, still 0 empty; kept a
 * margin for other scanners). */

static omr_status_t light_ink_ws(const uint8_t *grey, int w, int h, int stride, ws_t *ws,
                                 omr_icr_light_t *out, omr_error_t *err)
{
    if (!out)
        return omr_error_set(err, OMR_EINPUT, "icr: no output for the light-ink measure");
    memset(out, 0, sizeof *out);
    if (!grey || w < 8 || h < 8 || w > 4096 || h > 4096 || stride < w)
        return omr_error_set(err, OMR_EINPUT, "icr: box crop of %dx%d px is not usable", w, h);
    /* Inner area: frame remnants (registration slop) live in the outer
     * tenth of the crop, at least 4 px (0.4 mm); they are not writing. */
    int side = w < h ? w : h, band = side / 10 > 4 ? side / 10 : 4;
    int x0 = band, y0 = band, cw = (w - 2 * band) / 2, ch = (h - 2 * band) / 2;
    if (cw < 3 || ch < 3)
        return OMR_OK;
    size_t nc = (size_t)cw * ch;
    uint8_t *cell = grow(&ws->sm, &ws->sm_cap, nc), *mark = grow(&ws->mask, &ws->mask_cap, nc);
    int *stack = grow(&ws->stack, &ws->stack_cap, nc * sizeof *stack);
    if (!cell || !mark || !stack)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for a %dx%d box", w, h);
    /* 2x2 means (0.2 mm cells): a pencil stroke of 0.3 mm and more keeps
     * its level, single-pixel JPEG and sensor noise is halved. */
    unsigned hist[256] = {0};
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) {
            const uint8_t *p = grey + (size_t)(y0 + 2 * j) * stride + x0 + 2 * i;
            int v = (p[0] + p[1] + p[stride] + p[stride + 1] + 2) / 4;
            cell[(size_t)j * cw + i] = (uint8_t)v;
            hist[v]++;
        }
    /* The box's own paper level: the median (a faint digit covers far
     * less than half the box). Noise: the median absolute deviation from
     * it, as a standard deviation (/0.674); robust to the digit too. */
    int paper = omr_icr_hist_quantile(hist, nc, 0.5);
    unsigned dev[256] = {0};
    for (int v = 0; v < 256; v++)
        dev[v > paper ? v - paper : paper - v] += hist[v];
    double sd = omr_icr_hist_quantile(dev, nc, 0.5) / 0.674;
    if (sd < 1)
        sd = 1; /* quantisation */
    double margin = OMR_ICR_LIGHT_MIN_LEVELS;
    if (margin < OMR_ICR_LIGHT_NOISE_K * sd)
        margin = OMR_ICR_LIGHT_NOISE_K * sd;
    int lim = (int)floor(paper - margin);
    out->paper = paper;
    out->noise_sd = (float)sd;
    out->contrast = (float)(paper - omr_icr_hist_quantile(hist, nc, 0.01));
    size_t kept = 0;
    for (size_t c = 0; c < nc; c++)
        mark[c] = cell[c] <= lim;
    /* A point counts when a 4-neighbour is light too: a stroke, not a
     * lone noise point. */
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) {
            size_t c = (size_t)j * cw + i;
            if (!(mark[c] & 1))
                continue;
            int nb = (i > 0 && (mark[c - 1] & 1)) || (i + 1 < cw && (mark[c + 1] & 1)) ||
                     (j > 0 && (mark[c - cw] & 1)) || (j + 1 < ch && (mark[c + cw] & 1));
            if (nb) {
                mark[c] |= 2;
                kept++;
            }
        }
    out->share = (float)kept / (float)nc;
    /* The stroke test: the longest side of the largest 8-connected piece of
     * kept points, mm (a digit's stroke runs millimetres; dust and JPEG
     * blocks stay under one). */
    int best = 0;
    for (size_t s = 0; s < nc; s++) {
        if (mark[s] != 3)
            continue;
        piece_t pc = fill_piece(mark, cw, ch, s, 3, 4, 1, stack);
        int bx0 = pc.x0, by0 = pc.y0, bx1 = pc.x1, by1 = pc.y1;
        int ext = bx1 - bx0 > by1 - by0 ? bx1 - bx0 : by1 - by0;
        if (ext > best)
            best = ext;
    }
    out->extent_mm = (float)(best * 2 / OMR_ICR_BOXES_PX_PER_MM);
    out->faint = out->share >= OMR_ICR_LIGHT_SHARE && out->extent_mm >= OMR_ICR_LIGHT_EXTENT_MM;
    return OMR_OK;
}

omr_status_t omr_icr_light_ink(const uint8_t *grey, int w, int h, int stride,
                               omr_icr_light_t *out, omr_error_t *err)
{
    ws_t ws = {0};
    omr_status_t st = light_ink_ws(grey, w, h, stride, &ws, out, err);
    ws_free(&ws);
    return st;
}

/* ---- text fields ---------------------------------------------------------- */

static omr_status_t text_has_ink_ws(const uint8_t *grey, int w, int h, int stride, ws_t *ws,
                                    int *pwritten, omr_error_t *err)
{
    if (!pwritten)
        return omr_error_set(err, OMR_EINPUT, "icr: no output for the text field");
    *pwritten = 0;
    if (!grey || w < 4 || h < 4 || w > 8192 || h > 8192 || stride < w)
        return omr_error_set(err, OMR_EINPUT, "icr: text field crop of %dx%d px is not usable", w,
                             h);
    size_t n = (size_t)w * h;
    uint8_t *mask = grow(&ws->mask, &ws->mask_cap, n);
    int *stack = grow(&ws->stack, &ws->stack_cap, n * sizeof *stack);
    if (!mask || !stack)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for a %dx%d text field", w, h);
    unsigned hist[256];
    omr_icr_histogram(grey, w, h, stride, hist);
    int paper = omr_icr_hist_quantile(hist, n, 0.5), hi = omr_icr_hist_quantile(hist, n, 0.84);
    int dark = omr_icr_hist_quantile(hist, n, 0.002);
    double sd = hi - paper < 2 ? 2 : hi - paper;
    /* Ink: 30 % of the contrast (digit boxes: 35 %; the text crop averages
     * each 0.25 mm cell, which greys the specks of a faint pencil line on a
     * bitonal scan) and never less than 6 noise sd nor 30 levels. */
    double thr = 0.30 * (paper - dark);
    if (thr < 6 * sd)
        thr = 6 * sd;
    if (thr < 30)
        thr = 30;
    omr_icr_mask_at_or_below(grey, w, h, stride, omr_icr_ink_limit(paper, thr), mask);
    /* Frame remnants: rows/columns in the outer band mostly inked. */
    const double k = OMR_ICR_BOXES_TEXT_PX_PER_MM;
    int band = (int)ceil(0.5 * k);
    for (int y = 0; y < h; y++) {
        if (y >= band && y < h - band)
            continue;
        int c = 0;
        for (int x = 0; x < w; x++)
            c += mask[(size_t)y * w + x] != 0;
        if (c * 2 >= w)
            memset(mask + (size_t)y * w, 0, (size_t)w);
    }
    for (int x = 0; x < w; x++) {
        if (x >= band && x < w - band)
            continue;
        int c = 0;
        for (int y = 0; y < h; y++)
            c += mask[(size_t)y * w + x] != 0;
        if (c * 2 >= h)
            for (int y = 0; y < h; y++)
                mask[(size_t)y * w + x] = 0;
    }
    /* Components: a handwritten stroke spans at least 1 mm and covers
     * 0.25 mm^2; dust and specks less. Pieces wholly in the outer band are
     * frame (registration slop), not writing. */
    int min_extent = (int)lround(1.0 * k);
    size_t min_area = (size_t)lround(0.25 * k * k);
    double kept = 0;
    for (size_t s = 0; s < n && !*pwritten; s++) {
        const uint8_t *nx = memchr(mask + s, 1, n - s); /* the next unvisited ink */
        if (!nx)
            break;
        s = (size_t)(nx - mask);
        piece_t pc = fill_piece(mask, w, h, s, 1, 3, 1, stack);
        size_t area = pc.area;
        int x0 = pc.x0, y0 = pc.y0, x1 = pc.x1, y1 = pc.y1;
        int ext = x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0;
        int in_band = y1 <= band || y0 >= h - band || x1 <= band || x0 >= w - band;
        if (in_band || ext < min_extent || area < min_area)
            continue;
        kept += (double)area;
        /* one clear stroke, or several smaller pieces adding up */
        if (kept >= 3.0 * min_area)
            *pwritten = 1;
    }
    return OMR_OK;
}

omr_status_t omr_icr_text_has_ink(const uint8_t *grey, int w, int h, int stride, int *pwritten,
                                  omr_error_t *err)
{
    ws_t ws = {0};
    omr_status_t st = text_has_ink_ws(grey, w, h, stride, &ws, pwritten, err);
    ws_free(&ws);
    return st;
}

/* ---- the page ------------------------------------------------------------- */

/* The question's allowed values: its option codes 0..9 (top-3 option numbers,
 * code-grid legend codes); any digit when it lists none, and always in the
 * boxes of a number (every digit may be written there). */
static uint16_t allowed_values(const omr_question_t *q)
{
    if (q && q->kind == OMR_KIND_NUMBER)
        return 0x3FF;
    uint16_t a = 0;
    for (int i = 0; q && i < q->n_options; i++)
        if (q->options[i].code >= 0 && q->options[i].code <= 9)
            a |= (uint16_t)(1u << q->options[i].code);
    return a ? a : 0x3FF;
}

/* floor(v) as an int, for the coordinates of a page (far inside int range;
 * beyond it, libm's floor as before). Inside the image (v >= 0, nearly
 * every call) truncation is the floor: one conversion, not the round trip
 * through int and back that a negative v needs. */
static inline int ifloor(double v)
{
    if (v >= 0 && v < 1e9)
        return (int)v;
    if (!(v > -1e9 && v < 1e9))
        return (int)floor(v);
    int t = (int)v;
    return t - (v < t);
}

/* Crop pixels computed together for the white-run test. */
#define RUN 16

/* Sum of the n x n grey pixels from (x0, y0), all inside the image: with n
 * a constant the loops unroll (200, 300, 400 dpi give n = 2, 3, 4); the
 * same integer sum in any order. */
static inline __attribute__((always_inline)) int grey_sum_n(const l_uint32 *data, int wpl, int x0,
                                                           int y0, int n)
{
    int sum = 0;
    const l_uint32 *line = data + (size_t)y0 * wpl;
#pragma GCC unroll 4
    for (int yy = 0; yy < n; yy++, line += wpl)
#pragma GCC unroll 4
        for (int xx = 0; xx < n; xx++)
            sum += (int)GET_DATA_BYTE(line, x0 + xx);
    return sum;
}

static inline int grey_sum(const l_uint32 *data, int wpl, int x0, int y0, int n)
{
    switch (n) {
    case 2: return grey_sum_n(data, wpl, x0, y0, 2);
    case 3: return grey_sum_n(data, wpl, x0, y0, 3);
    case 4: return grey_sum_n(data, wpl, x0, y0, 4);
    default: return grey_sum_n(data, wpl, x0, y0, n);
    }
}

/* The crop of a text field for omr_icr_text_has_ink: the region's box inset
 * by OMR_ICR_BOXES_INSET_MM, at OMR_ICR_BOXES_TEXT_PX_PER_MM, upright, 8-bit
 * grey (255 paper). Each cell is the MEAN of the n x n image pixels around
 * its centre mapped through xform (n = image px per cell, rounded), not a
 * point sample: at 4 px/mm a point sample falls between the pixels of a thin
 * pen stroke on a 200-dpi bitonal scan and loses it, while the mean keeps
 * the stroke at half its contrast or more. Dust specks are averaged down.
 * Pixels outside the image count as paper. *pout gets a *pw x *ph buffer in
 * ws->crop, or NULL when the box is degenerate or absurd (reads as empty).
 * On a 1 bpp page a run of RUN cells whose pixels are all white is 255
 * without counting (what the count would give). Returns OMR_OK or
 * OMR_ENOMEM. */
static omr_status_t text_crop(PIX *pix, const double *xf, const omr_region_t *rg, ws_t *ws,
                              uint8_t **pout, int *pw, int *ph, omr_error_t *err)
{
    *pout = NULL;
    const double k = OMR_ICR_BOXES_TEXT_PX_PER_MM, in = OMR_ICR_BOXES_INSET_MM;
    double X0 = rg->box.x + in, Y0 = rg->box.y + in;
    double W = rg->box.w - 2 * in, H = rg->box.h - 2 * in;
    double img_px_per_mm = sqrt(fabs(xf[0] * xf[4] - xf[1] * xf[3]));
    int w = (int)lround(W * k), h = (int)lround(H * k);
    *pw = *ph = 0;
    if (w < 1 || h < 1 || w > 4096 || h > 4096 || !(img_px_per_mm < 1000))
        return OMR_OK;
    int n = (int)lround(img_px_per_mm / k);
    if (n < 1)
        n = 1;
    uint8_t *out = grow(&ws->crop, &ws->crop_cap, (size_t)w * h);
    if (!out)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for text field %s", rg->var);
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix), iw = (int)pixGetWidth(pix), ih = (int)pixGetHeight(pix);
    int depth = (int)pixGetDepth(pix), nn = n * n;
    double half = n / 2.0 - 0.5;
    /* the rounded mean (sum + nn / 2) / nn by table up to 600 dpi (n <= 8,
     * nn <= 64): an integer division per cell costs as much as its sum */
    uint8_t mean_of[255 * 64 + 1];
    int use_table = nn <= 64;
    if (use_table) {
        /* (s + nn / 2) / nn counted up, not divided: 2,000 divisions were
         * a tenth of a field's crop */
        int q = 0, r = nn / 2; /* r = s + nn / 2 - q * nn */
        for (int s = 0; s <= 255 * nn; s++) {
            mean_of[s] = (uint8_t)q;
            if (++r == nn) {
                r = 0;
                q++;
            }
        }
    }
    /* per column: xf[0] * X and xf[3] * X (the products of the cell
     * centre's formula, computed once; the sums keep their order) */
    double *colx = grow(&ws->ii, &ws->ii_cap, 2 * (size_t)w * sizeof(double));
    if (!colx)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for text field %s", rg->var);
    for (int i = 0; i < w; i++) {
        double X = X0 + (i + 0.5) / k;
        colx[2 * i] = xf[0] * X;
        colx[2 * i + 1] = xf[3] * X;
    }
    for (int j = 0; j < h; j++) {
        double Y = Y0 + (j + 0.5) / k;
        const double by = xf[1] * Y, dy = xf[4] * Y;
        for (int i0 = 0; i0 < w; i0 += RUN) {
            int i1 = i0 + RUN < w ? i0 + RUN : w;
            if (depth == 1) {
                /* the run's cells lie between those of its end cells (an
                 * affine map), one pixel of margin for rounding */
                double Xa = X0 + (i0 + 0.5) / k, Xb = X0 + (i1 - 1 + 0.5) / k;
                int xa = ifloor(xf[0] * Xa + xf[1] * Y + xf[2] - half);
                int xb = ifloor(xf[0] * Xb + xf[1] * Y + xf[2] - half);
                int ya = ifloor(xf[3] * Xa + xf[4] * Y + xf[5] - half);
                int yb = ifloor(xf[3] * Xb + xf[4] * Y + xf[5] - half);
                int lx = xa < xb ? xa : xb, hx = xa < xb ? xb : xa;
                int ly = ya < yb ? ya : yb, hy = ya < yb ? yb : ya;
                if (omr_sample_rect_white(data, wpl, iw, ih, lx - 1, hx + n, ly - 1, hy + n)) {
                    memset(out + (size_t)j * w + i0, 255, (size_t)(i1 - i0));
                    continue;
                }
            }
            for (int i = i0; i < i1; i++) {
                double cx = colx[2 * i] + by + xf[2], cy = colx[2 * i + 1] + dy + xf[5];
                int x0 = ifloor(cx - half), y0 = ifloor(cy - half);
                int sum = 0;
                if (depth == 8 && x0 >= 0 && y0 >= 0 && x0 + n <= iw && y0 + n <= ih) {
                    sum = grey_sum(data, wpl, x0, y0, n);
                } else if (x0 >= 0 && y0 >= 0 && x0 + n <= iw && y0 + n <= ih) {
                    for (int yy = y0; yy < y0 + n; yy++) {
                        const l_uint32 *line = data + (size_t)yy * wpl;
                        if (depth == 1) {
                            int ink = 0;
                            for (int xx = x0; xx < x0 + n; xx++)
                                ink += (int)GET_DATA_BIT(line, xx);
                            sum += 255 * (n - ink);
                        } else {
                            for (int xx = x0; xx < x0 + n; xx++)
                                sum += (int)GET_DATA_BYTE(line, xx);
                        }
                    }
                } else {
                    for (int yy = y0; yy < y0 + n; yy++)
                        for (int xx = x0; xx < x0 + n; xx++) {
                            int g = 255;
                            if (xx >= 0 && yy >= 0 && xx < iw && yy < ih) {
                                const l_uint32 *line = data + (size_t)yy * wpl;
                                g = depth == 1 ? (GET_DATA_BIT(line, xx) ? 0 : 255)
                                               : (int)GET_DATA_BYTE(line, xx);
                            }
                            sum += g;
                        }
                }
                out[(size_t)j * w + i] =
                    use_table ? mean_of[sum] : (uint8_t)((sum + nn / 2) / nn);
            }
        }
    }
    *pw = w;
    *ph = h;
    *pout = out;
    return OMR_OK;
}

/* Read text field rg: ink or not (rd->empty). */
static omr_status_t read_text(PIX *pix, const double *xform, const omr_region_t *rg, ws_t *ws,
                              omr_icr_box_reading_t *rd, omr_error_t *err)
{
    memset(rd, 0, sizeof *rd);
    rd->empty = 1;
    int w = 0, h = 0;
    uint8_t *g;
    omr_status_t st = text_crop(pix, xform, rg, ws, &g, &w, &h, err);
    if (st != OMR_OK || !g)
        return st;
    if (w >= 4 && h >= 4) {
        int written = 0;
        st = text_has_ink_ws(g, w, h, w, ws, &written, err);
        rd->empty = !written;
    }
    return st;
}

/* The grey levels of the 2x2 pixels at (x, row l0) .. (x + 1, row l1), in
 * the order (x, l0), (x + 1, l0), (x, l1), (x + 1, l1); a bitonal image reads
 * 0 for ink and 255 for paper. The caller keeps x + 1 inside the row. */
static inline void grey_quad(const l_uint32 *l0, const l_uint32 *l1, int x, int bitonal, int g[4])
{
    if (bitonal) {
        g[0] = GET_DATA_BIT(l0, x) ? 0 : 255;
        g[1] = GET_DATA_BIT(l0, x + 1) ? 0 : 255;
        g[2] = GET_DATA_BIT(l1, x) ? 0 : 255;
        g[3] = GET_DATA_BIT(l1, x + 1) ? 0 : 255;
    } else {
        g[0] = (int)GET_DATA_BYTE(l0, x);
        g[1] = (int)GET_DATA_BYTE(l0, x + 1);
        g[2] = (int)GET_DATA_BYTE(l1, x);
        g[3] = (int)GET_DATA_BYTE(l1, x + 1);
    }
}

#if defined(__SSE2__)

/* Two neighbouring pixels of box_crop's grey path at once, one per lane of
 * SSE2 doubles: every operation is the scalar path's, in the same order, on
 * the same values (IEEE arithmetic is the same in a vector lane), so the
 * bytes are the same. col: the pair's colx entries (4 doubles); by, dy: the
 * row's products. Writes out[0..1] and returns 1 when both pixels' four
 * image pixels lie inside the image; else returns 0 and writes nothing (the
 * scalar path handles the pixel, also for coordinates beyond int range:
 * the conversion then gives INT_MIN, outside). */
static inline int bilinear_pair(const l_uint32 *data, int wpl, int iw, int ih, int bitonal,
                                const double *col, double by, double dy, const double *xf,
                                uint8_t *out)
{
    const __m128d c0 = _mm_loadu_pd(col), c1 = _mm_loadu_pd(col + 2);
    __m128d x = _mm_add_pd(_mm_add_pd(_mm_unpacklo_pd(c0, c1), _mm_set1_pd(by)),
                           _mm_set1_pd(xf[2]));
    __m128d y = _mm_add_pd(_mm_add_pd(_mm_unpackhi_pd(c0, c1), _mm_set1_pd(dy)),
                           _mm_set1_pd(xf[5]));
    const __m128d half = _mm_set1_pd(0.5), one = _mm_set1_pd(1.0);
    x = _mm_sub_pd(x, half);
    y = _mm_sub_pd(y, half);
    /* floor: truncate, minus one where that went up */
    __m128d tx = _mm_cvtepi32_pd(_mm_cvttpd_epi32(x)), ty = _mm_cvtepi32_pd(_mm_cvttpd_epi32(y));
    tx = _mm_sub_pd(tx, _mm_and_pd(_mm_cmplt_pd(x, tx), one));
    ty = _mm_sub_pd(ty, _mm_and_pd(_mm_cmplt_pd(y, ty), one));
    __m128i ix = _mm_cvttpd_epi32(tx), iy = _mm_cvttpd_epi32(ty);
    int xa = _mm_cvtsi128_si32(ix), xb = _mm_cvtsi128_si32(_mm_srli_si128(ix, 4));
    int ya = _mm_cvtsi128_si32(iy), yb = _mm_cvtsi128_si32(_mm_srli_si128(iy, 4));
    if (!(xa >= 0 && ya >= 0 && xa + 1 < iw && ya + 1 < ih && xb >= 0 && yb >= 0 &&
          xb + 1 < iw && yb + 1 < ih))
        return 0;
    const __m128d fx = _mm_sub_pd(x, tx), fy = _mm_sub_pd(y, ty);
    const __m128d ex = _mm_sub_pd(one, fx), ey = _mm_sub_pd(one, fy);
    const l_uint32 *a0 = data + (size_t)ya * wpl, *a1 = a0 + wpl;
    const l_uint32 *b0 = data + (size_t)yb * wpl, *b1 = b0 + wpl;
    /* lane 0: pixel a, lane 1: pixel b */
    int ga[4], gb[4];
    grey_quad(a0, a1, xa, bitonal, ga);
    grey_quad(b0, b1, xb, bitonal, gb);
    /* (where the four agree the sum is that value within far less than
     * half a level: rounded, exactly the scalar path's shortcut) */
    __m128d g0 = _mm_cvtepi32_pd(_mm_setr_epi32(ga[0], gb[0], 0, 0));
    __m128d g1 = _mm_cvtepi32_pd(_mm_setr_epi32(ga[1], gb[1], 0, 0));
    __m128d g2 = _mm_cvtepi32_pd(_mm_setr_epi32(ga[2], gb[2], 0, 0));
    __m128d g3 = _mm_cvtepi32_pd(_mm_setr_epi32(ga[3], gb[3], 0, 0));
    __m128d v = _mm_setzero_pd();
    v = _mm_add_pd(v, _mm_mul_pd(_mm_mul_pd(ex, ey), g0));
    v = _mm_add_pd(v, _mm_mul_pd(_mm_mul_pd(fx, ey), g1));
    v = _mm_add_pd(v, _mm_mul_pd(_mm_mul_pd(ex, fy), g2));
    v = _mm_add_pd(v, _mm_mul_pd(_mm_mul_pd(fx, fy), g3));
    /* lround for v >= 0 (v - r is exact) */
    __m128i r = _mm_cvttpd_epi32(v);
    __m128d up = _mm_cmpge_pd(_mm_sub_pd(v, _mm_cvtepi32_pd(r)), half);
    int ra = _mm_cvtsi128_si32(r), rb = _mm_cvtsi128_si32(_mm_srli_si128(r, 4));
    int ua = _mm_movemask_pd(up);
    out[0] = (uint8_t)(ra + (ua & 1));
    out[1] = (uint8_t)(rb + (ua >> 1));
    return 1;
}
#endif

/* The crop of a digit box: the region's box inset by OMR_ICR_BOXES_INSET_MM
 * at OMR_ICR_BOXES_PX_PER_MM, upright, 8-bit grey row-major in ws->crop;
 * each pixel bilinear between the image's pixel centres (outside the image:
 * paper, 255), rounded half up. The same arithmetic as omr_sample_crop,
 * operation for operation, so the same bytes; faster because the per-column
 * products are computed once, two pixels inside the image are computed at
 * once in the lanes of SSE2 doubles (bilinear_pair), on 1 bpp a pixel
 * whose four image pixels are equal is that value (the weights sum to 1
 * within far less than half a level: the rounded sum is that value too, so
 * the shortcut and the sum agree), and on a 1 bpp page a run of RUN pixels
 * over white image pixels is 255.
 * Returns OMR_OK with *pout NULL when the box is degenerate (reads as
 * empty), OMR_ENOMEM. */
static omr_status_t box_crop(PIX *pix, const double *xf, const omr_region_t *rg, ws_t *ws,
                             uint8_t **pout, int *pw, int *ph, omr_error_t *err)
{
    *pout = NULL;
    *pw = *ph = 0;
    const double ppm = OMR_ICR_BOXES_PX_PER_MM, inset = OMR_ICR_BOXES_INSET_MM;
    double X0 = rg->box.x + inset, Y0 = rg->box.y + inset;
    double W = rg->box.w - 2 * inset, H = rg->box.h - 2 * inset;
    int w = (int)lround(W * ppm), h = (int)lround(H * ppm);
    if (w < 1 || h < 1 || w > 4096 || h > 4096)
        return OMR_OK;
    uint8_t *out = grow(&ws->crop, &ws->crop_cap, (size_t)w * h);
    /* per column: xf[0] * X and xf[3] * X */
    double *colx = grow(&ws->ii, &ws->ii_cap, 2 * (size_t)w * sizeof(double));
    if (!out || !colx)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for box %s", rg->var);
    for (int i = 0; i < w; i++) {
        double X = X0 + (i + 0.5) / ppm;
        colx[2 * i] = xf[0] * X;
        colx[2 * i + 1] = xf[3] * X;
    }
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix), iw = (int)pixGetWidth(pix), ih = (int)pixGetHeight(pix);
    int bitonal = pixGetDepth(pix) == 1;
    for (int j = 0; j < h; j++) {
        double Y = Y0 + (j + 0.5) / ppm;
        const double by = xf[1] * Y, dy = xf[4] * Y;
        uint8_t *orow = out + (size_t)j * w;
        for (int i0 = 0; i0 < w; i0 += RUN) {
            int i1 = i0 + RUN < w ? i0 + RUN : w;
            if (bitonal) {
                int xa = ifloor(colx[2 * i0] + by + xf[2] - 0.5);
                int xb = ifloor(colx[2 * (i1 - 1)] + by + xf[2] - 0.5);
                int ya = ifloor(colx[2 * i0 + 1] + dy + xf[5] - 0.5);
                int yb = ifloor(colx[2 * (i1 - 1) + 1] + dy + xf[5] - 0.5);
                int lx = xa < xb ? xa : xb, hx = xa < xb ? xb : xa;
                int ly = ya < yb ? ya : yb, hy = ya < yb ? yb : ya;
                if (omr_sample_rect_white(data, wpl, iw, ih, lx - 1, hx + 2, ly - 1, hy + 2)) {
                    memset(orow + i0, 255, (size_t)(i1 - i0));
                    continue;
                }
            }
            for (int i = i0; i < i1; i++) {
#if defined(__SSE2__)
                /* grey, two pixels at once when both are inside */
                if (i + 1 < i1 &&
                    bilinear_pair(data, wpl, iw, ih, bitonal, colx + 2 * i, by, dy, xf,
                                  orow + i)) {
                    i++;
                    continue;
                }
#endif
                double x = colx[2 * i] + by + xf[2], y = colx[2 * i + 1] + dy + xf[5];
                /* bilinear between pixel centres */
                x -= 0.5;
                y -= 0.5;
                int x0 = ifloor(x), y0 = ifloor(y);
                double fx = x - x0, fy = y - y0;
                int g[4];
                if (x0 >= 0 && y0 >= 0 && x0 + 1 < iw && y0 + 1 < ih) {
                    const l_uint32 *l0 = data + (size_t)y0 * wpl, *l1 = l0 + wpl;
                    grey_quad(l0, l1, x0, bitonal, g);
                } else {
                    for (int q = 0; q < 4; q++) {
                        int xx = x0 + (q & 1), yy = y0 + (q >> 1);
                        g[q] = 255;
                        if (xx >= 0 && yy >= 0 && xx < iw && yy < ih) {
                            const l_uint32 *line = data + (size_t)yy * wpl;
                            g[q] = bitonal ? (GET_DATA_BIT(line, xx) ? 0 : 255)
                                           : (int)GET_DATA_BYTE(line, xx);
                        }
                    }
                }
                /* (on grey the four rarely agree: the test would cost
                 * more in mispredictions than the arithmetic it saves) */
                if (bitonal && g[0] == g[1] && g[1] == g[2] && g[2] == g[3]) {
                    orow[i] = (uint8_t)g[0];
                    continue;
                }
                /* the weights and the sum in the order of the loop over
                 * q = 0..3 this replaces (the same doubles, bit for bit),
                 * unrolled: the compiler kept it a loop with branches */
                const double ex = 1 - fx, ey = 1 - fy;
                double v = 0;
                v += (ex * ey) * g[0];
                v += (fx * ey) * g[1];
                v += (ex * fy) * g[2];
                v += (fx * fy) * g[3];
                /* lround for v >= 0 (v - r is exact) */
                int r = (int)v;
                orow[i] = (uint8_t)(v - r >= 0.5 ? r + 1 : r);
            }
        }
    }
    *pw = w;
    *ph = h;
    *pout = out;
    return OMR_OK;
}

/* Crop region rg and read it into *rd. A crop that fails (the box maps off
 * the image) reads as empty. */
static omr_status_t read_box(PIX *pix, const double *xform, const omr_region_t *rg, ws_t *ws,
                             omr_icr_box_reading_t *rd, omr_error_t *err)
{
    memset(rd, 0, sizeof *rd);
    rd->empty = 1;
    if (rg->kind == OMR_REGION_TEXT)
        return read_text(pix, xform, rg, ws, rd, err);
    uint8_t *g;
    int w, h;
    omr_status_t st = box_crop(pix, xform, rg, ws, &g, &w, &h, err);
    if (st != OMR_OK || !g)
        return st;
    if (w >= 8 && h >= 8) {
        omr_icr_input_t in;
        st = read_crop_ws(g, w, h, w, ws, &in, rd->prob, err);
        rd->empty = in.empty;
        /* Empty by the rule above, on a grey scan: faint pencil the
         * stretch did not reach? (On 1 bpp the threshold erased it.) */
        if (st == OMR_OK && in.empty && pixGetDepth(pix) == 8) {
            omr_icr_light_t li;
            st = light_ink_ws(g, w, h, w, ws, &li, err);
            rd->faint = st == OMR_OK && li.faint;
            rd->light_share = li.share;
            rd->light_extent_mm = li.extent_mm;
        }
        float mass = 0;
        for (int d = 0; d < 10; d++)
            mass += rd->prob[d];
        if (!in.empty)
            rd->other = 1 - mass;
    }
    return st;
}

/* Store a box's decision in its region result. */
static void apply_decision(omr_region_result_t *r, const omr_icr_box_reading_t *rd)
{
    const omr_icr_decision_t *d = &rd->decision;
    r->has_ink = d->kind != OMR_ICR_EMPTY;
    r->digit = d->kind == OMR_ICR_DIGIT ? d->value : -1;
    r->digit_conf = d->kind == OMR_ICR_DIGIT ? d->confidence : 0;
    r->doubt &= ~(unsigned)OMR_DOUBT_NOT_DIGIT;
    if (rd->faint && d->kind == OMR_ICR_EMPTY) {
        /* Light ink the reader cannot read: written, but nobody can say
         * what; review, never exported as certain-empty. */
        r->has_ink = 1;
        r->state = OMR_MARK_DOUBTFUL;
        r->doubt |= OMR_DOUBT_FAINT;
        return;
    }
    if (!r->has_ink) {
        r->state = OMR_MARK_BLANK;
        return;
    }
    r->state = OMR_MARK_MARKED;
    if (d->kind == OMR_ICR_NOT_DIGIT) {
        r->doubt |= OMR_DOUBT_NOT_DIGIT;
        r->state = OMR_MARK_DOUBTFUL;
    }
    /* A proposal that breaks the question's rules is never accepted by a
     * policy: which of two equal readings is wrong, nobody knows. */
    if (d->flags & (OMR_ICR_FLAG_DUPLICATE | OMR_ICR_FLAG_NOT_ALLOWED))
        r->state = OMR_MARK_DOUBTFUL;
}

/* ---- number fields -------------------------------------------------------- */

/* A number is written one digit per box along a row, often into a comb with
 * no printed line between its cells (queXF's) and rarely inside the lines: a
 * digit runs over the top of its box, into the next cell or out of the field
 * (on queXF's real scans, 3 of 10 digits). Read box by box, such a digit is
 * cut (a 3 without its top reads 5, a 4 without its tail 9). So the row is
 * read as a whole: cut out with a margin of half a box all round, the printed
 * lines erased, the ink split into pieces, each piece given to the box its
 * centre lies in (a piece just off the row to the box it reaches into), and
 * each box read from a crop of its own pieces' ink alone. Measured on
 * simulated scans of a form with a 4-box and a 12-box number (laid out by
 * tools/layout; build/simulate --respondents 150 --seed 99 --profile mixed
 * --dpi mixed --format mixed): numbers proposed right 192, wrong 14, without
 * a proposal 42, against 185, 21, 42 read box by box; on queXF's 3 real
 * forms, 2 right against none. */

/* The margin around the row, in box sides; how far from a printed edge its
 * line is looked for (registration error and half the line), mm; the share
 * of a box's side a printed line covers with ink (a stroke along the edge
 * covering that much is rare; losing a row of it changes no digit); the
 * thickest line, mm. */
#define NUMBER_MARGIN 0.5
#define NUMBER_EDGE_MM 0.6
#define NUMBER_LINE_COVER 0.5
#define NUMBER_LINE_MAX_MM 0.6
#define NUMBER_LINE_PIECE_MM 2.0

/* Pixel values of the row mask. */
enum { NM_PAPER = 0, NM_INK = 1, NM_FRAME = 2 };

typedef struct {
    int x0, y0, x1, y1; /* bounding box, x1/y1 exclusive */
    long area;
    double sx, sy;      /* sums of the pixel centres */
    int box;            /* the box whose digit it is part of, -1 none */
} npiece_t;

/* The rows (horizontal) or columns, offsets 0..nd-1 from pos - reach, where
 * the ink of points from..to of a line covers the most: *plo..*phi, those
 * with at least half the best's coverage next to it, at most
 * NUMBER_LINE_MAX_MM thick. Returns the best's coverage. */
static int line_rows(const uint8_t *m, int w, int horizontal, int pos, int reach, int lim, int from, int to,
                     int *plo, int *phi)
{
    int cov[2 * 64 + 1], best = -1, nd = 2 * reach + 1;
    for (int d = 0; d < nd; d++) {
        int line = pos - reach + d;
        cov[d] = 0;
        if (line < 0 || line >= lim)
            continue;
        for (int i = from; i < to; i++)
            cov[d] += m[horizontal ? (size_t)line * w + i : (size_t)i * w + line] != NM_PAPER;
        if (best < 0 || cov[d] > cov[best])
            best = d;
    }
    if (best < 0)
        return 0;
    int half = (int)lround(NUMBER_LINE_MAX_MM * OMR_ICR_BOXES_PX_PER_MM / 2), lo = best, hi = best;
    while (lo > 0 && best - lo < half && 2 * cov[lo - 1] >= cov[best])
        lo--;
    while (hi + 1 < nd && hi - best < half && 2 * cov[hi + 1] >= cov[best])
        hi++;
    *plo = lo, *phi = hi;
    return cov[best];
}

/* Erase the printed line along one edge of a box: near its place in the
 * template (pos, within +-reach: registration error), along the box's side
 * (from..to). The line is there when its rows (horizontal) or columns
 * (line_rows) hold ink over at least NUMBER_LINE_COVER of the side (a 1 bpp
 * scan breaks a thin line into dashes, so no single run need be long; on
 * queXF's scans a printed line covers 70-100 % of a box's side, an edge
 * without a line at most 8 %). A skewed line wanders by a pixel or two along
 * the side, so it is then followed in pieces of NUMBER_LINE_PIECE_MM. At each
 * point along it (beyond the box's corners too), the run of ink across the
 * line through its rows is the line when it is at most a pixel thicker than
 * they are (a grey scan blurs the edges); a longer run is a stroke crossing
 * the line or lying on it, and is kept whole. The line's ink becomes
 * NM_FRAME; a stroke cut where it crosses is joined again when its digit is
 * cut out (bridges). */
static void erase_line(uint8_t *m, int w, int h, int horizontal, int pos, int from, int to, int reach)
{
    int lim = horizontal ? h : w, len = horizontal ? w : h, lo, hi;
    from = from < 0 ? 0 : from;
    to = to > len ? len : to;
    if (to - from < 4 || 2 * reach + 1 > 2 * 64 + 1 ||
        line_rows(m, w, horizontal, pos, reach, lim, from, to, &lo, &hi) < NUMBER_LINE_COVER * (to - from))
        return;
    const int piece = (int)lround(NUMBER_LINE_PIECE_MM * OMR_ICR_BOXES_PX_PER_MM);
    int a = from - reach < 0 ? 0 : from - reach, z = to + reach > len ? len : to + reach;
    for (int p0 = a; p0 < z; p0 += piece) {
        int p1 = p0 + piece < z ? p0 + piece : z, plo = lo, phi = hi;
        if (line_rows(m, w, horizontal, pos, reach, lim, p0, p1, &plo, &phi) < NUMBER_LINE_COVER * (p1 - p0))
            plo = lo, phi = hi; /* hardly any line here (a gap, a corner): the side's rows */
        int top = pos - reach + plo, bottom = pos - reach + phi, thick = phi - plo + 2;
        for (int i = p0; i < p1; i++) {
#define AT(l) m[horizontal ? (size_t)(l) * w + i : (size_t)i * w + (l)]
            int r0 = -1;
            for (int l = top < 0 ? 0 : top; l <= bottom && l < lim && r0 < 0; l++)
                if (AT(l) == NM_INK)
                    r0 = l;
            if (r0 < 0)
                continue;
            int r1 = r0;
            while (r0 > 0 && AT(r0 - 1) == NM_INK && r1 - r0 < thick)
                r0--;
            while (r1 + 1 < lim && AT(r1 + 1) == NM_INK && r1 - r0 < thick)
                r1++;
            if (r1 - r0 + 1 > thick)
                continue;
            for (int l = r0; l <= r1; l++)
                AT(l) = NM_FRAME;
#undef AT
        }
    }
}

/* Is the frame pixel (x, y) a stroke of box b's digit crossing a frame
 * line: the first pixels off the frame on both sides (up and down, or left
 * and right, within `reach`) are ink of box b? */
static int bridges(const uint8_t *m, const int *lab, const npiece_t *pc, int w, int h, int x, int y, int reach,
                   int b)
{
    for (int vertical = 0; vertical < 2; vertical++) {
        int ends = 0;
        for (int dir = -1; dir <= 1; dir += 2)
            for (int k = 1; k <= reach; k++) {
                int xx = vertical ? x : x + dir * k, yy = vertical ? y + dir * k : y;
                if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                    break;
                size_t q = (size_t)yy * w + xx;
                if (m[q] == NM_FRAME)
                    continue;
                ends += m[q] == NM_INK && lab[q] >= 0 && pc[lab[q]].box == b;
                break;
            }
        if (ends == 2)
            return 1;
    }
    return 0;
}

/* Stroke width of a classifier input (28x28, ink high), px: twice the ink
 * area over its outline (pixels at half ink or more, 4-neighbour edges), the
 * width of a stroke long against its width. */
static double stroke_width(const uint8_t *px)
{
    int area = 0, edges = 0;
    for (int y = 0; y < OMR_ICR_SIDE; y++)
        for (int x = 0; x < OMR_ICR_SIDE; x++) {
            if (px[y * OMR_ICR_SIDE + x] < 128)
                continue;
            area++;
            edges += x == 0 || px[y * OMR_ICR_SIDE + x - 1] < 128;
            edges += x == OMR_ICR_SIDE - 1 || px[y * OMR_ICR_SIDE + x + 1] < 128;
            edges += y == 0 || px[(y - 1) * OMR_ICR_SIDE + x] < 128;
            edges += y == OMR_ICR_SIDE - 1 || px[(y + 1) * OMR_ICR_SIDE + x] < 128;
        }
    return edges ? 2.0 * area / edges : 0;
}

/* The model learnt MNIST's strokes, written with a broad pen: stroke width
 * (stroke_width) on the validation split 1.07 px at the 1st percentile, 1.28
 * at the 5th, 1.96 the median. A ballpoint digit on a form, scaled into the
 * same 20x20, is far thinner: 0.68 to 1.22 on queXF's real scans (10 digits),
 * where the model then took both 4s for 9s. A digit thinner than MNIST's 5th
 * percentile is thickened with a 3x3 maximum before it is classified.
 * Checked on the 6,000 validation digits (thickened when thin, 301 of them):
 * right 5,953 before and after; accepted at the validated threshold 5,546
 * with 1 wrong before, 5,563 with 2 wrong after. On the queXF scans: 8 of 10
 * digits read right before, 9 after (both 4s now right; a 2 written over,
 * read 2 at 0.40 before, now reads 1 at 0.93, under the auto-accept
 * threshold). Only number boxes use it: the top-3 and code-grid reading was
 * measured on the standard corpus as it is. */
#define NUMBER_THIN_STROKE 1.28

static void thicken(uint8_t *px)
{
    uint8_t in[OMR_ICR_NPIX];
    memcpy(in, px, sizeof in);
    for (int y = 0; y < OMR_ICR_SIDE; y++)
        for (int x = 0; x < OMR_ICR_SIDE; x++) {
            int v = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int ax = x + dx, ay = y + dy;
                    if (ax >= 0 && ay >= 0 && ax < OMR_ICR_SIDE && ay < OMR_ICR_SIDE && in[ay * OMR_ICR_SIDE + ax] > v)
                        v = in[ay * OMR_ICR_SIDE + ax];
                }
            px[y * OMR_ICR_SIDE + x] = (uint8_t)v;
        }
}

/* One number's row while it is read. All arrays malloc'd, freed by
 * row_free(). */
typedef struct {
    const omr_page_t *pg;
    const int *idx;     /* its boxes' regions, box 1 first */
    int n;
    omr_rect_t field;   /* the boxes' union, mm */
    double bw, bh;      /* a box's mean width and height, mm */
    double ox, oy;      /* template mm of crop pixel (0, 0)'s corner */
    int w, h, reach;    /* crop size; how far from an edge its line is looked for, px */
    uint8_t *g;         /* the crop, 8-bit grey */
    uint8_t *m;         /* NM_* per pixel */
    int *lab;           /* piece per NM_INK pixel, -1 none */
    int *stack;
    npiece_t *pc;
    int npc, cap;
} nrow_t;

static void row_free(nrow_t *r)
{
    free(r->g), free(r->m), free(r->lab), free(r->stack), free(r->pc);
    memset(r, 0, sizeof *r);
}

/* Cut the row out (its boxes with a margin of NUMBER_MARGIN boxes), find
 * its ink as the box reader finds it in one box (read_crop_ws: contrast
 * stretched, ink 35 % of the contrast below paper, at least 40 levels), with
 * paper and contrast measured inside the boxes, off their lines (the printed
 * lines and text would set the contrast, and a faint pencil digit would fall
 * under it), and erase the printed lines along every box's edges. r->g stays
 * NULL when the row maps off the image (then nothing is read again). */
static omr_status_t row_cut(PIX *pix, const double *xf, nrow_t *r, ws_t *ws, omr_error_t *err)
{
    const double ppm = OMR_ICR_BOXES_PX_PER_MM, in = OMR_ICR_BOXES_INSET_MM;
    const omr_page_t *pg = r->pg;
    omr_rect_t f = pg->regions[r->idx[0]].box;
    for (int b = 0; b < r->n; b++) {
        const omr_rect_t *x = &pg->regions[r->idx[b]].box;
        double x1 = f.x + f.w > x->x + x->w ? f.x + f.w : x->x + x->w;
        double y1 = f.y + f.h > x->y + x->h ? f.y + f.h : x->y + x->h;
        f.x = f.x < x->x ? f.x : x->x;
        f.y = f.y < x->y ? f.y : x->y;
        f.w = x1 - f.x, f.h = y1 - f.y;
        r->bw += x->w / r->n, r->bh += x->h / r->n;
    }
    r->field = f;
    /* box_crop starts its crop `in` inside the rectangle it is given */
    omr_region_t cut = pg->regions[r->idx[0]];
    r->ox = f.x - NUMBER_MARGIN * r->bw, r->oy = f.y - NUMBER_MARGIN * r->bh;
    cut.box = (omr_rect_t){r->ox - in, r->oy - in, f.w + 2 * NUMBER_MARGIN * r->bw + 2 * in,
                           f.h + 2 * NUMBER_MARGIN * r->bh + 2 * in};
    uint8_t *crop;
    omr_status_t st = box_crop(pix, xf, &cut, ws, &crop, &r->w, &r->h, err);
    if (st != OMR_OK || !crop || r->w < 8 || r->h < 8)
        return st;
    size_t np = (size_t)r->w * r->h;
    uint8_t *s = malloc(np);
    r->g = malloc(np), r->m = malloc(np);
    r->lab = malloc(np * sizeof *r->lab), r->stack = malloc(np * sizeof *r->stack);
    if (!s || !r->g || !r->m || !r->lab || !r->stack) {
        free(s);
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for the number of %s", cut.var);
    }
    memcpy(r->g, crop, np);
    r->reach = (int)lround(NUMBER_EDGE_MM * ppm);
    unsigned hist[256] = {0}, shist[256] = {0};
    size_t n_in = 0;
    for (int b = 0; b < r->n; b++) {
        const omr_rect_t *x = &pg->regions[r->idx[b]].box;
        int x0 = (int)lround((x->x - r->ox) * ppm) + r->reach, x1 = (int)lround((x->x + x->w - r->ox) * ppm) - r->reach;
        int y0 = (int)lround((x->y - r->oy) * ppm) + r->reach, y1 = (int)lround((x->y + x->h - r->oy) * ppm) - r->reach;
        for (int y = y0 < 0 ? 0 : y0; y < y1 && y < r->h; y++)
            for (int i = x0 < 0 ? 0 : x0; i < x1 && i < r->w; i++, n_in++)
                hist[r->g[(size_t)y * r->w + i]]++;
    }
    uint8_t lut[256];
    if (n_in == 0 || stretch_lut(hist, n_in, lut) >= 216) { /* nothing written inside the boxes */
        memset(r->m, NM_PAPER, np);
    } else {
        for (size_t i = 0; i < np; i++)
            s[i] = lut[r->g[i]];
        for (int v = 0; v < 256; v++)
            shist[lut[v]] += hist[v];
        int paper = omr_icr_hist_quantile(shist, n_in, 0.5), dark = omr_icr_hist_quantile(shist, n_in, 0.003);
        double thr = 0.35 * (paper - dark);
        if (thr < 40)
            thr = 40;
        omr_icr_mask_at_or_below(s, r->w, r->h, r->w, omr_icr_ink_limit(paper, thr), r->m);
    }
    free(s);
    for (int b = 0; b < r->n; b++) {
        const omr_rect_t *x = &pg->regions[r->idx[b]].box;
        int x0 = (int)lround((x->x - r->ox) * ppm), x1 = (int)lround((x->x + x->w - r->ox) * ppm);
        int y0 = (int)lround((x->y - r->oy) * ppm), y1 = (int)lround((x->y + x->h - r->oy) * ppm);
        erase_line(r->m, r->w, r->h, 1, y0, x0, x1, r->reach);
        erase_line(r->m, r->w, r->h, 1, y1, x0, x1, r->reach);
        erase_line(r->m, r->w, r->h, 0, x0, y0, y1, r->reach);
        erase_line(r->m, r->w, r->h, 0, x1, y0, y1, r->reach);
    }
    return OMR_OK;
}

/* The 8-connected pieces of the row's ink into r->pc and r->lab. Returns 0,
 * or -1 when out of memory. */
static int row_pieces(nrow_t *r)
{
    const int w = r->w, h = r->h;
    size_t np = (size_t)w * h;
    for (size_t i = 0; i < np; i++)
        r->lab[i] = -1;
    for (size_t i = 0; i < np; i++) {
        if (r->m[i] != NM_INK || r->lab[i] >= 0)
            continue;
        if (r->npc == r->cap) {
            int cap = r->cap ? 2 * r->cap : 16;
            npiece_t *t = realloc(r->pc, (size_t)cap * sizeof *t);
            if (!t)
                return -1;
            r->pc = t, r->cap = cap;
        }
        npiece_t *p = &r->pc[r->npc];
        *p = (npiece_t){w, h, 0, 0, 0, 0, 0, -1};
        int sp = 0;
        r->stack[sp++] = (int)i;
        r->lab[i] = r->npc;
        while (sp) {
            int q = r->stack[--sp], qx = q % w, qy = q / w;
            p->area++;
            p->sx += qx + 0.5, p->sy += qy + 0.5;
            if (qx < p->x0) p->x0 = qx;
            if (qy < p->y0) p->y0 = qy;
            if (qx + 1 > p->x1) p->x1 = qx + 1;
            if (qy + 1 > p->y1) p->y1 = qy + 1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int ax = qx + dx, ay = qy + dy;
                    if (ax < 0 || ay < 0 || ax >= w || ay >= h)
                        continue;
                    size_t a = (size_t)ay * w + ax;
                    if (r->m[a] == NM_INK && r->lab[a] < 0) {
                        r->lab[a] = r->npc;
                        r->stack[sp++] = (int)a;
                    }
                }
        }
        r->npc++;
    }
    return 0;
}

/* Is piece p what is left of a printed line: short (under 15 % of a box's
 * height, the least a written digit spans: omr_icr_normalise) and lying
 * along a box's edge, within reach of it (the corner where two lines meet,
 * a tick printed across a line, a line's ragged edge)? */
static int frame_rest(const nrow_t *r, const npiece_t *p)
{
    const double ppm = OMR_ICR_BOXES_PX_PER_MM;
    int ext = p->x1 - p->x0 > p->y1 - p->y0 ? p->x1 - p->x0 : p->y1 - p->y0;
    if (ext >= 0.15 * r->bh * ppm)
        return 0;
    for (int b = 0; b < r->n; b++) {
        const omr_rect_t *x = &r->pg->regions[r->idx[b]].box;
        double e[4] = {x->x, x->x + x->w, x->y, x->y + x->h};
        for (int k = 0; k < 4; k++) {
            int at = (int)lround((e[k] - (k < 2 ? r->ox : r->oy)) * ppm);
            int lo = k < 2 ? p->x0 : p->y0, hi = k < 2 ? p->x1 : p->y1;
            if (lo >= at - r->reach && hi <= at + r->reach + 1)
                return 1;
        }
    }
    return 0;
}

/* Give each piece of ink its box (pc[i].box, -1 none). A piece whose centre
 * of ink lies in the row goes to the box its centre lies in: a digit broken
 * into pieces (pencil, a dashed stroke, a frame line erased across it) keeps
 * them together. A piece off the row goes with the box its centre is above,
 * below or beside when it comes within `reach` of the row (a stroke over the
 * frame: a 3's top above the box, a 4 run out of the last cell) and that box
 * has ink of its own; further off it is printed matter (the prompt above, a
 * "$" beside) and is left out. */
static void row_digits(nrow_t *r)
{
    const double ppm = OMR_ICR_BOXES_PX_PER_MM, reach = r->reach / ppm;
    const omr_rect_t *f = &r->field;
    int inside[OMR_NUMBER_MAX_BOXES] = {0};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < r->npc; i++) {
            npiece_t *p = &r->pc[i];
            double cx = r->ox + p->sx / p->area / ppm, cy = r->oy + p->sy / p->area / ppm;
            int in_row = cx >= f->x && cx < f->x + f->w && cy >= f->y && cy < f->y + f->h;
            if (in_row != (pass == 0) || frame_rest(r, p))
                continue;
            if (!in_row) {
                /* distance from the piece to the row, mm */
                double x0 = r->ox + p->x0 / ppm, x1 = r->ox + p->x1 / ppm;
                double y0 = r->oy + p->y0 / ppm, y1 = r->oy + p->y1 / ppm;
                double dx = x1 < f->x ? f->x - x1 : x0 > f->x + f->w ? x0 - f->x - f->w : 0;
                double dy = y1 < f->y ? f->y - y1 : y0 > f->y + f->h ? y0 - f->y - f->h : 0;
                if (dx > reach || dy > reach)
                    continue;
                cx = cx < f->x ? f->x : cx >= f->x + f->w ? f->x + f->w - 1e-6 : cx;
            }
            for (int b = 0; b < r->n; b++) {
                const omr_rect_t *x = &r->pg->regions[r->idx[b]].box;
                if (cx >= x->x && cx < x->x + x->w && (in_row || inside[b]))
                    p->box = b;
            }
            if (in_row && p->box >= 0)
                inside[p->box] = 1;
        }
}

/* Read box b from its digits' ink alone (other ink white; the stroke kept
 * where it crosses a frame line), on paper at least as large as the box,
 * thickened when thin (NUMBER_THIN_STROKE), into *rd. A box with no digit of
 * its own is empty (ink read_box saw there is a neighbour's, or frame or
 * dust); an empty box keeps read_box's faint-pencil test. */
static omr_status_t row_read_box(nrow_t *r, int b, ws_t *ws, omr_icr_box_reading_t *rd, omr_error_t *err)
{
    const double ppm = OMR_ICR_BOXES_PX_PER_MM;
    npiece_t *pc = r->pc;
    int x0 = r->w, y0 = r->h, x1 = 0, y1 = 0;
    for (int i = 0; i < r->npc; i++)
        if (pc[i].box == b) {
            x0 = pc[i].x0 < x0 ? pc[i].x0 : x0, y0 = pc[i].y0 < y0 ? pc[i].y0 : y0;
            x1 = pc[i].x1 > x1 ? pc[i].x1 : x1, y1 = pc[i].y1 > y1 ? pc[i].y1 : y1;
        }
    if (x1 <= x0) {
        if (!rd->empty) {
            memset(rd->prob, 0, sizeof rd->prob);
            rd->empty = 1;
            rd->other = 0;
        }
        return OMR_OK;
    }
    const omr_rect_t *box = &r->pg->regions[r->idx[b]].box;
    int dw = x1 - x0, dh = y1 - y0, side = dw > dh ? dw : dh;
    int pad = side * 15 / 100 > 4 ? side * 15 / 100 : 4; /* out of omr_icr_normalise's border band */
    int cw = (dw > box->w * ppm ? dw : (int)lround(box->w * ppm)) + 2 * pad;
    int ch = (dh > box->h * ppm ? dh : (int)lround(box->h * ppm)) + 2 * pad;
    uint8_t *out = grow(&ws->crop, &ws->crop_cap, (size_t)cw * ch);
    if (!out)
        return omr_error_set(err, OMR_ENOMEM, "icr: out of memory for %s", r->pg->regions[r->idx[b]].var);
    memset(out, 255, (size_t)cw * ch);
    int offx = (cw - dw) / 2 - x0, offy = (ch - dh) / 2 - y0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            size_t q = (size_t)y * r->w + x;
            int mine = r->m[q] == NM_INK && r->lab[q] >= 0 && pc[r->lab[q]].box == b;
            if (!mine && r->m[q] == NM_FRAME)
                mine = bridges(r->m, r->lab, pc, r->w, r->h, x, y, 2 * r->reach, b);
            if (mine)
                out[(size_t)(y + offy) * cw + x + offx] = r->g[q];
        }
    omr_icr_input_t in;
    omr_status_t st = read_crop_ws(out, cw, ch, cw, ws, &in, rd->prob, err);
    if (st != OMR_OK)
        return st;
    if (!in.empty && stroke_width(in.px) < NUMBER_THIN_STROKE) {
        thicken(in.px);
        omr_icr_classify(in.px, rd->prob);
    }
    rd->empty = in.empty;
    rd->faint = 0;
    float mass = 0;
    for (int d = 0; d < 10; d++)
        mass += rd->prob[d];
    rd->other = in.empty ? 0 : 1 - mass;
    return OMR_OK;
}

/* Read the n boxes of one number (regions idx[0..n), box 1 first) again as
 * one row, into rd[idx[b]], in place of what read_box found in each alone.
 * A row that maps off the image keeps read_box's readings. */
static omr_status_t read_number(PIX *pix, const double *xf, const omr_page_t *pg, const int *idx, int n, ws_t *ws,
                                omr_icr_box_reading_t *rd, omr_error_t *err)
{
    nrow_t r = {.pg = pg, .idx = idx, .n = n};
    omr_status_t st = row_cut(pix, xf, &r, ws, err);
    if (st == OMR_OK && r.g && row_pieces(&r) < 0)
        st = omr_error_set(err, OMR_ENOMEM, "icr: out of memory for the number of %s", pg->regions[idx[0]].var);
    if (st == OMR_OK && r.g) {
        row_digits(&r);
        for (int b = 0; b < n && st == OMR_OK; b++)
            st = row_read_box(&r, b, ws, &rd[idx[b]], err);
    }
    row_free(&r);
    return st;
}

omr_status_t omr_icr_read_page_ex(PIX *pix, const double *xform, const omr_form_t *form,
                                  int page_index, omr_region_result_t *regions,
                                  omr_icr_box_reading_t *readings, omr_error_t *err)
{
    if (!pix || !xform || !form || !regions)
        return omr_error_set(err, OMR_EINPUT, "icr: missing argument");
    if (page_index < 0 || page_index >= form->n_pages)
        return omr_error_set(err, OMR_EINPUT, "icr: form %s has no page %d", form->id,
                             page_index + 1);
    int depth = (int)pixGetDepth(pix);
    if ((depth != 1 && depth != 8) || pixGetColormap(pix))
        return omr_error_set(err, OMR_EINPUT, "icr: image depth %d bpp (1 or 8 expected)", depth);
    const omr_page_t *pg = &form->pages[page_index];
    int n = pg->n_regions;
    omr_icr_box_reading_t *rd = readings;
    if (!rd && n > 0) {
        rd = calloc((size_t)n, sizeof *rd);
        if (!rd)
            return omr_error_set(err, OMR_ENOMEM, "icr: out of memory");
    }
    omr_status_t st = OMR_OK;
    ws_t ws = {0};
    /* 1. Crop and read every box and field. */
    for (int i = 0; i < n && st == OMR_OK; i++) {
        const omr_region_t *rg = &pg->regions[i];
        if (rg->kind != OMR_REGION_DIGIT && rg->kind != OMR_REGION_TEXT) {
            memset(&rd[i], 0, sizeof rd[i]);
            rd[i].empty = 1;
            continue;
        }
        st = read_box(pix, xform, rg, &ws, &rd[i], err);
        if (st == OMR_OK && rg->kind == OMR_REGION_TEXT) {
            regions[i].has_ink = !rd[i].empty;
            regions[i].state = rd[i].empty ? OMR_MARK_BLANK : OMR_MARK_MARKED;
        }
    }
    /* 1b. A number's boxes again, read as one row (read_number). */
    for (int qi = 0; qi < form->n_questions && st == OMR_OK; qi++) {
        const omr_question_t *q = &form->questions[qi];
        int idx[OMR_NUMBER_MAX_BOXES], m = 0;
        if (q->kind != OMR_KIND_NUMBER || q->page != page_index)
            continue;
        for (int b = 1; b <= OMR_NUMBER_MAX_BOXES; b++)
            for (int j = q->first_region; j < q->first_region + q->n_regions && j < n; j++)
                if (pg->regions[j].kind == OMR_REGION_DIGIT && pg->regions[j].code == b && m < OMR_NUMBER_MAX_BOXES)
                    idx[m++] = j;
        if (m > 0)
            st = read_number(pix, xform, pg, idx, m, &ws, rd, err);
    }
    /* 2. Decide the DIGIT boxes per question: a top-3 question's boxes
     *    together (distinct, no gaps), every other box alone (a code-grid
     *    cell; a number's boxes, whose digits may repeat and whose empty
     *    boxes the coder judges). */
    char *done = st == OMR_OK ? calloc((size_t)(n ? n : 1), 1) : NULL;
    if (st == OMR_OK && !done)
        st = omr_error_set(err, OMR_ENOMEM, "icr: out of memory");
    for (int i = 0; i < n && st == OMR_OK; i++) {
        const omr_region_t *rg = &pg->regions[i];
        if (rg->kind != OMR_REGION_DIGIT || done[i])
            continue;
        const omr_question_t *q = rg->question >= 0 && rg->question < form->n_questions
                                      ? &form->questions[rg->question]
                                      : NULL;
        omr_icr_rules_t rules = {allowed_values(q), 0, 0};
        int idx[3], m = 0;
        if (q && q->kind == OMR_KIND_TOP3) {
            /* boxes in box-number order (code 1..3) */
            for (int b = 1; b <= 3; b++)
                for (int j = 0; j < n; j++)
                    if (pg->regions[j].kind == OMR_REGION_DIGIT &&
                        pg->regions[j].question == rg->question && pg->regions[j].code == b &&
                        !done[j] && m < 3) {
                        idx[m++] = j;
                        break;
                    }
            rules.distinct = rules.no_gaps = 1;
        }
        if (m == 0)
            idx[m++] = i;
        omr_icr_box_t boxes[3];
        omr_icr_decision_t dec[3];
        for (int b = 0; b < m; b++) {
            boxes[b].empty = rd[idx[b]].empty;
            memcpy(boxes[b].prob, rd[idx[b]].prob, sizeof boxes[b].prob);
        }
        st = omr_icr_decide(boxes, m, &rules, NULL, dec, err);
        for (int b = 0; b < m && st == OMR_OK; b++) {
            rd[idx[b]].decision = dec[b];
            apply_decision(&regions[idx[b]], &rd[idx[b]]);
            done[idx[b]] = 1;
        }
        if (!done[i]) { /* a top-3 box with a repeated box number: read alone */
            rules.distinct = rules.no_gaps = 0;
            boxes[0].empty = rd[i].empty;
            memcpy(boxes[0].prob, rd[i].prob, sizeof boxes[0].prob);
            st = omr_icr_decide(boxes, 1, &rules, NULL, dec, err);
            if (st == OMR_OK) {
                rd[i].decision = dec[0];
                apply_decision(&regions[i], &rd[i]);
                done[i] = 1;
            }
        }
    }
    free(done);
    ws_free(&ws);
    if (rd != readings)
        free(rd);
    return st;
}

omr_status_t omr_icr_read_page(PIX *pix, const double *xform, const omr_form_t *form,
                               int page_index, omr_region_result_t *regions, omr_error_t *err)
{
    return omr_icr_read_page_ex(pix, xform, form, page_index, regions, NULL, err);
}
