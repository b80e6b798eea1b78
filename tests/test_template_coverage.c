/* test_template_coverage.c -- does the IPA survey template hold the whole
 * questionnaire, coded as the survey office codes it?
 *
 * The ground truth below is typed by hand from the questionnaire text
 * (shared/seed/000_cc97ef08a034aa33.txt) and the coding rules
 * (shared/spec/coding.md), not read from the templates: every question of
 * forms A and B in printed order, its label, kind, number of options, rows and
 * columns, routing, exclusive and "その他" options, and whether it is on a case
 * page. It is checked twice: against the layout sources
 * (templates/ipa-itsc-2018/src/A.src and B.src, through the shared tokenizer) and
 * against the generated survey loaded with omr_template_load(), together
 * with a handful of exact export column names and printed texts.
 *
 * Run from the repository root (tests/run.sh does).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "template.h"

#ifndef SURVEY_DIR /* overridable to try the checks on another copy of the survey */
#define SURVEY_DIR "templates/ipa-itsc-2018"
#endif

typedef struct {
    const char *id;        /* question ID in the data */
    const char *label;     /* as printed */
    omr_kind_t kind;
    int n_options, n_rows, n_cols;
    const char *when;      /* "SRC:CODES" or NULL when always asked */
    const char *exclusive; /* option codes marked exclusive, "" for none */
    const char *other;     /* option codes with a "その他（ ）" field, "" for none */
    int is_case;           /* on a case page */
} want_t;

#define T OMR_KIND_TEXT
#define SI OMR_KIND_SINGLE
#define MU OMR_KIND_MULTI
#define T3 OMR_KIND_TOP3
#define G1 OMR_KIND_GRID1
#define GN OMR_KIND_GRIDN
#define CG OMR_KIND_CODEGRID
#define TL OMR_KIND_TICKLIST

/* The cover block and section I, the same on both forms (coding.md). */
#define COVER_AND_SECTION_I                                                              \
    {"company", "会社名", T, 0, 0, 0, NULL, "", "", 0},                                   \
    {"department", "部署名", T, 0, 0, 0, NULL, "", "", 0},                                \
    {"person", "ご担当者名", T, 0, 0, 0, NULL, "", "", 0},                                \
    {"phone", "電話番号", T, 0, 0, 0, NULL, "", "", 0},                                   \
    {"email", "メールアドレス", T, 0, 0, 0, NULL, "", "", 0},                             \
    {"webid", "ID*", T, 0, 0, 0, NULL, "", "", 0},                                        \
    {"S1", "S1", SI, 9, 0, 0, NULL, "", "9", 0},                                          \
    {"S1s1", "S1-1", SI, 8, 0, 0, "S1:1,2", "", "", 0},                                   \
    {"S2", "S2", SI, 8, 0, 0, NULL, "", "", 0},                                           \
    {"S3", "S3", SI, 6, 0, 0, NULL, "", "6", 0},                                          \
    {"S4", "S4", SI, 8, 0, 0, NULL, "", "8", 0}

static const want_t want_a[] = {
    COVER_AND_SECTION_I,
    {"Q1", "問1", SI, 5, 0, 0, NULL, "", "", 0},
    {"Q2", "問2", MU, 7, 0, 0, NULL, "7", "6", 0},
    {"Q3", "問3", MU, 7, 0, 0, NULL, "7", "6", 0},
    {"Q4", "問4", T3, 8, 0, 0, NULL, "", "8", 0},
    {"Q5", "問5", SI, 4, 0, 0, "Q2:1", "", "4", 0},
    {"Q6", "問6", SI, 4, 0, 0, NULL, "", "4", 0},
    {"Q7", "問7", GN, 0, 5, 7, NULL, "", "", 0},
    {"Q8", "問8", G1, 0, 8, 5, NULL, "", "", 0},
    {"Q9", "問9", G1, 0, 7, 5, NULL, "", "", 0},
    {"Q10", "問10", MU, 7, 0, 0, NULL, "", "7", 0},
    {"Q11", "問11", T3, 7, 0, 0, NULL, "", "7", 0},
    {"Q12", "問12", MU, 12, 0, 0, NULL, "12", "11", 0},
    {"Q16", "問16", T3, 6, 0, 0, NULL, "", "", 0},
    {"Q17", "問17", T3, 8, 0, 0, NULL, "", "8", 0},
    {"Q18", "問18", MU, 6, 0, 0, NULL, "", "6", 0},
    {"Q19", "問19", MU, 10, 0, 0, NULL, "", "10", 1},
    {"Q20", "問20", SI, 4, 0, 0, NULL, "", "", 1},
    {"Q21", "問21", SI, 6, 0, 0, NULL, "", "6", 1},
    {"Q22", "問22", MU, 5, 0, 0, NULL, "5", "", 1},
    {"Q22s1", "問22-1", SI, 3, 0, 0, "Q22:1,2", "", "", 1},
    {"Q27s1", "問27-1", MU, 4, 0, 0, NULL, "", "4", 1}, /* 問27 is not on the form */
    {"Q28", "問28", SI, 2, 0, 0, NULL, "", "", 1},
    {"Q28s1", "問28-1", TL, 22, 0, 0, "Q28:1", "", "", 1},
    {"Q29", "問29", SI, 3, 0, 0, NULL, "", "3", 1},
};

static const want_t want_b[] = {
    COVER_AND_SECTION_I,
    {"Q1", "問1", SI, 4, 0, 0, NULL, "", "4", 0},
    {"Q1s1", "問1-1", SI, 4, 0, 0, "Q1:1,2", "", "4", 0},
    {"Q2", "問2", SI, 4, 0, 0, NULL, "", "4", 0},
    {"Q3", "問3", GN, 0, 5, 7, NULL, "", "", 0},
    {"Q4", "問4", G1, 0, 8, 5, NULL, "", "", 0},
    {"Q5", "問5", G1, 0, 7, 5, NULL, "", "", 0},
    {"Q6", "問6", MU, 10, 0, 0, NULL, "", "10", 0},
    {"Q7", "問7", MU, 7, 0, 0, NULL, "", "7", 0},
    {"Q8", "問8", T3, 9, 0, 0, NULL, "", "9", 0},
    {"Q9", "問9", MU, 12, 0, 0, NULL, "12", "11", 0},
    {"Q9s1", "問9-1", GN, 0, 5, 6, "Q9:1-11", "", "", 0},
    {"Q10", "問10", G1, 0, 3, 5, NULL, "", "", 0},
    {"Q11", "問11", G1, 0, 9, 5, NULL, "", "", 0},
    {"Q12", "問12", SI, 6, 0, 0, NULL, "", "", 0},
    {"Q13", "問13", T3, 6, 0, 0, NULL, "", "", 0},
    {"Q14", "問14", T3, 8, 0, 0, NULL, "", "8", 0},
    {"Q15", "問15", MU, 6, 0, 0, NULL, "", "6", 0},
    {"Q21", "問21", SI, 4, 0, 0, NULL, "", "", 1},
    {"Q22", "問22", SI, 6, 0, 0, NULL, "", "6", 1},
    {"Q23", "問23", MU, 6, 0, 0, NULL, "5,6", "", 1},
    {"Q23s1", "問23-1", SI, 4, 0, 0, "Q23:1,2", "", "", 1},
    {"Q24", "問24", G1, 0, 5, 5, NULL, "", "", 1},
    {"Q25", "問25", CG, 4, 8, 7, NULL, "", "", 1},
    {"Q25s1", "問25-1", MU, 4, 0, 0, "Q25:4", "", "4", 1},
    {"Q29", "問29", SI, 2, 0, 0, NULL, "", "", 1},
    {"Q29s1", "問29-1", T, 0, 0, 0, "Q29:1", "", "", 1},
};

/* Grid columns that exclude the row's other columns (as "exclusive" options do). */
static const struct {
    const char *form, *id, *codes;
} want_col_excl[] = {
    {"B", "Q9s1", "6"}, /* 当該被害はない */
};

static uint64_t codes_mask(const char *list);

static uint64_t col_excl_mask(const char *form, const char *id)
{
    for (size_t i = 0; i < sizeof want_col_excl / sizeof want_col_excl[0]; i++)
        if (!strcmp(want_col_excl[i].form, form) && !strcmp(want_col_excl[i].id, id))
            return codes_mask(want_col_excl[i].codes);
    return 0;
}

#define N_A ((int)(sizeof want_a / sizeof want_a[0]))
#define N_B ((int)(sizeof want_b / sizeof want_b[0]))

/* Export columns that must exist, by form and part (0 respondent, 1 case). */
typedef struct {
    const char *form;
    int case_part;
    const char *name;
} want_col_t;

static const want_col_t want_cols[] = {
    {"A", 0, "company_text"}, {"A", 0, "webid_text"}, {"A", 0, "S1"},       {"A", 0, "S1_9_text"},
    {"A", 0, "S1s1"},         {"A", 0, "Q1"},         {"A", 0, "Q2_1"},     {"A", 0, "Q2_7"},
    {"A", 0, "Q2_6_text"},    {"A", 0, "Q4_r1"},      {"A", 0, "Q4_r3"},    {"A", 0, "Q4_8_text"},
    {"A", 0, "Q7_a_1"},       {"A", 0, "Q7_e_7"},     {"A", 0, "Q8_a"},     {"A", 0, "Q8_h"},
    {"A", 0, "Q9_g"},         {"A", 0, "Q12_12"},     {"A", 0, "Q17_r2"},   {"A", 0, "Q18_6_text"},
    {"A", 1, "Q19_10"},       {"A", 1, "Q19_10_text"}, {"A", 1, "Q22_5"},   {"A", 1, "Q22s1"},
    {"A", 1, "Q27s1_4_text"}, {"A", 1, "Q28"},        {"A", 1, "Q28s1_1"},  {"A", 1, "Q28s1_22"},
    {"A", 1, "Q29_3_text"},
    {"B", 0, "company_text"}, {"B", 0, "S4_8_text"},  {"B", 0, "Q1"},       {"B", 0, "Q1s1"},
    {"B", 0, "Q1s1_4_text"},  {"B", 0, "Q3_e_7"},     {"B", 0, "Q4_h"},     {"B", 0, "Q6_10_text"},
    {"B", 0, "Q8_r3"},        {"B", 0, "Q8_9_text"},  {"B", 0, "Q9_12"},    {"B", 0, "Q9s1_a_1"},
    {"B", 0, "Q9s1_e_6"},     {"B", 0, "Q11_i"},      {"B", 0, "Q12"},      {"B", 0, "Q14_r1"},
    {"B", 1, "Q21"},          {"B", 1, "Q23_6"},      {"B", 1, "Q23s1"},    {"B", 1, "Q24_e"},
    {"B", 1, "Q25_a_1"},      {"B", 1, "Q25_h_7"},    {"B", 1, "Q25s1_4_text"}, {"B", 1, "Q29"},
    {"B", 1, "Q29s1_text"},
};

/* Columns that must NOT exist in a part (wrong part, or naming collisions). */
static const want_col_t absent_cols[] = {
    {"A", 0, "Q22s1"},  {"A", 0, "Q28s1_1"}, {"A", 1, "S1"},    {"A", 1, "company_text"},
    {"A", 0, "Q4_1"},   {"A", 0, "Q8_h_1"},  {"A", 0, "Q1_1"},  {"A", 0, "Q7_f_1"},
    {"A", 1, "Q28s1_23"}, {"B", 0, "Q25_h_7"}, {"B", 1, "Q9s1_e_6"}, {"B", 1, "Q25_i_1"},
    {"B", 0, "Q9s1_e_7"}, {"B", 1, "Q29s1"},
};

static omr_survey_t *survey;
static char load_msg[1024];

/* Is code c in a list like "5,6" or "1-11" (or a bare "SRC:" stripped list)? */
static uint64_t codes_mask(const char *list)
{
    uint64_t m = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) break;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            p = end;
        }
        for (long c = a; c <= b && c < 64; c++)
            if (c > 0) m |= (uint64_t)1 << c;
        if (*p == ',') p++;
    }
    return m;
}

static const want_t *want_of(const char *form, int *pn)
{
    if (strcmp(form, "A") == 0) {
        *pn = N_A;
        return want_a;
    }
    *pn = N_B;
    return want_b;
}

/* Expected number of export columns of a question (coding.md "Variable names"). */
static int want_n_columns(const want_t *w)
{
    int n = 0;
    switch (w->kind) {
    case OMR_KIND_SINGLE: n = 1; break;
    case OMR_KIND_MULTI: n = w->n_options; break;
    case OMR_KIND_TOP3: n = 3; break;
    case OMR_KIND_GRID1: n = w->n_rows; break;
    case OMR_KIND_GRIDN:
    case OMR_KIND_CODEGRID: n = w->n_rows * w->n_cols; break;
    case OMR_KIND_TICKLIST: n = w->n_options; break;
    case OMR_KIND_TEXT: n = 1; break;
    default: break;
    }
    return n + __builtin_popcountll(codes_mask(w->other));
}

/* ---- the layout sources ---- */

/* Parse one form's source with the shared tokenizer; check every line
 * tokenizes and the `question` statements match the table. */
static void check_source(const char *form)
{
    char path[256];
    snprintf(path, sizeof path, SURVEY_DIR "/src/%s.src", form);
    omr_error_t err = {0};
    char *text = omr_read_file(path, 1 << 20, NULL, &err);
    CHECK(text != NULL, "%s", err.msg);
    if (!text) return;
    int n_want;
    const want_t *want = want_of(form, &n_want);
    int nq = 0, lineno = 0, in_case = 0;
    const want_t *cur = NULL; /* the question whose options we are counting */
    int n_opt = 0, n_row = 0, n_col = 0;
    uint64_t excl = 0, other = 0, col_excl = 0;
#define FINISH_QUESTION()                                                               \
    do {                                                                                \
        if (cur) {                                                                      \
            CHECK(n_opt == cur->n_options, "%s %s: %d options, want %d", path, cur->id, n_opt, \
                  cur->n_options);                                                      \
            CHECK(n_row == cur->n_rows, "%s %s: %d rows, want %d", path, cur->id, n_row, cur->n_rows); \
            CHECK(n_col == cur->n_cols, "%s %s: %d cols, want %d", path, cur->id, n_col, cur->n_cols); \
            CHECK(excl == codes_mask(cur->exclusive), "%s %s: exclusive options differ", path, cur->id); \
            CHECK(other == codes_mask(cur->other), "%s %s: その他 options differ", path, cur->id); \
            CHECK(col_excl == col_excl_mask(form, cur->id), "%s %s: exclusive columns differ", path, cur->id); \
        }                                                                               \
        cur = NULL;                                                                     \
        n_opt = n_row = n_col = 0;                                                      \
        excl = other = col_excl = 0;                                                    \
    } while (0)

    for (char *line = text; line && *line; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        omr_tpl_line_t t;
        omr_error_t terr = {0};
        if (omr_template_tokenize(line, &t, &terr) != OMR_OK) {
            CHECK(0, "%s:%d: %s", path, lineno + 1, terr.msg);
        } else if (t.n > 0) {
            const char *kw = t.value[0];
            if (strcmp(kw, "question") == 0) {
                FINISH_QUESTION();
                CHECK(nq < n_want, "%s:%d: more questions than the questionnaire has", path, lineno + 1);
                if (nq < n_want && t.n > 1) {
                    const want_t *w = &want[nq];
                    const char *kind = omr_tpl_attr(&t, "kind");
                    const char *label = omr_tpl_attr(&t, "label");
                    const char *when = omr_tpl_attr(&t, "when");
                    CHECK_STR(t.value[1], w->id);
                    CHECK(kind && omr_template_kind_from_name(kind) == (int)w->kind,
                          "%s:%d: %s kind %s", path, lineno + 1, w->id, kind ? kind : "(none)");
                    CHECK(label && strcmp(label, w->label) == 0, "%s:%d: %s label %s, want %s", path,
                          lineno + 1, w->id, label ? label : "(none)", w->label);
                    CHECK((when == NULL) == (w->when == NULL) && (!when || strcmp(when, w->when) == 0),
                          "%s:%d: %s when=%s, want %s", path, lineno + 1, w->id, when ? when : "(none)",
                          w->when ? w->when : "(none)");
                    CHECK(in_case == w->is_case, "%s:%d: %s case section %d, want %d", path, lineno + 1,
                          w->id, in_case, w->is_case);
                    cur = w;
                }
                nq++;
            } else if (strcmp(kw, "option") == 0 && cur) {
                n_opt++;
                int code = t.n > 1 ? atoi(t.value[1]) : 0;
                for (int i = 2; i < t.n; i++) {
                    if (t.key[i]) continue;
                    if (strcmp(t.value[i], "exclusive") == 0 && code > 0 && code < 64)
                        excl |= (uint64_t)1 << code;
                    if (strcmp(t.value[i], "other") == 0 && code > 0 && code < 64)
                        other |= (uint64_t)1 << code;
                }
            } else if (strcmp(kw, "row") == 0 && cur) {
                n_row++;
            } else if (strcmp(kw, "col") == 0 && cur) {
                n_col++;
                int code = t.n > 1 ? atoi(t.value[1]) : 0;
                for (int i = 2; i < t.n; i++)
                    if (!t.key[i] && strcmp(t.value[i], "exclusive") == 0 && code > 0 && code < 64)
                        col_excl |= (uint64_t)1 << code;
            } else if (strcmp(kw, "group") == 0) {
                /* a heading inside a tick list: part of the current question */
            } else {
                FINISH_QUESTION();
                if (strcmp(kw, "case") == 0) in_case = 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    FINISH_QUESTION();
#undef FINISH_QUESTION
    CHECK_INT(nq, n_want);
    free(text);
}

static void test_source_a(void) { check_source("A"); }
static void test_source_b(void) { check_source("B"); }

/* ---- the generated, loaded survey ---- */

static void test_load(void)
{
    CHECK(survey != NULL, "omr_template_load(%s): %s", SURVEY_DIR, load_msg);
    if (!survey) return;
    CHECK_STR(survey->id, "ipa-itsc-2018");
    CHECK_STR(survey->code, "ITSC18");
    CHECK_INT(survey->n_forms, 2);
    const omr_form_t *a = omr_template_form(survey, "A");
    const omr_form_t *b = omr_template_form(survey, "B");
    CHECK(a != NULL && b != NULL, "forms A and B");
    if (a) CHECK_STR(a->title, "委託元調査");
    if (b) CHECK_STR(b->title, "委託先調査");
}

/* Every question in order with its kind, counts, routing, flags and page. */
static void check_form(const char *form_id)
{
    if (!survey) {
        CHECK(0, "survey not loaded");
        return;
    }
    const omr_form_t *f = omr_template_form(survey, form_id);
    CHECK(f != NULL, "form %s", form_id);
    if (!f) return;
    int n_want;
    const want_t *want = want_of(form_id, &n_want);
    CHECK_INT(f->n_questions, n_want);
    int n = f->n_questions < n_want ? f->n_questions : n_want;
    for (int i = 0; i < n; i++) {
        const omr_question_t *q = &f->questions[i];
        const want_t *w = &want[i];
        CHECK(strcmp(q->id, w->id) == 0, "%s question %d is %s, want %s", form_id, i + 1, q->id, w->id);
        if (strcmp(q->id, w->id) != 0) continue;
        CHECK(strcmp(q->label, w->label) == 0, "%s %s label %s, want %s", form_id, w->id, q->label, w->label);
        CHECK(q->kind == w->kind, "%s %s kind %s, want %s", form_id, w->id,
              omr_template_kind_name(q->kind), omr_template_kind_name(w->kind));
        CHECK(q->n_options == w->n_options, "%s %s: %d options, want %d", form_id, w->id, q->n_options,
              w->n_options);
        CHECK(q->n_rows == w->n_rows, "%s %s: %d rows, want %d", form_id, w->id, q->n_rows, w->n_rows);
        CHECK(q->n_cols == w->n_cols, "%s %s: %d cols, want %d", form_id, w->id, q->n_cols, w->n_cols);
        CHECK(strcmp(q->base, w->id) == 0, "%s %s base %s", form_id, w->id, q->base);
        CHECK(q->text != NULL && (w->kind == OMR_KIND_TEXT || q->text[0] != '\0'), "%s %s has no prompt",
              form_id, w->id);

        /* options: codes 1..n in order, exclusive and その他 flags */
        uint64_t excl = 0, other = 0;
        for (int k = 0; k < q->n_options; k++) {
            const omr_option_t *o = &q->options[k];
            CHECK(o->code == k + 1, "%s %s option %d has code %d", form_id, w->id, k + 1, o->code);
            if (o->code > 0 && o->code < 64) {
                if (o->exclusive) excl |= (uint64_t)1 << o->code;
                if (o->other) other |= (uint64_t)1 << o->code;
            }
        }
        CHECK(excl == codes_mask(w->exclusive), "%s %s: exclusive options differ (want \"%s\")", form_id,
              w->id, w->exclusive);
        CHECK(other == codes_mask(w->other), "%s %s: その他 options differ (want \"%s\")", form_id, w->id,
              w->other);
        /* rows a, b, … and columns 1..n */
        for (int r = 0; r < q->n_rows; r++) {
            char id[2] = {(char)('a' + r), 0};
            CHECK(strcmp(q->rows[r].id, id) == 0, "%s %s row %d is %s, want %s", form_id, w->id, r + 1,
                  q->rows[r].id, id);
        }
        uint64_t col_excl = 0;
        for (int c = 0; c < q->n_cols; c++) {
            CHECK(q->cols[c].code == c + 1, "%s %s col %d has code %d", form_id, w->id, c + 1, q->cols[c].code);
            if (q->cols[c].exclusive && q->cols[c].code > 0 && q->cols[c].code < 64)
                col_excl |= (uint64_t)1 << q->cols[c].code;
        }
        CHECK(col_excl == col_excl_mask(form_id, w->id), "%s %s: exclusive columns differ", form_id, w->id);

        /* routing */
        if (w->when) {
            char src[24];
            const char *colon = strchr(w->when, ':');
            snprintf(src, sizeof src, "%.*s", (int)(colon - w->when), w->when);
            CHECK(q->route_question >= 0 && q->route_question < f->n_questions &&
                      strcmp(f->questions[q->route_question].id, src) == 0,
                  "%s %s should be routed from %s", form_id, w->id, src);
            CHECK(q->route_codes == codes_mask(colon + 1), "%s %s route codes differ from %s", form_id,
                  w->id, w->when);
        } else {
            CHECK(q->route_question < 0, "%s %s should not be routed", form_id, w->id);
        }

        /* case section */
        CHECK(q->is_case == w->is_case, "%s %s is_case %d, want %d", form_id, w->id, q->is_case, w->is_case);
        CHECK(q->page >= 0 && q->page < f->n_pages, "%s %s page %d", form_id, w->id, q->page);
        if (q->page >= 0 && q->page < f->n_pages)
            CHECK(f->pages[q->page].is_case == w->is_case, "%s %s on page %d (case %d), want case %d",
                  form_id, w->id, q->page + 1, f->pages[q->page].is_case, w->is_case);
        if (i > 0) CHECK(q->page >= f->questions[i - 1].page, "%s %s printed before the question above it",
                         form_id, w->id);
    }

    /* pages: numbered 1..n, case pages one run at the end */
    int seen_case = 0;
    for (int p = 0; p < f->n_pages; p++) {
        CHECK_INT(f->pages[p].number, p + 1);
        if (seen_case) CHECK(f->pages[p].is_case, "%s page %d after a case page is not a case page", form_id, p + 1);
        seen_case |= f->pages[p].is_case;
    }
    CHECK(seen_case, "%s has no case page", form_id);
}

static void test_form_a(void) { check_form("A"); }
static void test_form_b(void) { check_form("B"); }

static int has_column(const omr_column_t *cols, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0) return 1;
    return 0;
}

/* Column counts per part from the table, named columns present / absent, no duplicates. */
static void test_columns(void)
{
    if (!survey) {
        CHECK(0, "survey not loaded");
        return;
    }
    const char *forms[2] = {"A", "B"};
    for (int fi = 0; fi < 2; fi++) {
        const omr_form_t *f = omr_template_form(survey, forms[fi]);
        if (!f) {
            CHECK(0, "form %s", forms[fi]);
            continue;
        }
        int n_want;
        const want_t *want = want_of(forms[fi], &n_want);
        for (int part = 0; part < 2; part++) {
            omr_column_t *cols = NULL;
            int n = omr_template_columns(f, part, &cols);
            CHECK(n >= 0, "omr_template_columns %s %d", forms[fi], part);
            if (n < 0) continue;
            int expect = 0;
            for (int i = 0; i < n_want; i++)
                if (want[i].is_case == part) expect += want_n_columns(&want[i]);
            CHECK(n == expect, "form %s %s part: %d columns, want %d", forms[fi],
                  part ? "case" : "respondent", n, expect);
            for (size_t k = 0; k < sizeof want_cols / sizeof want_cols[0]; k++)
                if (strcmp(want_cols[k].form, forms[fi]) == 0 && want_cols[k].case_part == part)
                    CHECK(has_column(cols, n, want_cols[k].name), "form %s %s part lacks column %s",
                          forms[fi], part ? "case" : "respondent", want_cols[k].name);
            for (size_t k = 0; k < sizeof absent_cols / sizeof absent_cols[0]; k++)
                if (strcmp(absent_cols[k].form, forms[fi]) == 0 && absent_cols[k].case_part == part)
                    CHECK(!has_column(cols, n, absent_cols[k].name), "form %s %s part has column %s",
                          forms[fi], part ? "case" : "respondent", absent_cols[k].name);
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    CHECK(strcmp(cols[i].name, cols[j].name) != 0, "form %s duplicate column %s", forms[fi],
                          cols[i].name);
            free(cols);
        }
    }
}

static const omr_question_t *q_of(const char *form, const char *id)
{
    const omr_form_t *f = survey ? omr_template_form(survey, form) : NULL;
    const omr_question_t *q = f ? omr_template_question(f, id) : NULL;
    CHECK(q != NULL, "form %s question %s", form, id);
    return q;
}

/* A few printed texts, exactly as the questionnaire prints them. */
static void test_texts(void)
{
    if (!survey) {
        CHECK(0, "survey not loaded");
        return;
    }
    const omr_question_t *q;
    if ((q = q_of("A", "S1")) && q->n_options == 9) {
        CHECK_STR(q->text, "貴社の主な業種*をお選びください。（○は1つ）");
        CHECK_STR(q->options[0].text, "製造業");
        CHECK_STR(q->options[7].text, "サービス業（3～7に分類されないもの）");
    }
    if ((q = q_of("A", "Q2")) && q->n_options == 7)
        CHECK_STR(q->options[6].text, "特にルールや規定類は整備されていない");
    if ((q = q_of("A", "Q7")) && q->n_cols == 7 && q->n_rows == 5) {
        CHECK_STR(q->cols[0].text, "調達部門");
        CHECK_STR(q->cols[6].text, "委託先");
        CHECK_STR(q->rows[3].text, "要求事項を契約関連文書（仕様書、契約書等）に記載する");
    }
    if ((q = q_of("A", "Q8")) && q->n_cols == 5) {
        CHECK_STR(q->cols[0].text, "強くそう思う");
        CHECK_STR(q->cols[2].text, "あまりそう思わない");
        CHECK_STR(q->cols[4].text, "分からない");
    }
    if ((q = q_of("A", "Q27s1")))
        CHECK(strstr(q->text, "問27の情報セキュリティ要求事項のいずれかについて") != NULL,
              "問27-1 prints its routing sentence: %s", q->text);
    if ((q = q_of("A", "Q28s1")) && q->n_options == 22)
        CHECK_STR(q->options[21].text, "インシデント発生時の適切かつ迅速な初動対応、報告の実施");
    if ((q = q_of("B", "S4")) && q->n_options == 8) CHECK_STR(q->options[6].text, "専門職");
    if ((q = q_of("B", "Q9s1")) && q->n_cols == 6) CHECK_STR(q->cols[5].text, "当該被害はない");
    if ((q = q_of("B", "Q11")) && q->n_cols == 5 && q->n_rows == 9) {
        CHECK_STR(q->cols[0].text, "非常に懸念している");
        CHECK_STR(q->rows[8].text, "取引先の脆弱性が原因で自社内に侵入される");
    }
    if ((q = q_of("B", "Q25")) && q->n_cols == 7 && q->n_options == 4) {
        CHECK_STR(q->cols[0].text, "約款");
        CHECK_STR(q->cols[6].text, "その他（SLA*等）");
        CHECK_STR(q->options[3].text, "当該項目について、委託先（貴社）が責任を負うべき範囲が明示されている");
    }
}

int main(void)
{
    omr_error_t err = {0};
    if (omr_template_load(SURVEY_DIR, &survey, &err) != OMR_OK) {
        survey = NULL;
        snprintf(load_msg, sizeof load_msg, "%s", err.msg);
    }
    RUN(test_source_a);
    RUN(test_source_b);
    RUN(test_load);
    RUN(test_form_a);
    RUN(test_form_b);
    RUN(test_columns);
    RUN(test_texts);
    omr_template_free(survey);
    return check_report();
}
