/* icr_boxes.h -- stage "icr" on a scanned page: read every handwritten box
 * (top-3 boxes, code-grid cells, the digits of a number) and tell written
 * text fields from empty ones.
 *
 * Place in the pipeline: after sample + classify (recognise.c), before store:
 *
 *     register -> sample -> classify -> omr_icr_read_page -> store -> code
 *
 * Per DIGIT region: the box is cut out through the registration transform
 * (the bilinear crop of omr_sample_crop, byte for byte, computed here with
 * shortcuts: printed frame inset away, upright, 8-bit grey at a fixed
 * OMR_ICR_BOXES_PX_PER_MM whatever the scan's resolution), cleaned (paper
 * level and noise measured in the box, contrast stretched so faint pencil
 * reads like pen, frame remnants and dust dropped), normalised and
 * classified (icr.h), and the boxes of one question are decided together
 * under the question's constraints (omr_icr_decide: allowed values = the
 * question's option codes; top-3 distinct, no gaps).
 * The boxes of a number are read again as one row (digits run over their
 * box and into the next): the row's ink is cut into digits, each digit goes
 * to the box its centre lies in and is read from its own ink, thickened
 * when its strokes are far thinner than the model's training digits; any
 * digit 0-9 is allowed, each box decided alone.
 * Per TEXT region: has_ink only (nobody reads the words).
 *
 * Policy: by default (omr_code_options_t.digit_accept_conf = 0) every written
 * box goes to review with the proposal pre-filled. An office that chooses
 * `icr_policy = auto` sets digit_accept_conf = OMR_ICR_AUTO_ACCEPT_CONF: the
 * model's threshold chosen on the MNIST validation split and checked on the
 * simulated scans (tools/bench-icr.sh, "icr-corpus" line).
 */
#ifndef OMR_ICR_BOXES_H
#define OMR_ICR_BOXES_H

#include <leptonica/allheaders.h>

#include "icr.h"
#include "omr.h"
#include "page.h"
#include "template.h"

/* Resolution of the box crops: 10 px/mm (254 dpi) keeps a stroke 3+ px wide
 * and a box under 10,000 px, so reading costs the same at 200 and 600 dpi. */
#define OMR_ICR_BOXES_PX_PER_MM 10.0
/* The crop starts this far inside the box's printed outline: half the 0.3 mm
 * frame plus registration error. Frame pieces that still show are erased. */
#define OMR_ICR_BOXES_INSET_MM 0.45
/* Text fields are only checked for ink: a coarser crop is enough, each
 * 0.25 mm cell the mean of the image pixels under it (a point sample would
 * miss thin strokes); a sixth of the pixels of a 10 px/mm crop. */
#define OMR_ICR_BOXES_TEXT_PX_PER_MM 4.0

/* Confidence at or above which a DIGIT proposal may be accepted without
 * review under the `auto` policy (omr_code_options_t.digit_accept_conf).
 * The shipped model's validated threshold (icr_model.c). */
#define OMR_ICR_AUTO_ACCEPT_CONF ((double)omr_icr_model_threshold)

/* What one box held, for benchmarks and the review UI (the page result keeps
 * only has_ink / digit / digit_conf / doubt). */
typedef struct {
    int empty;            /* 1: nothing written */
    int faint;            /* 1: read empty, but light ink (omr_icr_light_ink) is
                             there: has_ink 1, DOUBTFUL, OMR_DOUBT_FAINT */
    float light_share;    /* omr_icr_light_t.share and .extent_mm when it was */
    float light_extent_mm;/*   measured (an empty box on a grey scan), else 0 */
    float prob[10];       /* classifier output (0 when empty) */
    float other;          /* 1 - sum(prob): "not a digit" mass */
    omr_icr_decision_t decision;
} omr_icr_box_reading_t;

/* Read every DIGIT and TEXT region of page page_index of form in pix.
 *
 * pix: the page image, 1 bpp (1 = black) or 8 bpp grey, borrowed.
 * xform: template mm -> image px (register.h). form: borrowed.
 * regions: form->pages[page_index].n_regions entries (caller's storage, as
 *   omr_sample_page fills them). For each DIGIT region this sets
 *     has_ink     1 when something is written (a digit or not),
 *     digit       the proposal under the question's rules, -1 when empty or
 *                 not a digit,
 *     digit_conf  the model's probability of that proposal (0 when none),
 *     state       BLANK when empty, MARKED when written, DOUBTFUL when the
 *                 proposal breaks the question's rules (a duplicate in a
 *                 top-3 question, a value that is not an option code) or the
 *                 box holds something that is not one digit, so that no
 *                 policy accepts it without review,
 *     doubt       |= OMR_DOUBT_NOT_DIGIT for a tick, a scribble, a word.
 *   For each TEXT region: has_ink, and state BLANK / MARKED to match.
 *   Other regions and fields (m, score) are untouched.
 * readings: optional, n_regions entries: the per-box details (DIGIT only).
 * Returns OMR_OK; OMR_EINPUT (NULL argument, page index, image depth),
 * OMR_ENOMEM, with *err naming the region. A box that cannot be cropped
 * (mapped off the image) reads as empty, not as an error. */
omr_status_t omr_icr_read_page(PIX *pix, const double *xform, const omr_form_t *form,
                               int page_index, omr_region_result_t *regions, omr_error_t *err);

/* The same, also filling readings[n_regions] (may be NULL). */
omr_status_t omr_icr_read_page_ex(PIX *pix, const double *xform, const omr_form_t *form,
                                  int page_index, omr_region_result_t *regions,
                                  omr_icr_box_reading_t *readings, omr_error_t *err);

/* Read one box crop (8-bit grey, 255 paper, ink dark; frame cut away):
 * clean it, decide empty vs written, normalise into *in (icr.h) and, when
 * written, classify into prob[10] (zeros when empty). Exposed for tests and
 * benchmarks. Returns OMR_OK or the error of omr_icr_normalise. */
omr_status_t omr_icr_read_crop(const uint8_t *grey, int w, int h, int stride,
                               omr_icr_input_t *in, float prob[10], omr_error_t *err);

/* Light ink in a digit box that reads empty (8-bit scans only): faint
 * pencil that the contrast stretch of omr_icr_read_crop does not reach.
 * Points (0.2 mm cells, the mean of 2x2 crop px, inside the outer tenth)
 * darker than the box's own paper level (median) by OMR_ICR_LIGHT_MIN_LEVELS
 * levels and at least OMR_ICR_LIGHT_NOISE_K times the box's noise
 * (median absolute deviation), kept when a 4-neighbour is light too.
 * The box is faint when the kept share is at least OMR_ICR_LIGHT_SHARE and
 * one 8-connected piece spans OMR_ICR_LIGHT_EXTENT_MM; thresholds from the
 * corpus, see icr_boxes.c. */
#define OMR_ICR_LIGHT_MIN_LEVELS 6.0
#define OMR_ICR_LIGHT_NOISE_K 3.0
#define OMR_ICR_LIGHT_SHARE 0.015f
#define OMR_ICR_LIGHT_EXTENT_MM 1.2f
typedef struct {
    int faint;        /* 1: light ink enough to send the box to review */
    float share;      /* kept light points / inner points, 0..1 */
    float extent_mm;  /* longest side of the largest kept piece, mm */
    int paper;        /* the box's paper level (median of the cells) */
    float noise_sd;   /* the box's noise, grey levels */
    float contrast;   /* paper minus the darkest 1 % of the cells, grey levels */
} omr_icr_light_t;

/* Measure light ink in grey (a box crop as for omr_icr_read_crop, at
 * OMR_ICR_BOXES_PX_PER_MM) into *out. Returns OMR_OK, OMR_EINPUT (bad
 * arguments), OMR_ENOMEM. */
omr_status_t omr_icr_light_ink(const uint8_t *grey, int w, int h, int stride,
                               omr_icr_light_t *out, omr_error_t *err);

/* Is a text field crop (8-bit grey at OMR_ICR_BOXES_TEXT_PX_PER_MM, frame
 * cut away) written in? Ink pieces of at least 1 mm and 0.25 mm^2, adding
 * up to 0.75 mm^2, outside the frame band. *pwritten
 * gets 1 or 0. Returns OMR_OK, or OMR_EINPUT / OMR_ENOMEM. */
omr_status_t omr_icr_text_has_ink(const uint8_t *grey, int w, int h, int stride, int *pwritten,
                                  omr_error_t *err);

#endif
