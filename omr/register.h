/* register.h -- stage 3 of the scan pipeline: find the page's corner marks
 * and fit the transform from template millimetres to image pixels.
 *
 * Input:  a page image (1 bpp, 1 = black, or 8 bpp grey, 0 = black; from
 *         load.h), its template page (4 solid square corner marks, centres
 *         and side in mm, order TL TR BL BR), the orientation identify found
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
 * A mark cut by the image edge (a sheet shifted off the scanned area) is
 * located by its inner edge and middle row; one cut by more than half, or
 * on two sides, is refused. With 4 candidates whose fit is poor, every
 * 3-mark subset is tried, so one wrong, hidden or lost mark still registers
 * (then the residual is not measurable and reported as 0 with n_marks == 3).
 * With only 2 marks found (the others off a shifted sheet), the page is fitted
 * with rotation, uniform scale and shift, from the pair farthest apart; a
 * sheet-fed scanner does not shear, so that is enough. One mark: not registered.
 *
 * Cost: four windows of about 75 mm square, counted on a ~0.75 mm grid with
 * popcount on 1 bpp; about 1-2 ms per 300-dpi page.
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
} omr_register_opts_t;

void omr_register_opts_default(omr_register_opts_t *opts);

typedef struct {
    double xform[6];      /* template mm -> image px, as omr_page_result_t.xform */
    double residual_mm;   /* RMS distance of the marks from the fit (0 when only 3) */
    int n_marks;          /* marks used in the fit: 2 (similarity), 3 or 4 (affine); 0..1 on failure */
    int found[4];         /* mark k (TL TR BL BR of the template) used */
    double mark_x[4], mark_y[4]; /* their centres in the image, px */
    double mark_grey;     /* 8 bpp: mean grey inside the marks (the scan's black); 0 on 1 bpp */
    double dpi;           /* resolution measured from the fit (mean of both axes) */
    double skew_deg;      /* rotation of the template x axis in the image, minus the orientation */
    double scale_x, scale_y; /* fitted scale relative to the nominal dpi */
    char reason[256];     /* on failure: why, for the operator */
} omr_register_t;

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
