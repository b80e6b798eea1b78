/* classify.c -- stage 5: measures -> mark states (rules in classify.h). */
#include "classify.h"

#include "sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Score 0..1 from where ink sits between the blank maximum (0.25) and the
 * marked minimum (0.75): a readable "how sure" for the review screen. */
static float score_of(double ink, double blank_max, double marked_min)
{
    double s;
    if (ink <= blank_max)
        s = blank_max > 0 ? 0.25 * ink / blank_max : 0;
    else if (ink >= marked_min)
        s = 0.75 + 0.25 * (ink - marked_min) / (marked_min + 0.2);
    else
        s = 0.25 + 0.5 * (ink - blank_max) / (marked_min - blank_max);
    return (float)(s < 0 ? 0 : s > 1 ? 1 : s);
}

/* Light ink on a grey scan (darkness is 1 on bitonal scans). */
static unsigned lightness_bits(const omr_calib_t *cal, float darkness)
{
    if (darkness < cal->erasure_darkness)
        return OMR_DOUBT_ERASURE;
    if (darkness < cal->faint_darkness)
        return OMR_DOUBT_FAINT;
    return 0;
}

/* Does a little ink have the shape of pen strokes (calib.h, trace_*)? One
 * long piece, or two pieces far apart with a long one: the ends of a tick
 * drawn over the printed number show on both sides of it. Dust, a dot
 * touching the print and the slivers of a grown print edge are shorter
 * (measured on the corpus: at most 0.9 mm). */
static int trace_is_stroke(const omr_calib_t *cal, const omr_measure_t *m)
{
    if (cal->trace_stroke_mm <= 0 || m->trace_piece_mm <= 0)
        return 0;
    if (m->trace_piece_mm >= cal->trace_stroke_mm)
        return 1;
    return m->trace_span_mm > m->trace_piece_mm && m->trace_span_mm >= cal->trace_span_mm &&
           m->trace_piece_mm >= cal->trace_piece_mm;
}

/* A mark target with thresholds (blank_max, marked_min) on its ink, which is
 * r->m.ink but for bubbles (their fill against the page's blank bubbles). */
static void classify_mark_ink(const omr_calib_t *cal, double blank_max, double marked_min, double ink,
                              omr_region_result_t *r)
{
    omr_measure_t mv = r->m;
    mv.ink = (float)ink;
    const omr_measure_t *m = &mv;
    const unsigned cross = r->doubt & OMR_DOUBT_CROSSOUT; /* from sampling */
    if (m->darkness > 0 && m->darkness < OMR_SAMPLE_DARK_MIN) {
        /* Light ink only (grey scans, sample.c light_tally): no point is
         * dark enough to be ink, but a share of the target is clearly
         * darker than its paper: faint pencil or erasure residue. Never a
         * mark, never silently blank when there is enough of it. */
        int faint = m->ink >= cal->light_ink_min;
        r->state = faint ? OMR_MARK_DOUBTFUL : OMR_MARK_BLANK;
        r->doubt = faint ? OMR_DOUBT_FAINT : 0;
        r->m.score = faint ? 0.3f : 0;
        return;
    }
    if (m->darkness < cal->erasure_darkness && blank_max < cal->light_blank_max) {
        /* Very light ink: a little of it is paper noise, not a mark. */
        blank_max = cal->light_blank_max;
        if (marked_min < blank_max)
            marked_min = blank_max;
    }
    if (m->ink >= marked_min) {
        unsigned light = lightness_bits(cal, m->darkness);
        r->state = light ? OMR_MARK_DOUBTFUL : OMR_MARK_MARKED;
        r->doubt = light;
    } else if (m->ink > blank_max) {
        r->state = OMR_MARK_DOUBTFUL;
        r->doubt = OMR_DOUBT_BORDERLINE | lightness_bits(cal, m->darkness);
        if (r->doubt == OMR_DOUBT_BORDERLINE && !cross && trace_is_stroke(cal, m)) {
            r->state = OMR_MARK_MARKED; /* score: at least the marked level (below) */
            r->doubt = 0;
        }
    } else if (m->darkness < cal->erasure_darkness && cal->light_ink_min > 0 &&
               m->ink + m->light_share >= cal->light_ink_min) {
        /* Too little light ink to count, but a faint stroke that only here
         * and there crosses the ink level: with its light part it is as
         * much as the light-only rule above calls faint (on the corpus'
         * grey pages 19 faint ticks read blank this way; 7 blank cells of
         * faded JPEGs join them). */
        r->state = OMR_MARK_DOUBTFUL;
        r->doubt = OMR_DOUBT_FAINT;
    } else {
        r->state = OMR_MARK_BLANK;
        r->doubt = 0;
    }
    r->m.score = score_of(m->ink, blank_max, marked_min);
    if (r->state == OMR_MARK_MARKED && r->m.score < 0.75f)
        r->m.score = 0.75f;
    if (cross && r->state == OMR_MARK_MARKED) {
        /* A struck-through mark: the respondent may have meant it or not. */
        r->state = OMR_MARK_DOUBTFUL;
        r->doubt |= OMR_DOUBT_CROSSOUT;
    }
}

static void classify_mark(const omr_calib_t *cal, double blank_max, double marked_min,
                          omr_region_result_t *r)
{
    classify_mark_ink(cal, blank_max, marked_min, r->m.ink, r);
}

/* A bubble (a round CHECK region) between base, the ink of a blank bubble of
 * its page printing the same code, and full, the ink of a filled one
 * (omr_classify_bubble_base, omr_classify_bubble_full): its fill, 0 blank
 * to 1 filled like the others. A stroke through a bubble is not the
 * convention (it is filled in), so a borderline trace stays doubtful
 * whatever its shape. */
static double bubble_fill(double ink, double base, double full)
{
    double fill = full > base ? (ink - base) / (full - base) : 0;
    return fill < 0 ? 0 : fill;
}

/* fill: bubble_fill; blank_max: the page's (omr_classify_bubble_blank_max). */
static void classify_bubble(const omr_calib_t *cal, double fill, double blank_max, omr_region_result_t *r)
{
    omr_calib_t no_strokes = *cal;
    no_strokes.trace_stroke_mm = 0;
    classify_mark_ink(&no_strokes, blank_max, cal->bubble_marked_min, fill, r);
}

void omr_classify_region(const omr_region_t *rg, const omr_calib_t *cal, omr_region_result_t *r)
{
    r->digit = -1;
    r->digit_conf = 0;
    r->has_ink = 0;
    switch (rg->kind) {
    case OMR_REGION_CIRCLE:
        classify_mark(cal, cal->circle_blank_max, cal->circle_marked_min, r);
        if (r->state == OMR_MARK_MARKED && cal->circle_blackout_min > 0 && r->m.ink >= cal->circle_blackout_min) {
            /* Blacked out: a circle around the number leaves most of the
             * target open; a scribble over it to take the answer back fills
             * it (calib.h). */
            r->state = OMR_MARK_DOUBTFUL;
            r->doubt |= OMR_DOUBT_CROSSOUT;
        }
        if (r->state == OMR_MARK_DOUBTFUL && r->doubt == OMR_DOUBT_BORDERLINE &&
            rg->label.w > 0 && r->m.ink_label >= cal->label_marked_min && cal->label_only_marks) {
            /* A little ink at the number and a clear circle around the
             * option text: the circle runs through the target's square.
             * As clear an answer as the circle around the text alone (on
             * the corpus 135 such cells, all marked; no blank cell there
             * had label ink above 0.006). */
            r->state = OMR_MARK_MARKED;
            r->doubt = OMR_DOUBT_LABEL_ONLY;
            r->m.score = score_of(r->m.ink_label, cal->label_blank_max, cal->label_marked_min);
        }
        if (r->state == OMR_MARK_BLANK && rg->label.w > 0) {
            /* Nothing at the number: a circle around the option text? */
            float ls = score_of(r->m.ink_label, cal->label_blank_max, cal->label_marked_min);
            if (r->m.ink_label >= cal->label_marked_min) {
                unsigned light = lightness_bits(cal, r->m.darkness);
                r->state = (light || !cal->label_only_marks) ? OMR_MARK_DOUBTFUL : OMR_MARK_MARKED;
                r->doubt = OMR_DOUBT_LABEL_ONLY | light;
                r->m.score = ls;
            } else if (r->m.ink_label > (r->m.darkness < cal->erasure_darkness &&
                                                 cal->label_blank_max < cal->light_blank_max
                                             ? cal->light_blank_max
                                             : cal->label_blank_max)) {
                r->state = OMR_MARK_DOUBTFUL;
                r->doubt = OMR_DOUBT_LABEL_ONLY | OMR_DOUBT_BORDERLINE;
                r->m.score = ls;
            }
        }
        break;
    case OMR_REGION_CHECK:
        if (rg->round) {
            /* alone: no page to say what blank and filled are */
            classify_bubble(cal, bubble_fill(r->m.ink, 0, 1), cal->bubble_blank_max, r);
        } else {
            classify_mark(cal, cal->check_blank_max, cal->check_marked_min, r);
        }
        break;
    case OMR_REGION_DIGIT:
    case OMR_REGION_TEXT:
        r->has_ink = r->m.ink >= cal->write_ink_min;
        r->state = r->has_ink ? OMR_MARK_MARKED : OMR_MARK_BLANK;
        r->doubt = 0;
        r->m.score = score_of(r->m.ink, cal->write_ink_min / 2, cal->write_ink_min);
        break;
    }
}

void omr_classify_scan_calib(const omr_calib_t *cal, int depth, double dpi, omr_calib_t *out)
{
    *out = *cal;
    if (depth != 1 || cal->bitonal_hires_dpi <= 0 || dpi < cal->bitonal_hires_dpi)
        return;
    if (out->circle_blank_max < cal->bitonal_hires_blank_max)
        out->circle_blank_max = cal->bitonal_hires_blank_max;
    if (out->check_blank_max < cal->bitonal_hires_blank_max)
        out->check_blank_max = cal->bitonal_hires_blank_max;
    if (out->circle_marked_min < out->circle_blank_max)
        out->circle_marked_min = out->circle_blank_max;
    if (out->check_marked_min < out->check_blank_max)
        out->check_marked_min = out->check_blank_max;
}

static int cmp_float(const void *a, const void *b);

static int is_bubble(const omr_region_t *rg) { return rg->kind == OMR_REGION_CHECK && rg->round; }

/* The bubbles a blank level is taken over: all, those printing something
 * inside, those printing `print`. */
typedef enum { BUBBLES_ALL, BUBBLES_PRINTED, BUBBLES_PRINTING } bubbles_t;

static int selected(const omr_region_t *rg, bubbles_t which, const char *print)
{
    if (!is_bubble(rg))
        return 0;
    switch (which) {
    case BUBBLES_ALL:
        return 1;
    case BUBBLES_PRINTED:
        return rg->print && rg->print[0];
    case BUBBLES_PRINTING:
        return rg->print && !strcmp(rg->print, print);
    }
    return 0;
}

/* The lower quartile of the ink of the selected bubbles, capped at
 * cal->bubble_base_max; -1 when fewer than OMR_CLASSIFY_BUBBLE_BASE_MIN. */
static double base_over(const omr_page_t *pg, const omr_calib_t *cal, const omr_region_result_t *regions,
                        bubbles_t which, const char *print)
{
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++)
        n += selected(&pg->regions[i], which, print);
    if (n < OMR_CLASSIFY_BUBBLE_BASE_MIN)
        return -1;
    float *ink = malloc(sizeof *ink * (size_t)n);
    if (!ink)
        return -1;
    int k = 0;
    for (int i = 0; i < pg->n_regions; i++)
        if (selected(&pg->regions[i], which, print))
            ink[k++] = regions[i].m.ink;
    qsort(ink, (size_t)n, sizeof *ink, cmp_float);
    double base = ink[n / 4];
    free(ink);
    return base < cal->bubble_base_max ? base : cal->bubble_base_max;
}

double omr_classify_bubble_base(const omr_page_t *pg, const omr_calib_t *cal, const omr_region_result_t *regions,
                                const char *print)
{
    double base = -1;
    if (print) {
        base = base_over(pg, cal, regions, BUBBLES_PRINTING, print);
        if (base < 0 && !print[0])
            return 0; /* nothing printed inside: paper */
        if (base < 0)
            base = base_over(pg, cal, regions, BUBBLES_PRINTED, NULL);
    }
    if (base < 0)
        base = base_over(pg, cal, regions, BUBBLES_ALL, NULL);
    return base < 0 ? 0 : base;
}

double omr_classify_bubble_full(const omr_page_t *pg, const omr_calib_t *cal, const omr_region_result_t *regions)
{
    double page_base = omr_classify_bubble_base(pg, cal, regions, NULL);
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++)
        n += is_bubble(&pg->regions[i]) && regions[i].m.ink >= page_base + cal->bubble_full_gap;
    float *ink = n ? malloc(sizeof *ink * (size_t)n) : NULL;
    if (!ink)
        return 1;
    int k = 0;
    for (int i = 0; i < pg->n_regions; i++)
        if (is_bubble(&pg->regions[i]) && regions[i].m.ink >= page_base + cal->bubble_full_gap)
            ink[k++] = regions[i].m.ink;
    qsort(ink, (size_t)n, sizeof *ink, cmp_float);
    double full = ink[n / 2];
    free(ink);
    return full < cal->bubble_full_min ? cal->bubble_full_min : full > 1 ? 1 : full;
}

/* The blank level of bubbles printing `print`, from a page's table of the
 * levels found so far (distinct printed codes: "A"-"D", "0"-"9"); computed
 * and added when new. A page of 840 bubbles computes 14 levels, not 840. */
#define BUBBLE_LEVELS_MAX 64
typedef struct {
    const char *print[BUBBLE_LEVELS_MAX];
    double base[BUBBLE_LEVELS_MAX];
    int n;
} bubble_levels_t;

static double bubble_base_of(bubble_levels_t *lv, const omr_page_t *pg, const omr_calib_t *cal,
                             const omr_region_result_t *regions, const char *print)
{
    for (int k = 0; k < lv->n; k++)
        if (lv->print[k] == print || (print && lv->print[k] && !strcmp(lv->print[k], print)))
            return lv->base[k];
    double base = omr_classify_bubble_base(pg, cal, regions, print);
    if (lv->n < BUBBLE_LEVELS_MAX) {
        lv->print[lv->n] = print;
        lv->base[lv->n++] = base;
    }
    return base;
}

static int same_unit(const omr_region_t *a, const omr_region_t *b);

/* The noise sample of omr_classify_bubble_blank_max: the fills below
 * cal->bubble_blank_max of the bubbles beside the one filled bubble of an
 * answer unit (a question, a grid row) that has exactly one (all but
 * certainly blank: a respondent who filled one bubble there left the others),
 * or with fewer than OMR_CLASSIFY_BUBBLE_NOISE_MIN such, of every bubble.
 * Why not every bubble first: a respondent who ticks instead of filling puts
 * ticks (0.1-0.2) among the blanks, and a noise measured on them would read
 * them blank. fill[] gets the fills of all bubbles (NAN elsewhere); out[]
 * the sample; returns its size. */
static int bubble_noise_sample(const omr_page_t *pg, const omr_calib_t *cal, const float *fill, float *out)
{
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        if (!is_bubble(&pg->regions[i]) || fill[i] >= cal->bubble_blank_max)
            continue;
        /* a question's regions are consecutive on its page (omr_question_t.first_region) */
        int q = pg->regions[i].question, j0 = i, j1 = i, filled = 0;
        while (j0 > 0 && pg->regions[j0 - 1].question == q)
            j0--;
        while (j1 + 1 < pg->n_regions && pg->regions[j1 + 1].question == q)
            j1++;
        for (int j = j0; j <= j1 && filled < 2; j++)
            filled += j != i && is_bubble(&pg->regions[j]) && same_unit(&pg->regions[i], &pg->regions[j]) &&
                      fill[j] >= cal->bubble_marked_min;
        if (filled == 1)
            out[n++] = fill[i];
    }
    if (n >= OMR_CLASSIFY_BUBBLE_NOISE_MIN)
        return n;
    n = 0;
    for (int i = 0; i < pg->n_regions; i++)
        if (is_bubble(&pg->regions[i]) && fill[i] < cal->bubble_blank_max)
            out[n++] = fill[i];
    return n;
}

/* Every region's fill into fill[] (bubbles; 1 for the rest), against the
 * blank levels of their printed codes and the page's filled level full. */
static void bubble_fills(const omr_page_t *pg, const omr_calib_t *cal, const omr_region_result_t *regions,
                         double full, float *fill)
{
    bubble_levels_t levels = {.n = 0};
    for (int i = 0; i < pg->n_regions; i++)
        fill[i] = is_bubble(&pg->regions[i])
                      ? (float)bubble_fill(regions[i].m.ink,
                                           bubble_base_of(&levels, pg, cal, regions, pg->regions[i].print), full)
                      : 1.0f;
}

/* The page's bubble noise: the 95th percentile of bubble_noise_sample's
 * fills; -1 when the sample is smaller than OMR_CLASSIFY_BUBBLE_NOISE_MIN
 * (or out of memory). */
static double bubble_noise(const omr_page_t *pg, const omr_calib_t *cal, const float *fill)
{
    float *sample = malloc(sizeof *sample * (size_t)(pg->n_regions ? pg->n_regions : 1));
    if (!sample)
        return -1;
    int n = bubble_noise_sample(pg, cal, fill, sample);
    double noise = -1;
    if (n >= OMR_CLASSIFY_BUBBLE_NOISE_MIN) {
        qsort(sample, (size_t)n, sizeof *sample, cmp_float);
        noise = sample[(int)(0.95 * (n - 1))];
    }
    free(sample);
    return noise;
}

/* omr_classify_bubble_blank_max from the page's noise (bubble_noise). */
static double blank_max_of_noise(const omr_calib_t *cal, double noise)
{
    if (noise < 0)
        return cal->bubble_blank_max;
    double blank_max = cal->bubble_noise_k * noise;
    if (blank_max < cal->bubble_blank_min)
        blank_max = cal->bubble_blank_min;
    if (blank_max > cal->bubble_blank_max)
        blank_max = cal->bubble_blank_max;
    return blank_max;
}

double omr_classify_bubble_blank_max(const omr_page_t *pg, const omr_calib_t *cal,
                                     const omr_region_result_t *regions, double full)
{
    float *fill = malloc(sizeof *fill * (size_t)(pg->n_regions ? pg->n_regions : 1));
    if (!fill)
        return cal->bubble_blank_max;
    bubble_fills(pg, cal, regions, full, fill);
    double blank_max = blank_max_of_noise(cal, bubble_noise(pg, cal, fill));
    free(fill);
    return blank_max;
}

/* The standing-out rule of omr_classify_page, on the page's fills
 * (bubble_fills) and noise (bubble_noise). */
static int stand_out(const omr_page_t *pg, const omr_calib_t *cal, const float *fill, double noise,
                     omr_region_result_t *regions)
{
    if (!(cal->bubble_stand_out_min > 0))
        return 0;
    int n = 0;
    /* a question's regions are consecutive on its page; a unit is a
     * question's bubbles of one grid row (same_unit) */
    for (int i = 0; i < pg->n_regions; i++) {
        const omr_region_t *rg = &pg->regions[i];
        if (!is_bubble(rg))
            continue;
        int first = 1; /* is i the unit's first bubble? */
        for (int j = i - 1; j >= 0 && pg->regions[j].question == rg->question && first; j--)
            first = !(is_bubble(&pg->regions[j]) && same_unit(rg, &pg->regions[j]));
        if (!first)
            continue;
        int top = -1, answered = 0;
        float second = 0;
        for (int j = i; j < pg->n_regions && pg->regions[j].question == rg->question; j++) {
            if (!is_bubble(&pg->regions[j]) || !same_unit(rg, &pg->regions[j]))
                continue;
            answered |= regions[j].state != OMR_MARK_BLANK;
            if (top < 0 || fill[j] > fill[top]) {
                if (top >= 0 && fill[top] > second)
                    second = fill[top];
                top = j;
            } else if (fill[j] > second) {
                second = fill[j];
            }
        }
        if (answered || top < 0 || fill[top] < cal->bubble_stand_out_min ||
            fill[top] < cal->bubble_stand_out_ratio * second || fill[top] < cal->bubble_stand_out_noise * noise)
            continue;
        regions[top].state = OMR_MARK_DOUBTFUL;
        regions[top].doubt |= OMR_DOUBT_STANDS_OUT;
        n++;
    }
    return n;
}

/* The bubbles of a page: their fills computed once, read against the
 * page's blank maximum, then the unanswered units' standing-out bubbles
 * (stand_out). Out of memory: each alone (omr_classify_region). */
static void classify_bubbles(const omr_page_t *pg, const omr_calib_t *cal, omr_region_result_t *regions)
{
    float *fill = malloc(sizeof *fill * (size_t)(pg->n_regions ? pg->n_regions : 1));
    double blank_max = cal->bubble_blank_max, noise = -1;
    if (fill) {
        bubble_fills(pg, cal, regions, omr_classify_bubble_full(pg, cal, regions), fill);
        noise = bubble_noise(pg, cal, fill);
        blank_max = blank_max_of_noise(cal, noise);
    }
    for (int i = 0; i < pg->n_regions; i++) {
        if (!is_bubble(&pg->regions[i]))
            continue;
        regions[i].digit = -1;
        regions[i].digit_conf = 0;
        regions[i].has_ink = 0;
        classify_bubble(cal, fill ? fill[i] : bubble_fill(regions[i].m.ink, 0, 1), blank_max, &regions[i]);
    }
    if (fill)
        stand_out(pg, cal, fill, noise, regions);
    free(fill);
}

void omr_classify_page(const omr_page_t *pg, const omr_calib_t *cal, omr_region_result_t *regions)
{
    int bubbles = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        if (is_bubble(&pg->regions[i]))
            bubbles = 1;
        else
            omr_classify_region(&pg->regions[i], cal, &regions[i]);
    }
    if (bubbles)
        classify_bubbles(pg, cal, regions);
}

static int is_mark(const omr_region_t *rg)
{
    return rg->kind == OMR_REGION_CIRCLE || rg->kind == OMR_REGION_CHECK;
}

static int same_unit(const omr_region_t *a, const omr_region_t *b)
{
    return a->question == b->question && !strcmp(a->row, b->row);
}

static int is_filled(const omr_region_t *rg, const omr_calib_t *cal, const omr_region_result_t *r)
{
    /* a bubble is filled to answer: never a cancelled choice */
    return rg->kind == OMR_REGION_CHECK && !rg->round && cal->check_filled_min > 0 &&
           r->m.ink >= cal->check_filled_min;
}

int omr_classify_filled(const omr_page_t *pg, const omr_calib_t *cal, int cancels,
                        omr_region_result_t *regions)
{
    if (!cancels)
        return 0;
    int changed = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        if (!is_filled(&pg->regions[i], cal, &regions[i]))
            continue;
        int other_marked = 0;
        for (int j = 0; j < pg->n_regions && !other_marked; j++)
            other_marked = j != i && same_unit(&pg->regions[i], &pg->regions[j]) &&
                           regions[j].state == OMR_MARK_MARKED && !is_filled(&pg->regions[j], cal, &regions[j]);
        regions[i].state = other_marked ? OMR_MARK_BLANK : OMR_MARK_DOUBTFUL;
        regions[i].doubt = OMR_DOUBT_CROSSOUT;
        changed++;
    }
    return changed;
}

/* Median of v[n] (sorted in place); 0 when n is 0. */
static float median_of(float *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* Did the respondent use pen (classify.h, omr_classify_light_scan)? At least
 * pen_marks MARKED mark regions whose median inks, circles and checkboxes
 * apart, reach the pen levels: a pen stroke keeps its ink through a light
 * threshold, eroded pencil does not. Why medians per kind: a pen tick over a
 * circle's number reads little (the number is masked), a pencil check that
 * survived in part may read a lot; one kind's typical mark must look like
 * pen. At most 64 marks of each kind are looked at (enough for a median). */
static int page_shows_pen(const omr_page_t *pg, const omr_calib_t *cal,
                          const omr_region_result_t *regions)
{
    if (cal->light_scan_pen_marks <= 0)
        return 0;
    float circ[64], chk[64];
    int nc = 0, nk = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        if (regions[i].state != OMR_MARK_MARKED)
            continue;
        if (pg->regions[i].kind == OMR_REGION_CIRCLE && nc < 64)
            circ[nc++] = regions[i].m.ink;
        else if (pg->regions[i].kind == OMR_REGION_CHECK && nk < 64 &&
                 !(cal->light_scan_pen_fill_ink > 0 && regions[i].m.ink >= cal->light_scan_pen_fill_ink))
            chk[nk++] = regions[i].m.ink; /* a filled box is no evidence of pen (calib.h) */
    }
    if (nc + nk < cal->light_scan_pen_marks)
        return 0;
    if (nc && median_of(circ, nc) < cal->light_scan_pen_circle_ink)
        return 0;
    if (nk && median_of(chk, nk) < cal->light_scan_pen_check_ink)
        return 0;
    return 1;
}

/* Do the marks read on this page look like pencil that barely survived the
 * threshold (calib.h, light_scan_eroded_*)? Half or more of the MARKED mark
 * regions below eroded_ink; a page with no mark read counts when
 * eroded_empty is set. */
static int page_shows_eroded_pencil(const omr_page_t *pg, const omr_calib_t *cal,
                                    const omr_region_result_t *regions)
{
    int marked = 0, eroded = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        if (!is_mark(&pg->regions[i]))
            continue;
        if (regions[i].state == OMR_MARK_MARKED) {
            marked++;
            eroded += regions[i].m.ink < cal->light_scan_eroded_ink;
        } else if (cal->light_scan_eroded_traces && regions[i].state == OMR_MARK_DOUBTFUL &&
                   (regions[i].doubt & OMR_DOUBT_BORDERLINE)) {
            marked++; /* a trace: a mark eroded to a few dots, or dust */
            eroded++;
        }
    }
    if (marked == 0)
        return cal->light_scan_eroded_empty;
    return 2 * eroded >= marked;
}

/* A checkbox read MARKED with a stroke's full ink: at least eroded_ink
 * (the threshold did not eat it) and below pen_fill_ink (a stroke, not a
 * filled box, which survives whatever the pressure). When every mark of a
 * many-answer unit is such a tick, the respondent's strokes survived this
 * scan whole and a blank beside them is a blank (measured on build/corpus
 * and the holdout corpus: no lost mark in such a unit; circles read as
 * much ink when filled or struck out, so they never count). */
static int tick_survived_whole(const omr_calib_t *cal, const omr_region_t *rg, const omr_region_result_t *r)
{
    return rg->kind == OMR_REGION_CHECK && r->m.ink >= cal->light_scan_eroded_ink &&
           (cal->light_scan_pen_fill_ink <= 0 || r->m.ink < cal->light_scan_pen_fill_ink);
}

/* Is the page too light to trust a blank reading (classify.h)? Judged on
 * the mark regions as classified (MARKED ones only). */
static int page_is_light(const omr_page_t *pg, const omr_calib_t *cal, float print_recovery,
                         const omr_region_result_t *regions)
{
    if (print_recovery < 0 || cal->light_scan_recovery_min <= 0)
        return 0; /* grey scans; the rule turned off */
    return print_recovery < cal->light_scan_recovery_min ||
           (print_recovery < cal->light_scan_eroded_recovery_max &&
            page_shows_eroded_pencil(pg, cal, regions));
}

int omr_classify_light_scan(const omr_page_t *pg, const omr_calib_t *cal, float print_recovery,
                            omr_region_result_t *regions)
{
    if (!page_is_light(pg, cal, print_recovery, regions))
        return 0;
    /* A pen page: a unit is unseen only when its whole question is (faint
     * pencil on purpose is drawn over whole questions, even by pen users). */
    const int pen = page_shows_pen(pg, cal, regions);
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        const omr_region_t *rg = &pg->regions[i];
        if (!is_mark(rg) || regions[i].state != OMR_MARK_BLANK)
            continue;
        /* Regions of a unit are few (<= ~12) and a page has ~100 of them:
         * a scan of the page per blank region is cheap enough. */
        int marked = 0, multi = 0, whole = 1;
        for (int j = 0; j < pg->n_regions; j++) {
            const omr_region_t *rj = &pg->regions[j];
            if (!is_mark(rj) || !(pen ? rg->question == rj->question : same_unit(rg, rj)))
                continue;
            if (regions[j].state == OMR_MARK_MARKED) {
                marked = 1;
                whole &= tick_survived_whole(cal, rj, &regions[j]);
            }
            multi |= strcmp(rg->var, rj->var) != 0;
        }
        if (!pen && multi && cal->light_scan_multi_cells && !whole)
            marked = 0;
        if (marked)
            continue;
        regions[i].state = OMR_MARK_DOUBTFUL;
        regions[i].doubt |= OMR_DOUBT_LIGHT_SCAN;
        n++;
    }
    return n;
}

int omr_classify_boxes_disagree(const omr_page_t *pg, const omr_calib_t *cal, omr_region_result_t *regions)
{
    if (cal->write_disagree_ink <= 0)
        return 0;
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        omr_region_result_t *r = &regions[i];
        if (pg->regions[i].kind != OMR_REGION_DIGIT || r->has_ink || r->state != OMR_MARK_BLANK ||
            r->m.ink < cal->write_disagree_ink)
            continue;
        r->has_ink = 1;
        r->state = OMR_MARK_DOUBTFUL;
        r->doubt |= OMR_DOUBT_NOT_DIGIT;
        r->digit = -1;
        r->digit_conf = 0;
        n++;
    }
    return n;
}

int omr_classify_light_scan_boxes(const omr_page_t *pg, const omr_calib_t *cal, float print_recovery,
                                  omr_region_result_t *regions)
{
    if (!cal->light_scan_boxes || !page_is_light(pg, cal, print_recovery, regions))
        return 0;
    const int pen = page_shows_pen(pg, cal, regions);
    int n = 0;
    for (int i = 0; i < pg->n_regions; i++) {
        const omr_region_t *rg = &pg->regions[i];
        if (rg->kind != OMR_REGION_DIGIT || regions[i].has_ink || regions[i].state != OMR_MARK_BLANK)
            continue;
        int written = 0;
        for (int j = 0; j < pg->n_regions && !written; j++) {
            const omr_region_t *rj = &pg->regions[j];
            written = rj->kind == OMR_REGION_DIGIT &&
                      (pen ? rg->question == rj->question : same_unit(rg, rj)) && regions[j].has_ink;
        }
        if (written)
            continue;
        regions[i].state = OMR_MARK_DOUBTFUL;
        regions[i].doubt |= OMR_DOUBT_LIGHT_SCAN;
        n++;
    }
    return n;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The new blank maximum for one kind from its inks: the 99th percentile of
 * the inks below the middle of the borderline band (the blank population,
 * whatever the share of marks), with a 25 % margin; between base and limit. */
static double refine_one(float *ink, int n, double base, double marked_min, double limit)
{
    if (n == 0)
        return base;
    qsort(ink, (size_t)n, sizeof *ink, cmp_float);
    double mid = 0.5 * (base + marked_min);
    int nb = 0;
    while (nb < n && ink[nb] < mid)
        nb++;
    if (nb < 100)
        return base;
    if (limit < base)
        limit = base;
    double p99 = ink[(int)(0.99 * (nb - 1))];
    double v = 1.25 * p99;
    if (v < base)
        v = base;
    if (v > limit)
        v = limit;
    return v;
}

int omr_classify_refine(const omr_calib_t *base, const omr_survey_t *survey,
                        const omr_page_result_t *pages, int n_pages, omr_calib_t *out,
                        char *note, size_t n)
{
    *out = *base;
    if (note && n)
        note[0] = 0;
    int total = 0;
    for (int p = 0; p < n_pages; p++)
        if (pages[p].status == OMR_PAGE_OK)
            total += pages[p].n_regions;
    float *circ = malloc(sizeof(float) * (size_t)(total ? total : 1));
    float *chk = malloc(sizeof(float) * (size_t)(total ? total : 1));
    int nc = 0, nk = 0;
    if (!circ || !chk) {
        free(circ);
        free(chk);
        return 0; /* no refinement is always safe */
    }
    for (int p = 0; p < n_pages; p++) {
        const omr_page_result_t *pr = &pages[p];
        if (pr->status != OMR_PAGE_OK)
            continue;
        const omr_form_t *f = omr_template_form(survey, pr->form);
        if (!f || pr->page_number < 1 || pr->page_number > f->n_pages)
            continue;
        const omr_page_t *pg = &f->pages[pr->page_number - 1];
        for (int i = 0; i < pg->n_regions && i < pr->n_regions; i++) {
            /* Light-only ink (classify_mark) is not the blank ink level. */
            float ink = pr->regions[i].m.darkness > 0 &&
                                pr->regions[i].m.darkness < OMR_SAMPLE_DARK_MIN
                            ? 0
                            : pr->regions[i].m.ink;
            if (pg->regions[i].kind == OMR_REGION_CIRCLE)
                circ[nc++] = ink;
            else if (pg->regions[i].kind == OMR_REGION_CHECK)
                chk[nk++] = ink;
        }
    }
    int changed = 0;
    if (nc + nk >= base->batch_min_regions) {
        out->circle_blank_max = refine_one(circ, nc, base->circle_blank_max,
                                           base->circle_marked_min, base->batch_circle_blank_limit);
        out->check_blank_max = refine_one(chk, nk, base->check_blank_max, base->check_marked_min,
                                          base->batch_check_blank_limit);
        /* Keep a borderline band: never let blank meet marked. */
        if (out->circle_marked_min < out->circle_blank_max)
            out->circle_marked_min = out->circle_blank_max;
        if (out->check_marked_min < out->check_blank_max)
            out->check_marked_min = out->check_blank_max;
        changed = (out->circle_blank_max != base->circle_blank_max) +
                  (out->check_blank_max != base->check_blank_max);
        if (note && n)
            snprintf(note, n,
                     "batch refinement over %d circle and %d checkbox regions: "
                     "circle.blank_max %.4g -> %.4g, check.blank_max %.4g -> %.4g",
                     nc, nk, base->circle_blank_max, out->circle_blank_max, base->check_blank_max,
                     out->check_blank_max);
    } else if (note && n) {
        snprintf(note, n, "batch too small to refine (%d mark regions, %d needed)", nc + nk,
                 base->batch_min_regions);
    }
    free(circ);
    free(chk);
    return changed;
}
