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

/* Bytes of the valid UTF-8 character at s (1-4), 0 when s does not start
 * one (jansson's rules: utf8.c utf8_check_first/utf8_check_full). */
static int utf8_char_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n;
    unsigned v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 0;
    return n;
}

const char *omr_utf8_safe(const char *s)
{
    static _Thread_local char ring[OMR_UTF8_SAFE_RING][OMR_UTF8_SAFE_MAX + 1];
    static _Thread_local int next;
    if (!s)
        return "";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_char_len(p);
        if (!n)
            break;
        p += n;
    }
    if (!*p)
        return s;
    char *out = ring[next];
    next = (next + 1) % OMR_UTF8_SAFE_RING;
    size_t k = 0;
    p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_char_len(p);
        if (k + (size_t)(n ? n : 1) > OMR_UTF8_SAFE_MAX)
            break;
        if (n) {
            memcpy(out + k, p, (size_t)n);
            k += (size_t)n;
            p += n;
        } else {
            out[k++] = '?';
            p++;
        }
    }
    out[k] = '\0';
    return out;
}

const char *omr_path_tail(const char *path, size_t max_bytes)
{
    if (!path)
        return "";
    size_t n = strlen(path);
    if (n <= max_bytes)
        return path;
    const char *p = path + (n - max_bytes);
    while ((*p & 0xC0) == 0x80)
        p++;
    return p;
}
