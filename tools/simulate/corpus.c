/* corpus.c -- the corpus's extras: the bad-input files under DIR/bad/ that
 * the scan pipeline's tests feed it, and DIR/README.txt describing the corpus.
 *
 * Both are deterministic (no dates, no timings), like the rest of the corpus.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "print.h"
#include "scan_internal.h"

/* ------------------------------------------------------------------ helpers */

static int write_bytes(const char *path, const void *data, size_t n, omr_error_t *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return omr_error_set(err, OMR_EIO, "%s: cannot create: %s", path, strerror(errno)), -1;
    size_t put = n ? fwrite(data, 1, n, f) : 0;
    if (fclose(f) != 0 || put != n)
        return omr_error_set(err, OMR_EIO, "%s: write failed", path), -1;
    return 0;
}

/* A clean scan of page page_index of form f for respondent (NULL: no
 * barcode), bitonal or grey, at 200 dpi; NULL with *err. */
static sim_image_t *clean_scan(const omr_survey_t *s, const omr_form_t *f, int page_index,
                               const char *respondent, int grey, uint64_t seed, omr_error_t *err)
{
    PIX *pix = omr_print_render_page(s, f, page_index, respondent, 200, err);
    if (!pix)
        return NULL;
    sim_image_t *page = sim_image_from_pix(pix);
    pixDestroy(&pix);
    if (!page) {
        omr_error_set(err, OMR_ENOMEM, "out of memory");
        return NULL;
    }
    page->dpi = 200;
    sim_rng_t rng;
    sim_rng_seed(&rng, seed, 0xbad0000 + (uint64_t)page_index);
    const sim_condition_t *c = sim_condition_find("clean");
    sim_scan_t scan;
    sim_scan_packet(c, &rng, 200, grey ? SIM_FMT_PNG : SIM_FMT_G4, &scan);
    sim_scan_sheet(c, &rng, &scan);
    sim_image_t *img = sim_scan_page(page, &scan, &rng);
    sim_image_free(page);
    if (!img)
        omr_error_set(err, OMR_ENOMEM, "out of memory");
    return img;
}

/* A G4 TIFF of the given images at path. */
static int write_tiff(const char *path, sim_image_t **imgs, int n, omr_error_t *err)
{
    sim_tiff_t *t = sim_tiff_open(path, err);
    if (!t)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = sim_tiff_add(t, imgs[i], err);
    if (sim_tiff_close(t, err) != 0)
        rc = -1;
    return rc;
}

/* A little-endian TIFF header whose only directory claims a 100000 x 100000
 * 8-bit uncompressed image in one strip of 4 GB, followed by 64 bytes. */
static int write_huge_header(const char *path, omr_error_t *err)
{
    static const uint16_t tags[][2] = {
        {256, 4}, {257, 4}, {258, 3}, {259, 3}, {262, 3}, {273, 4}, {277, 3}, {278, 4}, {279, 4}};
    static const uint32_t values[] = {100000, 100000, 8, 1, 1, 0 /* data offset */, 1, 100000, 0xffffffffu};
    const int n = (int)(sizeof values / sizeof values[0]);
    uint8_t buf[256];
    memset(buf, 0, sizeof buf);
    size_t p = 0;
    buf[p++] = 'I';
    buf[p++] = 'I';
    buf[p++] = 42;
    buf[p++] = 0;
    buf[p++] = 8; /* first directory at offset 8 */
    p = 8;
    buf[p++] = (uint8_t)n;
    buf[p++] = 0;
    uint32_t data_at = (uint32_t)(8 + 2 + n * 12 + 4);
    for (int i = 0; i < n; i++) {
        uint32_t v = tags[i][0] == 273 ? data_at : values[i];
        buf[p++] = (uint8_t)(tags[i][0] & 0xff);
        buf[p++] = (uint8_t)(tags[i][0] >> 8);
        buf[p++] = (uint8_t)tags[i][1];
        buf[p++] = 0;
        buf[p++] = 1; /* count */
        buf[p++] = 0;
        buf[p++] = 0;
        buf[p++] = 0;
        if (tags[i][1] == 3) { /* SHORT, left-justified in the value field */
            buf[p++] = (uint8_t)(v & 0xff);
            buf[p++] = (uint8_t)(v >> 8);
            buf[p++] = 0;
            buf[p++] = 0;
        } else {
            for (int b = 0; b < 4; b++)
                buf[p++] = (uint8_t)(v >> (8 * b));
        }
    }
    p += 4; /* no next directory */
    p += 64; /* a little pixel data, nowhere near what the header claims */
    return write_bytes(path, buf, p, err);
}

int sim_corpus_write_bad(const omr_survey_t *s, const char *out, uint64_t seed, omr_error_t *err)
{
    char dir[2048], path[4096];
    snprintf(dir, sizeof dir, "%s/bad", out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return omr_error_set(err, OMR_EIO, "%s: cannot create: %s", dir, strerror(errno)), -1;
    if (s->n_forms < 1 || s->forms[0].n_pages < 1)
        return omr_error_set(err, OMR_EINPUT, "the survey has no page to draw bad files from"), -1;
    const omr_form_t *f = &s->forms[0];
    int np = f->n_pages < 3 ? f->n_pages : 3;
    sim_image_t *img[3] = {0};
    int rc = 0;

    /* truncated.tif: a 3-sheet packet cut at 60 % of its bytes. */
    for (int i = 0; i < np && rc == 0; i++)
        if (!(img[i] = clean_scan(s, f, i, "999901", 0, seed, err)))
            rc = -1;
    snprintf(path, sizeof path, "%s/truncated.tif", dir);
    if (rc == 0)
        rc = write_tiff(path, img, np, err);
    if (rc == 0) {
        size_t len = 0;
        char *bytes = omr_read_file(path, 1u << 28, &len, err);
        rc = bytes ? write_bytes(path, bytes, len * 6 / 10, err) : -1;
        free(bytes);
    }
    for (int i = 0; i < 3; i++)
        sim_image_free(img[i]);

    /* broken-crc.png: a grey scan with one byte of its first IDAT chunk changed. */
    sim_image_t *grey = rc == 0 ? clean_scan(s, f, 0, "999902", 1, seed, err) : NULL;
    snprintf(path, sizeof path, "%s/broken-crc.png", dir);
    if (rc == 0)
        rc = grey ? sim_write_png(path, grey, err) : -1;
    sim_image_free(grey);
    if (rc == 0) {
        size_t len = 0;
        char *bytes = omr_read_file(path, 1u << 28, &len, err);
        char *idat = bytes ? memmem(bytes, len, "IDAT", 4) : NULL;
        if (!idat || (size_t)(idat - bytes) + 4 + 200 >= len) {
            omr_error_set(err, OMR_EINPUT, "%s: no IDAT chunk to break", path);
            rc = -1;
        } else {
            idat[4 + 100] ^= 0x5a;
            rc = write_bytes(path, bytes, len, err);
        }
        free(bytes);
    }

    /* huge.tif, not-a-tiff.tif, empty files */
    snprintf(path, sizeof path, "%s/huge.tif", dir);
    if (rc == 0)
        rc = write_huge_header(path, err);
    static const char text[] = "This is a text file, not a scan.\nIt only has a .tif name.\n";
    snprintf(path, sizeof path, "%s/not-a-tiff.tif", dir);
    if (rc == 0)
        rc = write_bytes(path, text, sizeof text - 1, err);
    snprintf(path, sizeof path, "%s/empty.tif", dir);
    if (rc == 0)
        rc = write_bytes(path, "", 0, err);
    snprintf(path, sizeof path, "%s/empty.png", dir);
    if (rc == 0)
        rc = write_bytes(path, "", 0, err);

    /* Well-formed scans that are not pages of this survey's forms, a page
     * without barcode, and a blank separator sheet. */
    omr_survey_t other = *s;
    other.code = "OTHR19";
    omr_form_t zform = *f;
    snprintf(zform.id, sizeof zform.id, "Z");
    struct {
        const char *name;
        const omr_survey_t *s;
        const omr_form_t *f;
        const char *respondent;
    } foreign[] = {
        {"other-survey.tif", &other, f, "999903"},
        {"other-form.tif", s, &zform, "999904"},
        {"no-barcode.tif", s, f, NULL},
    };
    for (int i = 0; i < 3 && rc == 0; i++) {
        sim_image_t *one = clean_scan(foreign[i].s, foreign[i].f, 0, foreign[i].respondent, 0, seed, err);
        snprintf(path, sizeof path, "%s/%s", dir, foreign[i].name);
        rc = one ? write_tiff(path, &one, 1, err) : -1;
        sim_image_free(one);
    }
    if (rc == 0) {
        sim_image_t *blank = sim_image_new((int)(210 * 200 / 25.4 + 0.5), (int)(297 * 200 / 25.4 + 0.5), 1, 200);
        snprintf(path, sizeof path, "%s/blank-sheet.tif", dir);
        if (!blank) {
            omr_error_set(err, OMR_ENOMEM, "out of memory");
            rc = -1;
        } else {
            rc = write_tiff(path, &blank, 1, err);
        }
        sim_image_free(blank);
    }
    return rc;
}

/* ------------------------------------------------------------------ README */

typedef struct {
    char key[64];
    long pages;
} count_t;

static int count_cmp(const void *a, const void *b)
{
    return strcmp(((const count_t *)a)->key, ((const count_t *)b)->key);
}

static void count_add(count_t *c, int *n, int max, const char *key)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(c[i].key, key)) {
            c[i].pages++;
            return;
        }
    if (*n < max) {
        snprintf(c[*n].key, sizeof c[*n].key, "%s", key);
        c[(*n)++].pages = 1;
    }
}

/* Count pages per condition, per format+dpi, upside down, duplicates. */
static long count_pages(const char *out, count_t *cond, int *ncond, count_t *kind, int *nkind,
                        long *upside, long *dups, long *files)
{
    char path[4096], line[1024], last_file[512] = "";
    snprintf(path, sizeof path, "%s/truth/pages.csv", out);
    FILE *f = fopen(path, "r");
    long pages = 0;
    *ncond = *nkind = 0;
    *upside = *dups = *files = 0;
    if (!f)
        return 0;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        char *field[16];
        int nf = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *p = line; nf < 16;) {
            field[nf++] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        if (nf < 15)
            continue;
        pages++;
        if (strcmp(field[0], last_file)) {
            (*files)++;
            snprintf(last_file, sizeof last_file, "%s", field[0]);
        }
        *dups += atoi(field[6]) != 0;
        *upside += atoi(field[7]) != 0;
        count_add(cond, ncond, 16, field[14]);
        char k[64];
        snprintf(k, sizeof k, "%s %s dpi", field[9], field[8]);
        count_add(kind, nkind, 32, k);
    }
    fclose(f);
    return pages;
}

int sim_corpus_write_readme(const omr_survey_t *s, const char *out, const char *command, int bad,
                            omr_error_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/README.txt", out);
    FILE *f = fopen(path, "w");
    if (!f)
        return omr_error_set(err, OMR_EIO, "%s: cannot create: %s", path, strerror(errno)), -1;
    count_t cond[16], kind[32];
    int ncond, nkind;
    long upside, dups, files;
    long pages = count_pages(out, cond, &ncond, kind, &nkind, &upside, &dups, &files);

    fprintf(f, "Simulated scan corpus of survey %s (%s)\n", s->id, s->code);
    fprintf(f, "=====================================================\n\n");
    fprintf(f, "Made by:\n  %s\n(the same command gives the same bytes, for any -j)\n\n", command);
    fprintf(f, "%ld scanned sheets in %ld files.\n\n", pages, files);
    fprintf(f, "Layout\n------\n"
          "scans/            the scans, in scan order when the names are sorted:\n"
          "                  <form>-<respondent>.tif     one multi-page TIFF per respondent packet\n"
          "                                              (G4 bitonal, or LZW 8-bit grey)\n"
          "                  <form>-<respondent>-NN.png  one file per sheet, NN = 01, 02, ... in\n"
          "                  <form>-<respondent>-NN.jpg  packet order (8-bit grey)\n"
          "                  Resolution is in every file (TIFF X/YResolution, PNG pHYs, JPEG JFIF).\n"
          "%s"
          "truth/<form>.csv        the true answers, coded as the export (coding.md), one row per\n"
          "                        respondent; <form>_cases.csv one row per case.\n"
          "truth/cells.csv         the truth of every region of every sheet:\n"
          "                        respondent,form,page,case,var,kind,state,style,value\n"
          "                        state marked | blank | doubtful (made doubtful on purpose: a\n"
          "                        reader that flags it is right) | missing (sheet not in packet).\n"
          "                        A duplicate sheet has no rows of its own (same paper).\n"
          "truth/pages.csv         one row per scanned sheet, in scan order:\n"
          "  file          the scan file, relative to this folder\n"
          "  file_page     1-based page (TIFF directory) in that file; 1 for PNG/JPEG\n"
          "  respondent, form, page   whose sheet and which printed page (page number as in the\n"
          "                barcode, 1-based)\n"
          "  case          case number on case pages (photocopies answered again), else 0\n"
          "  duplicate     1: the same sheet fed a second time\n"
          "  upside_down   1: fed turned by 180 degrees\n"
          "  dpi, format   resolution; g4 | lzw | png | jpeg\n"
          "  skew_deg, shift_x_mm, shift_y_mm, scale   the scanner's geometry: the paper is\n"
          "                scaled and rotated by skew_deg (positive = clockwise as seen in the\n"
          "                image) about its centre, turned 180 degrees when upside_down, then\n"
          "                moved by the shift. A paper point p (mm) lands at\n"
          "                  q = c + shift + scale * u * R(skew) * (p - c)   (mm in the image)\n"
          "                with c the paper centre, u = -1 upside down else 1, y down; image\n"
          "                pixel (i, j) has its centre at ((i + .5), (j + .5)) * 25.4 / dpi mm.\n"
          "  condition     the named scan condition of the packet (below)\n\n",
          s->ids_by_order || s->ids_by_value
              ? "                  This survey names each respondent after the scanned file (no\n"
                "                  barcode, or a fixed page ID): the files are <respondent>.tif,\n"
                "                  <respondent>.png, <respondent>.jpg instead, all of a respondent's\n"
                "                  sheets in one file.\n"
              : "");

    fputs("Scan conditions\n---------------\n"
          "Each respondent packet is scanned under one condition (drawn by its share in the\n"
          "mixed profile; the clean profile uses `clean` only); each sheet then draws its own\n"
          "skew, shift, scale, orientation, light and dirt within the condition's ranges.\n\n",
          f);
    int nc;
    const sim_condition_t *cs = sim_conditions(&nc);
    fprintf(f, "  %-8s %6s %7s  %s\n", "name", "share", "sheets", "what");
    for (int i = 0; i < nc; i++) {
        long n = 0;
        for (int k = 0; k < ncond; k++)
            if (!strcmp(cond[k].key, cs[i].name))
                n = cond[k].pages;
        fprintf(f, "  %-8s %5.0f%% %7ld  %s\n", cs[i].name, 100 * cs[i].share, n, cs[i].summary);
        fprintf(f, "  %-8s skew sd %.1f deg (within %.1f", "", cs[i].skew_sd,
                cs[i].skew_max < 1.5 ? cs[i].skew_max : 1.5);
        if (cs[i].p_wide_skew > 0)
            fprintf(f, "; %.0f%% of sheets 1.5-%.1f", 100 * cs[i].p_wide_skew, cs[i].skew_max);
        fprintf(f, "), shift sd %.1f mm (within %.0f), scale sd %.1f%% (within %.1f%%), upside down %.0f%%\n",
                cs[i].shift_sd, cs[i].shift_max, 100 * cs[i].scale_sd, 100 * cs[i].scale_max,
                100 * cs[i].p_upside_down);
        fprintf(f, "  %-8s paper %.0f-%.0f, ink %.0f-%.0f, light gradient <= %.0f%%, vignette <= %.0f%%,"
                   " noise sd %.1f-%.1f, dust %.0f-%.0f specks, blur %d-%d, streak %.0f%%,\n"
                   "  %-8s dark backing %.0f%%, grey background removal %.0f%%, bitonal threshold"
                   " %d-%d%% of the way from ink to paper\n",
                "", cs[i].paper_lo, cs[i].paper_hi, cs[i].ink_lo, cs[i].ink_hi, 100 * cs[i].gradient_max,
                100 * cs[i].vignette_max, cs[i].noise_lo, cs[i].noise_hi, cs[i].dust_lo, cs[i].dust_hi,
                cs[i].blur_lo, cs[i].blur_hi, 100 * cs[i].p_streak, "", 100 * cs[i].p_dark_backing,
                100 * cs[i].p_white_clip, cs[i].threshold_lo, cs[i].threshold_hi);
    }
    qsort(kind, (size_t)nkind, sizeof kind[0], count_cmp);
    fprintf(f, "\nSheets per output kind:\n");
    for (int k = 0; k < nkind; k++)
        fprintf(f, "  %-16s %ld\n", kind[k].key, kind[k].pages);
    fprintf(f, "Upside-down sheets: %ld; sheets fed twice: %ld.\n\n", upside, dups);

    if (bad)
        fputs("Bad input (bad/)\n----------------\n"
              "Files the scan pipeline must report (file, page, reason) without crashing or\n"
              "losing the rest of the batch:\n"
              "  truncated.tif      a 3-sheet G4 packet (respondent 999901) cut at 60 % of its\n"
              "                     bytes: the pages that are whole may be kept, the rest reported\n"
              "  broken-crc.png     a grey page (999902) with one byte of image data changed: CRC error\n"
              "  huge.tif           a TIFF header claiming 100000 x 100000 8-bit pixels in a 4 GB\n"
              "                     strip, with 64 bytes of data: refuse before allocating\n"
              "  not-a-tiff.tif     a text file with a .tif name\n"
              "  empty.tif, empty.png   empty files\n"
              "  other-survey.tif   a readable page whose barcode is of survey OTHR19: page-level review\n"
              "  other-form.tif     a readable page of form Z, which the survey does not have\n"
              "  no-barcode.tif     a readable page without barcode: page-level review\n"
              "  blank-sheet.tif    an empty white sheet (a separator): recognised, counted, skipped\n\n",
              f);
    if (fclose(f) != 0)
        return omr_error_set(err, OMR_EIO, "%s: write failed", path), -1;
    return 0;
}
