/* review_value.c -- what an operator may answer to a review item, how an
 * answer becomes the coder's overrides, and re-coding a respondent with
 * them (review.h: omr_review_check_value, omr_review_overrides,
 * omr_review_recode).
 *
 * Why the server checks values itself rather than letting the coder refuse
 * them: a value outside the question's options must be refused with a 4xx
 * before anything is written (issue 4), and the coder's check comes only
 * after the decision is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "review.h"

/* A canonical positive code "1".."999" (no sign, no leading zero). */
static int parse_code(const char *z)
{
    if (!z[0] || z[0] == '0' || strlen(z) > 3)
        return -1;
    int v = 0;
    for (const char *p = z; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
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

static int is_col(const omr_question_t *q, int code)
{
    for (int i = 0; i < q->n_cols; i++)
        if (q->cols[i].code == code)
            return 1;
    return 0;
}

/* A transcription: valid UTF-8 (checked loosely: no stray bytes below 0x20,
 * no DEL), at most 255 bytes, which is what a response cell holds. */
static int text_ok(const char *z)
{
    size_t n = strlen(z);
    if (n > 255)
        return 0;
    const unsigned char *p = (const unsigned char *)z;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c >= 0x80) { /* a UTF-8 sequence: lead byte and continuation bytes */
            int k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
            if (k < 0 || c > 0xf4)
                return 0;
            for (int j = 1; j <= k; j++)
                if (i + j >= n || (p[i + j] & 0xc0) != 0x80)
                    return 0;
            i += (size_t)k;
        }
    }
    return 1;
}

/* The value of one column of question q is valid (code.c check_overrides). */
static int column_value_ok(const omr_question_t *q, const omr_column_t *col, const char *v)
{
    if (col->is_text)
        return text_ok(v);
    int code = parse_code(v);
    switch (q->kind) {
    case OMR_KIND_SINGLE:
    case OMR_KIND_TOP3:
    case OMR_KIND_CODEGRID:
        return !v[0] || is_option(q, code);
    case OMR_KIND_GRID1:
        return !v[0] || is_col(q, code);
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST:
    case OMR_KIND_GRIDN:
        return !strcmp(v, "0") || !strcmp(v, "1");
    case OMR_KIND_NUMBER:
        return omr_code_number_ok(q, v);
    default:
        return 0;
    }
}

/* The columns of one part of form; owned by the caller (free()), NULL on OOM.
 * A part without columns (a form with no case pages) is an empty array, not
 * NULL: it is no error. */
static omr_column_t *columns(const omr_form_t *form, int part, int *pn)
{
    omr_column_t *cols = NULL;
    *pn = omr_template_columns(form, part, &cols);
    if (*pn < 0) {
        *pn = 0;
        return NULL;
    }
    return cols ? cols : calloc(1, sizeof *cols);
}

/* Find column `name` in either part; copies it to *out. */
static int find_column(const omr_form_t *form, const char *name, omr_column_t *out, int *ppart)
{
    for (int part = 0; part < 2; part++) {
        int n;
        omr_column_t *cols = columns(form, part, &n);
        for (int i = 0; i < n; i++)
            if (!strcmp(cols[i].name, name)) {
                *out = cols[i];
                *ppart = part;
                free(cols);
                return 1;
            }
        free(cols);
    }
    return 0;
}

/* Does the comma list z hold token t? */
static int list_has(const char *z, const char *t)
{
    size_t n = strlen(t);
    for (const char *p = z; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !memcmp(p, t, n))
            return 1;
        p += k + (e ? 1 : 0);
    }
    return 0;
}

/* The value token for key in a "key:value,key:value" list; NULL when absent.
 * Writes into buf. */
static const char *keyed_value(const char *z, const char *key, char *buf, size_t n)
{
    size_t kn = strlen(key);
    for (const char *p = z; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k > kn && !memcmp(p, key, kn) && p[kn] == ':') {
            snprintf(buf, n, "%.*s", (int)(k - kn - 1), p + kn + 1);
            return buf;
        }
        p += k + (e ? 1 : 0);
    }
    return NULL;
}

/* Every token of list z is one of the question's (checked by the caller
 * counting matches): returns the number of tokens. */
static int list_count(const char *z)
{
    if (!z[0])
        return 0;
    int n = 1;
    for (const char *p = z; *p; p++)
        n += *p == ',';
    return n;
}

/* Expand a whole-question value into one override per non-text column. */
static int expand_question(const omr_form_t *form, int qi, int case_number, const char *value, omr_override_t *out,
                           int max)
{
    const omr_question_t *q = &form->questions[qi];
    int n;
    omr_column_t *cols = columns(form, q->is_case, &n);
    if (!cols)
        return -1;
    int na = !strcmp(value, "-1"), k = 0, used = 0, box = 0, bad = 0;
    int binary = q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST || q->kind == OMR_KIND_GRIDN;
    int keyed = q->kind == OMR_KIND_GRID1 || q->kind == OMR_KIND_CODEGRID;
    /* top3: the list in box order */
    char top3[3][8] = {"", "", ""};
    if (q->kind == OMR_KIND_TOP3 && !na) {
        if (list_count(value) > 3)
            bad = 1;
        const char *p = value;
        for (int i = 0; i < 3 && *p; i++) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(top3[i], sizeof top3[i], "%.*s", (int)(len < 7 ? len : 7), p);
            p += len + (e ? 1 : 0);
        }
        /* the conflicts the coder raises the item for cannot be its answer:
         * a code twice, a written box after an empty one */
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (top3[j][0] && (!top3[i][0] || !strcmp(top3[i], top3[j])))
                    bad = 1;
    }
    for (int i = 0; i < n && !bad; i++) {
        const omr_column_t *c = &cols[i];
        if (c->question != qi || c->is_text)
            continue;
        char tok[80], buf[80];
        const char *v = "";
        omr_code_column_token(form, q, c, tok, sizeof tok);
        if (na)
            v = binary ? "0" : "";
        else if (q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_NUMBER)
            v = value; /* the question's one column */
        else if (binary) {
            v = list_has(value, tok) ? "1" : "0";
            used += v[0] == '1';
        } else if (keyed) {
            const char *kv = keyed_value(value, tok, buf, sizeof buf);
            v = kv ? kv : "";
            used += kv != NULL;
        } else if (q->kind == OMR_KIND_TOP3) {
            v = box < 3 ? top3[box] : "";
            box++;
        }
        if (!column_value_ok(q, c, v))
            bad = 1;
        if (k < max) {
            snprintf(out[k].var, sizeof out[k].var, "%s", c->name);
            out[k].case_number = case_number;
            snprintf(out[k].value, sizeof out[k].value, "%s", v);
        }
        k++;
    }
    free(cols);
    /* every token must have named a column: "9" for a 7-option question is refused */
    if (!na && (binary || keyed) && used != list_count(value))
        bad = 1;
    if (!na && (q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_NUMBER) && k != 1)
        bad = 1;
    return bad ? -1 : k;
}

int omr_review_overrides(const omr_form_t *form, const char *question, const char *var, int case_number,
                         const char *value, omr_override_t *out, int max)
{
    if ((!question || !question[0]) && var && !strncmp(var, "page:missing:", 13)) {
        /* a page missing from the packet, confirmed by the operator */
        if (strcmp(value, "missing"))
            return -1;
        if (max > 0) {
            snprintf(out[0].var, sizeof out[0].var, "%s", var);
            out[0].case_number = 0;
            snprintf(out[0].value, sizeof out[0].value, "%s", value);
        }
        return 1;
    }
    if (var && !strncmp(var, "page:", 5)) {
        /* a copy of a page already coded (the coder raises it with no
         * question): its decision is the coder's */
        if (strcmp(value, "duplicate") && strcmp(value, "case"))
            return -1;
        if (max > 0) {
            snprintf(out[0].var, sizeof out[0].var, "%s", var);
            out[0].case_number = 0;
            snprintf(out[0].value, sizeof out[0].value, "%s", value);
        }
        return 1;
    }
    if (!question || !question[0])
        return 0; /* page-level: not the coder's */
    int qi = omr_template_question_index(form, question);
    if (qi < 0)
        return -1;
    if (var && var[0]) {
        omr_column_t col;
        int part;
        if (!find_column(form, var, &col, &part) || col.question != qi ||
            !column_value_ok(&form->questions[qi], &col, value))
            return -1;
        if (max > 0) {
            snprintf(out[0].var, sizeof out[0].var, "%s", var);
            out[0].case_number = case_number;
            snprintf(out[0].value, sizeof out[0].value, "%s", value);
        }
        return 1;
    }
    return expand_question(form, qi, case_number, value, out, max);
}

static int respondent_ok(const char *z)
{
    size_t n = strlen(z);
    if (n < 1 || n > 31)
        return 0;
    for (const char *p = z; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '-'))
            return 0;
    return 1;
}

omr_status_t omr_review_check_value(const omr_survey_t *survey, const char *form_id, omr_review_reason_t reason,
                                    const char *question, const char *var, const char *value, omr_error_t *err)
{
    if (!value)
        return omr_error_set(err, OMR_EINPUT, "no value");
    if ((!question || !question[0]) && (reason == OMR_REVIEW_MISSING_PAGE || (var && !strncmp(var, "page:missing:", 13)))) {
        /* a missing page: confirmed here; assigning a page to it is a decision
         * on that page's own item (POST /api/assign) */
        if (!strcmp(value, "missing"))
            return OMR_OK;
        return omr_error_set(err, OMR_EINPUT,
                             "a missing-page item takes \"missing\" (the page is really missing), not '%.60s';"
                             " to supply the page, assign an unidentified page to it",
                             value);
    }
    if (var && !strncmp(var, "page:", 5)) {
        /* a copy of a page already coded: the same sheet fed twice, or
         * another case on a photocopied case page */
        if (!strcmp(value, "duplicate") || !strcmp(value, "case"))
            return OMR_OK;
        return omr_error_set(err, OMR_EINPUT,
                             "a copy of a page already coded takes \"duplicate\" (the same sheet scanned again)"
                             " or \"case\" (another case), not '%.60s'",
                             value);
    }
    if (!question || !question[0]) {
        /* page-level item */
        if (!strcmp(value, "reject") || !strcmp(value, "duplicate"))
            return OMR_OK;
        char f[16], resp[40];
        int page = 0, end = 0;
        if (sscanf(value, "assign:%15[^:]:%d:%39[^:]%n", f, &page, resp, &end) == 3 && value[end] == 0) {
            const omr_form_t *form = omr_template_form(survey, f);
            if (!form)
                return omr_error_set(err, OMR_EINPUT, "assign: the survey has no form %s", f);
            if (page < 1 || page > form->n_pages)
                return omr_error_set(err, OMR_EINPUT, "assign: form %s has pages 1..%d, not %d", f, form->n_pages,
                                     page);
            if (!respondent_ok(resp))
                return omr_error_set(err, OMR_EINPUT, "assign: '%s' is not a respondent ID (letters, digits, '-')",
                                     resp);
            return OMR_OK;
        }
        return omr_error_set(err, OMR_EINPUT,
                             "a page-level item takes reject, duplicate or assign:FORM:PAGE:RESPONDENT, not '%.60s'",
                             value);
    }
    const omr_form_t *form = omr_template_form(survey, form_id);
    if (!form)
        return omr_error_set(err, OMR_EINPUT, "the item's form '%s' is not in the survey", form_id);
    int qi = omr_template_question_index(form, question);
    if (qi < 0)
        return omr_error_set(err, OMR_EINPUT, "form %s has no question %s", form_id, question);
    const omr_question_t *q = &form->questions[qi];
    if (!strcmp(value, "-1") && !(reason == OMR_REVIEW_ROUTING && (!var || !var[0])))
        return omr_error_set(err, OMR_EINPUT, "-1 (not applicable) is only an answer to a routing item");
    omr_override_t tmp[1];
    if (omr_review_overrides(form, question, var, 0, value, tmp, 0) < 0) {
        const char *want = "";
        if (var && var[0] && strncmp(var, "page:", 5)) {
            omr_column_t col;
            int part;
            if (!find_column(form, var, &col, &part) || col.question != qi)
                return omr_error_set(err, OMR_EINPUT, "%s has no column %s", q->label, var);
            if (col.is_text)
                want = "text of at most 255 bytes without control characters";
            else if (q->kind == OMR_KIND_GRID1)
                want = "\"\" or one of the grid's column codes";
            else if (q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST || q->kind == OMR_KIND_GRIDN)
                want = "1 (marked) or 0 (not marked)";
            else if (q->kind == OMR_KIND_NUMBER)
                want = "\"\" or the number's digits (0-9), at most one per box";
            else
                want = "\"\" or one of the question's option codes";
        } else if (var && var[0]) {
            want = "duplicate or case";
        } else {
            switch (q->kind) {
            case OMR_KIND_SINGLE:
                want = "\"\" or one option code";
                break;
            case OMR_KIND_MULTI:
            case OMR_KIND_TICKLIST:
                want = "the marked option codes, e.g. 2,5";
                break;
            case OMR_KIND_TOP3:
                want = "up to 3 option codes in box order, e.g. 3,1";
                break;
            case OMR_KIND_GRID1:
                want = "row:column pairs, e.g. a:2,b:3";
                break;
            case OMR_KIND_GRIDN:
                want = "the ticked cells as row:column, e.g. a:1,a:3";
                break;
            case OMR_KIND_CODEGRID:
                want = "cells as row_column:code, e.g. a_1:3";
                break;
            case OMR_KIND_NUMBER:
                want = "\"\" or the number's digits (0-9), at most one per box";
                break;
            default:
                want = "a transcription";
                break;
            }
        }
        return omr_error_set(err, OMR_EINPUT, "'%.60s' is not a valid answer to %s%s%s: it takes %s", value, q->label,
                             var && var[0] ? " " : "", var ? var : "", want);
    }
    return OMR_OK;
}

/* ---- re-coding ---- */

static long long respondent_batch(omr_store_t *store, const char *form, const char *respondent)
{
    sqlite3_stmt *st = NULL;
    long long b = 0;
    if (sqlite3_prepare_v2(omr_store_db(store), "SELECT batch FROM respondents WHERE form = ? AND respondent = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, form, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, respondent, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            b = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return b;
}

void omr_review_coding_free(omr_review_coding_t *c)
{
    if (!c)
        return;
    omr_store_pages_free(c->pages, c->n_pages);
    free(c->page_ids);
    free(c->values);
    free(c->items);
    free(c->cols[0]);
    free(c->cols[1]);
    omr_coded_clear(&c->coded);
    memset(c, 0, sizeof *c);
}

omr_status_t omr_review_coding_make(omr_store_t *store, const omr_survey_t *survey, const char *form_id,
                                    const char *respondent, omr_review_coding_t *c, omr_error_t *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->form, sizeof c->form, "%s", form_id);
    snprintf(c->respondent, sizeof c->respondent, "%s", respondent);
    const omr_form_t *form = omr_template_form(survey, form_id);
    if (!form)
        return omr_error_set(err, OMR_EINPUT, "re-code: the survey has no form '%s'", form_id);
    int n_dec = 0, n_ovr = 0, cap = 0;
    omr_store_decision_t *dec = NULL;
    omr_override_t *ovr = NULL;
    omr_status_t rc;
    c->batch = respondent_batch(store, form_id, respondent);
    if ((rc = omr_store_load_pages(store, form_id, respondent, &c->pages, &c->page_ids, &c->n_pages, err)) ||
        (rc = omr_store_decisions(store, form_id, respondent, &dec, &n_dec, err)))
        goto done;
    for (int i = 0; i < n_dec; i++) {
        int need = omr_review_overrides(form, dec[i].question, dec[i].var, dec[i].case_number, dec[i].after, NULL, 0);
        if (need <= 0)
            continue; /* page-level, or a value the template no longer takes: skipped, the item stays */
        if (n_ovr + need > cap) {
            cap = (n_ovr + need) * 2;
            omr_override_t *t = realloc(ovr, (size_t)cap * sizeof *ovr);
            if (!t) {
                rc = omr_error_set(err, OMR_ENOMEM, "re-code: out of memory");
                goto done;
            }
            ovr = t;
        }
        n_ovr += omr_review_overrides(form, dec[i].question, dec[i].var, dec[i].case_number, dec[i].after,
                                      ovr + n_ovr, need);
    }
    if (c->n_pages == 0)
        goto done; /* no page left (an assignment undone): save removes the respondent */
    if ((rc = omr_code_respondent(survey, form, c->pages, c->n_pages, ovr, n_ovr, NULL, &c->coded, err)))
        goto done;
    for (int part = 0; part < 2; part++)
        if (!(c->cols[part] = columns(form, part, &c->n_cols[part]))) {
            rc = omr_error_set(err, OMR_ENOMEM, "re-code: out of memory");
            goto done;
        }
    c->values = calloc((size_t)c->coded.n_values + 1, sizeof *c->values);
    c->items = calloc((size_t)c->coded.n_items + 1, sizeof *c->items);
    if (!c->values || !c->items) {
        rc = omr_error_set(err, OMR_ENOMEM, "re-code: out of memory");
        goto done;
    }
    for (int i = 0; i < c->coded.n_values; i++) {
        const omr_value_t *v = &c->coded.values[i];
        int part = v->case_number > 0;
        c->values[i].case_number = v->case_number;
        c->values[i].col = v->column;
        c->values[i].name = v->column >= 0 && v->column < c->n_cols[part] ? c->cols[part][v->column].name : "";
        c->values[i].value = v->value;
        c->values[i].status = v->status;
    }
    for (int i = 0; i < c->coded.n_items; i++) {
        const omr_review_item_t *it = &c->coded.items[i];
        omr_store_item_t *x = &c->items[i];
        x->reason = it->reason;
        x->case_number = it->case_number;
        x->page = it->page >= 0 && it->page < c->n_pages ? c->page_ids[it->page] : 0;
        x->question = it->question >= 0 && it->question < form->n_questions ? form->questions[it->question].id : "";
        x->var = it->var;
        x->proposal = it->proposal;
        x->detail = it->detail;
    }
done:
    if (rc) {
        omr_error_prefix(err, "re-code %s %s: ", form_id, respondent);
        omr_review_coding_free(c);
    }
    free(dec);
    free(ovr);
    return rc;
}

/* A respondent none of whose pages is left (the only one was assigned to it
 * and the assignment undone): its responses, its undecided items and its row
 * go; decided items stay, not current, with their history. */
static omr_status_t forget_respondent(omr_store_t *store, const char *form, const char *respondent, omr_error_t *err)
{
    static const char *const sql[] = {
        "DELETE FROM responses WHERE form = ?1 AND respondent = ?2",
        "DELETE FROM review_items WHERE form = ?1 AND respondent = ?2 AND source = 'code' AND NOT EXISTS"
        " (SELECT 1 FROM decisions d WHERE d.item = review_items.id)", /* history stays, undone or not */
        "UPDATE review_items SET current = 0 WHERE form = ?1 AND respondent = ?2 AND source = 'code'",
        "DELETE FROM respondents WHERE form = ?1 AND respondent = ?2"};
    sqlite3 *db = omr_store_db(store);
    omr_status_t rc = omr_store_begin(store, err);
    for (size_t i = 0; !rc && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            rc = omr_error_set(err, OMR_EIO, "re-code: %s", sqlite3_errmsg(db));
            break;
        }
        sqlite3_bind_text(st, 1, form, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, respondent, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = omr_error_set(err, OMR_EIO, "re-code: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    if (rc) {
        omr_store_rollback(store);
        return rc;
    }
    return omr_store_commit(store, err);
}

omr_status_t omr_review_coding_save(omr_store_t *store, const omr_review_coding_t *c, omr_error_t *err)
{
    if (c->n_pages == 0)
        return forget_respondent(store, c->form, c->respondent, err);
    /* the case each page became goes with it (code.h page_case) */
    int np = c->coded.page_case && c->coded.n_page_case == c->n_pages ? c->n_pages : 0;
    omr_status_t rc = omr_store_save_coding(store, c->form, c->respondent, c->batch, c->values, c->coded.n_values,
                                            c->items, c->coded.n_items, c->page_ids, c->coded.page_case, np, err);
    if (rc)
        omr_error_prefix(err, "re-code %s %s: ", c->form, c->respondent);
    return rc;
}

omr_status_t omr_review_recode(omr_store_t *store, const omr_survey_t *survey, const char *form_id,
                               const char *respondent, omr_error_t *err)
{
    omr_review_coding_t c;
    omr_status_t rc = omr_review_coding_make(store, survey, form_id, respondent, &c, err);
    if (!rc)
        rc = omr_review_coding_save(store, &c, err);
    omr_review_coding_free(&c);
    return rc;
}
