/* omr.c -- the shared error record and small helpers of omr.h. */
#include "omr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leptonica/allheaders.h>

omr_status_t omr_error_set(omr_error_t *err, omr_status_t status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void omr_error_prefix(omr_error_t *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof err->msg)
        n = sizeof err->msg - 1;
    memcpy(err->msg, prefix, n);
    snprintf(err->msg + n, sizeof err->msg - n, "%.*s", (int)(sizeof err->msg - n - 1), old);
}

const char *omr_status_name(omr_status_t status)
{
    switch (status) {
    case OMR_OK: return "ok";
    case OMR_ENOMEM: return "out of memory";
    case OMR_EIO: return "i/o error";
    case OMR_EINPUT: return "malformed input";
    case OMR_ENOTFOUND: return "not found";
    case OMR_EUNSUPPORTED: return "unsupported";
    case OMR_ELIMIT: return "over a safety limit";
    }
    return "unknown status";
}

char *omr_read_file(const char *path, size_t max_bytes, size_t *plen, omr_error_t *err)
{
    if (plen)
        *plen = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        omr_error_set(err, OMR_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        omr_error_set(err, OMR_EIO, "%s: not a regular file", path);
        return NULL;
    }
    if ((size_t)st.st_size > max_bytes) {
        fclose(f);
        omr_error_set(err, OMR_ELIMIT, "%s: %lld bytes, more than the %zu allowed", path,
                      (long long)st.st_size, max_bytes);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        omr_error_set(err, OMR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
        return NULL;
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != n) {
        free(buf);
        omr_error_set(err, OMR_EIO, "%s: read failed", path);
        return NULL;
    }
    buf[n] = '\0';
    if (plen)
        *plen = n;
    return buf;
}

void omr_quiet_libraries(void)
{
    setMsgSeverity(L_SEVERITY_NONE);
}
