/* code.c -- stage "code": region states of one respondent -> coded values and
 * review items (code.h; rules in ../shared/spec/coding.md and issue 3 part 5).
 *
 * Steps: check the page results; sort the copies of each page into the one
 * coded copy (respondent part), the case copies (case k = k-th copy), and
 * duplicates; code every question of every case by its kind; then apply the
 * routing, sources first.
 *
 * Decisions taken where coding.md is silent (documented here and in code.h):
 * - Duplicates. A copy of a case page may be a duplicate when its readings
 *   equal an earlier coded copy's (code.h, omr_code_options_t): it goes to
 *   review (never a silent case of its own), proposed as a duplicate when at
 *   least two marks agree, as a case when fewer do. A copy
 *   with nothing on it (all regions blank, no ink) is never called a duplicate:
 *   two unanswered copies look the same although they are different sheets.
 *   Where the cases come one after the other (7 8 9 7 8 9), a case page
 *   twice in a row is proposed as a duplicate even when a faint mark reads
 *   otherwise the second time: as a case of its own it would shift every
 *   later case and leave its other pages missing. Where a copy lies decides
 *   the proposal over how many answers agree: the same page twice in a row
 *   (or one copy more than the other case pages) is proposed a duplicate; a
 *   copy right after its case's previous page (8 9 10) is proposed a case,
 *   answered like an earlier case or not.
 *   Any second copy of a respondent-part page is a duplicate; the first copy
 *   is coded, except that a copy scanned too light for pencil is superseded
 *   by a later copy that is not (the rescan the batch report asks for): the
 *   rescan is coded and the light copy raises no item. If its marks differ, each question where they differ also gets a
 *   question-level DUPLICATE item (var "") that blocks it.
 * - Cases beyond the first whose copies are all unanswered are dropped (a
 *   spare photocopy sent back blank is not a case).
 * - Cases. The case copies (read or not, duplicates left out) are taken in
 *   scan order. When their page numbers never go down (7 7 8 8 9 9: copies
 *   made and returned page by page, or one case 7 8 9), the k-th copy of a
 *   page is case k. Otherwise the packet holds the cases one after the other
 *   (7 8 9 7 8 9), and a case ends where the page number stops increasing:
 *   8 9 7 8 9 is case 1 = 8 9 (its 7 missing) and case 2 = 7 8 9; counting
 *   copies would code case 2's page 7 as case 1's.
 * - Unread pages (came with this respondent's barcode but status != OK, e.g.
 *   registration failed): their questions are blocked, waiting for the
 *   page-level item; no item of the coder's own. A respondent-part page read
 *   in another copy is coded from that copy. In a case, an unread copy counts
 *   as answered (it is never taken for a spare blank photocopy).
 * - Missing pages (no copy at all, or absent from one case): a MISSING_PAGE
 *   item per page and case, and the page's questions blocked, until the
 *   operator confirms the page missing (then: empty, never -1; the routing is
 *   not applied to them, nor to a question whose routing source is on a
 *   confirmed missing page) or the page is assigned. A question whose routing
 *   source is on a blocked page (unread or missing) is blocked too. When no
 *   case page came at all, every case page is missing for case 1 (items, but no
 *   case values: there is no case row to block). Pages without regions are
 *   never missing: nothing on them is coded.
 * - single / grid1 row: a DOUBTFUL region blocks the value; the value text is
 *   then the one MARKED code if there is exactly one, else "".
 * - multi / ticklist / gridn row: any DOUBTFUL region blocks every option
 *   column of the question (row): whether the others are 0 or empty depends on it.
 * - "その他": option marked, field without ink -> OTHER_TEXT on the _text column
 *   (the respondent may have written elsewhere); field with ink, option not
 *   marked -> OTHER_TEXT on the option column (single: the question column;
 *   multi: BASE_CODE, and every option column when nothing else is marked;
 *   top3: the whole question). A DOUBTFUL option: no OTHER_TEXT (the doubtful
 *   item covers it). In top3, "marked" = a box holds the code, proposals included.
 * - number: the digits of its boxes read left to right, e.g. "0043" stays
 *   "0043" (what was written; the codebook says the column is a number).
 *   Empty boxes before the first digit or after the last are allowed (right-
 *   or left-aligned). No box with ink: empty (or -1 by the routing). One
 *   HANDWRITTEN item for the whole number (var = its column), proposal the
 *   digits joined, whenever the policy does not accept every digit; also
 *   when a box between two digits is empty (proposal the digits read: "4 3"
 *   proposes "43", the operator sees the gap in the crop and the detail) or
 *   a box has ink and no digit read (no proposal).
 * - top3: INVALID_VALUE for a machine-accepted value that is not an option code,
 *   two boxes with the same known value, and a written box after an empty one.
 *   Values the operator typed are final: such conflicts between overridden
 *   boxes are not raised again.
 * - Routing with an uncertain source (any REVIEW column of the source, and no
 *   certain column already proving the route applies): the dependent question's
 *   values are blocked, with no item of its own; re-coding after the source is
 *   resolved decides (-1, or ROUTING if it was answered). A skipped question
 *   holding only doubtful marks stays blocked by their items. A respondent-part
 *   question routed from a case question is not checked. A text source routes
 *   nowhere (never holds a code).
 * - Overrides are applied as readings (multi cells) or values (everything
 *   else); a question-level item is settled when all its columns are overridden.
 */
#include "code.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROUTE_TODO, ROUTE_BUSY, ROUTE_DONE };

/* How a template page is known in one case: read, missing and confirmed so
 * by an operator (its questions certain-empty), or blocked (a copy came but
 * was not read, or it is missing and nobody decided yet). */
enum { PS_READ = 0, PS_CONFIRMED = 1, PS_BLOCKED = 2 };

/* What sort_copies made of each page given. */
enum { ROLE_SKIP, ROLE_CODED, ROLE_UNREAD };

typedef struct {
    const omr_form_t *form;
    omr_code_options_t opt;
    const omr_page_result_t *pages;
    int n_pages;
    const omr_override_t *ovr;
    int n_ovr;
    const unsigned char *ovr_is_page; /* per override: it is a page key */
    omr_column_t *cols[2];            /* respondent part, case part */
    int n_cols[2];
    int *q_first, *q_n;               /* per question: its columns in its part */
    int **reg_col;                    /* per template page, per region: column in the page's part, or -1 */
    int n_cases;
    int *use;                         /* [template page][case 0..n_cases]: page result index or -1 */
    unsigned char *answered, *unsure, *route_state; /* [question][case] */
    unsigned char *missing;           /* [question][case]: PS_* of the question's page in that case */
    unsigned char *pstate;            /* [template page][case 0..n_cases]: PS_* */
    int *role;                        /* per page given: ROLE_* (sort_copies) */
    int *dup_match;                   /* per page given: the coded copy it duplicates, or -1 */
    omr_region_result_t *blank;       /* zero readings, stand-in for a missing page */
    omr_coded_t *out;
    int cap_items, cap_missing;
    omr_status_t st;                  /* OMR_ENOMEM once an allocation failed */
    const char *respondent;           /* of the read pages (borrowed), NULL when none was read */
} ctx_t;

void omr_code_options_default(omr_code_options_t *opts)
{
    opts->dup_trace_max = 2;
    opts->dup_marks_sure = 2;
    opts->digit_accept_conf = 0;
}

int omr_code_number_ok(const omr_question_t *q, const char *value)
{
    size_t n = strlen(value);
    if (q->kind != OMR_KIND_NUMBER || n > (size_t)q->n_boxes)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (value[i] < '0' || value[i] > '9')
            return 0;
    return 1;
}

void omr_code_page_key(const omr_page_result_t *page, char *buf, size_t n)
{
    snprintf(buf, n, "page:%.16s:%d", page->file_hash, page->index_in_file);
}

void omr_code_missing_key(const char *form, int page_number, int case_number, char *buf, size_t n)
{
    snprintf(buf, n, "page:missing:%s:%d:%d", form, page_number, case_number);
}

void omr_coded_clear(omr_coded_t *c)
{
    if (!c)
        return;
    free(c->values);
    free(c->items);
    free(c->missing);
    free(c->page_case);
    memset(c, 0, sizeof *c);
}

/* ---- small helpers ---- */

static int qc(const ctx_t *c, int qi, int cs) { return qi * (c->n_cases + 1) + cs; }

static omr_value_t *val(ctx_t *c, int cs, int col)
{
    int i = cs == 0 ? col : c->n_cols[0] + (cs - 1) * c->n_cols[1] + col;
    return &c->out->values[i];
}

/* A strict positive decimal integer ("3"), or -1. */
static int parse_code(const char *s)
{
    if (!*s || strlen(s) > 4)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static int is_option(const omr_question_t *q, int code)
{
    for (int i = 0; i < q->n_options; i++)
        if (q->options[i].code == code)
            return 1;
    return 0;
}

static const omr_option_t *option_of(const omr_question_t *q, int code)
{
    for (int i = 0; i < q->n_options; i++)
        if (q->options[i].code == code)
            return &q->options[i];
    return NULL;
}

/* The last override of (var, case), or NULL. Page keys never match a column. */
static const char *find_ovr(const ctx_t *c, const char *var, int cs)
{
    for (int i = c->n_ovr - 1; i >= 0; i--)
        if (!c->ovr_is_page[i] && c->ovr[i].case_number == cs && !strcmp(c->ovr[i].var, var))
            return c->ovr[i].value;
    return NULL;
}

static const char *find_page_ovr(const ctx_t *c, const char *key)
{
    for (int i = c->n_ovr - 1; i >= 0; i--)
        if (c->ovr_is_page[i] && !strcmp(c->ovr[i].var, key))
            return c->ovr[i].value;
    return NULL;
}

static const char *col_name(const ctx_t *c, int qi, int col)
{
    return c->cols[c->form->questions[qi].is_case][col].name;
}

static void set_value(ctx_t *c, int cs, int col, const char *text, omr_value_status_t st)
{
    omr_value_t *v = val(c, cs, col);
    snprintf(v->value, sizeof v->value, "%s", text);
    v->status = st;
}

static void block(ctx_t *c, int cs, int col)
{
    if (col < 0)
        return;
    omr_value_t *v = val(c, cs, col);
    if (v->status != OMR_VALUE_RESOLVED)
        v->status = OMR_VALUE_REVIEW;
}

static void block_question(ctx_t *c, int qi, int cs)
{
    for (int j = 0; j < c->q_n[qi]; j++)
        block(c, cs, c->q_first[qi] + j);
}

static omr_review_item_t *push_item(ctx_t *c)
{
    omr_coded_t *o = c->out;
    if (o->n_items == c->cap_items) {
        int cap = c->cap_items ? 2 * c->cap_items : 32;
        omr_review_item_t *p = realloc(o->items, (size_t)cap * sizeof *p);
        if (!p) {
            c->st = OMR_ENOMEM;
            return NULL;
        }
        o->items = p;
        c->cap_items = cap;
    }
    omr_review_item_t *it = &o->items[o->n_items++];
    memset(it, 0, sizeof *it);
    return it;
}

/* Raise an item about question qi in case cs, unless the operator settled it:
 * it concerns the columns concern[0..n_concern) (all overridden = settled).
 * When raised, the columns block[0..n_block) become REVIEW (block NULL: the
 * concerned columns; n_block -1: the whole question). Returns 1 when raised. */
static int raise_item(ctx_t *c, omr_review_reason_t reason, int page, int qi, int cs, const char *var,
                      const int *concern, int n_concern, const int *blk, int n_block, const char *proposal,
                      const char *fmt, ...) __attribute__((format(printf, 12, 13)));
static int raise_item(ctx_t *c, omr_review_reason_t reason, int page, int qi, int cs, const char *var,
                      const int *concern, int n_concern, const int *blk, int n_block, const char *proposal,
                      const char *fmt, ...)
{
    int settled = n_concern > 0;
    for (int i = 0; i < n_concern && settled; i++)
        settled = find_ovr(c, col_name(c, qi, concern[i]), cs) != NULL;
    if (settled)
        return 0;
    omr_review_item_t *it = push_item(c);
    if (!it)
        return 0;
    it->reason = reason;
    it->page = page;
    it->case_number = cs;
    it->question = qi;
    snprintf(it->var, sizeof it->var, "%s", var);
    snprintf(it->proposal, sizeof it->proposal, "%s", proposal ? proposal : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof it->detail, fmt, ap);
    va_end(ap);
    if (n_block < 0)
        block_question(c, qi, cs);
    else if (!blk)
        for (int i = 0; i < n_concern; i++)
            block(c, cs, concern[i]);
    else
        for (int i = 0; i < n_block; i++)
            block(c, cs, blk[i]);
    return 1;
}

#define MAX_QCOLS 512

/* The non-text columns of a question (its "whole question" for items with var
 * ""), at most MAX_QCOLS. */
static int question_cols(const ctx_t *c, int qi, int *cols)
{
    const omr_column_t *cc = c->cols[c->form->questions[qi].is_case];
    int n = 0;
    for (int j = 0; j < c->q_n[qi] && n < MAX_QCOLS; j++)
        if (!cc[c->q_first[qi] + j].is_text)
            cols[n++] = c->q_first[qi] + j;
    if (n == 0) /* a text question: its one column */
        for (int j = 0; j < c->q_n[qi] && n < MAX_QCOLS; j++)
            cols[n++] = c->q_first[qi] + j;
    return n;
}

/* "faint, erased" from OMR_DOUBT_* bits. */
static const char *doubt_words(unsigned d, char *buf, size_t n)
{
    /* one word per OMR_DOUBT_* bit, in bit order (page.h) */
    static const char *w[] = {"faint",      "erasure",     "crossed out",
                              "borderline", "label circled only", "not a digit",
                              "scan too light: the blank may hide pencil",
                              "the only trace in an unanswered question"};
    buf[0] = 0;
    size_t len = 0;
    for (int i = 0; i < (int)(sizeof w / sizeof w[0]); i++)
        if (d & (1u << i))
            len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? ", " : "", w[i]);
    if (!buf[0])
        snprintf(buf, n, "doubtful");
    return buf;
}

/* "2,3" from a list of codes. */
static void code_list(const int *codes, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d", i ? "," : "", codes[i]);
}

/* ---- per-kind coding. Each gets the question, the case, the page result
 * index used (-1 missing) and the readings of the question's page. ---- */

typedef struct {
    int qi, cs, page;
    const omr_question_t *q;
    const omr_region_t *tr;          /* template regions of the page */
    const omr_region_result_t *rr;   /* readings of the page (zeros when missing) */
    const int *rc;                   /* region -> column */
} qctx_t;

static int text_inked(const omr_region_result_t *r) { return r->has_ink || r->state != OMR_MARK_BLANK; }

/* The _text column of a field region: transcription, to review whenever inked. */
static void code_text_field(ctx_t *c, const qctx_t *x, int ri)
{
    int col = x->rc[ri];
    if (col < 0)
        return;
    const char *var = x->tr[ri].var;
    const char *o = find_ovr(c, var, x->cs);
    if (o) {
        set_value(c, x->cs, col, o, OMR_VALUE_RESOLVED);
        if (*o)
            c->answered[qc(c, x->qi, x->cs)] = 1;
        return;
    }
    set_value(c, x->cs, col, "", OMR_VALUE_CERTAIN);
    if (!text_inked(&x->rr[ri]))
        return;
    c->answered[qc(c, x->qi, x->cs)] = 1;
    raise_item(c, OMR_REVIEW_TEXT, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, "",
               "%s: handwritten text to transcribe (%s)", x->q->label, var);
}

/* Is option `code` marked? 1 marked, 0 not, -1 unknown (doubtful). For single
 * questions `single_value` is the override/value when the question column is
 * overridden (NULL otherwise). */
static int other_marked(ctx_t *c, const qctx_t *x, int code, const char *single_value, const char **boxvals)
{
    const omr_question_t *q = x->q;
    if (q->kind == OMR_KIND_TOP3) {
        for (int b = 0; b < 3; b++)
            if (boxvals[b] && parse_code(boxvals[b]) == code)
                return 1;
        return 0;
    }
    if (single_value)
        return parse_code(single_value) == code;
    for (int i = 0; i < q->n_regions; i++) {
        int ri = q->first_region + i;
        const omr_region_t *t = &x->tr[ri];
        if (t->kind == OMR_REGION_TEXT || t->code != code)
            continue;
        if (q->kind != OMR_KIND_SINGLE) {
            const char *o = find_ovr(c, t->var, x->cs);
            if (o)
                return !strcmp(o, "1");
        }
        return x->rr[ri].state == OMR_MARK_MARKED ? 1 : x->rr[ri].state == OMR_MARK_DOUBTFUL ? -1 : 0;
    }
    return 0;
}

/* The "その他" rules for every `other` option that has a field. opt_cols:
 * the question's option columns (for blocking); any_marked: some option is
 * marked (multi: otherwise every option column depends on the decision). */
static void code_other(ctx_t *c, const qctx_t *x, const char *single_value, const char **boxvals, int any_marked)
{
    const omr_question_t *q = x->q;
    int qcols[MAX_QCOLS];
    int nq = question_cols(c, x->qi, qcols);
    for (int i = 0; i < q->n_regions; i++) {
        int ri = q->first_region + i;
        const omr_region_t *t = &x->tr[ri];
        if (t->kind != OMR_REGION_TEXT || t->code <= 0)
            continue;
        const omr_option_t *o = option_of(q, t->code);
        code_text_field(c, x, ri);
        int tcol = x->rc[ri];
        if (!o || tcol < 0)
            continue;
        int marked = other_marked(c, x, t->code, single_value, boxvals);
        int inked = text_inked(&x->rr[ri]);
        const char *tov = find_ovr(c, t->var, x->cs);
        char code[16];
        snprintf(code, sizeof code, "%d", t->code);
        if (marked == 1 && !inked && !tov)
            raise_item(c, OMR_REVIEW_OTHER_TEXT, x->page, x->qi, x->cs, t->var, &tcol, 1, NULL, 0, "",
                       "%s: option %d (%s) is marked but its text field is empty", q->label, t->code, o->text);
        if (marked == 0 && inked) {
            if (q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST) {
                char var[64];
                snprintf(var, sizeof var, "%s_%d", q->base, t->code);
                int ocol = -1;
                for (int j = 0; j < nq; j++)
                    if (!strcmp(col_name(c, x->qi, qcols[j]), var))
                        ocol = qcols[j];
                if (ocol >= 0)
                    raise_item(c, OMR_REVIEW_OTHER_TEXT, x->page, x->qi, x->cs, var, &ocol, 1, any_marked ? NULL : qcols,
                               any_marked ? 0 : nq, "1", "%s: text written for option %d (%s) but the option is not marked",
                               q->label, t->code, o->text);
            } else {
                raise_item(c, OMR_REVIEW_OTHER_TEXT, x->page, x->qi, x->cs, q->kind == OMR_KIND_SINGLE ? q->base : "",
                           qcols, nq, NULL, 0, code, "%s: text written for option %d (%s) but the option is not marked",
                           q->label, t->code, o->text);
            }
        }
    }
}

/* An operator's decision for column col (a single choice, a grid row, a
 * number): it is the value, and anything but empty or -1 answers the
 * question. Returns 1 when there was one. */
static int apply_override(ctx_t *c, const qctx_t *x, int col)
{
    const char *o = find_ovr(c, col_name(c, x->qi, col), x->cs);
    if (!o)
        return 0;
    set_value(c, x->cs, col, o, OMR_VALUE_RESOLVED);
    if (*o && strcmp(o, "-1"))
        c->answered[qc(c, x->qi, x->cs)] = 1;
    return 1;
}

/* single, and one row of grid1: regions idx[0..n) feed column col. */
static void code_choice(ctx_t *c, const qctx_t *x, const int *idx, int n, int col, const char *where)
{
    if (apply_override(c, x, col))
        return;
    const char *var = col_name(c, x->qi, col);
    int marked[64], nm = 0, nd = 0;
    for (int i = 0; i < n; i++) {
        const omr_region_result_t *r = &x->rr[idx[i]];
        if (r->state == OMR_MARK_MARKED && nm < 64)
            marked[nm++] = x->tr[idx[i]].code;
        nd += r->state == OMR_MARK_DOUBTFUL;
    }
    char buf[256];
    if (nm == 1)
        snprintf(buf, sizeof buf, "%d", marked[0]);
    else
        buf[0] = 0;
    set_value(c, x->cs, col, buf, OMR_VALUE_CERTAIN);
    if (nm)
        c->answered[qc(c, x->qi, x->cs)] = 1;
    else if (nd)
        c->unsure[qc(c, x->qi, x->cs)] = 1;
    if (nm >= 2) {
        char list[128];
        code_list(marked, nm, list, sizeof list);
        raise_item(c, OMR_REVIEW_MULTIPLE_MARKS, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, list,
                   "%s%s: %d marks where one is allowed (%s)", x->q->label, where, nm, list);
    }
    for (int i = 0; i < n; i++) {
        const omr_region_result_t *r = &x->rr[idx[i]];
        if (r->state != OMR_MARK_DOUBTFUL)
            continue;
        char words[128], prop[16];
        int code = x->tr[idx[i]].code;
        if (nm == 1)
            snprintf(prop, sizeof prop, "%d", marked[0]);
        else if (nm == 0 && nd == 1)
            snprintf(prop, sizeof prop, "%d", code);
        else
            prop[0] = 0;
        raise_item(c, OMR_REVIEW_DOUBTFUL_MARK, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s%s: doubtful mark on %d (%s, score %.2f)", x->q->label, where, code,
                   doubt_words(r->doubt, words, sizeof words), (double)r->m.score);
    }
}

/* multi, ticklist, and one row of gridn: each region idx[i] feeds its own
 * 1/0 column; excl[i]: an exclusive option/column. Returns whether something is marked. */
static int code_cells(ctx_t *c, const qctx_t *x, const int *idx, const int *excl, int n, const char *where)
{
    int st[128], ov[128], cols[128], marked_cols[128], marked_codes[128];
    int nm = 0, nd = 0, excl_marked = 0;
    if (n > 128)
        n = 128;
    for (int i = 0; i < n; i++) {
        const omr_region_t *t = &x->tr[idx[i]];
        const char *o = find_ovr(c, t->var, x->cs);
        cols[i] = x->rc[idx[i]];
        ov[i] = o != NULL;
        st[i] = o ? (!strcmp(o, "1") ? OMR_MARK_MARKED : OMR_MARK_BLANK) : (int)x->rr[idx[i]].state;
        if (st[i] == OMR_MARK_MARKED) {
            marked_cols[nm] = cols[i];
            marked_codes[nm++] = t->code;
            excl_marked |= excl[i];
        }
        nd += st[i] == OMR_MARK_DOUBTFUL;
    }
    for (int i = 0; i < n; i++) {
        if (cols[i] < 0)
            continue;
        const char *v = (nm == 0 && nd == 0) ? "" : st[i] == OMR_MARK_MARKED ? "1" : st[i] == OMR_MARK_BLANK ? "0" : "";
        set_value(c, x->cs, cols[i], v, ov[i] ? OMR_VALUE_RESOLVED : OMR_VALUE_CERTAIN);
    }
    if (nm)
        c->answered[qc(c, x->qi, x->cs)] = 1;
    else if (nd)
        c->unsure[qc(c, x->qi, x->cs)] = 1;
    for (int i = 0; i < n; i++) {
        if (st[i] != OMR_MARK_DOUBTFUL || cols[i] < 0)
            continue;
        const omr_region_result_t *r = &x->rr[idx[i]];
        char words[128];
        raise_item(c, OMR_REVIEW_DOUBTFUL_MARK, x->page, x->qi, x->cs, x->tr[idx[i]].var, &cols[i], 1, cols, n,
                   r->m.score >= 0.5f ? "1" : "0", "%s%s: doubtful mark on %d (%s, score %.2f)", x->q->label, where,
                   x->tr[idx[i]].code, doubt_words(r->doubt, words, sizeof words), (double)r->m.score);
    }
    if (excl_marked && nm >= 2) {
        char list[256];
        code_list(marked_codes, nm, list, sizeof list);
        raise_item(c, OMR_REVIEW_EXCLUSIVE, x->page, x->qi, x->cs, "", marked_cols, nm, cols, n, list,
                   "%s%s: an exclusive option is marked with others (%s)", x->q->label, where, list);
    }
    return nm > 0;
}

/* A digit box with nothing in it: no ink, and not in doubt (a box read
 * blank on a scan too light for pencil is DOUBTFUL). */
static int box_empty(const omr_region_result_t *r) { return !r->has_ink && r->state == OMR_MARK_BLANK; }

/* The office's policy (survey icr_policy=auto, opts.digit_accept_conf) takes
 * this box's digit without review: a digit read at or above the threshold,
 * and nothing doubtful about the box. 0 under the default policy (review). */
static int digit_accepted(const ctx_t *c, const omr_region_result_t *r)
{
    double thr = c->opt.digit_accept_conf;
    return thr > 0 && r->digit >= 0 && r->digit <= 9 && r->digit_conf >= thr && r->state != OMR_MARK_DOUBTFUL &&
           !(r->doubt & OMR_DOUBT_NOT_DIGIT);
}

/* One digit box (top3 box, codegrid cell). Sets the value; *pval gets the
 * effective value text (override, accepted or proposal), *pknown whether it is
 * known (override or machine-accepted), returns whether the box is filled. */
static int code_digit(ctx_t *c, const qctx_t *x, int ri, const char **pval, int *pknown, int *povr)
{
    int col = x->rc[ri];
    const omr_region_t *t = &x->tr[ri];
    const omr_region_result_t *r = &x->rr[ri];
    const char *o = find_ovr(c, t->var, x->cs);
    *povr = o != NULL;
    if (o) {
        set_value(c, x->cs, col, o, OMR_VALUE_RESOLVED);
        *pval = val(c, x->cs, col)->value;
        *pknown = 1;
        return *o != 0;
    }
    if (box_empty(r)) {
        set_value(c, x->cs, col, "", OMR_VALUE_CERTAIN);
        *pval = val(c, x->cs, col)->value;
        *pknown = 1;
        return 0;
    }
    char prop[16] = "";
    if (r->digit >= 0 && r->digit <= 9)
        snprintf(prop, sizeof prop, "%d", r->digit);
    set_value(c, x->cs, col, prop, OMR_VALUE_CERTAIN);
    *pval = val(c, x->cs, col)->value;
    c->answered[qc(c, x->qi, x->cs)] = 1;
    if (digit_accepted(c, r)) {
        *pknown = 1;
        return 1;
    }
    *pknown = 0;
    int code = parse_code(prop);
    if (!prop[0] && !r->has_ink)
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, t->var, &col, 1, NULL, 0, prop,
                   "%s %s: read empty, but the scan is too light to be sure", x->q->label, t->var);
    else if (!prop[0])
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, t->var, &col, 1, NULL, 0, prop,
                   "%s %s: ink in the box, but no digit read%s", x->q->label, t->var,
                   r->doubt & OMR_DOUBT_FAINT ? " (faint)" : "");
    else
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, t->var, &col, 1, NULL, 0, prop,
                   "%s %s: written code, read %s (confidence %.2f)%s", x->q->label, t->var, prop,
                   (double)r->digit_conf, !is_option(x->q, code) ? "; not an option code" : "");
    return 1;
}

static void code_top3(ctx_t *c, const qctx_t *x)
{
    const omr_question_t *q = x->q;
    int ri[3] = {-1, -1, -1}, col[3], filled[3] = {0}, known[3] = {0}, ovr[3] = {0};
    const char *v[3] = {NULL, NULL, NULL};
    for (int i = 0; i < q->n_regions; i++) {
        const omr_region_t *t = &x->tr[q->first_region + i];
        if (t->kind == OMR_REGION_DIGIT && t->code >= 1 && t->code <= 3)
            ri[t->code - 1] = q->first_region + i;
    }
    for (int b = 0; b < 3; b++) {
        if (ri[b] < 0 || (col[b] = x->rc[ri[b]]) < 0)
            return;
        filled[b] = code_digit(c, x, ri[b], &v[b], &known[b], &ovr[b]);
    }
    /* validity: only values the machine accepted, or pairs not both typed by an operator */
    for (int b = 0; b < 3; b++) {
        if (known[b] && filled[b] && !ovr[b] && !is_option(q, parse_code(v[b])))
            raise_item(c, OMR_REVIEW_INVALID_VALUE, x->page, x->qi, x->cs, col_name(c, x->qi, col[b]), &col[b], 1,
                       NULL, 0, "", "%s box %d: %s is not an option code", q->label, b + 1, v[b]);
        for (int a = 0; a < b; a++) {
            int pair[2] = {col[a], col[b]};
            if (known[a] && known[b] && filled[a] && filled[b] && !strcmp(v[a], v[b]))
                raise_item(c, OMR_REVIEW_INVALID_VALUE, x->page, x->qi, x->cs, "", pair, 2, NULL, 0, "",
                           "%s: boxes %d and %d both hold %s", q->label, a + 1, b + 1, v[a]);
        }
        for (int a = 0; a < b && filled[b]; a++) /* an empty box before a written one: a gap */
            if (!filled[a]) {
                int pair[2] = {col[a], col[b]};
                raise_item(c, OMR_REVIEW_INVALID_VALUE, x->page, x->qi, x->cs, "", pair, 2, NULL, 0, "",
                           "%s: box %d is written but box %d is empty", q->label, b + 1, a + 1);
                break;
            }
    }
    const char *boxvals[3] = {filled[0] ? v[0] : NULL, filled[1] ? v[1] : NULL, filled[2] ? v[2] : NULL};
    code_other(c, x, NULL, boxvals, 1);
}

static void code_codegrid(ctx_t *c, const qctx_t *x)
{
    const omr_question_t *q = x->q;
    for (int i = 0; i < q->n_regions; i++) {
        int ri = q->first_region + i;
        if (x->tr[ri].kind != OMR_REGION_DIGIT || x->rc[ri] < 0)
            continue;
        const char *v;
        int known, ovr, col = x->rc[ri];
        int filled = code_digit(c, x, ri, &v, &known, &ovr);
        if (filled && known && !ovr && !is_option(q, parse_code(v)))
            raise_item(c, OMR_REVIEW_INVALID_VALUE, x->page, x->qi, x->cs, x->tr[ri].var, &col, 1, NULL, 0, "",
                       "%s %s: %s is not an option code", q->label, x->tr[ri].var, v);
    }
}

/* The one column of number question x, or -1 when it has none or an
 * operator's value has settled it (apply_override set it). */
static int number_column(ctx_t *c, const qctx_t *x)
{
    if (c->q_n[x->qi] < 1)
        return -1;
    int col = c->q_first[x->qi];
    return apply_override(c, x, col) ? -1 : col;
}

/* The first box of a number whose digit is missing, or -1: an unused box
 * between the first and last used ones (a digit missed, or two numbers);
 * on a `full` number also an unused box at either end (a digit lost, not a
 * shorter number). used[b]: box b holds something (ink, a bubble). */
static int number_gap(const omr_question_t *q, const unsigned char *used, int first, int last, int n)
{
    for (int b = first + 1; b < last; b++)
        if (!used[b])
            return b;
    if (q->full)
        return first > 0 ? 0 : last < n - 1 ? n - 1 : -1;
    return -1;
}

/* number: the digits of its boxes, left to right, in its one column (rules
 * at the top of this file). One item for the whole number, never one per box:
 * the operator reads the number as a whole. */
static void code_number(ctx_t *c, const qctx_t *x)
{
    const omr_question_t *q = x->q;
    int col = number_column(c, x);
    if (col < 0)
        return;
    const char *var = col_name(c, x->qi, col);
    const omr_region_result_t *box[OMR_NUMBER_MAX_BOXES] = {NULL};
    int n = 0;
    for (int i = 0; i < q->n_regions; i++) {
        const omr_region_t *t = &x->tr[q->first_region + i];
        if (t->kind == OMR_REGION_DIGIT && t->code >= 1 && t->code <= OMR_NUMBER_MAX_BOXES) {
            box[t->code - 1] = &x->rr[q->first_region + i];
            if (t->code > n)
                n = t->code;
        }
    }
    /* first/last written box; the first box with ink and no digit read, the
     * first box read blank but in doubt (a light scan may hide pencil) */
    int first = -1, last = -1, unread = -1, unsure = -1, accepted = 1, nd = 0;
    char digits[OMR_NUMBER_MAX_BOXES + 1], confs[OMR_NUMBER_MAX_BOXES * 6 + 1] = "";
    size_t cl = 0;
    for (int b = 0; b < n; b++) {
        const omr_region_result_t *r = box[b];
        if (!r || box_empty(r))
            continue;
        if (!r->has_ink) {
            if (unsure < 0)
                unsure = b;
            continue;
        }
        if (first < 0)
            first = b;
        last = b;
        accepted &= digit_accepted(c, r);
        if (r->digit >= 0 && r->digit <= 9) {
            digits[nd++] = (char)('0' + r->digit);
            cl += (size_t)snprintf(confs + cl, sizeof confs - cl, "%s%.2f", cl ? " " : "", (double)r->digit_conf);
        } else if (unread < 0) {
            unread = b;
        }
    }
    digits[nd] = 0;
    if (first < 0) { /* nothing written: empty (or -1 by the routing), unless a box is in doubt */
        if (unsure >= 0) {
            c->unsure[qc(c, x->qi, x->cs)] = 1;
            raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, "",
                       "%s: read empty, but the scan is too light to be sure", q->label);
        }
        return;
    }
    c->answered[qc(c, x->qi, x->cs)] = 1;
    unsigned char used[OMR_NUMBER_MAX_BOXES];
    for (int b = 0; b < n; b++)
        used[b] = box[b] && box[b]->has_ink;
    const int gap = number_gap(q, used, first, last, n);
    /* a box nobody could read: no proposal (a guess of the others alone
     * would be a number with a digit missing) */
    const char *prop = unread >= 0 || (q->full && (first > 0 || last < n - 1)) ? "" : digits;
    set_value(c, x->cs, col, prop, OMR_VALUE_CERTAIN);
    if (accepted && unread < 0 && unsure < 0 && gap < 0)
        return; /* the office's policy accepts every digit: certain */
    if (unread >= 0)
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: written number, ink in box %d but no digit read%s", q->label, unread + 1,
                   box[unread]->doubt & OMR_DOUBT_FAINT ? " (faint)" : "");
    else if (gap >= 0)
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: written number read %s, but box %d %s is empty (confidence %s)", q->label, digits, gap + 1,
                   gap > first && gap < last ? "between its digits" : "of a number that fills every box", confs);
    else if (unsure >= 0)
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: written number read %s; box %d read empty on a scan too light to be sure (confidence %s)",
                   q->label, digits, unsure + 1, confs);
    else
        raise_item(c, OMR_REVIEW_HANDWRITTEN, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: written number, read %s (confidence %s)", q->label, digits, confs);
}

/* number printed as bubbles (box N digit=D bubble=…): each box's bubbles
 * give its digit; the digits of boxes 1..N left to right make the value,
 * as written boxes do (empty boxes before the first digit or after the
 * last allowed, a gap not). Certain only when every box is: one bubble
 * marked and none in doubt, or none marked and none in doubt. Otherwise one
 * item for the whole number (the operator reads it as a whole), its reason
 * the worst box's: two bubbles in a box, else a doubtful one; its proposal
 * the digits when every box has one. */
static void code_number_bubbles(ctx_t *c, const qctx_t *x)
{
    const omr_question_t *q = x->q;
    int col = number_column(c, x);
    if (col < 0)
        return;
    const char *var = col_name(c, x->qi, col);
    const int n = q->n_boxes;
    int digit[OMR_NUMBER_MAX_BOXES], marked[OMR_NUMBER_MAX_BOXES] = {0}, doubtful[OMR_NUMBER_MAX_BOXES] = {0};
    int doubt_digit[OMR_NUMBER_MAX_BOXES];
    char seen[OMR_NUMBER_MAX_BOXES][24]; /* the marked digits of each box, "4,7" */
    for (int b = 0; b < n; b++)
        digit[b] = doubt_digit[b] = -1, seen[b][0] = 0;
    for (int i = 0; i < q->n_regions; i++) {
        const omr_region_t *t = &x->tr[q->first_region + i];
        const omr_region_result_t *r = &x->rr[q->first_region + i];
        int b = atoi(t->row) - 1;
        if (t->kind != OMR_REGION_CHECK || b < 0 || b >= n)
            continue;
        if (r->state == OMR_MARK_MARKED) {
            digit[b] = t->code;
            size_t l = strlen(seen[b]);
            snprintf(seen[b] + l, sizeof seen[b] - l, "%s%d", l ? "," : "", t->code);
            marked[b]++;
        } else if (r->state == OMR_MARK_DOUBTFUL) {
            doubt_digit[b] = t->code;
            doubtful[b]++;
        }
    }
    /* each box: its digit (known or proposed), or none */
    int first = -1, last = -1, two = -1, unsure = -1, unknown = 0, any_marked = 0;
    for (int b = 0; b < n; b++) {
        any_marked |= marked[b] > 0;
        if (marked[b] > 1 && two < 0)
            two = b;
        if (doubtful[b] && unsure < 0)
            unsure = b;
        int d = marked[b] == 1 ? digit[b] : marked[b] == 0 && doubtful[b] == 1 ? doubt_digit[b] : -1;
        if (marked[b] + doubtful[b] > 0 && d < 0)
            unknown = 1; /* two marked, or several in doubt: no proposal */
        digit[b] = d;
        if (marked[b] + doubtful[b] > 0) {
            if (first < 0)
                first = b;
            last = b;
        }
    }
    if (first < 0)
        return; /* nothing marked, nothing in doubt: no answer (or -1 by the routing) */
    if (any_marked)
        c->answered[qc(c, x->qi, x->cs)] = 1;
    else
        c->unsure[qc(c, x->qi, x->cs)] = 1;
    unsigned char used[OMR_NUMBER_MAX_BOXES];
    for (int b = 0; b < n; b++)
        used[b] = marked[b] + doubtful[b] > 0;
    const int gap = number_gap(q, used, first, last, n);
    char digits[OMR_NUMBER_MAX_BOXES + 1];
    int nd = 0;
    for (int b = first; b <= last; b++)
        if (digit[b] >= 0)
            digits[nd++] = (char)('0' + digit[b]);
    digits[nd] = 0;
    const char *prop = unknown || gap >= 0 ? "" : digits;
    set_value(c, x->cs, col, prop, OMR_VALUE_CERTAIN);
    if (two < 0 && unsure < 0 && gap < 0)
        return; /* every box certain */
    if (two >= 0)
        raise_item(c, OMR_REVIEW_MULTIPLE_MARKS, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: box %d has %d bubbles marked where one is allowed (%s)", q->label, two + 1, marked[two],
                   seen[two]);
    else if (gap >= 0)
        raise_item(c, OMR_REVIEW_DOUBTFUL_MARK, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: box %d %s has no bubble marked", q->label, gap + 1,
                   gap > first && gap < last ? "between marked boxes" : "of a number that fills every box");
    else
        raise_item(c, OMR_REVIEW_DOUBTFUL_MARK, x->page, x->qi, x->cs, var, &col, 1, NULL, 0, prop,
                   "%s: a doubtful bubble in box %d%s%s", q->label, unsure + 1, prop[0] ? ", read " : "", prop);
}

static void code_question(ctx_t *c, int qi, int cs)
{
    const omr_form_t *f = c->form;
    const omr_question_t *q = &f->questions[qi];
    int pi = c->use[q->page * (c->n_cases + 1) + cs];
    int ps = c->pstate[q->page * (c->n_cases + 1) + cs];
    /* a page not read (unread copy, or missing): blank readings, the
     * question then blocked or confirmed empty */
    qctx_t x = {qi, cs, pi, q, f->pages[q->page].regions, ps == PS_READ && pi >= 0 ? c->pages[pi].regions : c->blank,
                c->reg_col[q->page]};
    c->missing[qc(c, qi, cs)] = (unsigned char)ps;
    for (int j = 0; j < c->q_n[qi]; j++)
        set_value(c, cs, c->q_first[qi] + j, "", OMR_VALUE_CERTAIN);
    int idx[512], excl[512], n = 0;
    switch (q->kind) {
    case OMR_KIND_SINGLE: {
        for (int i = 0; i < q->n_regions && n < 512; i++) /* circles, or tick boxes */
            if (x.tr[q->first_region + i].kind == OMR_REGION_CIRCLE ||
                x.tr[q->first_region + i].kind == OMR_REGION_CHECK)
                idx[n++] = q->first_region + i;
        if (n == 0 || x.rc[idx[0]] < 0)
            break;
        int col = x.rc[idx[0]];
        code_choice(c, &x, idx, n, col, "");
        const char *o = find_ovr(c, col_name(c, qi, col), cs);
        code_other(c, &x, o, NULL, 1);
        break;
    }
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST: {
        for (int i = 0; i < q->n_regions && n < 512; i++) {
            const omr_region_t *t = &x.tr[q->first_region + i];
            if (t->kind == OMR_REGION_TEXT)
                continue;
            const omr_option_t *o = option_of(q, t->code);
            excl[n] = o && o->exclusive;
            idx[n++] = q->first_region + i;
        }
        int any = code_cells(c, &x, idx, excl, n, "");
        code_other(c, &x, NULL, NULL, any);
        break;
    }
    case OMR_KIND_GRID1:
    case OMR_KIND_GRIDN:
        for (int r = 0; r < q->n_rows; r++) {
            n = 0;
            for (int i = 0; i < q->n_regions && n < 512; i++) {
                const omr_region_t *t = &x.tr[q->first_region + i];
                if (strcmp(t->row, q->rows[r].id))
                    continue;
                excl[n] = 0;
                for (int k = 0; k < q->n_cols; k++)
                    if (q->cols[k].code == t->code)
                        excl[n] = q->cols[k].exclusive;
                idx[n++] = q->first_region + i;
            }
            if (n == 0 || x.rc[idx[0]] < 0)
                continue;
            char where[32];
            snprintf(where, sizeof where, " row %s", q->rows[r].id);
            if (q->kind == OMR_KIND_GRID1)
                code_choice(c, &x, idx, n, x.rc[idx[0]], where);
            else
                code_cells(c, &x, idx, excl, n, where);
        }
        break;
    case OMR_KIND_TOP3:
        code_top3(c, &x);
        break;
    case OMR_KIND_CODEGRID:
        code_codegrid(c, &x);
        break;
    case OMR_KIND_TEXT:
        for (int i = 0; i < q->n_regions; i++)
            if (x.tr[q->first_region + i].kind == OMR_REGION_TEXT)
                code_text_field(c, &x, q->first_region + i);
        break;
    case OMR_KIND_NUMBER:
        if (q->n_regions > 0 && x.tr[q->first_region].kind == OMR_REGION_CHECK)
            code_number_bubbles(c, &x); /* a mark sheet's bubbles */
        else
            code_number(c, &x);
        break;
    case OMR_KIND_COUNT:
        break;
    }
    if (ps == PS_BLOCKED)
        block_question(c, qi, cs);
}

/* ---- whole-question values, as review decisions take them ---- */

void omr_code_column_token(const omr_form_t *form, const omr_question_t *q, const omr_column_t *col, char *buf,
                           size_t n)
{
    const omr_region_t *r = col->region >= 0 ? &form->pages[q->page].regions[col->region] : NULL;
    buf[0] = 0;
    switch (q->kind) {
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST:
    case OMR_KIND_TOP3:
        if (r)
            snprintf(buf, n, "%d", r->code);
        break;
    case OMR_KIND_GRIDN:
        if (r)
            snprintf(buf, n, "%s:%d", r->row, r->code);
        break;
    case OMR_KIND_CODEGRID:
        if (r)
            snprintf(buf, n, "%s_%d", r->row, r->code);
        break;
    case OMR_KIND_GRID1: {
        size_t b = strlen(q->base);
        if (!strncmp(col->name, q->base, b) && col->name[b] == '_')
            snprintf(buf, n, "%s", col->name + b + 1);
        break;
    }
    default:
        break;
    }
}

/* The answer of question qi in case cs as read so far (its columns'
 * values), in the whole-question form a review decision takes
 * (omr_code_column_token): single and number the one value; multi,
 * ticklist and gridn the tokens of the columns holding 1 ("2,5", "a:1,b:3");
 * grid1 and codegrid "token:value" ("a:2,b:3", "a_1:3"); top3 the boxes'
 * codes in box order ("3,1"). "" when nothing was read. */
static void answer_as_read(ctx_t *c, int qi, int cs, char *buf, size_t n)
{
    const omr_question_t *q = &c->form->questions[qi];
    const omr_column_t *cc = c->cols[q->is_case];
    int binary = q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST || q->kind == OMR_KIND_GRIDN;
    int keyed = q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_CODEGRID;
    size_t len = 0;
    buf[0] = 0;
    for (int j = 0; j < c->q_n[qi] && len < n; j++) {
        int col = c->q_first[qi] + j;
        const char *v = val(c, cs, col)->value;
        if (cc[col].is_text || !v[0] || (binary && strcmp(v, "1")))
            continue;
        char tok[80];
        omr_code_column_token(c->form, q, &cc[col], tok, sizeof tok);
        if (binary)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", tok);
        else if (keyed)
            len += (size_t)snprintf(buf + len, n - len, "%s%s:%s", len ? "," : "", tok, v);
        else /* single, number: one column; top3: the boxes in order */
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", v);
    }
}

/* ---- routing ---- */

static void route_codes_text(uint64_t codes, char *buf, size_t n)
{
    int list[64], k = 0;
    for (int i = 1; i < 64; i++)
        if (codes >> i & 1)
            list[k++] = i;
    code_list(list, k, buf, n);
}

/* Decide the routing of question qi in case cs, its source first. */
static void route(ctx_t *c, int qi, int cs, int depth)
{
    unsigned char *state = &c->route_state[qc(c, qi, cs)];
    const omr_form_t *f = c->form;
    const omr_question_t *q = &f->questions[qi];
    if (*state != ROUTE_TODO || q->route_question < 0 || q->route_question >= f->n_questions || depth > 64)
        return;
    *state = ROUTE_BUSY; /* a cycle is left unchecked */
    int si = q->route_question;
    const omr_question_t *s = &f->questions[si];
    int scs = s->is_case ? cs : 0;
    if (s->is_case && !q->is_case) {
        *state = ROUTE_DONE;
        return;
    }
    route(c, si, scs, depth + 1);
    /* the question itself not read: blocked or confirmed empty, nothing to
     * route; its source's page confirmed missing: the routing is not checked.
     * A source on a blocked page holds REVIEW values: the question waits. */
    if (c->missing[qc(c, qi, cs)] || c->missing[qc(c, si, scs)] == PS_CONFIRMED) {
        *state = ROUTE_DONE;
        return;
    }
    /* what the source holds */
    int proven = 0, pending = 0;
    const omr_column_t *sc = c->cols[s->is_case];
    for (int j = 0; j < c->q_n[si]; j++) {
        int col = c->q_first[si] + j;
        if (sc[col].is_text)
            continue;
        const omr_value_t *v = val(c, scs, col);
        int code = -1;
        if (s->kind == OMR_KIND_MULTI || s->kind == OMR_KIND_TICKLIST || s->kind == OMR_KIND_GRIDN) {
            if (!strcmp(v->value, "1") && sc[col].region >= 0)
                code = f->pages[s->page].regions[sc[col].region].code;
        } else if (s->kind != OMR_KIND_TEXT) {
            code = parse_code(v->value);
        }
        int hit = code >= 1 && code <= 63 && (q->route_codes >> code & 1);
        if (v->status == OMR_VALUE_REVIEW)
            pending = 1;
        else if (hit)
            proven = 1;
    }
    int k = qc(c, qi, cs);
    if (proven) {
        /* applies */
    } else if (pending) {
        block_question(c, qi, cs);
    } else if (c->answered[k]) {
        int cols[MAX_QCOLS];
        int n = question_cols(c, qi, cols);
        char codes[128];
        route_codes_text(q->route_codes, codes, sizeof codes);
        int page = c->use[q->page * (c->n_cases + 1) + cs];
        /* coding.md: the answer is kept, and a person looks: the proposal is
         * the answer as read (-1, not applicable, is the operator's to give) */
        char answer[512];
        answer_as_read(c, qi, cs, answer, sizeof answer);
        raise_item(c, OMR_REVIEW_ROUTING, page, qi, cs, "", cols, n, NULL, -1, answer,
                   "%s is answered although %s does not hold %s (the routing skips it)", q->label, s->label, codes);
    } else if (!c->unsure[k]) {
        for (int j = 0; j < c->q_n[qi]; j++) {
            omr_value_t *v = val(c, cs, c->q_first[qi] + j);
            snprintf(v->value, sizeof v->value, "-1");
        }
    } else {
        /* skipped, with a doubtful mark: -1 or an answer, once the mark is
         * decided; its "other" text column waits with it (else exported
         * "" as certain, and -1 after the review) */
        block_question(c, qi, cs);
    }
    *state = ROUTE_DONE;
}

/* ---- pages: checks, cases, duplicates ---- */

/* Number of regions whose reading differs between two copies of a page. */
static int reading_diffs(const omr_page_result_t *a, const omr_page_result_t *b, int from, int n)
{
    int d = 0;
    for (int i = from; i < from + n; i++) {
        const omr_region_result_t *x = &a->regions[i], *y = &b->regions[i];
        int differ = x->state != y->state || (!x->has_ink) != (!y->has_ink) ||
                     (x->has_ink && y->has_ink && x->digit != y->digit);
        d += differ;
    }
    return d;
}

/* A mark region's reading as the duplicate test sees it: a doubt that only
 * says the scan was too light (a judgement on the whole page, which a
 * rescan may not repeat) reads as blank. */
static int dup_state(const omr_region_result_t *r)
{
    if (r->state == OMR_MARK_DOUBTFUL && (r->doubt & ~(unsigned)OMR_DOUBT_LIGHT_SCAN) == 0)
        return OMR_MARK_BLANK;
    return (int)r->state;
}

/* A digit box doubtful with no digit read (light scan, faint ink, ink the
 * reader found no digit in): its copy in another scan may read otherwise. */
static int box_unread(const omr_region_result_t *r) { return r->state == OMR_MARK_DOUBTFUL && r->digit < 0; }

/* Could copy b be copy a scanned again (code.h, dup_trace_max)? Returns
 * the number of regions with an answer in both, alike (marks MARKED,
 * digit boxes with the same digit), >= 0 when the readings agree, -1 when
 * they do not. */
static int same_readings(const ctx_t *c, const omr_page_t *tp, const omr_page_result_t *a,
                         const omr_page_result_t *b)
{
    int traces = 0, marks = 0;
    for (int i = 0; i < a->n_regions; i++) {
        const omr_region_result_t *x = &a->regions[i], *y = &b->regions[i];
        const int kind = tp->regions[i].kind;
        if (kind == OMR_REGION_CIRCLE || kind == OMR_REGION_CHECK) {
            const int mx = x->state == OMR_MARK_MARKED, my = y->state == OMR_MARK_MARKED;
            if (mx != my)
                return -1;
            marks += mx;
            traces += dup_state(x) != dup_state(y); /* blank against doubtful */
        } else if (kind == OMR_REGION_DIGIT && (box_unread(x) || box_unread(y))) {
            /* ink nobody could read in one copy: as a doubtful mark */
            traces += box_unread(x) != box_unread(y);
        } else if ((!x->has_ink) != (!y->has_ink) || (x->has_ink && x->digit != y->digit)) {
            return -1;
        } else if (kind == OMR_REGION_DIGIT) {
            /* a digit read alike counts; a text field written in both does
             * not: its words are not read, and an "other" option marked in
             * two cases brings its text in both */
            marks += x->has_ink != 0;
        }
    }
    return traces <= c->opt.dup_trace_max ? marks : -1;
}

/* How many circles read MARKED in both copies were drawn otherwise: around
 * the number in one copy and around the option text in the other (the share
 * of their ink over the text differs by at least half). A scan moves the
 * amount of ink, lighter or darker everywhere alike, never where it lies:
 * on the standard and the held-out corpus, such a mark told 2 of the 4 real
 * cases proposed as duplicates, and no copy of one sheet. */
static int drawn_otherwise(const omr_page_t *tp, const omr_page_result_t *a, const omr_page_result_t *b)
{
    int n = 0;
    for (int i = 0; i < a->n_regions; i++) {
        const omr_measure_t *x = &a->regions[i].m, *y = &b->regions[i].m;
        if (tp->regions[i].kind != OMR_REGION_CIRCLE || a->regions[i].state != OMR_MARK_MARKED ||
            b->regions[i].state != OMR_MARK_MARKED || x->ink + x->ink_label <= 0 || y->ink + y->ink_label <= 0)
            continue;
        double fx = x->ink_label / (x->ink + x->ink_label), fy = y->ink_label / (y->ink + y->ink_label);
        n += fabs(fx - fy) >= 0.5;
    }
    return n;
}

/* Was this copy judged too light for pencil (classify.h,
 * omr_classify_light_scan: some region doubtful with OMR_DOUBT_LIGHT_SCAN)? */
static int copy_is_light(const omr_page_result_t *p)
{
    for (int i = 0; i < p->n_regions; i++)
        if (p->regions[i].state == OMR_MARK_DOUBTFUL && (p->regions[i].doubt & OMR_DOUBT_LIGHT_SCAN))
            return 1;
    return 0;
}

/* The copy of respondent-part page pn (0-based) to code: the first read
 * copy that is not too light for pencil, else the first read copy; -1 when
 * none was read. Why: the batch report asks for light pages to be scanned
 * again in grey; the rescan must then replace the light copy, not wait as a
 * duplicate behind it. */
static int preferred_copy(const ctx_t *c, int pn)
{
    int first = -1;
    for (int i = 0; i < c->n_pages; i++) {
        const omr_page_result_t *p = &c->pages[i];
        if (p->status != OMR_PAGE_OK || p->page_number - 1 != pn)
            continue;
        if (!copy_is_light(p))
            return i;
        if (first < 0)
            first = i;
    }
    return first;
}

static int page_answered(const omr_page_result_t *p)
{
    for (int i = 0; i < p->n_regions; i++)
        if (p->regions[i].state != OMR_MARK_BLANK || p->regions[i].has_ink)
            return 1;
    return 0;
}

static omr_status_t check_pages(ctx_t *c, omr_error_t *err)
{
    const char *resp = NULL;
    for (int i = 0; i < c->n_pages; i++) {
        const omr_page_result_t *p = &c->pages[i];
        if (p->status != OMR_PAGE_OK)
            continue;
        if (strcmp(p->form, c->form->id))
            return omr_error_set(err, OMR_EINPUT, "%s page %d: form '%s' given to the coder of form %s", p->file,
                                 p->index_in_file + 1, p->form, c->form->id);
        if (p->page_number < 1 || p->page_number > c->form->n_pages)
            return omr_error_set(err, OMR_EINPUT, "%s page %d: form %s has no page %d", p->file, p->index_in_file + 1,
                                 c->form->id, p->page_number);
        const omr_page_t *tp = &c->form->pages[p->page_number - 1];
        if (p->n_regions != tp->n_regions || (p->n_regions > 0 && !p->regions))
            return omr_error_set(err, OMR_EINPUT, "%s page %d: %d region results for page %s-%02d, which has %d regions",
                                 p->file, p->index_in_file + 1, p->n_regions, c->form->id, p->page_number,
                                 tp->n_regions);
        if (resp && strcmp(resp, p->respondent))
            return omr_error_set(err, OMR_EINPUT, "%s page %d: respondent %s among the pages of respondent %s", p->file,
                                 p->index_in_file + 1, p->respondent, resp);
        resp = p->respondent;
    }
    c->respondent = resp;
    return OMR_OK;
}

/* A page that came but was not read, and still says whose page it is: this
 * form, a page number of the form, and this respondent (when a read page
 * told who that is). Such a page blocks its questions; others not read are
 * only page-level items. */
static int unread_usable(const ctx_t *c, const omr_page_result_t *p)
{
    return p->status != OMR_PAGE_OK && p->status != OMR_PAGE_BLANK && !strcmp(p->form, c->form->id) &&
           p->page_number >= 1 && p->page_number <= c->form->n_pages &&
           (!c->respondent || !strcmp(c->respondent, p->respondent));
}

static int push_missing(ctx_t *c, int page_number, int cs, int confirmed)
{
    omr_coded_t *o = c->out;
    if (o->n_missing == c->cap_missing) {
        int cap = c->cap_missing ? 2 * c->cap_missing : 16;
        omr_missing_t *p = realloc(o->missing, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        o->missing = p;
        c->cap_missing = cap;
    }
    o->missing[o->n_missing].page_number = page_number;
    o->missing[o->n_missing].case_number = cs;
    o->missing[o->n_missing].confirmed = confirmed;
    o->n_missing++;
    return 0;
}

/* Sort the copies: copies[p] lists the read coded copies of template page p
 * in scan order (what a later copy is compared with); c->role[i] says what
 * each page given became (coded, unread but usable, or left out);
 * duplicates raise page-level items (their case is set by assign_cases, from
 * c->dup_match); differing respondent-part duplicates are remembered in
 * dup_of[] (index of the coded copy) for question items later. */
/* Do the case copies come one case after the other (their page numbers go
 * down somewhere in scan order: 7 8 9 7 8 9), rather than page by page
 * (7 7 8 8 9 9)? */
static int cases_in_sequence(const ctx_t *c)
{
    int last = 0;
    for (int i = 0; i < c->n_pages; i++) {
        const omr_page_result_t *p = &c->pages[i];
        if (p->status != OMR_PAGE_OK || !c->form->pages[p->page_number - 1].is_case)
            continue;
        if (p->page_number < last)
            return 1;
        last = p->page_number;
    }
    return 0;
}

#define MAX_FORM_PAGES 99 /* template.c: page numbers 1..99 */

/* Has case page number pn (1-based) more read copies than the case page
 * with the fewest (of those that came at all)? An extra copy of one page in
 * a packet is a sheet fed again rather than a case of that page alone. */
static int extra_copy(const ctx_t *c, int pn)
{
    int count[MAX_FORM_PAGES] = {0}, fewest = 0;
    for (int i = 0; i < c->n_pages; i++) {
        const omr_page_result_t *p = &c->pages[i];
        if (p->status == OMR_PAGE_OK && p->page_number >= 1 && p->page_number <= MAX_FORM_PAGES &&
            c->form->pages[p->page_number - 1].is_case)
            count[p->page_number - 1]++;
    }
    for (int k = 0; k < c->form->n_pages && k < MAX_FORM_PAGES; k++)
        if (count[k] > 0 && (fewest == 0 || count[k] < fewest))
            fewest = count[k];
    return pn >= 1 && pn <= MAX_FORM_PAGES && count[pn - 1] > fewest;
}

static omr_status_t sort_copies(ctx_t *c, int **copies, int *n_copies, int *dup_of, omr_error_t *err)
{
    const omr_form_t *f = c->form;
    const int in_sequence = cases_in_sequence(c);
    for (int i = 0; i < c->n_pages; i++) {
        const omr_page_result_t *p = &c->pages[i];
        dup_of[i] = -1;
        c->dup_match[i] = -1;
        c->role[i] = ROLE_SKIP;
        if (p->status != OMR_PAGE_OK) {
            if (unread_usable(c, p))
                c->role[i] = ROLE_UNREAD;
            continue;
        }
        int pn = p->page_number - 1;
        const omr_page_t *tp = &f->pages[pn];
        char key[64];
        omr_code_page_key(p, key, sizeof key);
        const char *dec = find_page_ovr(c, key);
        if (dec && strcmp(dec, "duplicate") && (strcmp(dec, "case") || !tp->is_case))
            return omr_error_set(err, OMR_EINPUT, "override %s = \"%s\": a page takes \"duplicate\"%s", key, dec,
                                 tp->is_case ? " or \"case\"" : " (it is not a case page)");
        int match = -1, marks_alike = 0, repeat = 0;
        if (!tp->is_case) {
            const int pref = preferred_copy(c, pn);
            if (!dec && pref > i && copy_is_light(p)) {
                /* superseded: a light copy scanned again later, as the batch
                 * report asked; the rescan is coded, this copy raises nothing */
                c->dup_match[i] = pref;
                continue;
            }
            if (n_copies[pn] > 0)
                match = copies[pn][0];
        } else if (!(dec && !strcmp(dec, "case")) && page_answered(p)) {
            for (int k = 0; k < n_copies[pn] && match < 0; k++)
                if ((marks_alike = same_readings(c, tp, &c->pages[copies[pn][k]], p)) >= 0)
                    match = copies[pn][k];
            if (match < 0 && in_sequence && i > 0 && c->role[i - 1] == ROLE_CODED &&
                c->pages[i - 1].page_number == p->page_number) {
                /* The same case page twice in a row where the cases come one
                 * after the other: a sheet fed twice whose faint or borderline
                 * marks read otherwise the second time (a 200-dpi bitonal
                 * scan), far more often than a case of that one page. Taken
                 * for a case it would push every later case one on and leave
                 * its other pages missing; so it goes to review as a duplicate. */
                match = i - 1;
                repeat = 1;
            }
        }
        if (match < 0 && !(dec && !strcmp(dec, "duplicate"))) {
            copies[pn][n_copies[pn]++] = i;
            c->role[i] = ROLE_CODED;
            continue;
        }
        if (match < 0) /* excluded by the operator, nothing to compare */
            continue;
        c->dup_match[i] = match;
        int diffs = reading_diffs(&c->pages[match], p, 0, p->n_regions);
        if (!tp->is_case && diffs)
            dup_of[i] = match;
        if (dec)
            continue; /* settled */
        omr_review_item_t *it = push_item(c);
        if (!it)
            return OMR_ENOMEM;
        it->reason = OMR_REVIEW_DUPLICATE;
        it->page = i;
        it->case_number = 0; /* the case of the coded copy: assign_cases */
        it->question = -1;
        snprintf(it->var, sizeof it->var, "%s", key);
        const omr_page_result_t *m = &c->pages[match];
        const int drawn = tp->is_case ? drawn_otherwise(tp, m, p) : 0;
        const int unsure = tp->is_case && marks_alike < c->opt.dup_marks_sure;
        /* in a packet of cases one after the other, a copy right after the
         * page before it (8 9 10) carries a case on: answered like an earlier
         * case, it is still more likely that case's next page than a sheet
         * fed again (those come twice in a row, or out of order) */
        const int continues = tp->is_case && in_sequence && !repeat && i > 0 && c->pages[i - 1].status == OMR_PAGE_OK &&
                              c->pages[i - 1].page_number == p->page_number - 1;
        /* the same page twice in a row, where the packet is not page by
         * page, or one copy more than its case's other pages: fed again,
         * however few answers there are to compare */
        const int fed_again = tp->is_case && !drawn && i > 0 && c->pages[i - 1].status == OMR_PAGE_OK &&
                              c->pages[i - 1].page_number == p->page_number &&
                              (in_sequence || extra_copy(c, p->page_number));
        snprintf(it->proposal, sizeof it->proposal, "%s",
                 fed_again ? "duplicate" : unsure || drawn || continues ? "case" : "duplicate");
        if (repeat) {
            snprintf(it->proposal, sizeof it->proposal, "duplicate");
            snprintf(it->detail, sizeof it->detail,
                     "page %s-%02d twice in a row (%s page %d): the same sheet fed twice, its readings differing "
                     "in %d region%s, or a case with only this page",
                     f->id, p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1, diffs, diffs == 1 ? "" : "s");
        } else if (drawn)
            snprintf(it->detail, sizeof it->detail,
                     "page %s-%02d again with the same reading as %s page %d, but %d mark%s drawn otherwise "
                     "(number in one copy, option text in the other): another case",
                     f->id, p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1, drawn, drawn == 1 ? "" : "s");
        else if (unsure)
            snprintf(it->detail, sizeof it->detail,
                     "page %s-%02d again with the same reading as %s page %d, but %d answer%s to compare: "
                     "another case answered alike, or the same sheet scanned twice",
                     f->id, p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1, marks_alike, marks_alike == 1 ? "" : "s");
        else if (diffs && tp->is_case) /* same marks: only faint traces or light-scan doubts moved */
            snprintf(it->detail, sizeof it->detail,
                     "page %s-%02d scanned again: same marks as %s page %d (%d faint readings differ)",
                     f->id, p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1, diffs);
        else if (diffs)
            snprintf(it->detail, sizeof it->detail,
                     "page %s-%02d scanned again; its marks differ from the coded copy in %d regions (%s page %d)",
                     f->id, p->page_number, diffs, omr_path_tail(m->file, 80), m->index_in_file + 1);
        else
            snprintf(it->detail, sizeof it->detail, "page %s-%02d scanned again: same marks as %s page %d", f->id,
                     p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1);
    }
    return OMR_OK;
}

/* Check the overrides of columns: var known, case in range, value valid. */
static omr_status_t check_overrides(ctx_t *c, omr_error_t *err)
{
    const omr_form_t *f = c->form;
    for (int i = 0; i < c->n_ovr; i++) {
        const omr_override_t *o = &c->ovr[i];
        if (!memchr(o->var, 0, sizeof o->var) || !memchr(o->value, 0, sizeof o->value))
            return omr_error_set(err, OMR_EINPUT, "override %d: var or value not terminated", i);
        if (c->ovr_is_page[i] && !strncmp(o->var, "page:missing:", 13)) {
            /* a missing page confirmed: a page of the form with questions, case
             * 0 for a respondent-part page; ignored once the page is there */
            char form[16];
            int pn = 0, cs = 0, end = 0;
            const omr_page_t *tp = NULL;
            if (sscanf(o->var + 13, "%15[^:]:%d:%d%n", form, &pn, &cs, &end) == 3 && !o->var[13 + end] &&
                !strcmp(form, f->id) && pn >= 1 && pn <= f->n_pages)
                tp = &f->pages[pn - 1];
            if (!tp || tp->n_regions == 0 || (tp->is_case ? cs < 1 : cs != 0))
                return omr_error_set(err, OMR_EINPUT, "override %s = \"%s\": not a missing page of form %s", o->var,
                                     o->value, f->id);
            if (strcmp(o->value, "missing"))
                return omr_error_set(err, OMR_EINPUT, "override %s = \"%s\": a missing page takes \"missing\"",
                                     o->var, o->value);
            continue;
        }
        if (c->ovr_is_page[i]) {
            int found = 0;
            for (int k = 0; k < c->n_pages && !found; k++) {
                char key[64];
                omr_code_page_key(&c->pages[k], key, sizeof key);
                found = c->pages[k].status == OMR_PAGE_OK && !strcmp(key, o->var);
            }
            if (!found)
                return omr_error_set(err, OMR_EINPUT, "override %s = \"%s\": no such page among this respondent's pages",
                                     o->var, o->value);
            continue;
        }
        int part = o->case_number > 0, col = -1;
        for (int j = 0; j < c->n_cols[part] && col < 0; j++)
            if (!strcmp(c->cols[part][j].name, o->var))
                col = j;
        if (col < 0) {
            for (int j = 0; j < c->n_cols[!part]; j++)
                if (!strcmp(c->cols[!part][j].name, o->var))
                    return omr_error_set(err, OMR_EINPUT, "override %s (case %d) = \"%s\": %s", o->var, o->case_number,
                                         o->value,
                                         part ? "a respondent column takes case 0" : "a case column takes case 1 or more");
            return omr_error_set(err, OMR_EINPUT, "override %s (case %d) = \"%s\": form %s has no column %s", o->var,
                                 o->case_number, o->value, f->id, o->var);
        }
        if (o->case_number < 0 || o->case_number > c->n_cases)
            return omr_error_set(err, OMR_EINPUT, "override %s (case %d) = \"%s\": this respondent has %d cases",
                                 o->var, o->case_number, o->value, c->n_cases);
        const omr_column_t *cc = &c->cols[part][col];
        const omr_question_t *q = &f->questions[cc->question];
        if (cc->is_text)
            continue;
        int code = parse_code(o->value), ok = 0;
        const char *want = "";
        switch (q->kind) {
        case OMR_KIND_SINGLE:
        case OMR_KIND_TOP3:
        case OMR_KIND_CODEGRID:
            ok = !o->value[0] || is_option(q, code);
            want = "\"\" or an option code of the question";
            break;
        case OMR_KIND_GRID1:
            for (int k = 0; k < q->n_cols; k++)
                ok |= q->cols[k].code == code;
            ok |= !o->value[0];
            want = "\"\" or a column code of the grid";
            break;
        case OMR_KIND_MULTI:
        case OMR_KIND_TICKLIST:
        case OMR_KIND_GRIDN:
            ok = !strcmp(o->value, "0") || !strcmp(o->value, "1");
            want = "1 (marked) or 0 (not marked)";
            break;
        case OMR_KIND_NUMBER:
            ok = omr_code_number_ok(q, o->value);
            want = "\"\" or the digits written (0-9), at most one per box";
            break;
        default:
            break;
        }
        if (!ok)
            return omr_error_set(err, OMR_EINPUT, "override %s (case %d) = \"%s\": not a valid value (%s %s takes %s)",
                                 o->var, o->case_number, o->value, omr_template_kind_name(q->kind), q->label, want);
    }
    return OMR_OK;
}

/* Per question, its column range; per region, its column. */
static omr_status_t map_columns(ctx_t *c)
{
    const omr_form_t *f = c->form;
    for (int part = 0; part < 2; part++) {
        c->n_cols[part] = omr_template_columns(f, part, &c->cols[part]);
        if (c->n_cols[part] < 0)
            return OMR_ENOMEM;
    }
    c->q_first = calloc((size_t)f->n_questions + 1, sizeof *c->q_first);
    c->q_n = calloc((size_t)f->n_questions + 1, sizeof *c->q_n);
    c->reg_col = calloc((size_t)f->n_pages + 1, sizeof *c->reg_col);
    if (!c->q_first || !c->q_n || !c->reg_col)
        return OMR_ENOMEM;
    for (int part = 0; part < 2; part++)
        for (int j = c->n_cols[part] - 1; j >= 0; j--) {
            int qi = c->cols[part][j].question;
            c->q_first[qi] = j;
            c->q_n[qi]++;
        }
    int max_regions = 0;
    for (int p = 0; p < f->n_pages; p++) {
        const omr_page_t *tp = &f->pages[p];
        if (tp->n_regions > max_regions)
            max_regions = tp->n_regions;
        if (!(c->reg_col[p] = malloc(((size_t)tp->n_regions + 1) * sizeof(int))))
            return OMR_ENOMEM;
        for (int r = 0; r < tp->n_regions; r++) {
            const omr_region_t *t = &tp->regions[r];
            const omr_question_t *q = &f->questions[t->question];
            int part = q->is_case, col = -1;
            for (int j = c->q_first[t->question]; j < c->q_first[t->question] + c->q_n[t->question] && col < 0; j++)
                if (!strcmp(c->cols[part][j].name, t->var))
                    col = j;
            c->reg_col[p][r] = col;
        }
    }
    c->blank = calloc((size_t)max_regions + 1, sizeof *c->blank);
    if (!c->blank)
        return OMR_ENOMEM;
    for (int r = 0; r < max_regions; r++)
        c->blank[r].digit = -1;
    return OMR_OK;
}

static void free_ctx(ctx_t *c)
{
    free(c->cols[0]);
    free(c->cols[1]);
    free(c->q_first);
    free(c->q_n);
    if (c->reg_col)
        for (int p = 0; p < c->form->n_pages; p++)
            free(c->reg_col[p]);
    free(c->reg_col);
    free(c->use);
    free(c->answered);
    free(c->unsure);
    free(c->missing);
    free(c->route_state);
    free(c->pstate);
    free(c->role);
    free(c->dup_match);
    free(c->blank);
    free((void *)c->ovr_is_page);
}

/* Case of each case copy (read or unread, duplicates left out), in scan
 * order; the rule is at the top of this file. case_of[i] gets 1.. for those
 * pages (others untouched); returns the number of cases before spare blank
 * photocopies are dropped. */
static int group_cases(ctx_t *c, int *case_of)
{
    const omr_form_t *f = c->form;
    int last = 0, rising = 1, any = 0;
    for (int i = 0; i < c->n_pages; i++) {
        if (c->role[i] == ROLE_SKIP || !f->pages[c->pages[i].page_number - 1].is_case)
            continue;
        if (any && c->pages[i].page_number < last)
            rising = 0;
        last = c->pages[i].page_number;
        any = 1;
    }
    int n = 0, *count = calloc((size_t)f->n_pages + 1, sizeof *count);
    if (!count) {
        c->st = OMR_ENOMEM;
        return 0;
    }
    last = 0;
    for (int i = 0; i < c->n_pages; i++) {
        if (c->role[i] == ROLE_SKIP || !f->pages[c->pages[i].page_number - 1].is_case)
            continue;
        int pn = c->pages[i].page_number;
        if (rising) {
            case_of[i] = ++count[pn - 1]; /* the k-th copy of a page */
        } else {
            if (n == 0 || pn <= last) /* the page number stops increasing: a new case */
                n++;
            case_of[i] = n;
        }
        last = pn;
        if (case_of[i] > n)
            n = case_of[i];
    }
    free(count);
    return n;
}

/* Raise the MISSING_PAGE item of page number pn in case cs, unless an
 * operator confirmed the page missing. Returns the page's PS_* state. */
static int missing_page(ctx_t *c, int pn, int cs)
{
    char key[64];
    omr_code_missing_key(c->form->id, pn, cs, key, sizeof key);
    const char *dec = find_page_ovr(c, key);
    int confirmed = dec && !strcmp(dec, "missing");
    if (push_missing(c, pn, cs, confirmed)) {
        c->st = OMR_ENOMEM;
        return PS_BLOCKED;
    }
    if (confirmed)
        return PS_CONFIRMED;
    omr_review_item_t *it = push_item(c);
    if (!it)
        return PS_BLOCKED;
    it->reason = OMR_REVIEW_MISSING_PAGE;
    it->page = -1;
    it->case_number = cs;
    it->question = -1;
    snprintf(it->var, sizeof it->var, "%s", key);
    snprintf(it->proposal, sizeof it->proposal, "missing");
    if (cs > 0)
        snprintf(it->detail, sizeof it->detail,
                 "page %s-%02d of case %d is not in the packet: assign it from the unidentified pages, or confirm "
                 "it missing (its questions are then left empty)",
                 c->form->id, pn, cs);
    else
        snprintf(it->detail, sizeof it->detail,
                 "page %s-%02d is not in the packet: assign it from the unidentified pages, or confirm it missing "
                 "(its questions are then left empty)",
                 c->form->id, pn);
    return PS_BLOCKED;
}

/* After the copies are sorted: how many cases, which copy codes what (use),
 * how each page is known in each case (pstate), the page -> case mapping
 * (out->page_case), the missing pages with their items, and the case of the
 * duplicate items. */
static omr_status_t assign_cases(ctx_t *c)
{
    const omr_form_t *f = c->form;
    int *pc = malloc(((size_t)c->n_pages + 1) * sizeof *pc);
    if (!pc)
        return OMR_ENOMEM;
    c->out->page_case = pc;
    c->out->n_page_case = c->n_pages;
    for (int i = 0; i < c->n_pages; i++)
        pc[i] = -1;
    int n_cases = group_cases(c, pc);
    if (c->st)
        return c->st;
    while (n_cases > 1) { /* a spare blank photocopy is not a case: trailing cases with nothing read on them */
        int any = 0;
        for (int i = 0; i < c->n_pages && !any; i++)
            if (pc[i] == n_cases)
                any = c->role[i] == ROLE_UNREAD || page_answered(&c->pages[i]);
        if (any)
            break;
        for (int i = 0; i < c->n_pages; i++)
            if (pc[i] == n_cases)
                pc[i] = -1;
        n_cases--;
    }
    c->n_cases = n_cases;
    int stride = n_cases + 1;
    c->use = malloc(((size_t)f->n_pages * stride + 1) * sizeof *c->use);
    c->pstate = calloc((size_t)f->n_pages * stride + 1, 1);
    if (!c->use || !c->pstate)
        return OMR_ENOMEM;
    for (int k = 0; k < f->n_pages * stride; k++)
        c->use[k] = -1;
    /* respondent part: the first read copy, else the first unread one */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < c->n_pages; i++) {
            if (c->role[i] != (pass == 0 ? ROLE_CODED : ROLE_UNREAD))
                continue;
            int p = c->pages[i].page_number - 1;
            if (f->pages[p].is_case || c->use[p * stride] >= 0)
                continue;
            c->use[p * stride] = i;
            pc[i] = 0;
        }
    for (int i = 0; i < c->n_pages; i++)
        if (pc[i] >= 1 && f->pages[c->pages[i].page_number - 1].is_case)
            c->use[(c->pages[i].page_number - 1) * stride + pc[i]] = i;
    for (int p = 0; p < f->n_pages; p++) {
        const omr_page_t *tp = &f->pages[p];
        for (int cs = tp->is_case ? 1 : 0; cs <= (tp->is_case ? (n_cases ? n_cases : 1) : 0); cs++) {
            int u = cs <= n_cases ? c->use[p * stride + cs] : -1;
            int ps = PS_READ;
            if (u >= 0)
                ps = c->role[u] == ROLE_UNREAD ? PS_BLOCKED : PS_READ;
            else if (tp->n_regions > 0)
                ps = missing_page(c, tp->number, cs);
            if (cs <= n_cases)
                c->pstate[p * stride + cs] = (unsigned char)ps;
        }
    }
    if (c->st)
        return c->st;
    /* a duplicate item names the case of the copy it duplicates */
    for (int k = 0; k < c->out->n_items; k++) {
        omr_review_item_t *it = &c->out->items[k];
        if (it->reason == OMR_REVIEW_DUPLICATE && it->question < 0 && it->page >= 0 && c->dup_match[it->page] >= 0)
            it->case_number = pc[c->dup_match[it->page]] > 0 ? pc[c->dup_match[it->page]] : 0;
    }
    size_t nq = (size_t)f->n_questions * stride + 1;
    c->answered = calloc(nq, 1);
    c->unsure = calloc(nq, 1);
    c->missing = calloc(nq, 1);
    c->route_state = calloc(nq, 1);
    size_t nv = (size_t)c->n_cols[0] + (size_t)n_cases * c->n_cols[1];
    c->out->values = calloc(nv + 1, sizeof *c->out->values);
    if (!c->answered || !c->unsure || !c->missing || !c->route_state || !c->out->values)
        return OMR_ENOMEM;
    c->out->n_values = (int)nv;
    c->out->n_cases = n_cases;
    for (int cs = 0; cs <= n_cases; cs++)
        for (int j = 0; j < c->n_cols[cs > 0]; j++) {
            omr_value_t *v = val(c, cs, j);
            v->case_number = cs;
            v->column = j;
        }
    return OMR_OK;
}

/* A respondent-part page scanned twice with different marks: each question
 * where the copies differ is blocked by a question-level DUPLICATE item. */
static void duplicate_questions(ctx_t *c, const int *dup_of)
{
    const omr_form_t *f = c->form;
    for (int i = 0; i < c->n_pages; i++) {
        if (dup_of[i] < 0)
            continue;
        const omr_page_result_t *p = &c->pages[i], *m = &c->pages[dup_of[i]];
        for (int qi = 0; qi < f->n_questions; qi++) {
            const omr_question_t *q = &f->questions[qi];
            if (q->page != p->page_number - 1 || q->is_case || !reading_diffs(m, p, q->first_region, q->n_regions))
                continue;
            int cols[MAX_QCOLS];
            int n = question_cols(c, qi, cols);
            raise_item(c, OMR_REVIEW_DUPLICATE, i, qi, 0, "", cols, n, NULL, -1, "",
                       "%s: page %s-%02d was scanned twice and the copies differ here; the first copy (%s page %d) "
                       "is coded",
                       q->label, f->id, p->page_number, omr_path_tail(m->file, 80), m->index_in_file + 1);
        }
    }
}

omr_status_t omr_code_respondent(const omr_survey_t *s, const omr_form_t *form, const omr_page_result_t *pages,
                                 int n_pages, const omr_override_t *overrides, int n_overrides,
                                 const omr_code_options_t *opts, omr_coded_t *out, omr_error_t *err)
{
    (void)s;
    if (!out)
        return omr_error_set(err, OMR_EINPUT, "omr_code_respondent: no output");
    memset(out, 0, sizeof *out);
    if (!form || n_pages < 0 || (n_pages > 0 && !pages) || n_overrides < 0 || (n_overrides > 0 && !overrides))
        return omr_error_set(err, OMR_EINPUT, "omr_code_respondent: missing form, pages or overrides");
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.form = form;
    c.pages = pages;
    c.n_pages = n_pages;
    c.ovr = overrides;
    c.n_ovr = n_overrides;
    c.out = out;
    if (opts)
        c.opt = *opts;
    else {
        omr_code_options_default(&c.opt);
        c.opt.digit_accept_conf = s->icr_accept_conf; /* the survey's office policy */
    }
    omr_status_t st = check_pages(&c, err);
    if (st)
        return st;
    int **copies = calloc((size_t)form->n_pages + 1, sizeof *copies);
    int *n_copies = calloc((size_t)form->n_pages + 1, sizeof *n_copies);
    int *dup_of = calloc((size_t)n_pages + 1, sizeof *dup_of);
    unsigned char *is_page = calloc((size_t)n_overrides + 1, 1);
    c.ovr_is_page = is_page;
    c.role = calloc((size_t)n_pages + 1, sizeof *c.role);
    c.dup_match = calloc((size_t)n_pages + 1, sizeof *c.dup_match);
    st = copies && n_copies && dup_of && is_page && c.role && c.dup_match ? map_columns(&c) : OMR_ENOMEM;
    for (int p = 0; p < form->n_pages && !st; p++)
        if (!(copies[p] = malloc(((size_t)n_pages + 1) * sizeof **copies)))
            st = OMR_ENOMEM;
    for (int i = 0; i < n_overrides && !st; i++)
        is_page[i] = !strncmp(overrides[i].var, "page:", 5);
    if (!st)
        st = sort_copies(&c, copies, n_copies, dup_of, err);
    if (!st)
        st = assign_cases(&c);
    if (!st)
        st = check_overrides(&c, err);
    if (!st) {
        for (int cs = 0; cs <= c.n_cases; cs++)
            for (int qi = 0; qi < form->n_questions; qi++)
                if ((cs > 0) == (form->questions[qi].is_case != 0))
                    code_question(&c, qi, cs);
        duplicate_questions(&c, dup_of);
        for (int cs = 0; cs <= c.n_cases; cs++)
            for (int qi = 0; qi < form->n_questions; qi++)
                if ((cs > 0) == (form->questions[qi].is_case != 0))
                    route(&c, qi, cs, 0);
        st = c.st;
    }
    if (copies)
        for (int p = 0; p < form->n_pages; p++)
            free(copies[p]);
    free(copies);
    free(n_copies);
    free(dup_of);
    free_ctx(&c);
    if (st) {
        if (st == OMR_ENOMEM)
            omr_error_set(err, OMR_ENOMEM, "coding form %s: out of memory", form->id);
        omr_coded_clear(out);
    }
    return st;
}
