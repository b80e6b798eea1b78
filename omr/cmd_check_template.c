/* cmd_check_template.c -- `omr check-template DIR`: load a survey's templates,
 * report the first problem as file:line: reason, or summarise what is there. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "print.h"
#include "register.h"
#include "template.h"

/* A page with a reference image (printed without marks, or whose marks may
 * be lost): can the image be read, and does it hold enough distinct print
 * to register by? Says so; returns 1 when usable. */
static int print_registration(const omr_survey_t *s, const omr_form_t *form, int p)
{
    const omr_page_t *pg = &form->pages[p];
    omr_error_t err = {0};
    PIX *ref = omr_print_render_page(s, form, p, NULL, OMR_REGISTER_PRINT_PX_PER_MM * OMR_MM_PER_INCH, &err);
    omr_register_print_ref_t *rp = NULL;
    if (!ref || omr_register_print_prepare(ref, pg, &rp, &err) != OMR_OK) {
        pixDestroy(&ref);
        fprintf(stderr, "omr check-template: %s\n", err.msg);
        return 0;
    }
    int n_big, n_patches, ok = omr_register_print_ref_usable(rp, &n_big, &n_patches);
    printf("  page %d: %s (%s): %d and %d distinct patches of print%s\n", pg->number,
           omr_page_has_marks(pg) ? "corner marks, and where they are lost its print" : "no corner marks, registered by its print",
           pg->reference, n_big, n_patches,
           ok ? "" : " -- too few (3 and 6 needed): the image needs more print outside the answer areas");
    omr_register_print_ref_free(rp);
    pixDestroy(&ref);
    return ok;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: omr check-template [--columns] SURVEY_DIR\n"
                 "Load and validate the survey's templates (survey.omr and its page files).\n"
                 "  --columns   also list every export column of every form\n"
                 "Exit status: 0 valid, 1 usage error, 2 the template is refused (file:line: reason).\n");
}

int omr_cmd_check_template(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"columns", no_argument, 0, 'c'}, {0, 0, 0, 0}};
    int list_columns = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hc", opts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return OMR_EXIT_OK;
        }
        if (ch == 'c')
            list_columns = 1;
        else {
            fprintf(stderr, "try 'omr check-template --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return OMR_EXIT_USAGE;
    }
    omr_survey_t *s;
    omr_error_t err;
    if (omr_template_load(argv[optind], &s, &err)) {
        fprintf(stderr, "omr check-template: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    printf("survey %s (%s): %s\n", s->id, s->code, s->title);
    int failed = 0;
    for (int f = 0; f < s->n_forms; f++) {
        const omr_form_t *form = &s->forms[f];
        int regions = 0;
        for (int p = 0; p < form->n_pages; p++)
            regions += form->pages[p].n_regions;
        omr_column_t *main_cols, *case_cols;
        int nm = omr_template_columns(form, 0, &main_cols), nc = omr_template_columns(form, 1, &case_cols);
        printf("form %s (%s): %d pages, %d questions, %d regions, %d columns + %d case columns\n", form->id,
               form->title, form->n_pages, form->n_questions, regions, nm, nc);
        for (int i = 0; list_columns && i < nm; i++)
            printf("  %s\n", main_cols[i].name);
        for (int i = 0; list_columns && i < nc; i++)
            printf("  %s (case)\n", case_cols[i].name);
        free(main_cols);
        free(case_cols);
        for (int p = 0; p < form->n_pages; p++)
            if (form->pages[p].reference && !print_registration(s, form, p))
                failed = 1;
    }
    omr_template_free(s);
    return failed ? OMR_EXIT_FAILED : OMR_EXIT_OK;
}
