/* fuzz_template.c -- fuzz target: template files (survey.omr and .page text).
 *
 * Templates are edited by hand and shared between offices, so the loader
 * must refuse any text with a file:line message, never crash. Each input is
 * tokenized line by line (omr_template_tokenize, also used by tools/layout),
 * then written into a scratch survey folder and loaded (omr_template_load),
 * which runs the whole validation. A survey that loads is walked the way
 * the later stages walk it (columns, look-ups, barcode payloads), checking:
 *   - every page's payload parses back to its survey code, form and number
 *     (otherwise printed pages could never be identified);
 *   - question look-ups by id find the question itself;
 *   - every region's question index is in range.
 *
 * Input: one page file, loaded as page 1 of form A of the fixed survey.omr
 * below (page 2 is a fixed case page); or, when the input contains a line "%%", a survey.omr followed by up
 * to 4 page files separated by "%%" lines, named 1.page, 2.page, ... (so the
 * fuzzer also mutates the survey file and multi-page forms).
 */
#include <stdint.h>

#include "fuzz.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 5

/* The survey around a single fuzzed page: form A, page 1 is the input, page
 * 2 a fixed case page, so that both parts of the form (respondent and case
 * columns) are non-empty, as in real surveys. */
static const char fixed_survey[] =
    "survey id=ipa-itsc-2018 code=ITSC18 title=\"fuzz\"\n"
    "form A title=\"fuzz\"\n"
    "page form=A number=1 file=1.page\n"
    "page form=A number=2 file=2.page case\n";

static const char fixed_case_page[] =
    "page survey=ipa-itsc-2018 form=A number=2 size=210x297\n"
    "mark at=10,10 size=6\n"
    "mark at=200,10 size=6\n"
    "mark at=10,287 size=6\n"
    "mark at=200,287 size=6\n"
    "barcode box=65,270,80,14\n"
    "question Zcase kind=single label=\"Z\"\n"
    "  prompt box=29,145.87,166,7.54 size=9.5 \"case\"\n"
    "  option 1 num=32.5,158.01 label=36.7,156.42,157.3,3.17 size=9 \"yes\"\n"
    "  option 2 num=32.5,164.61 label=36.7,163.02,157.3,3.17 size=9 \"no\"\n";

/* Run the tokenizer over every line of text (a copy: it unquotes in place). */
static void tokenize_lines(const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        abort();
    char *next;
    for (char *line = copy; line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        omr_tpl_line_t l;
        omr_error_t err;
        if (omr_template_tokenize(line, &l, &err) == OMR_OK) {
            fuzz_check(l.n >= 0 && l.n <= OMR_TPL_MAX_WORDS);
            for (int i = 0; i < l.n; i++)
                fuzz_check(l.value[i] != NULL);
            (void)omr_tpl_attr(&l, "box");
        } else {
            fuzz_check(strlen(err.msg) > 0);
        }
    }
    free(copy);
}

/* Walk a loaded survey as the printer, scanner and exporter would. */
static void walk_survey(const omr_survey_t *s)
{
    fuzz_check(s->code && s->id);
    for (int f = 0; f < s->n_forms; f++) {
        const omr_form_t *form = &s->forms[f];
        fuzz_check(omr_template_form(s, form->id) == form);
        for (int p = 0; p < form->n_pages; p++) {
            const omr_page_t *pg = &form->pages[p];
            fuzz_check(pg->number == p + 1);
            char payload[128], code[16], fid[16], resp[32];
            int number = 0;
            omr_template_payload(payload, sizeof payload, s->code, form->id, pg->number, "000123");
            if (omr_template_parse_payload(payload, code, fid, &number, resp) != OMR_OK)
                fprintf(stderr, "payload '%s' does not parse\n", payload);
            fuzz_check(omr_template_parse_payload(payload, code, fid, &number, resp) == OMR_OK);
            fuzz_check(!strcmp(code, s->code) && !strcmp(fid, form->id) && number == pg->number);
            for (int r = 0; r < pg->n_regions; r++)
                fuzz_check(pg->regions[r].question >= 0 && pg->regions[r].question < form->n_questions);
            for (int i = 0; i < pg->n_items; i++)
                (void)pg->items[i].box.w;
        }
        for (int q = 0; q < form->n_questions; q++) {
            const omr_question_t *qu = &form->questions[q];
            fuzz_check(omr_template_question(form, qu->id) == qu);
            fuzz_check(omr_template_question_index(form, qu->id) == q);
            fuzz_check(omr_template_kind_name(qu->kind) != NULL);
            fuzz_check(qu->page >= 0 && qu->page < form->n_pages);
            const omr_page_t *pg = &form->pages[qu->page];
            fuzz_check(qu->first_region >= 0 && qu->n_regions >= 0 &&
                       qu->first_region + qu->n_regions <= pg->n_regions);
        }
        for (int part = 0; part < 2; part++) {
            omr_column_t *cols = NULL;
            int n = omr_template_columns(form, part, &cols);
            fuzz_check(n >= 0);
            for (int i = 0; i < n; i++) {
                fuzz_check(cols[i].question >= 0 && cols[i].question < form->n_questions);
                fuzz_check(cols[i].name[0] != '\0');
            }
            free(cols);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) /* a page file is a few tens of KB */
        return 0;
    char *text = fuzz_strdup(data, size);
    tokenize_lines(text);

    /* Split into survey.omr + pages at "%%" lines, or take it as one page. */
    const char *part[MAX_PARTS];
    int n_parts = 0;
    if (strncmp(text, "%%\n", 3) && !strstr(text, "\n%%\n")) {
        part[n_parts++] = fixed_survey;
        part[n_parts++] = text;
        part[n_parts++] = fixed_case_page;
    } else {
        part[n_parts++] = text;
        for (char *line = text, *nl; line && n_parts < MAX_PARTS; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl && nl - line == 2 && !strncmp(line, "%%", 2)) {
                *line = '\0'; /* ends the previous part after its last newline */
                part[n_parts++] = nl + 1;
            }
        }
    }
    char path[512];
    fuzz_write("survey.omr", part[0], strlen(part[0]), path, sizeof path);
    for (int i = 1; i < MAX_PARTS; i++) {
        char name[24];
        snprintf(name, sizeof name, "%d.page", i);
        if (i < n_parts)
            fuzz_write(name, part[i], strlen(part[i]), path, sizeof path);
        else {
            snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
            unlink(path); /* a page file left from an earlier input must not leak in */
        }
    }

    omr_survey_t *s = NULL;
    omr_error_t err;
    err.msg[0] = '\0';
    omr_status_t st = omr_template_load(fuzz_dir(), &s, &err);
    if (fuzz_verbose())
        fprintf(stderr, "load: %s\n", st == OMR_OK ? "ok" : err.msg);
    if (st == OMR_OK) {
        fuzz_check(s != NULL);
        walk_survey(s);
    } else {
        fuzz_check(s == NULL);
        fuzz_check(strlen(err.msg) > 0);
    }
    omr_template_free(s);
    free(text);
    return 0;
}
