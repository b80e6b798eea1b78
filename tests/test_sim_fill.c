/* test_sim_fill.c -- the simulator's fill side (tools/simulate/answers.c,
 * pen.c, handwriting.c) on the real templates (templates/ipa-itsc-2018).
 *
 * What is checked, against the template and the printed page, never against
 * the fill code's own bookkeeping:
 *   - determinism: same seed, same pixels and truth; another seed, other ones;
 *   - the answers obey the template: values within the option / column codes,
 *     an exclusive option alone, top-3 codes distinct and without gaps, -1
 *     exactly where the routing (recomputed here from the answer row) skips;
 *   - a second option circled in a single-choice question: two marks in
 *     the truth, the column empty;
 *   - the packet: every page once, case pages once per case, duplicates
 *     right, missing sheets empty in the answers and `missing` in the truth;
 *   - ink lands where the truth says: a marked region (its option text for
 *     circle_text) gains dark pixels over the blank printed page, a blank
 *     region gains none; the clean profile inks nothing away from the regions.
 * The tool's sources are compiled in, since tools are not in libomr.a.
 */
#include "../tools/simulate/answers.c"
#include "../tools/simulate/handwriting.c"
#include "../tools/simulate/pen.c"
#include "../tools/simulate/rng.c"

#include "check.h"
#include "print.h"

#define DPI 150.0 /* enough for geometry; keeps the sanitizer run short */

static omr_survey_t *survey;

/* ------------------------------------------------------------ helpers */

static sim_profile_t busy_profile(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 0);
    p.p_doubtful = 0.4;
    p.p_stray = 1.0;
    return p;
}

/* Fill one sheet of r on a freshly printed page; *ptruth gets the truth text
 * (caller frees). Returns the page (caller destroys) or NULL. */
static PIX *fill_one(const sim_respondent_t *r, const sim_sheet_t *sh, double dpi, char **ptruth)
{
    omr_error_t err;
    PIX *pix = omr_print_render_page(survey, r->form, sh->page_index, r->id, dpi, &err);
    if (!pix) {
        CHECK(0, "render: %s", err.msg);
        return NULL;
    }
    size_t len;
    FILE *f = open_memstream(ptruth, &len);
    int rc = sim_fill_sheet(r, sh, pix, dpi, f);
    fclose(f);
    CHECK(rc == 0, "fill: %s", sim_fill_last_error());
    return pix;
}

/* ------------------------------------------------------------ tests */

static void test_determinism(void)
{
    sim_profile_t p = busy_profile();
    const omr_form_t *f = omr_template_form(survey, "A");
    sim_respondent_t *a = sim_respondent_new(survey, f, "000123", 7, &p);
    sim_respondent_t *b = sim_respondent_new(survey, f, "000123", 7, &p);
    sim_respondent_t *c = sim_respondent_new(survey, f, "000123", 8, &p);
    CHECK(a && b && c);
    if (!a || !b || !c)
        goto out;
    sim_sheet_t *sa, *sc;
    int na = sim_respondent_sheets(a, &sa), nc = sim_respondent_sheets(c, &sc);
    int differ = 0;
    for (int i = 0; i < na && i < 5; i++) {
        char *ta = NULL, *tb = NULL, *tc = NULL;
        PIX *pa = fill_one(a, &sa[i], DPI, &ta), *pb = fill_one(b, &sa[i], DPI, &tb);
        PIX *pc = fill_one(c, &sa[i], DPI, &tc);
        l_int32 same = 0, same_c = 0;
        if (pa && pb)
            pixEqual(pa, pb, &same);
        if (pa && pc)
            pixEqual(pa, pc, &same_c);
        CHECK(same, "sheet %d: same seed, different pixels", i);
        CHECK(ta && tb && !strcmp(ta, tb), "sheet %d: same seed, different truth", i);
        differ += !same_c || strcmp(ta, tc);
        pixDestroy(&pa);
        pixDestroy(&pb);
        pixDestroy(&pc);
        free(ta);
        free(tb);
        free(tc);
    }
    CHECK(differ > 0, "another seed gave the same pages");
    /* A sheet fed twice carries the same ink and adds no truth rows. */
    if (na > 0) {
        sim_sheet_t dup = sa[0];
        dup.duplicate = 1;
        char *t1 = NULL, *t2 = NULL;
        PIX *p1 = fill_one(a, &sa[0], DPI, &t1), *p2 = fill_one(a, &dup, DPI, &t2);
        l_int32 same = 0;
        if (p1 && p2)
            pixEqual(p1, p2, &same);
        CHECK(same, "the duplicate sheet has other ink");
        CHECK(t2 && t2[0] == '\0', "the duplicate sheet wrote truth rows");
        pixDestroy(&p1);
        pixDestroy(&p2);
        free(t1);
        free(t2);
    }
    char *xa = NULL, *xc = NULL;
    size_t la, lc;
    FILE *fa = open_memstream(&xa, &la), *fc = open_memstream(&xc, &lc);
    sim_respondent_write_answers(a, fa, fa);
    sim_respondent_write_answers(c, fc, fc);
    fclose(fa);
    fclose(fc);
    CHECK(strcmp(xa, xc) != 0, "another seed gave the same answers");
    free(xa);
    free(xc);
    (void)nc;
    free(sa);
    free(sc);
out:
    sim_respondent_free(a);
    sim_respondent_free(b);
    sim_respondent_free(c);
}

/* Does the answer row hold one of codes in question q (FORMAT.md `when`)? */
static int row_holds(const omr_form_t *f, const omr_question_t *q, const omr_column_t *cols, int nc, char **v,
                     uint64_t codes)
{
    int qi = (int)(q - f->questions);
    for (int i = 0; i < nc; i++) {
        if (cols[i].question != qi || cols[i].is_text || !v[i][0] || !strcmp(v[i], "-1"))
            continue;
        int x = atoi(v[i]);
        if (q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST || q->kind == OMR_KIND_GRIDN) {
            if (x != 1)
                continue;
            /* the code is the last _N of the column name */
            const char *u = strrchr(cols[i].name, '_');
            x = u ? atoi(u + 1) : -1;
        }
        if (x >= 1 && x <= 63 && (codes >> x & 1))
            return 1;
    }
    return 0;
}

/* Check one answer row (v: values after the key columns) of form f. */
static void check_row(const omr_form_t *f, const omr_column_t *cols, int nc, char **v, int broken_allowed,
                      int *pbroken)
{
    for (int qi = 0; qi < f->n_questions; qi++) {
        const omr_question_t *q = &f->questions[qi];
        int first = -1, n = 0, n_skip = 0, n_empty = 0;
        for (int i = 0; i < nc; i++)
            if (cols[i].question == qi) {
                if (first < 0)
                    first = i;
                n++;
                n_skip += !strcmp(v[i], "-1");
                n_empty += !v[i][0];
            }
        if (first < 0)
            continue;
        CHECK(n_skip == 0 || n_skip == n, "%s: -1 in some columns only", q->id);
        /* Routing, from the row itself (sources on the same part only). */
        if (q->route_question >= 0 && f->questions[q->route_question].is_case == q->is_case) {
            const omr_question_t *src = &f->questions[q->route_question];
            int holds = row_holds(f, src, cols, nc, v, q->route_codes);
            if (holds)
                CHECK(n_skip == 0, "%s: -1 although %s holds the routing codes", q->id, src->id);
            else if (!broken_allowed)
                CHECK(n_skip == n, "%s: not -1 although %s skips it", q->id, src->id);
            else if (n_skip == 0 && n_empty < n)
                (*pbroken)++;
        } else
            CHECK(n_skip == 0, "%s: -1 without routing", q->id);
        if (n_skip)
            continue;
        /* Values within the codes. */
        int ones = 0, excl_one = 0, top[3] = {0, 0, 0};
        for (int i = first; i < nc; i++) {
            if (cols[i].question != qi || cols[i].is_text || !v[i][0])
                continue;
            int x = atoi(v[i]);
            switch (q->kind) {
            case OMR_KIND_SINGLE: {
                int ok = 0;
                for (int k = 0; k < q->n_options; k++)
                    ok |= q->options[k].code == x;
                CHECK(ok, "%s = %s: not an option code", cols[i].name, v[i]);
                break;
            }
            case OMR_KIND_GRID1: {
                int ok = 0;
                for (int k = 0; k < q->n_cols; k++)
                    ok |= q->cols[k].code == x;
                CHECK(ok, "%s = %s: not a column code", cols[i].name, v[i]);
                break;
            }
            case OMR_KIND_MULTI:
            case OMR_KIND_TICKLIST:
            case OMR_KIND_GRIDN:
                CHECK(!strcmp(v[i], "0") || !strcmp(v[i], "1"), "%s = %s", cols[i].name, v[i]);
                if (x == 1 && q->kind != OMR_KIND_GRIDN) {
                    ones++;
                    const char *u = strrchr(cols[i].name, '_');
                    for (int k = 0; k < q->n_options; k++)
                        if (u && q->options[k].code == atoi(u + 1) && q->options[k].exclusive)
                            excl_one = 1;
                }
                break;
            case OMR_KIND_TOP3:
            case OMR_KIND_CODEGRID: {
                int ok = 0;
                for (int k = 0; k < q->n_options; k++)
                    ok |= q->options[k].code == x;
                CHECK(ok && x <= 9, "%s = %s: not a one-digit option code", cols[i].name, v[i]);
                if (q->kind == OMR_KIND_TOP3) {
                    const char *u = strrchr(cols[i].name, 'r');
                    int b = u ? atoi(u + 1) : 0;
                    if (b >= 1 && b <= 3)
                        top[b - 1] = x;
                }
                break;
            }
            default:
                break;
            }
        }
        /* Clean respondents never mark an exclusive option with others; the mixed
         * population sometimes does, on purpose (a rule break the coder must flag). */
        CHECK(!excl_one || ones == 1 || broken_allowed, "%s: an exclusive option with %d marks", q->id, ones);
        if (q->kind == OMR_KIND_TOP3) {
            CHECK(!(top[0] == 0 && (top[1] || top[2])) && !(top[1] == 0 && top[2]), "%s: gap in the top-3", q->id);
            CHECK(!(top[0] && top[0] == top[1]) && !(top[0] && top[0] == top[2]) && !(top[1] && top[1] == top[2]),
                  "%s: top-3 codes repeat (%d %d %d)", q->id, top[0], top[1], top[2]);
        }
    }
}

/* Run check_row over the rows of n respondents of every form. */
static int check_answers(sim_profile_t p, int n_resp, int broken_allowed)
{
    int broken = 0;
    for (int fi = 0; fi < survey->n_forms; fi++) {
        const omr_form_t *f = &survey->forms[fi];
        omr_column_t *cols[2];
        int nc[2] = {omr_template_columns(f, 0, &cols[0]), omr_template_columns(f, 1, &cols[1])};
        char **v = malloc(((size_t)nc[0] + (size_t)nc[1] + 8) * sizeof *v);
        for (int k = 0; k < n_resp; k++) {
            char id[16];
            snprintf(id, sizeof id, "%06d", k + 1);
            sim_respondent_t *r = sim_respondent_new(survey, f, id, 99, &p);
            CHECK(r != NULL);
            if (!r)
                continue;
            char *m = NULL, *c = NULL;
            size_t lm, lc;
            FILE *fm = open_memstream(&m, &lm), *fc = open_memstream(&c, &lc);
            sim_respondent_write_answers(r, fm, fc);
            fclose(fm);
            fclose(fc);
            /* respondent part: one line */
            char *nl = strchr(m, '\n');
            CHECK(nl && nl[1] == '\0', "respondent part: want one line");
            if (nl)
                *nl = '\0';
            int n = check_split_csv(m, v, nc[0] + 4);
            CHECK_INT(n, nc[0] + 1);
            if (n == nc[0] + 1)
                check_row(f, cols[0], nc[0], v + 1, broken_allowed, &broken);
            /* case part: one line per case, numbered 1.. */
            int cases = 0;
            for (char *line = c, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = '\0';
                n = check_split_csv(line, v, nc[1] + 4);
                CHECK_INT(n, nc[1] + 2);
                CHECK_INT(atoi(v[1]), cases + 1);
                cases++;
                if (n == nc[1] + 2)
                    check_row(f, cols[1], nc[1], v + 2, broken_allowed, &broken);
            }
            CHECK(cases == r->n_cases && cases >= 1 && cases <= 3, "%d case rows", cases);
            free(m);
            free(c);
            sim_respondent_free(r);
        }
        free(v);
        free(cols[0]);
        free(cols[1]);
    }
    return broken;
}

static void test_answers_obey_template(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 0);
    p.p_doubtful = 0.5;      /* erasures must not put a second mark into the answers */
    p.p_two_marks = 0;       /* two options of a routing question leave it empty here, yet
                                route as both (test_two_marks_on_circled_forms) */
    p.p_break_routing = 0;   /* -1 exactly where the routing skips */
    p.p_break_exclusive = 0; /* an exclusive option alone */
    p.p_missing_page = 0;    /* a missing source page would hide the routing's reason */
    p.p_extra_cases = 0.5;
    check_answers(p, 40, 0);
    p.p_break_routing = 1;   /* every skipped question answered (unless blank) */
    p.p_break_exclusive = 0.5;
    int broken = check_answers(p, 20, 1);
    CHECK(broken > 0, "p_break_routing 1 never answered a skipped question");
}

/* A second option circled in a single-choice question (p_two_marks): the
 * truth holds two marked circles and the column is empty, since no one
 * answer is true. Counted from the template's questions and regions; with
 * p_two_marks 0 an answered question holds exactly one mark. */
static void count_single_marks(double p_two, int *pone, int *ptwo, int *pother, int *pvalued)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 0);
    p.p_two_marks = p_two;
    p.p_doubtful = 0;       /* an erasure would leave a residue, not a second mark */
    p.p_blank_question = 0;
    p.p_break_routing = 0;
    *pone = *ptwo = *pother = *pvalued = 0;
    for (int fi = 0; fi < survey->n_forms; fi++) {
        const omr_form_t *f = &survey->forms[fi];
        omr_column_t *cols;
        int nc = omr_template_columns(f, 0, &cols);
        for (int k = 0; k < 4; k++) {
            char id[16];
            snprintf(id, sizeof id, "%06d", k + 1);
            sim_respondent_t *r = sim_respondent_new(survey, f, id, 7, &p);
            CHECK(r != NULL);
            if (!r)
                continue;
            for (int qi = 0; qi < f->n_questions; qi++) {
                const omr_question_t *q = &f->questions[qi];
                if (q->kind != OMR_KIND_SINGLE || q->is_case || q->n_options < 2 || r->qstate[qi] != SIM_Q_ANSWERED)
                    continue;
                const omr_page_t *pg = &f->pages[q->page];
                int marked = 0;
                for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
                    if (pg->regions[i].kind == OMR_REGION_CIRCLE && sim_cell(r, 0, q->page, i)->value == 1)
                        marked++;
                *pone += marked == 1;
                *ptwo += marked == 2;
                *pother += marked != 1 && marked != 2;
                for (int c = 0; c < nc; c++) {
                    char buf[32];
                    if (cols[c].question != qi || cols[c].is_text)
                        continue;
                    column_value(r, 0, &cols[c], buf, sizeof buf);
                    *pvalued += marked == 2 && buf[0] != '\0';
                }
            }
            sim_respondent_free(r);
        }
        free(cols);
    }
}

static void test_two_marks_on_circled_forms(void)
{
    int one, two, other, valued;
    count_single_marks(1, &one, &two, &other, &valued);
    CHECK(two > 40 && one == 0 && other == 0, "p_two_marks 1: one %d two %d other %d", one, two, other);
    CHECK_INT(valued, 0);
    count_single_marks(0, &one, &two, &other, &valued);
    CHECK(one > 40 && two == 0 && other == 0, "p_two_marks 0: one %d two %d other %d", one, two, other);
}

static void test_packet(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 0);
    p.p_extra_cases = 0.5;
    p.p_duplicate_page = 0.1;
    p.p_missing_page = 0.05;
    const omr_form_t *f = omr_template_form(survey, "B");
    int seen_dup = 0, seen_missing = 0;
    for (int k = 0; k < 30; k++) {
        char id[16];
        snprintf(id, sizeof id, "%06d", k + 500);
        sim_respondent_t *r = sim_respondent_new(survey, f, id, 5, &p);
        if (!r) {
            CHECK(0, "respondent");
            continue;
        }
        sim_sheet_t *s, *m;
        int n = sim_respondent_sheets(r, &s), nm = sim_respondent_missing(r, &m);
        int count[64][4];
        memset(count, 0, sizeof count);
        for (int i = 0; i < n; i++) {
            CHECK(s[i].page_index >= 0 && s[i].page_index < f->n_pages && s[i].page_index < 64);
            int pc = f->pages[s[i].page_index].is_case;
            CHECK(pc ? s[i].case_number >= 1 && s[i].case_number <= r->n_cases : s[i].case_number == 0);
            if (s[i].duplicate) {
                seen_dup++;
                int orig = 0;
                for (int j = 0; j < i; j++)
                    orig |= !s[j].duplicate && s[j].page_index == s[i].page_index &&
                            s[j].case_number == s[i].case_number;
                CHECK(orig, "duplicate before its original");
            } else
                count[s[i].page_index][s[i].case_number & 3]++;
        }
        for (int i = 0; i < nm; i++)
            count[m[i].page_index][m[i].case_number & 3] += 100;
        seen_missing += nm;
        for (int pi = 0; pi < f->n_pages; pi++)
            for (int c = 0; c <= 3; c++) {
                int want = f->pages[pi].is_case ? (c >= 1 && c <= r->n_cases) : c == 0;
                int got = count[pi][c];
                CHECK(want ? got == 1 || got == 100 : got == 0, "page %d case %d: %d", pi + 1, c, got);
            }
        /* Missing sheets: `missing` truth rows, one per region. */
        char *t = NULL;
        size_t lt;
        FILE *ft = open_memstream(&t, &lt);
        sim_respondent_write_missing(r, ft);
        fclose(ft);
        int rows = 0, want_rows = 0;
        for (char *q = t; (q = strstr(q, ",missing,none,")); q++)
            rows++;
        for (int i = 0; i < nm; i++)
            want_rows += f->pages[m[i].page_index].n_regions;
        CHECK_INT(rows, want_rows);
        free(t);
        free(s);
        free(m);
        sim_respondent_free(r);
    }
    CHECK(seen_dup > 0 && seen_missing > 0, "dup %d missing %d", seen_dup, seen_missing);
}

/* New dark pixels (< 160 on the filled page, >= 160 on the blank one) in
 * rect (mm). */
static int new_dark(PIX *blank, PIX *filled, omr_rect_t r, double dpi)
{
    double k = dpi / OMR_MM_PER_INCH;
    int x0 = (int)floor(r.x * k), y0 = (int)floor(r.y * k);
    int x1 = (int)ceil((r.x + r.w) * k), y1 = (int)ceil((r.y + r.h) * k);
    int w = (int)pixGetWidth(blank), h = (int)pixGetHeight(blank), n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < w; x++) {
            l_uint32 a, b;
            pixGetPixel(blank, x, y, &a);
            pixGetPixel(filled, x, y, &b);
            n += b < 160 && a >= 160;
        }
    return n;
}

/* Fill every sheet of n respondents of every form and compare with the
 * blank printed page, region by region. */
static void check_ink(sim_profile_t p, int n_resp, int clean)
{
    omr_error_t err;
    int marked = 0, blank = 0;
    for (int fi = 0; fi < survey->n_forms; fi++) {
        const omr_form_t *f = &survey->forms[fi];
        for (int k = 0; k < n_resp; k++) {
            char id[16];
            snprintf(id, sizeof id, "%06d", 300 + k);
            sim_respondent_t *r = sim_respondent_new(survey, f, id, 11 + (uint64_t)clean, &p);
            if (!r) {
                CHECK(0, "respondent");
                continue;
            }
            sim_sheet_t *s;
            int n = sim_respondent_sheets(r, &s);
            for (int i = 0; i < n; i++) {
                const omr_page_t *pg = &f->pages[s[i].page_index];
                PIX *b = omr_print_render_page(survey, f, s[i].page_index, id, DPI, &err);
                char *t = NULL;
                PIX *x = fill_one(r, &s[i], DPI, &t);
                if (!b || !x) {
                    CHECK(0, "render");
                    pixDestroy(&b);
                    pixDestroy(&x);
                    free(t);
                    continue;
                }
                int nrows = 0;
                char *line = t, *next;
                for (; line && *line; line = next, nrows++) {
                    next = strchr(line, '\n');
                    if (next)
                        *next++ = '\0';
                    char *v[16];
                    int nf = check_split_csv(line, v, 16);
                    if (nf != 9 || nrows >= pg->n_regions) {
                        CHECK(0, "truth row %d of page %d: %d fields", nrows, pg->number, nf);
                        break;
                    }
                    const omr_region_t *g = &pg->regions[nrows];
                    CHECK(!strncmp(v[4], g->var, strlen(g->var)), "row var %s, region %s", v[4], g->var);
                    int in_box = new_dark(b, x, g->box, DPI);
                    int in_label = rect_nonzero(g->label) ? new_dark(b, x, g->label, DPI) : 0;
                    if (!strcmp(v[6], "marked")) {
                        marked++;
                        int got = !strcmp(v[7], "circle_text") ? in_label
                                  : !strcmp(v[7], "circle_both") ? in_box + in_label
                                                                 : in_box;
                        CHECK(got >= 3, "%s p%d %s (%s): marked but %d new dark pixels", id, pg->number, v[4],
                              v[7], got);
                    } else if (!strcmp(v[6], "blank")) {
                        blank++;
                        CHECK(in_box == 0 && in_label == 0, "%s p%d %s (%s): blank but %d+%d new dark pixels", id,
                              pg->number, v[4], v[7], in_box, in_label);
                    } else
                        CHECK(!clean && !strcmp(v[6], "doubtful"), "state %s", v[6]);
                    if (clean)
                        CHECK(!strcmp(v[7], "circle") || !strcmp(v[7], "tick") || !strcmp(v[7], "digit") ||
                                  !strcmp(v[7], "text") || !strcmp(v[7], "none"),
                              "clean style %s", v[7]);
                }
                if (!s[i].duplicate)
                    CHECK(nrows == pg->n_regions, "page %d: %d truth rows for %d regions", pg->number, nrows,
                          pg->n_regions);
                else
                    CHECK_INT(nrows, 0);
                if (clean) {
                    /* Nothing away from the regions: blank out every region
                     * (4 mm around) and compare what is left. */
                    PIX *bb = pixCopy(NULL, b), *xx = pixCopy(NULL, x);
                    double kk = DPI / OMR_MM_PER_INCH;
                    for (int ri = 0; ri < pg->n_regions; ri++) {
                        omr_rect_t g = pg->regions[ri].box;
                        BOX *box = boxCreate((int)((g.x - 4) * kk), (int)((g.y - 4) * kk), (int)((g.w + 8) * kk),
                                             (int)((g.h + 8) * kk));
                        pixSetInRect(bb, box);
                        pixSetInRect(xx, box);
                        boxDestroy(&box);
                    }
                    l_int32 same = 0;
                    pixEqual(bb, xx, &same);
                    CHECK(same, "%s page %d: clean ink away from the regions", id, pg->number);
                    pixDestroy(&bb);
                    pixDestroy(&xx);
                }
                pixDestroy(&b);
                pixDestroy(&x);
                free(t);
            }
            free(s);
            sim_respondent_free(r);
        }
    }
    CHECK(marked > 50 && blank > 50, "marked %d blank %d", marked, blank);
}

static void test_ink_lands(void) { check_ink(busy_profile(), 4, 0); }

static void test_clean_profile(void)
{
    sim_profile_t p;
    sim_profile_defaults(&p, 1);
    check_ink(p, 1, 1);
}

static void test_csv_quoting(void)
{
    char *t = NULL;
    size_t n;
    FILE *f = open_memstream(&t, &n);
    csv_field(f, "a,b");
    fputc('|', f);
    csv_field(f, "say \"hi\"");
    fputc('|', f);
    csv_field(f, "plain");
    fclose(f);
    CHECK_STR(t, "\"a,b\"|\"say \"\"hi\"\"\"|plain");
    free(t);
}

int main(void)
{
    omr_error_t err;
    omr_quiet_libraries();
    if (omr_template_load("templates/ipa-itsc-2018", &survey, &err) != OMR_OK) {
        fprintf(stderr, "templates/ipa-itsc-2018: %s\n", err.msg);
        CHECK(0);
        return check_report();
    }
    if (sim_digits_load() != 0)
        fprintf(stderr, "digits: %s\n", sim_fill_last_error());
    RUN(test_csv_quoting);
    RUN(test_determinism);
    RUN(test_answers_obey_template);
    RUN(test_two_marks_on_circled_forms);
    RUN(test_packet);
    RUN(test_ink_lands);
    RUN(test_clean_profile);
    omr_template_free(survey);
    return check_report();
}
