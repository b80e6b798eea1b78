/* check.h -- the test harness: numbered checks, and the closing line
 * `N passed, N failed` that CI reads. A test file defines its checks as plain
 * functions and lists them in main() with RUN(). */
#ifndef OMR_TESTS_CHECK_H
#define OMR_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static int check_passed, check_failed, check_current_failed;
static const char *check_current;

/* Record one assertion; on failure print where and why, keep going. */
#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            check_current_failed = 1;                                             \
            fprintf(stderr, "FAIL %s (%s:%d): %s: ", check_current, __FILE__, __LINE__, #cond); \
            fprintf(stderr, " " __VA_ARGS__); /* " " keeps an empty message legal */ \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0, "got \"%s\", want \"%s\"", (a), (b))
#define CHECK_INT(a, b) CHECK((long long)(a) == (long long)(b), "got %lld, want %lld", (long long)(a), (long long)(b))

/* Run one test function: it passes when no CHECK in it failed. */
#define RUN(fn)                                                                   \
    do {                                                                          \
        check_current = #fn;                                                      \
        check_current_failed = 0;                                                 \
        fn();                                                                     \
        if (check_current_failed) check_failed++; else check_passed++;            \
        printf("%s %s\n", check_current_failed ? "FAIL" : "ok  ", #fn);          \
    } while (0)

/* Print the closing line and give the exit status. */
static inline int check_report(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

/* Write text to dir/name (a test's scratch template folder); exits the
 * test program when it cannot. */
static inline void check_write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* text with its first `from` replaced by `to`, malloc'd (the caller frees);
 * NULL when `from` is not in text or out of memory. */
static inline char *check_replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    char *out = at ? malloc(strlen(text) + strlen(to) + 1) : NULL;
    if (out)
        sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

/* Split a CSV line of unquoted fields (the simulator's truth files) in place
 * into at most max fields; returns their count. */
static inline int check_split_csv(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* The IPA survey the tests run on, into *survey (the caller frees it). On
 * failure says why and prints the closing line: main() returns 1. */
static inline int check_load_survey(omr_survey_t **survey)
{
    omr_error_t err = {0};
    if (omr_template_load("templates/ipa-itsc-2018", survey, &err) == OMR_OK)
        return 0;
    fprintf(stderr, "templates/ipa-itsc-2018: %s\n", err.msg);
    printf("0 passed, 1 failed\n");
    return 1;
}

#endif
