/* pipeline.h -- the scan driver: input files -> stored pages -> coded
 * respondents and the review queue (issue 3). What `omr scan` runs.
 *
 * Stages, per input file (pipeline.c reads in this order):
 *   1. hash      SHA-256 of the file's bytes: its identity in the store
 *   2. claim     omr_store_file_claim(): skip content already stored (re-running
 *                the same files changes nothing) or being processed by a live
 *                process; retake a claim left by a dead one
 *   3. load      each page (load.h); a page or file that cannot be read becomes
 *                an UNREADABLE page with the reason
 *   4. identify  barcode and orientation (identify.h); no barcode -> blank test:
 *                blank sheets are counted and skipped, others NO_BARCODE; a
 *                barcode of another survey, form or page -> UNKNOWN_*
 *   5. recognise register, sample, classify (recognise.h)
 *   6. store     every page of the file + the file row in ONE transaction
 *                (omr_store_file_save): a kill -9 leaves all of it or none
 * then, once all files are done:
 *   7. code      every respondent whose pages or decisions changed (the store's
 *                dirty mark, so a batch killed before this step is finished by
 *                the next run) is re-coded from its stored pages with the
 *                operators' decisions as overrides (code.h), and its responses
 *                and machine review items replaced, one transaction each.
 *
 * With jobs > 1, steps 1-6 run in `jobs` forked worker processes, each with
 * its own connection and sample cache, taking the next file from a shared
 * counter; step 7 runs in the calling process. A worker dies with its parent
 * (PR_SET_PDEATHSIG), so kill -9 of `omr scan` stops the whole batch.
 */
#ifndef OMR_PIPELINE_H
#define OMR_PIPELINE_H

#include "calib.h"
#include "omr.h"
#include "store.h"
#include "template.h"

typedef struct {
    int files_total;    /* input files found (folders walked) */
    int files_done;     /* stored by this run */
    int files_skipped;  /* already in the store */
    int files_busy;     /* being processed by another live process */
    int files_refused;  /* could not be read at all (no hash) or not stored */
    int files_deferred; /* still being written: left for the next run */
    int pages;          /* pages loaded by this run */
    double elapsed_s;
} omr_pipeline_progress_t;

/* An input that was refused, or a respondent that could not be coded. */
typedef struct {
    char what[1024];    /* the file path, or "A/000123" */
    char reason[1024];
} omr_pipeline_problem_t;

typedef struct {
    const char *db_path;
    const char *batch_name;  /* NULL: "scan <time>" */
    const char *options;     /* stored with the batch (the command line), may be NULL */
    int jobs;                /* worker processes, >= 1 */
    /* Called about 4 times a second and at the end, from the calling
     * process (never from a worker). May be NULL. */
    void (*progress)(void *ctx, const omr_pipeline_progress_t *p);
    void *progress_ctx;
    /* A file last written less than this many seconds ago is left for the
     * next run (a scanner or a copy may still be writing it); 0: none. A
     * file that changes while it is read is left for the next run always. */
    double settle_s;
} omr_pipeline_opts_t;

typedef struct {
    long long batch;                   /* the batch row id */
    omr_pipeline_progress_t progress;  /* final counts */
    int respondents_coded;
    omr_pipeline_problem_t *refused;   /* files not stored, with the reason */
    int n_refused;
    omr_pipeline_problem_t *deferred;  /* files left for the next run, with the reason */
    int n_deferred;
    omr_pipeline_problem_t *coding_failed; /* respondents left dirty, with the reason */
    int n_coding_failed;
} omr_pipeline_result_t;

/* Run a batch over inputs (files or folders). survey and cal borrowed (cal
 * NULL: the built-in profile). *res filled (owned: omr_pipeline_result_clear())
 * even when some inputs fail: bad input is reported per file and page, never
 * stops the batch.
 * Errors: OMR_EIO when the store cannot be opened or written at all,
 * OMR_ENOMEM, OMR_EINPUT for no inputs; with *err. */
omr_status_t omr_pipeline_run(const omr_survey_t *survey, const omr_calib_t *cal, const char *const *inputs,
                              int n_inputs, const omr_pipeline_opts_t *opts, omr_pipeline_result_t *res,
                              omr_error_t *err);

/* Step 7 alone: code every dirty respondent in the store (after review
 * decisions, or a batch killed before coding). batch may be 0. *pcoded gets
 * the count; failures are appended to res->coding_failed when res is given. */
omr_status_t omr_pipeline_code_dirty(omr_store_t *store, const omr_survey_t *survey, long long batch,
                                     int *pcoded, omr_pipeline_result_t *res, omr_error_t *err);

void omr_pipeline_result_clear(omr_pipeline_result_t *res);

#endif
