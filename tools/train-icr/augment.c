/* augment.c -- build/train-icr: turn MNIST digits into what the scanner will
 * hand the classifier. Two paths:
 *   aug_direct  small distortions inside the 28x28 MNIST frame (the format
 *               `omr icr-eval` reads);
 *   aug_box     the digit drawn into a simulated scanned form box at 200-300
 *               dpi (size, rotation +-10 deg, shear, position, stroke
 *               thickness, partial frame edges, specks, paper/ink levels incl.
 *               faint pencil, blur, noise, bitonal threshold), then put through
 *               the library's omr_icr_normalise exactly as a real crop is;
 *   aug_reject  non-digits in the same box (ticks, crosses, scribbles, dashes,
 *               blobs, crossed-out digits, two digits side by side): the
 *               "not a digit" class.
 * Every random choice comes from the caller's trng_t, so a (seed, epoch,
 * sample) triple always gives the same picture. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#define MAXB 128 /* largest simulated crop side */

typedef struct {
    int w, h;
    float ink[MAXB * MAXB]; /* 0 paper .. 1 full ink */
} canvas_t;

/* Bilinear sample of a 28x28 MNIST image in 0..1, outside = 0. */
static float mnist_at(const uint8_t *img, float u, float v)
{
    u -= 0.5f, v -= 0.5f;
    int iu = (int)floorf(u), iv = (int)floorf(v);
    float fu = u - iu, fv = v - iv, s = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int x = iu + dx, y = iv + dy;
            if (x < 0 || y < 0 || x >= 28 || y >= 28)
                continue;
            s += (dx ? fu : 1 - fu) * (dy ? fv : 1 - fv) * img[y * 28 + x];
        }
    return s * (1.0f / 255.0f);
}

/* Draw an MNIST digit with centre (cx, cy), height dh pixels (MNIST's 20 px
 * digit box), rotation rot, shear and aspect; the stroke threshold t makes
 * strokes thinner (high t) or thicker (low t) than MNIST's; t = 0 keeps
 * MNIST's grey levels. */
static void draw_digit(canvas_t *c, const uint8_t *img, double cx, double cy, double dh,
                       double rot, double shear, double aspect, double t)
{
    double s = dh / 20.0, sx = s * aspect, sy = s;
    double cr = cos(rot), sr = sin(rot);
    /* forward: p = R * Sh * diag(sx, sy) * (u - 14) + centre; invert it */
    double a = cr * sx, b = (cr * shear - sr) * sy, cc = sr * sx, d = (sr * shear + cr) * sy;
    double det = a * d - b * cc;
    double ia = d / det, ib = -b / det, ic = -cc / det, id = a / det;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            double px = x + 0.5 - cx, py = y + 0.5 - cy;
            float u = (float)(ia * px + ib * py + 14), v = (float)(ic * px + id * py + 14);
            if (u < -1 || v < -1 || u > 29 || v > 29)
                continue;
            float m = mnist_at(img, u, v), k = m;
            if (t > 0) { /* ramp from max(0, t - 0.15) to t + 0.15: paper stays paper */
                double lo = t > 0.15 ? t - 0.15 : 0;
                k = (float)((m - lo) / (t + 0.15 - lo));
                k = k < 0 ? 0 : k > 1 ? 1 : k;
            }
            float *q = &c->ink[y * c->w + x];
            if (k > *q) *q = k;
        }
}

/* An anti-aliased pen stroke from (x0, y0) to (x1, y1), radius r. */
static void draw_segment(canvas_t *c, double x0, double y0, double x1, double y1, double r)
{
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int bx0 = (int)floor(fmin(x0, x1) - r - 1), bx1 = (int)ceil(fmax(x0, x1) + r + 1);
    int by0 = (int)floor(fmin(y0, y1) - r - 1), by1 = (int)ceil(fmax(y0, y1) + r + 1);
    if (bx0 < 0) bx0 = 0;
    if (by0 < 0) by0 = 0;
    if (bx1 > c->w) bx1 = c->w;
    if (by1 > c->h) by1 = c->h;
    for (int y = by0; y < by1; y++)
        for (int x = bx0; x < bx1; x++) {
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - t * dx, ey = py - t * dy, dist = sqrt(ex * ex + ey * ey);
            float k = (float)(r + 0.5 - dist);
            k = k < 0 ? 0 : k > 1 ? 1 : k;
            float *q = &c->ink[y * c->w + x];
            if (k > *q) *q = k;
        }
}

/* 3x3 max (dilate, thicker strokes) or min (erode, thinner). */
static void morph(canvas_t *c, int dilate)
{
    static _Thread_local float tmp[MAXB * MAXB];
    memcpy(tmp, c->ink, sizeof(float) * c->w * c->h);
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            float m = tmp[y * c->w + x];
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= c->w || yy >= c->h)
                        continue;
                    float v = tmp[yy * c->w + xx];
                    m = dilate ? fmaxf(m, v) : fminf(m, v);
                }
            c->ink[y * c->w + x] = m;
        }
}

/* A box crop of random size: side from the box size (6-9 mm) at 200-300 dpi. */
static void canvas_new(canvas_t *c, trng_t *r)
{
    double dpi = trng_range(r, 200, 300), mm = trng_range(r, 5.5, 9);
    int side = (int)(mm / 25.4 * dpi);
    if (side > MAXB) side = MAXB;
    if (side < 24) side = 24;
    c->h = side;
    c->w = (int)(side * trng_range(r, 0.85, 1.15));
    if (c->w > MAXB) c->w = MAXB;
    memset(c->ink, 0, sizeof(float) * c->w * c->h);
}

/* The scanning side: frame residue, specks, stroke thickness, then grey
 * levels, blur, noise, bitonal; then the library's normaliser. */
static int scan_and_normalise(canvas_t *c, trng_t *r, uint8_t out[OMR_ICR_NPIX])
{
    double u = trng_uniform(r);
    if (u < 0.2)
        morph(c, 1);
    else if (u < 0.32)
        morph(c, 0);
    if (trng_uniform(r) < 0.5) { /* what the frame cut left: partial straight edges */
        for (int side = 0; side < 4; side++) {
            if (trng_uniform(r) > 0.4)
                continue;
            int th = 1 + trng_int(r, 3), off = trng_int(r, 2);
            double a = trng_range(r, 0, 0.5), b = trng_range(r, a + 0.3, 1.0);
            float dark = (float)trng_range(r, 0.6, 1.0);
            int horiz = side < 2, len = horiz ? c->w : c->h, other = horiz ? c->h : c->w;
            for (int k = 0; k < th; k++) {
                int line = side % 2 ? other - 1 - off - k : off + k;
                for (int i = (int)(a * len); i < (int)(b * len) && i < len; i++) {
                    float *q = horiz ? &c->ink[line * c->w + i] : &c->ink[i * c->w + line];
                    if (dark > *q) *q = dark;
                }
            }
        }
    }
    if (trng_uniform(r) < 0.3) { /* dust specks */
        int n = 1 + trng_int(r, 4);
        for (int i = 0; i < n; i++) {
            double x = trng_range(r, 0, c->w), y = trng_range(r, 0, c->h);
            draw_segment(c, x, y, x, y, trng_range(r, 0.3, 1.2));
        }
    }
    double paper = trng_range(r, 170, 250);
    double inkg = trng_uniform(r) < 0.15 ? trng_range(r, paper - 110, paper - 60)
                                         : trng_range(r, 0, paper - 110);
    static _Thread_local float g[MAXB * MAXB];
    int n = c->w * c->h;
    for (int i = 0; i < n; i++)
        g[i] = (float)(paper - c->ink[i] * (paper - inkg));
    if (trng_uniform(r) < 0.5) { /* scanner optics: [1 2 1]^2 blur */
        static _Thread_local float t[MAXB * MAXB];
        for (int y = 0; y < c->h; y++)
            for (int x = 0; x < c->w; x++) {
                float s = 0, wsum = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= c->w || yy >= c->h)
                            continue;
                        float wgt = (float)((2 - abs(dx)) * (2 - abs(dy)));
                        s += wgt * g[yy * c->w + xx];
                        wsum += wgt;
                    }
                t[y * c->w + x] = s / wsum;
            }
        memcpy(g, t, sizeof(float) * n);
    }
    double sigma = trng_range(r, 0, 10);
    for (int i = 0; i < n; i++)
        g[i] += (float)(sigma * trng_normal(r));
    static _Thread_local uint8_t grey[MAXB * MAXB];
    if (trng_uniform(r) < 0.3) { /* bitonal scan (TIFF G4) read back as grey 0/255 */
        float cut = (float)(paper - (paper - inkg) * trng_range(r, 0.35, 0.65));
        for (int i = 0; i < n; i++)
            grey[i] = g[i] < cut ? 0 : 255;
    } else {
        for (int i = 0; i < n; i++)
            grey[i] = (uint8_t)(g[i] < 0 ? 0 : g[i] > 255 ? 255 : lrintf(g[i]));
    }
    omr_icr_input_t in;
    if (omr_icr_normalise(grey, c->w, c->h, c->w, &in, NULL) != OMR_OK || in.empty)
        return 0;
    memcpy(out, in.px, OMR_ICR_NPIX);
    return 1;
}

void aug_direct(const uint8_t *img, trng_t *r, uint8_t out[OMR_ICR_NPIX])
{
    canvas_t c;
    c.w = c.h = 28;
    memset(c.ink, 0, sizeof(float) * 28 * 28);
    double cx = 14 + trng_range(r, -1.5, 1.5), cy = 14 + trng_range(r, -1.5, 1.5);
    double t = trng_uniform(r) < 0.5 ? 0 : trng_range(r, 0.1, 0.5);
    draw_digit(&c, img, cx, cy, 20 * trng_range(r, 0.9, 1.1), trng_range(r, -0.14, 0.14),
               trng_range(r, -0.1, 0.1), trng_range(r, 0.9, 1.1), t);
    for (int i = 0; i < OMR_ICR_NPIX; i++)
        out[i] = (uint8_t)lrintf(c.ink[i] * 255);
}

int aug_box(const uint8_t *img, trng_t *r, uint8_t out[OMR_ICR_NPIX])
{
    static _Thread_local canvas_t c;
    canvas_new(&c, r);
    double dh = c.h * trng_range(r, 0.4, 0.9);
    double cx = c.w / 2.0 + c.w * trng_range(r, -0.12, 0.12);
    double cy = c.h / 2.0 + c.h * trng_range(r, -0.12, 0.12);
    draw_digit(&c, img, cx, cy, dh, trng_range(r, -0.175, 0.175), trng_range(r, -0.15, 0.15),
               trng_range(r, 0.8, 1.2), trng_range(r, 0.1, 0.6));
    return scan_and_normalise(&c, r, out);
}

int aug_reject(const uint8_t *img, const uint8_t *img2, trng_t *r, uint8_t out[OMR_ICR_NPIX])
{
    static _Thread_local canvas_t c;
    canvas_new(&c, r);
    double W = c.w, Hh = c.h, L = Hh * trng_range(r, 0.4, 0.85);
    double cx = W / 2 + W * trng_range(r, -0.1, 0.1), cy = Hh / 2 + Hh * trng_range(r, -0.1, 0.1);
    double rad = Hh * trng_range(r, 0.012, 0.045);
    double u = trng_uniform(r);
    if (u < 0.2) { /* tick: short stroke down-right, long stroke up-right */
        double rot = trng_range(r, -0.35, 0.35), cr = cos(rot), sr = sin(rot);
        double pts[3][2] = {{-0.3, -0.05}, {-0.08, 0.3}, {0.35, -0.45}};
        double q[3][2];
        for (int i = 0; i < 3; i++) {
            double x = (pts[i][0] + trng_range(r, -0.07, 0.07)) * L;
            double y = (pts[i][1] + trng_range(r, -0.07, 0.07)) * L;
            q[i][0] = cx + cr * x - sr * y;
            q[i][1] = cy + sr * x + cr * y;
        }
        draw_segment(&c, q[0][0], q[0][1], q[1][0], q[1][1], rad);
        draw_segment(&c, q[1][0], q[1][1], q[2][0], q[2][1], rad);
    } else if (u < 0.32) { /* cross */
        for (int k = 0; k < 2; k++) {
            double a = (k ? 2.356 : 0.785) + trng_range(r, -0.3, 0.3), h = L / 2;
            draw_segment(&c, cx - h * cos(a), cy - h * sin(a), cx + h * cos(a), cy + h * sin(a), rad);
        }
    } else if (u < 0.5) { /* scribble: a random zigzag */
        int n = 5 + trng_int(r, 14);
        double x = cx, y = cy;
        for (int i = 0; i < n; i++) {
            double a = trng_range(r, 0, 6.283), len = L * trng_range(r, 0.15, 0.5);
            double nx = x + len * cos(a), ny = y + len * sin(a);
            if (fabs(nx - cx) > L / 2) nx = cx + (nx > cx ? L / 2 : -L / 2);
            if (fabs(ny - cy) > L / 2) ny = cy + (ny > cy ? L / 2 : -L / 2);
            draw_segment(&c, x, y, nx, ny, rad);
            x = nx, y = ny;
        }
    } else if (u < 0.7) { /* a crossed-out digit */
        draw_digit(&c, img, cx, cy, L, trng_range(r, -0.15, 0.15), 0, trng_range(r, 0.85, 1.15),
                   trng_range(r, 0.1, 0.5));
        double v = trng_uniform(r), h = L * 0.6;
        if (v < 0.5) {
            double a = trng_range(r, -0.35, 0.35);
            draw_segment(&c, cx - h * cos(a), cy - h * sin(a), cx + h * cos(a), cy + h * sin(a), rad);
        } else if (v < 0.8) {
            draw_segment(&c, cx - h, cy - h, cx + h, cy + h, rad);
            draw_segment(&c, cx - h, cy + h, cx + h, cy - h, rad);
        } else {
            for (int k = -2; k <= 2; k++) /* hatching */
                draw_segment(&c, cx - h, cy + k * h / 3 + h / 3, cx + h, cy + k * h / 3 - h / 3, rad);
        }
    } else if (u < 0.85) { /* two digits side by side ("12", a word) */
        double dh = Hh * trng_range(r, 0.4, 0.7), gap = dh * trng_range(r, 0.3, 0.55);
        draw_digit(&c, img, cx - gap, cy, dh, trng_range(r, -0.1, 0.1), 0, 0.9, trng_range(r, 0.1, 0.5));
        draw_digit(&c, img2, cx + gap, cy, dh, trng_range(r, -0.1, 0.1), 0, 0.9, trng_range(r, 0.1, 0.5));
    } else if (u < 0.93) { /* a dash, roughly horizontal */
        double a = trng_range(r, -0.25, 0.25), h = L * trng_range(r, 0.3, 0.5);
        draw_segment(&c, cx - h * cos(a), cy - h * sin(a), cx + h * cos(a), cy + h * sin(a), rad);
    } else { /* a filled blob (smudge, ink blot) */
        double rx = L * trng_range(r, 0.15, 0.35), ry = L * trng_range(r, 0.15, 0.35);
        for (int y = 0; y < c.h; y++)
            for (int x = 0; x < c.w; x++) {
                double ex = (x + 0.5 - cx) / rx, ey = (y + 0.5 - cy) / ry;
                if (ex * ex + ey * ey <= 1)
                    c.ink[y * c.w + x] = 1;
            }
    }
    return scan_and_normalise(&c, r, out);
}
