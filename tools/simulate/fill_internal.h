/* fill_internal.h -- private seam between the three files of the simulator's
 * fill side: answers.c (the respondent, their true answers and packet),
 * pen.c (ink on the page: strokes, marks, sim_fill_sheet, the cell truth) and
 * handwriting.c (MNIST digits and scribbled text).
 *
 * Nothing here is seen by the scan side; its contract is sim.h.
 */
#ifndef OMR_SIM_FILL_INTERNAL_H
#define OMR_SIM_FILL_INTERNAL_H

#include <stdint.h>

#include "sim.h"

/* How a respondent's ink looks. Millimetres and grey levels (0 black). */
typedef struct {
    double width_mm; /* stroke width, 0.3-0.8 mm */
    double level;    /* grey the paper reaches under full ink: 0 black pen .. 220 a trace */
    double opacity;  /* 0..1: how much of the way to `level` one pass goes */
    int grain;       /* pencil: coverage broken by paper grain */
} sim_ink_t;

/* How one cell was made doubtful on purpose (decided with the answers, so the
 * answers and the ink agree). */
enum {
    SIM_DOUBT_NONE = 0,
    SIM_DOUBT_FAINT,        /* intended mark in faint pencil: counts in the answer */
    SIM_DOUBT_ERASED,       /* a mark erased, residue visible: not in the answer */
    SIM_DOUBT_ERASED_CLEAN, /* erased so well that nothing readable is left: state blank */
    SIM_DOUBT_CROSSOUT      /* a mark struck through: not in the answer */
};

/* How a circle target (an option number) gets marked. */
enum {
    SIM_CS_CIRCLE,      /* a closed loop around the number */
    SIM_CS_OFFSET,      /* a loop off-centre, partly over the number */
    SIM_CS_OPEN,        /* a loop that does not close */
    SIM_CS_TWICE,       /* traced twice */
    SIM_CS_CROSSING,    /* a small loop crossing the printed number */
    SIM_CS_TEXT,        /* around the option text instead of the number */
    SIM_CS_BOTH,        /* around the number and the text */
    SIM_CS_TICK,        /* a tick over the number */
    SIM_CS_TICK_BESIDE, /* a tick beside (left of) the number */
    SIM_CS_CROSS,       /* a cross over the number */
    SIM_CS_CROSS_BESIDE,/* a cross beside the number */
    SIM_CS_FILL,        /* the number blacked out */
    SIM_CS_COUNT
};

/* How a checkbox gets marked. */
enum {
    SIM_KS_TICK,        /* a tick inside the box */
    SIM_KS_TICK_OVER,   /* a tick whose long stroke runs out of the box */
    SIM_KS_CROSS,       /* a cross */
    SIM_KS_FILL,        /* the box filled in */
    SIM_KS_COUNT
};

/* How a bubble (a round CHECK region: an oval with its code printed inside,
 * on mark sheets) gets marked. The convention is to fill it in; a minority
 * tick or cross it as they would a box. How far a fill reaches (short of the
 * outline, over it, off-centre, light pencil) is drawn per bubble in pen.c
 * and named in the truth's style. */
enum {
    SIM_BS_FILL,        /* filled in */
    SIM_BS_TICK,        /* a tick through the bubble */
    SIM_BS_CROSS,       /* a cross through the bubble */
    SIM_BS_COUNT
};

/* What a question holds for one respondent and one case. */
enum {
    SIM_Q_ANSWERED = 0, /* answered (routing applies or no routing) */
    SIM_Q_BROKEN,       /* answered although the routing skips it */
    SIM_Q_BLANK,        /* left blank: empty columns, no ink */
    SIM_Q_SKIPPED,      /* skipped by the routing: -1 columns, no ink */
    SIM_Q_MISSING       /* its sheet is missing from the packet: empty columns */
};

/* The truth of one region for one case. */
typedef struct {
    int16_t value; /* CIRCLE/CHECK: 1 in the answer, 0 not; DIGIT: 0-9, -1 none;
                      TEXT: number of scribbled characters, 0 none */
    uint8_t doubt; /* SIM_DOUBT_* (CIRCLE/CHECK: any; DIGIT: NONE or FAINT) */
} sim_cell_t;

struct sim_respondent {
    const omr_survey_t *survey; /* borrowed */
    const omr_form_t *form;     /* borrowed */
    char id[32];
    uint64_t seed;              /* corpus seed */
    uint64_t key;               /* hash of id: the respondent's stream base */
    sim_profile_t profile;
    sim_ink_t ink;              /* the respondent's usual pen */
    double care;                /* 0 sloppy .. 1 neat: spread of mark geometry */
    double w_circle_style[SIM_CS_COUNT]; /* preference weights over SIM_CS_* */
    double w_check_style[SIM_KS_COUNT];  /* preference weights over SIM_KS_* */
    double w_bubble_style[SIM_BS_COUNT]; /* preference weights over SIM_BS_* */
    int n_cases;                /* 1..3 */
    int n_slots;                /* 1 + n_cases: slot 0 = respondent part, slot c = case c */
    int *page_base;             /* per page: offset of its regions in a slot's cells */
    int n_cells;                /* regions over all pages */
    sim_cell_t *cells;          /* [n_slots * n_cells] */
    uint8_t *qstate;            /* [n_slots * n_questions], SIM_Q_* */
    uint8_t *missing;           /* [n_slots * n_pages]: that sheet is not in the packet */
    sim_sheet_t *sheets;        /* the packet in scan order */
    int n_sheets;
};

/* Slot of a question or page for a case number (0 on respondent pages). */
static inline int sim_slot(int is_case, int case_number) { return is_case ? case_number : 0; }

/* Cell of region ri of page pi in slot. */
static inline const sim_cell_t *sim_cell(const struct sim_respondent *r, int slot, int pi, int ri)
{
    return &r->cells[(size_t)slot * (size_t)r->n_cells + (size_t)(r->page_base[pi] + ri)];
}

/* Seed rng for one purpose of one (page, case, item) of this respondent.
 * page -1 for respondent-wide draws. Distinct tuples give distinct streams. */
void sim_fill_rng(const struct sim_respondent *r, sim_rng_t *rng, int page, int case_number,
                  int item, int purpose);

enum { /* purposes of the streams */
    SIM_P_TRAITS = 1,
    SIM_P_ANSWERS,
    SIM_P_PACKET,
    SIM_P_CELL,   /* the ink of one region */
    SIM_P_STRAY,  /* stray marks of a sheet */
    SIM_P_DIGIT,  /* which MNIST sample */
    SIM_P_ROUTE,  /* whether a routed-away question is answered anyway */
    SIM_P_DOT,    /* a pen touch in a blank bubble */
    SIM_P_TWO_MARKS /* a second option marked in a single-choice question (circled forms) */
};

/* Is region g a bubble (a round CHECK region, filled in to answer)? */
static inline int sim_is_bubble(const omr_region_t *g) { return g->kind == OMR_REGION_CHECK && g->round; }

/* ---- raster drawing (pen.c) ---- */

/* A rectangle in pixels, [x0, x1) x [y0, y1). */
typedef struct {
    int x0, y0, x1, y1;
} sim_irect_t;

/* The page being inked. Strokes never touch pixels inside `forbid` rects, so
 * ink meant for one region cannot land in another (see pen.c). */
typedef struct {
    PIX *pix;
    l_uint32 *data;
    int wpl, w, h;
    double px_per_mm;
    uint64_t grain_seed;
    float *cov;        /* scratch coverage buffer of one stroke */
    size_t cov_size;
    sim_irect_t *forbid; /* borrowed */
    int n_forbid;
    unsigned n_strokes;  /* counts broken strokes, for their gaps */
} sim_canvas_t;

/* The pen of one stroke, in pixels. */
typedef struct {
    double width;   /* px */
    double level;   /* 0..255 */
    double opacity; /* 0..1 */
    int grain;
    double gaps;    /* 0, or the share of an erased stroke rubbed away */
} sim_pen_t;

/* A pen in pixels from an ink in mm, with the width scaled by `scale`. */
sim_pen_t sim_pen_from_ink(const sim_canvas_t *c, const sim_ink_t *ink, double scale);

/* Draw a polyline of n points (x, y pairs in mm, page coordinates).
 * Coverage inside one stroke is the maximum, not the sum, so a stroke crossing
 * itself is not darker; two strokes over each other are. */
void sim_pen_stroke_mm(sim_canvas_t *c, const sim_pen_t *pen, const double *xy, int n);

/* Composite a grey-coverage image (0..255 = ink coverage, w x h, row-major)
 * scaled bilinearly into the rect (mm) with the pen's level and opacity. Used
 * for MNIST digits. */
void sim_pen_image_mm(sim_canvas_t *c, const sim_pen_t *pen, const uint8_t *img, int iw, int ih,
                      double x, double y, double w, double h);

/* ---- handwriting (handwriting.c) ---- */

/* Load the MNIST training digits once per process (thread-safe). Returns 0,
 * or -1 with the reason in sim_fill_last_error(). Directory: $OMR_DIGITS_DIR,
 * else ../shared/data/digits (relative to the repository root). */
int sim_digits_load(void);

/* The 28x28 image (0 paper .. 255 ink) of a random training sample of digit d
 * (0-9), chosen by rng. NULL when not loaded. Borrowed, valid for the process. */
const uint8_t *sim_digits_pick(int d, sim_rng_t *rng);

/* Write one digit d into box (mm) the way a respondent does: 60-80 % of the box
 * height, offset, sometimes touching the frame. *ptouch gets 1 when placed
 * against the frame. Returns 0, -1 when the digits are not loaded. */
int sim_hand_digit(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, int d, omr_rect_t box,
                   int neat, int *ptouch);

/* Scribble n_chars pseudo-handwritten characters (Japanese-like clusters of
 * short strokes, grouped in words, wrapped in lines) into box (mm). */
void sim_hand_scribble(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, omr_rect_t box,
                       int n_chars);

/* How many characters fit in a text field of this box (at the size
 * sim_hand_scribble writes). */
int sim_hand_capacity(omr_rect_t box);

/* Set the message sim_fill_last_error() returns. */
void sim_fill_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
