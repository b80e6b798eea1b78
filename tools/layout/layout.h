/* layout.h -- tools/layout: flow a questionnaire source onto A4 page files.
 *
 * source.c reads SRC_DIR/survey.src and each form's .src (templates/FORMAT.md,
 * "Source files") into the structures below; flow.c places every block on
 * pages, measuring text with the printer's own omr_print_text_size(), and
 * writes survey.omr and the .page files; main.c is the command.
 * All strings are owned by the structures (strdup) and freed by
 * lay_survey_free().
 */
#ifndef OMR_TOOLS_LAYOUT_H
#define OMR_TOOLS_LAYOUT_H

#include "omr.h"
#include "template.h"

typedef struct {
  int code; /* option code; 0 for a group heading */
  char *text;
  int exclusive, other;
  int group; /* a ticklist group heading: text only */
  int line;
} lay_option_t;

typedef struct {
  char id[8];
  char *text;
  int line;
} lay_row_t;

typedef struct {
  int code;
  char *text;
  int exclusive;
  int line;
} lay_col_t;

typedef enum {
  LAY_TITLE,
  LAY_SUBTITLE,
  LAY_HEADING,
  LAY_SUBHEADING,
  LAY_PARA,
  LAY_NOTE,
  LAY_QUESTION,
  LAY_PAGEBREAK,
  LAY_CASE
} lay_block_kind_t;

typedef struct {
  lay_block_kind_t kind;
  char *text; /* the printed text; a question's prompt (may be NULL) */
  int line;   /* line in the source file */
  /* questions only */
  char id[24], label[24], when[64], var[24];
  omr_kind_t qkind;
  int columns, half, lines;
  int boxes; /* number: its digit boxes (boxes=N), 0 otherwise */
  lay_option_t *opts;
  int n_opts;
  lay_row_t *rows;
  int n_rows;
  lay_col_t *cols;
  int n_cols;
} lay_block_t;

typedef struct {
  char id[16];
  char *title;
  char *source;   /* path of its .src */
  char *subtitle; /* the running header: the form's `subtitle`, or NULL */
  lay_block_t *blocks;
  int n_blocks;
} lay_form_t;

#define LAY_MAX_FORMS 16

typedef struct {
  char *id, *code, *title;
  char *icr_policy; /* passed through to survey.omr; NULL: the default (review) */
  lay_form_t forms[LAY_MAX_FORMS];
  int n_forms;
} lay_survey_t;

/* Read SRC_DIR/survey.src and every form source it names into *s (zeroed
 * by the caller). Returns OMR_OK, or OMR_EINPUT / OMR_EIO with "file:line:
 * reason" in *err; *s may then hold part of the survey (free it anyway). */
omr_status_t lay_source_read(const char *src_dir, lay_survey_t *s,
                             omr_error_t *err);

void lay_survey_free(lay_survey_t *s);

/* Flow every form onto pages and write OUT_DIR/survey.omr plus one
 * <form>-NN.page per page. *pages_out (optional, LAY_MAX_FORMS entries) gets
 * the page count of each form. Returns OMR_OK, OMR_EINPUT (a block taller
 * than a page, text that cannot be measured) or OMR_EIO with *err. */
omr_status_t lay_flow_write(const lay_survey_t *s, const char *out_dir,
                            int *pages_out, omr_error_t *err);

#endif
