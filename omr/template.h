/* template.h -- the questionnaire as data: surveys, forms, pages, questions, regions.
 *
 * A survey folder (templates/<survey>/survey.omr plus one .page file per
 * printed page, format in templates/FORMAT.md) is loaded into one
 * omr_survey_t. Every later stage reads it: the printer draws a page's items,
 * the scanner samples a page's regions, the coder applies the questions'
 * kinds, routing and exclusive options, the exporter names the columns.
 *
 * Ownership: omr_template_load() returns a survey owned by the caller, freed
 * with omr_template_free(). Every pointer reachable from it (forms, pages,
 * questions, strings) is borrowed and valid until that free. The structures
 * are read-only for everyone but template.c.
 */
#ifndef OMR_TEMPLATE_H
#define OMR_TEMPLATE_H

#include <stdint.h>

#include "omr.h"

/* A rectangle on the page in millimetres, origin top-left, y down. */
typedef struct {
    double x, y, w, h;
} omr_rect_t;

typedef enum {
    OMR_KIND_SINGLE,   /* ○は1つ: one option circled */
    OMR_KIND_MULTI,    /* ○はいくつでも: any options circled */
    OMR_KIND_TOP3,     /* up to three option numbers written in boxes */
    OMR_KIND_GRID1,    /* ✓は各行につき1つ */
    OMR_KIND_GRIDN,    /* ✓は各行につきいくつでも */
    OMR_KIND_CODEGRID, /* a code written in each cell */
    OMR_KIND_TICKLIST, /* ✓はいくつでも: a checkbox per option */
    OMR_KIND_TEXT,     /* free handwritten text */
    OMR_KIND_NUMBER,   /* a number written digit by digit, one digit per box */
    OMR_KIND_COUNT
} omr_kind_t;

/* The most boxes a number question may have (its digits). */
#define OMR_NUMBER_MAX_BOXES 12

/* What a region holds, which decides how it is sampled and read. */
typedef enum {
    OMR_REGION_CIRCLE, /* a printed option number that the respondent circles */
    OMR_REGION_CHECK,  /* a checkbox that the respondent ticks */
    OMR_REGION_DIGIT,  /* a box for one handwritten digit (top-3, code grid, number) */
    OMR_REGION_TEXT    /* a handwritten text field */
} omr_region_kind_t;

/* One place on a page that the scanner samples, and the column it feeds. */
typedef struct {
    omr_region_kind_t kind;
    int question;     /* index into the form's questions[] */
    char var[64];     /* export column: "Q2_3", "Q8_a", "Q4_r1", "Q25_a_1", "Q2_6_text"; the boxes
                         of a number question are "B4_d1" … "B4_dN", its column "B4" */
    int code;         /* CIRCLE, ticklist CHECK: option code; grid CHECK/DIGIT: column code;
                         top-3 DIGIT: box number 1..3; number DIGIT: box number 1..N, left
                         to right; number bubble (CHECK): the digit 0..9; TEXT: the option
                         code it belongs to, or 0 */
    char row[8];      /* grid row id ("a"); number bubble: its box "1".."12"; "" otherwise */
    omr_rect_t box;   /* the target: ring around the number, checkbox, digit box, text field */
    omr_rect_t label; /* CIRCLE: the option text, which respondents sometimes circle
                         instead; all zero when none */
    int line;         /* line in the page file, for messages */
    int round;        /* CHECK: a bubble (an oval with its code printed inside, filled in
                         to answer), not a square box to tick: sampled inside its outline,
                         read against the page's blank bubbles with the bubble thresholds */
    const char *print; /* round: the code printed inside (the survey owns it) */
} omr_region_t;

typedef struct {
    int code;
    const char *text;  /* option text as printed, UTF-8 */
    int exclusive;     /* may not be marked together with any other option */
    int other;         /* "その他（ ）": has a text field, column BASE_CODE_text */
    int has_num;       /* num_x/num_y are set: the code is printed there */
    double num_x, num_y;
    omr_rect_t label;  /* where the text is printed; zero when not printed separately */
    omr_rect_t check;  /* ticklist: the checkbox; zero otherwise */
    int bubble;        /* check is a bubble (option bubble=): an oval to fill in */
    const char *print; /* bubble: what is printed inside it (print=; default the code) */
    double ring;       /* half-side of the circle target around num, mm */
    double size;       /* font size, pt */
    int line;
} omr_option_t;

typedef struct {
    char id[8];        /* "a", "b", … */
    const char *text;
    omr_rect_t label;
    int line;
} omr_row_t;

typedef struct {
    int code;          /* 1, 2, … */
    const char *text;
    omr_rect_t label;
    int exclusive;     /* gridn: ticking it excludes the row's other columns ("当該被害はない") */
    int line;
} omr_col_t;

typedef struct {
    char id[24];       /* "Q2", "S1s1", "company" */
    char base[24];     /* base of the column names: var= or id */
    char label[24];    /* as printed: "問2", "S1-1" */
    omr_kind_t kind;
    const char *text;  /* the prompt as printed */
    omr_rect_t prompt; /* where the prompt is printed */
    double prompt_size;
    int page;          /* index into the form's pages[] */
    int is_case;       /* on a case page: goes to <form>_cases.csv */
    omr_option_t *options;
    int n_options;
    omr_row_t *rows;
    int n_rows;
    omr_col_t *cols;
    int n_cols;
    /* Routing: applies only when question route_question holds a code in
     * route_codes (bit c set for code c, 1..63). route_question < 0: always. */
    int route_question;
    uint64_t route_codes;
    int n_boxes;       /* number: its digit positions (write-in boxes or columns of bubbles) */
    int full;          /* number: every box holds a digit when it is answered (an ID, a code of
                          fixed length): a box left empty means a digit lost, not a shorter number */
    int identifier;    /* number: its digits name something (a postal code, a member number) rather
                          than count: exported as text, so SPSS and R keep its leading zeros. Not in
                          the fingerprint: it changes how the data are typed, not how pages are read */
    int first_region;  /* its regions: page->regions[first_region .. +n_regions) */
    int n_regions;
    int line;          /* line of the `question` statement */
} omr_question_t;

/* What the printer draws. Derived from the same statements as the regions, so
 * print and scan cannot disagree. */
typedef enum {
    OMR_ITEM_TEXT,    /* text wrapped into box (prompt, option text, heading, note) */
    OMR_ITEM_NUMBER,  /* an option number centred in box (the circle target) */
    OMR_ITEM_FRAME,   /* a rectangle outline: checkbox, digit box, field, table cell */
    OMR_ITEM_MARK,    /* a solid corner registration mark */
    OMR_ITEM_BARCODE, /* the page ID barcode with its text */
    OMR_ITEM_RULE     /* a line from (box.x, box.y) to (box.x + box.w, box.y + box.h) */
} omr_item_kind_t;

enum {
    OMR_ITEM_BOLD = 1 << 0,
    OMR_ITEM_CENTER = 1 << 1,
    OMR_ITEM_RIGHT = 1 << 2,
    OMR_ITEM_FRAMED = 1 << 3,   /* TEXT: also draw the box outline (table headings) */
    OMR_ITEM_SMALL = 1 << 4,    /* TEXT: a note, printed smaller and lighter */
    OMR_ITEM_CHECKBOX = 1 << 5, /* FRAME: a checkbox */
    OMR_ITEM_DIGITBOX = 1 << 6, /* FRAME: a box for one written digit */
    OMR_ITEM_FIELD = 1 << 7,    /* FRAME: a handwritten text field */
    OMR_ITEM_CELL = 1 << 8,     /* FRAME: part of a grid table */
    OMR_ITEM_ROUND = 1 << 9     /* FRAME: an oval inscribed in box (a bubble), not a rectangle */
};

typedef struct {
    omr_item_kind_t kind;
    omr_rect_t box;
    double size;      /* TEXT, NUMBER: font size in pt; RULE: line width in mm */
    unsigned flags;   /* OMR_ITEM_* */
    const char *text; /* TEXT, NUMBER; NULL otherwise */
    int line;
} omr_item_t;

/* The corner registration marks of a page. omr prints solid squares; a form
 * printed by another tool may carry L-shaped corners (queXF, many exam sheets)
 * or bullseyes (OMRChecker's sheets and others). */
typedef enum {
    OMR_MARK_SQUARE, /* a solid square: mark_x/y its centre, mark_size its side */
    OMR_MARK_CORNER, /* an L along the page's corner: mark_x/y the inside corner of the L
                        (where the inner edges of its two arms meet), mark_size the length
                        of each arm from the L's outer corner, mark_line the arms' width */
    OMR_MARK_RING    /* a bullseye: a solid disc inside two concentric rings
                        (OMR_RING_BANDS); mark_x/y its centre, mark_size its outer diameter */
} omr_mark_shape_t;

/* A bullseye's bands as fractions of its outer radius, from the centre out:
 * black to [0], white to [1], black to [2], white to [3], black to [4] = 1.
 * Measured on OMRChecker's omr_marker.jpg (edges at mid grey along 72 radii). */
#define OMR_RING_BANDS {0.191, 0.380, 0.586, 0.794, 1.0}

/* The symbology of the page barcode. */
typedef enum {
    OMR_BARCODE_CODE128, /* omr's own: the payload of omr_template_payload */
    OMR_BARCODE_I25,     /* interleaved 2 of 5 (queXF and other form printers) */
    OMR_BARCODE_CODE39
} omr_barcode_kind_t;

typedef struct {
    int number;          /* 1-based page number within the form, as in the barcode */
    int is_case;         /* a case-section page */
    double width, height;/* mm */
    double mark_x[4], mark_y[4]; /* corner mark centres: top-left, top-right, bottom-left, bottom-right */
    double mark_size;    /* side of a mark (square), length of an arm (corner), outer
                            diameter (ring), mm */
    omr_mark_shape_t mark_shape;
    double mark_line;    /* corner marks: width of the arms, mm */
    omr_rect_t barcode;
    omr_barcode_kind_t barcode_kind;
    /* A form printed by another tool carries a fixed page ID, not omr's payload:
     * the text its barcode holds (barcode value=), NULL for omr's own pages. Such
     * a page names no respondent: the scanned file does (omr_template_file_respondent). */
    const char *barcode_value;
    omr_item_t *items;
    int n_items;
    omr_region_t *regions;
    int n_regions;
    const char *file;    /* path of the page file */
    /* page reference=: an image of the blank page, upright, edge to edge,
     * whose print registers the scans (register_print.c): a page printed
     * without corner marks, or one whose marks may be lost (then the print
     * registers the scans the marks cannot); its path, or NULL. */
    const char *reference;
} omr_page_t;

/* Corner marks: 4, or none on a page registered by its print (reference). */
static inline int omr_page_has_marks(const omr_page_t *p) { return p->mark_size > 0; }

typedef struct {
    char id[16];         /* "A" */
    const char *title;
    omr_page_t *pages;   /* in printed order: pages[i].number == i + 1 */
    int n_pages;
    omr_question_t *questions; /* in printed order over all pages */
    int n_questions;
} omr_form_t;

typedef struct {
    const char *id;      /* "ipa-itsc-2018" */
    const char *code;    /* "ITSC18", printed in the barcode */
    const char *title;
    const char *dir;     /* folder the survey was loaded from */
    /* Office policy for written digit boxes (survey icr_policy=): 0 = every
     * written box goes to review with the proposal pre-filled (the default);
     * > 0 = a proposal at or above this confidence is accepted without review. */
    double icr_accept_conf;
    /* What a solidly filled checkbox means (survey filled=): 0 = a mark (the
     * default: some respondents fill rather than tick); 1 = a cancelled choice
     * (queXF's convention, printed on its forms: to change an answer, fill
     * the wrong box in). */
    int filled_cancels;
    /* Its pages carry fixed page IDs (barcode value=): a page is identified by
     * that value and its respondent is the scanned file. 0 for omr's own forms. */
    int ids_by_value;
    /* Its pages carry no barcode at all (survey identify=order): one form, and
     * each scanned file is one respondent whose pages come in printed order
     * (the first sheet that is not blank is page 1, and so on; after the last
     * page the next sheet starts another copy). 0: pages are identified by
     * their barcode. */
    int ids_by_order;
    omr_form_t *forms;
    int n_forms;
    void *priv;          /* template.c's allocations */
} omr_survey_t;

/* Load a survey from its folder or its survey.omr, with every page file it
 * lists, and validate it (templates/FORMAT.md, "What is refused").
 * On success *psurvey is owned by the caller (omr_template_free()).
 * On failure returns OMR_EINPUT (or OMR_EIO) with "file:line: reason" in *err
 * and leaves *psurvey NULL. */
omr_status_t omr_template_load(const char *path, omr_survey_t **psurvey, omr_error_t *err);

/* Free a survey; NULL is allowed. */
void omr_template_free(omr_survey_t *survey);

/* Look-ups; NULL when absent. Returned pointers are borrowed from the survey. */
const omr_form_t *omr_template_form(const omr_survey_t *survey, const char *form_id);
const omr_question_t *omr_template_question(const omr_form_t *form, const char *id);
/* Index of the question with that id in form->questions, or -1. */
int omr_template_question_index(const omr_form_t *form, const char *id);

/* "single", "multi", …; and back (-1 for an unknown name). */
const char *omr_template_kind_name(omr_kind_t kind);
int omr_template_kind_from_name(const char *name);

/* The barcode payload of a page: "<code>-<form><page, 2 digits>-<respondent>",
 * e.g. "ITSC18-A03-000123". Writes at most n bytes to buf (NUL-terminated). */
void omr_template_payload(char *buf, size_t n, const char *survey_code, const char *form_id,
                          int page_number, const char *respondent);

/* Split a payload back. Returns OMR_OK, or OMR_EINPUT when the text is not a
 * payload of this form (wrong shape, empty fields, page out of 1..99). The out
 * buffers must hold 16 (code), 16 (form), and 32 (respondent) bytes. */
omr_status_t omr_template_parse_payload(const char *payload, char *code, char *form_id,
                                        int *ppage, char *respondent);

/* The page whose barcode holds exactly this text (barcode value=), or 0.
 * *pform and *ppage (1-based) are set when found. */
int omr_template_page_by_value(const omr_survey_t *survey, const char *value, const omr_form_t **pform,
                               int *ppage);

/* What stored readings of this survey depend on, as 64 hex digits (SHA-256,
 * NUL-terminated in out[65]): the survey id; every form, page and region
 * (kind, column, code, row, geometry to 0.01 mm) and every question (id,
 * kind, options, rows, columns, exclusive and other flags, routing); the
 * barcodes' page IDs. Not the printed texts: a typo fixed in a prompt keeps
 * the fingerprint. A store remembers the fingerprint it was filled with
 * (store.h omr_store_bind_survey). Returns 0, or -1 when out of memory. */
int omr_template_fingerprint(const omr_survey_t *survey, char out[65]);

/* The bounding rectangle (mm) of corner mark (x, y) of page p: the square,
 * the square around a bullseye, or the L's extent towards the inside of the
 * page (which corner the mark is in is decided by which half of the page it
 * lies in). */
omr_rect_t omr_template_mark_rect(const omr_page_t *p, double x, double y);

/* One export column of a form (coding.md "Variable names"). */
typedef struct {
    char name[64];      /* "Q2_3", "Q8_a", "Q4_r1", "Q2_6_text", "company_text", "B4" */
    int question;       /* index into form->questions[] */
    int region;         /* index into the question page's regions[] that feeds it, or -1
                           (single/grid1/number columns are fed by several regions) */
    int is_text;        /* a transcription column (…_text) */
} omr_column_t;

/* The columns of a form's respondent part (case_part 0: questions not on case
 * pages) or case part (case_part 1), in printed order, without the key columns
 * (`respondent`, and `case` for the case part). *pcols is owned by the caller
 * (free()). Returns the count, or -1 on out of memory. */
int omr_template_columns(const omr_form_t *form, int case_part, omr_column_t **pcols);

/* ---- The tokenizer, shared with tools that read the same syntax (tools/layout) ---- */

#define OMR_TPL_MAX_WORDS 32

/* One statement: words[0] is the keyword; key=value attributes are split into
 * key/value, other words have key NULL. Strings point into the caller's
 * buffer, which the tokenizer modifies in place (unquoting). */
typedef struct {
    int n;
    const char *key[OMR_TPL_MAX_WORDS];   /* NULL for a bare word */
    const char *value[OMR_TPL_MAX_WORDS]; /* the word, or the value of key=value */
    unsigned char quoted[OMR_TPL_MAX_WORDS]; /* 1: the word was a "quoted string" (never a flag) */
} omr_tpl_line_t;

/* Split one line (modified in place) into words. Returns OMR_OK (n == 0 for a
 * blank or comment line) or OMR_EINPUT with the reason in *err (no file:line;
 * the caller adds them). */
omr_status_t omr_template_tokenize(char *line, omr_tpl_line_t *out, omr_error_t *err);

/* Attribute value by key, or NULL. */
const char *omr_tpl_attr(const omr_tpl_line_t *line, const char *key);

#endif
