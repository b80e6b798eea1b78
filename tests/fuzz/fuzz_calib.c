/* fuzz_calib.c -- fuzz target: calibration profile text (omr_calib_parse).
 *
 * Profiles come from `omr calibrate` but are also edited by hand and passed
 * with --calib, so any text may arrive. Checks, besides memory safety: a
 * refused profile leaves the built-in defaults in *cal (calib.h), and an
 * accepted one survives omr_calib_write + omr_calib_load (a profile that omr
 * writes must be one it can read back).
 * Input: the file's bytes (cut at the first NUL).
 */
#include <stdint.h>

#include "calib.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field by field: the struct has padding, so memcmp() would compare garbage. */
static int calib_equal(const omr_calib_t *a, const omr_calib_t *b)
{
    return a->circle_blank_max == b->circle_blank_max &&
           a->circle_marked_min == b->circle_marked_min &&
           a->label_blank_max == b->label_blank_max && a->label_marked_min == b->label_marked_min &&
           a->label_only_marks == b->label_only_marks && a->check_blank_max == b->check_blank_max &&
           a->check_marked_min == b->check_marked_min && a->write_ink_min == b->write_ink_min &&
           a->faint_darkness == b->faint_darkness && a->erasure_darkness == b->erasure_darkness &&
           a->batch_min_regions == b->batch_min_regions &&
           a->batch_circle_blank_limit == b->batch_circle_blank_limit &&
           a->batch_check_blank_limit == b->batch_check_blank_limit &&
           a->register_max_residual_mm == b->register_max_residual_mm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) /* a profile is well under 1 KB */
        return 0;
    char *text = fuzz_strdup(data, size);
    omr_calib_t cal, def;
    omr_error_t err;
    omr_calib_default(&def);
    omr_status_t st = omr_calib_parse(text, "fuzz.calib", &cal, &err);
    if (st != OMR_OK) {
        fuzz_check(st == OMR_EINPUT);
        fuzz_check(calib_equal(&cal, &def));
        fuzz_check(strlen(err.msg) > 0);
    } else {
        char path[512];
        fuzz_write("rt.calib", "", 0, path, sizeof path);
        fuzz_check(omr_calib_write(path, &cal, "fuzz\nround trip", &err) == OMR_OK);
        omr_calib_t back;
        st = omr_calib_load(path, &back, &err);
        if (st != OMR_OK)
            fprintf(stderr, "written profile refused: %s\n", err.msg);
        fuzz_check(st == OMR_OK);
    }
    free(text);
    return 0;
}
