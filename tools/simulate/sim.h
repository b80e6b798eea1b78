/* sim.h -- the respondent and scanner simulator: shared types and the seam
 * between its two halves.
 *
 *   fill side (answers.c, pen.c, handwriting.c): who the respondent is, what
 *     they answer (the ground truth), which sheets their packet holds, and the
 *     ink they put on each sheet.
 *   scan side (scanner.c, output.c, main.c): how a sheet-fed scanner turns the
 *     filled sheet into an image file, the packet order, the corpus layout.
 *
 * Every random choice comes from a sim_rng_t seeded from (corpus seed, a
 * stream number), never from time or global state, so the same seed gives the
 * same bytes whatever the number of worker processes.
 */
#ifndef OMR_SIM_H
#define OMR_SIM_H

#include <stdint.h>
#include <stdio.h>

#include <leptonica/allheaders.h>

#include "template.h"

/* ---- random numbers (rng.c): xoshiro256**, seeded by splitmix64 ---- */
typedef struct {
    uint64_t s[4];
} sim_rng_t;

/* Seed a generator for one independent stream, e.g. (corpus seed, respondent
 * number * 16 + purpose). Different streams give unrelated sequences. */
void sim_rng_seed(sim_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t sim_rng_u64(sim_rng_t *rng);
double sim_rng_uniform(sim_rng_t *rng);              /* [0, 1) */
double sim_rng_normal(sim_rng_t *rng);               /* mean 0, sd 1 */
int sim_rng_range(sim_rng_t *rng, int lo, int hi);   /* lo..hi inclusive */
int sim_rng_chance(sim_rng_t *rng, double p);        /* 1 with probability p */

/* ---- the packet a respondent returns ---- */
typedef struct {
    int page_index;    /* index into form->pages[] */
    int case_number;   /* 1, 2, … on case pages (photocopied case pages answered again); 0 elsewhere */
    int duplicate;     /* 1: the same sheet scanned a second time by mistake (same ink, new scan) */
} sim_sheet_t;

/* How respondents behave, as shares of the population; the fill side draws
 * each respondent's traits from it. */
typedef struct {
    double p_break_routing;  /* answers a question the routing skips */
    double p_break_exclusive;/* marks an exclusive option ("特に…ない") together with others */
    double p_blank_question; /* leaves a question blank */
    double p_extra_cases;    /* photocopies the case pages and answers 2–3 cases */
    double p_duplicate_page; /* a sheet is fed twice */
    double p_missing_page;   /* a sheet is missing from the packet */
    double p_doubtful;       /* per answered question: faint pencil, erasure, cross-out … */
    double p_stray;          /* per sheet: stray marks, scribbles, margin notes */
    double p_two_marks;      /* per single-choice question, grid1 row of bubbles or position
                                of a number in bubble columns: a second option marked too (a
                                rule break; the truth holds both) */
    double p_dot;            /* per blank bubble: a pen touch (a dot) in it; not an answer */
    int clean;               /* 1: well-behaved respondents, dark pen, no doubtful marks */
} sim_profile_t;

typedef struct sim_respondent sim_respondent_t; /* opaque, answers.c */

/* Draw a respondent of `form` and all their answers. The survey and form are
 * borrowed and must outlive the respondent. Returns NULL on out of memory.
 * Owned by the caller: sim_respondent_free(). */
sim_respondent_t *sim_respondent_new(const omr_survey_t *survey, const omr_form_t *form,
                                     const char *respondent_id, uint64_t seed,
                                     const sim_profile_t *profile);
void sim_respondent_free(sim_respondent_t *r);

/* The sheets of the respondent's packet, in the order they are scanned.
 * *psheets is owned by the caller (free()); returns the count. */
int sim_respondent_sheets(const sim_respondent_t *r, sim_sheet_t **psheets);

/* Put the respondent's ink for `sheet` on the printed page `page` (8-bit
 * grey, 255 = white paper, at `dpi`; modified in place). Appends one truth
 * row per region of the page to `cells` (see truth format below); a duplicate
 * sheet writes no rows (it is the same paper). Deterministic for the same
 * respondent and sheet. Returns 0, or -1 on failure. */
int sim_fill_sheet(const sim_respondent_t *r, const sim_sheet_t *sheet, PIX *page, double dpi,
                   FILE *cells);

/* Write the respondent's true answers as export rows (coding.md): one row to
 * `main_csv` (columns of omr_template_columns(form, 0)), one row per case to
 * `cases_csv` (columns of omr_template_columns(form, 1), keyed respondent,case). */
void sim_respondent_write_answers(const sim_respondent_t *r, FILE *main_csv, FILE *cases_csv);

/* ---- additions by the fill side (backward compatible) ---- */

/* The default shares of the mixed population (clean 0) or of the clean
 * subset (clean 1). See answers.c for the numbers and why. */
void sim_profile_defaults(sim_profile_t *profile, int clean);

/* The header lines of the two answer files: `respondent,<cols>` and
 * `respondent,case,<cols>` (omr_template_columns order). Either FILE may be NULL. */
void sim_write_answer_headers(const omr_form_t *form, FILE *main_csv, FILE *cases_csv);

/* The sheets left out of the packet (p_missing_page), as sim_respondent_sheets
 * gives them; *psheets owned by the caller (free()); returns the count. */
int sim_respondent_missing(const sim_respondent_t *r, sim_sheet_t **psheets);

/* Truth rows for the missing sheets: one row per region with state `missing`,
 * style `none`, value "" (same columns as sim_fill_sheet's rows). Call once
 * per respondent next to the sim_fill_sheet calls. The answers of a missing
 * sheet's questions are empty in all columns (the office never saw them). */
void sim_respondent_write_missing(const sim_respondent_t *r, FILE *cells);

/* Why the last sim_fill_sheet of this thread failed (digits not found, out of
 * memory), for the tool to print. */
const char *sim_fill_last_error(void);

/* Truth of every cell (cells.csv), one row per region per sheet:
 *   respondent,form,page,case,var,kind,state,style,value
 * state: marked | blank | doubtful   (doubtful = made doubtful on purpose:
 *        faint pencil, erased mark with residue, a cross-out …; a reader that
 *        flags it is right, one that accepts it either way is not judged)
 * style: how the ink was made: circle, circle_offset, circle_text, circle_both,
 *        circle_twice, tick, cross, fill, faint, erased, crossout, digit, text, none …;
 *        bubbles (pen.c draw_bubble_mark): fill, fill_short, fill_over,
 *        fill_offset, fill_light (marked), tick, cross (marked), dot (blank:
 *        a pen touch), faint, erased, crossout (doubtful; erased also blank).
 * value: the digit written (DIGIT regions), 1/0 for marks, "" for text.
 * var: the region's column; regions that share a column (the options of a
 *      single question, the cells of a grid1 row, the bubbles of one position
 *      of a number printed as bubble columns) add ':' and the region's code,
 *      so every row names one region: S2:3, Q8_a:2, roll_d3:7 (digit 7 in
 *      position 3).
 * Header line (written by the scan side): the nine names above.
 */

#endif
