/* fuzz.h -- helpers shared by the fuzz targets in tests/fuzz/.
 *
 * Each tests/fuzz/fuzz_<input>.c defines LLVMFuzzerTestOneInput() for one
 * kind of untrusted input. It is linked either with libFuzzer (tools/fuzz.sh,
 * clang -fsanitize=fuzzer) or with tests/fuzz/standalone_main.c, which feeds
 * the saved corpus tests/fuzz/corpus/<input>/ to the same function (CI replay,
 * tests/fuzz_replay.sh). A target returns 0 for every input; a bug shows up as
 * a sanitizer report or an abort() from a broken invariant (fuzz_check()).
 *
 * Several targets go through files (the loaders take paths): fuzz_dir() makes
 * one private scratch folder per process, in /dev/shm when it exists so the
 * per-input writes stay in memory, and removes it at exit. A process killed
 * by a crash cannot clean up, so tools/fuzz.sh puts these folders under its
 * own $OMR_FUZZ_TMP and removes that at the end.
 */
#ifndef OMR_FUZZ_H
#define OMR_FUZZ_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A broken invariant: say which and abort, so libFuzzer saves the input. */
#define fuzz_check(cond)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

static char fuzz_dir_path[256];

/* Remove the scratch folder and what the targets wrote in it (one level of
 * subfolders at most: the targets write nothing deeper). */
static inline void fuzz_rm_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat sb;
            if (depth < 2 && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                fuzz_rm_tree(p, depth + 1);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline void fuzz_cleanup(void)
{
    if (fuzz_dir_path[0])
        fuzz_rm_tree(fuzz_dir_path, 0);
}

/* The process's scratch folder (created on first use). Aborts when it cannot
 * be made: nothing can be fuzzed then. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        struct stat sb;
        const char *base = getenv("OMR_FUZZ_TMP");
        if (!base)
            base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/omr-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* Write n bytes to dir/name; the path goes to path (size cap). Aborts on
 * failure (a full /dev/shm is not a finding). */
static inline void fuzz_write(const char *name, const void *data, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* OMR_FUZZ_VERBOSE set: targets say what happened to each input (is a
 * seed accepted or refused, and why), for building corpora. */
static inline int fuzz_verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("OMR_FUZZ_VERBOSE") != NULL;
    return v;
}

/* A NUL-terminated copy of the input (owned by the caller: free()). */
static inline char *fuzz_strdup(const unsigned char *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

#endif
