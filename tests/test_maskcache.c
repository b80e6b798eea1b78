/* test_maskcache.c -- the blank pages' sample masks kept between runs
 * (sample.h omr_sample_backing_t, export/import): an entry read back gives
 * the very masks that drawing gives (same bytes, same measures on a page),
 * a broken or foreign entry is refused and rebuilt, never used, and the key
 * follows the template's files, not the path it was named by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "print.h"
#include "sample.h"
#include "template.h"

#define TPL "templates/ipa-itsc-2018"

static omr_survey_t *load(const char *dir)
{
    omr_survey_t *s = NULL;
    omr_error_t err;
    CHECK(omr_template_load(dir, &s, &err) == OMR_OK, "%s: %s", dir, err.msg);
    return s;
}

/* An in-memory backing: one entry, counts of calls. */
typedef struct {
    unsigned char *blob;
    size_t len;
    char key[65];
    int gets, hits, puts;
} mem_t;

static int mem_get(void *ctx, const char *key, unsigned char **blob, size_t *len)
{
    mem_t *m = ctx;
    m->gets++;
    if (!m->blob || strcmp(key, m->key))
        return 0;
    if (!(*blob = malloc(m->len)))
        return 0;
    memcpy(*blob, m->blob, m->len);
    *len = m->len;
    m->hits++;
    return 1;
}

static void mem_put(void *ctx, const char *key, const omr_form_t *form, int page_index, const unsigned char *blob,
                    size_t len)
{
    (void)form;
    (void)page_index;
    mem_t *m = ctx;
    m->puts++;
    free(m->blob);
    m->blob = malloc(len);
    memcpy(m->blob, blob, len);
    m->len = len;
    snprintf(m->key, sizeof m->key, "%s", key);
}

/* Export of page pi of form f from a fresh cache without backing. */
static unsigned char *export_fresh(omr_survey_t *s, const omr_form_t *f, int pi, size_t *len, char *key)
{
    omr_sample_cache_t *c;
    omr_error_t err;
    unsigned char *b = NULL;
    CHECK(omr_sample_cache_new(s, &c, &err) == OMR_OK);
    CHECK(omr_sample_cache_export(c, f, pi, &b, len, key, &err) == OMR_OK, "%s", err.msg);
    omr_sample_cache_free(c);
    return b;
}

static void test_roundtrip(void)
{
    omr_survey_t *s = load(TPL);
    if (!s)
        return;
    const omr_form_t *f = &s->forms[0];
    size_t len;
    char key[65];
    unsigned char *b = export_fresh(s, f, 0, &len, key);
    CHECK_INT(strlen(key), 64);
    /* imported into another cache, exported again: the same bytes */
    omr_sample_cache_t *c;
    omr_error_t err;
    CHECK(omr_sample_cache_new(s, &c, &err) == OMR_OK);
    CHECK_INT(omr_sample_cache_import(c, f, 0, b, len), 1);
    unsigned char *b2 = NULL;
    size_t len2 = 0;
    CHECK(omr_sample_cache_export(c, f, 0, &b2, &len2, NULL, &err) == OMR_OK, "%s", err.msg);
    CHECK(len2 == len && b2 && !memcmp(b, b2, len), "%zu vs %zu bytes", len2, len);

    /* a filled page sampled with drawn masks and with read ones: the same */
    PIX *page = omr_print_render_page(s, f, 0, "000123", 300, &err);
    CHECK(page != NULL, "%s", err.msg);
    omr_sample_cache_t *drawn;
    CHECK(omr_sample_cache_new(s, &drawn, &err) == OMR_OK);
    const double k = 300 / 25.4, xf[6] = {k, 0, 0, 0, k, 0};
    int n = f->pages[0].n_regions;
    omr_region_result_t *r1 = calloc((size_t)n, sizeof *r1), *r2 = calloc((size_t)n, sizeof *r2);
    if (page) {
        CHECK(omr_sample_page(page, f, 0, xf, 0, drawn, r1, &err) == OMR_OK, "%s", err.msg);
        CHECK(omr_sample_page(page, f, 0, xf, 0, c, r2, &err) == OMR_OK, "%s", err.msg);
        int same = 1;
        for (int i = 0; i < n; i++)
            same &= !memcmp(&r1[i].m, &r2[i].m, sizeof r1[i].m) && r1[i].doubt == r2[i].doubt;
        CHECK(same, "measures differ");
    }
    pixDestroy(&page);
    free(r1);
    free(r2);
    omr_sample_cache_free(drawn);
    omr_sample_cache_free(c);

    /* broken or foreign entries are refused */
    unsigned char *bad = malloc(len);
    CHECK(omr_sample_cache_new(s, &c, &err) == OMR_OK);
    size_t spots[] = {0, 9, 13, 20, len / 2, len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(bad, b, len);
        bad[spots[i]] ^= 0x5a;
        CHECK(omr_sample_cache_import(c, f, 0, bad, len) == 0, "byte %zu flipped was taken", spots[i]);
    }
    CHECK_INT(omr_sample_cache_import(c, f, 0, b, len - 1), 0);
    CHECK_INT(omr_sample_cache_import(c, f, 0, b, 10), 0);
    CHECK_INT(omr_sample_cache_import(c, f, 0, NULL, 0), 0);
    for (int pi = 1; pi < f->n_pages; pi++)
        CHECK(omr_sample_cache_import(c, f, pi, b, len) == 0, "page 1's masks taken for page %d", pi + 1);
    /* (form B's first page has form A's regions: its entry is told apart by
     * its key only) */
    CHECK_INT(omr_sample_cache_import(c, &s->forms[1], 3, b, len), 0);
    free(bad);
    omr_sample_cache_free(c);
    free(b);
    free(b2);
    omr_template_free(s);
}

/* Through a backing: a miss draws and puts, a hit is used, a broken entry
 * under the right key is rebuilt and put again. */
static void test_backing(void)
{
    omr_survey_t *s = load(TPL);
    if (!s)
        return;
    const omr_form_t *f = &s->forms[1];
    size_t len;
    char key[65];
    unsigned char *want = export_fresh(s, f, 2, &len, key);
    mem_t m = {0};
    omr_sample_backing_t bk = {mem_get, mem_put, &m};
    omr_error_t err;
    for (int round = 0; round < 3; round++) {
        omr_sample_cache_t *c;
        CHECK(omr_sample_cache_new(s, &c, &err) == OMR_OK);
        omr_sample_cache_set_backing(c, &bk);
        if (round == 2)
            m.blob[m.len / 2] ^= 0xff; /* broken in the store */
        CHECK(omr_sample_cache_prepare(c, f, 2, &err) == OMR_OK, "%s", err.msg);
        CHECK(omr_sample_cache_prepare(c, f, 2, &err) == OMR_OK, "%s", err.msg); /* in memory now */
        CHECK_INT(m.gets, round + 1);
        CHECK_INT(m.puts, round == 0 ? 1 : round == 1 ? 1 : 2);
        CHECK_STR(m.key, key);
        CHECK(m.len == len && !memcmp(m.blob, want, len), "round %d: the entry is not the drawn masks", round);
        unsigned char *got = NULL;
        size_t glen = 0;
        CHECK(omr_sample_cache_export(c, f, 2, &got, &glen, NULL, &err) == OMR_OK);
        CHECK(glen == len && !memcmp(got, want, len), "round %d: the masks in use are not the drawn ones", round);
        free(got);
        omr_sample_cache_free(c);
    }
    CHECK_INT(m.hits, 2); /* rounds 1 and 2 found the key; round 1 drew nothing (no put) */
    free(m.blob);
    free(want);
    omr_template_free(s);
}

/* The key: the same for the folder named another way, another when a
 * template file changes. */
static void test_key(void)
{
    char dir[64], cmd[1024];
    snprintf(dir, sizeof dir, "/tmp/omr_test_maskcache_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp " TPL "/*.page " TPL "/survey.omr %s/", dir, dir, dir);
    CHECK_INT(system(cmd), 0);
    omr_survey_t *a = load(TPL), *b = load("./" TPL "/"), *c = load(dir);
    if (!a || !b || !c)
        goto done;
    size_t len;
    char ka[65], kb[65], kc[65], kd[65];
    free(export_fresh(a, &a->forms[0], 1, &len, ka));
    free(export_fresh(b, &b->forms[0], 1, &len, kb));
    free(export_fresh(c, &c->forms[0], 1, &len, kc));
    CHECK_STR(ka, kb);
    CHECK_STR(ka, kc); /* a copy of the same files */
    free(export_fresh(a, &a->forms[0], 2, &len, kd));
    CHECK(strcmp(ka, kd) != 0, "two pages with one key");
    omr_template_free(c);
    c = NULL;
    /* a comment added to another page file: every key changes */
    snprintf(cmd, sizeof cmd, "printf '\\n# changed\\n' >> %s/B-01.page", dir);
    CHECK_INT(system(cmd), 0);
    c = load(dir);
    if (c) {
        free(export_fresh(c, &c->forms[0], 1, &len, kc));
        CHECK(strcmp(ka, kc) != 0, "the key did not follow the template's files");
    }
done:
    omr_template_free(a);
    omr_template_free(b);
    omr_template_free(c);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_backing);
    RUN(test_key);
    omr_print_shutdown();
    return check_report();
}
