/* cmd.h -- the subcommands of the `omr` command, one file each (omr/cmd_*.c).
 *
 * Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. Exit statuses, documented
 * in `omr --help`:
 *   0  ok
 *   1  usage error (bad option or argument)
 *   2  failed (an input or output could not be used at all)
 *   3  done, with items left for review (scan)
 * Commands print; library functions below them never do.
 */
#ifndef OMR_CMD_H
#define OMR_CMD_H

#include "store.h"
#include "template.h"

enum { OMR_EXIT_OK = 0, OMR_EXIT_USAGE = 1, OMR_EXIT_FAILED = 2, OMR_EXIT_REVIEW = 3 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} omr_command_t;

int omr_cmd_check_template(int argc, char **argv);
int omr_cmd_calibrate(int argc, char **argv);
int omr_cmd_print(int argc, char **argv);
int omr_cmd_icr_eval(int argc, char **argv);

/* Check that the open store holds this survey, read with these templates
 * (store.h omr_store_bind_survey; binds a store used the first time). db
 * names the store in the message. Prints "omr CMD: DB: reason" and returns
 * OMR_EXIT_FAILED when not; OMR_EXIT_OK. */
int omr_cmd_bind_store(const char *cmd, const char *db, omr_store_t *store, const omr_survey_t *survey);

/* --images DIR (review, status): where scans moved since the scan are. */
#define OMR_CMD_MAX_IMAGE_DIRS 64
/* Append dir to dirs[*n] (borrowed: argv) when it is a folder and there is
 * room; else prints "omr CMD: ..." and returns OMR_EXIT_USAGE. */
int omr_cmd_add_image_dir(const char *cmd, const char *dir, const char **dirs, int *n);

int omr_cmd_scan(int argc, char **argv);
int omr_cmd_export(int argc, char **argv);
int omr_cmd_review(int argc, char **argv);
int omr_cmd_operator(int argc, char **argv);
int omr_cmd_status(int argc, char **argv);

#endif
