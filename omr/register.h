/* register.h -- stage 3 of the scan pipeline: find the page's corner marks
 * and fit the transform from template millimetres to image pixels.
 *
 * Input:  a page image (1 bpp, 1 = black, or 8 bpp grey, 0 = black; from
 *         load.h), its template page (4 corner marks in mm, order TL TR BL
 *         BR: solid squares, centre and side, or L-shaped corners as other
 *         form printers draw them, the L's inside corner, arm length and
 *         width, or bullseyes, centre and outer diameter; template.h
 *         omr_mark_shape_t), the orientation identify found
 *         (0, 90, 180, 270: how the sheet lies in the image) and the nominal
 *         resolution (0: unknown, inferred from the image size, then measured
 *         from the mark spacing).
 * Output: omr_register_t: image (x, y) = (a*X + b*Y + c, d*X + e*Y + f) for
 *         template (X, Y) in mm, in continuous pixel coordinates (the centre
 *         of pixel (i, j) is (i + 0.5, j + 0.5)); the RMS residual of the
 *         marks in mm; the marks found; the measured resolution.
 *
 * The image is never rotated or warped: later stages map template points
 * into it. Each mark is searched in a window around its expected place wide
 * enough for ±5° skew, ±10 mm shift and ±3 % scale; a candidate must have
 * the size and the solidity of the mark, so text, barcode bars, a dark scan
 * backing or a respondent's filled box near a corner are not taken for it.
 * An L-shaped mark is two thin straight strokes, square to each other, each
 * 60 % to 135 % of the arm's length from the outer corner, pointing the way
 * this corner's arms point in the image (an upside-down page has the
 * template's top-left L at the bottom right, arms going left and up), with
 * free ends and nothing carrying on beyond the outer corner: text, a rule,
 * crossing rules or a box frame near the corner are not taken for it. Its
 * place is where the fitted inner edges of the arms meet (to a few tenths
 * of a pixel at any skew), the template's point for the mark.
 * A bullseye (a disc inside two rings) is a piece of ink the size of its
 * outer or middle ring with, along rays from its middle, black, white,
 * black, white, black where the template's bands put the edges: a filled
 * disc or bubble, a square, a circle outline, text or a target of other
 * bands is not taken for it. Its centre is where its rings' edges along
 * rows and columns mirror each other (to about 0.1 px on grey, 0.15 px on
 * 1 bpp, from 100 to 600 dpi).
 * A square cut by the image edge (a sheet shifted off the scanned area) is
 * located by its inner edge and middle row; one cut by more than half, or
 * on two sides, is refused, as is an L with an arm cut or a bullseye cut.
 * With 4 candidates whose fit is poor, every 3-mark subset is tried, so one
 * wrong, hidden or lost mark still registers (then the residual is not
 * measurable and reported as 0 with n_marks == 3).
 * With only 2 marks found (the others off a shifted sheet), the page is fitted
 * with rotation, uniform scale and shift, from the pair farthest apart; a
 * sheet-fed scanner does not shear, so that is enough. One mark alone: not
 * registered -- unless the caller gives the page barcode as a landmark
 * (omr_register_page_barcode): one mark and the two ends of the bar pattern
 * are then fitted with rotation, uniform scale and shift, and accepted only
 * when the three agree (residual), and the transform the barcode alone gives
 * stays within max_barcode_mm of the fit at every corner of the page.
 *
 * Cost: four windows of about 75 mm square, counted on a ~0.75 mm grid with
 * popcount on 1 bpp; about 1-2 ms per 300-dpi page. L-shaped marks: four
 * windows of about 85 mm square made bits and transposed, their thin runs
 * chained along rows and columns; about 0.5 ms per 300-dpi page on 1 bpp,
 * 1.5 ms on 8 bpp. Bullseyes: the same windows as squares made bits, their
 * runs joined into pieces; about 0.6 ms per 300-dpi page on 1 bpp, 1.1 ms
 * on 8 bpp (2 and 4 ms at 600 dpi). The barcode is looked at only on a page
 * the marks failed (a few scan lines around where identify read it: about
 * 1 ms).
 */
#ifndef OMR_REGISTER_H
#define OMR_REGISTER_H

#include <leptonica/allheaders.h>

#include "omr.h"
#include "template.h"

/* Tolerances. omr_register_opts_default() gives the values in brackets. */
typedef struct {
    double max_shift_mm;     /* [10]  feeder shift, each axis */
    double max_skew_deg;     /* [5]   */
    double max_scale;        /* [0.03] relative scale error (roller slip) */
    double max_residual_mm;  /* [1.0] RMS of the 4 marks from the affine fit */
    double max_shear_deg;    /* [2]   non-orthogonality of the fitted axes */
    double max_barcode_mm;   /* [2.0] one mark + barcode: the most the transform of the
                                barcode alone may differ from the fit, at any page corner */
} omr_register_opts_t;

void omr_register_opts_default(omr_register_opts_t *opts);

typedef struct {
    double xform[6];      /* template mm -> image px, as omr_page_result_t.xform */
    double residual_mm;   /* RMS distance of the marks from the fit (0 when only 3) */
    int n_marks;          /* marks used in the fit: 2 (similarity), 3 or 4 (affine), 1 with
                             the barcode (similarity); on failure the marks found when < 2, else 0 */
    int found[4];         /* mark k (TL TR BL BR of the template) used */
    double mark_x[4], mark_y[4]; /* their centres in the image (an L: its inside corner), px */
    double mark_grey;     /* 8 bpp: mean grey inside the marks (an L: along its arms' middle;
                             a bullseye: the middle of its disc), the scan's black; 0 on 1 bpp */
    double dpi;           /* resolution measured from the fit (mean of both axes) */
    double skew_deg;      /* rotation of the template x axis in the image, minus the orientation */
    double scale_x, scale_y; /* fitted scale relative to the nominal dpi */
    int barcode;          /* 1: fitted from one mark and the barcode's ends (n_marks 1) */
    int n_patches;        /* registered by print (omr_register_page_print): patches of the
                             blank page's print used in the fit; n_marks is then 0 */
    double match;         /* ... their mean correlation with the scan (0-1) */
    char reason[256];     /* on failure: why, for the operator */
} omr_register_t;

/* The page barcode as a landmark: where the template prints its bars, and
 * where identify read it in this image. */
typedef struct {
    omr_rect_t bars;      /* template mm, page upright: the bar pattern, first bar's
                             leading edge to last bar's trailing edge, bars' top to
                             bottom (omr_print_barcode_bars) */
    double module_mm;     /* the narrowest bar (omr_print_barcode_bars) */
    int x, y, w, h;       /* image px: the box where the reader decoded it (omr_barcode_t):
                             a seed; its extent along the reading direction must be the
                             pattern's (read both ways), across it any of the bars' rows */
} omr_register_barcode_t;

/* Register one page.
 * pix: 1 or 8 bpp, borrowed. page: borrowed. orientation: 0/90/180/270.
 * dpi: the file's resolution or 0. opts: NULL for the defaults.
 * Returns OMR_OK with *out filled; OMR_ENOTFOUND when the page cannot be
 * registered (fewer than 2 marks, a fit beyond the limits): out->reason and
 * *err say why -- a page-level review item, not an error of the batch;
 * OMR_EINPUT for unusable arguments (depth, empty image, page without marks). */
omr_status_t omr_register_page(PIX *pix, const omr_page_t *page, int orientation, double dpi,
                               const omr_register_opts_t *opts, omr_register_t *out,
                               omr_error_t *err);

/* The same, with the page barcode as a landmark for a page on which exactly
 * one corner mark is found (or whose found marks do not fit, one of them
 * fitting the barcode): see the top of this file. bc: borrowed, NULL for
 * omr_register_page. A page the marks register alone gives exactly
 * omr_register_page's result; the barcode is looked at only when they do
 * not. On success through the barcode: n_marks 1, barcode 1, residual_mm the
 * RMS of the mark and the two ends from the fit. On failure the reason names
 * the marks found and why the barcode did not help. */
omr_status_t omr_register_page_barcode(PIX *pix, const omr_page_t *page, int orientation,
                                       double dpi, const omr_register_opts_t *opts,
                                       const omr_register_barcode_t *bc, omr_register_t *out,
                                       omr_error_t *err);

/* Where the barcode's bar pattern is in the image (register_barcode.c).
 * The two ends are the middles of the pattern's leading edge (template
 * X = bars.x) and trailing edge (X = bars.x + bars.w), at Y = the bars'
 * middle, in image px. */
typedef struct {
    double x[2], y[2];    /* [0]: the leading edge's middle, [1]: the trailing edge's */
    double edge_px[2];    /* their lengths (the bar height as scanned), px */
    double length_px;     /* distance between the two ends, px */
} omr_register_bars_t;

/* Locate bc's bar pattern in pix (1 or 8 bpp, borrowed) for a page read at
 * orientation (0, 90, 180, 270) at k px per mm (nominal), skew up to
 * max_skew_deg. Returns OMR_OK with *out; OMR_ENOTFOUND with *err's message
 * saying why when the pattern is not whole and straight where the reader
 * saw it (edges of the bar height, parallel, square to the pattern, the
 * printed length within 10 %); OMR_EINPUT, OMR_ENOMEM. */
omr_status_t omr_register_find_bars(PIX *pix, const omr_register_barcode_t *bc, int orientation,
                                    double k, double max_skew_deg, omr_register_bars_t *out,
                                    omr_error_t *err);

/* How well the print of the blank page (blank: 8 bpp, rendered at blank_dpi,
 * borrowed) matches pix (1 or 8 bpp, borrowed) registered by xform: the mean
 * scan level at points where the blank page is paper (all around) less the
 * mean where it is printed, as a share of the paper's level: well above 0
 * when the print lies where the template says, near 0 when it does not. Why:
 * a sheet without a barcode whose corner marks are symmetric (four alike in
 * a rectangle) registers upright and upside down alike; only its print tells
 * which way up it was fed. -1 when too few points fall on the image. */
double omr_register_print_match(PIX *pix, const double *xform, PIX *blank, double blank_dpi);

/* A page printed without corner marks (template page reference=) is
 * registered by its print (register_print.c) against the blank page
 * prepared once (omr_register_print_prepare): ref, 8 bpp grey, upright, edge
 * to edge, at OMR_REGISTER_PRINT_PX_PER_MM (e.g. omr_sample_cache_reference).
 * Preparing picks, in each cell of a grid over the page, a patch of print
 * (text, rules, headings; never an answer region, where the respondent's
 * ink would differ) with contrast that is unlike the rest of the page
 * around it (evenly spaced text lines, a row of alike bubbles would match
 * themselves a line or a bubble away): ~0.1-0.3 s, once per worker and page.
 * *pout owned by the caller (omr_register_print_ref_free). */
#define OMR_REGISTER_PRINT_PX_PER_MM 4
typedef struct omr_register_print_ref omr_register_print_ref_t;
omr_status_t omr_register_print_prepare(PIX *ref, const omr_page_t *page, omr_register_print_ref_t **pout,
                                        omr_error_t *err);
void omr_register_print_ref_free(omr_register_print_ref_t *ref);
/* Has the prepared page enough distinct print to register by? *n_big and
 * *n_patches: the patches found at the first and the middle level (at
 * least 3 and 6 are needed). For `omr check-template`. */
int omr_register_print_ref_usable(const omr_register_print_ref_t *ref, int *n_big, int *n_patches);

/* Register a scan of such a page. pix, page, orientation, dpi, opts as
 * omr_register_page; ref: borrowed. The patches are found in the scan by
 * normalised correlation (those near the middle of the page over the whole
 * tolerance, then every patch where they put it, then each to a fraction of
 * a pixel against the scan resampled through the fit); the affine transform
 * is fitted on those that agree. Returns OMR_OK with *out (n_marks 0,
 * n_patches and match set, mark_grey the scan's darkest grey on 8 bpp);
 * OMR_ENOTFOUND with out->reason when too few patches agree, they do not
 * spread over the page, or the fit is not a plausible scan within
 * opts->max_residual_mm (a sheet of another form, a blank or dark scan, a
 * sheet lying otherwise than orientation says); OMR_EINPUT, OMR_ENOMEM.
 * Cost: ~20 ms a 300-dpi page (`make bench`: 25 ms a mark-less G4 page end
 * to end, decode 2 ms): the scan's grid, the first search over the whole
 * tolerance and the fine matches, against ~1 ms by corner marks. */
omr_status_t omr_register_page_print(PIX *pix, const omr_page_t *page, const omr_register_print_ref_t *ref,
                                     int orientation, double dpi, const omr_register_opts_t *opts, omr_register_t *out,
                                     omr_error_t *err);

/* Map template (X, Y) mm through xform to image px. */
static inline void omr_register_map(const double *xf, double X, double Y, double *px, double *py)
{
    *px = xf[0] * X + xf[1] * Y + xf[2];
    *py = xf[3] * X + xf[4] * Y + xf[5];
}

/* Least-squares affine fit of n >= 3 point pairs (X, Y) -> (x, y). Writes
 * xform[6] and, optionally, the RMS residual in the output units.
 * Returns 0, or -1 when the points are degenerate (collinear). */
int omr_register_fit(const double *X, const double *Y, const double *x, const double *y, int n,
                     double *xform, double *prms);

#endif
