/* classify.h -- stage 5 of the scan pipeline: measured ink -> mark states.
 *
 * Input:  the omr_measure_t of each region (sample.h) and a calibration
 *         profile (calib.h).
 * Output: state (blank / marked / doubtful), doubt bits, score, has_ink.
 *
 * Works from the stored measures alone (no pixels), so a batch can be
 * re-classified with a refined profile, and `omr calibrate` can derive a
 * profile from measures and truth. (The trace shape, trace_piece_mm and
 * trace_span_mm, is not stored: measures reloaded from a store read 0 there,
 * and the shape rule then leaves borderline traces doubtful.)
 *
 * Rules, in order (CIRCLE; CHECK the same without the label):
 *   ink >= marked_min           marked, unless the ink is light on a grey scan:
 *                                 darkness < erasure_darkness -> doubtful ERASURE,
 *                                 darkness < faint_darkness   -> doubtful FAINT;
 *   blank_max < ink < marked_min doubtful BORDERLINE (+ FAINT/ERASURE when light);
 *                                 but marked when dark, not struck through, and
 *                                 the trace has the shape of pen strokes
 *                                 (calib.h trace_*, sample.h trace_piece_mm), or
 *                                 (CIRCLE) ink_label >= label marked_min: a
 *                                 circle around the text through the target
 *                                 (LABEL_ONLY, informative; doubtful when the
 *                                 profile's label.only_marks = 0);
 *   ink <= blank_max            the option text decides: ink_label >= label
 *                                 marked_min -> marked (LABEL_ONLY, informative)
 *                                 or doubtful (profile's label.only_marks = 0);
 *                                 between the label thresholds -> doubtful
 *                                 LABEL_ONLY | BORDERLINE; otherwise blank.
 * When unsure the answer is doubtful, never a guess: a wrong value accepted
 * without review is the worst failure (issue 3).
 * DIGIT and TEXT: has_ink = ink >= write_ink_min; state MARKED when written.
 */
#ifndef OMR_CLASSIFY_H
#define OMR_CLASSIFY_H

#include "calib.h"
#include "page.h"
#include "template.h"

/* Classify one region's measures (r->m) in place: sets state, doubt,
 * m.score, has_ink; digit = -1, digit_conf = 0. */
void omr_classify_region(const omr_region_t *region, const omr_calib_t *cal,
                         omr_region_result_t *r);

/* Every region of a page: regions[page->n_regions]. Bubbles (round CHECK
 * regions) are read against the page's own blank bubbles
 * (omr_classify_bubble_base); alone (omr_classify_region) against paper.
 * Then, in each answer unit (a question's bubbles of one grid row) with no
 * bubble read marked or doubtful, the fullest bubble becomes DOUBTFUL with
 * OMR_DOUBT_STANDS_OUT when its fill is at least cal->bubble_stand_out_min
 * and cal->bubble_stand_out_ratio times the next fullest. Why: a thin tick
 * through a bubble, or a light pencil fill that a bitonal threshold broke
 * into specks, may fill less than the page's noise allows a blank bubble
 * (0.06-0.17), yet it is the one trace in a question left unanswered; a
 * person should look rather than export it empty. */
void omr_classify_page(const omr_page_t *page, const omr_calib_t *cal,
                       omr_region_result_t *regions);

/* What a blank bubble printing `print` ("A"; NULL: any) measures on this
 * page: the lower quartile of the ink of those bubbles (the printed code
 * inside the sampled disc, at this scan's resolution and blur: "B" prints
 * more ink than "A"; most bubbles of a sheet are blank), never above
 * cal->bubble_base_max (a sheet filled in almost everywhere must not make
 * its filled bubbles the blank level). Fewer than
 * OMR_CLASSIFY_BUBBLE_BASE_MIN such bubbles: the level of the page's
 * bubbles that print something inside (a letter printed once is not held
 * against the empty bubbles of a form that labels some beside them), of all
 * its bubbles when those are too few; a bubble with nothing printed inside
 * (print "") and too few like it: 0 (paper); fewer bubbles than that on the
 * page: 0. */
#define OMR_CLASSIFY_BUBBLE_BASE_MIN 4
double omr_classify_bubble_base(const omr_page_t *page, const omr_calib_t *cal,
                                const omr_region_result_t *regions, const char *print);

/* What a filled bubble of this page measures: the median ink of its bubbles
 * at least cal->bubble_full_gap darker than its blank ones (the pen and the
 * scan: a blue ball-point fill on a grey JPEG is 0.75-0.9 dark, a black one
 * on a bitonal scan 1), never below cal->bubble_full_min (a page whose only
 * dark bubbles are ticks must not make a tick the filled level); 1 when no
 * bubble is that dark. */
double omr_classify_bubble_full(const omr_page_t *page, const omr_calib_t *cal,
                                const omr_region_result_t *regions);

/* The most a blank bubble of this page may fill (its fill: from the page's
 * blank level to full): cal->bubble_noise_k times the 95th percentile of the
 * fills below cal->bubble_blank_max (the page's noise: the blur and grain
 * of a 100-dpi JPEG spread a blank bubble's fill up to 0.2, a crisp 300-dpi
 * scan keeps it under 0.08), within [cal->bubble_blank_min,
 * cal->bubble_blank_max]; cal->bubble_blank_max with fewer than
 * OMR_CLASSIFY_BUBBLE_NOISE_MIN bubbles. Why: a thin tick through a bubble
 * or a light pencil fill that a bitonal threshold broke into specks fills
 * 0.1-0.2; where the page's noise is lower than that, they are doubtful,
 * not blank. */
#define OMR_CLASSIFY_BUBBLE_NOISE_MIN 20
double omr_classify_bubble_blank_max(const omr_page_t *page, const omr_calib_t *cal,
                                     const omr_region_result_t *regions, double full);

/* The profile to classify one scan with: *cal, with the circle and checkbox
 * blank maxima raised to cal->bitonal_hires_blank_max on a bitonal scan
 * (depth 1) of at least cal->bitonal_hires_dpi dpi. Why: lower maxima catch
 * light ticks on grey and 200-dpi bitonal scans, but on 300-dpi bitonal
 * pages they only flag stray dots (measured: +204 flagged office cells, no
 * fewer wrong). marked_min never falls below blank_max. */
void omr_classify_scan_calib(const omr_calib_t *cal, int depth, double dpi, omr_calib_t *out);

/* A bitonal page whose threshold was too light (print_recovery, from
 * omr_sample_info_t, at or above 0 and below cal->light_scan_recovery_min):
 * pencil, lighter than the print, may have vanished without a trace. In
 * each answer unit (the CIRCLE/CHECK regions of one question and grid row)
 * with no region read MARKED, every BLANK region becomes DOUBTFUL with
 * OMR_DOUBT_LIGHT_SCAN: the answer may be there, unseen. A unit with a mark
 * read keeps its blanks (the respondent's stroke survived this scan). A
 * page that shows pen (at least cal->light_scan_pen_marks regions MARKED,
 * median ink of its marked circles and of its marked checkboxes at least
 * light_scan_pen_circle_ink / _check_ink) is judged per question instead:
 * pen survives a light threshold whole, so there a unit is doubtful only
 * when its whole question has no mark read (faint pencil, lost entirely,
 * may be used for one question even by a pen user).
 * A page with print_recovery up to cal->light_scan_eroded_recovery_max is
 * light as well when its marks read as eroded pencil (half or more of the
 * MARKED mark regions below light_scan_eroded_ink, borderline traces
 * counted as eroded marks with light_scan_eroded_traces; with
 * light_scan_eroded_empty, also a page with no mark read). Filled
 * checkboxes (ink >= light_scan_pen_fill_ink) are no evidence of pen. On a light page
 * that does not show pen, with light_scan_multi_cells, a unit whose options
 * are columns of their own (many answers) is doubtful cell by cell: a mark
 * read there does not clear the unit's other blanks.
 * Returns the number of regions made doubtful. */
int omr_classify_light_scan(const omr_page_t *page, const omr_calib_t *cal, float print_recovery,
                            omr_region_result_t *regions);

/* The same for the handwritten digit boxes, after the handwriting reader
 * (icr_boxes.h) has decided which hold ink: on a page that
 * omr_classify_light_scan judges light, an empty DIGIT box of a unit (a code
 * grid row, a top-3 question; the whole question on a pen page) with no
 * box written becomes DOUBTFUL with OMR_DOUBT_LIGHT_SCAN (code.c then sends
 * it to review instead of exporting a certain empty). Off when
 * cal->light_scan_boxes is 0. Returns the number of boxes made doubtful. */
int omr_classify_light_scan_boxes(const omr_page_t *page, const omr_calib_t *cal, float print_recovery,
                                  omr_region_result_t *regions);

/* After the handwriting reader: a DIGIT box it read empty (has_ink 0, BLANK)
 * whose sampled ink (m.ink, the ink added to the blank form) is at least
 * cal->write_disagree_ink becomes DOUBTFUL with OMR_DOUBT_NOT_DIGIT and
 * has_ink 1: two readers disagree, so a person looks (code.c sends it to
 * review with no proposal). Why: the reader drops strokes that lie along
 * the box frame (a 1 written against the side) or broke into specks; the
 * sampler, which subtracts the printed frame, still sees them. On the
 * corpus: 31 of 39 written boxes read empty caught, 1 of 4,011 empty boxes
 * sent to review. Returns the number of boxes made doubtful. */
int omr_classify_boxes_disagree(const omr_page_t *page, const omr_calib_t *cal,
                                omr_region_result_t *regions);

/* Filled checkboxes on a form whose convention is that a box filled in solid
 * cancels the choice (survey filled=cancel, omr_survey_t.filled_cancels; queXF
 * prints its forms so): a CHECK region with ink at least
 * cal->check_filled_min becomes BLANK (doubt OMR_DOUBT_CROSSOUT, informative)
 * when another box of its answer unit (question and grid row) is MARKED: the
 * respondent crossed the box, filled it to take it back, and crossed another.
 * With no other box marked it becomes DOUBTFUL OMR_DOUBT_CROSSOUT: a filled
 * box alone may be the answer of a respondent who did not know the
 * convention, and a person decides. Without the convention (cancels 0)
 * nothing changes: a filled box is a mark. Returns the regions changed. */
int omr_classify_filled(const omr_page_t *page, const omr_calib_t *cal, int cancels,
                        omr_region_result_t *regions);

/* Per-batch refinement: from the measures of a batch's pages estimate the
 * blank-ink level of its CIRCLE and CHECK regions and raise the blank
 * maxima to stay above it (a dusty glass, a noisy scanner), never beyond the
 * profile's batch limits, and never lower than the profile. Pages whose
 * status is not OMR_PAGE_OK are ignored; their form/page_number locate the
 * template. With fewer than cal->batch_min_regions mark regions *out is a
 * copy of *base. note (optional, n bytes) gets one line saying what changed.
 * Returns the number of thresholds changed. Not applied by `omr scan`: on
 * the corpus a raised blank maximum turns light real marks into silent
 * blanks (calib/default.calib has the numbers). */
int omr_classify_refine(const omr_calib_t *base, const omr_survey_t *survey,
                        const omr_page_result_t *pages, int n_pages, omr_calib_t *out,
                        char *note, size_t n);

#endif
