/* bench.c -- `build/bench`: time each scan stage per input kind (make bench).
 *
 *   bench [--template DIR] [--calib FILE] FILE_OR_FOLDER...
 *
 * For every page: decode (omr_load_next, including the file hash), identify
 * (barcode in the survey's zone, omr_identify_zone_for_survey, as the
 * pipeline; blank test), recognise (register, sample, classify: the same
 * calls as omr/pipeline.c). Times are CPU ms of this thread, steadier than
 * wall time on a shared machine and the figure that matters for pages per
 * second on one core. Prints one row per input kind (format, depth, dpi):
 * pages, ms per stage, pages/s, and the ratio of all stages to decode alone.
 * The store and the coding are not in here: tools/bench.sh times the whole
 * `omr scan` for the headline line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calib.h"
#include "identify.h"
#include "load.h"
#include "recognise.h"
#include "sample.h"
#include "template.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
    char kind[48];
    long pages, failed, zone_pass[3]; /* barcode found on the page, in the survey zone, the bottom */
    double decode, identify, recognise;
} kind_t;

static kind_t kinds[32];
static int n_kinds;

static kind_t *kind_of(const omr_image_t *img)
{
    char name[48];
    snprintf(name, sizeof name, "%s %dbpp %ddpi", img->compression[0] ? img->compression : "?",
             img->pix ? (int)pixGetDepth(img->pix) : 0, img->dpi);
    for (int i = 0; i < n_kinds; i++)
        if (!strcmp(kinds[i].kind, name))
            return &kinds[i];
    if (n_kinds == 32)
        return &kinds[31];
    kind_t *k = &kinds[n_kinds++];
    memset(k, 0, sizeof *k);
    snprintf(k->kind, sizeof k->kind, "%s", name);
    return k;
}

int main(int argc, char **argv)
{
    const char *tpl = "templates/ipa-itsc-2018", *calib_path = NULL;
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "--template") && first + 1 < argc)
            tpl = argv[first + 1], first += 2;
        else if (!strcmp(argv[first], "--calib") && first + 1 < argc)
            calib_path = argv[first + 1], first += 2;
        else {
            fprintf(stderr, "usage: bench [--template DIR] [--calib FILE] FILE_OR_FOLDER...\n");
            return 1;
        }
    }
    if (first == argc) {
        fprintf(stderr, "bench: no input\n");
        return 1;
    }
    omr_quiet_libraries();
    omr_error_t err;
    omr_survey_t *survey;
    if (omr_template_load(tpl, &survey, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 2;
    }
    omr_calib_t cal;
    omr_calib_default(&cal);
    if (calib_path && omr_calib_load(calib_path, &cal, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 2;
    }
    omr_sample_cache_t *cache;
    if (omr_sample_cache_new(survey, &cache, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 2;
    }
    /* Render the blank references first: a worker does it once per page kind
     * and dpi, not per page; it is not a per-page cost. */
    for (int f = 0; f < survey->n_forms; f++)
        for (int p = 0; p < survey->forms[f].n_pages; p++)
            omr_sample_cache_prepare(cache, &survey->forms[f], p, &err);

    /* The barcode zone of this survey, as omr/pipeline.c uses it. */
    omr_zone_t zone;
    omr_identify_zone_for_survey(survey, &zone);

    omr_load_t *src;
    if (omr_load_open_paths((const char *const *)argv + first, argc - first, &src, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 2;
    }
    for (;;) {
        omr_image_t img;
        memset(&img, 0, sizeof img);
        double t0 = cpu_ms();
        omr_status_t st = omr_load_next(src, &img, &err);
        double t1 = cpu_ms();
        if (st == OMR_ENOTFOUND)
            break;
        if (st) {
            omr_image_clear(&img);
            continue;
        }
        kind_t *k = kind_of(&img);
        k->decode += t1 - t0;
        omr_barcode_t bc;
        omr_error_t ierr;
        int blank = 0;
        double ink;
        st = omr_identify_read(img.pix, &zone, &bc, &ierr);
        if (st == OMR_OK)
            k->zone_pass[bc.zone_pass]++;
        if (st != OMR_OK)
            omr_identify_is_blank(img.pix, 0, &blank, &ink, &ierr);
        double t2 = cpu_ms();
        k->identify += t2 - t1;
        if (st == OMR_OK && bc.parsed) {
            omr_page_result_t res;
            memset(&res, 0, sizeof res);
            snprintf(res.form, sizeof res.form, "%s", bc.form);
            res.page_number = bc.page;
            snprintf(res.respondent, sizeof res.respondent, "%s", bc.respondent);
            res.orientation = bc.orientation;
            /* as omr/pipeline.c: the barcode, a landmark when marks are missing */
            snprintf(res.payload, sizeof res.payload, "%.63s", bc.payload);
            res.barcode_box[0] = bc.x;
            res.barcode_box[1] = bc.y;
            res.barcode_box[2] = bc.w;
            res.barcode_box[3] = bc.h;
            res.dpi = img.dpi;
            omr_status_t rs = omr_recognise_page(img.pix, survey, &cal, cache, &res, &ierr);
            if (rs || res.status != OMR_PAGE_OK) {
                if (k->failed++ < 3) /* say why, for the first few */
                    fprintf(stderr, "bench: %s page %d: not recognised: %s\n", img.path, img.page,
                            rs ? ierr.msg : res.reason);
            }
            omr_page_result_clear(&res);
        } else if (k->failed++ < 3) {
            fprintf(stderr, "bench: %s page %d: not identified: %s\n", img.path, img.page,
                    ierr.msg);
        }
        k->recognise += cpu_ms() - t2;
        k->pages++;
        omr_image_clear(&img);
    }
    omr_load_close(src);

    printf("%-22s %6s %9s %9s %10s %9s %8s %7s\n", "input kind", "pages", "decode", "identify", "recognise",
           "total ms", "pages/s", "ratio");
    for (int i = 0; i < n_kinds; i++) {
        kind_t *k = &kinds[i];
        if (!k->pages)
            continue;
        double n = (double)k->pages, total = (k->decode + k->identify + k->recognise) / n;
        printf("%-22s %6ld %9.2f %9.2f %10.2f %9.2f %8.1f %7.2f%s\n", k->kind, k->pages, k->decode / n,
               k->identify / n, k->recognise / n, total, 1000.0 / total, total / (k->decode / n),
               k->failed ? "  (some pages not read)" : "");
    }
    for (int i = 0; i < n_kinds; i++)
        if (kinds[i].pages && (kinds[i].zone_pass[0] || kinds[i].zone_pass[2]))
            printf("%-22s barcode outside the survey zone: %ld in the bottom zone, %ld on the whole page\n",
                   kinds[i].kind, kinds[i].zone_pass[2], kinds[i].zone_pass[0]);
    omr_sample_cache_free(cache);
    omr_template_free(survey);
    return 0;
}
