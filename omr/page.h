/* page.h -- what the pipeline knows about one scanned page, passed from the
 * image stages (load, identify, register, sample, classify) to the data
 * stages (store, code, review, export).
 *
 * One omr_page_result_t per scanned image page. The image stages fill it; the
 * store writes it in one transaction with its file; the code stage reads the
 * stored results of a respondent back and turns region states into responses
 * and review items. Nothing here points at pixels: a page result can be
 * stored, reloaded and re-coded without the image.
 */
#ifndef OMR_PAGE_H
#define OMR_PAGE_H

#include "template.h"

/* What became of a page, decided by identify and register. */
typedef enum {
    OMR_PAGE_OK,              /* identified, registered, sampled */
    OMR_PAGE_BLANK,           /* a separator sheet or an empty duplex back: counted, skipped */
    OMR_PAGE_UNREADABLE,      /* the image could not be decoded (reason says why) */
    OMR_PAGE_NO_BARCODE,      /* no barcode found in any orientation: page-level review item */
    OMR_PAGE_UNKNOWN_SURVEY,  /* a barcode of another survey, or garbage: review item */
    OMR_PAGE_UNKNOWN_PAGE,    /* our survey, but a form or page number the templates lack */
    OMR_PAGE_REGISTER_FAILED  /* corner marks not found or the fit is poor: review item */
} omr_page_status_t;

/* A mark is read as one of three states. Doubtful is a normal result: it goes
 * to review and is never exported as if it were certain (coding.md). */
typedef enum { OMR_MARK_BLANK = 0, OMR_MARK_MARKED = 1, OMR_MARK_DOUBTFUL = 2 } omr_mark_state_t;

/* Why a mark is doubtful; bits, several may hold. */
enum {
    OMR_DOUBT_FAINT = 1 << 0,      /* light ink: pencil, a pen running dry */
    OMR_DOUBT_ERASURE = 1 << 1,    /* a residue where a mark was erased */
    OMR_DOUBT_CROSSOUT = 1 << 2,   /* a mark struck through */
    OMR_DOUBT_BORDERLINE = 1 << 3, /* ink amount between the blank and marked thresholds */
    OMR_DOUBT_LABEL_ONLY = 1 << 4, /* circle: ink around the option text but not the number */
    OMR_DOUBT_NOT_DIGIT = 1 << 5,  /* digit box: something that is not a single digit */
    OMR_DOUBT_LIGHT_SCAN = 1 << 6, /* the scan lost light strokes: a blank reading cannot be trusted */
    OMR_DOUBT_STANDS_OUT = 1 << 7  /* bubble: blank-looking, but the one trace in an unanswered question */
};

/* The raw measures of one region, kept in the store so thresholds can be
 * re-derived (calibration) and an operator can see why a mark was read so. */
typedef struct {
    float ink;        /* share of the target area darkened beyond the blank form, 0..1 */
    float ink_label;  /* CIRCLE: the same over the option text's area */
    float darkness;   /* mean darkness of the added ink, 0 (paper) .. 1 (black); 1 on bitonal scans */
    float score;      /* the classifier's mark score, 0 (surely blank) .. 1 (surely marked) */
    /* CIRCLE, CHECK with a little ink (sample.h, OMR_SAMPLE_TRACE_INK_MAX):
     * the added ink's pieces outside the print, mm; 0 when not measured.
     * Not stored: only the classifier reads them. */
    float trace_piece_mm; /* extent of the longest piece */
    float trace_span_mm;  /* extent of all pieces together (at most two) */
    /* CIRCLE, CHECK on grey scans: the share of open points with light ink
     * (darker than the target's paper in strokes, not dark enough to count
     * in ink; sample.c light_tally), 0 elsewhere. Not stored. */
    float light_share;
} omr_measure_t;

typedef struct {
    omr_measure_t m;
    omr_mark_state_t state;
    unsigned doubt;   /* OMR_DOUBT_* bits when state is DOUBTFUL (also informative otherwise) */
    /* DIGIT regions: the handwriting reader's proposal. */
    int has_ink;      /* DIGIT, TEXT: something is written */
    int digit;        /* proposed digit, -1 when none */
    float digit_conf; /* its confidence, 0..1 */
} omr_region_result_t;

/* One scanned page. Strings are inline so a result owns no heap memory but
 * `regions` (malloc'd, n_regions entries, index = the template page's region
 * index; freed by omr_page_result_clear()). */
typedef struct {
    /* load */
    char file[1024];          /* the input file */
    int index_in_file;        /* 0-based page index inside the file */
    char file_hash[65];       /* hex SHA-256 of the file's bytes */
    int width, height;        /* image size, px */
    double dpi;               /* from the file, or inferred from the corner marks */
    /* identify */
    omr_page_status_t status;
    char reason[512];         /* for any status but OK: what went wrong, in words for the operator */
    char payload[64];         /* the barcode text, "" when none */
    char form[16];            /* identified form, "" when unknown */
    int page_number;          /* 1-based page of the form, 0 when unknown */
    char respondent[32];
    int orientation;          /* 0 or 180: how the page was fed */
    int barcode_box[4];       /* where the barcode was read, image px (x, y, w, h; w 0 when
                                 unknown): register's landmark when marks are missing. Not stored. */
    /* register: image (x, y) = (a*X + b*Y + c, d*X + e*Y + f) for template (X, Y) in mm */
    double xform[6];
    double residual_mm;       /* RMS distance of the corner marks from the fit, mm */
    /* sample + classify */
    int n_regions;
    omr_region_result_t *regions;
} omr_page_result_t;

/* Free what a result owns and zero it. NULL is allowed. */
void omr_page_result_clear(omr_page_result_t *r);

/* Why an item is in the review queue. Stable numbers: they are stored. */
typedef enum {
    OMR_REVIEW_DOUBTFUL_MARK = 1,  /* faint, borderline, erased, crossed out */
    OMR_REVIEW_MULTIPLE_MARKS = 2, /* two marks where one is allowed */
    OMR_REVIEW_EXCLUSIVE = 3,      /* an exclusive option with others */
    OMR_REVIEW_ROUTING = 4,        /* answered although the routing skips the question */
    OMR_REVIEW_OTHER_TEXT = 5,     /* "その他" marked without text, or text without the mark */
    OMR_REVIEW_HANDWRITTEN = 6,    /* a written digit box (top-3, code grid) */
    OMR_REVIEW_TEXT = 7,           /* a text field to transcribe */
    OMR_REVIEW_NO_BARCODE = 8,     /* page-level: no barcode */
    OMR_REVIEW_UNKNOWN_PAGE = 9,   /* page-level: another survey, unknown form or page */
    OMR_REVIEW_REGISTER = 10,      /* page-level: registration failed */
    OMR_REVIEW_DUPLICATE = 11,     /* page-level: the same page scanned twice */
    OMR_REVIEW_UNREADABLE = 12,    /* page-level: the image could not be decoded */
    OMR_REVIEW_INVALID_VALUE = 13, /* a written value outside the question's options, top-3 repeats */
    OMR_REVIEW_MISSING_PAGE = 14   /* respondent-level: a page of the form is not in the respondent's packet */
} omr_review_reason_t;

/* The highest reason number: loops over reasons run 1..OMR_REVIEW_REASON_LAST. */
#define OMR_REVIEW_REASON_LAST OMR_REVIEW_MISSING_PAGE

/* "faint or doubtful mark", "two marks where one is allowed", … */
const char *omr_review_reason_text(omr_review_reason_t reason);
/* "doubtful_mark", "multiple_marks", … (stable, for files and URLs) */
const char *omr_review_reason_name(omr_review_reason_t reason);

#endif
