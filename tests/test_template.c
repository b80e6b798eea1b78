/* test_template.c -- the template loader: a valid survey loads with the
 * regions, columns and routing FORMAT.md promises, and every kind of broken
 * template is refused with file:line and its reason. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "template.h"

static char dir[256];

static void write_file(const char *name, const char *text) { check_write_file(dir, name, text); }

static const char *SURVEY = "survey id=t code=TST title=\"test\"\n"
                            "form A title=\"form A\"\n"
                            "page form=A number=1 file=A-01.page\n"
                            "page form=A number=2 file=A-02.page case\n";

/* Page 1: a single choice with an "other" field, a multi with an exclusive
 * option and routing, a top-3, a grid. Line numbers matter to the tests below. */
static const char *PAGE1 =
    "page survey=t form=A number=1 size=210x297\n"                                   /* 1 */
    "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n" /* 2-5 */
    "barcode box=60,275,90,12\n"                                                     /* 6 */
    "text box=20,15,170,8 size=12 bold \"title\"\n"                                  /* 7 */
    "question S1 kind=single label=\"S1\"\n"                                          /* 8 */
    "  prompt box=20,25,170,6 \"pick one\"\n"                                        /* 9 */
    "  option 1 num=25,35 label=30,32,50,6 \"one\"\n"                                 /* 10 */
    "  option 2 num=25,45 label=30,42,50,6 other \"other\"\n"                         /* 11 */
    "  field for=2 box=85,42,60,6\n"                                                 /* 12 */
    "question Q2 kind=multi label=\"問2\" when=S1:1\n"                                /* 13 */
    "  prompt box=20,55,170,6 \"pick any\"\n"                                        /* 14 */
    "  option 1 num=25,65 label=30,62,50,6 \"a\"\n"                                   /* 15 */
    "  option 2 num=25,75 label=30,72,50,6 exclusive \"none\"\n"                      /* 16 */
    "question Q4 kind=top3 label=\"問4\"\n"                                           /* 17 */
    "  prompt box=20,85,170,6 \"top three\"\n"                                       /* 18 */
    "  box 1 box=25,95,9,11\n  box 2 box=36,95,9,11\n  box 3 box=47,95,9,11\n"       /* 19-21 */
    "  option 1 num=25,112 \"x\"\n  option 2 num=25,118 \"y\"\n  option 3 num=25,124 \"z\"\n" /* 22-24 */
    "question Q8 kind=grid1 label=\"問8\"\n"                                          /* 25 */
    "  prompt box=20,130,170,6 \"grid\"\n"                                           /* 26 */
    "  col 1 label=100,140,20,8 \"yes\"\n  col 2 label=120,140,20,8 \"no\"\n"        /* 27-28 */
    "  row a label=20,148,80,8 \"row a\"\n  row b label=20,156,80,8 \"row b\"\n"     /* 29-30 */
    "  cell row=a col=1 box=108,149,5,5\n  cell row=a col=2 box=128,149,5,5\n"       /* 31-32 */
    "  cell row=b col=1 box=108,157,5,5\n  cell row=b col=2 box=128,157,5,5\n";      /* 33-34 */

static const char *PAGE2 = "page survey=t form=A number=2 size=210x297\n"
                           "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n"
                           "barcode box=60,275,90,12\n"
                           "question Q20 kind=single label=\"問20\"\n"
                           "  prompt box=20,25,170,6 \"case question\"\n"
                           "  option 1 num=25,35 \"yes\"\n"
                           "  option 2 num=25,45 \"no\"\n"
                           "question Q29s1 kind=text label=\"問29-1\" when=Q20:1\n"
                           "  prompt box=20,55,170,6 \"free text\"\n"
                           "  field box=20,65,170,30\n";

/* Load with page 1 replaced by `page1`; returns the status, message in err. */
static omr_status_t load_with(const char *page1, omr_error_t *err, omr_survey_t **ps)
{
    write_file("survey.omr", SURVEY);
    write_file("A-01.page", page1);
    write_file("A-02.page", PAGE2);
    *ps = NULL;
    return omr_template_load(dir, ps, err);
}

/* Replace the first occurrence of `from` in PAGE1 with `to`. */
static char *page1_with(const char *from, const char *to)
{
    static char buf[8192];
    const char *at = strstr(PAGE1, from);
    if (!at) {
        fprintf(stderr, "test bug: '%s' not in PAGE1\n", from);
        exit(2);
    }
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - PAGE1), PAGE1, to, at + strlen(from));
    return buf;
}

/* The broken page must be refused, and the message must hold want_where
 * ("A-01.page:13") and want_reason. */
static void expect_refused(const char *page1, const char *want_where, const char *want_reason)
{
    omr_error_t err = {0};
    omr_survey_t *s;
    omr_status_t st = load_with(page1, &err, &s);
    CHECK(st == OMR_EINPUT, "status %d (%s), want malformed input; msg: %s", st, omr_status_name(st), err.msg);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, want_where) != NULL, "message '%s' lacks '%s'", err.msg, want_where);
    CHECK(strstr(err.msg, want_reason) != NULL, "message '%s' lacks '%s'", err.msg, want_reason);
    omr_template_free(s);
}

static void valid_survey_loads(void)
{
    omr_error_t err = {0};
    omr_survey_t *s;
    CHECK(load_with(PAGE1, &err, &s) == OMR_OK, "%s", err.msg);
    if (!s)
        return;
    CHECK_STR(s->code, "TST");
    const omr_form_t *f = omr_template_form(s, "A");
    CHECK(f && f->n_pages == 2 && f->n_questions == 6);
    if (!f)
        goto out;
    const omr_page_t *p = &f->pages[0];
    /* S1: 2 circles + 1 field; Q2: 2 circles; Q4: 3 boxes; Q8: 4 cells */
    CHECK_INT(p->n_regions, 12);
    CHECK_STR(p->regions[0].var, "S1");
    CHECK_INT(p->regions[1].code, 2);
    CHECK_STR(p->regions[2].var, "S1_2_text");
    CHECK_STR(p->regions[3].var, "Q2_1");
    CHECK(p->regions[3].kind == OMR_REGION_CIRCLE);
    /* the circle target is the ring around num, the label the option text */
    CHECK(p->regions[3].box.x == 25 - 2.6 && p->regions[3].box.w == 2 * 2.6);
    CHECK(p->regions[3].label.x == 30 && p->regions[3].label.w == 50);
    CHECK_STR(p->regions[5].var, "Q4_r1");
    CHECK(p->regions[5].kind == OMR_REGION_DIGIT);
    CHECK_STR(p->regions[8].var, "Q8_a");
    CHECK_STR(p->regions[8].row, "a");
    CHECK(p->regions[8].kind == OMR_REGION_CHECK);
    /* marks are sorted TL, TR, BL, BR whatever the file's order */
    CHECK(p->mark_x[0] == 10 && p->mark_y[0] == 10 && p->mark_x[3] == 200 && p->mark_y[3] == 287);
    const omr_question_t *q2 = omr_template_question(f, "Q2");
    CHECK(q2 && q2->route_question == 0 && q2->route_codes == (1u << 1));
    CHECK(q2 && q2->options[1].exclusive && !q2->options[0].exclusive);
    const omr_question_t *q29 = omr_template_question(f, "Q29s1");
    CHECK(q29 && q29->is_case && q29->route_question == omr_template_question_index(f, "Q20"));
    /* print items: the option number and text come from the same statement as the region */
    int numbers = 0, checkboxes = 0;
    for (int i = 0; i < p->n_items; i++) {
        numbers += p->items[i].kind == OMR_ITEM_NUMBER;
        checkboxes += p->items[i].kind == OMR_ITEM_FRAME && (p->items[i].flags & OMR_ITEM_CHECKBOX);
    }
    CHECK_INT(numbers, 2 + 2 + 3);
    CHECK_INT(checkboxes, 4);

    /* columns as coding.md names them */
    omr_column_t *cols;
    int n = omr_template_columns(f, 0, &cols);
    const char *want[] = {"S1", "S1_2_text", "Q2_1", "Q2_2", "Q4_r1", "Q4_r2", "Q4_r3", "Q8_a", "Q8_b"};
    CHECK_INT(n, 9);
    for (int i = 0; i < n && i < 9; i++)
        CHECK_STR(cols[i].name, want[i]);
    free(cols);
    n = omr_template_columns(f, 1, &cols);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(cols[0].name, "Q20");
        CHECK_STR(cols[1].name, "Q29s1_text");
        CHECK(cols[1].is_text);
    }
    free(cols);
out:
    omr_template_free(s);
}

static void refuses_syntax_errors(void)
{
    expect_refused(page1_with("\"pick one\"", "\"pick one"), "A-01.page:9:", "unterminated string");
    expect_refused(page1_with("  option 1 num=25,35", "  option 1 num=25;35"), "A-01.page:10:", "not 2 numbers");
    expect_refused(page1_with("  box 2 box=36,95,9,11", "  box 2 box=36,95,9"), "A-01.page:20:", "box");
    expect_refused(page1_with("  prompt box=20,55", "  propmt box=20,55"), "A-01.page:14:", "unknown statement 'propmt'");
    expect_refused(page1_with("exclusive \"none\"", "exclusiv \"none\""), "A-01.page:16:", "unexpected word 'exclusiv'");
    expect_refused(page1_with("\"one\"", "one"), "A-01.page:10:", "printed text goes in quotes");
    expect_refused(page1_with("label=30,42,50,6 other", "lable=30,42,50,6 other"), "A-01.page:11:",
                   "unknown attribute 'lable'");
}

static void refuses_unknown_kind(void)
{
    expect_refused(page1_with("kind=multi", "kind=multiple"), "A-01.page:13:", "unknown kind 'multiple'");
}

static void refuses_overlaps_and_off_page(void)
{
    /* option 2's ring moved onto option 1's */
    expect_refused(page1_with("option 2 num=25,45", "option 2 num=26,37"), "A-01.page:11:",
                   "overlaps the circle target of S1");
    /* a grid cell on top of another */
    expect_refused(page1_with("cell row=b col=2 box=128,157,5,5", "cell row=b col=2 box=110,150,5,5"),
                   "A-01.page:34:", "overlaps the checkbox of Q8_a");
    /* a checkbox over a corner mark */
    expect_refused(page1_with("cell row=b col=2 box=128,157,5,5", "cell row=b col=2 box=197,284,5,5"),
                   "A-01.page:34:", "corner mark");
    /* off the page */
    expect_refused(page1_with("field for=2 box=85,42,60,6", "field for=2 box=185,42,60,6"), "A-01.page:12:",
                   "leaves the page");
}

static void refuses_duplicates(void)
{
    expect_refused(page1_with("question Q4 kind=top3", "question Q2 kind=top3"), "A-01.page:17:",
                   "question Q2 is defined twice");
    /* a text question whose var makes it write S1's "other" column S1_2_text */
    char page[8192];
    snprintf(page, sizeof page, "%s%s", PAGE1,
             "question X kind=text var=S1_2 label=\"x\"\n" /* 35 */
             "  prompt box=20,170,170,6 \"x\"\n  field box=20,180,100,10\n");
    expect_refused(page, "A-01.page:35:", "column S1_2_text of question X is also a column of question S1");
    /* a column that two questions write: S1 as a single, and a question "S1_2" writing S1_2_text? use var=S1 */
    expect_refused(page1_with("question Q4 kind=top3 label=\"問4\"", "question Q4 kind=top3 var=Q8 label=\"問4\"\n"
                                                                    "  field for=9 box=1,1,1,1"),
                   "A-01.page:", "for=9");
}

static void refuses_bad_routing(void)
{
    expect_refused(page1_with("when=S1:1", "when=Q99:1"), "A-01.page:13:", "Q99, which is not on form A");
    expect_refused(page1_with("when=S1:1", "when=S1:7"), "A-01.page:13:", "code 7");
    expect_refused(page1_with("when=S1:1", "when=S1"), "A-01.page:13:", "SOURCE:CODES");
}

static void refuses_incomplete_questions(void)
{
    expect_refused(page1_with("  cell row=b col=2 box=128,157,5,5\n", ""), "A-01.page:25:", "3 cells for 2 rows x 2");
    expect_refused(page1_with("  box 3 box=47,95,9,11\n", ""), "A-01.page:17:", "2 write-in boxes");
    expect_refused(page1_with("  option 1 num=25,35 label", "  option 1 label"), "A-01.page:10:", "needs num=");
    expect_refused(page1_with("  cell row=a col=1 box=108,149,5,5", "  cell row=z col=1 box=108,149,5,5"),
                   "A-01.page:31:", "declare the row");
    expect_refused(page1_with("mark at=200,287 size=6\n", ""), "A-01.page:1:", "3 corner marks");
}

static void refuses_page_mismatch(void)
{
    expect_refused(page1_with("number=1", "number=2"), "A-01.page:1:", "lists it as page 1");
    expect_refused(page1_with("form=A", "form=B"), "A-01.page:1:", "page of form 'B'");
    /* a missing page file names the file */
    write_file("survey.omr", "survey id=t code=TST\nform A\npage form=A number=1 file=nope.page\n");
    omr_error_t err = {0};
    omr_survey_t *s;
    CHECK(omr_template_load(dir, &s, &err) == OMR_EIO);
    CHECK(strstr(err.msg, "nope.page") != NULL, "%s", err.msg);
    /* a survey file statement error names the survey file and line */
    write_file("survey.omr", "survey id=t code=tst\n");
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT);
    CHECK(strstr(err.msg, "survey.omr:1:") && strstr(err.msg, "upper-case"), "%s", err.msg);
}

static void icr_policy_parses(void)
{
    omr_error_t err = {0};
    omr_survey_t *s;
    write_file("A-01.page", PAGE1);
    write_file("A-02.page", PAGE2);
    const char *forms = "form A title=\"form A\"\npage form=A number=1 file=A-01.page\n"
                        "page form=A number=2 file=A-02.page case\n";
    char text[512];
    snprintf(text, sizeof text, "survey id=t code=TST%s", "\n");
    /* default: review every written box */
    snprintf(text, sizeof text, "survey id=t code=TST\n%s", forms);
    write_file("survey.omr", text);
    CHECK(omr_template_load(dir, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(s && s->icr_accept_conf == 0);
    omr_template_free(s);
    /* auto: the validated threshold */
    snprintf(text, sizeof text, "survey id=t code=TST icr_policy=auto\n%s", forms);
    write_file("survey.omr", text);
    CHECK(omr_template_load(dir, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(s && s->icr_accept_conf > 0.9 && s->icr_accept_conf < 1);
    omr_template_free(s);
    /* a threshold below the validated one is refused: it was never shown safe */
    snprintf(text, sizeof text, "survey id=t code=TST icr_policy=auto:0.5\n%s", forms);
    write_file("survey.omr", text);
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT);
    CHECK(strstr(err.msg, "survey.omr:1:") && strstr(err.msg, "validated"), "%s", err.msg);
    snprintf(text, sizeof text, "survey id=t code=TST icr_policy=sometimes\n%s", forms);
    write_file("survey.omr", text);
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT);
    CHECK(strstr(err.msg, "expected review, auto"), "%s", err.msg);
}

/* Forms printed by another tool: L-shaped corner marks, i25 barcodes with a
 * fixed page ID, tick boxes in a single choice, filled=cancel; and their
 * refusals. */
static void foreign_forms(void)
{
    const char *L = "mark at=12,12 shape=corner size=8 line=0.4\nmark at=198,12 shape=corner size=8 line=0.4\n"
                    "mark at=12,285 shape=corner size=8 line=0.4\nmark at=198,285 shape=corner size=8 line=0.4\n";
    const char *squares = "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n";
    char p1[8192], p2[4096];
    snprintf(p1, sizeof p1, "%s", page1_with(squares, L));
    /* page 1 with L marks and a fixed i25 page ID; page 2 needs one as well */
    char *at = strstr(p1, "barcode box=60,275,90,12");
    CHECK(at != NULL);
    char tmp[8192];
    snprintf(tmp, sizeof tmp, "%.*sbarcode box=60,275,90,12 kind=i25 value=00000101%s", (int)(at - p1), p1,
             at + strlen("barcode box=60,275,90,12"));
    omr_error_t err = {0};
    omr_survey_t *s;
    CHECK(load_with(tmp, &err, &s) == OMR_EINPUT, "a survey with one fixed page ID and one without loaded");
    CHECK(strstr(err.msg, "either every page has one or none"), "%s", err.msg);
    snprintf(p2, sizeof p2, "%s", PAGE2);
    char *b2 = strstr(p2, "barcode box=60,275,90,12\n");
    CHECK(b2 != NULL);
    char page2[4096];
    snprintf(page2, sizeof page2, "%.*sbarcode box=60,275,90,12 kind=i25 value=00000102\n%s", (int)(b2 - p2), p2,
             b2 + strlen("barcode box=60,275,90,12\n"));
    write_file("survey.omr", "survey id=t code=TST filled=cancel\nform A\npage form=A number=1 file=A-01.page\n"
                             "page form=A number=2 file=A-02.page case\n");
    write_file("A-01.page", tmp);
    write_file("A-02.page", page2);
    CHECK(omr_template_load(dir, &s, &err) == OMR_OK, "%s", err.msg);
    if (s) {
        const omr_page_t *pg = &s->forms[0].pages[0];
        CHECK_INT(pg->mark_shape, OMR_MARK_CORNER);
        CHECK(pg->barcode_kind == OMR_BARCODE_I25 && pg->barcode_value && !strcmp(pg->barcode_value, "00000101"));
        CHECK(s->ids_by_value == 1 && s->filled_cancels == 1);
        /* the bottom-right L extends up and left from its inside corner */
        omr_rect_t r = omr_template_mark_rect(pg, 198, 285);
        CHECK(fabs(r.x - (198.4 - 8)) < 1e-9 && fabs(r.y - (285.4 - 8)) < 1e-9 && r.w == 8 && r.h == 8,
              "%g,%g,%g,%g", r.x, r.y, r.w, r.h);
        const omr_form_t *f;
        int page = 0;
        CHECK(omr_template_page_by_value(s, "00000102", &f, &page) && page == 2 && f == &s->forms[0]);
        CHECK(!omr_template_page_by_value(s, "00000103", &f, &page));
    }
    omr_template_free(s);
    /* refusals */
    const char *Lbad = "mark at=12,12 shape=corner size=8\n";
    CHECK(strstr(p1, "mark at=12,12 shape=corner size=8 line=0.4\n") != NULL);
    struct {
        const char *from, *to, *why;
    } bad[] = {
        {"mark at=12,12 shape=corner size=8 line=0.4\n", Lbad, "needs line="},
        {"mark at=12,12 shape=corner size=8 line=0.4\n", "mark at=12,12 shape=round size=8 line=0.4\n", "shape=round"},
        {"mark at=12,12 shape=corner size=8 line=0.4\n", "mark at=12,12 size=6\n", "same shape and size"},
        {"barcode box=60,275,90,12\n", "barcode box=60,275,90,12 kind=i25 value=123\n", "even number of digits"},
        {"barcode box=60,275,90,12\n", "barcode box=60,275,90,12 kind=qr\n", "kind=qr"},
        {"barcode box=60,275,90,12\n", "barcode box=60,275,90,12 kind=code39\n", "needs value="},
        {"  option 2 num=25,45 label=30,42,50,6 other", "  option 2 check=25,43,5,5 other", "every option has a checkbox"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *src = strstr(p1, bad[i].from) ? p1 : PAGE1;
        const char *pos = strstr(src, bad[i].from);
        CHECK(pos != NULL, "test bug: %s", bad[i].from);
        if (!pos)
            continue;
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(pos - src), src, bad[i].to, pos + strlen(bad[i].from));
        expect_refused(tmp, "A-01.page:", bad[i].why);
    }
    write_file("survey.omr", "survey id=t code=TST filled=maybe\nform A\npage form=A number=1 file=A-01.page\n");
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT && strstr(err.msg, "filled=maybe"), "%s", err.msg);
}

/* Bubbles (option bubble=, print=) and forms without a barcode (survey
 * identify=order); and their refusals. */
static void bubbles_and_order(void)
{
    omr_error_t err = {0};
    omr_survey_t *s = NULL;
    CHECK(omr_template_load("tests/data/bubble-sheet", &s, &err) == OMR_OK, "%s", err.msg);
    if (s) {
        const omr_page_t *pg = &s->forms[0].pages[0];
        CHECK(s->ids_by_order == 1 && s->ids_by_value == 0 && pg->barcode.w == 0);
        /* q1 option 2: a bubble printing B; the multi question's: its code */
        CHECK(pg->regions[1].kind == OMR_REGION_CHECK && pg->regions[1].round && !strcmp(pg->regions[1].print, "B"));
        const omr_region_t *m6 = NULL, *last = &pg->regions[pg->n_regions - 1];
        for (int i = 0; i < pg->n_regions; i++)
            if (!strcmp(pg->regions[i].var, "m_6"))
                m6 = &pg->regions[i];
        CHECK(m6 && m6->round && !strcmp(m6->print, "6"));
        /* the grid's last cell: row b, column 5, printing its column code */
        CHECK(last->round && !strcmp(last->print, "5") && !strcmp(last->var, "g_b") && last->code == 5, "%s %s",
              last->print, last->var);
        /* drawn as ovals */
        int ovals = 0;
        for (int i = 0; i < pg->n_items; i++)
            ovals += pg->items[i].kind == OMR_ITEM_FRAME && (pg->items[i].flags & OMR_ITEM_ROUND);
        CHECK_INT(ovals, pg->n_regions);
    }
    omr_template_free(s);
    /* a bubble is a checkbox's place: the round flag changes the fingerprint */
    char fa[65], fb[65];
    const char *opt = "  option 1 num=25,35 label=30,32,50,6 \"one\"\n  option 2 num=25,45 label=30,42,50,6 other \"other\"\n";
    const char *chk = "  option 1 check=23,33,4,4 \"one\"\n  option 2 check=23,43,4,4 other \"other\"\n";
    const char *bub = "  option 1 bubble=23,33,4,4 \"one\"\n  option 2 bubble=23,43,4,4 other \"other\"\n";
    CHECK(load_with(page1_with(opt, chk), &err, &s) == OMR_OK, "%s", err.msg);
    CHECK(s && omr_template_fingerprint(s, fa) == 0);
    omr_template_free(s);
    CHECK(load_with(page1_with(opt, bub), &err, &s) == OMR_OK, "%s", err.msg);
    CHECK(s && omr_template_fingerprint(s, fb) == 0);
    CHECK(s && s->forms[0].pages[0].regions[0].round && !strcmp(s->forms[0].pages[0].regions[0].print, "1"));
    omr_template_free(s);
    CHECK(strcmp(fa, fb) != 0, "checkbox and bubble at one place have one fingerprint");
    struct {
        const char *to, *why;
    } bad[] = {
        {"  option 1 bubble=23,33,4,4 check=23,33,4,4 \"one\"\n  option 2 bubble=23,43,4,4 other \"other\"\n",
         "not both"},
        {"  option 1 num=25,35 print=A \"one\"\n  option 2 num=25,45 other \"other\"\n", "print= is what is printed"},
        {"  option 1 bubble=23,33,1,1 \"one\"\n  option 2 bubble=23,43,4,4 other \"other\"\n", "1.5 to 15 mm"},
        {"  option 1 bubble=23,33,4,4 print=ABCDEFGHI \"one\"\n  option 2 bubble=23,43,4,4 other \"other\"\n",
         "up to 8 bytes"},
        {"  option 1 bubble=23,33,4,4 \"one\"\n  option 2 num=25,45 other \"other\"\n", "every option has a checkbox"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refused(page1_with(opt, bad[i].to), "A-01.page:", bad[i].why);
    /* a grid of bubbles (a Likert matrix on a mark sheet): cells bubble= */
    const char *cells = "  cell row=a col=1 box=108,149,5,5\n  cell row=a col=2 box=128,149,5,5\n";
    CHECK(load_with(page1_with(cells, "  cell row=a col=1 bubble=108,149,5,5\n  cell row=a col=2 bubble=128,149,5,5 "
                                      "print=No size=6\n"),
                    &err, &s) == OMR_OK,
          "%s", err.msg);
    if (s) {
        const omr_page_t *pg = &s->forms[0].pages[0];
        const omr_region_t *a1 = NULL, *a2 = NULL, *b1 = NULL;
        for (int i = 0; i < pg->n_regions; i++) {
            const omr_region_t *r = &pg->regions[i];
            if (!strcmp(r->var, "Q8_a") && r->code == 1) a1 = r;
            if (!strcmp(r->var, "Q8_a") && r->code == 2) a2 = r;
            if (!strcmp(r->var, "Q8_b") && r->code == 1) b1 = r;
        }
        CHECK(a1 && a1->round && !strcmp(a1->print, "1") && a1->kind == OMR_REGION_CHECK);
        CHECK(a2 && a2->round && !strcmp(a2->print, "No"));
        CHECK(b1 && !b1->round, "a cell with box= stays a checkbox");
    }
    omr_template_free(s);
    struct {
        const char *to, *why;
    } bad_cells[] = {
        {"  cell row=a col=1 box=108,149,5,5 bubble=108,149,5,5\n", "box= or bubble=, not both"},
        {"  cell row=a col=1\n", "needs box="},
        {"  cell row=a col=1 box=108,149,5,5 size=7\n", "size= is the size of the code printed in a bubble"},
        {"  cell row=a col=1 box=108,149,5,5 print=X\n", "print= is what is printed"},
    };
    for (size_t i = 0; i < sizeof bad_cells / sizeof bad_cells[0]; i++)
        expect_refused(page1_with("  cell row=a col=1 box=108,149,5,5\n", bad_cells[i].to), "A-01.page:31",
                       bad_cells[i].why);
    /* identify=order: no barcode on its pages, one form */
    write_file("survey.omr", "survey id=t code=TST identify=order\nform A\npage form=A number=1 file=A-01.page\n");
    write_file("A-01.page", PAGE1);
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT && strstr(err.msg, "would not be read"), "%s", err.msg);
    write_file("A-01.page", page1_with("barcode box=60,275,90,12\n", ""));
    CHECK(omr_template_load(dir, &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(s && s->ids_by_order);
    omr_template_free(s);
    write_file("survey.omr", "survey id=t code=TST identify=order\nform A\nform B\npage form=A number=1 file=A-01.page\n"
                             "page form=B number=1 file=B-01.page\n");
    write_file("B-01.page", page1_with("page survey=t form=A number=1", "page survey=t form=B number=1"));
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT, "two forms without barcodes loaded");
    write_file("survey.omr", "survey id=t code=TST\nform A\npage form=A number=1 file=A-01.page\n");
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT && strstr(err.msg, "no barcode"), "%s", err.msg);
    write_file("survey.omr", "survey id=t code=TST identify=guess\nform A\npage form=A number=1 file=A-01.page\n");
    CHECK(omr_template_load(dir, &s, &err) == OMR_EINPUT && strstr(err.msg, "identify=guess"), "%s", err.msg);
}

/* A number after PAGE1 (its lines 35-40): boxes 1-4 left to right, touching
 * (a comb), regions B4_d1 .. B4_d4 and one column B4. */
static const char *NUMBER_Q = "question B4 kind=number label=\"B4\"\n"              /* 35 */
                              "  prompt box=20,170,170,6 \"amount\"\n"              /* 36 */
                              "  box 1 box=100,180,6,8\n  box 2 box=106,180,6,8\n"  /* 37-38 */
                              "  box 3 box=112,180,6,8\n  box 4 box=118,180,6,8\n"; /* 39-40 */

/* PAGE1 followed by NUMBER_Q with `from` replaced by `to` (from "" : as is). */
static const char *page1_number(const char *from, const char *to)
{
    static char buf[8192];
    char q[2048];
    const char *at = from[0] ? strstr(NUMBER_Q, from) : NULL;
    if (from[0] && !at) {
        fprintf(stderr, "test bug: '%s' not in NUMBER_Q\n", from);
        exit(2);
    }
    if (at)
        snprintf(q, sizeof q, "%.*s%s%s", (int)(at - NUMBER_Q), NUMBER_Q, to, at + strlen(from));
    else
        snprintf(q, sizeof q, "%s", NUMBER_Q);
    snprintf(buf, sizeof buf, "%s%s", PAGE1, q);
    return buf;
}

/* The four boxes of NUMBER_Q as bubble columns: box N (x = 100 + 6(N-1))
 * with the bubbles of digits `digits` stacked down from y = 180. */
static const char *bubble_boxes(const char *digits)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = 0;
    for (int b = 1; b <= 4; b++)
        for (const char *d = digits; *d; d++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "  box %d digit=%c bubble=%d,%d,4,4\n", b, *d,
                                    100 + 6 * (b - 1), 180 + 5 * (int)(d - digits));
    return buf;
}

/* A number printed as a mark sheet's bubble columns (box N digit=D bubble=…). */
static void number_bubble_questions(void)
{
    const char *written = "  box 1 box=100,180,6,8\n  box 2 box=106,180,6,8\n"
                          "  box 3 box=112,180,6,8\n  box 4 box=118,180,6,8\n";
    omr_error_t err = {0};
    omr_survey_t *s;
    char page[8192];
    snprintf(page, sizeof page, "%s", page1_number(written, bubble_boxes("0123456789")));
    CHECK(load_with(page, &err, &s) == OMR_OK, "%s", err.msg);
    if (s) {
        const omr_form_t *f = &s->forms[0];
        const omr_question_t *q = omr_template_question(f, "B4");
        CHECK(q && q->kind == OMR_KIND_NUMBER && q->n_regions == 40 && q->n_boxes == 4);
        const omr_page_t *p = &f->pages[0];
        /* box 3, digit 7: the 28th bubble, a round checkbox of its box's unit */
        const omr_region_t *r = q ? &p->regions[q->first_region + 27] : NULL;
        CHECK(r && r->kind == OMR_REGION_CHECK && r->round && r->code == 7 && !strcmp(r->row, "3") &&
                  !strcmp(r->var, "B4_d3") && r->print && !strcmp(r->print, "7"),
              "kind %d code %d row %s var %s", r ? (int)r->kind : -1, r ? r->code : -1, r ? r->row : "",
              r ? r->var : "");
        omr_column_t *cols;
        int n = omr_template_columns(f, 0, &cols);
        CHECK(n == 10 && !strcmp(cols[9].name, "B4") && !cols[9].is_text, "%d columns", n);
        free(cols);
    }
    omr_template_free(s);
    /* refused: a digit twice in a box, a digit out of 0..9, a bubble without
     * its box, written boxes and bubbles mixed, box= and bubble= together,
     * bubbles in a top3 question, print= on a written box */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s  box 2 digit=1 bubble=150,180,4,4\n", bubble_boxes("01"));
    expect_refused(page1_number(written, bad), "A-01.page:45:", "box 2 digit=1 of B4 is defined twice");
    expect_refused(page1_number(written, "  box 1 digit=10 bubble=100,180,4,4\n"), "A-01.page:37:",
                   "digit: 10 is out of range (0 to 9)");
    expect_refused(page1_number(written, "  box 1 digit=3\n"), "A-01.page:37:",
                   "box 1 digit=3 of B4 needs bubble=x,y,w,h");
    expect_refused(page1_number("  box 4 box=118,180,6,8\n", "  box 4 digit=0 bubble=118,180,4,4\n"),
                   "A-01.page:35:", "mixes write-in boxes and bubbles");
    expect_refused(page1_number(written, "  box 1 digit=0 box=100,180,4,4 bubble=100,180,4,4\n"), "A-01.page:37:",
                   "box= or bubble=, not both");
    expect_refused(page1_number(written, "  box 1 box=100,180,6,8 print=1\n"), "A-01.page:37:",
                   "print= and size= belong to a bubble");
    expect_refused(page1_with("  box 1 box=25,95,9,11\n", "  box 1 digit=1 bubble=25,95,4,4\n"), "A-01.page:19:",
                   "digit= and bubble= are for number questions");
    /* full: every box holds a digit (numbers only) */
    CHECK(load_with(page1_number("question B4 kind=number label=\"B4\"", "question B4 kind=number label=\"B4\" full"),
                    &err, &s) == OMR_OK,
          "%s", err.msg);
    if (s) {
        const omr_question_t *q = omr_template_question(&s->forms[0], "B4");
        CHECK(q && q->full, "full not kept");
    }
    omr_template_free(s);
    expect_refused(page1_with("question Q4 kind=top3 label=\"問4\"", "question Q4 kind=top3 label=\"問4\" full"),
                   "A-01.page:17:", "'full' (every box holds a digit) is for number questions");
    /* identifier: exported as text (numbers only); how the data are typed,
     * not how pages are read, so a store filled before it was added still
     * matches (same fingerprint) */
    char fp_plain[65] = "", fp_ident[65] = "";
    CHECK(load_with(page1_number("", ""), &err, &s) == OMR_OK, "%s", err.msg);
    if (s) {
        const omr_question_t *q = omr_template_question(&s->forms[0], "B4");
        CHECK(q && !q->identifier, "identifier without the flag");
        omr_template_fingerprint(s, fp_plain);
    }
    omr_template_free(s);
    CHECK(load_with(page1_number("question B4 kind=number label=\"B4\"",
                                 "question B4 kind=number label=\"B4\" identifier full"),
                    &err, &s) == OMR_OK,
          "%s", err.msg);
    if (s) {
        const omr_question_t *q = omr_template_question(&s->forms[0], "B4");
        CHECK(q && q->identifier && q->full, "identifier or full not kept");
        omr_template_fingerprint(s, fp_ident);
    }
    omr_template_free(s);
    char fp_full[65] = "";
    CHECK(load_with(page1_number("question B4 kind=number label=\"B4\"", "question B4 kind=number label=\"B4\" full"),
                    &err, &s) == OMR_OK,
          "%s", err.msg);
    if (s)
        omr_template_fingerprint(s, fp_full);
    omr_template_free(s);
    CHECK(fp_plain[0] && strcmp(fp_plain, fp_full) && !strcmp(fp_ident, fp_full),
          "fingerprints: plain %s full %s identifier+full %s", fp_plain, fp_full, fp_ident);
    expect_refused(page1_with("question S1 kind=single label=\"S1\"", "question S1 kind=single label=\"S1\" identifier"),
                   "A-01.page:8:", "'identifier' (digits that name something, exported as text) is for number questions");
    /* the columns' middles must go left to right, as written boxes do */
    snprintf(bad, sizeof bad, "  box 1 digit=0 bubble=120,180,4,4\n  box 2 digit=0 bubble=100,180,4,4\n");
    expect_refused(page1_number(written, bad), "A-01.page:35:", "box 2 is not right of box 1");
}

static void number_questions(void)
{
    omr_error_t err = {0};
    omr_survey_t *s;
    CHECK(load_with(page1_number("", ""), &err, &s) == OMR_OK, "%s", err.msg);
    if (s) {
        const omr_form_t *f = &s->forms[0];
        const omr_question_t *q = omr_template_question(f, "B4");
        CHECK(q && q->kind == OMR_KIND_NUMBER && q->n_regions == 4);
        const omr_page_t *p = &f->pages[0];
        for (int b = 0; q && b < 4 && b < q->n_regions; b++) {
            const omr_region_t *r = &p->regions[q->first_region + b];
            char want[16];
            snprintf(want, sizeof want, "B4_d%d", b + 1);
            CHECK_STR(r->var, want);
            CHECK(r->kind == OMR_REGION_DIGIT && r->code == b + 1);
        }
        omr_column_t *cols;
        int n = omr_template_columns(f, 0, &cols);
        CHECK(n == 10 && !strcmp(cols[9].name, "B4") && cols[9].region == -1 && !cols[9].is_text,
              "%d columns, last %s", n, n > 0 ? cols[n - 1].name : "");
        free(cols);
    }
    omr_template_free(s);
    CHECK_STR(omr_template_kind_name(OMR_KIND_NUMBER), "number");
    CHECK_INT(omr_template_kind_from_name("number"), OMR_KIND_NUMBER);
    /* boxes 1 and 3: a gap in the numbering */
    expect_refused(page1_number("  box 2 box=106,180,6,8\n  box 3 box=112,180,6,8\n  box 4 box=118,180,6,8\n",
                                "  box 3 box=112,180,6,8\n"),
                   "A-01.page:35:", "has 2 boxes but no box 2");
    /* no boxes at all */
    expect_refused(page1_number("  box 1 box=100,180,6,8\n  box 2 box=106,180,6,8\n"
                                "  box 3 box=112,180,6,8\n  box 4 box=118,180,6,8\n",
                                ""),
                   "A-01.page:35:", "number question B4 has no boxes");
    /* 13 boxes: box 13 is beyond the most a number has */
    char thirteen[1024] = "";
    for (int b = 1; b <= 13; b++) {
        size_t len = strlen(thirteen);
        snprintf(thirteen + len, sizeof thirteen - len, "  box %d box=%d,180,6,8\n", b, 100 + 6 * (b - 1));
    }
    expect_refused(page1_number("  box 1 box=100,180,6,8\n  box 2 box=106,180,6,8\n"
                                "  box 3 box=112,180,6,8\n  box 4 box=118,180,6,8\n",
                                thirteen),
                   "A-01.page:49:", "box number: 13 is out of range (1 to 12)");
    /* numbered right to left */
    expect_refused(page1_number("  box 1 box=100,180,6,8\n  box 2 box=106,180,6,8\n",
                                "  box 1 box=106,180,6,8\n  box 2 box=100,180,6,8\n"),
                   "A-01.page:35:", "box 2 is not right of box 1");
    /* the same box twice; a field or an option, which a number does not have */
    expect_refused(page1_number("  box 4 box=118,180,6,8\n", "  box 3 box=118,180,6,8\n"), "A-01.page:40:",
                   "box 3 of B4 is defined twice");
    expect_refused(page1_number("  box 4 box=118,180,6,8\n", "  box 4 box=118,180,6,8\n  field box=20,190,100,8\n"),
                   "A-01.page:41:", "'field' is not allowed in question B4 of kind number");
    expect_refused(page1_number("  box 4 box=118,180,6,8\n", "  box 4 box=118,180,6,8\n  option 1 num=25,195 \"x\"\n"),
                   "A-01.page:41:", "'option' is not allowed in question B4 of kind number");
    /* routing follows option codes: a number routes nothing */
    expect_refused(page1_number("  box 4 box=118,180,6,8\n",
                                "  box 4 box=118,180,6,8\nquestion X kind=text label=\"x\" when=B4:1\n"
                                "  prompt box=20,195,170,6 \"x\"\n  field box=20,205,100,10\n"),
                   "A-01.page:41:", "routing on number question B4 cannot be checked");
}

/* The fingerprint a store is bound with: the same for the same templates and
 * for a prompt reworded; another for a region moved, an option added, a kind
 * or routing changed. */
static void fingerprint_follows_regions_not_words(void)
{
    omr_error_t err = {0};
    omr_survey_t *s;
    char base[65], fp[65];
    CHECK(load_with(PAGE1, &err, &s) == OMR_OK, "%s", err.msg);
    CHECK(s && omr_template_fingerprint(s, base) == 0 && strlen(base) == 64);
    omr_template_free(s);
    CHECK(load_with(PAGE1, &err, &s) == OMR_OK && omr_template_fingerprint(s, fp) == 0 && !strcmp(fp, base),
          "same templates, other fingerprint");
    omr_template_free(s);
    CHECK(load_with(page1_with("\"pick one\"", "\"choose one, please\""), &err, &s) == OMR_OK &&
              omr_template_fingerprint(s, fp) == 0 && !strcmp(fp, base),
          "a reworded prompt changed the fingerprint");
    omr_template_free(s);
    const char *from[] = {"cell row=b col=2 box=128,157,5,5", "when=S1:1", "kind=grid1", "exclusive \"none\""};
    const char *to[] = {"cell row=b col=2 box=129,157,5,5", "when=S1:2", "kind=gridn", "\"none\""};
    for (int i = 0; i < 4; i++) {
        omr_status_t st = load_with(page1_with(from[i], to[i]), &err, &s);
        CHECK(st == OMR_OK, "%s -> %s: %s", from[i], to[i], err.msg);
        CHECK(s && omr_template_fingerprint(s, fp) == 0 && strcmp(fp, base), "%s -> %s kept the fingerprint", from[i],
              to[i]);
        omr_template_free(s);
    }
}

static void payload_round_trip(void)
{
    char buf[64], code[16], form[16], resp[32];
    int page = 0;
    omr_template_payload(buf, sizeof buf, "ITSC18", "A", 3, "000123");
    CHECK_STR(buf, "ITSC18-A03-000123");
    CHECK(omr_template_parse_payload(buf, code, form, &page, resp) == OMR_OK);
    CHECK_STR(code, "ITSC18");
    CHECK_STR(form, "A");
    CHECK_INT(page, 3);
    CHECK_STR(resp, "000123");
    const char *bad[] = {"", "ITSC18", "ITSC18-A3-000123", "ITSC18-A00-1", "itsc18-A03-1", "ITSC18-A03-", "ITSC18-A03-12 3",
                         "ITSC18-a03-1", "X-A03-1", "ITSC18-A03-0001234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(omr_template_parse_payload(bad[i], code, form, &page, resp) == OMR_EINPUT, "accepted '%s'", bad[i]);
}

static void tokenizer_handles_quotes_and_comments(void)
{
    char line[] = "option 3 num=1,2 label=\"a b\" \"say \\\"hi\\\" \\\\\" # comment";
    omr_tpl_line_t l;
    omr_error_t err;
    CHECK(omr_template_tokenize(line, &l, &err) == OMR_OK);
    CHECK_INT(l.n, 5);
    if (l.n == 5) {
        CHECK_STR(l.value[0], "option");
        CHECK(l.key[2] && !strcmp(l.key[2], "num"));
        CHECK_STR(omr_tpl_attr(&l, "label"), "a b");
        CHECK_STR(l.value[4], "say \"hi\" \\");
    }
    char blank[] = "   # only a comment";
    CHECK(omr_template_tokenize(blank, &l, &err) == OMR_OK && l.n == 0);
}

static void the_shipped_survey_loads(void)
{
    /* The committed IPA templates must always load: a broken template must never ship. */
    omr_error_t err = {0};
    omr_survey_t *s;
    CHECK(omr_template_load("templates/ipa-itsc-2018", &s, &err) == OMR_OK, "%s", err.msg);
    CHECK(s && s->n_forms == 2);
    omr_template_free(s);
}

/* A page printed without corner marks (page reference=): loads with the
 * image's path and needs no prompt; refused with a missing image, a path
 * out of the survey's folder, or neither marks nor a reference. */
static void reference_pages(void)
{
    const char *marks = "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n";
    char *no_marks = check_replaced(PAGE1, marks, "");
    char *with_ref = no_marks ? check_replaced(no_marks, "size=210x297\n", "size=210x297 reference=blank.png\n") : NULL;
    char *no_prompt = with_ref ? check_replaced(with_ref, "  prompt box=20,25,170,6 \"pick one\"\n", "") : NULL;
    char *outside = no_marks ? check_replaced(no_marks, "size=210x297\n", "size=210x297 reference=../x.png\n") : NULL;
    CHECK(no_marks && with_ref && no_prompt && outside);
    if (no_marks && with_ref && no_prompt && outside) {
        omr_error_t err = {0};
        omr_survey_t *s = NULL;
        write_file("blank.png", "not really a PNG: the loader only checks that it opens");
        CHECK(load_with(no_prompt, &err, &s) == OMR_OK, "%s", err.msg);
        if (s) {
            const omr_page_t *pg = &s->forms[0].pages[0];
            CHECK(!omr_page_has_marks(pg) && pg->reference && strstr(pg->reference, "/blank.png"),
                  "reference %s", pg->reference ? pg->reference : "(none)");
            omr_template_free(s);
        }
        /* marks and a reference: the print registers what the marks cannot */
        char *both = check_replaced(PAGE1, "size=210x297\n", "size=210x297 reference=blank.png\n");
        CHECK(both && load_with(both, &err, &s) == OMR_OK, "%s", err.msg);
        if (s) {
            CHECK(omr_page_has_marks(&s->forms[0].pages[0]) && s->forms[0].pages[0].reference);
            omr_template_free(s);
        }
        free(both);
        char path[300];
        snprintf(path, sizeof path, "%s/blank.png", dir);
        unlink(path);
        expect_refused(with_ref, "A-01.page:1:", "cannot open");
        expect_refused(no_marks, "A-01.page:1:", "or none, and page reference=FILE");
        expect_refused(outside, "A-01.page:1:", "a file in the survey's folder");
    }
    free(no_marks);
    free(with_ref);
    free(no_prompt);
    free(outside);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/omr-test-template-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(tokenizer_handles_quotes_and_comments);
    RUN(valid_survey_loads);
    RUN(refuses_syntax_errors);
    RUN(refuses_unknown_kind);
    RUN(refuses_overlaps_and_off_page);
    RUN(refuses_duplicates);
    RUN(refuses_bad_routing);
    RUN(refuses_incomplete_questions);
    RUN(refuses_page_mismatch);
    RUN(icr_policy_parses);
    RUN(foreign_forms);
    RUN(bubbles_and_order);
    RUN(reference_pages);
    RUN(fingerprint_follows_regions_not_words);
    RUN(number_questions);
    RUN(number_bubble_questions);
    RUN(payload_round_trip);
    RUN(the_shipped_survey_loads);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report();
}
