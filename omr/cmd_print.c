/* cmd_print.c -- `omr print`: personalised forms for a list of respondents,
 * as a print-ready vector PDF and/or PNG pages at a chosen resolution.
 * Drawing is omr/print.c; this file is options, messages and exit codes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "print.h"

#define MAX_RESPONDENTS 1000000

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: omr print --template DIR [--form ID] RESPONDENTS [--pdf OUT.pdf] "
      "[--png DIR [--dpi N]]\n"
      "\n"
      "Draw the survey's pages from its templates, each with its corner marks "
      "and a\n"
      "Code 128 barcode holding survey, form, page and respondent ID.\n"
      "\n"
      "  --template DIR   the survey folder (survey.omr and its .page files)\n"
      "  --form ID        only this form (default: every form)\n"
      "respondents, one of (IDs are printed as 6 digits, 123 -> 000123):\n"
      "  --ids 1,2,3      a list of IDs\n"
      "  --ids-file FILE  one ID per line ('#' comments and blank lines "
      "ignored)\n"
      "  --count N        IDs 000001 .. N\n"
      "  --blank          no respondent: blank pages without barcode\n"
      "outputs (at least one):\n"
      "  --pdf OUT.pdf    vector A4 PDF, all respondents in order\n"
      "  --png DIR        one grey PNG per page: DIR/<id>-<form>-<page>.png\n"
      "                   (blank-<form>-<page>.png with --blank)\n"
      "  --dpi N          PNG resolution, 50..1200 (default 300)\n"
      "\n"
      "exit status: 0 ok, 1 usage error, 2 failed\n");
}

/* Normalise an ID: digits only, at most 6 of them, zero-padded to 6; other
 * IDs (letters) are kept as they are if they are short and printable. */
static int normalise_id(const char *in, char *out, size_t n) {
  while (*in == ' ' || *in == '\t')
    in++;
  size_t len = strcspn(in, " \t\r\n");
  if (len == 0 || len > 20)
    return 0;
  int digits = 1;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c < '0' || c > '9')
      digits = 0;
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
          (c >= 'a' && c <= 'z')))
      return 0;
  }
  if (digits && len <= 6)
    snprintf(out, n, "%06ld", strtol(in, NULL, 10));
  else
    snprintf(out, n, "%.*s", (int)len, in);
  return 1;
}

typedef struct {
  char **a;
  int n, cap;
} ids_t;

static int ids_add(ids_t *ids, const char *raw) {
  char buf[32];
  if (!normalise_id(raw, buf, sizeof buf))
    return 0;
  if (ids->n == ids->cap) {
    int cap = ids->cap ? ids->cap * 2 : 64;
    char **a = realloc(ids->a, (size_t)cap * sizeof *a);
    if (!a)
      return -1;
    ids->a = a;
    ids->cap = cap;
  }
  if (!(ids->a[ids->n] = strdup(buf)))
    return -1;
  ids->n++;
  return 1;
}

static void ids_free(ids_t *ids) {
  for (int i = 0; i < ids->n; i++)
    free(ids->a[i]);
  free(ids->a);
}

static int write_pngs(const omr_survey_t *s, const char *form_id, ids_t *ids,
                      int blank, const char *dir, double dpi) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "omr print: cannot create %s: %s\n", dir, strerror(errno));
    return OMR_EXIT_FAILED;
  }
  int copies = blank ? 1 : ids->n, written = 0;
  for (int fi = 0; fi < s->n_forms; fi++) {
    const omr_form_t *f = &s->forms[fi];
    if (form_id && strcmp(form_id, f->id))
      continue;
    for (int p = 0; p < f->n_pages; p++) {
      omr_error_t err = {0};
      PIX *page = omr_print_render_page(s, f, p, NULL, dpi, &err);
      if (!page) {
        fprintf(stderr, "omr print: %s\n", err.msg);
        return OMR_EXIT_FAILED;
      }
      for (int r = 0; r < copies; r++) {
        PIX *pix = blank ? pixClone(page) : pixCopy(NULL, page);
        const char *id = blank ? "blank" : ids->a[r];
        if (!pix ||
            (!blank && omr_print_stamp_barcode(pix, s, f, p, id, dpi, &err))) {
          fprintf(stderr, "omr print: %s\n", pix ? err.msg : "out of memory");
          pixDestroy(&pix);
          pixDestroy(&page);
          return OMR_EXIT_FAILED;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%s-%02d.png", dir, id, f->id,
                 f->pages[p].number);
        if (pixWrite(path, pix, IFF_PNG) != 0) {
          fprintf(stderr, "omr print: cannot write %s\n", path);
          pixDestroy(&pix);
          pixDestroy(&page);
          return OMR_EXIT_FAILED;
        }
        pixDestroy(&pix);
        written++;
      }
      pixDestroy(&page);
    }
  }
  printf("wrote %d PNG pages to %s at %g dpi\n", written, dir, dpi);
  return OMR_EXIT_OK;
}

int omr_cmd_print(int argc, char **argv) {
  static const struct option opts[] = {{"template", required_argument, 0, 't'},
                                       {"form", required_argument, 0, 'f'},
                                       {"ids", required_argument, 0, 'i'},
                                       {"ids-file", required_argument, 0, 'I'},
                                       {"count", required_argument, 0, 'c'},
                                       {"blank", no_argument, 0, 'b'},
                                       {"pdf", required_argument, 0, 'p'},
                                       {"png", required_argument, 0, 'P'},
                                       {"dpi", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *tpl = NULL, *form = NULL, *ids_list = NULL, *ids_file = NULL,
             *pdf = NULL, *png = NULL;
  long count = -1;
  double dpi = 300;
  int blank = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 't':
      tpl = optarg;
      break;
    case 'f':
      form = optarg;
      break;
    case 'i':
      ids_list = optarg;
      break;
    case 'I':
      ids_file = optarg;
      break;
    case 'b':
      blank = 1;
      break;
    case 'p':
      pdf = optarg;
      break;
    case 'P':
      png = optarg;
      break;
    case 'c':
      count = strtol(optarg, &end, 10);
      if (*end || count < 1 || count > MAX_RESPONDENTS) {
        fprintf(stderr, "omr print: --count %s: a number 1..%d\n", optarg,
                MAX_RESPONDENTS);
        return OMR_EXIT_USAGE;
      }
      break;
    case 'd':
      dpi = strtod(optarg, &end);
      if (*end || !(dpi >= 50 && dpi <= 1200)) {
        fprintf(stderr, "omr print: --dpi %s: a resolution 50..1200\n", optarg);
        return OMR_EXIT_USAGE;
      }
      break;
    case 'h':
      usage(stdout);
      return OMR_EXIT_OK;
    default:
      fprintf(stderr, "try 'omr print --help'\n");
      return OMR_EXIT_USAGE;
    }
  }
  if (optind < argc || !tpl || (!pdf && !png) ||
      (!!ids_list + !!ids_file + (count > 0) + blank) != 1) {
    fprintf(stderr, "omr print: needs --template, exactly one of "
                    "--ids/--ids-file/--count/--blank, "
                    "and --pdf or --png; try 'omr print --help'\n");
    return OMR_EXIT_USAGE;
  }

  ids_t ids = {0};
  int rc = OMR_EXIT_OK;
  if (ids_list) {
    char *copy = strdup(ids_list), *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL;
         t && rc == OMR_EXIT_OK; t = strtok_r(NULL, ",", &save))
      if (ids_add(&ids, t) != 1) {
        fprintf(stderr, "omr print: --ids: '%s' is not a respondent ID\n", t);
        rc = OMR_EXIT_USAGE;
      }
    free(copy);
  } else if (ids_file) {
    FILE *fp = fopen(ids_file, "r");
    if (!fp) {
      fprintf(stderr, "omr print: %s: %s\n", ids_file, strerror(errno));
      return OMR_EXIT_FAILED;
    }
    char line[256];
    for (int ln = 1; fgets(line, sizeof line, fp) && rc == OMR_EXIT_OK; ln++) {
      char *h = strchr(line, '#');
      if (h)
        *h = '\0';
      if (strspn(line, " \t\r\n") == strlen(line))
        continue;
      if (ids_add(&ids, line) != 1 || ids.n > MAX_RESPONDENTS) {
        fprintf(stderr, "omr print: %s:%d: not a respondent ID\n", ids_file,
                ln);
        rc = OMR_EXIT_FAILED;
      }
    }
    fclose(fp);
  } else if (count > 0) {
    for (long i = 1; i <= count && rc == OMR_EXIT_OK; i++) {
      char b[16];
      snprintf(b, sizeof b, "%ld", i);
      if (ids_add(&ids, b) != 1)
        rc = OMR_EXIT_FAILED;
    }
  }
  if (rc == OMR_EXIT_OK && !blank && ids.n == 0) {
    fprintf(stderr, "omr print: no respondent IDs given\n");
    rc = OMR_EXIT_USAGE;
  }
  omr_survey_t *s = NULL;
  omr_error_t err = {0};
  if (rc == OMR_EXIT_OK && omr_template_load(tpl, &s, &err) != OMR_OK) {
    fprintf(stderr, "omr print: %s\n", err.msg);
    rc = OMR_EXIT_FAILED;
  }
  if (rc == OMR_EXIT_OK && form && !omr_template_form(s, form)) {
    fprintf(stderr, "omr print: survey %s has no form '%s'\n", s->id, form);
    rc = OMR_EXIT_USAGE;
  }
  if (rc == OMR_EXIT_OK && pdf) {
    if (omr_print_pdf(s, form, ids.a, blank ? 0 : ids.n, pdf, &err) != OMR_OK) {
      fprintf(stderr, "omr print: %s\n", err.msg);
      rc = OMR_EXIT_FAILED;
    } else {
      printf("wrote %s (%d respondent%s)\n", pdf, blank ? 0 : ids.n,
             ids.n == 1 ? "" : "s");
    }
  }
  if (rc == OMR_EXIT_OK && png)
    rc = write_pngs(s, form, &ids, blank, png, dpi);
  omr_template_free(s);
  ids_free(&ids);
  return rc;
}
