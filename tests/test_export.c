/* test_export.c -- the CSV export and codebook (omr/export.h): RFC 4180
 * quoting, exact file text for hand-made responses, the BOM, respondents held
 * back for unresolved cells (and marked with --mark-unresolved), respondents
 * not yet re-coded, and codebook rows whose labels were typed from the seed
 * questionnaire (../shared/seed), not taken from the code under test. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "export.h"

static char dir[400], dbpath[450];
static omr_survey_t *survey;

static char *slurp(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    omr_error_t err;
    char *t = omr_read_file(p, 1 << 24, NULL, &err);
    if (!t)
        fprintf(stderr, "%s\n", err.msg);
    return t;
}

static void test_quoting(void)
{
    const char *in[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\rx", "", "日本語、カンマ"};
    const char *want[] = {"plain", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"two\nlines\"", "\"cr\rx\"", "", "日本語、カンマ"};
    for (int i = 0; i < 7; i++) {
        char buf[100] = {0};
        FILE *f = fmemopen(buf, sizeof buf - 1, "w");
        omr_export_csv_field(f, in[i]);
        fclose(f);
        CHECK_STR(buf, want[i]);
    }
}

/* Fill the store: 000001 complete with two cases, 000002 with one cell
 * awaiting review, 000003 with pages stored but never coded. */
static omr_store_t *make_store(void)
{
    snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
    omr_store_t *s;
    omr_error_t err;
    if (omr_store_open(dbpath, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    omr_store_value_t v1[] = {
        {0, 0, "Q1", "2", OMR_VALUE_CERTAIN},
        {0, 0, "Q2_1", "1", OMR_VALUE_CERTAIN},
        {0, 0, "Q2_6_text", "他社, \"特別\"\n対応", OMR_VALUE_RESOLVED},
        {0, 0, "S2", "-1", OMR_VALUE_CERTAIN},
        {1, 0, "Q20", "3", OMR_VALUE_CERTAIN},
        {2, 0, "Q20", "1", OMR_VALUE_CERTAIN},
    };
    omr_store_value_t v2[] = {{0, 0, "Q1", "3", OMR_VALUE_REVIEW}, {0, 0, "Q2_1", "0", OMR_VALUE_CERTAIN}};
    CHECK(omr_store_save_coding(s, "A", "000001", 0, v1, 6, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_save_coding(s, "A", "000002", 0, v2, 2, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    sqlite3_exec(omr_store_db(s), "INSERT INTO respondents(form, respondent, dirty) VALUES('A', '000003', 1)", NULL,
                 NULL, NULL);
    return s;
}

/* The expected data row: respondent (and case), then every column of the
 * part, empty but for the given name=value pairs (already CSV-quoted). */
static void expect_row(char *buf, size_t n, const omr_form_t *form, int part, const char *key,
                       const char *const *pairs, int np)
{
    omr_column_t *cols;
    int nc = omr_template_columns(form, part, &cols);
    size_t used = (size_t)snprintf(buf, n, "%s", key);
    for (int i = 0; i < nc; i++) {
        const char *v = "";
        for (int k = 0; k < np; k += 2)
            if (!strcmp(pairs[k], cols[i].name))
                v = pairs[k + 1];
        used += (size_t)snprintf(buf + used, n - used, ",%s", v);
    }
    snprintf(buf + used, n - used, "\r\n");
    free(cols);
}

static void expect_header(char *buf, size_t n, const omr_form_t *form, int part)
{
    omr_column_t *cols;
    int nc = omr_template_columns(form, part, &cols);
    size_t used = (size_t)snprintf(buf, n, "%s", part ? "respondent,case" : "respondent");
    for (int i = 0; i < nc; i++)
        used += (size_t)snprintf(buf + used, n - used, ",%s", cols[i].name);
    snprintf(buf + used, n - used, "\r\n");
    free(cols);
}

static void test_export_files(void)
{
    omr_store_t *s = make_store();
    if (!s)
        return;
    const omr_form_t *A = omr_template_form(survey, "A");
    omr_export_report_t rep;
    omr_error_t err;
    CHECK(omr_export_write(s, survey, dir, NULL, &rep, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(rep.rows, 1);
    CHECK_INT(rep.case_rows, 2);
    CHECK_INT(rep.held_back, 2);
    CHECK_INT(rep.not_coded, 1);
    CHECK_INT(rep.marked_cells, 0);

    static char want[65536], row[16384];
    expect_header(want, sizeof want, A, 0);
    const char *r1[] = {"Q1", "2", "Q2_1", "1", "Q2_6_text", "\"他社, \"\"特別\"\"\n対応\"", "S2", "-1"};
    expect_row(row, sizeof row, A, 0, "000001", r1, 8);
    strcat(want, row);
    char *got = slurp("A.csv");
    CHECK(got && !strcmp(got, want), "A.csv:\n%s\nwant:\n%s", got ? got : "(none)", want);
    free(got);

    expect_header(want, sizeof want, A, 1);
    const char *c1[] = {"Q20", "3"}, *c2[] = {"Q20", "1"};
    expect_row(row, sizeof row, A, 1, "000001,1", c1, 2);
    strcat(want, row);
    expect_row(row, sizeof row, A, 1, "000001,2", c2, 2);
    strcat(want, row);
    got = slurp("A_cases.csv");
    CHECK(got && !strcmp(got, want), "A_cases.csv:\n%s\nwant:\n%s", got ? got : "(none)", want);
    free(got);

    /* form B has no respondents: header only */
    expect_header(want, sizeof want, omr_template_form(survey, "B"), 0);
    got = slurp("B.csv");
    CHECK(got && !strcmp(got, want), "B.csv: %s", got ? got : "(none)");
    free(got);
    got = slurp("B_cases.csv");
    CHECK(got && !strncmp(got, "respondent,case,", 16));
    free(got);

    /* --mark-unresolved writes 000002 with the blocked cell marked, never the
     * respondent that was not re-coded; --bom adds the UTF-8 BOM */
    omr_export_opts_t opts = {.bom = 1, .mark_unresolved = 1};
    CHECK(omr_export_write(s, survey, dir, &opts, &rep, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(rep.rows, 2);
    CHECK_INT(rep.marked_cells, 1);
    got = slurp("A.csv");
    const char *r2[] = {"Q1", "NA_REVIEW", "Q2_1", "0"};
    expect_row(row, sizeof row, A, 0, "000002", r2, 4);
    CHECK(got && !strncmp(got, "\xEF\xBB\xBFrespondent,", 14), "no BOM");
    CHECK(got && strstr(got, row) != NULL, "000002 row not marked as expected:\n%s", got ? got : "");
    CHECK(got && !strstr(got, "000003"));
    free(got);
    got = slurp("codebook.csv");
    CHECK(got && !strncmp(got, "\xEF\xBB\xBF" "column,", 10));
    free(got);
    /* --labels: A_labels.csv, the same row with each code as its label (the
     * seed's text of 問1 option 2 and "○あり" for a multi column marked,
     * "非該当" for -1); the coded file unchanged; the report counts once */
    char *coded = slurp("A.csv");
    omr_export_opts_t lab = {.bom = 1, .mark_unresolved = 1, .labels = 1};
    CHECK(omr_export_write(s, survey, dir, &lab, &rep, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(rep.rows, 2);
    got = slurp("A_labels.csv");
    const omr_question_t *q1 = omr_template_question(A, "Q1");
    const char *opt2 = NULL;
    for (int i = 0; q1 && i < q1->n_options; i++)
        if (q1->options[i].code == 2)
            opt2 = q1->options[i].text;
    char want_q1[512];
    snprintf(want_q1, sizeof want_q1, "%s", opt2 ? opt2 : "?");
    const char *rl[] = {"Q1", want_q1, "Q2_1", "○あり", "Q2_6_text", "\"他社, \"\"特別\"\"\n対応\"", "S2", "非該当"};
    expect_row(row, sizeof row, A, 0, "000001", rl, 8);
    CHECK(got && strstr(got, row) != NULL, "A_labels.csv:\n%s\nwant the row:\n%s", got ? got : "(none)", row);
    free(got);
    char *again = slurp("A.csv");
    CHECK(coded && again && !strcmp(coded, again), "A.csv changed with --labels");
    free(coded);
    free(again);
    got = slurp("A_cases_labels.csv");
    CHECK(got && !strncmp(got, "\xEF\xBB\xBFrespondent,case,", 19), "A_cases_labels.csv: %s", got ? got : "(none)");
    free(got);
    /* an export without --labels leaves no stale labelled file behind */
    CHECK(omr_export_write(s, survey, dir, &opts, &rep, &err) == OMR_OK, "%s", err.msg);
    char stale[600];
    snprintf(stale, sizeof stale, "%s/A_labels.csv", dir);
    CHECK(access(stale, F_OK) != 0, "A_labels.csv left from the export before");
    /* no temporary files left behind */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/.A.csv.tmp", dir);
    CHECK(access(tmp, F_OK) != 0);
    omr_store_close(s);
}

/* Lines of codebook.csv for a few columns, typed from the seed text
 * (../shared/seed/000_cc97ef08a034aa33.txt, form A 問2 and 問8; the seed's
 * table headings are broken over lines there, e.g. "強く そう思う"). */
static void test_codebook(void)
{
    omr_error_t err;
    int n = 0;
    CHECK(omr_export_codebook(survey, dir, NULL, &n, &err) == OMR_OK, "%s", err.msg);
    char *cb = slurp("codebook.csv");
    if (!cb)
        return;
    CHECK(!strncmp(cb, "column,form,part,question,question_text,kind,label,value_labels\r\n", 65));
    const char *q8 = "以下の情報セキュリティ要求事項に関し、業務委託契約において、委託先の責任を明確にしたいと思う度合いについて、"
                     "当てはまるものをお選びください。（✓は各行につき、1つ）";
    const char *q2 = "情報セキュリティに関する委託先管理に関し、貴社では、どのような社内ルール・規定類を整備されていますか。"
                     "当てはまるものを全てお選びください。（○はいくつでも）";
    char want[4096];
    snprintf(want, sizeof want,
             "\r\nQ8_a,A,respondent,問8,%s,grid1,秘密保持,"
             "1=強くそう思う; 2=ややそう思う; 3=あまりそう思わない; 4=全くそう思わない; 5=分からない\r\n",
             q8);
    CHECK(strstr(cb, want) != NULL, "missing: %s", want);
    snprintf(want, sizeof want, "\r\nQ8_h,A,respondent,問8,%s,grid1,契約終了後の情報資産の扱い（返却、消去、廃棄等）,", q8);
    CHECK(strstr(cb, want) != NULL, "missing: %s", want);
    snprintf(want, sizeof want, "\r\nQ2_6_text,A,respondent,問2,%s,text,その他（記述）,\r\n", q2);
    CHECK(strstr(cb, want) != NULL, "missing: %s", want);
    snprintf(want, sizeof want,
             "\r\nQ2_1,A,respondent,問2,%s,multi,情報セキュリティ要求事項を含む契約関連文書（仕様書*、契約書等）の雛形,"
             "1=○あり; 0=○なし\r\n",
             q2);
    CHECK(strstr(cb, want) != NULL, "missing: %s", want);
    /* one row per column of both forms and parts */
    int total = 0;
    for (int f = 0; f < survey->n_forms; f++)
        for (int part = 0; part < 2; part++) {
            omr_column_t *cols;
            total += omr_template_columns(&survey->forms[f], part, &cols);
            free(cols);
        }
    CHECK_INT(n, total);
    int lines = 0;
    for (const char *p = cb; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    CHECK(lines > total, "lines %d", lines); /* header + rows (+ quoted line breaks) */
    free(cb);
    char *vl = slurp("value_labels.csv");
    CHECK(vl && strstr(vl, "\r\nQ8_a,A,respondent,3,あまりそう思わない\r\n"));
    CHECK(vl && strstr(vl, "\r\nQ5_4_text,A,respondent,-1,非該当\r\n"), "no -1 label on a skipped text column");
    free(vl);
    char *sps = slurp("codebook.sps");
    CHECK(sps && strstr(sps, "/Q8_a 1 '強くそう思う' 2 'ややそう思う'"));
    /* the "other" text of 問5, which the routing skips unless 問2 option 1:
     * its -1 is labelled and user-missing too (coding.md "-1: not applicable") */
    CHECK(sps && strstr(sps, "/Q5_4_text '-1' '非該当'"), "no -1 label on Q5_4_text");
    CHECK(sps && strstr(sps, "Q5_4_text") && strstr(strstr(sps, "MISSING VALUES"), "Q5_4_text"),
          "Q5_4_text not user-missing");
    /* SPSS cuts a variable label at 255 bytes: every label fits, cut on a
     * character boundary, and the option comes before the question text so
     * that 問2's seven columns stay apart */
    int too_long = 0, labels = 0, in_labels = 0;
    for (const char *line = sps; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len == 15 && !strncmp(line, "VARIABLE LABELS", 15)) {
            in_labels = 1;
        } else if (in_labels && len > 2 && !strncmp(line, "  ", 2)) {
            const char *q1 = memchr(line, '\'', len), *q2 = line + len - 1;
            while (q2 > line && *q2 != '\'')
                q2--;
            if (q1 && q2 > q1) {
                labels++;
                too_long += q2 - q1 - 1 > 255;
            }
        } else {
            in_labels = 0;
        }
        line = end ? end + 2 : NULL;
    }
    CHECK(labels > 100, "variable labels found: %d", labels);
    CHECK_INT(too_long, 0);
    CHECK(sps && strstr(sps, "  Q2_1 '問2 / 情報セキュリティ要求事項を含む契約関連文書（仕様書*、契約書等）の雛形 / 情報セキュリティに関する"),
          "Q2_1: the option first");
    CHECK(sps && strstr(sps, "  Q2_7 '問2 / "), "Q2_7 labelled");
    free(sps);
}

/* Run `prog name` in the test folder, output to name.log; with text, write
 * it to name first. Returns the command's status (0 ok). */
static int run_in_dir(const char *prog, const char *name, const char *text)
{
    char cmd[1200];
    if (text) {
        snprintf(cmd, sizeof cmd, "%s/%s", dir, name);
        FILE *f = fopen(cmd, "w");
        if (!f)
            return -1;
        fputs(text, f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "cd '%s' && %s %s > %s.log 2>&1", dir, prog, name, name);
    return system(cmd);
}

/* codebook.sps reads the export into SPSS, codebook.R into R: run by PSPP (Debian's pspp, which
 * tools/install-deps.sh installs) in the export folder, it must save A.sav
 * with the respondent's values, -1 user-missing, value labels as the seed
 * prints them (問1 option 2 is "11社～50社"; 問2's ○あり), and a
 * transcription with a comma and quotes intact; and A_cases.sav with its two
 * cases. The .sav files are read back by PSPP into CSV files. (A transcription
 * holds no line break: the review server refuses control characters, and
 * SPSS's text reader is line-based.) */
static void test_spss_and_r_read_export(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/spss.db", dir);
    omr_store_t *s;
    omr_error_t err;
    if (omr_store_open(path, &s, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    omr_store_value_t v[] = {
        {0, 0, "Q1", "2", OMR_VALUE_CERTAIN},        {0, 0, "Q2_1", "1", OMR_VALUE_CERTAIN},
        {0, 0, "Q2_6_text", "他社, \"特別\" 対応", OMR_VALUE_RESOLVED}, {0, 0, "S2", "-1", OMR_VALUE_CERTAIN},
        {1, 0, "Q20", "3", OMR_VALUE_CERTAIN},       {2, 0, "Q20", "1", OMR_VALUE_CERTAIN},
    };
    CHECK(omr_store_save_coding(s, "A", "000007", 0, v, 6, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    omr_export_report_t rep;
    CHECK(omr_export_write(s, survey, dir, NULL, &rep, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_export_codebook(survey, dir, NULL, NULL, &err) == OMR_OK, "%s", err.msg);
    omr_store_close(s);
    CHECK(run_in_dir("pspp", "codebook.sps", NULL) == 0,
          "pspp codebook.sps failed (is pspp installed? tools/install-deps.sh)");
    char *log = slurp("codebook.sps.log");
    CHECK(log && !strstr(log, "warning") && !strstr(log, "error"), "pspp:\n%s", log ? log : "(none)");
    free(log);
    CHECK(run_in_dir("pspp", "check.sps",
                     "GET FILE='A.sav'.\n"
                     "COMPUTE s2_missing = MISSING(S2).\n"
                     "COMPUTE s2_value = VALUE(S2).\n"
                     "SAVE TRANSLATE /OUTFILE='labels.csv' /TYPE=CSV /FIELDNAMES /CELLS=LABELS /REPLACE\n"
                     "  /KEEP=respondent Q1 Q2_1 s2_missing s2_value Q2_6_text.\n"
                     "GET FILE='A_cases.sav'.\n"
                     "SAVE TRANSLATE /OUTFILE='cases.csv' /TYPE=CSV /FIELDNAMES /CELLS=VALUES /REPLACE\n"
                     "  /KEEP=respondent case Q20.\n") == 0,
          "pspp could not read the .sav files back");
    char *got = slurp("labels.csv");
    CHECK(got && strstr(got, "respondent,Q1,Q2_1,s2_missing,s2_value,Q2_6_text"), "header: %s", got ? got : "(none)");
    /* Q1 2 by its label; Q2_1 1 "○あり"; S2 -1 user-missing but kept as -1 */
    CHECK(got && strstr(got, "000007,11社～50社,○あり,1,-1,\"他社, \"\"特別\"\" 対応\""), "A.sav:\n%s",
          got ? got : "(none)");
    free(got);
    got = slurp("cases.csv");
    CHECK(got && strstr(got, "000007,1,3") && strstr(got, "000007,2,1"), "A_cases.sav:\n%s", got ? got : "(none)");
    free(got);

    /* R users: codebook.R (base R, r-base-core) reads the same files with the
     * same labels; -1 stays -1 and omr_factor() makes it NA. */
    CHECK(run_in_dir("Rscript", "check.R",
                     "source(\"codebook.R\", encoding = \"UTF-8\")\n"
                     "d <- read_omr(\".\")\n"
                     "a <- d$A[d$A$respondent == \"000007\", ]\n"
                     "fa <- omr_factors(d$A)[d$A$respondent == \"000007\", ]\n"
                     "writeLines(c(as.character(fa$Q1), class(a$Q1), as.character(a$Q2_1),\n"
                     "  as.character(a$S2), as.character(is.na(fa$S2)), a$Q2_6_text,\n"
                     "  substr(attr(d$A$Q1, \"label\"), 1, 3), paste(d$A_cases$case, d$A_cases$Q20, collapse = \" \")),\n"
                     "  \"r.txt\", useBytes = TRUE)\n") == 0,
          "Rscript check.R failed (is r-base-core installed? tools/install-deps.sh)");
    got = slurp("r.txt");
    CHECK(got && !strcmp(got, "11社～50社\ninteger\n1\n-1\nTRUE\n他社, \"特別\" 対応\n問1 \n1 3 2 1\n"), "R read:\n%s",
          got ? got : "(none)");
    free(got);
}

/* An export with --mark-unresolved holds NA_REVIEW in every cell under
 * review; SPSS reads each as missing with a warning. PSPP stops a syntax
 * file after 100 warnings by default: a respondent with more such cells
 * must not leave the other forms' .sav files unwritten. */
static void test_spss_many_unresolved(void)
{
    char sub[600], path[700];
    snprintf(sub, sizeof sub, "%.500s/unresolved", dir);
    mkdir(sub, 0777);
    snprintf(path, sizeof path, "%s/u.db", sub);
    omr_store_t *s;
    omr_error_t err;
    if (omr_store_open(path, &s, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    omr_column_t *cols;
    int nc = omr_template_columns(&survey->forms[0], 0, &cols);
    omr_store_value_t *v = calloc((size_t)nc + 1, sizeof *v);
    int n = 0;
    for (int i = 0; i < nc; i++)
        if (!cols[i].is_text)
            v[n++] = (omr_store_value_t){0, i, cols[i].name, "", OMR_VALUE_REVIEW};
    CHECK(n > 100, "columns under review: %d", n);
    CHECK(omr_store_save_coding(s, "A", "000009", 0, v, n, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    omr_export_opts_t opts = {0};
    opts.mark_unresolved = 1;
    omr_export_report_t rep;
    CHECK(omr_export_write(s, survey, sub, &opts, &rep, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_export_codebook(survey, sub, NULL, NULL, &err) == OMR_OK, "%s", err.msg);
    omr_store_close(s);
    free(v);
    free(cols);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && pspp codebook.sps > pspp.log 2>&1", sub);
    CHECK(system(cmd) == 0, "pspp codebook.sps failed");
    /* every form's files, saved after A.sav, are there */
    const char *sav[] = {"A.sav", "A_cases.sav", "B.sav", "B_cases.sav"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", sub, sav[i]);
        CHECK(access(path, F_OK) == 0, "%s not written (pspp stopped early?)", sav[i]);
    }
}

/* A number marked `identifier` (a postal code) is text in SPSS and R, so its
 * leading zero survives, and its -1 (not applicable) is the text "-1",
 * user-missing in SPSS; a plain number stays numeric. A one-page survey
 * written here: ZIP (7 boxes, identifier) only when S1 is 1, N (3 boxes). */
static void test_identifier_is_text(void)
{
    char tdir[600];
    snprintf(tdir, sizeof tdir, "%s/ident_tpl", dir);
    mkdir(tdir, 0777);
    check_write_file(tdir, "survey.omr",
                     "survey id=t code=TST title=\"test\"\nform A title=\"form A\"\npage form=A number=1 file=A-01.page\n");
    check_write_file(tdir, "A-01.page",
                     "page survey=t form=A number=1 size=210x297\n"
                     "mark at=10,10 size=6\nmark at=200,10 size=6\nmark at=10,287 size=6\nmark at=200,287 size=6\n"
                     "barcode box=60,275,90,12\n"
                     "question S1 kind=single label=\"S1\"\n"
                     "  prompt box=20,25,170,6 \"in Japan?\"\n"
                     "  option 1 num=25,35 \"yes\"\n  option 2 num=25,45 \"no\"\n"
                     "question ZIP kind=number label=\"問1\" when=S1:1 identifier full\n"
                     "  prompt box=20,55,170,6 \"postal code\"\n"
                     "  box 1 box=100,65,6,8\n  box 2 box=106,65,6,8\n  box 3 box=112,65,6,8\n"
                     "  box 4 box=118,65,6,8\n  box 5 box=124,65,6,8\n  box 6 box=130,65,6,8\n"
                     "  box 7 box=136,65,6,8\n"
                     "question N kind=number label=\"問2\"\n"
                     "  prompt box=20,80,170,6 \"how many\"\n"
                     "  box 1 box=100,90,6,8\n  box 2 box=106,90,6,8\n  box 3 box=112,90,6,8\n");
    omr_survey_t *t;
    omr_error_t err;
    if (omr_template_load(tdir, &t, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    char out[400], path[700];
    snprintf(out, sizeof out, "%.380s/ident", dir);
    mkdir(out, 0777);
    snprintf(path, sizeof path, "%s/ident.db", dir);
    omr_store_t *s;
    if (omr_store_open(path, &s, &err)) {
        CHECK(0, "%s", err.msg);
        omr_template_free(t);
        return;
    }
    omr_store_value_t r1[] = {{0, 0, "S1", "1", OMR_VALUE_CERTAIN},
                              {0, 0, "ZIP", "0600001", OMR_VALUE_CERTAIN},
                              {0, 0, "N", "035", OMR_VALUE_CERTAIN}};
    omr_store_value_t r2[] = {{0, 0, "S1", "2", OMR_VALUE_CERTAIN},
                              {0, 0, "ZIP", "-1", OMR_VALUE_CERTAIN},
                              {0, 0, "N", "7", OMR_VALUE_CERTAIN}};
    CHECK(omr_store_save_coding(s, "A", "000001", 0, r1, 3, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    CHECK(omr_store_save_coding(s, "A", "000002", 0, r2, 3, NULL, 0, NULL, NULL, 0, &err) == OMR_OK, "%s", err.msg);
    omr_export_report_t rep;
    CHECK(omr_export_write(s, t, out, NULL, &rep, &err) == OMR_OK, "%s", err.msg);
    omr_store_close(s);
    omr_template_free(t);
    char *csv = NULL, *cb = NULL;
    {
        char p[800];
        snprintf(p, sizeof p, "%s/A.csv", out);
        csv = omr_read_file(p, 1 << 20, NULL, &err);
        snprintf(p, sizeof p, "%s/codebook.csv", out);
        cb = omr_read_file(p, 1 << 20, NULL, &err);
    }
    CHECK(csv && strstr(csv, "000001,1,0600001,035") && strstr(csv, "000002,2,-1,7"), "A.csv:\n%s", csv ? csv : "");
    CHECK(cb && strstr(cb, "\nZIP,A,respondent,問1,postal code,identifier,") && strstr(cb, "\nN,A,respondent,問2,how many,number,"),
          "codebook.csv:\n%s", cb ? cb : "");
    free(csv);
    free(cb);
    /* run_in_dir works in `dir`: point it at the export folder for a moment */
    char saved[400];
    snprintf(saved, sizeof saved, "%s", dir);
    snprintf(dir, sizeof dir, "%s", out);
    CHECK(run_in_dir("pspp", "codebook.sps", NULL) == 0, "pspp codebook.sps failed");
    char *log = slurp("codebook.sps.log");
    CHECK(log && !strstr(log, "warning") && !strstr(log, "error"), "pspp:\n%s", log ? log : "(none)");
    free(log);
    CHECK(run_in_dir("pspp", "check.sps",
                     "GET FILE='A.sav'.\n"
                     "STRING zip_m (A1).\n" /* MISSING() takes numbers only */
                     "RECODE ZIP (MISSING='m') (ELSE='v') INTO zip_m.\n"
                     "COMPUTE n_plus_1 = N + 1.\n"
                     "SAVE TRANSLATE /OUTFILE='ident.csv' /TYPE=CSV /FIELDNAMES /CELLS=VALUES /REPLACE\n"
                     "  /KEEP=respondent ZIP zip_m n_plus_1.\n") == 0,
          "pspp could not read A.sav back");
    char *got = slurp("ident.csv");
    /* the zero kept; '-1' user-missing in a string column; N a number */
    CHECK(got && strstr(got, "000001,0600001,v,36") && strstr(got, "000002,-1,m,8"), "A.sav:\n%s",
          got ? got : "(none)");
    free(got);
    CHECK(run_in_dir("Rscript", "check.R",
                     "source(\"codebook.R\", encoding = \"UTF-8\")\n"
                     "d <- read_omr(\".\")\n"
                     "a <- d$A\n"
                     "writeLines(c(class(a$ZIP), a$ZIP, class(a$N), as.character(a$N + 1),\n"
                     "  names(attr(a$ZIP, \"labels\")), unname(attr(a$ZIP, \"labels\")),\n"
                     "  as.character(is.na(omr_factor(a$ZIP)))), \"r.txt\", useBytes = TRUE)\n") == 0,
          "Rscript check.R failed");
    got = slurp("r.txt");
    CHECK(got && !strcmp(got, "character\n0600001\n-1\nnumeric\n36\n8\n非該当\n-1\nTRUE\nTRUE\n"), "R read:\n%s",
          got ? got : "(none)");
    free(got);
    snprintf(dir, sizeof dir, "%s", saved);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/omr_test_export_%d", (int)getpid());
    mkdir(dir, 0777);
    omr_error_t err;
    if (omr_template_load("templates/ipa-itsc-2018", &survey, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_quoting);
    RUN(test_export_files);
    RUN(test_codebook);
    RUN(test_spss_and_r_read_export);
    RUN(test_identifier_is_text);
    RUN(test_spss_many_unresolved);
    omr_template_free(survey);
    char cmd[450];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    return check_report();
}
