/* test_sim_bubble.c -- the simulator's fill side on a mark sheet
 * (tests/data/bubble-sheet: bubbles, no barcode, identify=order; and
 * tests/data/number-bubbles: numbers printed as bubble columns).
 *
 * Checked against the printed page and the template, never against the fill
 * code's own bookkeeping:
 *   - single choice questions get one option (or, as a rule break, two),
 *     and their answer column is empty when two are filled;
 *   - a number in bubble columns gets one bubble per used position (or, as a
 *     rule break, two), its used positions side by side, and its answer
 *     column is the digits of the bubbles its truth marks, position by
 *     position (empty when a position holds two); every truth row names one
 *     bubble (var:code, roll_d3:7);
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

static omr_survey_t *survey, *number_survey;
static const omr_form_t *form, *number_form;

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
    /* numbers in bubble columns: answered, every position used, a shorter
     * one, a full one starting with 0, a position with two bubbles */
    int numbers, numbers_full, numbers_short, leading_zero, two_in_position;
} seen_t;

/* What the truth rows of one sheet mark, per question (single: its bubbles
 * in the answer; number: per position 1..12 the digits in the answer). */
typedef struct {
    int in_single[64];
    int n_digits[64][OMR_NUMBER_MAX_BOXES + 1];
    char digits[64][OMR_NUMBER_MAX_BOXES + 1][12];
} marked_t;

/* A number's value from its truth: the digit of each used position, left to
 * right; "" when a position holds two. Counts what it saw in seen, and
 * checks the used positions are side by side (a gap is no number). */
static void number_from_truth(const char *id, const omr_question_t *q, const marked_t *m, int qi, char *out,
                              seen_t *seen)
{
    int first = 0, last = 0, two = 0, len = 0;
    for (int b = 1; b <= q->n_boxes; b++) {
        if (m->n_digits[qi][b] == 0)
            continue;
        first = first ? first : b;
        last = b;
        two |= m->n_digits[qi][b] > 1;
        CHECK(m->n_digits[qi][b] <= 2, "%s %s position %d: %d bubbles", id, q->id, b, m->n_digits[qi][b]);
        out[len++] = m->digits[qi][b][0];
    }
    out[len] = '\0';
    for (int b = first; first && b <= last; b++)
        CHECK(m->n_digits[qi][b] > 0, "%s %s: position %d empty between %d and %d", id, q->id, b, first, last);
    if (!first)
        return;
    seen->numbers++;
    seen->numbers_full += len == q->n_boxes;
    seen->numbers_short += len < q->n_boxes;
    seen->leading_zero += len == q->n_boxes && out[0] == '0';
    if (two) {
        seen->two_in_position++;
        out[0] = '\0';
    }
}

/* The answer row of r against the truth's marks: a single question's column
 * is empty when two are marked (counted in seen), a number's column is the
 * digits its truth marks (number_from_truth). */
static void check_answers(const char *id, const omr_form_t *fm, const char *row_text, const marked_t *m,
                          seen_t *seen)
{
    omr_column_t *cols = NULL;
    int nc = omr_template_columns(fm, 0, &cols);
    char *row = strdup(row_text ? row_text : ""), *v[256];
    row[strcspn(row, "\n")] = '\0';
    int nv = check_split_csv(row, v, 256);
    CHECK(nc >= 0 && nv == nc + 1, "%s: %d answer fields for %d columns", id, nv, nc);
    for (int i = 0; i < nc && i + 1 < nv; i++) {
        int qi = cols[i].question;
        const omr_question_t *q = &fm->questions[qi];
        if (q->kind == OMR_KIND_SINGLE && qi < 64) {
            CHECK(m->in_single[qi] <= 2, "%s %s: %d bubbles marked", id, q->id, m->in_single[qi]);
            if (m->in_single[qi] == 2) {
                seen->two_marks++;
                seen->empty_single += v[i + 1][0] == '\0';
            }
        } else if (q->kind == OMR_KIND_NUMBER && qi < 64) {
            char want[OMR_NUMBER_MAX_BOXES + 1];
            number_from_truth(id, q, m, qi, want, seen);
            CHECK_STR(v[i + 1], want);
        }
    }
    free(row);
    free(cols);
}

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

/* Fill respondent id's sheet of form fm (survey sv) and check each bubble's
 * ink against its truth row, the truth rows' names, and the answers. */
static void check_respondent(const omr_survey_t *sv, const omr_form_t *fm, const char *id, const sim_profile_t *p,
                             seen_t *seen)
{
    omr_error_t err;
    sim_respondent_t *r = sim_respondent_new(sv, fm, id, 21, p);
    if (!r) {
        CHECK(0, "respondent %s", id);
        return;
    }
    sim_sheet_t *s = NULL, *m = NULL;
    int n = sim_respondent_sheets(r, &s), nm = sim_respondent_missing(r, &m);
    CHECK(n == 1 && nm == 0 && !s[0].duplicate, "%s: read by order, one sheet, none missing: %d sheets, %d missing",
          id, n, nm);
    const omr_page_t *pg = &fm->pages[0];
    PIX *blank = omr_print_render_page(sv, fm, 0, NULL, DPI, &err);
    PIX *pix = blank ? pixCopy(NULL, blank) : NULL;
    char *truth = NULL;
    size_t tlen;
    FILE *tf = open_memstream(&truth, &tlen);
    CHECK(pix && sim_fill_sheet(r, &s[0], pix, DPI, tf) == 0, "fill %s: %s", id, sim_fill_last_error());
    fclose(tf);
    marked_t mk;
    memset(&mk, 0, sizeof mk);
    char *line = truth, *next;
    for (int ri = 0; pix && line && *line && ri < pg->n_regions; line = next, ri++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *v[12];
        CHECK_INT(check_split_csv(line, v, 12), 9);
        const omr_region_t *g = &pg->regions[ri];
        const omr_question_t *q = &fm->questions[g->question];
        CHECK(sim_is_bubble(g), "region %d is a bubble", ri);
        /* each row names its bubble: the column and the code where a
         * column has several (a single question's, a number's position's) */
        char name[80];
        snprintf(name, sizeof name, "%s:%d", g->var, g->code);
        int shared = q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_NUMBER;
        CHECK_STR(v[4], shared ? name : g->var);
        if (!strcmp(v[8], "1") && g->question < 64) { /* in the answer (faint fills too) */
            int b = atoi(g->row);
            if (q->kind == OMR_KIND_SINGLE)
                mk.in_single[g->question]++;
            else if (q->kind == OMR_KIND_NUMBER && b >= 1 && b <= OMR_NUMBER_MAX_BOXES) {
                int *k = &mk.n_digits[g->question][b];
                if (*k < 11)
                    mk.digits[g->question][b][(*k)++] = (char)('0' + g->code);
            }
        }
        double gain = disc_darkness(pix, g->box) - disc_darkness(blank, g->box);
        int dark = new_dark(blank, pix, g->box);
        const char *state = v[6], *style = v[7];
        if (!strcmp(state, "marked")) {
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
    /* Single questions: one bubble, two as a rule break (then no answer);
     * numbers: the digits their bubbles mark. */
    char *row = answer_row(r);
    check_answers(id, fm, row, &mk, seen);
    free(row);
    free(truth);
    pixDestroy(&pix);
    pixDestroy(&blank);
    free(s);
    free(m);
    sim_respondent_free(r);
}

/* check_respondent for the n respondents first, first + 1, … */
static void check_population(const omr_survey_t *sv, const omr_form_t *fm, int first, int n, const sim_profile_t *p,
                             seen_t *seen)
{
    for (int k = 0; k < n; k++) {
        char id[16];
        snprintf(id, sizeof id, "%06d", first + k);
        check_respondent(sv, fm, id, p, seen);
    }
}

static void test_bubbles_busy(void)
{
    sim_profile_t p = busy_profile();
    seen_t seen = {.min_fill_gain = 1};
    check_population(survey, form, 100, 16, &p, &seen);
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
    check_population(survey, form, 200, 6, &p, &seen);
    CHECK(seen.fills > 100 && seen.ticks == 0 && seen.dots == 0 && seen.doubtful == 0 && seen.two_marks == 0,
          "clean: fills %d ticks %d dots %d doubtful %d two %d", seen.fills, seen.ticks, seen.dots, seen.doubtful,
          seen.two_marks);
}

/* Numbers in bubble columns (tests/data/number-bubbles: a 7-digit ID, a
 * 3-digit count, two A-D questions), the busy population: ink as for any
 * bubble, one bubble per used position, the answer the digits of the
 * marked bubbles; mostly every position used (an ID's length is fixed),
 * now and then a shorter number, a leading 0, two bubbles in a position. */
static void test_number_bubbles_busy(void)
{
    sim_profile_t p = busy_profile();
    seen_t seen = {.min_fill_gain = 1};
    check_population(number_survey, number_form, 300, 24, &p, &seen);
    fprintf(stderr, "  numbers: %d answered, %d every position used (%d from a 0), %d shorter, %d with two bubbles "
                    "in a position; %d fills, %d ticks/crosses, %d dots, %d doubtful\n",
            seen.numbers, seen.numbers_full, seen.leading_zero, seen.numbers_short, seen.two_in_position, seen.fills,
            seen.ticks, seen.dots, seen.doubtful);
    CHECK(seen.numbers >= 40 && seen.numbers_full * 10 >= seen.numbers * 7 && seen.numbers_short > 0 &&
              seen.leading_zero > 0 && seen.two_in_position > 0,
          "numbers %d full %d short %d leading 0 %d two %d", seen.numbers, seen.numbers_full, seen.numbers_short,
          seen.leading_zero, seen.two_in_position);
    CHECK(seen.ticks > 0 && seen.dots > 0 && seen.doubtful > 0, "ticks %d dots %d doubtful %d", seen.ticks, seen.dots,
          seen.doubtful);
}

/* The clean population fills one bubble per used position, nothing else. */
static void test_number_bubbles_clean(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 1);
    seen_t seen = {.min_fill_gain = 1};
    check_population(number_survey, number_form, 400, 6, &p, &seen);
    CHECK(seen.numbers >= 10 && seen.ticks == 0 && seen.dots == 0 && seen.doubtful == 0 && seen.two_in_position == 0 &&
              seen.two_marks == 0,
          "clean: numbers %d ticks %d dots %d doubtful %d two %d", seen.numbers, seen.ticks, seen.dots, seen.doubtful,
          seen.two_in_position);
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
    if (omr_template_load("tests/data/number-bubbles", &number_survey, &err) != OMR_OK) {
        fprintf(stderr, "tests/data/number-bubbles: %s\n", err.msg);
        CHECK(0);
    } else if (!(number_form = omr_template_form(number_survey, "N"))) {
        CHECK(0, "form N");
    } else {
        RUN(test_number_bubbles_busy);
        RUN(test_number_bubbles_clean);
    }
    omr_template_free(number_survey);
    omr_template_free(survey);
    return check_report();
}
