/* net.c -- build/train-icr: the training copy of the icr CNN (layout in
 * omr/icr.h) with saved activations and back-propagation, and the seeded
 * random numbers the trainer uses. Plain loops ordered so the innermost one
 * runs along a row (the compiler vectorises them). */
#include <math.h>
#include <string.h>

#include "train.h"

enum { C1 = OMR_ICR_C1, C2 = OMR_ICR_C2, H = OMR_ICR_H, NC = OMR_ICR_NCLASS, F = OMR_ICR_C2 * 16 };

/* ---- random numbers ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void trng_seed(trng_t *r, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a * 0x9E3779B97F4A7C15ull;
    s = splitmix(&s) ^ b;
    s = splitmix(&s) ^ c;
    r->s = splitmix(&s);
}

uint64_t trng_next(trng_t *r) { return splitmix(&r->s); }
double trng_uniform(trng_t *r) { return (double)(trng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
double trng_range(trng_t *r, double lo, double hi) { return lo + (hi - lo) * trng_uniform(r); }
int trng_int(trng_t *r, int n) { return (int)(trng_uniform(r) * n); }

double trng_normal(trng_t *r)
{
    double u = trng_uniform(r), v = trng_uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* ---- network ---- */

void net_init(float *P, uint64_t seed)
{
    trng_t r;
    trng_seed(&r, seed, 0xC0FFEE, 1);
    memset(P, 0, OMR_ICR_NPARAMS * sizeof *P);
    for (int i = 0; i < C1 * 25; i++)
        P[OMR_ICR_OFF_C1W + i] = (float)(trng_normal(&r) * sqrt(2.0 / 25));
    for (int i = 0; i < C2 * C1 * 25; i++)
        P[OMR_ICR_OFF_C2W + i] = (float)(trng_normal(&r) * sqrt(2.0 / (C1 * 25)));
    for (int i = 0; i < H * F; i++)
        P[OMR_ICR_OFF_F1W + i] = (float)(trng_normal(&r) * sqrt(2.0 / F));
    for (int i = 0; i < NC * H; i++)
        P[OMR_ICR_OFF_F2W + i] = (float)(trng_normal(&r) * sqrt(1.0 / H));
}

void net_forward(const float *P, const uint8_t in[OMR_ICR_NPIX], net_cache_t *c)
{
    for (int i = 0; i < OMR_ICR_NPIX; i++)
        c->x[i] = in[i] * (1.0f / 255.0f);
    for (int o = 0; o < C1; o++) {
        const float *wt = P + OMR_ICR_OFF_C1W + o * 25;
        float *a = c->a1[o];
        for (int i = 0; i < 576; i++)
            a[i] = P[OMR_ICR_OFF_C1B + o];
        for (int ky = 0; ky < 5; ky++)
            for (int kx = 0; kx < 5; kx++) {
                float wv = wt[ky * 5 + kx];
                for (int y = 0; y < 24; y++) {
                    const float *src = c->x + (y + ky) * 28 + kx;
                    float *dst = a + y * 24;
                    for (int x = 0; x < 24; x++)
                        dst[x] += wv * src[x];
                }
            }
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 12; x++) {
                int b = 2 * y * 24 + 2 * x, cand[4] = {b, b + 1, b + 24, b + 25}, best = b;
                for (int k = 1; k < 4; k++)
                    if (a[cand[k]] > a[best]) best = cand[k];
                c->i1[o][y * 12 + x] = best;
                c->p1[o][y * 12 + x] = a[best] > 0 ? a[best] : 0;
            }
    }
    for (int o = 0; o < C2; o++) {
        float *a = c->a2[o];
        for (int i = 0; i < 64; i++)
            a[i] = P[OMR_ICR_OFF_C2B + o];
        for (int ch = 0; ch < C1; ch++) {
            const float *wt = P + OMR_ICR_OFF_C2W + (o * C1 + ch) * 25;
            for (int ky = 0; ky < 5; ky++)
                for (int kx = 0; kx < 5; kx++) {
                    float wv = wt[ky * 5 + kx];
                    for (int y = 0; y < 8; y++) {
                        const float *src = c->p1[ch] + (y + ky) * 12 + kx;
                        float *dst = a + y * 8;
                        for (int x = 0; x < 8; x++)
                            dst[x] += wv * src[x];
                    }
                }
        }
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                int b = 2 * y * 8 + 2 * x, cand[4] = {b, b + 1, b + 8, b + 9}, best = b;
                for (int k = 1; k < 4; k++)
                    if (a[cand[k]] > a[best]) best = cand[k];
                c->i2[o * 16 + y * 4 + x] = best;
                c->p2[o * 16 + y * 4 + x] = a[best] > 0 ? a[best] : 0;
            }
    }
    for (int j = 0; j < H; j++) {
        const float *wt = P + OMR_ICR_OFF_F1W + j * F;
        float acc = P[OMR_ICR_OFF_F1B + j];
        for (int i = 0; i < F; i++)
            acc += wt[i] * c->p2[i];
        c->h[j] = acc > 0 ? acc : 0;
    }
    float z[NC], zmax = -INFINITY, sum = 0;
    for (int k = 0; k < NC; k++) {
        const float *wt = P + OMR_ICR_OFF_F2W + k * H;
        float acc = P[OMR_ICR_OFF_F2B + k];
        for (int j = 0; j < H; j++)
            acc += wt[j] * c->h[j];
        z[k] = acc;
        if (acc > zmax) zmax = acc;
    }
    for (int k = 0; k < NC; k++)
        sum += (z[k] = expf(z[k] - zmax));
    for (int k = 0; k < NC; k++)
        c->prob[k] = z[k] / sum;
}

float net_backward(const float *P, net_cache_t *c, int label, float *G)
{
    float dz[NC], dh[H], dp2[F];
    for (int k = 0; k < NC; k++)
        dz[k] = c->prob[k] - (k == label);
    memset(dh, 0, sizeof dh);
    for (int k = 0; k < NC; k++) {
        const float *wt = P + OMR_ICR_OFF_F2W + k * H;
        float *g = G + OMR_ICR_OFF_F2W + k * H;
        for (int j = 0; j < H; j++) {
            g[j] += dz[k] * c->h[j];
            dh[j] += wt[j] * dz[k];
        }
        G[OMR_ICR_OFF_F2B + k] += dz[k];
    }
    memset(dp2, 0, sizeof dp2);
    for (int j = 0; j < H; j++) {
        if (c->h[j] <= 0)
            continue;
        const float *wt = P + OMR_ICR_OFF_F1W + j * F;
        float *g = G + OMR_ICR_OFF_F1W + j * F;
        float d = dh[j];
        for (int i = 0; i < F; i++) {
            g[i] += d * c->p2[i];
            dp2[i] += wt[i] * d;
        }
        G[OMR_ICR_OFF_F1B + j] += d;
    }
    memset(c->da2, 0, sizeof c->da2);
    for (int i = 0; i < F; i++)
        if (c->p2[i] > 0)
            c->da2[i / 16][c->i2[i]] += dp2[i];
    memset(c->dp1, 0, sizeof c->dp1);
    for (int o = 0; o < C2; o++) {
        const float *da = c->da2[o];
        float bsum = 0;
        for (int i = 0; i < 64; i++)
            bsum += da[i];
        G[OMR_ICR_OFF_C2B + o] += bsum;
        for (int ch = 0; ch < C1; ch++) {
            const float *wt = P + OMR_ICR_OFF_C2W + (o * C1 + ch) * 25;
            float *g = G + OMR_ICR_OFF_C2W + (o * C1 + ch) * 25;
            for (int ky = 0; ky < 5; ky++)
                for (int kx = 0; kx < 5; kx++) {
                    float wv = wt[ky * 5 + kx], acc = 0;
                    for (int y = 0; y < 8; y++) {
                        const float *src = c->p1[ch] + (y + ky) * 12 + kx;
                        float *dsrc = c->dp1[ch] + (y + ky) * 12 + kx;
                        const float *d = da + y * 8;
                        for (int x = 0; x < 8; x++) {
                            acc += d[x] * src[x];
                            dsrc[x] += wv * d[x];
                        }
                    }
                    g[ky * 5 + kx] += acc;
                }
        }
    }
    memset(c->da1, 0, sizeof c->da1);
    for (int o = 0; o < C1; o++)
        for (int i = 0; i < 144; i++)
            if (c->p1[o][i] > 0)
                c->da1[o][c->i1[o][i]] += c->dp1[o][i];
    for (int o = 0; o < C1; o++) {
        const float *da = c->da1[o];
        float bsum = 0;
        for (int i = 0; i < 576; i++)
            bsum += da[i];
        G[OMR_ICR_OFF_C1B + o] += bsum;
        float *g = G + OMR_ICR_OFF_C1W + o * 25;
        for (int ky = 0; ky < 5; ky++)
            for (int kx = 0; kx < 5; kx++) {
                float acc = 0;
                for (int y = 0; y < 24; y++) {
                    const float *src = c->x + (y + ky) * 28 + kx;
                    const float *d = da + y * 24;
                    for (int x = 0; x < 24; x++)
                        acc += d[x] * src[x];
                }
                g[ky * 5 + kx] += acc;
            }
    }
    float p = c->prob[label];
    return -logf(p > 1e-30f ? p : 1e-30f);
}
