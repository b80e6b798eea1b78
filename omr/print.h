/* print.h -- drawing the questionnaire pages from the loaded template.
 *
 * The printer draws a page from its omr_page_t items only (text, option
 * numbers, frames, rules, corner marks) plus the page's barcode, whose payload
 * comes from omr_template_payload(). Because the scanner samples the regions
 * of the same page statements, print and scan cannot disagree.
 *
 * Geometry is in millimetres; text is measured and drawn with pango in the
 * fonts IPAGothic / IPAMincho with hinting off, so a text wraps the same way
 * at every resolution and in the PDF. tools/layout measures its text with
 * omr_print_text_size(), the very function the printer wraps with.
 *
 * Rasters are 8-bit grey Leptonica PIX, 255 = white, resolution set.
 */
#ifndef OMR_PRINT_H
#define OMR_PRINT_H

#include <leptonica/allheaders.h>

#include "omr.h"
#include "template.h"

/* The font family of a text item with these OMR_ITEM_* flags. */
const char *omr_print_font_family(unsigned flags);

/* What a raster render depends on besides the template and its arguments,
 * as text for a cache key (sample.c keeps the blank pages' masks between
 * runs): OMR_PRINT_RENDER_VERSION (bump it with any change to how pages are
 * drawn), the cairo, pango and freetype versions, and for each font family
 * used the file fontconfig picks with its size and modification time.
 * Writes a NUL-terminated string into buf (cut at n). Returns OMR_OK, or
 * OMR_EIO when fontconfig cannot name the fonts (no key: do not cache). */
#define OMR_PRINT_RENDER_VERSION 1
omr_status_t omr_print_render_identity(char *buf, size_t n, omr_error_t *err);

/* Line spacing factor used for every wrapped text (pango line-spacing). */
#define OMR_PRINT_LINE_SPACING 1.25

/* Measure text as the printer draws a TEXT item of font size size_pt (points)
 * with these OMR_ITEM_* flags wrapped to width_mm (<= 0: no wrapping).
 * Outputs (each optional): *pw the width of the widest line and *ph the height
 * of all lines, in mm; *plines the number of lines.
 * Returns OMR_OK, or OMR_ENOMEM / OMR_EINPUT (text not UTF-8) with *err. */
omr_status_t omr_print_text_size(const char *text, double size_pt,
                                 unsigned flags, double width_mm, double *pw,
                                 double *ph, int *plines, omr_error_t *err);

/* Render page page_index (0-based) of form f at dpi (50..1200).
 * respondent: the ID printed in the barcode ("000123"); NULL draws the blank
 * reference page without barcode and barcode text.
 * Returns a new 8-bit grey PIX owned by the caller (pixDestroy), resolution
 * set to dpi, or NULL with *err filled (OMR_EINPUT bad arguments, OMR_ELIMIT
 * dpi out of range, OMR_ENOMEM). */
PIX *omr_print_render_page(const omr_survey_t *s, const omr_form_t *f,
                           int page_index, const char *respondent, double dpi,
                           omr_error_t *err);

/* The printed ink of blank page page_index at dpi as 1 bpp (1 = ink):
 * exactly pixThresholdToBinary(omr_print_render_page(..., NULL, dpi, ...),
 * grey_below), the pixels darker than grey_below (1..256), without making
 * the 8-bit page. scratch, scratch_cap (optional, both or neither): a
 * drawing buffer the caller keeps between calls (grown with realloc, freed
 * by the caller with free()), so rendering many pages does not take and
 * fault in fresh memory for each. Returns a new PIX (pixDestroy) with
 * resolution dpi, or NULL with *err as omr_print_render_page. */
PIX *omr_print_render_ink(const omr_survey_t *s, const omr_form_t *f,
                          int page_index, double dpi, int grey_below,
                          unsigned char **scratch, size_t *scratch_cap,
                          omr_error_t *err);

/* Where the printer puts the bars of payload's Code 128 in a page's barcode
 * box (mm, the template's `barcode box=`): *bars is the bar pattern, from the
 * leading edge of the first bar to the trailing edge of the last, from the
 * bars' top to their bottom (the payload text below is not in it); *pmodule
 * (optional) the narrowest bar's width. The registration stage uses it as a
 * landmark when corner marks are missing. Returns OMR_OK, or OMR_EINPUT (no
 * box, payload zint cannot encode) / OMR_ENOMEM with *err. */
omr_status_t omr_print_barcode_bars(const omr_rect_t *box, const char *payload,
                                    omr_rect_t *bars, double *pmodule,
                                    omr_error_t *err);

/* Draw only the barcode and its text of page page_index for respondent onto
 * pix, a blank page rendered by omr_print_render_page(..., NULL, dpi, ...).
 * The result is pixel-identical to omr_print_render_page(..., respondent,
 * dpi, ...) (render is implemented as blank + stamp). pix is modified in
 * place; left as it is on a survey whose pages carry no barcode
 * (identify=order). Returns OMR_OK, or OMR_EINPUT (wrong size, not 8 bpp, payload zint
 * cannot encode) with *err. */
omr_status_t omr_print_stamp_barcode(PIX *pix, const omr_survey_t *s,
                                     const omr_form_t *f, int page_index,
                                     const char *respondent, double dpi,
                                     omr_error_t *err);

/* Write a vector A4 PDF to path: for each of the n respondents, every page of
 * form form_id (NULL: every form, in survey order) with its barcode. n == 0
 * (respondents may be NULL) writes one blank set without barcodes. Japanese
 * text is embedded as font subsets by cairo. Returns OMR_OK, OMR_EINPUT
 * (unknown form) or OMR_EIO (path not writable) with *err. */
omr_status_t omr_print_pdf(const omr_survey_t *s, const char *form_id,
                           char **respondents, int n, const char *path,
                           omr_error_t *err);

/* Release the font caches pango, cairo and fontconfig keep for the process
 * (font maps, glyph caches), so leak checkers see a clean exit. Call once at
 * the end of a program that printed or measured text; no print function may
 * be called afterwards in this thread. */
void omr_print_shutdown(void);

#endif
