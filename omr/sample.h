/* sample.h -- stage 4 of the scan pipeline: measure the ink a respondent
 * added to each region of a registered page, against the blank form.
 *
 * Input:  the page image (1 bpp, 1 = black, or 8 bpp grey), the template
 *         page, the transform template mm -> image px from register.h.
 * Output: per region an omr_measure_t (page.h): ink, ink_label, darkness.
 *         The classifier (classify.h) turns them into states.
 *
 * Against the blank form: the blank page's ink is rendered once per template
 * page (omr_print_render_ink: the pixels of omr_print_render_page, respondent
 * NULL, 300 dpi, darker than grey 200), dilated by OMR_SAMPLE_MASK_MM (brick
 * morphology in sample.c, pixel-identical to Leptonica's), and per region a
 * grid of sample points (in template mm)
 * is marked "printed here" from it. Sampling maps only the other points
 * through the affine transform into the scan (no page warp), so the printed
 * option number, the checkbox frame, the option text never count as ink.
 * The masks are kept in an omr_sample_cache_t, built on first use of a
 * page; a cache belongs to one thread (one per scan worker).
 *
 * Zones, per region kind:
 *   CIRCLE  ink:       the ring square (region box) around the printed number;
 *           ink_label: the printed option text's ink extent (its first
 *                      OMR_SAMPLE_LABEL_MAX_MM), widened by
 *                      OMR_SAMPLE_LABEL_PAD_MM (a circle drawn around the text
 *                      runs just outside it), other regions excluded; 0 when
 *                      the option has no label.
 *   CHECK   ink:       the checkbox, frame excluded.
 *   DIGIT, TEXT: ink:  the box, frame excluded (has_ink is decided by classify).
 * On 1-bpp scans a circle target's ink also gets the excess of dark points
 * in the 0.1-0.3 mm band around its printed number over the page's median
 * circle (a tick or a small loop drawn on the number hides under the mask).
 * On grey scans that band is too noisy to add as ink, but a target whose
 * band is NEAR_SLACK_GREY (sample.c) darker than the page's median while its
 * ink is below OMR_SAMPLE_SPECK_INK gets the speck level: doubtful.
 * ink is the share of the zone's open (unprinted) points that are dark;
 * on grey scans a point is dark when it is at least OMR_SAMPLE_DARK_MIN of
 * the way from the local paper level to the scan's black (the corner marks),
 * and darkness is the mean of that fraction over the dark points (faint
 * pencil and erasure residue are light). On 1 bpp darkness is 1 when there
 * is ink.
 */
#ifndef OMR_SAMPLE_H
#define OMR_SAMPLE_H

#include <leptonica/allheaders.h>

#include "omr.h"
#include "page.h"
#include "register.h"
#include "template.h"

/* Printed ink is excluded with this margin: stroke growth of a dark
 * threshold or blur (up to ~0.15 mm at 200 dpi), registration error
 * (~0.1 mm), pixel quantisation. */
#define OMR_SAMPLE_MASK_MM 0.3
/* A bubble (round CHECK region) is sampled inside this share of its radii,
 * its printed code included: outside it lie its outline and the
 * registration's error at low resolution (sample.c in_bubble_disc). Its ink
 * is the mean darkness there (0-1; on bitonal scans the share of black). */
#define OMR_SAMPLE_BUBBLE_RIM 0.62
#define OMR_SAMPLE_LABEL_PAD_MM 1.2
#define OMR_SAMPLE_LABEL_MAX_MM 30.0
/* A zone whose dark points all lie within 0.8 mm each way holds a speck
 * (dust), not a mark (a tick is 2 mm): its ink is capped at this, which
 * calib/default.calib puts in the doubtful band. */
#define OMR_SAMPLE_SPECK_INK 0.006f
/* Dust in a CIRCLE or CHECK target (one or two blots within 0.8 mm each way,
 * touching neither the print nor the zone's edge) is not counted at all,
 * except on bitonal scans below 250 dpi or pages whose strokes come out as
 * trails of dots, where a pencil mark can be one or two dots: there such
 * blots are a speck (ink capped at OMR_SAMPLE_SPECK_INK: doubtful). */
/* The shape of a little ink (omr_measure_t.trace_piece_mm, trace_span_mm),
 * measured only in CIRCLE and CHECK targets whose ink is above 0 and below
 * this (the borderline band of the default profile is 0.001-0.012): the
 * zone's dark open points grouped into pieces (points up to 2 steps apart
 * join); the longest piece's extent, and the extent of all of them. Both 0
 * when not measured, with no piece, more than two, or one touching the
 * zone's edge. classify.c reads a borderline trace with a pen-stroke piece
 * as a mark (calib.h, trace_*). */
#define OMR_SAMPLE_TRACE_INK_MAX 0.03f
/* Grey: a point is ink at this fraction of the way from paper to black. */
#define OMR_SAMPLE_DARK_MIN 0.15

typedef struct omr_sample_cache omr_sample_cache_t;

/* A cache of region masks for the pages of one survey (borrowed; must
 * outlive the cache). *pcache owned by the caller: omr_sample_cache_free().
 * Returns OMR_OK or OMR_ENOMEM. */
omr_status_t omr_sample_cache_new(const omr_survey_t *survey, omr_sample_cache_t **pcache,
                                  omr_error_t *err);
void omr_sample_cache_free(omr_sample_cache_t *cache);

/* Where built masks are kept between processes (the scan keeps them in its
 * store, store.h omr_store_mask_get/put), so a run need not render the blank
 * pages again. key: 64 hex digits naming the page's masks exactly (a hash of
 * the survey folder's files, the page, the renderer and its fonts and
 * libraries, the mask parameters). get: 1 and *blob (malloc'd, the caller
 * frees it) with *len on a hit, 0 on a miss or any failure. put: best
 * effort (a failure only costs the next run a render). What get returns is
 * checked (checksum, sizes, the page's regions) and ignored when wrong: a
 * broken entry is rebuilt and put again, never trusted. */
typedef struct {
    int (*get)(void *ctx, const char *key, unsigned char **blob, size_t *len);
    void (*put)(void *ctx, const char *key, const omr_form_t *form, int page_index,
                const unsigned char *blob, size_t len);
    void *ctx;
} omr_sample_backing_t;

/* Use b (copied; NULL: none) for the pages prepared from now on. */
void omr_sample_cache_set_backing(omr_sample_cache_t *cache, const omr_sample_backing_t *b);

/* The masks of page page_index as the backing stores them, for tests: built
 * if needed. *blob malloc'd (caller frees), key (65 bytes) optional.
 * Returns OMR_OK, or OMR_ENOMEM / a render failure with *err. */
omr_status_t omr_sample_cache_export(omr_sample_cache_t *cache, const omr_form_t *form, int page_index,
                                     unsigned char **blob, size_t *len, char *key, omr_error_t *err);

/* Take page page_index's masks from blob (as export gives) instead of
 * building them. Returns 1 when taken, 0 when blob is not a valid entry for
 * this page (nothing changed; -1 out of memory). */
int omr_sample_cache_import(omr_sample_cache_t *cache, const omr_form_t *form, int page_index,
                            const unsigned char *blob, size_t len);

/* The blank page page_index of form rendered at OMR_SAMPLE_COARSE_DPI (8 bpp),
 * drawn on first use and kept: borrowed, valid until the cache is freed.
 * NULL with *err when the render fails. For register.c's
 * omr_register_print_match (which way up a sheet without barcode lies). */
#define OMR_SAMPLE_COARSE_DPI 50
PIX *omr_sample_cache_coarse(omr_sample_cache_t *cache, const omr_form_t *form, int page_index, omr_error_t *err);

/* The blank page page_index of form as omr_register_page_print registers
 * by it: 8 bpp grey at OMR_REGISTER_PRINT_PX_PER_MM, upright, edge to edge:
 * the page's reference= image (template.h), or omr's own render of the page
 * when it has none. Made on first use and kept (borrowed, valid until the
 * cache is freed); NULL with *err when the image cannot be read (naming the
 * page file and the reference) or is absurdly large. */
PIX *omr_sample_cache_reference(omr_sample_cache_t *cache, const omr_form_t *form, int page_index, omr_error_t *err);

/* That image prepared for omr_register_page_print
 * (omr_register_print_prepare), once per cache: borrowed, valid until the
 * cache is freed; NULL with *err as omr_sample_cache_reference. */
const omr_register_print_ref_t *omr_sample_cache_print_ref(omr_sample_cache_t *cache, const omr_form_t *form,
                                                           int page_index, omr_error_t *err);

/* Build the masks of page page_index of form now (otherwise done on first
 * use). Costs one render of the page (~0.1-0.3 s), or one read from the
 * backing (~1-3 ms) when that has them. */
omr_status_t omr_sample_cache_prepare(omr_sample_cache_t *cache, const omr_form_t *form,
                                      int page_index, omr_error_t *err);

/* Measure every region of page page_index of form in pix.
 * xform: template mm -> image px (register.h). black_grey: grey level of
 * full ink in this scan (omr_register_t.mark_grey; 0 to estimate; ignored on
 * 1 bpp). regions: form->pages[page_index].n_regions entries, caller's
 * storage; fills .m.ink, .m.ink_label, .m.darkness, .m.trace_piece_mm,
 * .m.trace_span_mm of each, and sets or
 * clears OMR_DOUBT_CROSSOUT in .doubt of CIRCLE regions (two separate runs
 * of rows near the target's middle dark right across: lines struck through
 * the number; classify.c makes such a mark doubtful); other fields
 * untouched. Points mapped outside the image are not counted.
 * Returns OMR_OK; OMR_EINPUT (depth, page index), OMR_ENOMEM, or a render
 * failure from building the masks, with *err. */
omr_status_t omr_sample_page(PIX *pix, const omr_form_t *form, int page_index, const double *xform,
                             double black_grey, omr_sample_cache_t *cache,
                             omr_region_result_t *regions, omr_error_t *err);

/* What sampling learnt about the page as a whole. */
typedef struct {
    /* 1 bpp: the share of the blank form's printed strokes (the option
     * numbers, checkbox frames, option texts inside the sampled zones;
     * points at least one render pixel inside a stroke) that are dark in
     * the scan. A bitonal threshold set too light erodes the print first,
     * and pencil, lighter than the print, is then lost entirely: a blank
     * reading on such a page cannot be trusted. -1: not measured (grey
     * scans, whose light strokes are kept; fewer than
     * OMR_SAMPLE_RECOVERY_MIN_POINTS points). */
    float print_recovery;
    float edge_recovery; /* the same over the strokes' outer pixel (thinning) */
} omr_sample_info_t;

#define OMR_SAMPLE_RECOVERY_MIN_POINTS 200

/* omr_sample_page, and *info (optional) about the page. */
omr_status_t omr_sample_page_ex(PIX *pix, const omr_form_t *form, int page_index,
                                const double *xform, double black_grey,
                                omr_sample_cache_t *cache, omr_region_result_t *regions,
                                omr_sample_info_t *info, omr_error_t *err);

/* 1 when the pixels [xa, xb] x [ya, yb] (inclusive) of a 1 bpp image
 * (data, wpl words a row, iw x ih) all lie in the image and are all white
 * (0 bits); 0 otherwise. The readers' shortcut over paper: a run of sample
 * points or crop pixels whose image pixels are all white reads as paper
 * without per-pixel work (sample.c, icr_boxes.c). */
static inline int omr_sample_rect_white(const l_uint32 *data, int wpl, int iw, int ih, int xa, int xb,
                                        int ya, int yb)
{
    if (xa < 0 || ya < 0 || xb >= iw || yb >= ih || xa > xb || ya > yb)
        return 0;
    int wa = xa >> 5, wb = xb >> 5;
    /* Leptonica: pixel x is bit 31 - (x & 31) of word x >> 5 */
    l_uint32 ma = 0xffffffffu >> (xa & 31), mb = 0xffffffffu << (31 - (xb & 31));
    for (int y = ya; y <= yb; y++) {
        const l_uint32 *line = data + (size_t)y * wpl;
        if (wa == wb) {
            if (line[wa] & ma & mb)
                return 0;
            continue;
        }
        if (line[wa] & ma)
            return 0;
        for (int k = wa + 1; k < wb; k++)
            if (line[k])
                return 0;
        if (line[wb] & mb)
            return 0;
    }
    return 1;
}

/* The crop of one region for the handwriting reader: the region's box, inset
 * by inset_mm (the printed frame is cut away; 0.45 mm clears a 0.3 mm frame
 * with registration error), resampled through xform to px_per_mm pixels per
 * mm (<= 0: the scan's own resolution) and upright (skew and orientation
 * undone), as 8-bit grey (255 paper, 0 ink; 1 bpp scans give 0/255 with
 * bilinear edges). Returns a new PIX (pixDestroy) or NULL with *err. */
PIX *omr_sample_crop(PIX *pix, const double *xform, const omr_region_t *region, double inset_mm,
                     double px_per_mm, omr_error_t *err);

#endif
