/* cmd_icr_eval.c -- `omr icr-eval IMAGES.idx LABELS.idx`: measure the shipped
 * digit model on labelled MNIST-format digits (gzip'd or plain IDX).
 *
 * Every value 0-9 is allowed. Prints the coverage/error curve (threshold,
 * share of boxes auto-accepted, error among the accepted), the time per box,
 * and last the line
 *   icr: n=N accuracy=A coverage=C error_accepted=E
 * at the shipped threshold (A, C, E are fractions 0..1). With --renormalise,
 * each digit is first inverted, enlarged 2x and put through
 * omr_icr_normalise, as a scanned crop would be.
 * Exit status: 0 ok, 1 usage, 2 a file could not be used. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "icr.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omr icr-eval [--renormalise] IMAGES.idx[.gz] LABELS.idx[.gz]\n"
            "Runs the shipped digit model on MNIST-format images with every value 0-9\n"
            "allowed; prints the coverage/error curve and last\n"
            "  icr: n=N accuracy=A coverage=C error_accepted=E\n"
            "at the shipped auto-accept threshold.\n"
            "  --renormalise  first pass each image through the box normaliser\n");
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int omr_cmd_icr_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"renormalise", no_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int renorm = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "rh", opts, NULL)) != -1) {
        if (ch == 'r')
            renorm = 1;
        else if (ch == 'h') {
            usage(stdout);
            return OMR_EXIT_OK;
        } else {
            fprintf(stderr, "try 'omr icr-eval --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "omr icr-eval: need IMAGES and LABELS; try 'omr icr-eval --help'\n");
        return OMR_EXIT_USAGE;
    }
    const char *ipath = argv[optind], *lpath = argv[optind + 1];
    omr_icr_idx_t img = {0}, lab = {0};
    omr_error_t err;
    if (omr_icr_idx_load(ipath, &img, &err) != OMR_OK ||
        omr_icr_idx_load(lpath, &lab, &err) != OMR_OK) {
        fprintf(stderr, "omr icr-eval: %s\n", err.msg);
        omr_icr_idx_free(&img);
        return OMR_EXIT_FAILED;
    }
    int rc = OMR_EXIT_FAILED;
    if (img.is_labels || !lab.is_labels) {
        fprintf(stderr, "omr icr-eval: %s: %s\n", img.is_labels ? ipath : lpath,
                img.is_labels ? "holds labels (magic 0x00000801), expected images"
                              : "holds images (magic 0x00000803), expected labels");
        goto done;
    }
    if (img.n != lab.n) {
        fprintf(stderr, "omr icr-eval: %s holds %d images but %s holds %d labels\n", ipath, img.n,
                lpath, lab.n);
        goto done;
    }
    if (img.n == 0) {
        fprintf(stderr, "omr icr-eval: %s holds no images\n", ipath);
        goto done;
    }
    float *conf = malloc(sizeof *conf * (size_t)img.n);
    int *wrong = malloc(sizeof *wrong * (size_t)img.n);
    if (!conf || !wrong) {
        free(conf), free(wrong);
        fprintf(stderr, "omr icr-eval: out of memory\n");
        goto done;
    }
    int right = 0;
    double t0 = seconds();
    for (int i = 0; i < img.n; i++) {
        const uint8_t *px = img.data + (size_t)i * OMR_ICR_NPIX;
        omr_icr_input_t in;
        if (renorm) {
            uint8_t grey[56 * 56];
            for (int y = 0; y < 56; y++)
                for (int x = 0; x < 56; x++)
                    grey[y * 56 + x] = (uint8_t)(255 - px[(y / 2) * 28 + x / 2]);
            omr_icr_normalise(grey, 56, 56, 56, &in, NULL); /* cannot fail at 56x56 */
            px = in.px;
        }
        float prob[10];
        omr_icr_classify(px, prob);
        int best = 0;
        for (int d = 1; d < 10; d++)
            if (prob[d] > prob[best])
                best = d;
        conf[i] = prob[best];
        wrong[i] = best != lab.data[i];
        right += !wrong[i];
    }
    double per_box = (seconds() - t0) * 1000.0 / img.n;

    static const float curve[] = {0.5f, 0.8f, 0.9f, 0.95f, 0.98f, 0.99f, 0.995f, 0.998f, 0.999f,
                                  0.9995f, 0.9999f};
    const float shipped = omr_icr_model_threshold;
    printf("model: %s\n", omr_icr_model_info);
    printf("%-10s %-10s %-10s %s\n", "threshold", "coverage", "error_acc", "accepted/errors");
    double cov = 0, erracc = 0;
    int nthr = (int)(sizeof curve / sizeof curve[0]);
    for (int k = 0; k <= nthr; k++) {
        float t = k < nthr ? curve[k] : shipped;
        int acc = 0, bad = 0;
        for (int i = 0; i < img.n; i++)
            if (conf[i] >= t) {
                acc++;
                bad += wrong[i];
            }
        double c = (double)acc / img.n, e = acc ? (double)bad / acc : 0;
        printf("%-10.6f %-10.4f %-10.5f %d/%d%s\n", t, c, e, acc, bad,
               k == nthr ? "  (shipped threshold)" : "");
        if (k == nthr)
            cov = c, erracc = e;
    }
    printf("time: %.4f ms per box (classify%s, one core)\n", per_box,
           renorm ? " + normalise" : "");
    printf("icr: n=%d accuracy=%.4f coverage=%.4f error_accepted=%.5f\n", img.n,
           (double)right / img.n, cov, erracc);
    free(conf), free(wrong);
    rc = OMR_EXIT_OK;
done:
    omr_icr_idx_free(&img);
    omr_icr_idx_free(&lab);
    return rc;
}
