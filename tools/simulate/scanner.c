/* scanner.c -- the scanner model of the simulator: how a sheet-fed scanner
 * turns a filled paper page into an image (see scan_internal.h).
 *
 * One pass does the geometry and the light: every output pixel is mapped back
 * through one affine transform (skew, shift, scale, upside down, resolution
 * change) into the page, sampled bilinearly, and given the paper/ink levels
 * and the uneven illumination of this sheet. Later passes add the dirt (dust
 * specks, a streak from the glass), the defocus blur, the sensor noise, and
 * finally the bitonal threshold for G4 output. Doing the geometry in one warp
 * keeps a 300-dpi A4 sheet well under 100 ms; rotating, shifting and scaling
 * in separate Leptonica calls would each cost a full-page pass and blur the
 * page three times.
 *
 * Every random number comes from the caller's sim_rng_t, so a sheet scanned
 * with the same stream gives the same bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scan_internal.h"

/* ---------------------------------------------------------------- formats */

static const char *const fmt_names[SIM_FMT_COUNT] = {"g4", "lzw", "png", "jpeg"};
static const char *const fmt_exts[SIM_FMT_COUNT] = {"tif", "tif", "png", "jpg"};

const char *sim_format_name(sim_format_t f) { return (unsigned)f < SIM_FMT_COUNT ? fmt_names[f] : "?"; }
const char *sim_format_ext(sim_format_t f) { return (unsigned)f < SIM_FMT_COUNT ? fmt_exts[f] : "bin"; }
int sim_format_is_tiff(sim_format_t f) { return f == SIM_FMT_G4 || f == SIM_FMT_LZW; }
int sim_format_is_bitonal(sim_format_t f) { return f == SIM_FMT_G4; }

int sim_format_from_name(const char *name)
{
    for (int i = 0; i < SIM_FMT_COUNT; i++)
        if (!strcmp(name, fmt_names[i]))
            return i;
    if (!strcmp(name, "jpg"))
        return SIM_FMT_JPEG;
    return -1;
}

/* ----------------------------------------------------------------- images */

sim_image_t *sim_image_new(int w, int h, int bpp, int dpi)
{
    if (w <= 0 || h <= 0 || (bpp != 1 && bpp != 8) || w > 20000 || h > 20000)
        return NULL;
    sim_image_t *img = calloc(1, sizeof *img);
    if (!img)
        return NULL;
    img->w = w;
    img->h = h;
    img->bpp = bpp;
    img->dpi = dpi;
    img->stride = bpp == 8 ? w : (w + 7) / 8;
    img->data = calloc((size_t)img->stride, (size_t)h);
    if (!img->data) {
        free(img);
        return NULL;
    }
    return img;
}

void sim_image_free(sim_image_t *img)
{
    if (!img)
        return;
    free(img->data);
    free(img);
}

sim_image_t *sim_image_from_pix(PIX *pix)
{
    if (!pix || pixGetDepth(pix) != 8 || pixGetColormap(pix))
        return NULL;
    int w = (int)pixGetWidth(pix), h = (int)pixGetHeight(pix);
    sim_image_t *img = sim_image_new(w, h, 8, (int)pixGetXRes(pix));
    if (!img)
        return NULL;
    const l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < h; y++) {
        const l_uint32 *line = data + (size_t)y * wpl;
        uint8_t *out = img->data + (size_t)y * img->stride;
        /* Leptonica keeps pixel 0 in the most significant byte of each word:
         * write each word big-endian. */
        for (int x = 0; x + 4 <= w; x += 4) {
            l_uint32 v = line[x >> 2];
            out[x] = (uint8_t)(v >> 24);
            out[x + 1] = (uint8_t)(v >> 16);
            out[x + 2] = (uint8_t)(v >> 8);
            out[x + 3] = (uint8_t)v;
        }
        for (int x = w & ~3; x < w; x++)
            out[x] = (uint8_t)GET_DATA_BYTE(line, x);
    }
    return img;
}

PIX *sim_image_to_pix(const sim_image_t *img)
{
    PIX *pix = pixCreate(img->w, img->h, img->bpp);
    if (!pix)
        return NULL;
    pixSetResolution(pix, img->dpi, img->dpi);
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < img->h; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        const uint8_t *in = img->data + (size_t)y * img->stride;
        if (img->bpp == 8) {
            for (int x = 0; x < img->w; x++)
                SET_DATA_BYTE(line, x, in[x]);
        } else {
            for (int x = 0; x < img->w; x++)
                if (in[x >> 3] & (0x80 >> (x & 7)))
                    SET_DATA_BIT(line, x);
        }
    }
    return pix;
}

/* ------------------------------------------------------------- conditions */

/* The named conditions. Numbers are judgement calls about office scanners,
 * not measurements: sheet-fed scanners skew a sheet by well under a degree
 * when it is fed straight (most pages within ±1.5°), a crumpled or
 * hand-fed sheet goes to several degrees; feeders shift by a few mm; the
 * scale error of a roller-driven scan is up to a few per cent along the feed.
 * threshold_lo/hi are in per cent of the way from ink to paper. */
static const sim_condition_t conditions[] = {
    {
        .name = "clean", .summary = "300 dpi G4 or grey PNG, straight feed, no noise",
        .share = 0.10,
        .dpis = {300, 0, 0}, .dpi_w = {1, 0, 0},
        .fmt_w = {[SIM_FMT_G4] = 0.5, [SIM_FMT_PNG] = 0.5},
        .jpeg_q_lo = 90, .jpeg_q_hi = 90,
        .skew_sd = 0.1, .skew_max = 0.3, .p_wide_skew = 0,
        .shift_sd = 0.4, .shift_max = 1.0,
        .scale_sd = 0.001, .scale_max = 0.002,
        .p_upside_down = 0,
        .paper_lo = 250, .paper_hi = 255, .ink_lo = 10, .ink_hi = 20,
        .gradient_max = 0, .vignette_max = 0, .noise_lo = 0, .noise_hi = 0,
        .dust_lo = 0, .dust_hi = 0, .p_streak = 0, .blur_lo = 0, .blur_hi = 0,
        .threshold_lo = 50, .threshold_hi = 50, .p_dark_backing = 0, .p_white_clip = 1,
    },
    {
        .name = "office", .summary = "office sheet feeder to G4, mostly 300 dpi (some 200/600), light dust",
        .share = 0.45,
        .dpis = {300, 200, 600}, .dpi_w = {0.85, 0.10, 0.05},
        .fmt_w = {[SIM_FMT_G4] = 1},
        .jpeg_q_lo = 85, .jpeg_q_hi = 85,
        .skew_sd = 0.5, .skew_max = 3.0, .p_wide_skew = 0.02,
        .shift_sd = 1.5, .shift_max = 5.0,
        .scale_sd = 0.004, .scale_max = 0.01,
        .p_upside_down = 0.03,
        .paper_lo = 235, .paper_hi = 252, .ink_lo = 15, .ink_hi = 45,
        .gradient_max = 0.04, .vignette_max = 0.03, .noise_lo = 1.5, .noise_hi = 4,
        .dust_lo = 0, .dust_hi = 40, .p_streak = 0.03, .blur_lo = 0, .blur_hi = 1,
        .threshold_lo = 40, .threshold_hi = 60, .p_dark_backing = 0,
    },
    {
        .name = "grey", .summary = "office scanner to grey JPEG, PNG or LZW TIFF, 300 or 200 dpi, background mostly removed",
        .share = 0.20,
        .dpis = {300, 200, 0}, .dpi_w = {0.6, 0.4, 0},
        .fmt_w = {[SIM_FMT_PNG] = 0.25, [SIM_FMT_JPEG] = 0.55, [SIM_FMT_LZW] = 0.2},
        .jpeg_q_lo = 70, .jpeg_q_hi = 88,
        .skew_sd = 0.5, .skew_max = 3.0, .p_wide_skew = 0.02,
        .shift_sd = 1.5, .shift_max = 5.0,
        .scale_sd = 0.004, .scale_max = 0.01,
        .p_upside_down = 0.03,
        .paper_lo = 225, .paper_hi = 250, .ink_lo = 20, .ink_hi = 60,
        .gradient_max = 0.06, .vignette_max = 0.04, .noise_lo = 1.5, .noise_hi = 4,
        .dust_lo = 0, .dust_hi = 40, .p_streak = 0.03, .blur_lo = 0, .blur_hi = 1,
        .threshold_lo = 50, .threshold_hi = 50, .p_dark_backing = 0, .p_white_clip = 0.8,
    },
    {
        .name = "rough", .summary = "worn 200 dpi G4 feeder: strong skew/shift/scale, dust, blur, upside-down sheets",
        .share = 0.15,
        .dpis = {200, 0, 0}, .dpi_w = {1, 0, 0},
        .fmt_w = {[SIM_FMT_G4] = 1},
        .jpeg_q_lo = 75, .jpeg_q_hi = 75,
        .skew_sd = 1.2, .skew_max = 5.0, .p_wide_skew = 0.25,
        .shift_sd = 4.0, .shift_max = 10.0,
        .scale_sd = 0.012, .scale_max = 0.03,
        .p_upside_down = 0.10,
        .paper_lo = 210, .paper_hi = 245, .ink_lo = 30, .ink_hi = 80,
        .gradient_max = 0.12, .vignette_max = 0.08, .noise_lo = 3, .noise_hi = 7,
        .dust_lo = 50, .dust_hi = 400, .p_streak = 0.2, .blur_lo = 1, .blur_hi = 2,
        .threshold_lo = 30, .threshold_hi = 60, .p_dark_backing = 0.15,
    },
    {
        .name = "faded", .summary = "low-contrast grey JPEG/PNG at 200-300 dpi: dim paper, uneven light, noise",
        .share = 0.10,
        .dpis = {200, 300, 0}, .dpi_w = {0.5, 0.5, 0},
        .fmt_w = {[SIM_FMT_JPEG] = 0.8, [SIM_FMT_PNG] = 0.2},
        .jpeg_q_lo = 50, .jpeg_q_hi = 75,
        .skew_sd = 1.0, .skew_max = 3.0, .p_wide_skew = 0.1,
        .shift_sd = 3.0, .shift_max = 8.0,
        .scale_sd = 0.01, .scale_max = 0.02,
        .p_upside_down = 0.05,
        .paper_lo = 190, .paper_hi = 230, .ink_lo = 60, .ink_hi = 110,
        .gradient_max = 0.15, .vignette_max = 0.10, .noise_lo = 4, .noise_hi = 9,
        .dust_lo = 20, .dust_hi = 150, .p_streak = 0.1, .blur_lo = 1, .blur_hi = 2,
        .threshold_lo = 50, .threshold_hi = 50, .p_dark_backing = 0.05, .p_white_clip = 0.5,
    },
};
static const int n_conditions = (int)(sizeof conditions / sizeof conditions[0]);

const sim_condition_t *sim_conditions(int *pn)
{
    *pn = n_conditions;
    return conditions;
}

const sim_condition_t *sim_condition_find(const char *name)
{
    for (int i = 0; i < n_conditions; i++)
        if (!strcmp(conditions[i].name, name))
            return &conditions[i];
    return NULL;
}

/* Index drawn from weights w[0..n) (not necessarily normalised). */
static int pick_weighted(sim_rng_t *rng, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double u = sim_rng_uniform(rng) * total;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] <= 0)
            continue;
        last = i;
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return last;
}

const sim_condition_t *sim_condition_pick(sim_rng_t *rng)
{
    double w[16];
    for (int i = 0; i < n_conditions; i++)
        w[i] = conditions[i].share;
    return &conditions[pick_weighted(rng, w, n_conditions)];
}

static double uniform_in(sim_rng_t *rng, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_uniform(rng);
}

/* A normal draw with sd, redrawn when beyond ±max (so no pile-up at the limit). */
static double clipped_normal(sim_rng_t *rng, double sd, double max)
{
    if (sd <= 0 || max <= 0)
        return 0;
    for (int i = 0; i < 16; i++) {
        double v = sd * sim_rng_normal(rng);
        if (fabs(v) <= max)
            return v;
    }
    return 0;
}

void sim_scan_packet(const sim_condition_t *c, sim_rng_t *rng, int dpi_force, int fmt_force,
                     sim_scan_t *scan)
{
    memset(scan, 0, sizeof *scan);
    scan->condition = c->name;
    /* Draw every choice even when overridden, so an override of one does
     * not change the others. */
    int dpi = c->dpis[pick_weighted(rng, c->dpi_w, 3)];
    int fmt = pick_weighted(rng, c->fmt_w, SIM_FMT_COUNT);
    int q = sim_rng_range(rng, c->jpeg_q_lo, c->jpeg_q_hi);
    scan->dpi = dpi_force > 0 ? dpi_force : dpi;
    scan->format = fmt_force >= 0 ? (sim_format_t)fmt_force : (sim_format_t)fmt;
    scan->jpeg_quality = q;
    scan->scale = 1;
    scan->streak_x = -1;
}

void sim_scan_sheet(const sim_condition_t *c, sim_rng_t *rng, sim_scan_t *scan)
{
    /* geometry */
    if (c->p_wide_skew > 0 && sim_rng_chance(rng, c->p_wide_skew)) {
        double lo = c->skew_max < 1.5 ? 0 : 1.5;
        double v = uniform_in(rng, lo, c->skew_max);
        scan->skew_deg = sim_rng_chance(rng, 0.5) ? v : -v;
    } else {
        scan->skew_deg = clipped_normal(rng, c->skew_sd, c->skew_max < 1.5 ? c->skew_max : 1.5);
    }
    scan->shift_x_mm = clipped_normal(rng, c->shift_sd, c->shift_max);
    scan->shift_y_mm = clipped_normal(rng, c->shift_sd, c->shift_max);
    scan->scale = 1 + clipped_normal(rng, c->scale_sd, c->scale_max);
    scan->upside_down = sim_rng_chance(rng, c->p_upside_down);
    /* light */
    scan->paper = uniform_in(rng, c->paper_lo, c->paper_hi);
    scan->ink = uniform_in(rng, c->ink_lo, c->ink_hi);
    scan->grad_x = uniform_in(rng, -c->gradient_max, c->gradient_max);
    scan->grad_y = uniform_in(rng, -c->gradient_max, c->gradient_max);
    scan->vignette = uniform_in(rng, 0, c->vignette_max);
    scan->backing = sim_rng_chance(rng, c->p_dark_backing) ? uniform_in(rng, 30, 90)
                                                           : uniform_in(rng, scan->paper - 8, 255);
    if (scan->backing > 255)
        scan->backing = 255;
    /* dirt */
    scan->noise_sd = uniform_in(rng, c->noise_lo, c->noise_hi);
    scan->n_dust = (int)uniform_in(rng, c->dust_lo, c->dust_hi);
    scan->streak_x = -1;
    if (sim_rng_chance(rng, c->p_streak)) {
        /* position in the image, chosen once the width is known: store a fraction */
        scan->streak_x = sim_rng_range(rng, 0, 9999);
    }
    scan->blur = sim_rng_range(rng, c->blur_lo, c->blur_hi);
    double t = sim_rng_range(rng, c->threshold_lo, c->threshold_hi) / 100.0;
    scan->threshold = (int)lround(scan->ink + t * (scan->paper - scan->ink));
    /* Background removal: the cut sits below the darkest paper of this sheet
     * (the illumination fall-off) by 2.5 noise sd, so the paper turns white
     * and ink, pencil and dust stay. */
    scan->white_cut = 256;
    if (sim_rng_chance(rng, c->p_white_clip)) {
        double darkest = scan->paper * (1 - fabs(scan->grad_x) / 2 - fabs(scan->grad_y) / 2 - scan->vignette);
        scan->white_cut = (int)lround(darkest - 2.5 * scan->noise_sd - 2);
    }
}

/* ---------------------------------------------------------------- geometry */

typedef struct {
    double kin, kout;   /* pixels per mm of page and scan */
    double cx, cy;      /* paper centre, mm */
    double cs, sn;      /* cos, sin of the skew */
    double u;           /* +1, or -1 upside down */
    double s, tx, ty;   /* scale, shift in mm */
} xform_t;

static void xform_init(xform_t *t, const sim_scan_t *scan, double w_mm, double h_mm, double kin)
{
    double a = scan->skew_deg * M_PI / 180.0;
    t->kin = kin;
    t->kout = scan->dpi / OMR_MM_PER_INCH;
    t->cx = w_mm / 2;
    t->cy = h_mm / 2;
    t->cs = cos(a);
    t->sn = sin(a);
    t->u = scan->upside_down ? -1 : 1;
    t->s = scan->scale > 0 ? scan->scale : 1;
    t->tx = scan->shift_x_mm;
    t->ty = scan->shift_y_mm;
}

/* Paper (mm) -> image: q = c + t + s·u·R(skew)·(p - c). With y down, R with a
 * positive angle turns clockwise as seen in the image. */
void sim_scan_map(const sim_scan_t *scan, double page_w_mm, double page_h_mm, double x_mm,
                  double y_mm, double *px, double *py)
{
    xform_t t;
    xform_init(&t, scan, page_w_mm, page_h_mm, 1);
    double dx = x_mm - t.cx, dy = y_mm - t.cy;
    double qx = t.cx + t.tx + t.s * t.u * (t.cs * dx - t.sn * dy);
    double qy = t.cy + t.ty + t.s * t.u * (t.sn * dx + t.cs * dy);
    *px = qx * t.kout;
    *py = qy * t.kout;
}

/* Image pixel (ox, oy) -> page pixel coordinates with pixel centres at
 * integers (ready for bilinear sampling). The inverse of sim_scan_map. */
static void xform_inverse(const xform_t *t, double ox, double oy, double *ix, double *iy)
{
    double vx = ((ox + 0.5) / t->kout - t->cx - t->tx) / t->s;
    double vy = ((oy + 0.5) / t->kout - t->cy - t->ty) / t->s;
    double rx = t->u * (t->cs * vx + t->sn * vy);
    double ry = t->u * (-t->sn * vx + t->cs * vy);
    *ix = (t->cx + rx) * t->kin - 0.5;
    *iy = (t->cy + ry) * t->kin - 0.5;
}

/* ------------------------------------------------------------------ passes */

/* Pass 1: the warp with the light. out is w x h grey. Returns -1 on out of memory. */
static int warp_pass(const sim_image_t *page, const sim_scan_t *scan, uint8_t *out, int w, int h)
{
    double kin = page->dpi / OMR_MM_PER_INCH;
    xform_t t;
    xform_init(&t, scan, page->w / kin, page->h / kin, kin);

    /* Grey level of page value v (255 white) under this sheet's paper and
     * ink, times 16 for precision; the gain is applied after. */
    int lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = (int)lround(16.0 * (scan->ink + (scan->paper - scan->ink) * v / 255.0));
    int backing16 = (int)lround(16.0 * scan->backing);

    /* Illumination gain = 1 + col(x) + row(y), in 1/1024: a linear gradient
     * each way and a quadratic fall-off towards the corners. */
    int *colg = malloc(sizeof(int) * (size_t)w);
    if (!colg)
        return -1;
    for (int x = 0; x < w; x++) {
        double fx = (x + 0.5) / w - 0.5;
        colg[x] = (int)lround(1024.0 * (scan->grad_x * fx - scan->vignette * 2 * fx * fx));
    }

    const int pw = page->w, ph = page->h, ps = page->stride;
    const uint8_t *src = page->data;
    double x0, y0, x1, y1, xd, yd;
    xform_inverse(&t, 0, 0, &x0, &y0);
    xform_inverse(&t, 1, 0, &x1, &y1);
    const int32_t dfx = (int32_t)lround((x1 - x0) * 65536.0);
    const int32_t dfy = (int32_t)lround((y1 - y0) * 65536.0);
    for (int oy = 0; oy < h; oy++) {
        double fyr = (oy + 0.5) / h - 0.5;
        int rowg = 1024 + (int)lround(1024.0 * (scan->grad_y * fyr - scan->vignette * 2 * fyr * fyr));
        xform_inverse(&t, 0, oy, &xd, &yd);
        int32_t fx = (int32_t)lround(xd * 65536.0), fy = (int32_t)lround(yd * 65536.0);
        uint8_t *o = out + (size_t)oy * w;
        for (int ox = 0; ox < w; ox++, fx += dfx, fy += dfy) {
            int ix = fx >> 16, iy = fy >> 16;
            int v16;
            if ((unsigned)ix < (unsigned)(pw - 1) && (unsigned)iy < (unsigned)(ph - 1)) {
                int wx = (fx >> 8) & 0xff, wy = (fy >> 8) & 0xff;
                const uint8_t *p = src + (size_t)iy * ps + ix;
                int a = p[0], b = p[1], c = p[ps], d = p[ps + 1];
                if ((a & b & c & d) == 255) {
                    v16 = lut[255]; /* blank paper, most of the page: skip the weights */
                } else {
                    int top = a * (256 - wx) + b * wx;
                    int bot = c * (256 - wx) + d * wx;
                    v16 = lut[(top * (256 - wy) + bot * wy + 32768) >> 16];
                }
            } else {
                v16 = backing16;
            }
            int g = rowg + colg[ox];
            int val = (v16 * g + 8192) >> 14;
            o[ox] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
        }
    }
    free(colg);
    return 0;
}

/* Pass 2: dust specks (mostly dark, some light) and a streak down the page. */
static void dirt_pass(uint8_t *img, int w, int h, const sim_scan_t *scan, sim_rng_t *rng)
{
    double kout = scan->dpi / OMR_MM_PER_INCH;
    for (int i = 0; i < scan->n_dust; i++) {
        double cx = sim_rng_uniform(rng) * w, cy = sim_rng_uniform(rng) * h;
        double r = uniform_in(rng, 0.03, 0.18) * kout;
        int light = sim_rng_chance(rng, 0.1);
        int level = light ? (int)scan->paper : (int)(scan->ink + uniform_in(rng, 0, 70));
        int x0 = (int)floor(cx - r), x1 = (int)ceil(cx + r);
        int y0 = (int)floor(cy - r), y1 = (int)ceil(cy + r);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < h; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++) {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                if (dx * dx + dy * dy > r * r)
                    continue;
                uint8_t *p = img + (size_t)y * w + x;
                if (light ? *p < level : *p > level)
                    *p = (uint8_t)level;
            }
    }
    if (scan->streak_x >= 0) {
        int sx = (int)((long)scan->streak_x * w / 10000);
        int sw = 1 + (int)(kout / 12); /* about 0.1 mm */
        int f = (int)lround(1024 * uniform_in(rng, 0.55, 0.85));
        for (int y = 0; y < h; y++)
            for (int x = sx; x < sx + sw && x < w; x++) {
                uint8_t *p = img + (size_t)y * w + x;
                *p = (uint8_t)((*p * f) >> 10);
            }
    }
}

/* Pass 3: defocus, a separable [1 2 1]/4 x [1 2 1]/4 kernel applied `times`
 * times, rows and columns in one sweep (edges repeat the border pixel). */
static int blur_pass(uint8_t *img, int w, int h, int times)
{
    uint8_t *prev = malloc((size_t)w), *cur = malloc((size_t)w);
    uint16_t *v = malloc(sizeof(uint16_t) * (size_t)(w + 2));
    if (!prev || !cur || !v) {
        free(prev);
        free(cur);
        free(v);
        return -1;
    }
    for (int k = 0; k < times; k++) {
        memcpy(prev, img, (size_t)w);
        for (int y = 0; y < h; y++) {
            uint8_t *r = img + (size_t)y * w;
            const uint8_t *below = y + 1 < h ? r + w : r;
            memcpy(cur, r, (size_t)w); /* the original row, before it is overwritten */
            for (int x = 0; x < w; x++)
                v[x + 1] = (uint16_t)(prev[x] + 2 * cur[x] + below[x]);
            v[0] = v[1];
            v[w + 1] = v[w];
            for (int x = 0; x < w; x++)
                r[x] = (uint8_t)((v[x] + 2 * v[x + 1] + v[x + 2] + 8) >> 4);
            memcpy(prev, cur, (size_t)w);
        }
    }
    free(prev);
    free(cur);
    free(v);
    return 0;
}

/* Standard normal quantiles of the 256 equal-probability slices, for cheap
 * per-pixel Gaussian noise: one random byte picks a slice. */
static void normal_table(double sd, int table[256])
{
    for (int i = 0; i < 256; i++) {
        double p = (i + 0.5) / 256.0, lo = -8, hi = 8;
        for (int k = 0; k < 60; k++) {
            double mid = (lo + hi) / 2;
            if (0.5 * erfc(-mid / M_SQRT2) < p)
                lo = mid;
            else
                hi = mid;
        }
        table[i] = (int)lround(sd * (lo + hi) / 2);
    }
}

/* Pass 4: sensor noise, then the output: grey (with background removal) or
 * bitonal threshold. Returns 0 (the int keeps the passes' shape). */
static int finish_pass(const uint8_t *img, int w, int h, const sim_scan_t *scan, sim_rng_t *rng,
                        sim_image_t *out)
{
    int table[256];
    int noisy = scan->noise_sd > 0.05;
    if (noisy)
        normal_table(scan->noise_sd, table);
    if (out->bpp == 1) {
        /* Bitonal: noise and threshold in one step, 8 pixels per random word;
         * the clamp to 0..255 cannot change which side of t a value is on. */
        const int t = scan->threshold;
        for (int y = 0; y < h; y++) {
            const uint8_t *in = img + (size_t)y * w;
            uint8_t *o = out->data + (size_t)y * out->stride;
            for (int x0 = 0; x0 < w; x0 += 8) {
                uint64_t bits = noisy ? sim_rng_u64(rng) : 0;
                int n = w - x0 < 8 ? w - x0 : 8;
                unsigned byte = 0;
                for (int k = 0; k < n; k++, bits >>= 8) {
                    int v = in[x0 + k] + (noisy ? table[bits & 0xff] : 0);
                    byte |= (unsigned)(v < t) << (7 - k);
                }
                o[x0 >> 3] = (uint8_t)byte;
            }
        }
        return 0;
    }
    /* Grey: noise, clamp, background removal. */
    const int cut = scan->white_cut;
    for (int y = 0; y < h; y++) {
        const uint8_t *in = img + (size_t)y * w;
        uint8_t *o = out->data + (size_t)y * out->stride;
        uint64_t bits = 0;
        for (int x = 0; x < w; x++) {
            int v = in[x];
            if (noisy) {
                if ((x & 7) == 0)
                    bits = sim_rng_u64(rng);
                v += table[bits & 0xff];
                bits >>= 8;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
            }
            o[x] = (uint8_t)(v >= cut ? 255 : v);
        }
    }
    return 0;
}

sim_image_t *sim_scan_page(const sim_image_t *page, const sim_scan_t *scan, sim_rng_t *rng)
{
    if (!page || page->bpp != 8 || page->dpi <= 0 || scan->dpi <= 0)
        return NULL;
    /* The scan covers the paper size at the scan resolution. */
    double ratio = (double)scan->dpi / page->dpi;
    int w = (int)lround(page->w * ratio), h = (int)lround(page->h * ratio);
    uint8_t *grey = malloc((size_t)w * (size_t)h);
    sim_image_t *out = sim_image_new(w, h, sim_format_is_bitonal(scan->format) ? 1 : 8, scan->dpi);
    if (!grey || !out) {
        free(grey);
        sim_image_free(out);
        return NULL;
    }
    if (warp_pass(page, scan, grey, w, h) != 0) {
        free(grey);
        sim_image_free(out);
        return NULL;
    }
    dirt_pass(grey, w, h, scan, rng);
    int rc = scan->blur > 0 ? blur_pass(grey, w, h, scan->blur) : 0;
    if (rc == 0)
        rc = finish_pass(grey, w, h, scan, rng, out);
    free(grey);
    if (rc != 0) {
        sim_image_free(out);
        return NULL;
    }
    return out;
}
