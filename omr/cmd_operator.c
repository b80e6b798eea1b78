/* cmd_operator.c -- `omr operator`: the review operators' accounts (review.h).
 * Passwords are read from the terminal without echo, or from stdin when it is
 * not a terminal (one line), and never taken from the command line, where
 * they would show in `ps` and the shell history. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd.h"
#include "review.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: omr operator --db FILE add NAME      create an operator (asks for the password)\n"
                 "       omr operator --db FILE passwd NAME   set a new password (ends the sessions of the old one)\n"
                 "       omr operator --db FILE disable NAME  stop NAME from logging in, end their sessions\n"
                 "       omr operator --db FILE enable NAME\n"
                 "       omr operator --db FILE list\n"
                 "The password is read from the terminal (not echoed) or, when stdin is not a\n"
                 "terminal, as one line from stdin. It is stored only as an Argon2id hash.\n"
                 "Names: 1 to 32 letters, digits, '.', '_', '-'. Passwords: 8 to 256 characters.\n"
                 "Exit status: 0 ok, 1 usage error or refused name/password, 2 the store cannot be used.\n");
}

/* Read one line into buf without echo when stdin is a terminal. */
static int read_password(const char *prompt, char *buf, size_t n)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    int ok = fgets(buf, (int)n, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static void print_op(void *ctx, const char *name, const char *created, int disabled, int decisions)
{
    (void)ctx;
    printf("%-20s created %s  %s  %d decisions\n", name, created, disabled ? "DISABLED" : "enabled ", decisions);
}

int omr_cmd_operator(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *db = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return OMR_EXIT_OK;
        }
        if (ch == 'd')
            db = optarg;
        else {
            fprintf(stderr, "try 'omr operator --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (!db || optind >= argc) {
        fprintf(stderr, "omr operator: needs --db FILE and an action; try 'omr operator --help'\n");
        return OMR_EXIT_USAGE;
    }
    const char *action = argv[optind];
    int is_list = !strcmp(action, "list");
    if (!is_list && optind + 2 != argc) {
        fprintf(stderr, "omr operator %s: needs exactly one NAME; try 'omr operator --help'\n", action);
        return OMR_EXIT_USAGE;
    }
    if (!is_list && strcmp(action, "add") && strcmp(action, "passwd") && strcmp(action, "disable") &&
        strcmp(action, "enable")) {
        fprintf(stderr, "omr operator: unknown action '%s'; try 'omr operator --help'\n", action);
        return OMR_EXIT_USAGE;
    }
    omr_store_t *store;
    omr_error_t err;
    if (omr_store_open(db, &store, &err) || omr_review_schema(store, &err)) {
        fprintf(stderr, "omr operator: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    int rc = OMR_EXIT_OK;
    const char *name = is_list ? NULL : argv[optind + 1];
    if (is_list) {
        if (omr_review_operator_list(store, print_op, NULL, &err)) {
            fprintf(stderr, "omr operator: %s\n", err.msg);
            rc = OMR_EXIT_FAILED;
        }
    } else if (!strcmp(action, "add") || !strcmp(action, "passwd")) {
        char pw[300], pw2[300];
        if (read_password("password: ", pw, sizeof pw) ||
            (isatty(STDIN_FILENO) && (read_password("again: ", pw2, sizeof pw2) || strcmp(pw, pw2)))) {
            fprintf(stderr, "omr operator: no password given, or the two did not match\n");
            rc = OMR_EXIT_USAGE;
        } else if (omr_review_operator_add(store, name, pw, !strcmp(action, "passwd"), &err)) {
            fprintf(stderr, "omr operator %s: %s\n", action, err.msg);
            rc = err.status == OMR_EINPUT ? OMR_EXIT_USAGE : OMR_EXIT_FAILED;
        } else {
            printf("operator %s: %s\n", name, !strcmp(action, "add") ? "added" : "password changed");
        }
        sodium_memzero(pw, sizeof pw);
        sodium_memzero(pw2, sizeof pw2);
    } else {
        if (omr_review_operator_disable(store, name, !strcmp(action, "disable"), &err)) {
            fprintf(stderr, "omr operator %s: %s\n", action, err.msg);
            rc = err.status == OMR_ENOTFOUND ? OMR_EXIT_USAGE : OMR_EXIT_FAILED;
        } else {
            printf("operator %s: %sd\n", name, action);
        }
    }
    omr_store_close(store);
    return rc;
}
