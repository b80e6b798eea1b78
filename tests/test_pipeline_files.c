/* test_pipeline_files.c -- a scan file that is still being written, or is
 * written again, while the batch runs (pipeline.c, load.h):
 *   - a file that changes while it is read is not stored at all, reported
 *     as left for the next run, and stored whole by the next run;
 *   - with settle_s, a file written just now is left for the next run (also
 *     by forked workers); one written long ago is read;
 *   - the loader decodes the bytes of the descriptor it was given, not
 *     whatever file the path names by then.
 * Inputs: printed pages of the IPA form (omr print's renderer) written as
 * PNG; what is checked is what the store holds, read with SQL.
 */
#include <fcntl.h>
#include <leptonica/allheaders.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "query.h"
#include "load.h"
#include "omr.h"
#include "pipeline.h"
#include "print.h"

static omr_survey_t *survey;
static char dir[64];

/* Page 1 of form A for respondent id, printed at 200 dpi, as a PNG at path. */
static int write_page(const char *path, const char *id)
{
    omr_error_t err = {0};
    PIX *pix = omr_print_render_page(survey, &survey->forms[0], 0, id, 200, &err);
    CHECK(pix != NULL, "render: %s", err.msg);
    if (!pix)
        return -1;
    int rc = pixWrite(path, pix, IFF_PNG);
    pixDestroy(&pix);
    CHECK(rc == 0, "write %s", path);
    return rc;
}

/* The progress callback runs in the batch's process between pages (jobs 1):
 * it appends to the file being read, as a scanner still writing it would. */
static const char *append_to;
static int appended;

static void append_while_read(void *ctx, const omr_pipeline_progress_t *p)
{
    (void)ctx;
    if (appended || p->pages < 1 || !append_to)
        return;
    FILE *f = fopen(append_to, "ab");
    if (f) {
        fputs("more bytes arriving", f);
        appended = fclose(f) == 0;
    }
}

static void run_batch_of(const char *db, const char *const *inputs, int n, double settle_s, int jobs,
                         void (*progress)(void *, const omr_pipeline_progress_t *), omr_pipeline_result_t *res)
{
    omr_error_t err = {0};
    omr_pipeline_opts_t opts = {.db_path = db, .jobs = jobs, .progress = progress, .settle_s = settle_s};
    memset(res, 0, sizeof *res);
    CHECK(omr_pipeline_run(survey, NULL, inputs, n, &opts, res, &err) == OMR_OK, "%s", err.msg);
}

static void run_batch(const char *db, const char *input, double settle_s, int jobs,
                      void (*progress)(void *, const omr_pipeline_progress_t *), omr_pipeline_result_t *res)
{
    run_batch_of(db, &input, 1, settle_s, jobs, progress, res);
}

static void test_file_changed_while_read_is_left_for_next_run(void)
{
    char png[128], db[128];
    snprintf(png, sizeof png, "%s/growing.png", dir);
    snprintf(db, sizeof db, "%s/grow.db", dir);
    if (write_page(png, "000001"))
        return;
    omr_pipeline_result_t res;
    append_to = png;
    appended = 0;
    run_batch(db, png, 0, 1, append_while_read, &res);
    CHECK(appended, "test bug: the callback did not write to the file");
    CHECK_INT(res.n_deferred, 1);
    CHECK(res.n_deferred == 1 && strstr(res.deferred[0].reason, "changed while it was being read"), "%s",
          res.n_deferred ? res.deferred[0].reason : "(none)");
    CHECK_INT(res.progress.files_done, 0);
    CHECK_INT(query_long(db, "SELECT count(*) FROM files"), 0);
    CHECK_INT(query_long(db, "SELECT count(*) FROM pages"), 0);
    omr_pipeline_result_clear(&res);

    /* the next run finds it complete (the page still decodes: the PNG ends
     * at IEND, the bytes after it are ignored) and stores it */
    append_to = NULL;
    run_batch(db, png, 0, 1, NULL, &res);
    CHECK_INT(res.n_deferred, 0);
    CHECK_INT(res.progress.files_done, 1);
    CHECK_INT(query_long(db, "SELECT count(*) FROM files"), 1);
    CHECK_INT(query_long(db, "SELECT count(*) FROM pages WHERE status = 'ok' AND respondent = '000001'"), 1);
    omr_pipeline_result_clear(&res);
}

static void test_settle_leaves_fresh_files(void)
{
    char png[2][128], db[128];
    snprintf(png[0], sizeof png[0], "%s/fresh1.png", dir);
    snprintf(png[1], sizeof png[1], "%s/fresh2.png", dir);
    snprintf(db, sizeof db, "%s/settle.db", dir);
    if (write_page(png[0], "000002") || write_page(png[1], "000005"))
        return;
    const char *inputs[] = {png[0], png[1]};
    omr_pipeline_result_t res;
    for (int jobs = 1; jobs <= 2; jobs++) { /* 2: forked workers */
        run_batch_of(db, inputs, 2, 3600, jobs, NULL, &res);
        CHECK(res.n_deferred == 2 && strstr(res.deferred[0].reason, "--settle"), "jobs %d: %s", jobs,
              res.n_deferred ? res.deferred[0].reason : "(none deferred)");
        CHECK_INT(query_long(db, "SELECT count(*) FROM files"), 0);
        omr_pipeline_result_clear(&res);
    }
    /* one written two hours ago: read; the fresh one still waits */
    struct timespec two_hours_ago[2];
    clock_gettime(CLOCK_REALTIME, &two_hours_ago[0]);
    two_hours_ago[0].tv_sec -= 7200;
    two_hours_ago[1] = two_hours_ago[0];
    CHECK(utimensat(AT_FDCWD, png[0], two_hours_ago, 0) == 0);
    run_batch_of(db, inputs, 2, 3600, 2, NULL, &res);
    CHECK(res.n_deferred == 1 && strstr(res.deferred[0].what, "fresh2.png"), "%d deferred", res.n_deferred);
    CHECK_INT(query_long(db, "SELECT count(*) FROM pages WHERE status = 'ok' AND respondent = '000002'"), 1);
    CHECK_INT(query_long(db, "SELECT count(*) FROM files"), 1);
    omr_pipeline_result_clear(&res);
}

/* Decoded through the descriptor: the file that was opened, even after
 * another one is renamed over its path (a scanner writing the next
 * scan0001.tif). */
static void test_loader_reads_the_open_file(void)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/scan0001.png", dir);
    snprintf(b, sizeof b, "%s/next.png", dir);
    if (write_page(a, "000003") || write_page(b, "000004"))
        return;
    PIX *want = pixRead(a);
    int fd = open(a, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && want);
    if (fd < 0 || !want) {
        pixDestroy(&want);
        return;
    }
    omr_load_stamp_t before, after;
    CHECK(omr_load_stamp_fd(fd, &before) == 0);
    CHECK(rename(b, a) == 0);
    omr_image_t img;
    omr_error_t err = {0};
    CHECK(omr_load_page_fd(a, fd, 0, &img, &err) == OMR_OK, "%s", err.msg);
    int same = 0;
    if (img.pix)
        pixEqual(img.pix, want, &same);
    CHECK(same, "the page decoded is the one opened, not the file renamed over it");
    omr_image_clear(&img);
    /* the descriptor's stamp is unchanged; the path's is another file */
    CHECK(omr_load_stamp_fd(fd, &after) == 0 && omr_load_stamp_same(&before, &after));
    int fd2 = open(a, O_RDONLY | O_CLOEXEC);
    CHECK(fd2 >= 0 && omr_load_stamp_fd(fd2, &after) == 0 && !omr_load_stamp_same(&before, &after));
    if (fd2 >= 0)
        close(fd2);
    /* the iterator too */
    omr_load_t *src = NULL;
    CHECK(omr_load_open_fd(a, fd, NULL, &src, &err) == OMR_OK, "%s", err.msg);
    if (src) {
        CHECK(omr_load_next(src, &img, &err) == OMR_OK, "%s", err.msg);
        same = 0;
        if (img.pix)
            pixEqual(img.pix, want, &same);
        CHECK(same, "iterator: the page decoded is the one opened");
        omr_image_clear(&img);
        CHECK(omr_load_next(src, &img, &err) == OMR_ENOTFOUND);
        omr_load_close(src);
    }
    /* fd is still open: the loader borrowed it */
    CHECK(fcntl(fd, F_GETFD) != -1);
    close(fd);
    pixDestroy(&want);
}

int main(void)
{
    omr_error_t err;
    omr_quiet_libraries();
    snprintf(dir, sizeof dir, "/tmp/omr-pipefiles-XXXXXX");
    if (!mkdtemp(dir) || omr_template_load("templates/ipa-itsc-2018", &survey, &err) != OMR_OK) {
        CHECK(0, "setup");
        return check_report();
    }
    RUN(test_loader_reads_the_open_file);
    RUN(test_file_changed_while_read_is_left_for_next_run);
    RUN(test_settle_leaves_fresh_files);
    omr_template_free(survey);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report();
}
