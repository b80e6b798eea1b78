/* omr.h -- what every stage shares: status codes, the error record, small helpers.
 *
 * The library reports, only the command (omr/main.c) prints and exits. A stage
 * returns an omr_status_t and, on failure, fills an omr_error_t with a message
 * that names the file, page or template line and the reason, in words a
 * scanning clerk can act on. "Not found" and "uncertain" are normal results
 * that go to the review queue, not errors.
 *
 * Stage headers, in pipeline order: load.h, identify.h, register.h, sample.h,
 * classify.h, code.h, store.h, review.h, export.h; the form description is
 * template.h and its drawing is print.h.
 */
#ifndef OMR_OMR_H
#define OMR_OMR_H

#include <stddef.h>

typedef enum {
    OMR_OK = 0,
    OMR_ENOMEM,     /* out of memory */
    OMR_EIO,        /* a file could not be read or written */
    OMR_EINPUT,     /* the input is malformed: corrupt image, broken template, bad request */
    OMR_ENOTFOUND,  /* the thing looked for is not there (barcode, corner mark): goes to review */
    OMR_EUNSUPPORTED, /* valid input we do not handle (a compression, a depth) */
    OMR_ELIMIT      /* the input exceeds a safety limit (absurd image size) */
} omr_status_t;

/* One error, filled by the function that failed. Stack-allocated by the caller;
 * owns no heap memory, so there is nothing to free. */
typedef struct {
    omr_status_t status;
    char msg[1024];
} omr_error_t;

/* Set *err (when err is not NULL) and return status, so a failing function can
 * end with `return omr_error_set(err, OMR_EINPUT, "%s:%d: ...", ...);`. */
omr_status_t omr_error_set(omr_error_t *err, omr_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("scan.tif page 3: " + old message). */
void omr_error_prefix(omr_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short English name for a status ("corrupt input", "not found", ...). */
const char *omr_status_name(omr_status_t status);

/* Read a whole file into a NUL-terminated buffer. Returns NULL and fills *err
 * on failure; *plen (optional) gets the length without the NUL.
 * Owned by the caller: free(). Refuses files larger than max_bytes. */
char *omr_read_file(const char *path, size_t max_bytes, size_t *plen, omr_error_t *err);

/* Silence Leptonica's own stderr messages; the library reports through
 * omr_error_t instead. Safe to call more than once. */
void omr_quiet_libraries(void);

/* s as valid UTF-8 for JSON and the browser: s itself when it is valid
 * (no overlong forms, surrogates or code points above U+10FFFF, as jansson
 * checks), else a copy with each stray byte replaced by '?' and cut at
 * OMR_UTF8_SAFE_MAX bytes. Why: file names from a Samba share or a
 * Japanese scanner may be Shift-JIS, and a fixed-size copy may end inside a
 * character; one such string made jansson refuse a whole reply. The copy
 * lives in a per-thread ring of OMR_UTF8_SAFE_RING buffers: valid until
 * that many more copies are made by the same thread. NULL gives "". */
#define OMR_UTF8_SAFE_MAX 4095
#define OMR_UTF8_SAFE_RING 16
const char *omr_utf8_safe(const char *s);

/* The end of path, at most max_bytes long, starting on a character (a
 * pointer into path): for messages, where the file's name matters more
 * than its folders. */
const char *omr_path_tail(const char *path, size_t max_bytes);

#define OMR_MM_PER_INCH 25.4
/* Millimetres on the page to pixels at a given resolution. */
static inline double omr_mm_to_px(double mm, double dpi) { return mm * dpi / OMR_MM_PER_INCH; }

#endif
