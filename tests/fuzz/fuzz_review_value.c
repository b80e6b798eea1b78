/* fuzz_review_value.c -- fuzz target: review decisions as the browser sends
 * them (omr_review_check_value, omr_review_overrides in review_value.c).
 *
 * Everything in a POSTed decision (form, question, column, value) comes from
 * the network; the server must refuse a bad one with a 4xx before anything is
 * stored, and a value it accepts must turn into the coder's overrides. Runs
 * against the real survey (templates/ipa-itsc-2018, or $OMR_FUZZ_TEMPLATE),
 * loaded once per process. Checks, besides memory safety: a value that
 * omr_review_check_value accepts gives omr_review_overrides() >= 0, and the
 * overrides written fit their buffers and name a column.
 *
 * Input: newline-separated fields "FORM\nREASON\nQUESTION\nVAR\nCASE\nVALUE"
 * (REASON and CASE as decimal numbers; VALUE is the rest of the input, so it
 * may hold newlines; missing fields are empty).
 */
#include <stdint.h>

#include "fuzz.h"
#include "review.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static omr_survey_t *survey;

static void free_survey(void) { omr_template_free(survey); }

/* The next newline-separated field of *p (modified in place); "" at the end. */
static char *field(char **p)
{
    char *s = *p, *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!survey) {
        const char *dir = getenv("OMR_FUZZ_TEMPLATE");
        omr_error_t err;
        if (omr_template_load(dir ? dir : "templates/ipa-itsc-2018", &survey, &err) != OMR_OK) {
            fprintf(stderr, "fuzz_review_value: %s (run from the repository root)\n", err.msg);
            abort();
        }
        atexit(free_survey);
    }
    if (size > 65536) /* the server's default max_body */
        return 0;
    char *text = fuzz_strdup(data, size), *p = text;
    const char *form_id = field(&p);
    int reason = atoi(field(&p));
    const char *question = field(&p);
    const char *var = field(&p);
    int case_number = atoi(field(&p));
    const char *value = p;

    omr_error_t err;
    omr_status_t st = omr_review_check_value(survey, form_id, (omr_review_reason_t)reason, question, var, value, &err);
    if (fuzz_verbose())
        fprintf(stderr, "check: %s\n", st == OMR_OK ? "ok" : err.msg);
    const omr_form_t *form = omr_template_form(survey, form_id);
    if (form) {
        omr_override_t small[4];
        int n = omr_review_overrides(form, question, var, case_number, value, small, 4);
        if (st == OMR_OK && question[0])
            fuzz_check(n >= 0);
        if (n > 4) { /* the real answer needs more room: ask again with it */
            omr_override_t *big = calloc((size_t)n, sizeof *big);
            if (!big)
                abort();
            fuzz_check(omr_review_overrides(form, question, var, case_number, value, big, n) == n);
            for (int i = 0; i < n; i++)
                fuzz_check(big[i].var[0] != '\0' && memchr(big[i].var, 0, sizeof big[i].var) &&
                           memchr(big[i].value, 0, sizeof big[i].value));
            free(big);
        } else {
            for (int i = 0; i < n; i++)
                fuzz_check(small[i].var[0] != '\0');
        }
    } else {
        fuzz_check(st != OMR_OK || !question[0]);
    }
    free(text);
    return 0;
}
