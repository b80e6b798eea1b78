/* calib.c -- calibration profiles: defaults, parser, writer (calib.h). */
#include "calib.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

void omr_calib_default(omr_calib_t *c)
{
    /* Keep in step with calib/default.calib, which explains each number. */
    c->circle_blank_max = 0.001;
    c->circle_marked_min = 0.012;
    c->label_blank_max = 0.015;
    c->label_marked_min = 0.04;
    c->label_only_marks = 1;
    c->check_blank_max = 0.001;
    c->check_marked_min = 0.012;
    c->write_ink_min = 0.002;
    c->faint_darkness = 0.30;
    c->erasure_darkness = 0.20;
    c->light_blank_max = 0.02;
    c->batch_min_regions = 2000;
    c->batch_circle_blank_limit = 0.006;
    c->batch_check_blank_limit = 0.006;
    c->light_scan_recovery_min = 0.75;
    c->light_scan_pen_marks = 3;
    c->light_scan_pen_circle_ink = 0.15;
    c->light_scan_pen_check_ink = 0.10;
    c->light_scan_pen_fill_ink = 0.40;
    c->light_scan_eroded_recovery_max = 0.90;
    c->light_scan_eroded_ink = 0.05;
    c->light_scan_eroded_empty = 1;
    c->light_scan_eroded_traces = 1;
    c->light_scan_multi_cells = 1;
    c->light_scan_boxes = 1;
    c->bitonal_hires_dpi = 250;
    c->bitonal_hires_blank_max = 0.003;
    c->register_max_residual_mm = 1.0;
    c->light_ink_min = 0.015;
    c->trace_stroke_mm = 1.0;
    c->trace_span_mm = 1.75;
    c->trace_piece_mm = 0.7;
    c->circle_blackout_min = 0.70;
    c->write_disagree_ink = 0.005;
    c->check_filled_min = 0.42;
    c->bubble_blank_max = 0.25;
    c->bubble_marked_min = 0.50;
    c->bubble_base_max = 0.50;
    c->bubble_full_gap = 0.30;
    c->bubble_full_min = 0.70;
    c->bubble_blank_min = 0.10;
    c->bubble_noise_k = 1.8;
    c->bubble_stand_out_min = 0.07;
    c->bubble_stand_out_ratio = 2;
    c->bubble_stand_out_noise = 1.3;
}

typedef enum { K_SHARE, K_INT, K_MM, K_BOOL, K_MM_OFF /* mm, 0 = off */, K_FACTOR /* (0, 10] */ } key_type_t;

static const struct {
    const char *name;
    size_t off;
    key_type_t type;
} keys[] = {
#define D(f) offsetof(omr_calib_t, f)
    {"circle.blank_max", D(circle_blank_max), K_SHARE},
    {"circle.marked_min", D(circle_marked_min), K_SHARE},
    {"label.blank_max", D(label_blank_max), K_SHARE},
    {"label.marked_min", D(label_marked_min), K_SHARE},
    {"label.only_marks", D(label_only_marks), K_BOOL},
    {"check.blank_max", D(check_blank_max), K_SHARE},
    {"check.marked_min", D(check_marked_min), K_SHARE},
    {"write.ink_min", D(write_ink_min), K_SHARE},
    {"grey.faint_darkness", D(faint_darkness), K_SHARE},
    {"grey.erasure_darkness", D(erasure_darkness), K_SHARE},
    {"grey.light_blank_max", D(light_blank_max), K_SHARE},
    {"batch.min_regions", D(batch_min_regions), K_INT},
    {"batch.circle_blank_limit", D(batch_circle_blank_limit), K_SHARE},
    {"batch.check_blank_limit", D(batch_check_blank_limit), K_SHARE},
    {"light_scan.recovery_min", D(light_scan_recovery_min), K_SHARE},
    {"light_scan.pen_marks", D(light_scan_pen_marks), K_INT},
    {"light_scan.pen_circle_ink", D(light_scan_pen_circle_ink), K_SHARE},
    {"light_scan.pen_check_ink", D(light_scan_pen_check_ink), K_SHARE},
    {"light_scan.pen_fill_ink", D(light_scan_pen_fill_ink), K_SHARE},
    {"light_scan.eroded_recovery_max", D(light_scan_eroded_recovery_max), K_SHARE},
    {"light_scan.eroded_ink", D(light_scan_eroded_ink), K_SHARE},
    {"light_scan.eroded_empty", D(light_scan_eroded_empty), K_BOOL},
    {"light_scan.eroded_traces", D(light_scan_eroded_traces), K_BOOL},
    {"light_scan.multi_cells", D(light_scan_multi_cells), K_BOOL},
    {"light_scan.boxes", D(light_scan_boxes), K_BOOL},
    {"bitonal.hires_dpi", D(bitonal_hires_dpi), K_INT},
    {"bitonal.hires_blank_max", D(bitonal_hires_blank_max), K_SHARE},
    {"register.max_residual_mm", D(register_max_residual_mm), K_MM},
    {"grey.light_ink_min", D(light_ink_min), K_SHARE},
    {"trace.stroke_mm", D(trace_stroke_mm), K_MM_OFF},
    {"trace.span_mm", D(trace_span_mm), K_MM_OFF},
    {"trace.piece_mm", D(trace_piece_mm), K_MM_OFF},
    {"circle.blackout_min", D(circle_blackout_min), K_SHARE},
    {"write.disagree_ink", D(write_disagree_ink), K_SHARE},
    {"check.filled_min", D(check_filled_min), K_SHARE},
    {"bubble.blank_max", D(bubble_blank_max), K_SHARE},
    {"bubble.marked_min", D(bubble_marked_min), K_SHARE},
    {"bubble.base_max", D(bubble_base_max), K_SHARE},
    {"bubble.full_gap", D(bubble_full_gap), K_SHARE},
    {"bubble.full_min", D(bubble_full_min), K_SHARE},
    {"bubble.blank_min", D(bubble_blank_min), K_SHARE},
    {"bubble.noise_k", D(bubble_noise_k), K_FACTOR},
    {"bubble.stand_out_min", D(bubble_stand_out_min), K_SHARE},
    {"bubble.stand_out_ratio", D(bubble_stand_out_ratio), K_FACTOR},
    {"bubble.stand_out_noise", D(bubble_stand_out_noise), K_FACTOR},
#undef D
};
static const int n_keys = (int)(sizeof keys / sizeof keys[0]);

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Pairs that must be ordered; checked after the whole file is read, so the
 * message names the line of the later key of the pair. */
static omr_status_t check_pairs(const omr_calib_t *c, const char *name, const int *line_of,
                                omr_error_t *err)
{
    static const struct {
        size_t lo, hi;
        int klo, khi;
    } pairs[] = {
        {offsetof(omr_calib_t, circle_blank_max), offsetof(omr_calib_t, circle_marked_min), 0, 1},
        {offsetof(omr_calib_t, label_blank_max), offsetof(omr_calib_t, label_marked_min), 2, 3},
        {offsetof(omr_calib_t, check_blank_max), offsetof(omr_calib_t, check_marked_min), 5, 6},
        {offsetof(omr_calib_t, erasure_darkness), offsetof(omr_calib_t, faint_darkness), 9, 8},
        {offsetof(omr_calib_t, bubble_blank_max), offsetof(omr_calib_t, bubble_marked_min), 35, 36},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double lo = *(const double *)((const char *)c + pairs[i].lo);
        double hi = *(const double *)((const char *)c + pairs[i].hi);
        if (lo > hi) {
            int l = line_of[pairs[i].klo] > line_of[pairs[i].khi] ? line_of[pairs[i].klo]
                                                                  : line_of[pairs[i].khi];
            return omr_error_set(err, OMR_EINPUT, "%s:%d: %s = %g is above %s = %g", name, l,
                                 keys[pairs[i].klo].name, lo, keys[pairs[i].khi].name, hi);
        }
    }
    return OMR_OK;
}

omr_status_t omr_calib_parse(const char *text, const char *name, omr_calib_t *cal,
                             omr_error_t *err)
{
    omr_calib_default(cal);
    if (!name)
        name = "calibration";
    if (!text)
        return omr_error_set(err, OMR_EINPUT, "%s: no text", name);
    int line_of[sizeof keys / sizeof keys[0]] = {0};
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char buf[512];
        if (len >= sizeof buf) {
            omr_calib_default(cal);
            return omr_error_set(err, OMR_EINPUT, "%s:%d: line too long (%zu bytes)", name, line,
                                 len);
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        p = nl ? nl + 1 : p + len;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0;
        char *s = trim(buf);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            omr_calib_default(cal);
            return omr_error_set(err, OMR_EINPUT, "%s:%d: expected 'key = value', got '%s'", name,
                                 line, s);
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        int k = 0;
        while (k < n_keys && strcmp(keys[k].name, key))
            k++;
        if (k == n_keys) {
            omr_calib_default(cal);
            return omr_error_set(err, OMR_EINPUT, "%s:%d: unknown key '%s'", name, line, key);
        }
        if (line_of[k]) {
            omr_calib_default(cal);
            return omr_error_set(err, OMR_EINPUT, "%s:%d: '%s' set twice (first on line %d)",
                                 name, line, key, line_of[k]);
        }
        line_of[k] = line;
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (!*val || *end || errno || !isfinite(v)) {
            omr_calib_default(cal);
            return omr_error_set(err, OMR_EINPUT, "%s:%d: %s: '%s' is not a number", name, line,
                                 key, val);
        }
        void *field = (char *)cal + keys[k].off;
        switch (keys[k].type) {
        case K_SHARE:
            if (v < 0 || v > 1) {
                omr_calib_default(cal);
                return omr_error_set(err, OMR_EINPUT, "%s:%d: %s = %g is outside 0..1", name,
                                     line, key, v);
            }
            *(double *)field = v;
            break;
        case K_FACTOR:
            if (v <= 0 || v > 10) {
                omr_calib_default(cal);
                return omr_error_set(err, OMR_EINPUT, "%s:%d: %s = %g is outside (0, 10]", name, line, key, v);
            }
            *(double *)field = v;
            break;
        case K_MM:
        case K_MM_OFF:
            if (v < 0 || (v == 0 && keys[k].type == K_MM) || v > 10) {
                omr_calib_default(cal);
                return omr_error_set(err, OMR_EINPUT, "%s:%d: %s = %g mm is outside %s", name,
                                     line, key, v,
                                     keys[k].type == K_MM ? "(0, 10]" : "[0, 10] (0: off)");
            }
            *(double *)field = v;
            break;
        case K_INT:
        case K_BOOL:
            if (v != floor(v) || v < 0 || v > 1e9 || (keys[k].type == K_BOOL && v > 1)) {
                omr_calib_default(cal);
                return omr_error_set(err, OMR_EINPUT, "%s:%d: %s = '%s': expected %s", name, line,
                                     key, val,
                                     keys[k].type == K_BOOL ? "0 or 1" : "a whole number >= 0");
            }
            *(int *)field = (int)v;
            break;
        }
    }
    omr_status_t st = check_pairs(cal, name, line_of, err);
    if (st != OMR_OK)
        omr_calib_default(cal);
    return st;
}

omr_status_t omr_calib_load(const char *path, omr_calib_t *cal, omr_error_t *err)
{
    omr_calib_default(cal);
    char *text = omr_read_file(path, 1 << 20, NULL, err);
    if (!text)
        return err ? err->status : OMR_EIO;
    omr_status_t st = omr_calib_parse(text, path, cal, err);
    free(text);
    return st;
}

omr_status_t omr_calib_write(const char *path, const omr_calib_t *cal, const char *header,
                             omr_error_t *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return omr_error_set(err, OMR_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (header) {
        const char *p = header;
        while (*p) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "# %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
        fputc('\n', f);
    }
    for (int k = 0; k < n_keys; k++) {
        const void *field = (const char *)cal + keys[k].off;
        if (keys[k].type == K_INT || keys[k].type == K_BOOL)
            fprintf(f, "%s = %d\n", keys[k].name, *(const int *)field);
        else
            fprintf(f, "%s = %.4g\n", keys[k].name, *(const double *)field);
    }
    if (fclose(f) != 0)
        return omr_error_set(err, OMR_EIO, "%s: write failed: %s", path, strerror(errno));
    return OMR_OK;
}
