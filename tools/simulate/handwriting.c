/* handwriting.c -- what respondents write by hand: real MNIST digits in the
 * top-3 boxes and code-grid cells, and scribbled pseudo-handwriting in text
 * fields and margin notes.
 *
 * Digits come from the TRAINING split only (../shared/data/digits/README.md:
 * train-*-idx?-ubyte.gz, 54,000 images), so that a recogniser validated on
 * the val split never meets its own validation digits in a simulated scan.
 * The files are read once per process with zlib and kept (42 MB); every
 * sheet after that only picks and scales.
 *
 * Scribbles are not a script: each "character" is a cluster of 2-5 short
 * strokes (horizontal, vertical, falling left or right, a dot, a little box)
 * in a square cell, as kanji and kana look from a distance, grouped into
 * words and wrapped into lines. The transcription truth of such text is a
 * placeholder ("scribble:N chars", answers.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fill_internal.h"

/* ------------------------------------------------------------- MNIST */

#define DIGIT_SIDE 28
#define DIGIT_PIXELS (DIGIT_SIDE * DIGIT_SIDE)
#define DIGITS_MAX 200000 /* refuse absurd headers */

static struct {
    uint8_t *images;  /* n * 784 */
    int n;
    int *by_label[10]; /* indices of each digit */
    int n_label[10];
    int ok;
    char error[2048];
} digits;

static pthread_once_t digits_once = PTHREAD_ONCE_INIT;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Read exactly n bytes from a gzip stream; 0 on success. */
static int gz_exact(gzFile f, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static void digits_load_once(void)
{
    const char *dir = getenv("OMR_DIGITS_DIR");
    char ipath[600], lpath[600];
    /* the full train split when it is there; else the committed 6,000-digit slice of it */
    const char *dirs[3] = {dir && *dir ? dir : "../shared/data/digits", "/work/shared/data/digits",
                           "tests/data/digits"};
    gzFile fi = NULL, fl = NULL;
    for (int k = 0; k < 3 && !fi; k++) {
        snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte.gz", dirs[k]);
        snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte.gz", dirs[k]);
        fi = gzopen(ipath, "rb");
        if (fi) {
            fl = gzopen(lpath, "rb");
            if (!fl) {
                gzclose(fi);
                fi = NULL;
            }
        }
        if (dir && *dir)
            break; /* an explicit directory is not second-guessed */
    }
    if (!fi) {
        snprintf(digits.error, sizeof digits.error,
                 "MNIST training digits not found: %s (set OMR_DIGITS_DIR to the folder holding "
                 "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz)",
                 ipath);
        return;
    }
    unsigned char hi[16], hl[8];
    uint8_t *labels = NULL;
    if (gz_exact(fi, hi, 16) || gz_exact(fl, hl, 8)) {
        snprintf(digits.error, sizeof digits.error, "%s: truncated header", ipath);
        goto out;
    }
    uint32_t n = be32(hi + 4);
    if (be32(hi) != 0x803 || be32(hi + 8) != DIGIT_SIDE || be32(hi + 12) != DIGIT_SIDE || be32(hl) != 0x801 ||
        be32(hl + 4) != n || n == 0 || n > DIGITS_MAX) {
        snprintf(digits.error, sizeof digits.error,
                 "%s / %s: not a matching pair of 28x28 IDX image and label files", ipath, lpath);
        goto out;
    }
    digits.images = malloc((size_t)n * DIGIT_PIXELS);
    labels = malloc(n);
    if (!digits.images || !labels) {
        snprintf(digits.error, sizeof digits.error, "out of memory loading %u digits", n);
        goto out;
    }
    if (gz_exact(fi, digits.images, (size_t)n * DIGIT_PIXELS) || gz_exact(fl, labels, n)) {
        snprintf(digits.error, sizeof digits.error, "%s: truncated (expected %u digits)", ipath, n);
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (labels[i] > 9) {
            snprintf(digits.error, sizeof digits.error, "%s: label %u of record %u", lpath, labels[i], i);
            goto out;
        }
        digits.n_label[labels[i]]++;
    }
    for (int d = 0; d < 10; d++) {
        digits.by_label[d] = malloc((size_t)(digits.n_label[d] + 1) * sizeof(int));
        if (!digits.by_label[d]) {
            snprintf(digits.error, sizeof digits.error, "out of memory");
            goto out;
        }
        digits.n_label[d] = 0;
    }
    for (uint32_t i = 0; i < n; i++)
        digits.by_label[labels[i]][digits.n_label[labels[i]]++] = (int)i;
    digits.n = (int)n;
    digits.ok = 1;
out:
    free(labels);
    if (!digits.ok) {
        free(digits.images);
        digits.images = NULL;
        for (int d = 0; d < 10; d++) {
            free(digits.by_label[d]);
            digits.by_label[d] = NULL;
        }
    }
    gzclose(fi);
    gzclose(fl);
}

/* The process keeps the digits until exit: a leak checker sees them as
 * still reachable (static pointers), which is what they are. */
int sim_digits_load(void)
{
    pthread_once(&digits_once, digits_load_once);
    if (!digits.ok) {
        sim_fill_set_error("%s", digits.error);
        return -1;
    }
    return 0;
}

const uint8_t *sim_digits_pick(int d, sim_rng_t *rng)
{
    if (sim_digits_load() || d < 0 || d > 9 || digits.n_label[d] == 0)
        return NULL;
    int k = digits.by_label[d][sim_rng_range(rng, 0, digits.n_label[d] - 1)];
    return digits.images + (size_t)k * DIGIT_PIXELS;
}

/* Ink bounding box of a 28x28 digit (pixels > 40). */
static void digit_bbox(const uint8_t *img, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = DIGIT_SIDE;
    *y0 = DIGIT_SIDE;
    *x1 = -1;
    *y1 = -1;
    for (int y = 0; y < DIGIT_SIDE; y++)
        for (int x = 0; x < DIGIT_SIDE; x++)
            if (img[y * DIGIT_SIDE + x] > 40) {
                if (x < *x0) *x0 = x;
                if (y < *y0) *y0 = y;
                if (x > *x1) *x1 = x;
                if (y > *y1) *y1 = y;
            }
    if (*x1 < 0) { /* empty image: use the nominal 20x20 centre */
        *x0 = *y0 = 4;
        *x1 = *y1 = 23;
    }
}

int sim_hand_digit(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, int d, omr_rect_t box, int neat,
                   int *ptouch)
{
    *ptouch = 0;
    const uint8_t *img = sim_digits_pick(d, rng);
    if (!img)
        return -1;
    int x0, y0, x1, y1;
    digit_bbox(img, &x0, &y0, &x1, &y1);
    double cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    /* Height 60-80 % of the box (neat writers ~70 %), never wider than it. */
    double target = box.h * (neat ? 0.66 + 0.08 * sim_rng_uniform(rng) : 0.6 + 0.2 * sim_rng_uniform(rng));
    double s = target / ch; /* mm per MNIST pixel */
    if (cw * s > box.w * 0.85)
        s = box.w * 0.85 / cw;
    double w = cw * s, h = ch * s;
    double slack_x = (box.w - w) / 2, slack_y = (box.h - h) / 2;
    double spread = neat ? 0.15 : 0.6;
    double ox = slack_x * spread * fmax(-1, fmin(1, sim_rng_normal(rng) * 0.6));
    double oy = slack_y * spread * fmax(-1, fmin(1, sim_rng_normal(rng) * 0.6));
    if (!neat && sim_rng_chance(rng, 0.12)) {
        /* Against the frame: the digit reaches (and just crosses) one side. */
        int side = sim_rng_range(rng, 0, 3);
        double over = 0.1 + 0.2 * sim_rng_uniform(rng);
        if (side == 0) ox = -slack_x - over;
        if (side == 1) ox = slack_x + over;
        if (side == 2) oy = -slack_y - over;
        if (side == 3) oy = slack_y + over;
        *ptouch = 1;
    }
    /* Place the content box, then the whole 28x28 field around it. */
    double cx0 = box.x + slack_x + ox, cy0 = box.y + slack_y + oy;
    sim_pen_image_mm(c, pen, img, DIGIT_SIDE, DIGIT_SIDE, cx0 - x0 * s, cy0 - y0 * s, DIGIT_SIDE * s,
                     DIGIT_SIDE * s);
    return 0;
}

/* ------------------------------------------------------------- scribbles */

/* Character size (mm) a respondent writes in a field of this height. */
static double char_size(omr_rect_t box)
{
    double h = box.h * 0.5;
    if (h > 4.0)
        h = 4.0;
    if (h < 1.6)
        h = 1.6;
    return h;
}

static double line_pitch(double ch) { return ch * 1.55; }

int sim_hand_capacity(omr_rect_t box)
{
    double ch = char_size(box);
    int per_line = (int)((box.w - 2.0) / (ch * 1.1));
    int lines = (int)((box.h - 0.6) / line_pitch(ch));
    if (lines < 1)
        lines = 1;
    if (per_line < 0)
        per_line = 0;
    return per_line * lines;
}

/* One pseudo-character: 2-5 strokes in the cell (x, y, s). */
static void glyph(sim_canvas_t *c, const sim_pen_t *pen, sim_rng_t *rng, double x, double y, double s)
{
    int n = sim_rng_range(rng, 2, 5);
    for (int k = 0; k < n; k++) {
        double xy[2 * 8];
        int m = 0;
        double ax = x + s * (0.1 + 0.6 * sim_rng_uniform(rng)), ay = y + s * (0.1 + 0.6 * sim_rng_uniform(rng));
        switch (sim_rng_range(rng, 0, 5)) {
        case 0: /* horizontal */
            xy[m++] = ax - 0.1 * s; xy[m++] = ay;
            xy[m++] = ax + s * (0.3 + 0.4 * sim_rng_uniform(rng)); xy[m++] = ay - 0.05 * s;
            break;
        case 1: /* vertical, maybe hooked */
            xy[m++] = ax; xy[m++] = y + 0.08 * s;
            xy[m++] = ax + 0.03 * s; xy[m++] = y + s * (0.6 + 0.3 * sim_rng_uniform(rng));
            if (sim_rng_chance(rng, 0.4)) {
                double ly = xy[m - 1];
                xy[m++] = ax - 0.12 * s; xy[m++] = ly - 0.1 * s;
            }
            break;
        case 2: /* falling left (ノ) */
            xy[m++] = ax + 0.25 * s; xy[m++] = ay - 0.1 * s;
            xy[m++] = ax + 0.1 * s; xy[m++] = ay + 0.3 * s;
            xy[m++] = ax - 0.1 * s; xy[m++] = ay + 0.5 * s;
            break;
        case 3: /* falling right */
            xy[m++] = ax; xy[m++] = ay;
            xy[m++] = ax + 0.35 * s; xy[m++] = ay + 0.45 * s;
            break;
        case 4: /* dot */
            xy[m++] = ax; xy[m++] = ay;
            xy[m++] = ax + 0.08 * s; xy[m++] = ay + 0.1 * s;
            break;
        default: { /* a small box (口) */
            double w = s * (0.3 + 0.3 * sim_rng_uniform(rng)), h = s * (0.3 + 0.3 * sim_rng_uniform(rng));
            xy[m++] = ax; xy[m++] = ay;
            xy[m++] = ax; xy[m++] = ay + h;
            xy[m++] = ax + w; xy[m++] = ay + h;
            xy[m++] = ax + w; xy[m++] = ay;
            xy[m++] = ax; xy[m++] = ay;
            break;
        }
        }
        for (int i = 0; i < m; i++)
            xy[i] += 0.04 * s * sim_rng_normal(rng);
        /* keep every point inside the cell */
        for (int i = 0; i < m; i += 2) {
            xy[i] = fmax(x, fmin(x + s, xy[i]));
            xy[i + 1] = fmax(y, fmin(y + s, xy[i + 1]));
        }
        sim_pen_stroke_mm(c, pen, xy, m / 2);
    }
}

void sim_hand_scribble(sim_canvas_t *c, const sim_pen_t *pen0, sim_rng_t *rng, omr_rect_t box, int n_chars)
{
    double ch = char_size(box), pitch = line_pitch(ch);
    /* Small characters are written with the pen's fine side: a felt pen's
     * full width would fill them in. */
    sim_pen_t pen1 = *pen0;
    const sim_pen_t *pen = &pen1;
    pen1.width = fmax(1.0, fmin(pen0->width, 0.09 * ch * c->px_per_mm));
    double x0 = box.x + 1.0, x1 = box.x + box.w - 1.0;
    double y = box.y + fmax(0.3, (fmin(pitch, box.h) - ch) / 2);
    double x = x0 + 0.5 * sim_rng_uniform(rng);
    int word = sim_rng_range(rng, 2, 6);
    double slope = 0.03 * sim_rng_normal(rng);
    for (int i = 0; i < n_chars; i++) {
        double s = ch * (0.85 + 0.15 * sim_rng_uniform(rng));
        if (x + s > x1) {
            y += pitch;
            x = x0 + 0.3 * sim_rng_uniform(rng);
            if (y + ch > box.y + box.h - 0.3)
                break; /* the field is full */
        }
        glyph(c, pen, rng, x, y + slope * (x - x0) * 0.2, s);
        x += s * 1.1;
        if (--word == 0) {
            x += s * 0.5;
            word = sim_rng_range(rng, 2, 6);
        }
    }
}
