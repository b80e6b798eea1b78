/* flow.c -- place a questionnaire's blocks on A4 pages and write the page
 * files.
 *
 * Blocks (title, heading, paragraph, note, question) are stacked top to
 * bottom inside the content area; a block that does not fit starts a new
 * page, and a question is never split (one taller than a page is an error).
 * Every text is measured with omr_print_text_size(), the function the printer
 * wraps with, so a box holds exactly the lines that will be printed.
 *
 * Page furniture (fixed for every page, mm): corner marks centred 10 mm from
 * each edge, side 6; the barcode box 65,270,80,14 (bars 10 mm high, about
 * 0.36 mm a module for the 17-character payload, the payload text below);
 * the running header above the content between the top marks; the page
 * number right of the barcode. Content: x 15..195, y 17..265.
 *
 * Output of one block = its page-level statements (text, rule) first, then
 * the `question` statement and its own lines, because a page-level statement
 * ends the current question in the page-file syntax.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "print.h"

#define PAGE_W 210.0
#define PAGE_H 297.0
#define MARK_IN 10.0 /* mark centre from the edges */
#define MARK_SIZE 6.0
#define X0 15.0  /* content left */
#define X1 195.0 /* content right */
#define Y0 17.0  /* content top: below the top marks (7..13) */
#define Y1 265.0 /* content bottom: above the barcode */
#define CW (X1 - X0)
#define BAR_X 65.0
#define BAR_Y 270.0
#define BAR_W 80.0
#define BAR_H 14.0

#define LABEL_W 14.0 /* question number column */
#define OPT_X (X0 + LABEL_W)
#define PROMPT_PT 9.5
#define LABEL_PT 10.0
#define OPTION_PT 9.0
#define NUM_PT 10.0
#define RING 2.6 /* circle target half-side (FORMAT.md default) */
#define REGION_GAP                                                             \
  1.4 /* between regions: the loader refuses overlaps; scans shift */
#define Q_SPACE 4.5 /* after a question */

/* ---- a growable string ---- */
typedef struct {
  char *s;
  size_t n, cap;
  int oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
  if (b->oom)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k =
        vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->oom = 1;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
}

static void sb_append(sbuf_t *b, const sbuf_t *a) {
  if (a->n)
    sb_printf(b, "%.*s", (int)a->n, a->s);
}

static void sb_free(sbuf_t *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

/* A number as the page files write it: two decimals, no trailing zeros. */
static const char *num(char *buf, double v) {
  snprintf(buf, 24, "%.2f", fabs(v) < 0.005 ? 0.0 : v);
  char *e = buf + strlen(buf) - 1;
  while (*e == '0')
    *e-- = '\0';
  if (*e == '.')
    *e = '\0';
  return buf;
}

/* " key=x,y,w,h" */
static void sb_rect(sbuf_t *b, const char *key, double x, double y, double w,
                    double h) {
  char a[24], c[24], d[24], e[24];
  sb_printf(b, " %s=%s,%s,%s,%s", key, num(a, x), num(c, y), num(d, w),
            num(e, h));
}

static void sb_point(sbuf_t *b, const char *key, double x, double y) {
  char a[24], c[24];
  sb_printf(b, " %s=%s,%s", key, num(a, x), num(c, y));
}

/* `"text"` with \" and \\ escaped. */
static void sb_quoted(sbuf_t *b, const char *t) {
  sb_printf(b, "\"");
  for (; *t; t++) {
    if (*t == '"' || *t == '\\')
      sb_printf(b, "\\%c", *t);
    else
      sb_printf(b, "%c", *t);
  }
  sb_printf(b, "\"");
}

/* ---- measuring ---- */

typedef struct {
  omr_error_t *err;
  omr_status_t st; /* first measuring error, sticky */
  const char *file;
  int line;
} meas_t;

/* Height (mm) of text wrapped to width w; *pwidth (optional) the widest line.
 */
static double text_h(meas_t *m, const char *t, double pt, unsigned flags,
                     double w, double *pwidth) {
  double tw = 0, th = 0;
  if (m->st == OMR_OK &&
      omr_print_text_size(t, pt, flags, w, &tw, &th, NULL, m->err) != OMR_OK) {
    omr_error_prefix(m->err, "%s:%d: ", m->file, m->line);
    m->st = OMR_EINPUT;
  }
  if (pwidth)
    *pwidth = tw;
  return th;
}

/* `text box=… size=… flags "t"`; returns the height used (box h). */
static void emit_text(sbuf_t *b, double x, double y, double w, double h,
                      double pt, const char *flags, const char *t) {
  char s[24];
  sb_printf(b, "text");
  sb_rect(b, "box", x, y, w, h);
  sb_printf(b, " size=%s%s%s", num(s, pt), flags && *flags ? " " : "",
            flags ? flags : "");
  sb_printf(b, " ");
  sb_quoted(b, t);
  sb_printf(b, "\n");
}

static void emit_rule(sbuf_t *b, double x0, double y0, double x1, double y1,
                      double width) {
  char s[24];
  sb_printf(b, "rule");
  sb_point(b, "from", x0, y0);
  sb_point(b, "to", x1, y1);
  sb_printf(b, " width=%s\n", num(s, width));
}

/* ---- questions ---- */

/* Output of one block: page-level lines, then the question's lines. */
typedef struct {
  sbuf_t pre, q;
} out_t;

static void emit_question_head(out_t *o, const lay_block_t *b) {
  sb_printf(&o->q, "question %s kind=%s", b->id,
            omr_template_kind_name(b->qkind));
  sb_printf(&o->q, " label=");
  sb_quoted(&o->q, b->label[0] ? b->label : b->id);
  if (b->when[0])
    sb_printf(&o->q, " when=%s", b->when);
  if (b->var[0])
    sb_printf(&o->q, " var=%s", b->var);
  sb_printf(&o->q, "\n");
}

/* The question number and prompt; returns the y below them. Routed
 * sub-questions whose prompt starts with "→" carry their number in the
 * prompt, which then starts at the left margin. */
static double lay_prompt(meas_t *m, out_t *o, const lay_block_t *b, double y) {
  if (!b->text)
    return y;
  int arrow = !strncmp(b->text, "→", strlen("→"));
  double x = arrow ? X0 : OPT_X;
  double h = text_h(m, b->text, PROMPT_PT, 0, X1 - x, NULL);
  if (!arrow && b->label[0])
    emit_text(&o->pre, X0, y, LABEL_W - 1,
              text_h(m, b->label, LABEL_PT, OMR_ITEM_BOLD, 0, NULL), LABEL_PT,
              "bold", b->label);
  sb_printf(&o->q, "  prompt");
  sb_rect(&o->q, "box", x, y, X1 - x, h);
  char s[24];
  sb_printf(&o->q, " size=%s", num(s, PROMPT_PT));
  sb_printf(&o->q, " ");
  sb_quoted(&o->q, b->text);
  sb_printf(&o->q, "\n");
  return y + h + 2.0;
}

/* One option of a list in a column at x of width w, number centre at ny.
 * target: circle targets (single/multi), else a printed code list (top3,
 * codegrid legend). Returns the bottom of everything it placed. */
static double lay_option(meas_t *m, out_t *o, const lay_option_t *op, double x,
                         double w, double top, int target) {
  double ring = target ? RING : 2.0;
  double l1 = text_h(m, "あ", OPTION_PT, 0, 0, NULL);
  double nx = x + ring + 0.9, tx = nx + ring + 1.6;
  double tw = x + w - tx - 1.0;
  double ny = top + ring;
  double ly = ny - l1 / 2;
  double bottom = ny + ring;
  double th, twidth;
  if (op->other) {
    th = text_h(m, op->text, OPTION_PT, 0, 0, &twidth);
    tw = twidth + 0.2;
  } else {
    th = text_h(m, op->text, OPTION_PT, 0, tw, NULL);
  }
  if (ly + th > bottom)
    bottom = ly + th;
  char s[24];
  sb_printf(&o->q, "  option %d", op->code);
  sb_point(&o->q, "num", nx, ny);
  sb_rect(&o->q, "label", tx, ly, tw, th);
  if (!target)
    sb_printf(&o->q, " ring=%s", num(s, ring));
  sb_printf(&o->q, " size=%s%s%s", num(s, OPTION_PT),
            op->exclusive ? " exclusive" : "", op->other ? " other" : "");
  sb_printf(&o->q, " ");
  sb_quoted(&o->q, op->text);
  sb_printf(&o->q, "\n");
  if (op->other) {
    /* The write-in field after "その他", to the end of the column. */
    double fx = tx + tw + 1.5, fw = x + w - 1.0 - fx;
    if (fw < 30) /* too narrow beside the text: a line of its own below */
      fx = tx, fw = x + w - 1.0 - tx, ny = bottom + REGION_GAP + 3.0;
    sb_printf(&o->q, "  field for=%d", op->code);
    sb_rect(&o->q, "box", fx, ny - 3.0, fw, 6.0);
    sb_printf(&o->q, "\n");
    if (ny + 3.0 > bottom)
      bottom = ny + 3.0;
  }
  return bottom;
}

/* Options in `columns` columns (column-major, as the seed's tables) below y. */
static double lay_option_list(meas_t *m, out_t *o, const lay_block_t *b,
                              double y, int target) {
  int n = b->n_opts, cols = b->columns == 2 && n > 1 ? 2 : 1;
  int per = cols == 2 ? n / 2 : n; /* left column takes the smaller half */
  double w = (X1 - OPT_X) / cols;
  double gap = target ? REGION_GAP : 0.8;
  int rows = cols == 2 ? n - per : n;
  /* Laid out row by row, but written in code order: the template's option
   * order is the codebook's and the export's column order. */
  out_t *each = calloc((size_t)(n > 0 ? n : 1), sizeof *each);
  if (!each) {
    fprintf(stderr, "layout: out of memory\n");
    exit(2);
  }
  for (int r = 0; r < rows; r++) {
    double bottom = y;
    for (int c = 0; c < cols; c++) {
      int i;
      if (cols == 1)
        i = r;
      else if (c == 0)
        i = r < per ? r : -1;
      else
        i = per + r;
      if (i < 0 || i >= n)
        continue;
      double bt = lay_option(m, &each[i], &b->opts[i], OPT_X + c * w, w, y, target);
      if (bt > bottom)
        bottom = bt;
    }
    y = bottom + gap;
  }
  for (int i = 0; i < n; i++) {
    sb_append(&o->pre, &each[i].pre);
    sb_append(&o->q, &each[i].q);
    sb_free(&each[i].pre);
    sb_free(&each[i].q);
  }
  free(each);
  return y;
}

static double lay_top3(meas_t *m, out_t *o, const lay_block_t *b, double y) {
  const double bw = 9, bh = 11, step = 13;
  for (int k = 0; k < 3; k++) {
    double x = OPT_X + 12 + k * step;
    sb_printf(&o->q, "  box %d", k + 1);
    sb_rect(&o->q, "box", x, y, bw, bh);
    sb_printf(&o->q, "\n");
  }
  emit_text(&o->pre, OPT_X, y + bh / 2 - 2.5, 11, 5, 8.5, "", "回答欄");
  emit_text(&o->pre, OPT_X + 12 + 3 * step, y + bh / 2 - 2.5, 60, 5, 8, "small",
            "（選択肢の番号を1つの枠に1つずつ）");
  y += bh + 3.0;
  return lay_option_list(m, o, b, y, 0);
}

/* A number: its digit boxes in a row, one digit each, box 1 on the left. */
static double lay_number(out_t *o, const lay_block_t *b, double y) {
  const double bw = 7, bh = 9, step = 8;
  for (int k = 0; k < b->boxes; k++) {
    sb_printf(&o->q, "  box %d", k + 1);
    sb_rect(&o->q, "box", OPT_X + 12 + k * step, y, bw, bh);
    sb_printf(&o->q, "\n");
  }
  emit_text(&o->pre, OPT_X, y + bh / 2 - 2.5, 11, 5, 8.5, "", "回答欄");
  emit_text(&o->pre, OPT_X + 12 + b->boxes * step + 2, y + bh / 2 - 2.5, 60, 5,
            8, "small", "（1つの枠に数字を1桁ずつ）");
  return y + bh + 3.0;
}

/* A grid: column headings, then one table row per row, a checkbox (or a
 * digit box for codegrid) centred in every cell. */
static double lay_grid(meas_t *m, out_t *o, const lay_block_t *b, double y) {
  int nc = b->n_cols, digit = b->qkind == OMR_KIND_CODEGRID;
  if (digit && b->n_opts > 0) {
    lay_block_t legend = *b;
    legend.columns = 1;
    y = lay_option_list(m, o, &legend, y, 0) + 1.0;
  }
  if (nc == 0 || b->n_rows == 0)
    return y;
  double cw = (CW - 72.0) / nc;
  if (cw > 20)
    cw = 20;
  if (cw < 11)
    cw = 11;
  double tx = X0, id_w = 6.0, rw = CW - nc * cw;
  const double head_pt = 7.5, row_pt = 8.5, pad = 0.8;
  /* header height: the tallest wrapped column heading */
  double hh = 8.0;
  for (int c = 0; c < nc; c++) {
    double h = text_h(m, b->cols[c].text, head_pt, OMR_ITEM_CENTER,
                      cw - 2 * pad, NULL) +
               2.0;
    if (h > hh)
      hh = h;
  }
  char s[24];
  for (int c = 0; c < nc; c++) {
    const lay_col_t *col = &b->cols[c];
    sb_printf(&o->q, "  col %d", col->code);
    sb_rect(&o->q, "label", tx + rw + c * cw, y, cw, hh);
    sb_printf(&o->q, " size=%s%s", num(s, head_pt),
              col->exclusive ? " exclusive" : "");
    sb_printf(&o->q, " ");
    sb_quoted(&o->q, col->text);
    sb_printf(&o->q, "\n");
  }
  double ry = y + hh;
  const double bw = digit ? 8.0 : 5.0, bh = digit ? 9.0 : 5.0;
  sbuf_t cells = {0};
  for (int r = 0; r < b->n_rows; r++) {
    const lay_row_t *row = &b->rows[r];
    double th = text_h(m, row->text, row_pt, 0, rw - id_w - 2 * pad, NULL);
    double rh = th + 2.0;
    if (rh < bh + 2.6)
      rh = bh + 2.6;
    sb_printf(&o->q, "  row %s", row->id);
    sb_rect(&o->q, "label", tx + id_w, ry, rw - id_w, rh);
    sb_printf(&o->q, " size=%s", num(s, row_pt));
    sb_printf(&o->q, " ");
    sb_quoted(&o->q, row->text);
    sb_printf(&o->q, "\n");
    char idt[16];
    snprintf(idt, sizeof idt, "%s.", row->id);
    emit_text(&o->pre, tx + 0.8, ry, id_w - 0.8, rh, row_pt, "", idt);
    for (int c = 0; c < nc; c++) {
      double cx = tx + rw + c * cw + cw / 2, cy = ry + rh / 2;
      sb_printf(&cells, "  cell row=%s col=%d", row->id, b->cols[c].code);
      sb_rect(&cells, "box", cx - bw / 2, cy - bh / 2, bw, bh);
      sb_printf(&cells, "\n");
    }
    emit_rule(&o->pre, tx, ry + rh, X1, ry + rh, 0.2);
    ry += rh;
  }
  sb_append(&o->q, &cells);
  sb_free(&cells);
  /* The table's outline and cell walls (headings and row labels draw
   * their own frames). */
  emit_rule(&o->pre, tx, y + hh, X1, y + hh, 0.3);
  emit_rule(&o->pre, tx, y + hh, tx, ry, 0.2);
  for (int c = 0; c <= nc; c++)
    emit_rule(&o->pre, tx + rw + c * cw, y + hh, tx + rw + c * cw, ry, 0.2);
  return ry + 1.0;
}

static double lay_ticklist(meas_t *m, out_t *o, const lay_block_t *b,
                           double y) {
  /* checkbox, then the printed option number (the code an operator and the
   * codebook refer to), then the text */
  const double cb = 4.5, numx = OPT_X + 10.0, tx = OPT_X + 13.5, tw = X1 - tx;
  double l1 = text_h(m, "あ", OPTION_PT, 0, 0, NULL);
  for (int i = 0; i < b->n_opts; i++) {
    const lay_option_t *op = &b->opts[i];
    if (op->group) {
      if (i > 0)
        y += 1.5;
      double h =
          text_h(m, op->text, OPTION_PT, OMR_ITEM_BOLD, X1 - OPT_X, NULL);
      emit_text(&o->pre, OPT_X, y + 0.5, X1 - OPT_X, h, OPTION_PT, "bold",
                op->text);
      y += h + 1.5;
      continue;
    }
    double th = text_h(m, op->text, OPTION_PT, 0, tw, NULL);
    double cy = y + cb / 2; /* checkbox beside the first line */
    double ly = cy - l1 / 2;
    char s[24];
    sb_printf(&o->q, "  option %d", op->code);
    sb_rect(&o->q, "check", OPT_X + 1.5, y, cb, cb);
    sb_printf(&o->q, " num=%s,", num(s, numx));
    sb_printf(&o->q, "%s ring=2", num(s, cy));
    sb_rect(&o->q, "label", tx, ly, tw, th);
    sb_printf(&o->q, " size=%s%s%s", num(s, OPTION_PT),
              op->exclusive ? " exclusive" : "", op->other ? " other" : "");
    sb_printf(&o->q, " ");
    sb_quoted(&o->q, op->text);
    sb_printf(&o->q, "\n");
    double bottom = fmax(y + cb, ly + th);
    y = bottom + REGION_GAP;
  }
  return y;
}

/* One cover field (half width) at x: its label left, the field right. */
static void lay_half(meas_t *m, out_t *o, const lay_block_t *b, double x,
                     double w, double y, double h) {
  const char *label = b->text ? b->text : (b->label[0] ? b->label : b->id);
  (void)m;
  emit_question_head(o, b);
  /* the label is the prompt: every question has one (codebook, review) */
  sb_printf(&o->q, "  prompt");
  sb_rect(&o->q, "box", x, y, 28, h);
  sb_printf(&o->q, " size=9 ");
  sb_quoted(&o->q, label);
  sb_printf(&o->q, "\n");
  sb_printf(&o->q, "  field");
  sb_rect(&o->q, "box", x + 29, y, w - 29, h);
  sb_printf(&o->q, "\n");
}

/* Lay out question b at y; *pused gets how many blocks it consumed (a pair of
 * half-width cover fields is one row). Returns the bottom. */
static double lay_question(meas_t *m, out_t *o, const lay_block_t *blocks,
                           int n, int i, double y, int *pused) {
  const lay_block_t *b = &blocks[i];
  *pused = 1;
  m->line = b->line;
  if (b->qkind == OMR_KIND_TEXT && b->half) {
    const double h = 8.0, w = (CW - 3.0) / 2;
    lay_half(m, o, b, X0, w, y, h);
    if (i + 1 < n && blocks[i + 1].kind == LAY_QUESTION && blocks[i + 1].half &&
        blocks[i + 1].qkind == OMR_KIND_TEXT) {
      /* the pair's second field: its own page-level label, then its question */
      out_t o2 = {0};
      lay_half(m, &o2, &blocks[i + 1], X0 + w + 3.0, w, y, h);
      sb_append(&o->q, &o2.pre);
      sb_append(&o->q, &o2.q);
      sb_free(&o2.pre);
      sb_free(&o2.q);
      *pused = 2;
    }
    return y + h + 2.5;
  }
  emit_question_head(o, b);
  y = lay_prompt(m, o, b, y);
  switch (b->qkind) {
  case OMR_KIND_SINGLE:
  case OMR_KIND_MULTI:
    y = lay_option_list(m, o, b, y, 1);
    break;
  case OMR_KIND_TOP3:
    y = lay_top3(m, o, b, y);
    break;
  case OMR_KIND_NUMBER:
    y = lay_number(o, b, y);
    break;
  case OMR_KIND_GRID1:
  case OMR_KIND_GRIDN:
  case OMR_KIND_CODEGRID:
    y = lay_grid(m, o, b, y);
    break;
  case OMR_KIND_TICKLIST:
    y = lay_ticklist(m, o, b, y);
    break;
  case OMR_KIND_TEXT: {
    double h = b->lines * 7.0;
    sb_printf(&o->q, "  field");
    sb_rect(&o->q, "box", OPT_X, y, X1 - OPT_X, h);
    sb_printf(&o->q, "\n");
    y += h + 1.0;
    break;
  }
  default:
    break;
  }
  return y + Q_SPACE;
}

/* Lay out block i of the form at y into o; returns the bottom (y + height).
 * *pused: blocks consumed. */
static double lay_block(meas_t *m, out_t *o, const lay_block_t *blocks, int n,
                        int i, double y, int *pused) {
  const lay_block_t *b = &blocks[i];
  *pused = 1;
  m->line = b->line;
  double h;
  switch (b->kind) {
  case LAY_TITLE:
    h = text_h(m, b->text, 15, OMR_ITEM_BOLD | OMR_ITEM_CENTER, CW, NULL);
    emit_text(&o->pre, X0, y, CW, h, 15, "bold center", b->text);
    return y + h + 2.0;
  case LAY_SUBTITLE:
    h = text_h(m, b->text, 11, OMR_ITEM_CENTER, CW, NULL);
    emit_text(&o->pre, X0, y, CW, h, 11, "center", b->text);
    return y + h + 5.0;
  case LAY_HEADING:
    h = text_h(m, b->text, 10.5, OMR_ITEM_BOLD, CW, NULL);
    emit_text(&o->pre, X0, y, CW, h, 10.5, "bold", b->text);
    emit_rule(&o->pre, X0, y + h + 1.0, X1, y + h + 1.0, 0.4);
    return y + h + 4.5;
  case LAY_SUBHEADING:
    h = text_h(m, b->text, 10, OMR_ITEM_BOLD | OMR_ITEM_CENTER, CW, NULL);
    emit_text(&o->pre, X0, y, CW, h, 10, "bold center", b->text);
    return y + h + 3.0;
  case LAY_PARA:
    h = text_h(m, b->text, 9.5, 0, CW, NULL);
    emit_text(&o->pre, X0, y, CW, h, 9.5, "", b->text);
    return y + h + 3.0;
  case LAY_NOTE:
    /* a note belongs to what is above it: pull it up into the gap */
    if (i > 0 && blocks[i - 1].kind == LAY_QUESTION && !blocks[i - 1].half)
      y -= Q_SPACE - 1.0;
    h = text_h(m, b->text, 8, OMR_ITEM_SMALL, X1 - OPT_X, NULL);
    emit_text(&o->pre, OPT_X, y, X1 - OPT_X, h, 8, "small", b->text);
    return y + h + 3.0;
  case LAY_QUESTION:
    return lay_question(m, o, blocks, n, i, y, pused);
  case LAY_PAGEBREAK:
  case LAY_CASE:
    return y;
  }
  return y;
}

/* ---- pages ---- */

typedef struct {
  sbuf_t body;
  int is_case;
} page_t;

typedef struct {
  page_t *pages;
  int n;
} pages_t;

static page_t *new_page(pages_t *ps, int is_case) {
  page_t *p = realloc(ps->pages, (size_t)(ps->n + 1) * sizeof *p);
  if (!p)
    return NULL;
  ps->pages = p;
  p = &ps->pages[ps->n++];
  memset(p, 0, sizeof *p);
  p->is_case = is_case;
  return p;
}

static void free_pages(pages_t *ps) {
  for (int i = 0; i < ps->n; i++)
    sb_free(&ps->pages[i].body);
  free(ps->pages);
  memset(ps, 0, sizeof *ps);
}

/* Height block i would take at the top of a page (for keeping headings with
 * what follows them). */
static double block_height(meas_t *m, const lay_form_t *f, int i) {
  out_t o = {0};
  int used;
  double h = lay_block(m, &o, f->blocks, f->n_blocks, i, Y0, &used) - Y0;
  sb_free(&o.pre);
  sb_free(&o.q);
  return h;
}

static omr_status_t flow_form(const lay_form_t *f, pages_t *ps,
                              omr_error_t *err) {
  meas_t m = {.err = err, .st = OMR_OK, .file = f->source};
  int is_case = 0;
  page_t *pg = new_page(ps, 0);
  double y = Y0;
  int empty = 1;
  for (int i = 0; i < f->n_blocks && pg && m.st == OMR_OK;) {
    const lay_block_t *b = &f->blocks[i];
    if (b->kind == LAY_PAGEBREAK || b->kind == LAY_CASE) {
      if (b->kind == LAY_CASE)
        is_case = 1;
      if (!empty) {
        pg = new_page(ps, is_case);
        y = Y0;
        empty = 1;
      }
      if (pg)
        pg->is_case = is_case;
      i++;
      continue;
    }
    out_t o = {0};
    int used = 1;
    double bottom = lay_block(&m, &o, f->blocks, f->n_blocks, i, y, &used);
    double need = bottom;
    /* keep a heading with the block after it */
    if ((b->kind == LAY_HEADING || b->kind == LAY_SUBHEADING ||
         b->kind == LAY_TITLE) &&
        i + used < f->n_blocks && f->blocks[i + used].kind != LAY_PAGEBREAK &&
        f->blocks[i + used].kind != LAY_CASE) {
      double nh = block_height(&m, f, i + used);
      if (nh <= Y1 - Y0)
        need += nh;
    }
    if (need > Y1 && !empty) {
      sb_free(&o.pre);
      sb_free(&o.q);
      pg = new_page(ps, is_case);
      y = Y0;
      empty = 1;
      continue; /* lay the same block out again at the top */
    }
    if (bottom > Y1) {
      sb_free(&o.pre);
      sb_free(&o.q);
      return omr_error_set(
          err, OMR_EINPUT,
          "%s:%d: this %s is %.0f mm tall, more than a page holds "
          "(%.0f mm); split it",
          f->source, b->line, b->kind == LAY_QUESTION ? "question" : "block",
          bottom - y, Y1 - Y0);
    }
    sb_append(&pg->body, &o.pre);
    sb_append(&pg->body, &o.q);
    sb_free(&o.pre);
    sb_free(&o.q);
    y = bottom;
    empty = 0;
    i += used;
  }
  if (!pg)
    return omr_error_set(err, OMR_ENOMEM, "out of memory");
  if (m.st != OMR_OK)
    return m.st;
  if (empty && ps->n > 1) { /* a trailing pagebreak */
    sb_free(&ps->pages[ps->n - 1].body);
    ps->n--;
  }
  for (int i = 0; i < ps->n; i++)
    if (ps->pages[i].body.oom)
      return omr_error_set(err, OMR_ENOMEM, "out of memory");
  return OMR_OK;
}

static omr_status_t write_file(const char *path, const sbuf_t *head,
                               const sbuf_t *body, omr_error_t *err) {
  FILE *fp = fopen(path, "w");
  if (!fp)
    return omr_error_set(err, OMR_EIO, "%s: cannot write: %s", path,
                         strerror(errno));
  if (head && head->n)
    fwrite(head->s, 1, head->n, fp);
  if (body && body->n)
    fwrite(body->s, 1, body->n, fp);
  if (fclose(fp) != 0)
    return omr_error_set(err, OMR_EIO, "%s: write failed: %s", path,
                         strerror(errno));
  return OMR_OK;
}

/* The page file's fixed part: page, marks, barcode, running header, number. */
static void page_head(sbuf_t *h, const lay_survey_t *s, const lay_form_t *f,
                      int number, int total) {
  sb_printf(h,
            "# %s-%02d.page -- generated by build/layout from %s; edit the "
            "source, not this.\n",
            f->id, number, f->source);
  sb_printf(h, "page survey=%s form=%s number=%d size=210x297\n", s->id, f->id,
            number);
  const double mx[4] = {MARK_IN, PAGE_W - MARK_IN, MARK_IN, PAGE_W - MARK_IN};
  const double my[4] = {MARK_IN, MARK_IN, PAGE_H - MARK_IN, PAGE_H - MARK_IN};
  for (int k = 0; k < 4; k++) {
    char a[24];
    sb_printf(h, "mark");
    sb_point(h, "at", mx[k], my[k]);
    sb_printf(h, " size=%s\n", num(a, MARK_SIZE));
  }
  sb_printf(h, "barcode");
  sb_rect(h, "box", BAR_X, BAR_Y, BAR_W, BAR_H);
  sb_printf(h, "\n");
  if (f->subtitle && number > 1) /* page 1 prints it under the title */
    emit_text(h, X0 + 3, 7.5, CW - 6, 5, 8, "right", f->subtitle);
  char pn[32];
  snprintf(pn, sizeof pn, "%d / %d", number, total);
  emit_text(h, BAR_X + BAR_W + 5, BAR_Y + 2, X1 - (BAR_X + BAR_W + 5), 6, 9,
            "right", pn);
}

omr_status_t lay_flow_write(const lay_survey_t *s, const char *out_dir,
                            int *pages_out, omr_error_t *err) {
  sbuf_t survey = {0};
  sb_printf(
      &survey,
      "# survey.omr -- generated by build/layout; edit the sources in src/.\n");
  sb_printf(&survey, "survey id=%s code=%s", s->id, s->code);
  if (s->title) {
    sb_printf(&survey, " title=");
    sb_quoted(&survey, s->title);
  }
  if (s->icr_policy)
    sb_printf(&survey, " icr_policy=%s", s->icr_policy);
  sb_printf(&survey, "\n");
  omr_status_t st = OMR_OK;
  for (int fi = 0; fi < s->n_forms && st == OMR_OK; fi++) {
    const lay_form_t *f = &s->forms[fi];
    pages_t ps = {0};
    st = flow_form(f, &ps, err);
    sb_printf(&survey, "form %s", f->id);
    if (f->title) {
      sb_printf(&survey, " title=");
      sb_quoted(&survey, f->title);
    }
    sb_printf(&survey, "\n");
    for (int p = 0; p < ps.n && st == OMR_OK; p++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s-%02d.page", out_dir, f->id, p + 1);
      sbuf_t head = {0};
      page_head(&head, s, f, p + 1, ps.n);
      st = head.oom ? omr_error_set(err, OMR_ENOMEM, "out of memory")
                    : write_file(path, &head, &ps.pages[p].body, err);
      sb_free(&head);
      sb_printf(&survey, "page form=%s number=%d file=%s-%02d.page%s\n", f->id,
                p + 1, f->id, p + 1, ps.pages[p].is_case ? " case" : "");
    }
    /* page files of an earlier, longer run would linger: remove them */
    for (int p = ps.n + 1; p <= 99 && st == OMR_OK; p++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s-%02d.page", out_dir, f->id, p);
      remove(path);
    }
    if (pages_out)
      pages_out[fi] = ps.n;
    free_pages(&ps);
  }
  if (st == OMR_OK) {
    char path[4096];
    snprintf(path, sizeof path, "%s/survey.omr", out_dir);
    st = survey.oom ? omr_error_set(err, OMR_ENOMEM, "out of memory")
                    : write_file(path, NULL, &survey, err);
  }
  sb_free(&survey);
  return st;
}
