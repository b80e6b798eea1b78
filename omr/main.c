/* main.c -- the `omr` command: picks the subcommand, nothing else.
 * Options, messages and exit codes of each subcommand live in omr/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "omr.h"

static const omr_command_t commands[] = {
    {"check-template", omr_cmd_check_template, "load and validate a survey's templates"},
    {"calibrate", omr_cmd_calibrate, "measure scans with known truth; derive a calibration profile"},
    {"print", omr_cmd_print, "draw personalised forms to a PDF and/or PNG pages"},
    {"icr-eval", omr_cmd_icr_eval, "measure the handwritten-digit model on MNIST IDX files"},
    {"scan", omr_cmd_scan, "read scanned pages into the store, code them, queue reviews"},
    {"status", omr_cmd_status, "what a store holds: batches, the review queue, respondents ready"},
    {"export", omr_cmd_export, "write the coded responses as CSV files and a codebook"},
    {"review", omr_cmd_review, "serve the review queue to operators in the browser"},
    {"operator", omr_cmd_operator, "add, list or disable the review operators"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void print_help(FILE *out)
{
    fprintf(out, "usage: omr COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'omr COMMAND --help' describes a command.\n\n"
                 "exit status:\n"
                 "  0  ok\n"
                 "  1  usage error\n"
                 "  2  failed: an input or output could not be used\n"
                 "  3  done, with items left for review (scan, status)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return OMR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(stdout);
        return OMR_EXIT_OK;
    }
    omr_quiet_libraries();
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "omr: unknown command '%s'; try 'omr --help'\n", argv[1]);
    return OMR_EXIT_USAGE;
}
