/* recognise.h -- one page through stages 3-5: register, sample, classify.
 *
 * The pipeline (store/scan driver) calls this once per identified page:
 *
 *     load (load.h) -> identify (identify.h) -> omr_recognise_page -> store
 *
 * Input:  the page image (1 or 8 bpp, borrowed) and its result record with
 *         identify's fields filled: form, page_number, orientation, and dpi
 *         (the file's resolution, 0 when unknown).
 * Output: the same record with xform, residual_mm, dpi (measured from the
 *         marks), n_regions and regions (allocated here; owned by the record,
 *         freed by omr_page_result_clear) filled; status stays OMR_PAGE_OK, or
 *         becomes OMR_PAGE_REGISTER_FAILED with the reason (a page-level
 *         review item, not an error: the call still returns OMR_OK).
 */
#ifndef OMR_RECOGNISE_H
#define OMR_RECOGNISE_H

#include <leptonica/allheaders.h>

#include "calib.h"
#include "page.h"
#include "sample.h"
#include "template.h"

/* Register, sample and classify one page (see above). cache: the worker's
 * sample cache for this survey. cal: NULL for the built-in profile.
 * Returns OMR_OK (also for a page that could not be registered: see
 * res->status); OMR_EINPUT when res names a form or page the survey lacks,
 * or the image depth is unusable; OMR_ENOMEM; with *err. */
omr_status_t omr_recognise_page(PIX *pix, const omr_survey_t *survey, const omr_calib_t *cal,
                                omr_sample_cache_t *cache, omr_page_result_t *res,
                                omr_error_t *err);

#endif
