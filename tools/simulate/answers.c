/* answers.c -- the simulated respondent: who they are, what they answer (the
 * ground truth, in the export format of ../shared/spec/coding.md), and which
 * sheets their packet holds.
 *
 * Exports (sim.h): sim_respondent_new/free, sim_respondent_sheets,
 * sim_respondent_missing, sim_respondent_write_answers, sim_write_answer_headers,
 * sim_respondent_write_missing, sim_profile_defaults.
 *
 * The answer of every question is kept per region (fill_internal.h
 * sim_cell_t), so the ink (pen.c) and the CSV rows are two views of the same
 * cells and cannot disagree. Order of decisions:
 *   1. traits of the respondent (pen, neatness, mark habits, number of cases);
 *   2. a raw answer for every question and case, as if every question applied
 *      (blank questions, doubtful marks decided here);
 *   3. routing, in dependency order: a question whose routing source does not
 *      hold one of its codes is skipped (-1 in all columns, no ink), unless the
 *      respondent breaks the routing and answers it anyway;
 *   4. the packet: sheets in scan order, duplicates, missing sheets. A missing
 *      sheet's questions are empty in the answers (coding.md "Empty": the office
 *      never saw an answer) and sim_respondent_write_missing marks it in the
 *      cell truth.
 * Every draw uses its own stream (sim_fill_rng), so changing how one question
 * is drawn does not shift the answers of the others.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fill_internal.h"

/* ------------------------------------------------------------ profiles */

void sim_profile_defaults(sim_profile_t *p, int clean)
{
    memset(p, 0, sizeof *p);
    if (clean) {
        /* Well-behaved respondents: follow the routing, dark pen, no doubt,
         * nothing stray; they still skip a question now and then and still
         * photocopy case pages (the form asks them to). */
        p->p_break_routing = 0.0;
        p->p_blank_question = 0.02;
        p->p_extra_cases = 0.2;
        p->clean = 1;
        return;
    }
    /* The mixed population. Guesses of a survey office's experience, chosen so
     * a 200-respondent corpus shows every behaviour several times:
     * per skipped question 6 % answer anyway; per question 3 % blank; a
     * quarter of the packets hold 2-3 cases; per sheet 1 % fed twice and
     * 0.7 % missing (10-15 sheets a packet: ~12 % / ~9 % of packets); per
     * answered question 5 % doubtful; per sheet 20 % stray marks or notes. */
    p->p_break_routing = 0.06;
    p->p_break_exclusive = 0.08; /* of the answers holding an exclusive option */
    p->p_blank_question = 0.03;
    p->p_extra_cases = 0.25;
    p->p_duplicate_page = 0.01;
    p->p_missing_page = 0.007;
    p->p_doubtful = 0.05;
    p->p_stray = 0.2;
    /* Per single-choice question 1 % mark a second option (on a mark sheet
     * also per grid row or position of a number in bubble columns: about one
     * sheet in five of 26 questions holds such a rule break; one 7-digit
     * number in 14); mark sheets only: per blank bubble 0.3 % hold a pen touch (a dot
     * where the pen rested while the respondent read the options; about
     * one sheet in five of ~80 blank bubbles). */
    p->p_two_marks = 0.01;
    p->p_dot = 0.003;
    p->clean = 0;
}

/* ------------------------------------------------------------- streams */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sim_fill_rng(const sim_respondent_t *r, sim_rng_t *rng, int page, int case_number, int item,
                  int purpose)
{
    /* Mixed radix keeps distinct tuples distinct (page < 2^20, case < 64,
     * item < 65536, purpose < 16); multiplying by an odd constant is a
     * bijection mod 2^64, and sim_rng_seed scrambles the result further. */
    uint64_t t = (uint64_t)(page + 1);
    t = t * 64 + (uint64_t)(case_number & 63);
    t = t * 65536 + (uint64_t)(item & 0xffff);
    t = t * 16 + (uint64_t)(purpose & 15);
    sim_rng_seed(rng, r->seed, r->key + t * 0x9e3779b97f4a7c15ULL);
}

/* ------------------------------------------------------------- helpers */

static sim_cell_t *cell_w(sim_respondent_t *r, int slot, int pi, int ri)
{
    return &r->cells[(size_t)slot * (size_t)r->n_cells + (size_t)(r->page_base[pi] + ri)];
}

static uint8_t *qstate_w(sim_respondent_t *r, int slot, int qi)
{
    return &r->qstate[(size_t)slot * (size_t)r->form->n_questions + (size_t)qi];
}

static int is_mark(omr_region_kind_t k) { return k == OMR_REGION_CIRCLE || k == OMR_REGION_CHECK; }

/* Pick an index by weights w[0..n). */
static int pick_weighted(sim_rng_t *rng, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i];
    double u = sim_rng_uniform(rng) * sum;
    for (int i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

/* Shuffle a[0..n) (Fisher-Yates). */
static void shuffle(sim_rng_t *rng, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = sim_rng_range(rng, 0, i);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* The question's region (page index) of an option or grid cell; -1 if none. */
static int region_for(const omr_form_t *f, const omr_question_t *q, omr_region_kind_t kind, int code,
                      const char *row)
{
    const omr_page_t *pg = &f->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
        const omr_region_t *g = &pg->regions[i];
        if (g->kind == kind && g->code == code && (!row || !strcmp(g->row, row)))
            return i;
    }
    return -1;
}

/* The region an option of a single or multi question is marked in: its
 * circle target, or its tick box or bubble when the form has those. */
static int option_region(const omr_form_t *f, const omr_question_t *q, int code)
{
    int ri = region_for(f, q, OMR_REGION_CIRCLE, code, NULL);
    return ri >= 0 ? ri : region_for(f, q, OMR_REGION_CHECK, code, NULL);
}

/* Does question q mark its answers in bubbles? */
static int question_has_bubbles(const omr_form_t *f, const omr_question_t *q)
{
    const omr_page_t *pg = &f->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
        if (sim_is_bubble(&pg->regions[i]))
            return 1;
    return 0;
}

/* Characters a respondent writes into a text field: a short note, never more
 * than ~70 % of what fits. */
static int text_length(sim_rng_t *rng, omr_rect_t box)
{
    int cap = sim_hand_capacity(box);
    if (cap < 2)
        return 1;
    int hi = cap * 7 / 10;
    if (hi < 2)
        hi = 2;
    if (hi > 40)
        hi = 40;
    return sim_rng_range(rng, 2, hi);
}

/* Mark the "other" text field of option code when that option is chosen:
 * mostly written, sometimes left empty. */
static void fill_other_text(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q, int code)
{
    const omr_page_t *pg = &r->form->pages[q->page];
    int ri = region_for(r->form, q, OMR_REGION_TEXT, code, NULL);
    if (ri < 0)
        return;
    /* Real respondents sometimes circle "その他" and write nothing; clean ones always write. */
    if (r->profile.clean || sim_rng_chance(rng, 0.9))
        cell_w(r, slot, q->page, ri)->value = (int16_t)text_length(rng, pg->regions[ri].box);
}

/* Option codes usable as written digits (top-3 boxes, code grids): 1..9. */
static int digit_codes(const omr_question_t *q, int *codes)
{
    int n = 0;
    for (int i = 0; i < q->n_options; i++)
        if (q->options[i].code >= 0 && q->options[i].code <= 9)
            codes[n++] = q->options[i].code;
    return n;
}

/* ------------------------------------------------------- raw answers */

static void draw_single(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    /* Earlier options a little likelier, as in most survey data. */
    double w[64];
    int n = q->n_options < 64 ? q->n_options : 64;
    for (int i = 0; i < n; i++)
        w[i] = 1.0 / (1.0 + 0.15 * i) * (0.5 + sim_rng_uniform(rng));
    int k = pick_weighted(rng, w, n);
    const omr_option_t *o = &q->options[k];
    int ri = option_region(r->form, q, o->code);
    if (ri >= 0)
        cell_w(r, slot, q->page, ri)->value = 1;
    if (o->other)
        fill_other_text(r, rng, slot, q, o->code);
    /* A few mark a second option (undecided between two, or both true for
     * them): a rule break the truth keeps, for review; the column stays
     * empty (column_value). On a mark sheet from this question's stream, as
     * it always was; on circled forms from a stream of its own, so that
     * adding it left every other answer and doubt of the corpus as it was. */
    if (n < 2)
        return;
    sim_rng_t own, *two = rng;
    if (!question_has_bubbles(r->form, q)) {
        sim_fill_rng(r, &own, -1, slot, (int)(q - r->form->questions), SIM_P_TWO_MARKS);
        two = &own;
    }
    if (sim_rng_chance(two, r->profile.p_two_marks)) {
        int k2 = (k + sim_rng_range(two, 1, n - 1)) % n;
        int r2 = option_region(r->form, q, q->options[k2].code);
        if (r2 >= 0)
            cell_w(r, slot, q->page, r2)->value = 1;
    }
}

/* multi / ticklist: 1-4 options (tick lists: each option with 30 %), or one
 * exclusive option alone. */
static void draw_multi(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    int normal[128], excl[16], nn = 0, ne = 0;
    for (int i = 0; i < q->n_options && i < 128; i++) {
        if (q->options[i].exclusive) {
            if (ne < 16)
                excl[ne++] = i;
        } else
            normal[nn++] = i;
    }
    int chosen[128], nc = 0;
    if (ne > 0 && (nn == 0 || sim_rng_chance(rng, 0.12))) {
        chosen[nc++] = excl[sim_rng_range(rng, 0, ne - 1)];
        /* a few of the mixed population also circle another option (a rule break to review) */
        if (nn > 0 && sim_rng_chance(rng, r->profile.p_break_exclusive))
            chosen[nc++] = normal[sim_rng_range(rng, 0, nn - 1)];
    } else if (nn > 0) {
        int k;
        if (q->kind == OMR_KIND_TICKLIST) {
            k = 0;
            for (int i = 0; i < nn; i++)
                k += sim_rng_chance(rng, 0.3);
            if (k < 1)
                k = 1;
        } else {
            static const double wk[4] = {0.35, 0.3, 0.2, 0.15};
            k = 1 + pick_weighted(rng, wk, 4);
        }
        if (k > nn)
            k = nn;
        shuffle(rng, normal, nn);
        for (int i = 0; i < k; i++)
            chosen[nc++] = normal[i];
    }
    for (int i = 0; i < nc; i++) {
        const omr_option_t *o = &q->options[chosen[i]];
        int ri = option_region(r->form, q, o->code);
        if (ri >= 0)
            cell_w(r, slot, q->page, ri)->value = 1;
        if (o->other)
            fill_other_text(r, rng, slot, q, o->code);
    }
}

/* top3: 1-3 distinct option codes (single digits) in boxes 1.., no gaps. */
static void draw_top3(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    int codes[64];
    int n = digit_codes(q, codes);
    if (n == 0)
        return;
    static const double wk[3] = {0.12, 0.18, 0.7};
    int k = 1 + pick_weighted(rng, wk, 3);
    if (k > n)
        k = n;
    shuffle(rng, codes, n);
    for (int b = 1; b <= k; b++) {
        int ri = region_for(r->form, q, OMR_REGION_DIGIT, b, NULL);
        if (ri < 0)
            continue;
        cell_w(r, slot, q->page, ri)->value = (int16_t)codes[b - 1];
        for (int i = 0; i < q->n_options; i++)
            if (q->options[i].code == codes[b - 1] && q->options[i].other)
                fill_other_text(r, rng, slot, q, codes[b - 1]);
    }
}

/* The bubbles of position b (1..N) of a number printed as bubble columns
 * (box N digit=D bubble=…: CHECK regions, row "N", code D), as region
 * indices into ris[10]; returns their count. */
static int position_bubbles(const omr_form_t *f, const omr_question_t *q, int b, int *ris)
{
    const omr_page_t *pg = &f->pages[q->page];
    char row[12];
    snprintf(row, sizeof row, "%d", b);
    int n = 0;
    for (int i = q->first_region; i < q->first_region + q->n_regions && n < 10; i++)
        if (sim_is_bubble(&pg->regions[i]) && !strcmp(pg->regions[i].row, row))
            ris[n++] = i;
    return n;
}

/* A number printed as bubble columns: mostly an ID or a roll number, whose
 * length is fixed, so 85 % use every position (all of them on a `full`
 * number), leading zeros and all; the rest write a shorter number (1..N-1
 * digits, no leading zero) right-aligned (70 %) or from position 1, as
 * draw_number does for written boxes. In each
 * used position the bubble of its digit; per position p_two_marks fill a
 * second one (undecided between two digits: a rule break the truth keeps,
 * as for a grid1 row of bubbles). */
static void draw_number_bubbles(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    int n = q->n_boxes;
    if (n < 1)
        return;
    int k = n, from = 1;
    if (n > 1 && !q->full && !sim_rng_chance(rng, 0.85)) { /* full: every box, by the form's rule */
        k = sim_rng_range(rng, 1, n - 1);
        from = sim_rng_chance(rng, 0.7) ? n - k + 1 : 1;
    }
    for (int b = from; b < from + k; b++) {
        int ris[10], m = position_bubbles(r->form, q, b, ris);
        if (m == 0)
            continue;
        int j = sim_rng_range(rng, 0, m - 1);
        /* a shorter number starts with a digit other than 0 */
        if (k < n && b == from && k > 1 && r->form->pages[q->page].regions[ris[j]].code == 0 && m > 1)
            j = (j + sim_rng_range(rng, 1, m - 1)) % m;
        cell_w(r, slot, q->page, ris[j])->value = 1;
        if (m > 1 && sim_rng_chance(rng, r->profile.p_two_marks))
            cell_w(r, slot, q->page, ris[(j + sim_rng_range(rng, 1, m - 1)) % m])->value = 1;
    }
}

/* number: 1..N digits, no leading zero, in the rightmost boxes (most
 * respondents right-align an amount) or from box 1. A number printed as
 * bubble columns: draw_number_bubbles. */
static void draw_number(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    if (question_has_bubbles(r->form, q)) {
        draw_number_bubbles(r, rng, slot, q);
        return;
    }
    int n = 0;
    for (int b = 1; b <= OMR_NUMBER_MAX_BOXES; b++)
        if (region_for(r->form, q, OMR_REGION_DIGIT, b, NULL) >= 0)
            n = b;
    if (n == 0)
        return;
    int k = sim_rng_range(rng, 1, n), from = sim_rng_chance(rng, 0.7) ? n - k + 1 : 1;
    for (int b = from; b < from + k; b++) {
        int ri = region_for(r->form, q, OMR_REGION_DIGIT, b, NULL);
        if (ri >= 0)
            cell_w(r, slot, q->page, ri)->value = (int16_t)sim_rng_range(rng, b == from && k > 1 ? 1 : 0, 9);
    }
}

/* grid1, gridn, codegrid: row by row; some rows left blank. */
static void draw_grid(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    int codes[64];
    int nd = digit_codes(q, codes);
    double p_row_blank = q->kind == OMR_KIND_CODEGRID ? 0.2 : r->profile.p_blank_question * 0.5;
    for (int ro = 0; ro < q->n_rows; ro++) {
        const char *row = q->rows[ro].id;
        if (q->n_cols == 0 || sim_rng_chance(rng, p_row_blank))
            continue;
        if (q->kind == OMR_KIND_GRID1) {
            int k = sim_rng_range(rng, 0, q->n_cols - 1);
            int ri = region_for(r->form, q, OMR_REGION_CHECK, q->cols[k].code, row);
            if (ri >= 0)
                cell_w(r, slot, q->page, ri)->value = 1;
            /* a second bubble in the row, as in single questions (draw_single) */
            if (ri >= 0 && q->n_cols > 1 && sim_is_bubble(&r->form->pages[q->page].regions[ri]) &&
                sim_rng_chance(rng, r->profile.p_two_marks)) {
                int k2 = (k + sim_rng_range(rng, 1, q->n_cols - 1)) % q->n_cols;
                int r2 = region_for(r->form, q, OMR_REGION_CHECK, q->cols[k2].code, row);
                if (r2 >= 0)
                    cell_w(r, slot, q->page, r2)->value = 1;
            }
        } else if (q->kind == OMR_KIND_GRIDN) {
            int any = 0;
            /* An exclusive column ("当該被害はない") is ticked alone; a few
             * respondents of the mixed population tick it with others anyway
             * (the conflict the coder must send to review). */
            int ex = -1;
            for (int k = 0; k < q->n_cols; k++)
                if (q->cols[k].exclusive)
                    ex = k;
            if (ex >= 0 && sim_rng_chance(rng, 0.15)) {
                int ri = region_for(r->form, q, OMR_REGION_CHECK, q->cols[ex].code, row);
                if (ri >= 0)
                    cell_w(r, slot, q->page, ri)->value = 1;
                if (!sim_rng_chance(rng, r->profile.p_break_exclusive))
                    continue;
            }
            for (int k = 0; k < q->n_cols; k++) {
                if (k == ex || !sim_rng_chance(rng, 0.3))
                    continue;
                int ri = region_for(r->form, q, OMR_REGION_CHECK, q->cols[k].code, row);
                if (ri >= 0) {
                    cell_w(r, slot, q->page, ri)->value = 1;
                    any = 1;
                }
            }
            if (!any) {
                int k = sim_rng_range(rng, 0, q->n_cols - 1);
                if (k == ex)
                    k = (k + 1) % q->n_cols;
                int ri = region_for(r->form, q, OMR_REGION_CHECK, q->cols[k].code, row);
                if (ri >= 0)
                    cell_w(r, slot, q->page, ri)->value = 1;
            }
        } else if (nd > 0) { /* codegrid: a code in every cell of the row */
            for (int k = 0; k < q->n_cols; k++) {
                int ri = region_for(r->form, q, OMR_REGION_DIGIT, q->cols[k].code, row);
                if (ri >= 0)
                    cell_w(r, slot, q->page, ri)->value = (int16_t)codes[sim_rng_range(rng, 0, nd - 1)];
            }
        }
    }
}

static void draw_text(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    const omr_page_t *pg = &r->form->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
        if (pg->regions[i].kind == OMR_REGION_TEXT && pg->regions[i].code == 0)
            cell_w(r, slot, q->page, i)->value = (int16_t)text_length(rng, pg->regions[i].box);
}

/* Clear every cell of a question (blank or skipped). */
static void clear_question(sim_respondent_t *r, int slot, const omr_question_t *q)
{
    const omr_page_t *pg = &r->form->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
        sim_cell_t *c = cell_w(r, slot, q->page, i);
        c->value = pg->regions[i].kind == OMR_REGION_DIGIT ? -1 : 0;
        c->doubt = SIM_DOUBT_NONE;
    }
}

/* Make an answered question doubtful on purpose: faint pencil for all its
 * marks or digits, or (mark kinds) an alternative that was erased or struck
 * out before the real answer was made (coding.md: the real answer stands). */
static void draw_doubt(sim_respondent_t *r, sim_rng_t *rng, int slot, const omr_question_t *q)
{
    const omr_page_t *pg = &r->form->pages[q->page];
    /* a number in bubbles is marked like a grid1 (a position is a row) */
    int marks = q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST ||
                q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_GRIDN ||
                (q->kind == OMR_KIND_NUMBER && question_has_bubbles(r->form, q));
    if (q->kind == OMR_KIND_TEXT)
        return;
    if (!marks || sim_rng_chance(rng, 0.4)) {
        for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
            sim_cell_t *c = cell_w(r, slot, q->page, i);
            omr_region_kind_t k = pg->regions[i].kind;
            if ((is_mark(k) && c->value == 1) || (k == OMR_REGION_DIGIT && c->value >= 0))
                c->doubt = SIM_DOUBT_FAINT;
        }
        return;
    }
    /* Candidates: unmarked targets; in grids only in rows that hold a mark. */
    int cand[512], n = 0;
    for (int i = q->first_region; i < q->first_region + q->n_regions && n < 512; i++) {
        const omr_region_t *g = &pg->regions[i];
        if (!is_mark(g->kind) || cell_w(r, slot, q->page, i)->value != 0)
            continue;
        if (g->row[0]) {
            int row_marked = 0;
            for (int j = q->first_region; j < q->first_region + q->n_regions; j++)
                if (!strcmp(pg->regions[j].row, g->row) && is_mark(pg->regions[j].kind) &&
                    cell_w(r, slot, q->page, j)->value == 1)
                    row_marked = 1;
            if (!row_marked)
                continue;
        }
        cand[n++] = i;
    }
    if (n == 0)
        return;
    static const double w[3] = {0.4, 0.15, 0.45};
    static const uint8_t kinds[3] = {SIM_DOUBT_ERASED, SIM_DOUBT_ERASED_CLEAN, SIM_DOUBT_CROSSOUT};
    cell_w(r, slot, q->page, cand[sim_rng_range(rng, 0, n - 1)])->doubt = kinds[pick_weighted(rng, w, 3)];
}

/* The raw answer of question qi in slot: as if it applied. */
static void draw_question(sim_respondent_t *r, int slot, int qi)
{
    const omr_question_t *q = &r->form->questions[qi];
    sim_rng_t rng;
    sim_fill_rng(r, &rng, -1, slot, qi, SIM_P_ANSWERS);
    clear_question(r, slot, q);
    if (sim_rng_chance(&rng, r->profile.p_blank_question)) {
        *qstate_w(r, slot, qi) = SIM_Q_BLANK;
        return;
    }
    switch (q->kind) {
    case OMR_KIND_SINGLE: draw_single(r, &rng, slot, q); break;
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST: draw_multi(r, &rng, slot, q); break;
    case OMR_KIND_TOP3: draw_top3(r, &rng, slot, q); break;
    case OMR_KIND_GRID1:
    case OMR_KIND_GRIDN:
    case OMR_KIND_CODEGRID: draw_grid(r, &rng, slot, q); break;
    case OMR_KIND_TEXT: draw_text(r, &rng, slot, q); break;
    case OMR_KIND_NUMBER: draw_number(r, &rng, slot, q); break;
    case OMR_KIND_COUNT: break;
    }
    /* A text question left empty (30 %) is blank: nothing was written. */
    int any = 0;
    const omr_page_t *pg = &r->form->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
        const sim_cell_t *c = cell_w(r, slot, q->page, i);
        if (pg->regions[i].kind == OMR_REGION_DIGIT ? c->value >= 0 : c->value > 0)
            any = 1;
    }
    if (q->kind == OMR_KIND_TEXT && sim_rng_chance(&rng, 0.3))
        any = 0;
    if (!any) {
        clear_question(r, slot, q);
        *qstate_w(r, slot, qi) = SIM_Q_BLANK;
        return;
    }
    *qstate_w(r, slot, qi) = SIM_Q_ANSWERED;
    if (!r->profile.clean && sim_rng_chance(&rng, r->profile.p_doubtful))
        draw_doubt(r, &rng, slot, q);
}

/* ------------------------------------------------------------- routing */

/* Does question qi (slot) hold one of the codes (FORMAT.md `when`)? Only
 * answered cells count; faint marks do (they are the answer), erased and
 * struck-out ones do not (their value is 0). */
static int holds(const sim_respondent_t *r, int slot, int qi, uint64_t codes)
{
    const omr_question_t *q = &r->form->questions[qi];
    uint8_t st = r->qstate[(size_t)slot * (size_t)r->form->n_questions + (size_t)qi];
    if (st != SIM_Q_ANSWERED && st != SIM_Q_BROKEN)
        return 0;
    const omr_page_t *pg = &r->form->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
        const omr_region_t *g = &pg->regions[i];
        const sim_cell_t *c = sim_cell(r, slot, q->page, i);
        int v = -1;
        if (is_mark(g->kind) && c->value == 1)
            v = g->code;
        else if (g->kind == OMR_REGION_DIGIT && c->value >= 0)
            v = c->value;
        if (v >= 1 && v <= 63 && (codes >> v & 1))
            return 1;
    }
    return 0;
}

/* Apply the routing of question qi in slot, after its source (recursively,
 * so a routing that points forward works too). done[] marks resolved
 * questions of this slot; a cycle (refused by the loader anyway) is cut by
 * treating the question in progress as resolved. */
static void resolve(sim_respondent_t *r, int slot, int qi, uint8_t *done)
{
    if (done[qi])
        return;
    done[qi] = 1;
    const omr_question_t *q = &r->form->questions[qi];
    int src = q->route_question;
    if (src < 0 || src >= r->form->n_questions)
        return;
    const omr_question_t *sq = &r->form->questions[src];
    /* The source's answers live in slot 0 (respondent part) or in the same
     * case; a respondent-part question routed by a case question looks at case 1. */
    int sslot = sq->is_case ? (slot > 0 ? slot : 1) : 0;
    if (sslot == slot)
        resolve(r, slot, src, done);
    if (holds(r, sslot, src, q->route_codes))
        return;
    uint8_t *st = qstate_w(r, slot, qi);
    sim_rng_t rng;
    sim_fill_rng(r, &rng, -1, slot, qi, SIM_P_ROUTE);
    if (*st == SIM_Q_ANSWERED && sim_rng_chance(&rng, r->profile.p_break_routing)) {
        *st = SIM_Q_BROKEN;
        return;
    }
    /* Skipped: nothing marked there, -1 in every column (coding.md). */
    clear_question(r, slot, q);
    *st = SIM_Q_SKIPPED;
}

/* ------------------------------------------------------------- packet */

static int push_sheet(sim_sheet_t **a, int *n, int *cap, int page, int case_number, int dup)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        sim_sheet_t *na = realloc(*a, (size_t)nc * sizeof *na);
        if (!na)
            return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[*n].page_index = page;
    (*a)[*n].case_number = case_number;
    (*a)[*n].duplicate = dup;
    (*n)++;
    return 0;
}

/* Build the packet: pages in printed order; the block of case pages once per
 * case (the photocopies follow each other, case 1 first); a sheet fed twice
 * comes right after itself (70 %) or at the end (30 %, re-fed by the
 * operator); a missing sheet is left out and its questions set MISSING. */
static int build_packet(sim_respondent_t *r)
{
    const omr_form_t *f = r->form;
    sim_rng_t rng;
    sim_fill_rng(r, &rng, -1, 0, 0, SIM_P_PACKET);
    int order_n = 0, cap = 0;
    sim_sheet_t *order = NULL;
    int case_done = 0;
    for (int pi = 0; pi < f->n_pages; pi++) {
        if (!f->pages[pi].is_case) {
            if (push_sheet(&order, &order_n, &cap, pi, 0, 0))
                goto oom;
        } else if (!case_done) {
            case_done = 1;
            for (int c = 1; c <= r->n_cases; c++)
                for (int pj = 0; pj < f->n_pages; pj++)
                    if (f->pages[pj].is_case && push_sheet(&order, &order_n, &cap, pj, c, 0))
                        goto oom;
        }
    }
    sim_sheet_t *out = NULL, *late = NULL;
    int n = 0, ocap = 0, nlate = 0, lcap = 0, nmissing = 0;
    for (int i = 0; i < order_n; i++) {
        sim_sheet_t s = order[i];
        /* Never lose the whole packet: at most a third of it goes missing. */
        if (sim_rng_chance(&rng, r->profile.p_missing_page) && (nmissing + 1) * 3 <= order_n) {
            nmissing++;
            r->missing[(size_t)s.case_number * (size_t)f->n_pages + (size_t)s.page_index] = 1;
            continue;
        }
        if (push_sheet(&out, &n, &ocap, s.page_index, s.case_number, 0))
            goto oom2;
        if (sim_rng_chance(&rng, r->profile.p_duplicate_page)) {
            int ok = sim_rng_chance(&rng, 0.7) ? push_sheet(&out, &n, &ocap, s.page_index, s.case_number, 1)
                                               : push_sheet(&late, &nlate, &lcap, s.page_index, s.case_number, 1);
            if (ok)
                goto oom2;
        }
    }
    for (int i = 0; i < nlate; i++)
        if (push_sheet(&out, &n, &ocap, late[i].page_index, late[i].case_number, 1))
            goto oom2;
    free(late);
    free(order);
    r->sheets = out;
    r->n_sheets = n;
    /* Questions on missing sheets: empty. */
    for (int qi = 0; qi < f->n_questions; qi++) {
        const omr_question_t *q = &f->questions[qi];
        for (int slot = 0; slot < r->n_slots; slot++) {
            if ((slot > 0) != (q->is_case != 0))
                continue;
            if (r->missing[(size_t)slot * (size_t)f->n_pages + (size_t)q->page])
                *qstate_w(r, slot, qi) = SIM_Q_MISSING;
        }
    }
    return 0;
oom2:
    free(out);
    free(late);
oom:
    free(order);
    return -1;
}

/* ------------------------------------------------------------- traits */

/* A pen of the mixed population: ballpoint, felt pen or pencil by the
 * weights wpen[3]. */
static void draw_pen(sim_rng_t *rng, const double *wpen, sim_ink_t *k)
{
    switch (pick_weighted(rng, wpen, 3)) {
    case 0:
        k->width_mm = 0.3 + 0.3 * sim_rng_uniform(rng);
        k->level = 10 + 60 * sim_rng_uniform(rng);
        k->opacity = 0.88 + 0.1 * sim_rng_uniform(rng);
        k->grain = 0;
        break;
    case 1:
        k->width_mm = 0.5 + 0.3 * sim_rng_uniform(rng);
        k->level = 40 * sim_rng_uniform(rng);
        k->opacity = 0.95;
        k->grain = 0;
        break;
    default: /* an ordinary (not faint) pencil: still clearly a mark */
        k->width_mm = 0.35 + 0.2 * sim_rng_uniform(rng);
        k->level = 50 + 50 * sim_rng_uniform(rng);
        k->opacity = 0.85 + 0.1 * sim_rng_uniform(rng);
        k->grain = 1;
        break;
    }
}

static int form_has_bubbles(const omr_form_t *f)
{
    for (int pi = 0; pi < f->n_pages; pi++)
        for (int i = 0; i < f->pages[pi].n_regions; i++)
            if (sim_is_bubble(&f->pages[pi].regions[i]))
                return 1;
    return 0;
}

/* The habits of a respondent to a mark sheet, from a stream of their own (so
 * the other forms' respondents stay as they were): how they mark a bubble,
 * and their pen. Such sheets ask for a pencil and many follow: pencil 40 %,
 * ballpoint 45 %, felt pen 15 %. Most fill every bubble; 3 % of marks are
 * a tick, 2 % a cross, and 5 % of respondents favour one of those (x10).
 * Guesses, like the rest of the population, not measurements. */
static void draw_bubble_traits(sim_respondent_t *r)
{
    sim_rng_t rng;
    sim_fill_rng(r, &rng, -1, 0, 1, SIM_P_TRAITS);
    static const double bs_mixed[SIM_BS_COUNT] = {95, 3, 2};
    for (int i = 0; i < SIM_BS_COUNT; i++)
        r->w_bubble_style[i] = r->profile.clean ? (i == SIM_BS_FILL) : bs_mixed[i];
    if (r->profile.clean)
        return;
    if (sim_rng_chance(&rng, 0.05))
        r->w_bubble_style[sim_rng_chance(&rng, 0.6) ? SIM_BS_TICK : SIM_BS_CROSS] *= 10;
    static const double wpen[3] = {0.45, 0.15, 0.4};
    draw_pen(&rng, wpen, &r->ink);
}

static void draw_traits(sim_respondent_t *r)
{
    sim_rng_t rng;
    sim_fill_rng(r, &rng, -1, 0, 0, SIM_P_TRAITS);
    sim_ink_t *k = &r->ink;
    if (r->profile.clean) {
        /* Dark ballpoint or felt pen. */
        k->width_mm = 0.4 + 0.3 * sim_rng_uniform(&rng);
        k->level = 35 * sim_rng_uniform(&rng);
        k->opacity = 0.97;
        k->grain = 0;
        r->care = 0.85 + 0.15 * sim_rng_uniform(&rng);
    } else {
        static const double wpen[3] = {0.65, 0.2, 0.15}; /* ballpoint, felt pen, pencil */
        draw_pen(&rng, wpen, k);
        r->care = sim_rng_uniform(&rng);
    }
    /* Mark habits: shares over the styles, then one style favoured by a
     * third of the respondents (people are consistent in how they mark). */
    static const double cs_mixed[SIM_CS_COUNT] = {50, 10, 8, 6, 5, 4, 3, 5, 2, 2, 1, 4};
    static const double ks_mixed[SIM_KS_COUNT] = {60, 15, 15, 10};
    for (int i = 0; i < SIM_CS_COUNT; i++)
        r->w_circle_style[i] = r->profile.clean ? (i == SIM_CS_CIRCLE) : cs_mixed[i];
    for (int i = 0; i < SIM_KS_COUNT; i++)
        r->w_check_style[i] = r->profile.clean ? (i == SIM_KS_TICK) : ks_mixed[i];
    if (!r->profile.clean && sim_rng_chance(&rng, 0.33)) {
        r->w_circle_style[pick_weighted(&rng, cs_mixed, SIM_CS_COUNT)] *= 8;
        r->w_check_style[pick_weighted(&rng, ks_mixed, SIM_KS_COUNT)] *= 5;
    }
    /* On a form where a filled box cancels the choice (survey filled=cancel,
     * queXF's convention) nobody fills a box to choose it. */
    if (r->survey && r->survey->filled_cancels)
        r->w_check_style[SIM_KS_FILL] = 0;
    r->n_cases = 1;
    if (sim_rng_chance(&rng, r->profile.p_extra_cases))
        r->n_cases = sim_rng_range(&rng, 2, 3);
    if (form_has_bubbles(r->form))
        draw_bubble_traits(r);
}

/* ------------------------------------------------------------- public */

sim_respondent_t *sim_respondent_new(const omr_survey_t *survey, const omr_form_t *form,
                                     const char *respondent_id, uint64_t seed,
                                     const sim_profile_t *profile)
{
    if (!form || !respondent_id || !profile)
        return NULL;
    sim_respondent_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->survey = survey;
    r->form = form;
    snprintf(r->id, sizeof r->id, "%s", respondent_id);
    r->seed = seed;
    r->key = hash_id(r->id);
    r->profile = *profile;
    if (survey && survey->ids_by_order) {
        /* Sheets without a barcode are read in the order they are fed
         * (FORMAT.md identify=order): a sheet fed twice or left out shifts
         * every later page and respondent, which no reader can undo. The
         * office feeds such forms one complete copy per file, so neither
         * happens here; the scan side feeds them upright too (main.c). */
        r->profile.p_duplicate_page = 0;
        r->profile.p_missing_page = 0;
    }
    draw_traits(r);
    r->n_slots = 1 + r->n_cases;
    r->page_base = calloc((size_t)form->n_pages + 1, sizeof *r->page_base);
    if (!r->page_base)
        goto fail;
    for (int pi = 0; pi < form->n_pages; pi++)
        r->page_base[pi + 1] = r->page_base[pi] + form->pages[pi].n_regions;
    r->n_cells = r->page_base[form->n_pages];
    r->cells = calloc((size_t)r->n_slots * (size_t)(r->n_cells + 1), sizeof *r->cells);
    r->qstate = calloc((size_t)r->n_slots * (size_t)(form->n_questions + 1), 1);
    r->missing = calloc((size_t)r->n_slots * (size_t)(form->n_pages + 1), 1);
    uint8_t *done = calloc((size_t)form->n_questions + 1, 1);
    if (!r->cells || !r->qstate || !r->missing || !done) {
        free(done);
        goto fail;
    }
    for (int slot = 0; slot < r->n_slots; slot++)
        for (int qi = 0; qi < form->n_questions; qi++)
            if ((slot > 0) == (form->questions[qi].is_case != 0))
                draw_question(r, slot, qi);
    /* Respondent part first: case routing may look at it. */
    for (int slot = 0; slot < r->n_slots; slot++) {
        memset(done, 0, (size_t)form->n_questions);
        for (int qi = 0; qi < form->n_questions; qi++)
            if ((slot > 0) == (form->questions[qi].is_case != 0))
                resolve(r, slot, qi, done);
    }
    free(done);
    if (build_packet(r))
        goto fail;
    return r;
fail:
    sim_respondent_free(r);
    return NULL;
}

void sim_respondent_free(sim_respondent_t *r)
{
    if (!r)
        return;
    free(r->page_base);
    free(r->cells);
    free(r->qstate);
    free(r->missing);
    free(r->sheets);
    free(r);
}

int sim_respondent_sheets(const sim_respondent_t *r, sim_sheet_t **psheets)
{
    *psheets = NULL;
    if (!r || r->n_sheets == 0)
        return 0;
    sim_sheet_t *s = malloc((size_t)r->n_sheets * sizeof *s);
    if (!s)
        return 0;
    memcpy(s, r->sheets, (size_t)r->n_sheets * sizeof *s);
    *psheets = s;
    return r->n_sheets;
}

int sim_respondent_missing(const sim_respondent_t *r, sim_sheet_t **psheets)
{
    *psheets = NULL;
    if (!r)
        return 0;
    int n = 0, cap = 0;
    sim_sheet_t *a = NULL;
    for (int slot = 0; slot < r->n_slots; slot++)
        for (int pi = 0; pi < r->form->n_pages; pi++)
            if (r->missing[(size_t)slot * (size_t)r->form->n_pages + (size_t)pi] &&
                push_sheet(&a, &n, &cap, pi, slot, 0)) {
                free(a);
                return 0;
            }
    *psheets = a;
    return n;
}

/* ------------------------------------------------------------- CSV */

/* Write one field, quoted per RFC 4180 when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The value of a number printed as bubble columns: the digit of each
 * position's marked bubble, positions 1..N left to right (unused ones give
 * nothing: the number is contiguous, draw_number_bubbles). A position with
 * two bubbles marked (a rule break) has no one true digit: the column stays
 * empty, as a single question's with two marks. */
static void number_bubbles_value(const sim_respondent_t *r, int slot, const omr_question_t *q, char *buf, size_t n)
{
    const omr_page_t *pg = &r->form->pages[q->page];
    size_t len = 0;
    buf[0] = '\0';
    for (int b = 1; b <= q->n_boxes; b++) {
        int ris[10], m = position_bubbles(r->form, q, b, ris), digit = -1, marked = 0;
        for (int j = 0; j < m; j++)
            if (sim_cell(r, slot, q->page, ris[j])->value == 1) {
                digit = pg->regions[ris[j]].code;
                marked++;
            }
        if (marked > 1) {
            buf[0] = '\0';
            return;
        }
        if (marked && len + 1 < n) {
            buf[len++] = (char)('0' + digit % 10);
            buf[len] = '\0';
        }
    }
}

/* The export value of one column (coding.md) into buf. */
static void column_value(const sim_respondent_t *r, int slot, const omr_column_t *col, char *buf, size_t n)
{
    const omr_form_t *f = r->form;
    const omr_question_t *q = &f->questions[col->question];
    const omr_page_t *pg = &f->pages[q->page];
    uint8_t st = r->qstate[(size_t)slot * (size_t)f->n_questions + (size_t)col->question];
    buf[0] = '\0';
    if (st == SIM_Q_SKIPPED) {
        snprintf(buf, n, "-1");
        return;
    }
    if (st != SIM_Q_ANSWERED && st != SIM_Q_BROKEN)
        return;
    if (col->is_text) {
        if (col->region >= 0) {
            int nc = sim_cell(r, slot, q->page, col->region)->value;
            if (nc > 0)
                snprintf(buf, n, "scribble:%d chars", nc);
        }
        return;
    }
    switch (q->kind) {
    case OMR_KIND_SINGLE:
    case OMR_KIND_GRID1:
        /* Fed by several regions: the code of the marked one (of this row).
         * Two marked (a rule break, draw_single): no one answer is true,
         * the column stays empty, so no reader can export one as certain. */
        for (int i = q->first_region, marked = 0; i < q->first_region + q->n_regions; i++)
            if (is_mark(pg->regions[i].kind) && !strcmp(pg->regions[i].var, col->name) &&
                sim_cell(r, slot, q->page, i)->value == 1) {
                if (marked++) {
                    buf[0] = '\0';
                    return;
                }
                snprintf(buf, n, "%d", pg->regions[i].code);
            }
        return;
    case OMR_KIND_GRIDN: {
        if (col->region < 0)
            return;
        /* A row with no tick at all is empty in all its columns, not 0. */
        const char *row = pg->regions[col->region].row;
        int any = 0;
        for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
            if (!strcmp(pg->regions[i].row, row) && sim_cell(r, slot, q->page, i)->value == 1)
                any = 1;
        if (any)
            snprintf(buf, n, "%d", sim_cell(r, slot, q->page, col->region)->value == 1);
        return;
    }
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST:
        if (col->region >= 0)
            snprintf(buf, n, "%d", sim_cell(r, slot, q->page, col->region)->value == 1);
        return;
    case OMR_KIND_TOP3:
    case OMR_KIND_CODEGRID:
        if (col->region >= 0 && sim_cell(r, slot, q->page, col->region)->value >= 0)
            snprintf(buf, n, "%d", sim_cell(r, slot, q->page, col->region)->value);
        return;
    case OMR_KIND_NUMBER: { /* the digits of its boxes, left to right */
        if (question_has_bubbles(f, q)) {
            number_bubbles_value(r, slot, q, buf, n);
            return;
        }
        size_t len = 0;
        for (int b = 1; b <= OMR_NUMBER_MAX_BOXES && len + 1 < n; b++)
            for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
                if (pg->regions[i].kind == OMR_REGION_DIGIT && pg->regions[i].code == b &&
                    sim_cell(r, slot, q->page, i)->value >= 0 && len + 1 < n) {
                    buf[len++] = (char)('0' + sim_cell(r, slot, q->page, i)->value % 10);
                    buf[len] = 0;
                }
        return;
    }
    case OMR_KIND_TEXT:
    case OMR_KIND_COUNT:
        return;
    }
}

void sim_respondent_write_answers(const sim_respondent_t *r, FILE *main_csv, FILE *cases_csv)
{
    if (!r)
        return;
    char buf[64], cbuf[16];
    for (int part = 0; part < 2; part++) {
        FILE *out = part ? cases_csv : main_csv;
        if (!out)
            continue;
        omr_column_t *cols = NULL;
        int nc = omr_template_columns(r->form, part, &cols);
        if (nc < 0)
            continue;
        int n_rows = part ? r->n_cases : 1;
        if (part && nc == 0)
            n_rows = 0;
        for (int c = 1; c <= n_rows; c++) {
            int slot = part ? c : 0;
            csv_field(out, r->id);
            if (part) {
                snprintf(cbuf, sizeof cbuf, ",%d", c);
                fputs(cbuf, out);
            }
            for (int i = 0; i < nc; i++) {
                column_value(r, slot, &cols[i], buf, sizeof buf);
                fputc(',', out);
                csv_field(out, buf);
            }
            fputc('\n', out);
        }
        free(cols);
    }
}

void sim_write_answer_headers(const omr_form_t *form, FILE *main_csv, FILE *cases_csv)
{
    for (int part = 0; part < 2; part++) {
        FILE *out = part ? cases_csv : main_csv;
        if (!out)
            continue;
        omr_column_t *cols = NULL;
        int nc = omr_template_columns(form, part, &cols);
        fputs(part ? "respondent,case" : "respondent", out);
        for (int i = 0; i < nc; i++) {
            fputc(',', out);
            csv_field(out, cols[i].name);
        }
        fputc('\n', out);
        free(cols);
    }
}
