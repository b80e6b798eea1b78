/* review_files.c -- where a page's scanned file is now, and proof that it is
 * still the file that was scanned (review.h; omr_review_files_load in
 * review_internal.h).
 *
 * The store keeps each scanned file's path and its SHA-256. Between the
 * nightly scan and the review the scans may have been moved to an archive,
 * the review started from another folder (an old store's relative paths),
 * or a scanner that reuses its names (scan0001.tif every night) may have
 * written the next batch over them. An operator deciding a mark while
 * looking at another respondent's sheet is the worst error a review can
 * make, and a page assigned by an operator is read again from its file: so
 * no page is shown or read from a file whose SHA-256 is not the stored one.
 *
 * A file found right is remembered with its stamp (load.h: device, inode,
 * size, modification time); a later load only stat()s it, and hashes it
 * again when the stamp changed (the hash of a G4 packet takes ~1 ms, of a
 * 300-dpi grey PNG page ~20 ms). A page is decoded from the descriptor
 * whose stamp was checked, and the stamp is checked again after the
 * decode: a file written over in the meantime is refused, never shown. When
 * the stored path is gone or holds other bytes, the folders given with
 * `omr review --images DIR` are searched: their image files
 * (omr_load_walk_images) listed once (again on a miss,
 * at most every RESCAN_S seconds, for scans copied in meanwhile), then the
 * files of the stored size hashed, those with the stored name first, until
 * one matches. The file is not copied anywhere: the scans stay the
 * office's archive.
 *
 * One mutex guards the lists; hashing happens under it (rare: once per
 * file, and then only after a change), which keeps two requests from
 * hashing the same file twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load.h"
#include "review_internal.h"

#define RESCAN_S 30       /* a miss walks the folders again after this long */
#define MAX_ENTRIES 2000000
#define MAX_HASHES 64     /* same-size candidates hashed for one file */

typedef struct {
    long long file_id;
    char *path;           /* where the file was found right */
    omr_load_stamp_t stamp; /* of its bytes when they were hashed */
} known_t;

typedef struct {
    char *path;
    long long size;
} entry_t;

struct omr_review_files {
    pthread_mutex_t lock;
    char **dirs;
    int n_dirs;
    known_t *known;
    int n_known, cap_known;
    entry_t *entries;     /* the files under dirs, as last walked */
    int n_entries, cap_entries;
    time_t walked_at;     /* 0: never walked */
};

omr_review_files_t *omr_review_files_new(const char *const *dirs, int n_dirs)
{
    omr_review_files_t *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    pthread_mutex_init(&fs->lock, NULL);
    if (n_dirs > 0 && !(fs->dirs = calloc((size_t)n_dirs, sizeof *fs->dirs))) {
        omr_review_files_free(fs);
        return NULL;
    }
    for (int i = 0; i < n_dirs; i++) {
        if (!(fs->dirs[i] = strdup(dirs[i]))) {
            omr_review_files_free(fs);
            return NULL;
        }
        fs->n_dirs++;
    }
    return fs;
}

static void forget_entries(omr_review_files_t *fs)
{
    for (int i = 0; i < fs->n_entries; i++)
        free(fs->entries[i].path);
    fs->n_entries = 0;
}

void omr_review_files_free(omr_review_files_t *fs)
{
    if (!fs)
        return;
    for (int i = 0; i < fs->n_dirs; i++)
        free(fs->dirs[i]);
    free(fs->dirs);
    for (int i = 0; i < fs->n_known; i++)
        free(fs->known[i].path);
    free(fs->known);
    forget_entries(fs);
    free(fs->entries);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

/* ---- the files under the --images folders ---- */

/* Make room for one more element of *pa (elem bytes each; *pcap doubles
 * from 64). 0, or -1 when out of memory (*pa unchanged). */
static int grow(void *pa, int n, int *pcap, size_t elem)
{
    if (n < *pcap)
        return 0;
    int cap = *pcap ? 2 * *pcap : 64;
    void *p = realloc(*(void **)pa, (size_t)cap * elem);
    if (!p)
        return -1;
    *(void **)pa = p;
    *pcap = cap;
    return 0;
}

/* omr_load_walk_images callback: one image file under a folder. */
static int add_entry(void *ctx, const char *path, long long size)
{
    omr_review_files_t *fs = ctx;
    char *p;
    if (size < 0)
        return 0; /* a name that cannot be read (a dangling link): nothing to find there */
    if (fs->n_entries >= MAX_ENTRIES || grow(&fs->entries, fs->n_entries, &fs->cap_entries, sizeof *fs->entries) ||
        !(p = strdup(path)))
        return -1;
    fs->entries[fs->n_entries++] = (entry_t){p, size};
    return 0;
}

/* The image files under the folders, as omr scan would read them (load.h). */
static void walk_dirs(omr_review_files_t *fs)
{
    forget_entries(fs);
    for (int i = 0; i < fs->n_dirs; i++)
        omr_load_walk_images(fs->dirs[i], add_entry, fs);
    fs->walked_at = time(NULL);
}

/* ---- checking one file ---- */

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

enum { FILE_RIGHT, FILE_ABSENT, FILE_OTHER };

/* Is the open file fd the scanned file f (its size, when the store has
 * one, then its SHA-256)? *stamp gets its stamp, taken before the hash. */
static int check_fd(int fd, const char *path, const omr_store_file_t *f, omr_load_stamp_t *stamp)
{
    if (omr_load_stamp_fd(fd, stamp))
        return FILE_ABSENT;
    if (f->size > 0 && stamp->size != f->size)
        return FILE_OTHER;
    unsigned char md[32];
    long long size;
    omr_error_t err = {0};
    if (omr_load_hash_fd(fd, path, md, &size, NULL, NULL, &err))
        return FILE_ABSENT;
    char hex[65];
    omr_load_sha256_hex(md, hex);
    return strcmp(hex, f->sha256) ? FILE_OTHER : FILE_RIGHT;
}

/* path opened for reading if it is a regular file, else -1. O_NONBLOCK: a
 * pipe put where a scan was must not hang the server (it holds the lock). */
static int open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* check_fd() of the file at path. */
static int check_file(const char *path, const omr_store_file_t *f, omr_load_stamp_t *stamp)
{
    int fd = open_regular(path);
    if (fd < 0)
        return FILE_ABSENT;
    int r = check_fd(fd, path, f, stamp);
    close(fd);
    return r;
}

static known_t *known_of(omr_review_files_t *fs, long long file_id)
{
    for (int i = 0; i < fs->n_known; i++)
        if (fs->known[i].file_id == file_id)
            return &fs->known[i];
    return NULL;
}

/* Remember (or correct) where file_id was found right. Out of memory: not
 * remembered, so checked again next time. */
static void remember(omr_review_files_t *fs, long long file_id, const char *path, const omr_load_stamp_t *stamp)
{
    char *p = strdup(path);
    if (!p)
        return;
    known_t *k = known_of(fs, file_id);
    if (!k) {
        if (grow(&fs->known, fs->n_known, &fs->cap_known, sizeof *fs->known)) {
            free(p);
            return;
        }
        k = &fs->known[fs->n_known++];
        memset(k, 0, sizeof *k);
        k->file_id = file_id;
    }
    free(k->path);
    k->path = p;
    k->stamp = *stamp;
}

/* Still the same bytes as when found right: the same stamp. */
static int unchanged(const known_t *k)
{
    int fd = open_regular(k->path);
    if (fd < 0)
        return 0;
    omr_load_stamp_t now;
    int same = !omr_load_stamp_fd(fd, &now) && omr_load_stamp_same(&now, &k->stamp);
    close(fd);
    return same;
}

/* The --images folders' file that is f, or -1: same size, the same name
 * tried first. Returns an index into fs->entries. */
static int search_dirs(omr_review_files_t *fs, const omr_store_file_t *f, omr_load_stamp_t *st)
{
    const char *want = base_name(f->path);
    int hashed = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < fs->n_entries && hashed < MAX_HASHES; i++) {
            const entry_t *e = &fs->entries[i];
            if (f->size > 0 && e->size != f->size)
                continue;
            if ((strcmp(base_name(e->path), want) == 0) != (pass == 0))
                continue;
            hashed++;
            if (check_file(e->path, f, st) == FILE_RIGHT)
                return i;
        }
    return -1;
}

omr_status_t omr_review_files_locate(omr_review_files_t *fs, const omr_store_file_t *f, char *out, size_t n,
                                     omr_scan_where_t *pwhere, omr_error_t *err)
{
    omr_scan_where_t where_dummy;
    omr_scan_where_t *where = pwhere ? pwhere : &where_dummy;
    pthread_mutex_lock(&fs->lock);
    known_t *k = known_of(fs, f->id);
    if (k && unchanged(k)) {
        snprintf(out, n, "%s", k->path);
        *where = strcmp(k->path, f->path) ? OMR_SCAN_MOVED : OMR_SCAN_AT_PATH;
        pthread_mutex_unlock(&fs->lock);
        return OMR_OK;
    }
    omr_load_stamp_t st;
    int at_path = check_file(f->path, f, &st);
    if (at_path == FILE_RIGHT) {
        remember(fs, f->id, f->path, &st);
        snprintf(out, n, "%s", f->path);
        *where = OMR_SCAN_AT_PATH;
        pthread_mutex_unlock(&fs->lock);
        return OMR_OK;
    }
    int found = -1;
    if (fs->n_dirs > 0) {
        if (!fs->walked_at)
            walk_dirs(fs);
        found = search_dirs(fs, f, &st);
        if (found < 0 && time(NULL) - fs->walked_at >= RESCAN_S) {
            walk_dirs(fs);
            found = search_dirs(fs, f, &st);
        }
    }
    if (found >= 0) {
        remember(fs, f->id, fs->entries[found].path, &st);
        snprintf(out, n, "%s", fs->entries[found].path);
        *where = OMR_SCAN_MOVED;
        pthread_mutex_unlock(&fs->lock);
        return OMR_OK;
    }
    const int n_dirs = fs->n_dirs;
    pthread_mutex_unlock(&fs->lock);
    const char *also = n_dirs ? "; not found in the --images folders either" : "";
    if (at_path == FILE_ABSENT) {
        *where = OMR_SCAN_GONE;
        return omr_error_set(err, OMR_ENOTFOUND,
                             "the scanned file %s is not there any more (moved or deleted since the scan)%s: "
                             "start 'omr review' with --images DIR, the folder the scans are in now",
                             f->path, also);
    }
    *where = OMR_SCAN_CHANGED;
    return omr_error_set(err, OMR_ENOTFOUND,
                         "%s is not the file that was scanned (its SHA-256 differs: another scan written over "
                         "it?)%s: the page is not shown rather than show another sheet; start 'omr review' with "
                         "--images DIR, the folder that holds the scan as it was",
                         f->path, also);
}

/* Is the open file fd (at path, stamp) the file f? Yes when it is the one
 * remembered as found right, else after hashing it (and then remembered). */
static int verify_open(omr_review_files_t *fs, const omr_store_file_t *f, int fd, const char *path,
                       const omr_load_stamp_t *stamp)
{
    pthread_mutex_lock(&fs->lock);
    known_t *k = known_of(fs, f->id);
    int right = k && !strcmp(k->path, path) && omr_load_stamp_same(&k->stamp, stamp);
    if (!right) {
        omr_load_stamp_t hashed;
        right = check_fd(fd, path, f, &hashed) == FILE_RIGHT && omr_load_stamp_same(&hashed, stamp);
        if (right)
            remember(fs, f->id, path, stamp);
    }
    pthread_mutex_unlock(&fs->lock);
    return right;
}

static omr_status_t changed_while_read(const char *path, omr_error_t *err)
{
    return omr_error_set(err, OMR_ENOTFOUND,
                         "%s changed while the page was being read (another scan written over it?): the page "
                         "is not shown; try again, or start 'omr review' with --images DIR, the folder that "
                         "holds the scan as it was",
                         path);
}

/* Forget where file_id was found right: the next locate checks it anew. */
static void forget(omr_review_files_t *fs, long long file_id)
{
    pthread_mutex_lock(&fs->lock);
    known_t *k = known_of(fs, file_id);
    if (k) {
        free(k->path);
        *k = fs->known[--fs->n_known];
    }
    pthread_mutex_unlock(&fs->lock);
}

omr_status_t omr_review_files_load(omr_review_files_t *fs, const omr_review_page_t *pg, omr_image_t *img,
                                   omr_error_t *err)
{
    memset(img, 0, sizeof *img);
    const omr_store_file_t f = {pg->file_id, pg->path, pg->sha256, pg->size};
    char path[4096];
    /* Decoded from the descriptor whose bytes are checked, and checked again
     * after: a file replaced or written over between the locate and the
     * decode is never shown. Located a second time after such a change, so
     * the reason given is the locate's (moved, gone, written over). */
    for (int attempt = 0; attempt < 2; attempt++) {
        omr_status_t rc = omr_review_files_locate(fs, &f, path, sizeof path, NULL, err);
        if (rc)
            return rc;
        int fd = open_regular(path);
        omr_load_stamp_t before, after;
        if (fd >= 0 && !omr_load_stamp_fd(fd, &before) && verify_open(fs, &f, fd, path, &before)) {
            rc = omr_load_page_fd(path, fd, pg->idx, img, err);
            int same = !omr_load_stamp_fd(fd, &after) && omr_load_stamp_same(&before, &after);
            close(fd);
            if (same || rc != OMR_OK)
                return rc;
            omr_image_clear(img);
        } else if (fd >= 0) {
            close(fd);
        }
        forget(fs, f.id);
    }
    return changed_while_read(path, err);
}
