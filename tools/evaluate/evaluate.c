/* evaluate.c -- `build/evaluate`: score a scanned database against the
 * simulator's ground truth (make accuracy).
 *
 *   evaluate --db FILE --corpus DIR [--template DIR] [--quiet]
 *
 * The truth comes from the simulator (tools/simulate), never from the code
 * under test: DIR/truth/pages.csv says which sheet each scanned page is,
 * cells.csv the truth of every region, <form>.csv / <form>_cases.csv the
 * answers. The database is read with plain SQL (schema in omr/store.c).
 *
 * Joins: a stored page is matched to its truth sheet by (file, page index in
 * the file); a stored region to its truth cell through the template (region
 * index -> var, and `var:code` for single choice and grid1 cells and the
 * bubbles of a number printed as bubble columns, as the simulator writes
 * them).
 *
 * A number in bubbles (box N digit=D bubble=…) is judged bubble by bubble as
 * mark cells; a position (var <base>_dN) is its unit as a grid1 row is, two
 * bubbles marked in one a rule the respondent broke; the coder's one review
 * item for the number (var <base>) flags every bubble of it. Its value is
 * judged with the others on the `values:` line and again on its own line,
 * `numbers in bubbles:`.
 *
 * Mark cells (circles and checkboxes) are judged one by one:
 *   wrong_accepted  read marked/blank, nobody asked to check, and the truth says
 *                   the opposite (the worst failure);
 *   flagged         the cell is doubtful, or its question (same respondent and
 *                   case) has a review item, or its page is a page-level item;
 *   needless_flags  flagged although the reading was right and nothing about
 *                   the question called for a person: no doubtful truth cell,
 *                   no misread cell, no rule broken in the truth (two marks,
 *                   exclusive with others, routing, "other" text).
 *   floor           cells even a perfect reader must flag: the question breaks a
 *                   rule of the marks in the truth, or a cell of the same column
 *                   (var) is doubtful in the truth. flagged can go no lower.
 * Cells whose truth is doubtful on purpose and that were accepted silently are
 * counted apart (doubtful_accepted): the issue wants them flagged, but the
 * simulator's answer for them is a judgement call.
 * Prints per condition, then written boxes and text, then values exported as
 * certain against the true answers, and last the `accuracy:` line. Lines
 * about what the survey does not have (written boxes, text fields; duplicate
 * items on a survey read by order, where a sheet fed twice is another copy)
 * are left out.
 *
 * Any survey (--template): marks may be circles, tick boxes or bubbles in
 * single and multiple choice questions. On a survey whose respondent is the
 * scanned file (identify=order, fixed page IDs) the simulator names each
 * respondent's file after their ID (<id>.tif, <id>.png), so the stored
 * respondent is the truth's; the `respondents:` line counts the sheets
 * stored under another respondent than the truth's. A bubble accepted wrong
 * "left no ink" when its fill (ink against the page's blank and filled
 * bubbles, as classify.c reads it) is within the blank bubbles' noise.
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "classify.h"
#include "template.h"

/* ------------------------------------------------------------ CSV reading */

typedef struct {
    char **f;
    int n, cap;
} row_t;

/* Read one RFC 4180 record; returns 0 at end of file. Fields are malloc'd. */
static int csv_read(FILE *in, row_t *row)
{
    for (int i = 0; i < row->n; i++)
        free(row->f[i]);
    row->n = 0;
    int c = fgetc(in);
    if (c == EOF)
        return 0;
    size_t len = 0, cap = 64;
    char *buf = malloc(cap);
    int quoted = 0;
    for (;; c = fgetc(in)) {
        int end_field = 0, end_row = 0;
        if (c == EOF) {
            end_field = end_row = 1;
        } else if (quoted) {
            if (c == '"') {
                int d = fgetc(in);
                if (d == '"')
                    goto add;
                quoted = 0;
                ungetc(d, in);
                continue;
            }
            goto add;
        } else if (c == '"' && len == 0) {
            quoted = 1;
            continue;
        } else if (c == ',') {
            end_field = 1;
        } else if (c == '\n') {
            end_field = end_row = 1;
        } else if (c == '\r') {
            continue;
        } else {
        add:
            if (len + 2 > cap)
                buf = realloc(buf, cap *= 2);
            buf[len++] = (char)c;
            continue;
        }
        if (end_field) {
            buf[len] = '\0';
            if (row->n == row->cap)
                row->f = realloc(row->f, (size_t)(row->cap = row->cap ? row->cap * 2 : 32) * sizeof *row->f);
            row->f[row->n++] = buf;
            buf = malloc(cap = 64);
            len = 0;
        }
        if (end_row)
            break;
    }
    free(buf);
    return 1;
}

static void row_free(row_t *row)
{
    for (int i = 0; i < row->n; i++)
        free(row->f[i]);
    free(row->f);
}

static int col_index(const row_t *header, const char *name)
{
    for (int i = 0; i < header->n; i++)
        if (!strcmp(header->f[i], name))
            return i;
    fprintf(stderr, "evaluate: truth file lacks column '%s'\n", name);
    exit(2);
}

/* ------------------------------------------------------------ small map */

/* A string -> int map (open addressing); enough for a corpus of a few
 * hundred thousand cells. Keys are copied. */
typedef struct {
    char **keys;
    int *vals;
    size_t cap, n;
} map_t;

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void map_put(map_t *m, const char *key, int val);

static void map_grow(map_t *m)
{
    map_t bigger = {calloc(m->cap ? m->cap * 2 : 1024, sizeof(char *)), calloc(m->cap ? m->cap * 2 : 1024, sizeof(int)),
                    m->cap ? m->cap * 2 : 1024, 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            map_put(&bigger, m->keys[i], m->vals[i]);
            free(m->keys[i]);
        }
    free(m->keys);
    free(m->vals);
    *m = bigger;
}

static void map_put(map_t *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) {
        m->keys[i] = strdup(key);
        m->n++;
    }
    m->vals[i] = val;
}

static int map_get(const map_t *m, const char *key, int missing)
{
    if (!m->cap)
        return missing;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key))
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return missing;
}

static void map_free(map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ------------------------------------------------------------ truth */

enum { T_BLANK, T_MARKED, T_DOUBTFUL, T_MISSING };

typedef struct {
    int state;    /* T_* */
    int value;    /* digit written, -1 none */
    char style[16]; /* the simulator's mark style (circle, tick, crossout, erased, faint, ...) */
} truth_cell_t;

typedef struct {
    char file[PATH_MAX]; /* absolute path */
    int file_page;
    char respondent[32], form[16], condition[32];
    int page, case_number, duplicate;
} truth_sheet_t;

typedef struct {
    truth_cell_t *cells;
    int n_cells;
    map_t cell_index; /* "resp|form|page|case|var" -> index in cells */
    truth_sheet_t *sheets;
    int n_sheets;
    map_t sheet_index; /* "abs path#page" -> index in sheets */
    map_t answers;     /* "form|resp|case|column" -> index in answer_values */
    char **answer_values;
    int n_answers;
} truth_t;

static FILE *open_truth(const char *corpus, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/truth/%s", corpus, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "evaluate: cannot open %s\n", path);
        exit(2);
    }
    return f;
}

static void load_cells(truth_t *t, const char *corpus)
{
    FILE *f = open_truth(corpus, "cells.csv");
    row_t h = {0}, r = {0};
    csv_read(f, &h);
    int cr = col_index(&h, "respondent"), cf = col_index(&h, "form"), cp = col_index(&h, "page"),
        cc = col_index(&h, "case"), cv = col_index(&h, "var"), cs = col_index(&h, "state"),
        cval = col_index(&h, "value");
    int cap = 0;
    while (csv_read(f, &r)) {
        if (r.n < h.n)
            continue;
        if (t->n_cells == cap)
            t->cells = realloc(t->cells, (size_t)(cap = cap ? cap * 2 : 4096) * sizeof *t->cells);
        truth_cell_t *c = &t->cells[t->n_cells];
        const char *st = r.f[cs];
        c->state = !strcmp(st, "marked") ? T_MARKED : !strcmp(st, "doubtful") ? T_DOUBTFUL
                 : !strcmp(st, "missing") ? T_MISSING : T_BLANK;
        c->value = r.f[cval][0] ? atoi(r.f[cval]) : -1;
        int cst = col_index(&h, "style");
        snprintf(c->style, sizeof c->style, "%s", r.f[cst]);
        char key[512];
        snprintf(key, sizeof key, "%s|%s|%s|%s|%s", r.f[cr], r.f[cf], r.f[cp], r.f[cc], r.f[cv]);
        map_put(&t->cell_index, key, t->n_cells++);
    }
    row_free(&h);
    row_free(&r);
    fclose(f);
}

static void load_sheets(truth_t *t, const char *corpus)
{
    FILE *f = open_truth(corpus, "pages.csv");
    row_t h = {0}, r = {0};
    csv_read(f, &h);
    int cfile = col_index(&h, "file"), cfp = col_index(&h, "file_page"), cr = col_index(&h, "respondent"),
        cf = col_index(&h, "form"), cp = col_index(&h, "page"), cc = col_index(&h, "case"),
        cd = col_index(&h, "duplicate"), ccond = col_index(&h, "condition");
    int cap = 0;
    while (csv_read(f, &r)) {
        if (r.n < h.n)
            continue;
        if (t->n_sheets == cap)
            t->sheets = realloc(t->sheets, (size_t)(cap = cap ? cap * 2 : 1024) * sizeof *t->sheets);
        truth_sheet_t *s = &t->sheets[t->n_sheets];
        char rel[PATH_MAX], abs[PATH_MAX];
        snprintf(rel, sizeof rel, "%s/%s", corpus, r.f[cfile]);
        if (!realpath(rel, abs))
            snprintf(abs, sizeof abs, "%s", rel);
        snprintf(s->file, sizeof s->file, "%s", abs);
        s->file_page = atoi(r.f[cfp]);
        snprintf(s->respondent, sizeof s->respondent, "%s", r.f[cr]);
        snprintf(s->form, sizeof s->form, "%s", r.f[cf]);
        snprintf(s->condition, sizeof s->condition, "%s", r.f[ccond]);
        s->page = atoi(r.f[cp]);
        s->case_number = atoi(r.f[cc]);
        s->duplicate = atoi(r.f[cd]);
        char key[PATH_MAX + 32];
        snprintf(key, sizeof key, "%s#%d", s->file, s->file_page);
        map_put(&t->sheet_index, key, t->n_sheets++);
    }
    row_free(&h);
    row_free(&r);
    fclose(f);
}

static void load_answers(truth_t *t, const char *corpus, const char *form, int cases)
{
    char name[64], path[4096];
    snprintf(name, sizeof name, "%s%s.csv", form, cases ? "_cases" : "");
    snprintf(path, sizeof path, "%s/truth/%s", corpus, name);
    if (access(path, F_OK) != 0)
        return; /* a corpus of some of the forms (simulate --form A) */
    FILE *f = open_truth(corpus, name);
    row_t h = {0}, r = {0};
    csv_read(f, &h);
    int first = cases ? 2 : 1;
    int cap = t->n_answers;
    while (csv_read(f, &r)) {
        if (r.n < h.n)
            continue;
        for (int i = first; i < h.n; i++) {
            if (t->n_answers >= cap)
                t->answer_values = realloc(t->answer_values, (size_t)(cap = cap ? cap * 2 : 65536) * sizeof(char *));
            char key[512];
            snprintf(key, sizeof key, "%s|%s|%s|%s", form, r.f[0], cases ? r.f[1] : "0", h.f[i]);
            t->answer_values[t->n_answers] = strdup(r.f[i]);
            map_put(&t->answers, key, t->n_answers++);
        }
    }
    row_free(&h);
    row_free(&r);
    fclose(f);
}

/* ------------------------------------------------------------ scoring */

typedef struct {
    char name[32];
    long cells, wrong_accepted, flagged, needless, doubtful_truth, doubtful_accepted, pages, pages_lost;
    long wrong_no_trace; /* wrong_accepted cells with no ink at all in the scan (ink and ink_label 0) */
    long flag_truth, flag_page, flag_caught; /* flagged for a reason; needless = the rest */
    long floor, floor_rules, floor_flagged; /* cells even a perfect reader must flag (cell_needs_review) */
} tally_t;

typedef struct {
    tally_t *t;
    int n;
} tallies_t;

static tally_t *tally_for(tallies_t *ts, const char *name)
{
    for (int i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name))
            return &ts->t[i];
    ts->t = realloc(ts->t, (size_t)(ts->n + 1) * sizeof *ts->t);
    tally_t *t = &ts->t[ts->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

/* Is r a bubble of a number printed as bubble columns (box N digit=D
 * bubble=…: a CHECK region, row "N", code D, var <base>_dN)? */
static int is_number_bubble(const omr_form_t *form, const omr_region_t *r)
{
    return r->kind == OMR_REGION_CHECK && form->questions[r->question].kind == OMR_KIND_NUMBER;
}

/* The truth key of a template region: its var, with `:code` where several
 * regions share one column (single choice, grid1, a number's position in
 * bubbles), as the simulator writes them (pen.c truth_row). */
static void region_truth_var(const omr_form_t *form, const omr_region_t *r, char *out, size_t n)
{
    const omr_question_t *q = &form->questions[r->question];
    if ((r->kind != OMR_REGION_TEXT && (q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_GRID1)) ||
        is_number_bubble(form, r))
        snprintf(out, n, "%s:%d", r->var, r->code);
    else
        snprintf(out, n, "%s", r->var);
}

/* The column a review item about mark cell r names: the cell's own (an
 * option's, a grid row's), but for a number in bubbles the number's one
 * column, <base>: the coder raises one item for the whole number
 * (code.c code_number_bubbles), not one per position. */
static const char *region_item_var(const omr_form_t *form, const omr_region_t *r)
{
    return is_number_bubble(form, r) ? form->questions[r->question].base : r->var;
}

static const truth_cell_t *truth_of(const truth_t *t, const omr_form_t *form, const char *resp, int page,
                                    int case_number, const omr_region_t *r)
{
    char var[96], key[512];
    region_truth_var(form, r, var, sizeof var);
    snprintf(key, sizeof key, "%s|%s|%d|%d|%s", resp, form->id, page, case_number, var);
    int i = map_get(&t->cell_index, key, -1);
    return i < 0 ? NULL : &t->cells[i];
}

static int is_marked_truth(const truth_cell_t *c) { return c && (c->state == T_MARKED || c->state == T_DOUBTFUL); }

/* Is r the target of an option (not a grid cell)? A circle around its
 * number, or its tick box or bubble (forms printed by another tool). */
static int is_option_target(const omr_region_t *r)
{
    return r->kind == OMR_REGION_CIRCLE || (r->kind == OMR_REGION_CHECK && !r->row[0]);
}

/* Does the truth of source question `src` (for this respondent, case) hold a
 * code of `codes`? With uncertain_holds, a doubtful cell or a missing page
 * holds its code too: a perfect reader flags the source and blocks the
 * question until it is resolved, so no routing rule is broken yet. Reads the
 * truth cells of the source's regions. */
static int route_satisfied(const truth_t *t, const omr_form_t *form, const omr_question_t *src, const char *resp,
                           int case_number, uint64_t codes, int uncertain_holds)
{
    const omr_page_t *p = &form->pages[src->page];
    int cs = src->is_case ? case_number : 0;
    for (int i = src->first_region; i < src->first_region + src->n_regions; i++) {
        const omr_region_t *r = &p->regions[i];
        const truth_cell_t *c = truth_of(t, form, resp, p->number, cs, r);
        if (!c)
            continue;
        if (r->kind == OMR_REGION_DIGIT) {
            if (c->value > 0 && c->value < 64 && (codes >> c->value & 1))
                return 1;
        } else if (r->kind != OMR_REGION_TEXT && r->code < 64 && (codes >> r->code & 1) &&
                   (c->state == T_MARKED || (uncertain_holds && c->state != T_BLANK))) {
            return 1;
        }
    }
    return 0;
}

/* Does the truth of question q (this sheet) call for a person, whatever the
 * reader did? With marks_only, only the rules of the marks: a doubtful cell
 * alone does not (it counts as unmarked), nor "other" text without its mark
 * or the reverse (the text field is what is flagged then). */
static int question_breaks_rules(const truth_t *t, const omr_form_t *form, const omr_question_t *q, const char *resp,
                                 int page, int case_number, int marks_only)
{
    const omr_page_t *p = &form->pages[q->page];
    int marked_in_row[64] = {0}, exclusive_in_row[64] = {0}, any_marked = 0, exclusive_marked = 0, n_marked = 0;
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
        const omr_region_t *r = &p->regions[i];
        const truth_cell_t *c = truth_of(t, form, resp, page, case_number, r);
        if (!c)
            continue;
        if (c->state == T_DOUBTFUL && !marks_only)
            return 1;
        if (r->kind == OMR_REGION_TEXT || r->kind == OMR_REGION_DIGIT) {
            if (r->kind == OMR_REGION_TEXT && r->code > 0 && !marks_only) { /* "other": text without the mark, or the reverse */
                int opt_marked = 0;
                for (int j = q->first_region; j < q->first_region + q->n_regions; j++)
                    if (is_option_target(&p->regions[j]) && p->regions[j].code == r->code)
                        opt_marked = is_marked_truth(truth_of(t, form, resp, page, case_number, &p->regions[j]));
                if (opt_marked != (c->state == T_MARKED))
                    return 1;
            }
            continue;
        }
        if (c->state != T_MARKED)
            continue;
        any_marked = 1;
        n_marked++;
        /* a grid row ("a"), or a number's position ("1".."12": its first
         * character alone would take 1 and 10 for one) */
        int row = q->kind == OMR_KIND_NUMBER ? atoi(r->row) & 63 : r->row[0] ? (unsigned char)r->row[0] & 63 : 0;
        marked_in_row[row]++;
        for (int k = 0; k < q->n_options; k++)
            if (q->options[k].code == r->code && q->options[k].exclusive && is_option_target(r))
                exclusive_marked = 1;
        if (q->kind == OMR_KIND_TICKLIST)
            for (int k = 0; k < q->n_options; k++)
                if (q->options[k].code == r->code && q->options[k].exclusive)
                    exclusive_marked = 1;
        if (q->kind == OMR_KIND_GRIDN)
            for (int k = 0; k < q->n_cols; k++)
                if (q->cols[k].code == r->code && q->cols[k].exclusive)
                    exclusive_in_row[row] = 1;
    }
    /* a grid's exclusive column ("no such damage") excludes the others of its own row only */
    for (int k = 0; k < 64; k++)
        if (exclusive_in_row[k] && marked_in_row[k] > 1)
            return 1;
    if ((q->kind == OMR_KIND_SINGLE && n_marked > 1))
        return 1;
    /* one mark per grid1 row, one bubble per position of a number */
    if (q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_NUMBER)
        for (int k = 0; k < 64; k++)
            if (marked_in_row[k] > 1)
                return 1;
    if (exclusive_marked && n_marked > 1)
        return 1;
    if (any_marked && q->route_question >= 0 &&
        !route_satisfied(t, form, &form->questions[q->route_question], resp, case_number, q->route_codes,
                         marks_only))
        return 1;
    return 0;
}

static int question_needs_review(const truth_t *t, const omr_form_t *form, const omr_question_t *q, const char *resp,
                                 int page, int case_number)
{
    return question_breaks_rules(t, form, q, resp, page, case_number, 0);
}

/* Must even a perfect reader flag mark cell r? Yes (2) when its question
 * breaks a rule, or (1) when a cell of its own column (var: the question for single choice, the
 * row of a grid, the option of a many-answer list) is doubtful in the truth:
 * the smallest review items the store can hold. The floor under `flagged`. */
static int cell_needs_review(const truth_t *t, const omr_form_t *form, const omr_page_t *p, const omr_region_t *r,
                             const char *resp, int page, int case_number)
{
    const omr_question_t *q = &form->questions[r->question];
    if (question_breaks_rules(t, form, q, resp, page, case_number, 1))
        return 2;
    for (int j = q->first_region; j < q->first_region + q->n_regions; j++) {
        const omr_region_t *rj = &p->regions[j];
        if (rj->kind == OMR_REGION_TEXT || rj->kind == OMR_REGION_DIGIT || strcmp(rj->var, r->var))
            continue;
        const truth_cell_t *c = truth_of(t, form, resp, page, case_number, rj);
        if (c && c->state == T_DOUBTFUL)
            return 1;
    }
    return 0;
}

typedef struct {
    long boxes, written, empty_wrong, proposed, proposal_right, fields, fields_written, fields_wrong;
} written_t;

/* Review items of one respondent of one form: which questions (per case) and pages are flagged. */
/* The current review items, loaded once: "P|<page id>" for page-level items,
 * "Q|form|respondent|case|question|var" for items about marks (doubtful,
 * two marks, exclusive, routing, "other", duplicate). */
static map_t items;
/* "D|<page id>" -> 1 for a page-level DUPLICATE item proposing "duplicate", 2 for "case" */
static map_t dup_proposals;

static void load_items(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT page, question, form, respondent, case_number, var, reason, proposal FROM review_items "
                           "WHERE current=1",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "evaluate: not an omr database (%s)\n", sqlite3_errmsg(db));
        exit(2);
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        char key[600];
        const char *q = (const char *)sqlite3_column_text(st, 1);
        int reason = sqlite3_column_int(st, 6);
        if (!q || !q[0]) {
            snprintf(key, sizeof key, "P|%lld", (long long)sqlite3_column_int64(st, 0));
            map_put(&items, key, 1);
            const char *prop = (const char *)sqlite3_column_text(st, 7);
            if (reason == 11 && prop && (!strcmp(prop, "duplicate") || !strcmp(prop, "case"))) {
                snprintf(key, sizeof key, "D|%lld", (long long)sqlite3_column_int64(st, 0));
                map_put(&dup_proposals, key, !strcmp(prop, "duplicate") ? 1 : 2);
            }
        } else if (reason <= 5 || reason == 11) {
            snprintf(key, sizeof key, "Q|%s|%s|%d|%s|%s", sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
                     sqlite3_column_int(st, 4), q, sqlite3_column_text(st, 5));
            map_put(&items, key, 1);
        }
    }
    sqlite3_finalize(st);
}

/* Is a person asked to look at this cell? A page-level item on its page, or
 * an item about marks on its question that names the cell's column or the
 * whole question (var ""). Items to transcribe text or read written boxes do
 * not put the marks in doubt. var NULL: page-level items only. */
static int flagged_by_item(const char *form, const char *resp, int case_number, const char *qid, long page_id,
                           const char *var)
{
    char key[600];
    snprintf(key, sizeof key, "P|%ld", page_id);
    if (map_get(&items, key, 0))
        return 1;
    if (!var)
        return 0;
    snprintf(key, sizeof key, "Q|%s|%s|%d|%s|", form, resp, case_number, qid);
    if (map_get(&items, key, 0))
        return 1;
    snprintf(key, sizeof key, "Q|%s|%s|%d|%s|%s", form, resp, case_number, qid, var);
    return map_get(&items, key, 0);
}

/* The columns of the numbers printed as bubble columns, "form|<base>" -> 1,
 * for the `numbers in bubbles:` line; returns how many. */
static int number_bubble_columns(const omr_survey_t *s, map_t *cols)
{
    int n = 0;
    for (int f = 0; f < s->n_forms; f++)
        for (int qi = 0; qi < s->forms[f].n_questions; qi++) {
            const omr_question_t *q = &s->forms[f].questions[qi];
            const omr_page_t *p = &s->forms[f].pages[q->page];
            if (q->kind != OMR_KIND_NUMBER || q->n_regions < 1 ||
                !is_number_bubble(&s->forms[f], &p->regions[q->first_region]))
                continue;
            char key[128];
            snprintf(key, sizeof key, "%s|%s", s->forms[f].id, q->base);
            map_put(cols, key, 1);
            n++;
        }
    return n;
}

/* Does any page of the survey hold a region of this kind? */
static int survey_has(const omr_survey_t *s, omr_region_kind_t kind)
{
    for (int f = 0; f < s->n_forms; f++)
        for (int p = 0; p < s->forms[f].n_pages; p++)
            for (int i = 0; i < s->forms[f].pages[p].n_regions; i++)
                if (s->forms[f].pages[p].regions[i].kind == kind)
                    return 1;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: evaluate --db FILE --corpus DIR [--template DIR] [--quiet]\n"
                 "Score a scanned database against the simulator's truth in DIR/truth/.\n");
    fprintf(out, "  --list FILE  also write a CSV line per wrong, needlessly flagged or doubtful-accepted mark cell\n");
    fprintf(out, "  --list-all FILE  the same for every mark cell of a registered page (what = cell)\n");
}

/* Did the reader store no ink at all for region idx of the page (ink and
 * ink_label both 0)? A wrong reading of such a cell is a mark the scan
 * itself lost, not one the reader misjudged. */
static int no_ink_stored(sqlite3_stmt *mst, long page_id, int idx)
{
    sqlite3_reset(mst);
    sqlite3_bind_int64(mst, 1, page_id);
    sqlite3_bind_int(mst, 2, idx);
    return sqlite3_step(mst) == SQLITE_ROW && sqlite3_column_double(mst, 1) == 0 &&
           sqlite3_column_double(mst, 2) == 0;
}

/* A bubble's fill as the classifier measures it (classify.c): its stored
 * ink from the page's blank level for its printed code (0) to the page's
 * filled level (1), with the default calibration; -1 for other regions.
 * rr: the page's stored inks by region index. */
static double bubble_fill(const omr_page_t *pg, const omr_region_result_t *rr, int idx)
{
    const omr_region_t *g = &pg->regions[idx];
    if (g->kind != OMR_REGION_CHECK || !g->round)
        return -1;
    omr_calib_t cal;
    omr_calib_default(&cal);
    double base = omr_classify_bubble_base(pg, &cal, rr, g->print), full = omr_classify_bubble_full(pg, &cal, rr);
    double fill = full > base ? (rr[idx].m.ink - base) / (full - base) : 0;
    return fill > 0 ? fill : 0;
}

/* Was a wrong reading of bubble idx one the scan left nothing of? Its fill
 * is within the noise of the page's blank bubbles (0.05: above the 95th
 * percentile of blank bubbles' fills on the simulator's scans), so the
 * threshold or the light erased the mark, not the reader's judgement. */
static int bubble_no_trace(double fill) { return fill >= 0 && fill <= 0.05; }

/* --list: one CSV line about a mark cell worth a look (wrong, needless flag,
 * doubtful truth accepted), with its stored measures; fill: a bubble's
 * (bubble_fill), -1 for other marks. */
static void list_cell(FILE *list, sqlite3_stmt *mst, const char *what, const truth_sheet_t *sh, long page_id, int idx,
                      const omr_region_t *r, const truth_cell_t *c, int read, int item_flag, double fill)
{
    int doubt = 0;
    double ink = 0, ink_label = 0, darkness = 0;
    sqlite3_reset(mst);
    sqlite3_bind_int64(mst, 1, page_id);
    sqlite3_bind_int(mst, 2, idx);
    if (sqlite3_step(mst) == SQLITE_ROW) {
        doubt = sqlite3_column_int(mst, 0);
        ink = sqlite3_column_double(mst, 1);
        ink_label = sqlite3_column_double(mst, 2);
        darkness = sqlite3_column_double(mst, 3);
    }
    static const char *const tn[] = {"blank", "marked", "doubtful", "missing"};
    fprintf(list, "%s,%s,%s,%d,%s,%s,%s,%s,%d,%d,%.5f,%.5f,%.3f,%d,%d,%d,%.3f\n", what, sh->condition, sh->file,
            sh->file_page, r->var, r->kind == OMR_REGION_CIRCLE ? "circle" : "check", tn[c->state], c->style, read,
            doubt, ink, ink_label, darkness, read == 2, item_flag, r->code, fill);
}

int main(int argc, char **argv)
{
    const char *dbpath = NULL, *corpus = NULL, *tpl = "templates/ipa-itsc-2018";
    int quiet = 0;
    const char *list_path = NULL; /* --list FILE: one line per wrong, needless or doubtful-accepted mark cell */
    FILE *list = NULL;
    int list_all = 0; /* --list-all FILE: every mark cell (what = cell) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbpath = argv[++i];
        else if (!strcmp(argv[i], "--corpus") && i + 1 < argc)
            corpus = argv[++i];
        else if (!strcmp(argv[i], "--template") && i + 1 < argc)
            tpl = argv[++i];
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[i], "--list") && i + 1 < argc)
            list_path = argv[++i];
        else if (!strcmp(argv[i], "--list-all") && i + 1 < argc)
            list_path = argv[++i], list_all = 1;
        else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (!dbpath || !corpus) {
        usage(stderr);
        return 1;
    }
    omr_survey_t *s;
    omr_error_t err;
    if (omr_template_load(tpl, &s, &err)) {
        fprintf(stderr, "evaluate: %s\n", err.msg);
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "evaluate: cannot open %s\n", dbpath);
        return 2;
    }
    truth_t t = {0};
    load_cells(&t, corpus);
    load_sheets(&t, corpus);
    for (int f = 0; f < s->n_forms; f++)
        for (int part = 0; part < 2; part++)
            load_answers(&t, corpus, s->forms[f].id, part);

    tallies_t tallies = {0};
    tally_t *all = tally_for(&tallies, "all");
    written_t w = {0};
    long sheets_seen = 0, dup_expected = 0, dup_flagged = 0;
    long dup_items = 0, dup_proposed_right = 0, case_proposed_dup = 0; /* "duplicate" or "case" proposals */
    long resp_stored = 0, resp_other = 0; /* sheets stored under a respondent: under another than the truth's */
    char *seen = calloc((size_t)t.n_sheets + 1, 1);

    load_items(db);
    sqlite3_stmt *mst = NULL; /* measures of a listed cell */
    if (list_path) {
        list = fopen(list_path, "w");
        if (!list) {
            fprintf(stderr, "evaluate: cannot write %s\n", list_path);
            return 2;
        }
        fprintf(list, "what,condition,file,file_page,var,kind,truth,style,read,doubt,ink,ink_label,darkness,cell_doubtful,item,code,fill\n");
    }
    sqlite3_prepare_v2(db, "SELECT doubt, ink, ink_label, darkness FROM regions WHERE page=? AND idx=?", -1, &mst, NULL);
    sqlite3_stmt *pst, *rst;
    sqlite3_prepare_v2(db,
                       "SELECT p.id, f.path, p.idx, p.status, p.form, p.page_number, p.respondent, p.case_number "
                       "FROM pages p JOIN files f ON f.id = p.file ORDER BY p.id",
                       -1, &pst, NULL);
    sqlite3_prepare_v2(db, "SELECT idx, state, has_ink, digit, ink FROM regions WHERE page=? ORDER BY idx", -1, &rst,
                       NULL);
    while (sqlite3_step(pst) == SQLITE_ROW) {
        long page_id = sqlite3_column_int64(pst, 0);
        char abs[PATH_MAX], key[PATH_MAX + 32];
        const char *path = (const char *)sqlite3_column_text(pst, 1);
        if (!realpath(path, abs))
            snprintf(abs, sizeof abs, "%s", path);
        /* pages.csv counts pages in a file from 1, the store from 0 */
        snprintf(key, sizeof key, "%s#%d", abs, sqlite3_column_int(pst, 2) + 1);
        int si = map_get(&t.sheet_index, key, -1);
        if (si < 0)
            continue; /* not a corpus sheet (bad-input files, separators) */
        const truth_sheet_t *sh = &t.sheets[si];
        seen[si] = 1;
        sheets_seen++;
        const omr_form_t *form = omr_template_form(s, sh->form);
        if (!form || sh->page < 1 || sh->page > form->n_pages)
            continue;
        const omr_page_t *tp = &form->pages[sh->page - 1];
        const char *status = (const char *)sqlite3_column_text(pst, 3);
        int page_ok = status && !strcmp(status, "ok");
        const char *db_form = (const char *)sqlite3_column_text(pst, 4);
        const char *db_resp = (const char *)sqlite3_column_text(pst, 6);
        tally_t *cond = tally_for(&tallies, sh->condition);
        all = &tallies.t[0]; /* tally_for may have moved the array */
        cond->pages++;
        all->pages++;
        char dkey[64];
        snprintf(dkey, sizeof dkey, "D|%ld", page_id);
        int proposal = map_get(&dup_proposals, dkey, 0);
        if (proposal) {
            dup_items++;
            dup_proposed_right += proposal == (sh->duplicate ? 1 : 2);
            case_proposed_dup += !sh->duplicate && proposal == 1;
        }
        if (sh->duplicate) {
            dup_expected++;
            dup_flagged += flagged_by_item(sh->form, sh->respondent, -1, "", page_id, NULL);
            continue;
        }
        /* the region readings of this page, by template region index */
        int n = tp->n_regions;
        int *state = malloc(sizeof(int) * (size_t)(n ? n : 1)), *has_ink = calloc((size_t)(n ? n : 1), sizeof(int)),
            *digit = malloc(sizeof(int) * (size_t)(n ? n : 1));
        omr_region_result_t *rr = calloc((size_t)(n ? n : 1), sizeof *rr); /* stored inks, for bubble_fill */
        for (int i = 0; i < n; i++)
            state[i] = -1, digit[i] = -1;
        sqlite3_reset(rst);
        sqlite3_bind_int64(rst, 1, page_id);
        while (sqlite3_step(rst) == SQLITE_ROW) {
            int idx = sqlite3_column_int(rst, 0);
            if (idx < 0 || idx >= n)
                continue;
            state[idx] = sqlite3_column_int(rst, 1);
            has_ink[idx] = sqlite3_column_int(rst, 2);
            digit[idx] = sqlite3_column_type(rst, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(rst, 3);
            rr[idx].m.ink = (float)sqlite3_column_double(rst, 4);
        }
        if (!page_ok) {
            cond->pages_lost++;
            all->pages_lost++;
        } else if (db_resp) {
            resp_stored++;
            resp_other += strcmp(db_resp, sh->respondent) != 0;
        }
        for (int i = 0; i < n; i++) {
            const omr_region_t *r = &tp->regions[i];
            const truth_cell_t *c = truth_of(&t, form, sh->respondent, sh->page, sh->case_number, r);
            if (!c || c->state == T_MISSING)
                continue;
            const omr_question_t *q = &form->questions[r->question];
            if (r->kind == OMR_REGION_DIGIT) {
                w.boxes++;
                int written = c->state != T_BLANK;
                w.written += written;
                if (page_ok && has_ink[i] != written)
                    w.empty_wrong++;
                if (page_ok && written && digit[i] >= 0) {
                    w.proposed++;
                    w.proposal_right += digit[i] == c->value;
                }
                continue;
            }
            if (r->kind == OMR_REGION_TEXT) {
                w.fields++;
                int written = c->state != T_BLANK;
                w.fields_written += written;
                if (page_ok && has_ink[i] != written)
                    w.fields_wrong++;
                continue;
            }
            /* a mark cell */
            int item_flag = !page_ok || flagged_by_item(db_form ? db_form : "", db_resp ? db_resp : "",
                                                        /* the truth's case: the store keeps the coded
                                                           case on the items, not on the page */
                                                        q->is_case ? sh->case_number : 0, q->id, page_id,
                                                        region_item_var(form, r));
            int read = page_ok ? state[i] : -1;
            int flagged = !page_ok || read == 2 || read < 0 || item_flag;
            int must_flag = cell_needs_review(&t, form, tp, r, sh->respondent, sh->page, sh->case_number);
            int truth_marked = c->state == T_MARKED, truth_doubtful = c->state == T_DOUBTFUL;
            tally_t *both[2] = {all, cond};
            double fill = page_ok ? bubble_fill(tp, rr, i) : -1;
            if (list_all && page_ok)
                list_cell(list, mst, "cell", sh, page_id, i, r, c, read, item_flag, fill);
            for (int k = 0; k < 2; k++) {
                tally_t *x = both[k];
                x->cells++;
                x->flagged += flagged;
                x->floor += must_flag != 0;
                x->floor_rules += must_flag == 2;
                x->floor_flagged += must_flag && flagged;
                x->doubtful_truth += truth_doubtful;
                if (!flagged && truth_doubtful)
                    x->doubtful_accepted++;
                if (!flagged && !truth_doubtful && (read == 1) != truth_marked) {
                    x->wrong_accepted++;
                    x->wrong_no_trace += fill >= 0 ? bubble_no_trace(fill) : no_ink_stored(mst, page_id, i);
                }
                if (k == 0 && list && !flagged && (truth_doubtful || (read == 1) != truth_marked))
                    list_cell(list, mst, truth_doubtful ? "doubtful_accepted" : "wrong", sh, page_id, i, r, c,
                              read, item_flag, fill);
                /* Why a person looks at this cell: the truth calls for it (a doubtful
                 * cell, a rule the respondent broke), the page could not be read, a
                 * definite misread in the question was caught, or none of these:
                 * the reader's own doubt about a clear cell (needless). */
                if (flagged && (truth_doubtful ||
                                question_needs_review(&t, form, q, sh->respondent, sh->page, sh->case_number))) {
                    x->flag_truth++;
                } else if (flagged && !page_ok) {
                    x->flag_page++;
                } else if (flagged) {
                    /* anywhere in the question: a mark the reader did not read as marked
                     * (blank, or only doubtful: the flag kept a wrong value out), or a
                     * blank read as marked */
                    int misread = 0;
                    for (int j = q->first_region; j < q->first_region + q->n_regions && !misread; j++) {
                        const omr_region_t *rj = &tp->regions[j];
                        if (rj->kind != OMR_REGION_CIRCLE && rj->kind != OMR_REGION_CHECK)
                            continue;
                        const truth_cell_t *cj = truth_of(&t, form, sh->respondent, sh->page, sh->case_number, rj);
                        misread = cj && state[j] >= 0 &&
                                  ((cj->state == T_MARKED && state[j] != 1) || (cj->state == T_BLANK && state[j] == 1));
                    }
                    if (misread)
                        x->flag_caught++;
                    else
                        x->needless++;
                    if (k == 0 && list && !misread)
                        list_cell(list, mst, "needless", sh, page_id, i, r, c, read, item_flag, fill);
                }
            }
        }
        free(state);
        free(has_ink);
        free(digit);
        free(rr);
    }
    sqlite3_finalize(pst);
    sqlite3_finalize(rst);

    long never_stored = 0;
    for (int i = 0; i < t.n_sheets; i++)
        never_stored += !seen[i];

    /* values exported as certain, against the true answers; apart, those of
     * the numbers in bubbles (one value from many bubbles: a bubble misread
     * in it is a wrong number) */
    long certain = 0, certain_wrong = 0, review = 0;
    map_t num_cols = {0};
    int has_numbers = number_bubble_columns(s, &num_cols) > 0;
    long num_certain = 0, num_wrong = 0, num_review = 0;
    /* certain values of a case the truth does not have: a sheet scanned
     * twice and coded as a case of its own (the worst kind of duplicate) */
    long phantom_values = 0, phantom_cases = 0;
    map_t phantom = {0};
    sqlite3_stmt *vst;
    sqlite3_prepare_v2(db, "SELECT form, respondent, case_number, name, value, status FROM responses", -1, &vst, NULL);
    while (sqlite3_step(vst) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(vst, 3);
        const char *status = (const char *)sqlite3_column_text(vst, 5);
        size_t ln = strlen(name);
        if (ln > 5 && !strcmp(name + ln - 5, "_text"))
            continue; /* transcriptions: the truth holds placeholders */
        char nkey[128];
        snprintf(nkey, sizeof nkey, "%s|%s", sqlite3_column_text(vst, 0), name);
        int is_number = map_get(&num_cols, nkey, 0);
        if (strcmp(status, "certain")) {
            review++;
            num_review += is_number;
            continue;
        }
        char key[512];
        snprintf(key, sizeof key, "%s|%s|%d|%s", sqlite3_column_text(vst, 0), sqlite3_column_text(vst, 1),
                 sqlite3_column_int(vst, 2), name);
        int ai = map_get(&t.answers, key, -1);
        if (ai < 0) {
            /* a case the truth does not have (a duplicate taken for a case): its cells are
             * not judged, its certain values are counted apart */
            char ck[300];
            snprintf(ck, sizeof ck, "%s|%s|%d", sqlite3_column_text(vst, 0), sqlite3_column_text(vst, 1),
                     sqlite3_column_int(vst, 2));
            phantom_values++;
            if (!map_get(&phantom, ck, 0)) {
                map_put(&phantom, ck, 1);
                phantom_cases++;
            }
            continue;
        }
        certain++;
        num_certain += is_number;
        if (strcmp(t.answer_values[ai], (const char *)sqlite3_column_text(vst, 4))) {
            certain_wrong++;
            num_wrong += is_number;
            if (!quiet)
                fprintf(stderr, "wrong value: %s = '%s', truth '%s'\n", key, sqlite3_column_text(vst, 4),
                        t.answer_values[ai]);
        }
    }
    sqlite3_finalize(vst);

    for (int i = 1; i < tallies.n; i++) {
        tally_t *x = &tallies.t[i];
        printf("condition %-10s pages=%ld lost=%ld cells=%ld wrong_accepted=%ld flagged=%ld (%.2f%%) "
               "needless_flags=%ld doubtful=%ld doubtful_accepted=%ld\n",
               x->name, x->pages, x->pages_lost, x->cells, x->wrong_accepted, x->flagged,
               x->cells ? 100.0 * x->flagged / x->cells : 0, x->needless, x->doubtful_truth, x->doubtful_accepted);
    }
    printf("flags: by the truth (doubtful cells, rules the respondent broke)=%ld unread pages=%ld "
           "marks the reader could not confirm=%ld the reader's doubt on clear cells (needless)=%ld\n",
           all->flag_truth, all->flag_page, all->flag_caught, all->needless);
    printf("floor: cells a perfect reader must flag=%ld (%.2f%%), of which flagged %ld; "
           "for rules the respondent broke=%ld (%.2f%%), for doubtful marks in the truth=%ld\n",
           all->floor, all->cells ? 100.0 * all->floor / all->cells : 0, all->floor_flagged, all->floor_rules,
           all->cells ? 100.0 * all->floor_rules / all->cells : 0, all->floor - all->floor_rules);
    printf("wrong accepted: %ld, of which %ld left no ink at all in the scan (a threshold erased them)\n",
           all->wrong_accepted, all->wrong_no_trace);
    printf("pages: sheets=%d stored=%ld never_stored=%ld not_registered=%ld duplicates=%ld duplicates_flagged=%ld\n",
           t.n_sheets, sheets_seen, never_stored, all->pages_lost, dup_expected, dup_flagged);
    if (s->ids_by_order || s->ids_by_value)
        printf("respondents: sheets stored under a respondent=%ld, under another than the truth's=%ld\n",
               resp_stored, resp_other);
    if (!s->ids_by_order)
        printf("duplicate items: %ld, proposal right %ld (real cases proposed as duplicates %ld)\n", dup_items,
               dup_proposed_right, case_proposed_dup);
    if (survey_has(s, OMR_REGION_DIGIT))
        printf("written boxes: boxes=%ld written=%ld empty_vs_written_wrong=%ld proposed=%ld proposal_right=%ld\n",
               w.boxes, w.written, w.empty_wrong, w.proposed, w.proposal_right);
    if (survey_has(s, OMR_REGION_TEXT))
        printf("text fields: fields=%ld written=%ld empty_vs_written_wrong=%ld\n", w.fields, w.fields_written,
               w.fields_wrong);
    printf("values: certain=%ld wrong=%ld review=%ld; cases the truth does not have: %ld (%ld certain values)\n",
           certain, certain_wrong, review, phantom_cases, phantom_values);
    map_free(&phantom);
    if (has_numbers)
        printf("numbers in bubbles: certain=%ld wrong=%ld review=%ld\n", num_certain, num_wrong, num_review);
    map_free(&num_cols);
    printf("accuracy: cells=%ld wrong_accepted=%ld flagged=%ld needless_flags=%ld\n", all->cells, all->wrong_accepted,
           all->flagged, all->needless);

    free(seen);
    free(tallies.t);
    for (int i = 0; i < t.n_answers; i++)
        free(t.answer_values[i]);
    free(t.answer_values);
    free(t.cells);
    free(t.sheets);
    map_free(&t.cell_index);
    map_free(&t.sheet_index);
    map_free(&t.answers);
    map_free(&items);
    map_free(&dup_proposals);
    sqlite3_finalize(mst);
    if (list)
        fclose(list);
    sqlite3_close(db);
    omr_template_free(s);
    return 0;
}
