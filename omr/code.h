/* code.h -- stage "code": from the read marks of one respondent to coded
 * responses and review items (../shared/spec/coding.md, issue 3 part 5).
 *
 * Pure and in memory: no I/O, no SQLite, no images. The pipeline loads the
 * stored page results of ONE respondent of ONE form, calls
 * omr_code_respondent(), and stores what comes back; the review server calls
 * it again with the operators' decisions (overrides) and stores the new
 * result in place of the old one. Same inputs, same output.
 *
 * What comes back
 * - values: one per export column, respondent part first (case_number 0, in
 *   omr_template_columns(form, 0) order), then each case 1..n_cases (columns of
 *   omr_template_columns(form, 1)). value is the export text: "" empty, "-1"
 *   not applicable, "3" a code, "1"/"0" marked/not, or a transcription.
 *   status REVIEW: the value depends on an unresolved item and must not be
 *   exported as certain; its text is then the machine's best guess (may be "").
 *   RESOLVED: set (directly or through the coding rules) by an override.
 * - items: what a person must look at. An item names the columns it concerns:
 *   `var` one column, or "" for the whole question (every non-text column of
 *   the question for that case). An item is settled, and is not produced
 *   again, once every column it concerns has an override for its case.
 *   Page-level DUPLICATE items have var = the page key (omr_code_page_key) and
 *   are settled by an override of that key.
 * - Pages that came but were not read (status != OK: register_failed, …, with
 *   this respondent, form and a page number of the form): their questions are
 *   REVIEW, waiting for the page-level item the store made for the page; the
 *   coder raises no item of its own for them.
 * - missing: pages of the form absent from the pages given (no copy at all,
 *   read or not; for case pages: absent from one case). Each gets a
 *   MISSING_PAGE item (page -1, question -1, case 0 or the case, var = the key
 *   of omr_code_missing_key(), proposal "missing") and its questions are
 *   REVIEW, until an operator either confirms it (override of that key with
 *   value "missing": the questions become certain-empty, never -1, and the
 *   routing is not applied to them nor from them) or assigns the lost page to
 *   the respondent (then it is no longer missing).
 * - page_case: for each page given, what it became: 0 the respondent part (or a
 *   page of no case), k >= 1 case k, -1 not coded (a duplicate, an excluded
 *   copy, a spare blank photocopy, a page that is not this respondent's or has
 *   no valid page number).
 *
 * Decisions where coding.md is silent are listed at the top of code.c.
 */
#ifndef OMR_CODE_H
#define OMR_CODE_H

#include "page.h"
#include "template.h"

typedef enum {
    OMR_VALUE_CERTAIN,  /* read without doubt by the machine */
    OMR_VALUE_REVIEW,   /* blocked until an item is resolved: never export as certain */
    OMR_VALUE_RESOLVED  /* decided by an operator's override */
} omr_value_status_t;

typedef struct {
    int case_number;    /* 0 respondent part, 1.. case */
    int column;         /* index in omr_template_columns(form, case_number > 0) */
    char value[256];    /* export text: "" empty, "-1" not applicable, "3", "1"/"0", transcription */
    omr_value_status_t status;
} omr_value_t;

typedef struct {
    omr_review_reason_t reason;
    int page;           /* index into the pages given, -1 none (the page is missing) */
    int case_number;    /* 0 respondent part (and non-case pages), 1.. case */
    int question;       /* index into form->questions, -1 page-level */
    char var[64];       /* column concerned; "" = the whole question; page key for page-level items */
    char proposal[256]; /* the machine's proposal: a code, "2,3" (the marked codes), "1", "" */
    char detail[256];   /* for the operator, in words */
} omr_review_item_t;

/* An operator's decision. var is a column name of the form (case_number 0 for
 * respondent columns, 1..n_cases for case columns), value must be valid for it:
 *   single: "" or an option code;   grid1 row: "" or a column code;
 *   multi / ticklist / gridn cell: "1" (marked) or "0" (not marked) -- a
 *     reading: the coding rules still apply (a question left with no mark at
 *     all exports "" in all its columns, or "-1" when the routing skips it);
 *   top3 box, codegrid cell: "" or an option code;   _text column: any text;
 *   number: "" or its digits, 0-9 only, at most one per box ("0043" as written).
 * Or var is a page key (omr_code_page_key), case_number ignored, value
 *   "duplicate" (exclude this copy, item settled) or, for a case page only,
 *   "case" (not a duplicate: code it as the next case).
 * Or var is a missing-page key (omr_code_missing_key), case_number ignored,
 *   value "missing": the page is confirmed missing from the packet. Such an
 *   override is ignored once the page is no longer missing (a page assigned
 *   later, or cases renumbered). */
typedef struct {
    char var[64];
    int case_number;
    char value[256];
} omr_override_t;

typedef struct {
    int page_number;    /* 1-based page of the form */
    int case_number;    /* 0 for a respondent-part page; 1.. for a case page (1 when no case page came) */
    int confirmed;      /* an operator confirmed it missing (override "missing"): no item, questions empty */
} omr_missing_t;

/* The result. All arrays malloc'd, owned by the caller, freed by omr_coded_clear(). */
typedef struct {
    omr_value_t *values;
    int n_values;       /* n_columns(part 0) + n_cases * n_columns(part 1) */
    omr_review_item_t *items;
    int n_items;
    int n_cases;        /* cases found (0 when no case page came) */
    omr_missing_t *missing;
    int n_missing;
    int *page_case;     /* one per page given (n_pages of the call): 0, case 1.., or -1 not coded */
    int n_page_case;
} omr_coded_t;

typedef struct {
    /* Duplicate scan detection for case pages (photocopies carry the same
     * barcode): a later copy may be the same sheet scanned again when its
     * readings equal an earlier copy's: the same mark regions MARKED, the
     * same written boxes and fields (ink, digit), and at most dup_trace_max
     * mark regions that differ only between blank and doubtful (a rescan
     * moves borderline traces), digit boxes with nothing read in one copy
     * (doubtful, no digit) counted among them. Ink amounts are not compared: measured on
     * the standard corpus, a rescan of one sheet on a rough scanner changes
     * a mark's ink by up to 60 %, while two different copies with the same
     * single mark can agree within 1 %. Such a copy becomes a DUPLICATE
     * review item, never a silent case: with at least dup_marks_sure answers
     * in common (marks and digit boxes; text fields must agree on having
     * ink but count for nothing: their words are not compared) the proposal is
     * "duplicate", with fewer it is "case" (one mark agreeing is often two
     * cases answered alike). A doubt that only says the page was scanned
     * too light (OMR_DOUBT_LIGHT_SCAN) is not a difference. Default 2, 2. */
    int dup_trace_max;
    int dup_marks_sure;
    /* Hook for handwriting policy: a DIGIT proposal with confidence >= this is
     * accepted without review. 0 (the default) = every written box goes to
     * review, as issue 3 asks until handwriting recognition is trusted. */
    double digit_accept_conf;
} omr_code_options_t;

/* 1 when value is a valid value of number question q: "" or at most one
 * digit (0-9) per box of the question, nothing else. */
int omr_code_number_ok(const omr_question_t *q, const char *value);

/* Fill *opts with the defaults above. */
void omr_code_options_default(omr_code_options_t *opts);

/* The key naming one scanned page in page-level items and overrides:
 * "page:<first 16 hex of file_hash>:<index_in_file>". Writes at most n bytes. */
void omr_code_page_key(const omr_page_result_t *page, char *buf, size_t n);

/* The key naming a page missing from a respondent's packet, in MISSING_PAGE
 * items and the overrides that confirm them: "page:missing:<form>:<page
 * number>:<case>" (case 0 for a respondent-part page). Writes at most n bytes. */
void omr_code_missing_key(const char *form, int page_number, int case_number, char *buf, size_t n);

/* The token naming column col of question q in a whole-question value (what
 * a review decision on a whole question takes, review_value.c): multi and
 * ticklist the option code ("5"); grid1 the row ("a"); gridn "row:code"
 * ("a:3"); codegrid "row_code" ("a_1"); top3 the option code of the box's
 * region; "" for other kinds. Writes at most n bytes into buf. */
void omr_code_column_token(const omr_form_t *form, const omr_question_t *q, const omr_column_t *col, char *buf,
                           size_t n);

/* Code one respondent of one form.
 * s: the survey (borrowed, may be NULL: only used in messages); form: the form
 * (borrowed). pages: every stored page result of this respondent of this form,
 * in scan order (borrowed); results with status != OMR_PAGE_OK are not read
 * (their regions are ignored) but block their page's questions (see above).
 * overrides: the operators' decisions so far (borrowed, may be NULL when
 * n_overrides is 0); for the same (var, case) the last one wins.
 * opts: NULL for the defaults.
 * On OMR_OK *out holds the result (owned by the caller: omr_coded_clear()).
 * Errors (out left empty): OMR_EINPUT for a page result of another form or
 * respondent, a page number the form lacks, a region count that disagrees
 * with the template, or an override naming an unknown column, a case out of
 * range or an invalid value (the message names var, case and value);
 * OMR_ENOMEM. */
omr_status_t omr_code_respondent(const omr_survey_t *s, const omr_form_t *form, const omr_page_result_t *pages,
                                 int n_pages, const omr_override_t *overrides, int n_overrides,
                                 const omr_code_options_t *opts, omr_coded_t *out, omr_error_t *err);

/* Free what *c owns and zero it. NULL is allowed. */
void omr_coded_clear(omr_coded_t *c);

#endif
