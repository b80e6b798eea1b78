/* print.c -- draw questionnaire pages from the template: raster (PIX) and PDF.
 *
 * One drawing routine (draw_items) serves every output: a cairo context whose
 * user unit is the millimetre, over an A8 image surface (ink as alpha, turned
 * into 8-bit grey afterwards: 1 byte a pixel, the cheapest surface cairo has)
 * or over a PDF surface (vector, fonts embedded by cairo). Text goes through
 * pango with hinting and glyph-position rounding off, so a paragraph wraps at
 * the same place at 200 dpi, 600 dpi and in the PDF, and tools/layout's
 * measurements (omr_print_text_size) hold for every output.
 *
 * The barcode is Code 128 from zint's vector output (rectangles), scaled into
 * the page's barcode box with 10-module quiet zones, the payload in text
 * below. A raster page with a barcode is the blank page plus the stamped
 * barcode, so the simulator's fast path (render blank once, stamp per
 * respondent) gives exactly the same pixels.
 */
#include "print.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <zint.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <sys/stat.h>

#define BARCODE_TEXT_PT 8.0    /* payload text under the bars */
#define BARCODE_TEXT_GAP 0.6   /* mm between the bars and that text */
#define BARCODE_MAX_MODULE 0.5 /* mm: wider gains nothing for zbar */
#define BARCODE_QUIET 10       /* modules of quiet zone each side (ISO 15417) */
#define SMALL_INK 0.72         /* notes are printed in dark grey */

/* Where drawing goes: ink is alpha on an A8 surface, grey on a PDF. */
typedef struct {
  cairo_t *cr;
  PangoContext *pc;
  int vector; /* PDF: colours are grey levels; raster: alpha */
} draw_t;

const char *omr_print_font_family(unsigned flags) {
  /* Gothic for everything a respondent must read and the scanner must
   * see (even strokes survive bitonal scanning); notes in Mincho, which
   * sets them apart as small print. */
  if (flags & OMR_ITEM_SMALL)
    return "IPAMincho";
  return "IPAGothic";
}

omr_status_t omr_print_render_identity(char *buf, size_t n, omr_error_t *err) {
  int len = snprintf(buf, n, "render %d; cairo %s; pango %s; freetype %d.%d.%d", OMR_PRINT_RENDER_VERSION,
                     cairo_version_string(), pango_version_string(), FREETYPE_MAJOR, FREETYPE_MINOR,
                     FREETYPE_PATCH);
  if (len < 0 || (size_t)len >= n)
    return omr_error_set(err, OMR_EIO, "print: identity buffer too small");
  /* The fonts as pango's fontconfig map picks them: the family with the
   * default substitutions, best match. */
  static const unsigned flags[] = {0, OMR_ITEM_SMALL};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    const char *family = omr_print_font_family(flags[i]);
    FcPattern *pat = FcPatternBuild(NULL, FC_FAMILY, FcTypeString, (const FcChar8 *)family, (char *)NULL);
    if (!pat || !FcConfigSubstitute(NULL, pat, FcMatchPattern)) {
      FcPatternDestroy(pat);
      return omr_error_set(err, OMR_EIO, "print: fontconfig failed for %s", family);
    }
    FcDefaultSubstitute(pat);
    FcResult res;
    FcPattern *m = FcFontMatch(NULL, pat, &res);
    FcPatternDestroy(pat);
    FcChar8 *file = NULL;
    int index = 0;
    if (!m || FcPatternGetString(m, FC_FILE, 0, &file) != FcResultMatch) {
      if (m)
        FcPatternDestroy(m);
      return omr_error_set(err, OMR_EIO, "print: no font file for %s", family);
    }
    FcPatternGetInteger(m, FC_INDEX, 0, &index);
    struct stat st;
    long long size = -1, mtime = -1;
    if (!stat((const char *)file, &st)) {
      size = (long long)st.st_size;
      mtime = (long long)st.st_mtime;
    }
    int k = snprintf(buf + len, n - (size_t)len, "; %s=%s#%d %lld %lld", family, (const char *)file, index, size,
                     mtime);
    FcPatternDestroy(m);
    if (k < 0 || (size_t)k >= n - (size_t)len)
      return omr_error_set(err, OMR_EIO, "print: identity buffer too small");
    len += k;
  }
  return OMR_OK;
}

/* Set the source to ink of the given strength (1 = black). */
static void set_ink(const draw_t *d, double ink) {
  if (d->vector)
    cairo_set_source_rgb(d->cr, 1.0 - ink, 1.0 - ink, 1.0 - ink);
  else
    cairo_set_source_rgba(d->cr, 0, 0, 0, ink);
}

/* A pango context for cr whose font sizes are points on a millimetre
 * user space, with every resolution-dependent rounding off. Owned by the
 * caller (g_object_unref). */
static PangoContext *make_pango(cairo_t *cr) {
  PangoContext *pc = pango_cairo_create_context(cr);
  if (!pc)
    return NULL;
  pango_cairo_context_set_resolution(pc, OMR_MM_PER_INCH);
  cairo_font_options_t *fo = cairo_font_options_create();
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  pango_cairo_context_set_font_options(pc, fo);
  cairo_font_options_destroy(fo);
  pango_context_set_round_glyph_positions(pc, FALSE);
  return pc;
}

/* A layout of text in the item font; width_mm <= 0: unwrapped. Owned by the
 * caller (g_object_unref). */
static PangoLayout *make_layout(PangoContext *pc, const char *text,
                                double size_pt, unsigned flags,
                                double width_mm) {
  PangoLayout *l = pango_layout_new(pc);
  PangoFontDescription *fd = pango_font_description_new();
  pango_font_description_set_family(fd, omr_print_font_family(flags));
  pango_font_description_set_weight(
      fd, (flags & OMR_ITEM_BOLD) ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_size(fd, (int)lround(size_pt * PANGO_SCALE));
  pango_layout_set_font_description(l, fd);
  pango_font_description_free(fd);
  if (width_mm > 0) {
    pango_layout_set_width(l, (int)lround(width_mm * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
  }
  if (flags & OMR_ITEM_CENTER)
    pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
  else if (flags & OMR_ITEM_RIGHT)
    pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
  pango_layout_set_line_spacing(l, OMR_PRINT_LINE_SPACING);
  pango_layout_set_text(l, text, -1);
  return l;
}

omr_status_t omr_print_text_size(const char *text, double size_pt,
                                 unsigned flags, double width_mm, double *pw,
                                 double *ph, int *plines, omr_error_t *err) {
  if (pw)
    *pw = 0;
  if (ph)
    *ph = 0;
  if (plines)
    *plines = 0;
  if (!text || !g_utf8_validate(text, -1, NULL))
    return omr_error_set(err, OMR_EINPUT, "text is not valid UTF-8");
  if (!(size_pt > 0 && size_pt < 200))
    return omr_error_set(err, OMR_EINPUT, "font size %g pt out of range",
                         size_pt);
  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
  cairo_t *cr = cairo_create(surf);
  PangoContext *pc = make_pango(cr);
  if (!pc) {
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    return omr_error_set(err, OMR_ENOMEM, "out of memory measuring text");
  }
  PangoLayout *l = make_layout(pc, text, size_pt, flags, width_mm);
  PangoRectangle logical;
  pango_layout_get_extents(l, NULL, &logical);
  if (pw)
    *pw = (double)logical.width / PANGO_SCALE;
  if (ph)
    *ph = (double)logical.height / PANGO_SCALE;
  if (plines)
    *plines = pango_layout_get_line_count(l);
  g_object_unref(l);
  g_object_unref(pc);
  cairo_destroy(cr);
  cairo_surface_destroy(surf);
  return OMR_OK;
}

/* A TEXT item: wrapped into its box, centred vertically when shorter. */
static void draw_text(const draw_t *d, const omr_item_t *it) {
  if (!it->text || !it->text[0])
    return;
  const double pad = (it->flags & OMR_ITEM_FRAMED) ? 0.8 : 0;
  PangoLayout *l = make_layout(d->pc, it->text, it->size > 0 ? it->size : 9,
                               it->flags, it->box.w - 2 * pad);
  PangoRectangle logical;
  pango_layout_get_extents(l, NULL, &logical);
  double h = (double)logical.height / PANGO_SCALE;
  double y = it->box.y + (h < it->box.h ? (it->box.h - h) / 2 : 0);
  set_ink(d, (it->flags & OMR_ITEM_SMALL) ? SMALL_INK : 1.0);
  cairo_move_to(d->cr, it->box.x + pad, y);
  pango_cairo_show_layout(d->cr, l);
  g_object_unref(l);
  if (it->flags & OMR_ITEM_FRAMED) {
    set_ink(d, 1.0);
    cairo_set_line_width(d->cr, 0.2);
    cairo_rectangle(d->cr, it->box.x, it->box.y, it->box.w, it->box.h);
    cairo_stroke(d->cr);
  }
}

/* A NUMBER item: the option number centred on the box centre by its ink. */
static void draw_number(const draw_t *d, const omr_item_t *it) {
  if (!it->text || !it->text[0])
    return;
  PangoLayout *l = make_layout(d->pc, it->text, it->size > 0 ? it->size : 10,
                               it->flags | OMR_ITEM_BOLD, 0);
  PangoRectangle ink;
  pango_layout_get_extents(l, &ink, NULL);
  /* Centre the ink, not the logical box: the scanner expects the printed
   * digit in the middle of the circle target. */
  double cx = it->box.x + it->box.w / 2, cy = it->box.y + it->box.h / 2;
  double x = cx - ((double)ink.x + ink.width / 2.0) / PANGO_SCALE;
  double y = cy - ((double)ink.y + ink.height / 2.0) / PANGO_SCALE;
  set_ink(d, 1.0);
  cairo_move_to(d->cr, x, y);
  pango_cairo_show_layout(d->cr, l);
  g_object_unref(l);
}

static void draw_frame(const draw_t *d, const omr_item_t *it) {
  double w = 0.25;
  if (it->flags & (OMR_ITEM_CHECKBOX | OMR_ITEM_DIGITBOX))
    w = 0.3;
  else if (it->flags & OMR_ITEM_CELL)
    w = 0.2;
  set_ink(d, 1.0);
  cairo_set_line_width(d->cr, w);
  if (it->flags & OMR_ITEM_ROUND) {
    /* a bubble: the oval inscribed in the box, its line inside the box */
    cairo_new_path(d->cr); /* no line from the last text's current point */
    cairo_save(d->cr);
    cairo_translate(d->cr, it->box.x + it->box.w / 2, it->box.y + it->box.h / 2);
    cairo_scale(d->cr, (it->box.w - w) / 2, (it->box.h - w) / 2);
    cairo_arc(d->cr, 0, 0, 1, 0, 2 * G_PI);
    cairo_restore(d->cr); /* stroke with an unscaled pen */
  } else {
    cairo_rectangle(d->cr, it->box.x, it->box.y, it->box.w, it->box.h);
  }
  cairo_stroke(d->cr);
}

/* A bullseye of outer radius R (mm) centred at (cx, cy): the disc and the
 * two rings of OMR_RING_BANDS. The five circles filled even-odd: a point is
 * inside an odd number of them exactly on the black bands. */
static void draw_ring(const draw_t *d, double cx, double cy, double R) {
  static const double band[5] = OMR_RING_BANDS;
  cairo_save(d->cr);
  cairo_set_fill_rule(d->cr, CAIRO_FILL_RULE_EVEN_ODD);
  cairo_new_path(d->cr);
  for (int b = 0; b < 5; b++) {
    cairo_new_sub_path(d->cr);
    cairo_arc(d->cr, cx, cy, band[b] * R, 0, 2 * M_PI);
  }
  cairo_fill(d->cr);
  cairo_restore(d->cr);
}

/* Everything on the page but the barcode. */
static void draw_items(const draw_t *d, const omr_page_t *pg) {
  for (int i = 0; i < pg->n_items; i++) {
    const omr_item_t *it = &pg->items[i];
    switch (it->kind) {
    case OMR_ITEM_TEXT:
      draw_text(d, it);
      break;
    case OMR_ITEM_NUMBER:
      draw_number(d, it);
      break;
    case OMR_ITEM_FRAME:
      draw_frame(d, it);
      break;
    case OMR_ITEM_MARK:
      set_ink(d, 1.0);
      cairo_rectangle(d->cr, it->box.x, it->box.y, it->box.w, it->box.h);
      cairo_fill(d->cr);
      break;
    case OMR_ITEM_RULE:
      set_ink(d, 1.0);
      cairo_set_line_width(d->cr, it->size > 0 ? it->size : 0.3);
      cairo_move_to(d->cr, it->box.x, it->box.y);
      cairo_line_to(d->cr, it->box.x + it->box.w, it->box.y + it->box.h);
      cairo_stroke(d->cr);
      break;
    case OMR_ITEM_BARCODE:
      break; /* drawn by draw_barcode, only with a respondent */
    }
  }
  /* Corner marks come from the page geometry too, in case a page lists
   * them only there. Drawing a mark twice changes nothing (solid fill). */
  for (int k = 0; k < 4 && pg->mark_size > 0; k++) {
    set_ink(d, 1.0);
    omr_rect_t r = omr_template_mark_rect(pg, pg->mark_x[k], pg->mark_y[k]);
    if (pg->mark_shape == OMR_MARK_RING) {
      draw_ring(d, pg->mark_x[k], pg->mark_y[k], pg->mark_size / 2);
      continue;
    }
    if (pg->mark_shape == OMR_MARK_CORNER) {
      /* an L: two arms along the page edges, meeting at the outer corner */
      double t = pg->mark_line;
      int left = pg->mark_x[k] < pg->width / 2, top = pg->mark_y[k] < pg->height / 2;
      cairo_rectangle(d->cr, r.x, top ? r.y : r.y + r.h - t, r.w, t);
      cairo_rectangle(d->cr, left ? r.x : r.x + r.w - t, r.y, t, r.h);
    } else {
      cairo_rectangle(d->cr, r.x, r.y, r.w, r.h);
    }
    cairo_fill(d->cr);
  }
}

/* Encode payload as Code 128 with zint's vector output into *psym (owned by
 * the caller: ZBarcode_Delete; sym->vector set). Returns OMR_OK, or
 * OMR_ENOMEM / OMR_EINPUT (zint refuses the payload) with *psym NULL. */
static omr_status_t encode_barcode(const char *payload,
                                   omr_barcode_kind_t kind,
                                   struct zint_symbol **psym,
                                   omr_error_t *err) {
  *psym = NULL;
  struct zint_symbol *sym = ZBarcode_Create();
  if (!sym)
    return omr_error_set(err, OMR_ENOMEM, "out of memory creating a barcode");
  sym->symbology = kind == OMR_BARCODE_I25      ? BARCODE_C25INTER
                   : kind == OMR_BARCODE_CODE39 ? BARCODE_CODE39
                                                : BARCODE_CODE128;
  sym->show_hrt = 0;
  int rc = ZBarcode_Encode(sym, (const unsigned char *)payload,
                           (int)strlen(payload));
  if (rc < ZINT_ERROR)
    rc = ZBarcode_Buffer_Vector(sym, 0);
  if (rc >= ZINT_ERROR || !sym->vector || sym->width <= 0) {
    omr_error_set(err, OMR_EINPUT,
                  "barcode payload \"%s\" cannot be encoded: %s", payload,
                  sym->errtxt);
    ZBarcode_Delete(sym);
    return OMR_EINPUT;
  }
  *psym = sym;
  return OMR_OK;
}

/* Where the bars of an encoded symbol go in box (mm): the pattern's left
 * edge *px0, width *pbars_w, bar height *pbar_h, module *pmodule. The one
 * place this layout is decided: draw_barcode draws by it and
 * omr_print_barcode_bars reports it to the scanner. */
static void barcode_layout(const struct zint_symbol *sym, const omr_rect_t *box,
                           double *px0, double *pbars_w, double *pbar_h,
                           double *pmodule) {
  double text_h = BARCODE_TEXT_PT * OMR_MM_PER_INCH / 72.0 * 1.1;
  double bar_h = box->h - text_h - BARCODE_TEXT_GAP;
  double module = box->w / (sym->width + 2 * BARCODE_QUIET);
  if (module > BARCODE_MAX_MODULE)
    module = BARCODE_MAX_MODULE;
  double bars_w = module * sym->width;
  *px0 = box->x + (box->w - bars_w) / 2;
  *pbars_w = bars_w;
  *pbar_h = bar_h;
  *pmodule = module;
}

/* What a page's barcode holds: omr's page ID of the respondent, or the fixed
 * page ID of a form printed by another tool (the respondent is then the
 * scanned file, not printed). */
static void page_payload(char *buf, size_t n, const omr_survey_t *s,
                         const omr_form_t *f, const omr_page_t *pg,
                         const char *respondent) {
  if (pg->barcode_value)
    snprintf(buf, n, "%s", pg->barcode_value);
  else
    omr_template_payload(buf, n, s->code, f->id, pg->number, respondent);
}

omr_status_t omr_print_barcode_bars(const omr_rect_t *box, const char *payload,
                                    omr_rect_t *bars, double *pmodule,
                                    omr_error_t *err) {
  if (!box || !payload || !bars)
    return omr_error_set(err, OMR_EINPUT, "print: no barcode box or payload");
  memset(bars, 0, sizeof *bars);
  if (box->w <= 0 || box->h <= 0)
    return omr_error_set(err, OMR_EINPUT, "print: empty barcode box");
  struct zint_symbol *sym;
  omr_status_t st = encode_barcode(payload, OMR_BARCODE_CODE128, &sym, err);
  if (st != OMR_OK)
    return st;
  double x0, bars_w, bar_h, module;
  barcode_layout(sym, box, &x0, &bars_w, &bar_h, &module);
  ZBarcode_Delete(sym);
  *bars = (omr_rect_t){x0, box->y, bars_w, bar_h};
  if (pmodule)
    *pmodule = module;
  return OMR_OK;
}

/* The barcode of payload in box: bars on top, the payload in text below.
 * Returns OMR_OK or OMR_EINPUT when zint refuses the payload. */
static omr_status_t draw_barcode(const draw_t *d, const omr_rect_t *box,
                                 const char *payload, omr_barcode_kind_t kind,
                                 omr_error_t *err) {
  struct zint_symbol *sym;
  omr_status_t st = encode_barcode(payload, kind, &sym, err);
  if (st != OMR_OK)
    return st;
  double minx = 1e30, maxx = -1e30;
  for (const struct zint_vector_rect *r = sym->vector->rectangles; r;
       r = r->next) {
    if (r->x < minx)
      minx = r->x;
    if (r->x + r->width > maxx)
      maxx = r->x + r->width;
  }
  double x0, bars_w, bar_h, module;
  barcode_layout(sym, box, &x0, &bars_w, &bar_h, &module);
  double text_h = BARCODE_TEXT_PT * OMR_MM_PER_INCH / 72.0 * 1.1;
  double k = maxx > minx ? bars_w / (maxx - minx) : 0;
  set_ink(d, 1.0);
  for (const struct zint_vector_rect *r = sym->vector->rectangles; r;
       r = r->next)
    cairo_rectangle(d->cr, x0 + (r->x - minx) * k, box->y, r->width * k, bar_h);
  cairo_fill(d->cr);
  ZBarcode_Delete(sym);

  omr_item_t t = {
      .kind = OMR_ITEM_TEXT,
      .box = {box->x, box->y + bar_h + BARCODE_TEXT_GAP, box->w, text_h},
      .size = BARCODE_TEXT_PT,
      .flags = OMR_ITEM_CENTER,
      .text = payload};
  draw_text(d, &t);
  return OMR_OK;
}

static omr_status_t check_args(const omr_survey_t *s, const omr_form_t *f,
                               int page_index, double dpi, omr_error_t *err) {
  if (!s || !f)
    return omr_error_set(err, OMR_EINPUT, "print: no survey or form");
  if (page_index < 0 || page_index >= f->n_pages)
    return omr_error_set(err, OMR_EINPUT,
                         "print: form %s has no page %d (it has %d)", f->id,
                         page_index + 1, f->n_pages);
  if (!(dpi >= 50 && dpi <= 1200))
    return omr_error_set(err, OMR_ELIMIT,
                         "print: resolution %g dpi outside 50..1200", dpi);
  const omr_page_t *pg = &f->pages[page_index];
  if (!(pg->width > 0 && pg->width <= 1000 && pg->height > 0 &&
        pg->height <= 1000))
    return omr_error_set(err, OMR_EINPUT,
                         "%s: page size %gx%g mm is not usable", pg->file,
                         pg->width, pg->height);
  return OMR_OK;
}

static int page_px(double mm, double dpi) {
  return (int)lround(omr_mm_to_px(mm, dpi));
}

/* Draw the blank page (no barcode) onto an A8 surface: ink as alpha. buf
 * (optional, *cap bytes, grown with realloc, owned by the caller) holds the
 * pixels so a caller rendering many pages reuses one buffer instead of
 * taking and faulting in fresh memory each time; NULL: cairo allocates.
 * Returns the surface (cairo_surface_destroy; its pixels are *buf when
 * given) or NULL with *err. */
static cairo_surface_t *render_a8(const omr_survey_t *s, const omr_form_t *f,
                                  int page_index, double dpi,
                                  unsigned char **buf, size_t *cap,
                                  omr_error_t *err) {
  if (check_args(s, f, page_index, dpi, err) != OMR_OK)
    return NULL;
  const omr_page_t *pg = &f->pages[page_index];
  int w = page_px(pg->width, dpi), h = page_px(pg->height, dpi);
  cairo_surface_t *surf;
  if (buf) {
    int stride = cairo_format_stride_for_width(CAIRO_FORMAT_A8, w);
    size_t need = (size_t)stride * (size_t)h;
    if (stride <= 0 || need > *cap) {
      unsigned char *nb = stride > 0 ? realloc(*buf, need) : NULL;
      if (!nb) {
        omr_error_set(err, OMR_ENOMEM, "out of memory for a %dx%d page", w, h);
        return NULL;
      }
      *buf = nb;
      *cap = need;
    }
    memset(*buf, 0, need); /* transparent: no ink */
    surf = cairo_image_surface_create_for_data(*buf, CAIRO_FORMAT_A8, w, h,
                                               stride);
  } else {
    surf = cairo_image_surface_create(CAIRO_FORMAT_A8, w, h);
  }
  if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    omr_error_set(err, OMR_ENOMEM, "out of memory for a %dx%d page", w, h);
    return NULL;
  }
  cairo_t *cr = cairo_create(surf);
  cairo_scale(cr, dpi / OMR_MM_PER_INCH, dpi / OMR_MM_PER_INCH);
  draw_t d = {.cr = cr, .pc = make_pango(cr), .vector = 0};
  if (d.pc) {
    draw_items(&d, pg);
    g_object_unref(d.pc);
  }
  cairo_destroy(cr);
  cairo_surface_flush(surf);
  if (!d.pc) {
    cairo_surface_destroy(surf);
    omr_error_set(err, OMR_ENOMEM, "out of memory for a %dx%d page", w, h);
    return NULL;
  }
  return surf;
}

/* A page printed by others (template page reference=) is its blank image:
 * omr draws nothing on it. The image as 8 bpp grey at its own resolution,
 * or NULL with *err naming the page file and the image (unreadable, or a
 * header claiming an absurd size). */
static PIX *reference_grey(const omr_page_t *pg, omr_error_t *err) {
  l_int32 w = 0, h = 0;
  if (pixReadHeader(pg->reference, NULL, &w, &h, NULL, NULL, NULL) || w < 16 ||
      h < 16) {
    omr_error_set(err, OMR_EINPUT,
                  "%s: reference=%s: not an image omr can read", pg->file,
                  pg->reference);
    return NULL;
  }
  if ((double)w * h > 200e6) {
    omr_error_set(err, OMR_EINPUT, "%s: reference=%s: %dx%d px is absurd",
                  pg->file, pg->reference, w, h);
    return NULL;
  }
  PIX *raw = pixRead(pg->reference);
  PIX *grey = raw ? pixConvertTo8(raw, 0) : NULL;
  pixDestroy(&raw);
  if (!grey)
    omr_error_set(err, OMR_EINPUT, "%s: reference=%s: cannot read it",
                  pg->file, pg->reference);
  return grey;
}

/* The reference image of a page at dpi, the size omr's own render of the
 * page would have. */
static PIX *render_reference(const omr_page_t *pg, double dpi,
                             omr_error_t *err) {
  PIX *grey = reference_grey(pg, err);
  if (!grey)
    return NULL;
  PIX *pix = pixScaleToSize(grey, page_px(pg->width, dpi),
                            page_px(pg->height, dpi));
  pixDestroy(&grey);
  if (!pix) {
    omr_error_set(err, OMR_ENOMEM, "%s: reference=%s: cannot scale it",
                  pg->file, pg->reference);
    return NULL;
  }
  pixSetResolution(pix, (l_int32)lround(dpi), (l_int32)lround(dpi));
  return pix;
}

/* The reference image painted over the page (PDF): grey as RGB. */
static omr_status_t paint_reference(cairo_t *cr, const omr_page_t *pg,
                                    omr_error_t *err) {
  PIX *grey = reference_grey(pg, err);
  if (!grey)
    return err ? err->status : OMR_EINPUT;
  int w = (int)pixGetWidth(grey), h = (int)pixGetHeight(grey);
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    pixDestroy(&grey);
    return omr_error_set(err, OMR_ENOMEM, "out of memory for %s",
                         pg->reference);
  }
  cairo_surface_flush(img);
  unsigned char *dst = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  for (int y = 0; y < h; y++) {
    const l_uint32 *line = pixGetData(grey) + (size_t)y * pixGetWpl(grey);
    uint32_t *row = (uint32_t *)(dst + (size_t)y * stride);
    for (int x = 0; x < w; x++) {
      uint32_t g = GET_DATA_BYTE(line, x);
      row[x] = g << 16 | g << 8 | g;
    }
  }
  cairo_surface_mark_dirty(img);
  pixDestroy(&grey);
  cairo_save(cr);
  cairo_scale(cr, pg->width / w, pg->height / h);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
  return OMR_OK;
}

PIX *omr_print_render_page(const omr_survey_t *s, const omr_form_t *f,
                           int page_index, const char *respondent, double dpi,
                           omr_error_t *err) {
  if (check_args(s, f, page_index, dpi, err) != OMR_OK)
    return NULL;
  if (f->pages[page_index].reference) {
    PIX *ref = render_reference(&f->pages[page_index], dpi, err);
    if (ref && respondent &&
        omr_print_stamp_barcode(ref, s, f, page_index, respondent, dpi, err) !=
            OMR_OK)
      pixDestroy(&ref);
    return ref;
  }
  cairo_surface_t *surf = render_a8(s, f, page_index, dpi, NULL, NULL, err);
  if (!surf)
    return NULL;
  int w = cairo_image_surface_get_width(surf);
  int h = cairo_image_surface_get_height(surf);
  PIX *pix = pixCreate(w, h, 8);
  if (!pix) {
    cairo_surface_destroy(surf);
    omr_error_set(err, OMR_ENOMEM, "out of memory for a %dx%d page", w, h);
    return NULL;
  }
  pixSetResolution(pix, (l_int32)lround(dpi), (l_int32)lround(dpi));
  const unsigned char *src = cairo_image_surface_get_data(surf);
  int stride = cairo_image_surface_get_stride(surf);
  l_uint32 *dst = pixGetData(pix);
  int wpl = pixGetWpl(pix);
  for (int y = 0; y < h; y++) {
    const unsigned char *s8 = src + (size_t)y * stride;
    l_uint32 *line = dst + (size_t)y * wpl;
    int x = 0;
    /* Leptonica keeps pixel 0 in the most significant byte of a word. */
    for (; x + 4 <= w; x += 4)
      line[x / 4] = ((l_uint32)(255 - s8[x]) << 24) |
                    ((l_uint32)(255 - s8[x + 1]) << 16) |
                    ((l_uint32)(255 - s8[x + 2]) << 8) |
                    (l_uint32)(255 - s8[x + 3]);
    for (; x < w; x++)
      SET_DATA_BYTE(line, x, 255 - s8[x]);
  }
  cairo_surface_destroy(surf);

  if (respondent && omr_print_stamp_barcode(pix, s, f, page_index, respondent,
                                            dpi, err) != OMR_OK) {
    pixDestroy(&pix);
    return NULL;
  }
  return pix;
}

/* 8 alpha bytes (pixel 0 first in memory) -> 8 ink bits, pixel 0 in bit 7:
 * a byte is ink when alpha >= c (1 <= c <= 128). The low 7 bits plus
 * 128 - c carry into bit 7 exactly when they reach c, without crossing
 * into the next byte; a set bit 7 is ink by itself. The multiply gathers
 * the 8 flags (bits 0, 8, ..., 56) into the top byte, reversed so pixel 0
 * is the most significant, as Leptonica keeps 1-bpp rows; no two partial
 * products share a bit, so nothing carries. */
static inline unsigned ink_byte8(const unsigned char *a, unsigned c) {
  uint64_t x;
  memcpy(&x, a, 8);
  const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, ones = 0x0101010101010101ULL;
  uint64_t hi = (((x & lo7) + (uint64_t)(128 - c) * ones) | x) & (ones << 7);
  return (unsigned)(((hi >> 7) * 0x8040201008040201ULL) >> 56);
}

PIX *omr_print_render_ink(const omr_survey_t *s, const omr_form_t *f,
                          int page_index, double dpi, int grey_below,
                          unsigned char **scratch, size_t *scratch_cap,
                          omr_error_t *err) {
  if (grey_below < 1 || grey_below > 256) {
    omr_error_set(err, OMR_EINPUT, "print: ink threshold %d outside 1..256",
                  grey_below);
    return NULL;
  }
  if (check_args(s, f, page_index, dpi, err) != OMR_OK)
    return NULL;
  if (f->pages[page_index].reference) {
    /* exactly the threshold of omr_print_render_page, as below */
    PIX *grey = render_reference(&f->pages[page_index], dpi, err);
    PIX *ink = grey ? pixThresholdToBinary(grey, grey_below) : NULL;
    pixDestroy(&grey);
    if (ink)
      pixSetResolution(ink, (l_int32)lround(dpi), (l_int32)lround(dpi));
    return ink;
  }
  unsigned char *own = NULL;
  size_t own_cap = 0;
  if (!scratch || !scratch_cap) {
    scratch = &own;
    scratch_cap = &own_cap;
  }
  cairo_surface_t *surf =
      render_a8(s, f, page_index, dpi, scratch, scratch_cap, err);
  if (!surf) {
    free(own);
    return NULL;
  }
  int w = cairo_image_surface_get_width(surf);
  int h = cairo_image_surface_get_height(surf);
  PIX *pix = pixCreateNoInit(w, h, 1);
  if (!pix) {
    cairo_surface_destroy(surf);
    free(own);
    omr_error_set(err, OMR_ENOMEM, "out of memory for a %dx%d page", w, h);
    return NULL;
  }
  pixSetResolution(pix, (l_int32)lround(dpi), (l_int32)lround(dpi));
  const unsigned char *src = cairo_image_surface_get_data(surf);
  int stride = cairo_image_surface_get_stride(surf);
  l_uint32 *dst = pixGetData(pix);
  int wpl = pixGetWpl(pix);
  /* grey = 255 - alpha (omr_print_render_page); grey < grey_below is
   * alpha >= c */
  const unsigned c = (unsigned)(256 - grey_below);
  for (int y = 0; y < h; y++) {
    const unsigned char *a = src + (size_t)y * stride;
    l_uint32 *line = dst + (size_t)y * wpl;
    int x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (c >= 1 && c <= 128)
      for (; x + 32 <= w; x += 32)
        line[x / 32] = ((l_uint32)ink_byte8(a + x, c) << 24) |
                       ((l_uint32)ink_byte8(a + x + 8, c) << 16) |
                       ((l_uint32)ink_byte8(a + x + 16, c) << 8) |
                       (l_uint32)ink_byte8(a + x + 24, c);
#endif
    for (int k = x / 32; k < wpl; k++)
      line[k] = 0; /* the rest of the row, and the pad bits, start blank */
    for (; x < w; x++)
      if (a[x] >= c)
        SET_DATA_BIT(line, x);
  }
  cairo_surface_destroy(surf);
  free(own);
  return pix;
}

omr_status_t omr_print_stamp_barcode(PIX *pix, const omr_survey_t *s,
                                     const omr_form_t *f, int page_index,
                                     const char *respondent, double dpi,
                                     omr_error_t *err) {
  omr_status_t st = check_args(s, f, page_index, dpi, err);
  if (st != OMR_OK)
    return st;
  if (!pix || !respondent)
    return omr_error_set(err, OMR_EINPUT,
                         "print: no page or respondent to stamp");
  const omr_page_t *pg = &f->pages[page_index];
  int w = page_px(pg->width, dpi), h = page_px(pg->height, dpi);
  if (pixGetDepth(pix) != 8 || pixGetWidth(pix) != w || pixGetHeight(pix) != h)
    return omr_error_set(
        err, OMR_EINPUT,
        "print: page to stamp is %dx%d %d bpp, expected %dx%d 8 bpp",
        pixGetWidth(pix), pixGetHeight(pix), pixGetDepth(pix), w, h);
  if ((pg->barcode.w <= 0 || pg->barcode.h <= 0) && s->ids_by_order)
    return OMR_OK; /* a form that carries no barcode: nothing to stamp */
  if (pg->barcode.w <= 0 || pg->barcode.h <= 0)
    return omr_error_set(err, OMR_EINPUT, "%s: the page has no barcode box",
                         pg->file);

  /* Draw into a small surface over the barcode box only, at whole-pixel
   * offsets so the pixel grid is the page's own. */
  const double margin = 1.0;
  int x0 = (int)floor(omr_mm_to_px(pg->barcode.x - margin, dpi));
  int y0 = (int)floor(omr_mm_to_px(pg->barcode.y - margin, dpi));
  int x1 = (int)ceil(omr_mm_to_px(pg->barcode.x + pg->barcode.w + margin, dpi));
  int y1 = (int)ceil(omr_mm_to_px(pg->barcode.y + pg->barcode.h + margin, dpi));
  x0 = x0 < 0 ? 0 : x0;
  y0 = y0 < 0 ? 0 : y0;
  x1 = x1 > w ? w : x1;
  y1 = y1 > h ? h : y1;
  if (x1 <= x0 || y1 <= y0)
    return omr_error_set(err, OMR_EINPUT, "%s: barcode box is off the page",
                         pg->file);

  char payload[96];
  page_payload(payload, sizeof payload, s, f, pg, respondent);
  cairo_surface_t *surf =
      cairo_image_surface_create(CAIRO_FORMAT_A8, x1 - x0, y1 - y0);
  cairo_t *cr = cairo_create(surf);
  cairo_translate(cr, -x0, -y0);
  cairo_scale(cr, dpi / OMR_MM_PER_INCH, dpi / OMR_MM_PER_INCH);
  draw_t d = {.cr = cr, .pc = make_pango(cr), .vector = 0};
  st = d.pc ? draw_barcode(&d, &pg->barcode, payload, pg->barcode_kind, err)
            : omr_error_set(err, OMR_ENOMEM, "out of memory drawing a barcode");
  if (d.pc)
    g_object_unref(d.pc);
  cairo_destroy(cr);
  cairo_surface_flush(surf);
  if (st == OMR_OK) {
    /* Composite ink over the page as cairo's OVER would. */
    const unsigned char *src = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    l_uint32 *dst = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = y0; y < y1; y++) {
      const unsigned char *s8 = src + (size_t)(y - y0) * stride;
      l_uint32 *line = dst + (size_t)y * wpl;
      for (int x = x0; x < x1; x++) {
        unsigned a = s8[x - x0];
        if (!a)
          continue;
        unsigned old = 255 - GET_DATA_BYTE(line, x);
        unsigned ink = a + (old * (255 - a) + 127) / 255;
        SET_DATA_BYTE(line, x, 255 - (ink > 255 ? 255 : ink));
      }
    }
  }
  cairo_surface_destroy(surf);
  return st;
}

omr_status_t omr_print_pdf(const omr_survey_t *s, const char *form_id,
                           char **respondents, int n, const char *path,
                           omr_error_t *err) {
  if (!s || !path || n < 0 || (n > 0 && !respondents))
    return omr_error_set(err, OMR_EINPUT, "print: bad arguments for a PDF");
  if (form_id && !omr_template_form(s, form_id))
    return omr_error_set(err, OMR_EINPUT, "survey %s has no form %s", s->id,
                         form_id);
  const double pt_per_mm = 72.0 / OMR_MM_PER_INCH;
  cairo_surface_t *surf =
      cairo_pdf_surface_create(path, 210 * pt_per_mm, 297 * pt_per_mm);
  if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    return omr_error_set(err, OMR_EIO, "%s: cannot write the PDF", path);
  }
  cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE,
                                 s->title ? s->title : s->id);
  cairo_t *cr = cairo_create(surf);
  cairo_scale(cr, pt_per_mm, pt_per_mm);
  draw_t d = {.cr = cr, .pc = make_pango(cr), .vector = 1};
  omr_status_t st =
      d.pc ? OMR_OK : omr_error_set(err, OMR_ENOMEM, "out of memory");
  int copies = n > 0 ? n : 1;
  for (int r = 0; r < copies && st == OMR_OK; r++) {
    for (int fi = 0; fi < s->n_forms && st == OMR_OK; fi++) {
      const omr_form_t *f = &s->forms[fi];
      if (form_id && strcmp(f->id, form_id))
        continue;
      for (int p = 0; p < f->n_pages && st == OMR_OK; p++) {
        const omr_page_t *pg = &f->pages[p];
        cairo_pdf_surface_set_size(surf, pg->width * pt_per_mm,
                                   pg->height * pt_per_mm);
        if (pg->reference)
          st = paint_reference(cr, pg, err); /* printed by others: as is */
        else
          draw_items(&d, pg);
        if (n > 0 && pg->barcode.w > 0) {
          char payload[96];
          page_payload(payload, sizeof payload, s, f, pg, respondents[r]);
          st = draw_barcode(&d, &pg->barcode, payload, pg->barcode_kind, err);
        }
        cairo_show_page(cr);
      }
    }
  }
  if (d.pc)
    g_object_unref(d.pc);
  cairo_destroy(cr);
  cairo_surface_finish(surf);
  if (st == OMR_OK && cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
    st = omr_error_set(err, OMR_EIO, "%s: writing the PDF failed: %s", path,
                       cairo_status_to_string(cairo_surface_status(surf)));
  cairo_surface_destroy(surf);
  return st;
}

void omr_print_shutdown(void) {
  pango_cairo_font_map_set_default(NULL);
  cairo_debug_reset_static_data();
  FcFini();
}

/* LeakSanitizer reads this hook (when the program runs under ASan) for
 * suppressions. Fontconfig keeps its parsed configuration and font patterns
 * for the process lifetime, reachable only from its own statics, even after
 * FcFini with pango 1.50; those are not our leaks. Only libfontconfig is
 * suppressed, so a leak in omr still reports. Pulled in with print.o, i.e.
 * by every program that draws text. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libfontconfig.so\n";
}
