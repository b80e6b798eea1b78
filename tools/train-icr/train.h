/* train.h -- build/train-icr internals: the seeded random numbers, the
 * training copy of the CNN (forward with saved activations + backward), and
 * the augmentation that turns an MNIST digit into a scanned-box crop.
 *
 * The network layout is the one of omr/icr.h (OMR_ICR_*); the trainer checks
 * its models with the library's own omr_icr_classify_with, so a mismatch
 * between the two copies would show as a collapse of the val accuracy. */
#ifndef OMR_TRAIN_ICR_H
#define OMR_TRAIN_ICR_H

#include <stdint.h>

#include "icr.h"

/* ---- random numbers: splitmix64, one stream per (seed, epoch, sample) ---- */
typedef struct {
    uint64_t s;
} trng_t;

void trng_seed(trng_t *r, uint64_t a, uint64_t b, uint64_t c);
uint64_t trng_next(trng_t *r);
double trng_uniform(trng_t *r);            /* [0, 1) */
double trng_range(trng_t *r, double lo, double hi);
double trng_normal(trng_t *r);             /* mean 0, sd 1 */
int trng_int(trng_t *r, int n);            /* 0..n-1 */

/* ---- the network ---- */
typedef struct {
    float x[OMR_ICR_NPIX];
    float a1[OMR_ICR_C1][24 * 24];
    float p1[OMR_ICR_C1][12 * 12];
    int i1[OMR_ICR_C1][12 * 12];
    float a2[OMR_ICR_C2][8 * 8];
    float p2[OMR_ICR_C2 * 16];
    int i2[OMR_ICR_C2 * 16];
    float h[OMR_ICR_H];
    float prob[OMR_ICR_NCLASS];
    /* backward scratch */
    float dp1[OMR_ICR_C1][12 * 12];
    float da1[OMR_ICR_C1][24 * 24];
    float da2[OMR_ICR_C2][8 * 8];
} net_cache_t;

/* He-initialise params[OMR_ICR_NPARAMS] from the seed. */
void net_init(float *params, uint64_t seed);
/* Forward pass of one input, saving what backward needs in *c. */
void net_forward(const float *params, const uint8_t in[OMR_ICR_NPIX], net_cache_t *c);
/* Add the gradient of the cross-entropy of label to grad[OMR_ICR_NPARAMS];
 * returns the loss. Call right after net_forward on the same cache. */
float net_backward(const float *params, net_cache_t *c, int label, float *grad);

/* ---- augmentation ---- */
/* A lightly distorted copy of an MNIST digit, still in MNIST format
 * (rotation, scale, shift, thickness): what `omr icr-eval` feeds. */
void aug_direct(const uint8_t *img, trng_t *r, uint8_t out[OMR_ICR_NPIX]);
/* The digit written into a simulated scanned box at 200-300 dpi (frame
 * residue, specks, paper and ink levels, blur, noise, bitonal), then put
 * through omr_icr_normalise. Returns 0 when the normaliser called it empty. */
int aug_box(const uint8_t *img, trng_t *r, uint8_t out[OMR_ICR_NPIX]);
/* Something that is not one digit in the same simulated box: a tick, a cross,
 * a scribble, a dash, a blob, a crossed-out digit (img), two digits side by
 * side (img + img2). Returns 0 when the normaliser called it empty. */
int aug_reject(const uint8_t *img, const uint8_t *img2, trng_t *r, uint8_t out[OMR_ICR_NPIX]);

#endif
