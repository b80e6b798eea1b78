/* test_icr.c -- the icr stage: the shipped digit model on real held-out
 * digits (the smoke set: 1,000 MNIST validation digits with their true
 * labels, never trained on), the box normaliser on drawn crops, the decision
 * rules (allowed values, top-3 duplicates, gaps, not-a-digit) and the refusal
 * of corrupt IDX files.
 *
 * Data: $OMR_DIGITS, else ../shared/data/digits, else /work/shared/data/digits, else tests/data/digits
 * (a missing data set is a failure, not a skip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "icr.h"

static omr_icr_idx_t smoke_img, smoke_lab;
static int smoke_ok;

static const char *digits_dir(void)
{
    const char *env = getenv("OMR_DIGITS");
    if (env && *env)
        return env;
    if (access("../shared/data/digits/smoke-images-idx3-ubyte", R_OK) == 0)
        return "../shared/data/digits";
    if (access("/work/shared/data/digits/smoke-images-idx3-ubyte", R_OK) == 0)
        return "/work/shared/data/digits";
    return "tests/data/digits"; /* the small committed copy */
}

static void load_smoke(void)
{
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/smoke-images-idx3-ubyte", digits_dir());
    snprintf(lp, sizeof lp, "%s/smoke-labels-idx1-ubyte", digits_dir());
    omr_error_t err;
    if (omr_icr_idx_load(ip, &smoke_img, &err) != OMR_OK ||
        omr_icr_idx_load(lp, &smoke_lab, &err) != OMR_OK) {
        fprintf(stderr, "cannot load the smoke set: %s\n", err.msg);
        return;
    }
    smoke_ok = smoke_img.n == 1000 && smoke_lab.n == 1000 && !smoke_img.is_labels &&
               smoke_lab.is_labels;
}

static int argmax10(const float *p)
{
    int b = 0;
    for (int d = 1; d < 10; d++)
        if (p[d] > p[b]) b = d;
    return b;
}

/* ---- drawing crops (ink dark on light paper), independent of the trainer ---- */

typedef struct {
    int w, h;
    uint8_t px[120 * 120];
} crop_t;

static void crop_blank(crop_t *c, int w, int h, int paper, unsigned seed)
{
    c->w = w, c->h = h;
    srand(seed);
    for (int i = 0; i < w * h; i++)
        c->px[i] = (uint8_t)(paper - 4 + rand() % 9); /* mild paper noise */
}

/* A pen stroke of radius r from (x0,y0) to (x1,y1), ink grey level `ink`. */
static void crop_line(crop_t *c, double x0, double y0, double x1, double y1, double r, int ink)
{
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = l2 > 0 ? (px * dx + py * dy) / l2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - t * dx, ey = py - t * dy;
            if (sqrt(ex * ex + ey * ey) <= r && c->px[y * c->w + x] > ink)
                c->px[y * c->w + x] = (uint8_t)ink;
        }
}

/* An MNIST digit enlarged by `scale` (nearest neighbour: blocky like a
 * low-resolution scan), ink dark, at (ox, oy) in the crop. */
static void crop_digit(crop_t *c, const uint8_t *img, int scale, int ox, int oy, int paper, int ink)
{
    for (int y = 0; y < 28 * scale; y++)
        for (int x = 0; x < 28 * scale; x++) {
            int cx = ox + x, cy = oy + y;
            if (cx < 0 || cy < 0 || cx >= c->w || cy >= c->h)
                continue;
            int v = img[(y / scale) * 28 + x / scale];
            int g = paper - v * (paper - ink) / 255;
            if (g < c->px[cy * c->w + cx])
                c->px[cy * c->w + cx] = (uint8_t)g;
        }
}

static omr_icr_box_t read_crop(const crop_t *c)
{
    omr_icr_input_t in;
    omr_icr_box_t box = {0};
    omr_error_t err;
    omr_status_t st = omr_icr_normalise(c->px, c->w, c->h, c->w, &in, &err);
    CHECK(st == OMR_OK, "normalise: %s", err.msg);
    box.empty = in.empty;
    if (!in.empty)
        omr_icr_classify(in.px, box.prob);
    return box;
}

/* ---- tests ---- */

static void test_smoke_accuracy(void)
{
    CHECK(smoke_ok, "smoke set not loaded from %s", digits_dir());
    if (!smoke_ok)
        return;
    int right = 0;
    for (int i = 0; i < smoke_img.n; i++) {
        float p[10];
        omr_icr_classify(smoke_img.data + (size_t)i * OMR_ICR_NPIX, p);
        float sum = 0;
        for (int d = 0; d < 10; d++)
            sum += p[d];
        CHECK(sum <= 1.0001f && sum >= 0, "digit probabilities sum to %f", sum);
        right += argmax10(p) == smoke_lab.data[i];
    }
    printf("smoke: %d/1000 right\n", right);
    CHECK(right >= 980, "accuracy %.1f %% on the smoke set, want >= 98 %%", right / 10.0);
}

/* Smoke digits drawn into box crops (ink dark, 2x or 3x larger, a faint and
 * a dark ink) read through the normaliser: still mostly right, never empty. */
static void test_crops_read(void)
{
    if (!smoke_ok)
        return;
    int right = 0, empty = 0, n = 0;
    for (int i = 0; i < smoke_img.n; i += 5, n++) {
        crop_t c;
        int scale = 2 + i % 2, side = 28 * scale + 12, ink = i % 3 ? 30 : 150;
        crop_blank(&c, side, side, 225, (unsigned)i);
        crop_digit(&c, smoke_img.data + (size_t)i * OMR_ICR_NPIX, scale, 6, 6, 225, ink);
        omr_icr_box_t b = read_crop(&c);
        empty += b.empty;
        right += !b.empty && argmax10(b.prob) == smoke_lab.data[i];
    }
    printf("crops: %d/%d right, %d empty\n", right, n, empty);
    CHECK_INT(empty, 0);
    CHECK(right * 100 >= n * 96, "%d/%d right through the normaliser, want >= 96 %%", right, n);
}

static void test_empty_box(void)
{
    crop_t c;
    crop_blank(&c, 60, 60, 230, 7);
    omr_icr_box_t b = read_crop(&c);
    CHECK_INT(b.empty, 1);
    /* frame residue on two borders and a speck of dust: still empty */
    crop_line(&c, 0, 1, 59, 1, 1.2, 20);
    crop_line(&c, 58, 10, 58, 50, 1.0, 40);
    crop_line(&c, 30, 30, 30.5, 30.5, 1.0, 30);
    b = read_crop(&c);
    CHECK_INT(b.empty, 1);
    /* a small faint "1" (a quarter of the box, contrast 70) is written */
    crop_blank(&c, 60, 60, 230, 8);
    crop_line(&c, 30, 22, 29, 38, 1.3, 160);
    b = read_crop(&c);
    CHECK_INT(b.empty, 0);
    /* absurd sizes are refused */
    omr_icr_input_t in;
    omr_error_t err;
    CHECK(omr_icr_normalise(c.px, 4, 60, 60, &in, &err) == OMR_EINPUT);
    CHECK(omr_icr_normalise(c.px, 60, 60, 30, &in, &err) == OMR_EINPUT);
}

/* A tick, a scribble, a cross: each is "not a digit", never a confident digit. */
static void test_not_digit(void)
{
    omr_icr_rules_t any = {0x3FF, 0, 0};
    omr_icr_policy_t aa = {OMR_ICR_POLICY_AUTO_ACCEPT, 0};
    crop_t c[4];
    crop_blank(&c[0], 64, 64, 230, 1); /* tick */
    crop_line(&c[0], 16, 34, 27, 46, 2.2, 20);
    crop_line(&c[0], 27, 46, 50, 14, 2.2, 20);
    crop_blank(&c[1], 64, 64, 230, 2); /* scribble */
    double pts[][2] = {{12, 20}, {50, 16}, {14, 30}, {52, 28}, {12, 40}, {50, 44}, {16, 50}};
    for (int k = 0; k + 1 < 7; k++)
        crop_line(&c[1], pts[k][0], pts[k][1], pts[k + 1][0], pts[k + 1][1], 2.0, 20);
    crop_blank(&c[2], 64, 64, 230, 3); /* cross */
    crop_line(&c[2], 16, 16, 48, 48, 2.2, 20);
    crop_line(&c[2], 48, 16, 16, 48, 2.2, 20);
    crop_blank(&c[3], 64, 64, 230, 4); /* a filled blob */
    for (int r = 1; r < 12; r++)
        crop_line(&c[3], 32, 32, 32, 32, r, 20);
    const char *what[] = {"tick", "scribble", "cross", "blob"};
    for (int k = 0; k < 4; k++) {
        omr_icr_box_t b = read_crop(&c[k]);
        omr_icr_decision_t d;
        CHECK(!b.empty, "%s read as empty", what[k]);
        CHECK(omr_icr_decide(&b, 1, &any, &aa, &d, NULL) == OMR_OK);
        float sum = 0;
        for (int v = 0; v < 10; v++) sum += b.prob[v];
        printf("%s: kind %d, not-a-digit mass %.3f, top %d %.3f\n", what[k], d.kind, 1 - sum,
               argmax10(b.prob), b.prob[argmax10(b.prob)]);
        CHECK(d.kind == OMR_ICR_NOT_DIGIT, "%s: kind %d, value %d conf %.3f", what[k], d.kind,
              d.value, d.confidence);
        CHECK_INT(d.accepted, 0);
        CHECK_INT(d.value, -1);
    }
}

/* Index of a smoke digit with label d read confidently (>= 0.99) as d. */
static int confident(int d)
{
    for (int i = 0; i < smoke_img.n; i++) {
        if (smoke_lab.data[i] != d)
            continue;
        float p[10];
        omr_icr_classify(smoke_img.data + (size_t)i * OMR_ICR_NPIX, p);
        if (argmax10(p) == d && p[d] >= 0.99f)
            return i;
    }
    return -1;
}

static omr_icr_box_t smoke_box(int i)
{
    omr_icr_box_t b = {0};
    omr_icr_classify(smoke_img.data + (size_t)i * OMR_ICR_NPIX, b.prob);
    return b;
}

static void test_allowed_set(void)
{
    if (!smoke_ok)
        return;
    int i8 = confident(8);
    CHECK(i8 >= 0, "no confident 8 in the smoke set");
    if (i8 < 0)
        return;
    omr_icr_box_t b = smoke_box(i8);
    omr_icr_policy_t aa = {OMR_ICR_POLICY_AUTO_ACCEPT, 0}, review = {OMR_ICR_POLICY_REVIEW, 0};
    omr_icr_decision_t d;
    /* 8 allowed: proposed, accepted under auto-accept, not under the default policy */
    omr_icr_rules_t r1_9 = {0x3FE, 1, 1};
    CHECK(omr_icr_decide(&b, 1, &r1_9, &aa, &d, NULL) == OMR_OK);
    CHECK_INT(d.kind, OMR_ICR_DIGIT);
    CHECK_INT(d.value, 8);
    CHECK_INT(d.flags, 0);
    CHECK_INT(d.accepted, d.confidence >= omr_icr_model_threshold);
    CHECK(omr_icr_decide(&b, 1, &r1_9, &review, &d, NULL) == OMR_OK);
    CHECK_INT(d.value, 8);
    CHECK_INT(d.accepted, 0);
    /* a question with options 1-7: 8 is not allowed, the best allowed value is proposed */
    omr_icr_rules_t r1_7 = {0xFE, 1, 1};
    CHECK(omr_icr_decide(&b, 1, &r1_7, &aa, &d, NULL) == OMR_OK);
    int want = 1;
    for (int v = 1; v <= 7; v++)
        if (b.prob[v] > b.prob[want]) want = v;
    CHECK(d.value != 8, "proposed the disallowed 8");
    CHECK_INT(d.value, want);
    CHECK(d.flags & OMR_ICR_FLAG_NOT_ALLOWED, "flags 0x%x", d.flags);
    CHECK_INT(d.accepted, 0);
    /* no allowed value at all is a caller error */
    omr_icr_rules_t none = {0, 0, 0};
    omr_error_t err;
    CHECK(omr_icr_decide(&b, 1, &none, &aa, &d, &err) == OMR_EINPUT);
}

static void test_top3_rules(void)
{
    if (!smoke_ok)
        return;
    int i3 = confident(3), i3b = -1, i5 = confident(5);
    for (int i = i3 + 1; i3 >= 0 && i < smoke_img.n; i++)
        if (smoke_lab.data[i] == 3) {
            omr_icr_box_t b = smoke_box(i);
            if (argmax10(b.prob) == 3 && b.prob[3] >= 0.99f) {
                i3b = i;
                break;
            }
        }
    CHECK(i3 >= 0 && i3b >= 0 && i5 >= 0, "smoke digits not found");
    if (i3 < 0 || i3b < 0 || i5 < 0)
        return;
    omr_icr_box_t boxes[3] = {smoke_box(i3), smoke_box(i3b), smoke_box(i5)};
    omr_icr_rules_t top3 = {0x3FE, 1, 1};
    omr_icr_policy_t aa = {OMR_ICR_POLICY_AUTO_ACCEPT, 0};
    omr_icr_decision_t d[3];
    CHECK(omr_icr_decide(boxes, 3, &top3, &aa, d, NULL) == OMR_OK);
    CHECK(d[0].flags & OMR_ICR_FLAG_DUPLICATE, "box 1 flags 0x%x", d[0].flags);
    CHECK(d[1].flags & OMR_ICR_FLAG_DUPLICATE, "box 2 flags 0x%x", d[1].flags);
    CHECK(!(d[2].flags & OMR_ICR_FLAG_DUPLICATE), "box 3 flags 0x%x", d[2].flags);
    CHECK(d[0].value != d[1].value, "proposal still holds %d twice", d[0].value);
    CHECK(d[0].value == 3 || d[1].value == 3, "3 no longer proposed in either box");
    CHECK_INT(d[0].accepted, 0);
    CHECK_INT(d[1].accepted, 0);
    CHECK_INT(d[2].value, 5);
    /* without the distinct rule (a code grid row), duplicates are fine */
    omr_icr_rules_t grid = {0x1E, 0, 0};
    CHECK(omr_icr_decide(boxes, 2, &grid, &aa, d, NULL) == OMR_OK);
    CHECK_INT(d[0].flags & OMR_ICR_FLAG_DUPLICATE, 0);
    CHECK_INT(d[0].value, 3);
    CHECK_INT(d[1].value, 3);
    /* a gap: boxes 1 and 3 written, box 2 empty */
    omr_icr_box_t gap[3] = {smoke_box(i3), {0}, smoke_box(i5)};
    gap[1].empty = 1;
    CHECK(omr_icr_decide(gap, 3, &top3, &aa, d, NULL) == OMR_OK);
    CHECK_INT(d[1].kind, OMR_ICR_EMPTY);
    CHECK(d[2].flags & OMR_ICR_FLAG_GAP, "box 3 flags 0x%x", d[2].flags);
    CHECK_INT(d[2].accepted, 0);
    CHECK_INT(d[0].flags & OMR_ICR_FLAG_GAP, 0);
    /* boxes 1, 2 written and box 3 empty: no gap */
    omr_icr_box_t tail[3] = {smoke_box(i3), smoke_box(i5), {0}};
    tail[2].empty = 1;
    CHECK(omr_icr_decide(tail, 3, &top3, &aa, d, NULL) == OMR_OK);
    CHECK_INT(d[1].flags & OMR_ICR_FLAG_GAP, 0);
    CHECK_INT(d[2].accepted, 1);
}

/* Write bytes to a temporary file; returns its name (static buffer per k). */
static const char *tmpfile_with(int k, const void *data, size_t n)
{
    static char names[8][64];
    snprintf(names[k], sizeof names[k], "/tmp/test_icr_%d_%d.idx", (int)getpid(), k);
    FILE *f = fopen(names[k], "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return names[k];
}

static void expect_refused(const char *path, const char *reason)
{
    omr_icr_idx_t idx;
    omr_error_t err = {0};
    omr_status_t st = omr_icr_idx_load(path, &idx, &err);
    CHECK(st != OMR_OK, "%s accepted", path);
    CHECK(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    CHECK(strstr(err.msg, reason) != NULL, "message \"%s\" lacks \"%s\"", err.msg, reason);
    CHECK(idx.data == NULL && idx.n == 0);
    omr_icr_idx_free(&idx);
}

static void test_corrupt_idx(void)
{
    uint8_t buf[16 + 2 * 784];
    memset(buf, 0, sizeof buf);
    /* wrong magic */
    buf[2] = 0x08, buf[3] = 0x05;
    const char *p0 = tmpfile_with(0, buf, 16);
    expect_refused(p0, "magic");
    /* images header saying 3 images, only 2 present */
    uint8_t h3[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28};
    memcpy(buf, h3, 16);
    const char *p1 = tmpfile_with(1, buf, sizeof buf);
    expect_refused(p1, "truncated");
    /* 2 images of 28x28 is fine */
    buf[7] = 2;
    const char *p2 = tmpfile_with(2, buf, sizeof buf);
    omr_icr_idx_t ok;
    omr_error_t err;
    CHECK(omr_icr_idx_load(p2, &ok, &err) == OMR_OK, "%s", err.msg);
    CHECK_INT(ok.n, 2);
    omr_icr_idx_free(&ok);
    /* 32x32 images */
    buf[11] = 32, buf[15] = 32;
    const char *p3 = tmpfile_with(3, buf, sizeof buf);
    expect_refused(p3, "28x28");
    /* a label above 9 */
    uint8_t lab[10] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 12};
    const char *p4 = tmpfile_with(4, lab, sizeof lab);
    expect_refused(p4, "not a digit");
    /* a gzip stream cut short / damaged */
    uint8_t gz[40] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xfe, 0xfd, 0x00, 0x13};
    const char *p5 = tmpfile_with(5, gz, sizeof gz);
    expect_refused(p5, p5);
    /* a header alone */
    const char *p6 = tmpfile_with(6, h3, 5);
    expect_refused(p6, "truncated");
    expect_refused("/nonexistent/icr.idx", "cannot open");
    for (int k = 0; k < 7; k++) {
        char name[64];
        snprintf(name, sizeof name, "/tmp/test_icr_%d_%d.idx", (int)getpid(), k);
        unlink(name);
    }
}

int main(void)
{
    load_smoke();
    RUN(test_smoke_accuracy);
    RUN(test_crops_read);
    RUN(test_empty_box);
    RUN(test_not_digit);
    RUN(test_allowed_set);
    RUN(test_top3_rules);
    RUN(test_corrupt_idx);
    omr_icr_idx_free(&smoke_img);
    omr_icr_idx_free(&smoke_lab);
    return check_report();
}
