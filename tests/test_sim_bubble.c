/* test_sim_bubble.c -- the simulator's fill side on a mark sheet
 * (tests/data/bubble-sheet: bubbles, no barcode, identify=order).
 *
 * Checked against the printed page and the template, never against the fill
 * code's own bookkeeping:
 *   - single choice questions get one option (or, as a rule break, two),
 *     and their answer column is empty when two are filled;
 *   - a filled bubble's middle (the part omr samples) turns dark, a tick or
 *     cross puts new ink in the bubble, a blank bubble gets none, a dot a
 *     little (and stays blank in the truth);
 *   - sheets read by order are never fed twice or left out of the packet;
 *   - the clean profile only fills, with one bubble per question;
 *   - the other survey's respondents do not change (covered by the corpus
 *     checksums in tests/sim_determinism.sh).
 * The tool's sources are compiled in, as in test_sim_fill.c.
 */
#include "../tools/simulate/answers.c"
#include "../tools/simulate/handwriting.c"
#include "../tools/simulate/pen.c"
#include "../tools/simulate/rng.c"

#include "check.h"
#include "print.h"

#define DPI 200.0

static omr_survey_t *survey;
static const omr_form_t *form;

/* A population that shows every bubble behaviour often. */
static sim_profile_t busy_profile(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 0);
    p.p_doubtful = 0.2;
    p.p_two_marks = 0.1;
    p.p_dot = 0.05;
    p.p_duplicate_page = 0.5; /* never used on a sheet read by order */
    p.p_missing_page = 0.5;
    return p;
}

/* Mean darkness (0 white .. 1 black) of pix over the middle of bubble box b,
 * the disc of OMR_SAMPLE_BUBBLE_RIM of its radii omr samples (sample.h). */
static double disc_darkness(PIX *pix, omr_rect_t b)
{
    double k = DPI / OMR_MM_PER_INCH, cx = b.x + b.w / 2, cy = b.y + b.h / 2;
    double sum = 0;
    int n = 0;
    for (int y = (int)floor(b.y * k); y <= (int)ceil((b.y + b.h) * k); y++)
        for (int x = (int)floor(b.x * k); x <= (int)ceil((b.x + b.w) * k); x++) {
            double dx = ((x + 0.5) / k - cx) / (b.w / 2), dy = ((y + 0.5) / k - cy) / (b.h / 2);
            if (dx * dx + dy * dy > 0.55 * 0.55)
                continue;
            l_uint32 v;
            pixGetPixel(pix, x, y, &v);
            sum += (255 - (double)v) / 255;
            n++;
        }
    return n ? sum / n : 0;
}

/* Pixels of box b (mm) darker than 160 on filled and not on blank. */
static int new_dark(PIX *blank, PIX *filled, omr_rect_t b)
{
    double k = DPI / OMR_MM_PER_INCH;
    int n = 0;
    for (int y = (int)floor(b.y * k); y < (int)ceil((b.y + b.h) * k); y++)
        for (int x = (int)floor(b.x * k); x < (int)ceil((b.x + b.w) * k); x++) {
            l_uint32 a, v;
            pixGetPixel(blank, x, y, &a);
            pixGetPixel(filled, x, y, &v);
            n += v < 160 && a >= 160;
        }
    return n;
}

typedef struct {
    int fills, ticks, dots, blanks, doubtful, two_marks, empty_single;
    double min_fill_gain; /* the least darkening of a filled bubble's middle */
    double max_dot_gain;  /* the most darkening of a middle by a dot */
} seen_t;

/* The answer row of r as text (one line, without header). */
static char *answer_row(const sim_respondent_t *r)
{
    char *t = NULL;
    size_t n;
    FILE *f = open_memstream(&t, &n);
    sim_respondent_write_answers(r, f, NULL);
    fclose(f);
    return t;
}

/* Fill respondent id's sheet and check each bubble's ink against its truth row. */
static void check_respondent(const char *id, const sim_profile_t *p, seen_t *seen)
{
    omr_error_t err;
    sim_respondent_t *r = sim_respondent_new(survey, form, id, 21, p);
    if (!r) {
        CHECK(0, "respondent %s", id);
        return;
    }
    sim_sheet_t *s = NULL, *m = NULL;
    int n = sim_respondent_sheets(r, &s), nm = sim_respondent_missing(r, &m);
    CHECK(n == 1 && nm == 0 && !s[0].duplicate, "%s: read by order, one sheet, none missing: %d sheets, %d missing",
          id, n, nm);
    const omr_page_t *pg = &form->pages[0];
    PIX *blank = omr_print_render_page(survey, form, 0, NULL, DPI, &err);
    PIX *pix = blank ? pixCopy(NULL, blank) : NULL;
    char *truth = NULL;
    size_t tlen;
    FILE *tf = open_memstream(&truth, &tlen);
    CHECK(pix && sim_fill_sheet(r, &s[0], pix, DPI, tf) == 0, "fill %s: %s", id, sim_fill_last_error());
    fclose(tf);
    int marked_in[64] = {0}; /* per single question (q1..q24): bubbles marked in the truth */
    char *line = truth, *next;
    for (int ri = 0; pix && line && *line && ri < pg->n_regions; line = next, ri++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *v[12];
        CHECK_INT(check_split_csv(line, v, 12), 9);
        const omr_region_t *g = &pg->regions[ri];
        CHECK(sim_is_bubble(g), "region %d is a bubble", ri);
        double gain = disc_darkness(pix, g->box) - disc_darkness(blank, g->box);
        int dark = new_dark(blank, pix, g->box);
        const char *state = v[6], *style = v[7];
        if (!strcmp(state, "marked")) {
            if (g->var[0] == 'q')
                marked_in[atoi(g->var + 1) & 63]++;
            if (!strncmp(style, "fill", 4)) {
                seen->fills++;
                if (gain < seen->min_fill_gain)
                    seen->min_fill_gain = gain;
                /* short of the outline, or light pencil: the middle is still
                 * mostly covered; else it is all but black */
                double need = !strcmp(style, "fill_short") || !strcmp(style, "fill_light") ? 0.25 : 0.4;
                CHECK(gain > need, "%s %s:%d %s: the middle darkened by %.2f only", id, g->var, g->code, style, gain);
            } else {
                CHECK(!strcmp(style, "tick") || !strcmp(style, "cross"), "%s %s: style %s", id, g->var, style);
                seen->ticks++;
                CHECK(dark > 10, "%s %s:%d %s: %d new dark pixels", id, g->var, g->code, style, dark);
            }
        } else if (!strcmp(state, "blank") && !strcmp(style, "dot")) {
            seen->dots++;
            if (gain > seen->max_dot_gain)
                seen->max_dot_gain = gain;
            CHECK(dark > 0 && gain < 0.2, "%s %s:%d dot: %d new dark pixels, middle %.2f darker", id, g->var, g->code,
                  dark, gain);
        } else if (!strcmp(state, "blank")) {
            seen->blanks++;
            /* an erased-clean fill leaves a trace lighter than 160 only */
            CHECK(dark == 0, "%s %s:%d blank (%s): %d new dark pixels", id, g->var, g->code, style, dark);
        } else {
            CHECK(!strcmp(state, "doubtful"), "state %s", state);
            seen->doubtful++;
        }
    }
    /* Single questions: one bubble, two as a rule break (then no answer). */
    char *row = answer_row(r), *cols[64];
    int nc = check_split_csv(row, cols, 64);
    for (int q = 1; q <= 24 && nc > q; q++) {
        CHECK(marked_in[q] <= 2, "%s q%d: %d bubbles marked", id, q, marked_in[q]);
        if (marked_in[q] == 2) {
            seen->two_marks++;
            seen->empty_single += cols[q][0] == '\0' || cols[q][0] == '\n';
        }
    }
    free(row);
    free(truth);
    pixDestroy(&pix);
    pixDestroy(&blank);
    free(s);
    free(m);
    sim_respondent_free(r);
}

static void test_bubbles_busy(void)
{
    sim_profile_t p = busy_profile();
    seen_t seen = {.min_fill_gain = 1};
    for (int k = 0; k < 16; k++) {
        char id[16];
        snprintf(id, sizeof id, "%06d", 100 + k);
        check_respondent(id, &p, &seen);
    }
    fprintf(stderr, "  busy: %d fills (middle darker by >= %.2f), %d ticks/crosses, %d dots (<= %.2f), %d blank, "
                    "%d doubtful, %d questions with two\n",
            seen.fills, seen.min_fill_gain, seen.ticks, seen.dots, seen.max_dot_gain, seen.blanks, seen.doubtful,
            seen.two_marks);
    CHECK(seen.fills > 200 && seen.ticks > 0 && seen.dots > 0 && seen.doubtful > 0 && seen.two_marks > 0,
          "every behaviour shows: fills %d ticks %d dots %d doubtful %d two %d", seen.fills, seen.ticks, seen.dots,
          seen.doubtful, seen.two_marks);
    CHECK_INT(seen.empty_single, seen.two_marks);
}

static void test_bubbles_clean(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 1);
    seen_t seen = {.min_fill_gain = 1};
    for (int k = 0; k < 6; k++) {
        char id[16];
        snprintf(id, sizeof id, "%06d", 200 + k);
        check_respondent(id, &p, &seen);
    }
    CHECK(seen.fills > 100 && seen.ticks == 0 && seen.dots == 0 && seen.doubtful == 0 && seen.two_marks == 0,
          "clean: fills %d ticks %d dots %d doubtful %d two %d", seen.fills, seen.ticks, seen.dots, seen.doubtful,
          seen.two_marks);
}

/* The same respondent twice gives the same ink and truth. */
static void test_bubbles_deterministic(void)
{
    sim_profile_t p = busy_profile();
    PIX *pix[2] = {NULL, NULL};
    char *truth[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        sim_respondent_t *r = sim_respondent_new(survey, form, "000042", 9, &p);
        sim_sheet_t *s = NULL;
        omr_error_t err;
        if (!r || sim_respondent_sheets(r, &s) != 1) {
            CHECK(0, "respondent");
            sim_respondent_free(r);
            free(s);
            continue;
        }
        pix[k] = omr_print_render_page(survey, form, 0, NULL, DPI, &err);
        size_t n;
        FILE *f = open_memstream(&truth[k], &n);
        CHECK(pix[k] && sim_fill_sheet(r, &s[0], pix[k], DPI, f) == 0);
        fclose(f);
        free(s);
        sim_respondent_free(r);
    }
    l_int32 same = 0;
    if (pix[0] && pix[1])
        pixEqual(pix[0], pix[1], &same);
    CHECK(same, "same pixels");
    CHECK(truth[0] && truth[1] && !strcmp(truth[0], truth[1]), "same truth");
    for (int k = 0; k < 2; k++) {
        pixDestroy(&pix[k]);
        free(truth[k]);
    }
}

int main(void)
{
    omr_error_t err;
    omr_quiet_libraries();
    if (omr_template_load("tests/data/bubble-sheet", &survey, &err) != OMR_OK) {
        fprintf(stderr, "tests/data/bubble-sheet: %s\n", err.msg);
        CHECK(0);
        return check_report();
    }
    form = omr_template_form(survey, "M");
    if (!form || !survey->ids_by_order) {
        CHECK(0, "form M read by order");
        omr_template_free(survey);
        return check_report();
    }
    RUN(test_bubbles_busy);
    RUN(test_bubbles_clean);
    RUN(test_bubbles_deterministic);
    omr_template_free(survey);
    return check_report();
}
