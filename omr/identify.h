/* identify.h -- stage 2 of the scan pipeline: which page is this?
 *
 * Input:  a loaded page (PIX 1 bpp or 8 bpp grey, borrowed, from load.h).
 * Output: the page's Code 128 barcode (payload "ITSC18-A03-000123", parsed
 *         with omr_template_parse_payload), the page orientation, and where
 *         the barcode is; or OMR_ENOTFOUND, which sends the page to review.
 *         Also a blank-sheet test for separator sheets and empty duplex backs.
 *
 * Orientation is how the sheet went through the scanner: the clockwise
 * rotation, in degrees (0, 90, 180, 270), that takes the upright page to the
 * image. 180 is a sheet fed upside down (its barcode is at the top and reads
 * right to left); 90 means the page's top is at the image's right edge.
 * Later stages map template coordinates through it rather than rotating the
 * image.
 *
 * Search order (cheapest first; zbar with only Code 128 enabled):
 *   1. the expected zone (caller's rectangle, page-relative, e.g. the
 *      survey's from omr_identify_zone_for_survey) for orientation 0, then
 *      the same zone turned 180, 90 and 270 degrees: a crop of a few hundred
 *      rows scanned along the bars' reading direction only;
 *   2. when the caller's zone is not OMR_ZONE_BOTTOM: the bottom zone, the
 *      same way (a sheet shifted beyond the margin);
 *   3. the whole page, horizontal and vertical scan lines.
 * Reentrant: each call uses its own zbar scanner.
 */
#ifndef OMR_IDENTIFY_H
#define OMR_IDENTIFY_H

#include <leptonica/allheaders.h>

#include "omr.h"
#include "template.h"

/* A rectangle in fractions of the upright page's width and height (0..1),
 * origin top-left, y down. */
typedef struct {
    double x, y, w, h;
} omr_zone_t;

/* The default expected zone: the bottom 20 % of the page, full width, where
 * every template of this survey prints its barcode (templates/FORMAT.md
 * `barcode box=110,276,88,12` on a 297 mm page). */
#define OMR_ZONE_BOTTOM ((omr_zone_t){0.0, 0.8, 1.0, 0.2})

typedef struct {
    char payload[128];   /* the decoded text, NUL-terminated */
    int parsed;          /* payload is a page ID: the four fields below are set */
    char code[16];       /* survey code, "ITSC18" */
    char form[16];       /* form id, "A" */
    int page;            /* 1-based page number within the form */
    char respondent[32]; /* "000123" */
    int orientation;     /* 0, 90, 180, 270 (see above) */
    int x, y, w, h;      /* barcode bounding box in image pixels (the scan lines
                            that decoded it: may be shorter than the bars) */
    int fast;            /* found in an expected zone (1) or on the whole page (0) */
    int zone_pass;       /* 1: in the caller's zone, 2: in OMR_ZONE_BOTTOM after the
                            caller's zone failed, 0: on the whole page */
    int n_symbols;       /* Code 128 symbols seen in the successful search step */
    int fixed_id;        /* parsed from a fixed page ID (template barcode value=):
                            respondent is empty, the scanned file names it */
} omr_barcode_t;

/* The expected zone of a survey: the union of every page's barcode box (all
 * forms), in fractions of that page's size; no margin (omr_identify_read
 * adds it). About a fifth of OMR_ZONE_BOTTOM's area for this survey, so the
 * barcode is read 3-4 times faster. A survey without any barcode box (or
 * NULL) gets OMR_ZONE_BOTTOM. */
void omr_identify_zone_for_survey(const omr_survey_t *s, omr_zone_t *zone);

/* Find and read the page barcode.
 *   zone: where the barcode should be on the upright page; NULL for
 *         OMR_ZONE_BOTTOM. It is grown by a margin for skew and shift.
 *         When a caller's zone fails (at every orientation and threshold),
 *         OMR_ZONE_BOTTOM is tried next (a sheet shifted beyond the margin),
 *         then the whole page.
 * Returns OMR_OK with *pbc filled (parsed set); OMR_ENOTFOUND when no Code
 * 128 symbol is on the page; OMR_EINPUT when symbols were read but none is a
 * page ID (*pbc then holds the first one, parsed 0, for the review item);
 * OMR_EUNSUPPORTED for a PIX that is not 1 or 8 bpp; OMR_ENOMEM. */
omr_status_t omr_identify_read(PIX *pix, const omr_zone_t *zone, omr_barcode_t *pbc,
                               omr_error_t *err);

/* The same for the pages of one survey: only the symbologies its templates
 * print (barcode kind=; Code 128 when none says), and a decoded text equal to
 * a page's fixed ID (barcode value=, forms printed by other tools) is a page
 * ID too: parsed and fixed_id set, code/form/page filled, respondent empty.
 * survey NULL: as omr_identify_read. zone also tells where the barcode is
 * printed (top or bottom half), which settles the orientation when zbar
 * reports none. */
omr_status_t omr_identify_read_survey(PIX *pix, const omr_zone_t *zone, const omr_survey_t *survey,
                                      omr_barcode_t *pbc, omr_error_t *err);

/* Fraction of the page (0..1) covered by ink that is not dust: measured on a
 * 4x reduced grey image (a cell is ink when at least half of it is dark),
 * leaving out a 3 % border (scanner edges, punch holes) and spots under
 * 3x3 cells (1 mm at 300 dpi). Cheap: a page whose quick whole-page dark
 * count already exceeds 20 * max_ink is not measured further, and *pink is
 * then that quick count. max_ink <= 0 means OMR_BLANK_MAX_INK. */
omr_status_t omr_identify_ink(PIX *pix, double max_ink, double *pink, omr_error_t *err);

/* The default blank threshold: 0.1 % of the page. A printed page of this
 * survey carries at least its four corner marks, barcode and text, well above
 * 1 %; a blank back with dust and bleed-through measures under 0.02 %. */
#define OMR_BLANK_MAX_INK 0.001

/* Is this a blank sheet (separator, empty back)? *pblank 1 or 0; *pink
 * (optional) gets the measure. max_ink <= 0 means OMR_BLANK_MAX_INK. */
omr_status_t omr_identify_is_blank(PIX *pix, double max_ink, int *pblank, double *pink,
                                   omr_error_t *err);

#endif
