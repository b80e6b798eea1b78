/* export.c -- CSV data files and the codebook (export.h).
 *
 * Steps: open one read transaction; per form and part, list the coded
 * respondents, decide which are held back, and write their rows in the
 * column order of omr_template_columns(); then the codebook. Each file goes
 * to "<dir>/.<name>.tmp" and is renamed when complete.
 */
#include "export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CSV ---- */

void omr_export_csv_field(FILE *out, const char *z)
{
    if (!z)
        return;
    if (!strpbrk(z, ",\"\r\n")) {
        fputs(z, out);
        return;
    }
    fputc('"', out);
    for (; *z; z++) {
        if (*z == '"')
            fputc('"', out);
        fputc(*z, out);
    }
    fputc('"', out);
}

static void csv_end(FILE *out) { fputs("\r\n", out); }

/* An output file under its temporary name. */
typedef struct {
    FILE *f;
    char tmp[4096], final[4096];
} outfile_t;

static omr_status_t out_open(outfile_t *o, const char *dir, const char *name, int bom, omr_error_t *err)
{
    snprintf(o->final, sizeof o->final, "%s/%s", dir, name);
    snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp", dir, name);
    o->f = fopen(o->tmp, "wb");
    if (!o->f)
        return omr_error_set(err, OMR_EIO, "%s: cannot write: %s", o->tmp, strerror(errno));
    if (bom)
        fputs("\xEF\xBB\xBF", o->f);
    return OMR_OK;
}

/* Close and rename into place; on failure (or when failed is set) remove the
 * temporary file. */
static omr_status_t out_close(outfile_t *o, int failed, omr_error_t *err)
{
    if (!o->f)
        return OMR_OK;
    int bad = ferror(o->f);
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (failed || bad) {
        remove(o->tmp);
        return failed ? OMR_EIO : omr_error_set(err, OMR_EIO, "%s: write failed: %s", o->tmp, strerror(errno));
    }
    if (rename(o->tmp, o->final)) {
        remove(o->tmp);
        return omr_error_set(err, OMR_EIO, "%s: cannot rename into place: %s", o->final, strerror(errno));
    }
    return OMR_OK;
}

/* ---- value labels ---- */

typedef struct {
    int code;
    const char *label;
} vlabel_t;

/* The region feeding a column, or NULL. */
static const omr_region_t *column_region(const omr_form_t *form, const omr_column_t *col)
{
    const omr_question_t *q = &form->questions[col->question];
    if (col->region < 0 || q->page < 0 || q->page >= form->n_pages)
        return NULL;
    const omr_page_t *p = &form->pages[q->page];
    return col->region < p->n_regions ? &p->regions[col->region] : NULL;
}

/* The option code and row a column is about, from its region or, for the
 * columns several regions feed (single, grid1), from its name. */
static void column_parts(const omr_form_t *form, const omr_column_t *col, int *pcode, const char **prow)
{
    const omr_question_t *q = &form->questions[col->question];
    const omr_region_t *r = column_region(form, col);
    *pcode = 0;
    *prow = NULL;
    if (r) {
        *pcode = r->code;
        for (int i = 0; i < q->n_rows && r->row[0]; i++)
            if (!strcmp(q->rows[i].id, r->row))
                *prow = q->rows[i].id;
        return;
    }
    size_t nb = strlen(q->base);
    const char *rest = !strncmp(col->name, q->base, nb) && col->name[nb] == '_' ? col->name + nb + 1 : "";
    if (col->is_text) {
        *pcode = atoi(rest); /* "6_text" */
        return;
    }
    for (int i = 0; i < q->n_rows; i++) {
        size_t n = strlen(q->rows[i].id);
        if (!strncmp(rest, q->rows[i].id, n) && (rest[n] == 0 || rest[n] == '_')) {
            *prow = q->rows[i].id;
            if (rest[n] == '_')
                *pcode = atoi(rest + n + 1);
        }
    }
}

static const omr_option_t *find_option(const omr_question_t *q, int code)
{
    for (int i = 0; i < q->n_options; i++)
        if (q->options[i].code == code)
            return &q->options[i];
    return NULL;
}

static const omr_row_t *find_row(const omr_question_t *q, const char *id)
{
    for (int i = 0; id && i < q->n_rows; i++)
        if (!strcmp(q->rows[i].id, id))
            return &q->rows[i];
    return NULL;
}

static const omr_col_t *find_col(const omr_question_t *q, int code)
{
    for (int i = 0; i < q->n_cols; i++)
        if (q->cols[i].code == code)
            return &q->cols[i];
    return NULL;
}

/* Labels of a column's values into a[] (at most cap); returns the count.
 * Binary columns (1 marked, 0 not) say what was marked; a question the
 * routing may skip also has -1 (coding.md "Missing values"), in its
 * transcription columns too ("その他" text of a skipped question is -1). */
static int value_labels(const omr_form_t *form, const omr_column_t *col, vlabel_t *a, int cap)
{
    const omr_question_t *q = &form->questions[col->question];
    int n = 0;
    switch (col->is_text ? OMR_KIND_TEXT : q->kind) { /* a transcription: only its -1 below */
    case OMR_KIND_SINGLE:
    case OMR_KIND_TOP3:
    case OMR_KIND_CODEGRID:
        for (int i = 0; i < q->n_options && n < cap; i++)
            a[n++] = (vlabel_t){q->options[i].code, q->options[i].text ? q->options[i].text : ""};
        break;
    case OMR_KIND_GRID1:
        for (int i = 0; i < q->n_cols && n < cap; i++)
            a[n++] = (vlabel_t){q->cols[i].code, q->cols[i].text ? q->cols[i].text : ""};
        break;
    case OMR_KIND_MULTI:
        a[n++] = (vlabel_t){1, "○あり"};
        a[n++] = (vlabel_t){0, "○なし"};
        break;
    case OMR_KIND_GRIDN:
    case OMR_KIND_TICKLIST:
        a[n++] = (vlabel_t){1, "✓あり"};
        a[n++] = (vlabel_t){0, "✓なし"};
        break;
    case OMR_KIND_NUMBER: /* a number: no labels to give */
    case OMR_KIND_TEXT:
    case OMR_KIND_COUNT:
        break;
    }
    if (q->route_question >= 0 && n < cap)
        a[n++] = (vlabel_t){-1, "非該当"};
    return n;
}

void omr_export_value_labels(const omr_form_t *form, const omr_column_t *col, char *buf, size_t n)
{
    vlabel_t a[128];
    int k = value_labels(form, col, a, 128);
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%d=%s", i ? "; " : "", a[i].code, a[i].label);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* What a single column holds, in words: the option, row, cell or box. */
static void column_label(const omr_form_t *form, const omr_column_t *col, char *buf, size_t n)
{
    const omr_question_t *q = &form->questions[col->question];
    int code;
    const char *row_id;
    column_parts(form, col, &code, &row_id);
    const omr_option_t *o = find_option(q, code);
    const omr_row_t *row = find_row(q, row_id);
    const omr_col_t *c = find_col(q, code);
    buf[0] = 0;
    if (col->is_text) {
        if (q->kind == OMR_KIND_TEXT)
            snprintf(buf, n, "%s", q->text ? q->text : "");
        else
            snprintf(buf, n, "%s（記述）", o && o->text ? o->text : "その他");
        return;
    }
    switch (q->kind) {
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST:
        snprintf(buf, n, "%s", o && o->text ? o->text : "");
        break;
    case OMR_KIND_TOP3:
        snprintf(buf, n, "%d番目", code);
        break;
    case OMR_KIND_GRID1:
        snprintf(buf, n, "%s", row && row->text ? row->text : "");
        break;
    case OMR_KIND_GRIDN:
    case OMR_KIND_CODEGRID:
        snprintf(buf, n, "%s／%s", row && row->text ? row->text : "", c && c->text ? c->text : "");
        break;
    default:
        break;
    }
}

/* ---- the codebook ---- */

/* SPSS wants ASCII-safe quoting: single quotes doubled. */
static void sps_quoted(FILE *f, const char *z)
{
    fputc('\'', f);
    for (; z && *z; z++) {
        if (*z == '\'')
            fputc('\'', f);
        fputc(*z == '\n' || *z == '\r' ? ' ' : *z, f);
    }
    fputc('\'', f);
}

/* SPSS's limits, in bytes of UTF-8: a variable label, a value label. */
#define SPS_VARIABLE_LABEL_MAX 255
#define SPS_VALUE_LABEL_MAX 120

/* sps_quoted, at most max (at most SPS_VARIABLE_LABEL_MAX) bytes of z, cut
 * before a character that would not fit (never inside one), with "…" at the
 * end when cut. */
static void sps_quoted_max(FILE *f, const char *z, size_t max)
{
    char buf[SPS_VARIABLE_LABEL_MAX + 1];
    if (strlen(z) > max && max < sizeof buf && max > 3) {
        size_t k = max - 3; /* room for "…" (3 bytes) */
        while (k > 0 && ((unsigned char)z[k] & 0xc0) == 0x80)
            k--; /* z[k] starts a character: cut before it */
        memcpy(buf, z, k);
        memcpy(buf + k, "\xe2\x80\xa6", 4);
        z = buf;
    }
    sps_quoted(f, z);
}

/* A number whose digits name something (template `identifier`): text in
 * SPSS and R, so "0600001" keeps its leading zero; its -1 (not applicable)
 * is the text "-1". */
static int is_identifier(const omr_form_t *form, const omr_column_t *c)
{
    const omr_question_t *q = &form->questions[c->question];
    return !c->is_text && q->kind == OMR_KIND_NUMBER && q->identifier;
}

/* Read as a string in SPSS: transcriptions and identifiers. */
static int sps_is_string(const omr_form_t *form, const omr_column_t *c)
{
    return c->is_text || is_identifier(form, c);
}

/* SPSS formats of a column as the CSV holds it: transcriptions and
 * identifiers are strings (an identifier wide enough for its digits and for
 * NA_REVIEW), everything else a whole number (a code, 1/0, -1, or a written
 * number of up to OMR_NUMBER_MAX_BOXES digits). */
#define SPS_TEXT_WIDTH 2000
static void sps_format(const omr_form_t *form, const omr_column_t *c, char *buf, size_t n)
{
    const omr_question_t *q = &form->questions[c->question];
    if (c->is_text)
        snprintf(buf, n, "A%d", SPS_TEXT_WIDTH);
    else if (is_identifier(form, c))
        snprintf(buf, n, "A%d", OMR_NUMBER_MAX_BOXES);
    else if (q->kind == OMR_KIND_NUMBER)
        snprintf(buf, n, "F%d.0", OMR_NUMBER_MAX_BOXES + 1);
    else
        snprintf(buf, n, "F4.0");
}

/* GET DATA for one data file (<form>.csv or <form>_cases.csv): the key
 * columns, then the form part's columns in the export's order. */
static void sps_get_data(FILE *f, const omr_form_t *form, int part, const omr_column_t *cols, int nc)
{
    fprintf(f, "\r\n* form %s, %s part.\r\n", form->id, part ? "case" : "respondent");
    fprintf(f, "GET DATA /TYPE=TXT /FILE='%s%s.csv' /ENCODING='UTF8'\r\n", form->id, part ? "_cases" : "");
    fputs("  /ARRANGEMENT=DELIMITED /DELCASE=LINE /FIRSTCASE=2 /DELIMITERS=',' /QUALIFIER='\"'\r\n", f);
    fputs("  /VARIABLES=respondent A64", f);
    if (part)
        fputs(" case F4.0", f);
    char fmt[16];
    for (int i = 0; i < nc; i++) {
        sps_format(form, &cols[i], fmt, sizeof fmt);
        fprintf(f, "\r\n    %s %s", cols[i].name, fmt);
    }
    fputs(".\r\n", f);
}

/* -1 (not applicable) is user-missing in every numeric column, and '-1' in
 * every identifier and every transcription of a question the routing may
 * skip; then the .sav beside the CSV. */
static void sps_missing_and_save(FILE *f, const omr_form_t *form, int part, const omr_column_t *cols, int nc)
{
    for (int text = 0; text < 2; text++) {
        int any = 0;
        for (int i = 0; i < nc; i++)
            if (sps_is_string(form, &cols[i]) == text &&
                (!cols[i].is_text || form->questions[cols[i].question].route_question >= 0)) {
                fprintf(f, "%s%s", any ? (any % 8 ? " " : "\r\n  ") : "MISSING VALUES ", cols[i].name);
                any++;
            }
        if (any)
            fputs(text ? " ('-1').\r\n" : " (-1).\r\n", f);
    }
    fprintf(f, "SAVE OUTFILE='%s%s.sav'.\r\n", form->id, part ? "_cases" : "");
}

/* An R string literal: double quotes, backslash escapes, line breaks as \n. */
static void r_quoted(FILE *f, const char *z)
{
    fputc('"', f);
    for (; z && *z; z++) {
        if (*z == '"' || *z == '\\')
            fputc('\\', f);
        if (*z == '\n' || *z == '\r')
            fputs(*z == '\n' ? "\\n" : "", f);
        else
            fputc(*z, f);
    }
    fputc('"', f);
}

static const char R_HEAD[] =
    "# codebook.R -- reads the omr export into R with its labels (base R only).\n"
    "#   source(\"codebook.R\", encoding = \"UTF-8\"); d <- read_omr(\"path/to/export\")\n"
    "# d$A, d$A_cases, ...: one data frame per CSV file. Codes and 1/0 columns are integers\n"
    "# with the attributes \"label\" (the question as printed) and \"labels\" (the value\n"
    "# labels, as haven's labelled vectors keep them); transcriptions are character;\n"
    "# written numbers are numeric, those the template calls identifiers (a postal code)\n"
    "# character, leading zeros kept. Empty cells (no answer) are NA; -1 is not applicable by\n"
    "# the routing (omr_factor() makes it NA); NA_REVIEW (--mark-unresolved) reads as NA.\n"
    "\n"
    "omr_read <- function(path, classes) {\n"
    "  utils::read.csv(path, colClasses = classes, na.strings = c(\"\", \"NA_REVIEW\"),\n"
    "                  fileEncoding = \"UTF-8-BOM\", encoding = \"UTF-8\", check.names = FALSE)\n"
    "}\n"
    "\n"
    "omr_label <- function(x, column, label, values = NULL, codes = NULL) {\n"
    "  attr(x[[column]], \"label\") <- label\n"
    "  if (is.character(x[[column]])) codes <- as.character(codes) else codes <- as.integer(codes)\n"
    "  if (length(codes)) attr(x[[column]], \"labels\") <- stats::setNames(codes, values)\n"
    "  x\n"
    "}\n"
    "\n"
    "# A labelled column as a factor of its value labels; -1 (not applicable) is NA.\n"
    "omr_factor <- function(v) {\n"
    "  l <- attr(v, \"labels\")\n"
    "  v[v %in% -1L] <- NA\n"
    "  factor(v, levels = unname(l), labels = names(l))\n"
    "}\n"
    "\n"
    "# Every labelled column of a data frame as such a factor. Do it before taking rows:\n"
    "# R's [ keeps no attributes of the columns it cuts.\n"
    "omr_factors <- function(x) {\n"
    "  for (n in names(x)) if (!is.null(attr(x[[n]], \"labels\"))) x[[n]] <- omr_factor(x[[n]])\n"
    "  x\n"
    "}\n"
    "\n"
    "read_omr <- function(dir = \".\") {\n"
    "  d <- list()\n";

/* The R reader of one data file: column classes, then labels. */
static void r_read_part(FILE *f, const omr_form_t *form, int part, const omr_column_t *cols, int nc)
{
    const char *name = part ? "_cases" : "";
    fprintf(f, "  x <- omr_read(file.path(dir, \"%s%s.csv\"), c(respondent = \"character\"%s", form->id, name,
            part ? ", `case` = \"integer\"" : "");
    for (int i = 0; i < nc; i++) {
        const omr_question_t *q = &form->questions[cols[i].question];
        fprintf(f, ",\n    `%s` = \"%s\"", cols[i].name,
                cols[i].is_text || is_identifier(form, &cols[i]) ? "character"
                : q->kind == OMR_KIND_NUMBER                     ? "numeric"
                                                                 : "integer");
    }
    fputs("))\n", f);
    char label[2048];
    for (int i = 0; i < nc; i++) {
        const omr_question_t *q = &form->questions[cols[i].question];
        column_label(form, &cols[i], label, sizeof label);
        char full[4096];
        snprintf(full, sizeof full, "%s %s%s%s", q->label, q->text ? q->text : "", label[0] ? " / " : "", label);
        fprintf(f, "  x <- omr_label(x, \"%s\", ", cols[i].name);
        r_quoted(f, full);
        vlabel_t a[128];
        /* a transcription keeps its text: its "-1" is in codebook.csv, and
         * omr_factors() must not make the texts factor levels */
        int nl = cols[i].is_text ? 0 : value_labels(form, &cols[i], a, 128);
        if (nl) {
            fputs(",\n    c(", f);
            for (int k = 0; k < nl; k++) {
                if (k)
                    fputs(", ", f);
                r_quoted(f, a[k].label);
            }
            fputs("),\n    c(", f);
            for (int k = 0; k < nl; k++)
                fprintf(f, "%s%d", k ? ", " : "", a[k].code);
            fputc(')', f);
        }
        fputs(")\n", f);
    }
    fprintf(f, "  d[[\"%s%s\"]] <- x\n", form->id, name);
}

omr_status_t omr_export_codebook(const omr_survey_t *survey, const char *dir, const omr_export_opts_t *opts,
                                 int *pn, omr_error_t *err)
{
    int bom = opts && opts->bom, rows = 0;
    outfile_t cb = {0}, vl = {0}, sps = {0}, rs = {0};
    omr_status_t st;
    if (pn)
        *pn = 0;
    if ((st = out_open(&cb, dir, "codebook.csv", bom, err)) || (st = out_open(&vl, dir, "value_labels.csv", bom, err)) ||
        (st = out_open(&sps, dir, "codebook.sps", 0, err)) || (st = out_open(&rs, dir, "codebook.R", 0, err)))
        goto fail;
    fputs(R_HEAD, rs.f);
    fputs("column,form,part,question,question_text,kind,label,value_labels", cb.f);
    csv_end(cb.f);
    fputs("column,form,part,value,label", vl.f);
    csv_end(vl.f);
    fputs("* codebook.sps -- reads the omr export into SPSS (or PSPP) with its variable and value\r\n"
          "* labels, -1 (not applicable by the routing) as a user-missing value, and saves one\r\n"
          "* .sav file per CSV beside it. File names are relative: run it with the export folder\r\n"
          "* as the working directory (pspp codebook.sps in that folder; in SPSS, CD 'folder'. first).\r\n"
          "* Empty cells (no answer) read as system-missing. Values still under review\r\n"
          "* (NA_REVIEW, written only with --mark-unresolved) read as system-missing too, with a\r\n"
          "* warning per cell.\r\n"
          "* (PSPP stops a syntax file after 100 warnings: an export with many cells under\r\n"
          "* review would leave the other .sav files unwritten.)\r\n"
          "SET MXWARNS=100000.\r\n",
          sps.f);
    for (int fi = 0; fi < survey->n_forms; fi++) {
        const omr_form_t *form = &survey->forms[fi];
        for (int part = 0; part < 2; part++) {
            omr_column_t *cols;
            int nc = omr_template_columns(form, part, &cols);
            if (nc < 0) {
                st = omr_error_set(err, OMR_ENOMEM, "codebook: out of memory");
                goto fail;
            }
            if (nc == 0) { /* a form without case pages: nothing to read or label */
                free(cols);
                continue;
            }
            const char *part_name = part ? "case" : "respondent";
            sps_get_data(sps.f, form, part, cols, nc);
            r_read_part(rs.f, form, part, cols, nc);
            fputs("VARIABLE LABELS\r\n", sps.f);
            char label[2048], labels[8192];
            for (int i = 0; i < nc; i++) {
                const omr_column_t *c = &cols[i];
                const omr_question_t *q = &form->questions[c->question];
                column_label(form, c, label, sizeof label);
                omr_export_value_labels(form, c, labels, sizeof labels);
                const char *kind = c->is_text                 ? "text"
                                   : is_identifier(form, c) ? "identifier"
                                                            : omr_template_kind_name(q->kind);
                const char *fields[] = {c->name, form->id, part_name, q->label, q->text, kind, label, labels};
                for (int k = 0; k < 8; k++) {
                    if (k)
                        fputc(',', cb.f);
                    omr_export_csv_field(cb.f, fields[k]);
                }
                csv_end(cb.f);
                rows++;
                vlabel_t a[128];
                int nl = value_labels(form, c, a, 128);
                for (int k = 0; k < nl; k++) {
                    fprintf(vl.f, "%s,%s,%s,%d,", c->name, form->id, part_name, a[k].code);
                    omr_export_csv_field(vl.f, a[k].label);
                    csv_end(vl.f);
                }
                char vlab[4096];
                /* cover fields print the same words as label, prompt and field */
                const char *qt = q->text && strcmp(q->text, q->label) ? q->text : "";
                const char *cl = strcmp(label, q->label) && strcmp(label, qt) ? label : "";
                /* what tells the columns apart (the option, row or cell) before the
                 * question's text: SPSS cuts a variable label at 255 bytes */
                snprintf(vlab, sizeof vlab, "%s%s%s%s%s", q->label, cl[0] ? " / " : "", cl, qt[0] ? " / " : "", qt);
                fprintf(sps.f, "  %s ", c->name);
                sps_quoted_max(sps.f, vlab, SPS_VARIABLE_LABEL_MAX);
                fputs(i + 1 < nc ? "\r\n" : ".\r\n", sps.f);
            }
            int any = 0;
            for (int i = 0; i < nc; i++) {
                vlabel_t a[128];
                int nl = value_labels(form, &cols[i], a, 128);
                if (!nl)
                    continue;
                fprintf(sps.f, "%s  /%s", any ? "" : "VALUE LABELS\r\n", cols[i].name);
                for (int k = 0; k < nl; k++) {
                    fprintf(sps.f, sps_is_string(form, &cols[i]) ? " '%d' " : " %d ", a[k].code);
                    sps_quoted_max(sps.f, a[k].label, SPS_VALUE_LABEL_MAX);
                }
                fputs("\r\n", sps.f);
                any = 1;
            }
            if (any)
                fputs(".\r\n", sps.f);
            sps_missing_and_save(sps.f, form, part, cols, nc);
            free(cols);
        }
    }
    fputs("  d\n}\n", rs.f);
    if ((st = out_close(&cb, 0, err)) || (st = out_close(&vl, 0, err)) || (st = out_close(&sps, 0, err)) ||
        (st = out_close(&rs, 0, err)))
        goto fail;
    if (pn)
        *pn = rows;
    return OMR_OK;
fail:
    out_close(&cb, 1, NULL);
    out_close(&vl, 1, NULL);
    out_close(&sps, 1, NULL);
    out_close(&rs, 1, NULL);
    return st;
}

/* ---- data files ---- */

typedef struct {
    const omr_column_t *cols;
    int n;
    int *order; /* indices of cols sorted by name, for lookup */
} colmap_t;

static const colmap_t *sort_ctx;
static int cmp_order(const void *a, const void *b)
{
    return strcmp(sort_ctx->cols[*(const int *)a].name, sort_ctx->cols[*(const int *)b].name);
}

static int colmap_find(const colmap_t *m, const char *name)
{
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(m->cols[m->order[mid]].name, name);
        if (!c)
            return m->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Respondents of a form, whether each is held back, and why. */
#define RESPONDENTS_SQL                                                                                   \
    "SELECT r.respondent, r.dirty OR r.coded IS NULL,"                                                    \
    " r.dirty OR r.coded IS NULL OR EXISTS (SELECT 1 FROM responses x WHERE x.form = r.form"              \
    "   AND x.respondent = r.respondent AND x.status = 'review') OR EXISTS (SELECT 1 FROM review_items i" \
    "   WHERE i.form = r.form AND i.respondent = r.respondent AND i.state != 'resolved' AND i.current = 1)" \
    " FROM respondents r WHERE r.form = ? ORDER BY r.respondent"

/* One value into the row buffer (strdup'd). */
static int set_cell(char **cells, int i, const char *v)
{
    free(cells[i]);
    cells[i] = strdup(v);
    return cells[i] ? 0 : -1;
}

static void write_row(FILE *f, const char *respondent, int case_number, char **cells, int n)
{
    omr_export_csv_field(f, respondent);
    if (case_number > 0)
        fprintf(f, ",%d", case_number);
    for (int i = 0; i < n; i++) {
        fputc(',', f);
        omr_export_csv_field(f, cells[i] ? cells[i] : "");
    }
    csv_end(f);
}

static void clear_cells(char **cells, int n)
{
    for (int i = 0; i < n; i++) {
        free(cells[i]);
        cells[i] = NULL;
    }
}

/* The label of value v in column col (value_labels), or v itself when it
 * is no code with a label (empty, NA_REVIEW, a number, text). */
static const char *labelled(const omr_form_t *form, const omr_column_t *col, const char *v)
{
    char *end;
    long code = strtol(v, &end, 10);
    if (!*v || *end)
        return v;
    if (code == -1) /* the routing skipped it: the same word on every column */
        return "非該当";
    vlabel_t a[128];
    int n = value_labels(form, col, a, 128);
    for (int i = 0; i < n; i++)
        if (a[i].code == code)
            return a[i].label;
    return v;
}

/* Write one data file: form's part (0 respondent, 1 cases); with labels,
 * its labelled twin (<F>[_cases]_labels.csv). */
static omr_status_t write_part(sqlite3 *db, const omr_form_t *form, int part, int labels, const char *dir,
                               const omr_export_opts_t *opts, omr_export_report_t *rep, omr_error_t *err)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s%s.csv", form->id, part ? "_cases" : "", labels ? "_labels" : "");
    /* the counts come from the coded files; the labelled twins repeat them */
    omr_export_report_t twin;
    if (labels)
        rep = &twin;
    omr_column_t *cols = NULL;
    int nc = omr_template_columns(form, part, &cols);
    if (nc < 0)
        return omr_error_set(err, OMR_ENOMEM, "export: out of memory");
    colmap_t m = {cols, nc, calloc((size_t)nc + 1, sizeof(int))};
    char **cells = calloc((size_t)nc + 1, sizeof *cells);
    outfile_t o = {0};
    sqlite3_stmt *rs = NULL, *vs = NULL;
    omr_status_t st = OMR_ENOMEM;
    if (!m.order || !cells) {
        omr_error_set(err, st, "export: out of memory");
        goto done;
    }
    for (int i = 0; i < nc; i++)
        m.order[i] = i;
    sort_ctx = &m;
    qsort(m.order, (size_t)nc, sizeof(int), cmp_order);
    if ((st = out_open(&o, dir, name, opts->bom, err)))
        goto done;
    fputs(part ? "respondent,case" : "respondent", o.f);
    for (int i = 0; i < nc; i++) {
        fputc(',', o.f);
        omr_export_csv_field(o.f, cols[i].name);
    }
    csv_end(o.f);
    st = OMR_EIO;
    if (sqlite3_prepare_v2(db, RESPONDENTS_SQL, -1, &rs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT case_number, name, value, status FROM responses WHERE form = ? AND respondent = ?"
                           " AND (case_number > 0) = ? ORDER BY case_number",
                           -1, &vs, NULL) != SQLITE_OK) {
        omr_error_set(err, st, "export: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_text(rs, 1, form->id, -1, SQLITE_TRANSIENT);
    int r;
    while ((r = sqlite3_step(rs)) == SQLITE_ROW) {
        const char *resp = (const char *)sqlite3_column_text(rs, 0);
        int not_coded = sqlite3_column_int(rs, 1), blocked = sqlite3_column_int(rs, 2);
        if (blocked && part == 0) {
            rep->held_back++;
            rep->not_coded += not_coded;
        }
        /* a respondent not re-coded since a change has stale values: never
         * written; a blocked one only under mark_unresolved */
        if (not_coded || (blocked && !opts->mark_unresolved))
            continue;
        sqlite3_reset(vs);
        sqlite3_bind_text(vs, 1, form->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(vs, 2, resp, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(vs, 3, part);
        int current = -1, rv;
        clear_cells(cells, nc);
        while ((rv = sqlite3_step(vs)) == SQLITE_ROW) {
            int cn = sqlite3_column_int(vs, 0);
            if (cn != current && current >= 0) {
                write_row(o.f, resp, current, cells, nc);
                *(part ? &rep->case_rows : &rep->rows) += 1;
                clear_cells(cells, nc);
            }
            current = cn;
            int ci = colmap_find(&m, (const char *)sqlite3_column_text(vs, 1));
            if (ci < 0)
                continue; /* a column the template no longer has */
            const char *v = (const char *)sqlite3_column_text(vs, 2);
            if (!strcmp((const char *)sqlite3_column_text(vs, 3), "review")) {
                v = OMR_EXPORT_UNRESOLVED;
                rep->marked_cells++;
            } else if (labels && v) {
                v = labelled(form, &cols[ci], v);
            }
            if (set_cell(cells, ci, v ? v : "")) {
                st = omr_error_set(err, OMR_ENOMEM, "export: out of memory");
                goto done;
            }
        }
        if (rv != SQLITE_DONE) {
            omr_error_set(err, st, "export: %s", sqlite3_errmsg(db));
            goto done;
        }
        /* the respondent row exists even when nothing was answered */
        if (current >= 0 || part == 0) {
            write_row(o.f, resp, part ? current : 0, cells, nc);
            *(part ? &rep->case_rows : &rep->rows) += 1;
        }
    }
    if (r != SQLITE_DONE) {
        omr_error_set(err, st, "export: %s", sqlite3_errmsg(db));
        goto done;
    }
    st = OMR_OK;
done:
    sqlite3_finalize(rs);
    sqlite3_finalize(vs);
    if (cells)
        clear_cells(cells, nc);
    free(cells);
    free(m.order);
    free(cols);
    omr_status_t cst = out_close(&o, st != OMR_OK, err);
    return st ? st : cst;
}

omr_status_t omr_export_write(omr_store_t *store, const omr_survey_t *survey, const char *dir,
                              const omr_export_opts_t *opts, omr_export_report_t *rep, omr_error_t *err)
{
    omr_export_opts_t none = {0};
    omr_export_report_t local;
    if (!opts)
        opts = &none;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (mkdir(dir, 0777) && errno != EEXIST)
        return omr_error_set(err, OMR_EIO, "%s: cannot create the folder: %s", dir, strerror(errno));
    sqlite3 *db = omr_store_db(store);
    /* one snapshot for every file */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return omr_error_set(err, OMR_EIO, "export: %s", sqlite3_errmsg(db));
    omr_status_t st = OMR_OK;
    for (int fi = 0; fi < survey->n_forms && !st; fi++)
        for (int part = 0; part < 2 && !st; part++)
            for (int labels = 0; labels <= (opts->labels != 0) && !st; labels++)
                st = write_part(db, &survey->forms[fi], part, labels, dir, opts, rep, err);
    /* without --labels, no labelled twin of an earlier export stays beside
     * the new data, telling other values */
    for (int fi = 0; fi < survey->n_forms && !st && !opts->labels; fi++)
        for (int part = 0; part < 2; part++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s%s_labels.csv", dir, survey->forms[fi].id, part ? "_cases" : "");
            if (unlink(path) && errno != ENOENT)
                st = omr_error_set(err, OMR_EIO, "%s: cannot remove the labelled file of an earlier export: %s", path,
                                   strerror(errno));
        }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (!st)
        st = omr_export_codebook(survey, dir, opts, &rep->codebook_rows, err);
    return st;
}
