/* test_code.c -- the code stage (omr/code.h): page results built by hand on the
 * real template templates/ipa-itsc-2018, coded, and compared with values typed
 * from ../shared/spec/coding.md (never computed by the code under test).
 *
 * Questions are found by their ID, so the tests do not depend on which page the
 * layout put them on. Facts of the questionnaire used here (from the seed):
 * form A 問1 single 1-5; 問2 multi 1-7, 6 "その他" with a field, 7 exclusive;
 * 問5 single 1-4 (4 "その他"), asked when 問2 option 1 is marked; 問4 top-3 of
 * codes 1-8; 問7 gridn rows a-e x columns 1-7; 問8 grid1; case section 問20,
 * 問21 single, 問22 multi, 問22-1 asked when 問22 is 1 or 2; form B 問25 code
 * grid, 問25-1 asked when a cell of 問25 holds 4, 問29-1 text asked when
 * 問29 = 1, 問9-1 gridn with exclusive column 6. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "code.h"
#include "review.h"
#include "template.h"

static omr_survey_t *S;
static const omr_form_t *FA, *FB;

/* ---- building page results ---- */

#define MAXP 32
typedef struct {
    omr_page_result_t p[MAXP];
    int n;
} resp_t;

static void resp_free(resp_t *r)
{
    for (int i = 0; i < r->n; i++)
        omr_page_result_clear(&r->p[i]);
    r->n = 0;
}

/* A new scanned copy of page `number` of form f, every region blank. */
static omr_page_result_t *add_page(resp_t *r, const omr_form_t *f, int number)
{
    if (r->n >= MAXP || number < 1 || number > f->n_pages) {
        fprintf(stderr, "add_page: bad page %d\n", number);
        exit(2);
    }
    omr_page_result_t *p = &r->p[r->n];
    memset(p, 0, sizeof *p);
    snprintf(p->file, sizeof p->file, "batch1/scan%02d.tif", r->n);
    p->index_in_file = r->n;
    snprintf(p->file_hash, sizeof p->file_hash, "%016x%048d", 0xabc000u + (unsigned)r->n, 0);
    p->status = OMR_PAGE_OK;
    snprintf(p->form, sizeof p->form, "%s", f->id);
    p->page_number = number;
    snprintf(p->respondent, sizeof p->respondent, "000123");
    const omr_page_t *tp = &f->pages[number - 1];
    p->n_regions = tp->n_regions;
    p->regions = calloc((size_t)tp->n_regions + 1, sizeof *p->regions);
    for (int i = 0; i < tp->n_regions; i++) {
        p->regions[i].state = OMR_MARK_BLANK;
        p->regions[i].digit = -1;
        p->regions[i].m.score = 0.02f;
        p->regions[i].m.darkness = 1;
    }
    r->n++;
    return p;
}

static int page_of(const omr_form_t *f, const char *qid)
{
    const omr_question_t *q = omr_template_question(f, qid);
    if (!q) {
        fprintf(stderr, "template: no question %s in form %s\n", qid, f->id);
        exit(2);
    }
    return q->page + 1;
}

/* The last copy of the page holding question qid, made if there is none. */
static omr_page_result_t *pg(resp_t *r, const omr_form_t *f, const char *qid)
{
    int number = page_of(f, qid);
    for (int i = r->n - 1; i >= 0; i--)
        if (r->p[i].page_number == number && !strcmp(r->p[i].form, f->id))
            return &r->p[i];
    return add_page(r, f, number);
}

static omr_region_result_t *region(omr_page_result_t *p, const omr_form_t *f, const char *var, int code)
{
    const omr_page_t *tp = &f->pages[p->page_number - 1];
    for (int i = 0; i < tp->n_regions; i++)
        if (!strcmp(tp->regions[i].var, var) && (code < 0 || tp->regions[i].code == code))
            return &p->regions[i];
    fprintf(stderr, "template: no region %s code %d on page %s-%02d\n", var, code, f->id, p->page_number);
    exit(2);
}

/* Mark region (var, code) MARKED, or DOUBTFUL (faint). Hand-drawn marks
 * differ from one another: the ink share varies from mark to mark. */
static void mark(omr_page_result_t *p, const omr_form_t *f, const char *var, int code)
{
    static int n_marks;
    omr_region_result_t *g = region(p, f, var, code);
    g->state = OMR_MARK_MARKED;
    g->m.ink = 0.22f + 0.04f * (float)(n_marks++ % 4);
    g->m.score = 0.95f;
}

static void doubt(omr_page_result_t *p, const omr_form_t *f, const char *var, int code)
{
    omr_region_result_t *g = region(p, f, var, code);
    g->state = OMR_MARK_DOUBTFUL;
    g->doubt = OMR_DOUBT_FAINT;
    g->m.ink = 0.08f;
    g->m.score = 0.45f;
}

/* Ink in a digit box (digit proposed with conf) or a text field (digit -1). */
static void write_in(omr_page_result_t *p, const omr_form_t *f, const char *var, int digit, float conf)
{
    omr_region_result_t *g = region(p, f, var, -1);
    g->has_ink = 1;
    g->digit = digit;
    g->digit_conf = conf;
    g->m.ink = 0.2f;
    g->m.score = 0.9f;
}

/* ---- coding and looking at the result ---- */

/* Most tests build only the pages they need. A page absent from a packet is
 * a MISSING_PAGE item until an operator confirms it missing (coding.md:
 * nothing ambiguous is exported as certain); code_with() confirms every page
 * number that has no copy at all (for case pages, in every case up to the most
 * copies of a case page), so those tests see the coding rules alone. The
 * tests of missing pages call omr_code_respondent() themselves. */
static omr_status_t code_with(resp_t *r, const omr_form_t *f, const omr_override_t *ov, int n_ov,
                              const omr_code_options_t *opts, omr_coded_t *out, omr_error_t *err)
{
    int copies[64] = {0}, most = 1;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->p[i].form, f->id) && r->p[i].page_number >= 1 && r->p[i].page_number <= f->n_pages &&
            r->p[i].page_number <= 64)
            copies[r->p[i].page_number - 1]++;
    for (int p = 0; p < f->n_pages && p < 64; p++)
        if (f->pages[p].is_case && copies[p] > most)
            most = copies[p];
    omr_override_t *all = calloc((size_t)(n_ov + f->n_pages * most) + 1, sizeof *all);
    int n = 0;
    for (int i = 0; i < n_ov; i++)
        all[n++] = ov[i];
    for (int p = 0; p < f->n_pages && p < 64; p++)
        for (int cs = f->pages[p].is_case ? 1 : 0; copies[p] == 0 && f->pages[p].n_regions > 0 &&
                                                   cs <= (f->pages[p].is_case ? most : 0);
             cs++) {
            snprintf(all[n].var, sizeof all[n].var, "page:missing:%s:%d:%d", f->id, p + 1, cs);
            snprintf(all[n].value, sizeof all[n].value, "missing");
            n++;
        }
    omr_status_t st = omr_code_respondent(S, f, r->p, r->n, all, n, opts, out, err);
    free(all);
    return st;
}

static omr_coded_t code(resp_t *r, const omr_form_t *f, const omr_override_t *ov, int n_ov)
{
    omr_coded_t out;
    omr_error_t err = {0};
    omr_status_t st = code_with(r, f, ov, n_ov, NULL, &out, &err);
    CHECK(st == OMR_OK, "coding failed: %s", err.msg);
    return out;
}

static int column(const omr_form_t *f, int case_part, const char *name)
{
    omr_column_t *cols;
    int n = omr_template_columns(f, case_part, &cols), k = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(cols[i].name, name))
            k = i;
    free(cols);
    return k;
}

static const omr_value_t *V(const omr_coded_t *c, const omr_form_t *f, int cs, const char *var)
{
    static omr_value_t none = {-1, -1, "<no such value>", OMR_VALUE_CERTAIN};
    int col = column(f, cs > 0, var);
    for (int i = 0; i < c->n_values; i++)
        if (c->values[i].case_number == cs && c->values[i].column == col)
            return &c->values[i];
    return &none;
}

#define CHECK_V(c, f, cs, var, want, want_status)                                                            \
    do {                                                                                                     \
        const omr_value_t *v_ = V((c), (f), (cs), (var));                                                    \
        CHECK(!strcmp(v_->value, (want)) && v_->status == (want_status), "%s case %d: got \"%s\"/%d, want \"%s\"/%d", \
              (var), (cs), v_->value, (int)v_->status, (want), (int)(want_status));                          \
    } while (0)

/* Number of items of a reason whose var is var (NULL: any var). */
static int items(const omr_coded_t *c, omr_review_reason_t reason, const char *var)
{
    int n = 0;
    for (int i = 0; i < c->n_items; i++)
        n += c->items[i].reason == reason && (!var || !strcmp(c->items[i].var, var));
    return n;
}

static const omr_review_item_t *item(const omr_coded_t *c, omr_review_reason_t reason)
{
    for (int i = 0; i < c->n_items; i++)
        if (c->items[i].reason == reason)
            return &c->items[i];
    return NULL;
}

static omr_override_t ovr(const char *var, int cs, const char *value)
{
    omr_override_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.var, sizeof o.var, "%s", var);
    o.case_number = cs;
    snprintf(o.value, sizeof o.value, "%s", value);
    return o;
}

/* ---- tests ---- */

static void t_single_multi_empty(void)
{
    resp_t r = {0};
    mark(pg(&r, FA, "Q1"), FA, "Q1", 3);
    omr_page_result_t *p = pg(&r, FA, "Q2");
    mark(p, FA, "Q2_1", -1);
    mark(p, FA, "Q2_3", -1);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q1", "3", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_1", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_2", "0", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_3", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_7", "0", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_6_text", "", OMR_VALUE_CERTAIN);
    /* 問3: no mark at all -> empty in all its columns, not 0 */
    CHECK_V(&c, FA, 0, "Q3_1", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q3_7", "", OMR_VALUE_CERTAIN);
    /* 問5 applies (問2 option 1 marked) and is unanswered: empty, not -1 */
    CHECK_V(&c, FA, 0, "Q5", "", OMR_VALUE_CERTAIN);
    /* a page that was not scanned (confirmed missing by code_with): empty and listed as missing */
    CHECK_V(&c, FA, 0, "S2", "", OMR_VALUE_CERTAIN);
    int found = 0;
    for (int i = 0; i < c.n_missing; i++)
        found |= c.missing[i].page_number == page_of(FA, "S2") && c.missing[i].case_number == 0;
    CHECK(found, "page of S2 not listed as missing");
    CHECK_INT(c.n_cases, 0);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_routing(void)
{
    /* 問2 = option 2 only, 問5 untouched -> 問5 is -1 (with its other text) */
    resp_t r = {0};
    mark(pg(&r, FA, "Q2"), FA, "Q2_2", -1);
    pg(&r, FA, "Q5");
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q5", "-1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q5_4_text", "-1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* 問2 empty: option 1 not marked -> 問5 still -1 */
    resp_free(&r);
    pg(&r, FA, "Q2");
    pg(&r, FA, "Q5");
    c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q2_1", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q5", "-1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* answered against the routing: keeps its answer, goes to review */
    mark(pg(&r, FA, "Q5"), FA, "Q5", 2);
    c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q5", "2", OMR_VALUE_REVIEW);
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, ""), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_ROUTING);
    CHECK(it && it->question == omr_template_question_index(FA, "Q5"), "routing item on 問5");
    /* coding.md: it keeps its answer: the proposal is the answer as read */
    CHECK_STR(it ? it->proposal : "", "2");
    omr_coded_clear(&c);
    /* the operator keeps the answer: resolved, no item */
    omr_override_t o = ovr("Q5", 0, "2");
    c = code(&r, FA, &o, 1);
    CHECK_V(&c, FA, 0, "Q5", "2", OMR_VALUE_RESOLVED);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* A grid answered against the routing (form B 問9-1 ticked, 問9 option 12
 * only): the proposal is the answer as read, in the form a decision takes,
 * and deciding it keeps every tick. */
static void t_routing_keeps_grid(void)
{
    resp_t r = {0};
    mark(pg(&r, FB, "Q9"), FB, "Q9_12", -1);
    omr_page_result_t *p = pg(&r, FB, "Q9s1");
    mark(p, FB, "Q9s1_a_1", -1);
    mark(p, FB, "Q9s1_a_3", -1);
    mark(p, FB, "Q9s1_c_2", -1);
    omr_coded_t c = code(&r, FB, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, ""), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_ROUTING);
    CHECK_STR(it ? it->proposal : "", "a:1,a:3,c:2");
    omr_override_t o[64];
    int n = omr_review_overrides(FB, "Q9s1", "", 0, it ? it->proposal : "", o, 64);
    CHECK(n > 0 && n <= 64, "the proposal is a valid decision (%d overrides)", n);
    omr_coded_clear(&c);
    if (n > 0 && n <= 64) {
        c = code(&r, FB, o, n);
        CHECK_V(&c, FB, 0, "Q9s1_a_1", "1", OMR_VALUE_RESOLVED);
        CHECK_V(&c, FB, 0, "Q9s1_a_3", "1", OMR_VALUE_RESOLVED);
        CHECK_V(&c, FB, 0, "Q9s1_a_2", "0", OMR_VALUE_RESOLVED);
        CHECK_V(&c, FB, 0, "Q9s1_c_2", "1", OMR_VALUE_RESOLVED);
        CHECK_INT(items(&c, OMR_REVIEW_ROUTING, NULL), 0);
        omr_coded_clear(&c);
    }
    resp_free(&r);
}

/* Skipped by the routing, with a doubtful mark in it: -1 or an answer once
 * the mark is decided, so its "other" text column waits too (an export
 * with NA_REVIEW must not write it as a certain empty). */
static void t_routing_skipped_doubtful(void)
{
    resp_t r = {0};
    mark(pg(&r, FA, "Q2"), FA, "Q2_2", -1);
    doubt(pg(&r, FA, "Q5"), FA, "Q5", 4);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK(V(&c, FA, 0, "Q5")->status == OMR_VALUE_REVIEW, "the doubtful mark blocks 問5");
    CHECK(V(&c, FA, 0, "Q5_4_text")->status == OMR_VALUE_REVIEW, "its text column waits with it");
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, NULL), 0);
    omr_coded_clear(&c);
    /* decided: no mark -> not applicable, text column too */
    omr_override_t o = ovr("Q5", 0, "");
    c = code(&r, FA, &o, 1);
    CHECK_V(&c, FA, 0, "Q5", "-1", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q5_4_text", "-1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_routing_pending(void)
{
    /* the source is doubtful: the dependent's values wait */
    resp_t r = {0};
    doubt(pg(&r, FA, "Q2"), FA, "Q2_1", -1);
    mark(pg(&r, FA, "Q5"), FA, "Q5", 1);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_DOUBTFUL_MARK, "Q2_1"), 1);
    CHECK(V(&c, FA, 0, "Q2_1")->status == OMR_VALUE_REVIEW, "doubtful cell blocked");
    CHECK(V(&c, FA, 0, "Q2_2")->status == OMR_VALUE_REVIEW, "0 or empty depends on the doubtful cell");
    CHECK(V(&c, FA, 0, "Q5")->status == OMR_VALUE_REVIEW, "routing decision waits");
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, NULL), 0);
    omr_coded_clear(&c);
    /* resolved as marked: 問5 applies and is certain */
    omr_override_t o = ovr("Q2_1", 0, "1");
    c = code(&r, FA, &o, 1);
    CHECK_V(&c, FA, 0, "Q2_1", "1", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q2_2", "0", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q5", "1", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    /* resolved as not marked: 問2 has no mark -> empty; 問5 answered against routing */
    o = ovr("Q2_1", 0, "0");
    c = code(&r, FA, &o, 1);
    CHECK_V(&c, FA, 0, "Q2_1", "", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q2_2", "", OMR_VALUE_CERTAIN);
    CHECK_INT(items(&c, OMR_REVIEW_DOUBTFUL_MARK, NULL), 0);
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, ""), 1);
    CHECK_V(&c, FA, 0, "Q5", "1", OMR_VALUE_REVIEW);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_exclusive(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q2");
    mark(p, FA, "Q2_1", -1);
    mark(p, FA, "Q2_7", -1);
    pg(&r, FA, "Q5");
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_EXCLUSIVE, ""), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_EXCLUSIVE);
    CHECK(it && !strcmp(it->proposal, "1,7"), "proposal %s", it ? it->proposal : "-");
    CHECK(V(&c, FA, 0, "Q2_1")->status == OMR_VALUE_REVIEW, "blocked");
    CHECK(V(&c, FA, 0, "Q2_4")->status == OMR_VALUE_REVIEW, "blocked");
    CHECK(V(&c, FA, 0, "Q5")->status == OMR_VALUE_REVIEW, "routing from an unresolved source waits");
    omr_coded_clear(&c);
    /* the operator drops the exclusive mark */
    omr_override_t o = ovr("Q2_7", 0, "0");
    c = code(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 0, "Q2_1", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q2_7", "0", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q5", "", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* or confirms both marks: the item is settled by the decisions */
    omr_override_t o2[2] = {ovr("Q2_1", 0, "1"), ovr("Q2_7", 0, "1")};
    c = code(&r, FA, o2, 2);
    CHECK_INT(items(&c, OMR_REVIEW_EXCLUSIVE, NULL), 0);
    CHECK_V(&c, FA, 0, "Q2_7", "1", OMR_VALUE_RESOLVED);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_two_marks_and_doubtful(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q1");
    mark(p, FA, "Q1", 2);
    mark(p, FA, "Q1", 4);
    doubt(pg(&r, FA, "Q6"), FA, "Q6", 2);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_MULTIPLE_MARKS, "Q1"), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_MULTIPLE_MARKS);
    CHECK(it && !strcmp(it->proposal, "2,4"), "proposal %s", it ? it->proposal : "-");
    CHECK(V(&c, FA, 0, "Q1")->status == OMR_VALUE_REVIEW, "two marks blocked");
    CHECK_INT(items(&c, OMR_REVIEW_DOUBTFUL_MARK, "Q6"), 1);
    it = item(&c, OMR_REVIEW_DOUBTFUL_MARK);
    CHECK(it && !strcmp(it->proposal, "2"), "doubtful proposal");
    CHECK(V(&c, FA, 0, "Q6")->status == OMR_VALUE_REVIEW, "doubtful blocked");
    omr_coded_clear(&c);
    omr_override_t o[2] = {ovr("Q1", 0, "4"), ovr("Q6", 0, "")};
    c = code(&r, FA, o, 2);
    CHECK_V(&c, FA, 0, "Q1", "4", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q6", "", OMR_VALUE_RESOLVED);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_other_text(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q2");
    mark(p, FA, "Q2_6", -1); /* その他 marked, field empty */
    p = pg(&r, FA, "Q3");
    mark(p, FA, "Q3_1", -1);
    write_in(p, FA, "Q3_6_text", -1, 0); /* text without the mark */
    p = pg(&r, FA, "Q5");
    mark(pg(&r, FA, "Q2"), FA, "Q2_1", -1); /* so that 問5 applies */
    mark(p, FA, "Q5", 4);
    write_in(p, FA, "Q5_4_text", -1, 0); /* marked with text: just a transcription */
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_OTHER_TEXT, "Q2_6_text"), 1);
    CHECK(V(&c, FA, 0, "Q2_6_text")->status == OMR_VALUE_REVIEW, "missing text blocked");
    CHECK_V(&c, FA, 0, "Q2_6", "1", OMR_VALUE_CERTAIN);
    CHECK_INT(items(&c, OMR_REVIEW_OTHER_TEXT, "Q3_6"), 1);
    CHECK_INT(items(&c, OMR_REVIEW_TEXT, "Q3_6_text"), 1);
    CHECK(V(&c, FA, 0, "Q3_6")->status == OMR_VALUE_REVIEW, "unmarked option with text blocked");
    CHECK_V(&c, FA, 0, "Q3_1", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q5", "4", OMR_VALUE_CERTAIN);
    CHECK_INT(items(&c, OMR_REVIEW_TEXT, "Q5_4_text"), 1);
    CHECK_INT(items(&c, OMR_REVIEW_OTHER_TEXT, "Q5_4_text"), 0);
    CHECK(V(&c, FA, 0, "Q5_4_text")->status == OMR_VALUE_REVIEW, "transcription pending");
    omr_coded_clear(&c);
    omr_override_t o[4] = {ovr("Q5_4_text", 0, "社内規程"), ovr("Q2_6_text", 0, ""), ovr("Q3_6", 0, "1"),
                           ovr("Q3_6_text", 0, "監査")};
    c = code(&r, FA, o, 4);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 0, "Q5_4_text", "社内規程", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q3_6", "1", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q3_6_text", "監査", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q2_6_text", "", OMR_VALUE_RESOLVED);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_top3(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q4");
    write_in(p, FA, "Q4_r1", 3, 0.95f);
    write_in(p, FA, "Q4_r2", 3, 0.95f);
    omr_coded_t c = code(&r, FA, NULL, 0);
    /* every written box goes to review with the proposal */
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, "Q4_r1"), 1);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, "Q4_r2"), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_HANDWRITTEN);
    CHECK(it && !strcmp(it->proposal, "3"), "proposal");
    CHECK(V(&c, FA, 0, "Q4_r1")->status == OMR_VALUE_REVIEW, "written box blocked");
    CHECK_V(&c, FA, 0, "Q4_r3", "", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* with the auto-accept hook: the same code twice is invalid */
    omr_code_options_t opts;
    omr_code_options_default(&opts);
    opts.digit_accept_conf = 0.9;
    omr_error_t err;
    CHECK_INT(code_with(&r, FA, NULL, 0, &opts, &c, &err), OMR_OK);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, NULL), 0);
    CHECK_INT(items(&c, OMR_REVIEW_INVALID_VALUE, NULL), 1);
    CHECK(V(&c, FA, 0, "Q4_r1")->status == OMR_VALUE_REVIEW && V(&c, FA, 0, "Q4_r2")->status == OMR_VALUE_REVIEW,
          "repeated code blocked");
    omr_coded_clear(&c);
    /* a code that is not an option (9; 問4 lists 1-8) */
    region(p, FA, "Q4_r2", -1)->digit = 9;
    CHECK_INT(code_with(&r, FA, NULL, 0, &opts, &c, &err), OMR_OK);
    CHECK_INT(items(&c, OMR_REVIEW_INVALID_VALUE, "Q4_r2"), 1);
    CHECK_V(&c, FA, 0, "Q4_r1", "3", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* a gap: box 2 written, box 1 empty */
    *region(p, FA, "Q4_r1", -1) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    region(p, FA, "Q4_r2", -1)->digit = 5;
    CHECK_INT(code_with(&r, FA, NULL, 0, &opts, &c, &err), OMR_OK);
    CHECK_INT(items(&c, OMR_REVIEW_INVALID_VALUE, ""), 1);
    CHECK(V(&c, FA, 0, "Q4_r2")->status == OMR_VALUE_REVIEW, "gap blocked");
    omr_coded_clear(&c);
    /* operators decide: resolved, no item left */
    omr_override_t o[2] = {ovr("Q4_r1", 0, "5"), ovr("Q4_r2", 0, "")};
    c = code(&r, FA, o, 2);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 0, "Q4_r1", "5", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 0, "Q4_r2", "", OMR_VALUE_RESOLVED);
    omr_coded_clear(&c);
    /* an override that is not an option code is refused, naming var and value */
    o[0] = ovr("Q4_r1", 0, "9");
    CHECK_INT(code_with(&r, FA, o, 1, NULL, &c, &err), OMR_EINPUT);
    CHECK(strstr(err.msg, "Q4_r1") && strstr(err.msg, "\"9\""), "message: %s", err.msg);
    CHECK_INT(c.n_values, 0);
    resp_free(&r);
}

static void t_top3_other(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q4");
    write_in(p, FA, "Q4_r1", 8, 0.9f); /* その他 written in box 1, no text */
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_OTHER_TEXT, "Q4_8_text"), 1);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_grids(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FA, "Q8");
    mark(p, FA, "Q8_a", 2);
    mark(p, FA, "Q8_b", 1);
    mark(p, FA, "Q8_b", 3);
    p = pg(&r, FA, "Q7");
    mark(p, FA, "Q7_a_1", -1);
    mark(p, FA, "Q7_a_3", -1);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q8_a", "2", OMR_VALUE_CERTAIN);
    CHECK_INT(items(&c, OMR_REVIEW_MULTIPLE_MARKS, "Q8_b"), 1);
    CHECK(V(&c, FA, 0, "Q8_b")->status == OMR_VALUE_REVIEW, "two ticks in a grid1 row blocked");
    CHECK_V(&c, FA, 0, "Q8_c", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q7_a_1", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q7_a_2", "0", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q7_a_3", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q7_b_1", "", OMR_VALUE_CERTAIN); /* a row with no tick is empty */
    CHECK_V(&c, FA, 0, "Q7_e_7", "", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
    /* gridn with an exclusive column (form B 問9-1 column 6), routed from 問9 */
    mark(pg(&r, FB, "Q9"), FB, "Q9_1", -1);
    p = pg(&r, FB, "Q9s1");
    mark(p, FB, "Q9s1_a_1", -1);
    mark(p, FB, "Q9s1_a_6", -1);
    mark(p, FB, "Q9s1_b_6", -1);
    c = code(&r, FB, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_EXCLUSIVE, NULL), 1);
    CHECK(V(&c, FB, 0, "Q9s1_a_1")->status == OMR_VALUE_REVIEW, "row a blocked");
    CHECK_V(&c, FB, 0, "Q9s1_b_6", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FB, 0, "Q9s1_b_1", "0", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* The first case page of a form, and all its case pages. */
static int case_pages(const omr_form_t *f, int *numbers)
{
    int n = 0;
    for (int i = 0; i < f->n_pages; i++)
        if (f->pages[i].is_case)
            numbers[n++] = f->pages[i].number;
    return n;
}

static void t_cases(void)
{
    int cp[16], ncp = case_pages(FA, cp);
    CHECK(ncp >= 2, "form A has case pages");
    CHECK(omr_template_question(FA, "Q20")->is_case, "問20 is a case question");
    int p20 = page_of(FA, "Q20"), p22 = page_of(FA, "Q22");
    resp_t r = {0};
    /* three photocopied cases, pages interleaved as a packet: 8 9 10 8 9 10 ... */
    for (int k = 1; k <= 3; k++)
        for (int i = 0; i < ncp; i++) {
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (cp[i] == p20)
                mark(p, FA, "Q20", k);
            if (cp[i] == p22)
                mark(p, FA, "Q22_1", k == 1 ? 1 : -1), mark(p, FA, k == 1 ? "Q22_2" : k == 2 ? "Q22_3" : "Q22_4", -1);
        }
    mark(pg(&r, FA, "Q1"), FA, "Q1", 5);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 3);
    CHECK_V(&c, FA, 0, "Q1", "5", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 1, "Q20", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q20", "2", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 3, "Q20", "3", OMR_VALUE_CERTAIN);
    /* routing inside each case: 問22-1 applies in every case (問22 holds 1) */
    CHECK_V(&c, FA, 1, "Q22s1", "", OMR_VALUE_CERTAIN);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 0);
    omr_coded_clear(&c);
    resp_free(&r);

    /* two cases, pages in blocks (8 8 9 9 ...); case 2's 問22 = 3 only -> 問22-1 is -1 there */
    for (int i = 0; i < ncp; i++)
        for (int k = 1; k <= 2; k++) {
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (cp[i] == p20)
                mark(p, FA, "Q20", k + 1);
            if (cp[i] == p22)
                mark(p, FA, k == 1 ? "Q22_1" : "Q22_3", -1);
        }
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    CHECK_V(&c, FA, 1, "Q20", "2", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q20", "3", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 1, "Q22s1", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q22s1", "-1", OMR_VALUE_CERTAIN);
    /* a case override: valid case, and case out of range refused */
    omr_coded_clear(&c);
    omr_override_t o = ovr("Q20", 2, "1");
    c = code(&r, FA, &o, 1);
    CHECK_V(&c, FA, 2, "Q20", "1", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FA, 1, "Q20", "2", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    omr_error_t err;
    o = ovr("Q20", 3, "1");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    o = ovr("Q20", 0, "1");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    resp_free(&r);

    /* a spare photocopy sent back blank is not a case */
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < ncp; i++) {
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (k == 1 && cp[i] == p20)
                mark(p, FA, "Q20", 2);
        }
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 1);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* A page scanned too light for pencil and scanned again in grey, as the
 * batch report asks: the rescan is coded and the light copy raises
 * nothing. The other way round (a good copy first, a light one later) is a
 * duplicate as any second copy. */
static void t_light_copy_superseded(void)
{
    int p1 = page_of(FA, "Q1");
    CHECK_INT(page_of(FA, "Q2"), p1);
    const omr_page_t *tp = &FA->pages[p1 - 1];
    for (int order = 0; order < 2; order++) {
        resp_t r = {0};
        omr_page_result_t *first = add_page(&r, FA, p1), *second = add_page(&r, FA, p1);
        omr_page_result_t *light = order == 0 ? first : second, *good = order == 0 ? second : first;
        mark(light, FA, "Q1", 3); /* the pen circle survived the light threshold */
        for (int i = 0; i < tp->n_regions; i++)
            if (!strncmp(tp->regions[i].var, "Q2_", 3) && tp->regions[i].kind == OMR_REGION_CIRCLE) {
                light->regions[i].state = OMR_MARK_DOUBTFUL; /* the pencil ticks of 問2 vanished */
                light->regions[i].doubt = OMR_DOUBT_LIGHT_SCAN;
            }
        mark(good, FA, "Q1", 3);
        mark(good, FA, "Q2_1", -1);
        omr_coded_t c = code(&r, FA, NULL, 0);
        CHECK_V(&c, FA, 0, "Q1", "3", OMR_VALUE_CERTAIN);
        if (order == 0) {
            CHECK_INT(c.n_items, 0);
            CHECK_V(&c, FA, 0, "Q2_1", "1", OMR_VALUE_CERTAIN);
            CHECK_INT(c.page_case[0], -1);
            CHECK_INT(c.page_case[1], 0);
        } else {
            CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 2); /* the page, and 問2 that differs */
            CHECK_INT(c.page_case[0], 0);
        }
        omr_coded_clear(&c);
        resp_free(&r);
    }
}

static void t_duplicates(void)
{
    int p20 = page_of(FA, "Q20");
    resp_t r = {0};
    omr_page_result_t *a = add_page(&r, FA, p20);
    mark(a, FA, "Q20", 1);
    mark(a, FA, "Q21", 2);
    /* the same sheet scanned again on a rougher threshold: the same marks
     * with 40 % less ink, and a trace read doubtful on an empty option */
    omr_page_result_t *b = add_page(&r, FA, p20);
    memcpy(b->regions, a->regions, (size_t)a->n_regions * sizeof *a->regions);
    region(b, FA, "Q20", 1)->m.ink *= 0.6f;
    region(b, FA, "Q20", 3)->state = OMR_MARK_DOUBTFUL;
    region(b, FA, "Q20", 3)->doubt = OMR_DOUBT_BORDERLINE;
    /* a photocopy answered otherwise: a case of its own */
    omr_page_result_t *d = add_page(&r, FA, p20);
    memcpy(d->regions, a->regions, (size_t)a->n_regions * sizeof *a->regions);
    *region(d, FA, "Q21", 2) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    mark(d, FA, "Q21", 1);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_DUPLICATE);
    char key[64];
    omr_code_page_key(&r.p[1], key, sizeof key);
    CHECK(it && it->page == 1 && it->question == -1 && !strcmp(it->var, key), "duplicate item on scan 2");
    CHECK(it && it->case_number == 1, "duplicate of case 1");
    CHECK(it && !strcmp(it->proposal, "duplicate"), "two marks alike: proposed duplicate (%s)", it ? it->proposal : "");
    CHECK_V(&c, FA, 2, "Q21", "1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* a mark that differs is never a duplicate */
    region(b, FA, "Q20", 3)->state = OMR_MARK_MARKED;
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 3);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 0);
    omr_coded_clear(&c);
    region(b, FA, "Q20", 3)->state = OMR_MARK_DOUBTFUL;
    /* one mark alike only: asked, but proposed as a case of its own */
    *region(b, FA, "Q21", 2) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    *region(a, FA, "Q21", 2) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    c = code(&r, FA, NULL, 0);
    it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && !strcmp(it->proposal, "case") && strstr(it->detail, "1 answer to compare"),
          "one mark alike: proposed case (%s: %s)", it ? it->proposal : "", it ? it->detail : "");
    omr_coded_clear(&c);
    mark(a, FA, "Q21", 2);
    mark(b, FA, "Q21", 2);
    *region(b, FA, "Q20", 3) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    /* the operator confirms: item settled, still 2 cases */
    omr_override_t o = ovr(key, 0, "duplicate");
    c = code(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_INT(c.n_cases, 2);
    omr_coded_clear(&c);
    /* or says it is a case of its own */
    o = ovr(key, 0, "case");
    c = code(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_INT(c.n_cases, 3);
    omr_coded_clear(&c);
    resp_free(&r);

    /* a respondent-part page twice: identical -> duplicate, coded once */
    int p1 = page_of(FA, "Q1");
    a = add_page(&r, FA, p1);
    mark(a, FA, "Q1", 2);
    b = add_page(&r, FA, p1);
    mark(b, FA, "Q1", 2); /* a respondent-part page: any second copy is a duplicate */
    c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 1);
    CHECK_V(&c, FA, 0, "Q1", "2", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* with different marks: still a duplicate, and the question that differs is blocked */
    *region(b, FA, "Q1", 2) = (omr_region_result_t){.state = OMR_MARK_BLANK, .digit = -1};
    mark(b, FA, "Q1", 3);
    mark(a, FA, "Q2_1", -1);
    mark(b, FA, "Q2_1", -1);
    c = code(&r, FA, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 2);
    int page_level = 0, q1 = 0;
    for (int i = 0; i < c.n_items; i++) {
        page_level += c.items[i].question == -1;
        q1 += c.items[i].question == omr_template_question_index(FA, "Q1");
    }
    CHECK(page_level == 1 && q1 == 1, "one page item, one item on 問1");
    CHECK(strstr(item(&c, OMR_REVIEW_DUPLICATE)->detail, "differ") != NULL, "detail says the marks differ");
    CHECK(V(&c, FA, 0, "Q1")->status == OMR_VALUE_REVIEW, "differing question blocked");
    CHECK_V(&c, FA, 0, "Q2_1", "1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* A copy of case page `number` answered on its first region, and on its
 * second when `second`: enough for the duplicate tests to tell copies apart. */
static omr_page_result_t *case_copy(resp_t *r, int number, int second)
{
    omr_page_result_t *p = add_page(r, FA, number);
    p->regions[0].state = OMR_MARK_MARKED;
    p->regions[1].state = second ? OMR_MARK_MARKED : OMR_MARK_BLANK;
    return p;
}

/* Cases one after the other (7 8 9 7 8 9) with the last page of case 1 fed
 * twice, the second scan reading one borderline mark otherwise (held-out
 * corpus, respondent A-000025 on a 200-dpi bitonal scan): the repeat goes to
 * review proposed as a duplicate, case 2 stays case 2 with nothing missing.
 * The same two copies in a packet returned page by page (7 7 8 8 9 9) are two
 * cases, as before. */
static void t_repeat_in_sequence(void)
{
    int cp[16], ncp = case_pages(FA, cp);
    int last = cp[ncp - 1];
    resp_t r = {0};
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < ncp; i++) {
            case_copy(&r, cp[i], k == 1);
            if (k == 1 && cp[i] == last) {
                /* the sheet again, its second region's mark read blank this time */
                omr_page_result_t *q = add_page(&r, FA, last);
                memcpy(q->regions, r.p[r.n - 2].regions, (size_t)q->n_regions * sizeof *q->regions);
                q->regions[1].state = OMR_MARK_BLANK;
                q->regions[2].state = OMR_MARK_MARKED;
            }
        }
    mark(pg(&r, FA, "Q1"), FA, "Q1", 5);
    omr_coded_t c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), 0);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && it->page == ncp && it->case_number == 1 && !strcmp(it->proposal, "duplicate") &&
              strstr(it->detail, "twice in a row"),
          "repeat: page %d case %d proposal %s: %s", it ? it->page : -1, it ? it->case_number : -1,
          it ? it->proposal : "", it ? it->detail : "");
    omr_coded_clear(&c);
    /* the operator says it is a case after all: three cases, the new one missing its other pages */
    char key[64];
    omr_code_page_key(&r.p[ncp], key, sizeof key);
    omr_override_t o = ovr(key, 0, "case");
    c = code(&r, FA, &o, 1);
    CHECK_INT(c.n_cases, 3);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 0);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), ncp - 1);
    omr_coded_clear(&c);
    resp_free(&r);

    /* page by page: 7 7 8 8 9 9, the copies differ: two cases, no item */
    memset(&r, 0, sizeof r);
    for (int i = 0; i < ncp; i++)
        for (int k = 1; k <= 2; k++)
            case_copy(&r, cp[i], k == 1);
    mark(pg(&r, FA, "Q1"), FA, "Q1", 5);
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* Where a copy lies tells a sheet fed again from a case answered alike:
 * 7 8 9 7 8 9 with case 2's page 9 answered exactly as case 1's (two marks
 * alike) carries case 2 on after its page 8: proposed "case" (standard
 * corpus, B-000211). 7 8 9 9 7 8 9 with the repeat reading alike but only
 * one answer to compare: the same page twice in a row, proposed "duplicate"
 * (A-000161). */
static void t_duplicate_by_position(void)
{
    int cp[16], ncp = case_pages(FA, cp);
    int last = cp[ncp - 1];
    resp_t r = {0};
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < ncp; i++)
            case_copy(&r, cp[i], cp[i] == last || k == 1);
    mark(pg(&r, FA, "Q1"), FA, "Q1", 5);
    omr_coded_t c = code(&r, FA, NULL, 0);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && it->page == 2 * ncp - 1 && !strcmp(it->proposal, "case"),
          "case 2's last page answered like case 1's: proposal %s (page %d)", it ? it->proposal : "-",
          it ? it->page : -1);
    omr_coded_clear(&c);
    resp_free(&r);

    memset(&r, 0, sizeof r);
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < ncp; i++) {
            case_copy(&r, cp[i], k != 1);
            if (k == 1 && cp[i] == last) {
                omr_page_result_t *q = add_page(&r, FA, last);
                memcpy(q->regions, r.p[r.n - 2].regions, (size_t)q->n_regions * sizeof *q->regions);
            }
        }
    mark(pg(&r, FA, "Q1"), FA, "Q1", 5);
    c = code(&r, FA, NULL, 0);
    it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && it->page == ncp && !strcmp(it->proposal, "duplicate"),
          "page twice in a row, one answer alike: proposal %s (page %d)", it ? it->proposal : "-", it ? it->page : -1);
    CHECK_INT(c.n_cases, 2);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* What tells a case page scanned twice from two cases answered alike. A
 * copy whose written box could not be read (doubtful, no digit) is still
 * the same page: a duplicate item, not a new case; a box read as another
 * digit is a difference. A text field written in both, or a mark circled
 * around the number in one copy and the option text in the other, is no
 * evidence of one sheet: proposed case. And a box read empty where the
 * sampler saw ink (classify.h, omr_classify_boxes_disagree) goes to review
 * with no proposal, never a certain empty. */
static void t_duplicate_evidence(void)
{
    resp_t r = {0};
    omr_page_result_t *a = pg(&r, FB, "Q25");
    write_in(a, FB, "Q25_a_1", 3, 0.99f);
    write_in(a, FB, "Q25_a_2", 2, 0.99f);
    write_in(a, FB, "Q25_a_3", 4, 0.99f);
    int p25 = page_of(FB, "Q25");
    omr_page_result_t *b = add_page(&r, FB, p25);
    memcpy(b->regions, a->regions, (size_t)a->n_regions * sizeof *a->regions);
    omr_region_result_t *u = region(b, FB, "Q25_a_2", -1);
    u->state = OMR_MARK_DOUBTFUL, u->doubt = OMR_DOUBT_NOT_DIGIT, u->digit = -1, u->digit_conf = 0;
    omr_coded_t c = code(&r, FB, NULL, 0);
    CHECK_INT(c.n_cases, 1);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 1);
    omr_coded_clear(&c);
    u->state = OMR_MARK_MARKED, u->doubt = 0, u->digit = 7, u->digit_conf = 0.99f;
    c = code(&r, FB, NULL, 0);
    CHECK_INT(c.n_cases, 2); /* 2 against 7: another copy answered otherwise */
    omr_coded_clear(&c);
    resp_free(&r);

    /* two cases answering "other" alike: the text written in both is no
     * evidence of one sheet (its words are not compared): proposed case */
    a = pg(&r, FA, "Q29");
    mark(a, FA, "Q29", 3);
    write_in(a, FA, "Q29_3_text", -1, 0);
    b = add_page(&r, FA, page_of(FA, "Q29"));
    memcpy(b->regions, a->regions, (size_t)a->n_regions * sizeof *a->regions);
    c = code(&r, FA, NULL, 0);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && !strcmp(it->proposal, "case"), "one mark and its text alike: proposed case (%s)",
          it ? it->proposal : "no item");
    omr_coded_clear(&c);
    resp_free(&r);

    /* two marks alike, but one circles the number in one copy and the
     * option text in the other: no scan does that, proposed case */
    int p20 = page_of(FA, "Q20");
    a = add_page(&r, FA, p20);
    mark(a, FA, "Q20", 1);
    mark(a, FA, "Q21", 2);
    b = add_page(&r, FA, p20);
    memcpy(b->regions, a->regions, (size_t)a->n_regions * sizeof *a->regions);
    c = code(&r, FA, NULL, 0);
    it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && !strcmp(it->proposal, "duplicate"), "drawn alike: proposed duplicate (%s)", it ? it->proposal : "");
    omr_coded_clear(&c);
    omr_region_result_t *q21 = region(b, FA, "Q21", 2);
    q21->m.ink_label = q21->m.ink * 1.5f;
    q21->m.ink = 0.004f;
    c = code(&r, FA, NULL, 0);
    it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && !strcmp(it->proposal, "case") && strstr(it->detail, "drawn otherwise"),
          "drawn otherwise: proposed case (%s: %s)", it ? it->proposal : "", it ? it->detail : "");
    omr_coded_clear(&c);
    resp_free(&r);

    /* one copy, the box unread: review, the value blocked */
    a = pg(&r, FB, "Q25");
    write_in(a, FB, "Q25_a_1", 3, 0.99f);
    u = region(a, FB, "Q25_a_2", -1);
    u->has_ink = 1, u->state = OMR_MARK_DOUBTFUL, u->doubt = OMR_DOUBT_NOT_DIGIT, u->digit = -1;
    c = code(&r, FB, NULL, 0);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, "Q25_a_2"), 1);
    CHECK(V(&c, FB, 1, "Q25_a_2")->status == OMR_VALUE_REVIEW, "unread box blocked, not a certain empty");
    for (int k = 0; k < c.n_items; k++)
        if (!strcmp(c.items[k].var, "Q25_a_2"))
            CHECK(strstr(c.items[k].detail, "no digit read") != NULL, "the operator is told why: %s", c.items[k].detail);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_codegrid_text(void)
{
    resp_t r = {0};
    omr_page_result_t *p = pg(&r, FB, "Q25");
    write_in(p, FB, "Q25_a_1", 4, 0.8f);
    mark(pg(&r, FB, "Q25s1"), FB, "Q25s1_1", -1);
    mark(pg(&r, FB, "Q29"), FB, "Q29", 2);
    write_in(pg(&r, FB, "company"), FB, "company_text", -1, 0);
    omr_coded_t c = code(&r, FB, NULL, 0);
    CHECK_INT(c.n_cases, 1);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, "Q25_a_1"), 1);
    CHECK(V(&c, FB, 1, "Q25_a_1")->status == OMR_VALUE_REVIEW, "written cell blocked");
    CHECK_V(&c, FB, 1, "Q25_a_2", "", OMR_VALUE_CERTAIN);
    CHECK(V(&c, FB, 1, "Q25s1_1")->status == OMR_VALUE_REVIEW, "routing from a cell under review waits");
    CHECK_V(&c, FB, 1, "Q29s1_text", "-1", OMR_VALUE_CERTAIN); /* 問29 = 2: 問29-1 not applicable */
    CHECK_INT(items(&c, OMR_REVIEW_TEXT, "company_text"), 1);
    CHECK(V(&c, FB, 0, "company_text")->status == OMR_VALUE_REVIEW, "text to transcribe blocked");
    CHECK_V(&c, FB, 0, "department_text", "", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    omr_override_t o[2] = {ovr("Q25_a_1", 1, "4"), ovr("company_text", 0, "株式会社テスト")};
    c = code(&r, FB, o, 2);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FB, 1, "Q25_a_1", "4", OMR_VALUE_RESOLVED);
    CHECK_V(&c, FB, 1, "Q25s1_1", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FB, 0, "company_text", "株式会社テスト", OMR_VALUE_RESOLVED);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_bad_input(void)
{
    resp_t r = {0};
    mark(pg(&r, FA, "Q1"), FA, "Q1", 1);
    omr_coded_t c;
    omr_error_t err;
    omr_override_t o = ovr("Q2_1", 0, "2");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    CHECK(strstr(err.msg, "Q2_1") && strstr(err.msg, "\"2\""), "message: %s", err.msg);
    o = ovr("Q1", 0, "9");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    o = ovr("Q99", 0, "1");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    CHECK(strstr(err.msg, "Q99") != NULL, "message: %s", err.msg);
    o = ovr("page:0000000000000000:7", 0, "duplicate");
    CHECK_INT(code_with(&r, FA, &o, 1, NULL, &c, &err), OMR_EINPUT);
    /* a page of the other form, a region count that disagrees */
    CHECK_INT(code_with(&r, FB, NULL, 0, NULL, &c, &err), OMR_EINPUT);
    r.p[0].n_regions--;
    CHECK_INT(code_with(&r, FA, NULL, 0, NULL, &c, &err), OMR_EINPUT);
    CHECK(strstr(err.msg, "scan00.tif") != NULL, "message names the file: %s", err.msg);
    r.p[0].n_regions++;
    /* a page that is not OK is skipped */
    omr_page_result_t *bad = add_page(&r, FA, page_of(FA, "Q1"));
    bad->status = OMR_PAGE_REGISTER_FAILED;
    mark(bad, FA, "Q1", 4);
    c = code(&r, FA, NULL, 0);
    CHECK_V(&c, FA, 0, "Q1", "1", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* ---- pages not read, pages missing, cases ---- */

/* A whole packet of form f: every respondent-part page once, then the case
 * pages n_cases times, one case after the other (as photocopies are
 * returned), all blank. */
static void packet(resp_t *r, const omr_form_t *f, int n_cases)
{
    for (int p = 1; p <= f->n_pages; p++)
        if (!f->pages[p - 1].is_case)
            add_page(r, f, p);
    for (int k = 0; k < n_cases; k++)
        for (int p = 1; p <= f->n_pages; p++)
            if (f->pages[p - 1].is_case)
                add_page(r, f, p);
}

static omr_coded_t code_raw(resp_t *r, const omr_form_t *f, const omr_override_t *ov, int n_ov)
{
    omr_coded_t out;
    omr_error_t err = {0};
    CHECK(omr_code_respondent(S, f, r->p, r->n, ov, n_ov, NULL, &out, &err) == OMR_OK, "coding failed: %s", err.msg);
    return out;
}

/* How many columns of part `part` (case cs) have status st: those of
 * questions on template page `page` (1-based) when on_page, else the others. */
static int count_status(const omr_coded_t *c, const omr_form_t *f, int cs, int page, int on_page,
                        omr_value_status_t st)
{
    omr_column_t *cols;
    int n = omr_template_columns(f, cs > 0, &cols), k = 0;
    for (int j = 0; j < n; j++) {
        int here = f->questions[cols[j].question].page + 1 == page;
        if (here == on_page && V(c, f, cs, cols[j].name)->status == st)
            k++;
    }
    free(cols);
    return k;
}

static int n_columns_on(const omr_form_t *f, int part, int page)
{
    omr_column_t *cols;
    int n = omr_template_columns(f, part, &cols), k = 0;
    for (int j = 0; j < n; j++)
        k += f->questions[cols[j].question].page + 1 == page;
    free(cols);
    return k;
}

static void t_unread_page(void)
{
    /* form A, one case; page 2 (S4, 問1-問3) came with the respondent's
     * barcode but could not be registered: no readings */
    int p2 = page_of(FA, "Q2");
    CHECK(page_of(FA, "Q5") != p2, "問5 is on another page than its routing source 問2");
    resp_t r = {0};
    packet(&r, FA, 1);
    mark(pg(&r, FA, "Q5"), FA, "Q5", 2);
    mark(pg(&r, FA, "Q20"), FA, "Q20", 3);
    for (int i = 0; i < r.n; i++)
        if (r.p[i].page_number == p2) {
            r.p[i].status = OMR_PAGE_REGISTER_FAILED;
            snprintf(r.p[i].reason, sizeof r.p[i].reason, "corner marks not found");
            free(r.p[i].regions);
            r.p[i].regions = NULL;
            r.p[i].n_regions = 0;
        }
    omr_coded_t c = code_raw(&r, FA, NULL, 0);
    /* the page-level item is the store's: the coder adds none */
    CHECK_INT(c.n_items, 0);
    CHECK_INT(c.n_missing, 0);
    CHECK_INT(c.n_cases, 1);
    /* every column of page 2 waits, none of it certain */
    int n2 = n_columns_on(FA, 0, p2);
    CHECK(n2 > 0, "page 2 has columns");
    CHECK_INT(count_status(&c, FA, 0, p2, 1, OMR_VALUE_REVIEW), n2);
    CHECK(V(&c, FA, 0, "Q1")->status == OMR_VALUE_REVIEW, "問1 waits for its page");
    CHECK(V(&c, FA, 0, "Q2_1")->status == OMR_VALUE_REVIEW, "問2 waits for its page");
    /* 問5 is routed from 問2 (on the unread page): it waits too, keeping its reading */
    CHECK_V(&c, FA, 0, "Q5", "2", OMR_VALUE_REVIEW);
    /* the rest is read: certain */
    CHECK_V(&c, FA, 0, "Q6", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "S2", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q18_1", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 1, "Q20", "3", OMR_VALUE_CERTAIN);
    int q5cols = 0;
    for (int j = 0; j < c.n_values; j++)
        q5cols += c.values[j].case_number == 0 && c.values[j].status == OMR_VALUE_REVIEW;
    /* page 2's columns plus 問5 and its その他 text: nothing else blocked */
    CHECK_INT(q5cols, n2 + 2);
    /* the unread page still belongs to the respondent part */
    for (int i = 0; i < r.n; i++)
        CHECK(c.page_case[i] == (FA->pages[r.p[i].page_number - 1].is_case ? 1 : 0), "page %d case %d", i,
              c.page_case[i]);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_missing_page(void)
{
    /* form A, one case, page 3 (問4-問7) lost from the packet */
    int p3 = page_of(FA, "Q5");
    resp_t r = {0};
    for (int p = 1; p <= FA->n_pages; p++)
        if (p != p3)
            add_page(&r, FA, p);
    mark(pg(&r, FA, "Q2"), FA, "Q2_2", -1); /* 問2 without option 1: 問5 not asked */
    omr_coded_t c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_items, 1);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_MISSING_PAGE);
    char key[64];
    snprintf(key, sizeof key, "page:missing:A:%d:0", p3);
    CHECK(it && !strcmp(it->var, key) && it->page == -1 && it->question == -1 && it->case_number == 0,
          "missing item %s", it ? it->var : "-");
    CHECK(it && !strcmp(it->proposal, "missing"), "proposal");
    CHECK_STR(omr_review_reason_name(OMR_REVIEW_MISSING_PAGE), "missing_page");
    CHECK_STR(omr_review_reason_text(OMR_REVIEW_MISSING_PAGE), "page missing from the respondent's packet");
    int n3 = n_columns_on(FA, 0, p3);
    CHECK_INT(count_status(&c, FA, 0, p3, 1, OMR_VALUE_REVIEW), n3);
    CHECK_INT(count_status(&c, FA, 0, p3, 0, OMR_VALUE_REVIEW), 0);
    CHECK_V(&c, FA, 0, "Q2_2", "1", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_missing, 1);
    CHECK(c.n_missing == 1 && c.missing[0].page_number == p3 && !c.missing[0].confirmed, "listed, not confirmed");
    omr_coded_clear(&c);

    /* the operator confirms it missing: not answered, i.e. empty and certain,
     * never -1 (問5 would be -1 if its page had come blank) */
    omr_override_t o = ovr(key, 0, "missing");
    c = code_raw(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 0, "Q5", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q4_r1", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q7_a_1", "", OMR_VALUE_CERTAIN);
    CHECK_INT(count_status(&c, FA, 0, 0, 0, OMR_VALUE_REVIEW), 0);
    CHECK(c.n_missing == 1 && c.missing[0].confirmed, "listed as confirmed");
    omr_coded_clear(&c);

    /* a value other than "missing", or a key that is no page of the form */
    omr_error_t err;
    o = ovr(key, 0, "duplicate");
    CHECK_INT(omr_code_respondent(S, FA, r.p, r.n, &o, 1, NULL, &c, &err), OMR_EINPUT);
    o = ovr("page:missing:A:99:0", 0, "missing");
    CHECK_INT(omr_code_respondent(S, FA, r.p, r.n, &o, 1, NULL, &c, &err), OMR_EINPUT);
    o = ovr("page:missing:A:8:0", 0, "missing"); /* a case page takes a case 1.. */
    CHECK_INT(omr_code_respondent(S, FA, r.p, r.n, &o, 1, NULL, &c, &err), OMR_EINPUT);

    /* the lost page is found and assigned to the respondent (read now): it
     * is no longer missing, and the decision made before is ignored */
    omr_page_result_t *late = add_page(&r, FA, p3);
    mark(late, FA, "Q6", 1);
    o = ovr(key, 0, "missing");
    c = code_raw(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_INT(c.n_missing, 0);
    CHECK_V(&c, FA, 0, "Q6", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 0, "Q5", "-1", OMR_VALUE_CERTAIN); /* 問2 option 1 not marked */
    omr_coded_clear(&c);
    c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 0, "Q6", "1", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    /* assigned but not read yet (registration failed): blocked, no missing item */
    late->status = OMR_PAGE_REGISTER_FAILED;
    c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_items, 0);
    CHECK_INT(count_status(&c, FA, 0, p3, 1, OMR_VALUE_REVIEW), n3);
    omr_coded_clear(&c);
    resp_free(&r);

    /* no case page came at all: each case page is missing from case 1 */
    for (int p = 1; p <= FA->n_pages; p++)
        if (!FA->pages[p - 1].is_case)
            add_page(&r, FA, p);
    c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 0);
    int cp[16], ncp = case_pages(FA, cp);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), ncp);
    snprintf(key, sizeof key, "page:missing:A:%d:1", cp[0]);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, key), 1);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_missing_case_page(void)
{
    /* three cases returned one after the other; case 2 lacks its first page
     * (7: 問19-問21). 問20 (page 7) and 問22 (page 8) are answered 1, 2, 3 in
     * cases 1, 2, 3. */
    int p7 = page_of(FA, "Q20"), p8 = page_of(FA, "Q22");
    CHECK(p7 != p8 && FA->pages[p7 - 1].is_case, "問20 and 問22 on two case pages");
    int cp[16], ncp = case_pages(FA, cp);
    CHECK(cp[0] == p7, "問20 on the first case page");
    resp_t r = {0};
    for (int p = 1; p <= FA->n_pages; p++)
        if (!FA->pages[p - 1].is_case)
            add_page(&r, FA, p);
    for (int k = 1; k <= 3; k++)
        for (int i = 0; i < ncp; i++) {
            if (k == 2 && cp[i] == p7)
                continue;
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (cp[i] == p7)
                mark(p, FA, "Q20", k);
            if (cp[i] == p8)
                mark(p, FA, "Q22_1", -1), mark(p, FA, k == 1 ? "Q22_2" : k == 2 ? "Q22_3" : "Q22_4", -1);
        }
    omr_coded_t c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 3);
    CHECK_INT(c.n_items, 1);
    char key[64];
    snprintf(key, sizeof key, "page:missing:A:%d:2", p7);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, key), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_MISSING_PAGE);
    CHECK(it && it->case_number == 2, "item of case 2");
    /* cases 1 and 3 read from their own sheets; case 2's page 8 is its own */
    CHECK_V(&c, FA, 1, "Q20", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 3, "Q20", "3", OMR_VALUE_CERTAIN);
    CHECK(V(&c, FA, 2, "Q20")->status == OMR_VALUE_REVIEW, "case 2 問20 waits for its page");
    CHECK_V(&c, FA, 1, "Q22_2", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q22_3", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q22_2", "0", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 3, "Q22_4", "1", OMR_VALUE_CERTAIN);
    int n7 = n_columns_on(FA, 1, p7);
    CHECK_INT(count_status(&c, FA, 2, p7, 1, OMR_VALUE_REVIEW), n7);
    CHECK_INT(count_status(&c, FA, 1, 0, 0, OMR_VALUE_REVIEW) + count_status(&c, FA, 3, 0, 0, OMR_VALUE_REVIEW), 0);
    omr_coded_clear(&c);
    /* confirmed missing: case 2's page 7 is empty, the rest unchanged */
    omr_override_t o = ovr(key, 0, "missing");
    c = code_raw(&r, FA, &o, 1);
    CHECK_INT(c.n_items, 0);
    CHECK_V(&c, FA, 2, "Q20", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 3, "Q20", "3", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);

    /* respondent A 000002's case: the first page of case 1 did not come
     * (no readable barcode), case 2 is whole: 8 9 7 8 9 */
    for (int k = 1; k <= 2; k++)
        for (int i = 0; i < ncp; i++) {
            if (k == 1 && cp[i] == p7)
                continue;
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (cp[i] == p7)
                mark(p, FA, "Q20", 4);
            if (cp[i] == p8)
                mark(p, FA, "Q22_3", -1), mark(p, FA, k == 1 ? "Q22_2" : "Q22_4", -1);
        }
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    snprintf(key, sizeof key, "page:missing:A:%d:1", p7);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, key), 1);
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), 1);
    CHECK(V(&c, FA, 1, "Q20")->status == OMR_VALUE_REVIEW, "case 1 問20 waits");
    CHECK_V(&c, FA, 2, "Q20", "4", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 1, "Q22_2", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q22_4", "1", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FA, 2, "Q22_2", "0", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_case_mapping(void)
{
    int cp[16], ncp = case_pages(FA, cp);
    int p7 = page_of(FA, "Q20");
    CHECK_INT(ncp, 3);
    /* respondent part, then 3 cases one after the other; the middle page of
     * case 2 went through the feeder twice (same sheet: a duplicate) */
    resp_t r = {0};
    int want[32], n = 0;
    for (int p = 1; p <= FA->n_pages; p++)
        if (!FA->pages[p - 1].is_case)
            add_page(&r, FA, p), want[n++] = 0;
    for (int k = 1; k <= 3; k++)
        for (int i = 0; i < ncp; i++) {
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            want[n++] = k;
            /* each case answered by hand: its own marks on every page */
            omr_region_result_t *g = &p->regions[k];
            g->state = OMR_MARK_MARKED;
            g->m.ink = 0.2f + 0.05f * (float)k;
            g->m.score = 0.95f;
            if (k == 2 && i == 1) {
                omr_page_result_t *d = add_page(&r, FA, cp[i]);
                memcpy(d->regions, p->regions, (size_t)p->n_regions * sizeof *p->regions);
                d->regions[k].m.ink += 0.004f;
                want[n++] = -1;
            }
        }
    omr_coded_t c = code_raw(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 3);
    CHECK_INT(c.n_page_case, r.n);
    for (int i = 0; i < r.n && i < c.n_page_case; i++)
        CHECK(c.page_case[i] == want[i], "page %d (%s-%02d): case %d, want %d", i, FA->id, r.p[i].page_number,
              c.page_case[i], want[i]);
    CHECK_INT(items(&c, OMR_REVIEW_DUPLICATE, NULL), 1);
    const omr_review_item_t *it = item(&c, OMR_REVIEW_DUPLICATE);
    CHECK(it && it->case_number == 2, "the duplicate is of case 2");
    CHECK_INT(items(&c, OMR_REVIEW_MISSING_PAGE, NULL), 0);
    omr_coded_clear(&c);
    resp_free(&r);

    /* two cases copied page by page (7 7 8 8 9 9): the k-th copy is case k */
    for (int i = 0; i < ncp; i++)
        for (int k = 1; k <= 2; k++) {
            omr_page_result_t *p = add_page(&r, FA, cp[i]);
            if (cp[i] == p7)
                mark(p, FA, "Q20", k);
        }
    c = code(&r, FA, NULL, 0);
    CHECK_INT(c.n_cases, 2);
    for (int i = 0; i < r.n; i++)
        CHECK(c.page_case[i] == 1 + i % 2, "page %d: case %d", i, c.page_case[i]);
    CHECK_V(&c, FA, 2, "Q20", "2", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* Random readings on every page: whatever the coder decides, a column fed by a
 * doubtful region, a single/grid1 column with two marks, a multi with an
 * exclusive option among several marks, and a written box are never CERTAIN.
 * The expectations come from the readings, not from the coder's items. */
static unsigned rng = 12345;
static unsigned rnd(void) { return rng = rng * 1103515245u + 12345u, (rng >> 16) & 0x7fff; }

static void t_never_certain(void)
{
    const omr_form_t *forms[2] = {FA, FB};
    int bad = 0;
    for (int round = 0; round < 40; round++) {
        const omr_form_t *f = forms[round % 2];
        resp_t r = {0};
        for (int pn = 1; pn <= f->n_pages; pn++) {
            omr_page_result_t *p = add_page(&r, f, pn);
            for (int i = 0; i < p->n_regions; i++) {
                unsigned x = rnd() % 100;
                omr_region_result_t *g = &p->regions[i];
                if (f->pages[pn - 1].regions[i].kind >= OMR_REGION_DIGIT) {
                    if (x < 15)
                        g->has_ink = 1, g->digit = (int)(rnd() % 10), g->digit_conf = 0.5f;
                } else if (x < 10) {
                    g->state = OMR_MARK_MARKED;
                } else if (x < 13) {
                    g->state = OMR_MARK_DOUBTFUL;
                }
            }
        }
        omr_coded_t c = code(&r, f, NULL, 0);
        omr_column_t *cols;
        int n = omr_template_columns(f, 0, &cols);
        for (int j = 0; j < n; j++) {
            const omr_question_t *q = &f->questions[cols[j].question];
            const omr_page_result_t *p = &r.p[q->page];
            const omr_region_t *tr = f->pages[q->page].regions;
            int n_marked = 0, n_doubt = 0, excl = 0, ink = 0, own_doubt = 0;
            for (int i = q->first_region; i < q->first_region + q->n_regions; i++) {
                int same_row = !tr[i].row[0] || !strncmp(cols[j].name + strlen(q->base) + 1, tr[i].row, strlen(tr[i].row));
                if (tr[i].kind == OMR_REGION_TEXT || !same_row)
                    continue;
                n_marked += p->regions[i].state == OMR_MARK_MARKED;
                n_doubt += p->regions[i].state == OMR_MARK_DOUBTFUL;
                for (int k = 0; k < q->n_options; k++)
                    excl |= q->options[k].code == tr[i].code && q->options[k].exclusive &&
                            p->regions[i].state == OMR_MARK_MARKED;
                if (!strcmp(tr[i].var, cols[j].name)) {
                    ink |= p->regions[i].has_ink;
                    own_doubt |= p->regions[i].state == OMR_MARK_DOUBTFUL;
                }
            }
            int must_review = own_doubt || ink;
            if (!cols[j].is_text && (q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_GRID1))
                must_review |= n_marked >= 2 || n_doubt > 0;
            if (!cols[j].is_text && (q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST))
                must_review |= (excl && n_marked >= 2) || n_doubt > 0;
            const omr_value_t *v = V(&c, f, 0, cols[j].name);
            if (must_review && v->status == OMR_VALUE_CERTAIN) {
                if (bad++ < 5)
                    CHECK(0, "round %d: %s = \"%s\" exported as certain", round, cols[j].name, v->value);
            }
        }
        free(cols);
        omr_coded_clear(&c);
        resp_free(&r);
    }
    CHECK_INT(bad, 0);
}

/* ---- number questions, on a small survey of their own (the IPA forms have
 * none): Q1 single 1-2; B4 a number of 4 boxes, asked when Q1 = 1. ---- */

static omr_survey_t *NS;
static const omr_form_t *FN;
static char ndir[64];

/* Box N of the mark-sheet number ID: the bubbles of digits 0-9 stacked down from y = 85, x = X. */
#define BUBBLE(N, X, D, Y) "  box " #N " digit=" #D " bubble=" #X "," #Y ",4,4\n"
#define BUBBLE_COLUMN(N, X)                                                                                  \
    BUBBLE(N, X, 0, 85) BUBBLE(N, X, 1, 90) BUBBLE(N, X, 2, 95) BUBBLE(N, X, 3, 100) BUBBLE(N, X, 4, 105)   \
    BUBBLE(N, X, 5, 110) BUBBLE(N, X, 6, 115) BUBBLE(N, X, 7, 120) BUBBLE(N, X, 8, 125) BUBBLE(N, X, 9, 130)

static int load_number_survey(void)
{
    snprintf(ndir, sizeof ndir, "/tmp/omr-test-code-XXXXXX");
    if (!mkdtemp(ndir))
        return -1;
    const char *files[2][2] = {
        {"survey.omr", "survey id=n code=NUM title=\"numbers\"\nform N\npage form=N number=1 file=N-01.page\n"},
        {"N-01.page", "page survey=n form=N number=1 size=210x297\n"
                      "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n"
                      "barcode box=60,275,90,12\n"
                      "question Q1 kind=single label=\"Q1\"\n  prompt box=20,20,170,6 \"internet at home?\"\n"
                      "  option 1 num=25,35 \"yes\"\n  option 2 num=25,45 \"no\"\n"
                      "question B4 kind=number label=\"B4\" when=Q1:1\n  prompt box=20,55,170,6 \"AUD $\"\n"
                      "  box 1 box=100,65,6,8\n  box 2 box=106,65,6,8\n  box 3 box=112,65,6,8\n"
                      "  box 4 box=118,65,6,8\n"
                      "question ID kind=number label=\"ID\"\n  prompt box=20,75,170,6 \"member number\"\n"
                      BUBBLE_COLUMN(1, 100) BUBBLE_COLUMN(2, 106) BUBBLE_COLUMN(3, 112)
                      "question PIN kind=number label=\"PIN\" full\n  prompt box=20,140,100,6 \"PIN\"\n"
                      BUBBLE_COLUMN(1, 140) BUBBLE_COLUMN(2, 146)
                      "question ZIP kind=number label=\"ZIP\" full\n  prompt box=20,150,100,6 \"ZIP\"\n"
                      "  box 1 box=100,160,6,8\n  box 2 box=106,160,6,8\n  box 3 box=112,160,6,8\n"}};
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", ndir, files[i][0]);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fputs(files[i][1], f);
        fclose(f);
    }
    omr_error_t err = {0};
    if (omr_template_load(ndir, &NS, &err)) {
        fprintf(stderr, "number survey: %s\n", err.msg);
        return -1;
    }
    FN = omr_template_form(NS, "N");
    return FN ? 0 : -1;
}

/* Code respondent r of form N with the survey's own policy (opts NULL) or opts. */
static omr_status_t ncode_with(resp_t *r, const omr_override_t *ov, int n_ov, const omr_code_options_t *opts,
                               omr_coded_t *out, omr_error_t *err)
{
    return omr_code_respondent(NS, FN, r->p, r->n, ov, n_ov, opts, out, err);
}

static omr_coded_t ncode(resp_t *r, const omr_override_t *ov, int n_ov, const omr_code_options_t *opts)
{
    omr_coded_t out;
    omr_error_t err = {0};
    CHECK(ncode_with(r, ov, n_ov, opts, &out, &err) == OMR_OK, "coding failed: %s", err.msg);
    return out;
}

/* A page of form N: Q1 answered `q1` (0: not at all), digits[b] written in
 * box b + 1 ('0'-'9'; ' ' empty; '?' ink and no digit read) with confidence conf. */
static omr_page_result_t *npage(resp_t *r, int q1, const char *digits, float conf)
{
    omr_page_result_t *p = add_page(r, FN, 1);
    if (q1)
        mark(p, FN, "Q1", q1);
    for (int b = 0; digits[b] && b < 4; b++) {
        char var[16];
        snprintf(var, sizeof var, "B4_d%d", b + 1);
        if (digits[b] == ' ')
            continue;
        if (digits[b] == '?') { /* the reader found something that is not a digit */
            write_in(p, FN, var, -1, 0);
            region(p, FN, var, -1)->state = OMR_MARK_DOUBTFUL;
            region(p, FN, var, -1)->doubt = OMR_DOUBT_NOT_DIGIT;
        } else {
            write_in(p, FN, var, digits[b] - '0', conf);
        }
    }
    return p;
}

static const omr_review_item_t *b4_item(const omr_coded_t *c)
{
    for (int i = 0; i < c->n_items; i++)
        if (c->items[i].reason == OMR_REVIEW_HANDWRITTEN && !strcmp(c->items[i].var, "B4"))
            return &c->items[i];
    return NULL;
}

static void t_number(void)
{
    /* right-aligned 43 under the default policy (review): the digits joined,
     * held for review as one item with that proposal */
    resp_t r = {0};
    npage(&r, 1, "  43", 0.99f);
    omr_coded_t c = ncode(&r, NULL, 0, NULL);
    CHECK_V(&c, FN, 0, "B4", "43", OMR_VALUE_REVIEW);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, NULL), 1);
    const omr_review_item_t *it = b4_item(&c);
    CHECK(it && !strcmp(it->proposal, "43") && it->question == omr_template_question_index(FN, "B4"), "item");
    omr_coded_clear(&c);
    resp_free(&r);
    /* left-aligned 12 */
    npage(&r, 1, "12  ", 0.99f);
    c = ncode(&r, NULL, 0, NULL);
    CHECK_V(&c, FN, 0, "B4", "12", OMR_VALUE_REVIEW);
    omr_coded_clear(&c);
    resp_free(&r);
    /* nothing written: empty and certain, no item */
    npage(&r, 1, "    ", 0);
    c = ncode(&r, NULL, 0, NULL);
    CHECK_V(&c, FN, 0, "B4", "", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_number_doubtful(void)
{
    omr_code_options_t opts;
    omr_code_options_default(&opts);
    opts.digit_accept_conf = 0.9;
    /* a gap: "4 3" is doubtful, even under the auto policy with sure digits */
    resp_t r = {0};
    npage(&r, 1, "4 3 ", 0.99f);
    omr_coded_t c = ncode(&r, NULL, 0, &opts);
    CHECK(V(&c, FN, 0, "B4")->status == OMR_VALUE_REVIEW, "a gap accepted");
    const omr_review_item_t *it = b4_item(&c);
    CHECK(it && !strcmp(it->proposal, "43") && strstr(it->detail, "box 2"), "gap item: %s", it ? it->detail : "none");
    omr_coded_clear(&c);
    resp_free(&r);
    /* ink in a box and no digit read: doubtful, and no proposal */
    npage(&r, 1, " ?5 ", 0.99f);
    c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "B4", "", OMR_VALUE_REVIEW);
    it = b4_item(&c);
    CHECK(it && it->proposal[0] == 0 && strstr(it->detail, "box 2"), "unread item: %s", it ? it->detail : "none");
    omr_coded_clear(&c);
    resp_free(&r);
    /* read empty on a scan too light for pencil: not a certain empty */
    omr_page_result_t *p = npage(&r, 1, "    ", 0);
    region(p, FN, "B4_d1", -1)->state = OMR_MARK_DOUBTFUL;
    region(p, FN, "B4_d1", -1)->doubt = OMR_DOUBT_LIGHT_SCAN;
    c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "B4", "", OMR_VALUE_REVIEW);
    CHECK(b4_item(&c) != NULL, "no item for a light scan");
    omr_coded_clear(&c);
    resp_free(&r);
}

/* A page of form N whose mark-sheet number ID has, in box b + 1, digits[b]
 * marked ('0'-'9'; ' ' nothing), and the bubble of digit doubts[b] doubtful
 * (' ' none). */
static omr_page_result_t *id_page(resp_t *r, const char *digits, const char *doubts)
{
    omr_page_result_t *p = add_page(r, FN, 1);
    mark(p, FN, "Q1", 2);
    for (int b = 0; b < 3; b++) {
        char var[16];
        snprintf(var, sizeof var, "ID_d%d", b + 1);
        if (digits[b] != ' ')
            mark(p, FN, var, digits[b] - '0');
        if (doubts[b] != ' ')
            doubt(p, FN, var, doubts[b] - '0');
    }
    return p;
}

static const omr_review_item_t *id_item(const omr_coded_t *c, omr_review_reason_t reason)
{
    for (int i = 0; i < c->n_items; i++)
        if (c->items[i].reason == reason && !strcmp(c->items[i].var, "ID"))
            return &c->items[i];
    return NULL;
}

/* A number printed as bubble columns: the digits of its boxes, certain when
 * every box has one bubble marked or none; one item for the number otherwise. */
static void t_number_bubbles(void)
{
    struct {
        const char *digits, *doubts, *value; /* value: exported, or the proposal when held */
        omr_review_reason_t reason;          /* 0: certain, no item */
        const char *detail;                  /* a word the item must say */
    } cases[] = {
        {"047", "   ", "047", 0, NULL},                                       /* a leading zero kept */
        {"   ", "   ", "", 0, NULL},                                          /* no answer */
        {" 42", "   ", "42", 0, NULL},                                        /* right-aligned */
        {"31 ", "   ", "31", 0, NULL},                                        /* left-aligned */
        {"04 ", "  7", "047", OMR_REVIEW_DOUBTFUL_MARK, "box 3"},             /* a faint fill in box 3 */
        {"047", " 5 ", "047", OMR_REVIEW_DOUBTFUL_MARK, "box 2"},             /* a trace beside a mark */
        {"1 5", "   ", "", OMR_REVIEW_DOUBTFUL_MARK, "box 2 between"},        /* a gap */
        {"   ", "3  ", "3", OMR_REVIEW_DOUBTFUL_MARK, "box 1"},               /* only a doubtful bubble */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp_t r = {0};
        id_page(&r, cases[i].digits, cases[i].doubts);
        omr_coded_t c = ncode(&r, NULL, 0, NULL);
        const omr_value_t *v = V(&c, FN, 0, "ID");
        const omr_review_item_t *it = id_item(&c, cases[i].reason);
        if (!cases[i].reason) {
            CHECK(!strcmp(v->value, cases[i].value) && v->status == OMR_VALUE_CERTAIN && c.n_items == 0,
                  "'%s': got \"%s\"/%d, %d items", cases[i].digits, v->value, (int)v->status, c.n_items);
        } else {
            CHECK(v->status == OMR_VALUE_REVIEW && it && !strcmp(it->proposal, cases[i].value) &&
                      strstr(it->detail, cases[i].detail) && c.n_items == 1,
                  "'%s'/'%s': status %d, item %s proposal %s, %d items", cases[i].digits, cases[i].doubts,
                  (int)v->status, it ? it->detail : "none", it ? it->proposal : "", c.n_items);
        }
        omr_coded_clear(&c);
        resp_free(&r);
    }
    /* two bubbles in box 2: held, no proposal (which one?) */
    resp_t r = {0};
    omr_page_result_t *p = id_page(&r, "047", "   ");
    mark(p, FN, "ID_d2", 7);
    omr_coded_t c = ncode(&r, NULL, 0, NULL);
    const omr_review_item_t *it = id_item(&c, OMR_REVIEW_MULTIPLE_MARKS);
    CHECK(V(&c, FN, 0, "ID")->status == OMR_VALUE_REVIEW && it && !it->proposal[0] && strstr(it->detail, "(4,7)"),
          "two in a box: %s", it ? it->detail : "no item");
    omr_coded_clear(&c);
    /* the operator's reading settles it */
    omr_override_t o = ovr("ID", 0, "077");
    c = ncode(&r, &o, 1, NULL);
    CHECK_V(&c, FN, 0, "ID", "077", OMR_VALUE_RESOLVED);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

/* A number that fills every box (question … full): an empty box at either
 * end is a digit lost, not a shorter number. */
static void t_number_full(void)
{
    omr_code_options_t opts;
    omr_code_options_default(&opts);
    opts.digit_accept_conf = 0.9; /* written digits accepted, so only the rule holds ZIP back */
    resp_t r = {0};
    omr_page_result_t *p = add_page(&r, FN, 1);
    mark(p, FN, "Q1", 2);
    mark(p, FN, "PIN_d1", 0), mark(p, FN, "PIN_d2", 7);
    write_in(p, FN, "ZIP_d1", 1, 0.99f), write_in(p, FN, "ZIP_d2", 0, 0.99f), write_in(p, FN, "ZIP_d3", 5, 0.99f);
    omr_coded_t c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "PIN", "07", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FN, 0, "ZIP", "105", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
    /* the last bubble column and the first written box left empty: held, no proposal */
    p = add_page(&r, FN, 1);
    mark(p, FN, "Q1", 2);
    mark(p, FN, "PIN_d1", 3);
    write_in(p, FN, "ZIP_d2", 0, 0.99f), write_in(p, FN, "ZIP_d3", 5, 0.99f);
    c = ncode(&r, NULL, 0, &opts);
    const omr_value_t *pin = V(&c, FN, 0, "PIN"), *zip = V(&c, FN, 0, "ZIP");
    CHECK(pin->status == OMR_VALUE_REVIEW && !pin->value[0], "PIN \"%s\"/%d", pin->value, (int)pin->status);
    CHECK(zip->status == OMR_VALUE_REVIEW && !zip->value[0], "ZIP \"%s\"/%d", zip->value, (int)zip->status);
    int said = 0;
    for (int i = 0; i < c.n_items; i++)
        said += strstr(c.items[i].detail, "box 2 of a number that fills every box") != NULL ||
                strstr(c.items[i].detail, "box 1 of a number that fills every box") != NULL;
    CHECK_INT(said, 2);
    omr_coded_clear(&c);
    resp_free(&r);
    /* unanswered stays no answer */
    p = add_page(&r, FN, 1);
    mark(p, FN, "Q1", 2);
    c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "PIN", "", OMR_VALUE_CERTAIN);
    CHECK_V(&c, FN, 0, "ZIP", "", OMR_VALUE_CERTAIN);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_number_policy(void)
{
    omr_code_options_t opts;
    omr_code_options_default(&opts);
    opts.digit_accept_conf = 0.9;
    /* icr_policy=auto: every digit at or above the threshold: certain, no item */
    resp_t r = {0};
    omr_page_result_t *p = npage(&r, 1, "1234", 0.95f);
    omr_coded_t c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "B4", "1234", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    /* one digit under it: the whole number to review, proposal pre-filled */
    region(p, FN, "B4_d3", -1)->digit_conf = 0.5f;
    c = ncode(&r, NULL, 0, &opts);
    CHECK_V(&c, FN, 0, "B4", "1234", OMR_VALUE_REVIEW);
    CHECK_INT(items(&c, OMR_REVIEW_HANDWRITTEN, "B4"), 1);
    omr_coded_clear(&c);
    /* the survey's own policy (icr_policy=review, the default): sure digits still go to review */
    region(p, FN, "B4_d3", -1)->digit_conf = 0.95f;
    c = ncode(&r, NULL, 0, NULL);
    CHECK(V(&c, FN, 0, "B4")->status == OMR_VALUE_REVIEW && b4_item(&c), "review policy accepted a number");
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_number_routing(void)
{
    /* Q1 = 2 skips B4: nothing written is -1 */
    resp_t r = {0};
    npage(&r, 2, "    ", 0);
    omr_coded_t c = ncode(&r, NULL, 0, NULL);
    CHECK_V(&c, FN, 0, "B4", "-1", OMR_VALUE_CERTAIN);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
    /* written although skipped: a routing item as well */
    npage(&r, 2, "   7", 0.99f);
    c = ncode(&r, NULL, 0, NULL);
    CHECK_INT(items(&c, OMR_REVIEW_ROUTING, ""), 1);
    CHECK(V(&c, FN, 0, "B4")->status == OMR_VALUE_REVIEW, "answered against the routing, not blocked");
    omr_coded_clear(&c);
    /* the operator drops it as not applicable ("-1" to the routing item
     * overrides B4 with ""): not applicable, -1 */
    omr_override_t o = ovr("B4", 0, "");
    c = ncode(&r, &o, 1, NULL);
    CHECK_V(&c, FN, 0, "B4", "-1", OMR_VALUE_RESOLVED);
    CHECK_INT(c.n_items, 0);
    omr_coded_clear(&c);
    resp_free(&r);
}

static void t_number_overrides(void)
{
    resp_t r = {0};
    npage(&r, 1, " ?5 ", 0.99f);
    /* the operator types the number: resolved, the item settled */
    omr_override_t o = ovr("B4", 0, "0435");
    omr_coded_t c = ncode(&r, &o, 1, NULL);
    CHECK_V(&c, FN, 0, "B4", "0435", OMR_VALUE_RESOLVED);
    CHECK(b4_item(&c) == NULL, "item not settled");
    omr_coded_clear(&c);
    o = ovr("B4", 0, "");
    c = ncode(&r, &o, 1, NULL);
    CHECK_V(&c, FN, 0, "B4", "", OMR_VALUE_RESOLVED);
    omr_coded_clear(&c);
    /* digits only, at most one per box */
    const char *bad[] = {"12a", "12345", "-1", "4 3", "+43", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        omr_error_t err = {0};
        o = ovr("B4", 0, bad[i]);
        CHECK(ncode_with(&r, &o, 1, NULL, &c, &err) == OMR_EINPUT && strstr(err.msg, "B4"), "accepted \"%s\": %s",
              bad[i], err.msg);
        CHECK_INT(c.n_values, 0);
    }
    resp_free(&r);
}

int main(void)
{
    omr_error_t err = {0};
    if (omr_template_load("templates/ipa-itsc-2018", &S, &err)) {
        fprintf(stderr, "cannot load the template: %s\n", err.msg);
        return 1;
    }
    FA = omr_template_form(S, "A");
    FB = omr_template_form(S, "B");
    if (!FA || !FB) {
        fprintf(stderr, "template lacks form A or B\n");
        return 1;
    }
    RUN(t_single_multi_empty);
    RUN(t_routing);
    RUN(t_routing_keeps_grid);
    RUN(t_routing_pending);
    RUN(t_routing_skipped_doubtful);
    RUN(t_exclusive);
    RUN(t_two_marks_and_doubtful);
    RUN(t_other_text);
    RUN(t_top3);
    RUN(t_top3_other);
    RUN(t_grids);
    RUN(t_cases);
    RUN(t_duplicates);
    RUN(t_duplicate_evidence);
    RUN(t_repeat_in_sequence);
    RUN(t_duplicate_by_position);
    RUN(t_light_copy_superseded);
    RUN(t_codegrid_text);
    RUN(t_bad_input);
    RUN(t_unread_page);
    RUN(t_missing_page);
    RUN(t_missing_case_page);
    RUN(t_case_mapping);
    RUN(t_never_certain);
    if (load_number_survey() == 0) {
        RUN(t_number);
        RUN(t_number_doubtful);
        RUN(t_number_policy);
        RUN(t_number_routing);
        RUN(t_number_overrides);
        RUN(t_number_bubbles);
        RUN(t_number_full);
    } else {
        check_failed++;
        printf("FAIL the number survey does not load\n");
    }
    omr_template_free(NS);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ndir);
    if (ndir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", ndir);
    omr_template_free(S);
    return check_report();
}
