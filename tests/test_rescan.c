/* test_rescan.c -- the batch report's advice, end to end: a page scanned
 * too light for pencil, then scanned again in grey in the next night's
 * batch, is coded from the rescan with no review item left from the light
 * copy; the other way round (a good scan, then a light copy) the second
 * copy is a duplicate for review. Scan order is the order of the paths
 * (store.h), so the files are named to sort in the order meant.
 *
 * Inputs: page 1 of one simulated respondent (build/simulate, clean grey
 * PNG at 300 dpi) and a bitonal copy of it cut at grey level 30 (a
 * threshold far too light: the print thins, pencil vanishes). The expected
 * coding is the one omr gives the grey page scanned alone: this is a test
 * of which copy is coded, not of recognition.
 */
#include <leptonica/allheaders.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "query.h"
#include "omr.h"

static char dir[64];
static const char *build;

static int run(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    char line[700];
    snprintf(line, sizeof line, fmt, a, b);
    snprintf(cmd, sizeof cmd, "%s >/dev/null 2>&1", line);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The responses of a store as one string (name=value/status, sorted);
 * malloc'd, NULL on error. */
static char *responses(const char *db_path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    if (!out || sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT name, value, status FROM responses ORDER BY form, respondent, case_number, name",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        free(out);
        return NULL;
    }
    while (sqlite3_step(st) == SQLITE_ROW && len + 300 < cap)
        len += (size_t)snprintf(out + len, cap - len, "%s=%s/%s\n", sqlite3_column_text(st, 0),
                                sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* Scan the inputs into a fresh store, one batch per file, in order. */
static void scan_nights(const char *db, const char *first, const char *second)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, db);
    unlink(path);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/omr scan --db %s --batch night1 %s/%%s", build, path, dir);
    int rc1 = run(cmd, first, NULL);
    snprintf(cmd, sizeof cmd, "%s/omr scan --db %s --batch night2 %s/%%s", build, path, dir);
    int rc2 = second ? run(cmd, second, NULL) : 0;
    CHECK(rc1 == 0 || rc1 == 3, "scan %s: exit %d", first, rc1);
    CHECK(rc2 == 0 || rc2 == 3, "scan %s: exit %d", second ? second : "-", rc2);
}

static void test_rescan_replaces_light_copy(void)
{
    char db[128], ref[128];
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(ref, sizeof ref, "%s/ref.db", dir);
    scan_nights("ref.db", "b-rescan.png", NULL);
    scan_nights("t.db", "a-light.tif", NULL);
    /* the premise: the light copy was judged too light, its blanks wait */
    CHECK(query_long(db, "SELECT count(*) FROM regions WHERE doubt & 64") > 0, "the light copy is light");
    CHECK(query_long(db, "SELECT count(*) FROM review_items WHERE current = 1 AND reason = 1") > 0,
          "its blanks wait for review");
    scan_nights("t.db", "a-light.tif", "b-rescan.png");
    CHECK_INT(query_long(db, "SELECT count(*) FROM pages WHERE status = 'ok'"), 2);
    CHECK_INT(query_long(db, "SELECT count(*) FROM review_items WHERE current = 1 AND reason IN (1, 11)"),
              query_long(ref, "SELECT count(*) FROM review_items WHERE current = 1 AND reason IN (1, 11)"));
    CHECK_INT(query_long(db, "SELECT count(*) FROM review_items WHERE current = 1 AND reason = 11"), 0);
    char *got = responses(db), *want = responses(ref);
    CHECK(got && want && want[0] && !strcmp(got, want), "coded from the rescan");
    free(got);
    free(want);
}

static void test_light_copy_after_a_good_one_is_a_duplicate(void)
{
    char db[128];
    snprintf(db, sizeof db, "%s/t2.db", dir);
    /* scan order is path order: the light copy named to come after */
    char from[128], to[128];
    snprintf(from, sizeof from, "%s/a-light.tif", dir);
    snprintf(to, sizeof to, "%s/z-light.tif", dir);
    CHECK_INT(run("cp %s %s", from, to), 0);
    scan_nights("t2.db", "b-rescan.png", "z-light.tif");
    CHECK_INT(query_long(db, "SELECT count(*) FROM review_items WHERE current = 1 AND reason = 11 AND var LIKE 'page:%'"),
              1);
}

/* Make the inputs: simulate one respondent, keep page 1 as the grey
 * rescan, cut a light bitonal copy of it. Returns 0 when ready. */
static int make_inputs(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "%s/simulate --template templates/ipa-itsc-2018 --form A --respondents 1 --first-id 777 --seed 5 "
             "--profile clean --dpi 300 --format png -j 1 --out %%s/sim",
             build);
    if (run(cmd, dir, NULL) != 0)
        return -1;
    char src[128], grey[128], light[128];
    snprintf(src, sizeof src, "%s/sim/scans/A-000777-01.png", dir);
    snprintf(grey, sizeof grey, "%s/b-rescan.png", dir);
    snprintf(light, sizeof light, "%s/a-light.tif", dir);
    if (run("cp %s %s", src, grey) != 0)
        return -1;
    PIX *p = pixRead(src);
    PIX *g = p ? pixConvertTo8(p, 0) : NULL;
    PIX *b = g ? pixThresholdToBinary(g, 30) : NULL;
    int rc = -1;
    if (b) {
        pixSetResolution(b, 300, 300);
        rc = pixWriteTiff(light, b, IFF_TIFF_G4, "w") ? -1 : 0;
    }
    pixDestroy(&b);
    pixDestroy(&g);
    pixDestroy(&p);
    return rc;
}

int main(void)
{
    omr_quiet_libraries();
    build = getenv("OMR_BUILD") ? getenv("OMR_BUILD") : "build";
    snprintf(dir, sizeof dir, "/tmp/omr_rescan.XXXXXX");
    if (!mkdtemp(dir)) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    CHECK(make_inputs() == 0, "simulate and cut the inputs in %s", dir);
    if (!check_failed) {
        RUN(test_rescan_replaces_light_copy);
        RUN(test_light_copy_after_a_good_one_is_a_duplicate);
    }
    run("rm -rf %s", dir, NULL);
    return check_report();
}
