/* main.c -- `build/layout SRC_DIR OUT_DIR`: flow a questionnaire source onto
 * A4 page files (templates/FORMAT.md, "Source files").
 *
 * Reads SRC_DIR/survey.src and the form sources it names, writes
 * OUT_DIR/survey.omr and OUT_DIR/<form>-NN.page, then loads the result with
 * the template loader so a layout the scanner would refuse is reported here.
 * Exit: 0 ok, 1 usage, 2 failed (message names file:line and the reason).
 */
#include <stdio.h>
#include <string.h>

#include "layout.h"
#include "print.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: layout SRC_DIR OUT_DIR\n"
      "  Flow SRC_DIR/survey.src and its form sources onto A4 pages;\n"
      "  write OUT_DIR/survey.omr and one OUT_DIR/<form>-NN.page per page,\n"
      "  then check them with the template loader.\n"
      "exit status: 0 ok, 1 usage error, 2 failed\n");
}

int main(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout);
    return 0;
  }
  if (argc != 3) {
    usage(stderr);
    return 1;
  }
  omr_quiet_libraries();
  lay_survey_t s;
  memset(&s, 0, sizeof s);
  omr_error_t err = {0};
  int pages[LAY_MAX_FORMS] = {0};
  omr_status_t st = lay_source_read(argv[1], &s, &err);
  if (st == OMR_OK)
    st = lay_flow_write(&s, argv[2], pages, &err);
  if (st != OMR_OK) {
    fprintf(stderr, "layout: %s\n", err.msg);
    lay_survey_free(&s);
    return 2;
  }
  for (int i = 0; i < s.n_forms; i++)
    printf("form %s: %d pages\n", s.forms[i].id, pages[i]);
  lay_survey_free(&s);

  omr_survey_t *loaded = NULL;
  if (omr_template_load(argv[2], &loaded, &err) != OMR_OK) {
    fprintf(stderr, "layout: the written templates do not load: %s\n", err.msg);
    return 2;
  }
  omr_template_free(loaded);
  return 0;
}
