/* test_print.c -- the printed pages against the template they are drawn from.
 *
 * Every page of every form of templates/ipa-itsc-2018 is rendered at 200 and
 * 300 dpi and checked against ground truth taken from the template geometry
 * (the contract between printer and scanner), never from the renderer:
 *   1. zbar decodes each page's barcode and it equals omr_template_payload();
 *      a blank page (no respondent) has no barcode;
 *   2. every CHECK / DIGIT / TEXT region's rectangle is printed as a frame:
 *      dark pixels along its border, a clean interior; every CIRCLE region
 *      holds the printed option number: ink inside the box, nothing in a band
 *      just outside it, the ink centroid within 0.5 mm of the box centre;
 *   3. stamping the barcode on a blank render gives the same pixels as
 *      rendering with the respondent;
 *   4. text measurement wraps as expected and refuses bad input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zbar.h>

#include "check.h"
#include "print.h"

#define TEMPLATE_DIR "templates/ipa-itsc-2018"
#define RESPONDENT "000123"
#define DARK 128 /* grey level below which a pixel is ink */

static omr_survey_t *survey;

static int dark_at(PIX *pix, int x, int y) {
  l_uint32 v = 255;
  if (x < 0 || y < 0 || x >= (int)pixGetWidth(pix) ||
      y >= (int)pixGetHeight(pix))
    return 0;
  pixGetPixel(pix, x, y, &v);
  return v < DARK;
}

/* Decode every barcode on pix; returns the first Code 128 text (malloc'd)
 * or NULL. */
static char *zbar_read(PIX *pix) {
  int w = pixGetWidth(pix), h = pixGetHeight(pix);
  unsigned char *buf = malloc((size_t)w * h);
  if (!buf)
    return NULL;
  for (int y = 0; y < h; y++) {
    const l_uint32 *line = pixGetData(pix) + (size_t)y * pixGetWpl(pix);
    for (int x = 0; x < w; x++)
      buf[(size_t)y * w + x] = (unsigned char)GET_DATA_BYTE(line, x);
  }
  zbar_image_scanner_t *sc = zbar_image_scanner_create();
  zbar_image_scanner_set_config(sc, 0, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config(sc, ZBAR_CODE128, ZBAR_CFG_ENABLE, 1);
  zbar_image_t *img = zbar_image_create();
  zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(img, (unsigned)w, (unsigned)h);
  zbar_image_set_data(img, buf, (unsigned long)w * h, NULL);
  char *out = NULL;
  if (zbar_scan_image(sc, img) > 0) {
    const zbar_symbol_t *sym = zbar_image_first_symbol(img);
    if (sym && zbar_symbol_get_type(sym) == ZBAR_CODE128)
      out = strdup(zbar_symbol_get_data(sym));
  }
  zbar_image_destroy(img);
  zbar_image_scanner_destroy(sc);
  free(buf);
  return out;
}

/* Fraction of points along the border of r (mm) that are ink, allowing 1 px
 * either side of the line for rounding. */
static double border_ink(PIX *pix, omr_rect_t r, double dpi) {
  int hits = 0, n = 0;
  const int steps = 24;
  for (int side = 0; side < 4; side++) {
    for (int i = 1; i < steps; i++) {
      double t = (double)i / steps, x, y;
      int vertical = side >= 2;
      if (side == 0)
        x = r.x + t * r.w, y = r.y;
      else if (side == 1)
        x = r.x + t * r.w, y = r.y + r.h;
      else if (side == 2)
        x = r.x, y = r.y + t * r.h;
      else
        x = r.x + r.w, y = r.y + t * r.h;
      int px = (int)floor(omr_mm_to_px(x, dpi)),
          py = (int)floor(omr_mm_to_px(y, dpi));
      int hit = 0;
      for (int d = -1; d <= 1 && !hit; d++)
        hit = vertical ? dark_at(pix, px + d, py) : dark_at(pix, px, py + d);
      hits += hit;
      n++;
    }
  }
  return (double)hits / n;
}

/* Fraction of ink pixels in r shrunk by inset mm. */
static double area_ink(PIX *pix, omr_rect_t r, double inset, double dpi) {
  int x0 = (int)ceil(omr_mm_to_px(r.x + inset, dpi)),
      x1 = (int)floor(omr_mm_to_px(r.x + r.w - inset, dpi));
  int y0 = (int)ceil(omr_mm_to_px(r.y + inset, dpi)),
      y1 = (int)floor(omr_mm_to_px(r.y + r.h - inset, dpi));
  int ink = 0, n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++, n++)
      ink += dark_at(pix, x, y);
  return n ? (double)ink / n : 1.0;
}

/* Check the printed number of a circle region: ink inside, a clean band of
 * `band` mm around the box, centroid near the centre. */
static void check_circle(PIX *pix, const omr_page_t *pg, const omr_region_t *r,
                         double dpi) {
  double sx = 0, sy = 0;
  int ink = 0, outside = 0;
  const double band = 0.5;
  int x0 = (int)floor(omr_mm_to_px(r->box.x - band, dpi)),
      x1 = (int)ceil(omr_mm_to_px(r->box.x + r->box.w + band, dpi));
  int y0 = (int)floor(omr_mm_to_px(r->box.y - band, dpi)),
      y1 = (int)ceil(omr_mm_to_px(r->box.y + r->box.h + band, dpi));
  int bx0 = (int)floor(omr_mm_to_px(r->box.x, dpi)),
      bx1 = (int)ceil(omr_mm_to_px(r->box.x + r->box.w, dpi));
  int by0 = (int)floor(omr_mm_to_px(r->box.y, dpi)),
      by1 = (int)ceil(omr_mm_to_px(r->box.y + r->box.h, dpi));
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      if (!dark_at(pix, x, y))
        continue;
      if (x < bx0 || x >= bx1 || y < by0 || y >= by1) {
        outside++;
        continue;
      }
      ink++;
      sx += x + 0.5;
      sy += y + 0.5;
    }
  double px_per_mm = dpi / OMR_MM_PER_INCH;
  /* a printed digit at 9-10 pt has at least ~0.8 mm² of ink */
  CHECK(ink > 0.8 * px_per_mm * px_per_mm,
        "%s p%d %s at %g dpi: only %d ink pixels in the target", pg->file,
        pg->number, r->var, dpi, ink);
  CHECK(outside == 0,
        "%s p%d %s at %g dpi: %d ink pixels just outside the target", pg->file,
        pg->number, r->var, dpi, outside);
  if (ink > 0) {
    double cx = sx / ink / px_per_mm, cy = sy / ink / px_per_mm;
    double ex = r->box.x + r->box.w / 2, ey = r->box.y + r->box.h / 2;
    CHECK(hypot(cx - ex, cy - ey) <= 0.5,
          "%s %s at %g dpi: number centroid %.2f,%.2f mm, target centre "
          "%.2f,%.2f",
          pg->file, r->var, dpi, cx, cy, ex, ey);
  }
}

static void check_page(const omr_form_t *f, int p, double dpi) {
  const omr_page_t *pg = &f->pages[p];
  omr_error_t err = {0};
  PIX *pix = omr_print_render_page(survey, f, p, RESPONDENT, dpi, &err);
  CHECK(pix != NULL, "%s at %g dpi: %s", pg->file, dpi, err.msg);
  if (!pix)
    return;
  CHECK_INT(pixGetDepth(pix), 8);
  CHECK_INT(pixGetWidth(pix), lround(omr_mm_to_px(pg->width, dpi)));
  CHECK_INT(pixGetXRes(pix), lround(dpi));

  /* 1. the barcode */
  char want[96];
  omr_template_payload(want, sizeof want, survey->code, f->id, pg->number,
                       RESPONDENT);
  char *got = zbar_read(pix);
  CHECK(got && !strcmp(got, want),
        "%s at %g dpi: barcode read \"%s\", want \"%s\"", pg->file, dpi,
        got ? got : "(nothing)", want);
  free(got);

  /* 2. regions on the printed boxes and numbers */
  int n_frames = 0, n_circles = 0;
  for (int i = 0; i < pg->n_regions; i++) {
    const omr_region_t *r = &pg->regions[i];
    if (r->kind == OMR_REGION_CIRCLE) {
      check_circle(pix, pg, r, dpi);
      n_circles++;
      continue;
    }
    double b = border_ink(pix, r->box, dpi),
           in = area_ink(pix, r->box, 0.6, dpi);
    CHECK(b >= 0.95,
          "%s %s at %g dpi: only %.0f%% of the region border is printed",
          pg->file, r->var, dpi, 100 * b);
    CHECK(in <= 0.01, "%s %s at %g dpi: %.1f%% ink inside the empty box",
          pg->file, r->var, dpi, 100 * in);
    n_frames++;
  }
  CHECK(n_frames + n_circles == pg->n_regions);
  /* corner marks: solid squares at their centres */
  for (int k = 0; k < 4; k++) {
    omr_rect_t m = {pg->mark_x[k] - pg->mark_size / 2,
                    pg->mark_y[k] - pg->mark_size / 2, pg->mark_size,
                    pg->mark_size};
    CHECK(area_ink(pix, m, 0.3, dpi) > 0.99, "%s mark %d not solid", pg->file,
          k);
  }

  /* 3. stamp on the blank page == render with the respondent */
  PIX *blank = omr_print_render_page(survey, f, p, NULL, dpi, &err);
  CHECK(blank != NULL, "%s", err.msg);
  if (blank) {
    if (dpi < 250) {
      char *none = zbar_read(blank);
      CHECK(none == NULL, "%s: a blank page has a barcode \"%s\"", pg->file,
            none);
      free(none);
    }
    CHECK(omr_print_stamp_barcode(blank, survey, f, p, RESPONDENT, dpi, &err) ==
              OMR_OK,
          "%s", err.msg);
    l_int32 same = 0;
    pixEqual(blank, pix, &same);
    CHECK(same, "%s at %g dpi: stamped page differs from the rendered one",
          pg->file, dpi);
    pixDestroy(&blank);
  }
  pixDestroy(&pix);
}

static void test_pages_200(void) {
  for (int fi = 0; fi < survey->n_forms; fi++)
    for (int p = 0; p < survey->forms[fi].n_pages; p++)
      check_page(&survey->forms[fi], p, 200);
}

static void test_pages_300(void) {
  for (int fi = 0; fi < survey->n_forms; fi++)
    for (int p = 0; p < survey->forms[fi].n_pages; p++)
      check_page(&survey->forms[fi], p, 300);
}

/* The checks above must be able to fail: a frame shifted by 1 mm is not on
 * its region, and a wrong payload is not what zbar reads. */
static void test_checks_can_fail(void) {
  const omr_form_t *f = &survey->forms[0];
  omr_error_t err = {0};
  for (int p = 0; p < f->n_pages; p++) {
    const omr_page_t *pg = &f->pages[p];
    for (int i = 0; i < pg->n_regions; i++) {
      const omr_region_t *r = &pg->regions[i];
      if (r->kind != OMR_REGION_CHECK && r->kind != OMR_REGION_DIGIT)
        continue;
      PIX *pix = omr_print_render_page(survey, f, p, NULL, 200, &err);
      CHECK(pix != NULL, "%s", err.msg);
      if (!pix)
        return;
      omr_rect_t moved = r->box;
      moved.x += 1.0;
      moved.y += 1.0;
      CHECK(border_ink(pix, moved, 200) < 0.6,
            "a shifted box still looks printed");
      pixDestroy(&pix);
      return;
    }
  }
  CHECK(0, "form %s has no checkbox or digit box", f->id);
}

static void test_text_size(void) {
  omr_error_t err = {0};
  double w1, h1, w2, h2;
  int l1, l2;
  CHECK(omr_print_text_size("情報管理規定確認", 10, 0, 0, &w1, &h1, &l1,
                            &err) == OMR_OK,
        "%s", err.msg);
  /* 8 full-width characters at 10 pt are 8 em = 28.2 mm wide, one line */
  CHECK(fabs(w1 - 8 * 10 * OMR_MM_PER_INCH / 72) < 0.5, "width %.2f mm", w1);
  CHECK_INT(l1, 1);
  CHECK(omr_print_text_size("情報管理規定確認", 10, 0, 15, &w2, &h2, &l2,
                            &err) == OMR_OK);
  CHECK_INT(l2, 2);
  CHECK(h2 > 1.8 * h1, "two lines %.2f mm vs one %.2f mm", h2, h1);
  CHECK(omr_print_text_size("\xff\xfe", 10, 0, 0, NULL, NULL, NULL, &err) ==
        OMR_EINPUT);
}

static void test_bad_arguments(void) {
  omr_error_t err = {0};
  const omr_form_t *f = &survey->forms[0];
  CHECK(omr_print_render_page(survey, f, f->n_pages, NULL, 200, &err) == NULL);
  CHECK(err.status == OMR_EINPUT, "%s", err.msg);
  CHECK(omr_print_render_page(survey, f, 0, NULL, 5000, &err) == NULL);
  CHECK(err.status == OMR_ELIMIT, "%s", err.msg);
  PIX *small = pixCreate(10, 10, 8);
  CHECK(omr_print_stamp_barcode(small, survey, f, 0, RESPONDENT, 200, &err) ==
        OMR_EINPUT);
  pixDestroy(&small);
  CHECK(omr_print_pdf(survey, "nosuchform", NULL, 0, "/tmp/x.pdf", &err) ==
        OMR_EINPUT);
  CHECK(omr_print_pdf(survey, NULL, NULL, 0, "/nonexistent-dir/x.pdf", &err) ==
        OMR_EIO);
}

static void test_pdf(void) {
  omr_error_t err = {0};
  char path[] = "/tmp/omr-test-print-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  close(fd);
  char *ids[] = {"000001", "000002"};
  CHECK(omr_print_pdf(survey, "A", ids, 2, path, &err) == OMR_OK, "%s",
        err.msg);
  size_t len = 0;
  char *pdf = omr_read_file(path, 64u << 20, &len, &err);
  CHECK(pdf && len > 1000 && !memcmp(pdf, "%PDF", 4));
  /* one page per page of form A per respondent */
  int pages = 0;
  for (char *s = pdf;
       s && (s = memmem(s, len - (size_t)(s - pdf), "/Type /Page", 11)); s++)
    if (s[11] != 's')
      pages++;
  CHECK_INT(pages, 2 * omr_template_form(survey, "A")->n_pages);
  /* the Japanese font is embedded */
  CHECK(pdf && memmem(pdf, len, "IPAGothic", 9) != NULL);
  free(pdf);
  remove(path);
}

int main(void) {
  omr_quiet_libraries();
  omr_error_t err = {0};
  if (omr_template_load(TEMPLATE_DIR, &survey, &err) != OMR_OK) {
    fprintf(stderr, "cannot load %s: %s\n", TEMPLATE_DIR, err.msg);
    printf("0 passed, 1 failed\n");
    return 1;
  }
  RUN(test_text_size);
  RUN(test_bad_arguments);
  RUN(test_checks_can_fail);
  RUN(test_pages_200);
  RUN(test_pages_300);
  RUN(test_pdf);
  omr_template_free(survey);
  return check_report();
}
