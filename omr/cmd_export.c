/* cmd_export.c -- `omr export`: write the coded responses of the store as the
 * CSV files and codebook of coding.md (export.h), and say what was held back. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "export.h"
#include "store.h"
#include "template.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omr export --db FILE --out DIR [--template DIR] [--bom] [--mark-unresolved] [--labels]\n"
            "Write the coded responses as CSV (UTF-8, RFC 4180, CRLF line ends):\n"
            "  <F>.csv          one row per respondent of form F: respondent, then the form's columns\n"
            "  <F>_cases.csv    one row per case: respondent, case, then the case columns\n"
            "  codebook.csv     one row per column: column, form, part, question (as printed),\n"
            "                   question text, kind, label (option/row/cell), value labels\n"
            "                   (\"code=label; ...\")\n"
            "  value_labels.csv the value labels again, one row per value (column, form, part, value, label)\n"
            "  codebook.sps     SPSS syntax: reads the CSV files (GET DATA), labels variables and\n"
            "                   values, declares -1 missing, saves <F>.sav and <F>_cases.sav; run it\n"
            "                   in the output folder (pspp codebook.sps)\n"
            "  codebook.R       R (base R): read_omr(DIR) reads every CSV file, typed and labelled;\n"
            "                   omr_factors() turns coded columns into factors of their labels\n"
            "Values: empty = no answer, -1 = not applicable (routing), else the code, 1/0, or text.\n"
            "\n"
            "  --db FILE          the store written by 'omr scan'\n"
            "  --out DIR          output folder (created if missing; files are replaced whole)\n"
            "  --template DIR     the survey's templates (default templates/ipa-itsc-2018)\n"
            "  --bom              start each CSV with a UTF-8 byte order mark (for Excel)\n"
            "  --mark-unresolved  also write respondents that still have something to review, each\n"
            "                     blocked cell holding the text " OMR_EXPORT_UNRESOLVED "\n"
            "  --labels           also <F>_labels.csv and <F>_cases_labels.csv: the same rows with each\n"
            "                     coded value written as its label (the option's text, \"○あり\",\n"
            "                     \"非該当\"), for reading in a spreadsheet; the coded files stay the data\n"
            "\n"
            "Without --mark-unresolved, a respondent with any cell or item awaiting review is held\n"
            "back (its row and its case rows) and counted; nothing uncertain is exported as certain.\n"
            "Respondents not re-coded since a review decision are always held back: run\n"
            "'omr scan --db FILE --recode' first.\n"
            "\n"
            "Exit status: 0 written (rows may have been held back: see the report), 1 usage error,\n"
            "2 failed (store or templates unusable, output not writable).\n");
}

int omr_cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"db", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"template", required_argument, 0, 't'},
                                         {"bom", no_argument, 0, 'B'},
                                         {"mark-unresolved", no_argument, 0, 'm'},
                                         {"labels", no_argument, 0, 'L'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *out = NULL, *tpl = "templates/ipa-itsc-2018";
    omr_export_opts_t eo = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return OMR_EXIT_OK;
        case 'd':
            db = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 't':
            tpl = optarg;
            break;
        case 'B':
            eo.bom = 1;
            break;
        case 'm':
            eo.mark_unresolved = 1;
            break;
        case 'L':
            eo.labels = 1;
            break;
        default:
            fprintf(stderr, "try 'omr export --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (!db || !out || optind != argc) {
        fprintf(stderr, "omr export: --db FILE and --out DIR are required, nothing else\ntry 'omr export --help'\n");
        return OMR_EXIT_USAGE;
    }
    omr_error_t err;
    omr_survey_t *survey;
    if (omr_template_load(tpl, &survey, &err)) {
        fprintf(stderr, "omr export: templates: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    if (access(db, F_OK) != 0) {
        fprintf(stderr, "omr export: %s: no such store\n", db);
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }
    omr_store_t *store;
    if (omr_store_open(db, &store, &err)) {
        fprintf(stderr, "omr export: %s\n", err.msg);
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }
    if (omr_cmd_bind_store("export", db, store, survey)) {
        omr_store_close(store);
        omr_template_free(survey);
        return OMR_EXIT_FAILED;
    }
    omr_export_report_t rep;
    omr_status_t st = omr_export_write(store, survey, out, &eo, &rep, &err);
    omr_store_close(store);
    omr_template_free(survey);
    if (st) {
        fprintf(stderr, "omr export: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    printf("exported to %s: %d respondent row(s), %d case row(s), %d codebook row(s)\n", out, rep.rows,
           rep.case_rows, rep.codebook_rows);
    if (rep.held_back && !eo.mark_unresolved)
        printf("held back: %d respondent(s) with something to review (--mark-unresolved writes them marked)\n",
               rep.held_back);
    if (eo.mark_unresolved && rep.marked_cells)
        printf("marked: %d cell(s) written as %s\n", rep.marked_cells, OMR_EXPORT_UNRESOLVED);
    if (rep.not_coded)
        printf("not coded yet: %d respondent(s) held back: run 'omr scan --db %s --recode'\n", rep.not_coded, db);
    return OMR_EXIT_OK;
}
