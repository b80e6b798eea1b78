/* cmd_status.c -- `omr status`: what a store holds and what is left to do,
 * for the scanning staff in the morning and for the nightly job's checks:
 * every batch (finished or not, pages identified, blank, unusable), the
 * review queue by reason, and the respondents ready for export. Reads the
 * store only; needs no templates. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: omr status --db FILE [--json]\n"
                 "What the store holds and what is left to do: each batch (when it ran, whether it\n"
                 "finished, its pages identified, blank, not usable and too light for pencil, its\n"
                 "open review items), the review queue by reason (open, leased to an operator,\n"
                 "resolved), and the respondents: complete (export writes them), waiting for\n"
                 "review, changed since they were coded.\n"
                 "A batch that did not finish was killed or is still running: running the same scan\n"
                 "again finishes it.\n"
                 "\n"
                 "  --db FILE   the store written by 'omr scan' (never created here)\n"
                 "  --json      the same as one JSON object on stdout\n"
                 "\n"
                 "Exit status:\n"
                 "  0  nothing left: no review item open, every respondent coded and complete\n"
                 "  1  usage error\n"
                 "  2  the store cannot be read (missing, not a database, of a newer omr)\n"
                 "  3  something left: items to review, or respondents to code again\n");
}

/* The batches, gathered for both outputs. */
typedef struct {
    omr_store_t *store;
    json_t *list;
    omr_status_t st;
    omr_error_t err;
} batches_t;

static int open_items(const omr_store_summary_t *s)
{
    int n = 0;
    for (int r = 0; r < 16; r++)
        n += s->flagged[r];
    return n;
}

static void count_page(void *ctx, const char *path, int page)
{
    (void)path;
    (void)page;
    ++*(int *)ctx;
}

static void add_batch(void *ctx, const omr_store_batch_t *b)
{
    batches_t *bs = ctx;
    omr_store_summary_t sum;
    int light = 0;
    if (bs->st || (bs->st = omr_store_batch_summary(bs->store, b->id, &sum, &bs->err)) ||
        (bs->st = omr_store_batch_light_pages(bs->store, b->id, count_page, &light, &bs->err)))
        return;
    json_t *reasons = json_object();
    for (int r = 0; r < 16; r++)
        if (sum.flagged[r])
            json_object_set_new(reasons, omr_review_reason_name((omr_review_reason_t)r), json_integer(sum.flagged[r]));
    json_array_append_new(
        bs->list, json_pack("{s:I,s:s,s:s,s:s?,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o}", "id", (json_int_t)b->id, "name",
                            b->name, "started", b->started, "finished", b->finished, "done", b->finished != NULL,
                            "files", sum.files_processed, "files_unfinished", b->files_processing, "pages", sum.pages,
                            "identified", sum.identified, "blank", sum.blank, "too_light", light, "items_open", open_items(&sum),
                            "items_by_reason", reasons));
}

/* "2026-11-25T22:03:10.123Z" as "2026-11-25 22:03" */
static void short_time(const char *iso, char *buf, size_t n)
{
    snprintf(buf, n, "%.10s %.5s", iso, strlen(iso) > 11 ? iso + 11 : "");
}

static void print_text(const char *db, const char *survey, json_t *batches, const omr_store_queue_t *q,
                       const omr_store_respondents_t *resp)
{
    printf("store %s: %s\n", db, survey[0] ? survey : "(no survey yet: nothing scanned)");
    printf("batches: %zu\n", json_array_size(batches));
    size_t i;
    json_t *b;
    json_array_foreach(batches, i, b)
    {
        char t0[32], t1[32];
        short_time(json_string_value(json_object_get(b, "started")), t0, sizeof t0);
        json_t *fin = json_object_get(b, "finished");
        int pages = (int)json_integer_value(json_object_get(b, "pages"));
        int ident = (int)json_integer_value(json_object_get(b, "identified"));
        int blank = (int)json_integer_value(json_object_get(b, "blank"));
        printf("  %-20s %s", json_string_value(json_object_get(b, "name")), t0);
        if (json_is_string(fin)) { /* JSON null when not finished */
            short_time(json_string_value(fin), t1, sizeof t1);
            printf(" to %s", t1 + (strncmp(t0, t1, 10) ? 0 : 11));
        } else {
            printf("  NOT FINISHED (%d file(s) claimed): killed, or still running; run the same scan again",
                   (int)json_integer_value(json_object_get(b, "files_unfinished")));
        }
        int light = (int)json_integer_value(json_object_get(b, "too_light"));
        printf("\n    %d file(s), %d page(s): %d identified, %d blank, %d not usable",
               (int)json_integer_value(json_object_get(b, "files")), pages, ident, blank, pages - ident - blank);
        if (light)
            printf(", %d too light for pencil (rescan in grey: omr scan lists them)", light);
        printf("; %d item(s) open\n", (int)json_integer_value(json_object_get(b, "items_open")));
    }
    int open = 0, leased = 0, resolved = 0;
    for (int r = 0; r < 16; r++) {
        open += q->open[r];
        leased += q->leased[r];
        resolved += q->resolved[r];
    }
    printf("review queue: %d open, %d leased to an operator, %d resolved\n", open, leased, resolved);
    for (int r = 0; r < 16; r++)
        if (q->open[r] || q->leased[r] || q->resolved[r])
            printf("  %-56s %6d open %6d leased %6d resolved\n", omr_review_reason_text((omr_review_reason_t)r),
                   q->open[r], q->leased[r], q->resolved[r]);
    printf("respondents: %d complete (export writes them), %d waiting for review, %d changed since coded%s\n",
           resp->complete, resp->waiting, resp->dirty,
           resp->dirty ? " (omr scan --recode, or the review server, codes them again)" : "");
}

static json_t *queue_json(const omr_store_queue_t *q)
{
    json_t *o = json_object();
    for (int r = 0; r < 16; r++)
        if (q->open[r] || q->leased[r] || q->resolved[r])
            json_object_set_new(o, omr_review_reason_name((omr_review_reason_t)r),
                                json_pack("{s:i,s:i,s:i}", "open", q->open[r], "leased", q->leased[r], "resolved",
                                          q->resolved[r]));
    return o;
}

int omr_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"db", required_argument, 0, 'd'}, {"json", no_argument, 0, 'J'}, {0, 0, 0, 0}};
    const char *db = NULL;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return OMR_EXIT_OK;
        case 'd':
            db = optarg;
            break;
        case 'J':
            as_json = 1;
            break;
        default:
            usage(stderr);
            return OMR_EXIT_USAGE;
        }
    }
    if (!db || optind != argc) {
        usage(stderr);
        return OMR_EXIT_USAGE;
    }
    /* omr_store_open creates a missing file: a typo must not make an empty store */
    if (access(db, F_OK) != 0) {
        fprintf(stderr, "omr status: %s: no such store\n", db);
        return OMR_EXIT_FAILED;
    }
    omr_error_t err;
    omr_store_t *store;
    if (omr_store_open(db, &store, &err)) {
        fprintf(stderr, "omr status: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    char survey[128];
    batches_t bs = {store, json_array(), OMR_OK, {0}};
    omr_store_queue_t q;
    omr_store_respondents_t resp;
    omr_status_t st = omr_store_bound_survey(store, survey, sizeof survey, &err);
    if (!st && !(st = omr_store_batches(store, add_batch, &bs, &err)) && bs.st) {
        st = bs.st;
        err = bs.err;
    }
    if (!st)
        st = omr_store_queue_counts(store, &q, &err);
    if (!st)
        st = omr_store_respondent_counts(store, &resp, &err);
    omr_store_close(store);
    if (st) {
        fprintf(stderr, "omr status: %s: %s\n", db, err.msg);
        json_decref(bs.list);
        return OMR_EXIT_FAILED;
    }
    int left = resp.waiting + resp.dirty;
    for (int r = 0; r < 16; r++)
        left += q.open[r] + q.leased[r];
    if (as_json) {
        json_t *o = json_pack("{s:s,s:s,s:O,s:o,s:{s:i,s:i,s:i}}", "store", db, "survey", survey, "batches", bs.list,
                              "review_queue", queue_json(&q), "respondents", "complete", resp.complete, "waiting",
                              resp.waiting, "changed", resp.dirty);
        char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(o);
    } else {
        print_text(db, survey, bs.list, &q, &resp);
    }
    json_decref(bs.list);
    return left ? OMR_EXIT_REVIEW : OMR_EXIT_OK;
}
