/* register_internal.h -- what the ways of registering a page share
 * (register.c: corner marks; register_print.c: the page's print). Not part
 * of the pipeline's interface. */
#ifndef OMR_REGISTER_INTERNAL_H
#define OMR_REGISTER_INTERNAL_H

#include "register.h"

/* The nominal scale of a scan of page lying at orientation in a w x h
 * image, px per mm: the file's dpi unless it disagrees with the image size
 * by more than 15 % (a wrong or missing header), then the image size.
 * *pslack: how far that scale itself may be off (0.25 from the image size,
 * 0.05 from the file), on top of the options' max_scale. */
double omr_register_nominal_k(const omr_page_t *page, int orientation, int w, int h, double dpi,
                              double *pslack);

/* The nominal transform for an orientation: template mm -> image px. */
void omr_register_nominal_xform(int orientation, double W, double H, double k, double *xf);

typedef struct {
    double k;            /* nominal px per mm */
    double scale_slack;  /* how far k itself may be off, on top of the opts' max_scale */
    double orient_rad;   /* angle of the template x axis in the image */
    const omr_register_opts_t *o;
} omr_register_plaus_t;

/* Is a fitted transform a plausible scan of the page? Fills skew, scales.
 * Returns a distortion score (>= 0, smaller is better) or -1 when not. */
double omr_register_plausible(const omr_register_plaus_t *p, const double *xf, double *pskew, double *psx,
                              double *psy);

/* The start of every registration entry point: *out cleared, *popts the
 * defaults (kept in *defaults) when NULL. OMR_EINPUT without out. */
omr_status_t omr_register_begin(omr_register_t *out, const omr_register_opts_t **popts,
                                omr_register_opts_t *defaults, omr_error_t *err);

#endif
