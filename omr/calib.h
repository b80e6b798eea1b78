/* calib.h -- calibration profiles: the thresholds that turn measured ink
 * into mark states (classify.h), read from and written to small text files.
 *
 * A profile (calib/default.calib ships; `omr calibrate` derives one from
 * scans with known truth) is UTF-8 text of `key = value` lines; `#` starts a
 * comment, blank lines are ignored. Every key is optional (missing keys keep
 * the built-in default, omr_calib_default(), which equals default.calib).
 * Unknown keys, malformed numbers, values out of range and inconsistent
 * pairs (a blank maximum above the marked minimum) are refused with
 * "file:line: reason". Keys and their meaning: calib/README.md.
 */
#ifndef OMR_CALIB_H
#define OMR_CALIB_H

#include <stddef.h>

#include "omr.h"

typedef struct {
    /* CIRCLE targets: share of the ring's open area that is dark. */
    double circle_blank_max;   /* at or below: blank */
    double circle_marked_min;  /* at or above: marked; between: doubtful (borderline) */
    /* CIRCLE option text (a circle drawn around the text instead of the number). */
    double label_blank_max;
    double label_marked_min;
    int label_only_marks;      /* 1: a clear circle around the text alone is marked
                                  (LABEL_ONLY bit set, informative); 0: doubtful */
    /* CHECK boxes: share of the box's open area that is dark. */
    double check_blank_max;
    double check_marked_min;
    /* DIGIT, TEXT: something is written at or above this share. */
    double write_ink_min;
    /* Grey scans: mean darkness of the added ink (0 paper .. 1 the scan's black). */
    double faint_darkness;     /* marked-level ink lighter than this: doubtful, FAINT */
    double erasure_darkness;   /* lighter still: doubtful, ERASURE */
    double light_blank_max;    /* ink this light (darkness < erasure_darkness) is blank up
                                  to this share: paper noise, JPEG halos, a faded page */
    /* Per-batch refinement (omr_classify_refine): only with at least this
     * many mark regions, and the blank maxima rise at most to these. */
    int batch_min_regions;
    double batch_circle_blank_limit;
    double batch_check_blank_limit;
    /* Bitonal scans whose threshold erased part of the printed form
     * (omr_sample_info_t.print_recovery below this): pencil is then lost
     * entirely, and the blank cells of an answer unit with no mark read
     * are doubtful (omr_classify_light_scan). 0 turns the rule off. */
    double light_scan_recovery_min;
    /* ...unless the page shows the respondent used pen: at least pen_marks
     * regions read MARKED, and the median ink of those that are circles
     * (checkboxes) at least pen_circle_ink (pen_check_ink). A pen stroke
     * survives a light threshold whole; pencil that survived is eroded to
     * far less ink. pen_marks 0 turns this exception off. */
    int light_scan_pen_marks;
    double light_scan_pen_circle_ink;
    double light_scan_pen_check_ink;
    /* A checkbox read with at least pen_fill_ink is a filled box: it says
     * nothing of the instrument (a pencil fill survives a light threshold
     * as well as pen), so it is not counted as pen. 0 counts every box. */
    double light_scan_pen_fill_ink;
    /* A page above recovery_min but below eroded_recovery_max is light too
     * when the marks read on it are eroded pencil: at least half of them
     * below eroded_ink (pencil that barely survived the threshold says
     * lighter strokes were lost), or none read at all when eroded_empty.
     * eroded_recovery_max 0 turns this off. */
    double light_scan_eroded_recovery_max;
    double light_scan_eroded_ink;
    int light_scan_eroded_empty;
    /* Count the borderline traces (mark regions DOUBTFUL with
     * OMR_DOUBT_BORDERLINE) among the page's marks, as eroded ones: a
     * circle that survived as a few dots is a mark the threshold ate. */
    int light_scan_eroded_traces;
    /* On a light page that does not show pen, a blank cell of a
     * many-answer unit (each option its own column) is doubtful even when
     * another option of the unit was read: one mark surviving says nothing
     * of the others. */
    int light_scan_multi_cells;
    /* The rule for the handwritten digit boxes too
     * (omr_classify_light_scan_boxes). */
    int light_scan_boxes;
    /* Bitonal scans at or above hires_dpi: their threshold keeps no grey
     * noise and a pencil tick there reads well above the dust level, so the
     * circle and checkbox blank maxima rise to hires_blank_max
     * (omr_classify_scan_calib). hires_dpi 0 turns this off. */
    int bitonal_hires_dpi;
    double bitonal_hires_blank_max;
    /* Registration. */
    double register_max_residual_mm;
    /* Grey scans, light ink only (no point dark enough to be ink; sample.h:
     * darkness below OMR_SAMPLE_DARK_MIN): a share at or above this is
     * faint pencil or erasure residue, doubtful FAINT; below, blank. The
     * same for ink lighter than erasure_darkness that would read blank:
     * its share plus the light share beside it (omr_measure_t.light_share)
     * at or above this is doubtful FAINT. */
    double light_ink_min;
    /* A borderline CIRCLE or CHECK (ink between blank_max and marked_min,
     * dark enough: no FAINT/ERASURE, not struck through) whose added ink
     * has the shape of pen strokes (sample.h, trace_piece_mm/trace_span_mm)
     * is marked: one piece at least trace_stroke_mm long, or two pieces
     * spanning at least trace_span_mm with the longer at least
     * trace_piece_mm (the ends of a tick drawn over the printed number, on
     * both sides of it). Dust, a dot touching the print and the slivers
     * of a grown print edge are shorter. trace_stroke_mm 0 turns it off. */
    double trace_stroke_mm;
    double trace_span_mm;
    double trace_piece_mm;
    /* A circle target at least this dark (share of its open area) is
     * blacked out: a scribble over the number to take an answer back, not
     * a circle around it. DOUBTFUL with OMR_DOUBT_CROSSOUT. 0 turns it off. */
    double circle_blackout_min;
    /* DIGIT: a box the handwriting reader finds empty although the sampler
     * measured at least this share of added ink is doubtful (a stroke the
     * reader dropped: a 1 along the frame, a digit broken into specks);
     * never a certain empty. 0 turns it off. */
    double write_disagree_ink;
    /* CHECK: a box at least this full of ink is filled in solid, not ticked.
     * What that means is the survey's (template filled=): a mark, or a
     * cancelled choice (omr_classify_filled). */
    double check_filled_min;
    /* CHECK regions that are bubbles (option bubble=, an oval to fill in):
     * the share of the sampled ring (between the printed code and the
     * outline) that is ink. Filling covers most of it; a tick or a dot
     * does not, and is doubtful, never a mark (no stroke-shape rule). */
    double bubble_blank_max;
    double bubble_marked_min;
    /* The most a blank bubble's printed code and outline may measure (its
     * page's lower quartile is used, omr_classify_bubble_base, up to this). */
    double bubble_base_max;
    /* A filled bubble: its page's bubbles at least bubble_full_gap darker than
     * the blank ones give the level (their median), never below
     * bubble_full_min (omr_classify_bubble_full). */
    double bubble_full_gap;
    double bubble_full_min;
    /* A page's blank maximum for bubbles: bubble_noise_k times the 95th
     * percentile of its blank-looking fills, at least bubble_blank_min (and
     * at most bubble_blank_max; omr_classify_bubble_blank_max). */
    double bubble_blank_min;
    double bubble_noise_k;
    /* An answer unit (question, grid row) with no bubble read marked or
     * doubtful whose fullest bubble fills at least bubble_stand_out_min,
     * bubble_stand_out_ratio times the next fullest and bubble_stand_out_noise
     * times the page's noise: that bubble is doubtful (OMR_DOUBT_STANDS_OUT;
     * omr_classify_page). bubble_stand_out_min 0 turns it off. */
    double bubble_stand_out_min;
    double bubble_stand_out_ratio;
    double bubble_stand_out_noise;
} omr_calib_t;

/* The built-in profile (the same numbers as calib/default.calib). */
void omr_calib_default(omr_calib_t *cal);

/* Parse profile text (NUL-terminated) named `name` in messages, on top of
 * the built-in defaults. Returns OMR_OK with *cal filled, or OMR_EINPUT with
 * "name:line: reason" in *err (then *cal holds the defaults). */
omr_status_t omr_calib_parse(const char *text, const char *name, omr_calib_t *cal,
                             omr_error_t *err);

/* Read and parse a profile file. OMR_EIO when it cannot be read. */
omr_status_t omr_calib_load(const char *path, omr_calib_t *cal, omr_error_t *err);

/* Write a profile with every key; header (optional, may hold several lines)
 * is written first as comment lines. Returns OMR_OK or OMR_EIO. */
omr_status_t omr_calib_write(const char *path, const omr_calib_t *cal, const char *header,
                             omr_error_t *err);

#endif
