/* register_barcode.c -- stage 3's second landmark: the page barcode's bar
 * pattern, located in the image to a pixel or so (register.h,
 * omr_register_find_bars). Used only for pages whose corner marks are mostly
 * off the image, so nothing here is on the path of an ordinary page.
 *
 * The bar pattern is a rectangle on the page: the first bar's leading edge
 * and the last bar's trailing edge are two straight segments of the bar
 * height, across the reading direction. Working in the frame of the reading
 * direction (u: along the bars' reading direction, image x for a page fed at
 * 0 or 180 degrees, image y at 90 or 270; v: across it):
 *   1. From identify's box (where zbar decoded the symbol: its u extent is
 *      the pattern's, its v extent some of the bar rows), every scan line
 *      that may cross the bars is walked inwards from the quiet zone (10
 *      modules of white printed on either side), and the first ink met is
 *      noted: on the lines that cross the first bar, it is that bar's edge.
 *   2. The edge is the straight line through most of those points (a
 *      Hough vote over the slopes the skew allows, 1-px bins): lines above
 *      or below the first bar met later bars, specks or nothing, and do not
 *      line up. The longest run of consecutive scan lines on it is the
 *      edge's extent; its middle is the landmark.
 *   3. The same from the other side for the trailing edge.
 * Then checks that the two edges look like one barcode: both about the bar
 * height long, parallel, and the line joining their middles square to them.
 */
#include "register.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Grey scans: below this contrast (paper minus ink, grey levels) there are
 * no printed bars to find (printed bars differ by 150 or more). */
#define MIN_CONTRAST 48
/* A scan line's edge point may lie this far off the edge's line (px) and
 * still count as on it: jagged edges of a rough bitonal scan. */
#define EDGE_TOL 1.5

typedef struct {
    const l_uint32 *data;
    int wpl, w, h, depth, thresh;
    int horizontal; /* u = image x (rows are scan lines), else u = image y */
} frame_t;

/* Is (u, v) ink? Outside the image is paper. */
static inline int ink(const frame_t *f, int u, int v)
{
    int x = f->horizontal ? u : v, y = f->horizontal ? v : u;
    if (x < 0 || y < 0 || x >= f->w || y >= f->h)
        return 0;
    const l_uint32 *line = f->data + (size_t)y * f->wpl;
    return f->depth == 1 ? (int)GET_DATA_BIT(line, x) : GET_DATA_BYTE(line, x) < f->thresh;
}

/* 8 bpp: the threshold halfway between the ink (5th percentile) and the
 * paper (95th) of image rectangle [x0,x1) x [y0,y1); -1 when it has no
 * contrast. */
static int grey_threshold(const frame_t *f, int x0, int y0, int x1, int y1)
{
    long hist[256] = {0}, n = 0;
    for (int y = y0; y < y1; y += 2) {
        const l_uint32 *line = f->data + (size_t)y * f->wpl;
        for (int x = x0; x < x1; x += 2, n++)
            hist[GET_DATA_BYTE(line, x)]++;
    }
    if (n == 0)
        return -1;
    int lo = 0, hi = 255;
    long acc = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (acc * 100 < n * 5)
            lo = v + 1;
        if (acc * 100 < n * 95)
            hi = v + 1;
    }
    return hi - lo < MIN_CONTRAST ? -1 : (lo + hi + 1) / 2;
}

typedef struct {
    double v, e; /* scan line centre (v + 0.5) and the edge's u there (continuous) */
} pt_t;

typedef struct {
    double a, b;   /* the edge: u = a + b * (v - vc) */
    double v0, v1; /* its extent along v (continuous coordinates) */
    int n;         /* scan lines on it */
} edge_t;

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Step 2: the line u = a + b (v - vc) through most points, |b| <= bmax,
 * then its longest run of scan lines (gaps up to max_gap lines) refitted by
 * least squares. r: scratch of n doubles. Returns 0, or -1 when fewer than 3
 * points line up. */
static int fit_edge(const pt_t *p, int n, double vc, double bmax, double max_gap, double *r,
                    edge_t *out)
{
    int best = 0;
    double best_b = 0, best_a = 0;
    const double step = 0.1 * M_PI / 180; /* slope steps of 0.1 degree */
    int nb = (int)ceil(atan(bmax) / step);
    for (int i = -nb; i <= nb; i++) {
        double b = tan(i * step);
        for (int j = 0; j < n; j++)
            r[j] = p[j].e - b * (p[j].v - vc);
        qsort(r, (size_t)n, sizeof *r, cmp_double);
        /* the window of width 2 EDGE_TOL holding most offsets */
        for (int lo = 0, hi = 0; lo < n; lo++) {
            while (hi < n && r[hi] - r[lo] <= 2 * EDGE_TOL)
                hi++;
            if (hi - lo > best || (hi - lo == best && fabs(b) < fabs(best_b))) {
                best = hi - lo;
                best_b = b;
                best_a = 0.5 * (r[lo] + r[hi - 1]);
            }
        }
    }
    if (best < 3)
        return -1;
    /* The longest run of consecutive inliers (points come in v order). */
    int run0 = -1, run1 = -1, cur0 = -1, last = -1, best_len = 0, cur_len = 0;
    for (int j = 0; j < n; j++) {
        if (fabs(p[j].e - best_a - best_b * (p[j].v - vc)) > EDGE_TOL)
            continue;
        if (last < 0 || p[j].v - p[last].v > max_gap + 1) {
            cur0 = j;
            cur_len = 0;
        }
        cur_len++;
        last = j;
        if (cur_len > best_len) {
            best_len = cur_len;
            run0 = cur0;
            run1 = j;
        }
    }
    if (best_len < 3)
        return -1;
    /* Least squares over the run's inliers. */
    double sv = 0, se = 0, svv = 0, sve = 0;
    int m = 0;
    for (int j = run0; j <= run1; j++) {
        if (fabs(p[j].e - best_a - best_b * (p[j].v - vc)) > EDGE_TOL)
            continue;
        double v = p[j].v - vc;
        sv += v;
        se += p[j].e;
        svv += v * v;
        sve += v * p[j].e;
        m++;
    }
    double den = m * svv - sv * sv;
    out->b = den > 1e-9 ? (m * sve - sv * se) / den : best_b;
    out->a = (se - out->b * sv) / m;
    out->v0 = p[run0].v - 0.5;
    out->v1 = p[run1].v + 0.5;
    out->n = m;
    return 0;
}

/* Step 1 for one side: the first ink on each scan line v in [v0, v1),
 * walking from u = from towards u = to (dir +1 or -1; both inclusive, from
 * in the quiet zone). A line whose walk starts on ink, or meets none, gives
 * no point. Returns the number of points written to p. */
static int edge_points(const frame_t *f, int v0, int v1, int from, int to, int dir, pt_t *p)
{
    int n = 0;
    for (int v = v0; v < v1; v++) {
        if (ink(f, from, v))
            continue;
        for (int u = from + dir; dir > 0 ? u <= to : u >= to; u += dir)
            if (ink(f, u, v)) {
                /* pixel u spans [u, u+1): the leading edge is at u, a
                 * trailing edge (walking back) at u + 1 */
                p[n].v = v + 0.5;
                p[n].e = dir > 0 ? u : u + 1;
                n++;
                break;
            }
    }
    return n;
}

/* The first and last ink of the run of bars through [su0, su1] on scan
 * lines [v0, v1] (clipped to the image): ink pixels closer than gap to the
 * next (a Code 128 space is at most 4 modules, its quiet zone 10), grown
 * from the ink nearest the box's middle. The medians over the lines go to
 * *pu0 (first ink) and *pu1 (just after the last). Returns 0, or -1 when no
 * line has ink there. */
static int pattern_extent(const frame_t *f, double su0, double su1, int v0, int v1, double gap,
                          double *pu0, double *pu1)
{
    int umax = f->horizontal ? f->w : f->h, vmax = f->horizontal ? f->h : f->w;
    v0 = v0 < 0 ? 0 : v0;
    v1 = v1 >= vmax ? vmax - 1 : v1;
    if (v1 - v0 > 200) { /* a tall box: its middle 200 lines are plenty */
        int c = (v0 + v1) / 2;
        v0 = c - 100;
        v1 = c + 100;
    }
    int n = 0, g = (int)ceil(gap);
    double *a = malloc(sizeof *a * (size_t)(v1 - v0 + 1) * 2);
    if (!a)
        return -1;
    double *b = a + (v1 - v0 + 1);
    int mid = (int)floor(0.5 * (su0 + su1));
    for (int v = v0; v <= v1; v++) {
        int start = -1;
        for (int d = 0; d <= g && start < 0; d++) {
            if (ink(f, mid - d, v))
                start = mid - d;
            else if (ink(f, mid + d, v))
                start = mid + d;
        }
        if (start < 0)
            continue;
        int lo = start, hi = start;
        for (int u = start - 1; u >= 0 && lo - u <= g; u--)
            if (ink(f, u, v))
                lo = u;
        for (int u = start + 1; u < umax && u - hi <= g; u++)
            if (ink(f, u, v))
                hi = u;
        a[n] = lo;
        b[n] = hi + 1;
        n++;
    }
    if (n > 0) {
        qsort(a, (size_t)n, sizeof *a, cmp_double);
        qsort(b, (size_t)n, sizeof *b, cmp_double);
        *pu0 = a[n / 2];
        *pu1 = b[n / 2];
    }
    free(a);
    return n > 0 ? 0 : -1;
}

omr_status_t omr_register_find_bars(PIX *pix, const omr_register_barcode_t *bc, int orientation,
                                    double k, double max_skew_deg, omr_register_bars_t *out,
                                    omr_error_t *err)
{
    if (!out)
        return omr_error_set(err, OMR_EINPUT, "register: no output for the barcode");
    memset(out, 0, sizeof *out);
    if (!pix || !bc || k <= 0 || (pixGetDepth(pix) != 1 && pixGetDepth(pix) != 8) ||
        pixGetColormap(pix) || orientation % 90 != 0)
        return omr_error_set(err, OMR_EINPUT, "register: bad arguments for the barcode search");
    orientation = ((orientation % 360) + 360) % 360;
    if (bc->bars.w <= 0 || bc->bars.h <= 0 || bc->module_mm <= 0 || bc->w <= 0 || bc->h <= 0)
        return omr_error_set(err, OMR_ENOTFOUND, "barcode: no bar pattern or no place to look");
    frame_t f = {.data = pixGetData(pix), .wpl = pixGetWpl(pix), .w = (int)pixGetWidth(pix),
                 .h = (int)pixGetHeight(pix), .depth = (int)pixGetDepth(pix), .thresh = 128,
                 .horizontal = orientation == 0 || orientation == 180};
    const double L = bc->bars.w * k, H = bc->bars.h * k, mod = bc->module_mm * k;
    const double skew_r = (max_skew_deg + 1) * M_PI / 180;

    /* identify's box in the (u, v) frame: u along the reading direction. */
    double su0 = f.horizontal ? bc->x : bc->y, sv0 = f.horizontal ? bc->y : bc->x;
    double su1 = su0 + (f.horizontal ? bc->w : bc->h), sv1 = sv0 + (f.horizontal ? bc->h : bc->w);
    int umax = f.horizontal ? f.w : f.h, vmax = f.horizontal ? f.h : f.w;
    /* The scan lines: the decoded rows are near the pattern's middle; the
     * bars reach half their height beyond it, plus what the skew tilts the
     * ends, plus 2 mm. */
    double vc = 0.5 * (sv0 + sv1);
    double vr = 0.5 * H * (1 + 0.1) + 0.5 * L * sin(skew_r) + 2 * k;
    int v0 = (int)floor(vc - vr), v1 = (int)ceil(vc + vr);
    v0 = v0 < 0 ? 0 : v0;
    v1 = v1 > vmax ? vmax : v1;
    if (v1 - v0 < 8)
        return omr_error_set(err, OMR_ENOTFOUND, "barcode: too close to the image edge");
    if (f.depth == 8) {
        /* around the box, as far as the pattern can reach from it */
        double mid = 0.5 * (su0 + su1);
        int ta = (int)floor(fmax(0, fmin(su0, mid - 0.6 * L)));
        int tb = (int)ceil(fmin(umax, fmax(su1, mid + 0.6 * L)));
        int x0 = f.horizontal ? ta : v0, x1 = f.horizontal ? tb : v1;
        int y0 = f.horizontal ? v0 : ta, y1 = f.horizontal ? v1 : tb;
        f.thresh = grey_threshold(&f, x0, y0, x1, y1);
        if (f.thresh < 0)
            return omr_error_set(err, OMR_ENOTFOUND, "barcode: no contrast where it was read");
    }
    /* The pattern's ends along the reading direction: on the rows where
     * zbar decoded the symbol, the run of bars through the box (zbar's box
     * itself spans both ends only when it read the rows both ways). */
    if (pattern_extent(&f, su0, su1, (int)floor(sv0), (int)ceil(sv1), 6 * mod, &su0, &su1))
        return omr_error_set(err, OMR_ENOTFOUND, "barcode: no bars where the reader saw them");
    if (fabs((su1 - su0) / L - 1) > 0.1)
        return omr_error_set(err, OMR_ENOTFOUND,
                             "barcode: the bars where it was read are %.0f px long, printed "
                             "%.0f px", su1 - su0, L);
    /* The walks, on each line, from outside the pattern inwards: the edge
     * is where the decoded lines found it, give or take what the skew tilts
     * it over the bar height; 2 modules more each way. Lines that cross
     * the first bar then start at most 2 modules + twice that tilt (under
     * 10 modules at 6 degrees) outside it: in the printed quiet zone. */
    double reach = 2 * mod + H * tan(skew_r);
    int ua = (int)floor(su0 - reach), ub = (int)ceil(su0 + reach);
    int uc = (int)ceil(su1 + reach), ud = (int)floor(su1 - reach);
    if (ua < 0 || uc >= umax)
        return omr_error_set(err, OMR_ENOTFOUND, "barcode: too close to the image edge");

    int nl = v1 - v0;
    pt_t *p = malloc(sizeof *p * (size_t)nl);
    double *r = malloc(sizeof *r * (size_t)nl);
    if (!p || !r) {
        free(p);
        free(r);
        return omr_error_set(err, OMR_ENOMEM, "register: out of memory");
    }
    edge_t e[2];
    const double bmax = tan(skew_r), max_gap = fmax(2, 0.3 * k);
    int n0 = edge_points(&f, v0, v1, ua, ub, +1, p);
    int bad0 = fit_edge(p, n0, vc, bmax, max_gap, r, &e[0]);
    int n1 = edge_points(&f, v0, v1, uc, ud, -1, p);
    int bad1 = fit_edge(p, n1, vc, bmax, max_gap, r, &e[1]);
    free(p);
    free(r);
    if (bad0 || bad1)
        return omr_error_set(err, OMR_ENOTFOUND, "barcode: its %s edge is not a straight line",
                             bad0 ? "leading" : "trailing");

    /* The middles of the edges, back in image coordinates. */
    double um[2], vm[2];
    for (int s = 0; s < 2; s++) {
        vm[s] = 0.5 * (e[s].v0 + e[s].v1);
        um[s] = e[s].a + e[s].b * (vm[s] - vc);
        double len = (e[s].v1 - e[s].v0) * sqrt(1 + e[s].b * e[s].b);
        out->edge_px[s] = len;
    }
    /* The pattern's leading edge (template X = bars.x) is the one at the
     * small u at 0 and 90 degrees (template x runs along +u), at the large
     * u at 180 and 270. */
    int first = orientation == 0 || orientation == 90 ? 0 : 1;
    for (int s = 0; s < 2; s++) {
        int i = s == first ? 0 : 1;
        out->x[i] = f.horizontal ? um[s] : vm[s];
        out->y[i] = f.horizontal ? vm[s] : um[s];
    }
    out->length_px = hypot(um[1] - um[0], vm[1] - vm[0]);
    double edge_deg[2] = {atan(e[0].b) * 180 / M_PI, atan(e[1].b) * 180 / M_PI};
    /* the reading direction turns by the angle the edges lean, the other way */
    double axis_deg = atan2(vm[1] - vm[0], um[1] - um[0]) * 180 / M_PI;

    /* Checks: one rectangle of bars, the printed height and length. The
     * scale may be off by the registration's tolerance (a few %); the edges
     * lose a pixel or two to a rough scan. */
    if (fabs(out->length_px / L - 1) > 0.1)
        return omr_error_set(err, OMR_ENOTFOUND,
                             "barcode: its bars are %.0f px long, printed %.0f px", out->length_px,
                             L);
    /* The bar height at the pattern's measured scale: on the corpus within
     * 1.2 % for 99 % of the pages; an edge eroded or grown by more moves
     * its middle, and with it the page's rotation. */
    double h_px = H * out->length_px / L;
    for (int s = 0; s < 2; s++)
        if (fabs(out->edge_px[s] / h_px - 1) > 0.05)
            return omr_error_set(err, OMR_ENOTFOUND,
                                 "barcode: its %s edge is %.0f px long, the bars %.0f px",
                                 s == first ? "leading" : "trailing", out->edge_px[s], h_px);
    if (fabs(edge_deg[0] - edge_deg[1]) > 2)
        return omr_error_set(err, OMR_ENOTFOUND,
                             "barcode: its edges are not parallel (%.1f and %.1f degrees)",
                             edge_deg[0], edge_deg[1]);
    if (fabs(axis_deg + 0.5 * (edge_deg[0] + edge_deg[1])) > 2)
        return omr_error_set(err, OMR_ENOTFOUND,
                             "barcode: its edges are not square to it (%.1f vs %.1f degrees)",
                             axis_deg, -0.5 * (edge_deg[0] + edge_deg[1]));
    return OMR_OK;
}
