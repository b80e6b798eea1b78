/* scan_internal.h -- the scan side of the simulator (scanner.c, output.c,
 * main.c): scan conditions, the scanner model and the image writers.
 *
 * A respondent's packet is scanned under one named condition (a scanner and
 * its settings: resolution, output kind, how well it feeds and how dirty it
 * is). Each sheet then gets its own draw of the condition's ranges: skew,
 * shift, scale, upside down, brightness, noise. sim_scan_page() turns the
 * filled page into the scanned image with one affine warp plus the
 * photometric effects, all random choices from the sim_rng_t it is given.
 *
 * Images here are plain byte buffers (sim_image_t), not Leptonica PIX: the
 * writers need rows in file order (bytes left to right, bits MSB first),
 * which Leptonica's word-swapped layout is not on little-endian machines.
 */
#ifndef OMR_SIM_SCAN_INTERNAL_H
#define OMR_SIM_SCAN_INTERNAL_H

#include <stdint.h>

#include "sim.h"

/* ---- output kinds ---- */
typedef enum {
    SIM_FMT_G4,   /* bitonal multi-page TIFF, CCITT G4 */
    SIM_FMT_LZW,  /* 8-bit grey multi-page TIFF, LZW */
    SIM_FMT_PNG,  /* 8-bit grey PNG, one file per sheet */
    SIM_FMT_JPEG, /* 8-bit grey JPEG, one file per sheet */
    SIM_FMT_COUNT
} sim_format_t;

const char *sim_format_name(sim_format_t f);  /* "g4", "lzw", "png", "jpeg" */
const char *sim_format_ext(sim_format_t f);   /* "tif", "tif", "png", "jpg" */
int sim_format_from_name(const char *name);   /* -1 when unknown */
int sim_format_is_tiff(sim_format_t f);
int sim_format_is_bitonal(sim_format_t f);

/* ---- images ---- */
typedef struct {
    int w, h;
    int bpp;         /* 8 (grey, 255 white) or 1 (1 = black, MSB first) */
    int stride;      /* bytes per row */
    int dpi;
    uint8_t *data;   /* h * stride bytes, owned */
} sim_image_t;

/* A new image, zero-filled; NULL on out of memory. Free with sim_image_free. */
sim_image_t *sim_image_new(int w, int h, int bpp, int dpi);
void sim_image_free(sim_image_t *img);
/* Copy an 8-bit grey PIX into a new image (dpi from the PIX); NULL on failure. */
sim_image_t *sim_image_from_pix(PIX *pix);
/* A new PIX (8 or 1 bpp, resolution set) with the image's pixels; NULL on failure. */
PIX *sim_image_to_pix(const sim_image_t *img);

/* ---- conditions ---- */
typedef struct {
    const char *name;
    const char *summary;    /* one line for README.txt */
    double share;           /* weight in the mixed profile */
    /* packet level: resolution and output kind, weights per choice */
    int dpis[3];
    double dpi_w[3];
    double fmt_w[SIM_FMT_COUNT];
    int jpeg_q_lo, jpeg_q_hi;
    /* sheet level: geometry */
    double skew_sd, skew_max;       /* degrees: normal, clipped */
    double p_wide_skew;             /* share of sheets with a uniform skew in 1.5..skew_max */
    double shift_sd, shift_max;     /* mm, each axis */
    double scale_sd, scale_max;     /* relative (0.01 = 1 %) */
    double p_upside_down;
    /* sheet level: light and dirt */
    double paper_lo, paper_hi;      /* grey level of the paper */
    double ink_lo, ink_hi;          /* grey level of full black ink */
    double gradient_max;            /* brightness change corner to corner, relative */
    double vignette_max;            /* brightness loss at the corners, relative */
    double noise_lo, noise_hi;      /* sensor noise sd, grey levels */
    double dust_lo, dust_hi;        /* dust specks per page */
    double p_streak;                /* a thin vertical line from dirt on the glass */
    int blur_lo, blur_hi;           /* 0 sharp, 1 light defocus, 2 stronger */
    int threshold_lo, threshold_hi; /* bitonal threshold (grey < t -> black) */
    double p_dark_backing;          /* the area beyond the paper is dark */
    double p_white_clip;            /* grey output: background removal turns paper to 255 */
} sim_condition_t;

/* The named conditions, in README order; *pn gets the count. */
const sim_condition_t *sim_conditions(int *pn);
const sim_condition_t *sim_condition_find(const char *name);
/* Pick a condition by the shares of the mixed profile. */
const sim_condition_t *sim_condition_pick(sim_rng_t *rng);

/* Everything one scanned sheet went through; written to truth/pages.csv. */
typedef struct {
    const char *condition;
    int dpi;
    sim_format_t format;
    int jpeg_quality;
    /* geometry: paper -> image. The paper is scaled by `scale` and rotated by
     * skew_deg (positive = clockwise as seen in the image) about its centre,
     * turned 180° when upside_down, and moved by (shift_x_mm, shift_y_mm). */
    double skew_deg, shift_x_mm, shift_y_mm, scale;
    int upside_down;
    /* light and dirt */
    double paper, ink;            /* grey levels of white paper and full black */
    double grad_x, grad_y;        /* relative brightness change across the page */
    double vignette;
    double backing;               /* grey level beyond the paper */
    double noise_sd;
    int n_dust;
    int streak_x;                 /* image column of a streak, -1 for none */
    int blur;
    int threshold;
    int white_cut;                /* grey: levels >= this become 255; 256 for none */
} sim_scan_t;

/* Packet-level choices (dpi, output kind, JPEG quality) under condition c.
 * dpi_force > 0 and fmt_force >= 0 override the condition's choice. */
void sim_scan_packet(const sim_condition_t *c, sim_rng_t *rng, int dpi_force, int fmt_force,
                     sim_scan_t *scan);

/* Sheet-level draws under condition c; keeps the packet-level fields of *scan. */
void sim_scan_sheet(const sim_condition_t *c, sim_rng_t *rng, sim_scan_t *scan);

/* Scan the filled page `page` (8-bit grey, 255 white, page_dpi) as *scan says.
 * The image covers the same paper size at scan->dpi; 1 bpp for a bitonal
 * format, 8 bpp otherwise. rng drives the noise and dust. Returns a new image
 * (sim_image_free) or NULL on out of memory. */
sim_image_t *sim_scan_page(const sim_image_t *page, const sim_scan_t *scan, sim_rng_t *rng);

/* Where paper point (x_mm, y_mm) lands in the scanned image, in continuous
 * pixel coordinates (the centre of pixel (i, j) is (i + 0.5, j + 0.5)).
 * page_w_mm, page_h_mm: the paper size. */
void sim_scan_map(const sim_scan_t *scan, double page_w_mm, double page_h_mm, double x_mm,
                  double y_mm, double *px, double *py);

/* ---- writers (output.c); each returns 0, or -1 with the reason in *err ---- */
typedef struct sim_tiff sim_tiff_t;

/* Open a new multi-page TIFF for writing (truncates). */
sim_tiff_t *sim_tiff_open(const char *path, omr_error_t *err);
/* Append one page: 1 bpp -> G4 (min-is-white), 8 bpp -> LZW grey. */
int sim_tiff_add(sim_tiff_t *t, const sim_image_t *img, omr_error_t *err);
/* Finish the file; frees t. Returns -1 when the file could not be completed. */
int sim_tiff_close(sim_tiff_t *t, omr_error_t *err);

/* 8-bit grey PNG with pHYs, no tIME. */
int sim_write_png(const char *path, const sim_image_t *img, omr_error_t *err);
/* 8-bit grey JPEG (JFIF with the density in dots per inch). */
int sim_write_jpeg(const char *path, const sim_image_t *img, int quality, omr_error_t *err);

/* ---- corpus extras (corpus.c); each returns 0, or -1 with *err ---- */

/* Broken and foreign input files for the scan pipeline's tests in out/bad/
 * (see README.txt): rendered from the survey's first form, first page. */
int sim_corpus_write_bad(const omr_survey_t *s, const char *out, uint64_t seed, omr_error_t *err);

/* out/README.txt: layout, truth columns, conditions and their counts in this
 * corpus (read back from out/truth/pages.csv), the bad files. */
int sim_corpus_write_readme(const omr_survey_t *s, const char *out, const char *command, int bad,
                            omr_error_t *err);

#endif
