/* template.c -- load and validate a survey's templates (templates/FORMAT.md).
 *
 * Exports the omr_template_* functions of template.h. Reading goes in three
 * steps: the survey file names the forms and their page files; each page file
 * is parsed statement by statement into print items and sampled regions (both
 * from the same statement, so print and scan cannot disagree); then each form
 * is checked as a whole (routing targets, duplicate columns).
 *
 * Every error names "file:line: reason" and loading stops at the first one:
 * a broken template must never reach a batch. Strings live in an arena owned
 * by the survey; arrays are realloc'd and freed by omr_template_free().
 */
#include "template.h"

#include "icr.h" /* omr_icr_model_threshold: the validated auto-accept confidence */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define MAX_TEMPLATE_BYTES (4u << 20) /* a page file is a few tens of KB */
#define DEFAULT_RING_MM 2.6
#define OVERLAP_EPS_MM 0.05 /* shared edges of adjacent grid cells are not overlaps */

/* ---------------------------------------------------------------- arena */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    char data[];
} arena_block_t;

typedef struct {
    arena_block_t *blocks;
} survey_priv_t;

static char *arena_strdup(survey_priv_t *priv, const char *s)
{
    size_t n = strlen(s) + 1;
    arena_block_t *b = priv->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = priv->blocks;
        priv->blocks = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    b->used += n;
    return p;
}

/* Grow *parray (element size elem) so that index *pn can be written; returns
 * the new element (zeroed) or NULL on out of memory. */
static void *array_push(void *parray, int *pn, size_t elem)
{
    void **pa = parray;
    int n = *pn;
    /* capacity: powers of two from 8, derived from n so no extra field is needed */
    if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
        size_t cap = n == 0 ? 8 : (size_t)n * 2;
        void *grown = realloc(*pa, cap * elem);
        if (!grown)
            return NULL;
        *pa = grown;
    }
    char *slot = (char *)*pa + (size_t)n * elem;
    memset(slot, 0, elem);
    *pn = n + 1;
    return slot;
}

/* ------------------------------------------------------------ tokenizer */

/* Unquote the string starting at *pp (just after the opening quote) in place.
 * Leaves *pp after the closing quote. Returns NULL when unterminated. */
static char *unquote(char **pp)
{
    char *src = *pp, *dst = *pp, *start = *pp;
    while (*src && *src != '"') {
        if (*src == '\\' && (src[1] == '"' || src[1] == '\\'))
            src++;
        *dst++ = *src++;
    }
    if (*src != '"')
        return NULL;
    *pp = src + 1;
    *dst = '\0';
    return start;
}

static int is_key_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }

omr_status_t omr_template_tokenize(char *line, omr_tpl_line_t *out, omr_error_t *err)
{
    out->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0' || *p == '#')
            return OMR_OK;
        if (out->n == OMR_TPL_MAX_WORDS)
            return omr_error_set(err, OMR_EINPUT, "more than %d words on one line", OMR_TPL_MAX_WORDS);
        const char *key = NULL, *value;
        int quoted = *p == '"';
        if (quoted) {
            p++;
            value = unquote(&p);
            if (!value)
                return omr_error_set(err, OMR_EINPUT, "unterminated string (missing closing \")");
        } else {
            char *word = p;
            while (is_key_char(*p))
                p++;
            if (*p == '=' && p > word) {
                *p++ = '\0';
                key = word;
                if (*p == '"') {
                    p++;
                    value = unquote(&p);
                    if (!value)
                        return omr_error_set(err, OMR_EINPUT,
                                             "unterminated string in %s= (missing closing \")", key);
                } else {
                    value = p;
                    while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '"')
                        p++;
                }
            } else {
                while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '"')
                    p++;
                value = word;
            }
            if (*p == '"')
                return omr_error_set(err, OMR_EINPUT, "a quote inside the word '%.*s'",
                                     (int)(p - word), word);
        }
        if (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return omr_error_set(err, OMR_EINPUT, "text right after a closing quote");
        if (*p)
            *p++ = '\0';
        out->key[out->n] = key;
        out->value[out->n] = value;
        out->quoted[out->n] = (unsigned char)quoted;
        out->n++;
    }
}

const char *omr_tpl_attr(const omr_tpl_line_t *line, const char *key)
{
    for (int i = 1; i < line->n; i++)
        if (line->key[i] && !strcmp(line->key[i], key))
            return line->value[i];
    return NULL;
}

/* ------------------------------------------------------- parse context */

typedef struct {
    omr_survey_t *survey;
    survey_priv_t *priv;
    const char *file; /* current file, for messages */
    int line;
    omr_error_t *err;
} ctx_t;

static omr_status_t fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static omr_status_t fail(ctx_t *c, const char *fmt, ...)
{
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return omr_error_set(c->err, OMR_EINPUT, "%s:%d: %s", c->file, c->line, reason);
}

static omr_status_t fail_nomem(ctx_t *c)
{
    return omr_error_set(c->err, OMR_ENOMEM, "%s:%d: out of memory", c->file, c->line);
}

static int in_list(const char *list, const char *word)
{
    size_t wn = strlen(word);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == wn && !strncmp(s, word, n))
            return 1;
        s += n;
        while (*s == ' ')
            s++;
    }
    return 0;
}

/* Every attribute and bare flag of a statement must be one it allows: a typo
 * must not silently change a form. `keys` and `flags` are space-separated
 * lists. After the keyword come up to `n_ids` unquoted words (a name or a
 * code) and up to `n_texts` "quoted strings" (printed text). */
static omr_status_t check_words(ctx_t *c, const omr_tpl_line_t *l, const char *keys, const char *flags, int n_ids,
                                int n_texts)
{
    int ids = 0, texts = 0;
    for (int i = 1; i < l->n; i++) {
        if (l->key[i]) {
            if (!in_list(keys, l->key[i]))
                return fail(c, "unknown attribute '%s' for '%s' (allowed: %s)", l->key[i], l->value[0],
                            *keys ? keys : "none");
        } else if (l->quoted[i]) {
            if (++texts > n_texts)
                return fail(c, "unexpected text \"%s\" in '%s'", l->value[i], l->value[0]);
        } else if (!in_list(flags, l->value[i])) {
            if (++ids > n_ids)
                return fail(c, "unexpected word '%s' in '%s'%s%s%s", l->value[i], l->value[0],
                            *flags ? " (allowed flags: " : "", flags, *flags ? "; printed text goes in quotes)" : "");
        }
    }
    return OMR_OK;
}

static int has_flag(const omr_tpl_line_t *l, const char *flag)
{
    for (int i = 1; i < l->n; i++)
        if (!l->key[i] && !l->quoted[i] && !strcmp(l->value[i], flag))
            return 1;
    return 0;
}

/* The i-th bare word after the keyword that is not one of the flags, or NULL. */
static const char *positional(const omr_tpl_line_t *l, int index, const char *flags)
{
    for (int i = 1; i < l->n; i++) {
        if (l->key[i] || (!l->quoted[i] && in_list(flags, l->value[i])))
            continue;
        if (index-- == 0)
            return l->value[i];
    }
    return NULL;
}

static omr_status_t parse_numbers(ctx_t *c, const char *what, const char *text, char sep, double *out,
                                  int n)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || fabs(v) > 10000)
            return fail(c, "%s: '%s' is not %d number%s separated by '%c'", what, text, n, n > 1 ? "s" : "",
                        sep);
        out[i] = v;
        p = end;
        if (i < n - 1) {
            if (*p != sep)
                return fail(c, "%s: '%s' is not %d numbers separated by '%c'", what, text, n, sep);
            p++;
        }
    }
    if (*p)
        return fail(c, "%s: unexpected '%s' after the numbers in '%s'", what, p, text);
    return OMR_OK;
}

/* Required or optional attribute parsers. `required` 0 leaves *out untouched when absent
 * and sets *ppresent (if given). */
static omr_status_t attr_rect(ctx_t *c, const omr_tpl_line_t *l, const char *key, int required,
                              omr_rect_t *out, int *ppresent)
{
    const char *v = omr_tpl_attr(l, key);
    if (ppresent)
        *ppresent = v != NULL;
    if (!v)
        return required ? fail(c, "'%s' needs %s=x,y,w,h (mm)", l->value[0], key) : OMR_OK;
    double a[4];
    omr_status_t st = parse_numbers(c, key, v, ',', a, 4);
    if (st)
        return st;
    if (a[2] <= 0 || a[3] <= 0)
        return fail(c, "%s=%s: width and height must be positive", key, v);
    *out = (omr_rect_t){a[0], a[1], a[2], a[3]};
    return OMR_OK;
}

static omr_status_t attr_point(ctx_t *c, const omr_tpl_line_t *l, const char *key, int required, double *px,
                               double *py, int *ppresent)
{
    const char *v = omr_tpl_attr(l, key);
    if (ppresent)
        *ppresent = v != NULL;
    if (!v)
        return required ? fail(c, "'%s' needs %s=x,y (mm)", l->value[0], key) : OMR_OK;
    double a[2];
    omr_status_t st = parse_numbers(c, key, v, ',', a, 2);
    if (st)
        return st;
    *px = a[0];
    *py = a[1];
    return OMR_OK;
}

static omr_status_t attr_number(ctx_t *c, const omr_tpl_line_t *l, const char *key, double lo, double hi,
                                double *out)
{
    const char *v = omr_tpl_attr(l, key);
    if (!v)
        return OMR_OK;
    omr_status_t st = parse_numbers(c, key, v, ',', out, 1);
    if (st)
        return st;
    if (*out < lo || *out > hi)
        return fail(c, "%s=%s is out of range (%g to %g)", key, v, lo, hi);
    return OMR_OK;
}

static omr_status_t parse_int(ctx_t *c, const char *what, const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end || errno)
        return fail(c, "%s: '%s' is not a whole number", what, text ? text : "");
    if (v < lo || v > hi)
        return fail(c, "%s: %ld is out of range (%d to %d)", what, v, lo, hi);
    *out = (int)v;
    return OMR_OK;
}

static int valid_ident(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max || !isalpha((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* --------------------------------------------------------- page parsing */

typedef struct {
    ctx_t *c;
    omr_form_t *form;
    omr_page_t *page;
    int page_index;
    omr_question_t *q; /* the open question, or NULL */
    int n_marks;
    int have_header;
} page_ctx_t;

/* The open question's regions so far. NULL-safe: a page with no region yet
 * has no array, and pointer arithmetic on NULL is undefined (found by fuzzing). */
static const omr_region_t *question_regions(const page_ctx_t *pc)
{
    return pc->page->regions ? pc->page->regions + pc->q->first_region : NULL;
}

static omr_item_t *add_item(page_ctx_t *pc, omr_item_kind_t kind, omr_rect_t box, double size,
                            unsigned flags, const char *text)
{
    omr_item_t *it = array_push(&pc->page->items, &pc->page->n_items, sizeof *it);
    if (!it)
        return NULL;
    it->kind = kind;
    it->box = box;
    it->size = size;
    it->flags = flags;
    it->text = text;
    it->line = pc->c->line;
    return it;
}

static omr_region_t *add_region(page_ctx_t *pc, omr_region_kind_t kind, omr_rect_t box, int code,
                                const char *row, const char *var)
{
    omr_region_t *r = array_push(&pc->page->regions, &pc->page->n_regions, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    r->question = pc->form->n_questions - 1;
    r->code = code;
    snprintf(r->row, sizeof r->row, "%s", row ? row : "");
    snprintf(r->var, sizeof r->var, "%s", var);
    r->box = box;
    r->line = pc->c->line;
    pc->q->n_regions++;
    return r;
}

static unsigned text_flags(const omr_tpl_line_t *l)
{
    unsigned f = 0;
    if (has_flag(l, "bold"))
        f |= OMR_ITEM_BOLD;
    if (has_flag(l, "center"))
        f |= OMR_ITEM_CENTER;
    if (has_flag(l, "right"))
        f |= OMR_ITEM_RIGHT;
    if (has_flag(l, "frame"))
        f |= OMR_ITEM_FRAMED;
    if (has_flag(l, "small"))
        f |= OMR_ITEM_SMALL;
    return f;
}

/* reference=FILE of a page statement: an image of the blank page in the
 * survey's folder (a relative path without ".."), readable now. */
static omr_status_t page_reference(ctx_t *c, omr_page_t *page, const char *ref)
{
    if (!*ref || ref[0] == '/' || strstr(ref, ".."))
        return fail(c, "reference=%s: a file in the survey's folder (a relative path, no '..')", ref);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", c->survey->dir ? c->survey->dir : ".", ref) >= (int)sizeof path)
        return fail(c, "reference=%s: path too long", ref);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(c, "reference=%s: cannot open %s: %s", ref, path, strerror(errno));
    fclose(f);
    if (!(page->reference = arena_strdup(c->priv, path)))
        return fail_nomem(c);
    return OMR_OK;
}

static omr_status_t stmt_page(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = check_words(c, l, "survey form number size reference", "", 0, 0);
    if (st)
        return st;
    if (pc->have_header)
        return fail(c, "a second 'page' statement; one page file holds one page");
    const char *survey = omr_tpl_attr(l, "survey"), *form = omr_tpl_attr(l, "form");
    const char *number = omr_tpl_attr(l, "number"), *size = omr_tpl_attr(l, "size");
    if (!survey || !form || !number || !size)
        return fail(c, "'page' needs survey=, form=, number= and size=WxH");
    if (strcmp(survey, c->survey->id))
        return fail(c, "page of survey '%s', but the survey file is '%s'", survey, c->survey->id);
    if (strcmp(form, pc->form->id))
        return fail(c, "page of form '%s', but the survey file lists it under form '%s'", form, pc->form->id);
    int n;
    if ((st = parse_int(c, "number", number, 1, 99, &n)))
        return st;
    if (n != pc->page->number)
        return fail(c, "page number %d, but the survey file lists it as page %d", n, pc->page->number);
    double wh[2];
    if ((st = parse_numbers(c, "size", size, 'x', wh, 2)))
        return st;
    if (wh[0] < 50 || wh[1] < 50 || wh[0] > 1000 || wh[1] > 1000)
        return fail(c, "size=%s: a page between 50 and 1000 mm a side is expected", size);
    pc->page->width = wh[0];
    pc->page->height = wh[1];
    const char *ref = omr_tpl_attr(l, "reference");
    if (ref && (st = page_reference(c, pc->page, ref)))
        return st;
    pc->have_header = 1;
    return OMR_OK;
}

static omr_status_t stmt_mark(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = check_words(c, l, "at size shape line", "", 0, 0);
    if (st)
        return st;
    if (pc->n_marks == 4)
        return fail(c, "more than four corner marks");
    double x, y, size = 0, line = 0;
    if ((st = attr_point(c, l, "at", 1, &x, &y, NULL)) || (st = attr_number(c, l, "size", 1, 60, &size)) ||
        (st = attr_number(c, l, "line", 0.1, 5, &line)))
        return st;
    if (size == 0)
        return fail(c, "'mark' needs size= (mm)");
    const char *shape = omr_tpl_attr(l, "shape");
    omr_mark_shape_t sh = OMR_MARK_SQUARE;
    if (shape && !strcmp(shape, "corner"))
        sh = OMR_MARK_CORNER;
    else if (shape && !strcmp(shape, "ring"))
        sh = OMR_MARK_RING;
    else if (shape && strcmp(shape, "square"))
        return fail(c,
                    "shape=%s: a corner mark is a solid 'square' (the default), an L-shaped 'corner' or "
                    "a bullseye 'ring'",
                    shape);
    if (sh == OMR_MARK_CORNER && line == 0)
        return fail(c, "a 'corner' mark needs line= (the width of its arms, mm)");
    if (sh == OMR_MARK_CORNER && (size > 40 || line * 4 > size))
        return fail(c, "a 'corner' mark's arms: size= up to 40 mm, at least 4 times their line= width");
    if (sh == OMR_MARK_SQUARE && (size > 30 || line))
        return fail(c, "a 'square' mark has a side size= up to 30 mm and no line=");
    /* Under 2 mm a bullseye's bands are 0.2 mm: a 200-dpi scan no longer
     * separates them. */
    if (sh == OMR_MARK_RING && (size < 2 || size > 30 || line))
        return fail(c, "a 'ring' mark has an outer diameter size= of 2 to 30 mm and no line=");
    if (pc->n_marks > 0 && (pc->page->mark_shape != sh || pc->page->mark_size != size || pc->page->mark_line != line))
        return fail(c, "the four corner marks of a page must have the same shape and size");
    pc->page->mark_x[pc->n_marks] = x;
    pc->page->mark_y[pc->n_marks] = y;
    pc->page->mark_size = size;
    pc->page->mark_shape = sh;
    pc->page->mark_line = line;
    pc->n_marks++;
    if (sh != OMR_MARK_SQUARE)
        return OMR_OK; /* drawn from the page geometry (print.c): an L's corner is known once
                          the page size is; a bullseye is no item's solid box */
    return add_item(pc, OMR_ITEM_MARK, (omr_rect_t){x - size / 2, y - size / 2, size, size}, 0, 0, NULL)
               ? OMR_OK
               : fail_nomem(c);
}

omr_rect_t omr_template_mark_rect(const omr_page_t *p, double x, double y)
{
    double s = p->mark_size;
    if (p->mark_shape != OMR_MARK_CORNER) /* a square, or the square around a bullseye */
        return (omr_rect_t){x - s / 2, y - s / 2, s, s};
    /* the L's outer corner lies a line width out from the inside corner,
     * towards the page's edge */
    int left = x < p->width / 2, top = y < p->height / 2;
    double ox = left ? x - p->mark_line : x + p->mark_line;
    double oy = top ? y - p->mark_line : y + p->mark_line;
    return (omr_rect_t){left ? ox : ox - s, top ? oy : oy - s, s, s};
}

static omr_status_t stmt_barcode(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = check_words(c, l, "box kind value", "", 0, 0);
    if (st)
        return st;
    if (pc->page->barcode.w > 0)
        return fail(c, "a second barcode on the page");
    if ((st = attr_rect(c, l, "box", 1, &pc->page->barcode, NULL)))
        return st;
    const char *kind = omr_tpl_attr(l, "kind"), *value = omr_tpl_attr(l, "value");
    if (!kind || !strcmp(kind, "code128"))
        pc->page->barcode_kind = OMR_BARCODE_CODE128;
    else if (!strcmp(kind, "i25"))
        pc->page->barcode_kind = OMR_BARCODE_I25;
    else if (!strcmp(kind, "code39"))
        pc->page->barcode_kind = OMR_BARCODE_CODE39;
    else
        return fail(c, "kind=%s: the page barcode is code128 (the default), i25 or code39", kind);
    if (value) {
        size_t n = strlen(value);
        if (n == 0 || n > 40)
            return fail(c, "value=\"%s\": a page ID of 1 to 40 characters", value);
        for (size_t i = 0; i < n; i++)
            if (!isgraph((unsigned char)value[i]))
                return fail(c, "value=\"%s\": a page ID has no spaces or control characters", value);
        int digits = n % 2 == 0;
        for (size_t i = 0; i < n && digits; i++)
            digits = isdigit((unsigned char)value[i]) != 0;
        if (pc->page->barcode_kind == OMR_BARCODE_I25 && !digits)
            return fail(c, "value=%s: interleaved 2 of 5 holds an even number of digits", value);
        if (!(pc->page->barcode_value = arena_strdup(c->priv, value)))
            return fail_nomem(c);
    } else if (pc->page->barcode_kind != OMR_BARCODE_CODE128) {
        return fail(c, "a %s barcode holds a page ID of another form printer: it needs value=", kind);
    }
    return add_item(pc, OMR_ITEM_BARCODE, pc->page->barcode, 0, 0, NULL) ? OMR_OK : fail_nomem(c);
}

static omr_status_t stmt_text(page_ctx_t *pc, const omr_tpl_line_t *l, int is_prompt)
{
    ctx_t *c = pc->c;
    const char *flags = "bold center right frame small";
    omr_status_t st = check_words(c, l, "box size", flags, 0, 1);
    if (st)
        return st;
    omr_rect_t box;
    double size = 9;
    if ((st = attr_rect(c, l, "box", 1, &box, NULL)) || (st = attr_number(c, l, "size", 4, 40, &size)))
        return st;
    const char *text = positional(l, 0, flags);
    if (!text)
        return fail(c, "'%s' needs its text as a quoted string", l->value[0]);
    const char *stored = arena_strdup(c->priv, text);
    if (!stored)
        return fail_nomem(c);
    if (is_prompt) {
        if (pc->q->text)
            return fail(c, "question %s has a second prompt", pc->q->id);
        pc->q->text = stored;
        pc->q->prompt = box;
        pc->q->prompt_size = size;
    }
    return add_item(pc, OMR_ITEM_TEXT, box, size, text_flags(l), stored) ? OMR_OK : fail_nomem(c);
}

static omr_status_t stmt_rule(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = check_words(c, l, "from to width", "", 0, 0);
    if (st)
        return st;
    double x0, y0, x1, y1, width = 0.3;
    if ((st = attr_point(c, l, "from", 1, &x0, &y0, NULL)) || (st = attr_point(c, l, "to", 1, &x1, &y1, NULL)) ||
        (st = attr_number(c, l, "width", 0.05, 5, &width)))
        return st;
    return add_item(pc, OMR_ITEM_RULE, (omr_rect_t){x0, y0, x1 - x0, y1 - y0}, width, 0, NULL) ? OMR_OK
                                                                                                : fail_nomem(c);
}

/* when=SRC:CODES -> source id (resolved later) and a code mask. */
static omr_status_t parse_route(ctx_t *c, const char *text, char *src, size_t nsrc, uint64_t *pmask)
{
    const char *colon = strchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return fail(c, "when=%s: expected SOURCE:CODES, e.g. when=Q2:1 or when=Q9:1-11", text);
    size_t n = (size_t)(colon - text);
    if (n >= nsrc)
        return fail(c, "when=%s: source question name too long", text);
    memcpy(src, text, n);
    src[n] = '\0';
    uint64_t mask = 0;
    const char *p = colon + 1;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            return fail(c, "when=%s: '%s' is not a list of codes like 1,2 or 1-11", text, colon + 1);
        p = end;
        if (*p == '-') {
            p++;
            b = strtol(p, &end, 10);
            if (end == p)
                return fail(c, "when=%s: incomplete range", text);
            p = end;
        }
        if (a < 1 || b > 63 || a > b)
            return fail(c, "when=%s: codes must be 1 to 63, ranges low-high", text);
        for (long k = a; k <= b; k++)
            mask |= (uint64_t)1 << k;
        if (*p == ',')
            p++;
        else if (*p)
            return fail(c, "when=%s: unexpected '%c'", text, *p);
    }
    *pmask = mask;
    return OMR_OK;
}

/* Route sources are resolved per form after every page is read; keep the name here. */
typedef struct {
    char src[24];
    int question;
    int line;
    const char *file;
} pending_route_t;

typedef struct {
    pending_route_t *a;
    int n;
} routes_t;

static omr_status_t stmt_question(page_ctx_t *pc, const omr_tpl_line_t *l, routes_t *routes)
{
    ctx_t *c = pc->c;
    omr_status_t st = check_words(c, l, "kind label when var", "full identifier", 1, 0);
    if (st)
        return st;
    const char *id = positional(l, 0, "full identifier"), *kind = omr_tpl_attr(l, "kind");
    const char *label = omr_tpl_attr(l, "label"), *var = omr_tpl_attr(l, "var");
    if (!id)
        return fail(c, "'question' needs a name, e.g. question Q2 kind=multi label=\"問2\"");
    if (!valid_ident(id, sizeof pc->q->id))
        return fail(c, "question name '%s': letters, digits and _, starting with a letter", id);
    if (var && !valid_ident(var, sizeof pc->q->base))
        return fail(c, "var=%s: letters, digits and _, starting with a letter", var);
    if (!kind)
        return fail(c, "question %s needs kind= (single, multi, top3, grid1, gridn, codegrid, ticklist, text, "
                       "number)",
                    id);
    int k = omr_template_kind_from_name(kind);
    if (k < 0)
        return fail(c, "question %s: unknown kind '%s' (known: single, multi, top3, grid1, gridn, codegrid, "
                       "ticklist, text, number)",
                    id, kind);
    if (omr_template_question_index(pc->form, id) >= 0)
        return fail(c, "question %s is defined twice in form %s", id, pc->form->id);
    omr_question_t *q = array_push(&pc->form->questions, &pc->form->n_questions, sizeof *q);
    if (!q)
        return fail_nomem(c);
    pc->q = q;
    snprintf(q->id, sizeof q->id, "%s", id);
    snprintf(q->base, sizeof q->base, "%s", var ? var : id);
    snprintf(q->label, sizeof q->label, "%s", label ? label : id);
    q->kind = (omr_kind_t)k;
    q->full = has_flag(l, "full");
    if (q->full && q->kind != OMR_KIND_NUMBER)
        return fail(c, "question %s: 'full' (every box holds a digit) is for number questions", id);
    q->identifier = has_flag(l, "identifier");
    if (q->identifier && q->kind != OMR_KIND_NUMBER)
        return fail(c, "question %s: 'identifier' (digits that name something, exported as text) is for number "
                       "questions",
                    id);
    q->page = pc->page_index;
    q->is_case = pc->page->is_case;
    q->route_question = -1;
    q->first_region = pc->page->n_regions;
    q->line = c->line;
    const char *when = omr_tpl_attr(l, "when");
    if (when) {
        pending_route_t *r = array_push(&routes->a, &routes->n, sizeof *r);
        if (!r)
            return fail_nomem(c);
        if ((st = parse_route(c, when, r->src, sizeof r->src, &q->route_codes)))
            return st;
        r->question = pc->form->n_questions - 1;
        r->line = c->line;
        r->file = c->file;
    }
    return OMR_OK;
}

static omr_status_t need_kind(page_ctx_t *pc, const char *stmt, unsigned kinds_mask)
{
    if (!pc->q)
        return fail(pc->c, "'%s' outside a question", stmt);
    if (!(kinds_mask & (1u << pc->q->kind)))
        return fail(pc->c, "'%s' is not allowed in question %s of kind %s", stmt, pc->q->id,
                    omr_template_kind_name(pc->q->kind));
    return OMR_OK;
}

#define K(x) (1u << OMR_KIND_##x)

static omr_status_t stmt_prompt(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    omr_status_t st = need_kind(pc, "prompt", ~0u);
    return st ? st : stmt_text(pc, l, 1);
}


/* A bubble (bubble=x,y,w,h [print=TEXT]) of `what` ("option 2 of Q1", "cell
 * a/3 of Q8"): an oval to fill in, with TEXT (default the code) printed
 * inside, as on mark sheets. It takes the place of a checkbox or cell box,
 * so has_box (check=, box=) and has_bubble exclude each other; print=
 * without a bubble has nothing to print in. On success *pprint is the text
 * to print (in the survey's arena), NULL without a bubble. */
static omr_status_t parse_bubble(ctx_t *c, const omr_tpl_line_t *l, const char *what, int code, int has_box,
                                 const char *box_word, int has_bubble, omr_rect_t bubble, const char **pprint)
{
    const char *print = omr_tpl_attr(l, "print");
    *pprint = NULL;
    if (has_box && has_bubble)
        return fail(c, "%s: %s= or bubble=, not both", what, box_word);
    if (print && !has_bubble)
        return fail(c, "%s: print= is what is printed inside a bubble=; there is none", what);
    if (!has_bubble)
        return OMR_OK;
    if (bubble.w < 1.5 || bubble.h < 1.5 || bubble.w > 15 || bubble.h > 15)
        return fail(c, "%s: a bubble of %gx%g mm (1.5 to 15 mm each way)", what, bubble.w, bubble.h);
    if (print && strlen(print) > 8) /* "": nothing printed inside (a label beside it) */
        return fail(c, "%s: print=%s: up to 8 bytes", what, print);
    char codestr[8];
    snprintf(codestr, sizeof codestr, "%d", code);
    if (!(*pprint = arena_strdup(c->priv, print ? print : codestr)))
        return fail_nomem(c);
    return OMR_OK;
}

/* The points of the code printed inside a bubble: unless size= says, its
 * capitals about a third of the bubble's height. */
static double bubble_print_size(const omr_tpl_line_t *l, omr_rect_t bubble, double size)
{
    return omr_tpl_attr(l, "size") ? size : 1.4 * bubble.h;
}

/* Add a bubble: its oval, the code printed inside, and its CHECK region. */
static omr_region_t *add_bubble(page_ctx_t *pc, omr_rect_t box, const char *print, double size, int code,
                                const char *row, const char *var, unsigned frame_flags)
{
    omr_region_t *reg;
    if (!add_item(pc, OMR_ITEM_FRAME, box, 0, frame_flags | OMR_ITEM_CHECKBOX | OMR_ITEM_ROUND, NULL) ||
        (print[0] && !add_item(pc, OMR_ITEM_NUMBER, box, size, 0, print)) || /* "": nothing inside */
        !(reg = add_region(pc, OMR_REGION_CHECK, box, code, row, var)))
        return NULL;
    reg->round = 1;
    reg->print = print;
    return reg;
}

static omr_status_t stmt_option(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "option", K(SINGLE) | K(MULTI) | K(TOP3) | K(CODEGRID) | K(TICKLIST));
    if (st)
        return st;
    const char *flags = "exclusive other";
    if ((st = check_words(c, l, "num label check bubble print size ring", flags, 1, 1)))
        return st;
    omr_question_t *q = pc->q;
    int code;
    if ((st = parse_int(c, "option code", positional(l, 0, flags), 0, 63, &code)))
        return st;
    for (int i = 0; i < q->n_options; i++)
        if (q->options[i].code == code)
            return fail(c, "question %s: option %d is defined twice", q->id, code);
    const char *text = positional(l, 1, flags);
    if (!text)
        return fail(c, "option %d of %s needs its text as a quoted string", code, q->id);
    omr_option_t *o = array_push(&q->options, &q->n_options, sizeof *o);
    if (!o)
        return fail_nomem(c);
    o->code = code;
    o->exclusive = has_flag(l, "exclusive");
    o->other = has_flag(l, "other");
    o->ring = DEFAULT_RING_MM;
    o->size = 9;
    o->line = c->line;
    int has_check = 0, has_label = 0, has_bubble = 0;
    if ((st = attr_point(c, l, "num", 0, &o->num_x, &o->num_y, &o->has_num)) ||
        (st = attr_rect(c, l, "label", 0, &o->label, &has_label)) ||
        (st = attr_rect(c, l, "check", 0, &o->check, &has_check)) ||
        (st = attr_rect(c, l, "bubble", 0, &o->check, &has_bubble)) ||
        (st = attr_number(c, l, "size", 4, 40, &o->size)) || (st = attr_number(c, l, "ring", 1, 10, &o->ring)))
        return st;
    char what[64];
    snprintf(what, sizeof what, "option %d of %s", code, q->id);
    if ((st = parse_bubble(c, l, what, code, has_check, "check", has_bubble, o->check, &o->print)))
        return st;
    o->bubble = has_bubble;
    if (has_bubble)
        o->size = bubble_print_size(l, o->check, o->size);
    has_check |= has_bubble;
    if (!(o->text = arena_strdup(c->priv, text)))
        return fail_nomem(c);
    /* single and multi choice: the respondent circles the printed number, or
     * (forms of other printers) ticks a checkbox per option */
    int choice = q->kind == OMR_KIND_SINGLE || q->kind == OMR_KIND_MULTI;
    int target_circle = choice && !has_check;
    if (target_circle && !o->has_num)
        return fail(c, "option %d of %s (%s) needs num=x,y (the number the respondent circles) or check=x,y,w,h "
                       "(a checkbox)",
                    code, q->id, omr_template_kind_name(q->kind));
    if (q->kind == OMR_KIND_TICKLIST && !has_check)
        return fail(c, "option %d of ticklist %s needs check=x,y,w,h: its checkbox", code, q->id);
    if (q->kind != OMR_KIND_TICKLIST && !choice && has_check)
        return fail(c, "option %d of %s: check= is only for ticklist, single and multi questions", code, q->id);
    if (choice && q->n_options > 1 && (q->options[0].check.w > 0) != has_check)
        return fail(c, "option %d of %s: either every option has a checkbox (check=) or none", code, q->id);
    if (o->exclusive && (q->kind != OMR_KIND_MULTI && q->kind != OMR_KIND_TICKLIST))
        return fail(c, "option %d of %s: 'exclusive' only makes sense in multi and ticklist questions", code,
                    q->id);
    if (code == 0)
        return fail(c, "option codes start at 1");
    char codestr[8];
    snprintf(codestr, sizeof codestr, "%d", code);
    const char *num_text = arena_strdup(c->priv, codestr);
    if (!num_text)
        return fail_nomem(c);
    if (o->has_num) {
        double r = o->ring;
        omr_rect_t ring = {o->num_x - r, o->num_y - r, 2 * r, 2 * r};
        if (!add_item(pc, OMR_ITEM_NUMBER, ring, o->size, 0, num_text))
            return fail_nomem(c);
        if (target_circle) {
            char var[64];
            if (q->kind == OMR_KIND_SINGLE)
                snprintf(var, sizeof var, "%s", q->base);
            else
                snprintf(var, sizeof var, "%s_%d", q->base, code);
            omr_region_t *reg = add_region(pc, OMR_REGION_CIRCLE, ring, code, NULL, var);
            if (!reg)
                return fail_nomem(c);
            if (has_label)
                reg->label = o->label;
        }
    }
    if (has_label && !add_item(pc, OMR_ITEM_TEXT, o->label, o->size, 0, o->text))
        return fail_nomem(c);
    if (has_check) {
        char var[64];
        if (q->kind == OMR_KIND_SINGLE)
            snprintf(var, sizeof var, "%s", q->base);
        else
            snprintf(var, sizeof var, "%s_%d", q->base, code);
        if (o->bubble ? !add_bubble(pc, o->check, o->print, o->size, code, NULL, var, 0)
                      : !add_item(pc, OMR_ITEM_FRAME, o->check, 0, OMR_ITEM_CHECKBOX, NULL) ||
                            !add_region(pc, OMR_REGION_CHECK, o->check, code, NULL, var))
            return fail_nomem(c);
    }
    return OMR_OK;
}

static omr_status_t stmt_row(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "row", K(GRID1) | K(GRIDN) | K(CODEGRID));
    if (st || (st = check_words(c, l, "label size", "", 1, 1)))
        return st;
    omr_question_t *q = pc->q;
    const char *id = positional(l, 0, ""), *text = positional(l, 1, "");
    if (!id || !text)
        return fail(c, "'row' needs an id and its text: row a \"秘密保持\"");
    if (strlen(id) >= sizeof q->rows[0].id || !isalnum((unsigned char)id[0]))
        return fail(c, "row id '%s': a short name such as a, b, c", id);
    for (int i = 0; i < q->n_rows; i++)
        if (!strcmp(q->rows[i].id, id))
            return fail(c, "question %s: row %s is defined twice", q->id, id);
    omr_row_t *r = array_push(&q->rows, &q->n_rows, sizeof *r);
    if (!r)
        return fail_nomem(c);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->line = c->line;
    double size = 8.5;
    int has_label;
    if ((st = attr_rect(c, l, "label", 0, &r->label, &has_label)) || (st = attr_number(c, l, "size", 4, 40, &size)))
        return st;
    if (!(r->text = arena_strdup(c->priv, text)))
        return fail_nomem(c);
    if (has_label && !add_item(pc, OMR_ITEM_TEXT, r->label, size, OMR_ITEM_FRAMED, r->text))
        return fail_nomem(c);
    return OMR_OK;
}

static omr_status_t stmt_col(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "col", K(GRID1) | K(GRIDN) | K(CODEGRID));
    if (st || (st = check_words(c, l, "label size", "exclusive", 1, 1)))
        return st;
    omr_question_t *q = pc->q;
    int code;
    if ((st = parse_int(c, "column code", positional(l, 0, "exclusive"), 1, 63, &code)))
        return st;
    const char *text = positional(l, 1, "exclusive");
    if (!text)
        return fail(c, "'col' needs a code and its text: col 1 \"調達部門\"");
    for (int i = 0; i < q->n_cols; i++)
        if (q->cols[i].code == code)
            return fail(c, "question %s: column %d is defined twice", q->id, code);
    omr_col_t *col = array_push(&q->cols, &q->n_cols, sizeof *col);
    if (!col)
        return fail_nomem(c);
    col->code = code;
    col->exclusive = has_flag(l, "exclusive");
    col->line = c->line;
    if (col->exclusive && q->kind != OMR_KIND_GRIDN)
        return fail(c, "column %d of %s: 'exclusive' only makes sense in gridn questions", code, q->id);
    double size = 8;
    int has_label;
    if ((st = attr_rect(c, l, "label", 0, &col->label, &has_label)) || (st = attr_number(c, l, "size", 4, 40, &size)))
        return st;
    if (!(col->text = arena_strdup(c->priv, text)))
        return fail_nomem(c);
    if (has_label && !add_item(pc, OMR_ITEM_TEXT, col->label, size, OMR_ITEM_FRAMED | OMR_ITEM_CENTER, col->text))
        return fail_nomem(c);
    return OMR_OK;
}

static omr_status_t stmt_cell(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "cell", K(GRID1) | K(GRIDN) | K(CODEGRID));
    if (st || (st = check_words(c, l, "row col box bubble print size", "", 0, 0)))
        return st;
    omr_question_t *q = pc->q;
    const char *row = omr_tpl_attr(l, "row");
    int col;
    if (!row)
        return fail(c, "'cell' needs row=");
    if ((st = parse_int(c, "col", omr_tpl_attr(l, "col"), 1, 63, &col)))
        return st;
    int row_ok = 0, col_ok = 0;
    for (int i = 0; i < q->n_rows; i++)
        row_ok |= !strcmp(q->rows[i].id, row);
    for (int i = 0; i < q->n_cols; i++)
        col_ok |= q->cols[i].code == col;
    if (!row_ok || !col_ok)
        return fail(c, "cell row=%s col=%d of %s: declare the row and the column before their cells", row, col,
                    q->id);
    omr_rect_t box = {0}, bubble = {0};
    int has_box = 0, has_bubble = 0;
    double size = 9;
    const char *print;
    char what[64];
    snprintf(what, sizeof what, "cell row=%s col=%d of %s", row, col, q->id);
    if ((st = attr_rect(c, l, "box", 0, &box, &has_box)) || (st = attr_rect(c, l, "bubble", 0, &bubble, &has_bubble)) ||
        (st = attr_number(c, l, "size", 4, 40, &size)) ||
        (st = parse_bubble(c, l, what, col, has_box, "box", has_bubble, bubble, &print)))
        return st;
    if (!has_box && !has_bubble)
        return fail(c, "%s needs box=x,y,w,h (or bubble=x,y,w,h: an oval to fill in)", what);
    if (has_bubble && q->kind == OMR_KIND_CODEGRID)
        return fail(c, "%s: a code grid's cells are written in, not bubbles", what);
    if (omr_tpl_attr(l, "size") && !has_bubble)
        return fail(c, "%s: size= is the size of the code printed in a bubble; there is none", what);
    char var[64];
    if (q->kind == OMR_KIND_GRID1)
        snprintf(var, sizeof var, "%s_%s", q->base, row);
    else
        snprintf(var, sizeof var, "%s_%s_%d", q->base, row, col);
    const omr_region_t *regs = question_regions(pc);
    for (int i = 0; i < q->n_regions; i++)
        if (!strcmp(regs[i].row, row) && regs[i].code == col)
            return fail(c, "cell row=%s col=%d of %s is defined twice", row, col, q->id);
    if (has_bubble)
        return add_bubble(pc, bubble, print, bubble_print_size(l, bubble, size), col, row, var, OMR_ITEM_CELL)
                   ? OMR_OK
                   : fail_nomem(c);
    int digit = q->kind == OMR_KIND_CODEGRID;
    unsigned flags = OMR_ITEM_CELL | (digit ? OMR_ITEM_DIGITBOX : OMR_ITEM_CHECKBOX);
    if (!add_item(pc, OMR_ITEM_FRAME, box, 0, flags, NULL) ||
        !add_region(pc, digit ? OMR_REGION_DIGIT : OMR_REGION_CHECK, box, col, row, var))
        return fail_nomem(c);
    return OMR_OK;
}

/* `box N digit=D bubble=x,y,w,h [print=T] [size=PT]` of a number question:
 * the bubble a respondent fills to give digit D in position N. */
static omr_status_t number_bubble(page_ctx_t *pc, const omr_tpl_line_t *l, int n, const char *digit_text)
{
    ctx_t *c = pc->c;
    omr_question_t *q = pc->q;
    omr_status_t st;
    int digit, has_bubble = 0;
    omr_rect_t bubble;
    if ((st = parse_int(c, "digit", digit_text, 0, 9, &digit)))
        return st;
    if ((st = attr_rect(c, l, "bubble", 0, &bubble, &has_bubble)))
        return st;
    if (!has_bubble)
        return fail(c, "box %d digit=%d of %s needs bubble=x,y,w,h: the bubble to fill", n, digit, q->id);
    if (omr_tpl_attr(l, "box"))
        return fail(c, "box %d digit=%d of %s: box= or bubble=, not both", n, digit, q->id);
    char row[8], what[64];
    snprintf(row, sizeof row, "%d", n);
    snprintf(what, sizeof what, "box %d digit=%d of %s", n, digit, q->id);
    const omr_region_t *regs = question_regions(pc);
    for (int i = 0; i < q->n_regions; i++)
        if (regs[i].kind == OMR_REGION_CHECK && regs[i].code == digit && !strcmp(regs[i].row, row))
            return fail(c, "%s is defined twice", what);
    const char *print;
    double size = 9;
    if ((st = parse_bubble(c, l, what, digit, 0, "box", 1, bubble, &print)) ||
        (st = attr_number(c, l, "size", 4, 40, &size)))
        return st;
    char var[64];
    snprintf(var, sizeof var, "%s_d%d", q->base, n);
    if (!add_bubble(pc, bubble, print, bubble_print_size(l, bubble, size), digit, row, var, 0))
        return fail_nomem(c);
    return OMR_OK;
}

/* A write-in box: box 1..3 of a top3 question (column BASE_rN), or digit
 * box 1..OMR_NUMBER_MAX_BOXES of a number question (region BASE_dN; the
 * number's one column is BASE). In a number question printed as a mark
 * sheet, `box N digit=D bubble=R` is instead the bubble of digit D in
 * position N (a CHECK region, round, code D, row "N", var BASE_dN): the
 * position's bubbles are one answer unit, as a grid row's are. */
static omr_status_t stmt_box(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "box", K(TOP3) | K(NUMBER));
    if (st || (st = check_words(c, l, "box digit bubble print size", "", 1, 0)))
        return st;
    omr_question_t *q = pc->q;
    int number = q->kind == OMR_KIND_NUMBER, n;
    if ((st = parse_int(c, "box number", positional(l, 0, ""), 1, number ? OMR_NUMBER_MAX_BOXES : 3, &n)))
        return st;
    const char *digit_text = omr_tpl_attr(l, "digit");
    if (digit_text || omr_tpl_attr(l, "bubble"))
        return number ? number_bubble(pc, l, n, digit_text)
                      : fail(c, "box %d of %s: digit= and bubble= are for number questions", n, q->id);
    if (omr_tpl_attr(l, "print") || omr_tpl_attr(l, "size"))
        return fail(c, "box %d of %s: print= and size= belong to a bubble (digit=D bubble=x,y,w,h)", n, q->id);
    const omr_region_t *regs = question_regions(pc);
    for (int i = 0; i < q->n_regions; i++)
        if (regs[i].kind == OMR_REGION_DIGIT && regs[i].code == n)
            return fail(c, "box %d of %s is defined twice", n, q->id);
    omr_rect_t box;
    if ((st = attr_rect(c, l, "box", 1, &box, NULL)))
        return st;
    char var[64];
    snprintf(var, sizeof var, number ? "%s_d%d" : "%s_r%d", q->base, n);
    if (!add_item(pc, OMR_ITEM_FRAME, box, 0, OMR_ITEM_DIGITBOX, NULL) ||
        !add_region(pc, OMR_REGION_DIGIT, box, n, NULL, var))
        return fail_nomem(c);
    return OMR_OK;
}

static omr_status_t stmt_field(page_ctx_t *pc, const omr_tpl_line_t *l)
{
    ctx_t *c = pc->c;
    omr_status_t st = need_kind(pc, "field", K(SINGLE) | K(MULTI) | K(TOP3) | K(TICKLIST) | K(TEXT));
    if (st || (st = check_words(c, l, "for box", "", 0, 0)))
        return st;
    omr_question_t *q = pc->q;
    const char *for_code = omr_tpl_attr(l, "for");
    char var[64];
    int code = 0;
    if (q->kind == OMR_KIND_TEXT) {
        if (for_code)
            return fail(c, "the field of text question %s takes no for=", q->id);
        if (q->n_regions > 0)
            return fail(c, "text question %s has a second field", q->id);
        snprintf(var, sizeof var, "%s_text", q->base);
    } else {
        if ((st = parse_int(c, "for", for_code, 1, 63, &code)))
            return fail(c, "a field in %s needs for=CODE: the 'other' option it belongs to", q->id);
        const omr_option_t *o = NULL;
        for (int i = 0; i < q->n_options; i++)
            if (q->options[i].code == code)
                o = &q->options[i];
        if (!o)
            return fail(c, "field for=%d of %s: no option %d before it", code, q->id, code);
        if (!o->other)
            return fail(c, "field for=%d of %s: option %d is not marked 'other'", code, q->id, code);
        snprintf(var, sizeof var, "%s_%d_text", q->base, code);
        const omr_region_t *regs = question_regions(pc);
        for (int i = 0; i < q->n_regions; i++)
            if (regs[i].kind == OMR_REGION_TEXT && regs[i].code == code)
                return fail(c, "option %d of %s has a second field", code, q->id);
    }
    omr_rect_t box;
    if ((st = attr_rect(c, l, "box", 1, &box, NULL)))
        return st;
    if (!add_item(pc, OMR_ITEM_FRAME, box, 0, OMR_ITEM_FIELD, NULL) ||
        !add_region(pc, OMR_REGION_TEXT, box, code, NULL, var))
        return fail_nomem(c);
    return OMR_OK;
}

/* A number's boxes are 1..N without a gap, numbered left to right: the
 * coder reads the digits in box order, so a box numbered out of place would
 * silently reorder the number. Boxes are all written or all bubbles (a
 * position's bubbles stand in one column, their middle its place). */
static omr_status_t check_number_boxes(ctx_t *c, omr_question_t *q, const omr_region_t *regs)
{
    double x[OMR_NUMBER_MAX_BOXES + 1] = {0};
    int count[OMR_NUMBER_MAX_BOXES + 1] = {0}, n = 0, written = 0, bubbles = 0;
    for (int i = 0; i < q->n_regions; i++) {
        /* written: code is the box (1..N); bubble: row is the box (stmt_box) */
        int b = regs[i].kind == OMR_REGION_DIGIT ? regs[i].code : atoi(regs[i].row);
        written += regs[i].kind == OMR_REGION_DIGIT;
        bubbles += regs[i].kind == OMR_REGION_CHECK;
        x[b] += regs[i].box.x + regs[i].box.w / 2;
        count[b]++;
        if (b > n)
            n = b;
    }
    if (n == 0)
        return fail(c, "number question %s has no boxes: it needs box 1 … box N (N from 1 to %d)", q->id,
                    OMR_NUMBER_MAX_BOXES);
    if (written && bubbles)
        return fail(c, "number question %s mixes write-in boxes and bubbles: all boxes one way or the other", q->id);
    int present = 0;
    for (int b = 1; b <= n; b++)
        present += count[b] > 0;
    for (int b = 1; b <= n; b++)
        if (!count[b])
            return fail(c, "number question %s has %d boxes but no box %d: number them 1, 2, … %d without a gap",
                        q->id, present, b, present);
    for (int b = 2; b <= n; b++)
        if (x[b] / count[b] <= x[b - 1] / count[b - 1])
            return fail(c, "number question %s: box %d is not right of box %d; number the boxes left to right",
                        q->id, b, b - 1);
    q->n_boxes = n;
    return OMR_OK;
}

/* A question is complete when the next page-level statement or the end of the file comes. */
static omr_status_t finish_question(page_ctx_t *pc)
{
    omr_question_t *q = pc->q;
    if (!q)
        return OMR_OK;
    ctx_t *c = pc->c;
    int saved = c->line;
    c->line = q->line;
    omr_status_t st = OMR_OK;
    int n_fields = 0;
    const omr_region_t *regs = question_regions(pc);
    for (int i = 0; i < q->n_regions; i++)
        n_fields += regs[i].kind == OMR_REGION_TEXT;
    switch (q->kind) {
    case OMR_KIND_SINGLE:
    case OMR_KIND_MULTI:
    case OMR_KIND_TICKLIST:
        if (q->n_options < (q->kind == OMR_KIND_SINGLE ? 2 : 1))
            st = fail(c, "question %s (%s) has too few options", q->id, omr_template_kind_name(q->kind));
        break;
    case OMR_KIND_TOP3: {
        int boxes = q->n_regions - n_fields;
        if (boxes != 3)
            st = fail(c, "top3 question %s has %d write-in boxes; it needs boxes 1, 2 and 3", q->id, boxes);
        else if (q->n_options < 3)
            st = fail(c, "top3 question %s lists %d options; it needs at least 3", q->id, q->n_options);
        break;
    }
    case OMR_KIND_GRID1:
    case OMR_KIND_GRIDN:
    case OMR_KIND_CODEGRID:
        if (q->n_rows == 0 || q->n_cols == 0)
            st = fail(c, "grid question %s needs rows and columns", q->id);
        else if (q->n_regions != q->n_rows * q->n_cols)
            st = fail(c, "grid question %s has %d cells for %d rows x %d columns; every row needs a cell in "
                         "every column",
                      q->id, q->n_regions, q->n_rows, q->n_cols);
        else if (q->kind == OMR_KIND_CODEGRID && q->n_options == 0)
            st = fail(c, "code grid %s needs its options (the codes respondents write)", q->id);
        break;
    case OMR_KIND_TEXT:
        if (n_fields != 1)
            st = fail(c, "text question %s needs one field", q->id);
        break;
    case OMR_KIND_NUMBER:
        st = check_number_boxes(c, q, regs);
        break;
    case OMR_KIND_COUNT:
        break;
    }
    /* omr prints the prompt; a page printed by others (reference=) has its
     * own, and its question is named by its label */
    if (!st && !q->text && !pc->page->reference)
        st = fail(c, "question %s has no prompt", q->id);
    c->line = saved;
    pc->q = NULL;
    return st;
}

static int rects_overlap(omr_rect_t a, omr_rect_t b)
{
    return a.x < b.x + b.w - OVERLAP_EPS_MM && b.x < a.x + a.w - OVERLAP_EPS_MM &&
           a.y < b.y + b.h - OVERLAP_EPS_MM && b.y < a.y + a.h - OVERLAP_EPS_MM;
}

static int rect_inside(omr_rect_t r, double w, double h)
{
    return r.x >= -OVERLAP_EPS_MM && r.y >= -OVERLAP_EPS_MM && r.x + r.w <= w + OVERLAP_EPS_MM &&
           r.y + r.h <= h + OVERLAP_EPS_MM;
}

static const char *region_kind_word(omr_region_kind_t k)
{
    switch (k) {
    case OMR_REGION_CIRCLE: return "circle target";
    case OMR_REGION_CHECK: return "checkbox";
    case OMR_REGION_DIGIT: return "write-in box";
    case OMR_REGION_TEXT: return "text field";
    }
    return "region";
}

/* Everything on the page, regions apart from each other and from the marks and
 * the barcode: an overlap means one mark would be read twice or in the wrong place. */
static omr_status_t check_page_geometry(page_ctx_t *pc)
{
    ctx_t *c = pc->c;
    omr_page_t *p = pc->page;
    if (pc->n_marks != 4 && !(pc->n_marks == 0 && p->reference)) {
        c->line = 1;
        return fail(c, "the page has %d corner marks; it needs 4 (or none, and page reference=FILE: an image of "
                       "the blank page, to register a form printed without marks by its print)",
                    pc->n_marks);
    }
    if (p->barcode.w <= 0 && !c->survey->ids_by_order) {
        c->line = 1;
        return fail(c, "the page has no barcode (a form that carries none: survey identify=order)");
    }
    if (p->barcode.w > 0 && c->survey->ids_by_order) {
        c->line = 1;
        return fail(c, "the survey identifies pages by their order (identify=order): a page barcode would not be read");
    }
    for (int i = 0; i < p->n_items; i++) {
        const omr_item_t *it = &p->items[i];
        omr_rect_t r = it->box;
        if (it->kind == OMR_ITEM_RULE) { /* a line may run in any direction */
            if (r.w < 0) { r.x += r.w; r.w = -r.w; }
            if (r.h < 0) { r.y += r.h; r.h = -r.h; }
        }
        if (!rect_inside(r, p->width, p->height)) {
            c->line = it->line;
            return fail(c, "leaves the page: %.1f,%.1f,%.1f,%.1f mm on a %gx%g mm page", r.x, r.y, r.w, r.h,
                        p->width, p->height);
        }
    }
    omr_rect_t fixed[5];
    const char *fixed_name[5] = {"the top-left corner mark", "the top-right corner mark",
                                 "the bottom-left corner mark", "the bottom-right corner mark", "the barcode"};
    const int n_marks = pc->n_marks; /* 4, or 0 (registered by print) */
    for (int k = 0; k < n_marks; k++) {
        fixed[k] = omr_template_mark_rect(p, p->mark_x[k], p->mark_y[k]);
        /* a square is an item, checked with the others above */
        if (p->mark_shape != OMR_MARK_SQUARE && !rect_inside(fixed[k], p->width, p->height)) {
            c->line = 1;
            return fail(c, "a corner mark at %.1f,%.1f leaves the page", p->mark_x[k], p->mark_y[k]);
        }
    }
    fixed[4] = p->barcode;
    for (int i = 0; i < p->n_regions; i++) {
        const omr_region_t *a = &p->regions[i];
        c->line = a->line;
        for (int k = 0; k < 5; k++)
            if ((k < 4 ? k < n_marks : p->barcode.w > 0) && rects_overlap(a->box, fixed[k]))
                return fail(c, "the %s of %s overlaps %s", region_kind_word(a->kind), a->var, fixed_name[k]);
        for (int j = 0; j < i; j++) {
            const omr_region_t *b = &p->regions[j];
            if (rects_overlap(a->box, b->box))
                return fail(c, "the %s of %s overlaps the %s of %s (line %d)", region_kind_word(a->kind), a->var,
                            region_kind_word(b->kind), b->var, b->line);
        }
    }
    return OMR_OK;
}

/* Mark order for the transform: marks are given in any order; sort to TL, TR, BL, BR. */
static void sort_marks(omr_page_t *p)
{
    double cx = 0, cy = 0;
    for (int k = 0; k < 4; k++) {
        cx += p->mark_x[k] / 4;
        cy += p->mark_y[k] / 4;
    }
    double x[4], y[4];
    for (int k = 0; k < 4; k++) {
        int slot = (p->mark_y[k] > cy ? 2 : 0) + (p->mark_x[k] > cx ? 1 : 0);
        x[slot] = p->mark_x[k];
        y[slot] = p->mark_y[k];
    }
    memcpy(p->mark_x, x, sizeof x);
    memcpy(p->mark_y, y, sizeof y);
}

static omr_status_t check_marks_distinct(ctx_t *c, omr_page_t *p)
{
    double cx = 0, cy = 0;
    for (int k = 0; k < 4; k++) {
        cx += p->mark_x[k] / 4;
        cy += p->mark_y[k] / 4;
    }
    int seen = 0;
    for (int k = 0; k < 4; k++)
        seen |= 1 << ((p->mark_y[k] > cy ? 2 : 0) + (p->mark_x[k] > cx ? 1 : 0));
    if (seen != 15) {
        c->line = 1;
        return fail(c, "the four corner marks must be one near each corner of the page");
    }
    return OMR_OK;
}

/* Read a template file (page or survey) as text; NULL with *err on failure.
 * Owned by the caller (free()). */
static char *read_template_text(ctx_t *c, const char *path)
{
    size_t len;
    char *text = omr_read_file(path, MAX_TEMPLATE_BYTES, &len, c->err);
    if (text && memchr(text, '\0', len)) {
        free(text);
        omr_error_set(c->err, OMR_EINPUT, "%s: not a text file (it holds NUL bytes)", path);
        return NULL;
    }
    c->file = path;
    c->line = 0;
    return text;
}

/* The next statement from *pcursor (a NUL-terminated text, cut in place),
 * skipping blank and comment lines and counting lines in c->line.
 * Returns OMR_OK with *l filled, OMR_ENOTFOUND at the end of the text, or
 * OMR_EINPUT with "file:line: reason". (strtok_r would skip empty lines and
 * lose the line count: the lines are walked by hand.) */
static omr_status_t next_statement(ctx_t *c, char **pcursor, omr_tpl_line_t *l)
{
    while (*pcursor) {
        char *line = *pcursor, *nl = strchr(line, '\n');
        *pcursor = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        c->line++;
        omr_error_t terr;
        if (omr_template_tokenize(line, l, &terr))
            return fail(c, "%s", terr.msg);
        if (l->n == 0)
            continue;
        if (l->key[0])
            return fail(c, "a line must start with a statement name, not '%s='", l->key[0]);
        return OMR_OK;
    }
    return OMR_ENOTFOUND;
}

static omr_status_t parse_page(ctx_t *c, omr_form_t *form, int page_index, routes_t *routes)
{
    omr_page_t *page = &form->pages[page_index];
    char *text = read_template_text(c, page->file);
    if (!text)
        return c->err ? c->err->status : OMR_EIO;
    page_ctx_t pc = {.c = c, .form = form, .page = page, .page_index = page_index};
    omr_status_t st = OMR_OK;
    char *cursor = text;
    omr_tpl_line_t l;
    while ((st = next_statement(c, &cursor, &l)) == OMR_OK) {
        const char *kw = l.value[0];
        if (!pc.have_header && strcmp(kw, "page")) {
            st = fail(c, "the first statement must be 'page survey=… form=… number=… size=WxH'");
            break;
        }
        int page_level = !strcmp(kw, "page") || !strcmp(kw, "mark") || !strcmp(kw, "barcode") ||
                         !strcmp(kw, "text") || !strcmp(kw, "rule") || !strcmp(kw, "question");
        if (page_level && (st = finish_question(&pc)))
            break;
        if (!strcmp(kw, "page")) st = stmt_page(&pc, &l);
        else if (!strcmp(kw, "mark")) st = stmt_mark(&pc, &l);
        else if (!strcmp(kw, "barcode")) st = stmt_barcode(&pc, &l);
        else if (!strcmp(kw, "text")) st = stmt_text(&pc, &l, 0);
        else if (!strcmp(kw, "rule")) st = stmt_rule(&pc, &l);
        else if (!strcmp(kw, "question")) st = stmt_question(&pc, &l, routes);
        else if (!strcmp(kw, "prompt")) st = stmt_prompt(&pc, &l);
        else if (!strcmp(kw, "option")) st = stmt_option(&pc, &l);
        else if (!strcmp(kw, "row")) st = stmt_row(&pc, &l);
        else if (!strcmp(kw, "col")) st = stmt_col(&pc, &l);
        else if (!strcmp(kw, "cell")) st = stmt_cell(&pc, &l);
        else if (!strcmp(kw, "box")) st = stmt_box(&pc, &l);
        else if (!strcmp(kw, "field")) st = stmt_field(&pc, &l);
        else
            st = fail(c, "unknown statement '%s' (page level: page, mark, barcode, text, rule, question; in a "
                         "question: prompt, option, row, col, cell, box, field)",
                      kw);
        if (st)
            break;
    }
    if (st == OMR_ENOTFOUND)
        st = finish_question(&pc);
    if (!st && !pc.have_header) {
        c->line = 1;
        st = fail(c, "empty page file: it needs a 'page' statement");
    }
    if (!st)
        st = check_page_geometry(&pc);
    if (!st && omr_page_has_marks(page))
        st = check_marks_distinct(c, page);
    if (!st && omr_page_has_marks(page))
        sort_marks(page);
    free(text);
    return st;
}

/* -------------------------------------------------------- survey parsing */

static int route_code_possible(const omr_question_t *src, int code)
{
    switch (src->kind) {
    case OMR_KIND_GRID1:
    case OMR_KIND_GRIDN:
        for (int i = 0; i < src->n_cols; i++)
            if (src->cols[i].code == code)
                return 1;
        return 0;
    case OMR_KIND_TEXT:
        return 0;
    default:
        for (int i = 0; i < src->n_options; i++)
            if (src->options[i].code == code)
                return 1;
        return 0;
    }
}

static omr_status_t resolve_routes(ctx_t *c, omr_form_t *form, routes_t *routes)
{
    for (int i = 0; i < routes->n; i++) {
        pending_route_t *r = &routes->a[i];
        omr_question_t *q = &form->questions[r->question];
        c->file = r->file;
        c->line = r->line;
        int src = omr_template_question_index(form, r->src);
        if (src < 0)
            return fail(c, "question %s: when=%s:… routes to question %s, which is not on form %s", q->id, r->src,
                        r->src, form->id);
        if (src == r->question)
            return fail(c, "question %s routes to itself", q->id);
        const omr_question_t *sq = &form->questions[src];
        if (sq->kind == OMR_KIND_TEXT || sq->kind == OMR_KIND_NUMBER)
            return fail(c, "question %s: routing on %s question %s cannot be checked (routing follows option codes)",
                        q->id, omr_template_kind_name(sq->kind), sq->id);
        for (int code = 1; code < 64; code++)
            if ((q->route_codes >> code & 1) && !route_code_possible(sq, code))
                return fail(c, "question %s: when=%s:… names code %d, which %s (%s) cannot hold", q->id, sq->id,
                            code, sq->id, omr_template_kind_name(sq->kind));
        q->route_question = src;
    }
    return OMR_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const omr_column_t *)a)->name, ((const omr_column_t *)b)->name);
}

/* Two questions must never write the same column: the export would silently
 * merge them. Reports the second occurrence's question. */
static omr_status_t check_duplicate_columns(ctx_t *c, const omr_form_t *form)
{
    for (int part = 0; part < 2; part++) {
        omr_column_t *cols;
        int n = omr_template_columns(form, part, &cols);
        if (n < 0)
            return fail_nomem(c);
        if (n > 1) /* qsort with a NULL array is undefined, even for 0 elements */
            qsort(cols, (size_t)n, sizeof *cols, compare_names);
        omr_status_t st = OMR_OK;
        for (int i = 1; i < n && !st; i++) {
            if (strcmp(cols[i - 1].name, cols[i].name))
                continue;
            const omr_question_t *a = &form->questions[cols[i - 1].question];
            const omr_question_t *b = &form->questions[cols[i].question];
            const omr_question_t *later = a->page > b->page || (a->page == b->page && a->line > b->line) ? a : b;
            c->file = form->pages[later->page].file;
            c->line = later->line;
            st = a == b ? fail(c, "question %s produces column %s twice", a->id, cols[i].name)
                        : fail(c, "column %s of question %s is also a column of question %s: rename one (var=)",
                               cols[i].name, later->id, later == a ? b->id : a->id);
        }
        /* the key columns are taken */
        for (int i = 0; i < n && !st; i++)
            if (!strcmp(cols[i].name, "respondent") || !strcmp(cols[i].name, "case")) {
                const omr_question_t *q = &form->questions[cols[i].question];
                c->file = form->pages[q->page].file;
                c->line = q->line;
                st = fail(c, "question %s: column name '%s' is reserved", q->id, cols[i].name);
            }
        free(cols);
        if (st)
            return st;
    }
    return OMR_OK;
}

/* icr_policy=review (default): every written digit box to review, proposal
 * pre-filled; icr_policy=auto: accept proposals at or above the threshold the
 * model was validated at (omr_icr_model_threshold, chosen on held-out digits);
 * icr_policy=auto:0.995: a stricter threshold of the office's own. */
static omr_status_t parse_icr_policy(ctx_t *c, const char *v, double *pconf)
{
    *pconf = 0;
    if (!v || !strcmp(v, "review"))
        return OMR_OK;
    if (!strcmp(v, "auto")) {
        *pconf = omr_icr_model_threshold;
        return OMR_OK;
    }
    if (!strncmp(v, "auto:", 5)) {
        double t;
        omr_status_t st = parse_numbers(c, "icr_policy", v + 5, ',', &t, 1);
        if (st)
            return st;
        if (t < omr_icr_model_threshold || t >= 1)
            return fail(c, "icr_policy=%s: the threshold must be at least the validated %.3f and below 1", v,
                        omr_icr_model_threshold);
        *pconf = t;
        return OMR_OK;
    }
    return fail(c, "icr_policy=%s: expected review, auto or auto:THRESHOLD", v);
}

static omr_status_t survey_stmt(ctx_t *c, const omr_tpl_line_t *l, const char *dir)
{
    omr_survey_t *s = c->survey;
    const char *kw = l->value[0];
    omr_status_t st;
    if (!strcmp(kw, "survey")) {
        if ((st = check_words(c, l, "id code title icr_policy filled identify", "", 0, 0)))
            return st;
        const char *identify = omr_tpl_attr(l, "identify");
        if (identify && strcmp(identify, "barcode") && strcmp(identify, "order"))
            return fail(c, "identify=%s: pages are identified by their 'barcode' (the default) or by their 'order' "
                           "in each scanned file (forms that carry no barcode)",
                        identify);
        s->ids_by_order = identify && !strcmp(identify, "order");
        if ((st = parse_icr_policy(c, omr_tpl_attr(l, "icr_policy"), &s->icr_accept_conf)))
            return st;
        const char *filled = omr_tpl_attr(l, "filled");
        if (filled && strcmp(filled, "mark") && strcmp(filled, "cancel"))
            return fail(c, "filled=%s: a filled checkbox is a 'mark' (the default) or a 'cancel'led choice", filled);
        s->filled_cancels = filled && !strcmp(filled, "cancel");
        if (s->id)
            return fail(c, "a second 'survey' statement");
        const char *id = omr_tpl_attr(l, "id"), *code = omr_tpl_attr(l, "code"), *title = omr_tpl_attr(l, "title");
        if (!id || !code)
            return fail(c, "'survey' needs id= and code=");
        size_t n = strlen(code);
        if (n < 2 || n > 8)
            return fail(c, "code=%s: 2 to 8 upper-case letters or digits", code);
        for (size_t i = 0; i < n; i++)
            if (!isupper((unsigned char)code[i]) && !isdigit((unsigned char)code[i]))
                return fail(c, "code=%s: 2 to 8 upper-case letters or digits", code);
        if (!(s->id = arena_strdup(c->priv, id)) || !(s->code = arena_strdup(c->priv, code)) ||
            !(s->title = arena_strdup(c->priv, title ? title : id)))
            return fail_nomem(c);
        return OMR_OK;
    }
    if (!s->id)
        return fail(c, "the first statement must be 'survey id=… code=…'");
    if (!strcmp(kw, "form")) {
        if ((st = check_words(c, l, "title", "", 1, 0)))
            return st;
        const char *id = positional(l, 0, "");
        if (!id || strlen(id) > 4)
            return fail(c, "'form' needs a short name (1 to 4 letters), e.g. form A title=\"…\"");
        for (const char *p = id; *p; p++)
            if (!isupper((unsigned char)*p))
                return fail(c, "form name '%s': upper-case letters only (it is printed in the barcode)", id);
        if (omr_template_form(s, id))
            return fail(c, "form %s is defined twice", id);
        omr_form_t *f = array_push(&s->forms, &s->n_forms, sizeof *f);
        if (!f)
            return fail_nomem(c);
        snprintf(f->id, sizeof f->id, "%s", id);
        const char *title = omr_tpl_attr(l, "title");
        if (!(f->title = arena_strdup(c->priv, title ? title : id)))
            return fail_nomem(c);
        return OMR_OK;
    }
    if (!strcmp(kw, "page")) {
        if ((st = check_words(c, l, "form number file", "case", 0, 0)))
            return st;
        const char *fid = omr_tpl_attr(l, "form"), *file = omr_tpl_attr(l, "file");
        int number;
        if (!fid || !file)
            return fail(c, "'page' needs form=, number= and file=");
        if ((st = parse_int(c, "number", omr_tpl_attr(l, "number"), 1, 99, &number)))
            return st;
        omr_form_t *f = (omr_form_t *)omr_template_form(s, fid);
        if (!f)
            return fail(c, "page of form %s, which is not declared (declare 'form %s' first)", fid, fid);
        if (number != f->n_pages + 1)
            return fail(c, "form %s: page %d comes after page %d; list pages in order 1, 2, 3, …", fid, number,
                        f->n_pages);
        if (strstr(file, "..") || file[0] == '/')
            return fail(c, "file=%s: page files live in the survey folder", file);
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        omr_page_t *p = array_push(&f->pages, &f->n_pages, sizeof *p);
        if (!p)
            return fail_nomem(c);
        p->number = number;
        p->is_case = has_flag(l, "case");
        if (!(p->file = arena_strdup(c->priv, path)))
            return fail_nomem(c);
        return OMR_OK;
    }
    return fail(c, "unknown statement '%s' in a survey file (survey, form, page)", kw);
}

static omr_status_t parse_survey_file(ctx_t *c, const char *path, const char *dir)
{
    char *text = read_template_text(c, path);
    if (!text)
        return c->err ? c->err->status : OMR_EIO;
    omr_status_t st;
    char *cursor = text;
    omr_tpl_line_t l;
    while ((st = next_statement(c, &cursor, &l)) == OMR_OK && (st = survey_stmt(c, &l, dir)) == OMR_OK)
        ;
    if (st == OMR_ENOTFOUND)
        st = OMR_OK;
    free(text);
    if (st)
        return st;
    if (!c->survey->id)
        return omr_error_set(c->err, OMR_EINPUT, "%s: no 'survey' statement", path);
    if (c->survey->n_forms == 0)
        return omr_error_set(c->err, OMR_EINPUT, "%s: no form", path);
    for (int i = 0; i < c->survey->n_forms; i++)
        if (c->survey->forms[i].n_pages == 0)
            return omr_error_set(c->err, OMR_EINPUT, "%s: form %s has no pages", path, c->survey->forms[i].id);
    if (c->survey->ids_by_order && c->survey->n_forms > 1)
        return omr_error_set(c->err, OMR_EINPUT,
                             "%s: identify=order: a survey whose pages carry no barcode has one form (%d here: "
                             "nothing on a page would tell them apart)",
                             path, c->survey->n_forms);
    return OMR_OK;
}

/* Fixed page IDs (barcode value=): all pages of a survey or none (a page
 * without one would name a respondent the others cannot), and no two alike. */
static omr_status_t check_page_values(ctx_t *c)
{
    omr_survey_t *s = c->survey;
    int with = 0, all = 0;
    for (int f = 0; f < s->n_forms; f++)
        for (int p = 0; p < s->forms[f].n_pages; p++) {
            const omr_page_t *pg = &s->forms[f].pages[p];
            all++;
            if (!pg->barcode_value)
                continue;
            with++;
            const omr_form_t *of;
            int op;
            if (omr_template_page_by_value(s, pg->barcode_value, &of, &op) &&
                (of != &s->forms[f] || op != pg->number)) {
                c->file = pg->file;
                c->line = 1;
                return fail(c, "barcode value=%s is also the ID of form %s page %d", pg->barcode_value, of->id, op);
            }
        }
    if (with && with != all) {
        c->line = 1;
        return fail(c, "%d of the survey's %d pages have a fixed barcode value=: either every page has one or none",
                    with, all);
    }
    s->ids_by_value = with > 0;
    return OMR_OK;
}

/* A buffer the fingerprint's canonical text grows in. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} fp_buf_t;

static void fp_add(fp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fp_add(fp_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = b->oom ? 0 : vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (b->oom || k < 0)
            return;
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 4096) + (size_t)k;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

int omr_template_fingerprint(const omr_survey_t *s, char out[65])
{
    fp_buf_t b = {0};
    fp_add(&b, "survey %s filled=%d\n", s->id, s->filled_cancels);
    if (s->ids_by_order) /* only when set: the fingerprints of stores made before it stay valid */
        fp_add(&b, "identify=order\n");
    for (int f = 0; f < s->n_forms; f++) {
        const omr_form_t *form = &s->forms[f];
        fp_add(&b, "form %s\n", form->id);
        for (int p = 0; p < form->n_pages; p++) {
            const omr_page_t *pg = &form->pages[p];
            fp_add(&b, "page %d case=%d id=%s\n", pg->number, pg->is_case, pg->barcode_value ? pg->barcode_value : "");
            for (int i = 0; i < pg->n_regions; i++) {
                const omr_region_t *r = &pg->regions[i];
                fp_add(&b, "region %s %s %d %s %.2f,%.2f,%.2f,%.2f %.2f,%.2f,%.2f,%.2f q=%d\n", region_kind_word(r->kind), r->var,
                       r->code, r->row, r->box.x, r->box.y, r->box.w, r->box.h, r->label.x, r->label.y, r->label.w,
                       r->label.h, r->question);
                if (r->round)
                    fp_add(&b, "round\n");
            }
        }
        for (int qi = 0; qi < form->n_questions; qi++) {
            const omr_question_t *q = &form->questions[qi];
            fp_add(&b, "question %s %s %s page=%d route=%d:%llx%s\n", q->id, q->base, omr_template_kind_name(q->kind),
                   q->page, q->route_question, (unsigned long long)q->route_codes, q->full ? " full" : "");
            for (int i = 0; i < q->n_options; i++)
                fp_add(&b, " option %d %d %d\n", q->options[i].code, q->options[i].exclusive, q->options[i].other);
            for (int i = 0; i < q->n_rows; i++)
                fp_add(&b, " row %s\n", q->rows[i].id);
            for (int i = 0; i < q->n_cols; i++)
                fp_add(&b, " col %d %d\n", q->cols[i].code, q->cols[i].exclusive);
        }
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = !b.oom && b.p && EVP_Digest(b.p, b.n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    free(b.p);
    if (!ok)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int omr_template_page_by_value(const omr_survey_t *survey, const char *value, const omr_form_t **pform,
                               int *ppage)
{
    for (int f = 0; survey && value && f < survey->n_forms; f++)
        for (int p = 0; p < survey->forms[f].n_pages; p++) {
            const omr_page_t *pg = &survey->forms[f].pages[p];
            if (pg->barcode_value && !strcmp(pg->barcode_value, value)) {
                *pform = &survey->forms[f];
                *ppage = pg->number;
                return 1;
            }
        }
    return 0;
}

omr_status_t omr_template_load(const char *path, omr_survey_t **psurvey, omr_error_t *err)
{
    *psurvey = NULL;
    char dir[4096], file[4200];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return omr_error_set(err, OMR_EINPUT, "template path too long");
    if (n > 4 && !strcmp(path + n - 4, ".omr")) {
        snprintf(file, sizeof file, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash)
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        else
            snprintf(dir, sizeof dir, ".");
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        snprintf(file, sizeof file, "%s/survey.omr", dir);
    }
    omr_survey_t *s = calloc(1, sizeof *s);
    survey_priv_t *priv = calloc(1, sizeof *priv);
    if (!s || !priv) {
        free(s);
        free(priv);
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    }
    s->priv = priv;
    ctx_t c = {.survey = s, .priv = priv, .err = err};
    omr_status_t st = parse_survey_file(&c, file, dir);
    if (!st && !(s->dir = arena_strdup(priv, dir)))
        st = omr_error_set(err, OMR_ENOMEM, "out of memory");
    for (int f = 0; f < s->n_forms && !st; f++) {
        omr_form_t *form = &s->forms[f];
        routes_t routes = {0};
        for (int p = 0; p < form->n_pages && !st; p++)
            st = parse_page(&c, form, p, &routes);
        if (!st)
            st = resolve_routes(&c, form, &routes);
        if (!st)
            st = check_duplicate_columns(&c, form);
        free(routes.a);
    }
    if (!st)
        st = check_page_values(&c);
    if (st) {
        omr_template_free(s);
        return st;
    }
    *psurvey = s;
    return OMR_OK;
}

void omr_template_free(omr_survey_t *s)
{
    if (!s)
        return;
    for (int f = 0; f < s->n_forms; f++) {
        omr_form_t *form = &s->forms[f];
        for (int p = 0; p < form->n_pages; p++) {
            free(form->pages[p].items);
            free(form->pages[p].regions);
        }
        for (int q = 0; q < form->n_questions; q++) {
            free(form->questions[q].options);
            free(form->questions[q].rows);
            free(form->questions[q].cols);
        }
        free(form->pages);
        free(form->questions);
    }
    free(s->forms);
    survey_priv_t *priv = s->priv;
    if (priv) {
        for (arena_block_t *b = priv->blocks, *next; b; b = next) {
            next = b->next;
            free(b);
        }
        free(priv);
    }
    free(s);
}

/* ------------------------------------------------------------- look-ups */

const omr_form_t *omr_template_form(const omr_survey_t *s, const char *form_id)
{
    for (int i = 0; s && i < s->n_forms; i++)
        if (!strcmp(s->forms[i].id, form_id))
            return &s->forms[i];
    return NULL;
}

int omr_template_question_index(const omr_form_t *form, const char *id)
{
    for (int i = 0; form && i < form->n_questions; i++)
        if (!strcmp(form->questions[i].id, id))
            return i;
    return -1;
}

const omr_question_t *omr_template_question(const omr_form_t *form, const char *id)
{
    int i = omr_template_question_index(form, id);
    return i < 0 ? NULL : &form->questions[i];
}

static const char *const kind_names[OMR_KIND_COUNT] = {"single",   "multi",    "top3", "grid1", "gridn",
                                                       "codegrid", "ticklist", "text", "number"};

const char *omr_template_kind_name(omr_kind_t kind)
{
    return (unsigned)kind < OMR_KIND_COUNT ? kind_names[kind] : "unknown";
}

int omr_template_kind_from_name(const char *name)
{
    for (int i = 0; i < OMR_KIND_COUNT; i++)
        if (!strcmp(kind_names[i], name))
            return i;
    return -1;
}

/* -------------------------------------------------------------- columns */

static int push_column(omr_column_t **pcols, int *pn, const char *name, int question, int region, int is_text)
{
    omr_column_t *col = array_push(pcols, pn, sizeof *col);
    if (!col)
        return -1;
    snprintf(col->name, sizeof col->name, "%s", name);
    col->question = question;
    col->region = region;
    col->is_text = is_text;
    return 0;
}

/* Index (in the page's regions) of the question's region with that var, or -1. */
static int region_of(const omr_form_t *form, const omr_question_t *q, const char *var)
{
    const omr_page_t *p = &form->pages[q->page];
    for (int i = q->first_region; i < q->first_region + q->n_regions; i++)
        if (!strcmp(p->regions[i].var, var))
            return i;
    return -1;
}

/* The `_text` column of an option marked `other`, right after the option's own column(s). */
static int push_other_text(const omr_form_t *form, const omr_question_t *q, int qi, const omr_option_t *o,
                           omr_column_t **pcols, int *pn)
{
    if (!o->other)
        return 0;
    char name[64];
    snprintf(name, sizeof name, "%s_%d_text", q->base, o->code);
    return push_column(pcols, pn, name, qi, region_of(form, q, name), 1);
}

int omr_template_columns(const omr_form_t *form, int case_part, omr_column_t **pcols)
{
    omr_column_t *cols = NULL;
    int n = 0, bad = 0;
    char name[64];
    for (int qi = 0; qi < form->n_questions && !bad; qi++) {
        const omr_question_t *q = &form->questions[qi];
        if (q->is_case != (case_part != 0))
            continue;
        switch (q->kind) {
        case OMR_KIND_SINGLE:
            bad |= push_column(&cols, &n, q->base, qi, -1, 0);
            for (int i = 0; i < q->n_options; i++)
                bad |= push_other_text(form, q, qi, &q->options[i], &cols, &n);
            break;
        case OMR_KIND_MULTI:
        case OMR_KIND_TICKLIST:
            for (int i = 0; i < q->n_options; i++) {
                snprintf(name, sizeof name, "%s_%d", q->base, q->options[i].code);
                bad |= push_column(&cols, &n, name, qi, region_of(form, q, name), 0);
                bad |= push_other_text(form, q, qi, &q->options[i], &cols, &n);
            }
            break;
        case OMR_KIND_TOP3:
            for (int b = 1; b <= 3; b++) {
                snprintf(name, sizeof name, "%s_r%d", q->base, b);
                bad |= push_column(&cols, &n, name, qi, region_of(form, q, name), 0);
            }
            for (int i = 0; i < q->n_options; i++)
                bad |= push_other_text(form, q, qi, &q->options[i], &cols, &n);
            break;
        case OMR_KIND_GRID1:
            for (int r = 0; r < q->n_rows; r++) {
                snprintf(name, sizeof name, "%s_%s", q->base, q->rows[r].id);
                bad |= push_column(&cols, &n, name, qi, -1, 0);
            }
            break;
        case OMR_KIND_GRIDN:
        case OMR_KIND_CODEGRID:
            for (int r = 0; r < q->n_rows; r++)
                for (int k = 0; k < q->n_cols; k++) {
                    snprintf(name, sizeof name, "%s_%s_%d", q->base, q->rows[r].id, q->cols[k].code);
                    bad |= push_column(&cols, &n, name, qi, region_of(form, q, name), 0);
                }
            break;
        case OMR_KIND_TEXT:
            snprintf(name, sizeof name, "%s_text", q->base);
            bad |= push_column(&cols, &n, name, qi, region_of(form, q, name), 1);
            break;
        case OMR_KIND_NUMBER: /* the number, from all its boxes */
            bad |= push_column(&cols, &n, q->base, qi, -1, 0);
            break;
        case OMR_KIND_COUNT:
            break;
        }
    }
    if (bad) {
        free(cols);
        *pcols = NULL;
        return -1;
    }
    *pcols = cols;
    return n;
}

/* -------------------------------------------------------------- payload */

void omr_template_payload(char *buf, size_t n, const char *survey_code, const char *form_id, int page_number,
                          const char *respondent)
{
    snprintf(buf, n, "%s-%s%02d-%s", survey_code, form_id, page_number, respondent);
}

omr_status_t omr_template_parse_payload(const char *payload, char *code, char *form_id, int *ppage,
                                        char *respondent)
{
    const char *p = payload;
    size_t n = 0;
    while (isupper((unsigned char)p[n]) || isdigit((unsigned char)p[n]))
        n++;
    if (n < 2 || n > 8 || p[n] != '-')
        return OMR_EINPUT;
    memcpy(code, p, n);
    code[n] = '\0';
    p += n + 1;
    n = 0;
    while (isupper((unsigned char)p[n]))
        n++;
    if (n < 1 || n > 4 || !isdigit((unsigned char)p[n]) || !isdigit((unsigned char)p[n + 1]) || p[n + 2] != '-')
        return OMR_EINPUT;
    memcpy(form_id, p, n);
    form_id[n] = '\0';
    int page = (p[n] - '0') * 10 + (p[n + 1] - '0');
    if (page < 1)
        return OMR_EINPUT;
    p += n + 3;
    n = 0;
    while (isalnum((unsigned char)p[n]))
        n++;
    if (n < 1 || n > 24 || p[n])
        return OMR_EINPUT;
    memcpy(respondent, p, n + 1);
    *ppage = page;
    return OMR_OK;
}
