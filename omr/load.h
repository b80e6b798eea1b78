/* load.h -- stage 1 of the scan pipeline: turn input files into page images.
 *
 * Input:  paths of files or folders given to `omr scan`. A folder is walked
 *         recursively, entries sorted by name (bytewise), keeping files whose
 *         extension (.tif .tiff .png .jpg .jpeg, any case) or first bytes say
 *         they are images; names starting with '.' are skipped.
 * Output: one omr_image_t per page, in order: multi-page TIFF (G4, G3, LZW,
 *         Deflate, PackBits, JPEG, none; 1-bit, grey, palette, RGB), PNG, JPEG.
 *         A bitonal page stays 1 bpp (Leptonica convention, 1 = black): the
 *         later stages sample it directly, which is much faster than expanding
 *         it. Anything else becomes 8 bpp grey (0 = black, 255 = white).
 *
 * Bad input never stops the iteration: a file or page that cannot be read is
 * reported by omr_load_next() as one failed page (OMR_EINPUT, OMR_ELIMIT,
 * OMR_EIO, OMR_EUNSUPPORTED with "file page N: reason"), and the next call
 * goes on with the next page or file. Pages of a truncated TIFF before the
 * damage are yielded normally. Library messages (libtiff, libpng, libjpeg)
 * end up in the error text, never on stderr.
 *
 * Typical loop:
 *     omr_load_t *src; omr_image_t img; omr_error_t err;
 *     if (omr_load_open_paths(paths, n, &src, &err)) fail(err.msg);
 *     omr_status_t st;
 *     while ((st = omr_load_next(src, &img, &err)) != OMR_ENOTFOUND) {
 *         if (st == OMR_OK) process(&img); else record(&img, &err);
 *         omr_image_clear(&img);
 *     }
 *     omr_load_close(src);
 *
 * Not thread-safe per iterator; separate iterators may run in separate threads.
 */
#ifndef OMR_LOAD_H
#define OMR_LOAD_H

#include <stdint.h>

#include <leptonica/allheaders.h>

#include "omr.h"

/* Safety limits, checked from the header before any pixel memory is taken.
 * 20000 px is 1.7 m at 300 dpi or 0.85 m at 600 dpi, far beyond any sheet
 * a document scanner takes; 400 MP is an A0 page at 600 dpi. */
#define OMR_LOAD_MAX_SIDE 20000
#define OMR_LOAD_MAX_PIXELS 400000000.0

/* Input formats, as found from the file's first bytes (not its name). */
typedef enum {
    OMR_FORMAT_UNKNOWN = 0,
    OMR_FORMAT_TIFF,
    OMR_FORMAT_PNG,
    OMR_FORMAT_JPEG
} omr_format_t;

/* One page. Filled by omr_load_next() on success and, as far as known, on a
 * failed page too (path, page, hash), so the failure can be stored against
 * its source. Owns pix; release with omr_image_clear(). */
typedef struct {
    PIX *pix;              /* 1 bpp (1 = black) or 8 bpp grey; NULL on a failed page.
                              Owned: take it (set to NULL) or omr_image_clear(). */
    char path[4096];       /* the file, as given or as found in the folder */
    int page;              /* 0-based page index within the file */
    int n_pages;           /* pages in the file (TIFF: directories counted at open;
                              may be more than can be read when the file is damaged) */
    int dpi;               /* horizontal resolution from the file, 0 when unknown */
    int dpi_y;             /* vertical resolution, 0 when unknown */
    omr_format_t format;
    char compression[16];  /* "g4", "g3", "lzw", "deflate", "jpeg", "packbits", "none", "png" */
    int source_depth;      /* bits per pixel in the file (1, 8, 24, ...) */
    unsigned char sha256[32]; /* content hash of the whole file (all bytes), for the store */
    char sha256_hex[65];
    int hash_ok;           /* sha256 is valid (the file could be read) */
} omr_image_t;

typedef struct omr_load omr_load_t;

/* Start iterating over one file or folder. Equivalent to
 * omr_load_open_paths(&path, 1, ...). */
omr_status_t omr_load_open(const char *path, omr_load_t **psrc, omr_error_t *err);

/* Iterate over the pages of one file the caller has open (fd, a regular
 * file, borrowed: not closed here) and has hashed (omr_load_hash_fd):
 * every byte is read from fd, never again by path, so the pages decoded are
 * the bytes hashed even if the path is replaced meanwhile (a scanner writing
 * the next scan0001.tif). path only names the file in messages. img->sha256
 * is the given digest (NULL: zero). */
omr_status_t omr_load_open_fd(const char *path, int fd, const unsigned char sha256[32],
                              omr_load_t **psrc, omr_error_t *err);

/* omr_load_hash_file() of an open regular file, from its first byte (pread:
 * fd's offset is not used); name is for messages. */
omr_status_t omr_load_hash_fd(int fd, const char *name, unsigned char sha256[32], long long *psize,
                              unsigned char *head, size_t *phead, omr_error_t *err);

/* What tells, without reading them, that a file's bytes are still those
 * that were read: the file (device, inode), its size and modification time.
 * A write in place changes size or mtime; a new file under the same name is
 * another inode. */
typedef struct {
    unsigned long long dev, ino;
    long long size;
    long long mtime_s, mtime_ns;
} omr_load_stamp_t;

/* The stamp of an open file. 0, or -1 with errno set. */
int omr_load_stamp_fd(int fd, omr_load_stamp_t *stamp);

/* 1 when both stamps are of the same bytes. */
int omr_load_stamp_same(const omr_load_stamp_t *a, const omr_load_stamp_t *b);

/* SHA-256 of every byte of a regular file (OpenSSL; the same digest as any
 * other SHA-256). *psize gets the byte count; head (optional, 16 bytes)
 * gets the first bytes and *phead how many. Returns OMR_OK, OMR_EIO (cannot
 * open or read, not a regular file) or OMR_ENOMEM, with *err naming path. */
omr_status_t omr_load_hash_file(const char *path, unsigned char sha256[32], long long *psize,
                                unsigned char *head, size_t *phead, omr_error_t *err);

/* The lowercase hex of a SHA-256 (64 characters and a NUL): how the store
 * keeps a file's identity. */
void omr_load_sha256_hex(const unsigned char sha256[32], char hex[65]);

/* Call fn(ctx, path, size) for every image file under folder dir, the
 * files omr scan reads from a folder: a regular file whose name (.tif,
 * .tiff, .png, .jpg, .jpeg) or first bytes say image. Names starting with
 * '.' are skipped; names sorted bytewise, depth first; at most 32 levels;
 * a folder reached again through a link to one above it (a loop) is not
 * read again. An entry named as an image that cannot be read (a link to a
 * file that is gone) is passed with size -1, so the caller reports it;
 * folders that cannot be read are passed over. fn returns nonzero to stop
 * the walk; returned here, 0 when the walk ended. */
int omr_load_walk_images(const char *dir, int (*fn)(void *ctx, const char *path, long long size), void *ctx);

/* Start iterating over several files or folders, in the given order. The
 * list of files is made here (folders walked now); files are opened one at a
 * time by omr_load_next(). A path that does not exist or a folder that cannot
 * be read is not an error here: it comes out of omr_load_next() as a failed
 * entry in its place, so one bad argument does not stop the batch.
 * On success *psrc is owned by the caller (omr_load_close()). Fails only for
 * out of memory (OMR_ENOMEM) or n_paths < 1 (OMR_EINPUT). */
omr_status_t omr_load_open_paths(const char *const *paths, int n_paths, omr_load_t **psrc,
                                 omr_error_t *err);

/* Number of files (and unreadable entries) the iterator will go through. */
int omr_load_count_files(const omr_load_t *src);

/* Next page. Returns:
 *   OMR_OK         *img filled, img->pix owned by the caller;
 *   OMR_ENOTFOUND  no more pages (img cleared, err untouched);
 *   other          this page or file failed: *err says "file page N: reason"
 *                  (N counted from 1 for people; page omitted when the whole
 *                  file failed), img has path,
 *                  page, and hash where known, pix NULL. Call again to go on.
 * *img is overwritten without freeing: clear the previous one first. */
omr_status_t omr_load_next(omr_load_t *src, omr_image_t *img, omr_error_t *err);

/* Skip the remaining pages of the file of the last page returned (e.g. the
 * store already holds that file, known by its hash). */
void omr_load_skip_file(omr_load_t *src);

/* Close the iterator; NULL is allowed. */
void omr_load_close(omr_load_t *src);

/* Free img->pix and zero the record; NULL is allowed. */
void omr_image_clear(omr_image_t *img);

/* Read a single page of one file (page 0-based) without an iterator: for
 * tools and the review UI. *ppix owned by the caller. */
omr_status_t omr_load_page(const char *path, int page, omr_image_t *img, omr_error_t *err);

/* The same from a file the caller has open and has checked (fd borrowed, as
 * for omr_load_open_fd); the file is not hashed (img->hash_ok 0). */
omr_status_t omr_load_page_fd(const char *path, int fd, int page, omr_image_t *img, omr_error_t *err);

/* Format of a buffer holding the first bytes of a file (n >= 8 to be sure). */
omr_format_t omr_load_sniff(const unsigned char *head, size_t n);

#endif
