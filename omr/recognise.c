/* recognise.c -- stages 3-5 for one page (recognise.h). */
#include "recognise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "icr_boxes.h"
#include "print.h"
#include "register.h"
#include "sample.h"

/* A sheet of a survey identified by order carries no barcode to say which
 * way up it was fed, and corner marks alike in a rectangle fit both ways:
 * register it upright and upside down, and keep the way its print matches
 * the blank form's (omr_register_print_match) clearly better than the
 * other (by OMR_RECOGNISE_ORIENT_MARGIN of the better one's match). When
 * only one way registers it is that one; when the print does not decide
 * (also a sheet of another form with the same corner marks: measured on
 * the IPA pages against a bubble sheet, 0.19-0.21 both ways; sheets of the
 * form: the two real OMRChecker scans 0.21 and 0.42 upright, 0.06 and 0.13
 * upside down; 496 simulated bubble sheets, the wrong way 0.15-0.57 of the
 * right way), the page is not
 * registered (a person looks) rather than read either way:
 * read the wrong way up, every answer would be another question's.
 * Sets res->orientation. Returns as omr_register_page. */
#define OMR_RECOGNISE_ORIENT_MARGIN 0.3
static omr_status_t register_by_print(PIX *pix, const omr_form_t *form, int pi, double dpi,
                                      const omr_register_opts_t *ro, omr_sample_cache_t *cache,
                                      omr_page_result_t *res, omr_register_t *reg, omr_error_t *err)
{
    const omr_page_t *pg = &form->pages[pi];
    omr_register_t up, down;
    omr_error_t eup = {0}, edown = {0};
    omr_status_t sup = omr_register_page(pix, pg, 0, dpi, ro, &up, &eup);
    omr_status_t sdown = omr_register_page(pix, pg, 180, dpi, ro, &down, &edown);
    if (sup != OMR_OK && sup != OMR_ENOTFOUND) {
        *err = eup;
        return sup;
    }
    if (sdown != OMR_OK && sdown != OMR_ENOTFOUND) {
        *err = edown;
        return sdown;
    }
    if (sup != OMR_OK || sdown != OMR_OK) {
        int use_down = sup != OMR_OK && sdown == OMR_OK;
        *reg = use_down ? down : up;
        *err = use_down ? edown : eup;
        res->orientation = use_down ? 180 : 0;
        return use_down ? sdown : sup;
    }
    PIX *blank = omr_sample_cache_coarse(cache, form, pi, err);
    if (!blank)
        return err && err->status ? err->status : OMR_ENOMEM;
    double mup = omr_register_print_match(pix, up.xform, blank, OMR_SAMPLE_COARSE_DPI);
    double mdown = omr_register_print_match(pix, down.xform, blank, OMR_SAMPLE_COARSE_DPI);
    double best = mup > mdown ? mup : mdown, other = mup > mdown ? mdown : mup;
    if (best - other < OMR_RECOGNISE_ORIENT_MARGIN * best) {
        *reg = up;
        snprintf(reg->reason, sizeof reg->reason,
                 "cannot tell which way up the sheet was fed: its corner marks fit both ways and its print "
                 "matches the form about as well both ways (%.2f upright, %.2f upside down): a sheet of "
                 "another form with the same marks, or one whose print the scan lost",
                 mup, mdown);
        return omr_error_set(err, OMR_ENOTFOUND, "register: %s", reg->reason);
    }
    *reg = mup > mdown ? up : down;
    res->orientation = mup > mdown ? 0 : 180;
    return OMR_OK;
}

/* A page printed without corner marks (or one whose marks failed, see
 * omr_recognise_page): registered by its print against the blank page's
 * image (omr_register_page_print). Its print says which way up
 * it lies (a page of text does not correlate with itself upside down), so on
 * a survey read by order, where nothing else says, a sheet that does not
 * register upright is tried upside down. A reference image that cannot be
 * read is the template's fault, but only this page's problem: it is not
 * registered, with the reason. Sets res->orientation. */
static omr_status_t register_mark_less(PIX *pix, const omr_survey_t *survey, const omr_form_t *form, int pi,
                                       const omr_register_opts_t *ro, omr_sample_cache_t *cache,
                                       omr_page_result_t *res, omr_register_t *reg, omr_error_t *err)
{
    const omr_page_t *pg = &form->pages[pi];
    omr_error_t rerr = {0};
    const omr_register_print_ref_t *ref = omr_sample_cache_print_ref(cache, form, pi, &rerr);
    if (!ref) {
        if (rerr.status == OMR_ENOMEM)
            return omr_error_set(err, OMR_ENOMEM, "%s", rerr.msg);
        memset(reg, 0, sizeof *reg);
        snprintf(reg->reason, sizeof reg->reason, "the blank page's image to register by is unusable: %.180s",
                 rerr.msg);
        return omr_error_set(err, OMR_ENOTFOUND, "register: %s", reg->reason);
    }
    omr_status_t st = omr_register_page_print(pix, pg, ref, res->orientation, res->dpi, ro, reg, err);
    if (st == OMR_ENOTFOUND && survey->ids_by_order && res->orientation == 0) {
        omr_register_t down;
        omr_error_t derr = {0};
        if (omr_register_page_print(pix, pg, ref, 180, res->dpi, ro, &down, &derr) == OMR_OK) {
            *reg = down;
            res->orientation = 180;
            return OMR_OK;
        }
    }
    return st;
}

omr_status_t omr_recognise_page(PIX *pix, const omr_survey_t *survey, const omr_calib_t *cal,
                                omr_sample_cache_t *cache, omr_page_result_t *res,
                                omr_error_t *err)
{
    if (!pix || !survey || !cache || !res)
        return omr_error_set(err, OMR_EINPUT, "recognise: missing argument");
    omr_calib_t defaults;
    if (!cal) {
        omr_calib_default(&defaults);
        cal = &defaults;
    }
    const omr_form_t *form = omr_template_form(survey, res->form);
    if (!form || res->page_number < 1 || res->page_number > form->n_pages)
        return omr_error_set(err, OMR_EINPUT, "recognise: survey %s has no form %s page %d",
                             survey->id, res->form, res->page_number);
    const int pi = res->page_number - 1;
    const omr_page_t *pg = &form->pages[pi];
    res->width = (int)pixGetWidth(pix);
    res->height = (int)pixGetHeight(pix);

    /* Stage 3: register. */
    omr_register_opts_t ro;
    omr_register_opts_default(&ro);
    ro.max_residual_mm = cal->register_max_residual_mm;
    omr_register_t reg;
    omr_error_t rerr = {0};
    omr_status_t st = !omr_page_has_marks(pg)
                          ? register_mark_less(pix, survey, form, pi, &ro, cache, res, &reg, &rerr)
                      : survey->ids_by_order
                          ? register_by_print(pix, form, pi, res->dpi, &ro, cache, res, &reg, &rerr)
                          : omr_register_page(pix, pg, res->orientation, res->dpi, &ro, &reg, &rerr);
    if (st == OMR_ENOTFOUND && res->barcode_box[2] > 0 && res->payload[0] && !pg->barcode_value) {
        /* Marks missing (a sheet shifted or skewed off the scanned area):
         * again with the barcode's bars as a landmark. Only pages the marks
         * failed pay for the bars' layout and the second search; only our own
         * print, whose bar layout we know. */
        omr_register_barcode_t bc = {.x = res->barcode_box[0], .y = res->barcode_box[1],
                                     .w = res->barcode_box[2], .h = res->barcode_box[3]};
        omr_error_t berr = {0};
        if (omr_print_barcode_bars(&pg->barcode, res->payload, &bc.bars, &bc.module_mm, &berr) ==
            OMR_OK)
            st = omr_register_page_barcode(pix, pg, res->orientation, res->dpi, &ro, &bc, &reg,
                                           &rerr);
    }
    if (st == OMR_ENOTFOUND && omr_page_has_marks(pg) &&
        (pg->reference || (res->payload[0] && !pg->barcode_value && !survey->ids_by_order))) {
        /* Marks lost (cut off, covered by a sticker, torn) and the barcode
         * no help: the page's print, as on a form printed without marks
         * (~20 ms, only on pages that failed): the page's reference image,
         * or our own page's render (which shows our print as printed; the
         * barcode said which page and which way up). The marks' reason
         * stays when the print does not register either. */
        omr_register_t by_print;
        omr_error_t perr = {0};
        omr_status_t pst = register_mark_less(pix, survey, form, pi, &ro, cache, res, &by_print, &perr);
        if (pst == OMR_ENOMEM)
            return omr_error_set(err, OMR_ENOMEM, "%s", perr.msg);
        if (pst == OMR_OK) {
            reg = by_print;
            st = OMR_OK;
        }
    }
    if (st == OMR_ENOTFOUND) {
        res->status = OMR_PAGE_REGISTER_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s", reg.reason);
        return OMR_OK;
    }
    if (st != OMR_OK) {
        if (err)
            *err = rerr;
        return st;
    }
    memcpy(res->xform, reg.xform, sizeof res->xform);
    res->residual_mm = reg.residual_mm;
    res->dpi = reg.dpi;

    /* Stage 4: sample. */
    free(res->regions);
    res->n_regions = 0;
    res->regions = calloc((size_t)(pg->n_regions ? pg->n_regions : 1), sizeof *res->regions);
    if (!res->regions)
        return omr_error_set(err, OMR_ENOMEM, "recognise: out of memory");
    res->n_regions = pg->n_regions;
    omr_sample_info_t info;
    st = omr_sample_page_ex(pix, form, pi, reg.xform, reg.mark_grey, cache, res->regions, &info,
                            err);
    if (st != OMR_OK)
        return st;

    /* Stage 5: classify the marks. */
    omr_calib_t scal; /* blank maxima for this scan's depth and resolution */
    omr_classify_scan_calib(cal, (int)pixGetDepth(pix), res->dpi, &scal);
    omr_classify_page(pg, &scal, res->regions);
    omr_classify_filled(pg, &scal, survey->filled_cancels, res->regions);
    /* Stage 5a: a bitonal scan too light to keep pencil: blank answer units
     * become doubtful (classify.h). */
    omr_classify_light_scan(pg, cal, info.print_recovery, res->regions);

    /* Stage 5b: read the handwritten boxes and fields (empty or written, and
     * a digit proposal with its confidence); replaces the ink-based reading
     * of DIGIT and TEXT regions. */
    st = omr_icr_read_page(pix, reg.xform, form, pi, res->regions, err);
    if (st != OMR_OK)
        return st;
    /* Stage 5c: a box read empty where the sampler saw ink is doubtful; then
     * empty boxes on a scan too light for pencil are doubtful. */
    omr_classify_boxes_disagree(pg, cal, res->regions);
    omr_classify_light_scan_boxes(pg, cal, info.print_recovery, res->regions);
    res->status = OMR_PAGE_OK;
    return OMR_OK;
}
