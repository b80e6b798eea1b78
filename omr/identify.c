/* identify.c -- stage 2: read the page barcode, find the orientation, spot
 * blank sheets (see identify.h).
 *
 * Cost is what matters here: zbar on a whole 300-dpi page takes hundreds of
 * milliseconds, on a crop of the expected zone scanned only along the bars'
 * reading direction a few. So the zone is tried first (every 54th row, every
 * 9th, then every 3rd), at each orientation, and the whole page only when
 * that fails. Pixels go to zbar as a private 8-bit copy of the region (zbar
 * wants Y800 rows without padding; 1 bpp pages are expanded to 0/255 on the
 * fly), freed here.
 */
#include "identify.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zbar.h>

#include "template.h"

/* Extra margin around the expected zone, as a fraction of the page side:
 * covers the shift and skew of sheet-fed scanners (a 3 degree skew moves the
 * end of an 88 mm barcode by 4.6 mm, 1.5 % of the page height). */
#define ZONE_MARGIN 0.03
/* Scan-line spacing (zbar density) in pixels. The bars are ~9 mm tall
 * (>= 70 rows at 200 dpi): every 3rd row in the zone still gives many tries
 * across the symbol; the whole-page pass uses every 2nd line. */
#define ZONE_DENSITY 3
#define PAGE_DENSITY 2
/* First, sparse looks at the zone upright and upside down (the zone's
 * horizontal placements): on a clean page every 9th row still crosses the
 * bars ~8 times at 200 dpi, and only those rows are copied, cut and
 * scanned (a ninth of the work of the dense scan). Before that, every 54th
 * row (a sixth of that again: zbar's scan of these rows was three quarters
 * of identify on a G4 page), which at 300 dpi crosses the bars twice, and
 * two rows in a row are read in opposite directions, which is enough (at
 * 200 dpi it often crosses them once: the next look then runs; on the
 * standard corpus identify costs the same as with every 27th row). A
 * symbol a sparse look reads is the page's (one barcode a page, and Code
 * 128 carries a check character); when it reads none, or reads it from one
 * side only (no box, see scan_zone), the next look runs exactly as without
 * it, and after the sparse ones the dense sequence. */
#define ZONE_SPARSE_DENSITY 9
#define ZONE_SPARSER_DENSITY 54

/* Between-class contrast (grey levels) below which a region is taken to
 * hold no print at all: printed bars on paper differ by 150 or more, even on
 * a dark grey scan; scanner noise alone by well under 48. */
#define MIN_CONTRAST 48

/* Otsu's threshold of a 256-bin histogram; *pcontrast gets the difference of
 * the two class means. */
static int otsu(const unsigned long hist[256], int *pcontrast)
{
    double total = 0, sum = 0;
    for (int i = 0; i < 256; i++) {
        total += hist[i];
        sum += (double)i * hist[i];
    }
    double w0 = 0, sum0 = 0, best = -1;
    int t = 128;
    *pcontrast = 0;
    for (int i = 0; i < 255; i++) {
        w0 += hist[i];
        sum0 += (double)i * hist[i];
        double w1 = total - w0;
        if (w0 == 0 || w1 == 0)
            continue;
        double m0 = sum0 / w0, m1 = (sum - sum0) / w1;
        double between = w0 * w1 * (m1 - m0) * (m1 - m0);
        if (between > best) {
            best = between;
            t = i;
            *pcontrast = (int)(m1 - m0);
        }
    }
    return t;
}

/* Copy rectangle (x0, y0, w, h) of a 1 or 8 bpp PIX into a new w*h Y800
 * buffer, thresholded to 0 (ink) / 255 (paper). Thresholding matters: zbar
 * finds edges from grey-level steps, and the pixel noise of a grey scan
 * makes spurious edges that break a symbol zbar reads at once when clean.
 * 8 bpp regions are cut at Otsu's threshold; *pempty is set when the region
 * has no contrast at all (nothing printed: not worth scanning).
 * Owned by the caller: free(). NULL on out of memory. */
/* Threshold modes of crop_y800 for 8 bpp regions. */
enum {
    CUT_OTSU,    /* one threshold for the region: Otsu's */
    CUT_GROW,    /* Otsu's, then ink grown by 1 px along the reading direction:
                    noise specks inside the bars of a faded, background-
                    cleaned scan cut every scan line, and the cleaning thins
                    the bars (zbar reads width ratios) */
    CUT_LOCAL,   /* per block of LOCAL_BLOCK px, halfway between the block's
                    paper and ink (uneven light, a dim scan), grown the same */
    CUT_LIGHTER, /* Otsu's moved a quarter of the contrast towards the paper
                    (blur has greyed the narrow bars), grown the same */
    CUT_MODES,
    CUT_GREY     /* not a cut: the grey levels as they are, zbar finds its own
                    edges (scan_zone_doubled only: noise makes false edges) */
};
#define LOCAL_BLOCK 48
/* scan_zone_doubled's last tries: rows averaged along the bars, each way, in
 * doubled pixels (10: 10.5 rows of the scan, the noise of a faded 200-dpi JPEG
 * averaged out; 4: a sheet skewed by a few degrees) */
#define SMOOTH_HALF_ROWS 10
#define SMOOTH_HALF_ROWS_SKEWED 4

static void cut_local(unsigned char *buf, int w, int h, int t_global, int contrast);

/* Grow the ink (0) of buf by one pixel to the right (along_x) or down. */
static void grow_ink(unsigned char *buf, int w, int h, int along_x)
{
    if (along_x) {
        for (int y = 0; y < h; y++) {
            unsigned char *r = buf + (size_t)y * w;
            for (int x = w - 1; x > 0; x--)
                if (r[x - 1] == 0)
                    r[x] = 0;
        }
    } else {
        for (int y = h - 1; y > 0; y--) {
            unsigned char *r = buf + (size_t)y * w;
            for (int x = 0; x < w; x++)
                if (r[x - w] == 0)
                    r[x] = 0;
        }
    }
}

static unsigned char *crop_y800(PIX *pix, int x0, int y0, int w, int h, int *pempty, int mode,
                                int along_x, int rowstep)
{
    *pempty = 0;
    /* rowstep > 1: only rows 0, rowstep, ... of the rectangle (h is then
     * their count) */
    if (rowstep < 1)
        rowstep = 1;
    unsigned char *buf = malloc((size_t)w * (size_t)h);
    if (!buf)
        return NULL;
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix), d = pixGetDepth(pix);
    unsigned long hist[256] = {0};
    unsigned char expand8[256][8];
    if (d == 1)
        for (int b = 0; b < 256; b++)
            for (int i = 0; i < 8; i++)
                expand8[b][i] = (b & (0x80 >> i)) ? 0 : 255;
    for (int y = 0; y < h; y++) {
        const l_uint32 *line = data + (size_t)(y0 + (size_t)y * rowstep) * (size_t)wpl;
        unsigned char *out = buf + (size_t)y * (size_t)w;
        if (d == 8) {
            for (int x = 0; x < w; x++) {
                unsigned v = GET_DATA_BYTE(line, x0 + x);
                out[x] = (unsigned char)v;
                hist[v]++;
            }
        } else {
            /* Whole bytes through a table of 8-pixel patterns, the ends bit by bit. */
            int x = 0;
            for (; x < w && ((x0 + x) & 7); x++)
                out[x] = GET_DATA_BIT(line, x0 + x) ? 0 : 255;
            for (; x + 8 <= w; x += 8)
                memcpy(out + x, expand8[GET_DATA_BYTE(line, (x0 + x) >> 3)], 8);
            for (; x < w; x++)
                out[x] = GET_DATA_BIT(line, x0 + x) ? 0 : 255;
        }
    }
    if (d == 8) {
        int contrast = 0, t = otsu(hist, &contrast);
        if (contrast < MIN_CONTRAST) {
            *pempty = 1;
            return buf;
        }
        if (mode == CUT_GREY)
            return buf;
        if (mode == CUT_LOCAL) {
            cut_local(buf, w, h, t, contrast);
        } else {
            if (mode == CUT_LIGHTER)
                t += contrast / 4;
            unsigned char lut[256];
            for (int i = 0; i < 256; i++)
                lut[i] = i <= t ? 0 : 255;
            size_t n = (size_t)w * (size_t)h;
            for (size_t i = 0; i < n; i++)
                buf[i] = lut[buf[i]];
        }
    }
    if (mode != CUT_OTSU)
        grow_ink(buf, w, h, along_x);
    return buf;
}

/* CUT_LOCAL: threshold each LOCAL_BLOCK square of buf (8-bit grey, w x h)
 * halfway between its paper (95th percentile) and its ink (3rd), taken over
 * the block and its 8 neighbours; blocks without contrast (less than half the
 * region's) are paper or solid ink and take the region's threshold. In place. */
static void cut_local(unsigned char *buf, int w, int h, int t_global, int contrast)
{
    int bw = (w + LOCAL_BLOCK - 1) / LOCAL_BLOCK, bh = (h + LOCAL_BLOCK - 1) / LOCAL_BLOCK;
    unsigned char *lo = malloc((size_t)bw * bh * 3), *hi = lo ? lo + (size_t)bw * bh : NULL;
    unsigned char *tt = hi ? hi + (size_t)bw * bh : NULL;
    if (!lo) { /* out of memory: the global cut still gives an answer */
        for (size_t i = 0; i < (size_t)w * h; i++)
            buf[i] = buf[i] <= t_global ? 0 : 255;
        return;
    }
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            unsigned hist[256] = {0}, n = 0;
            for (int y = by * LOCAL_BLOCK; y < (by + 1) * LOCAL_BLOCK && y < h; y += 2)
                for (int x = bx * LOCAL_BLOCK; x < (bx + 1) * LOCAL_BLOCK && x < w; x += 2) {
                    hist[buf[(size_t)y * w + x]]++;
                    n++;
                }
            unsigned acc = 0;
            int l = 0, u = 255;
            for (int v = 0; v < 256; v++) {
                acc += hist[v];
                if (acc * 100 < n * 3)
                    l = v + 1;
                if (acc * 100 < n * 95)
                    u = v + 1;
            }
            lo[by * bw + bx] = (unsigned char)l;
            hi[by * bw + bx] = (unsigned char)u;
        }
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            int l = 255, u = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int x = bx + dx, y = by + dy;
                    if (x < 0 || y < 0 || x >= bw || y >= bh)
                        continue;
                    l = lo[y * bw + x] < l ? lo[y * bw + x] : l;
                    u = hi[y * bw + x] > u ? hi[y * bw + x] : u;
                }
            tt[by * bw + bx] = (unsigned char)(u - l >= contrast / 2 ? (l + u) / 2 : t_global);
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = buf + (size_t)y * w + x;
            *p = *p <= tt[(y / LOCAL_BLOCK) * bw + x / LOCAL_BLOCK] ? 0 : 255;
        }
    free(lo);
}

static int orientation_of(zbar_orientation_t o)
{
    switch (o) {
    case ZBAR_ORIENT_UP: return 0;
    case ZBAR_ORIENT_RIGHT: return 90;
    case ZBAR_ORIENT_DOWN: return 180;
    case ZBAR_ORIENT_LEFT: return 270;
    default: return -1;
    }
}

/* What one read looks for: the symbologies (zbar types) of the survey's page
 * barcodes, its fixed page IDs, and where on the upright page the barcode is
 * printed (its vertical half decides the orientation when zbar cannot). */
typedef struct {
    zbar_symbol_type_t types[3];
    int n_types;
    const omr_survey_t *survey; /* NULL: omr's payloads only */
    int at_top;                 /* the barcode is printed in the page's top half */
} read_ctx_t;

static int ctx_wants(const read_ctx_t *ctx, zbar_symbol_type_t t)
{
    for (int i = 0; i < ctx->n_types; i++)
        if (ctx->types[i] == t)
            return 1;
    return 0;
}

/* A decoded text as a page ID: omr's payload, or a fixed page ID of the survey. */
static int parse_page_id(const read_ctx_t *ctx, omr_barcode_t *bc)
{
    if (omr_template_parse_payload(bc->payload, bc->code, bc->form, &bc->page, bc->respondent) == OMR_OK)
        return 1;
    const omr_form_t *form;
    int page;
    if (!ctx->survey || !omr_template_page_by_value(ctx->survey, bc->payload, &form, &page))
        return 0;
    snprintf(bc->code, sizeof bc->code, "%s", ctx->survey->code);
    snprintf(bc->form, sizeof bc->form, "%s", form->id);
    bc->page = page;
    bc->respondent[0] = '\0'; /* the scanned file names it */
    bc->fixed_id = 1;
    return 1;
}

/* Fill one result from a zbar symbol found in a crop at (cx, cy) of a page
 * of size pw x ph. */
static void symbol_to_barcode(const read_ctx_t *ctx, const zbar_symbol_t *sym, int cx, int cy, int rowstep,
                              int pw, int ph, omr_barcode_t *bc)
{
    memset(bc, 0, sizeof *bc);
    snprintf(bc->payload, sizeof bc->payload, "%s", zbar_symbol_get_data(sym));
    int n = (int)zbar_symbol_get_loc_size(sym);
    int x0 = pw, y0 = ph, x1 = -1, y1 = -1;
    for (int i = 0; i < n; i++) {
        int x = zbar_symbol_get_loc_x(sym, (unsigned)i) + cx;
        int y = zbar_symbol_get_loc_y(sym, (unsigned)i) * rowstep + cy;
        x0 = x < x0 ? x : x0;
        y0 = y < y0 ? y : y0;
        x1 = x > x1 ? x : x1;
        y1 = y > y1 ? y : y1;
    }
    if (n > 0) {
        bc->x = x0;
        bc->y = y0;
        bc->w = x1 - x0 + 1;
        bc->h = y1 - y0 + 1;
    }
    bc->orientation = orientation_of(zbar_symbol_get_orientation(sym));
    if (bc->orientation < 0 && n > 0) {
        /* zbar could not tell: the barcode sits at the page's bottom (or top,
         * as the template prints it), so its position gives the orientation
         * (wide box: 0 or 180; tall: 90 or 270). */
        double mx = (x0 + x1) / 2.0 / pw, my = (y0 + y1) / 2.0 / ph;
        if (ctx->at_top) {
            mx = 1 - mx;
            my = 1 - my;
        }
        if (bc->w >= bc->h)
            bc->orientation = my >= 0.5 ? 0 : 180;
        else
            bc->orientation = mx < 0.5 ? 90 : 270;
    }
    if (bc->orientation < 0)
        bc->orientation = 0;
    bc->parsed = parse_page_id(ctx, bc);
}

/* Run zbar on rectangle (x, y, w, h) of pix with the given scan densities
 * (0 disables that direction). Returns the number of Code 128 symbols; the
 * first that parses as a page ID, else the first, goes to *pbc. -1 on out
 * of memory. rowstep > 1 (horizontal scans only, xdens 0): only every
 * rowstep-th row is read, from the rows zbar itself would scan at that
 * density; zbar gets just those rows (less to copy and threshold: the Otsu
 * cut is then that of these rows), locations are mapped back. */
static int scan_rect_rows(const read_ctx_t *ctx, PIX *pix, int x, int y, int w, int h, int xdens, int ydens,
                          int mode, int rowstep, omr_barcode_t *pbc)
{
    if (w < 8 || h < 8)
        return 0;
    if (rowstep > 1) {
        int border = (((h - 1) % rowstep) + 1) / 2; /* zbar's first row at this density */
        y += border;
        h = (h - border + rowstep - 1) / rowstep;
        xdens = 0;
        ydens = 1;
        if (h < 1)
            return 0;
    } else {
        rowstep = 1;
    }
    int empty = 0;
    unsigned char *buf = crop_y800(pix, x, y, w, h, &empty, mode, ydens > 0, rowstep);
    if (buf && empty) {
        free(buf);
        pbc->n_symbols = 0;
        return 0;
    }
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    zbar_image_t *zi = zbar_image_create();
    if (!buf || !sc || !zi) {
        free(buf);
        if (sc)
            zbar_image_scanner_destroy(sc);
        if (zi)
            zbar_image_destroy(zi);
        return -1;
    }
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    for (int i = 0; i < ctx->n_types; i++)
        zbar_image_scanner_set_config(sc, ctx->types[i], ZBAR_CFG_ENABLE, 1);
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_X_DENSITY, xdens);
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_Y_DENSITY, ydens);
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, (unsigned)w, (unsigned)h);
    /* zbar does not own buf (no cleanup handler); we free it below. */
    zbar_image_set_data(zi, buf, (unsigned long)w * (unsigned long)h, NULL);
    int found = 0, have_parsed = 0;
    if (zbar_scan_image(sc, zi) > 0) {
        int pw = pixGetWidth(pix), ph = pixGetHeight(pix);
        for (const zbar_symbol_t *s = zbar_image_first_symbol(zi); s;
             s = zbar_symbol_next(s)) {
            if (!ctx_wants(ctx, zbar_symbol_get_type(s)))
                continue;
            omr_barcode_t bc;
            symbol_to_barcode(ctx, s, x, y, rowstep, pw, ph, &bc);
            if (found == 0 || (bc.parsed && !have_parsed)) {
                *pbc = bc;
                have_parsed = bc.parsed;
            }
            found++;
        }
    }
    zbar_image_destroy(zi);
    zbar_image_scanner_destroy(sc);
    free(buf);
    pbc->n_symbols = found;
    return found;
}

static int scan_rect(const read_ctx_t *ctx, PIX *pix, int x, int y, int w, int h, int xdens, int ydens,
                     int mode, omr_barcode_t *pbc)
{
    return scan_rect_rows(ctx, pix, x, y, w, h, xdens, ydens, mode, 1, pbc);
}

/* The zone for orientation rot (clockwise degrees), in image fractions:
 * rotating the upright page by rot moves point (u, v) to
 *   90: (1 - v, u)   180: (1 - u, 1 - v)   270: (v, 1 - u). */
static omr_zone_t zone_rotated(omr_zone_t z, int rot)
{
    switch (rot) {
    case 90: return (omr_zone_t){1 - (z.y + z.h), z.x, z.h, z.w};
    case 180: return (omr_zone_t){1 - (z.x + z.w), 1 - (z.y + z.h), z.w, z.h};
    case 270: return (omr_zone_t){z.y, 1 - (z.x + z.w), z.h, z.w};
    default: return z;
    }
}

void omr_identify_zone_for_survey(const omr_survey_t *s, omr_zone_t *zone)
{
    double x0 = 2, y0 = 2, x1 = -1, y1 = -1;
    for (int f = 0; s && f < s->n_forms; f++)
        for (int p = 0; p < s->forms[f].n_pages; p++) {
            const omr_page_t *pg = &s->forms[f].pages[p];
            const omr_rect_t *b = &pg->barcode;
            if (pg->width <= 0 || pg->height <= 0 || b->w <= 0 || b->h <= 0)
                continue;
            x0 = fmin(x0, b->x / pg->width);
            y0 = fmin(y0, b->y / pg->height);
            x1 = fmax(x1, (b->x + b->w) / pg->width);
            y1 = fmax(y1, (b->y + b->h) / pg->height);
        }
    if (x1 <= x0 || y1 <= y0) {
        *zone = OMR_ZONE_BOTTOM;
        return;
    }
    x0 = fmax(0, x0), y0 = fmax(0, y0), x1 = fmin(1, x1), y1 = fmin(1, y1);
    *zone = (omr_zone_t){x0, y0, x1 - x0, y1 - y0};
}

/* Try zone z (page fractions, margin included) at every orientation and
 * threshold mode. Returns 1 with *pbc filled when a page ID was read, 0
 * when not (the first unparsed symbol, if any, goes to *punparsed when
 * *phave is 0), -1 on out of memory. */
static int scan_zone(const read_ctx_t *ctx, PIX *pix, omr_zone_t z, omr_barcode_t *pbc,
                     omr_barcode_t *punparsed, int *phave)
{
    int pw = pixGetWidth(pix), ph = pixGetHeight(pix);
    static const int rots[4] = {0, 180, 90, 270};
    /* More tries in the zone when the plain cut finds no page ID (a faded
     * JPEG: specks in the bars, dim, uneven light, blur): the cut with the
     * ink grown (1 bpp too), then on grey a local cut and a lighter one.
     * Each is a zone scan, a few ms; only pages that would otherwise go to
     * review pay for them. */
    const int n_modes = pixGetDepth(pix) == 8 ? CUT_MODES : CUT_GROW + 1;
    for (int k = 0; k < 4; k++) { /* sparsest first; each upright, then upside down */
        int i = k % 2, rowstep = k < 2 ? ZONE_SPARSER_DENSITY : ZONE_SPARSE_DENSITY;
        omr_zone_t r = zone_rotated(z, rots[i]);
        double fx0 = fmax(0, r.x), fy0 = fmax(0, r.y);
        double fx1 = fmin(1, r.x + r.w), fy1 = fmin(1, r.y + r.h);
        int x0 = (int)floor(fx0 * pw), y0 = (int)floor(fy0 * ph);
        int x1 = (int)ceil(fx1 * pw), y1 = (int)ceil(fy1 * ph);
        omr_barcode_t bc;
        int n = scan_rect_rows(ctx, pix, x0, y0, x1 - x0, y1 - y0, 0, rowstep, CUT_OTSU, rowstep, &bc);
        if (n < 0)
            return -1;
        /* zbar places a symbol at the end where each scan line finished
         * decoding it: rows read both ways give both ends. A read from one
         * side only locates a point, not the barcode: the dense scan then
         * runs as usual (and finds it on more rows). */
        if (n > 0 && bc.parsed && 2 * bc.w >= x1 - x0) {
            bc.fast = 1;
            *pbc = bc;
            return 1;
        }
    }
    for (int k = 0; k < 4 * n_modes; k++) {
        int i = k % 4, mode = k / 4;
        omr_zone_t r = zone_rotated(z, rots[i]);
        double fx0 = fmax(0, r.x), fy0 = fmax(0, r.y);
        double fx1 = fmin(1, r.x + r.w), fy1 = fmin(1, r.y + r.h);
        int x0 = (int)floor(fx0 * pw), y0 = (int)floor(fy0 * ph);
        int x1 = (int)ceil(fx1 * pw), y1 = (int)ceil(fy1 * ph);
        int horizontal = rots[i] == 0 || rots[i] == 180;
        omr_barcode_t bc;
        int n = scan_rect(ctx, pix, x0, y0, x1 - x0, y1 - y0, horizontal ? 0 : ZONE_DENSITY,
                          horizontal ? ZONE_DENSITY : 0, mode, &bc);
        if (n < 0)
            return -1;
        if (n > 0 && bc.parsed) {
            bc.fast = 1;
            *pbc = bc;
            return 1;
        }
        if (n > 0 && !*phave) {
            *punparsed = bc;
            punparsed->fast = 1;
            *phave = 1;
        }
    }
    return 0;
}

/* A copy of the 8-bpp pix with each pixel the mean of the 2*half+1 pixels
 * above and below it (fewer at the top and bottom). Bars of a barcode read
 * at 0 or 180 degrees run down the image: averaging along them keeps their
 * edges and takes out the specks and the JPEG noise that break every single
 * scan line of a faded barcode. A little skew (1 degree: 0.2 px over 13
 * rows) hardly blurs the edges. Returns NULL when out of memory. */
static PIX *smooth_along_bars(PIX *pix, int half)
{
    int w = pixGetWidth(pix), h = pixGetHeight(pix);
    PIX *out = pixCreate(w, h, 8);
    unsigned *col = calloc((size_t)w, sizeof *col);
    if (!out || !col) {
        pixDestroy(&out);
        free(col);
        return NULL;
    }
    l_uint32 *src = pixGetData(pix), *dst = pixGetData(out);
    int wpl_s = pixGetWpl(pix), wpl_d = pixGetWpl(out);
    /* running column sums over the window [y - half, y + half] */
    int lo = 0, hi = -1;
    for (int y = 0; y < h; y++) {
        int want_lo = y - half < 0 ? 0 : y - half, want_hi = y + half >= h ? h - 1 : y + half;
        while (hi < want_hi) {
            hi++;
            const l_uint32 *line = src + (size_t)hi * wpl_s;
            for (int x = 0; x < w; x++)
                col[x] += GET_DATA_BYTE(line, x);
        }
        while (lo < want_lo) {
            const l_uint32 *line = src + (size_t)lo * wpl_s;
            for (int x = 0; x < w; x++)
                col[x] -= GET_DATA_BYTE(line, x);
            lo++;
        }
        unsigned n = (unsigned)(hi - lo + 1);
        l_uint32 *line = dst + (size_t)y * wpl_d;
        for (int x = 0; x < w; x++)
            SET_DATA_BYTE(line, x, (col[x] + n / 2) / n);
    }
    free(col);
    return out;
}

/* The last try in a zone, for grey scans at low resolution: at 200 dpi a
 * bar module of this survey's Code 128 is ~2.5 px, and JPEG blur plus a
 * faded scan leave zbar too few pixels per edge at any threshold. Doubled
 * (bilinear), the same crop reads: on the standard corpus 6 of the 8 faded
 * 200-dpi pages whose barcode the plain zone passes missed. The last 2 have
 * speckled bars that break every scan line at any cut: the doubled crop
 * averaged along the bars (smooth_along_bars) reads them. Zone z
 * (page fractions, margin included) at 0 and 180 degrees only: the barcode
 * of a sheet fed sideways is far rarer than a faded one. Returns 1 with
 * *pbc filled (box in page pixels), 0 when not found, -1 on out of memory. */
static int scan_zone_doubled(const read_ctx_t *ctx, PIX *pix, omr_zone_t z, omr_barcode_t *pbc)
{
    if (pixGetDepth(pix) != 8)
        return 0;
    int pw = pixGetWidth(pix), ph = pixGetHeight(pix);
    static const int rots[2] = {0, 180};
    for (int i = 0; i < 2; i++) {
        omr_zone_t r = zone_rotated(z, rots[i]);
        int x0 = (int)floor(fmax(0, r.x) * pw), y0 = (int)floor(fmax(0, r.y) * ph);
        int x1 = (int)ceil(fmin(1, r.x + r.w) * pw), y1 = (int)ceil(fmin(1, r.y + r.h) * ph);
        if (x1 - x0 < 8 || y1 - y0 < 8)
            continue;
        BOX *box = boxCreate(x0, y0, x1 - x0, y1 - y0);
        PIX *crop = box ? pixClipRectangle(pix, box, NULL) : NULL;
        PIX *big = crop ? pixScaleGrayLI(crop, 2.0f, 2.0f) : NULL;
        boxDestroy(&box);
        pixDestroy(&crop);
        if (!big)
            return -1;
        int found = 0;
        static const int modes[] = {CUT_OTSU, CUT_GROW, CUT_LOCAL, CUT_LIGHTER, CUT_GREY};
        const int n_modes = (int)(sizeof modes / sizeof modes[0]);
        /* every cut of the crop, then of the crop averaged along the bars:
         * over many rows (noise), then over fewer (a skewed sheet) */
        static const int halves[] = {0, SMOOTH_HALF_ROWS, SMOOTH_HALF_ROWS_SKEWED};
        const int n_halves = (int)(sizeof halves / sizeof halves[0]);
        PIX *doubled = big;
        for (int k = 0; k < n_halves * n_modes && !found; k++) {
            int mode = modes[k % n_modes];
            if (k > 0 && k % n_modes == 0) {
                if (big != doubled)
                    pixDestroy(&big);
                big = smooth_along_bars(doubled, halves[k / n_modes]);
                if (!big) {
                    pixDestroy(&doubled);
                    return -1;
                }
            }
            omr_barcode_t bc;
            int n = scan_rect(ctx, big, 0, 0, pixGetWidth(big), pixGetHeight(big), 0, ZONE_DENSITY,
                              mode, &bc);
            if (n < 0) {
                if (big != doubled)
                    pixDestroy(&big);
                pixDestroy(&doubled);
                return -1;
            }
            if (n > 0 && bc.parsed) {
                bc.x = x0 + bc.x / 2;
                bc.y = y0 + bc.y / 2;
                bc.w = (bc.w + 1) / 2;
                bc.h = (bc.h + 1) / 2;
                /* The crop is a strip of the page: its own position says
                 * nothing of the orientation, the strip's does. */
                if (bc.orientation != 0 && bc.orientation != 180)
                    bc.orientation = rots[i];
                bc.fast = 1;
                *pbc = bc;
                found = 1;
            }
        }
        if (big != doubled)
            pixDestroy(&big);
        pixDestroy(&doubled);
        if (found)
            return 1;
    }
    return 0;
}

/* Zone z widened by ZONE_MARGIN on every side (skew and shift of the sheet). */
static omr_zone_t with_margin(omr_zone_t z)
{
    z.x -= ZONE_MARGIN;
    z.y -= ZONE_MARGIN;
    z.w += 2 * ZONE_MARGIN;
    z.h += 2 * ZONE_MARGIN;
    return z;
}

omr_status_t omr_identify_read(PIX *pix, const omr_zone_t *zone, omr_barcode_t *pbc,
                               omr_error_t *err)
{
    return omr_identify_read_survey(pix, zone, NULL, pbc, err);
}

/* The zbar types of a survey's page barcodes (Code 128 without one). */
static void ctx_init(read_ctx_t *ctx, const omr_zone_t *zone, const omr_survey_t *survey)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->survey = survey;
    ctx->at_top = zone && zone->y + zone->h / 2 < 0.5;
    int want[3] = {0, 0, 0};
    for (int f = 0; survey && f < survey->n_forms; f++)
        for (int p = 0; p < survey->forms[f].n_pages; p++)
            want[survey->forms[f].pages[p].barcode_kind] = 1;
    if (!want[OMR_BARCODE_I25] && !want[OMR_BARCODE_CODE39])
        want[OMR_BARCODE_CODE128] = 1;
    static const zbar_symbol_type_t types[3] = {ZBAR_CODE128, ZBAR_I25, ZBAR_CODE39};
    for (int k = 0; k < 3; k++)
        if (want[k])
            ctx->types[ctx->n_types++] = types[k];
}

omr_status_t omr_identify_read_survey(PIX *pix, const omr_zone_t *zone, const omr_survey_t *survey,
                                      omr_barcode_t *pbc, omr_error_t *err)
{
    memset(pbc, 0, sizeof *pbc);
    read_ctx_t ctx;
    ctx_init(&ctx, zone, survey);
    if (!pix || (pixGetDepth(pix) != 1 && pixGetDepth(pix) != 8))
        return omr_error_set(err, OMR_EUNSUPPORTED, "identify: page must be 1 or 8 bpp, not %d",
                             pix ? pixGetDepth(pix) : 0);
    zbar_set_verbosity(0);
    int pw = pixGetWidth(pix), ph = pixGetHeight(pix);
    /* The caller's zone, then (when it is another one) the default bottom
     * zone: a sheet shifted or skewed beyond the margin of a tight zone still
     * has its barcode in the bottom fifth, and that costs far less than the
     * whole page. */
    omr_zone_t zones[2];
    int n_zones = 0;
    zones[n_zones++] = zone ? *zone : OMR_ZONE_BOTTOM;
    if (zone && memcmp(zone, &OMR_ZONE_BOTTOM, sizeof *zone) != 0)
        zones[n_zones++] = OMR_ZONE_BOTTOM;

    omr_barcode_t first_unparsed;
    int have_unparsed = 0;
    for (int zi = 0; zi < n_zones; zi++) {
        int got = scan_zone(&ctx, pix, with_margin(zones[zi]), pbc, &first_unparsed, &have_unparsed);
        if (got < 0)
            return omr_error_set(err, OMR_ENOMEM, "identify: out of memory");
        if (got) {
            pbc->zone_pass = zi + 1;
            return OMR_OK;
        }
    }

    for (int zi = 0; zi < n_zones; zi++) {
        int got = scan_zone_doubled(&ctx, pix, with_margin(zones[zi]), pbc);
        if (got < 0)
            return omr_error_set(err, OMR_ENOMEM, "identify: out of memory");
        if (got) {
            pbc->zone_pass = zi + 1;
            return OMR_OK;
        }
    }

    omr_barcode_t bc;
    int n = scan_rect(&ctx, pix, 0, 0, pw, ph, PAGE_DENSITY, PAGE_DENSITY, CUT_OTSU, &bc);
    if (n < 0)
        return omr_error_set(err, OMR_ENOMEM, "identify: out of memory");
    if (n > 0 && bc.parsed) {
        *pbc = bc;
        return OMR_OK;
    }
    if (n > 0 && !have_unparsed) {
        first_unparsed = bc;
        have_unparsed = 1;
    }
    if (have_unparsed) {
        *pbc = first_unparsed;
        if (survey && survey->ids_by_value)
            return omr_error_set(err, OMR_EINPUT, "barcode \"%s\" is not a page ID of survey %s", pbc->payload,
                                 survey->code);
        return omr_error_set(err, OMR_EINPUT,
                             "barcode \"%s\" is not a page ID of the form CODE-F01-RESPONDENT",
                             pbc->payload);
    }
    static const char *const type_names[] = {"Code 128", "interleaved 2 of 5", "Code 39"};
    static const zbar_symbol_type_t named[] = {ZBAR_CODE128, ZBAR_I25, ZBAR_CODE39};
    char names[96] = "";
    for (int i = 0; i < ctx.n_types; i++)
        for (int k = 0; k < 3; k++)
            if (ctx.types[i] == named[k])
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? " or " : "",
                         type_names[k]);
    return omr_error_set(err, OMR_ENOTFOUND, "no %s barcode found on the page", names);
}

/* ------------------------------------------------------------------ blank */

/* Components smaller than this many reduced pixels (4x) in both width and
 * height are dust: 12 px, 1 mm at 300 dpi. */
#define SPECK_CELLS 3
#define BORDER_FRACTION 0.03

omr_status_t omr_identify_ink(PIX *pix, double max_ink, double *pink, omr_error_t *err)
{
    *pink = 0;
    if (!pix || (pixGetDepth(pix) != 1 && pixGetDepth(pix) != 8))
        return omr_error_set(err, OMR_EUNSUPPORTED, "blank test: page must be 1 or 8 bpp");
    if (max_ink <= 0)
        max_ink = OMR_BLANK_MAX_INK;
    int w = pixGetWidth(pix), h = pixGetHeight(pix);
    if (w < 16 || h < 16)
        return omr_error_set(err, OMR_EINPUT, "blank test: page of %dx%d pixels is too small",
                             w, h);

    /* Quick count over the whole page: a printed or written page has far
     * more ink than a blank one even with its border and speckle. */
    double raw;
    if (pixGetDepth(pix) == 1) {
        l_int32 count = 0;
        pixCountPixels(pix, &count, NULL);
        raw = (double)count / ((double)w * h);
    } else {
        NUMA *hist = pixGetGrayHistogram(pix, 4);
        if (!hist)
            return omr_error_set(err, OMR_ENOMEM, "blank test: out of memory");
        l_float32 dark = 0, total = 0;
        numaGetSumOnInterval(hist, 0, 127, &dark);
        numaGetSum(hist, &total);
        numaDestroy(&hist);
        raw = total > 0 ? dark / total : 0;
    }
    if (raw > 20 * max_ink) {
        *pink = raw;
        return OMR_OK;
    }

    /* Careful measure: 4x reduction to grey (a cell is ink when at least half
     * of its 16 pixels are), border cut off, dust removed. */
    PIX *g = NULL;
    if (pixGetDepth(pix) == 1) {
        g = pixScaleToGray4(pix);
    } else {
        PIX *g2 = pixScaleAreaMap2(pix);
        g = g2 ? pixScaleAreaMap2(g2) : NULL;
        pixDestroy(&g2);
    }
    PIX *b = g ? pixThresholdToBinary(g, 128) : NULL;
    pixDestroy(&g);
    if (!b)
        return omr_error_set(err, OMR_ENOMEM, "blank test: out of memory");
    int bw = pixGetWidth(b), bh = pixGetHeight(b);
    int mx = (int)(bw * BORDER_FRACTION), my = (int)(bh * BORDER_FRACTION);
    BOX *box = boxCreate(mx, my, bw - 2 * mx, bh - 2 * my);
    PIX *inner = box ? pixClipRectangle(b, box, NULL) : NULL;
    boxDestroy(&box);
    pixDestroy(&b);
    PIX *clean = inner ? pixSelectBySize(inner, SPECK_CELLS, SPECK_CELLS, 8, L_SELECT_IF_EITHER,
                                         L_SELECT_IF_GTE, NULL)
                       : NULL;
    if (!clean) {
        pixDestroy(&inner);
        return omr_error_set(err, OMR_ENOMEM, "blank test: out of memory");
    }
    l_int32 count = 0;
    pixCountPixels(clean, &count, NULL);
    *pink = (double)count / ((double)pixGetWidth(inner) * pixGetHeight(inner));
    pixDestroy(&clean);
    pixDestroy(&inner);
    return OMR_OK;
}

omr_status_t omr_identify_is_blank(PIX *pix, double max_ink, int *pblank, double *pink,
                                   omr_error_t *err)
{
    *pblank = 0;
    if (max_ink <= 0)
        max_ink = OMR_BLANK_MAX_INK;
    double ink = 0;
    omr_status_t st = omr_identify_ink(pix, max_ink, &ink, err);
    if (pink)
        *pink = ink;
    if (st != OMR_OK)
        return st;
    *pblank = ink < max_ink;
    return OMR_OK;
}
