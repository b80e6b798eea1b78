/* standalone_main.c -- run a fuzz target over saved inputs, without libFuzzer.
 *
 * Linked with one tests/fuzz/fuzz_<input>.c, this main() feeds every file
 * named on the command line (folders: every file in them, sorted) to
 * LLVMFuzzerTestOneInput(), so CI replays tests/fuzz/corpus/<input>/ under
 * ASan/UBSan with the ordinary compiler (tests/fuzz_replay.sh). A crash
 * aborts the process, as under libFuzzer; the last "running" line names the
 * input. Exit 0 when every input ran, 1 when a file could not be read.
 * Pattern from libvips fuzz/StandaloneFuzzTargetMain.c.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a whole file; NULL on failure. Owned by the caller. */
static unsigned char *read_all(const char *path, size_t *pn)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    *pn = n;
    return buf;
}

static int run_file(const char *path, int verbose)
{
    size_t n = 0;
    unsigned char *buf = read_all(path, &n);
    if (!buf) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    if (verbose)
        fprintf(stderr, "running %s (%zu bytes)\n", path, n);
    /* An exact-size copy, so ASan sees reads past the input's end. */
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact)
        abort();
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int verbose = 1, bad = 0, ran = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) {
            verbose = 0;
            continue;
        }
        struct stat sb;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            struct dirent **names;
            int n = scandir(argv[i], &names, NULL, NULL);
            if (n < 0) {
                fprintf(stderr, "%s: cannot read folder\n", argv[i]);
                bad = 1;
                continue;
            }
            char **paths = calloc((size_t)n + 1, sizeof *paths);
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (names[j]->d_name[0] != '.' && paths) {
                    size_t len = strlen(argv[i]) + strlen(names[j]->d_name) + 2;
                    if ((paths[k] = malloc(len)))
                        snprintf(paths[k++], len, "%s/%s", argv[i], names[j]->d_name);
                }
                free(names[j]);
            }
            free(names);
            if (!paths)
                abort();
            qsort(paths, (size_t)k, sizeof *paths, cmp_str);
            for (int j = 0; j < k; j++) {
                bad |= run_file(paths[j], verbose);
                ran++;
                free(paths[j]);
            }
            free(paths);
        } else {
            bad |= run_file(argv[i], verbose);
            ran++;
        }
    }
    fprintf(stderr, "%d input(s) run\n", ran);
    return bad;
}
