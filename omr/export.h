/* export.h -- the data files researchers get: per form `<F>.csv` (one row per
 * respondent) and `<F>_cases.csv` (one row per case), plus `codebook.csv`,
 * `value_labels.csv` and `codebook.sps`, as ../shared/spec/coding.md says.
 *
 * Input:  the store (coded responses, review state) and the survey (columns
 *         from omr_template_columns(), labels from the option texts).
 * Output: files in a folder, each written to a temporary name and renamed, so
 *         a failed export never leaves a half-written file under the real name.
 *
 * CSV: UTF-8, RFC 4180 (CRLF line ends; a field holding a comma, a double
 * quote, CR or LF is quoted and its quotes doubled), optional BOM for Excel.
 * First column `respondent`; the case files `respondent,case`; then the
 * form's columns in printed order. Values as coded: "" empty (no answer),
 * "-1" not applicable, numbers, transcriptions.
 *
 * Unresolved values (coding.md "Missing values": nothing ambiguous is
 * exported as if it were certain): a respondent is held back -- its row and
 * its case rows -- when any of its cells awaits review, an open review item
 * is about it, or it was not re-coded since its pages or decisions changed.
 * With mark_unresolved the rows are written instead, every cell awaiting
 * review holding the text OMR_EXPORT_UNRESOLVED ("NA_REVIEW"), which no real
 * value can take (values are numbers, -1 or transcriptions).
 *
 * The export reads the store in one read transaction: a scan running at the
 * same time is seen entirely before or entirely after its commits.
 */
#ifndef OMR_EXPORT_H
#define OMR_EXPORT_H

#include <stdio.h>

#include "omr.h"
#include "store.h"
#include "template.h"

#define OMR_EXPORT_UNRESOLVED "NA_REVIEW"

typedef struct {
    int bom;             /* start each CSV with a UTF-8 BOM (Excel reads UTF-8 only then) */
    int mark_unresolved; /* write held-back respondents, blocked cells marked NA_REVIEW */
    int labels;          /* also <F>_labels.csv, <F>_cases_labels.csv: each coded value as its
                            label from the codebook (for a spreadsheet: "○あり", the option's
                            text, "非該当"); empty, NA_REVIEW, numbers and text as they are */
} omr_export_opts_t;

typedef struct {
    int rows;            /* respondent rows written, all forms */
    int case_rows;       /* case rows written */
    int held_back;       /* respondents held back (or, with mark_unresolved, written marked) */
    int not_coded;       /* … of which not re-coded since a change: run `omr scan` again */
    int marked_cells;    /* cells written as NA_REVIEW */
    int codebook_rows;
} omr_export_report_t;

/* Write every file into dir (created if missing). opts may be NULL (no BOM,
 * hold back). *rep (optional) gets the counts.
 * Errors: OMR_EIO (folder or file cannot be written, store unreadable) with
 * the path in *err; OMR_ENOMEM. */
omr_status_t omr_export_write(omr_store_t *store, const omr_survey_t *survey, const char *dir,
                              const omr_export_opts_t *opts, omr_export_report_t *rep, omr_error_t *err);

/* Write only the codebook files (codebook.csv, value_labels.csv,
 * codebook.sps) into dir; *pn (optional) gets the codebook rows. */
omr_status_t omr_export_codebook(const omr_survey_t *survey, const char *dir, const omr_export_opts_t *opts,
                                 int *pn, omr_error_t *err);

/* One CSV field, quoted when RFC 4180 needs it. NULL is written as empty. */
void omr_export_csv_field(FILE *out, const char *text);

/* The label of every value of a column, "code=label; code=label" in code
 * order ("" when the column has none, e.g. text). For the codebook and tests.
 * Writes at most n bytes to buf. */
void omr_export_value_labels(const omr_form_t *form, const omr_column_t *col, char *buf, size_t n);

#endif
