/* pen.c -- the respondent's ink on a printed page: anti-aliased pen strokes,
 * the mark styles people use (circles, ticks, crosses, fills, faint pencil,
 * erasures, cross-outs, strays and margin notes; on mark sheets bubbles
 * filled in, ticked or crossed, light pencil, a pen touch in a blank one),
 * sim_fill_sheet and the cell truth (sim.h, cells.csv).
 *
 * Drawing is direct on the 8-bit grey PIX (no cairo round trip; a 300 dpi A4
 * page is 8.7 Mpx and copying it twice would cost more than all the ink).
 * A stroke is a polyline with a round pen: its coverage is the maximum over
 * its segments of (half width + 0.5 - distance), so a stroke crossing itself
 * is not darker, and it darkens the paper towards the pen's grey level.
 *
 * Ink never lands in another region: every mark is drawn with a list of
 * forbidden rectangles (the other regions' targets and option texts, the
 * corner marks, the barcode; 0.25 mm wider), and each mark's geometry is
 * first fitted into the room its region has, so the clipping is a safety net
 * and rarely shows. That is what lets the truth say "blank" for a region.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fill_internal.h"

/* ------------------------------------------------------------- errors */

static _Thread_local char fill_error[2048];

void sim_fill_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fill_error, sizeof fill_error, fmt, ap);
    va_end(ap);
}

const char *sim_fill_last_error(void) { return fill_error[0] ? fill_error : "no error"; }

/* ------------------------------------------------------------- strokes */

sim_pen_t sim_pen_from_ink(const sim_canvas_t *c, const sim_ink_t *ink, double scale)
{
    sim_pen_t p;
    p.width = ink->width_mm * scale * c->px_per_mm;
    if (p.width < 1.0)
        p.width = 1.0;
    p.level = ink->level;
    p.opacity = ink->opacity;
    p.grain = ink->grain;
    if (ink->grain) {
        /* An ordinary pencil (HB to B, the pencils mark-reading forms ask
         * for) pressed as people press when they answer. Measured on real
         * 300-dpi scans such strokes sit at grey 60-100 of 255 in their
         * core (print contrast ~0.6-0.75), with paper-grain pits that stay
         * light: under a 50 % bitonal threshold the stroke survives, broken
         * by small gaps, and only a threshold far below the middle or a
         * strong blur thins it to dots. The traits' level 50-100 becomes
         * 10-40 (2B .. HB) and the graphite covers fully where it touches
         * (opacity 1; the grain breaks it, see ink_px). `faint` pencil and
         * erasure residue are separate pens (grain 1): light on purpose. */
        p.level = 0.6 * ink->level - 20;
        p.opacity = 1.0;
        p.grain = 2;
    }
    p.gaps = 0;
    return p;
}

/* A hash of a pixel for pencil grain and broken erasure strokes. */
static inline uint32_t hash3(uint64_t seed, uint32_t a, uint32_t b)
{
    uint64_t h = seed ^ ((uint64_t)a * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)b * 0xc2b2ae3d27d4eb4fULL);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    return (uint32_t)(h >> 32);
}

static int in_forbid(const sim_irect_t *f, int nf, int x, int y)
{
    for (int i = 0; i < nf; i++)
        if (x >= f[i].x0 && x < f[i].x1 && y >= f[i].y0 && y < f[i].y1)
            return 1;
    return 0;
}

/* The forbidden rects touching [x0,x1)x[y0,y1), copied to out (<= 64). */
static int local_forbid(const sim_canvas_t *c, int x0, int y0, int x1, int y1, sim_irect_t *out)
{
    int n = 0;
    for (int i = 0; i < c->n_forbid && n < 64; i++) {
        const sim_irect_t *f = &c->forbid[i];
        if (f->x1 > x0 && f->x0 < x1 && f->y1 > y0 && f->y0 < y1)
            out[n++] = *f;
    }
    return n;
}

/* Darken pixel (x, y) towards the pen's level by coverage a (0..1). */
static inline void ink_px(sim_canvas_t *c, const sim_pen_t *pen, int x, int y, double a)
{
    if (pen->grain == 1) { /* light pencil: the lead only touches the top of the paper grain */
        a *= 0.45 + 0.55 * (hash3(c->grain_seed, (uint32_t)x, (uint32_t)y) >> 8) * (1.0 / 16777216.0);
    } else if (pen->grain == 2) {
        /* Ordinary pencil: most of the stroke is graphite at 70-100 % of
         * full cover, 12 % of it paper pits at 35 % (mean 0.79). */
        double u = (hash3(c->grain_seed, (uint32_t)x, (uint32_t)y) >> 8) * (1.0 / 16777216.0);
        a *= u < 0.12 ? 0.35 : 0.7 + 0.3 * (u - 0.12) / 0.88;
    }
    a *= pen->opacity;
    l_uint32 *line = c->data + (size_t)y * (size_t)c->wpl;
    int p = GET_DATA_BYTE(line, x);
    if (p <= pen->level)
        return;
    int v = (int)lround(p - (p - pen->level) * a);
    SET_DATA_BYTE(line, x, v < 0 ? 0 : v);
}

/* One polyline in pixels. */
static void stroke_px(sim_canvas_t *c, const sim_pen_t *pen, const double *pt, int n)
{
    if (n < 1)
        return;
    double r = pen->width / 2, pad = r + 1.0;
    double minx = pt[0], maxx = pt[0], miny = pt[1], maxy = pt[1];
    for (int i = 1; i < n; i++) {
        minx = fmin(minx, pt[2 * i]);
        maxx = fmax(maxx, pt[2 * i]);
        miny = fmin(miny, pt[2 * i + 1]);
        maxy = fmax(maxy, pt[2 * i + 1]);
    }
    int bx0 = (int)floor(minx - pad), by0 = (int)floor(miny - pad);
    int bx1 = (int)ceil(maxx + pad) + 1, by1 = (int)ceil(maxy + pad) + 1;
    if (bx0 < 0) bx0 = 0;
    if (by0 < 0) by0 = 0;
    if (bx1 > c->w) bx1 = c->w;
    if (by1 > c->h) by1 = c->h;
    if (bx0 >= bx1 || by0 >= by1)
        return;
    int bw = bx1 - bx0, bh = by1 - by0;
    size_t need = (size_t)bw * (size_t)bh;
    if (need > c->cov_size) {
        float *nc = realloc(c->cov, need * sizeof *nc);
        if (!nc)
            return; /* out of memory: the stroke is lost, the page stays valid */
        c->cov = nc;
        c->cov_size = need;
    }
    memset(c->cov, 0, need * sizeof *c->cov);
    int nseg = n > 1 ? n - 1 : 1;
    for (int s = 0; s < nseg; s++) {
        double ax = pt[2 * s], ay = pt[2 * s + 1];
        double bxp = n > 1 ? pt[2 * s + 2] : ax, byp = n > 1 ? pt[2 * s + 3] : ay;
        double dx = bxp - ax, dy = byp - ay, len2 = dx * dx + dy * dy;
        int x0 = (int)floor(fmin(ax, bxp) - pad), x1 = (int)ceil(fmax(ax, bxp) + pad) + 1;
        int y0 = (int)floor(fmin(ay, byp) - pad), y1 = (int)ceil(fmax(ay, byp) + pad) + 1;
        if (x0 < bx0) x0 = bx0;
        if (y0 < by0) y0 = by0;
        if (x1 > bx1) x1 = bx1;
        if (y1 > by1) y1 = by1;
        for (int y = y0; y < y1; y++) {
            float *row = c->cov + (size_t)(y - by0) * (size_t)bw - bx0;
            double py = y + 0.5 - ay;
            for (int x = x0; x < x1; x++) {
                double px = x + 0.5 - ax;
                double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
                if (t < 0) t = 0;
                if (t > 1) t = 1;
                double ex = px - t * dx, ey = py - t * dy;
                double a = r + 0.5 - sqrt(ex * ex + ey * ey);
                if (a <= 0)
                    continue;
                if (a > 1)
                    a = 1;
                if (a > row[x])
                    row[x] = (float)a;
            }
        }
    }
    sim_irect_t fl[64];
    int nf = local_forbid(c, bx0, by0, bx1, by1, fl);
    for (int y = by0; y < by1; y++) {
        const float *row = c->cov + (size_t)(y - by0) * (size_t)bw - bx0;
        for (int x = bx0; x < bx1; x++)
            if (row[x] > 0 && !(nf && in_forbid(fl, nf, x, y)))
                ink_px(c, pen, x, y, row[x]);
    }
}

void sim_pen_stroke_mm(sim_canvas_t *c, const sim_pen_t *pen, const double *xy, int n)
{
    double buf[2 * 512];
    double *pt = n <= 512 ? buf : malloc((size_t)n * 2 * sizeof *pt);
    if (!pt)
        return;
    for (int i = 0; i < 2 * n; i++)
        pt[i] = xy[i] * c->px_per_mm;
    if (pen->gaps <= 0) {
        stroke_px(c, pen, pt, n);
    } else {
        /* An erased stroke: pieces of ~6 points, some rubbed away entirely. */
        c->n_strokes++;
        for (int i = 0; i < n - 1; i += 6) {
            int m = n - i < 7 ? n - i : 7;
            double u = hash3(c->grain_seed, (uint32_t)c->n_strokes, (uint32_t)i) * (1.0 / 4294967296.0);
            if (u >= pen->gaps)
                stroke_px(c, pen, pt + 2 * i, m);
        }
    }
    if (pt != buf)
        free(pt);
}

void sim_pen_image_mm(sim_canvas_t *c, const sim_pen_t *pen, const uint8_t *img, int iw, int ih, double x,
                      double y, double w, double h)
{
    double X0 = x * c->px_per_mm, Y0 = y * c->px_per_mm;
    double W = w * c->px_per_mm, H = h * c->px_per_mm;
    if (W < 1 || H < 1)
        return;
    int x0 = (int)floor(X0), y0 = (int)floor(Y0), x1 = (int)ceil(X0 + W), y1 = (int)ceil(Y0 + H);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    sim_irect_t fl[64];
    int nf = local_forbid(c, x0, y0, x1, y1, fl);
    /* Pen width shapes the stroke: thin pens erode MNIST's soft edges, thick
     * ones spread them (a power curve on the coverage). */
    double gamma = pen->width < 0.45 * c->px_per_mm ? 1.6 : pen->width > 0.65 * c->px_per_mm ? 0.6 : 1.0;
    for (int py = y0; py < y1; py++) {
        double v = (py + 0.5 - Y0) / H * ih - 0.5;
        int j0 = (int)floor(v);
        double fy = v - j0;
        for (int px = x0; px < x1; px++) {
            double u = (px + 0.5 - X0) / W * iw - 0.5;
            int i0 = (int)floor(u);
            double fx = u - i0;
            double s = 0;
            for (int dj = 0; dj < 2; dj++)
                for (int di = 0; di < 2; di++) {
                    int ii = i0 + di, jj = j0 + dj;
                    if (ii < 0 || jj < 0 || ii >= iw || jj >= ih)
                        continue;
                    s += img[jj * iw + ii] * (di ? fx : 1 - fx) * (dj ? fy : 1 - fy);
                }
            if (s <= 4)
                continue;
            if (nf && in_forbid(fl, nf, px, py))
                continue;
            double a = s / 255.0 * 1.3; /* MNIST strokes have soft grey edges and a solid core */
            if (gamma != 1.0)
                a = pow(a, gamma);
            ink_px(c, pen, px, py, a > 1 ? 1 : a);
        }
    }
}

/* ------------------------------------------------------------- shapes */

#define MAXPT 1024

/* A hand-drawn loop: ellipse (cx, cy, rx, ry) turned by rot, from angle a0
 * over sweep (radians; > 2 pi goes round again), the radius wobbling by
 * `wobble` (relative) and drifting by `drift` per turn, so the end misses
 * the start as real loops do. Writes points to xy, returns their count. */
static int loop_points(sim_rng_t *rng, double cx, double cy, double rx, double ry, double rot, double a0,
                       double sweep, double wobble, double drift, double *xy)
{
    double ph2 = 2 * M_PI * sim_rng_uniform(rng), ph3 = 2 * M_PI * sim_rng_uniform(rng);
    double w2 = wobble * sim_rng_uniform(rng), w3 = wobble * 0.5 * sim_rng_uniform(rng);
    int n = (int)(fabs(sweep) * fmax(rx, ry) / 0.12) + 2;
    if (n > MAXPT)
        n = MAXPT;
    double cr = cos(rot), sr = sin(rot);
    for (int i = 0; i < n; i++) {
        double t = sweep * i / (n - 1);
        double a = a0 + t;
        double k = 1 + w2 * sin(2 * a + ph2) + w3 * sin(3 * a + ph3) + drift * t / (2 * M_PI);
        double ex = rx * k * cos(a), ey = ry * k * sin(a);
        xy[2 * i] = cx + ex * cr - ey * sr;
        xy[2 * i + 1] = cy + ex * sr + ey * cr;
    }
    return n;
}

/* A straight-ish stroke from a to b through a slightly bowed middle. */
static void line_mm(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double ax, double ay, double bx,
                    double by)
{
    double xy[2 * 16];
    double bow = 0.04 * sim_rng_normal(rng);
    double dx = bx - ax, dy = by - ay;
    for (int i = 0; i < 16; i++) {
        double t = i / 15.0, b = bow * 4 * t * (1 - t);
        xy[2 * i] = ax + dx * t - dy * b;
        xy[2 * i + 1] = ay + dy * t + dx * b;
    }
    sim_pen_stroke_mm(c, pen, xy, 16);
}

/* A tick inside a square of side s centred at (cx, cy); its long arm runs
 * `over` mm further up-right. */
static void tick_mm(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double cx, double cy, double s,
                    double over, double jit)
{
    double x0 = cx - 0.35 * s + jit * sim_rng_normal(rng), y0 = cy + 0.0 * s + jit * sim_rng_normal(rng);
    double x1 = cx - 0.08 * s + jit * sim_rng_normal(rng), y1 = cy + 0.32 * s + jit * sim_rng_normal(rng);
    double x2 = cx + 0.38 * s + over * 0.7, y2 = cy - 0.38 * s - over;
    double xy[2 * 24];
    int n = 0;
    for (int i = 0; i < 8; i++, n++) {
        double t = i / 7.0;
        xy[2 * n] = x0 + (x1 - x0) * t;
        xy[2 * n + 1] = y0 + (y1 - y0) * t;
    }
    for (int i = 1; i < 16; i++, n++) {
        double t = i / 15.0, b = 0.06 * s * sin(M_PI * t);
        xy[2 * n] = x1 + (x2 - x1) * t + b;
        xy[2 * n + 1] = y1 + (y2 - y1) * t + b * 0.5;
    }
    sim_pen_stroke_mm(c, pen, xy, n);
}

static void cross_mm(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double cx, double cy, double s,
                     double jit)
{
    double h = s / 2;
    line_mm(c, pen, rng, cx - h + jit * sim_rng_normal(rng), cy - h + jit * sim_rng_normal(rng),
            cx + h + jit * sim_rng_normal(rng), cy + h + jit * sim_rng_normal(rng));
    line_mm(c, pen, rng, cx + h + jit * sim_rng_normal(rng), cy - h + jit * sim_rng_normal(rng),
            cx - h + jit * sim_rng_normal(rng), cy + h + jit * sim_rng_normal(rng));
}

/* Fill an ellipse (or, square=1, a rectangle) of half-sides hx, hy with a
 * zigzag whose turns are `step` mm apart. */
static void fill_zigzag(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double cx, double cy, double hx,
                        double hy, int square, double step)
{
    double xy[2 * MAXPT];
    int n = 0, side = 0;
    double slope = 0.15 * sim_rng_normal(rng);
    for (double y = -hy; y <= hy && n < MAXPT; y += step, side ^= 1) {
        double k = square ? 1 : sqrt(fmax(0, 1 - (y / hy) * (y / hy)));
        double x = (side ? 1 : -1) * hx * k * (0.85 + 0.15 * sim_rng_uniform(rng));
        xy[2 * n] = cx + x;
        xy[2 * n + 1] = cy + y + slope * x;
        n++;
    }
    sim_pen_stroke_mm(c, pen, xy, n);
}

/* The way a box is blacked out: a zigzag of turns closer than the pen is wide. */
static void fill_mm(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double cx, double cy, double hx,
                    double hy, int square)
{
    fill_zigzag(c, pen, rng, cx, cy, hx, hy, square, fmax(pen->width / c->px_per_mm * 0.8, 0.18));
}

/* ------------------------------------------------------------- geometry */

static double rect_gap(omr_rect_t a, omr_rect_t b)
{
    double dx = fmax(0, fmax(a.x - (b.x + b.w), b.x - (a.x + a.w)));
    double dy = fmax(0, fmax(a.y - (b.y + b.h), b.y - (a.y + a.h)));
    return sqrt(dx * dx + dy * dy);
}

static int rect_nonzero(omr_rect_t r) { return r.w > 0 && r.h > 0; }

/* Everything on a page that ink must keep away from, with its owner region
 * (-1: a corner mark or the barcode). */
typedef struct {
    omr_rect_t r;
    int owner;
} keepout_t;

typedef struct {
    keepout_t *k;
    int n;
    sim_irect_t *scratch; /* canvas forbid list being built */
} page_keepout_t;

static int keepout_build(const omr_page_t *pg, page_keepout_t *ko)
{
    ko->k = malloc(((size_t)pg->n_regions * 2 + 5) * sizeof *ko->k);
    ko->scratch = malloc(((size_t)pg->n_regions * 2 + 5) * sizeof *ko->scratch);
    if (!ko->k || !ko->scratch)
        return -1;
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        ko->k[n++] = (keepout_t){pg->regions[i].box, i};
        if (rect_nonzero(pg->regions[i].label))
            ko->k[n++] = (keepout_t){pg->regions[i].label, i};
    }
    for (int m = 0; m < 4; m++) {
        double s = pg->mark_size;
        ko->k[n++] = (keepout_t){{pg->mark_x[m] - s / 2 - 1, pg->mark_y[m] - s / 2 - 1, s + 2, s + 2}, -1};
    }
    if (rect_nonzero(pg->barcode))
        ko->k[n++] = (keepout_t){{pg->barcode.x - 1, pg->barcode.y - 1, pg->barcode.w + 2, pg->barcode.h + 2}, -1};
    ko->n = n;
    return 0;
}

/* Room (mm) around rect r before touching anything not owned by `own`. */
static double room_around(const page_keepout_t *ko, const omr_page_t *pg, int own, omr_rect_t r)
{
    double room = fmin(fmin(r.x, r.y), fmin(pg->width - r.x - r.w, pg->height - r.y - r.h));
    for (int i = 0; i < ko->n; i++)
        if (ko->k[i].owner != own || own < 0)
            room = fmin(room, rect_gap(r, ko->k[i].r));
    return room;
}

/* Make the canvas forbid everything not owned by `own` (own -1: everything). */
static void forbid_others(sim_canvas_t *c, page_keepout_t *ko, int own)
{
    int n = 0;
    double m = 0.25; /* mm: a little wider, so a scan's small misregistration still reads blank */
    for (int i = 0; i < ko->n; i++) {
        if (own >= 0 && ko->k[i].owner == own)
            continue;
        omr_rect_t r = ko->k[i].r;
        ko->scratch[n++] = (sim_irect_t){(int)floor((r.x - m) * c->px_per_mm), (int)floor((r.y - m) * c->px_per_mm),
                                         (int)ceil((r.x + r.w + m) * c->px_per_mm),
                                         (int)ceil((r.y + r.h + m) * c->px_per_mm)};
    }
    c->forbid = ko->scratch;
    c->n_forbid = n;
}

/* ------------------------------------------------------------- marks */

static const char *const circle_style_name[SIM_CS_COUNT] = {
    "circle", "circle_offset", "circle_open", "circle_twice", "circle_cross", "circle_text",
    "circle_both", "tick", "tick_beside", "cross", "cross_beside", "fill"};

static const char *const check_style_name[SIM_KS_COUNT] = {"tick", "tick_over", "cross", "fill"};

static int pick(sim_rng_t *rng, const double *w, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += w[i];
    double u = sim_rng_uniform(rng) * s;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

/* An ellipse loop around rect t (mm) that stays within `room` of it. */
static void loop_around(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, omr_rect_t t, double room,
                        double care)
{
    double pw = pen->width / c->px_per_mm;
    /* As wide a margin as the neighbours allow, up to 1.2 mm; the ends of
     * the text are cut by the loop, as when people circle a long line. */
    double e = fmin(1.2, fmax(0.05, room - pw / 2 - 0.2));
    double cx = t.x + t.w / 2, cy = t.y + t.h / 2;
    double rx = t.w / 2 + e + 0.5, ry = t.h / 2 + e * (0.75 + 0.25 * sim_rng_uniform(rng));
    double xy[2 * MAXPT];
    double sweep = 2 * M_PI + 0.2 + 0.4 * sim_rng_uniform(rng);
    int n = loop_points(rng, cx, cy, rx, ry, 0.01 * sim_rng_normal(rng), M_PI * (0.6 + 0.3 * sim_rng_uniform(rng)),
                        -sweep, 0.02 + 0.03 * (1 - care), 0.02, xy);
    sim_pen_stroke_mm(c, pen, xy, n);
}

/* Draw a mark of style st on the circle target g. Returns the style drawn
 * (a style that does not fit falls back to a plain circle). */
static int draw_circle_mark(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_page_t *pg,
                            page_keepout_t *ko, int ri, int st, double care)
{
    const omr_region_t *g = &pg->regions[ri];
    double cx = g->box.x + g->box.w / 2, cy = g->box.y + g->box.h / 2, ring = g->box.w / 2;
    double pw = pen->width / c->px_per_mm;
    /* Room for ink around the centre: the box plus the gap to the neighbours. */
    double reach = ring + room_around(ko, pg, ri, g->box) - pw / 2 - 0.2;
    double sd = 0.08 + 0.3 * (1 - care);
    double xy[2 * MAXPT];
    if ((st == SIM_CS_TEXT || st == SIM_CS_BOTH) && !rect_nonzero(g->label))
        st = SIM_CS_CIRCLE;
    if (st == SIM_CS_TEXT || st == SIM_CS_BOTH) {
        /* People circle the start of the text, not the whole printed line. */
        omr_rect_t t = g->label;
        double len = fmin(t.w, 12 + 25 * sim_rng_uniform(rng));
        t.w = len;
        if (st == SIM_CS_BOTH) {
            double x0 = cx - ring * 0.7;
            t.w = t.x + len - x0;
            t.x = x0;
            t.y = fmin(t.y, cy - ring * 0.6);
            t.h = fmax(g->label.y + g->label.h, cy + ring * 0.6) - t.y;
        }
        double room = room_around(ko, pg, ri, t);
        if (room < pw / 2 + 0.1)
            st = SIM_CS_CIRCLE;
        else {
            loop_around(c, pen, rng, t, room, care);
            return st;
        }
    }
    double rx = fmin(ring * (0.75 + 0.22 * sim_rng_uniform(rng)), reach - 0.1);
    double ry = rx * (0.8 + 0.3 * sim_rng_uniform(rng));
    double ox = sd * sim_rng_normal(rng), oy = sd * sim_rng_normal(rng);
    double rot = 0.5 * sim_rng_normal(rng), a0 = 2 * M_PI * sim_rng_uniform(rng);
    double wob = 0.03 + 0.08 * (1 - care);
    double sweep = 2 * M_PI + 0.15 + 0.5 * sim_rng_uniform(rng);
    double drift = 0.03 * sim_rng_normal(rng);
    int n;
    switch (st) {
    case SIM_CS_OFFSET: {
        double a = 2 * M_PI * sim_rng_uniform(rng), d = 0.7 + 0.5 * sim_rng_uniform(rng);
        ox = d * cos(a);
        oy = d * sin(a);
        break;
    }
    case SIM_CS_OPEN:
        sweep = 2 * M_PI * (0.72 + 0.18 * sim_rng_uniform(rng));
        break;
    case SIM_CS_TWICE:
        sweep = 4 * M_PI + 0.3 * sim_rng_uniform(rng);
        drift = 0.06 + 0.06 * sim_rng_uniform(rng);
        break;
    case SIM_CS_CROSSING: /* a loop smaller than the number: it cuts the digit */
        rx = 0.75 + 0.35 * sim_rng_uniform(rng);
        ry = rx * (0.8 + 0.3 * sim_rng_uniform(rng));
        break;
    case SIM_CS_TICK:
    case SIM_CS_TICK_BESIDE: {
        double s = fmin(2.2 + 0.8 * sim_rng_uniform(rng), 2 * (reach - 0.3));
        double dx = st == SIM_CS_TICK_BESIDE ? -fmin(1.4, reach - s * 0.5 - 0.1) : 0.2;
        tick_mm(c, pen, rng, cx + dx + ox, cy + oy, s, 0, 0.1 * (1 - care));
        return st;
    }
    case SIM_CS_CROSS:
    case SIM_CS_CROSS_BESIDE: {
        double s = fmin(2.0 + 0.8 * sim_rng_uniform(rng), 1.4 * (reach - 0.3));
        double dx = st == SIM_CS_CROSS_BESIDE ? -fmin(1.3, reach - s * 0.7 - 0.1) : 0;
        cross_mm(c, pen, rng, cx + dx + ox, cy + oy, s, 0.1 * (1 - care));
        return st;
    }
    case SIM_CS_FILL: {
        double h = fmin(1.3 + 0.5 * sim_rng_uniform(rng), reach - 0.2);
        fill_mm(c, pen, rng, cx + ox, cy + oy, h, h * 1.1, 0);
        return st;
    }
    default:
        break;
    }
    /* Keep the whole loop (with its wobble and drift) within reach. */
    double grow = 1 + wob * 1.5 + fabs(drift) * sweep / (2 * M_PI);
    double ext = sqrt(ox * ox + oy * oy) + fmax(rx, ry) * grow;
    if (ext > reach && ext > 0) {
        double k = reach / ext;
        ox *= k;
        oy *= k;
        rx *= k;
        ry *= k;
    }
    n = loop_points(rng, cx + ox, cy + oy, rx, ry, rot, a0, sweep, wob, drift, xy);
    sim_pen_stroke_mm(c, pen, xy, n);
    return st;
}

/* A mark of style st in the checkbox g. */
static int draw_check_mark(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_page_t *pg,
                           page_keepout_t *ko, int ri, int st, double care)
{
    const omr_region_t *g = &pg->regions[ri];
    double cx = g->box.x + g->box.w / 2, cy = g->box.y + g->box.h / 2;
    double s = fmin(g->box.w, g->box.h);
    double pw = pen->width / c->px_per_mm;
    double room = room_around(ko, pg, ri, g->box) - pw / 2 - 0.2;
    double jit = 0.05 + 0.15 * (1 - care);
    double ox = jit * sim_rng_normal(rng), oy = jit * sim_rng_normal(rng);
    switch (st) {
    case SIM_KS_TICK_OVER: {
        double over = fmin(1.0 + 2.0 * sim_rng_uniform(rng), room);
        if (over < 0.3)
            st = SIM_KS_TICK;
        else {
            tick_mm(c, pen, rng, cx + ox, cy + oy, s * 0.85, over, jit);
            return st;
        }
    }
    /* fallthrough */
    case SIM_KS_TICK: {
        /* 75-115 % of the box; a large tick only where there is room. */
        double k = fmin(0.75 + 0.4 * sim_rng_uniform(rng), 1 + 2 * fmax(0, room) / s);
        tick_mm(c, pen, rng, cx + ox, cy + oy + 0.05 * s, s * k, 0, jit);
        return st;
    }
    case SIM_KS_CROSS:
        cross_mm(c, pen, rng, cx + ox, cy + oy, s * (0.65 + 0.3 * sim_rng_uniform(rng)), jit);
        return st;
    default:
        fill_mm(c, pen, rng, cx, cy, g->box.w * 0.4, g->box.h * 0.4, 1);
        return SIM_KS_FILL;
    }
}

/* Mark bubble g (a round CHECK region) in style st (SIM_BS_*). Returns the
 * style's name for the truth: how far a fill reached is drawn here, per
 * bubble, from the respondent's care (0 sloppy .. 1 neat):
 *   fill         filled to 0.85-0.98 of its radii, near its centre: a pen
 *                fills up to the outline's inner edge, the zigzag's turns
 *                fall short of it here and there
 *   fill_short   filled to 0.55-0.75 of its radii: short of the outline all
 *                round (a hurried fill; the middle is covered)
 *   fill_over    to 1.08-1.25 of its radii: over the outline
 *   fill_offset  off-centre by 0.3-0.5 of its radius (the pen slid)
 *   tick, cross  through the bubble instead of a fill
 * A sloppy hand spaces the zigzag's turns wider, which leaves slivers of
 * paper in the fill. */
static const char *draw_bubble_mark(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_page_t *pg,
                                    page_keepout_t *ko, int ri, int st, double care)
{
    const omr_region_t *g = &pg->regions[ri];
    double cx = g->box.x + g->box.w / 2, cy = g->box.y + g->box.h / 2;
    double d = fmin(g->box.w, g->box.h), rad = d / 2;
    double pw = pen->width / c->px_per_mm;
    double reach = rad + room_around(ko, pg, ri, g->box) - pw / 2 - 0.2; /* from the centre */
    double jit = 0.05 + 0.15 * (1 - care);
    double ox = jit * sim_rng_normal(rng), oy = jit * sim_rng_normal(rng);
    if (st == SIM_BS_TICK) {
        /* As large as the bubble or a little larger, its corner low in it;
         * aimed anywhere from the long arm through the middle (tick_mm's
         * long arm crosses its centre line 0.13 s to the right) to the
         * tick's own centre on the bubble's. */
        double size = fmin(d * (0.9 + 0.4 * sim_rng_uniform(rng)), 1.6 * reach);
        tick_mm(c, pen, rng, cx + ox - 0.13 * size * sim_rng_uniform(rng), cy + oy, size, 0, jit);
        return "tick";
    }
    if (st == SIM_BS_CROSS) {
        cross_mm(c, pen, rng, cx + ox, cy + oy, fmin(d * (0.75 + 0.35 * sim_rng_uniform(rng)), 1.3 * reach), jit);
        return "cross";
    }
    const char *name = "fill";
    double u = sim_rng_uniform(rng), k = 0.85 + 0.13 * sim_rng_uniform(rng);
    double p_short = 0.04 + 0.08 * (1 - care), p_over = 0.04 + 0.06 * (1 - care), p_offset = 0.02 + 0.05 * (1 - care);
    if (u < p_short) {
        k = 0.55 + 0.2 * sim_rng_uniform(rng);
        name = "fill_short";
    } else if (u < p_short + p_over) {
        k = 1.08 + 0.17 * sim_rng_uniform(rng);
        name = "fill_over";
    } else if (u < p_short + p_over + p_offset) {
        double a = 2 * M_PI * sim_rng_uniform(rng), off = rad * (0.3 + 0.2 * sim_rng_uniform(rng));
        ox = off * cos(a);
        oy = off * sin(a);
        name = "fill_offset";
    }
    /* never into the neighbours (the canvas clips there anyway) */
    double ext = k * rad + hypot(ox, oy);
    if (ext > reach && ext > 0)
        k *= reach / ext;
    /* Beside a turn of the zigzag its two strokes are two steps apart: a
     * step of half the pen's width covers all, a sloppy one leaves slivers. */
    double step = fmax(0.12, pw * (0.4 + 0.4 * (1 - care) * sim_rng_uniform(rng)));
    double hx = fmax(0.2, k * g->box.w / 2 - pw / 2), hy = fmax(0.2, k * g->box.h / 2 - pw / 2);
    fill_zigzag(c, pen, rng, cx + ox, cy + oy, hx, hy, 0, step);
    return name;
}

/* A filled bubble struck out: a cross over it, reaching past its outline. */
static void draw_bubble_crossout(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_page_t *pg,
                                 page_keepout_t *ko, int ri)
{
    const omr_region_t *g = &pg->regions[ri];
    double d = fmin(g->box.w, g->box.h), pw = pen->width / c->px_per_mm;
    double reach = d / 2 + room_around(ko, pg, ri, g->box) - pw / 2 - 0.2;
    cross_mm(c, pen, rng, g->box.x + g->box.w / 2, g->box.y + g->box.h / 2,
             fmin(d * (1.15 + 0.25 * sim_rng_uniform(rng)), 1.3 * reach), 0.08);
}

/* A pen touch in a blank bubble: a dot (0.1-0.35 mm long, the pen's width)
 * somewhere in its middle, where the pen rested while the options were read. */
static void draw_bubble_dot(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_region_t *g)
{
    double a = 2 * M_PI * sim_rng_uniform(rng), off = 0.5 * sqrt(sim_rng_uniform(rng));
    double x = g->box.x + g->box.w / 2 * (1 + off * cos(a)), y = g->box.y + g->box.h / 2 * (1 + off * sin(a));
    double len = 0.1 + 0.25 * sim_rng_uniform(rng), b = 2 * M_PI * sim_rng_uniform(rng);
    line_mm(c, pen, rng, x, y, x + len * cos(b), y + len * sin(b));
}

/* Strike out a mark: two lines through a circle target, a zigzag over a box. */
static void draw_crossout(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, const omr_page_t *pg,
                          page_keepout_t *ko, int ri)
{
    const omr_region_t *g = &pg->regions[ri];
    double cx = g->box.x + g->box.w / 2, cy = g->box.y + g->box.h / 2;
    double pw = pen->width / c->px_per_mm;
    double half = fmin(g->box.w / 2 + room_around(ko, pg, ri, g->box) - pw / 2 - 0.2, g->box.w / 2 + 0.6);
    if (g->kind == OMR_REGION_CIRCLE && sim_rng_chance(rng, 0.6)) {
        double d = 0.45 + 0.2 * sim_rng_uniform(rng), tilt = 0.15 * sim_rng_normal(rng);
        for (int k = -1; k <= 1; k += 2)
            line_mm(c, pen, rng, cx - half, cy + k * d - tilt, cx + half, cy + k * d + tilt);
    } else {
        fill_mm(c, pen, rng, cx, cy, half * 0.9, g->box.h / 2 * 0.8, 1);
    }
}

/* ------------------------------------------------------------- strays */

/* Find a place for a w x h stray (mm) clear of everything by 1.5 mm; the
 * margins first when margin is set. Returns 0 and the top-left in *px,*py. */
static int place_stray(sim_rng_t *rng, const omr_page_t *pg, const page_keepout_t *ko, double w, double h,
                       int margin, double *px, double *py)
{
    for (int attempt = 0; attempt < 60; attempt++) {
        double x, y;
        if (margin && attempt < 30) {
            int side = sim_rng_range(rng, 0, 2);
            if (side == 0) { /* left margin, between the marks */
                x = 2 + sim_rng_uniform(rng) * fmax(0.1, 14 - w);
                y = 25 + sim_rng_uniform(rng) * fmax(0.1, pg->height - 50 - h);
            } else if (side == 1) {
                x = pg->width - 16 + sim_rng_uniform(rng) * fmax(0.1, 14 - w);
                y = 25 + sim_rng_uniform(rng) * fmax(0.1, pg->height - 50 - h);
            } else {
                x = 25 + sim_rng_uniform(rng) * fmax(0.1, pg->width - 50 - w);
                y = pg->height - 18 + sim_rng_uniform(rng) * fmax(0.1, 14 - h);
            }
        } else {
            x = 4 + sim_rng_uniform(rng) * fmax(0.1, pg->width - 8 - w);
            y = 4 + sim_rng_uniform(rng) * fmax(0.1, pg->height - 8 - h);
        }
        omr_rect_t r = {x, y, w, h};
        if (r.x < 2 || r.y < 2 || r.x + w > pg->width - 2 || r.y + h > pg->height - 2)
            continue;
        int ok = 1;
        for (int i = 0; i < ko->n && ok; i++)
            if (rect_gap(r, ko->k[i].r) < 1.5)
                ok = 0;
        if (ok) {
            *px = x;
            *py = y;
            return 0;
        }
    }
    return -1;
}

static void draw_strays(sim_canvas_t *c, const sim_respondent_t *r, const omr_page_t *pg, page_keepout_t *ko,
                        int pi, int case_number)
{
    sim_rng_t rng;
    sim_fill_rng(r, &rng, pi, case_number, 0xffff, SIM_P_STRAY);
    if (r->profile.clean || !sim_rng_chance(&rng, r->profile.p_stray))
        return;
    forbid_others(c, ko, -1);
    int n = sim_rng_range(&rng, 1, 3);
    for (int k = 0; k < n; k++) {
        sim_pen_t pen = sim_pen_from_ink(c, &r->ink, 0.9 + 0.2 * sim_rng_uniform(&rng));
        int what = sim_rng_range(&rng, 0, 3);
        double x, y, xy[2 * MAXPT];
        switch (what) {
        case 0: /* a pen touch: a dot or a short dash */
            if (place_stray(&rng, pg, ko, 1.5, 1.5, 0, &x, &y) == 0)
                line_mm(c, &pen, &rng, x + 0.5, y + 0.6, x + 0.5 + 0.8 * sim_rng_uniform(&rng), y + 0.8);
            break;
        case 1: { /* a scribble testing the pen */
            double s = 3 + 5 * sim_rng_uniform(&rng);
            if (place_stray(&rng, pg, ko, s, s * 0.6, 1, &x, &y) == 0) {
                int m = loop_points(&rng, x + s / 2, y + s * 0.3, s / 2 * 0.8, s * 0.3 * 0.8, 0.2 * sim_rng_normal(&rng),
                                    0, 6 * M_PI, 0.15, -0.15, xy);
                for (int i = 0; i < m; i++) /* stretch the spiral sideways into a scribble */
                    xy[2 * i] += (i * s * 0.4) / m - s * 0.2;
                sim_pen_stroke_mm(c, &pen, xy, m);
            }
            break;
        }
        case 2: { /* a note in the margin */
            int chars = sim_rng_range(&rng, 3, 10);
            double hch = 2.6 + sim_rng_uniform(&rng);
            int vertical = sim_rng_chance(&rng, 0.5); /* 縦書き notes fit the side margins */
            double w = vertical ? hch * 1.3 : chars * hch * 1.1 + 1, h = vertical ? chars * hch * 1.1 + 1 : hch * 1.5;
            if (place_stray(&rng, pg, ko, w, h, 1, &x, &y) == 0) {
                if (vertical)
                    for (int i = 0; i < chars; i++)
                        sim_hand_scribble(c, &pen, &rng, (omr_rect_t){x, y + i * hch * 1.1, w, hch * 1.1}, 1);
                else
                    sim_hand_scribble(c, &pen, &rng, (omr_rect_t){x, y, w, h}, chars);
            }
            break;
        }
        default: { /* a line or an arrow pointing at something */
            double len = 8 + 20 * sim_rng_uniform(&rng);
            if (place_stray(&rng, pg, ko, len, 2, 0, &x, &y) == 0) {
                line_mm(c, &pen, &rng, x, y + 1, x + len, y + 1 + 0.6 * sim_rng_normal(&rng) * 0.3);
                if (sim_rng_chance(&rng, 0.5)) {
                    line_mm(c, &pen, &rng, x + len, y + 1, x + len - 1.5, y);
                    line_mm(c, &pen, &rng, x + len, y + 1, x + len - 1.5, y + 2);
                }
            }
            break;
        }
        }
    }
}

/* ------------------------------------------------------------- truth */

static const char *region_kind_name(omr_region_kind_t k)
{
    switch (k) {
    case OMR_REGION_CIRCLE: return "circle";
    case OMR_REGION_CHECK: return "check";
    case OMR_REGION_DIGIT: return "digit";
    case OMR_REGION_TEXT: return "text";
    }
    return "?";
}

/* Field of the truth CSV, quoted when needed (RFC 4180). */
static void put_field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else
        fputs(s, f);
    fputc(last ? '\n' : ',', f);
}

static void truth_row(FILE *f, const sim_respondent_t *r, const omr_page_t *pg, int case_number, int ri,
                      const char *state, const char *style, const char *value)
{
    const omr_region_t *g = &pg->regions[ri];
    const omr_question_t *q = &r->form->questions[g->question];
    char var[80], num[16];
    /* several regions feed one column (a single question's options, a grid1
     * row's cells, the bubbles of a number's position: <base>_dN): name each
     * by its code too */
    int shared = (q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_NUMBER) &&
                 (g->kind == OMR_REGION_CIRCLE || g->kind == OMR_REGION_CHECK);
    if (shared)
        snprintf(var, sizeof var, "%.47s:%d", g->var, g->code);
    else
        snprintf(var, sizeof var, "%s", g->var);
    put_field(f, r->id, 0);
    put_field(f, r->form->id, 0);
    snprintf(num, sizeof num, "%d", pg->number);
    put_field(f, num, 0);
    snprintf(num, sizeof num, "%d", case_number);
    put_field(f, num, 0);
    put_field(f, var, 0);
    put_field(f, region_kind_name(g->kind), 0);
    put_field(f, state, 0);
    put_field(f, style, 0);
    put_field(f, value, 1);
}

void sim_respondent_write_missing(const sim_respondent_t *r, FILE *cells)
{
    if (!r || !cells)
        return;
    for (int slot = 0; slot < r->n_slots; slot++)
        for (int pi = 0; pi < r->form->n_pages; pi++)
            if (r->missing[(size_t)slot * (size_t)r->form->n_pages + (size_t)pi])
                for (int ri = 0; ri < r->form->pages[pi].n_regions; ri++)
                    truth_row(cells, r, &r->form->pages[pi], slot, ri, "missing", "none", "");
}

/* ------------------------------------------------------------- one sheet */

/* Ink and truth of an answered or doubtful bubble ri (fill_region): the
 * respondent's pen, or pen-made doubt of the answers (faint, erased, struck
 * out). A pencil user presses lightly on 12 % of their fills: a light grey,
 * grainy fill that is still plainly an answer (truth marked, style
 * fill_light; the paper under it ~110-140 grey on average: a 50 % bitonal
 * threshold keeps part of it, a harsher one little); a faint fill (doubt
 * FAINT, the light pen of the other marks; ~220 grey) is doubtful. */
static void fill_bubble(sim_canvas_t *c, const sim_respondent_t *r, const omr_page_t *pg, page_keepout_t *ko, int ri,
                        sim_rng_t *rng, const sim_pen_t *pen, const sim_pen_t *faint, int doubt, const char **state,
                        const char **style)
{
    forbid_others(c, ko, ri);
    int st = pick(rng, r->w_bubble_style, SIM_BS_COUNT);
    sim_pen_t use = doubt == SIM_DOUBT_FAINT ? *faint : *pen;
    int light = doubt == SIM_DOUBT_NONE && pen->grain && sim_rng_chance(rng, 0.12);
    if (light) {
        /* the pencil of sim_pen_from_ink at a lighter level: same grain */
        use.level = 70 + 40 * sim_rng_uniform(rng);
    }
    if (doubt == SIM_DOUBT_ERASED || doubt == SIM_DOUBT_ERASED_CLEAN) {
        /* what an eraser leaves of a fill (as for the other marks) */
        use.width = pen->width * 1.3;
        use.level = doubt == SIM_DOUBT_ERASED ? 185 + 40 * sim_rng_uniform(rng) : 238 + 8 * sim_rng_uniform(rng);
        use.opacity = 0.6 + 0.3 * sim_rng_uniform(rng);
        use.grain = 1;
        use.gaps = 0.3 + 0.3 * sim_rng_uniform(rng);
    }
    const char *drawn = draw_bubble_mark(c, &use, rng, pg, ko, ri, st, r->care);
    if (doubt == SIM_DOUBT_CROSSOUT)
        draw_bubble_crossout(c, pen, rng, pg, ko, ri);
    switch (doubt) {
    case SIM_DOUBT_FAINT: *state = "doubtful"; *style = "faint"; break;
    case SIM_DOUBT_ERASED: *state = "doubtful"; *style = "erased"; break;
    case SIM_DOUBT_ERASED_CLEAN: *state = "blank"; *style = "erased"; break;
    case SIM_DOUBT_CROSSOUT: *state = "doubtful"; *style = "crossout"; break;
    default:
        *state = "marked";
        *style = light && !strncmp(drawn, "fill", 4) ? "fill_light" : drawn;
    }
}

/* Ink and truth of region ri. */
static int fill_region(sim_canvas_t *c, const sim_respondent_t *r, const omr_page_t *pg, page_keepout_t *ko, int pi,
                       int case_number, int ri, FILE *cells)
{
    const omr_region_t *g = &pg->regions[ri];
    const omr_question_t *q = &r->form->questions[g->question];
    int slot = sim_slot(q->is_case, case_number);
    uint8_t qs = r->qstate[(size_t)slot * (size_t)r->form->n_questions + (size_t)g->question];
    const sim_cell_t *cell = sim_cell(r, slot, pi, ri);
    int answered = qs == SIM_Q_ANSWERED || qs == SIM_Q_BROKEN;
    const char *state = "blank", *style = "none";
    char value[16] = "";
    int is_mark = g->kind == OMR_REGION_CIRCLE || g->kind == OMR_REGION_CHECK;
    if (is_mark)
        snprintf(value, sizeof value, "0");
    sim_rng_t rng;
    sim_fill_rng(r, &rng, pi, case_number, ri, SIM_P_CELL);
    double care = r->care;
    sim_pen_t pen = sim_pen_from_ink(c, &r->ink, 0.92 + 0.16 * sim_rng_uniform(&rng));
    /* Faint pencil: light grey, thin, grainy; doubtful on purpose. */
    sim_pen_t faint = pen;
    faint.width = fmax(1.0, (0.25 + 0.1 * sim_rng_uniform(&rng)) * c->px_per_mm);
    faint.level = 175 + 35 * sim_rng_uniform(&rng);
    faint.opacity = 0.6 + 0.25 * sim_rng_uniform(&rng);
    faint.grain = 1;
    int doubt = answered ? cell->doubt : SIM_DOUBT_NONE;

    if (answered && is_mark && (cell->value == 1 || doubt != SIM_DOUBT_NONE) && sim_is_bubble(g)) {
        fill_bubble(c, r, pg, ko, ri, &rng, &pen, &faint, doubt, &state, &style);
        snprintf(value, sizeof value, "%d", cell->value == 1);
    } else if (answered && is_mark && (cell->value == 1 || doubt != SIM_DOUBT_NONE)) {
        forbid_others(c, ko, ri);
        int st = g->kind == OMR_REGION_CIRCLE ? pick(&rng, r->w_circle_style, SIM_CS_COUNT)
                                              : pick(&rng, r->w_check_style, SIM_KS_COUNT);
        const sim_pen_t *use = doubt == SIM_DOUBT_FAINT ? &faint : &pen;
        sim_pen_t residue = pen;
        if (doubt == SIM_DOUBT_ERASED || doubt == SIM_DOUBT_ERASED_CLEAN) {
            /* What an eraser leaves: a smeared, broken trace of the mark. */
            residue.width = pen.width * 1.3;
            residue.level = doubt == SIM_DOUBT_ERASED ? 185 + 40 * sim_rng_uniform(&rng)
                                                      : 238 + 8 * sim_rng_uniform(&rng);
            residue.opacity = 0.6 + 0.3 * sim_rng_uniform(&rng);
            residue.grain = 1;
            residue.gaps = 0.3 + 0.3 * sim_rng_uniform(&rng);
            use = &residue;
        }
        int drawn = g->kind == OMR_REGION_CIRCLE ? draw_circle_mark(c, use, &rng, pg, ko, ri, st, care)
                                                 : draw_check_mark(c, use, &rng, pg, ko, ri, st, care);
        if (doubt == SIM_DOUBT_CROSSOUT)
            draw_crossout(c, &pen, &rng, pg, ko, ri);
        switch (doubt) {
        case SIM_DOUBT_FAINT: state = "doubtful"; style = "faint"; break;
        case SIM_DOUBT_ERASED: state = "doubtful"; style = "erased"; break;
        case SIM_DOUBT_ERASED_CLEAN: state = "blank"; style = "erased"; break;
        case SIM_DOUBT_CROSSOUT: state = "doubtful"; style = "crossout"; break;
        default:
            state = "marked";
            style = g->kind == OMR_REGION_CIRCLE ? circle_style_name[drawn] : check_style_name[drawn];
        }
        snprintf(value, sizeof value, "%d", cell->value == 1);
    } else if (answered && g->kind == OMR_REGION_DIGIT && cell->value >= 0) {
        forbid_others(c, ko, ri);
        sim_rng_t drng;
        sim_fill_rng(r, &drng, pi, case_number, ri, SIM_P_DIGIT);
        int touch = 0;
        if (sim_hand_digit(c, doubt == SIM_DOUBT_FAINT ? &faint : &pen, &drng, cell->value, g->box,
                           r->profile.clean, &touch))
            return -1;
        state = doubt == SIM_DOUBT_FAINT ? "doubtful" : "marked";
        style = doubt == SIM_DOUBT_FAINT ? "faint" : touch ? "digit_touch" : "digit";
        snprintf(value, sizeof value, "%d", cell->value);
    } else if (answered && g->kind == OMR_REGION_TEXT && cell->value > 0) {
        forbid_others(c, ko, ri);
        omr_rect_t b = g->box;
        sim_hand_scribble(c, &pen, &rng, b, cell->value);
        state = "marked";
        style = "text";
    } else if (sim_is_bubble(g)) {
        /* A blank bubble; now and then a pen touch in it. Not an answer:
         * the truth stays blank (a reader that calls it marked is wrong,
         * one that asks a person is needlessly careful). */
        sim_rng_t drng;
        sim_fill_rng(r, &drng, pi, case_number, ri, SIM_P_DOT);
        if (sim_rng_chance(&drng, r->profile.p_dot)) {
            forbid_others(c, ko, ri);
            draw_bubble_dot(c, &pen, &drng, g);
            style = "dot";
        }
    }
    if (cells)
        truth_row(cells, r, pg, case_number, ri, state, style, value);
    return 0;
}

int sim_fill_sheet(const sim_respondent_t *r, const sim_sheet_t *sheet, PIX *page, double dpi, FILE *cells)
{
    fill_error[0] = '\0';
    if (!r || !sheet || !page || pixGetDepth(page) != 8 || dpi <= 0) {
        sim_fill_set_error("sim_fill_sheet: needs a respondent, a sheet and an 8-bit page");
        return -1;
    }
    if (sheet->page_index < 0 || sheet->page_index >= r->form->n_pages) {
        sim_fill_set_error("sim_fill_sheet: page index %d not in form %s", sheet->page_index, r->form->id);
        return -1;
    }
    const omr_page_t *pg = &r->form->pages[sheet->page_index];
    int case_number = pg->is_case ? (sheet->case_number > 0 ? sheet->case_number : 1) : 0;
    if (case_number >= r->n_slots)
        case_number = r->n_slots - 1;
    FILE *truth = sheet->duplicate ? NULL : cells;
    sim_canvas_t c;
    memset(&c, 0, sizeof c);
    c.pix = page;
    c.data = pixGetData(page);
    c.wpl = pixGetWpl(page);
    c.w = (int)pixGetWidth(page);
    c.h = (int)pixGetHeight(page);
    c.px_per_mm = dpi / OMR_MM_PER_INCH;
    c.grain_seed = r->key ^ r->seed ^ ((uint64_t)(sheet->page_index + 1) << 48) ^ ((uint64_t)case_number << 40);
    page_keepout_t ko = {0};
    int rc = 0;
    if (keepout_build(pg, &ko)) {
        sim_fill_set_error("out of memory");
        rc = -1;
        goto done;
    }
    for (int ri = 0; ri < pg->n_regions && rc == 0; ri++)
        rc = fill_region(&c, r, pg, &ko, sheet->page_index, case_number, ri, truth);
    if (rc == 0)
        draw_strays(&c, r, pg, &ko, sheet->page_index, case_number);
done:
    free(ko.k);
    free(ko.scratch);
    free(c.cov);
    return rc;
}
