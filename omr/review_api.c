/* review_api.c -- the review server's JSON API and images (review_internal.h).
 * Every handler here runs for a logged-in operator whose CSRF token was
 * checked (review_http.c). Inputs are checked before anything is written;
 * a refused request gets a 4xx and {"error": "..."} and changes nothing.
 *
 * Endpoints (POST bodies are JSON objects):
 *   POST /api/next {skip?: id}         lease the next item in context order -> {item}
 *   GET  /api/item/ID                  one item, read only (history, undo)
 *   POST /api/lease {item}             lease one item (after undo, from history)
 *   POST /api/decide {item, value, next?} decide a leased item; next: lease the following one too
 *   POST /api/undo {item?}             undo your last (or this) decision; the item is leased back to you
 *   POST /api/release                  give back your leases
 *   GET  /api/history                  your last decisions
 *   GET  /api/groups                   open items grouped by (reason, form, question, column)
 *   POST /api/group {reason, form, question, var, limit?} lease a group -> {items}
 *   POST /api/group/decide {decisions: [{item, value}]} all or nothing
 *   GET  /api/page/ID                  page view: the regions over the page, coloured by state
 *   GET  /api/progress                 by reason, by batch, per operator per hour
 *   GET  /api/unidentified             page-level items whose page could be a missing one
 *   POST /api/assign {missing, item, next?} that page is the missing page: assign it
 *   GET  /img/item/ID.png              crop of the item's regions with context
 *   GET  /img/page/ID.png?w=N          the whole page, upright, N px wide (200..2400)
 * IDs in paths are decimal numbers only: anything else (../, %2e, letters)
 * is 400 before any lookup, and files are only ever named by the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "recognise.h"
#include "review_internal.h"

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* ---- the item as stored ---- */

typedef struct {
    long long id;
    int reason;
    char form[16], respondent[32], question[24], var[64];
    int case_number;
    long long page;
    char proposal[512], detail[512], state[16], lease_owner[40], lease_expires[40], source[8];
    int current;
} item_row_t;

/* Column i of st into dst (n bytes) as valid UTF-8 (omr_utf8_safe): every
 * string of an item or a page goes into JSON, which refuses stray bytes (a
 * Shift-JIS file name, a copy cut inside a character) and with them the
 * whole reply. */
static void text_col(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    snprintf(dst, n, "%s", (const char *)sqlite3_column_text(st, i) ?: "");
    const char *safe = omr_utf8_safe(dst); /* stray bytes, or the copy ended inside a character */
    if (safe != dst)
        snprintf(dst, n, "%s", safe); /* no longer: each stray byte becomes one '?' */
}

/* A column as valid UTF-8 for json_pack (omr_utf8_safe). */
#define UCOL(st, i) omr_utf8_safe((const char *)sqlite3_column_text(st, i))

static int load_item(sqlite3 *db, long long id, item_row_t *it)
{
    sqlite3_stmt *st = NULL;
    memset(it, 0, sizeof *it);
    if (sqlite3_prepare_v2(db,
                           "SELECT id, reason, form, respondent, question, var, case_number, coalesce(page, 0),"
                           " coalesce(proposal, ''), coalesce(detail, ''), state, coalesce(lease_owner, ''),"
                           " coalesce(lease_expires, ''), source, current FROM review_items WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        it->id = sqlite3_column_int64(st, 0);
        it->reason = sqlite3_column_int(st, 1);
#define TXT(i, dst) text_col(st, i, dst, sizeof dst)
        TXT(2, it->form);
        TXT(3, it->respondent);
        TXT(4, it->question);
        TXT(5, it->var);
        it->case_number = sqlite3_column_int(st, 6);
        it->page = sqlite3_column_int64(st, 7);
        TXT(8, it->proposal);
        TXT(9, it->detail);
        TXT(10, it->state);
        TXT(11, it->lease_owner);
        TXT(12, it->lease_expires);
        TXT(13, it->source);
        it->current = sqlite3_column_int(st, 14);
    }
    sqlite3_finalize(st);
    return found;
}

static int load_page(sqlite3 *db, long long id, omr_review_page_t *pg)
{
    sqlite3_stmt *st = NULL;
    memset(pg, 0, sizeof *pg);
    if (sqlite3_prepare_v2(db,
                           "SELECT f.path, p.idx, coalesce(p.xform, ''), coalesce(p.orientation, 0),"
                           " coalesce(p.form, ''), coalesce(p.page_number, 0), p.status, f.id, f.sha256,"
                           " coalesce(f.size, 0) FROM pages p"
                           " JOIN files f ON f.id = p.file WHERE p.id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        pg->id = id;
        /* the path as stored, bytes and all: the page is read from it
         * (omr_utf8_safe it for JSON) */
        snprintf(pg->path, sizeof pg->path, "%s", (const char *)sqlite3_column_text(st, 0) ?: "");
        pg->idx = sqlite3_column_int(st, 1);
        const char *xf = (const char *)sqlite3_column_text(st, 2);
        double *x = pg->xform;
        pg->has_xform = xf && sscanf(xf, "[%lf,%lf,%lf,%lf,%lf,%lf]", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) == 6 &&
                        (x[0] * x[4] - x[1] * x[3]) != 0;
        pg->orientation = sqlite3_column_int(st, 3);
        TXT(4, pg->form);
        pg->page_number = sqlite3_column_int(st, 5);
        TXT(6, pg->status);
        pg->file_id = sqlite3_column_int64(st, 7);
        TXT(8, pg->sha256);
        pg->size = sqlite3_column_int64(st, 9);
        if (strcmp(pg->status, "ok"))
            pg->has_xform = 0; /* a failed registration's transform is not to be trusted */
    }
    sqlite3_finalize(st);
    return found;
#undef TXT
}

/* ---- what an item is about, from the template ---- */

static const omr_form_t *item_form(omr_review_server_t *srv, const item_row_t *it, int *pqi)
{
    const omr_form_t *f = it->form[0] ? omr_template_form(srv->survey, it->form) : NULL;
    *pqi = f && it->question[0] ? omr_template_question_index(f, it->question) : -1;
    return f;
}

/* Does region r (of question q) concern the item's column var? */
static int region_matches(const omr_question_t *q, const omr_region_t *r, const char *var)
{
    if (!var[0] || !strcmp(r->var, var))
        return 1;
    if (q->kind == OMR_KIND_NUMBER) /* its boxes (B4_d1 …) all feed its one column (B4) */
        return !strcmp(var, q->base);
    size_t n = strlen(var), m = strlen(r->var);
    /* "その他": the option (Q2_6, or a single's Q1) goes with its field (Q2_6_text, Q1_6_text) */
    if (n > 5 && !strcmp(var + n - 5, "_text") && m < n && !strncmp(var, r->var, m) && var[m] == '_')
        return 1;
    if (m > 5 && !strcmp(r->var + m - 5, "_text") && n < m && !strncmp(var, r->var, n) && r->var[n] == '_')
        return 1;
    return 0;
}

static void rect_union(omr_rect_t *u, const omr_rect_t *r, int *have)
{
    if (r->w <= 0 || r->h <= 0)
        return;
    if (!*have) {
        *u = *r;
        *have = 1;
        return;
    }
    double x0 = u->x < r->x ? u->x : r->x, y0 = u->y < r->y ? u->y : r->y;
    double x1 = u->x + u->w > r->x + r->w ? u->x + u->w : r->x + r->w;
    double y1 = u->y + u->h > r->y + r->h ? u->y + u->h : r->y + r->h;
    u->x = x0, u->y = y0, u->w = x1 - x0, u->h = y1 - y0;
}

/* The page's region states (regions table), index = template region; NULL
 * when none are stored. Owned by the caller (free()). Caller holds the DB lock. */
static int *region_states(sqlite3 *db, long long page, int n)
{
    int *v = n > 0 ? malloc((size_t)n * sizeof *v) : NULL;
    sqlite3_stmt *st = NULL;
    if (!v)
        return NULL;
    for (int i = 0; i < n; i++)
        v[i] = -1;
    if (sqlite3_prepare_v2(db, "SELECT idx, state FROM regions WHERE page = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, page);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int i = sqlite3_column_int(st, 0);
            if (i >= 0 && i < n)
                v[i] = sqlite3_column_int(st, 1);
        }
    }
    sqlite3_finalize(st);
    return v;
}

/* The crop of an item: its regions with the question's other regions and
 * labels around them for context; a grid's column headings always (a row
 * of circles means nothing without them). Outlined in red: the regions the
 * item is about that are in doubt (states: the page's region states, may be
 * NULL), else the marked ones (two marks), else all of them. */
/* The region states of page pg (as region_states), sized by its template page. */
static int *page_states(omr_review_server_t *srv, sqlite3 *db, const omr_review_page_t *pg)
{
    const omr_form_t *f = pg->form[0] ? omr_template_form(srv->survey, pg->form) : NULL;
    if (!f || pg->page_number < 1 || pg->page_number > f->n_pages)
        return NULL;
    return region_states(db, pg->id, f->pages[pg->page_number - 1].n_regions);
}

static omr_status_t item_crop(omr_review_server_t *srv, const item_row_t *it, const omr_review_page_t *pg,
                             const int *states, unsigned char **pdata, size_t *plen, omr_error_t *err)
{
    int qi;
    const omr_form_t *f = item_form(srv, it, &qi);
    if (!f || qi < 0 || !pg->has_xform || pg->page_number < 1 || pg->page_number > f->n_pages ||
        strcmp(pg->form, it->form))
        return omr_error_set(err, OMR_ENOTFOUND, "item %lld has no region to show", it->id);
    const omr_page_t *tp = &f->pages[pg->page_number - 1];
    const omr_question_t *q = &f->questions[qi];
    omr_review_mark_t marks[64];
    int idx[64];
    int nm = 0, have = 0, have_q = 0;
    omr_rect_t area = {0}, qarea = {0};
    for (int i = 0; i < tp->n_regions; i++) {
        const omr_region_t *r = &tp->regions[i];
        if (r->question != qi)
            continue;
        rect_union(&qarea, &r->box, &have_q);
        rect_union(&qarea, &r->label, &have_q);
        if (!region_matches(q, r, it->var))
            continue;
        rect_union(&area, &r->box, &have);
        rect_union(&area, &r->label, &have);
        for (int k = 0; k < q->n_rows; k++)
            if (r->row[0] && !strcmp(q->rows[k].id, r->row))
                rect_union(&area, &q->rows[k].label, &have);
        if (nm < 64) {
            omr_review_mark_t *m = &marks[nm];
            idx[nm++] = i;
            m->r = r->box;
            m->r.x -= 0.8, m->r.y -= 0.8, m->r.w += 1.6, m->r.h += 1.6;
            m->rgb[0] = 230, m->rgb[1] = 30, m->rgb[2] = 30;
            m->width = 2;
        }
    }
    /* a number is read as a whole, its digits over the lines: one outline
     * round its boxes, none between them */
    if (q->kind == OMR_KIND_NUMBER && nm > 1) {
        int one = 0;
        omr_rect_t all = {0};
        for (int m = 0; m < nm; m++)
            rect_union(&all, &marks[m].r, &one);
        marks[0].r = all;
        nm = 1;
    }
    /* only the cells in doubt (else the marked ones) when there are some */
    for (int want = OMR_MARK_DOUBTFUL; states && nm > 1 && want >= OMR_MARK_MARKED; want--) {
        int k = 0;
        for (int m = 0; m < nm; m++)
            if (states[idx[m]] == want)
                k++;
        if (k == 0 || k == nm)
            continue;
        k = 0;
        for (int m = 0; m < nm; m++)
            if (states[idx[m]] == want)
                marks[k++] = marks[m];
        nm = k;
        break;
    }
    /* a grid: its column headings */
    for (int k = 0; k < q->n_cols && have; k++)
        if (q->cols[k].label.w > 0 && q->cols[k].label.y < area.y) {
            omr_rect_t hd = q->cols[k].label;
            omr_rect_t hq = hd;
            hd.x = area.x, hd.w = area.w > 0 ? area.w : hd.w; /* only upwards */
            rect_union(&area, &hd, &have);
            hq.x = qarea.x, hq.w = qarea.w > 0 ? qarea.w : hq.w;
            rect_union(&qarea, &hq, &have_q);
        }
    if (!have)
        return omr_error_set(err, OMR_ENOTFOUND, "item %lld: no region of %s on this page", it->id, it->question);
    /* context: the whole question when it is not much bigger, else a margin;
     * and the printed prompt when it is close (a cover field's label) */
    if (have_q && qarea.h <= 70 && qarea.w <= 200)
        area = qarea;
    omr_rect_t with_prompt = area;
    int hp = 1;
    rect_union(&with_prompt, &q->prompt, &hp);
    if (with_prompt.h <= area.h + 12 && with_prompt.w <= 200)
        area = with_prompt;
    area.x -= 5, area.y -= 4, area.w += 10, area.h += 8;
    char key[48];
    snprintf(key, sizeof key, "i:%lld:%lld", it->id, pg->id);
    return omr_review_images_crop(srv->images, key, pg, area, marks, nm, 8.0, pdata, plen, err);
}

/* ---- item JSON ---- */

static json_t *options_json(const omr_question_t *q)
{
    json_t *a = json_array();
    for (int i = 0; i < q->n_options; i++)
        json_array_append_new(a, json_pack("{s:i,s:s}", "code", q->options[i].code, "text",
                                           q->options[i].text ? q->options[i].text : ""));
    return a;
}

static json_t *item_json(omr_review_server_t *srv, sqlite3 *db, const item_row_t *it)
{
    int qi;
    const omr_form_t *f = item_form(srv, it, &qi);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)it->id, "reason",
                          omr_review_reason_name(it->reason), "reason_text", omr_review_reason_text(it->reason), "form",
                          it->form, "respondent", it->respondent, "question_id", it->question, "case", it->case_number,
                          "var", it->var, "proposal", it->proposal, "detail", it->detail, "state", it->state,
                          "lease_owner", it->lease_owner);
    json_object_set_new(o, "lease_expires", json_string(it->lease_expires));
    json_object_set_new(o, "page_id", json_integer(it->page));
    omr_review_page_t pg;
    int has_page = it->page > 0 && load_page(db, it->page, &pg) == 1;
    if (has_page) {
        json_object_set_new(o, "page_number", json_integer(pg.page_number));
        json_object_set_new(o, "page_status", json_string(pg.status));
        char u[64];
        snprintf(u, sizeof u, "/img/page/%lld.png", it->page);
        json_object_set_new(o, "page_image", json_string(u));
        const char *base = strrchr(pg.path, '/');
        json_object_set_new(o, "file", json_string(omr_utf8_safe(base ? base + 1 : pg.path)));
        json_object_set_new(o, "file_page", json_integer(pg.idx + 1));
    }
    const char *input = "page";
    char mform[16] = "";
    int mpage = 0, mcase = 0;
    if (!it->question[0] && sscanf(it->var, "page:missing:%15[^:]:%d:%d", mform, &mpage, &mcase) == 3) {
        /* a page missing from the packet: confirm it, or assign a page to it */
        input = "missing";
        json_object_set_new(o, "missing", json_pack("{s:s,s:i,s:i}", "form", mform, "page_number", mpage, "case", mcase));
    } else if (!strncmp(it->var, "page:", 5)) {
        input = "dup"; /* a copy of a page already coded: duplicate, or another case */
    } else if (!it->question[0]) {
        input = "page"; /* page-level: assign, duplicate, reject */
        json_object_set_new(o, "forms", json_array());
        for (int i = 0; i < srv->survey->n_forms; i++)
            json_array_append_new(json_object_get(o, "forms"),
                                  json_pack("{s:s,s:i}", "id", srv->survey->forms[i].id, "pages",
                                            srv->survey->forms[i].n_pages));
    } else if (f && qi >= 0) {
        const omr_question_t *q = &f->questions[qi];
        json_object_set_new(o, "question",
                            json_pack("{s:s,s:s,s:s}", "label", q->label, "text", q->text ? q->text : "", "kind",
                                      omr_template_kind_name(q->kind)));
        json_t *opts = NULL;
        omr_column_t *cols = NULL;
        int n = omr_template_columns(f, q->is_case, &cols), ci = -1;
        for (int i = 0; i < n && it->var[0]; i++)
            if (!strcmp(cols[i].name, it->var))
                ci = i;
        int binary = q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST || q->kind == OMR_KIND_GRIDN;
        if (ci >= 0 && cols[ci].is_text) {
            input = "text";
        } else if (ci >= 0) {
            const omr_region_t *r =
                cols[ci].region >= 0 ? &f->pages[q->page].regions[cols[ci].region] : NULL;
            if (binary) {
                input = "choice";
                opts = json_pack("[{s:i,s:s},{s:i,s:s}]", "code", 1, "text", "marked", "code", 0, "text", "not marked");
                char sub[512] = "";
                for (int k = 0; r && k < q->n_options; k++)
                    if (q->options[k].code == r->code)
                        snprintf(sub, sizeof sub, "%d %s", r->code, q->options[k].text ? q->options[k].text : "");
                for (int k = 0; r && k < q->n_rows; k++)
                    if (!strcmp(q->rows[k].id, r->row))
                        snprintf(sub, sizeof sub, "row %s %s, column %d", r->row, q->rows[k].text ? q->rows[k].text : "",
                                 r->code);
                json_object_set_new(o, "cell", json_string(sub));
            } else if (q->kind == OMR_KIND_GRID1) {
                input = "choice";
                opts = json_array();
                for (int k = 0; k < q->n_cols; k++)
                    json_array_append_new(opts, json_pack("{s:i,s:s}", "code", q->cols[k].code, "text",
                                                          q->cols[k].text ? q->cols[k].text : ""));
                size_t b = strlen(q->base);
                for (int k = 0; k < q->n_rows; k++)
                    if (!strcmp(it->var + (strlen(it->var) > b ? b + 1 : 0), q->rows[k].id))
                        json_object_set_new(o, "cell",
                                            json_sprintf("row %s %s", q->rows[k].id, q->rows[k].text ? q->rows[k].text : ""));
            } else if (q->kind == OMR_KIND_TOP3 || q->kind == OMR_KIND_CODEGRID) {
                input = "digits";
                opts = options_json(q);
            } else if (q->kind == OMR_KIND_NUMBER) {
                input = "number";
                json_object_set_new(o, "boxes", json_integer(q->n_boxes));
            } else {
                input = "choice";
                opts = options_json(q);
            }
        } else { /* the whole question */
            if (q->kind == OMR_KIND_SINGLE) {
                input = "choice";
                opts = options_json(q);
            } else if (q->kind == OMR_KIND_MULTI || q->kind == OMR_KIND_TICKLIST) {
                input = "set";
                opts = options_json(q);
            } else if (q->kind == OMR_KIND_TOP3) {
                input = "list";
                opts = options_json(q);
            } else if (q->kind == OMR_KIND_NUMBER) {
                input = "number";
                json_object_set_new(o, "boxes", json_integer(q->n_boxes));
            } else {
                input = "text";
                json_object_set_new(o, "hint",
                                    json_string(q->kind == OMR_KIND_GRID1   ? "row:column pairs, e.g. a:2,b:3"
                                                : q->kind == OMR_KIND_GRIDN ? "ticked cells row:column, e.g. a:1,a:3"
                                                                            : "cells row_column:code, e.g. a_1:3"));
            }
        }
        free(cols);
        if (opts)
            json_object_set_new(o, "options", opts);
        if (it->reason == OMR_REVIEW_ROUTING && !it->var[0])
            json_object_set_new(o, "allow_na", json_true());
        if (has_page && pg.has_xform) {
            char u[64];
            snprintf(u, sizeof u, "/img/item/%lld.png", it->id);
            json_object_set_new(o, "image", json_string(u));
        }
    }
    json_object_set_new(o, "input", json_string(input));
    /* the live decision, if any */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT operator, time, coalesce(before, ''), coalesce(after, '') FROM decisions"
                           " WHERE item = ? AND undone = 0",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, it->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            json_object_set_new(o, "decision",
                                json_pack("{s:s,s:s,s:s,s:s}", "operator", UCOL(st, 0), "time", UCOL(st, 1),
                                          "before", UCOL(st, 2), "after", UCOL(st, 3)));
    }
    sqlite3_finalize(st);
    return o;
}

/* ---- small helpers ---- */

/* A decimal id from a path segment: digits only, 1..15 of them, then `tail`. */
static long long path_id(const char *z, const char *tail)
{
    long long v = 0;
    int n = 0;
    while (z[n] >= '0' && z[n] <= '9' && n < 16)
        v = v * 10 + (z[n++] - '0');
    if (n == 0 || n > 15 || strcmp(z + n, tail) || v <= 0)
        return 0;
    return v;
}

static long long body_id(omr_review_req_t *req, const char *key)
{
    json_t *v = json_object_get(req->body, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (long long)json_integer_value(v) : 0;
}

static sqlite3 *lock_db(omr_review_server_t *srv)
{
    pthread_mutex_lock(&srv->db_lock);
    return omr_store_db(srv->store);
}

static void unlock_db(omr_review_server_t *srv) { pthread_mutex_unlock(&srv->db_lock); }

static void item_key(const item_row_t *it, char *buf, size_t n)
{
    snprintf(buf, n, "%s|%s|%d|%s|%s", it->form, it->respondent, it->case_number, it->question, it->var);
}

static void remember(omr_review_session_t *s, const item_row_t *it)
{
    s->last_item = it->id;
    item_key(it, s->last_key, sizeof s->last_key);
    s->last_page = it->page;
    snprintf(s->last_form, sizeof s->last_form, "%s", it->form);
    snprintf(s->last_question, sizeof s->last_question, "%s", it->question);
}

/* Lease the next item for the session and describe it; NULL when the queue
 * is empty. Caller holds the DB lock. */
static json_t *next_item(omr_review_server_t *srv, sqlite3 *db, omr_review_session_t *s, int *pdberr)
{
    *pdberr = 0;
    for (int pass = 0; pass < 2; pass++) {
        long long id = omr_review_q_next(db, s->op, s->last_page, s->last_form, s->last_question, s->skip);
        if (id < 0) {
            *pdberr = 1;
            return NULL;
        }
        if (id == 0) {
            if (!s->skip[0])
                return NULL;
            s->skip[0] = 0; /* only skipped items are left: offer them again */
            continue;
        }
        omr_review_q_release(db, s->op, id);
        if (omr_review_q_lease(db, s->op, id, srv->opts.lease_seconds) != 0) {
            *pdberr = 1;
            return NULL;
        }
        item_row_t it;
        if (load_item(db, id, &it) != 1) {
            *pdberr = 1;
            return NULL;
        }
        remember(s, &it);
        return item_json(srv, db, &it);
    }
    return NULL;
}

static void add_skip(omr_review_session_t *s, long long id)
{
    char t[32];
    snprintf(t, sizeof t, ",%lld,", id);
    if (strstr(s->skip, t))
        return;
    size_t n = strlen(s->skip);
    if (n + strlen(t) >= sizeof s->skip)
        s->skip[0] = 0, n = 0;
    snprintf(s->skip + n, sizeof s->skip - n, "%s", n ? t + 1 : t);
}

/* After a decision or an undo: the store marked the respondent dirty; the
 * coder thread (review_http.c) re-codes it within milliseconds, outside the
 * request, so a decision costs one small transaction. */
static json_t *recode_after(omr_review_server_t *srv, const item_row_t *it)
{
    (void)it;
    pthread_mutex_lock(&srv->warm_lock);
    srv->code_kick = 1;
    pthread_cond_broadcast(&srv->warm_cond);
    pthread_mutex_unlock(&srv->warm_lock);
    return NULL;
}

/* The coder thread's pass: every dirty respondent is coded on the coder's
 * own connection with no lock held (loading pages and coding is most of the
 * work), and only the save takes the request threads' lock. A decision that
 * lands meanwhile changes the respondent's fingerprint (review_store.c): the
 * stale result is dropped and the respondent, still dirty, is coded again. */
int omr_review_code_dirty(omr_review_server_t *srv)
{
    omr_store_key_t *keys = NULL;
    int n = 0, done = 0, again = 0;
    omr_error_t err = {0};
    omr_store_t *cs = srv->code_store ? srv->code_store : srv->store;
    int own = cs != srv->store;
    if (!own)
        pthread_mutex_lock(&srv->db_lock);
    omr_status_t rc = omr_store_dirty_respondents(cs, &keys, &n, &err);
    if (!own)
        pthread_mutex_unlock(&srv->db_lock);
    if (rc)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!omr_template_form(srv->survey, keys[i].form))
            continue;
        char fp[128], fp2[128];
        omr_review_coding_t c;
        if (!own)
            pthread_mutex_lock(&srv->db_lock);
        omr_review_q_fingerprint(omr_store_db(cs), keys[i].form, keys[i].respondent, fp, sizeof fp);
        rc = omr_review_coding_make(cs, srv->survey, keys[i].form, keys[i].respondent, &c, &err);
        if (own)
            pthread_mutex_lock(&srv->db_lock);
        if (!rc) {
            omr_review_q_fingerprint(omr_store_db(srv->store), keys[i].form, keys[i].respondent, fp2, sizeof fp2);
            if (strcmp(fp, fp2))
                again = 1; /* decided meanwhile: code it again */
            else if ((rc = omr_review_coding_save(cs, &c, &err)) == OMR_OK)
                done++;
        }
        if (rc)
            srv->code_errors++;
        pthread_mutex_unlock(&srv->db_lock);
        omr_review_coding_free(&c);
    }
    free(keys);
    if (again) {
        pthread_mutex_lock(&srv->warm_lock);
        srv->code_kick = 1;
        pthread_mutex_unlock(&srv->warm_lock);
    }
    return done;
}

/* ---- handlers ---- */

static void api_next(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    long long skip = body_id(req, "skip");
    sqlite3 *db = lock_db(srv);
    if (skip && omr_review_q_holds(db, req->sess->op, skip) == 1)
        add_skip(req->sess, skip);
    int dberr;
    json_t *item = next_item(srv, db, req->sess, &dberr);
    unlock_db(srv);
    if (dberr) {
        omr_review_reply_error(rep, 500, "the queue could not be read: %s", sqlite3_errmsg(db));
        return;
    }
    rep->status = 200;
    rep->json = json_pack("{s:o}", "item", item ? item : json_null());
}

static void api_item(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep, long long id)
{
    sqlite3 *db = lock_db(srv);
    item_row_t it;
    int found = load_item(db, id, &it);
    json_t *o = found == 1 ? item_json(srv, db, &it) : NULL;
    unlock_db(srv);
    (void)req;
    if (!o) {
        omr_review_reply_error(rep, 404, "there is no review item %lld", id);
        return;
    }
    rep->status = 200;
    rep->json = json_pack("{s:o}", "item", o);
}

static void api_lease(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    long long id = body_id(req, "item");
    if (!id) {
        omr_review_reply_error(rep, 400, "give the item as {\"item\": ID}");
        return;
    }
    sqlite3 *db = lock_db(srv);
    item_row_t it;
    int found = load_item(db, id, &it);
    if (found != 1) {
        unlock_db(srv);
        omr_review_reply_error(rep, 404, "there is no review item %lld", id);
        return;
    }
    if (omr_review_q_lease(db, req->sess->op, id, srv->opts.lease_seconds) != 0) {
        unlock_db(srv);
        if (!strcmp(it.state, "resolved"))
            omr_review_reply_error(rep, 409, "item %lld is already decided", id);
        else
            omr_review_reply_error(rep, 409, "item %lld is leased to %s", id, it.lease_owner);
        return;
    }
    omr_review_q_release(db, req->sess->op, id);
    load_item(db, id, &it);
    remember(req->sess, &it);
    json_t *o = item_json(srv, db, &it);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:o}", "item", o);
}

/* Check that the operator may decide item id with value; fills *it. Returns
 * 0, or the HTTP status with the reply filled. Caller holds the DB lock. */
static int check_decision(omr_review_server_t *srv, sqlite3 *db, const char *op, long long id, const char *value,
                          item_row_t *it, omr_review_reply_t *rep)
{
    if (!id) {
        omr_review_reply_error(rep, 400, "give the item as a positive integer ID");
        return 400;
    }
    if (!value) {
        omr_review_reply_error(rep, 400, "item %lld: give the value as a string (\"\" for no answer)", id);
        return 400;
    }
    if (load_item(db, id, it) != 1) {
        omr_review_reply_error(rep, 404, "there is no review item %lld", id);
        return 404;
    }
    if (!strcmp(it->state, "resolved")) {
        omr_review_reply_error(rep, 409, "item %lld is already decided (undo it first)", id);
        return 409;
    }
    if (strcmp(it->state, "leased") || strcmp(it->lease_owner, op)) {
        if (!strcmp(it->state, "leased"))
            omr_review_reply_error(rep, 409, "item %lld is leased to another operator (%s)", id, it->lease_owner);
        else
            omr_review_reply_error(rep, 409, "item %lld is not leased to you: take it from the queue first", id);
        return 409;
    }
    omr_error_t err = {0};
    if (omr_review_check_value(srv->survey, it->form, it->reason, it->question, it->var, value, &err)) {
        omr_review_reply_error(rep, 400, "item %lld: %s", id, err.msg);
        return 400;
    }
    return 0;
}

/* Read page pg again as FORM page PAGE of RESPONDENT: register, sample and
 * classify (recognise.h) from the scanned image, trying the stored
 * orientation and then the others (a page without a barcode has none).
 * *res is filled (owned by the caller: omr_page_result_clear). OMR_OK when
 * the page registered; OMR_ENOTFOUND with the reason when it did not. No
 * lock is held: it takes a few hundred ms. */
static omr_status_t recognise_as(omr_review_server_t *srv, const omr_review_page_t *pg, const char *form, int page,
                                 const char *respondent, omr_page_result_t *res, omr_error_t *err)
{
    omr_image_t img;
    memset(&img, 0, sizeof img);
    memset(res, 0, sizeof *res);
    omr_status_t rc = omr_review_files_load(srv->files, pg, &img, err);
    omr_sample_cache_t *cache = NULL;
    if (rc || (rc = omr_sample_cache_new(srv->survey, &cache, err))) {
        omr_image_clear(&img);
        return rc;
    }
    const int tries[4] = {pg->orientation, pg->orientation == 0 ? 180 : 0, 90, 270};
    char why[512] = "";
    rc = OMR_ENOTFOUND;
    for (int t = 0; t < 4 && rc == OMR_ENOTFOUND; t++) {
        if (t > 0 && tries[t] == tries[0])
            continue;
        omr_page_result_clear(res);
        memset(res, 0, sizeof *res);
        snprintf(res->file, sizeof res->file, "%.1000s", pg->path);
        res->index_in_file = pg->idx;
        res->status = OMR_PAGE_OK;
        snprintf(res->form, sizeof res->form, "%s", form);
        res->page_number = page;
        snprintf(res->respondent, sizeof res->respondent, "%.31s", respondent);
        res->orientation = tries[t];
        res->dpi = img.dpi;
        omr_error_t rerr = {0};
        omr_status_t r = omr_recognise_page(img.pix, srv->survey, &srv->cal, cache, res, &rerr);
        if (r) {
            rc = r;
            *err = rerr;
        } else if (res->status == OMR_PAGE_OK) {
            rc = OMR_OK;
        } else if (!why[0]) {
            snprintf(why, sizeof why, "%s", res->reason);
        }
    }
    if (rc == OMR_ENOTFOUND)
        omr_error_set(err, OMR_ENOTFOUND, "the page cannot be registered as %s page %d: %s", form, page,
                      why[0] ? why : "corner marks not found");
    omr_sample_cache_free(cache);
    omr_image_clear(&img);
    return rc;
}

/* An "assign:FORM:PAGE:RESPONDENT" decision on page-level item id (leased to
 * the operator, value checked): the page is read again under that identity
 * first, outside the lock; only when it registers are the page, its regions
 * and the decision stored, in one transaction, and the respondent re-coded
 * (the coder thread). A page that does not register as that page is refused
 * (422) and nothing changes. Returns the HTTP status; rep filled on errors. */
static int assign_page(omr_review_server_t *srv, omr_review_req_t *req, long long id, const char *value,
                       omr_review_reply_t *rep)
{
    char form[16], resp[40];
    int page = 0;
    sscanf(value, "assign:%15[^:]:%d:%39[^:]", form, &page, resp);
    sqlite3 *db = lock_db(srv);
    item_row_t it;
    omr_review_page_t pg;
    int ok = load_item(db, id, &it) == 1 && it.page > 0 && load_page(db, it.page, &pg) == 1;
    unlock_db(srv);
    if (!ok) {
        omr_review_reply_error(rep, 404, "item %lld has no page to assign", id);
        return 404;
    }
    omr_page_result_t res;
    omr_error_t err = {0};
    omr_status_t rc = recognise_as(srv, &pg, form, page, resp, &res, &err);
    if (rc) {
        omr_page_result_clear(&res);
        omr_review_reply_error(rep, rc == OMR_ENOTFOUND ? 422 : 500, "item %lld: %s", id, err.msg);
        return rc == OMR_ENOTFOUND ? 422 : 500;
    }
    db = lock_db(srv);
    int status = 0;
    /* still ours? (the lease may have run out while the page was read) */
    if ((status = check_decision(srv, db, req->sess->op, id, value, &it, rep))) {
        unlock_db(srv);
        omr_page_result_clear(&res);
        return status;
    }
    if ((rc = omr_store_begin(srv->store, &err)) ||
        (rc = omr_review_page_assign(db, srv->survey, it.page, &res, &err)) ||
        (rc = omr_store_item_decide(srv->store, id, req->sess->op, value, &err)) ||
        (rc = omr_store_commit(srv->store, &err))) {
        omr_store_rollback(srv->store);
        unlock_db(srv);
        omr_page_result_clear(&res);
        omr_review_reply_error(rep, rc == OMR_EINPUT ? 409 : 500, "%s", err.msg);
        return rc == OMR_EINPUT ? 409 : 500;
    }
    unlock_db(srv);
    omr_page_result_clear(&res);
    return 0;
}

static void api_decide(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    long long id = body_id(req, "item");
    const char *value = json_string_value(json_object_get(req->body, "value"));
    int want_next = json_is_true(json_object_get(req->body, "next"));
    sqlite3 *db = lock_db(srv);
    item_row_t it;
    if (id && id == req->sess->last_item) {
        /* the item this operator was given may have been settled meanwhile:
         * another operator's decision re-coded the respondent and the coder
         * no longer raises it (it is gone, or its id now names another item) */
        char key[160];
        int found = load_item(db, id, &it);
        if (found == 0 || (found == 1 && (item_key(&it, key, sizeof key), strcmp(key, req->sess->last_key)))) {
            req->sess->last_item = 0;
            json_t *next = NULL;
            int dberr = 0;
            if (want_next)
                next = next_item(srv, db, req->sess, &dberr);
            unlock_db(srv);
            omr_review_reply_error(rep, 409,
                                   "item %lld was settled by another decision on the same respondent while it was"
                                   " on screen: nothing to decide, nothing recorded",
                                   id);
            json_object_set_new(rep->json, "settled", json_true());
            if (want_next)
                json_object_set_new(rep->json, "next", next ? next : json_null());
            return;
        }
    }
    if (check_decision(srv, db, req->sess->op, id, value, &it, rep)) {
        unlock_db(srv);
        return;
    }
    omr_error_t err = {0};
    if (!it.question[0] && !strncmp(value, "assign:", 7)) {
        unlock_db(srv);
        if (assign_page(srv, req, id, value, rep))
            return;
        db = lock_db(srv);
    } else if (omr_store_item_decide(srv->store, id, req->sess->op, value, &err)) {
        unlock_db(srv);
        omr_review_reply_error(rep, err.status == OMR_EINPUT ? 409 : 500, "%s", err.msg);
        return;
    }
    json_t *warn = recode_after(srv, &it);
    remember(req->sess, &it);
    json_t *next = NULL;
    int dberr = 0;
    if (want_next)
        next = next_item(srv, db, req->sess, &dberr);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:b,s:I}", "ok", 1, "item", (json_int_t)id);
    if (warn)
        json_object_set_new(rep->json, "warning", warn);
    if (want_next)
        json_object_set_new(rep->json, "next", next ? next : json_null());
}

/* Undo a decision; with page > 0 also put that page back as it was scanned
 * (an assignment's undo), in one transaction. */
static omr_status_t rc_undo(omr_review_server_t *srv, long long item, const char *op, long long page, omr_error_t *err)
{
    omr_status_t rc;
    if ((rc = omr_store_begin(srv->store, err)) ||
        (page > 0 && (rc = omr_review_page_unassign(omr_store_db(srv->store), page, err))) ||
        (rc = omr_store_item_undo(srv->store, item, op, err)) || (rc = omr_store_commit(srv->store, err))) {
        omr_store_rollback(srv->store);
        return rc;
    }
    return OMR_OK;
}

static void api_undo(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    long long id = body_id(req, "item");
    if (json_object_get(req->body, "item") && !id) {
        omr_review_reply_error(rep, 400, "item must be a positive integer ID");
        return;
    }
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    char who[40] = "";
    long long found_id = 0;
    int was_assign = 0; /* the decision undone moved a page (assign:FORM:PAGE:RESPONDENT) */
    if (sqlite3_prepare_v2(db,
                           id ? "SELECT item, operator, coalesce(after, '') FROM decisions WHERE item = ?2 AND undone = 0"
                              : "SELECT item, operator, coalesce(after, '') FROM decisions WHERE operator = ?1"
                                " AND undone = 0 ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->sess->op, -1, SQLITE_STATIC);
        if (id)
            sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            found_id = sqlite3_column_int64(st, 0);
            snprintf(who, sizeof who, "%s", (const char *)sqlite3_column_text(st, 1));
            was_assign = !strncmp((const char *)sqlite3_column_text(st, 2), "assign:", 7);
        }
    }
    sqlite3_finalize(st);
    item_row_t it;
    if (!found_id) {
        int exists = id ? load_item(db, id, &it) == 1 : 0;
        unlock_db(srv);
        if (id && !exists)
            omr_review_reply_error(rep, 404, "there is no review item %lld", id);
        else if (id)
            omr_review_reply_error(rep, 409, "item %lld has no decision to undo", id);
        else
            omr_review_reply_error(rep, 409, "you have no decision to undo");
        return;
    }
    if (strcmp(who, req->sess->op)) {
        unlock_db(srv);
        omr_review_reply_error(rep, 403, "item %lld was decided by %s: only they can undo it", found_id, who);
        return;
    }
    omr_error_t err = {0};
    load_item(db, found_id, &it);
    /* undoing an assignment puts the page back as it was scanned; undoing
     * any other page-level decision (duplicate, reject) only reopens its
     * item: the page may carry an earlier assignment that stays */
    int unassign = was_assign && !it.question[0] && it.page > 0;
    if ((rc_undo(srv, found_id, req->sess->op, unassign ? it.page : 0, &err))) {
        unlock_db(srv);
        omr_review_reply_error(rep, err.status == OMR_EINPUT ? 409 : 500, "%s", err.msg);
        return;
    }
    load_item(db, found_id, &it);
    if (unassign)
        recode_after(srv, &it); /* the respondents the page left and joined: the coder thread */
    /* re-coded now, not by the coder thread: the coder raises the item again
     * (current = 1), and only then can it be leased back (undo is rare) */
    json_t *warn = NULL;
    if (it.form[0] && it.respondent[0] && omr_template_form(srv->survey, it.form) &&
        omr_review_recode(srv->store, srv->survey, it.form, it.respondent, &err) != OMR_OK)
        warn = json_string(omr_utf8_safe(err.msg));
    /* the item comes back to the operator who undid it, to decide again */
    json_t *o = NULL;
    if (load_item(db, found_id, &it) == 1 && omr_review_q_lease(db, req->sess->op, found_id, srv->opts.lease_seconds) == 0) {
        omr_review_q_release(db, req->sess->op, found_id);
        load_item(db, found_id, &it);
        remember(req->sess, &it);
        o = item_json(srv, db, &it);
    }
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:b,s:I,s:o}", "ok", 1, "undone", (json_int_t)found_id, "item", o ? o : json_null());
    if (warn)
        json_object_set_new(rep->json, "warning", warn);
}

static void api_release(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    sqlite3 *db = lock_db(srv);
    omr_review_q_release(db, req->sess->op, 0);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:b}", "ok", 1);
}

static void api_history(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(db,
                           "SELECT d.item, d.time, coalesce(d.before, ''), coalesce(d.after, ''), d.undone, i.form,"
                           " i.respondent, i.question, i.var FROM decisions d JOIN review_items i ON i.id = d.item"
                           " WHERE d.operator = ? ORDER BY d.id DESC LIMIT 30",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->sess->op, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(
                a, json_pack("{s:I,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "item", (json_int_t)sqlite3_column_int64(st, 0),
                             "time", UCOL(st, 1), "before", UCOL(st, 2), "after", UCOL(st, 3), "undone",
                             sqlite3_column_int(st, 4), "form", UCOL(st, 5), "respondent", UCOL(st, 6), "question",
                             UCOL(st, 7), "var", UCOL(st, 8)));
    }
    sqlite3_finalize(st);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:o}", "decisions", a);
}

static const char *question_label(omr_review_server_t *srv, const char *form, const char *q)
{
    const omr_form_t *f = omr_template_form(srv->survey, form);
    const omr_question_t *qq = f ? omr_template_question(f, q) : NULL;
    return qq ? qq->label : q;
}

static void api_groups(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(db,
                           "SELECT reason, form, question, var, count(*) FROM review_items WHERE current = 1"
                           " AND question != '' AND reason != 7 AND var NOT LIKE 'page:%' AND (state = 'open' OR (state = 'leased' AND (lease_expires < " NOW_SQL
                           " OR lease_owner = ?1))) GROUP BY reason, form, question, var HAVING count(*) >= 2"
                           " ORDER BY count(*) DESC, form, question, var LIMIT 60",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->sess->op, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int reason = sqlite3_column_int(st, 0);
            const char *form = UCOL(st, 1);
            const char *q = UCOL(st, 2);
            json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "reason", omr_review_reason_name(reason),
                                               "reason_text", omr_review_reason_text(reason), "form", form, "question",
                                               q, "label", question_label(srv, form, q), "var", UCOL(st, 3), "count",
                                               sqlite3_column_int(st, 4)));
        }
    }
    sqlite3_finalize(st);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:o}", "groups", a);
}

static int reason_from_name(const char *name)
{
    for (int r = 1; r <= OMR_REVIEW_REASON_LAST; r++)
        if (name && !strcmp(omr_review_reason_name(r), name))
            return r;
    return 0;
}

static void api_group(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    const char *reason = json_string_value(json_object_get(req->body, "reason"));
    const char *form = json_string_value(json_object_get(req->body, "form"));
    const char *q = json_string_value(json_object_get(req->body, "question"));
    const char *var = json_string_value(json_object_get(req->body, "var"));
    json_t *jl = json_object_get(req->body, "limit");
    int limit = json_is_integer(jl) ? (int)json_integer_value(jl) : 48;
    int r = reason_from_name(reason);
    if (!r || !form || !q || !q[0] || !var || limit < 1 || limit > 200) {
        omr_review_reply_error(rep, 400, "a group is {reason, form, question, var, limit 1..200} with a known reason");
        return;
    }
    if (r == OMR_REVIEW_TEXT) {
        /* a tile cannot take a transcription, and accepting the empty
         * proposals would record every written text as no answer */
        omr_review_reply_error(rep, 400, "text to transcribe is reviewed one item at a time, not in a group");
        return;
    }
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    long long ids[200];
    int n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id FROM review_items WHERE current = 1 AND reason = ?2 AND form = ?3 AND question = ?4"
                           " AND var = ?5 AND (state = 'open' OR (state = 'leased' AND (lease_expires < " NOW_SQL
                           " OR lease_owner = ?1))) ORDER BY page, id LIMIT ?6",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->sess->op, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, r);
        sqlite3_bind_text(st, 3, form, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, q, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, var, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, limit);
        while (n < limit && sqlite3_step(st) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    /* the group replaces whatever the operator held */
    omr_review_q_release(db, req->sess->op, -1);
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        item_row_t it;
        if (omr_review_q_lease(db, req->sess->op, ids[i], srv->opts.lease_seconds) == 0 && load_item(db, ids[i], &it) == 1)
            json_array_append_new(a, item_json(srv, db, &it));
    }
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:o}", "items", a);
}

static void api_group_decide(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    json_t *ds = json_object_get(req->body, "decisions");
    size_t n = json_array_size(ds);
    if (!json_is_array(ds) || n < 1 || n > 200) {
        omr_review_reply_error(rep, 400, "give {\"decisions\": [{\"item\": ID, \"value\": \"...\"}, ...]}, 1 to 200");
        return;
    }
    item_row_t *its = calloc(n, sizeof *its);
    if (!its) {
        omr_review_reply_error(rep, 500, "out of memory");
        return;
    }
    sqlite3 *db = lock_db(srv);
    /* all checked first: one bad entry refuses the whole request */
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(ds, i), *ji = json_object_get(d, "item");
        long long id = json_is_integer(ji) && json_integer_value(ji) > 0 ? (long long)json_integer_value(ji) : 0;
        for (size_t k = 0; k < i && id; k++)
            if (its[k].id == id) {
                omr_review_reply_error(rep, 400, "item %lld appears twice", id);
                goto out;
            }
        if (check_decision(srv, db, req->sess->op, id, json_string_value(json_object_get(d, "value")), &its[i], rep))
            goto out;
        /* group review decides marks and written boxes; a page (assign moves
         * it: /api/decide) or a transcription is decided one at a time */
        if (!its[i].question[0] || its[i].reason == OMR_REVIEW_TEXT) {
            omr_review_reply_error(rep, 400, "item %lld is %s: decide it on its own, not in a group", id,
                                   its[i].reason == OMR_REVIEW_TEXT ? "text to transcribe" : "about a whole page");
            goto out;
        }
    }
    json_t *warns = json_array();
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        omr_error_t err = {0};
        const char *value = json_string_value(json_object_get(json_array_get(ds, i), "value"));
        if (omr_store_item_decide(srv->store, its[i].id, req->sess->op, value, &err) == OMR_OK)
            done++;
        else
            json_array_append_new(warns, json_string(omr_utf8_safe(err.msg)));
    }
    /* re-code each respondent once */
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(its[k].form, its[i].form) && !strcmp(its[k].respondent, its[i].respondent);
        json_t *w = seen ? NULL : recode_after(srv, &its[i]);
        if (w)
            json_array_append_new(warns, w);
    }
    rep->status = 200;
    rep->json = json_pack("{s:b,s:I,s:o}", "ok", 1, "decided", (json_int_t)done, "warnings", warns);
out:
    unlock_db(srv);
    free(its);
}

/* Page-level items an operator could take now (no barcode, unknown page,
 * not registered, unreadable): the candidates for a missing page. */
static void api_unidentified(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(db,
                           "SELECT i.id, i.page, i.reason, coalesce(i.detail, ''), f.path, p.idx FROM review_items i"
                           " JOIN pages p ON p.id = i.page JOIN files f ON f.id = p.file WHERE i.current = 1"
                           " AND i.source = 'page' AND i.question = '' AND i.reason IN (8, 9, 10, 12)"
                           " AND (i.state = 'open' OR (i.state = 'leased' AND (i.lease_expires < " NOW_SQL
                           " OR i.lease_owner = ?1))) ORDER BY i.page LIMIT 60",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->sess->op, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *path = UCOL(st, 4), *base = strrchr(path, '/');
            char u[64];
            snprintf(u, sizeof u, "/img/page/%lld.png?w=300", (long long)sqlite3_column_int64(st, 1));
            json_array_append_new(a, json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:s}", "item",
                                               (json_int_t)sqlite3_column_int64(st, 0), "page_id",
                                               (json_int_t)sqlite3_column_int64(st, 1), "reason_text",
                                               omr_review_reason_text(sqlite3_column_int(st, 2)), "detail",
                                               UCOL(st, 3), "file", base ? base + 1 : path,
                                               "file_page", sqlite3_column_int(st, 5) + 1, "image", u));
        }
    }
    sqlite3_finalize(st);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:o}", "pages", a);
}

/* POST /api/assign {missing: ID, item: ID, next?}: the page of page-level
 * item `item` is the page that missing-page item `missing` misses. The page
 * item is leased to the operator and decided "assign:FORM:PAGE:RESPONDENT"
 * (assign_page: read again, stored, re-coded); the missing item then goes
 * away with the re-coding (the page is no longer missing). */
static void api_assign(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    long long mid = body_id(req, "missing"), pid = body_id(req, "item");
    int want_next = json_is_true(json_object_get(req->body, "next"));
    if (!mid || !pid) {
        omr_review_reply_error(rep, 400, "give {\"missing\": ID, \"item\": ID}");
        return;
    }
    sqlite3 *db = lock_db(srv);
    item_row_t m, p;
    char mform[16] = "", value[128];
    int mpage = 0, mcase = 0;
    int hm = omr_review_q_holds(db, req->sess->op, mid);
    if (load_item(db, mid, &m) != 1 || load_item(db, pid, &p) != 1) {
        unlock_db(srv);
        omr_review_reply_error(rep, 404, "there is no such review item");
        return;
    }
    if (sscanf(m.var, "page:missing:%15[^:]:%d:%d", mform, &mpage, &mcase) != 3 || m.question[0]) {
        unlock_db(srv);
        omr_review_reply_error(rep, 400, "item %lld is not a missing page", mid);
        return;
    }
    if (hm != 1) {
        unlock_db(srv);
        omr_review_reply_error(rep, 409, "item %lld is not leased to you", mid);
        return;
    }
    if (p.question[0] || p.page <= 0 || strcmp(p.source, "page")) {
        unlock_db(srv);
        omr_review_reply_error(rep, 400, "item %lld is not a scanned page to assign", pid);
        return;
    }
    if (omr_review_q_lease(db, req->sess->op, pid, srv->opts.lease_seconds) != 0) {
        unlock_db(srv);
        omr_review_reply_error(rep, 409, "page item %lld is decided or leased to another operator", pid);
        return;
    }
    unlock_db(srv);
    snprintf(value, sizeof value, "assign:%s:%d:%s", mform, mpage, m.respondent);
    omr_error_t err = {0};
    if (omr_review_check_value(srv->survey, "", (omr_review_reason_t)p.reason, "", "", value, &err)) {
        omr_review_reply_error(rep, 400, "%s", err.msg);
        return;
    }
    if (assign_page(srv, req, pid, value, rep))
        return;
    recode_after(srv, &m);
    db = lock_db(srv);
    omr_review_q_release(db, req->sess->op, 0); /* the missing item goes with the re-coding */
    json_t *next = NULL;
    int dberr = 0;
    if (want_next)
        next = next_item(srv, db, req->sess, &dberr);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:b,s:I,s:s}", "ok", 1, "item", (json_int_t)pid, "value", value);
    if (want_next)
        json_object_set_new(rep->json, "next", next ? next : json_null());
}

static void api_page(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep, long long id)
{
    (void)req;
    sqlite3 *db = lock_db(srv);
    omr_review_page_t pg;
    if (load_page(db, id, &pg) != 1) {
        unlock_db(srv);
        omr_review_reply_error(rep, 404, "there is no page %lld", id);
        return;
    }
    /* region states and the items that concern them */
    const omr_form_t *f = pg.form[0] ? omr_template_form(srv->survey, pg.form) : NULL;
    const omr_page_t *tp = f && pg.page_number >= 1 && pg.page_number <= f->n_pages ? &f->pages[pg.page_number - 1] : NULL;
    int nr = tp ? tp->n_regions : 0;
    int *state = calloc((size_t)nr + 1, sizeof *state), *istate = calloc((size_t)nr + 1, sizeof *istate);
    long long *iid = calloc((size_t)nr + 1, sizeof *iid);
    json_t *items = json_array();
    sqlite3_stmt *st = NULL;
    if (state && istate && iid && sqlite3_prepare_v2(db, "SELECT idx, state FROM regions WHERE page = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int i = sqlite3_column_int(st, 0);
            if (i >= 0 && i < nr)
                state[i] = sqlite3_column_int(st, 1);
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (state && istate && iid &&
        sqlite3_prepare_v2(db,
                           "SELECT id, question, var, state, reason, coalesce(proposal, '') FROM review_items"
                           " WHERE page = ? AND (current = 1 OR state = 'resolved') ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            long long item = sqlite3_column_int64(st, 0);
            const char *q = UCOL(st, 1), *var = UCOL(st, 2);
            const char *s = UCOL(st, 3);
            int is_res = !strcmp(s, "resolved");
            json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)item, "question", q,
                                                   "var", var, "state", s, "reason",
                                                   omr_review_reason_name(sqlite3_column_int(st, 4)), "proposal",
                                                   UCOL(st, 5)));
            int qi = f && q[0] ? omr_template_question_index(f, q) : -1;
            for (int i = 0; i < nr && qi >= 0; i++)
                if (tp->regions[i].question == qi && region_matches(&f->questions[qi], &tp->regions[i], var) &&
                    (!iid[i] || (istate[i] == 2 && !is_res))) {
                    iid[i] = item;
                    istate[i] = is_res ? 2 : 1;
                }
        }
    }
    sqlite3_finalize(st);
    unlock_db(srv);
    int w = 900;
    if (req->query_w) {
        w = atoi(req->query_w);
        if (w < 200 || w > 2400)
            w = 900;
    }
    double xf[6];
    int pw = 0, ph = 0;
    omr_error_t err = {0};
    json_t *regions = json_array();
    int geo = omr_review_images_page_geometry(srv->images, &pg, w, xf, &pw, &ph, &err) == OMR_OK;
    for (int i = 0; i < nr && geo && pg.has_xform; i++) {
        const omr_region_t *r = &tp->regions[i];
        json_t *pts = json_array();
        double X[4] = {r->box.x, r->box.x + r->box.w, r->box.x + r->box.w, r->box.x};
        double Y[4] = {r->box.y, r->box.y, r->box.y + r->box.h, r->box.y + r->box.h};
        for (int k = 0; k < 4; k++) {
            json_array_append_new(pts, json_real(xf[0] * X[k] + xf[1] * Y[k] + xf[2]));
            json_array_append_new(pts, json_real(xf[3] * X[k] + xf[4] * Y[k] + xf[5]));
        }
        const char *sn = istate[i] == 2 ? "resolved" : state[i] == OMR_MARK_DOUBTFUL || istate[i] == 1 ? "doubtful"
                         : state[i] == OMR_MARK_MARKED                                        ? "marked"
                                                                                              : "blank";
        json_t *o = json_pack("{s:i,s:s,s:s,s:o}", "i", i, "var", r->var, "state", sn, "pts", pts);
        if (iid[i])
            json_object_set_new(o, "item", json_integer(iid[i]));
        json_array_append_new(regions, o);
    }
    free(state);
    free(istate);
    free(iid);
    char u[64];
    snprintf(u, sizeof u, "/img/page/%lld.png?w=%d", id, w);
    rep->status = 200;
    rep->json = json_pack("{s:I,s:s,s:i,s:s,s:s,s:i,s:i,s:o,s:o,s:b}", "id", (json_int_t)id, "form", pg.form,
                          "page_number", pg.page_number, "status", pg.status, "image", u, "width", pw, "height", ph,
                          "regions", regions, "items", items, "registered", pg.has_xform);
    if (!geo)
        json_object_set_new(rep->json, "warning", json_string(omr_utf8_safe(err.msg)));
}

static void api_progress(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    (void)req;
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    json_t *by_reason = json_array(), *by_batch = json_array(), *ops = json_array();
    long long left = 0, total = 0;
    omr_store_queue_t q;
    omr_error_t err;
    if (omr_store_queue_counts(srv->store, &q, &err) == OMR_OK)
        for (int r = 0; r < OMR_STORE_N_REASONS; r++) {
            long long o = q.open[r], l = q.leased[r], d = q.resolved[r];
            if (!(o || l || d))
                continue;
            left += o + l;
            total += o + l + d;
            json_array_append_new(by_reason, json_pack("{s:s,s:s,s:I,s:I,s:I}", "reason",
                                                       omr_review_reason_name((omr_review_reason_t)r), "text",
                                                       omr_review_reason_text((omr_review_reason_t)r), "open",
                                                       (json_int_t)o, "leased", (json_int_t)l, "resolved",
                                                       (json_int_t)d));
        }
    /* an item's batch: its page's file's batch, else its respondent's */
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(b.name, '(none)'), sum(x.state != 'resolved'), sum(x.state = 'resolved')"
                           " FROM (SELECT i.state, coalesce((SELECT f.batch FROM pages p JOIN files f ON f.id = p.file"
                           " WHERE p.id = i.page), (SELECT r.batch FROM respondents r WHERE r.form = i.form"
                           " AND r.respondent = i.respondent)) AS batch FROM review_items i WHERE i.current = 1"
                           " OR i.state = 'resolved') x LEFT JOIN batches b ON b.id = x.batch GROUP BY x.batch"
                           " ORDER BY x.batch",
                           -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(by_batch, json_pack("{s:s,s:I,s:I}", "batch", UCOL(st, 0), "left",
                                                      (json_int_t)sqlite3_column_int64(st, 1), "resolved",
                                                      (json_int_t)sqlite3_column_int64(st, 2)));
    sqlite3_finalize(st);
    st = NULL;
    /* per operator: the last hour, and today's rate over the time they worked
     * (first to last decision today, at least 1 minute) */
    if (sqlite3_prepare_v2(db,
                           "SELECT operator, sum(time >= strftime('%Y-%m-%dT%H:%M:%fZ','now','-1 hour')),"
                           " sum(time >= strftime('%Y-%m-%dT00:00:00Z','now')),"
                           " (julianday(max(time)) - julianday(min(CASE WHEN time >= strftime('%Y-%m-%dT00:00:00Z','now')"
                           " THEN time END))) * 24, count(*) FROM decisions WHERE undone = 0 GROUP BY operator"
                           " ORDER BY operator",
                           -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            long long today = sqlite3_column_int64(st, 2);
            double hours = sqlite3_column_double(st, 3);
            if (hours < 1.0 / 60)
                hours = 1.0 / 60;
            json_array_append_new(ops, json_pack("{s:s,s:I,s:I,s:I,s:f}", "operator", UCOL(st, 0),
                                                 "last_hour", (json_int_t)sqlite3_column_int64(st, 1), "today",
                                                 (json_int_t)today, "total", (json_int_t)sqlite3_column_int64(st, 4),
                                                 "per_hour_today", today ? today / hours : 0.0));
        }
    sqlite3_finalize(st);
    unlock_db(srv);
    rep->status = 200;
    rep->json = json_pack("{s:I,s:I,s:o,s:o,s:o,s:i}", "left", (json_int_t)left, "total", (json_int_t)total, "by_reason",
                          by_reason, "by_batch", by_batch, "operators", ops, "recode_errors", srv->code_errors);
}

static void png_reply(omr_review_reply_t *rep, unsigned char *data, size_t len)
{
    rep->status = 200;
    rep->type = "image/png";
    rep->data = data;
    rep->len = len;
    rep->cache_seconds = 300;
}

static void img_item(omr_review_server_t *srv, omr_review_reply_t *rep, long long id)
{
    char key[48];
    sqlite3 *db = lock_db(srv);
    item_row_t it;
    omr_review_page_t pg;
    int ok = load_item(db, id, &it) == 1;
    int has_page = ok && it.page > 0 && load_page(db, it.page, &pg) == 1;
    int *states = has_page ? page_states(srv, db, &pg) : NULL;
    unlock_db(srv);
    if (!ok) {
        omr_review_reply_error(rep, 404, "there is no review item %lld", id);
        return;
    }
    if (!has_page) {
        omr_review_reply_error(rep, 404, "item %lld has no page image", id);
        return;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "i:%lld:%lld", it.id, pg.id);
    omr_error_t err = {0};
    if (!omr_review_images_lookup(srv->images, key, &data, &len) && item_crop(srv, &it, &pg, states, &data, &len, &err)) {
        free(states);
        omr_review_reply_error(rep, err.status == OMR_ENOTFOUND ? 404 : 500, "%s", err.msg);
        return;
    }
    free(states);
    png_reply(rep, data, len);
}

static void img_page(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep, long long id)
{
    int w = 900;
    if (req->query_w) {
        w = atoi(req->query_w);
        if (w < 200 || w > 2400) {
            omr_review_reply_error(rep, 400, "w must be 200..2400");
            return;
        }
    }
    sqlite3 *db = lock_db(srv);
    omr_review_page_t pg;
    int ok = load_page(db, id, &pg) == 1;
    unlock_db(srv);
    if (!ok) {
        omr_review_reply_error(rep, 404, "there is no page %lld", id);
        return;
    }
    char key[48];
    snprintf(key, sizeof key, "p:%lld:%d", id, w);
    unsigned char *data = NULL;
    size_t len = 0;
    omr_error_t err = {0};
    if (omr_review_images_page(srv->images, key, &pg, w, &data, &len, &err)) {
        omr_review_reply_error(rep, 404, "page %lld: %s", id, err.msg);
        return;
    }
    png_reply(rep, data, len);
}

int omr_review_warm_some(omr_review_server_t *srv, int max)
{
    enum { N = 400 };
    long long *ids = malloc(N * sizeof *ids);
    if (!ids)
        return 0;
    int n = 0, made = 0;
    sqlite3 *db = lock_db(srv);
    sqlite3_stmt *st = NULL;
    /* the items operators will get next: first those on the pages they are
     * working on (the queue keeps them there), then the rest in queue order */
    if (sqlite3_prepare_v2(db,
                           "SELECT id FROM review_items WHERE current = 1 AND state != 'resolved' AND page IS NOT NULL"
                           " AND question != '' ORDER BY page NOT IN (SELECT page FROM review_items WHERE"
                           " state = 'leased' AND page IS NOT NULL), page, id LIMIT ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, N);
        while (n < N && sqlite3_step(st) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    unlock_db(srv);
    for (int i = 0; i < n && made < max; i++) {
        pthread_mutex_lock(&srv->warm_lock);
        int stop = srv->stopping;
        pthread_mutex_unlock(&srv->warm_lock);
        if (stop)
            break;
        item_row_t it;
        omr_review_page_t pg;
        db = lock_db(srv);
        int ok = load_item(db, ids[i], &it) == 1 && it.page > 0 && load_page(db, it.page, &pg) == 1;
        int *states = ok ? page_states(srv, db, &pg) : NULL;
        unlock_db(srv);
        if (!ok || !pg.has_xform) {
            free(states);
            continue;
        }
        char key[48];
        unsigned char *data = NULL;
        size_t len = 0;
        snprintf(key, sizeof key, "i:%lld:%lld", it.id, pg.id);
        if (omr_review_images_lookup(srv->images, key, &data, &len)) {
            free(data);
            free(states);
            continue;
        }
        omr_error_t err = {0};
        if (item_crop(srv, &it, &pg, states, &data, &len, &err) == OMR_OK)
            made++;
        free(data);
        free(states);
    }
    free(ids);
    return made;
}

void omr_review_api(omr_review_server_t *srv, omr_review_req_t *req, omr_review_reply_t *rep)
{
    const char *u = req->url;
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    long long id;
    if (!strncmp(u, "/img/", 5)) {
        if (!get) {
            omr_review_reply_error(rep, 405, "images are read with GET");
        } else if (!strncmp(u, "/img/item/", 10)) {
            if ((id = path_id(u + 10, ".png")))
                img_item(srv, rep, id);
            else
                omr_review_reply_error(rep, 400, "an item image is /img/item/<number>.png");
        } else if (!strncmp(u, "/img/page/", 10)) {
            if ((id = path_id(u + 10, ".png")))
                img_page(srv, req, rep, id);
            else
                omr_review_reply_error(rep, 400, "a page image is /img/page/<number>.png");
        } else {
            omr_review_reply_error(rep, 400, "no such image path");
        }
        return;
    }
    if (get) {
        if (!strncmp(u, "/api/item/", 10)) {
            if ((id = path_id(u + 10, "")))
                api_item(srv, req, rep, id);
            else
                omr_review_reply_error(rep, 400, "an item is /api/item/<number>");
        } else if (!strncmp(u, "/api/page/", 10)) {
            if ((id = path_id(u + 10, "")))
                api_page(srv, req, rep, id);
            else
                omr_review_reply_error(rep, 400, "a page is /api/page/<number>");
        } else if (!strcmp(u, "/api/history")) {
            api_history(srv, req, rep);
        } else if (!strcmp(u, "/api/groups")) {
            api_groups(srv, req, rep);
        } else if (!strcmp(u, "/api/progress")) {
            api_progress(srv, req, rep);
        } else if (!strcmp(u, "/api/unidentified")) {
            api_unidentified(srv, req, rep);
        } else {
            omr_review_reply_error(rep, 404, "no such resource: %.100s", u);
        }
        return;
    }
    if (!strcmp(u, "/api/next"))
        api_next(srv, req, rep);
    else if (!strcmp(u, "/api/lease"))
        api_lease(srv, req, rep);
    else if (!strcmp(u, "/api/decide"))
        api_decide(srv, req, rep);
    else if (!strcmp(u, "/api/undo"))
        api_undo(srv, req, rep);
    else if (!strcmp(u, "/api/release"))
        api_release(srv, req, rep);
    else if (!strcmp(u, "/api/group"))
        api_group(srv, req, rep);
    else if (!strcmp(u, "/api/assign"))
        api_assign(srv, req, rep);
    else if (!strcmp(u, "/api/group/decide"))
        api_group_decide(srv, req, rep);
    else
        omr_review_reply_error(rep, 404, "no such action: %.100s", u);
}
