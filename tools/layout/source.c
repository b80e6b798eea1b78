/* source.c -- read a questionnaire's source files (no geometry) for
 * tools/layout.
 *
 * Same lexical rules as the page files, split by the template tokenizer
 * (omr_template_tokenize). Statements: see templates/FORMAT.md "Source
 * files". A quoted word that is not a known flag is the printed text; the
 * last one wins, so `question … "prompt"` needs no key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

#define MAX_SRC_BYTES (4u << 20)

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* Grow *pa (element size sz) by one; returns the new element, zeroed. */
static void *push(void **pa, int *pn, size_t sz) {
  void *a = realloc(*pa, (size_t)(*pn + 1) * sz);
  if (!a)
    return NULL;
  *pa = a;
  void *e = (char *)a + (size_t)(*pn) * sz;
  memset(e, 0, sz);
  (*pn)++;
  return e;
}

/* Is word i of l a bare word equal to flag? */
static int has_flag(const omr_tpl_line_t *l, const char *flag) {
  for (int i = 1; i < l->n; i++)
    if (!l->key[i] && !strcmp(l->value[i], flag))
      return 1;
  return 0;
}

/* The last bare word from index `from` on that is not one of the flags. */
static const char *last_text(const omr_tpl_line_t *l, int from,
                             const char *const *flags) {
  const char *t = NULL;
  for (int i = from; i < l->n; i++) {
    if (l->key[i])
      continue;
    int is_flag = 0;
    for (int k = 0; flags && flags[k]; k++)
      if (!strcmp(l->value[i], flags[k]))
        is_flag = 1;
    if (!is_flag)
      t = l->value[i];
  }
  return t;
}

/* Check that every key=value of l is in allowed (NULL-terminated). */
static omr_status_t check_keys(const omr_tpl_line_t *l,
                               const char *const *allowed, const char *file,
                               int line, omr_error_t *err) {
  for (int i = 1; i < l->n; i++) {
    if (!l->key[i])
      continue;
    int ok = 0;
    for (int k = 0; allowed[k]; k++)
      if (!strcmp(l->key[i], allowed[k]))
        ok = 1;
    if (!ok)
      return omr_error_set(err, OMR_EINPUT,
                           "%s:%d: unknown attribute '%s' for '%s'", file, line,
                           l->key[i], l->value[0]);
  }
  return OMR_OK;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || end == s || *end || v < lo || v > hi)
    return 0;
  *out = (int)v;
  return 1;
}

static omr_status_t read_question(const omr_tpl_line_t *l, lay_block_t *b,
                                  const char *file, int line,
                                  omr_error_t *err) {
  static const char *const keys[] = {"kind",    "label", "when", "var",
                                     "columns", "lines", "boxes", NULL};
  static const char *const flags[] = {"half", NULL};
  if (check_keys(l, keys, file, line, err) != OMR_OK)
    return OMR_EINPUT;
  if (l->n < 2 || l->key[1] || strlen(l->value[1]) >= sizeof b->id)
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: question needs an ID (at most %zu chars)",
                         file, line, sizeof b->id - 1);
  snprintf(b->id, sizeof b->id, "%s", l->value[1]);
  const char *kind = omr_tpl_attr(l, "kind");
  int k = kind ? omr_template_kind_from_name(kind) : -1;
  if (k < 0)
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: question %s: unknown or missing kind '%s'",
                         file, line, b->id, kind ? kind : "");
  b->qkind = (omr_kind_t)k;
  const char *v;
  if ((v = omr_tpl_attr(l, "label")))
    snprintf(b->label, sizeof b->label, "%s", v);
  if ((v = omr_tpl_attr(l, "when")))
    snprintf(b->when, sizeof b->when, "%s", v);
  if ((v = omr_tpl_attr(l, "var")))
    snprintf(b->var, sizeof b->var, "%s", v);
  b->columns = 1;
  if ((v = omr_tpl_attr(l, "columns")) && !parse_int(v, 1, 2, &b->columns))
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: columns must be 1 or 2, not '%s'", file, line,
                         v);
  b->lines = 3;
  if ((v = omr_tpl_attr(l, "lines")) && !parse_int(v, 1, 30, &b->lines))
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: lines must be 1..30, not '%s'", file, line, v);
  /* a number's digit boxes: how many digits it may have is the form's
   * choice, nothing in the prompt says it */
  v = omr_tpl_attr(l, "boxes");
  if (k == OMR_KIND_NUMBER &&
      (!v || !parse_int(v, 1, OMR_NUMBER_MAX_BOXES, &b->boxes)))
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: question %s: kind=number needs boxes=N, its "
                         "digit boxes (1..%d), not '%s'",
                         file, line, b->id, OMR_NUMBER_MAX_BOXES, v ? v : "");
  if (k != OMR_KIND_NUMBER && v)
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: question %s: boxes= is only for kind=number",
                         file, line, b->id);
  b->half = has_flag(l, "half");
  b->text = xstrdup(last_text(l, 2, flags));
  return OMR_OK;
}

/* A statement that belongs to the current question q (option, col, row, group).
 */
static omr_status_t read_child(const omr_tpl_line_t *l, lay_block_t *q,
                               const char *file, int line, omr_error_t *err) {
  static const char *const none[] = {NULL};
  static const char *const oflags[] = {"other", "exclusive", NULL};
  const char *kw = l->value[0];
  if (!q)
    return omr_error_set(err, OMR_EINPUT, "%s:%d: '%s' outside a question",
                         file, line, kw);
  if (check_keys(l, none, file, line, err) != OMR_OK)
    return OMR_EINPUT;
  if (!strcmp(kw, "group")) {
    const char *t = last_text(l, 1, NULL);
    lay_option_t *o = push((void **)&q->opts, &q->n_opts, sizeof *o);
    if (!o || !t)
      return omr_error_set(err, OMR_EINPUT, "%s:%d: group needs a text", file,
                           line);
    o->group = 1;
    o->text = strdup(t);
    o->line = line;
    return OMR_OK;
  }
  const char *t = last_text(l, 2, oflags);
  if (l->n < 3 || l->key[1] || !t)
    return omr_error_set(err, OMR_EINPUT, "%s:%d: %s needs a code and a text",
                         file, line, kw);
  if (!strcmp(kw, "row")) {
    lay_row_t *r = push((void **)&q->rows, &q->n_rows, sizeof *r);
    if (!r || strlen(l->value[1]) >= sizeof r->id)
      return omr_error_set(err, OMR_EINPUT, "%s:%d: bad row id", file, line);
    snprintf(r->id, sizeof r->id, "%s", l->value[1]);
    r->text = strdup(t);
    r->line = line;
    return OMR_OK;
  }
  int code;
  if (!parse_int(l->value[1], 0, 63, &code))
    return omr_error_set(err, OMR_EINPUT,
                         "%s:%d: %s code '%s' is not a number 0..63", file,
                         line, kw, l->value[1]);
  if (!strcmp(kw, "col")) {
    lay_col_t *c = push((void **)&q->cols, &q->n_cols, sizeof *c);
    if (!c)
      return omr_error_set(err, OMR_ENOMEM, "out of memory");
    c->code = code;
    c->text = strdup(t);
    c->exclusive = has_flag(l, "exclusive");
    c->line = line;
    return OMR_OK;
  }
  lay_option_t *o = push((void **)&q->opts, &q->n_opts, sizeof *o);
  if (!o)
    return omr_error_set(err, OMR_ENOMEM, "out of memory");
  o->code = code;
  o->text = strdup(t);
  o->other = has_flag(l, "other");
  o->exclusive = has_flag(l, "exclusive");
  o->line = line;
  return OMR_OK;
}

/* Read one form's source into f->blocks. */
static omr_status_t read_form(lay_form_t *f, const char *path,
                              omr_error_t *err) {
  char *buf = omr_read_file(path, MAX_SRC_BYTES, NULL, err);
  if (!buf)
    return OMR_EIO;
  omr_status_t st = OMR_OK;
  lay_block_t *q = NULL;
  int line = 0;
  for (char *p = buf, *next; p && st == OMR_OK; p = next) {
    line++;
    next = strchr(p, '\n');
    if (next)
      *next++ = '\0';
    omr_tpl_line_t l;
    if (omr_template_tokenize(p, &l, err) != OMR_OK) {
      omr_error_prefix(err, "%s:%d: ", path, line);
      st = OMR_EINPUT;
      break;
    }
    if (l.n == 0)
      continue;
    const char *kw = l.value[0];
    if (!strcmp(kw, "option") || !strcmp(kw, "col") || !strcmp(kw, "row") ||
        !strcmp(kw, "group")) {
      st = read_child(&l, q, path, line, err);
      continue;
    }
    static const struct {
      const char *kw;
      lay_block_kind_t kind;
    } simple[] = {{"title", LAY_TITLE},         {"subtitle", LAY_SUBTITLE},
                  {"heading", LAY_HEADING},     {"subheading", LAY_SUBHEADING},
                  {"para", LAY_PARA},           {"note", LAY_NOTE},
                  {"pagebreak", LAY_PAGEBREAK}, {"case", LAY_CASE},
                  {"question", LAY_QUESTION}};
    int kind = -1;
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
      if (!strcmp(kw, simple[i].kw))
        kind = (int)simple[i].kind;
    if (kind < 0) {
      st = omr_error_set(err, OMR_EINPUT, "%s:%d: unknown statement '%s'", path,
                         line, kw);
      break;
    }
    lay_block_t *b = push((void **)&f->blocks, &f->n_blocks, sizeof *b);
    if (!b) {
      st = omr_error_set(err, OMR_ENOMEM, "out of memory");
      break;
    }
    b->kind = (lay_block_kind_t)kind;
    b->line = line;
    q = NULL;
    if (kind == LAY_QUESTION) {
      st = read_question(&l, b, path, line, err);
      q = b;
    } else if (kind != LAY_PAGEBREAK && kind != LAY_CASE) {
      const char *t = last_text(&l, 1, NULL);
      if (!t)
        st = omr_error_set(err, OMR_EINPUT, "%s:%d: %s needs a text", path,
                           line, kw);
      else
        b->text = strdup(t);
      if (kind == LAY_SUBTITLE && t && !f->subtitle)
        f->subtitle = strdup(t);
    }
  }
  free(buf);
  return st;
}

omr_status_t lay_source_read(const char *src_dir, lay_survey_t *s,
                             omr_error_t *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/survey.src", src_dir);
  char *buf = omr_read_file(path, MAX_SRC_BYTES, NULL, err);
  if (!buf)
    return OMR_EIO;
  omr_status_t st = OMR_OK;
  int line = 0;
  for (char *p = buf, *next; p && st == OMR_OK; p = next) {
    line++;
    next = strchr(p, '\n');
    if (next)
      *next++ = '\0';
    omr_tpl_line_t l;
    if (omr_template_tokenize(p, &l, err) != OMR_OK) {
      omr_error_prefix(err, "%s:%d: ", path, line);
      st = OMR_EINPUT;
    } else if (l.n == 0) {
      continue;
    } else if (!strcmp(l.value[0], "survey")) {
      static const char *const keys[] = {"id", "code", "title", "icr_policy", NULL};
      if ((st = check_keys(&l, keys, path, line, err)) != OMR_OK)
        break;
      s->id = xstrdup(omr_tpl_attr(&l, "id"));
      s->code = xstrdup(omr_tpl_attr(&l, "code"));
      s->title = xstrdup(omr_tpl_attr(&l, "title"));
      s->icr_policy = xstrdup(omr_tpl_attr(&l, "icr_policy"));
      if (!s->id || !s->code)
        st = omr_error_set(err, OMR_EINPUT,
                           "%s:%d: survey needs id= and code=", path, line);
    } else if (!strcmp(l.value[0], "form")) {
      static const char *const keys[] = {"title", "source", NULL};
      if ((st = check_keys(&l, keys, path, line, err)) != OMR_OK)
        break;
      const char *src = omr_tpl_attr(&l, "source");
      if (l.n < 2 || l.key[1] || strlen(l.value[1]) >= sizeof s->forms[0].id ||
          !src)
        st = omr_error_set(err, OMR_EINPUT,
                           "%s:%d: form needs an ID and source=", path, line);
      else if (s->n_forms >= LAY_MAX_FORMS)
        st = omr_error_set(err, OMR_ELIMIT, "%s:%d: more than %d forms", path,
                           line, LAY_MAX_FORMS);
      else {
        lay_form_t *f = &s->forms[s->n_forms++];
        snprintf(f->id, sizeof f->id, "%s", l.value[1]);
        f->title = xstrdup(omr_tpl_attr(&l, "title"));
        char fp[4096];
        snprintf(fp, sizeof fp, "%s/%s", src_dir, src);
        f->source = strdup(fp);
        st = read_form(f, fp, err);
      }
    } else {
      st = omr_error_set(err, OMR_EINPUT, "%s:%d: unknown statement '%s'", path,
                         line, l.value[0]);
    }
  }
  free(buf);
  if (st == OMR_OK && (!s->id || s->n_forms == 0))
    st = omr_error_set(err, OMR_EINPUT,
                       "%s: needs a survey statement and at least one form",
                       path);
  return st;
}

void lay_survey_free(lay_survey_t *s) {
  if (!s)
    return;
  for (int i = 0; i < s->n_forms; i++) {
    lay_form_t *f = &s->forms[i];
    for (int b = 0; b < f->n_blocks; b++) {
      lay_block_t *bl = &f->blocks[b];
      free(bl->text);
      for (int k = 0; k < bl->n_opts; k++)
        free(bl->opts[k].text);
      for (int k = 0; k < bl->n_rows; k++)
        free(bl->rows[k].text);
      for (int k = 0; k < bl->n_cols; k++)
        free(bl->cols[k].text);
      free(bl->opts);
      free(bl->rows);
      free(bl->cols);
    }
    free(f->blocks);
    free(f->title);
    free(f->source);
    free(f->subtitle);
  }
  free(s->id);
  free(s->code);
  free(s->title);
  free(s->icr_policy);
  memset(s, 0, sizeof *s);
}
