/* load.c -- stage 1: input files and folders to page images (see load.h).
 *
 * Decoders are written against libtiff, libpng and libjpeg directly rather
 * than Leptonica's readers, for three reasons: the pixels go straight into
 * the PIX rows (no intermediate copy of the page), the header is checked
 * against our size limits before any pixel memory is taken, and every
 * library message is captured into our error text instead of stderr.
 *
 * Files are hashed (SHA-256 of every byte) when they are opened, so the
 * store can recognise a file it has seen even under another name; a caller
 * that hashed the file already (the scan pipeline, before claiming it)
 * passes the digest to omr_load_open_hashed() and the file is read once
 * less. The hash is OpenSSL's (libcrypto): it uses the CPU's SHA
 * instructions where there are some, ~10x libsodium's portable code, and
 * gives the same digest, so stored hashes stay valid.
 */
#include "load.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <openssl/evp.h>
#include <tiffio.h>

/* Deeper folder nesting than this is refused (also stops symlink loops). */
#define MAX_DEPTH 32
/* Biggest buffer the colour/palette TIFF path takes for one strip or tile of
 * RGBA pixels; a file storing a colour page as one huge strip beyond this is
 * refused as unsupported rather than risking the worker's memory. */
#define MAX_RGBA_BYTES (256u << 20)

/* One input file, or a path that already failed while listing (status != OK). */
typedef struct {
    char *path;
    omr_status_t status;
    char *msg; /* the failure, without the path */
} entry_t;

struct omr_load {
    entry_t *files;
    int n_files, cap_files;
    int cur;      /* index of the current file, -1 before the first */
    int is_open;  /* the current file is open and may have more pages */
    omr_format_t format;
    TIFF *tif;
    int page;     /* next page index to decode in the current file */
    int n_pages;
    int first_done; /* TIFF: the first directory (read at open) has been decoded */
    unsigned char sha256[32];
    int hash_ok;
    int fd;         /* >= 0: the one file, opened and hashed by the caller (borrowed,
                       omr_load_open_fd): every byte is read from it, never again by
                       path, and sha256 is the caller's digest, not recomputed */
    /* Library messages collected during one call: the first error, the first
     * warning, and whether a warning came while pixels were being decoded. */
    char diag[512];
    char warn[512];
    int decoding;
    int decode_warned;
};

/* ---------------------------------------------------------------- listing */

static omr_status_t add_entry(omr_load_t *src, const char *path, omr_status_t status,
                              const char *msg)
{
    if (src->n_files == src->cap_files) {
        int cap = src->cap_files ? 2 * src->cap_files : 64;
        entry_t *f = realloc(src->files, (size_t)cap * sizeof *f);
        if (!f)
            return OMR_ENOMEM;
        src->files = f;
        src->cap_files = cap;
    }
    entry_t *e = &src->files[src->n_files];
    e->path = strdup(path);
    e->msg = msg ? strdup(msg) : NULL;
    e->status = status;
    if (!e->path || (msg && !e->msg)) {
        free(e->path);
        free(e->msg);
        return OMR_ENOMEM;
    }
    src->n_files++;
    return OMR_OK;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    static const char *const exts[] = {".tif", ".tiff", ".png", ".jpg", ".jpeg"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i]))
            return 1;
    return 0;
}

omr_format_t omr_load_sniff(const unsigned char *h, size_t n)
{
    if (n >= 4 && ((h[0] == 'I' && h[1] == 'I' && (h[2] == 42 || h[2] == 43) && h[3] == 0) ||
                   (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && (h[3] == 42 || h[3] == 43))))
        return OMR_FORMAT_TIFF;
    if (n >= 8 && !memcmp(h, "\x89PNG\r\n\x1a\n", 8))
        return OMR_FORMAT_PNG;
    if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff)
        return OMR_FORMAT_JPEG;
    return OMR_FORMAT_UNKNOWN;
}

/* Does a file of unknown extension start like an image? Unreadable -> no. */
static int sniffs_as_image(const char *path)
{
    unsigned char head[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n > 0 && omr_load_sniff(head, (size_t)n) != OMR_FORMAT_UNKNOWN;
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* The folders from the walk's top down to the one being read, by device
 * and inode: a folder reached again through a link is one of them (a link
 * loop), and is not read again. */
typedef struct {
    dev_t dev[MAX_DEPTH + 2];
    ino_t ino[MAX_DEPTH + 2];
    int n;
} ancestors_t;

/* Push folder sb: 1; 0 when it is already on the way down (a loop: every
 * file under it is listed once already); -1 when nested too deep. */
static int enter_folder(ancestors_t *up, const struct stat *sb)
{
    for (int i = 0; i < up->n; i++)
        if (up->dev[i] == sb->st_dev && up->ino[i] == sb->st_ino)
            return 0;
    if (up->n >= MAX_DEPTH + 1)
        return -1;
    up->dev[up->n] = sb->st_dev;
    up->ino[up->n++] = sb->st_ino;
    return 1;
}

static int walk_images(const char *dir, ancestors_t *up, int (*fn)(void *ctx, const char *path, long long size),
                       void *ctx)
{
    struct stat self;
    if (stat(dir, &self) != 0 || enter_folder(up, &self) != 1)
        return 0;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_hidden, cmp_dirent);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        if (!rc && snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path) {
            if (stat(path, &sb) != 0) {
                /* named as a scan but unreadable (a link to a file gone): the
                 * caller's open reports it, rather than nobody */
                if (has_image_ext(path))
                    rc = fn(ctx, path, -1);
            } else if (S_ISDIR(sb.st_mode)) {
                rc = walk_images(path, up, fn, ctx);
            } else if (S_ISREG(sb.st_mode) && (has_image_ext(path) || sniffs_as_image(path))) {
                rc = fn(ctx, path, (long long)sb.st_size);
            }
        }
        free(names[i]);
    }
    free(names);
    up->n--;
    return rc;
}

int omr_load_walk_images(const char *dir, int (*fn)(void *ctx, const char *path, long long size), void *ctx)
{
    ancestors_t up = {.n = 0};
    return walk_images(dir, &up, fn, ctx);
}

/* Add the image files under dir, sorted by name, depth first. Unreadable
 * folders and entries become failed entries; only ENOMEM stops the walk. */
static omr_status_t walk(omr_load_t *src, const char *dir, ancestors_t *up)
{
    char msg[300];
    struct stat self;
    if (stat(dir, &self) != 0) {
        snprintf(msg, sizeof msg, "cannot read folder: %s", strerror(errno));
        return add_entry(src, dir, OMR_EIO, msg);
    }
    int entered = enter_folder(up, &self);
    if (entered == 0)
        return OMR_OK; /* a link back up: its files are listed already */
    if (entered < 0) {
        snprintf(msg, sizeof msg, "folder nested deeper than %d levels; skipped", MAX_DEPTH);
        return add_entry(src, dir, OMR_EIO, msg);
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_hidden, cmp_dirent);
    if (n < 0) {
        snprintf(msg, sizeof msg, "cannot read folder: %s", strerror(errno));
        up->n--;
        return add_entry(src, dir, OMR_EIO, msg);
    }
    omr_status_t st = OMR_OK;
    for (int i = 0; i < n; i++) {
        if (st == OMR_OK) {
            size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
            char *path = malloc(len);
            if (!path) {
                st = OMR_ENOMEM;
            } else {
                int slash = dir[0] && dir[strlen(dir) - 1] == '/';
                snprintf(path, len, "%s%s%s", dir, slash ? "" : "/", names[i]->d_name);
                struct stat sb;
                if (stat(path, &sb) != 0) {
                    if (has_image_ext(path)) {
                        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
                        st = add_entry(src, path, OMR_EIO, msg);
                    }
                } else if (S_ISDIR(sb.st_mode)) {
                    st = walk(src, path, up);
                } else if (S_ISREG(sb.st_mode)) {
                    if (has_image_ext(path) || sniffs_as_image(path))
                        st = add_entry(src, path, OMR_OK, NULL);
                }
                free(path);
            }
        }
        free(names[i]);
    }
    free(names);
    up->n--;
    return st;
}

omr_status_t omr_load_open_paths(const char *const *paths, int n_paths, omr_load_t **psrc,
                                 omr_error_t *err)
{
    *psrc = NULL;
    if (n_paths < 1 || !paths)
        return omr_error_set(err, OMR_EINPUT, "no input files given");
    omr_load_t *src = calloc(1, sizeof *src);
    if (!src)
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    src->cur = -1;
    src->fd = -1;
    omr_status_t st = OMR_OK;
    for (int i = 0; i < n_paths && st == OMR_OK; i++) {
        struct stat sb;
        char msg[300];
        if (stat(paths[i], &sb) != 0) {
            snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
            st = add_entry(src, paths[i], OMR_EIO, msg);
        } else if (S_ISDIR(sb.st_mode)) {
            ancestors_t up = {.n = 0};
            st = walk(src, paths[i], &up);
        } else {
            /* Named explicitly: taken whatever its name; the content decides. */
            st = add_entry(src, paths[i], OMR_OK, NULL);
        }
    }
    if (st != OMR_OK) {
        omr_load_close(src);
        return omr_error_set(err, OMR_ENOMEM, "out of memory listing the input files");
    }
    *psrc = src;
    return OMR_OK;
}

omr_status_t omr_load_open(const char *path, omr_load_t **psrc, omr_error_t *err)
{
    return omr_load_open_paths(&path, 1, psrc, err);
}

omr_status_t omr_load_open_fd(const char *path, int fd, const unsigned char sha256[32],
                              omr_load_t **psrc, omr_error_t *err)
{
    *psrc = NULL;
    omr_load_t *src = calloc(1, sizeof *src);
    if (!src)
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    src->cur = -1;
    src->fd = fd;
    if (sha256)
        memcpy(src->sha256, sha256, sizeof src->sha256);
    if (add_entry(src, path, OMR_OK, NULL) != OMR_OK) {
        omr_load_close(src);
        return omr_error_set(err, OMR_ENOMEM, "out of memory");
    }
    *psrc = src;
    return OMR_OK;
}

int omr_load_count_files(const omr_load_t *src)
{
    return src ? src->n_files : 0;
}

/* ------------------------------------------------------------ diagnostics */

static void diag_clear(omr_load_t *src)
{
    src->diag[0] = src->warn[0] = '\0';
    src->decode_warned = 0;
}

/* The best library text for a failure: the error, else the first warning. */
static const char *diag_text(const omr_load_t *src, const char *fallback)
{
    if (src->diag[0])
        return src->diag;
    if (src->warn[0])
        return src->warn;
    return fallback;
}

static int tiff_error_handler(TIFF *tif, void *user, const char *module, const char *fmt,
                              va_list ap)
{
    (void)tif;
    omr_load_t *src = user;
    if (src && !src->diag[0]) {
        int n = snprintf(src->diag, sizeof src->diag, "%s: ", module ? module : "libtiff");
        if (n < 0 || (size_t)n >= sizeof src->diag)
            n = 0;
        vsnprintf(src->diag + n, sizeof src->diag - (size_t)n, fmt, ap);
    }
    return 1; /* handled: libtiff's global handler (stderr) is not called */
}

static int tiff_warning_handler(TIFF *tif, void *user, const char *module, const char *fmt,
                                va_list ap)
{
    (void)tif;
    omr_load_t *src = user;
    if (!src)
        return 1;
    char msg[sizeof src->warn];
    int n = snprintf(msg, sizeof msg, "%s: ", module ? module : "libtiff");
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    /* libtiff warns on every old-style JPEG page that the format is
     * deprecated: a note about the format, not about this file's pixels */
    if (strstr(msg, "old-style JPEG"))
        return 1;
    if (src->decoding)
        src->decode_warned = 1;
    if (!src->warn[0])
        snprintf(src->warn, sizeof src->warn, "%s", msg);
    return 1;
}

/* ---------------------------------------------------------------- hashing */

void omr_load_sha256_hex(const unsigned char sha256[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[sha256[i] >> 4];
        hex[2 * i + 1] = digits[sha256[i] & 15];
    }
    hex[64] = 0;
}

omr_status_t omr_load_hash_file(const char *path, unsigned char sha256[32], long long *psize,
                                unsigned char *head, size_t *phead, omr_error_t *err)
{
    if (phead)
        *phead = 0;
    *psize = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return omr_error_set(err, OMR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    omr_status_t st = fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)
                          ? omr_error_set(err, OMR_EIO, "%s: not a regular file", path)
                          : omr_load_hash_fd(fd, path, sha256, psize, head, phead, err);
    close(fd);
    return st;
}

omr_status_t omr_load_hash_fd(int fd, const char *name, unsigned char sha256[32], long long *psize,
                              unsigned char *head, size_t *phead, omr_error_t *err)
{
    if (phead)
        *phead = 0;
    *psize = 0;
    /* 256 KiB reads: few system calls, and the chunk stays in the L2 cache
     * between read() and the hash. pread from 0: the fd's offset is shared
     * with the decoder's dup()s, so it is never relied on. */
    enum { CHUNK = 1 << 18 };
    unsigned char *tbuf = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!tbuf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        free(tbuf);
        EVP_MD_CTX_free(ctx);
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory (hash)", name);
    }
    long long total = 0;
    for (;;) {
        ssize_t n = pread(fd, tbuf, CHUNK, (off_t)total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(tbuf);
            EVP_MD_CTX_free(ctx);
            return omr_error_set(err, OMR_EIO, "%s: read failed after %lld bytes: %s", name,
                                 total, strerror(e));
        }
        if (n == 0)
            break;
        if (head && total < 16) {
            size_t k = (size_t)n < 16 - (size_t)total ? (size_t)n : 16 - (size_t)total;
            memcpy(head + total, tbuf, k);
            *phead = (size_t)total + k;
        }
        EVP_DigestUpdate(ctx, tbuf, (size_t)n);
        total += n;
    }
    free(tbuf);
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex(ctx, sha256, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return omr_error_set(err, OMR_EIO, "%s: SHA-256 failed", name);
    *psize = total;
    return OMR_OK;
}

int omr_load_stamp_fd(int fd, omr_load_stamp_t *stamp)
{
    struct stat sb;
    memset(stamp, 0, sizeof *stamp);
    if (fstat(fd, &sb) != 0)
        return -1;
    stamp->dev = (unsigned long long)sb.st_dev;
    stamp->ino = (unsigned long long)sb.st_ino;
    stamp->size = (long long)sb.st_size;
    stamp->mtime_s = (long long)sb.st_mtim.tv_sec;
    stamp->mtime_ns = (long long)sb.st_mtim.tv_nsec;
    return 0;
}

int omr_load_stamp_same(const omr_load_stamp_t *a, const omr_load_stamp_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_s == b->mtime_s &&
           a->mtime_ns == b->mtime_ns;
}

/* Hash the whole file and keep its first bytes for sniffing; for a file the
 * caller opened and hashed (omr_load_open_fd), only the first bytes are read. Returns OMR_OK, OMR_EIO
 * (cannot open/read) or OMR_EINPUT (empty file). */
static omr_status_t hash_file(omr_load_t *src, const char *path, unsigned char *head,
                              size_t *phead, omr_error_t *err)
{
    *phead = 0;
    long long total = 0;
    if (src->fd >= 0) {
        ssize_t n;
        do
            n = pread(src->fd, head, 16, 0);
        while (n < 0 && errno == EINTR);
        int e = errno;
        if (n < 0)
            return omr_error_set(err, OMR_EIO, "%s: read failed after 0 bytes: %s", path,
                                 strerror(e));
        *phead = (size_t)n;
        total = n;
        src->hash_ok = 1;
    } else {
        src->hash_ok = 0;
        omr_status_t st = omr_load_hash_file(path, src->sha256, &total, head, phead, err);
        if (st != OMR_OK)
            return st;
        src->hash_ok = 1;
    }
    if (total == 0)
        return omr_error_set(err, OMR_EINPUT, "%s: empty file (0 bytes): not an image", path);
    return OMR_OK;
}

static void fill_ident(const omr_load_t *src, const char *path, int page, omr_image_t *img)
{
    memset(img, 0, sizeof *img);
    snprintf(img->path, sizeof img->path, "%s", path);
    img->page = page;
    img->n_pages = src->n_pages;
    img->format = src->format;
    img->hash_ok = src->hash_ok;
    if (src->hash_ok) {
        memcpy(img->sha256, src->sha256, sizeof img->sha256);
        omr_load_sha256_hex(src->sha256, img->sha256_hex);
    }
}

/* ------------------------------------------------------------------ limits */

static omr_status_t check_size(const char *what, double w, double h, omr_error_t *err)
{
    if (w < 1 || h < 1)
        return omr_error_set(err, OMR_EINPUT, "%s: the header gives an empty image (%.0fx%.0f)",
                             what, w, h);
    if (w > OMR_LOAD_MAX_SIDE || h > OMR_LOAD_MAX_SIDE || w * h > OMR_LOAD_MAX_PIXELS)
        return omr_error_set(err, OMR_ELIMIT,
                             "%s: the header claims %.0fx%.0f pixels, over the limit of %d per "
                             "side and %.0f megapixels; refused before decoding",
                             what, w, h, OMR_LOAD_MAX_SIDE, OMR_LOAD_MAX_PIXELS / 1e6);
    return OMR_OK;
}

/* A resolution we believe; scanners write 0 or 1 when they do not know. */
static int sane_dpi(double dpi)
{
    return dpi >= 20 && dpi <= 10000 ? (int)lround(dpi) : 0;
}

/* -------------------------------------------------------------------- TIFF */

static const char *tiff_compression_name(uint16_t c)
{
    switch (c) {
    case COMPRESSION_NONE: return "none";
    case COMPRESSION_CCITTFAX4: return "g4";
    case COMPRESSION_CCITTFAX3: return "g3";
    case COMPRESSION_CCITTRLE: return "rle";
    case COMPRESSION_LZW: return "lzw";
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: return "deflate";
    case COMPRESSION_JPEG: return "jpeg";
    case COMPRESSION_OJPEG: return "ojpeg";
    case COMPRESSION_PACKBITS: return "packbits";
    default: return "other";
    }
}

/* Bitonal or grey, one sample, strips: decode strips straight into the PIX. */
static omr_status_t tiff_read_plain(omr_load_t *src, const char *what, uint32_t w, uint32_t h,
                                    int bps, PIX **ppix, omr_error_t *err)
{
    TIFF *tif = src->tif;
    uint32_t rps = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > h)
        rps = h;
    tmsize_t scan = TIFFScanlineSize(tif);
    if (scan <= 0 || (uint64_t)scan < ((uint64_t)w * (uint64_t)bps + 7) / 8)
        return omr_error_set(err, OMR_EINPUT, "%s: inconsistent row size: %s", what,
                             diag_text(src, "bad header"));
    PIX *pix = pixCreate((l_int32)w, (l_int32)h, bps);
    if (!pix)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory for %ux%u pixels", what, w, h);
    size_t strip_bytes = (size_t)rps * (size_t)scan;
    unsigned char *buf = malloc(strip_bytes);
    if (!buf) {
        pixDestroy(&pix);
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory for a strip", what);
    }
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    size_t copy = (size_t)scan < (size_t)wpl * 4 ? (size_t)scan : (size_t)wpl * 4;
    uint32_t nstrips = TIFFNumberOfStrips(tif);
    src->decoding = 1;
    omr_status_t st = OMR_OK;
    for (uint32_t s = 0, y0 = 0; y0 < h; s++, y0 += rps) {
        uint32_t rows = h - y0 < rps ? h - y0 : rps;
        if (s >= nstrips) {
            st = omr_error_set(err, OMR_EINPUT, "%s: %u strips for %u rows: damaged header", what,
                               nstrips, h);
            break;
        }
        tmsize_t got = TIFFReadEncodedStrip(tif, s, buf, (tmsize_t)rows * scan);
        if (got < 0 || src->decode_warned) {
            st = omr_error_set(err, OMR_EINPUT,
                               "%s: pixel data damaged or truncated (rows %u-%u of %u): %s", what,
                               y0 + 1, y0 + rows, h, diag_text(src, "read error"));
            break;
        }
        for (uint32_t r = 0; r < rows; r++)
            memcpy(data + (size_t)(y0 + r) * (size_t)wpl, buf + (size_t)r * (size_t)scan, copy);
    }
    src->decoding = 0;
    free(buf);
    if (st != OMR_OK) {
        pixDestroy(&pix);
        return st;
    }
    /* TIFF rows are bytes in reading order; Leptonica keeps 32-bit words in
     * host order with the leftmost pixel in the most significant byte. */
    pixEndianByteSwap(pix);
    *ppix = pix;
    return OMR_OK;
}

/* Anything else libtiff can render (palette, RGB, YCbCr JPEG, 16 bit, tiles,
 * planar): RGBA band by band (a strip, or a row of tiles), then luminance.
 * Rows come in the order they are stored, as tiff_read_plain gives them:
 * libtiff's RGBA reader would otherwise flip each band by the Orientation
 * tag (its TIFFReadRGBAStrip/Tile flip blocks in place, scrambling a page
 * tagged upside down), and tiff_decode handles the tag for both paths. */
static omr_status_t tiff_read_rgba(omr_load_t *src, const char *what, uint32_t w, uint32_t h,
                                   PIX **ppix, omr_error_t *err)
{
    TIFF *tif = src->tif;
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg))
        return omr_error_set(err, OMR_EUNSUPPORTED, "%s: pixel layout not supported: %s", what,
                             emsg);
    /* a band is one strip or one row of tiles: a smaller band would decode
     * a compressed strip again for every band */
    uint32_t th = h;
    if (TIFFIsTiled(tif)) {
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    } else {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        th = rps;
    }
    if (th == 0 || th > h)
        th = h;
    if ((uint64_t)w * th * 4 > MAX_RGBA_BYTES)
        return omr_error_set(err, OMR_EUNSUPPORTED,
                             "%s: colour page stored in %ux%u blocks, too big to convert", what,
                             w, th);
    TIFFRGBAImage ri;
    if (!TIFFRGBAImageBegin(&ri, tif, 1, emsg))
        return omr_error_set(err, OMR_EUNSUPPORTED, "%s: pixel layout not supported: %s", what,
                             emsg);
    ri.req_orientation = ORIENTATION_TOPLEFT;
    ri.orientation = ORIENTATION_TOPLEFT; /* the stored order, not the tag's */
    PIX *pix = pixCreate((l_int32)w, (l_int32)h, 8);
    uint32_t *raster = malloc((size_t)w * th * 4);
    if (!pix || !raster) {
        TIFFRGBAImageEnd(&ri);
        pixDestroy(&pix);
        free(raster);
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory for %ux%u pixels", what, w, h);
    }
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    omr_status_t st = OMR_OK;
    src->decoding = 1;
    for (uint32_t y0 = 0; y0 < h; y0 += th) {
        uint32_t rows = h - y0 < th ? h - y0 : th;
        ri.row_offset = (int)y0;
        ri.col_offset = 0;
        if (!TIFFRGBAImageGet(&ri, raster, w, rows) || src->decode_warned) {
            st = omr_error_set(err, OMR_EINPUT,
                               "%s: pixel data damaged or truncated (rows %u-%u of %u): %s",
                               what, y0 + 1, y0 + rows, h, diag_text(src, "read error"));
            break;
        }
        for (uint32_t r = 0; r < rows; r++) {
            const uint32_t *in = raster + (size_t)r * w;
            l_uint32 *line = data + (size_t)(y0 + r) * (size_t)wpl;
            for (uint32_t c = 0; c < w; c++) {
                uint32_t p = in[c];
                unsigned g = (77u * TIFFGetR(p) + 150u * TIFFGetG(p) + 29u * TIFFGetB(p) + 128u) >> 8;
                SET_DATA_BYTE(line, c, g);
            }
        }
    }
    src->decoding = 0;
    TIFFRGBAImageEnd(&ri);
    free(raster);
    if (st != OMR_OK) {
        pixDestroy(&pix);
        return st;
    }
    *ppix = pix;
    return OMR_OK;
}

/* The page as the Orientation tag says it is seen, up to a quarter turn:
 * identify and register find the page's rotation themselves (a sheet fed
 * upside down has no tag to say so), but a mirror image they cannot undo
 * (its corner marks are symmetric, its barcode reads backwards as well). So
 * a mirrored orientation (2, 4, 5, 7: each is a left-right flip of the
 * stored rows followed by a rotation) is flipped here; the rotations (3, 6,
 * 8) are left to them, which costs nothing. Rows and columns stay those
 * stored, so XResolution stays the horizontal resolution. */
static void tiff_unmirror(TIFF *tif, PIX *pix)
{
    uint16_t orient = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
    if (orient == ORIENTATION_TOPRIGHT || orient == ORIENTATION_BOTLEFT || orient == ORIENTATION_LEFTTOP ||
        orient == ORIENTATION_RIGHTBOT)
        pixFlipLR(pix, pix);
}

/* Square pixels from a scan whose vertical resolution differs from its
 * horizontal one (fax "standard" mode: 204 x 98 dpi): rows repeated or
 * dropped to the horizontal resolution, which the rest of the pipeline
 * takes for both. Nearest row: a bitonal page stays bitonal. *ppix is
 * replaced; on failure (out of memory) left as it was. */
static omr_status_t square_pixels(const char *what, omr_image_t *img, PIX **ppix, omr_error_t *err)
{
    if (img->dpi <= 0 || img->dpi_y <= 0 || abs(img->dpi - img->dpi_y) * 50 <= img->dpi)
        return OMR_OK; /* within 2 %: the registration's scale absorbs it */
    float sy = (float)img->dpi / (float)img->dpi_y;
    double tall = (double)pixGetHeight(*ppix) * sy;
    if (tall > OMR_LOAD_MAX_SIDE || tall * pixGetWidth(*ppix) > OMR_LOAD_MAX_PIXELS)
        return omr_error_set(err, OMR_EINPUT, "%s: %d x %d dpi: too tall once made square", what, img->dpi,
                             img->dpi_y);
    PIX *sq = pixScaleBySampling(*ppix, 1.0f, sy);
    if (!sq)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory making %d x %d dpi pixels square", what,
                             img->dpi, img->dpi_y);
    pixDestroy(ppix);
    *ppix = sq;
    img->dpi_y = img->dpi;
    return OMR_OK;
}

/* Decode the current directory of src->tif into img. */
static omr_status_t tiff_decode(omr_load_t *src, const char *what, omr_image_t *img,
                                omr_error_t *err)
{
    TIFF *tif = src->tif;
    uint32_t w = 0, h = 0;
    uint16_t bps = 1, spp = 1, photo = 0, comp = COMPRESSION_NONE, planar = PLANARCONFIG_CONTIG;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        return omr_error_set(err, OMR_EINPUT, "%s: no image size in the header: %s", what,
                             diag_text(src, "damaged header"));
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    int has_photo = TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
    if (!has_photo) /* bilevel files from fax software often omit it */
        photo = bps == 1 ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK;
    snprintf(img->compression, sizeof img->compression, "%s", tiff_compression_name(comp));
    img->source_depth = bps * spp;
    omr_status_t st = check_size(what, w, h, err);
    if (st != OMR_OK)
        return st;
    if (!TIFFIsCODECConfigured(comp))
        return omr_error_set(err, OMR_EUNSUPPORTED,
                             "%s: compression %u (%s) is not supported by this libtiff", what,
                             comp, img->compression);

    float xr = 0, yr = 0;
    uint16_t unit = RESUNIT_INCH;
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    if (TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr) && unit != RESUNIT_NONE) {
        if (!TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr))
            yr = xr;
        double k = unit == RESUNIT_CENTIMETER ? 2.54 : 1.0;
        img->dpi = sane_dpi(xr * k);
        img->dpi_y = sane_dpi(yr * k);
    }

    PIX *pix = NULL;
    int plain = !TIFFIsTiled(tif) && spp == 1 && (bps == 1 || bps == 8) &&
                (photo == PHOTOMETRIC_MINISWHITE || photo == PHOTOMETRIC_MINISBLACK);
    if (plain) {
        st = tiff_read_plain(src, what, w, h, bps, &pix, err);
        /* Leptonica: 1 bpp 1 = black (MINISWHITE), 8 bpp 0 = black (MINISBLACK). */
        if (st == OMR_OK && ((bps == 1) == (photo == PHOTOMETRIC_MINISBLACK)))
            pixInvert(pix, pix);
        if (st == OMR_OK && bps == 1)
            pixSetPadBits(pix, 0);
    } else {
        st = tiff_read_rgba(src, what, w, h, &pix, err);
    }
    if (st == OMR_OK) {
        tiff_unmirror(tif, pix);
        st = square_pixels(what, img, &pix, err);
    }
    if (st != OMR_OK) {
        pixDestroy(&pix);
        return st;
    }
    pixSetResolution(pix, img->dpi, img->dpi_y);
    img->pix = pix;
    return OMR_OK;
}

/* A new descriptor of the file to decode, positioned at its start: a dup()
 * of the caller's (omr_load_open_fd), so the bytes are those of the file
 * that was hashed even if the path now names another; else opened by path.
 * The decoder closes it. -1 with errno set on failure. */
static int decode_fd(const omr_load_t *src, const char *path)
{
    if (src->fd < 0)
        return open(path, O_RDONLY | O_CLOEXEC);
    int fd = fcntl(src->fd, F_DUPFD_CLOEXEC, 0);
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) { /* the offset is shared with src->fd */
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* decode_fd() as a stdio stream (PNG, JPEG). */
static FILE *decode_stream(const omr_load_t *src, const char *path)
{
    int fd = decode_fd(src, path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

static omr_status_t tiff_open(omr_load_t *src, const char *path, omr_error_t *err)
{
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", path);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_error_handler, src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_warning_handler, src);
    /* Bounds libtiff's own allocations (tag arrays, strip buffers) so a
     * forged header cannot make it take gigabytes before we look at it. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)512 << 20);
    int fd = decode_fd(src, path);
    if (fd < 0) {
        TIFFOpenOptionsFree(opts);
        return omr_error_set(err, OMR_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    src->tif = TIFFFdOpenExt(fd, path, "r", opts); /* TIFFClose closes fd; a failed open does not */
    TIFFOpenOptionsFree(opts);
    if (!src->tif) {
        close(fd);
        return omr_error_set(err, OMR_EINPUT,
                             "%s: TIFF header or first page directory unreadable; the file is "
                             "truncated or damaged (%s)",
                             path, diag_text(src, "unknown reason"));
    }
    /* Counting walks the directory chain; a damaged chain counts short, and
     * the iteration still tries to go further (see next_tiff_page()). */
    src->n_pages = (int)TIFFNumberOfDirectories(src->tif);
    if (src->n_pages < 1)
        src->n_pages = 1;
    if (!TIFFSetDirectory(src->tif, 0)) {
        TIFFClose(src->tif);
        src->tif = NULL;
        return omr_error_set(err, OMR_EINPUT, "%s: cannot read the first page: %s", path,
                             diag_text(src, "damaged header"));
    }
    diag_clear(src);
    return OMR_OK;
}

/* --------------------------------------------------------------------- PNG */

typedef struct {
    jmp_buf jb;
    char msg[256];
    png_structp png;
    png_infop info;
    FILE *f;
    PIX *pix;
} png_ctx_t;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    png_ctx_t *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    longjmp(ctx->jb, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* ancillary-chunk complaints; the pixels are fine */
}

/* The part of the PNG decode that may longjmp out: everything it allocates
 * lives in ctx so the caller can free it either way. */
static omr_status_t png_decode_inner(png_ctx_t *ctx, const char *what, omr_image_t *img,
                                     omr_error_t *err)
{
    png_structp png = ctx->png;
    png_infop info = ctx->info;
#ifdef PNG_IGNORE_ADLER32
    /* zlib's Adler-32 of the whole image costs ~7 % of a grey page's decode
     * and guards nothing more: every IDAT chunk carries a CRC-32 that libpng
     * still checks (a damaged file is still refused), and the file's content
     * hash is taken separately. */
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_init_io(png, ctx->f);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int bit_depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color, &interlace, NULL, NULL);
    img->source_depth = bit_depth * png_get_channels(png, info);
    snprintf(img->compression, sizeof img->compression, "png");
    omr_status_t st = check_size(what, w, h, err);
    if (st != OMR_OK)
        return st;
    png_uint_32 xres = 0, yres = 0;
    int unit = 0;
    if (png_get_pHYs(png, info, &xres, &yres, &unit) && unit == PNG_RESOLUTION_METER) {
        img->dpi = sane_dpi(xres * 0.0254);
        img->dpi_y = sane_dpi(yres * 0.0254);
    }
    int depth = 8;
    if (color == PNG_COLOR_TYPE_GRAY && bit_depth == 1) {
        depth = 1;
        png_set_invert_mono(png); /* PNG 0 = black; Leptonica 1 bpp 1 = black */
    } else {
        if (color == PNG_COLOR_TYPE_PALETTE)
            png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        if (bit_depth == 16)
            png_set_strip_16(png);
        if (color & PNG_COLOR_MASK_ALPHA)
            png_set_strip_alpha(png);
        if ((color & PNG_COLOR_MASK_COLOR) || color == PNG_COLOR_TYPE_PALETTE)
            png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    }
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    ctx->pix = pixCreate((l_int32)w, (l_int32)h, depth);
    if (!ctx->pix)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory for %ux%u pixels", what, w, h);
    l_uint32 *data = pixGetData(ctx->pix);
    int wpl = pixGetWpl(ctx->pix);
    if (png_get_rowbytes(png, info) > (size_t)wpl * 4)
        return omr_error_set(err, OMR_EUNSUPPORTED, "%s: unexpected PNG row layout", what);
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png, (png_bytep)(data + (size_t)y * (size_t)wpl), NULL);
    png_read_end(png, NULL);
    pixEndianByteSwap(ctx->pix);
    if (depth == 1)
        pixSetPadBits(ctx->pix, 0);
    pixSetResolution(ctx->pix, img->dpi, img->dpi_y);
    return OMR_OK;
}

static omr_status_t png_decode(const omr_load_t *src, const char *path, const char *what,
                               omr_image_t *img, omr_error_t *err)
{
    /* On the heap, like the JPEG context: what png_decode_inner() changes
     * after setjmp() must not live in this frame's automatic variables. */
    png_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", what);
    ctx->f = decode_stream(src, path);
    if (!ctx->f) {
        free(ctx);
        return omr_error_set(err, OMR_EIO, "%s: cannot open: %s", what, strerror(errno));
    }
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_error_fn, png_warning_fn);
    ctx->info = ctx->png ? png_create_info_struct(ctx->png) : NULL;
    omr_status_t st;
    if (!ctx->info) {
        st = omr_error_set(err, OMR_ENOMEM, "%s: out of memory", what);
    } else if (setjmp(ctx->jb)) {
        if (feof(ctx->f))
            st = omr_error_set(err, OMR_EINPUT,
                               "%s: truncated PNG: the file ends before the image is complete "
                               "(%s)",
                               what, ctx->msg);
        else
            st = omr_error_set(err, OMR_EINPUT, "%s: damaged PNG: %s", what, ctx->msg);
    } else {
        st = png_decode_inner(ctx, what, img, err);
    }
    png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL, NULL);
    fclose(ctx->f);
    if (st == OMR_OK)
        img->pix = ctx->pix;
    else
        pixDestroy(&ctx->pix);
    free(ctx);
    return st;
}

/* -------------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_err_t;

static void jpeg_error_exit_fn(j_common_ptr cinfo)
{
    jpeg_err_t *je = (jpeg_err_t *)cinfo->err;
    je->pub.format_message(cinfo, je->msg);
    longjmp(je->jb, 1);
}

static void jpeg_emit_fn(j_common_ptr cinfo, int level)
{
    jpeg_err_t *je = (jpeg_err_t *)cinfo->err;
    if (level >= 0)
        return; /* trace messages */
    /* Premature end of data: libjpeg pads the rest of the page with grey and
     * carries on; we refuse the page so it is reported, not half-read.
     * Other warnings ("extraneous bytes before marker") are harmless. */
    if (je->pub.msg_code == JWRN_JPEG_EOF && !je->truncated) {
        je->truncated = 1;
        je->pub.format_message(cinfo, je->msg);
    }
    je->pub.num_warnings++;
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_t jerr;
    FILE *f;
    PIX *pix;
} jpeg_ctx_t;

static omr_status_t jpeg_decode_inner(jpeg_ctx_t *ctx, const char *what, omr_image_t *img,
                                      omr_error_t *err)
{
    struct jpeg_decompress_struct *ci = &ctx->cinfo;
    jpeg_stdio_src(ci, ctx->f);
    jpeg_read_header(ci, TRUE);
    img->source_depth = 8 * ci->num_components;
    snprintf(img->compression, sizeof img->compression, "jpeg");
    omr_status_t st = check_size(what, ci->image_width, ci->image_height, err);
    if (st != OMR_OK)
        return st;
    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
        return omr_error_set(err, OMR_EUNSUPPORTED, "%s: CMYK JPEG is not supported; scan in "
                                                    "grey or RGB", what);
    if (ci->saw_JFIF_marker && ci->density_unit == 1) {
        img->dpi = sane_dpi(ci->X_density);
        img->dpi_y = sane_dpi(ci->Y_density);
    } else if (ci->saw_JFIF_marker && ci->density_unit == 2) {
        img->dpi = sane_dpi(ci->X_density * 2.54);
        img->dpi_y = sane_dpi(ci->Y_density * 2.54);
    }
    /* Grey output: for YCbCr libjpeg just takes Y, skipping the colour
     * conversion; the integer IDCT is the accurate default. */
    ci->out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(ci);
    ctx->pix = pixCreate((l_int32)ci->output_width, (l_int32)ci->output_height, 8);
    if (!ctx->pix)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", what);
    l_uint32 *data = pixGetData(ctx->pix);
    int wpl = pixGetWpl(ctx->pix);
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW rows[16];
        int n = 0;
        for (; n < 16 && ci->output_scanline + (unsigned)n < ci->output_height; n++)
            rows[n] = (JSAMPROW)(data + (size_t)(ci->output_scanline + n) * (size_t)wpl);
        if (jpeg_read_scanlines(ci, rows, (JDIMENSION)n) == 0)
            break;
    }
    if (ctx->jerr.truncated)
        return omr_error_set(err, OMR_EINPUT, "%s: truncated JPEG: %s", what, ctx->jerr.msg);
    jpeg_finish_decompress(ci);
    pixEndianByteSwap(ctx->pix);
    pixSetResolution(ctx->pix, img->dpi, img->dpi_y);
    return OMR_OK;
}

static omr_status_t jpeg_decode(const omr_load_t *src, const char *path, const char *what,
                                omr_image_t *img, omr_error_t *err)
{
    jpeg_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", what);
    ctx->f = decode_stream(src, path);
    if (!ctx->f) {
        free(ctx);
        return omr_error_set(err, OMR_EIO, "%s: cannot open: %s", what, strerror(errno));
    }
    ctx->cinfo.err = jpeg_std_error(&ctx->jerr.pub);
    ctx->jerr.pub.error_exit = jpeg_error_exit_fn;
    ctx->jerr.pub.emit_message = jpeg_emit_fn;
    omr_status_t st;
    if (setjmp(ctx->jerr.jb)) {
        st = omr_error_set(err, OMR_EINPUT, "%s: damaged JPEG: %s", what, ctx->jerr.msg);
    } else {
        jpeg_create_decompress(&ctx->cinfo);
        st = jpeg_decode_inner(ctx, what, img, err);
    }
    jpeg_destroy_decompress(&ctx->cinfo);
    fclose(ctx->f);
    if (st == OMR_OK)
        img->pix = ctx->pix;
    else
        pixDestroy(&ctx->pix);
    free(ctx);
    return st;
}

/* --------------------------------------------------------------- iterating */

static void close_file(omr_load_t *src)
{
    if (src->tif)
        TIFFClose(src->tif);
    src->tif = NULL;
    src->is_open = 0;
}

/* Open file src->cur: hash it, find its format, open a TIFF. On failure the
 * whole file is reported (img has path and hash) and not opened. */
static omr_status_t open_file(omr_load_t *src, omr_image_t *img, omr_error_t *err)
{
    const entry_t *e = &src->files[src->cur];
    src->format = OMR_FORMAT_UNKNOWN;
    src->n_pages = 0;
    src->page = 0;
    src->hash_ok = 0;
    src->first_done = 0;
    diag_clear(src);
    fill_ident(src, e->path, 0, img);
    if (e->status != OMR_OK)
        return omr_error_set(err, e->status, "%s: %s", e->path, e->msg ? e->msg : "unreadable");
    unsigned char head[16];
    size_t nhead = 0;
    omr_status_t st = hash_file(src, e->path, head, &nhead, err);
    fill_ident(src, e->path, 0, img);
    if (st != OMR_OK)
        return st;
    src->format = omr_load_sniff(head, nhead);
    img->format = src->format;
    if (src->format == OMR_FORMAT_UNKNOWN) {
        char shown[17];
        size_t k = 0;
        for (; k < nhead && k < 16; k++)
            shown[k] = isprint(head[k]) ? (char)head[k] : '.';
        shown[k] = '\0';
        return omr_error_set(err, OMR_EINPUT,
                             "%s: not a TIFF, PNG or JPEG image (the file starts with \"%s\")",
                             e->path, shown);
    }
    if (src->format == OMR_FORMAT_TIFF) {
        st = tiff_open(src, e->path, err);
        if (st != OMR_OK)
            return st;
    } else {
        src->n_pages = 1;
    }
    src->is_open = 1;
    img->n_pages = src->n_pages;
    return OMR_OK;
}

/* Decode page src->page of the open file; moves the TIFF to that directory
 * first. A directory that cannot be read ends the file (the chain is broken,
 * nothing after it can be found). */
static omr_status_t decode_page(omr_load_t *src, omr_image_t *img, omr_error_t *err)
{
    const char *path = src->files[src->cur].path;
    char what[4200];
    if (src->n_pages > 1 || src->format == OMR_FORMAT_TIFF)
        snprintf(what, sizeof what, "%s page %d", path, src->page + 1);
    else
        snprintf(what, sizeof what, "%s", path);
    fill_ident(src, path, src->page, img);
    diag_clear(src);
    if (src->format == OMR_FORMAT_PNG) {
        close_file(src);
        return png_decode(src, path, what, img, err);
    }
    if (src->format == OMR_FORMAT_JPEG) {
        close_file(src);
        return jpeg_decode(src, path, what, img, err);
    }
    if (src->first_done) {
        if (TIFFLastDirectory(src->tif)) {
            close_file(src);
            return OMR_ENOTFOUND; /* no page here: the caller moves on */
        }
        if (!TIFFReadDirectory(src->tif)) {
            close_file(src);
            if (img->page >= img->n_pages)
                img->n_pages = img->page + 1;
            return omr_error_set(err, OMR_EINPUT,
                                 "%s: cannot read this page; the file is truncated or damaged "
                                 "here (%s); earlier pages were read",
                                 what, diag_text(src, "broken directory chain"));
        }
        diag_clear(src);
    }
    src->first_done = 1;
    uint32_t subfile = 0;
    if (TIFFGetField(src->tif, TIFFTAG_SUBFILETYPE, &subfile) && (subfile & (FILETYPE_REDUCEDIMAGE | FILETYPE_MASK)))
        /* a thumbnail or mask of a page, not a page: omr_load_next goes on;
         * omr_load_page asked for it by number, and is told why not */
        return omr_error_set(err, OMR_ENOTFOUND, "%s: not a page but a reduced copy or mask of one", what);
    if (src->page + 1 > src->n_pages) {
        src->n_pages = src->page + 1; /* the count at open fell short */
        img->n_pages = src->n_pages;
    }
    return tiff_decode(src, what, img, err);
}

omr_status_t omr_load_next(omr_load_t *src, omr_image_t *img, omr_error_t *err)
{
    for (;;) {
        if (!src->is_open) {
            if (src->cur + 1 >= src->n_files) {
                memset(img, 0, sizeof *img);
                return OMR_ENOTFOUND;
            }
            src->cur++;
            omr_status_t st = open_file(src, img, err);
            if (st != OMR_OK)
                return st;
        }
        omr_status_t st = decode_page(src, img, err);
        src->page++;
        if (st == OMR_ENOTFOUND)
            continue;
        return st;
    }
}

void omr_load_skip_file(omr_load_t *src)
{
    if (src)
        close_file(src);
}

void omr_load_close(omr_load_t *src)
{
    if (!src)
        return;
    close_file(src);
    for (int i = 0; i < src->n_files; i++) {
        free(src->files[i].path);
        free(src->files[i].msg);
    }
    free(src->files);
    free(src);
}

void omr_image_clear(omr_image_t *img)
{
    if (!img)
        return;
    pixDestroy(&img->pix);
    memset(img, 0, sizeof *img);
}

static omr_status_t load_one_page(omr_load_t *src, const char *path, int page, omr_image_t *img,
                                  omr_error_t *err);

omr_status_t omr_load_page(const char *path, int page, omr_image_t *img, omr_error_t *err)
{
    memset(img, 0, sizeof *img);
    omr_load_t *src = NULL;
    omr_status_t st = omr_load_open(path, &src, err);
    if (st != OMR_OK)
        return st;
    return load_one_page(src, path, page, img, err);
}

omr_status_t omr_load_page_fd(const char *path, int fd, int page, omr_image_t *img, omr_error_t *err)
{
    memset(img, 0, sizeof *img);
    omr_load_t *src = NULL;
    omr_status_t st = omr_load_open_fd(path, fd, NULL, &src, err);
    if (st != OMR_OK)
        return st;
    st = load_one_page(src, path, page, img, err);
    img->hash_ok = 0; /* not hashed here: the caller knows the file */
    memset(img->sha256, 0, sizeof img->sha256);
    img->sha256_hex[0] = '\0';
    return st;
}

/* Page `page` of the iterator's one file; closes src. */
static omr_status_t load_one_page(omr_load_t *src, const char *path, int page, omr_image_t *img,
                                  omr_error_t *err)
{
    src->cur = 0;
    omr_status_t st = open_file(src, img, err);
    if (st == OMR_OK && page > 0) {
        if (src->format != OMR_FORMAT_TIFF || !TIFFSetDirectory(src->tif, (tdir_t)page)) {
            st = omr_error_set(err, OMR_ENOTFOUND, "%s: no page %d (%d page(s) found): %s", path,
                               page + 1, src->n_pages, diag_text(src, "no such page"));
        } else {
            src->page = page;
            src->first_done = 0;
        }
    }
    if (st == OMR_OK)
        st = decode_page(src, img, err);
    omr_load_close(src);
    return st;
}
